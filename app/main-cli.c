/* main-cli.c: the mailroom command, for administering an installation. Holds the table
 * of commands, the start-up they share and the pieces every command uses. */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <sodium.h>

#include "cli.h"
#include "db-pool.h"
#include "util.h"

static int main_cli_help(int argc, char **argv);
static int main_cli_version(int argc, char **argv);

static const struct cli_cmd main_cli_help_entry = {
	"help", "[command]", main_cli_help
};

static const struct cli_cmd main_cli_version_entry = {
	"version", "", main_cli_version
};

/* Every command of the program, in the order help lists them. */
static const struct cli_cmd *const main_cli_table[] = {
	&cli_migrate_check_entry,
	&main_cli_help_entry,
	&cli_import_mbox_entry,
	&cli_mailbox_entry,
	&cli_migrate_entry,
	&cli_vault_rotate_entry,
	&cli_sync_entry,
	&cli_triage_entry,
	&cli_user_entry,
	&cli_vault_keygen_entry,
	&cli_worker_entry,
	&main_cli_version_entry,
};

static const struct cli_cmd *
main_cli_find(const char *name)
{
	size_t i;

	for (i = 0; i < MR_ARRAY_LEN(main_cli_table); i++) {
		if (strcmp(main_cli_table[i]->name, name) == 0)
			return main_cli_table[i];
	}
	return NULL;
}

static void
main_cli_print_usage(FILE *f)
{
	const struct cli_cmd *cmd;
	size_t i;

	fprintf(f, "usage: mailroom command [arguments]\n\ncommands:\n");
	for (i = 0; i < MR_ARRAY_LEN(main_cli_table); i++) {
		cmd = main_cli_table[i];
		fprintf(f, "    %s%s%s\n", cmd->name, *cmd->usage != '\0' ? " " : "",
		    cmd->usage);
	}
}

int
main_cli_usage(const struct cli_cmd *cmd)
{
	fprintf(stderr, "usage: mailroom %s%s%s\n", cmd->name,
	    *cmd->usage != '\0' ? " " : "", cmd->usage);
	return CLI_EXIT_USAGE;
}

PGconn *
main_cli_connect(void)
{
	char err[1024];
	PGconn *conn;

	conn = db_connect(mr_config.database_url, "mailroom-cli", err, sizeof err);
	if (conn == NULL)
		fatal("%s", err);
	return conn;
}

static int
main_cli_help(int argc, char **argv)
{
	const struct cli_cmd *cmd;

	if (argc > 2)
		return main_cli_usage(&main_cli_help_entry);
	if (argc == 2) {
		if ((cmd = main_cli_find(argv[1])) == NULL) {
			fprintf(stderr, "mailroom: unknown command: %s\n", argv[1]);
			return CLI_EXIT_USAGE;
		}
		printf("usage: mailroom %s%s%s\n", cmd->name,
		    *cmd->usage != '\0' ? " " : "", cmd->usage);
		return CLI_EXIT_OK;
	}
	main_cli_print_usage(stdout);
	return CLI_EXIT_OK;
}

static int
main_cli_version(int argc, char **argv)
{
	(void)argv;
	if (argc != 1)
		return main_cli_usage(&main_cli_version_entry);
	printf("mailroom %s\n", PACKAGE_VERSION);
	return CLI_EXIT_OK;
}

int
main(int argc, char **argv)
{
	const struct cli_cmd *cmd;
	char err[1024];

	log_set_program("mailroom");

	/* A mistyped command line is answered before the configuration is read, so that
	 * the usage message is not hidden behind an unrelated configuration error. */
	if (argc < 2) {
		main_cli_print_usage(stderr);
		return CLI_EXIT_USAGE;
	}
	if ((cmd = main_cli_find(argv[1])) == NULL) {
		fprintf(stderr, "mailroom: unknown command: %s\n", argv[1]);
		main_cli_print_usage(stderr);
		return CLI_EXIT_USAGE;
	}

	if (config_load(&mr_config, err, sizeof err) != 0)
		fatal("%s", err);
	if (sodium_init() < 0)
		fatal("cannot initialise libsodium");

	return cmd->exec(argc - 1, argv + 1);
}
