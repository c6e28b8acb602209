/* an_job.c: a job of many processes (filrec run -o PATH: PATH, then the traces in
 * PATH.d/).
 * Each trace is replayed once, keeping for every interval between two samples the most
 * live bytes the process had in it and the event that reached it. The sink samples
 * every process at the same moments, so the intervals line up across processes: the
 * whole-job peak is the largest sum over processes of their maxima in one interval
 * (exact to the sample interval: within one, the processes' own peaks may not have
 * coincided), and each process's share of it is a point of its own trace that a
 * replay can stop at. */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "an.h"

#define KEY_NS 100000ull /* sample times 100 us apart are one moment (the sink's tick) */

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int an_job_paths(const char *path, char ***out, size_t *n)
{
    struct stat st;
    char dir[4096];
    *out = NULL;
    *n = 0;
    int is_dir = stat(path, &st) == 0 && S_ISDIR(st.st_mode);
    if ((size_t)snprintf(dir, sizeof dir, is_dir ? "%s" : "%s.d", path) >= sizeof dir)
        return -1;
    char **v = malloc(sizeof *v);
    size_t k = 0, cap = 1;
    if (!v)
        return -1;
    if (!is_dir && !(v[k++] = strdup(path)))
        goto oom;
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            size_t len = strlen(e->d_name);
            if (len < 5 || strcmp(e->d_name + len - 4, ".bin") || e->d_name[0] < '0' ||
                e->d_name[0] > '9')
                continue;
            if (k == cap) {
                char **w = realloc(v, 2 * cap * sizeof *w);
                if (!w) {
                    closedir(d);
                    goto oom;
                }
                v = w;
                cap *= 2;
            }
            size_t need = strlen(dir) + len + 2;
            if (!(v[k] = malloc(need))) {
                closedir(d);
                goto oom;
            }
            snprintf(v[k++], need, "%s/%s", dir, e->d_name);
        }
        closedir(d);
    }
    qsort(v + !is_dir, k - !is_dir, sizeof *v, by_name);
    *out = v;
    *n = k;
    return 0;
oom:
    while (k)
        free(v[--k]);
    free(v);
    return -1;
}

void an_job_paths_free(char **paths, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(paths[i]);
    free(paths);
}

/* ---- one process ---- */

struct collect {
    an_replay *rp;
    an_proc *p;
    size_t cap;
};

static int add_ivl(an_proc *p, size_t *cap, uint64_t key, uint64_t max, uint64_t event)
{
    if (p->nivl == *cap) {
        size_t c = *cap ? 2 * *cap : 256;
        an_ivl *v = realloc(p->ivl, c * sizeof *v);
        if (!v)
            return -1;
        p->ivl = v;
        *cap = c;
    }
    p->ivl[p->nivl++] = (an_ivl){key, max, event};
    return 0;
}

static uint64_t key_of(const an_proc *p, uint64_t time_us)
{
    return (p->mono_ns + time_us * 1000 + KEY_NS / 2) / KEY_NS;
}

static int on_sample(void *ctx, uint64_t time_us, uint64_t rss, uint64_t heap)
{
    struct collect *c = ctx;
    (void)rss;
    (void)heap;
    c->p->mono_ns = c->rp->hdr.mono_ns; /* the header is read before any record */
    int err = add_ivl(c->p, &c->cap, key_of(c->p, time_us), c->rp->ivl_peak,
                      c->rp->ivl_peak_event);
    c->rp->ivl_peak = c->rp->cur; /* the next interval starts with what is live now */
    c->rp->ivl_peak_event = c->rp->events;
    return err;
}

/* Replay one trace into p. 0, or the replay's error (rp->msg says it). */
static int run_proc(an_proc *p, an_replay *rp, const char *path, int progress)
{
    struct collect c = {rp, p, 0};
    int err = an_replay_samples(rp, path, on_sample, &c, progress ? "1/2 finding the job's peak" : NULL);
    if (err)
        return err;
    p->mono_ns = rp->hdr.mono_ns;
    p->pid = rp->hdr.pid;
    p->ppid = rp->hdr.ppid;
    p->image = rp->hdr.image;
    p->peak = rp->peak;
    p->peak_time_us = rp->peak_time_us;
    p->peak_event = rp->peak_event;
    p->end_us = rp->end_us;
    p->live_at_end = rp->cur;
    p->how = an_replay_ending(rp, &p->code);
    p->ended_early = rp->ended_early;
    /* the last interval: from the last sample to the end */
    return add_ivl(p, &c.cap, key_of(p, rp->end_us) + 1, rp->ivl_peak, rp->ivl_peak_event)
               ? FT_E_NOMEM
               : 0;
}

/* The interval of p that ends at key, or the first one after it: what p held then
 * (nothing before it started or after it ended). */
static const an_ivl *ivl_at(const an_proc *p, uint64_t key)
{
    size_t lo = 0, hi = p->nivl;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (p->ivl[mid].key < key)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == p->nivl)
        return NULL;
    if (p->ivl[lo].key == key)
        return &p->ivl[lo];
    /* key falls inside p's interval lo (which ends later): p was alive then */
    return lo > 0 || key >= key_of(p, 0) ? &p->ivl[lo] : NULL;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

int an_job_run(an_job *j, char **paths, size_t n, char *msg, size_t msgcap, int progress)
{
    memset(j, 0, sizeof *j);
    j->procs = calloc(n ? n : 1, sizeof *j->procs);
    if (!j->procs)
        return FT_E_NOMEM;
    size_t nkeys = 0;
    for (size_t i = 0; i < n; i++) {
        an_replay rp;
        an_proc *p = &j->procs[i];
        p->path = paths[i];
        j->n = i + 1;
        int err = run_proc(p, &rp, paths[i], progress);
        if (err) {
            snprintf(msg, msgcap, "'%s': %s", paths[i], rp.msg);
            an_replay_free(&rp);
            return err;
        }
        an_replay_free(&rp);
        nkeys += p->nivl;
    }
    /* Every moment any process was sampled at, then the sum over processes there. */
    uint64_t *keys = malloc((nkeys ? nkeys : 1) * sizeof *keys);
    if (!keys)
        return FT_E_NOMEM;
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t m = 0; m < j->procs[i].nivl; m++)
            keys[k++] = j->procs[i].ivl[m].key;
    qsort(keys, k, sizeof *keys, cmp_u64);
    uint64_t best = 0, best_key = 0;
    for (size_t m = 0; m < k; m++) {
        if (m && keys[m] == keys[m - 1])
            continue;
        uint64_t sum = 0;
        for (size_t i = 0; i < n; i++) {
            const an_ivl *v = ivl_at(&j->procs[i], keys[m]);
            sum += v ? v->max : 0;
        }
        if (sum > best || !m) {
            best = sum;
            best_key = keys[m];
        }
    }
    free(keys);
    j->peak = best;
    j->start_ns = UINT64_MAX;
    for (size_t i = 0; i < n; i++) {
        an_proc *p = &j->procs[i];
        const an_ivl *v = ivl_at(p, best_key);
        p->at_job_peak = v ? v->max : 0;
        p->at_job_peak_event = v ? v->event : 0;
        if (p->mono_ns < j->start_ns)
            j->start_ns = p->mono_ns;
    }
    if (!n)
        j->start_ns = 0;
    uint64_t abs = best_key * KEY_NS;
    j->peak_time_us = abs > j->start_ns ? (abs - j->start_ns) / 1000 : 0;
    return 0;
}

void an_job_free(an_job *j)
{
    for (size_t i = 0; i < j->n; i++)
        free(j->procs[i].ivl);
    free(j->procs);
    memset(j, 0, sizeof *j);
}

/* ---- the job's tree at its peak ---- */

static int def_string(an_defs *d, const char *s, size_t n, uint32_t *id)
{
    ft_record r = {.kind = FT_STRING, .str = s, .len = n};
    if (an_defs_add(d, &r))
        return -1;
    *id = (uint32_t)d->nstr - 1;
    return 0;
}

static int def_function(an_defs *d, uint32_t name, uint32_t file, uint32_t line, uint32_t *id)
{
    ft_record r = {.kind = FT_FUNCTION, .a = name, .b = file, .c = line};
    if (an_defs_add(d, &r))
        return -1;
    *id = (uint32_t)d->nfunc - 1;
    return 0;
}

static int def_node(an_defs *d, uint32_t parent, uint32_t func, uint32_t line, uint32_t *id)
{
    ft_record r = {.kind = FT_STACK_NODE, .stack = parent, .a = func, .b = line};
    if (an_defs_add(d, &r))
        return -1;
    *id = (uint32_t)d->nnode - 1;
    return 0;
}

/* Copy rp's definitions into d under a root frame named label: map[s] is d's id for
 * rp's stack s, *nostack the node for what had no stack. 0 or -1. */
static int merge_defs(an_defs *d, const an_replay *rp, const char *label, uint32_t *map,
                      uint32_t *nostack)
{
    const an_defs *own = &rp->defs;
    uint32_t root_name, root_func, root, *str = calloc(own->nstr + 1, sizeof *str),
                                          *fn = calloc(own->nfunc + 1, sizeof *fn);
    int rc = -1;
    if (!str || !fn || def_string(d, label, strlen(label), &root_name) ||
        def_function(d, root_name, 0, 0, &root_func) || def_node(d, 0, root_func, 0, &root) ||
        def_node(d, root, 0, 0, nostack))
        goto out;
    for (uint32_t k = 1; k < own->nstr; k++) {
        size_t n;
        const char *s = an_defs_string(own, k, &n);
        if (def_string(d, s, n, &str[k]))
            goto out;
    }
    for (uint32_t k = 1; k < own->nfunc; k++) {
        const an_func *f = &own->func[k];
        if (def_function(d, f->name < own->nstr ? str[f->name] : 0,
                         f->file < own->nstr ? str[f->file] : 0, f->line, &fn[k]))
            goto out;
    }
    map[0] = *nostack;
    for (uint32_t k = 1; k < own->nnode; k++) {
        const an_node *n = &own->node[k];
        uint32_t parent = n->parent && n->parent < k ? map[n->parent] : root;
        if (def_node(d, parent, n->func < own->nfunc ? fn[n->func] : 0, n->line, &map[k]))
            goto out;
    }
    rc = 0;
out:
    free(str);
    free(fn);
    return rc;
}

int an_job_tree(const an_job *j, int reversed, int hide_imports, an_tree *t, an_defs *d,
                char *msg, size_t cap)
{
    memset(d, 0, sizeof *d);
    if (an_tree_start(t, reversed))
        return FT_E_NOMEM;
    for (size_t i = 0; i < j->n; i++) {
        const an_proc *p = &j->procs[i];
        if (!p->at_job_peak)
            continue;
        an_replay rp;
        int err = an_replay_run(&rp, p->path, p->at_job_peak_event, 0);
        if (err) {
            snprintf(msg, cap, "'%s': %s", p->path, rp.msg);
            an_replay_free(&rp);
            return err;
        }
        char label[160];
        int k = snprintf(label, sizeof label, "pid %llu ", (unsigned long long)p->pid);
        for (size_t c = 0; c < rp.hdr.cmdline_len && (size_t)k + 1 < sizeof label; c++)
            label[k++] = rp.hdr.cmdline[c] ? rp.hdr.cmdline[c] : ' ';
        label[k] = 0;
        uint32_t *map = malloc((rp.defs.nnode + 1) * sizeof *map), nostack = 0;
        err = !map || merge_defs(d, &rp, label, map, &nostack) ||
              (hide_imports && an_tree_hide_imports(t, d)) || an_tree_add(t, &rp, d, map, nostack);
        free(map);
        an_replay_free(&rp);
        if (err) {
            snprintf(msg, cap, "out of memory");
            return FT_E_NOMEM;
        }
    }
    return 0;
}

/* ---- the processes that ran unrecorded (the sink's PATH.d/unrecorded.tsv) ---- */

int an_job_unrecorded(const char *path, an_unrec **out, size_t *n)
{
    struct stat st;
    char file[4200], line[1024];
    *out = NULL;
    *n = 0;
    int is_dir = stat(path, &st) == 0 && S_ISDIR(st.st_mode);
    snprintf(file, sizeof file, is_dir ? "%.4096s/unrecorded.tsv" : "%.4096s.d/unrecorded.tsv",
             path);
    FILE *f = fopen(file, "re");
    if (!f)
        return 0;
    size_t cap = 0;
    int rc = 0;
    while (fgets(line, sizeof line, f) && *n < 100000) {
        line[strcspn(line, "\n")] = 0;
        char *pid = line, *ppid = strchr(pid, '\t'), *why = ppid ? strchr(ppid + 1, '\t') : NULL,
             *cmd = why ? strchr(why + 1, '\t') : NULL;
        if (!cmd)
            continue; /* not a line of ours: skipped, as a hand-edited file may hold */
        *ppid++ = *why++ = *cmd++ = 0;
        if (*n == cap) {
            cap = cap ? 2 * cap : 16;
            an_unrec *v = realloc(*out, cap * sizeof *v);
            if (!v) {
                rc = -1;
                break;
            }
            *out = v;
        }
        an_unrec *u = &(*out)[(*n)++];
        u->pid = strtoull(pid, NULL, 10);
        u->ppid = strtoull(ppid, NULL, 10);
        snprintf(u->why, sizeof u->why, "%s", why);
        snprintf(u->cmd, sizeof u->cmd, "%s", cmd);
    }
    fclose(f);
    return rc;
}

/* ---- the job over time ---- */

int an_job_series(const an_job *j, uint64_t **times_us, uint64_t **values, size_t *ntimes)
{
    size_t nkeys = 0;
    *times_us = NULL;
    *values = NULL;
    *ntimes = 0;
    for (size_t i = 0; i < j->n; i++)
        nkeys += j->procs[i].nivl;
    uint64_t *keys = malloc((nkeys ? nkeys : 1) * sizeof *keys);
    if (!keys)
        return -1;
    size_t k = 0;
    for (size_t i = 0; i < j->n; i++)
        for (size_t m = 0; m < j->procs[i].nivl; m++)
            keys[k++] = j->procs[i].ivl[m].key;
    qsort(keys, k, sizeof *keys, cmp_u64);
    size_t u = 0;
    for (size_t m = 0; m < k; m++)
        if (!u || keys[m] != keys[u - 1])
            keys[u++] = keys[m];
    uint64_t *t = malloc((u ? u : 1) * sizeof *t), *v = calloc((u ? u : 1) * (j->n ? j->n : 1),
                                                              sizeof *v);
    if (!t || !v) {
        free(keys), free(t), free(v);
        return -1;
    }
    for (size_t m = 0; m < u; m++) {
        uint64_t abs = keys[m] * KEY_NS;
        t[m] = abs > j->start_ns ? (abs - j->start_ns) / 1000 : 0;
        for (size_t i = 0; i < j->n; i++) {
            const an_ivl *x = ivl_at(&j->procs[i], keys[m]);
            v[m * j->n + i] = x ? x->max : 0;
        }
    }
    free(keys);
    *times_us = t;
    *values = v;
    *ntimes = u;
    return 0;
}
