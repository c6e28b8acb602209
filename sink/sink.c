/* rec_sink.c: the recorder's other half, in the `filrec run` process. The preloaded
 * library logs into memory it shares with us (rec_internal.h, struct rec_log, then the
 * buffers); we read sealed buffers whole and the filling one up to its published end,
 * encode the words into trace frames (rec_transcode.c), add the samples, and write.
 * The program never waits for us unless every buffer is full. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "rec_internal.h"
#include "rec_sink.h"

#define FLUSH_NS 100000000ull /* a frame holding data is written within this */
#define POLL_NS 10000000ull   /* the longest sleep between two looks at the log; a seal
                                 * wakes us sooner */

static const size_t ring_bytes = (size_t)REC_NBUF * REC_BUF_WORDS * sizeof(uint64_t);

struct sink {
    struct rec_log *log;   /* the program's rec */
    const uint64_t *ring;  /* its buffers */
    uint64_t cw, pos;      /* the buffer being read, and how many of its words are read */
    ft_writer *out;
    int failed;            /* writing failed: read on (the program must not wait), write nothing */
};

int rec_sink_create(void)
{
    int fd = memfd_create("filrec-log", 0); /* inherited: the program maps it */
    if (fd >= 0 && ftruncate(fd, (off_t)(sizeof(struct rec_log) + ring_bytes))) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

/* Stop writing, once, saying why; the program stops recording when it sees the flag. */
static void fail(struct sink *k, int err, int e)
{
    if (k->failed)
        return;
    k->failed = 1;
    atomic_store(&k->log->sink_failed, 1);
    if (err == FT_E_IO)
        fprintf(stderr, "filrec: recording stopped: cannot write trace: %s\n", strerror(e));
    else if (err == FT_E_RECORD)
        fprintf(stderr, "filrec: recording stopped: the program's log is damaged\n");
    else
        fprintf(stderr, "filrec: recording stopped: cannot compress trace\n");
}

static void check(struct sink *k, int err)
{
    int e = errno;
    if (err)
        fail(k, err, e);
}

static void encode(struct sink *k, const uint64_t *w, const uint64_t *end)
{
    if (!k->failed && w < end)
        check(k, rec_transcode(k->out, w, end));
}

/* Read everything the program has published. A buffer the program is between sealing
 * and starting (f read twice, at not inside buffer f) is left for the next look. */
static void drain(struct sink *k)
{
    struct rec_log *g = k->log;
    for (;;) {
        uint64_t f = atomic_load_explicit(&g->f, memory_order_acquire);
        unsigned i = (unsigned)(k->cw % REC_NBUF);
        const uint64_t *b = k->ring + (size_t)i * REC_BUF_WORDS;
        uintptr_t base = (uintptr_t)g->buf[i];
        if (k->cw < f) {
            uint64_t end = ((uintptr_t)g->sealed_end[i] - base) / sizeof(uint64_t);
            if (end > REC_BUF_WORDS || end < k->pos) {
                fail(k, FT_E_RECORD, 0);
                end = k->pos;
            }
            encode(k, b + k->pos, b + end);
            k->cw++;
            k->pos = 0;
            atomic_store_explicit(&g->w, k->cw, memory_order_release);
            atomic_fetch_add(&g->w_seq, 1);
            rec_futex(&g->w_seq, FUTEX_WAKE, INT_MAX, NULL);
            continue;
        }
        uintptr_t at = (uintptr_t)__atomic_load_n(&g->at, __ATOMIC_ACQUIRE);
        if (atomic_load_explicit(&g->f, memory_order_acquire) != f)
            continue;
        uint64_t off = (at - base) / sizeof(uint64_t);
        if (at < base || off > REC_BUF_WORDS || off < k->pos)
            return;
        encode(k, b + k->pos, b + off);
        k->pos = off;
        return;
    }
}

static uint64_t rss_of(int statm)
{
    char buf[128];
    ssize_t n = statm >= 0 ? pread(statm, buf, sizeof buf - 1, 0) : -1;
    if (n <= 0)
        return 0;
    buf[n] = 0;
    const char *p = strchr(buf, ' ');
    return p ? strtoull(p + 1, NULL, 10) * (uint64_t)sysconf(_SC_PAGESIZE) : 0;
}

/* Sleep until the program seals a buffer or ns pass. */
static void nap(struct sink *k, uint64_t ns)
{
    struct timespec t = {(time_t)(ns / 1000000000u), (long)(ns % 1000000000u)};
    uint32_t seq = atomic_load(&k->log->f_seq);
    rec_futex(&k->log->f_seq, FUTEX_WAIT, seq, &t);
}

int rec_sink_run(int shm, int fd, pid_t child, uint64_t sample_us, int *status)
{
    struct sink k = {0};
    size_t len = sizeof(struct rec_log) + ring_bytes;
    uint8_t *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, shm, 0);
    close(shm);
    if (m == MAP_FAILED) {
        fprintf(stderr, "filrec: recording stopped: cannot map the log: %s\n", strerror(errno));
        while (waitpid(child, status, 0) < 0)
            if (errno != EINTR)
                return -1;
        return 0;
    }
    k.log = (struct rec_log *)(void *)m;
    k.ring = (const uint64_t *)(void *)(m + sizeof(struct rec_log));
    /* zstd's level -1: a third less CPU than level 1 for about 1% more bytes. */
    if (ft_writer_new(&k.out, fd, -1) || rec_transcode_init())
        fail(&k, FT_E_NOMEM, 0);
    uint64_t sample_ns = sample_us * 1000, next_sample = 0, last_flush = rec_now_ns();
    int statm = -1, ready = 0, exited = 0, rc = 0;
    while (!exited) {
        pid_t r = waitpid(child, status, WNOHANG);
        if (r < 0 && errno != EINTR) {
            rc = -1;
            break;
        }
        exited = r == child;
        if (!ready && atomic_load(&k.log->ready)) {
            char path[64];
            snprintf(path, sizeof path, "/proc/%d/statm", (int)child);
            statm = sample_ns ? open(path, O_RDONLY | O_CLOEXEC) : -1;
            next_sample = k.log->start_ns;
            ready = 1;
        }
        if (!ready) {
            if (!exited)
                nap(&k, POLL_NS);
            continue;
        }
        drain(&k);
        uint64_t now = rec_now_ns();
        if (sample_ns && !exited && now >= next_sample && !k.failed) {
            /* After the drain: the events before this point happened before the read. */
            check(&k, rec_transcode_sample(k.out, (now - k.log->start_ns) / 1000, rss_of(statm)));
            next_sample = now + sample_ns;
        }
        if (!k.failed && now - last_flush >= FLUSH_NS) {
            check(&k, rec_transcode_flush(k.out));
            last_flush = now;
        }
        if (!exited && __atomic_load_n(&k.log->stopping, __ATOMIC_ACQUIRE)) {
            /* The trailer is logged: nothing more comes; wait for the exit itself. */
            while ((r = waitpid(child, status, 0)) < 0 && errno == EINTR)
                ;
            if (r < 0) {
                rc = -1;
                break;
            }
            exited = 1;
            continue;
        }
        if (!exited) {
            uint64_t wait = POLL_NS;
            if (sample_ns && next_sample > now && next_sample - now < wait)
                wait = next_sample - now;
            nap(&k, wait);
        }
    }
    if (ready) {
        drain(&k);
        if (!k.failed)
            check(&k, rec_transcode_flush(k.out));
    }
    if (statm >= 0)
        close(statm);
    ft_writer_free(k.out);
    munmap(m, len);
    return rc;
}
