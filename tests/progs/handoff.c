/* handoff.c: blocks made in one thread and freed in another, as fast as two cores go.
 * PAIRS producer/consumer pairs of threads: each producer mallocs N blocks (sizes 16 B
 * to 4 KiB, a fixed sequence) and hands each to its consumer through a lock-free ring
 * of 256 slots; the consumer frees it. glibc gives every thread an arena of its own
 * and returns a freed block to the arena it came from, so addresses also go back the
 * other way: a producer's malloc often returns the block its consumer just freed. A
 * trace whose order put a free before its block's malloc, or a malloc before the free
 * of the block that was at its address, would count blocks live at the end or frees
 * without a block. Prints the known answer as one JSON line:
 *   {"pairs": P, "allocs": A, "frees": F, "bytes": B, "max_live": M}
 * B: the bytes allocated in all; M: a bound on the bytes live at once (every ring full,
 * every producer and consumer holding one block). No stdio until the end. */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define PAIRS 2
#define N 500000
#define RING 256
#define MAX_SIZE 4096

struct ring {
    _Alignas(64) _Atomic uint64_t head;
    _Alignas(64) _Atomic uint64_t tail;
    void *slot[RING];
};

static struct ring rings[PAIRS];
static pthread_barrier_t go;

static size_t size_of(unsigned pair, uint64_t i)
{
    uint64_t x = (i + 1) * 0x9e3779b97f4a7c15ull ^ pair;
    x ^= x >> 29;
    return 16 + (size_t)(x % (MAX_SIZE - 15));
}

static void *producer(void *arg)
{
    unsigned p = (unsigned)(uintptr_t)arg;
    struct ring *r = &rings[p];
    pthread_barrier_wait(&go);
    for (uint64_t i = 0; i < N; i++) {
        char *b = malloc(size_of(p, i));
        if (!b)
            abort();
        b[0] = (char)i;
        while (atomic_load_explicit(&r->head, memory_order_relaxed) -
                   atomic_load_explicit(&r->tail, memory_order_acquire) == RING)
            sched_yield(); /* more threads than cores: let the other side run */
        r->slot[i % RING] = b;
        atomic_store_explicit(&r->head, i + 1, memory_order_release);
    }
    return NULL;
}

static void *consumer(void *arg)
{
    unsigned p = (unsigned)(uintptr_t)arg;
    struct ring *r = &rings[p];
    pthread_barrier_wait(&go);
    for (uint64_t i = 0; i < N; i++) {
        while (atomic_load_explicit(&r->head, memory_order_acquire) == i)
            sched_yield();
        char *b = r->slot[i % RING];
        if (b[0] != (char)i)
            abort();
        atomic_store_explicit(&r->tail, i + 1, memory_order_release);
        free(b);
    }
    return NULL;
}

int main(void)
{
    pthread_t t[2 * PAIRS];
    pthread_barrier_init(&go, NULL, 2 * PAIRS);
    for (unsigned p = 0; p < PAIRS; p++)
        if (pthread_create(&t[2 * p], NULL, producer, (void *)(uintptr_t)p) ||
            pthread_create(&t[2 * p + 1], NULL, consumer, (void *)(uintptr_t)p))
            abort();
    for (unsigned i = 0; i < 2 * PAIRS; i++)
        pthread_join(t[i], NULL);
    uint64_t bytes = 0;
    for (unsigned p = 0; p < PAIRS; p++)
        for (uint64_t i = 0; i < N; i++)
            bytes += size_of(p, i);
    printf("{\"pairs\": %d, \"allocs\": %d, \"frees\": %d, \"bytes\": %llu, \"max_live\": %d}\n",
           PAIRS, PAIRS * N, PAIRS * N, (unsigned long long)bytes,
           PAIRS * (RING + 2) * MAX_SIZE);
    return 0;
}
