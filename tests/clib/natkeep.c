/* libnatkeep.so: for tests/progs/native_dl.c, a library that allocates through a
 * frame of its own (nat_fill) and is loaded and closed while recording. */
#include <stdlib.h>
#include <string.h>

__attribute__((noinline)) static void *nat_fill(size_t n)
{
    void *p = malloc(n);
    if (p)
        memset(p, 7, n);
    return p;
}

void *nat_keep(size_t n)
{
    void *p = nat_fill(n);
    __asm__ volatile("" : : "r"(p) : "memory"); /* not a tail call */
    return p;
}
