/* cmd_attach.c: `filrec attach PID` and `filrec detach PID`: start and stop recording
 * inside a running Python process. gdb stops the process for a moment, maps a page in
 * it, writes one line of Python there and queues it with Py_AddPendingCall; the
 * interpreter runs it in its main thread at its next check between bytecodes (GIL
 * held, no malloc lock taken: never inside an allocation), where it imports filrec
 * (python/filrec/_attach.py) and calls filrec.start() or filrec.stop(). The process
 * writes how it went into a file of a private folder, which this side waits for.
 * Nothing is called in the process while gdb holds it but mmap and Py_AddPendingCall. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "cli.h"

#define GDB_SECONDS 30  /* gdb's whole visit */
#define START_SECONDS 10 /* for the main thread to reach Python code */

static const char attach_usage[] =
    "usage: filrec attach [-o TRACE] [-f] [--duration SECONDS] [--python-allocators]\n"
    "                     [--native] [--sample SIZE] PID\n"
    "\n"
    "Start recording the running Python process PID from the inside, as filrec.start()\n"
    "would: no restart, no LD_PRELOAD. Memory it allocated before is not counted. The\n"
    "process runs on with its own output; 'filrec detach PID' stops the recording and\n"
    "completes the trace. Needs gdb, and the right to trace PID (the same user, or root;\n"
    "see /proc/sys/kernel/yama/ptrace_scope).\n"
    "\n"
    "  -o, --output TRACE    the trace (default: filrec-attach.PID.bin here)\n"
    "  -f, --force           overwrite TRACE\n"
    "  --duration SECONDS    record this long, then detach and say where the trace is\n"
    "                        (^C detaches sooner)\n"
    "  --python-allocators   record every Python object allocation too\n"
    "  --native              record native stacks too (as filrec run --native)\n"
    "  --sample SIZE         record a sample of the allocations, one per SIZE bytes on\n"
    "                        average (as filrec run --sample: cheap enough for a\n"
    "                        production process; reports scale back, with 95% bounds)\n"
    "  -h, --help            show this help\n";

static const char detach_usage[] =
    "usage: filrec detach PID\n"
    "\n"
    "Stop the recording 'filrec attach' (or the process's own filrec.start()) began in\n"
    "process PID, and wait until its trace is complete. The process runs on.\n"
    "\n"
    "  -h, --help   show this help\n";

static volatile sig_atomic_t interrupted;
static void on_int(int sig) { (void)sig; interrupted = 1; }

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* The executable called name in PATH, into out; 0 if found. */
static int in_path(const char *name, char *out, size_t cap)
{
    const char *dirs = getenv("PATH");
    for (const char *d = dirs ? dirs : "/usr/bin:/bin"; *d;) {
        size_t n = strcspn(d, ":");
        if (n && (size_t)snprintf(out, cap, "%.*s/%s", (int)n, d, name) < cap &&
            access(out, X_OK) == 0)
            return 0;
        d += n + (d[n] == ':');
    }
    return -1;
}

static int file_has(const char *path, const char *needle)
{
    FILE *f = fopen(path, "re");
    char line[8192];
    int found = 0;
    while (f && !found && fgets(line, sizeof line, f))
        found = strstr(line, needle) != NULL;
    if (f)
        fclose(f);
    return found;
}

/* Whether environ of pid holds name=... (0 when unreadable). */
static int env_has(pid_t pid, const char *name)
{
    char path[64], buf[65536];
    snprintf(path, sizeof path, "/proc/%d/environ", (int)pid);
    FILE *f = fopen(path, "re");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f), k = strlen(name);
    fclose(f);
    buf[n] = 0;
    for (size_t i = 0; i < n; i += strlen(buf + i) + 1)
        if (!strncmp(buf + i, name, k) && buf[i + k] == '=')
            return 1;
    return 0;
}

/* Whether we may attach to pid, as one error line (1) or 0. */
static int check_target(pid_t pid, char *gdb, size_t cap)
{
    char path[64], exe[4096];
    struct stat st;
    snprintf(path, sizeof path, "/proc/%d", (int)pid);
    if (stat(path, &st)) {
        cli_error("no process %d", (int)pid);
        return 1;
    }
    if (geteuid() != 0 && st.st_uid != geteuid()) {
        cli_error("process %d belongs to another user: attach as that user, or as root", (int)pid);
        return 1;
    }
    snprintf(path, sizeof path, "/proc/%d/exe", (int)pid);
    ssize_t n = readlink(path, exe, sizeof exe - 1);
    exe[n > 0 ? n : 0] = 0;
    const char *base = strrchr(exe, '/');
    base = base ? base + 1 : exe;
    snprintf(path, sizeof path, "/proc/%d/maps", (int)pid);
    if (strncmp(base, "python", 6) && !file_has(path, "/libpython")) {
        cli_error("process %d (%s) is not Python: no python executable, no libpython", (int)pid,
                  *base ? base : "?");
        return 1;
    }
    if (file_has(path, "libfilrec.so") && env_has(pid, "FILREC_SOCK")) {
        cli_error("process %d is being recorded by 'filrec run' already", (int)pid);
        return 1;
    }
    if (in_path("gdb", gdb, cap)) {
        cli_error("attach needs gdb, which is not installed (Debian: apt-get install gdb)");
        return 1;
    }
    FILE *f = fopen("/proc/sys/kernel/yama/ptrace_scope", "re");
    int scope = 0;
    if (f) {
        if (fscanf(f, "%d", &scope) != 1)
            scope = 0;
        fclose(f);
    }
    if (scope >= 3) {
        cli_error("tracing processes is switched off on this machine "
                  "(kernel.yama.ptrace_scope = 3): attach cannot work until reboot");
        return 1;
    }
    if (scope >= 1 && geteuid() != 0) {
        cli_error("kernel.yama.ptrace_scope = %d lets only %s trace process %d: run filrec attach "
                  "as root%s", scope, scope == 1 ? "its parent or root" : "root", (int)pid,
                  scope == 1 ? ", or allow it: sudo sysctl kernel.yama.ptrace_scope=0" : "");
        return 1;
    }
    return 0;
}

static int write_file(const char *path, const char *text, size_t n)
{
    FILE *f = fopen(path, "we");
    int bad = !f || fwrite(text, 1, n, f) != n;
    if (f && fclose(f))
        bad = 1;
    return bad ? -1 : 0;
}

/* The private folder of one visit and its files. */
struct visit {
    char dir[64];
    char f[7][128]; /* args.json go.py code.bin script.gdb gdb.log started result */
};
enum { ARGS, GO, CODE, SCRIPT, LOG, STARTED, RESULT };
static const char *const names[] = {"args.json", "go.py", "code.bin", "script.gdb", "gdb.log",
                                    "started", "result"};

static void visit_end(struct visit *v)
{
    for (int i = 0; i < 7; i++) {
        unlink(v->f[i]);
        char tmp[160];
        snprintf(tmp, sizeof tmp, "%s.tmp", v->f[i]);
        unlink(tmp);
    }
    rmdir(v->dir);
}

/* The last non-empty line of the gdb log, for an error. */
static void last_line(const char *path, char *out, size_t cap)
{
    FILE *f = fopen(path, "re");
    char line[1024];
    out[0] = 0;
    while (f && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        if (line[0])
            snprintf(out, cap, "%s", line);
    }
    if (f)
        fclose(f);
}

/* Run gdb on pid with the visit's script; 0 once the call is queued, else 1 (said). */
static int run_gdb(const char *gdb, pid_t pid, const struct visit *v)
{
    char spid[32];
    snprintf(spid, sizeof spid, "%d", (int)pid);
    pid_t g = fork();
    if (g < 0) {
        cli_error("cannot fork: %s", strerror(errno));
        return 1;
    }
    if (g == 0) {
        if (!freopen("/dev/null", "r", stdin) || !freopen(v->f[LOG], "w", stdout) ||
            dup2(1, 2) < 0)
            _exit(127);
        execl(gdb, "gdb", "-nx", "-batch", "-iex", "set auto-load off", "-p", spid, "-x",
              v->f[SCRIPT], (char *)NULL);
        _exit(127);
    }
    int status = 0;
    double until = now_s() + GDB_SECONDS;
    while (waitpid(g, &status, WNOHANG) == 0) {
        if (now_s() > until) {
            kill(g, SIGKILL);
            waitpid(g, &status, 0);
            cli_error("gdb did not finish within %d s; process %d may be stopped (kill -CONT %d)",
                      GDB_SECONDS, (int)pid, (int)pid);
            return 1;
        }
        usleep(20000);
    }
    char line[1024];
    if (file_has(v->f[LOG], "$1 = 0"))
        return 0;
    if (file_has(v->f[LOG], "ptrace: Operation not permitted")) {
        cli_error("not permitted to trace process %d (ptrace: operation not permitted; a "
                  "container may need --cap-add SYS_PTRACE)", (int)pid);
    } else if (file_has(v->f[LOG], "Py_AddPendingCall") || file_has(v->f[LOG], "PyRun_SimpleString")) {
        cli_error("process %d has no Python interpreter gdb can call into", (int)pid);
    } else {
        last_line(v->f[LOG], line, sizeof line);
        cli_error("gdb could not queue the call in process %d: %s", (int)pid,
                  line[0] ? line : "no output");
    }
    return 1;
}

/* Ask process pid to run filrec._attach's action (cJSON args, consumed), and put what
 * it answered ("ok ..." / "error ...") in out. 0, or 1 with the error said. */
static int visit(pid_t pid, const char *gdb, cJSON *args, char *out, size_t cap)
{
    struct visit v;
    snprintf(v.dir, sizeof v.dir, "/tmp/filrec-attach.XXXXXX");
    if (!mkdtemp(v.dir)) {
        cli_error("cannot make a folder in /tmp: %s", strerror(errno));
        cJSON_Delete(args);
        return 1;
    }
    for (int i = 0; i < 7; i++)
        snprintf(v.f[i], sizeof v.f[i], "%s/%s", v.dir, names[i]);
    struct stat st;
    char spath[64];
    snprintf(spath, sizeof spath, "/proc/%d", (int)pid);
    if (stat(spath, &st) == 0 && st.st_uid != geteuid())
        chmod(v.dir, 0733); /* the process, another user, writes its answer here */
    cJSON_AddStringToObject(args, "result", v.f[RESULT]);
    cJSON_AddStringToObject(args, "started", v.f[STARTED]);
    cJSON_AddNumberToObject(args, "deadline", now_s() + START_SECONDS);
    cJSON *action = cJSON_GetObjectItem(args, "action");
    int stop = cJSON_IsString(action) && !strcmp(action->valuestring, "stop");
    char *json = cJSON_PrintUnformatted(args);
    cJSON_Delete(args);
    char go[2048], code[512], script[1024];
    snprintf(go, sizeof go,
             "import json, os, sys, time\n"
             "A = json.load(open(\"%s\"))\n"
             "if time.time() <= A[\"deadline\"]:\n"
             "    open(A[\"started\"], \"w\").close()\n"
             "    _a = None\n"
             "    sys.path.insert(0, A[\"package\"])\n"
             "    try:\n"
             "        import filrec._attach as _a\n"
             "    except BaseException as e:\n"
             "        with open(A[\"result\"], \"w\") as f:\n"
             "            f.write(\"error cannot import filrec from %%s: %%s\\n\" %% (A[\"package\"], e))\n"
             "    finally:\n"
             "        if A[\"package\"] in sys.path:\n"
             "            sys.path.remove(A[\"package\"])\n"
             "    if _a is not None and A[\"action\"] == \"start\":\n"
             "        _a.start(A[\"result\"], A[\"binary\"], A[\"trace\"], A[\"force\"], "
             "A[\"python_allocators\"], A[\"native\"], A[\"sample\"])\n"
             "    elif _a is not None:\n"
             "        _a.stop(A[\"result\"])\n",
             v.f[ARGS]);
    int n = snprintf(code, sizeof code,
                     "exec(open(\"%s\").read(), {\"__name__\": \"filrec_attach\"})", v.f[GO]);
    /* A detach first stops the recorder with a pending call of its own, in C: the
     * Python that then finishes the job (reading and compiling the code above, which
     * allocates) is not the program's and must not be in its trace, or its peak. */
    char maps[64], stop_first[128] = "";
    snprintf(maps, sizeof maps, "/proc/%d/maps", (int)pid);
    if (stop && file_has(maps, "libfilrec.so"))
        snprintf(stop_first, sizeof stop_first,
                 "print $apc((void *) filrec_inprocess_stop_pending, (void *) 0)\n");
    snprintf(script, sizeof script,
             "set pagination off\n"
             "set confirm off\n"
             "set $mm = (void *(*)(void *, unsigned long, int, int, int, long)) mmap\n"
             "set $buf = $mm(0, 4096, 3, 0x22, -1, 0)\n"
             "restore %s binary $buf\n"
             "set $apc = (int (*)(void *, void *)) Py_AddPendingCall\n"
             "%s"
             "print $apc((void *) PyRun_SimpleString, $buf)\n"
             "detach\n"
             "quit\n",
             v.f[CODE], stop_first);
    int bad = !json || write_file(v.f[ARGS], json, strlen(json)) ||
              write_file(v.f[GO], go, strlen(go)) || write_file(v.f[CODE], code, (size_t)n + 1) ||
              write_file(v.f[SCRIPT], script, strlen(script));
    free(json);
    if (bad) {
        cli_error("cannot write into %s: %s", v.dir, strerror(errno));
        visit_end(&v);
        return 1;
    }
    chmod(v.f[ARGS], 0644);
    chmod(v.f[GO], 0644);
    if (run_gdb(gdb, pid, &v)) {
        visit_end(&v);
        return 1;
    }
    /* Queued: the main thread runs it between two bytecodes, within START_SECONDS or
     * never (the code checks the deadline itself). */
    double until = now_s() + START_SECONDS + 1;
    int rc = 1;
    for (;;) {
        FILE *f = fopen(v.f[RESULT], "re");
        if (f) {
            if (!fgets(out, (int)cap, f))
                out[0] = 0;
            fclose(f);
            out[strcspn(out, "\n")] = 0;
            rc = 0;
            break;
        }
        if (kill(pid, 0) && errno == ESRCH) {
            cli_error("process %d ended before it answered", (int)pid);
            break;
        }
        if (access(v.f[STARTED], F_OK) && now_s() > until) {
            cli_error("process %d did not run Python code in its main thread within %d s (blocked "
                      "in a long C call or a wait?); nothing was changed", (int)pid, START_SECONDS);
            break;
        }
        usleep(20000);
    }
    visit_end(&v);
    return rc;
}

static int parse_pid(const char *s, pid_t *pid)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (!*s || *end || v <= 0 || v > 1 << 30) {
        cli_error("'%s' is not a process id", s);
        return 1;
    }
    *pid = (pid_t)v;
    return 0;
}

static int detach_pid(pid_t pid, const char *gdb, const struct cli_parts *parts)
{
    char out[4200];
    cJSON *a = cJSON_CreateObject();
    cJSON_AddStringToObject(a, "action", "stop");
    cJSON_AddStringToObject(a, "package", parts->package);
    if (visit(pid, gdb, a, out, sizeof out))
        return 1;
    if (strncmp(out, "ok ", 3)) {
        cli_error("process %d: %s", (int)pid, !strncmp(out, "error ", 6) ? out + 6 : out);
        return 1;
    }
    fprintf(stderr, "filrec: trace written to %s\nfilrec: next: filrec summary %s\n", out + 3,
            out + 3);
    return 0;
}

int cmd_attach(int argc, char **argv)
{
    const char *out = NULL;
    int force = 0, pyalloc = 0, native = 0, i = 1;
    uint64_t sample = 0;
    double duration = -1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        const char *a = argv[i];
        if (cli_is_help(a)) {
            fputs(attach_usage, stdout);
            return 0;
        } else if ((!strcmp(a, "-o") || !strcmp(a, "--output")) && i + 1 < argc) {
            out = argv[++i];
        } else if (!strcmp(a, "-f") || !strcmp(a, "--force")) {
            force = 1;
        } else if (!strcmp(a, "--python-allocators")) {
            pyalloc = 1;
        } else if (!strcmp(a, "--native")) {
            native = 1;
        } else if (!strcmp(a, "--sample") && i + 1 < argc) {
            const char *v = argv[++i];
            if (cli_parse_size(v, &sample) || !sample || sample > (1ull << 40)) {
                cli_error("bad --sample '%s': want a size from 1 byte to 1TiB, such as 512KiB", v);
                return 1;
            }
        } else if (!strcmp(a, "--duration") && i + 1 < argc) {
            char *end;
            duration = strtod(argv[++i], &end);
            if (*end || !(duration > 0) || duration > 1e7) {
                cli_error("bad --duration '%s': want seconds above 0", argv[i]);
                return 1;
            }
        } else {
            cli_error("unknown option '%s' for attach; see 'filrec attach --help'", a);
            return 1;
        }
    }
    if (i + 1 != argc) {
        cli_error("attach needs one process id; see 'filrec attach --help'");
        return 1;
    }
    pid_t pid;
    char gdb[4096], trace[4200], cwd[4096];
    if (parse_pid(argv[i], &pid) || check_target(pid, gdb, sizeof gdb))
        return 1;
    struct cli_parts parts;
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (cli_find_parts(&parts) || n <= 0) {
        cli_error("cannot find libfilrec.so next to the filrec binary");
        return 1;
    }
    self[n] = 0;
    if (!getcwd(cwd, sizeof cwd)) {
        cli_error("cannot tell the current folder: %s", strerror(errno));
        return 1;
    }
    if (!out)
        snprintf(trace, sizeof trace, "%s/filrec-attach.%d.bin", cwd, (int)pid);
    else if (out[0] != '/')
        snprintf(trace, sizeof trace, "%s/%s", cwd, out);
    else
        snprintf(trace, sizeof trace, "%s", out);
    if (!force && access(trace, F_OK) == 0) {
        cli_error("'%s' exists; use -f to overwrite it", trace);
        return 1;
    }
    cJSON *a = cJSON_CreateObject();
    cJSON_AddStringToObject(a, "action", "start");
    cJSON_AddStringToObject(a, "package", parts.package);
    cJSON_AddStringToObject(a, "binary", self);
    cJSON_AddStringToObject(a, "trace", trace);
    cJSON_AddBoolToObject(a, "force", force);
    cJSON_AddBoolToObject(a, "python_allocators", pyalloc);
    cJSON_AddBoolToObject(a, "native", native);
    cJSON_AddNumberToObject(a, "sample", (double)sample);
    char said[4200];
    if (visit(pid, gdb, a, said, sizeof said))
        return 1;
    if (strncmp(said, "ok ", 3)) {
        cli_error("process %d: %s", (int)pid, !strncmp(said, "error ", 6) ? said + 6 : said);
        return 1;
    }
    if (duration < 0) {
        fprintf(stderr, "filrec: recording process %d into %s\nfilrec: stop with: filrec detach %d\n",
                (int)pid, said + 3, (int)pid);
        return 0;
    }
    fprintf(stderr, "filrec: recording process %d into %s for %g s (^C stops sooner)\n", (int)pid,
            said + 3, duration);
    signal(SIGINT, on_int);
    signal(SIGTERM, on_int);
    double until = now_s() + duration;
    while (!interrupted && now_s() < until && !(kill(pid, 0) && errno == ESRCH))
        usleep(20000);
    if (kill(pid, 0) && errno == ESRCH) {
        fprintf(stderr, "filrec: process %d exited; trace written to %s\n", (int)pid, said + 3);
        return 0;
    }
    return detach_pid(pid, gdb, &parts);
}

int cmd_detach(int argc, char **argv)
{
    if (argc == 2 && cli_is_help(argv[1])) {
        fputs(detach_usage, stdout);
        return 0;
    }
    if (argc != 2) {
        cli_error("detach needs one process id; see 'filrec detach --help'");
        return 1;
    }
    pid_t pid;
    char gdb[4096];
    struct cli_parts parts;
    if (parse_pid(argv[1], &pid) || check_target(pid, gdb, sizeof gdb))
        return 1;
    if (cli_find_parts(&parts)) {
        cli_error("cannot find libfilrec.so next to the filrec binary");
        return 1;
    }
    return detach_pid(pid, gdb, &parts);
}
