/* cmd_stats.c: `filrec stats`: what a trace holds, as text or JSON. The numbers come
 * from one replay (an_replay.c); text and JSON print the same fields. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../analyze/an.h"
#include "cli.h"

static const char usage[] =
    "usage: filrec stats [--json] TRACE\n"
    "\n"
    "Replay TRACE and print its duration, event counts, total bytes allocated, the\n"
    "exact peak of tracked live bytes and when it happened, bytes live at exit, trace\n"
    "bytes per event, and whether the trace ended cleanly.\n"
    "\n"
    "  --json       print one JSON object instead of text\n"
    "  -h, --help   show this help\n";

static const char *kind_names[FT_KIND_COUNT] = {
    [FT_ALLOC] = "alloc", [FT_FREE] = "free", [FT_MMAP] = "mmap", [FT_MUNMAP] = "munmap",
    [FT_MREMAP] = "mremap", [FT_THREAD] = "thread", [FT_THREAD_START] = "thread_start",
    [FT_THREAD_NAME] = "thread_name", [FT_STRING] = "string", [FT_FUNCTION] = "function",
    [FT_STACK_NODE] = "stack_node", [FT_SAMPLE] = "sample", [FT_MARKER] = "marker",
    [FT_FORK] = "fork", [FT_EXEC] = "exec", [FT_RESIDENT] = "resident",
};
static const char *marker_types[] = {"point", "begin", "end"};

static double per_event(const an_replay *rp)
{
    return rp->events ? (double)rp->trace_bytes / (double)rp->events : 0;
}

static void add_string(cJSON *o, const char *key, const char *s, size_t n)
{
    char *u = an_utf8(s, n);
    cJSON_AddItemToObject(o, key, cJSON_CreateString(u ? u : ""));
    free(u);
}

/* Call fn on each argument of the header's NUL-separated command line, cleaned to
 * UTF-8. The command line need not end with a NUL. */
static void each_arg(const ft_header *h, void (*fn)(const char *arg, void *ctx), void *ctx)
{
    const char *s = h->cmdline, *end = s + h->cmdline_len;
    while (h->cmdline_len && s <= end) {
        const char *z = memchr(s, 0, (size_t)(end - s));
        size_t n = z ? (size_t)(z - s) : (size_t)(end - s);
        char *u = an_utf8(s, n);
        fn(u ? u : "?", ctx);
        free(u);
        s += n + 1;
    }
}

/* Spaces after s to fill width columns, as printf's %-24s would (counting bytes). */
static int pad(const char *s, int width)
{
    size_t n = s ? strlen(s) : 1;
    return n < (size_t)width ? width - (int)n : 0;
}

static void add_arg(const char *arg, void *array)
{
    cJSON_AddItemToArray(array, cJSON_CreateString(arg));
}

static void print_arg(const char *arg, void *unused)
{
    (void)unused;
    putchar(' ');
    cli_put_text(arg);
}

static cJSON *command_array(const ft_header *h)
{
    cJSON *a = cJSON_CreateArray();
    each_arg(h, add_arg, a);
    return a;
}

static void job_json(cJSON *o, const an_job *j)
{
    char w[32];
    cJSON *jo = cJSON_AddObjectToObject(o, "job");
    cJSON_AddNumberToObject(jo, "processes", (double)j->n);
    cJSON_AddNumberToObject(jo, "peak_bytes", (double)j->peak);
    cJSON_AddNumberToObject(jo, "peak_time_s", (double)j->peak_time_us / 1e6);
    cJSON *ts = cJSON_AddArrayToObject(jo, "traces");
    for (size_t i = 0; i < j->n; i++) {
        const an_proc *p = &j->procs[i];
        cJSON *e = cJSON_CreateObject();
        add_string(e, "trace", p->path, strlen(p->path));
        cJSON_AddNumberToObject(e, "pid", (double)p->pid);
        cJSON_AddNumberToObject(e, "ppid", (double)p->ppid);
        cJSON_AddNumberToObject(e, "image", (double)p->image);
        cJSON_AddNumberToObject(e, "peak_bytes", (double)p->peak);
        cJSON_AddNumberToObject(e, "at_job_peak_bytes", (double)p->at_job_peak);
        cJSON_AddStringToObject(e, "ended", cli_proc_ending(p, w, sizeof w));
        cJSON_AddItemToArray(ts, e);
    }
}

static void job_text(const an_job *j)
{
    char a[32], b[32], w[32];
    printf("job:              %zu processes; together at most %s at %.3f s (to the sample "
           "interval)\n", j->n, an_human(j->peak, a, sizeof a), (double)j->peak_time_us / 1e6);
    printf("  %8s %8s %10s %12s  %-10s %s\n", "pid", "parent", "own peak", "at job peak",
           "ended", "trace");
    for (size_t i = 0; i < j->n; i++) {
        const an_proc *p = &j->procs[i];
        printf("  %8llu %8llu %10s %12s  %-10s ", (unsigned long long)p->pid,
               (unsigned long long)p->ppid, an_human(p->peak, a, sizeof a),
               an_human(p->at_job_peak, b, sizeof b), cli_proc_ending(p, w, sizeof w));
        char *u = an_utf8(p->path, strlen(p->path));
        cli_put_text(u ? u : "?");
        free(u);
        putchar('\n');
    }
}

static int print_json(const an_replay *rp, const an_job *job, const an_unrec *un, size_t nun)
{
    cJSON *o = cJSON_CreateObject();
    add_string(o, "trace", rp->path, strlen(rp->path));
    cJSON_AddNumberToObject(o, "format_version", rp->version);
    cJSON_AddNumberToObject(o, "pid", (double)rp->hdr.pid);
    cJSON_AddNumberToObject(o, "ppid", (double)rp->hdr.ppid);
    cJSON_AddNumberToObject(o, "image", (double)rp->hdr.image);
    cJSON_AddItemToObject(o, "command", command_array(&rp->hdr));
    cJSON_AddNumberToObject(o, "start_time_s", (double)rp->hdr.start_ns / 1e9);
    cJSON_AddNumberToObject(o, "duration_s", (double)rp->end_us / 1e6);
    cJSON_AddBoolToObject(o, "ended_cleanly", !rp->ended_early);
    cJSON_AddBoolToObject(o, "started_late", (rp->hdr.flags & FT_H_LATE) != 0);
    cJSON_AddBoolToObject(o, "ended_by_own_signal", !rp->ended_early &&
                                                    (rp->trailer_flags & FT_T_SIGNAL));
    cJSON_AddItemToObject(o, "ending", cli_ending_json(rp));
    cJSON *c = cJSON_AddObjectToObject(o, "counts");
    for (unsigned k = 1; k < FT_KIND_COUNT; k++)
        if (kind_names[k])
            cJSON_AddNumberToObject(c, kind_names[k], (double)rp->counts[k]);
    cJSON_AddNumberToObject(o, "events", (double)rp->events);
    cJSON_AddNumberToObject(o, "total_allocated_bytes", (double)rp->total_bytes);
    cJSON_AddNumberToObject(o, "peak_bytes", (double)rp->peak);
    cJSON_AddNumberToObject(o, "peak_time_s", (double)rp->peak_time_us / 1e6);
    cJSON_AddNumberToObject(o, "peak_event", (double)rp->peak_event);
    cJSON_AddBoolToObject(o, "mappings_measured", (rp->hdr.flags & FT_H_RESIDENT) != 0);
    cJSON_AddNumberToObject(o, "sample_bytes", (double)rp->sample); /* 0: every allocation */
    if (rp->sample)
        cJSON_AddNumberToObject(o, "peak_error_95", (double)an_bound95((double)rp->peak_var));
    cJSON_AddNumberToObject(o, "peak_untouched_bytes", (double)rp->peak_untouched);
    cJSON_AddNumberToObject(o, "live_at_exit_bytes", (double)rp->cur);
    cJSON_AddNumberToObject(o, "unmatched_frees", (double)rp->unmatched_frees);
    cJSON_AddNumberToObject(o, "threads", rp->threads);
    cJSON_AddNumberToObject(o, "trace_bytes", (double)rp->trace_bytes);
    cJSON_AddNumberToObject(o, "bytes_per_event", per_event(rp));
    cJSON *ms = cJSON_AddArrayToObject(o, "markers");
    for (size_t i = 0; i < rp->nmarkers; i++) {
        const an_marker *m = &rp->markers[i];
        cJSON *j = cJSON_CreateObject();
        add_string(j, "label", m->label, m->len);
        cJSON_AddStringToObject(j, "type", marker_types[m->type]);
        cJSON_AddNumberToObject(j, "time_s", (double)m->time_us / 1e6);
        cJSON_AddNumberToObject(j, "live_bytes", (double)m->live);
        cJSON_AddNumberToObject(j, "thread", m->thread);
        cJSON_AddItemToArray(ms, j);
    }
    cJSON *fs = cJSON_AddArrayToObject(o, "forks");
    for (size_t i = 0; i < rp->nforks; i++)
        cJSON_AddItemToArray(fs, cJSON_CreateNumber((double)rp->forks[i]));
    if (job)
        job_json(o, job);
    if (nun) {
        cJSON *us = cJSON_AddArrayToObject(o, "not_recorded");
        for (size_t i = 0; i < nun; i++) {
            cJSON *e = cJSON_CreateObject();
            cJSON_AddNumberToObject(e, "pid", (double)un[i].pid);
            cJSON_AddNumberToObject(e, "ppid", (double)un[i].ppid);
            add_string(e, "command", un[i].cmd, strlen(un[i].cmd));
            add_string(e, "why", un[i].why, strlen(un[i].why));
            cJSON_AddItemToArray(us, e);
        }
    }
    char *text = cJSON_Print(o);
    cJSON_Delete(o);
    if (!text)
        return 1;
    puts(text);
    free(text);
    return 0;
}

static void print_text(const an_replay *rp)
{
    char a[32], b[32], c[32];
    const ft_header *h = &rp->hdr;
    char *path = an_utf8(rp->path, strlen(rp->path));
    fputs("trace:            ", stdout);
    cli_put_text(path ? path : "?");
    printf(" (%s, format %u)\n", an_human(rp->trace_bytes, a, sizeof a), rp->version);
    free(path);
    printf("command:         ");
    each_arg(h, print_arg, NULL);
    printf("\npid:              %llu (parent %llu)", (unsigned long long)h->pid,
           (unsigned long long)h->ppid);
    if (h->image)
        printf(", its program after exec number %llu", (unsigned long long)h->image);
    putchar('\n');
    printf("duration:         %.3f s\n", (double)rp->end_us / 1e6);
    if (h->flags & FT_H_LATE)
        printf("started:          in the running process (filrec.start, attach): earlier "
               "blocks unseen\n");
    if (rp->sample) {
        char s[32];
        printf("sampled:          one allocation in every %s allocated, on average (--sample): "
               "byte counts are estimates\n", cli_interval(rp->sample, s, sizeof s));
    }
    fputs("ended:            ", stdout);
    cli_put_ending(rp);
    putchar('\n');
    printf("events:           %s (alloc %s, free %s, mmap %llu, munmap %llu, mremap %llu, "
           "resident %llu)\n",
           an_commas(rp->events, a, sizeof a), an_commas(rp->counts[FT_ALLOC], b, sizeof b),
           an_commas(rp->counts[FT_FREE], c, sizeof c), (unsigned long long)rp->counts[FT_MMAP],
           (unsigned long long)rp->counts[FT_MUNMAP], (unsigned long long)rp->counts[FT_MREMAP],
           (unsigned long long)rp->counts[FT_RESIDENT]);
    printf("threads:          %u\n", rp->threads);
    printf("allocated:        %s in total\n", an_human(rp->total_bytes, a, sizeof a));
    printf("peak:             %s (%s bytes) at %.3f s, event %s\n", an_human(rp->peak, a, sizeof a),
           an_commas(rp->peak, b, sizeof b), (double)rp->peak_time_us / 1e6,
           an_commas(rp->peak_event, c, sizeof c));
    char un[96];
    if (*cli_untouched(rp->peak_untouched, un, sizeof un))
        printf("  at the peak:    %s\n", un);
    printf("live at exit:     %s (%s bytes)\n", an_human(rp->cur, a, sizeof a),
           an_commas(rp->cur, b, sizeof b));
    printf("unmatched frees:  %s\n", an_commas(rp->unmatched_frees, a, sizeof a));
    printf("trace size:       %.2f bytes per event\n", per_event(rp));
    if (rp->nforks)
        printf("forks:            %zu\n", rp->nforks);
    if (rp->nmarkers)
        printf("markers:\n");
    for (size_t i = 0; i < rp->nmarkers; i++) {
        const an_marker *m = &rp->markers[i];
        char *u = an_utf8(m->label, m->len);
        printf("  %9.3f s  %-5s  ", (double)m->time_us / 1e6, marker_types[m->type]);
        cli_put_text(u ? u : "?");
        printf("%*s %s live\n", pad(u, 24), "", an_human(m->live, a, sizeof a));
        free(u);
    }
}

int cmd_stats(int argc, char **argv)
{
    int json = 0;
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            fputs(usage, stdout);
            return 0;
        } else if (!strcmp(argv[i], "--json")) {
            json = 1;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            cli_error("unknown option '%s' for stats; see 'filrec stats --help'", argv[i]);
            return 1;
        } else if (path) {
            cli_error("stats reads one trace; got '%s' and '%s'", path, argv[i]);
            return 1;
        } else {
            path = argv[i];
        }
    }
    if (!path) {
        fputs(usage, stderr);
        return 1;
    }
    an_replay rp;
    if (cli_replayed(&rp, path, an_replay_run(&rp, path, 0, CLI_PASS_ONE), 1))
        return 1;
    /* A trace with more of its job in PATH.d/: each process, and the job's peak. */
    char **paths = NULL, msg[600];
    size_t n = 0;
    an_job job = {0};
    int is_job = an_job_paths(path, &paths, &n) == 0 && n > 1;
    if (is_job && an_job_run(&job, paths, n, msg, sizeof msg, 0)) {
        cli_error("%s", msg);
        an_job_free(&job);
        an_job_paths_free(paths, n);
        an_replay_free(&rp);
        return 1;
    }
    an_unrec *un = NULL;
    size_t nun = 0;
    an_job_unrecorded(path, &un, &nun);
    int rc = json ? print_json(&rp, is_job ? &job : NULL, un, nun) : (print_text(&rp), 0);
    if (!json && is_job)
        job_text(&job);
    if (!json && nun) {
        printf("not recorded:     %zu process%s\n", nun, nun == 1 ? "" : "es");
        for (size_t i = 0; i < nun; i++) {
            printf("  %8llu %8llu  ", (unsigned long long)un[i].pid,
                   (unsigned long long)un[i].ppid);
            cli_put_text(un[i].cmd);
            fputs(": ", stdout);
            cli_put_text(un[i].why);
            putchar('\n');
        }
    }
    free(un);
    an_job_free(&job);
    an_job_paths_free(paths, n);
    an_replay_free(&rp);
    return rc;
}
