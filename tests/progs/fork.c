/* fork.c: the parent allocates known amounts, forks a child that allocates far more
 * (heap and an anonymous mapping) and exits through exit() so its destructors run,
 * then the parent frees one block and exits. The parent's trace must hold only the
 * parent's events. Prints, from the parent, one JSON line:
 *   {"pid": PID, "child": PID, "peak": N, "live": L, "allocs": 3, "frees": 1} */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define CHILD_BLOCKS 64
#define CHILD_BLOCK (1u << 20)

static void die(const char *what)
{
    write(2, what, strlen(what));
    write(2, "\n", 1);
    _exit(2);
}

/* Many times the parent's peak, so a leak of it into the parent's trace shows. */
static void child(void)
{
    static void *p[CHILD_BLOCKS];
    for (int i = 0; i < CHILD_BLOCKS; i++)
        if (!(p[i] = malloc(CHILD_BLOCK)))
            die("fork: child malloc failed");
    for (int i = 0; i < CHILD_BLOCKS; i += 2)
        free(p[i]);
    /* Written after the frees, so that its pages (measured at the latest as the process
     * ends) cannot make a peak above the 64 MiB of heap, whenever the sink looks. */
    char *m = mmap(NULL, 8u << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        die("fork: child mmap failed");
    for (size_t i = 0; i < 8u << 20; i += 4096)
        m[i] = 1;
    exit(0);
}

int main(void)
{
    /* volatile: the compiler may not drop allocations it can see are never used */
    void *volatile a = malloc(1000000);
    void *volatile b = calloc(1000, 2000);
    void *volatile c = malloc(300000);
    if (!a || !b || !c)
        die("fork: malloc failed");
    pid_t pid = fork();
    if (pid < 0)
        die("fork: fork failed");
    if (pid == 0)
        child();
    int status;
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        die("fork: child failed");
    free(b);
    char out[160];
    int len = snprintf(out, sizeof out, "{\"pid\": %d, \"child\": %d, \"peak\": %d, "
                       "\"live\": %d, \"allocs\": 3, \"frees\": 1}\n", (int)getpid(),
                       (int)pid, 1000000 + 2000000 + 300000,
                       1000000 + 300000);
    write(1, out, (size_t)len);
    return 0;
}
