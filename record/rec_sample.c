/* rec_sample.c: --sample BYTES (FORMAT.md, "Sampling"). Allocations are sampled by
 * bytes, as tcmalloc and Go's heap profiler do: each thread counts down a number of
 * bytes drawn from an exponential distribution whose mean is the interval, and the
 * allocation that takes the count to zero or below is recorded (an allocation of s bytes
 * is so with probability 1 - exp(-s / interval), whatever came before it); one of at
 * least the interval is always recorded. A free is recorded only for a sampled block:
 * their addresses are kept in a hash set that changes under a lock, at most twice per
 * sampled block, and that every free asks without one: first a filter of one bit per
 * bucket of addresses (rec_sample_maybe: one load from 2 KiB, no pointer to follow),
 * then, for the few whose bit is set, the set's slots. A removed entry next to an empty
 * slot is emptied, so that tombstones do not lengthen the probes. A replaced table
 * stays mapped, for probes still reading it: tables double, so all of them take at
 * most twice the last. */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "rec_internal.h"

uint64_t rec_sample_bytes;

/* ---- the countdown ---- */

static uint64_t next_random(void)
{
    uint64_t x = rec_tl.sample_rng;
    if (!x) { /* a seed of the thread's own: its key, the clock */
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        x = ((uint64_t)rec_tl.key << 32 ^ (uint64_t)ts.tv_nsec ^ (uint64_t)ts.tv_sec << 20 ^
             (uintptr_t)&rec_tl) | 1;
    }
    x ^= x >> 12, x ^= x << 25, x ^= x >> 27; /* xorshift64* */
    rec_tl.sample_rng = x;
    return x * 0x2545F4914F6CDD1Dull;
}

/* -ln(u) for u in [2^-53, 1], to within 4e-14 of it: u = m * 2^e with m in [sqrt(1/2),
 * sqrt(2)), and ln(m) = 2 atanh(s), s = (m - 1) / (m + 1), |s| < 0.172, by its series
 * to s^15. Here and not libm's log, so that every process the recorder is loaded into
 * is spared loading libm (about 0.1 ms of each start, BENCHMARKS.md). */
static double neg_log(double u)
{
    uint64_t b;
    memcpy(&b, &u, sizeof b);
    int e = (int)(b >> 52) - 1023;
    b = (b & ((1ull << 52) - 1)) | 1023ull << 52;
    double m;
    memcpy(&m, &b, sizeof m);
    if (m > 1.4142135623730951)
        m *= 0.5, e++;
    double s = (m - 1) / (m + 1), z = s * s;
    double t = 1 + z * (1. / 3 + z * (1. / 5 + z * (1. / 7 + z * (1. / 9 + z * (1. / 11 +
               z * (1. / 13 + z * (1. / 15)))))));
    return -(e * 0.6931471805599453 + 2 * s * t);
}

/* Bytes to the next sample point: exponential, mean rec_sample_bytes, at least 1. */
static int64_t draw(void)
{
    double u = (double)((next_random() >> 11) + 1) * 0x1.0p-53; /* (0, 1] */
    double x = neg_log(u) * (double)rec_sample_bytes;
    return x < 1 ? 1 : x > 0x1p62 ? (int64_t)1 << 62 : (int64_t)x;
}

int rec_sample_hit_slow(size_t size)
{
    if (rec_tl.sample_probe) { /* rec_stack.c, small_stays: a probe's countdown */
        rec_tl.sample_probe = 2;
        return 0;
    }
    if (size >= rec_sample_bytes)
        return 1; /* always recorded, and not counted down */
    if (!rec_tl.sample_rng) { /* the thread's first point: size is counted from 0 */
        rec_tl.sample_left += draw();
        if (rec_tl.sample_left > 0)
            return 0;
    }
    while (rec_tl.sample_left <= 0) /* the points this allocation holds: one record */
        rec_tl.sample_left += draw();
    return 1;
}

/* ---- the sampled blocks ---- */

#define TOMB 1u /* a removed entry; 0 is an empty slot (no block lives at 0 or 1) */

struct set {
    size_t mask, used, live; /* used: live and removed */
    _Atomic uint64_t slot[];
};

static _Atomic(struct set *) cur;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
_Atomic uint64_t rec_sample_filter[(1u << REC_SAMPLE_BUCKET_BITS) / 64];
static uint32_t in_bucket[1u << REC_SAMPLE_BUCKET_BITS]; /* blocks live; under the lock */

static size_t home(uint64_t a, size_t mask) { return (size_t)((a >> 4) * 0x9E3779B97F4A7C15ull >> 24) & mask; }

static struct set *new_set(size_t cap)
{
    void *m = rec_real.mmap(NULL, sizeof(struct set) + cap * sizeof(uint64_t),
                            PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        return NULL;
    struct set *s = m;
    s->mask = cap - 1;
    return s;
}

/* A block of address a comes (+1) or goes (-1): its bucket's bit. Under the lock. */
static void count(uint64_t a, int d)
{
    size_t b = rec_sample_bucket(a);
    if ((in_bucket[b] += d) > (d > 0)) /* the bit is already as it should be */
        return;
    uint64_t w = atomic_load_explicit(&rec_sample_filter[b >> 6], memory_order_relaxed);
    w = d > 0 ? w | (uint64_t)1 << (b & 63) : w & ~((uint64_t)1 << (b & 63));
    atomic_store_explicit(&rec_sample_filter[b >> 6], w, memory_order_release);
}

static void put(struct set *s, uint64_t a)
{
    size_t i = home(a, s->mask);
    uint64_t v;
    while ((v = atomic_load_explicit(&s->slot[i], memory_order_relaxed)) > TOMB)
        i = (i + 1) & s->mask;
    atomic_store_explicit(&s->slot[i], a, memory_order_release);
    s->used += v == 0;
    s->live++;
}

int rec_sample_keep(uint64_t a)
{
    int ok = 1;
    pthread_mutex_lock(&lock);
    struct set *s = atomic_load_explicit(&cur, memory_order_relaxed);
    if (!s || (s->used + 1) * 2 > s->mask + 1) { /* grow, or just sweep the tombstones */
        size_t cap = 4096;
        while (s && cap < (s->live + 1) * 4)
            cap *= 2;
        struct set *n = new_set(cap);
        if (!n) {
            ok = 0;
        } else {
            for (size_t i = 0; s && i <= s->mask; i++) {
                uint64_t v = atomic_load_explicit(&s->slot[i], memory_order_relaxed);
                if (v > TOMB)
                    put(n, v);
            }
            atomic_store_explicit(&cur, n, memory_order_release);
            s = n;
        }
    }
    if (ok) {
        put(s, a);
        count(a, 1);
    }
    pthread_mutex_unlock(&lock);
    return ok;
}

static _Atomic uint64_t *find(struct set *s, uint64_t a)
{
    for (size_t i = home(a, s->mask);; i = (i + 1) & s->mask) {
        uint64_t v = atomic_load_explicit(&s->slot[i], memory_order_acquire);
        if (v == a)
            return &s->slot[i];
        if (!v)
            return NULL;
    }
}

static uint64_t at_(struct set *s, size_t i)
{
    return atomic_load_explicit(&s->slot[i & s->mask], memory_order_relaxed);
}

/* Remove the entry at slot i (under the lock): a tombstone, or, if the next slot is
 * empty, an empty slot, and so are the tombstones just before it. */
static void drop(struct set *s, size_t i)
{
    uint64_t now = at_(s, i + 1) ? TOMB : 0;
    atomic_store_explicit(&s->slot[i], now, memory_order_relaxed);
    s->live--;
    s->used -= !now;
    for (size_t j = i - 1; !now && at_(s, j) == TOMB; j--) {
        atomic_store_explicit(&s->slot[j & s->mask], 0, memory_order_relaxed);
        s->used--;
    }
}

int rec_sample_forget(uint64_t a)
{
    struct set *s = atomic_load_explicit(&cur, memory_order_acquire);
    if (!s || a <= TOMB || !find(s, a)) /* not sampled, no lock */
        return 0;
    pthread_mutex_lock(&lock); /* found, maybe in a replaced table: again, in the current */
    s = atomic_load_explicit(&cur, memory_order_relaxed);
    _Atomic uint64_t *at = find(s, a);
    if (at) {
        drop(s, (size_t)(at - s->slot));
        count(a, -1);
    }
    pthread_mutex_unlock(&lock);
    return at != NULL;
}

static void empty(void)
{
    atomic_store(&cur, NULL); /* a replaced table stays mapped for probes still in it */
    memset(in_bucket, 0, sizeof in_bucket);
    for (size_t w = 0; w < sizeof rec_sample_filter / sizeof *rec_sample_filter; w++)
        atomic_store_explicit(&rec_sample_filter[w], 0, memory_order_relaxed);
}

void rec_sample_reset(void)
{
    pthread_mutex_lock(&lock);
    empty();
    pthread_mutex_unlock(&lock);
}

void rec_sample_child(void)
{
    lock = (pthread_mutex_t)PTHREAD_MUTEX_INITIALIZER;
    empty(); /* the child's trace knows none of the parent's blocks */
    rec_tl.sample_left = 0, rec_tl.sample_rng = 0; /* a countdown of its own */
}
