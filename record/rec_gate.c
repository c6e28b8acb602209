/* rec_gate.c: the slow side of the biased lock declared in rec_internal.h. Most
 * programs make nearly all their allocations on one thread; that thread writes
 * records with plain loads and stores, and only a second writer pays for a
 * membarrier(). Threads that take turns quickly stay on the mutex: each contended
 * revocation doubles the run of locked records needed to become the owner again. */
#include <linux/membarrier.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "rec_internal.h"

#define BIAS_FIRST 256u
#define BIAS_MAX (1u << 24)

int rec_gate_init(void)
{
    rec.bias_after = BIAS_FIRST;
    rec.can_bias = syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0;
    if (rec.can_bias)
        atomic_store(&rec.gate, (uint64_t)rec_tl.tid + 1);
    return rec.can_bias ? 0 : -1;
}

void rec_gate_revoke(int contended)
{
    if (!atomic_load(&rec.gate))
        return;
    atomic_store(&rec.gate, 0);
    if (syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) != 0)
        rec.can_bias = 0; /* cannot happen once registered; never bias again if it does */
    while (atomic_load_explicit(&rec.owner_busy, memory_order_acquire))
        sched_yield(); /* the owner is inside one record: a few instructions */
    rec.streak = 0;
    if (contended && rec.bias_after < BIAS_MAX)
        rec.bias_after *= 2;
}

/* Append the posted sample and seal if asked. Lock held. */
static void answer(void)
{
    unsigned req = rec.req;
    rec.req = 0;
    if ((req & REC_REQ_SAMPLE) && atomic_load(&rec_on) && !rec.stopping &&
        ft_frame_room(&rec.fr) >= FT_REC_MAX) {
        ft_enc_ints(&rec.fr, FT_SAMPLE, 2, rec.mail_time_us, rec.mail_rss, 0, 0);
        rec.counts[FT_SAMPLE]++;
    }
    if (req & REC_REQ_SEAL)
        rec_seal();
}

void rec_gate_lock(void)
{
    pthread_mutex_lock(&rec.lock);
    uint64_t g = atomic_load(&rec.gate), me = (uint64_t)rec_tl.tid + 1;
    int owner = rec_tl.has_tid && (g & ~REC_REQ_BIT) == me;
    if (owner) {
        if (g & REC_REQ_BIT) {
            answer();
            if (atomic_load(&rec_on))
                atomic_store(&rec.gate, me);
        }
        return;
    }
    if (g)
        rec_gate_revoke(1);
    if (!rec.can_bias || !rec_tl.has_tid || !atomic_load(&rec_on))
        return;
    if (rec.streak_tid != me) {
        rec.streak_tid = (uint32_t)me;
        rec.streak = 0;
    }
    if (++rec.streak >= rec.bias_after) {
        rec.streak = 0;
        atomic_store(&rec.gate, me);
    }
}

void rec_gate_request(unsigned what, uint64_t time_us, uint64_t rss)
{
    if (what & REC_REQ_SAMPLE) {
        rec.mail_time_us = time_us;
        rec.mail_rss = rss;
    }
    uint64_t g = atomic_load(&rec.gate);
    if (g && !(g & REC_REQ_BIT) && !rec.req) {
        rec.req = what;
        atomic_fetch_or(&rec.gate, REC_REQ_BIT);
        return; /* the owner answers on its next record */
    }
    /* No owner, or it has not answered since the last tick (it is idle): do it here. */
    rec.req |= what;
    rec_gate_revoke(0);
    answer();
}
