/* triage-db.c: the classifier's side in PostgreSQL (triage.h, doc/triage.md). Messages
 * are classified in batches of one user's (TRIAGE_DB_BATCH): what they share (the user's
 * addresses, rules, settings and model totals) is read once, the messages and their
 * context (the sender's history, the thread's state, the sender's category) in one
 * statement, the user's model for the features of the whole batch in one, and the
 * decisions (rules, then the sender's category, then app/triage.c, then the cold-email
 * screen) are stored in one, followed by the reply state of their threads (replies.h).
 * The statements are prepared once per connection. It also learns from corrections.
 * Every query has the owner (user_id) in its WHERE clause and every value travels as a
 * parameter. */
#include "config.h"

#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <jansson.h>
#include <libpq-fe.h>

#include "arena.h"
#include "jobs.h"
#include "pq.h"
#include "replies.h"
#include "rules.h"
#include "triage.h"
#include "triage-model.h"
#include "util.h"
#include "writeback.h"

#define TRIAGE_DB_MAX_SELF 32
#define TRIAGE_DB_BODY_CHARS "65536"   /* characters of body_text read (quotes included) */
/* The cold-email screen: how much like outreach (the classifier's probability of
 * Marketing) a first message must look. */
#define TRIAGE_DB_OUTREACH 0.4

/* The prior, shared by every thread once loaded; a classifier per thread. */
static pthread_mutex_t triage_db_lock = PTHREAD_MUTEX_INITIALIZER;
static struct triage_model *triage_db_prior;
static char *triage_db_prior_path;
static int triage_db_prior_loaded;
static unsigned triage_db_generation;
static _Thread_local struct triage_classifier *triage_db_tc;
static _Thread_local unsigned triage_db_tc_generation;

void
triage_db_use_prior(const char *path)
{
	pthread_mutex_lock(&triage_db_lock);
	free(triage_db_prior_path);
	triage_db_prior_path = path != NULL ? xstrdup(path) : NULL;
	/* The old prior stays allocated: another thread's classifier may still use it
	 * until it sees the new generation. Changing the prior is for tests and tools. */
	triage_db_prior_loaded = 0;
	triage_db_generation++;
	pthread_mutex_unlock(&triage_db_lock);
}

/* This thread's classifier, made (and the prior loaded) on first use. */
static struct triage_classifier *
triage_db_classifier(void)
{
	const struct triage_model *prior;
	unsigned gen;

	pthread_mutex_lock(&triage_db_lock);
	if (!triage_db_prior_loaded) {
		const char *path = triage_db_prior_path != NULL ? triage_db_prior_path :
		    triage_prior_default_path();
		char err[512];
		struct triage_model *m = triage_model_read(path, err, sizeof err);

		if (m == NULL)
			log_warn("triage prior: %s: the classifier runs on its signals alone", err);
		else {
			/* Superseded priors are kept (see triage_db_use_prior), the last one
			 * freed by triage_db_shutdown. */
			triage_db_prior = m;
		}
		triage_db_prior_loaded = 1;
	}
	prior = triage_db_prior;
	gen = triage_db_generation;
	pthread_mutex_unlock(&triage_db_lock);
	if (triage_db_tc != NULL && triage_db_tc_generation != gen) {
		triage_classifier_free(triage_db_tc);
		triage_db_tc = NULL;
	}
	if (triage_db_tc == NULL) {
		triage_db_tc = triage_classifier_new(prior);
		triage_db_tc_generation = gen;
	}
	return triage_db_tc;
}

void
triage_db_shutdown(void)
{
	triage_classifier_free(triage_db_tc);
	triage_db_tc = NULL;
	pthread_mutex_lock(&triage_db_lock);
	triage_model_free(triage_db_prior);
	triage_db_prior = NULL;
	triage_db_prior_loaded = 0;
	free(triage_db_prior_path);
	triage_db_prior_path = NULL;
	triage_db_generation++;
	pthread_mutex_unlock(&triage_db_lock);
}

/* Runs sql; the result, or NULL with "triage: database: ..." in err. */
static PGresult *
triage_db_sql(PGconn *c, const char *sql, int n, const char *const *params, char *err,
    size_t errlen)
{
	return pq_exec(c, "triage", sql, n, params, err, errlen);
}

static int
triage_db_run(PGconn *c, const char *sql, char *err, size_t errlen)
{
	PGresult *r = triage_db_sql(c, sql, 0, NULL, err, errlen);

	PQclear(r);
	return r != NULL ? 0 : -1;
}

/* ---- the statements, prepared once per connection ---- */

/* The context of a message k (its id, sender lower-cased, the sender's domain, date d,
 * thread_id, in_reply_to) in the store of user $1: the sender's history counted up to 100
 * (the indexes of sql/0008_triage_sender), how many of the sender's earlier messages the
 * cold-email screen caught, the corrections of the sender's mail, the thread's state
 * around the message, whether it answers a message of the user's (looked up per account:
 * the index of Message-IDs starts with the account), and the sender's row of
 * sender_categories (the address wins over the domain). */
#define TRIAGE_DB_CONTEXT_COLUMNS \
	"coalesce(k.sender, '') <> '', hf.n, ht.n, hc.n, hf.screened, " \
	"k.thread_id IS NOT NULL OR k.in_reply_to IS NOT NULL, " \
	"coalesce(th.replied_after, false), coalesce(th.answered_after, false), " \
	"coalesce(th.user_in_thread, false), ans.yes IS NOT NULL, sc.sender IS NOT NULL, " \
	"sc.category"
#define TRIAGE_DB_CONTEXT_NCOLS 12
#define TRIAGE_DB_CONTEXT_JOINS \
	" LEFT JOIN LATERAL (SELECT count(*) AS n, " \
	"count(*) FILTER (WHERE f.src = 'screening') AS screened FROM (SELECT " \
	"x.category_source AS src FROM mail_messages x WHERE x.user_id = $1 " \
	"AND x.direction = 'received' AND lower(x.from_addr->0->>'address') = k.sender " \
	"AND x.id <> k.id AND coalesce(x.sent_at, x.received_at) < k.d LIMIT 100) f) hf " \
	"ON true" \
	" LEFT JOIN LATERAL (SELECT count(*) AS n FROM (SELECT 1 FROM mail_messages x " \
	"WHERE x.user_id = $1 AND x.direction = 'sent' AND " \
	"mail_address_list(x.to_addr || x.cc_addr) @> ARRAY[k.sender] LIMIT 100) f) ht ON true" \
	" LEFT JOIN LATERAL (SELECT count(*) AS n FROM triage_corrections c " \
	"WHERE c.user_id = $1 AND c.sender = k.sender::citext) hc ON true" \
	" LEFT JOIN LATERAL (SELECT " \
	"bool_or(x.direction = 'sent' AND coalesce(x.sent_at, x.received_at) > k.d) " \
	"AS replied_after, " \
	"bool_or(x.direction = 'received' AND coalesce(x.sent_at, x.received_at) > k.d) " \
	"AS answered_after, " \
	"bool_or(x.direction = 'sent' AND coalesce(x.sent_at, x.received_at) < k.d) " \
	"AS user_in_thread " \
	"FROM mail_messages x WHERE x.user_id = $1 AND x.thread_id = k.thread_id " \
	"AND x.id <> k.id) th ON true" \
	" LEFT JOIN LATERAL (SELECT true AS yes FROM mail_messages x " \
	"WHERE x.account_id = ANY (ARRAY(SELECT a.id FROM mail_accounts a " \
	"WHERE a.user_id = $1)) AND x.user_id = $1 AND x.message_id = k.in_reply_to " \
	"AND x.direction = 'sent' LIMIT 1) ans ON true" \
	" LEFT JOIN LATERAL (SELECT s.sender, s.category FROM sender_categories s " \
	"WHERE s.user_id = $1 AND s.sender IN (k.sender::citext, k.domain::citext, " \
	"('@' || k.domain)::citext) ORDER BY s.sender = k.sender::citext DESC, " \
	"s.sender = ('@' || k.domain)::citext DESC LIMIT 1) sc ON true"

/* A stored message m: what the classifier reads of it, then its context. */
#define TRIAGE_DB_MESSAGE_COLUMNS \
	"m.id, m.from_addr::text, m.to_addr::text, m.cc_addr::text, m.reply_to::text, " \
	"m.subject, left(m.body_text, " TRIAGE_DB_BODY_CHARS "), m.headers::text, " \
	"m.calendar, m.in_reply_to IS NOT NULL OR cardinality(m.refs) > 0, " \
	"m.direction = 'sent', m.has_attachments, coalesce(m.thread_id, 0), "
#define TRIAGE_DB_MESSAGE_NCOLS 13
#define TRIAGE_DB_MESSAGE_KEYS \
	" CROSS JOIN LATERAL (SELECT m.id, lower(m.from_addr->0->>'address') AS sender, " \
	"substring(lower(m.from_addr->0->>'address') FROM '@([^@]*)$') AS domain, " \
	"coalesce(m.sent_at, m.received_at) AS d, m.thread_id, m.in_reply_to) k"

enum triage_db_stmt_id {
	TRIAGE_DB_USER,
	TRIAGE_DB_PENDING,
	TRIAGE_DB_ROWS,
	TRIAGE_DB_CONTEXT,
	TRIAGE_DB_FEATURES,
	TRIAGE_DB_STORE,
	TRIAGE_DB_NSTMTS
};

static const struct triage_db_stmt {
	const char *name;
	const char *sql;
	int nparams;
} triage_db_stmts[TRIAGE_DB_NSTMTS] = {
	/* What a batch of the user's messages shares, one row each: their addresses
	 * ("s"), their model's totals per category that still exists ("t"), and their
	 * settings ("o": the screen's category and its name, the follow-up days, the
	 * screen on or off). */
	[TRIAGE_DB_USER] = { "triage_db_user",
	    "SELECT kind, name, a, b FROM ("
	    "SELECT 1 AS o, 's' AS kind, e AS name, NULL::text AS a, NULL::text AS b "
	    "FROM (SELECT email::text AS e FROM users WHERE id = $1 UNION "
	    "SELECT address::text FROM mail_accounts WHERE user_id = $1) x "
	    "UNION ALL SELECT 2, 't', t.category, t.documents::text, t.features::text "
	    "FROM triage_totals t JOIN categories k ON k.user_id = t.user_id "
	    "AND k.slug = t.category WHERE t.user_id = $1 AND t.documents > 0 "
	    "UNION ALL SELECT 3, 'o', coalesce(k.slug, 'marketing'), "
	    "coalesce(k.name, 'Marketing'), coalesce(s.screening, true)::text "
	    "FROM (SELECT 1) one LEFT JOIN triage_settings s ON s.user_id = $1 "
	    "LEFT JOIN categories k ON k.user_id = $1 "
	    "AND k.slug = coalesce(s.screening_category, 'marketing')) u "
	    "ORDER BY o, name", 1 },
	/* The oldest untriaged messages of the user, at most $2. */
	[TRIAGE_DB_PENDING] = { "triage_db_pending",
	    "SELECT " TRIAGE_DB_MESSAGE_COLUMNS TRIAGE_DB_CONTEXT_COLUMNS " FROM (SELECT * "
	    "FROM mail_messages WHERE user_id = $1 AND triaged_at IS NULL ORDER BY id "
	    "LIMIT $2) m" TRIAGE_DB_MESSAGE_KEYS TRIAGE_DB_CONTEXT_JOINS " ORDER BY m.id", 2 },
	/* The user's messages of ids $2. */
	[TRIAGE_DB_ROWS] = { "triage_db_rows",
	    "SELECT " TRIAGE_DB_MESSAGE_COLUMNS TRIAGE_DB_CONTEXT_COLUMNS " FROM (SELECT * "
	    "FROM mail_messages WHERE user_id = $1 AND id = ANY ($2::bigint[])) m"
	    TRIAGE_DB_MESSAGE_KEYS TRIAGE_DB_CONTEXT_JOINS " ORDER BY m.id", 2 },
	/* The context of a message that is not stored: sender $2, date $3 (epoch
	 * seconds), thread $4, In-Reply-To $5. */
	[TRIAGE_DB_CONTEXT] = { "triage_db_context",
	    "SELECT " TRIAGE_DB_CONTEXT_COLUMNS " FROM (SELECT 0::bigint AS id, "
	    "lower($2::text) AS sender, substring(lower($2::text) FROM '@([^@]*)$') AS domain, "
	    "to_timestamp($3::bigint) AS d, $4::bigint AS thread_id, $5::text AS in_reply_to) k"
	    TRIAGE_DB_CONTEXT_JOINS, 5 },
	/* The user's model, restricted to the features $2 of a batch. */
	[TRIAGE_DB_FEATURES] = { "triage_db_features",
	    "SELECT feature, category, count FROM triage_features WHERE user_id = $1 "
	    "AND feature = ANY ($2::text[]) ORDER BY feature, category", 2 },
	/* The decisions $2 (a JSON array of {"id", "category", "confidence", "source",
	 * "reasons", "rule"}) of the user's messages, in one statement; with $3, only
	 * messages still untriaged (a correction made meanwhile stays). Returns each
	 * message stored and its thread, whose category and reply state
	 * replies_update_threads works out next. */
	[TRIAGE_DB_STORE] = { "triage_db_store",
	    "UPDATE mail_messages m SET category = d.category, "
	    "category_confidence = d.confidence, category_source = d.source, "
	    "category_reasons = d.reasons, category_rule_id = d.rule, triaged_at = now() "
	    "FROM jsonb_to_recordset($2::jsonb) AS d (id bigint, category text, "
	    "confidence real, source text, reasons jsonb, rule bigint) "
	    "WHERE m.id = d.id AND m.user_id = $1 AND (NOT $3::boolean OR m.triaged_at IS NULL) "
	    "RETURNING m.id, coalesce(m.thread_id, 0)", 3 },
};

/* The connections this thread has prepared the statements on, by their backend's pid
 * too (a connection reset, or a new one at the same address, has lost them). */
#define TRIAGE_DB_CONNS 8
static _Thread_local struct {
	const PGconn *c;
	int pid;
} triage_db_conns[TRIAGE_DB_CONNS];
static _Thread_local unsigned triage_db_conns_next;

/* Prepares the statements on c unless it has them (another thread may have prepared
 * them on a pooled connection: pg_prepared_statements says). */
static int
triage_db_prepare(PGconn *c, char *err, size_t errlen)
{
	int pid = PQbackendPID(c);
	PGresult *r;

	for (size_t i = 0; i < TRIAGE_DB_CONNS; i++) {
		if (triage_db_conns[i].c == c && triage_db_conns[i].pid == pid)
			return 0;
	}
	if ((r = triage_db_sql(c, "SELECT name FROM pg_prepared_statements "
	    "WHERE name LIKE 'triage\\_db\\_%'", 0, NULL, err, errlen)) == NULL)
		return -1;
	for (size_t i = 0; i < TRIAGE_DB_NSTMTS; i++) {
		const struct triage_db_stmt *s = &triage_db_stmts[i];
		int have = 0;

		for (int j = 0; j < PQntuples(r) && !have; j++)
			have = strcmp(PQgetvalue(r, j, 0), s->name) == 0;
		PGresult *pr;

		if (have)
			continue;
		pr = pq_check(c, PQprepare(c, s->name, s->sql, s->nparams, NULL),
		    "triage: preparing", err, errlen);
		if (pr == NULL) {
			PQclear(r);
			return -1;
		}
		PQclear(pr);
	}
	PQclear(r);
	triage_db_conns[triage_db_conns_next % TRIAGE_DB_CONNS].c = c;
	triage_db_conns[triage_db_conns_next % TRIAGE_DB_CONNS].pid = pid;
	triage_db_conns_next++;
	return 0;
}

/* Runs prepared statement id with text parameters: its rows, or NULL with err. */
static PGresult *
triage_db_exec(PGconn *c, enum triage_db_stmt_id id, const char *const *params, char *err,
    size_t errlen)
{
	const struct triage_db_stmt *s = &triage_db_stmts[id];
	PGresult *r;

	if (triage_db_prepare(c, err, errlen) != 0)
		return NULL;
	r = PQexecPrepared(c, s->name, s->nparams, params, NULL, NULL, 0);
	if (PQresultStatus(r) == PGRES_FATAL_ERROR && PQresultErrorField(r,
	    PG_DIAG_SQLSTATE) != NULL && strcmp(PQresultErrorField(r, PG_DIAG_SQLSTATE),
	    "26000") == 0) {
		/* Gone (DISCARD ALL): prepared again next time. */
		for (size_t i = 0; i < TRIAGE_DB_CONNS; i++) {
			if (triage_db_conns[i].c == c)
				triage_db_conns[i].c = NULL;
		}
	}
	return pq_check(c, r, "triage: database", err, errlen);
}

/* ---- a batch: messages of one user, read, decided and stored together ---- */

/* A message and its context. */
struct triage_db_msg {
	int64_t id;                      /* its row, 0 when not stored */
	int64_t thread_id;               /* 0: none */
	struct triage_message m;
	char method[24];
	json_t *headers;
	struct triage_context ctx;
	long screened;                   /* of ctx.from_sender: those the screen caught */
	int sender_row;                  /* the sender has a row in sender_categories... */
	const char *sender_category;     /* ...with this category (NULL: allowed) */
	const char **features;           /* for the user's model, NULL-terminated */
	struct triage_decision d;
};

/* What a batch's messages share: the user's addresses, rules, model and settings. */
struct triage_db_batch {
	PGconn *c;
	int64_t user_id;
	char user[24];
	struct arena *a;
	const char *self[TRIAGE_DB_MAX_SELF + 1];   /* in a */
	struct rule_set *rules;
	struct triage_model *user_model; /* NULL: the user has corrected nothing */
	int screening;
	char screen_slug[TRIAGE_SLUG_SIZE];
	char screen_name[64];
	/* The messages of the batch in hand: their rows (strings point into them), the
	 * rest in ma. */
	PGresult *rows;
	struct arena *ma;
	struct triage_db_msg *v;
	size_t n;
};

/* Forgets the batch's messages (what the user's share stays). */
static void
triage_db_batch_reset(struct triage_db_batch *b)
{
	for (size_t i = 0; i < b->n; i++)
		json_decref(b->v[i].headers);
	free(b->v);
	b->v = NULL;
	b->n = 0;
	PQclear(b->rows);
	b->rows = NULL;
	if (b->ma != NULL)
		arena_reset(b->ma);
}

static void
triage_db_batch_clear(struct triage_db_batch *b)
{
	triage_db_batch_reset(b);
	rules_set_free(b->rules);
	triage_model_free(b->user_model);
	arena_free(b->ma);
	arena_free(b->a);
	memset(b, 0, sizeof *b);
}

/* Reads what the user's messages share into b. */
static int
triage_db_batch_init(struct triage_db_batch *b, PGconn *c, int64_t user_id, char *err,
    size_t errlen)
{
	const char *p[1];
	PGresult *r;
	int nself = 0;

	memset(b, 0, sizeof *b);
	b->c = c;
	b->user_id = user_id;
	b->a = arena_new(4096);
	b->ma = arena_new(1 << 16);
	b->screening = 1;
	snprintf(b->user, sizeof b->user, "%" PRId64, user_id);
	snprintf(b->screen_slug, sizeof b->screen_slug, "marketing");
	snprintf(b->screen_name, sizeof b->screen_name, "Marketing");
	if (user_id == 0)
		return 0;
	p[0] = b->user;
	if ((r = triage_db_exec(c, TRIAGE_DB_USER, p, err, errlen)) == NULL)
		return -1;
	for (int i = 0; i < PQntuples(r); i++) {
		const char *kind = PQgetvalue(r, i, 0), *name = PQgetvalue(r, i, 1);

		if (*kind == 's' && nself < TRIAGE_DB_MAX_SELF)
			b->self[nself++] = arena_strdup(b->a, name);
		else if (*kind == 't') {
			if (b->user_model == NULL)
				b->user_model = triage_model_new();
			triage_model_add_docs(b->user_model, name,
			    strtod(PQgetvalue(r, i, 2), NULL), strtod(PQgetvalue(r, i, 3), NULL));
		} else if (*kind == 'o' && triage_slug_valid(name)) {
			snprintf(b->screen_slug, sizeof b->screen_slug, "%s", name);
			snprintf(b->screen_name, sizeof b->screen_name, "%s", PQgetvalue(r, i, 2));
			b->screening = PQgetvalue(r, i, 3)[0] == 't';
		}
	}
	PQclear(r);
	b->self[nself] = NULL;
	return rules_load(c, user_id, &b->rules, err, errlen);
}

/* A JSON array of {"name", "address"} (mail_messages' address columns) into l. */
static void
triage_db_addresses(struct arena *a, const char *text, struct mime_address_list *l)
{
	json_t *j = json_loads(text, 0, NULL);
	size_t i, n = json_is_array(j) ? json_array_size(j) : 0;

	l->n = 0;
	l->v = n > 0 ? arena_calloc(a, n, sizeof *l->v) : NULL;
	for (i = 0; i < n; i++) {
		json_t *e = json_array_get(j, i);
		const char *name = json_string_value(json_object_get(e, "name"));
		const char *addr = json_string_value(json_object_get(e, "address"));

		l->v[l->n].name = arena_strdup(a, name != NULL ? name : "");
		l->v[l->n].address = arena_strdup(a, addr != NULL ? addr : "");
		l->n++;
	}
	json_decref(j);
}

static long
triage_db_long(const PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? 0 : strtol(PQgetvalue(r, row, col), NULL, 10);
}

static int
triage_db_bool(const PGresult *r, int row, int col)
{
	return !PQgetisnull(r, row, col) && PQgetvalue(r, row, col)[0] == 't';
}

/* The context columns (TRIAGE_DB_CONTEXT_COLUMNS) of row from col into x. */
static void
triage_db_context_row(struct triage_db_batch *b, const PGresult *r, int row, int col,
    struct triage_db_msg *x)
{
	x->ctx.self = b->user_id != 0 ? b->self : NULL;
	x->ctx.history = triage_db_bool(r, row, col);
	if (x->ctx.history) {
		x->ctx.from_sender = triage_db_long(r, row, col + 1);
		x->ctx.to_sender = triage_db_long(r, row, col + 2);
		x->ctx.sender_corrections = triage_db_long(r, row, col + 3);
		x->screened = triage_db_long(r, row, col + 4);
	}
	x->ctx.thread = triage_db_bool(r, row, col + 5);
	if (x->ctx.thread) {
		x->ctx.user_replied_after = triage_db_bool(r, row, col + 6);
		x->ctx.answered_after = triage_db_bool(r, row, col + 7);
		x->ctx.user_in_thread = triage_db_bool(r, row, col + 8);
		x->ctx.answers_user = triage_db_bool(r, row, col + 9);
	}
	x->sender_row = triage_db_bool(r, row, col + 10);
	x->sender_category = x->sender_row && !PQgetisnull(r, row, col + 11) ?
	    arena_strdup(b->ma, PQgetvalue(r, row, col + 11)) : NULL;
}

/* The messages of r (TRIAGE_DB_PENDING or TRIAGE_DB_ROWS) into b->v; b keeps r. */
static void
triage_db_batch_rows(struct triage_db_batch *b, PGresult *r)
{
	b->rows = r;
	b->n = (size_t)PQntuples(r);
	b->v = b->n > 0 ? xcalloc(b->n, sizeof *b->v) : NULL;
	for (size_t i = 0; i < b->n; i++) {
		struct triage_db_msg *x = &b->v[i];
		int row = (int)i;

		x->id = strtoll(PQgetvalue(r, row, 0), NULL, 10);
		triage_db_addresses(b->ma, PQgetvalue(r, row, 1), &x->m.from);
		triage_db_addresses(b->ma, PQgetvalue(r, row, 2), &x->m.to);
		triage_db_addresses(b->ma, PQgetvalue(r, row, 3), &x->m.cc);
		triage_db_addresses(b->ma, PQgetvalue(r, row, 4), &x->m.reply_to);
		x->m.subject = PQgetvalue(r, row, 5);
		x->m.text = PQgetvalue(r, row, 6);
		x->headers = json_loads(PQgetvalue(r, row, 7), 0, NULL);
		x->m.headers = json_is_object(x->headers) ? x->headers : NULL;
		if (!PQgetisnull(r, row, 8))
			x->m.calendar_method = triage_calendar_method(PQgetvalue(r, row, 8),
			    x->method, sizeof x->method);
		x->m.is_reply = triage_db_bool(r, row, 9);
		x->m.sent = triage_db_bool(r, row, 10);
		x->m.has_attachments = triage_db_bool(r, row, 11);
		x->thread_id = strtoll(PQgetvalue(r, row, 12), NULL, 10);
		triage_db_context_row(b, r, row, TRIAGE_DB_MESSAGE_NCOLS, x);
	}
}

/* features as a PostgreSQL text[] literal, sorted (a fixed order of row locks). */
static int
triage_db_feature_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static const char *
triage_db_array(struct arena *a, const char **features, size_t n)
{
	struct buf b;

	qsort(features, n, sizeof *features, triage_db_feature_cmp);
	buf_init(&b, a);
	buf_putc(&b, '{');
	for (size_t i = 0; i < n; i++) {
		if (i > 0 && strcmp(features[i], features[i - 1]) == 0)
			continue;
		if (b.len > 1)
			buf_putc(&b, ',');
		buf_putc(&b, '"');
		for (const char *s = features[i]; *s != '\0'; s++) {
			if (*s == '"' || *s == '\\')
				buf_putc(&b, '\\');
			buf_putc(&b, *s);
		}
		buf_putc(&b, '"');
	}
	buf_putc(&b, '}');
	return b.data;
}

/* The features of x (without the user's model, as triage_learn counts them), copied: the
 * classifier's are overwritten by the next message. Returns how many. */
static size_t
triage_db_features(struct triage_classifier *tc, struct arena *a, struct triage_db_msg *x)
{
	const char **f;
	struct triage_context ctx = x->ctx;
	size_t n;

	ctx.user_model = NULL;
	n = triage_features(tc, &x->m, &ctx, &f);
	x->features = arena_calloc(a, n + 1, sizeof *x->features);
	for (size_t i = 0; i < n; i++)
		x->features[i] = arena_strdup(a, f[i]);
	return n;
}

/* The user's model for the batch: the counts of the features of its messages, in the
 * categories that have totals (a deleted category's counts stay out). */
static int
triage_db_batch_model(struct triage_db_batch *b, struct triage_classifier *tc, char *err,
    size_t errlen)
{
	const char **all = NULL;
	const char *p[2];
	size_t n = 0, cap = 0;
	PGresult *r;

	if (b->user_model == NULL)
		return 0;
	for (size_t i = 0; i < b->n; i++) {
		size_t k = triage_db_features(tc, b->ma, &b->v[i]);

		if (n + k > cap) {
			cap = (n + k) * 2;
			all = xreallocarray(all, cap, sizeof *all);
		}
		memcpy(all + n, b->v[i].features, k * sizeof *all);
		n += k;
	}
	p[0] = b->user;
	p[1] = triage_db_array(b->ma, all, n);
	free(all);
	if ((r = triage_db_exec(b->c, TRIAGE_DB_FEATURES, p, err, errlen)) == NULL)
		return -1;
	for (int i = 0; i < PQntuples(r); i++) {
		if (triage_model_find_class(b->user_model, PQgetvalue(r, i, 1)) >= 0)
			triage_model_add(b->user_model, PQgetvalue(r, i, 0), PQgetvalue(r, i, 1),
			    strtod(PQgetvalue(r, i, 2), NULL));
	}
	PQclear(r);
	for (size_t i = 0; i < b->n; i++)
		b->v[i].ctx.user_model = b->user_model;
	return 0;
}

/* A header of the message for rules (app/rules.c): the stored ones are mime_parse's
 * allowlist, one value each. */
static const char *
triage_db_rule_header(void *arg, const char *name, size_t i)
{
	const struct triage_message *m = arg;
	const char *key;
	json_t *v;

	if (i > 0 || m->headers == NULL)
		return NULL;
	json_object_foreach(m->headers, key, v) {
		if (strcasecmp(key, name) == 0)
			return json_string_value(v);
	}
	return NULL;
}

/* Decision d by one reason alone, with confidence 1. */
static void
triage_db_decided(struct triage_decision *d, const char *category, const char *source,
    const char *signal, const char *reason)
{
	snprintf(d->category, sizeof d->category, "%s", category);
	d->confidence = 1;
	d->source = source;
	snprintf(d->reasons[0].text, sizeof d->reasons[0].text, "%s", reason);
	d->reasons[0].signal = signal;
	d->reasons[0].weight = 1;
	d->n_reasons = 1;
}

/* The first of the user's rules that holds for the message: 1 with the decision in d, 0
 * when none decides a category. */
static int
triage_db_rules(struct triage_db_batch *b, const struct triage_db_msg *x,
    struct triage_decision *d)
{
	const struct rule *r;
	struct rule_msg rm;
	struct rule_addr *to, *cc;
	char *cond, reason[TRIAGE_REASON_SIZE];

	if (b->rules == NULL || b->rules->n == 0)
		return 0;
	to = arena_calloc(b->ma, x->m.to.n + 1, sizeof *to);
	cc = arena_calloc(b->ma, x->m.cc.n + 1, sizeof *cc);
	for (size_t i = 0; i < x->m.to.n; i++) {
		to[i].address = x->m.to.v[i].address;
		to[i].name = x->m.to.v[i].name;
	}
	for (size_t i = 0; i < x->m.cc.n; i++) {
		cc[i].address = x->m.cc.v[i].address;
		cc[i].name = x->m.cc.v[i].name;
	}
	memset(&rm, 0, sizeof rm);
	rm.from_address = x->m.from.n > 0 ? x->m.from.v[0].address : NULL;
	rm.from_name = x->m.from.n > 0 ? x->m.from.v[0].name : NULL;
	rm.to = to;
	rm.nto = x->m.to.n;
	rm.cc = cc;
	rm.ncc = x->m.cc.n;
	rm.subject = x->m.subject;
	rm.body = x->m.text;
	rm.body_len = strlen(x->m.text);
	rm.header = triage_db_rule_header;
	rm.header_arg = (void *)(uintptr_t)&x->m;
	r = rules_first_match(b->rules, &rm);
	if (r == NULL || r->category == NULL || !triage_slug_valid(r->category))
		return 0;
	cond = r->nconditions > 0 ? rules_condition_text(&r->conditions[0]) : NULL;
	snprintf(reason, sizeof reason, "Your rule '%.80s'%s%.100s", r->name,
	    cond != NULL ? ": " : "", cond != NULL ? cond : "");
	free(cond);
	triage_db_decided(d, r->category, TRIAGE_SOURCE_RULE, "rule", reason);
	d->rule_id = r->id;
	return 1;
}

/* The cold-email screen, after the classifier: a sender the user never wrote to and
 * never sorted, allowed or corrected, whose first message reads like outreach, or who
 * follows up on mail the screen caught, goes to the screen's category. Not the user's
 * own mail, nor a reply to them, nor a calendar part; and what the classifier put in
 * that category already stays the classifier's (newsletters are not cold email: only
 * what the screen moved is what "allow" gives back). */
static void
triage_db_screen(const struct triage_db_batch *b, const struct triage_db_msg *x,
    struct triage_decision *d)
{
	char reason[TRIAGE_REASON_SIZE];
	int first, again;

	if (!b->screening || x->m.sent || x->sender_row || x->m.calendar_method != NULL ||
	    !x->ctx.history || x->ctx.answers_user || x->ctx.to_sender > 0 ||
	    x->ctx.sender_corrections > 0 || strcmp(d->source, TRIAGE_SOURCE_CLASSIFIER) != 0 ||
	    strcmp(d->category, b->screen_slug) == 0)
		return;
	for (size_t i = 0; i < d->n_reasons; i++) {
		/* The user's model knows this sender or domain: they have taught it. */
		if (strcmp(d->reasons[i].signal, "sender-learned") == 0 ||
		    strcmp(d->reasons[i].signal, "domain-learned") == 0)
			return;
	}
	first = d->first_time_sender && d->outreach >= TRIAGE_DB_OUTREACH;
	again = x->ctx.from_sender > 0 && x->screened == x->ctx.from_sender;
	if (!first && !again)
		return;
	if (first)
		snprintf(reason, sizeof reason, "A first message from someone you have never "
		    "written to, and it reads like cold outreach: screened into %.60s until you "
		    "allow the sender", b->screen_name);
	else
		snprintf(reason, sizeof reason, "Follows up on mail the cold-email screen caught, "
		    "and you have not answered: screened into %.60s until you allow the sender",
		    b->screen_name);
	/* The screen's sentence first, then what the classifier saw. */
	if (d->n_reasons == TRIAGE_MAX_REASONS)
		d->n_reasons--;
	memmove(&d->reasons[1], &d->reasons[0], d->n_reasons * sizeof d->reasons[0]);
	snprintf(d->reasons[0].text, sizeof d->reasons[0].text, "%s", reason);
	d->reasons[0].signal = "screening";
	d->reasons[0].weight = 1;
	d->n_reasons++;
	snprintf(d->category, sizeof d->category, "%s", b->screen_slug);
	d->source = TRIAGE_SOURCE_SCREENING;
}

/* rules > the sender's category > the classifier, with the user's model > the screen. */
static void
triage_db_decide(struct triage_db_batch *b, struct triage_classifier *tc,
    struct triage_db_msg *x)
{
	struct triage_decision *d = &x->d;
	char reason[TRIAGE_REASON_SIZE];

	memset(d, 0, sizeof *d);
	if (b->user_id != 0 && triage_db_rules(b, x, d))
		return;
	if (x->sender_category != NULL && triage_slug_valid(x->sender_category)) {
		snprintf(reason, sizeof reason, "You put all mail from this sender in '%s'",
		    x->sender_category);
		triage_db_decided(d, x->sender_category, TRIAGE_SOURCE_SENDER, "sender-category",
		    reason);
		return;
	}
	triage_classify(tc, &x->m, &x->ctx, d);
	if (b->user_id != 0)
		triage_db_screen(b, x, d);
}

/* Stores the batch's decisions in one statement (only_pending: on messages still
 * untriaged), then the reply state of their threads. Returns how many were stored, or -1;
 * with want set, fewer than b->n is an error ("not the user's"). */
static long
triage_db_store(struct triage_db_batch *b, int only_pending, int want, char *err,
    size_t errlen)
{
	json_t *all = json_array();
	const char *p[3];
	char *text;
	int64_t *threads;
	size_t nthreads = 0;
	PGresult *r;
	long stored;

	for (size_t i = 0; i < b->n; i++) {
		const struct triage_decision *d = &b->v[i].d;

		json_array_append_new(all, json_pack("{s:I, s:s, s:f, s:s, s:o, s:o}",
		    "id", (json_int_t)b->v[i].id, "category", d->category,
		    "confidence", round(d->confidence * 1e4) / 1e4, "source", d->source,
		    "reasons", triage_reasons_json(d),
		    "rule", d->rule_id != 0 ? json_integer(d->rule_id) : json_null()));
	}
	if ((text = json_dumps(all, JSON_COMPACT)) == NULL)
		fatal("out of memory");
	json_decref(all);
	p[0] = b->user;
	p[1] = text;
	p[2] = only_pending ? "t" : "f";
	r = triage_db_exec(b->c, TRIAGE_DB_STORE, p, err, errlen);
	free(text);
	if (r == NULL)
		return -1;
	stored = PQntuples(r);
	if (want && (size_t)stored < b->n) {
		PQclear(r);
		snprintf(err, errlen, "triage: message %" PRId64 " is not the user's", b->v[0].id);
		return -1;
	}
	threads = arena_calloc(b->ma, (size_t)stored + 1, sizeof *threads);
	for (int i = 0; i < stored; i++) {
		int64_t t = strtoll(PQgetvalue(r, i, 1), NULL, 10);

		if (t != 0)
			threads[nthreads++] = t;
	}
	PQclear(r);
	if (nthreads > 0 && replies_update_threads(b->c, b->user_id, threads, nthreads, err,
	    errlen) < 0)
		return -1;
	return stored;
}

/* BEGIN unless the caller has a transaction open: 1 when this one is ours, 0 when it
 * is the caller's, -1 on an error. */
static int
triage_db_begin(PGconn *c, char *err, size_t errlen)
{
	if (PQtransactionStatus(c) != PQTRANS_IDLE)
		return 0;
	return triage_db_run(c, "BEGIN", err, errlen) == 0 ? 1 : -1;
}

/* COMMIT our transaction after rc == 0, else ROLLBACK it; returns rc (or -1). */
static int
triage_db_end(PGconn *c, int own, int rc, char *err, size_t errlen)
{
	if (own <= 0)
		return rc;
	if (rc == 0)
		return triage_db_run(c, "COMMIT", err, errlen);
	PQclear(PQexec(c, "ROLLBACK"));
	return rc;
}

/* Fetches the messages of b's user that stmt selects (with p[1]), decides and stores
 * them in the caller's transaction. *done says how many were stored. */
static int
triage_db_batch_run(struct triage_db_batch *b, enum triage_db_stmt_id stmt,
    const char *arg, int want, long *done, char *err, size_t errlen)
{
	struct triage_classifier *tc = triage_db_classifier();
	const char *p[2] = { b->user, arg };
	PGresult *r;
	long stored;

	*done = 0;
	if ((r = triage_db_exec(b->c, stmt, p, err, errlen)) == NULL)
		return -1;
	triage_db_batch_rows(b, r);
	if (b->n == 0) {
		if (want)
			snprintf(err, errlen, "triage: message %s is not the user's", arg);
		return want ? -1 : 0;
	}
	if (triage_db_batch_model(b, tc, err, errlen) != 0)
		return -1;
	for (size_t i = 0; i < b->n; i++)
		triage_db_decide(b, tc, &b->v[i]);
	if ((stored = triage_db_store(b, stmt == TRIAGE_DB_PENDING, want, err, errlen)) < 0)
		return -1;
	*done = stored;
	return 0;
}

int
triage_db_classify(PGconn *c, int64_t user_id, int64_t row, struct triage_decision *out,
    char *err, size_t errlen)
{
	struct triage_db_batch b;
	char ids[32];
	long done;
	int own, rc = -1;

	snprintf(ids, sizeof ids, "{%" PRId64 "}", row);
	if ((own = triage_db_begin(c, err, errlen)) < 0)
		return -1;
	if (triage_db_batch_init(&b, c, user_id, err, errlen) == 0 &&
	    triage_db_batch_run(&b, TRIAGE_DB_ROWS, ids, 1, &done, err, errlen) == 0) {
		if (out != NULL)
			*out = b.v[0].d;
		rc = 0;
	}
	if (rc != 0 && strstr(err, "not the user's") != NULL)
		snprintf(err, errlen, "triage: message %" PRId64 " is not the user's", row);
	triage_db_batch_clear(&b);
	return triage_db_end(c, own, rc, err, errlen);
}

/* A message that is not stored: the thread of the latest message it names. */
static int
triage_db_thread_of(PGconn *c, struct arena *a, const char *user,
    const struct mime_message *mm, char *thread, size_t threadlen, char *err,
    size_t errlen)
{
	const char **ids = arena_calloc(a, mm->n_references + 2, sizeof *ids);
	const char *p[2];
	size_t n = 0;
	PGresult *r;

	for (size_t i = 0; i < mm->n_references; i++)
		ids[n++] = mm->references[i];
	if (mm->in_reply_to != NULL)
		ids[n++] = mm->in_reply_to;
	if (n == 0)
		return 0;
	p[0] = user;
	p[1] = triage_db_array(a, ids, n);
	r = triage_db_sql(c, "SELECT thread_id FROM mail_messages WHERE user_id = $1 "
	    "AND message_id = ANY($2::text[]) AND thread_id IS NOT NULL "
	    "ORDER BY coalesce(sent_at, received_at) DESC, id DESC LIMIT 1", 2, p, err, errlen);
	if (r == NULL)
		return -1;
	if (PQntuples(r) == 1)
		snprintf(thread, threadlen, "%s", PQgetvalue(r, 0, 0));
	PQclear(r);
	return 0;
}

int
triage_db_explain(PGconn *c, int64_t user_id, const struct mime_message *mm,
    struct triage_decision *out, char *err, size_t errlen)
{
	struct triage_db_batch b;
	struct triage_db_msg *x;
	char date[24], thread[24] = "";
	int rc = -1;

	if (triage_db_batch_init(&b, c, user_id, err, errlen) != 0)
		goto done;
	b.n = 1;
	b.v = x = xcalloc(1, sizeof *b.v);
	triage_message_from_mime(&x->m, mm, NULL);
	if (user_id != 0) {
		const char *sender = x->m.from.n > 0 ? x->m.from.v[0].address : "";
		const char *p[5] = { b.user, sender, date, NULL, mm->in_reply_to };
		PGresult *r;

		snprintf(date, sizeof date, "%" PRId64, mm->date != 0 ? mm->date :
		    util_wall_us() / 1000000);
		if (triage_db_thread_of(c, b.ma, b.user, mm, thread, sizeof thread, err,
		    errlen) != 0)
			goto done;
		p[3] = thread[0] != '\0' ? thread : NULL;
		if ((r = triage_db_exec(c, TRIAGE_DB_CONTEXT, p, err, errlen)) == NULL)
			goto done;
		triage_db_context_row(&b, r, 0, 0, x);
		PQclear(r);
		/* Now that the user's addresses are known: is it their own? */
		for (size_t i = 0; x->m.from.n > 0 && b.self[i] != NULL; i++) {
			if (strcasecmp(b.self[i], x->m.from.v[0].address) == 0)
				x->m.sent = 1;
		}
		if (triage_db_batch_model(&b, triage_db_classifier(), err, errlen) != 0)
			goto done;
	}
	triage_db_decide(&b, triage_db_classifier(), x);
	*out = x->d;
	rc = 0;
done:
	triage_db_batch_clear(&b);
	return rc;
}

/* Up to limit untriaged messages of user_id, in batches of TRIAGE_DB_BATCH. */
static int
triage_db_pending_user(PGconn *c, int64_t user_id, long limit, long *done, char *err,
    size_t errlen)
{
	struct triage_db_batch b;
	char lim[24];
	long n;
	int rc = 0;

	if (triage_db_batch_init(&b, c, user_id, err, errlen) != 0) {
		triage_db_batch_clear(&b);
		return -1;
	}
	while (rc == 0 && *done < limit) {
		long want = limit - *done < TRIAGE_DB_BATCH ? limit - *done : TRIAGE_DB_BATCH;

		snprintf(lim, sizeof lim, "%ld", want);
		rc = triage_db_batch_run(&b, TRIAGE_DB_PENDING, lim, 0, &n, err, errlen);
		if (rc == 0)
			*done += n;
		/* Fewer than asked: nothing more (or others took the rest). */
		if (rc != 0 || (long)b.n < want)
			break;
		triage_db_batch_reset(&b);
	}
	triage_db_batch_clear(&b);
	return rc;
}

int
triage_db_pending(PGconn *c, int64_t user_id, long limit, long *done, char *err,
    size_t errlen)
{
	PGresult *r = NULL;
	int own, rc = 0;

	*done = 0;
	if ((own = triage_db_begin(c, err, errlen)) < 0)
		return -1;
	if (user_id != 0)
		rc = triage_db_pending_user(c, user_id, limit, done, err, errlen);
	else if ((r = triage_db_sql(c, "SELECT DISTINCT user_id FROM mail_messages "
	    "WHERE triaged_at IS NULL ORDER BY user_id", 0, NULL, err, errlen)) == NULL)
		rc = -1;
	for (int i = 0; r != NULL && rc == 0 && i < PQntuples(r) && *done < limit; i++)
		rc = triage_db_pending_user(c, strtoll(PQgetvalue(r, i, 0), NULL, 10), limit,
		    done, err, errlen);
	PQclear(r);
	if ((rc = triage_db_end(c, own, rc, err, errlen)) != 0 && own > 0)
		*done = 0;
	return rc;
}

/* ---- the job, and the cold-email screen's "allow" ---- */

int
triage_job_run(PGconn *c, int64_t user_id, const atomic_int *stop, long *done, char *err,
    size_t errlen)
{
	long n = 0;

	*done = 0;
	do {
		if (stop != NULL && atomic_load(stop))
			return 1;
		/* A transaction per batch: what is done stays done. */
		if (triage_db_pending(c, user_id, TRIAGE_DB_BATCH, &n, err, errlen) != 0)
			return -1;
		*done += n;
	} while (n == TRIAGE_DB_BATCH);
	/* The categories go to the mailbox next (writeback.h): one job per account. */
	if (*done > 0 && writeback_enqueue(c, user_id, 0, err, errlen) < 0)
		return -1;
	return 0;
}

int64_t
triage_enqueue(PGconn *c, int64_t user_id)
{
	char payload[64], key[48], err[512];
	int64_t id;

	snprintf(payload, sizeof payload, "{\"user_id\": %" PRId64 "}", user_id);
	snprintf(key, sizeof key, "triage:%" PRId64, user_id);
	id = jobs_enqueue(c, "triage", payload, user_id, key, 0, TRIAGE_JOB_ATTEMPTS, err,
	    sizeof err);
	if (id < 0)
		log_warn("user %" PRId64 ": triage not queued: %s", user_id, err);
	return id;
}

long
triage_enqueue_pending(PGconn *c, char *err, size_t errlen)
{
	PGresult *r = triage_db_sql(c, "SELECT DISTINCT user_id FROM mail_messages "
	    "WHERE triaged_at IS NULL ORDER BY user_id", 0, NULL, err, errlen);
	long n = 0;

	if (r == NULL)
		return -1;
	for (int i = 0; i < PQntuples(r); i++) {
		if (triage_enqueue(c, strtoll(PQgetvalue(r, i, 0), NULL, 10)) < 0) {
			snprintf(err, errlen, "triage: cannot queue the triage jobs");
			PQclear(r);
			return -1;
		}
		n++;
	}
	PQclear(r);
	return n;
}

/* Whether s can be a sender_categories row: an address or a domain, printable ASCII
 * or UTF-8 without spaces or controls, 3 to 254 bytes. */
static int
triage_db_sender_valid(const char *s)
{
	size_t n = s != NULL ? strlen(s) : 0;

	if (n < 3 || n > 254)
		return 0;
	for (const char *p = s; *p != '\0'; p++) {
		if ((unsigned char)*p <= ' ' || *p == 0x7f || *p == ',' || *p == '<' || *p == '>')
			return 0;
	}
	return 1;
}

int
triage_allow_sender(PGconn *c, int64_t user_id, const char *sender, long *retriaged,
    char *err, size_t errlen)
{
	struct triage_db_batch b;
	char user[24];
	const char *p[2] = { user, sender };
	PGresult *r;
	long done = 0;
	int own, rc = -1;

	*retriaged = 0;
	if (!triage_db_sender_valid(sender)) {
		snprintf(err, errlen, "triage: not a sender's address or domain");
		return -1;
	}
	snprintf(user, sizeof user, "%" PRId64, user_id);
	if ((own = triage_db_begin(c, err, errlen)) < 0)
		return -1;
	memset(&b, 0, sizeof b);
	/* A sender sorted into a category for good stays so: they are not screened. */
	if ((r = triage_db_sql(c, "INSERT INTO sender_categories (user_id, sender, category) "
	    "SELECT id, $2, NULL FROM users WHERE id = $1 "
	    "ON CONFLICT (user_id, sender) DO NOTHING", 2, p, err, errlen)) == NULL)
		goto done;
	PQclear(r);
	/* The sender's (or the domain's) mail the screen caught, classified again. */
	if ((r = triage_db_sql(c, "SELECT coalesce(array_agg(id ORDER BY id)::text, '{}') "
	    "FROM mail_messages WHERE user_id = $1 AND category_source = 'screening' "
	    "AND CASE WHEN strpos(ltrim($2, '@'), '@') > 0 "
	    "THEN lower(from_addr->0->>'address') = lower($2) "
	    "ELSE substring(lower(from_addr->0->>'address') FROM '@([^@]*)$') = "
	    "lower(ltrim($2, '@')) END", 2, p, err, errlen)) == NULL)
		goto done;
	if (strcmp(PQgetvalue(r, 0, 0), "{}") != 0 &&
	    (triage_db_batch_init(&b, c, user_id, err, errlen) != 0 ||
	    triage_db_batch_run(&b, TRIAGE_DB_ROWS, PQgetvalue(r, 0, 0), 0, &done, err,
	    errlen) != 0)) {
		PQclear(r);
		goto done;
	}
	PQclear(r);
	*retriaged = done;
	rc = 0;
done:
	triage_db_batch_clear(&b);
	if ((rc = triage_db_end(c, own, rc, err, errlen)) != 0)
		*retriaged = 0;
	return rc;
}

/* ---- corrections ---- */

/* The features of the message counted for category to (+1 each, a document more) and
 * taken back by half from category from (never below 0). */
static const char triage_db_sql_learn_to[] =
	"WITH f AS (INSERT INTO triage_features (user_id, feature, category, count) "
	"SELECT $1, f, $2, 1 FROM unnest($3::text[]) AS f "
	"ON CONFLICT (user_id, feature, category) "
	"DO UPDATE SET count = triage_features.count + 1) "
	"INSERT INTO triage_totals (user_id, category, documents, features) "
	"VALUES ($1, $2, 1, $4) ON CONFLICT (user_id, category) DO UPDATE SET "
	"documents = triage_totals.documents + 1, "
	"features = triage_totals.features + EXCLUDED.features";

static const char triage_db_sql_learn_from[] =
	"UPDATE triage_features SET count = greatest(count - 0.5, 0) "
	"WHERE user_id = $1 AND category = $2 AND feature = ANY($3::text[])";

int
triage_learn(PGconn *c, int64_t user_id, int64_t row, const char *from, const char *to,
    char *err, size_t errlen)
{
	struct triage_db_batch b;
	const char *p[4];
	char nf[24], ids[32];
	size_t n;
	PGresult *r;
	int own = 0, rc = -1;

	memset(&b, 0, sizeof b);
	if (!triage_slug_valid(to)) {
		snprintf(err, errlen, "triage: not a category: %s", to != NULL ? to : "(none)");
		return -1;
	}
	if (triage_db_batch_init(&b, c, user_id, err, errlen) != 0)
		goto done;
	p[0] = b.user;
	p[1] = to;
	if ((r = triage_db_sql(c, "SELECT 1 FROM categories WHERE user_id = $1 AND slug = $2",
	    2, p, err, errlen)) == NULL)
		goto done;
	n = (size_t)PQntuples(r);
	PQclear(r);
	if (n == 0) {
		snprintf(err, errlen, "triage: the user has no category %s", to);
		goto done;
	}
	snprintf(ids, sizeof ids, "{%" PRId64 "}", row);
	p[1] = ids;
	if ((r = triage_db_exec(c, TRIAGE_DB_ROWS, p, err, errlen)) == NULL)
		goto done;
	triage_db_batch_rows(&b, r);
	if (b.n != 1) {
		snprintf(err, errlen, "triage: message %" PRId64 " is not the user's", row);
		goto done;
	}
	n = triage_db_features(triage_db_classifier(), b.ma, &b.v[0]);
	snprintf(nf, sizeof nf, "%zu", n);
	p[1] = to;
	p[2] = triage_db_array(b.ma, b.v[0].features, n);
	p[3] = nf;

	if ((own = triage_db_begin(c, err, errlen)) < 0)
		goto done;
	if ((r = triage_db_sql(c, triage_db_sql_learn_to, 4, p, err, errlen)) == NULL)
		goto end;
	PQclear(r);
	if (from != NULL && *from != '\0' && strcmp(from, to) != 0) {
		p[1] = from;
		if ((r = triage_db_sql(c, triage_db_sql_learn_from, 3, p, err, errlen)) == NULL)
			goto end;
		PQclear(r);
	}
	rc = 0;
end:
	rc = triage_db_end(c, own, rc, err, errlen);
done:
	triage_db_batch_clear(&b);
	return rc;
}
