/* an_code.c: which frames are the user's own code, for grouping by them (AN_BY_CODE):
 * an allocation made inside NumPy, pandas or the standard library is charged to the
 * innermost frame of the user's program that led there, and memory allocated while a
 * module was imported to the import line. Library code is told by its path, as the
 * interpreter wrote it into the trace: the standard library (a lib/pythonX.Y folder),
 * site-packages and dist-packages, frozen modules (<frozen importlib._bootstrap>, ...),
 * NumPy's generated wrappers (<__array_function__ internals>) and filrec's own package.
 * With a code root, only files under it are the user's. */
#include <stdlib.h>
#include <string.h>

#include "an.h"

static int has(const char *s, size_t n, const char *needle)
{
    size_t k = strlen(needle);
    for (size_t i = 0; i + k <= n; i++)
        if (s[i] == needle[0] && !memcmp(s + i, needle, k))
            return 1;
    return 0;
}

/* Whether the path has a folder lib/pythonX.Y (or lib64/) on the way to it. */
static int in_stdlib(const char *s, size_t n)
{
    for (size_t i = 0; i + 12 <= n; i++) {
        const char *p = s + i;
        size_t skip = !memcmp(p, "/lib/python", 11) ? 11 : !memcmp(p, "/lib64/python", 13) ? 13 : 0;
        if (!skip || i + skip + 3 > n)
            continue;
        size_t j = i + skip;
        while (j < n && s[j] >= '0' && s[j] <= '9')
            j++;
        if (j < n && s[j] == '.')
            j++;
        while (j < n && s[j] >= '0' && s[j] <= '9')
            j++;
        if (j < n && s[j] == '/')
            return 1;
    }
    return 0;
}

int an_code_is_library(const char *file, size_t n)
{
    static const char *const ours[] = {"/filrec/__init__.py", "/filrec/__main__.py",
                                       "/filrec/_attach.py", "/filrec/_jupyter.py",
                                       "/filrec/_lines.py", "/filrec/_native.py",
                                       "/filrec/pytest_plugin.py", "/filrec/_site/sitecustomize.py"};
    if ((n >= 8 && !memcmp(file, "<frozen ", 8)) || has(file, n, " internals>") ||
        has(file, n, "/site-packages/") || has(file, n, "/dist-packages/") || in_stdlib(file, n))
        return 1;
    for (size_t i = 0; i < sizeof ours / sizeof *ours; i++) {
        size_t k = strlen(ours[i]);
        if (n >= k && !memcmp(file + n - k, ours[i], k))
            return 1;
    }
    return 0;
}

static const char *code_root; /* the one setting of the run (an_code_set_root) */

void an_code_set_root(const char *dir) { code_root = dir; }

uint8_t *an_code_funcs(const an_defs *d)
{
    uint8_t *user = calloc(d->nfunc ? d->nfunc : 1, 1);
    size_t root = code_root ? strlen(code_root) : 0;
    while (root > 1 && code_root[root - 1] == '/')
        root--;
    for (size_t f = 1; user && f < d->nfunc; f++) {
        size_t n;
        const char *file = an_defs_string(d, d->func[f].file, &n);
        uint8_t kind = an_defs_fkind(d, (uint32_t)f); /* a native frame's: by its module */
        int mine = (kind ? kind == AN_FK_USER : !an_code_is_library(file, n)) &&
                   (!root || (n > root && !memcmp(file, code_root, root) && file[root] == '/'));
        /* Code with no file of its own (<string>, <stdin>) is the user's only where no
         * file of theirs led to it: a library's generated code (namedtuple, dataclasses)
         * is <string> too, and `python -c` is nothing else. */
        user[f] = !mine ? 0 : n && file[0] == '<' ? 1 : 2;
    }
    return user;
}

uint32_t an_code_frame(const an_defs *d, const uint8_t *user, uint32_t stack)
{
    uint32_t pseudo = 0;
    for (uint32_t s = stack; s && s < d->nnode; s = d->node[s].parent) {
        uint32_t f = d->node[s].func;
        if (f < d->nfunc && user[f] == 2)
            return s;
        if (f < d->nfunc && user[f] == 1 && !pseudo)
            pseudo = s;
    }
    return pseudo ? pseudo : stack;
}
