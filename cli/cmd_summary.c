/* cmd_summary.c: `filrec summary`: when memory peaked and which lines allocated what
 * was live then. Two replays: the first finds the peak, the second stops at it. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../analyze/an.h"
#include "cli.h"

static const char usage[] =
    "usage: filrec summary [--top N] [--json] TRACE\n"
    "\n"
    "The peak of tracked memory (bytes and time) and the locations (file:line,\n"
    "function) whose allocations were live at that moment, largest first.\n"
    "\n"
    "  --top N      show N locations (default 10; 0 for all)\n"
    "  --json       print one JSON object instead of text\n"
    "  -h, --help   show this help\n";

#define NO_STACK "[no Python stack]"

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

/* The stack, outermost frame first. */
static cJSON *stack_json(const an_defs *d, uint32_t stack)
{
    cJSON *a = cJSON_CreateArray();
    uint32_t ids[4096];
    size_t n = 0;
    for (uint32_t s = stack; s && s < d->nnode && n < 4096; s = d->node[s].parent)
        ids[n++] = s;
    while (n--) {
        place p = place_of(d, d->node[ids[n]].func, d->node[ids[n]].line);
        cJSON_AddItemToArray(a, place_json(&p));
        place_free(&p);
    }
    return a;
}

static double pct(uint64_t part, uint64_t whole)
{
    return whole ? 100.0 * (double)part / (double)whole : 0;
}

static int print_json(const an_replay *rp, const an_loc *loc, size_t n, uint64_t peak_time_us,
                      uint64_t end_us, int early)
{
    cJSON *o = cJSON_CreateObject();
    char *u = an_utf8(rp->path, strlen(rp->path));
    cJSON_AddStringToObject(o, "trace", u ? u : "?");
    free(u);
    cJSON_AddNumberToObject(o, "peak_bytes", (double)rp->peak);
    cJSON_AddNumberToObject(o, "peak_time_s", (double)peak_time_us / 1e6);
    cJSON_AddNumberToObject(o, "duration_s", (double)end_us / 1e6);
    cJSON_AddBoolToObject(o, "ended_cleanly", !early);
    cJSON_AddStringToObject(o, "by", "line");
    cJSON *a = cJSON_AddArrayToObject(o, "locations");
    for (size_t i = 0; i < n; i++) {
        place p = place_of(&rp->defs, loc[i].func, loc[i].line);
        cJSON *j = place_json(&p);
        place_free(&p);
        cJSON_AddNumberToObject(j, "bytes", (double)loc[i].bytes);
        cJSON_AddNumberToObject(j, "percent", pct(loc[i].bytes, rp->peak));
        cJSON_AddNumberToObject(j, "blocks", (double)loc[i].blocks);
        cJSON_AddItemToObject(j, "stack", stack_json(&rp->defs, loc[i].stack));
        cJSON_AddItemToArray(a, j);
    }
    char *text = cJSON_Print(o);
    cJSON_Delete(o);
    if (!text)
        return 1;
    puts(text);
    free(text);
    return 0;
}

static void print_text(const an_replay *rp, const an_loc *loc, size_t n, uint64_t peak_time_us,
                       uint64_t end_us)
{
    char a[32], b[32];
    printf("peak: %s (%s bytes) at %.3f s of %.3f s\n\n", an_human(rp->peak, a, sizeof a),
           an_commas(rp->peak, b, sizeof b), (double)peak_time_us / 1e6, (double)end_us / 1e6);
    printf("%14s %7s %9s  %s\n", "bytes at peak", "%", "blocks", "location");
    for (size_t i = 0; i < n; i++) {
        place p = place_of(&rp->defs, loc[i].func, loc[i].line);
        if (loc[i].func)
            printf("%14s %6.1f%% %9s  %s:%u %s\n", an_human(loc[i].bytes, a, sizeof a),
                   pct(loc[i].bytes, rp->peak), an_commas(loc[i].blocks, b, sizeof b),
                   p.file ? p.file : "?", p.line, p.func ? p.func : "?");
        else
            printf("%14s %6.1f%% %9s  %s\n", an_human(loc[i].bytes, a, sizeof a),
                   pct(loc[i].bytes, rp->peak), an_commas(loc[i].blocks, b, sizeof b), NO_STACK);
        place_free(&p);
    }
}

int cmd_summary(int argc, char **argv)
{
    int json = 0;
    long top = 10;
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            fputs(usage, stdout);
            return 0;
        } else if (!strcmp(argv[i], "--json")) {
            json = 1;
        } else if (!strcmp(argv[i], "--top") && i + 1 < argc) {
            char *end;
            top = strtol(argv[++i], &end, 10);
            if (*end || top < 0) {
                cli_error("bad --top '%s': want a count", argv[i]);
                return 1;
            }
        } else if (argv[i][0] == '-' && argv[i][1]) {
            cli_error("unknown option '%s' for summary; see 'filrec summary --help'", argv[i]);
            return 1;
        } else if (path) {
            cli_error("summary reads one trace; got '%s' and '%s'", path, argv[i]);
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
    if (cli_replay(&rp, path, 0, 1))
        return 1;
    uint64_t peak_event = rp.peak_event, peak_time = rp.peak_time_us, end = rp.end_us;
    int early = rp.ended_early;
    an_replay_free(&rp);
    if (cli_replay(&rp, path, peak_event, 0))
        return 1;
    an_loc *loc;
    size_t n;
    if (an_peak_locations(&rp, &loc, &n)) {
        cli_error("out of memory");
        an_replay_free(&rp);
        return 1;
    }
    if (top && (size_t)top < n)
        n = (size_t)top;
    int rc = 0;
    if (json)
        rc = print_json(&rp, loc, n, peak_time, end, early);
    else
        print_text(&rp, loc, n, peak_time, end);
    free(loc);
    an_replay_free(&rp);
    return rc;
}
