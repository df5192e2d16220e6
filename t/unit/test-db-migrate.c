/* test-db-migrate.c: unit tests for db-migrate.c and app/sql-embed.sh. The database part
 * runs against a scratch database created in the cluster named by
 * MAILROOM_TEST_DATABASE_URL (a superuser conninfo) and dropped afterwards. */
#include "config.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <CUnit/Basic.h>
#include <libpq-fe.h>
#include <sodium.h>

#include "db-migrate.h"
#include "util.h"

#define TEST_SKIP 77	/* automake: the test was skipped */

static const char *test_admin_url;	/* MAILROOM_TEST_DATABASE_URL */
static PGconn *test_admin;		/* to the cluster, for CREATE/DROP DATABASE */
static PGconn *test_conn;		/* to the scratch database */
static char test_dbname[64];
static char test_tmpdir[64];

/* Runs a statement of the test's own; the code under test is checked elsewhere. */
static PGresult *
test_db_migrate_sql(PGconn *conn, const char *sql, int nparams, const char *const *params)
{
	PGresult *res;

	res = PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_COMMAND_OK &&
	    PQresultStatus(res) != PGRES_TUPLES_OK)
		fprintf(stderr, "%s: %s", sql, PQresultErrorMessage(res));
	return res;
}

static void
test_db_migrate_sql_ok(PGconn *conn, const char *sql, int nparams,
    const char *const *params)
{
	PGresult *res = test_db_migrate_sql(conn, sql, nparams, params);

	CU_ASSERT(PQresultStatus(res) == PGRES_COMMAND_OK ||
	    PQresultStatus(res) == PGRES_TUPLES_OK);
	PQclear(res);
}

/* The single value of a one-row, one-column query, as an integer (-1 on error). */
static long
test_db_migrate_count(const char *sql)
{
	PGresult *res = test_db_migrate_sql(test_conn, sql, 0, NULL);
	long n = -1;

	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
		n = strtol(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return n;
}

static long
test_db_migrate_applied(void)
{
	return test_db_migrate_count("SELECT count(*) FROM schema_migrations");
}

/* Everything the runner printed, so tests can look at its progress lines. */
struct test_output {
	FILE	*f;
	char	*data;
	size_t	 len;
};

static void
test_db_migrate_output_open(struct test_output *o)
{
	o->data = NULL;
	o->len = 0;
	o->f = open_memstream(&o->data, &o->len);
	if (o->f == NULL)
		fatal("open_memstream failed");
}

static void
test_db_migrate_output_close(struct test_output *o)
{
	fclose(o->f);
	free(o->data);
}

static const char *
test_db_migrate_output(struct test_output *o)
{
	fflush(o->f);
	return o->data;
}

/*
 * The state status printed for a migration ("applied 2026-...", "pending"), wherever the
 * column starts: a longer name later must not break these tests. "" when not listed.
 */
static const char *
test_db_migrate_status_of(struct test_output *o, const char *name, char *buf,
    size_t buflen)
{
	const char *p = test_db_migrate_output(o), *end;
	size_t n = strlen(name);

	while (p != NULL && *p != '\0') {
		end = strchr(p, '\n');
		if (strncmp(p, name, n) == 0 && p[n] == ' ') {
			p += n + strspn(p + n, " ");
			snprintf(buf, buflen, "%.*s", end != NULL ? (int)(end - p) :
			    (int)strlen(p), p);
			return buf;
		}
		p = end != NULL ? end + 1 : NULL;
	}
	snprintf(buf, buflen, "%s", "");
	return buf;
}

static void
test_db_migrate_checksum_vector(void)
{
	char out[65];

	/* FIPS 180-2, appendix B.1. */
	db_migrate_checksum("abc", out);
	CU_ASSERT_STRING_EQUAL(out,
	    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	db_migrate_checksum("", out);
	CU_ASSERT_STRING_EQUAL(out,
	    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

static void
test_db_migrate_embedded(void)
{
	const struct db_migration *m;
	char prefix[16];
	size_t i;

	CU_ASSERT_FATAL(db_migrations_count >= 1);
	CU_ASSERT_EQUAL(db_migrations[0].version, 1);
	for (i = 0; i < db_migrations_count; i++) {
		m = &db_migrations[i];
		CU_ASSERT(m->version > 0);
		if (i > 0)
			CU_ASSERT(m->version > db_migrations[i - 1].version);
		snprintf(prefix, sizeof prefix, "%04d_", m->version);
		CU_ASSERT(strncmp(m->name, prefix, 5) == 0);
		CU_ASSERT(strlen(m->name) > 5);
		CU_ASSERT_PTR_NOT_NULL_FATAL(m->up);
		CU_ASSERT_PTR_NOT_NULL_FATAL(m->down);
		CU_ASSERT(strlen(m->up) > 0);
		CU_ASSERT(strlen(m->down) > 0);
	}
}

/* Writes a file of the scratch tree for sql-embed.sh. */
static void
test_db_migrate_put(const char *name, const char *text)
{
	char *path = xasprintf("%s/%s", test_tmpdir, name);
	FILE *f = fopen(path, "w");

	if (f == NULL)
		fatal("%s: cannot create", path);
	fputs(text, f);
	fclose(f);
	free(path);
}

static void
test_db_migrate_rm(const char *name)
{
	char *path = xasprintf("%s/%s", test_tmpdir, name);

	unlink(path);
	free(path);
}

/* Runs sql-embed.sh on the scratch tree: its exit status, its output in *out (freed by
 * the caller). */
static int
test_db_migrate_embed(char **out)
{
	const char *srcdir = getenv("srcdir");
	char *script, *outpath, buf[4096];
	FILE *f;
	size_t n, len = 0;
	pid_t pid;
	int status, fd;

	script = xasprintf("%s/app/sql-embed.sh", srcdir != NULL ? srcdir : ".");
	outpath = xasprintf("%s.out", test_tmpdir);
	pid = fork();
	if (pid == -1)
		fatal("fork failed");
	if (pid == 0) {
		if ((fd = open(outpath, O_WRONLY | O_CREAT | O_TRUNC, 0600)) == -1)
			_exit(126);
		dup2(fd, 1);
		if ((fd = open("/dev/null", O_WRONLY)) == -1)
			_exit(126);
		dup2(fd, 2);
		execlp("sh", "sh", script, test_tmpdir, (char *)NULL);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) == -1)
		fatal("waitpid failed");

	*out = xstrdup("");
	if ((f = fopen(outpath, "r")) != NULL) {
		while ((n = fread(buf, 1, sizeof buf, f)) > 0) {
			*out = xreallocarray(*out, len + n + 1, 1);
			memcpy(*out + len, buf, n);
			len += n;
			(*out)[len] = '\0';
		}
		fclose(f);
	}
	unlink(outpath);
	free(outpath);
	free(script);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void
test_db_migrate_embed_script(void)
{
	char *out;

	if (mkdtemp(strcpy(test_tmpdir, "/tmp/mailroom-sql-XXXXXX")) == NULL)
		fatal("mkdtemp failed");

	/* No migrations at all still makes a valid (empty) table. */
	CU_ASSERT_EQUAL(test_db_migrate_embed(&out), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "db_migrations_count = 0;"));
	free(out);

	/* Quotes, backslashes and non-ASCII bytes pass through unescaped. */
	test_db_migrate_put("0001_a.up.sql", "SELECT '\\\"\xc3\xa9';\n");
	test_db_migrate_put("0001_a.down.sql", "SELECT 1;\n");
	test_db_migrate_put("0010_b.up.sql", "SELECT 2;\n");
	test_db_migrate_put("0010_b.down.sql", "SELECT 3;\n");
	CU_ASSERT_EQUAL(test_db_migrate_embed(&out), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "db_migrations_count = 2;"));
	/* Decimal: a leading zero would make 0010 octal. */
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "{ 10, \"0010_b\""));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "0x5c, 0x22, 0xc3, 0xa9"));
	free(out);

	test_db_migrate_rm("0010_b.down.sql");
	CU_ASSERT_EQUAL(test_db_migrate_embed(&out), 1);
	free(out);
	test_db_migrate_put("0010_b.down.sql", "SELECT 3;\n");

	test_db_migrate_put("0010_c.up.sql", "SELECT 4;\n");
	test_db_migrate_put("0010_c.down.sql", "SELECT 5;\n");
	CU_ASSERT_EQUAL(test_db_migrate_embed(&out), 1);	/* duplicate version */
	free(out);
	test_db_migrate_rm("0010_c.up.sql");
	test_db_migrate_rm("0010_c.down.sql");

	test_db_migrate_put("11_short.up.sql", "SELECT 6;\n");
	CU_ASSERT_EQUAL(test_db_migrate_embed(&out), 1);	/* badly named */
	free(out);
	test_db_migrate_rm("11_short.up.sql");

	test_db_migrate_put("0002_x.down.sql", "SELECT 7;\n");
	CU_ASSERT_EQUAL(test_db_migrate_embed(&out), 1);	/* down without up */
	free(out);
	test_db_migrate_rm("0002_x.down.sql");

	CU_ASSERT_EQUAL(test_db_migrate_embed(&out), 0);
	free(out);

	test_db_migrate_rm("0001_a.up.sql");
	test_db_migrate_rm("0001_a.down.sql");
	test_db_migrate_rm("0010_b.up.sql");
	test_db_migrate_rm("0010_b.down.sql");
	rmdir(test_tmpdir);
}

/* Creates a database of its own, so runs never see each other's or anyone's data. */
static int
test_db_migrate_db_init(void)
{
	const char *keys[] = { "dbname", "dbname", NULL };
	const char *vals[3];
	char hex[9], *sql, *ident;
	PGresult *res;

	test_admin = PQconnectdb(test_admin_url);
	if (PQstatus(test_admin) != CONNECTION_OK) {
		fprintf(stderr, "MAILROOM_TEST_DATABASE_URL: %s", PQerrorMessage(test_admin));
		return -1;
	}
	util_random_hex(hex, 4);
	snprintf(test_dbname, sizeof test_dbname, "mailroom_test_%ld_%s", (long)getpid(),
	    hex);
	ident = PQescapeIdentifier(test_admin, test_dbname, strlen(test_dbname));
	sql = xasprintf("CREATE DATABASE %s", ident);
	PQfreemem(ident);
	res = test_db_migrate_sql(test_admin, sql, 0, NULL);
	free(sql);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		PQclear(res);
		return -1;
	}
	PQclear(res);

	/* With expand_dbname only the first dbname is a conninfo; the second overrides. */
	vals[0] = test_admin_url;
	vals[1] = test_dbname;
	vals[2] = NULL;
	test_conn = PQconnectdbParams(keys, vals, 1);
	if (PQstatus(test_conn) != CONNECTION_OK) {
		fprintf(stderr, "%s: %s", test_dbname, PQerrorMessage(test_conn));
		return -1;
	}
	/* Notices such as "extension already exists" are noise in test output. */
	res = PQexec(test_conn, "SET client_min_messages = warning");
	PQclear(res);
	return 0;
}

static int
test_db_migrate_db_clean(void)
{
	char *sql, *ident;
	PGresult *res;
	int rc = 0;

	PQfinish(test_conn);
	test_conn = NULL;
	if (PQstatus(test_admin) == CONNECTION_OK && test_dbname[0] != '\0') {
		ident = PQescapeIdentifier(test_admin, test_dbname, strlen(test_dbname));
		sql = xasprintf("DROP DATABASE IF EXISTS %s WITH (FORCE)", ident);
		PQfreemem(ident);
		res = test_db_migrate_sql(test_admin, sql, 0, NULL);
		if (PQresultStatus(res) != PGRES_COMMAND_OK)
			rc = -1;
		PQclear(res);
		free(sql);
	}
	PQfinish(test_admin);
	test_admin = NULL;
	return rc;
}

/* A runner that failed or finished must not keep other runners waiting. */
static void
test_db_migrate_no_lock_left(void)
{
	CU_ASSERT_EQUAL(test_db_migrate_count("SELECT count(*) FROM pg_locks"
	    " WHERE locktype = 'advisory' AND database ="
	    " (SELECT oid FROM pg_database WHERE datname = current_database())"), 0);
}

static void
test_db_migrate_up(void)
{
	struct test_output o;
	char err[512], *line;
	size_t i;

	/* Nothing recorded yet, and reading that creates nothing. */
	CU_ASSERT_EQUAL(db_migrate_check(test_conn, err, sizeof err), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "migration 0001_init is not applied"));
	CU_ASSERT_EQUAL(test_db_migrate_count(
	    "SELECT count(*) FROM pg_class WHERE relname = 'schema_migrations'"), 0);

	test_db_migrate_output_open(&o);
	CU_ASSERT_EQUAL(db_migrate_up(test_conn, o.f, err, sizeof err),
	    (int)db_migrations_count);
	for (i = 0; i < db_migrations_count; i++) {
		line = xasprintf("applied %s (", db_migrations[i].name);
		CU_ASSERT_PTR_NOT_NULL(strstr(test_db_migrate_output(&o), line));
		free(line);
	}
	test_db_migrate_output_close(&o);
	CU_ASSERT_EQUAL(test_db_migrate_applied(), (long)db_migrations_count);
	test_db_migrate_no_lock_left();

	/* What 0001 promises to the migrations after it. */
	CU_ASSERT_EQUAL(test_db_migrate_count("SELECT count(*) FROM instance"), 1);
	CU_ASSERT_EQUAL(test_db_migrate_count(
	    "SELECT count(*) FROM pg_extension WHERE extname = 'citext'"), 1);
	CU_ASSERT_EQUAL(test_db_migrate_count(
	    "SELECT count(*) FROM pg_proc WHERE proname = 'set_updated_at'"), 1);

	test_db_migrate_output_open(&o);
	CU_ASSERT_EQUAL(db_migrate_up(test_conn, o.f, err, sizeof err), 0);
	CU_ASSERT_STRING_EQUAL(test_db_migrate_output(&o), "");
	test_db_migrate_output_close(&o);
	CU_ASSERT_EQUAL(test_db_migrate_applied(), (long)db_migrations_count);
}

static void
test_db_migrate_status_applied(void)
{
	struct test_output o;
	char err[512], state[128];
	size_t i;

	test_db_migrate_output_open(&o);
	CU_ASSERT_EQUAL(db_migrate_status(test_conn, o.f, err, sizeof err), 0);
	for (i = 0; i < db_migrations_count; i++) {
		test_db_migrate_status_of(&o, db_migrations[i].name, state, sizeof state);
		/* "applied 2026-11-23 18:40:02+00" */
		CU_ASSERT_EQUAL(strlen(state), strlen("applied 2026-11-23 18:40:02+00"));
		CU_ASSERT(strncmp(state, "applied 20", 10) == 0);
		CU_ASSERT(strcmp(state + strlen(state) - 3, "+00") == 0);
	}
	test_db_migrate_output_close(&o);
}

static void
test_db_migrate_check_ok(void)
{
	char err[512] = "";

	CU_ASSERT_EQUAL(db_migrate_check(test_conn, err, sizeof err), 0);
	CU_ASSERT_STRING_EQUAL(err, "");
}

static void
test_db_migrate_changed(void)
{
	const char *params[2];
	struct test_output o;
	char err[512], sum[65], state[128];

	params[0] = "0000000000000000000000000000000000000000000000000000000000000000";
	test_db_migrate_sql_ok(test_conn,
	    "UPDATE schema_migrations SET checksum = $1 WHERE version = 1", 1, params);

	test_db_migrate_output_open(&o);
	CU_ASSERT_EQUAL(db_migrate_up(test_conn, o.f, err, sizeof err), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err,
	    "migration 0001_init was changed after it was applied"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "000000000000... in the database"));
	test_db_migrate_no_lock_left();
	CU_ASSERT_EQUAL(db_migrate_check(test_conn, err, sizeof err), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err,
	    "migration 0001_init was changed after it was applied"));
	CU_ASSERT_EQUAL(db_migrate_status(test_conn, o.f, err, sizeof err), 0);
	test_db_migrate_status_of(&o, "0001_init", state, sizeof state);
	CU_ASSERT(strncmp(state, "CHANGED", 7) == 0);
	test_db_migrate_output_close(&o);

	/* Reverting would run a down written for another up: refused too. */
	if (db_migrations_count == 1) {
		CU_ASSERT_EQUAL(db_migrate_down(test_conn, 1, NULL, err, sizeof err), -1);
		CU_ASSERT_PTR_NOT_NULL(strstr(err, "0001_init was changed"));
		CU_ASSERT_EQUAL(test_db_migrate_applied(), 1);
	}

	db_migrate_checksum(db_migrations[0].up, sum);
	params[0] = sum;
	test_db_migrate_sql_ok(test_conn,
	    "UPDATE schema_migrations SET checksum = $1 WHERE version = 1", 1, params);
	CU_ASSERT_EQUAL(db_migrate_check(test_conn, err, sizeof err), 0);
}

static void
test_db_migrate_unknown(void)
{
	struct test_output o;
	char err[512], state[128];

	test_db_migrate_sql_ok(test_conn, "INSERT INTO schema_migrations"
	    " (version, name, checksum) VALUES (9999, '9999_future', 'x')", 0, NULL);

	CU_ASSERT_EQUAL(db_migrate_up(test_conn, NULL, err, sizeof err), -1);
	CU_ASSERT_STRING_EQUAL(err, "database is at migration 9999 which this build does "
	    "not have: upgrade mailroom");
	test_db_migrate_no_lock_left();
	CU_ASSERT_EQUAL(db_migrate_check(test_conn, err, sizeof err), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "migration 9999 which this build does not have"));
	/* Reverting it would need a down this build does not have. */
	CU_ASSERT_EQUAL(db_migrate_down(test_conn, 1, NULL, err, sizeof err), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "migration 9999"));

	test_db_migrate_output_open(&o);
	CU_ASSERT_EQUAL(db_migrate_status(test_conn, o.f, err, sizeof err), 0);
	test_db_migrate_status_of(&o, "9999_future", state, sizeof state);
	CU_ASSERT_PTR_NOT_NULL(strstr(state, "UNKNOWN"));
	test_db_migrate_output_close(&o);

	test_db_migrate_sql_ok(test_conn,
	    "DELETE FROM schema_migrations WHERE version = 9999", 0, NULL);
	CU_ASSERT_EQUAL(db_migrate_check(test_conn, err, sizeof err), 0);
}

static void
test_db_migrate_down_too_many(void)
{
	char err[512];
	int n = (int)db_migrations_count + 1;

	CU_ASSERT_EQUAL(db_migrate_down(test_conn, n, NULL, err, sizeof err), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "cannot revert"));
	CU_ASSERT_EQUAL(test_db_migrate_applied(), (long)db_migrations_count);
	CU_ASSERT_EQUAL(db_migrate_check(test_conn, err, sizeof err), 0);
	CU_ASSERT_EQUAL(db_migrate_down(test_conn, 0, NULL, err, sizeof err), -1);
	CU_ASSERT_EQUAL(db_migrate_down(test_conn, -1, NULL, err, sizeof err), -1);
	CU_ASSERT_EQUAL(test_db_migrate_applied(), (long)db_migrations_count);
	test_db_migrate_no_lock_left();
}

static void
test_db_migrate_down_one(void)
{
	const struct db_migration *newest = &db_migrations[db_migrations_count - 1];
	struct test_output o;
	char err[512], *line, state[128];

	test_db_migrate_output_open(&o);
	CU_ASSERT_EQUAL(db_migrate_down(test_conn, 1, o.f, err, sizeof err), 1);
	line = xasprintf("reverted %s (", newest->name);
	CU_ASSERT_PTR_NOT_NULL(strstr(test_db_migrate_output(&o), line));
	free(line);
	test_db_migrate_output_close(&o);
	CU_ASSERT_EQUAL(test_db_migrate_applied(), (long)db_migrations_count - 1);

	CU_ASSERT_EQUAL(db_migrate_check(test_conn, err, sizeof err), -1);
	line = xasprintf("migration %s is not applied", newest->name);
	CU_ASSERT_STRING_EQUAL(err, line);
	free(line);

	test_db_migrate_output_open(&o);
	CU_ASSERT_EQUAL(db_migrate_status(test_conn, o.f, err, sizeof err), 0);
	test_db_migrate_status_of(&o, newest->name, state, sizeof state);
	CU_ASSERT_STRING_EQUAL(state, "pending");
	test_db_migrate_output_close(&o);

	/* Applying it again works only if the down really removed what the up made. */
	CU_ASSERT_EQUAL(db_migrate_up(test_conn, NULL, err, sizeof err), 1);
	CU_ASSERT_EQUAL(db_migrate_check(test_conn, err, sizeof err), 0);
}

static void
test_db_migrate_down_all(void)
{
	char err[512];
	int n = (int)db_migrations_count;

	CU_ASSERT_EQUAL(db_migrate_down(test_conn, n, NULL, err, sizeof err), n);
	CU_ASSERT_EQUAL(test_db_migrate_applied(), 0);
	CU_ASSERT_EQUAL(test_db_migrate_count(
	    "SELECT count(*) FROM pg_class WHERE relname = 'instance'"), 0);
	CU_ASSERT_EQUAL(test_db_migrate_count(
	    "SELECT count(*) FROM pg_extension WHERE extname = 'citext'"), 0);
	test_db_migrate_no_lock_left();
}

static void
test_db_migrate_failure_rolls_back(void)
{
	char err[512];

	/* An object in the way makes 0001 fail part-way through. */
	test_db_migrate_sql_ok(test_conn, "CREATE TABLE instance (x int)", 0, NULL);
	CU_ASSERT_EQUAL(db_migrate_up(test_conn, NULL, err, sizeof err), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "migration 0001_init failed: relation "
	    "\"instance\" already exists (SQLSTATE 42P07)"));
	/* Nothing of it stays: the extension it created first was rolled back. */
	CU_ASSERT_EQUAL(test_db_migrate_applied(), 0);
	CU_ASSERT_EQUAL(test_db_migrate_count(
	    "SELECT count(*) FROM pg_extension WHERE extname = 'citext'"), 0);
	CU_ASSERT(PQtransactionStatus(test_conn) == PQTRANS_IDLE);
	test_db_migrate_no_lock_left();

	test_db_migrate_sql_ok(test_conn, "DROP TABLE instance", 0, NULL);
	CU_ASSERT_EQUAL(db_migrate_up(test_conn, NULL, err, sizeof err),
	    (int)db_migrations_count);
}

static void
test_db_migrate_in_transaction(void)
{
	char err[512];

	test_db_migrate_sql_ok(test_conn, "BEGIN", 0, NULL);
	CU_ASSERT_EQUAL(db_migrate_up(test_conn, NULL, err, sizeof err), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "inside a transaction"));
	test_db_migrate_sql_ok(test_conn, "ROLLBACK", 0, NULL);
}

int
main(void)
{
	CU_pSuite suite;
	unsigned int failures;

	if (sodium_init() < 0)
		fatal("sodium_init failed");
	if (CU_initialize_registry() != CUE_SUCCESS)
		fatal("CU_initialize_registry failed");

	suite = CU_add_suite("db-migrate", NULL, NULL);
	CU_add_test(suite, "checksum known vector", test_db_migrate_checksum_vector);
	CU_add_test(suite, "embedded migrations", test_db_migrate_embedded);
	CU_add_test(suite, "sql-embed.sh", test_db_migrate_embed_script);

	test_admin_url = getenv("MAILROOM_TEST_DATABASE_URL");
	if (test_admin_url != NULL && *test_admin_url != '\0') {
		suite = CU_add_suite("db-migrate with a database", test_db_migrate_db_init,
		    test_db_migrate_db_clean);
		/* In order: each test starts from the state the previous one left. */
		CU_add_test(suite, "up applies all, then nothing", test_db_migrate_up);
		CU_add_test(suite, "status lists applied", test_db_migrate_status_applied);
		CU_add_test(suite, "check passes", test_db_migrate_check_ok);
		CU_add_test(suite, "changed checksum refused", test_db_migrate_changed);
		CU_add_test(suite, "unknown version refused", test_db_migrate_unknown);
		CU_add_test(suite, "down too many changes nothing",
		    test_db_migrate_down_too_many);
		CU_add_test(suite, "down 1 and up again", test_db_migrate_down_one);
		CU_add_test(suite, "down all", test_db_migrate_down_all);
		CU_add_test(suite, "failed migration rolls back",
		    test_db_migrate_failure_rolls_back);
		CU_add_test(suite, "refuses inside a transaction",
		    test_db_migrate_in_transaction);
	}

	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	failures = CU_get_number_of_failures() + CU_get_number_of_suites_failed();
	CU_cleanup_registry();
	if (failures > 0 || CU_get_error() != CUE_SUCCESS)
		return 1;
	if (test_admin_url == NULL || *test_admin_url == '\0') {
		printf("SKIP: MAILROOM_TEST_DATABASE_URL not set\n");
		return TEST_SKIP;
	}
	return 0;
}
