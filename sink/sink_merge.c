/* sink_merge.c: a multi log's streams (its own records and each lane, rec_lane.c)
 * merged by time into the one word stream the transcoder reads. The log's own words are
 * copied out as soon as they are seen (the program reuses its buffers); lanes are read
 * in place, the sink telling the program how far it has merged each (sink.c). An item goes out only when it is older than the
 * clock reading the caller took before it looked at the streams: an item published
 * after that look can only be older than items that do not depend on it (rec_lane.c),
 * so it goes out first at the next merge, where it belongs causally.
 * Each stream has its own registers (thread, context), set by its THREAD and CTX words;
 * the output gets a THREAD or CTX word whenever the next item's differ from the ones
 * it was last given. */
#include <stdlib.h>
#include <string.h>

#include "sink_internal.h"

struct stream {
    uint64_t *w;
    size_t n, cap, pos;   /* the log's: words [pos, n) wait */
    const uint64_t *ring; /* a lane's: words [rpos, rend) of its ring wait */
    uint64_t rpos, rend;
    uint64_t time;        /* the time of the item at pos */
    uint64_t ht;          /* the time of its next item, while has (refresh) */
    int has;              /* it has an item waiting */
    uint64_t ctx;         /* registers; UINT*_MAX: not said yet */
    uint32_t thread;
};

struct sink_merge {
    struct stream s[1 + REC_NLANES];
    unsigned ns;          /* streams in use */
    uint64_t ctx;         /* the output's registers */
    uint32_t thread;
    int done;             /* the TRAILER went out: nothing after it */
    uint64_t *out;
    size_t nout;
};

#define OUT_WORDS 8192

#define MASK (REC_LANE_WORDS - 1)

/* Cache the time of stream s's next item: the merge compares streams by it at every
 * turn, and reading a lane's head word each time would pull the cache line its owner
 * is writing. Called whenever the stream's position or end moves. */
static void refresh(struct stream *s)
{
    uint64_t x;
    if (s->ring) {
        s->has = s->rpos != s->rend;
        if (!s->has)
            return;
        x = s->ring[s->rpos & MASK];
    } else {
        s->has = s->pos < s->n;
        if (!s->has)
            return;
        x = s->w[s->pos];
    }
    s->ht = rec_ir_tag(x) == REC_IR_TIME ? rec_ir_time_of(x) : s->time;
}

sink_merge *sink_merge_new(uint32_t thread, uint64_t ctx)
{
    sink_merge *m = calloc(1, sizeof *m);
    if (!m || !(m->out = malloc(OUT_WORDS * sizeof *m->out))) {
        free(m);
        return NULL;
    }
    m->thread = m->s[0].thread = thread;
    m->ctx = m->s[0].ctx = ctx;
    m->ns = 1;
    for (unsigned i = 1; i <= REC_NLANES; i++) {
        m->s[i].thread = UINT32_MAX;
        m->s[i].ctx = UINT64_MAX;
    }
    return m;
}

void sink_merge_free(sink_merge *m)
{
    if (!m)
        return;
    for (unsigned i = 0; i < m->ns; i++)
        free(m->s[i].w);
    free(m->out);
    free(m);
}

void sink_merge_lane(sink_merge *m, unsigned i, const uint64_t *ring, uint64_t from, uint64_t head)
{
    struct stream *s = &m->s[1 + i];
    if (!s->ring) {
        s->ring = ring;
        s->rpos = from;
    }
    s->rend = head;
    if (1 + i >= m->ns)
        m->ns = 2 + i;
    refresh(s);
}

uint64_t sink_merge_lane_pos(const sink_merge *m, unsigned i) { return m->s[1 + i].rpos; }

int sink_merge_add(sink_merge *m, const uint64_t *w, size_t n)
{
    struct stream *s = &m->s[0];
    if (s->pos && s->pos >= s->n / 2) { /* what was merged goes */
        memmove(s->w, s->w + s->pos, (s->n - s->pos) * sizeof *s->w);
        s->n -= s->pos;
        s->pos = 0;
    }
    int err = sink_append(&s->w, &s->n, &s->cap, w, n);
    refresh(s);
    return err;
}

static int flush_out(sink_merge *m, sink_tc *tc, ft_writer *out)
{
    int err = m->nout ? sink_tc_words(tc, out, m->out, m->out + m->nout) : 0;
    m->nout = 0;
    return err;
}

static int put(sink_merge *m, sink_tc *tc, ft_writer *out, const uint64_t *w, size_t n)
{
    int err = 0;
    if (m->nout + n > OUT_WORDS)
        err = flush_out(m, tc, out);
    memcpy(m->out + m->nout, w, n * sizeof *w);
    m->nout += n;
    return err;
}

/* Whether an item needs the context: an ALLOC word, or an ALLOC or MMAP record. */
static int wants_ctx(uint64_t x)
{
    unsigned k = (unsigned)(x >> 16) & FT_KIND_MASK;
    return (x & REC_IR_ALLOC_BIT) ||
           (rec_ir_tag(x) == REC_IR_REC && (k == FT_ALLOC || k == FT_MMAP));
}

/* Move a lane's words out up to (and with) time limit: single words, the hot loop. */
static int run_lane(sink_merge *m, struct stream *s, uint64_t limit, sink_tc *tc, ft_writer *out)
{
    int err = 0;
    uint64_t p = s->rpos, *o = m->out + m->nout;
    const uint64_t *room_end = m->out + OUT_WORDS - 3;
    for (; p != s->rend; p++) {
        uint64_t x = s->ring[p & MASK];
        if (o >= room_end) {
            m->nout = (size_t)(o - m->out);
            if ((err = flush_out(m, tc, out)))
                break;
            o = m->out;
        }
        unsigned low = (unsigned)x & 0xffff;
        if ((x & REC_IR_ALLOC_BIT) || low == 0xffff) {
            if (s->thread != m->thread) {
                if (s->thread == UINT32_MAX) {
                    err = FT_E_RECORD; /* a lane's first event says its thread */
                    break;
                }
                *o++ = rec_ir_thread(m->thread = s->thread);
            }
            if ((x & REC_IR_ALLOC_BIT) && s->ctx != m->ctx) {
                if (s->ctx == UINT64_MAX) {
                    err = FT_E_RECORD;
                    break;
                }
                *o++ = rec_ir_ctx_word(m->ctx = s->ctx);
            }
            *o++ = x;
        } else if (low == 4) {
            if (rec_ir_before(limit, rec_ir_time_of(x)))
                break;
            s->time = rec_ir_time_of(x);
        } else if (low == 2) {
            s->thread = (uint32_t)(x >> 16);
        } else if (low == 1) {
            s->ctx = x >> 16;
        } else {
            err = FT_E_RECORD; /* a lane holds no records */
            break;
        }
    }
    s->rpos = p;
    m->nout = (size_t)(o - m->out);
    return err;
}

/* Move stream s's items out up to (and with) time limit. */
static int run(sink_merge *m, struct stream *s, uint64_t limit, sink_tc *tc, ft_writer *out)
{
    int err = 0;
    while (s->pos < s->n && !err && !m->done) {
        uint64_t x = s->w[s->pos];
        size_t k = rec_ir_item_words(x);
        if (s->pos + k > s->n)
            return FT_E_RECORD; /* the program publishes whole items */
        switch (rec_ir_tag(x)) {
        case REC_IR_TIME:
            if (rec_ir_before(limit, rec_ir_time_of(x)))
                return 0;
            s->time = rec_ir_time_of(x);
            break;
        case REC_IR_THREAD:
            s->thread = (uint32_t)(x >> 16);
            break;
        case REC_IR_CTX:
            s->ctx = x >> 16;
            break;
        case REC_IR_BAD:
            return FT_E_RECORD;
        default:
            if (s->thread == UINT32_MAX || (wants_ctx(x) && s->ctx == UINT64_MAX))
                return FT_E_RECORD; /* a lane's first item says both */
            if (s->thread != m->thread) {
                uint64_t t = rec_ir_thread(m->thread = s->thread);
                err = put(m, tc, out, &t, 1);
            }
            if (!err && wants_ctx(x) && s->ctx != m->ctx) {
                uint64_t c = rec_ir_ctx_word(m->ctx = s->ctx);
                err = put(m, tc, out, &c, 1);
            }
            if (!err)
                err = put(m, tc, out, s->w + s->pos, k);
            if (rec_ir_tag(x) == REC_IR_REC && ((x >> 16) & FT_KIND_MASK) == FT_TRAILER)
                m->done = 1;
        }
        s->pos += k;
    }
    return err;
}

/* Stream s's items out up to (and with) time limit; its head goes out whatever (it is
 * the oldest). */
static int step(sink_merge *m, struct stream *s, uint64_t limit, sink_tc *tc, ft_writer *out)
{
    int err;
    if (s->ring) {
        uint64_t x = s->ring[s->rpos & MASK];
        if (rec_ir_tag(x) == REC_IR_TIME) {
            s->time = rec_ir_time_of(x);
            s->rpos++;
        }
        err = run_lane(m, s, limit, tc, out);
    } else {
        if (rec_ir_tag(s->w[s->pos]) == REC_IR_TIME)
            s->time = rec_ir_time_of(s->w[s->pos++]);
        err = run(m, s, limit, tc, out);
    }
    refresh(s);
    return err;
}

/* The two oldest streams take turns, each running up to the other's time, for as long
 * as both stay older than every other stream: threads on different cores interleave
 * event by event, and a scan of every stream at each turn would cost more than the
 * events it moves. */
int sink_merge_run(sink_merge *m, uint64_t upto, int all, sink_tc *tc, ft_writer *out)
{
    int err = 0;
    while (!err && !m->done) {
        struct stream *a = NULL, *b = NULL, *c = NULL; /* the three oldest, in order */
        for (unsigned i = 0; i < m->ns; i++) {
            struct stream *s = &m->s[i];
            if (!s->has)
                continue;
            if (!a || rec_ir_before(s->ht, a->ht)) {
                c = b, b = a, a = s;
            } else if (!b || rec_ir_before(s->ht, b->ht)) {
                c = b, b = s;
            } else if (!c || rec_ir_before(s->ht, c->ht)) {
                c = s;
            }
        }
        if (!a || (!all && rec_ir_before(upto, a->ht)))
            break;
        for (;;) {
            /* Up to the next stream's time, and not past upto; alone, all it has. */
            uint64_t limit = b ? b->ht : a->ht + (1ull << (REC_IR_TIME_BITS - 2));
            if (!all && (!b || rec_ir_before(upto, limit)))
                limit = upto;
            if ((err = step(m, a, limit, tc, out)) || m->done || !a->has || !b ||
                (!all && rec_ir_before(upto, b->ht)) || (c && rec_ir_before(c->ht, a->ht)))
                break; /* the order of the others is no longer known: look again */
            struct stream *t = a; /* a stopped past b's time: b is the oldest now */
            a = b;
            b = t;
        }
    }
    if (!err)
        err = flush_out(m, tc, out);
    return err;
}

int sink_merge_done(const sink_merge *m) { return m->done; }
