/* account.h: checks and notices the account pages share (page-account.c). */
#ifndef MAILROOM_ACCOUNT_H
#define MAILROOM_ACCOUNT_H

#include "http-router.h"

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

#endif
