/* test_transcode.c: the sink's encoder (sink/sink_tc.c) against the reader.
 * Each case writes log words (record/rec_ir.h) as the hooks would, encodes them into a
 * trace in a temp file and reads it back with ft_reader, checking every event: the
 * kinds the hooks' inline path never makes (wide and unaligned addresses, a failed
 * malloc, mappings, strings, markers, samples) and frames that fill up.
 * Harness: check.h (one line per failed case, then "N passed, N failed"). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../sink/sink_internal.h"
#include "check.h"

/* ---- a log under construction ---- */

static uint64_t words[1 << 22];
static size_t nwords;

static void put(uint64_t w) { words[nwords++] = w; }

static void put_rec(unsigned kind, unsigned n, const uint64_t *v, const char *s)
{
    size_t len = s ? strlen(s) : 0;
    nwords = (size_t)(rec_ir_rec(words + nwords, kind, n, v, s, len) - words);
}

/* Encode the log (then a sample, if asked, then the trailer: 1 as the process logs
 * it, with the sink adding the end status 0x100 + 1, i.e. exit code 1; 2 as the sink
 * writes it for a process that logged none) into a fresh trace. tc stays, for
 * the cases that look at it afterwards. */
static char path[64];
static sink_tc *tc;

/* A fresh trace at path with a header for pid: its descriptor, with *out writing to
 * it; -1 on failure. */
static int new_trace(uint64_t pid, ft_writer **out)
{
    strcpy(path, "/tmp/filrec-transcode-XXXXXX");
    int fd = mkstemp(path);
    uint8_t hdr[256];
    ft_header h = {.pid = pid, .ppid = 1, .page_size = 4096};
    size_t n = ft_header_encode(hdr, sizeof hdr, &h);
    if (fd < 0 || !n || ft_write_all(fd, hdr, n) || ft_writer_new(out, fd, 1))
        return -1;
    return fd;
}

static int encode(int sample, int trailer)
{
    ft_writer *out;
    sink_tc_free(tc);
    tc = sink_tc_new();
    int fd = new_trace(1, &out);
    if (fd < 0 || !tc)
        return -100;
    int err;
    err = sink_tc_words(tc, out, words, words + nwords);
    if (!err && sample)
        err = sink_tc_sample(tc, out, 1234, 5678);
    if (!err && trailer == 1) {
        uint64_t v[2] = {FT_T_EXIT, 999};
        uint64_t t[4];
        size_t k = (size_t)(rec_ir_rec(t, FT_TRAILER, 2, v, NULL, 0) - t);
        err = sink_tc_words(tc, out, t, t + k);
    }
    if (!err && trailer)
        err = sink_tc_end(tc, out, 0, 777, 0x101);
    if (!err)
        err = sink_tc_flush(tc, out);
    ft_writer_free(out);
    close(fd);
    return err;
}

/* The events read back (the first 64), THREAD records left out (their effect is the
 * thread field); the trailer's counts; whether the trace ended early. */
static ft_record got[64];
static char strs[64][16];
static uint64_t counts[FT_KIND_COUNT];
static int ngot, early, trailer_seen;
static uint64_t trailer_flags, trailer_time, trailer_end;

static int read_back(void)
{
    ft_reader *r;
    int rc = ft_reader_open(&r, path);
    ft_record x;
    ngot = trailer_seen = 0;
    memset(counts, 0, sizeof counts);
    while (rc == 0) {
        if ((rc = ft_reader_next(r, &x)) != 1)
            break;
        rc = 0;
        if (x.kind == FT_TRAILER) {
            trailer_seen = 1;
            trailer_flags = x.a;
            trailer_time = x.b;
            trailer_end = x.c;
            for (unsigned k = 1; k <= x.ncounts && k < FT_KIND_COUNT; k++)
                counts[k] = x.counts[k];
        }
        if (x.kind == FT_THREAD || ngot == 64)
            continue;
        got[ngot] = x;
        if (x.kind == FT_STRING || x.kind == FT_MARKER || x.kind == FT_EXEC)
            snprintf(strs[ngot], sizeof strs[ngot], "%.*s", (int)x.len, x.str);
        ngot++;
    }
    if (rc < 0)
        printf("  (%d: %s)\n", rc, ft_reader_message(r));
    early = ft_reader_ended_early(r);
    ft_reader_close(r);
    unlink(path);
    return rc;
}

static void expect(int i, unsigned kind, uint32_t thread, uint64_t addr, uint64_t size,
                   uint32_t allocator)
{
    const ft_record *g = &got[i];
    CHECK(g->kind == kind && g->thread == thread && g->addr == addr &&
              (kind == FT_FREE || g->size == size) && (kind != FT_ALLOC || g->allocator == allocator),
          "event %d: kind %u thread %u addr %#llx size %llu allocator %u, wanted %u %u %#llx "
          "%llu %u", i, g->kind, g->thread, (unsigned long long)g->addr,
          (unsigned long long)g->size, g->allocator, kind, thread, (unsigned long long)addr,
          (unsigned long long)size, allocator);
}

static void case_every_word(void)
{
    const uint64_t a = 0x555555559000, wide = 0x800000000010, map = 0x7f0000000000;
    nwords = 0;
    uint64_t start[4] = {1, 0, 4242, 0};
    put_rec(FT_THREAD_START, 4, start, NULL);
    put(rec_ir_alloc(a, 24));                                   /* malloc, the context */
    put(rec_ir_alloc(0, 8));                                    /* a failed malloc: none */
    put(rec_ir_free(a));
    put(rec_ir_ctx_word(rec_ir_ctx(FT_A_CALLOC, 0)));
    put(rec_ir_alloc(a + 16, 100));
    uint64_t big[2] = {wide, 1u << 20};
    put_rec(FT_ALLOC, 2, big, NULL);                            /* past 2^47, > 65535 */
    put_rec(FT_FREE, 1, big, NULL);
    put(rec_ir_alloc(a + 3, 7));                                /* unaligned */
    put(rec_ir_thread(1));
    put(rec_ir_free(a + 16));                                   /* freed by thread 1 */
    uint64_t m[2] = {map, 4096}, rm[4] = {map, 4096, map + 65536, 8192};
    put_rec(FT_MMAP, 2, m, NULL);
    put_rec(FT_MREMAP, 4, rm, NULL);
    put_rec(FT_MUNMAP, 2, (uint64_t[2]){map + 65536, 8192}, NULL);
    put_rec(FT_STRING, 0, NULL, "abc");
    put_rec(FT_MARKER | FT_MARK_BEGIN << 5, 0, NULL, "phase");
    CHECK(encode(1, 1) == 0, "encode failed");
    CHECK(read_back() == 0, "read back failed");
    CHECK(ngot == 15, "%d events", ngot);
    if (ngot != 15)
        return;
    CHECK(got[0].kind == FT_THREAD_START && got[0].a == 1, "thread start");
    expect(1, FT_ALLOC, 0, a, 24, FT_A_MALLOC);
    expect(2, FT_FREE, 0, a, 0, 0);
    expect(3, FT_ALLOC, 0, a + 16, 100, FT_A_CALLOC);
    expect(4, FT_ALLOC, 0, wide, 1u << 20, FT_A_CALLOC);
    expect(5, FT_FREE, 0, wide, 0, 0);
    expect(6, FT_ALLOC, 0, a + 3, 7, FT_A_CALLOC);
    expect(7, FT_FREE, 1, a + 16, 0, 0);
    expect(8, FT_MMAP, 1, map, 4096, 0);
    CHECK(got[9].kind == FT_MREMAP && got[9].addr == map && got[9].addr2 == map + 65536 &&
              got[9].size2 == 8192, "mremap");
    expect(10, FT_MUNMAP, 1, map + 65536, 8192, 0);
    CHECK(got[11].kind == FT_STRING && !strcmp(strs[11], "abc"), "string");
    CHECK(got[12].kind == FT_MARKER && got[12].flags == FT_MARK_BEGIN << 5 &&
              !strcmp(strs[12], "phase"), "marker");
    CHECK(got[13].kind == FT_SAMPLE, "sample");
    CHECK(got[14].kind == FT_TRAILER && counts[FT_ALLOC] == 4 && counts[FT_FREE] == 3 &&
              counts[FT_SAMPLE] == 1 && counts[FT_MMAP] == 1 && !early,
          "trailer: %llu allocs, %llu frees", (unsigned long long)counts[FT_ALLOC],
          (unsigned long long)counts[FT_FREE]);
}

/* More events than a frame holds: frames split at record bounds, counts still exact. */
static void case_frames_fill(void)
{
    nwords = 0;
    const uint64_t n = 1500000, a = 0x555555559000;
    for (uint64_t i = 0; i < n; i++) {
        put(rec_ir_alloc(a + (i * 48 % 65536), 16 + i % 1000));
        put(rec_ir_free(a + (i * 48 % 65536)));
    }
    CHECK(encode(0, 1) == 0, "encode failed");
    CHECK(read_back() == 0, "read back failed");
    CHECK(trailer_seen && counts[FT_ALLOC] == n && counts[FT_FREE] == n && !early,
          "trailer: %llu allocs", (unsigned long long)counts[FT_ALLOC]);
    CHECK(got[0].kind == FT_ALLOC && got[0].addr == a && got[1].kind == FT_FREE, "first pair");
}

/* Without a trailer the trace ends early; words after a trailer are refused. */
static void case_trailer_rules(void)
{
    nwords = 0;
    put(rec_ir_alloc(0x1000, 8));
    CHECK(encode(0, 0) == 0, "encode failed");
    CHECK(read_back() == 0 && early && !trailer_seen && ngot == 1 && got[0].kind == FT_ALLOC,
          "no trailer: %d records, early %d", ngot, early);
    CHECK(encode(0, 1) == 0 && read_back() == 0 && trailer_seen, "with a trailer");
    CHECK(sink_tc_words(tc, NULL, words, words + 1) == FT_E_RECORD, "a word after the trailer");
}

/* The process's own trailer keeps its flags and time and gains the end status; one the
 * sink writes for a process that logged none says so (FT_T_SINK), with the sink's time,
 * and says exec when the last event was an EXEC. */
static void case_trailer_end(void)
{
    nwords = 0;
    put(rec_ir_alloc(0x1000, 8));
    CHECK(encode(0, 1) == 0 && read_back() == 0 && trailer_seen, "logged trailer");
    CHECK(trailer_flags == FT_T_EXIT && trailer_time == 999 && trailer_end == 0x101,
          "logged: flags %llu time %llu end %#llx", (unsigned long long)trailer_flags,
          (unsigned long long)trailer_time, (unsigned long long)trailer_end);
    CHECK(encode(0, 2) == 0 && read_back() == 0 && trailer_seen, "sink's trailer");
    CHECK(trailer_flags == FT_T_SINK && trailer_time == 777 && trailer_end == 0x101,
          "sink's: flags %llu time %llu", (unsigned long long)trailer_flags,
          (unsigned long long)trailer_time);
    CHECK(!sink_tc_exec_last(tc), "no exec");
    put_rec(FT_EXEC, 0, NULL, "/bin/true");
    CHECK(encode(0, 0) == 0 && sink_tc_exec_last(tc), "exec last");
    CHECK(read_back() == 0 && ngot == 2 && got[1].kind == FT_EXEC && !strcmp(strs[1], "/bin/true"),
          "exec record: %d records", ngot);
    put(rec_ir_free(0x1000));
    CHECK(encode(0, 0) == 0 && !sink_tc_exec_last(tc), "an event after the exec");
}

/* A fork child's transcoder starts with the definitions its parent had at the fork:
 * the first ones of each kind, in order, and no later ones. */
static void case_inherit(void)
{
    nwords = 0;
    put_rec(FT_STRING, 0, NULL, "f");                     /* string 1 */
    uint64_t fn[3] = {1, 1, 7};
    put_rec(FT_FUNCTION, 3, fn, NULL);                    /* function 1 */
    uint64_t node[3] = {0, 1, 9};
    put_rec(FT_STACK_NODE, 3, node, NULL);                /* node 1 */
    put_rec(FT_STRING, 0, NULL, "g");                     /* string 2: after the fork */
    CHECK(encode(0, 0) == 0, "parent");
    sink_tc *parent = tc;
    tc = NULL;
    uint32_t s, f, n;
    sink_tc_defined(parent, &s, &f, &n);
    CHECK(s == 2 && f == 1 && n == 1, "parent defined %u %u %u", s, f, n);
    nwords = 0;
    put(rec_ir_ctx_word(rec_ir_ctx(FT_A_MALLOC, 1)));
    put(rec_ir_alloc(0x2000, 16));
    ft_writer *out;
    tc = sink_tc_new();
    int fd = new_trace(2, &out);
    CHECK(fd >= 0 && tc, "setup");
    if (fd < 0 || !tc)
        return;
    CHECK(sink_tc_inherit(tc, out, parent, 1, 1, 1, 0) == 0, "inherit");
    sink_tc *other = sink_tc_new(); /* its frame is never written */
    CHECK(other && sink_tc_inherit(other, out, parent, 3, 1, 1, 0) != 0,
          "inherit more than the parent had");
    sink_tc_free(other);
    CHECK(sink_tc_words(tc, out, words, words + nwords) == 0 && sink_tc_flush(tc, out) == 0,
          "child's words");
    ft_writer_free(out);
    close(fd);
    CHECK(read_back() == 0 && ngot == 4, "child: %d records", ngot);
    CHECK(got[0].kind == FT_STRING && !strcmp(strs[0], "f") && got[1].kind == FT_FUNCTION &&
              got[2].kind == FT_STACK_NODE && got[3].kind == FT_ALLOC && got[3].stack == 1,
          "child's records");
    sink_tc_free(parent);
}

int main(int argc, char **argv)
{
    static const struct check_case cases[] = {
        {"transcode-every-word", case_every_word},
        {"transcode-frames-fill", case_frames_fill},
        {"transcode-no-trailer-ends-early", case_trailer_rules},
        {"transcode-trailer-end-status", case_trailer_end},
        {"transcode-fork-child-inherits-ids", case_inherit},
    };
    return check_main(cases, sizeof cases / sizeof *cases, argc, argv, "test_transcode: ");
}
