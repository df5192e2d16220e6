/* cli-migrate.c: "mailroom migrate" applies, reverts and lists the schema migrations;
 * "mailroom check" tells whether the database is reachable and its schema current. */
#include "config.h"

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <libpq-fe.h>

#include "cli.h"
#include "db-migrate.h"
#include "db-pool.h"
#include "util.h"

static int cli_migrate_exec(int argc, char **argv);
static int cli_migrate_check_exec(int argc, char **argv);

const struct cli_cmd cli_migrate_entry = {
	"migrate", "up | down N | status", cli_migrate_exec
};

const struct cli_cmd cli_migrate_check_entry = {
	"check", "", cli_migrate_check_exec
};

/* The migration a fully migrated database is at, for messages. */
static const char *
cli_migrate_newest(void)
{
	if (db_migrations_count == 0)
		return "(no migrations)";
	return db_migrations[db_migrations_count - 1].name;
}

static int
cli_migrate_exec(int argc, char **argv)
{
	enum { UP, DOWN, STATUS } action;
	PGconn *conn;
	char err[1024];
	int64_t n = 0;
	int r;

	if (argc == 2 && strcmp(argv[1], "up") == 0)
		action = UP;
	else if (argc == 2 && strcmp(argv[1], "status") == 0)
		action = STATUS;
	else if (argc == 3 && strcmp(argv[1], "down") == 0) {
		/* Reverting drops data: the count is never implied. */
		if (util_parse_int64(argv[2], 1, INT_MAX, &n) != 0) {
			fprintf(stderr, "mailroom: migrate down: N must be a positive "
			    "integer, got \"%s\"\n", argv[2]);
			return main_cli_usage(&cli_migrate_entry);
		}
		action = DOWN;
	} else
		return main_cli_usage(&cli_migrate_entry);

	conn = main_cli_connect();
	switch (action) {
	case UP:
		r = db_migrate_up(conn, stdout, err, sizeof err);
		if (r == 0)
			printf("nothing to apply: schema at %s\n", cli_migrate_newest());
		break;
	case DOWN:
		r = db_migrate_down(conn, (int)n, stdout, err, sizeof err);
		break;
	case STATUS:
	default:
		r = db_migrate_status(conn, stdout, err, sizeof err);
		break;
	}
	PQfinish(conn);
	if (r < 0) {
		fprintf(stderr, "mailroom: %s\n", err);
		return CLI_EXIT_FAIL;
	}
	return CLI_EXIT_OK;
}

static int
cli_migrate_check_exec(int argc, char **argv)
{
	PGconn *conn;
	char err[1024], target[256];
	int r;

	(void)argv;
	if (argc != 1)
		return main_cli_usage(&cli_migrate_check_entry);

	db_describe_target(mr_config.database_url, target, sizeof target);
	conn = main_cli_connect();
	r = db_migrate_check(conn, err, sizeof err);
	PQfinish(conn);
	if (r != 0) {
		fprintf(stderr, "mailroom: database %s: %s\n", target, err);
		return CLI_EXIT_FAIL;
	}
	printf("ok: database %s reachable, schema at %s\n", target, cli_migrate_newest());
	return CLI_EXIT_OK;
}
