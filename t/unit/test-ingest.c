/* test-ingest.c: ingest_message against a database of its own (unit-db.h; skipped without
 * MAILROOM_TEST_DATABASE_URL): the stored fields of the messages of t/unit/mime and of
 * crafted ones, attachments, direction, idempotency, threading by In-Reply-To, a late
 * parent merging two threads, the subject fallback, the search vector and its weights,
 * the people texts of the from:/to: operators (searched with app/search.c's SQL), savepoints inside a caller's transaction, and the ownership of every row. */
#include "config.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ingest.h"
#include "search.h"
#include "unit.h"
#include "unit-db.h"
#include "util.h"

static PGconn *conn;
static int64_t user1, user2, acct1, acct2, folder1;
static const char *const self1[] = { "me@example.org", NULL };

static char *
load(const char *name, size_t *len)
{
	const char *srcdir = getenv("srcdir");
	char *path = xasprintf("%s/t/unit/mime/%s", srcdir != NULL && *srcdir != '\0' ? srcdir :
	    MR_SRCDIR, name);
	FILE *f = fopen(path, "rb");
	char *raw;
	long n;

	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	CU_ASSERT_FATAL(fseek(f, 0, SEEK_END) == 0);
	n = ftell(f);
	CU_ASSERT_FATAL(n >= 0 && fseek(f, 0, SEEK_SET) == 0);
	raw = xmalloc((size_t)n + 1);
	CU_ASSERT_FATAL(fread(raw, 1, (size_t)n, f) == (size_t)n);
	fclose(f);
	free(path);
	*len = (size_t)n;
	return raw;
}

/* The value of a one-row, one-column query, malloc'd ("" for NULL, "<none>" for no row). */
static char *
q(const char *fmt, ...) MR_PRINTF(1, 2);
static char *
q(const char *fmt, ...)
{
	char sql[2048];
	va_list ap;
	PGresult *r;
	char *v;

	va_start(ap, fmt);
	vsnprintf(sql, sizeof sql, fmt, ap);
	va_end(ap);
	r = PQexec(conn, sql);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		fprintf(stderr, "%s: %s", sql, PQerrorMessage(conn));
		exit(1);
	}
	v = xstrdup(PQntuples(r) == 0 ? "<none>" : PQgetvalue(r, 0, 0));
	PQclear(r);
	return v;
}

static long
ql(const char *sql)
{
	char *v = q("%s", sql);
	long n = strtol(v, NULL, 10);

	free(v);
	return n;
}

#define CHECK_Q(expected, ...) do { \
	char *v_ = q(__VA_ARGS__); \
	CU_ASSERT_STRING_EQUAL(v_, expected); \
	if (strcmp(v_, expected) != 0) \
		fprintf(stderr, "\n  got \"%s\", expected \"%s\"\n", v_, expected); \
	free(v_); \
} while (0)

/* Ingests raw into account 1 (folder 1); returns *inserted, or -1 on an error. */
static int
put(const char *raw, int64_t internal_date)
{
	char err[512];
	int inserted = -1;

	if (ingest_message(conn, user1, acct1, folder1, 0, raw, strlen(raw), NULL,
	    internal_date, self1, &inserted, err, sizeof err) != 0) {
		fprintf(stderr, "\n  ingest: %s\n", err);
		return -1;
	}
	return inserted;
}

static int
put_file(const char *name)
{
	char err[512];
	size_t len;
	char *raw = load(name, &len);
	static const char *const flags[] = { "\\Seen", "$Work", NULL };
	int inserted = -1;

	if (ingest_message(conn, user1, acct1, folder1, 7, raw, len, flags, 1700000000, self1,
	    &inserted, err, sizeof err) != 0) {
		fprintf(stderr, "\n  ingest %s: %s\n", name, err);
		inserted = -1;
	}
	free(raw);
	return inserted;
}

static void
reset(void)
{
	unit_db_exec(conn, "DELETE FROM mail_messages");
	unit_db_exec(conn, "DELETE FROM mail_threads");
}

static void
test_fields(void)
{
	reset();
	CU_ASSERT_EQUAL(put_file("alternative.eml"), 1);
	CHECK_Q("Sale", "SELECT subject FROM mail_messages WHERE message_id = 'sale@example.com'");
	CHECK_Q("Shop shop@example.com", "SELECT (from_addr->0->>'name') || ' ' || "
	    "(from_addr->0->>'address') FROM mail_messages WHERE message_id = 'sale@example.com'");
	CHECK_Q("you@example.org", "SELECT to_addr->0->>'address' FROM mail_messages "
	    "WHERE message_id = 'sale@example.com'");
	CHECK_Q("true received 7 {\"\\\\Seen\",$Work} 2023-11-14 22:13:20+00 true",
	    "SELECT has_attachments || ' ' || direction || ' ' || uid || ' ' || flags::text || "
	    "' ' || to_char(received_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS+00') || ' ' || "
	    "(folder_id = %" PRId64 ") FROM mail_messages WHERE message_id = 'sale@example.com'",
	    folder1);
	CHECK_Q("t", "SELECT snippet LIKE 'The plain%%' AND body_html LIKE '%%HTML%%' AND "
	    "sent_at IS NOT NULL AND size > 0 AND headers->>'Precedence' = 'bulk' "
	    "FROM mail_messages WHERE message_id = 'sale@example.com'");
	/* Two attachments: the inline image and the PDF. */
	CHECK_Q("image/gif:true,application/pdf:false:terms.pdf",
	    "SELECT string_agg(content_type || ':' "
	    "|| inline || CASE WHEN filename <> '' THEN ':' || filename ELSE '' END, ',' "
	    "ORDER BY part) FROM mail_attachments");

	/* References, In-Reply-To, encoded words. */
	CU_ASSERT_EQUAL(put_file("encoded-words.eml"), 1);
	CHECK_Q("{first@example.org,prev@example.org} prev@example.org",
	    "SELECT refs::text || ' ' || in_reply_to FROM mail_messages "
	    "WHERE message_id = 'abc.123@example.fr'");
	CHECK_Q("André Dupré", "SELECT from_addr->0->>'name' FROM mail_messages "
	    "WHERE message_id = 'abc.123@example.fr'");
	CHECK_Q("f", "SELECT has_attachments FROM mail_messages "
	    "WHERE message_id = 'abc.123@example.fr'");

	/* A calendar; a message with no From keeps its warnings. */
	CU_ASSERT_EQUAL(put_file("calendar.eml"), 1);
	CHECK_Q("true true", "SELECT has_calendar || ' ' || (calendar LIKE '%%BEGIN:VCALENDAR%%') "
	    "FROM mail_messages WHERE message_id = 'cal@example.org'");
	CU_ASSERT_EQUAL(put_file("garbage-8bit.eml"), 1);
	CU_ASSERT_EQUAL(put_file("nested.eml"), 1);
	CU_ASSERT_EQUAL(put_file("rfc2231.eml"), 1);
	CU_ASSERT_EQUAL(put_file("html-only.eml"), 1);
	CU_ASSERT_EQUAL(put_file("bad-charset.eml"), 1);
	CHECK_Q("8", "SELECT count(*) FROM mail_messages");
	CHECK_Q("t", "SELECT bool_and(thread_id IS NOT NULL) FROM mail_messages");
	CHECK_Q("t", "SELECT cardinality(parse_warnings) > 0 FROM mail_messages "
	    "WHERE message_id = 'bad@example.org'");

	/* Direction: From one of the account's own addresses. */
	CU_ASSERT_EQUAL(put("From: Me <ME@example.org>\r\nTo: x@example.net\r\n"
	    "Subject: mine\r\nMessage-ID: <mine@example.org>\r\n\r\nhi\r\n", 0), 1);
	CHECK_Q("sent", "SELECT direction FROM mail_messages "
	    "WHERE message_id = 'mine@example.org'");
	/* No Message-ID: a synthetic one, stable across imports. */
	CU_ASSERT_EQUAL(put("From: a@example.net\r\nSubject: anon\r\n\r\nno id\r\n", 0), 1);
	CU_ASSERT_EQUAL(put("From: a@example.net\r\nSubject: anon\r\n\r\nno id\r\n", 0), 0);
	CHECK_Q("1", "SELECT count(*) FROM mail_messages WHERE message_id LIKE 'mailroom-%%'");
}

static void
test_idempotent(void)
{
	char *threads, *after;

	reset();
	CU_ASSERT_EQUAL(put_file("alternative.eml"), 1);
	CU_ASSERT_EQUAL(put_file("rfc2231.eml"), 1);
	threads = q("SELECT count(*) || ' ' || sum(message_count) FROM mail_threads");
	CU_ASSERT_EQUAL(put_file("alternative.eml"), 0);
	CU_ASSERT_EQUAL(put_file("rfc2231.eml"), 0);
	after = q("SELECT count(*) || ' ' || sum(message_count) FROM mail_threads");
	CU_ASSERT_STRING_EQUAL(threads, after);
	free(threads);
	free(after);
	CHECK_Q("2", "SELECT count(*) FROM mail_messages");
	CHECK_Q("5", "SELECT count(*) FROM mail_attachments");
	CU_ASSERT_EQUAL(PQtransactionStatus(conn), PQTRANS_IDLE);
}

static void
test_in_reply_to(void)
{
	reset();
	CU_ASSERT_EQUAL(put("From: a@example.net\r\nTo: me@example.org\r\nSubject: plans\r\n"
	    "Date: Mon, 1 Jan 2024 10:00:00 +0000\r\nMessage-ID: <p1@example.net>\r\n\r\n"
	    "first\r\n", 0), 1);
	CU_ASSERT_EQUAL(put("From: me@example.org\r\nTo: a@example.net\r\n"
	    "Subject: something else\r\nDate: Tue, 2 Jan 2024 10:00:00 +0000\r\n"
	    "Message-ID: <p2@example.org>\r\nIn-Reply-To: <p1@example.net>\r\n\r\nsecond\r\n",
	    0), 1);
	CHECK_Q("1", "SELECT count(DISTINCT thread_id) FROM mail_messages");
	CHECK_Q("1", "SELECT count(*) FROM mail_threads");
	CHECK_Q("2 plans 2024-01-01 2024-01-02", "SELECT message_count || ' ' || subject || "
	    "' ' || "
	    "to_char(first_date AT TIME ZONE 'UTC', 'YYYY-MM-DD') || ' ' || "
	    "to_char(last_date AT TIME ZONE 'UTC', 'YYYY-MM-DD') FROM mail_threads");
	/* A message naming an unknown parent starts its own thread. */
	CU_ASSERT_EQUAL(put("From: b@example.net\r\nTo: me@example.org\r\nSubject: plans\r\n"
	    "Date: Tue, 2 Jan 2024 11:00:00 +0000\r\nMessage-ID: <p3@example.net>\r\n"
	    "In-Reply-To: <unknown@example.net>\r\n\r\nthird\r\n", 0), 1);
	CHECK_Q("2", "SELECT count(*) FROM mail_threads");
}

static void
test_late_parent(void)
{
	reset();
	/* Two replies to a root not yet seen: two threads. */
	CU_ASSERT_EQUAL(put("From: b@example.net\r\nTo: me@example.org\r\nSubject: Re: launch\r\n"
	    "Date: Tue, 2 Jan 2024 10:00:00 +0000\r\nMessage-ID: <c1@example.net>\r\n"
	    "In-Reply-To: <root@example.org>\r\nReferences: <root@example.org>\r\n\r\nc1\r\n",
	    0), 1);
	CU_ASSERT_EQUAL(put("From: c@example.net\r\nTo: me@example.org\r\nSubject: Re: launch\r\n"
	    "Date: Wed, 3 Jan 2024 10:00:00 +0000\r\nMessage-ID: <c2@example.net>\r\n"
	    "In-Reply-To: <root@example.org>\r\n\r\nc2\r\n", 0), 1);
	CHECK_Q("2", "SELECT count(*) FROM mail_threads");
	/* The root arrives: one thread with all three, the other deleted. */
	CU_ASSERT_EQUAL(put("From: me@example.org\r\nTo: b@example.net, c@example.net\r\n"
	    "Subject: launch\r\nDate: Mon, 1 Jan 2024 10:00:00 +0000\r\n"
	    "Message-ID: <root@example.org>\r\n\r\nroot\r\n", 0), 1);
	CHECK_Q("1", "SELECT count(*) FROM mail_threads");
	CHECK_Q("1", "SELECT count(DISTINCT thread_id) FROM mail_messages");
	CHECK_Q("t", "SELECT bool_and(m.thread_id = t.id) FROM mail_messages m, mail_threads t");
	CHECK_Q("3 launch 2024-01-01 2024-01-03", "SELECT message_count || ' ' || subject || "
	    "' ' || "
	    "to_char(first_date AT TIME ZONE 'UTC', 'YYYY-MM-DD') || ' ' || "
	    "to_char(last_date AT TIME ZONE 'UTC', 'YYYY-MM-DD') FROM mail_threads");
}

static void
test_subject_fallback(void)
{
	reset();
	CU_ASSERT_EQUAL(put("From: a@example.net\r\nTo: me@example.org\r\n"
	    "Subject: Quarterly budget review\r\nDate: Mon, 1 Jan 2024 10:00:00 +0000\r\n"
	    "Message-ID: <s1@example.net>\r\n\r\none\r\n", 0), 1);
	/* No headers, same key, same people, two days later: joins. */
	CU_ASSERT_EQUAL(put("From: me@example.org\r\nTo: a@example.net\r\n"
	    "Subject: RE: Quarterly budget review\r\nDate: Wed, 3 Jan 2024 10:00:00 +0000\r\n"
	    "Message-ID: <s2@example.org>\r\n\r\ntwo\r\n", 0), 1);
	CHECK_Q("1", "SELECT count(*) FROM mail_threads");
	/* Other people: a thread of its own. */
	CU_ASSERT_EQUAL(put("From: x@example.com\r\nTo: y@example.com\r\n"
	    "Subject: Quarterly budget review\r\nDate: Wed, 3 Jan 2024 11:00:00 +0000\r\n"
	    "Message-ID: <s3@example.com>\r\n\r\nthree\r\n", 0), 1);
	/* Too late (a month on): a thread of its own. */
	CU_ASSERT_EQUAL(put("From: a@example.net\r\nTo: me@example.org\r\n"
	    "Subject: Quarterly budget review\r\nDate: Sat, 3 Feb 2024 10:00:00 +0000\r\n"
	    "Message-ID: <s4@example.net>\r\n\r\nfour\r\n", 0), 1);
	/* A generic subject never joins. */
	CU_ASSERT_EQUAL(put("From: a@example.net\r\nTo: me@example.org\r\nSubject: hello\r\n"
	    "Date: Mon, 1 Jan 2024 10:00:00 +0000\r\nMessage-ID: <g1@example.net>\r\n\r\n"
	    "g1\r\n", 0), 1);
	CU_ASSERT_EQUAL(put("From: a@example.net\r\nTo: me@example.org\r\nSubject: Re: hello\r\n"
	    "Date: Mon, 1 Jan 2024 11:00:00 +0000\r\nMessage-ID: <g2@example.net>\r\n\r\n"
	    "g2\r\n", 0), 1);
	CHECK_Q("5", "SELECT count(*) FROM mail_threads");
	CHECK_Q("2 quarterly budget review", "SELECT message_count || ' ' || subject_key "
	    "FROM mail_threads WHERE id = (SELECT thread_id FROM mail_messages "
	    "WHERE message_id = 's1@example.net')");
}

static void
test_search(void)
{
	reset();
	CU_ASSERT_EQUAL(put("From: Zed Zebra <zed@example.net>\r\nTo: me@example.org\r\n"
	    "Subject: about pineapples\r\nMessage-ID: <f1@example.net>\r\n\r\n"
	    "nothing here but mangoes\r\n", 0), 1);
	CU_ASSERT_EQUAL(put("From: b@example.net\r\nTo: me@example.org\r\n"
	    "Subject: fruit\r\nMessage-ID: <f2@example.net>\r\n\r\n"
	    "we talked about pineapples and mangoes\r\n", 0), 1);
	/* A body word finds both; the subject match ranks first. */
	CHECK_Q("f1@example.net,f2@example.net", "SELECT string_agg(message_id, ',' ORDER BY "
	    "ts_rank(search, q) DESC) FROM mail_messages, to_tsquery('simple', 'pineapples') q "
	    "WHERE search @@ q");
	CHECK_Q("f2@example.net", "SELECT string_agg(message_id, ',') FROM mail_messages "
	    "WHERE search @@ to_tsquery('simple', 'talked')");
	/* Names and addresses of the people, weight B. */
	CHECK_Q("f1@example.net", "SELECT string_agg(message_id, ',') FROM mail_messages "
	    "WHERE search @@ to_tsquery('simple', 'zebra:B')");
	CHECK_Q("f1@example.net", "SELECT string_agg(message_id, ',') FROM mail_messages "
	    "WHERE search @@ to_tsquery('simple', 'pineapples:A')");
	CHECK_Q("<none>", "SELECT message_id FROM mail_messages "
	    "WHERE search @@ to_tsquery('simple', 'mangoes:A')");
}

/* The Message-IDs of user1's messages that the search box's query q finds, sorted. */
static char *
search_ids(const char *query)
{
	struct search_query sq;
	struct search_sql ss;
	const char *p[SEARCH_MAX_PARAMS + 1];
	char s_user[24], *sql, *v;
	PGresult *r;

	CU_ASSERT_FATAL(search_parse(query, &sq) == 0);
	search_build_sql(&sq, 2, &ss);
	snprintf(s_user, sizeof s_user, "%" PRId64, user1);
	p[0] = s_user;
	for (size_t i = 0; i < ss.nparams; i++)
		p[i + 1] = ss.params[i];
	sql = xasprintf("SELECT coalesce(string_agg(message_id, ',' ORDER BY message_id), '') "
	    "FROM mail_messages WHERE user_id = $1 AND (%s)", ss.where);
	r = PQexecParams(conn, sql, (int)ss.nparams + 1, NULL, p, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		fprintf(stderr, "%s: %s", sql, PQerrorMessage(conn));
		exit(1);
	}
	v = xstrdup(PQgetvalue(r, 0, 0));
	PQclear(r);
	free(sql);
	search_sql_free(&ss);
	search_query_free(&sq);
	return v;
}

#define CHECK_SEARCH(expected, query) do { \
	char *v_ = search_ids(query); \
	CU_ASSERT_STRING_EQUAL(v_, expected); \
	if (strcmp(v_, expected) != 0) \
		fprintf(stderr, "\n  %s: got \"%s\", expected \"%s\"\n", query, v_, expected); \
	free(v_); \
} while (0)

/* from_text and to_text (sql/0005_search_people.up.sql): "name address", lower-cased,
 * one line per person, To then Cc; from:, to: and subject: match them case-insensitively
 * as substrings, through app/search.c's fragment. */
static void
test_people_text(void)
{
	reset();
	CU_ASSERT_EQUAL(put("From: =?UTF-8?Q?Zo=C3=AB_=C3=85ngstr=C3=B6m?= <Zoe@Example.NET>\r\n"
	    "To: me@example.org, Bob Stone <bob@example.org>\r\nCc: carol@example.org\r\n"
	    "Subject: Budget 50% off\r\nMessage-ID: <p1@example.net>\r\n\r\nx\r\n", 0), 1);
	CU_ASSERT_EQUAL(put("From: Bob Stone <bob@example.org>\r\nTo: Zoe <zoe@example.net>\r\n"
	    "Subject: re budget\r\nMessage-ID: <p2@example.net>\r\n\r\ny\r\n", 0), 1);
	CHECK_Q("zo\xc3\xab \xc3\xa5ngstr\xc3\xb6m zoe@example.net", "SELECT from_text "
	    "FROM mail_messages WHERE message_id = 'p1@example.net'");
	CHECK_Q("me@example.org\nbob stone bob@example.org\ncarol@example.org", "SELECT to_text "
	    "FROM mail_messages WHERE message_id = 'p1@example.net'");

	CHECK_SEARCH("p1@example.net", "from:\xc3\x85NGSTR\xc3\x96M");
	CHECK_SEARCH("p1@example.net", "from:ZOE@example");
	CHECK_SEARCH("p2@example.net", "to:zoe");
	CHECK_SEARCH("p2@example.net", "from:\"Bob Stone\"");
	CHECK_SEARCH("p2@example.net", "from:\"stone bob@\"");
	CHECK_SEARCH("p1@example.net", "to:CAROL -from:bob");
	/* Shorter than a trigram: the same answer, without the index's help. */
	CHECK_SEARCH("p1@example.net", "to:ca");
	CHECK_SEARCH("p1@example.net,p2@example.net", "from:o");
	/* Never from one person into the next. */
	CHECK_SEARCH("", "to:\"bob@example.org carol\"");
	/* LIKE's wildcards are the user's text. */
	CHECK_SEARCH("", "from:b_b");
	CHECK_SEARCH("p1@example.net", "subject:50%");
	CHECK_SEARCH("p1@example.net,p2@example.net", "subject:BUDGET");
}

static void
test_nested_transaction(void)
{
	char err[512];
	int inserted = -1;

	reset();
	unit_db_exec(conn, "BEGIN");
	CU_ASSERT_EQUAL(put("From: a@example.net\r\nSubject: batch one\r\n"
	    "Message-ID: <b1@example.net>\r\n\r\n1\r\n", 0), 1);
	/* A failure (a folder of another account) leaves the batch usable. */
	CU_ASSERT_EQUAL(ingest_message(conn, user1, acct1, 999999, 0, "Subject: x\r\n\r\nx", 14,
	    NULL, 0, self1, &inserted, err, sizeof err), -1);
	CU_ASSERT_EQUAL(inserted, 0);
	CU_ASSERT_EQUAL(PQtransactionStatus(conn), PQTRANS_INTRANS);
	CU_ASSERT_EQUAL(put("From: a@example.net\r\nSubject: batch one\r\n"
	    "Message-ID: <b1@example.net>\r\n\r\n1\r\n", 0), 0);
	CU_ASSERT_EQUAL(put("From: a@example.net\r\nSubject: batch two\r\n"
	    "Message-ID: <b2@example.net>\r\n\r\n2\r\n", 0), 1);
	CU_ASSERT_EQUAL(PQtransactionStatus(conn), PQTRANS_INTRANS);
	unit_db_exec(conn, "COMMIT");
	CHECK_Q("2 2", "SELECT count(*) || ' ' || (SELECT count(*) FROM mail_threads) "
	    "FROM mail_messages");
	/* The caller's rollback takes the batch away. */
	unit_db_exec(conn, "BEGIN");
	CU_ASSERT_EQUAL(put("From: a@example.net\r\nSubject: batch three\r\n"
	    "Message-ID: <b3@example.net>\r\n\r\n3\r\n", 0), 1);
	unit_db_exec(conn, "ROLLBACK");
	CHECK_Q("2", "SELECT count(*) FROM mail_messages");
}

static void
test_ownership(void)
{
	char err[512];
	int inserted = -1;
	size_t len;
	char *raw;

	reset();
	/* Account 2 is user 2's: user 1 cannot write into it, nor use its folder. */
	raw = load("alternative.eml", &len);
	CU_ASSERT_EQUAL(ingest_message(conn, user1, acct2, 0, 0, raw, len, NULL, 0, self1,
	    &inserted, err, sizeof err), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "no account"));
	CU_ASSERT_EQUAL(inserted, 0);
	CHECK_Q("0", "SELECT count(*) FROM mail_messages");
	/* The same message in both accounts: two rows, each its own user's. */
	CU_ASSERT_EQUAL(put_file("alternative.eml"), 1);
	CU_ASSERT_EQUAL(ingest_message(conn, user2, acct2, 0, 0, raw, len, NULL, 0, NULL,
	    &inserted, err, sizeof err), 0);
	CU_ASSERT_EQUAL(inserted, 1);
	free(raw);
	/* Every row is its account's user's; threads never cross accounts. */
	CU_ASSERT_EQUAL(put_file("encoded-words.eml"), 1);
	CHECK_Q("0", "SELECT count(*) FROM mail_messages m JOIN mail_accounts a ON "
	    "a.id = m.account_id WHERE a.user_id <> m.user_id");
	CHECK_Q("0", "SELECT count(*) FROM mail_threads t JOIN mail_accounts a ON "
	    "a.id = t.account_id WHERE a.user_id <> t.user_id");
	CHECK_Q("0", "SELECT count(*) FROM mail_attachments x JOIN mail_messages m ON "
	    "m.id = x.message_id WHERE x.user_id <> m.user_id");
	CHECK_Q("0", "SELECT count(*) FROM mail_messages m JOIN mail_threads t ON "
	    "t.id = m.thread_id WHERE t.account_id <> m.account_id");
	CHECK_Q("1", "SELECT count(*) FROM mail_messages WHERE account_id = 2");
}

/* Ingests everything into account 1 and checks that account 2 (user 2) got no row. */
static void
test_second_user_untouched(void)
{
	char sql[256];

	reset();
	CU_ASSERT_EQUAL(put_file("alternative.eml"), 1);
	CU_ASSERT_EQUAL(put_file("calendar.eml"), 1);
	CU_ASSERT_EQUAL(put_file("nested.eml"), 1);
	snprintf(sql, sizeof sql, "SELECT count(*) FROM mail_messages WHERE user_id = %" PRId64,
	    user2);
	CU_ASSERT_EQUAL(ql(sql), 0);
	snprintf(sql, sizeof sql, "SELECT count(*) FROM mail_threads WHERE user_id = %" PRId64,
	    user2);
	CU_ASSERT_EQUAL(ql(sql), 0);
	snprintf(sql, sizeof sql, "SELECT count(*) FROM mail_attachments WHERE user_id = %"
	    PRId64, user2);
	CU_ASSERT_EQUAL(ql(sql), 0);
	snprintf(sql, sizeof sql, "SELECT count(*) FROM mail_messages WHERE user_id = %" PRId64
	    " AND account_id = %" PRId64, user1, acct1);
	CU_ASSERT_EQUAL(ql(sql), 3);
}

static void
setup(void)
{
	char *v;

	unit_db_exec(conn, "INSERT INTO users (email, display_name, password_hash) VALUES "
	    "('one@example.org', 'One', '$argon2id$x'), "
	    "('two@example.org', 'Two', '$argon2id$x')");
	user1 = ql("SELECT id FROM users WHERE email = 'one@example.org'");
	user2 = ql("SELECT id FROM users WHERE email = 'two@example.org'");
	v = q("INSERT INTO mail_accounts (user_id, address) VALUES (%" PRId64 ", "
	    "'me@example.org') RETURNING id", user1);
	acct1 = strtoll(v, NULL, 10);
	free(v);
	v = q("INSERT INTO mail_accounts (user_id, address) VALUES (%" PRId64 ", "
	    "'two@example.org') RETURNING id", user2);
	acct2 = strtoll(v, NULL, 10);
	free(v);
	v = q("INSERT INTO mail_folders (account_id, user_id, name, role) VALUES (%" PRId64
	    ", %" PRId64 ", 'INBOX', 'inbox') RETURNING id", acct1, user1);
	folder1 = strtoll(v, NULL, 10);
	free(v);
}

int
main(void)
{
	static const struct unit_test tests[] = {
		{ "stored fields", test_fields },
		{ "idempotent", test_idempotent },
		{ "threading by In-Reply-To", test_in_reply_to },
		{ "late parent merges threads", test_late_parent },
		{ "subject fallback", test_subject_fallback },
		{ "search vector", test_search },
		{ "people texts and search operators", test_people_text },
		{ "inside a caller's transaction", test_nested_transaction },
		{ "ownership", test_ownership },
		{ "a second user gets no rows", test_second_user_untouched },
		{ NULL, NULL },
	};
	int rc;

	if (unit_db_create() == NULL) {
		fprintf(stderr, "skip: MAILROOM_TEST_DATABASE_URL not set\n");
		return UNIT_DB_SKIP;
	}
	conn = unit_db_connect();
	setup();
	rc = unit_run("ingest", tests);
	PQfinish(conn);
	unit_db_drop();
	return rc;
}
