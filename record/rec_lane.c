/* rec_lane.c: a log per thread (rec_internal.h, "rec_lane.c"). The order of the trace
 * stays a total order the sink can rebuild: every item in a lane, and every record of
 * a multi log, follows a TIME word read after everything the event saw (rdtscp waits
 * for earlier loads), so an event another thread's event depends on (the free that
 * handed an address to its malloc, the malloc whose block it frees) has an earlier
 * time. The sink merges by time only what is older than a clock reading it took before
 * looking (sink.c, "merge"): a word published after that look can only be older than
 * events that do not depend on it. */
#include <errno.h>
#include <linux/futex.h>
#include <linux/membarrier.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "rec_internal.h"

struct rec_lanes *rec_lanes;
int rec_lanes_fd = -1;

/* Wait until no owner is inside its lane (one that died inside never leaves). */
static void wait_outside(void)
{
    uint32_t n = atomic_load(&rec_lanes->n);
    for (uint32_t i = 0; i < n; i++)
        while (atomic_load_explicit(&rec_lanes->lane[i].inside, memory_order_acquire) &&
               !rec_tid_gone(rec_lanes->lane[i].tid))
            sched_yield(); /* its owner is between two instructions of one item */
}

int rec_lanes_map(void)
{
    if (rec_lanes)
        return 0;
    int fd = memfd_create("filrec-lanes", MFD_CLOEXEC);
    if (fd < 0)
        return -1;
    void *m = MAP_FAILED;
    if (!ftruncate(fd, (off_t)sizeof *rec_lanes))
        m = rec_real.mmap(NULL, sizeof *rec_lanes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (m == MAP_FAILED) {
        close(fd);
        return -1;
    }
    rec_lanes = m;
    rec_lanes_fd = fd;
    return 0;
}

void rec_lanes_child(void)
{
    if (rec_lanes)
        rec_real.munmap(rec_lanes, sizeof *rec_lanes);
    if (rec_lanes_fd >= 0)
        close(rec_lanes_fd);
    rec_lanes = NULL;
    rec_lanes_fd = -1;
    rec_tl.lane = rec_tl.lane_log = 0;
}

void rec_lanes_open(void)
{
    wait_outside(); /* a thread still inside from a log that failed */
    uint32_t n = atomic_load(&rec_lanes->n);
    rec.multi_f = rec.f;
    rec.multi_off = (uint64_t)(rec.at - rec.buf[rec.f % REC_NBUF]);
    for (uint32_t i = 0; i < n; i++) { /* closed: no owner is inside */
        struct rec_lane *l = &rec_lanes->lane[i];
        uint64_t h = atomic_load(&l->head);
        atomic_store(&rec.lane_tail[i], h);
        l->tail_seen = h;
        l->ctx = UINT64_MAX;
        l->thread = UINT32_MAX;
    }
    atomic_store_explicit(&rec.multi, 1, memory_order_release);
    atomic_store_explicit(&rec.lanes_open, 1, memory_order_release);
}

void rec_lanes_close(void)
{
    if (!atomic_load(&rec.lanes_open))
        return;
    atomic_store(&rec.lanes_open, 0);
    syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0);
    wait_outside();
}

void rec_lanes_drained(void)
{
    if (!rec_lanes || !atomic_load(&rec.multi))
        return;
    uint32_t n = atomic_load(&rec_lanes->n);
    for (int tries = 0; tries < 100 && rec_link_alive(); tries++) {
        uint32_t seq = atomic_load(&rec.lane_seq), i = 0;
        while (i < n && atomic_load(&rec.lane_tail[i]) == atomic_load(&rec_lanes->lane[i].head))
            i++;
        if (i == n)
            return;
        rec_link_wake();
        struct timespec t = {0, 10000000};
        rec_futex(&rec.lane_seq, FUTEX_WAIT, seq, &t);
    }
}


/* Give the calling thread a lane: a free one, a dead thread's, or a new one. Lock held. */
static void take_lane(void)
{
    uint32_t n = atomic_load(&rec_lanes->n), i = 0;
    while (i < n && rec_lanes->lane[i].key && !rec_tid_gone(rec_lanes->lane[i].tid))
        i++;
    if (i == REC_NLANES)
        return;
    struct rec_lane *l = &rec_lanes->lane[i];
    if (i == n) { /* a new lane starts where the sink's tail does: at 0 */
        l->ctx = UINT64_MAX;
        l->thread = UINT32_MAX;
    }
    atomic_store(&l->inside, 0); /* a dead owner's */
    l->key = rec_tl.key;
    l->tid = (pid_t)syscall(SYS_gettid);
    rec_tl.lane = i + 1;
    if (i == n)
        atomic_store_explicit(&rec_lanes->n, n + 1, memory_order_release);
}

/* The slow way in: an index in this log, and a lane. 1 if the thread has a lane. */
static int join(void)
{
    int ok;
    int e = errno;
    rec_gate_lock(); /* a start since this thread saw multi may have a bias owner */
    if (!rec_tl_in_log())
        rec_thread_assign(0, 0);
    if (!rec_tl.lane && rec_tl.lane_log != rec_logno && atomic_load(&rec.lanes_open))
        take_lane();
    rec_tl.lane_log = rec_logno;
    ok = rec_tl.lane && rec_tl_in_log();
    pthread_mutex_unlock(&rec.lock);
    errno = e;
    return ok;
}

/* The lane is full: wake the sink and wait for it (not inside). */
static void wait_for_sink(uint32_t seq)
{
    rec_link_wake();
    struct timespec t = {0, 20000000};
    rec_futex(&rec.lane_seq, FUTEX_WAIT, seq, &t);
    if (!rec_link_alive()) {
        pthread_mutex_lock(&rec.lock);
        rec_fail("the filrec process went away", 0);
        pthread_mutex_unlock(&rec.lock);
    }
}

int rec_lane_put(uint64_t ctx, uint64_t w)
{
    if (!rec_tl.lane || !rec_tl_in_log()) {
        if (rec_tl.lane_log == __atomic_load_n(&rec_logno, __ATOMIC_RELAXED) && !rec_tl.lane)
            return 0; /* none to be had in this log */
        if (!join())
            return 0;
    }
    uint32_t i = rec_tl.lane - 1;
    struct rec_lane *l = &rec_lanes->lane[i];
    const uint64_t mask = REC_LANE_WORDS - 1;
    for (;;) {
        atomic_store_explicit(&l->inside, 1, memory_order_relaxed);
        atomic_signal_fence(memory_order_seq_cst); /* membarrier() supplies the CPU fence */
        if (!atomic_load_explicit(&rec.lanes_open, memory_order_relaxed) || !rec_tl_in_log() ||
            !atomic_load_explicit(&rec_on, memory_order_relaxed) ||
            atomic_load_explicit(&rec.sink_failed, memory_order_relaxed)) {
            atomic_store_explicit(&l->inside, 0, memory_order_release);
            return 0;
        }
        uint64_t h = atomic_load_explicit(&l->head, memory_order_relaxed);
        int new_thread = l->thread != rec_tl.idx, new_ctx = ctx != REC_CTX_ANY && ctx != l->ctx;
        uint64_t need = 2 + (uint64_t)new_thread + (uint64_t)new_ctx;
        if (h + need - l->tail_seen > REC_LANE_WORDS) {
            uint32_t seq = atomic_load(&rec.lane_seq);
            l->tail_seen = atomic_load_explicit(&rec.lane_tail[i], memory_order_acquire);
            if (h + need - l->tail_seen > REC_LANE_WORDS) {
                atomic_store_explicit(&l->inside, 0, memory_order_release);
                wait_for_sink(seq);
                continue;
            }
        }
        uint64_t h0 = h;
        l->words[h++ & mask] = rec_ir_time(rec_ts(rec.ts_tsc));
        if (new_thread)
            l->words[h++ & mask] = rec_ir_thread(l->thread = rec_tl.idx);
        if (new_ctx)
            l->words[h++ & mask] = rec_ir_ctx_word(l->ctx = ctx);
        l->words[h++ & mask] = w;
        atomic_store_explicit(&l->head, h, memory_order_release);
        atomic_store_explicit(&l->inside, 0, memory_order_release);
        if ((h0 ^ h) & (REC_LANE_WORDS / 4)) /* a quarter more: the sink should look */
            rec_link_wake();
        return 1;
    }
}
