/* test-triage-db.c: triage after the sync (the job's work, app/triage-db.c), reply
 * tracking (app/replies.c) and the cold-email screen, against a database of its own
 * (unit-db.h; skipped without MAILROOM_TEST_DATABASE_URL):
 * - triage_job_run classifies every untriaged message of the user, over several batches,
 *   and no other user's; a second run changes nothing; a stop request stops it; it
 *   queues the write-back; triage_enqueue keeps one live job per user;
 * - each reply-state transition (none, owed, awaiting, follow-up, done, and back), the
 *   follow-up setting, the counts and lists of the dashboard, and another user's threads
 *   left alone;
 * - the screen takes a stranger's outreach and their follow-ups, not with the screen
 *   off, nor an allowed sender, nor a correspondent; "allow" lets the sender through
 *   and classifies their screened mail again, refusing what is not a sender. */
#include "config.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ingest.h"
#include "replies.h"
#include "triage.h"
#include "unit.h"
#include "unit-db.h"
#include "util.h"

#define ME "you@example.org"
#define BOB "Bob Stone <bob@partner.example.net>"

static PGconn *conn;
static int64_t user1, user2, acct1, acct2;
static int msgno;

/* The first column of the first row of the query ("<none>" without rows, "" for NULL). */
static char *
qv(const char *fmt, ...) MR_PRINTF(1, 2);
static char *
qv(const char *fmt, ...)
{
	char sql[4096];
	va_list ap;
	PGresult *r;
	char *v;

	va_start(ap, fmt);
	vsnprintf(sql, sizeof sql, fmt, ap);
	va_end(ap);
	r = PQexec(conn, sql);
	if (PQresultStatus(r) != PGRES_TUPLES_OK && PQresultStatus(r) != PGRES_COMMAND_OK) {
		fprintf(stderr, "%s: %s", sql, PQerrorMessage(conn));
		exit(1);
	}
	v = xstrdup(PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) == 0 ? "<none>" :
	    PQgetisnull(r, 0, 0) ? "" : PQgetvalue(r, 0, 0));
	PQclear(r);
	return v;
}

#define CHECK_Q(expected, ...) do { \
	char *v_ = qv(__VA_ARGS__); \
	CU_ASSERT_STRING_EQUAL(v_, expected); \
	if (strcmp(v_, expected) != 0) \
		fprintf(stderr, "\n  line %d: got \"%s\", expected \"%s\"\n", __LINE__, v_, \
		    expected); \
	free(v_); \
} while (0)

/* An RFC 5322 date, seconds ago. */
static const char *
ago(int64_t seconds)
{
	static char out[8][64];
	static int next;
	time_t t = time(NULL) - (time_t)seconds;
	struct tm tm;
	char *s = out[next++ % 8];

	gmtime_r(&t, &tm);
	strftime(s, sizeof out[0], "%a, %d %b %Y %H:%M:%S +0000", &tm);
	return s;
}

/* Stores a message of user (acct) from..to, its Message-ID <id@t> (or a new one), in
 * reply to <irt@t> when irt is not NULL; returns its row. */
static int64_t
store_as(int64_t user, int64_t acct, const char *self, const char *from, const char *to,
    const char *subject, const char *id, const char *irt, const char *date,
    const char *headers, const char *body)
{
	const char *selfs[] = { self, NULL };
	char err[512], idbuf[32];
	char *raw;
	int inserted = 0;
	int64_t row = 0;

	if (id == NULL) {
		snprintf(idbuf, sizeof idbuf, "m%d", ++msgno);
		id = idbuf;
	}
	raw = xasprintf("From: %s\r\nTo: %s\r\nSubject: %s\r\nDate: %s\r\n"
	    "Message-ID: <%s@t>\r\n%s%s%s%s\r\n%s\r\n", from, to, subject, date, id,
	    irt != NULL ? "In-Reply-To: <" : "", irt != NULL ? irt : "",
	    irt != NULL ? "@t>\r\n" : "", headers != NULL ? headers : "", body);
	if (ingest_message_row(conn, user, acct, 0, 0, raw, strlen(raw), NULL, 0, selfs,
	    &inserted, &row, err, sizeof err) != 0)
		fprintf(stderr, "\n  ingest: %s\n", err);
	CU_ASSERT_EQUAL(inserted, 1);
	free(raw);
	return row;
}

static int64_t
store(const char *from, const char *to, const char *subject, const char *id,
    const char *irt, const char *date, const char *body)
{
	return store_as(user1, acct1, ME, from, to, subject, id, irt, date, NULL, body);
}

static void
db_reset(void)
{
	unit_db_exec(conn, "DELETE FROM mail_messages");
	unit_db_exec(conn, "DELETE FROM mail_threads");
	unit_db_exec(conn, "DELETE FROM sender_categories");
	unit_db_exec(conn, "DELETE FROM triage_settings");
	unit_db_exec(conn, "DELETE FROM triage_corrections");
	unit_db_exec(conn, "DELETE FROM jobs");
}

static void
run_job(int64_t user, long expect)
{
	char err[512];
	long done = -1;

	if (triage_job_run(conn, user, NULL, &done, err, sizeof err) != 0) {
		fprintf(stderr, "\n  triage_job_run: %s\n", err);
		CU_FAIL("triage_job_run");
	}
	CU_ASSERT_EQUAL(done, expect);
	if (done != expect)
		fprintf(stderr, "\n  classified %ld, expected %ld\n", done, expect);
}

/* ---- the job ---- */

static void
test_job(void)
{
	char err[512], *before, *after;
	atomic_int stop = 1;
	long done = -1, n = TRIAGE_DB_BATCH + 7;
	int64_t id, again;

	db_reset();
	for (long i = 0; i < n; i++)
		store("Ana <ana@shop.example.com>", ME, "Order shipped", NULL, NULL,
		    ago(86400 - i), i % 2 ? "Your order has shipped. Track it online." :
		    "Could you confirm the delivery address?");
	store_as(user2, acct2, "two@example.org", BOB, "two@example.org", "Hello", NULL, NULL,
	    ago(100), NULL, "Could you call me?");

	/* Told to stop before it starts: nothing is done. */
	CU_ASSERT_EQUAL(triage_job_run(conn, user1, &stop, &done, err, sizeof err), 1);
	CU_ASSERT_EQUAL(done, 0);
	CHECK_Q("t", "SELECT count(*) = %ld + 1 FROM mail_messages WHERE triaged_at IS NULL", n);

	/* Every message of the user, over two batches, and nobody else's. */
	run_job(user1, n);
	CHECK_Q("0", "SELECT count(*) FROM mail_messages WHERE user_id = %" PRId64
	    " AND (triaged_at IS NULL OR category IS NULL OR category_source IS NULL)", user1);
	CHECK_Q("1", "SELECT count(*) FROM mail_messages WHERE triaged_at IS NULL AND "
	    "user_id = %" PRId64, user2);
	CHECK_Q("t", "SELECT count(DISTINCT category) = 2 FROM mail_messages WHERE user_id = %"
	    PRId64, user1);
	/* The write-back of the user's account is queued, not the other user's. */
	CHECK_Q("1", "SELECT count(*) FROM jobs WHERE kind = 'writeback' AND unique_key = "
	    "'writeback:%" PRId64 "'", acct1);
	CHECK_Q("0", "SELECT count(*) FROM jobs WHERE kind = 'writeback' AND user_id = %"
	    PRId64, user2);

	/* Idempotent: a second run has nothing to do and changes nothing. */
	before = qv("SELECT string_agg(id || category || triaged_at, ',' ORDER BY id) FROM "
	    "mail_messages");
	run_job(user1, 0);
	after = qv("SELECT string_agg(id || category || triaged_at, ',' ORDER BY id) FROM "
	    "mail_messages");
	CU_ASSERT_STRING_EQUAL(before, after);
	free(before);
	free(after);

	/* One live job per user; the scheduler's safety net finds user2's mail. */
	id = triage_enqueue(conn, user1);
	again = triage_enqueue(conn, user1);
	CU_ASSERT_TRUE(id > 0);
	CU_ASSERT_EQUAL(id, again);
	CHECK_Q("{\"user_id\": 1}", "SELECT payload::text FROM jobs WHERE id = %" PRId64
	    " AND kind = 'triage' AND unique_key = 'triage:%" PRId64 "' AND user_id = %" PRId64,
	    id, user1, user1);
	CU_ASSERT_EQUAL(triage_enqueue_pending(conn, err, sizeof err), 1);
	CHECK_Q("1", "SELECT count(*) FROM jobs WHERE kind = 'triage' AND user_id = %" PRId64,
	    user2);
}

/* A correction made while a batch was being decided stays: pending stores only on
 * messages still untriaged, and the single-message path classifies on demand. */
static void
test_classify_one(void)
{
	struct triage_decision d;
	char err[512];
	int64_t row;

	db_reset();
	row = store(BOB, ME, "Figures", NULL, NULL, ago(3600), "Could you send me the figures?");
	CU_ASSERT_EQUAL(triage_db_classify(conn, user2, row, &d, err, sizeof err), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "not the user's"));
	CHECK_Q("", "SELECT triaged_at FROM mail_messages WHERE id = %" PRId64, row);
	CU_ASSERT_EQUAL(triage_db_classify(conn, user1, row, &d, err, sizeof err), 0);
	CU_ASSERT_STRING_EQUAL(d.category, "to-respond");
	CHECK_Q("to-respond owed", "SELECT t.category || ' ' || t.reply_state FROM mail_threads t "
	    "JOIN mail_messages m ON m.thread_id = t.id WHERE m.id = %" PRId64, row);
}

/* ---- reply tracking ---- */

/* The reply state of the thread of a message: "state hours-since follow-up". */
#define CHECK_STATE(row, expected) CHECK_Q(expected, "SELECT coalesce(t.reply_state, " \
	"'none') || ' ' || coalesce(round(extract(epoch FROM now() - t.reply_since) / 3600)" \
	"::text, '-') || ' ' || CASE WHEN t.follow_up THEN 't' ELSE 'f' END FROM mail_threads t " \
	"JOIN mail_messages m ON m.thread_id = t.id WHERE m.id = %" PRId64, row)

/* Sets a message's category as a correction would, and updates its thread. */
static void
correct(int64_t row, const char *category)
{
	char err[512], *t;
	int64_t thread;

	unit_db_exec(conn, "BEGIN");
	t = qv("UPDATE mail_messages SET category = '%s', category_source = 'correction', "
	    "triaged_at = now() WHERE id = %" PRId64 " RETURNING thread_id", category, row);
	thread = strtoll(t, NULL, 10);
	free(t);
	CU_ASSERT(replies_update_threads(conn, user1, &thread, 1, err, sizeof err) >= 0);
	unit_db_exec(conn, "COMMIT");
}

/* The transitions, through the job (the classifier's own categories). */
static void
test_replies_flow(void)
{
	int64_t q, sent, answer, thanks;

	db_reset();
	/* Bob asks: owed, since his message (48 h ago). */
	q = store(BOB, ME, "Figures", "q", NULL, ago(48 * 3600),
	    "Could you send me the figures for March?");
	run_job(user1, 1);
	CHECK_Q("to-respond", "SELECT category FROM mail_messages WHERE id = %" PRId64, q);
	CHECK_STATE(q, "owed 48 f");
	/* The user answers: awaiting, since their answer (24 h ago). */
	sent = store("Me <" ME ">", BOB, "Re: Figures", "sent", "q", ago(24 * 3600),
	    "Here they are. Could you confirm?");
	run_job(user1, 1);
	CHECK_STATE(sent, "awaiting 24 f");
	/* Bob answers with a question: owed again, since his answer. */
	answer = store(BOB, ME, "Re: Figures", "answer", "sent", ago(2 * 3600),
	    "Confirmed. Can we meet on Friday to go through them?");
	run_job(user1, 1);
	CHECK_Q("to-respond", "SELECT category FROM mail_messages WHERE id = %" PRId64, answer);
	CHECK_STATE(answer, "owed 2 f");
	/* The user answers again, then Bob closes with thanks only: done. */
	store("Me <" ME ">", BOB, "Re: Figures", "sent2", "answer", ago(3600), "Friday works.");
	run_job(user1, 1);
	CHECK_STATE(answer, "awaiting 1 f");
	thanks = store(BOB, ME, "Re: Figures", "thanks", "sent2", ago(1800),
	    "Great, thanks. FYI: I forwarded them to the team.");
	run_job(user1, 1);
	CHECK_Q("fyi", "SELECT category FROM mail_messages WHERE id = %" PRId64, thanks);
	CHECK_STATE(thanks, "done 1 f");
	/* A thread the user never took part in has no state. */
	q = store("Shop News <news@shop.example.com>", ME, "Spring sale", NULL, NULL, ago(600),
	    "Get 30% off everything! Unsubscribe");
	run_job(user1, 1);
	CHECK_STATE(q, "none - f");
}

/* Each transition, with the categories set by hand (as corrections). */
static void
test_replies_transitions(void)
{
	struct replies_counts rc;
	struct reply_thread *v;
	char err[512], *tid;
	int64_t a, b, other, t;
	long n;

	db_reset();
	a = store(BOB, ME, "Budget", "a1", NULL, ago(10 * 3600), "The budget?");
	correct(a, "fyi");
	CHECK_STATE(a, "none - f");                 /* nothing asked */
	correct(a, "to-respond");
	CHECK_STATE(a, "owed 10 f");                /* none -> owed */
	correct(a, "actioned");
	CHECK_STATE(a, "done 10 f");                /* owed -> done: dealt with */
	correct(a, "to-respond");
	b = store("Me <" ME ">", BOB, "Re: Budget", "a2", "a1", ago(5 * 86400 + 8 * 3600),
	    "Here.");
	/* The user's answer dated before Bob's question does not answer it. */
	correct(b, "awaiting-reply");
	CHECK_STATE(a, "owed 10 f");
	unit_db_exec(conn, "UPDATE mail_messages SET sent_at = now() - interval '5 days' "
	    "WHERE message_id = 'a2@t'");
	unit_db_exec(conn, "UPDATE mail_messages SET sent_at = now() - interval '6 days' "
	    "WHERE message_id = 'a1@t'");
	correct(b, "awaiting-reply");
	CHECK_STATE(a, "awaiting 120 t");           /* owed -> awaiting, past 3 days */
	/* The setting: 7 days, the periodic pass clears the flag; 2 days sets it again. */
	unit_db_exec(conn, "INSERT INTO triage_settings (user_id, follow_up_days) SELECT id, 7 "
	    "FROM users WHERE email = 'one@example.org'");
	CU_ASSERT_EQUAL(replies_follow_up(conn, user1, err, sizeof err), 1);
	CHECK_STATE(a, "awaiting 120 f");
	CU_ASSERT_EQUAL(replies_follow_up(conn, 0, err, sizeof err), 0);
	unit_db_exec(conn, "UPDATE triage_settings SET follow_up_days = 2");
	CU_ASSERT_EQUAL(replies_follow_up(conn, 0, err, sizeof err), 1);
	CHECK_STATE(a, "awaiting 120 t");
	/* The user marks their own last message Actioned: done. */
	correct(b, "actioned");
	CHECK_STATE(a, "done 120 f");
	correct(b, "awaiting-reply");
	CHECK_STATE(a, "awaiting 120 t");

	/* Another thread owed, and another user's thread, for the lists. */
	other = store("Carol <carol@example.com>", ME, "Visit", NULL, NULL, ago(3 * 3600),
	    "When can you visit?");
	correct(other, "to-respond");
	CHECK_STATE(other, "owed 3 f");
	tid = qv("SELECT thread_id FROM mail_messages WHERE id = %" PRId64, other);
	t = strtoll(tid, NULL, 10);
	free(tid);
	/* Another user's call does not touch user1's thread. */
	CU_ASSERT_EQUAL(replies_update_threads(conn, user2, &t, 1, err, sizeof err), 0);
	unit_db_exec(conn, "UPDATE mail_threads SET reply_state = NULL WHERE id IN (SELECT "
	    "thread_id FROM mail_messages WHERE id = (SELECT min(id) FROM mail_messages))");
	CU_ASSERT_EQUAL(replies_rebuild(conn, user1, err, sizeof err), 1);

	CU_ASSERT_EQUAL(replies_counts(conn, user1, &rc, err, sizeof err), 0);
	CU_ASSERT_EQUAL(rc.owed, 1);
	CU_ASSERT_EQUAL(rc.awaiting, 1);
	CU_ASSERT_EQUAL(rc.follow_up, 1);
	CU_ASSERT_EQUAL(replies_counts(conn, user2, &rc, err, sizeof err), 0);
	CU_ASSERT_EQUAL(rc.owed + rc.awaiting + rc.follow_up, 0);

	n = replies_list(conn, user1, REPLIES_OWED, 10, 0, &v, err, sizeof err);
	CU_ASSERT_EQUAL_FATAL(n, 1);
	CU_ASSERT_STRING_EQUAL(v[0].subject, "Visit");
	CU_ASSERT_STRING_EQUAL(v[0].who, "Carol");
	CU_ASSERT_STRING_EQUAL(v[0].who_address, "carol@example.com");
	CU_ASSERT_EQUAL(v[0].message_id, other);
	CU_ASSERT_TRUE(v[0].age >= 3 * 3600 - 60 && v[0].age <= 3 * 3600 + 60);
	CU_ASSERT_TRUE(llabs(v[0].since + v[0].age - (int64_t)time(NULL)) <= 2);
	CU_ASSERT_FALSE(v[0].follow_up);
	replies_free(v, (size_t)n);
	n = replies_list(conn, user1, REPLIES_FOLLOW_UP, 10, 0, &v, err, sizeof err);
	CU_ASSERT_EQUAL_FATAL(n, 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(v[0].subject, "Budget"));
	CU_ASSERT_STRING_EQUAL(v[0].who, "Bob Stone");
	CU_ASSERT_EQUAL(v[0].message_id, b);
	CU_ASSERT_EQUAL(v[0].message_count, 2);
	CU_ASSERT_TRUE(v[0].follow_up);
	replies_free(v, (size_t)n);
	CU_ASSERT_EQUAL(replies_list(conn, user1, REPLIES_AWAITING, 10, 1, &v, err,
	    sizeof err), 0);
	CU_ASSERT_EQUAL(replies_list(conn, user2, REPLIES_OWED, 10, 0, &v, err, sizeof err), 0);
}

/* ---- the cold-email screen ---- */

/* Half a question, half a pitch: the classifier's To respond by a hair over Marketing. */
#define COLD_BODY "Hi, could you let me know who handles your IT? Thanks, Sam"

static int64_t
cold(const char *from, const char *id, const char *date)
{
	return store(from, ME, "Coffee?", id, NULL, date, COLD_BODY);
}

static void
test_screening(void)
{
	struct triage_decision d;
	char err[512];
	int64_t first, follow, allowed, known;

	db_reset();
	first = cold("Sam Seller <sam@growthco.example>", NULL, ago(7200));
	run_job(user1, 1);
	CHECK_Q("marketing screening", "SELECT category || ' ' || category_source FROM "
	    "mail_messages WHERE id = %" PRId64, first);
	CHECK_Q("t", "SELECT category_reasons->>0 LIKE 'A first message from someone you have "
	    "never written to%%screened into Marketing%%' FROM mail_messages WHERE id = %" PRId64,
	    first);
	/* Without the screen, the classifier's decision stands. */
	unit_db_exec(conn, "INSERT INTO triage_settings (user_id, screening) SELECT id, false "
	    "FROM users WHERE email = 'one@example.org'");
	CU_ASSERT_EQUAL(triage_db_classify(conn, user1, first, &d, err, sizeof err), 0);
	CU_ASSERT_STRING_EQUAL(d.source, "classifier");
	CU_ASSERT_STRING_NOT_EQUAL(d.category, "marketing");
	CU_ASSERT_TRUE(d.first_time_sender);
	/* The screen's category is the user's choice. */
	unit_db_exec(conn, "UPDATE triage_settings SET screening = true, "
	    "screening_category = 'fyi'");
	CU_ASSERT_EQUAL(triage_db_classify(conn, user1, first, &d, err, sizeof err), 0);
	CU_ASSERT_STRING_EQUAL(d.category, "fyi");
	CU_ASSERT_STRING_EQUAL(d.source, "screening");
	CU_ASSERT_PTR_NOT_NULL(strstr(d.reasons[0].text, "screened into FYI"));
	unit_db_exec(conn, "UPDATE triage_settings SET screening_category = 'marketing'");
	CU_ASSERT_EQUAL(triage_db_classify(conn, user1, first, &d, err, sizeof err), 0);
	CU_ASSERT_STRING_EQUAL(d.category, "marketing");

	/* The stranger follows up: screened too, though no longer a first-time sender. */
	follow = store("Sam Seller <sam@growthco.example>", ME, "Coffee?", NULL, NULL,
	    ago(3600), "Hi again, could you let me know who handles your IT?");
	run_job(user1, 1);
	CHECK_Q("marketing screening", "SELECT category || ' ' || category_source FROM "
	    "mail_messages WHERE id = %" PRId64, follow);
	CHECK_Q("t", "SELECT category_reasons->>0 LIKE 'Follows up on mail the cold-email "
	    "screen caught%%' FROM mail_messages WHERE id = %" PRId64, follow);

	/* An allowed sender (a row with no category) and someone the user wrote to are not
	 * screened. */
	unit_db_exec(conn, "INSERT INTO sender_categories (user_id, sender, category) "
	    "SELECT id, 'partner.example', NULL FROM users WHERE email = 'one@example.org'");
	allowed = cold("Pat <pat@partner.example>", NULL, ago(1800));
	store("Me <" ME ">", "Kim <kim@friend.example>", "Hello", NULL, NULL, ago(86400),
	    "Hello Kim");
	known = cold("Kim <kim@friend.example>", NULL, ago(1700));
	run_job(user1, 3);
	CHECK_Q("classifier", "SELECT category_source FROM mail_messages WHERE id = %" PRId64,
	    allowed);
	CHECK_Q("classifier", "SELECT category_source FROM mail_messages WHERE id = %" PRId64,
	    known);

	/* Allow: refused for what is not a sender, nothing changes. */
	CU_ASSERT_EQUAL(triage_allow_sender(conn, user1, "a b@x", &(long){ 0 }, err,
	    sizeof err), -1);
	CU_ASSERT_EQUAL(triage_allow_sender(conn, user1, "", &(long){ 0 }, err, sizeof err),
	    -1);
	CHECK_Q("1", "SELECT count(*) FROM sender_categories");
	/* Another user's allow touches none of user1's mail. */
	{
		long n = -1;

		CU_ASSERT_EQUAL(triage_allow_sender(conn, user2, "sam@growthco.example", &n, err,
		    sizeof err), 0);
		CU_ASSERT_EQUAL(n, 0);
		CHECK_Q("2", "SELECT count(*) FROM mail_messages WHERE category_source = "
		    "'screening'");
		n = -1;
		CU_ASSERT_EQUAL(triage_allow_sender(conn, user1, "Sam@GrowthCo.example", &n,
		    err, sizeof err), 0);
		CU_ASSERT_EQUAL(n, 2);
	}
	CHECK_Q("0", "SELECT count(*) FROM mail_messages WHERE category_source = 'screening'");
	CHECK_Q("t", "SELECT category IS NULL FROM sender_categories WHERE user_id = %" PRId64
	    " AND sender = 'sam@growthco.example'", user1);
	CHECK_Q("t", "SELECT category <> 'marketing' FROM mail_messages WHERE id = %" PRId64,
	    first);
	/* The sender's next message is classified as usual; allowing again is harmless. */
	CU_ASSERT_EQUAL(triage_allow_sender(conn, user1, "sam@growthco.example", &(long){ 0 },
	    err, sizeof err), 0);
	first = cold("Sam Seller <sam@growthco.example>", NULL, ago(60));
	run_job(user1, 1);
	CHECK_Q("classifier", "SELECT category_source FROM mail_messages WHERE id = %" PRId64,
	    first);
	/* A domain, with or without its "@". */
	cold("Lee <lee@coldmail.example>", NULL, ago(50));
	run_job(user1, 1);
	CHECK_Q("1", "SELECT count(*) FROM mail_messages WHERE category_source = 'screening'");
	{
		long n = -1;

		CU_ASSERT_EQUAL(triage_allow_sender(conn, user1, "@coldmail.example", &n, err,
		    sizeof err), 0);
		CU_ASSERT_EQUAL(n, 1);
	}
	CHECK_Q("0", "SELECT count(*) FROM mail_messages WHERE category_source = 'screening'");
}

static void
db_setup(void)
{
	char *v;

	conn = unit_db_connect();
	unit_db_exec(conn, "INSERT INTO users (email, display_name, password_hash) VALUES "
	    "('one@example.org', 'One', '$argon2id$x'), ('two@example.org', 'Two', "
	    "'$argon2id$x')");
	v = qv("SELECT id FROM users WHERE email = 'one@example.org'");
	user1 = strtoll(v, NULL, 10);
	free(v);
	v = qv("SELECT id FROM users WHERE email = 'two@example.org'");
	user2 = strtoll(v, NULL, 10);
	free(v);
	v = qv("INSERT INTO mail_accounts (user_id, address) VALUES (%" PRId64 ", '" ME "') "
	    "RETURNING id", user1);
	acct1 = strtoll(v, NULL, 10);
	free(v);
	v = qv("INSERT INTO mail_accounts (user_id, address) VALUES (%" PRId64 ", "
	    "'two@example.org') RETURNING id", user2);
	acct2 = strtoll(v, NULL, 10);
	free(v);
}

int
main(void)
{
	static const struct unit_test tests[] = {
		{ "the triage job", test_job },
		{ "one message on demand", test_classify_one },
		{ "reply tracking through triage", test_replies_flow },
		{ "reply-state transitions", test_replies_transitions },
		{ "cold-email screening and allow", test_screening },
		{ NULL, NULL },
	};
	const char *srcdir = getenv("srcdir");
	char *prior;
	int rc;

	if (unit_db_create() == NULL) {
		fprintf(stderr, "skip: MAILROOM_TEST_DATABASE_URL not set\n");
		return UNIT_DB_SKIP;
	}
	mime_init();
	prior = xasprintf("%s/share/triage-prior.tsv", srcdir != NULL && *srcdir != '\0' ?
	    srcdir : MR_SRCDIR);
	triage_db_use_prior(prior);
	db_setup();
	rc = unit_run("triage-db", tests);
	PQfinish(conn);
	unit_db_drop();
	triage_db_shutdown();
	free(prior);
	return rc;
}
