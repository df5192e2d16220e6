/* bench-search.c: search latency over a large mailbox. Makes a database of its own
 * (t/unit/unit-db.h: MAILROOM_TEST_DATABASE_URL names a superuser conninfo), fills it with
 * the synthetic mail of mailgen.h for one user (BENCH_SEARCH_MESSAGES, default 100000) and
 * a second one (BENCH_SEARCH_OTHER, default 3000): a sample through ingest_message, the
 * rest parsed by mime_parse and bulk-inserted with the same search vector and people
 * texts (checked against the sample's). Then runs a mix of searches through search_parse
 * and search_build_sql in the dashboard's query, and a primary-key lookup as the
 * reference. BENCH_SEARCH_KEEP=1 keeps the database (and says its name), to look at
 * plans with EXPLAIN afterwards; drop it by hand.
 * Prints "name value" lines on stdout; progress goes to stderr. */
#include "config.h"

#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "../unit/unit-db.h"
#include "ingest.h"
#include "mailgen.h"
#include "mime.h"
#include "search.h"
#include "thread.h"
#include "util.h"

#define BENCH_STR2(x) #x
#define BENCH_STR(x) BENCH_STR2(x)

/* The dashboard's page of results, and the matches a relevance search ranks. */
#define BENCH_PAGE 50
#define BENCH_RANK_WINDOW 1000
#define BENCH_RUNS 3		/* timed runs of each query, after one untimed */
#define BENCH_PK_RUNS 2000
#define BENCH_MAX_QUERIES 256
#define BENCH_YEARS 3

/*
 * The search vector, exactly as app/ingest.c builds it: subject (A), the names and
 * addresses of From, To and Cc (B), the text body's first INGEST_SEARCH_BODY_CHARS (C).
 * ingest.c gets the people as one string from C ("name address " per address); here they
 * come from the stored JSON arrays, which gives the same words in the same order, hence
 * the same vector: bench_check_vector proves it on the rows ingest_message stored.
 */
#define BENCH_PEOPLE(m) \
	"coalesce((SELECT string_agg((e->>'name') || ' ' || (e->>'address'), ' ') " \
	"FROM jsonb_array_elements(" m ".from_addr || " m ".to_addr || " m ".cc_addr) e), '')"
#define BENCH_SEARCH_VECTOR(m) \
	"setweight(to_tsvector('simple', " m ".subject), 'A') || " \
	"setweight(to_tsvector('simple', " BENCH_PEOPLE(m) "), 'B') || " \
	"setweight(to_tsvector('simple', left(" m ".body_text, " \
	BENCH_STR(INGEST_SEARCH_BODY_CHARS) ")), 'C')"
/* The texts of the operators from: and to:, as ingest.c's insert makes them. */
#define BENCH_FROM_TEXT(m) "mail_people_text(" m ".from_addr)"
#define BENCH_TO_TEXT(m) "mail_people_text(" m ".to_addr || " m ".cc_addr)"

static volatile sig_atomic_t bench_stop;

struct bench_user {
	int64_t id, account, inbox, sent;
	const char *email, *name;
	size_t count, sample;
	uint64_t seed;
	char tag[8];
	int64_t first_date, last_date;
	int64_t thread_base;	/* bulk threads get ids thread_base + generator thread */
	uint32_t uid_inbox, uid_sent;
	struct mailgen *gen;
};

struct bench_query {
	const char *kind;
	char *text;
	int relevance;
	double ms[BENCH_RUNS];
	int rows;
};

static PGconn *bench_conn;

static void
bench_on_signal(int sig)
{
	(void)sig;
	bench_stop = 1;
}

static void MR_NORETURN
bench_fail(const char *what, const char *msg)
{
	fprintf(stderr, "bench-search: %s: %s\n", what, msg);
	exit(1);	/* the atexit handler drops the database */
}

/* Runs sql with parameters; exits on failure. */
static PGresult *
bench_sql(const char *sql, int n, const char *const *p)
{
	PGresult *r = PQexecParams(bench_conn, sql, n, NULL, p, NULL, NULL, 0);

	if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
		bench_fail(sql, PQerrorMessage(bench_conn));
	return r;
}

static int64_t
bench_sql_int(const char *sql, int n, const char *const *p)
{
	PGresult *r = bench_sql(sql, n, p);
	int64_t v = PQntuples(r) > 0 ? strtoll(PQgetvalue(r, 0, 0), NULL, 10) : 0;

	PQclear(r);
	return v;
}

static size_t
bench_env_size(const char *name, size_t def, size_t min, size_t max)
{
	const char *s = getenv(name);
	int64_t v;

	if (s == NULL || *s == '\0')
		return def;
	if (util_parse_int64(s, (int64_t)min, (int64_t)max, &v) != 0) {
		fprintf(stderr, "bench-search: %s must be a number from %zu to %zu\n", name, min,
		    max);
		exit(2);
	}
	return (size_t)v;
}

/* --- Filling the database ------------------------------------------------------------- */

static void
bench_user_create(struct bench_user *u)
{
	char s_user[24], s_acct[24];
	const char *p[3];

	p[0] = u->email;
	p[1] = u->name;
	u->id = bench_sql_int("INSERT INTO users (email, display_name, password_hash) VALUES "
	    "($1, $2, '$argon2id$bench') RETURNING id", 2, p);
	snprintf(s_user, sizeof s_user, "%" PRId64, u->id);
	p[0] = s_user;
	p[1] = u->email;
	u->account = bench_sql_int("INSERT INTO mail_accounts (user_id, address, display_name) "
	    "VALUES ($1, $2, 'Work') RETURNING id", 2, p);
	snprintf(s_acct, sizeof s_acct, "%" PRId64, u->account);
	p[0] = s_acct;
	p[1] = s_user;
	p[2] = "INBOX";
	u->inbox = bench_sql_int("INSERT INTO mail_folders (account_id, user_id, name, role) "
	    "VALUES ($1, $2, $3, 'inbox') RETURNING id", 3, p);
	p[2] = "Sent";
	u->sent = bench_sql_int("INSERT INTO mail_folders (account_id, user_id, name, role) "
	    "VALUES ($1, $2, $3, 'sent') RETURNING id", 3, p);
}

/* COPY's text format: \N for NULL, backslash escapes for the rest. */
static void
bench_copy_field(char **buf, size_t *len, size_t *cap, const char *s, int last)
{
	size_t need = s == NULL ? 3 : 2 * strlen(s) + 2;

	if (*len + need + 1 > *cap) {
		while (*len + need + 1 > *cap)
			*cap = *cap != 0 ? *cap * 2 : 65536;
		*buf = xreallocarray(*buf, *cap, 1);
	}
	if (s == NULL) {
		memcpy(*buf + *len, "\\N", 2);
		*len += 2;
	} else {
		for (; *s != '\0'; s++) {
			char c = *s, e = 0;

			if (c == '\\')
				e = '\\';
			else if (c == '\n')
				e = 'n';
			else if (c == '\r')
				e = 'r';
			else if (c == '\t')
				e = 't';
			if (e != 0) {
				(*buf)[(*len)++] = '\\';
				(*buf)[(*len)++] = e;
			} else {
				(*buf)[(*len)++] = c;
			}
		}
	}
	(*buf)[(*len)++] = last ? '\n' : '\t';
}

static char *
bench_json_addresses(const struct mime_address_list *l)
{
	json_t *a = json_array();
	char *s;

	for (size_t i = 0; i < l->n; i++) {
		json_array_append_new(a, json_pack("{s:s, s:s}", "name", l->v[i].name,
		    "address", l->v[i].address));
	}
	s = json_dumps(a, JSON_COMPACT | JSON_ENSURE_ASCII);
	json_decref(a);
	return s;
}

static char *
bench_json_strings(const char *const *v, size_t n)
{
	json_t *a = json_array();
	char *s;

	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_string(v[i]));
	s = json_dumps(a, JSON_COMPACT | JSON_ENSURE_ASCII);
	json_decref(a);
	return s;
}

static const char bench_stage_sql[] =
	"CREATE TEMP TABLE bench_stage (thread bigint, folder text, uid bigint, "
	"message_id text, in_reply_to text, refs jsonb, from_addr jsonb, to_addr jsonb, "
	"cc_addr jsonb, reply_to jsonb, subject text, subject_key text, sent_at bigint, "
	"received_at bigint, size integer, flags jsonb, headers jsonb, body_text text, "
	"body_html text, snippet text, direction text, has_attachments boolean, "
	"has_calendar boolean) ON COMMIT DROP";

/* $1 user, $2 account, $3 thread base. */
static const char bench_threads_sql[] =
	"INSERT INTO mail_threads (id, user_id, account_id, subject, subject_key, first_date, "
	"last_date, message_count) OVERRIDING SYSTEM VALUE "
	"SELECT $3::bigint + thread, $1, $2, (array_agg(subject ORDER BY sent_at))[1], "
	"(array_agg(subject_key ORDER BY sent_at))[1], to_timestamp(min(sent_at)), "
	"to_timestamp(max(sent_at)), count(*) FROM bench_stage GROUP BY thread";

/* $1 user, $2 account, $3 thread base, $4 inbox, $5 sent. */
static const char bench_messages_sql[] =
	"INSERT INTO mail_messages (user_id, account_id, folder_id, thread_id, uid, message_id, "
	"in_reply_to, refs, from_addr, to_addr, cc_addr, reply_to, subject, sent_at, "
	"received_at, size, flags, headers, body_text, body_html, snippet, direction, "
	"has_attachments, has_calendar, search, from_text, to_text) "
	"SELECT $1, $2, CASE s.folder WHEN 'sent' THEN $5::bigint ELSE $4::bigint END, "
	"$3::bigint + s.thread, s.uid, s.message_id, s.in_reply_to, "
	"ARRAY(SELECT jsonb_array_elements_text(s.refs)), s.from_addr, s.to_addr, s.cc_addr, "
	"s.reply_to, s.subject, to_timestamp(s.sent_at), to_timestamp(s.received_at), s.size, "
	"ARRAY(SELECT jsonb_array_elements_text(s.flags)), s.headers, s.body_text, s.body_html, "
	"s.snippet, s.direction, s.has_attachments, s.has_calendar, "
	BENCH_SEARCH_VECTOR("s") ", " BENCH_FROM_TEXT("s") ", " BENCH_TO_TEXT("s")
	" FROM bench_stage s ORDER BY s.received_at";

static const char *
bench_flags_json(const struct mailgen_msg *g)
{
	if (g->seen && g->flagged)
		return "[\"\\\\Seen\",\"\\\\Flagged\"]";
	if (g->seen)
		return "[\"\\\\Seen\"]";
	if (g->flagged)
		return "[\"\\\\Flagged\"]";
	return "[]";
}

/* One generated message as a row of bench_stage, from what mime_parse reads in it. */
static void
bench_stage_row(struct bench_user *u, const struct mailgen_msg *g, char **buf, size_t *len,
    size_t *cap)
{
	struct mime_message *m;
	char s_thread[24], s_uid[24], s_sent[24], s_recv[24], s_size[24];
	char key[THREAD_KEY_SIZE];
	char *refs, *from, *to, *cc, *reply, *headers;
	const char **ids;
	size_t nids = 0;
	int att = 0, found = 0;

	if (mime_parse(g->raw, g->len, &m) != 0)
		bench_fail("mime_parse", "out of memory");
	/* References, then In-Reply-To when not among them: as ingest.c stores refs. */
	ids = xcalloc(m->n_references + 1, sizeof(*ids));
	for (size_t i = 0; i < m->n_references; i++) {
		ids[nids++] = m->references[i];
		if (m->in_reply_to != NULL && strcmp(m->references[i], m->in_reply_to) == 0)
			found = 1;
	}
	if (m->in_reply_to != NULL && !found)
		ids[nids++] = m->in_reply_to;
	refs = bench_json_strings(ids, nids);
	free(ids);
	from = bench_json_addresses(&m->from);
	to = bench_json_addresses(&m->to);
	cc = bench_json_addresses(&m->cc);
	reply = bench_json_addresses(&m->reply_to);
	headers = json_dumps(m->headers, JSON_COMPACT | JSON_ENSURE_ASCII);
	for (size_t i = 0; i < m->n_attachments; i++) {
		if (!m->attachments[i].is_inline)
			att = 1;
	}
	thread_subject_key(m->subject, key, sizeof key);
	snprintf(s_thread, sizeof s_thread, "%zu", g->thread);
	snprintf(s_uid, sizeof s_uid, "%" PRIu32, g->sent ? ++u->uid_sent : ++u->uid_inbox);
	snprintf(s_sent, sizeof s_sent, "%" PRId64, m->date != 0 ? m->date : g->date);
	snprintf(s_recv, sizeof s_recv, "%" PRId64, g->received);
	snprintf(s_size, sizeof s_size, "%zu", g->len);
	{
		const char *f[] = { s_thread, g->sent ? "sent" : "inbox", s_uid, m->message_id,
			m->in_reply_to, refs, from, to, cc, reply, m->subject, key, s_sent, s_recv,
			s_size, bench_flags_json(g), headers, m->text, m->html, m->snippet,
			g->sent ? "sent" : "received", att ? "t" : "f",
			m->calendar != NULL ? "t" : "f" };

		for (size_t i = 0; i < MR_ARRAY_LEN(f); i++)
			bench_copy_field(buf, len, cap, f[i], i + 1 == MR_ARRAY_LEN(f));
	}
	free(refs);
	free(from);
	free(to);
	free(cc);
	free(reply);
	free(headers);
	mime_message_free(m);
}

/* The first u->sample messages of the user's mailbox, through ingest_message. */
static void
bench_ingest_sample(struct bench_user *u)
{
	const char *self[] = { u->email, NULL };
	const struct mailgen_msg *g;
	char err[512];
	int64_t t0 = util_now_us();

	u->gen = mailgen_new(u->seed, u->count, u->first_date, u->last_date, u->name,
	    u->email, u->tag);
	while (!bench_stop && (g = mailgen_next(u->gen)) != NULL) {
		const char *seen[] = { "\\Seen", NULL };
		int inserted;

		if (ingest_message(bench_conn, u->id, u->account, g->sent ? u->sent : u->inbox,
		    g->sent ? ++u->uid_sent : ++u->uid_inbox, g->raw, g->len,
		    g->seen ? seen : NULL, g->received, self, &inserted, err, sizeof err) != 0)
			bench_fail("ingest_message", err);
		if (!inserted)
			bench_fail("ingest_message", "a generated message was not stored");
		if (g->index + 1 == u->sample)
			break;
	}
	fprintf(stderr, "bench-search: %s: %zu messages through ingest_message in %.1f s\n",
	    u->email, u->sample, (double)(util_now_us() - t0) / 1e6);
}

/* The rest of the user's mailbox: parsed, copied into a staging table, inserted. */
static void
bench_bulk(struct bench_user *u)
{
	const struct mailgen_msg *g;
	char s_user[24], s_acct[24], s_base[24], s_inbox[24], s_sent[24];
	char *buf = NULL;
	size_t len = 0, cap = 0, bulk = 0;
	int64_t t0 = util_now_us();
	PGresult *r;

	PQclear(bench_sql("BEGIN", 0, NULL));
	PQclear(bench_sql(bench_stage_sql, 0, NULL));
	r = PQexec(bench_conn, "COPY bench_stage FROM STDIN");
	if (PQresultStatus(r) != PGRES_COPY_IN)
		bench_fail("COPY", PQerrorMessage(bench_conn));
	PQclear(r);
	while (!bench_stop && (g = mailgen_next(u->gen)) != NULL) {
		bench_stage_row(u, g, &buf, &len, &cap);
		bulk++;
		if (len > (1u << 20)) {
			if (PQputCopyData(bench_conn, buf, (int)len) != 1)
				bench_fail("COPY", PQerrorMessage(bench_conn));
			len = 0;
		}
		if (bulk % 25000 == 0)
			fprintf(stderr, "bench-search: %s: %zu messages generated\n", u->email,
			    u->sample + bulk);
	}
	if (bench_stop)
		bench_fail("fill", "interrupted");
	if ((len > 0 && PQputCopyData(bench_conn, buf, (int)len) != 1) ||
	    PQputCopyEnd(bench_conn, NULL) != 1)
		bench_fail("COPY", PQerrorMessage(bench_conn));
	r = PQgetResult(bench_conn);
	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		bench_fail("COPY", PQerrorMessage(bench_conn));
	PQclear(r);
	free(buf);
	mailgen_free(u->gen);
	u->gen = NULL;

	snprintf(s_user, sizeof s_user, "%" PRId64, u->id);
	snprintf(s_acct, sizeof s_acct, "%" PRId64, u->account);
	snprintf(s_base, sizeof s_base, "%" PRId64, u->thread_base);
	snprintf(s_inbox, sizeof s_inbox, "%" PRId64, u->inbox);
	snprintf(s_sent, sizeof s_sent, "%" PRId64, u->sent);
	{
		const char *p[] = { s_user, s_acct, s_base, s_inbox, s_sent };

		PQclear(bench_sql(bench_threads_sql, 3, p));
		PQclear(bench_sql(bench_messages_sql, 5, p));
	}
	PQclear(bench_sql("COMMIT", 0, NULL));
	fprintf(stderr, "bench-search: %s: %zu more messages parsed and bulk-inserted in "
	    "%.1f s\n", u->email, bulk, (double)(util_now_us() - t0) / 1e6);
}

/* The rows ingest_message stored have the vector and the people texts the bulk insert
 * computes: otherwise the bench would measure other indexes than the application's. */
static void
bench_check_vector(void)
{
	PGresult *r = bench_sql("SELECT count(*), count(*) FILTER (WHERE m.search = "
	    BENCH_SEARCH_VECTOR("m") " AND m.from_text = " BENCH_FROM_TEXT("m")
	    " AND m.to_text = " BENCH_TO_TEXT("m") ") "
	    "FROM mail_messages m WHERE m.thread_id < 1000000", 0, NULL);
	long all = strtol(PQgetvalue(r, 0, 0), NULL, 10);
	long same = strtol(PQgetvalue(r, 0, 1), NULL, 10);

	PQclear(r);
	if (all == 0 || same != all) {
		char msg[256];

		snprintf(msg, sizeof msg, "%ld of %ld ingested messages have another vector or "
		    "people text than this bench's expressions: update BENCH_SEARCH_VECTOR, "
		    "BENCH_FROM_TEXT or BENCH_TO_TEXT", all - same, all);
		bench_fail("search vector", msg);
	}
	fprintf(stderr, "bench-search: the search vector and people texts of %ld ingested "
	    "messages equal the bulk insert's\n", all);
}

/*
 * The secondary indexes of mail_messages are dropped before the bulk insert and made
 * again after it, from their own definitions read back from the catalog: building a GIN
 * index once is much faster than growing it row by row, and the result is the same index.
 */
static char *bench_index_defs[32];

static void
bench_drop_indexes(void)
{
	PGresult *r = bench_sql("SELECT indexrelid::regclass::text, pg_get_indexdef(indexrelid) "
	    "FROM pg_index WHERE indrelid = 'mail_messages'::regclass AND NOT indisunique "
	    "ORDER BY 1", 0, NULL);
	int n = PQntuples(r);

	if (n > (int)MR_ARRAY_LEN(bench_index_defs))
		bench_fail("indexes", "too many");
	for (int i = 0; i < n; i++) {
		/* regclass::text is the name quoted as SQL needs it. */
		char *sql = xasprintf("DROP INDEX %s", PQgetvalue(r, i, 0));

		bench_index_defs[i] = xstrdup(PQgetvalue(r, i, 1));
		PQclear(bench_sql(sql, 0, NULL));
		free(sql);
	}
	PQclear(r);
}

static void
bench_create_indexes(void)
{
	int64_t t0 = util_now_us();

	PQclear(bench_sql("SET maintenance_work_mem = '256MB'", 0, NULL));
	for (size_t i = 0; i < MR_ARRAY_LEN(bench_index_defs) && bench_index_defs[i] != NULL;
	    i++) {
		PQclear(bench_sql(bench_index_defs[i], 0, NULL));
		free(bench_index_defs[i]);
		bench_index_defs[i] = NULL;
	}
	PQclear(bench_sql("VACUUM (ANALYZE) mail_messages", 0, NULL));
	PQclear(bench_sql("VACUUM (ANALYZE) mail_threads", 0, NULL));
	fprintf(stderr, "bench-search: indexes made and tables analyzed in %.1f s\n",
	    (double)(util_now_us() - t0) / 1e6);
}

/* --- Queries ----------------------------------------------------------------------------- */

/*
 * The plain search: the user's messages matching the fragment, newest first, one page; a
 * relevance search ranks only the newest BENCH_RANK_WINDOW matches (issue 5: "ranking
 * bounded so common words stay fast").
 */
static char *
bench_plain_sql(const struct search_sql *s, int relevance)
{
	if (relevance) {
		return xasprintf("WITH m AS (SELECT id, thread_id, from_addr, subject, snippet, "
		    "received_at, flags, has_attachments, category, search FROM mail_messages "
		    "WHERE user_id = $1 AND (%s) ORDER BY received_at DESC, id DESC LIMIT "
		    BENCH_STR(BENCH_RANK_WINDOW) ") SELECT id, thread_id, from_addr, subject, "
		    "snippet, received_at, flags, has_attachments, category FROM m "
		    "ORDER BY ts_rank(search, websearch_to_tsquery('simple', $2)) DESC, "
		    "received_at DESC, id DESC LIMIT " BENCH_STR(BENCH_PAGE), s->where);
	}
	return xasprintf("SELECT id, thread_id, from_addr, subject, snippet, received_at, flags, "
	    "has_attachments, category FROM mail_messages WHERE user_id = $1 AND (%s) "
	    "ORDER BY received_at DESC, id DESC LIMIT " BENCH_STR(BENCH_PAGE), s->where);
}

/*
 * The dashboard's search, as app/page-mail.c (mail_list_page_sql and mail_list_run) builds
 * it for the first page of a search with no other filter: one row per thread at its newest
 * matching message (or, ranked, at its best among the newest BENCH_RANK_WINDOW matches),
 * with the thread's unread state, attachments, snippet and senders. page-mail.c builds
 * it inside a request (arena, http_ctx), so it is copied here: keep the two alike.
 */
static const char bench_dashboard_outer[] =
	" SELECT t.id, t.subject, t.message_count, t.category, t.account_id, "
	"page.k, (extract(epoch FROM page.d) * 1000000)::bigint, page.rank, "
	"to_char(page.d AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), "
	"CASE WHEN (page.d AT TIME ZONE 'UTC')::date = (now() AT TIME ZONE 'UTC')::date "
	"THEN to_char(page.d AT TIME ZONE 'UTC', 'HH24:MI') "
	"WHEN date_trunc('year', page.d AT TIME ZONE 'UTC') = "
	"date_trunc('year', now() AT TIME ZONE 'UTC') "
	"THEN to_char(page.d AT TIME ZONE 'UTC', 'FMDD Mon') "
	"ELSE to_char(page.d AT TIME ZONE 'UTC', 'YYYY-MM-DD') END, "
	"s.unread, s.attachments, coalesce(hit.snippet, s.snippet, ''), s.senders, %s "
	"FROM page JOIN mail_threads t ON t.id = page.thread_id AND t.user_id = $1 "
	"CROSS JOIN LATERAL (SELECT coalesce(bool_or(NOT ('\\Seen' = ANY (x.flags))), false) "
	"AS unread, coalesce(bool_or(x.has_attachments), false) AS attachments, "
	"(array_agg(x.snippet ORDER BY x.received_at DESC, x.id DESC))[1] AS snippet, "
	"json_agg(json_build_array(x.direction = 'sent', x.from_addr->0->>'name', "
	"x.from_addr->0->>'address') ORDER BY coalesce(x.sent_at, x.received_at), x.id)::text "
	"AS senders FROM mail_messages x WHERE x.user_id = $1 AND x.thread_id = t.id) s "
	"LEFT JOIN mail_messages hit ON hit.id = page.k AND hit.user_id = $1 "
	"ORDER BY %s";

static char *
bench_dashboard_sql(const struct search_sql *s, int relevance)
{
	char *page, *sql;

	if (relevance) {
		page = xasprintf("WITH cand AS (SELECT m.id, m.thread_id, m.received_at, m.search "
		    "FROM mail_messages m WHERE m.user_id = $1 AND m.thread_id IS NOT NULL "
		    "AND (%s) ORDER BY m.received_at DESC, m.id DESC LIMIT "
		    BENCH_STR(BENCH_RANK_WINDOW) "), ranked AS (SELECT DISTINCT ON (thread_id) "
		    "thread_id, id, received_at, ts_rank(search, websearch_to_tsquery('simple', "
		    "$2)) AS rank FROM cand ORDER BY thread_id, rank DESC, id DESC), page AS "
		    "(SELECT thread_id, received_at AS d, id AS k, rank FROM ranked ORDER BY rank "
		    "DESC, id DESC LIMIT %d), win AS (SELECT count(*) = "
		    BENCH_STR(BENCH_RANK_WINDOW) " AS is_full FROM cand)", s->where,
		    BENCH_PAGE + 1);
	} else {
		page = xasprintf("WITH page AS (SELECT m.thread_id, m.received_at AS d, m.id AS k, "
		    "NULL::real AS rank FROM mail_messages m WHERE m.user_id = $1 "
		    "AND m.thread_id IS NOT NULL AND (%s) AND NOT EXISTS (SELECT 1 FROM "
		    "mail_messages n WHERE n.user_id = $1 AND n.thread_id = m.thread_id AND "
		    "(n.received_at, n.id) > (m.received_at, m.id) AND (%s)) "
		    "ORDER BY m.received_at DESC, m.id DESC LIMIT %d)", s->where, s->where,
		    BENCH_PAGE + 1);
	}
	sql = xasprintf(bench_dashboard_outer, relevance ? "(SELECT is_full FROM win)" :
	    "false", relevance ? "page.rank DESC, page.k DESC" : "page.d DESC, page.k DESC");
	{
		char *all = xasprintf("%s%s", page, sql);

		free(page);
		free(sql);
		return all;
	}
}

static double
bench_ms_since(int64_t t0)
{
	return (double)(util_now_us() - t0) / 1000.0;
}

/* Runs q for user (once untimed, then BENCH_RUNS timed). */
static void
bench_run_query(struct bench_query *q, int64_t user, int dashboard)
{
	struct search_query sq;
	struct search_sql ss;
	const char *p[SEARCH_MAX_PARAMS + 1];
	char s_user[24], *sql;

	if (search_parse(q->text, &sq) != 0)
		bench_fail(q->text, sq.error);
	search_build_sql(&sq, 2, &ss);
	if (q->relevance && strncmp(ss.where, "search @@", 9) != 0)
		bench_fail(q->text, "a relevance search needs words");
	sql = dashboard ? bench_dashboard_sql(&ss, q->relevance) :
	    bench_plain_sql(&ss, q->relevance);
	snprintf(s_user, sizeof s_user, "%" PRId64, user);
	p[0] = s_user;
	for (size_t i = 0; i < ss.nparams; i++)
		p[i + 1] = ss.params[i];
	for (int run = -1; run < BENCH_RUNS; run++) {
		int64_t t0 = util_now_us();
		PGresult *r = bench_sql(sql, (int)ss.nparams + 1, p);

		if (run >= 0)
			q->ms[run] = bench_ms_since(t0);
		q->rows = PQntuples(r);
		PQclear(r);
	}
	free(sql);
	search_sql_free(&ss);
	search_query_free(&sq);
}

static void
bench_add(struct bench_query *qs, size_t *n, const char *kind, int relevance, char *text)
{
	if (*n >= BENCH_MAX_QUERIES)
		bench_fail("queries", "too many");
	qs[*n].kind = kind;
	qs[*n].text = text;
	qs[*n].relevance = relevance;
	(*n)++;
}

/* A date of the mailbox's period, YYYY-MM-DD: fraction 0 is the first day. */
static char *
bench_date(const struct bench_user *u, double fraction)
{
	time_t t = (time_t)(u->first_date + (int64_t)((double)(u->last_date - u->first_date) *
	    fraction));
	struct tm tm;
	char d[16];

	gmtime_r(&t, &tm);
	strftime(d, sizeof d, "%Y-%m-%d", &tm);
	return xstrdup(d);
}

/* The mix: what people type into a mail search box, from the commonest word to a typo. */
static size_t
bench_queries(struct bench_query *qs, const struct bench_user *u)
{
	size_t n = 0;

	for (size_t i = 0; i < 10; i++) {
		char *d;

		/* A very common word ("the" is in nearly every message). */
		bench_add(qs, &n, "common", 0, xstrdup(mailgen_word(i)));
		/* Frequent words of mail: in a few percent of the messages. */
		bench_add(qs, &n, "frequent", 0, xstrdup(mailgen_word(60 + i * 20)));
		/* Mid-frequency: a few hundred messages. */
		bench_add(qs, &n, "medium", 0, xstrdup(mailgen_word(2000 + i * 700)));
		/* Rare: a handful of messages. */
		bench_add(qs, &n, "rare", 0, xstrdup(mailgen_word(70000 + i * 2900)));
		/* Two words, both needed. */
		bench_add(qs, &n, "two-words", 0, xasprintf("%s %s", mailgen_word(100 + i * 10),
		    mailgen_word(1000 + i * 300)));
		bench_add(qs, &n, "phrase", 0, xasprintf("\"%s\"", mailgen_phrase(i * 2)));
		/* From a frequent correspondent, and from a rare one. */
		bench_add(qs, &n, "from", 0, xasprintf("from:%s", mailgen_contact_address(i)));
		bench_add(qs, &n, "from-rare", 0,
		    xasprintf("from:%s", mailgen_contact_address(1000 + i * 150)));
		bench_add(qs, &n, "from-word", 0, xasprintf("from:%s %s",
		    mailgen_contact_name(i * 3), mailgen_word(80 + i * 7)));
		d = bench_date(u, 0.1 * (double)i);
		bench_add(qs, &n, "attachment-after", 0, xasprintf("has:attachment after:%s", d));
		free(d);
		/* Ranked by relevance among the newest matches. */
		bench_add(qs, &n, "relevance", 1, xstrdup(mailgen_word(i % 2 == 0 ? i : 60 + i)));
		if (i < 5) {
			bench_add(qs, &n, "subject", 0, xasprintf("subject:%s",
			    mailgen_word(200 + i * 50)));
			bench_add(qs, &n, "to", 0, xasprintf("to:%s", mailgen_contact_name(i + 1)));
			bench_add(qs, &n, "negated", 0, xasprintf("%s -%s",
			    mailgen_word(300 + i), mailgen_word(i)));
			bench_add(qs, &n, "in-sent", 0, xasprintf("in:sent %s",
			    mailgen_word(150 + i * 30)));
			/* Two common words side by side: the positions of many rows to check. */
			bench_add(qs, &n, "phrase-common", 0, xasprintf("\"%s %s\"",
			    mailgen_word(i * 2), mailgen_word(i * 2 + 1)));
			bench_add(qs, &n, "typo", 0, xasprintf("%sx", mailgen_word(5000 + i)));
			bench_add(qs, &n, "relevance-rare", 1, xasprintf("%s %s",
			    mailgen_word(500 + i * 100), mailgen_word(3000 + i * 1000)));
		}
	}
	return n;
}

static int
bench_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* The q-quantile (0.5: median) of v[n], sorting v; nearest rank. */
static double
bench_quantile(double *v, size_t n, double q)
{
	size_t k;

	if (n == 0)
		return 0;
	qsort(v, n, sizeof(*v), bench_cmp_double);
	k = (size_t)(q * (double)n + 0.999999);
	return v[k == 0 ? 0 : k - 1];
}

/* Runs every query for user; prints PREFIX_median_ms, _p95_ms and per-kind medians. */
static double
bench_measure(struct bench_query *qs, size_t n, int64_t user, const char *prefix,
    int dashboard, int per_kind)
{
	double *all = xcalloc(n * BENCH_RUNS, sizeof(*all)), med, p95, max, ret;
	size_t k = 0;

	for (size_t i = 0; i < n && !bench_stop; i++) {
		bench_run_query(&qs[i], user, dashboard);
		for (int r = 0; r < BENCH_RUNS; r++)
			all[k++] = qs[i].ms[r];
	}
	if (bench_stop)
		bench_fail("queries", "interrupted");
	p95 = bench_quantile(all, k, 0.95);
	max = all[k - 1];
	ret = med = bench_quantile(all, k, 0.5);
	printf("%s_queries %zu\n%s_runs %zu\n%s_median_ms %.2f\n%s_p95_ms %.2f\n"
	    "%s_max_ms %.2f\n", prefix, n, prefix, k, prefix, med, prefix, p95, prefix, max);
	if (per_kind) {
		for (size_t i = 0; i < n; i++) {
			double v[BENCH_MAX_QUERIES * BENCH_RUNS];
			size_t m = 0, rows = 0, nq = 0;
			int done = 0;

			for (size_t j = 0; j < i; j++)
				done |= strcmp(qs[j].kind, qs[i].kind) == 0;
			if (done)
				continue;
			for (size_t j = i; j < n; j++) {
				if (strcmp(qs[j].kind, qs[i].kind) != 0)
					continue;
				for (int r = 0; r < BENCH_RUNS; r++)
					v[m++] = qs[j].ms[r];
				rows += (size_t)qs[j].rows;
				nq++;
			}
			p95 = bench_quantile(v, m, 0.95);
			med = bench_quantile(v, m, 0.5);
			printf("%s_%s_median_ms %.2f (p95 %.2f, max %.2f, %.1f rows, e.g. '%s')\n",
			    prefix, qs[i].kind, med, p95, v[m - 1], (double)rows / (double)nq,
			    qs[i].text);
		}
	}
	free(all);
	return ret;
}

/* The reference: one primary-key lookup round trip on the same connection. */
static double
bench_pk_lookup(const struct bench_user *u)
{
	double *v = xcalloc(BENCH_PK_RUNS, sizeof(*v)), med;
	char s_user[24], s_id[24];
	const char *p[2] = { s_id, s_user };
	int64_t lo, hi;

	snprintf(s_user, sizeof s_user, "%" PRId64, u->id);
	lo = bench_sql_int("SELECT min(id) FROM mail_messages WHERE user_id = $1", 1, p + 1);
	hi = bench_sql_int("SELECT max(id) FROM mail_messages WHERE user_id = $1", 1, p + 1);
	srand(7);
	for (int i = -200; i < BENCH_PK_RUNS; i++) {
		int64_t t0;
		PGresult *r;

		snprintf(s_id, sizeof s_id, "%" PRId64, lo + (int64_t)rand() % (hi - lo + 1));
		t0 = util_now_us();
		r = bench_sql("SELECT id, subject, received_at FROM mail_messages "
		    "WHERE id = $1 AND user_id = $2", 2, p);
		if (i >= 0)
			v[i] = bench_ms_since(t0);
		PQclear(r);
	}
	med = bench_quantile(v, BENCH_PK_RUNS, 0.5);
	free(v);
	return med;
}

int
main(void)
{
	struct bench_user u1 = { .email = "alex@mailroom.example", .name = "Alex Morgan",
		.seed = 1, .tag = "u1", .thread_base = 10000000 };
	struct bench_user u2 = { .email = "sam@mailroom.example", .name = "Sam Rivera",
		.seed = 2, .tag = "u2", .thread_base = 20000000 };
	static struct bench_query qs[BENCH_MAX_QUERIES];
	int64_t now = (int64_t)time(NULL), t0;
	double med, pk;
	size_t n;

	u1.count = bench_env_size("BENCH_SEARCH_MESSAGES", 100000, 1000, 10000000);
	u2.count = bench_env_size("BENCH_SEARCH_OTHER", 3000, 200, 10000000);
	u1.sample = bench_env_size("BENCH_SEARCH_SAMPLE", 500, 1, u1.count);
	u2.sample = u2.count < 100 ? u2.count : 100;
	u1.first_date = u2.first_date = now - BENCH_YEARS * 365 * 86400;
	u1.last_date = u2.last_date = now - 3600;

	if (unit_db_create() == NULL) {
		fprintf(stderr, "bench-search: MAILROOM_TEST_DATABASE_URL (a superuser conninfo) "
		    "is not set\n");
		return UNIT_DB_SKIP;
	}
	if (bench_env_size("BENCH_SEARCH_KEEP", 0, 0, 1) == 1)
		fprintf(stderr, "bench-search: the database %s is kept\n", unit_db_name);
	else
		atexit(unit_db_drop);
	signal(SIGINT, bench_on_signal);
	signal(SIGTERM, bench_on_signal);
	bench_conn = unit_db_connect();
	mime_init();
	t0 = util_now_us();
	bench_user_create(&u1);
	bench_user_create(&u2);
	bench_ingest_sample(&u1);
	bench_ingest_sample(&u2);
	bench_check_vector();
	bench_drop_indexes();
	bench_bulk(&u1);
	bench_bulk(&u2);
	bench_create_indexes();
	fprintf(stderr, "bench-search: database ready in %.0f s\n",
	    (double)(util_now_us() - t0) / 1e6);
	printf("search_messages %zu\nsearch_other_user_messages %zu\n", u1.count, u2.count);

	n = bench_queries(qs, &u1);
	med = bench_measure(qs, n, u1.id, "search", 1, 1);
	pk = bench_pk_lookup(&u1);
	printf("pk_lookup_median_ms %.3f\nsearch_ratio %.1f\n", pk, pk > 0 ? med / pk : 0);
	/* One page of matching messages, without the dashboard's threads: the search alone. */
	bench_measure(qs, n, u1.id, "search_plain", 0, 0);
	/* The same mix for the small mailbox: its words are common in the other user's. */
	bench_measure(qs, n, u2.id, "search_small_user", 1, 0);
	for (size_t i = 0; i < n; i++)
		free(qs[i].text);
	PQfinish(bench_conn);
	return 0;
}
