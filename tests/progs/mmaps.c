/* mmaps.c: anonymous mappings cut, grown, shrunk and moved, with a filrec marker after
 * each step. Prints, as one JSON line, the tracked bytes the trace must show at each
 * marker, relative to the marker "start" placed before the first mapping:
 *   {"page": 4096, "expect": {"start": 0, "map": 45056, ...}}
 * Tracked bytes follow FORMAT.md: anonymous mappings only, lengths rounded up to the
 * page, munmap removes only the part it names, mremap replaces the old range by the
 * new one, and a mapping placed over another (MAP_FIXED, MREMAP_FIXED) replaces it.
 * These mappings are small, counted by length, but for the PROT_NONE reservation,
 * which counts its resident pages: none (resident.c has the large ones). */
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static int (*mark)(const char *);
static size_t page;
static char out[1024];
static int len;

static void die(const char *what)
{
    write(2, what, strlen(what));
    write(2, "\n", 1);
    _exit(2);
}

/* Mark the step in the trace and note what its live bytes must be. */
static void step(const char *label, size_t expect)
{
    if (mark && !mark(label))
        die("mmaps: filrec_mark failed");
    len += snprintf(out + len, sizeof out - (size_t)len, "%s\"%s\": %zu", len ? ", " : "",
                    label, expect);
}

static void *map(size_t n)
{
    void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        die("mmaps: mmap failed");
    return p;
}

int main(void)
{
    mark = (int (*)(const char *))dlsym(RTLD_DEFAULT, "filrec_mark");
    page = (size_t)sysconf(_SC_PAGESIZE);
    size_t P = page, tracked = 0;
    step("start", tracked);

    /* 10 pages and 100 bytes: tracked as 11 whole pages. */
    char *a = map(10 * P + 100);
    step("map", tracked += 11 * P);

    /* Unmap pages 3-5: two pieces remain, [0,3) and [6,11). */
    if (munmap(a + 3 * P, 3 * P))
        die("mmaps: munmap failed");
    step("hole", tracked -= 3 * P);

    /* A file mapping is not tracked, nor is unmapping it. */
    int fd = open("/proc/self/exe", O_RDONLY);
    void *f = fd >= 0 ? mmap(NULL, P, PROT_READ, MAP_PRIVATE, fd, 0) : MAP_FAILED;
    if (f == MAP_FAILED)
        die("mmaps: file mmap failed");
    step("file-map", tracked);
    munmap(f, P);
    close(fd);
    step("file-unmap", tracked);

    /* Grow the tail piece from 5 to 8 pages (the kernel may move it). */
    char *tail = mremap(a + 6 * P, 5 * P, 8 * P, MREMAP_MAYMOVE);
    if (tail == MAP_FAILED)
        die("mmaps: mremap grow failed");
    step("grow", tracked += 3 * P);

    /* Shrink the head piece from 3 pages to 1, in place. */
    if (mremap(a, 3 * P, P, 0) != a)
        die("mmaps: mremap shrink failed");
    step("shrink", tracked -= 2 * P);

    /* Reserve 16 pages PROT_NONE: nothing resident, nothing counted. Then move the
     * 8-page tail onto the start of the reservation: it replaces 8 reserved pages that
     * counted nothing, and its own 8 go with it. */
    char *res = mmap(NULL, 16 * P, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (res == MAP_FAILED)
        die("mmaps: reserve failed");
    step("reserve", tracked);
    if (mremap(tail, 8 * P, 8 * P, MREMAP_MAYMOVE | MREMAP_FIXED, res) != res)
        die("mmaps: mremap move failed");
    step("move", tracked);

    /* MAP_FIXED over pages 12-15 of the reservation replaces them: 4 pages more. */
    if (mmap(res + 12 * P, 4 * P, PROT_READ | PROT_WRITE,
             MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != res + 12 * P)
        die("mmaps: fixed mmap failed");
    step("fixed", tracked += 4 * P);

    /* Unmap a range that spans the moved block (4 of its pages), the rest of the
     * reservation (nothing) and the fixed mapping (4). */
    if (munmap(res + 4 * P, 12 * P))
        die("mmaps: spanning munmap failed");
    step("span-unmap", tracked -= 8 * P);

    /* Leave the 1-page head mapped; unmap the rest. */
    munmap(res, 4 * P);
    step("end", tracked -= 4 * P);

    char line[1200];
    int n = snprintf(line, sizeof line, "{\"page\": %zu, \"marked\": %s, \"expect\": {%s}}\n",
                     page, mark ? "true" : "false", out);
    write(1, line, (size_t)n);
    return 0;
}
