/* rec_stack.c: the bridge to language support modules. The recorder knows nothing of
 * Python: a module installs a stack source and defines strings, functions and stack
 * nodes through filrec.h; this file numbers them and writes their records, so ids
 * and records are in the same order in the trace. */
#include <string.h>

#include "filrec.h"
#include "rec_internal.h"

_Alignas(64) _Atomic(filrec_stack_fn) rec_stack_source; /* read on every event: own line */

uint32_t rec_stack_current(void)
{
    filrec_stack_fn fn = atomic_load_explicit(&rec_stack_source, memory_order_acquire);
    return fn ? fn(&rec_tl.stack_slot) : 0;
}

/* With --native, a source is always installed: the hot path, which takes no stack,
 * is then never taken for an allocation. */
static unsigned no_stack(void **slot)
{
    (void)slot;
    return 0;
}

REC_EXPORT int filrec_set_stack_source(filrec_stack_fn fn)
{
    atomic_store(&rec_stack_source, fn || !rec_native_on ? fn : no_stack);
    return atomic_load(&rec_on);
}

/* The id is taken in the same critical section as the record is written, so ids
 * follow record order. */
unsigned rec_define(unsigned kind, uint32_t *counter, unsigned n, const uint64_t *v,
                    const void *s, size_t len)
{
    int locked;
    unsigned id = 0;
    rec_tl.busy++;
    if (rec_begin(rec_ir_words(n, len), &locked)) {
        rec_publish(rec_ir_rec(rec.at, kind, n, v, s, len));
        id = ++*counter;
        rec_end(locked);
    }
    rec_tl.busy--;
    return id;
}

unsigned rec_define_string(const char *s, size_t n)
{
    if (n > FT_STRING_MAX)
        n = FT_STRING_MAX;
    return rec_define(FT_STRING, &rec.nstrings, 0, NULL, s ? s : "", s ? n : 0);
}

REC_EXPORT unsigned filrec_define_string(const char *s, size_t n)
{
    return rec_define_string(s, n);
}

REC_EXPORT unsigned filrec_define_function(unsigned name, unsigned file, unsigned first_line)
{
    uint64_t v[3] = {name, file, first_line};
    return rec_define(FT_FUNCTION, &rec.nfuncs, 3, v, NULL, 0);
}

/* With --native, the node is kept for rec_native.c, entry flag and all. */
REC_EXPORT unsigned filrec_define_node(unsigned parent, unsigned function, unsigned line)
{
    uint64_t v[3] = {parent, function, line & ~FILREC_NODE_ENTRY};
    unsigned id = rec_define(FT_STACK_NODE, &rec.nnodes, 3, v, NULL, 0);
    if (id && rec_native_on) {
        rec_tl.busy++;
        rec_native_pynode(id, parent, function, line);
        rec_tl.busy--;
    }
    return id;
}

REC_EXPORT int filrec_record_alloc(void *p, size_t size, unsigned allocator)
{
    if (!p || !rec_want() || allocator == 0 || allocator >= FT_A_COUNT)
        return 0;
    if (rec_sample_bytes && !rec_sample_alloc(p, size))
        return 1;
    rec_alloc_event(p, size, allocator, REC_CALLER);
    return 1;
}

REC_EXPORT int filrec_record_free(void *p)
{
    if (!p || !rec_want())
        return 0;
    if (rec_sample_bytes && !rec_sample_free(p))
        return 1;
    rec_free_event(p);
    return 1;
}

/* ---- wrapped allocators: CPython's PyMem_ and PyObject_ domains ----
 * Here rather than in the module, so that a call costs what the malloc hooks do: the
 * thread's state is one load away (a module loaded with dlopen reaches its own through
 * __tls_get_addr) and nothing is called through a pointer but the wrapped allocator.
 * With sampling, a free that the filter of sampled blocks turns away (nearly all) is a
 * tail call, and an allocation not sampled is one subtraction. The wrapped call runs
 * with busy raised, so the malloc behind it is not recorded a second time; a free need
 * not, when sampling: a block recorded here is forgotten before the malloc behind it
 * is freed. */
#define WRAPS (FT_A_COUNT - FT_A_PYMEM)
static struct wrap {
    filrec_allocator orig;
    unsigned kind;
} wraps[WRAPS]; /* by kind; overwritten by a new wrap of the same kind */

/* As the malloc hooks do (rec_hooks.c, record_alloc and record_free). */
static inline void *wrap_record(void *p, size_t n, unsigned kind, uintptr_t caller)
{
    if (rec_sample_bytes && (!p || !rec_sample_alloc(p, n)))
        return p;
    return rec_alloc_event(p, n, kind, caller);
}

/* A block about to be freed (or reallocated: FORMAT.md, realloc, first). */
static inline void wrap_gone(void *p)
{
    if (!rec_sample_bytes || (p && __builtin_expect(rec_sample_free(p), 0)))
        rec_free_event(p);
}

static void *wrap_malloc(void *ctx, size_t n)
{
    const struct wrap *w = ctx;
    rec_tl.busy++;
    void *p = w->orig.malloc(w->orig.ctx, n);
    rec_tl.busy--;
    return wrap_record(p, n, w->kind, REC_CALLER);
}

static void *wrap_calloc(void *ctx, size_t k, size_t n)
{
    const struct wrap *w = ctx;
    rec_tl.busy++;
    void *p = w->orig.calloc(w->orig.ctx, k, n);
    rec_tl.busy--;
    return wrap_record(p, k * n, w->kind, REC_CALLER); /* k * n: the allocator checked it */
}

static void *wrap_realloc(void *ctx, void *old, size_t n)
{
    const struct wrap *w = ctx;
    wrap_gone(old);
    rec_tl.busy++;
    void *p = w->orig.realloc(w->orig.ctx, old, n);
    rec_tl.busy--;
    return wrap_record(p, n, w->kind, REC_CALLER);
}

static void wrap_free(void *ctx, void *p)
{
    const struct wrap *w = ctx;
    wrap_gone(p);
    if (rec_sample_bytes) {
        w->orig.free(w->orig.ctx, p);
        return;
    }
    rec_tl.busy++;
    w->orig.free(w->orig.ctx, p);
    rec_tl.busy--;
}

/* ---- sampling over pymalloc: the free is the interpreter's own ----
 * pymalloc serves requests of up to SMALL bytes from its arenas and hands larger ones
 * to PyMem_RawMalloc (malloc); its free and realloc hand a block it did not make to
 * PyMem_RawFree and PyMem_RawRealloc. So with --sample, when the wrapped allocator is
 * seen to have that shape (small_stays), a small allocation that the countdown picks
 * is made with malloc instead: its free then reaches the free() hook, which matches
 * it, and the domain's free needs no wrapper at all (the interpreter calls its own,
 * inlined where it was built so). A larger one, and one not picked, is a tail call to
 * pymalloc: the larger reach malloc, whose hook counts them down as any other; a
 * realloc is counted here (s_realloc). Each byte passes one countdown. Cost:
 * sys.getallocatedblocks() ends lower by one for each picked block freed (pymalloc
 * counts down a raw block it did not count up). An interval of SMALL bytes or less
 * (where every small allocation may have to be recorded) keeps the whole wrapper. */
#define SMALL 512

/* Whether orig keeps requests of SMALL bytes and hands SMALL + 1 to malloc: a malloc
 * hook's countdown in between takes its slow path, which notes the probe. */
static int small_stays(const filrec_allocator *o)
{
    if (o->ctx || !rec_preloaded || !rec_want())
        return 0; /* a context (not pymalloc's), or a free() this library may not see */
    int64_t left = rec_tl.sample_left;
    int ok = 1;
    for (size_t n = SMALL; n <= SMALL + 1; n++) {
        rec_tl.sample_probe = 1;
        rec_tl.sample_left = 0;
        void *p = o->malloc(o->ctx, n);
        ok &= (rec_tl.sample_probe == 2) == (n > SMALL);
        rec_tl.sample_probe = 0;
        rec_tl.busy++;
        o->free(o->ctx, p);
        rec_tl.busy--;
    }
    rec_tl.sample_left = left;
    return ok;
}

/* A picked small block, made by malloc (or calloc) and recorded; NULL if malloc fails. */
static __attribute__((noinline)) void *picked(unsigned kind, size_t k, size_t n, int zero,
                                              uintptr_t caller)
{
    rec_tl.busy++;
    void *p = zero ? rec_real.calloc(k, n) : rec_real.malloc(n);
    rec_tl.busy--;
    if (!p || !rec_sample_keep((uintptr_t)p))
        return p; /* out of memory for the set: a block not recorded, freed as any */
    return rec_alloc_event(p, zero ? k * n : n, kind, caller);
}

/* The countdown first: an allocation it does not reach needs nothing else (the
 * interval is over SMALL, so none of these is always recorded). Bytes that reach it
 * while the recorder does not want them are given back. */
static inline int small_picked(size_t n)
{
    if (n > SMALL || __builtin_expect(rec_sample_passes(n), 1))
        return 0;
    return rec_sample_reached(n);
}

/* Picked: made by malloc, or pymalloc's if malloc fails. */
static __attribute__((noinline)) void *s_malloc_picked(const struct wrap *w, size_t k, size_t n,
                                                       int zero, uintptr_t caller)
{
    void *p = picked(w->kind, k, n, zero, caller);
    return p ? p : zero ? w->orig.calloc(NULL, k, n) : w->orig.malloc(NULL, n);
}

/* A realloc is counted down here, whatever the sizes: the block may be malloc's (picked,
 * or once over SMALL bytes), which pymalloc reallocates with realloc(), whose hook is
 * kept out. A picked block is reallocated in malloc's heap, where it lives. A new block
 * that the countdown picks is kept where it is if pymalloc made it with malloc (over
 * SMALL bytes), else moved there. The fast path (S_DOMAIN) has counted n down when
 * counted is set; else old may be a sampled block, and n is not counted yet. */
static __attribute__((noinline)) void *s_realloc(const struct wrap *w, void *old, size_t n,
                                                 int counted, uintptr_t caller)
{
    if (!counted && rec_want() && rec_sample_forget((uintptr_t)old)) {
        rec_free_event(old);
        rec_tl.busy++;
        void *p = rec_real.realloc(old, n ? n : 1); /* as PyMem_RawRealloc: never a free */
        rec_tl.busy--;
        if (p && rec_sample_hit(n) && rec_sample_keep((uintptr_t)p))
            rec_alloc_event(p, n, w->kind, caller);
        return p;
    }
    rec_tl.busy++;
    void *q = w->orig.realloc(NULL, old, n);
    rec_tl.busy--;
    if (!q || !rec_want()) {
        if (counted && n < rec_sample_bytes)
            rec_sample_unpass(n);
        return q;
    }
    if (!(counted ? rec_sample_hit_slow(n) : rec_sample_hit(n)))
        return q;
    if (n > SMALL) {
        if (rec_sample_keep((uintptr_t)q))
            rec_alloc_event(q, n, w->kind, caller);
        return q;
    }
    void *p = picked(w->kind, 1, n, 0, caller);
    if (!p)
        return q;
    memcpy(p, q, n);
    rec_tl.busy++;
    w->orig.free(NULL, q);
    rec_tl.busy--;
    return p;
}

/* One set per domain: the context is pymalloc's (NULL), for its free. An allocation is
 * a tail call when nothing is picked (the caller's address is taken only when it is);
 * a realloc of a block not sampled that the countdown does not reach, one call. */
static inline int calloc_picked(size_t k, size_t n)
{
    /* Both at most SMALL, the product cannot overflow (no mul, which takes rdx). */
    return k <= SMALL && n <= SMALL && small_picked(k * n);
}

#define S_DOMAIN(name, i)                                                                      \
    static void *name##_malloc(void *c, size_t n)                                              \
    {                                                                                          \
        (void)c;                                                                               \
        if (!small_picked(n))                                                                  \
            return wraps[i].orig.malloc(NULL, n);                                              \
        return s_malloc_picked(&wraps[i], 1, n, 0, REC_CALLER);                                \
    }                                                                                          \
    static void *name##_calloc(void *c, size_t k, size_t n)                                    \
    {                                                                                          \
        (void)c;                                                                               \
        if (!calloc_picked(k, n))                                                              \
            return wraps[i].orig.calloc(NULL, k, n);                                           \
        return s_malloc_picked(&wraps[i], k, n, 1, REC_CALLER);                                \
    }                                                                                          \
    static void *name##_realloc(void *c, void *old, size_t n)                                  \
    {                                                                                          \
        (void)c;                                                                               \
        if (old && rec_sample_maybe((uintptr_t)old))                                           \
            return s_realloc(&wraps[i], old, n, 0, REC_CALLER);                                \
        if (n >= rec_sample_bytes || !rec_sample_passes(n))                                    \
            return s_realloc(&wraps[i], old, n, 1, REC_CALLER);                                \
        rec_tl.busy++;                                                                         \
        void *q = wraps[i].orig.realloc(NULL, old, n);                                         \
        rec_tl.busy--;                                                                         \
        return q;                                                                              \
    }
S_DOMAIN(s_pymem, 0)
S_DOMAIN(s_pyobject, 1)
_Static_assert(WRAPS == 2, "a sampling set per domain");

REC_EXPORT int filrec_wrap_allocator(const filrec_allocator *orig, unsigned kind,
                                     filrec_allocator *out)
{
    if (kind < FT_A_PYMEM || kind >= FT_A_COUNT || !orig->malloc ||
        !orig->calloc || !orig->realloc || !orig->free)
        return 0;
    struct wrap *w = &wraps[kind - FT_A_PYMEM];
    *w = (struct wrap){*orig, kind};
    if (rec_sample_bytes > SMALL && small_stays(orig))
        *out = kind == FT_A_PYMEM
                   ? (filrec_allocator){NULL, s_pymem_malloc, s_pymem_calloc, s_pymem_realloc, orig->free}
                   : (filrec_allocator){NULL, s_pyobject_malloc, s_pyobject_calloc, s_pyobject_realloc, orig->free};
    else
        *out = (filrec_allocator){w, wrap_malloc, wrap_calloc, wrap_realloc, wrap_free};
    return 1;
}

REC_EXPORT unsigned long long filrec_sample_bytes(void)
{
    return rec_sample_bytes;
}

REC_EXPORT int *filrec_busy(void)
{
    return &rec_tl.busy;
}

REC_EXPORT void **filrec_stack_slot(void)
{
    return &rec_tl.stack_slot;
}
