/* cli.h: the commands of the mailroom program. Each command is one const struct cli_cmd,
 * defined in the file that implements it and listed in the table of main-cli.c. */
#ifndef MAILROOM_CLI_H
#define MAILROOM_CLI_H

#include <libpq-fe.h>

/* Exit statuses: 2 is for a command line that cannot be run as written. */
#define CLI_EXIT_OK	0
#define CLI_EXIT_FAIL	1
#define CLI_EXIT_USAGE	2

struct cli_cmd {
	const char *name;
	const char *usage;	/* arguments after the name, "" when there are none */
	/* argv[0] is the command's name; returns the exit status. */
	int (*exec)(int argc, char **argv);
};

extern const struct cli_cmd cli_migrate_entry;
extern const struct cli_cmd cli_migrate_check_entry;
extern const struct cli_cmd cli_user_entry;
extern const struct cli_cmd cli_vault_keygen_entry;
extern const struct cli_cmd cli_worker_entry;
extern const struct cli_cmd cli_import_mbox_entry;
extern const struct cli_cmd cli_mailbox_entry;
extern const struct cli_cmd cli_sync_entry;
extern const struct cli_cmd cli_vault_rotate_entry;
extern const struct cli_cmd cli_triage_entry;

/* Prints "usage: mailroom NAME USAGE" to stderr and returns CLI_EXIT_USAGE. */
int main_cli_usage(const struct cli_cmd *cmd);
/* Connects to the configured database, or exits 1 with a message naming the host and
 * the cause; gives up after the configured connect timeout. */
PGconn *main_cli_connect(void);

#endif
