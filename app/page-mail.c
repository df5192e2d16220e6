/* page-mail.c: the mail a user reads. /inbox lists threads (one row each, newest activity
 * first) with keyset pagination, filters and the search box (search.c); /threads/{id} shows
 * a thread with each HTML body in a sandboxed frame served by /messages/{id}/body; the JSON
 * API (/api/v1/threads, /api/v1/messages) answers from the same queries. Triage shows
 * here too: the navigation of the user's categories with their counts, each thread's
 * category with a menu that moves it (a correction: stored, learned by the model,
 * written back), the reasons of each decision on demand, the screen's "Allow" for a
 * first-time sender and the reply tracking's ages. Every query is scoped by user_id =
 * $1: another user's ids are simply not found. doc/search.md, doc/triage.md and
 * doc/api.md describe the behaviour. */
#include "config.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sodium.h>

#include "api-token.h"
#include "auth.h"
#include "categories.h"
#include "db-pool.h"
#include "form.h"
#include "http-server.h"
#include "page.h"
#include "replies.h"
#include "routes.h"
#include "search.h"
#include "tmpl.h"
#include "triage.h"
#include "util.h"
#include "writeback.h"

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
	const char *category;                    /* a slug of the user's, or NULL: all mail */
	const char *category_name;
	const char *thread;                      /* one thread alone (a row redrawn), or NULL */
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

/* A thread's reply tracking (sql/0006: reply_state, reply_since, follow_up) from the four
 * columns of r from col: {"state", "since", "days", "follow_up"}, or null when nothing
 * is owed or awaited. */
static json_t *
mail_reply_json(PGresult *r, int i, int col)
{
	const char *state = PQgetvalue(r, i, col);
	int days = atoi(PQgetvalue(r, i, col + 2));

	if (PQgetisnull(r, i, col) || (strcmp(state, "owed") != 0 &&
	    strcmp(state, "awaiting") != 0))
		return json_null();
	return json_pack("{s:s, s:s?, s:i, s:b}", "state", state,
	    "since", PQgetisnull(r, i, col + 1) ? NULL : PQgetvalue(r, i, col + 1),
	    "days", days > 0 ? days : 0,
	    "follow_up", *PQgetvalue(r, i, col + 3) == 't');
}

/* The decision behind a category (sql/0006: how sure, who decided, why, which rule) into
 * o as the API names it, from JSON values (NULL or null: not known). */
static void
mail_decision_set(json_t *o, json_t *confidence, json_t *source, json_t *reasons,
    json_t *rule)
{
	/* Two decimals: a real's float digits say nothing more. */
	json_object_set_new(o, "category_confidence", json_is_number(confidence) ?
	    json_real(round(json_number_value(confidence) * 100) / 100) : json_null());
	json_object_set_new(o, "category_source", json_is_string(source) ?
	    json_incref(source) : json_null());
	json_object_set_new(o, "category_reasons", json_is_array(reasons) ?
	    json_incref(reasons) : json_array());
	json_object_set_new(o, "category_rule_id", json_is_integer(rule) ? json_incref(rule) :
	    json_null());
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
		buf_printf(&b, " AND category = %s", mail_sql_param(q, in->category));
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
			buf_printf(t, " AND t.category = %s", mail_sql_param(q, in->category));
		if (in->thread != NULL)
			buf_printf(t, " AND t.id = %s::bigint", mail_sql_param(q, in->thread));
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
	if ((in->sq.n == 0 && in->role == NULL) || in->thread != NULL)
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
	    "s.unread, s.attachments, coalesce(hit.snippet, s.snippet, ''), s.senders, %2$s, "
	    "t.reply_state, to_char(t.reply_since AT TIME ZONE 'UTC', "
	    "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), "
	    "floor(extract(epoch FROM now() - t.reply_since) / 86400)::int, t.follow_up, "
	    "s.decision "
	    "FROM page JOIN mail_threads t ON t.id = page.thread_id AND t.user_id = $1 "
	    "CROSS JOIN LATERAL (SELECT coalesce(bool_or(NOT ('\\Seen' = ANY (x.flags))), false) "
	    "AS unread, coalesce(bool_or(x.has_attachments), false) AS attachments, "
	    "(array_agg(x.snippet ORDER BY x.received_at DESC, x.id DESC))[1] AS snippet, "
	    "json_agg(json_build_array(x.direction = 'sent', x.from_addr->0->>'name', "
	    "x.from_addr->0->>'address') ORDER BY coalesce(x.sent_at, x.received_at), x.id)::text "
	    "AS senders, "
	    /* The decision of the latest message, whose category the thread has. */
	    "(array_agg(json_build_array(x.category_confidence, x.category_source, "
	    "x.category_reasons, x.category_rule_id) ORDER BY coalesce(x.sent_at, x.received_at) "
	    "DESC, x.id DESC))[1]::text AS decision "
	    "FROM mail_messages x WHERE x.user_id = $1 AND x.thread_id = t.id) s "
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
		json_object_set_new(t, "reply", mail_reply_json(r, i, 15));
		{
			json_t *d = mail_json_text(PQgetvalue(r, i, 19));

			mail_decision_set(t, json_array_get(d, 0), json_array_get(d, 1),
			    json_array_get(d, 2), json_array_get(d, 3));
			json_decref(d);
		}
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
		r = http_ctx_exec(c, DB_STMT_MAIL_CATEGORY, 2,
		    (const char *[]){ mail_user_id(c), v });
		if (r == NULL)
			return -1;
		if (PQntuples(r) == 1) {
			in->category = arena_strdup(c->arena, PQgetvalue(r, 0, 0));
			in->category_name = arena_strdup(c->arena, PQgetvalue(r, 0, 1));
		} else {
			form_error(f, "category", "There is no such category: give the slug of one "
			    "of yours (GET /api/v1/categories).");
		}
		PQclear(r);
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
		MAIL_URL_ARG("category", in->category);
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

/* --- Categories -------------------------------------------------------------------- */

/* The request's connection as plain libpq (for categories.c's lock, triage-db.c,
 * replies.c and writeback.c); NULL with c->res failed (503). */
static PGconn *
mail_pg(struct http_ctx *c)
{
	struct db_conn *db = http_ctx_db(c);

	if (db == NULL) {
		http_fail(c->res, 503, "database_unavailable",
		    "The database is not reachable right now. Try again shortly.", NULL);
		return NULL;
	}
	return db_conn_pg(db);
}

/* Keeps j (a new reference) until the request ends; returns it, borrowed. */
static json_t *
mail_owned(struct http_ctx *c, json_t *j)
{
	if (c->owned == NULL)
		c->owned = json_array();
	json_array_append_new(c->owned, j);
	return j;
}

/* The dot of a category's colour as a whole class name (the colours are sql/0006's;
 * templates/pages/inbox.html lists their classes for Tailwind). */
static const char *
mail_swatch(struct http_ctx *c, const char *colour)
{
	for (size_t i = 0; i < categories_colours_count; i++) {
		if (strcmp(colour, categories_colours[i]) == 0)
			return arena_printf(c->arena, "bg-%s-500", colour);
	}
	return "bg-slate-500";
}

/* The user's categories in their order, [{slug, name, colour, swatch, hidden}], with
 * counts the number of threads in each ("threads") and in all (*total): one pass over
 * the user's threads. The array is the request's; NULL with c->res failed. */
static json_t *
mail_categories(struct http_ctx *c, int counts, long *total)
{
	PGresult *r = http_ctx_exec(c, counts ? DB_STMT_MAIL_NAV : DB_STMT_MAIL_CATEGORIES, 1,
	    (const char *[]){ mail_user_id(c) });
	json_t *list;

	if (r == NULL)
		return NULL;
	list = mail_owned(c, json_array());
	for (int i = 0; i < PQntuples(r); i++) {
		json_t *k = json_pack("{s:s, s:s, s:s, s:s, s:b}", "slug", PQgetvalue(r, i, 0),
		    "name", PQgetvalue(r, i, 1), "colour", PQgetvalue(r, i, 2),
		    "swatch", mail_swatch(c, PQgetvalue(r, i, 2)),
		    "hidden", *PQgetvalue(r, i, 3) == 't');

		if (k == NULL)
			continue;
		if (counts)
			json_object_set_new(k, "threads", json_integer(strtoll(PQgetvalue(r, i, 4),
			    NULL, 10)));
		json_array_append_new(list, k);
	}
	if (counts && total != NULL)
		*total = PQntuples(r) > 0 ? strtol(PQgetvalue(r, 0, 5), NULL, 10) : 0;
	PQclear(r);
	return list;
}

/* The category of cats with this slug, or NULL. */
static json_t *
mail_category_of(json_t *cats, const char *slug)
{
	size_t i;
	json_t *k;

	json_array_foreach(cats, i, k) {
		if (slug != NULL && strcmp(json_string_value(json_object_get(k, "slug")), slug) == 0)
			return k;
	}
	return NULL;
}

/* What the recategorize menus offer: the visible categories, {slug, name, swatch}. */
static json_t *
mail_menu(struct http_ctx *c, json_t *cats)
{
	json_t *menu = mail_owned(c, json_array()), *k;
	size_t i;

	json_array_foreach(cats, i, k) {
		if (!json_is_true(json_object_get(k, "hidden")))
			json_array_append_new(menu, json_pack("{s:O, s:O, s:O}", "slug",
			    json_object_get(k, "slug"), "name", json_object_get(k, "name"), "swatch",
			    json_object_get(k, "swatch")));
	}
	return menu;
}

/* The navigation: "All mail", then the user's visible categories (and the current one
 * when it is hidden), each with the number of its threads, and Awaiting reply with the
 * number of threads flagged for a follow-up (replies.h). current: the list's category,
 * NULL for all mail. Returns NULL with c->res failed. */
static json_t *
mail_nav(struct http_ctx *c, json_t *cats, long total, const char *current)
{
	struct replies_counts rc;
	PGconn *pg = mail_pg(c);
	char err[512];

	json_t *items, *k;
	size_t i;

	if (pg == NULL)
		return NULL;
	if (replies_counts(pg, auth_user(c)->id, &rc, err, sizeof err) != 0) {
		log_err("%s", err);
		http_fail(c->res, 500, "internal_error", NULL, NULL);
		return NULL;
	}
	items = json_array();
	json_array_append_new(items, json_pack("{s:s, s:s, s:s, s:I, s:b}", "slug", "all",
	    "name", "All mail", "url", "/inbox", "count", (json_int_t)total,
	    "current", current == NULL));
	json_array_foreach(cats, i, k) {
		const char *slug = json_string_value(json_object_get(k, "slug"));
		int cur = current != NULL && strcmp(current, slug) == 0;

		if (json_is_true(json_object_get(k, "hidden")) && !cur)
			continue;
		json_array_append_new(items, json_pack("{s:s, s:O, s:O, s:s, s:O, s:b, s:I}",
		    "slug", slug, "name", json_object_get(k, "name"), "swatch",
		    json_object_get(k, "swatch"), "url", arena_printf(c->arena,
		    "/inbox?category=%s", util_url_encode(c->arena, slug, "")), "count",
		    json_object_get(k, "threads"), "current", cur, "follow_up",
		    (json_int_t)(strcmp(slug, "awaiting-reply") == 0 ? rc.follow_up : 0)));
	}
	return items;
}

/* The recategorize control of a thread (templates/partials/recategorize.html): its chip,
 * the menu, and where a browser without htmx comes back to. row: it is a list row (the
 * answer redraws the row). */
static json_t *
mail_recat_json(struct http_ctx *c, json_t *thread_id, const char *slug, json_t *cats,
    json_t *menu, const char *next, int row)
{
	json_t *k = mail_category_of(cats, slug);

	return json_pack("{s:s, s:O, s:s?, s:s?, s:s?, s:O, s:s, s:s, s:b}",
	    "action", arena_printf(c->arena, "/threads/%" JSON_INTEGER_FORMAT "/category",
	    json_integer_value(thread_id)),
	    "id", thread_id,
	    "category", slug,
	    "name", k != NULL ? json_string_value(json_object_get(k, "name")) : slug,
	    "swatch", k != NULL ? json_string_value(json_object_get(k, "swatch")) : NULL,
	    "menu", menu,
	    "csrf", auth_csrf_token(c),
	    "next", next,
	    "row", row);
}

/* "Awaiting reply · 3 days" for a thread's reply tracking, or NULL. */
static const char *
mail_reply_text(struct http_ctx *c, json_t *reply)
{
	json_int_t days = json_integer_value(json_object_get(reply, "days"));
	const char *state = json_string_value(json_object_get(reply, "state"));

	if (state == NULL)
		return NULL;
	return arena_printf(c->arena, "%s · %s", strcmp(state, "owed") == 0 ? "To respond" :
	    "Awaiting reply", days == 0 ? "since today" : days == 1 ? "1 day" :
	    arena_printf(c->arena, "%" JSON_INTEGER_FORMAT " days", days));
}

/* The page's side of list rows: the recategorize control and the reply tracking's
 * words. next: the list, for browsers without htmx. */
static void
mail_rows_decorate(struct http_ctx *c, json_t *threads, json_t *cats, json_t *menu,
    const char *next)
{
	size_t i;
	json_t *t;

	json_array_foreach(threads, i, t) {
		json_t *reply = json_object_get(t, "reply");

		json_object_set_new(t, "recat", mail_recat_json(c, json_object_get(t, "id"),
		    json_string_value(json_object_get(t, "category")), cats, menu, next, 1));
		json_object_set_new(t, "reply_text", json_is_object(reply) ?
		    json_string(mail_reply_text(c, reply)) : json_null());
		json_object_set_new(t, "follow_up", json_boolean(json_is_true(json_object_get(
		    reply, "follow_up"))));
	}
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
	if (in->sq.n > 0 || in->role != NULL || in->account != NULL)
		return "No conversation matches.";
	if (in->category != NULL) {
		r = http_ctx_exec(c, DB_STMT_MAIL_CATEGORIZED, 1,
		    (const char *[]){ mail_user_id(c) });
		sorted = r != NULL && *PQgetvalue(r, 0, 0) == 't';
		PQclear(r);
		if (!sorted)
			return "No mail has been sorted into categories yet. All mail lists every "
			    "conversation.";
		return arena_printf(c->arena, "No conversation is in %s right now.",
		    in->category_name);
	}
	return "Nothing here.";
}

int
page_mail_inbox(struct http_ctx *c)
{
	struct mail_list_in in;
	struct mail_list_out out = { 0 };
	struct form f;
	json_t *list, *ctx, *cats;
	const char *url;
	long total = 0;
	int status = 200;

	form_init(&f, c, "inbox");
	form_field(&f, "q", "Search mail", "search", mail_query(c, "q"), "off", 0,
	    "Words, \"a phrase\", from:, to:, subject:, has:attachment, before: and after: "
	    "(2026-01-31), in:sent; a leading - leaves out.");
	if (mail_list_parse(c, &in, &f, 0) != 0) {
		form_free(&f);
		mail_list_in_free(&in);
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
	if ((cats = mail_categories(c, 1, &total)) == NULL) {
		form_free(&f);
		mail_list_in_free(&in);
		json_decref(out.threads);
		return c->res->status;
	}
	url = mail_list_url(c, &in, NULL);
	if (out.threads != NULL)
		mail_rows_decorate(c, out.threads, cats, mail_menu(c, cats), url);
	c->res->policy = HTTP_POLICY_PAGE_FRAMES;
	list = json_pack("{s:s, s:s?, s:o, s:s?, s:s?, s:s, s:b, s:b, s:i, s:o}",
	    "title", in.q != NULL ? "Search" : in.category != NULL ? in.category_name :
	    "All mail",
	    "category", in.category,
	    "threads", out.threads != NULL ? out.threads : json_array(),
	    "older_url", out.next != NULL ? mail_list_url(c, &in, out.next) : NULL,
	    "newest_url", in.after.order != 0 ? url : NULL,
	    "empty", status == 400 ? "Correct the search to see results." :
	    mail_empty_text(c, &in),
	    "ranked", out.ranked,
	    "window_full", out.window_full,
	    "window", MAIL_RANK_WINDOW,
	    "filters", mail_filter_choices(&in));
	ctx = json_pack("{s:o*, s:o, s:o}", "nav", mail_nav(c, cats, total, in.category),
	    "list", list, "form", form_context(&f));
	mail_list_in_free(&in);
	if (ctx == NULL || json_object_get(ctx, "nav") == NULL) {
		json_decref(ctx);
		return c->res->status >= 400 ? c->res->status : http_fail(c->res, 500, NULL, NULL,
		    NULL);
	}
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
		json_object_set_new(m, "category", PQgetisnull(r, i, 16) ? json_null() :
		    json_string(PQgetvalue(r, i, 16)));
		{
			json_t *conf = PQgetisnull(r, i, 17) ? NULL :
			    json_real(strtod(PQgetvalue(r, i, 17), NULL));
			json_t *src = PQgetisnull(r, i, 18) ? NULL : json_string(PQgetvalue(r, i, 18));
			json_t *why = mail_json_text(PQgetvalue(r, i, 19));
			json_t *rule = PQgetisnull(r, i, 20) ? NULL :
			    json_integer(strtoll(PQgetvalue(r, i, 20), NULL, 10));

			mail_decision_set(m, conf, src, why, rule);
			json_decref(conf);
			json_decref(src);
			json_decref(why);
			json_decref(rule);
		}
		json_object_set_new(m, "category_rule_name", PQgetisnull(r, i, 21) ? json_null() :
		    json_string(PQgetvalue(r, i, 21)));
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
mail_thread_load(struct http_ctx *c, int api, const char *id, json_t **thread)
{
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
	*thread = json_pack("{s:I, s:s, s:i, s:s?, s:I, s:o, s:o}",
	    "id", (json_int_t)strtoll(PQgetvalue(t, 0, 0), NULL, 10),
	    "subject", PQgetvalue(t, 0, 1),
	    "message_count", atoi(PQgetvalue(t, 0, 2)),
	    "category", PQgetisnull(t, 0, 3) ? NULL : PQgetvalue(t, 0, 3),
	    "account_id", (json_int_t)strtoll(PQgetvalue(t, 0, 4), NULL, 10),
	    "reply", mail_reply_json(t, 0, 5),
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

/* Who decided a message's category, in words. */
static const char *
mail_source_text(struct http_ctx *c, json_t *m)
{
	const char *src = json_string_value(json_object_get(m, "category_source"));
	const char *rule = json_string_value(json_object_get(m, "category_rule_name"));
	static const struct {
		const char *source, *text;
	} texts[] = {
		{ "rule", "one of your rules" },
		{ "classifier", "the classifier" },
		{ "correction", "you" },
		{ "sender", "your choice for this sender" },
		{ "screening", "the screen for first-time senders" },
		{ "llm", "the assistant" },
	};

	if (src != NULL && strcmp(src, "rule") == 0 && rule != NULL)
		return arena_printf(c->arena, "your rule \u201c%s\u201d", rule);
	for (size_t i = 0; src != NULL && i < MR_ARRAY_LEN(texts); i++) {
		if (strcmp(src, texts[i].source) == 0)
			return texts[i].text;
	}
	return NULL;
}

/* The page's side of a thread: its recategorize control, and each message's chip with
 * the reasons on demand and the screen's "Allow". */
static void
mail_thread_decorate(struct http_ctx *c, json_t *thread, json_t *cats, json_t *menu)
{
	const char *next = arena_printf(c->arena, "/threads/%" JSON_INTEGER_FORMAT,
	    json_integer_value(json_object_get(thread, "id")));
	json_t *m, *reply = json_object_get(thread, "reply");
	size_t i;

	json_object_set_new(thread, "recat", mail_recat_json(c, json_object_get(thread, "id"),
	    json_string_value(json_object_get(thread, "category")), cats, menu, next, 0));
	json_object_set_new(thread, "reply_text", json_is_object(reply) ?
	    json_string(mail_reply_text(c, reply)) : json_null());
	json_object_set_new(thread, "next", json_string(next));
	json_array_foreach(json_object_get(thread, "messages"), i, m) {
		const char *slug = json_string_value(json_object_get(m, "category"));
		const char *src = json_string_value(json_object_get(m, "category_source"));
		json_t *k = mail_category_of(cats, slug);
		json_t *conf = json_object_get(m, "category_confidence");

		if (slug == NULL)
			continue;
		json_object_set_new(m, "chip", json_pack("{s:s, s:s?}", "name", k != NULL ?
		    json_string_value(json_object_get(k, "name")) : slug, "swatch", k != NULL ?
		    json_string_value(json_object_get(k, "swatch")) : NULL));
		json_object_set_new(m, "why", json_pack("{s:O, s:s?, s:s?}", "reasons",
		    json_object_get(m, "category_reasons"), "confidence", json_is_number(conf) ?
		    arena_printf(c->arena, "%d%%", (int)lround(json_number_value(conf) * 100)) :
		    NULL, "source", mail_source_text(c, m)));
		json_object_set_new(m, "screened", json_boolean(src != NULL &&
		    strcmp(src, TRIAGE_SOURCE_SCREENING) == 0 && strcmp(json_string_value(json_object_get(m,
		    "direction")), "received") == 0));
	}
}

int
page_mail_thread(struct http_ctx *c)
{
	json_t *thread, *cats;
	const char *subject;

	if (mail_thread_load(c, 0, http_param(c->req, "id"), &thread) != 0)
		return c->res->status;
	if ((cats = mail_categories(c, 0, NULL)) == NULL) {
		json_decref(thread);
		return c->res->status;
	}
	mail_thread_decorate(c, thread, cats, mail_menu(c, cats));
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
	if (mail_list_parse(c, &in, &f, MAIL_API_LIMIT_MAX) != 0) {
		form_free(&f);
		mail_list_in_free(&in);
		return c->res->status;
	}
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

	if (mail_thread_load(c, 1, http_param(c->req, "id"), &thread) != 0)
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

/* --- Corrections: recategorize a thread, allow a sender ------------------------------ */

/* Ends a change's transaction after a failure: rolled back; with err, a failure of the
 * database to log and answer (500, or 503 when the connection is gone), else the one
 * c->res holds already. Returns the status. */
static int
mail_tx_abort(struct http_ctx *c, PGconn *pg, const char *err)
{
	if (PQtransactionStatus(pg) != PQTRANS_IDLE)
		categories_rollback(pg);
	if (err == NULL)
		return c->res->status;
	log_err("%s", err);
	if (PQstatus(pg) != CONNECTION_OK)
		return http_fail(c->res, 503, "database_unavailable",
		    "The database is not reachable right now. Try again shortly.", NULL);
	return http_fail(c->res, 500, "internal_error", NULL, NULL);
}

/* A refused input of a change: 400 invalid_input naming the field. */
static int
mail_invalid(struct http_ctx *c, const char *field, const char *message)
{
	return http_fail(c->res, 400, "invalid_input", message,
	    json_pack("{s:{s:s}}", "fields", field, message));
}

/* The answer to an API request whose body is not a JSON object. */
static int
mail_not_json(struct http_ctx *c)
{
	return http_fail(c->res, 400, "bad_request",
	    "Send a JSON object (Content-Type: application/json).", NULL);
}

/* A thread moved by the user. */
struct mail_recat {
	const char *thread;        /* its id, decimal */
	const char *category;      /* the slug asked for */
	int apply_to_sender;       /* the sender's mail goes there from now on */
	const char *source;        /* triage_corrections.source */
	const char *sender;        /* out: the sender sorted, or NULL */
};

/* Moves a thread of the user to a category of theirs, in one transaction: every message
 * of the thread and the thread itself get it (decided by the user: source correction,
 * confidence 1), the correction is recorded and the model learns it from the thread's
 * latest received message (triage_learn), and with apply_to_sender the sender is sorted
 * there for good. Returns 0, or the status with c->res failed: 404 for a thread that is
 * not the user's, 400 for a category that is not theirs or a sender to sort that the
 * thread does not have. */
static int
mail_recategorize(struct http_ctx *c, struct mail_recat *rc)
{
	const char *user = mail_user_id(c);
	int64_t uid = auth_user(c)->id;
	const char *msg, *from, *src;
	int64_t thread = strtoll(rc->thread, NULL, 10), account;
	PGresult *r;
	PGconn *pg;
	char err[512];
	int record, n;

	if (!categories_slug_valid(rc->category))
		return mail_invalid(c, "category", "This is not one of your categories: give the "
		    "slug of one of them (GET /api/v1/categories lists them).");
	if ((pg = mail_pg(c)) == NULL)
		return c->res->status;
	/* categories.c's lock of the user: a category deleted meanwhile waits for us. */
	if (categories_begin(pg, uid, "recategorize", err, sizeof err) != 0)
		return mail_tx_abort(c, pg, err);
	if ((r = http_ctx_exec(c, DB_STMT_MAIL_CATEGORY, 2,
	    (const char *[]){ user, rc->category })) == NULL)
		return mail_tx_abort(c, pg, NULL);
	n = PQntuples(r);
	PQclear(r);
	if (n != 1) {
		mail_tx_abort(c, pg, NULL);
		return mail_invalid(c, "category", "This is not one of your categories: give the "
		    "slug of one of them (GET /api/v1/categories lists them).");
	}
	if ((r = http_ctx_exec(c, DB_STMT_MAIL_RECAT_THREAD, 2,
	    (const char *[]){ user, rc->thread })) == NULL)
		return mail_tx_abort(c, pg, NULL);
	if (PQntuples(r) != 1) {
		PQclear(r);
		mail_tx_abort(c, pg, NULL);
		return http_fail(c->res, 404, "not_found", "There is no such conversation.", NULL);
	}
#define MAIL_COL(i) (PQgetisnull(r, 0, (i)) ? NULL : arena_strdup(c->arena, \
	PQgetvalue(r, 0, (i))))
	msg = MAIL_COL(2);
	from = MAIL_COL(3);
	src = MAIL_COL(4);
	rc->sender = strcmp(PQgetvalue(r, 0, 5), "received") == 0 &&
	    *PQgetvalue(r, 0, 6) != '\0' ? MAIL_COL(6) : NULL;
	account = strtoll(PQgetvalue(r, 0, 7), NULL, 10);
#undef MAIL_COL
	PQclear(r);
	if (rc->apply_to_sender && rc->sender == NULL) {
		mail_tx_abort(c, pg, NULL);
		return mail_invalid(c, "apply_to_sender", "Nobody else wrote in this conversation: "
		    "there is no sender to sort.");
	}
	/* Moving mail where the user put it already teaches nothing: a second click is not
	 * a second correction. */
	record = msg != NULL && !(from != NULL && strcmp(from, rc->category) == 0 &&
	    src != NULL && strcmp(src, "correction") == 0);
	/* The model learns from the message as it was decided, before the correction is
	 * stored (the sender's corrections are among its features). */
	if (record && triage_learn(pg, uid, strtoll(msg, NULL, 10), from, rc->category, err,
	    sizeof err) != 0)
		return mail_tx_abort(c, pg, err);
	if ((r = http_ctx_exec(c, DB_STMT_MAIL_RECAT_STORE, 9, (const char *[]){ user,
	    rc->thread, rc->category, msg, from, rc->source, rc->sender,
	    rc->apply_to_sender ? "true" : "false", record ? "true" : "false" })) == NULL)
		return mail_tx_abort(c, pg, NULL);
	PQclear(r);
	if (rc->apply_to_sender) {
		if ((r = http_ctx_exec(c, DB_STMT_MAIL_SENDER_SET, 3,
		    (const char *[]){ user, rc->sender, rc->category })) == NULL)
			return mail_tx_abort(c, pg, NULL);
		PQclear(r);
	}
	/* The thread's reply state follows its categories (Actioned ends a wait), and the
	 * mailbox gets the new keyword: both queued in this transaction. */
	if (replies_update_threads(pg, uid, &thread, 1, err, sizeof err) < 0 ||
	    writeback_enqueue(pg, uid, account, err, sizeof err) < 0)
		return mail_tx_abort(c, pg, err);
	if (categories_commit(pg, "recategorize", err, sizeof err) != 0)
		return mail_tx_abort(c, pg, err);
	return 0;
}

/* Lets sender through the cold-email screen for good and triages again the messages of
 * theirs it held (triage_allow_sender, in its own transaction). Returns 0 with how many,
 * or the status with c->res failed. */
static int
mail_allow(struct http_ctx *c, const char *sender, long *retriaged)
{
	PGconn *pg = mail_pg(c);
	char err[512];

	*retriaged = 0;
	if (pg == NULL)
		return c->res->status;
	if (triage_allow_sender(pg, auth_user(c)->id, sender, retriaged, err, sizeof err) != 0)
		return mail_tx_abort(c, pg, err);
	return 0;
}

/* Where a change sends a browser without htmx back to: the page it came from when that
 * is the inbox or a thread of this site, else fallback. */
static const char *
mail_next(struct http_ctx *c, const char *fallback)
{
	const char *v = form_value(c, "next");

	if (strlen(v) > 2000 || !((strncmp(v, "/inbox", 6) == 0 && (v[6] == '\0' ||
	    v[6] == '?')) || (strncmp(v, "/threads/", 9) == 0 && v[9] >= '0' && v[9] <= '9')))
		return fallback;
	for (const char *p = v; *p != '\0'; p++) {
		if ((unsigned char)*p < 0x21 || *p == 0x7f || *p == '\\')
			return fallback;
	}
	return v;
}

/* Whether the request's form has name=value (the markers the forms' hx-include sends:
 * which parts of the page the browser shows). */
static int
mail_form_has(struct http_ctx *c, const char *name, const char *value)
{
	for (size_t i = 0; i < c->req->form.len; i++) {
		if (strcmp(c->req->form.items[i].name, name) == 0 &&
		    strcmp(c->req->form.items[i].value, value) == 0)
			return 1;
	}
	return 0;
}

/* Appends fragment of template name, rendered with ctx (stolen), to the response as the
 * new content of the element with id target (an htmx out-of-band swap: the wrapper's
 * children replace the target's). */
static int
mail_render_part(struct http_ctx *c, const char *target, const char *name,
    const char *fragment, json_t *ctx)
{
	char err[256];
	int rc = -1;

	if (ctx != NULL && page_templates() != NULL) {
		json_object_set_new(ctx, "csrf", json_string(auth_csrf_token(c)));
		buf_printf(&c->res->body, "<div hx-swap-oob=\"innerHTML:#%s\">", target);
		rc = tmpl_render(page_templates(), name, fragment, ctx, &c->res->body, err,
		    sizeof(err));
		buf_puts(&c->res->body, "</div>\n");
	}
	json_decref(ctx);
	if (rc != 0) {
		log_err("rendering %s#%s: %s", name, fragment, page_templates() != NULL ? err :
		    "templates not loaded");
		c->res->body.len = 0;
		return http_fail(c->res, 500, NULL, NULL, NULL);
	}
	return 0;
}

/* The answer to a change of thread: a browser without htmx goes back to next; htmx gets
 * the parts of the page it shows (the list's row, the reading pane, the navigation and
 * its counts) redrawn, each swapped out of band. */
static int
mail_answer_change(struct http_ctx *c, const char *thread, const char *next)
{
	int has_nav = kvlist_get(&c->req->form, "list_category") != NULL;
	int row = mail_form_has(c, "row", thread), pane = mail_form_has(c, "pane", thread);
	json_t *cats, *menu, *th;
	long total = 0;

	if (!c->req->hx_request || (!has_nav && !row && !pane))
		return page_redirect(c, next);
	if ((cats = mail_categories(c, has_nav, &total)) == NULL)
		return c->res->status;
	menu = mail_menu(c, cats);
	c->res->body.len = 0;
	if (row) {
		struct mail_list_in in;
		struct mail_list_out out;

		memset(&in, 0, sizeof(in));
		in.limit = 1;
		in.thread = thread;
		search_parse(NULL, &in.sq);
		in.parsed = 1;
		if (mail_list_run(c, &in, NULL, &out) != 0) {
			mail_list_in_free(&in);
			return c->res->status;
		}
		mail_list_in_free(&in);
		mail_owned(c, out.threads);
		mail_rows_decorate(c, out.threads, cats, menu, next);
		if (json_array_size(out.threads) == 1 && mail_render_part(c, arena_printf(c->arena,
		    "row-%s", thread), "pages/inbox.html", "row", json_pack("{s:O}", "t",
		    json_array_get(out.threads, 0))) != 0)
			return c->res->status;
	}
	if (pane) {
		if (mail_thread_load(c, 0, thread, &th) != 0)
			return c->res->status;
		mail_thread_decorate(c, th, cats, menu);
		if (mail_render_part(c, "reading-pane", "pages/thread.html", "pane-body",
		    json_pack("{s:o, s:s}", "thread", th, "time_zone", mail_time_zone(c))) != 0)
			return c->res->status;
	}
	if (has_nav) {
		const char *cur = form_value(c, "list_category");
		json_t *nav = mail_nav(c, cats, total, *cur != '\0' ? cur : NULL);

		if (nav == NULL || mail_render_part(c, "category-nav", "pages/inbox.html", "nav",
		    json_pack("{s:o}", "nav", nav)) != 0)
			return c->res->status;
	}
	c->res->content_type = "text/html; charset=utf-8";
	http_response_header(c->res, "Vary", "HX-Request");
	return 200;
}

int
page_mail_thread_category(struct http_ctx *c)
{
	const char *id = http_param(c->req, "id");
	struct mail_recat rc = { .thread = id, .source = "dashboard" };
	const char *next = mail_next(c, arena_printf(c->arena, "/threads/%s", id));
	int status;

	rc.category = form_value(c, "category");
	rc.apply_to_sender = *form_value(c, "apply_to_sender") != '\0';
	if (*rc.category == '\0')
		return mail_invalid(c, "category", "Choose the category to move the conversation "
		    "to.");
	if ((status = mail_recategorize(c, &rc)) != 0)
		return status;
	return mail_answer_change(c, id, next);
}

/* The sender of one of the user's received messages (lower case) and its thread ("" for
 * none); 0, or the status with c->res failed (404: no such message from someone). */
static int
mail_sender_of(struct http_ctx *c, const char *message, const char **sender,
    const char **thread)
{
	PGresult *r = http_ctx_exec(c, DB_STMT_MAIL_SENDER_OF, 2,
	    (const char *[]){ mail_user_id(c), message });

	if (r == NULL)
		return c->res->status;
	if (PQntuples(r) != 1) {
		PQclear(r);
		return http_fail(c->res, 404, "not_found", "There is no such message from someone "
		    "else.", NULL);
	}
	*sender = arena_strdup(c->arena, PQgetvalue(r, 0, 0));
	*thread = arena_strdup(c->arena, PQgetvalue(r, 0, 1));
	PQclear(r);
	return 0;
}

int
page_mail_sender_allow(struct http_ctx *c)
{
	const char *message = form_value(c, "message"), *sender, *thread;
	long retriaged;
	int64_t id;
	int status;

	if (util_parse_int64(message, 1, INT64_MAX, &id) != 0)
		return mail_invalid(c, "message", "Say which message's sender to allow.");
	if ((status = mail_sender_of(c, message, &sender, &thread)) != 0 ||
	    (status = mail_allow(c, sender, &retriaged)) != 0)
		return status;
	if (*thread == '\0')
		return page_redirect(c, mail_next(c, "/inbox"));
	return mail_answer_change(c, thread, mail_next(c, arena_printf(c->arena,
	    "/threads/%s", thread)));
}

/* Whether the request comes from the browser extension (its access tokens). */
static int
mail_via_extension(struct http_ctx *c)
{
	const char *a = c->req->authorization;

	if (auth_user(c)->via != AUTH_TOKEN || a == NULL || strncasecmp(a, "Bearer ", 7) != 0)
		return 0;
	a += 7;
	a += strspn(a, " ");
	return strncmp(a, API_TOKEN_ACCESS_PREFIX, strlen(API_TOKEN_ACCESS_PREFIX)) == 0;
}

int
api_mail_thread_category(struct http_ctx *c)
{
	const char *id = http_param(c->req, "id");
	struct mail_recat rc = { .thread = id };
	json_t *body = c->req->json, *cat, *apply, *thread;
	struct form f;
	int status;

	if (!json_is_object(body))
		return mail_not_json(c);
	cat = json_object_get(body, "category");
	apply = json_object_get(body, "apply_to_sender");
	form_init(&f, c, "category");
	if (!json_is_string(cat) || json_string_length(cat) == 0)
		form_error(&f, "category", "The slug of one of your categories, such as \"fyi\".");
	if (apply != NULL && !json_is_boolean(apply))
		form_error(&f, "apply_to_sender", "true or false.");
	if (f.nerrors > 0)
		return http_fail(c->res, 400, "invalid_input", "Some fields are not valid.",
		    form_details(&f));
	form_free(&f);
	rc.category = json_string_value(cat);
	rc.apply_to_sender = json_is_true(apply);
	rc.source = mail_via_extension(c) ? "extension" : "api";
	if ((status = mail_recategorize(c, &rc)) != 0)
		return status;
	if (mail_thread_load(c, 1, id, &thread) != 0)
		return c->res->status;
	http_response_json(c->res, 200, thread);
	return 200;
}

/* Whether s looks like an email address: one line of 3 to 254 characters, an '@' with
 * something on each side, no white space. */
static int
mail_address_valid(const char *s)
{
	const char *at = strrchr(s, '@');
	long n = util_text_chars(s);

	return n >= 3 && n <= 254 && at != NULL && at != s && at[1] != '\0' &&
	    strpbrk(s, " \t") == NULL;
}

int
api_mail_sender_allow(struct http_ctx *c)
{
	json_t *body = c->req->json, *sj, *mj;
	const char *sender, *thread;
	long retriaged;
	int status;

	if (!json_is_object(body))
		return mail_not_json(c);
	sj = json_object_get(body, "sender");
	mj = json_object_get(body, "message_id");
	if ((sj == NULL) == (mj == NULL))
		return mail_invalid(c, "sender", "Give the sender's address (\"sender\") or one "
		    "of their messages (\"message_id\"), not both.");
	if (mj != NULL) {
		if (!json_is_integer(mj) || json_integer_value(mj) < 1)
			return mail_invalid(c, "message_id", "The id of a message, a number.");
		status = mail_sender_of(c, arena_printf(c->arena, "%" JSON_INTEGER_FORMAT,
		    json_integer_value(mj)), &sender, &thread);
		if (status != 0)
			return status;
	} else {
		if (!json_is_string(sj) || !mail_address_valid(json_string_value(sj)))
			return mail_invalid(c, "sender", "An email address, such as "
			    "ana@example.com.");
		sender = json_string_value(sj);
	}
	if ((status = mail_allow(c, sender, &retriaged)) != 0)
		return status;
	http_response_json(c->res, 200, json_pack("{s:s, s:b, s:I}", "sender", sender,
	    "allowed", 1, "retriaged", (json_int_t)retriaged));
	return 200;
}

int
api_mail_category_counts(struct http_ctx *c)
{
	long total = 0;
	json_t *cats = mail_categories(c, 1, &total), *out, *k;
	size_t i;

	if (cats == NULL)
		return c->res->status;
	out = json_array();
	json_array_foreach(cats, i, k) {
		json_array_append_new(out, json_pack("{s:O, s:O, s:O, s:O, s:O}", "slug",
		    json_object_get(k, "slug"), "name", json_object_get(k, "name"), "colour",
		    json_object_get(k, "colour"), "hidden", json_object_get(k, "hidden"),
		    "threads", json_object_get(k, "threads")));
	}
	http_response_json(c->res, 200, json_pack("{s:o, s:I}", "categories", out, "all",
	    (json_int_t)total));
	return 200;
}
