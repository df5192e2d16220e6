/* db-migrate.c: applies and reverts the migrations embedded from sql/, one transaction
 * each, under an advisory lock, and refuses to touch a database whose recorded history
 * does not match this build (changed or unknown migrations). */
#include "config.h"

#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "db-migrate.h"
#include "util.h"

/*
 * Key of the session-level advisory lock that serialises runners: "mailroom" in ASCII.
 * Two hosts starting an upgrade at once would otherwise both see 0002 as pending.
 */
#define DB_MIGRATE_LOCK_KEY "7881696737372368749"

/* One row of schema_migrations. */
struct db_migrate_row {
	int	 version;
	char	*name;
	char	*checksum;
	char	*applied_at;	/* UTC, "2026-11-23 18:40:02+00" */
};

struct db_migrate_history {
	struct db_migrate_row	*rows;	/* by version, ascending */
	size_t			 nrows;
};

void
db_migrate_checksum(const char *text, char out[65])
{
	unsigned char hash[crypto_hash_sha256_BYTES];

	crypto_hash_sha256(hash, (const unsigned char *)text, strlen(text));
	sodium_bin2hex(out, 65, hash, sizeof hash);
}

static const struct db_migration *
db_migrate_find(int version)
{
	size_t i;

	for (i = 0; i < db_migrations_count; i++) {
		if (db_migrations[i].version == version)
			return &db_migrations[i];
	}
	return NULL;
}

/*
 * Turns a failed result into "PREFIX: primary message (SQLSTATE xxxxx)". Without a result
 * (connection lost, out of memory) libpq only has its connection-level message.
 */
void
db_migrate_pg_error(PGconn *conn, const PGresult *res, const char *prefix, char *err,
    size_t errlen)
{
	const char *msg = NULL, *state = NULL;
	size_t len;

	if (res != NULL) {
		msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
		state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	}
	if (msg == NULL)
		msg = PQerrorMessage(conn);
	len = strlen(msg);
	while (len > 0 && (msg[len - 1] == '\n' || msg[len - 1] == ' '))
		len--;
	if (len == 0) {
		msg = "unexpected result from the server";
		len = strlen(msg);
	}
	if (state != NULL)
		snprintf(err, errlen, "%s: %.*s (SQLSTATE %s)", prefix, (int)len, msg, state);
	else
		snprintf(err, errlen, "%s: %.*s", prefix, (int)len, msg);
}

/*
 * Runs one parameterised statement. Returns the result when its status is the expected
 * one; otherwise NULL with err, the result already cleared.
 */
static PGresult *
db_migrate_exec(PGconn *conn, const char *sql, int nparams, const char *const *params,
    ExecStatusType expect, const char *what, char *err, size_t errlen)
{
	PGresult *res;

	res = PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0);
	if (res == NULL || PQresultStatus(res) != expect) {
		db_migrate_pg_error(conn, res, what, err, errlen);
		PQclear(res);
		return NULL;
	}
	return res;
}

/* Like db_migrate_exec for statements whose result carries nothing the caller needs. */
static int
db_migrate_command(PGconn *conn, const char *sql, int nparams, const char *const *params,
    ExecStatusType expect, const char *what, char *err, size_t errlen)
{
	PGresult *res;

	res = db_migrate_exec(conn, sql, nparams, params, expect, what, err, errlen);
	if (res == NULL)
		return -1;
	PQclear(res);
	return 0;
}

/* Our own BEGIN/COMMIT pairs cannot nest inside a caller's transaction. */
int
db_migrate_require_idle(PGconn *conn, char *err, size_t errlen)
{
	if (PQstatus(conn) != CONNECTION_OK) {
		db_migrate_pg_error(conn, NULL, "database connection", err, errlen);
		return -1;
	}
	if (PQtransactionStatus(conn) != PQTRANS_IDLE) {
		snprintf(err, errlen, "the database connection is inside a transaction");
		return -1;
	}
	return 0;
}

/* Whether schema_migrations exists, without creating it. */
static int
db_migrate_table_exists(PGconn *conn, int *exists, char *err, size_t errlen)
{
	static const char sql[] = "SELECT to_regclass($1) IS NOT NULL AS present";
	const char *params[] = { "schema_migrations" };
	PGresult *res;

	res = db_migrate_exec(conn, sql, 1, params, PGRES_TUPLES_OK,
	    "cannot read schema_migrations", err, errlen);
	if (res == NULL)
		return -1;
	*exists = PQntuples(res) == 1 &&
	    strcmp(PQgetvalue(res, 0, PQfnumber(res, "present")), "t") == 0;
	PQclear(res);
	return 0;
}

int
db_migrate_bootstrap(PGconn *conn, char *err, size_t errlen)
{
	static const char sql[] =
	    "CREATE TABLE IF NOT EXISTS schema_migrations ("
	    " version int PRIMARY KEY,"
	    " name text NOT NULL,"
	    " checksum text NOT NULL,"
	    " applied_at timestamptz NOT NULL DEFAULT now(),"
	    " execution_ms int)";
	int exists;

	/* Looking first keeps "already exists, skipping" notices out of every run. */
	if (db_migrate_table_exists(conn, &exists, err, errlen) != 0)
		return -1;
	if (exists)
		return 0;
	return db_migrate_command(conn, sql, 0, NULL, PGRES_COMMAND_OK,
	    "cannot create schema_migrations", err, errlen);
}

static void
db_migrate_history_free(struct db_migrate_history *h)
{
	size_t i;

	for (i = 0; i < h->nrows; i++) {
		free(h->rows[i].name);
		free(h->rows[i].checksum);
		free(h->rows[i].applied_at);
	}
	free(h->rows);
	h->rows = NULL;
	h->nrows = 0;
}

/* Reads schema_migrations; a database that never saw a runner has an empty history. */
static int
db_migrate_history_load(PGconn *conn, struct db_migrate_history *h, char *err,
    size_t errlen)
{
	/* Formatted in UTC so the output does not depend on the session's TimeZone. */
	static const char sql[] =
	    "SELECT version, name, checksum,"
	    " to_char(applied_at AT TIME ZONE 'UTC', $1) AS applied_at"
	    " FROM schema_migrations ORDER BY version";
	const char *params[] = { "YYYY-MM-DD HH24:MI:SS\"+00\"" };
	PGresult *res;
	int exists, fversion, fname, fchecksum, fapplied;
	int64_t version;
	size_t i, n;

	h->rows = NULL;
	h->nrows = 0;
	if (db_migrate_table_exists(conn, &exists, err, errlen) != 0)
		return -1;
	if (!exists)
		return 0;

	res = db_migrate_exec(conn, sql, 1, params, PGRES_TUPLES_OK,
	    "cannot read schema_migrations", err, errlen);
	if (res == NULL)
		return -1;
	fversion = PQfnumber(res, "version");
	fname = PQfnumber(res, "name");
	fchecksum = PQfnumber(res, "checksum");
	fapplied = PQfnumber(res, "applied_at");
	n = (size_t)PQntuples(res);
	h->rows = xcalloc(n, sizeof *h->rows);
	for (i = 0; i < n; i++) {
		if (util_parse_int64(PQgetvalue(res, (int)i, fversion), 0, INT_MAX,
		    &version) != 0) {
			snprintf(err, errlen, "schema_migrations holds an invalid version "
			    "\"%s\"", PQgetvalue(res, (int)i, fversion));
			goto fail;
		}
		h->rows[i].version = (int)version;
		h->rows[i].name = xstrdup(PQgetvalue(res, (int)i, fname));
		h->rows[i].checksum = xstrdup(PQgetvalue(res, (int)i, fchecksum));
		h->rows[i].applied_at = xstrdup(PQgetvalue(res, (int)i, fapplied));
		h->nrows++;
	}
	PQclear(res);
	return 0;

fail:
	PQclear(res);
	db_migrate_history_free(h);
	return -1;
}

static const struct db_migrate_row *
db_migrate_history_find(const struct db_migrate_history *h, int version)
{
	size_t i;

	for (i = 0; i < h->nrows; i++) {
		if (h->rows[i].version == version)
			return &h->rows[i];
	}
	return NULL;
}

/* The refusal for a row this build has no files for. */
static void
db_migrate_unknown_error(const struct db_migrate_row *row, char *err, size_t errlen)
{
	int newest = 0;

	if (db_migrations_count > 0)
		newest = db_migrations[db_migrations_count - 1].version;
	if (row->version > newest) {
		snprintf(err, errlen, "database is at migration %04d which this build does "
		    "not have: upgrade mailroom", row->version);
	} else {
		snprintf(err, errlen, "database has migration %04d (%s) which this build "
		    "does not have", row->version, row->name);
	}
}

/* Whether an applied row still matches the embedded text it was applied from. */
static int
db_migrate_row_matches(const struct db_migrate_row *row, const struct db_migration *m,
    char *err, size_t errlen)
{
	char sum[65];

	db_migrate_checksum(m->up, sum);
	if (strcmp(sum, row->checksum) == 0)
		return 0;
	snprintf(err, errlen, "migration %s was changed after it was applied (checksum "
	    "%.12s... in the database, %.12s... in this build)", m->name, row->checksum,
	    sum);
	return -1;
}

/*
 * Every applied row must be one this build has, with the text it was applied from:
 * anything else means the schema is not what this build's later migrations expect.
 */
static int
db_migrate_history_verify(const struct db_migrate_history *h, char *err, size_t errlen)
{
	const struct db_migration *m;
	size_t i;

	for (i = 0; i < h->nrows; i++) {
		if ((m = db_migrate_find(h->rows[i].version)) == NULL) {
			db_migrate_unknown_error(&h->rows[i], err, errlen);
			return -1;
		}
		if (db_migrate_row_matches(&h->rows[i], m, err, errlen) != 0)
			return -1;
	}
	return 0;
}

static void
db_migrate_rollback(PGconn *conn)
{
	PGresult *res;

	if (PQtransactionStatus(conn) == PQTRANS_IDLE)
		return;
	res = PQexecParams(conn, "ROLLBACK", 0, NULL, NULL, NULL, NULL, 0);
	PQclear(res);
}

/*
 * Session-level, so it spans the per-migration transactions. Announces the wait when
 * another runner holds it, rather than hanging silently.
 */
static int
db_migrate_lock(PGconn *conn, FILE *out, char *err, size_t errlen)
{
	const char *params[] = { DB_MIGRATE_LOCK_KEY };
	PGresult *res;
	int got;

	res = db_migrate_exec(conn, "SELECT pg_try_advisory_lock($1::bigint) AS got", 1,
	    params, PGRES_TUPLES_OK, "cannot take the migration lock", err, errlen);
	if (res == NULL)
		return -1;
	got = strcmp(PQgetvalue(res, 0, PQfnumber(res, "got")), "t") == 0;
	PQclear(res);
	if (got)
		return 0;

	if (out != NULL) {
		fprintf(out, "waiting for another migration runner to finish\n");
		fflush(out);
	}
	/*
	 * The other runner's migrations run without a statement timeout, so the wait for
	 * them has none either. A session-level lock outlives the transaction that took it.
	 */
	if (db_migrate_command(conn, "BEGIN", 0, NULL, PGRES_COMMAND_OK,
	    "cannot take the migration lock", err, errlen) != 0 ||
	    db_migrate_command(conn, "SET LOCAL statement_timeout = 0", 0, NULL,
	    PGRES_COMMAND_OK, "cannot take the migration lock", err, errlen) != 0 ||
	    db_migrate_command(conn, "SELECT pg_advisory_lock($1::bigint)", 1, params,
	    PGRES_TUPLES_OK, "cannot take the migration lock", err, errlen) != 0 ||
	    db_migrate_command(conn, "COMMIT", 0, NULL, PGRES_COMMAND_OK,
	    "cannot take the migration lock", err, errlen) != 0) {
		db_migrate_rollback(conn);
		return -1;
	}
	return 0;
}

/* The lock also goes when the session ends, so a failure here loses nothing. */
static void
db_migrate_unlock(PGconn *conn)
{
	const char *params[] = { DB_MIGRATE_LOCK_KEY };
	PGresult *res;

	res = PQexecParams(conn, "SELECT pg_advisory_unlock($1::bigint)", 1, NULL, params,
	    NULL, NULL, 0);
	PQclear(res);
}

/* 1-based line of a 1-based character position (PostgreSQL counts characters). */
static int
db_migrate_line_of(const char *text, const char *position)
{
	int64_t pos, chars = 0;
	int line = 1;
	const unsigned char *p;

	if (position == NULL || util_parse_int64(position, 1, INT64_MAX, &pos) != 0)
		return 0;
	for (p = (const unsigned char *)text; *p != '\0'; p++) {
		if ((*p & 0xc0) == 0x80)
			continue;	/* UTF-8 continuation byte */
		if (++chars >= pos)
			break;
		if (*p == '\n')
			line++;
	}
	return line;
}

/*
 * Runs one migration text with its bookkeeping statement in one transaction: both
 * happen or neither does. Takes the elapsed milliseconds in *ms.
 */
static int
db_migrate_run(PGconn *conn, const struct db_migration *m, int up, int64_t *ms,
    char *err, size_t errlen)
{
	static const char insert_sql[] =
	    "INSERT INTO schema_migrations (version, name, checksum, execution_ms)"
	    " VALUES ($1::int, $2, $3, $4::int)";
	static const char delete_sql[] =
	    "DELETE FROM schema_migrations WHERE version = $1::int";
	const char *text = up ? m->up : m->down;
	const char *params[4];
	char what[128], version[16], sum[65], elapsed[24];
	PGresult *res = NULL;
	int64_t start;
	int line;

	snprintf(what, sizeof what, "migration %s %s", m->name,
	    up ? "failed" : "could not be reverted");
	if (db_migrate_command(conn, "BEGIN", 0, NULL, PGRES_COMMAND_OK, what, err,
	    errlen) != 0)
		goto fail;
	/* The application's statement_timeout is sized for requests, not for rebuilding a
	 * table; SET LOCAL ends with the transaction. */
	if (db_migrate_command(conn, "SET LOCAL statement_timeout = 0", 0, NULL,
	    PGRES_COMMAND_OK, what, err, errlen) != 0)
		goto fail;

	/* PQexec rather than PQexecParams: a migration is several statements. */
	start = util_now_us();
	res = PQexec(conn, text);
	*ms = (util_now_us() - start) / 1000;
	/* A file of comments only (a down with nothing to undo) is an empty query. */
	if (res == NULL || (PQresultStatus(res) != PGRES_COMMAND_OK &&
	    PQresultStatus(res) != PGRES_TUPLES_OK &&
	    PQresultStatus(res) != PGRES_EMPTY_QUERY)) {
		db_migrate_pg_error(conn, res, what, err, errlen);
		line = res == NULL ? 0 : db_migrate_line_of(text,
		    PQresultErrorField(res, PG_DIAG_STATEMENT_POSITION));
		if (line > 0) {
			size_t len = strlen(err);

			snprintf(err + len, errlen - len, " at line %d of %s.%s.sql", line,
			    m->name, up ? "up" : "down");
		}
		goto fail;
	}
	PQclear(res);
	res = NULL;
	if (PQtransactionStatus(conn) != PQTRANS_INTRANS) {
		snprintf(err, errlen, "%s: its SQL ended the transaction (migrations must not "
		    "contain BEGIN, COMMIT or ROLLBACK)", what);
		goto fail;
	}

	snprintf(version, sizeof version, "%d", m->version);
	if (up) {
		db_migrate_checksum(m->up, sum);
		snprintf(elapsed, sizeof elapsed, "%" PRId64, *ms > INT_MAX ? INT_MAX : *ms);
		params[0] = version;
		params[1] = m->name;
		params[2] = sum;
		params[3] = elapsed;
		if (db_migrate_command(conn, insert_sql, 4, params, PGRES_COMMAND_OK, what,
		    err, errlen) != 0)
			goto fail;
	} else {
		params[0] = version;
		if (db_migrate_command(conn, delete_sql, 1, params, PGRES_COMMAND_OK, what,
		    err, errlen) != 0)
			goto fail;
	}
	if (db_migrate_command(conn, "COMMIT", 0, NULL, PGRES_COMMAND_OK, what, err,
	    errlen) != 0)
		goto fail;
	return 0;

fail:
	PQclear(res);
	db_migrate_rollback(conn);
	return -1;
}

int
db_migrate_up(PGconn *conn, FILE *out, char *err, size_t errlen)
{
	struct db_migrate_history h = { NULL, 0 };
	const struct db_migration *m;
	int64_t ms;
	size_t i;
	int applied = 0;

	if (db_migrate_require_idle(conn, err, errlen) != 0)
		return -1;
	if (db_migrate_lock(conn, out, err, errlen) != 0)
		return -1;
	/* Under the lock: two concurrent CREATE TABLE IF NOT EXISTS can still collide. */
	if (db_migrate_bootstrap(conn, err, errlen) != 0)
		goto fail;
	/* Read after taking the lock, so what another runner just applied counts. */
	if (db_migrate_history_load(conn, &h, err, errlen) != 0)
		goto fail;
	if (db_migrate_history_verify(&h, err, errlen) != 0)
		goto fail;

	for (i = 0; i < db_migrations_count; i++) {
		m = &db_migrations[i];
		if (db_migrate_history_find(&h, m->version) != NULL)
			continue;
		if (db_migrate_run(conn, m, 1, &ms, err, errlen) != 0)
			goto fail;
		applied++;
		if (out != NULL) {
			fprintf(out, "applied %s (%" PRId64 " ms)\n", m->name, ms);
			fflush(out);
		}
	}
	db_migrate_history_free(&h);
	db_migrate_unlock(conn);
	return applied;

fail:
	db_migrate_history_free(&h);
	db_migrate_unlock(conn);
	return -1;
}

int
db_migrate_down(PGconn *conn, int n, FILE *out, char *err, size_t errlen)
{
	struct db_migrate_history h = { NULL, 0 };
	const struct db_migrate_row *row;
	const struct db_migration *m;
	int64_t ms;
	int i, reverted = 0;

	if (n <= 0) {
		snprintf(err, errlen, "the number of migrations to revert must be positive");
		return -1;
	}
	if (db_migrate_require_idle(conn, err, errlen) != 0)
		return -1;
	if (db_migrate_lock(conn, out, err, errlen) != 0)
		return -1;
	if (db_migrate_history_load(conn, &h, err, errlen) != 0)
		goto fail;
	if ((size_t)n > h.nrows) {
		snprintf(err, errlen, "cannot revert %d migration%s: %zu %s applied", n,
		    n == 1 ? "" : "s", h.nrows, h.nrows == 1 ? "is" : "are");
		goto fail;
	}

	/* Check all of them first, so a refusal never leaves the revert half done. */
	for (i = 0; i < n; i++) {
		row = &h.rows[h.nrows - 1 - (size_t)i];
		if ((m = db_migrate_find(row->version)) == NULL) {
			db_migrate_unknown_error(row, err, errlen);
			goto fail;
		}
		if (db_migrate_row_matches(row, m, err, errlen) != 0)
			goto fail;
	}

	for (i = 0; i < n; i++) {
		row = &h.rows[h.nrows - 1 - (size_t)i];
		m = db_migrate_find(row->version);
		if (db_migrate_run(conn, m, 0, &ms, err, errlen) != 0)
			goto fail;
		reverted++;
		if (out != NULL) {
			fprintf(out, "reverted %s (%" PRId64 " ms)\n", m->name, ms);
			fflush(out);
		}
	}
	db_migrate_history_free(&h);
	db_migrate_unlock(conn);
	return reverted;

fail:
	db_migrate_history_free(&h);
	db_migrate_unlock(conn);
	return -1;
}

int
db_migrate_status(PGconn *conn, FILE *out, char *err, size_t errlen)
{
	struct db_migrate_history h = { NULL, 0 };
	const struct db_migrate_row *row;
	const struct db_migration *m;
	char sum[65];
	size_t i;
	int width = 0, len;

	if (db_migrate_history_load(conn, &h, err, errlen) != 0)
		return -1;

	for (i = 0; i < db_migrations_count; i++) {
		if ((len = (int)strlen(db_migrations[i].name)) > width)
			width = len;
	}
	for (i = 0; i < h.nrows; i++) {
		if ((len = (int)strlen(h.rows[i].name)) > width)
			width = len;
	}

	for (i = 0; i < db_migrations_count; i++) {
		m = &db_migrations[i];
		if ((row = db_migrate_history_find(&h, m->version)) == NULL) {
			fprintf(out, "%-*s  pending\n", width, m->name);
			continue;
		}
		db_migrate_checksum(m->up, sum);
		if (strcmp(sum, row->checksum) != 0)
			fprintf(out, "%-*s  CHANGED (applied %s from a different text)\n",
			    width, m->name, row->applied_at);
		else
			fprintf(out, "%-*s  applied %s\n", width, m->name, row->applied_at);
	}
	for (i = 0; i < h.nrows; i++) {
		if (db_migrate_find(h.rows[i].version) != NULL)
			continue;
		fprintf(out, "%-*s  applied %s, UNKNOWN to this build\n", width,
		    h.rows[i].name, h.rows[i].applied_at);
	}
	db_migrate_history_free(&h);
	return 0;
}

int
db_migrate_check(PGconn *conn, char *err, size_t errlen)
{
	struct db_migrate_history h = { NULL, 0 };
	const struct db_migrate_row *row;
	const struct db_migration *m;
	size_t i;

	if (db_migrate_history_load(conn, &h, err, errlen) != 0)
		return -1;
	for (i = 0; i < db_migrations_count; i++) {
		m = &db_migrations[i];
		if ((row = db_migrate_history_find(&h, m->version)) == NULL) {
			snprintf(err, errlen, "migration %s is not applied", m->name);
			goto fail;
		}
		if (db_migrate_row_matches(row, m, err, errlen) != 0)
			goto fail;
	}
	for (i = 0; i < h.nrows; i++) {
		if (db_migrate_find(h.rows[i].version) == NULL) {
			db_migrate_unknown_error(&h.rows[i], err, errlen);
			goto fail;
		}
	}
	db_migrate_history_free(&h);
	return 0;

fail:
	db_migrate_history_free(&h);
	return -1;
}
