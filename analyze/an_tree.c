/* an_tree.c: the call tree of what was live where the replay stopped. Stacks from the
 * trace are merged frame by frame: two stacks share a tree node as long as their
 * frames have the same function and line, outermost first (or innermost first for the
 * reversed, "who allocated through this" tree). Node 0 is the root: everything live.
 * Every report that draws or exports a tree (flamegraph, folded, speedscope, JSON)
 * reads this one structure, so their numbers agree. */
#include <stdlib.h>
#include <string.h>

#include "an.h"

static uint64_t key_hash(uint32_t parent, uint32_t func, uint32_t line)
{
    uint64_t h = ((uint64_t)parent * 0x9E3779B97F4A7C15ull) ^ ((uint64_t)func << 32 | line);
    return h * 0xC2B2AE3D27D4EB4Full;
}

/* Child of parent for (func, line), created if absent; UINT32_MAX when out of memory. */
static uint32_t child(an_tree *t, uint32_t parent, uint32_t func, uint32_t line)
{
    if (t->used * 2 >= t->hmask) {
        size_t cap = t->hmask ? (t->hmask + 1) * 2 : 1024;
        uint32_t *h = malloc(cap * sizeof *h);
        if (!h)
            return UINT32_MAX;
        memset(h, 0xff, cap * sizeof *h);
        for (uint32_t i = 1; i < t->n; i++) {
            size_t j = key_hash(t->node[i].parent, t->node[i].func, t->node[i].line) & (cap - 1);
            while (h[j] != UINT32_MAX)
                j = (j + 1) & (cap - 1);
            h[j] = i;
        }
        free(t->hash);
        t->hash = h;
        t->hmask = cap - 1;
    }
    size_t j = key_hash(parent, func, line) & t->hmask;
    for (; t->hash[j] != UINT32_MAX; j = (j + 1) & t->hmask) {
        an_tnode *c = &t->node[t->hash[j]];
        if (c->parent == parent && c->func == func && c->line == line)
            return t->hash[j];
    }
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 1024;
        an_tnode *nn = realloc(t->node, cap * sizeof *nn);
        if (!nn)
            return UINT32_MAX;
        t->node = nn;
        t->cap = cap;
    }
    uint32_t id = (uint32_t)t->n++;
    t->node[id] = (an_tnode){parent, func, line, 0, 0, t->node[parent].depth + 1, 0, 0};
    t->hash[j] = id;
    t->used++;
    return id;
}

/* Add bytes live under one trace stack: walk its frames in tree order. */
static int add_stack(an_tree *t, const an_defs *d, uint32_t stack, uint64_t bytes,
                     uint64_t blocks, double var, uint32_t *frames)
{
    size_t n = 0;
    for (uint32_t s = stack; s && s < d->nnode && n < AN_MAX_DEPTH; s = d->node[s].parent)
        frames[n++] = s;
    uint32_t at = 0;
    t->node[0].bytes += bytes;
    t->node[0].blocks += blocks;
    t->node[0].var += (float)var;
    if (n == 0) { /* no stack: one frame that says so */
        at = child(t, 0, 0, 0);
        if (at == UINT32_MAX)
            return -1;
        t->node[at].bytes += bytes;
        t->node[at].blocks += blocks;
        t->node[at].var += (float)var;
        t->node[at].self += bytes;
        return 0;
    }
    int hide = 0; /* only when some frame stays */
    for (size_t i = 0; t->hidden && i < n && !hide; i++) {
        uint32_t f = d->node[frames[i]].func;
        hide = f >= t->nhidden || !t->hidden[f];
    }
    for (size_t i = 0; i < n; i++) {
        uint32_t s = frames[t->reversed ? i : n - 1 - i], f = d->node[s].func;
        if (hide && f < t->nhidden && t->hidden[f])
            continue; /* import machinery: its callee or caller stands in */
        at = child(t, at, f, d->node[s].line);
        if (at == UINT32_MAX)
            return -1;
        t->node[at].bytes += bytes;
        t->node[at].blocks += blocks;
        t->node[at].var += (float)var;
    }
    t->node[at].self += bytes;
    return 0;
}

int an_tree_hide_imports(an_tree *t, const an_defs *d)
{
    free(t->hidden);
    t->nhidden = d->nfunc;
    if (!(t->hidden = calloc(d->nfunc ? d->nfunc : 1, 1)))
        return -1;
    for (size_t f = 1; f < d->nfunc; f++) {
        size_t n;
        const char *file = an_defs_string(d, d->func[f].file, &n);
        t->hidden[f] = n >= 28 && !memcmp(file, "<frozen importlib._bootstrap", 28);
    }
    return 0;
}

int an_tree_start(an_tree *t, int reversed)
{
    memset(t, 0, sizeof *t);
    t->reversed = reversed;
    if (!(t->node = malloc(1024 * sizeof *t->node)))
        return -1;
    t->cap = 1024;
    t->n = 1;
    t->node[0] = (an_tnode){0, 0, 0, 0, 0, 0, 0, 0};
    return 0;
}

int an_tree_add(an_tree *t, const an_replay *rp, const an_defs *d, const uint32_t *map,
                uint32_t nostack)
{
    an_per_stack ps;
    uint32_t *frames = malloc(AN_MAX_DEPTH * sizeof *frames);
    int rc = -1;
    if (!frames || an_live_per_stack(rp, &ps)) {
        free(frames);
        return -1;
    }
    for (uint32_t s = 0; s < ps.n; s++)
        if (ps.blocks[s] && add_stack(t, d, map ? (s ? map[s] : nostack) : s, ps.bytes[s],
                                      ps.blocks[s], ps.var ? ps.var[s] : 0, frames))
            goto out;
    rc = 0;
out:
    an_per_stack_free(&ps);
    free(frames);
    return rc;
}

static int build(an_tree *t, const an_replay *rp, int reversed, int hide)
{
    if (an_tree_start(t, reversed) || (hide && an_tree_hide_imports(t, &rp->defs)) ||
        an_tree_add(t, rp, &rp->defs, NULL, 0)) {
        an_tree_free(t);
        return -1;
    }
    return 0;
}

int an_tree_build(an_tree *t, const an_replay *rp, int reversed) { return build(t, rp, reversed, 0); }

int an_tree_build_hiding(an_tree *t, const an_replay *rp, int reversed)
{
    return build(t, rp, reversed, 1);
}

/* Children in order: largest first, ties by function and line, for stable output. */
static const an_tree *sort_tree;
static int by_size(const void *a, const void *b)
{
    const an_tnode *x = &sort_tree->node[*(const uint32_t *)a];
    const an_tnode *y = &sort_tree->node[*(const uint32_t *)b];
    if (x->bytes != y->bytes)
        return x->bytes < y->bytes ? 1 : -1;
    if (x->func != y->func)
        return x->func < y->func ? -1 : 1;
    return (x->line > y->line) - (x->line < y->line);
}

int an_tree_children(const an_tree *t, uint32_t **kids, uint32_t **first)
{
    /* Counting sort by parent, then each family sorted by size: kids[first[i]..first[i+1]). */
    uint32_t *f = calloc(t->n + 1, sizeof *f), *k = malloc((t->n ? t->n : 1) * sizeof *k);
    if (!f || !k) {
        free(f), free(k);
        return -1;
    }
    for (uint32_t i = 1; i < t->n; i++)
        f[t->node[i].parent + 1]++;
    for (uint32_t i = 0; i < t->n; i++)
        f[i + 1] += f[i];
    uint32_t *fill = malloc((t->n + 1) * sizeof *fill);
    if (!fill) {
        free(f), free(k);
        return -1;
    }
    memcpy(fill, f, (t->n + 1) * sizeof *fill);
    for (uint32_t i = 1; i < t->n; i++)
        k[fill[t->node[i].parent]++] = i;
    free(fill);
    sort_tree = t;
    for (uint32_t i = 0; i < t->n; i++)
        if (f[i + 1] - f[i] > 1)
            qsort(k + f[i], f[i + 1] - f[i], sizeof *k, by_size);
    *kids = k;
    *first = f;
    return 0;
}

void an_tree_free(an_tree *t)
{
    free(t->node);
    free(t->hash);
    free(t->hidden);
    memset(t, 0, sizeof *t);
}
