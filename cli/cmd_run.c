/* cmd_run.c: `filrec run`. Opens the trace (never silently over an existing one),
 * starts the program with libfilrec.so preloaded and the trace's descriptor in
 * FILREC_FD, waits, and exits as the program did: same code, or same signal. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"

static const char usage[] =
    "usage: filrec run [-o FILE] [-f] [--interval MS] [--] PROGRAM [ARGS...]\n"
    "\n"
    "Run PROGRAM with every allocation recorded into a trace file.\n"
    "\n"
    "  -o, --output FILE   the trace (default: filrec-PROGRAM.PID.bin here)\n"
    "  -f, --force         overwrite FILE if it exists\n"
    "      --interval MS   record time and resident memory every MS ms (default 10)\n"
    "  -h, --help          show this help\n"
    "\n"
    "filrec run exits with PROGRAM's exit status; if PROGRAM dies of a signal,\n"
    "filrec says so and dies of the same signal.\n";

static pid_t child;

static void forward(int sig)
{
    if (child > 0)
        kill(child, sig);
}

/* libfilrec.so beside this binary (build tree) or in ../lib/filrec (installed). */
static int find_library(char *out, size_t cap)
{
    const char *env = getenv("FILREC_LIB");
    if (env && *env) {
        snprintf(out, cap, "%s", env);
        return access(out, R_OK);
    }
    char exe[PATH_MAX - 64];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return -1;
    exe[n] = 0;
    *strrchr(exe, '/') = 0;
    snprintf(out, cap, "%s/libfilrec.so", exe);
    if (access(out, R_OK) == 0)
        return 0;
    snprintf(out, cap, "%s/../lib/filrec/libfilrec.so", exe);
    return access(out, R_OK);
}

static int open_trace(const char *path, int force)
{
    struct stat st;
    if (stat(path, &st) == 0 && S_ISREG(st.st_mode) && !force) {
        cli_error("'%s' exists; use -f to overwrite it", path);
        return -1;
    }
    int flags = O_WRONLY | O_CREAT | O_CLOEXEC;
    if (stat(path, &st) != 0 || S_ISREG(st.st_mode))
        flags |= O_TRUNC;
    int fd = open(path, flags, 0644);
    if (fd < 0)
        cli_error("cannot open '%s': %s", path, strerror(errno));
    return fd;
}

static void exec_program(char **argv, const char *lib, int fd, long interval_ms)
{
    char buf[64];
    const char *old = getenv("LD_PRELOAD");
    char *pre = malloc(strlen(lib) + (old ? strlen(old) : 0) + 2);
    if (!pre)
        _exit(127);
    sprintf(pre, old && *old ? "%s:%s" : "%s", lib, old);
    setenv("LD_PRELOAD", pre, 1);
    snprintf(buf, sizeof buf, "%d", fd);
    setenv("FILREC_FD", buf, 1);
    snprintf(buf, sizeof buf, "%ld", interval_ms * 1000);
    setenv("FILREC_SAMPLE_US", buf, 1);
    fcntl(fd, F_SETFD, 0); /* the program inherits the trace; the recorder re-closes it */
    execvp(argv[0], argv);
    cli_error("cannot run '%s': %s", argv[0], strerror(errno));
    _exit(127);
}

/* Exit the way the program did. */
static int mirror(int status)
{
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    int sig = WTERMSIG(status);
    cli_error("program killed by signal %d (%s)", sig, strsignal(sig));
    fflush(stderr);
    struct rlimit no_core = {0, 0};
    setrlimit(RLIMIT_CORE, &no_core); /* the program's core, if any, is the one wanted */
    signal(sig, SIG_DFL);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, sig);
    sigprocmask(SIG_UNBLOCK, &set, NULL);
    raise(sig);
    return 128 + sig;
}

int cmd_run(int argc, char **argv)
{
    const char *out = NULL;
    int force = 0, i = 1;
    long interval = 10;
    for (; i < argc && argv[i][0] == '-'; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--")) {
            i++;
            break;
        } else if (cli_is_help(a)) {
            fputs(usage, stdout);
            return 0;
        } else if (!strcmp(a, "-f") || !strcmp(a, "--force")) {
            force = 1;
        } else if ((!strcmp(a, "-o") || !strcmp(a, "--output")) && i + 1 < argc) {
            out = argv[++i];
        } else if (!strncmp(a, "--output=", 9)) {
            out = a + 9;
        } else if (!strcmp(a, "--interval") && i + 1 < argc) {
            char *end;
            interval = strtol(argv[++i], &end, 10);
            if (*end || interval < 1 || interval > 3600000) {
                cli_error("bad --interval '%s': want milliseconds, 1 to 3600000", argv[i]);
                return 1;
            }
        } else {
            cli_error("unknown option '%s' for run; see 'filrec run --help'", a);
            return 1;
        }
    }
    if (i >= argc) {
        fputs(usage, stderr);
        return 1;
    }
    char lib[PATH_MAX], dflt[PATH_MAX];
    if (find_library(lib, sizeof lib)) {
        cli_error("cannot find libfilrec.so next to the filrec binary (set FILREC_LIB)");
        return 1;
    }
    if (strpbrk(lib, " :")) {
        cli_error("cannot preload '%s': the path holds a space or a colon", lib);
        return 1;
    }
    if (!out) {
        const char *base = strrchr(argv[i], '/');
        snprintf(dflt, sizeof dflt, "filrec-%s.%d.bin", base ? base + 1 : argv[i], (int)getpid());
        out = dflt;
    }
    int fd = open_trace(out, force);
    if (fd < 0)
        return 1;
    fflush(NULL);
    child = fork();
    if (child < 0) {
        cli_error("cannot fork: %s", strerror(errno));
        return 1;
    }
    if (child == 0)
        exec_program(argv + i, lib, fd, interval);
    close(fd);
    /* Like system(): the terminal's ^C and ^\ go to the program, not to us. */
    signal(SIGINT, SIG_IGN);
    signal(SIGQUIT, SIG_IGN);
    signal(SIGTERM, forward);
    signal(SIGHUP, forward);
    int status;
    while (waitpid(child, &status, 0) < 0) {
        if (errno != EINTR) {
            cli_error("cannot wait for the program: %s", strerror(errno));
            return 1;
        }
    }
    struct stat st;
    if (stat(out, &st) == 0 && S_ISREG(st.st_mode)) {
        if (st.st_size == 0) {
            unlink(out); /* the program never started: no trace */
        } else {
            fprintf(stderr, "filrec: trace written to %s\n", out);
            fprintf(stderr, "filrec: next: filrec stats %s\n", out);
        }
    }
    return mirror(status);
}
