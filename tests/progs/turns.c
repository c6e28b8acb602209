/* turns.c: two waves of 80 threads, each wave taking turns in a ring: a thread makes a
 * run of 1,000 malloc/free pairs, hands the turn to the next, and waits for its own to
 * come back, 5 times. Runs that long, over a millisecond apart, make each thread in
 * turn the owner of the log's bias (record/rec_gate.c), whose flags are 64: the first
 * wave runs out of them, the second takes over the first's dead threads'. Prints
 *   {"threads": T, "allocs": A, "frees": F, "bytes": B}
 * for the program's own blocks (each freed in its run). No stdio before that, so
 * besides these only pthread_create's DTVs are allocated. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define WAVE 80
#define TURNS 5
#define RUN 1000

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static unsigned turn; /* whose turn: an index in the wave */
static uint64_t bytes;

static void *worker(void *arg)
{
    unsigned me = (unsigned)(uintptr_t)arg;
    for (unsigned r = 0; r < TURNS; r++) {
        pthread_mutex_lock(&mu);
        while (turn != me)
            pthread_cond_wait(&cv, &mu);
        pthread_mutex_unlock(&mu);
        struct timespec calm = {0, 1200000}; /* past the bias's 1 ms: turns taken slowly */
        nanosleep(&calm, NULL);
        uint64_t sum = 0;
        for (unsigned i = 0; i < RUN; i++) {
            size_t n = 16 + (me * 7919u + r * 104729u + i * 31u) % 497;
            void *p = malloc(n);
            if (!p)
                abort();
            *(volatile char *)p = 1;
            free(p);
            sum += n;
        }
        pthread_mutex_lock(&mu);
        bytes += sum;
        turn = (me + 1) % WAVE;
        pthread_cond_broadcast(&cv);
        pthread_mutex_unlock(&mu);
    }
    return NULL;
}

int main(void)
{
    pthread_t th[WAVE];
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 64 << 10);
    for (int wave = 0; wave < 2; wave++) {
        turn = 0;
        for (unsigned t = 0; t < WAVE; t++)
            if (pthread_create(&th[t], &attr, worker, (void *)(uintptr_t)t))
                abort();
        for (unsigned t = 0; t < WAVE; t++)
            pthread_join(th[t], NULL);
    }
    char out[200];
    int n = 2 * WAVE * TURNS * RUN;
    int len = snprintf(out, sizeof out, "{\"threads\": %d, \"allocs\": %d, \"frees\": %d, "
                       "\"bytes\": %llu}\n", 2 * WAVE, n, n, (unsigned long long)bytes);
    write(1, out, (size_t)len);
    return 0;
}
