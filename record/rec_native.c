/* rec_native.c: native stacks (`--native`). Each recorded allocation's native frames come
 * from libunwind; the Python frames of the stack source are spliced in at the
 * interpreter's evaluation frames, and the hybrid chain is interned: each NATIVE_FRAME
 * and STACK_NODE is written once, events carry one id (FORMAT.md).
 *
 * Cost is what makes it usable, so a thread remembers its last capture. A hook passes
 * its caller's stack pointer, below which is its return address; when both equal the
 * last capture's and every return address of the outer frames is still in the stack
 * slot it was found in, the native stack is the same and nothing is unwound (a loop
 * that allocates from one line of C costs a few compares). Otherwise unw_backtrace walks
 * it all (about 10 ns a frame), and the hybrid chain is interned from the first frame
 * that differs.
 * Slots are learned by scanning the stack for the return addresses unw_backtrace
 * found, only within the thread's own stack: [caller's sp, bound), where bound is above
 * every frame that can change (the main thread's __libc_stack_end, a started thread's
 * frame in rec_hooks.c's thread_main), so every word read is live stack.
 *
 * libunwind is loaded with dlopen, RTLD_LOCAL, and only for --native: linked in, it would
 * put its _Unwind_* and backtrace ahead of libgcc's and glibc's in every program run.
 *
 * Locks: nat_lock guards the intern and module tables (taken before rec.lock, never
 * the other way); dl_iterate_phdr runs under scan_lock alone, taken with trylock, so a
 * program's dl_iterate_phdr callback that allocates can never wait on us. */
#include <dlfcn.h>
#include <elf.h>
#include <link.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>

#include "rec_internal.h"

#define NAT_MAX 256   /* native frames kept, innermost first */
#define HYB_MAX 1024  /* hybrid frames kept */
#define SCAN_MAX (256u << 10) /* bytes searched for one return address */
#define PY_CHUNK_BITS 14
#define PY_CHUNKS (1u << 18) /* (2^32 ids) / 2^14 */
#define MODS_MAX 8192
#define SCRATCH_TEXT (1u << 20)

int rec_native_on;
_Atomic uint32_t rec_native_gen = 1;
static atomic_int stale = 1; /* the tables are to be emptied: a new log, or a dlclose */
static pthread_mutex_t nat_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t scan_lock = PTHREAD_MUTEX_INITIALIZER;
static uintptr_t self_lo, self_hi; /* this library's code: its frames are left out */
static uintptr_t eval_lo, eval_hi; /* the interpreter's evaluation function */
static pthread_key_t key;
static int key_made;
static int (*unw_bt)(void **, int); /* libunwind's unw_backtrace */

static void *map(size_t n)
{
    void *p = rec_real.mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

/* ---- Python nodes as the stack source defined them, by id (each written once, after
 * rec_define gave the id; read for ids the reader got from the source, so defined
 * before). A chunk is mapped by whoever needs it first: two threads defining nodes at
 * once may both map one, and the loser unmaps its own. ---- */
struct pynode {
    uint32_t parent, func, line; /* line with FILREC_NODE_ENTRY */
};
static struct pynode *py_chunk[PY_CHUNKS];

void rec_native_pynode(uint32_t id, uint32_t parent, uint32_t func, uint32_t line)
{
    struct pynode **c = &py_chunk[id >> PY_CHUNK_BITS], *m = __atomic_load_n(c, __ATOMIC_ACQUIRE);
    if (!m) {
        size_t n = sizeof(struct pynode) << PY_CHUNK_BITS;
        struct pynode *none = NULL;
        if (!(m = map(n)))
            return;
        if (!__atomic_compare_exchange_n(c, &none, m, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
            rec_real.munmap(m, n);
            m = none; /* the other's */
        }
    }
    m[id & ((1u << PY_CHUNK_BITS) - 1)] = (struct pynode){parent, func, line};
}

static const struct pynode *pynode(uint32_t id)
{
    struct pynode *c = __atomic_load_n(&py_chunk[id >> PY_CHUNK_BITS], __ATOMIC_ACQUIRE);
    return c && id ? &c[id & ((1u << PY_CHUNK_BITS) - 1)] : NULL;
}

/* ---- loaded objects: MODULE records, and the lookup of an address ---- */
struct mod {
    uintptr_t lo, hi, bias;
    uint32_t id;
};
static struct mod *mods;   /* sorted by lo, disjoint; under nat_lock */
static size_t nmods;

/* What a scan of dl_iterate_phdr found: under scan_lock. */
struct found {
    uintptr_t lo, hi, bias;
    uint32_t name, name_len, id_off, id_len; /* in text */
};
static struct found *found;
static size_t nfound;
static char *text;
static size_t text_used;

static int scan_one(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size, (void)arg;
    uintptr_t lo = UINTPTR_MAX, hi = 0;
    const char *bid = NULL;
    size_t bid_len = 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        uintptr_t a = info->dlpi_addr + ph->p_vaddr;
        if (ph->p_type == PT_LOAD) {
            lo = a < lo ? a : lo;
            hi = a + ph->p_memsz > hi ? a + ph->p_memsz : hi;
        } else if (ph->p_type == PT_NOTE && !bid) {
            for (size_t o = 0; o + sizeof(ElfW(Nhdr)) <= ph->p_memsz;) {
                const ElfW(Nhdr) *n = (const void *)(a + o);
                size_t name = (n->n_namesz + 3) & ~3u, desc = (n->n_descsz + 3) & ~3u;
                const char *nm = (const char *)(n + 1);
                if (n->n_type == NT_GNU_BUILD_ID && n->n_namesz == 4 && !memcmp(nm, "GNU", 4) &&
                    n->n_descsz <= FT_BUILD_ID_MAX) {
                    bid = nm + name;
                    bid_len = n->n_descsz;
                    break;
                }
                o += sizeof *n + name + desc;
            }
        }
    }
    const char *path = info->dlpi_name;
    char exe[4096];
    if (!path || !*path) { /* the program itself */
        ssize_t k = readlink("/proc/self/exe", exe, sizeof exe - 1);
        exe[k > 0 ? k : 0] = 0;
        path = exe;
    }
    size_t plen = strlen(path);
    if (lo >= hi || nfound == MODS_MAX || text_used + plen + bid_len > SCRATCH_TEXT)
        return 0;
    found[nfound++] = (struct found){lo, hi, info->dlpi_addr, (uint32_t)text_used, (uint32_t)plen,
                                     (uint32_t)(text_used + plen), (uint32_t)bid_len};
    memcpy(text + text_used, path, plen);
    memcpy(text + text_used + plen, bid, bid_len);
    text_used += plen + bid_len;
    return 0;
}

static struct mod *mod_of(uintptr_t ip)
{
    size_t a = 0, b = nmods;
    while (a < b) {
        size_t m = (a + b) / 2;
        if (ip < mods[m].lo)
            b = m;
        else if (ip >= mods[m].hi)
            a = m + 1;
        else
            return &mods[m];
    }
    return NULL;
}

/* Write MODULE records for what the scan found that is not known yet. nat_lock held. */
static void merge_found(void)
{
    for (size_t i = 0; i < nfound; i++) {
        struct found *f = &found[i];
        struct mod *m = mod_of(f->lo);
        if ((m && m->lo == f->lo && m->hi == f->hi && m->bias == f->bias) || nmods == MODS_MAX)
            continue;
        if (m)
            continue; /* overlaps one we know: the table is stale, and rebuilt on a dlclose */
        uint32_t path = rec_define_string(text + f->name, f->name_len);
        uint64_t v[4] = {path, f->bias, f->lo, f->hi - f->lo};
        uint32_t id = path ? rec_define(FT_MODULE, &rec.nmodules, 4, v, text + f->id_off,
                                        f->id_len) : 0;
        if (!id)
            return;
        size_t at = 0;
        while (at < nmods && mods[at].lo < f->lo)
            at++;
        memmove(mods + at + 1, mods + at, (nmods - at) * sizeof *mods);
        mods[at] = (struct mod){f->lo, f->hi, f->bias, id};
        nmods++;
    }
}

/* The module of ip, scanning the loaded objects when it is in none known (once per
 * capture: *scanned 1 when done, 2 when another thread was scanning). nat_lock held;
 * dropped during the scan. */
static struct mod *module(uintptr_t ip, int *scanned)
{
    struct mod *m = mod_of(ip);
    if (m || *scanned)
        return m;
    pthread_mutex_unlock(&nat_lock);
    int got = pthread_mutex_trylock(&scan_lock) == 0;
    *scanned = got ? 1 : 2;
    if (got) {
        nfound = text_used = 0;
        dl_iterate_phdr(scan_one, NULL);
    }
    pthread_mutex_lock(&nat_lock);
    if (got) {
        merge_found();
        pthread_mutex_unlock(&scan_lock);
    }
    return mod_of(ip);
}

/* ---- the intern table: (parent, frame) -> node id; under nat_lock ---- */
struct ient {
    uint64_t k1, k2;
    uint32_t id;
};
static struct ient *itab;
static size_t imask, iused;

static uint64_t hash2(uint64_t a, uint64_t b)
{
    uint64_t h = a * 0x9E3779B97F4A7C15ull ^ b * 0xC2B2AE3D27D4EB4Full;
    return h ^ (h >> 31);
}

static int itab_grow(void)
{
    size_t cap = imask ? (imask + 1) * 2 : 1u << 14;
    struct ient *t = map(cap * sizeof *t);
    if (!t)
        return -1;
    for (size_t i = 0; itab && i <= imask; i++) {
        if (!itab[i].id)
            continue;
        size_t j = hash2(itab[i].k1, itab[i].k2) & (cap - 1);
        while (t[j].id)
            j = (j + 1) & (cap - 1);
        t[j] = itab[i];
    }
    if (itab)
        rec_real.munmap(itab, (imask + 1) * sizeof *itab);
    itab = t;
    imask = cap - 1;
    return 0;
}

/* ---- per thread: the last capture ---- */
#define ELEM_NATIVE (1ull << 63) /* in an element's k1: a native frame (k2: address) */
struct elem {
    uint64_t k1, k2; /* native: ELEM_NATIVE, address; Python: func, line */
};

struct nat_thread {
    uint32_t gen;
    int nip, nslot;        /* native frames of the last capture; slots learned (0: none) */
    int req;               /* frames inside the bound (the rest never change) */
    uintptr_t ra, cfa;     /* the hook's caller at the last capture */
    uint32_t py, leaf;     /* its Python stack and hybrid stack (0: to build) */
    int nh;                /* frames of the last hybrid chain */
    uintptr_t ip[NAT_MAX];
    uintptr_t slot[NAT_MAX];
    struct elem h[HYB_MAX];    /* the last hybrid chain, outermost first */
    uint32_t node[HYB_MAX];    /* and the node of each */
    struct elem now[HYB_MAX];  /* the capture in progress, innermost first */
    uintptr_t raw[NAT_MAX + 32];
};

static void thread_gone(void *p)
{
    if (rec_tl.native == p)
        rec_tl.native = NULL;
    rec_real.munmap(p, sizeof(struct nat_thread));
}

static struct nat_thread *thread_block(void)
{
    struct nat_thread *t = rec_tl.native;
    if (t || !key_made)
        return t;
    if (!(t = map(sizeof *t)))
        return NULL;
    rec_tl.native = t;
    pthread_setspecific(key, t);
    return t;
}

/* The native frames of the caller of the hook, innermost first, into t->raw, this
 * library's frames left out; *req gets how many are inside the thread's bound (the
 * frames outside thread_main, which never change, are not). */
static int unwind(struct nat_thread *t, int *req)
{
    int n = unw_bt((void **)t->raw, NAT_MAX + 32), k = 0;
    *req = -1;
    for (int i = 0; i < n && k < NAT_MAX; i++) {
        uintptr_t ip = t->raw[i];
        if (ip >= self_lo && ip < self_hi) {
            if (k && *req < 0)
                *req = k; /* thread_main: the thread's outermost own frame */
            continue;
        }
        t->raw[k++] = ip; /* compacted in place: k never passes i */
    }
    if (*req < 0)
        *req = rec_tl.stack_bound ? k : 0;
    return k;
}

/* Find where each return address of the last capture is stored: ip[k] (k >= 1) is the
 * return address of frame k - 1, at or above the previous one's slot. 1 if all found. */
static int learn(struct nat_thread *t, uintptr_t cfa)
{
    uintptr_t lo = rec_tl.stack_lo, bound = rec_tl.stack_bound;
    t->nslot = 0;
    if (!bound || cfa < lo || cfa >= bound || t->req < 1 || t->req > t->nip)
        return 0;
    uintptr_t at = cfa;
    for (int k = 1; k < t->req; k++) {
        uintptr_t end = at + SCAN_MAX < bound ? at + SCAN_MAX : bound;
        while (at + sizeof at <= end && *(const uintptr_t *)at != t->ip[k])
            at += sizeof at;
        if (at + sizeof at > end)
            return 0;
        t->slot[k] = at;
        at += sizeof at;
    }
    t->nslot = t->req;
    return 1;
}

static int slots_hold(const struct nat_thread *t)
{
    for (int k = 1; k < t->nslot; k++)
        if (*(const uintptr_t *)t->slot[k] != t->ip[k])
            return 0;
    return 1;
}

/* The hybrid chain of the native frames and Python stack py, innermost first, into
 * t->now: each evaluation frame is preceded by the Python frames it runs (up to and
 * including the entry frame of its call). Returns its length; *has_py: whether it
 * holds a Python frame. */
static int splice(struct nat_thread *t, uint32_t py, int *has_py)
{
    int n = 0, py_n = 0;
    const struct pynode *f = pynode(py);
    for (int k = 0; k < t->nip && n < HYB_MAX; k++) {
        uintptr_t ip = t->ip[k];
        if (ip - 1 >= eval_lo && ip - 1 < eval_hi) {
            while (f && n < HYB_MAX) {
                uint32_t line = f->line;
                t->now[n++] = (struct elem){f->func, line & ~FILREC_NODE_ENTRY};
                py_n++;
                f = pynode(f->parent);
                if (line & FILREC_NODE_ENTRY)
                    break;
            }
        }
        if (n < HYB_MAX)
            t->now[n++] = (struct elem){ELEM_NATIVE, ip};
    }
    for (; f && n < HYB_MAX; f = pynode(f->parent), py_n++) /* frames no evaluation frame took */
        t->now[n++] = (struct elem){f->func, f->line & ~FILREC_NODE_ENTRY};
    *has_py = py_n > 0;
    return n;
}

/* The slot of key (k1, k2): its entry, or the empty slot it would go in. */
static struct ient *probe(uint64_t k1, uint64_t k2)
{
    size_t i = hash2(k1, k2) & imask;
    while (itab[i].id && (itab[i].k1 != k1 || itab[i].k2 != k2))
        i = (i + 1) & imask;
    return &itab[i];
}

/* The node of frame e under parent. nat_lock held. 0: not recording any more. */
static uint32_t intern(uint32_t parent, const struct elem *e, int *scanned)
{
    uint64_t k1 = e->k1 ^ (uint64_t)parent << 32;
    if (iused * 2 >= imask && itab_grow())
        return 0;
    struct ient *slot = probe(k1, e->k2);
    if (slot->id)
        return slot->id;
    uint32_t id;
    int keep = 1;
    if (e->k1 & ELEM_NATIVE) {
        struct mod *m = module(e->k2, scanned);
        keep = m || *scanned == 1; /* unknown only for want of a scan: ask again later */
        uint64_t v[3] = {parent, m ? m->id : 0, m ? e->k2 - m->bias : e->k2};
        id = rec_define(FT_NATIVE_FRAME, &rec.nnodes, 3, v, NULL, 0);
        slot = probe(k1, e->k2); /* the scan may have dropped the lock */
    } else {
        uint64_t v[3] = {parent, e->k1, e->k2};
        id = rec_define(FT_STACK_NODE, &rec.nnodes, 3, v, NULL, 0);
    }
    if (id && keep && !slot->id) {
        *slot = (struct ient){k1, e->k2, id};
        iused++;
    }
    return id;
}

/* Intern t->now (n frames) from the outermost, reusing the last chain's nodes for the
 * frames it shares with it. root: the parent of the outermost frame. */
static uint32_t build(struct nat_thread *t, int n, uint32_t root)
{
    int k = 0;
    while (k < n && k < t->nh && t->h[k].k1 == t->now[n - 1 - k].k1 &&
           t->h[k].k2 == t->now[n - 1 - k].k2)
        k++;
    if (k == n && n == t->nh && n)
        return t->node[n - 1];
    int scanned = 0;
    pthread_mutex_lock(&nat_lock);
    if (atomic_exchange(&stale, 0)) {
        if (itab)
            memset(itab, 0, (imask + 1) * sizeof *itab);
        iused = nmods = 0;
        k = 0;
    }
    for (int i = k; i < n; i++) {
        t->h[i] = t->now[n - 1 - i];
        t->node[i] = intern(i ? t->node[i - 1] : root, &t->h[i], &scanned);
        if (!t->node[i]) {
            n = i;
            break;
        }
    }
    pthread_mutex_unlock(&nat_lock);
    t->nh = n;
    return n ? t->node[n - 1] : root;
}

uint32_t rec_native_stack(uintptr_t cfa)
{
    uintptr_t ra = rec_caller_ra(cfa);
    struct nat_thread *t = thread_block();
    uint32_t py = rec_stack_now();
    if (!t)
        return py;
    uint32_t g = atomic_load_explicit(&rec_native_gen, memory_order_acquire);
    if (t->gen != g) {
        t->gen = g;
        t->nip = t->nslot = t->nh = 0;
        t->ra = t->cfa = 0;
        t->leaf = 0;
    }
    int same = ra && ra == t->ra && cfa == t->cfa && t->nslot && slots_hold(t);
    if (!same) {
        int req, n = unwind(t, &req);
        same = n == t->nip && !memcmp(t->raw, t->ip, (size_t)n * sizeof *t->ip);
        memcpy(t->ip, t->raw, (size_t)n * sizeof *t->ip);
        t->nip = n;
        t->req = req;
        /* A second capture from the same place: worth learning where its frames are. */
        if (!ra || ra != t->ra || cfa != t->cfa || !learn(t, cfa))
            t->nslot = 0;
        t->ra = ra, t->cfa = cfa;
        if (!same)
            t->leaf = 0;
    }
    if (t->leaf && py == t->py)
        return t->leaf;
    t->py = py;
    int has_py, n = splice(t, py, &has_py);
    /* A thread started from C, with no Python of its own, sits under the line that
     * started it. */
    t->leaf = build(t, n, has_py ? 0 : rec_tl.root);
    return t->leaf;
}

/* ---- set-up ---- */
static void self_range(void)
{
    Dl_info di;
    struct link_map *lm = NULL;
    if (!dladdr1((void *)rec_native_stack, &di, (void **)&lm, RTLD_DL_LINKMAP) || !lm)
        return;
    const ElfW(Ehdr) *eh = di.dli_fbase;
    const ElfW(Phdr) *ph = (const void *)((const char *)eh + eh->e_phoff);
    for (int i = 0; i < eh->e_phnum; i++)
        if (ph[i].p_type == PT_LOAD && (ph[i].p_flags & PF_X)) {
            self_lo = lm->l_addr + ph[i].p_vaddr;
            self_hi = self_lo + ph[i].p_memsz;
        }
}

extern void *__libc_stack_end;

void rec_native_thread_bounds(uintptr_t bound)
{
    pthread_attr_t a;
    void *lo;
    size_t size;
    rec_tl.stack_bound = 0;
    if (pthread_getattr_np(pthread_self(), &a))
        return;
    if (!pthread_attr_getstack(&a, &lo, &size)) {
        rec_tl.stack_lo = (uintptr_t)lo;
        rec_tl.stack_hi = (uintptr_t)lo + size;
        if (!bound && gettid() == getpid())
            bound = (uintptr_t)__libc_stack_end;
        if (bound > rec_tl.stack_lo && bound <= rec_tl.stack_hi)
            rec_tl.stack_bound = bound;
    }
    pthread_attr_destroy(&a);
}

int rec_native_load(void)
{
    if (unw_bt)
        return 0;
    void *lib = dlopen("libunwind.so.8", RTLD_NOW | RTLD_LOCAL);
    if (!lib)
        return -1;
    int (*policy)(void *, int) = (int (*)(void *, int))dlsym(lib, "_ULx86_64_set_caching_policy");
    void **space = dlsym(lib, "_ULx86_64_local_addr_space");
    if (policy && space)
        policy(*space, 2 /* UNW_CACHE_PER_THREAD */);
    unw_bt = (int (*)(void **, int))dlsym(lib, "unw_backtrace");
    return unw_bt ? 0 : -1;
}

int rec_native_start(void)
{
    if (!unw_bt)
        return -1;
    if (!self_hi)
        self_range();
    if (!found) {
        found = map(MODS_MAX * sizeof *found);
        text = map(SCRATCH_TEXT);
        mods = map(MODS_MAX * sizeof *mods);
        if (!found || !text || !mods)
            return -1;
    }
    if (!key_made)
        key_made = pthread_key_create(&key, thread_gone) == 0;
    atomic_store(&stale, 1);
    atomic_fetch_add(&rec_native_gen, 1);
    rec_native_thread_bounds(0);
    return 0;
}

void rec_native_unloaded(void)
{
    if (!rec_native_on)
        return;
    atomic_store(&stale, 1);
    atomic_fetch_add(&rec_native_gen, 1);
}

void rec_native_lock(void) { pthread_mutex_lock(&nat_lock); }
void rec_native_unlock(void) { pthread_mutex_unlock(&nat_lock); }
void rec_native_child(void)
{
    nat_lock = (pthread_mutex_t)PTHREAD_MUTEX_INITIALIZER;
    scan_lock = (pthread_mutex_t)PTHREAD_MUTEX_INITIALIZER;
}

REC_EXPORT int filrec_native_on(void)
{
    return rec_native_on;
}

REC_EXPORT int filrec_native_eval(const void *fn)
{
    Dl_info di;
    const ElfW(Sym) *sym = NULL;
    if (!fn || !dladdr1(fn, &di, (void **)&sym, RTLD_DL_SYMENT) || !sym || !sym->st_size)
        return 0;
    eval_lo = (uintptr_t)di.dli_saddr;
    eval_hi = eval_lo + sym->st_size;
    return 1;
}
