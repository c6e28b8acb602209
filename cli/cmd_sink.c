/* cmd_sink.c: `filrec _sink`, the sink of a process that starts recording by itself
 * (the Python API's filrec.start, attach), not a verb for people. It is started by that
 * process, leaves it at once (a grandchild in a session of its own: the program's
 * wait() and its terminal's ^C never reach it), and tells it on the ready descriptor
 *     ok SOCKET PID\n      or      error MESSAGE\n
 * then serves the process's log until its recording stops or it exits (sink.h), and
 * closes the descriptor when the trace is complete: the process waits for that EOF. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../format/ft.h"
#include "../sink/sink.h"
#include "cli.h"

static const char usage[] =
    "usage: filrec _sink --ready-fd N -o TRACE [options]\n"
    "\n"
    "The sink of a process that records itself (filrec.start() in Python, filrec\n"
    "attach); started by that process, not by hand.\n"
    "\n"
    "  --ready-fd N           say 'ok SOCKET PID' or 'error ...' on descriptor N, and\n"
    "                         close it once the trace is complete\n"
    "  -o, --output TRACE     the trace to write (refused if it exists, unless -f)\n"
    "  -f, --force            overwrite TRACE\n"
    "  --owner PID            the process to serve (default: the parent)\n"
    "  --python               the trace has Python stacks\n"
    "  --python-allocators    and every Python object allocation\n"
    "  --native               and native stacks (format version 3)\n"
    "  --sample BYTES         the process samples one allocation in every BYTES\n"
    "  --interval MS          sample resident memory every MS milliseconds (10)\n";

static void say(int fd, const char *what, const char *msg)
{
    dprintf(fd, "%s %s\n", what, msg);
}

int cmd_sink(int argc, char **argv)
{
    const char *out = NULL;
    long ready = -1, owner = getppid(), interval = 10;
    unsigned long long sample = 0;
    int force = 0;
    unsigned flags = FT_H_LATE;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        char *end = NULL;
        if (cli_is_help(a)) {
            fputs(usage, stdout);
            return 0;
        } else if (!strcmp(a, "--ready-fd") && i + 1 < argc) {
            ready = strtol(argv[++i], &end, 10);
        } else if (!strcmp(a, "--owner") && i + 1 < argc) {
            owner = strtol(argv[++i], &end, 10);
        } else if (!strcmp(a, "--interval") && i + 1 < argc) {
            interval = strtol(argv[++i], &end, 10);
            if (!*end && (interval < 1 || interval > 3600000))
                end = "x";
        } else if ((!strcmp(a, "-o") || !strcmp(a, "--output")) && i + 1 < argc) {
            out = argv[++i];
        } else if (!strcmp(a, "-f") || !strcmp(a, "--force")) {
            force = 1;
        } else if (!strcmp(a, "--python")) {
            flags |= FT_H_PYTHON;
        } else if (!strcmp(a, "--python-allocators")) {
            flags |= FT_H_PYTHON | FT_H_PYALLOC;
        } else if (!strcmp(a, "--native")) {
            flags |= FT_H_NATIVE;
        } else if (!strcmp(a, "--sample") && i + 1 < argc) {
            sample = strtoull(argv[++i], &end, 10);
            if (!*end && (sample < 1 || sample > (1ull << 40)))
                end = "x";
            flags |= FT_H_SAMPLED;
        } else {
            cli_error("_sink: bad option '%s'; see 'filrec _sink --help'", a);
            return 1;
        }
        if (end && *end) {
            cli_error("_sink: bad value '%s' for %s", argv[i], a);
            return 1;
        }
    }
    if (ready < 0 || fcntl((int)ready, F_GETFD) < 0 || !out || owner <= 1) {
        cli_error("_sink needs --ready-fd, -o and a process to serve; see 'filrec _sink --help'");
        return 1;
    }
    int rfd = (int)ready;
    fcntl(rfd, F_SETFD, FD_CLOEXEC);
    char msg[4200];
    struct stat st;
    if (!force && stat(out, &st) == 0) {
        snprintf(msg, sizeof msg, "'%s' exists; overwrite it with force", out);
        say(rfd, "error", msg);
        return 1;
    }
    int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf(msg, sizeof msg, "cannot open '%s': %s", out, strerror(errno));
        say(rfd, "error", msg);
        return 1;
    }
    char sock[108], dir[4200];
    snprintf(dir, sizeof dir, "%s.d", out);
    fflush(NULL);
    pid_t kid = fork();
    if (kid < 0) {
        snprintf(msg, sizeof msg, "cannot fork: %s", strerror(errno));
        say(rfd, "error", msg);
        return 1;
    }
    if (kid > 0)
        return 0; /* the owner reaps us; our child runs on without a parent to bother */
    setsid();
    /* Listened to here, not before the fork: a recorder takes the listener's pid (its
     * peer credentials) for the sink's, to see it alive while it waits for room. */
    int lfd = sink_listen(sock, sizeof sock);
    if (lfd < 0) {
        snprintf(msg, sizeof msg, "cannot listen: %s", strerror(errno));
        say(rfd, "error", msg);
        return 1;
    }
    snprintf(msg, sizeof msg, "%s %d", sock, (int)getpid());
    say(rfd, "ok", msg);
    char options[96];
    cli_sink_options(options, sizeof options, interval, sample);
    struct sink_opts so = {.trace_fd = fd, .dir = dir, .flags = flags,
                           .sample_us = (uint64_t)interval * 1000, .options = options,
                           .detached = 1};
    struct sink_result res;
    int status;
    int rc = sink_run(lfd, &so, (pid_t)owner, &status, &res);
    close(lfd);
    if (fsync(fd) && errno != EINVAL)
        rc = -1;
    close(fd);
    close(rfd); /* the trace is complete */
    return rc ? 1 : 0;
}
