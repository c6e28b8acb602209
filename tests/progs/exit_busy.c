/* exit_busy.c: 4 threads allocating without pause while the main thread calls exit():
 * the recorder writes its trailer while they go on, and with the trace's reader behind
 * (every buffer full) it waits for room with the lock dropped. Nothing may be written
 * after the trailer, and the trailer is written once. Prints
 *   {"threads": 4}
 * first (before the threads start). */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define NTHREADS 4

static void *worker(void *arg)
{
    uint64_t x = 0x9e3779b97f4a7c15ull ^ (uintptr_t)arg;
    void *slot[16] = {0};
    for (;;) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        unsigned k = (unsigned)(x >> 40) % 16;
        free(slot[k]);
        if (!(slot[k] = malloc(16 + (x & 0xffff) % 497)))
            abort();
    }
    return NULL;
}

int main(void)
{
    char out[] = "{\"threads\": 4}\n";
    write(1, out, sizeof out - 1);
    pthread_t th;
    for (uintptr_t t = 0; t < NTHREADS; t++)
        if (pthread_create(&th, NULL, worker, (void *)(t + 1)))
            abort();
    struct timespec wait = {0, 300000000};
    nanosleep(&wait, NULL);
    exit(0);
}
