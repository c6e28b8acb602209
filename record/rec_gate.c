/* rec_gate.c: the slow side of the biased lock declared in rec_internal.h. Most
 * programs make nearly all their allocations on one thread; that thread writes
 * records with plain loads and stores, and only a second writer pays for a
 * membarrier(). Threads that take turns quickly stay on the mutex: each contended
 * revocation doubles the run of locked records needed to become the owner again, unless
 * the last one was long ago (threads that take turns slowly, as a GIL makes them, keep
 * the bias moving with them). */
#include <linux/membarrier.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "rec_internal.h"

#define BIAS_FIRST 256u
#define BIAS_MAX (1u << 24)
#define BIAS_CALM_NS 1000000ull /* a revocation this long after the last starts over */

int rec_gate_init(void)
{
    rec.bias_after = BIAS_FIRST;
    rec.can_bias = syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0;
    if (rec.can_bias)
        atomic_store(&rec.gate, (uint64_t)rec_tl.key);
    return rec.can_bias ? 0 : -1;
}

void rec_gate_revoke(int contended)
{
    if (atomic_load(&rec.gate) == REC_GATE_NONE)
        return;
    atomic_store(&rec.gate, REC_GATE_NONE);
    if (syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) != 0)
        rec.can_bias = 0; /* cannot happen once registered; never bias again if it does */
    while (atomic_load_explicit(&rec.owner_busy, memory_order_acquire))
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
        atomic_store(&rec.gate, (uint64_t)me);
    }
}
