/* ingest.c: one raw message into the store (ingest.h). Plain libpq with $n parameters:
 * arrays and records go in as JSON (jansson) and are unpacked by the database, so that no
 * value is ever spliced into SQL text. */
#include "config.h"

#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <jansson.h>
#include <libpq-fe.h>

#include "ingest.h"
#include "mime.h"
#include "thread.h"
#include "util.h"

#define INGEST_STR2(x) #x
#define INGEST_STR(x) INGEST_STR2(x)

/* Subject candidates find_by_subject proposes, and the latest messages of each whose
 * people are compared. */
#define INGEST_SUBJECT_CANDIDATES 5
#define INGEST_SUBJECT_MESSAGES 20
/* Threads that name a late parent, at most. */
#define INGEST_MERGE_MAX 1000

struct ingest_ctx {
	PGconn *c;
	char user[24], account[24];
	char err[512];
	int failed;
	/* find_by_subject's answer, kept until the next call. */
	PGresult *subj_res;
	struct thread_candidate *cands;
	const char **addrs;
};

/* Runs sql; returns the result when it succeeded, else NULL with the database's message
 * in err. */
static PGresult *
ingest_sql(PGconn *c, const char *sql, int n, const char *const *params, char *err,
    size_t errlen)
{
	PGresult *r = PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);
	ExecStatusType st = PQresultStatus(r);
	const char *msg;
	size_t len;

	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
		return r;
	msg = PQresultErrorMessage(r);
	if (msg == NULL || *msg == '\0')
		msg = PQerrorMessage(c);
	len = strlen(msg);
	while (len > 0 && (msg[len - 1] == '\n' || msg[len - 1] == ' '))
		len--;
	snprintf(err, errlen, "ingest: database: %.*s", (int)len, msg);
	PQclear(r);
	return NULL;
}

static int
ingest_run(PGconn *c, const char *sql, int n, const char *const *params, char *err,
    size_t errlen)
{
	PGresult *r = ingest_sql(c, sql, n, params, err, errlen);

	if (r == NULL)
		return -1;
	PQclear(r);
	return 0;
}

static int64_t
ingest_int64(const char *s)
{
	return (int64_t)strtoll(s, NULL, 10);
}

/* --- Threading callbacks ----------------------------------------------------------- */

static int64_t
ingest_find_by_message_id(void *arg, const char *message_id)
{
	struct ingest_ctx *x = arg;
	const char *p[3] = { x->account, x->user, message_id };
	PGresult *r;
	int64_t t = 0;

	if (x->failed)
		return 0;
	r = ingest_sql(x->c, "SELECT thread_id FROM mail_messages WHERE account_id = $1 "
	    "AND user_id = $2 AND message_id = $3 AND thread_id IS NOT NULL", 3, p, x->err,
	    sizeof x->err);
	if (r == NULL) {
		x->failed = 1;
		return 0;
	}
	if (PQntuples(r) > 0)
		t = ingest_int64(PQgetvalue(r, 0, 0));
	PQclear(r);
	return t;
}

static void
ingest_subject_clear(struct ingest_ctx *x)
{
	PQclear(x->subj_res);
	x->subj_res = NULL;
	free(x->cands);
	x->cands = NULL;
	free(x->addrs);
	x->addrs = NULL;
}

/* One row per (candidate thread, address of its latest messages), threads newest first. */
static const char ingest_sql_subject[] =
	"WITH t AS (SELECT id, last_date FROM mail_threads WHERE account_id = $1 "
	"AND user_id = $2 AND subject_key = $3 "
	"AND last_date BETWEEN to_timestamp($4::bigint) AND to_timestamp($5::bigint) "
	"ORDER BY last_date DESC, id LIMIT " INGEST_STR(INGEST_SUBJECT_CANDIDATES) ") "
	"SELECT t.id, extract(epoch FROM t.last_date)::bigint, p.addr FROM t "
	"LEFT JOIN LATERAL (SELECT DISTINCT lower(e->>'address') AS addr FROM "
	"(SELECT from_addr, to_addr, cc_addr FROM mail_messages m WHERE m.thread_id = t.id "
	"AND m.account_id = $1 AND m.user_id = $2 ORDER BY m.sent_at DESC NULLS LAST "
	"LIMIT " INGEST_STR(INGEST_SUBJECT_MESSAGES) ") mm, "
	"jsonb_array_elements(mm.from_addr || mm.to_addr || mm.cc_addr) e "
	"WHERE coalesce(e->>'address', '') <> '') p ON true "
	"ORDER BY t.last_date DESC, t.id, p.addr";

static size_t
ingest_find_by_subject(void *arg, const char *key, int64_t since, int64_t until,
    const struct thread_candidate **out)
{
	struct ingest_ctx *x = arg;
	char s_since[24], s_until[24];
	const char *p[5] = { x->account, x->user, key, s_since, s_until };
	int rows, i;
	size_t n = 0, na = 0;

	*out = NULL;
	ingest_subject_clear(x);
	if (x->failed)
		return 0;
	snprintf(s_since, sizeof s_since, "%" PRId64, since);
	snprintf(s_until, sizeof s_until, "%" PRId64, until);
	x->subj_res = ingest_sql(x->c, ingest_sql_subject, 5, p, x->err, sizeof x->err);
	if (x->subj_res == NULL) {
		x->failed = 1;
		return 0;
	}
	rows = PQntuples(x->subj_res);
	if (rows == 0)
		return 0;
	x->cands = xcalloc((size_t)rows, sizeof(*x->cands));
	x->addrs = xcalloc((size_t)rows, sizeof(*x->addrs));
	for (i = 0; i < rows; i++) {
		int64_t id = ingest_int64(PQgetvalue(x->subj_res, i, 0));
		struct thread_candidate *cand;

		if (n == 0 || x->cands[n - 1].thread_id != id) {
			cand = &x->cands[n++];
			cand->thread_id = id;
			cand->last_date = ingest_int64(PQgetvalue(x->subj_res, i, 1));
			cand->participants = &x->addrs[na];
			cand->nparticipants = 0;
		}
		cand = &x->cands[n - 1];
		if (!PQgetisnull(x->subj_res, i, 2)) {
			x->addrs[na++] = PQgetvalue(x->subj_res, i, 2);
			cand->nparticipants++;
		}
	}
	*out = x->cands;
	return n;
}

/* --- The message's values ---------------------------------------------------------- */

static json_t *
ingest_addresses(const struct mime_address_list *l)
{
	json_t *a = json_array();

	for (size_t i = 0; i < l->n; i++) {
		json_array_append_new(a, json_pack("{s:s, s:s}", "name", l->v[i].name,
		    "address", l->v[i].address));
	}
	return a;
}

static char *
ingest_dump(json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT | JSON_ENSURE_ASCII);

	json_decref(j);
	if (s == NULL)
		fatal("out of memory");
	return s;
}

static json_t *
ingest_string_array(const char *const *v, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

static int
ingest_is_self(const struct mime_message *m, const char *const *self)
{
	if (self == NULL)
		return 0;
	for (size_t i = 0; i < m->from.n; i++) {
		for (size_t k = 0; self[k] != NULL; k++) {
			if (*m->from.v[i].address != '\0' &&
			    util_strcaseeq(m->from.v[i].address, self[k]))
				return 1;
		}
	}
	return 0;
}

/* The names and addresses of From, To and Cc, space-separated, for the search vector. */
static char *
ingest_people_text(const struct mime_message *m)
{
	const struct mime_address_list *lists[] = { &m->from, &m->to, &m->cc };
	size_t len = 1, i, k;
	char *s, *p;

	for (i = 0; i < MR_ARRAY_LEN(lists); i++) {
		for (k = 0; k < lists[i]->n; k++)
			len += strlen(lists[i]->v[k].name) + strlen(lists[i]->v[k].address) + 2;
	}
	p = s = xmalloc(len);
	for (i = 0; i < MR_ARRAY_LEN(lists); i++) {
		for (k = 0; k < lists[i]->n; k++) {
			p += sprintf(p, "%s %s ", lists[i]->v[k].name, lists[i]->v[k].address);
		}
	}
	*p = '\0';
	return s;
}

/* --- Storing ----------------------------------------------------------------------- */

/* $1 user, $2 account, $3 folder, $4 thread, $5 uid, $6 message_id, $7 in_reply_to,
 * $8 refs (JSON), $9 from, $10 to, $11 cc, $12 reply_to, $13 subject, $14 sent_at (epoch
 * or NULL), $15 received_at (epoch or NULL), $16 size, $17 flags (JSON), $18 headers,
 * $19 body_text, $20 body_html, $21 snippet, $22 direction, $23 has_attachments,
 * $24 has_calendar, $25 calendar, $26 parse_warnings (JSON), $27 people (search).
 * from_text and to_text, for the search operators from: and to:, are made of $9 and
 * $10 || $11 by sql/0005_search_people.up.sql's mail_people_text. */
static const char ingest_sql_insert[] =
	"INSERT INTO mail_messages (user_id, account_id, folder_id, thread_id, uid, "
	"message_id, in_reply_to, refs, from_addr, to_addr, cc_addr, reply_to, subject, "
	"sent_at, received_at, size, flags, headers, body_text, body_html, snippet, direction, "
	"has_attachments, has_calendar, calendar, parse_warnings, search, from_text, to_text) "
	"VALUES ("
	"$1, $2, $3::bigint, $4, $5::bigint, $6, $7, "
	"ARRAY(SELECT jsonb_array_elements_text($8::jsonb)), $9::jsonb, $10::jsonb, "
	"$11::jsonb, $12::jsonb, $13, to_timestamp($14::bigint), "
	"coalesce(to_timestamp($15::bigint), to_timestamp($14::bigint), now()), $16, "
	"ARRAY(SELECT jsonb_array_elements_text($17::jsonb)), $18::jsonb, $19, $20, $21, $22, "
	"$23, $24, $25, ARRAY(SELECT jsonb_array_elements_text($26::jsonb)), "
	"setweight(to_tsvector('simple', $13), 'A') || "
	"setweight(to_tsvector('simple', $27), 'B') || "
	"setweight(to_tsvector('simple', left($19, " INGEST_STR(INGEST_SEARCH_BODY_CHARS) ")), "
	"'C'), mail_people_text($9::jsonb), mail_people_text($10::jsonb || $11::jsonb)) "
	"ON CONFLICT (account_id, message_id) DO NOTHING RETURNING id";

static const char ingest_sql_attachments[] =
	"INSERT INTO mail_attachments (message_id, user_id, filename, content_type, size, "
	"content_id, part, inline) SELECT $1, $2, left(x.filename, 1000), x.content_type, "
	"x.size, x.content_id, x.part, x.inline FROM jsonb_to_recordset($3::jsonb) AS "
	"x(filename text, content_type text, size integer, content_id text, part text, "
	"inline boolean)";

static const char ingest_sql_thread_stats[] =
	"UPDATE mail_threads SET "
	"first_date = (SELECT min(coalesce(sent_at, received_at)) FROM mail_messages "
	"WHERE thread_id = $1 AND user_id = $3), "
	"last_date = (SELECT max(coalesce(sent_at, received_at)) FROM mail_messages "
	"WHERE thread_id = $1 AND user_id = $3), "
	"message_count = (SELECT count(*) FROM mail_messages WHERE thread_id = $1 "
	"AND user_id = $3), "
	/* The subject of its first message: a late root names the thread it joins. */
	"subject = coalesce((SELECT subject FROM mail_messages WHERE thread_id = $1 "
	"AND user_id = $3 ORDER BY coalesce(sent_at, received_at), id LIMIT 1), subject) "
	"WHERE id = $1 AND account_id = $2 AND user_id = $3";

struct ingest_msg {
	struct mime_message *m;
	int64_t date;               /* for threading: Date, else internal date, else now */
	const char **participants;
	size_t nparticipants;
	const char **refs;          /* References, then In-Reply-To when not among them */
	size_t nrefs;
};

static void
ingest_msg_prepare(struct ingest_msg *im, struct mime_message *m, int64_t internal_date)
{
	const struct mime_address_list *lists[] = { &m->from, &m->to, &m->cc };
	size_t i, k, n = 0;
	int found = 0;

	im->m = m;
	im->date = m->date != 0 ? m->date : internal_date != 0 ? internal_date :
	    (int64_t)time(NULL);
	for (i = 0; i < MR_ARRAY_LEN(lists); i++)
		n += lists[i]->n;
	im->participants = xcalloc(n + 1, sizeof(char *));
	im->nparticipants = 0;
	for (i = 0; i < MR_ARRAY_LEN(lists); i++) {
		for (k = 0; k < lists[i]->n; k++) {
			if (*lists[i]->v[k].address != '\0')
				im->participants[im->nparticipants++] = lists[i]->v[k].address;
		}
	}
	im->refs = xcalloc(m->n_references + 2, sizeof(char *));
	im->nrefs = 0;
	for (i = 0; i < m->n_references; i++) {
		im->refs[im->nrefs++] = m->references[i];
		if (m->in_reply_to != NULL && strcmp(m->references[i], m->in_reply_to) == 0)
			found = 1;
	}
	if (m->in_reply_to != NULL && !found)
		im->refs[im->nrefs++] = m->in_reply_to;
}

static void
ingest_msg_free(struct ingest_msg *im)
{
	free(im->participants);
	free(im->refs);
}

/* The body of ingest_message, inside its transaction or savepoint. Returns 0 or -1. */
static int
ingest_store(PGconn *c, int64_t user_id, int64_t account_id, int64_t folder_id,
    uint32_t uid, const char *raw, size_t len, const char *const *flags,
    int64_t internal_date, const char *const *self_addresses, int *inserted, int64_t *row,
    char *err, size_t errlen)
{
	struct ingest_ctx x;
	struct thread_lookup lookup;
	struct thread_message tm;
	struct ingest_msg im;
	struct mime_message *m = NULL;
	char s_user[24], s_account[24], s_folder[24], s_thread[24], s_uid[24], s_sent[24],
	    s_recv[24], s_size[24], s_msg[24], key[THREAD_KEY_SIZE];
	char *j_refs = NULL, *j_from = NULL, *j_to = NULL, *j_cc = NULL, *j_reply = NULL,
	    *j_flags = NULL, *j_headers = NULL, *j_warn = NULL, *j_att = NULL, *people = NULL,
	    *merge_list = NULL;
	const char *irt[1];
	int64_t thread_id, children[INGEST_MERGE_MAX], merge[INGEST_MERGE_MAX], into;
	size_t nchildren = 0, nmerge = 0, nflags = 0, i;
	int has_att = 0, rc = -1;
	PGresult *r = NULL;

	memset(&x, 0, sizeof x);
	memset(&im, 0, sizeof im);
	x.c = c;
	snprintf(s_user, sizeof s_user, "%" PRId64, user_id);
	snprintf(s_account, sizeof s_account, "%" PRId64, account_id);
	memcpy(x.user, s_user, sizeof x.user);
	memcpy(x.account, s_account, sizeof x.account);

	/* The account is the user's; its threading is serialised. */
	{
		const char *p[2] = { s_account, s_user };

		r = ingest_sql(c, "SELECT pg_advisory_xact_lock(id) FROM mail_accounts "
		    "WHERE id = $1 AND user_id = $2", 2, p, err, errlen);
		if (r == NULL)
			goto out;
		if (PQntuples(r) != 1) {
			snprintf(err, errlen, "ingest: no account %" PRId64 " of user %" PRId64,
			    account_id, user_id);
			goto out;
		}
		PQclear(r);
		r = NULL;
	}
	if (folder_id != 0) {
		const char *p[3];

		snprintf(s_folder, sizeof s_folder, "%" PRId64, folder_id);
		p[0] = s_folder;
		p[1] = s_account;
		p[2] = s_user;
		r = ingest_sql(c, "SELECT 1 FROM mail_folders WHERE id = $1 AND account_id = $2 "
		    "AND user_id = $3", 3, p, err, errlen);
		if (r == NULL)
			goto out;
		if (PQntuples(r) != 1) {
			snprintf(err, errlen, "ingest: no folder %" PRId64 " in account %" PRId64,
			    folder_id, account_id);
			goto out;
		}
		PQclear(r);
		r = NULL;
	}

	if (mime_parse(raw, len, &m) != 0) {
		snprintf(err, errlen, "ingest: out of memory parsing the message");
		goto out;
	}

	/* Already stored: nothing to do (the lock makes this answer final). */
	{
		const char *p[3] = { s_account, s_user, m->message_id };

		r = ingest_sql(c, "SELECT id FROM mail_messages WHERE account_id = $1 "
		    "AND user_id = $2 AND message_id = $3", 3, p, err, errlen);
		if (r == NULL)
			goto out;
		if (PQntuples(r) > 0) {
			*row = ingest_int64(PQgetvalue(r, 0, 0));
			*inserted = 0;
			rc = 0;
			goto out;
		}
		PQclear(r);
		r = NULL;
	}

	/* The thread. */
	ingest_msg_prepare(&im, m, internal_date);
	memset(&tm, 0, sizeof tm);
	tm.message_id = m->message_id;
	if (m->in_reply_to != NULL) {
		irt[0] = m->in_reply_to;
		tm.in_reply_to = irt;
		tm.nin_reply_to = 1;
	}
	tm.references = m->references;
	tm.nreferences = m->n_references;
	tm.subject = m->subject;
	tm.date = im.date;
	tm.participants = im.participants;
	tm.nparticipants = im.nparticipants;
	lookup.ctx = &x;
	lookup.find_by_message_id = ingest_find_by_message_id;
	lookup.find_by_subject = ingest_find_by_subject;
	thread_id = thread_decide(&tm, &lookup, NULL);
	ingest_subject_clear(&x);
	if (x.failed) {
		snprintf(err, errlen, "%s", x.err);
		goto out;
	}

	/* Late parent: the threads of stored messages that name this one. refs holds the
	 * In-Reply-To id too (ingest_msg_prepare), so that the GIN index answers alone. */
	if (!m->message_id_synthetic) {
		const char *p[3] = { s_account, s_user, m->message_id };
		int rows;

		r = ingest_sql(c, "SELECT DISTINCT thread_id FROM mail_messages "
		    "WHERE account_id = $1 AND user_id = $2 AND thread_id IS NOT NULL "
		    "AND refs @> ARRAY[$3]::text[] "
		    "ORDER BY thread_id LIMIT " INGEST_STR(INGEST_MERGE_MAX), 3, p, err, errlen);
		if (r == NULL)
			goto out;
		rows = PQntuples(r);
		for (int k = 0; k < rows; k++)
			children[nchildren++] = ingest_int64(PQgetvalue(r, k, 0));
		PQclear(r);
		r = NULL;
	}
	into = thread_merge_plan(thread_id, children, nchildren, merge, &nmerge);
	if (into != 0)
		thread_id = into;

	if (thread_id == 0) {
		const char *p[4] = { s_user, s_account, m->subject, key };

		thread_subject_key(m->subject, key, sizeof key);
		r = ingest_sql(c, "INSERT INTO mail_threads (user_id, account_id, subject, "
		    "subject_key) VALUES ($1, $2, $3, $4) RETURNING id", 4, p, err, errlen);
		if (r == NULL)
			goto out;
		thread_id = ingest_int64(PQgetvalue(r, 0, 0));
		PQclear(r);
		r = NULL;
	}
	snprintf(s_thread, sizeof s_thread, "%" PRId64, thread_id);

	/* The message. */
	if (uid != 0)
		snprintf(s_uid, sizeof s_uid, "%" PRIu32, uid);
	if (m->date != 0)
		snprintf(s_sent, sizeof s_sent, "%" PRId64, m->date);
	if (internal_date != 0)
		snprintf(s_recv, sizeof s_recv, "%" PRId64, internal_date);
	snprintf(s_size, sizeof s_size, "%zu", len > INT_MAX ? (size_t)INT_MAX : len);
	while (flags != NULL && flags[nflags] != NULL)
		nflags++;
	j_refs = ingest_dump(ingest_string_array(im.refs, im.nrefs));
	j_from = ingest_dump(ingest_addresses(&m->from));
	j_to = ingest_dump(ingest_addresses(&m->to));
	j_cc = ingest_dump(ingest_addresses(&m->cc));
	j_reply = ingest_dump(ingest_addresses(&m->reply_to));
	j_flags = ingest_dump(ingest_string_array(flags, nflags));
	j_headers = json_dumps(m->headers, JSON_COMPACT | JSON_ENSURE_ASCII);
	if (j_headers == NULL)
		fatal("out of memory");
	j_warn = ingest_dump(ingest_string_array(m->warnings, m->n_warnings));
	people = ingest_people_text(m);
	for (i = 0; i < m->n_attachments; i++) {
		if (!m->attachments[i].is_inline)
			has_att = 1;
	}
	{
		const char *p[27] = {
			s_user, s_account, folder_id != 0 ? s_folder : NULL, s_thread,
			uid != 0 ? s_uid : NULL, m->message_id, m->in_reply_to, j_refs, j_from,
			j_to, j_cc, j_reply, m->subject, m->date != 0 ? s_sent : NULL,
			internal_date != 0 ? s_recv : NULL, s_size, j_flags, j_headers, m->text,
			m->html, m->snippet,
			ingest_is_self(m, self_addresses) ? "sent" : "received",
			has_att ? "true" : "false", m->calendar != NULL ? "true" : "false",
			m->calendar, j_warn, people,
		};

		r = ingest_sql(c, ingest_sql_insert, 27, p, err, errlen);
		if (r == NULL)
			goto out;
		if (PQntuples(r) == 0) {
			/* Stored meanwhile by a writer that does not take the lock: the caller
			 * rolls back the thread made for it. */
			*inserted = 0;
			rc = 1;
			goto out;
		}
		snprintf(s_msg, sizeof s_msg, "%s", PQgetvalue(r, 0, 0));
		*row = ingest_int64(s_msg);
		PQclear(r);
		r = NULL;
	}

	/* Where it is: the folder copy it came from (sql/0004_sync.up.sql). */
	if (folder_id != 0 && uid != 0) {
		const char *p[2] = { s_msg, s_user };

		if (ingest_run(c, "INSERT INTO mail_locations (folder_id, uid, message_id, "
		    "user_id, flags) SELECT folder_id, uid, id, user_id, flags FROM mail_messages "
		    "WHERE id = $1 AND user_id = $2 ON CONFLICT (folder_id, uid) DO NOTHING", 2, p,
		    err, errlen) != 0)
			goto out;
	}

	/* Its attachments. */
	if (m->n_attachments > 0) {
		json_t *a = json_array();
		const char *p[3] = { s_msg, s_user, NULL };

		for (i = 0; i < m->n_attachments; i++) {
			const struct mime_attachment *at = &m->attachments[i];

			json_array_append_new(a, json_pack("{s:s, s:s, s:I, s:o, s:s, s:b}",
			    "filename", at->filename, "content_type", at->content_type,
			    "size", (json_int_t)(at->size > INT_MAX ? INT_MAX : at->size),
			    "content_id", at->content_id != NULL ? json_string(at->content_id) :
			    json_null(), "part", at->part, "inline", at->is_inline != 0));
		}
		j_att = ingest_dump(a);
		p[2] = j_att;
		if (ingest_run(c, ingest_sql_attachments, 3, p, err, errlen) != 0)
			goto out;
	}

	/* Threads that move into this one. */
	if (nmerge > 0) {
		size_t cap = nmerge * 22 + 3, used = 0;
		const char *p[4] = { s_thread, s_account, s_user, NULL };

		merge_list = xmalloc(cap);
		merge_list[used++] = '{';
		for (i = 0; i < nmerge; i++) {
			used += (size_t)snprintf(merge_list + used, cap - used, "%s%" PRId64,
			    i > 0 ? "," : "", merge[i]);
		}
		snprintf(merge_list + used, cap - used, "}");
		p[3] = merge_list;
		if (ingest_run(c, "UPDATE mail_messages SET thread_id = $1 WHERE account_id = $2 "
		    "AND user_id = $3 AND thread_id = ANY($4::bigint[])", 4, p, err, errlen) != 0)
			goto out;
		if (ingest_run(c, "DELETE FROM mail_threads WHERE account_id = $2 "
		    "AND user_id = $3 AND id = ANY($4::bigint[]) AND id <> $1", 4, p, err,
		    errlen) != 0)
			goto out;
	}

	/* The thread's dates and count. */
	{
		const char *p[3] = { s_thread, s_account, s_user };

		if (ingest_run(c, ingest_sql_thread_stats, 3, p, err, errlen) != 0)
			goto out;
	}
	*inserted = 1;
	rc = 0;
out:
	PQclear(r);
	ingest_subject_clear(&x);
	ingest_msg_free(&im);
	free(j_refs);
	free(j_from);
	free(j_to);
	free(j_cc);
	free(j_reply);
	free(j_flags);
	free(j_headers);
	free(j_warn);
	free(j_att);
	free(people);
	free(merge_list);
	if (m != NULL)
		mime_message_free(m);
	return rc;
}

int
ingest_message(PGconn *c, int64_t user_id, int64_t account_id, int64_t folder_id,
    uint32_t uid, const char *raw, size_t len, const char *const *flags,
    int64_t internal_date, const char *const *self_addresses, int *inserted, char *err,
    size_t errlen)
{
	int64_t row;

	return ingest_message_row(c, user_id, account_id, folder_id, uid, raw, len, flags,
	    internal_date, self_addresses, inserted, &row, err, errlen);
}

int
ingest_message_row(PGconn *c, int64_t user_id, int64_t account_id, int64_t folder_id,
    uint32_t uid, const char *raw, size_t len, const char *const *flags,
    int64_t internal_date, const char *const *self_addresses, int *inserted, int64_t *row,
    char *err, size_t errlen)
{
	PGTransactionStatusType ts = PQtransactionStatus(c);
	int nested, rc;
	char ignored[256];

	*inserted = 0;
	*row = 0;
	if (ts == PQTRANS_INTRANS) {
		nested = 1;
	} else if (ts == PQTRANS_IDLE) {
		nested = 0;
	} else {
		snprintf(err, errlen, "ingest: the connection is %s",
		    ts == PQTRANS_INERROR ? "in a failed transaction" : "not ready");
		return -1;
	}
	if (ingest_run(c, nested ? "SAVEPOINT mailroom_ingest" : "BEGIN", 0, NULL, err,
	    errlen) != 0)
		return -1;
	rc = ingest_store(c, user_id, account_id, folder_id, uid, raw, len, flags,
	    internal_date, self_addresses, inserted, row, err, errlen);
	if (rc == 0 && *inserted) {
		if (ingest_run(c, nested ? "RELEASE SAVEPOINT mailroom_ingest" : "COMMIT", 0,
		    NULL, err, errlen) == 0)
			return 0;
		*inserted = 0;
		rc = -1;
		if (PQtransactionStatus(c) == PQTRANS_IDLE)
			return -1;
	}
	/* Nothing stored (already there, or a failure): undo whatever was written. */
	if (nested) {
		ingest_run(c, "ROLLBACK TO SAVEPOINT mailroom_ingest", 0, NULL, ignored,
		    sizeof ignored);
		ingest_run(c, "RELEASE SAVEPOINT mailroom_ingest", 0, NULL, ignored,
		    sizeof ignored);
	} else {
		ingest_run(c, "ROLLBACK", 0, NULL, ignored, sizeof ignored);
	}
	return rc < 0 ? -1 : 0;
}
