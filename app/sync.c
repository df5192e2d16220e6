/* sync.c: one account's sync (sync.h). The database side of it: folders and their
 * cursors, locations (sql/0004_sync.up.sql), messages through ingest.c, and the
 * reconciliation of flags and expunges.
 *
 * Cursor rules, which make an interrupted run safe to resume:
 * - The provider delivers the messages of a range newest first, so what one run stored of
 *   a range is always its top: the range's cursor (backfill_low_uid walking down, uidnext)
 *   moves in the transaction that stores the messages below it, every SYNC_COMMIT_EVERY
 *   messages, and never past a message not stored.
 * - New mail is the range [uidnext, UIDNEXT now). A run cut short in it leaves a stored
 *   top [lo, hi] above uidnext; the next run fetches [uidnext, lo) first, sets uidnext to
 *   hi + 1, then fetches what is above hi: the stored part stays one top segment.
 * - HIGHESTMODSEQ moves only when a whole pass of changes has been applied.
 *
 * A message whose last location goes keeps its row until the run has seen every folder
 * (sync_reap): moved from INBOX to Archive, it is found again in Archive whichever folder
 * comes first, and its category and history stay. What the user did in their own mail
 * client that names a category (doc/sync.md, "Corrections made in the mailbox") is a
 * correction: a keyword of ours changed (sync_changes_flush), a message moved out of
 * INBOX into a category's folder or into Archive (sync_mailbox_moves). The account's
 * write-back waits while its sync runs (writeback_mailbox_lock). */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "arena.h"
#include "imap.h"
#include "ingest.h"
#include "mailacct.h"
#include "pq.h"
#include "sync.h"
#include "triage.h"
#include "util.h"
#include "writeback.h"

#define SYNC_COMMIT_EVERY	50	/* messages stored per transaction */
#define SYNC_CHANGES_EVERY	500	/* flag changes or expunges applied per statement */

enum sync_mode { SYNC_BACKFILL, SYNC_NEW };

unsigned sync_ignore_caps;

/* A folder as the database knows it. */
struct sync_folder {
	int64_t id;
	char s_id[24];
	char *name;
	int known;			/* the cursor below is set */
	struct provider_cursor cur;
	uint32_t backfill_low;
	int backfill_done;
	int resync;
	enum provider_folder_role role;
	char slug[TRIAGE_SLUG_SIZE];	/* the category of a label folder, or "" */
};

struct sync_run {
	PGconn *c;
	struct provider p;
	struct mailacct acct;
	int64_t user_id;
	int64_t account_id;
	char s_user[24];
	char s_account[24];
	const atomic_int *stop;
	struct sync_stats *st;
	const char *self[2];
	struct arena *arena;		/* SQL array literals of one batch */
	struct arena *keep;		/* what lives as long as the run */
	struct buf left_inbox;		/* messages whose INBOX location went: "{id,..." */
	char err[1024];
	int db_failed;			/* err holds a database failure */

	/* The fetch in progress. */
	struct sync_folder *f;
	enum sync_mode mode;
	int64_t cutoff;			/* backfill: an internal date before it ends the walk */
	int cut;			/* the cutoff was reached */
	int stopped;			/* stop was asked for */
	size_t in_tx;			/* messages stored in the open transaction */
	uint32_t low;			/* the lowest UID handled by the fetch (0: none) */

	/* The changes in progress. */
	struct buf ch_uids, ch_flags, ch_modseq, gone, present;
	size_t n_flags, n_gone;
	int complete;
};

/* ---- database helpers ----------------------------------------------------------------- */

/* Runs sql with n text parameters; returns the result when it succeeded, else NULL with
 * the database's words in run->err (and run->db_failed set). */
static PGresult *
sync_sql(struct sync_run *run, const char *sql, int n, const char *const *params)
{
	PGresult *r = pq_exec(run->c, "database", sql, n, params, run->err, sizeof run->err);

	if (r == NULL) {
		run->err[strcspn(run->err, "\n")] = '\0';
		run->db_failed = 1;
	}
	return r;
}

static int
sync_run_sql(struct sync_run *run, const char *sql, int n, const char *const *params)
{
	PGresult *r = sync_sql(run, sql, n, params);

	PQclear(r);
	return r == NULL ? -1 : 0;
}

static int
sync_begin(struct sync_run *run)
{
	if (PQtransactionStatus(run->c) == PQTRANS_INTRANS)
		return 0;
	return sync_run_sql(run, "BEGIN", 0, NULL);
}

static int
sync_commit(struct sync_run *run)
{
	if (PQtransactionStatus(run->c) != PQTRANS_INTRANS)
		return 0;
	return sync_run_sql(run, "COMMIT", 0, NULL);
}

static void
sync_rollback(struct sync_run *run)
{
	PGresult *r;

	if (PQtransactionStatus(run->c) == PQTRANS_IDLE)
		return;
	r = PQexec(run->c, "ROLLBACK");
	PQclear(r);
}

static int64_t
sync_int64(const PGresult *r, int row, int col)
{
	if (PQgetisnull(r, row, col))
		return 0;
	return strtoll(PQgetvalue(r, row, col), NULL, 10);
}

/* A PostgreSQL array literal element: double-quoted, with " and \ escaped. */
static void
sync_array_text(struct buf *b, const char *s)
{
	if (b->len > 1)
		buf_putc(b, ',');
	buf_putc(b, '"');
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			buf_putc(b, '\\');
		buf_putc(b, *s);
	}
	buf_putc(b, '"');
}

static void
sync_array_open(struct buf *b, struct arena *a)
{
	buf_init(b, a);
	buf_putc(b, '{');
}

static const char *
sync_array_close(struct buf *b)
{
	buf_putc(b, '}');
	return b->data;
}

/* Whether a flag is worth keeping: \Recent is true only for one session. */
static int
sync_flag_kept(const char *f)
{
	return !util_strcaseeq(f, "\\Recent");
}

/* Flags as one space-separated string (IMAP flags hold no space). */
static void
sync_flags_text(struct buf *b, char *const *flags)
{
	size_t start = b->len;

	for (size_t i = 0; flags != NULL && flags[i] != NULL; i++) {
		if (strchr(flags[i], ' ') != NULL || strchr(flags[i], '"') != NULL ||
		    !sync_flag_kept(flags[i]))
			continue;
		if (b->len > start)
			buf_putc(b, ' ');
		buf_puts(b, flags[i]);
	}
}

/* ---- messages, locations and threads -------------------------------------------------- */

/* After locations of the messages in ids (an array literal) were removed: points each
 * message whose own location went at one it still has. One left with none waits for
 * sync_reap at the end of the run (it may be in a folder not synced yet). */
static int
sync_settle(struct sync_run *run, const char *ids)
{
	const char *p[2] = { ids, run->s_user };

	return sync_run_sql(run,
	    "UPDATE mail_messages m SET folder_id = l.folder_id, uid = l.uid, flags = l.flags "
	    "FROM (SELECT DISTINCT ON (message_id) message_id, folder_id, uid, flags "
	    "FROM mail_locations WHERE message_id = ANY($1::bigint[]) AND user_id = $2 "
	    "ORDER BY message_id, folder_id, uid) l "
	    "WHERE m.id = l.message_id AND m.user_id = $2 AND NOT EXISTS (SELECT 1 FROM "
	    "mail_locations x WHERE x.folder_id = m.folder_id AND x.uid = m.uid "
	    "AND x.message_id = m.id)", 2, p);
}

/* At the end of a run that saw every folder: deletes the account's messages left
 * without a location, with their attachments' metadata, and brings their threads' counts
 * and dates up to date (a thread left empty goes). */
static int
sync_reap(struct sync_run *run)
{
	const char *p[2] = { run->s_account, run->s_user };
	PGresult *r;
	struct buf threads;

	r = sync_sql(run, "DELETE FROM mail_messages m WHERE m.account_id = $1 "
	    "AND m.user_id = $2 AND m.uid IS NOT NULL AND NOT EXISTS (SELECT 1 FROM "
	    "mail_locations l WHERE l.message_id = m.id) RETURNING m.thread_id", 2, p);
	if (r == NULL)
		return -1;
	sync_array_open(&threads, run->arena);
	for (int i = 0; i < PQntuples(r); i++) {
		if (!PQgetisnull(r, i, 0))
			buf_printf(&threads, "%s%s", threads.len > 1 ? "," : "",
			    PQgetvalue(r, i, 0));
	}
	PQclear(r);
	p[0] = sync_array_close(&threads);
	if (sync_run_sql(run,
	    "UPDATE mail_threads t SET message_count = s.n, first_date = s.first, "
	    "last_date = s.last FROM (SELECT t2.id, count(m.id) AS n, "
	    "min(coalesce(m.sent_at, m.received_at)) AS first, "
	    "max(coalesce(m.sent_at, m.received_at)) AS last FROM mail_threads t2 "
	    "LEFT JOIN mail_messages m ON m.thread_id = t2.id AND m.user_id = $2 "
	    "WHERE t2.id = ANY($1::bigint[]) AND t2.user_id = $2 GROUP BY t2.id) s "
	    "WHERE t.id = s.id AND t.user_id = $2", 2, p) != 0)
		return -1;
	return sync_run_sql(run, "DELETE FROM mail_threads WHERE id = ANY($1::bigint[]) "
	    "AND user_id = $2 AND message_count = 0", 2, p);
}

/* Removes the locations of folder f the statement sql selects (its $1 the folder, $2 the
 * user, $3 sql's own argument), then settles their messages. Returns how many went, or -1. */
static long
sync_remove_locations(struct sync_run *run, const char *sql, const char *arg,
    const char *arg2)
{
	const char *p[4] = { run->f->s_id, run->s_user, arg, arg2 };
	PGresult *r;
	struct buf ids;
	long n;

	r = sync_sql(run, sql, arg2 != NULL ? 4 : arg != NULL ? 3 : 2, p);
	if (r == NULL)
		return -1;
	n = PQntuples(r);
	sync_array_open(&ids, run->arena);
	for (long i = 0; i < n; i++) {
		buf_printf(&ids, "%s%s", i > 0 ? "," : "", PQgetvalue(r, (int)i, 0));
		/* Gone from INBOX by the user's doing (not a resync): maybe a move that names
		 * a category (sync_mailbox_moves). */
		if (run->f->role == FOLDER_INBOX && !run->f->resync)
			buf_printf(&run->left_inbox, "%s%s", run->left_inbox.len > 1 ? "," : "",
			    PQgetvalue(r, (int)i, 0));
	}
	PQclear(r);
	if (n > 0 && sync_settle(run, sync_array_close(&ids)) != 0)
		return -1;
	run->st->expunged += (size_t)n;
	return n;
}

/* Stores one fetched message and its location, in the open transaction. */
static int
sync_store(struct sync_run *run, const struct provider_message *m)
{
	char s_uid[16], s_row[24], s_modseq[24], ingest_err[512];
	const char *p[6];
	struct ingest_args a;
	struct ingest_result res;
	struct buf flags;
	const char **kept;
	size_t n;

	for (n = 0; m->flags != NULL && m->flags[n] != NULL; n++)
		;
	kept = arena_calloc(run->arena, n + 1, sizeof *kept);
	for (size_t i = 0, j = 0; i < n; i++) {
		if (sync_flag_kept(m->flags[i]))
			kept[j++] = m->flags[i];
	}
	/* A UID with a location already is a copy fetched before (ingest_message_ex checks
	 * that first); a message stored now gets its location with its modseq. */
	memset(&a, 0, sizeof a);
	a.user_id = run->user_id;
	a.account_id = run->account_id;
	a.folder_id = run->f->id;
	a.uid = m->uid;
	a.raw = m->raw;
	a.len = m->raw_len;
	a.flags = kept;
	a.internal_date = m->internal_date;
	a.self_addresses = run->self;
	a.sync = 1;
	a.modseq = m->modseq;
	if (ingest_message_ex(run->c, &a, &res, ingest_err, sizeof ingest_err) != 0) {
		snprintf(run->err, sizeof run->err, "storing UID %" PRIu32 " of %s: %s", m->uid,
		    run->f->name, ingest_err);
		run->db_failed = 1;
		return -1;
	}
	if (res.inserted) {
		run->st->stored++;
		return 0;
	}
	run->st->known++;
	if (res.known_location)
		return 0;

	/* A message already known (from another folder, or before a resync): this copy is
	 * one more location of it. */
	snprintf(s_uid, sizeof s_uid, "%" PRIu32, m->uid);
	snprintf(s_row, sizeof s_row, "%" PRId64, res.row);
	sync_array_open(&flags, run->arena);
	for (size_t i = 0; kept[i] != NULL; i++)
		sync_array_text(&flags, kept[i]);
	p[0] = run->f->s_id;
	p[1] = s_uid;
	p[2] = s_row;
	p[3] = run->s_user;
	p[4] = sync_array_close(&flags);
	if (m->modseq > 0) {
		snprintf(s_modseq, sizeof s_modseq, "%" PRIu64, m->modseq);
		p[5] = s_modseq;
	} else {
		p[5] = NULL;
	}
	if (sync_run_sql(run, "INSERT INTO mail_locations (folder_id, uid, message_id, "
	    "user_id, flags, modseq) VALUES ($1, $2, $3, $4, $5::text[], $6::numeric) "
	    "ON CONFLICT (folder_id, uid) DO UPDATE SET message_id = EXCLUDED.message_id, "
	    "flags = EXCLUDED.flags, modseq = EXCLUDED.modseq", 6, p) != 0)
		return -1;
	/* Its own location gone, it points here now; one that points here takes these
	 * flags. */
	if (sync_run_sql(run, "UPDATE mail_messages m SET folder_id = $1, "
	    "uid = $2, flags = $5::text[] WHERE m.id = $3 AND m.user_id = $4 AND ("
	    "m.folder_id IS NULL OR m.uid IS NULL OR (m.folder_id = $1 AND m.uid = $2) OR "
	    "NOT EXISTS (SELECT 1 FROM mail_locations "
	    "x WHERE x.folder_id = m.folder_id AND x.uid = m.uid AND x.message_id = m.id))",
	    5, p) != 0)
		return -1;
	return 0;
}

/* Commits the open transaction with the fetch's cursor: the backfill's low-water mark
 * (the new-mail cursor moves only when its range is done, sync_new). */
static int
sync_checkpoint(struct sync_run *run)
{
	if (run->mode == SYNC_BACKFILL && run->low > 0) {
		char s_low[16];
		const char *p[3] = { s_low, run->f->s_id, run->s_user };

		snprintf(s_low, sizeof s_low, "%" PRIu32, run->low);
		if (sync_run_sql(run, "UPDATE mail_folders SET backfill_low_uid = $1 "
		    "WHERE id = $2 AND user_id = $3", 3, p) != 0)
			return -1;
		run->f->backfill_low = run->low;
	}
	run->in_tx = 0;
	arena_reset(run->arena);
	return sync_commit(run);
}

static int
sync_each_message(void *arg, const struct provider_message *m)
{
	struct sync_run *run = arg;

	if (run->stop != NULL && atomic_load(run->stop)) {
		run->stopped = 1;
		return 1;
	}
	if (run->mode == SYNC_BACKFILL && run->cutoff > 0 && m->internal_date > 0 &&
	    m->internal_date < run->cutoff) {
		run->cut = 1;
		return 1;
	}
	run->st->fetched++;
	run->st->bytes += m->raw_len;
	if (sync_begin(run) != 0 || sync_store(run, m) != 0)
		return 1;
	run->low = m->uid;
	if (++run->in_tx >= SYNC_COMMIT_EVERY && sync_checkpoint(run) != 0)
		return 1;
	return 0;
}

/* Fetches [from, to] of the open folder newest first, at most max (0: all). Returns the
 * provider's status; run->db_failed tells a database failure apart. What was stored is
 * committed whatever happens, with the backfill cursor. */
static enum provider_status
sync_fetch(struct sync_run *run, enum sync_mode mode, uint32_t from, uint32_t to,
    size_t max)
{
	enum provider_status s;

	run->mode = mode;
	run->low = 0;
	run->in_tx = 0;
	run->cut = 0;
	run->stopped = 0;
	if (from == 0)
		from = 1;
	if (to < from)
		return PROVIDER_OK;
	s = run->p.ops->fetch(&run->p, from, to, max, sync_each_message, run);
	if (run->db_failed) {
		sync_rollback(run);
		return PROVIDER_PROTOCOL;
	}
	if (sync_checkpoint(run) != 0) {
		sync_rollback(run);
		return PROVIDER_PROTOCOL;
	}
	if (s != PROVIDER_OK)
		snprintf(run->err, sizeof run->err, "%s: %s", run->f->name, run->p.error);
	return s;
}

/* ---- folders -------------------------------------------------------------------------- */

static int
sync_folder_cursor(struct sync_run *run, const struct provider_cursor *now,
    uint32_t backfill_low, int resync)
{
	char s_v[16], s_next[16], s_mod[24], s_low[16];
	const char *p[7] = { run->f->s_id, run->s_user, s_v, s_next, NULL, s_low,
	    resync ? "true" : "false" };

	snprintf(s_v, sizeof s_v, "%" PRIu32, now->uidvalidity);
	snprintf(s_next, sizeof s_next, "%" PRIu32, now->uidnext);
	snprintf(s_low, sizeof s_low, "%" PRIu32, backfill_low);
	if (now->modseq > 0) {
		snprintf(s_mod, sizeof s_mod, "%" PRIu64, now->modseq);
		p[4] = s_mod;
	}
	return sync_run_sql(run, "UPDATE mail_folders SET uidvalidity = $3, uidnext = $4, "
	    "highestmodseq = $5::numeric, backfill_low_uid = $6, backfill_done = false, "
	    "resync = $7 WHERE id = $1 AND user_id = $2", 7, p);
}

/* The folder's UIDs are not the ones stored any more: forget its locations (the messages
 * stay, to be matched again by Message-ID) and fetch it again from the top, in full. */
static int
sync_folder_reset(struct sync_run *run, const struct provider_cursor *now)
{
	const char *p[2] = { run->f->s_id, run->s_user };

	log_info("account %" PRId64 ": %s has a new UIDVALIDITY (%" PRIu32 " -> %" PRIu32
	    "): fetching it again", run->account_id, run->f->name, run->f->cur.uidvalidity,
	    now->uidvalidity);
	if (sync_begin(run) != 0 ||
	    sync_run_sql(run, "DELETE FROM mail_locations WHERE folder_id = $1 "
	    "AND user_id = $2", 2, p) != 0 ||
	    sync_folder_cursor(run, now, now->uidnext, 1) != 0 || sync_commit(run) != 0)
		return -1;
	run->f->cur = *now;
	run->f->cur.token = NULL;
	run->f->backfill_low = now->uidnext;
	run->f->backfill_done = 0;
	run->f->resync = 1;
	run->f->known = 1;
	return 0;
}

/* Records a correction the user made in the mailbox (writeback_correct) under a
 * savepoint: one that fails is logged and leaves the rest of the sync alone. */
static int
sync_correct(struct sync_run *run, const char *row, const char *slug)
{
	char err[512];
	int r;

	if (sync_run_sql(run, "SAVEPOINT correction", 0, NULL) != 0)
		return -1;
	r = writeback_correct(run->c, run->user_id, strtoll(row, NULL, 10), slug, err,
	    sizeof err);
	if (r < 0) {
		log_warn("account %" PRId64 ": a correction made in the mailbox was not "
		    "recorded: %s", run->account_id, err);
		return sync_run_sql(run, "ROLLBACK TO SAVEPOINT correction", 0, NULL);
	}
	run->st->corrections += (size_t)r;
	return sync_run_sql(run, "RELEASE SAVEPOINT correction", 0, NULL);
}

/* The keywords of ours among flags, lower case, sorted. */
#define SYNC_OURS(flags) "array(SELECT DISTINCT lower(f) FROM unnest(" flags ") f " \
	"WHERE lower(f) LIKE '" WRITEBACK_KEYWORD_PREFIX "%' ORDER BY 1)"

/* The flag changes of a flush with, for each, our keywords before and after, the
 * message's category and what write-back last wrote. */
static const char sync_sql_flags[] =
	"WITH v AS (SELECT * FROM unnest($3::bigint[], $4::text[], $5::numeric[]) "
	"AS v(uid, flags, modseq)), "
	"o AS (SELECT uid, flags FROM mail_locations WHERE folder_id = $1 AND user_id = $2 "
	"AND uid = ANY($3::bigint[])), "
	"l AS (UPDATE mail_locations l SET flags = string_to_array(v.flags, ' '), "
	"modseq = coalesce(v.modseq, l.modseq) FROM v, o WHERE l.folder_id = $1 "
	"AND l.user_id = $2 AND l.uid = v.uid AND o.uid = v.uid AND NOT (l.flags @> "
	"string_to_array(v.flags, ' ') AND string_to_array(v.flags, ' ') @> l.flags) "
	"RETURNING l.message_id, l.uid, l.flags, o.flags AS old), "
	"m AS (UPDATE mail_messages m SET flags = l.flags FROM l "
	"WHERE m.id = l.message_id AND m.folder_id = $1 AND m.uid = l.uid "
	"AND m.user_id = $2 RETURNING 1) "
	"SELECT l.message_id, k.n_new, k.new_ours[1], k.old_ours <> k.new_ours, "
	"'" WRITEBACK_KEYWORD_PREFIX "to-respond' = ANY(k.old_ours), mm.category, "
	"lower(mm.written_back) FROM l JOIN mail_messages mm ON mm.id = l.message_id "
	"AND mm.user_id = $2 CROSS JOIN LATERAL (SELECT " SYNC_OURS("l.old") " AS old_ours, "
	SYNC_OURS("l.flags") " AS new_ours, cardinality(" SYNC_OURS("l.flags") ") AS n_new) k";

/* A change of our keywords on a location by another client: one keyword of ours, not
 * the one write-back put there, is the category the user chose; "To respond" taken off
 * (and none put instead) means dealt with: Actioned. */
static int
sync_keyword_corrections(struct sync_run *run, const PGresult *r)
{
	char slug[TRIAGE_SLUG_SIZE];

	for (int i = 0; i < PQntuples(r); i++) {
		const char *n_new = PQgetvalue(r, i, 1), *kw = PQgetvalue(r, i, 2);
		const char *cat = PQgetvalue(r, i, 5), *written = PQgetvalue(r, i, 6);
		const char *to = NULL;

		if (strcmp(PQgetvalue(r, i, 3), "t") != 0)
			continue;
		if (strcmp(n_new, "1") == 0 && strcmp(kw, written) != 0 &&
		    writeback_keyword_slug(kw, slug, sizeof slug))
			to = slug;
		else if (strcmp(n_new, "0") == 0 && strcmp(PQgetvalue(r, i, 4), "t") == 0 &&
		    strcmp(cat, "to-respond") == 0)
			to = "actioned";
		if (to != NULL && strcmp(to, cat) != 0 &&
		    sync_correct(run, PQgetvalue(r, i, 0), to) != 0)
			return -1;
	}
	return 0;
}

/* Applies the flag changes and expunges gathered so far. */
static int
sync_changes_flush(struct sync_run *run)
{
	if (run->n_flags > 0) {
		const char *p[5] = { run->f->s_id, run->s_user,
		    sync_array_close(&run->ch_uids), sync_array_close(&run->ch_flags),
		    sync_array_close(&run->ch_modseq) };
		PGresult *r = sync_sql(run, sync_sql_flags, 5, p);
		int rc;

		if (r == NULL)
			return -1;
		run->st->flag_changes += (size_t)PQntuples(r);
		rc = sync_keyword_corrections(run, r);
		PQclear(r);
		if (rc != 0)
			return -1;
	}
	if (run->n_gone > 0 && sync_remove_locations(run, "DELETE FROM mail_locations "
	    "WHERE folder_id = $1 AND user_id = $2 AND uid = ANY($3::bigint[]) "
	    "RETURNING message_id", sync_array_close(&run->gone), NULL) < 0)
		return -1;
	arena_reset(run->arena);
	sync_array_open(&run->ch_uids, run->arena);
	sync_array_open(&run->ch_flags, run->arena);
	sync_array_open(&run->ch_modseq, run->arena);
	sync_array_open(&run->gone, run->arena);
	run->n_flags = 0;
	run->n_gone = 0;
	return 0;
}

static int
sync_each_change(void *arg, const struct provider_change *ch)
{
	struct sync_run *run = arg;
	struct buf flags;

	switch (ch->kind) {
	case CHANGE_FLAGS:
		buf_printf(&run->ch_uids, "%s%" PRIu32, run->n_flags > 0 ? "," : "", ch->uid);
		buf_init(&flags, run->arena);
		sync_flags_text(&flags, ch->flags);
		sync_array_text(&run->ch_flags, flags.data);
		if (ch->modseq > 0)
			buf_printf(&run->ch_modseq, "%s%" PRIu64, run->n_flags > 0 ? "," : "",
			    ch->modseq);
		else
			buf_printf(&run->ch_modseq, "%sNULL", run->n_flags > 0 ? "," : "");
		run->n_flags++;
		/* In a complete listing it is present too. */
		buf_printf(&run->present, "%s%" PRIu32, run->present.len > 1 ? "," : "",
		    ch->uid);
		break;
	case CHANGE_PRESENT:
		buf_printf(&run->present, "%s%" PRIu32, run->present.len > 1 ? "," : "",
		    ch->uid);
		break;
	case CHANGE_EXPUNGED:
		buf_printf(&run->gone, "%s%" PRIu32, run->n_gone > 0 ? "," : "", ch->uid);
		run->n_gone++;
		break;
	}
	if (run->n_flags + run->n_gone >= SYNC_CHANGES_EVERY) {
		/* The present list lives outside the batch arena: keep it. */
		if (sync_begin(run) != 0 || sync_changes_flush(run) != 0 || sync_commit(run) != 0)
			return 1;
	}
	return 0;
}

/* Flags and expunges of the UIDs below the stored uidnext. */
static enum provider_status
sync_changes(struct sync_run *run, const struct provider_cursor *now)
{
	struct arena *present = arena_new(1 << 16);
	enum provider_status s;
	int complete = 0;

	sync_array_open(&run->ch_uids, run->arena);
	sync_array_open(&run->ch_flags, run->arena);
	sync_array_open(&run->ch_modseq, run->arena);
	sync_array_open(&run->gone, run->arena);
	sync_array_open(&run->present, present);
	run->n_flags = run->n_gone = 0;
	s = run->p.ops->changes(&run->p, &run->f->cur, sync_each_change, run, &complete);
	if (run->db_failed) {
		sync_rollback(run);
		arena_free(present);
		return PROVIDER_PROTOCOL;
	}
	if (s == PROVIDER_OK) {
		char s_next[16], s_mod[24];
		const char *p[4] = { run->f->s_id, run->s_user, NULL, NULL };

		if (sync_begin(run) != 0 || sync_changes_flush(run) != 0)
			goto failed;
		if (complete) {
			/* What the listing did not name is gone. */
			snprintf(s_next, sizeof s_next, "%" PRIu32, run->f->cur.uidnext);
			if (sync_remove_locations(run, "DELETE FROM mail_locations "
			    "WHERE folder_id = $1 AND user_id = $2 AND uid < $3::bigint "
			    "AND uid <> ALL($4::bigint[]) RETURNING message_id", s_next,
			    sync_array_close(&run->present)) < 0)
				goto failed;
		}
		if (now->modseq > 0) {
			snprintf(s_mod, sizeof s_mod, "%" PRIu64, now->modseq);
			p[2] = s_mod;
			if (sync_run_sql(run, "UPDATE mail_folders SET highestmodseq = $3::numeric "
			    "WHERE id = $1 AND user_id = $2", 3, p) != 0)
				goto failed;
			run->f->cur.modseq = now->modseq;
		}
		if (sync_commit(run) != 0)
			goto failed;
	} else if (s != PROVIDER_RESYNC) {
		/* Flags applied so far are true: keep them, not the modseq. */
		if (sync_begin(run) != 0 || sync_changes_flush(run) != 0 ||
		    sync_commit(run) != 0)
			goto failed;
		snprintf(run->err, sizeof run->err, "%s: %s", run->f->name, run->p.error);
	}
	arena_free(present);
	arena_reset(run->arena);
	return s;
failed:
	sync_rollback(run);
	arena_free(present);
	return PROVIDER_PROTOCOL;
}

/* Moves the folder's uidnext cursor (in the transaction of the messages below it). */
static int
sync_set_uidnext(struct sync_run *run, uint32_t uidnext)
{
	char s_next[16];
	const char *p[3] = { run->f->s_id, run->s_user, s_next };

	snprintf(s_next, sizeof s_next, "%" PRIu32, uidnext);
	if (sync_run_sql(run, "UPDATE mail_folders SET uidnext = $3 WHERE id = $1 "
	    "AND user_id = $2", 3, p) != 0)
		return -1;
	run->f->cur.uidnext = uidnext;
	return 0;
}

/* New mail: [uidnext, now->uidnext), in the order the cursor rules at the top ask for. */
static enum provider_status
sync_new(struct sync_run *run, const struct provider_cursor *now)
{
	char s_from[16];
	const char *p[3] = { run->f->s_id, s_from, run->s_user };
	uint32_t from = run->f->cur.uidnext, lo, hi;
	enum provider_status s;
	PGresult *r;

	if (now->uidnext <= from)
		return PROVIDER_OK;
	snprintf(s_from, sizeof s_from, "%" PRIu32, from);
	r = sync_sql(run, "SELECT min(uid), max(uid) FROM mail_locations WHERE folder_id = $1 "
	    "AND uid >= $2 AND user_id = $3", 3, p);
	if (r == NULL)
		return PROVIDER_PROTOCOL;
	lo = (uint32_t)sync_int64(r, 0, 0);
	hi = (uint32_t)sync_int64(r, 0, 1);
	PQclear(r);
	if (lo > 0) {
		/* The rest of a range an earlier run left half done. */
		s = sync_fetch(run, SYNC_NEW, from, lo - 1, 0);
		if (s != PROVIDER_OK || run->stopped)
			return s;
		if (sync_set_uidnext(run, hi + 1) != 0)
			return PROVIDER_PROTOCOL;
		from = hi + 1;
	}
	s = sync_fetch(run, SYNC_NEW, from, now->uidnext - 1, 0);
	if (s != PROVIDER_OK || run->stopped)
		return s;
	if (sync_set_uidnext(run, now->uidnext) != 0)
		return PROVIDER_PROTOCOL;
	return PROVIDER_OK;
}

/* The walk down from backfill_low_uid, within the account's limits (none in a resync). */
static enum provider_status
sync_backfill(struct sync_run *run)
{
	const char *p[3] = { run->f->s_id, run->s_user, NULL };
	enum provider_status s;
	size_t max = 0;
	PGresult *r;

	if (run->f->backfill_done)
		return PROVIDER_OK;
	run->cutoff = 0;
	if (!run->f->resync) {
		int limit = run->acct.backfill_messages > 0 ? run->acct.backfill_messages :
		    mr_config.backfill_messages;
		int days = run->acct.backfill_days > 0 ? run->acct.backfill_days :
		    mr_config.backfill_days;
		int64_t have;

		r = sync_sql(run, "SELECT count(*) FROM mail_locations WHERE folder_id = $1 "
		    "AND user_id = $2", 2, p);
		if (r == NULL)
			return PROVIDER_PROTOCOL;
		have = sync_int64(r, 0, 0);
		PQclear(r);
		max = have >= limit ? 0 : (size_t)(limit - have);
		run->cutoff = (int64_t)time(NULL) - (int64_t)days * 86400;
		if (have >= limit)
			goto done;
	}
	if (run->f->backfill_low > 1) {
		s = sync_fetch(run, SYNC_BACKFILL, 1, run->f->backfill_low - 1, max);
		if (s != PROVIDER_OK || run->stopped)
			return s;
	}
done:
	if (sync_begin(run) != 0 ||
	    sync_run_sql(run, "UPDATE mail_folders SET backfill_done = true, resync = false "
	    "WHERE id = $1 AND user_id = $2", 2, p) != 0)
		goto failed;
	if (run->f->resync) {
		/* Matched again by Message-ID or not there any more. */
		if (sync_remove_locations(run, "SELECT m.id FROM mail_messages m WHERE "
		    "m.folder_id = $1 AND m.user_id = $2 AND NOT EXISTS (SELECT 1 FROM "
		    "mail_locations l WHERE l.message_id = m.id)", NULL, NULL) < 0)
			goto failed;
	}
	if (sync_commit(run) != 0)
		goto failed;
	run->f->backfill_done = 1;
	run->f->resync = 0;
	return PROVIDER_OK;
failed:
	sync_rollback(run);
	return PROVIDER_PROTOCOL;
}

static enum provider_status
sync_folder(struct sync_run *run, struct sync_folder *f)
{
	struct provider_cursor now;
	enum provider_status s;

	run->f = f;
	memset(&now, 0, sizeof now);
	s = run->p.ops->open_folder(&run->p, f->name, &now);
	if (s == PROVIDER_GONE) {
		/* Deleted since the listing: the next run's listing forgets it. */
		free(now.token);
		return PROVIDER_OK;
	}
	if (s != PROVIDER_OK) {
		snprintf(run->err, sizeof run->err, "%s: %s", f->name, run->p.error);
		free(now.token);
		return s;
	}
	free(now.token);
	now.token = NULL;
	if (!f->known) {
		/* First sight: the top is where new mail starts; the backfill walks down. */
		if (sync_begin(run) != 0 || sync_folder_cursor(run, &now, now.uidnext, 0) != 0 ||
		    sync_commit(run) != 0)
			return PROVIDER_PROTOCOL;
		f->cur = now;
		f->backfill_low = now.uidnext;
		f->backfill_done = 0;
		f->known = 1;
	} else if (f->cur.uidvalidity != now.uidvalidity) {
		if (sync_folder_reset(run, &now) != 0)
			return PROVIDER_PROTOCOL;
	} else {
		s = sync_changes(run, &now);
		if (s == PROVIDER_RESYNC) {
			if (sync_folder_reset(run, &now) != 0)
				return PROVIDER_PROTOCOL;
		} else if (s != PROVIDER_OK) {
			return s;
		}
		s = sync_new(run, &now);
		if (s != PROVIDER_OK || run->stopped)
			return s;
	}
	s = sync_backfill(run);
	if (s != PROVIDER_OK || run->stopped)
		return s;
	run->st->folders++;
	{
		const char *p[2] = { f->s_id, run->s_user };

		if (sync_run_sql(run, "UPDATE mail_folders SET last_sync_at = now() "
		    "WHERE id = $1 AND user_id = $2", 2, p) != 0)
			return PROVIDER_PROTOCOL;
	}
	return PROVIDER_OK;
}

static const char *const sync_role_names[] = {
	[FOLDER_INBOX] = "inbox", [FOLDER_SENT] = "sent", [FOLDER_DRAFTS] = "drafts",
	[FOLDER_ARCHIVE] = "archive", [FOLDER_TRASH] = "trash", [FOLDER_JUNK] = "junk",
	[FOLDER_OTHER] = "other",
};

/* The folders to sync: INBOX, Sent and Archive. */
static int
sync_role_wanted(enum provider_folder_role role)
{
	return role == FOLDER_INBOX || role == FOLDER_SENT || role == FOLDER_ARCHIVE;
}

/* Brings mail_folders in line with the server's list; fills out with the folders to sync
 * (free each name). Returns how many, or -1 with the reason in *ps. */
static int
sync_folders(struct sync_run *run, struct sync_folder **out, enum provider_status *ps)
{
	struct provider_folder *list = NULL;
	struct sync_folder *want = NULL;
	struct buf names;
	size_t n = 0, nwant = 0;
	enum provider_status s;
	int rc = -1;

	*out = NULL;
	s = run->p.ops->list_folders(&run->p, &list, &n);
	*ps = s;
	if (s != PROVIDER_OK) {
		snprintf(run->err, sizeof run->err, "listing folders: %s", run->p.error);
		return -1;
	}
	*ps = PROVIDER_PROTOCOL;	/* until it succeeds: a database failure */
	want = xcalloc(n + 1, sizeof *want);
	if (sync_begin(run) != 0)
		goto out;
	sync_array_open(&names, run->arena);
	for (size_t i = 0; i < n; i++) {
		char delim[2] = { list[i].delimiter, '\0' };
		const char *p[6] = { run->s_account, run->s_user, list[i].name,
		    list[i].delimiter != 0 ? delim : NULL, sync_role_names[list[i].role],
		    list[i].selectable ? "true" : "false" };
		char slug[TRIAGE_SLUG_SIZE] = "";
		PGresult *r;
		int label;

		if (list[i].name == NULL || *list[i].name == '\0' || strlen(list[i].name) > 1000)
			continue;
		/* A category's label folder (writeback.h) is synced too: a message moved
		 * there by the user is a correction. */
		label = writeback_label_slug(run->c, run->user_id, list[i].name,
		    list[i].delimiter, slug, sizeof slug);
		if (label < 0) {
			snprintf(run->err, sizeof run->err, "database: the label folders of the "
			    "categories could not be read");
			run->db_failed = 1;
			goto out;
		}
		sync_array_text(&names, list[i].name);
		r = sync_sql(run, "INSERT INTO mail_folders (account_id, user_id, name, delimiter, "
		    "role, selectable) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (account_id, "
		    "name) DO UPDATE SET delimiter = EXCLUDED.delimiter, role = EXCLUDED.role, "
		    "selectable = EXCLUDED.selectable RETURNING id, uidvalidity, uidnext, "
		    "highestmodseq, backfill_low_uid, backfill_done, resync", 6, p);
		if (r == NULL)
			goto out;
		if (list[i].selectable && (sync_role_wanted(list[i].role) || label == 1)) {
			struct sync_folder *f = &want[nwant++];

			f->role = list[i].role;
			snprintf(f->slug, sizeof f->slug, "%s", slug);

			f->id = sync_int64(r, 0, 0);
			snprintf(f->s_id, sizeof f->s_id, "%" PRId64, f->id);
			f->name = xstrdup(list[i].name);
			f->known = !PQgetisnull(r, 0, 1);
			f->cur.uidvalidity = (uint32_t)sync_int64(r, 0, 1);
			f->cur.uidnext = (uint32_t)sync_int64(r, 0, 2);
			f->cur.modseq = PQgetisnull(r, 0, 3) ? 0 :
			    strtoull(PQgetvalue(r, 0, 3), NULL, 10);
			f->backfill_low = (uint32_t)sync_int64(r, 0, 4);
			f->backfill_done = strcmp(PQgetvalue(r, 0, 5), "t") == 0;
			f->resync = strcmp(PQgetvalue(r, 0, 6), "t") == 0;
		}
		PQclear(r);
	}
	/* Folders gone from the server take their locations with them. */
	{
		const char *p[3] = { run->s_account, run->s_user, sync_array_close(&names) };
		PGresult *r = sync_sql(run, "DELETE FROM mail_folders WHERE account_id = $1 "
		    "AND user_id = $2 AND NOT (name = ANY($3::text[])) RETURNING id", 3, p);

		if (r == NULL)
			goto out;
		if (PQntuples(r) > 0) {
			/* Their messages keep a folder_id of NULL and no location. */
			PQclear(r);
			r = sync_sql(run, "SELECT m.id FROM mail_messages m WHERE m.account_id = $1 "
			    "AND m.user_id = $2 AND m.folder_id IS NULL AND m.uid IS NOT NULL "
			    "AND NOT EXISTS (SELECT 1 FROM mail_locations l WHERE "
			    "l.message_id = m.id)", 2, p);
			if (r == NULL)
				goto out;
			{
				struct buf ids;

				sync_array_open(&ids, run->arena);
				for (int i = 0; i < PQntuples(r); i++)
					buf_printf(&ids, "%s%s", i > 0 ? "," : "",
					    PQgetvalue(r, i, 0));
				if (PQntuples(r) > 0 && sync_settle(run,
				    sync_array_close(&ids)) != 0) {
					PQclear(r);
					goto out;
				}
			}
		}
		PQclear(r);
	}
	if (sync_commit(run) != 0)
		goto out;
	*out = want;
	want = NULL;
	rc = (int)nwant;
	*ps = PROVIDER_OK;
out:
	if (rc < 0)
		sync_rollback(run);
	if (want != NULL) {
		for (size_t i = 0; i < nwant; i++)
			free(want[i].name);
		free(want);
	}
	for (size_t i = 0; i < n; i++)
		free(list[i].name);
	free(list);
	arena_reset(run->arena);
	return rc;
}

/* ---- the account ---------------------------------------------------------------------- */

/* Messages that left INBOX during the run, now that every folder was seen: moved (not
 * copied: none is left in INBOX) into a category's label folder, other than the one
 * write-back made, they are in that category; moved into Archive, a message to respond
 * to is dealt with (Actioned). */
static int
sync_mailbox_moves(struct sync_run *run, const struct sync_folder *folders, int nfolders)
{
	const char *p[2] = { NULL, run->s_user };
	PGresult *r;
	int rc = 0;

	if (run->left_inbox.len <= 1)
		return 0;
	p[0] = sync_array_close(&run->left_inbox);
	r = sync_sql(run, "SELECT m.id, coalesce(m.category, ''), coalesce(m.written_back, ''), "
	    "l.folder_id, f.name, f.role FROM mail_messages m JOIN mail_locations l "
	    "ON l.message_id = m.id JOIN mail_folders f ON f.id = l.folder_id "
	    "WHERE m.id = ANY($1::bigint[]) AND m.user_id = $2 ORDER BY m.id, l.folder_id", 2, p);
	if (r == NULL)
		return -1;
	for (int i = 0, j; i < PQntuples(r) && rc == 0; i = j) {
		const char *cat = PQgetvalue(r, i, 1), *written = PQgetvalue(r, i, 2);
		const char *to = NULL;
		int inbox = 0, archive = 0;

		for (j = i; j < PQntuples(r) && strcmp(PQgetvalue(r, j, 0),
		    PQgetvalue(r, i, 0)) == 0; j++) {
			int64_t fid = sync_int64(r, j, 3);

			inbox |= strcmp(PQgetvalue(r, j, 5), "inbox") == 0;
			archive |= strcmp(PQgetvalue(r, j, 5), "archive") == 0;
			for (int k = 0; k < nfolders && to == NULL; k++) {
				if (folders[k].id == fid && folders[k].slug[0] != '\0' &&
				    strcmp(folders[k].slug, cat) != 0 &&
				    strcmp(PQgetvalue(r, j, 4), written) != 0)
					to = folders[k].slug;
			}
		}
		if (inbox)
			continue;
		if (to == NULL && archive && strcmp(cat, "to-respond") == 0)
			to = "actioned";
		if (to != NULL)
			rc = sync_correct(run, PQgetvalue(r, i, 0), to);
	}
	PQclear(r);
	return rc;
}

static void
sync_record(struct sync_run *run, enum provider_status s)
{
	if (s == PROVIDER_OK) {
		mailacct_set_state(run->c, run->user_id, run->account_id, "idle", NULL);
		return;
	}
	mailacct_set_state(run->c, run->user_id, run->account_id, "error", run->err);
	if (s == PROVIDER_AUTH) {
		const char *p[2] = { run->s_account, run->s_user };

		run->db_failed = 0;
		sync_run_sql(run, "UPDATE mail_accounts SET auth_failed_at = now() "
		    "WHERE id = $1 AND user_id = $2", 2, p);
	}
}

enum provider_status
sync_account(PGconn *c, const struct vault *v, int64_t user_id, int64_t account_id,
    const atomic_int *stop, struct sync_stats *stats, char *err, size_t errlen)
{
	struct sync_run run;
	struct sync_folder *folders = NULL;
	struct sync_stats ignored;
	enum provider_status s = PROVIDER_OK;
	int nfolders = 0, r, locked = 0;

	memset(&run, 0, sizeof run);
	memset(stats != NULL ? stats : &ignored, 0, sizeof ignored);
	run.c = c;
	run.user_id = user_id;
	run.account_id = account_id;
	run.stop = stop;
	run.st = stats != NULL ? stats : &ignored;
	snprintf(run.s_user, sizeof run.s_user, "%" PRId64, user_id);
	snprintf(run.s_account, sizeof run.s_account, "%" PRId64, account_id);

	r = mailacct_load(c, v, user_id, account_id, &run.acct, run.err, sizeof run.err);
	if (r != 1) {
		snprintf(err, errlen, "%s", r == 0 ? "no such mail account" : run.err);
		return PROVIDER_GONE;
	}
	if (strcmp(run.acct.provider, "imap") != 0) {
		snprintf(err, errlen, "accounts of kind %s are not synced", run.acct.provider);
		mailacct_free(&run.acct);
		return PROVIDER_REFUSED;
	}
	run.self[0] = run.acct.address;
	run.arena = arena_new(1 << 16);
	run.keep = arena_new(1 << 12);
	sync_array_open(&run.left_inbox, run.keep);
	/* A write-back of the account waits for the end of its sync. */
	if ((locked = writeback_mailbox_lock(c, account_id, 1)) != 1) {
		snprintf(run.err, sizeof run.err, "database: the account's lock failed");
		s = PROVIDER_PROTOCOL;
		goto out;
	}
	mailacct_set_state(c, user_id, account_id, "syncing", run.acct.last_error);

	run.acct.imap.ignore_caps |= sync_ignore_caps;
	if (imap_provider_init(&run.p, &run.acct.imap) != 0) {
		snprintf(run.err, sizeof run.err, "out of memory");
		s = PROVIDER_PROTOCOL;
		goto out;
	}
	s = run.p.ops->connect(&run.p);
	if (s != PROVIDER_OK) {
		snprintf(run.err, sizeof run.err, "%s", run.p.error);
		goto close;
	}
	{
		const char *p[2] = { run.s_account, run.s_user };

		/* The credentials work (again). */
		if (sync_run_sql(&run, "UPDATE mail_accounts SET auth_failed_at = NULL "
		    "WHERE id = $1 AND user_id = $2 AND auth_failed_at IS NOT NULL", 2, p) != 0) {
			s = PROVIDER_PROTOCOL;
			goto close;
		}
	}
	nfolders = sync_folders(&run, &folders, &s);
	if (nfolders < 0) {
		nfolders = 0;
		goto close;
	}
	for (int i = 0; i < nfolders && !run.stopped; i++) {
		if (stop != NULL && atomic_load(stop))
			break;
		s = sync_folder(&run, &folders[i]);
		if (s != PROVIDER_OK)
			break;
	}
	if (s == PROVIDER_OK && !run.stopped && (stop == NULL || !atomic_load(stop))) {
		/* Every folder was seen: moves between them are known. */
		if (sync_begin(&run) != 0 || sync_mailbox_moves(&run, folders, nfolders) != 0 ||
		    sync_reap(&run) != 0 || sync_commit(&run) != 0)
			s = PROVIDER_PROTOCOL;
	}
close:
	run.p.ops->close(&run.p);
out:
	sync_rollback(&run);
	if (locked == 1)
		writeback_mailbox_unlock(c, account_id);
	sync_record(&run, s);
	if (run.st->stored > 0)
		triage_enqueue(c, user_id);	/* new mail: classify it (a "triage" job) */
	snprintf(err, errlen, "%s", s == PROVIDER_OK ? "" : run.err);
	for (int i = 0; i < nfolders; i++)
		free(folders[i].name);
	free(folders);
	arena_free(run.keep);
	arena_free(run.arena);
	mailacct_free(&run.acct);
	return s;
}
