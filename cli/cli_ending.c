/* cli_ending.c: how a traced process ended (an_replay_ending), in words and in JSON,
 * and a job's process's ending in a word, the same for every verb that says it. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../analyze/an.h"
#include "cli.h"

static const char *how_names[] = {
    [AN_END_EARLY] = "early", [AN_END_EXIT] = "exit", [AN_END_SIGNAL] = "signal",
    [AN_END_EXEC] = "exec", [AN_END_RUNNING] = "running", [AN_END_UNKNOWN] = "unknown",
    [AN_END_OOM] = "oom_killer",
};

int cli_ended_plainly(const an_replay *rp)
{
    int code;
    return an_replay_ending(rp, &code) == AN_END_EXIT;
}

const char *cli_untouched(uint64_t bytes, char *buf, size_t cap)
{
    char a[32];
    if (!bytes)
        return "";
    snprintf(buf, cap, "%s more mapped but never touched (not counted)", an_human(bytes, a, sizeof a));
    return buf;
}

const char *cli_sink_options(char *buf, size_t cap, long interval_ms, uint64_t sample)
{
    int k = snprintf(buf, cap, "sample_us=%ld", interval_ms * 1000);
    if (sample && k > 0 && (size_t)k < cap)
        snprintf(buf + k, cap - (size_t)k, " sample_bytes=%llu", (unsigned long long)sample);
    return buf;
}

const char *cli_interval(uint64_t bytes, char *buf, size_t cap)
{
    static const char *unit[] = {"bytes", "KiB", "MiB", "GiB", "TiB"};
    unsigned u = 0;
    uint64_t n = bytes;
    while (u < 4 && n >= 1024 && n % 1024 == 0)
        n /= 1024, u++;
    char c[32];
    if (u)
        snprintf(buf, cap, "%llu %s", (unsigned long long)n, unit[u]);
    else
        snprintf(buf, cap, "%s bytes", an_commas(bytes, c, sizeof c));
    return buf;
}

const char *cli_no_python_note(const an_replay *rp)
{
    static const char tag[] = "filrec: no Python support";
    for (size_t i = 0; i < rp->nmarkers; i++)
        if (rp->markers[i].type == FT_MARK_POINT && rp->markers[i].len >= sizeof tag - 1 &&
            !memcmp(rp->markers[i].label, tag, sizeof tag - 1))
            return rp->markers[i].label + 8;
    return NULL;
}

void cli_put_ending(const an_replay *rp)
{
    int code;
    switch (an_replay_ending(rp, &code)) {
    case AN_END_EARLY:
        fputs("early (no trailer: the file is cut short or damaged)", stdout);
        break;
    case AN_END_EXIT:
        if (code >= 0)
            printf("cleanly, exit code %d", code);
        else
            fputs("cleanly, at exit", stdout);
        break;
    case AN_END_SIGNAL:
        if (rp->trailer_flags & FT_T_SIGNAL)
            fputs("by a signal the process sent itself (complete)", stdout);
        else
            printf("killed by signal %d (%s)", code, strsignal(code));
        break;
    case AN_END_EXEC:
        fputs("exec'd into ", stdout);
        cli_put_text(rp->exec_path ? rp->exec_path : "?");
        break;
    case AN_END_RUNNING:
        fputs("still running when recording ended", stdout);
        break;
    case AN_END_UNKNOWN:
        fputs("killed (by a signal: which was not seen before its parent reaped it)", stdout);
        break;
    case AN_END_OOM:
        fputs("killed by the OOM killer", stdout);
        break;
    }
}

cJSON *cli_ending_json(const an_replay *rp)
{
    int code;
    enum an_how how = an_replay_ending(rp, &code);
    cJSON *end = cJSON_CreateObject();
    cJSON_AddStringToObject(end, "how", how_names[how]);
    if (code >= 0 && (how == AN_END_EXIT || how == AN_END_SIGNAL))
        cJSON_AddNumberToObject(end, how == AN_END_EXIT ? "exit_code" : "signal", code);
    if (how == AN_END_EXEC && rp->exec_path) {
        char *u = an_utf8(rp->exec_path, rp->exec_len);
        cJSON_AddStringToObject(end, "exec", u ? u : "");
        free(u);
    }
    cJSON_AddBoolToObject(end, "by_filrec", !rp->ended_early && (rp->trailer_flags & FT_T_SINK));
    return end;
}

const char *cli_proc_ending(const an_proc *p, char *buf, size_t cap)
{
    switch (p->how) {
    case AN_END_EARLY: return "cut short";
    case AN_END_EXIT:
        if (p->code < 0)
            return "exit";
        snprintf(buf, cap, "exit %d", p->code);
        return buf;
    case AN_END_SIGNAL:
        if (p->code < 0)
            return "signal";
        snprintf(buf, cap, "signal %d", p->code);
        return buf;
    case AN_END_EXEC: return "exec";
    case AN_END_RUNNING: return "running";
    case AN_END_UNKNOWN: return "killed";
    case AN_END_OOM: return "oom-killed";
    }
    return "?";
}
