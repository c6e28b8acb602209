/* check.h: the unit tests' tiny harness. A test file lists its cases in a
 * check_case table and ends with check_main(); inside a case, CHECK prints the first
 * failed check of the case (every one with TEST_ALL_FAILURES set), then the case
 * counts as failed. Output: one line per failed case, then "N passed, N failed". */
#ifndef CHECK_H
#define CHECK_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *cur_case;
static int case_failed;

#define CHECK(cond, ...) do { if (!(cond)) check_fail(__VA_ARGS__); } while (0)

static void check_fail(const char *fmt, ...)
{
    if (case_failed++ && !getenv("TEST_ALL_FAILURES")) /* one line per failed case */
        return;
    va_list ap;
    va_start(ap, fmt);
    printf("FAIL %s: ", cur_case);
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
}

struct check_case {
    const char *name;
    void (*fn)(void);
};

/* Run the n cases (only those whose name holds argv[1], if given) and report, each
 * line prefixed with prefix. Returns main's exit status. */
static int check_main(const struct check_case *cases, size_t n, int argc, char **argv,
                      const char *prefix)
{
    int passed = 0, failed = 0;
    for (size_t i = 0; i < n; i++) {
        if (argc > 1 && !strstr(cases[i].name, argv[1]))
            continue;
        cur_case = cases[i].name;
        case_failed = 0;
        cases[i].fn();
        case_failed ? failed++ : passed++;
    }
    printf("%s%d passed, %d failed\n", prefix, passed, failed);
    return failed != 0;
}

#endif
