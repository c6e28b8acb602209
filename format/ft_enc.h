/* ft_enc.h: record encoders, inline so the recorder's hot path pays no call.
 * A frame is built in one buffer split into six streams (FORMAT.md, "Frame content"):
 * the ops stream takes every kind byte and every field but the hot ones; the hot
 * address deltas and sizes go, byte by byte, into planes, which zstd compresses far
 * better than interleaved varints. Encoders never allocate and never fail: the caller
 * checks ft_frame_room() >= FT_REC_MAX (plus any string length) first. */
#ifndef FT_ENC_H
#define FT_ENC_H

#include <string.h>
#include "ft.h"

/* Per-frame registers (FORMAT.md, "Registers"), reset at each frame start. freed
 * holds, per slot, the last address freed whose slot it is: allocators hand recently
 * freed blocks back, and such an ALLOC is written as its slot (RALLOC). The table is
 * the owner's (FT_RECYCLE words), outside the struct, so that copying the registers
 * to a local (the writer's loop does) is cheap. */
typedef struct ft_regs {
    uint64_t addr;
    uint32_t stack, allocator, thread;
    uint64_t *freed;
} ft_regs;

static inline void ft_regs_reset(ft_regs *r)
{
    r->addr = 0;
    r->stack = 0;
    r->allocator = FT_A_MALLOC;
    r->thread = 0;
    memset(r->freed, 0, FT_RECYCLE * sizeof *r->freed);
}

/* The recycle slot of an address: bits 4-11, above malloc's 16-byte alignment. */
static inline unsigned ft_recycle_slot(uint64_t addr)
{
    return (unsigned)(addr >> 4) & (FT_RECYCLE - 1);
}

/* Stream capacity: every hot record puts one kind byte in ops and at most one byte in
 * each plane, so no plane can fill before ops does; only ops room is ever checked.
 * The frame buffer's last FT_RECYCLE words hold the recycle table. */
#define FT_RECYCLE_BYTES (FT_RECYCLE * sizeof(uint64_t))
#define FT_STREAM_CAP ((FT_FRAME_MAX - 64 - FT_RECYCLE_BYTES) / FT_STREAMS)

/* The planes of one group advance together, FT_STREAM_CAP apart: one pointer per
 * group (a0: address planes 0-2, s0: size planes 0-1, r0: the recycle plane) keeps
 * the hot path at one load and one store of it per record. */
typedef struct ft_frame {
    uint8_t *base;                 /* FT_FRAME_MAX bytes, 8-aligned, owned by the caller */
    uint8_t *ops, *ops_end;
    uint8_t *a0, *s0, *r0;
    ft_regs regs;
} ft_frame;

static inline void ft_frame_init(ft_frame *f, uint8_t *buf)
{
    f->base = buf;
    f->ops = buf;
    f->ops_end = buf + FT_STREAM_CAP;
    f->a0 = buf + 1 * FT_STREAM_CAP;
    f->s0 = buf + 4 * FT_STREAM_CAP;
    f->r0 = buf + 6 * FT_STREAM_CAP;
    f->regs.freed = (uint64_t *)(void *)(buf + FT_FRAME_MAX - FT_RECYCLE_BYTES);
    ft_regs_reset(&f->regs);
}

static inline size_t ft_frame_room(const ft_frame *f) { return (size_t)(f->ops_end - f->ops); }
static inline int ft_frame_empty(const ft_frame *f) { return f->ops == f->base; }

/* varint: 7 bits a byte, low group first, high bit = more follows.
 *   300 = 0b10_0101100 -> ac 02 */
static inline uint8_t *ft_put_varint(uint8_t *p, uint64_t v)
{
    while (v >= 0x80) {
        *p++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *p++ = (uint8_t)v;
    return p;
}

/* zigzag: -1 -> 1, 1 -> 2, -2 -> 3, so small deltas of either sign are small. */
static inline uint64_t ft_zigzag(uint64_t delta)
{
    return (delta << 1) ^ (uint64_t)((int64_t)delta >> 63);
}

static inline uint8_t *ft_put_string(uint8_t *p, const void *s, size_t n)
{
    p = ft_put_varint(p, n);
    if (n) /* s may be NULL when n is 0 */
        memcpy(p, s, n);
    return p + n;
}

/* The plane form of an address delta: zigzag(delta / 16) when the delta is a multiple
 * of 16 and that fits in 24 bits; else UINT64_MAX (the record goes wide). */
static inline uint64_t ft_plane_addr(uint64_t delta)
{
    uint64_t z = ft_zigzag((uint64_t)((int64_t)delta >> 4));
    return (delta & 15) == 0 && z < (1u << 24) ? z : UINT64_MAX;
}

static inline void ft_put_addr_planes(ft_frame *f, uint64_t z)
{
    uint8_t *a = f->a0;
    a[0] = (uint8_t)z;
    a[FT_STREAM_CAP] = (uint8_t)(z >> 8);
    a[2 * FT_STREAM_CAP] = (uint8_t)(z >> 16);
    f->a0 = a + 1;
}

static inline void ft_put_size_planes(ft_frame *f, uint64_t size)
{
    uint8_t *s = f->s0;
    s[0] = (uint8_t)size;
    s[FT_STREAM_CAP] = (uint8_t)(size >> 8);
    f->s0 = s + 1;
}

/* ALLOC: ops [kind|S|K|W] ([allocator] unless K) ([stack] unless S);
 *   not W: address planes <- zigzag(delta/16), size planes <- size (< 65536)
 *   W:     ops <- svarint(delta), varint(size), before allocator and stack
 * RALLOC, when addr is the last address freed in its recycle slot and size < 65536:
 *   ops [kind|S|K], recycle plane <- slot, size planes <- size */
static inline __attribute__((always_inline)) void
ft_enc_alloc(ft_frame *f, uint64_t addr, uint64_t size, uint32_t allocator, uint32_t stack)
{
    ft_regs *r = &f->regs;
    uint8_t *k = f->ops, *p = k + 1;
    unsigned flags = 0, kind = FT_ALLOC, slot = ft_recycle_slot(addr);
    uint64_t z = ft_plane_addr(addr - r->addr);
    unsigned recycled = (r->freed[slot] == addr) & (addr != 0);
    if (allocator == r->allocator && stack == r->stack && size < 65536 &&
        (recycled | (z != UINT64_MAX))) {
        /* The common case, without a branch on which of the two it is: whether an
         * allocator hands back the last block freed in a slot is a coin toss to the
         * branch predictor. Both plane groups are stored; only one advances (each has
         * room: a plane is never longer than ops). */
        uint8_t *a = f->a0, *rs = f->r0;
        *rs = (uint8_t)slot;
        a[0] = (uint8_t)z;
        a[FT_STREAM_CAP] = (uint8_t)(z >> 8);
        a[2 * FT_STREAM_CAP] = (uint8_t)(z >> 16);
        ft_put_size_planes(f, size);
        f->r0 = rs + recycled;
        f->a0 = a + (recycled ^ 1);
        *k = (uint8_t)((FT_ALLOC ^ ((FT_ALLOC ^ FT_RALLOC) & -recycled)) | FT_F0 | FT_F1);
        f->ops = p;
        r->addr = addr;
        return;
    }
    if (recycled && size < 65536) {
        kind = FT_RALLOC;
        *f->r0++ = (uint8_t)slot;
        ft_put_size_planes(f, size);
    } else if (z != UINT64_MAX && size < 65536) {
        ft_put_addr_planes(f, z);
        ft_put_size_planes(f, size);
    } else {
        flags |= FT_F2;
        p = ft_put_varint(p, ft_zigzag(addr - r->addr));
        p = ft_put_varint(p, size);
    }
    if (allocator == r->allocator)
        flags |= FT_F1;
    else
        p = ft_put_varint(p, allocator);
    if (stack == r->stack)
        flags |= FT_F0;
    else
        p = ft_put_varint(p, stack);
    *k = (uint8_t)(kind | flags);
    f->ops = p;
    r->addr = addr;
    r->allocator = allocator;
    r->stack = stack;
}

/* FREE: ops [kind|W]; not W: address planes; W: ops <- svarint(delta) */
static inline __attribute__((always_inline)) void
ft_enc_free(ft_frame *f, uint64_t addr)
{
    uint64_t delta = addr - f->regs.addr, z = ft_plane_addr(delta);
    uint8_t *o = f->ops; /* loaded before the byte stores, which may alias anything */
    f->regs.freed[ft_recycle_slot(addr)] = addr;
    f->regs.addr = addr;
    if (z != UINT64_MAX) {
        ft_put_addr_planes(f, z);
        *o++ = FT_FREE;
    } else {
        *o++ = FT_FREE | FT_F2;
        o = ft_put_varint(o, ft_zigzag(delta));
    }
    f->ops = o;
}

/* MMAP: ops [kind|S] svarint(delta) varint(length) ([stack] unless S) */
static inline void ft_enc_mmap(ft_frame *f, uint64_t addr, uint64_t len, uint32_t stack)
{
    ft_regs *r = &f->regs;
    uint8_t *p = f->ops;
    *p++ = (uint8_t)(FT_MMAP | (stack == r->stack ? FT_F0 : 0));
    p = ft_put_varint(p, ft_zigzag(addr - r->addr));
    p = ft_put_varint(p, len);
    if (stack != r->stack)
        p = ft_put_varint(p, stack);
    f->ops = p;
    r->addr = addr;
    r->stack = stack;
}

/* MMAP of a measured mapping (f1; f2 too for a file's): counts what RESIDENT says. */
static inline void ft_enc_mmap_measured(ft_frame *f, uint64_t addr, uint64_t len,
                                        uint32_t stack, int file)
{
    uint8_t *kind = f->ops;
    ft_enc_mmap(f, addr, len, stack);
    *kind |= (uint8_t)(FT_F1 | (file ? FT_F2 : 0));
}

/* RESIDENT: ops [kind] svarint(delta) varint(bytes) */
static inline void ft_enc_resident(ft_frame *f, uint64_t addr, uint64_t bytes)
{
    uint8_t *p = f->ops;
    *p++ = FT_RESIDENT;
    p = ft_put_varint(p, ft_zigzag(addr - f->regs.addr));
    f->ops = ft_put_varint(p, bytes);
    f->regs.addr = addr;
}

/* MUNMAP: ops [kind] svarint(delta) varint(length) */
static inline void ft_enc_munmap(ft_frame *f, uint64_t addr, uint64_t len)
{
    uint8_t *p = f->ops;
    *p++ = FT_MUNMAP;
    p = ft_put_varint(p, ft_zigzag(addr - f->regs.addr));
    f->ops = ft_put_varint(p, len);
    f->regs.addr = addr;
}

/* MREMAP: ops [kind] svarint(old delta) varint(old length) svarint(new - old) varint(new length) */
static inline void ft_enc_mremap(ft_frame *f, uint64_t old, uint64_t oldlen, uint64_t new_addr,
                                 uint64_t newlen)
{
    uint8_t *p = f->ops;
    *p++ = FT_MREMAP;
    p = ft_put_varint(p, ft_zigzag(old - f->regs.addr));
    p = ft_put_varint(p, oldlen);
    p = ft_put_varint(p, ft_zigzag(new_addr - old));
    f->ops = ft_put_varint(p, newlen);
    f->regs.addr = new_addr;
}

/* THREAD: ops [kind] thread. Written only when the thread changes. */
static inline void ft_enc_thread(ft_frame *f, uint32_t thread)
{
    *f->ops++ = FT_THREAD;
    f->ops = ft_put_varint(f->ops, thread);
    f->regs.thread = thread;
}

/* A kind byte and n (0-4) varints, all in ops: definitions, samples, trailer start. */
static inline void ft_enc_ints(ft_frame *f, unsigned kind, unsigned n, uint64_t a, uint64_t b,
                               uint64_t c, uint64_t d)
{
    uint8_t *p = f->ops;
    *p++ = (uint8_t)kind;
    if (n > 0) p = ft_put_varint(p, a);
    if (n > 1) p = ft_put_varint(p, b);
    if (n > 2) p = ft_put_varint(p, c);
    if (n > 3) p = ft_put_varint(p, d);
    f->ops = p;
}

/* A kind byte (with flags) and a string, in ops: STRING, MARKER. */
static inline void ft_enc_string(ft_frame *f, unsigned kind_flags, const void *s, size_t n)
{
    *f->ops++ = (uint8_t)kind_flags;
    f->ops = ft_put_string(f->ops, s, n);
}

/* A varint appended to the last record (THREAD_NAME's string, TRAILER's counts). */
static inline void ft_enc_more(ft_frame *f, uint64_t v)
{
    f->ops = ft_put_varint(f->ops, v);
}

#endif
