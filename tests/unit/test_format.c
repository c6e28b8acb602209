/* test_format.c: the trace format library (format/) against FORMAT.md. Each case
 * builds a trace in a temp file with ft_enc.h + ft_writer (or raw bytes, for what the
 * writer refuses to make), reads it back with ft_reader and checks every field.
 * Harness: check.h (one line per failed case, then "N passed, N failed"). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>

#include "../../format/ft_enc.h"
#include "check.h"

#ifndef GOLDEN_DIR
#define GOLDEN_DIR "tests/golden" /* make unit runs from the repository root */
#endif

/* ---- records, as written (expected) and as read back ---- */

typedef struct rec {
    unsigned kind, flags;
    uint32_t thread, stack, allocator;
    uint64_t addr, size, addr2, size2, a, b, c;
    char str[96];
    size_t len;
    uint64_t counts[32];
    unsigned ncounts;
} rec;

static void rec_from(rec *d, const ft_record *s)
{
    memset(d, 0, sizeof *d);
    d->kind = s->kind, d->flags = s->flags, d->thread = s->thread, d->stack = s->stack;
    d->allocator = s->allocator, d->addr = s->addr, d->size = s->size, d->addr2 = s->addr2;
    d->size2 = s->size2, d->a = s->a, d->b = s->b, d->c = s->c, d->len = s->len;
    if (s->kind == FT_STRING || s->kind == FT_THREAD_NAME || s->kind == FT_MARKER ||
        s->kind == FT_EXEC || s->kind == FT_MODULE)
        memcpy(d->str, s->str, s->len < sizeof d->str ? s->len : sizeof d->str);
    if (s->kind == FT_TRAILER) {
        d->ncounts = s->ncounts;
        for (unsigned k = 1; k <= s->ncounts && k < 32; k++)
            d->counts[k] = s->counts[k];
    }
}

#define DIFF(field) do { if (w->field != g->field) { snprintf(why, cap, #field " %llu, want %llu", \
    (unsigned long long)g->field, (unsigned long long)w->field); return 1; } } while (0)

/* 0 if got matches want in every field that the kind defines; else 1 and why. */
static int rec_diff(const rec *w, const rec *g, char *why, size_t cap)
{
    DIFF(kind); DIFF(flags); DIFF(thread);
    switch (w->kind) {
    case FT_ALLOC: DIFF(addr); DIFF(size); DIFF(allocator); DIFF(stack); break;
    case FT_FREE: DIFF(addr); break;
    case FT_MMAP: DIFF(addr); DIFF(size); DIFF(stack); break;
    case FT_MUNMAP: case FT_RESIDENT: DIFF(addr); DIFF(size); break;
    case FT_MREMAP: DIFF(addr); DIFF(size); DIFF(addr2); DIFF(size2); break;
    case FT_THREAD: case FT_FORK: DIFF(a); break;
    case FT_FAILED: DIFF(size); DIFF(allocator); DIFF(stack); break;
    case FT_THREAD_START: DIFF(a); DIFF(b); DIFF(c); DIFF(stack); break;
    case FT_STRING: case FT_THREAD_NAME: case FT_MARKER: case FT_EXEC:
        if (w->kind != FT_EXEC)
            DIFF(a);
        DIFF(len);
        if (memcmp(w->str, g->str, w->len < sizeof w->str ? w->len : sizeof w->str)) {
            snprintf(why, cap, "string bytes differ");
            return 1;
        }
        break;
    case FT_FUNCTION: DIFF(a); DIFF(b); DIFF(c); break;
    case FT_STACK_NODE: DIFF(stack); DIFF(a); DIFF(b); break;
    case FT_SAMPLE: DIFF(a); DIFF(b); break;
    case FT_TRAILER:
        DIFF(a); DIFF(b); DIFF(c); DIFF(ncounts);
        for (unsigned k = 1; k <= w->ncounts; k++)
            DIFF(counts[k]);
        break;
    }
    return 0;
}

/* ---- traces in temp files ---- */

typedef struct trace {
    char path[40];
    int fd;
    ft_writer *w;
} trace;

static ft_header default_header(void)
{
    ft_header h = {0, 1234, 1, 1700000000123456789ull, 4096, 10000, "prog\0arg", 8, "k=v", 3, 0, 0, 0};
    return h;
}

static void tr_raw(trace *t, const void *p, size_t n)
{
    CHECK(ft_write_all(t->fd, p, n) == 0, "cannot write %s", t->path);
}

/* Create a temp file holding the encoded header h (no header when h is NULL). */
static void tr_begin(trace *t, const ft_header *h, int level)
{
    snprintf(t->path, sizeof t->path, "/tmp/filrec-test-XXXXXX");
    t->fd = mkstemp(t->path);
    if (t->fd < 0 || ft_writer_new(&t->w, t->fd, level)) {
        perror("filrec test: temp trace");
        exit(2);
    }
    if (h) {
        uint8_t buf[4096];
        size_t n = ft_header_encode(buf, sizeof buf, h);
        CHECK(n > 0, "ft_header_encode failed");
        tr_raw(t, buf, n);
    }
}

static void tr_frame(trace *t, const ft_frame *f)
{
    int err = ft_writer_frame(t->w, f);
    CHECK(err == 0, "ft_writer_frame: %s", ft_strerror(err));
}

/* One checksummed zstd frame of any content, made without ft_writer (which cannot make
 * a bad one). */
static void tr_zframe(trace *t, const void *p, size_t n)
{
    ZSTD_CCtx *c = ZSTD_createCCtx();
    size_t cap = ZSTD_compressBound(n);
    void *out = malloc(cap);
    ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, 1);
    size_t z = ZSTD_compress2(c, out, cap, p, n);
    CHECK(!ZSTD_isError(z), "zstd: %s", ZSTD_getErrorName(z));
    if (!ZSTD_isError(z))
        tr_raw(t, out, z);
    free(out);
    ZSTD_freeCCtx(c);
}

static uint64_t tr_offset(trace *t) { return (uint64_t)lseek(t->fd, 0, SEEK_CUR); }

static void tr_end(trace *t)
{
    ft_writer_free(t->w);
    close(t->fd);
}

/* Everything a reader gives back: the first records, their number, how it ended. */
typedef struct readout {
    rec r[512];
    size_t n;
    int open_rc, rc, early;
    char msg[256];
    ft_header h;
    char cmdline[64], options[64];
} readout;

/* 0 if the batch decoder's event matches the record read one at a time; else 1, why. */
static int heap_diff(const rec *w, const ft_heap *h, char *why, size_t cap)
{
    rec g = {.kind = h->kind, .flags = w->flags, .thread = h->thread, .addr = h->addr,
             .size = h->size, .stack = h->stack, .allocator = h->allocator};
    if (h->kind == FT_FREE && (h->size || h->stack || h->allocator)) {
        snprintf(why, cap, "a FREE with size, stack or allocator set");
        return 1;
    }
    return rec_diff(w, &g, why, cap);
}

/* Read path again, ft_reader_heap taking each run of ALLOCs and FREEs (in batches of 1
 * to 256 events) and ft_reader_next the rest: the same records must come back, and the
 * read must end the same way, with the same message. */
static void heap_reads_match(const char *path, const readout *o)
{
    static const size_t batch[] = {1, 2, 256, 3, 7, 5};
    ft_heap ev[256];
    ft_record fr;
    ft_reader *r;
    char why[160] = "";
    size_t n = 0, turn = 0;
    int rc = ft_reader_open(&r, path), early = 0;
    while (rc == 0) {
        size_t k = ft_reader_heap(r, ev, batch[turn++ % 6]);
        for (size_t i = 0; i < k; i++, n++)
            if (!why[0] && n < o->n && n < sizeof o->r / sizeof *o->r &&
                heap_diff(&o->r[n], &ev[i], why, sizeof why))
                snprintf(why + strlen(why), sizeof why - strlen(why), " (record %zu)", n);
        if (k)
            continue;
        if ((rc = ft_reader_next(r, &fr)) != 1) {
            early = rc == 0 && ft_reader_ended_early(r);
            break;
        }
        rc = 0;
        rec g;
        rec_from(&g, &fr);
        if (!why[0] && n < o->n && n < sizeof o->r / sizeof *o->r &&
            rec_diff(&o->r[n], &g, why, sizeof why))
            snprintf(why + strlen(why), sizeof why - strlen(why), " (record %zu)", n);
        n++;
    }
    CHECK(!why[0], "read in heap batches: %s", why);
    CHECK(n == o->n && rc == o->rc && early == o->early, "read in heap batches: %zu records, "
          "rc %d, early %d; one at a time: %zu, %d, %d", n, rc, early, o->n, o->rc, o->early);
    CHECK(!strcmp(ft_reader_message(r), o->msg), "read in heap batches: '%s', one at a time: '%s'",
          ft_reader_message(r), o->msg);
    ft_reader_close(r);
}

static readout *read_path(const char *path)
{
    static readout o;
    memset(&o, 0, sizeof o);
    ft_reader *r;
    ft_record fr;
    o.open_rc = o.rc = ft_reader_open(&r, path);
    if (o.rc == 0) {
        o.h = *ft_reader_header(r);
        memcpy(o.cmdline, o.h.cmdline, o.h.cmdline_len < 64 ? o.h.cmdline_len : 64);
        memcpy(o.options, o.h.options, o.h.options_len < 64 ? o.h.options_len : 64);
        while ((o.rc = ft_reader_next(r, &fr)) == 1) {
            if (o.n < sizeof o.r / sizeof *o.r)
                rec_from(&o.r[o.n], &fr);
            o.n++;
        }
        if (o.rc == 0)
            o.early = ft_reader_ended_early(r);
    }
    snprintf(o.msg, sizeof o.msg, "%s", ft_reader_message(r));
    ft_reader_close(r);
    if (o.open_rc == 0)
        heap_reads_match(path, &o);
    return &o;
}

static readout *read_tr(trace *t)
{
    tr_end(t);
    readout *o = read_path(t->path);
    unlink(t->path);
    return o;
}

/* ---- frames from raw stream bytes ---- */

static _Alignas(8) uint8_t fbuf[FT_FRAME_MAX]; /* the frame under construction */

/* A frame whose ops stream is the n given bytes, its planes empty (plane_* add values). */
static ft_frame *raw_frame(const uint8_t *ops, size_t n)
{
    static ft_frame f;
    ft_frame_init(&f, fbuf);
    if (n)
        memcpy(f.ops, ops, n);
    f.ops += n;
    return &f;
}

static void plane_addr(ft_frame *f, uint32_t z) { ft_put_addr_planes(f, z); }
static void plane_size(ft_frame *f, uint16_t s) { ft_put_size_planes(f, s); }

/* A trace of the default header and up to two frames with raw ops, read back. */
static readout *read_frames(const uint8_t *f1, size_t n1, const uint8_t *f2, size_t n2)
{
    trace t;
    ft_header h = default_header();
    tr_begin(&t, &h, 3);
    tr_frame(&t, raw_frame(f1, n1));
    if (f2)
        tr_frame(&t, raw_frame(f2, n2));
    return read_tr(&t);
}

/* Frame content made by hand (FORMAT.md, "Frame content"): the stream lengths, then
 * the streams; here ops and planes given as one block of stream bytes. */
static size_t content(uint8_t *out, const uint64_t len[FT_STREAMS], const uint8_t *streams,
                      size_t n)
{
    uint8_t *p = out;
    for (int i = 0; i < FT_STREAMS; i++)
        p = ft_put_varint(p, len[i]);
    if (n)
        memcpy(p, streams, n);
    return (size_t)(p - out) + n;
}

#define W FT_F2 /* wide ALLOC and FREE: the address (and size) in ops, not in the planes */

static void put_trailer(ft_frame *f, uint64_t flags, uint64_t time_us, const uint64_t *counts,
                        unsigned n)
{
    ft_enc_ints(f, FT_TRAILER, 4, flags, time_us, 0, n); /* end status 0: unknown */
    for (unsigned k = 1; k <= n; k++)
        ft_enc_more(f, counts[k]);
}

static size_t ops_len(const ft_frame *f) { return (size_t)(f->ops - f->base); }

/* Bytes of a valid prelude frame: STRING "x" (id 1), FUNCTION 1 1 5, STACK_NODE 0 1 7. */
static const uint8_t prelude[] = {FT_STRING, 1, 'x', FT_FUNCTION, 1, 1, 5, FT_STACK_NODE, 0, 1, 7};

/* ---- a builder: encodes records with ft_enc.h and notes what a reader must return ---- */

typedef struct builder {
    ft_frame f;
    rec exp[512];
    size_t nexp;
    uint64_t counts[FT_KIND_COUNT];
    trace *t;
} builder;

static void b_init(builder *b, trace *t)
{
    memset(b, 0, sizeof *b);
    ft_frame_init(&b->f, fbuf);
    b->t = t;
}

/* Note the record just encoded at ops position at; return its expectation to fill in. */
static rec *b_push(builder *b, const uint8_t *at)
{
    rec *e = &b->exp[b->nexp++];
    memset(e, 0, sizeof *e);
    e->kind = *at & FT_KIND_MASK;
    e->flags = *at & ~FT_KIND_MASK;
    if (e->kind == FT_RALLOC) /* a recycled-address ALLOC reads back, and counts, as ALLOC */
        e->kind = FT_ALLOC;
    e->thread = b->f.regs.thread;
    b->counts[e->kind]++;
    return e;
}

static void b_flush(builder *b)
{
    tr_frame(b->t, &b->f);
    ft_frame_init(&b->f, fbuf);
}

static unsigned b_alloc(builder *b, uint64_t addr, uint64_t size, uint32_t allocator,
                        uint32_t stack)
{
    const uint8_t *at = b->f.ops;
    ft_enc_alloc(&b->f, addr, size, allocator, stack);
    rec *e = b_push(b, at);
    e->addr = addr, e->size = size, e->allocator = allocator, e->stack = stack;
    return e->flags;
}

static unsigned b_free(builder *b, uint64_t addr)
{
    const uint8_t *at = b->f.ops;
    ft_enc_free(&b->f, addr);
    rec *e = b_push(b, at);
    e->addr = addr;
    return e->flags;
}

static unsigned b_mmap(builder *b, uint64_t addr, uint64_t len, uint32_t stack)
{
    const uint8_t *at = b->f.ops;
    ft_enc_mmap(&b->f, addr, len, stack);
    rec *e = b_push(b, at);
    e->addr = addr, e->size = len, e->stack = stack;
    return e->flags;
}

static void b_munmap(builder *b, uint64_t addr, uint64_t len)
{
    const uint8_t *at = b->f.ops;
    ft_enc_munmap(&b->f, addr, len);
    rec *e = b_push(b, at);
    e->addr = addr, e->size = len;
}

static void b_mremap(builder *b, uint64_t old, uint64_t oldlen, uint64_t new_addr, uint64_t newlen)
{
    const uint8_t *at = b->f.ops;
    ft_enc_mremap(&b->f, old, oldlen, new_addr, newlen);
    rec *e = b_push(b, at);
    e->addr = old, e->size = oldlen, e->addr2 = new_addr, e->size2 = newlen;
}

static void b_thread(builder *b, uint32_t thread)
{
    const uint8_t *at = b->f.ops;
    ft_enc_thread(&b->f, thread);
    b_push(b, at)->a = thread;
}

static rec *b_ints(builder *b, unsigned kind, unsigned n, uint64_t x, uint64_t y, uint64_t z,
                   uint64_t w)
{
    const uint8_t *at = b->f.ops;
    ft_enc_ints(&b->f, kind, n, x, y, z, w);
    return b_push(b, at);
}

/* STRING (id given), MARKER (kind | type << 5), THREAD_NAME (thread given). */
static void b_str(builder *b, unsigned kind_flags, uint64_t id, const char *s, size_t n)
{
    const uint8_t *at = b->f.ops;
    if ((kind_flags & FT_KIND_MASK) == FT_THREAD_NAME) {
        ft_enc_ints(&b->f, FT_THREAD_NAME, 1, id, 0, 0, 0);
        b->f.ops = ft_put_string(b->f.ops, s, n);
    } else {
        ft_enc_string(&b->f, kind_flags, s, n);
    }
    rec *e = b_push(b, at);
    e->a = (kind_flags & FT_KIND_MASK) == FT_MARKER ? kind_flags >> 5 : id;
    memcpy(e->str, s, n);
    e->len = n;
}

/* TRAILER alone in the last frame, with the counts of everything written so far. */
static void b_trailer(builder *b, uint64_t flags, uint64_t time_us)
{
    b_flush(b);
    const uint8_t *at = b->f.ops;
    put_trailer(&b->f, flags, time_us, b->counts, FT_TRAILER - 1);
    rec *e = b_push(b, at);
    e->a = flags, e->b = time_us, e->ncounts = FT_TRAILER - 1;
    memcpy(e->counts, b->counts, sizeof b->counts);
    b_flush(b);
}

/* Read the builder's trace back and compare with every noted record. */
static void b_verify(builder *b, int want_early)
{
    readout *o = read_tr(b->t);
    CHECK(o->rc == 0, "reader failed: %s", o->msg);
    CHECK(o->early == want_early, "ended_early %d, want %d", o->early, want_early);
    CHECK(o->n == b->nexp, "read %zu records, wrote %zu", o->n, b->nexp);
    char why[128];
    for (size_t i = 0; i < b->nexp && i < o->n; i++)
        CHECK(!rec_diff(&b->exp[i], &o->r[i], why, sizeof why), "record %zu (kind %u): %s", i,
              b->exp[i].kind, why);
}

static void b_begin(builder *b, trace *t)
{
    ft_header h = default_header();
    tr_begin(t, &h, 3);
    b_init(b, t);
}

/* ---- the cases ---- */

static void crc32_check_value(void)
{
    CHECK(ft_crc32(0, "123456789", 9) == 0xCBF43926u, "crc32(123456789) = %#x",
          ft_crc32(0, "123456789", 9));
    CHECK(ft_crc32(ft_crc32(0, "1234", 4), "56789", 5) == 0xCBF43926u, "chained crc differs");
    CHECK(ft_crc32(0, "", 0) == 0, "crc32 of nothing is not 0");
}

static void varint_roundtrip_edges(void)
{
    static const struct { uint64_t v; size_t len; uint8_t bytes[10]; } cases[] = {
        {0, 1, {0x00}},
        {127, 1, {0x7f}},
        {128, 2, {0x80, 0x01}},
        {300, 2, {0xac, 0x02}},
        {16383, 2, {0xff, 0x7f}},
        {16384, 3, {0x80, 0x80, 0x01}},
        {1ull << 63, 10, {0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01}},
        {UINT64_MAX, 10, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}},
    };
    trace t;
    static builder b;
    b_begin(&b, &t);
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        uint64_t v = cases[i].v;
        uint8_t buf[16];
        size_t n = (size_t)(ft_put_varint(buf, v) - buf);
        CHECK(n == cases[i].len && !memcmp(buf, cases[i].bytes, n), "varint %llu: %zu bytes",
              (unsigned long long)v, n);
        rec *e = b_ints(&b, FT_SAMPLE, 2, v, v, 0, 0);
        e->a = e->b = v;
        b_alloc(&b, v, v, FT_A_MALLOC, 0);        /* address and size, wide unless small */
        b_mmap(&b, v, UINT64_MAX - v, 0);
        b_ints(&b, FT_FORK, 1, UINT64_MAX - v, 0, 0, 0)->a = UINT64_MAX - v;
    }
    b_trailer(&b, FT_T_EXIT, UINT64_MAX);
    b_verify(&b, 0);
}

static void svarint_negative_deltas(void)
{
    static const struct { uint64_t delta; size_t len; uint8_t bytes[10]; } cases[] = {
        {0, 1, {0x00}}, {(uint64_t)-1, 1, {0x01}}, {1, 1, {0x02}}, {(uint64_t)-2, 1, {0x03}},
        {(uint64_t)-64, 1, {0x7f}}, {64, 2, {0x80, 0x01}},
        {(uint64_t)INT64_MAX, 10, {0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}},
        {(uint64_t)INT64_MIN, 10, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        uint8_t buf[16];
        size_t n = (size_t)(ft_put_varint(buf, ft_zigzag(cases[i].delta)) - buf);
        CHECK(n == cases[i].len && !memcmp(buf, cases[i].bytes, n), "svarint %lld: %zu bytes",
              (long long)cases[i].delta, n);
    }
    /* Addresses that go down, wrap below 0 and above 2^64-1, and jump by half the space. */
    static const uint64_t addrs[] = {
        0x7f0000001000, 0x7f0000000ff0, 0x1000, 0, UINT64_MAX, 0x10, UINT64_MAX - 0xf,
        1ull << 63, 0, (1ull << 63) - 1, 1ull << 63, 0x5555555592a0, 0x5555555592a0,
    };
    size_t n = sizeof addrs / sizeof *addrs;
    trace t;
    static builder b;
    b_begin(&b, &t);
    for (size_t i = 0; i < n; i++) {
        b_alloc(&b, addrs[i], 8, FT_A_MALLOC, 0);
        b_free(&b, addrs[(i + 3) % n]);
        b_mmap(&b, addrs[i] - 4096, 4096, 0);
        b_munmap(&b, addrs[i] + 4096, 4096);
        b_mremap(&b, addrs[i], 4096, UINT64_MAX - addrs[i], 8192); /* new delta from old */
    }
    b_trailer(&b, FT_T_EXIT, 1);
    b_verify(&b, 0);
}

/* FORMAT.md's rule: an address delta is narrow when it is a multiple of 16 and
 * zigzag(delta / 16) < 2^24. */
static int spec_narrow(uint64_t delta)
{
    int64_t units = (int64_t)delta / 16;
    uint64_t z = units >= 0 ? 2 * (uint64_t)units : 2 * (uint64_t)-(units + 1) + 1;
    return delta % 16 == 0 && z < (1u << 24);
}

static void planes_narrow_wide_edges(void)
{
    /* Narrow exactly when the spec says (for ALLOC also size < 65,536), wide otherwise;
     * both forms read back the same. */
    static const struct { uint64_t delta, size; int wide; } cases[] = {
        {0, 0, 0}, {16, 65535, 0}, {(uint64_t)-16, 1, 0},
        {((1u << 23) - 1) * 16ull, 7, 0},           /* z = 2^24 - 2 */
        {(uint64_t)-(1ll << 23) * 16, 7, 0},        /* z = 2^24 - 1 */
        {(1u << 23) * 16ull, 7, 1},                 /* z = 2^24 */
        {(uint64_t)(-(1ll << 23) - 1) * 16, 7, 1},  /* z = 2^24 + 1 */
        {8, 7, 1}, {1, 7, 1}, {80, 65536, 1}, {(uint64_t)-48, UINT64_MAX, 1},
        {(uint64_t)INT64_MIN, 7, 1},
    };
    size_t n = sizeof cases / sizeof *cases, narrow_allocs = 0, narrow_frees = 0;
    trace t;
    static builder b;
    b_begin(&b, &t);
    uint64_t addr = 0; /* register A at the frame start */
    for (size_t i = 0; i < n; i++) {
        addr += cases[i].delta;
        unsigned fl = b_alloc(&b, addr, cases[i].size, FT_A_MALLOC, 0);
        CHECK(!!(fl & W) == cases[i].wide, "alloc case %zu: flags %#x", i, fl);
        narrow_allocs += !(fl & W);
        uint64_t d = cases[(i + 5) % n].delta;
        addr += d;
        fl = b_free(&b, addr);
        CHECK((!(fl & W)) == spec_narrow(d), "free case %zu: flags %#x", i, fl);
        narrow_frees += !(fl & W);
    }
    CHECK(b.f.s0 - (fbuf + 4 * FT_STREAM_CAP) == (ptrdiff_t)narrow_allocs, "size plane holds %td",
          b.f.s0 - (fbuf + 4 * FT_STREAM_CAP));
    CHECK(b.f.a0 - (fbuf + FT_STREAM_CAP) == (ptrdiff_t)(narrow_allocs + narrow_frees),
          "address plane holds %td", b.f.a0 - (fbuf + FT_STREAM_CAP));
    b_flush(&b);
    /* A frame of narrow records only, and one whose plane bytes are all 0xff. */
    for (int i = 0; i < 100; i++)
        b_alloc(&b, 0x5555000 + (uint64_t)i * 48, (uint64_t)i * 600, FT_A_MALLOC, 0);
    for (int i = 99; i >= 0; i--)
        b_free(&b, 0x5555000 + (uint64_t)i * 48);
    b_flush(&b);
    unsigned fl = b_alloc(&b, (uint64_t)-(1ll << 23) * 16, 65535, FT_A_MALLOC, 0);
    CHECK(fl == (FT_F0 | FT_F1) && b.f.a0[2 * FT_STREAM_CAP - 1] == 0xff && b.f.s0[FT_STREAM_CAP - 1] == 0xff, "all-ones planes");
    b_trailer(&b, 0, 0);
    b_verify(&b, 0);
}

/* Random heap records, well and badly formed, in many small traces: each is read both
 * ways by read_path (heap_reads_match), which must agree on every record, on where the
 * read stops and on its message. Kinds and flags are drawn from ALLOC, RALLOC and FREE
 * with every flag, THREAD and SAMPLE; in half the traces one draw in 30 is bad: a
 * varint out of range or running into the next record, a plane value missing or left
 * over, a frame's last record cut short. */
static uint64_t rnd_state = 0x2545f4914f6cdd1dull;
static uint64_t rnd(void)
{
    rnd_state ^= rnd_state << 13, rnd_state ^= rnd_state >> 7, rnd_state ^= rnd_state << 17;
    return rnd_state;
}

/* A field's varint: good (an allocator or stack of 1 or 2, a small delta or size), or
 * one in bad of them anything. */
static uint8_t *rnd_varint(uint8_t *p, uint64_t good, unsigned bad)
{
    if (rnd() % bad)
        return ft_put_varint(p, good);
    switch (rnd() % 5) {
    case 0: return ft_put_varint(p, rnd() % 40);  /* past the defined stacks */
    case 1: return ft_put_varint(p, rnd());       /* anything */
    case 2: return ft_put_varint(p, rnd() % (FT_A_COUNT + 1));
    case 3: *p++ = 0xff; return p;                /* runs into the next record */
    default: return ft_put_varint(p, 0);
    }
}

static uint64_t unzz(uint64_t z) { return (z >> 1) ^ (0 - (z & 1)); }

static void heap_batches_random_frames(void)
{
    static const uint8_t kinds[] = {FT_ALLOC, FT_RALLOC, FT_FREE, FT_FREE, FT_THREAD, FT_SAMPLE};
    size_t records = 0, failed = 0;
    for (int trial = 0; trial < 3000; trial++) {
        trace t;
        ft_header h = default_header();
        tr_begin(&t, &h, 1);
        tr_frame(&t, raw_frame(prelude, sizeof prelude));
        unsigned bad = trial % 2 ? 30 : 1u << 30;
        for (int frames = 1 + (int)(rnd() % 2); frames > 0; frames--) {
            ft_frame *f = raw_frame(NULL, 0);
            uint64_t reg = 0, freed[FT_RECYCLE] = {0}; /* the writer's registers */
            for (size_t i = 0, nrec = 1 + rnd() % 60; i < nrec; i++) {
                unsigned k = kinds[rnd() % sizeof kinds], fl = (unsigned)(rnd() % 8) << 5;
                if ((k == FT_THREAD || k == FT_SAMPLE) && rnd() % bad)
                    k = FT_FREE; /* no thread is defined; a SAMPLE's time must not go back */
                unsigned slot = (unsigned)rnd() % FT_RECYCLE;
                if (k == FT_RALLOC && rnd() % bad) {
                    fl &= FT_F0 | FT_F1;
                    while (!freed[slot] && ++slot < FT_RECYCLE)
                        ;
                    if (slot == FT_RECYCLE)
                        k = FT_FREE; /* none freed yet */
                }
                if (k == FT_FREE && rnd() % bad)
                    fl &= FT_F2;
                *f->ops++ = (uint8_t)(k | fl);
                int planes = rnd() % bad != 0, wide = (fl & FT_F2) != 0;
                uint64_t z = rnd() % 64, v = 1 + rnd() % 2;
                if (k == FT_THREAD || k == FT_SAMPLE) {
                    f->ops = rnd_varint(f->ops, 0, bad);
                    if (k == FT_SAMPLE)
                        f->ops = rnd_varint(f->ops, 0, bad);
                    continue;
                }
                if (wide) { /* the address delta (and an ALLOC's size) in ops */
                    f->ops = rnd_varint(f->ops, v, bad);
                    reg += unzz(v);
                    if (k != FT_FREE)
                        f->ops = rnd_varint(f->ops, 1 + rnd() % 300, bad);
                } else if (k == FT_RALLOC) {
                    if (planes)
                        *f->r0++ = (uint8_t)slot, plane_size(f, (uint16_t)rnd());
                    reg = freed[slot];
                } else {
                    if (planes) {
                        plane_addr(f, (uint32_t)z);
                        if (k == FT_ALLOC)
                            plane_size(f, (uint16_t)rnd());
                    }
                    reg += unzz(z) << 4;
                }
                if (k == FT_FREE) {
                    freed[ft_recycle_slot(reg)] = reg;
                    continue;
                }
                if (!(fl & FT_F1))
                    f->ops = rnd_varint(f->ops, v, bad);
                if (!(fl & FT_F0))
                    f->ops = rnd_varint(f->ops, v - 1, bad);
                if (!(rnd() % bad))
                    plane_addr(f, 1); /* one no record uses */
            }
            if (!(rnd() % bad) && ops_len(f) > 2)
                f->ops -= 1 + rnd() % 2; /* a last record cut short */
            tr_frame(&t, f);
        }
        readout *o = read_tr(&t);
        records += o->n;
        failed += o->rc != 0;
        CHECK(o->rc == 0 || trial % 2, "trace %d, well formed, fails: %s", trial, o->msg);
    }
    /* The draws reach both ends: traces read whole and traces that fail. */
    CHECK(records > 3000 * 20 && failed > 1000 && failed <= 1500,
          "%zu records in all, %zu of 3000 traces failed", records, failed);
}

/* A trace whose header payload is given raw (with a correct crc). */
static readout *read_raw_header(const uint8_t *payload, uint32_t hlen, uint32_t version)
{
    trace t;
    uint8_t fixed[16], crc[4];
    uint32_t c = ft_crc32(0, payload, hlen);
    memcpy(fixed, FT_MAGIC, 8);
    for (int i = 0; i < 4; i++) {
        fixed[8 + i] = (uint8_t)(version >> 8 * i);
        fixed[12 + i] = (uint8_t)(hlen >> 8 * i);
        crc[i] = (uint8_t)(c >> 8 * i);
    }
    tr_begin(&t, NULL, 3);
    tr_raw(&t, fixed, 16);
    tr_raw(&t, payload, hlen);
    tr_raw(&t, crc, 4);
    return read_tr(&t);
}

static void varint_over_64_bits_rejected(void)
{
    /* SAMPLE time: 11 bytes; a 10th byte of 2 (bit 64); a 10th byte with more to follow. */
    static const uint8_t bad[][13] = {
        {FT_SAMPLE, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x81, 0x00, 0x00},
        {FT_SAMPLE, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0x00},
        {FT_SAMPLE, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01, 0x00},
    };
    static const size_t len[] = {13, 12, 13};
    for (size_t i = 0; i < 3; i++) {
        readout *o = read_frames(bad[i], len[i], NULL, 0);
        CHECK(o->rc == FT_E_RECORD && o->n == 0, "case %zu: rc %d after %zu records", i, o->rc,
              o->n);
        CHECK(!strncmp(o->msg, "offset ", 7), "message does not name the offset: %s", o->msg);
    }
    /* In a stream length of the frame content. */
    static const uint8_t c[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02,
                                0, 0, 0, 0, 0};
    trace t;
    ft_header h = default_header();
    tr_begin(&t, &h, 3);
    tr_zframe(&t, c, sizeof c);
    readout *o = read_tr(&t);
    CHECK(o->rc == FT_E_RECORD, "stream length over 64 bits: rc %d", o->rc);
    /* In a header field (pid). */
    uint8_t hp[32] = {0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 1, 0,
                      0x80, 0x20, 0, 0, 0};
    o = read_raw_header(hp, 18, FT_VERSION);
    CHECK(o->open_rc == FT_E_HEADER, "header pid over 64 bits: rc %d", o->open_rc);
    hp[10] = 0x01; /* UINT64_MAX: accepted */
    o = read_raw_header(hp, 18, FT_VERSION);
    CHECK(o->open_rc == 0 && o->h.pid == UINT64_MAX, "header pid UINT64_MAX: rc %d %s",
          o->open_rc, o->msg);
}

static void header_roundtrip(void)
{
    static const char cmd[] = "/usr/bin/prog\0--opt\0\xff\xfe bytes\0";
    ft_header h = {FT_H_PYTHON | FT_H_NATIVE, UINT64_MAX, 0, UINT64_MAX, 1u << 30, 0,
                   cmd, sizeof cmd - 1, "", 0, 0, 0, 0};
    uint8_t buf[256];
    size_t n = ft_header_encode(buf, sizeof buf, &h);
    CHECK(n > 20, "ft_header_encode: %zu", n);
    CHECK(!memcmp(buf, "\x89\x46\x49\x4c\x52\x45\x43\x0a", 8), "magic bytes");
    CHECK(!memcmp(buf + 8, "\x03\0\0\0", 4), "version is not u32 3 (native frames)");
    h.flags = FT_H_PYTHON;
    CHECK(ft_header_encode(buf, sizeof buf, &h) > 20 && !memcmp(buf + 8, "\x02\0\0\0", 4),
          "version is not u32 2 without native frames");
    h.flags = FT_H_PYTHON | FT_H_NATIVE;
    n = ft_header_encode(buf, sizeof buf, &h);
    uint32_t hlen = buf[12] | buf[13] << 8 | (uint32_t)buf[14] << 16 | (uint32_t)buf[15] << 24;
    CHECK(hlen + 20 == n, "hlen %u, encoded %zu bytes", hlen, n);
    uint32_t crc = ft_crc32(0, buf + 16, hlen);
    CHECK(buf[16 + hlen] == (crc & 0xff) && buf[19 + hlen] == crc >> 24, "crc not little-endian");
    CHECK(ft_header_encode(buf, 20, &h) == 0, "encode into too small a buffer succeeded");

    trace t;
    tr_begin(&t, &h, 3);
    readout *o = read_tr(&t);
    CHECK(o->open_rc == 0, "open: %s", o->msg);
    CHECK(o->h.flags == h.flags && o->h.pid == h.pid && o->h.ppid == h.ppid &&
          o->h.start_ns == h.start_ns && o->h.page_size == h.page_size &&
          o->h.sample_us == h.sample_us, "integer fields differ");
    CHECK(o->h.cmdline_len == h.cmdline_len && !memcmp(o->cmdline, cmd, h.cmdline_len),
          "cmdline differs (%zu bytes)", o->h.cmdline_len);
    CHECK(o->h.options_len == 0, "options length %zu", o->h.options_len);
    /* A header and no body: a trace that ends early, holding nothing. */
    CHECK(o->rc == 0 && o->n == 0 && o->early == 1, "empty body: rc %d n %zu early %d", o->rc,
          o->n, o->early);

    /* Fields appended after the known ones are ignored (FORMAT.md, Header payload); the
     * version 2 ones (mono_ns, image) are read, and are 0 when the payload ends first. */
    uint8_t p[64] = {0, 7, 1, 9, 0x80, 0x20, 0, 3, 'a', 0, 'b', 1, 'x', 5, 1, 0xde, 0xad, 0xbe, 0xef};
    o = read_raw_header(p, 19, FT_VERSION);
    CHECK(o->open_rc == 0 && o->h.pid == 7 && o->h.page_size == 4096 && o->h.options_len == 1 &&
              o->h.mono_ns == 5 && o->h.image == 1,
          "header with extra bytes: rc %d %s", o->open_rc, o->msg);
    o = read_raw_header(p, 13, FT_VERSION);
    CHECK(o->open_rc == 0 && o->h.mono_ns == 0 && o->h.image == 0, "without mono_ns: rc %d %s",
          o->open_rc, o->msg);
}

static void header_crc_mismatch_rejected(void)
{
    ft_header h = default_header();
    uint8_t buf[256];
    size_t n = ft_header_encode(buf, sizeof buf, &h);
    for (size_t i = 16; i < n; i++) { /* every payload and crc byte */
        trace t;
        tr_begin(&t, NULL, 3);
        buf[i] ^= 0x10;
        tr_raw(&t, buf, n);
        buf[i] ^= 0x10;
        readout *o = read_tr(&t);
        CHECK(o->open_rc == FT_E_HEADER && strstr(o->msg, "checksum mismatch"),
              "byte %zu flipped: rc %d %s", i, o->open_rc, o->msg);
        CHECK(!strncmp(o->msg, "offset ", 7), "message does not name the offset: %s", o->msg);
    }
}

static void header_bad_magic_version_length_rejected(void)
{
    ft_header h = default_header();
    uint8_t buf[256];
    size_t n = ft_header_encode(buf, sizeof buf, &h);
    static const struct { size_t at; uint8_t v; int err; } cases[] = {
        {0, 0x09, FT_E_MAGIC}, {7, '\r', FT_E_MAGIC}, {8, 4, FT_E_VERSION}, {8, 0, FT_E_VERSION},
        {11, 1, FT_E_VERSION}, {14, 0x10, FT_E_HEADER} /* hlen 1 MiB + x */,
        {15, 0xff, FT_E_HEADER},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        uint8_t save = buf[cases[i].at];
        buf[cases[i].at] = cases[i].v;
        trace t;
        tr_begin(&t, NULL, 3);
        tr_raw(&t, buf, n);
        buf[cases[i].at] = save;
        readout *o = read_tr(&t);
        CHECK(o->open_rc == cases[i].err, "byte %zu = %#x: rc %d, want %d (%s)", cases[i].at,
              cases[i].v, o->open_rc, cases[i].err, o->msg);
        CHECK(!strncmp(o->msg, "offset ", 7), "message does not name the offset: %s", o->msg);
    }
    /* Valid crc, but bad values: unknown flags, page sizes not a power of two or too small. */
    static const uint8_t payloads[][10] = {
        {32, 1, 1, 1, 0x80, 0x20, 0, 0, 0, 0}, {0, 1, 1, 1, 0x81, 0x20, 0, 0, 0, 0},
        {0, 1, 1, 1, 0x80, 0x02, 0, 0, 0, 0}, {0, 1, 1, 1, 0x00, 0, 0, 0, 0, 0},
    };
    static const uint8_t resident[10] = {16, 1, 1, 1, 0x80, 0x20, 0, 0, 0, 0};
    CHECK(read_raw_header(resident, 10, 2)->open_rc == FT_E_HEADER,
          "flag 16 (measured mappings) accepted in version 2");
    CHECK(read_raw_header(resident, 10, 3)->open_rc == 0, "flag 16 refused in version 3");
    for (size_t i = 0; i < 4; i++) {
        readout *o = read_raw_header(payloads[i], 10, FT_VERSION);
        CHECK(o->open_rc == FT_E_HEADER, "payload %zu accepted: rc %d", i, o->open_rc);
    }
    /* A string length that runs past hlen. */
    static const uint8_t p[] = {0, 1, 1, 1, 0x80, 0x20, 0, 5, 'a', 0};
    readout *o = read_raw_header(p, sizeof p, FT_VERSION);
    CHECK(o->open_rc == FT_E_HEADER, "cmdline past the header accepted: rc %d", o->open_rc);
}

static void header_cut_short_rejected(void)
{
    ft_header h = default_header();
    uint8_t buf[256];
    size_t n = ft_header_encode(buf, sizeof buf, &h);
    for (size_t cut = 0; cut < n; cut++) {
        trace t;
        tr_begin(&t, NULL, 3);
        tr_raw(&t, buf, cut);
        readout *o = read_tr(&t);
        CHECK(o->open_rc < 0 && !strncmp(o->msg, "offset ", 7), "cut at %zu: rc %d %s", cut,
              o->open_rc, o->msg);
    }
}

static void writer_reader_roundtrip(void)
{
    static const char bytes[] = "a\0b\xff\xfe\x80z";
    trace t;
    static builder b;
    b_begin(&b, &t);
    /* Frame 1: definitions, every event kind, registers carried from record to record. */
    b_str(&b, FT_STRING, 1, "main", 4);
    b_str(&b, FT_STRING, 2, "prog.c", 6);
    b_str(&b, FT_STRING, 3, "", 0);
    b_str(&b, FT_STRING, 4, bytes, sizeof bytes - 1);
    rec *e = b_ints(&b, FT_FUNCTION, 3, 1, 2, 10, 0);
    e->a = 1, e->b = 2, e->c = 10;
    e = b_ints(&b, FT_FUNCTION, 3, 4, 0, UINT32_MAX, 0); /* no file; the largest line */
    e->a = 4, e->b = 0, e->c = UINT32_MAX;
    e = b_ints(&b, FT_STACK_NODE, 3, 0, 1, 12, 0);
    e->stack = 0, e->a = 1, e->b = 12;
    e = b_ints(&b, FT_STACK_NODE, 3, 1, 2, 7, 0);
    e->stack = 1, e->a = 2, e->b = 7;
    e = b_ints(&b, FT_SAMPLE, 2, 0, 1 << 20, 0, 0);
    e->a = 0, e->b = 1 << 20;
    unsigned fl = b_alloc(&b, 0x1000, 24, FT_A_MALLOC, 1);      /* K from register */
    CHECK(fl == FT_F1, "alloc flags %#x", fl);
    fl = b_alloc(&b, 0x1040, 100, FT_A_MALLOC, 1);              /* K and S from registers */
    CHECK(fl == (FT_F0 | FT_F1), "alloc flags %#x", fl);
    fl = b_alloc(&b, 0x808, 7, FT_A_CALLOC, 2);                 /* wide, negative delta */
    CHECK(fl == W, "alloc flags %#x", fl);
    b_alloc(&b, 0x900, 0, FT_A_CALLOC, 0);
    b_free(&b, 0x1000);
    fl = b_mmap(&b, 0x7f0000000000, 8192, 0);                   /* S from register (0) */
    CHECK(fl == FT_F0, "mmap flags %#x", fl);
    b_mmap(&b, 0x7f0000010000, 10000, 2);
    b_munmap(&b, 0x7f0000001000, 4096);
    b_mremap(&b, 0x7f0000010000, 12288, 0x7effff000000, 1 << 20);
    b_alloc(&b, 0x7effff000010, 5, FT_A_POSIX_MEMALIGN, 2);   /* A is MREMAP's new address */
    e = b_ints(&b, FT_THREAD_START, 4, 1, 0, 4321, 2);
    e->a = 1, e->b = 0, e->c = 4321, e->stack = 2;
    b_str(&b, FT_THREAD_NAME, 1, "worker", 6);
    b_thread(&b, 1);
    b_alloc(&b, 0x2000, 64, FT_A_REALLOC, 1);
    b_str(&b, FT_MARKER | FT_MARK_POINT << 5, 0, "p", 1);
    b_str(&b, FT_MARKER | FT_MARK_BEGIN << 5, 0, "region", 6);
    b_str(&b, FT_MARKER | FT_MARK_END << 5, 0, "region", 6);
    b_ints(&b, FT_FORK, 1, 999, 0, 0, 0)->a = 999;
    e = b_ints(&b, FT_THREAD_START, 4, 2, 1, 4322, 0);
    e->a = 2, e->b = 1, e->c = 4322, e->stack = 0;
    b_str(&b, FT_THREAD_NAME, 0, "main thread", 11);
    b_flush(&b);
    /* Frame 2: registers reset (T 0, A 0, S 0, K malloc); definitions carry over. */
    b_free(&b, 0x2000);                                 /* thread 0 again, delta from 0 */
    CHECK(b.f.a0[-1] == 0x00 && b.f.a0[FT_STREAM_CAP - 1] == 0x04, "free delta not from a reset register");
    fl = b_alloc(&b, 0x3000, 1, FT_A_MALLOC, 0);        /* K and S from reset registers */
    CHECK(fl == (FT_F0 | FT_F1), "alloc flags after reset %#x", fl);
    b_thread(&b, 2);
    b_alloc(&b, 0x3000, 2, FT_A_REALLOCARRAY, 2);       /* a stack defined in frame 1 */
    b_alloc(&b, 0x4000, 3, FT_A_VALLOC, 2);
    b_alloc(&b, 0x5000, 4, FT_A_PVALLOC, 2);
    b_alloc(&b, 0x6000, 5, FT_A_MEMALIGN, 2);
    b_alloc(&b, 0x7000, 6, FT_A_ALIGNED_ALLOC, 2);
    e = b_ints(&b, FT_SAMPLE, 2, 10000, 3 << 20, 0, 0);
    e->a = 10000, e->b = 3 << 20;
    b_flush(&b);
    /* Frame 3: registers reset again; definitions after events. */
    b_alloc(&b, 0x8000, 8, FT_A_CALLOC, 0);
    b_str(&b, FT_STRING, 5, "late", 4);
    e = b_ints(&b, FT_FUNCTION, 3, 5, 5, 1, 0);
    e->a = 5, e->b = 5, e->c = 1;
    e = b_ints(&b, FT_STACK_NODE, 3, 2, 3, 99, 0);
    e->stack = 2, e->a = 3, e->b = 99;
    b_mmap(&b, 0x9000, 4096, 3);
    b_trailer(&b, FT_T_EXIT, 20000);
    b_verify(&b, 0);
}

/* Version 3's measured mappings: MMAP with f1 (and f2, a file's), RESIDENT; refused in
 * version 2, as is f2 without f1. */
static void resident_roundtrip(void)
{
    trace t;
    static builder b;
    ft_header h = default_header();
    h.flags = FT_H_RESIDENT;
    tr_begin(&t, &h, 3);
    b_init(&b, &t);
    const uint8_t *at = b.f.ops;
    ft_enc_mmap_measured(&b.f, 0x7f0000000000, 64 << 20, 0, 0);
    rec *e = b_push(&b, at);
    e->addr = 0x7f0000000000, e->size = 64 << 20;
    CHECK(e->flags == (FT_F0 | FT_F1), "measured mmap flags %#x", e->flags);
    at = b.f.ops;
    ft_enc_mmap_measured(&b.f, 0x7e0000000000, 8 << 20, 0, 1);
    e = b_push(&b, at);
    e->addr = 0x7e0000000000, e->size = 8 << 20;
    CHECK(e->flags == (FT_F0 | FT_F1 | FT_F2), "file mmap flags %#x", e->flags);
    at = b.f.ops;
    ft_enc_resident(&b.f, 0x7f0000000000, 16 << 20); /* a delta up from A */
    e = b_push(&b, at);
    e->addr = 0x7f0000000000, e->size = 16 << 20;
    b_munmap(&b, 0x7f0000000000, 64 << 20);
    b_trailer(&b, FT_T_EXIT, 100);
    b_verify(&b, 0);

    static const uint8_t v2s[][4] = {{FT_RESIDENT, 0, 0}, {FT_MMAP | FT_F0 | FT_F1, 0, 2},
                                     {FT_MMAP | FT_F0 | FT_F2, 0, 2}};
    for (unsigned v3 = 0; v3 < 2; v3++)
        for (size_t i = 0; i < 3; i++) {
            h.flags = v3 ? FT_H_RESIDENT : 0;
            tr_begin(&t, &h, 3);
            tr_frame(&t, raw_frame(v2s[i], 3));
            readout *o = read_tr(&t);
            int ok = v3 && i < 2; /* f2 alone is refused in every version */
            CHECK(ok ? o->rc == 0 && o->n == 1 : o->rc == FT_E_RECORD,
                  "record %zu in version %d: rc %d (%s)", i, 2 + v3, o->rc, o->msg);
        }
}

static void registers_reset_at_frame_start(void)
{
    /* Frame 1 leaves A, S, K and T set; frame 2's records, made by hand, must decode
     * with the registers at their reset values. */
    static const uint8_t f1[] = {FT_FUNCTION, 0, 0, 1, FT_STACK_NODE, 0, 1, 1,
                                 FT_THREAD_START, 1, 0, 5, 0, FT_THREAD, 1,
                                 FT_ALLOC | W, 0x80, 0x40, 8, 2, 1};  /* 0x1000 calloc stack 1 */
    static const uint8_t f2[] = {FT_ALLOC | W | FT_F0 | FT_F1, 0x20, 9, FT_FREE | W, 0x00,
                                 FT_MMAP | FT_F0, 0x80, 0x40, 4, FT_MREMAP, 0, 1, 0, 1,
                                 FT_FREE, FT_ALLOC | FT_F0 | FT_F1};
    trace t;
    ft_header h = default_header();
    tr_begin(&t, &h, 3);
    tr_frame(&t, raw_frame(f1, sizeof f1));
    ft_frame *f = raw_frame(f2, sizeof f2);
    plane_addr(f, 2);       /* FREE: +16 */
    plane_addr(f, 1);       /* ALLOC: -16 */
    plane_size(f, 300);
    tr_frame(&t, f);
    readout *o = read_tr(&t);
    CHECK(o->rc == 0 && o->n == 11, "rc %d n %zu %s", o->rc, o->n, o->msg);
    const rec *r = o->r;
    CHECK(r[4].addr == 0x1000 && r[4].allocator == FT_A_CALLOC && r[4].stack == 1 &&
          r[4].thread == 1, "frame 1 alloc decoded wrong");
    CHECK(r[5].addr == 0x10 && r[5].allocator == FT_A_MALLOC && r[5].stack == 0 &&
          r[5].thread == 0, "frame 2 alloc: addr %#llx allocator %u stack %u thread %u",
          (unsigned long long)r[5].addr, r[5].allocator, r[5].stack, r[5].thread);
    CHECK(r[6].addr == 0x10, "free addr %#llx", (unsigned long long)r[6].addr);
    CHECK(r[7].addr == 0x1010 && r[7].stack == 0, "mmap addr %#llx stack %u",
          (unsigned long long)r[7].addr, r[7].stack);
    CHECK(r[8].addr == 0x1010 && r[8].addr2 == 0x1010, "mremap at %#llx",
          (unsigned long long)r[8].addr);
    CHECK(r[9].addr == 0x1020, "narrow free at %#llx", (unsigned long long)r[9].addr);
    CHECK(r[10].addr == 0x1010 && r[10].size == 300, "narrow alloc at %#llx size %llu",
          (unsigned long long)r[10].addr, (unsigned long long)r[10].size);
}

static void trailer_count_mismatch_rejected(void)
{
    static const uint8_t f1[] = {FT_ALLOC | W, 2, 8, 1, 0, FT_FREE | W, 1, FT_SAMPLE, 0, 0};
    uint64_t counts[32] = {0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0};
    trace t;
    ft_header h = default_header();
    /* Each count off by one in turn; also counts for reserved kinds. */
    for (unsigned k = 1; k <= 20; k++) {
        tr_begin(&t, &h, 3);
        tr_frame(&t, raw_frame(f1, sizeof f1));
        ft_frame *f = raw_frame(NULL, 0);
        counts[k] ^= 1;
        put_trailer(f, 0, 0, counts, k < FT_TRAILER ? FT_TRAILER - 1 : k);
        counts[k] ^= 1;
        tr_frame(&t, f);
        readout *o = read_tr(&t);
        if (k == FT_TRAILER) { /* its own count is not checked */
            CHECK(o->rc == 0, "trailer's own count: rc %d %s", o->rc, o->msg);
            continue;
        }
        CHECK(o->rc == FT_E_RECORD && o->n == 3, "kind %u count off by one: rc %d n %zu", k,
              o->rc, o->n);
        CHECK(strstr(o->msg, "trailer counts"), "message: %s", o->msg);
    }
    /* The right counts, and a trailer listing only the first kinds, are accepted. */
    for (unsigned n = 14; n >= 2; n = n == 14 ? 2 : 0) {
        tr_begin(&t, &h, 3);
        tr_frame(&t, raw_frame(f1, sizeof f1));
        ft_frame *f = raw_frame(NULL, 0);
        put_trailer(f, FT_T_EXIT, 5, counts, n);
        tr_frame(&t, f);
        readout *o = read_tr(&t);
        CHECK(o->rc == 0 && o->early == 0 && o->n == 4, "%u counts: rc %d early %d %s", n, o->rc,
              o->early, o->msg);
    }
    /* Bad trailer flags; 32 counts; counts cut short. */
    uint8_t f2[64] = {FT_TRAILER, 8, 5, 0};
    readout *o = read_frames(f1, sizeof f1, f2, 4);
    CHECK(o->rc == FT_E_RECORD, "trailer flags 8 accepted");
    f2[1] = 1, f2[3] = 32;
    o = read_frames(f1, sizeof f1, f2, 4 + 32);
    CHECK(o->rc == FT_E_RECORD, "32 counts accepted");
    f2[3] = 2, f2[4] = 1;
    o = read_frames(f1, sizeof f1, f2, 5);
    CHECK(o->rc == FT_E_RECORD, "counts cut short accepted");
}

static void expect_record_error(const uint8_t *f, size_t n, size_t good, const char *what)
{
    readout *o = read_frames(prelude, sizeof prelude, f, n);
    CHECK(o->rc == FT_E_RECORD, "%s: accepted (rc %d)", what, o->rc);
    CHECK(o->n == 3 + good, "%s: %zu records before the error", what, o->n);
    CHECK(!strncmp(o->msg, "offset ", 7), "%s: message %s", what, o->msg);
}

#define EXPECT_ERROR(good, what, ...) do { const uint8_t f_[] = {__VA_ARGS__}; \
    expect_record_error(f_, sizeof f_, good, what); } while (0)

static void undefined_stack_id_rejected(void)
{
    /* The prelude defines stack 1 only. */
    EXPECT_ERROR(0, "alloc stack 2", FT_ALLOC | W, 0, 8, 1, 2);
    EXPECT_ERROR(0, "alloc stack 2^32+1", FT_ALLOC | W | FT_F1, 0, 8, 0x81, 0x80, 0x80, 0x80, 0x10);
    EXPECT_ERROR(0, "mmap stack 2", FT_MMAP, 0, 8, 2);
    EXPECT_ERROR(0, "thread start stack 2", FT_THREAD_START, 1, 0, 9, 2);
    EXPECT_ERROR(0, "stack node parent 2", FT_STACK_NODE, 2, 1, 1);
    EXPECT_ERROR(1, "stack node with its own id as parent", FT_ALLOC | W, 0, 8, 1, 1,
                 FT_STACK_NODE, 2, 1, 1);
    static const uint8_t ok[] = {FT_ALLOC | W, 0, 8, 1, 1, FT_MMAP, 0, 8, 1,
                                 FT_STACK_NODE, 1, 1, 1, FT_ALLOC | W, 0, 8, 1, 2};
    readout *o = read_frames(prelude, sizeof prelude, ok, sizeof ok);
    CHECK(o->rc == 0 && o->n == 7 && o->r[6].stack == 2, "defined stacks rejected: %s", o->msg);
}

static void undefined_string_function_thread_rejected(void)
{
    EXPECT_ERROR(0, "function name 2", FT_FUNCTION, 2, 0, 1);
    EXPECT_ERROR(0, "function file 2", FT_FUNCTION, 0, 2, 1);
    EXPECT_ERROR(0, "function line 2^32", FT_FUNCTION, 0, 0, 0x80, 0x80, 0x80, 0x80, 0x10);
    EXPECT_ERROR(0, "stack node function 2", FT_STACK_NODE, 0, 2, 1);
    EXPECT_ERROR(0, "stack node function 0", FT_STACK_NODE, 0, 0, 1);
    EXPECT_ERROR(0, "stack node line 2^32", FT_STACK_NODE, 0, 1, 0x80, 0x80, 0x80, 0x80, 0x10);
    EXPECT_ERROR(0, "thread 1 before its start", FT_THREAD, 1);
    EXPECT_ERROR(0, "thread name of thread 1", FT_THREAD_NAME, 1, 1, 'x');
    EXPECT_ERROR(0, "thread start 2 before 1", FT_THREAD_START, 2, 0, 9, 0);
    EXPECT_ERROR(0, "thread start 0 again", FT_THREAD_START, 0, 0, 9, 0);
    EXPECT_ERROR(0, "thread start with itself as parent", FT_THREAD_START, 1, 1, 9, 0);
    EXPECT_ERROR(1, "thread start 1 twice", FT_THREAD_START, 1, 0, 9, 0,
                 FT_THREAD_START, 1, 0, 9, 0);
}

/* A trace of a --native header (version 3) and one frame of raw ops, read back. */
static readout *read_native(const uint8_t *ops, size_t n)
{
    trace t;
    ft_header h = default_header();
    h.flags = FT_H_NATIVE;
    tr_begin(&t, &h, 3);
    tr_frame(&t, raw_frame(ops, n));
    return read_tr(&t);
}

static void native_records_read(void)
{
    static const uint8_t f[] = {
        FT_STRING, 7, 'l', 'i', 'b', 'x', '.', 's', 'o',
        FT_MODULE, 1, 0x80, 0x20, 0x80, 0x20, 0x80, 0x40, 2, 0xab, 0xcd, /* bias, start 4096, size 8192 */
        FT_NATIVE_FRAME, 0, 1, 0xa3, 0x02,  /* outermost: module 1, offset 0x123 */
        FT_NATIVE_FRAME, 1, 0, 5,           /* under it: no module, address 5 */
    };
    readout *o = read_native(f, sizeof f);
    CHECK(o->rc == 0 && o->n == 4, "rc %d n %zu: %s", o->rc, o->n, o->msg);
    const rec *m = &o->r[1], *a = &o->r[2], *b = &o->r[3];
    CHECK(m->kind == FT_MODULE && m->a == 1 && m->addr == 4096 && m->b == 4096 && m->c == 8192 &&
              m->len == 2 && (uint8_t)m->str[0] == 0xab,
          "module: kind %u path %llu bias %llu start %llu size %llu build id %zu bytes", m->kind,
          (unsigned long long)m->a, (unsigned long long)m->addr, (unsigned long long)m->b,
          (unsigned long long)m->c, m->len);
    CHECK(a->kind == FT_NATIVE_FRAME && a->stack == 0 && a->a == 1 && a->b == 0x123,
          "frame 1: parent %u module %llu offset %llx", a->stack, (unsigned long long)a->a,
          (unsigned long long)a->b);
    CHECK(b->kind == FT_NATIVE_FRAME && b->stack == 1 && b->a == 0 && b->b == 5,
          "frame 2: parent %u module %llu offset %llu", b->stack, (unsigned long long)b->a,
          (unsigned long long)b->b);
}

static void native_records_rejected(void)
{
    static const struct { uint8_t ops[80]; size_t n; const char *want; } cases[] = {
        {{FT_MODULE, 1, 0, 0, 1, 0}, 6, "module path: unknown string"},
        {{FT_STRING, 1, 'x', FT_MODULE, 1, 0, 0, 0, 0}, 9, "module range"},
        {{FT_STRING, 1, 'x', FT_MODULE, 1, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
          0x01, 2, 0}, 18, "module range"}, /* start + size wraps */
        {{FT_STRING, 1, 'x', FT_MODULE, 1, 0, 0, 1, 65}, 9, "module build id"},
        {{FT_NATIVE_FRAME, 0, 1, 0}, 4, "native frame: unknown module"},
        {{FT_NATIVE_FRAME, 3, 0, 0}, 4, "native frame: unknown parent"},
        {{FT_NATIVE_FRAME, 0, 0}, 3, "native frame offset"},
        {{19}, 1, "kind 19 is reserved"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        readout *o = read_native(cases[i].ops, cases[i].n);
        CHECK(o->rc == FT_E_RECORD && strstr(o->msg, cases[i].want) &&
                  !strncmp(o->msg, "offset ", 7),
              "case %zu: rc %d, message '%s', want '%s'", i, o->rc, o->msg, cases[i].want);
    }
    /* Version 2 does not have them. */
    static const uint8_t v2[] = {FT_NATIVE_FRAME, 0, 0, 0};
    readout *o = read_frames(v2, sizeof v2, NULL, 0);
    CHECK(o->rc == FT_E_RECORD && strstr(o->msg, "not defined before version 3"),
          "native frame in version 2: rc %d %s", o->rc, o->msg);
}

static void reserved_kind_rejected(void)
{
    for (unsigned k = FT_KIND_COUNT; k < 32; k++) {
        uint8_t f[] = {FT_FREE | W, 0, (uint8_t)k, 0, 0, 0};
        readout *o = read_frames(f, sizeof f, NULL, 0);
        char want[32];
        snprintf(want, sizeof want, "kind %u is reserved", k);
        CHECK(o->rc == FT_E_RECORD && o->n == 1, "kind %u: rc %d n %zu", k, o->rc, o->n);
        CHECK(strstr(o->msg, want) && !strncmp(o->msg, "offset ", 7), "kind %u: message %s", k,
              o->msg);
    }
    static const uint8_t f[] = {FT_FREE | W, 0, 0};
    readout *o = read_frames(f, sizeof f, NULL, 0);
    CHECK(o->rc == FT_E_RECORD && o->n == 1 && strstr(o->msg, "kind 0"), "kind 0: rc %d %s",
          o->rc, o->msg);
}

static void bad_allocator_rejected(void)
{
    for (uint8_t a = 0; a < 20; a++) {
        uint8_t f[] = {FT_ALLOC | W | FT_F0, 0, 8, a};
        readout *o = read_frames(f, sizeof f, NULL, 0);
        if (a >= FT_A_MALLOC && a < FT_A_COUNT)
            CHECK(o->rc == 0 && o->r[0].allocator == a, "allocator %u rejected: %s", a, o->msg);
        else
            CHECK(o->rc == FT_E_RECORD, "allocator %u accepted", a);
    }
}

static void undefined_flags_rejected(void)
{
    /* After the prelude (string 1, function 1, stack 1), each record valid but for a flag. */
    EXPECT_ERROR(0, "free f0", FT_FREE | W | FT_F0, 0);
    EXPECT_ERROR(0, "free f1", FT_FREE | W | FT_F1, 0);
    EXPECT_ERROR(0, "mmap f1", FT_MMAP | FT_F1, 0, 8, 0);
    EXPECT_ERROR(0, "mmap f2", FT_MMAP | FT_F2, 0, 8, 0);
    EXPECT_ERROR(0, "munmap f0", FT_MUNMAP | FT_F0, 0, 8);
    EXPECT_ERROR(0, "mremap f1", FT_MREMAP | FT_F1, 0, 8, 0, 8);
    EXPECT_ERROR(0, "thread f0", FT_THREAD | FT_F0, 0);
    EXPECT_ERROR(0, "thread start f2", FT_THREAD_START | FT_F2, 1, 0, 9, 0);
    EXPECT_ERROR(0, "thread name f0", FT_THREAD_NAME | FT_F0, 0, 1, 'x');
    EXPECT_ERROR(0, "string f1", FT_STRING | FT_F1, 1, 'x');
    EXPECT_ERROR(0, "function f0", FT_FUNCTION | FT_F0, 1, 1, 1);
    EXPECT_ERROR(0, "stack node f0", FT_STACK_NODE | FT_F0, 0, 1, 1);
    EXPECT_ERROR(0, "sample f0", FT_SAMPLE | FT_F0, 0, 0);
    EXPECT_ERROR(0, "marker type 3", FT_MARKER | FT_F0 | FT_F1, 1, 'x');
    EXPECT_ERROR(0, "marker f2", FT_MARKER | FT_F2, 1, 'x');
    EXPECT_ERROR(0, "fork f0", FT_FORK | FT_F0, 1);
    /* The prelude's counts are right, so only the flag can make this trailer bad. */
    EXPECT_ERROR(0, "trailer f0", FT_TRAILER | FT_F0, 1, 0, 11, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1);
}

static void string_length_limit(void)
{
    static uint8_t s[FT_STRING_MAX + 1];
    memset(s, 'x', sizeof s);
    for (int over = 0; over <= 1; over++) {
        trace t;
        ft_header h = default_header();
        tr_begin(&t, &h, 3);
        ft_frame *f = raw_frame(NULL, 0);
        ft_enc_string(f, FT_STRING, s, FT_STRING_MAX + (size_t)over);
        tr_frame(&t, f);
        readout *o = read_tr(&t);
        if (over)
            CHECK(o->rc == FT_E_RECORD, "64 KiB + 1 string accepted");
        else
            CHECK(o->rc == 0 && o->n == 1 && o->r[0].len == FT_STRING_MAX,
                  "64 KiB string: rc %d %s", o->rc, o->msg);
    }
    /* A length that runs past the ops stream's end, for each string-carrying kind. */
    EXPECT_ERROR(0, "string past the ops", FT_STRING, 3, 'a');
    EXPECT_ERROR(0, "marker past the ops", FT_MARKER, 2, 'a');
    EXPECT_ERROR(0, "thread name past the ops", FT_THREAD_NAME, 0, 9, 'a');
}

static void record_cut_at_ops_end_rejected(void)
{
    /* No record crosses a frame boundary: a record cut by the end of ops is an error. */
    EXPECT_ERROR(0, "alloc without its stack", FT_ALLOC | W, 0, 8, 1);
    EXPECT_ERROR(0, "alloc in the middle of a varint", FT_ALLOC | W, 0x80);
    EXPECT_ERROR(0, "mremap without new length", FT_MREMAP, 0, 8, 0);
    EXPECT_ERROR(0, "sample without rss", FT_SAMPLE, 1);
    EXPECT_ERROR(0, "thread without index", FT_THREAD);
    EXPECT_ERROR(1, "fork without pid", FT_FREE | W, 0, FT_FORK);
}

static void plane_count_mismatch_rejected(void)
{
    static const uint8_t one_free[] = {FT_FREE}, one_alloc[] = {FT_ALLOC | FT_F0 | FT_F1};
    static const struct { const uint8_t *ops; int na, ns; size_t good; const char *what; } cases[] = {
        {one_free, 0, 0, 0, "narrow free with no address value"},
        {one_alloc, 1, 0, 0, "narrow alloc with no size value"},
        {one_alloc, 0, 1, 0, "narrow alloc with no address value"},
        {one_free, 2, 0, 1, "an address value left over"},
        {one_free, 1, 1, 1, "a size value left over"},
        {one_alloc, 1, 2, 1, "two sizes for one alloc"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        trace t;
        ft_header h = default_header();
        tr_begin(&t, &h, 3);
        ft_frame *f = raw_frame(cases[i].ops, 1);
        for (int k = 0; k < cases[i].na; k++)
            plane_addr(f, 2);
        for (int k = 0; k < cases[i].ns; k++)
            plane_size(f, 8);
        tr_frame(&t, f);
        readout *o = read_tr(&t);
        CHECK(o->rc == FT_E_RECORD && o->n == cases[i].good, "%s: rc %d n %zu", cases[i].what,
              o->rc, o->n);
        CHECK(!strncmp(o->msg, "offset ", 7), "%s: message %s", cases[i].what, o->msg);
    }
    /* Stream lengths made by hand: each must be rejected, none may be read past. */
    static const struct { uint64_t len[FT_STREAMS]; size_t n; int ok; } lens[] = {
        {{2, 0, 0, 0, 0, 0}, 2, 1},  /* FREE wide 0 */
        {{2, 0, 0, 0, 0, 0}, 3, 0},  /* a byte more than the lengths say */
        {{3, 0, 0, 0, 0, 0}, 2, 0},  /* a byte less */
        {{1, 1, 1, 0, 0, 0}, 3, 0},  /* address planes of unequal lengths */
        {{1, 0, 0, 0, 1, 0}, 2, 0},  /* size planes of unequal lengths */
        {{UINT64_MAX, 0, 0, 0, 0, 0}, 2, 0},
        {{0, 0, 0, 0, 0, 0}, 0, 1},  /* nothing in any stream */
    };
    static const uint8_t streams[] = {FT_FREE | W, 0, 0};
    for (size_t i = 0; i < sizeof lens / sizeof *lens; i++) {
        uint8_t c[64];
        trace t;
        ft_header h = default_header();
        tr_begin(&t, &h, 3);
        tr_zframe(&t, c, content(c, lens[i].len, streams, lens[i].n));
        readout *o = read_tr(&t);
        CHECK(lens[i].ok ? o->rc == 0 : o->rc == FT_E_RECORD && o->n == 0,
              "stream lengths %zu: rc %d n %zu %s", i, o->rc, o->n, o->msg);
    }
    /* Prefixes of the stream lengths themselves. */
    for (size_t n = 1; n < FT_STREAMS; n++) {
        trace t;
        ft_header h = default_header();
        tr_begin(&t, &h, 3);
        tr_zframe(&t, "\0\0\0\0\0\0", n);
        readout *o = read_tr(&t);
        CHECK(o->rc == FT_E_RECORD, "content of %zu zero bytes: rc %d", n, o->rc);
    }
}

static void frame_over_1MiB_ends_the_trace(void)
{
    /* Exactly 1 MiB of content is one frame; a byte more is rejected before any use. */
    uint8_t *c = malloc(FT_FRAME_MAX + 1);
    uint64_t len[FT_STREAMS] = {FT_FRAME_MAX - 3 - (FT_STREAMS - 1)}; /* 3 + 6 bytes of lengths */
    size_t n = content(c, len, NULL, 0);
    CHECK(n == 3 + FT_STREAMS - 1, "lengths take %zu bytes", n);
    /* One three-byte FREE (delta 64) evens out the odd room left by the lengths, then
     * two-byte FREEs fill the frame to exactly 1 MiB. */
    c[n] = FT_FREE | W, c[n + 1] = 0x80, c[n + 2] = 0x01;
    for (size_t i = n + 3; i < FT_FRAME_MAX; i += 2)
        c[i] = FT_FREE | W, c[i + 1] = 0;
    c[FT_FRAME_MAX] = 0;
    const size_t frees = 1 + (FT_FRAME_MAX - n - 3) / 2;
    for (int over = 0; over <= 1; over++) {
        trace t;
        ft_header h = default_header();
        tr_begin(&t, &h, 1);
        static const uint8_t few[] = {FT_FREE | W, 0, FT_FREE | W, 0};
        tr_frame(&t, raw_frame(few, sizeof few));
        tr_zframe(&t, c, FT_FRAME_MAX + (size_t)over);
        readout *o = read_tr(&t);
        if (over) {
            /* damaged (FORMAT.md rule 6): the frames before it are read, then it ends */
            CHECK(o->rc == 0 && o->early == 1 && o->n == 2, "1 MiB + 1: rc %d n %zu",
                  o->rc, o->n);
            CHECK(strstr(o->msg, "more than") && !strncmp(o->msg, "offset ", 7), "message %s",
                  o->msg);
        } else {
            CHECK(o->rc == 0 && o->early == 1 && o->n == 2 + frees,
                  "1 MiB: rc %d n %zu %s", o->rc, o->n, o->msg);
        }
    }
    free(c);
}

/* Frames of n[i] FREE records each, then the trailer; ends[i] gets the file offsets. */
static void write_free_frames(trace *t, const size_t *n, size_t nframes, uint64_t *ends)
{
    uint64_t counts[32] = {0};
    ft_header h = default_header();
    tr_begin(t, &h, 3);
    ends[0] = tr_offset(t);
    for (size_t i = 0; i < nframes; i++) {
        ft_frame *f = raw_frame(NULL, 0);
        for (size_t j = 0; j < n[i]; j++)
            ft_enc_free(f, 0x10000 + (j * 7919 % 256) * 16 + (j % 5 == 0)); /* some wide */
        tr_frame(t, f);
        counts[FT_FREE] += n[i];
        ends[i + 1] = tr_offset(t);
    }
    ft_frame *f = raw_frame(NULL, 0);
    put_trailer(f, FT_T_EXIT, 0, counts, FT_TRAILER - 1);
    tr_frame(t, f);
    ends[nframes + 1] = tr_offset(t);
    tr_end(t);
}

static void truncated_final_frame_ends_early(void)
{
    /* FORMAT.md, Body rule 4: a trace that ends without a trailer ends early, between
     * frames or inside the last one (dropped); every whole frame before the cut is
     * read. */
    const size_t n[] = {10, 200, 30};
    uint64_t ends[5];
    trace t;
    write_free_frames(&t, n, 3, ends);
    CHECK(truncate(t.path, (off_t)ends[3]) == 0, "truncate"); /* the trailer's frame gone */
    readout *o = read_path(t.path);
    CHECK(o->rc == 0 && o->early == 1 && o->n == 240, "cut between frames: rc %d early %d "
          "n %zu %s", o->rc, o->early, o->n, o->msg);
    CHECK(truncate(t.path, (off_t)(ends[2] + ends[3]) / 2) == 0, "truncate");
    o = read_path(t.path);
    CHECK(o->rc == 0 && o->early == 1 && o->n == 210,
          "cut inside the last frame: rc %d early %d n %zu %s", o->rc, o->early, o->n, o->msg);
    unlink(t.path);
}

static void every_body_cut_reads_whole_frames(void)
{
    /* Whatever the cut in the body, the reader returns exactly the whole frames before
     * it, never part of a frame, and ends early (FORMAT.md, Body rule 4): a frame the
     * file ends inside is dropped. */
    const size_t n[] = {3, 300, 1, 40};
    uint64_t ends[6];
    trace t;
    write_free_frames(&t, n, 4, ends);
    size_t size = (size_t)ends[5];
    uint8_t *file = malloc(size);
    int fd = open(t.path, O_RDONLY);
    CHECK(read(fd, file, size) == (ssize_t)size, "read back");
    close(fd);
    for (size_t cut = (size_t)ends[0]; cut < size; cut++) {
        size_t want = 0, i = 0;
        for (; i < 5 && ends[i + 1] <= cut; i++)
            want += i < 4 ? n[i] : 0;
        fd = open(t.path, O_WRONLY | O_TRUNC);
        CHECK(write(fd, file, cut) == (ssize_t)cut, "write");
        close(fd);
        readout *o = read_path(t.path);
        CHECK(o->rc == 0 && o->early == 1 && o->n == want, "cut at %zu (frame at %llu): "
              "rc %d early %d n %zu, want %zu (%s)", cut, (unsigned long long)ends[i], o->rc,
              o->early, o->n, want, o->msg);
    }
    free(file);
    unlink(t.path);
}

static void corrupt_frame_records_not_used(void)
{
    /* A frame is used only once whole and checksummed: a flipped bit anywhere in the
     * second, last frame (header, blocks or checksum) gives the first frame's records
     * and then an error, or, when the bit makes the frame look longer than the file, an
     * early end before it (a cut inside the last frame reads so), never records zstd did
     * not verify. A bit that zstd ignores (the frame header's unused bit, padding) may
     * leave the trace valid: then every record must read back as before. */
    const size_t n[] = {5, 100};
    uint64_t ends[4];
    trace t;
    write_free_frames(&t, n, 2, ends);
    static rec ref[106];
    readout *o = read_path(t.path);
    CHECK(o->rc == 0 && o->n == 106, "unflipped: rc %d n %zu", o->rc, o->n);
    memcpy(ref, o->r, sizeof ref);
    for (uint64_t at = ends[1]; at < ends[2]; at++) {
        for (int bit = 0; bit < 8; bit++) {
            int fd = open(t.path, O_RDWR);
            uint8_t c;
            CHECK(pread(fd, &c, 1, (off_t)at) == 1, "pread");
            c ^= (uint8_t)(1 << bit);
            CHECK(pwrite(fd, &c, 1, (off_t)at) == 1, "pwrite");
            o = read_path(t.path);
            c ^= (uint8_t)(1 << bit);
            CHECK(pwrite(fd, &c, 1, (off_t)at) == 1, "pwrite");
            close(fd);
            int same = o->rc == 0 && !o->early && o->n == 106;
            char why[128];
            for (size_t i = 0; same && i < 106; i++)
                same = !rec_diff(&ref[i], &o->r[i], why, sizeof why);
            CHECK((o->rc < 0 && o->n == 5) || (o->rc == 0 && o->early && o->n == 5) || same,
                  "bit %d of byte %llu (frame at %llu) "
                  "flipped: rc %d early %d n %zu (%s)", bit, (unsigned long long)at,
                  (unsigned long long)ends[1], o->rc, o->early, o->n, o->msg);
            CHECK(o->rc >= 0 || !strncmp(o->msg, "offset ", 7), "message %s", o->msg);
        }
    }
    unlink(t.path);
}

static void damaged_middle_frame_ends_the_trace(void)
{
    /* FORMAT.md, Body rule 6: a frame in the middle that fails its checksum ends the
     * readable part there: the frames before it are read, the trace ends early at its
     * offset, and the message says what the damage is, with the offset. */
    const size_t n[] = {5, 50, 7};
    uint64_t ends[5];
    trace t;
    write_free_frames(&t, n, 3, ends);
    int fd = open(t.path, O_RDWR);
    uint8_t c;
    off_t at = (off_t)((ends[1] + ends[2]) / 2); /* inside frame 2's compressed blocks */
    CHECK(pread(fd, &c, 1, at) == 1, "pread");
    c ^= 0x10;
    CHECK(pwrite(fd, &c, 1, at) == 1, "pwrite");
    close(fd);
    ft_reader *r;
    ft_record fr;
    int rc = ft_reader_open(&r, t.path), k = 0;
    size_t got = 0;
    while (rc == 0 && (k = ft_reader_next(r, &fr)) == 1)
        got++;
    char off[32];
    snprintf(off, sizeof off, "offset %llu: ", (unsigned long long)ends[1]);
    CHECK(rc == 0 && k == 0 && got == n[0], "rc %d next %d: %zu records, want %zu", rc, k, got,
          n[0]);
    CHECK(ft_reader_ended_early(r) && ft_reader_cut_offset(r) == ends[1],
          "early %d at %llu, want %llu", ft_reader_ended_early(r),
          (unsigned long long)ft_reader_cut_offset(r), (unsigned long long)ends[1]);
    const char *why = ft_reader_damage(r);
    CHECK(why && !strncmp(why, off, strlen(off)), "damage: %s", why ? why : "(none)");
    ft_reader_close(r);
    unlink(t.path);
}

static void data_after_trailer_rejected(void)
{
    const size_t n[] = {4};
    uint64_t ends[3];
    static const uint8_t extra[] = {FT_FREE | W, 0};
    trace t;
    write_free_frames(&t, n, 1, ends);
    readout *o = read_path(t.path);
    CHECK(o->rc == 0 && o->early == 0 && o->n == 5, "complete trace: rc %d early %d n %zu %s",
          o->rc, o->early, o->n, o->msg);
    /* A whole frame after the trailer's. */
    t.fd = open(t.path, O_WRONLY | O_APPEND);
    ft_writer_new(&t.w, t.fd, 3);
    tr_frame(&t, raw_frame(extra, sizeof extra));
    tr_end(&t);
    o = read_path(t.path);
    CHECK(o->rc == FT_E_AFTER_END && o->n == 5, "frame after trailer: rc %d n %zu", o->rc, o->n);
    CHECK(strstr(o->msg, "after the trailer") && !strncmp(o->msg, "offset ", 7), "message %s",
          o->msg);
    /* Garbage bytes after the trailer's frame. */
    CHECK(truncate(t.path, (off_t)ends[2]) == 0, "truncate");
    t.fd = open(t.path, O_WRONLY | O_APPEND);
    CHECK(write(t.fd, "garbage!", 8) == 8, "write");
    close(t.fd);
    o = read_path(t.path);
    CHECK(o->rc < 0 && o->n == 5, "garbage after trailer: rc %d n %zu", o->rc, o->n);
    unlink(t.path);
    /* A record after the trailer in the trailer's own frame, in ops or in the planes. */
    uint64_t counts[32] = {0};
    ft_frame *f = raw_frame(NULL, 0);
    put_trailer(f, 1, 0, counts, 14);
    *f->ops++ = FT_FREE | W, *f->ops++ = 0;
    ft_header h = default_header();
    tr_begin(&t, &h, 3);
    tr_frame(&t, f);
    o = read_tr(&t);
    CHECK(o->rc == FT_E_RECORD && o->n == 0, "record after trailer in its frame: rc %d n %zu",
          o->rc, o->n);
    f = raw_frame(NULL, 0);
    put_trailer(f, 1, 0, counts, 14);
    plane_addr(f, 0);
    tr_begin(&t, &h, 3);
    tr_frame(&t, f);
    o = read_tr(&t);
    CHECK(o->rc == FT_E_RECORD && o->n == 0, "plane value after trailer: rc %d n %zu", o->rc,
          o->n);
    /* Two trailers, in two frames. */
    uint8_t tb[32];
    f = raw_frame(NULL, 0);
    put_trailer(f, 1, 0, counts, 14);
    size_t tn = ops_len(f);
    memcpy(tb, f->base, tn);
    o = read_frames(tb, tn, tb, tn);
    CHECK(o->rc == FT_E_AFTER_END && o->n == 1, "second trailer: rc %d n %zu", o->rc, o->n);
}

static void worked_example_bytes(void)
{
    /* FORMAT.md, "Worked example": at a frame start, thread 0, no stack: malloc(24) at
     * 0x5555555592a0, malloc(40) at 0x5555555592c0, the first freed, malloc(24) getting
     * it back (RALLOC), malloc(5000000) at 0x7ffff7a00010. */
    static const uint8_t ops[] = {0xe1, 0xc0, 0xca, 0xac, 0xd5, 0xaa, 0xd5, 0x2a, 0x18,
                                  0x61, 0x02, 0x70, 0xe1, 0xe0, 0xb5, 0xd3, 0xa4, 0xd4, 0xaa,
                                  0x15, 0xc0, 0x96, 0xb1, 0x02};
    static const uint8_t frame[] = {0x18, 0x02, 0x02, 0x02, 0x02, 0x02, 0x01};
    static const uint8_t planes[] = {0x04, 0x03, 0x00, 0x00, 0x00, 0x00,
                                     0x28, 0x18, 0x00, 0x00, 0x2a};
    ft_frame *f = raw_frame(NULL, 0);
    ft_enc_alloc(f, 0x5555555592a0, 24, FT_A_MALLOC, 0);
    ft_enc_alloc(f, 0x5555555592c0, 40, FT_A_MALLOC, 0);
    ft_enc_free(f, 0x5555555592a0);
    ft_enc_alloc(f, 0x5555555592a0, 24, FT_A_MALLOC, 0);
    ft_enc_alloc(f, 0x7ffff7a00010, 5000000, FT_A_MALLOC, 0);
    CHECK(ops_len(f) == sizeof ops && !memcmp(f->base, ops, sizeof ops),
          "ops stream: %zu bytes, %02x %02x ...", ops_len(f), f->base[0], f->base[1]);
    /* The frame content as the writer compresses it. */
    trace t;
    tr_begin(&t, NULL, 3);
    tr_frame(&t, f);
    tr_end(&t);
    uint8_t z[256], want[64], got[64];
    int fd = open(t.path, O_RDONLY);
    ssize_t zn = read(fd, z, sizeof z);
    close(fd);
    unlink(t.path);
    size_t n = ZSTD_decompress(got, sizeof got, z, zn > 0 ? (size_t)zn : 0);
    memcpy(want, frame, sizeof frame);
    memcpy(want + sizeof frame, ops, sizeof ops);
    memcpy(want + sizeof frame + sizeof ops, planes, sizeof planes);
    const size_t total = sizeof frame + sizeof ops + sizeof planes;
    CHECK(n == total && total == 7 + 35 && !memcmp(got, want, total),
          "frame content: %zu bytes", n);
    /* The reader gets the five events back. */
    static const uint64_t addr[] = {0x5555555592a0, 0x5555555592c0, 0x5555555592a0,
                                    0x5555555592a0, 0x7ffff7a00010};
    static const uint64_t size[] = {24, 40, 0, 24, 5000000};
    trace t2;
    ft_header h = default_header();
    tr_begin(&t2, &h, 3);
    tr_zframe(&t2, want, total);
    readout *o = read_tr(&t2);
    CHECK(o->rc == 0 && o->n == 5, "rc %d n %zu %s", o->rc, o->n, o->msg);
    for (int i = 0; i < 5; i++)
        CHECK(o->r[i].kind == (i == 2 ? FT_FREE : FT_ALLOC) && o->r[i].addr == addr[i] &&
              (i == 2 || (o->r[i].size == size[i] && o->r[i].allocator == FT_A_MALLOC &&
                          o->r[i].stack == 0)) && o->r[i].thread == 0,
              "event %d: kind %u addr %#llx size %llu", i, o->r[i].kind,
              (unsigned long long)o->r[i].addr, (unsigned long long)o->r[i].size);
}

static void empty_frame_writes_nothing(void)
{
    trace t;
    tr_begin(&t, NULL, 3);
    CHECK(ft_writer_frame(t.w, raw_frame(NULL, 0)) == 0, "empty frame: error");
    CHECK(tr_offset(&t) == 0, "empty frame wrote %llu bytes", (unsigned long long)tr_offset(&t));
    tr_end(&t);
    unlink(t.path);
    /* A zero-byte zstd frame (rule 7) holds no records, wherever it is. */
    ft_header h = default_header();
    tr_begin(&t, &h, 3);
    tr_zframe(&t, "", 0);
    static const uint8_t one[] = {FT_FREE | W, 2};
    tr_frame(&t, raw_frame(one, sizeof one));
    tr_zframe(&t, "", 0);
    readout *o = read_tr(&t);
    CHECK(o->rc == 0 && o->n == 1 && o->r[0].addr == 1 && o->early == 1,
          "rc %d n %zu early %d %s", o->rc, o->n, o->early, o->msg);
}

/* ---- golden trace: tests/golden/v1-basic.bin, made by tests/golden/make_golden.c ---- */

#define R(k, f, t) .kind = (k), .flags = (f), .thread = (t)

static const rec golden[] = {
    {R(FT_STRING, 0, 0), .a = 1, .str = "main", .len = 4},
    {R(FT_STRING, 0, 0), .a = 2, .str = "basic.c", .len = 7},
    {R(FT_FUNCTION, 0, 0), .a = 1, .b = 2, .c = 10},
    {R(FT_STACK_NODE, 0, 0), .stack = 0, .a = 1, .b = 12},
    {R(FT_SAMPLE, 0, 0), .a = 0, .b = 1048576},
    {R(FT_ALLOC, W | FT_F1, 0), .addr = 0x5555555592a0, .size = 24, .allocator = 1, .stack = 1},
    {R(FT_ALLOC, FT_F0, 0), .addr = 0x5555555592c0, .size = 4096, .allocator = 2, .stack = 1},
    {R(FT_FREE, 0, 0), .addr = 0x5555555592a0},
    {R(FT_MMAP, FT_F0, 0), .addr = 0x7f0000000000, .size = 10000, .stack = 1},
    {R(FT_THREAD_START, 0, 0), .a = 1, .b = 0, .c = 4243, .stack = 1},
    {R(FT_THREAD_NAME, 0, 0), .a = 1, .str = "worker", .len = 6},
    {R(FT_THREAD, 0, 1), .a = 1},
    {R(FT_ALLOC, 0, 1), .addr = 0x7f0000100000, .size = 100, .allocator = 1, .stack = 0},
    {R(FT_MARKER, FT_MARK_BEGIN << 5, 1), .a = FT_MARK_BEGIN, .str = "phase", .len = 5},
    /* frame 2 */
    {R(FT_SAMPLE, 0, 0), .a = 10000, .b = 2097152},
    {R(FT_MREMAP, 0, 0), .addr = 0x7f0000000000, .size = 12288, .addr2 = 0x7f0000200000,
     .size2 = 20480},
    {R(FT_MUNMAP, 0, 0), .addr = 0x7f0000200000, .size = 4096},
    {R(FT_FREE, W, 0), .addr = 0x5555555592a0},
    {R(FT_ALLOC, 0, 0), .addr = 0x5555555592a0, .size = 48, .allocator = 3, .stack = 1},
    {R(FT_FREE, 0, 0), .addr = 0x5555555592c0},
    {R(FT_THREAD, 0, 1), .a = 1},
    {R(FT_FREE, W, 1), .addr = 0x7f0000100000},
    {R(FT_MARKER, FT_MARK_END << 5, 1), .a = FT_MARK_END, .str = "phase", .len = 5},
    {R(FT_THREAD, 0, 0), .a = 0},
    {R(FT_MARKER, 0, 0), .a = FT_MARK_POINT, .str = "done", .len = 4},
    {R(FT_FORK, 0, 0), .a = 4300},
    /* frame 3 */
    {R(FT_TRAILER, 0, 0), .a = 1, .b = 20000, .ncounts = 14,
     .counts = {0, 4, 4, 1, 1, 1, 3, 1, 1, 2, 1, 1, 2, 3, 1}},
};

/* A golden trace's header (make_golden.c's fixed fields; mono_ns and image appended
 * from version 2) and its first n records, which must be golden's. */
static readout *golden_read_flags(const char *path, uint64_t flags, uint64_t mono_ns,
                                  uint64_t image, size_t n)
{
    readout *o = read_path(path);
    CHECK(o->open_rc == 0, "open %s: %s", path, o->msg);
    CHECK(o->h.flags == flags && o->h.pid == 4242 && o->h.ppid == 1 &&
          o->h.start_ns == 1700000000000000000ull && o->h.page_size == 4096 &&
          o->h.sample_us == 10000 && o->h.mono_ns == mono_ns && o->h.image == image,
          "header integers differ");
    CHECK(o->h.cmdline_len == 13 && !memcmp(o->cmdline, "./basic\0--n\0" "3", 13),
          "header cmdline differs (%zu bytes)", o->h.cmdline_len);
    CHECK(o->h.options_len == 23 && !memcmp(o->options, "sample_us=10000 level=3", 23),
          "header options differ");
    CHECK(o->rc == 0 && o->early == 0, "rc %d early %d %s", o->rc, o->early, o->msg);
    char why[128];
    for (size_t i = 0; i < n && i < o->n; i++)
        CHECK(!rec_diff(&golden[i], &o->r[i], why, sizeof why), "record %zu (kind %u): %s", i,
              golden[i].kind, why);
    return o;
}

static readout *golden_read(const char *path, uint64_t mono_ns, uint64_t image, size_t n)
{
    return golden_read_flags(path, 0, mono_ns, image, n);
}

static void golden_v1_basic_reads(void)
{
    size_t n = sizeof golden / sizeof *golden;
    readout *o = golden_read(GOLDEN_DIR "/v1-basic.bin", 0, 0, n);
    CHECK(o->n == n, "%zu records, want %zu", o->n, n);
}

/* tests/golden/v2-basic.bin: the same records as v1's, then a FAILED (1 TiB, malloc,
 * stack 1) and an EXEC, and the version-2 trailer (flags 24: by the sink, exec'd; end
 * 0; counts of kinds 1..18); the header's appended mono_ns and image. */
static void golden_v2_basic_reads(void)
{
    size_t n = sizeof golden / sizeof *golden;
    readout *o = golden_read(GOLDEN_DIR "/v2-basic.bin", 123456789000ull, 1, n - 1);
    CHECK(o->n == n + 2, "%zu records, want %zu", o->n, n + 2);
    char why[128];
    rec failed = {R(FT_FAILED, 0, 0), .size = 1ull << 40, .allocator = FT_A_MALLOC, .stack = 1};
    rec exec = {R(FT_EXEC, 0, 0), .str = "/bin/true", .len = 9};
    rec trailer = {R(FT_TRAILER, 0, 0), .a = FT_T_SINK | FT_T_EXEC, .b = 20000, .c = 0,
                   .ncounts = 18,
                   .counts = {0, 4, 4, 1, 1, 1, 3, 1, 1, 2, 1, 1, 2, 3, 1, 0, 0, 1, 1}};
    if (o->n == n + 2) {
        CHECK(!rec_diff(&failed, &o->r[n - 1], why, sizeof why), "failed: %s", why);
        CHECK(!rec_diff(&exec, &o->r[n], why, sizeof why), "exec: %s", why);
        CHECK(!rec_diff(&trailer, &o->r[n + 1], why, sizeof why), "trailer: %s", why);
    }
}

/* tests/golden/v3-native.bin: version 3 (header flag --native): v2-basic's records,
 * then a STRING, a MODULE (path string 3, bias and start 0x7f1000000000, 64 KiB, build
 * id 01 02 03 04), two NATIVE_FRAMEs (stack 2: under stack 1, module 1, offset 0x1234;
 * stack 3: under 2, no module, address 0xdead), an ALLOC in stack 3, and a trailer
 * that counts kinds 1..21. */
static void golden_v3_native_reads(void)
{
    size_t n = sizeof golden / sizeof *golden;
    readout *o = golden_read_flags(GOLDEN_DIR "/v3-native.bin", FT_H_NATIVE, 123456789000ull, 1,
                                   n - 1);
    CHECK(o->n == n + 7, "%zu records, want %zu", o->n, n + 7);
    char why[128];
    rec want[] = {
        {R(FT_STRING, 0, 0), .a = 3, .str = "/usr/lib/libx.so", .len = 16},
        {R(FT_MODULE, 0, 0), .a = 3, .addr = 0x7f1000000000, .b = 0x7f1000000000, .c = 0x10000,
         .str = "\x01\x02\x03\x04", .len = 4},
        {R(FT_NATIVE_FRAME, 0, 0), .stack = 1, .c = 1, .a = 1, .b = 0x1234},
        {R(FT_NATIVE_FRAME, 0, 0), .stack = 2, .c = 2, .a = 0, .b = 0xdead},
        {R(FT_ALLOC, W, 0), .addr = 0x5555555593a0, .size = 64, .allocator = FT_A_MALLOC,
         .stack = 3},
        {R(FT_TRAILER, 0, 0), .a = FT_T_SINK | FT_T_EXEC, .b = 20000, .c = 0, .ncounts = 21,
         .counts = {0, 5, 4, 1, 1, 1, 3, 1, 1, 3, 1, 1, 2, 3, 1, 0, 0, 1, 1, 0, 1, 2}},
    };
    for (size_t i = 0; o->n == n + 7 && i < sizeof want / sizeof *want; i++)
        CHECK(!rec_diff(&want[i], &o->r[n + 1 + i], why, sizeof why), "record %zu (kind %u): %s",
              n + 1 + i, want[i].kind, why);
}

static void zstd_output_deterministic(void)
{
    /* Same records, same level: the same frame bytes, from fresh writers and from a
     * reused one (so golden traces can be regenerated and compared byte for byte). */
    ft_frame *f = raw_frame(NULL, 0);
    for (uint64_t i = 0; ft_frame_room(f) > 1000 && i < 20000; i++) {
        if (i % 3)
            ft_enc_alloc(f, 0x555555550000 + i * 48 % 7777, i % 100, 1 + (uint32_t)(i % 2), 0);
        else
            ft_enc_free(f, 0x555555550000 + (i - 3) * 48 % 7777);
    }
    static const int levels[] = {1, 3, 19};
    for (size_t l = 0; l < 3; l++) {
        uint8_t *bytes[2];
        off_t size[2];
        for (int k = 0; k < 2; k++) {
            trace t;
            tr_begin(&t, NULL, levels[l]);
            tr_frame(&t, f);
            tr_frame(&t, f);
            size[k] = lseek(t.fd, 0, SEEK_CUR);
            bytes[k] = malloc((size_t)size[k]);
            CHECK(pread(t.fd, bytes[k], (size_t)size[k], 0) == size[k], "pread");
            tr_end(&t);
            unlink(t.path);
        }
        CHECK(size[0] == size[1] && !memcmp(bytes[0], bytes[1], (size_t)size[0]),
              "level %d: two writers made different bytes", levels[l]);
        CHECK(size[0] % 2 == 0 && !memcmp(bytes[0], bytes[0] + size[0] / 2, (size_t)size[0] / 2),
              "level %d: a reused writer made a different frame", levels[l]);
        free(bytes[0]);
        free(bytes[1]);
    }
}

static const struct check_case cases[] = {
    {"crc32-check-value", crc32_check_value},
    {"varint-roundtrip-edges", varint_roundtrip_edges},
    {"svarint-negative-deltas", svarint_negative_deltas},
    {"planes-narrow-wide-edges", planes_narrow_wide_edges},
    {"varint-over-64-bits-rejected", varint_over_64_bits_rejected},
    {"header-roundtrip", header_roundtrip},
    {"header-crc-mismatch-rejected", header_crc_mismatch_rejected},
    {"header-bad-magic-version-length-rejected", header_bad_magic_version_length_rejected},
    {"header-cut-short-rejected", header_cut_short_rejected},
    {"writer-reader-roundtrip", writer_reader_roundtrip},
    {"registers-reset-at-frame-start", registers_reset_at_frame_start},
    {"trailer-count-mismatch-rejected", trailer_count_mismatch_rejected},
    {"undefined-stack-id-rejected", undefined_stack_id_rejected},
    {"undefined-string-function-thread-rejected", undefined_string_function_thread_rejected},
    {"reserved-kind-rejected", reserved_kind_rejected},
    {"native-records-read", native_records_read},
    {"native-records-rejected", native_records_rejected},
    {"bad-allocator-rejected", bad_allocator_rejected},
    {"undefined-flags-rejected", undefined_flags_rejected},
    {"resident-roundtrip", resident_roundtrip},
    {"string-length-limit", string_length_limit},
    {"record-cut-at-ops-end-rejected", record_cut_at_ops_end_rejected},
    {"plane-count-mismatch-rejected", plane_count_mismatch_rejected},
    {"frame-over-1MiB-ends-the-trace", frame_over_1MiB_ends_the_trace},
    {"damaged-middle-frame-ends-the-trace", damaged_middle_frame_ends_the_trace},
    {"truncated-final-frame-ends-early", truncated_final_frame_ends_early},
    {"every-body-cut-reads-whole-frames", every_body_cut_reads_whole_frames},
    {"corrupt-frame-records-not-used", corrupt_frame_records_not_used},
    {"data-after-trailer-rejected", data_after_trailer_rejected},
    {"worked-example-bytes", worked_example_bytes},
    {"empty-frame-writes-nothing", empty_frame_writes_nothing},
    {"golden-v1-basic-reads", golden_v1_basic_reads},
    {"golden-v2-basic-reads", golden_v2_basic_reads},
    {"golden-v3-native-reads", golden_v3_native_reads},
    {"zstd-output-deterministic", zstd_output_deterministic},
    {"heap-batches-random-frames", heap_batches_random_frames},
};

int main(int argc, char **argv)
{
    return check_main(cases, sizeof cases / sizeof *cases, argc, argv, "");
}
