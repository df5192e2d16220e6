/* page-mail.c: the mail a user reads. /inbox lists threads (one row each, newest activity
 * first) with keyset pagination, filters and the search box (search.c); /threads/{id} shows
 * a thread with each HTML body in a sandboxed frame served by /messages/{id}/body; the JSON
 * API (/api/v1/threads, /api/v1/messages) answers from the same queries. Every query is
 * scoped by user_id = $1: another user's ids are simply not found. doc/search.md and
 * doc/api.md describe the behaviour. */
#include "config.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "auth.h"
#include "db-pool.h"
#include "form.h"
#include "http-server.h"
#include "page.h"
#include "routes.h"
#include "search.h"
#include "tmpl.h"
#include "util.h"

/* Threads per page of the inbox, and at most per page of the API. */
#define MAIL_PAGE_SIZE 50
#define MAIL_API_LIMIT_MAX 100
/* Relevance ranks only the newest this many matching messages, so that a word found in
 * most of a large mailbox costs a bounded ts_rank (doc/search.md). */
#define MAIL_RANK_WINDOW 1000
/* Bytes of a decoded cursor, at most: "r:" rank ":" id. */
#define MAIL_CURSOR_MAX 80
/* Microseconds since the epoch of 0001-01-01 and of 9999-12-31 23:59:59.999999 UTC. */
#define MAIL_US_MIN INT64_C(-62135596800000000)
#define MAIL_US_MAX INT64_C(253402300799999999)
/* Participants a list row names before "…". */
#define MAIL_ROW_NAMES 3

#define MAIL_B64 sodium_base64_VARIANT_URLSAFE_NO_PADDING

/* The folder roles a list may be narrowed to, in the order the filter offers them. */
static const struct {
	const char *role;
	const char *name;
} mail_roles[] = {
	{ "inbox", "Inbox" }, { "sent", "Sent" }, { "drafts", "Drafts" },
	{ "archive", "Archive" }, { "trash", "Trash" }, { "junk", "Junk" },
};

/* How a list is walked, which is also the first letter of its cursors: threads by their
 * last activity (no message-level condition), threads by their newest message that
 * matches (search or folder filter), or matching threads by rank. */
enum mail_order {
	MAIL_ORDER_THREADS = 't',
	MAIL_ORDER_MESSAGES = 'm',
	MAIL_ORDER_RELEVANCE = 'r',
};

/* A position in a list, as an ?after= cursor carries it: the key of the last row shown
 * (microseconds since the epoch, or the rank) and its id (thread for 't', message for
 * 'm' and 'r'), both decimal text ready to be parameters. */
struct mail_cursor {
	char order;          /* 0: the first page */
	const char *key;
	const char *id;
};

/* A list request, validated. */
struct mail_list_in {
	const char *q;                           /* NULL: no search */
	struct search_query sq;                  /* parsed q (freed by mail_list_in_free) */
	int parsed;
	const struct page_category *category;    /* NULL: all mail */
	const char *account;                     /* an account id of the user, or NULL */
	const char *role;                        /* a folder role, or NULL */
	int relevance;                           /* sort=relevance was asked */
	int limit;
	struct mail_cursor after;
	json_t *accounts;                        /* [{id, address, display_name}] */
};

/* A page of a list. */
struct mail_list_out {
	json_t *threads;
	const char *next;     /* cursor of the next page, or NULL */
	int ranked;           /* the rows are in relevance order */
	int window_full;      /* relevance: more matches than MAIL_RANK_WINDOW */
};

static const char *
mail_user_id(struct http_ctx *c)
{
	return arena_printf(c->arena, "%" PRId64, auth_user(c)->id);
}

static const char *
mail_time_zone(struct http_ctx *c)
{
	const struct auth_user *u = auth_user(c);

	return u->time_zone != NULL && *u->time_zone != '\0' ? u->time_zone : "UTC";
}

/* --- Cursors ----------------------------------------------------------------------- */

/* base64url("o:key:id"): opaque to clients, which only hand it back. */
static const char *
mail_cursor_encode(struct arena *a, char order, const char *key, const char *id)
{
	char plain[MAIL_CURSOR_MAX + 1];
	int n = snprintf(plain, sizeof(plain), "%c:%s:%s", order, key, id);
	size_t cap;
	char *out;

	if (n < 0 || (size_t)n >= sizeof(plain))
		return NULL;
	cap = sodium_base64_ENCODED_LEN((size_t)n, MAIL_B64);
	out = arena_alloc(a, cap);
	sodium_bin2base64(out, cap, (const unsigned char *)plain, (size_t)n, MAIL_B64);
	return out;
}

/* A rank as PostgreSQL prints a real: digits, '.', an exponent; finite, not negative. */
static int
mail_rank_valid(const char *s)
{
	char *end;
	double d;

	if (*s == '\0' || strspn(s, "0123456789.e+-") != strlen(s))
		return 0;
	d = strtod(s, &end);
	return *end == '\0' && isfinite(d) && d >= 0;
}

/* Reads an ?after= value of a list walked in order; -1 when it is not one this code
 * made for that order. */
static int
mail_cursor_decode(struct arena *a, const char *s, char order, struct mail_cursor *cur)
{
	unsigned char plain[MAIL_CURSOR_MAX + 1];
	size_t n, len = strlen(s);
	char *key, *id, *colon;
	int64_t v;

	if (len == 0 || len > sodium_base64_ENCODED_LEN(MAIL_CURSOR_MAX, MAIL_B64) ||
	    sodium_base642bin(plain, MAIL_CURSOR_MAX, s, len, NULL, &n, NULL, MAIL_B64) != 0)
		return -1;
	plain[n] = '\0';
	if (n < 5 || memchr(plain, '\0', n) != NULL || plain[0] != (unsigned char)order ||
	    plain[1] != ':')
		return -1;
	key = arena_strdup(a, (const char *)plain + 2);
	if ((colon = strchr(key, ':')) == NULL)
		return -1;
	*colon = '\0';
	id = colon + 1;
	if (util_parse_int64(id, 1, INT64_MAX, &v) != 0)
		return -1;
	if (order == MAIL_ORDER_RELEVANCE) {
		if (!mail_rank_valid(key))
			return -1;
	} else if (util_parse_int64(key, MAIL_US_MIN, MAIL_US_MAX, &v) != 0) {
		return -1;
	}
	cur->order = order;
	cur->key = key;
	cur->id = id;
	return 0;
}

/* --- Running a built query --------------------------------------------------------- */

/* A statement whose text is assembled per request: fixed SQL, search.c's fragment, and
 * $n placeholders for every value. */
struct mail_sql {
	struct buf text;
	const char *params[SEARCH_MAX_PARAMS + 16];
	int n;
};

/* Adds a parameter; returns its placeholder. */
static const char *
mail_sql_param(struct mail_sql *q, const char *value)
{
	if ((size_t)q->n >= MR_ARRAY_LEN(q->params))
		fatal("too many parameters");
	q->params[q->n++] = value;
	return arena_printf(q->text.arena, "$%d", q->n);
}

/* Runs q on the request's connection, the way http_ctx_exec runs a prepared statement:
 * NULL with the mapped status recorded on c->res when it fails. A connection it leaves
 * broken is replaced by the pool on its next use. */
static PGresult *
mail_sql_exec(struct http_ctx *c, const struct mail_sql *q)
{
	struct db_conn *db = http_ctx_db(c);
	const char *sqlstate;
	PGresult *r;
	int status;

	if (db == NULL)
		goto unavailable;
	r = PQexecParams(db_conn_pg(db), q->text.data, q->n, NULL, q->params, NULL, NULL, 0);
	if (PQresultStatus(r) == PGRES_TUPLES_OK)
		return r;
	sqlstate = PQresultErrorField(r, PG_DIAG_SQLSTATE);
	db_count_error(sqlstate != NULL ? sqlstate : "08006");
	log_err("mail list query failed: %s (SQLSTATE %s)",
	    PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) != NULL ?
	    PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : "connection lost",
	    sqlstate != NULL ? sqlstate : "none");
	PQclear(r);
	status = sqlstate != NULL && PQstatus(db_conn_pg(db)) == CONNECTION_OK ?
	    db_status_from_sqlstate(sqlstate) : 503;
	if (status != 503) {
		/* The statement is ours and its values checked: any refusal is our fault. */
		http_fail(c->res, status >= 500 ? status : 500, NULL, NULL, NULL);
		return NULL;
	}
unavailable:
	http_fail(c->res, 503, "database_unavailable",
	    "The database is not reachable right now. Try again shortly.", NULL);
	return NULL;
}

/* --- Rows into JSON ------------------------------------------------------------------ */

static json_t *
mail_json_text(const char *s)
{
	json_t *j = json_loads(s, JSON_DECODE_ANY, NULL);

	return j != NULL ? j : json_array();
}

/* How a person shows in a row or a header: the name, else the address. */
static const char *
mail_person(json_t *p)
{
	const char *name = json_string_value(json_object_get(p, "name"));
	const char *addr = json_string_value(json_object_get(p, "address"));

	if (name != NULL && *name != '\0')
		return name;
	return addr != NULL ? addr : "";
}

/* "Ada, Bob <bob@x>" for a header line. */
static const char *
mail_people_text(struct http_ctx *c, json_t *list)
{
	struct buf b;
	size_t i;
	json_t *p;

	buf_init(&b, c->arena);
	json_array_foreach(list, i, p) {
		const char *name = json_string_value(json_object_get(p, "name"));
		const char *addr = json_string_value(json_object_get(p, "address"));

		if (i > 0)
			buf_puts(&b, ", ");
		if (name != NULL && *name != '\0' && addr != NULL && *addr != '\0')
			buf_printf(&b, "%s <%s>", name, addr);
		else
			buf_puts(&b, mail_person(p));
	}
	return b.data != NULL ? b.data : "";
}

/* A thread's senders (rows of [sent, name, address], oldest first) as participants: each
 * address once; the user's own messages as "me" in the row's text. */
static json_t *
mail_participants(struct http_ctx *c, const char *senders, const char **text)
{
	json_t *rows = mail_json_text(senders), *out = json_array(), *row;
	struct buf b;
	size_t i, shown = 0;

	buf_init(&b, c->arena);
	json_array_foreach(rows, i, row) {
		int sent = json_is_true(json_array_get(row, 0));
		const char *name = json_string_value(json_array_get(row, 1));
		const char *addr = json_string_value(json_array_get(row, 2));
		json_t *p;
		size_t k;
		int seen = 0;

		if (addr == NULL)
			addr = "";
		json_array_foreach(out, k, p) {
			if (util_strcaseeq(json_string_value(json_object_get(p, "address")), addr))
				seen = 1;
		}
		if (seen)
			continue;
		p = json_pack("{s:s, s:s}", "name", name != NULL ? name : "", "address", addr);
		if (p == NULL)
			continue;
		json_array_append_new(out, p);
		if (shown == MAIL_ROW_NAMES) {
			buf_puts(&b, ", …");
			shown++;
		} else if (shown < MAIL_ROW_NAMES) {
			buf_printf(&b, "%s%s", shown > 0 ? ", " : "", sent ? "me" : mail_person(p));
			shown++;
		}
	}
	json_decref(rows);
	*text = b.data != NULL ? b.data : "";
	return out;
}

/* --- The list ---------------------------------------------------------------------- */

/* The message-level condition (over unqualified mail_messages columns, so that it reads
 * the same in every scope it is put in): the search fragment and the filters. */
static const char *
mail_list_predicate(struct http_ctx *c, const struct mail_list_in *in, struct mail_sql *q,
    const struct search_sql *ss)
{
	struct buf b;

	buf_init(&b, c->arena);
	buf_printf(&b, "(%s)", ss->where);
	if (in->account != NULL)
		buf_printf(&b, " AND account_id = %s::bigint", mail_sql_param(q, in->account));
	if (in->category != NULL)
		buf_printf(&b, " AND category = %s", mail_sql_param(q, in->category->slug));
	if (in->role != NULL)
		buf_printf(&b, " AND id IN (SELECT l.message_id FROM mail_locations l "
		    "JOIN mail_folders f ON f.id = l.folder_id WHERE l.user_id = $1 AND "
		    "f.role = %s)", mail_sql_param(q, in->role));
	return b.data;
}

/* An ?after= timestamp back in SQL, exactly (no floating point on the way). */
static const char *
mail_sql_time(struct mail_sql *q, const char *us)
{
	const char *p = mail_sql_param(q, us);

	return arena_printf(q->text.arena, "(timestamptz 'epoch' + (%s::bigint / 1000000) * "
	    "interval '1 second' + (%s::bigint %% 1000000) * interval '1 microsecond')", p, p);
}

/* The CTE "page" of the list: (thread_id, d, k, rank) for at most limit + 1 threads in
 * the list's order, k being the cursor's id. */
static void
mail_list_page_sql(struct http_ctx *c, const struct mail_list_in *in, struct mail_sql *q,
    const struct search_sql *ss, char order)
{
	struct buf *t = &q->text;
	const char *limit = arena_printf(c->arena, "%d", in->limit + 1);
	const char *pred;

	if (order == MAIL_ORDER_THREADS) {
		buf_puts(t, "WITH page AS (SELECT t.id AS thread_id, t.last_date AS d, t.id AS k, "
		    "NULL::real AS rank FROM mail_threads t WHERE t.user_id = $1 "
		    "AND t.last_date IS NOT NULL");
		if (in->account != NULL)
			buf_printf(t, " AND t.account_id = %s::bigint",
			    mail_sql_param(q, in->account));
		if (in->category != NULL)
			buf_printf(t, " AND t.category = %s", mail_sql_param(q, in->category->slug));
		if (in->after.order != 0)
			buf_printf(t, " AND (t.last_date, t.id) < (%s, %s::bigint)",
			    mail_sql_time(q, in->after.key), mail_sql_param(q, in->after.id));
		buf_printf(t, " ORDER BY t.last_date DESC, t.id DESC LIMIT %s)",
		    mail_sql_param(q, limit));
		return;
	}
	pred = mail_list_predicate(c, in, q, ss);
	if (order == MAIL_ORDER_MESSAGES) {
		/* Each thread once, at its newest matching message: a message is a row when no
		 * newer message of its thread matches. Walking mail_messages_user_date newest
		 * first, this stops after limit + 1 threads however common the words are. */
		buf_printf(t, "WITH page AS (SELECT m.thread_id, m.received_at AS d, m.id AS k, "
		    "NULL::real AS rank FROM mail_messages m WHERE m.user_id = $1 "
		    "AND m.thread_id IS NOT NULL AND %s", pred);
		if (in->after.order != 0)
			buf_printf(t, " AND (m.received_at, m.id) < (%s, %s::bigint)",
			    mail_sql_time(q, in->after.key), mail_sql_param(q, in->after.id));
		buf_printf(t, " AND NOT EXISTS (SELECT 1 FROM mail_messages n WHERE n.user_id = $1 "
		    "AND n.thread_id = m.thread_id AND (n.received_at, n.id) > (m.received_at, m.id) "
		    "AND %s) ORDER BY m.received_at DESC, m.id DESC LIMIT %s)", pred,
		    mail_sql_param(q, limit));
		return;
	}
	/* Relevance: rank the newest MAIL_RANK_WINDOW matches only, each thread at its best
	 * ranked one. The words' tsquery is search.c's first parameter, $2. */
	buf_printf(t, "WITH cand AS (SELECT m.id, m.thread_id, m.received_at, m.search "
	    "FROM mail_messages m WHERE m.user_id = $1 AND m.thread_id IS NOT NULL AND %s "
	    "ORDER BY m.received_at DESC, m.id DESC LIMIT %d), "
	    "ranked AS (SELECT DISTINCT ON (thread_id) thread_id, id, received_at, "
	    "ts_rank(search, websearch_to_tsquery('simple', $2)) AS rank FROM cand "
	    "ORDER BY thread_id, rank DESC, id DESC), "
	    "page AS (SELECT thread_id, received_at AS d, id AS k, rank FROM ranked",
	    pred, MAIL_RANK_WINDOW);
	if (in->after.order != 0)
		buf_printf(t, " WHERE (rank, id) < (%s::real, %s::bigint)",
		    mail_sql_param(q, in->after.key), mail_sql_param(q, in->after.id));
	buf_printf(t, " ORDER BY rank DESC, id DESC LIMIT %s), win AS (SELECT count(*) = %d "
	    "AS is_full FROM cand)", mail_sql_param(q, limit), MAIL_RANK_WINDOW);
}

/* The order a request is walked in. */
static char
mail_list_order(const struct mail_list_in *in, const struct search_sql *ss)
{
	if (in->sq.n == 0 && in->role == NULL)
		return MAIL_ORDER_THREADS;
	/* search.c puts the words' tsquery first, when there are words; without words there
	 * is nothing to rank and the newest come first. */
	if (in->relevance && strncmp(ss->where, "search @@", 9) == 0)
		return MAIL_ORDER_RELEVANCE;
	return MAIL_ORDER_MESSAGES;
}

/* Runs the list. Returns 0, or -1 with c->res failed (an ?after= of another order is a
 * 400; anything else the database's status). */
static int
mail_list_run(struct http_ctx *c, struct mail_list_in *in, const char *after,
    struct mail_list_out *out)
{
	struct mail_sql q = { .n = 0 };
	struct search_sql ss;
	const char *tz;
	char order;
	PGresult *r;
	int rows;

	memset(out, 0, sizeof(*out));
	buf_init(&q.text, c->arena);
	mail_sql_param(&q, mail_user_id(c));
	search_build_sql(&in->sq, 2, &ss);
	for (size_t i = 0; i < ss.nparams; i++)
		mail_sql_param(&q, arena_strdup(c->arena, ss.params[i]));
	order = mail_list_order(in, &ss);
	if (after != NULL && mail_cursor_decode(c->arena, after, order, &in->after) != 0) {
		search_sql_free(&ss);
		http_fail(c->res, 400, "invalid_input", "This list position is not valid (it "
		    "belongs to another search or order, or was altered): start again from the "
		    "first page.", json_pack("{s:{s:s}}", "fields", "after",
		    "Not a cursor of this list: leave it out to start from the newest."));
		return -1;
	}
	mail_list_page_sql(c, in, &q, &ss, order);
	search_sql_free(&ss);
	tz = mail_sql_param(&q, mail_time_zone(c));
	buf_printf(&q.text, " SELECT t.id, t.subject, t.message_count, t.category, t.account_id, "
	    "page.k, (extract(epoch FROM page.d) * 1000000)::bigint, page.rank, "
	    "to_char(page.d AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), "
	    "CASE WHEN (page.d AT TIME ZONE %1$s::text)::date = "
	    "(now() AT TIME ZONE %1$s::text)::date "
	    "THEN to_char(page.d AT TIME ZONE %1$s::text, 'HH24:MI') "
	    "WHEN date_trunc('year', page.d AT TIME ZONE %1$s::text) = "
	    "date_trunc('year', now() AT TIME ZONE %1$s::text) "
	    "THEN to_char(page.d AT TIME ZONE %1$s::text, 'FMDD Mon') "
	    "ELSE to_char(page.d AT TIME ZONE %1$s::text, 'YYYY-MM-DD') END, "
	    "s.unread, s.attachments, coalesce(hit.snippet, s.snippet, ''), s.senders, %2$s "
	    "FROM page JOIN mail_threads t ON t.id = page.thread_id AND t.user_id = $1 "
	    "CROSS JOIN LATERAL (SELECT coalesce(bool_or(NOT ('\\Seen' = ANY (x.flags))), false) "
	    "AS unread, coalesce(bool_or(x.has_attachments), false) AS attachments, "
	    "(array_agg(x.snippet ORDER BY x.received_at DESC, x.id DESC))[1] AS snippet, "
	    "json_agg(json_build_array(x.direction = 'sent', x.from_addr->0->>'name', "
	    "x.from_addr->0->>'address') ORDER BY coalesce(x.sent_at, x.received_at), x.id)::text "
	    "AS senders FROM mail_messages x WHERE x.user_id = $1 AND x.thread_id = t.id) s "
	    "LEFT JOIN mail_messages hit ON %3$s "
	    "ORDER BY %4$s", tz,
	    order == MAIL_ORDER_RELEVANCE ? "(SELECT is_full FROM win)" : "false",
	    order == MAIL_ORDER_THREADS ? "false" : "hit.id = page.k AND hit.user_id = $1",
	    order == MAIL_ORDER_RELEVANCE ? "page.rank DESC, page.k DESC" :
	    "page.d DESC, page.k DESC");
	if ((r = mail_sql_exec(c, &q)) == NULL)
		return -1;
	rows = PQntuples(r);
	out->threads = json_array();
	out->ranked = order == MAIL_ORDER_RELEVANCE;
	for (int i = 0; i < rows && i < in->limit; i++) {
		const char *who;
		json_t *parts = mail_participants(c, PQgetvalue(r, i, 13), &who);
		json_t *t = json_pack("{s:I, s:s, s:i, s:s?, s:I, s:s, s:s, s:b, s:b, s:s, "
		    "s:o, s:s, s:s}",
		    "id", (json_int_t)strtoll(PQgetvalue(r, i, 0), NULL, 10),
		    "subject", PQgetvalue(r, i, 1),
		    "message_count", atoi(PQgetvalue(r, i, 2)),
		    "category", PQgetisnull(r, i, 3) ? NULL : PQgetvalue(r, i, 3),
		    "account_id", (json_int_t)strtoll(PQgetvalue(r, i, 4), NULL, 10),
		    "date", PQgetvalue(r, i, 8),
		    "date_short", PQgetvalue(r, i, 9),
		    "unread", *PQgetvalue(r, i, 10) == 't',
		    "has_attachments", *PQgetvalue(r, i, 11) == 't',
		    "snippet", PQgetvalue(r, i, 12),
		    "participants", parts,
		    "who", who,
		    "url", arena_printf(c->arena, "/threads/%s", PQgetvalue(r, i, 0)));

		if (t == NULL)
			continue;   /* not UTF-8: ingest stores none such */
		json_object_set_new(t, "message_id", order == MAIL_ORDER_THREADS ? json_null() :
		    json_integer((json_int_t)strtoll(PQgetvalue(r, i, 5), NULL, 10)));
		json_array_append_new(out->threads, t);
	}
	if (rows > 0)
		out->window_full = *PQgetvalue(r, 0, 14) == 't';
	if (rows > in->limit) {
		int last = in->limit - 1;

		out->next = mail_cursor_encode(c->arena, order, PQgetvalue(r, last,
		    order == MAIL_ORDER_RELEVANCE ? 7 : 6), PQgetvalue(r, last, 5));
	}
	PQclear(r);
	return 0;
}

static void
mail_list_in_free(struct mail_list_in *in)
{
	if (in->parsed)
		search_query_free(&in->sq);
	in->parsed = 0;
}

/* A query parameter, trimmed; NULL when absent or blank. */
static const char *
mail_query(struct http_ctx *c, const char *name)
{
	const char *v = kvlist_get(&c->req->query, name);
	size_t n;

	if (v == NULL)
		return NULL;
	while (*v == ' ' || *v == '\t')
		v++;
	n = strlen(v);
	while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
		n--;
	return n > 0 ? arena_strndup(c->arena, v, n) : NULL;
}

/* Reads and checks the list's inputs into in, each fault as a field error of f. The
 * user's accounts are loaded too (the account filter names one of them). max_limit 0:
 * ?limit= is not read (the page's size is fixed). Returns 0, or -1 with c->res failed
 * (the database). */
static int
mail_list_parse(struct http_ctx *c, struct mail_list_in *in, struct form *f, int max_limit)
{
	const char *v;
	PGresult *r;
	int64_t n;

	memset(in, 0, sizeof(*in));
	in->limit = MAIL_PAGE_SIZE;
	r = http_ctx_exec(c, DB_STMT_MAIL_ACCOUNTS, 1, (const char *[]){ mail_user_id(c) });
	if (r == NULL)
		return -1;
	in->accounts = json_array();
	json_array_append(c->owned != NULL ? c->owned : (c->owned = json_array()), in->accounts);
	json_decref(in->accounts);
	for (int i = 0; i < PQntuples(r); i++)
		json_array_append_new(in->accounts, json_pack("{s:I, s:s, s:s}", "id",
		    (json_int_t)strtoll(PQgetvalue(r, i, 0), NULL, 10), "address",
		    PQgetvalue(r, i, 1), "display_name", PQgetvalue(r, i, 2)));
	PQclear(r);

	in->q = mail_query(c, "q");
	if (in->q != NULL && util_text_chars(in->q) < 0)
		form_error(f, "q", "A search is text on one line.");
	else if (search_parse(in->q, &in->sq) != 0)
		form_error(f, "q", arena_strdup(c->arena, in->sq.error));
	else
		in->parsed = 1;
	if ((v = mail_query(c, "category")) != NULL) {
		for (size_t i = 0; i < page_categories_count; i++) {
			if (strcmp(v, page_categories[i].slug) == 0)
				in->category = &page_categories[i];
		}
		if (in->category == NULL)
			form_error(f, "category", "There is no such category.");
	}
	if ((v = mail_query(c, "account")) != NULL) {
		size_t i;
		json_t *a;

		json_array_foreach(in->accounts, i, a) {
			if (util_parse_int64(v, 1, INT64_MAX, &n) == 0 &&
			    json_integer_value(json_object_get(a, "id")) == n)
				in->account = arena_printf(c->arena, "%" PRId64, n);
		}
		if (in->account == NULL)
			form_error(f, "account", "Choose one of your mail accounts.");
	}
	if ((v = mail_query(c, "in")) != NULL) {
		for (size_t i = 0; i < MR_ARRAY_LEN(mail_roles); i++) {
			if (strcmp(v, mail_roles[i].role) == 0)
				in->role = mail_roles[i].role;
		}
		if (in->role == NULL)
			form_error(f, "in", "A folder is one of inbox, sent, drafts, archive, trash "
			    "and junk.");
	}
	if ((v = mail_query(c, "sort")) != NULL) {
		if (strcmp(v, "relevance") == 0)
			in->relevance = 1;
		else if (strcmp(v, "newest") != 0)
			form_error(f, "sort", "Sort by newest or relevance.");
	}
	if (max_limit > 0 && (v = mail_query(c, "limit")) != NULL) {
		if (util_parse_int64(v, 1, max_limit, &n) != 0)
			form_error(f, "limit", arena_printf(c->arena, "A number of threads from 1 to "
			    "%d.", max_limit));
		else
			in->limit = (int)n;
	}
	return 0;
}

/* --- The inbox page ---------------------------------------------------------------- */

/* The address of the list with these filters (and an ?after=, or NULL). */
static const char *
mail_list_url(struct http_ctx *c, const struct mail_list_in *in, const char *after)
{
	struct buf b;
	const char *sep = "?";

	buf_init(&b, c->arena);
	buf_puts(&b, "/inbox");
#define MAIL_URL_ARG(name, value) do { \
	buf_printf(&b, "%s%s=%s", sep, name, util_url_encode(c->arena, value, "")); \
	sep = "&"; \
} while (0)
	if (in->category != NULL)
		MAIL_URL_ARG("category", in->category->slug);
	if (in->q != NULL)
		MAIL_URL_ARG("q", in->q);
	if (in->account != NULL)
		MAIL_URL_ARG("account", in->account);
	if (in->role != NULL)
		MAIL_URL_ARG("in", in->role);
	if (in->relevance)
		MAIL_URL_ARG("sort", "relevance");
	if (after != NULL)
		MAIL_URL_ARG("after", after);
#undef MAIL_URL_ARG
	return b.data;
}

/* The categories' navigation: "All mail", then the built-in categories. */
static json_t *
mail_nav(struct http_ctx *c, const struct mail_list_in *in)
{
	json_t *cats = json_array();

	json_array_append_new(cats, json_pack("{s:s, s:s, s:s, s:b}", "slug", "all", "name",
	    "All mail", "url", "/inbox", "current", in->category == NULL));
	for (size_t i = 0; i < page_categories_count; i++) {
		const struct page_category *pc = &page_categories[i];

		json_array_append_new(cats, json_pack("{s:s, s:s, s:s, s:b}", "slug", pc->slug,
		    "name", pc->name, "url", arena_printf(c->arena, "/inbox?category=%s",
		    pc->slug), "current", pc == in->category));
	}
	return cats;
}

/* The filters' choices, with the current one selected. */
static json_t *
mail_filter_choices(const struct mail_list_in *in)
{
	json_t *folders = json_array(), *accounts = json_array(), *a;
	size_t i;

	for (i = 0; i < MR_ARRAY_LEN(mail_roles); i++)
		json_array_append_new(folders, json_pack("{s:s, s:s, s:b}", "value",
		    mail_roles[i].role, "name", mail_roles[i].name, "selected",
		    in->role == mail_roles[i].role));
	json_array_foreach(in->accounts, i, a) {
		json_int_t id = json_integer_value(json_object_get(a, "id"));
		char num[24];

		snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, id);
		json_array_append_new(accounts, json_pack("{s:s, s:O, s:b}", "value", num, "name",
		    json_object_get(a, "address"), "selected", in->account != NULL &&
		    strcmp(in->account, num) == 0));
	}
	return json_pack("{s:o, s:o, s:b, s:b}", "folders", folders, "accounts", accounts,
	    "several_accounts", json_array_size(in->accounts) > 1, "relevance", in->relevance);
}

/* What an empty list says. */
static const char *
mail_empty_text(struct http_ctx *c, const struct mail_list_in *in)
{
	PGresult *r;
	int sorted;

	if (json_array_size(in->accounts) == 0)
		return "No mailbox is connected yet: connect one in the settings and its mail "
		    "shows here.";
	if (in->category != NULL) {
		r = http_ctx_exec(c, DB_STMT_MAIL_CATEGORIZED, 1,
		    (const char *[]){ mail_user_id(c) });
		sorted = r != NULL && *PQgetvalue(r, 0, 0) == 't';
		PQclear(r);
		if (!sorted)
			return "Sorting mail into categories is not available yet, so this "
			    "category is empty. All mail lists every conversation.";
	}
	if (in->sq.n > 0 || in->role != NULL || in->account != NULL)
		return "No conversation matches.";
	return "Nothing here.";
}

int
page_mail_inbox(struct http_ctx *c)
{
	struct mail_list_in in;
	struct mail_list_out out = { 0 };
	struct form f;
	json_t *list, *ctx;
	int status = 200;

	form_init(&f, c, "inbox");
	form_field(&f, "q", "Search mail", "search", mail_query(c, "q"), "off", 0,
	    "Words, \"a phrase\", from:, to:, subject:, has:attachment, before: and after: "
	    "(2026-01-31), in:sent; a leading - leaves out.");
	if (mail_list_parse(c, &in, &f, 0) != 0) {
		form_free(&f);
		return c->res->status;
	}
	if (json_object_get(f.errors, "category") != NULL) {
		form_free(&f);
		mail_list_in_free(&in);
		return http_fail(c->res, 404, "not_found", "There is no such category.", NULL);
	}
	if (json_object_get(f.errors, "q") != NULL) {
		/* Shown next to the search box, with no results. */
		status = 400;
	} else if (f.nerrors > 0) {
		mail_list_in_free(&in);
		return http_fail(c->res, 400, "invalid_input", "This list's address has a value "
		    "that is not valid: start again from the inbox.", form_details(&f));
	} else if (mail_list_run(c, &in, mail_query(c, "after"), &out) != 0) {
		form_free(&f);
		mail_list_in_free(&in);
		return c->res->status;
	}
	c->res->policy = HTTP_POLICY_PAGE_FRAMES;
	list = json_pack("{s:s, s:s?, s:o, s:s?, s:s?, s:s, s:b, s:b, s:i, s:o}",
	    "title", in.q != NULL ? "Search" : in.category != NULL ? in.category->name :
	    "All mail",
	    "category", in.category != NULL ? in.category->slug : NULL,
	    "threads", out.threads != NULL ? out.threads : json_array(),
	    "older_url", out.next != NULL ? mail_list_url(c, &in, out.next) : NULL,
	    "newest_url", in.after.order != 0 ? mail_list_url(c, &in, NULL) : NULL,
	    "empty", status == 400 ? "Correct the search to see results." :
	    mail_empty_text(c, &in),
	    "ranked", out.ranked,
	    "window_full", out.window_full,
	    "window", MAIL_RANK_WINDOW,
	    "filters", mail_filter_choices(&in));
	ctx = json_pack("{s:o, s:o, s:o}", "categories", mail_nav(c, &in), "list", list,
	    "form", form_context(&f));
	mail_list_in_free(&in);
	return page_render(c, status, "pages/inbox.html", "Inbox", "inbox", "list", ctx);
}

/* --- A thread and its messages ------------------------------------------------------ */

static json_t *
mail_attachment_json(PGresult *r, int i)
{
	return json_pack("{s:s, s:s, s:I, s:b}", "filename", PQgetvalue(r, i, 1),
	    "content_type", PQgetvalue(r, i, 2),
	    "size", (json_int_t)strtoll(PQgetvalue(r, i, 3), NULL, 10),
	    "inline", *PQgetvalue(r, i, 4) == 't');
}

/* "12 KB" for people. */
static const char *
mail_size_text(struct http_ctx *c, json_int_t n)
{
	if (n < 1024)
		return arena_printf(c->arena, "%d bytes", (int)n);
	if (n < 1024 * 1024)
		return arena_printf(c->arena, "%d KB", (int)((n + 1023) / 1024));
	return arena_printf(c->arena, "%.1f MB", (double)n / (1024 * 1024));
}

/* The messages of r (DB_STMT_MAIL_MESSAGE's columns) with their attachments from att
 * (sorted by message): for the API (text and sanitized html) or for the page (people
 * as text, the frame's address when there is HTML). */
static json_t *
mail_messages_json(struct http_ctx *c, PGresult *r, PGresult *att, int api)
{
	json_t *list = json_array();
	int a = 0, natt = PQntuples(att);

	for (int i = 0; i < PQntuples(r); i++) {
		int64_t id = strtoll(PQgetvalue(r, i, 0), NULL, 10);
		int has_html = !PQgetisnull(r, i, 10);
		json_t *from = mail_json_text(PQgetvalue(r, i, 3));
		json_t *to = mail_json_text(PQgetvalue(r, i, 4));
		json_t *cc = mail_json_text(PQgetvalue(r, i, 5));
		json_t *atts = json_array(), *m;

		while (a < natt && strtoll(PQgetvalue(att, a, 0), NULL, 10) < id)
			a++;
		for (; a < natt && strtoll(PQgetvalue(att, a, 0), NULL, 10) == id; a++) {
			json_t *x = mail_attachment_json(att, a);

			if (x == NULL)
				continue;
			if (!api)
				json_object_set_new(x, "size_text", json_string(mail_size_text(c,
				    json_integer_value(json_object_get(x, "size")))));
			json_array_append_new(atts, x);
		}
		m = json_pack("{s:I, s:I, s:I, s:s, s:s, s:b, s:b, s:s, s:o}",
		    "id", (json_int_t)id,
		    "thread_id", (json_int_t)strtoll(PQgetvalue(r, i, 1), NULL, 10),
		    "account_id", (json_int_t)strtoll(PQgetvalue(r, i, 2), NULL, 10),
		    "subject", PQgetvalue(r, i, 6),
		    "date", PQgetvalue(r, i, 7),
		    "unread", *PQgetvalue(r, i, 11) == 't',
		    "has_attachments", *PQgetvalue(r, i, 12) == 't',
		    "direction", PQgetvalue(r, i, 13),
		    "attachments", atts);
		if (m == NULL) {
			json_decref(from);
			json_decref(to);
			json_decref(cc);
			continue;
		}
		if (api) {
			json_object_set_new(m, "from", from);
			json_object_set_new(m, "to", to);
			json_object_set_new(m, "cc", cc);
			json_object_set_new(m, "flags", mail_json_text(PQgetvalue(r, i, 14)));
			json_object_set_new(m, "text", json_string(PQgetvalue(r, i, 9)));
			json_object_set_new(m, "html", has_html ?
			    json_string(PQgetvalue(r, i, 10)) : json_null());
		} else {
			json_object_set_new(m, "from_text", json_string(mail_person(json_array_get(
			    from, 0))));
			json_object_set_new(m, "from_address", json_object_get(json_array_get(from,
			    0), "address") != NULL ? json_incref(json_object_get(json_array_get(from,
			    0), "address")) : json_string(""));
			json_object_set_new(m, "to_text", json_string(mail_people_text(c, to)));
			json_object_set_new(m, "cc_text", json_string(mail_people_text(c, cc)));
			json_object_set_new(m, "date_local", json_string(PQgetvalue(r, i, 8)));
			json_object_set_new(m, "text", json_string(PQgetvalue(r, i, 9)));
			json_object_set_new(m, "body_url", has_html ? json_string(arena_printf(
			    c->arena, "/messages/%" PRId64 "/body", id)) : json_null());
			json_decref(from);
			json_decref(to);
			json_decref(cc);
		}
		json_array_append_new(list, m);
	}
	return list;
}

/* A thread of the user with its messages, or -1 with c->res failed (404 when the thread
 * is not the user's). */
static int
mail_thread_load(struct http_ctx *c, int api, json_t **thread)
{
	const char *id = http_param(c->req, "id");
	const char *user = mail_user_id(c);
	PGresult *t, *m, *a;

	t = http_ctx_exec(c, DB_STMT_MAIL_THREAD, 2, (const char *[]){ user, id });
	if (t == NULL)
		return -1;
	if (PQntuples(t) != 1) {
		PQclear(t);
		http_fail(c->res, 404, "not_found", "There is no such conversation.", NULL);
		return -1;
	}
	m = http_ctx_exec(c, DB_STMT_MAIL_THREAD_MESSAGES, 3,
	    (const char *[]){ user, id, mail_time_zone(c) });
	a = m != NULL ? http_ctx_exec(c, DB_STMT_MAIL_ATTACHMENTS, 3,
	    (const char *[]){ user, id, NULL }) : NULL;
	if (a == NULL) {
		PQclear(t);
		PQclear(m);
		return -1;
	}
	*thread = json_pack("{s:I, s:s, s:i, s:s?, s:I, s:o}",
	    "id", (json_int_t)strtoll(PQgetvalue(t, 0, 0), NULL, 10),
	    "subject", PQgetvalue(t, 0, 1),
	    "message_count", atoi(PQgetvalue(t, 0, 2)),
	    "category", PQgetisnull(t, 0, 3) ? NULL : PQgetvalue(t, 0, 3),
	    "account_id", (json_int_t)strtoll(PQgetvalue(t, 0, 4), NULL, 10),
	    "messages", mail_messages_json(c, m, a, api));
	PQclear(t);
	PQclear(m);
	PQclear(a);
	if (*thread == NULL) {
		http_fail(c->res, 500, NULL, NULL, NULL);
		return -1;
	}
	return 0;
}

int
page_mail_thread(struct http_ctx *c)
{
	json_t *thread;
	const char *subject;

	if (mail_thread_load(c, 0, &thread) != 0)
		return c->res->status;
	c->res->policy = HTTP_POLICY_PAGE_FRAMES;
	subject = arena_strdup(c->arena, json_string_value(json_object_get(thread, "subject")));
	return page_render(c, 200, "pages/thread.html", *subject != '\0' ? subject :
	    "(no subject)", "inbox", "pane", json_pack("{s:o, s:s}", "thread", thread,
	    "time_zone", mail_time_zone(c)));
}

/* The sanitized HTML body of a message, as its own document for <iframe sandbox="">.
 * It goes through the sanitizer again on the way out (m-html), which gives stored
 * output back unchanged and keeps a row written by an older sanitizer safe. */
int
page_mail_body(struct http_ctx *c)
{
	PGresult *r;
	json_t *ctx;
	char err[256];
	int rc;

	r = http_ctx_exec(c, DB_STMT_MAIL_BODY, 2,
	    (const char *[]){ mail_user_id(c), http_param(c->req, "id") });
	if (r == NULL)
		return c->res->status;
	c->res->policy = HTTP_POLICY_MAIL_BODY;
	if (PQntuples(r) != 1 || PQgetisnull(r, 0, 0)) {
		PQclear(r);
		return http_fail(c->res, 404, "not_found", "This message has no HTML body.", NULL);
	}
	ctx = json_pack("{s:s}", "body", PQgetvalue(r, 0, 0));
	PQclear(r);
	if (ctx == NULL)
		return http_fail(c->res, 500, NULL, NULL, NULL);
	rc = page_templates() != NULL ? tmpl_render(page_templates(), "pages/message-body.html",
	    NULL, ctx, &c->res->body, err, sizeof(err)) : -1;
	json_decref(ctx);
	if (rc != 0) {
		log_err("rendering a message body: %s", page_templates() != NULL ? err :
		    "templates not loaded");
		c->res->body.len = 0;
		return http_fail(c->res, 500, NULL, NULL, NULL);
	}
	c->res->content_type = "text/html; charset=utf-8";
	return 200;
}

/* --- The JSON API ------------------------------------------------------------------ */

int
api_mail_threads(struct http_ctx *c)
{
	struct mail_list_in in;
	struct mail_list_out out;
	struct form f;
	json_t *doc;

	form_init(&f, c, "threads");
	if (mail_list_parse(c, &in, &f, MAIL_API_LIMIT_MAX) != 0)
		return c->res->status;
	if (f.nerrors > 0) {
		mail_list_in_free(&in);
		return http_fail(c->res, 400, "invalid_input", "A parameter is not valid.",
		    form_details(&f));
	}
	form_free(&f);
	if (mail_list_run(c, &in, mail_query(c, "after"), &out) != 0) {
		mail_list_in_free(&in);
		return c->res->status;
	}
	mail_list_in_free(&in);
	{
		size_t i;
		json_t *t;

		/* The page's presentation fields stay out of the API. */
		json_array_foreach(out.threads, i, t) {
			json_object_del(t, "date_short");
			json_object_del(t, "who");
			json_object_del(t, "url");
		}
	}
	doc = json_pack("{s:o, s:s?, s:s}", "threads", out.threads, "next", out.next,
	    "order", out.ranked ? "relevance" : "newest");
	if (out.ranked)
		json_object_set_new(doc, "ranked_window", json_integer(MAIL_RANK_WINDOW));
	http_response_json(c->res, 200, doc);
	return 200;
}

int
api_mail_thread(struct http_ctx *c)
{
	json_t *thread;

	if (mail_thread_load(c, 1, &thread) != 0)
		return c->res->status;
	http_response_json(c->res, 200, thread);
	return 200;
}

int
api_mail_message(struct http_ctx *c)
{
	const char *id = http_param(c->req, "id"), *user = mail_user_id(c);
	PGresult *m, *a;
	json_t *list;

	m = http_ctx_exec(c, DB_STMT_MAIL_MESSAGE, 3,
	    (const char *[]){ user, id, mail_time_zone(c) });
	if (m == NULL)
		return c->res->status;
	if (PQntuples(m) != 1) {
		PQclear(m);
		return http_fail(c->res, 404, "not_found", "There is no such message.", NULL);
	}
	a = http_ctx_exec(c, DB_STMT_MAIL_ATTACHMENTS, 3, (const char *[]){ user, NULL, id });
	if (a == NULL) {
		PQclear(m);
		return c->res->status;
	}
	list = mail_messages_json(c, m, a, 1);
	PQclear(m);
	PQclear(a);
	if (json_array_size(list) != 1) {
		json_decref(list);
		return http_fail(c->res, 500, NULL, NULL, NULL);
	}
	http_response_json(c->res, 200, json_incref(json_array_get(list, 0)));
	json_decref(list);
	return 200;
}
