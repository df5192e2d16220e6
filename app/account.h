/* account.h: checks and notices the account pages share. The checks of what an account
 * is made of (account.c) need no request: "mailroom user" (cli-user.c) applies the same
 * ones. The rest is page-account.c's, for the pages that change accounts. */
#ifndef MAILROOM_ACCOUNT_H
#define MAILROOM_ACCOUNT_H

#include <stddef.h>
#include "http-router.h"
#include "password.h"

/* Whether s is valid UTF-8 without control characters, of 1..max code points. */
int account_text_ok(const char *s, size_t max);
/* NULL when email is an address mailroom accepts, else the sentence to show. */
const char *account_check_email(const char *email);
/* NULL when name is a display name (1 to 100 characters, no control characters). */
const char *account_check_name(const char *name);

/* 0 when tz is a time zone PostgreSQL knows, 1 when not (*why set), -1 when the database
 * failed (c->res set). */
int account_check_time_zone(struct http_ctx *c, const char *tz, const char **why);
/* Sends a notice to the account's address through the mail queue, when mail is
 * configured; a failure is logged, never shown. */
void account_notify(struct http_ctx *c, const char *to, const char *name,
    const char *subject, const char *text);
/* Hashes a new password into out. Returns 0, or the status of the answer already made:
 * 503 with Retry-After when every hashing slot is taken (busy, may be NULL, says so to
 * the user), 500 when hashing failed. */
int account_hash_password(struct http_ctx *c, const char *pw, const char *busy,
    char out[PASSWORD_HASH_MAX]);

/* A transaction of several statements of the request's connection. account_begin and
 * account_commit return 0 or -1 (status recorded; a failed commit is rolled back).
 * account_rollback ends it without its changes and keeps the answer's status and error
 * code, so that the failure that made it roll back is the one reported. */
int account_begin(struct http_ctx *c);
void account_rollback(struct http_ctx *c);
int account_commit(struct http_ctx *c);
/* Runs a statement of the transaction with the parameter first and, when not NULL,
 * second; the rows it affected, or -1 (rolled back, status recorded). */
long account_tx_exec(struct http_ctx *c, int stmt, const char *first, const char *second);

#endif
