/* filrec.h: the recorder's public C API, for programs that want to mark their trace.
 * Every function is a no-op when the program is not running under `filrec run`.
 * Look the symbols up with dlsym(RTLD_DEFAULT, "filrec_mark") so the program does
 * not need to link libfilrec.so. */
#ifndef FILREC_H
#define FILREC_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Write a point marker with this label into the trace (labels over 65,536 bytes are
 * cut). Returns 1 if it was recorded, 0 when not recording. */
int filrec_mark(const char *label);
/* Open and close a labelled region (regions may nest). Same return as filrec_mark. */
int filrec_region_begin(const char *label);
int filrec_region_end(const char *label);
/* 1 while this process is being recorded. */
int filrec_active(void);

#define FILREC_MARK(label) filrec_mark(label)

/* ---- for language support modules (record/python), not for programs ----
 * A module supplies the calling thread's stack as a stack id. It defines what the ids
 * refer to with the functions below, which write STRING, FUNCTION and STACK_NODE
 * records and return their ids (0 when not recording). The stack source is called on
 * every recorded allocation, inside the recorder: allocations it makes are not
 * recorded, and it must not block. *slot is a per-thread pointer for its own state. */
typedef unsigned (*filrec_stack_fn)(void **slot);
/* Install (or, with NULL, remove) the stack source. Returns 1 if recording. */
int filrec_set_stack_source(filrec_stack_fn fn);
unsigned filrec_define_string(const char *s, size_t n);
unsigned filrec_define_function(unsigned name, unsigned file, unsigned first_line);
unsigned filrec_define_node(unsigned parent, unsigned function, unsigned line);
/* For native stacks (--native): a node's line may carry this flag, telling that its
 * frame is the first one an evaluation function call runs (the line is written
 * without it). The evaluation function itself is named with filrec_native_eval: its
 * native frames are where the Python frames go in a hybrid stack. 1 if known. */
#define FILREC_NODE_ENTRY (1u << 31)
int filrec_native_eval(const void *fn);
/* 1 while native stacks are recorded: a module's own frames would show in them. */
int filrec_native_on(void);
/* A module that wraps a language's allocator records its blocks itself: an allocation
 * of size bytes at p with an allocator kind of FORMAT.md (10 and 11: CPython's
 * domains), and a free (call it before the real free). The stack comes from the
 * stack source. Both return 1 if recorded. */
int filrec_record_alloc(void *p, size_t size, unsigned allocator);
int filrec_record_free(void *p);
/* Or the recorder wraps it: out gets functions that call orig's (orig must stay valid;
 * ctx is passed through) and record each block as allocator kind (10 or 11). The
 * fields are those of CPython's PyMemAllocatorEx. 1 if wrapped, 0 for a kind unknown.
 * Faster than a module's own wrapper around filrec_record_alloc. */
typedef struct filrec_allocator {
    void *ctx;
    void *(*malloc)(void *ctx, size_t n);
    void *(*calloc)(void *ctx, size_t k, size_t n);
    void *(*realloc)(void *ctx, void *p, size_t n);
    void (*free)(void *ctx, void *p);
} filrec_allocator;
int filrec_wrap_allocator(const filrec_allocator *orig, unsigned kind, filrec_allocator *out);
/* The mean sampling interval in bytes (`filrec run --sample`), 0 when every allocation
 * is recorded. */
unsigned long long filrec_sample_bytes(void);
/* The calling thread's inside-the-recorder counter: while it is above 0, the hooks
 * record nothing. A wrapper raises it around the wrapped allocator's call, so what
 * that allocator gets from malloc or mmap is not recorded as well. */
int *filrec_busy(void);
/* The calling thread's *slot, as the stack source gets it: for a module's code that
 * runs outside the recorder (a module's thread-local variables, in a library loaded
 * with dlopen, may be allocated inside malloc, and glibc then can lose what is written
 * to them first). */
void **filrec_stack_slot(void);
/* In-process activation, for the Python API and attach: with the library loaded into a
 * running process (dlopen, not LD_PRELOAD), start recording into a new log joined to
 * the sink listening at sock (an abstract socket name, "@...") and put the hooks into
 * every loaded object; stop writes the trailer (the process still running) and takes
 * the hooks out. Both return 0 or an errno value (EBUSY: preloaded by `filrec run`,
 * which records the process already; ESRCH: stop when not recording). */
int filrec_inprocess_start(const char *sock);
/* The same, with native stacks (native 1: as `filrec run --native`). */
int filrec_inprocess_begin(const char *sock, int native);
/* The same, sampling every sample bytes on average (0: every allocation), as
 * `filrec run --sample`; the sink must have been told the same (`_sink --sample`). */
int filrec_inprocess_begin_sampled(const char *sock, int native, unsigned long long sample);
/* A threshold: the first time the bytes live since this call exceed bytes, the thread
 * that allocated calls notify(live) from inside the recorder. notify must only set a
 * flag or queue work for later (Python: Py_AddPendingCall): no allocation, no lock an
 * allocation may hold. bytes 0 or notify NULL stops watching. Every event is slower
 * while a threshold is set. Returns 1 if recording. */
int filrec_watch(unsigned long long bytes, void (*notify)(unsigned long long live));
int filrec_inprocess_stop(void);
/* filrec_inprocess_stop as a CPython pending call (Py_AddPendingCall): always 0. */
int filrec_inprocess_stop_pending(void *arg);

#ifdef __cplusplus
}
#endif
#endif
