/* rec_ir.h: the recorder's in-memory log, between the program's threads and the writer.
 * It never leaves the process and is not the trace format: the hot path writes one
 * 64-bit word per common event, and the writer thread (rec_transcode.c) turns the words
 * into trace records (deltas, byte planes, recycle slots: format/ft_enc.h) on its own
 * core. Doing that encoding in the hooks cost 7 ns an event in data-dependent branches;
 * a word costs 2 (bench/churn.c's events, encoded alone).
 *
 * A log is a sequence of words; the tag is bits 60-63 of a record's first word.
 *
 *   ALLOC   [1 | size:16 | addr>>4:44]      an ALLOC of the context's allocator and
 *                                           stack; addr 16-aligned, not 0 and at most
 *                                           2^47, size below 65536
 *   FREE    [2 | 0:16 | addr>>4:44]         same conditions on addr
 *   CTX     [3 | 0:20 | allocator:8 | stack:32]  the context of later ALLOC and MMAP
 *   THREAD  [4 | 0:28 | thread:32]          the thread of the records after it
 *   REC     [5 | 0:27 | len:17 | n:3 | 0:5 | kind:8], then n value words, then len
 *           bytes of string in (len + 7) / 8 words: any other record, kind being the
 *           trace's kind byte (with its flags: a MARKER's type). ALLOC is (addr, size),
 *           FREE (addr), MMAP (addr, length) with the context's stack, MUNMAP (addr,
 *           length), MREMAP (old, old length, new, new length), TRAILER (flags, time);
 *           the rest carry their trace fields in order.
 */
#ifndef REC_IR_H
#define REC_IR_H

#include <stdint.h>
#include <string.h>

enum rec_ir_tag { REC_IR_ALLOC = 1, REC_IR_FREE, REC_IR_CTX, REC_IR_THREAD, REC_IR_REC };

#define REC_IR_TAG(w) ((unsigned)((w) >> 60))
#define REC_IR_VALUES_MAX 4
#define REC_IR_STRING_MAX (1u << 16)

/* Words a REC of n values and a len-byte string takes. */
static inline size_t rec_ir_words(unsigned n, size_t len) { return 1 + n + (len + 7) / 8; }

/* Whether an ALLOC or FREE of addr (and size) fits one word: addr 16-aligned in
 * [16, 2^47] (so not NULL: addr - 1 wraps), size below 65536. */
static inline int rec_ir_short(uint64_t addr, uint64_t size)
{
    return ((addr & 15) | ((addr - 1) >> 47) | (size >> 16)) == 0;
}

static inline uint64_t rec_ir_alloc(uint64_t addr, uint64_t size)
{
    return (uint64_t)REC_IR_ALLOC << 60 | size << 44 | addr >> 4;
}

static inline uint64_t rec_ir_free(uint64_t addr)
{
    return (uint64_t)REC_IR_FREE << 60 | addr >> 4;
}

/* The context word, also the value the log's current context is compared with. */
static inline uint64_t rec_ir_ctx(unsigned allocator, uint32_t stack)
{
    return (uint64_t)REC_IR_CTX << 60 | (uint64_t)(allocator & 0xff) << 32 | stack;
}

static inline uint64_t rec_ir_thread(uint32_t thread)
{
    return (uint64_t)REC_IR_THREAD << 60 | thread;
}

/* Write a REC at w, which has room for rec_ir_words(n, len); returns the next word. */
static inline uint64_t *rec_ir_rec(uint64_t *w, unsigned kind, unsigned n, const uint64_t *v,
                                   const void *s, size_t len)
{
    *w++ = (uint64_t)REC_IR_REC << 60 | (uint64_t)len << 16 | (uint64_t)n << 13 | kind;
    for (unsigned i = 0; i < n; i++)
        *w++ = v[i];
    if (len) {
        w[(len - 1) / 8] = 0; /* the last word's padding */
        memcpy(w, s, len);
        w += (len + 7) / 8;
    }
    return w;
}

#endif
