/* pymod.c: _filrec, the Python support module, built once per interpreter version.
 * It gives libfilrec.so the calling thread's Python stack at each recorded allocation,
 * read straight from the interpreter's frame chain: no profile hook, no cost per call.
 * Each thread keeps its last chain; a new capture reuses the common outer part, so a
 * repeated allocation site costs a walk of its frames and a few compares. On deep
 * stacks an evaluation hook proves the outer part unchanged, so the walk stops there
 * (deep stacks, below).
 * Runs inside malloc, possibly without the GIL: it reads only the calling thread's own
 * frames and immutable code object fields, and calls no Python API that allocates. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#if PY_VERSION_HEX >= 0x030B0000
#define Py_BUILD_CORE 1
#include <internal/pycore_frame.h>
#undef Py_BUILD_CORE
#else
#include <frameobject.h>
#endif
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../filrec.h"

#define MAX_DEPTH 4096 /* deeper stacks keep their innermost MAX_DEPTH frames */

/* ---- the interpreter's frames, per version ---- */
#if PY_VERSION_HEX >= 0x030B0000
typedef _PyInterpreterFrame pyframe;
static pyframe *frame_first(PyThreadState *t)
{
#if PY_VERSION_HEX >= 0x030D0000
    return t->current_frame;
#else
    return t->cframe ? t->cframe->current_frame : NULL;
#endif
}
static pyframe *frame_next(pyframe *f) { return f->previous; }
static PyCodeObject *code_of(pyframe *f)
{
#if PY_VERSION_HEX >= 0x030D0000
    return (PyCodeObject *)f->f_executable;
#else
    return f->f_code;
#endif
}
/* The frame's code, or NULL for frames that are not (yet) Python code. */
static PyCodeObject *frame_code(pyframe *f)
{
#if PY_VERSION_HEX >= 0x030C0000
    if (f->owner == FRAME_OWNED_BY_CSTACK)
        return NULL;
#endif
#if PY_VERSION_HEX >= 0x030D0000
    if (!f->f_executable || !PyCode_Check(f->f_executable))
        return NULL;
#endif
    return _PyFrame_IsIncomplete(f) ? NULL : code_of(f);
}
/* Byte offset of the instruction the frame is executing (or calling from). */
static int frame_offset(pyframe *f)
{
    return _PyInterpreterFrame_LASTI(f) * (int)sizeof(_Py_CODEUNIT);
}
/* Whether f is the first frame its call of the evaluation function runs: the frames
 * up to it go under that call's native frame in a hybrid stack (--native). */
static int frame_entry(pyframe *f)
{
#if PY_VERSION_HEX >= 0x030C0000
    return !f->previous || f->previous->owner == FRAME_OWNED_BY_CSTACK;
#else
    return f->is_entry;
#endif
}
#else
typedef PyFrameObject pyframe;
static pyframe *frame_first(PyThreadState *t) { return t->frame; }
static pyframe *frame_next(pyframe *f) { return f->f_back; }
static PyCodeObject *frame_code(pyframe *f) { return f->f_code; }
static int frame_offset(pyframe *f)
{
#if PY_VERSION_HEX >= 0x030A0000
    return f->f_lasti < 0 ? -1 : f->f_lasti * (int)sizeof(_Py_CODEUNIT);
#else
    return f->f_lasti;
#endif
}
static int frame_entry(pyframe *f) /* each frame has its own evaluation call */
{
    (void)f;
    return 1;
}
#endif

/* The code object's line table: with the code pointer, it tells a code object from a
 * later one that happens to reuse the same address. */
static const void *code_table(PyCodeObject *c)
{
#if PY_VERSION_HEX >= 0x030A0000
    return c->co_linetable;
#else
    return c->co_lnotab;
#endif
}

static int code_line(PyCodeObject *c, int offset)
{
    return offset < 0 ? c->co_firstlineno : PyCode_Addr2Line(c, offset);
}

/* ---- the recorder's API, found at start ---- */
static struct {
    int (*set_source)(filrec_stack_fn);
    unsigned (*string)(const char *, size_t);
    unsigned (*function)(unsigned, unsigned, unsigned);
    unsigned (*node)(unsigned, unsigned, unsigned);
    int (*mark)(const char *);
    int (*region_begin)(const char *);
    int (*region_end)(const char *);
    int (*active)(void);
    int *(*busy)(void);
    void **(*slot)(void);
    int (*inprocess_start)(const char *);
    int (*inprocess_begin)(const char *, int);
    int (*inprocess_begin_sampled)(const char *, int, unsigned long long);
    int (*inprocess_stop)(void);
    int (*watch)(unsigned long long, void (*)(unsigned long long));
    int (*native_eval)(const void *);
    int (*native_on)(void);
    int (*wrap)(const filrec_allocator *, unsigned, filrec_allocator *);
    unsigned long long (*sample_bytes)(void);
} api;
static void *lib = RTLD_DEFAULT; /* where the API is: preloaded, or load()'s handle */
/* Bumped by every in-process start: ids of an earlier trace mean nothing in the next,
 * so the tables are emptied and each thread's chain starts afresh. */
static _Atomic unsigned generation;

/* ---- intern tables: (k1, k2, k3) -> id, open addressing; under table_lock ---- */
typedef struct entry {
    uint64_t k1, k2, k3;
    uint32_t id;
} entry;

typedef struct table {
    entry *e;
    size_t mask, used;
} table;

static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;
static table strings, functions, nodes;

static uint64_t mix(uint64_t a, uint64_t b, uint64_t c)
{
    uint64_t h = a * 0x9E3779B97F4A7C15ull ^ (b + 0x632BE59BD9B4E019ull) * 0xC2B2AE3D27D4EB4Full;
    h ^= c * 0x165667B19E3779F9ull;
    return h ^ (h >> 29);
}

static uint32_t *table_slot(table *t, uint64_t k1, uint64_t k2, uint64_t k3)
{
    if (t->used * 2 >= t->mask) {
        size_t cap = t->mask ? (t->mask + 1) * 2 : 1024;
        entry *e = calloc(cap, sizeof *e);
        if (!e)
            return NULL;
        for (size_t i = 0; t->e && i <= t->mask; i++) {
            if (!t->e[i].id)
                continue;
            size_t j = mix(t->e[i].k1, t->e[i].k2, t->e[i].k3) & (cap - 1);
            while (e[j].id)
                j = (j + 1) & (cap - 1);
            e[j] = t->e[i];
        }
        free(t->e);
        t->e = e;
        t->mask = cap - 1;
    }
    size_t i = mix(k1, k2, k3) & t->mask;
    while (t->e[i].id && (t->e[i].k1 != k1 || t->e[i].k2 != k2 || t->e[i].k3 != k3))
        i = (i + 1) & t->mask;
    entry *e = &t->e[i];
    e->k1 = k1, e->k2 = k2, e->k3 = k3;
    return &e->id; /* 0: new; the caller fills it in, and must count it */
}

/* A str's UTF-8 bytes without the Python API: compact ASCII strings are used in place,
 * others are encoded into buf. A byte that was not UTF-8 in a file name (decoded by
 * Python as U+DC80-U+DCFF, "surrogateescape") becomes that byte again, so the trace
 * holds the path the file system knows. */
static size_t utf8_of(PyObject *o, char *buf, size_t cap, const char **out)
{
    *out = "?";
    if (!o || !PyUnicode_Check(o))
        return 1;
#if PY_VERSION_HEX < 0x030C0000
    if (!PyUnicode_IS_READY(o))
        return 1;
#endif
    size_t n = (size_t)PyUnicode_GET_LENGTH(o), o_len = 0;
    if (PyUnicode_IS_COMPACT_ASCII(o)) {
        *out = (const char *)(((PyASCIIObject *)o) + 1);
        return n;
    }
    int kind = PyUnicode_KIND(o);
    const void *data = PyUnicode_DATA(o);
    for (size_t i = 0; i < n && o_len + 4 <= cap; i++) {
        Py_UCS4 c = PyUnicode_READ(kind, data, i);
        if (c < 0x80) {
            buf[o_len++] = (char)c;
        } else if (c >= 0xDC80 && c <= 0xDCFF) {
            buf[o_len++] = (char)(c - 0xDC00); /* surrogateescape: the name's own byte */
        } else if (c < 0x800) {
            buf[o_len++] = (char)(0xC0 | c >> 6);
            buf[o_len++] = (char)(0x80 | (c & 0x3F));
        } else if (c < 0x10000) {
            buf[o_len++] = (char)(0xE0 | c >> 12);
            buf[o_len++] = (char)(0x80 | ((c >> 6) & 0x3F));
            buf[o_len++] = (char)(0x80 | (c & 0x3F));
        } else {
            buf[o_len++] = (char)(0xF0 | c >> 18);
            buf[o_len++] = (char)(0x80 | ((c >> 12) & 0x3F));
            buf[o_len++] = (char)(0x80 | ((c >> 6) & 0x3F));
            buf[o_len++] = (char)(0x80 | (c & 0x3F));
        }
    }
    *out = buf;
    return o_len;
}

static unsigned intern_string(PyObject *o)
{
    char buf[4096];
    const char *s;
    size_t n = utf8_of(o, buf, sizeof buf, &s);
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint8_t)s[i]) * 1099511628211ull;
    uint32_t *id = table_slot(&strings, h, n, 0);
    if (id && !*id && (*id = api.string(s, n)))
        strings.used++;
    return id ? *id : 0;
}

/* Code objects are not kept alive, so a later one can reuse a freed one's address, and
 * its line table's. The function key adds what names the function (the name and file
 * strings, the first line), so a reused address never inherits another function's
 * name; a node's key adds its function's id. */
static PyObject *code_qualname(PyCodeObject *c)
{
#if PY_VERSION_HEX >= 0x030B0000
    return c->co_qualname;
#else
    return c->co_name;
#endif
}

/* What names a code object's function, as a key: the name and file strings (their
 * addresses: the code object holds them), the first line. */
static uint64_t code_names(PyCodeObject *c)
{
    return mix((uintptr_t)code_qualname(c), (uintptr_t)c->co_filename,
               (uint64_t)c->co_firstlineno);
}

static unsigned intern_function(PyCodeObject *c)
{
    uint32_t *id = table_slot(&functions, (uintptr_t)c, (uintptr_t)code_table(c), code_names(c));
    if (id && !*id) {
        unsigned name = intern_string(code_qualname(c));
        unsigned file = intern_string(c->co_filename);
        if (name && file && (*id = api.function(name, file, (unsigned)c->co_firstlineno)))
            functions.used++;
    }
    return id ? *id : 0;
}

/* where: the frame's byte offset times 2, plus 1 if it is an entry frame (frame_entry). */
static unsigned intern_node(unsigned parent, PyCodeObject *c, int where)
{
    int offset = where >> 1; /* -1 (not started) stays -1 */
    unsigned fn = intern_function(c);
    if (!fn)
        return 0;
    uint32_t *id = table_slot(&nodes, (uint64_t)parent << 32 | (uint32_t)where, (uintptr_t)c,
                              (uintptr_t)code_table(c) ^ (uint64_t)fn << 40);
    if (id && !*id) {
        int line = code_line(c, offset);
        unsigned entry = where & 1 ? FILREC_NODE_ENTRY : 0;
        if ((*id = api.node(parent, fn, (line > 0 ? (unsigned)line : 0) | entry)))
            nodes.used++;
    }
    return id ? *id : 0;
}

/* The recorder's busy counter: what the calling thread allocates while it is raised
 * is not recorded (QUIET: for one call). */
static int *busy(void)
{
    static __thread int *b;
    return b ? b : (b = api.busy());
}

#define QUIET(call) ({ int *q_ = busy(); ++*q_; __typeof__(call) r_ = (call); --*q_; r_; })

/* ---- per-thread capture ---- */
/* A thread's recent allocation sites, (parent node, code, offset) -> node, direct
 * mapped: a known site is found without table_lock. Consecutive allocations often come
 * from different lines of one function, so the last stack alone rarely matches. */
#define SITES 512
typedef struct site {
    uint64_t code, table, names;
    uint32_t parent, node;
    int off;
} site;

typedef struct level {              /* a frame of the last stack */
    PyCodeObject *code;
    const void *table;
    int off;
    unsigned node;
} level;

typedef struct seen {               /* a frame of the capture in progress */
    PyCodeObject *code;
    int off;                        /* here and above: offset * 2 + entry (intern_node) */
} seen;

/* A call of the evaluation function the thread is inside (deep stacks, below). */
#define SHADOW 512 /* nested calls followed; deeper, the hook steps aside */
typedef struct shadow {
    pyframe *frame;                 /* the frame it evaluates */
    int pos;                        /* its index in the last stack, or -1 */
} shadow;

typedef struct chain {
    unsigned gen;                   /* the generation its ids are of */
    int depth;                      /* frames in the last stack */
    int cap;                        /* frames the arrays hold: grows to MAX_DEPTH */
    level *last;                    /* the last stack, outermost first */
    seen *now;                      /* the capture in progress, innermost first */
    int calls;                      /* calls in sh, outermost first */
    unsigned window;                /* captures since the last look at the cost */
    unsigned hot;                   /* looks in a row that found walking costly */
    unsigned long walked;           /* frames they walked */
    struct timespec since;          /* when the window began */
    site sites[SITES];
    shadow sh[SHADOW];
} chain;

/* The node of frame (c, off) under parent, from the thread's sites or the tables;
 * *locked tells whether table_lock is held (taken on the first miss). 0: not
 * recording any more. */
static unsigned site_node(chain *ch, unsigned parent, PyCodeObject *c, int off, int *locked)
{
    uint64_t table = (uintptr_t)code_table(c), names = code_names(c);
    site *st = &ch->sites[mix((uintptr_t)c ^ (uint64_t)parent << 32, (uint64_t)off, table) &
                          (SITES - 1)];
    if (st->node && st->code == (uintptr_t)c && st->parent == parent && st->off == off &&
        st->table == table && st->names == names)
        return st->node;
    if (!*locked) {
        pthread_mutex_lock(&table_lock);
        *locked = 1;
    }
    unsigned node = intern_node(parent, c, off);
    *st = (site){(uintptr_t)c, table, names, parent, node, off};
    return node;
}

/* Double the chain's arrays (64 frames at first): a thread pays for the depth it
 * reaches, not for MAX_DEPTH. 0, or -1 when out of memory (cap unchanged). */
static int chain_grow(chain *ch)
{
    int cap = ch->cap ? ch->cap * 2 : 64;
    if (cap > MAX_DEPTH)
        cap = MAX_DEPTH;
    level *last = realloc(ch->last, (size_t)cap * sizeof *last);
    if (!last)
        return -1;
    ch->last = last;
    seen *now = realloc(ch->now, (size_t)cap * sizeof *now);
    if (!now)
        return -1; /* last is only larger than it needs to be */
    ch->now = now;
    ch->cap = cap;
    return 0;
}

/* ---- deep stacks: proof that the outer part of a stack is unchanged ----
 * While the evaluation hook (PEP 523) is installed, each thread keeps the calls of the
 * evaluation function it is inside, outermost first (chain.sh). A frame whose call
 * has not returned since the thread's last capture is still running, so its callers,
 * and where each is executing, are what that capture saw: the next capture walks down
 * to it and reuses the last stack below it. A call gets its frame's index as a walk
 * passes it; a new call has none, so a call with an index has not returned since.
 * The hook costs every Python call a little (on 3.11 and later, calls are no longer
 * inlined: about 1.5x on a program that only calls), so it goes in when it pays
 * (deep_start). On 3.11 and later it also makes every Python call nest on the C
 * stack: past SHADOW nested calls it steps aside until they return. */
enum { DEEP_OFF, DEEP_ASKED, DEEP_ON, DEEP_ASIDE, DEEP_NEVER };
static atomic_int deep;                /* one of the above */
static int deep_checking;             /* FILREC_DEEP_CHECK=1: compare with a full walk */
static _Atomic unsigned long deep_proofs, deep_captures; /* counted when checking */
#if PY_VERSION_HEX >= 0x03090000
static int deep_asides;                /* times it stepped aside */
static _PyFrameEvalFunction eval_next; /* what the hook calls; NULL: the default */

static PyObject *eval_on(PyThreadState *t, pyframe *f, int throwflag)
{
    return eval_next ? eval_next(t, f, throwflag) : _PyEval_EvalFrameDefault(t, f, throwflag);
}

/* Install (on) or remove the hook; under the GIL. */
static PyObject *deep_hook(PyThreadState *t, pyframe *f, int throwflag);
static void deep_set(PyInterpreterState *in, int on)
{
    _PyFrameEvalFunction cur = _PyInterpreterState_GetEvalFrameFunc(in);
    if (on && cur != deep_hook) {
        eval_next = cur == _PyEval_EvalFrameDefault ? NULL : cur;
        _PyInterpreterState_SetEvalFrameFunc(in, deep_hook);
    } else if (!on && cur == deep_hook) {
        _PyInterpreterState_SetEvalFrameFunc(in, eval_next ? eval_next : _PyEval_EvalFrameDefault);
    }
}

static PyObject *deep_hook(PyThreadState *t, pyframe *f, int throwflag)
{
    void **slot = api.slot();
    chain *ch = *slot;
    if (!ch) /* the hook's own memory is not the program's */
        ch = *slot = QUIET(calloc(1, sizeof *ch));
    if (!ch)
        return eval_on(t, f, throwflag);
    int i = ch->calls;
    if (i == SHADOW) {
        if (atomic_load_explicit(&deep, memory_order_relaxed) == DEEP_ON) {
            atomic_store(&deep, DEEP_ASIDE);
            deep_set(t->interp, 0);
            deep_asides++;
        }
        return eval_on(t, f, throwflag);
    }
    ch->sh[i] = (shadow){f, -1};
    ch->calls = i + 1;
    PyObject *r = eval_on(t, f, throwflag);
    ch->calls = i;
    if (i == SHADOW / 2 && deep_asides < 64 &&
        atomic_load_explicit(&deep, memory_order_relaxed) == DEEP_ASIDE) {
        atomic_store(&deep, DEEP_ON);
        deep_set(t->interp, 1);
    }
    return r;
}

#else /* 3.8: the hook has another signature and no setter; every capture walks */
static void deep_set(PyInterpreterState *in, int on) { (void)in, (void)on; }
#define DEEP_NONE 1
#endif

/* A pending call (main thread, GIL held): install the hook asked for. */
static int deep_install(void *arg)
{
    (void)arg;
    int asked = DEEP_ASKED;
    if (atomic_compare_exchange_strong(&deep, &asked, DEEP_ON))
        deep_set(PyThreadState_Get()->interp, 1);
    return 0;
}

/* At each start: FILREC_DEEP_STACKS unset, auto, always or never; GIL held. Unset, the
 * hook goes in with objects (--python-allocators), whose captures are so many that it
 * pays for itself from the first deep stack, unless sampling makes them few; auto also
 * puts it in on demand otherwise (deep_window: the frames already running then are
 * never proven). */
static void deep_start(int objects)
{
    const char *v = getenv("FILREC_DEEP_STACKS"), *check = getenv("FILREC_DEEP_CHECK");
    deep_checking = check && !strcmp(check, "1");
    int every = objects && !(api.sample_bytes && api.sample_bytes());
    int mode = every ? DEEP_ON : v && !strcmp(v, "auto") ? DEEP_OFF : DEEP_NEVER;
    if (v && !strcmp(v, "always"))
        mode = DEEP_ON;
    else if (v && !strcmp(v, "never"))
        mode = DEEP_NEVER;
    else if (v && *v && strcmp(v, "auto"))
        PySys_WriteStderr("filrec: FILREC_DEEP_STACKS=%.40s: expected auto, always or never; "
                          "using the default\n", v);
#ifdef DEEP_NONE
    mode = DEEP_NEVER;
#endif
    if (!api.busy || !api.slot || !api.native_on)
        mode = DEEP_NEVER; /* a recorder older than the hook */
    else if (api.native_on())
        mode = DEEP_NEVER; /* the hook's frames would be in every native stack, and
                              the native unwind walks the whole stack anyway */
    atomic_store(&deep, mode);
    deep_set(PyThreadState_Get()->interp, mode == DEEP_ON);
}

/* At each stop: remove the hook (calls inside it still return through it). */
static void deep_stop(void)
{
    atomic_store(&deep, DEEP_NEVER);
    deep_set(PyThreadState_Get()->interp, 0);
    if (deep_checking)
        PySys_WriteStderr("filrec: deep stacks: %lu of %lu captures over 16 frames deep proven\n",
                          atomic_load(&deep_proofs), atomic_load(&deep_captures));
}

/* Every 1024 captures, a look at what walking costs: over 1/25 of the time since the
 * last look (at about 1.6 ns a frame), in stacks over 32 frames deep on average, 16
 * looks in a row (not a burst, such as an import), asks for the hook. A clock read per
 * 1024 captures. */
static void deep_window(chain *ch, int walked)
{
    if (atomic_load_explicit(&deep, memory_order_relaxed) != DEEP_OFF)
        return; /* decided: no clock reads */
    ch->walked += (unsigned)walked;
    if (++ch->window < 1024)
        return;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    long long ns = (now.tv_sec - ch->since.tv_sec) * 1000000000ll + now.tv_nsec - ch->since.tv_nsec;
    int costly = ch->since.tv_sec && ch->walked > 32 * 1024 && (long long)ch->walked * 40 > ns;
    ch->hot = costly ? ch->hot + 1 : 0;
    if (ch->hot >= 16) {
        int was = DEEP_OFF;
        if (atomic_compare_exchange_strong(&deep, &was, DEEP_ASKED) &&
            Py_AddPendingCall(deep_install, NULL) < 0)
            atomic_store(&deep, DEEP_OFF);
    }
    ch->since = now;
    ch->window = 0, ch->walked = 0;
}

/* FILREC_DEEP_CHECK=1: the chain just built on a proof against a walk of every frame.
 * 0 (said once) if they differ: the caller captures again without the proof. */
static int deep_verify(chain *ch, PyThreadState *t)
{
    int d = ch->depth, w = 0; /* frames matched, from the innermost */
    for (pyframe *f = frame_first(t); f; f = frame_next(f)) {
        PyCodeObject *c = frame_code(f);
        if (!c)
            continue;
        if (w == d || ch->last[d - 1 - w].code != c ||
            ch->last[d - 1 - w].off != frame_offset(f) * 2 + frame_entry(f)) {
            w = -1;
            break;
        }
        w++;
    }
    if (d > 16)
        atomic_fetch_add(&deep_proofs, 1);
    if (w == d)
        return 1;
    static atomic_int said;
    if (!atomic_exchange(&said, 1))
        fprintf(stderr, "filrec: deep-stack proof failed at depth %d; walking instead\n", d);
    return 0;
}

/* The last stack's indices no longer hold (a new trace, a cut stack). */
static void forget(chain *ch)
{
    for (int s = 0; s < ch->calls; s++)
        ch->sh[s].pos = -1;
}

/* Walk the thread's frames into now[], innermost first, down to stop (included) if it
 * is met where the last stack had it, at index base; the calls matched on the way get
 * their index (set from the top, sh[j + 1..]). The frames in now[] go at last[*base..]:
 * *base is 0 if stop was not met. -1: stop was too deep to keep the chain in MAX_DEPTH
 * frames (walk again without it). Without stop, a stack too deep (or out of memory) is
 * cut to its innermost frames, and the indices are forgotten. */
static int walk(chain *ch, PyThreadState *t, pyframe *stop, int *base, int j)
{
    int n = 0, m = ch->calls - 1, b = *base, lost = 0, cut = 0;
    pyframe *f = frame_first(t);
    for (; f; f = frame_next(f)) {
        PyCodeObject *c = frame_code(f);
        if (m > j && ch->sh[m].frame == f)
            ch->sh[m--].pos = c ? -2 - n : -1; /* -2 - its index in now[], for now */
        if (!c)
            continue;
        if (b + n == MAX_DEPTH || (b + n == ch->cap && chain_grow(ch))) {
            if (stop)
                return -1;
            cut = 1;
            break;
        }
        ch->now[n++] = (seen){c, frame_offset(f) * 2 + frame_entry(f)};
        if (f == stop) {
            if (c == ch->last[b].code)
                break;
            stop = NULL, lost = 1, b = 0; /* not the frame it was: walk all of it */
        }
    }
    if (!f)
        b = 0;
    for (int s = j + 1; s < ch->calls; s++)
        if (ch->sh[s].pos <= -2)
            ch->sh[s].pos = b + n - 1 - (-2 - ch->sh[s].pos);
    if (!f && (stop || lost))
        for (int s = 0; s <= j; s++)
            ch->sh[s].pos = -1; /* the calls are not this stack's (a greenlet's?) */
    if (cut)
        forget(ch); /* a cut stack proves nothing next time */
    *base = b;
    return n;
}

static unsigned capture(void **slot)
{
    PyThreadState *t = PyGILState_GetThisThreadState();
    if (!t)
        return 0; /* a thread with no Python: the recorder charges its creator */
    chain *ch = *slot;
    if (!ch && !(ch = *slot = calloc(1, sizeof *ch)))
        return 0;
    unsigned g = atomic_load_explicit(&generation, memory_order_acquire);
    if (ch->gen != g) {
        ch->gen = g;
        ch->depth = 0;
        memset(ch->sites, 0, sizeof ch->sites);
        forget(ch);
    }
    /* The innermost call still running since the last capture: its frame's callers
     * are the last stack's up to its index. */
    int j = ch->calls - 1;
    while (j >= 0 && ch->sh[j].pos < 0)
        j--;
    int base = j >= 0 ? ch->sh[j].pos : 0; /* the calls above j have no index */
    int n = walk(ch, t, j >= 0 ? ch->sh[j].frame : NULL, &base, j);
    if (n < 0) { /* too deep to stop at j: the whole stack, cut */
        forget(ch);
        base = 0;
        n = walk(ch, t, NULL, &base, -1);
    }
    deep_window(ch, n);
    int d = base + n; /* the new stack's depth */
    int k = base;     /* frames shared, from the outermost, with the last stack */
    while (k < d && k < ch->depth && ch->last[k].code == ch->now[d - 1 - k].code &&
           ch->last[k].off == ch->now[d - 1 - k].off &&
           ch->last[k].table == code_table(ch->last[k].code))
        k++;
    if (k == d && d == ch->depth)
        goto done;
    int locked = 0;
    for (int i = k; i < d; i++) {
        level *l = &ch->last[i];
        seen f = ch->now[d - 1 - i];
        *l = (level){f.code, code_table(f.code), f.off, 0};
        l->node = site_node(ch, i ? ch->last[i - 1].node : 0, l->code, l->off, &locked);
        if (!l->node) { /* not recording any more */
            d = i;
            forget(ch); /* a cut stack proves nothing next time */
            break;
        }
    }
    if (locked)
        pthread_mutex_unlock(&table_lock);
    ch->depth = d;
done:
    if (deep_checking && d > 16) /* proofs are for deep stacks: count those */
        atomic_fetch_add(&deep_captures, 1);
    if (base && deep_checking && !deep_verify(ch, t))
        return forget(ch), capture(slot);
    return d ? ch->last[d - 1].node : 0;
}

/* ---- the module ---- */
static int resolve(void)
{
    if (api.set_source)
        return 1;
#define FIND(field, name) *(void **)&api.field = dlsym(lib, name)
    FIND(string, "filrec_define_string");
    FIND(function, "filrec_define_function");
    FIND(node, "filrec_define_node");
    FIND(mark, "filrec_mark");
    FIND(region_begin, "filrec_region_begin");
    FIND(region_end, "filrec_region_end");
    FIND(active, "filrec_active");
    FIND(set_source, "filrec_set_stack_source");
    FIND(busy, "filrec_busy");
    FIND(slot, "filrec_stack_slot");
    FIND(inprocess_start, "filrec_inprocess_start");
    FIND(inprocess_begin, "filrec_inprocess_begin");
    FIND(inprocess_begin_sampled, "filrec_inprocess_begin_sampled");
    FIND(inprocess_stop, "filrec_inprocess_stop");
    FIND(watch, "filrec_watch");
    FIND(native_eval, "filrec_native_eval");
    FIND(native_on, "filrec_native_on");
    FIND(wrap, "filrec_wrap_allocator");
    FIND(sample_bytes, "filrec_sample_bytes");
#undef FIND
    if (api.native_eval)
        api.native_eval((const void *)&_PyEval_EvalFrameDefault);
    return api.set_source && api.string && api.function && api.node && api.mark && api.active;
}

/* ---- --python-allocators: every PyMem_/PyObject_ block, recorded at the wrapper ----
 * The interpreter keeps its own allocator (pymalloc): the program's memory behaves as
 * it would without filrec. The recorder wraps it (filrec_wrap_allocator), calling it
 * with the busy counter raised, as the arena allocator is called here, so the malloc
 * and arena mmap behind it are not recorded a second time. These domains are only
 * called with the GIL held. */
#define PY_DOMAINS 2
static PyMemAllocatorEx orig[PY_DOMAINS];
static PyObjectArenaAllocator orig_arena;
static const unsigned kind_of[PY_DOMAINS] = {10 /* PyMem_ */, 11 /* PyObject_ */};
static const PyMemAllocatorDomain domain_of[PY_DOMAINS] = {PYMEM_DOMAIN_MEM, PYMEM_DOMAIN_OBJ};

static void *w_arena_alloc(void *ctx, size_t n)
{
    (void)ctx;
    return QUIET(orig_arena.alloc(orig_arena.ctx, n));
}

static void w_arena_free(void *ctx, void *p, size_t n)
{
    (void)ctx;
    ++*busy();
    orig_arena.free(orig_arena.ctx, p, n);
    --*busy();
}

static int wrap_allocators(void)
{
    if (!api.wrap || !api.busy || !busy())
        return 0;
    _Static_assert(sizeof(PyMemAllocatorEx) == sizeof(filrec_allocator), "the same fields");
    PyMemAllocatorEx w[PY_DOMAINS];
    for (int d = 0; d < PY_DOMAINS; d++) {
        filrec_allocator o, f;
        PyMem_GetAllocator(domain_of[d], &orig[d]);
        memcpy(&o, &orig[d], sizeof o);
        if (!api.wrap(&o, kind_of[d], &f))
            return 0;
        memcpy(&w[d], &f, sizeof f);
    }
    for (int d = 0; d < PY_DOMAINS; d++)
        PyMem_SetAllocator(domain_of[d], &w[d]);
    PyObject_GetArenaAllocator(&orig_arena);
    PyObjectArenaAllocator a = {NULL, w_arena_alloc, w_arena_free};
    PyObject_SetArenaAllocator(&a);
    return 1;
}

/* start(objects=False): give the recorder Python stacks; with objects, also record
 * every PyMem_/PyObject_ block. True if recording. */
static PyObject *py_start(PyObject *self, PyObject *args)
{
    int objects = 0;
    (void)self;
    if (!PyArg_ParseTuple(args, "|p", &objects))
        return NULL;
    if (!resolve() || !api.set_source(capture))
        Py_RETURN_FALSE;
    deep_start(objects);
    if (objects && !wrap_allocators())
        PySys_WriteStderr("filrec: this libfilrec.so cannot record Python objects; "
                          "recording what reaches malloc only\n");
    Py_RETURN_TRUE;
}

static void unwrap_allocators(void)
{
    if (!orig[0].malloc)
        return;
    for (int d = 0; d < PY_DOMAINS; d++)
        PyMem_SetAllocator(domain_of[d], &orig[d]);
    PyObject_SetArenaAllocator(&orig_arena);
    memset(orig, 0, sizeof orig);
}

static PyObject *py_stop(PyObject *self, PyObject *args)
{
    (void)self, (void)args;
    if (api.set_source) {
        api.set_source(NULL);
        deep_stop();
    }
    Py_RETURN_NONE;
}

/* load(path): make the recorder at path (libfilrec.so) available to this process
 * without LD_PRELOAD; nothing is recorded yet. True if it was preloaded already (under
 * `filrec run`), False if loaded now. */
static PyObject *py_load(PyObject *self, PyObject *args)
{
    const char *path;
    (void)self;
    if (!PyArg_ParseTuple(args, "s", &path))
        return NULL;
    if (dlsym(RTLD_DEFAULT, "filrec_active") && resolve())
        Py_RETURN_TRUE;
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *e = dlerror();
        PyErr_Format(PyExc_OSError, "cannot load %s: %s", path, e ? e : "?");
        return NULL;
    }
    memset(&api, 0, sizeof api);
    lib = h;
    if (!resolve() || !api.inprocess_start || !api.wrap) {
        PyErr_Format(PyExc_OSError, "%s is not a filrec recorder of this version", path);
        return NULL;
    }
    Py_RETURN_FALSE;
}

/* begin(sock, objects, native, sample): start recording this process into the sink at
 * sock, with Python stacks (and every PyMem_/PyObject_ block with objects, native
 * stacks with native, a sample of one allocation in every sample bytes with sample).
 * Raises OSError. */
static PyObject *py_begin_inprocess(PyObject *self, PyObject *args)
{
    const char *sock;
    int objects = 0, native = 0;
    unsigned long long sample = 0;
    (void)self;
    if (!PyArg_ParseTuple(args, "s|ppK", &sock, &objects, &native, &sample))
        return NULL;
    if (native && !api.inprocess_begin) {
        PyErr_SetString(PyExc_RuntimeError, "filrec: this recorder has no native stacks");
        return NULL;
    }
    if (sample && !api.inprocess_begin_sampled) {
        PyErr_SetString(PyExc_RuntimeError, "filrec: this recorder cannot sample");
        return NULL;
    }
    if (!api.inprocess_start) {
        PyErr_SetString(PyExc_RuntimeError, "filrec: the recorder is not loaded");
        return NULL;
    }
    pthread_mutex_lock(&table_lock);
    table *all[] = {&strings, &functions, &nodes};
    for (int i = 0; i < 3; i++) {
        free(all[i]->e);
        *all[i] = (table){0};
    }
    atomic_fetch_add(&generation, 1);
    pthread_mutex_unlock(&table_lock);
    int e = sample ? api.inprocess_begin_sampled(sock, native, sample)
          : native ? api.inprocess_begin(sock, 1) : api.inprocess_start(sock);
    if (e) {
        errno = e;
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    api.set_source(capture);
    deep_start(objects);
    if (objects && !wrap_allocators())
        PySys_WriteStderr("filrec: cannot record Python objects; recording what reaches "
                          "malloc only\n");
    Py_RETURN_NONE;
}

/* end(): stop recording this process (the trace gets its trailer); True if it was. */
static PyObject *py_end_inprocess(PyObject *self, PyObject *args)
{
    (void)self, (void)args;
    if (!api.inprocess_stop)
        Py_RETURN_FALSE;
    api.set_source(NULL);
    deep_stop();
    unwrap_allocators();
    return PyBool_FromLong(api.inprocess_stop() == 0);
}

static PyObject *py_active(PyObject *self, PyObject *args)
{
    (void)self, (void)args;
    return PyBool_FromLong(resolve() && api.active());
}

static PyObject *call_marker(int (*fn)(const char *), PyObject *args)
{
    const char *label;
    if (!PyArg_ParseTuple(args, "s", &label))
        return NULL;
    return PyBool_FromLong(resolve() && fn && fn(label));
}

static PyObject *py_mark(PyObject *s, PyObject *a) { (void)s; resolve(); return call_marker(api.mark, a); }
static PyObject *py_begin(PyObject *s, PyObject *a) { (void)s; resolve(); return call_marker(api.region_begin, a); }
static PyObject *py_end(PyObject *s, PyObject *a) { (void)s; resolve(); return call_marker(api.region_end, a); }

/* ---- a threshold: the recorder tells us inside an allocation; Python runs later ---- */
static PyObject *watch_fn;                 /* under the GIL */
static _Atomic unsigned long long watch_live;
static atomic_int watch_queued;

/* A pending call: in the main thread, between two bytecodes, GIL held. */
static int run_watch(void *arg)
{
    (void)arg;
    PyObject *fn = watch_fn;
    if (!fn)
        return 0;
    Py_INCREF(fn);
    PyObject *r = PyObject_CallFunction(fn, "K", atomic_load(&watch_live));
    if (r)
        Py_DECREF(r);
    else
        PyErr_WriteUnraisable(fn); /* the program's code must not see it */
    Py_DECREF(fn);
    return 0;
}

/* From the recorder, in the allocating thread, inside malloc: set a flag, queue. */
static void on_watch(unsigned long long live)
{
    atomic_store(&watch_live, live);
    if (!atomic_exchange(&watch_queued, 1))
        Py_AddPendingCall(run_watch, NULL);
}

/* watch(bytes, fn): fn(live) runs in the main thread, once, soon after the bytes live
 * since this call first exceed bytes; watch(0, None) stops. True if recording. */
static PyObject *py_watch(PyObject *self, PyObject *args)
{
    unsigned long long bytes;
    PyObject *fn;
    (void)self;
    if (!PyArg_ParseTuple(args, "KO", &bytes, &fn))
        return NULL;
    if (!resolve() || !api.watch) {
        PyErr_SetString(PyExc_RuntimeError, "filrec: this libfilrec.so has no thresholds");
        return NULL;
    }
    int on = bytes && fn != Py_None;
    api.watch(0, NULL);
    if (on)
        Py_INCREF(fn);
    Py_XSETREF(watch_fn, on ? fn : NULL);
    atomic_store(&watch_queued, 0);
    return PyBool_FromLong(api.watch(on ? bytes : 0, on ? on_watch : NULL));
}

static PyMethodDef methods[] = {
    {"start", py_start, METH_VARARGS,
     "start(objects=False): give the recorder Python stacks; objects: record every "
     "PyMem_/PyObject_ block too. True if recording."},
    {"stop", py_stop, METH_NOARGS, "Stop giving Python stacks (at interpreter exit)."},
    {"active", py_active, METH_NOARGS, "True while this process is being recorded."},
    {"load", py_load, METH_VARARGS,
     "load(path): make libfilrec.so at path available without LD_PRELOAD. True if it "
     "was preloaded already (filrec run)."},
    {"begin", py_begin_inprocess, METH_VARARGS,
     "begin(sock, objects=False): start recording this process into the sink at sock."},
    {"end", py_end_inprocess, METH_NOARGS, "end(): stop recording this process."},
    {"watch", py_watch, METH_VARARGS,
     "watch(bytes, fn): call fn(live) in the main thread once the bytes live since now "
     "exceed bytes; watch(0, None) stops."},
    {"mark", py_mark, METH_VARARGS, "mark(label): a point marker. True if recorded."},
    {"region_begin", py_begin, METH_VARARGS, "region_begin(label): open a region."},
    {"region_end", py_end, METH_VARARGS, "region_end(label): close a region."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_filrec",
                                    "filrec's Python support (built per interpreter)", -1,
                                    methods, NULL, NULL, NULL, NULL};

/* Exported by hand: before 3.9, PyMODINIT_FUNC does not override -fvisibility=hidden. */
__attribute__((visibility("default"))) PyMODINIT_FUNC PyInit__filrec(void)
{
    return PyModule_Create(&module);
}
