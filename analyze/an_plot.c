/* an_plot.c: memory over time for `filrec plot`: the samples of a replay kept in at
 * most AN_PLOT_BUCKETS time buckets per series, each bucket keeping its lowest and its
 * highest point (a ten-hour trace stays small and no peak is smoothed away), and the
 * gnuplot data file, where every label travels as data, never as script text. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "an.h"

/* The line of an empty block: without a record gnuplot would not count the block, and
 * `index` would name the next one. */
#define NONE "NaN\tNaN"

void an_series_init(an_series *s)
{
    memset(s, 0, sizeof *s);
    s->width_us = 1000; /* one millisecond: a short trace keeps every sample */
}

static void bucket_add(an_bucket *b, uint64_t t_us, uint64_t v)
{
    if (!b->n || v < b->lo.v)
        b->lo = (an_point){t_us, v};
    if (!b->n || v > b->hi.v)
        b->hi = (an_point){t_us, v};
    b->n++;
}

/* Two neighbouring buckets as one: the lower of the lows, the higher of the highs,
 * the earlier point winning ties so the series keeps its first extreme. */
static an_bucket bucket_merge(const an_bucket *a, const an_bucket *b)
{
    if (!a->n || !b->n)
        return a->n ? *a : *b;
    an_bucket m = *a;
    if (b->lo.v < m.lo.v)
        m.lo = b->lo;
    if (b->hi.v > m.hi.v)
        m.hi = b->hi;
    m.n += b->n;
    return m;
}

void an_series_add(an_series *s, uint64_t t_us, uint64_t v)
{
    while (t_us / s->width_us >= AN_PLOT_BUCKETS) {
        for (size_t i = 0; i < AN_PLOT_BUCKETS / 2; i++)
            s->b[i] = bucket_merge(&s->b[2 * i], &s->b[2 * i + 1]);
        memset(s->b + AN_PLOT_BUCKETS / 2, 0, AN_PLOT_BUCKETS / 2 * sizeof *s->b);
        s->width_us *= 2;
    }
    bucket_add(&s->b[t_us / s->width_us], t_us, v);
    if (v > s->max)
        s->max = v;
    if (t_us > s->end_us)
        s->end_us = t_us;
}

int an_plot_sample(void *ctx, uint64_t time_us, uint64_t rss, uint64_t heap)
{
    an_plot *p = ctx;
    an_series_add(&p->heap, time_us, heap);
    if (rss)
        an_series_add(&p->rss, time_us, rss);
    p->nsamples++;
    return 0;
}

/* Seconds, exact to the microsecond. */
static void put_time(FILE *out, uint64_t t_us)
{
    fprintf(out, "%llu.%06llu", (unsigned long long)(t_us / 1000000),
            (unsigned long long)(t_us % 1000000));
}

static void put_series(FILE *out, const an_series *s, const char *name)
{
    fprintf(out, "# %s: time_s\tbytes (each bucket's low and high, in time order)\n", name);
    int empty = 1;
    for (size_t i = 0; i < AN_PLOT_BUCKETS; i++) {
        const an_bucket *b = &s->b[i];
        if (!b->n)
            continue;
        empty = 0;
        const an_point *first = b->lo.t_us <= b->hi.t_us ? &b->lo : &b->hi;
        const an_point *second = first == &b->lo ? &b->hi : &b->lo;
        put_time(out, first->t_us);
        fprintf(out, "\t%llu\n", (unsigned long long)first->v);
        if (b->n > 1 && (second->t_us != first->t_us || second->v != first->v)) {
            put_time(out, second->t_us);
            fprintf(out, "\t%llu\n", (unsigned long long)second->v);
        }
    }
    if (empty)
        fputs(NONE "\n", out);
}

void an_plot_label(FILE *out, const char *s, size_t n)
{
    char *u = an_utf8(s, n);
    const unsigned char *p = (const unsigned char *)(u ? u : "?");
    if (!*p)
        fputs("(empty)", out); /* an empty field would be a missing value */
    for (; *p; p++) {
        if (*p == '"')
            fputs("\xE2\x80\x9D", out); /* gnuplot's data files have no escape for it */
        else if (*p < 0x20 || *p == 0x7f)
            fputc(' ', out);
        else
            fputc(*p, out);
    }
    free(u);
}

/* The region a BEGIN at index i opens closes at the next END of the same label and
 * thread not taken by a nested BEGIN of that label; SIZE_MAX: still open at the end. */
static size_t region_end(const an_marker *m, size_t n, size_t i)
{
    size_t depth = 0;
    for (size_t k = i + 1; k < n; k++) {
        if (m[k].thread != m[i].thread || m[k].len != m[i].len ||
            memcmp(m[k].label, m[i].label, m[i].len))
            continue;
        if (m[k].type == FT_MARK_BEGIN)
            depth++;
        else if (m[k].type == FT_MARK_END && depth-- == 0)
            return k;
    }
    return SIZE_MAX;
}

static void put_markers(FILE *out, const an_marker *m, size_t n, uint64_t end_us)
{
    fputs("\n\n# markers: time_s\tlive_bytes\tlabel\n", out);
    if (!an_plot_count(m, n, FT_MARK_POINT))
        fputs(NONE "\t-\n", out);
    for (size_t i = 0; i < n; i++) {
        if (m[i].type != FT_MARK_POINT)
            continue;
        put_time(out, m[i].time_us);
        fprintf(out, "\t%llu\t", (unsigned long long)m[i].live);
        an_plot_label(out, m[i].label, m[i].len);
        fputc('\n', out);
    }
    fputs("\n\n# regions: begin_s\tend_s\tlabel\n", out);
    if (!an_plot_count(m, n, FT_MARK_BEGIN))
        fputs(NONE "\t-\n", out);
    for (size_t i = 0; i < n; i++) {
        if (m[i].type != FT_MARK_BEGIN)
            continue;
        size_t k = region_end(m, n, i);
        put_time(out, m[i].time_us);
        fputc('\t', out);
        put_time(out, k == SIZE_MAX ? end_us : m[k].time_us);
        fputc('\t', out);
        an_plot_label(out, m[i].label, m[i].len);
        fputc('\n', out);
    }
}

int an_plot_data(FILE *out, const an_plot *p, const an_marker *m, size_t n,
                 const an_plot_peak *peak)
{
    fputs("# filrec plot data: tab-separated blocks, two blank lines apart\n", out);
    put_series(out, &p->heap, "heap");
    fputs("\n\n", out);
    put_series(out, &p->rss, "rss");
    put_markers(out, m, n, peak->end_us);
    fputs("\n\n# peak: time_s\tbytes\tlabel\n", out);
    put_time(out, peak->time_us);
    fprintf(out, "\t%llu\t", (unsigned long long)peak->bytes);
    an_plot_label(out, peak->label, strlen(peak->label));
    fputc('\n', out);
    return ferror(out) ? -1 : 0;
}

size_t an_plot_count(const an_marker *m, size_t n, unsigned type)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += m[i].type == type;
    return k;
}
