/* cmd_report.c: `filrec report`, and the folder `filrec run` leaves next to a trace:
 * index.html (the peak, the command, the top locations, temporary allocations, links),
 * the peak flamegraph and its reverse, memory over time (memory.svg, when gnuplot is
 * installed). Two replays: the first counts temporaries, samples memory over time and
 * finds the peak; the second stops at it and feeds every table and picture. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../analyze/an.h"
#include "cli.h"

static const char usage[] =
    "usage: filrec report [-o DIR] TRACE\n"
    "\n"
    "Write a report folder: index.html with the peak, the command, the locations live at\n"
    "the peak and the temporary allocations, plus the peak flamegraph (peak.svg) and\n"
    "its reverse (peak-reversed.svg), and memory over time (memory.svg, drawn by gnuplot\n"
    "when it is installed). `filrec run` writes one after each run.\n"
    "\n"
    "  -o DIR       the folder (default: TRACE's name with -report)\n"
    "  -h, --help   show this help\n";

#define TOP 25

static void h(FILE *f, const char *s) { an_xml(f, s, strlen(s)); }

/* The width and height of an SVG this report wrote (its root's attributes); left as
 * they are when the file cannot be read. */
static void svg_size(const char *dir, const char *name, unsigned *w, unsigned *h)
{
    char path[4200], head[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "re");
    size_t n = f ? fread(head, 1, sizeof head - 1, f) : 0;
    if (f)
        fclose(f);
    head[n] = 0;
    const char *svg = strstr(head, "<svg"), *pw = svg ? strstr(svg, " width=\"") : NULL,
               *ph = svg ? strstr(svg, " height=\"") : NULL;
    unsigned a, b;
    if (pw && ph && sscanf(pw, " width=\"%u\"", &a) == 1 && sscanf(ph, " height=\"%u\"", &b) == 1 &&
        a && b && a < 100000 && b < 1000000) {
        *w = a;
        *h = b;
    }
}

static void location(FILE *f, const an_defs *d, const an_loc *l)
{
    size_t n;
    if (!l->func || l->func >= d->nfunc) {
        fputs("[no Python stack]", f);
        return;
    }
    const char *s = an_defs_string(d, d->func[l->func].file, &n);
    fputs("<code>", f);
    an_xml(f, s, n);
    fprintf(f, ":%u</code> ", l->line);
    s = an_defs_string(d, d->func[l->func].name, &n);
    an_xml(f, s, n);
    if (l->via_func && l->via_func < d->nfunc) { /* the library call it went through */
        s = an_defs_string(d, d->func[l->via_func].name, &n);
        fputs(" <span class=\"via\">&#8594; ", f);
        an_xml(f, s, n);
        s = an_defs_string(d, d->func[l->via_func].file, &n);
        const char *base = memrchr(s, '/', n);
        size_t skip = base ? (size_t)(base + 1 - s) : 0;
        fputs(" (", f);
        an_xml(f, s + skip, n - skip);
        fprintf(f, ":%u)</span>", l->via_line);
    }
}

static void table_peak(FILE *f, const an_replay *rp, const an_loc *loc, size_t n, uint64_t peak)
{
    char a[32], b[32];
    fprintf(f, "<table><tr><th>bytes at peak</th>%s<th>%%</th><th>blocks</th><th>location</th>"
            "</tr>\n", rp->sample ? "<th>\u00b1 95%</th>" : "");
    for (size_t i = 0; i < n && i < TOP; i++) {
        fprintf(f, "<tr><td data-bytes=\"%llu\">%s</td>", (unsigned long long)loc[i].bytes,
                an_human(loc[i].bytes, a, sizeof a));
        if (rp->sample)
            fprintf(f, "<td data-error=\"%llu\">%s</td>",
                    (unsigned long long)an_bound95(loc[i].var),
                    an_human(an_bound95(loc[i].var), b, sizeof b));
        fprintf(f, "<td>%.1f%%</td><td>%s</td><td>",
                peak ? 100.0 * (double)loc[i].bytes / (double)peak : 0,
                an_commas(loc[i].blocks, b, sizeof b));
        location(f, &rp->defs, &loc[i]);
        const char *note = cli_no_python_note(rp);
        if (!loc[i].func && note) {
            fputs(" <span class=\"note\">(", f);
            an_xml(f, note, strlen(note));
            fputs(")</span>", f);
        }
        fputs("</td></tr>\n", f);
    }
    fputs("</table>\n", f);
}

static void table_temp(FILE *f, const an_defs *d, const an_loc *loc, size_t n)
{
    char a[32], b[32], c[32];
    if (!n) {
        fputs("<p>None.</p>\n", f);
        return;
    }
    fputs("<table><tr><th>count</th><th>bytes</th><th>average</th><th>location</th></tr>\n", f);
    for (size_t i = 0; i < n && i < TOP; i++) {
        fprintf(f, "<tr><td data-count=\"%llu\">%s</td><td>%s</td><td>%s</td><td>",
                (unsigned long long)loc[i].blocks, an_commas(loc[i].blocks, a, sizeof a),
                an_human(loc[i].bytes, b, sizeof b),
                an_human(loc[i].blocks ? loc[i].bytes / loc[i].blocks : 0, c, sizeof c));
        location(f, d, &loc[i]);
        fputs("</td></tr>\n", f);
    }
    fputs("</table>\n", f);
}

static int write_svg(const char *dir, const char *name, const an_replay *rp, int reversed,
                     const char *title)
{
    char path[4200];
    snprintf(path, sizeof path, "%.4096s/%.64s", dir, name);
    an_tree t;
    if (an_tree_build_hiding(&t, rp, reversed))
        return -1;
    an_flame_opts o = {title, reversed ? "Reversed: innermost frames at the top, their callers "
                                         "below. Click a frame to zoom, type to search."
                                       : "Each frame's width is the bytes live under it at the "
                                         "peak. Click a frame to zoom, type to search.", reversed};
    FILE *f = fopen(path, "w");
    int rc = !f || an_flame_svg(f, &t, &rp->defs, &o);
    if (f && fclose(f))
        rc = 1;
    an_tree_free(&t);
    return rc ? -1 : 0;
}

/* A job's part of the page: its peak, its processes, its flamegraph (job.svg). The
 * rest of the page is the first process's. */
static void job_section(FILE *f, const an_job *j)
{
    char a[32], b[32];
    fprintf(f, "<h2>The job: %zu processes</h2>\n<p id=\"job\" data-processes=\"%zu\" "
            "data-bytes=\"%llu\">Together at most %s at %.3f s (added up at the moments "
            "filrec sampled them all). <a href=\"job.svg\">Job flamegraph</a>, one frame per "
            "process. The rest of this page is the first process's.</p>\n<table>\n"
            "<tr><th>pid</th><th>parent</th><th>own peak</th><th>at the job's peak</th>"
            "<th>trace</th></tr>\n", j->n, j->n, (unsigned long long)j->peak,
            an_human(j->peak, a, sizeof a), (double)j->peak_time_us / 1e6);
    for (size_t i = 0; i < j->n; i++) {
        const an_proc *p = &j->procs[i];
        fprintf(f, "<tr><td>%llu</td><td>%llu</td><td>%s</td><td>%s</td><td><code>",
                (unsigned long long)p->pid, (unsigned long long)p->ppid,
                an_human(p->peak, a, sizeof a), an_human(p->at_job_peak, b, sizeof b));
        h(f, p->path);
        fputs("</code></td></tr>\n", f);
    }
    fputs("</table>\n", f);
}

static int write_index(const char *dir, const an_replay *rp, const an_loc *loc, size_t n,
                       const char *temps, uint64_t peak, uint64_t peak_us,
                       uint64_t end_us, uint64_t total, uint64_t allocs, int early,
                       const char *damage,
                       int plotted, const an_job *job)
{
    char path[4200], a[32], b[32];
    snprintf(path, sizeof path, "%.4096s/index.html", dir);
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    const ft_header *hd = &rp->hdr;
    char *cmd = malloc(hd->cmdline_len + 1);
    if (cmd) {
        memcpy(cmd, hd->cmdline, hd->cmdline_len);
        for (size_t i = 0; i < hd->cmdline_len; i++)
            if (!cmd[i])
                cmd[i] = ' ';
        cmd[hd->cmdline_len] = 0;
    }
    fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>filrec: ", f);
    h(f, cmd ? cmd : "?");
    fputs("</title>\n<style>\nbody{font:14px sans-serif;margin:2em;max-width:1250px}\n"
          "table{border-collapse:collapse;margin:1em 0}td,th{padding:3px 10px;text-align:right}"
          "td:last-child,th:last-child{text-align:left}tr:nth-child(even){background:#f3f3f3}\n"
          "code{font-size:13px}.flame{overflow:auto;border:1px solid #ccc}"
          "object{display:block}\n"
          "dl{display:grid;grid-template-columns:max-content auto;gap:4px 16px}dd{margin:0}\n"
          "</style></head><body>\n<h1>Memory report</h1>\n<dl>\n<dt>command</dt><dd><code>", f);
    h(f, cmd ? cmd : "?");
    char u[96];
    fprintf(f, "</code></dd>\n<dt>peak</dt><dd id=\"peak\" data-bytes=\"%llu\">%s (%s bytes) "
            "at %.3f s</dd>\n", (unsigned long long)peak, an_human(peak, a, sizeof a),
            an_commas(peak, b, sizeof b), (double)peak_us / 1e6);
    if (rp->sample)
        fprintf(f, "<dt>sampled</dt><dd id=\"sampled\" data-bytes=\"%llu\" data-error=\"%llu\">"
                "one allocation in every %s allocated, on average, and each of that size or "
                "more: bytes are estimates; the peak is within %s of it, at 95%%</dd>\n",
                (unsigned long long)rp->sample,
                (unsigned long long)an_bound95((double)rp->peak_var), cli_interval(rp->sample, a, sizeof a),
                an_human(an_bound95((double)rp->peak_var), b, sizeof b));
    if (*cli_untouched(rp->peak_untouched, u, sizeof u))
        fprintf(f, "<dt>reserved</dt><dd id=\"untouched\" data-bytes=\"%llu\">%s: large "
                "mappings count the pages that became resident</dd>\n",
                (unsigned long long)rp->peak_untouched, u);
    fprintf(f, "<dt>duration</dt><dd>%.3f s%s</dd>\n", (double)end_us / 1e6,
            damage[0] ? " (the trace is damaged: only the part before the damage is shown)"
            : early ? " (the trace ends early: the process was killed)" : "");
    if (damage[0]) {
        fputs("<dt>damage</dt><dd id=\"damage\">", f);
        h(f, damage);
        fputs("</dd>\n", f);
    }
    fprintf(f, "<dt>allocated</dt><dd>%s in %s allocations</dd>\n<dt>trace</dt><dd><code>",
            an_human(total, a, sizeof a), an_commas(allocs, b, sizeof b));
    h(f, rp->path);
    fputs("</code></dd>\n</dl>\n", f);
    if (job)
        job_section(f, job);
    fputs("<p><a href=\"peak.svg\">Peak flamegraph</a> &middot; "
          "<a href=\"peak-reversed.svg\">reversed (who allocated through a function)</a></p>\n"
          "<div class=\"flame\">", f);
    /* At the SVG's own size, so that its labels read as they do in peak.svg; the
     * frame scrolls when the page is narrower. */
    unsigned sw = 1200, sh = 600;
    svg_size(dir, "peak.svg", &sw, &sh);
    fprintf(f, "<object data=\"peak.svg\" type=\"image/svg+xml\" width=\"%u\" height=\"%u\">"
            "</object></div>\n<h2>Memory over time</h2>\n", sw, sh);
    if (plotted == 0)
        fputs("<p><img src=\"memory.svg\" alt=\"tracked heap and RSS over time\" "
              "style=\"max-width:100%\"></p>\n", f);
    else
        fprintf(f, "<p>No plot: %s.</p>\n", plotted == 2 ? "it needs gnuplot (Debian package "
                "gnuplot-nox); <code>filrec plot</code> draws one" : "gnuplot failed");
    fputs("<h2>Live at the peak, by the line of your code</h2>\n", f);
    table_peak(f, rp, loc, n, peak);
    fputs("<h2>Temporary allocations</h2>\n<p>Allocations freed while at most one newer "
          "allocation of their thread was live: memory churn, largest first.</p>\n", f);
    fputs(temps, f);
    fputs("<p>Made by filrec. <code>filrec summary</code>, <code>filrec lines</code> and "
          "<code>filrec stats</code> tell more.</p>\n</body></html>\n", f);
    free(cmd);
    return fclose(f) ? -1 : 0;
}

/* The job of trace, when it has one (trace.d/ beside it): 1 with *j run, 0 if none,
 * -1 on an error (said). */
static int load_job(const char *trace, an_job *j)
{
    char **paths, msg[600];
    size_t n;
    if (an_job_paths(trace, &paths, &n) || n < 2) {
        if (n < 2)
            an_job_paths_free(paths, n);
        return 0;
    }
    int err = an_job_run(j, paths, n, msg, sizeof msg, 0);
    if (err) {
        cli_error("%s", msg);
        an_job_free(j);
        an_job_paths_free(paths, n);
        return -1;
    }
    /* the paths must outlive the job: they are its processes' names */
    j->paths = paths;
    j->npaths = n;
    return 1;
}

/* The one-line answer: "peak 505 MB at 1.593 s: FILE:LINE FUNC holds 400 MB". */
static void answer(char *said, size_t cap, const an_defs *d, const an_loc *loc, size_t n,
                   uint64_t peak, uint64_t peak_us, uint64_t untouched, uint64_t err)
{
    char a[32], b[32], u[96] = "", e[48] = "";
    if (untouched)
        snprintf(u, sizeof u, " (not counting %s mapped but never touched)",
                 an_human(untouched, b, sizeof b));
    if (err) /* sampled: the 95% bound */
        snprintf(e, sizeof e, " \u00b1 %s", an_human(err, b, sizeof b));
    int k = snprintf(said, cap, "peak %s%s at %.3f s%s", an_human(peak, a, sizeof a), e,
                     (double)peak_us / 1e6, u);
    if (k < 0 || (size_t)k >= cap || !n)
        return;
    if (!loc[0].func || loc[0].func >= d->nfunc) {
        snprintf(said + k, cap - (size_t)k, "; [no Python stack] holds %s",
                 an_human(loc[0].bytes, b, sizeof b));
        return;
    }
    size_t fl, nl;
    const char *file = an_defs_string(d, d->func[loc[0].func].file, &fl);
    const char *name = an_defs_string(d, d->func[loc[0].func].name, &nl);
    snprintf(said + k, cap - (size_t)k, "; %.*s:%u %.*s holds %s", (int)(fl < 1000 ? fl : 1000),
             file, loc[0].line, (int)(nl < 200 ? nl : 200), name, an_human(loc[0].bytes, b, sizeof b));
    for (char *c = said; *c; c++) /* one line, whatever the names hold */
        if ((unsigned char)*c < 0x20)
            *c = '?';
}

int cli_report(const char *trace, const char *dir, char *answer_out, size_t cap)
{
    if (answer_out && cap)
        answer_out[0] = 0;
    char dflt[4096];
    if (!dir) {
        size_t n = strlen(trace);
        if (n > 4 && !strcmp(trace + n - 4, ".bin"))
            n -= 4;
        snprintf(dflt, sizeof dflt, "%.*s-report", (int)(n < 4000 ? n : 4000), trace);
        dir = dflt;
    }
    if (mkdir(dir, 0755) && errno != EEXIST) {
        cli_error("cannot make '%s': %s", dir, strerror(errno));
        return 1;
    }
    an_replay rp;
    cli_plot_input *pin = cli_plot_start(); /* NULL: out of memory, no plot */
    int one = cli_one_pass();
    if (cli_replayed(&rp, trace, an_replay_temporaries_samples(&rp, trace, 2, pin ?
                     cli_plot_on_sample : NULL, pin, one, one ? CLI_ONE_PASS : CLI_PASS_1), 1)) {
        cli_plot_finish(pin, trace, NULL);
        return 1;
    }
    if (pin)
        cli_plot_whole(pin, &rp);
    uint64_t peak = rp.peak, peak_us = rp.peak_time_us, peak_event = rp.peak_event;
    uint64_t end_us = rp.end_us, total = rp.total_bytes;
    uint64_t allocs = rp.counts[FT_ALLOC] + rp.counts[FT_MMAP];
    int early = rp.ended_early;
    char damage[sizeof rp.damage];
    memcpy(damage, rp.damage, sizeof damage);
    an_loc *tmp = NULL, *loc = NULL;
    size_t ntmp = 0, n = 0;
    uint64_t *blocks = calloc(rp.ntemp + 1, sizeof *blocks), *bytes = calloc(rp.ntemp + 1, sizeof *bytes);
    for (size_t s = 0; blocks && bytes && s < rp.ntemp; s++)
        blocks[s] = rp.temp[s].count, bytes[s] = rp.temp[s].bytes;
    int rc = !blocks || !bytes || an_group(&rp.defs, bytes, blocks, NULL, rp.ntemp, AN_BY_CODE, &tmp, &ntmp);
    free(blocks), free(bytes); /* largest bytes first: the churn that costs most */
    /* The table is written now: its names may be defined after the peak, where the
     * second replay stops. */
    char *temps = NULL;
    size_t ntemps = 0;
    FILE *mf = rc ? NULL : open_memstream(&temps, &ntemps);
    if (mf) {
        table_temp(mf, &rp.defs, tmp, ntmp);
        rc = fclose(mf) != 0;
    } else {
        rc = 1;
    }
    free(tmp);
    if (!one)
        an_replay_free(&rp);
    if (rc || (!one && cli_replay(&rp, trace, peak_event, 0))) {
        if (one)
            an_replay_free(&rp);
        free(temps);
        cli_plot_finish(pin, trace, NULL);
        return 1;
    }
    char title[512], a[32];
    snprintf(title, sizeof title, "Peak memory: %s at %.3f s of %.3f s", an_human(peak, a, sizeof a),
             (double)peak_us / 1e6, (double)end_us / 1e6);
    rc = an_peak_locations(&rp, AN_BY_CODE, &loc, &n);
    if (!rc && answer_out && cap)
        answer(answer_out, cap, &rp.defs, loc, n, peak, peak_us, rp.peak_untouched,
               rp.sample ? an_bound95((double)rp.peak_var) : 0);
    char svg[4200];
    snprintf(svg, sizeof svg, "%.4096s/memory.svg", dir);
    int plotted = 1; /* gnuplot missing (2) or failing (1): a note in the page, not an error */
    if (pin && !rc) {
        cli_plot_peak(pin, &rp.defs, loc, n);
        plotted = cli_plot_finish(pin, trace, svg);
    } else {
        cli_plot_finish(pin, trace, NULL);
    }
    an_job job;
    int has_job = rc ? 0 : load_job(trace, &job);
    char jsvg[4200];
    snprintf(jsvg, sizeof jsvg, "%.4096s/job.svg", dir);
    /* the job's loading and flamegraph say what went wrong themselves */
    int said = !rc && (has_job < 0 || (has_job > 0 && cli_job_flamegraph(&job, jsvg, NULL, 0, 1)));
    rc = rc || said || write_svg(dir, "peak.svg", &rp, 0, title) ||
         write_svg(dir, "peak-reversed.svg", &rp, 1, title) ||
         write_index(dir, &rp, loc, n, temps, peak, peak_us, end_us, total, allocs, early, damage,
                     plotted, has_job > 0 ? &job : NULL);
    if (has_job > 0) {
        an_job_paths_free(job.paths, job.npaths);
        an_job_free(&job);
    }
    if (rc && !said)
        cli_error("cannot write the report in '%s': %s", dir, strerror(errno));
    else if (!rc)
        fprintf(stderr, "filrec: report written to %s/index.html\n", dir);
    free(loc);
    free(temps);
    an_replay_free(&rp);
    return rc;
}

int cmd_report(int argc, char **argv)
{
    const char *path = NULL, *dir = NULL;
    for (int i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            fputs(usage, stdout);
            return 0;
        } else if (!strcmp(argv[i], "-o") && i + 1 < argc) {
            dir = argv[++i];
        } else if (argv[i][0] == '-' && argv[i][1]) {
            cli_error("unknown option '%s' for report; see 'filrec report --help'", argv[i]);
            return 1;
        } else if (path) {
            cli_error("report reads one trace; got '%s' and '%s'", path, argv[i]);
            return 1;
        } else {
            path = argv[i];
        }
    }
    if (!path) {
        fputs(usage, stderr);
        return 1;
    }
    return cli_report(path, dir, NULL, 0);
}
