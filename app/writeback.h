/* writeback.h: the triage's categories written back to the mailbox (issue 6, item 5;
 * doc/triage.md, "Write-back"), and the corrections the user makes in their own mail
 * client as the sync sees them (doc/sync.md, "Corrections made in the mailbox").
 *
 * Per account (mail_accounts.writeback): 'off', 'label' (the category as an IMAP
 * keyword, or a label folder when the server takes no keywords) or 'label_move' (that,
 * and Marketing and Notification moved out of INBOX). A "writeback" job (unique key
 * "writeback:<account>") writes every message whose category differs from what was
 * written (mail_messages.written_back), folder by folder, many UIDs per command; the
 * server's answer comes first, written_back after it, so a retried job redoes at most
 * what was not recorded and a job run twice writes nothing the second time. Nothing is
 * ever deleted: a message is only moved (MOVE, or COPY then the copied UID's expunge).
 *
 * The same job applies the actions of the rule that decided a message (mark_read: \Seen,
 * star: \Flagged, archive and move: out of INBOX), whatever the account's writeback:
 * they are the user's explicit wish. mail_messages.actions_applied_rule records, after
 * the server's answer, the rule whose actions were applied; nothing is applied twice. */
#ifndef MAILROOM_WRITEBACK_H
#define MAILROOM_WRITEBACK_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <libpq-fe.h>

struct vault;

/* The keyword of category slug is WRITEBACK_KEYWORD_PREFIX followed by the slug
 * ("$mailroom/to-respond"): '$' and '/' are ATOM-CHARs (RFC 3501 9, RFC 9051 9), and the
 * slug ([a-z0-9-]) keeps it reversible (IMAP keywords compare without case). */
#define WRITEBACK_KEYWORD_PREFIX "$mailroom/"
/* Label folders (servers without keywords): WRITEBACK_FOLDER_ROOT, the server's
 * hierarchy delimiter, then the category's name ("mailroom/To respond"). */
#define WRITEBACK_FOLDER_ROOT "mailroom"
#define WRITEBACK_ATTEMPTS 10		/* max_attempts of a writeback job */
#define WRITEBACK_BATCH 500		/* messages read and written per round */

/* Queues a write-back of account_id of user_id (0: of each of the user's accounts) for
 * now, unless its writeback is 'off' (and no rule's actions wait) or one is already
 * queued or running ("writeback:<account>"). Call it after triage stored decisions and after a correction. Returns how
 * many jobs were queued (0 is fine), or -1 with err. */
int writeback_enqueue(PGconn *c, int64_t user_id, int64_t account_id, char *err,
    size_t errlen);

struct writeback_stats {
	size_t messages;		/* messages whose category was written */
	size_t commands;		/* STORE, COPY, MOVE and CREATE commands sent */
	size_t moved;			/* messages moved out of INBOX */
	size_t actions;			/* messages whose rule's actions were applied */
	int labels;			/* label folders were used: the server has no keywords */
};

/* Writes account_id's pending categories (the job's work). stop (may be NULL) is polled
 * between batches. Returns 0 (nothing left, or stopped), -1 with err when the provider or
 * the database failed (retry), -2 when it cannot succeed (no such account, refused
 * login: do not retry). */
int writeback_account(PGconn *c, const struct vault *v, int64_t user_id,
    int64_t account_id, const atomic_int *stop, struct writeback_stats *st, char *err,
    size_t errlen);

/* Serialises the sync and the write-back of an account (a session-level advisory lock
 * of PostgreSQL, released with the connection if the worker dies): with wait, blocks
 * until it is free. Returns 1 when held, 0 when busy (without wait), -1 on error. */
int writeback_mailbox_lock(PGconn *c, int64_t account_id, int wait);
void writeback_mailbox_unlock(PGconn *c, int64_t account_id);

/* Test hook: write label folders even when the server takes keywords. */
extern int writeback_force_labels;

/* The keyword of slug into out; -1 when it does not fit. */
int writeback_keyword(const char *slug, char *out, size_t outlen);
/* Whether kw is one of our keywords (in any case); 1 with its category's slug (lower
 * case) in slug, else 0. */
int writeback_keyword_slug(const char *kw, char *slug, size_t slugsize);
/* The category of user_id whose label folder is folder (the server's delimiter: 0 when
 * flat): 1 with its slug, 0 when folder is no label folder of theirs, -1 on a database
 * error. */
int writeback_label_slug(PGconn *c, int64_t user_id, const char *folder, char delimiter,
    char *slug, size_t slugsize);

/* A correction seen in the mailbox (sync.c): message row of user_id is now in category
 * to. In the caller's transaction: a triage_corrections row (source 'mailbox'), the
 * message's category (source 'correction', confidence 1) and its thread's when it is the
 * latest, and triage_learn. Returns 1 when recorded, 0 when there is nothing to correct
 * (already in to, or to is not one of the user's categories), -1 with err. */
int writeback_correct(PGconn *c, int64_t user_id, int64_t row, const char *to, char *err,
    size_t errlen);

#endif
