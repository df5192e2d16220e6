/* sync.h: brings a mail account's database copy in line with its server, through the
 * provider interface (provider.h), folder by folder: INBOX, Sent and Archive, and the
 * label folders of the user's categories (writeback.h). Changes the user made in their
 * own mail client that name a category become corrections (doc/sync.md).
 *
 * A folder seen for the first time is backfilled newest first (the configured number of
 * messages and days); later runs fetch what is above the stored UIDNEXT, then reconcile
 * flags and expunges (CONDSTORE/QRESYNC when the server has them, else a full listing). A
 * UIDVALIDITY change drops the folder's locations and fetches it again; messages already
 * stored are recognised by Message-ID, so nothing is duplicated. Every batch of messages is
 * stored in one transaction with the folder's cursor, so a sync cut short anywhere (the
 * server gone, the worker killed) resumes with nothing missing and nothing twice. */
#ifndef MAILROOM_SYNC_H
#define MAILROOM_SYNC_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <libpq-fe.h>

#include "provider.h"

struct vault;

struct sync_stats {
	size_t folders;			/* folders synced */
	size_t fetched;			/* messages downloaded */
	size_t stored;			/* new messages stored */
	size_t known;			/* downloaded but already stored (another folder, a resync) */
	size_t flag_changes;
	size_t expunged;		/* locations removed */
	size_t bytes;			/* of the messages downloaded */
	size_t corrections;		/* categories the user changed in the mailbox */
};

/* IMAP capabilities every sync ignores (IMAP_CAP_*): 0 but in tests of the paths taken
 * with servers that lack them. */
extern unsigned sync_ignore_caps;

/* Syncs account_id of user_id once. stop (may be NULL) is polled between batches; when
 * it becomes non-zero the sync ends early after committing what it has. Records the
 * account's state (idle, or error with the message) and returns PROVIDER_OK or the error
 * kind, with a sentence in err for the job's last_error (no secret in it). */
enum provider_status sync_account(PGconn *c, const struct vault *v, int64_t user_id,
    int64_t account_id, const atomic_int *stop, struct sync_stats *stats, char *err,
    size_t errlen);

#endif
