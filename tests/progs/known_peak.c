/* known_peak.c: one known peak of heap bytes, built with every allocator the recorder
 * hooks, then freed down to a known leak. Prints its own answer as one JSON line:
 *   {"peak": N, "leaked": L, "allocs": A, "frees": F, "total": T}
 * counted the way the trace counts them: sizes as requested, a realloc is a free of
 * the old block then an alloc of the new one. No stdio, so libc allocates nothing
 * behind our back and the trace must match these numbers exactly. */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NBLOCKS 1200
#define LEAK_EVERY 37 /* blocks i % LEAK_EVERY == 0 are never freed */

static struct block {
    void *p;
    size_t n;
} blocks[NBLOCKS];
static size_t live, peak, allocs, frees, total;

static void die(const char *what)
{
    write(2, what, strlen(what));
    write(2, "\n", 1);
    _exit(2);
}

static void note_alloc(struct block *b, void *p, size_t n)
{
    if (!p)
        die("known_peak: allocation failed");
    *b = (struct block){p, n};
    allocs++;
    total += n;
    live += n;
    if (live > peak)
        peak = live;
}

static void note_free(struct block *b)
{
    frees++;
    live -= b->n;
    *b = (struct block){NULL, 0};
}

/* Sizes from 64 bytes to ~40 KB, plus every 100th block of 1 MiB, which glibc serves
 * with its own internal mmap: it must count once, as an alloc, not as a mapping. */
static size_t size_for(unsigned i)
{
    return i % 100 == 99 ? (size_t)1 << 20 : 64 + (size_t)(i * 7919u) % 40000;
}

/* Allocator number i % 9, all hooked by the recorder. */
static void alloc_one(unsigned i)
{
    size_t n = size_for(i);
    void *p = NULL;
    switch (i % 9) {
    case 0: p = malloc(n); break;
    case 1: n = n / 8 * 8; p = calloc(n / 8, 8); break;
    case 2: p = realloc(NULL, n); break;
    case 3: if (posix_memalign(&p, 64, n)) p = NULL; break;
    case 4: n = (n + 255) / 256 * 256; p = aligned_alloc(256, n); break; /* C11: n % a == 0 */
    case 5: p = memalign(4096, n); break;
    case 6: p = valloc(n); break;
    case 7: p = pvalloc(n); break; /* tracked as requested, not rounded to a page */
    case 8: p = reallocarray(NULL, n / 4, 4); n = n / 4 * 4; break;
    }
    note_alloc(&blocks[i], p, n);
}

/* realloc to n bytes: in the trace, a free of the old block, then an alloc. */
static void resize(struct block *b, size_t n, int use_array)
{
    void *p = use_array ? reallocarray(b->p, n / 16, 16) : realloc(b->p, n);
    n = use_array ? n / 16 * 16 : n;
    note_free(b);
    note_alloc(b, p, n);
}

int main(void)
{
    for (unsigned i = 0; i < NBLOCKS; i++)
        alloc_one(i);
    /* Grow every third block (some move, some grow in place), shrink every fifth. */
    for (unsigned i = 0; i < NBLOCKS; i += 3)
        resize(&blocks[i], blocks[i].n + 5000 + i, i % 2);
    for (unsigned i = 1; i < NBLOCKS; i += 5)
        resize(&blocks[i], blocks[i].n / 2 + 1, 0);
    /* realloc(p, 0) frees p; glibc returns NULL, so there is nothing to note but the free. */
    void *z = realloc(blocks[2].p, 0);
    note_free(&blocks[2]);
    if (z) {
        note_alloc(&blocks[2], z, 0);
        free(z);
        note_free(&blocks[2]);
    }
    size_t leaked = 0;
    for (unsigned i = 0; i < NBLOCKS; i++) {
        if (i % LEAK_EVERY == 0) {
            leaked += blocks[i].n;
        } else if (blocks[i].p) {
            free(blocks[i].p);
            note_free(&blocks[i]);
        }
    }
    free(NULL); /* not an event */
    if (leaked != live)
        die("known_peak: bookkeeping error");
    char out[200];
    int len = snprintf(out, sizeof out, "{\"peak\": %zu, \"leaked\": %zu, \"allocs\": %zu, "
                       "\"frees\": %zu, \"total\": %zu}\n", peak, leaked, allocs, frees, total);
    write(1, out, (size_t)len);
    return 0;
}
