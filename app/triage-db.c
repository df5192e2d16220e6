/* triage-db.c: the classifier's side in PostgreSQL (triage.h, doc/triage.md). It reads a
 * message and its context (the user's addresses, the sender's history, the thread's
 * state, the sender's category, the user's model restricted to the message's features),
 * decides (rules, then the sender's category, then app/triage.c), stores the decision
 * and learns from corrections. Every query has the owner (user_id) in its WHERE clause
 * and every value travels as a parameter. */
#include "config.h"

#include <inttypes.h>
#include <stdint.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <jansson.h>
#include <libpq-fe.h>

#include "arena.h"
#include "categories.h"
#include "rules.h"
#include "triage.h"
#include "triage-model.h"
#include "util.h"

#define TRIAGE_DB_MAX_SELF 32
#define TRIAGE_DB_BODY_CHARS "65536"   /* characters of body_text read (quotes included) */

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
	return categories_sql(c, "triage", sql, n, params, err, errlen);
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

/* What is read of a message beside struct triage_message. */
struct triage_db_msg {
	struct arena *a;                 /* its strings */
	char user[24];                   /* the owner's id */
	struct triage_message m;
	char method[24];
	char thread[24];                 /* its thread's id, "" when none */
	char date[24];                   /* epoch seconds */
	char row[24];                    /* its id, "0" when not stored */
	const char *in_reply_to;
	const char **refs;               /* NULL-terminated */
	const char *self[TRIAGE_DB_MAX_SELF + 1];
	struct triage_context ctx;
	struct triage_model *user_model;
	json_t *headers;
};

static void
triage_db_msg_init(struct triage_db_msg *x, int64_t user_id)
{
	memset(x, 0, sizeof *x);
	x->a = arena_new(16384);
	snprintf(x->user, sizeof x->user, "%" PRId64, user_id);
	snprintf(x->row, sizeof x->row, "0");
}

static void
triage_db_msg_clear(struct triage_db_msg *x)
{
	json_decref(x->headers);
	triage_model_free(x->user_model);
	arena_free(x->a);
}

static const char triage_db_sql_message[] =
	"SELECT from_addr::text, to_addr::text, cc_addr::text, reply_to::text, subject, "
	"left(body_text, " TRIAGE_DB_BODY_CHARS "), headers::text, calendar, "
	"in_reply_to IS NOT NULL OR cardinality(refs) > 0, direction = 'sent', "
	"has_attachments, coalesce(thread_id::text, ''), "
	"extract(epoch FROM coalesce(sent_at, received_at))::bigint, in_reply_to "
	"FROM mail_messages WHERE id = $1 AND user_id = $2";

/* The stored message row of user into x (its strings in a). 0, 1 when there is no such
 * message of the user's, -1 on a database error. */
static int
triage_db_load(PGconn *c, struct arena *a, const char *user, int64_t row,
    struct triage_db_msg *x, char *err, size_t errlen)
{
	const char *p[2];
	PGresult *r;

	snprintf(x->row, sizeof x->row, "%" PRId64, row);
	p[0] = x->row;
	p[1] = user;
	if ((r = triage_db_sql(c, triage_db_sql_message, 2, p, err, errlen)) == NULL)
		return -1;
	if (PQntuples(r) != 1) {
		PQclear(r);
		snprintf(err, errlen, "triage: message %" PRId64 " is not the user's", row);
		return 1;
	}
	triage_db_addresses(a, PQgetvalue(r, 0, 0), &x->m.from);
	triage_db_addresses(a, PQgetvalue(r, 0, 1), &x->m.to);
	triage_db_addresses(a, PQgetvalue(r, 0, 2), &x->m.cc);
	triage_db_addresses(a, PQgetvalue(r, 0, 3), &x->m.reply_to);
	x->m.subject = arena_strdup(a, PQgetvalue(r, 0, 4));
	x->m.text = arena_strdup(a, PQgetvalue(r, 0, 5));
	x->headers = json_loads(PQgetvalue(r, 0, 6), 0, NULL);
	x->m.headers = json_is_object(x->headers) ? x->headers : NULL;
	if (!PQgetisnull(r, 0, 7))
		x->m.calendar_method = triage_calendar_method(PQgetvalue(r, 0, 7), x->method,
		    sizeof x->method);
	x->m.is_reply = PQgetvalue(r, 0, 8)[0] == 't';
	x->m.sent = PQgetvalue(r, 0, 9)[0] == 't';
	x->m.has_attachments = PQgetvalue(r, 0, 10)[0] == 't';
	snprintf(x->thread, sizeof x->thread, "%s", PQgetvalue(r, 0, 11));
	snprintf(x->date, sizeof x->date, "%s", PQgetvalue(r, 0, 12));
	x->in_reply_to = PQgetisnull(r, 0, 13) ? NULL : arena_strdup(a, PQgetvalue(r, 0, 13));
	PQclear(r);
	return 0;
}

/* The user's addresses: their login and their mailboxes'. */
static int
triage_db_self(PGconn *c, struct arena *a, const char *user, struct triage_db_msg *x,
    char *err, size_t errlen)
{
	const char *p[1] = { user };
	PGresult *r = triage_db_sql(c, "SELECT email::text FROM users WHERE id = $1 UNION "
	    "SELECT address::text FROM mail_accounts WHERE user_id = $1 ORDER BY 1", 1, p, err,
	    errlen);
	int n;

	if (r == NULL)
		return -1;
	n = PQntuples(r) < TRIAGE_DB_MAX_SELF ? PQntuples(r) : TRIAGE_DB_MAX_SELF;
	for (int i = 0; i < n; i++)
		x->self[i] = arena_strdup(a, PQgetvalue(r, i, 0));
	x->self[n] = NULL;
	PQclear(r);
	x->ctx.self = x->self;
	return 0;
}

/* The sender's history (counted up to 100) and corrections, before the message's date
 * (the indexes of sql/0008_triage_sender). */
static const char triage_db_sql_history[] =
	"SELECT (SELECT count(*) FROM (SELECT 1 FROM mail_messages x WHERE x.user_id = $1 "
	"AND x.direction = 'received' AND lower(x.from_addr->0->>'address') = lower($2) "
	"AND x.id <> $3 AND coalesce(x.sent_at, x.received_at) < to_timestamp($4) "
	"LIMIT 100) a), "
	"(SELECT count(*) FROM (SELECT 1 FROM mail_messages x WHERE x.user_id = $1 "
	"AND x.direction = 'sent' AND mail_address_list(x.to_addr || x.cc_addr) @> "
	"ARRAY[lower($2)] LIMIT 100) b), "
	"(SELECT count(*) FROM triage_corrections WHERE user_id = $1 AND sender = $2)";

/* The thread's state around the message. */
static const char triage_db_sql_thread[] =
	"SELECT EXISTS (SELECT 1 FROM mail_messages x WHERE x.user_id = $1 AND x.thread_id = $2 "
	"AND x.direction = 'sent' AND x.id <> $4 "
	"AND coalesce(x.sent_at, x.received_at) > to_timestamp($3)), "
	"EXISTS (SELECT 1 FROM mail_messages x WHERE x.user_id = $1 AND x.thread_id = $2 "
	"AND x.direction = 'received' AND x.id <> $4 "
	"AND coalesce(x.sent_at, x.received_at) > to_timestamp($3)), "
	"EXISTS (SELECT 1 FROM mail_messages x WHERE x.user_id = $1 AND x.thread_id = $2 "
	"AND x.direction = 'sent' AND x.id <> $4 "
	"AND coalesce(x.sent_at, x.received_at) < to_timestamp($3)), "
	"EXISTS (SELECT 1 FROM mail_messages x WHERE x.user_id = $1 AND x.message_id = $5 "
	"AND x.direction = 'sent')";

/* A message that is not stored: the thread of the latest message it names. */
static int
triage_db_thread_of(PGconn *c, struct arena *a, const char *user,
    const struct mime_message *mm, struct triage_db_msg *x, char *err, size_t errlen)
{
	struct buf b;
	const char *p[2];
	PGresult *r;

	buf_init(&b, a);
	buf_putc(&b, '{');
	for (size_t i = 0; i <= mm->n_references; i++) {
		const char *id = i < mm->n_references ? mm->references[i] : mm->in_reply_to;

		if (id == NULL)
			continue;
		if (b.len > 1)
			buf_putc(&b, ',');
		buf_putc(&b, '"');
		for (const char *s = id; *s != '\0'; s++) {
			if (*s == '"' || *s == '\\')
				buf_putc(&b, '\\');
			buf_putc(&b, *s);
		}
		buf_putc(&b, '"');
	}
	buf_putc(&b, '}');
	if (b.len == 2)
		return 0;
	p[0] = user;
	p[1] = b.data;
	r = triage_db_sql(c, "SELECT thread_id FROM mail_messages WHERE user_id = $1 "
	    "AND message_id = ANY($2::text[]) AND thread_id IS NOT NULL "
	    "ORDER BY coalesce(sent_at, received_at) DESC, id DESC LIMIT 1", 2, p, err, errlen);
	if (r == NULL)
		return -1;
	if (PQntuples(r) == 1)
		snprintf(x->thread, sizeof x->thread, "%s", PQgetvalue(r, 0, 0));
	PQclear(r);
	return 0;
}

/* The sender's history and the thread's state into x->ctx. */
static int
triage_db_context(PGconn *c, struct arena *a, const char *user, struct triage_db_msg *x,
    char *err, size_t errlen)
{
	PGresult *r;
	const char *sender = x->m.from.n > 0 ? x->m.from.v[0].address : "";

	if (triage_db_self(c, a, user, x, err, errlen) != 0)
		return -1;
	if (*sender != '\0') {
		char *low = arena_strdup(a, sender);
		const char *p[4];

		for (char *s = low; *s != '\0'; s++)
			*s = (char)(*s >= 'A' && *s <= 'Z' ? *s + 32 : *s);
		p[0] = user;
		p[1] = low;
		p[2] = x->row;
		p[3] = x->date;
		if ((r = triage_db_sql(c, triage_db_sql_history, 4, p, err, errlen)) == NULL)
			return -1;
		x->ctx.history = 1;
		x->ctx.from_sender = strtol(PQgetvalue(r, 0, 0), NULL, 10);
		x->ctx.to_sender = strtol(PQgetvalue(r, 0, 1), NULL, 10);
		x->ctx.sender_corrections = strtol(PQgetvalue(r, 0, 2), NULL, 10);
		PQclear(r);
	}
	if (x->thread[0] != '\0') {
		const char *p[5] = { user, x->thread, x->date, x->row, x->in_reply_to };

		if ((r = triage_db_sql(c, triage_db_sql_thread, 5, p, err, errlen)) == NULL)
			return -1;
		x->ctx.thread = 1;
		x->ctx.user_replied_after = PQgetvalue(r, 0, 0)[0] == 't';
		x->ctx.answered_after = PQgetvalue(r, 0, 1)[0] == 't';
		x->ctx.user_in_thread = PQgetvalue(r, 0, 2)[0] == 't';
		x->ctx.answers_user = PQgetvalue(r, 0, 3)[0] == 't';
		PQclear(r);
	} else if (x->in_reply_to != NULL) {
		/* No thread stored: does it answer a message of the user's all the same? */
		const char *p[2] = { user, x->in_reply_to };

		if ((r = triage_db_sql(c, "SELECT 1 FROM mail_messages WHERE user_id = $1 AND "
		    "message_id = $2 AND direction = 'sent' LIMIT 1", 2, p, err, errlen)) == NULL)
			return -1;
		x->ctx.thread = 1;
		x->ctx.answers_user = PQntuples(r) > 0;
		PQclear(r);
	}
	return 0;
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
		if (i > 0)
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

/* The features of x, copied (the classifier's are overwritten by the next message). */
static size_t
triage_db_features(struct triage_classifier *tc, struct arena *a, struct triage_db_msg *x,
    const char ***out)
{
	const char **f, **copy;
	size_t n = triage_features(tc, &x->m, &x->ctx, &f);

	copy = arena_calloc(a, n + 1, sizeof *copy);
	for (size_t i = 0; i < n; i++)
		copy[i] = arena_strdup(a, f[i]);
	*out = copy;
	return n;
}

/* The user's model, restricted to the features of the message: the counts of its
 * categories that still exist. */
static int
triage_db_user_model(PGconn *c, struct triage_classifier *tc, struct arena *a,
    const char *user, struct triage_db_msg *x, char *err, size_t errlen)
{
	const char **features;
	size_t n = triage_db_features(tc, a, x, &features);
	const char *p[2] = { user, NULL };
	PGresult *r;
	struct triage_model *m;

	if ((r = triage_db_sql(c, "SELECT t.category, t.documents, t.features "
	    "FROM triage_totals t JOIN categories k ON k.user_id = t.user_id "
	    "AND k.slug = t.category WHERE t.user_id = $1 AND t.documents > 0 "
	    "ORDER BY t.category", 1, p, err, errlen)) == NULL)
		return -1;
	if (PQntuples(r) == 0) {
		PQclear(r);
		return 0;
	}
	m = triage_model_new();
	for (int i = 0; i < PQntuples(r); i++)
		triage_model_add_docs(m, PQgetvalue(r, i, 0), strtod(PQgetvalue(r, i, 1), NULL),
		    strtod(PQgetvalue(r, i, 2), NULL));
	PQclear(r);
	p[1] = triage_db_array(a, features, n);
	if ((r = triage_db_sql(c, "SELECT feature, category, count FROM triage_features "
	    "WHERE user_id = $1 AND feature = ANY($2::text[]) ORDER BY feature, category", 2, p,
	    err, errlen)) == NULL) {
		triage_model_free(m);
		return -1;
	}
	for (int i = 0; i < PQntuples(r); i++) {
		/* Only the categories with totals: a deleted category's counts stay out. */
		if (triage_model_find_class(m, PQgetvalue(r, i, 1)) >= 0)
			triage_model_add(m, PQgetvalue(r, i, 0), PQgetvalue(r, i, 1),
			    strtod(PQgetvalue(r, i, 2), NULL));
	}
	PQclear(r);
	x->user_model = m;
	x->ctx.user_model = m;
	return 0;
}

/* The category the user gave the sender (or its domain) for good. 1 with it in out, 0
 * when none (or the sender is only allowed through the screen), -1 on an error. */
static int
triage_db_sender_category(PGconn *c, struct arena *a, const char *user,
    const struct triage_db_msg *x, char *out, size_t outlen, char *err, size_t errlen)
{
	const char *sender = x->m.from.n > 0 ? x->m.from.v[0].address : "";
	const char *at = strrchr(sender, '@');
	const char *p[4];
	PGresult *r;
	int found = 0;

	if (*sender == '\0')
		return 0;
	p[0] = user;
	p[1] = sender;
	p[2] = at != NULL ? at + 1 : "";
	p[3] = at != NULL ? arena_printf(a, "@%s", at + 1) : "";
	if ((r = triage_db_sql(c, "SELECT category FROM sender_categories WHERE user_id = $1 "
	    "AND sender IN ($2, $3, $4) ORDER BY sender = $2 DESC, sender = $4 DESC LIMIT 1", 4,
	    p, err, errlen)) == NULL)
		return -1;
	if (PQntuples(r) == 1 && !PQgetisnull(r, 0, 0) &&
	    triage_slug_valid(PQgetvalue(r, 0, 0))) {
		snprintf(out, outlen, "%s", PQgetvalue(r, 0, 0));
		found = 1;
	}
	PQclear(r);
	return found;
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

/* The first of the user's rules that holds for the message: 1 with the decision in d, 0
 * when none decides a category, -1 on an error. */
static int
triage_db_rules(PGconn *c, struct arena *a, int64_t user_id, const struct triage_db_msg *x,
    struct triage_decision *d, char *err, size_t errlen)
{
	struct rule_set *set = NULL;
	const struct rule *r;
	struct rule_msg rm;
	struct rule_addr *to, *cc;
	char *cond;

	if (rules_load(c, user_id, &set, err, errlen) != 0)
		return -1;
	if (set->n == 0) {
		rules_set_free(set);
		return 0;
	}
	to = arena_calloc(a, x->m.to.n + 1, sizeof *to);
	cc = arena_calloc(a, x->m.cc.n + 1, sizeof *cc);
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
	r = rules_first_match(set, &rm);
	if (r == NULL || r->category == NULL || !triage_slug_valid(r->category)) {
		rules_set_free(set);
		return 0;
	}
	snprintf(d->category, sizeof d->category, "%s", r->category);
	d->confidence = 1;
	d->source = TRIAGE_SOURCE_RULE;
	d->rule_id = r->id;
	cond = r->nconditions > 0 ? rules_condition_text(&r->conditions[0]) : NULL;
	snprintf(d->reasons[0].text, sizeof d->reasons[0].text, "Your rule '%.80s'%s%.100s",
	    r->name, cond != NULL ? ": " : "", cond != NULL ? cond : "");
	free(cond);
	d->reasons[0].signal = "rule";
	d->reasons[0].weight = 1;
	d->n_reasons = 1;
	rules_set_free(set);
	return 1;
}

/* rules > the sender's category > the classifier, with the user's model. */
static int
triage_db_decide(PGconn *c, struct arena *a, const char *user, int64_t user_id,
    struct triage_db_msg *x, struct triage_decision *d, char *err, size_t errlen)
{
	struct triage_classifier *tc = triage_db_classifier();
	char cat[TRIAGE_SLUG_SIZE];
	int rc;

	memset(d, 0, sizeof *d);
	if (user_id != 0 && (rc = triage_db_rules(c, a, user_id, x, d, err, errlen)) != 0)
		return rc < 0 ? -1 : 0;
	if (user_id != 0) {
		if ((rc = triage_db_sender_category(c, a, user, x, cat, sizeof cat, err,
		    errlen)) < 0)
			return -1;
		if (rc > 0) {
			snprintf(d->category, sizeof d->category, "%s", cat);
			d->confidence = 1;
			d->source = TRIAGE_SOURCE_SENDER;
			snprintf(d->reasons[0].text, sizeof d->reasons[0].text,
			    "You put all mail from this sender in '%s'", cat);
			d->reasons[0].signal = "sender-category";
			d->reasons[0].weight = 1;
			d->n_reasons = 1;
			return 0;
		}
		if (triage_db_user_model(c, tc, a, user, x, err, errlen) != 0)
			return -1;
	}
	triage_classify(tc, &x->m, &x->ctx, d);
	return 0;
}

static const char triage_db_sql_store[] =
	"WITH u AS (UPDATE mail_messages SET category = $3, category_confidence = $4, "
	"category_source = $5, category_reasons = $6::jsonb, category_rule_id = $7, "
	"triaged_at = now() WHERE id = $1 AND user_id = $2 "
	"RETURNING thread_id, coalesce(sent_at, received_at) AS d), "
	/* The thread shows the category of its latest message. */
	"th AS (UPDATE mail_threads t SET category = $3 FROM u WHERE t.id = u.thread_id "
	"AND t.user_id = $2 AND NOT EXISTS (SELECT 1 FROM mail_messages x "
	"WHERE x.thread_id = u.thread_id AND x.user_id = $2 AND x.id <> $1 "
	"AND coalesce(x.sent_at, x.received_at) > u.d)) "
	"SELECT count(*) FROM u";

static int
triage_db_store(PGconn *c, const char *row, const char *user,
    const struct triage_decision *d, char *err, size_t errlen)
{
	char conf[32], rule[24];
	json_t *reasons = triage_reasons_json(d);
	char *rj = reasons != NULL ? json_dumps(reasons, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
	const char *p[7];
	PGresult *r;
	int rc = -1;

	json_decref(reasons);
	if (rj == NULL)
		fatal("out of memory");
	snprintf(conf, sizeof conf, "%.4f", d->confidence);
	snprintf(rule, sizeof rule, "%" PRId64, d->rule_id);
	p[0] = row;
	p[1] = user;
	p[2] = d->category;
	p[3] = conf;
	p[4] = d->source;
	p[5] = rj;
	p[6] = d->rule_id != 0 ? rule : NULL;
	if ((r = triage_db_sql(c, triage_db_sql_store, 7, p, err, errlen)) != NULL) {
		rc = strcmp(PQgetvalue(r, 0, 0), "1") == 0 ? 0 : -1;
		if (rc != 0)
			snprintf(err, errlen, "triage: message %s is not the user's", row);
		PQclear(r);
	}
	free(rj);
	return rc;
}

int
triage_db_classify(PGconn *c, int64_t user_id, int64_t row, struct triage_decision *out,
    char *err, size_t errlen)
{
	struct triage_db_msg x;
	struct triage_decision d;
	int rc = -1;

	triage_db_msg_init(&x, user_id);
	if (triage_db_load(c, x.a, x.user, row, &x, err, errlen) != 0 ||
	    triage_db_context(c, x.a, x.user, &x, err, errlen) != 0 ||
	    triage_db_decide(c, x.a, x.user, user_id, &x, &d, err, errlen) != 0 ||
	    triage_db_store(c, x.row, x.user, &d, err, errlen) != 0)
		goto done;
	if (out != NULL)
		*out = d;
	rc = 0;
done:
	triage_db_msg_clear(&x);
	return rc;
}

int
triage_db_explain(PGconn *c, int64_t user_id, const struct mime_message *mm,
    struct triage_decision *out, char *err, size_t errlen)
{
	struct triage_db_msg x;
	int rc = -1;

	triage_db_msg_init(&x, user_id);
	snprintf(x.date, sizeof x.date, "%" PRId64, mm->date != 0 ? mm->date :
	    util_wall_us() / 1000000);
	triage_message_from_mime(&x.m, mm, NULL);
	x.in_reply_to = mm->in_reply_to;
	if (user_id != 0) {
		if (triage_db_thread_of(c, x.a, x.user, mm, &x, err, errlen) != 0 ||
		    triage_db_context(c, x.a, x.user, &x, err, errlen) != 0)
			goto done;
		/* Now that the user's addresses are known: is it their own? */
		for (size_t i = 0; x.m.from.n > 0 && x.self[i] != NULL; i++) {
			if (strcasecmp(x.self[i], x.m.from.v[0].address) == 0)
				x.m.sent = 1;
		}
	}
	if (triage_db_decide(c, x.a, x.user, user_id, &x, out, err, errlen) != 0)
		goto done;
	rc = 0;
done:
	triage_db_msg_clear(&x);
	return rc;
}

int
triage_db_pending(PGconn *c, int64_t user_id, long limit, long *done, char *err,
    size_t errlen)
{
	char user[24], lim[24];
	const char *p[2] = { user, lim };
	PGresult *r, *b;
	int rc = 0, own = 0;

	*done = 0;
	snprintf(user, sizeof user, "%" PRId64, user_id);
	snprintf(lim, sizeof lim, "%ld", limit);
	r = triage_db_sql(c, user_id != 0 ?
	    "SELECT id, user_id FROM mail_messages WHERE user_id = $1 AND triaged_at IS NULL "
	    "ORDER BY id LIMIT $2" :
	    "SELECT id, user_id FROM mail_messages WHERE triaged_at IS NULL AND $1::bigint = 0 "
	    "ORDER BY id LIMIT $2", 2, p, err, errlen);
	if (r == NULL)
		return -1;
	/* One transaction for the batch: a commit per message waits for the disk each time. */
	if (PQtransactionStatus(c) == PQTRANS_IDLE) {
		if ((b = triage_db_sql(c, "BEGIN", 0, NULL, err, errlen)) == NULL) {
			PQclear(r);
			return -1;
		}
		PQclear(b);
		own = 1;
	}
	for (int i = 0; i < PQntuples(r); i++) {
		int64_t row = strtoll(PQgetvalue(r, i, 0), NULL, 10);
		int64_t uid = strtoll(PQgetvalue(r, i, 1), NULL, 10);

		if (triage_db_classify(c, uid, row, NULL, err, errlen) != 0) {
			rc = -1;
			break;
		}
		(*done)++;
	}
	PQclear(r);
	if (own && rc == 0 && (b = triage_db_sql(c, "COMMIT", 0, NULL, err, errlen)) != NULL)
		PQclear(b);
	else if (own) {
		PQclear(PQexec(c, "ROLLBACK"));
		*done = 0;
		rc = -1;
	}
	return rc;
}

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
	struct triage_db_msg x;
	const char **features;
	const char *p[4];
	char nf[24];
	size_t n;
	PGresult *r;
	int own = 0, rc = -1;

	triage_db_msg_init(&x, user_id);
	if (!triage_slug_valid(to)) {
		snprintf(err, errlen, "triage: not a category: %s", to != NULL ? to : "(none)");
		goto done;
	}
	p[0] = x.user;
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
	if (triage_db_load(c, x.a, x.user, row, &x, err, errlen) != 0 ||
	    triage_db_context(c, x.a, x.user, &x, err, errlen) != 0)
		goto done;
	n = triage_db_features(triage_db_classifier(), x.a, &x, &features);
	snprintf(nf, sizeof nf, "%zu", n);
	p[2] = triage_db_array(x.a, features, n);
	p[3] = nf;

	if (PQtransactionStatus(c) == PQTRANS_IDLE) {
		if ((r = triage_db_sql(c, "BEGIN", 0, NULL, err, errlen)) == NULL)
			goto done;
		PQclear(r);
		own = 1;
	}
	if ((r = triage_db_sql(c, triage_db_sql_learn_to, 4, p, err, errlen)) == NULL)
		goto rollback;
	PQclear(r);
	if (from != NULL && *from != '\0' && strcmp(from, to) != 0) {
		p[1] = from;
		if ((r = triage_db_sql(c, triage_db_sql_learn_from, 3, p, err, errlen)) == NULL)
			goto rollback;
		PQclear(r);
	}
	if (own) {
		if ((r = triage_db_sql(c, "COMMIT", 0, NULL, err, errlen)) == NULL)
			goto done;
		PQclear(r);
	}
	rc = 0;
	goto done;
rollback:
	if (own)
		PQclear(PQexec(c, "ROLLBACK"));
done:
	triage_db_msg_clear(&x);
	return rc;
}
