/* rec_internal.h: what the recorder's files share. Every global and thread-local is
 * declared here, under the file that owns it, with its locking rule.
 * The recorder knows nothing of Python; record/python/ feeds stacks in through
 * filrec.h. */
#ifndef REC_INTERNAL_H
#define REC_INTERNAL_H

#include <pthread.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "../format/ft_enc.h"
#include "filrec.h" /* the public names: before the hidden ones */
#include "rec_ir.h"

/* Everything declared here is the library's own: the hooks read these globals on every
 * event, and a hidden declaration lets the compiler address them directly, not through
 * the GOT (one instruction fewer a read). The exported names say REC_EXPORT. */
#pragma GCC visibility push(hidden)

#define REC_EXPORT __attribute__((visibility("default")))
#define REC_NBUF 8 /* log buffers of REC_BUF_WORDS words each */

/* ---- rec_hooks.c: the interposed libc functions ---- */

/* One list of every interposed symbol: X(name, return type, parameters).
 * It drives the pointer table, the lookup and the required-symbol check. */
#define REC_HOOKS(X)                                                            \
    X(malloc, void *, (size_t))                                                 \
    X(calloc, void *, (size_t, size_t))                                         \
    X(realloc, void *, (void *, size_t))                                        \
    X(reallocarray, void *, (void *, size_t, size_t))                           \
    X(free, void, (void *))                                                     \
    X(posix_memalign, int, (void **, size_t, size_t))                           \
    X(aligned_alloc, void *, (size_t, size_t))                                  \
    X(memalign, void *, (size_t, size_t))                                       \
    X(valloc, void *, (size_t))                                                 \
    X(pvalloc, void *, (size_t))                                                \
    X(mmap, void *, (void *, size_t, int, int, int, off_t))                     \
    X(mmap64, void *, (void *, size_t, int, int, int, off_t))                   \
    X(munmap, int, (void *, size_t))                                            \
    X(mremap, void *, (void *, size_t, size_t, int, ...))                       \
    X(fork, pid_t, (void))                                                      \
    X(kill, int, (pid_t, int))                                                  \
    X(raise, int, (int))                                                        \
    X(pthread_create, int, (pthread_t *, const pthread_attr_t *,                \
                            void *(*)(void *), void *))                         \
    X(execve, int, (const char *, char *const *, char *const *))                \
    X(execv, int, (const char *, char *const *))                                \
    X(execvp, int, (const char *, char *const *))                               \
    X(execvpe, int, (const char *, char *const *, char *const *))               \
    X(posix_spawn, int, (pid_t *, const char *, const posix_spawn_file_actions_t *, \
                         const posix_spawnattr_t *, char *const *, char *const *))     \
    X(posix_spawnp, int, (pid_t *, const char *, const posix_spawn_file_actions_t *, \
                          const posix_spawnattr_t *, char *const *, char *const *))    \
    X(_exit, void, (int))                                                       \
    X(_Exit, void, (int))                                                       \
    X(dlclose, int, (void *))

/* The real functions, set once by rec_resolve() before recording starts and
 * never changed after: read without locks. */
struct rec_real {
#define X(name, ret, args) ret (*name) args;
    REC_HOOKS(X)
#undef X
};
extern struct rec_real rec_real;
/* Look up the real functions; 0 on success. Safe to call from a hook. */
int rec_resolve(void);
/* Set by rec_resolve: 1 when the library is preloaded (its malloc is the process's),
 * 0 when it was loaded later (in-process activation: rec_got.c puts the hooks in). */
extern int rec_preloaded;
/* Each hook's own address, whatever the loader bound the exported name to. */
#define X(name, ret, args) extern ret rec_hook_##name args;
REC_HOOKS(X)
#undef X

/* ---- shared by the library and the sink ---- */

/* The monotonic clock in ns: the program's start time and the sink's samples. */
static inline uint64_t rec_now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* A futex on a word of the shared log (not private: both processes use it). */
static inline long rec_futex(_Atomic uint32_t *word, int op, uint32_t val,
                             const struct timespec *t)
{
    return syscall(SYS_futex, word, op, val, t, NULL, 0);
}

/* ---- rec_core.c: the event log ---- */

/* How to start recording: the one entry point, whatever the front end (the environment
 * `filrec run` sets, in rec_core.c; later the Python API and attach). */
struct rec_params {
    const char *sock; /* the job's sink: an abstract socket name, "@..." (rec_link.h) */
    int native;       /* native stacks (--native: rec_native.c) */
    int follow;       /* a forked child records too (and the environment is left for
                       * exec'd and spawned programs to record themselves) */
    int lanes;        /* one log per thread (rec_lane.c): 1 from the first turn, 0 when
                       * threads take turns often, -1 never (the default) */
};
/* Start recording this process into a new log: 0, or -1 with errno set (then nothing
 * is recorded; EBUSY: recording already). Other threads may be running, and an earlier
 * log of this process may have ended (in-process activation starts many times). */
int rec_start(const struct rec_params *p);

/* Per-thread state, initial-exec TLS so reading it never allocates. Owned by its
 * thread; no locking. busy > 0 means "inside the recorder": hooks pass straight
 * through, so the recorder's, zstd's and libc's own allocations are not recorded.
 * key names the thread to the gate: 0 until the thread first records, then unique in
 * the process for good, so a thread that last wrote to an earlier log can never pass
 * for the owner of this one. idx is its index in log number log (rec_logno). */
/* A thread's own flag for the bias (rec_gate.c): inside, while it writes as the owner. */
struct rec_cell {
    _Alignas(64) atomic_int inside;
    uint32_t key; /* the thread it belongs to (rec_tls key; 0: free) */
    pid_t tid;    /* its kernel id, to see it gone */
};

struct rec_tls {
    uint32_t key;          /* first, then busy: rec_tl_word() reads both at once */
    int busy;
    void *stack_slot;      /* the stack source's per-thread state */
    uint32_t idx, log;
    uint32_t root;         /* --native: the stack that started the thread (0: none) */
    void *native;          /* --native: the thread's last capture (rec_native.c) */
    uintptr_t stack_lo, stack_hi, stack_bound; /* its stack; bound: 0 unknown, else
                            * above every frame that can change (rec_native.c) */
    int64_t sample_left;   /* --sample: bytes to the next sample point */
    uint64_t sample_rng;   /* its random state (0: not seeded, no point drawn yet) */
    int sample_probe;      /* 1: note (as 2) the next countdown's slow path instead */
    uint32_t lane;         /* its lane (rec_lane.c) + 1, for the life of the thread; 0: none */
    uint32_t lane_log;     /* the log in which it last looked for one */
    struct rec_cell *cell; /* its flag for the bias (rec_gate.c); NULL until it owns it */
};
extern __thread struct rec_tls rec_tl __attribute__((tls_model("initial-exec")));
/* The number of the current log, bumped by every start (a fork child's too). Read and
 * written under rec.lock. */
extern uint32_t rec_logno;
/* Whether the calling thread has an index in the current log. Lock held. */
static inline int rec_tl_in_log(void) { return rec_tl.key && rec_tl.log == rec_logno; }

/* 1 while recording. Written under rec.lock, read without it by the hooks as a fast
 * filter (a stale 1 is caught under the lock by rec_reserve). */
extern atomic_int rec_on;

#define REC_BUF_WORDS (1u << 15) /* 256 KiB of log words per buffer */
#define REC_NLANES 64           /* threads with a log of their own (rec_lane.c) */

/* The log (rec_ir.h): a ring of REC_NBUF buffers in memory shared with the sink, the
 * `filrec run` process that encodes and writes the trace (rec_sink.c). Buffer number f
 * (mod REC_NBUF) is being filled; numbers w..f-1 are sealed and wait for the sink, which
 * also reads buffer f up to at as it fills. Fields are guarded by lock, except that the
 * bias owner (rec_gate.c) writes at, ctx and thread without it. The sink reads at, f
 * and sealed_end (published with release stores: words, then at; sealed_end, then f,
 * then at) and writes w and sink_failed; it touches nothing else.
 * The struct fills whole pages: start-up maps the shared memory over it. */
struct rec_log {
    /* The hot path's fields, on a line of their own. */
    _Alignas(64) uint64_t *at;       /* the next word of buffer f */
    uint64_t *end;         /* and its end */
    uint64_t ctx;          /* the log's current context (rec_ir_ctx) */
    uint32_t thread;       /* the log's current thread */
    /* One log per thread (rec_lane.c): multi, set once under lock, says every record of
     * this log from (multi_f, multi_off) on follows a TIME word; lanes_open, that the
     * lanes may be written. Both read without the lock. */
    _Atomic uint32_t multi, lanes_open;
    /* The gate (rec_gate.c): see there. Read without the lock, written under it. */
    _Atomic uint64_t gate;

    _Alignas(64) pthread_mutex_t lock;
    uint64_t *buf[REC_NBUF];
    uint64_t *sealed_end[REC_NBUF]; /* where each sealed buffer's words stop */
    _Atomic uint64_t f;
    _Atomic uint32_t f_seq; /* bumped when f moves */
    _Atomic uint32_t ready; /* set once the log is set up, for the sink */
    uint32_t nthreads;
    int stopping, failed;  /* recording has stopped for good; after a failure */
    pid_t pid;             /* the process the log is of (a vfork child is not it) */
    uint64_t start_ns;     /* monotonic clock at start */
    uint32_t streak_key, streak, bias_after;
    int can_bias;
    uint32_t nstrings, nfuncs, nnodes, nmodules; /* ids given so far; under lock */
    uint64_t multi_f, multi_off; /* where the log went over to lanes: buffer, word */
    uint32_t switches;     /* THREAD words written while single since switch_ns: */
    uint64_t switch_ns;    /* REC_MULTI_AFTER of them within REC_MULTI_NS, and multi */
    uint64_t contended_ns; /* the last contended revocation of the bias (rec_gate.c) */
    int ts_tsc;            /* rec_ts reads the TSC (else the monotonic clock) */
    /* Written by the sink. */
    _Alignas(64) _Atomic uint64_t w;
    _Atomic uint32_t w_seq; /* a futex: bumped when w moves */
    _Atomic uint32_t sink_failed; /* the sink cannot write: stop recording */
    _Atomic uint32_t lane_seq; /* a futex: bumped when a lane_tail moves */
    _Atomic uint64_t lane_tail[REC_NLANES]; /* how far the sink has read each lane */
    /* Written by the program at exit, read by the sink once it is gone. */
    _Atomic uint32_t exit_end; /* 0, or the exit status << 8, + 1 */
} __attribute__((aligned(4096)));
extern struct rec_log rec;

/* Make room for a record of up to words log words for the calling thread, writing a
 * THREAD word first if the thread changed, and maybe make the caller the bias owner.
 * Called with rec.lock held. 0 when not recording. */
int rec_reserve(size_t words);
/* Seal buffer f (if it holds anything) and move to the next; may wait for space.
 * Called with rec.lock held. */
void rec_seal(void);
/* Stop recording after an internal failure: one line on stderr, once. Lock held. */
void rec_fail(const char *what, int err);
/* Assign the calling thread its index and write THREAD_START. Lock held. */
void rec_thread_assign(uint32_t parent, uint32_t stack);
/* The calling thread's index, assigning one (parent 0) if it has none. No lock held. */
uint32_t rec_tid(void);
/* Write a line to stderr without stdio or malloc. */
void rec_say(const char *a, const char *b, const char *c);

/* Append one REC (rec_ir.h) for the calling thread, taking the lock or the bias itself;
 * MMAP and ALLOC RECs set the context to (allocator, stack) first. 1 if written. */
int rec_put(unsigned kind, unsigned n, const uint64_t *v, const void *s, size_t len,
            unsigned allocator, uint32_t stack);
/* An allocation or free from a hook that the inline path (rec_alloc_fast) did not
 * take: checks rec_want(), takes the stack, writes under the bias or the lock.
 * rec_alloc_event returns p, so a hook can end with it. */
void *rec_alloc_event(void *p, size_t size, unsigned allocator, uintptr_t caller);
/* A hook's caller, for rec_alloc_event and rec_mmap: the hook's canonical frame address
 * (its caller's stack pointer before the call), one lea after the real call. Its return
 * address is the word below it (x86-64), read only when a native stack is taken, so a
 * hook keeps no register for it. 0: unknown. */
#define REC_CALLER ((uintptr_t)__builtin_dwarf_cfa())
static inline uintptr_t rec_caller_ra(uintptr_t caller)
{
#if defined(__x86_64__)
    return caller ? ((const uintptr_t *)caller)[-1] : 0;
#else
    (void)caller;
    return 0; /* unknown: every capture unwinds */
#endif
}
void rec_free_event(void *p);
/* An allocation of size bytes that failed (allocator 0: an anonymous mmap). */
void rec_alloc_failed(size_t size, unsigned allocator);
/* What a mapping is, the MMAP log record's third value: the sink measures the resident
 * pages of large anonymous mappings, PROT_NONE ones and writable private file mappings
 * (their copied-on-write pages), and counts the rest by length. */
enum { REC_MAP_ANON = 0, REC_MAP_FILE = 1, REC_MAP_NONE = 2 };
#define REC_MEASURE_MIN (4u << 20) /* anonymous mappings this long or longer are measured */
/* The resident bytes of the pages [start, end) as pagemap (an open /proc/PID/pagemap)
 * says, as FORMAT.md's "Resident pages" counts them: a page that is present or swapped,
 * in a file mapping (file) only one that is not the file's own (copied on write). buf
 * holds cap entries. UINT64_MAX when a bound is not page-aligned or a read fails. */
static inline uint64_t rec_pagemap_resident(int pagemap, uint64_t start, uint64_t end,
                                            uint64_t page, int file, uint64_t *buf, size_t cap)
{
    uint64_t pages = 0;
    if (start % page || end % page)
        return UINT64_MAX;
    for (uint64_t a = start; a < end;) {
        uint64_t n = (end - a) / page < cap ? (end - a) / page : cap;
        if (pread(pagemap, buf, n * sizeof *buf, (off_t)(a / page * sizeof *buf)) !=
            (ssize_t)(n * sizeof *buf))
            return UINT64_MAX;
        for (uint64_t k = 0; k < n; k++) /* bit 63 present, 62 swapped, 61 a file's page */
            pages += (buf[k] >> 62 & 1) | (buf[k] >> 63 & (file ? ~buf[k] >> 61 & 1 : 1));
        a += n * page;
    }
    return pages * page;
}
void rec_mmap(void *p, size_t len, unsigned what, uintptr_t caller);
void rec_munmap(void *p, size_t len);
/* Measured mappings (rec_core.c): an mremap'd range leaves the table; a fork child
 * starts with none. */
void rec_big_forget(uint64_t start, uint64_t len);
void rec_big_child(void);
void rec_fork(pid_t child);
/* The process is about to exec path with argv and envp (NULL: environ): log it, hand
 * the sink the log so far, and tell it when the new program will not record itself
 * (search: file is looked up in PATH, as execvp does). */
int rec_exec(const char *path, int search, char *const argv[], char *const envp[]);
/* The exec rec_exec told the sink about (it returned 1) failed: take that back. */
void rec_exec_failed(char *const argv[]);
/* Tell the sink when the program file (looked up in PATH when search), run with argv
 * in envp (NULL: environ) by process pid (0: this one), will not record itself. */
int rec_note_unless_joins(const char *file, int search, char *const argv[],
                          char *const envp[], pid_t pid);

/* Write the trailer (flags, enum ft_trailer_flag: FT_T_EXIT at exit or just before the
 * process kills itself, FT_T_RUNNING when recording stops in a running process; end:
 * the wait status + 1 when known, else 0) and stop. The sink writes it out. */
void rec_finish(unsigned flags, uint64_t end);

/* ---- rec_watch.c: a threshold on live memory (filrec_watch) ---- */

/* 1 while a threshold is set: the event paths below then count live bytes. */
extern atomic_int rec_watching;
void rec_watch_alloc(uint64_t a, uint64_t size);
void rec_watch_free(uint64_t a);
void rec_watch_map(uint64_t a, uint64_t len);
void rec_watch_unmap(uint64_t a, uint64_t len);
void rec_watch_remap(uint64_t old, uint64_t new_addr, uint64_t new_len);
/* In a fork child: stop watching (the threshold is the parent's). */
void rec_watch_forget(void);
static inline int rec_watch_on(void)
{
    return atomic_load_explicit(&rec_watching, memory_order_relaxed);
}

/* ---- rec_got.c: the hooks without LD_PRELOAD ---- */

/* Point every loaded object's relocation slots for the hooked functions (and dlopen,
 * so that objects loaded later get them too) at the hooks; 0, or -1 with errno. */
int rec_got_patch(void);
/* Put back every slot rec_got_patch changed that still holds a hook. */
void rec_got_unpatch(void);
/* Publish the log up to at, for the sink: after the words of a record. */
static inline void rec_publish(uint64_t *at)
{
    __atomic_store_n(&rec.at, at, __ATOMIC_RELEASE);
}

/* Append one word (room checked) and publish it. */
static inline void rec_put_word(uint64_t w)
{
    uint64_t *at = rec.at;
    *at = w;
    rec_publish(at + 1);
}

/* ---- rec_link.c: joining the job's sink (rec_link.h) ---- */

/* Connect to the sink named name, hand it the log's memfd shm (log_bytes long) and the
 * lanes' (lanes, -1: none), and wait
 * for its answer. forked_from: in a fork child, the parent's pid (its ids, rec.nstrings
 * and the rest, carry over), else 0; parent_mono_ns: the parent log's start_ns. 0, or -1 with errno set. Single-threaded: start-up
 * or a fork child. */
int rec_link_join(const char *name, int shm, size_t log_bytes, int lanes, pid_t forked_from,
                  uint64_t parent_mono_ns);
/* Tell the sink that process pid (0: this one, maybe a vfork child) is about to run argv
 * unrecorded, for the reason why (enum rec_link_why). Plain system calls, nothing
 * shared written. */
void rec_link_note(const char *name, char *const argv[], unsigned why, pid_t pid);
/* Close the connection (a fork child drops its parent's). */
void rec_link_drop(void);
/* Wake the sink: a buffer is sealed, or the trailer is logged. Lock held. */
void rec_link_wake(void);
/* Whether the sink process still exists. */
int rec_link_alive(void);

/* ---- rec_lane.c: a log per thread ----
 * A log starts single: one ring, one lock with its bias. Asked to (FILREC_LANES), once
 * threads take turns in it (fast: REC_MULTI_AFTER switches within REC_MULTI_NS) it goes
 * over to multi: from then on every
 * thread writes its short events into a lane of its own, with no lock, and the log's
 * records follow TIME words too; the sink merges lanes and log by time. The lanes live
 * in memory of their own, mapped once per process and kept across in-process starts,
 * so that a thread that was preempted inside one never writes into unmapped memory; a
 * lane is its thread's for the thread's life (a dead owner's is taken over). The owner
 * alone writes inside, head, ctx, thread; the sink reads head and writes lane_tail. */
#define REC_LANE_WORDS (1u << 17) /* 1 MiB each */
#define REC_MULTI_AFTER 256
#define REC_MULTI_NS 100000000ull /* threads that take turns less often (a GIL's 5 ms)
                                   * stay single: the bias follows them for free */
struct rec_lane {
    _Alignas(64) atomic_int inside; /* the owner is writing: lanes are closed around it */
    _Atomic uint64_t head;          /* words written and published (never wraps back) */
    uint64_t tail_seen;             /* the sink's lane_tail as last read */
    uint64_t ctx;                   /* the lane's context and thread: UINT*_MAX unknown */
    uint32_t thread;
    uint32_t key;                   /* the owner's key (rec_tls); 0: free */
    pid_t tid;                      /* its kernel id, to see it gone */
    _Alignas(64) uint64_t words[REC_LANE_WORDS];
};
struct rec_lanes {
    _Atomic uint32_t n; /* lanes handed out so far (release: the sink reads them) */
    _Alignas(64) struct rec_lane lane[REC_NLANES];
};
/* This process's lanes (NULL: none), and their memfd (kept for the next start). */
extern struct rec_lanes *rec_lanes;
extern int rec_lanes_fd;
/* Map the lanes if this process has none; -1 if it cannot (then it stays single). */
int rec_lanes_map(void);
/* A fork child: drop the parent's. */
void rec_lanes_child(void);
/* Go over to multi (lock held, bias revoked, in a single log with lanes). */
void rec_lanes_open(void);
/* Close the lanes and wait until no thread is inside one (lock held). */
void rec_lanes_close(void);
/* After an in-process stop: wait (briefly) for the sink to take every lane's words,
 * before a later start writes on in them. */
void rec_lanes_drained(void);
/* Write word w (an ALLOC of context ctx, or a FREE: ctx REC_CTX_ANY) into the calling
 * thread's lane: 1, or 0 (it has none: write it into the log). busy must be set. */
int rec_lane_put(uint64_t ctx, uint64_t w);
/* The clock of TIME words: the TSC where the kernel keeps its own clock by it (read
 * after every earlier load: an event's time follows what it saw), else CLOCK_MONOTONIC. */
static inline uint64_t rec_ts(int tsc)
{
#if defined(__x86_64__)
    if (tsc) {
        uint32_t lo, hi, aux;
        __asm__ volatile("rdtscp" : "=a"(lo), "=d"(hi), "=c"(aux));
        return (uint64_t)hi << 32 | lo;
    }
#endif
    (void)tsc;
    return rec_now_ns();
}

/* ---- rec_gate.c: a biased lock in front of rec.lock ----
 * One thread, the owner, may write to the log without taking rec.lock: it raises the
 * inside flag of its own cell and re-reads gate. Anyone else takes rec.lock and revokes
 * the bias: gate = 0, then membarrier() (a full fence on every thread of the process),
 * then waits for the owner's flag to fall. Either the owner sees the gate closed or the
 * revoker sees its flag up: the owner never needs an atomic read-modify-write. The flag
 * is the thread's own, not the log's: a thread that lost the bias between its first
 * look at gate and its announce raises and lowers only its own, never the next
 * owner's (one flag for all let such a late thread clear the owner's mid-record, and a
 * revoker then wrote beside it: a torn log). A
 * thread that makes many records in a row under the lock becomes the owner; the log's
 * thread is the owner's for as long as the bias lasts.
 * gate holds the owner's key, or REC_GATE_NONE. No key (busy in the high half:
 * rec_tl_word) ever has bit 62, so gate == rec_tl_word() means "recording, not busy,
 * and the owner", in one compare. */
#define REC_GATE_NONE (1ull << 62)

/* The calling thread's key, with busy in bits 32-63: one load. */
static inline uint64_t rec_tl_word(void)
{
    uint64_t w;
    memcpy(&w, &rec_tl, sizeof w);
    return w;
}

/* Announce the owner at work and check the gate is still ours: 1, or 0 (not inside). */
static inline int rec_fast_announce(uint64_t key)
{
    struct rec_cell *c = rec_tl.cell; /* set: gate held this key once */
    atomic_store_explicit(&c->inside, 1, memory_order_relaxed);
    atomic_signal_fence(memory_order_seq_cst); /* membarrier() supplies the CPU fence */
    if (atomic_load_explicit(&rec.gate, memory_order_relaxed) == key)
        return 1;
    atomic_store_explicit(&c->inside, 0, memory_order_release);
    return 0;
}

static inline int rec_fast_enter(void)
{
    uint64_t key = rec_tl.key;
    return atomic_load_explicit(&rec.gate, memory_order_relaxed) == key &&
           rec_fast_announce(key);
}

static inline void rec_fast_leave(void)
{
    atomic_store_explicit(&rec_tl.cell->inside, 0, memory_order_release);
}

/* Register with membarrier; 0 if biasing is possible. */
int rec_gate_init(void);
/* Whether thread tid of this process is gone. */
int rec_tid_gone(pid_t tid);
/* Slow path: take rec.lock and revoke another thread's bias. */
void rec_gate_lock(void);
/* Revoke any bias (rec.lock held). contended: by a program thread wanting the log. */
void rec_gate_revoke(int contended);
/* Count a record the caller is about to write under the lock, and make it the owner
 * after a long enough run. Lock held, log thread already the caller's. */
void rec_gate_streak(void);

/* Start a record of up to words log words: 1, or 0 when not recording (then no
 * rec_end). *locked tells rec_end which path was taken. */
static inline int rec_begin(size_t words, int *locked)
{
    if (rec_fast_enter()) {
        if ((size_t)(rec.end - rec.at) >= words) {
            *locked = 0;
            return 1;
        }
        rec_fast_leave();
    }
    rec_gate_lock();
    *locked = 1;
    if (rec_reserve(words))
        return 1;
    pthread_mutex_unlock(&rec.lock);
    return 0;
}

static inline void rec_end(int locked)
{
    if (locked)
        pthread_mutex_unlock(&rec.lock);
    else
        rec_fast_leave();
}

/* ---- rec_stack.c: stacks from a language support module ---- */
/* Write a definition record (kind, n values, a string) and give it the next id from
 * *counter (rec.nstrings and the rest), in the same critical section. 0: not recording. */
unsigned rec_define(unsigned kind, uint32_t *counter, unsigned n, const uint64_t *v,
                    const void *s, size_t len);
unsigned rec_define_string(const char *s, size_t n);
/* The stack source a support module installed, or NULL: read on every recorded
 * allocation (acquire), written by filrec_set_stack_source. */
extern _Atomic(filrec_stack_fn) rec_stack_source;
/* The calling thread's stack id, 0 if none. busy must be set. */
uint32_t rec_stack_current(void);

static inline uint32_t rec_stack_now(void)
{
    return atomic_load_explicit(&rec_stack_source, memory_order_relaxed) ? rec_stack_current() : 0;
}

/* ---- rec_sample.c: --sample BYTES ---- */
/* The mean sampling interval in bytes; 0: every allocation is recorded. Set before
 * recording starts, then read-only. */
extern uint64_t rec_sample_bytes;
/* The countdown's fast path: counts size bytes down, and 1 if that leaves it above 0 (not
 * sampled). Otherwise 0, with the bytes counted down all the same: the caller goes on to
 * rec_sample_hit_slow, or gives them back (rec_sample_unpass) if it will not record. */
static inline int rec_sample_passes(size_t size)
{
#if defined(__x86_64__) && defined(__GCC_ASM_FLAG_OUTPUTS__)
    /* One subtract in memory whose flags are the answer: GCC loads, subtracts, stores
     * and tests (4 instructions for 1) when it is written in C. */
    int above;
    __asm__("subq %2, %0" : "+m"(rec_tl.sample_left), "=@ccg"(above) : "r"(size));
    return __builtin_expect(above, 1);
#else
    return __builtin_expect((rec_tl.sample_left -= (int64_t)size) > 0, 1);
#endif
}
static inline void rec_sample_unpass(size_t size)
{
    rec_tl.sample_left += (int64_t)size;
}
/* Whether the allocation of size bytes that rec_sample_passes turned away, or one of at
 * least the interval (not counted down), is sampled: draws the next point if it is. */
int rec_sample_hit_slow(size_t size);
/* Whether an allocation of size bytes is sampled (advances the thread's countdown). */
static inline int rec_sample_hit(size_t size)
{
    if (__builtin_expect(size < rec_sample_bytes && rec_sample_passes(size), 1))
        return 0;
    return rec_sample_hit_slow(size);
}
/* A filter of the sampled blocks' addresses, for every free to ask without a lock: bit
 * b is set while a sampled block of bucket b lives (rec_sample.c). 2 KiB, so that it
 * stays in the cache; a few hundred blocks live leave most bits clear. */
#define REC_SAMPLE_BUCKET_BITS 14
extern _Atomic uint64_t rec_sample_filter[(1u << REC_SAMPLE_BUCKET_BITS) / 64];
static inline size_t rec_sample_bucket(uint64_t a)
{
    return (size_t)((a >> 4) * 0x9E3779B97F4A7C15ull >> (64 - REC_SAMPLE_BUCKET_BITS));
}
/* 0 if a is surely not a sampled block: one load. */
static inline int rec_sample_maybe(uint64_t a)
{
    size_t b = rec_sample_bucket(a);
    return atomic_load_explicit(&rec_sample_filter[b >> 6], memory_order_acquire) >> (b & 63) & 1;
}
/* Keep a sampled block's address, so that its free is recorded: 1, or 0 out of memory
 * (then the block is not recorded). */
int rec_sample_keep(uint64_t a);
/* Whether a was a sampled block; it is forgotten. No lock unless it was. */
int rec_sample_forget(uint64_t a);
/* fork: the child starts with none; a new in-process start, too. */
void rec_sample_child(void);
void rec_sample_reset(void);

/* ---- rec_native.c: native stacks (--native) ---- */
/* 1 while native stacks are taken; set before recording starts, then read-only. */
extern int rec_native_on;
/* The calling thread's hybrid stack id; caller: the hook's REC_CALLER (0: unknown).
 * busy must be set; takes nat_lock. */
uint32_t rec_native_stack(uintptr_t caller);
/* The stack an event is charged to: native or not. */
static inline uint32_t rec_stack_at(uintptr_t caller)
{
    return rec_native_on ? rec_native_stack(caller) : rec_stack_now();
}
/* Load libunwind: 0, or -1 (no native stacks). Before rec.lock is taken (dlopen). */
int rec_native_load(void);
/* At a start with --native (under rec.lock): empty the tables (the ids begin again). */
int rec_native_start(void);
/* A Python node the stack source defined (line with FILREC_NODE_ENTRY). Lock held. */
void rec_native_pynode(uint32_t id, uint32_t parent, uint32_t func, uint32_t line);
/* The calling thread's stack bounds; bound: above its every changing frame (0: the
 * main thread's start, or none for another). busy must be set (it may allocate). */
void rec_native_thread_bounds(uintptr_t bound);
/* A dlclose: addresses may now mean another object. */
void rec_native_unloaded(void);
/* fork: nat_lock taken before rec.lock, and made new in the child. */
void rec_native_lock(void);
void rec_native_unlock(void);
void rec_native_child(void);

/* Whether to record: recording is on and we are not inside the recorder. */
static inline int rec_want(void)
{
    return atomic_load_explicit(&rec_on, memory_order_relaxed) && !rec_tl.busy;
}

/* An allocation of size bytes that reached the countdown (rec_sample_passes said 0) or
 * is of at least the interval (not counted down): whether it is sampled. When the
 * recorder does not want it, the bytes counted down are given back. */
static inline int rec_sample_reached(size_t size)
{
    if (!rec_want()) {
        if (size < rec_sample_bytes)
            rec_sample_unpass(size);
        return 0;
    }
    return rec_sample_hit_slow(size);
}

/* With sampling on: whether to record the allocation of n bytes at p (it is kept), or
 * the free of p (it was sampled). */
static inline int rec_sample_alloc(void *p, size_t n)
{
    return rec_want() && rec_sample_hit(n) && rec_sample_keep((uintptr_t)p);
}
static inline int rec_sample_free(void *p)
{
    return rec_sample_maybe((uintptr_t)p) && rec_want() && rec_sample_forget((uintptr_t)p);
}

/* The hot path, inline into the hooks: one word when this thread owns the log, no
 * stack source is installed, the context is unchanged and the event fits a word.
 * 1 if written; else the hook calls rec_alloc_event / rec_free_event, which do it all.
 * It has no calls, so the hooks need no registers saved to take it. busy is raised
 * while the word is written, so that a signal handler's malloc on this thread cannot
 * interleave with it. */
#define REC_CTX_ANY UINT64_MAX /* for rec_fast_word: a word whatever the context */

/* Write word w as the owner me (already seen in the gate), if the log's context is ctx
 * (or ctx is REC_CTX_ANY) and the buffer has room: 1 if written. */
static inline __attribute__((always_inline)) int rec_fast_word(uint64_t me, uint64_t ctx,
                                                              uint64_t w)
{
    int done = 0;
    rec_tl.busy = 1;
    if (rec_fast_announce(me)) {
        if ((ctx == REC_CTX_ANY || rec.ctx == ctx) && rec.at < rec.end) {
            rec_put_word(w);
            done = 1;
        }
        rec_fast_leave();
    }
    rec_tl.busy = 0;
    return done;
}

static inline __attribute__((always_inline)) int rec_alloc_fast(uint64_t a, uint64_t size,
                                                               unsigned allocator)
{
    uint64_t me = rec_tl_word();
    if (atomic_load_explicit(&rec.gate, memory_order_relaxed) != me || !rec_ir_short(a, size) ||
        atomic_load_explicit(&rec_stack_source, memory_order_relaxed))
        return 0;
    return rec_fast_word(me, rec_ir_ctx(allocator, 0), rec_ir_alloc(a, size));
}

static inline __attribute__((always_inline)) int rec_free_fast(uint64_t a)
{
    uint64_t me = rec_tl_word();
    if (atomic_load_explicit(&rec.gate, memory_order_relaxed) != me || !rec_ir_short(a, 0))
        return 0;
    return rec_fast_word(me, REC_CTX_ANY, rec_ir_free(a));
}

#pragma GCC visibility pop

#endif
