/* resident.c: large mappings counted by the pages that became resident (FORMAT.md,
 * "Resident pages"), with a filrec marker after each step. Prints, as one JSON line,
 * the tracked bytes the trace must show at each marker, relative to the marker "start":
 *   {"page": 4096, "untouched_at_peak": ..., "expect": {"start": 0, "touched": ..., ...}}
 * The sink measures every sample interval (10 ms); each step waits SETTLE for it.
 * Transparent huge pages are turned off for these mappings, so that a touched page is
 * one page, not the 2 MiB around it. */
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define MIB (1u << 20)
#define SETTLE 300000 /* us: many sample intervals */

static int (*mark)(const char *);
static char out[2048];
static int len;

static void die(const char *what)
{
    write(2, what, strlen(what));
    write(2, "\n", 1);
    _exit(2);
}

static void step(const char *label, size_t expect)
{
    usleep(SETTLE);
    if (mark && !mark(label))
        die("resident: filrec_mark failed");
    len += snprintf(out + len, sizeof out - (size_t)len, "%s\"%s\": %zu", len ? ", " : "",
                    label, expect);
}

static char *map(size_t n, int prot, int flags, int fd)
{
    char *p = mmap(NULL, n, prot, flags, fd, 0);
    if (p == MAP_FAILED)
        die("resident: mmap failed");
    madvise(p, n, MADV_NOHUGEPAGE);
    return p;
}

int main(void)
{
    mark = (int (*)(const char *))dlsym(RTLD_DEFAULT, "filrec_mark");
    size_t tracked = 0;
    step("start", tracked);

    /* 64 MiB mapped, 16 MiB of it written: 16 MiB counted. */
    char *a = map(64 * MIB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1);
    memset(a, 1, 16 * MIB);
    step("touched", tracked += 16 * MIB);
    memset(a + 16 * MIB, 2, 16 * MIB);
    step("more", tracked += 16 * MIB); /* the peak: 32 MiB of 64 */
    size_t untouched_at_peak = 32 * MIB;

    /* Unmap the second 16 MiB: [0,16) holds 16 MiB, [32,64) nothing. */
    if (munmap(a + 16 * MIB, 16 * MIB))
        die("resident: munmap failed");
    step("hole", tracked -= 16 * MIB);

    /* 256 MiB reserved PROT_NONE counts nothing; 8 MiB of it made writable and written
     * count 8 MiB. */
    char *r = map(256 * MIB, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1);
    step("reserve", tracked);
    if (mprotect(r, 8 * MIB, PROT_READ | PROT_WRITE))
        die("resident: mprotect failed");
    memset(r, 3, 8 * MIB);
    step("commit", tracked += 8 * MIB);

    /* A private file mapping of 8 MiB: read, nothing; 4 MiB written (copied on write),
     * 4 MiB. A shared one written is the file's page cache: nothing. */
    char path[] = "/tmp/filrec-resident-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0 || ftruncate(fd, 8 * MIB))
        die("resident: temp file");
    unlink(path);
    char *f = map(8 * MIB, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd);
    volatile char sum = 0;
    for (size_t i = 0; i < 8 * MIB; i += 4096)
        sum += f[i];
    step("file-read", tracked);
    memset(f, 4, 4 * MIB);
    step("file-written", tracked += 4 * MIB);
    char *s = map(8 * MIB, PROT_READ | PROT_WRITE, MAP_SHARED, fd);
    memset(s, 5, 8 * MIB);
    step("shared-written", tracked);

    /* Move the first piece, growing it to 32 MiB: its 16 MiB go with it. */
    char *b = mremap(a, 16 * MIB, 32 * MIB, MREMAP_MAYMOVE);
    if (b == MAP_FAILED)
        die("resident: mremap failed");
    step("moved", tracked);

    munmap(b, 32 * MIB);
    munmap(a + 32 * MIB, 32 * MIB);
    munmap(r, 256 * MIB);
    munmap(f, 8 * MIB);
    munmap(s, 8 * MIB);
    close(fd);
    step("end", tracked = 0);
    printf("{\"page\": %ld, \"marked\": %s, \"untouched_at_peak\": %zu, \"expect\": {%s}}\n",
           sysconf(_SC_PAGESIZE), mark ? "true" : "false", untouched_at_peak, out);
    return 0;
}
