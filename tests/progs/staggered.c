/* staggered.c: 8 threads started one after another, each making 200,000 malloc/free
 * pairs through a window of 16 blocks from its first instruction on, so that later
 * threads make their first record while earlier ones keep the log full (the sink
 * behind: the writer waits for it with the lock dropped). Every thread must get an
 * index of its own, in order. Mixed sizes from a per-thread xorshift. Prints
 *   {"threads": 8, "allocs": A, "frees": F, "bytes": B}
 * (the program's own blocks, each freed once: by the malloc that takes its slot, or at
 * the thread's end; free(NULL) of a slot still empty is no event). No stdio
 * before the answer, so besides these only pthread_create's DTVs are allocated. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define NTHREADS 8
#define PAIRS 200000
#define WINDOW 16

static uint64_t bytes[NTHREADS];

static void *worker(void *arg)
{
    unsigned t = (unsigned)(uintptr_t)arg;
    uint64_t x = 0x9e3779b97f4a7c15ull ^ (t + 1) * 0x2545f4914f6cdd1dull, sum = 0;
    void *slot[WINDOW] = {0};
    for (long i = 0; i < PAIRS; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        unsigned k = (unsigned)(x >> 40) % WINDOW;
        free(slot[k]);
        size_t n = 16 + (x & 0xffff) % 497;
        if (!(slot[k] = malloc(n)))
            abort();
        sum += n;
    }
    for (unsigned k = 0; k < WINDOW; k++)
        free(slot[k]);
    bytes[t] = sum;
    return NULL;
}

int main(void)
{
    pthread_t th[NTHREADS];
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 256 << 10);
    for (unsigned t = 0; t < NTHREADS; t++)
        if (pthread_create(&th[t], &attr, worker, (void *)(uintptr_t)t))
            abort();
    uint64_t total = 0;
    for (unsigned t = 0; t < NTHREADS; t++) {
        pthread_join(th[t], NULL);
        total += bytes[t];
    }
    char out[200];
    int len = snprintf(out, sizeof out, "{\"threads\": %d, \"allocs\": %d, \"frees\": %d, "
                       "\"bytes\": %llu}\n", NTHREADS, NTHREADS * PAIRS, NTHREADS * PAIRS,
                       (unsigned long long)total);
    write(1, out, (size_t)len);
    return 0;
}
