/* filrec.h: the recorder's public C API, for programs that want to mark their trace.
 * Every function is a no-op when the program is not running under `filrec run`.
 * Look the symbols up with dlsym(RTLD_DEFAULT, "filrec_mark") so the program does
 * not need to link libfilrec.so. */
#ifndef FILREC_H
#define FILREC_H

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

#ifdef __cplusplus
}
#endif
#endif
