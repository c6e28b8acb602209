/* fuzz_reader.c: libFuzzer target for the trace reader (make fuzz). It writes each
 * input to a memfd, opens it with ft_reader_open and reads every record until the end
 * or an error. Two shapes of input, so that mutations reach the record parser and not
 * only zstd's checksums:
 *   - a whole trace file (starts with the magic byte 0x89): read as is;
 *   - anything else: frame contents, separated by "FRM\n", each
 *       [na: u8] [ns: u8] [nr: u8] [3*na address plane bytes] [2*ns size plane bytes]
 *       [nr recycle plane bytes] [ops...]
 *     wrapped in a fixed valid header and compressed by ft_writer into valid frames.
 * Every input is read twice: record by record, and with ft_reader_heap taking the runs
 * of ALLOCs and FREEs; the two must give the same events and end the same way.
 * Run: build/fuzz/fuzz_reader -max_total_time=300 CORPUS_DIR tests/fuzz/corpus */
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../../format/ft_enc.h"

static int fd = -1;
static char path[32];
static ft_writer *w;
static _Alignas(8) uint8_t fbuf[FT_FRAME_MAX];

static size_t min_size(size_t a, size_t b) { return a < b ? a : b; }

/* A running digest of heap events, in order. */
static uint64_t heap_sum(uint64_t h, unsigned kind, uint32_t thread, uint64_t addr,
                         uint64_t size, uint32_t stack, uint32_t allocator)
{
    const uint64_t v[] = {kind, thread, addr, size, stack, allocator};
    for (int i = 0; i < 6; i++)
        h = (h ^ v[i]) * 0x100000001b3ull;
    return h;
}

/* The digest after a record from ft_reader_next (unchanged unless ALLOC or FREE). */
static uint64_t record_sum(uint64_t h, const ft_record *r)
{
    if (r->kind != FT_ALLOC && r->kind != FT_FREE)
        return h;
    int a = r->kind == FT_ALLOC;
    return heap_sum(h, r->kind, r->thread, r->addr, a ? r->size : 0, a ? r->stack : 0,
                    a ? r->allocator : 0);
}

/* One frame from [na][ns][nr][planes][ops]; bytes beyond what the streams hold are
 * dropped. */
static void write_frame(const uint8_t *p, size_t n)
{
    ft_frame f;
    ft_frame_init(&f, fbuf);
    size_t na = n > 0 ? p[0] : 0, ns = n > 1 ? p[1] : 0, nr = n > 2 ? p[2] : 0;
    size_t at = min_size(n, 3);
    na = min_size(na, (n - at) / 3);
    for (size_t i = 0; i < na; i++, at += 3)
        ft_put_addr_planes(&f, p[at] | (uint32_t)p[at + 1] << 8 | (uint32_t)p[at + 2] << 16);
    ns = min_size(ns, (n - at) / 2);
    for (size_t i = 0; i < ns; i++, at += 2)
        ft_put_size_planes(&f, (uint64_t)p[at] | (uint64_t)p[at + 1] << 8);
    nr = min_size(nr, n - at);
    for (size_t i = 0; i < nr; i++)
        *f.r0++ = p[at++];
    size_t nops = min_size(n - at, FT_STREAM_CAP);
    memcpy(f.ops, p + at, nops);
    f.ops += nops;
    if (nops == 0 && (na || ns || nr))
        *f.ops++ = FT_SAMPLE; /* a frame needs an ops byte to be written at all */
    ft_writer_frame(w, &f);
}

static void write_frames(const uint8_t *data, size_t size)
{
    static const ft_header h = {1, 42, 1, 1700000000000000000ull, 4096, 10000,
                                "prog\0arg", 8, "fuzz", 4};
    uint8_t hb[256];
    size_t hn = ft_header_encode(hb, sizeof hb, &h);
    ft_write_all(fd, hb, hn);
    const uint8_t *p = data, *end = data + size;
    while (p <= end) {
        const uint8_t *sep = memmem(p, (size_t)(end - p), "FRM\n", 4);
        const uint8_t *stop = sep ? sep : end;
        write_frame(p, (size_t)(stop - p));
        p = stop + 4;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (fd < 0) {
        fd = memfd_create("fuzz_reader", 0);
        if (fd < 0 || ft_writer_new(&w, fd, 1)) {
            perror("fuzz_reader: setup");
            return 0;
        }
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    }
    if (ftruncate(fd, 0) || lseek(fd, 0, SEEK_SET) != 0)
        return 0;
    if (size > 0 && data[0] == 0x89)
        ft_write_all(fd, data, size);
    else
        write_frames(data, size);

    ft_reader *r;
    ft_record rec;
    uint64_t sum = 0, n = 0; /* the heap events read one at a time */
    if (ft_reader_open(&r, path) == 0) {
        const ft_header *h = ft_reader_header(r);
        volatile size_t sink = h->cmdline_len + h->options_len;
        int k;
        while ((k = ft_reader_next(r, &rec)) == 1) {
            n++;
            sum = record_sum(sum, &rec);
            int str = rec.kind == FT_STRING || rec.kind == FT_THREAD_NAME || rec.kind == FT_MARKER;
            if (str && rec.len) /* strings must be readable to their end */
                sink += (uint8_t)rec.str[0] + (uint8_t)rec.str[rec.len - 1];
            for (unsigned i = 1; rec.kind == FT_TRAILER && i <= rec.ncounts; i++)
                sink += rec.counts[i];
        }
        if (k == 0)
            sink += (size_t)ft_reader_ended_early(r);
        (void)sink;
    }
    const char *msg = ft_reader_message(r);
    if (msg[0] && strncmp(msg, "offset ", 7) && strstr(msg, "out of memory") == NULL) {
        fprintf(stderr, "fuzz_reader: message without an offset: %s\n", msg);
        __builtin_trap();
    }
    /* Read again with ft_reader_heap taking the heap runs: the same events, the same end. */
    ft_reader *r2;
    uint64_t sum2 = 0, n2 = 0;
    ft_heap ev[64];
    if (ft_reader_open(&r2, path) == 0) {
        for (unsigned turn = 0;; turn++) {
            size_t k = ft_reader_heap(r2, ev, 1 + turn % 64);
            for (size_t i = 0; i < k; i++, n2++)
                sum2 = heap_sum(sum2, ev[i].kind, ev[i].thread, ev[i].addr, ev[i].size,
                                ev[i].stack, ev[i].allocator);
            if (k)
                continue;
            if (ft_reader_next(r2, &rec) != 1)
                break;
            n2++;
            sum2 = record_sum(sum2, &rec);
        }
    }
    if (sum != sum2 || n != n2 || strcmp(msg, ft_reader_message(r2))) {
        fprintf(stderr, "fuzz_reader: heap batches differ: %llu records, '%s'; batched %llu, "
                "'%s'\n", (unsigned long long)n, msg, (unsigned long long)n2,
                ft_reader_message(r2));
        __builtin_trap();
    }
    ft_reader_close(r2);
    ft_reader_close(r);
    return 0;
}
