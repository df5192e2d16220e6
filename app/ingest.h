/* ingest.h: stores one raw message of a mail account: parsed by mime_parse, threaded by
 * thread_decide (doc/threading.md, late parents included), inserted into mail_messages
 * with its attachments and its search vector, and its thread created or updated. Every
 * row it writes carries the user's id and every query it runs is scoped by the account and
 * the user. Idempotent by Message-ID within the account. */
#ifndef MAILROOM_INGEST_H
#define MAILROOM_INGEST_H

#include <stddef.h>
#include <stdint.h>
#include <libpq-fe.h>

/* Bytes of the text body the search vector indexes (characters, in fact: left()). */
#define INGEST_SEARCH_BODY_CHARS 100000

/* Stores raw (len bytes) as a message of account_id, which must belong to user_id.
 * folder_id 0: none (else a folder of that account); uid 0: none; flags: a NULL-terminated
 * list of IMAP flags or NULL; internal_date: when the server received it (Unix seconds, 0:
 * unknown, then its Date, then now); self_addresses: the account's own addresses,
 * NULL-terminated (a message From one of them is "sent", any other "received").
 *
 * Everything happens in one transaction: on a connection with no transaction open it runs
 * BEGIN ... COMMIT itself; inside the caller's transaction it uses a savepoint, so that a
 * failed message leaves the caller's transaction usable (a transaction already in error is
 * refused). Threading is serialised per account by pg_advisory_xact_lock(account_id),
 * held until the outermost transaction ends.
 *
 * Returns 0 with *inserted 1 (stored) or 0 (a message with that Message-ID is already
 * stored in the account: nothing changes); -1 with a message in err when the account is
 * not the user's, the folder not the account's, or the database fails (nothing stored). */
int ingest_message(PGconn *c, int64_t user_id, int64_t account_id, int64_t folder_id,
    uint32_t uid, const char *raw, size_t len, const char *const *flags,
    int64_t internal_date, const char *const *self_addresses, int *inserted, char *err,
    size_t errlen);

/* The same, also giving in *row the id of the message stored, or of the one already
 * stored with that Message-ID (0 after -1). */
int ingest_message_row(PGconn *c, int64_t user_id, int64_t account_id, int64_t folder_id,
    uint32_t uid, const char *raw, size_t len, const char *const *flags,
    int64_t internal_date, const char *const *self_addresses, int *inserted, int64_t *row,
    char *err, size_t errlen);

/* ingest_message's arguments, and what a sync adds to them. */
struct ingest_args {
	int64_t user_id;
	int64_t account_id;
	int64_t folder_id;
	uint32_t uid;
	const char *raw;
	size_t len;
	const char *const *flags;
	int64_t internal_date;
	const char *const *self_addresses;
	/* A sync's copy of the message at (folder_id, uid), both set: when a location is
	 * stored there already, the copy was fetched before and nothing changes
	 * (known_location). A message stored gets that location with modseq (0: none),
	 * taking it over from any message that held it. */
	int sync;
	uint64_t modseq;
};

struct ingest_result {
	int inserted;		/* stored now */
	int known_location;	/* sync: the location was stored already */
	int64_t row;		/* the message stored, the one already stored, or the one
				 * of the location known; 0 after -1 */
};

/* ingest_message with its arguments in a, the outcome in *res. Its statements are
 * prepared on c the first time (kept for the connection's life, prepared again after a
 * PQreset), and a message takes two round trips in most cases. */
int ingest_message_ex(PGconn *c, const struct ingest_args *a, struct ingest_result *res,
    char *err, size_t errlen);

#endif
