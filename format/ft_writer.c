/* ft_writer.c: the header encoder and the frame writer. The recorder fills buffers of
 * whole records with ft_enc.h and hands each to ft_writer_frame, which compresses it
 * into one checksummed zstd frame (FORMAT.md, "Body") and writes it out. */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>
#include <zstd.h>

#include "ft_enc.h"

struct ft_writer {
    int fd;
    ZSTD_CCtx *cctx;
    size_t cap;
    uint8_t *out;
};

const char *ft_strerror(int err)
{
    switch (err) {
    case FT_OK: return "success";
    case FT_E_IO: return "input/output error";
    case FT_E_MAGIC: return "not a filrec trace";
    case FT_E_VERSION: return "unsupported trace version";
    case FT_E_HEADER: return "corrupt header";
    case FT_E_ZSTD: return "corrupt compressed data";
    case FT_E_RECORD: return "corrupt record";
    case FT_E_NOMEM: return "out of memory";
    case FT_E_AFTER_END: return "data after the trailer";
    }
    return "unknown error";
}

uint32_t ft_crc32(uint32_t crc, const void *p, size_t n)
{
    static uint32_t table[256];
    const uint8_t *s = p;
    if (!table[1]) { /* racy but idempotent: every thread computes the same table */
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t c = i;
            for (int k = 0; k < 8; k++)
                c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            table[i] = c;
        }
    }
    crc = ~crc;
    while (n--)
        crc = table[(crc ^ *s++) & 0xff] ^ (crc >> 8);
    return ~crc;
}

static uint8_t *put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        *p++ = (uint8_t)(v >> (8 * i));
    return p;
}

size_t ft_header_encode(uint8_t *out, size_t cap, const ft_header *h)
{
    size_t need = 8 + 4 + 4 + 8 * 10 + 2 * 10 + h->cmdline_len + h->options_len + 4;
    if (need > cap || h->cmdline_len + h->options_len + 80 > FT_HEADER_MAX)
        return 0;
    memcpy(out, FT_MAGIC, 8);
    uint8_t *payload = out + 16, *p = payload;
    p = ft_put_varint(p, h->flags);
    p = ft_put_varint(p, h->pid);
    p = ft_put_varint(p, h->ppid);
    p = ft_put_varint(p, h->start_ns);
    p = ft_put_varint(p, h->page_size);
    p = ft_put_varint(p, h->sample_us);
    p = ft_put_string(p, h->cmdline, h->cmdline_len);
    p = ft_put_string(p, h->options, h->options_len);
    p = ft_put_varint(p, h->mono_ns);
    p = ft_put_varint(p, h->image);
    uint32_t hlen = (uint32_t)(p - payload);
    put_u32(out + 8, h->flags & (FT_H_NATIVE | FT_H_RESIDENT | FT_H_SAMPLED) ? 3 : 2);
    put_u32(out + 12, hlen);
    p = put_u32(p, ft_crc32(0, payload, hlen));
    return (size_t)(p - out);
}

int ft_write_all(int fd, const void *buf, size_t n)
{
    const uint8_t *p = buf;
    while (n > 0) {
        ssize_t k = write(fd, p, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return FT_E_IO;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

int ft_writer_new(ft_writer **out, int fd, int level)
{
    ft_writer *w = calloc(1, sizeof *w);
    *out = w;
    if (!w)
        return FT_E_NOMEM;
    w->fd = fd;
    w->cap = ZSTD_compressBound(FT_FRAME_MAX);
    w->out = malloc(w->cap);
    w->cctx = ZSTD_createCCtx();
    if (!w->out || !w->cctx)
        return FT_E_NOMEM;
    if (ZSTD_isError(ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_compressionLevel, level)) ||
        ZSTD_isError(ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_checksumFlag, 1)))
        return FT_E_ZSTD;
    return 0;
}

int ft_writer_frame(ft_writer *w, const ft_frame *f)
{
    if (ft_frame_empty(f))
        return 0;
    /* Frame content: the stream lengths, then the streams (FORMAT.md). */
    const uint8_t *start[FT_STREAMS];
    const uint8_t *end[FT_STREAMS] = {f->ops, f->a0, f->a0 + FT_STREAM_CAP,
                                      f->a0 + 2 * FT_STREAM_CAP, f->s0, f->s0 + FT_STREAM_CAP,
                                      f->r0};
    for (int i = 0; i < FT_STREAMS; i++)
        start[i] = f->base + (size_t)i * FT_STREAM_CAP;
    uint8_t prefix[FT_STREAMS * 10], *p = prefix;
    size_t total = 0;
    for (int i = 0; i < FT_STREAMS; i++) {
        p = ft_put_varint(p, (uint64_t)(end[i] - start[i]));
        total += (size_t)(end[i] - start[i]);
    }
    total += (size_t)(p - prefix);
    if (total > FT_FRAME_MAX)
        return FT_E_RECORD;
    ZSTD_CCtx_reset(w->cctx, ZSTD_reset_session_only);
    ZSTD_CCtx_setPledgedSrcSize(w->cctx, total);
    ZSTD_outBuffer out = {w->out, w->cap, 0};
    for (int i = -1; i < FT_STREAMS; i++) {
        ZSTD_inBuffer in = i < 0 ? (ZSTD_inBuffer){prefix, (size_t)(p - prefix), 0}
                                 : (ZSTD_inBuffer){start[i], (size_t)(end[i] - start[i]), 0};
        ZSTD_EndDirective mode = i == FT_STREAMS - 1 ? ZSTD_e_end : ZSTD_e_continue;
        for (;;) {
            size_t left = ZSTD_compressStream2(w->cctx, &out, &in, mode);
            if (ZSTD_isError(left))
                return FT_E_ZSTD;
            if (mode == ZSTD_e_end ? left == 0 : in.pos == in.size)
                break;
            if (out.pos == out.size)
                return FT_E_ZSTD; /* cannot happen: out holds compressBound(FT_FRAME_MAX) */
        }
    }
    return ft_write_all(w->fd, w->out, out.pos);
}

void ft_writer_free(ft_writer *w)
{
    if (!w)
        return;
    ZSTD_freeCCtx(w->cctx);
    free(w->out);
    free(w);
}
