/* cli.h: the verbs of the filrec command, one file each, and what they share. */
#ifndef CLI_H
#define CLI_H

int cmd_run(int argc, char **argv);
int cmd_stats(int argc, char **argv);

/* Print "filrec: <message>" and a newline on stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Whether arg is -h or --help. */
int cli_is_help(const char *arg);

#endif
