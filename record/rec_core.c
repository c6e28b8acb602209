/* rec_core.c: the event log. rec_start() maps the log into memory it shares with the
 * job's sink (the `filrec run` process, sink/), which writes the trace, and joins the
 * sink (rec_link.c); the environment `filrec run` set (FILREC_SOCK, FILREC_FOLLOW) is
 * its front end, and a followed fork child starts a log of its own the same way. Every
 * event goes into the log under one lock (or its bias, rec_gate.c), whose order is the
 * trace's total order, until threads take turns in it often: then each thread writes
 * its short events into a lane of its own, and the sink merges by time (rec_lane.c). Nothing here calls malloc
 * on the hot path, and nothing ever returns an error to the host program: on failure
 * recording stops with one line on stderr. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/futex.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "filrec.h"
#include "rec_internal.h"
#include "rec_link.h"

__thread struct rec_tls rec_tl __attribute__((tls_model("initial-exec")));
uint32_t rec_logno;
static uint32_t keys; /* thread keys given so far (rec_tls); under rec.lock */
/* Read on every event by every thread: each on a cache line no one writes often. */
_Alignas(64) atomic_int rec_on;
struct rec_log rec = {.lock = PTHREAD_MUTEX_INITIALIZER, .gate = REC_GATE_NONE};
/* How recording started, for a fork child to start again: written by the one thread of
 * start-up, read in fork_child. */
static struct rec_params params;
static char params_sock[108];

void rec_say(const char *a, const char *b, const char *c)
{
    const char *parts[] = {"filrec: ", a, b, c, "\n"};
    for (size_t i = 0; i < 5; i++)
        if (parts[i] && write(2, parts[i], strlen(parts[i])) < 0)
            return;
}

void rec_fail(const char *what, int err)
{
    if (rec.failed)
        return;
    rec.failed = 1;
    atomic_store(&rec_on, 0);
    atomic_store(&rec.lanes_open, 0); /* no wait: lanes stay mapped */
    rec_gate_revoke(0);
    rec_say("recording stopped: ", what, err ? strerror(err) : NULL);
}

/* Wait until the sink frees a buffer. Lock held; it is dropped while waiting, so
 * another thread may have become the owner meanwhile: take the log back from it. A sink
 * that went away (`filrec run` killed) or cannot write stops recording. */
static void wait_space(void)
{
    uint32_t seq = atomic_load(&rec.w_seq);
    if (rec.f + 1 - atomic_load(&rec.w) < REC_NBUF)
        return;
    pthread_mutex_unlock(&rec.lock);
    struct timespec t = {0, 100000000};
    rec_futex(&rec.w_seq, FUTEX_WAIT, seq, &t);
    pthread_mutex_lock(&rec.lock);
    if (!rec_link_alive())
        rec_fail("the filrec process went away", 0);
    uint64_t g = atomic_load(&rec.gate);
    if (g != REC_GATE_NONE && g != rec_tl.key)
        rec_gate_revoke(1);
}

/* Seal the filling buffer and start the next, which must be free. The sink reads f,
 * then at, then f again: f moves first, so it never takes the new at for the old
 * buffer's. */
static void seal_now(void)
{
    uint64_t f = rec.f;
    rec.sealed_end[f % REC_NBUF] = rec.at;
    atomic_store_explicit(&rec.f, f + 1, memory_order_release);
    uint64_t *at = rec.buf[(f + 1) % REC_NBUF];
    rec.end = at + REC_BUF_WORDS;
    rec_publish(at);
    atomic_fetch_add(&rec.f_seq, 1);
    rec_link_wake();
}

void rec_seal(void)
{
    /* Backpressure: when the sink is behind by every buffer, wait for one. */
    while (!rec.failed && rec.f + 1 - atomic_load(&rec.w) >= REC_NBUF)
        wait_space();
    if (!rec.failed && rec.at != rec.buf[rec.f % REC_NBUF])
        seal_now();
}

/* Room for a TIME and a THREAD word and a record of words words; a multi log's TIME
 * word is written. Every wait re-checks it all: other threads may have filled or
 * sealed the buffer meanwhile. */
static int room(size_t words)
{
    for (;;) {
        if (!atomic_load_explicit(&rec_on, memory_order_relaxed) || rec.stopping || rec.failed)
            return 0;
        if (atomic_load_explicit(&rec.sink_failed, memory_order_relaxed)) {
            rec.failed = 1; /* the sink said why */
            atomic_store(&rec_on, 0);
            return 0;
        }
        if ((size_t)(rec.end - rec.at) >= words + 2) {
            if (atomic_load_explicit(&rec.multi, memory_order_relaxed))
                rec_put_word(rec_ir_time(rec_ts(rec.ts_tsc)));
            return 1;
        }
        if (rec.f + 1 - atomic_load(&rec.w) >= REC_NBUF)
            wait_space();
        else
            seal_now();
    }
}

/* The calling thread's key, given once for the life of the process. Lock held. */
static void give_key(void)
{
    while (!rec_tl.key)
        rec_tl.key = ++keys; /* 0 is "none": skipped if the count ever wraps */
}

void rec_thread_assign(uint32_t parent, uint32_t stack)
{
    give_key();
    /* The index only after room: waiting there for the sink drops the lock, and a
     * thread let in meanwhile takes the next index itself. */
    int ok = room(rec_ir_words(4, 0));
    uint32_t tid = rec.nthreads;
    rec_tl.idx = tid;
    rec_tl.log = rec_logno;
    if (!ok)
        return;
    rec.nthreads++;
    uint64_t v[4] = {tid, parent, (uint64_t)gettid(), stack};
    rec_publish(rec_ir_rec(rec.at, FT_THREAD_START, 4, v, NULL, 0));
}

uint32_t rec_tid(void)
{
    /* Already in this log: no lock (and no revoking another thread's bias) for it. The
     * log number changes only at a start, under the lock; a stale read goes below. */
    if (rec_tl.key && rec_tl.log == __atomic_load_n(&rec_logno, __ATOMIC_RELAXED))
        return rec_tl.idx;
    rec_tl.busy++;
    rec_gate_lock();
    if (!rec_tl_in_log())
        rec_thread_assign(0, 0);
    uint32_t idx = rec_tl.idx;
    pthread_mutex_unlock(&rec.lock);
    rec_tl.busy--;
    return idx;
}

/* 1 from rec_finish's first look until the next start: one trailer, lanes stay shut.
 * Under rec.lock. */
static int finishing;

/* REC_MULTI_AFTER thread switches: over to lanes if they came fast, else count again. */
static void go_multi(void)
{
    uint64_t now = rec_now_ns();
    if (now - rec.switch_ns > REC_MULTI_NS && params.lanes == 0) {
        rec.switch_ns = now;
        rec.switches = 0;
        return;
    }
    rec_gate_revoke(0); /* the bias ends with the single log */
    rec_lanes_open();
}

int rec_reserve(size_t words)
{
    do { /* a wait in room() may outlast a stop and a start: then again, in the new log */
        if (!rec_tl_in_log())
            rec_thread_assign(0, 0);
        if (rec.thread != rec_tl.idx && !rec.multi && rec_lanes_fd >= 0 && rec.can_bias &&
            params.lanes >= 0 && !finishing &&
            (++rec.switches >= REC_MULTI_AFTER || params.lanes > 0))
            go_multi();
        if (!room(words))
            return 0;
    } while (!rec_tl_in_log());
    if (rec.thread != rec_tl.idx) {
        rec.thread = rec_tl.idx;
        rec_put_word(rec_ir_thread(rec.thread));
    }
    rec_gate_streak();
    return 1;
}

int rec_put(unsigned kind, unsigned n, const uint64_t *v, const void *s, size_t len,
            unsigned allocator, uint32_t stack)
{
    int locked;
    unsigned k = kind & FT_KIND_MASK;
    uint64_t ctx = rec_ir_ctx(allocator, stack);
    rec_tl.busy++;
    int ok = rec_begin(rec_ir_words(n, len) + 1, &locked);
    if (ok) {
        if (k == FT_MMAP) /* keeps the allocator: only the stack is MMAP's */
            ctx = (rec.ctx & ~(uint64_t)UINT32_MAX) | stack;
        if ((k == FT_ALLOC || k == FT_MMAP) && rec.ctx != ctx)
            rec_put_word(rec_ir_ctx_word(rec.ctx = ctx));
        rec_publish(rec_ir_rec(rec.at, kind, n, v, s, len));
        rec_end(locked);
    }
    rec_tl.busy--;
    return ok;
}

void *rec_alloc_event(void *p, size_t size, unsigned allocator, uintptr_t caller)
{
    int locked;
    uint64_t a = (uintptr_t)p;
    if (!p || !rec_want())
        return p;
    rec_tl.busy++;
    uint32_t stack = rec_stack_at(caller);
    uint64_t ctx = rec_ir_ctx(allocator, stack);
    if (!rec_ir_short(a, size)) {
        uint64_t v[2] = {a, size};
        rec_put(FT_ALLOC, 2, v, NULL, 0, allocator, stack);
    } else if (atomic_load_explicit(&rec.multi, memory_order_relaxed) &&
               rec_lane_put(ctx, rec_ir_alloc(a, size))) {
    } else if (rec_begin(2, &locked)) {
        if (rec.ctx != ctx)
            rec_put_word(rec_ir_ctx_word(rec.ctx = ctx));
        rec_put_word(rec_ir_alloc(a, size));
        rec_end(locked);
    }
    if (rec_watch_on())
        rec_watch_alloc(a, size);
    rec_tl.busy--;
    return p;
}

void rec_alloc_failed(size_t size, unsigned allocator)
{
    if (!rec_want())
        return;
    int e = errno; /* the caller's ENOMEM must survive us */
    rec_tl.busy++;
    uint64_t v[3] = {size, allocator, rec_stack_at(0)};
    rec_put(FT_FAILED, 3, v, NULL, 0, 0, 0);
    rec_tl.busy--;
    errno = e;
}

void rec_free_event(void *p)
{
    int locked;
    uint64_t a = (uintptr_t)p;
    if (!p || !rec_want())
        return;
    rec_tl.busy++;
    if (!rec_ir_short(a, 0)) {
        rec_put(FT_FREE, 1, &a, NULL, 0, 0, 0);
    } else if (atomic_load_explicit(&rec.multi, memory_order_relaxed) &&
               rec_lane_put(REC_CTX_ANY, rec_ir_free(a))) {
    } else if (rec_begin(1, &locked)) {
        rec_put_word(rec_ir_free(a));
        rec_end(locked);
    }
    if (rec_watch_on())
        rec_watch_free(a);
    rec_tl.busy--;
}

/* ---- measured mappings: what was resident when they go ----
 * The sink measures large and file mappings every interval (FORMAT.md, "Resident
 * pages"); a mapping written and unmapped between two of its looks would be missed, so
 * the munmap of a whole one logs what /proc/self/pagemap says just before it. The few
 * such mappings live in a small table under a spin lock (never held across a call). */
static struct big { uint64_t start, len; unsigned what; } bigs[64];
static unsigned nbigs;
static atomic_flag big_lock = ATOMIC_FLAG_INIT;
static int pagemap_fd = -1; /* opened at the first big munmap; a fork child reopens it */

static void big_lock_take(void)
{
    while (atomic_flag_test_and_set_explicit(&big_lock, memory_order_acquire))
        ;
}
static void big_lock_give(void) { atomic_flag_clear_explicit(&big_lock, memory_order_release); }
static int have_bigs(void) { return __atomic_load_n(&nbigs, __ATOMIC_RELAXED) != 0; }

static void big_add(uint64_t start, uint64_t len, unsigned what)
{
    big_lock_take();
    if (nbigs < sizeof bigs / sizeof *bigs)
        bigs[nbigs++] = (struct big){start, len, what};
    big_lock_give();
}

/* Take the entries of [start, start + len) out; returns 1 and *out when one was exactly
 * that mapping (from its start, all of it). */
static int big_take(uint64_t start, uint64_t len, struct big *out)
{
    int found = 0;
    big_lock_take();
    for (unsigned i = 0; i < nbigs; i++) {
        struct big *b = &bigs[i];
        if (b->start >= start + len || b->start + b->len <= start)
            continue;
        if (b->start == start && b->len <= len)
            *out = *b, found = 1;
        bigs[i--] = bigs[--nbigs];
    }
    big_lock_give();
    return found;
}

/* The resident bytes of a mapping, as the sink counts them; UINT64_MAX if unreadable. */
static uint64_t resident(const struct big *b)
{
    uint64_t pm[512], page = (uint64_t)sysconf(_SC_PAGESIZE);
    if (pagemap_fd < 0)
        pagemap_fd = (int)syscall(SYS_openat, AT_FDCWD, "/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
    uint64_t end = b->start + (b->len + page - 1) / page * page;
    return pagemap_fd < 0 ? UINT64_MAX
                          : rec_pagemap_resident(pagemap_fd, b->start, end, page,
                                                 b->what == REC_MAP_FILE, pm, 512);
}

void rec_big_child(void)
{
    if (pagemap_fd >= 0)
        close(pagemap_fd);
    pagemap_fd = -1;
    nbigs = 0; /* the child's trace does not know the parent's mappings */
    atomic_flag_clear(&big_lock);
}

/* At the end, what each measured mapping holds: a process that writes a mapping and
 * exits before the sink's next look would otherwise show nothing of it. */
static void big_final(void)
{
    struct big b[sizeof bigs / sizeof *bigs];
    unsigned n;
    if (!have_bigs())
        return;
    big_lock_take();
    n = nbigs;
    memcpy(b, bigs, n * sizeof *b);
    big_lock_give();
    for (unsigned i = 0; i < n; i++) {
        uint64_t r[2] = {b[i].start, resident(&b[i])};
        if (r[1] != UINT64_MAX)
            rec_put(FT_RESIDENT, 2, r, NULL, 0, 0, 0);
    }
}

/* An mremap's old range: no longer a mapping the table knows whole. */
void rec_big_forget(uint64_t start, uint64_t len)
{
    struct big b;
    if (have_bigs())
        big_take(start, len, &b);
}

void rec_mmap(void *p, size_t len, unsigned what, uintptr_t caller)
{
    rec_tl.busy++;
    uint32_t stack = rec_stack_at(caller);
    uint64_t v[3] = {(uintptr_t)p, len, what};
    rec_big_forget(v[0], len); /* MAP_FIXED over a known one */
    if (rec_put(FT_MMAP, what ? 3 : 2, v, NULL, 0, 0, stack) &&
        (what != REC_MAP_ANON || len >= REC_MEASURE_MIN))
        big_add(v[0], len, what);
    if (rec_watch_on() && what == REC_MAP_ANON)
        rec_watch_map(v[0], len);
    rec_tl.busy--;
}

void rec_munmap(void *p, size_t len)
{
    uint64_t v[2] = {(uintptr_t)p, len};
    struct big b;
    rec_tl.busy++;
    if (have_bigs() && big_take(v[0], len, &b)) {
        uint64_t r[2] = {b.start, resident(&b)};
        if (r[1] != UINT64_MAX)
            rec_put(FT_RESIDENT, 2, r, NULL, 0, 0, 0);
    }
    rec_put(FT_MUNMAP, 2, v, NULL, 0, 0, 0);
    if (rec_watch_on())
        rec_watch_unmap(v[0], len);
    rec_tl.busy--;
}

void rec_fork(pid_t child)
{
    uint64_t v = (uint64_t)child;
    if (rec_want())
        rec_put(FT_FORK, 1, &v, NULL, 0, 0, 0);
}

/* Whether envp holds what the program to come needs to join: our socket's name and a
 * preloaded libfilrec. */
static int env_records(char *const envp[])
{
    int sock = 0, lib = 0;
    size_t n = strlen(params.sock);
    for (size_t i = 0; envp && envp[i]; i++) {
        const char *e = envp[i];
        if (!strncmp(e, "FILREC_SOCK=", 12) && !strncmp(e + 12, params.sock, n) && !e[12 + n])
            sock = 1;
        else if (!strncmp(e, "LD_PRELOAD=", 11) && strstr(e + 11, "libfilrec"))
            lib = 1;
    }
    return sock && lib;
}

/* Why the program file would not record itself even with our environment: static (no
 * ELF interpreter: nothing loads libfilrec) or setuid/setgid to someone else (the
 * loader ignores LD_PRELOAD); 0 when it would (or it is a script, or unreadable).
 * file is looked up in PATH like execvp when search is set. Stack and syscalls only. */
static unsigned program_why(const char *file, int search)
{
    char path[4096];
    const char *p = file;
    if (search && !strchr(file, '/')) {
        const char *dirs = getenv("PATH");
        p = NULL;
        for (const char *d = dirs ? dirs : "/bin:/usr/bin"; *d && !p;) {
            size_t n = strcspn(d, ":");
            if (n + strlen(file) + 2 < sizeof path) {
                memcpy(path, n ? d : ".", n ? n : 1);
                path[n ? n : 1] = '/';
                strcpy(path + (n ? n : 1) + 1, file);
                if (!access(path, X_OK))
                    p = path;
            }
            d += n + (d[n] == ':');
        }
        if (!p)
            return 0;
    }
    struct stat st;
    if (stat(p, &st))
        return 0;
    if (((st.st_mode & S_ISUID) && st.st_uid != geteuid()) ||
        ((st.st_mode & S_ISGID) && st.st_gid != getegid()))
        return REC_WHY_SETUID;
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    unsigned char eh[64], ph[56];
    unsigned why = 0;
    if (fd >= 0 && read(fd, eh, sizeof eh) == (ssize_t)sizeof eh && !memcmp(eh, "\x7f" "ELF", 4) &&
        eh[4] == 2 /* 64-bit */) {
        uint64_t off;
        uint16_t size, num;
        memcpy(&off, eh + 32, 8);
        memcpy(&size, eh + 54, 2);
        memcpy(&num, eh + 56, 2);
        why = REC_WHY_STATIC;
        for (unsigned i = 0; i < num && i < 128 && size >= sizeof ph; i++)
            if (pread(fd, ph, sizeof ph, (off_t)(off + (uint64_t)i * size)) == (ssize_t)sizeof ph &&
                ph[0] == 3 && !ph[1] && !ph[2] && !ph[3]) { /* PT_INTERP */
                why = 0;
                break;
            }
    }
    if (fd >= 0)
        close(fd);
    return why;
}

/* Whether the program about to run (argv, in envp) will join, else tell the sink why
 * not; pid: the process that will run it (0: this one). */
int rec_note_unless_joins(const char *file, int search, char *const argv[],
                          char *const envp[], pid_t pid)
{
    extern char **environ;
    if (!rec_want() || !params.follow)
        return 0;
    unsigned why = env_records(envp ? envp : environ) ? program_why(file, search) : REC_WHY_ENV;
    if (why)
        rec_link_note(params.sock, argv, why, pid);
    return why != 0;
}

void rec_exec_failed(char *const argv[])
{
    int e = errno;
    rec_link_note(params.sock, argv, REC_WHY_CANCEL, 0);
    errno = e;
}

int rec_exec(const char *path, int search, char *const argv[], char *const envp[])
{
    int noted = rec_note_unless_joins(path, search, argv, envp, 0);
    if (!rec_want() || getpid() != rec.pid)
        return noted; /* a vfork child shares our memory but is not us: the new image joins */
    size_t n = path ? strnlen(path, FT_STRING_MAX) : 0;
    rec_tl.busy++;
    if (rec_put(FT_EXEC, 0, NULL, path, n, 0, 0)) {
        /* Hand the sink everything now: the new image's log may join before the sink
         * looks at this one again. */
        rec_gate_lock();
        rec_seal();
        pthread_mutex_unlock(&rec.lock);
    }
    rec_tl.busy--;
    return noted;
}

static int mark(unsigned type, const char *label)
{
    size_t n = label ? strnlen(label, FT_STRING_MAX) : 0;
    return rec_want() && rec_put(FT_MARKER | type << 5, 0, NULL, label, n, 0, 0);
}

REC_EXPORT int filrec_mark(const char *label) { return mark(FT_MARK_POINT, label); }
REC_EXPORT int filrec_region_begin(const char *label) { return mark(FT_MARK_BEGIN, label); }
REC_EXPORT int filrec_region_end(const char *label) { return mark(FT_MARK_END, label); }
REC_EXPORT int filrec_active(void) { return atomic_load(&rec_on); }

/* ---- fork: the child never touches the parent's trace ---- */

static int start_log(pid_t forked_from, uint64_t parent_mono_ns);

/* rec's contents while its pages are remapped; log_private() puts them back. */
static struct rec_log rec_copy;

/* Map private memory over rec and fill it from rec_copy. */
static void log_private(void)
{
    if (rec_real.mmap(&rec, sizeof rec, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != MAP_FAILED)
        memcpy(&rec, &rec_copy, sizeof rec);
}
static void fork_prepare(void)
{
    rec_tl.busy++;
    rec_native_lock();
    pthread_mutex_lock(&rec.lock);
    rec_gate_revoke(0);
}

static void fork_parent(void)
{
    pthread_mutex_unlock(&rec.lock);
    rec_native_unlock();
    rec_tl.busy--;
}

static size_t ring_bytes(void) { return (size_t)REC_NBUF * REC_BUF_WORDS * sizeof(uint64_t); }

/* Everything of the log but its lock and what carries over to a fork child: the ids
 * defined so far (its trace starts with them, copied by the sink). The calling thread
 * becomes the new log's thread 0. */
static void log_reset(void)
{
    finishing = 0;
    rec.at = rec.end = NULL;
    rec.ctx = rec_ir_ctx(FT_A_MALLOC, 0); /* the trace's registers at a frame start */
    rec.thread = 0;
    atomic_store(&rec.gate, REC_GATE_NONE);
    atomic_store(&rec.f, 0);
    atomic_store(&rec.f_seq, 0);
    atomic_store(&rec.ready, 0);
    atomic_store(&rec.w, 0);
    atomic_store(&rec.w_seq, 0);
    atomic_store(&rec.sink_failed, 0);
    atomic_store(&rec.exit_end, 0);
    atomic_store(&rec.multi, 0);
    atomic_store(&rec.lanes_open, 0);
    atomic_store(&rec.lane_seq, 0);
    for (int i = 0; i < REC_NLANES; i++)
        atomic_store(&rec.lane_tail[i], 0);
    rec.switches = 0;
    rec.switch_ns = rec_now_ns();
    rec.nthreads = 1;
    rec.stopping = rec.failed = 0;
    rec.streak_key = rec.streak = 0;
    rec.pid = getpid();
    rec_logno++;
    give_key();
    rec_tl.idx = 0;
    rec_tl.log = rec_logno;
}

static void fork_child(void)
{
    /* The log is shared with the sink: give this process a private copy of it first,
     * and drop the parent's ring and connection. The lock is ours (fork_prepare). */
    memcpy(&rec_copy, &rec, sizeof rec);
    log_private();
    atomic_store(&rec_on, 0);
    rec_link_drop();
    if (rec.buf[0])
        rec_real.munmap(rec.buf[0], ring_bytes());
    for (int i = 0; i < REC_NBUF; i++)
        rec.buf[i] = NULL;
    pid_t parent = rec.pid;
    uint64_t parent_start = rec.start_ns;
    rec.lock = (pthread_mutex_t)PTHREAD_MUTEX_INITIALIZER; /* held by another thread? */
    rec_native_child();
    rec_watch_forget();
    rec_sample_child();
    rec_big_child();
    rec_lanes_child();
    log_reset(); /* the forking thread is the child's thread 0 */
    if (!params.follow || start_log(parent, parent_start)) {
        rec.stopping = 1;
        if (params.follow)
            rec_say("recording stopped in a forked child: ", strerror(errno), NULL);
    }
    rec_tl.busy--;
}

/* ---- start-up ---- */

/* Take our socket and library out of the environment, so that programs this one
 * starts are not recorded (--no-follow). FILREC_FOLLOW=0 stays for the Python
 * bootstrap, which runs later and puts PYTHONPATH back. */
static void scrub_environment(void)
{
    unsetenv("FILREC_SOCK");
    unsetenv("FILREC_NATIVE");
    unsetenv("FILREC_SAMPLE");
    const char *pre = getenv("LD_PRELOAD");
    Dl_info me;
    if (!pre || !dladdr((void *)scrub_environment, &me) || !me.dli_fname)
        return;
    char out[4096];
    size_t o = 0;
    const char *base = strrchr(me.dli_fname, '/');
    base = base ? base + 1 : me.dli_fname;
    for (const char *s = pre; *s;) {
        size_t n = strcspn(s, " :");
        const char *slash = memrchr(s, '/', n);
        const char *name = slash ? slash + 1 : s;
        int ours = (size_t)(s + n - name) == strlen(base) && !memcmp(name, base, strlen(base));
        if (!ours && n > 0 && o + n + 2 < sizeof out) {
            if (o)
                out[o++] = ':';
            memcpy(out + o, s, n);
            o += n;
        }
        s += n;
        s += *s != 0;
    }
    out[o] = 0;
    if (o)
        setenv("LD_PRELOAD", out, 1);
    else
        unsetenv("LD_PRELOAD");
}

/* Put the log in the memory shared with the sink: rec over the first pages (mapped in
 * place, so the hot path's addresses stay constants), the buffers after them. */
static int share_log(int shm)
{
    struct stat st;
    size_t ring = ring_bytes();
    if (fstat(shm, &st) || (size_t)st.st_size != sizeof rec + ring ||
        pwrite(shm, &rec, sizeof rec, 0) != (ssize_t)sizeof rec)
        return -1;
    uint8_t *r = rec_real.mmap(NULL, ring, PROT_READ | PROT_WRITE, MAP_SHARED, shm,
                               sizeof rec);
    if (r == MAP_FAILED)
        return -1;
    memcpy(&rec_copy, &rec, sizeof rec); /* should the mapping fail half-way */
    int failed = rec_real.mmap(&rec, sizeof rec, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
                               shm, 0) == MAP_FAILED;
    if (failed)
        log_private();
    /* A thread that began to wait for the lock between the copy and the mapping marked
     * the old page's lock word, not the copy's, and may already sleep on it: the unlock
     * would see no waiter and never wake it. Wake every sleeper now; each tries again
     * on the word in place (a private futex is known by its address, which stays). */
    syscall(SYS_futex, (void *)&rec.lock, FUTEX_WAKE_PRIVATE, INT32_MAX, NULL, NULL, 0);
    if (failed) {
        rec_real.munmap(r, ring);
        return -1;
    }
    for (int i = 0; i < REC_NBUF; i++)
        rec.buf[i] = (uint64_t *)(void *)(r + (size_t)i * REC_BUF_WORDS * sizeof(uint64_t));
    return 0;
}

/* Whether TIME words can read the TSC: the kernel keeps its clock by it, so it is
 * the same on every CPU. */
static int ts_by_tsc(void)
{
#if defined(__x86_64__)
    char b[16] = {0};
    int fd = open("/sys/devices/system/clocksource/clocksource0/current_clocksource",
                  O_RDONLY | O_CLOEXEC);
    ssize_t n = fd >= 0 ? read(fd, b, sizeof b - 1) : -1;
    if (fd >= 0)
        close(fd);
    return n >= 3 && !memcmp(b, "tsc", 3) && (b[3] == '\n' || !b[3]);
#else
    return 0;
#endif
}

/* Make a log in new shared memory and join the sink with it (rec_link.c); forked_from:
 * in a fork child, the parent's pid (the ids carry over), else 0. 0, or -1 with errno
 * set and nothing recording. Only one thread runs: start-up, or a fork child's handler. */
static int start_log(pid_t forked_from, uint64_t parent_mono_ns)
{
    int shm = memfd_create("filrec-log", MFD_CLOEXEC);
    if (shm < 0)
        return -1;
    if (ftruncate(shm, (off_t)(sizeof rec + ring_bytes())) || share_log(shm)) {
        int e = errno;
        close(shm);
        errno = e;
        return -1;
    }
    rec.at = rec.buf[0];
    rec.end = rec.at + REC_BUF_WORDS;
    rec.start_ns = rec_now_ns();
    int lanes = -1; /* the lanes' memory for the sink, if lanes may be used */
    if (params.lanes >= 0) {
        struct stat st;
        rec.ts_tsc = ts_by_tsc(); /* TIME words' clock */
        if (rec_lanes_fd >= 0 &&
            (fstat(rec_lanes_fd, &st) || (size_t)st.st_size != sizeof *rec_lanes))
            rec_lanes_fd = -1; /* the program closed it: this log stays single */
        if (!rec_lanes && rec_lanes_map())
            rec_lanes_fd = -1;
        lanes = rec_lanes_fd;
    }
    int joined = rec_link_join(params.sock, shm, sizeof rec + ring_bytes(), lanes, forked_from,
                               parent_mono_ns);
    int e = errno;
    close(shm);
    if (joined) {
        errno = e;
        return -1;
    }
    rec_gate_init(); /* membarrier's registration is the process's: again in a child */
    atomic_store(&rec.ready, 1);
    atomic_store(&rec_on, 1);
    return 0;
}

/* The exit status, for the sink: on_exit hands it over whether the program called
 * exit() or returned from main (which calls exit inside libc, where no hook sees it).
 * Registered in the constructor, it runs after every destructor (ours wrote the
 * trailer), so it goes into the shared log, where the sink reads it once the process
 * is gone. */
static void on_exit_status(int status, void *arg)
{
    (void)arg;
    if (getpid() == rec.pid)
        atomic_store(&rec.exit_end, (uint32_t)((status & 0xff) << 8) + 1);
}

/* Other threads may be running: the lock is held throughout, so none is inside the
 * log while it moves to new memory (share_log copies it, lock word and all, maps the
 * copy in place, and wakes any thread that began to wait in between), and the earlier
 * log's ring is dropped only then. */
int rec_start(const struct rec_params *p)
{
    if (!p->sock || strlen(p->sock) >= sizeof params_sock) {
        errno = EINVAL;
        return -1;
    }
    if (p->native && rec_native_load())
        rec_say("no native stacks: cannot load libunwind.so.8 (Debian: libunwind8)", NULL, NULL);
    pthread_mutex_lock(&rec.lock);
    rec_gate_revoke(0);
    if (atomic_load(&rec_on)) {
        pthread_mutex_unlock(&rec.lock);
        errno = EBUSY;
        return -1;
    }
    uint64_t *old = rec.buf[0];
    params = *p;
    strcpy(params_sock, p->sock);
    params.sock = params_sock;
    log_reset(); /* the starting thread is thread 0 (owner once a run of records earns it) */
    rec.nstrings = rec.nfuncs = rec.nnodes = rec.nmodules = 0;
    rec_native_on = p->native && !rec_native_start();
    if (rec_native_on && !atomic_load(&rec_stack_source))
        filrec_set_stack_source(NULL); /* a stand-in: no event takes the stackless path */
    for (int i = 0; i < REC_NBUF; i++)
        rec.buf[i] = NULL;
    int rc = start_log(0, 0), e = errno;
    pthread_mutex_unlock(&rec.lock);
    if (old)
        rec_real.munmap(old, ring_bytes());
    if (rc) {
        errno = e;
        return -1;
    }
    static int once;
    if (!once++) {
        pthread_atfork(fork_prepare, fork_parent, fork_child);
        on_exit(on_exit_status, NULL);
    }
    return 0;
}

/* The environment's front end: FILREC_SOCK names the sink (`filrec run`), FILREC_FOLLOW=0
 * keeps children out (the variables and our library leave the environment). */
/* FILREC_LANES (filrec-run(1)): "always", "auto" (by how fast threads take turns),
 * else never: on the 2-core machines measured so far one shared log is cheaper at every
 * thread count (BENCHMARKS.md, "threads"). */
static int lanes_from_environment(void)
{
    const char *lanes = getenv("FILREC_LANES");
    return !lanes ? -1 : !strcmp(lanes, "always") ? 1 : !strcmp(lanes, "auto") ? 0 : -1;
}

static void start_from_environment(void)
{
    const char *sock = getenv("FILREC_SOCK"), *follow = getenv("FILREC_FOLLOW");
    const char *native = getenv("FILREC_NATIVE"), *sample = getenv("FILREC_SAMPLE");
    struct rec_params p = {.sock = sock, .follow = !follow || strcmp(follow, "0"),
                           .native = native && !strcmp(native, "1"),
                           .lanes = lanes_from_environment()};
    if (!sock || !*sock || !rec_preloaded)
        return; /* not under `filrec run` (or loaded by in-process activation): passive */
    if (sample && *sample) /* bytes; the header says the same (`filrec run --sample`) */
        rec_sample_bytes = strtoull(sample, NULL, 10);
    char name[sizeof params_sock];
    snprintf(name, sizeof name, "%s", sock);
    p.sock = name;
    if (!p.follow)
        scrub_environment();
    if (rec_start(&p) && errno != ECONNREFUSED) /* refused: the sink said why */
        rec_say("not recording: cannot join filrec: ", strerror(errno), NULL);
}

/* ---- in-process activation (filrec.h): a process that starts recording by itself ---- */

REC_EXPORT int filrec_inprocess_start(const char *sock)
{
    return filrec_inprocess_begin(sock, 0);
}

REC_EXPORT int filrec_inprocess_begin(const char *sock, int native)
{
    return filrec_inprocess_begin_sampled(sock, native, 0);
}

REC_EXPORT int filrec_inprocess_begin_sampled(const char *sock, int native,
                                              unsigned long long sample)
{
    if (rec_preloaded || rec_resolve())
        return EBUSY; /* preloaded: `filrec run` records this process already */
    if (atomic_load(&rec_on))
        return EBUSY;
    rec_sample_bytes = sample; /* before recording is on: the hooks read it first */
    rec_sample_reset();
    rec_tl.busy++;
    struct rec_params p = {.sock = sock, .follow = 0, .native = native,
                           .lanes = lanes_from_environment()};
    int rc = rec_start(&p) ? errno : 0;
    if (!rc && rec_got_patch()) {
        rc = errno;
        rec_finish(FT_T_RUNNING | FT_T_FAILED, 0);
    }
    rec_tl.busy--;
    return rc;
}

REC_EXPORT int filrec_inprocess_stop(void)
{
    if (rec_preloaded)
        return EBUSY;
    rec_tl.busy++;
    int was = atomic_load(&rec_on);
    rec_finish(FT_T_RUNNING, 0);
    rec_got_unpatch();
    rec_tl.busy--;
    return was ? 0 : ESRCH;
}

/* For a pending call (Py_AddPendingCall, queued by filrec detach): stop, and return 0
 * whatever happened, as a pending call that fails would raise in the program. */
REC_EXPORT int filrec_inprocess_stop_pending(void *arg)
{
    (void)arg;
    filrec_inprocess_stop();
    return 0;
}

void rec_finish(unsigned flags, uint64_t end)
{
    if (getpid() != rec.pid)
        return; /* a vfork child's _exit or kill: its parent's log is not its own */
    big_final();
    pthread_mutex_lock(&rec.lock);
    rec_gate_revoke(0);
    /* Over already, or never begun. A log stopped by a failure is ended too, with no
     * trailer: the sink then ends the trace at once, not at the process's exit. */
    if (rec.stopping || finishing || (!atomic_load(&rec_on) && !rec.failed)) {
        pthread_mutex_unlock(&rec.lock);
        return;
    }
    /* room() and rec_seal() may wait for the sink with the lock dropped: meanwhile
     * another finisher returns above, and threads still running may record before the
     * trailer but not after it (rec_on falls with it), nor open the lanes again. */
    finishing = 1;
    rec_lanes_close();
    if (!rec.failed && room(rec_ir_words(3, 0))) {
        uint64_t v[3] = {flags, (rec_now_ns() - rec.start_ns) / 1000, end};
        rec_publish(rec_ir_rec(rec.at, FT_TRAILER, 3, v, NULL, 0));
        atomic_store(&rec_on, 0);
        rec_seal();
    }
    atomic_store(&rec_on, 0);
    __atomic_store_n(&rec.stopping, 1, __ATOMIC_RELEASE); /* the sink waits for the exit */
    rec_link_wake();
    if (flags & FT_T_RUNNING)
        rec_lanes_drained(); /* a later start writes on in the lanes */
    pthread_mutex_unlock(&rec.lock);
}

__attribute__((constructor)) static void rec_init(void)
{
    rec_tl.busy++;
    if (rec_resolve() == 0)
        start_from_environment();
    else
        rec_say("cannot find the C library's allocation functions; not recording", NULL, NULL);
    rec_tl.busy--;
}

__attribute__((destructor)) static void rec_exit(void)
{
    if (rec_tl.busy)
        return; /* exit() from inside the recorder (a signal handler): no trailer */
    rec_tl.busy++;
    if (atomic_load(&rec_on))
        rec_finish(FT_T_EXIT, 0);
    rec_tl.busy--;
}
