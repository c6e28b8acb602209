/* filrec.c: the filrec command: one verb table, dispatch, and the top-level help. */
#include <ctype.h>
#include <stdarg.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "../analyze/an.h"
#include "cli.h"

static const struct verb {
    const char *name;
    int (*fn)(int, char **);
    const char *summary;
} verbs[] = {
    {"run", cmd_run, "record a program's allocations into a trace"},
    {"attach", cmd_attach, "start recording a running Python process"},
    {"detach", cmd_detach, "stop recording it, and complete its trace"},
    {"summary", cmd_summary, "the top allocating locations at the peak"},
    {"report", cmd_report, "a folder with index.html, flamegraphs and tables"},
    {"flamegraph", cmd_flamegraph, "what was live at the peak, as an interactive SVG"},
    {"plot", cmd_plot, "memory over time, the peak and markers, drawn by gnuplot"},
    {"lines", cmd_lines, "source files with memory beside each line"},
    {"leaks", cmd_leaks, "what was still live at exit, by location"},
    {"export", cmd_export, "the peak's tree as folded stacks, speedscope or JSON"},
    {"stats", cmd_stats, "counts, peak and live-at-exit bytes of a trace"},
};

static const char usage[] =
    "usage: filrec <verb> [options] [args]\n"
    "\n"
    "filrec records every allocation of a program and tells when memory peaked\n"
    "and what was live then.\n"
    "\n"
    "verbs:\n";

void cli_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("filrec: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

int cli_replayed(an_replay *rp, const char *path, int err, int warn)
{
    if (err) {
        if (err == FT_E_IO && !rp->hdr.page_size)
            cli_error("cannot open '%s': %s", path, rp->msg);
        else
            cli_error("'%s': %s", path, rp->msg);
        an_replay_free(rp);
        return 1;
    }
    if (warn && rp->sample) {
        char a[32];
        cli_error("note: '%s' holds a sample of the allocations (one in every %s allocated, "
                  "on average, and each of that size or more): its bytes are estimates",
                  path, cli_interval(rp->sample, a, sizeof a));
    }
    if (warn && rp->damage[0])
        cli_error("warning: '%s' is damaged: %s; analyzing the part before it", path,
                  rp->damage);
    else if (warn && rp->cut_offset)
        cli_error("warning: '%s' ends early, inside the frame at offset %llu (the process "
                  "was killed while writing it, or the file is damaged); analyzing the "
                  "part before", path, (unsigned long long)rp->cut_offset);
    else if (warn && rp->ended_early)
        cli_error("warning: '%s' ends early (the process was killed or the trace is cut); "
                  "analyzing the part before", path);
    return 0;
}

int cli_one_pass(void)
{
    const char *v = getenv("FILREC_TWO_PASS");
    return !v || strcmp(v, "1");
}

int cli_replay(an_replay *rp, const char *path, uint64_t stop_at, int warn)
{
    return cli_replayed(rp, path, an_replay_run(rp, path, stop_at, stop_at ? CLI_PASS_2 : CLI_PASS_1),
                        warn);
}

void cli_put_text(const char *s)
{
    for (const unsigned char *c = (const unsigned char *)(s ? s : "?"); *c; c++)
        if (*c < 0x20 || *c == 0x7F)
            fputs("\xEF\xBF\xBD", stdout);
        else
            putchar(*c);
}

int cli_parse_size(const char *s, uint64_t *out)
{
    static const struct { const char *name; double mult; } units[] = {
        {"", 1}, {"b", 1}, {"kb", 1e3}, {"mb", 1e6}, {"gb", 1e9}, {"tb", 1e12}, {"k", 1e3},
        {"m", 1e6}, {"g", 1e9}, {"t", 1e12}, {"kib", 1024.0}, {"mib", 1048576.0},
        {"gib", 1073741824.0}, {"tib", 1099511627776.0},
    };
    char *end;
    double v = strtod(s, &end);
    if (end == s || !(v >= 0))
        return -1;
    while (*end == ' ')
        end++;
    char unit[8];
    size_t n = strlen(end);
    if (n >= sizeof unit)
        return -1;
    for (size_t i = 0; i <= n; i++)
        unit[i] = (char)tolower((unsigned char)end[i]);
    for (size_t i = 0; i < sizeof units / sizeof *units; i++)
        if (!strcmp(unit, units[i].name) && v * units[i].mult < 1.8e19) {
            *out = (uint64_t)(v * units[i].mult + 0.5);
            return 0;
        }
    return -1;
}

int cli_is_help(const char *arg)
{
    return !strcmp(arg, "-h") || !strcmp(arg, "--help");
}

static int help(FILE *to)
{
    fputs(usage, to);
    for (size_t i = 0; i < sizeof verbs / sizeof *verbs; i++)
        fprintf(to, "  %-10s %s\n", verbs[i].name, verbs[i].summary);
    fputs("\n  --version  the version of filrec and of its trace format\n"
          "  --native-frames some|all|none\n"
          "             with any verb that reads traces: which native frames of a\n"
          "             --native trace to show (default some: those below the Python\n"
          "             frames, and libraries' between them)\n"
          "\n'filrec <verb> --help' and 'man filrec-<verb>' tell more.\n", to);
    return to == stdout ? 0 : 1;
}

/* --native-frames MODE, an option of every verb that reads traces: taken out of argv
 * (up to a "--") before the verb parses the rest. 0, or 1 after an error. */
static int take_native_frames(int *argc, char **argv)
{
    static const char *modes[] = {"some", "all", "none"};
    for (int i = 2; i < *argc && strcmp(argv[i], "--"); i++) {
        const char *v = NULL;
        int used = 0;
        if (!strcmp(argv[i], "--native-frames"))
            v = i + 1 < *argc ? argv[i + 1] : "", used = 2;
        else if (!strncmp(argv[i], "--native-frames=", 16))
            v = argv[i] + 16, used = 1;
        if (!used)
            continue;
        size_t m = 0;
        while (m < 3 && strcmp(v, modes[m]))
            m++;
        if (m == 3) {
            cli_error("bad --native-frames '%s': want some, all or none", v);
            return 1;
        }
        an_native_set_view((enum an_native_view)m);
        memmove(argv + i, argv + i + used, (size_t)(*argc - i - used + 1) * sizeof *argv);
        *argc -= used;
        i--;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return help(stderr);
    if (cli_is_help(argv[1]) || !strcmp(argv[1], "help"))
        return help(stdout);
    if (!strcmp(argv[1], "--version")) {
        printf("filrec 0.1 (trace format 2, or %u with --native; reads 1 to %u)\n", FT_VERSION,
               FT_VERSION);
        return 0;
    }
    if (!strcmp(argv[1], "_sink")) /* not for people: see cmd_sink.c */
        return cmd_sink(argc - 1, argv + 1);
    int reads = strcmp(argv[1], "run") && strcmp(argv[1], "attach") && strcmp(argv[1], "detach");
    if (reads && take_native_frames(&argc, argv))
        return 1;
    for (size_t i = 0; i < sizeof verbs / sizeof *verbs; i++)
        if (!strcmp(argv[1], verbs[i].name))
            return verbs[i].fn(argc - 1, argv + 1);
    cli_error("'%s' is not a filrec verb; see 'filrec --help'", argv[1]);
    return 1;
}
