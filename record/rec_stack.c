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

/* With --native, a source is always installed: the hot path, which takes no stack,
 * is then never taken for an allocation. */
static unsigned no_stack(void **slot)
{
    (void)slot;
    return 0;
}

REC_EXPORT int filrec_set_stack_source(filrec_stack_fn fn)
{
    atomic_store(&rec_stack_source, fn || !rec_native_on ? fn : no_stack);
    return atomic_load(&rec_on);
}

/* The id is taken in the same critical section as the record is written, so ids
 * follow record order. */
unsigned rec_define(unsigned kind, uint32_t *counter, unsigned n, const uint64_t *v,
                    const void *s, size_t len)
{
    int locked;
    unsigned id = 0;
    rec_tl.busy++;
    if (rec_begin(rec_ir_words(n, len), &locked)) {
        rec_publish(rec_ir_rec(rec.at, kind, n, v, s, len));
        id = ++*counter;
        rec_end(locked);
    }
    rec_tl.busy--;
    return id;
}

unsigned rec_define_string(const char *s, size_t n)
{
    if (n > FT_STRING_MAX)
        n = FT_STRING_MAX;
    return rec_define(FT_STRING, &rec.nstrings, 0, NULL, s ? s : "", s ? n : 0);
}

REC_EXPORT unsigned filrec_define_string(const char *s, size_t n)
{
    return rec_define_string(s, n);
}

REC_EXPORT unsigned filrec_define_function(unsigned name, unsigned file, unsigned first_line)
{
    uint64_t v[3] = {name, file, first_line};
    return rec_define(FT_FUNCTION, &rec.nfuncs, 3, v, NULL, 0);
}

/* With --native, the node is kept for rec_native.c, entry flag and all. */
REC_EXPORT unsigned filrec_define_node(unsigned parent, unsigned function, unsigned line)
{
    uint64_t v[3] = {parent, function, line & ~FILREC_NODE_ENTRY};
    unsigned id = rec_define(FT_STACK_NODE, &rec.nnodes, 3, v, NULL, 0);
    if (id && rec_native_on) {
        rec_tl.busy++;
        rec_native_pynode(id, parent, function, line);
        rec_tl.busy--;
    }
    return id;
}

REC_EXPORT int filrec_record_alloc(void *p, size_t size, unsigned allocator)
{
    if (!p || !rec_want() || allocator == 0 || allocator >= FT_A_COUNT)
        return 0;
    if (rec_sample_bytes && !rec_sample_alloc(p, size))
        return 1;
    rec_alloc_event(p, size, allocator, REC_CALLER);
    return 1;
}

REC_EXPORT int filrec_record_free(void *p)
{
    if (!p || !rec_want())
        return 0;
    if (rec_sample_bytes && !rec_sample_free(p))
        return 1;
    rec_free_event(p);
    return 1;
}

REC_EXPORT int *filrec_busy(void)
{
    return &rec_tl.busy;
}

REC_EXPORT void **filrec_stack_slot(void)
{
    return &rec_tl.stack_slot;
}
