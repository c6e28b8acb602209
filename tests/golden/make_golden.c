/* make_golden.c: writes tests/golden/v2-basic.bin, a small version-2 trace with every
 * record kind, registers carried across records and reset across three frames, and a
 * trailer; with --native, v3-native.bin: the same as version 3 (the header's --native
 * flag), with a module, two native frames and an allocation in them added at the end.
 * Deterministic: fixed header fields, fixed zstd level. test_format.c checks the
 * records they hold (cases golden-v2-basic-reads, golden-v3-native-reads); see
 * README.md here. (v1-basic.bin was made by this program's version-1 predecessor: it
 * is kept as it was.)
 * Usage: make_golden [--native] OUT.bin */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../../format/ft_enc.h"

#define LEVEL 3

static _Alignas(8) uint8_t buf[FT_FRAME_MAX];
static ft_frame f;
static uint64_t counts[FT_KIND_COUNT];

static void note(unsigned kind) { counts[kind]++; }

static int flush(ft_writer *w)
{
    int err = ft_writer_frame(w, &f);
    ft_frame_init(&f, buf);
    return err;
}

static void str(unsigned kind_flags, const char *s)
{
    note(kind_flags & FT_KIND_MASK);
    ft_enc_string(&f, kind_flags, s, strlen(s));
}

int main(int argc, char **argv)
{
    int native = argc == 3 && !strcmp(argv[1], "--native");
    if (argc != 2 + native) {
        fprintf(stderr, "usage: make_golden [--native] OUT.bin\n");
        return 2;
    }
    argv += native;
    static const char cmdline[] = "./basic\0--n\0" "3";
    ft_header h = {native ? FT_H_NATIVE : 0, 4242, 1, 1700000000000000000ull, 4096, 10000,
                   cmdline, sizeof cmdline - 1, "sample_us=10000 level=3", 23,
                   123456789000ull, 1, 0};
    uint8_t hb[256];
    size_t hn = ft_header_encode(hb, sizeof hb, &h);
    int fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ft_writer *w;
    if (fd < 0 || !hn || ft_writer_new(&w, fd, LEVEL) || ft_write_all(fd, hb, hn)) {
        perror(argv[1]);
        return 1;
    }
    int err = 0;
    ft_frame_init(&f, buf);

    /* Frame 1: definitions, then events in threads 0 and 1. */
    str(FT_STRING, "main");                                       /* string 1 */
    str(FT_STRING, "basic.c");                                    /* string 2 */
    ft_enc_ints(&f, FT_FUNCTION, 3, 1, 2, 10, 0); note(FT_FUNCTION);     /* function 1 */
    ft_enc_ints(&f, FT_STACK_NODE, 3, 0, 1, 12, 0); note(FT_STACK_NODE); /* stack 1 */
    ft_enc_ints(&f, FT_SAMPLE, 2, 0, 1 << 20, 0, 0); note(FT_SAMPLE);
    ft_enc_alloc(&f, 0x5555555592a0, 24, FT_A_MALLOC, 1); note(FT_ALLOC);
    ft_enc_alloc(&f, 0x5555555592c0, 4096, FT_A_CALLOC, 1); note(FT_ALLOC);
    ft_enc_free(&f, 0x5555555592a0); note(FT_FREE);
    ft_enc_mmap(&f, 0x7f0000000000, 10000, 1); note(FT_MMAP);
    ft_enc_ints(&f, FT_THREAD_START, 4, 1, 0, 4243, 1); note(FT_THREAD_START);
    ft_enc_ints(&f, FT_THREAD_NAME, 1, 1, 0, 0, 0);
    f.ops = ft_put_string(f.ops, "worker", 6);
    note(FT_THREAD_NAME);
    ft_enc_thread(&f, 1); note(FT_THREAD);
    ft_enc_alloc(&f, 0x7f0000100000, 100, FT_A_MALLOC, 0); note(FT_ALLOC);
    str(FT_MARKER | FT_MARK_BEGIN << 5, "phase");
    err |= flush(w);

    /* Frame 2: registers reset; a realloc (free, then alloc), mremap, munmap. */
    ft_enc_ints(&f, FT_SAMPLE, 2, 10000, 2 << 20, 0, 0); note(FT_SAMPLE);
    ft_enc_mremap(&f, 0x7f0000000000, 12288, 0x7f0000200000, 20480); note(FT_MREMAP);
    ft_enc_munmap(&f, 0x7f0000200000, 4096); note(FT_MUNMAP);
    ft_enc_free(&f, 0x5555555592a0); note(FT_FREE);
    ft_enc_alloc(&f, 0x5555555592a0, 48, FT_A_REALLOC, 1); note(FT_ALLOC);
    ft_enc_free(&f, 0x5555555592c0); note(FT_FREE);
    ft_enc_thread(&f, 1); note(FT_THREAD);
    ft_enc_free(&f, 0x7f0000100000); note(FT_FREE);
    str(FT_MARKER | FT_MARK_END << 5, "phase");
    ft_enc_thread(&f, 0); note(FT_THREAD);
    str(FT_MARKER | FT_MARK_POINT << 5, "done");
    ft_enc_ints(&f, FT_FORK, 1, 4300, 0, 0, 0); note(FT_FORK);
    ft_enc_ints(&f, FT_FAILED, 3, 1ull << 40, FT_A_MALLOC, 1, 0); note(FT_FAILED);
    str(FT_EXEC, "/bin/true");
    if (native) { /* string 3, module 1, stacks 2 and 3, an allocation in stack 3 */
        str(FT_STRING, "/usr/lib/libx.so");
        ft_enc_ints(&f, FT_MODULE, 4, 3, 0x7f1000000000, 0x7f1000000000, 0x10000);
        f.ops = ft_put_string(f.ops, "\x01\x02\x03\x04", 4);
        note(FT_MODULE);
        ft_enc_ints(&f, FT_NATIVE_FRAME, 3, 1, 1, 0x1234, 0); note(FT_NATIVE_FRAME);
        ft_enc_ints(&f, FT_NATIVE_FRAME, 3, 2, 0, 0xdead, 0); note(FT_NATIVE_FRAME);
        ft_enc_alloc(&f, 0x5555555593a0, 64, FT_A_MALLOC, 3); note(FT_ALLOC);
    }
    err |= flush(w);

    /* Frame 3: the trailer alone: exec'd, written by the sink, 20 ms, end unknown,
     * counts of kinds 1..18 (1..21 with --native). */
    unsigned last = native ? FT_NATIVE_FRAME : FT_FAILED;
    ft_enc_ints(&f, FT_TRAILER, 4, FT_T_SINK | FT_T_EXEC, 20000, 0, last);
    for (unsigned k = 1; k <= last; k++)
        ft_enc_more(&f, counts[k]);
    err |= flush(w);

    ft_writer_free(w);
    if (err || close(fd)) {
        fprintf(stderr, "make_golden: cannot write %s\n", argv[1]);
        return 1;
    }
    return 0;
}
