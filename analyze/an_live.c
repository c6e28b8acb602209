/* an_live.c: the live-block table, open addressing with linear probing and
 * backward-shift deletion (no tombstones, so long runs of churn stay fast).
 * Kept at most half full; grows by doubling. */
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

static int grow(an_live *t)
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

int an_live_put(an_live *t, const an_block *b, an_block *old)
{
    if (t->used * 2 >= t->mask && grow(t))
        return -1;
    uint64_t i = an_live_home(t, b->addr);
    while (t->slot[i].addr) {
        if (t->slot[i].addr == b->addr) {
            *old = t->slot[i];
            t->slot[i] = *b;
            return 1;
        }
        i = (i + 1) & t->mask;
    }
    t->slot[i] = *b;
    t->used++;
    return 0;
}

int an_live_take(an_live *t, uint64_t addr, an_block *out)
{
    uint64_t i = an_live_home(t, addr);
    while (t->slot[i].addr != addr) {
        if (!t->slot[i].addr)
            return 0;
        i = (i + 1) & t->mask;
    }
    *out = t->slot[i];
    /* Backward shift: pull later members of the probe run into the hole. */
    for (uint64_t j = (i + 1) & t->mask; t->slot[j].addr; j = (j + 1) & t->mask) {
        uint64_t home = an_live_home(t, t->slot[j].addr);
        if (((j - home) & t->mask) >= ((j - i) & t->mask)) {
            t->slot[i] = t->slot[j];
            i = j;
        }
    }
    t->slot[i].addr = 0;
    t->used--;
    return 1;
}

void an_live_free(an_live *t)
{
    free(t->slot);
    memset(t, 0, sizeof *t);
}
