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

/* --- Added for the mailbox pages, the API and the CLI (page-mailboxes.c, cli-mailbox.c) */

#define MAILACCT_ERROR_MAX	2000	/* last_error is cut to this many bytes */
#define MAILACCT_SYNC_ATTEMPTS	10	/* max_attempts of a sync queued by hand */

/* An account as the lists show it: no secret. Times are UTC "YYYY-MM-DDTHH:MM:SSZ". */
struct mailacct_info {
	int64_t id;
	int64_t user_id;
	char *user_email;
	char provider[16];
	char *address;
	char *display_name;
	char *host;
	int port;
	char security[12];		/* "tls", "starttls", "none" */
	char *username;
	char auth[12];			/* "auto", "login", "plain", "xoauth2" */
	char sync_state[16];
	char *last_sync_at;		/* NULL: never */
	char *last_error;		/* NULL: none */
	char *last_error_at;		/* NULL: never */
	char *created_at;
	int64_t messages;
	int64_t folders;
	int sync_queued;		/* a sync job is queued or running */
};

/* The accounts of user_id (0: of every user, for the CLI only), or just account id of
 * them (id 0: all), by user then id. Returns how many with *out set (mailacct_list_free
 * it), or -1 with a message in err. */
long mailacct_list(PGconn *c, int64_t user_id, int64_t id, struct mailacct_info **out,
    char *err, size_t errlen);
void mailacct_list_free(struct mailacct_info *l, long n);

/* Seals a new secret for account id of user_id (an account in error starts again as
 * "new"). Returns 1, 0 when there is no such account of that user, -1 with err. */
int mailacct_set_secret(PGconn *c, const struct vault *v, int64_t user_id, int64_t id,
    const char *secret, char *err, size_t errlen);

/* Deletes account id of user_id with its folders, messages, threads and attachments
 * (by cascade) and its jobs, in one transaction. Returns 1, 0 when there is no such
 * account of that user, -1 with err. c must not be inside a transaction. */
int mailacct_delete(PGconn *c, int64_t user_id, int64_t id, char *err, size_t errlen);

/* Queues a sync of account id now (jobs_enqueue with key "sync:<id>": nothing is added
 * when one is already live). The caller has checked that the account is user_id's.
 * Returns the job's id or -1 with err. */
int64_t mailacct_queue_sync(PGconn *c, int64_t user_id, int64_t id, char *err,
    size_t errlen);

/* The settings' names of security and auth ("tls", "auto", ...); "" when out of range. */
const char *mailacct_security_name(enum imap_security s);
const char *mailacct_auth_name(enum imap_auth a);

/* What a user types to connect an IMAP account (form, API or CLI): strings, "" or NULL
 * when not given. */
struct mailacct_input {
	const char *address;
	const char *display_name;
	const char *host;
	const char *port;		/* decimal; empty: the usual one for the security */
	const char *security;		/* "tls" (empty), "starttls", "none" */
	const char *username;		/* empty: the address */
	const char *auth;		/* "auto" (empty), "login", "plain" */
	const char *secret;
};

#define MAILACCT_SECRET_MAX	1024

/* Checks in field by field, calling bad(arg, field, message) for each field that is
 * not valid (field is the member's name: "address", "port", "secret", ...; message a
 * sentence for the user). With need_account 0 only the server settings and the secret
 * are checked. On success fills s (its strings point into in; ca_file, timeout and
 * allow_private from mr_config). Returns how many fields were refused. */
int mailacct_check(const struct mailacct_input *in, int need_account,
    struct imap_settings *s, void (*bad)(void *arg, const char *field, const char *message),
    void *arg);

#endif
