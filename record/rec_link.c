/* rec_link.c: the library's side of rec_link.h: join the job's sink with a new log,
 * wake it when a buffer is sealed, and tell whether it is still there. Everything here
 * is plain system calls (no malloc, no stdio): it runs in a fork child's atfork handler
 * and in the constructor. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "rec_internal.h"
#include "rec_link.h"

/* The connection: its descriptor (moved high, out of the program's way), the socket's
 * inode (a program may close the descriptor and open something else under its number:
 * we never write to that), and the sink's pid. Owned by whoever holds rec.lock, or by
 * the single thread of start-up and of a fork child. */
static int link_fd = -1;
static ino_t link_ino;
static pid_t sink_pid;

static int dial(const char *name)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    size_t n = strlen(name);
    if (n < 2 || n > sizeof a.sun_path - 1 || name[0] != '@') {
        errno = EINVAL;
        return -1;
    }
    memcpy(a.sun_path + 1, name + 1, n - 1); /* abstract: sun_path[0] is 0 */
    int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (connect(fd, (struct sockaddr *)&a, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n))) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    int high = fcntl(fd, F_DUPFD_CLOEXEC, 900);
    if (high >= 0) {
        close(fd);
        fd = high;
    }
    return fd;
}

static size_t read_cmdline(uint8_t *out, size_t cap)
{
    int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
    ssize_t n = 0, k;
    if (fd < 0)
        return 0;
    while ((size_t)n < cap && (k = read(fd, out + n, cap - (size_t)n)) > 0)
        n += k;
    close(fd);
    if (n > 0 && out[n - 1] == 0)
        n--;
    return n > 0 ? (size_t)n : 0;
}

int rec_link_join(const char *name, int shm, size_t log_bytes, int lanes, pid_t forked_from,
                  uint64_t parent_mono_ns)
{
    static uint8_t msg[REC_LINK_MAX]; /* one joiner at a time: start-up or a fork child */
    struct rec_hello h = {
        .magic = REC_LINK_MAGIC, .log_bytes = (uint32_t)log_bytes, .pid = (int32_t)getpid(),
        .ppid = (int32_t)(forked_from ? forked_from : getppid()),
        .forked = forked_from != 0, .nstrings = rec.nstrings,
        .nfuncs = rec.nfuncs, .nnodes = rec.nnodes, .nmodules = rec.nmodules,
        .mono_ns = rec.start_ns, .lanes_bytes = lanes >= 0 ? (uint32_t)sizeof *rec_lanes : 0,
        .parent_mono_ns = parent_mono_ns,
    };
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    h.start_ns = (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
    h.cmdline_len = (uint32_t)read_cmdline(msg + sizeof h, REC_LINK_CMDLINE_MAX);
    memcpy(msg, &h, sizeof h);

    int fd = dial(name);
    if (fd < 0)
        return -1;
    struct iovec iov = {msg, sizeof h + h.cmdline_len};
    union {
        struct cmsghdr c;
        char buf[CMSG_SPACE(2 * sizeof(int))];
    } ctl;
    memset(&ctl, 0, sizeof ctl);
    int fds[2] = {shm, lanes}, nfd = lanes >= 0 ? 2 : 1;
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
                       .msg_controllen = CMSG_SPACE(nfd * sizeof(int))};
    struct cmsghdr *c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(nfd * sizeof(int));
    memcpy(CMSG_DATA(c), fds, nfd * sizeof(int));
    /* A sink busy with a burst may take a moment; one that never answers is gone. */
    struct timeval tv = {30, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char answer = 0;
    ssize_t k;
    while ((k = sendmsg(fd, &m, MSG_NOSIGNAL)) < 0 && errno == EINTR)
        ;
    if (k >= 0)
        while ((k = recv(fd, &answer, 1, 0)) < 0 && errno == EINTR)
            ;
    struct ucred cred;
    socklen_t cl = sizeof cred;
    struct stat st;
    if (k != 1 || answer != REC_LINK_OK || getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) ||
        fstat(fd, &st)) {
        int e = k == 1 ? ECONNREFUSED : k == 0 ? ECONNRESET : errno;
        close(fd);
        errno = e;
        return -1;
    }
    tv.tv_sec = 0;
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    link_fd = fd;
    link_ino = st.st_ino;
    sink_pid = cred.pid;
    return 0;
}

void rec_link_note(const char *name, char *const argv[], unsigned why, pid_t pid)
{
    /* On the stack: a vfork child shares our memory, and may run beside other threads. */
    uint8_t msg[sizeof(struct rec_hello) + 2048];
    struct rec_hello h = {.magic = REC_LINK_NOTE, .pid = (int32_t)(pid ? pid : getpid()),
                          .ppid = (int32_t)(pid ? getpid() : getppid()), .forked = why};
    size_t n = 0, cap = sizeof msg - sizeof h;
    for (size_t i = 0; argv && argv[i] && n < cap; i++) {
        size_t k = strnlen(argv[i], cap - n);
        memcpy(msg + sizeof h + n, argv[i], k);
        n += k;
        if (n < cap)
            msg[sizeof h + n++] = 0;
    }
    h.cmdline_len = (uint32_t)(n && !msg[sizeof h + n - 1] ? n - 1 : n);
    memcpy(msg, &h, sizeof h);
    int fd = dial(name);
    if (fd < 0)
        return;
    struct timeval tv = {1, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char answer;
    if (send(fd, msg, sizeof h + h.cmdline_len, MSG_NOSIGNAL) >= 0)
        (void)!recv(fd, &answer, 1, 0); /* the sink has it before the exec happens */
    close(fd);
}

void rec_link_drop(void)
{
    if (link_fd >= 0)
        close(link_fd);
    link_fd = -1;
}

void rec_link_wake(void)
{
    struct stat st;
    if (link_fd < 0 || fstat(link_fd, &st) || st.st_ino != link_ino || !S_ISSOCK(st.st_mode)) {
        link_fd = -1; /* the program closed it: the sink looks on its own timer */
        return;
    }
    char w = REC_LINK_WAKE;
    send(link_fd, &w, 1, MSG_DONTWAIT | MSG_NOSIGNAL);
}

int rec_link_alive(void)
{
    return sink_pid > 0 && (kill(sink_pid, 0) == 0 || errno == EPERM);
}
