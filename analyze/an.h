/* an.h: the analyzer's interface to the CLI: the replay engine and the helpers that
 * every report shares. Memory is O(live blocks + mappings + markers), never O(events). */
#ifndef AN_H
#define AN_H

#include <stddef.h>
#include <stdint.h>

#include "../format/ft.h"

/* ---- an_live.c: live heap blocks, address -> (size, stack) ---- */
typedef struct an_block {
    uint64_t addr;  /* 0: empty slot */
    uint64_t size;
    uint32_t stack, thread;
} an_block;

typedef struct an_live {
    an_block *slot;
    uint64_t mask, used;
    unsigned shift; /* 64 - log2(mask + 1): a slot is the hash's top bits */
} an_live;

static inline uint64_t an_live_home(const an_live *t, uint64_t addr)
{
    return (addr >> 4) * 0x9E3779B97F4A7C15ull >> t->shift;
}
/* Fetch addr's first slot into the cache, for a put or take soon. */
static inline void an_live_prefetch(const an_live *t, uint64_t addr)
{
    __builtin_prefetch(&t->slot[an_live_home(t, addr)]);
}
int an_live_init(an_live *t);
int an_live_grow(an_live *t); /* twice the slots; -1 when out of memory */
void an_live_free(an_live *t);

/* Insert; if addr is already live, *old receives the displaced block and 1 is returned.
 * Returns -1 when out of memory. */
static inline int an_live_put(an_live *t, const an_block *b, an_block *old)
{
    if (t->used * 2 >= t->mask && an_live_grow(t))
        return -1;
    uint64_t i = an_live_home(t, b->addr);
    while (t->slot[i].addr) {
        if (t->slot[i].addr == b->addr) {
            *old = t->slot[i];
            t->slot[i] = *b;
            return 1;
        }
        i = (i + 1) & t->mask;
    }
    t->slot[i] = *b;
    t->used++;
    return 0;
}

/* Remove addr; 1 and *out filled if it was live, else 0 (always for address 0, which
 * an empty slot holds). */
static inline int an_live_take(an_live *t, uint64_t addr, an_block *out)
{
    uint64_t i = an_live_home(t, addr);
    while (t->slot[i].addr != addr) {
        if (!t->slot[i].addr)
            return 0;
        i = (i + 1) & t->mask;
    }
    if (!addr)
        return 0;
    *out = t->slot[i];
    /* Backward shift: pull later members of the probe run into the hole. */
    for (uint64_t j = (i + 1) & t->mask; t->slot[j].addr; j = (j + 1) & t->mask) {
        uint64_t home = an_live_home(t, t->slot[j].addr);
        if (((j - home) & t->mask) >= ((j - i) & t->mask)) {
            t->slot[i] = t->slot[j];
            i = j;
        }
    }
    t->slot[i].addr = 0;
    t->used--;
    return 1;
}

/* ---- an_maps.c: tracked mappings, disjoint page ranges ----
 * A range counts bytes: its length, or, once measured (MMAP f1, RESIDENT), the
 * resident bytes last measured in it (FORMAT.md, "Resident pages"). */
typedef struct an_range {
    uint64_t start, end, bytes;
    uint32_t stack, thread;
    uint8_t measured, file;     /* counts resident bytes; maps a file (MAP_PRIVATE) */
} an_range;

typedef struct an_maps {
    an_range *r;
    size_t n, cap;
    uint64_t untouched;         /* measured anonymous bytes not resident: reserved only */
} an_maps;

/* Add [start, end), replacing any overlap (MAP_FIXED); returns the counted bytes of the
 * overlap removed, or UINT64_MAX when out of memory. */
uint64_t an_maps_add(an_maps *m, const an_range *add);
/* Remove the tracked part of [start, end); returns the counted bytes removed, and, when
 * first is not NULL, the first removed piece's range in *first (first->end is 0 when
 * nothing was tracked there). A measured range that loses part keeps at most the
 * length left of its count. */
uint64_t an_maps_remove(an_maps *m, uint64_t start, uint64_t end, an_range *first);
/* Set the count of the range that starts at addr (RESIDENT), which is measured from then
 * on. Returns the count it had, UINT64_MAX when no range starts there, or UINT64_MAX - 1
 * when bytes is over its length. */
uint64_t an_maps_set(an_maps *m, uint64_t addr, uint64_t bytes, an_range **range);
void an_maps_free(an_maps *m);

/* ---- an_defs.c: what ids in the trace refer to ---- */
typedef struct an_func {
    uint32_t name, file, line;      /* string ids, first line */
} an_func;

typedef struct an_node {
    uint32_t parent, func, line;    /* stack node: parent node, function, current line */
} an_node;

/* --native: a loaded object (MODULE), and a native frame waiting for its name. */
typedef struct an_module {
    uint32_t path;                  /* string id */
    uint64_t bias, start, size;
    uint32_t build_id_len;
    uint8_t build_id[FT_BUILD_ID_MAX];
} an_module;

typedef struct an_pending {
    uint32_t node, module;          /* module 0: off is an address in no known module */
    uint64_t off;
} an_pending;

/* What a function is, for native traces: a Python function (0), or a native one of a
 * library, of the interpreter, or of the user's own program or library. */
enum { AN_FK_PYTHON, AN_FK_LIBRARY, AN_FK_INTERP, AN_FK_USER };

typedef struct an_defs {
    char *text;                     /* every string, NUL-terminated, back to back */
    size_t text_len, text_cap;
    uint64_t *str_off;              /* string id -> offset in text (id 0: "") */
    uint32_t *str_len;
    size_t nstr, str_cap;
    an_func *func;                  /* function id -> function (id 0 unused) */
    size_t nfunc, func_cap;
    an_node *node;                  /* stack id -> node (id 0: no stack) */
    size_t nnode, node_cap;
    uint32_t *thread_stack;         /* thread -> the creator's stack at creation */
    size_t nthread, thread_cap;
    an_module *mod;                 /* module id -> module (id 0 unused) */
    size_t nmod, mod_cap;
    an_pending *pend;               /* native frames, until an_native_resolve */
    size_t npend, pend_cap;
    uint8_t *fkind;                 /* function id -> AN_FK_* (0 beyond nfkind) */
    size_t nfkind, fkind_cap;
    int resolved;                   /* an_native_resolve has run */
} an_defs;

/* Take in one definition record (STRING, FUNCTION, STACK_NODE, THREAD_START, MODULE,
 * NATIVE_FRAME); other kinds are ignored. 0, or -1 when out of memory. */
int an_defs_add(an_defs *d, const ft_record *rec);
const char *an_defs_string(const an_defs *d, uint32_t id, size_t *len);
/* Make *p (an array of *cap elements of size bytes) hold at least need, doubling. 0 or
 * -1 (out of memory: *p unchanged). */
int an_grow(void **p, size_t *cap, size_t need, size_t size);
/* The stack an allocation is charged to: its own, or, for a thread with no stack of
 * its own (a thread pool started from C), the stack that created the thread. */
static inline uint32_t an_defs_charge(const an_defs *d, uint32_t stack, uint32_t thread)
{
    return stack || thread >= d->nthread ? stack : d->thread_stack[thread];
}
void an_defs_free(an_defs *d);

/* ---- an_replay.c: one streaming pass over a trace ---- */
/* An allocation that failed (FORMAT.md, FAILED), with what was live then. */
typedef struct an_failure {
    uint64_t size, live, event, time_us; /* event: how many events came before it */
    uint32_t allocator, stack, thread;
} an_failure;
#define AN_MAX_FAILURES 64 /* kept; the rest are only counted */

typedef struct an_marker {
    char *label;
    size_t len;
    unsigned type;      /* enum ft_marker */
    uint32_t thread;
    uint64_t time_us, live;
} an_marker;

/* Temporary allocations of one stack: freed within `threshold` later allocations of
 * the thread that made them. */
typedef struct an_temp {
    uint64_t count, bytes;
} an_temp;

typedef struct an_ring {   /* a thread's last live allocations, for temporaries */
    uint64_t addr, size;
    uint32_t stack;
} an_ring;

/* What was live at the peak, kept as the replay goes (keep_peak): per charged stack,
 * the live blocks' (weighted) bytes, count and variance now and at the last new peak,
 * with the stacks changed since that peak listed; and the mappings at that peak. */
typedef struct an_snap_stack {
    uint64_t bytes, blocks, peak_bytes, peak_blocks;
    double var, peak_var;
    uint32_t changed;           /* listed in changed[] since the last new peak */
} an_snap_stack;

typedef struct an_snap {
    an_snap_stack *stack;       /* per charged stack id */
    uint32_t *changed;
    size_t n, cap, nchanged;
    an_range *maps;             /* the mappings at the peak */
    size_t nmaps, cap_maps;
    uint64_t maps_version, peak_maps_version; /* bumped at every change of rp->maps */
    int at_peak;                /* the replay ran on past the peak: use these */
} an_snap;

typedef struct an_replay {
    const char *path;
    /* in: set before an_replay_run to count temporary allocations (0: off) */
    unsigned temp_threshold;
    int track_totals;           /* in: sum bytes allocated per stack into totals[] */
    /* in: keep what was live at the peak, by stack (an_peak_snap): the reports at the
     * peak need no second replay. */
    int keep_peak;
    an_snap *snap;
    /* in: called at every SAMPLE with its time, the process RSS, and the tracked live
     * bytes at that point of the event order (exact, not sampled). Returns 0, or
     * nonzero to stop with FT_E_NOMEM. */
    int (*on_sample)(void *ctx, uint64_t time_us, uint64_t rss, uint64_t heap);
    void *sample_ctx;
    uint64_t *totals;           /* per stack id: bytes allocated over the run */
    size_t ntotals;
    ft_header hdr;              /* strings valid until an_replay_free */
    unsigned version;           /* the trace's format version */
    uint64_t counts[FT_KIND_COUNT];
    uint64_t cur, peak, peak_event, peak_time_us;
    uint64_t peak_untouched;    /* at the peak: measured mappings' bytes never touched */
    /* --sample: the interval (hdr.sample_bytes; 0: exact), and the variance of cur's
     * estimate (sum over live sampled blocks of w(w - s)), now and at the peak. */
    uint64_t sample;
    unsigned __int128 var, peak_var;
    /* The most live bytes since the last SAMPLE, and the event that reached it (an
     * on_sample callback reads them, and restarts them at cur and events). */
    uint64_t ivl_peak, ivl_peak_event;
    uint64_t events, now_us, end_us;
    uint64_t end_live;          /* live bytes at the end, once read to the end */
    uint64_t total_bytes, unmatched_frees, reused_addrs;
    uint64_t trace_bytes;
    uint32_t threads;
    int ended_early, trailer_flags;
    uint64_t trailer_end;       /* 0 unknown, else the process's wait status + 1 */
    char *exec_path;            /* the last EXEC's path (NUL-terminated), or NULL */
    size_t exec_len;
    uint64_t cut_offset;        /* ended early inside the frame at this offset, or 0 */
    char damage[320];           /* why, when that frame was damaged ("" if only cut) */
    an_marker *markers;
    size_t nmarkers, cap_markers;
    uint64_t *forks;
    size_t nforks, cap_forks;
    an_failure failures[AN_MAX_FAILURES]; /* the first ones */
    uint64_t nfailures;         /* all of them */
    char msg[320];              /* the error, one line, naming the offset */
    an_defs defs;
    an_live live;               /* the live blocks and mappings where the replay stopped */
    an_maps maps;
    an_temp *temp;              /* per stack id, when temp_threshold is set */
    size_t ntemp;
    an_ring *ring;              /* threads x temp_threshold */
    uint64_t *ring_count;       /* per thread: how many of its ring are in use */
    size_t nring;
    /* private */
    ft_reader *r;
} an_replay;

/* Replay the trace at path, the whole of it, or up to and including event number
 * stop_at (events count ALLOC, FREE, MMAP, MUNMAP, MREMAP from 1) when it is not 0.
 * 0 on success (ended_early tells whether the trace was cut), a negative ft_error with
 * msg set otherwise. progress: the label of a bar on stderr ("1/2 finding the peak")
 * when it is a terminal and the replay takes more than a second; NULL: no bar. */
int an_replay_run(an_replay *rp, const char *path, uint64_t stop_at, const char *progress);
/* As an_replay_run of the whole trace, keeping what was live at the peak by stack:
 * an_live_per_stack (and the reports on it, an_peak_locations, an_tree_build) then
 * describe the peak, in one pass. */
int an_replay_peak(an_replay *rp, const char *path, const char *progress);
/* As an_replay_run of the whole trace, calling on_sample(ctx, ...) at each SAMPLE. */
int an_replay_samples(an_replay *rp, const char *path,
                      int (*on_sample)(void *, uint64_t, uint64_t, uint64_t), void *ctx,
                      const char *progress);
/* As an_replay_run, counting temporary allocations freed within threshold (>= 1) later
 * allocations of the same thread into rp->temp. */
int an_replay_temporaries(an_replay *rp, const char *path, unsigned threshold, const char *progress);
/* Both in one pass (the report folder): temporaries, and on_sample per SAMPLE; with
 * keep_peak, what was live at the peak too (as an_replay_peak). */
int an_replay_temporaries_samples(an_replay *rp, const char *path, unsigned threshold,
                                  int (*on_sample)(void *, uint64_t, uint64_t, uint64_t),
                                  void *ctx, int keep_peak, const char *progress);
/* As an_replay_run of the whole trace, summing bytes allocated per stack (rp->totals). */
int an_replay_totals(an_replay *rp, const char *path, const char *progress);
void an_replay_free(an_replay *rp);

/* ---- sampling (--sample): a sampled block of s bytes stands for w(s) (FORMAT.md) ---- */
/* The bytes a recorded block of size bytes stands for in a trace sampled every t bytes
 * (t 0: exact): itself from t up, else size / (1 - exp(-size / t)). */
uint64_t an_weight(uint64_t t, uint64_t size);
/* Its share of the estimate's variance: w (w - size), 0 for an exact one. */
uint64_t an_weight_var(uint64_t t, uint64_t size);
/* The half-width of a 95% interval for an estimate of variance var. */
uint64_t an_bound95(double var);

/* ---- an_peak.c: what was live where the replay stopped, by location ---- */
typedef struct an_loc {
    uint32_t func, line;        /* innermost frame (AN_BY_CODE: of the user's code);
                                 * func 0: no stack */
    uint64_t bytes, blocks;
    uint32_t stack;             /* the location's largest stack */
    uint64_t stack_bytes;
    uint32_t via_func, via_line; /* AN_BY_CODE: that stack's innermost frame, when it is
                                  * not the location's own (library code); else 0 */
    double var;                 /* --sample: the variance of bytes' estimate (0: exact) */
} an_loc;

/* How locations are told apart: the innermost frame's line, its function, its file,
 * the whole stack, or the line of the innermost frame of the user's own code. */
enum an_by { AN_BY_LINE, AN_BY_FUNCTION, AN_BY_FILE, AN_BY_STACK, AN_BY_CODE };

/* ---- an_code.c: the user's own code ---- */
/* Whether file (n bytes, as the trace names it) is library code: the standard library,
 * site-packages, dist-packages, frozen modules, generated wrappers, filrec itself. */
int an_code_is_library(const char *file, size_t n);
/* Only files under dir (NULL: any file that is not a library's) are the user's code:
 * the command line's --code-root, for every report of the run. */
void an_code_set_root(const char *dir);
/* Per function id: 2 if it is the user's code in a file, 1 if the user's code with no
 * file (<string>, <stdin>), 0 if a library's; malloc'd. */
uint8_t *an_code_funcs(const an_defs *d);
/* The innermost frame of stack that is the user's code in a file, else the innermost of
 * the user's code with no file, else the stack itself (user: an_code_funcs). */
uint32_t an_code_frame(const an_defs *d, const uint8_t *user, uint32_t stack);

/* What is live in rp's current state per stack id (charged, an_defs_charge): bytes (of
 * blocks, as their weights, and mappings), blocks, and with sampling the variance of
 * bytes (else var is NULL). 0, or -1 out of memory. */
typedef struct an_per_stack {
    uint64_t *bytes, *blocks;
    double *var;
    size_t n;
} an_per_stack;
int an_live_per_stack(const an_replay *rp, an_per_stack *ps);
void an_per_stack_free(an_per_stack *ps);
/* Locations live in rp's current state, largest first; *out is malloc'd. 0 or -1.
 * With AN_BY_FUNCTION line is 0; with AN_BY_FILE func is any function of the file. */
int an_peak_locations(const an_replay *rp, enum an_by by, an_loc **out, size_t *n);
/* Group per-stack totals (bytes[s], blocks[s] and, unless var is NULL, the variance
 * var[s] for stack ids s < nstacks) into locations, largest first. 0 or -1. */
int an_group(const an_defs *d, const uint64_t *bytes, const uint64_t *blocks,
             const double *var, size_t nstacks,
             enum an_by by, an_loc **out, size_t *n);

/* ---- an_tree.c: the call tree of what was live, stacks merged by frame ---- */
#define AN_MAX_DEPTH 8192

typedef struct an_tnode {
    uint32_t parent, func, line;  /* func 0: no stack */
    uint64_t bytes, blocks;       /* live under this frame, callees included */
    uint32_t depth;               /* root 0 */
    uint64_t self;                /* live with this frame innermost (outermost if reversed) */
    float var;                    /* --sample: the variance of bytes' estimate (0: exact) */
} an_tnode;

typedef struct an_tree {
    an_tnode *node;               /* node 0: the root, everything live */
    size_t n, cap;
    uint32_t *hash;
    size_t hmask, used;
    int reversed;                 /* innermost frame at the root: callers below callees */
    uint8_t *hidden;              /* per function id, 1: leave its frames out (unless a
                                   * stack has no other); NULL: show every frame */
    size_t nhidden;
} an_tree;

/* Build the tree of rp's current state. 0, or -1 when out of memory. */
int an_tree_build(an_tree *t, const an_replay *rp, int reversed);
/* The same with the import machinery's frames left out (an_tree_hide_imports). */
int an_tree_build_hiding(an_tree *t, const an_replay *rp, int reversed);
/* The same in steps, for a tree of many traces: start an empty tree, then add what is
 * live in rp, its stack ids mapped by map into d (the merged definitions; what has no
 * stack goes to nostack). map NULL: rp's own ids and definitions. 0 or -1. */
int an_tree_start(an_tree *t, int reversed);
/* Leave the import machinery's frames (<frozen importlib._bootstrap...>) of d's functions
 * out of the stacks added from now on: an import's memory then sits right under the
 * import line. Call after an_tree_start, with the definitions the stacks will use (for
 * an_tree_build, call it inside through the hide argument). 0 or -1. */
int an_tree_hide_imports(an_tree *t, const an_defs *d);
int an_tree_add(an_tree *t, const an_replay *rp, const an_defs *d, const uint32_t *map,
                uint32_t nostack);
/* Each node's children, largest first: kids[first[i]] .. kids[first[i+1]-1]. Both
 * arrays are malloc'd. 0 or -1. */
int an_tree_children(const an_tree *t, uint32_t **kids, uint32_t **first);
void an_tree_free(an_tree *t);

/* ---- an_flame.c: the tree as a self-contained, interactive SVG flamegraph ---- */
#include <stdio.h>
typedef struct an_flame_opts {
    const char *title, *subtitle;   /* any bytes: escaped on output */
    int reversed;                   /* icicle of the reversed tree, root at the top */
} an_flame_opts;

/* Write the SVG to out. 0, or -1 on an output error or out of memory. */
int an_flame_svg(FILE *out, const an_tree *t, const an_defs *d, const an_flame_opts *o);

/* ---- an_plot.c: memory over time, downsampled, as a gnuplot data file ---- */
#define AN_PLOT_BUCKETS 2000

typedef struct an_point {
    uint64_t t_us, v;
} an_point;

typedef struct an_bucket {
    an_point lo, hi;                /* the lowest and highest point of the bucket */
    uint64_t n;                     /* points added; 0: empty */
} an_bucket;

/* A series of (time, bytes) points in at most AN_PLOT_BUCKETS buckets of width_us;
 * when time outgrows them, neighbours merge and the width doubles. */
typedef struct an_series {
    an_bucket b[AN_PLOT_BUCKETS];
    uint64_t width_us, max, end_us;
} an_series;

typedef struct an_plot {
    an_series heap, rss;
    uint64_t nsamples;
} an_plot;

typedef struct an_plot_peak {
    uint64_t time_us, bytes, end_us;
    const char *label;              /* any bytes, NUL-terminated */
} an_plot_peak;

void an_series_init(an_series *s);
void an_series_add(an_series *s, uint64_t t_us, uint64_t v);
/* The on_sample callback of an_replay_samples: ctx is an an_plot. */
int an_plot_sample(void *ctx, uint64_t time_us, uint64_t rss, uint64_t heap);
/* Write the data file: tab-separated blocks two blank lines apart (gnuplot's `index`):
 * 0 heap (time_s, bytes), 1 rss, 2 point markers (time_s, live bytes, label), 3 regions
 * (begin_s, end_s, label; one still open ends at peak->end_us), 4 the peak (time_s,
 * bytes, label). 0, or -1 on an output error. */
int an_plot_data(FILE *out, const an_plot *p, const an_marker *m, size_t n,
                 const an_plot_peak *peak);
/* A label as one data field: valid UTF-8, control characters (tab, newline) as
 * spaces, '"' (which gnuplot's data files cannot escape) as U+201D, never empty. */
void an_plot_label(FILE *out, const char *s, size_t n);
/* How many markers are of this type (enum ft_marker). */
size_t an_plot_count(const an_marker *m, size_t n, unsigned type);

/* How the process of a replayed trace ended (its trailer, FORMAT.md): */
enum an_how {
    AN_END_EARLY,   /* no trailer: the file is cut (or damaged) */
    AN_END_EXIT,    /* exited, code known */
    AN_END_SIGNAL,  /* killed by a signal, number known */
    AN_END_EXEC,    /* replaced its image: exec_path */
    AN_END_RUNNING, /* still running when recording ended */
    AN_END_UNKNOWN, /* ended, but how is not known (its parent reaped it first) */
    AN_END_OOM,     /* killed by the OOM killer */
};
/* The ending, with the exit code or signal number in *code (-1: not recorded). */
enum an_how an_replay_ending(const an_replay *rp, int *code);

/* ---- an_job.c: the processes of a job, and its whole-job peak ---- */

/* One interval of a process's trace: the sample that ends it (as a moment of the job),
 * the most live bytes in it and the event that reached them. */
typedef struct an_ivl {
    uint64_t key, max, event;
} an_ivl;

typedef struct an_proc {
    const char *path;            /* its trace (the caller's string) */
    uint64_t pid, ppid, image, mono_ns;
    uint64_t peak, peak_time_us, peak_event, end_us, live_at_end;
    enum an_how how;
    int code, ended_early;
    uint64_t at_job_peak, at_job_peak_event; /* its share of the whole-job peak */
    an_ivl *ivl;
    size_t nivl;
} an_proc;

typedef struct an_job {
    an_proc *procs;
    size_t n;
    uint64_t peak;               /* the whole-job peak: the sum of the processes' shares */
    uint64_t peak_time_us;       /* since the first process started */
    uint64_t start_ns;           /* the first process's start, monotonic clock */
    char **paths;                /* the caller's, if it wants them kept with the job */
    size_t npaths;
} an_job;

/* The traces of the job at path: path itself, then the traces in path.d/ (or, when
 * path is a folder, the traces in it), by name. *out and its strings are malloc'd
 * (an_job_paths_free). 0 or -1. */
int an_job_paths(const char *path, char ***out, size_t *n);
void an_job_paths_free(char **paths, size_t n);
/* Replay each of the n traces once and find the whole-job peak. 0, or a replay's error
 * with msg naming the trace. */
int an_job_run(an_job *j, char **paths, size_t n, char *msg, size_t msgcap, int progress);
void an_job_free(an_job *j);
/* The job over time: at each moment any process was sampled (*ntimes of them, in
 * microseconds since the first process started), the most each process held in the
 * interval ending there: (*values)[t * j->n + p]; their sum at the whole-job peak's
 * moment is j->peak. Both arrays malloc'd. 0 or -1. */
int an_job_series(const an_job *j, uint64_t **times_us, uint64_t **values, size_t *ntimes);

/* A process of the job that ran unrecorded, as filrec run listed it. */
typedef struct an_unrec {
    uint64_t pid, ppid;
    char why[128], cmd[256];     /* any bytes but NUL, tab and newline */
} an_unrec;
/* The job's unrecorded processes (path.d/unrecorded.tsv; none when it is not there):
 * *out malloc'd. 0, or -1 when out of memory. */
int an_job_unrecorded(const char *path, an_unrec **out, size_t *n);

struct an_tree;
/* The tree of what every process held at the whole-job peak: one frame per process
 * under the root ("pid N command"), its stacks under it, their definitions merged into
 * d (an_defs_free it, and an_tree_free t). 0, or an error with msg. */
int an_job_tree(const an_job *j, int reversed, int hide_imports, struct an_tree *t, an_defs *d,
                char *msg, size_t cap);

/* ---- an_native.c: native frames, named and put in the reports' view ---- */
/* Which native frames the reports show: those below the innermost Python frame and
 * the non-interpreter ones between Python frames (the default), all, or none (a stack
 * with no Python frame keeps its own). For every report of the run. */
enum an_native_view { AN_NATIVE_SOME, AN_NATIVE_ALL, AN_NATIVE_NONE };
void an_native_set_view(enum an_native_view v);
/* For an_defs_add: a MODULE record, or the NATIVE_FRAME record of node id node (its
 * node already added), kept until an_native_resolve. 0 or -1. */
int an_native_add(an_defs *d, const ft_record *rec, uint32_t node);
static inline uint8_t an_defs_fkind(const an_defs *d, uint32_t func)
{
    return func < d->nfkind ? d->fkind[func] : AN_FK_PYTHON;
}
struct an_progress;
/* Name d's native frames and rewrite its stack nodes into the view: afterwards every
 * stack id reads as Python frames do (functions with a name, a file, a line). Once per
 * definitions; a no-op when there are none. 0, or -1 when out of memory. */
int an_native_resolve(an_defs *d, struct an_progress *prog);

/* ---- an_util.c ---- */
/* "1.2 MB" style, decimal units, into buf (at least 16 bytes). */
const char *an_human(uint64_t bytes, char *buf, size_t cap);
/* "12,345,678" into buf (at least 32 bytes). */
const char *an_commas(uint64_t n, char *buf, size_t cap);
/* A NUL-terminated, valid UTF-8 copy of n arbitrary bytes: invalid sequences and NUL
 * bytes become U+FFFD. Returns NULL when out of memory; free() the result. */
char *an_utf8(const char *s, size_t n);

/* Write n arbitrary bytes as XML/HTML text or attribute value: cleaned to UTF-8, with
 * & < > " ' escaped and control characters (but tab and newline) replaced. */
void an_xml(FILE *out, const char *s, size_t n);

/* Progress bar on stderr: an_progress_tick is cheap to call often. */
typedef struct an_progress an_progress;
struct an_progress {
    int on, shown;
    uint64_t start_ns, next_ns;
    const char *what;
};
void an_progress_init(an_progress *p, const char *what, int enabled);
void an_progress_tick(an_progress *p, uint64_t done, uint64_t total);
void an_progress_end(an_progress *p);

#endif
