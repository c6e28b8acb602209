/* phases.c: four blocks of 10, 20, 30 and 40 MB, a quarter second apart, so that the
 * trace holds a frame for each (the sink writes a frame at least every 100 ms). A
 * prefix of the trace holds the first k blocks: its peak is 10, 30, 60 or 100 MB.
 * Prints {"blocks": [10000000, ...]}. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(void)
{
    static void *volatile keep[4];
    for (int i = 0; i < 4; i++) {
        if (!(keep[i] = malloc((size_t)(i + 1) * 10000000)))
            return 2;
        usleep(250000);
    }
    printf("{\"blocks\": [10000000, 20000000, 30000000, 40000000]}\n");
    return 0;
}
