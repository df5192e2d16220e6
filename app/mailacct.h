/* mailacct.h: a user's connected mail accounts (table mail_accounts): their settings,
 * their credentials sealed by the vault (bound to the table, the row and the user), and
 * what the last sync did. Every function is scoped by the owner: another user's account
 * id behaves as one that does not exist. */
#ifndef MAILROOM_MAILACCT_H
#define MAILROOM_MAILACCT_H

#include <stddef.h>
#include <stdint.h>
#include <libpq-fe.h>

#include "imap.h"

struct vault;

struct mailacct {
	int64_t id;
	int64_t user_id;
	char provider[16];		/* "imap" (later "gmail", "graph"), "mbox" */
	char *address;
	char *display_name;
	/* IMAP settings, strings owned by this struct; imap.secret is the opened credential
	 * (NULL when the account was loaded without it, or has none). */
	struct imap_settings imap;
	int backfill_messages;		/* 0: the configured default */
	int backfill_days;		/* 0: the configured default */
	char sync_state[16];
	char *last_error;		/* NULL: none */
};

/* Adds an IMAP account for user_id with its settings and secret (sealed before it is
 * stored; the row and the seal are written in one transaction). Returns the new id, 0 when
 * the user already has this address (nothing changes), or -1 with a message in err. */
int64_t mailacct_create(PGconn *c, const struct vault *v, int64_t user_id,
    const char *address, const char *display_name, const struct imap_settings *s,
    char *err, size_t errlen);

/* Loads account id of user_id; with v non-NULL the secret is opened too. Returns 1, 0
 * when there is no such account of that user, -1 with a message in err (a secret that
 * does not open is an error). mailacct_free releases it (zeroing the secret). */
int mailacct_load(PGconn *c, const struct vault *v, int64_t user_id, int64_t id,
    struct mailacct *out, char *err, size_t errlen);
void mailacct_free(struct mailacct *a);

/* Records the outcome of a sync: state "syncing", "idle" or "error" (error: the
 * message, cut to 2000 bytes; NULL clears it). Returns 0 or -1. */
int mailacct_set_state(PGconn *c, int64_t user_id, int64_t id, const char *state,
    const char *error);

#endif
