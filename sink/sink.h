/* sink.h: the recorder's other half, run by `filrec run` while the job runs. Every
 * recorded process of the job (the program, the children it forks, the programs it
 * execs or spawns) joins it with a log in shared memory (record/rec_link.h); the sink
 * reads every log and writes one trace per process, each ended with a trailer that says
 * how its process ended. The programs carry no writer thread: glibc's malloc stays on
 * its single-thread path, and a killed process loses nothing it had logged. */
#ifndef SINK_H
#define SINK_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct sink_opts {
    int trace_fd;          /* the first process's trace, opened by the caller */
    const char *dir;       /* the folder for every other process's trace, made when the
                            * first one joins: PID.bin, PID.N.bin after its N-th exec */
    uint64_t flags;        /* header flags (ft.h, enum ft_header_flag) */
    uint64_t sample_us;    /* resident memory of each process every this often (0: never) */
    const char *options;   /* the header's options text */
    int detached;          /* root is not the caller's child but a process that started
                            * recording by itself (in-process activation, attach): the
                            * job ends when root's log ends or root is gone */
};

struct sink_result {
    unsigned processes;    /* traces written */
    unsigned children;     /* of them, in dir */
    unsigned refused;      /* processes that asked to join and could not */
    unsigned unrecorded;   /* processes that ran unrecorded (listed in dir/unrecorded.tsv) */
};

/* Listen for the job's processes: a socket whose name (for FILREC_SOCK) is written to
 * name. The descriptor, or -1 with errno set. */
int sink_listen(char *name, size_t cap);
/* Serve the job until root (the caller's child, unless o->detached) has exited and
 * every recorded process has ended: then *status is root's wait status (0 detached). Returns 0, or -1 if waiting for root
 * failed (errno set). Trouble writing a trace is said once on stderr; that process runs
 * on, unrecorded. */
int sink_run(int listen_fd, const struct sink_opts *o, pid_t root, int *status,
             struct sink_result *res);

#endif
