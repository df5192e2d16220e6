/* replies.c: reply tracking (replies.h, doc/triage.md "Reply tracking"). The state of a
 * thread is worked out in SQL from its messages (their direction, date and category),
 * so that triage, a correction and the periodic pass all say the same. */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libpq-fe.h>

#include "arena.h"
#include "pq.h"
#include "replies.h"
#include "util.h"

#define REPLIES_STR(x) #x
#define REPLIES_XSTR(x) REPLIES_STR(x)
#define REPLIES_DAYS REPLIES_XSTR(REPLIES_FOLLOW_UP_DAYS)

/* The reply state of the user's ($1) threads ($2, or all when NULL), from one read of
 * each thread's messages (y):
 * - l: the thread's last message (its direction, category and date l_d);
 * - a_d: the user's last action, the latest of their own messages and of the messages
 *   they marked Actioned;
 * - owed_d: the first message of someone else in To respond after that action.
 * Awaiting when the last message is the user's (not marked Actioned), else owed when
 * something is owed, else done when the user took part, else none. follow_up: awaiting
 * for longer than the user's follow_up_days. The thread's category is its last
 * message's (kept while that one is untriaged). Only threads that change are written. */
static const char replies_sql_update[] =
	"WITH s AS (SELECT t.id, s.* FROM mail_threads t "
	"LEFT JOIN LATERAL (SELECT (array_agg(y.direction ORDER BY y.d DESC, y.id DESC))[1] "
	"AS l_dir, (array_agg(y.category ORDER BY y.d DESC, y.id DESC))[1] AS l_cat, "
	"max(y.d) AS l_d, max(y.a_d) AS a_d, min(y.d) FILTER (WHERE y.direction = 'received' "
	"AND y.category = 'to-respond' AND (y.a_d IS NULL OR y.d > y.a_d)) AS owed_d "
	"FROM (SELECT x.id, x.direction, x.category, coalesce(x.sent_at, x.received_at) AS d, "
	"max(coalesce(x.sent_at, x.received_at)) FILTER (WHERE x.direction = 'sent' "
	"OR x.category = 'actioned') OVER () AS a_d FROM mail_messages x "
	"WHERE x.user_id = $1 AND x.thread_id = t.id) y) s ON true "
	"WHERE t.user_id = $1 AND ($2::bigint[] IS NULL OR t.id = ANY ($2::bigint[]))), "
	"n AS (SELECT s.id, s.l_cat, CASE WHEN s.l_dir = 'sent' "
	"AND s.l_cat IS DISTINCT FROM 'actioned' THEN 'awaiting' "
	"WHEN s.owed_d IS NOT NULL THEN 'owed' WHEN s.a_d IS NOT NULL THEN 'done' END AS state, "
	"CASE WHEN s.l_dir = 'sent' AND s.l_cat IS DISTINCT FROM 'actioned' THEN s.l_d "
	"WHEN s.owed_d IS NOT NULL THEN s.owed_d WHEN s.a_d IS NOT NULL THEN s.l_d END "
	"AS since, coalesce(s.l_dir = 'sent' AND s.l_cat IS DISTINCT FROM 'actioned' AND "
	"s.l_d < now() - make_interval(days => coalesce((SELECT ts.follow_up_days "
	"FROM triage_settings ts WHERE ts.user_id = $1), " REPLIES_DAYS ")), false) "
	"AS follow_up FROM s) "
	"UPDATE mail_threads t SET reply_state = n.state, reply_since = n.since, "
	"follow_up = n.follow_up, category = coalesce(n.l_cat, t.category) FROM n "
	"WHERE t.id = n.id AND t.user_id = $1 "
	"AND ($2::bigint[] IS NULL OR t.id = ANY ($2::bigint[])) "
	"AND (t.reply_state IS DISTINCT FROM n.state OR t.reply_since IS DISTINCT FROM n.since "
	"OR t.follow_up IS DISTINCT FROM n.follow_up "
	"OR t.category IS DISTINCT FROM coalesce(n.l_cat, t.category))";

static long
replies_update(PGconn *c, int64_t user_id, const char *threads, char *err, size_t errlen)
{
	char uid[24];
	const char *p[2] = { uid, threads };

	snprintf(uid, sizeof uid, "%" PRId64, user_id);
	return pq_run(c, "replies: database", replies_sql_update, 2, p, err, errlen);
}

long
replies_update_threads(PGconn *c, int64_t user_id, const int64_t *threads, size_t n,
    char *err, size_t errlen)
{
	struct arena *a;
	struct buf b;
	long rc;

	if (n == 0)
		return 0;
	a = arena_new(1024);
	buf_init(&b, a);
	buf_putc(&b, '{');
	for (size_t i = 0; i < n; i++)
		buf_printf(&b, "%s%" PRId64, i > 0 ? "," : "", threads[i]);
	buf_putc(&b, '}');
	rc = replies_update(c, user_id, b.data, err, errlen);
	arena_free(a);
	return rc;
}

long
replies_rebuild(PGconn *c, int64_t user_id, char *err, size_t errlen)
{
	return replies_update(c, user_id, NULL, err, errlen);
}

long
replies_follow_up(PGconn *c, int64_t user_id, char *err, size_t errlen)
{
	char uid[24];
	const char *p[1] = { uid };

	snprintf(uid, sizeof uid, "%" PRId64, user_id);
	return pq_run(c, "replies: database", "UPDATE mail_threads t SET follow_up = n.f "
	    "FROM (SELECT w.id, w.reply_since < now() - make_interval(days => "
	    "coalesce(s.follow_up_days, " REPLIES_DAYS ")) AS f "
	    "FROM mail_threads w LEFT JOIN triage_settings s ON s.user_id = w.user_id "
	    "WHERE w.reply_state = 'awaiting' AND ($1::bigint = 0 OR w.user_id = $1)) n "
	    "WHERE t.id = n.id AND ($1::bigint = 0 OR t.user_id = $1) "
	    "AND t.follow_up IS DISTINCT FROM n.f", 1, p, err, errlen);
}

int
replies_counts(PGconn *c, int64_t user_id, struct replies_counts *out, char *err,
    size_t errlen)
{
	char uid[24];
	const char *p[1] = { uid };
	PGresult *r;

	memset(out, 0, sizeof *out);
	snprintf(uid, sizeof uid, "%" PRId64, user_id);
	if ((r = pq_exec(c, "replies: database", "SELECT "
	    "count(*) FILTER (WHERE reply_state = 'owed'), "
	    "count(*) FILTER (WHERE reply_state = 'awaiting'), "
	    "count(*) FILTER (WHERE reply_state = 'awaiting' AND follow_up) "
	    "FROM mail_threads WHERE user_id = $1 AND reply_state IN ('owed', 'awaiting')", 1, p,
	    err, errlen)) == NULL)
		return -1;
	out->owed = strtol(PQgetvalue(r, 0, 0), NULL, 10);
	out->awaiting = strtol(PQgetvalue(r, 0, 1), NULL, 10);
	out->follow_up = strtol(PQgetvalue(r, 0, 2), NULL, 10);
	PQclear(r);
	return 0;
}

const char *
replies_kind_name(enum replies_kind kind)
{
	switch (kind) {
	case REPLIES_OWED:
		return "owed";
	case REPLIES_AWAITING:
		return "awaiting";
	case REPLIES_FOLLOW_UP:
		return "follow-up";
	}
	return "owed";
}

/* The other side of a thread: for owed, the sender of the latest message of someone
 * else; for awaiting, the first recipient of the user's latest message. */
static const char replies_sql_list[] =
	"SELECT t.id, coalesce(l.id, 0), t.subject, "
	"coalesce(nullif(w.name, ''), w.address, ''), coalesce(w.address, ''), "
	"extract(epoch FROM t.reply_since)::bigint, "
	"greatest(extract(epoch FROM now() - t.reply_since)::bigint, 0), t.follow_up, "
	"t.message_count, coalesce(t.category, '') FROM mail_threads t "
	"LEFT JOIN LATERAL (SELECT x.id FROM mail_messages x WHERE x.user_id = $1 "
	"AND x.thread_id = t.id ORDER BY coalesce(x.sent_at, x.received_at) DESC, x.id DESC "
	"LIMIT 1) l ON true "
	"LEFT JOIN LATERAL (SELECT j.e->>'name' AS name, j.e->>'address' AS address "
	"FROM mail_messages y CROSS JOIN LATERAL jsonb_array_elements(CASE WHEN $2 = 'owed' "
	"THEN y.from_addr ELSE y.to_addr || y.cc_addr END) WITH ORDINALITY AS j (e, i) "
	"WHERE y.user_id = $1 AND y.thread_id = t.id AND y.direction = CASE WHEN $2 = 'owed' "
	"THEN 'received' ELSE 'sent' END "
	"ORDER BY coalesce(y.sent_at, y.received_at) DESC, y.id DESC, j.i LIMIT 1) w ON true "
	"WHERE t.user_id = $1 AND t.reply_state = $2 AND (NOT $3::boolean OR t.follow_up) "
	"ORDER BY t.reply_since, t.id LIMIT $4 OFFSET $5";

long
replies_list(PGconn *c, int64_t user_id, enum replies_kind kind, long limit, long offset,
    struct reply_thread **out, char *err, size_t errlen)
{
	char uid[24], lim[24], off[24];
	const char *p[5] = { uid, kind == REPLIES_OWED ? "owed" : "awaiting",
	    kind == REPLIES_FOLLOW_UP ? "t" : "f", lim, off };
	struct reply_thread *v;
	PGresult *r;
	long n;

	*out = NULL;
	if (limit < 0 || limit > REPLIES_LIST_MAX)
		limit = REPLIES_LIST_MAX;
	snprintf(uid, sizeof uid, "%" PRId64, user_id);
	snprintf(lim, sizeof lim, "%ld", limit);
	snprintf(off, sizeof off, "%ld", offset > 0 ? offset : 0);
	if ((r = pq_exec(c, "replies: database", replies_sql_list, 5, p, err, errlen)) == NULL)
		return -1;
	n = PQntuples(r);
	v = n > 0 ? xcalloc((size_t)n, sizeof *v) : NULL;
	for (int i = 0; i < n; i++) {
		v[i].thread_id = strtoll(PQgetvalue(r, i, 0), NULL, 10);
		v[i].message_id = strtoll(PQgetvalue(r, i, 1), NULL, 10);
		v[i].subject = xstrdup(PQgetvalue(r, i, 2));
		v[i].who = xstrdup(PQgetvalue(r, i, 3));
		v[i].who_address = xstrdup(PQgetvalue(r, i, 4));
		v[i].since = strtoll(PQgetvalue(r, i, 5), NULL, 10);
		v[i].age = strtoll(PQgetvalue(r, i, 6), NULL, 10);
		v[i].follow_up = PQgetvalue(r, i, 7)[0] == 't';
		v[i].message_count = atoi(PQgetvalue(r, i, 8));
		snprintf(v[i].category, sizeof v[i].category, "%s", PQgetvalue(r, i, 9));
	}
	PQclear(r);
	*out = v;
	return n;
}

void
replies_free(struct reply_thread *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].subject);
		free(v[i].who);
		free(v[i].who_address);
	}
	free(v);
}
