/* blocked_signal.c: blocks SIGTERM, sends it to itself, then allocates and exits 0.
 * Without filrec the signal stays pending and the program finishes: it must under
 * filrec too (the recorder's thread must not take a signal the program blocks).
 * Prints its known answer as a JSON line, as the other test programs do. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define SIZE 7777777

int main(void)
{
    sigset_t term;
    sigemptyset(&term);
    sigaddset(&term, SIGTERM);
    sigprocmask(SIG_BLOCK, &term, NULL);
    kill(getpid(), SIGTERM);               /* pending: never delivered */
    char *volatile p = malloc(SIZE);
    if (!p)
        return 1;
    p[0] = 1;
    printf("{\"live_at_exit\": %d}\n", SIZE);
    return 0;                              /* the block is left live on purpose */
}
