/* rec_writer.c: the writer thread. It encodes each sealed buffer into the trace frame
 * (rec_transcode.c), appends a SAMPLE (time, RSS) every sample interval, and bounds how
 * long an event waits to reach the file: the filling buffer is sealed at least every
 * SEAL_NS, and a frame holding data is written at least FLUSH_NS after the previous
 * one, so a killed process leaves whole frames up to 250 ms before its end.
 * It never seals while other buffers wait for it, so it never waits for itself. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "rec_internal.h"

#define SEAL_NS 150000000ull
#define FLUSH_NS 100000000ull

static pthread_t writer;      /* set by rec_writer_start, joined by rec_writer_finish */
static ft_writer *out;        /* used by the writer thread only */
static int statm = -1;        /* /proc/self/statm, read by the writer thread only */
static uint64_t sample_ns;    /* constant after start */
static uint64_t last_flush_ns; /* writer thread only */

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
        int err = rec_transcode(out, rec.buf[i], rec.sealed_end[i]);
        int e = errno;
        pthread_mutex_lock(&rec.lock);
        if (err)
            rec_fail(err == FT_E_IO ? "cannot write trace: " : "cannot compress trace",
                     err == FT_E_IO ? e : 0);
        rec.w++;
        pthread_cond_broadcast(&rec.space);
    }
}

/* Write the frame if it holds data FLUSH_NS old or more. Lock held, dropped to write. */
static void flush_due(uint64_t now)
{
    if (!rec_transcode_pending() || now - last_flush_ns < FLUSH_NS || rec.failed)
        return;
    pthread_mutex_unlock(&rec.lock);
    int err = rec_transcode_flush(out);
    int e = errno;
    pthread_mutex_lock(&rec.lock);
    if (err)
        rec_fail(err == FT_E_IO ? "cannot write trace: " : "cannot compress trace",
                 err == FT_E_IO ? e : 0);
    last_flush_ns = now;
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
    uint64_t next_sample = rec.start_ns, rss = 0;
    last_flush_ns = rec.start_ns;
    pthread_mutex_lock(&rec.lock);
    for (;;) {
        drain(); /* afterwards w == f: a seal from here cannot wait for this thread */
        if (rec.stopping || rec.failed)
            break;
        uint64_t now = rec_now_ns();
        unsigned what = 0;
        if (sample_ns && now >= next_sample) {
            what |= REC_REQ_SAMPLE;
            next_sample = now + sample_ns;
        }
        if (now - rec.last_seal_ns >= SEAL_NS)
            what |= REC_REQ_SEAL;
        if (what)
            rec_gate_request(what, (now - rec.start_ns) / 1000, rss);
        if (rec.w != rec.f)
            continue;
        flush_due(now);
        uint64_t until = rec.last_seal_ns + SEAL_NS;
        if (sample_ns && next_sample < until)
            until = next_sample;
        if (rec_transcode_pending() && last_flush_ns + FLUSH_NS < until)
            until = last_flush_ns + FLUSH_NS;
        if (until > now)
            wait_until(until);
        if (sample_ns && rec_now_ns() >= next_sample) {
            pthread_mutex_unlock(&rec.lock);
            rss = read_rss(); /* outside the lock: a system call */
            pthread_mutex_lock(&rec.lock);
        }
    }
    int failed = rec.failed;
    pthread_mutex_unlock(&rec.lock);
    if (!failed)
        rec_transcode_flush(out); /* without a trailer (it flushed its own): whatever is left */
    return NULL;
}

int rec_writer_start(uint64_t sample_us)
{
    sample_ns = sample_us * 1000;
    statm = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    /* zstd's level -1: a third less CPU than level 1 for about 1% more bytes, and this
     * thread's CPU is the program's on a machine whose cores are hyperthreads. */
    if (ft_writer_new(&out, rec.fd, -1) || rec_transcode_init())
        return -1;
    /* The writer blocks every signal: a signal sent to the process must reach one of
     * the program's threads, as it would without filrec (one the program blocks
     * everywhere would otherwise kill it here, or run its handler on our thread). */
    sigset_t all, was;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &was);
    int rc = rec_real.pthread_create(&writer, NULL, writer_main, NULL);
    pthread_sigmask(SIG_SETMASK, &was, NULL);
    return rc;
}

void rec_writer_finish(unsigned flags)
{
    pthread_mutex_lock(&rec.lock);
    rec_gate_revoke(0);
    if (!atomic_load(&rec_on) || rec.stopping) {
        pthread_mutex_unlock(&rec.lock);
        return;
    }
    rec_seal(); /* the trailer goes alone into the last frame */
    if (!rec.failed) {
        uint64_t v[2] = {FT_T_EXIT | flags, (rec_now_ns() - rec.start_ns) / 1000};
        rec.at = rec_ir_rec(rec.at, FT_TRAILER, 2, v, NULL, 0);
        rec_seal();
    }
    atomic_store(&rec_on, 0);
    rec.stopping = 1;
    pthread_cond_signal(&rec.work);
    pthread_mutex_unlock(&rec.lock);
    pthread_join(writer, NULL);
}
