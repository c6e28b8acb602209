/* cmd_run.c: `filrec run`. Opens the trace (never silently over an existing one),
 * starts the program with libfilrec.so preloaded and the sink's socket in FILREC_SOCK,
 * serves the job as its sink (sink/) until every recorded process has ended, and exits
 * as the program did: same code, or same signal. */
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
#include <dirent.h>

#include "../format/ft.h"
#include "../sink/sink.h"
#include "cli.h"

static const char usage[] =
    "usage: filrec run [options] SCRIPT.py [ARGS...]\n"
    "       filrec run [options] -m MODULE [ARGS...]\n"
    "       filrec run [options] -c CODE [ARGS...]\n"
    "       filrec run [options] - [ARGS...]       (the script on standard input)\n"
    "       filrec run [options] [--] PROGRAM [ARGS...]\n"
    "\n"
    "Run a Python script or any program with every allocation recorded into a trace\n"
    "file, with the Python stack (file, function, line) of each.\n"
    "\n"
    "  -o, --output FILE     the trace (default: filrec-NAME.PID.bin here); the job's\n"
    "                        other processes go in FILE.d/, one trace each\n"
    "  -f, --force           overwrite FILE (and FILE.d/'s traces) if it exists\n"
    "      --no-follow       record only the first process, not its children\n"
    "      --python PATH     the interpreter for SCRIPT.py, -m and -c (default: python3)\n"
    "      --python-allocators\n"
    "                        record every Python object allocation exactly, at\n"
    "                        Python's own allocator (slower)\n"
    "      --native          record each allocation's native stack too: the C, C++\n"
    "                        and Fortran frames under each Python line (slower)\n"
    "      --sample SIZE     record a sample of the allocations: on average one for\n"
    "                        every SIZE bytes allocated (512KiB), every one of SIZE or\n"
    "                        more; reports scale the sample back, with 95% bounds\n"
    "      --interval MS     record time and resident memory every MS ms (default 10)\n"
    "      --no-report       only record: no report folder after the run\n"
    "      --break-at SIZE   drop into pdb in the main thread once tracked live memory\n"
    "                        passes SIZE (500MB, 2GiB; counted from Python's start-up)\n"
    "  -h, --help            show this help\n"
    "\n"
    "filrec run exits with the program's exit status; if the program dies of a\n"
    "signal, filrec says so and dies of the same signal.\n";


static pid_t child;
static uint64_t sample_bytes; /* --sample: the mean interval; 0: every allocation */

static void forward(int sig)
{
    if (child > 0)
        kill(child, sig);
}

/* out = a + b, within PATH_MAX; 0 or -1 if too long. */
static int join(char *out, const char *a, const char *b)
{
    size_t n = strlen(a), m = strlen(b);
    if (n + m >= PATH_MAX)
        return -1;
    memcpy(out, a, n);
    memcpy(out + n, b, m + 1);
    return 0;
}

/* The build tree keeps libfilrec.so and python/ (modules) beside the binary and the
 * package in ../python; `make install` keeps all three in ../lib/filrec; a pip install
 * keeps the first two beside the binary, in the package's _native folder. */
int cli_find_parts(struct cli_parts *p)
{
    char exe[PATH_MAX], dir[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return -1;
    exe[n] = 0;
    *strrchr(exe, '/') = 0;
    int bad = join(dir, exe, "") | join(p->lib, dir, "/libfilrec.so") |
              join(p->site, dir, "/../__init__.py");
    if (access(p->lib, R_OK) == 0 && access(p->site, R_OK) == 0) {
        bad |= join(p->package, dir, "/../.."); /* a pip install: PACKAGES/filrec/_native */
    } else if (access(p->lib, R_OK) == 0) {
        bad |= join(p->package, dir, "/../python");
    } else {
        bad |= join(dir, exe, "/../lib/filrec") | join(p->lib, dir, "/libfilrec.so") |
               join(p->package, dir, "/pkg");
    }
    const char *env = getenv("FILREC_LIB");
    if (env && *env)
        bad |= join(p->lib, env, "");
    char *real = realpath(p->package, NULL);
    if (real) {
        bad |= join(p->package, real, "");
        free(real);
    }
    bad |= join(p->modules, dir, "/python") | join(p->site, p->package, "/filrec/_site");
    return bad ? -1 : access(p->lib, R_OK);
}

/* The folder of the job's other traces: refused if it holds traces and force is not
 * given; with force, the traces in it (and only those) are removed. 0 or -1. */
static int clear_job_dir(const char *dir, int force)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    struct dirent *e;
    int found = 0, bad = 0;
    while ((e = readdir(d))) {
        size_t n = strlen(e->d_name);
        if (n < 5 || strcmp(e->d_name + n - 4, ".bin") || e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        found = 1;
        if (force && unlinkat(dirfd(d), e->d_name, 0) && errno != ENOENT)
            bad = 1;
    }
    closedir(d);
    if (found && !force) {
        cli_error("'%s' holds traces; use -f to overwrite them", dir);
        return -1;
    }
    if (bad)
        cli_error("cannot remove the old traces in '%s': %s", dir, strerror(errno));
    return bad ? -1 : 0;
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

/* Prepend first to the colon-separated list in variable name. */
static void env_prepend(const char *name, const char *first)
{
    const char *old = getenv(name);
    char *v = malloc(strlen(first) + (old ? strlen(old) : 0) + 2);
    if (!v)
        _exit(127);
    sprintf(v, old && *old ? "%s:%s" : "%s", first, old ? old : "");
    setenv(name, v, 1);
    free(v);
}

static void exec_program(char **argv, const struct cli_parts *p, const char *sock, int follow,
                         unsigned flags, int started)
{
    if (started >= 0) { /* for the bootstrap: "b" when it runs, "s" when the program does */
        char v[16];
        int w = dup(started); /* without close-on-exec */
        snprintf(v, sizeof v, "%d", w);
        if (w >= 0)
            setenv("FILREC_STARTED_FD", v, 1);
    }
    setenv("FILREC_SOCK", sock, 1);
    setenv("FILREC_FOLLOW", follow ? "1" : "0", 1);
    env_prepend("LD_PRELOAD", p->lib);
    /* Any Python started here loads the bootstrap, which undoes this. */
    const char *pp = getenv("PYTHONPATH");
    setenv("FILREC_PYTHONPATH", pp ? pp : "", 1);
    env_prepend("PYTHONPATH", p->site);
    setenv("FILREC_PYDIR", p->modules, 1);
    setenv("FILREC_PYPKG", p->package, 1);
    if (flags & FT_H_PYALLOC)
        setenv("FILREC_PYOBJECTS", "1", 1); /* for the bootstrap */
    if (flags & FT_H_NATIVE)
        setenv("FILREC_NATIVE", "1", 1);
    else
        unsetenv("FILREC_NATIVE");
    if (sample_bytes) {
        char v[24];
        snprintf(v, sizeof v, "%llu", (unsigned long long)sample_bytes);
        setenv("FILREC_SAMPLE", v, 1);
    } else {
        unsetenv("FILREC_SAMPLE");
    }
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

/* python, as a malloc'd path, if it is an ELF executable, else NULL. A bare name is
 * looked up in PATH. */
static char *elf_python(const char *python)
{
    char path[PATH_MAX], magic[4];
    const char *dirs = strchr(python, '/') ? "" : getenv("PATH");
    for (const char *d = dirs ? dirs : ""; ; d = strchr(d, ':') + 1) {
        size_t n = strcspn(d, ":");
        if (strchr(python, '/'))
            snprintf(path, sizeof path, "%s", python);
        else
            snprintf(path, sizeof path, "%.*s/%s", (int)n, n ? d : ".", python);
        int fd = access(path, X_OK) ? -1 : open(path, O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
            ssize_t k = read(fd, magic, sizeof magic);
            close(fd);
            return k == 4 && !memcmp(magic, "\x7f" "ELF", 4) ? strdup(path) : NULL;
        }
        if (!strchr(d, ':'))
            return NULL;
    }
}

/* The interpreter's real binary (sys.executable). Launchers such as pyenv's shims are
 * scripts that exec the interpreter: the preloaded recorder would attach to the shell
 * and let the real interpreter go unrecorded. An ELF file is the binary itself; a
 * script is asked. Returns a malloc'd path, or NULL if it does not run. */
static char *real_python(const char *python)
{
    char *elf = elf_python(python);
    if (elf)
        return elf;
    int fd[2];
    if (pipe(fd))
        return NULL;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fd[1], 1);
        close(fd[0]);
        execlp(python, python, "-S", "-c", "import sys; sys.stdout.write(sys.executable)",
               (char *)NULL);
        _exit(127);
    }
    close(fd[1]);
    char buf[PATH_MAX];
    size_t n = 0;
    ssize_t k;
    while (pid > 0 && n < sizeof buf - 1 && (k = read(fd[0], buf + n, sizeof buf - 1 - n)) > 0)
        n += (size_t)k;
    close(fd[0]);
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) || !n)
        return NULL;
    buf[n] = 0;
    return strdup(buf);
}

/* s as one word for a POSIX shell: as it is when it holds nothing the shell would
 * read, else single-quoted (a ' inside as '\''). */
static void put_shell_word(FILE *f, const char *s)
{
    if (*s && strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                        "_-./+,:@%=") == strlen(s) && *s != '-') {
        fputs(s, f);
        return;
    }
    fputc('\'', f);
    for (; *s; s++)
        if (*s == '\'')
            fputs("'\\''", f);
        else
            fputc(*s, f);
    fputc('\'', f);
}

static int ends_with(const char *s, const char *tail)
{
    size_t n = strlen(s), t = strlen(tail);
    return n > t && !strcmp(s + n - t, tail);
}

int cmd_run(int argc, char **argv)
{
    const char *out = NULL, *python = "python3", *pyflag = NULL;
    int force = 0, report = 1, follow = 1, i = 1;
    unsigned flags = 0;
    long interval = 10;
    uint64_t break_at = 0;
    for (; i < argc && argv[i][0] == '-' && argv[i][1]; i++) { /* "-": the script on stdin */
        const char *a = argv[i];
        if (!strcmp(a, "--")) {
            i++;
            break;
        } else if ((!strcmp(a, "-m") || !strcmp(a, "-c")) && i + 1 < argc) {
            pyflag = a;
            break;
        } else if (!strcmp(a, "--python") && i + 1 < argc) {
            python = argv[++i];
        } else if (!strncmp(a, "--python=", 9) && a[9]) {
            python = a + 9;
        } else if (!strcmp(a, "--no-report")) {
            report = 0;
        } else if (!strcmp(a, "--no-follow")) {
            follow = 0;
        } else if (!strcmp(a, "--python-allocators")) {
            flags |= FT_H_PYALLOC;
        } else if (!strcmp(a, "--native")) {
            flags |= FT_H_NATIVE;
        } else if ((!strcmp(a, "--break-at") && i + 1 < argc) || !strncmp(a, "--break-at=", 11)) {
            const char *v = a[10] == '=' ? a + 11 : argv[++i];
            if (cli_parse_size(v, &break_at) || !break_at) {
                cli_error("bad --break-at '%s': want a size, such as 500MB or 2GiB", v);
                return 1;
            }
        } else if ((!strcmp(a, "--sample") && i + 1 < argc) || !strncmp(a, "--sample=", 9)) {
            const char *v = a[8] == '=' ? a + 9 : argv[++i];
            if (cli_parse_size(v, &sample_bytes) || !sample_bytes || sample_bytes > (1ull << 40)) {
                cli_error("bad --sample '%s': want a size from 1 byte to 1TiB, such as 512KiB", v);
                return 1;
            }
            flags |= FT_H_SAMPLED;
        } else if (cli_is_help(a)) {
            fputs(usage, stdout);
            return 0;
        } else if (!strcmp(a, "-f") || !strcmp(a, "--force")) {
            force = 1;
        } else if ((!strcmp(a, "-o") || !strcmp(a, "--output")) && i + 1 < argc &&
                   strcmp(argv[i + 1], "--")) {
            out = argv[++i];
        } else if (!strncmp(a, "--output=", 9)) {
            out = a + 9;
        } else if ((!strcmp(a, "--interval") && i + 1 < argc) || !strncmp(a, "--interval=", 11)) {
            char *end, *v = a[10] == '=' ? argv[i] + 11 : argv[++i];
            interval = strtol(v, &end, 10);
            if (*end || interval < 1 || interval > 3600000) {
                cli_error("bad --interval '%s': want milliseconds, 1 to 3600000", v);
                return 1;
            }
        } else if (!strcmp(a, "-o") || !strcmp(a, "--output") || !strcmp(a, "--python") ||
                   !strcmp(a, "--break-at") || !strcmp(a, "--sample") ||
                   !strcmp(a, "--interval") || !strcmp(a, "-m") || !strcmp(a, "-c")) {
            cli_error("option '%s' needs a value; see 'filrec run --help'", a);
            return 1;
        } else {
            cli_error("unknown option '%s' for run; see 'filrec run --help'", a);
            return 1;
        }
    }
    if (i >= argc) {
        cli_error("run needs a program: SCRIPT.py, -m MODULE, -c CODE or PROGRAM; see "
                  "'filrec run --help'");
        return 1;
    }
    /* A script that is not there: say so as Python would, and leave no trace behind. */
    if (!pyflag && ends_with(argv[i], ".py") && access(argv[i], R_OK)) {
        cli_error("cannot open '%s': %s", argv[i], strerror(errno));
        return 2;
    }
    static struct cli_parts where;
    char dflt[PATH_MAX];
    if (cli_find_parts(&where)) {
        cli_error("cannot find libfilrec.so next to the filrec binary (set FILREC_LIB)");
        return 1;
    }
    if (strpbrk(where.lib, " :")) {
        cli_error("cannot preload '%s': the path holds a space or a colon", where.lib);
        return 1;
    }
    /* The program's argv: python -m/-c ..., python SCRIPT.py ..., or PROGRAM ... */
    char **prog = calloc((size_t)(argc - i + 3), sizeof *prog);
    if (!prog)
        return 1;
    int k = 0;
    int from_stdin = !pyflag && !strcmp(argv[i], "-");
    if (pyflag || from_stdin || ends_with(argv[i], ".py")) {
        char *exe = real_python(python);
        if (!exe) {
            cli_error("cannot run Python '%s' (choose one with --python PATH)", python);
            return 1;
        }
        prog[k++] = exe;
        flags |= FT_H_PYTHON;
    } else if (break_at) {
        cli_error("--break-at needs a Python program (SCRIPT.py, -m or -c): it stops in pdb");
        return 1;
    }
    if (break_at && sample_bytes) {
        cli_error("--break-at counts every allocation: it cannot be used with --sample");
        return 1;
    }
    if (break_at) {
        char v[32];
        snprintf(v, sizeof v, "%llu", (unsigned long long)break_at);
        setenv("FILREC_BREAK_AT", v, 1); /* for the bootstrap, which takes it out */
    }
    const char *name = pyflag && !strcmp(pyflag, "-m") ? argv[i + 1]
                     : pyflag ? "python" : from_stdin ? "stdin" : argv[i];
    while (i < argc)
        prog[k++] = argv[i++];
    if (!out) {
        const char *base = strrchr(name, '/');
        snprintf(dflt, sizeof dflt, "filrec-%s.%d.bin", base ? base + 1 : name, (int)getpid());
        out = dflt;
    }
    char dir[PATH_MAX];
    if (snprintf(dir, sizeof dir, "%s.d", out) >= (int)sizeof dir) {
        cli_error("'%s': the path is too long", out);
        return 1;
    }
    if (clear_job_dir(dir, force))
        return 1;
    int fd = open_trace(out, force);
    if (fd < 0)
        return 1;
    char sock[108];
    int lfd = sink_listen(sock, sizeof sock);
    if (lfd < 0) {
        cli_error("cannot listen for the program's processes: %s", strerror(errno));
        return 1;
    }
    /* Whether a Python program's own code ever ran: a syntax error or a missing -m
     * module stops it before, and leaves no trace (the bootstrap tells, on a pipe). */
    int started[2] = {-1, -1};
    if ((flags & FT_H_PYTHON) && pipe2(started, O_CLOEXEC | O_NONBLOCK))
        started[0] = started[1] = -1;
    fflush(NULL);
    child = fork();
    if (child < 0) {
        cli_error("cannot fork: %s", strerror(errno));
        return 1;
    }
    if (child == 0)
        exec_program(prog, &where, sock, follow, flags, started[1]);
    free(prog);
    if (started[1] >= 0)
        close(started[1]);
    /* Like system(): the terminal's ^C and ^\ go to the program, not to us. */
    signal(SIGINT, SIG_IGN);
    signal(SIGQUIT, SIG_IGN);
    signal(SIGTERM, forward);
    signal(SIGHUP, forward);
    int status;
    char options[96];
    cli_sink_options(options, sizeof options, interval, sample_bytes);
    struct sink_opts so = {.trace_fd = fd, .dir = dir, .flags = flags,
                           .sample_us = (uint64_t)interval * 1000, .options = options};
    struct sink_result res;
    if (sink_run(lfd, &so, child, &status, &res)) {
        cli_error("cannot wait for the program: %s", strerror(errno));
        return 1;
    }
    close(lfd);
    close(fd);
    char said_so[4] = "";
    int asked = started[0] >= 0; /* whether the bootstrap could say it ran */
    if (started[0] >= 0) {
        ssize_t n = read(started[0], said_so, sizeof said_so - 1);
        said_so[n > 0 ? n : 0] = 0;
        close(started[0]);
    }
    struct stat st;
    if (stat(out, &st) == 0 && S_ISREG(st.st_mode)) {
        if (st.st_size == 0) {
            unlink(out); /* the program never started: no trace */
        } else if (!strcmp(said_so, "b") && WIFEXITED(status) && WEXITSTATUS(status)) {
            /* The bootstrap ran and the program's code did not, and it failed (a program
             * whose own sitecustomize took the profile hook away still exits 0). */
            unlink(out);
            rmdir(dir); /* only when empty: a child's trace would stay */
            cli_error("no trace: the program stopped before its code ran (see its error above)");
        } else {
            char said[1400] = "";
            if (res.children)
                fprintf(stderr, "filrec: trace written to %s (and %u more process%s in %s/)\n",
                        out, res.children, res.children == 1 ? "" : "es", dir);
            else
                fprintf(stderr, "filrec: trace written to %s\n", out);
            if (asked && !said_so[0]) /* Python never loaded the bootstrap */
                fprintf(stderr, "filrec: not recorded: Python stacks%s: Python did not load "
                        "filrec's part from %s/filrec\n",
                        (flags & FT_H_PYALLOC) ? " and Python's allocators" : "", where.package);
            /* Said as they ran; counted again here, where the run's end is read. */
            if (res.unrecorded)
                fprintf(stderr, "filrec: not recorded: %u process%s of the job (listed in "
                        "%s/unrecorded.tsv)\n", res.unrecorded, res.unrecorded == 1 ? "" : "es", dir);
            if (res.refused)
                fprintf(stderr, "filrec: not recorded: %u process%s that could not join\n",
                        res.refused, res.refused == 1 ? "" : "es");
            if (report)
                cli_report(out, NULL, said, sizeof said);
            if (said[0]) /* the answer, so that no one has to run a second command */
                fprintf(stderr, "filrec: %s%s\n", said, res.children ? " (the first process)" : "");
            fputs("filrec: next: filrec summary ", stderr);
            put_shell_word(stderr, out);
            fputc('\n', stderr);
        }
    }
    return mirror(status);
}
