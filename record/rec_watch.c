/* rec_watch.c: a threshold on live memory (filrec_watch, for --break-at and the Python
 * API's on_threshold). While a threshold is set, every event takes the locked path
 * (no bias: rec_gate_streak), and the hooks keep their own count of the bytes live
 * since the watch began: each block's size by address in a table of our own (mmap'd,
 * never malloc), anonymous mappings by whole mapping, page-rounded, as the analyzer
 * counts them (unmapping the head of one shrinks it; other partial unmaps are not
 * counted). The first time the count exceeds the threshold, the allocating thread
 * calls notify, outside every lock of ours: it must only set a flag or queue work. */
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "filrec.h"
#include "rec_internal.h"

atomic_int rec_watching;

struct slot {
    uint64_t addr, size;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct slot *tab;  /* open addressing, linear probing; addr 0 is empty */
static size_t mask, used; /* capacity - 1 (0: none yet), slots in use */
static uint64_t limit, live;
static int fired;
static void (*notify)(unsigned long long);

static size_t home(uint64_t a) { return (size_t)((a >> 4) * 0x9E3779B97F4A7C15ull >> 20) & mask; }

/* Double the table (1 << 14 slots at first); 0, or -1 when out of memory. */
static int grow(void)
{
    size_t cap = mask ? 2 * (mask + 1) : 1u << 14;
    struct slot *t = rec_real.mmap(NULL, cap * sizeof *t, PROT_READ | PROT_WRITE,
                                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (t == MAP_FAILED)
        return -1;
    struct slot *old = tab;
    size_t n = mask ? mask + 1 : 0;
    tab = t;
    mask = cap - 1;
    for (size_t i = 0; i < n; i++)
        if (old[i].addr) {
            size_t j = home(old[i].addr);
            while (tab[j].addr)
                j = (j + 1) & mask;
            tab[j] = old[i];
        }
    if (old)
        rec_real.munmap(old, n * sizeof *old);
    return 0;
}

/* Remove the entry at a, returning its size (0 if none): backward-shift deletion. */
static uint64_t take(uint64_t a)
{
    if (!mask)
        return 0;
    size_t i = home(a);
    while (tab[i].addr && tab[i].addr != a)
        i = (i + 1) & mask;
    if (!tab[i].addr)
        return 0;
    uint64_t size = tab[i].size;
    for (size_t j = i;;) {
        tab[i].addr = 0;
        for (;;) {
            j = (j + 1) & mask;
            if (!tab[j].addr) {
                used--;
                return size;
            }
            size_t h = home(tab[j].addr);
            if (i <= j ? (h <= i || h > j) : (h <= i && h > j))
                break; /* tab[j] may move back to i */
        }
        tab[i] = tab[j];
        i = j;
    }
}

/* Add (a, size); the old entry at a, if any, is gone (a free we never saw). */
static void put(uint64_t a, uint64_t size)
{
    live -= take(a);
    if ((used + 1) * 2 > mask && grow())
        return; /* out of memory: this block goes uncounted */
    size_t i = home(a);
    while (tab[i].addr)
        i = (i + 1) & mask;
    tab[i] = (struct slot){a, size};
    used++;
    live += size;
}

/* Whether the count has just crossed the threshold (lock held): then notify, unlocked. */
static void *crossed(void)
{
    if (fired || live <= limit)
        return NULL;
    fired = 1;
    return (void *)notify;
}

static void unlock_and_tell(void *fn)
{
    uint64_t now = live;
    pthread_mutex_unlock(&lock);
    if (fn)
        ((void (*)(unsigned long long))fn)(now);
}

static uint64_t pages(uint64_t n)
{
    uint64_t p = (uint64_t)sysconf(_SC_PAGESIZE);
    return n + (p - 1) < n ? UINT64_MAX & ~(p - 1) : (n + p - 1) & ~(p - 1);
}

void rec_watch_alloc(uint64_t a, uint64_t size)
{
    pthread_mutex_lock(&lock);
    put(a, size);
    unlock_and_tell(crossed());
}

void rec_watch_free(uint64_t a)
{
    pthread_mutex_lock(&lock);
    live -= take(a);
    pthread_mutex_unlock(&lock);
}

void rec_watch_map(uint64_t a, uint64_t len) { rec_watch_alloc(a, pages(len)); }

void rec_watch_unmap(uint64_t a, uint64_t len)
{
    pthread_mutex_lock(&lock);
    uint64_t had = take(a), n = pages(len);
    live -= had;
    if (had > n) { /* the head went: the rest stays */
        pthread_mutex_unlock(&lock);
        rec_watch_alloc(a + n, had - n);
        return;
    }
    pthread_mutex_unlock(&lock);
}

void rec_watch_remap(uint64_t old, uint64_t new_addr, uint64_t new_len)
{
    pthread_mutex_lock(&lock);
    uint64_t had = take(old);
    live -= had;
    if (had)
        put(new_addr, pages(new_len));
    unlock_and_tell(crossed());
}

void rec_watch_forget(void)
{
    lock = (pthread_mutex_t)PTHREAD_MUTEX_INITIALIZER; /* a fork child: held by a thread gone */
    atomic_store(&rec_watching, 0);
    tab = NULL; /* the parent's copy: dropped with the child's address space */
    mask = used = live = 0;
}

REC_EXPORT int filrec_watch(unsigned long long bytes, void (*fn)(unsigned long long))
{
    rec_tl.busy++;
    pthread_mutex_lock(&lock);
    if (tab)
        rec_real.munmap(tab, (mask + 1) * sizeof *tab);
    tab = NULL;
    mask = used = live = 0;
    limit = bytes;
    fired = 0;
    notify = fn;
    atomic_store(&rec_watching, bytes && fn);
    pthread_mutex_unlock(&lock);
    if (bytes && fn) { /* every event on the locked path from now on */
        pthread_mutex_lock(&rec.lock);
        rec_gate_revoke(0);
        pthread_mutex_unlock(&rec.lock);
    }
    rec_tl.busy--;
    return atomic_load(&rec_on);
}
