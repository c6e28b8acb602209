/* an_defs.c: the trace's definitions (strings, functions, stack nodes, threads) kept
 * in memory as dense arrays indexed by id. The reader has already checked that every
 * reference is to an id defined before it, so lookups here need no checks beyond the
 * array bounds. Memory: O(distinct definitions). */
#include <stdlib.h>
#include <string.h>

#include "an.h"

int an_grow(void **p, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return 0;
    size_t c = *cap ? *cap : 64;
    while (c < need)
        c *= 2;
    void *q = realloc(*p, c * size);
    if (!q)
        return -1;
    *p = q;
    *cap = c;
    return 0;
}

static int add_string(an_defs *d, const char *s, size_t n)
{
    if (!d->nstr) { /* id 0 is the empty string */
        if (an_grow((void **)&d->text, &d->text_cap, 1, 1))
            return -1;
        d->text[0] = 0;
        d->text_len = 1;
        d->nstr = 1;
        if (an_grow((void **)&d->str_off, &d->str_cap, 1, sizeof *d->str_off) ||
            !(d->str_len = realloc(d->str_len, d->str_cap * sizeof *d->str_len)))
            return -1;
        d->str_off[0] = 0;
        d->str_len[0] = 0;
    }
    size_t cap = d->str_cap;
    if (an_grow((void **)&d->text, &d->text_cap, d->text_len + n + 1, 1) ||
        an_grow((void **)&d->str_off, &d->str_cap, d->nstr + 1, sizeof *d->str_off))
        return -1;
    if (d->str_cap != cap) {
        uint32_t *l = realloc(d->str_len, d->str_cap * sizeof *l);
        if (!l)
            return -1;
        d->str_len = l;
    }
    memcpy(d->text + d->text_len, s, n);
    d->text[d->text_len + n] = 0;
    d->str_off[d->nstr] = d->text_len;
    d->str_len[d->nstr++] = (uint32_t)n;
    d->text_len += n + 1;
    return 0;
}

int an_defs_add(an_defs *d, const ft_record *rec)
{
    switch (rec->kind) {
    case FT_STRING:
        return add_string(d, rec->str, rec->len);
    case FT_FUNCTION:
        if (an_grow((void **)&d->func, &d->func_cap, d->nfunc + 2, sizeof *d->func))
            return -1;
        if (!d->nfunc)
            d->nfunc = 1; /* id 0 unused */
        d->func[d->nfunc++] = (an_func){(uint32_t)rec->a, (uint32_t)rec->b, (uint32_t)rec->c};
        return 0;
    case FT_STACK_NODE:
    case FT_NATIVE_FRAME: /* a node with no function until an_native_resolve names it */
        if (an_grow((void **)&d->node, &d->node_cap, d->nnode + 2, sizeof *d->node))
            return -1;
        if (!d->nnode) {
            d->node[0] = (an_node){0, 0, 0};
            d->nnode = 1;
        }
        if (rec->kind == FT_NATIVE_FRAME) {
            d->node[d->nnode] = (an_node){rec->stack, 0, 0};
            return an_native_add(d, rec, (uint32_t)d->nnode++);
        }
        d->node[d->nnode++] = (an_node){rec->stack, (uint32_t)rec->a, (uint32_t)rec->b};
        return 0;
    case FT_MODULE:
        return an_native_add(d, rec, 0);
    case FT_THREAD_START:
        if (an_grow((void **)&d->thread_stack, &d->thread_cap, rec->a + 1, sizeof *d->thread_stack))
            return -1;
        if (!d->nthread)
            d->thread_stack[0] = 0;
        d->thread_stack[rec->a] = an_defs_charge(d, rec->stack, (uint32_t)rec->b);
        d->nthread = rec->a + 1;
        return 0;
    }
    return 0;
}

const char *an_defs_string(const an_defs *d, uint32_t id, size_t *len)
{
    if (id >= d->nstr) {
        *len = 0;
        return "";
    }
    *len = d->str_len[id];
    return d->text + d->str_off[id];
}


void an_defs_free(an_defs *d)
{
    free(d->text);
    free(d->str_off);
    free(d->str_len);
    free(d->func);
    free(d->node);
    free(d->thread_stack);
    free(d->mod);
    free(d->pend);
    free(d->fkind);
    memset(d, 0, sizeof *d);
}
