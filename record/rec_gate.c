/* rec_gate.c: the slow side of the biased lock declared in rec_internal.h. Most
 * programs make nearly all their allocations on one thread; that thread writes
 * records with plain loads and stores, and only a second writer pays for a
 * membarrier(). Threads that take turns quickly stay on the mutex: each contended
 * revocation doubles the run of locked records needed to become the owner again, unless
 * the last one was long ago (threads that take turns slowly, as a GIL makes them, keep
 * the bias moving with them). */
#include <errno.h>
#include <linux/membarrier.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "rec_internal.h"

#define BIAS_FIRST 256u
#define BIAS_MAX (1u << 24)
#define BIAS_CALM_NS 1000000ull /* a revocation this long after the last starts over */
#define NCELLS 64                /* threads that can own the bias; more stay on the lock */

/* The threads' flags, handed out under rec.lock and kept while their thread lives (a
 * late announce may still touch one long after the bias moved on); owner is gate's. */
static struct rec_cell cells[NCELLS], *owner;

int rec_tid_gone(pid_t tid)
{
    int e = errno, gone = tid > 0 && syscall(SYS_tgkill, getpid(), tid, 0) < 0 && errno == ESRCH;
    errno = e;
    return gone;
}

int rec_gate_init(void)
{
    rec.bias_after = BIAS_FIRST;
    rec.can_bias = syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0;
    return rec.can_bias ? 0 : -1;
}

/* The calling thread's cell: the one it has, else a free one or a dead thread's (in a
 * fork child, every other thread's is). NULL if all are taken. The dead are looked for
 * at most once a millisecond: with NCELLS threads alive, a system call per cell for
 * every run of records would cost more than the bias saves. Lock held. */
static struct rec_cell *take_cell(void)
{
    static uint64_t looked_ns;
    if (getpid() != rec.pid)
        return NULL; /* a vfork child, on its parent thread's TLS */
    pid_t tid = (pid_t)syscall(SYS_gettid);
    struct rec_cell *c = rec_tl.cell;
    if (c && c->key == rec_tl.key && c->tid == tid)
        return c;
    uint64_t now = rec_now_ns();
    int passes = now - looked_ns > 1000000 ? 2 : 1;
    if (passes == 2)
        looked_ns = now;
    for (int pass = 0; pass < passes; pass++)
        for (c = cells; c < cells + NCELLS; c++)
            if (!c->key || (pass && (c->tid == tid || rec_tid_gone(c->tid)))) {
                atomic_store(&c->inside, 0); /* a dead owner's */
                c->key = rec_tl.key;
                c->tid = tid;
                return rec_tl.cell = c;
            }
    return NULL;
}

void rec_gate_revoke(int contended)
{
    if (atomic_load(&rec.gate) == REC_GATE_NONE)
        return;
    atomic_store(&rec.gate, REC_GATE_NONE);
    if (syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) != 0)
        rec.can_bias = 0; /* cannot happen once registered; never bias again if it does */
    while (owner && atomic_load_explicit(&owner->inside, memory_order_acquire) &&
           !rec_tid_gone(owner->tid))
        sched_yield(); /* the owner is inside one record: a few instructions */
    rec.streak = 0;
    if (contended) {
        uint64_t now = rec_now_ns();
        if (now - rec.contended_ns > BIAS_CALM_NS)
            rec.bias_after = BIAS_FIRST;
        else if (rec.bias_after < BIAS_MAX)
            rec.bias_after *= 2;
        rec.contended_ns = now;
    }
}

void rec_gate_lock(void)
{
    pthread_mutex_lock(&rec.lock);
    uint64_t g = atomic_load(&rec.gate), me = rec_tl.key;
    if (g != REC_GATE_NONE && g != me)
        rec_gate_revoke(1);
}

void rec_gate_streak(void)
{
    uint32_t me = rec_tl.key;
    if (!rec.can_bias || !atomic_load(&rec_on) || rec_watch_on() || atomic_load(&rec.multi))
        return; /* a watch counts every event on the locked path */
    if (rec.streak_key != me) {
        rec.streak_key = me;
        rec.streak = 0;
    }
    if (++rec.streak >= rec.bias_after) {
        rec.streak = 0;
        struct rec_cell *c = take_cell();
        if (c) {
            owner = c;
            atomic_store(&rec.gate, (uint64_t)me);
        }
    }
}
