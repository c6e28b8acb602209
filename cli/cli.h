/* cli.h: the verbs of the filrec command, one file each, and what they share. */
#ifndef CLI_H
#define CLI_H

#include <stddef.h>
#include <stdint.h>

int cmd_run(int argc, char **argv);
int cmd_attach(int argc, char **argv);
int cmd_detach(int argc, char **argv);
int cmd_stats(int argc, char **argv);
int cmd_summary(int argc, char **argv);
int cmd_flamegraph(int argc, char **argv);
int cmd_leaks(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_lines(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_plot(int argc, char **argv);
int cmd_sink(int argc, char **argv); /* `filrec _sink`, for filrec.start() */
/* Write the report folder for trace (into dir, or the default); 0 or 1. said (cap
 * bytes; NULL: not wanted) gets the answer in one line: the peak, when, and the
 * location of the user's code that held most then. */
int cli_report(const char *trace, const char *dir, char *said, size_t cap);

struct an_replay;
struct an_defs;
struct an_loc;
/* The plot for the report folder, fed by the replays the report makes anyway: start;
 * cli_plot_on_sample (ctx: the input) as the whole replay's on_sample; after it,
 * cli_plot_whole; cli_plot_peak with the locations live at the peak; cli_plot_finish
 * draws out (.svg, .png or .pdf) quietly and frees the input: 0, 1 on an error, or 2
 * when gnuplot is not installed. */
typedef struct cli_plot_input cli_plot_input;
cli_plot_input *cli_plot_start(void);
int cli_plot_on_sample(void *in, uint64_t time_us, uint64_t rss, uint64_t heap);
void cli_plot_whole(cli_plot_input *in, struct an_replay *rp);
void cli_plot_peak(cli_plot_input *in, const struct an_defs *d, const struct an_loc *loc,
                   size_t n);
int cli_plot_finish(cli_plot_input *in, const char *trace, const char *out);

/* Replay path (to event stop_at, or all of it when 0), saying what went wrong: a
 * one-line error (returns 1, rp freed) or the ends-early warning (once: warn). The
 * progress bar names the pass: the whole trace is the first of two (the peak is found),
 * a replay to stop_at the second; a verb of one pass names its own (CLI_PASS_ONE). */
int cli_replay(struct an_replay *rp, const char *path, uint64_t stop_at, int warn);
#define CLI_PASS_1 "1/2 finding the peak"
#define CLI_PASS_2 "2/2 replaying to the peak"
#define CLI_ONE_PASS "finding the peak"
/* Whether the reports at the peak keep it in the one pass (an_replay_peak), unless
 * FILREC_TWO_PASS=1 asks for the replay to it (to compare the two). */
int cli_one_pass(void);
#define CLI_PASS_ONE "reading the trace"
/* The same reporting for a replay already run, which returned err. */
int cli_replayed(struct an_replay *rp, const char *path, int err, int warn);

/* How the process of a replayed trace ended (cli_ending.c): a phrase on stdout (no
 * newline), the same as a JSON object, and whether it simply exited. */
typedef struct cJSON cJSON;
void cli_put_ending(const struct an_replay *rp);
cJSON *cli_ending_json(const struct an_replay *rp);
int cli_ended_plainly(const struct an_replay *rp);
/* "67.1 MB more mapped but never touched (not counted)": the untouched part of measured
 * mappings at a moment; "" when there is none. */
const char *cli_untouched(uint64_t bytes, char *buf, size_t cap);
/* The trace header's options for a sink: "sample_us=N", and " sample_bytes=N" when
 * sampling (FORMAT.md: a reader takes the interval from there). */
const char *cli_sink_options(char *buf, size_t cap, long interval_ms, uint64_t sample);
/* A sampling interval as given: "512 KiB", "1 MiB", else "1,000 bytes". */
const char *cli_interval(uint64_t bytes, char *buf, size_t cap);
/* The recorder's note on why it recorded no Python stacks (a point marker labelled
 * "filrec: no Python support ..."), without its "filrec: ", or NULL. */
const char *cli_no_python_note(const struct an_replay *rp);
/* A job's process's ending in a word or two ("exit 0", "signal 9", "exec", "killed"),
 * in buf (32 bytes) or a constant. */
struct an_proc;
const char *cli_proc_ending(const struct an_proc *p, char *buf, size_t cap);

/* The flamegraph of a job at its whole-job peak, one root frame per process, into out
 * (title NULL: the default); quiet: without saying where. 0, or 1 with the error said. */
struct an_job;
int cli_job_flamegraph(const struct an_job *j, const char *out, const char *title,
                       int reversed, int quiet);

/* Where filrec's parts are (cmd_run.c): libfilrec.so, the per-interpreter Python
 * modules, the folder holding the Python package, the bootstrap's folder; found from
 * the binary's own place (build tree, install, pip install). 0, or -1 if the library is
 * not there. */
#include <limits.h>
struct cli_parts {
    char lib[PATH_MAX], modules[PATH_MAX], package[PATH_MAX], site[PATH_MAX];
};
int cli_find_parts(struct cli_parts *p);

/* A size as people write it: 500MB, 1.5 GiB, 64k, 1000000 (KB, MB, GB, TB are powers of
 * 1000; KiB, MiB, GiB, TiB of 1024; case ignored). 0, or -1 if it is not one. */
int cli_parse_size(const char *s, uint64_t *out);

/* Print "filrec: <message>" and a newline on stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Whether arg is -h or --help. */
int cli_is_help(const char *arg);
/* A name from a trace on stdout, for a terminal: control characters (a newline would
 * split a row, an escape would reach the terminal) become U+FFFD. NULL prints "?". */
void cli_put_text(const char *s);

#endif
