/* an_peak.c: what was live where the replay stopped, by location. Blocks and mappings
 * are summed per stack (charged to their thread's creator when they have none), then
 * per location: the innermost frame's function and line. Each location keeps its
 * largest stack, to show how the program got there. */
#include <stdlib.h>
#include <string.h>

#include "an.h"

typedef struct per_stack {
    uint64_t bytes, blocks;
} per_stack;

static void add(per_stack *s, size_t n, uint32_t stack, uint64_t bytes)
{
    if (stack < n) {
        s[stack].bytes += bytes;
        s[stack].blocks++;
    }
}

static int by_bytes(const void *a, const void *b)
{
    const an_loc *x = a, *y = b;
    return x->bytes < y->bytes ? 1 : x->bytes > y->bytes ? -1
         : x->func < y->func ? -1 : x->func > y->func ? 1 : (x->line > y->line) - (x->line < y->line);
}

int an_peak_locations(const an_replay *rp, an_loc **out, size_t *nout)
{
    const an_defs *d = &rp->defs;
    size_t nstacks = d->nnode ? d->nnode : 1;
    per_stack *st = calloc(nstacks, sizeof *st);
    /* location table: open addressing on (func, line); twice the stacks is enough */
    size_t cap = 16;
    while (cap < nstacks * 2)
        cap *= 2;
    an_loc *loc = calloc(cap, sizeof *loc);
    int32_t *slot = malloc(cap * sizeof *slot);
    if (!st || !loc || !slot) {
        free(st), free(loc), free(slot);
        return -1;
    }
    memset(slot, 0xff, cap * sizeof *slot);
    for (uint64_t i = 0; i <= rp->live.mask; i++) {
        const an_block *b = &rp->live.slot[i];
        if (b->addr)
            add(st, nstacks, an_defs_charge(d, b->stack, b->thread), b->size);
    }
    for (size_t i = 0; i < rp->maps.n; i++) {
        const an_range *r = &rp->maps.r[i];
        add(st, nstacks, an_defs_charge(d, r->stack, r->thread), r->end - r->start);
    }
    size_t n = 0;
    for (uint32_t s = 0; s < nstacks; s++) {
        if (!st[s].blocks)
            continue;
        uint32_t func = s ? d->node[s].func : 0, line = s ? d->node[s].line : 0;
        uint64_t h = ((uint64_t)func << 32 | line) * 0x9E3779B97F4A7C15ull;
        size_t j = (size_t)(h >> 20) & (cap - 1);
        while (slot[j] >= 0 && (loc[slot[j]].func != func || loc[slot[j]].line != line))
            j = (j + 1) & (cap - 1);
        if (slot[j] < 0) {
            slot[j] = (int32_t)n;
            loc[n++] = (an_loc){func, line, 0, 0, s, 0};
        }
        an_loc *l = &loc[slot[j]];
        l->bytes += st[s].bytes;
        l->blocks += st[s].blocks;
        if (st[s].bytes > l->stack_bytes) {
            l->stack = s;
            l->stack_bytes = st[s].bytes;
        }
    }
    free(st);
    free(slot);
    qsort(loc, n, sizeof *loc, by_bytes);
    *out = loc;
    *nout = n;
    return 0;
}
