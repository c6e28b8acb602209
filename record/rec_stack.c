/* rec_stack.c: the bridge to language support modules. The recorder knows nothing of
 * Python: a module installs a stack source and defines strings, functions and stack
 * nodes through filrec.h; this file numbers them and writes their records, so ids
 * and records are in the same order in the trace. */
#include <string.h>

#include "filrec.h"
#include "rec_internal.h"

_Alignas(64) _Atomic(filrec_stack_fn) rec_stack_source; /* read on every event: own line */

uint32_t rec_stack_current(void)
{
    filrec_stack_fn fn = atomic_load_explicit(&rec_stack_source, memory_order_acquire);
    return fn ? fn(&rec_tl.stack_slot) : 0;
}

REC_EXPORT int filrec_set_stack_source(filrec_stack_fn fn)
{
    atomic_store(&rec_stack_source, fn);
    return atomic_load(&rec_on);
}

/* Write one definition record: kind, then n varints (and a string for STRING), and
 * return its new id from *counter. The id is taken in the same critical section as
 * the record is written, so ids follow record order. */
static unsigned define(unsigned kind, uint32_t *counter, unsigned n, uint64_t a, uint64_t b,
                       uint64_t c, const char *s, size_t len)
{
    int locked;
    unsigned id = 0;
    uint64_t v[3] = {a, b, c};
    rec_tl.busy++;
    if (rec_begin(rec_ir_words(n, len), &locked)) {
        rec_publish(rec_ir_rec(rec.at, kind, n, v, s, len));
        id = ++*counter;
        rec_end(locked);
    }
    rec_tl.busy--;
    return id;
}

REC_EXPORT unsigned filrec_define_string(const char *s, size_t n)
{
    if (n > FT_STRING_MAX)
        n = FT_STRING_MAX;
    return define(FT_STRING, &rec.nstrings, 0, 0, 0, 0, s ? s : "", s ? n : 0);
}

REC_EXPORT unsigned filrec_define_function(unsigned name, unsigned file, unsigned first_line)
{
    return define(FT_FUNCTION, &rec.nfuncs, 3, name, file, first_line, NULL, 0);
}

REC_EXPORT unsigned filrec_define_node(unsigned parent, unsigned function, unsigned line)
{
    return define(FT_STACK_NODE, &rec.nnodes, 3, parent, function, line, NULL, 0);
}

REC_EXPORT int filrec_record_alloc(void *p, size_t size, unsigned allocator)
{
    if (!p || !rec_want() || allocator == 0 || allocator >= FT_A_COUNT)
        return 0;
    rec_alloc_event(p, size, allocator);
    return 1;
}

REC_EXPORT int filrec_record_free(void *p)
{
    if (!p || !rec_want())
        return 0;
    rec_free_event(p);
    return 1;
}

REC_EXPORT int *filrec_busy(void)
{
    return &rec_tl.busy;
}
