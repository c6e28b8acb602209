/* rec_ir.h: the recorder's log, between the program's threads and `filrec run`, which
 * reads it from shared memory. It never reaches a file and is not the trace format (the
 * two sides come from one build): the hot path writes one 64-bit word per common event,
 * and the sink (rec_transcode.c) turns the words into trace records (deltas, byte
 * planes, recycle slots: format/ft_enc.h) in its own process. Doing that encoding in the
 * hooks cost 7 ns an event in data-dependent branches; a word costs 2 (bench/churn.c's
 * events, encoded alone).
 *
 * A log is a sequence of words. An ALLOC has bit 63 set; every other word has it clear
 * and says what it is in its low 16 bits:
 *
 *   ALLOC   [1 | addr:47 | size:16]          an ALLOC of the context's allocator and
 *                                            stack; addr below 2^47, size below 65536.
 *                                            addr 0 (a failed malloc) is no event.
 *   FREE    [0 | addr:47 | 0xffff]           addr below 2^47
 *   CTX     [0 | 0:7 | allocator:8 | stack:32 | 1]   the context of later ALLOC and MMAP
 *   THREAD  [0 | 0:15 | thread:32 | 2]       the thread of the records after it
 *   TIME    [0 | time:47 | 4]            when the words after it, up to the next TIME,
 *                                            happened (rec_ts's clock, its low 47 bits):
 *                                            only in a log that has gone over to one log
 *                                            per thread (rec_lane.c), where the sink
 *                                            merges the logs by it and drops it
 *   REC     [0 | 0:14 | len:17 | 0:5 | n:3 | kind:8 | 3], then n value words, then
 *           len bytes of string in (len + 7) / 8 words: any other record, kind being the
 *           trace's kind byte (with its flags: a MARKER's type). ALLOC is (addr, size),
 *           FREE (addr), MMAP (addr, length) with the context's stack, MUNMAP (addr,
 *           length), MREMAP (old, old length, new, new length), TRAILER (flags, time);
 *           the rest carry their trace fields in order.
 *
 * The layout keeps the hooks' test and word short: one shift and compare for whether an
 * event fits, a shift and an or to build it.
 */
#ifndef REC_IR_H
#define REC_IR_H

#include <stdint.h>
#include <string.h>

enum rec_ir_tag { REC_IR_BAD, REC_IR_ALLOC, REC_IR_FREE, REC_IR_CTX, REC_IR_THREAD, REC_IR_REC,
                  REC_IR_TIME };

#define REC_IR_VALUES_MAX 4
#define REC_IR_STRING_MAX (1u << 16)
#define REC_IR_ALLOC_BIT (1ull << 63)

static inline enum rec_ir_tag rec_ir_tag(uint64_t w)
{
    unsigned low = (unsigned)w & 0xffff;
    if (w & REC_IR_ALLOC_BIT)
        return REC_IR_ALLOC;
    return low == 0xffff ? REC_IR_FREE : low >= 1 && low <= 4 ? (enum rec_ir_tag)(low + 2)
                                                                : REC_IR_BAD;
}

/* The address of an ALLOC or FREE word, and the size of an ALLOC. */
static inline uint64_t rec_ir_addr(uint64_t w) { return (w & ~REC_IR_ALLOC_BIT) >> 16; }
static inline uint64_t rec_ir_size(uint64_t w) { return w & 0xffff; }

/* Words a REC of n values and a len-byte string takes. */
static inline size_t rec_ir_words(unsigned n, size_t len) { return 1 + n + (len + 7) / 8; }

/* Whether an ALLOC or FREE of addr (and size) fits one word. */
static inline int rec_ir_short(uint64_t addr, uint64_t size)
{
    return ((addr >> 47) | (size >> 16)) == 0;
}

static inline uint64_t rec_ir_alloc(uint64_t addr, uint64_t size)
{
    return REC_IR_ALLOC_BIT | addr << 16 | size;
}

static inline uint64_t rec_ir_free(uint64_t addr)
{
    return addr << 16 | 0xffff;
}

/* A context: the value the log's current context is kept as, and its word. */
static inline uint64_t rec_ir_ctx(unsigned allocator, uint32_t stack)
{
    return (uint64_t)(allocator & 0xff) << 32 | stack;
}

static inline uint64_t rec_ir_ctx_word(uint64_t ctx) { return ctx << 16 | 1; }

static inline uint64_t rec_ir_thread(uint32_t thread)
{
    return (uint64_t)thread << 16 | 2;
}

/* A TIME word, and its time; times compare modulo 2^47 (a clock that wrapped between two
 * words in the sink's hands at once would take longer than a day). */
#define REC_IR_TIME_BITS 47
static inline uint64_t rec_ir_time(uint64_t t) { return (t & ((1ull << REC_IR_TIME_BITS) - 1)) << 16 | 4; }
static inline uint64_t rec_ir_time_of(uint64_t w) { return w >> 16; }
/* Whether time a is before time b. */
static inline int rec_ir_before(uint64_t a, uint64_t b)
{
    return (int64_t)((a - b) << (64 - REC_IR_TIME_BITS)) < 0;
}

/* The number of words of the log item that starts with w (a REC's header, or any
 * other word). */
static inline size_t rec_ir_item_words(uint64_t w)
{
    return rec_ir_tag(w) == REC_IR_REC ? rec_ir_words((unsigned)(w >> 24) & 7, (size_t)(w >> 32) & 0x1ffff) : 1;
}

/* Write a REC at w, which has room for rec_ir_words(n, len); returns the next word. */
static inline uint64_t *rec_ir_rec(uint64_t *w, unsigned kind, unsigned n, const uint64_t *v,
                                   const void *s, size_t len)
{
    *w++ = (uint64_t)len << 32 | (uint64_t)n << 24 | (uint64_t)kind << 16 | 3;
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
