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
static inline void *wrap_record(void *p, size_t n, unsigned kind, uintptr_t ra, uintptr_t cfa)
{
    if (rec_sample_bytes && (!p || !rec_sample_alloc(p, n)))
        return p;
    return rec_alloc_event(p, n, kind, ra, cfa);
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

REC_EXPORT int filrec_wrap_allocator(const filrec_allocator *orig, unsigned kind,
                                     filrec_allocator *out)
{
    if (kind < FT_A_PYMEM || kind >= FT_A_COUNT || !orig->malloc ||
        !orig->calloc || !orig->realloc || !orig->free)
        return 0;
    struct wrap *w = &wraps[kind - FT_A_PYMEM];
    *w = (struct wrap){*orig, kind};
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
