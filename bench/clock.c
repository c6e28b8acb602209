/* clock.c: what a clock read costs next to a malloc/free pair (BENCHMARKS.md, threads
 * notes): 20,000,000 pairs of mixed sizes (16-512 B) through a window of 16 blocks,
 * with no clock read (0), one rdtsc (1), one rdtscp (2) or two rdtscp (3) per pair.
 *   cc -O2 -o clock bench/clock.c && for m in 0 1 2 3; do ./clock $m; done
 * Prints "mode M: N ns/pair". x86-64 only. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static inline uint64_t tsc(void)
{
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return (uint64_t)hi << 32 | lo;
}

static inline uint64_t tscp(void)
{
    uint32_t lo, hi, aux;
    __asm__ volatile("rdtscp" : "=a"(lo), "=d"(hi), "=c"(aux));
    return (uint64_t)hi << 32 | lo;
}

static double seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    int mode = argc > 1 ? atoi(argv[1]) : 0;
    const long n = 20000000;
    void *slot[16] = {0};
    uint64_t x = 88172645463325252ull, sum = 0;
    double t0 = seconds();
    for (long i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        unsigned k = (unsigned)(x >> 40) % 16;
        free(slot[k]);
        if (!(slot[k] = malloc(16 + (x & 0xffff) % 497)))
            abort();
        if (mode == 1)
            sum += tsc();
        else if (mode >= 2)
            sum += tscp() + (mode == 3 ? tscp() : 0);
    }
    double t = seconds() - t0;
    printf("mode %d: %.2f ns/pair (%llu)\n", mode, t / (double)n * 1e9,
           (unsigned long long)(sum & 1));
    return 0;
}
