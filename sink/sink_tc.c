/* sink_tc.c: one log's transcoder (record/rec_ir.h words to trace records). It replays
 * the log's registers (thread, context) and encodes each word as the trace record it
 * stands for through format/ft_enc.h, which owns the trace's registers, planes and
 * recycle slots. Frames fill across sealed buffers (small buffers stay in cache; big
 * frames compress better); a frame is written when it is full, and sink.c writes the
 * rest on a timer. The counts for the TRAILER are kept here, where the records are
 * written: they match the body by construction. Definitions are kept as their log words,
 * so that a forked child's trace can start with the ids it inherited. It also keeps the
 * mappings whose resident pages the sink measures (FORMAT.md, "Resident pages"). */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "sink_internal.h"

/* A measured mapping: the same range as a reader's, since both follow MMAP, MUNMAP and
 * MREMAP alike. */
struct meas {
    uint64_t start, end;
    uint64_t said;          /* the count last written (UINT64_MAX: none yet) */
    uint64_t now;           /* what the last measure found, valid while fresh */
    uint8_t file, fresh;    /* fresh: measured, and the range has not changed since */
    uint8_t every, skip;    /* measured one look in every (1-8), skip more to go */
};

struct sink_tc {
    _Alignas(64) ft_frame fr;
    uint8_t *buf;                  /* FT_FRAME_MAX bytes */
    uint32_t thread;               /* the log's registers, as the hooks left them */
    uint64_t ctx;
    uint64_t counts[FT_KIND_COUNT];
    uint64_t bye_flags, bye_time, bye_end; /* the logged trailer's, once said */
    int said_bye, exec_last;
    char exec_path[256];           /* the last EXEC's program, cut to fit */
    int ended;                     /* the trailer is written: nothing may follow */
    pid_t forks[64];               /* the last children it forked (FORK records) */
    size_t nforks;
    uint64_t *defs;                /* STRING, FUNCTION and STACK_NODE log words, in order */
    size_t ndefs, defs_cap;
    uint64_t page;                 /* measuring: the page size; 0: mappings count by length */
    struct meas *m;                /* the measured mappings, in no order */
    size_t nm, m_cap;
};

sink_tc *sink_tc_new(void)
{
    sink_tc *tc = calloc(1, sizeof *tc);
    if (!tc)
        return NULL;
    tc->buf = mmap(NULL, FT_FRAME_MAX, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (tc->buf == MAP_FAILED) {
        free(tc);
        return NULL;
    }
    ft_frame_init(&tc->fr, tc->buf);
    tc->ctx = rec_ir_ctx(FT_A_MALLOC, 0); /* as the hooks start: rec_core.c */
    return tc;
}

void sink_tc_free(sink_tc *tc)
{
    if (!tc)
        return;
    munmap(tc->buf, FT_FRAME_MAX);
    free(tc->defs);
    free(tc->m);
    free(tc);
}

static int flush(sink_tc *tc, ft_writer *out)
{
    int err = ft_writer_frame(out, &tc->fr);
    ft_frame_init(&tc->fr, tc->buf);
    return err;
}

/* Room for a THREAD and a record of need bytes, in the frame or in a new one. */
static int room(sink_tc *tc, ft_writer *out, size_t need)
{
    int err = 0;
    if (ft_frame_room(&tc->fr) < need + 2 * FT_REC_MAX)
        err = flush(tc, out);
    if (!err && tc->fr.regs.thread != tc->thread) {
        ft_enc_thread(&tc->fr, tc->thread);
        tc->counts[FT_THREAD]++;
    }
    return err;
}

/* A CTX word's value (rec_ir_ctx): the allocator above, the stack below. */
static uint32_t ctx_stack(uint64_t ctx) { return (uint32_t)ctx; }
static unsigned ctx_allocator(uint64_t ctx) { return (unsigned)(ctx >> 32); }

int sink_tc_end(sink_tc *tc, ft_writer *out, unsigned flags, uint64_t time_us, uint64_t end)
{
    if (tc->ended)
        return 0;
    if (tc->said_bye) {
        flags |= (unsigned)tc->bye_flags;
        time_us = tc->bye_time;
        if (tc->bye_end) /* what the process knew (exit, _exit, raise) beats a guess */
            end = tc->bye_end;
    } else {
        flags |= FT_T_SINK;
    }
    int err = flush(tc, out); /* the trailer goes alone into the last frame */
    if (err)
        return err;
    unsigned n = FT_FAILED; /* version 2's kinds; more when a later kind occurs */
    for (unsigned k = n + 1; k < FT_KIND_COUNT; k++)
        if (tc->counts[k])
            n = k;
    ft_enc_ints(&tc->fr, FT_TRAILER, 4, flags, time_us, end, n);
    for (unsigned k = 1; k <= n; k++)
        ft_enc_more(&tc->fr, tc->counts[k]);
    tc->ended = 1;
    return flush(tc, out);
}

static int keep_def(sink_tc *tc, const uint64_t *w, size_t n)
{
    return sink_append(&tc->defs, &tc->ndefs, &tc->defs_cap, w, n);
}

/* ---- measured mappings ---- */

void sink_tc_measure_pages(sink_tc *tc, uint64_t page) { tc->page = page; }

static uint64_t page_end(const sink_tc *tc, uint64_t addr, uint64_t len)
{
    uint64_t n = len > UINT64_MAX - tc->page ? UINT64_MAX & ~(tc->page - 1)
                                               : (len + tc->page - 1) & ~(tc->page - 1);
    return addr + n < addr ? UINT64_MAX : addr + n;
}

static int meas_add(sink_tc *tc, uint64_t start, uint64_t end, int file, uint64_t said)
{
    if (tc->nm == tc->m_cap) {
        size_t cap = tc->m_cap ? tc->m_cap * 2 : 16;
        struct meas *m = realloc(tc->m, cap * sizeof *m);
        if (!m)
            return FT_E_NOMEM;
        tc->m = m;
        tc->m_cap = cap;
    }
    tc->m[tc->nm++] = (struct meas){start, end, said, 0, (uint8_t)file, 0, 1, 0};
    return 0;
}

/* Take [lo, hi) out of the measured mappings, as a reader takes it out of its ranges.
 * Returns the file flag of the first piece taken, -1 when none, or FT_E_NOMEM (< -1). */
static int meas_cut(sink_tc *tc, uint64_t lo, uint64_t hi)
{
    int first = -1;
    uint64_t first_start = UINT64_MAX;
    for (size_t i = 0; i < tc->nm; i++) {
        struct meas *m = &tc->m[i];
        if (m->end <= lo || m->start >= hi)
            continue;
        if (m->start < first_start)
            first_start = m->start, first = m->file;
        m->said = UINT64_MAX;
        m->fresh = 0;
        if (m->start < lo && m->end > hi) { /* a hole: the upper part is a new range */
            uint64_t end = m->end;
            m->end = lo;
            if (meas_add(tc, hi, end, tc->m[i].file, UINT64_MAX))
                return FT_E_NOMEM;
        } else if (m->start < lo) {
            m->end = lo;
        } else if (m->end > hi) {
            m->start = hi;
        } else {
            tc->m[i--] = tc->m[--tc->nm];
        }
    }
    return first;
}

/* Reading pagemap walks the program's page tables, and slows it while it does, the
 * more the more pages are there. A mapping found wholly resident cannot grow: it is
 * looked at half as often, down to one look in 8; any other, or one found changed,
 * at every look (an untouched buffer costs little to read, and may fill at any
 * moment). A mapping made anew (or cut) starts at every look, and its munmap says what
 * it held (FT_RESIDENT). */
size_t sink_tc_measure(sink_tc *tc, int pagemap)
{
    static uint64_t pm[4096];
    size_t fresh = 0;
    for (size_t i = 0; i < tc->nm; i++) {
        struct meas *m = &tc->m[i];
        m->fresh = 0;
        if (m->skip) {
            m->skip--;
            continue;
        }
        /* unaligned (cut by a failed munmap) or unreadable: not measured */
        uint64_t r = rec_pagemap_resident(pagemap, m->start, m->end, tc->page, m->file, pm, 4096);
        if (r == UINT64_MAX)
            continue;
        int full = r == m->end - m->start && r == m->said;
        m->every = !full ? 1 : m->every < 8 ? m->every * 2 : 8;
        m->skip = m->every - 1;
        m->fresh = 1;
        m->now = r;
        fresh++;
    }
    return fresh;
}

int sink_tc_resident(sink_tc *tc, ft_writer *out)
{
    int err = 0;
    for (size_t i = 0; i < tc->nm && !err; i++) {
        struct meas *m = &tc->m[i];
        if (!m->fresh || tc->ended || tc->said_bye)
            continue;
        m->fresh = 0;
        if (m->now == m->said || (err = room(tc, out, 0)))
            continue;
        ft_enc_resident(&tc->fr, m->start, m->now);
        tc->counts[FT_RESIDENT]++;
        m->said = m->now;
    }
    return err;
}

/* One REC: its header word h, then words [w, end). Returns the words it took, or 0
 * when the log is malformed (a recorder bug: recording stops). */
static size_t put_rec(sink_tc *tc, ft_writer *out, uint64_t h, const uint64_t *w,
                      const uint64_t *end, int *err)
{
    unsigned kind = (h >> 16) & 0xff, k = kind & FT_KIND_MASK, n = (h >> 24) & 7;
    size_t len = (h >> 32) & 0x1ffff, words = rec_ir_words(n, len) - 1;
    if (n > REC_IR_VALUES_MAX || len > REC_IR_STRING_MAX || (size_t)(end - w) < words ||
        k == 0 || k >= FT_KIND_COUNT || k == 19 || k == FT_RALLOC || k == FT_THREAD)
        return 0;
    uint64_t v[REC_IR_VALUES_MAX] = {0};
    memcpy(v, w, n * sizeof *v);
    if (k == FT_TRAILER) {
        if (n < 2 || n > 3 || v[2] > 0x10000)
            *err = FT_E_RECORD;
        tc->said_bye = 1;
        tc->bye_flags = v[0];
        tc->bye_time = v[1];
        tc->bye_end = v[2];
        return 1 + words;
    }
    if ((*err = room(tc, out, len + 10)))
        return 1 + words;
    tc->exec_last = k == FT_EXEC;
    if (k == FT_FORK)
        tc->forks[tc->nforks++ % 64] = (pid_t)v[0];
    if (k == FT_EXEC) {
        size_t c = len < sizeof tc->exec_path - 1 ? len : sizeof tc->exec_path - 1;
        memcpy(tc->exec_path, w + n, c);
        tc->exec_path[c] = 0;
    }
    switch (k) {
    case FT_ALLOC:
        ft_enc_alloc(&tc->fr, v[0], v[1], ctx_allocator(tc->ctx), ctx_stack(tc->ctx));
        break;
    case FT_FREE:
        ft_enc_free(&tc->fr, v[0]);
        break;
    case FT_MMAP: {
        int file = v[2] == REC_MAP_FILE;
        if (!tc->page) {
            if (file) /* unmeasured, its written pages cannot be counted: left out */
                return 1 + words;
            ft_enc_mmap(&tc->fr, v[0], v[1], ctx_stack(tc->ctx));
            break;
        }
        uint64_t stop = page_end(tc, v[0], v[1]);
        if (meas_cut(tc, v[0], stop) < -1)
            *err = FT_E_NOMEM;
        if (v[2] == REC_MAP_ANON && v[1] < REC_MEASURE_MIN) {
            ft_enc_mmap(&tc->fr, v[0], v[1], ctx_stack(tc->ctx));
            break;
        }
        if (meas_add(tc, v[0], stop, file, 0)) /* a reader counts it 0 until told */
            *err = FT_E_NOMEM;
        ft_enc_mmap_measured(&tc->fr, v[0], v[1], ctx_stack(tc->ctx), file);
        break;
    }
    case FT_RESIDENT: /* the recorder's, just before a measured mapping's munmap */
        if (n != 2)
            return 0;
        ft_enc_resident(&tc->fr, v[0], v[1]);
        break;
    case FT_MUNMAP:
        if (tc->nm && meas_cut(tc, v[0], page_end(tc, v[0], v[1])) < -1)
            *err = FT_E_NOMEM;
        ft_enc_munmap(&tc->fr, v[0], v[1]);
        break;
    case FT_MREMAP: {
        int file = tc->nm ? meas_cut(tc, v[0], page_end(tc, v[0], v[1])) : -1;
        if (file < -1 || (file >= 0 && meas_add(tc, v[2], page_end(tc, v[2], v[3]), file, UINT64_MAX)))
            *err = FT_E_NOMEM;
        ft_enc_mremap(&tc->fr, v[0], v[1], v[2], v[3]);
        break;
    }
    default: /* the fields in order, then the string of the kinds that end in one */
        ft_enc_ints(&tc->fr, kind, n, v[0], v[1], v[2], v[3]);
        if (k == FT_STRING || k == FT_MARKER || k == FT_THREAD_NAME || k == FT_EXEC ||
            k == FT_MODULE)
            tc->fr.ops = ft_put_string(tc->fr.ops, w + n, len);
        if (k == FT_STRING || k == FT_FUNCTION || k == FT_STACK_NODE || k == FT_MODULE ||
            k == FT_NATIVE_FRAME)
            *err = keep_def(tc, w - 1, 1 + words);
    }
    tc->counts[k]++;
    return 1 + words;
}

/* ALLOC, FREE, CTX and THREAD words from w on, while the frame has room: the frame is
 * a local here, so the compiler keeps its pointers in registers (byte stores may alias
 * anything reachable, tc->fr included). A CTX word (the stack and allocator of the
 * ALLOCs after it) stays in the loop: with --python-allocators nearly every allocation
 * has one; so does a THREAD word: merged lanes change thread nearly every event. The
 * THREAD record goes out before the next event, as room() writes it. Returns where it
 * stopped. */
static const uint64_t *run(sink_tc *tc, const uint64_t *w, const uint64_t *end)
{
    ft_frame f = tc->fr;
    uint64_t ctx = tc->ctx, nalloc = 0, nfree = 0, nthread = 0;
    uint32_t thread = tc->thread;
    while (w < end && ft_frame_room(&f) >= 2 * FT_REC_MAX) {
        uint64_t x = *w;
        unsigned tag = rec_ir_tag(x);
        if ((x & REC_IR_ALLOC_BIT) || (x & 0xffff) == 0xffff) {
            if (f.regs.thread != thread) { /* both fit: the room is for two records */
                ft_enc_thread(&f, thread);
                nthread++;
            }
            if (!(x & REC_IR_ALLOC_BIT)) {
                ft_enc_free(&f, rec_ir_addr(x));
                nfree++;
            } else if (rec_ir_addr(x)) { /* 0: a failed malloc, let through by the hook */
                ft_enc_alloc(&f, rec_ir_addr(x), rec_ir_size(x), ctx_allocator(ctx),
                             ctx_stack(ctx));
                nalloc++;
            }
        } else if (tag == REC_IR_CTX) {
            ctx = x >> 16;
        } else if (tag == REC_IR_THREAD) {
            thread = (uint32_t)(x >> 16);
        } else {
            break;
        }
        w++;
    }
    tc->fr = f;
    tc->ctx = ctx;
    tc->thread = thread;
    tc->counts[FT_ALLOC] += nalloc;
    tc->counts[FT_FREE] += nfree;
    tc->counts[FT_THREAD] += nthread;
    if (nalloc | nfree)
        tc->exec_last = 0;
    return w;
}

int sink_tc_words(sink_tc *tc, ft_writer *out, const uint64_t *w, const uint64_t *end)
{
    int err = 0;
    if (tc->ended || (tc->said_bye && w < end))
        return FT_E_RECORD; /* words after the trailer */
    while (w < end && !err) {
        const uint64_t *stop = run(tc, w, end);
        if (stop != w) {
            w = stop;
            continue;
        }
        uint64_t x = *w++;
        switch (rec_ir_tag(x)) {
        case REC_IR_ALLOC:
        case REC_IR_FREE:
            w--; /* no room, or a new thread: make room, then run() again */
            err = room(tc, out, 0);
            break;
        case REC_IR_CTX:
            tc->ctx = x >> 16;
            break;
        case REC_IR_THREAD:
            tc->thread = (uint32_t)(x >> 16);
            break;
        case REC_IR_REC: {
            size_t took = put_rec(tc, out, x, w, end, &err);
            if (!took)
                return FT_E_RECORD;
            w += took - 1;
            if (tc->said_bye && w < end)
                return FT_E_RECORD;
            break;
        }
        default:
            return FT_E_RECORD;
        }
    }
    return err;
}

int sink_tc_sample(sink_tc *tc, ft_writer *out, uint64_t time_us, uint64_t rss)
{
    if (tc->ended || tc->said_bye)
        return 0;
    int err = room(tc, out, 0);
    if (!err) {
        ft_enc_ints(&tc->fr, FT_SAMPLE, 2, time_us, rss, 0, 0);
        tc->counts[FT_SAMPLE]++;
    }
    return err;
}

int sink_tc_flush(sink_tc *tc, ft_writer *out)
{
    return ft_frame_empty(&tc->fr) ? 0 : flush(tc, out);
}

int sink_tc_said_bye(const sink_tc *tc) { return tc->said_bye; }
int sink_tc_stopped(const sink_tc *tc)
{
    return tc->said_bye && (tc->bye_flags & FT_T_RUNNING);
}
const char *sink_tc_exec_path(const sink_tc *tc) { return tc->exec_path; }

const pid_t *sink_tc_forks(const sink_tc *tc, size_t *n)
{
    *n = tc->nforks < 64 ? tc->nforks : 64;
    return tc->forks;
}
int sink_tc_exec_last(const sink_tc *tc) { return tc->exec_last; }

static unsigned def_kind(uint64_t h) { return (unsigned)(h >> 16) & FT_KIND_MASK; }
static size_t def_words(uint64_t h)
{
    return rec_ir_words((unsigned)(h >> 24) & 7, (size_t)(h >> 32) & 0x1ffff);
}

void sink_tc_defined(const sink_tc *tc, uint32_t *nstrings, uint32_t *nfuncs, uint32_t *nnodes)
{
    *nstrings = (uint32_t)tc->counts[FT_STRING];
    *nfuncs = (uint32_t)tc->counts[FT_FUNCTION];
    *nnodes = (uint32_t)(tc->counts[FT_STACK_NODE] + tc->counts[FT_NATIVE_FRAME]);
}

int sink_tc_inherit(sink_tc *tc, ft_writer *out, const sink_tc *parent, uint32_t nstrings,
                    uint32_t nfuncs, uint32_t nnodes, uint32_t nmodules)
{
    uint32_t want[FT_KIND_COUNT] = {0}, have[FT_KIND_COUNT] = {0};
    want[FT_STRING] = nstrings;
    want[FT_FUNCTION] = nfuncs;
    want[FT_STACK_NODE] = nnodes;
    want[FT_MODULE] = nmodules;
    for (size_t i = 0; i < parent->ndefs;) {
        uint64_t h = parent->defs[i];
        size_t n = def_words(h);
        unsigned k = def_kind(h);
        if (k == FT_NATIVE_FRAME)
            k = FT_STACK_NODE; /* one id space: the first nnodes of either kind */
        if (i + n > parent->ndefs)
            return FT_E_RECORD;
        if (have[k] < want[k]) {
            have[k]++;
            int err = sink_tc_words(tc, out, parent->defs + i, parent->defs + i + n);
            if (err)
                return err;
        }
        i += n;
    }
    return have[FT_STRING] == nstrings && have[FT_FUNCTION] == nfuncs &&
                   have[FT_STACK_NODE] == nnodes && have[FT_MODULE] == nmodules
               ? 0
               : FT_E_RECORD;
}

void sink_tc_regs(const sink_tc *tc, uint32_t *thread, uint64_t *ctx)
{
    *thread = tc->thread;
    *ctx = tc->ctx;
}
