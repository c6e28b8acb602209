/* rec_got.c: the hooks without LD_PRELOAD (in-process activation). A library loaded
 * after the program started cannot interpose by name: every object already bound its
 * calls to the C library. So each loaded object's relocation slots (its GOT) for the
 * hooked functions are pointed at the hooks, as heaptrack's inject mode and memray do,
 * and put back at stop. dlopen is hooked the same way, so an object loaded later is
 * patched as soon as it is loaded.
 * A slot is taken only when it holds the function the hook calls (or, with lazy
 * binding, still points into its own object's PLT): an object bound to another malloc
 * keeps it. Patching runs in the thread that starts or stops recording, or in a
 * dlopen; slots are single aligned words, so a thread calling through one meanwhile
 * gets the old function or the hook, both correct (a block allocated before and freed
 * after is a free the analyzer never saw the allocation of, and ignores). */
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <limits.h>
#include <link.h>
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "rec_internal.h"

#if defined(__x86_64__)
#define R_PLT R_X86_64_JUMP_SLOT
#define R_DAT R_X86_64_GLOB_DAT
#elif defined(__aarch64__)
#define R_PLT R_AARCH64_JUMP_SLOT
#define R_DAT R_AARCH64_GLOB_DAT
#else
#error "rec_got.c: relocation types for this architecture"
#endif

static void *hook_dlopen(const char *file, int mode);
static void *(*real_dlopen)(const char *, int);

/* What to put where: a hooked name, its hook, and the function the hook calls. */
struct target {
    const char *name;
    void *hook;
    void **real;
};

static struct target targets[] = {
#define X(name, ret, args) {#name, (void *)rec_hook_##name, (void **)&rec_real.name},
    REC_HOOKS(X)
#undef X
    {"dlopen", (void *)hook_dlopen, (void **)&real_dlopen},
};
#define NTARGETS (sizeof targets / sizeof targets[0])

/* A slot changed, and what it held. In memory of our own (mmap), grown by doubling. */
struct saved {
    void **slot;
    void *was;
};
static struct saved *saved;
static size_t nsaved, capsaved;
static pthread_mutex_t got_lock = PTHREAD_MUTEX_INITIALIZER;
static int patching; /* while on, dlopen patches the objects it loads */

static const struct target *target_of(const char *name)
{
    for (size_t i = 0; i < NTARGETS; i++)
        if (name[0] == targets[i].name[0] && !strcmp(name, targets[i].name))
            return &targets[i];
    return NULL;
}

static int remember(void **slot, void *was)
{
    for (size_t i = 0; i < nsaved; i++)
        if (saved[i].slot == slot) { /* an object loaded where a closed one was */
            saved[i].was = was;
            return 0;
        }
    if (nsaved == capsaved) {
        size_t cap = capsaved ? 2 * capsaved : 512;
        void *m = rec_real.mmap(NULL, cap * sizeof *saved, PROT_READ | PROT_WRITE,
                                MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (m == MAP_FAILED)
            return -1;
        if (saved) {
            memcpy(m, saved, nsaved * sizeof *saved);
            rec_real.munmap(saved, capsaved * sizeof *saved);
        }
        saved = m;
        capsaved = cap;
    }
    saved[nsaved++] = (struct saved){slot, was};
    return 0;
}

static void *was_in(void **slot)
{
    for (size_t i = 0; i < nsaved; i++)
        if (saved[i].slot == slot)
            return saved[i].was;
    return NULL;
}

/* One object, as dl_iterate_phdr shows it. */
struct obj {
    int program;                /* the program itself, not a library */
    uintptr_t base, lo, hi;     /* load bias, and the span of its segments */
    uintptr_t relro, relro_end; /* read-only after relocation: mprotect to write */
    const ElfW(Sym) *sym;
    const char *str;
    size_t strsz;
    const ElfW(Rela) *rel[2];
    size_t nrel[2];
};

/* Write v into slot, making a read-only (RELRO) page writable for the moment. */
static int put(const struct obj *o, void **slot, void *v)
{
    uintptr_t a = (uintptr_t)slot;
    if (a >= o->relro && a < o->relro_end) {
        uintptr_t page = a & ~((uintptr_t)sysconf(_SC_PAGESIZE) - 1);
        size_t len = a + sizeof v - page;
        if (mprotect((void *)page, len, PROT_READ | PROT_WRITE))
            return -1;
        __atomic_store_n(slot, v, __ATOMIC_RELEASE);
        mprotect((void *)page, len, PROT_READ);
        return 0;
    }
    __atomic_store_n(slot, v, __ATOMIC_RELEASE);
    return 0;
}

/* A dynamic entry's address: the loader relocates most, not all (the vDSO's). */
static uintptr_t dyn_addr(const struct obj *o, uintptr_t p)
{
    return p < o->base ? o->base + p : p;
}

static int read_obj(const struct dl_phdr_info *info, struct obj *o)
{
    memset(o, 0, sizeof *o);
    o->program = !info->dlpi_name || !info->dlpi_name[0];
    o->base = info->dlpi_addr;
    o->lo = UINTPTR_MAX;
    const ElfW(Dyn) *dyn = NULL;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        uintptr_t at = o->base + ph->p_vaddr;
        if (ph->p_type == PT_LOAD) {
            if (at < o->lo)
                o->lo = at;
            if (at + ph->p_memsz > o->hi)
                o->hi = at + ph->p_memsz;
        } else if (ph->p_type == PT_DYNAMIC) {
            dyn = (const ElfW(Dyn) *)at;
        } else if (ph->p_type == PT_GNU_RELRO) {
            o->relro = at;
            o->relro_end = at + ph->p_memsz;
        }
    }
    if (!dyn)
        return -1;
    int rela = 1;
    for (; dyn->d_tag != DT_NULL; dyn++) {
        uintptr_t p = dyn->d_un.d_ptr;
        switch (dyn->d_tag) {
        case DT_SYMTAB: o->sym = (const ElfW(Sym) *)dyn_addr(o, p); break;
        case DT_STRTAB: o->str = (const char *)dyn_addr(o, p); break;
        case DT_STRSZ: o->strsz = dyn->d_un.d_val; break;
        case DT_JMPREL: o->rel[0] = (const ElfW(Rela) *)dyn_addr(o, p); break;
        case DT_PLTRELSZ: o->nrel[0] = dyn->d_un.d_val / sizeof(ElfW(Rela)); break;
        case DT_PLTREL: rela = dyn->d_un.d_val == DT_RELA; break;
        case DT_RELA: o->rel[1] = (const ElfW(Rela) *)dyn_addr(o, p); break;
        case DT_RELASZ: o->nrel[1] = dyn->d_un.d_val / sizeof(ElfW(Rela)); break;
        }
    }
    if (!rela) /* REL, not RELA, relocations: not on the architectures above */
        o->nrel[0] = 0;
    return o->sym && o->str ? 0 : -1;
}

/* Call fn on every slot of o that names a target: (object, slot, target). */
static void each_slot(const struct obj *o, void (*fn)(const struct obj *, void **,
                                                      const struct target *))
{
    for (int t = 0; t < 2; t++)
        for (size_t i = 0; i < o->nrel[t]; i++) {
            const ElfW(Rela) *r = &o->rel[t][i];
            unsigned type = (unsigned)ELF64_R_TYPE(r->r_info);
            size_t s = ELF64_R_SYM(r->r_info);
            if ((type != R_PLT && type != R_DAT) || !s)
                continue;
            size_t name = o->sym[s].st_name;
            if (o->strsz && name >= o->strsz)
                continue;
            const struct target *tg = target_of(o->str + name);
            if (tg)
                fn(o, (void **)(o->base + r->r_offset), tg);
        }
}

static void patch_slot(const struct obj *o, void **slot, const struct target *tg)
{
    void *now = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
    uintptr_t n = (uintptr_t)now;
    uintptr_t r = (uintptr_t)*tg->real;
    if (now == tg->hook || !r)
        return;
    if (o->program && r >= o->lo && r < o->hi) {
        /* A program built without -fPIE gives a function it calls the address of its
         * own PLT entry, which jumps through this very slot: the function is what the
         * slot holds (or, not bound yet, the C library's). */
        if (n < o->lo || n >= o->hi) {
            *tg->real = now;
        } else {
            void *c = dlopen("libc.so.6", RTLD_LAZY | RTLD_NOLOAD);
            void *f = c ? dlsym(c, tg->name) : NULL;
            if (c)
                dlclose(c);
            if (!f)
                return;
            *tg->real = f;
        }
    }
    if (now != *tg->real && !(n >= o->lo && n < o->hi)) /* bound elsewhere: leave it */
        return;
    if (!remember(slot, now) && put(o, slot, tg->hook))
        nsaved--; /* could not write it: nothing to put back */
}

static void unpatch_slot(const struct obj *o, void **slot, const struct target *tg)
{
    if (__atomic_load_n(slot, __ATOMIC_ACQUIRE) != tg->hook)
        return;
    void *was = was_in(slot);
    put(o, slot, was ? was : *tg->real);
}

/* Whether an object is one to leave alone: this library, the loader, the vDSO. */
static int skipped(const struct dl_phdr_info *info)
{
    static uintptr_t self;
    Dl_info me;
    if (!self && dladdr((void *)rec_got_patch, &me))
        self = (uintptr_t)me.dli_fbase;
    const char *name = info->dlpi_name ? info->dlpi_name : "";
    const char *base = strrchr(name, '/');
    base = base ? base + 1 : name;
    return (self && info->dlpi_addr == self) || !strncmp(base, "ld-linux", 8) ||
           !strncmp(base, "ld64.so", 7) || !strncmp(base, "linux-vdso", 10) ||
           !strncmp(base, "linux-gate", 10);
}

static int visit(struct dl_phdr_info *info, size_t size, void *fn)
{
    (void)size;
    struct obj o;
    if (!skipped(info) && !read_obj(info, &o))
        each_slot(&o, (void (*)(const struct obj *, void **, const struct target *))fn);
    return 0;
}

int rec_got_patch(void)
{
    if (!real_dlopen)
        real_dlopen = (void *(*)(const char *, int))dlsym(RTLD_DEFAULT, "dlopen");
    if (!real_dlopen || !rec_real.malloc) {
        errno = ENOSYS;
        return -1;
    }
    pthread_mutex_lock(&got_lock);
    patching = 1;
    dl_iterate_phdr(visit, (void *)patch_slot);
    pthread_mutex_unlock(&got_lock);
    return 0;
}

void rec_got_unpatch(void)
{
    pthread_mutex_lock(&got_lock);
    patching = 0;
    dl_iterate_phdr(visit, (void *)unpatch_slot);
    nsaved = 0;
    pthread_mutex_unlock(&got_lock);
}

/* ---- dlopen, as its caller would have called it ----
 * The loader looks a bare name up in the RPATH or RUNPATH of the object that called
 * dlopen, found from the return address: called from here, that would be this library.
 * So a bare name is first looked for among the loaded objects, then in the caller's own
 * search path ($ORIGIN expanded), before the real dlopen has it. */

/* The caller's DT_RUNPATH, else DT_RPATH, and its folder (for $ORIGIN). */
static const char *search_path(const void *caller, char *origin, size_t cap)
{
    Dl_info di;
    struct link_map *lm = NULL;
    if (!dladdr1(caller, &di, (void **)&lm, RTLD_DL_LINKMAP) || !lm || !lm->l_ld)
        return NULL;
    const char *str = NULL;
    uintptr_t runpath = 0, rpath = 0;
    int have_run = 0, have_r = 0;
    for (const ElfW(Dyn) *d = lm->l_ld; d->d_tag != DT_NULL; d++) {
        if (d->d_tag == DT_STRTAB)
            str = (const char *)(d->d_un.d_ptr < lm->l_addr ? lm->l_addr + d->d_un.d_ptr
                                                            : d->d_un.d_ptr);
        else if (d->d_tag == DT_RUNPATH)
            runpath = d->d_un.d_val, have_run = 1;
        else if (d->d_tag == DT_RPATH)
            rpath = d->d_un.d_val, have_r = 1;
    }
    if (!str || (!have_run && !have_r))
        return NULL;
    const char *obj = lm->l_name && lm->l_name[0] ? lm->l_name : NULL;
    char exe[PATH_MAX];
    if (!obj) { /* the program itself */
        ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
        if (n <= 0)
            return NULL;
        exe[n] = 0;
        obj = exe;
    }
    const char *slash = strrchr(obj, '/');
    size_t n = slash ? (size_t)(slash - obj) : 0;
    if (n >= cap)
        return NULL;
    memcpy(origin, obj, n);
    origin[n] = 0;
    return str + (have_run ? runpath : rpath);
}

/* dir (with $ORIGIN or ${ORIGIN} as origin) + "/" + file into out; 0 if it fits. */
static int expand(char *out, size_t cap, const char *dir, size_t len, const char *origin,
                  const char *file)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        const char *s = NULL;
        size_t skip = 0;
        if (!strncmp(dir + i, "$ORIGIN", 7) && i + 7 <= len)
            s = origin, skip = 7;
        else if (!strncmp(dir + i, "${ORIGIN}", 9) && i + 9 <= len)
            s = origin, skip = 9;
        if (s) {
            size_t k = strlen(s);
            if (o + k >= cap)
                return -1;
            memcpy(out + o, s, k);
            o += k;
            i += skip - 1;
        } else {
            if (o + 1 >= cap)
                return -1;
            out[o++] = dir[i];
        }
    }
    size_t k = strlen(file);
    if (o + 1 + k >= cap)
        return -1;
    out[o++] = '/';
    memcpy(out + o, file, k + 1);
    return 0;
}

static void *open_as_caller(const char *file, int mode, const void *caller)
{
    if (!file || strchr(file, '/'))
        return real_dlopen(file, mode);
    void *h = real_dlopen(file, mode | RTLD_NOLOAD);
    if (h)
        return h;
    char origin[PATH_MAX], path[PATH_MAX];
    const char *sp = search_path(caller, origin, sizeof origin);
    for (const char *d = sp; d && *d;) {
        size_t n = strcspn(d, ":");
        if (n && !expand(path, sizeof path, d, n, origin, file) && !access(path, F_OK))
            return real_dlopen(path, mode);
        d += n + (d[n] == ':');
    }
    return real_dlopen(file, mode);
}

static void *hook_dlopen(const char *file, int mode)
{
    void *h = open_as_caller(file, mode, __builtin_return_address(0));
    if (h && __atomic_load_n(&patching, __ATOMIC_RELAXED)) {
        int e = errno;
        pthread_mutex_lock(&got_lock);
        if (patching)
            dl_iterate_phdr(visit, (void *)patch_slot);
        pthread_mutex_unlock(&got_lock);
        errno = e;
    }
    return h;
}
