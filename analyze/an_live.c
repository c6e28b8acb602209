/* an_live.c: the live-block table, open addressing with linear probing and
 * backward-shift deletion (no tombstones, so long runs of churn stay fast).
 * Kept at most half full; grows by doubling. Put and take, run at every event, are
 * inline in an.h. */
#include <stdlib.h>
#include <string.h>

#include "an.h"

int an_live_init(an_live *t)
{
    t->mask = (1u << 16) - 1;
    t->shift = 64 - 16;
    t->used = 0;
    t->slot = calloc(t->mask + 1, sizeof *t->slot);
    return t->slot ? 0 : -1;
}

int an_live_grow(an_live *t)
{
    an_live bigger = {calloc((t->mask + 1) * 2, sizeof *t->slot), t->mask * 2 + 1, 0,
                      t->shift - 1};
    if (!bigger.slot)
        return -1;
    for (uint64_t i = 0; i <= t->mask; i++) {
        if (!t->slot[i].addr)
            continue;
        uint64_t j = an_live_home(&bigger, t->slot[i].addr);
        while (bigger.slot[j].addr)
            j = (j + 1) & bigger.mask;
        bigger.slot[j] = t->slot[i];
    }
    bigger.used = t->used;
    free(t->slot);
    *t = bigger;
    return 0;
}

void an_live_free(an_live *t)
{
    free(t->slot);
    memset(t, 0, sizeof *t);
}
