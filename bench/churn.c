/* churn.c: the allocation-churn benchmark program (bench/run.sh builds it with -O2).
 *
 * 5,000,000 malloc/free pairs of mixed sizes, the same every run (xorshift64, fixed
 * seed). Sizes: 95% small (16-512 B), 5% medium (513 B - 64 KiB), all below glibc's
 * mmap threshold, so every event is a malloc or a free, never an mmap.
 * A window of 1,000 slots keeps blocks alive for a while: each step picks a random slot,
 * frees the block there (so frees come in a different order than the mallocs) and
 * puts a new block in it. Each block gets its first and last byte written, and those
 * bytes are read back into a checksum before the block is freed, so the compiler
 * cannot drop the work. The last 1,000 blocks are freed at the end.
 *
 * Usage: churn [PAIRS]   (default 5000000). Prints "churn: PAIRS pairs, checksum X".
 * Built with -DCHURN_LIB -fPIC -shared, it is libchurn.so: churn_run(PAIRS) from Python
 * (bench/native_churn.py, through ctypes), returning the checksum. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define SLOTS 1000
#define SMALL_MIN 16
#define SMALL_MAX 512
#define MEDIUM_MAX (64 * 1024)

static uint64_t state = 0x9e3779b97f4a7c15ull; /* fixed seed */

static inline uint64_t xorshift64(void)
{
    uint64_t x = state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return state = x;
}

struct slot {
    unsigned char *p;
    size_t n;
};

static struct slot slots[SLOTS];

static uint64_t release(struct slot *s)
{
    if (!s->p)
        return 0;
    uint64_t sum = (uint64_t)s->p[0] * 31u + s->p[s->n - 1];
    free(s->p);
    s->p = NULL;
    return sum;
}

/* The loop; the checksum, or UINT64_MAX when out of memory. */
uint64_t churn_run(long pairs)
{
    uint64_t sum = 0;
    for (long i = 0; i < pairs; i++) {
        uint64_t r = xorshift64();
        struct slot *s = &slots[(r >> 32) % SLOTS];
        size_t n = (r & 0xff) < 243 /* 95% of 256 */
                       ? SMALL_MIN + (r >> 8) % (SMALL_MAX - SMALL_MIN + 1)
                       : SMALL_MAX + 1 + (r >> 8) % (MEDIUM_MAX - SMALL_MAX);
        sum += release(s);
        unsigned char *p = malloc(n);
        if (!p)
            return UINT64_MAX;
        p[0] = (unsigned char)i;
        p[n - 1] = (unsigned char)(i >> 8);
        s->p = p;
        s->n = n;
    }
    for (int k = 0; k < SLOTS; k++)
        sum += release(&slots[k]);
    return sum;
}

#ifndef CHURN_LIB
int main(int argc, char **argv)
{
    long pairs = argc > 1 ? strtol(argv[1], NULL, 10) : 5000000;
    if (pairs <= 0)
        pairs = 5000000;
    uint64_t sum = churn_run(pairs);
    if (sum == UINT64_MAX) {
        fprintf(stderr, "churn: out of memory\n");
        return 1;
    }
    printf("churn: %ld pairs, checksum %llu\n", pairs, (unsigned long long)sum);
    return 0;
}
#endif
