/* sink_internal.h: what the sink's files share. The sink is the recorder's other half,
 * run by `filrec run` (sink.h): it reads the logs the preloaded library writes into
 * shared memory (record/rec_ir.h, struct rec_log of record/rec_internal.h, one build)
 * and writes one trace per process. State lives in structs, one per log. */
#ifndef SINK_INTERNAL_H
#define SINK_INTERNAL_H

#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <sys/types.h>

#include "../record/rec_internal.h"

/* Append n words to the growable array *v (*len used of *cap): 0 or FT_E_NOMEM. */
static inline int sink_append(uint64_t **v, size_t *len, size_t *cap, const uint64_t *w, size_t n)
{
    if (*len + n > *cap) {
        size_t c = *cap ? *cap * 2 : 4096;
        while (c < *len + n)
            c *= 2;
        uint64_t *d = realloc(*v, c * sizeof *d);
        if (!d)
            return FT_E_NOMEM;
        *v = d;
        *cap = c;
    }
    memcpy(*v + *len, w, n * sizeof *w);
    *len += n;
    return 0;
}

/* ---- sink_tc.c: one log's words to trace records ---- */

/* A log's transcoder: the log's registers (thread, context), the frame being filled,
 * the counts for the trailer, and the definitions seen (for a forked child's trace). */
typedef struct sink_tc sink_tc;
sink_tc *sink_tc_new(void);
void sink_tc_free(sink_tc *tc);
/* Encode the log words [w, end) into the frame, writing it with out whenever it fills.
 * A TRAILER word is held, not written: the sink adds how the process ended
 * (sink_tc_end). 0 or an ft_error. */
int sink_tc_words(sink_tc *tc, ft_writer *out, const uint64_t *w, const uint64_t *end);
/* Measure the resident pages of large and file mappings from here on (page: the page
 * size); before any word, or mappings are counted by length and file ones left out. */
void sink_tc_measure_pages(sink_tc *tc, uint64_t page);
/* Read each measured mapping's pages from pagemap (/proc/PID/pagemap, open); returns
 * how many were measured (0: there is nothing for sink_tc_resident to write). */
size_t sink_tc_measure(sink_tc *tc, int pagemap);
/* Append a RESIDENT for each mapping measured since whose range has not changed since
 * (a drain in between drops the ones the program unmapped meanwhile) and whose count
 * differs from the last one written. */
int sink_tc_resident(sink_tc *tc, ft_writer *out);
/* Append a SAMPLE (time since start, RSS) after what was encoded so far. */
int sink_tc_sample(sink_tc *tc, ft_writer *out, uint64_t time_us, uint64_t rss);
/* Write the frame being filled, if it holds anything. */
int sink_tc_flush(sink_tc *tc, ft_writer *out);
/* Whether the process logged its trailer (it exited, or killed itself), and whether
 * its last event was an EXEC. */
int sink_tc_said_bye(const sink_tc *tc);
/* Whether that trailer says recording stopped in a process that runs on (in-process
 * activation's stop): nothing more will come, and no exit is to be waited for. */
int sink_tc_stopped(const sink_tc *tc);
int sink_tc_exec_last(const sink_tc *tc);
/* The last (up to 64) children the log's process forked. */
const pid_t *sink_tc_forks(const sink_tc *tc, size_t *n);
/* The program of the last EXEC (cut to 255 bytes), "" if none. */
const char *sink_tc_exec_path(const sink_tc *tc);
/* Write the trailer alone into the last frame: the logged one with flags added, or,
 * when the process logged none, one with flags (FT_T_SINK is added) and time_us. end
 * is 0 (unknown) or the process's wait status + 1. After it nothing may be encoded. */
int sink_tc_end(sink_tc *tc, ft_writer *out, unsigned flags, uint64_t time_us, uint64_t end);
/* Feed tc the first nstrings, nfuncs and nnodes definitions that parent has seen, as
 * log words: a forked child's trace starts with the ids it inherited. 0 or an error. */
int sink_tc_inherit(sink_tc *tc, ft_writer *out, const sink_tc *parent, uint32_t nstrings,
                    uint32_t nfuncs, uint32_t nnodes, uint32_t nmodules);
/* How many of each definition tc has seen. */
void sink_tc_defined(const sink_tc *tc, uint32_t *nstrings, uint32_t *nfuncs, uint32_t *nnodes);

/* How many of each definition tc has seen, and its registers (for sink_merge_new). */
void sink_tc_regs(const sink_tc *tc, uint32_t *thread, uint64_t *ctx);

/* ---- sink_merge.c: a multi log's streams merged by time (record/rec_lane.c) ---- */

/* Stream 0 is the log's own records, from where it went over (its registers then:
 * thread, ctx); stream 1 + i is lane i. */
typedef struct sink_merge sink_merge;
sink_merge *sink_merge_new(uint32_t thread, uint64_t ctx);
void sink_merge_free(sink_merge *m);
/* Append the log's next n words (whole items, as the program published them). */
int sink_merge_add(sink_merge *m, const uint64_t *w, size_t n);
/* Lane i's words, read in place: ring (REC_LANE_WORDS long) up to head; the first call
 * says where they start (from). sink_merge_lane_pos: how far they are merged. */
void sink_merge_lane(sink_merge *m, unsigned i, const uint64_t *ring, uint64_t from, uint64_t head);
uint64_t sink_merge_lane_pos(const sink_merge *m, unsigned i);
/* Hand the transcoder every item older than upto (on rec_ts's clock), or with all
 * every item, in time order. After a TRAILER nothing more goes out. 0 or an ft_error. */
int sink_merge_run(sink_merge *m, uint64_t upto, int all, sink_tc *tc, ft_writer *out);
int sink_merge_done(const sink_merge *m);

#endif
