/* cmd_plot.c: `filrec plot`: tracked heap and RSS over time, the peak, markers and
 * regions, drawn by gnuplot (a subprocess reading the script on its stdin). Safety:
 * gnuplot runs shell commands from backquotes and system(), so no name from the trace
 * ever enters the script: labels travel in the data file; the only strings in the
 * script (title, data file name) are single-quoted, where gnuplot substitutes nothing. */
#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../analyze/an.h"
#include "cli.h"

extern char **environ;

static const char usage[] =
    "usage: filrec plot [-o OUT.png|OUT.svg|OUT.pdf] [--width W] [--height H] [--title T]\n"
    "                   [--data FILE] TRACE\n"
    "\n"
    "Draw memory over time with gnuplot: the tracked heap (exact at every sample) and\n"
    "the process RSS, the peak with its bytes and top allocating line, markers as\n"
    "vertical lines and regions as shaded spans (filrec.mark, filrec.region). For a\n"
    "job (TRACE with TRACE.d/ beside it), all processes together and the largest each.\n"
    "\n"
    "  -o FILE        the picture; .png, .svg or .pdf (default: TRACE's name with .png)\n"
    "  --width W      width in pixels (default 1200; for .pdf, hundredths of an inch)\n"
    "  --height H     height in pixels (default 600)\n"
    "  --title T      the title (default: the command that was recorded)\n"
    "  --data FILE    keep the data in FILE and the gnuplot script in FILE.gp\n"
    "  -h, --help     show this help\n"
    "\n"
    "Needs the gnuplot program (Debian: gnuplot-nox).\n";

enum term { PNG, SVG, PDF };

struct opts {
    const char *path, *out, *title, *data;
    long width, height;
    int quiet;              /* for the report: no missing-gnuplot error */
};

/* What the replays found, for the data file and the script. */
struct cli_plot_input {
    an_plot *plot;
    an_marker *markers;     /* taken over from the replay */
    size_t nmarkers;
    an_plot_peak peak;
    char label[1200];       /* peak 1.2 GB at 3.4 s: file:line function */
    char cmd[1024];         /* the recorded command line, arguments joined by spaces */
};

/* The terminal for out's extension, or -1. */
static int term_of(const char *out)
{
    const char *dot = strrchr(out, '.');
    if (!dot || strchr(dot, '/'))
        return -1;
    return !strcasecmp(dot, ".png") ? PNG : !strcasecmp(dot, ".svg") ? SVG
         : !strcasecmp(dot, ".pdf") ? PDF : -1;
}

/* s as a gnuplot single-quoted string, where no backquote or macro substitution
 * happens (gnuplot manual, "substitution"). The manual's escape for ', doubling it,
 * is unsafe: gnuplot 5.4 ends 'a''''b' after a' and parses the rest as commands. So
 * ' becomes U+2019 and, for good measure, ` U+2018; control characters are spaces. */
static void gp_quote(FILE *f, const char *s, size_t n)
{
    char *u = an_utf8(s, n);
    fputc('\'', f);
    for (const unsigned char *p = (const unsigned char *)(u ? u : "?"); *p; p++) {
        if (*p == '\'')
            fputs("\xE2\x80\x99", f);
        else if (*p == '`')
            fputs("\xE2\x80\x98", f);
        else if (*p < 0x20 || *p == 0x7f)
            fputc(' ', f);
        else
            fputc(*p, f);
    }
    fputc('\'', f);
    free(u);
}

/* The label of the peak: its bytes, time and the top location, from the locations
 * live at the peak (loc, n) and the definitions they refer to. */
static void set_label(struct cli_plot_input *in, const an_defs *d, const an_loc *loc, size_t n)
{
    char a[32];
    int k = snprintf(in->label, sizeof in->label, "peak %s at %.2f s",
                     an_human(in->peak.bytes, a, sizeof a), (double)in->peak.time_us / 1e6);
    if (n && loc[0].func && loc[0].func < d->nfunc) {
        size_t fl, nl;
        const char *file = an_defs_string(d, d->func[loc[0].func].file, &fl);
        const char *name = an_defs_string(d, d->func[loc[0].func].name, &nl);
        snprintf(in->label + k, sizeof in->label - (size_t)k, ": %.*s:%u %.*s",
                 (int)(fl < 500 ? fl : 500), file, loc[0].line, (int)(nl < 400 ? nl : 400), name);
    } else if (n) {
        snprintf(in->label + k, sizeof in->label - (size_t)k, ": [no Python stack]");
    }
}

/* The second replay, to the peak, for the label. */
static int peak_label(struct cli_plot_input *in, const char *path, uint64_t peak_event)
{
    an_replay rp;
    an_loc *loc = NULL;
    size_t n = 0;
    set_label(in, NULL, NULL, 0);
    if (!peak_event)
        return 0;
    if (cli_replay(&rp, path, peak_event, 0))
        return 1;
    if (an_peak_locations(&rp, AN_BY_CODE, &loc, &n)) {
        cli_error("out of memory");
        an_replay_free(&rp);
        return 1;
    }
    set_label(in, &rp.defs, loc, n);
    free(loc);
    an_replay_free(&rp);
    return 0;
}

/* What a whole replay that fed an_plot_sample leaves for the plot: the exact peak and
 * end points, the command, the markers (taken over). */
static void take_replay(struct cli_plot_input *in, an_replay *rp)
{
    /* The peak can fall between samples: its exact point is part of the series. */
    an_series_add(&in->plot->heap, rp->peak_time_us, rp->peak);
    an_series_add(&in->plot->heap, rp->end_us, rp->cur);
    in->peak = (an_plot_peak){rp->peak_time_us, rp->peak, rp->end_us, in->label};
    size_t n = rp->hdr.cmdline_len < sizeof in->cmd - 1 ? rp->hdr.cmdline_len : sizeof in->cmd - 1;
    memcpy(in->cmd, rp->hdr.cmdline, n);
    for (size_t i = 0; i < n; i++)
        if (!in->cmd[i])
            in->cmd[i] = ' ';
    in->cmd[n] = 0;
    in->markers = rp->markers;
    in->nmarkers = rp->nmarkers;
    rp->markers = NULL;
    rp->nmarkers = 0;
}

/* First replay: samples, markers and the peak; then the peak's location. */
static int collect(struct cli_plot_input *in, const char *path)
{
    an_replay rp;
    if (cli_replayed(&rp, path, an_replay_samples(&rp, path, an_plot_sample, in->plot, CLI_PASS_1), 1))
        return 1;
    take_replay(in, &rp);
    uint64_t peak_event = rp.peak_event;
    an_replay_free(&rp);
    return peak_label(in, path, peak_event);
}

static void script_terminal(FILE *f, enum term t, long w, long h)
{
    if (t == PNG)
        fprintf(f, "if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) {\n"
                   "  set terminal pngcairo size %ld,%ld noenhanced font 'Sans,10'\n"
                   "} else {\n  set terminal png size %ld,%ld noenhanced\n}\n", w, h, w, h);
    else if (t == SVG)
        fprintf(f, "set terminal svg size %ld,%ld fixed noenhanced font 'Sans,12' "
                   "background '#ffffff'\n", w, h);
    else
        fprintf(f, "set terminal pdfcairo size %.2fin,%.2fin noenhanced font 'Sans,8'\n",
                (double)w / 100, (double)h / 100);
    fputs("set termoption noenhanced\n", f);
}

/* Axis units: the largest decimal unit the data reaches, seconds to hours. */
static void script_axes(FILE *f, const struct cli_plot_input *in, double *xs, double *ys, double *ytop)
{
    static const char *bunit[] = {"B", "KB", "MB", "GB", "TB", "PB"};
    uint64_t top = in->plot->heap.max > in->plot->rss.max ? in->plot->heap.max : in->plot->rss.max;
    uint64_t end = in->peak.end_us > in->plot->rss.end_us ? in->peak.end_us : in->plot->rss.end_us;
    int u = 0;
    *ys = 1;
    while (u < 5 && (double)top >= *ys * 1000) {
        *ys *= 1000;
        u++;
    }
    *xs = end >= 36000000000ull ? 3600 : end >= 600000000 ? 60 : 1;
    double xmax = (double)end / 1e6 / *xs;
    *ytop = top ? (double)top / *ys * 1.15 : 1;
    fprintf(f, "set xlabel 'time (%s)'\nset ylabel 'memory (%s)'\n",
            *xs == 3600 ? "h" : *xs == 60 ? "min" : "s", bunit[u]);
    fprintf(f, "set xrange [0:%.9g]\nset yrange [0:%.9g]\n", xmax > 0 ? xmax : 1, *ytop);
}

static void script_head(FILE *f, const struct opts *o, const struct cli_plot_input *in, enum term t)
{
    char title[1200];
    script_terminal(f, t, o->width, o->height);
    if (o->title)
        snprintf(title, sizeof title, "%s", o->title);
    else
        snprintf(title, sizeof title, "Memory over time: %.200s%s", in->cmd,
                 strlen(in->cmd) > 200 ? "..." : "");
    fputs("set title ", f);
    gp_quote(f, title, strlen(title));
    fputs("\nset datafile separator tab\nset key below horizontal\nset grid\n"
          "set border 3\nset tics nomirror\nset style fill transparent solid 0.12 noborder\n"
          "set style textbox opaque noborder\n"
          "region_rgb(i) = int(i) % 4 == 0 ? 0x1f77b4 : int(i) % 4 == 1 ? 0xff7f0e : "
          "int(i) % 4 == 2 ? 0x2ca02c : 0x9467bd\n", f);
}

#define MAX_LABELS 40 /* more markers than this: lines only, labels would be a smear */

static void script_plot(FILE *f, const struct cli_plot_input *in, const char *data, double xs,
                        double ys, double ytop)
{
    size_t points = an_plot_count(in->markers, in->nmarkers, FT_MARK_POINT);
    size_t regions = an_plot_count(in->markers, in->nmarkers, FT_MARK_BEGIN);
    fputs("plot ", f);
    gp_quote(f, data, strlen(data));
    fprintf(f, " index 0 using ($1/%g):($2/%g) with lines lw 2 lc rgb '#d62728' "
               "title 'tracked heap'", xs, ys);
    if (in->plot->rss.max)
        fprintf(f, ", \\\n  '' index 1 using ($1/%g):($2/%g) with lines lw 1.5 "
                   "lc rgb '#7f7f7f' title 'RSS'", xs, ys);
    /* Neighbouring regions in different colours: by their row, four in turn. */
    if (regions)
        fprintf(f, ", \\\n  '' index 3 using (($1+$2)/2/%g):(%g/2):(($2-$1)/2/%g):(%g/2):"
                   "(region_rgb(column(0))) with boxxyerror lc rgb variable notitle",
                xs, ytop, xs, ytop);
    if (regions && regions <= MAX_LABELS)
        fprintf(f, ", \\\n  '' index 3 using ($1/%g):(%g):3:(region_rgb(column(0))) with "
                   "labels left offset 0.5,0 font ',8' tc rgb variable notitle", xs, ytop * 0.03);
    if (points)
        fprintf(f, ", \\\n  '' index 2 using ($1/%g):(0):(0):(%g) with vectors nohead "
                   "dt 2 lc rgb '#555555' notitle", xs, ytop);
    if (points && points <= MAX_LABELS)
        fprintf(f, ", \\\n  '' index 2 using ($1/%g):(%g):3 with labels rotate by 90 "
                   "right offset -1.3,0 font ',8' notitle", xs, ytop * 0.98);
    int right = (double)in->peak.time_us > 0.6 * (double)in->peak.end_us;
    fprintf(f, ", \\\n  '' index 4 using ($1/%g):($2/%g) with points pt 7 ps 1.2 "
               "lc rgb '#d62728' notitle", xs, ys);
    fprintf(f, ", \\\n  '' index 4 using ($1/%g):($2/%g):3 with labels %s offset %s,0.8 "
               "boxed notitle\n", xs, ys, right ? "right" : "left", right ? "-1" : "1");
}

/* The whole script, into a malloc'd string. */
static char *script(const struct opts *o, const struct cli_plot_input *in, enum term t,
                    const char *data, size_t *len)
{
    char *text = NULL;
    FILE *f = open_memstream(&text, len);
    if (!f)
        return NULL;
    double xs, ys, ytop;
    fputs("# filrec plot: gnuplot -d < this > picture\n", f);
    script_head(f, o, in, t);
    script_axes(f, in, &xs, &ys, &ytop);
    script_plot(f, in, data, xs, ys, ytop);
    if (fclose(f)) {
        free(text);
        return NULL;
    }
    return text;
}

/* Write all of text to fd; a gnuplot that stops reading must not kill us (SIGPIPE). */
static int feed(int fd, const char *text, size_t len)
{
    struct sigaction ign = {.sa_handler = SIG_IGN}, old;
    sigaction(SIGPIPE, &ign, &old);
    int rc = 0;
    while (len) {
        ssize_t k = write(fd, text, len);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            rc = -1;
            break;
        }
        text += k;
        len -= (size_t)k;
    }
    close(fd);
    sigaction(SIGPIPE, &old, NULL);
    return rc;
}

/* Run gnuplot with the script on its stdin and out_fd as its stdout. 0, 1 on an error
 * (said unless it is a missing gnuplot and quiet), 2 when gnuplot is not installed. */
static int gnuplot(const char *text, size_t len, int out_fd, int quiet)
{
    int p[2];
    if (pipe(p)) {
        cli_error("cannot make a pipe: %s", strerror(errno));
        return 1;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, p[0], 0);
    posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
    posix_spawn_file_actions_addclose(&fa, p[1]);
    char *argv[] = {"gnuplot", "-d", NULL}; /* -d: no ~/.gnuplot */
    pid_t pid;
    int err = posix_spawnp(&pid, "gnuplot", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(p[0]);
    if (err) {
        close(p[1]);
        if (err == ENOENT && !quiet)
            cli_error("cannot run gnuplot: not found (install the Debian package gnuplot-nox)");
        else if (err != ENOENT)
            cli_error("cannot run gnuplot: %s", strerror(err));
        return err == ENOENT ? 2 : 1;
    }
    feed(p[1], text, len);
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (!WIFEXITED(status) || WEXITSTATUS(status)) {
        cli_error("cannot draw the plot: gnuplot failed (%s %d)",
                  WIFEXITED(status) ? "exit status" : "signal",
                  WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
        return 1;
    }
    return 0;
}

/* Whether gp_quote keeps path as it is: a file name must not change. */
static int gp_safe(const char *path)
{
    for (const unsigned char *p = (const unsigned char *)path; *p; p++)
        if (*p == '\'' || *p == '`' || *p < 0x20 || *p == 0x7f)
            return 0;
    return 1;
}

/* The data file: --data's, or a temporary one (*tmp set: remove it after). */
static FILE *open_data(const struct opts *o, char *path, size_t cap, int *tmp)
{
    *tmp = !o->data;
    if (o->data) {
        if (!gp_safe(o->data)) {
            cli_error("cannot use '%s' for --data: a gnuplot script cannot name a file "
                      "with ' or ` or control characters in it", o->data);
            return NULL;
        }
        snprintf(path, cap, "%s", o->data);
        FILE *f = fopen(path, "w");
        if (!f)
            cli_error("cannot open '%s': %s", path, strerror(errno));
        return f;
    }
    const char *dir = getenv("TMPDIR");
    if (!dir || !*dir || strlen(dir) > cap - 32 || !gp_safe(dir))
        dir = "/tmp";
    snprintf(path, cap, "%s/filrec-plot-XXXXXX", dir);
    int fd = mkstemp(path);
    FILE *f = fd < 0 ? NULL : fdopen(fd, "w");
    if (!f) {
        cli_error("cannot make a temporary file '%s': %s", path, strerror(errno));
        if (fd >= 0)
            unlink(path), close(fd);
    }
    return f;
}

/* Keep the script next to --data's file, for rerunning gnuplot by hand. */
static int keep_script(const char *data, const char *text, size_t len)
{
    char path[4200];
    snprintf(path, sizeof path, "%.4090s.gp", data);
    FILE *f = fopen(path, "w");
    if (!f || fwrite(text, 1, len, f) != len || fclose(f)) {
        cli_error("cannot write '%s': %s", path, strerror(errno));
        if (f)
            fclose(f);
        return 1;
    }
    return 0;
}

/* Draw into a temporary file beside out, renamed over out once gnuplot succeeded: a
 * failure never leaves half a picture, nor destroys the one that was there. */
static int draw(const struct opts *o, const char *text, size_t len)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%.4090s.XXXXXX", o->out);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        cli_error("cannot write '%s': %s", o->out, strerror(errno));
        return 1;
    }
    mode_t mask = umask(022);
    umask(mask);
    fchmod(fd, 0666 & ~mask);
    int rc = gnuplot(text, len, fd, o->quiet);
    close(fd);
    if (!rc && rename(tmp, o->out)) {
        cli_error("cannot write '%s': %s", o->out, strerror(errno));
        rc = 1;
    }
    if (rc)
        unlink(tmp);
    return rc;
}

/* Write the data, make the script, run gnuplot. */
static int render(const struct opts *o, const struct cli_plot_input *in, enum term t)
{
    char data[4200];
    int tmp, rc = 1;
    FILE *f = open_data(o, data, sizeof data, &tmp);
    if (!f)
        return 1;
    if (an_plot_data(f, in->plot, in->markers, in->nmarkers, &in->peak) | fclose(f)) {
        cli_error("cannot write '%s': %s", data, strerror(errno));
        goto out;
    }
    size_t len;
    char *text = script(o, in, t, data, &len);
    if (!text) {
        cli_error("out of memory");
        goto out;
    }
    rc = (o->data && keep_script(o->data, text, len)) ? 1 : draw(o, text, len);
    free(text);
out:
    if (tmp)
        unlink(data);
    return rc;
}

/* ---- a job: the processes together, and each of the largest ---- */

#define JOB_LINES 8 /* processes drawn one by one; the rest as one line */

static int by_own_peak(const void *a, const void *b, void *ctx)
{
    const an_job *j = ctx;
    uint64_t x = j->procs[*(const size_t *)a].peak, y = j->procs[*(const size_t *)b].peak;
    return x < y ? 1 : x > y ? -1 : 0;
}

/* The data: one row per moment, time (s), all processes, then each drawn process
 * (and the others together when there are more). Numbers only: nothing from a trace. */
static int job_data(FILE *f, const an_job *j, const size_t *order, size_t lines, int others)
{
    uint64_t *t, *v;
    size_t n;
    if (an_job_series(j, &t, &v, &n))
        return -1;
    for (size_t m = 0; m < n; m++) {
        uint64_t all = 0, rest = 0;
        for (size_t i = 0; i < j->n; i++)
            all += v[m * j->n + i];
        fprintf(f, "%.6f\t%llu", (double)t[m] / 1e6, (unsigned long long)all);
        for (size_t i = 0; i < lines; i++)
            fprintf(f, "\t%llu", (unsigned long long)v[m * j->n + order[i]]);
        for (size_t i = lines; i < j->n; i++)
            rest += v[m * j->n + order[i]];
        if (others)
            fprintf(f, "\t%llu", (unsigned long long)rest);
        fputc('\n', f);
    }
    free(t), free(v);
    return ferror(f) ? -1 : 0;
}

static int job_plot(const struct opts *o, const an_job *j, enum term t)
{
    size_t *order = malloc((j->n ? j->n : 1) * sizeof *order);
    if (!order) {
        cli_error("out of memory");
        return 1;
    }
    for (size_t i = 0; i < j->n; i++)
        order[i] = i;
    qsort_r(order, j->n, sizeof *order, by_own_peak, (void *)j);
    size_t lines = j->n < JOB_LINES ? j->n : JOB_LINES;
    int others = j->n > lines, tmp, rc = 1;
    char data[4200], *text = NULL;
    size_t len;
    FILE *f = open_data(o, data, sizeof data, &tmp);
    if (!f) {
        free(order);
        return 1;
    }
    if (job_data(f, j, order, lines, others) | fclose(f)) {
        cli_error("cannot write '%s': %s", data, strerror(errno));
        goto out;
    }
    FILE *s = open_memstream(&text, &len);
    if (!s) {
        cli_error("out of memory");
        goto out;
    }
    char title[256];
    double ys = 1, top = (double)j->peak;
    static const char *unit[] = {"B", "KB", "MB", "GB", "TB", "PB"};
    int u = 0;
    while (u < 5 && top >= ys * 1000)
        ys *= 1000, u++;
    snprintf(title, sizeof title, "Memory over time: a job of %zu processes", j->n);
    fputs("# filrec plot of a job: gnuplot -d < this > picture\n", s);
    script_terminal(s, t, o->width, o->height);
    fputs("set title ", s);
    gp_quote(s, o->title ? o->title : title, strlen(o->title ? o->title : title));
    fprintf(s, "\nset datafile separator tab\nset key below horizontal\nset grid\n"
               "set border 3\nset tics nomirror\nset xlabel 'time (s)'\n"
               "set ylabel 'memory (%s)'\nset yrange [0:%.9g]\nplot ", unit[u],
            top ? top / ys * 1.15 : 1);
    gp_quote(s, data, strlen(data));
    fprintf(s, " using 1:($2/%g) with lines lw 2.5 lc rgb '#d62728' title 'all processes'",
            ys);
    for (size_t i = 0; i < lines; i++)
        fprintf(s, ", \\\n  '' using 1:($%zu/%g) with lines lw 1 title 'pid %llu'", i + 3, ys,
                (unsigned long long)j->procs[order[i]].pid);
    if (others)
        fprintf(s, ", \\\n  '' using 1:($%zu/%g) with lines lw 1 dt 2 title '%zu others'",
                lines + 3, ys, j->n - lines);
    fputc('\n', s);
    if (fclose(s)) {
        cli_error("out of memory");
        goto out;
    }
    rc = (o->data && keep_script(o->data, text, len)) ? 1 : draw(o, text, len);
out:
    free(text);
    free(order);
    if (tmp)
        unlink(data);
    return rc;
}

static struct cli_plot_input *input_new(void)
{
    struct cli_plot_input *in = calloc(1, sizeof *in);
    if (in && !(in->plot = calloc(1, sizeof *in->plot))) {
        free(in);
        return NULL;
    }
    if (in) {
        an_series_init(&in->plot->heap);
        an_series_init(&in->plot->rss);
    }
    return in;
}

static void input_free(struct cli_plot_input *in)
{
    for (size_t i = 0; in && i < in->nmarkers; i++)
        free(in->markers[i].label);
    if (in)
        free(in->markers), free(in->plot);
    free(in);
}

static int plot(const struct opts *o)
{
    int t = term_of(o->out);
    if (t < 0) {
        cli_error("cannot tell the format of '%s': want a name ending in .png, .svg or .pdf",
                  o->out);
        return 1;
    }
    char **paths, msg[600];
    size_t n;
    if (an_job_paths(o->path, &paths, &n) == 0) {
        int rc = -1;
        if (n > 1) {
            an_job j;
            rc = an_job_run(&j, paths, n, msg, sizeof msg, 1);
            if (rc)
                cli_error("%s", msg);
            else
                rc = job_plot(o, &j, (enum term)t);
            an_job_free(&j);
            if (!rc)
                fprintf(stderr, "filrec: wrote %s\n", o->out);
        }
        an_job_paths_free(paths, n);
        if (rc >= 0)
            return rc != 0;
    }
    struct cli_plot_input *in = input_new();
    if (!in) {
        cli_error("out of memory");
        return 1;
    }
    int rc = collect(in, o->path);
    if (!rc)
        rc = render(o, in, (enum term)t);
    if (!rc)
        fprintf(stderr, "filrec: wrote %s\n", o->out);
    input_free(in);
    return rc;
}

cli_plot_input *cli_plot_start(void) { return input_new(); }

int cli_plot_on_sample(void *in, uint64_t time_us, uint64_t rss, uint64_t heap)
{
    return an_plot_sample(((struct cli_plot_input *)in)->plot, time_us, rss, heap);
}

void cli_plot_whole(cli_plot_input *in, an_replay *rp)
{
    /* The report reads rp on (its notes are markers): the plot gets copies. */
    an_marker *m = rp->nmarkers ? malloc(rp->nmarkers * sizeof *m) : NULL;
    size_t n = 0;
    for (; m && n < rp->nmarkers; n++) {
        m[n] = rp->markers[n];
        if (!(m[n].label = malloc(m[n].len + 1)))
            break;
        memcpy(m[n].label, rp->markers[n].label, m[n].len + 1);
    }
    an_marker *keep = rp->markers;
    size_t nkeep = rp->nmarkers;
    rp->markers = m;
    rp->nmarkers = n; /* out of memory: fewer markers on the plot */
    take_replay(in, rp);
    rp->markers = keep;
    rp->nmarkers = nkeep;
}

void cli_plot_peak(cli_plot_input *in, const an_defs *d, const an_loc *loc, size_t n)
{
    set_label(in, d, loc, n);
}

int cli_plot_finish(cli_plot_input *in, const char *trace, const char *out)
{
    struct opts o = {trace, out, NULL, NULL, 1200, 600, 1};
    int t = out ? term_of(out) : -1, rc = in && t >= 0 ? render(&o, in, (enum term)t) : 1;
    input_free(in); /* out NULL: only this */
    return rc;
}

static int size_arg(const char *name, const char *v, long *out)
{
    char *end;
    long n = strtol(v, &end, 10);
    if (*end || end == v || n < 100 || n > 20000) {
        cli_error("bad %s '%s': want a size in pixels, 100 to 20000", name, v);
        return 1;
    }
    *out = n;
    return 0;
}

static int parse(int argc, char **argv, struct opts *o)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (cli_is_help(a)) {
            fputs(usage, stdout);
            return 0;
        } else if ((!strcmp(a, "-o") || !strcmp(a, "--output")) && i + 1 < argc) {
            o->out = argv[++i];
        } else if (!strcmp(a, "--title") && i + 1 < argc) {
            o->title = argv[++i];
        } else if (!strcmp(a, "--data") && i + 1 < argc) {
            o->data = argv[++i];
        } else if ((!strcmp(a, "--width") || !strcmp(a, "--height")) && i + 1 < argc) {
            if (size_arg(a, argv[++i], a[2] == 'w' ? &o->width : &o->height))
                return 1;
        } else if (a[0] == '-' && a[1]) {
            cli_error("unknown option '%s' for plot; see 'filrec plot --help'", a);
            return 1;
        } else if (o->path) {
            cli_error("plot reads one trace; got '%s' and '%s'", o->path, a);
            return 1;
        } else {
            o->path = a;
        }
    }
    if (!o->path) {
        fputs(usage, stderr);
        return 1;
    }
    return -1; /* go on */
}

int cmd_plot(int argc, char **argv)
{
    struct opts o = {NULL, NULL, NULL, NULL, 1200, 600, 0};
    int rc = parse(argc, argv, &o);
    if (rc >= 0)
        return rc;
    char dflt[4096];
    if (!o.out) {
        size_t n = strlen(o.path);
        if (n > 4 && !strcmp(o.path + n - 4, ".bin"))
            n -= 4;
        snprintf(dflt, sizeof dflt, "%.*s.png", (int)(n < 4000 ? n : 4000), o.path);
        o.out = dflt;
    }
    return plot(&o) ? 1 : 0;
}
