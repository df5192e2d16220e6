/* writeback.c: categories written back to the mailbox, and corrections seen in it
 * (writeback.h, doc/triage.md "Write-back").
 *
 * A run reads the account's pending messages (category set, written_back not what the
 * category asks for) a batch at a time with all their locations, turns each location
 * into a unit of work (a keyword on it, or a copy or move into a label folder, maybe
 * then a move out of INBOX), sorts the units by folder and operation so that one command
 * serves many UIDs, and runs them folder by folder. After the server confirmed a group,
 * one transaction records it: the locations' flags (or their removal, for a move), and
 * written_back for each message whose every unit is done. */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "arena.h"
#include "imap.h"
#include "jobs.h"
#include "mailacct.h"
#include "pq.h"
#include "triage.h"
#include "util.h"
#include "writeback.h"

int writeback_force_labels;

/* ---- names -------------------------------------------------------------------------- */

int
writeback_keyword(const char *slug, char *out, size_t outlen)
{
	int n = snprintf(out, outlen, "%s%s", WRITEBACK_KEYWORD_PREFIX, slug);

	return n < 0 || (size_t)n >= outlen || !triage_slug_valid(slug) ? -1 : 0;
}

int
writeback_keyword_slug(const char *kw, char *slug, size_t slugsize)
{
	size_t n = strlen(WRITEBACK_KEYWORD_PREFIX), len = strlen(kw);

	if (len <= n || len - n >= slugsize || len - n >= TRIAGE_SLUG_SIZE ||
	    strncasecmp(kw, WRITEBACK_KEYWORD_PREFIX, n) != 0)
		return 0;
	/* Keywords compare without case: another client may have changed it. */
	for (size_t i = n; i <= len; i++)
		slug[i - n] = (char)(kw[i] >= 'A' && kw[i] <= 'Z' ? kw[i] + 32 : kw[i]);
	return triage_slug_valid(slug);
}

/* The three parameters of the label folder expression, $P || translate(name, $F, $T):
 * the root and the delimiter ("mailroom/"; "mailroom-" on a flat server), and the
 * characters a category's name cannot keep in a folder name (the delimiter, and the LIST
 * wildcards) with as many dashes. */
struct writeback_label_sql {
	char prefix[64], from[4], to[4];
};

static void
writeback_label_sql(struct writeback_label_sql *l, char delimiter)
{
	snprintf(l->prefix, sizeof l->prefix, "%s%c", WRITEBACK_FOLDER_ROOT,
	    delimiter != 0 ? delimiter : '-');
	snprintf(l->from, sizeof l->from, "%s*%%", delimiter != 0 ?
	    (char[2]){ delimiter, '\0' } : "");
	snprintf(l->to, sizeof l->to, "%s", delimiter != 0 ? "---" : "--");
}

static const char writeback_sql_label_slug[] =
	"SELECT slug FROM categories WHERE user_id = $1 AND $2 || translate(name, $3, $4) = $5 "
	"ORDER BY builtin DESC, position, id LIMIT 1";

int
writeback_label_slug(PGconn *c, int64_t user_id, const char *folder, char delimiter,
    char *slug, size_t slugsize)
{
	struct writeback_label_sql l;
	char s_user[24];
	const char *p[5];
	PGresult *r;
	int rc;

	writeback_label_sql(&l, delimiter);
	if (strncmp(folder, l.prefix, strlen(l.prefix)) != 0)
		return 0;
	snprintf(s_user, sizeof s_user, "%" PRId64, user_id);
	p[0] = s_user;
	p[1] = l.prefix;
	p[2] = l.from;
	p[3] = l.to;
	p[4] = folder;
	r = pq_exec(c, "write-back", writeback_sql_label_slug, 5, p, NULL, 0);
	if (r == NULL)
		return -1;
	rc = PQntuples(r) == 1 && strlen(PQgetvalue(r, 0, 0)) < slugsize;
	if (rc)
		snprintf(slug, slugsize, "%s", PQgetvalue(r, 0, 0));
	PQclear(r);
	return rc;
}

/* ---- the account's lock ------------------------------------------------------------ */

/* The two-key advisory lock space ("mrmb": an account's mailbox, then its id): apart from
 * ingest's one-key locks and the migrations'. */
#define WRITEBACK_LOCK_CLASS "1836215650"

int
writeback_mailbox_lock(PGconn *c, int64_t account_id, int wait)
{
	char s_account[24];
	const char *p[1] = { s_account };
	PGresult *r;
	int got;

	snprintf(s_account, sizeof s_account, "%" PRId64, account_id % 2147483647);
	r = pq_exec(c, "mailbox lock", wait ?
	    "SELECT pg_advisory_lock(" WRITEBACK_LOCK_CLASS ", $1::int), true" :
	    "SELECT pg_try_advisory_lock(" WRITEBACK_LOCK_CLASS ", $1::int)", 1, p, NULL, 0);
	if (r == NULL)
		return -1;
	got = strcmp(PQgetvalue(r, 0, wait ? 1 : 0), "t") == 0;
	PQclear(r);
	return got;
}

void
writeback_mailbox_unlock(PGconn *c, int64_t account_id)
{
	char s_account[24];
	const char *p[1] = { s_account };

	snprintf(s_account, sizeof s_account, "%" PRId64, account_id % 2147483647);
	PQclear(pq_exec(c, "mailbox lock", "SELECT pg_advisory_unlock(" WRITEBACK_LOCK_CLASS
	    ", $1::int)", 1, p, NULL, 0));
}

/* ---- the queue ---------------------------------------------------------------------- */

/* A message m decided by rule r has actions not applied yet. */
#define WB_ACTIONS_WAITING "m.category_rule_id IS NOT NULL AND m.actions_applied_rule " \
	"IS DISTINCT FROM m.category_rule_id AND jsonb_array_length(r.actions) > 0"

int
writeback_enqueue(PGconn *c, int64_t user_id, int64_t account_id, char *err, size_t errlen)
{
	char s_user[24], s_account[24], key[48], payload[64];
	const char *p[2] = { s_user, s_account };
	PGresult *r;
	int n = 0;

	snprintf(s_user, sizeof s_user, "%" PRId64, user_id);
	snprintf(s_account, sizeof s_account, "%" PRId64, account_id);
	/* A rule's actions are applied whatever the account's writeback. */
	r = pq_exec(c, "write-back", "SELECT a.id FROM mail_accounts a WHERE a.user_id = $1 "
	    "AND ($2 = 0 OR a.id = $2) AND a.provider = 'imap' AND a.sync_state <> 'disabled' "
	    "AND (a.writeback <> 'off' OR EXISTS (SELECT 1 FROM mail_messages m JOIN "
	    "triage_rules r ON r.id = m.category_rule_id AND r.user_id = m.user_id "
	    "WHERE m.user_id = a.user_id AND m.account_id = a.id AND " WB_ACTIONS_WAITING "))"
	    " ORDER BY a.id", 2, p, err, errlen);
	if (r == NULL)
		return -1;
	for (int i = 0; i < PQntuples(r); i++) {
		const char *id = PQgetvalue(r, i, 0);

		snprintf(key, sizeof key, "writeback:%s", id);
		snprintf(payload, sizeof payload, "{\"account_id\": %s}", id);
		if (jobs_enqueue(c, "writeback", payload, user_id, key, 0, WRITEBACK_ATTEMPTS,
		    err, errlen) < 0) {
			PQclear(r);
			return -1;
		}
		n++;
	}
	PQclear(r);
	return n;
}

/* ---- corrections seen in the mailbox -------------------------------------------------- */

static const char writeback_sql_correct[] =
	"WITH o AS (SELECT id, category, lower(from_addr->0->>'address') AS sender "
	"FROM mail_messages WHERE id = $1 AND user_id = $2 FOR UPDATE), "
	"k AS (SELECT 1 FROM categories WHERE user_id = $2 AND slug = $3), "
	"c AS (INSERT INTO triage_corrections (user_id, message_id, from_category, "
	"to_category, source, sender) SELECT $2, o.id, o.category, $3, 'mailbox', "
	"CASE WHEN length(o.sender) BETWEEN 1 AND 254 THEN o.sender END FROM o, k "
	"WHERE o.category IS DISTINCT FROM $3 RETURNING from_category), "
	"u AS (UPDATE mail_messages m SET category = $3, category_source = 'correction', "
	"category_confidence = 1, category_reasons = $4::jsonb, category_rule_id = NULL, "
	"triaged_at = coalesce(m.triaged_at, now()) FROM c WHERE m.id = $1 AND m.user_id = $2 "
	"RETURNING m.thread_id, coalesce(m.sent_at, m.received_at) AS d), "
	/* The thread shows the category of its latest message. */
	"th AS (UPDATE mail_threads t SET category = $3 FROM u WHERE t.id = u.thread_id "
	"AND t.user_id = $2 AND NOT EXISTS (SELECT 1 FROM mail_messages x "
	"WHERE x.thread_id = u.thread_id AND x.user_id = $2 AND x.id <> $1 "
	"AND coalesce(x.sent_at, x.received_at) > u.d)) "
	"SELECT c.from_category, (SELECT count(*) FROM u) FROM c";

int
writeback_correct(PGconn *c, int64_t user_id, int64_t row, const char *to, char *err,
    size_t errlen)
{
	char s_row[24], s_user[24], reason[128], *from;
	const char *p[4] = { s_row, s_user, to, reason };
	PGresult *r;
	int rc;

	if (!triage_slug_valid(to))
		return 0;
	snprintf(s_row, sizeof s_row, "%" PRId64, row);
	snprintf(s_user, sizeof s_user, "%" PRId64, user_id);
	/* A JSON array of one sentence: the slug needs no escaping. */
	snprintf(reason, sizeof reason, "[\"You put it in this category in your mail "
	    "program.\"]");
	r = pq_exec(c, "mailbox correction", writeback_sql_correct, 4, p, err, errlen);
	if (r == NULL)
		return -1;
	if (PQntuples(r) == 0) {
		PQclear(r);
		return 0;
	}
	from = PQgetisnull(r, 0, 0) ? NULL : xstrdup(PQgetvalue(r, 0, 0));
	PQclear(r);
	rc = triage_learn(c, user_id, row, from, to, err, errlen) == 0 ? 1 : -1;
	free(from);
	return rc;
}

/* ---- the run ------------------------------------------------------------------------ */

/* WB_FLAGS (a rule's \Seen and \Flagged) sorts before WB_MOVE: a location's flags are
 * set before it leaves. */
enum wb_op { WB_KEYWORD, WB_FLAGS, WB_COPY, WB_MOVE };

/* One location of a pending message and what to do there. The strings point into the
 * batch's result. */
struct wb_unit {
	size_t msg;			/* index into run->msgs */
	int64_t folder_id;
	const char *folder;
	uint32_t uid;
	enum wb_op op;
	const char *arg;		/* WB_KEYWORD: the keyword; WB_FLAGS: the flags,
					 * space-separated; else the destination */
	const char *away;		/* then moved out of INBOX there, or NULL */
	const char *ours;		/* WB_KEYWORD: our keywords it has, space-separated */
};

/* category and target: of a rule's actions, the rule's id. */
struct wb_msg {
	const char *id, *category, *target;
	int units, done;
};

struct wb_run {
	PGconn *c;
	struct provider p;
	struct mailacct acct;
	char s_user[24], s_account[24];
	int move;			/* writeback = 'label_move' */
	int labels;			/* label folders instead of keywords */
	int off;			/* writeback = 'off': only rules' actions */
	int actions;			/* this pass applies rules' actions */
	char delim;
	char *inbox, *archive;		/* the server's names; archive may be NULL */
	struct writeback_label_sql l;
	char **created;			/* label folders created or seen this run */
	size_t ncreated;
	char *open;			/* the folder selected */
	struct buf excluded;		/* folders that refused or went: "{id,..." */
	struct arena *keep;		/* of excluded */
	struct arena *arena;		/* of one batch */
	struct writeback_stats *st;
	struct wb_msg *msgs;
	size_t nmsgs;
	char err[1024];
};

static int
wb_strcmp0(const char *a, const char *b)
{
	return a == NULL ? (b == NULL ? 0 : -1) : b == NULL ? 1 : strcmp(a, b);
}

static int
wb_unit_cmp(const void *x, const void *y)
{
	const struct wb_unit *a = x, *b = y;
	int d;

	if (a->folder_id != b->folder_id)
		return a->folder_id < b->folder_id ? -1 : 1;
	if (a->op != b->op)
		return (int)a->op - (int)b->op;
	if ((d = strcmp(a->arg, b->arg)) != 0)
		return d;
	if ((d = wb_strcmp0(a->away, b->away)) != 0)
		return d;
	return a->uid < b->uid ? -1 : a->uid > b->uid;
}

static int
wb_same_group(const struct wb_unit *a, const struct wb_unit *b)
{
	return a->folder_id == b->folder_id && a->op == b->op && strcmp(a->arg, b->arg) == 0 &&
	    wb_strcmp0(a->away, b->away) == 0;
}

static int
wb_moves_away(const char *category)
{
	return strcmp(category, "marketing") == 0 || strcmp(category, "notification") == 0;
}

/* The provider's failure: a sentence in run->err. */
static enum provider_status
wb_failed(struct wb_run *run, enum provider_status s, const char *what, const char *folder)
{
	snprintf(run->err, sizeof run->err, "%s %s: %s", what, folder, run->p.error);
	return s;
}

static enum provider_status
wb_select(struct wb_run *run, const char *folder, int *keywords)
{
	struct provider_cursor now;
	enum provider_status s;

	if (run->open != NULL && strcmp(run->open, folder) == 0 && keywords == NULL)
		return PROVIDER_OK;
	free(run->open);
	run->open = NULL;
	memset(&now, 0, sizeof now);
	s = run->p.ops->open_folder(&run->p, folder, &now);
	free(now.token);
	if (s != PROVIDER_OK)
		return wb_failed(run, s, "opening", folder);
	run->open = xstrdup(folder);
	if (keywords != NULL)
		*keywords = now.keywords;
	return PROVIDER_OK;
}

/* Creates a label folder once per run (CREATE of one that exists is fine). */
static enum provider_status
wb_label_folder(struct wb_run *run, const char *folder)
{
	enum provider_status s;

	if (run->archive != NULL && strcmp(folder, run->archive) == 0)
		return PROVIDER_OK;
	for (size_t i = 0; i < run->ncreated; i++) {
		if (strcmp(run->created[i], folder) == 0)
			return PROVIDER_OK;
	}
	run->st->commands++;
	if ((s = run->p.ops->create_folder(&run->p, folder)) != PROVIDER_OK)
		return wb_failed(run, s, "creating", folder);
	run->created = xreallocarray(run->created, run->ncreated + 1, sizeof *run->created);
	run->created[run->ncreated++] = xstrdup(folder);
	return PROVIDER_OK;
}

/* Copies or moves UIDs of the open folder to folder (a label folder is created first).
 * imap.c's move is MOVE, or COPY and the expunge of these UIDs only once the copy
 * succeeded: nothing is lost either way. */
static enum provider_status
wb_transfer(struct wb_run *run, const uint32_t *uids, size_t n, const char *folder,
    int move)
{
	enum provider_status s;

	if ((s = wb_label_folder(run, folder)) != PROVIDER_OK)
		return s;
	run->st->commands++;
	s = move ? run->p.ops->move(&run->p, uids, n, folder) :
	    run->p.ops->copy(&run->p, uids, n, folder);
	if (s != PROVIDER_OK)
		return wb_failed(run, s, move ? "moving to" : "copying to", folder);
	if (move)
		run->st->moved += n;
	return PROVIDER_OK;
}

/* The keywords of ours the group's locations have (as far as the database knows) or
 * write-back put there, but the one being set: those it clears. Only those: a server may
 * keep few keywords per folder (Dovecot's maildir: 26), so none is named for nothing. */
static const char **
wb_stale_keywords(struct wb_run *run, const struct wb_unit *u, size_t n)
{
	const char **del = NULL;
	size_t k = 0, cap = 0;

	for (size_t i = 0; i < n; i++) {
		char *list = arena_strdup(run->arena, u[i].ours), *save = NULL, *kw;

		for (kw = strtok_r(list, " ", &save); kw != NULL; kw = strtok_r(NULL, " ", &save)) {
			size_t j;

			if (util_strcaseeq(kw, u->arg))
				continue;
			for (j = 0; j < k && !util_strcaseeq(del[j], kw); j++)
				;
			if (j < k)
				continue;
			if (k + 1 >= cap) {
				const char **more = arena_calloc(run->arena, cap = cap * 2 + 8,
				    sizeof *more);

				if (k > 0)
					memcpy(more, del, k * sizeof *del);
				del = more;
			}
			del[k++] = kw;
			del[k] = NULL;
		}
	}
	return del;
}

/* The commands of one group: units[0..n) share folder, operation and destination. */
static enum provider_status
wb_group_send(struct wb_run *run, const struct wb_unit *u, const uint32_t *uids, size_t n)
{
	enum provider_status s;

	if ((s = wb_select(run, u->folder, NULL)) != PROVIDER_OK)
		return s;
	switch (u->op) {
	case WB_KEYWORD: {
		const char *add[2] = { u->arg, NULL };
		const char **del = wb_stale_keywords(run, u, n);

		run->st->commands++;
		if ((s = run->p.ops->set_flags(&run->p, uids, n, add, 1)) != PROVIDER_OK)
			return wb_failed(run, s, "setting the keyword in", u->folder);
		if (del != NULL) {
			run->st->commands++;
			if ((s = run->p.ops->set_flags(&run->p, uids, n, del, 0)) != PROVIDER_OK)
				return wb_failed(run, s, "clearing keywords in", u->folder);
		}
		break;
	}
	case WB_FLAGS: {
		const char *add[3] = { NULL, NULL, NULL };
		char *list = arena_strdup(run->arena, u->arg), *save = NULL;

		add[0] = strtok_r(list, " ", &save);
		if (add[0] != NULL)
			add[1] = strtok_r(NULL, " ", &save);
		run->st->commands++;
		if ((s = run->p.ops->set_flags(&run->p, uids, n, add, 1)) != PROVIDER_OK)
			return wb_failed(run, s, "setting flags in", u->folder);
		break;
	}
	case WB_COPY:
		if ((s = wb_transfer(run, uids, n, u->arg, 0)) != PROVIDER_OK)
			return s;
		break;
	case WB_MOVE:
		return wb_transfer(run, uids, n, u->arg, 1);
	}
	return u->away != NULL ? wb_transfer(run, uids, n, u->away, 1) : PROVIDER_OK;
}

static int
wb_sql(struct wb_run *run, const char *sql, int n, const char *const *p)
{
	return pq_run(run->c, "write-back", sql, n, p, run->err, sizeof run->err) < 0 ? -1 : 0;
}

/* A PostgreSQL array literal's element, quoted. */
static void
wb_array_text(struct buf *b, const char *s)
{
	buf_puts(b, b->len > 1 ? ",\"" : "\"");
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			buf_putc(b, '\\');
		buf_putc(b, *s);
	}
	buf_putc(b, '"');
}

/* written_back of the messages msgs[idx...] (their units all done), each if its
 * category is still the one written; in the actions' pass, actions_applied_rule, each if
 * the same rule still decides it. */
static int
wb_record(struct wb_run *run, const size_t *idx, size_t n)
{
	struct buf ids, cats, targets;
	const char *p[4];
	long r;

	buf_init(&ids, run->arena);
	buf_init(&cats, run->arena);
	buf_init(&targets, run->arena);
	buf_putc(&ids, '{');
	buf_putc(&cats, '{');
	buf_putc(&targets, '{');
	for (size_t i = 0; i < n; i++) {
		const struct wb_msg *m = &run->msgs[idx[i]];

		buf_printf(&ids, "%s%s", i > 0 ? "," : "", m->id);
		wb_array_text(&cats, m->category);
		wb_array_text(&targets, m->target);
	}
	buf_putc(&ids, '}');
	buf_putc(&cats, '}');
	buf_putc(&targets, '}');
	p[0] = run->s_user;
	p[1] = ids.data;
	p[2] = cats.data;
	p[3] = targets.data;
	r = pq_run(run->c, "write-back", run->actions ?
	    "UPDATE mail_messages m SET actions_applied_rule = v.target::bigint "
	    "FROM unnest($2::bigint[], $3::text[], $4::text[]) AS v(id, category, target) "
	    "WHERE m.id = v.id AND m.user_id = $1 AND m.category_rule_id = v.category::bigint" :
	    "UPDATE mail_messages m SET written_back = v.target "
	    "FROM unnest($2::bigint[], $3::text[], $4::text[]) AS v(id, category, target) "
	    "WHERE m.id = v.id AND m.user_id = $1 AND m.category = v.category", 4, p,
	    run->err, sizeof run->err);
	if (r < 0)
		return -1;
	*(run->actions ? &run->st->actions : &run->st->messages) += (size_t)r;
	return 0;
}

/* The stored flags of the group's locations (folder $1, user $2, UIDs $3) and of the
 * messages that point at them become set: the server's now, so that the sync sees no
 * change. */
static int
wb_record_flags(struct wb_run *run, const char *set, const char *const *p)
{
	char *sql = xasprintf("UPDATE mail_locations SET flags = %s WHERE folder_id = $1 "
	    "AND user_id = $2 AND uid = ANY($3::bigint[])", set);
	char *sql2 = xasprintf("UPDATE mail_messages SET flags = %s WHERE folder_id = $1 "
	    "AND user_id = $2 AND uid = ANY($3::bigint[])", set);
	int rc = wb_sql(run, sql, 4, p) != 0 || wb_sql(run, sql2, 4, p) != 0 ? -1 : 0;

	free(sql);
	free(sql2);
	return rc;
}

/* Records a group the server confirmed, in one transaction. */
static int
wb_group_record(struct wb_run *run, const struct wb_unit *u, size_t n, const char *uids)
{
	char s_folder[24];
	const char *p[4] = { s_folder, run->s_user, uids, u->arg };
	int gone = u->op == WB_MOVE || u->away != NULL;

	snprintf(s_folder, sizeof s_folder, "%" PRId64, u->folder_id);
	if (wb_sql(run, "BEGIN", 0, NULL) != 0)
		return -1;
	if (gone) {
		/* These UIDs left the folder: their locations go; a message that points at
		 * one points at another it has. One left with none keeps its row: the sync
		 * finds it in its new folder. */
		if (wb_sql(run, "DELETE FROM mail_locations WHERE folder_id = $1 AND user_id = $2 "
		    "AND uid = ANY($3::bigint[])", 3, p) != 0 ||
		    wb_sql(run, "UPDATE mail_messages m SET folder_id = l.folder_id, uid = l.uid, "
		    "flags = l.flags FROM (SELECT DISTINCT ON (message_id) message_id, folder_id, "
		    "uid, flags FROM mail_locations WHERE user_id = $2 AND message_id IN "
		    "(SELECT id FROM mail_messages WHERE folder_id = $1 AND user_id = $2 AND "
		    "uid = ANY($3::bigint[])) ORDER BY message_id, folder_id, uid) l "
		    "WHERE m.id = l.message_id AND m.user_id = $2 AND m.folder_id = $1 "
		    "AND m.uid = ANY($3::bigint[])", 3, p) != 0)
			goto failed;
		/* A rule moved them to a folder of the user's that the sync does not read
		 * (only INBOX, Sent, Archive and label folders): those left with no location
		 * point at none, so that the sync does not take them for expunged. */
		if (run->actions && u->op == WB_MOVE && (run->archive == NULL ||
		    strcmp(u->arg, run->archive) != 0) && wb_sql(run, "UPDATE mail_messages "
		    "SET folder_id = NULL, uid = NULL WHERE folder_id = $1 AND user_id = $2 "
		    "AND uid = ANY($3::bigint[])", 3, p) != 0)
			goto failed;
	} else if (u->op == WB_KEYWORD) {
		if (wb_record_flags(run, "array(SELECT f FROM unnest(flags) f WHERE "
		    "lower(f) NOT LIKE '" WRITEBACK_KEYWORD_PREFIX "%') || $4::text", p) != 0)
			goto failed;
	} else if (u->op == WB_FLAGS) {
		/* A rule's flags, those the location lacks. */
		if (wb_record_flags(run, "flags || array(SELECT w FROM unnest(string_to_array("
		    "$4, ' ')) w WHERE lower(w) <> ALL(array(SELECT lower(x) FROM unnest(flags) "
		    "x)))", p) != 0)
			goto failed;
	}
	/* written_back, for the messages whose every unit is done. */
	{
		size_t *idx = arena_calloc(run->arena, n + 1, sizeof *idx), k = 0;

		for (size_t i = 0; i < n; i++) {
			struct wb_msg *m = &run->msgs[u[i].msg];

			if (++m->done == m->units)
				idx[k++] = u[i].msg;
		}
		if (k > 0 && wb_record(run, idx, k) != 0)
			goto failed;
	}
	return wb_sql(run, "COMMIT", 0, NULL);
failed:
	PQclear(PQexec(run->c, "ROLLBACK"));
	return -1;
}

/* The pending messages of a batch with their locations, in folders that did not refuse:
 * $7 true: label folders, false: keywords, NULL: either (is there anything at all?). */
static const char writeback_sql_pending[] =
	"WITH b AS (SELECT m.id, m.category, m.written_back, $3 || m.category AS keyword, "
	"$4 || translate(c.name, $5, $6) AS label FROM mail_messages m JOIN categories c "
	"ON c.user_id = m.user_id AND c.slug = m.category WHERE m.user_id = $1 "
	"AND m.account_id = $2 AND m.category IS NOT NULL), "
	"p AS (SELECT * FROM b WHERE b.written_back IS DISTINCT FROM "
	"(CASE WHEN $7::boolean THEN b.label ELSE b.keyword END) AND ($7::boolean IS NOT NULL "
	"OR b.written_back IS DISTINCT FROM b.label) AND EXISTS (SELECT 1 FROM mail_locations l "
	"WHERE l.message_id = b.id AND l.user_id = $1 AND l.folder_id <> ALL($8::bigint[])) "
	"ORDER BY b.id LIMIT $9) "
	"SELECT p.id, p.category, p.keyword, p.label, p.written_back, l.folder_id, f.name, "
	"f.role, l.uid, array_to_string(array(SELECT lower(x) FROM unnest(l.flags) x "
	"WHERE lower(x) LIKE '" WRITEBACK_KEYWORD_PREFIX "%'), ' ') FROM p JOIN mail_locations l ON l.message_id = p.id AND l.user_id = $1 "
	"JOIN mail_folders f ON f.id = l.folder_id AND f.user_id = $1 "
	"WHERE l.folder_id <> ALL($8::bigint[]) "
	"ORDER BY p.id, (f.role = 'inbox') DESC, f.name, l.uid";

static PGresult *
wb_pending(struct wb_run *run, const char *mode, int limit)
{
	char s_limit[16], kw[sizeof WRITEBACK_KEYWORD_PREFIX];
	const char *p[9];

	snprintf(s_limit, sizeof s_limit, "%d", limit);
	snprintf(kw, sizeof kw, "%s", WRITEBACK_KEYWORD_PREFIX);
	p[0] = run->s_user;
	p[1] = run->s_account;
	p[2] = kw;
	p[3] = run->l.prefix;
	p[4] = run->l.from;
	p[5] = run->l.to;
	p[6] = mode;
	p[7] = arena_printf(run->arena, "%s}", run->excluded.data);
	p[8] = s_limit;
	return pq_exec(run->c, "write-back", writeback_sql_pending, 9, p, run->err,
	    sizeof run->err);
}

/* The messages of a batch whose deciding rule's actions wait, with their locations in
 * folders that did not refuse, in wb_pending's columns where they mean the same: the
 * id, the rule, the destination (NULL: none; "": Archive; a move's folder wins over
 * archive), folder_id, name, role, uid, and the flags of the rule that the location
 * lacks, space-separated. */
static const char writeback_sql_actions[] =
	"WITH p AS (SELECT m.id, m.category_rule_id AS rule, r.actions FROM mail_messages m "
	"JOIN triage_rules r ON r.id = m.category_rule_id AND r.user_id = m.user_id "
	"WHERE m.user_id = $1 AND m.account_id = $2 AND " WB_ACTIONS_WAITING " "
	"AND EXISTS (SELECT 1 FROM mail_locations l WHERE l.message_id = m.id "
	"AND l.user_id = $1 AND l.folder_id <> ALL($3::bigint[])) ORDER BY m.id LIMIT $4), "
	"a AS (SELECT p.id, p.rule, concat_ws(' ', CASE WHEN p.actions @> "
	"'[{\"type\": \"mark_read\"}]' THEN '\\Seen' END, CASE WHEN p.actions @> "
	"'[{\"type\": \"star\"}]' THEN '\\Flagged' END) AS want, coalesce((SELECT "
	"e.x->>'folder' FROM jsonb_array_elements(p.actions) WITH ORDINALITY AS e(x, n) "
	"WHERE e.x->>'type' = 'move' ORDER BY e.n LIMIT 1), CASE WHEN p.actions @> "
	"'[{\"type\": \"archive\"}]' THEN '' END) AS dest FROM p) "
	"SELECT a.id, a.rule, a.dest, NULL, NULL, l.folder_id, f.name, f.role, l.uid, "
	"array_to_string(array(SELECT w FROM unnest(string_to_array(a.want, ' ')) w "
	"WHERE lower(w) <> ALL(array(SELECT lower(x) FROM unnest(l.flags) x))), ' ') "
	"FROM a JOIN mail_locations l ON l.message_id = a.id AND l.user_id = $1 "
	"JOIN mail_folders f ON f.id = l.folder_id AND f.user_id = $1 "
	"WHERE l.folder_id <> ALL($3::bigint[]) "
	"ORDER BY a.id, (f.role = 'inbox') DESC, f.name, l.uid";

static PGresult *
wb_actions_pending(struct wb_run *run, int limit)
{
	char s_limit[16];
	const char *p[4];

	snprintf(s_limit, sizeof s_limit, "%d", limit);
	p[0] = run->s_user;
	p[1] = run->s_account;
	p[2] = arena_printf(run->arena, "%s}", run->excluded.data);
	p[3] = s_limit;
	return pq_exec(run->c, "write-back", writeback_sql_actions, 4, p, run->err,
	    sizeof run->err);
}

/* Unit u: row of r (wb_pending's columns) and what to do there. */
static void
wb_unit_at(struct wb_unit *u, const PGresult *r, int row, size_t m, enum wb_op op,
    const char *arg, const char *away)
{
	u->msg = m;
	u->folder_id = strtoll(PQgetvalue(r, row, 5), NULL, 10);
	u->folder = PQgetvalue(r, row, 6);
	u->uid = (uint32_t)strtoul(PQgetvalue(r, row, 8), NULL, 10);
	u->op = op;
	u->arg = arg;
	u->away = away;
	u->ours = NULL;
}

/* The units of the rule's actions on message m (rows [first, end) of
 * writeback_sql_actions): its flags on every location that lacks them, then a move of
 * its INBOX copy. A message not in INBOX stays where the user (or an earlier rule) put
 * it; archive without an Archive folder is skipped with a warning. Returns how many. */
static size_t
wb_actions_plan(struct wb_run *run, const PGresult *r, int first, int end, size_t m,
    struct wb_unit *units)
{
	const char *dest = PQgetisnull(r, first, 2) ? NULL : PQgetvalue(r, first, 2);
	int inbox = -1, there = 0;
	size_t n = 0;

	if (dest != NULL && *dest == '\0') {
		if (run->archive == NULL)
			log_warn("write-back: account %s: rule %s archives message %s, but the "
			    "account has no Archive folder: not moved", run->s_account,
			    PQgetvalue(r, first, 1), PQgetvalue(r, first, 0));
		dest = run->archive;
	}
	for (int i = first; i < end; i++) {
		if (*PQgetvalue(r, i, 9) != '\0')
			wb_unit_at(&units[n++], r, i, m, WB_FLAGS, PQgetvalue(r, i, 9), NULL);
		if (inbox < 0 && strcmp(PQgetvalue(r, i, 7), "inbox") == 0)
			inbox = i;
		if (dest != NULL && strcmp(PQgetvalue(r, i, 6), dest) == 0)
			there = 1;
	}
	if (dest != NULL && inbox >= 0 && !there)
		wb_unit_at(&units[n++], r, inbox, m, WB_MOVE, dest, NULL);
	return n;
}

/* Adds the units of message m (rows [first, end) of r) to units; returns how many. */
static size_t
wb_plan(struct wb_run *run, const PGresult *r, int first, int end, size_t m,
    struct wb_unit *units)
{
	const char *cat = PQgetvalue(r, first, 1), *label = PQgetvalue(r, first, 3);
	const char *old = PQgetisnull(r, first, 4) ? NULL : PQgetvalue(r, first, 4);
	int inbox = -1, oldrow = -1, src = -1, in_target = 0;
	size_t n = 0;

#define WB_UNIT(row, o, a, aw) do {						\
	wb_unit_at(&units[n], r, (row), m, (o), (a), (aw));			\
	units[n].ours = arena_printf(run->arena, "%s %s", PQgetvalue(r, (row), 9), \
	    old != NULL && strncmp(old, WRITEBACK_KEYWORD_PREFIX,		\
	    strlen(WRITEBACK_KEYWORD_PREFIX)) == 0 ? old : "");		\
	n++;									\
} while (0)

	for (int i = first; i < end; i++) {
		const char *folder = PQgetvalue(r, i, 6);
		int is_inbox = strcmp(PQgetvalue(r, i, 7), "inbox") == 0;

		if (!run->labels) {
			/* Every copy gets the keyword; INBOX's may then leave. */
			WB_UNIT(i, WB_KEYWORD, PQgetvalue(r, i, 2), run->move && is_inbox &&
			    wb_moves_away(cat) ? (run->archive != NULL ? run->archive : label) :
			    NULL);
			continue;
		}
		if (is_inbox && inbox < 0)
			inbox = i;
		if (strcmp(folder, label) == 0)
			in_target = 1;
		else if (old != NULL && strcmp(folder, old) == 0)
			oldrow = i;
		else if (src < 0 && strncmp(folder, run->l.prefix, strlen(run->l.prefix)) != 0)
			src = i;
	}
	if (!run->labels)
		return n;
	if (inbox >= 0)
		src = inbox;
	if (src < 0)
		src = oldrow >= 0 ? oldrow : first;
	if (run->move && src == inbox && wb_moves_away(cat)) {
		if (run->archive != NULL && !in_target)
			WB_UNIT(src, WB_COPY, label, run->archive);
		else if (run->archive != NULL)
			WB_UNIT(src, WB_MOVE, run->archive, NULL);
		else if (!in_target)
			WB_UNIT(src, WB_MOVE, label, NULL);
	} else if (!in_target && oldrow >= 0) {
		/* Our label of the category before: it moves to the new one. */
		WB_UNIT(oldrow, WB_MOVE, label, NULL);
	} else if (!in_target) {
		WB_UNIT(src, WB_COPY, label, NULL);
	}
#undef WB_UNIT
	return n;
}

/* A folder that refused (or went) is left alone for the rest of the run. */
static void
wb_exclude(struct wb_run *run, int64_t folder_id)
{
	log_warn("write-back: account %s: %s", run->s_account, run->err);
	buf_printf(&run->excluded, "%s%" PRId64, run->excluded.len > 1 ? "," : "", folder_id);
}

/* One batch: plans, sends and records. Returns how many messages it had (0: nothing
 * left), or -1 with run->err. */
static long
wb_batch(struct wb_run *run, const atomic_int *stop)
{
	PGresult *r = run->actions ? wb_actions_pending(run, WRITEBACK_BATCH) :
	    wb_pending(run, run->labels ? "true" : "false", WRITEBACK_BATCH);
	struct wb_unit *units;
	size_t nunits = 0, *zero, nzero = 0;
	int rows;
	long rc = -1;

	if (r == NULL)
		return -1;
	rows = PQntuples(r);
	units = xcalloc((size_t)rows + 1, sizeof *units);
	run->msgs = xcalloc((size_t)rows + 1, sizeof *run->msgs);
	zero = xcalloc((size_t)rows + 1, sizeof *zero);
	run->nmsgs = 0;
	for (int i = 0, j; i < rows; i = j) {
		struct wb_msg *m = &run->msgs[run->nmsgs];

		for (j = i + 1; j < rows && strcmp(PQgetvalue(r, j, 0), PQgetvalue(r, i, 0)) == 0;
		    j++)
			;
		m->id = PQgetvalue(r, i, 0);
		m->category = PQgetvalue(r, i, 1);
		m->target = run->actions ? m->category : PQgetvalue(r, i, run->labels ? 3 : 2);
		m->units = (int)(run->actions ? wb_actions_plan : wb_plan)(run, r, i, j,
		    run->nmsgs, units + nunits);
		nunits += (size_t)m->units;
		if (m->units == 0)
			zero[nzero++] = run->nmsgs;	/* already where it belongs */
		run->nmsgs++;
	}
	if (nzero > 0 && (wb_sql(run, "BEGIN", 0, NULL) != 0 || wb_record(run, zero, nzero) != 0 ||
	    wb_sql(run, "COMMIT", 0, NULL) != 0))
		goto out;
	qsort(units, nunits, sizeof *units, wb_unit_cmp);
	for (size_t i = 0, j; i < nunits; i = j) {
		uint32_t *uids;
		struct buf set;
		enum provider_status s;

		for (j = i + 1; j < nunits && wb_same_group(&units[i], &units[j]); j++)
			;
		if (stop != NULL && atomic_load(stop))
			break;
		uids = arena_calloc(run->arena, j - i, sizeof *uids);
		buf_init(&set, run->arena);
		buf_putc(&set, '{');
		for (size_t k = i; k < j; k++) {
			uids[k - i] = units[k].uid;
			buf_printf(&set, "%s%" PRIu32, k > i ? "," : "", units[k].uid);
		}
		buf_putc(&set, '}');
		s = wb_group_send(run, &units[i], uids, j - i);
		if (s == PROVIDER_REFUSED || s == PROVIDER_GONE) {
			int64_t f = units[i].folder_id;

			wb_exclude(run, f);
			while (j < nunits && units[j].folder_id == f)
				j++;
			continue;
		}
		if (s != PROVIDER_OK)
			goto out;
		if (wb_group_record(run, &units[i], j - i, set.data) != 0)
			goto out;
	}
	rc = (long)run->nmsgs;
out:
	if (PQtransactionStatus(run->c) != PQTRANS_IDLE)
		PQclear(PQexec(run->c, "ROLLBACK"));
	arena_reset(run->arena);
	free(zero);
	free(units);
	free(run->msgs);
	run->msgs = NULL;
	PQclear(r);
	return rc;
}

/* The server's INBOX and Archive and the delimiter; which of keywords or labels. */
static enum provider_status
wb_folders(struct wb_run *run)
{
	struct provider_folder *list = NULL;
	enum provider_status s;
	size_t n = 0;
	int keywords = 1;

	if ((s = run->p.ops->list_folders(&run->p, &list, &n)) != PROVIDER_OK) {
		snprintf(run->err, sizeof run->err, "listing folders: %s", run->p.error);
		return s;
	}
	run->delim = '/';
	for (size_t i = 0; i < n; i++) {
		if (list[i].role == FOLDER_INBOX && run->inbox == NULL) {
			run->inbox = xstrdup(list[i].name);
			run->delim = list[i].delimiter;
		} else if (list[i].role == FOLDER_ARCHIVE && list[i].selectable &&
		    run->archive == NULL) {
			run->archive = xstrdup(list[i].name);
		}
	}
	for (size_t i = 0; i < n; i++)
		free(list[i].name);
	free(list);
	if (run->inbox == NULL)
		run->inbox = xstrdup("INBOX");
	if ((s = wb_select(run, run->inbox, &keywords)) != PROVIDER_OK)
		return s;
	run->labels = !keywords || writeback_force_labels;
	run->st->labels = run->labels;
	writeback_label_sql(&run->l, run->delim);
	return PROVIDER_OK;
}

/* What the account's writeback is ('off', 'label', 'label_move'), and whether anything
 * waits (categories, or rules' actions; delimiter of the stored INBOX); 0 nothing to do,
 * 1 work, -1 error. */
static int
wb_account_needs(struct wb_run *run)
{
	const char *p[2] = { run->s_account, run->s_user };
	PGresult *r;
	int off, work = 0;
	char delim = '/';

	r = pq_exec(run->c, "write-back", "SELECT a.writeback, (SELECT f.delimiter FROM "
	    "mail_folders f WHERE f.account_id = a.id AND f.user_id = a.user_id AND "
	    "f.role = 'inbox' LIMIT 1) FROM mail_accounts a WHERE a.id = $1 AND a.user_id = $2",
	    2, p, run->err, sizeof run->err);
	if (r == NULL)
		return -1;
	if (PQntuples(r) == 0) {
		PQclear(r);
		return 0;
	}
	off = strcmp(PQgetvalue(r, 0, 0), "off") == 0;
	run->move = strcmp(PQgetvalue(r, 0, 0), "label_move") == 0;
	if (!PQgetisnull(r, 0, 1))
		delim = PQgetvalue(r, 0, 1)[0];
	PQclear(r);
	run->off = off;
	writeback_label_sql(&run->l, delim);
	/* A rule's actions are the user's explicit wish: applied even when 'off'. */
	if (!off) {
		if ((r = wb_pending(run, NULL, 1)) == NULL)
			return -1;
		work = PQntuples(r) > 0;
		PQclear(r);
	}
	if (!work) {
		if ((r = wb_actions_pending(run, 1)) == NULL)
			return -1;
		work = PQntuples(r) > 0;
		PQclear(r);
	}
	return work;
}

int
writeback_account(PGconn *c, const struct vault *v, int64_t user_id, int64_t account_id,
    const atomic_int *stop, struct writeback_stats *st, char *err, size_t errlen)
{
	struct writeback_stats ignored;
	struct wb_run run;
	enum provider_status s;
	int rc = -1, r, locked = 0;
	long n = 0;

	err[0] = '\0';
	memset(&run, 0, sizeof run);
	memset(st != NULL ? st : &ignored, 0, sizeof ignored);
	run.c = c;
	run.st = st != NULL ? st : &ignored;
	snprintf(run.s_user, sizeof run.s_user, "%" PRId64, user_id);
	snprintf(run.s_account, sizeof run.s_account, "%" PRId64, account_id);
	run.arena = arena_new(1 << 16);
	/* The excluded list outlives the batches' arena resets. */
	run.keep = arena_new(1 << 12);
	buf_init(&run.excluded, run.keep);
	buf_putc(&run.excluded, '{');

	r = mailacct_load(c, v, user_id, account_id, &run.acct, run.err, sizeof run.err);
	if (r != 1) {
		snprintf(err, errlen, "write-back: %s", r == 0 ? "no such mail account" : run.err);
		arena_free(run.keep);
		arena_free(run.arena);
		return r == 0 ? -2 : -1;
	}
	if (strcmp(run.acct.provider, "imap") != 0) {
		snprintf(err, errlen, "write-back: accounts of kind %s have no mailbox to write",
		    run.acct.provider);
		rc = -2;
		goto free;
	}
	if ((r = wb_account_needs(&run)) <= 0) {
		rc = r;
		goto free;
	}
	/* Not while the account's sync runs: it would see our moves half done. */
	if ((r = writeback_mailbox_lock(c, account_id, 0)) != 1) {
		snprintf(run.err, sizeof run.err, "%s", r == 0 ? "the account is being synced: "
		    "tried again later" : "the mailbox lock failed");
		goto free;
	}
	locked = 1;
	if (imap_provider_init(&run.p, &run.acct.imap) != 0) {
		snprintf(run.err, sizeof run.err, "out of memory");
		goto free;
	}
	if ((s = run.p.ops->connect(&run.p)) != PROVIDER_OK) {
		snprintf(run.err, sizeof run.err, "%s", run.p.error);
		rc = s == PROVIDER_AUTH ? -2 : -1;
		goto close;
	}
	if (wb_folders(&run) != PROVIDER_OK)
		goto close;
	/* The rules' actions first: a message they move gets its category where it went. */
	for (run.actions = 1; run.actions >= 0; run.actions--) {
		if (!run.actions && run.off)
			break;
		while ((n = wb_batch(&run, stop)) > 0) {
			if (stop != NULL && atomic_load(stop))
				break;
		}
		if (n != 0)
			break;
	}
	if (n == 0 || (n > 0 && stop != NULL && atomic_load(stop)))
		rc = 0;
close:
	run.p.ops->close(&run.p);
free:
	if (locked)
		writeback_mailbox_unlock(c, account_id);
	if (rc == -1 || (rc == -2 && err[0] == '\0'))
		snprintf(err, errlen, "write-back: %s", run.err);
	mailacct_free(&run.acct);
	for (size_t i = 0; i < run.ncreated; i++)
		free(run.created[i]);
	free(run.created);
	free(run.open);
	free(run.inbox);
	free(run.archive);
	arena_free(run.keep);
	arena_free(run.arena);
	return rc;
}
