/* cli-sync.c: "mailroom sync ACCOUNT_ID" runs one sync of a mail account in the
 * foreground (sync.h), the same the worker's sync jobs run, and prints what it did. For
 * an administrator checking an account, and for the benchmark. Ctrl-C stops it after the
 * batch in progress, with everything fetched so far stored. */
#include "config.h"

#include <inttypes.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libpq-fe.h>

#include "cli.h"
#include "db-migrate.h"
#include "sync.h"
#include "util.h"
#include "vault.h"

static int cli_sync_exec(int argc, char **argv);

const struct cli_cmd cli_sync_entry = {
	"sync", "ACCOUNT_ID", cli_sync_exec
};

static atomic_int cli_sync_stop;

static void
cli_sync_signal(int sig)
{
	(void)sig;
	atomic_store(&cli_sync_stop, 1);
}

static int
cli_sync_exec(int argc, char **argv)
{
	char err[1024], s_id[24];
	const char *p[1] = { s_id };
	struct sync_stats st;
	struct vault *v = NULL;
	enum provider_status s;
	PGresult *r;
	PGconn *c;
	int64_t id, user_id, t0;
	double secs;

	if (argc != 2 || util_parse_int64(argv[1], 1, INT64_MAX, &id) != 0)
		return main_cli_usage(&cli_sync_entry);
	switch (vault_load(&v, err, sizeof err)) {
	case 1:
		break;
	case 0:
		fprintf(stderr, "mailroom: sync: no vault key is configured "
		    "(MAILROOM_VAULT_KEY_FILE or MAILROOM_VAULT_KEYS)\n");
		return CLI_EXIT_FAIL;
	default:
		fprintf(stderr, "mailroom: sync: %s\n", err);
		return CLI_EXIT_FAIL;
	}
	c = main_cli_connect();
	if (db_migrate_check(c, err, sizeof err) == -1) {
		fprintf(stderr, "mailroom: sync: %s (run: mailroom migrate up)\n", err);
		goto fail;
	}
	snprintf(s_id, sizeof s_id, "%" PRId64, id);
	r = PQexecParams(c, "SELECT user_id FROM mail_accounts WHERE id = $1", 1, NULL, p,
	    NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
		fprintf(stderr, "mailroom: sync: %s\n", PQresultStatus(r) != PGRES_TUPLES_OK ?
		    PQresultErrorMessage(r) : "no mail account has that id");
		PQclear(r);
		goto fail;
	}
	user_id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);

	signal(SIGINT, cli_sync_signal);
	signal(SIGTERM, cli_sync_signal);
	t0 = util_now_us();
	s = sync_account(c, v, user_id, id, &cli_sync_stop, &st, err, sizeof err);
	secs = (double)(util_now_us() - t0) / 1e6;
	printf("synced %zu messages (%zu bytes) in %.2f s: %zu new, %zu already stored, "
	    "%zu flag changes, %zu removed, %zu folders%s\n", st.fetched, st.bytes, secs,
	    st.stored, st.known, st.flag_changes, st.expunged, st.folders,
	    atomic_load(&cli_sync_stop) ? " (interrupted)" : "");
	PQfinish(c);
	vault_free(v);
	if (s != PROVIDER_OK) {
		fprintf(stderr, "mailroom: sync: %s\n", err);
		return CLI_EXIT_FAIL;
	}
	return CLI_EXIT_OK;
fail:
	PQfinish(c);
	vault_free(v);
	return CLI_EXIT_FAIL;
}
