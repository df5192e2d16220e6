/* test-writeback.c: write-back of categories (writeback.c) and corrections made in the
 * mailbox (sync.c's hooks) against a real Dovecot (contrib/dovecot, on loopback in a
 * temporary directory) and a database of its own (unit-db.h). Categories are set in SQL as
 * triage would; what the server has is read with curl, as another client would.
 *
 * Skipped (77) without MAILROOM_TEST_DATABASE_URL, or without Dovecot unless CI is set. */
#include "config.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sodium.h>

#include "jobs.h"
#include "mailacct.h"
#include "sync.h"
#include "triage.h"
#include "unit.h"
#include "unit-db.h"
#include "util.h"
#include "vault.h"
#include "writeback.h"

static PGconn *conn;
static struct vault *vault;
static char dovecot[1024];	/* the contrib/dovecot script */
static char dir[256];		/* the server's directory */
static int port;
static int64_t user1, user2, alice, bob;

/* ---- helpers -------------------------------------------------------------------------- */

/* The value of a one-row, one-column query ("" for NULL, "<none>" for no row), valid for
 * the next Q_KEEP calls. */
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

#define ql(...) strtol(q(__VA_ARGS__), NULL, 10)

/* The output of a shell command, malloc'd. */
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

/* An IMAP command of another client (curl) in folder (URL-encoded) as user: its
 * untagged answers. */
static char *
imap(const char *user, const char *folder, const char *command)
{
	return sh_out("curl -s -S --max-time 20 'imap://127.0.0.1:%d/%s' -u '%s:%s-pass' "
	    "-X '%s'", port, folder, user, user, command);
}

static void
imap_ok(const char *user, const char *folder, const char *command)
{
	char *cmd = xasprintf("curl -s -S --max-time 20 'imap://127.0.0.1:%d/%s' -u "
	    "'%s:%s-pass' -X '%s' >/dev/null", port, folder, user, user, command);

	CU_ASSERT_EQUAL(system(cmd), 0);
	free(cmd);
}

/* The flags of uid in folder as the server has them: "(\Seen $mailroom/fyi)". */
static char *
flags_of(const char *user, const char *folder, int uid)
{
	char cmd[64], *out, *p, *e;

	snprintf(cmd, sizeof cmd, "UID FETCH %d (FLAGS)", uid);
	out = imap(user, folder, cmd);
	p = strstr(out, "FLAGS (");
	e = p != NULL ? strchr(p, ')') : NULL;
	if (p == NULL || e == NULL) {
		free(out);
		return xstrdup("<none>");
	}
	p = xstrndup(p + 6, (size_t)(e - p - 5));
	free(out);
	return p;
}

static int
has_flag(const char *user, const char *folder, int uid, const char *flag)
{
	char *f = flags_of(user, folder, uid);
	char *want = xasprintf(" %s ", flag);
	int yes;

	f[0] = ' ';
	f[strlen(f) - 1] = ' ';
	yes = strstr(f, want) != NULL;
	free(want);
	free(f);
	return yes;
}

/* A number of the folder's STATUS ("HIGHESTMODSEQ", "MESSAGES"); -1 when missing. */
static long long
status_of(const char *user, const char *folder, const char *item)
{
	char cmd[256], *out, *p;
	long long v = -1;

	snprintf(cmd, sizeof cmd, "STATUS \"%s\" (%s)", folder, item);
	out = imap(user, "", cmd);
	if ((p = strstr(out, item)) != NULL)
		v = strtoll(p + strlen(item) + 1, NULL, 10);
	free(out);
	return v;
}

#define modseq(user, folder) status_of((user), (folder), "HIGHESTMODSEQ")
#define count_in(user, folder) status_of((user), (folder), "MESSAGES")

/* Appends messages tag-first.. to folder of user, each from its own sender. */
static void
append(const char *user, const char *folder, const char *tag, int first, int count)
{
	char *cmd = xmalloc(4096 + (size_t)count * 300);
	size_t len;

	len = (size_t)sprintf(cmd, "'%s' append '%s' '%s' %s-pass '%s'", dovecot, dir, user,
	    user, folder);
	for (int i = first; i < first + count; i++) {
		char path[512];
		FILE *f;

		snprintf(path, sizeof path, "%s/msg/%s-%d.eml", dir, tag, i);
		f = fopen(path, "w");
		CU_ASSERT_PTR_NOT_NULL_FATAL(f);
		fprintf(f, "From: Sender %d <%s%d@example.net>\r\nTo: %s <%s@example.org>\r\n"
		    "Subject: the quarterly invoice %d\r\nDate: Mon, 2 Jun 2025 10:%02d:00 +0000\r\n"
		    "Message-ID: <%s-%d@example.net>\r\n\r\nPlease find the invoice %d attached, "
		    "payment is due soon.\r\n", i, tag, i, user, user, i, i % 60, tag, i, i);
		fclose(f);
		len += (size_t)sprintf(cmd + len, " '%s'", path);
	}
	CU_ASSERT_EQUAL_FATAL(system(cmd), 0);
	free(cmd);
}

static int64_t
account(int64_t user, const char *login)
{
	struct imap_settings s;
	char err[512], address[128], password[64];
	int64_t id;

	memset(&s, 0, sizeof s);
	snprintf(password, sizeof password, "%s-pass", login);
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

static void
sync_once(int64_t user, int64_t acct, struct sync_stats *st)
{
	char err[1024];
	enum provider_status s = sync_account(conn, vault, user, acct, NULL, st, err,
	    sizeof err);

	if (s != PROVIDER_OK)
		fprintf(stderr, "sync: %d: %s\n", s, err);
	CU_ASSERT_EQUAL(s, PROVIDER_OK);
}

static void
writeback_once(int64_t user, int64_t acct, struct writeback_stats *st)
{
	char err[1024];
	int rc = writeback_account(conn, vault, user, acct, NULL, st, err, sizeof err);

	if (rc != 0)
		fprintf(stderr, "writeback: %d: %s\n", rc, err);
	CU_ASSERT_EQUAL(rc, 0);
}

/* Sets the category of tag-n as triage would. */
static void
categorize(int64_t acct, const char *tag, int n, const char *slug)
{
	q("UPDATE mail_messages SET category = '%s', category_source = 'classifier', "
	    "triaged_at = now() WHERE account_id = %" PRId64 " AND message_id = '%s-%d@example.net'",
	    slug, acct, tag, n);
}

static const char *
field(int64_t acct, const char *tag, int n, const char *column)
{
	return q("SELECT %s FROM mail_messages WHERE account_id = %" PRId64 " AND message_id = "
	    "'%s-%d@example.net'", column, acct, tag, n);
}

/* ---- tests ---------------------------------------------------------------------------- */

static void
test_names(void)
{
	char kw[64], slug[TRIAGE_SLUG_SIZE];

	CU_ASSERT_EQUAL(writeback_keyword("to-respond", kw, sizeof kw), 0);
	CU_ASSERT_STRING_EQUAL(kw, "$mailroom/to-respond");
	CU_ASSERT_EQUAL(writeback_keyword("Bad Slug", kw, sizeof kw), -1);
	CU_ASSERT_EQUAL(writeback_keyword("fyi", kw, 8), -1);
	CU_ASSERT_EQUAL(writeback_keyword_slug("$mailroom/to-respond", slug, sizeof slug), 1);
	CU_ASSERT_STRING_EQUAL(slug, "to-respond");
	/* Keywords compare without case. */
	CU_ASSERT_EQUAL(writeback_keyword_slug("$MailRoom/Marketing", slug, sizeof slug), 1);
	CU_ASSERT_STRING_EQUAL(slug, "marketing");
	CU_ASSERT_EQUAL(writeback_keyword_slug("$mailroom/", slug, sizeof slug), 0);
	CU_ASSERT_EQUAL(writeback_keyword_slug("$mailroom/a b", slug, sizeof slug), 0);
	CU_ASSERT_EQUAL(writeback_keyword_slug("$Work", slug, sizeof slug), 0);
	CU_ASSERT_EQUAL(writeback_label_slug(conn, user1, "mailroom/To respond", '/', slug,
	    sizeof slug), 1);
	CU_ASSERT_STRING_EQUAL(slug, "to-respond");
	CU_ASSERT_EQUAL(writeback_label_slug(conn, user1, "mailroom.Meeting update", '.', slug,
	    sizeof slug), 1);
	CU_ASSERT_STRING_EQUAL(slug, "meeting-update");
	CU_ASSERT_EQUAL(writeback_label_slug(conn, user1, "mailroom/Nothing", '/', slug,
	    sizeof slug), 0);
	CU_ASSERT_EQUAL(writeback_label_slug(conn, user1, "Archive", '/', slug, sizeof slug), 0);
}

static void
test_keywords(void)
{
	struct sync_stats ss;
	struct writeback_stats st;
	long long before;

	append("alice", "INBOX", "a", 1, 8);
	alice = account(user1, "alice");
	sync_once(user1, alice, &ss);
	CU_ASSERT_EQUAL(ss.stored, 8);
	/* Nothing triaged: nothing to write, and no connection made. */
	writeback_once(user1, alice, &st);
	CU_ASSERT_EQUAL(st.messages, 0);
	CU_ASSERT_EQUAL(st.commands, 0);

	categorize(alice, "a", 1, "to-respond");
	categorize(alice, "a", 2, "to-respond");
	categorize(alice, "a", 3, "to-respond");
	categorize(alice, "a", 4, "marketing");
	categorize(alice, "a", 5, "marketing");
	categorize(alice, "a", 6, "notification");
	categorize(alice, "a", 7, "fyi");
	writeback_once(user1, alice, &st);
	CU_ASSERT_EQUAL(st.messages, 7);
	CU_ASSERT_EQUAL(st.labels, 0);
	CU_ASSERT_EQUAL(st.moved, 0);
	/* One STORE per category of the folder, for all its UIDs; nothing to clear. */
	CU_ASSERT_EQUAL(st.commands, 4);
	CU_ASSERT(has_flag("alice", "INBOX", 1, "$mailroom/to-respond"));
	CU_ASSERT(has_flag("alice", "INBOX", 3, "$mailroom/to-respond"));
	CU_ASSERT(has_flag("alice", "INBOX", 5, "$mailroom/marketing"));
	CU_ASSERT(has_flag("alice", "INBOX", 6, "$mailroom/notification"));
	CU_ASSERT(has_flag("alice", "INBOX", 7, "$mailroom/fyi"));
	CU_ASSERT(!has_flag("alice", "INBOX", 8, "$mailroom/fyi"));
	CU_ASSERT_EQUAL(ql("SELECT count(*) FROM mail_messages WHERE account_id = %" PRId64
	    " AND written_back = '$mailroom/' || category", alice), 7);
	CU_ASSERT_STRING_EQUAL(field(alice, "a", 8, "coalesce(written_back, 'none')"), "none");
	/* The stored flags are the server's: the next sync sees nothing new. */
	CU_ASSERT_EQUAL(ql("SELECT count(*) FROM mail_locations l JOIN mail_messages m ON "
	    "m.id = l.message_id WHERE m.account_id = %" PRId64 " AND '$mailroom/' || "
	    "m.category = ANY(l.flags)", alice), 7);

	/* Run again: nothing to do, nothing sent, nothing changed on the server. */
	before = modseq("alice", "INBOX");
	writeback_once(user1, alice, &st);
	CU_ASSERT_EQUAL(st.messages, 0);
	CU_ASSERT_EQUAL(st.commands, 0);
	CU_ASSERT_EQUAL(modseq("alice", "INBOX"), before);

	/* A retried job whose server part was done but not recorded (the worker died in
	 * between): it writes again, and the server changes nothing. */
	q("UPDATE mail_messages SET written_back = NULL WHERE account_id = %" PRId64, alice);
	writeback_once(user1, alice, &st);
	CU_ASSERT_EQUAL(st.messages, 7);
	CU_ASSERT_EQUAL(modseq("alice", "INBOX"), before);

	/* Our own keywords are no correction. */
	sync_once(user1, alice, &ss);
	CU_ASSERT_EQUAL(ss.corrections, 0);
	CU_ASSERT_EQUAL(ql("SELECT count(*) FROM triage_corrections WHERE user_id = %" PRId64,
	    user1), 0);
}

static void
test_category_changed(void)
{
	struct writeback_stats st;

	/* Corrected in the dashboard: the keyword follows, the old one goes. */
	categorize(alice, "a", 1, "fyi");
	writeback_once(user1, alice, &st);
	CU_ASSERT_EQUAL(st.messages, 1);
	CU_ASSERT_EQUAL(st.commands, 2);
	CU_ASSERT(has_flag("alice", "INBOX", 1, "$mailroom/fyi"));
	CU_ASSERT(!has_flag("alice", "INBOX", 1, "$mailroom/to-respond"));
	CU_ASSERT_STRING_EQUAL(field(alice, "a", 1, "written_back"), "$mailroom/fyi");
}

static void
test_keyword_correction(void)
{
	struct sync_stats ss;
	struct writeback_stats st;
	long before = ql("SELECT count(*) FROM triage_features WHERE user_id = %" PRId64
	    " AND category = 'marketing'", user1);

	CU_ASSERT_EQUAL(before, 0);
	/* Another client moves a-2 from To respond to Marketing. */
	imap_ok("alice", "INBOX", "UID STORE 2 -FLAGS ($mailroom/to-respond)");
	imap_ok("alice", "INBOX", "UID STORE 2 +FLAGS ($mailroom/marketing)");
	sync_once(user1, alice, &ss);
	CU_ASSERT_EQUAL(ss.corrections, 1);
	CU_ASSERT_STRING_EQUAL(field(alice, "a", 2, "category"), "marketing");
	CU_ASSERT_STRING_EQUAL(field(alice, "a", 2, "category_source"), "correction");
	CU_ASSERT_STRING_EQUAL(q("SELECT from_category || '>' || to_category || ' ' || source "
	    "|| ' ' || sender FROM triage_corrections WHERE user_id = %" PRId64, user1),
	    "to-respond>marketing mailbox a2@example.net");
	/* The model learned it: the sender and the words count for Marketing now. */
	CU_ASSERT(ql("SELECT count(*) FROM triage_features WHERE user_id = %" PRId64
	    " AND category = 'marketing'", user1) > 5);
	CU_ASSERT_EQUAL(ql("SELECT count(*) FROM triage_features WHERE user_id = %" PRId64
	    " AND category = 'marketing' AND feature = 's:a2@example.net' AND count >= 1",
	    user1), 1);
	CU_ASSERT_EQUAL(ql("SELECT documents FROM triage_totals WHERE user_id = %" PRId64
	    " AND category = 'marketing'", user1), 1);
	/* Nothing more the next time. */
	sync_once(user1, alice, &ss);
	CU_ASSERT_EQUAL(ss.corrections, 0);

	/* "To respond" taken off, and nothing put instead: dealt with. */
	imap_ok("alice", "INBOX", "UID STORE 3 -FLAGS ($mailroom/to-respond)");
	sync_once(user1, alice, &ss);
	CU_ASSERT_EQUAL(ss.corrections, 1);
	CU_ASSERT_STRING_EQUAL(field(alice, "a", 3, "category"), "actioned");

	/* Write-back then agrees with the mailbox, without a change the sync would take
	 * for the user's. */
	writeback_once(user1, alice, &st);
	CU_ASSERT_EQUAL(st.messages, 2);
	CU_ASSERT(has_flag("alice", "INBOX", 2, "$mailroom/marketing"));
	CU_ASSERT(has_flag("alice", "INBOX", 3, "$mailroom/actioned"));
	sync_once(user1, alice, &ss);
	CU_ASSERT_EQUAL(ss.corrections, 0);
	CU_ASSERT_EQUAL(ql("SELECT count(*) FROM triage_corrections WHERE user_id = %" PRId64,
	    user1), 2);
}

static void
test_label_move(void)
{
	struct sync_stats ss;
	struct writeback_stats st;
	char *row9 = NULL, *row10 = NULL;

	imap_ok("alice", "", "CREATE Archive (USE (\\Archive))");
	q("UPDATE mail_accounts SET writeback = 'label_move' WHERE id = %" PRId64, alice);
	append("alice", "INBOX", "a", 9, 3);
	sync_once(user1, alice, &ss);
	CU_ASSERT_EQUAL(ss.stored, 3);
	categorize(alice, "a", 9, "marketing");
	categorize(alice, "a", 10, "notification");
	categorize(alice, "a", 11, "to-respond");
	row9 = xstrdup(field(alice, "a", 9, "id"));
	row10 = xstrdup(field(alice, "a", 10, "id"));
	writeback_once(user1, alice, &st);
	CU_ASSERT_EQUAL(st.messages, 3);
	CU_ASSERT_EQUAL(st.moved, 2);
	/* Out of INBOX into Archive, with their keywords; To respond stays. */
	CU_ASSERT_EQUAL(count_in("alice", "INBOX"), 9);
	CU_ASSERT_EQUAL(count_in("alice", "Archive"), 2);
	CU_ASSERT(has_flag("alice", "INBOX", 11, "$mailroom/to-respond"));
	CU_ASSERT(has_flag("alice", "Archive", 1, "$mailroom/marketing") ||
	    has_flag("alice", "Archive", 2, "$mailroom/marketing"));
	/* Only the mail written now moves: older Marketing (a-4, a-5) stays. */
	CU_ASSERT(has_flag("alice", "INBOX", 4, "$mailroom/marketing"));
	/* The same rows, found in Archive by the next sync; our move is no correction. */
	sync_once(user1, alice, &ss);
	CU_ASSERT_EQUAL(ss.corrections, 0);
	CU_ASSERT_STRING_EQUAL(q("SELECT m.id FROM mail_messages m JOIN mail_locations l ON "
	    "l.message_id = m.id JOIN mail_folders f ON f.id = l.folder_id WHERE "
	    "m.message_id = 'a-9@example.net' AND f.name = 'Archive' AND m.account_id = %"
	    PRId64, alice), row9);
	CU_ASSERT_STRING_EQUAL(q("SELECT m.id FROM mail_messages m JOIN mail_folders f ON "
	    "f.id = m.folder_id WHERE m.message_id = 'a-10@example.net' AND f.name = 'Archive' "
	    "AND m.account_id = %" PRId64, alice), row10);
	CU_ASSERT_STRING_EQUAL(field(alice, "a", 9, "category"), "marketing");
	CU_ASSERT_EQUAL(ql("SELECT count(*) FROM mail_locations l JOIN mail_messages m ON "
	    "m.id = l.message_id WHERE m.message_id = 'a-9@example.net'"), 1);
	/* Nothing more to do. */
	writeback_once(user1, alice, &st);
	CU_ASSERT_EQUAL(st.commands, 0);
	free(row9);
	free(row10);
}

static void
test_user_archives(void)
{
	struct sync_stats ss;
	char *row = xstrdup(field(alice, "a", 11, "id"));

	/* The user archives a message to respond to, in their own client: dealt with. */
	imap_ok("alice", "INBOX", "UID MOVE 11 Archive");
	sync_once(user1, alice, &ss);
	CU_ASSERT_EQUAL(ss.corrections, 1);
	CU_ASSERT_STRING_EQUAL(field(alice, "a", 11, "id"), row);
	CU_ASSERT_STRING_EQUAL(field(alice, "a", 11, "category"), "actioned");
	CU_ASSERT_EQUAL(ql("SELECT count(*) FROM triage_corrections WHERE user_id = %" PRId64
	    " AND to_category = 'actioned' AND source = 'mailbox'", user1), 2);
	/* A message expunged for good still goes, at the end of the run. */
	imap_ok("alice", "INBOX", "UID STORE 8 +FLAGS.SILENT (\\Deleted)");
	imap_ok("alice", "INBOX", "EXPUNGE");
	sync_once(user1, alice, &ss);
	CU_ASSERT_STRING_EQUAL(field(alice, "a", 8, "id"), "<none>");
	CU_ASSERT_EQUAL(ql("SELECT count(*) FROM mail_messages m WHERE account_id = %" PRId64
	    " AND NOT EXISTS (SELECT 1 FROM mail_locations l WHERE l.message_id = m.id)",
	    alice), 0);
	free(row);
}

static void
test_labels(void)
{
	struct sync_stats ss;
	struct writeback_stats st;

	/* A server without keywords (forced: Dovecot has them): label folders. */
	append("bob", "INBOX", "b", 1, 4);
	bob = account(user2, "bob");
	sync_once(user2, bob, &ss);
	categorize(bob, "b", 1, "to-respond");
	categorize(bob, "b", 2, "to-respond");
	categorize(bob, "b", 3, "fyi");
	categorize(bob, "b", 4, "marketing");
	writeback_force_labels = 1;
	writeback_once(user2, bob, &st);
	CU_ASSERT_EQUAL(st.labels, 1);
	CU_ASSERT_EQUAL(st.messages, 4);
	CU_ASSERT_EQUAL(count_in("bob", "mailroom/To respond"), 2);
	CU_ASSERT_EQUAL(count_in("bob", "mailroom/FYI"), 1);
	CU_ASSERT_EQUAL(count_in("bob", "mailroom/Marketing"), 1);
	CU_ASSERT_EQUAL(count_in("bob", "INBOX"), 4);
	CU_ASSERT_STRING_EQUAL(field(bob, "b", 1, "written_back"), "mailroom/To respond");
	/* Again: nothing. */
	writeback_once(user2, bob, &st);
	CU_ASSERT_EQUAL(st.commands, 0);

	/* The sync sees the label folders, and our copies are no correction. */
	sync_once(user2, bob, &ss);
	CU_ASSERT_EQUAL(ss.corrections, 0);
	CU_ASSERT_EQUAL(ql("SELECT count(*) FROM mail_locations l JOIN mail_folders f ON "
	    "f.id = l.folder_id WHERE f.account_id = %" PRId64 " AND f.name LIKE 'mailroom/%%'",
	    bob), 4);

	/* A new category: our label copy moves from one folder to the other. */
	categorize(bob, "b", 2, "fyi");
	writeback_once(user2, bob, &st);
	CU_ASSERT_EQUAL(st.messages, 1);
	CU_ASSERT_EQUAL(count_in("bob", "mailroom/To respond"), 1);
	CU_ASSERT_EQUAL(count_in("bob", "mailroom/FYI"), 2);
	CU_ASSERT_EQUAL(count_in("bob", "INBOX"), 4);

	/* The user moves b-1 from INBOX into the Marketing folder: a correction. */
	imap_ok("bob", "INBOX", "UID MOVE 1 mailroom/Marketing");
	sync_once(user2, bob, &ss);
	CU_ASSERT_EQUAL(ss.corrections, 1);
	CU_ASSERT_STRING_EQUAL(field(bob, "b", 1, "category"), "marketing");
	CU_ASSERT_STRING_EQUAL(q("SELECT to_category || ' ' || source FROM triage_corrections "
	    "WHERE user_id = %" PRId64, user2), "marketing mailbox");
}

static void
test_label_move_without_archive(void)
{
	struct sync_stats ss;
	struct writeback_stats st;

	/* bob has no Archive: Marketing goes to its category's folder. */
	q("UPDATE mail_accounts SET writeback = 'label_move' WHERE id = %" PRId64, bob);
	append("bob", "INBOX", "b", 5, 1);
	sync_once(user2, bob, &ss);
	categorize(bob, "b", 5, "notification");
	writeback_once(user2, bob, &st);
	/* b-1, which the user put in a label folder, is where it belongs already. */
	CU_ASSERT_EQUAL(st.messages, 2);
	CU_ASSERT_EQUAL(st.moved, 1);
	CU_ASSERT_EQUAL(count_in("bob", "INBOX"), 3);
	CU_ASSERT_EQUAL(count_in("bob", "mailroom/Notification"), 1);
	sync_once(user2, bob, &ss);
	CU_ASSERT_EQUAL(ss.corrections, 0);
	CU_ASSERT_STRING_EQUAL(q("SELECT f.name FROM mail_messages m JOIN mail_folders f ON "
	    "f.id = m.folder_id WHERE m.message_id = 'b-5@example.net'"),
	    "mailroom/Notification");
	writeback_force_labels = 0;
}

static void
test_queue_and_lock(void)
{
	char err[512];
	struct writeback_stats st;
	PGconn *other;
	int rc;

	CU_ASSERT_EQUAL(writeback_enqueue(conn, user1, alice, err, sizeof err), 1);
	CU_ASSERT_EQUAL(writeback_enqueue(conn, user1, 0, err, sizeof err), 1);
	CU_ASSERT_EQUAL(ql("SELECT count(*) FROM jobs WHERE kind = 'writeback' AND "
	    "unique_key = 'writeback:%" PRId64 "' AND user_id = %" PRId64, alice, user1), 1);
	/* Another user's account is not queued; an account set to 'off' neither. */
	CU_ASSERT_EQUAL(writeback_enqueue(conn, user2, alice, err, sizeof err), 0);
	q("UPDATE mail_accounts SET writeback = 'off' WHERE id = %" PRId64, bob);
	CU_ASSERT_EQUAL(writeback_enqueue(conn, user2, bob, err, sizeof err), 0);
	/* And writes nothing. */
	categorize(bob, "b", 3, "to-respond");
	CU_ASSERT_EQUAL(writeback_account(conn, vault, user2, bob, NULL, &st, err, sizeof err),
	    0);
	CU_ASSERT_EQUAL(st.commands, 0);
	/* Another user's account: final failure. */
	CU_ASSERT_EQUAL(writeback_account(conn, vault, user2, alice, NULL, &st, err,
	    sizeof err), -2);

	/* While the account is being synced (its lock held elsewhere): retried later. */
	q("UPDATE mail_accounts SET writeback = 'label' WHERE id = %" PRId64, bob);
	other = unit_db_connect();
	CU_ASSERT_EQUAL(writeback_mailbox_lock(other, bob, 0), 1);
	rc = writeback_account(conn, vault, user2, bob, NULL, &st, err, sizeof err);
	CU_ASSERT_EQUAL(rc, -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "being synced"));
	writeback_mailbox_unlock(other, bob);
	PQfinish(other);
	/* The server takes keywords after all (the test hook is off): every message is
	 * written again, as keywords. */
	writeback_once(user2, bob, &st);
	CU_ASSERT_EQUAL(st.labels, 0);
	CU_ASSERT_EQUAL(st.messages, 5);
	CU_ASSERT(has_flag("bob", "INBOX", 3, "$mailroom/to-respond"));
}

/* A rule of user with actions (JSON), deciding category; its id. */
static int64_t
rule(int64_t user, const char *name, const char *category, const char *actions)
{
	return ql("INSERT INTO triage_rules (user_id, name, position, conditions, category, "
	    "actions) VALUES (%" PRId64 ", '%s', 1, '[{\"field\": \"subject\", \"op\": "
	    "\"contains\", \"value\": \"invoice\"}]', '%s', '%s') RETURNING id", user, name,
	    category, actions);
}

/* Tag-n decided by rule id as triage would. */
static void
decide(int64_t acct, const char *tag, int n, const char *slug, int64_t id)
{
	q("UPDATE mail_messages SET category = '%s', category_source = 'rule', "
	    "category_confidence = 1, category_rule_id = %" PRId64 ", triaged_at = now() "
	    "WHERE account_id = %" PRId64 " AND message_id = '%s-%d@example.net'", slug, id,
	    acct, tag, n);
}

static void
test_rule_actions(void)
{
	struct sync_stats ss;
	struct writeback_stats st;
	char err[512];
	int64_t flag_rule, move_rule, archive_rule;
	long uid1, archived;
	long long before;
	char *row2;

	/* Rules' actions are the user's explicit wish: applied even with writeback 'off'. */
	q("UPDATE mail_accounts SET writeback = 'off' WHERE id = %" PRId64, alice);
	append("alice", "INBOX", "r", 1, 4);
	sync_once(user1, alice, &ss);
	CU_ASSERT_EQUAL(ss.stored, 4);
	flag_rule = rule(user1, "Flag", "fyi", "[{\"type\": \"mark_read\"}, "
	    "{\"type\": \"star\"}]");
	move_rule = rule(user1, "News", "marketing", "[{\"type\": \"archive\"}, "
	    "{\"type\": \"move\", \"folder\": \"News\"}]");
	archive_rule = rule(user1, "Done", "notification", "[{\"type\": \"archive\"}]");
	decide(alice, "r", 1, "fyi", flag_rule);
	decide(alice, "r", 2, "marketing", move_rule);
	decide(alice, "r", 3, "notification", archive_rule);
	/* Decided by a rule without actions, or by the classifier: nothing to apply. */
	decide(alice, "r", 4, "fyi", rule(user1, "Plain", "fyi", "[]"));
	uid1 = ql("SELECT uid FROM mail_messages WHERE message_id = 'r-1@example.net'");
	row2 = xstrdup(field(alice, "r", 2, "id"));
	archived = (long)count_in("alice", "Archive");
	q("DELETE FROM jobs WHERE kind = 'writeback'");
	CU_ASSERT_EQUAL(writeback_enqueue(conn, user1, alice, err, sizeof err), 1);
	CU_ASSERT(!has_flag("alice", "INBOX", (int)uid1, "\\Seen"));

	writeback_once(user1, alice, &st);
	CU_ASSERT_EQUAL(st.actions, 3);
	CU_ASSERT_EQUAL(st.messages, 0);	/* 'off': no category written */
	CU_ASSERT_EQUAL(st.moved, 2);
	/* One STORE, the folder News created, one MOVE to each folder. */
	CU_ASSERT_EQUAL(st.commands, 4);
	CU_ASSERT(has_flag("alice", "INBOX", (int)uid1, "\\Seen"));
	CU_ASSERT(has_flag("alice", "INBOX", (int)uid1, "\\Flagged"));
	CU_ASSERT(!has_flag("alice", "INBOX", (int)uid1, "$mailroom/fyi"));
	/* A move's folder wins over archive. */
	CU_ASSERT_EQUAL(count_in("alice", "News"), 1);
	CU_ASSERT_EQUAL(count_in("alice", "Archive"), archived + 1);
	CU_ASSERT_STRING_EQUAL(field(alice, "r", 2, "id"), row2);
	CU_ASSERT_EQUAL(ql("SELECT count(*) FROM mail_messages WHERE account_id = %" PRId64
	    " AND actions_applied_rule = category_rule_id", alice), 3);
	CU_ASSERT_STRING_EQUAL(field(alice, "r", 4, "coalesce(actions_applied_rule, 0)"), "0");
	/* The stored flags are the server's. */
	CU_ASSERT_EQUAL(ql("SELECT count(*) FROM mail_locations l JOIN mail_messages m ON "
	    "m.id = l.message_id WHERE m.message_id = 'r-1@example.net' AND '\\Seen' = "
	    "ANY(l.flags) AND '\\Flagged' = ANY(l.flags)"), 1);

	/* Again: nothing sent, nothing changed. */
	before = modseq("alice", "INBOX");
	writeback_once(user1, alice, &st);
	CU_ASSERT_EQUAL(st.commands, 0);
	CU_ASSERT_EQUAL(st.actions, 0);
	CU_ASSERT_EQUAL(modseq("alice", "INBOX"), before);
	CU_ASSERT_EQUAL(count_in("alice", "News"), 1);
	/* The sync keeps the moved rows, and takes none of it for a correction. */
	sync_once(user1, alice, &ss);
	CU_ASSERT_EQUAL(ss.corrections, 0);
	CU_ASSERT_STRING_EQUAL(field(alice, "r", 2, "id"), row2);
	CU_ASSERT_STRING_EQUAL(field(alice, "r", 2, "category"), "marketing");
	CU_ASSERT_STRING_EQUAL(field(alice, "r", 3, "category"), "notification");
	CU_ASSERT_STRING_EQUAL(q("SELECT f.name FROM mail_messages m JOIN mail_folders f ON "
	    "f.id = m.folder_id WHERE m.message_id = 'r-3@example.net'"), "Archive");
	writeback_once(user1, alice, &st);
	CU_ASSERT_EQUAL(st.commands, 0);

	/* Another rule decides r-1 later: its actions are applied, once. */
	decide(alice, "r", 1, "notification", archive_rule);
	writeback_once(user1, alice, &st);
	CU_ASSERT_EQUAL(st.actions, 1);
	CU_ASSERT_EQUAL(count_in("alice", "Archive"), archived + 2);
	writeback_once(user1, alice, &st);
	CU_ASSERT_EQUAL(st.commands, 0);
	free(row2);
}

/* ---- set-up --------------------------------------------------------------------------- */

static int
dovecot_start(void)
{
	const char *env = getenv("MAILROOM_TEST_DOVECOT"), *src = getenv("srcdir");
	char *out, *p, cmd[1024];

	if (env != NULL && *env != '\0')
		snprintf(dovecot, sizeof dovecot, "%s", env);
	else
		snprintf(dovecot, sizeof dovecot, "%s/contrib/dovecot",
		    src != NULL && *src != '\0' ? src : MR_SRCDIR);
	if (access("/usr/sbin/dovecot", X_OK) != 0) {
		const char *ci = getenv("CI");

		fprintf(stderr, "test-writeback: Dovecot is not installed (Debian: "
		    "dovecot-imapd)\n");
		return ci != NULL && strcmp(ci, "true") == 0 ? -1 : 0;
	}
	snprintf(dir, sizeof dir, "%s/mailroom-wb-XXXXXX",
	    getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp");
	if (mkdtemp(dir) == NULL)
		return -1;
	out = sh_out("'%s' start '%s'", dovecot, dir);
	p = strstr(out, "imap://127.0.0.1:");
	if (p == NULL) {
		fprintf(stderr, "test-writeback: contrib/dovecot start: %s\n", out);
		free(out);
		return -1;
	}
	port = atoi(p + strlen("imap://127.0.0.1:"));
	free(out);
	/* The messages it appends are read by the script, which may run as another user. */
	snprintf(cmd, sizeof cmd, "mkdir -p '%s/msg' && chmod 755 '%s/msg'", dir, dir);
	return system(cmd) == 0 ? 1 : -1;
}

int
main(void)
{
	static const struct unit_test tests[] = {
		{ "keyword and label folder names", test_names },
		{ "keywords written once, a retry changes nothing", test_keywords },
		{ "a new category replaces the keyword", test_category_changed },
		{ "a keyword changed by another client is a correction", test_keyword_correction },
		{ "label_move: Marketing and Notification to Archive", test_label_move },
		{ "archived by the user: Actioned", test_user_archives },
		{ "label folders when there are no keywords", test_labels },
		{ "label_move without Archive", test_label_move_without_archive },
		{ "the queue, 'off', ownership and the sync's lock", test_queue_and_lock },
		{ "rules' actions: flags and moves, once, even when 'off'", test_rule_actions },
		{ NULL, NULL },
	};
	char err[512], key[VAULT_KEY_LINE_MAX], cmd[2600];
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
		fprintf(stderr, "test-writeback: vault: %s\n", err);
		return 1;
	}
	mr_config.imap_allow_private = 1;
	mr_config.imap_timeout = 10;
	mr_config.backfill_messages = 5000;
	mr_config.backfill_days = 36500;
	log_set_level(LOG_LEVEL_ERROR);
	conn = unit_db_connect();
	unit_db_exec(conn, "INSERT INTO users (email, display_name, password_hash) VALUES "
	    "('one@example.org', 'One', '$argon2id$x'), "
	    "('two@example.org', 'Two', '$argon2id$x')");
	user1 = ql("SELECT id FROM users WHERE email = 'one@example.org'");
	user2 = ql("SELECT id FROM users WHERE email = 'two@example.org'");
	rc = unit_run("writeback", tests);
	q(NULL);
	PQfinish(conn);
	vault_free(vault);
	triage_db_shutdown();
	snprintf(cmd, sizeof cmd, "'%s' stop '%s' >/dev/null 2>&1; rm -rf '%s'", dovecot, dir,
	    dir);
	if (system(cmd) != 0)
		fprintf(stderr, "test-writeback: stopping Dovecot failed\n");
	unit_db_drop();
	return rc;
}
