/* an_maps.c: tracked mappings as a sorted array of disjoint ranges. Mappings are few
 * (malloc's own large blocks are not seen here: glibc maps them internally), so binary
 * search plus memmove is enough. */
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

static uint64_t min64(uint64_t a, uint64_t b) { return a < b ? a : b; }

/* What a range adds to untouched. */
static uint64_t untouched(const an_range *r)
{
    return r->measured && !r->file ? (r->end - r->start) - r->bytes : 0;
}

uint64_t an_maps_remove(an_maps *m, uint64_t start, uint64_t end, an_range *first)
{
    uint64_t removed = 0;
    if (first)
        first->end = 0;
    if (end <= start)
        return 0;
    for (size_t i = first_after(m, start); i < m->n && m->r[i].start < end;) {
        an_range *r = &m->r[i];
        uint64_t lo = r->start > start ? r->start : start;
        uint64_t hi = r->end < end ? r->end : end;
        uint64_t left = min64(r->bytes, (r->end - r->start) - (hi - lo)); /* count kept */
        removed += r->bytes - left;
        if (first && !first->end)
            *first = *r;
        if (r->start < lo && r->end > hi) { /* a hole in the middle: split in two */
            if (reserve(m, 1))
                return removed - (r->bytes - left); /* cannot split: keep it all */
            r = &m->r[i];
            m->untouched -= untouched(r);
            memmove(r + 1, r, (m->n - i) * sizeof *r);
            m->n++;
            r[0].end = lo;
            r[0].bytes = min64(left, lo - r[0].start);
            r[1].start = hi;
            r[1].bytes = left - r[0].bytes;
            m->untouched += untouched(&r[0]) + untouched(&r[1]);
            return removed;
        }
        m->untouched -= untouched(r);
        r->bytes = left;
        if (r->start < lo) {
            r->end = lo;
            m->untouched += untouched(r);
            i++;
        } else if (r->end > hi) {
            r->start = hi;
            m->untouched += untouched(r);
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
    m->untouched += untouched(add);
    return removed;
}

uint64_t an_maps_set(an_maps *m, uint64_t addr, uint64_t bytes, an_range **range)
{
    size_t i = first_after(m, addr);
    if (i == m->n || m->r[i].start != addr)
        return UINT64_MAX;
    an_range *r = *range = &m->r[i];
    if (bytes > r->end - r->start)
        return UINT64_MAX - 1;
    uint64_t was = r->bytes;
    m->untouched -= untouched(r);
    r->bytes = bytes;
    r->measured = 1;
    m->untouched += untouched(r);
    return was;
}

void an_maps_free(an_maps *m)
{
    free(m->r);
    memset(m, 0, sizeof *m);
}
