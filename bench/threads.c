/* threads.c: the many-threads benchmark program (bench/threads.sh builds it with -O2).
 *
 * T threads (argv[1], default 8) each make PAIRS malloc/free pairs (argv[2], default
 * 1,000,000) of mixed sizes (16-512 B, a per-thread xorshift64 sequence with a fixed
 * seed) through a window of 16 live blocks of their own: what a pool of workers
 * parsing or building small objects does. The recorder's cost per event should not
 * grow with T (one log per thread, record/rec_lane.c). Prints
 * "threads: T x PAIRS pairs, checksum X". */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define WINDOW 16

static long pairs = 1000000;

static void *worker(void *arg)
{
    uint64_t x = 0x9e3779b97f4a7c15ull ^ ((uintptr_t)arg * 0x2545f4914f6cdd1dull), sum = 0;
    unsigned char *slot[WINDOW] = {0};
    size_t size[WINDOW] = {0};
    for (long i = 0; i < pairs; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        unsigned k = (unsigned)(x >> 40) % WINDOW;
        if (slot[k]) {
            sum += slot[k][0] + slot[k][size[k] - 1];
            free(slot[k]);
        }
        size[k] = 16 + (x & 0xffff) % 497;
        if (!(slot[k] = malloc(size[k])))
            abort();
        slot[k][0] = (unsigned char)i;
        slot[k][size[k] - 1] = (unsigned char)(i >> 8);
    }
    for (unsigned k = 0; k < WINDOW; k++)
        free(slot[k]);
    return (void *)(uintptr_t)sum;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 8;
    if (argc > 2)
        pairs = atol(argv[2]);
    if (n < 1 || n > 256 || pairs < 1) {
        fprintf(stderr, "usage: threads [THREADS [PAIRS]]\n");
        return 2;
    }
    pthread_t th[256];
    uint64_t sum = 0;
    for (int t = 0; t < n; t++)
        if (pthread_create(&th[t], NULL, worker, (void *)(uintptr_t)t))
            abort();
    for (int t = 0; t < n; t++) {
        void *r;
        pthread_join(th[t], &r);
        sum += (uintptr_t)r;
    }
    printf("threads: %d x %ld pairs, checksum %llu\n", n, pairs, (unsigned long long)sum);
    return 0;
}
