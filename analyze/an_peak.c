/* an_peak.c: what was live where the replay stopped, by location. Blocks and mappings
 * are summed per stack (charged to their thread's creator when they have none), then
 * per location: the innermost frame's function and line. Each location keeps its
 * largest stack, to show how the program got there. */
#include <stdlib.h>
#include <string.h>

#include "an.h"

static int by_bytes(const void *a, const void *b)
{
    const an_loc *x = a, *y = b;
    return x->bytes < y->bytes ? 1 : x->bytes > y->bytes ? -1
         : x->func < y->func ? -1 : x->func > y->func ? 1 : (x->line > y->line) - (x->line < y->line);
}

/* The grouping key of a stack, by mode (user: an_code_funcs, for AN_BY_CODE). */
static uint64_t key_of(const an_defs *d, const uint8_t *user, uint32_t s, enum an_by by,
                       uint32_t *func, uint32_t *line)
{
    if (by == AN_BY_CODE)
        s = an_code_frame(d, user, s);
    *func = s ? d->node[s].func : 0;
    *line = s ? d->node[s].line : 0;
    switch (by) {
    case AN_BY_LINE:
    case AN_BY_CODE:
        return (uint64_t)*func << 32 | *line;
    case AN_BY_FUNCTION:
        *line = 0;
        return (uint64_t)*func << 32;
    case AN_BY_FILE:
        *line = 0;
        return *func ? (uint64_t)d->func[*func].file << 32 | 1 : 0;
    case AN_BY_STACK:
        return s;
    }
    return 0;
}

int an_group(const an_defs *d, const uint64_t *bytes, const uint64_t *blocks,
             const double *var, size_t nstacks, enum an_by by, an_loc **out, size_t *nout)
{
    size_t cap = 16; /* open addressing on the key; twice the stacks is enough */
    while (cap < nstacks * 2)
        cap *= 2;
    an_loc *loc = calloc(cap, sizeof *loc);
    uint64_t *keys = calloc(cap, sizeof *keys);
    int32_t *slot = malloc(cap * sizeof *slot);
    if (!loc || !slot || !keys) {
        free(loc), free(slot), free(keys);
        return -1;
    }
    uint8_t *user = by == AN_BY_CODE ? an_code_funcs(d) : NULL;
    if (by == AN_BY_CODE && !user) {
        free(loc), free(slot), free(keys);
        return -1;
    }
    memset(slot, 0xff, cap * sizeof *slot);
    size_t n = 0;
    for (uint32_t s = 0; s < nstacks; s++) {
        if (!blocks[s])
            continue;
        uint32_t func, line;
        uint64_t key = key_of(d, user, s, by, &func, &line);
        size_t j = (size_t)((key * 0x9E3779B97F4A7C15ull) >> 20) & (cap - 1);
        while (slot[j] >= 0 && keys[slot[j]] != key)
            j = (j + 1) & (cap - 1);
        if (slot[j] < 0) {
            slot[j] = (int32_t)n;
            keys[n] = key;
            loc[n++] = (an_loc){func, line, 0, 0, s, 0, 0, 0, 0};
        }
        an_loc *l = &loc[slot[j]];
        l->bytes += bytes[s];
        l->var += var ? var[s] : 0;
        l->blocks += blocks[s];
        if (bytes[s] > l->stack_bytes || !l->stack_bytes) {
            l->stack = s;
            l->stack_bytes = bytes[s];
        }
    }
    for (size_t i = 0; by == AN_BY_CODE && i < n; i++) {
        uint32_t in = loc[i].stack;
        if (in && in < d->nnode && (d->node[in].func != loc[i].func || d->node[in].line != loc[i].line)) {
            loc[i].via_func = d->node[in].func;
            loc[i].via_line = d->node[in].line;
        }
    }
    free(user);
    free(slot);
    free(keys);
    qsort(loc, n, sizeof *loc, by_bytes);
    *out = loc;
    *nout = n;
    return 0;
}

int an_live_per_stack(const an_replay *rp, an_per_stack *ps)
{
    const an_defs *d = &rp->defs;
    size_t n = d->nnode ? d->nnode : 1;
    ps->n = n;
    ps->bytes = calloc(n, sizeof *ps->bytes);
    ps->blocks = calloc(n, sizeof *ps->blocks);
    ps->var = rp->sample ? calloc(n, sizeof *ps->var) : NULL;
    if (!ps->bytes || !ps->blocks || (rp->sample && !ps->var)) {
        an_per_stack_free(ps);
        return -1;
    }
    const an_snap *sn = rp->snap && rp->snap->at_peak ? rp->snap : NULL;
    for (size_t s = 0; sn && s < sn->n && s < n; s++) { /* kept at the peak, in one pass */
        const an_snap_stack *st = &sn->stack[s];
        ps->bytes[s] = st->peak_bytes;
        ps->blocks[s] = st->peak_blocks;
        if (ps->var)
            ps->var[s] = st->peak_var > 0 ? st->peak_var : 0;
    }
    for (uint64_t i = 0; !sn && i <= rp->live.mask; i++) {
        const an_block *b = &rp->live.slot[i];
        uint32_t s = b->addr ? an_defs_charge(d, b->stack, b->thread) : 0;
        if (b->addr && s < n) {
            ps->bytes[s] += an_weight(rp->sample, b->size), ps->blocks[s]++;
            if (ps->var)
                ps->var[s] += (double)an_weight_var(rp->sample, b->size);
        }
    }
    const an_range *maps = sn ? sn->maps : rp->maps.r; /* at the peak, or where it stopped */
    for (size_t i = 0; i < (sn ? sn->nmaps : rp->maps.n); i++) {
        const an_range *r = &maps[i];
        uint32_t s = an_defs_charge(d, r->stack, r->thread);
        if (s < n)
            ps->bytes[s] += r->bytes, ps->blocks[s] += r->bytes != 0;
    }
    return 0;
}

void an_per_stack_free(an_per_stack *ps)
{
    free(ps->bytes), free(ps->blocks), free(ps->var);
    ps->bytes = ps->blocks = NULL;
    ps->var = NULL;
}

int an_peak_locations(const an_replay *rp, enum an_by by, an_loc **out, size_t *nout)
{
    an_per_stack ps;
    if (an_live_per_stack(rp, &ps))
        return -1;
    int rc = an_group(&rp->defs, ps.bytes, ps.blocks, ps.var, ps.n, by, out, nout);
    an_per_stack_free(&ps);
    return rc;
}
