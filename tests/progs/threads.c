/* threads.c: 8 threads x 1,000,000 mallocs; half of each thread's blocks are freed by
 * the next thread, so frees cross threads all the time. Work goes in rounds: every
 * thread fills its slot array, all meet at a barrier, each frees its own even blocks
 * and its neighbour's odd ones, all meet again. In the last round each thread leaves
 * its block 0 live. Prints the known answer as one JSON line:
 *   {"threads": 8, "allocs": A, "frees": F, "leaked": L, "peak": P}
 * P, the bytes of one round's blocks, is the peak: every thread's are live at the
 * barrier, and none is freed before every thread has passed it. A trace that ordered
 * one thread's frees before another's mallocs across the barrier would show less.
 * No stdio, so the only allocations besides ours are what pthread_create makes: one
 * DTV (the thread's TLS index) each, calloc'ed by ld.so. The markers "creating" and
 * "created" bracket the creations, with the workers held at a barrier, so the trace
 * itself tells what they cost. Stacks are small (256 KiB) so glibc's 40 MiB stack
 * cache keeps every one, and no DTV is freed at pthread_join, whatever ulimit -s is. */
#include <dlfcn.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NTHREADS 8
#define PER_THREAD 1000000
#define CHUNK 10000
#define ROUNDS (PER_THREAD / CHUNK)

static void *slot[NTHREADS][CHUNK];
static pthread_barrier_t start, barrier;

static size_t size_for(unsigned t, unsigned i)
{
    return 8 + (t * 131 + i) % 200;
}

static void *worker(void *arg)
{
    unsigned t = (unsigned)(uintptr_t)arg, next = (t + 1) % NTHREADS;
    pthread_barrier_wait(&start);
    for (unsigned r = 0; r < ROUNDS; r++) {
        for (unsigned i = 0; i < CHUNK; i++)
            if (!(slot[t][i] = malloc(size_for(t, i))))
                abort();
        pthread_barrier_wait(&barrier);
        for (unsigned i = 0; i < CHUNK; i += 2)
            if (!(r == ROUNDS - 1 && i == 0))
                free(slot[t][i]);
        for (unsigned i = 1; i < CHUNK; i += 2)
            free(slot[next][i]);
        /* Nobody refills a slot array before its neighbour is done freeing from it. */
        pthread_barrier_wait(&barrier);
    }
    return NULL;
}

int main(void)
{
    int (*mark)(const char *) = (int (*)(const char *))dlsym(RTLD_DEFAULT, "filrec_mark");
    pthread_t th[NTHREADS];
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 256 << 10);
    pthread_barrier_init(&start, NULL, NTHREADS + 1);
    pthread_barrier_init(&barrier, NULL, NTHREADS);
    if (mark)
        mark("creating");
    for (unsigned t = 0; t < NTHREADS; t++)
        if (pthread_create(&th[t], &attr, worker, (void *)(uintptr_t)t))
            abort();
    if (mark)
        mark("created");
    pthread_barrier_wait(&start);
    for (unsigned t = 0; t < NTHREADS; t++)
        pthread_join(th[t], NULL);
    size_t leaked = 0, peak = 0;
    for (unsigned t = 0; t < NTHREADS; t++) {
        leaked += size_for(t, 0);
        for (unsigned i = 0; i < CHUNK; i++)
            peak += size_for(t, i);
    }
    char out[200];
    int len = snprintf(out, sizeof out, "{\"threads\": %d, \"allocs\": %d, \"frees\": %d, "
                       "\"leaked\": %zu, \"peak\": %zu}\n", NTHREADS, NTHREADS * PER_THREAD,
                       NTHREADS * PER_THREAD - NTHREADS, leaked, peak);
    write(1, out, (size_t)len);
    return 0;
}
