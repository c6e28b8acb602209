/* rec_hooks.c: the interposed functions. No policy here: each hook calls the real
 * function and hands the event to rec_core.c. A free is recorded before the real free,
 * so no other thread can be given the address before the free is in the log.
 * Before the real functions are known (dlsym itself may calloc), a static pool serves. */
#include <dlfcn.h>
#include <errno.h>
#include <link.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "rec_internal.h"

struct rec_real rec_real;
int rec_preloaded;

/* ---- the early pool: serves allocations made while rec_resolve runs ---- */
static _Alignas(64) uint8_t pool[64 * 1024];
static size_t pool_used;      /* only touched during the single-threaded start-up */
static int resolving;

static int in_pool(const void *p)
{
    return (const uint8_t *)p >= pool && (const uint8_t *)p < pool + sizeof pool;
}

static void *pool_alloc(size_t n)
{
    size_t at = (pool_used + 16 + 15) & ~(size_t)15;
    if (n > sizeof pool || at + n > sizeof pool)
        return NULL;
    memcpy(pool + at - 16, &n, sizeof n); /* size, for realloc */
    pool_used = at + n;
    return pool + at;
}

/* Whether this library was preloaded: the loader lists preloaded objects ahead of the
 * C library, and appends what dlopen loads after it. (Asking which malloc the process
 * binds to cannot tell: a program built without -fPIE answers with its own PLT entry.) */
static int preloaded(void)
{
    Dl_info di;
    struct link_map *lm = NULL;
    if (!dladdr1((void *)rec_resolve, &di, (void **)&lm, RTLD_DL_LINKMAP) || !lm)
        return 1;
    for (struct link_map *p = lm->l_prev; p; p = p->l_prev)
        if (p->l_name && strstr(p->l_name, "/libc.so"))
            return 0;
    return 1;
}

int rec_resolve(void)
{
    if (rec_real.free)
        return 0;
    if (resolving)
        return -1;
    resolving = 1;
    struct rec_real r;
    /* Preloaded, the process's malloc is ours and the real one is the next; loaded
     * later (RTLD_LOCAL), the process's is the real one. */
    void *from = preloaded() ? RTLD_NEXT : RTLD_DEFAULT;
#define X(name, ret, args) r.name = (ret(*) args)dlsym(from, #name);
    REC_HOOKS(X)
#undef X
    resolving = 0;
    if (!r.malloc || !r.calloc || !r.realloc || !r.free || !r.mmap || !r.munmap ||
        !r.mremap || !r.fork || !r.pthread_create || !r.posix_memalign)
        return -1;
    rec_real = r;
    rec_preloaded = from == RTLD_NEXT;
    return 0;
}

#define REAL(name, ...) \
    ((rec_real.name || !rec_resolve()) && rec_real.name ? rec_real.name(__VA_ARGS__) : 0)

/* The real call with the recorder marked busy: glibc's reallocarray calls realloc, and
 * an allocator's aligned variants may call malloc, through the PLT, i.e. through us. */
#define REAL_QUIET(out, name, ...) \
    do { rec_tl.busy++; out = REAL(name, __VA_ARGS__); rec_tl.busy--; } while (0)

/* The recording half of every hook, in parts. The first, out of line so that a hook is
 * a call and a jump with one register saved, is a leaf that saves no register: the
 * inline path (rec_alloc_fast), or with sampling the countdown (record_alloc_sampled).
 * Everything else (a failed allocation, a sample point, a stack to take) is a tail
 * call to record_alloc_slow. */
static __attribute__((noinline)) void *record_alloc_slow(void *p, size_t n, unsigned allocator,
                                                         uintptr_t caller)
{
    if (!p) {
        if (n)
            rec_alloc_failed(n, allocator);
        return p;
    }
    /* With sampling, n reached the countdown (not busy) or is of the interval. */
    if (rec_sample_bytes && (!rec_sample_reached(n) || !rec_sample_keep((uintptr_t)p)))
        return p;
    return rec_alloc_event(p, n, allocator, caller);
}

/* With sampling: the countdown, which an allocation made inside the recorder (busy)
 * does not count down. */
static __attribute__((noinline)) void *record_alloc_sampled(void *p, size_t n,
                                                            unsigned allocator, uintptr_t caller)
{
    if (__builtin_expect(p != NULL, 1) && n < rec_sample_bytes &&
        (rec_tl.busy || rec_sample_passes(n)))
        return p;
    return record_alloc_slow(p, n, allocator, caller);
}

static __attribute__((noinline)) void *record_alloc(void *p, size_t n, unsigned allocator,
                                                    uintptr_t caller)
{
    if (__builtin_expect(rec_sample_bytes != 0, 0))
        return record_alloc_sampled(p, n, allocator, caller);
    if (__builtin_expect(p != NULL, 1) && rec_alloc_fast((uintptr_t)p, n, allocator))
        return p;
    return record_alloc_slow(p, n, allocator, caller);
}

/* Whether the free of p needs nothing more from the recorder: the inline path wrote
 * it, or with sampling p is surely not a sampled block. */
static inline int free_done(void *p)
{
    if (__builtin_expect(!rec_sample_bytes, 1))
        return rec_free_fast((uintptr_t)p);
    return !rec_sample_maybe((uintptr_t)p);
}

/* free_done said no: with sampling, the filter found p maybe sampled. */
static __attribute__((noinline)) void record_free_slow(void *p)
{
    if (!rec_sample_bytes || (rec_want() && rec_sample_forget((uintptr_t)p)))
        rec_free_event(p);
}

static __attribute__((noinline)) void record_free(void *p)
{
    if (!free_done(p))
        record_free_slow(p);
}

static __attribute__((noinline)) void record_free_slow_then_free(void *p)
{
    record_free_slow(p);
    if (!rec_real.free && rec_resolve())
        return;
    rec_real.free(p);
}

REC_EXPORT void *malloc(size_t n)
{
    if (!rec_real.malloc && rec_resolve())
        return pool_alloc(n);
    return record_alloc(rec_real.malloc(n), n, FT_A_MALLOC, REC_CALLER);
}

REC_EXPORT void *calloc(size_t k, size_t n)
{
    if (!rec_real.calloc && rec_resolve()) {
        size_t b;
        return __builtin_mul_overflow(k, n, &b) ? NULL : pool_alloc(b); /* pool is zeroed */
    }
    void *p = rec_real.calloc(k, n);
    size_t b;
    return record_alloc(p, __builtin_mul_overflow(k, n, &b) ? SIZE_MAX : b, FT_A_CALLOC, REC_CALLER);
}

/* Recorded, then freed: the inline path and the real free as a tail call (known: the
 * recorder is on, or was set up for sampling), or both in the slow part. */
REC_EXPORT void free(void *p)
{
    if (!p || in_pool(p))
        return;
    if (free_done(p))
        return rec_real.free(p);
    record_free_slow_then_free(p);
}

static void *pool_realloc(void *old, size_t n)
{
    size_t had;
    memcpy(&had, (uint8_t *)old - 16, sizeof had);
    void *p = malloc(n);
    if (p)
        memcpy(p, old, had < n ? had : n);
    return p;
}

REC_EXPORT void *realloc(void *old, size_t n)
{
    if (old && in_pool(old))
        return pool_realloc(old, n);
    if (old)
        record_free(old);
    void *p = REAL(realloc, old, n);
    return record_alloc(p, n, FT_A_REALLOC, REC_CALLER);
}

REC_EXPORT void *reallocarray(void *old, size_t k, size_t n)
{
    size_t b;
    if (__builtin_mul_overflow(k, n, &b)) {
        errno = ENOMEM;
        return NULL;
    }
    if (old && in_pool(old))
        return pool_realloc(old, b);
    if (old)
        record_free(old);
    void *p;
    REAL_QUIET(p, reallocarray, old, k, n);
    return record_alloc(p, b, FT_A_REALLOCARRAY, REC_CALLER);
}

REC_EXPORT int posix_memalign(void **out, size_t align, size_t n)
{
    int rc;
    REAL_QUIET(rc, posix_memalign, out, align, n);
    if (!rec_real.posix_memalign)
        rc = ENOMEM;
    if (rc == 0)
        record_alloc(*out, n, FT_A_POSIX_MEMALIGN, REC_CALLER);
    else if (rc == ENOMEM)
        record_alloc(NULL, n, FT_A_POSIX_MEMALIGN, REC_CALLER);
    return rc;
}

REC_EXPORT void *aligned_alloc(size_t a, size_t n)
{
    void *p;
    REAL_QUIET(p, aligned_alloc, a, n);
    return record_alloc(p, n, FT_A_ALIGNED_ALLOC, REC_CALLER);
}

REC_EXPORT void *memalign(size_t a, size_t n)
{
    void *p;
    REAL_QUIET(p, memalign, a, n);
    return record_alloc(p, n, FT_A_MEMALIGN, REC_CALLER);
}

REC_EXPORT void *valloc(size_t n)
{
    void *p;
    REAL_QUIET(p, valloc, n);
    return record_alloc(p, n, FT_A_VALLOC, REC_CALLER);
}

REC_EXPORT void *pvalloc(size_t n)
{
    void *p;
    REAL_QUIET(p, pvalloc, n);
    return record_alloc(p, n, FT_A_PVALLOC, REC_CALLER);
}

static void *mmap_hook(void *(*real)(void *, size_t, int, int, int, off_t), void *a,
                       size_t n, int prot, int flags, int fd, off_t off, uintptr_t caller)
{
    if (!real && rec_resolve()) {
        errno = ENOMEM;
        return MAP_FAILED;
    }
    void *p = (real ? real : rec_real.mmap)(a, n, prot, flags, fd, off);
    /* A writable private file mapping's written pages are the program's own memory. */
    int file = !(flags & MAP_ANONYMOUS) && (flags & MAP_TYPE) == MAP_PRIVATE &&
               (prot & PROT_WRITE);
    if (((flags & MAP_ANONYMOUS) || file) && rec_want()) {
        if (p != MAP_FAILED)
            rec_mmap(p, n, file ? REC_MAP_FILE : prot == PROT_NONE ? REC_MAP_NONE : REC_MAP_ANON,
                     caller);
        else if (errno == ENOMEM)
            rec_alloc_failed(n, 0);
    }
    return p;
}

REC_EXPORT void *mmap(void *a, size_t n, int prot, int flags, int fd, off_t off)
{
    return mmap_hook(rec_real.mmap, a, n, prot, flags, fd, off, REC_CALLER);
}

REC_EXPORT void *mmap64(void *a, size_t n, int prot, int flags, int fd, off_t off)
{
    return mmap_hook(rec_real.mmap64, a, n, prot, flags, fd, off, REC_CALLER);
}

REC_EXPORT int munmap(void *p, size_t n)
{
    if (rec_want())
        rec_munmap(p, n);
    return REAL(munmap, p, n);
}

/* mremap runs with the log locked: the kernel frees the old range inside the call,
 * and the MREMAP record must precede any reuse of it by another thread. */
REC_EXPORT void *mremap(void *old, size_t oldlen, size_t newlen, int flags, ...)
{
    void *want_addr = NULL;
    if (flags & MREMAP_FIXED) {
        va_list ap;
        va_start(ap, flags);
        want_addr = va_arg(ap, void *);
        va_end(ap);
    }
    if (!rec_real.mremap && rec_resolve()) {
        errno = ENOMEM;
        return MAP_FAILED;
    }
    if (!rec_want())
        return rec_real.mremap(old, oldlen, newlen, flags, want_addr);
    rec_tl.busy++;
    rec_big_forget((uintptr_t)old, oldlen);
    rec_gate_lock();
    void *p = rec_real.mremap(old, oldlen, newlen, flags, want_addr);
    if (p != MAP_FAILED && rec_reserve(rec_ir_words(4, 0))) {
        uint64_t v[4] = {(uintptr_t)old, oldlen, (uintptr_t)p, newlen};
        rec_publish(rec_ir_rec(rec.at, FT_MREMAP, 4, v, NULL, 0));
    }
    pthread_mutex_unlock(&rec.lock);
    if (p != MAP_FAILED && rec_watch_on())
        rec_watch_remap((uintptr_t)old, (uintptr_t)p, newlen);
    rec_tl.busy--;
    return p;
}

REC_EXPORT pid_t fork(void)
{
    pid_t pid = REAL(fork);
    if (pid > 0 && rec_want())
        rec_fork(pid);
    return pid;
}

/* ---- a process killing itself: finish the trace first ----
 * CPython ends a run stopped by Ctrl-C with kill(getpid(), SIGINT) after finalizing;
 * the exit handlers that write the trailer never run, and the last quarter second of
 * events would be lost. When such a signal will end the process (default action), the
 * trace is finished first, flagged FT_T_SIGNAL. Crash signals (SIGSEGV, SIGABRT, ...)
 * re-raised by a crash handler are left alone: finishing means locks and a join, and a
 * damaged process must die, not hang. */
static void before_self_signal(int sig)
{
    struct sigaction sa;
    int ends = sig == SIGINT || sig == SIGTERM || sig == SIGHUP || sig == SIGQUIT ||
               sig == SIGPIPE || sig == SIGALRM || sig == SIGUSR1 || sig == SIGUSR2;
    sigset_t blocked;
    if (!ends || !rec_want() || sigaction(sig, NULL, &sa) || sa.sa_handler != SIG_DFL ||
        pthread_sigmask(SIG_BLOCK, NULL, &blocked) || sigismember(&blocked, sig))
        return; /* caught, ignored or blocked: the program goes on, and so do we */
    rec_tl.busy++;
    rec_finish(FT_T_EXIT | FT_T_SIGNAL, (uint64_t)sig + 1);
    rec_tl.busy--;
}

REC_EXPORT int kill(pid_t pid, int sig)
{
    if (pid == getpid())
        before_self_signal(sig);
    return REAL(kill, pid, sig);
}

REC_EXPORT int raise(int sig)
{
    before_self_signal(sig);
    return REAL(raise, sig);
}

/* ---- exec: the sink closes this image's trace when the next one joins ---- */

/* After the real exec returned rc (it failed: a successful one does not return): take
 * back the "not recorded" note rec_exec sent, if it did. */
static int exec_returned(int noted, int rc, char *const argv[])
{
    if (noted)
        rec_exec_failed(argv);
    return rc;
}

REC_EXPORT int execve(const char *path, char *const argv[], char *const envp[])
{
    int noted = rec_exec(path, 0, argv, envp);
    return exec_returned(noted, REAL(execve, path, argv, envp), argv);
}

REC_EXPORT int execv(const char *path, char *const argv[])
{
    int noted = rec_exec(path, 0, argv, NULL);
    return exec_returned(noted, REAL(execv, path, argv), argv);
}

REC_EXPORT int execvp(const char *file, char *const argv[])
{
    int noted = rec_exec(file, 1, argv, NULL);
    return exec_returned(noted, REAL(execvp, file, argv), argv);
}

REC_EXPORT int execvpe(const char *file, char *const argv[], char *const envp[])
{
    int noted = rec_exec(file, 1, argv, envp);
    return exec_returned(noted, REAL(execvpe, file, argv, envp), argv);
}

/* posix_spawn execs inside libc, where no hook sees it: check the program here (file
 * looked up in PATH when search: posix_spawnp). */
static int spawn(int search, pid_t *pid, const char *file, const posix_spawn_file_actions_t *fa,
                 const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
    pid_t child = 0;
    int rc = search ? REAL(posix_spawnp, &child, file, fa, attr, argv, envp)
                    : REAL(posix_spawn, &child, file, fa, attr, argv, envp);
    if (pid)
        *pid = child;
    if (rc == 0)
        rec_note_unless_joins(file, search, argv, envp, child);
    return rc;
}

REC_EXPORT int posix_spawn(pid_t *pid, const char *path, const posix_spawn_file_actions_t *fa,
                           const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
    return spawn(0, pid, path, fa, attr, argv, envp);
}

REC_EXPORT int posix_spawnp(pid_t *pid, const char *file, const posix_spawn_file_actions_t *fa,
                            const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
    return spawn(1, pid, file, fa, attr, argv, envp);
}

/* ---- _exit skips the destructor that writes the trailer: write it here ---- */

static __attribute__((noreturn)) void exit_now(void (*real)(int), int status)
{
    if (rec_want()) {
        rec_tl.busy++;
        rec_finish(FT_T_EXIT, (uint64_t)((status & 0xff) << 8) + 1);
        rec_tl.busy--;
    }
    if (real || !rec_resolve())
        (real ? real : rec_real._exit)(status);
    for (;;)
        syscall(SYS_exit_group, status);
}

REC_EXPORT void _exit(int status) { exit_now(rec_real._exit, status); }
REC_EXPORT void _Exit(int status) { exit_now(rec_real._Exit, status); }

/* ---- dlclose: an address may now belong to another object (rec_native.c) ---- */
REC_EXPORT int dlclose(void *handle)
{
    int rc = REAL(dlclose, handle);
    if (rc == 0)
        rec_native_unloaded();
    return rc;
}

/* ---- threads: each new thread learns its parent and the parent's stack ---- */
struct thread_start {
    void *(*fn)(void *);
    void *arg;
    uint32_t parent, stack;
    uint32_t log; /* the log they are of: a start since makes them meaningless */
};

static void *thread_main(void *v)
{
    struct thread_start s = *(struct thread_start *)v;
    rec_tl.busy++;
    rec_real.free(v);
    if (atomic_load(&rec_on)) {
        rec_gate_lock();
        if (s.log != rec_logno)
            s.parent = s.stack = 0; /* ids of an earlier log */
        if (!rec_tl_in_log())
            rec_thread_assign(s.parent, s.stack);
        pthread_mutex_unlock(&rec.lock);
    }
    if (rec_native_on) { /* this frame stays while the thread runs: the bound is in it */
        rec_tl.root = s.stack;
        rec_native_thread_bounds((uintptr_t)&s);
    }
    rec_tl.busy--;
    void *r = s.fn(s.arg);
    __asm__ volatile("" : : "r"(&s) : "memory"); /* not a tail call: the frame must stay */
    return r;
}

REC_EXPORT int pthread_create(pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *),
                              void *arg)
{
    if (!rec_real.pthread_create && rec_resolve())
        return EAGAIN;
    if (!rec_want())
        return rec_real.pthread_create(t, attr, fn, arg);
    uint32_t parent = rec_tid();
    rec_tl.busy++;
    struct thread_start *s = rec_real.malloc(sizeof *s);
    if (s)
        *s = (struct thread_start){fn, arg, parent, rec_stack_at(0),
                                   __atomic_load_n(&rec_logno, __ATOMIC_RELAXED)};
    rec_tl.busy--;
    if (!s)
        return rec_real.pthread_create(t, attr, fn, arg);
    int rc = rec_real.pthread_create(t, attr, thread_main, s);
    if (rc)
        rec_real.free(s);
    return rc;
}

/* Each hook under a hidden name: in a library loaded after the C library, the exported
 * names bind to the C library's functions, even inside this library. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmissing-attributes" /* the C library's, not needed here */
#endif
#define X(name, ret, args) extern ret rec_hook_##name args __attribute__((alias(#name)));
REC_HOOKS(X)
#undef X
