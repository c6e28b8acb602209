/* ft.h: the filrec trace format, the one contract between recorder and analyzer.
 * FORMAT.md is the spec; this header holds its constants, the record encoders'
 * types, and the writer and reader APIs. Needs only libc and zstd. */
#ifndef FT_H
#define FT_H

#include <stddef.h>
#include <stdint.h>

#define FT_MAGIC "\x89" "FILREC\n"
#define FT_VERSION 3u         /* read: 1 to 3. Written: 3 with native frames or measured
                               * mappings, else 2 */
#define FT_BUILD_ID_MAX 64u   /* bytes of a MODULE's build id */
#define FT_HEADER_MAX (1u << 20)   /* header payload bytes */
#define FT_FRAME_MAX (1u << 20)    /* decompressed bytes per zstd frame */
#define FT_STRING_MAX (1u << 16)   /* bytes of a string in the body */
#define FT_REC_MAX 48              /* longest record other than strings */
#define FT_STREAMS 7               /* ops, 3 address planes, 2 size planes, recycled slots */
#define FT_RECYCLE 256             /* slots of the recently freed address table */

enum ft_kind {
    FT_ALLOC = 1, FT_FREE, FT_MMAP, FT_MUNMAP, FT_MREMAP, FT_THREAD, FT_THREAD_START,
    FT_THREAD_NAME, FT_STRING, FT_FUNCTION, FT_STACK_NODE, FT_SAMPLE, FT_MARKER,
    FT_FORK, FT_TRAILER, FT_RALLOC, FT_EXEC, FT_FAILED,
    FT_MODULE = 20, FT_NATIVE_FRAME, FT_RESIDENT, /* version 3 */
    FT_KIND_COUNT /* kinds 1..FT_KIND_COUNT-1 are defined; the rest are reserved */
};

/* Record kind byte: kind in bits 0-4, flags in bits 5-7. */
#define FT_KIND_MASK 0x1fu
#define FT_F0 0x20u
#define FT_F1 0x40u
#define FT_F2 0x80u

enum ft_allocator {
    FT_A_MALLOC = 1, FT_A_CALLOC, FT_A_REALLOC, FT_A_POSIX_MEMALIGN, FT_A_ALIGNED_ALLOC,
    FT_A_MEMALIGN, FT_A_VALLOC, FT_A_PVALLOC, FT_A_REALLOCARRAY,
    FT_A_PYMEM, FT_A_PYOBJECT, /* CPython's PyMem_ and PyObject_ domains */
    FT_A_COUNT
};

enum ft_marker { FT_MARK_POINT = 0, FT_MARK_BEGIN = 1, FT_MARK_END = 2 };

enum ft_header_flag {
    FT_H_PYTHON = 1, FT_H_PYALLOC = 2, FT_H_NATIVE = 4,
    FT_H_LATE = 8, /* recording began in a running process: earlier blocks are unseen */
    FT_H_RESIDENT = 16, /* version 3: large mappings are measured (MMAP f1, RESIDENT) */
    FT_H_SAMPLED = 32,  /* version 3: allocations sampled (options: sample_bytes=N) */
    FT_H_ALL = 63
};
/* FT_T_SINK and later: version 2. */
enum ft_trailer_flag {
    FT_T_EXIT = 1, FT_T_FAILED = 2, FT_T_SIGNAL = 4,
    FT_T_SINK = 8,     /* written by the sink: the process ended without writing one */
    FT_T_EXEC = 16,    /* the process replaced its image (exec); see the EXEC record */
    FT_T_RUNNING = 32, /* recording ended while the process still ran */
    FT_T_OOM = 64,     /* killed while its cgroup's OOM killer count went up */
    FT_T_ALL = 127
};

/* Errors: 0 or a negative value; ft_strerror() names it. */
enum ft_error {
    FT_OK = 0, FT_E_IO = -1, FT_E_MAGIC = -2, FT_E_VERSION = -3, FT_E_HEADER = -4,
    FT_E_ZSTD = -5, FT_E_RECORD = -6, FT_E_NOMEM = -7, FT_E_AFTER_END = -8,
};
const char *ft_strerror(int err);

typedef struct ft_header {
    uint64_t flags, pid, ppid, start_ns, page_size, sample_us;
    const char *cmdline; size_t cmdline_len;  /* NUL-separated arguments */
    const char *options; size_t options_len;
    /* Appended in version 2 (0 when absent): the monotonic clock at the start, shared by
     * every process of a job, and which image of the process this is (0 the first, n
     * after the n-th exec). */
    uint64_t mono_ns, image;
    /* Read from options with FT_H_SAMPLED (sample_bytes=N), else 0: not encoded apart. */
    uint64_t sample_bytes;
} ft_header;

/* crc32 (zlib's) of n bytes, chained through crc (start with 0). */
uint32_t ft_crc32(uint32_t crc, const void *p, size_t n);

/* ---- writer: used by the recorder and by tests that build traces ---- */

/* Encode magic, version, header and crc into out (capacity cap). Returns the length,
 * or 0 if cap is too small or a string is too long. */
size_t ft_header_encode(uint8_t *out, size_t cap, const ft_header *h);

struct ft_frame; /* ft_enc.h */
typedef struct ft_writer ft_writer;
/* A writer compresses frames built with ft_enc.h and writes them to fd. */
int ft_writer_new(ft_writer **out, int fd, int level);
/* Compress one built frame (its streams, with their lengths in front) and write it
 * all. An empty frame writes nothing. */
int ft_writer_frame(ft_writer *w, const struct ft_frame *f);
/* Write raw bytes (the header) to the writer's fd, retrying short writes. */
int ft_write_all(int fd, const void *p, size_t n);
void ft_writer_free(ft_writer *w);

/* ---- reader: streams records back with every field checked ---- */

typedef struct ft_record {
    unsigned kind, flags;
    uint32_t thread;          /* register T: the thread the event belongs to */
    uint64_t addr, size;      /* ALLOC, FREE, MMAP, MUNMAP; MREMAP old range */
    uint64_t addr2, size2;    /* MREMAP new range */
    uint32_t stack;           /* ALLOC, MMAP, THREAD_START; STACK_NODE, NATIVE_FRAME
                               * parent */
    uint32_t allocator;       /* ALLOC, FAILED (0 for FAILED: an anonymous mmap) */
    uint64_t a, b, c;         /* other integers, by kind (see ft_reader.c); TRAILER:
                               * flags, time, end (0 unknown, else wait status + 1);
                               * MODULE: path string id, start, size (addr: bias, str:
                               * build id); NATIVE_FRAME: module id, offset */
    const char *str; size_t len; /* STRING, THREAD_NAME, MARKER: valid until next call */
    const uint64_t *counts;   /* TRAILER: counts[k] for kinds 1..ncounts */
    unsigned ncounts;
} ft_record;

typedef struct ft_reader ft_reader;
/* Open a trace: read and check the header. On error *out is still set (so that
 * ft_reader_message works) and must be freed. */
int ft_reader_open(ft_reader **out, const char *path);
const ft_header *ft_reader_header(const ft_reader *r);
/* Next record: 1 with *rec filled, 0 at the end of the trace, or a negative error.
 * At the end, ft_reader_ended_early() tells whether the trailer was missing. */
int ft_reader_next(ft_reader *r, ft_record *rec);
int ft_reader_ended_early(const ft_reader *r);
/* The fast way through the heap events: decodes the run of ALLOC and FREE records
 * that comes next in the current frame, up to max of them, into ev, and returns how
 * many (0: the next record is of another kind, at the end of a frame, or malformed).
 * The same checks as ft_reader_next, but it never fails: a record it cannot take
 * whole is left where it is, for ft_reader_next to report or to hand out. */
typedef struct ft_heap {
    uint64_t addr, size;     /* size: 0 for a FREE */
    uint32_t stack, thread;  /* stack: the ALLOC's; thread: register T */
    uint32_t allocator;      /* the ALLOC's (enum ft_allocator); 0: a FREE */
    uint32_t kind;           /* FT_ALLOC or FT_FREE */
} ft_heap;
size_t ft_reader_heap(ft_reader *r, ft_heap *ev, size_t max);
/* When the trace ended early inside a frame (dropped, FORMAT.md Body rule 4): that
 * frame's offset; else 0. */
uint64_t ft_reader_cut_offset(const ft_reader *r);
/* The trace's format version (1 to 3). */
unsigned ft_reader_version(const ft_reader *r);
/* Defined counts so far (strings, functions, stack nodes, threads). */
uint32_t ft_reader_nstrings(const ft_reader *r);
/* The error message of the last failure, naming the byte offset. */
const char *ft_reader_message(const ft_reader *r);
/* Bytes of the file read so far and its total size, for progress. */
uint64_t ft_reader_pos(const ft_reader *r);
/* Why the body ended early at ft_reader_cut_offset, when a frame there was damaged (not
 * merely cut short by the end of the file); else NULL. */
const char *ft_reader_damage(const ft_reader *r);
/* The file offset of the frame the last record came from. */
uint64_t ft_reader_frame_offset(const ft_reader *r);
uint64_t ft_reader_size(const ft_reader *r);
void ft_reader_close(ft_reader *r);

#endif
