/* static_hello.c: built static (-static), so a preloaded recorder never runs in it: the
 * job's "not recorded" case. Prints one line and exits 0. */
#include <stdio.h>

int main(void)
{
    puts("static hello");
    return 0;
}
