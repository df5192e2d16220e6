/* provider.h: what a mail provider does for mailroom, whatever its protocol. IMAP
 * implements it first (imap.c); Gmail's API and Microsoft Graph implement the same
 * operations later, so the sync, the triage write-back and the drafts code never know
 * which one they talk to.
 *
 * A provider session belongs to one account and one thread at a time. Every operation
 * returns PROVIDER_OK or an error kind, with the server's own words in the session's
 * error text (provider_error), so the account page can show exactly what went wrong. */
#ifndef MAILROOM_PROVIDER_H
#define MAILROOM_PROVIDER_H

#include <stddef.h>
#include <stdint.h>

enum provider_status {
	PROVIDER_OK = 0,
	PROVIDER_AUTH = -1,       /* credentials refused: the account needs the user */
	PROVIDER_NETWORK = -2,    /* unreachable, timed out, connection lost: retry later */
	PROVIDER_PROTOCOL = -3,   /* the server said something we cannot use */
	PROVIDER_REFUSED = -4,    /* the server refused this operation (NO / 4xx) */
	PROVIDER_LIMIT = -5,      /* rate limited: retry after provider_retry_after() */
	PROVIDER_GONE = -6,       /* the folder or message no longer exists */
	PROVIDER_RESYNC = -7,     /* the cursor is no longer valid (UIDVALIDITY changed) */
};

enum provider_folder_role {
	FOLDER_INBOX, FOLDER_SENT, FOLDER_DRAFTS, FOLDER_ARCHIVE, FOLDER_TRASH, FOLDER_JUNK,
	FOLDER_OTHER
};

struct provider_folder {
	char *name;                   /* the provider's name, UTF-8 (IMAP: decoded mUTF-7) */
	char delimiter;               /* hierarchy delimiter, 0 when flat */
	enum provider_folder_role role;
	int selectable;
};

/* Where a folder's sync stands: IMAP's UIDVALIDITY, UIDNEXT and HIGHESTMODSEQ; a Gmail
 * history id or a Graph delta link fit in token. */
struct provider_cursor {
	uint32_t uidvalidity;
	uint32_t uidnext;
	uint64_t modseq;              /* 0 when the server has no CONDSTORE */
	char *token;
	/* open_folder: the folder keeps keywords the client makes up (IMAP: PERMANENTFLAGS
	 * has \*, or is not sent); 0: only the flags it lists (write-back uses folders). */
	int keywords;
};

struct provider_message {
	uint32_t uid;
	char *raw;                    /* the whole RFC 5322 message */
	size_t raw_len;
	char **flags;                 /* system flags and keywords, NULL-terminated */
	int64_t internal_date;        /* seconds since the epoch, UTC */
	uint64_t modseq;
};

/* A change seen since the cursor: new flags for a UID, its removal, or (in a complete
 * listing) only that it is still there. */
enum provider_change_kind { CHANGE_FLAGS, CHANGE_EXPUNGED, CHANGE_PRESENT };

struct provider_change {
	uint32_t uid;
	enum provider_change_kind kind;
	char **flags;                 /* CHANGE_FLAGS: the UID's flags now, NULL-terminated */
	uint64_t modseq;              /* CHANGE_FLAGS, when the server has CONDSTORE */
};

struct provider;

struct provider_ops {
	const char *name;             /* "imap", "gmail", "graph" */
	enum provider_status (*connect)(struct provider *p);
	enum provider_status (*list_folders)(struct provider *p,
	    struct provider_folder **out, size_t *n);
	/* Selects folder and fills its current cursor. */
	enum provider_status (*open_folder)(struct provider *p, const char *folder,
	    struct provider_cursor *now);
	/* New messages of the open folder with UIDs in [from_uid, to_uid], newest first, at
	 * most max (0: no limit); the callback gets each in turn and may stop the fetch by
	 * returning non-zero. Messages come in batches, not one round trip each. */
	enum provider_status (*fetch)(struct provider *p, uint32_t from_uid, uint32_t to_uid,
	    size_t max, int (*each)(void *arg, const struct provider_message *m), void *arg);
	/* Flag changes and expunges of the open folder among the UIDs below since->uidnext.
	 * With QRESYNC: the flags changed since since->modseq and the UIDs vanished
	 * (*complete = 0). With CONDSTORE alone: the changed flags, and every UID still there
	 * as CHANGE_PRESENT (*complete = 1). With neither: every UID still there with its
	 * flags (*complete = 1). *complete = 1 means a UID not reported is gone. A change of
	 * UIDVALIDITY since the cursor gives PROVIDER_RESYNC. */
	enum provider_status (*changes)(struct provider *p, const struct provider_cursor *since,
	    int (*each)(void *arg, const struct provider_change *c), void *arg,
	    int *complete);
	enum provider_status (*append)(struct provider *p, const char *folder,
	    const char *raw, size_t len, const char *const *flags, uint32_t *new_uid);
	/* Sets (add) or clears keywords/labels on UIDs of the open folder. */
	enum provider_status (*set_flags)(struct provider *p, const uint32_t *uids, size_t n,
	    const char *const *flags, int add);
	enum provider_status (*move)(struct provider *p, const uint32_t *uids, size_t n,
	    const char *to_folder);
	/* Copies UIDs of the open folder to to_folder (the originals stay). */
	enum provider_status (*copy)(struct provider *p, const uint32_t *uids, size_t n,
	    const char *to_folder);
	/* Creates a folder; one that exists already is PROVIDER_OK. */
	enum provider_status (*create_folder)(struct provider *p, const char *folder);
	void (*close)(struct provider *p);
};

struct provider {
	const struct provider_ops *ops;
	void *impl;                   /* the implementation's state */
	char error[512];              /* the last error, with the server's words */
	int retry_after;              /* seconds, with PROVIDER_LIMIT */
};

#endif
