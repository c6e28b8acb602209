/* hello.c: prints one known line and exits 0, after a few allocations, so a test can
 * see that the program runs normally whatever happens to its trace. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(void)
{
    const char *line = "hello from filrec's test program\n";
    for (int i = 0; i < 1000; i++) {
        void *volatile p = malloc(100 + i); /* volatile: or the compiler drops the pair */
        free(p);
    }
    char *keep = malloc(4096);
    if (!keep)
        return 2;
    memcpy(keep, line, strlen(line));
    write(1, keep, strlen(line));
    free(keep);
    return 0;
}
