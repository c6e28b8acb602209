/* test_plot.c: analyze/an_plot.c: downsampling keeps at most AN_PLOT_BUCKETS buckets
 * and every extreme, labels become one safe data field, regions pair up.
 * No framework: one line per failed case, then "N passed, N failed". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../analyze/an.h"

static int failed, passed;

#define CHECK(name, cond) do { if (cond) passed++; else { failed++; \
    printf("FAIL %s: %s (line %d)\n", name, #cond, __LINE__); } } while (0)

static size_t used(const an_series *s)
{
    size_t n = 0;
    for (size_t i = 0; i < AN_PLOT_BUCKETS; i++)
        n += s->b[i].n != 0;
    return n;
}

/* Whether the point (t, v) is some bucket's low or high. */
static int kept(const an_series *s, uint64_t t, uint64_t v)
{
    for (size_t i = 0; i < AN_PLOT_BUCKETS; i++)
        if (s->b[i].n && ((s->b[i].hi.t_us == t && s->b[i].hi.v == v) ||
                          (s->b[i].lo.t_us == t && s->b[i].lo.v == v)))
            return 1;
    return 0;
}

static void series_ten_hours(void)
{
    static an_series s;
    an_series_init(&s);
    const uint64_t n = 10ull * 3600 * 100, spike = 1234567, dip = 2345678;
    for (uint64_t i = 0; i < n; i++) {
        uint64_t v = 1000000 + (i % 5000) * 100;   /* a sawtooth */
        an_series_add(&s, i * 10000, i == spike ? 99999999 : i == dip ? 7 : v);
    }
    CHECK("series-ten-hours-buckets",
          used(&s) <= AN_PLOT_BUCKETS && used(&s) >= AN_PLOT_BUCKETS / 2);
    CHECK("series-ten-hours-spike", kept(&s, spike * 10000, 99999999));
    CHECK("series-ten-hours-dip", kept(&s, dip * 10000, 7));
    CHECK("series-ten-hours-max", s.max == 99999999 && s.end_us == (n - 1) * 10000);
}

static void series_short_keeps_all(void)
{
    static an_series s;
    an_series_init(&s);
    for (uint64_t i = 0; i < 150; i++)
        an_series_add(&s, i * 10000, i * 3);
    CHECK("series-short-keeps-all", used(&s) == 150);
    int all = 1;
    for (uint64_t i = 0; i < 150; i++)
        all &= kept(&s, i * 10000, i * 3);
    CHECK("series-short-every-point", all);
}

static char *capture(void (*fn)(FILE *, const void *), const void *arg)
{
    char *text = NULL;
    size_t len;
    FILE *f = open_memstream(&text, &len);
    fn(f, arg);
    fclose(f);
    return text;
}

static void put_label(FILE *f, const void *s)
{
    an_plot_label(f, s, strlen(s));
}

static void label_one_field(void)
{
    char *t = capture(put_label, "a\tb\nc\"d`e'\x7f\x01");
    CHECK("label-one-field", !strchr(t, '\t') && !strchr(t, '\n') && !strchr(t, '"'));
    CHECK("label-kept", !strcmp(t, "a b c\xE2\x80\x9D" "d`e'  "));
    free(t);
    t = capture(put_label, "");
    CHECK("label-never-empty", *t);
    free(t);
}

static void put_data(FILE *f, const void *arg)
{
    const an_plot *p = arg;
    an_marker m[] = {
        {"a", 1, FT_MARK_BEGIN, 1, 100, 0}, {"a", 1, FT_MARK_BEGIN, 1, 200, 0},
        {"a", 1, FT_MARK_END, 1, 300, 0}, {"x", 1, FT_MARK_POINT, 1, 350, 5},
        {"a", 1, FT_MARK_END, 1, 400, 0}, {"open", 4, FT_MARK_BEGIN, 2, 500, 0},
    };
    an_plot_peak peak = {250, 42, 900, "peak"};
    an_plot_data(f, p, m, sizeof m / sizeof *m, &peak);
}

static void data_blocks(void)
{
    static an_plot p;
    an_series_init(&p.heap);
    an_series_init(&p.rss);
    an_series_add(&p.heap, 250, 42);
    char *t = capture(put_data, &p);
    CHECK("data-regions-nested", strstr(t, "0.000100\t0.000400\ta\n0.000200\t0.000300\ta\n"));
    CHECK("data-region-open-to-end", strstr(t, "0.000500\t0.000900\topen\n"));
    CHECK("data-marker", strstr(t, "0.000350\t5\tx\n"));
    CHECK("data-empty-rss-block-kept", strstr(t, "# rss: time_s\tbytes (each bucket's low and "
                                                 "high, in time order)\nNaN\tNaN\n"));
    CHECK("data-peak", strstr(t, "# peak: time_s\tbytes\tlabel\n0.000250\t42\tpeak\n"));
    free(t);
}

int main(void)
{
    series_ten_hours();
    series_short_keeps_all();
    label_one_field();
    data_blocks();
    printf("test_plot: %d passed, %d failed\n", passed, failed);
    return failed != 0;
}
