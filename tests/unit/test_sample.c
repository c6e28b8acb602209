/* test_sample.c: the recorder's set of sampled blocks (record/rec_sample.c) against a
 * plain model: after every keep and forget, each live block must pass the lock-free
 * first look (rec_sample_maybe: a miss there means a sampled block's free would go
 * unrecorded), forget must find exactly the live blocks, and removals must not leave
 * the table full of tombstones. Addresses are crowded on purpose, so that first probes
 * collide and probe chains form and break. */
#include <math.h>
#include <sys/mman.h>

#include "../../record/rec_sample.c"
#include "check.h"

__thread struct rec_tls rec_tl;
struct rec_real rec_real;

static uint64_t rng = 88172645463325252ull;
static uint64_t next(void)
{
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return rng;
}

#define SPAN 6000 /* candidate addresses: 16 bytes apart */
static unsigned char live[SPAN];

static uint64_t addrs[SPAN];
static uint64_t addr(size_t i) { return addrs[i]; }

/* Random 16-byte-aligned addresses in 64 MiB, distinct: consecutive ones would spread
 * evenly over the buckets and never share one. */
static void pick_addresses(void)
{
    for (size_t i = 0, j; i < SPAN; i++)
        do {
            addrs[i] = 0x7f0000000000ull + 16 * (next() % (1u << 22));
            for (j = 0; j < i && addrs[j] != addrs[i]; j++)
                ;
        } while (j < i);
}

static void churn(size_t ops, unsigned keep_percent)
{
    for (size_t n = 0; n < ops; n++) {
        size_t i = next() % SPAN;
        if (!live[i] && next() % 100 < keep_percent) {
            CHECK(rec_sample_keep(addr(i)), "keep %zu failed", i);
            live[i] = 1;
        } else if (live[i]) {
            CHECK(rec_sample_forget(addr(i)) == 1, "forget of live %zu not found", i);
            live[i] = 0;
        } else {
            CHECK(rec_sample_forget(addr(i)) == 0, "forget of dead %zu found", i);
        }
        if (n % 97 == 0)
            for (size_t j = 0; j < SPAN; j++)
                if (live[j])
                    CHECK(rec_sample_maybe(addr(j)), "live %zu fails the first look", j);
    }
}

static void set_against_model(void)
{
    rec_sample_child(); /* empty */
    pick_addresses();
    memset(live, 0, sizeof live);
    churn(200000, 50);  /* about half of SPAN live: the table grows */
    churn(200000, 5);   /* most removed: the bits and slots must empty again */
    size_t nlive = 0, misses = 0;
    for (size_t j = 0; j < SPAN; j++)
        nlive += live[j];
    struct set *s = atomic_load(&cur);
    CHECK(s && s->live == nlive, "set says %zu live, model %zu", s ? s->live : 0, nlive);
    CHECK(s && s->used <= 4 * nlive + 64, "%zu slots used for %zu live: tombstones pile up",
          s ? s->used : 0, nlive);
    for (size_t j = 0; j < SPAN; j++) /* a dead address mostly fails the first look */
        misses += !live[j] && rec_sample_maybe(addr(j));
    CHECK(misses < SPAN / 4, "%zu of %d dead addresses pass the first look", misses, SPAN);
    for (size_t j = 0; j < SPAN; j++)
        if (live[j])
            CHECK(rec_sample_forget(addr(j)) == 1, "final forget of %zu", j);
    CHECK(s->live == 0 && s->used == 0, "emptied: %zu live, %zu used", s->live, s->used);
    for (size_t w = 0; w < sizeof rec_sample_filter / sizeof *rec_sample_filter; w++)
        CHECK(!atomic_load(&rec_sample_filter[w]), "filter word %zu still set when empty", w);
}

static void countdown_rate(void)
{
    /* Sizes of 100 bytes with a 10,000-byte mean: each is sampled with probability
     * 1 - exp(-0.01); over 1,000,000 draws the count's 5-sigma band is about +-500. */
    rec_sample_bytes = 10000;
    rec_tl.sample_left = 0, rec_tl.sample_rng = 12345;
    long hits = 0;
    for (int i = 0; i < 1000000; i++)
        hits += rec_sample_hit(100);
    double want = 1e6 * (1 - exp(-0.01));
    CHECK(fabs(hits - want) < 500, "%ld samples of 1e6, expected %.0f", hits, want);
    CHECK(rec_sample_hit(10000) && rec_sample_hit(1 << 20), "blocks of the interval or more");
    rec_sample_bytes = 0;
}

/* The countdown's own -ln(u) against libm's, over the whole range draw() gives it:
 * both ends, powers of two and their neighbours (where m wraps), and random u. */
static void neg_log_matches_libm(void)
{
    double worst = 0, at = 1;
    for (int i = 0; i < 2000000; i++) {
        double u;
        if (i < 54)
            u = ldexp(1, -i);
        else if (i < 108)
            u = nextafter(ldexp(1, -(i - 54)), 0);
        else if (i < 162)
            u = ldexp(1.4142135623730951, -(i - 107));
        else
            u = (double)((next() >> 11) + 1) * 0x1.0p-53;
        if (u < 0x1.0p-53 || u > 1)
            continue;
        double d = fabs(neg_log(u) + log(u)) / (1 - log(u)); /* relative, and near 0 absolute */
        if (d > worst)
            worst = d, at = u;
    }
    CHECK(worst < 1e-13, "neg_log(%a) = %.17g, libm %.17g", at, neg_log(at), -log(at));
}

int main(int argc, char **argv)
{
    rec_real.mmap = mmap;
    static const struct check_case cases[] = {
        {"set_against_model", set_against_model},
        {"countdown_rate", countdown_rate},
        {"neg_log_matches_libm", neg_log_matches_libm},
    };
    return check_main(cases, sizeof cases / sizeof *cases, argc, argv, "test_sample: ");
}
