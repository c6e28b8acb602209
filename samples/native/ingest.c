/* Known answer: what `filrec summary --json` reports for this program, built with
 * `cc -g -O1` and run with `filrec run --native`:
 *
 * expect: peak_bytes = 3_200_000
 * expect: top_function = grow
 * expect: top_line = 28
 * expect: top_bytes = 3_000_000
 * expect: top_chain = main:51 load:46 parse:37 grow:28
 * expect: second_function = parse
 * expect: second_line = 34
 * expect: second_bytes = 200_000
 * expect: not_at_peak = 42
 * expect: not_at_peak_allocated = 50_000
 *
 * Why: an ingest step in C. load reads into a 50,000-byte scratch buffer (line 42) and
 * frees it, then parse keeps a 200,000-byte index (line 34) and grows three 1,000,000-
 * byte columns (line 28): 3.2 MB live at the peak, 3 MB of it grow's, reached through
 * main -> load -> parse -> grow. noinline keeps every function a frame of its own. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *keep[8];
static void *volatile seen; /* the scratch buffer escapes: the compiler keeps its malloc */

__attribute__((noinline)) static void grow(int i)
{
    keep[i] = malloc(1000000);
    memset(keep[i], 1, 1000000);
}

__attribute__((noinline)) static void parse(void)
{
    keep[4] = malloc(200000);
    memset(keep[4], 2, 200000);
    for (int i = 0; i < 3; i++)
        grow(i);
}

__attribute__((noinline)) static void load(void)
{
    char *scratch = malloc(50000);
    memset(scratch, 3, 50000);
    seen = scratch;
    free(scratch);
    parse();
}

int main(void)
{
    load();
    long sum = 0;
    for (int i = 0; i < 5; i++)
        sum += ((unsigned char *)keep[i == 3 ? 4 : i])[7];
    for (int i = 0; i < 5; i++)
        free(keep[i]);
    printf("ingest: %ld\n", sum);
    return 0;
}
