/* an_replay.c: one streaming pass over a trace. Replays allocations, frees and mappings
 * in the trace's total order, keeping the tracked live bytes exact after every event,
 * and notes the peak (the first event at which the maximum is reached), markers, forks
 * and the counts that `stats` reports. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "an.h"

#define MAX_MARKERS 100000 /* a hostile trace must not make us store every marker */

static int grow_array(void **p, size_t *cap, size_t n, size_t size)
{
    if (n < *cap)
        return 0;
    size_t c = *cap ? *cap * 2 : 16;
    void *q = realloc(*p, c * size);
    if (!q)
        return -1;
    *p = q;
    *cap = c;
    return 0;
}

static uint64_t page_up(uint64_t n, uint64_t page)
{
    return n > UINT64_MAX - page ? UINT64_MAX & ~(page - 1) : (n + page - 1) & ~(page - 1);
}

static __attribute__((noinline)) uint64_t sampled_weight(uint64_t t, uint64_t size)
{
    double w = (double)size / -expm1(-(double)size / (double)t);
    return (uint64_t)(w + 0.5);
}

/* What a block of size bytes stands for, sampled at one in t bytes (t = 0: not). */
static inline uint64_t weight(uint64_t t, uint64_t size)
{
    return !t || size >= t ? size : sampled_weight(t, size);
}

uint64_t an_weight(uint64_t t, uint64_t size) { return weight(t, size); }

/* The variance share of a block of size bytes that stands for w. */
static uint64_t var_of(uint64_t w, uint64_t size) { return w > size ? w * (w - size) : 0; }

uint64_t an_weight_var(uint64_t t, uint64_t size) { return var_of(weight(t, size), size); }

/* A live block of size bytes leaves the count (its free, or its address taken again).
 * S: the trace is sampled (a constant where the replay is specialized, else
 * rp->sample != 0): an exact replay keeps no variance. */
static inline __attribute__((always_inline)) void block_gone(an_replay *rp, uint64_t size, const int S)
{
    uint64_t w = S ? weight(rp->sample, size) : size;
    rp->cur -= w;
    if (S)
        rp->var -= var_of(w, size);
}

/* ---- keep_peak: the live set by stack, kept at each new peak (an_snap) ----
 * Every block event changes its stack's sums and lists the stack as changed; a new
 * peak copies only the listed stacks, so a run of new peaks costs O(1) each. Mappings
 * are few and change rarely: copied whole at a new peak if they changed since. */
static __attribute__((noinline)) int snap_grow(an_snap *sn, uint32_t s)
{
    size_t n = sn->cap ? sn->cap : 1024;
    while (n <= s)
        n *= 2;
    if (n > sn->cap) {
        an_snap_stack *st = realloc(sn->stack, n * sizeof *st);
        if (st)
            sn->stack = st;
        uint32_t *ch = st ? realloc(sn->changed, n * sizeof *ch) : NULL;
        if (!ch)
            return -1;
        sn->changed = ch;
        sn->cap = n;
    }
    memset(sn->stack + sn->n, 0, (s + 1 - sn->n) * sizeof *sn->stack);
    sn->n = s + 1;
    return 0;
}

static inline int snap_room(an_snap *sn, uint32_t s)
{
    return s < sn->n ? 0 : snap_grow(sn, s);
}

/* A block of size under (stack, thread) came (sign 1) or went (-1). */
static inline __attribute__((always_inline)) int snap_block(an_replay *rp, uint32_t stack, uint32_t thread,
                                                            uint64_t size, int sign, const int S)
{
    an_snap *sn = rp->snap;
    uint32_t s = an_defs_charge(&rp->defs, stack, thread);
    if (snap_room(sn, s))
        return -1;
    an_snap_stack *st = &sn->stack[s];
    uint64_t w = S ? weight(rp->sample, size) : size;
    st->bytes += sign > 0 ? w : -w;
    st->blocks += sign > 0 ? 1 : (uint64_t)-1;
    if (S)
        st->var += sign * (double)var_of(w, size);
    if (!st->changed) {
        st->changed = 1;
        sn->changed[sn->nchanged++] = s;
    }
    return 0;
}

/* A new peak: keep the changed stacks' sums, and the mappings if they changed. */
static int snap_peak(an_replay *rp)
{
    an_snap *sn = rp->snap;
    for (size_t i = 0; i < sn->nchanged; i++) {
        an_snap_stack *st = &sn->stack[sn->changed[i]];
        st->peak_bytes = st->bytes;
        st->peak_blocks = st->blocks;
        st->peak_var = st->var;
        st->changed = 0;
    }
    sn->nchanged = 0;
    if (sn->peak_maps_version != sn->maps_version) {
        if (rp->maps.n > sn->cap_maps) {
            an_range *m = realloc(sn->maps, rp->maps.n * 2 * sizeof *m);
            if (!m)
                return -1;
            sn->maps = m;
            sn->cap_maps = rp->maps.n * 2;
        }
        memcpy(sn->maps, rp->maps.r, rp->maps.n * sizeof *sn->maps);
        sn->nmaps = rp->maps.n;
        sn->peak_maps_version = sn->maps_version;
    }
    return 0;
}

static void snap_free(an_snap *sn)
{
    if (!sn)
        return;
    free(sn->stack), free(sn->changed), free(sn->maps);
    free(sn);
}

uint64_t an_bound95(double var) { return var > 0 ? (uint64_t)(1.96 * sqrt(var) + 0.5) : 0; }

static __attribute__((noinline)) int new_ivl_peak(an_replay *rp)
{
    rp->ivl_peak = rp->cur;
    rp->ivl_peak_event = rp->events;
    if (rp->cur > rp->peak) {
        rp->peak = rp->cur;
        rp->peak_untouched = rp->maps.untouched;
        rp->peak_var = rp->var;
        rp->peak_event = rp->events;
        rp->peak_time_us = rp->now_us;
        if (rp->snap)
            return snap_peak(rp);
    }
    return 0;
}

/* Live bytes went up: a new maximum of the interval, and perhaps of the run. */
static inline int note_peak(an_replay *rp)
{
    return rp->cur > rp->ivl_peak ? new_ivl_peak(rp) : 0;
}

static int oom(an_replay *rp)
{
    snprintf(rp->msg, sizeof rp->msg, "out of memory");
    return FT_E_NOMEM;
}

/* Temporaries, as memray counts them: each thread keeps its last temp_threshold
 * allocations that are still live, newest last (one freed meanwhile leaves the list, so
 * short-lived allocations in between do not push a block out); a free of one of them is
 * a temporary. */
static int ring_thread(an_replay *rp, uint32_t thread)
{
    if (thread < rp->nring)
        return 0;
    size_t n = thread + 1 > rp->nring * 2 ? thread + 1 : rp->nring * 2;
    an_ring *r = realloc(rp->ring, n * rp->temp_threshold * sizeof *r);
    uint64_t *c = r ? realloc(rp->ring_count, n * sizeof *c) : NULL;
    if (r)
        rp->ring = r;
    if (!c)
        return -1;
    rp->ring_count = c;
    memset(r + rp->nring * rp->temp_threshold, 0, (n - rp->nring) * rp->temp_threshold * sizeof *r);
    memset(c + rp->nring, 0, (n - rp->nring) * sizeof *c);
    rp->nring = n;
    return 0;
}

static int temp_alloc(an_replay *rp, const ft_heap *rec)
{
    if (ring_thread(rp, rec->thread))
        return -1;
    an_ring *r = &rp->ring[rec->thread * rp->temp_threshold];
    uint64_t *fill = &rp->ring_count[rec->thread];
    if (*fill == rp->temp_threshold) { /* the oldest goes */
        memmove(r, r + 1, (rp->temp_threshold - 1) * sizeof *r);
        --*fill;
    }
    r[(*fill)++] = (an_ring){rec->addr, an_weight(rp->sample, rec->size),
                             an_defs_charge(&rp->defs, rec->stack, rec->thread)};
    return 0;
}

static int temp_free(an_replay *rp, const ft_heap *rec)
{
    if (rec->thread >= rp->nring)
        return 0;
    an_ring *r = &rp->ring[rec->thread * rp->temp_threshold];
    uint64_t *fill = &rp->ring_count[rec->thread];
    for (unsigned i = 0; i < *fill; i++) {
        if (r[i].addr != rec->addr)
            continue;
        uint32_t s = r[i].stack;
        if (s >= rp->ntemp) {
            size_t n = s + 1 > rp->ntemp * 2 ? s + 1 : rp->ntemp * 2;
            an_temp *t = realloc(rp->temp, n * sizeof *t);
            if (!t)
                return -1;
            memset(t + rp->ntemp, 0, (n - rp->ntemp) * sizeof *t);
            rp->temp = t;
            rp->ntemp = n;
        }
        rp->temp[s].count++;
        rp->temp[s].bytes += r[i].size;
        memmove(r + i, r + i + 1, (*fill - 1 - i) * sizeof *r);
        --*fill;
        return 0;
    }
    return 0;
}

/* Bytes allocated under a stack over the run, for `lines`. */
static int add_total(an_replay *rp, uint32_t stack, uint32_t thread, uint64_t bytes)
{
    uint32_t s = an_defs_charge(&rp->defs, stack, thread);
    if (s >= rp->ntotals) {
        size_t n = s + 1 > rp->ntotals * 2 ? s + 1 : rp->ntotals * 2;
        uint64_t *t = realloc(rp->totals, n * sizeof *t);
        if (!t)
            return -1;
        memset(t + rp->ntotals, 0, (n - rp->ntotals) * sizeof *t);
        rp->totals = t;
        rp->ntotals = n;
    }
    rp->totals[s] += bytes;
    return 0;
}

/* GCC cannot see that an_live_put fills old whenever it returns 1, the only case in
 * which old is read; setting it first costs a few percent of an exact replay. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
/* Apply one ALLOC or FREE to the replay state. S: the trace is sampled; P: the live
 * set is kept at the peak (rp->snap); both constants in the batch loops (apply_batch),
 * so that an exact replay, the common one, pays for neither. */
static inline __attribute__((always_inline)) int apply_heap(an_replay *rp, const ft_heap *rec,
                                                            const int S, const int P)
{
    rp->events++;
    if (rec->kind == FT_FREE) {
        if (rp->temp_threshold && temp_free(rp, rec))
            return oom(rp);
        an_block gone;
        if (an_live_take(&rp->live, rec->addr, &gone)) {
            block_gone(rp, gone.size, S);
            if (P && snap_block(rp, gone.stack, gone.thread, gone.size, -1, S))
                return oom(rp);
        } else {
            rp->unmatched_frees++;
        }
        return 0;
    }
    an_block b = {rec->addr, rec->size, rec->stack, rec->thread}, old; /* set when k is 1 */
    uint64_t w = S ? weight(rp->sample, rec->size) : rec->size; /* itself, unless sampled */
    rp->total_bytes += w;
    int k = an_live_put(&rp->live, &b, &old);
    if (k < 0 || (rp->temp_threshold && temp_alloc(rp, rec)) ||
        (rp->track_totals && add_total(rp, rec->stack, rec->thread, w)))
        return oom(rp);
    if (k == 1) { /* a free we never saw: the old block is gone */
        block_gone(rp, old.size, S);
        rp->reused_addrs++;
    }
    if (P && ((k == 1 && snap_block(rp, old.stack, old.thread, old.size, -1, S)) ||
              snap_block(rp, rec->stack, rec->thread, rec->size, 1, S)))
        return oom(rp);
    rp->cur += w;
    if (S)
        rp->var += var_of(w, rec->size);
    return note_peak(rp) ? oom(rp) : 0;
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

/* A batch of k ALLOCs and FREEs. The live slot of each is fetched into the cache AHEAD
 * events before it is applied: its first probe, the one cache miss an event usually
 * has, overlaps the work on the events before it. */
enum { AHEAD = 8 };
static inline __attribute__((always_inline)) int apply_batch(an_replay *rp, const ft_heap *ev,
                                                             size_t k, const int S, const int P)
{
    int err = 0;
    size_t i, frees = 0;
    for (i = 0; i < k && i < AHEAD; i++)
        an_live_prefetch(&rp->live, ev[i].addr);
    for (i = 0; i < k; i++) {
        if (i + AHEAD < k)
            an_live_prefetch(&rp->live, ev[i + AHEAD].addr);
        if ((err = apply_heap(rp, &ev[i], S, P)))
            break;
        frees += ev[i].kind == FT_FREE;
    }
    rp->counts[FT_FREE] += frees;
    rp->counts[FT_ALLOC] += i - frees;
    return err;
}

typedef int batch_fn(an_replay *, const ft_heap *, size_t);
#define BATCH_AS(S, P)                                                                   \
    static __attribute__((noinline)) int batch_##S##P(an_replay *rp, const ft_heap *ev,   \
                                                       size_t k)                         \
    {                                                                                    \
        return apply_batch(rp, ev, k, S, P);                                             \
    }
BATCH_AS(0, 0)
BATCH_AS(0, 1)
BATCH_AS(1, 0)
BATCH_AS(1, 1)

static batch_fn *batch_for(const an_replay *rp)
{
    static batch_fn *const as[2][2] = {{batch_00, batch_01}, {batch_10, batch_11}};
    return as[rp->sample != 0][rp->snap != NULL];
}

/* Apply one record to the replay state. */
static int apply(an_replay *rp, const ft_record *rec)
{
    uint64_t page = rp->hdr.page_size, n;
    switch (rec->kind) {
    case FT_ALLOC:
    case FT_FREE: {
        ft_heap h = {rec->addr, rec->kind == FT_ALLOC ? rec->size : 0, rec->stack,
                     rec->thread, rec->kind == FT_ALLOC ? rec->allocator : 0, rec->kind};
        return apply_heap(rp, &h, rp->sample != 0, rp->snap != NULL);
    }
    case FT_MMAP: {
        n = page_up(rec->size, page);
        an_range r = {rec->addr, rec->addr + n < rec->addr ? UINT64_MAX : rec->addr + n, 0,
                      rec->stack, rec->thread, !!(rec->flags & FT_F1), !!(rec->flags & FT_F2)};
        r.bytes = r.measured ? 0 : r.end - r.start; /* measured: RESIDENT says */
        uint64_t gone = an_maps_add(&rp->maps, &r);
        if (gone == UINT64_MAX)
            return oom(rp);
        if (rp->snap)
            rp->snap->maps_version++;
        rp->events++;
        rp->total_bytes += r.bytes;
        rp->cur += r.bytes - gone;
        if (rp->track_totals && add_total(rp, rec->stack, rec->thread, r.bytes))
            return oom(rp);
        if (note_peak(rp))
            return oom(rp);
        break;
    }
    case FT_RESIDENT: {
        rp->events++;
        an_range *r = NULL;
        uint64_t was = an_maps_set(&rp->maps, rec->addr, rec->size, &r);
        if (was == UINT64_MAX)
            break; /* the mapping is gone (as a FREE of an unknown block) */
        if (was == UINT64_MAX - 1) {
            snprintf(rp->msg, sizeof rp->msg, "offset %llu: a resident record of %llu bytes "
                     "for a mapping of %llu", (unsigned long long)ft_reader_frame_offset(rp->r),
                     (unsigned long long)rec->size, (unsigned long long)(r->end - r->start));
            return FT_E_RECORD;
        }
        rp->cur += rec->size - was;
        if (rp->snap)
            rp->snap->maps_version++;
        if (rec->size > was) {
            rp->total_bytes += rec->size - was;
            if (rp->track_totals && add_total(rp, r->stack, r->thread, rec->size - was))
                return oom(rp);
            if (note_peak(rp))
                return oom(rp);
        }
        break;
    }
    case FT_MUNMAP:
        rp->events++;
        n = page_up(rec->size, page);
        rp->cur -= an_maps_remove(&rp->maps, rec->addr,
                                  rec->addr + n < rec->addr ? UINT64_MAX : rec->addr + n, NULL);
        if (rp->snap)
            rp->snap->maps_version++;
        break;
    case FT_MREMAP: {
        rp->events++;
        n = page_up(rec->size, page);
        an_range r;
        uint64_t gone = an_maps_remove(&rp->maps, rec->addr,
                                       rec->addr + n < rec->addr ? UINT64_MAX : rec->addr + n,
                                       &r);
        rp->cur -= gone;
        if (rp->snap)
            rp->snap->maps_version++;
        if (r.end) { /* any of it was tracked: the new range is, with the first piece's stack */
            n = page_up(rec->size2, page);
            r.start = rec->addr2;
            r.end = rec->addr2 + n < rec->addr2 ? UINT64_MAX : rec->addr2 + n;
            r.thread = rec->thread;
            r.bytes = r.measured ? (gone < r.end - r.start ? gone : r.end - r.start)
                                 : r.end - r.start;
            uint64_t also = an_maps_add(&rp->maps, &r);
            if (also == UINT64_MAX)
                return oom(rp);
            rp->total_bytes += r.bytes > gone ? r.bytes - gone : 0;
            rp->cur += r.bytes - also;
            if (note_peak(rp))
                return oom(rp);
        }
        break;
    }
    case FT_THREAD_START:
        rp->threads++;
        /* fall through */
    case FT_STRING:
    case FT_FUNCTION:
    case FT_STACK_NODE:
    case FT_MODULE:
    case FT_NATIVE_FRAME:
        if (an_defs_add(&rp->defs, rec))
            return oom(rp);
        break;
    case FT_SAMPLE:
        if (rec->a > rp->now_us)
            rp->now_us = rec->a;
        if (rp->on_sample && rp->on_sample(rp->sample_ctx, rec->a, rec->b, rp->cur))
            return oom(rp);
        break;
    case FT_MARKER:
        if (rp->nmarkers >= MAX_MARKERS)
            break;
        if (grow_array((void **)&rp->markers, &rp->cap_markers, rp->nmarkers, sizeof *rp->markers))
            return oom(rp);
        an_marker *m = &rp->markers[rp->nmarkers];
        *m = (an_marker){malloc(rec->len + 1), rec->len, (unsigned)rec->a, rec->thread,
                         rp->now_us, rp->cur};
        if (!m->label)
            return oom(rp);
        memcpy(m->label, rec->str, rec->len);
        m->label[rec->len] = 0;
        rp->nmarkers++;
        break;
    case FT_FORK:
        if (rp->nforks < MAX_MARKERS) {
            if (grow_array((void **)&rp->forks, &rp->cap_forks, rp->nforks, sizeof *rp->forks))
                return oom(rp);
            rp->forks[rp->nforks++] = rec->a;
        }
        break;
    case FT_FAILED:
        if (rp->nfailures < AN_MAX_FAILURES)
            rp->failures[rp->nfailures] = (an_failure){rec->size, rp->cur, rp->events,
                                                       rp->now_us, rec->allocator, rec->stack,
                                                       rec->thread};
        rp->nfailures++;
        break;
    case FT_EXEC: {
        char *p = realloc(rp->exec_path, rec->len + 1);
        if (!p)
            return oom(rp);
        memcpy(p, rec->str, rec->len);
        p[rec->len] = 0;
        rp->exec_path = p;
        rp->exec_len = rec->len;
        break;
    }
    case FT_TRAILER:
        rp->trailer_flags = (int)rec->a;
        rp->trailer_end = rec->c;
        if (rec->b > rp->end_us)
            rp->end_us = rec->b;
        break;
    }
    return 0;
}

static int replay(an_replay *rp, const char *path, uint64_t stop_at, const char *progress);

int an_replay_run(an_replay *rp, const char *path, uint64_t stop_at, const char *progress)
{
    memset(rp, 0, sizeof *rp);
    return replay(rp, path, stop_at, progress);
}

int an_replay_peak(an_replay *rp, const char *path, const char *progress)
{
    memset(rp, 0, sizeof *rp);
    rp->keep_peak = 1;
    return replay(rp, path, 0, progress);
}

int an_replay_samples(an_replay *rp, const char *path,
                      int (*on_sample)(void *, uint64_t, uint64_t, uint64_t), void *ctx,
                      const char *progress)
{
    memset(rp, 0, sizeof *rp);
    rp->on_sample = on_sample;
    rp->sample_ctx = ctx;
    return replay(rp, path, 0, progress);
}

int an_replay_totals(an_replay *rp, const char *path, const char *progress)
{
    memset(rp, 0, sizeof *rp);
    rp->track_totals = 1;
    return replay(rp, path, 0, progress);
}

int an_replay_temporaries(an_replay *rp, const char *path, unsigned threshold, const char *progress)
{
    memset(rp, 0, sizeof *rp);
    rp->temp_threshold = threshold ? threshold : 1;
    return replay(rp, path, 0, progress);
}

int an_replay_temporaries_samples(an_replay *rp, const char *path, unsigned threshold,
                                  int (*on_sample)(void *, uint64_t, uint64_t, uint64_t),
                                  void *ctx, int keep_peak, const char *progress)
{
    memset(rp, 0, sizeof *rp);
    rp->keep_peak = keep_peak;
    rp->temp_threshold = threshold ? threshold : 1;
    rp->on_sample = on_sample;
    rp->sample_ctx = ctx;
    return replay(rp, path, 0, progress);
}

static int replay(an_replay *rp, const char *path, uint64_t stop_at, const char *progress)
{
    rp->path = path;
    rp->threads = 1;
    int err = ft_reader_open(&rp->r, path);
    if (err) {
        snprintf(rp->msg, sizeof rp->msg, "%s", ft_reader_message(rp->r));
        return err;
    }
    rp->hdr = *ft_reader_header(rp->r);
    rp->sample = rp->hdr.sample_bytes;
    rp->version = ft_reader_version(rp->r);
    if (an_live_init(&rp->live) || (rp->keep_peak && !(rp->snap = calloc(1, sizeof *rp->snap))))
        return oom(rp);
    an_progress bar;
    an_progress_init(&bar, progress ? progress : "", progress != NULL);
    /* Runs of ALLOCs and FREEs come from the reader a batch at a time (apply_batch).
     * Every other record, and any the batch decoder leaves (a malformed one, for its
     * error), goes through ft_reader_next. Each ALLOC or FREE is one event: a batch
     * never runs past stop_at. */
    enum { BATCH = 256 };
    ft_heap ev[BATCH];
    ft_record rec;
    batch_fn *batch = batch_for(rp);
    uint64_t n = 0, tick = 0;
    for (;;) {
        size_t max = BATCH, k;
        if (stop_at && stop_at - rp->events < max)
            max = (size_t)(stop_at - rp->events);
        if (max && (k = ft_reader_heap(rp->r, ev, max))) {
            if ((err = batch(rp, ev, k)))
                break;
            n += k;
        } else {
            if ((err = ft_reader_next(rp->r, &rec)) != 1)
                break;
            rp->counts[rec.kind]++;
            if ((err = apply(rp, &rec)))
                break;
            n++;
        }
        if (stop_at && rp->events == stop_at) {
            err = 1;
            break;
        }
        if (n - tick >= 0x10000) { /* a replay to an event: how far to it */
            tick = n;
            an_progress_tick(&bar, stop_at ? rp->events : ft_reader_pos(rp->r),
                             stop_at ? stop_at : ft_reader_size(rp->r));
        }
    }
    an_progress_end(&bar);
    if (err < 0) {
        if (!rp->msg[0])
            snprintf(rp->msg, sizeof rp->msg, "%s", ft_reader_message(rp->r));
        return err;
    }
    if (rp->defs.npend) {
        an_progress_init(&bar, "naming native frames", progress != NULL);
        err = an_native_resolve(&rp->defs, &bar);
        an_progress_end(&bar);
        if (err)
            return oom(rp);
    }
    rp->end_live = rp->cur;
    if (rp->snap)
        rp->snap->at_peak = 1;
    rp->ended_early = ft_reader_ended_early(rp->r);
    rp->cut_offset = ft_reader_cut_offset(rp->r);
    if (ft_reader_damage(rp->r))
        snprintf(rp->damage, sizeof rp->damage, "%s", ft_reader_damage(rp->r));
    if (rp->now_us > rp->end_us)
        rp->end_us = rp->now_us;
    rp->trace_bytes = ft_reader_size(rp->r);
    return 0;
}

enum an_how an_replay_ending(const an_replay *rp, int *code)
{
    *code = 0;
    if (rp->ended_early)
        return AN_END_EARLY;
    if (rp->trailer_flags & FT_T_EXEC)
        return AN_END_EXEC;
    if (rp->trailer_flags & FT_T_RUNNING)
        return AN_END_RUNNING;
    if (rp->trailer_flags & FT_T_OOM)
        return AN_END_OOM;
    if (rp->trailer_end) {
        unsigned st = (unsigned)(rp->trailer_end - 1);
        *code = (st & 0x7f) ? (int)(st & 0x7f) : (int)((st >> 8) & 0xff);
        return (st & 0x7f) ? AN_END_SIGNAL : AN_END_EXIT;
    }
    *code = -1; /* not recorded: version 1, or the status could not be read */
    if (rp->trailer_flags & FT_T_SIGNAL)
        return AN_END_SIGNAL;
    return (rp->trailer_flags & FT_T_SINK) ? AN_END_UNKNOWN : AN_END_EXIT;
}

void an_replay_free(an_replay *rp)
{
    free(rp->exec_path);
    for (size_t i = 0; i < rp->nmarkers; i++)
        free(rp->markers[i].label);
    free(rp->markers);
    free(rp->forks);
    an_defs_free(&rp->defs);
    free(rp->temp);
    free(rp->totals);
    free(rp->ring);
    free(rp->ring_count);
    an_live_free(&rp->live);
    an_maps_free(&rp->maps);
    snap_free(rp->snap);
    rp->snap = NULL;
    ft_reader_close(rp->r);
    rp->r = NULL;
}
