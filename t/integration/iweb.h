/* iweb.h: a browser-like client for the integration tests of pages and forms: a cookie
 * jar fed by Set-Cookie, the CSRF token read from the last page, form posts with the
 * Origin a browser sends, and direct SQL on the stack's database (DATABASE_URL) for what
 * a test must arrange or inspect (moving timestamps, reading rows, dumping tables). */
#ifndef MAILROOM_IWEB_H
#define MAILROOM_IWEB_H

#include <stddef.h>
#include <libpq-fe.h>
#include "itest.h"

#define IWEB_MAX_COOKIES 16

struct iweb {
	struct itest_client *http;
	struct {
		char *name;
		char *value;
	} cookies[IWEB_MAX_COOKIES];
	size_t ncookies;
	char csrf[128];              /* from the last page with a csrf_token field or meta */
	struct itest_response last;  /* the last response; freed by the next request */
};

struct iweb *iweb_new(void);
void iweb_free(struct iweb *w);

/* The jar's value of a cookie, or NULL. */
const char *iweb_cookie(const struct iweb *w, const char *name);
void iweb_set_cookie(struct iweb *w, const char *name, const char *value);
void iweb_clear_cookies(struct iweb *w);

/* GET path with the jar's cookies; updates the jar and the CSRF token. Returns status. */
long iweb_get(struct iweb *w, const char *path);
/* POST an urlencoded form: fields is a NULL-terminated name, value, ... array (values are
 * encoded here). The page's CSRF token is added as csrf_token unless the fields name one
 * or with_csrf is 0. origin NULL sends the stack's own origin; "" sends none. */
long iweb_post(struct iweb *w, const char *path, const char *const *fields, int with_csrf,
    const char *origin);
/* The same with extra request headers (NULL-terminated "Name: value" lines). */
long iweb_post_headers(struct iweb *w, const char *path, const char *const *fields,
    int with_csrf, const char *origin, const char *const *headers);

/* The last response of w, for failure messages; NULL when w is NULL. */
static inline const struct itest_response *
iweb_last(const struct iweb *w)
{
	return w != NULL ? &w->last : NULL;
}

/* Whether the last body contains s. */
int iweb_body_has(const struct iweb *w, const char *s);
/* The last response's Location header, or "". */
const char *iweb_location(const struct iweb *w);

/* Connection to DATABASE_URL (one per process, made on first use); NULL without it. */
PGconn *iweb_db(void);
/* Runs sql with text parameters; returns the result or NULL (a CUnit failure is recorded
 * with the error). The caller PQclear's. */
PGresult *iweb_sql(const char *sql, int nparams, const char *const *params);
/* The first column of the first row as a malloc'd string, or NULL. */
char *iweb_sql_value(const char *sql, int nparams, const char *const *params);
/* Every row of every table of the public schema as text (a dump), malloc'd. */
char *iweb_db_dump(void);

/* The newest message the stack sent to rcpt, waiting up to timeout seconds for it to
 * land in $MAILROOM_TEST_MAILDIR/new (the SMTP sink's mailbox), with quoted-printable
 * decoded; malloc'd, or NULL (also when MAILROOM_TEST_MAILDIR is unset). Messages older
 * than since (seconds of the epoch; 0 for any) are not considered. */
char *iweb_mail_for(const char *rcpt, double since, double timeout);
/* The text after prefix up to the first character that cannot be in a URL, malloc'd. */
char *iweb_extract_url(const char *text, const char *prefix);

/* A unique email address for a test: "<tag>-<pid>-<n>@example.org", valid for the run. */
const char *iweb_unique_email(const char *tag);

#endif
