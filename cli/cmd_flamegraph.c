/* cmd_flamegraph.c: `filrec flamegraph`: what was live at the peak (or at exit) as an
 * interactive SVG whose frame widths are bytes. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../analyze/an.h"
#include "cli.h"

static const char usage[] =
    "usage: filrec flamegraph [-o OUT.svg] [--reverse] [--at peak|end] [--import-frames]\n"
    "                         [--title T] TRACE\n"
    "\n"
    "Draw the memory live at the peak (or at exit) as a flamegraph: one self-contained\n"
    "SVG to open in a browser. Widths are bytes; hover for function, file:line, bytes\n"
    "and the source line; click to zoom; type in the box to search.\n"
    "\n"
    "  -o, --output FILE  the SVG (default: TRACE's name with -peak.svg or -end.svg)\n"
    "  --reverse          innermost frames on top: who allocated through a function\n"
    "  --import-frames    show the import machinery's frames (<frozen importlib...>),\n"
    "                     which are left out by default: an import's memory then sits\n"
    "                     right under the import line\n"
    "  --at peak|end      what was live at the peak (default) or when the trace ended\n"
    "  --title T          the title (default: the peak, its time and the command)\n"
    "  -h, --help         show this help\n";

/* The command line from the header, arguments joined by spaces (raw bytes). */
static void command(const ft_header *h, char *out, size_t cap)
{
    size_t n = h->cmdline_len < cap - 1 ? h->cmdline_len : cap - 1;
    memcpy(out, h->cmdline, n);
    for (size_t i = 0; i < n; i++)
        if (!out[i])
            out[i] = ' ';
    out[n] = 0;
}

static int write_flame(const char *out, const an_tree *t, const an_defs *d,
                       const an_flame_opts *o, int quiet)
{
    FILE *f = fopen(out, "w");
    if (!f) {
        cli_error("cannot open '%s': %s", out, strerror(errno));
        return 1;
    }
    if (an_flame_svg(f, t, d, o) | fclose(f)) {
        cli_error("cannot write '%s': %s", out, strerror(errno));
        return 1;
    }
    if (!quiet)
        fprintf(stderr, "filrec: wrote %s\n", out);
    return 0;
}

static int import_frames; /* --import-frames: show the import machinery's frames */

int cli_job_flamegraph(const an_job *j, const char *out, const char *title, int reversed,
                       int quiet)
{
    an_tree t = {0};
    an_defs d = {0};
    char msg[600];
    int rc = 0;
    if (an_job_tree(j, reversed, !import_frames, &t, &d, msg, sizeof msg)) {
        cli_error("%s", msg);
        rc = 1;
    } else {
        char head[256], sub[256], a[32];
        snprintf(head, sizeof head, "Peak memory of the job: %s at %.3f s, %zu processes",
                 an_human(j->peak, a, sizeof a), (double)j->peak_time_us / 1e6, j->n);
        snprintf(sub, sizeof sub, "%s. One frame per process. Click a frame to zoom, type to "
                 "search.", reversed ? "Reversed: innermost frames at the top"
                                     : "Each frame's width is the bytes live under it");
        an_flame_opts o = {title ? title : head, sub, reversed};
        rc = write_flame(out, &t, &d, &o, quiet);
    }
    an_tree_free(&t);
    an_defs_free(&d);
    return rc;
}

/* A job (PATH and PATH.d/): the whole-job peak, one root frame per process. */
static int job_flamegraph(char **paths, size_t n, const char *out, const char *title,
                          int reversed)
{
    an_job j;
    char msg[600];
    int rc = an_job_run(&j, paths, n, msg, sizeof msg, 1);
    if (rc)
        cli_error("%s", msg);
    else
        rc = cli_job_flamegraph(&j, out, title, reversed, 0);
    an_job_free(&j);
    return rc != 0;
}

int cmd_flamegraph(int argc, char **argv)
{
    const char *path = NULL, *out = NULL, *title = NULL;
    int reversed = 0, at_end = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (cli_is_help(a)) {
            fputs(usage, stdout);
            return 0;
        } else if (!strcmp(a, "--reverse")) {
            reversed = 1;
        } else if (!strcmp(a, "--import-frames")) {
            import_frames = 1;
        } else if (!strcmp(a, "--at") && i + 1 < argc) {
            const char *v = argv[++i];
            if (strcmp(v, "peak") && strcmp(v, "end")) {
                cli_error("bad --at '%s': want peak or end", v);
                return 1;
            }
            at_end = !strcmp(v, "end");
        } else if ((!strcmp(a, "-o") || !strcmp(a, "--output")) && i + 1 < argc) {
            out = argv[++i];
        } else if (!strcmp(a, "--title") && i + 1 < argc) {
            title = argv[++i];
        } else if (a[0] == '-' && a[1]) {
            cli_error("unknown option '%s' for flamegraph; see 'filrec flamegraph --help'", a);
            return 1;
        } else if (path) {
            cli_error("flamegraph reads one trace; got '%s' and '%s'", path, a);
            return 1;
        } else {
            path = a;
        }
    }
    if (!path) {
        fputs(usage, stderr);
        return 1;
    }
    char dflt[4096];
    if (!out) {
        size_t n = strlen(path);
        if (n > 4 && !strcmp(path + n - 4, ".bin"))
            n -= 4;
        snprintf(dflt, sizeof dflt, "%.*s-%s.svg", (int)(n < 4000 ? n : 4000), path,
                 at_end ? "end" : "peak");
        out = dflt;
    }
    char **paths;
    size_t njob;
    if (!at_end && an_job_paths(path, &paths, &njob) == 0) {
        int rc = njob > 1 ? job_flamegraph(paths, njob, out, title, reversed) : -1;
        an_job_paths_free(paths, njob);
        if (rc >= 0)
            return rc;
    }
    an_replay rp;
    int one = !at_end && cli_one_pass();
    if (one ? cli_replayed(&rp, path, an_replay_peak(&rp, path, CLI_ONE_PASS), 1)
            : cli_replay(&rp, path, 0, 1))
        return 1;
    uint64_t peak_event = rp.peak_event, peak_time = rp.peak_time_us, end = rp.end_us;
    if (!at_end && !one) {
        an_replay_free(&rp);
        if (cli_replay(&rp, path, peak_event, 0))
            return 1;
    }
    an_tree t;
    if ((import_frames ? an_tree_build : an_tree_build_hiding)(&t, &rp, reversed)) {
        cli_error("out of memory");
        an_replay_free(&rp);
        return 1;
    }
    char cmd[1024], head[1400], sub[512], a[32];
    command(&rp.hdr, cmd, sizeof cmd);
    if (at_end)
        snprintf(head, sizeof head, "Memory live at exit: %s of %.3f s: %s",
                 an_human(t.node[0].bytes, a, sizeof a), (double)end / 1e6, cmd);
    else
        snprintf(head, sizeof head, "Peak memory: %s at %.3f s of %.3f s: %s",
                 an_human(t.node[0].bytes, a, sizeof a), (double)peak_time / 1e6,
                 (double)end / 1e6, cmd);
    char u[96], sm[128] = "";
    if (rp.sample)
        snprintf(sm, sizeof sm, "; estimated from a sample (\u00b1 %s at 95%%; --sample %s)",
                 an_human(an_bound95(t.node[0].var), a, sizeof a),
                 cli_interval(rp.sample, u, sizeof u));
    const char *un = cli_untouched(at_end ? rp.maps.untouched : rp.peak_untouched, u, sizeof u);
    snprintf(sub, sizeof sub, "%s%s%s%s%s. Click a frame to zoom, type to search.",
             reversed ? "Reversed: innermost frames at the top, their callers below" :
                        "Each frame's width is the bytes live under it",
             at_end ? " (at exit)" : " (at the peak)", sm, *un ? "; " : "", un);
    an_flame_opts o = {title ? title : head, sub, reversed};
    int rc = write_flame(out, &t, &rp.defs, &o, 0);
    an_tree_free(&t);
    an_replay_free(&rp);
    return rc;
}
