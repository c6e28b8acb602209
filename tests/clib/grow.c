/* libgrow.so: a C library for the in-process tests, loaded with ctypes after recording
 * has started. Its allocations reach malloc through its own relocation slots, which
 * in-process activation must patch when the library is loaded. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static void *kept[64];

/* Allocate n bytes (touched) and keep them in slot i; returns 0 on success. */
int grow_keep(int i, size_t n)
{
    if (i < 0 || i >= 64)
        return -1;
    free(kept[i]);
    kept[i] = malloc(n);
    if (!kept[i])
        return -1;
    memset(kept[i], 1, n);
    return 0;
}

void grow_drop(int i)
{
    if (i >= 0 && i < 64) {
        free(kept[i]);
        kept[i] = NULL;
    }
}

/* A thread of the library's own allocates n bytes (kept in slot 63) and ends: what a
 * BLAS or OpenMP pool does, for the --native tests. 0 on success. */

static void *grow_worker(void *arg)
{
    size_t n = *(size_t *)arg;
    kept[63] = malloc(n);
    if (kept[63])
        memset(kept[63], 2, n);
    __asm__ volatile("" : : "r"(kept[63]) : "memory");
    return NULL;
}

int grow_in_thread(size_t n)
{
    pthread_t t;
    if (pthread_create(&t, NULL, grow_worker, &n))
        return -1;
    return pthread_join(t, NULL);
}
