/* an_native.c: native frames (--native traces). The trace names each native frame by
 * module and offset; once a replay has read its definitions, an_native_resolve gives
 * them names with elfutils' libdw (function, file, line, inlined frames, C++ names
 * demangled; separate debug info found by build id) and rewrites the stack nodes into
 * the view the reports show (an_native_set_view), so that every report reads them as it
 * reads Python frames. A module that is gone, changed (its build id differs) or has no
 * symbols gives `module+0xOFFSET` frames. Each distinct address is resolved once per
 * run: the cache outlives a replay, as verbs replay more than once. */
#include <dlfcn.h>
#include <dwarf.h>
#include <elfutils/libdwfl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "an.h"

static enum an_native_view view_mode = AN_NATIVE_SOME;
void an_native_set_view(enum an_native_view v) { view_mode = v; }

/* ---- definitions: MODULE and NATIVE_FRAME records ---- */
int an_native_add(an_defs *d, const ft_record *rec, uint32_t node)
{
    if (rec->kind == FT_MODULE) {
        if (an_grow((void **)&d->mod, &d->mod_cap, d->nmod + 2, sizeof *d->mod))
            return -1;
        if (!d->nmod)
            d->nmod = 1; /* id 0: no module */
        an_module *m = &d->mod[d->nmod++];
        *m = (an_module){(uint32_t)rec->a, rec->addr, rec->b, rec->c, (uint32_t)rec->len, {0}};
        memcpy(m->build_id, rec->str, rec->len < sizeof m->build_id ? rec->len : sizeof m->build_id);
        return 0;
    }
    if (an_grow((void **)&d->pend, &d->pend_cap, d->npend + 1, sizeof *d->pend))
        return -1;
    d->pend[d->npend++] = (an_pending){node, (uint32_t)rec->a, rec->b};
    return 0;
}

/* ---- the symbolizer: one per run ---- */
typedef struct sym_frame {
    char *name, *file;
    uint32_t line;
} sym_frame;

typedef struct sym_fn {            /* a function symbol */
    GElf_Addr lo, hi;
    const char *name;              /* libelf's, valid while the Dwfl is */
} sym_fn;

typedef struct sym_file {          /* a module's file, opened once */
    char *path;
    sym_fn *fns;                   /* its function symbols by address, made at first use
                                    * (dwfl_module_addrinfo searches them all each time) */
    size_t nfns, nfns_cap;
    int fns_made;
    uint8_t build_id[FT_BUILD_ID_MAX];
    uint32_t build_id_len;
    Dwfl *dwfl;
    Dwfl_Module *mod;              /* NULL: not usable (gone, changed, not ELF) */
    uint8_t kind;                  /* AN_FK_* of its frames */
} sym_file;

typedef struct sym_addr {          /* (file, offset) -> frames[first .. first+n) */
    uint64_t off;
    uint32_t file, first, n;       /* file + 1; 0: empty slot */
} sym_addr;

static struct {
    sym_file *files;
    size_t nfiles, files_cap;
    sym_frame *frames;
    size_t nframes, frames_cap;
    sym_addr *addr;
    size_t mask, used;
} sym;

/* Where separate debug files are looked for (libdw's syntax: "+:.debug:/usr/lib/debug"
 * and its .build-id/ trees); FILREC_DEBUG_PATH replaces the default, NULL. */
static char *debuginfo_path;
static Dwfl_Callbacks callbacks = {.debuginfo_path = &debuginfo_path};

/* libdw (and libelf, libstdc++'s demangler) are loaded only when a trace has native
 * frames to name: linked in, they took every start of filrec, `filrec run`'s
 * included, 0.8 ms more (seven more libraries to map and relocate). */
#define DW_FNS(X) \
    X(dwarf_attr) X(dwarf_attr_integrate) X(dwarf_child) X(dwarf_filesrc) \
    X(dwarf_formstring) X(dwarf_formudata) X(dwarf_getsrcfiles) X(dwarf_haspc) \
    X(dwarf_ranges) X(dwarf_siblingof) X(dwarf_tag) X(dwfl_begin) X(dwfl_build_id_find_elf) \
    X(dwfl_lineinfo) X(dwfl_module_addrdie) X(dwfl_module_build_id) X(dwfl_module_getsrc) \
    X(dwfl_module_getsym_info) X(dwfl_module_getsymtab) X(dwfl_offline_section_address) \
    X(dwfl_report_begin) X(dwfl_report_elf) X(dwfl_report_end) \
    X(dwfl_standard_find_debuginfo)
static struct {
#define X(f) __typeof__(f) *f;
    DW_FNS(X)
#undef X
    char *(*demangle)(const char *mangled, char *out, size_t *len, int *status);
} dw;

/* 1 if libdw is there (tried once; said once if not). */
static int dw_load(void)
{
    static int tried, ok;
    if (tried)
        return ok;
    tried = 1;
    void *lib = dlopen("libdw.so.1", RTLD_NOW | RTLD_LOCAL);
    ok = lib != NULL;
#define X(f) ok = ok && (*(void **)&dw.f = dlsym(lib, #f)) != NULL;
    DW_FNS(X)
#undef X
    if (!ok) {
        fprintf(stderr, "filrec: native frames are not named (shown as module+offset): "
                "elfutils' libdw.so.1 cannot be loaded\n");
        return 0;
    }
    callbacks.find_elf = dw.dwfl_build_id_find_elf;
    callbacks.find_debuginfo = dw.dwfl_standard_find_debuginfo;
    callbacks.section_address = dw.dwfl_offline_section_address;
    void *cxx = dlopen("libstdc++.so.6", RTLD_NOW | RTLD_LOCAL); /* none: names mangled */
    if (cxx)
        *(void **)&dw.demangle = dlsym(cxx, "__cxa_demangle");
    return 1;
}

static const char *base_name(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

/* What a module's frames are: the interpreter's (python, libpython), a library's (a
 * system or Python package folder) or the user's. */
static uint8_t file_kind(const char *path)
{
    const char *b = base_name(path);
    if (!strncmp(b, "libpython", 9) || !strncmp(b, "python", 6))
        return AN_FK_INTERP;
    if (!strncmp(path, "/usr/", 5) || !strncmp(path, "/lib", 4) || strstr(path, "/site-packages/") ||
        strstr(path, "/dist-packages/") || !strncmp(path, "linux-vdso", 10) ||
        strstr(path, "/libfilrec.so"))
        return AN_FK_LIBRARY;
    return AN_FK_USER;
}

static int open_file(const char *path, size_t n, const uint8_t *bid, uint32_t bid_len)
{
    for (size_t i = 0; i < sym.nfiles; i++)
        if (strlen(sym.files[i].path) == n && !memcmp(sym.files[i].path, path, n) &&
            sym.files[i].build_id_len == bid_len && !memcmp(sym.files[i].build_id, bid, bid_len))
            return (int)i;
    if (an_grow((void **)&sym.files, &sym.files_cap, sym.nfiles + 1, sizeof *sym.files))
        return -1;
    sym_file *f = &sym.files[sym.nfiles];
    memset(f, 0, sizeof *f);
    if (!(f->path = an_utf8(path, n)))
        return -1;
    memcpy(f->build_id, bid, bid_len);
    f->build_id_len = bid_len;
    f->kind = file_kind(f->path);
    if (!sym.nfiles)
        debuginfo_path = getenv("FILREC_DEBUG_PATH");
    if (dw_load() && (f->dwfl = dw.dwfl_begin(&callbacks))) {
        dw.dwfl_report_begin(f->dwfl);
        f->mod = dw.dwfl_report_elf(f->dwfl, base_name(f->path), f->path, -1, 0, false);
        dw.dwfl_report_end(f->dwfl, NULL, NULL);
        const unsigned char *bits;
        GElf_Addr at;
        int k = f->mod ? dw.dwfl_module_build_id(f->mod, &bits, &at) : -1;
        if (f->mod && bid_len && (k != (int)bid_len || memcmp(bits, bid, bid_len))) {
            fprintf(stderr, "filrec: native frames of '%s' are not named: the file is not "
                    "the one recorded (its build id differs)\n", f->path);
            f->mod = NULL;
        }
    }
    return (int)sym.nfiles++;
}

/* A symbol's name for people: C++ names demangled; gfortran's module procedures
 * (__field_mod_MOD_build) by their own name, as their debug info (which libdw does not
 * search inside a module's scope) would give it. */
static char *demangled(const char *s)
{
    const char *mod = s && s[0] == '_' && s[1] == '_' ? strstr(s, "_MOD_") : NULL;
    if (mod && mod[5])
        return strdup(mod + 5);
    int status = -1;
    char *d = NULL;
    if (s && s[0] == '_' && s[1] == 'Z' && dw.demangle)
        d = dw.demangle(s, NULL, NULL, &status);
    if (d && status == 0)
        return d;
    free(d);
    return strdup(s ? s : "?");
}

/* A C++ function by its linkage name (demangled: Grid::fill(int), not fill); any other
 * by its own (Fortran's build, not __field_mod_MOD_build). */
static const char *die_name(Dwarf_Die *die)
{
    Dwarf_Attribute a;
    const char *s = dw.dwarf_formstring(dw.dwarf_attr_integrate(die, DW_AT_linkage_name, &a));
    if (!s)
        s = dw.dwarf_formstring(dw.dwarf_attr_integrate(die, DW_AT_MIPS_linkage_name, &a));
    if (s && s[0] == '_' && s[1] == 'Z')
        return s;
    const char *own = dw.dwarf_formstring(dw.dwarf_attr_integrate(die, DW_AT_name, &a));
    return own ? own : s;
}

/* A source file's path as the compiler's line table gives it, made absolute with the
 * compilation directory (dir, may be NULL) when it is relative. */
static char *source_path(const char *file, const char *dir)
{
    if (!file)
        return strdup("");
    if (file[0] == '/' || !dir || !*dir)
        return strdup(file);
    while (file[0] == '.' && file[1] == '/')
        file += 2;
    size_t a = strlen(dir), b = strlen(file);
    char *p = malloc(a + b + 2);
    if (p) {
        memcpy(p, dir, a);
        p[a] = '/';
        memcpy(p + a + 1, file, b + 1);
    }
    return p;
}

/* One frame onto sym.frames, its file made absolute with dir (the unit's comp_dir,
 * or NULL). Takes name (malloc'd). 0 or -1. */
static int push_frame(char *name, const char *file, const char *dir, uint32_t line)
{
    if (!name || an_grow((void **)&sym.frames, &sym.frames_cap, sym.nframes + 1, sizeof *sym.frames)) {
        free(name);
        return -1;
    }
    char *f = source_path(file, dir);
    if (!f) {
        free(name);
        return -1;
    }
    sym.frames[sym.nframes++] = (sym_frame){name, f, line};
    return 0;
}

/* The frames at offset off of file (innermost first) onto sym.frames. */
/* ---- a unit's functions by address: dwarf_getscopes walks the whole unit for each
 * address, quadratic in a unit of many functions; this index is made once per unit ---- */
typedef struct cu_fn {
    Dwarf_Addr lo, hi;
    Dwarf_Die die;
    Dwarf_Die *kids;                /* its inlined calls and blocks, made at first use: */
    int nkids, kids_made;           /* a function's children are mostly call sites */
} cu_fn;

typedef struct cu_index {
    void *cu;                       /* the unit's DIE address, as libdw keeps it */
    cu_fn *fn;
    size_t n, cap;
} cu_index;

static cu_index *units;
static size_t nunits, units_cap;

static int fn_cmp(const void *a, const void *b)
{
    const cu_fn *x = a, *y = b;
    return x->lo < y->lo ? -1 : x->lo > y->lo;
}

/* Every subprogram with code under die, namespaces, classes and (Fortran) modules
 * searched, function bodies not. */
static int index_dies(cu_index *u, Dwarf_Die *die, int depth)
{
    Dwarf_Die kid;
    if (depth > 64 || dw.dwarf_child(die, &kid) != 0)
        return 0;
    do {
        int tag = dw.dwarf_tag(&kid);
        if (tag == DW_TAG_subprogram) {
            Dwarf_Addr base, lo, hi;
            for (ptrdiff_t o = 0; (o = dw.dwarf_ranges(&kid, o, &base, &lo, &hi)) > 0;) {
                if (an_grow((void **)&u->fn, &u->cap, u->n + 1, sizeof *u->fn))
                    return -1;
                u->fn[u->n++] = (cu_fn){lo, hi, kid, NULL, 0, 0};
            }
        } else if (tag == DW_TAG_namespace || tag == DW_TAG_class_type ||
                   tag == DW_TAG_structure_type || tag == DW_TAG_module ||
                   tag == DW_TAG_union_type) {
            if (index_dies(u, &kid, depth + 1))
                return -1;
        }
    } while (dw.dwarf_siblingof(&kid, &kid) == 0);
    return 0;
}

static cu_index *unit_of(Dwarf_Die *cu)
{
    void *key = cu->addr;
    for (size_t i = nunits; i-- > 0;)
        if (units[i].cu == key)
            return &units[i];
    if (an_grow((void **)&units, &units_cap, nunits + 1, sizeof *units))
        return NULL;
    cu_index *u = &units[nunits];
    *u = (cu_index){key, NULL, 0, 0};
    if (index_dies(u, cu, 0))
        return NULL;
    qsort(u->fn, u->n, sizeof *u->fn, fn_cmp);
    nunits++;
    return u;
}

/* The subprogram holding pc, then the inlined calls inside it that hold pc, outermost
 * first, into chain (at most cap); returns how many (0: none known). */
static int scopes_at(Dwarf_Die *cu, Dwarf_Addr pc, Dwarf_Die *chain, int cap)
{
    cu_index *u = unit_of(cu);
    if (!u || !u->n)
        return 0;
    size_t a = 0, b = u->n;
    while (a < b) { /* the last range starting at or before pc */
        size_t m = (a + b) / 2;
        if (u->fn[m].lo <= pc)
            a = m + 1;
        else
            b = m;
    }
    size_t k = a;
    while (k-- > 0 && !(u->fn[k].lo <= pc && pc < u->fn[k].hi))
        if (a - k > 8)
            return 0; /* nested ranges are rare; do not search far */
    if (k == (size_t)-1)
        return 0;
    cu_fn *fn = &u->fn[k];
    if (!fn->kids_made) {
        fn->kids_made = 1;
        Dwarf_Die kid;
        size_t kcap = 0;
        if (dw.dwarf_child(&fn->die, &kid) == 0) {
            do {
                int tag = dw.dwarf_tag(&kid);
                if ((tag == DW_TAG_inlined_subroutine || tag == DW_TAG_lexical_block) &&
                    !an_grow((void **)&fn->kids, &kcap, (size_t)fn->nkids + 1, sizeof *fn->kids))
                    fn->kids[fn->nkids++] = kid;
            } while (dw.dwarf_siblingof(&kid, &kid) == 0);
        }
    }
    int n = 0;
    Dwarf_Die block, *in = NULL;
    chain[n++] = fn->die;
    for (int i = 0; i < fn->nkids && !in; i++)
        if (dw.dwarf_haspc(&fn->kids[i], pc) == 1) {
            if (dw.dwarf_tag(&fn->kids[i]) == DW_TAG_inlined_subroutine) {
                chain[n++] = fn->kids[i];
                in = &chain[n - 1];
            } else {
                block = fn->kids[i];
                in = &block;
            }
        }
    while (in && n < cap) { /* down through what holds pc */
        Dwarf_Die kid;
        int found = 0;
        if (dw.dwarf_child(in, &kid) == 0) {
            do {
                int tag = dw.dwarf_tag(&kid);
                if ((tag == DW_TAG_inlined_subroutine || tag == DW_TAG_lexical_block) &&
                    dw.dwarf_haspc(&kid, pc) == 1) {
                    found = 1;
                    break;
                }
            } while (dw.dwarf_siblingof(&kid, &kid) == 0);
        }
        if (!found)
            break;
        if (dw.dwarf_tag(&kid) == DW_TAG_inlined_subroutine) {
            chain[n++] = kid;
            in = &chain[n - 1];
        } else {
            block = kid; /* a block: look inside it, keep nothing */
            in = &block;
        }
    }
    return n;
}

static int sym_cmp(const void *a, const void *b)
{
    const sym_fn *x = a, *y = b;
    return x->lo < y->lo ? -1 : x->lo > y->lo;
}

/* The function symbol holding pc in f, or NULL. */
static const char *symbol_at(sym_file *f, GElf_Addr pc)
{
    if (!f->fns_made) {
        f->fns_made = 1;
        int n = dw.dwfl_module_getsymtab(f->mod);
        for (int i = 1; i < n; i++) {
            GElf_Sym s;
            GElf_Addr at;
            const char *name = dw.dwfl_module_getsym_info(f->mod, i, &s, &at, NULL, NULL, NULL);
            if (!name || !*name || GELF_ST_TYPE(s.st_info) != STT_FUNC || !at)
                continue;
            if (an_grow((void **)&f->fns, &f->nfns_cap, f->nfns + 1, sizeof *f->fns))
                break;
            f->fns[f->nfns++] = (sym_fn){at, at + (s.st_size ? s.st_size : 1), name};
        }
        qsort(f->fns, f->nfns, sizeof *f->fns, sym_cmp);
    }
    size_t a = 0, b = f->nfns;
    while (a < b) {
        size_t m = (a + b) / 2;
        if (f->fns[m].lo <= pc)
            a = m + 1;
        else
            b = m;
    }
    for (size_t k = a; k-- > 0 && a - k <= 8;) /* aliases share an address */
        if (f->fns[k].lo <= pc && pc < f->fns[k].hi)
            return f->fns[k].name;
    return NULL;
}

/* The frames at offset off of file (innermost first) onto sym.frames. */
static int resolve(sym_file *f, uint64_t off)
{
    char buf[600];
    Dwfl_Module *m = f->mod;
    Dwarf_Addr pc = off ? off - 1 : 0; /* a return address: the call is just before */
    const char *symname = m ? symbol_at(f, pc) : NULL;
    if (!symname) {
        snprintf(buf, sizeof buf, "%s+0x%" PRIx64, base_name(f->path), off);
        return push_frame(strdup(buf), f->path, NULL, 0);
    }
    int line = 0;
    const char *file = NULL;
    Dwfl_Line *ln = dw.dwfl_module_getsrc(m, pc);
    if (ln)
        file = dw.dwfl_lineinfo(ln, NULL, &line, NULL, NULL, NULL);
    Dwarf_Addr bias;
    Dwarf_Die *cu = dw.dwfl_module_addrdie(m, pc, &bias), chain[64];
    int ns = cu ? scopes_at(cu, pc - bias, chain, 64) : 0;
    Dwarf_Files *files = NULL;
    Dwarf_Attribute ca;
    const char *dir = cu ? dw.dwarf_formstring(dw.dwarf_attr(cu, DW_AT_comp_dir, &ca)) : NULL;
    if (cu)
        dw.dwarf_getsrcfiles(cu, &files, NULL);
    if (!ns)
        return push_frame(demangled(symname), file ? file : f->path, dir,
                          (uint32_t)(line > 0 ? line : 0));
    for (int i = ns; i-- > 0;) { /* innermost first: each inlined call's site is the
                                  * location of the frame outside it */
        const char *name = die_name(&chain[i]);
        if (push_frame(demangled(name ? name : symname), file ? file : f->path, dir,
                       (uint32_t)(line > 0 ? line : 0)))
            return -1;
        Dwarf_Attribute a;
        Dwarf_Word cf = 0, cl = 0;
        dw.dwarf_formudata(dw.dwarf_attr(&chain[i], DW_AT_call_file, &a), &cf);
        dw.dwarf_formudata(dw.dwarf_attr(&chain[i], DW_AT_call_line, &a), &cl);
        file = files ? dw.dwarf_filesrc(files, cf, NULL, NULL) : NULL;
        line = (int)cl;
    }
    return 0;
}

static uint64_t mix(uint64_t a, uint64_t b)
{
    uint64_t h = a * 0x9E3779B97F4A7C15ull ^ (b + 1) * 0xC2B2AE3D27D4EB4Full;
    return h ^ (h >> 29);
}

/* The cached frames of (file, off): its slot, resolving it the first time. NULL: out
 * of memory. */
static const sym_addr *lookup(uint32_t file, uint64_t off)
{
    if (sym.used * 2 >= sym.mask) {
        size_t cap = sym.mask ? (sym.mask + 1) * 2 : 4096;
        sym_addr *t = calloc(cap, sizeof *t);
        if (!t)
            return NULL;
        for (size_t i = 0; sym.addr && i <= sym.mask; i++) {
            if (!sym.addr[i].file)
                continue;
            size_t j = mix(sym.addr[i].file, sym.addr[i].off) & (cap - 1);
            while (t[j].file)
                j = (j + 1) & (cap - 1);
            t[j] = sym.addr[i];
        }
        free(sym.addr);
        sym.addr = t;
        sym.mask = cap - 1;
    }
    size_t i = mix(file + 1, off) & sym.mask;
    while (sym.addr[i].file && (sym.addr[i].file != file + 1 || sym.addr[i].off != off))
        i = (i + 1) & sym.mask;
    sym_addr *a = &sym.addr[i];
    if (!a->file) {
        size_t first = sym.nframes;
        if (resolve(&sym.files[file], off))
            return NULL;
        *a = (sym_addr){off, file + 1, (uint32_t)first, (uint32_t)(sym.nframes - first)};
        sym.used++;
    }
    return a;
}


/* ---- the rewrite into the reports' view ---- */
typedef struct vkey {              /* an entry of an intern table: its hash, its key */
    uint64_t h;
    uint32_t parent, func, line, id; /* id 0: an empty slot */
} vkey;

typedef struct vtab {
    vkey *e;
    size_t mask, used;
} vtab;

/* Room for one more entry (doubling the table when half full). 0 or -1. */
static int vtab_room(vtab *t)
{
    if (t->used * 2 < t->mask)
        return 0;
    size_t cap = t->mask ? (t->mask + 1) * 2 : 1024;
    vkey *e = calloc(cap, sizeof *e);
    if (!e)
        return -1;
    for (size_t i = 0; t->e && i <= t->mask; i++)
        if (t->e[i].id) {
            size_t j = t->e[i].h & (cap - 1);
            while (e[j].id)
                j = (j + 1) & (cap - 1);
            e[j] = t->e[i];
        }
    free(t->e);
    t->e = e;
    t->mask = cap - 1;
    return 0;
}

static int fn_kind(an_defs *d, uint32_t func, uint8_t kind)
{
    if (an_grow((void **)&d->fkind, &d->fkind_cap, func + 1, 1))
        return -1;
    memset(d->fkind + d->nfkind, 0, func + 1 > d->nfkind ? func + 1 - d->nfkind : 0);
    if (func + 1 > d->nfkind)
        d->nfkind = func + 1;
    d->fkind[func] = kind;
    return 0;
}

/* FNV-1a of the NUL-terminated s, chained from h (start: FNV_START). */
#define FNV_START 1469598103934665603ull
static uint64_t fnv(uint64_t h, const char *s)
{
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 1099511628211ull;
    return h;
}

/* A string of d, defined on first use: one id per distinct string, so that reports
 * that group by file see one file. */
static int def_string(an_defs *d, vtab *st, const char *s, uint32_t *id)
{
    uint64_t h = fnv(FNV_START, s);
    if (vtab_room(st))
        return -1;
    size_t i = h & st->mask, n = strlen(s);
    for (; st->e[i].id; i = (i + 1) & st->mask) {
        size_t len;
        const char *have = an_defs_string(d, st->e[i].id, &len);
        if (st->e[i].h == h && len == n && !memcmp(have, s, n)) {
            *id = st->e[i].id;
            return 0;
        }
    }
    ft_record r = {.kind = FT_STRING, .str = s, .len = n};
    if (d->nstr >= UINT32_MAX - 1 || an_defs_add(d, &r))
        return -1;
    *id = (uint32_t)d->nstr - 1;
    st->e[i] = (vkey){h, 0, 0, 0, *id};
    st->used++;
    return 0;
}

/* A function (name, file) as an id of d, defining it (and its strings) on first use. */
static int def_func(an_defs *d, vtab *ft, vtab *st, const char *name, const char *file,
                    uint8_t kind, uint32_t *id)
{
    uint64_t h = fnv(fnv(FNV_START, name) ^ 0xff, file); /* 0xff: no byte of a string */
    if (vtab_room(ft))
        return -1;
    size_t i = h & ft->mask;
    for (; ft->e[i].id; i = (i + 1) & ft->mask) {
        if (ft->e[i].h != h)
            continue;
        const an_func *f = &d->func[ft->e[i].id];
        size_t n1, n2;
        const char *a = an_defs_string(d, f->name, &n1), *b = an_defs_string(d, f->file, &n2);
        if (!strcmp(a, name) && !strcmp(b, file)) {
            *id = ft->e[i].id;
            return 0;
        }
    }
    uint32_t sn, sf;
    if (def_string(d, st, name, &sn) || def_string(d, st, file, &sf))
        return -1;
    ft_record fr = {.kind = FT_FUNCTION, .a = sn, .b = sf, .c = 0};
    if (an_defs_add(d, &fr) || fn_kind(d, (uint32_t)d->nfunc - 1, kind))
        return -1;
    *id = (uint32_t)d->nfunc - 1;
    ft->e[i] = (vkey){h, 0, 0, 0, *id};
    ft->used++;
    return 0;
}

/* The view node (parent, func, line), appended to d->node on first use. 0 or -1. */
static int view_node(an_defs *d, vtab *vt, uint32_t parent, uint32_t func, uint32_t line,
                     uint32_t *id)
{
    uint64_t h = mix((uint64_t)parent << 32 | func, line);
    if (vtab_room(vt))
        return -1;
    size_t i = h & vt->mask;
    while (vt->e[i].id && (vt->e[i].parent != parent || vt->e[i].func != func || vt->e[i].line != line))
        i = (i + 1) & vt->mask;
    if (!vt->e[i].id) {
        ft_record r = {.kind = FT_STACK_NODE, .stack = parent, .a = func, .b = line};
        if (d->nnode >= UINT32_MAX - 1 || an_defs_add(d, &r))
            return -1;
        vt->e[i] = (vkey){h, parent, func, line, (uint32_t)d->nnode - 1};
        vt->used++;
    }
    *id = vt->e[i].id;
    return 0;
}

/* Whether the native frame of kind k is left out of the view: below says a Python frame
 * is inside it in the stack, above that one is outside it. */
static int hidden(uint8_t k, int below, int above)
{
    switch (view_mode) {
    case AN_NATIVE_ALL:
        return 0;
    case AN_NATIVE_NONE:
        return below || above;
    default: /* the interpreter's frames between Python frames, and all above them */
        return below && (k == AN_FK_INTERP || !above);
    }
}

/* A native node's frames, as resolved: frames[first .. first+n) of sym (innermost
 * first), or none (n 0: an address in no module, named by its value). */
typedef struct nframes {
    uint32_t first, n;
    uint8_t kind;
} nframes;

/* Append frames [from, to) of f (outermost first: from the end of the innermost-first
 * list) under *v, unless hidden. */
static int put_frames(an_defs *d, vtab *vt, vtab *ft, vtab *st, const nframes *f, uint64_t off,
                      uint32_t from, uint32_t to, int below, int above, uint32_t *v)
{
    char buf[40];
    if (hidden(f->kind, below, above))
        return 0;
    if (!f->n) {
        uint32_t func;
        snprintf(buf, sizeof buf, "0x%" PRIx64, off);
        return def_func(d, ft, st, buf, "", f->kind, &func) || view_node(d, vt, *v, func, 0, v);
    }
    for (uint32_t k = to; k-- > from;) {
        const sym_frame *sf = &sym.frames[f->first + k];
        uint32_t func;
        if (def_func(d, ft, st, sf->name, sf->file, f->kind, &func) ||
            view_node(d, vt, *v, func, sf->line, v))
            return -1;
    }
    return 0;
}

int an_native_resolve(an_defs *d, an_progress *prog)
{
    if (!d->npend || d->resolved)
        return 0;
    d->resolved = 1;
    size_t n = d->nnode;
    int rc = -1;
    /* view[b][x]: node x's view when a Python frame is (b 1) or is not (b 0) inside it
     * in the stack. An evaluation frame's inlined callees (frames of its own, at the
     * call it is making) go after the Python frames it runs, not before: defer[x] is
     * the evaluation node whose callees are still to come below x. */
    uint32_t *view[2] = {calloc(n, sizeof(uint32_t)), calloc(n, sizeof(uint32_t))};
    uint32_t *pend = calloc(n, sizeof *pend), *defer = calloc(n, sizeof *defer);
    uint32_t *mfile = calloc(d->nmod + 1, sizeof *mfile); /* module -> sym file + 1 */
    uint8_t *py_above = calloc(n, 1), *is_py = calloc(n, 1), *py_kid = calloc(n, 1);
    nframes *nf = calloc(n, sizeof *nf);
    vtab vt = {0}, ft = {0}, st = {0};
    if (!view[0] || !view[1] || !pend || !defer || !mfile || !py_above || !is_py || !py_kid || !nf)
        goto out;
    for (size_t i = 0; i < d->npend; i++)
        pend[d->pend[i].node] = (uint32_t)i + 1;
    for (size_t x = 1; x < n; x++) {
        uint32_t p = d->node[x].parent;
        is_py[x] = !pend[x];
        py_above[x] = p && (py_above[p] || is_py[p]);
        if (is_py[x] && p && pend[p])
            py_kid[p] = 1;
    }
    for (size_t x = 1; x < n; x++) { /* every distinct address named once */
        if (prog && (x & 1023) == 0)
            an_progress_tick(prog, x, 2 * n);
        if (is_py[x])
            continue;
        const an_pending *pe = &d->pend[pend[x] - 1];
        uint32_t m = pe->module < d->nmod ? pe->module : 0, file = m ? mfile[m] : 0;
        if (m && !file) { /* opened at its first frame: a module no frame is in costs nothing */
            size_t len;
            const char *path = an_defs_string(d, d->mod[m].path, &len);
            int f = open_file(path, len, d->mod[m].build_id, d->mod[m].build_id_len);
            if (f < 0)
                goto out;
            file = mfile[m] = (uint32_t)f + 1;
        }
        nf[x].kind = AN_FK_LIBRARY;
        if (file) {
            const sym_addr *a = lookup(file - 1, pe->off);
            if (!a)
                goto out;
            nf[x] = (nframes){a->first, a->n, sym.files[file - 1].kind};
        }
    }
    for (size_t x = 1; x < n; x++) {
        an_node nd = d->node[x];
        uint32_t p = nd.parent;
        if (prog && (x & 1023) == 0)
            an_progress_tick(prog, n + x, 2 * n);
        if (is_py[x]) {
            defer[x] = !p ? 0 : is_py[p] ? defer[p] : py_kid[p] && nf[p].n > 1 ? p : 0;
            for (int b = 0; b < 2; b++)
                if (view_node(d, &vt, p ? view[1][p] : 0, nd.func, nd.line, &view[b][x]))
                    goto out;
            continue;
        }
        const an_pending *pe = &d->pend[pend[x] - 1];
        /* An evaluation frame (Python frames come right under it) shows only its own
         * function here; its inlined callees wait in defer. */
        uint32_t inner = py_kid[x] && nf[x].n > 1 ? nf[x].n - 1 : 0;
        for (int b = 0; b < 2; b++) {
            uint32_t v = p ? view[b][p] : 0, e = p && is_py[p] ? defer[p] : 0;
            if ((e && put_frames(d, &vt, &ft, &st, &nf[e], 0, 0, nf[e].n - 1, b, 1, &v)) ||
                put_frames(d, &vt, &ft, &st, &nf[x], pe->off, inner, nf[x].n ? nf[x].n : 1, b,
                           py_above[x], &v))
                goto out;
            view[b][x] = v;
        }
    }
    /* A trace id now reads as its view as the innermost frame of a stack (with the
     * callees its evaluation frame had inlined, when it is a Python frame). */
    for (size_t x = 1; x < n; x++) {
        uint32_t v = view[0][x];
        if (is_py[x] && defer[x] &&
            put_frames(d, &vt, &ft, &st, &nf[defer[x]], 0, 0, nf[defer[x]].n - 1, 0, 1, &v))
            goto out;
        view[0][x] = v;
    }
    for (size_t x = 1; x < n; x++)
        d->node[x] = view[0][x] ? d->node[view[0][x]] : (an_node){0, 0, 0};
    rc = 0;
out:
    free(view[0]);
    free(view[1]);
    free(pend);
    free(defer);
    free(mfile);
    free(py_above);
    free(is_py);
    free(py_kid);
    free(nf);
    free(vt.e);
    free(ft.e);
    free(st.e);
    return rc;
}
