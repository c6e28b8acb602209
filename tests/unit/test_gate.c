/* test_gate.c: the biased lock in front of the log (record/rec_gate.c), on real threads
 * stepped one move at a time. A thread that lost the bias between its first look at
 * the gate and its announce (preempted there) announces late, while another thread
 * owns the bias and is inside a record: the late thread must leave the owner's flag
 * alone, so that a third thread's revocation still waits for the owner to finish. With
 * one flag for all, the late thread cleared it, the revoker went on beside the owner,
 * and their records tore the log (8 threads on 2 CPUs: a crash in about one run of
 * 40). */
#include <pthread.h>
#include <time.h>

#include "../../record/rec_gate.c"
#include "check.h"

__thread struct rec_tls rec_tl;
struct rec_log rec = {.lock = PTHREAD_MUTEX_INITIALIZER, .gate = REC_GATE_NONE};
atomic_int rec_on = 1, rec_watching;

/* Steps handed from the main thread to one worker at a time. */
enum { IDLE, OWN, ENTER, ANNOUNCE, LEAVE, REVOKE, QUIT };
struct worker {
    pthread_t th;
    uint32_t key;
    _Atomic int step, done, result;
};

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    rec_tl.key = w->key;
    for (;;) {
        int s;
        while ((s = atomic_load(&w->step)) == IDLE)
            sched_yield();
        int r = 0;
        switch (s) {
        case OWN: /* a run of locked records long enough to take the bias */
            for (uint32_t i = 0, n = rec.bias_after; i < n; i++) {
                rec_gate_lock();
                rec_gate_streak();
                pthread_mutex_unlock(&rec.lock);
            }
            r = atomic_load(&rec.gate) == w->key;
            break;
        case ENTER: /* the fast path, up to inside a record */
            r = rec_fast_enter();
            break;
        case ANNOUNCE: /* the rest of a fast path that saw the gate open, long ago */
            r = rec_fast_announce(w->key);
            break;
        case LEAVE:
            rec_fast_leave();
            r = 1;
            break;
        case REVOKE: /* another thread wanting the log */
            rec_gate_lock();
            pthread_mutex_unlock(&rec.lock);
            r = 1;
            break;
        case QUIT:
            return NULL;
        }
        atomic_store(&w->result, r);
        atomic_store(&w->step, IDLE);
        atomic_store(&w->done, 1);
    }
}

/* Wait up to ms for w's step to finish: 1 with its result in *r, else 0. */
static int wait_done(struct worker *w, int ms, int *r)
{
    struct timespec t = {0, 1000000};
    for (int i = 0; i < ms; i++) {
        if (atomic_load(&w->done)) {
            *r = atomic_load(&w->result);
            return 1;
        }
        nanosleep(&t, NULL);
    }
    return 0;
}

/* Give w step s and wait for it as wait_done does. */
static int step(struct worker *w, int s, int ms, int *r)
{
    atomic_store(&w->done, 0);
    atomic_store(&w->step, s);
    return wait_done(w, ms, r);
}

/* Thread 1 took the bias, then thread 2 from it; thread 1 saw the gate open for it in
 * between, and was preempted before announcing. */
static void late_announce(struct worker *w)
{
    int r = 0;
    CHECK(step(&w[1], ENTER, 5000, &r) && r, "thread 2, the owner, did not get inside");
    CHECK(step(&w[0], ANNOUNCE, 5000, &r) && r == 0, "the late thread 1 got inside");
    /* Thread 3 revokes: it must wait while thread 2 is inside. */
    CHECK(!step(&w[2], REVOKE, 200, &r), "a revocation went on while the owner was inside");
    CHECK(atomic_load(&rec.gate) == REC_GATE_NONE, "the gate is still open");
    CHECK(step(&w[1], LEAVE, 5000, &r) && r, "thread 2 did not leave");
    CHECK(wait_done(&w[2], 5000, &r) && r, "the revocation did not end after the owner left");
    /* And a late announce against a closed gate is refused. */
    CHECK(step(&w[1], ANNOUNCE, 5000, &r) && r == 0, "an announce passed a closed gate");
}

static void late_announce_keeps_the_owner_inside(void)
{
    CHECK(rec_gate_init() == 0, "membarrier cannot be registered here");
    rec.pid = getpid(); /* the log's process: the bias is never a vfork child's */
    struct worker w[3] = {{.key = 1}, {.key = 2}, {.key = 3}};
    for (int i = 0; i < 3; i++)
        pthread_create(&w[i].th, NULL, worker_main, &w[i]);
    int r = 0;
    if (!(step(&w[0], OWN, 5000, &r) && r))
        CHECK(0, "thread 1 did not get the bias");
    else if (!(step(&w[1], OWN, 5000, &r) && r))
        CHECK(0, "thread 2 did not take the bias from 1");
    else /* both have a cell: their announces may use it */
        late_announce(w);
    for (int i = 0; i < 3; i++) {
        step(&w[i], QUIT, 0, &r);
        pthread_join(w[i].th, NULL);
    }
}

int main(int argc, char **argv)
{
    static const struct check_case cases[] = {
        {"late-announce-keeps-the-owner-inside", late_announce_keeps_the_owner_inside},
    };
    return check_main(cases, sizeof cases / sizeof cases[0], argc, argv, "test_gate: ");
}
