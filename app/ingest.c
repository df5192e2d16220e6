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
#include <libpq-events.h>

#include "ingest.h"
#include "pq.h"
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
	/* Read ahead with the message's other lookups (ingest_store): the threads of the
	 * Message-IDs it names, and the subject candidates for these arguments. */
	PGresult *refs;
	PGresult *subj_pre;
	char subj_key[THREAD_KEY_SIZE];
	int64_t subj_since, subj_until;
};

/* The statements of ingest_store, prepared once per connection (ingest_prepare). */
enum ingest_stmt {
	INGEST_BEGIN,
	INGEST_COMMIT,
	INGEST_ROLLBACK,
	INGEST_SAVEPOINT,
	INGEST_RELEASE,
	INGEST_ROLLBACK_TO,
	INGEST_LOCK,
	INGEST_FOLDER,
	INGEST_LOCATION,
	INGEST_EXISTING,
	INGEST_NAMED,
	INGEST_SUBJECT,
	INGEST_THREAD_NEW,
	INGEST_INSERT,
	INGEST_AFTER,
	INGEST_STMT_COUNT
};

static const char *const ingest_stmt_names[INGEST_STMT_COUNT] = {
	"mailroom_ingest_begin", "mailroom_ingest_commit", "mailroom_ingest_rollback",
	"mailroom_ingest_savepoint", "mailroom_ingest_release", "mailroom_ingest_rollback_to",
	"mailroom_ingest_lock", "mailroom_ingest_folder", "mailroom_ingest_location",
	"mailroom_ingest_existing", "mailroom_ingest_named", "mailroom_ingest_subject",
	"mailroom_ingest_thread_new",
	"mailroom_ingest_insert", "mailroom_ingest_after",
};

/* r when it succeeded; else NULL (r cleared) with the database's message in err. */
static PGresult *
ingest_check(PGconn *c, PGresult *r, char *err, size_t errlen)
{
	return pq_check(c, r, "ingest: database", err, errlen);
}

/* Runs sql; returns the result when it succeeded, else NULL with the database's message
 * in err. */
static PGresult *
ingest_sql(PGconn *c, const char *sql, int n, const char *const *params, char *err,
    size_t errlen)
{
	return ingest_check(c, PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0), err,
	    errlen);
}

/* The same with a statement of ingest_prepare. */
static PGresult *
ingest_exec(PGconn *c, enum ingest_stmt s, int n, const char *const *params, char *err,
    size_t errlen)
{
	return ingest_check(c, PQexecPrepared(c, ingest_stmt_names[s], n, params, NULL, NULL,
	    0), err, errlen);
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

	/* thread_decide asks about the message itself and the ids it names, which
	 * ingest_store looked up at once (INGEST_NAMED). The message itself is not
	 * stored: ingest_store returned before. */
	for (int i = 0; x->refs != NULL && i < PQntuples(x->refs); i++) {
		if (!PQgetisnull(x->refs, i, 0) &&
		    strcmp(PQgetvalue(x->refs, i, 0), message_id) == 0)
			return ingest_int64(PQgetvalue(x->refs, i, 1));
	}
	return 0;
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
	if (x->subj_pre != NULL && since == x->subj_since && until == x->subj_until &&
	    strcmp(key, x->subj_key) == 0) {
		x->subj_res = x->subj_pre;
		x->subj_pre = NULL;
	} else {
		snprintf(s_since, sizeof s_since, "%" PRId64, since);
		snprintf(s_until, sizeof s_until, "%" PRId64, until);
		x->subj_res = ingest_exec(x->c, INGEST_SUBJECT, 5, p, x->err, sizeof x->err);
	}
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

/* What follows the insert of the message, in one statement: its location, its
 * attachments and its thread's count, dates and subject. The message is the row the
 * insert just made (currval), or none when it made none (ON CONFLICT): then nothing
 * happens. The thread's figures move by this message alone, rather than being counted
 * again over all its messages (ingest_sql_thread_stats does that after a merge): its
 * first message's subject names it.
 * $1 account, $2 user, $3 message_id, $4 the location's modseq, $5 whether the location
 * replaces one stored at (folder_id, uid), $6 attachments (JSON or NULL), $7 whether the
 * thread was made for this message (INGEST_THREAD_NEW gave it its figures). */
static const char ingest_sql_after[] =
	/* By its key alone: the plan stays right however many rows there are. */
	"WITH c AS MATERIALIZED (SELECT id, account_id, user_id, message_id, folder_id, uid, "
	"flags, thread_id, subject, sent_at, received_at FROM mail_messages "
	"WHERE id = (SELECT currval(pg_get_serial_sequence('mail_messages', 'id')))), "
	"m AS (SELECT id, folder_id, uid, flags, thread_id, subject, "
	"coalesce(sent_at, received_at) AS d FROM c "
	"WHERE account_id = $1 AND user_id = $2 AND message_id = $3), "
	/* Where it is: the folder copy it came from (sql/0004_sync.up.sql). */
	"loc AS (INSERT INTO mail_locations (folder_id, uid, message_id, user_id, flags, "
	"modseq) SELECT folder_id, uid, id, $2, flags, $4::numeric FROM m "
	"WHERE folder_id IS NOT NULL AND uid IS NOT NULL ON CONFLICT (folder_id, uid) "
	"DO UPDATE SET message_id = EXCLUDED.message_id, flags = EXCLUDED.flags, "
	"modseq = EXCLUDED.modseq WHERE $5::boolean), "
	"att AS (INSERT INTO mail_attachments (message_id, user_id, filename, content_type, "
	"size, content_id, part, inline) SELECT m.id, $2, left(x.filename, 1000), "
	"x.content_type, x.size, x.content_id, x.part, x.inline FROM m, "
	"jsonb_to_recordset($6::jsonb) AS x(filename text, content_type text, size integer, "
	"content_id text, part text, inline boolean)), "
	"th AS (UPDATE mail_threads t SET message_count = t.message_count + 1, "
	"first_date = least(t.first_date, m.d), last_date = greatest(t.last_date, m.d), "
	"subject = CASE WHEN t.first_date IS NULL OR m.d < t.first_date THEN m.subject "
	"ELSE t.subject END FROM m WHERE t.id = (SELECT thread_id FROM m) "
	"AND t.account_id = $1 AND t.user_id = $2 AND NOT $7::boolean) "
	"SELECT id FROM m";

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

/* The statements whose plan does not depend on the table's statistics, prepared once
 * per connection: a key looked up in full, in a CTE of its own (MATERIALIZED), the
 * owner's columns checked on what it found. A generic plan made while a table has no
 * statistics yet (a first sync) would otherwise as soon read all of the user's rows
 * through another index. (The subject's lookup uses an index that holds all its
 * conditions.) The others (ingest_sql_children, a merge) are planned each time. */
static const char *const ingest_stmt_sql[INGEST_STMT_COUNT] = {
	[INGEST_BEGIN] = "BEGIN",
	[INGEST_COMMIT] = "COMMIT",
	[INGEST_ROLLBACK] = "ROLLBACK",
	[INGEST_SAVEPOINT] = "SAVEPOINT mailroom_ingest",
	[INGEST_RELEASE] = "RELEASE SAVEPOINT mailroom_ingest",
	[INGEST_ROLLBACK_TO] = "ROLLBACK TO SAVEPOINT mailroom_ingest",
	/* The account is the user's; its threading is serialised. */
	[INGEST_LOCK] = "WITH a AS MATERIALIZED (SELECT id, user_id FROM mail_accounts "
	    "WHERE id = $1) SELECT pg_advisory_xact_lock(id) FROM a WHERE user_id = $2",
	[INGEST_FOLDER] = "WITH f AS MATERIALIZED (SELECT account_id, user_id "
	    "FROM mail_folders WHERE id = $1) SELECT 1 FROM f WHERE account_id = $2 "
	    "AND user_id = $3",
	[INGEST_LOCATION] = "WITH l AS MATERIALIZED (SELECT message_id, user_id "
	    "FROM mail_locations WHERE folder_id = $1 AND uid = $2) "
	    "SELECT message_id FROM l WHERE user_id = $3",
	[INGEST_EXISTING] = "WITH e AS MATERIALIZED (SELECT id, user_id FROM mail_messages "
	    "WHERE account_id = $1 AND message_id = $3) SELECT id FROM e WHERE user_id = $2",
	/* The threads of the stored messages among the Message-IDs $3 (JSON): the
	 * message's own and those it names. When there is none, a row (NULL, the id of the
	 * thread to make): the message may still join one by subject, and the id is left
	 * unused. */
	[INGEST_NAMED] = "WITH r AS (SELECT n.id AS message_id, t.thread_id "
	    "FROM jsonb_array_elements_text($3::jsonb) AS n(id), LATERAL (SELECT thread_id, "
	    "user_id FROM mail_messages WHERE account_id = $1 AND message_id = n.id "
	    "OFFSET 0) t WHERE t.user_id = $2 AND t.thread_id IS NOT NULL) "
	    "SELECT message_id, thread_id FROM r UNION ALL "
	    "SELECT NULL, nextval(pg_get_serial_sequence('mail_threads', 'id')) "
	    "WHERE NOT EXISTS (SELECT 1 FROM r)",
	[INGEST_SUBJECT] = ingest_sql_subject,
	/* A thread for one message, with its figures: $1 its id (NULL: a new one, returned),
	 * $6 and $7 the message's sent_at and received_at as ingest_sql_insert has them. */
	[INGEST_THREAD_NEW] = "INSERT INTO mail_threads (id, user_id, account_id, subject, "
	    "subject_key, message_count, first_date, last_date) OVERRIDING SYSTEM VALUE "
	    "SELECT coalesce($1::bigint, nextval(pg_get_serial_sequence('mail_threads', "
	    "'id'))), $2, $3, $4, $5, 1, d, d FROM coalesce(to_timestamp($6::bigint), "
	    "to_timestamp($7::bigint), now()) AS d RETURNING id",
	[INGEST_INSERT] = ingest_sql_insert,
	[INGEST_AFTER] = ingest_sql_after,
};

/* Late parent: the threads of stored messages that name this one. refs holds the
 * In-Reply-To id too (ingest_msg_prepare), so that the GIN index answers alone. */
static const char ingest_sql_children[] =
	/* By the GIN index alone: the account's other indexes read all its messages. */
	"WITH c AS MATERIALIZED (SELECT thread_id, account_id, user_id FROM mail_messages "
	"WHERE refs @> ARRAY[$3]::text[]) "
	"SELECT DISTINCT thread_id FROM c "
	"WHERE account_id = $1 AND user_id = $2 AND thread_id IS NOT NULL "
	"ORDER BY thread_id LIMIT " INGEST_STR(INGEST_MERGE_MAX);

/* Whether a connection has the statements: libpq's instance data of the connection,
 * cleared by a reset (a new session, without them) and freed with the connection. */
struct ingest_conn {
	int prepared;
};

static int
ingest_event(PGEventId id, void *info, void *pass)
{
	struct ingest_conn *s;

	(void)pass;
	if (id == PGEVT_CONNRESET) {
		s = PQinstanceData(((PGEventConnReset *)info)->conn, ingest_event);
		if (s != NULL)
			s->prepared = 0;
	} else if (id == PGEVT_CONNDESTROY) {
		free(PQinstanceData(((PGEventConnDestroy *)info)->conn, ingest_event));
	}
	return 1;
}

/* Prepares the statements on c unless done. A failure leaves the transaction the caller
 * may have open usable (a savepoint holds the attempt). Returns 0 or -1. */
static int
ingest_prepare(PGconn *c, char *err, size_t errlen)
{
	struct ingest_conn *s = PQinstanceData(c, ingest_event);
	int nested = PQtransactionStatus(c) == PQTRANS_INTRANS, rc = 0;
	char ignored[256];

	if (s == NULL) {
		if (!PQregisterEventProc(c, ingest_event, "mailroom ingest", NULL)) {
			snprintf(err, errlen, "ingest: cannot register with the connection");
			return -1;
		}
		s = xcalloc(1, sizeof *s);
		if (!PQsetInstanceData(c, ingest_event, s)) {
			free(s);
			snprintf(err, errlen, "ingest: cannot register with the connection");
			return -1;
		}
	}
	if (s->prepared)
		return 0;
	if (nested && ingest_run(c, "SAVEPOINT mailroom_ingest_prepare", 0, NULL, err,
	    errlen) != 0)
		return -1;
	for (int i = 0; i < INGEST_STMT_COUNT && rc == 0; i++) {
		PGresult *r = PQprepare(c, ingest_stmt_names[i], ingest_stmt_sql[i], 0, NULL);
		const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);

		/* 42P05: prepared by an attempt that failed further on. */
		if (PQresultStatus(r) != PGRES_COMMAND_OK && (state == NULL ||
		    strcmp(state, "42P05") != 0)) {
			if (ingest_check(c, r, err, errlen) == NULL)
				rc = -1;
		} else {
			PQclear(r);
		}
	}
	if (nested) {
		if (rc != 0)
			ingest_run(c, "ROLLBACK TO SAVEPOINT mailroom_ingest_prepare", 0, NULL,
			    ignored, sizeof ignored);
		if (ingest_run(c, "RELEASE SAVEPOINT mailroom_ingest_prepare", 0, NULL,
		    rc == 0 ? err : ignored, rc == 0 ? errlen : sizeof ignored) != 0)
			rc = -1;
	}
	if (rc == 0)
		s->prepared = 1;
	return rc;
}

/* Statements sent together and answered together: one round trip (libpq's pipeline
 * mode). A statement that fails makes the server skip the rest. */
#define INGEST_PIPE_MAX 12

struct ingest_pipe {
	PGconn *c;
	int n;
	int broken;			/* a statement could not be sent */
	PGresult *r[INGEST_PIPE_MAX];
};

static void
ingest_pipe_open(struct ingest_pipe *pp, PGconn *c)
{
	memset(pp, 0, sizeof *pp);
	pp->c = c;
	if (!PQenterPipelineMode(c))
		pp->broken = 1;
}

/* Queues statement s; returns its place in the pipe (for ingest_pipe_result). */
static int
ingest_pipe_send(struct ingest_pipe *pp, enum ingest_stmt s, int n,
    const char *const *params)
{
	if (pp->broken || pp->n == INGEST_PIPE_MAX ||
	    !PQsendQueryPrepared(pp->c, ingest_stmt_names[s], n, params, NULL, NULL, 0)) {
		pp->broken = 1;
		return -1;
	}
	return pp->n++;
}

/* The same with a statement planned now. */
static int
ingest_pipe_send_sql(struct ingest_pipe *pp, const char *sql, int n,
    const char *const *params)
{
	if (pp->broken || pp->n == INGEST_PIPE_MAX ||
	    !PQsendQueryParams(pp->c, sql, n, NULL, params, NULL, NULL, 0)) {
		pp->broken = 1;
		return -1;
	}
	return pp->n++;
}

/* The connection failed under a pipeline: libpq's words. */
static int
ingest_lost(PGconn *c, char *err, size_t errlen)
{
	snprintf(err, errlen, "ingest: database: %s", PQerrorMessage(c));
	err[strcspn(err, "\n")] = '\0';
	return -1;
}

/* Sends what was queued and reads every answer. Returns 0 when each statement
 * succeeded, else -1 with the first failure in err. */
static int
ingest_pipe_run(struct ingest_pipe *pp, char *err, size_t errlen)
{
	PGconn *c = pp->c;
	PGresult *r;
	int rc = 0;

	/* The sync first: the server answers nothing before it. */
	if (pp->broken || !PQpipelineSync(c))
		return ingest_lost(c, err, errlen);
	for (int k = 0; k < pp->n; k++) {
		if ((r = PQgetResult(c)) == NULL)
			return ingest_lost(c, err, errlen);
		if (PQresultStatus(r) == PGRES_PIPELINE_ABORTED) {
			PQclear(r);
		} else if ((pp->r[k] = ingest_check(c, r, rc == 0 ? err : NULL,
		    rc == 0 ? errlen : 0)) == NULL) {
			rc = -1;
		}
		while ((r = PQgetResult(c)) != NULL)
			PQclear(r);
	}
	r = PQgetResult(c);
	if (PQresultStatus(r) != PGRES_PIPELINE_SYNC || !PQexitPipelineMode(c)) {
		if (rc == 0)
			snprintf(err, errlen, "ingest: database: the pipeline ended badly");
		rc = -1;
	}
	PQclear(r);
	return rc;
}

static void
ingest_pipe_close(struct ingest_pipe *pp)
{
	for (int k = 0; k < pp->n; k++)
		PQclear(pp->r[k]);
	if (PQpipelineStatus(pp->c) != PQ_PIPELINE_OFF)
		PQexitPipelineMode(pp->c);
	pp->n = 0;
}

/* The answer to statement k (NULL when it was not sent, failed or was skipped). */
static PGresult *
ingest_pipe_result(struct ingest_pipe *pp, int k)
{
	return k >= 0 && k < pp->n ? pp->r[k] : NULL;
}

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

/* Undoes what ingest_store wrote of this message (in one round trip). */
static void
ingest_undo(PGconn *c, int nested)
{
	struct ingest_pipe pp;
	char ignored[256];

	if (PQtransactionStatus(c) == PQTRANS_IDLE)
		return;
	ingest_pipe_open(&pp, c);
	if (nested) {
		ingest_pipe_send(&pp, INGEST_ROLLBACK_TO, 0, NULL);
		ingest_pipe_send(&pp, INGEST_RELEASE, 0, NULL);
	} else {
		ingest_pipe_send(&pp, INGEST_ROLLBACK, 0, NULL);
	}
	ingest_pipe_run(&pp, ignored, sizeof ignored);
	ingest_pipe_close(&pp);
}

/* The JSON array of the Message-IDs that thread_decide may ask about: the message's
 * own, then those it names. */
static char *
ingest_named_ids(const struct ingest_msg *im)
{
	json_t *a = ingest_string_array(im->refs, im->nrefs);

	json_array_insert_new(a, 0, json_string(im->m->message_id));
	return ingest_dump(a);
}

/* ingest_message_ex once its statements are prepared: in its own transaction (nested 0)
 * or a savepoint of the caller's. Two round trips for most messages: the lookups, then
 * the writes with the commit (a third when the subject decides, a fourth on a merge). */
static int
ingest_store(PGconn *c, const struct ingest_args *a, int nested, struct ingest_result *res,
    char *err, size_t errlen)
{
	struct ingest_ctx x;
	struct ingest_pipe pp;
	struct thread_lookup lookup;
	struct thread_message tm;
	struct ingest_msg im;
	struct mime_message *m = NULL;
	char s_user[24], s_account[24], s_folder[24], s_thread[24], s_uid[24], s_sent[24],
	    s_recv[24], s_size[24], s_modseq[24], s_since[24], s_until[24],
	    key[THREAD_KEY_SIZE];
	char *j_refs = NULL, *j_from = NULL, *j_to = NULL, *j_cc = NULL, *j_reply = NULL,
	    *j_flags = NULL, *j_headers = NULL, *j_warn = NULL, *j_att = NULL, *people = NULL,
	    *merge_list = NULL, *j_named = NULL;
	const char *irt[1], *const *flags = a->flags,
	    *const *self_addresses = a->self_addresses;
	int64_t user_id = a->user_id, account_id = a->account_id, folder_id = a->folder_id,
	    internal_date = a->internal_date, thread_id, new_thread = 0,
	    children[INGEST_MERGE_MAX], merge[INGEST_MERGE_MAX], into;
	uint32_t uid = a->uid;
	size_t nchildren = 0, nmerge = 0, nflags = 0, len = a->len, i;
	int has_att = 0, rc = -1, k_lock, k_folder = -1, k_loc = -1, k_exist, k_refs = -1,
	    k_children = -1, k_subj = -1, k_insert, k_done = -1, undo = 1, made_thread = 0;
	PGresult *r = NULL;

	memset(&x, 0, sizeof x);
	memset(&im, 0, sizeof im);
	x.c = c;
	snprintf(s_user, sizeof s_user, "%" PRId64, user_id);
	snprintf(s_account, sizeof s_account, "%" PRId64, account_id);
	snprintf(s_folder, sizeof s_folder, "%" PRId64, folder_id);
	snprintf(s_uid, sizeof s_uid, "%" PRIu32, uid);
	memcpy(x.user, s_user, sizeof x.user);
	memcpy(x.account, s_account, sizeof x.account);
	ingest_pipe_open(&pp, c);

	if (mime_parse(a->raw, len, &m) != 0) {
		snprintf(err, errlen, "ingest: out of memory parsing the message");
		undo = 0;
		goto out;
	}
	ingest_msg_prepare(&im, m, internal_date);
	j_named = ingest_named_ids(&im);

	/* The lookups, in one round trip. The lock comes first: each statement after it
	 * sees what was committed before it was granted, so "already stored" is final. */
	ingest_pipe_send(&pp, nested ? INGEST_SAVEPOINT : INGEST_BEGIN, 0, NULL);
	{
		const char *p[3] = { s_account, s_user, NULL };

		k_lock = ingest_pipe_send(&pp, INGEST_LOCK, 2, p);
	}
	if (folder_id != 0) {
		const char *p[3] = { s_folder, s_account, s_user };

		k_folder = ingest_pipe_send(&pp, INGEST_FOLDER, 3, p);
	}
	if (a->sync && folder_id != 0 && uid != 0) {
		const char *p[3] = { s_folder, s_uid, s_user };

		k_loc = ingest_pipe_send(&pp, INGEST_LOCATION, 3, p);
	}
	{
		const char *p[3] = { s_account, s_user, m->message_id };

		k_exist = ingest_pipe_send(&pp, INGEST_EXISTING, 3, p);
		p[2] = j_named;
		k_refs = ingest_pipe_send(&pp, INGEST_NAMED, 3, p);
	}
	if (!m->message_id_synthetic) {
		const char *p[3] = { s_account, s_user, m->message_id };

		k_children = ingest_pipe_send_sql(&pp, ingest_sql_children, 3, p);
	}
	/* The subject candidates thread_decide will ask for (thread.c, by_subject): only a
	 * message that names no parent may join by subject. */
	if (m->in_reply_to == NULL && m->n_references == 0 && m->subject != NULL) {
		thread_subject_key(m->subject, x.subj_key, sizeof x.subj_key);
		if (!thread_subject_generic(x.subj_key)) {
			const char *p[5] = { s_account, s_user, x.subj_key, s_since, s_until };

			x.subj_since = im.date > INT64_MIN + THREAD_SUBJECT_WINDOW ?
			    im.date - THREAD_SUBJECT_WINDOW : INT64_MIN;
			x.subj_until = im.date < INT64_MAX - THREAD_SUBJECT_WINDOW ?
			    im.date + THREAD_SUBJECT_WINDOW : INT64_MAX;
			snprintf(s_since, sizeof s_since, "%" PRId64, x.subj_since);
			snprintf(s_until, sizeof s_until, "%" PRId64, x.subj_until);
			k_subj = ingest_pipe_send(&pp, INGEST_SUBJECT, 5, p);
		}
	}
	if (ingest_pipe_run(&pp, err, errlen) != 0)
		goto out;
	if (PQntuples(ingest_pipe_result(&pp, k_lock)) != 1) {
		snprintf(err, errlen, "ingest: no account %" PRId64 " of user %" PRId64,
		    account_id, user_id);
		goto out;
	}
	if (k_folder >= 0 && PQntuples(ingest_pipe_result(&pp, k_folder)) != 1) {
		snprintf(err, errlen, "ingest: no folder %" PRId64 " in account %" PRId64,
		    folder_id, account_id);
		goto out;
	}
	/* A sync's copy fetched before, or a message already stored: nothing to do. */
	if (k_loc >= 0 && PQntuples(r = ingest_pipe_result(&pp, k_loc)) > 0) {
		res->known_location = 1;
		res->row = ingest_int64(PQgetvalue(r, 0, 0));
		rc = 0;
		goto out;
	}
	if (PQntuples(r = ingest_pipe_result(&pp, k_exist)) > 0) {
		res->row = ingest_int64(PQgetvalue(r, 0, 0));
		rc = 0;
		goto out;
	}
	r = NULL;
	x.refs = ingest_pipe_result(&pp, k_refs);
	for (int k = 0; k < PQntuples(x.refs); k++) {
		if (PQgetisnull(x.refs, k, 0))
			new_thread = ingest_int64(PQgetvalue(x.refs, k, 1));
	}
	if (k_subj >= 0) {
		/* find_by_subject owns it from now on. */
		x.subj_pre = pp.r[k_subj];
		pp.r[k_subj] = NULL;
	}
	if (k_children >= 0) {
		PGresult *cr = ingest_pipe_result(&pp, k_children);

		for (int k = 0; k < PQntuples(cr); k++)
			children[nchildren++] = ingest_int64(PQgetvalue(cr, k, 0));
	}

	/* The thread. */
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
	into = thread_merge_plan(thread_id, children, nchildren, merge, &nmerge);
	if (into != 0)
		thread_id = into;
	thread_subject_key(m->subject, key, sizeof key);
	if (m->date != 0)
		snprintf(s_sent, sizeof s_sent, "%" PRId64, m->date);
	if (internal_date != 0)
		snprintf(s_recv, sizeof s_recv, "%" PRId64, internal_date);
	if (thread_id == 0 && new_thread == 0) {
		/* No id read ahead (a thread found by id is not there any more). */
		const char *p[7] = { NULL, s_user, s_account, m->subject, key,
		    m->date != 0 ? s_sent : NULL, internal_date != 0 ? s_recv : NULL };

		if ((r = ingest_exec(c, INGEST_THREAD_NEW, 7, p, err, errlen)) == NULL)
			goto out;
		thread_id = ingest_int64(PQgetvalue(r, 0, 0));
		made_thread = 1;
		PQclear(r);
		r = NULL;
	}
	if (thread_id != 0) {
		new_thread = 0;
	} else {
		thread_id = new_thread;
		made_thread = 1;
	}
	snprintf(s_thread, sizeof s_thread, "%" PRId64, thread_id);
	x.refs = NULL;
	ingest_pipe_close(&pp);

	/* The message. */
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
	if (m->n_attachments > 0) {
		json_t *att = json_array();

		for (i = 0; i < m->n_attachments; i++) {
			const struct mime_attachment *at = &m->attachments[i];

			json_array_append_new(att, json_pack("{s:s, s:s, s:I, s:o, s:s, s:b}",
			    "filename", at->filename, "content_type", at->content_type,
			    "size", (json_int_t)(at->size > INT_MAX ? INT_MAX : at->size),
			    "content_id", at->content_id != NULL ? json_string(at->content_id) :
			    json_null(), "part", at->part, "inline", at->is_inline != 0));
		}
		j_att = ingest_dump(att);
	}
	if (nmerge > 0) {
		size_t cap = nmerge * 22 + 3, used = 0;

		merge_list = xmalloc(cap);
		merge_list[used++] = '{';
		for (i = 0; i < nmerge; i++) {
			used += (size_t)snprintf(merge_list + used, cap - used, "%s%" PRId64,
			    i > 0 ? "," : "", merge[i]);
		}
		snprintf(merge_list + used, cap - used, "}");
	}
	if (a->modseq > 0)
		snprintf(s_modseq, sizeof s_modseq, "%" PRIu64, a->modseq);

	/* The writes, in one round trip: the new thread, the message, what follows it
	 * (ingest_sql_after), the merged threads, and the commit when there is no merge to
	 * undo should the message turn out to be stored already. */
	ingest_pipe_open(&pp, c);
	if (new_thread != 0) {
		const char *p[7] = { s_thread, s_user, s_account, m->subject, key,
		    m->date != 0 ? s_sent : NULL, internal_date != 0 ? s_recv : NULL };

		ingest_pipe_send(&pp, INGEST_THREAD_NEW, 7, p);
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

		k_insert = ingest_pipe_send(&pp, INGEST_INSERT, (int)MR_ARRAY_LEN(p), p);
	}
	{
		const char *p[7] = { s_account, s_user, m->message_id,
		    a->modseq > 0 ? s_modseq : NULL, a->sync ? "true" : "false", j_att,
		    made_thread ? "true" : "false" };

		ingest_pipe_send(&pp, INGEST_AFTER, 7, p);
	}
	if (nmerge > 0) {
		const char *p[4] = { s_thread, s_account, s_user, merge_list };

		ingest_pipe_send_sql(&pp, "UPDATE mail_messages SET thread_id = $1 "
		    "WHERE account_id = $2 AND user_id = $3 AND thread_id = ANY($4::bigint[])",
		    4, p);
		ingest_pipe_send_sql(&pp, "DELETE FROM mail_threads WHERE account_id = $2 "
		    "AND user_id = $3 AND id = ANY($4::bigint[]) AND id <> $1", 4, p);
		ingest_pipe_send_sql(&pp, ingest_sql_thread_stats, 3, p);
	} else {
		k_done = ingest_pipe_send(&pp, nested ? INGEST_RELEASE : INGEST_COMMIT, 0, NULL);
	}
	if (ingest_pipe_run(&pp, err, errlen) != 0)
		goto out;
	if (PQntuples(r = ingest_pipe_result(&pp, k_insert)) == 0) {
		/* Stored meanwhile by a writer that does not take the lock. */
		r = NULL;
		if (k_done < 0)
			goto out_known;
		/* Committed already: the thread made for it goes, empty. */
		undo = 0;
		if (made_thread) {
			const char *p[3] = { s_thread, s_account, s_user };

			if (ingest_run(c, "DELETE FROM mail_threads t WHERE id = $1 "
			    "AND account_id = $2 AND user_id = $3 AND NOT EXISTS (SELECT 1 "
			    "FROM mail_messages m WHERE m.thread_id = t.id)", 3, p, err,
			    errlen) != 0)
				goto out;
		}
		goto out_known;
	}
	res->row = ingest_int64(PQgetvalue(r, 0, 0));
	r = NULL;
	if (k_done < 0) {
		if ((r = ingest_exec(c, nested ? INGEST_RELEASE : INGEST_COMMIT, 0, NULL, err,
		    errlen)) == NULL) {
			res->row = 0;
			goto out;
		}
		PQclear(r);
		r = NULL;
	}
	res->inserted = 1;
	undo = 0;
	rc = 0;
	goto out;
out_known:
	{
		const char *p[3] = { s_account, s_user, m->message_id };

		res->row = 0;
		if (undo) {
			ingest_undo(c, nested);
			undo = 0;
		}
		if ((r = ingest_exec(c, INGEST_EXISTING, 3, p, err, errlen)) == NULL)
			goto out;
		if (PQntuples(r) > 0)
			res->row = ingest_int64(PQgetvalue(r, 0, 0));
		PQclear(r);
		r = NULL;
		rc = 0;
	}
out:
	ingest_pipe_close(&pp);
	if (undo)
		ingest_undo(c, nested);
	ingest_subject_clear(&x);
	PQclear(x.subj_pre);
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
	free(j_named);
	free(people);
	free(merge_list);
	if (m != NULL)
		mime_message_free(m);
	return rc;
}

int
ingest_message_ex(PGconn *c, const struct ingest_args *a, struct ingest_result *res,
    char *err, size_t errlen)
{
	PGTransactionStatusType ts = PQtransactionStatus(c);

	memset(res, 0, sizeof *res);
	if (ts != PQTRANS_INTRANS && ts != PQTRANS_IDLE) {
		snprintf(err, errlen, "ingest: the connection is %s",
		    ts == PQTRANS_INERROR ? "in a failed transaction" : "not ready");
		return -1;
	}
	if (ingest_prepare(c, err, errlen) != 0)
		return -1;
	return ingest_store(c, a, ts == PQTRANS_INTRANS, res, err, errlen);
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
	struct ingest_args a = {
		.user_id = user_id, .account_id = account_id, .folder_id = folder_id,
		.uid = uid, .raw = raw, .len = len, .flags = flags,
		.internal_date = internal_date, .self_addresses = self_addresses,
	};
	struct ingest_result res;
	int rc = ingest_message_ex(c, &a, &res, err, errlen);

	*inserted = res.inserted;
	*row = res.row;
	return rc;
}
