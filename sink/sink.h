/* rec_sink.h: the recorder's other half, run by `filrec run` while the program runs. It
 * reads the log the preloaded library writes into shared memory and writes the trace,
 * so that the program carries no writer thread: glibc's malloc stays on its single-
 * thread path, and a killed program loses nothing it had logged. */
#ifndef REC_SINK_H
#define REC_SINK_H

#include <stdint.h>
#include <sys/types.h>

/* Make the shared memory for one run: a descriptor the program inherits (its number
 * goes in FILREC_SHM), or -1 with errno set. */
int rec_sink_create(void);
/* Until the program (child) exits: read its log from shm, write the trace to fd, and
 * add a sample of its resident size every sample_us (0: never). *status is its wait
 * status. Returns 0, or -1 if waiting for the program failed (errno set). Trouble
 * writing the trace is said once on stderr; the program runs on, unrecorded. */
int rec_sink_run(int shm, int fd, pid_t child, uint64_t sample_us, int *status);

#endif
