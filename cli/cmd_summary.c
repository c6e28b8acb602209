/* cmd_summary.c: `filrec summary`: when memory peaked and which locations allocated
 * what was live then; with --temporary, which locations churn (allocate and free
 * almost at once). Also serves `filrec leaks` (what was live at exit). */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../analyze/an.h"
#include "cli.h"

/* The options summary and leaks share. */
#define GROUPING_HELP \
    "  --by KEY        group by the line of your own code that led to the allocation\n"  \
    "                  (code, the default: the innermost frame outside the standard\n"  \
    "                  library, site-packages and frozen modules, with the library\n"  \
    "                  call it went through after an arrow), by the innermost frame's\n"  \
    "                  line (innermost), its function or file, or by the whole stack\n"  \
    "  --code-root DIR only files under DIR are your code (default: any file outside\n"  \
    "                  the libraries)\n"  \
    "  --top N         show N locations (default 10; 0 for all)\n"  \
    "  --bytes         exact byte counts instead of human units\n"

static const char usage[] =
    "usage: filrec summary [--by code|innermost|function|file|stack] [--top N] [--bytes] [--json]\n"
    "                      [--process PID] TRACE\n"
    "       filrec summary --temporary [--threshold N] [options] TRACE\n"
    "\n"
    "The peak of tracked memory (bytes and time), then the locations whose allocations\n"
    "were live at that moment, largest first. For a job of many processes (TRACE with\n"
    "the traces of its other processes in TRACE.d/, or that folder), the peak of all\n"
    "processes together, each process's own peak and share, and the locations of\n"
    "every process at that moment.\n"
    "\n"
    GROUPING_HELP
    "  --process PID   of a job (TRACE and TRACE.d/), that process alone\n"
    "  --temporary     instead: allocations freed within N later allocations of the\n"
    "                  same thread, by location: how many, bytes, average size\n"
    "  --threshold N   for --temporary: freed while at most N newer allocations of its\n"
    "                  thread are live (default 1, as memray counts; 0: none)\n"
    "  --json          print one JSON object instead of text\n"
    "  -h, --help      show this help\n";

static const char leaks_usage[] =
    "usage: filrec leaks [--by code|innermost|function|file|stack] [--top N] [--bytes] [--json] TRACE\n"
    "\n"
    "What was still live when the trace ended, by location, largest first.\n"
    "\n"
    GROUPING_HELP
    "  --json          print one JSON object instead of text\n"
    "  -h, --help      show this help\n";

#define NO_STACK "[no Python stack]"

enum mode { PEAK, TEMPORARY, LEAKS };

struct opts {
    enum mode mode;
    enum an_by by;
    long top;
    long process;      /* --process PID: that process of the job alone (0: all) */
    unsigned threshold;
    int json, exact;
    const char *path;
};

/* Indexed by enum an_by; "innermost" is read as "line". */
static const char *by_names[] = {"line", "function", "file", "stack", "code"};

/* A location's parts, as UTF-8 strings owned by the caller. */
typedef struct place {
    char *func, *file;
    uint32_t line;
} place;

static place place_of(const an_defs *d, uint32_t func, uint32_t line)
{
    size_t n;
    const char *s;
    place p = {NULL, NULL, line};
    if (!func || func >= d->nfunc) {
        p.func = an_utf8(NO_STACK, strlen(NO_STACK));
        p.file = an_utf8("", 0);
        return p;
    }
    s = an_defs_string(d, d->func[func].name, &n);
    p.func = an_utf8(s, n);
    s = an_defs_string(d, d->func[func].file, &n);
    p.file = an_utf8(s, n);
    return p;
}

static void place_free(place *p)
{
    free(p->func);
    free(p->file);
}

static cJSON *place_json(const place *p)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "function", p->func ? p->func : "?");
    cJSON_AddStringToObject(o, "file", p->file ? p->file : "?");
    cJSON_AddNumberToObject(o, "line", p->line);
    return o;
}

/* A stack's frames, outermost first, into ids; returns how many. */
static size_t frames_of(const an_defs *d, uint32_t stack, uint32_t *ids, size_t cap)
{
    size_t n = 0;
    for (uint32_t s = stack; s && s < d->nnode && n < cap; s = d->node[s].parent)
        ids[n++] = s;
    for (size_t i = 0; i < n / 2; i++) {
        uint32_t t = ids[i];
        ids[i] = ids[n - 1 - i];
        ids[n - 1 - i] = t;
    }
    return n;
}

static cJSON *stack_json(const an_defs *d, uint32_t stack)
{
    static uint32_t ids[AN_MAX_DEPTH];
    cJSON *a = cJSON_CreateArray();
    size_t n = frames_of(d, stack, ids, AN_MAX_DEPTH);
    for (size_t i = 0; i < n; i++) {
        place p = place_of(d, d->node[ids[i]].func, d->node[ids[i]].line);
        cJSON_AddItemToArray(a, place_json(&p));
        place_free(&p);
    }
    return a;
}

static double pct(uint64_t part, uint64_t whole)
{
    return whole ? 100.0 * (double)part / (double)whole : 0;
}

/* "12.3 MB" or "12,345,678" per --bytes. */
static const char *size_text(uint64_t n, int exact, char *buf, size_t cap)
{
    return exact ? an_commas(n, buf, cap) : an_human(n, buf, cap);
}

/* The text label of a location: file:line function, function (file), file, or stack. */
static void print_label(const an_defs *d, const an_loc *l, enum an_by by)
{
    if (!l->func) {
        fputs(NO_STACK, stdout);
        return;
    }
    place p = place_of(d, l->func, l->line);
    switch (by) {
    case AN_BY_LINE:
    case AN_BY_CODE:
        cli_put_text(p.file);
        printf(":%u ", p.line);
        cli_put_text(p.func);
        if (by == AN_BY_CODE && l->via_func) {
            place q = place_of(d, l->via_func, l->via_line);
            const char *base = strrchr(q.file, '/');
            fputs(" \xe2\x86\x92 ", stdout); /* the library code it went through */
            cli_put_text(q.func);
            fputs(" (", stdout);
            cli_put_text(base ? base + 1 : q.file);
            printf(":%u)", q.line);
            place_free(&q);
        }
        break;
    case AN_BY_FUNCTION:
        cli_put_text(p.func);
        fputs(" (", stdout);
        cli_put_text(p.file);
        putchar(')');
        break;
    case AN_BY_FILE: cli_put_text(p.file); break;
    case AN_BY_STACK: {
        static uint32_t ids[AN_MAX_DEPTH];
        size_t n = frames_of(d, l->stack, ids, AN_MAX_DEPTH);
        for (size_t i = 0; i < n; i++) {
            place q = place_of(d, d->node[ids[i]].func, d->node[ids[i]].line);
            fputs(i ? " > " : "", stdout);
            cli_put_text(q.file);
            printf(":%u ", q.line);
            cli_put_text(q.func);
            place_free(&q);
        }
        break;
    }
    }
    place_free(&p);
}

static void print_header(const an_replay *rp, const struct opts *o, uint64_t peak, uint64_t peak_us)
{
    char a[32], b[32], c[32], u[96];
    if (rp->sample && o->mode == PEAK)
        printf("peak:        %s \u00b1 %s at %.3f s\n", size_text(peak, o->exact, a, sizeof a),
               size_text(an_bound95((double)rp->peak_var), o->exact, b, sizeof b),
               (double)peak_us / 1e6);
    else
        printf("peak:        %s at %.3f s\n", size_text(peak, o->exact, a, sizeof a),
               (double)peak_us / 1e6);
    if (rp->sample)
        printf("sampled:     one allocation in every %s allocated, on average, and every one "
               "of that size or more (--sample): bytes are estimates, \u00b1 a 95%% bound\n",
               cli_interval(rp->sample, c, sizeof c));
    if (o->mode != TEMPORARY && *cli_untouched(o->mode == LEAKS ? rp->maps.untouched
                                                                : rp->peak_untouched, u, sizeof u))
        printf("reserved:    %s\n", u);
    printf("duration:    %.3f s\n", (double)rp->end_us / 1e6);
    if (rp->hdr.flags & FT_H_LATE)
        printf("started:     in the running process (filrec.start, attach): what it had "
               "allocated before is not counted\n");
    printf("allocated:   %s in %s %sallocations\n", size_text(rp->total_bytes, o->exact, b, sizeof b),
           an_commas(rp->counts[FT_ALLOC] + rp->counts[FT_MMAP], c, sizeof c),
           rp->sample ? "sampled " : "");
    if (o->mode == LEAKS)
        printf("live at end: %s\n", size_text(rp->cur, o->exact, a, sizeof a));
    if (!cli_ended_plainly(rp)) {
        fputs("ended:       ", stdout);
        cli_put_ending(rp);
        printf(", with %s live then ('filrec leaks' shows where)\n",
               size_text(rp->end_live, o->exact, a, sizeof a));
    }
    printf("\n");
}

/* The rows of locations; head names the bytes column (NULL: by the mode). */
static void print_rows(const an_replay *rp, const struct opts *o, const an_loc *loc, size_t n,
                       uint64_t whole, const char *head)
{
    char a[32], b[32], c[32];
    if (o->mode == TEMPORARY)
        printf("%14s %14s %12s  %s\n", "count", "bytes", "average", "location");
    else
        printf("%14s%s %7s %9s  %s\n", head ? head : o->mode == LEAKS ? "bytes at end"
                                                                      : "bytes at peak",
               rp->sample ? "     \u00b1 95%" : "", "%", "blocks", "location");
    for (size_t i = 0; i < n; i++) {
        if (o->mode == TEMPORARY)
            printf("%14s %14s %12s  ", an_commas(loc[i].blocks, a, sizeof a),
                   size_text(loc[i].bytes, o->exact, b, sizeof b),
                   size_text(loc[i].blocks ? loc[i].bytes / loc[i].blocks : 0, o->exact, c, sizeof c));
        else if (rp->sample)
            printf("%14s %10s %6.1f%% %9s  ", size_text(loc[i].bytes, o->exact, a, sizeof a),
                   size_text(an_bound95(loc[i].var), o->exact, c, sizeof c),
                   pct(loc[i].bytes, whole), an_commas(loc[i].blocks, b, sizeof b));
        else
            printf("%14s %6.1f%% %9s  ", size_text(loc[i].bytes, o->exact, a, sizeof a),
                   pct(loc[i].bytes, whole), an_commas(loc[i].blocks, b, sizeof b));
        print_label(&rp->defs, &loc[i], o->by);
        if (!loc[i].func && cli_no_python_note(rp)) {
            fputs("  (", stdout);
            cli_put_text(cli_no_python_note(rp));
            putchar(')');
        }
        putchar('\n');
    }
}

static int print_json(const an_replay *rp, const struct opts *o, const an_loc *loc, size_t n,
                      uint64_t peak, uint64_t peak_us, uint64_t whole, cJSON *oom)
{
    cJSON *j = cJSON_CreateObject();
    char *u = an_utf8(rp->path, strlen(rp->path));
    cJSON_AddStringToObject(j, "trace", u ? u : "?");
    free(u);
    cJSON_AddNumberToObject(j, "peak_bytes", (double)peak);
    cJSON_AddNumberToObject(j, "peak_time_s", (double)peak_us / 1e6);
    if (rp->sample) { /* the numbers are estimates from a sample, with 95% bounds */
        cJSON_AddNumberToObject(j, "sample_bytes", (double)rp->sample);
        if (o->mode == PEAK)
            cJSON_AddNumberToObject(j, "peak_error_95", (double)an_bound95((double)rp->peak_var));
    }
    /* large mappings count their resident pages; these bytes of them never were */
    cJSON_AddBoolToObject(j, "mappings_measured", (rp->hdr.flags & FT_H_RESIDENT) != 0);
    cJSON_AddNumberToObject(j, "untouched_bytes", (double)(o->mode == LEAKS ? rp->maps.untouched
                                                                            : rp->peak_untouched));
    cJSON_AddNumberToObject(j, "duration_s", (double)rp->end_us / 1e6);
    cJSON_AddNumberToObject(j, "total_allocated_bytes", (double)rp->total_bytes);
    cJSON_AddNumberToObject(j, "allocations", (double)(rp->counts[FT_ALLOC] + rp->counts[FT_MMAP]));
    cJSON_AddBoolToObject(j, "ended_cleanly", !rp->ended_early);
    cJSON_AddItemToObject(j, "ending", cli_ending_json(rp));
    cJSON_AddBoolToObject(j, "started_late", (rp->hdr.flags & FT_H_LATE) != 0);
    if (cli_no_python_note(rp)) {
        const char *note = cli_no_python_note(rp);
        char *nu = an_utf8(note, strlen(note));
        cJSON_AddStringToObject(j, "no_python_stacks", nu ? nu : "?");
        free(nu);
    }
    if (o->mode != LEAKS)
        cJSON_AddNumberToObject(j, "live_at_end_bytes", (double)rp->end_live);
    cJSON_AddStringToObject(j, "by", by_names[o->by]);
    cJSON_AddStringToObject(j, "report", o->mode == TEMPORARY ? "temporary" : o->mode == LEAKS ? "leaks" : "peak");
    if (o->mode == TEMPORARY)
        cJSON_AddNumberToObject(j, "threshold", o->threshold - 1);
    if (o->mode == LEAKS)
        cJSON_AddNumberToObject(j, "live_at_end_bytes", (double)rp->cur);
    cJSON *a = cJSON_AddArrayToObject(j, "locations");
    for (size_t i = 0; i < n; i++) {
        place p = place_of(&rp->defs, loc[i].func, loc[i].line);
        cJSON *e = place_json(&p);
        place_free(&p);
        cJSON_AddNumberToObject(e, "bytes", (double)loc[i].bytes);
        if (o->mode == TEMPORARY) {
            cJSON_AddNumberToObject(e, "count", (double)loc[i].blocks);
            cJSON_AddNumberToObject(e, "average_bytes",
                                    loc[i].blocks ? (double)loc[i].bytes / (double)loc[i].blocks : 0);
        } else {
            cJSON_AddNumberToObject(e, "percent", pct(loc[i].bytes, whole));
            cJSON_AddNumberToObject(e, "blocks", (double)loc[i].blocks);
            if (rp->sample)
                cJSON_AddNumberToObject(e, "bytes_error_95", (double)an_bound95(loc[i].var));
        }
        if (loc[i].via_func) {
            place q = place_of(&rp->defs, loc[i].via_func, loc[i].via_line);
            cJSON_AddItemToObject(e, "via", place_json(&q));
            place_free(&q);
        }
        cJSON_AddItemToObject(e, "stack", stack_json(&rp->defs, loc[i].stack));
        cJSON_AddItemToArray(a, e);
    }
    if (oom)
        cJSON_AddItemToObject(j, "out_of_memory", oom);
    char *text = cJSON_Print(j);
    cJSON_Delete(j);
    if (!text)
        return 1;
    puts(text);
    free(text);
    return 0;
}

/* ---- out of memory: allocations that failed ---- */

static const char *allocator_names[FT_A_COUNT] = {
    [0] = "mmap", [FT_A_MALLOC] = "malloc", [FT_A_CALLOC] = "calloc",
    [FT_A_REALLOC] = "realloc", [FT_A_POSIX_MEMALIGN] = "posix_memalign",
    [FT_A_ALIGNED_ALLOC] = "aligned_alloc", [FT_A_MEMALIGN] = "memalign",
    [FT_A_VALLOC] = "valloc", [FT_A_PVALLOC] = "pvalloc",
    [FT_A_REALLOCARRAY] = "reallocarray", [FT_A_PYMEM] = "PyMem", [FT_A_PYOBJECT] = "PyObject",
};

/* The first failed allocation of a trace, and the locations live when it failed (a
 * replay that stops there). */
struct oom {
    an_failure first;
    uint64_t count;
    an_replay rp;
    an_loc *loc;
    size_t n;
};

/* 0 with m filled, 1 when nothing failed, -1 on an error (said). */
static int oom_load(struct oom *m, const char *path, const an_replay *whole, enum an_by by)
{
    memset(m, 0, sizeof *m);
    if (!whole->nfailures)
        return 1;
    m->first = whole->failures[0];
    m->count = whole->nfailures;
    if (cli_replay(&m->rp, path, m->first.event ? m->first.event : 1, 0))
        return -1;
    if (an_peak_locations(&m->rp, by, &m->loc, &m->n)) {
        cli_error("out of memory");
        return -1;
    }
    return 0;
}

static void oom_free(struct oom *m)
{
    free(m->loc);
    an_replay_free(&m->rp);
}

static cJSON *oom_json(const struct oom *m, long top)
{
    cJSON *o = cJSON_CreateObject();
    const an_defs *d = &m->rp.defs;
    uint32_t s = m->first.stack < d->nnode ? m->first.stack : 0;
    place p = place_of(d, s ? d->node[s].func : 0, s ? d->node[s].line : 0);
    cJSON_AddNumberToObject(o, "count", (double)m->count);
    cJSON *f = cJSON_AddObjectToObject(o, "first");
    cJSON_AddNumberToObject(f, "size", (double)m->first.size);
    cJSON_AddStringToObject(f, "allocator", allocator_names[m->first.allocator]);
    cJSON_AddStringToObject(f, "function", p.func ? p.func : "?");
    cJSON_AddStringToObject(f, "file", p.file ? p.file : "?");
    cJSON_AddNumberToObject(f, "line", p.line);
    place_free(&p);
    cJSON_AddItemToObject(f, "stack", stack_json(d, s));
    cJSON_AddNumberToObject(f, "time_s", (double)m->first.time_us / 1e6);
    cJSON_AddNumberToObject(f, "live_bytes", (double)m->first.live);
    cJSON *ls = cJSON_AddArrayToObject(f, "locations");
    size_t n = top && (size_t)top < m->n ? (size_t)top : m->n;
    for (size_t i = 0; i < n; i++) {
        place q = place_of(d, m->loc[i].func, m->loc[i].line);
        cJSON *e = place_json(&q);
        place_free(&q);
        cJSON_AddNumberToObject(e, "bytes", (double)m->loc[i].bytes);
        cJSON_AddItemToArray(ls, e);
    }
    return o;
}

static void oom_text(const struct oom *m, const struct opts *o)
{
    char a[32], b[32];
    const an_defs *d = &m->rp.defs;
    uint32_t s = m->first.stack < d->nnode ? m->first.stack : 0;
    printf("\nout of memory: %llu allocation%s failed; the first, of %s (%s), at ",
           (unsigned long long)m->count, m->count == 1 ? "" : "s",
           size_text(m->first.size, o->exact, a, sizeof a), allocator_names[m->first.allocator]);
    an_loc at = {s ? d->node[s].func : 0, s ? d->node[s].line : 0, 0, 0, s, 0, 0, 0, 0};
    print_label(d, &at, AN_BY_LINE);
    printf(",\n%.3f s, with %s live, held by:\n", (double)m->first.time_us / 1e6,
           size_text(m->first.live, o->exact, b, sizeof b));
    size_t n = m->n < 5 ? m->n : 5;
    print_rows(&m->rp, o, m->loc, n, m->first.live, "bytes live");
}

static int parse(int argc, char **argv, struct opts *o, const char *use)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *inl = NULL; /* --opt=value: the value, in place */
        char opt[32];
        const char *eq = a[0] == '-' && a[1] == '-' ? strchr(a, '=') : NULL;
        if (eq && (size_t)(eq - a) < sizeof opt) {
            memcpy(opt, a, (size_t)(eq - a));
            opt[eq - a] = 0;
            inl = eq + 1;
            a = opt;
        }
        int has = inl || i + 1 < argc; /* a value follows */
        if (inl && (cli_is_help(a) || !strcmp(a, "--json") || !strcmp(a, "--bytes") ||
                    !strcmp(a, "--temporary"))) {
            cli_error("option '%s' takes no value; see 'filrec %s --help'", a, argv[0]);
            return 1;
        } else if (cli_is_help(a)) {
            fputs(use, stdout);
            return 0;
        } else if (!strcmp(a, "--json")) {
            o->json = 1;
        } else if (!strcmp(a, "--bytes")) {
            o->exact = 1;
        } else if (!strcmp(a, "--temporary") && o->mode == PEAK) {
            o->mode = TEMPORARY;
        } else if ((!strcmp(a, "--top") || !strcmp(a, "--threshold")) && has) {
            char *end;
            const char *s = inl ? inl : argv[++i];
            long v = strtol(s, &end, 10);
            if (!*s || *end || v < 0 || v > 1000000) {
                cli_error("bad %s '%s': want a count", a, s);
                return 1;
            }
            if (a[3] == 'o')
                o->top = v;
            else
                o->threshold = (unsigned)v + 1; /* the allocations it may be freed within */
        } else if (!strcmp(a, "--process") && has) {
            char *end;
            const char *s = inl ? inl : argv[++i];
            long v = strtol(s, &end, 10);
            if (!*s || *end || v < 1) {
                cli_error("bad --process '%s': want a process id", s);
                return 1;
            }
            o->process = v;
        } else if (!strcmp(a, "--by") && has) {
            const char *v = inl ? inl : argv[++i];
            int k = 0;
            while (k < 5 && strcmp(v, by_names[k]))
                k++;
            if (!strcmp(v, "innermost"))
                k = AN_BY_LINE;
            if (k == 5) {
                cli_error("bad --by '%s': want code, innermost, line, function, file or stack", v);
                return 1;
            }
            o->by = (enum an_by)k;
        } else if (!strcmp(a, "--code-root") && has) {
            const char *v = inl ? inl : argv[++i];
            char *real = realpath(v, NULL);
            if (!real) {
                cli_error("bad --code-root '%s': %s", v, strerror(errno));
                return 1;
            }
            an_code_set_root(real); /* for the whole run */
        } else if (a[0] == '-' && a[1]) {
            cli_error("unknown option '%s'; see 'filrec %s --help'", a, argv[0]);
            return 1;
        } else if (o->path) {
            cli_error("%s reads one trace; got '%s' and '%s'", argv[0], o->path, a);
            return 1;
        } else {
            o->path = a;
        }
    }
    if (!o->path) {
        fputs(use, stderr);
        return 1;
    }
    if (o->threshold && o->mode != TEMPORARY) {
        cli_error("--threshold goes with --temporary; see 'filrec %s --help'", argv[0]);
        return 1;
    }
    if (!o->threshold)
        o->threshold = 2; /* at most one other allocation in between */
    return -1; /* go on */
}

static int report(struct opts *o)
{
    an_replay rp;
    int one = o->mode == PEAK && cli_one_pass();
    int err = o->mode == TEMPORARY ? an_replay_temporaries(&rp, o->path, o->threshold, CLI_PASS_1)
              : one ? an_replay_peak(&rp, o->path, CLI_ONE_PASS)
                    : an_replay_run(&rp, o->path, 0, CLI_PASS_1);
    if (cli_replayed(&rp, o->path, err, 1))
        return 1;
    uint64_t peak = rp.peak, peak_us = rp.peak_time_us, peak_event = rp.peak_event, whole = peak;
    struct oom oom;
    int have_oom = o->mode == PEAK ? oom_load(&oom, o->path, &rp, o->by) : 1;
    if (have_oom < 0) {
        an_replay_free(&rp);
        return 1;
    }
    have_oom = have_oom == 0;
    an_loc *loc = NULL;
    size_t n = 0;
    int rc = 0;
    if (o->mode == TEMPORARY) {
        uint64_t *blocks = calloc(rp.ntemp ? rp.ntemp : 1, sizeof *blocks);
        uint64_t *bytes = calloc(rp.ntemp ? rp.ntemp : 1, sizeof *bytes);
        for (size_t s = 0; blocks && bytes && s < rp.ntemp; s++)
            blocks[s] = rp.temp[s].count, bytes[s] = rp.temp[s].bytes;
        rc = !blocks || !bytes || an_group(&rp.defs, bytes, blocks, NULL, rp.ntemp, o->by, &loc, &n);
        free(blocks);
        free(bytes); /* largest bytes first (an_group): the churn that costs most */
    } else {
        if (o->mode == PEAK && one) { /* what was live at the peak is kept in rp.snap */
            rp.counts[FT_ALLOC] += rp.counts[FT_MMAP];
            rp.counts[FT_MMAP] = 0;
        } else if (o->mode == PEAK) {
            uint64_t total = rp.total_bytes, allocs = rp.counts[FT_ALLOC] + rp.counts[FT_MMAP];
            uint64_t end_us = rp.end_us, end_live = rp.cur, tend = rp.trailer_end;
            int early = rp.ended_early, tflags = rp.trailer_flags;
            char *exec = rp.exec_path;
            size_t exec_len = rp.exec_len;
            rp.exec_path = NULL;
            an_replay_free(&rp);
            if (cli_replay(&rp, o->path, peak_event, 0)) {
                free(exec);
                return 1;
            }
            /* the header describes the whole run, not the part up to the peak */
            rp.total_bytes = total;
            rp.counts[FT_ALLOC] = allocs;
            rp.counts[FT_MMAP] = 0;
            rp.end_us = end_us;
            rp.ended_early = early;
            rp.end_live = end_live;
            rp.trailer_flags = tflags;
            rp.trailer_end = tend;
            free(rp.exec_path);
            rp.exec_path = exec;
            rp.exec_len = exec_len;
        } else {
            whole = rp.cur;
        }
        rc = an_peak_locations(&rp, o->by, &loc, &n);
    }
    if (rc) {
        cli_error("out of memory");
        if (have_oom)
            oom_free(&oom);
        an_replay_free(&rp);
        return 1;
    }
    if (o->top && (size_t)o->top < n)
        n = (size_t)o->top;
    if (o->json) {
        rc = print_json(&rp, o, loc, n, peak, peak_us, whole,
                        have_oom ? oom_json(&oom, o->top) : NULL);
    } else {
        print_header(&rp, o, peak, peak_us);
        print_rows(&rp, o, loc, n, whole, NULL);
        if (have_oom)
            oom_text(&oom, o);
    }
    if (have_oom)
        oom_free(&oom);
    free(loc);
    an_replay_free(&rp);
    return rc;
}

/* ---- a job of many processes (filrec run's PATH and PATH.d/) ---- */

/* The command of a trace, its arguments joined by spaces, for a terminal. */
static void print_command(const ft_header *h)
{
    for (size_t i = 0; i < h->cmdline_len; i++) {
        char c = h->cmdline[i];
        putchar(c == 0 ? ' ' : (unsigned char)c < 0x20 || c == 0x7f ? '?' : c);
    }
}

/* A process's locations at its share of the whole-job peak: a replay to that event. */
struct job_locs {
    an_replay rp;
    an_loc *loc;
    size_t n;
};

static int job_locations(const an_proc *p, enum an_by by, struct job_locs *out)
{
    memset(out, 0, sizeof *out);
    if (cli_replay(&out->rp, p->path, p->at_job_peak_event ? p->at_job_peak_event : 1, 0))
        return -1;
    if (!p->at_job_peak)
        return 0; /* it held nothing then (or had not started, or had ended) */
    return an_peak_locations(&out->rp, by, &out->loc, &out->n) ? -1 : 0;
}

struct job_row {
    size_t proc;
    const an_loc *loc;
};

static int by_bytes(const void *a, const void *b)
{
    const struct job_row *x = a, *y = b;
    return x->loc->bytes < y->loc->bytes ? 1 : x->loc->bytes > y->loc->bytes ? -1 : 0;
}

static int print_job(const struct opts *o, const an_job *j, struct job_locs *pl)
{
    size_t total = 0, k = 0;
    for (size_t i = 0; i < j->n; i++)
        total += pl[i].n;
    struct job_row *rows = malloc((total ? total : 1) * sizeof *rows);
    if (!rows)
        return -1;
    for (size_t i = 0; i < j->n; i++)
        for (size_t m = 0; m < pl[i].n; m++)
            rows[k++] = (struct job_row){i, &pl[i].loc[m]};
    qsort(rows, k, sizeof *rows, by_bytes);
    if (o->top && (size_t)o->top < k)
        k = (size_t)o->top;
    char a[32], b[32], c[32];
    if (o->json) {
        cJSON *root = cJSON_CreateObject();
        char *u = an_utf8(o->path, strlen(o->path));
        cJSON_AddStringToObject(root, "trace", u ? u : "?");
        free(u);
        cJSON_AddBoolToObject(root, "job", 1);
        cJSON_AddNumberToObject(root, "peak_bytes", (double)j->peak);
        cJSON_AddNumberToObject(root, "peak_time_s", (double)j->peak_time_us / 1e6);
        int clean = 1;
        for (size_t i = 0; i < j->n; i++)
            clean &= !j->procs[i].ended_early;
        cJSON_AddBoolToObject(root, "ended_cleanly", clean);
        cJSON_AddStringToObject(root, "by", by_names[o->by]);
        cJSON_AddStringToObject(root, "report", "peak");
        cJSON *ps = cJSON_AddArrayToObject(root, "processes");
        for (size_t i = 0; i < j->n; i++) {
            const an_proc *p = &j->procs[i];
            cJSON *e = cJSON_CreateObject();
            u = an_utf8(p->path, strlen(p->path));
            cJSON_AddStringToObject(e, "trace", u ? u : "?");
            free(u);
            cJSON_AddNumberToObject(e, "pid", (double)p->pid);
            cJSON_AddNumberToObject(e, "ppid", (double)p->ppid);
            cJSON_AddNumberToObject(e, "image", (double)p->image);
            cJSON *cmd = cJSON_AddArrayToObject(e, "command");
            const ft_header *h = &pl[i].rp.hdr;
            for (size_t at = 0; at < h->cmdline_len || (at == 0 && h->cmdline_len == 0);) {
                size_t len = strnlen(h->cmdline + at, h->cmdline_len - at);
                u = an_utf8(h->cmdline + at, len);
                cJSON_AddItemToArray(cmd, cJSON_CreateString(u ? u : ""));
                free(u);
                at += len + 1;
                if (!h->cmdline_len)
                    break;
            }
            cJSON_AddNumberToObject(e, "peak_bytes", (double)p->peak);
            cJSON_AddNumberToObject(e, "peak_time_s", (double)p->peak_time_us / 1e6);
            cJSON_AddNumberToObject(e, "at_job_peak_bytes", (double)p->at_job_peak);
            cJSON_AddStringToObject(e, "ended", cli_proc_ending(p, c, sizeof c));
            cJSON_AddItemToArray(ps, e);
        }
        an_unrec *un = NULL;
        size_t nun = 0;
        an_job_unrecorded(o->path, &un, &nun);
        cJSON_AddNumberToObject(root, "not_recorded", (double)nun);
        free(un);
        cJSON *ls = cJSON_AddArrayToObject(root, "locations");
        for (size_t i = 0; i < k; i++) {
            const an_replay *rp = &pl[rows[i].proc].rp;
            place p = place_of(&rp->defs, rows[i].loc->func, rows[i].loc->line);
            cJSON *e = place_json(&p);
            place_free(&p);
            cJSON_AddNumberToObject(e, "pid", (double)j->procs[rows[i].proc].pid);
            cJSON_AddNumberToObject(e, "bytes", (double)rows[i].loc->bytes);
            cJSON_AddNumberToObject(e, "percent", pct(rows[i].loc->bytes, j->peak));
            cJSON_AddNumberToObject(e, "blocks", (double)rows[i].loc->blocks);
            cJSON_AddItemToObject(e, "stack", stack_json(&rp->defs, rows[i].loc->stack));
            cJSON_AddItemToArray(ls, e);
        }
        char *text = cJSON_Print(root);
        cJSON_Delete(root);
        free(rows);
        if (!text)
            return -1;
        puts(text);
        free(text);
        return 0;
    }
    printf("job:         %zu processes\n", j->n);
    printf("peak:        %s at %.3f s, all processes together (to the sample interval)\n\n",
           size_text(j->peak, o->exact, a, sizeof a), (double)j->peak_time_us / 1e6);
    printf("%8s %12s %12s  %-10s %s\n", "pid", "own peak", "at job peak", "ended", "command");
    for (size_t i = 0; i < j->n; i++) {
        const an_proc *p = &j->procs[i];
        printf("%8llu %12s %12s  %-10s ", (unsigned long long)p->pid,
               size_text(p->peak, o->exact, a, sizeof a),
               size_text(p->at_job_peak, o->exact, b, sizeof b), cli_proc_ending(p, c, sizeof c));
        print_command(&pl[i].rp.hdr);
        putchar('\n');
    }
    an_unrec *un = NULL;
    size_t nun = 0;
    an_job_unrecorded(o->path, &un, &nun);
    if (nun)
        printf("not recorded: %zu process%s ('filrec stats' lists them)\n", nun,
               nun == 1 ? "" : "es");
    free(un);
    printf("\n%14s %7s %9s %8s  %s\n", "bytes at peak", "%", "blocks", "pid", "location");
    for (size_t i = 0; i < k; i++) {
        const an_loc *l = rows[i].loc;
        printf("%14s %6.1f%% %9s %8llu  ", size_text(l->bytes, o->exact, a, sizeof a),
               pct(l->bytes, j->peak), an_commas(l->blocks, b, sizeof b),
               (unsigned long long)j->procs[rows[i].proc].pid);
        print_label(&pl[rows[i].proc].rp.defs, l, o->by);
        putchar('\n');
    }
    free(rows);
    return 0;
}

static int report_job(struct opts *o, char **paths, size_t n)
{
    an_job j;
    char msg[600];
    int err = an_job_run(&j, paths, n, msg, sizeof msg, 1);
    if (err) {
        cli_error("%s", msg);
        an_job_free(&j);
        return 1;
    }
    struct job_locs *pl = calloc(n, sizeof *pl);
    int rc = !pl;
    for (size_t i = 0; !rc && i < n; i++)
        rc = job_locations(&j.procs[i], o->by, &pl[i]) != 0;
    if (!rc)
        rc = print_job(o, &j, pl) != 0;
    for (size_t i = 0; pl && i < n; i++) {
        free(pl[i].loc);
        an_replay_free(&pl[i].rp);
    }
    free(pl);
    an_job_free(&j);
    return rc;
}

/* A job when path is a folder, or a trace with a PATH.d/ of more beside it. */
static int run_report(struct opts *o)
{
    char **paths;
    size_t n;
    if ((o->mode != PEAK && !o->process) || an_job_paths(o->path, &paths, &n))
        return report(o);
    int is_job = n > 1 || (n == 1 && strcmp(paths[0], o->path)), rc;
    if (o->process) {
        /* that process's last program: the trace of the highest image */
        const char *pick = NULL;
        uint64_t image = 0;
        for (size_t i = 0; i < n; i++) {
            ft_reader *r;
            if (ft_reader_open(&r, paths[i]) == 0 &&
                ft_reader_header(r)->pid == (uint64_t)o->process &&
                (!pick || ft_reader_header(r)->image >= image)) {
                pick = paths[i];
                image = ft_reader_header(r)->image;
            }
            ft_reader_close(r);
        }
        if (!pick) {
            cli_error("'%s' holds no process %ld", o->path, o->process);
            an_job_paths_free(paths, n);
            return 1;
        }
        const char *whole = o->path;
        o->path = pick;
        rc = report(o);
        o->path = whole;
    } else {
        rc = is_job ? report_job(o, paths, n) : report(o);
    }
    an_job_paths_free(paths, n);
    return rc;
}

int cmd_summary(int argc, char **argv)
{
    struct opts o = {PEAK, AN_BY_CODE, 10, 0, 0, 0, 0, NULL};
    int rc = parse(argc, argv, &o, usage);
    return rc >= 0 ? rc : run_report(&o);
}

int cmd_leaks(int argc, char **argv)
{
    struct opts o = {LEAKS, AN_BY_CODE, 10, 0, 0, 0, 0, NULL};
    int rc = parse(argc, argv, &o, leaks_usage);
    return rc >= 0 ? rc : report(&o);
}
