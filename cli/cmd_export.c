/* cmd_export.c: `filrec export`: the tree of what was live at the peak (or at exit) for
 * other tools: folded stacks (flamegraph.pl, inferno), speedscope JSON, or the whole
 * tree as JSON. All three come from the same an_tree as the flamegraph. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../analyze/an.h"
#include "cli.h"

static const char usage[] =
    "usage: filrec export --format folded|speedscope|json [--at peak|end] [-o FILE] TRACE\n"
    "\n"
    "Write what was live at the peak (or at exit) for other tools:\n"
    "  folded      one line per stack, 'outer;...;inner bytes' (flamegraph.pl, inferno)\n"
    "  speedscope  a speedscope profile (https://www.speedscope.app), weights in bytes\n"
    "  json        the whole tree: function, file, line, bytes, self, blocks, children\n"
    "\n"
    "  --at peak|end  the peak (default) or the end of the trace\n"
    "  -o FILE        write to FILE instead of standard output ('-': standard output)\n"
    "  -h, --help     show this help\n";

#define NO_STACK "[no Python stack]"

/* A frame's name for folded output: "function (file:line)", UTF-8, with ';' and
 * newlines (the format's separators) replaced. malloc'd. */
static char *frame_name(const an_defs *d, const an_tnode *nd)
{
    size_t n1, n2;
    if (!nd->func)
        return strdup(NO_STACK);
    const char *fn = an_defs_string(d, d->func[nd->func].name, &n1);
    const char *file = an_defs_string(d, d->func[nd->func].file, &n2);
    char *a = an_utf8(fn, n1), *b = an_utf8(file, n2);
    char *out = a && b ? malloc(strlen(a) + strlen(b) + 24) : NULL;
    if (out)
        sprintf(out, "%s (%s:%u)", a, b, nd->line);
    free(a), free(b);
    for (char *p = out; p && *p; p++)
        if (*p == ';' || *p == '\n' || *p == '\r')
            *p = ':';
    return out;
}

static int folded(FILE *out, const an_tree *t, const an_defs *d)
{
    /* Each node with self bytes is one line: the path from the root to it. */
    char **names = calloc(t->n, sizeof *names);
    uint32_t *path = malloc((AN_MAX_DEPTH + 1) * sizeof *path);
    int rc = names && path ? 0 : -1;
    for (uint32_t i = 1; !rc && i < t->n; i++)
        if (!(names[i] = frame_name(d, &t->node[i])))
            rc = -1;
    for (uint32_t i = 1; !rc && i < t->n; i++) {
        if (!t->node[i].self)
            continue;
        size_t n = 0;
        for (uint32_t k = i; k && n <= AN_MAX_DEPTH; k = t->node[k].parent)
            path[n++] = k;
        while (n--)
            fprintf(out, "%s%s", names[path[n]], n ? ";" : "");
        fprintf(out, " %llu\n", (unsigned long long)t->node[i].self);
    }
    for (uint32_t i = 0; names && i < t->n; i++)
        free(names[i]);
    free(names);
    free(path);
    return rc;
}

static void add_place(cJSON *o, const an_defs *d, const an_tnode *nd)
{
    size_t n;
    const char *s;
    char *u;
    if (!nd->func) {
        cJSON_AddStringToObject(o, "name", NO_STACK);
        return;
    }
    s = an_defs_string(d, d->func[nd->func].name, &n);
    u = an_utf8(s, n);
    cJSON_AddStringToObject(o, "name", u ? u : "?");
    free(u);
    s = an_defs_string(d, d->func[nd->func].file, &n);
    u = an_utf8(s, n);
    cJSON_AddStringToObject(o, "file", u ? u : "?");
    free(u);
    cJSON_AddNumberToObject(o, "line", nd->line);
}

static cJSON *speedscope(const an_tree *t, const an_defs *d, const char *name)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "$schema", "https://www.speedscope.app/file-format-schema.json");
    cJSON *frames = cJSON_AddArrayToObject(cJSON_AddObjectToObject(o, "shared"), "frames");
    for (uint32_t i = 1; i < t->n; i++) { /* frame i-1 is tree node i */
        cJSON *f = cJSON_CreateObject();
        add_place(f, d, &t->node[i]);
        cJSON_AddItemToArray(frames, f);
    }
    cJSON *p = cJSON_CreateObject();
    cJSON_AddItemToArray(cJSON_AddArrayToObject(o, "profiles"), p);
    cJSON_AddStringToObject(p, "type", "sampled");
    cJSON_AddStringToObject(p, "name", name);
    cJSON_AddStringToObject(p, "unit", "bytes");
    cJSON_AddNumberToObject(p, "startValue", 0);
    cJSON_AddNumberToObject(p, "endValue", (double)t->node[0].bytes);
    cJSON *samples = cJSON_AddArrayToObject(p, "samples");
    cJSON *weights = cJSON_AddArrayToObject(p, "weights");
    static uint32_t path[AN_MAX_DEPTH + 1];
    for (uint32_t i = 1; i < t->n; i++) {
        if (!t->node[i].self)
            continue;
        size_t n = 0;
        for (uint32_t k = i; k && n <= AN_MAX_DEPTH; k = t->node[k].parent)
            path[n++] = k;
        cJSON *s = cJSON_CreateArray();
        while (n--)
            cJSON_AddItemToArray(s, cJSON_CreateNumber(path[n] - 1));
        cJSON_AddItemToArray(samples, s);
        cJSON_AddItemToArray(weights, cJSON_CreateNumber((double)t->node[i].self));
    }
    return o;
}

static cJSON *tree_json(const an_tree *t, const an_defs *d, const uint32_t *kids,
                        const uint32_t *first, uint32_t id)
{
    cJSON *o = cJSON_CreateObject();
    if (id)
        add_place(o, d, &t->node[id]);
    else
        cJSON_AddStringToObject(o, "name", "all");
    cJSON_AddNumberToObject(o, "bytes", (double)t->node[id].bytes);
    cJSON_AddNumberToObject(o, "self", (double)t->node[id].self);
    cJSON_AddNumberToObject(o, "blocks", (double)t->node[id].blocks);
    if (first[id + 1] > first[id]) {
        cJSON *c = cJSON_AddArrayToObject(o, "children");
        for (uint32_t k = first[id]; k < first[id + 1]; k++)
            cJSON_AddItemToArray(c, tree_json(t, d, kids, first, kids[k]));
    }
    return o;
}

int cmd_export(int argc, char **argv)
{
    const char *path = NULL, *out = NULL, *format = NULL;
    int at_end = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (cli_is_help(a)) {
            fputs(usage, stdout);
            return 0;
        } else if (!strcmp(a, "--format") && i + 1 < argc) {
            format = argv[++i];
            if (strcmp(format, "folded") && strcmp(format, "speedscope") && strcmp(format, "json")) {
                cli_error("bad --format '%s': want folded, speedscope or json", format);
                return 1;
            }
        } else if (!strcmp(a, "--at") && i + 1 < argc) {
            const char *v = argv[++i];
            if (strcmp(v, "peak") && strcmp(v, "end")) {
                cli_error("bad --at '%s': want peak or end", v);
                return 1;
            }
            at_end = !strcmp(v, "end");
        } else if (!strcmp(a, "-o") && i + 1 < argc) {
            out = argv[++i];
        } else if (a[0] == '-' && a[1]) {
            cli_error("unknown option '%s' for export; see 'filrec export --help'", a);
            return 1;
        } else if (path) {
            cli_error("export reads one trace; got '%s' and '%s'", path, a);
            return 1;
        } else {
            path = a;
        }
    }
    if (!path || !format) {
        fputs(usage, stderr);
        return 1;
    }
    an_replay rp;
    int one = !at_end && cli_one_pass();
    if (one ? cli_replayed(&rp, path, an_replay_peak(&rp, path, CLI_ONE_PASS), 1)
            : cli_replay(&rp, path, 0, 1))
        return 1;
    uint64_t peak_event = rp.peak_event, peak = rp.peak, peak_us = rp.peak_time_us;
    if (!at_end && !one) {
        an_replay_free(&rp);
        if (cli_replay(&rp, path, peak_event, 0))
            return 1;
    }
    an_tree t;
    uint32_t *kids = NULL, *first = NULL;
    if (an_tree_build(&t, &rp, 0) || an_tree_children(&t, &kids, &first)) {
        cli_error("out of memory");
        an_replay_free(&rp);
        return 1;
    }
    if (out && !strcmp(out, "-"))
        out = NULL; /* standard output, as without -o */
    FILE *f = out ? fopen(out, "w") : stdout;
    int rc = 0;
    if (!f) {
        cli_error("cannot open '%s': %s", out, strerror(errno));
        rc = 1;
    } else if (!strcmp(format, "folded")) {
        rc = folded(f, &t, &rp.defs) ? 1 : 0;
    } else {
        cJSON *j;
        if (!strcmp(format, "speedscope")) {
            j = speedscope(&t, &rp.defs, at_end ? "live at exit" : "live at the peak");
        } else {
            j = cJSON_CreateObject();
            cJSON_AddNumberToObject(j, "peak_bytes", (double)peak);
            cJSON_AddStringToObject(j, "at", at_end ? "end" : "peak");
            cJSON_AddNumberToObject(j, "untouched_bytes",
                                    (double)(at_end ? rp.maps.untouched : rp.peak_untouched));
            /* The moment exported: what was live then, and when. */
            cJSON_AddNumberToObject(j, "live_bytes", (double)t.node[0].bytes);
            cJSON_AddNumberToObject(j, "time_s", (double)(at_end ? rp.end_us : peak_us) / 1e6);
            cJSON_AddItemToObject(j, "tree", tree_json(&t, &rp.defs, kids, first, 0));
        }
        char *text = cJSON_PrintUnformatted(j);
        cJSON_Delete(j);
        rc = !text || fputs(text, f) < 0 || fputc('\n', f) < 0;
        free(text);
    }
    if (f && f != stdout && fclose(f))
        rc = 1;
    if (rc && f)
        cli_error("cannot write the export: %s", strerror(errno));
    free(kids);
    free(first);
    an_tree_free(&t);
    an_replay_free(&rp);
    return rc;
}
