/* test-mailacct.c: mail accounts against a database of their own (unit-db.h; skipped
 * without MAILROOM_TEST_DATABASE_URL): create and load with and without the vault, owners,
 * duplicates, a tampered or moved credential, states, new secrets, listing, queueing a
 * sync and removal with the account's data and jobs. */
#include "config.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "mailacct.h"
#include "unit.h"
#include "unit-db.h"
#include "vault.h"

static PGconn *conn;
static struct vault *vault;
static int64_t alice, bob;

static const char secret[] = "s3cret-imap-pass\xc3\xa9";

/* The value of a one-row, one-column query as a long (-1 when no row or NULL). */
static long
q_long(const char *fmt, ...) MR_PRINTF(1, 2);
static long
q_long(const char *fmt, ...)
{
	char sql[1024];
	va_list ap;
	PGresult *r;
	long v = -1;

	va_start(ap, fmt);
	vsnprintf(sql, sizeof sql, fmt, ap);
	va_end(ap);
	r = PQexec(conn, sql);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		fprintf(stderr, "%s: %s", sql, PQerrorMessage(conn));
		exit(1);
	}
	if (PQntuples(r) == 1 && !PQgetisnull(r, 0, 0))
		v = strtol(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	return v;
}

static int64_t
make_user(const char *email)
{
	char sql[256];

	snprintf(sql, sizeof sql, "INSERT INTO users (email, display_name, password_hash) "
	    "VALUES ('%s', 'U', '$argon2id$x') ON CONFLICT DO NOTHING", email);
	unit_db_exec(conn, sql);
	snprintf(sql, sizeof sql, "SELECT id FROM users WHERE email = '%s'", email);
	return q_long("%s", sql);
}

static void
settings(struct imap_settings *s)
{
	memset(s, 0, sizeof *s);
	s->host = "imap.example.org";
	s->port = 0;
	s->security = IMAP_SECURITY_STARTTLS;
	s->username = "alice";
	s->auth = IMAP_AUTH_PLAIN;
	s->secret = secret;
}

static int64_t
create(int64_t user, const char *address)
{
	struct imap_settings s;
	char err[256];
	int64_t id;

	settings(&s);
	id = mailacct_create(conn, vault, user, address, "Alice", &s, err, sizeof err);
	if (id < 0)
		fprintf(stderr, "create: %s\n", err);
	return id;
}

static void
test_create_load(void)
{
	struct mailacct a;
	char err[256];
	int64_t id;

	mr_config.imap_timeout = 42;
	mr_config.imap_allow_private = 1;
	mr_config.imap_ca_file = "/tmp/ca.pem";
	id = create(alice, "alice@example.org");
	CU_ASSERT_FATAL(id > 0);
	/* The settings column holds no secret; the port 0 became STARTTLS's 143. */
	CU_ASSERT_EQUAL(q_long("SELECT count(*) FROM mail_accounts WHERE id = %" PRId64
	    " AND settings = '{\"host\": \"imap.example.org\", \"port\": 143, \"security\": "
	    "\"starttls\", \"username\": \"alice\", \"auth\": \"plain\"}'::jsonb "
	    "AND sync_state = 'new' AND provider = 'imap'", id), 1);
	CU_ASSERT_EQUAL(q_long("SELECT position('s3cret'::bytea IN credentials) FROM "
	    "mail_accounts WHERE id = %" PRId64, id), 0);

	CU_ASSERT_EQUAL_FATAL(mailacct_load(conn, vault, alice, id, &a, err, sizeof err), 1);
	CU_ASSERT_EQUAL(a.id, id);
	CU_ASSERT_EQUAL(a.user_id, alice);
	CU_ASSERT_STRING_EQUAL(a.provider, "imap");
	CU_ASSERT_STRING_EQUAL(a.address, "alice@example.org");
	CU_ASSERT_STRING_EQUAL(a.display_name, "Alice");
	CU_ASSERT_STRING_EQUAL(a.imap.host, "imap.example.org");
	CU_ASSERT_EQUAL(a.imap.port, 143);
	CU_ASSERT_EQUAL(a.imap.security, IMAP_SECURITY_STARTTLS);
	CU_ASSERT_EQUAL(a.imap.auth, IMAP_AUTH_PLAIN);
	CU_ASSERT_STRING_EQUAL(a.imap.username, "alice");
	CU_ASSERT_PTR_NOT_NULL_FATAL(a.imap.secret);
	CU_ASSERT_STRING_EQUAL(a.imap.secret, secret);
	CU_ASSERT_EQUAL(a.imap.timeout, 42);
	CU_ASSERT_EQUAL(a.imap.allow_private, 1);
	CU_ASSERT_STRING_EQUAL(a.imap.ca_file, "/tmp/ca.pem");
	CU_ASSERT_STRING_EQUAL(a.sync_state, "new");
	CU_ASSERT_PTR_NULL(a.last_error);
	mailacct_free(&a);
	CU_ASSERT_PTR_NULL(a.imap.secret);
	CU_ASSERT_PTR_NULL(a.address);

	/* Without the vault: everything but the secret. */
	CU_ASSERT_EQUAL_FATAL(mailacct_load(conn, NULL, alice, id, &a, err, sizeof err), 1);
	CU_ASSERT_PTR_NULL(a.imap.secret);
	CU_ASSERT_STRING_EQUAL(a.imap.host, "imap.example.org");
	mailacct_free(&a);
}

static void
test_owner_and_duplicates(void)
{
	struct mailacct a;
	struct imap_settings s;
	char err[256];
	int64_t id, other;

	id = create(alice, "owner@example.org");
	CU_ASSERT_FATAL(id > 0);
	/* Another user's id behaves as one that does not exist. */
	CU_ASSERT_EQUAL(mailacct_load(conn, vault, bob, id, &a, err, sizeof err), 0);
	CU_ASSERT_EQUAL(mailacct_load(conn, vault, alice, id + 1000, &a, err, sizeof err), 0);
	CU_ASSERT_EQUAL(mailacct_set_secret(conn, vault, bob, id, "x", err, sizeof err), 0);
	CU_ASSERT_EQUAL(mailacct_delete(conn, bob, id, err, sizeof err), 0);
	CU_ASSERT_EQUAL(q_long("SELECT count(*) FROM mail_accounts WHERE id = %" PRId64, id), 1);
	CU_ASSERT_EQUAL(mailacct_set_state(conn, bob, id, "error", "nope"), 0);
	CU_ASSERT_EQUAL(q_long("SELECT count(*) FROM mail_accounts WHERE id = %" PRId64
	    " AND sync_state = 'new' AND last_error IS NULL", id), 1);

	/* The same address again (in another case: citext) changes nothing; another user
	 * may connect it. */
	CU_ASSERT_EQUAL(create(alice, "Owner@Example.org"), 0);
	CU_ASSERT_EQUAL(q_long("SELECT count(*) FROM mail_accounts WHERE user_id = %" PRId64
	    " AND address = 'owner@example.org'", alice), 1);
	other = create(bob, "owner@example.org");
	CU_ASSERT(other > 0 && other != id);

	/* Bad input is refused before the database; a user that does not exist is an
	 * error, not a row. */
	settings(&s);
	s.host = "";
	CU_ASSERT_EQUAL(mailacct_create(conn, vault, alice, "x@example.org", "", &s, err,
	    sizeof err), -1);
	settings(&s);
	CU_ASSERT_EQUAL(mailacct_create(conn, vault, 0, "x@example.org", "", &s, err,
	    sizeof err), -1);
	CU_ASSERT_EQUAL(mailacct_create(conn, vault, bob + 1000, "x@example.org", "", &s, err,
	    sizeof err), -1);
	/* No vault, no secret stored. */
	CU_ASSERT_EQUAL(mailacct_create(conn, NULL, alice, "x@example.org", "", &s, err,
	    sizeof err), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "vault"));
	CU_ASSERT_EQUAL(q_long("SELECT count(*) FROM mail_accounts WHERE address = "
	    "'x@example.org'"), 0);
}

static void
test_tampered(void)
{
	struct mailacct a;
	char err[256];
	int64_t id, id2;

	id = create(alice, "tamper@example.org");
	id2 = create(alice, "tamper2@example.org");
	CU_ASSERT_FATAL(id > 0 && id2 > 0);
	/* One flipped byte in the ciphertext. */
	unit_db_exec(conn, "UPDATE mail_accounts SET credentials = set_byte(credentials, "
	    "length(credentials) - 3, get_byte(credentials, length(credentials) - 3) # 1) "
	    "WHERE address = 'tamper@example.org'");
	CU_ASSERT_EQUAL(mailacct_load(conn, vault, alice, id, &a, err, sizeof err), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "cannot be opened"));
	CU_ASSERT_PTR_NULL(strstr(err, "s3cret"));
	CU_ASSERT_PTR_NULL(a.address);
	/* Without the vault the account still loads (the list pages need no secret). */
	CU_ASSERT_EQUAL(mailacct_load(conn, NULL, alice, id, &a, err, sizeof err), 1);
	mailacct_free(&a);
	/* A valid credential copied to another row opens nowhere. */
	unit_db_exec(conn, "UPDATE mail_accounts SET credentials = (SELECT credentials FROM "
	    "mail_accounts WHERE address = 'tamper2@example.org') "
	    "WHERE address = 'tamper@example.org'");
	CU_ASSERT_EQUAL(mailacct_load(conn, vault, alice, id, &a, err, sizeof err), -1);
	CU_ASSERT_EQUAL(mailacct_load(conn, vault, alice, id2, &a, err, sizeof err), 1);
	mailacct_free(&a);
	/* Settings that are not ours are an error, not a guess. */
	unit_db_exec(conn, "UPDATE mail_accounts SET settings = settings || "
	    "'{\"security\": \"ssl\"}' WHERE address = 'tamper2@example.org'");
	CU_ASSERT_EQUAL(mailacct_load(conn, NULL, alice, id2, &a, err, sizeof err), -1);
}

static void
test_set_state(void)
{
	struct mailacct a;
	char err[256], big[3000];
	int64_t id;

	id = create(alice, "state@example.org");
	CU_ASSERT_FATAL(id > 0);
	CU_ASSERT_EQUAL(mailacct_set_state(conn, alice, id, "syncing", NULL), 0);
	CU_ASSERT_EQUAL(q_long("SELECT count(*) FROM mail_accounts WHERE id = %" PRId64
	    " AND sync_state = 'syncing' AND last_sync_at IS NULL", id), 1);
	CU_ASSERT_EQUAL(mailacct_set_state(conn, alice, id, "error",
	    "[AUTHENTICATIONFAILED] Authentication failed.\x01\xff"), 0);
	CU_ASSERT_EQUAL(mailacct_load(conn, NULL, alice, id, &a, err, sizeof err), 1);
	CU_ASSERT_STRING_EQUAL(a.sync_state, "error");
	CU_ASSERT_STRING_EQUAL(a.last_error, "[AUTHENTICATIONFAILED] Authentication failed.??");
	mailacct_free(&a);
	CU_ASSERT_EQUAL(q_long("SELECT count(*) FROM mail_accounts WHERE id = %" PRId64
	    " AND last_error_at IS NOT NULL AND last_sync_at IS NULL", id), 1);
	CU_ASSERT_EQUAL(mailacct_set_state(conn, alice, id, "idle", NULL), 0);
	CU_ASSERT_EQUAL(q_long("SELECT count(*) FROM mail_accounts WHERE id = %" PRId64
	    " AND sync_state = 'idle' AND last_error IS NULL AND last_sync_at IS NOT NULL "
	    "AND last_error_at IS NOT NULL", id), 1);
	/* A long error is cut at a character boundary (2-byte characters, 2000 bytes). */
	for (size_t i = 0; i + 2 < sizeof big; i += 2)
		memcpy(big + i, "\xc3\xa9", 2);
	big[sizeof big - 2] = '\0';
	CU_ASSERT_EQUAL(mailacct_set_state(conn, alice, id, "error", big), 0);
	CU_ASSERT_EQUAL(q_long("SELECT octet_length(last_error) FROM mail_accounts WHERE id = %"
	    PRId64, id), 2000);
	/* Not a state. */
	CU_ASSERT_EQUAL(mailacct_set_state(conn, alice, id, "bogus", NULL), -1);
	CU_ASSERT_EQUAL(mailacct_set_state(conn, alice, id, NULL, NULL), -1);
}

static void
test_secret_list_delete(void)
{
	struct mailacct_info *l;
	struct mailacct a;
	char err[256];
	int64_t id, job;
	long n, i;

	id = create(alice, "life@example.org");
	CU_ASSERT_FATAL(id > 0);
	CU_ASSERT_EQUAL(mailacct_set_state(conn, alice, id, "error", "bad password"), 0);
	CU_ASSERT_EQUAL(mailacct_set_secret(conn, vault, alice, id, "new-pass", err, sizeof err),
	    1);
	CU_ASSERT_EQUAL(mailacct_load(conn, vault, alice, id, &a, err, sizeof err), 1);
	CU_ASSERT_STRING_EQUAL(a.imap.secret, "new-pass");
	CU_ASSERT_STRING_EQUAL(a.sync_state, "new");
	CU_ASSERT_PTR_NULL(a.last_error);
	mailacct_free(&a);

	/* Queueing twice gives the same live job. */
	job = mailacct_queue_sync(conn, alice, id, err, sizeof err);
	CU_ASSERT(job > 0);
	CU_ASSERT_EQUAL(mailacct_queue_sync(conn, alice, id, err, sizeof err), job);
	CU_ASSERT_EQUAL(q_long("SELECT count(*) FROM jobs WHERE kind = 'sync' AND user_id = %"
	    PRId64 " AND (payload->>'account_id')::bigint = %" PRId64, alice, id), 1);

	/* A folder and a message, to see them go with the account. */
	unit_db_exec(conn, "INSERT INTO mail_folders (account_id, user_id, name) "
	    "SELECT id, user_id, 'INBOX' FROM mail_accounts WHERE address = 'life@example.org'");
	unit_db_exec(conn, "INSERT INTO mail_messages (account_id, user_id, message_id) "
	    "SELECT id, user_id, 'm1@x' FROM mail_accounts WHERE address = 'life@example.org'");

	n = mailacct_list(conn, alice, 0, &l, err, sizeof err);
	CU_ASSERT_FATAL(n >= 1);
	for (i = 0; i < n && l[i].id != id; i++)
		;
	CU_ASSERT_FATAL(i < n);
	CU_ASSERT_STRING_EQUAL(l[i].address, "life@example.org");
	CU_ASSERT_STRING_EQUAL(l[i].host, "imap.example.org");
	CU_ASSERT_EQUAL(l[i].port, 143);
	CU_ASSERT_STRING_EQUAL(l[i].security, "starttls");
	CU_ASSERT_STRING_EQUAL(l[i].auth, "plain");
	CU_ASSERT_EQUAL(l[i].messages, 1);
	CU_ASSERT_EQUAL(l[i].folders, 1);
	CU_ASSERT_EQUAL(l[i].sync_queued, 1);
	CU_ASSERT_PTR_NULL(l[i].last_sync_at);
	for (long k = 0; k < n; k++)
		CU_ASSERT_EQUAL(l[k].user_id, alice);
	mailacct_list_free(l, n);
	/* One account; another user's gives none. */
	CU_ASSERT_EQUAL(mailacct_list(conn, alice, id, &l, err, sizeof err), 1);
	mailacct_list_free(l, 1);
	CU_ASSERT_EQUAL(mailacct_list(conn, bob, id, &l, err, sizeof err), 0);
	CU_ASSERT_PTR_NULL(l);

	CU_ASSERT_EQUAL(mailacct_delete(conn, alice, id, err, sizeof err), 1);
	CU_ASSERT_EQUAL(mailacct_delete(conn, alice, id, err, sizeof err), 0);
	CU_ASSERT_EQUAL(q_long("SELECT count(*) FROM mail_folders WHERE account_id = %" PRId64,
	    id), 0);
	CU_ASSERT_EQUAL(q_long("SELECT count(*) FROM mail_messages WHERE account_id = %" PRId64,
	    id), 0);
	CU_ASSERT_EQUAL(q_long("SELECT count(*) FROM jobs WHERE id = %" PRId64, job), 0);
	CU_ASSERT_EQUAL(PQtransactionStatus(conn), PQTRANS_IDLE);
}

/* The fields mailacct_check refused, as "a,b,". */
static char refused[256];

static void
collect(void *arg, const char *field, const char *message)
{
	(void)arg;
	CU_ASSERT(message != NULL && *message != '\0');
	strncat(refused, field, sizeof refused - strlen(refused) - 2);
	strcat(refused, ",");
}

static int
check(const struct mailacct_input *in, int need_account, struct imap_settings *s)
{
	refused[0] = '\0';
	return mailacct_check(in, need_account, s, collect, NULL);
}

static void
test_check(void)
{
	struct mailacct_input ok = { "ada@example.org", "", "imap.example.org", "", "", "", "",
	    "pw" }, in;
	struct imap_settings s;
	static const struct {
		const char *field, *value, *refused;
	} bad[] = {
		{ "port", "0", "port," }, { "port", "70000", "port," }, { "port", "14x", "port," },
		{ "host", "", "host," }, { "host", "imaps://x", "host," }, { "host", "h:993", "host," },
		{ "host", "-x", "host," }, { "host", "a b", "host," },
		{ "security", "ssl", "security," }, { "auth", "xoauth2", "auth," },
		{ "auth", "cram", "auth," }, { "secret", "", "secret," },
		{ "secret", "a\r\nb", "secret," }, { "address", "ada", "address," },
		{ "address", "@x.org", "address," }, { "address", "a da@x.org", "address," },
		{ "username", "a\x01", "username," }, { "display_name", "\x7f", "display_name," },
	};

	mr_config.imap_timeout = 7;
	/* Defaults: TLS, auto, the address as user name, port 0 (the usual one). */
	CU_ASSERT_EQUAL(check(&ok, 1, &s), 0);
	CU_ASSERT_STRING_EQUAL(s.host, "imap.example.org");
	CU_ASSERT_EQUAL(s.port, 0);
	CU_ASSERT_EQUAL(s.security, IMAP_SECURITY_TLS);
	CU_ASSERT_EQUAL(s.auth, IMAP_AUTH_AUTO);
	CU_ASSERT_STRING_EQUAL(s.username, "ada@example.org");
	CU_ASSERT_STRING_EQUAL(s.secret, "pw");
	CU_ASSERT_EQUAL(s.timeout, 7);
	in = ok;
	in.port = "143";
	in.security = "none";
	in.auth = "login";
	in.username = "ada";
	in.host = "fe80::1";
	CU_ASSERT_EQUAL(check(&in, 1, &s), 0);
	CU_ASSERT_EQUAL(s.port, 143);
	CU_ASSERT_EQUAL(s.security, IMAP_SECURITY_NONE);
	CU_ASSERT_EQUAL(s.auth, IMAP_AUTH_LOGIN);
	CU_ASSERT_STRING_EQUAL(s.username, "ada");
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		in = ok;
		if (strcmp(bad[i].field, "port") == 0) in.port = bad[i].value;
		if (strcmp(bad[i].field, "host") == 0) in.host = bad[i].value;
		if (strcmp(bad[i].field, "security") == 0) in.security = bad[i].value;
		if (strcmp(bad[i].field, "auth") == 0) in.auth = bad[i].value;
		if (strcmp(bad[i].field, "secret") == 0) in.secret = bad[i].value;
		if (strcmp(bad[i].field, "address") == 0) in.address = bad[i].value;
		if (strcmp(bad[i].field, "username") == 0) in.username = bad[i].value;
		if (strcmp(bad[i].field, "display_name") == 0) in.display_name = bad[i].value;
		CU_ASSERT_EQUAL(check(&in, 1, &s), 1);
		CU_ASSERT_STRING_EQUAL(refused, bad[i].refused);
	}
	/* Without the account's fields, the address is not looked at; with none of them
	 * at all, each is named. */
	in = ok;
	in.address = NULL;
	in.username = "ada";
	CU_ASSERT_EQUAL(check(&in, 0, &s), 0);
	memset(&in, 0, sizeof in);
	CU_ASSERT_EQUAL(check(&in, 1, &s), 3);
	CU_ASSERT_STRING_EQUAL(refused, "address,host,secret,");
}

int
main(void)
{
	static const struct unit_test tests[] = {
		{ "create and load, with and without the vault", test_create_load },
		{ "owners and duplicates", test_owner_and_duplicates },
		{ "tampered and moved credentials", test_tampered },
		{ "sync state", test_set_state },
		{ "new secret, list, queue, delete", test_secret_list_delete },
		{ "input checks", test_check },
		{ NULL, NULL }
	};
	char line[VAULT_KEY_LINE_MAX], err[256];
	int rc;

	if (unit_db_create() == NULL) {
		fprintf(stderr, "test-mailacct: MAILROOM_TEST_DATABASE_URL not set: skipped\n");
		return UNIT_DB_SKIP;
	}
	if (sodium_init() < 0 || vault_keygen("test", line) == -1 ||
	    vault_load_string(&vault, line, "TEST", err, sizeof err) != 0) {
		fprintf(stderr, "test-mailacct: vault: %s\n", err);
		return 1;
	}
	conn = unit_db_connect();
	alice = make_user("alice@example.org");
	bob = make_user("bob@example.org");
	rc = unit_run("mailacct", tests);
	PQfinish(conn);
	vault_free(vault);
	unit_db_drop();
	return rc;
}
