/* exit_as.c: ends the way its arguments say, so a test can check that `filrec run`
 * ends the same way:
 *   exit_as code N     exit with status N
 *   exit_as signal N   kill itself with signal N (no core file) */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc != 3)
        return 100;
    int n = atoi(argv[2]);
    void *volatile p = malloc(64); /* something for the trace to hold; volatile, */
    free(p);                         /* or the compiler drops the pair */
    if (!strcmp(argv[1], "code"))
        return n;
    if (strcmp(argv[1], "signal"))
        return 100;
    struct rlimit no_core = {0, 0};
    setrlimit(RLIMIT_CORE, &no_core);
    signal(n, SIG_DFL);
    raise(n);
    return 101; /* not reached for a fatal signal */
}
