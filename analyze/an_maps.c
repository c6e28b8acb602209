/* an_maps.c: tracked anonymous mappings as a sorted array of disjoint ranges.
 * Mappings are few (malloc's own large blocks are not seen here: glibc maps them
 * internally), so binary search plus memmove is enough. */
#include <stdlib.h>
#include <string.h>

#include "an.h"

/* Index of the first range whose end is above addr. */
static size_t first_after(const an_maps *m, uint64_t addr)
{
    size_t lo = 0, hi = m->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (m->r[mid].end <= addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static int reserve(an_maps *m, size_t more)
{
    if (m->n + more <= m->cap)
        return 0;
    size_t cap = m->cap ? m->cap * 2 : 64;
    while (cap < m->n + more)
        cap *= 2;
    an_range *r = realloc(m->r, cap * sizeof *r);
    if (!r)
        return -1;
    m->r = r;
    m->cap = cap;
    return 0;
}

uint64_t an_maps_remove(an_maps *m, uint64_t start, uint64_t end, uint32_t *stack)
{
    uint64_t removed = 0;
    int first = 1;
    if (end <= start)
        return 0;
    for (size_t i = first_after(m, start); i < m->n && m->r[i].start < end;) {
        an_range *r = &m->r[i];
        uint64_t lo = r->start > start ? r->start : start;
        uint64_t hi = r->end < end ? r->end : end;
        removed += hi - lo;
        if (first && stack)
            *stack = r->stack;
        first = 0;
        if (r->start < lo && r->end > hi) { /* a hole in the middle: split in two */
            if (reserve(m, 1))
                return removed; /* cannot split: keep the whole range (undercounts) */
            r = &m->r[i];
            memmove(r + 1, r, (m->n - i) * sizeof *r);
            m->n++;
            r[0].end = lo;
            r[1].start = hi;
            return removed;
        }
        if (r->start < lo) {
            r->end = lo;
            i++;
        } else if (r->end > hi) {
            r->start = hi;
            i++;
        } else {
            memmove(r, r + 1, (m->n - i - 1) * sizeof *r);
            m->n--;
        }
    }
    return removed;
}

uint64_t an_maps_add(an_maps *m, const an_range *add)
{
    uint64_t removed = an_maps_remove(m, add->start, add->end, NULL);
    if (add->end <= add->start)
        return removed;
    if (reserve(m, 1))
        return UINT64_MAX;
    size_t i = first_after(m, add->start);
    memmove(m->r + i + 1, m->r + i, (m->n - i) * sizeof *m->r);
    m->r[i] = *add;
    m->n++;
    return removed;
}

void an_maps_free(an_maps *m)
{
    free(m->r);
    memset(m, 0, sizeof *m);
}
