/* cli-vault.c: "mailroom vault-keygen" prints a new key line for the vault's key file;
 * "mailroom rotate-key" re-seals every sealed secret under the current (first) key. */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <libpq-fe.h>
#include <sodium.h>

#include "cli.h"
#include "db-migrate.h"
#include "util.h"
#include "vault.h"

/* Rows per transaction: short enough that the app's requests wait little on the locks. */
#define CLI_VAULT_BATCH 500

static int cli_vault_keygen_exec(int argc, char **argv);
static int cli_vault_rotate_exec(int argc, char **argv);

const struct cli_cmd cli_vault_keygen_entry = {
	"vault-keygen", "[KID]", cli_vault_keygen_exec
};

const struct cli_cmd cli_vault_rotate_entry = {
	"rotate-key", "", cli_vault_rotate_exec
};

static int
cli_vault_keygen_exec(int argc, char **argv)
{
	char line[VAULT_KEY_LINE_MAX];

	if (argc > 2)
		return main_cli_usage(&cli_vault_keygen_entry);
	if (vault_keygen(argc == 2 ? argv[1] : NULL, line) == -1) {
		fprintf(stderr, "mailroom: vault-keygen: the key id must be 1 to 16 characters "
		    "of a-z, 0-9 and '-'\n");
		return CLI_EXIT_USAGE;
	}
	printf("%s\n", line);
	sodium_memzero(line, sizeof(line));
	return CLI_EXIT_OK;
}

static int
cli_vault_rotate_exec(int argc, char **argv)
{
	struct vault_rotate_stats st;
	struct vault *v;
	PGconn *conn;
	char err[1024];
	int r;

	(void)argv;
	if (argc != 1)
		return main_cli_usage(&cli_vault_rotate_entry);
	r = vault_load(&v, err, sizeof err);
	if (r == -1) {
		fprintf(stderr, "mailroom: rotate-key: %s\n", err);
		return CLI_EXIT_FAIL;
	}
	if (r == 0) {
		fprintf(stderr, "mailroom: rotate-key: no vault keys: set MAILROOM_VAULT_KEY_FILE "
		    "(see doc/vault.md)\n");
		return CLI_EXIT_FAIL;
	}

	conn = main_cli_connect();
	if (db_migrate_check(conn, err, sizeof err) == -1) {
		fprintf(stderr, "mailroom: rotate-key: %s (run: mailroom migrate up)\n", err);
		PQfinish(conn);
		vault_free(v);
		return CLI_EXIT_FAIL;
	}
	printf("re-sealing under key \"%s\" (%zu keys loaded)\n", vault_current_kid(v),
	    vault_key_count(v));
	r = vault_rotate(conn, v, CLI_VAULT_BATCH, stdout, &st, err, sizeof err);
	PQfinish(conn);
	printf("%ld re-sealed, %ld already current, %ld do not open, %ld held back with them\n",
	    st.resealed, st.current, st.failed, st.held);
	if (r == -1) {
		fprintf(stderr, "mailroom: rotate-key: %s\n", err);
		if (st.failed > 0)
			fprintf(stderr, "mailroom: rotate-key: %ld rows do not open; keep every old "
			    "key until a run ends without errors\n", st.failed);
		vault_free(v);
		return CLI_EXIT_FAIL;
	}
	printf("done: every sealed value is under key \"%s\"; older keys may be removed\n",
	    vault_current_kid(v));
	vault_free(v);
	return CLI_EXIT_OK;
}
