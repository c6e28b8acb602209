/* sink.c: the job's sink (sink.h). One struct slog per process image that joined: its
 * log in shared memory, its transcoder (sink_tc.c), its trace. One poll() loop waits on
 * the socket (joins), the processes' connections (a byte when a buffer is sealed), their
 * pidfds (readable when the process ends) and a timer for samples and frame flushes.
 * A log ends when its process is gone (pidfd), when the same process joins again (it
 * exec'd), or when the job stops: then its trailer is written with how the process ended.
 * The programs never wait for us unless every buffer of their log is full. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../record/rec_link.h"
#include "sink.h"
#include "sink_internal.h"

#define FLUSH_NS 100000000ull /* a frame holding data is written within this */
#define POLL_MS 10            /* the longest sleep between two looks at the logs */
#define WAIT_NOTICE_NS 2000000000ull /* say which processes outlive the program after this */

static const size_t ring_bytes = (size_t)REC_NBUF * REC_BUF_WORDS * sizeof(uint64_t);

/* One process image's log and trace. */
struct slog {
    pid_t pid, ppid;
    unsigned image;        /* 0, then n after the n-th exec */
    unsigned gen;          /* earlier processes of the job that had this pid */
    uint64_t mono_ns;      /* its start on the monotonic clock: names it for fork children */
    int conn, pidfd, statm, pagemap, fd;
    uint64_t next_measure; /* the next moment to read pagemap (its cost kept near 5%) */
    uint8_t *map;
    struct rec_log *g;     /* the program's rec */
    const uint64_t *ring;  /* its buffers */
    uint64_t cw, pos;      /* the buffer being read, and how many of its words are read */
    struct rec_lanes *lanes; /* the process's lanes (NULL: none) */
    int multi;             /* the log went over to lanes at (cut_f, cut_off) */
    uint64_t cut_f, cut_off;
    sink_merge *mg;        /* from the cut on (read up to it): its streams, merged */
    sink_tc *tc;
    ft_writer *out;
    uint64_t last_flush;
    int failed;            /* writing failed: read on (the program must not wait), write nothing */
    int ended;             /* trailer written, resources released but tc (for forks) */
    char path[256];        /* its trace in dir ("" for the caller's) */
    char *oom_file;        /* its memory cgroup's OOM kill count, and the count seen */
    uint64_t oom_kills;
};

/* A process of the job that runs unrecorded. */
struct unrec {
    pid_t pid, ppid;
    int said;              /* already said on stderr: only listed */
    const char *why;
    char cmd[256];
};

struct job {
    const struct sink_opts *o;
    int lfd;
    struct slog **logs;
    size_t n, cap;
    pid_t root;
    int root_status, root_gone;
    struct sink_result *res;
    int made_dir;
    struct unrec *unrec;
    size_t nunrec, cap_unrec;
};

static void add_unrec(struct job *j, pid_t pid, pid_t ppid, const char *why, const char *cmd,
                      size_t len)
{
    for (size_t i = 0; i < j->nunrec; i++)
        if (j->unrec[i].pid == pid)
            return;
    if (j->nunrec == j->cap_unrec) {
        size_t cap = j->cap_unrec ? 2 * j->cap_unrec : 16;
        struct unrec *v = realloc(j->unrec, cap * sizeof *v);
        if (!v)
            return;
        j->unrec = v;
        j->cap_unrec = cap;
    }
    struct unrec *u = &j->unrec[j->nunrec++];
    *u = (struct unrec){pid, ppid, 0, why, ""};
    size_t n = len < sizeof u->cmd - 1 ? len : sizeof u->cmd - 1;
    for (size_t i = 0; i < n; i++) /* one field of a line: no NUL, tab or newline */
        u->cmd[i] = (unsigned char)cmd[i] < 0x20 ? ' ' : cmd[i];
    u->cmd[n] = 0;
}

static volatile sig_atomic_t stop_now; /* ^C or a TERM once the program has exited */
static void on_stop(int sig) { (void)sig; stop_now = 1; }

int sink_listen(char *name, size_t cap)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    unsigned r = 0;
    int rnd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (rnd >= 0) {
        if (read(rnd, &r, sizeof r) != sizeof r)
            r = (unsigned)rec_now_ns();
        close(rnd);
    }
    int n = snprintf(name, cap, "@filrec-%d-%08x", (int)getpid(), r);
    if (n < 0 || (size_t)n >= cap || (size_t)n >= sizeof a.sun_path) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(a.sun_path + 1, name + 1, (size_t)n - 1);
    int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -1;
    if (bind(fd, (struct sockaddr *)&a, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n)) ||
        listen(fd, 128)) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

/* ---- one log ---- */

/* Stop writing this trace, once, saying why; the program stops recording when it sees
 * the flag. */
static void fail(struct slog *l, int err, int e)
{
    if (l->failed)
        return;
    l->failed = 1;
    if (l->g)
        atomic_store(&l->g->sink_failed, 1);
    if (err == FT_E_IO)
        fprintf(stderr, "filrec: recording of process %d stopped: cannot write trace: %s\n",
                (int)l->pid, strerror(e));
    else if (err == FT_E_RECORD)
        fprintf(stderr, "filrec: recording of process %d stopped: its log is damaged\n",
                (int)l->pid);
    else
        fprintf(stderr, "filrec: recording of process %d stopped: cannot compress its trace\n",
                (int)l->pid);
}

static void check(struct slog *l, int err)
{
    int e = errno;
    if (err)
        fail(l, err, e);
}

static void encode(struct slog *l, const uint64_t *w, const uint64_t *end)
{
    if (!l->failed && w < end)
        check(l, sink_tc_words(l->tc, l->out, w, end));
}

/* The clock of TIME words (rec_ts), read before every later load. */
static uint64_t now_ts(int tsc)
{
#if defined(__x86_64__)
    if (tsc) {
        uint32_t lo, hi;
        __asm__ volatile("lfence; rdtsc; lfence" : "=a"(lo), "=d"(hi) : : "memory");
        return (uint64_t)hi << 32 | lo;
    }
#endif
    return rec_now_ns();
}

/* Words [from, to) of buffer number cw (at b): encoded up to the cut, where the log
 * went over to lanes (read after the positions, so seen whenever they pass it); staged
 * for the merge after it. */
static void take(struct slog *l, uint64_t cw, const uint64_t *b, uint64_t from, uint64_t to)
{
    if (!l->multi && atomic_load_explicit(&l->g->multi, memory_order_acquire)) {
        l->multi = 1;
        l->cut_f = l->g->multi_f;
        l->cut_off = l->g->multi_off;
        if (!l->lanes || l->cut_off > REC_BUF_WORDS)
            fail(l, FT_E_RECORD, 0);
    }
    uint64_t cut = to;
    if (l->multi)
        cut = cw < l->cut_f ? to : cw > l->cut_f ? from : l->cut_off < from ? from
              : l->cut_off < to ? l->cut_off : to;
    encode(l, b + from, b + cut);
    if (l->multi && !l->mg && (cw > l->cut_f || (cw == l->cut_f && to >= l->cut_off)) && !l->failed) {
        uint32_t thread;
        uint64_t ctx;
        sink_tc_regs(l->tc, &thread, &ctx);
        if (!(l->mg = sink_merge_new(thread, ctx)))
            fail(l, FT_E_NOMEM, 0);
    }
    if (cut < to && l->mg)
        check(l, sink_merge_add(l->mg, b + cut, to - cut));
}

/* Show the merge how far every lane is written. */
static void see_lanes(struct slog *l)
{
    uint32_t n = atomic_load_explicit(&l->lanes->n, memory_order_acquire);
    for (uint32_t i = 0; i < n && i < REC_NLANES; i++) {
        const struct rec_lane *ln = &l->lanes->lane[i];
        uint64_t t = atomic_load_explicit(&l->g->lane_tail[i], memory_order_relaxed);
        uint64_t h = atomic_load_explicit(&ln->head, memory_order_acquire);
        if (h - t > REC_LANE_WORDS) {
            fail(l, FT_E_RECORD, 0);
            return;
        }
        sink_merge_lane(l->mg, i, ln->words, t, h);
    }
}

/* Tell the program how far each lane is merged: that room may be written again. */
static void free_lanes(struct slog *l)
{
    struct rec_log *g = l->g;
    uint32_t n = atomic_load_explicit(&l->lanes->n, memory_order_acquire);
    int moved = 0;
    for (uint32_t i = 0; i < n && i < REC_NLANES; i++) {
        /* Failed, or past the trailer: the rest is dropped. */
        uint64_t p = l->failed || sink_merge_done(l->mg) ? atomic_load(&l->lanes->lane[i].head)
                                                         : sink_merge_lane_pos(l->mg, i);
        if (p != atomic_load_explicit(&g->lane_tail[i], memory_order_relaxed)) {
            atomic_store_explicit(&g->lane_tail[i], p, memory_order_release);
            moved = 1;
        }
    }
    if (moved) {
        atomic_fetch_add(&g->lane_seq, 1);
        rec_futex(&g->lane_seq, FUTEX_WAKE, INT_MAX, NULL);
    }
}

static void drain_log(struct slog *l);

/* Read everything the program has published; with the lanes (multi), merge what is
 * older than the clock read first, or with all everything (the process is gone). */
static void drain_upto(struct slog *l, int all)
{
    if (l->ended)
        return;
    uint64_t now = now_ts(l->g->ts_tsc);
    drain_log(l);
    if (l->mg && !l->failed) {
        see_lanes(l);
        if (!l->failed)
            check(l, sink_merge_run(l->mg, now, all, l->tc, l->out));
        free_lanes(l); /* failed too: the program must not wait */
    }
}

static void drain(struct slog *l) { drain_upto(l, 0); }

/* Read the log's own words. A buffer the program is between sealing and starting (f
 * read twice, at not inside buffer f) is left for the next look. */
static void drain_log(struct slog *l)
{
    struct rec_log *g = l->g;
    for (;;) {
        uint64_t f = atomic_load_explicit(&g->f, memory_order_acquire);
        unsigned i = (unsigned)(l->cw % REC_NBUF);
        const uint64_t *b = l->ring + (size_t)i * REC_BUF_WORDS;
        uintptr_t base = (uintptr_t)g->buf[i];
        if (l->cw < f) {
            uint64_t end = ((uintptr_t)g->sealed_end[i] - base) / sizeof(uint64_t);
            if (end > REC_BUF_WORDS || end < l->pos) {
                fail(l, FT_E_RECORD, 0);
                end = l->pos;
            }
            take(l, l->cw, b, l->pos, end);
            l->cw++;
            l->pos = 0;
            atomic_store_explicit(&g->w, l->cw, memory_order_release);
            atomic_fetch_add(&g->w_seq, 1);
            rec_futex(&g->w_seq, FUTEX_WAKE, INT_MAX, NULL);
            continue;
        }
        uintptr_t at = (uintptr_t)__atomic_load_n(&g->at, __ATOMIC_ACQUIRE);
        if (atomic_load_explicit(&g->f, memory_order_acquire) != f)
            continue;
        uint64_t off = (at - base) / sizeof(uint64_t);
        if (at < base || off > REC_BUF_WORDS || off < l->pos)
            return;
        take(l, l->cw, b, l->pos, off);
        l->pos = off;
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

/* The wait status + 1 of a process that is gone, when it can still be read: the root
 * from waitpid, any other from its zombie's /proc/PID/stat (field 52, exit_code) if its
 * parent has not reaped it yet. 0: unknown. */
/* pid's /proc/PID/stat read into buf: a pointer to its state letter (field 3, the
 * fields after it follow), or NULL when the process is gone. */
static const char *proc_state(pid_t pid, char *buf, size_t cap)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n = fd >= 0 ? read(fd, buf, cap - 1) : -1;
    if (fd >= 0)
        close(fd);
    if (n <= 0)
        return NULL;
    buf[n] = 0;
    const char *p = strrchr(buf, ')'); /* the command may hold spaces and parentheses */
    return p && p[1] == ' ' && p[2] ? p + 2 : NULL;
}

static uint64_t end_status(struct job *j, struct slog *l)
{
    if (l->pid == j->root && l->gen == 0 && !j->o->detached)
        return j->root_gone ? (uint64_t)j->root_status + 1 : 0;
    char buf[1024];
    const char *p = proc_state(l->pid, buf, sizeof buf);
    if (!p || *p != 'Z')
        return 0;
    int field = 3;
    for (; *p && field < 52; p++)
        if (*p == ' ')
            field++;
    return field == 52 ? strtoull(p, NULL, 10) + 1 : 0;
}

/* The file of pid's memory cgroup that counts the OOM killer's kills (v2:
 * memory.events, v1: memory.oom_control; both say "oom_kill N"), malloc'd, or NULL. */
static char *oom_file(pid_t pid)
{
    char path[4200], line[4096];
    snprintf(path, sizeof path, "/proc/%d/cgroup", (int)pid);
    FILE *f = fopen(path, "re");
    if (!f)
        return NULL;
    path[0] = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        const char *p = strchr(line, ':'), *q = p ? strchr(p + 1, ':') : NULL;
        if (!q)
            continue;
        if (!strncmp(line, "0::", 3))
            snprintf(path, sizeof path, "/sys/fs/cgroup%s/memory.events", q + 1);
        else if ((size_t)(q - p - 1) == 6 && !strncmp(p + 1, "memory", 6))
            snprintf(path, sizeof path, "/sys/fs/cgroup/memory%s/memory.oom_control", q + 1);
        else
            continue;
        if (!access(path, R_OK))
            break;
        path[0] = 0;
    }
    fclose(f);
    return path[0] ? strdup(path) : NULL;
}

static uint64_t oom_kills(const char *file)
{
    char line[256];
    uint64_t n = 0;
    FILE *f = file ? fopen(file, "re") : NULL;
    if (!f)
        return 0;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "oom_kill ", 9))
            n = strtoull(line + 9, NULL, 10);
    fclose(f);
    return n;
}

/* Close a log for good: what is left, the trailer (flags added to what the process
 * said, or the sink's own), and the trace. The transcoder stays, for a fork child that
 * may still join after its parent's end. */
static void end_log(struct job *j, struct slog *l, unsigned flags, uint64_t end)
{
    int end_by_exit = !(flags & FT_T_EXEC); /* not closed by the next program's join */
    if (l->ended)
        return;
    drain_upto(l, 1);
    if (!l->failed) {
        if (!sink_tc_said_bye(l->tc) && sink_tc_exec_last(l->tc)) {
            flags |= FT_T_EXEC;
            if (!(flags & FT_T_RUNNING) && end_by_exit)
                add_unrec(j, l->pid, l->ppid, "exec'd, and the new program never joined (a static "
                          "or setuid program?)", sink_tc_exec_path(l->tc),
                          strlen(sink_tc_exec_path(l->tc)));
        }
        uint64_t t = (rec_now_ns() - l->g->start_ns) / 1000;
        uint32_t said = atomic_load(&l->g->exit_end);
        if (said && !(flags & FT_T_EXEC))
            end = said; /* the program's own word beats what its zombie showed */
        /* Died without a word, killed or status unknown: was it the OOM killer? */
        if (!sink_tc_said_bye(l->tc) && !said && !(flags & (FT_T_EXEC | FT_T_RUNNING)) &&
            (end == 0 || ((end - 1) & 0x7f) == SIGKILL)) {
            uint64_t k = oom_kills(l->oom_file);
            if (k > l->oom_kills) {
                flags |= FT_T_OOM;
                for (size_t i = 0; i < j->n; i++) /* one kill, one process */
                    if (j->logs[i]->oom_file && !strcmp(j->logs[i]->oom_file, l->oom_file))
                        j->logs[i]->oom_kills = k;
            }
        }
        check(l, sink_tc_end(l->tc, l->out, flags, t, end));
    }
    ft_writer_free(l->out);
    l->out = NULL;
    if (l->fd >= 0 && l->fd != j->o->trace_fd)
        close(l->fd);
    l->fd = -1;
    if (l->statm >= 0)
        close(l->statm);
    if (l->pagemap >= 0)
        close(l->pagemap);
    if (l->pidfd >= 0)
        close(l->pidfd);
    if (l->conn >= 0)
        close(l->conn);
    l->statm = l->pagemap = l->pidfd = l->conn = -1;
    munmap(l->map, sizeof(struct rec_log) + ring_bytes);
    l->map = NULL;
    l->g = NULL;
    if (l->lanes)
        munmap(l->lanes, sizeof *l->lanes);
    l->lanes = NULL;
    sink_merge_free(l->mg);
    l->mg = NULL;
    l->ended = 1;
}

/* ---- joining ---- */

static struct slog *find_live(struct job *j, pid_t pid)
{
    for (size_t i = j->n; i-- > 0;)
        if (j->logs[i]->pid == pid && !j->logs[i]->ended)
            return j->logs[i];
    return NULL;
}

static struct slog *find_parent(struct job *j, pid_t pid, uint64_t mono_ns)
{
    for (size_t i = j->n; i-- > 0;)
        if (j->logs[i]->pid == pid && j->logs[i]->mono_ns == mono_ns)
            return j->logs[i];
    return NULL;
}

static unsigned earlier(struct job *j, pid_t pid)
{
    unsigned k = 0;
    for (size_t i = 0; i < j->n; i++)
        k += j->logs[i]->pid == pid && j->logs[i]->image == 0;
    return k;
}

/* The trace file for a process image: the caller's for the first image of the root,
 * else DIR/PID.bin, DIR/PID.N.bin after its N-th exec, DIR/PID_G.bin for the G-th
 * other process with that pid. */
static int open_trace(struct job *j, struct slog *l)
{
    pid_t pid = l->pid;
    unsigned image = l->image;
    if (pid == j->root && image == 0 && l->gen == 0 && j->o->trace_fd >= 0)
        return j->o->trace_fd;
    if (!j->made_dir) {
        if (mkdir(j->o->dir, 0755) && errno != EEXIST)
            return -1;
        j->made_dir = 1;
    }
    char path[PATH_MAX], gen[16] = "", img[16] = "";
    if (l->gen)
        snprintf(gen, sizeof gen, "_%u", l->gen);
    if (image)
        snprintf(img, sizeof img, ".%u", image);
    int n = snprintf(path, sizeof path, "%s/%d%s%s.bin", j->o->dir, (int)pid, gen, img);
    if (n > 0 && (size_t)n < sizeof l->path)
        memcpy(l->path, path, (size_t)n + 1);
    if (n < 0 || (size_t)n >= sizeof path) {
        errno = ENAMETOOLONG;
        return -1;
    }
    return open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
}

static int write_header(struct slog *l, const struct sink_opts *o, const struct rec_hello *h,
                        const char *cmdline)
{
    static uint8_t out[REC_LINK_CMDLINE_MAX + 1024];
    ft_header fh = {
        .flags = o->flags | (l->pagemap >= 0 ? FT_H_RESIDENT : 0), .pid = (uint64_t)h->pid, .ppid = (uint64_t)h->ppid,
        .start_ns = h->start_ns, .page_size = (uint64_t)sysconf(_SC_PAGESIZE),
        .sample_us = o->sample_us, .cmdline = cmdline, .cmdline_len = h->cmdline_len,
        .options = o->options, .options_len = strlen(o->options), .mono_ns = h->mono_ns,
        .image = l->image,
    };
    size_t len = ft_header_encode(out, sizeof out, &fh);
    return len ? ft_write_all(l->fd, out, len) : FT_E_HEADER;
}

static int pagemap_said; /* the job has been told that pagemap cannot be read */

/* Set up a log from a hello; 0, or -1 with errno set (0: a bad log; the process is
 * told no). */
static int setup(struct job *j, struct slog *l, const struct rec_hello *h, const char *cmdline,
                 int shm, int lanes)
{
    errno = 0;
    size_t len = sizeof(struct rec_log) + ring_bytes;
    l->map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, shm, 0);
    if (l->map == MAP_FAILED) {
        l->map = NULL;
        return -1;
    }
    if (lanes >= 0) {
        void *m = mmap(NULL, sizeof *l->lanes, PROT_READ | PROT_WRITE, MAP_SHARED, lanes, 0);
        if (m == MAP_FAILED)
            return -1;
        l->lanes = m;
    }
    l->g = (struct rec_log *)(void *)l->map;
    l->ring = (const uint64_t *)(void *)(l->map + sizeof(struct rec_log));
    if (!(l->tc = sink_tc_new()) || (l->fd = open_trace(j, l)) < 0)
        return -1;
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/pagemap", (int)l->pid);
    l->pagemap = j->o->sample_us ? open(path, O_RDONLY | O_CLOEXEC) : -1;
    if (l->pagemap >= 0)
        sink_tc_measure_pages(l->tc, (uint64_t)sysconf(_SC_PAGESIZE));
    else if (j->o->sample_us && !pagemap_said++)
        fprintf(stderr, "filrec: cannot read %s (%s): large mappings are counted by their "
                "length, private file mappings not at all\n", path, strerror(errno));
    /* zstd's level -1: a third less CPU than level 1 for about 1% more bytes. */
    if (ft_writer_new(&l->out, l->fd, -1) || write_header(l, j->o, h, cmdline))
        return -1;
    if (h->forked) {
        struct slog *parent = find_parent(j, (pid_t)h->ppid, h->parent_mono_ns);
        errno = 0;
        if (!parent)
            return -1;
        drain(parent); /* the ids it defined before the fork are in its log */
        if (sink_tc_inherit(l->tc, l->out, parent->tc, h->nstrings, h->nfuncs, h->nnodes,
                            h->nmodules))
            return -1;
    }
    l->pidfd = (int)syscall(SYS_pidfd_open, l->pid, 0);
    l->oom_file = oom_file(l->pid);
    l->oom_kills = oom_kills(l->oom_file);
    snprintf(path, sizeof path, "/proc/%d/statm", (int)l->pid);
    l->statm = j->o->sample_us ? open(path, O_RDONLY | O_CLOEXEC) : -1;
    l->last_flush = rec_now_ns();
    return 0;
}

static void free_slog(struct job *j, struct slog *l)
{
    if (l->map)
        munmap(l->map, sizeof(struct rec_log) + ring_bytes);
    if (l->lanes)
        munmap(l->lanes, sizeof *l->lanes);
    sink_merge_free(l->mg);
    ft_writer_free(l->out);
    if (l->fd >= 0 && l->fd != j->o->trace_fd)
        close(l->fd);
    sink_tc_free(l->tc);
    free(l->oom_file);
    free(l);
}

/* One process asks to join on conn. */
static void join(struct job *j, int conn)
{
    static uint8_t msg[REC_LINK_MAX];
    union {
        struct cmsghdr c;
        char buf[CMSG_SPACE(2 * sizeof(int))];
    } ctl;
    struct iovec iov = {msg, sizeof msg};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
                       .msg_controllen = sizeof ctl.buf};
    ssize_t n;
    while ((n = recvmsg(conn, &m, MSG_CMSG_CLOEXEC | MSG_DONTWAIT)) < 0 && errno == EINTR)
        ;
    int shm = -1, lanes = -1, fds[2];
    struct cmsghdr *c = n > 0 ? CMSG_FIRSTHDR(&m) : NULL;
    if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
        c->cmsg_len == CMSG_LEN(sizeof(int)))
        memcpy(&shm, CMSG_DATA(c), sizeof shm);
    if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
        c->cmsg_len == CMSG_LEN(2 * sizeof(int))) {
        memcpy(fds, CMSG_DATA(c), sizeof fds);
        shm = fds[0];
        lanes = fds[1];
    }
    struct rec_hello h;
    struct ucred cred;
    socklen_t cl = sizeof cred;
    struct stat st;
    char answer = REC_LINK_NO;
    struct slog *l = NULL;
    if (n < (ssize_t)sizeof h || getsockopt(conn, SOL_SOCKET, SO_PEERCRED, &cred, &cl))
        goto out;
    memcpy(&h, msg, sizeof h);
    if (h.magic == REC_LINK_NOTE && shm < 0 && h.forked == REC_WHY_CANCEL) {
        pid_t who = h.pid > 0 ? h.pid : cred.pid;
        for (size_t i = 0; i < j->nunrec; i++)
            if (j->unrec[i].pid == who) /* its exec failed: it runs on as it was */
                j->unrec[i] = j->unrec[--j->nunrec];
        answer = REC_LINK_OK;
        goto out;
    }
    if (h.magic == REC_LINK_NOTE && shm < 0 && h.cmdline_len <= (size_t)n - sizeof h) {
        static const char *why[] = {
            [REC_WHY_ENV] = "started with an environment without filrec's variables",
            [REC_WHY_STATIC] = "a static program (no dynamic loader to load the recorder)",
            [REC_WHY_SETUID] = "a setuid or setgid program (the loader ignores LD_PRELOAD)",
        };
        add_unrec(j, h.pid > 0 ? h.pid : cred.pid, h.ppid,
                  h.forked >= 1 && h.forked <= REC_WHY_SETUID ? why[h.forked] : "unknown",
                  (const char *)msg + sizeof h, h.cmdline_len);
        answer = REC_LINK_OK;
        goto out;
    }
    if (shm < 0)
        goto out;
    if (h.magic != REC_LINK_MAGIC || h.log_bytes != sizeof(struct rec_log) + ring_bytes ||
        h.cmdline_len > REC_LINK_CMDLINE_MAX || (size_t)n != sizeof h + h.cmdline_len ||
        fstat(shm, &st) || (size_t)st.st_size != h.log_bytes ||
        (lanes >= 0 && (h.lanes_bytes != sizeof(struct rec_lanes) || fstat(lanes, &st) ||
                        (size_t)st.st_size != h.lanes_bytes)))
        goto out;
    struct slog *prev = find_live(j, cred.pid);
    struct pollfd gone = {.fd = prev ? prev->pidfd : -1, .events = POLLIN};
    if (prev && (h.forked || (gone.fd >= 0 && poll(&gone, 1, 0) == 1))) {
        end_log(j, prev, 0, end_status(j, prev)); /* it died, and its pid was reused */
        prev = NULL;
    }
    if (prev)
        end_log(j, prev, FT_T_EXEC, 0); /* the same process again: it exec'd */
    if (j->n == j->cap) {
        size_t cap = j->cap ? 2 * j->cap : 16;
        struct slog **v = realloc(j->logs, cap * sizeof *v);
        if (!v)
            goto out;
        j->logs = v;
        j->cap = cap;
    }
    if (!(l = calloc(1, sizeof *l)))
        goto out;
    *l = (struct slog){.pid = cred.pid, .ppid = h.ppid, .image = prev ? prev->image + 1 : 0,
                       .gen = prev ? prev->gen : earlier(j, cred.pid), .mono_ns = h.mono_ns,
                       .conn = -1, .pidfd = -1, .statm = -1, .pagemap = -1, .fd = -1};
    h.pid = cred.pid;
    if (setup(j, l, &h, (const char *)msg + sizeof h, shm, lanes)) {
        int e = errno;
        fprintf(stderr, "filrec: recording stopped: cannot record process %d: %s\n",
                (int)cred.pid, e ? strerror(e) : "its log cannot be read");
        if (l->path[0])
            unlink(l->path); /* no header-only trace left in the job */
        add_unrec(j, cred.pid, h.ppid, "filrec could not record it (it said why)",
                  (const char *)msg + sizeof h, h.cmdline_len);
        if (j->nunrec && j->unrec[j->nunrec - 1].pid == cred.pid)
            j->unrec[j->nunrec - 1].said = 1;
        free_slog(j, l);
        l = NULL;
        goto out;
    }
    l->conn = conn;
    j->logs[j->n++] = l;
    j->res->processes++;
    j->res->children += l->fd != j->o->trace_fd;
    answer = REC_LINK_OK;
out:
    if (shm >= 0)
        close(shm);
    if (lanes >= 0)
        close(lanes);
    if (answer != REC_LINK_OK)
        j->res->refused++;
    send(conn, &answer, 1, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (!l)
        close(conn);
}

static void accept_all(struct job *j)
{
    for (;;) {
        int c = accept4(j->lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (c < 0)
            return;
        /* A joiner sends its hello right after connecting; one that does not within a
         * second (stopped, or not one of ours) is dropped rather than waited for. */
        struct pollfd p = {.fd = c, .events = POLLIN};
        if (poll(&p, 1, 1000) == 1 && (p.revents & POLLIN))
            join(j, c);
        else
            close(c);
    }
}

/* The processes that ran unrecorded: said on stderr (the first few) and kept in
 * DIR/unrecorded.tsv, a line each: pid, parent pid, why, command. */
static void write_unrec(struct job *j)
{
    j->res->unrecorded = (unsigned)j->nunrec;
    if (!j->nunrec)
        return;
    char path[4200];
    snprintf(path, sizeof path, "%.4096s/unrecorded.tsv", j->o->dir);
    FILE *f = (j->made_dir || !mkdir(j->o->dir, 0755) || errno == EEXIST) ? fopen(path, "we")
                                                                          : NULL;
    for (size_t i = 0, k = 0; i < j->nunrec; i++) {
        const struct unrec *u = &j->unrec[i];
        if (f)
            fprintf(f, "%d\t%d\t%s\t%s\n", (int)u->pid, (int)u->ppid, u->why, u->cmd);
        if (!u->said && k++ < 5)
            fprintf(stderr, "filrec: not recorded: process %d (%s): %s\n", (int)u->pid,
                    u->cmd[0] ? u->cmd : "?", u->why);
    }
    if (j->nunrec > 5)
        fprintf(stderr, "filrec: not recorded: %zu more processes (%s)\n", j->nunrec - 5, path);
    if (f)
        fclose(f);
}

/* ---- the loop ---- */

/* Read a log, and sample it when sample says so. Every log is sampled at the same
 * moments (one schedule for the job), so that the analyzer can add the processes up. */
static void tick(struct slog *l, uint64_t now, int sample)
{
    if (l->ended)
        return;
    drain(l);
    if (sample && !l->failed && !sink_tc_said_bye(l->tc)) {
        /* After the drain: the events before this point happened before the read. */
        check(l, sink_tc_sample(l->tc, l->out, (now - l->g->start_ns) / 1000, rss_of(l->statm)));
        if (l->pagemap >= 0 && now >= l->next_measure) {
            /* The counts go in after a second drain, which drops every mapping the
             * program changed meanwhile (its MUNMAP is logged before the call). */
            uint64_t t0 = rec_now_ns();
            if (sink_tc_measure(l->tc, l->pagemap)) {
                drain(l);
                if (!l->failed)
                    check(l, sink_tc_resident(l->tc, l->out));
            }
            l->next_measure = t0 + 20 * (rec_now_ns() - t0);
        }
    }
    if (!l->failed && now - l->last_flush >= FLUSH_NS) {
        check(l, sink_tc_flush(l->tc, l->out));
        l->last_flush = now;
    }
}

static size_t live(const struct job *j)
{
    size_t k = 0;
    for (size_t i = 0; i < j->n; i++)
        k += !j->logs[i]->ended;
    return k;
}

static void notice_waiting(const struct job *j)
{
    fprintf(stderr, "filrec: the program exited; waiting for %zu recorded process%s still "
            "running (pid", live(j), live(j) == 1 ? "" : "es");
    for (size_t i = 0, k = 0; i < j->n && k < 10; i++)
        if (!j->logs[i]->ended)
            fprintf(stderr, "%s %d", k++ ? "," : "", (int)j->logs[i]->pid);
    fprintf(stderr, "%s); ^C stops recording them\n", live(j) > 10 ? ", ..." : "");
}

/* Whether pid is still a running process (not gone, not a zombie). */
static int alive(pid_t pid)
{
    char buf[1024];
    const char *p = proc_state(pid, buf, sizeof buf);
    return p && *p != 'Z' && *p != 'X';
}

/* Whether a process some log forked is alive and has not joined yet. */
static int unjoined_forks(const struct job *j)
{
    for (size_t i = 0; i < j->n; i++) {
        size_t n;
        const pid_t *f = sink_tc_forks(j->logs[i]->tc, &n);
        for (size_t k = 0; k < n; k++) {
            int joined = 0;
            for (size_t m = 0; m < j->n && !joined; m++)
                joined = j->logs[m]->pid == f[k];
            if (!joined && alive(f[k]))
                return 1;
        }
    }
    return 0;
}

/* Whether waiting for root failed; reaps it when it is gone. A detached root is gone
 * for the job once its log has ended (it stopped recording, or exited), or once it has
 * exited without ever joining. */
static int reap_root(struct job *j)
{
    if (j->root_gone)
        return 0;
    if (j->o->detached) {
        struct slog *l = NULL;
        for (size_t i = 0; i < j->n && !l; i++)
            if (j->logs[i]->pid == j->root && j->logs[i]->gen == 0)
                l = j->logs[i];
        j->root_gone = l ? l->ended : !alive(j->root);
        return 0;
    }
    pid_t r = waitpid(j->root, &j->root_status, WNOHANG);
    if (r < 0 && errno != EINTR)
        return -1;
    if (r == j->root)
        j->root_gone = 1;
    return 0;
}

int sink_run(int listen_fd, const struct sink_opts *o, pid_t root, int *status,
             struct sink_result *res)
{
    struct job j = {.o = o, .lfd = listen_fd, .root = root, .res = res};
    /* Every live process costs us four descriptors: take all the kernel allows (the
     * program, already started, keeps its own limit). */
    struct rlimit nofile;
    if (!getrlimit(RLIMIT_NOFILE, &nofile) && nofile.rlim_cur < nofile.rlim_max) {
        nofile.rlim_cur = nofile.rlim_max;
        setrlimit(RLIMIT_NOFILE, &nofile);
    }
    memset(res, 0, sizeof *res);
    size_t cap = 0;
    struct pollfd *fds = NULL;
    struct slog **who = NULL;
    uint64_t root_gone_at = 0, next_sample = 0;
    int rc = 0, noticed = 0;
    for (;;) {
        if (reap_root(&j)) {
            rc = -1;
            break;
        }
        if (j.root_gone && !root_gone_at) {
            root_gone_at = rec_now_ns();
            signal(SIGINT, on_stop);
            signal(SIGTERM, on_stop);
            /* The root's log ends with it, whatever its pidfd says yet. */
            accept_all(&j);
            for (size_t i = 0; i < j.n; i++)
                if (j.logs[i]->pid == root && j.logs[i]->gen == 0 && !j.logs[i]->ended)
                    end_log(&j, j.logs[i], 0, end_status(&j, j.logs[i]));
        }
        if (j.root_gone && !live(&j)) {
            /* A child forked at the very end may not have joined yet: wait for the
             * ones still alive (up to a second), then stop. */
            accept_all(&j);
            if (!live(&j) && (!unjoined_forks(&j) || rec_now_ns() - root_gone_at > 1000000000ull))
                break;
            if (!live(&j)) {
                struct pollfd p = {.fd = listen_fd, .events = POLLIN};
                poll(&p, 1, 10);
                continue;
            }
        }
        if (stop_now) {
            for (size_t i = 0; i < j.n; i++)
                end_log(&j, j.logs[i], FT_T_RUNNING, 0);
            break;
        }
        if (j.root_gone && !noticed && rec_now_ns() - root_gone_at > WAIT_NOTICE_NS) {
            notice_waiting(&j);
            noticed = 1;
        }
        /* The descriptors to wait on: the socket, then each live log's connection and
         * pidfd. */
        size_t need = 1 + 2 * j.n;
        if (need > cap) {
            cap = 2 * need;
            struct pollfd *f = realloc(fds, cap * sizeof *f);
            struct slog **w = realloc(who, cap * sizeof *w);
            if (f)
                fds = f;
            if (w)
                who = w;
            if (!f || !w) {
                rc = -1;
                errno = ENOMEM;
                break;
            }
        }
        size_t nf = 0;
        fds[nf] = (struct pollfd){.fd = listen_fd, .events = POLLIN};
        who[nf++] = NULL;
        for (size_t i = 0; i < j.n; i++) {
            struct slog *l = j.logs[i];
            if (l->ended)
                continue;
            if (l->conn >= 0) {
                fds[nf] = (struct pollfd){.fd = l->conn, .events = POLLIN};
                who[nf++] = l;
            }
            if (l->pidfd >= 0) {
                fds[nf] = (struct pollfd){.fd = l->pidfd, .events = POLLIN};
                who[nf++] = l;
            }
        }
        uint64_t t = rec_now_ns();
        int wait = o->sample_us && next_sample > t && next_sample - t < POLL_MS * 1000000ull
                       ? (int)((next_sample - t + 999999) / 1000000)
                       : POLL_MS;
        int k = poll(fds, nf, wait);
        if (k < 0 && errno != EINTR) {
            rc = -1;
            break;
        }
        if (k > 0 && fds[0].revents)
            accept_all(&j);
        for (size_t i = 1; k > 0 && i < nf; i++) {
            struct slog *l = who[i];
            if (!fds[i].revents || l->ended)
                continue;
            if (fds[i].fd == l->conn) {
                char buf[256];
                ssize_t r = recv(l->conn, buf, sizeof buf, MSG_DONTWAIT);
                if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR) ||
                    (fds[i].revents & (POLLHUP | POLLERR))) {
                    close(l->conn); /* exec, or a program closing its descriptors */
                    l->conn = -1;
                }
            } else if (l->pid != root || l->gen || o->detached) { /* else from waitpid */
                end_log(&j, l, 0, end_status(&j, l));
            }
        }
        /* A process we hold no pidfd for (pidfd_open failed: gone already, or no
         * descriptors left): its end is seen by asking the kernel. */
        for (size_t i = 0; i < j.n; i++) {
            struct slog *l = j.logs[i];
            if (!l->ended && l->pidfd < 0 && (l->pid != root || l->gen || o->detached) &&
                !alive(l->pid))
                end_log(&j, l, 0, end_status(&j, l));
        }
        uint64_t now = rec_now_ns();
        int sample = o->sample_us && now >= next_sample;
        if (sample)
            next_sample = now + o->sample_us * 1000;
        for (size_t i = 0; i < j.n; i++) {
            tick(j.logs[i], now, sample);
            struct slog *l = j.logs[i];
            if (!l->ended && sink_tc_stopped(l->tc))
                end_log(&j, l, 0, 0); /* stopped, and runs on */
            else if (!l->ended && o->detached && !sink_tc_said_bye(l->tc) &&
                     __atomic_load_n(&l->g->stopping, __ATOMIC_ACQUIRE)) {
                drain(l); /* the trailer, if any, was published before stopping was set */
                if (!sink_tc_said_bye(l->tc))
                    end_log(&j, l, FT_T_RUNNING | FT_T_FAILED, 0); /* stopped after a failure */
                else if (sink_tc_stopped(l->tc))
                    end_log(&j, l, 0, 0);
            }
        }
    }
    for (size_t i = 0; i < j.n; i++) {
        end_log(&j, j.logs[i], FT_T_RUNNING, 0);
        free_slog(&j, j.logs[i]);
    }
    write_unrec(&j);
    free(j.unrec);
    free(j.logs);
    free(fds);
    free(who);
    signal(SIGINT, SIG_IGN);
    signal(SIGTERM, SIG_DFL);
    *status = j.root_status;
    return rc;
}
