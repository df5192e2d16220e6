/* test-sync.c: sync_account against a real Dovecot (contrib/dovecot, on loopback in a
 * temporary directory) and a database of its own (unit-db.h). The mailbox is seeded and
 * changed by other clients (contrib/dovecot append, curl); after each sync the Message-IDs
 * stored for every folder must be exactly the server's: backfill within the limits, new
 * mail, flags, expunges, a message moved to Archive, a UIDVALIDITY reset (no duplicate, the
 * same message rows), a refused login, the server stopped in the middle of a sync, a sync
 * told to stop half way, and servers without QRESYNC or CONDSTORE.
 *
 * Skipped (77) without MAILROOM_TEST_DATABASE_URL, or without Dovecot unless CI is set. */
#include "config.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sodium.h>

#include "jobs.h"
#include "mailacct.h"
#include "sync.h"
#include "unit.h"
#include "unit-db.h"
#include "util.h"
#include "vault.h"

static PGconn *conn;
static struct vault *vault;
static char dovecot[1024];	/* the contrib/dovecot script */
static char dir[256];		/* the server's directory */
static int port;
static int64_t user1, user2;

/* ---- helpers -------------------------------------------------------------------------- */

/* The value of a one-row, one-column query ("" for NULL, "<none>" for no row). It stays
 * valid for the next Q_KEEP calls, long enough for an assertion or two, and is freed then
 * (or at the end: q(NULL)). */
#define Q_KEEP 8
static char *
q(const char *fmt, ...) MR_PRINTF(1, 2);
static char *
q(const char *fmt, ...)
{
	static char *kept[Q_KEEP];
	static size_t next;
	char sql[4096];
	va_list ap;
	PGresult *r;
	char *v;

	free(kept[next]);
	kept[next] = NULL;
	if (fmt == NULL) {
		for (size_t i = 0; i < Q_KEEP; i++) {
			free(kept[i]);
			kept[i] = NULL;
		}
		return NULL;
	}

	va_start(ap, fmt);
	vsnprintf(sql, sizeof sql, fmt, ap);
	va_end(ap);
	r = PQexec(conn, sql);
	if (PQresultStatus(r) != PGRES_TUPLES_OK && PQresultStatus(r) != PGRES_COMMAND_OK) {
		fprintf(stderr, "%s: %s", sql, PQerrorMessage(conn));
		exit(1);
	}
	v = xstrdup(PQntuples(r) == 0 ? "<none>" : PQgetisnull(r, 0, 0) ? "" :
	    PQgetvalue(r, 0, 0));
	PQclear(r);
	kept[next] = v;
	next = (next + 1) % Q_KEEP;
	return v;
}

static long
ql(const char *fmt, ...) MR_PRINTF(1, 2);
static long
ql(const char *fmt, ...)
{
	char sql[4096], *v;
	va_list ap;
	long n;

	va_start(ap, fmt);
	vsnprintf(sql, sizeof sql, fmt, ap);
	va_end(ap);
	v = q("%s", sql);
	n = strtol(v, NULL, 10);
	return n;
}

/* Runs a shell command; returns its exit status. */
static int
sh(const char *fmt, ...) MR_PRINTF(1, 2);
static int
sh(const char *fmt, ...)
{
	char cmd[65536];
	va_list ap;
	int rc;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof cmd, fmt, ap);
	va_end(ap);
	rc = system(cmd);
	if (rc != 0)
		fprintf(stderr, "test-sync: command failed (%d): %.200s\n", rc, cmd);
	return rc;
}

/* The output of a command, malloc'd. */
static char *
sh_out(const char *fmt, ...) MR_PRINTF(1, 2);
static char *
sh_out(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;
	FILE *p;
	size_t cap = 4096, len = 0, n;
	char *out = xmalloc(cap);

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof cmd, fmt, ap);
	va_end(ap);
	p = popen(cmd, "r");
	if (p == NULL)
		exit(1);
	while ((n = fread(out + len, 1, cap - len - 1, p)) > 0) {
		len += n;
		if (cap - len < 2)
			out = xreallocarray(out, 1, cap *= 2);
	}
	out[len] = '\0';
	pclose(p);
	return out;
}

/* Appends count generated messages tag-first..tag-(first+count-1) to folder of user.
 * Every fifth one replies to the one before it. Dates walk forward an hour at a time from
 * days_ago days ago. */
static void
append(const char *user, const char *folder, const char *tag, int first, int count,
    int days_ago)
{
	char *cmd = xmalloc(64 + (size_t)count * 300 + 2048);
	size_t len;
	time_t t0 = time(NULL) - (time_t)days_ago * 86400;

	len = (size_t)sprintf(cmd, "'%s' append '%s' '%s' %s-pass '%s'", dovecot, dir, user,
	    user, folder);
	for (int i = first; i < first + count; i++) {
		char path[512], date[64];
		time_t t = t0 + (time_t)(i - first) * 3600;
		struct tm tm;
		FILE *f;

		snprintf(path, sizeof path, "%s/msg/%s-%d.eml", dir, tag, i);
		f = fopen(path, "w");
		CU_ASSERT_PTR_NOT_NULL_FATAL(f);
		gmtime_r(&t, &tm);
		strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &tm);
		fprintf(f, "From: Sender %d <sender%d@example.net>\r\n"
		    "To: %s <%s@example.org>\r\n"
		    "Subject: %s message %d\r\n"
		    "Date: %s\r\n"
		    "Message-ID: <%s-%d@example.net>\r\n", i % 7, i % 7, user, user,
		    i % 5 == 0 ? "Re: about" : "about", i, date, tag, i);
		if (i % 5 == 0 && i > first)
			fprintf(f, "In-Reply-To: <%s-%d@example.net>\r\n", tag, i - 1);
		fprintf(f, "\r\nHello, this is message %d of %s.\r\n"
		    "A001 OK a line that looks like a tagged answer\r\n* BYE not really\r\n"
		    "Bye {5}\r\n", i, tag);
		fclose(f);
		len += (size_t)sprintf(cmd + len, " '%s'", path);
	}
	CU_ASSERT_EQUAL_FATAL(system(cmd), 0);
	free(cmd);
}

/* Runs an IMAP command in folder as user through curl (a client of its own). */
static int
imap_cmd(const char *user, const char *folder, const char *command)
{
	return sh("curl -s -S --max-time 20 'imap://127.0.0.1:%d/%s' -u '%s:%s-pass' "
	    "-X '%s' >/dev/null", port, folder, user, user, command);
}

/* The server's Message-IDs of folder, sorted, one per line. */
static char *
server_ids(const char *user, const char *folder)
{
	return sh_out("'%s' message-ids '%s' '%s' '%s' | LC_ALL=C sort", dovecot, dir, user,
	    folder);
}

/* The stored Message-IDs of folder (by location), sorted, one per line. */
static char *
stored_ids(int64_t account, const char *folder)
{
	PGresult *r;
	char sql[1024];
	size_t cap = 1024, len = 0;
	char *out = xmalloc(cap);

	snprintf(sql, sizeof sql, "SELECT m.message_id FROM mail_locations l "
	    "JOIN mail_folders f ON f.id = l.folder_id JOIN mail_messages m ON m.id = "
	    "l.message_id WHERE f.account_id = %" PRId64 " AND f.name = '%s' "
	    "ORDER BY m.message_id COLLATE \"C\"", account, folder);
	r = PQexec(conn, sql);
	CU_ASSERT_EQUAL_FATAL(PQresultStatus(r), PGRES_TUPLES_OK);
	out[0] = '\0';
	for (int i = 0; i < PQntuples(r); i++) {
		size_t n = strlen(PQgetvalue(r, i, 0));

		while (len + n + 2 > cap)
			out = xreallocarray(out, 1, cap *= 2);
		memcpy(out + len, PQgetvalue(r, i, 0), n);
		len += n;
		out[len++] = '\n';
		out[len] = '\0';
	}
	PQclear(r);
	return out;
}

static size_t
lines(const char *s)
{
	size_t n = 0;

	for (; *s != '\0'; s++)
		n += *s == '\n';
	return n;
}

/* The folder's stored Message-IDs are exactly the server's, and no message row is left
 * without a location. */
static void
check_exact(const char *user, int64_t account, const char *folder, size_t expect)
{
	char *a = server_ids(user, folder), *b = stored_ids(account, folder);

	CU_ASSERT_STRING_EQUAL(a, b);
	CU_ASSERT_EQUAL(lines(a), expect);
	if (strcmp(a, b) != 0 || lines(a) != expect)
		fprintf(stderr, "%s: server %zu, stored %zu\n", folder, lines(a), lines(b));
	CU_ASSERT_EQUAL(ql("SELECT count(*) FROM mail_messages m WHERE account_id = %" PRId64
	    " AND NOT EXISTS (SELECT 1 FROM mail_locations l WHERE l.message_id = m.id)",
	    account), 0);
	CU_ASSERT_EQUAL(ql("SELECT count(*) FROM mail_threads t WHERE account_id = %" PRId64
	    " AND message_count <> (SELECT count(*) FROM mail_messages m WHERE "
	    "m.thread_id = t.id)", account), 0);
	/* Each message's own folder and UID are one of its locations, with its flags. */
	CU_ASSERT_EQUAL(ql("SELECT count(*) FROM mail_messages m WHERE account_id = %" PRId64
	    " AND NOT EXISTS (SELECT 1 FROM mail_locations l WHERE l.message_id = m.id AND "
	    "l.folder_id = m.folder_id AND l.uid = m.uid AND l.flags @> m.flags AND "
	    "m.flags @> l.flags)", account), 0);
	free(a);
	free(b);
}

static int64_t
account(int64_t user, const char *login, const char *password)
{
	struct imap_settings s;
	char err[512], address[128];
	int64_t id;

	memset(&s, 0, sizeof s);
	s.host = "127.0.0.1";
	s.port = port;
	s.security = IMAP_SECURITY_NONE;
	s.username = login;
	s.auth = IMAP_AUTH_AUTO;
	s.secret = password;
	snprintf(address, sizeof address, "%s@example.org", login);
	id = mailacct_create(conn, vault, user, address, login, &s, err, sizeof err);
	if (id <= 0)
		fprintf(stderr, "mailacct_create: %s\n", err);
	CU_ASSERT_FATAL(id > 0);
	return id;
}

static enum provider_status
sync_once(int64_t user, int64_t acct, struct sync_stats *st)
{
	char err[1024];
	enum provider_status s = sync_account(conn, vault, user, acct, NULL, st, err,
	    sizeof err);

	if (s != PROVIDER_OK)
		fprintf(stderr, "sync: %d: %s\n", s, err);
	return s;
}

/* ---- tests ---------------------------------------------------------------------------- */

static int64_t alice;

static void
test_backfill(void)
{
	struct sync_stats st;

	append("alice", "INBOX", "a", 1, 60, 30);
	append("alice", "Sent", "s", 1, 5, 20);
	alice = account(user1, "alice", "alice-pass");
	CU_ASSERT_EQUAL(sync_once(user1, alice, &st), PROVIDER_OK);
	CU_ASSERT_EQUAL(st.stored, 65);
	CU_ASSERT(st.folders >= 2);
	check_exact("alice", alice, "INBOX", 60);
	check_exact("alice", alice, "Sent", 5);
	/* The Sent folder's messages are from the account's address: "sent"; the rest not. */
	CU_ASSERT_EQUAL(ql("SELECT count(*) FROM mail_messages WHERE account_id = %" PRId64
	    " AND direction = 'received'", alice), 65);
	CU_ASSERT_STRING_EQUAL(q("SELECT sync_state FROM mail_accounts WHERE id = %" PRId64,
	    alice), "idle");
	/* Threads: every fifth message replies to the one before. */
	CU_ASSERT_EQUAL(ql("SELECT count(*) FROM mail_threads WHERE account_id = %" PRId64
	    " AND message_count = 2", alice), 13);

	/* Nothing changed: nothing fetched. */
	CU_ASSERT_EQUAL(sync_once(user1, alice, &st), PROVIDER_OK);
	CU_ASSERT_EQUAL(st.fetched, 0);
	CU_ASSERT_EQUAL(st.stored, 0);
	check_exact("alice", alice, "INBOX", 60);
}

static void
test_new_mail(void)
{
	struct sync_stats st;

	append("alice", "INBOX", "a", 61, 7, 1);
	CU_ASSERT_EQUAL(sync_once(user1, alice, &st), PROVIDER_OK);
	CU_ASSERT_EQUAL(st.stored, 7);
	CU_ASSERT_EQUAL(st.fetched, 7);
	check_exact("alice", alice, "INBOX", 67);
}

static void
test_flags(void)
{
	struct sync_stats st;

	CU_ASSERT_EQUAL(imap_cmd("alice", "INBOX", "UID STORE 3,10 +FLAGS (\\Flagged $Work)"),
	    0);
	CU_ASSERT_EQUAL(imap_cmd("alice", "INBOX", "UID STORE 1:5 +FLAGS (\\Seen)"), 0);
	CU_ASSERT_EQUAL(sync_once(user1, alice, &st), PROVIDER_OK);
	CU_ASSERT(st.flag_changes >= 6);
	CU_ASSERT_EQUAL(ql("SELECT count(*) FROM mail_messages WHERE account_id = %" PRId64
	    " AND '\\Flagged' = ANY(flags) AND '$Work' = ANY(flags)", alice), 2);
	CU_ASSERT_EQUAL(ql("SELECT count(*) FROM mail_messages WHERE account_id = %" PRId64
	    " AND '\\Seen' = ANY(flags)", alice), 5);
	CU_ASSERT_EQUAL(ql("SELECT count(*) FROM mail_locations l JOIN mail_folders f ON "
	    "f.id = l.folder_id WHERE f.account_id = %" PRId64 " AND '\\Seen' = ANY(l.flags)",
	    alice), 5);
	/* Cleared again. */
	CU_ASSERT_EQUAL(imap_cmd("alice", "INBOX", "UID STORE 3 -FLAGS (\\Flagged)"), 0);
	CU_ASSERT_EQUAL(sync_once(user1, alice, &st), PROVIDER_OK);
	CU_ASSERT_EQUAL(ql("SELECT count(*) FROM mail_messages WHERE account_id = %" PRId64
	    " AND '\\Flagged' = ANY(flags)", alice), 1);
}

static void
test_expunge(void)
{
	struct sync_stats st;
	long threads = ql("SELECT count(*) FROM mail_threads WHERE account_id = %" PRId64,
	    alice);

	/* a-5 replies to a-4: their thread goes; a-20's parent a-19 stays. */
	CU_ASSERT_EQUAL(imap_cmd("alice", "INBOX", "UID STORE 4,5,20 +FLAGS.SILENT (\\Deleted)"),
	    0);
	CU_ASSERT_EQUAL(imap_cmd("alice", "INBOX", "EXPUNGE"), 0);
	CU_ASSERT_EQUAL(sync_once(user1, alice, &st), PROVIDER_OK);
	CU_ASSERT_EQUAL(st.expunged, 3);
	check_exact("alice", alice, "INBOX", 64);
	CU_ASSERT_EQUAL(ql("SELECT count(*) FROM mail_messages WHERE account_id = %" PRId64
	    " AND message_id IN ('a-4@example.net', 'a-5@example.net', 'a-20@example.net')",
	    alice), 0);
	CU_ASSERT_EQUAL(ql("SELECT count(*) FROM mail_threads WHERE account_id = %" PRId64,
	    alice), threads - 1);
}

static void
test_move(void)
{
	struct sync_stats st;
	char *row = xstrdup(q("SELECT id FROM mail_messages WHERE message_id = "
	    "'a-30@example.net' AND account_id = %" PRId64, alice));

	CU_ASSERT_EQUAL(imap_cmd("alice", "", "CREATE Archive (USE (\\Archive))"), 0);
	CU_ASSERT_EQUAL(imap_cmd("alice", "INBOX", "UID MOVE 30 Archive"), 0);
	CU_ASSERT_EQUAL(sync_once(user1, alice, &st), PROVIDER_OK);
	check_exact("alice", alice, "INBOX", 63);
	check_exact("alice", alice, "Archive", 1);
	/* The same row (its triage, later, stays with it), now in Archive. */
	CU_ASSERT_STRING_EQUAL(q("SELECT m.id FROM mail_messages m JOIN mail_folders f ON "
	    "f.id = m.folder_id WHERE m.message_id = 'a-30@example.net' AND f.role = "
	    "'archive' AND m.account_id = %" PRId64, alice), row);
	free(row);
}

static void
test_uidvalidity(void)
{
	struct sync_stats st;
	char *before = xstrdup(q("SELECT string_agg(id::text, ',' ORDER BY id) FROM "
	    "mail_messages WHERE account_id = %" PRId64, alice));
	char *uv = xstrdup(q("SELECT uidvalidity FROM mail_folders WHERE account_id = %" PRId64
	    " AND name = 'INBOX'", alice));

	CU_ASSERT_EQUAL(sh("'%s' uidvalidity-reset '%s' alice INBOX >/dev/null", dovecot,
	    dir), 0);
	CU_ASSERT_EQUAL(sync_once(user1, alice, &st), PROVIDER_OK);
	CU_ASSERT_EQUAL(st.stored, 0);
	CU_ASSERT_EQUAL(st.known, 63);
	check_exact("alice", alice, "INBOX", 63);
	CU_ASSERT_STRING_NOT_EQUAL(q("SELECT uidvalidity FROM mail_folders WHERE account_id = %"
	    PRId64 " AND name = 'INBOX'", alice), uv);
	CU_ASSERT_STRING_EQUAL(q("SELECT string_agg(id::text, ',' ORDER BY id) FROM "
	    "mail_messages WHERE account_id = %" PRId64, alice), before);
	/* The locations carry the new UIDs: a flag set now is seen. */
	CU_ASSERT_EQUAL(imap_cmd("alice", "INBOX", "UID STORE 1 +FLAGS (\\Answered)"), 0);
	CU_ASSERT_EQUAL(sync_once(user1, alice, &st), PROVIDER_OK);
	CU_ASSERT_EQUAL(ql("SELECT count(*) FROM mail_messages WHERE account_id = %" PRId64
	    " AND '\\Answered' = ANY(flags)", alice), 1);
	free(before);
	free(uv);
}

static void
test_wrong_password(void)
{
	struct sync_stats st;
	int64_t bad = account(user2, "bob", "not-the-password");
	char err[256], *e;

	CU_ASSERT_EQUAL(sync_once(user2, bad, &st), PROVIDER_AUTH);
	CU_ASSERT_STRING_EQUAL(q("SELECT sync_state FROM mail_accounts WHERE id = %" PRId64,
	    bad), "error");
	e = q("SELECT last_error FROM mail_accounts WHERE id = %" PRId64, bad);
	CU_ASSERT_PTR_NOT_NULL(strstr(e, "Authentication failed"));
	CU_ASSERT_EQUAL(ql("SELECT count(*) FROM mail_accounts WHERE id = %" PRId64
	    " AND auth_failed_at IS NOT NULL", bad), 1);
	/* The scheduler leaves it alone. */
	unit_db_exec(conn, "DELETE FROM jobs");
	CU_ASSERT(jobs_schedule_syncs(conn, 3, err, sizeof err) >= 1);
	CU_ASSERT_EQUAL(ql("SELECT count(*) FROM jobs WHERE unique_key = 'sync:%" PRId64 "'",
	    bad), 0);
	CU_ASSERT_EQUAL(ql("SELECT count(*) FROM jobs WHERE unique_key = 'sync:%" PRId64 "'",
	    alice), 1);
	unit_db_exec(conn, "DELETE FROM jobs");
	unit_db_exec(conn, "DELETE FROM mail_accounts WHERE address = 'bob@example.org'");
}

struct bg_sync {
	int64_t user, acct;
	atomic_int stop;
	enum provider_status s;
	struct sync_stats st;
	char err[1024];
};

static void *
bg_sync_run(void *arg)
{
	struct bg_sync *b = arg;
	PGconn *c = unit_db_connect();

	b->s = sync_account(c, vault, b->user, b->acct, &b->stop, &b->st, b->err,
	    sizeof b->err);
	PQfinish(c);
	return NULL;
}

/* Waits until acct has at least n messages stored (at most 60 s). */
static int
wait_stored(int64_t acct, long n)
{
	for (int i = 0; i < 6000; i++) {
		if (ql("SELECT count(*) FROM mail_messages WHERE account_id = %" PRId64, acct) >=
		    n)
			return 1;
		usleep(10000);
	}
	return 0;
}

static void
test_server_gone(void)
{
	struct bg_sync b;
	pthread_t t;
	int64_t bob;
	long got;

	append("bob", "INBOX", "b", 1, 1500, 70);
	bob = account(user2, "bob", "bob-pass");
	memset(&b, 0, sizeof b);
	b.user = user2;
	b.acct = bob;
	CU_ASSERT_EQUAL_FATAL(pthread_create(&t, NULL, bg_sync_run, &b), 0);
	CU_ASSERT(wait_stored(bob, 60));
	CU_ASSERT_EQUAL(sh("'%s' kill '%s'", dovecot, dir), 0);
	pthread_join(t, NULL);
	got = ql("SELECT count(*) FROM mail_messages WHERE account_id = %" PRId64, bob);
	fprintf(stderr, "server gone: %d after %ld of 1500 (%s)\n", b.s, got, b.err);
	CU_ASSERT_EQUAL(b.s, PROVIDER_NETWORK);
	CU_ASSERT(got >= 60 && got < 1500);
	CU_ASSERT_STRING_EQUAL(q("SELECT sync_state FROM mail_accounts WHERE id = %" PRId64,
	    bob), "error");

	CU_ASSERT_EQUAL_FATAL(sh("'%s' start '%s' %d >/dev/null", dovecot, dir, port), 0);
	CU_ASSERT_EQUAL(sync_once(user2, bob, &b.st), PROVIDER_OK);
	check_exact("bob", bob, "INBOX", 1500);
	CU_ASSERT_STRING_EQUAL(q("SELECT coalesce(last_error, '') || sync_state FROM "
	    "mail_accounts WHERE id = %" PRId64, bob), "idle");
}

static void
test_stop_and_resume(void)
{
	struct bg_sync b;
	pthread_t t;
	int64_t bob = ql("SELECT id FROM mail_accounts WHERE address = 'bob@example.org'");
	long got;

	/* New mail, a sync told to stop half way through it (a lost lease), then the rest. */
	append("bob", "INBOX", "b", 1501, 1000, 1);
	memset(&b, 0, sizeof b);
	b.user = user2;
	b.acct = bob;
	CU_ASSERT_EQUAL_FATAL(pthread_create(&t, NULL, bg_sync_run, &b), 0);
	CU_ASSERT(wait_stored(bob, 1600));
	atomic_store(&b.stop, 1);
	pthread_join(t, NULL);
	got = ql("SELECT count(*) FROM mail_messages WHERE account_id = %" PRId64, bob);
	fprintf(stderr, "stopped: %d after %ld of 2500\n", b.s, got);
	CU_ASSERT(got >= 1600 && got < 2500);
	/* More mail meanwhile: the rest of the old range comes first, then the new. */
	append("bob", "INBOX", "b", 2501, 20, 0);
	CU_ASSERT_EQUAL(sync_once(user2, bob, &b.st), PROVIDER_OK);
	CU_ASSERT_EQUAL((long)b.st.stored, 2520 - got);
	check_exact("bob", bob, "INBOX", 2520);
}

/* The same changes seen through the paths of servers without QRESYNC, then without
 * CONDSTORE either (a full listing). UIDs are the ones after the UIDVALIDITY reset. */
static void
test_without(unsigned caps, const char *keyword, int flag_uid, int gone_uid, size_t left)
{
	struct sync_stats st;
	char cmd[128];

	sync_ignore_caps = caps;
	snprintf(cmd, sizeof cmd, "UID STORE %d +FLAGS (%s)", flag_uid, keyword);
	CU_ASSERT_EQUAL(imap_cmd("alice", "INBOX", cmd), 0);
	snprintf(cmd, sizeof cmd, "UID STORE %d +FLAGS.SILENT (\\Deleted)", gone_uid);
	CU_ASSERT_EQUAL(imap_cmd("alice", "INBOX", cmd), 0);
	CU_ASSERT_EQUAL(imap_cmd("alice", "INBOX", "EXPUNGE"), 0);
	CU_ASSERT_EQUAL(sync_once(user1, alice, &st), PROVIDER_OK);
	CU_ASSERT_EQUAL(st.expunged, 1);
	CU_ASSERT_EQUAL(ql("SELECT count(*) FROM mail_messages WHERE account_id = %" PRId64
	    " AND '%s' = ANY(flags)", alice, keyword), 1);
	check_exact("alice", alice, "INBOX", left);
	sync_ignore_caps = 0;
}

static void
test_without_qresync(void)
{
	test_without(IMAP_CAP_QRESYNC, "$NoQresync", 7, 8, 62);
}

static void
test_without_condstore(void)
{
	/* a-1 is \Seen on the server; the database is made to think it is not. */
	unit_db_exec(conn, "UPDATE mail_messages SET flags = '{}' WHERE message_id = "
	    "'a-1@example.net'");
	unit_db_exec(conn, "UPDATE mail_locations SET flags = '{}' WHERE message_id = "
	    "(SELECT id FROM mail_messages WHERE message_id = 'a-1@example.net')");
	test_without(IMAP_CAP_QRESYNC | IMAP_CAP_CONDSTORE, "$Plain", 10, 11, 61);
	/* A full listing repairs it. */
	CU_ASSERT_EQUAL(ql("SELECT count(*) FROM mail_messages WHERE message_id = "
	    "'a-1@example.net' AND '\\Seen' = ANY(flags)"), 1);
	/* And QRESYNC takes over again from the modseq that path stored. */
	CU_ASSERT_EQUAL(imap_cmd("alice", "INBOX", "UID STORE 12 +FLAGS ($Again)"), 0);
	{
		struct sync_stats st;

		CU_ASSERT_EQUAL(sync_once(user1, alice, &st), PROVIDER_OK);
		CU_ASSERT_EQUAL(st.flag_changes, 1);
	}
	CU_ASSERT_EQUAL(ql("SELECT count(*) FROM mail_messages WHERE account_id = %" PRId64
	    " AND '$Again' = ANY(flags)", alice), 1);
}

/* The account's limit: only the newest N messages of a folder are fetched at first; new
 * mail later is not limited. */
static void
test_backfill_limit(void)
{
	struct sync_stats st;
	int64_t carol;
	char *ids;

	CU_ASSERT_EQUAL_FATAL(sh("'%s' adduser '%s' carol carol-pass", dovecot, dir), 0);
	append("carol", "INBOX", "c", 1, 30, 5);
	carol = account(user2, "carol", "carol-pass");
	unit_db_exec(conn, "UPDATE mail_accounts SET backfill_messages = 10 WHERE address = "
	    "'carol@example.org'");
	CU_ASSERT_EQUAL(sync_once(user2, carol, &st), PROVIDER_OK);
	CU_ASSERT_EQUAL(st.stored, 10);
	ids = stored_ids(carol, "INBOX");
	CU_ASSERT_STRING_EQUAL(ids, "c-21@example.net\nc-22@example.net\nc-23@example.net\n"
	    "c-24@example.net\nc-25@example.net\nc-26@example.net\nc-27@example.net\n"
	    "c-28@example.net\nc-29@example.net\nc-30@example.net\n");
	free(ids);
	CU_ASSERT_EQUAL(ql("SELECT count(*) FROM mail_folders WHERE account_id = %" PRId64
	    " AND name = 'INBOX' AND backfill_done", carol), 1);
	append("carol", "INBOX", "c", 31, 12, 0);
	CU_ASSERT_EQUAL(sync_once(user2, carol, &st), PROVIDER_OK);
	CU_ASSERT_EQUAL(st.stored, 12);
	CU_ASSERT_EQUAL(ql("SELECT count(*) FROM mail_messages WHERE account_id = %" PRId64,
	    carol), 22);
}

static void
test_ownership(void)
{
	struct sync_stats st;
	char err[512];

	/* Another user's account id is no account at all. */
	CU_ASSERT_EQUAL(sync_account(conn, vault, user2, alice, NULL, &st, err, sizeof err),
	    PROVIDER_GONE);
	CU_ASSERT_EQUAL(ql("SELECT count(*) FROM mail_messages WHERE user_id = %" PRId64
	    " AND account_id = %" PRId64, user2, alice), 0);
	CU_ASSERT_EQUAL(ql("SELECT count(*) FROM mail_locations l JOIN mail_messages m ON "
	    "m.id = l.message_id WHERE l.user_id <> m.user_id"), 0);
}

/* ---- set-up --------------------------------------------------------------------------- */

static int
dovecot_start(void)
{
	const char *env = getenv("MAILROOM_TEST_DOVECOT"), *src = getenv("srcdir");
	char *out, *p;

	if (env != NULL && *env != '\0')
		snprintf(dovecot, sizeof dovecot, "%s", env);
	else
		snprintf(dovecot, sizeof dovecot, "%s/contrib/dovecot",
		    src != NULL && *src != '\0' ? src : MR_SRCDIR);
	if (access("/usr/sbin/dovecot", X_OK) != 0) {
		const char *ci = getenv("CI");

		fprintf(stderr, "test-sync: Dovecot is not installed (Debian: dovecot-imapd)\n");
		return ci != NULL && strcmp(ci, "true") == 0 ? -1 : 0;
	}
	snprintf(dir, sizeof dir, "%s/mailroom-sync-XXXXXX",
	    getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp");
	if (mkdtemp(dir) == NULL)
		return -1;
	out = sh_out("'%s' start '%s'", dovecot, dir);
	p = strstr(out, "imap://127.0.0.1:");
	if (p == NULL) {
		fprintf(stderr, "test-sync: contrib/dovecot start: %s\n", out);
		free(out);
		return -1;
	}
	port = atoi(p + strlen("imap://127.0.0.1:"));
	free(out);
	/* The messages it appends are read by the script, which may run as another user. */
	if (sh("mkdir -p '%s/msg' && chmod 755 '%s/msg'", dir, dir) != 0)
		return -1;
	return 1;
}

int
main(void)
{
	static const struct unit_test tests[] = {
		{ "backfill of INBOX and Sent", test_backfill },
		{ "new mail", test_new_mail },
		{ "flags set and cleared by another client", test_flags },
		{ "expunged messages and their threads", test_expunge },
		{ "a message moved to Archive keeps its row", test_move },
		{ "UIDVALIDITY reset: no duplicate, same rows", test_uidvalidity },
		{ "wrong password", test_wrong_password },
		{ "the server goes away mid-sync", test_server_gone },
		{ "a sync stopped half way resumes", test_stop_and_resume },
		{ "a server without QRESYNC", test_without_qresync },
		{ "a server without CONDSTORE", test_without_condstore },
		{ "the backfill's message limit", test_backfill_limit },
		{ "ownership", test_ownership },
		{ NULL, NULL },
	};
	char err[512], key[VAULT_KEY_LINE_MAX];
	int rc, d;

	if (unit_db_create() == NULL) {
		fprintf(stderr, "skip: MAILROOM_TEST_DATABASE_URL not set\n");
		return UNIT_DB_SKIP;
	}
	d = dovecot_start();
	if (d <= 0) {
		unit_db_drop();
		return d == 0 ? UNIT_DB_SKIP : 1;
	}
	if (sodium_init() < 0 || vault_keygen("t1", key) != 0 ||
	    vault_load_string(&vault, key, "TEST", err, sizeof err) != 0) {
		fprintf(stderr, "test-sync: vault: %s\n", err);
		return 1;
	}
	mr_config.imap_allow_private = 1;
	mr_config.imap_timeout = 10;
	mr_config.backfill_messages = 5000;
	mr_config.backfill_days = 365;
	log_set_level(LOG_LEVEL_WARN);
	conn = unit_db_connect();
	unit_db_exec(conn, "INSERT INTO users (email, display_name, password_hash) VALUES "
	    "('one@example.org', 'One', '$argon2id$x'), "
	    "('two@example.org', 'Two', '$argon2id$x')");
	user1 = ql("SELECT id FROM users WHERE email = 'one@example.org'");
	user2 = ql("SELECT id FROM users WHERE email = 'two@example.org'");
	rc = unit_run("sync", tests);
	q(NULL);
	PQfinish(conn);
	vault_free(vault);
	sh("'%s' stop '%s' >/dev/null 2>&1; rm -rf '%s'", dovecot, dir, dir);
	unit_db_drop();
	return rc;
}
