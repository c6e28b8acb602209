/* rec_link.h: how a recorded process joins its job's sink. Both halves come from one
 * build (the log's layout is theirs alone), so this is not a stable protocol.
 *
 * The sink listens on a Unix seqpacket socket whose name is in FILREC_SOCK (an abstract
 * name: "@" then the name). Every process that starts recording (the first, each forked
 * child, each exec'd or spawned program) connects, and sends one message: a rec_hello,
 * then its command line, with the log's memfd attached (SCM_RIGHTS), and the
 * process's lanes' memfd after it (record/rec_lane.c). The sink maps the
 * log, opens the process's trace, writes its header (and, for a forked child, the
 * definitions it inherited) and answers one byte: REC_LINK_OK,
 * or REC_LINK_NO (recording refused: the process runs on unrecorded). Afterwards the
 * process sends a byte now and then (REC_LINK_WAKE, when it seals a buffer) to wake the
 * sink; the connection's end means nothing by itself (exec closes it, so may a program
 * closing every descriptor): the sink follows the process's life with a pidfd.
 *
 * A process about to exec a program that will not join (its environment lacks filrec's
 * variables, or the program is static or setuid) says so first on a connection of its
 * own: a rec_hello with magic REC_LINK_NOTE and no memfd, forked holding the reason
 * (enum rec_link_why), pid the process that will run it (0: the sender), its command
 * line the program's arguments. The sink lists it as not recorded. */
#ifndef REC_LINK_H
#define REC_LINK_H

#include <stdint.h>

#define REC_LINK_MAGIC 0x6b6e6c66u /* "flnk" */
#define REC_LINK_NOTE 0x65746f6eu  /* "note": a process about to run unrecorded */
#define REC_LINK_OK 'y'
#define REC_LINK_NO 'n'
#define REC_LINK_WAKE 'w'
#define REC_LINK_CMDLINE_MAX 16384
#define REC_LINK_MAX (sizeof(struct rec_hello) + REC_LINK_CMDLINE_MAX)

/* REC_WHY_CANCEL: the exec a note was sent for failed; the process runs on, recorded. */
enum rec_link_why { REC_WHY_ENV = 1, REC_WHY_STATIC, REC_WHY_SETUID, REC_WHY_CANCEL };

struct rec_hello {
    uint32_t magic;     /* REC_LINK_MAGIC */
    uint32_t log_bytes; /* the memfd's size: sizeof(struct rec_log) + the ring */
    int32_t pid, ppid;  /* for a fork child, ppid is the process it forked from */
    uint32_t forked;    /* 1: a fork child, whose ids below are its parent's at the fork */
    uint32_t nstrings, nfuncs, nnodes;
    uint64_t start_ns;  /* wall clock at the start, ns since the epoch */
    uint64_t mono_ns;   /* the monotonic clock at the start (rec.start_ns) */
    uint64_t parent_mono_ns; /* a fork child: its parent's mono_ns, naming its log */
    uint32_t cmdline_len; /* the command line's bytes follow (NUL-separated) */
    uint32_t nmodules;  /* a fork child: its parent's modules (--native) at the fork */
    uint32_t lanes_bytes; /* the second memfd's size, the process's lanes (0: none sent) */
};

#endif
