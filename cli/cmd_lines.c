/* cmd_lines.c: `filrec lines`: source files with memory beside each line, in the way of
 * memory_profiler: bytes live at the peak that the line allocated itself, bytes live at
 * the peak under the line (callees included), and bytes the line allocated over the
 * whole run. Two replays: one for the run's totals and the peak, one stopping at it. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../analyze/an.h"
#include "cli.h"

static const char usage[] =
    "usage: filrec lines [--json] [--bytes] TRACE [FILE...]\n"
    "\n"
    "List Python source files with, beside each line: the bytes live at the peak that\n"
    "the line allocated (self), the bytes live at the peak under it (callees included)\n"
    "and the bytes it allocated over the whole run. With FILEs, those files in full;\n"
    "without, every file holding 1% of the peak or of all bytes allocated, showing the\n"
    "lines with numbers. A file that cannot be read is listed with a note.\n"
    "\n"
    "  --json       print one JSON object instead of text\n"
    "  --bytes      exact byte counts instead of human units\n"
    "  -h, --help   show this help\n";

typedef struct line_stat {
    uint32_t file, line;            /* key; file is a string id */
    uint64_t self, total, allocated;
    uint32_t seen;                  /* the last stack that counted it in total */
} line_stat;

typedef struct ltab {
    line_stat *e;
    size_t mask, n;
} ltab;

static line_stat *lt_get(ltab *t, uint32_t file, uint32_t line)
{
    if (t->n * 2 >= t->mask) {
        size_t cap = t->mask ? (t->mask + 1) * 2 : 1024;
        line_stat *e = calloc(cap, sizeof *e);
        if (!e)
            return NULL;
        for (size_t i = 0; t->e && i <= t->mask; i++) {
            if (!t->e[i].file)
                continue;
            size_t j = ((uint64_t)t->e[i].file << 32 | t->e[i].line) * 0x9E3779B97F4A7C15ull >> 20 & (cap - 1);
            while (e[j].file)
                j = (j + 1) & (cap - 1);
            e[j] = t->e[i];
        }
        free(t->e);
        t->e = e;
        t->mask = cap - 1;
    }
    size_t j = ((uint64_t)file << 32 | line) * 0x9E3779B97F4A7C15ull >> 20 & t->mask;
    while (t->e[j].file && (t->e[j].file != file || t->e[j].line != line))
        j = (j + 1) & t->mask;
    if (!t->e[j].file) {
        t->e[j] = (line_stat){file, line, 0, 0, 0, UINT32_MAX};
        t->n++;
    }
    return &t->e[j];
}

/* Bytes live under each stack in rp's state (charged to thread creators). */
static uint64_t *live_per_stack(const an_replay *rp, size_t n)
{
    uint64_t *b = calloc(n, sizeof *b);
    for (uint64_t i = 0; b && i <= rp->live.mask; i++) {
        const an_block *k = &rp->live.slot[i];
        uint32_t s = k->addr ? an_defs_charge(&rp->defs, k->stack, k->thread) : 0;
        if (k->addr && s < n)
            b[s] += an_weight(rp->sample, k->size);
    }
    for (size_t i = 0; b && i < rp->maps.n; i++) {
        uint32_t s = an_defs_charge(&rp->defs, rp->maps.r[i].stack, rp->maps.r[i].thread);
        if (s < n)
            b[s] += rp->maps.r[i].bytes;
    }
    return b;
}

static int tally(ltab *t, const an_defs *d, const uint64_t *live, const uint64_t *alloc,
                 size_t nalloc, size_t n)
{
    for (uint32_t s = 1; s < n; s++) {
        uint64_t b = live ? live[s] : 0, a = s < nalloc ? alloc[s] : 0;
        if (!b && !a)
            continue;
        const an_node *leaf = &d->node[s];
        line_stat *e = lt_get(t, d->func[leaf->func].file, leaf->line);
        if (!e)
            return -1;
        e->self += b;
        e->allocated += a;
        for (uint32_t k = s; b && k; k = d->node[k].parent) { /* once per line per stack */
            e = lt_get(t, d->func[d->node[k].func].file, d->node[k].line);
            if (!e)
                return -1;
            if (e->seen != s) {
                e->seen = s;
                e->total += b;
            }
        }
    }
    return 0;
}

static int by_line(const void *a, const void *b)
{
    const line_stat *x = *(const line_stat *const *)a, *y = *(const line_stat *const *)b;
    if (x->file != y->file)
        return x->file < y->file ? -1 : 1;
    return (x->line > y->line) - (x->line < y->line);
}

/* Whether a file (string id) was named on the command line. */
static int named(const an_defs *d, uint32_t file, char **files, int nfiles)
{
    size_t n;
    const char *s = an_defs_string(d, file, &n);
    for (int i = 0; i < nfiles; i++) {
        size_t m = strlen(files[i]);
        if ((n == m && !memcmp(s, files[i], n)) ||
            (n > m && s[n - m - 1] == '/' && !memcmp(s + n - m, files[i], m)))
            return 1;
    }
    return 0;
}

static char *read_file(const char *path, size_t n, size_t *len)
{
    if (!n || strlen(path) != n || path[0] == '<')
        return NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = malloc(16u << 20);
    *len = buf ? fread(buf, 1, (16u << 20) - 1, f) : 0;
    fclose(f);
    return buf;
}

/* Text for the terminal: s cleaned to UTF-8, with each control character (a newline
 * would split the line, an escape would reach the terminal) as U+FFFD. A source line
 * keeps its tabs and loses a CRLF file's '\r'. malloc'd, or NULL. */
static char *term_text(const char *s, size_t n, int source)
{
    if (source && n && s[n - 1] == '\r')
        n--;
    char *raw = malloc(n * 3 + 1), *o = raw;
    for (size_t i = 0; raw && i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c < 0x20 && !(source && c == '\t')) || c == 0x7F) {
            memcpy(o, "\xEF\xBF\xBD", 3);
            o += 3;
        } else {
            *o++ = (char)c;
        }
    }
    char *u = raw ? an_utf8(raw, (size_t)(o - raw)) : NULL;
    free(raw);
    return u;
}

struct ctx {
    int json, exact;
    cJSON *files;
};

static const char *num(uint64_t v, int exact, char *buf, size_t cap)
{
    return !v ? "" : exact ? an_commas(v, buf, cap) : an_human(v, buf, cap);
}

/* Print one file: every line (whole) or the lines with numbers. */
static void print_file(struct ctx *c, const an_defs *d, uint32_t file, line_stat **rows, size_t nrows,
                       int whole)
{
    size_t n, len = 0;
    const char *path = an_defs_string(d, file, &n);
    char *u = c->json ? an_utf8(path, n) : term_text(path, n, 0), *text = read_file(path, n, &len);
    cJSON *jf = NULL, *jl = NULL;
    if (c->json) {
        jf = cJSON_CreateObject();
        cJSON_AddStringToObject(jf, "file", u ? u : "?");
        cJSON_AddBoolToObject(jf, "readable", text != NULL);
        jl = cJSON_AddArrayToObject(jf, "lines");
        cJSON_AddItemToArray(c->files, jf);
    } else {
        printf("%s%s\n%6s %12s %12s %12s  %s\n", u ? u : "?",
               text ? "" : "  (source not readable here: numbers only)", "line", "peak self",
               "peak total", "allocated", "source");
    }
    free(u);
    uint32_t last = rows[nrows - 1]->line, lineno = 1;
    const char *p = text, *end = text ? text + len : NULL;
    size_t r = 0;
    for (uint32_t l = 1; l <= last || (whole && p && p < end); l++, lineno++) {
        const char *eol = p ? memchr(p, '\n', (size_t)(end - p)) : NULL;
        size_t sl = p ? (size_t)((eol ? eol : end) - p) : 0;
        const line_stat *e = r < nrows && rows[r]->line == l ? rows[r++] : NULL;
        if (e || whole) {
            char a[32], b[32], cc[32];
            char *src = !p ? NULL : c->json ? an_utf8(p, sl) : term_text(p, sl, 1);
            if (c->json) {
                cJSON *o = cJSON_CreateObject();
                cJSON_AddNumberToObject(o, "line", l);
                cJSON_AddNumberToObject(o, "peak_self", e ? (double)e->self : 0);
                cJSON_AddNumberToObject(o, "peak_total", e ? (double)e->total : 0);
                cJSON_AddNumberToObject(o, "allocated", e ? (double)e->allocated : 0);
                if (src)
                    cJSON_AddStringToObject(o, "source", src);
                cJSON_AddItemToArray(jl, o);
            } else {
                printf("%6u %12s %12s %12s  %s\n", l, num(e ? e->self : 0, c->exact, a, sizeof a),
                       num(e ? e->total : 0, c->exact, b, sizeof b),
                       num(e ? e->allocated : 0, c->exact, cc, sizeof cc), src ? src : "");
            }
            free(src);
        }
        if (p)
            p = eol ? eol + 1 : end;
        if (!whole && r >= nrows)
            break;
    }
    if (!c->json)
        putchar('\n');
    free(text);
}

int cmd_lines(int argc, char **argv)
{
    struct ctx c = {0, 0, NULL};
    const char *path = NULL;
    char **files = calloc((size_t)argc, sizeof *files);
    int nfiles = 0;
    for (int i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            fputs(usage, stdout);
            free(files);
            return 0;
        } else if (!strcmp(argv[i], "--json")) {
            c.json = 1;
        } else if (!strcmp(argv[i], "--bytes")) {
            c.exact = 1;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            cli_error("unknown option '%s' for lines; see 'filrec lines --help'", argv[i]);
            free(files);
            return 1;
        } else if (!path) {
            path = argv[i];
        } else {
            files[nfiles++] = argv[i];
        }
    }
    if (!path) {
        fputs(usage, stderr);
        free(files);
        return 1;
    }
    an_replay rp;
    if (cli_replayed(&rp, path, an_replay_totals(&rp, path, CLI_PASS_1), 1)) {
        free(files);
        return 1;
    }
    /* The whole run's replay keeps its definitions: the one stopped at the peak has
     * fewer, and with native frames (an_native_resolve) its own nodes after them. */
    an_replay all = rp;
    uint64_t *alloc = all.totals, peak_event = all.peak_event, peak = all.peak;
    uint64_t total = all.total_bytes;
    size_t nalloc = all.ntotals;
    if (cli_replay(&rp, path, peak_event, 0)) {
        free(files);
        an_replay_free(&all);
        return 1;
    }
    const an_defs *defs = &all.defs;
    size_t n = defs->nnode ? defs->nnode : 1;
    uint64_t *live = live_per_stack(&rp, n);
    ltab t = {NULL, 0, 0};
    int rc = !live || tally(&t, defs, live, alloc, nalloc < n ? nalloc : n, n);
    line_stat **rows = rc ? NULL : malloc((t.n ? t.n : 1) * sizeof *rows);
    size_t nrows = 0;
    for (size_t i = 0; rows && t.e && i <= t.mask; i++) /* t.e: NULL when nothing was live */
        if (t.e[i].file)
            rows[nrows++] = &t.e[i];
    if (!rows) {
        cli_error("out of memory");
        rc = 1;
        goto done;
    }
    qsort(rows, nrows, sizeof *rows, by_line);
    for (int f = 0; f < nfiles; f++) { /* a file asked for that the trace never saw */
        size_t k = 0;
        while (k < nrows && !named(defs, rows[k]->file, files + f, 1))
            k++;
        if (k == nrows) {
            cli_error("'%s' is not in '%s': nothing was allocated from it", files[f], path);
            rc = 1;
            goto done;
        }
    }
    cJSON *root = NULL;
    if (c.json) {
        root = cJSON_CreateObject();
        cJSON_AddNumberToObject(root, "peak_bytes", (double)peak);
        cJSON_AddNumberToObject(root, "total_allocated_bytes", (double)total);
        c.files = cJSON_AddArrayToObject(root, "files");
    } else {
        char a[32], b[32];
        printf("peak: %s; allocated over the run: %s\n\n", an_human(peak, a, sizeof a),
               an_human(total, b, sizeof b));
    }
    for (size_t i = 0; i < nrows;) {
        size_t j = i;
        uint64_t ftotal = 0, falloc = 0;
        while (j < nrows && rows[j]->file == rows[i]->file) {
            if (rows[j]->total > ftotal)
                ftotal = rows[j]->total;
            falloc += rows[j]->allocated;
            j++;
        }
        int want = nfiles ? named(defs, rows[i]->file, files, nfiles)
                          : (ftotal && ftotal * 100 >= peak) || (falloc && falloc * 100 >= total);
        if (want)
            print_file(&c, defs, rows[i]->file, rows + i, j - i, nfiles > 0);
        i = j;
    }
    if (root) {
        char *text = cJSON_Print(root);
        cJSON_Delete(root);
        if (text)
            puts(text);
        rc = !text;
        free(text);
    }
done:
    free(rows);
    free(t.e);
    free(live);
    free(alloc);
    free(files);
    all.totals = NULL;
    an_replay_free(&all);
    an_replay_free(&rp);
    return rc;
}
