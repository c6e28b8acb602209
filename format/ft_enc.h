/* ft_enc.h: record encoders, inline so the recorder's hot path pays no call.
 * Each writes one record at p and returns the end. The caller guarantees room:
 * FT_REC_MAX bytes, plus the string length for records that carry a string.
 * They never allocate and never fail. Bit diagrams are in FORMAT.md. */
#ifndef FT_ENC_H
#define FT_ENC_H

#include <string.h>
#include "ft.h"

/* Per-frame registers (FORMAT.md, "Registers"); ft_regs_reset at each frame start. */
typedef struct ft_regs {
    uint64_t addr;
    uint32_t stack, allocator, thread;
} ft_regs;

static inline void ft_regs_reset(ft_regs *r)
{
    r->addr = 0;
    r->stack = 0;
    r->allocator = FT_A_MALLOC;
    r->thread = 0;
}

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

/* svarint: zigzag, so -1 -> 1, 1 -> 2, -2 -> 3: small deltas of either sign are short. */
static inline uint8_t *ft_put_svarint(uint8_t *p, uint64_t delta)
{
    return ft_put_varint(p, (delta << 1) ^ (uint64_t)((int64_t)delta >> 63));
}

static inline uint8_t *ft_put_string(uint8_t *p, const void *s, size_t n)
{
    p = ft_put_varint(p, n);
    memcpy(p, s, n);
    return p + n;
}

/* ALLOC: [kind|S|K] addr-delta size [allocator] [stack] */
static inline uint8_t *ft_enc_alloc(uint8_t *p, ft_regs *r, uint64_t addr, uint64_t size,
                                    uint32_t allocator, uint32_t stack)
{
    uint8_t *k = p++;
    unsigned flags = 0;
    p = ft_put_svarint(p, addr - r->addr);
    p = ft_put_varint(p, size);
    if (allocator == r->allocator)
        flags |= FT_F1;
    else
        p = ft_put_varint(p, allocator);
    if (stack == r->stack)
        flags |= FT_F0;
    else
        p = ft_put_varint(p, stack);
    *k = (uint8_t)(FT_ALLOC | flags);
    r->addr = addr;
    r->allocator = allocator;
    r->stack = stack;
    return p;
}

/* FREE: [kind] addr-delta */
static inline uint8_t *ft_enc_free(uint8_t *p, ft_regs *r, uint64_t addr)
{
    *p++ = FT_FREE;
    p = ft_put_svarint(p, addr - r->addr);
    r->addr = addr;
    return p;
}

/* MMAP: [kind|S] addr-delta length [stack] */
static inline uint8_t *ft_enc_mmap(uint8_t *p, ft_regs *r, uint64_t addr, uint64_t len,
                                   uint32_t stack)
{
    *p++ = (uint8_t)(FT_MMAP | (stack == r->stack ? FT_F0 : 0));
    p = ft_put_svarint(p, addr - r->addr);
    p = ft_put_varint(p, len);
    if (stack != r->stack)
        p = ft_put_varint(p, stack);
    r->addr = addr;
    r->stack = stack;
    return p;
}

/* MUNMAP: [kind] addr-delta length */
static inline uint8_t *ft_enc_munmap(uint8_t *p, ft_regs *r, uint64_t addr, uint64_t len)
{
    *p++ = FT_MUNMAP;
    p = ft_put_svarint(p, addr - r->addr);
    p = ft_put_varint(p, len);
    r->addr = addr;
    return p;
}

/* MREMAP: [kind] old-delta old-length new-delta-from-old new-length */
static inline uint8_t *ft_enc_mremap(uint8_t *p, ft_regs *r, uint64_t old, uint64_t oldlen,
                                     uint64_t new_addr, uint64_t newlen)
{
    *p++ = FT_MREMAP;
    p = ft_put_svarint(p, old - r->addr);
    p = ft_put_varint(p, oldlen);
    p = ft_put_svarint(p, new_addr - old);
    p = ft_put_varint(p, newlen);
    r->addr = new_addr;
    return p;
}

/* THREAD: [kind] thread. Only when the thread changes. */
static inline uint8_t *ft_enc_thread(uint8_t *p, ft_regs *r, uint32_t thread)
{
    *p++ = FT_THREAD;
    p = ft_put_varint(p, thread);
    r->thread = thread;
    return p;
}

/* A record of a kind byte followed by up to four varints (definitions, samples). */
static inline uint8_t *ft_enc_ints(uint8_t *p, unsigned kind, unsigned n, uint64_t a,
                                   uint64_t b, uint64_t c, uint64_t d)
{
    *p++ = (uint8_t)kind;
    if (n > 0) p = ft_put_varint(p, a);
    if (n > 1) p = ft_put_varint(p, b);
    if (n > 2) p = ft_put_varint(p, c);
    if (n > 3) p = ft_put_varint(p, d);
    return p;
}

/* STRING, MARKER ([kind|type] label), THREAD_NAME needs ft_enc_ints + ft_put_string. */
static inline uint8_t *ft_enc_string(uint8_t *p, unsigned kind_flags, const void *s, size_t n)
{
    *p++ = (uint8_t)kind_flags;
    return ft_put_string(p, s, n);
}

#endif
