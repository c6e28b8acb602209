/* rec_writer.c: the writer thread. It compresses each sealed buffer into one zstd frame
 * and writes it, appends a SAMPLE (time, RSS) every sample interval, and seals the
 * filling buffer at least every 250 ms so that a killed process leaves whole frames.
 * It never seals while other buffers wait for it, so it never waits for itself. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "rec_internal.h"

#define SEAL_NS 250000000ull

static pthread_t writer;      /* set by rec_writer_start, joined by rec_writer_finish */
static ft_writer *out;        /* used by the writer thread only */
static int statm = -1;        /* /proc/self/statm, read by the writer thread only */
static uint64_t sample_ns;    /* constant after start */

static uint64_t read_rss(void)
{
    char buf[128];
    ssize_t n = statm >= 0 ? pread(statm, buf, sizeof buf - 1, 0) : -1;
    if (n <= 0)
        return 0;
    buf[n] = 0;
    const char *p = strchr(buf, ' ');
    return p ? strtoull(p + 1, NULL, 10) * (uint64_t)sysconf(_SC_PAGESIZE) : 0;
}

/* Write every sealed buffer. Lock held on entry and exit, dropped while writing. */
static void drain(void)
{
    while (rec.w < rec.f && !rec.failed) {
        unsigned i = (unsigned)(rec.w % REC_NBUF);
        pthread_mutex_unlock(&rec.lock);
        int err = ft_writer_frame(out, rec.buf[i], rec.len[i]);
        int e = errno;
        pthread_mutex_lock(&rec.lock);
        if (err)
            rec_fail(err == FT_E_IO ? "cannot write trace: " : "cannot compress trace",
                     err == FT_E_IO ? e : 0);
        rec.w++;
        pthread_cond_broadcast(&rec.space);
    }
}

static void sample(void)
{
    pthread_mutex_unlock(&rec.lock);
    uint64_t rss = read_rss(), t = (rec_now_ns() - rec.start_ns) / 1000;
    pthread_mutex_lock(&rec.lock);
    /* Only into free room: sealing here could wait for this very thread. */
    if (atomic_load(&rec_on) && !rec.stopping && rec.end - rec.pos >= FT_REC_MAX) {
        rec.pos = ft_enc_ints(rec.pos, FT_SAMPLE, 2, t, rss, 0, 0);
        rec.counts[FT_SAMPLE]++;
    }
}

static void wait_until(uint64_t ns)
{
    struct timespec t = {(time_t)(ns / 1000000000u), (long)(ns % 1000000000u)};
    pthread_cond_timedwait(&rec.work, &rec.lock, &t);
}

static void *writer_main(void *arg)
{
    (void)arg;
    rec_tl.busy = 1; /* nothing this thread allocates is recorded */
    uint64_t next_sample = rec.start_ns;
    pthread_mutex_lock(&rec.lock);
    for (;;) {
        drain();
        if (rec.stopping || rec.failed)
            break;
        uint64_t now = rec_now_ns();
        if (sample_ns && now >= next_sample) {
            sample();
            next_sample = now + sample_ns;
        }
        if (now - rec.last_seal_ns >= SEAL_NS && rec.w == rec.f) {
            rec_seal();
            continue;
        }
        uint64_t until = rec.last_seal_ns + SEAL_NS;
        if (sample_ns && next_sample < until)
            until = next_sample;
        if (rec.w == rec.f && !rec.stopping)
            wait_until(until);
    }
    pthread_mutex_unlock(&rec.lock);
    return NULL;
}

int rec_writer_start(uint64_t sample_us)
{
    sample_ns = sample_us * 1000;
    statm = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    if (ft_writer_new(&out, rec.fd, 1))
        return -1;
    return rec_real.pthread_create(&writer, NULL, writer_main, NULL);
}

void rec_writer_finish(void)
{
    pthread_mutex_lock(&rec.lock);
    if (!atomic_load(&rec_on) || rec.stopping) {
        pthread_mutex_unlock(&rec.lock);
        return;
    }
    rec_seal(); /* the trailer goes alone into the last frame */
    uint8_t *p = rec.failed ? NULL : rec.pos;
    if (p) {
        uint64_t t = (rec_now_ns() - rec.start_ns) / 1000;
        p = ft_enc_ints(p, FT_TRAILER, 3, FT_T_EXIT, t, FT_KIND_COUNT - 1, 0);
        for (unsigned k = 1; k < FT_KIND_COUNT; k++)
            p = ft_put_varint(p, rec.counts[k]);
        rec.pos = p;
        rec_seal();
    }
    atomic_store(&rec_on, 0);
    rec.stopping = 1;
    pthread_cond_signal(&rec.work);
    pthread_mutex_unlock(&rec.lock);
    pthread_join(writer, NULL);
}
