/* ft_reader.c: streams a trace back, record by record, trusting nothing. Every length,
 * id and count is checked before use; a frame's records are handed out only after
 * zstd has decoded the whole frame and verified its checksum. Errors name the byte
 * offset of the frame in the file and of the record inside the frame's data.
 * Memory: one input buffer and one frame buffer, whatever the trace's size. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include "ft_enc.h"

/* The input buffer holds the next frame whole when it can (IN_AHEAD: the most a frame
 * of FT_FRAME_MAX bytes compresses to, and more): zstd then decodes it in one pass,
 * straight into r->frame, where it would otherwise decode block by block into a buffer
 * of its own and copy out. */
#define IN_AHEAD (ZSTD_COMPRESSBOUND(FT_FRAME_MAX + 1) + 64)

struct ft_reader {
    int fd;
    unsigned version;           /* the file's format version */
    ft_header hdr;
    uint8_t *hbuf;              /* header payload; hdr's strings point into it */
    ZSTD_DCtx *dctx;
    uint8_t *in; size_t in_cap; /* compressed input */
    ZSTD_inBuffer zin;
    uint64_t in_base;           /* file offset of in[0] */
    uint64_t file_size;
    int eof;
    uint8_t *frame;             /* decoded frame content */
    const uint8_t *p, *end;     /* the ops stream of the current frame */
    const uint8_t *ops;         /* its start, for error offsets */
    const uint8_t *a[3], *s[2]; /* address and size planes */
    const uint8_t *rs;          /* recycle slot plane */
    size_t na, ns, nr, ai, si, ri; /* plane lengths and positions */
    uint64_t frame_off;         /* file offset of the current frame */
    ft_regs regs;
    uint64_t freed[FT_RECYCLE]; /* regs.freed */
    uint32_t nstrings, nfuncs, nnodes, nthreads, nmodules;
    uint64_t seen[FT_KIND_COUNT];
    uint64_t counts[32];
    int trailer, early;
    uint64_t cut; /* the offset of a frame the file ends inside (dropped), or 0 */
    int damaged;  /* that frame was damaged (msg says how), not cut short */
    char msg[256];
};

static int fail(ft_reader *r, int err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->msg, sizeof r->msg, fmt, ap);
    va_end(ap);
    return err;
}

/* A frame that cannot be decoded ends the readable prefix (FORMAT.md, "Damage"):
 * msg says why, and the body ends early before it. Returns 0, as next_frame at the end. */
static int damaged(ft_reader *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->msg, sizeof r->msg, fmt, ap);
    va_end(ap);
    ZSTD_DCtx_reset(r->dctx, ZSTD_reset_session_only);
    r->cut = r->frame_off;
    r->damaged = 1;
    r->eof = 1;
    r->zin.pos = r->zin.size; /* nothing after it is read */
    return 0;
}

/* A record error, located by frame offset and position in the frame's data. */
static int bad(ft_reader *r, const uint8_t *at, const char *what)
{
    return fail(r, FT_E_RECORD, "offset %llu: bad record at byte %llu of the frame's ops: %s",
                (unsigned long long)r->frame_off,
                (unsigned long long)(at - r->ops), what);
}

static int read_full(int fd, void *buf, size_t n)
{
    uint8_t *p = buf;
    size_t got = 0;
    while (got < n) {
        ssize_t k = read(fd, p + got, n - got);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return -1;
        if (k == 0)
            break;
        got += (size_t)k;
    }
    return (int)(got == n);
}

static uint32_t get_u32(const uint8_t *p)
{
    return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Varint from [*pp, end); 0 on success, -1 if it runs past end or past 64 bits. */
static inline int get_varint(const uint8_t **pp, const uint8_t *end, uint64_t *v)
{
    const uint8_t *p = *pp;
    if (p < end && *p < 0x80) { /* the common one-byte case */
        *v = *p;
        *pp = p + 1;
        return 0;
    }
    uint64_t x = 0;
    for (unsigned shift = 0; shift < 64; shift += 7) {
        if (p >= end)
            return -1;
        uint8_t b = *p++;
        if (shift == 63 && b > 1)
            return -1;
        x |= (uint64_t)(b & 0x7f) << shift;
        if (b < 0x80) {
            *v = x;
            *pp = p;
            return 0;
        }
    }
    return -1;
}

static inline uint64_t unzigzag(uint64_t z)
{
    return (z >> 1) ^ (0 - (z & 1));
}

static inline int get_svarint(const uint8_t **pp, const uint8_t *end, uint64_t *v)
{
    uint64_t z;
    if (get_varint(pp, end, &z))
        return -1;
    *v = unzigzag(z);
    return 0;
}

static int get_string(const uint8_t **pp, const uint8_t *end, size_t max, const char **s,
                      size_t *n)
{
    uint64_t len;
    if (get_varint(pp, end, &len) || len > max || len > (uint64_t)(end - *pp))
        return -1;
    *s = (const char *)*pp;
    *n = (size_t)len;
    *pp += len;
    return 0;
}

/* The N of "sample_bytes=N" among the options (space-separated key=value), or 0. */
static uint64_t sample_bytes(const ft_header *h)
{
    static const char key[] = "sample_bytes=";
    const char *s = h->options, *e = s + h->options_len;
    while (s < e) {
        const char *w = memchr(s, ' ', (size_t)(e - s));
        w = w ? w : e;
        if ((size_t)(w - s) > sizeof key - 1 && !memcmp(s, key, sizeof key - 1)) {
            uint64_t n = 0;
            for (const char *d = s + sizeof key - 1; d < w; d++) {
                if (*d < '0' || *d > '9' || n > (1ull << 40))
                    return 0;
                n = n * 10 + (uint64_t)(*d - '0');
            }
            return n <= (1ull << 40) ? n : 0;
        }
        s = w + 1;
    }
    return 0;
}

static int parse_header(ft_reader *r, uint32_t hlen)
{
    const uint8_t *p = r->hbuf, *e = r->hbuf + hlen;
    ft_header *h = &r->hdr;
    uint64_t *ints[] = {&h->flags, &h->pid, &h->ppid, &h->start_ns, &h->page_size,
                        &h->sample_us};
    for (size_t i = 0; i < sizeof ints / sizeof *ints; i++)
        if (get_varint(&p, e, ints[i]))
            return fail(r, FT_E_HEADER, "offset %llu: header field %zu is cut short",
                        (unsigned long long)(16 + (p - r->hbuf)), i + 1);
    if (get_string(&p, e, FT_HEADER_MAX, &h->cmdline, &h->cmdline_len) ||
        get_string(&p, e, FT_HEADER_MAX, &h->options, &h->options_len))
        return fail(r, FT_E_HEADER, "offset %llu: header string is cut short",
                    (unsigned long long)(16 + (p - r->hbuf)));
    /* Appended fields: each one absent (0) when the payload ends before it. */
    uint64_t *more[] = {&h->mono_ns, &h->image};
    for (size_t i = 0; i < sizeof more / sizeof *more && p < e; i++)
        if (get_varint(&p, e, more[i]))
            return fail(r, FT_E_HEADER, "offset %llu: header field %zu is cut short",
                        (unsigned long long)(16 + (p - r->hbuf)), i + 9);
    if (h->flags & ~(uint64_t)(r->version >= 3 ? FT_H_ALL
                                                : FT_H_ALL & ~(FT_H_RESIDENT | FT_H_SAMPLED)))
        return fail(r, FT_E_HEADER, "offset 16: unknown recording flags %#llx",
                    (unsigned long long)h->flags);
    if ((h->flags & FT_H_SAMPLED) && !(h->sample_bytes = sample_bytes(h)))
        return fail(r, FT_E_HEADER, "offset 16: a sampled trace whose options do not say "
                    "sample_bytes=N (N from 1 to 2^40)");
    if (h->page_size < 512 || h->page_size > (1u << 30) || (h->page_size & (h->page_size - 1)))
        return fail(r, FT_E_HEADER, "offset 16: bad page size %llu",
                    (unsigned long long)h->page_size);
    return 0;
}

int ft_reader_open(ft_reader **out, const char *path)
{
    ft_reader *r = calloc(1, sizeof *r);
    *out = r;
    if (!r)
        return FT_E_NOMEM;
    r->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (r->fd < 0)
        return fail(r, FT_E_IO, "%s", strerror(errno));
    struct stat st;
    if (fstat(r->fd, &st) == 0 && S_ISDIR(st.st_mode))
        return fail(r, FT_E_IO, "is a directory");
    r->file_size = fstat(r->fd, &st) == 0 ? (uint64_t)st.st_size : 0;
    uint8_t fixed[16];
    int ok = read_full(r->fd, fixed, 16);
    if (ok < 0)
        return fail(r, FT_E_IO, "%s", strerror(errno));
    if (!ok || memcmp(fixed, FT_MAGIC, 8))
        return fail(r, FT_E_MAGIC, "offset 0: not a filrec trace (bad magic)");
    uint32_t version = get_u32(fixed + 8), hlen = get_u32(fixed + 12);
    if (version < 1 || version > FT_VERSION)
        return fail(r, FT_E_VERSION, "offset 8: trace version %u, this filrec reads 1 to %u",
                    version, FT_VERSION);
    r->version = version;
    if (hlen > FT_HEADER_MAX)
        return fail(r, FT_E_HEADER, "offset 12: header length %u over the limit", hlen);
    r->hbuf = malloc((size_t)hlen + 4);
    if (!r->hbuf)
        return fail(r, FT_E_NOMEM, "out of memory");
    ok = read_full(r->fd, r->hbuf, (size_t)hlen + 4);
    if (ok <= 0)
        return fail(r, FT_E_HEADER, "offset 16: header is cut short");
    if (ft_crc32(0, r->hbuf, hlen) != get_u32(r->hbuf + hlen))
        return fail(r, FT_E_HEADER, "offset %u: header checksum mismatch", 16 + hlen);
    int err = parse_header(r, hlen);
    if (err)
        return err;
    r->in_base = 16 + (uint64_t)hlen + 4;
    r->in_cap = 2 * IN_AHEAD;
    r->in = malloc(r->in_cap);
    r->frame = malloc(FT_FRAME_MAX + 1);
    r->dctx = ZSTD_createDCtx();
    if (!r->in || !r->frame || !r->dctx)
        return fail(r, FT_E_NOMEM, "out of memory");
    /* Frames hold at most 1 MiB, so a larger window can only be hostile. */
    ZSTD_DCtx_setParameter(r->dctx, ZSTD_d_windowLogMax, 21);
    r->zin = (ZSTD_inBuffer){r->in, 0, 0};
    r->p = r->end = r->frame;
    r->nthreads = 1;
    return 0;
}

/* Refill the input buffer; returns bytes now available, 0 at end of file, -1 on error. */
static int refill(ft_reader *r)
{
    r->in_base += r->zin.pos;
    size_t keep = r->zin.size - r->zin.pos;
    memmove(r->in, r->in + r->zin.pos, keep);
    r->zin = (ZSTD_inBuffer){r->in, keep, 0};
    while (!r->eof && r->zin.size < r->in_cap) {
        ssize_t k = read(r->fd, r->in + r->zin.size, r->in_cap - r->zin.size);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return -1;
        if (k == 0)
            r->eof = 1;
        r->zin.size += (size_t)k;
    }
    return (int)(r->zin.size > 0);
}

/* Find the streams in a decoded frame of n bytes (FORMAT.md, "Frame content"). */
static int split_frame(ft_reader *r, size_t n)
{
    const uint8_t *p = r->frame, *e = r->frame + n;
    uint64_t len[FT_STREAMS], sum = 0;
    if (n == 0) { /* a skippable frame: nothing in it */
        r->p = r->end = r->ops = r->frame;
        r->na = r->ns = r->nr = r->ai = r->si = r->ri = 0;
        return 1;
    }
    for (int i = 0; i < FT_STREAMS; i++) {
        if (get_varint(&p, e, &len[i]) || len[i] > n)
            return fail(r, FT_E_RECORD, "offset %llu: frame stream lengths are corrupt",
                        (unsigned long long)r->frame_off);
        sum += len[i];
    }
    if (sum != (uint64_t)(e - p) || len[1] != len[2] || len[1] != len[3] || len[4] != len[5])
        return fail(r, FT_E_RECORD, "offset %llu: frame stream lengths do not add up",
                    (unsigned long long)r->frame_off);
    r->ops = r->p = p;
    r->end = p += len[0];
    for (int i = 0; i < 3; i++, p += len[1])
        r->a[i] = p;
    for (int i = 0; i < 2; i++, p += len[4])
        r->s[i] = p;
    r->rs = p;
    r->na = len[1];
    r->ns = len[4];
    r->nr = len[6];
    r->ai = r->si = r->ri = 0;
    r->regs.freed = r->freed;
    ft_regs_reset(&r->regs);
    return 1;
}

/* Whether a zstd frame magic follows off in the file: a frame that runs into another
 * one is damaged, not cut short. Unreadable (not a regular file): assume so. */
static int magic_after(const ft_reader *r, uint64_t off)
{
    uint8_t buf[65536];
    size_t carry = 0;
    for (;;) {
        ssize_t k = pread(r->fd, buf + carry, sizeof buf - carry, (off_t)off);
        if (k < 0)
            return 1;
        if (k == 0)
            return 0;
        size_t n = carry + (size_t)k;
        for (size_t i = 0; i + 4 <= n; i++)
            if (get_u32(buf + i) == 0xFD2FB528u)
                return 1;
        carry = n < 3 ? n : 3;
        memmove(buf, buf + n - carry, carry);
        off += (uint64_t)k;
    }
}

/* Decode the next whole frame into r->frame. 1: a frame; 0: end of the body (no bytes
 * left, or only the start of a frame the file ends inside); negative: error. */
static int next_frame(ft_reader *r)
{
    ZSTD_outBuffer out = {r->frame, FT_FRAME_MAX + 1, 0};
    if (r->zin.size - r->zin.pos < IN_AHEAD && !r->eof && refill(r) < 0)
        return fail(r, FT_E_IO, "offset %llu: %s", (unsigned long long)r->in_base, strerror(errno));
    if (r->zin.size == r->zin.pos)
        return 0;
    r->frame_off = r->in_base + r->zin.pos;
    /* Every zstd frame must carry a content checksum (Frame_Header_Descriptor bit 2):
     * without it a flipped bit could pass unseen. Skippable frames carry no records. */
    while (r->zin.size - r->zin.pos < 5 && !r->eof)
        if (refill(r) < 0)
            return fail(r, FT_E_IO, "offset %llu: %s", (unsigned long long)r->in_base,
                        strerror(errno));
    const uint8_t *h = r->in + r->zin.pos;
    if (r->zin.size - r->zin.pos >= 5) {
        uint32_t magic = get_u32(h);
        if (magic == 0xFD2FB528u && !(h[4] & 4))
            return damaged(r, "offset %llu: frame has no checksum",
                        (unsigned long long)r->frame_off);
        if (magic != 0xFD2FB528u && (magic & 0xFFFFFFF0u) != 0x184D2A50u)
            return damaged(r, "offset %llu: not a zstd frame",
                        (unsigned long long)r->frame_off);
    }
    for (;;) {
        size_t ret = ZSTD_decompressStream(r->dctx, &out, &r->zin);
        if (ZSTD_isError(ret)) {
            return damaged(r, "offset %llu: corrupt compressed frame: %s",
                        (unsigned long long)r->frame_off, ZSTD_getErrorName(ret));
        }
        if (out.pos > FT_FRAME_MAX)
            return damaged(r, "offset %llu: frame holds more than %u bytes",
                        (unsigned long long)r->frame_off, FT_FRAME_MAX);
        if (ret == 0)
            break;
        if (r->zin.pos == r->zin.size) {
            int k = refill(r);
            if (k < 0)
                return fail(r, FT_E_IO, "offset %llu: %s", (unsigned long long)r->in_base,
                            strerror(errno));
            if (k == 0 || (r->eof && r->zin.pos == r->zin.size)) {
                /* The file ends inside its last frame: a process killed in the middle
                 * of writing one (Linux stops a write at a page when SIGKILL comes).
                 * That frame is dropped; the trace ends early before it. A frame whose
                 * damaged header made it swallow the frames after it is an error. */
                if (magic_after(r, r->frame_off + 4))
                    return damaged(r, "offset %llu: damaged frame: it runs into the next "
                                   "one", (unsigned long long)r->frame_off);
                ZSTD_DCtx_reset(r->dctx, ZSTD_reset_session_only);
                r->cut = r->frame_off;
                return 0;
            }
        }
    }
    return split_frame(r, out.pos);
}

/* The address delta at index i of the address planes: zigzag(delta / 16), 24 bits. */
static inline uint64_t plane_delta(const ft_reader *r, size_t i)
{
    uint64_t z = r->a[0][i] | (uint64_t)r->a[1][i] << 8 | (uint64_t)r->a[2][i] << 16;
    return unzigzag(z) << 4;
}

/* The size at index i of the size planes, 16 bits. */
static inline uint64_t plane_size(const ft_reader *r, size_t i)
{
    return r->s[0][i] | (uint64_t)r->s[1][i] << 8;
}

#define NEED(expr, what) do { if (expr) return bad(r, at, what); } while (0)

static int parse_trailer(ft_reader *r, const uint8_t **pp, const uint8_t *at, ft_record *rec)
{
    const uint8_t *p = *pp, *e = r->end;
    uint64_t n;
    NEED(get_varint(&p, e, &rec->a) || rec->a > (r->version >= 2 ? FT_T_ALL : 7),
         "trailer flags");
    NEED(get_varint(&p, e, &rec->b), "trailer time");
    rec->c = 0;
    NEED(r->version >= 2 && (get_varint(&p, e, &rec->c) || rec->c > 0x10000), "trailer end");
    NEED(get_varint(&p, e, &n) || n > 31, "trailer header");
    for (uint64_t k = 1; k <= n; k++)
        NEED(get_varint(&p, e, &r->counts[k]), "trailer count cut short");
    for (unsigned k = 1; k < 32; k++) {
        uint64_t want = k <= n ? r->counts[k] : 0, got = k < FT_KIND_COUNT ? r->seen[k] : 0;
        if (k == FT_TRAILER)
            continue;
        if (k <= n && want != got) {
            return fail(r, FT_E_RECORD, "offset %llu: trailer counts %llu records of kind %u, "
                        "the trace holds %llu", (unsigned long long)r->frame_off,
                        (unsigned long long)want, k, (unsigned long long)got);
        }
    }
    NEED(p != e || r->ai != r->na || r->si != r->ns || r->ri != r->nr,
         "trailer is not the last record of its frame");
    rec->counts = r->counts;
    rec->ncounts = (unsigned)n;
    r->trailer = 1;
    *pp = p;
    return 0;
}

/* Read the string-carrying and definition records: everything but the hot kinds. */
static int parse_rare(ft_reader *r, const uint8_t **pp, const uint8_t *at, ft_record *rec)
{
    const uint8_t *p = *pp, *e = r->end;
    NEED(rec->kind != FT_MARKER && rec->kind < FT_KIND_COUNT && rec->flags,
         "flags set on a kind that has none");
    switch (rec->kind) {
    case FT_THREAD_START:
        NEED(get_varint(&p, e, &rec->a) || rec->a != r->nthreads, "thread start out of order");
        NEED(get_varint(&p, e, &rec->b) || rec->b >= r->nthreads, "thread start parent");
        NEED(get_varint(&p, e, &rec->c), "thread start os tid");
        NEED(get_varint(&p, e, &rec->addr) || rec->addr > r->nnodes, "thread start stack");
        NEED(r->nthreads == UINT32_MAX, "too many threads");
        rec->stack = (uint32_t)rec->addr;
        r->nthreads++;
        break;
    case FT_THREAD_NAME:
        NEED(get_varint(&p, e, &rec->a) || rec->a >= r->nthreads, "thread name: unknown thread");
        NEED(get_string(&p, e, FT_STRING_MAX, &rec->str, &rec->len), "thread name string");
        break;
    case FT_STRING:
        NEED(get_string(&p, e, FT_STRING_MAX, &rec->str, &rec->len), "string cut short");
        NEED(r->nstrings == UINT32_MAX, "too many strings");
        rec->a = ++r->nstrings;
        break;
    case FT_FUNCTION:
        NEED(get_varint(&p, e, &rec->a) || rec->a > r->nstrings, "function name: unknown string");
        NEED(get_varint(&p, e, &rec->b) || rec->b > r->nstrings, "function file: unknown string");
        NEED(get_varint(&p, e, &rec->c) || rec->c > UINT32_MAX, "function first line");
        NEED(r->nfuncs == UINT32_MAX, "too many functions");
        r->nfuncs++;
        break;
    case FT_STACK_NODE:
        NEED(get_varint(&p, e, &rec->c) || rec->c > r->nnodes, "stack node: unknown parent");
        NEED(get_varint(&p, e, &rec->a) || rec->a == 0 || rec->a > r->nfuncs,
             "stack node: unknown function");
        NEED(get_varint(&p, e, &rec->b) || rec->b > UINT32_MAX, "stack node line");
        NEED(r->nnodes == UINT32_MAX - 1, "too many stack nodes");
        rec->stack = (uint32_t)rec->c;
        r->nnodes++;
        break;
    case FT_SAMPLE:
        NEED(get_varint(&p, e, &rec->a) || get_varint(&p, e, &rec->b), "sample cut short");
        break;
    case FT_MARKER:
        rec->a = rec->flags >> 5;
        NEED(rec->a > 2, "marker type");
        NEED(get_string(&p, e, FT_STRING_MAX, &rec->str, &rec->len), "marker label");
        break;
    case FT_FORK:
        NEED(get_varint(&p, e, &rec->a), "fork cut short");
        break;
    case FT_FAILED:
        NEED(r->version < 2, "kind 18 (failed) is not defined in version 1");
        NEED(get_varint(&p, e, &rec->size), "failed allocation size");
        NEED(get_varint(&p, e, &rec->a) || rec->a >= FT_A_COUNT, "failed allocation allocator");
        NEED(get_varint(&p, e, &rec->addr) || rec->addr > r->nnodes, "failed allocation stack");
        rec->allocator = (uint32_t)rec->a;
        rec->stack = (uint32_t)rec->addr;
        rec->addr = 0;
        break;
    case FT_EXEC:
        NEED(r->version < 2, "kind 17 (exec) is not defined in version 1");
        NEED(get_string(&p, e, FT_STRING_MAX, &rec->str, &rec->len), "exec path");
        break;
    case FT_MODULE:
        NEED(r->version < 3, "kind 20 (module) is not defined before version 3");
        NEED(get_varint(&p, e, &rec->a) || rec->a == 0 || rec->a > r->nstrings,
             "module path: unknown string");
        NEED(get_varint(&p, e, &rec->addr), "module bias");
        NEED(get_varint(&p, e, &rec->b) || get_varint(&p, e, &rec->c) || rec->c == 0 ||
                 rec->b + rec->c < rec->b, "module range");
        NEED(get_string(&p, e, FT_BUILD_ID_MAX, &rec->str, &rec->len), "module build id");
        NEED(r->nmodules == UINT32_MAX, "too many modules");
        r->nmodules++;
        break;
    case FT_NATIVE_FRAME:
        NEED(r->version < 3, "kind 21 (native frame) is not defined before version 3");
        NEED(get_varint(&p, e, &rec->c) || rec->c > r->nnodes, "native frame: unknown parent");
        NEED(get_varint(&p, e, &rec->a) || rec->a > r->nmodules, "native frame: unknown module");
        NEED(get_varint(&p, e, &rec->b), "native frame offset");
        NEED(r->nnodes == UINT32_MAX - 1, "too many stack nodes");
        rec->stack = (uint32_t)rec->c;
        r->nnodes++;
        break;
    case FT_TRAILER:
        return parse_trailer(r, pp, at, rec);
    default:
        if (rec->kind >= FT_KIND_COUNT || rec->kind == 19) {
            snprintf(r->msg, sizeof r->msg, "offset %llu: bad record at byte %llu of the "
                     "frame's ops: kind %u is reserved (%s)", (unsigned long long)r->frame_off,
                     (unsigned long long)(at - r->ops), rec->kind,
                     "not defined in this version");
            return FT_E_RECORD;
        }
        return bad(r, at, "kind 0 is invalid");
    }
    *pp = p;
    return 0;
}

int ft_reader_next(ft_reader *r, ft_record *rec)
{
    while (r->p == r->end) {
        if (r->ai != r->na || r->si != r->ns || r->ri != r->nr)
            return fail(r, FT_E_RECORD, "offset %llu: frame planes hold values no record uses",
                        (unsigned long long)r->frame_off);
        int k = next_frame(r);
        if (k < 0)
            return k;
        if (r->trailer && ((k == 1 && r->end > r->frame) || (k == 0 && r->cut)))
            return fail(r, FT_E_AFTER_END, "offset %llu: data after the trailer",
                        (unsigned long long)r->frame_off);
        if (k == 0) {
            r->early = !r->trailer;
            return 0;
        }
    }
    const uint8_t *at = r->p, *p = at + 1, *e = r->end;
    ft_regs *g = &r->regs;
    uint64_t d;
    rec->kind = *at & FT_KIND_MASK;
    rec->flags = *at & ~FT_KIND_MASK;
    switch (rec->kind) {
    case FT_RALLOC:
        NEED(rec->flags & FT_F2, "recycled alloc flags");
        NEED(r->ri >= r->nr || r->si >= r->ns, "recycled alloc: planes run out");
        NEED(!g->freed[r->rs[r->ri]], "recycled alloc: slot holds no freed address");
        d = g->freed[r->rs[r->ri++]] - g->addr;
        rec->size = plane_size(r, r->si++);
        rec->kind = FT_ALLOC;
        goto alloc_tail;
    case FT_ALLOC:
        if (rec->flags & FT_F2) {
            NEED(get_svarint(&p, e, &d) || get_varint(&p, e, &rec->size), "alloc cut short");
        } else {
            NEED(r->ai >= r->na || r->si >= r->ns, "alloc: planes run out");
            d = plane_delta(r, r->ai++);
            rec->size = plane_size(r, r->si++);
        }
    alloc_tail:
        g->addr += d;
        if (!(rec->flags & FT_F1)) {
            NEED(get_varint(&p, e, &d) || d == 0 || d >= FT_A_COUNT, "alloc: unknown allocator");
            g->allocator = (uint32_t)d;
        }
        if (!(rec->flags & FT_F0)) {
            NEED(get_varint(&p, e, &d) || d > r->nnodes, "alloc: unknown stack");
            g->stack = (uint32_t)d;
        }
        rec->addr = g->addr;
        rec->allocator = g->allocator;
        rec->stack = g->stack;
        break;
    case FT_FREE:
        NEED(rec->flags & ~FT_F2, "free flags");
        if (rec->flags) {
            NEED(get_svarint(&p, e, &d), "free cut short");
        } else {
            NEED(r->ai >= r->na, "free: planes run out");
            d = plane_delta(r, r->ai++);
        }
        rec->addr = g->addr += d;
        g->freed[ft_recycle_slot(rec->addr)] = rec->addr;
        break;
    case FT_MUNMAP:
        NEED(rec->flags, "flags set on a kind that has none");
        NEED(get_svarint(&p, e, &d) || get_varint(&p, e, &rec->size), "munmap cut short");
        rec->addr = g->addr += d;
        break;
    case FT_MMAP: /* f1: measured (version 3); f2: a file's, with f1 */
        NEED(rec->flags & ~(r->version >= 3 ? FT_F0 | FT_F1 | FT_F2 : FT_F0) ||
                 (rec->flags & (FT_F1 | FT_F2)) == FT_F2,
             "mmap flags");
        NEED(get_svarint(&p, e, &d) || get_varint(&p, e, &rec->size), "mmap cut short");
        rec->addr = g->addr += d;
        if (!(rec->flags & FT_F0)) {
            NEED(get_varint(&p, e, &d) || d > r->nnodes, "mmap: unknown stack");
            g->stack = (uint32_t)d;
        }
        rec->stack = g->stack;
        break;
    case FT_RESIDENT:
        NEED(r->version < 3, "kind 22 (resident) is not defined before version 3");
        NEED(rec->flags, "flags set on a kind that has none");
        NEED(get_svarint(&p, e, &d) || get_varint(&p, e, &rec->size), "resident cut short");
        rec->addr = g->addr += d;
        break;
    case FT_MREMAP:
        NEED(rec->flags, "flags set on a kind that has none");
        NEED(get_svarint(&p, e, &d) || get_varint(&p, e, &rec->size), "mremap cut short");
        rec->addr = g->addr + d;
        NEED(get_svarint(&p, e, &d) || get_varint(&p, e, &rec->size2), "mremap cut short");
        rec->addr2 = g->addr = rec->addr + d;
        break;
    case FT_THREAD:
        NEED(rec->flags, "flags set on a kind that has none");
        NEED(get_varint(&p, e, &rec->a) || rec->a >= r->nthreads, "thread: unknown thread");
        g->thread = (uint32_t)rec->a;
        break;
    default: {
        int err = parse_rare(r, &p, at, rec);
        if (err)
            return err;
    }
    }
    rec->thread = g->thread;
    r->seen[rec->kind]++;
    r->p = p;
    return 1;
}

/* Varint at p (below e) into *v: its end, or NULL if cut short or over 64 bits. */
static inline const uint8_t *varint_at(const uint8_t *p, const uint8_t *e, uint64_t *v)
{
    return get_varint(&p, e, v) ? NULL : p;
}

size_t ft_reader_heap(ft_reader *r, ft_heap *ev, size_t max)
{
    const uint8_t *p = r->p, *e = r->end;
    ft_regs *g = &r->regs;
    uint64_t addr = g->addr, *freed = g->freed;
    uint32_t stack = g->stack, allocator = g->allocator;
    const uint32_t thread = g->thread, nnodes = r->nnodes;
    size_t ai = r->ai, si = r->si, ri = r->ri, n = 0, frees = 0;
    const size_t na = r->na, ns = r->ns, nr = r->nr;
    while (n < max && p < e) {
        unsigned b = *p, kind = b & FT_KIND_MASK, flags = b & ~FT_KIND_MASK;
        const uint8_t *q = p + 1;
        uint64_t z, size;
        if (kind == FT_FREE) {
            if (!flags && ai < na) {
                addr += plane_delta(r, ai++);
            } else if (flags == FT_F2 && (q = varint_at(q, e, &z))) {
                addr += unzigzag(z);
            } else {
                break;
            }
            freed[ft_recycle_slot(addr)] = addr;
            ev[n++] = (ft_heap){addr, 0, 0, thread, 0, FT_FREE};
            frees++;
            p = q;
            continue;
        }
        uint64_t at; /* the ALLOC's address */
        if (kind == FT_RALLOC && !(flags & FT_F2) && ri < nr && si < ns && freed[r->rs[ri]]) {
            at = freed[r->rs[ri++]];
        } else if (kind == FT_ALLOC && !(flags & FT_F2) && ai < na && si < ns) {
            at = addr + plane_delta(r, ai++);
        } else if (kind == FT_ALLOC && (flags & FT_F2) && (q = varint_at(q, e, &z)) &&
                   (q = varint_at(q, e, &size))) {
            at = addr + unzigzag(z);
            goto sized;
        } else {
            break;
        }
        size = plane_size(r, si++);
    sized:;
        uint64_t v;
        uint32_t al = allocator, st = stack;
        if (!(flags & FT_F1)) {
            if (!(q = varint_at(q, e, &v)) || v == 0 || v >= FT_A_COUNT)
                goto undo;
            al = (uint32_t)v;
        }
        if (!(flags & FT_F0)) {
            if (!(q = varint_at(q, e, &v)) || v > nnodes)
                goto undo;
            st = (uint32_t)v;
        }
        addr = at, allocator = al, stack = st;
        ev[n++] = (ft_heap){addr, size, stack, thread, allocator, FT_ALLOC};
        p = q;
        continue;
    undo: /* leave the record whole to ft_reader_next: give back its plane values */
        if (kind == FT_RALLOC)
            ri--;
        else if (!(flags & FT_F2))
            ai--;
        if (!(flags & FT_F2))
            si--;
        break;
    }
    r->p = p;
    r->ai = ai, r->si = si, r->ri = ri;
    g->addr = addr, g->stack = stack, g->allocator = allocator;
    r->seen[FT_ALLOC] += n - frees;
    r->seen[FT_FREE] += frees;
    return n;
}

const ft_header *ft_reader_header(const ft_reader *r) { return &r->hdr; }
int ft_reader_ended_early(const ft_reader *r) { return r->early; }
uint64_t ft_reader_cut_offset(const ft_reader *r) { return r->early ? r->cut : 0; }
uint32_t ft_reader_nstrings(const ft_reader *r) { return r->nstrings; }
unsigned ft_reader_version(const ft_reader *r) { return r->version; }
const char *ft_reader_message(const ft_reader *r) { return r ? r->msg : "out of memory"; }
uint64_t ft_reader_pos(const ft_reader *r) { return r->in_base + r->zin.pos; }
uint64_t ft_reader_size(const ft_reader *r) { return r->file_size; }
uint64_t ft_reader_frame_offset(const ft_reader *r) { return r->frame_off; }
const char *ft_reader_damage(const ft_reader *r) { return r->damaged ? r->msg : NULL; }

void ft_reader_close(ft_reader *r)
{
    if (!r)
        return;
    if (r->fd >= 0)
        close(r->fd);
    ZSTD_freeDCtx(r->dctx);
    free(r->hbuf);
    free(r->in);
    free(r->frame);
    free(r);
}
