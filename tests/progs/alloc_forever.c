/* alloc_forever.c: allocates and frees in a loop until killed, keeping a ring of live
 * blocks. After the first 100,000 allocations it prints "ready PID" so a test knows
 * the trace has events and whom to kill. alarm() ends it if no test ever does. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define RING 4096

int main(void)
{
    static void *ring[RING];
    alarm(60);
    for (unsigned long i = 0;; i++) {
        free(ring[i % RING]);
        ring[i % RING] = malloc(16 + i % 1000);
        if (i == 100000) {
            char out[64];
            int len = snprintf(out, sizeof out, "ready %d\n", (int)getpid());
            write(1, out, (size_t)len);
        }
    }
}
