/* bench/spawn.c: `spawn RESULT PROGRAM [ARGS...]` runs PROGRAM (found on PATH), waits
 * for it and writes one line to RESULT: wall seconds, CPU seconds (user + sys),
 * ru_maxrss in KiB, exit code (negative: killed by that signal). bench/peers.sh builds
 * it and bench/peers.py runs every measured command through it.
 *
 * Why a separate program: Linux keeps the largest RSS a process had before exec in its
 * ru_maxrss, and a child made by vfork or posix_spawn runs on its parent's memory until
 * exec, so a child of the benchmark driver (a Python process of some 30 MB) reports at
 * least the driver's high-water mark. This program is small and forks, so what a child
 * inherits is this program's few pages. The rusage is wait4's for that child: CPU and
 * max RSS over its whole waited-for process tree (max RSS: of the largest process, not
 * a sum), as getrusage(RUSAGE_CHILDREN) would count them here. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double seconds(const struct timeval *tv)
{
    return (double)tv->tv_sec + (double)tv->tv_usec / 1e6;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: spawn RESULT PROGRAM [ARGS...]\n");
        return 2;
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pid_t pid = fork();
    if (pid < 0) {
        perror("spawn: fork");
        return 2;
    }
    if (pid == 0) {
        execvp(argv[2], argv + 2);
        fprintf(stderr, "spawn: cannot run %s: %s\n", argv[2], strerror(errno));
        _exit(127);
    }
    int status;
    struct rusage ru;
    while (wait4(pid, &status, 0, &ru) < 0) {
        if (errno != EINTR) {
            perror("spawn: wait4");
            return 2;
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double wall = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
    FILE *f = fopen(argv[1], "w");
    if (!f) {
        fprintf(stderr, "spawn: cannot write %s: %s\n", argv[1], strerror(errno));
        return 2;
    }
    fprintf(f, "%.6f %.6f %ld %d\n", wall, seconds(&ru.ru_utime) + seconds(&ru.ru_stime),
            ru.ru_maxrss, code);
    return fclose(f) == 0 ? 0 : 2;
}
