/* libgrow.so: a C library for the in-process tests, loaded with ctypes after recording
 * has started. Its allocations reach malloc through its own relocation slots, which
 * in-process activation must patch when the library is loaded. */
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
