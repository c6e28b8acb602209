/* libspin.so: C work for Python threads to run at once (ctypes lets go of the GIL
 * around a call), for the in-process tests of one log per thread (record/rec_lane.c).
 * spin_run(pairs, keep): malloc and touch keep bytes, wait until all spin_init(n)
 * threads hold theirs, make pairs malloc/free pairs (16-512 B, a window of 16 blocks),
 * wait for all again, free the keep. The peak is n * keep plus at most the windows;
 * spin_bytes(pairs) is what one call allocates in all, keep aside. */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static pthread_barrier_t meet;

int spin_init(unsigned n) { return pthread_barrier_init(&meet, NULL, n); }

static size_t size_at(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return 16 + (size_t)(*x % 497);
}

unsigned long long spin_bytes(long pairs)
{
    uint64_t x = 0x9e3779b97f4a7c15ull;
    unsigned long long sum = 0;
    for (long i = 0; i < pairs; i++)
        sum += size_at(&x);
    return sum;
}

int spin_run(long pairs, size_t keep)
{
    uint64_t x = 0x9e3779b97f4a7c15ull;
    char *k = malloc(keep), *w[16] = {0};
    if (!k)
        return -1;
    memset(k, 1, keep);
    pthread_barrier_wait(&meet);
    for (long i = 0; i < pairs; i++) {
        unsigned j = (unsigned)(i * 7) % 16;
        free(w[j]);
        size_t n = size_at(&x);
        if (!(w[j] = malloc(n)))
            abort();
        w[j][0] = w[j][n - 1] = (char)i;
    }
    for (unsigned j = 0; j < 16; j++)
        free(w[j]);
    pthread_barrier_wait(&meet);
    free(k);
    return 0;
}
