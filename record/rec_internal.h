/* rec_internal.h: what the recorder's files share. Every global and thread-local is
 * declared here, under the file that owns it, with its locking rule.
 * The recorder knows nothing of Python; record/python/ feeds stacks in through
 * filrec.h. */
#ifndef REC_INTERNAL_H
#define REC_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "../format/ft_enc.h"

#define REC_EXPORT __attribute__((visibility("default")))
#define REC_NBUF 4 /* record buffers of FT_FRAME_MAX bytes each */

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
                            void *(*)(void *), void *))

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

/* ---- rec_core.c: the event log ---- */

/* Per-thread state, initial-exec TLS so reading it never allocates. Owned by its
 * thread; no locking. busy > 0 means "inside the recorder": hooks pass straight
 * through, so the recorder's, zstd's and libc's own allocations are not recorded. */
struct rec_tls {
    int busy;
    int has_tid;
    uint32_t tid;
    void *stack_slot;      /* the stack source's per-thread state */
};
extern __thread struct rec_tls rec_tl __attribute__((tls_model("initial-exec")));

/* 1 while recording. Written under rec.lock, read without it by the hooks as a fast
 * filter (a stale 1 is caught under the lock by rec_reserve). */
extern atomic_int rec_on;

/* The shared log: a ring of REC_NBUF buffers. Buffer number f (mod REC_NBUF) is being
 * filled; numbers w..f-1 are sealed and wait for the writer. All fields are guarded
 * by lock; the writer thread compresses a sealed buffer without the lock, since no one
 * else touches a sealed buffer until w moves past it. */
struct rec_log {
    pthread_mutex_t lock;
    pthread_cond_t work;   /* signalled when a buffer is sealed or on stop */
    pthread_cond_t space;  /* signalled when the writer frees a buffer */
    uint8_t *buf[REC_NBUF];
    ft_frame sealed[REC_NBUF]; /* the frames of sealed buffers, for the writer */
    uint64_t f, w;
    ft_frame fr;           /* the frame being built in buffer f */
    uint64_t counts[FT_KIND_COUNT];
    uint32_t nthreads;
    int stopping, failed;  /* the writer drains and exits; recording has failed */
    int fd;
    uint64_t start_ns;     /* monotonic clock at start */
    uint64_t last_seal_ns;
    /* The gate (rec_gate.c): see there. gate and owner_busy are read without the lock;
     * gate is written under it, owner_busy only by the owner thread. */
    _Atomic uint64_t gate;
    atomic_int owner_busy;
    unsigned req;          /* REC_REQ_* the writer asks the owner to do; under lock */
    uint64_t mail_time_us, mail_rss; /* the sample the writer posted; under lock */
    uint32_t streak_tid, streak, bias_after;
    int can_bias;
    uint32_t nstrings, nfuncs, nnodes; /* ids given so far; under lock */
};
extern struct rec_log rec;

/* Make room in rec.fr for a record of up to need bytes for the calling thread, writing
 * a THREAD record first if the thread changed. Called with rec.lock held. 0 when not
 * recording. */
int rec_reserve(size_t need);
/* Seal buffer f (if it holds anything) and move to the next; may wait for space.
 * Called with rec.lock held. */
void rec_seal(void);
/* Stop recording after an internal failure: one line on stderr, once. Lock held. */
void rec_fail(const char *what, int err);
/* Assign the calling thread its index and write THREAD_START. Lock held. */
void rec_thread_assign(uint32_t parent, uint32_t stack);
/* The calling thread's index, assigning one (parent 0) if it has none. No lock held. */
uint32_t rec_tid(void);
uint64_t rec_now_ns(void);
/* Write a line to stderr without stdio or malloc. */
void rec_say(const char *a, const char *b, const char *c);

/* Event entry points from the hooks; each takes the lock itself. */
void rec_mmap(void *p, size_t len);
void rec_munmap(void *p, size_t len);
void rec_fork(pid_t child);

/* ---- rec_writer.c: the writer thread ---- */

/* Start the writer thread, sampling every sample_us (0: never); 0 on success. */
int rec_writer_start(uint64_t sample_us);
/* Write the trailer (with flags, enum ft_trailer_flag, beside FT_T_EXIT), drain every
 * buffer and join the writer: at exit, or just before the process kills itself. */
void rec_writer_finish(unsigned flags);

/* ---- rec_gate.c: a biased lock in front of rec.lock ----
 * One thread, the owner, may write records without taking rec.lock: it announces
 * itself in owner_busy and re-reads gate. Anyone else takes rec.lock and revokes the
 * bias: gate = 0, then membarrier() (a full fence on every thread of the process),
 * then waits for owner_busy to clear. Either the owner sees gate == 0 or the revoker
 * sees owner_busy == 1: the owner never needs an atomic read-modify-write. A thread that
 * makes many records in a row under the lock becomes the owner. */
#define REC_REQ_BIT (1ull << 32) /* in gate: the owner must take the slow path */
enum { REC_REQ_SAMPLE = 1, REC_REQ_SEAL = 2 };

static inline int rec_fast_enter(void)
{
    uint64_t me = (uint64_t)rec_tl.tid + 1;
    if (!rec_tl.has_tid || atomic_load_explicit(&rec.gate, memory_order_relaxed) != me)
        return 0;
    atomic_store_explicit(&rec.owner_busy, 1, memory_order_relaxed);
    atomic_signal_fence(memory_order_seq_cst); /* membarrier() supplies the CPU fence */
    if (atomic_load_explicit(&rec.gate, memory_order_relaxed) == me)
        return 1;
    atomic_store_explicit(&rec.owner_busy, 0, memory_order_release);
    return 0;
}

static inline void rec_fast_leave(void)
{
    atomic_store_explicit(&rec.owner_busy, 0, memory_order_release);
}

/* Register with membarrier; 0 if biasing is possible. */
int rec_gate_init(void);
/* Slow path: take rec.lock, revoke another thread's bias, do what the writer asked if
 * we are the owner, and maybe make us the owner. */
void rec_gate_lock(void);
/* Revoke any bias (rec.lock held). contended: a program thread, not the writer. */
void rec_gate_revoke(int contended);
/* The writer's periodic work: post a sample and/or a seal request to the owner, or do
 * it itself if there is no owner or the owner has not answered. Lock held. */
void rec_gate_request(unsigned what, uint64_t time_us, uint64_t rss);

/* Start a record of up to need bytes in rec.fr: 1, or 0 when not recording (then no
 * rec_end). *locked tells rec_end which path was taken. */
static inline int rec_begin(size_t need, int *locked)
{
    if (rec_fast_enter()) {
        if (ft_frame_room(&rec.fr) >= need + FT_REC_MAX && rec.fr.regs.thread == rec_tl.tid) {
            *locked = 0;
            return 1;
        }
        rec_fast_leave();
    }
    rec_gate_lock();
    *locked = 1;
    if (rec_reserve(need))
        return 1;
    pthread_mutex_unlock(&rec.lock);
    return 0;
}

static inline void rec_end(unsigned kind, int locked)
{
    rec.counts[kind]++;
    if (locked)
        pthread_mutex_unlock(&rec.lock);
    else
        rec_fast_leave();
}

/* ---- rec_stack.c: stacks from a language support module ---- */
#include "filrec.h"
/* The stack source a support module installed, or NULL: read on every recorded
 * allocation (acquire), written by filrec_set_stack_source. */
extern _Atomic(filrec_stack_fn) rec_stack_source;
/* The calling thread's stack id, 0 if none. busy must be set. */
uint32_t rec_stack_current(void);

static inline uint32_t rec_stack_now(void)
{
    return atomic_load_explicit(&rec_stack_source, memory_order_relaxed) ? rec_stack_current() : 0;
}

/* Whether to record: recording is on and we are not inside the recorder. */
static inline int rec_want(void)
{
    return atomic_load_explicit(&rec_on, memory_order_relaxed) && !rec_tl.busy;
}

/* The hot entry points, inline into the hooks: busy is raised around the stack source
 * (which may allocate) and the record. */
static inline __attribute__((always_inline)) void rec_alloc_inline(void *p, size_t size,
                                                                  unsigned allocator)
{
    int locked;
    if (!p)
        return;
    rec_tl.busy++;
    uint32_t stack = rec_stack_now();
    if (rec_begin(FT_REC_MAX, &locked)) {
        ft_enc_alloc(&rec.fr, (uintptr_t)p, size, allocator, stack);
        rec_end(FT_ALLOC, locked);
    }
    rec_tl.busy--;
}

static inline __attribute__((always_inline)) void rec_free_inline(void *p)
{
    int locked;
    rec_tl.busy++;
    if (rec_begin(FT_REC_MAX, &locked)) {
        ft_enc_free(&rec.fr, (uintptr_t)p);
        rec_end(FT_FREE, locked);
    }
    rec_tl.busy--;
}

#endif
