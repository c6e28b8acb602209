/* rec_transcode.c: the sink's half of the log (rec_ir.h). It replays the log's
 * registers (thread, context) and encodes each word as the trace record it stands for
 * through format/ft_enc.h, which owns the trace's registers, planes and recycle slots.
 * Frames fill across sealed buffers (small buffers stay in cache; big frames compress
 * better); a frame is written when it is full, and rec_sink.c writes the rest on a
 * timer. The counts for the TRAILER are kept here, where the records
 * are written: they match the body by construction. Runs in `filrec run` (rec_sink.c). */
#include <string.h>
#include <sys/mman.h>

#include "rec_internal.h"

static _Alignas(64) struct {
    ft_frame fr;
    uint8_t *buf;                  /* FT_FRAME_MAX bytes */
    uint32_t thread;               /* the log's registers, as the hooks left them */
    uint64_t ctx;
    uint64_t counts[FT_KIND_COUNT];
    int ended;                     /* the trailer is written: nothing may follow */
} tc;

int rec_transcode_init(void)
{
    uint8_t *buf = tc.buf;
    memset(&tc, 0, sizeof tc);
    tc.buf = buf ? buf : mmap(NULL, FT_FRAME_MAX, PROT_READ | PROT_WRITE,
                              MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (tc.buf == MAP_FAILED) {
        tc.buf = NULL;
        return FT_E_NOMEM;
    }
    ft_frame_init(&tc.fr, tc.buf);
    tc.ctx = rec_ir_ctx(FT_A_MALLOC, 0); /* as the hooks start: rec_core.c */
    return 0;
}

static int flush(ft_writer *out)
{
    int err = ft_writer_frame(out, &tc.fr);
    ft_frame_init(&tc.fr, tc.buf);
    return err;
}

/* Room for a THREAD and a record of need bytes, in the frame or in a new one. */
static int room(ft_writer *out, size_t need)
{
    int err = 0;
    if (ft_frame_room(&tc.fr) < need + 2 * FT_REC_MAX)
        err = flush(out);
    if (!err && tc.fr.regs.thread != tc.thread) {
        ft_enc_thread(&tc.fr, tc.thread);
        tc.counts[FT_THREAD]++;
    }
    return err;
}

static uint32_t ctx_stack(void) { return (uint32_t)tc.ctx; }
static unsigned ctx_allocator(void) { return (unsigned)(tc.ctx >> 32); }

static int trailer(ft_writer *out, uint64_t flags, uint64_t time)
{
    int err = flush(out); /* the trailer goes alone into the last frame */
    if (err)
        return err;
    ft_enc_ints(&tc.fr, FT_TRAILER, 3, flags, time, FT_KIND_COUNT - 1, 0);
    for (unsigned k = 1; k < FT_KIND_COUNT; k++)
        ft_enc_more(&tc.fr, tc.counts[k]);
    tc.ended = 1;
    return flush(out);
}

/* One REC: its header word h, then words [w, end). Returns the words it took, or 0
 * when the log is malformed (a recorder bug: recording stops). */
static size_t put_rec(ft_writer *out, uint64_t h, const uint64_t *w, const uint64_t *end, int *err)
{
    unsigned kind = (h >> 16) & 0xff, k = kind & FT_KIND_MASK, n = (h >> 24) & 7;
    size_t len = (h >> 32) & 0x1ffff, words = rec_ir_words(n, len) - 1;
    if (n > REC_IR_VALUES_MAX || len > REC_IR_STRING_MAX || (size_t)(end - w) < words ||
        k == 0 || k >= FT_KIND_COUNT || k == FT_RALLOC || k == FT_THREAD)
        return 0;
    uint64_t v[REC_IR_VALUES_MAX] = {0};
    memcpy(v, w, n * sizeof *v);
    if (k == FT_TRAILER) {
        *err = n == 2 ? trailer(out, v[0], v[1]) : FT_E_RECORD;
        return 1 + words;
    }
    if ((*err = room(out, len + 10)))
        return 1 + words;
    switch (k) {
    case FT_ALLOC:
        ft_enc_alloc(&tc.fr, v[0], v[1], ctx_allocator(), ctx_stack());
        break;
    case FT_FREE:
        ft_enc_free(&tc.fr, v[0]);
        break;
    case FT_MMAP:
        ft_enc_mmap(&tc.fr, v[0], v[1], ctx_stack());
        break;
    case FT_MUNMAP:
        ft_enc_munmap(&tc.fr, v[0], v[1]);
        break;
    case FT_MREMAP:
        ft_enc_mremap(&tc.fr, v[0], v[1], v[2], v[3]);
        break;
    default: /* the fields in order, then the string of the kinds that end in one */
        ft_enc_ints(&tc.fr, kind, n, v[0], v[1], v[2], v[3]);
        if (k == FT_STRING || k == FT_MARKER || k == FT_THREAD_NAME)
            tc.fr.ops = ft_put_string(tc.fr.ops, w + n, len);
    }
    tc.counts[k]++;
    return 1 + words;
}

/* ALLOC and FREE words from w on, while the frame has room and the thread is the
 * frame's: the frame is a local here, so the compiler keeps its pointers in registers
 * (byte stores may alias anything reachable, tc.fr included). Returns where it stopped. */
static const uint64_t *run(const uint64_t *w, const uint64_t *end)
{
    ft_frame f = tc.fr;
    unsigned allocator = ctx_allocator();
    uint32_t stack = ctx_stack();
    uint64_t nalloc = 0, nfree = 0;
    if (f.regs.thread != tc.thread)
        return w;
    while (w < end && ft_frame_room(&f) >= 2 * FT_REC_MAX) {
        uint64_t x = *w;
        if (x & REC_IR_ALLOC_BIT) {
            if (rec_ir_addr(x)) { /* 0: a failed malloc, let through by the hook */
                ft_enc_alloc(&f, rec_ir_addr(x), rec_ir_size(x), allocator, stack);
                nalloc++;
            }
        } else if ((x & 0xffff) == 0xffff) {
            ft_enc_free(&f, rec_ir_addr(x));
            nfree++;
        } else {
            break;
        }
        w++;
    }
    tc.fr = f;
    tc.counts[FT_ALLOC] += nalloc;
    tc.counts[FT_FREE] += nfree;
    return w;
}

int rec_transcode(ft_writer *out, const uint64_t *w, const uint64_t *end)
{
    int err = 0;
    if (tc.ended)
        return FT_E_RECORD; /* words after the trailer */
    while (w < end && !err) {
        const uint64_t *stop = run(w, end);
        if (stop != w) {
            w = stop;
            continue;
        }
        uint64_t x = *w++;
        switch (rec_ir_tag(x)) {
        case REC_IR_ALLOC:
        case REC_IR_FREE:
            w--; /* no room, or a new thread: make room, then run() again */
            err = room(out, 0);
            break;
        case REC_IR_CTX:
            tc.ctx = x >> 16;
            break;
        case REC_IR_THREAD:
            tc.thread = (uint32_t)(x >> 16);
            break;
        case REC_IR_REC: {
            size_t took = put_rec(out, x, w, end, &err);
            if (!took)
                return FT_E_RECORD;
            w += took - 1;
            break;
        }
        default:
            return FT_E_RECORD;
        }
    }
    return err;
}

int rec_transcode_sample(ft_writer *out, uint64_t time_us, uint64_t rss)
{
    if (tc.ended)
        return 0;
    int err = room(out, 0);
    if (!err) {
        ft_enc_ints(&tc.fr, FT_SAMPLE, 2, time_us, rss, 0, 0);
        tc.counts[FT_SAMPLE]++;
    }
    return err;
}

int rec_transcode_flush(ft_writer *out)
{
    return ft_frame_empty(&tc.fr) ? 0 : flush(out);
}
