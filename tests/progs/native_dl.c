/* native_dl LIB_A LIB_S: libraries loaded after recording started. LIB_A's
 * nat_keep(1,000,000) is kept and LIB_A closed again before the end; LIB_S (stripped
 * by the test) keeps 2,000,000 bytes. Both blocks are live at the peak: the report must
 * still name LIB_A's frame, and give LIB_S's as module+offset. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

static void *load(const char *path, size_t n)
{
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    void *(*keep)(size_t) = h ? (void *(*)(size_t))dlsym(h, "nat_keep") : NULL;
    if (!keep) {
        fprintf(stderr, "native_dl: %s\n", dlerror());
        exit(2);
    }
    void *p = keep(n);
    return dlclose(h) == 0 ? p : NULL;
}

int main(int argc, char **argv)
{
    if (argc != 3)
        return 2;
    void *a = load(argv[1], 1000000);
    void *s = load(argv[2], 2000000);
    printf("native_dl: %d\n", a && s);
    free(a);
    free(s);
    return 0;
}
