/* test-mailboxes.c: connecting a mailbox over HTTP against the running stack and a
 * Dovecot of its own (contrib/dovecot, $MAILROOM_TEST_DOVECOT, on loopback: the stack
 * runs with MAILROOM_IMAP_ALLOW_PRIVATE=1): the connection test with the right and a
 * wrong password (Dovecot's own words on the page), adding (the first sync queued, the
 * password sealed), changing the password, the JSON API with a read-only token, removal
 * with the account's data and jobs, another user's ids (404 everywhere, nothing
 * changes), input that is refused field by field and stores nothing, and the limit on
 * connection tests. Usage: test-mailboxes [suite...]. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <CUnit/Basic.h>
#include <CUnit/CUnit.h>

#include "itest.h"
#include "iweb.h"

#define SESSION_COOKIE "mr_session"
#define GOOD_PASSWORD "correct horse battery staple 42"
#define IMAP_USER "alice"
#define IMAP_PASS "alice-pass"
#define IMAP_WRONG "not-alices-pass-7731"
/* Dovecot's answer to a wrong password, as the page must show it. */
#define DOVECOT_AUTH_FAILED "Authentication failed"

#define EXPECT(ok, r, ...) itest_expect_at(__FILE__, __LINE__, (ok), (r), __VA_ARGS__)
#define EXPECT_STATUS(st, want, r) itest_expect_status_at(__FILE__, __LINE__, (st), (want), (r))

static char dovecot[1024];	/* the contrib/dovecot script */
static char dovecot_dir[512];
static char imap_port[16];	/* plain IMAP on 127.0.0.1 */

static const char *const hx_headers[] = { "HX-Request: true", NULL };

/* ---- helpers */

static const char *
signup(struct iweb *w, const char *tag)
{
	const char *email = iweb_unique_email(tag);
	long st;

	st = iweb_get(w, "/signup");
	EXPECT_STATUS(st, 200, iweb_last(w));
	st = iweb_post(w, "/signup", (const char *const[]){ "email", email, "display_name",
	    "Ada Lovelace", "password", GOOD_PASSWORD, "time_zone", "Europe/London", NULL }, 1,
	    NULL);
	EXPECT_STATUS(st, 303, iweb_last(w));
	EXPECT(iweb_cookie(w, SESSION_COOKIE) != NULL, iweb_last(w), "signed up");
	return email;
}

/* The add form's fields with the server of this test's Dovecot; NULL-terminated. */
static void
form_fields(const char *fields[20], const char *address, const char *password)
{
	size_t n = 0;

	fields[n++] = "address";
	fields[n++] = address;
	fields[n++] = "display_name";
	fields[n++] = "Alice's box";
	fields[n++] = "host";
	fields[n++] = "127.0.0.1";
	fields[n++] = "port";
	fields[n++] = imap_port;
	fields[n++] = "security";
	fields[n++] = "none";
	fields[n++] = "username";
	fields[n++] = IMAP_USER;
	fields[n++] = "password";
	fields[n++] = password;
	fields[n++] = "auth";
	fields[n++] = "auto";
	fields[n] = NULL;
}

/* Adds a mailbox on the page; returns its id (malloc'd text) or NULL. */
static char *
add_mailbox(struct iweb *w, const char *email, const char *address)
{
	const char *fields[20];
	long st;

	st = iweb_get(w, "/settings/mailboxes");
	EXPECT_STATUS(st, 200, iweb_last(w));
	form_fields(fields, address, IMAP_PASS);
	st = iweb_post(w, "/settings/mailboxes", fields, 1, NULL);
	EXPECT_STATUS(st, 303, iweb_last(w));
	EXPECT(strncmp(iweb_location(w), "/settings/mailboxes?added=", 26) == 0, iweb_last(w),
	    "back to the list, naming the new mailbox");
	return iweb_sql_value("SELECT a.id FROM mail_accounts a JOIN users u ON u.id = a.user_id "
	    "WHERE u.email = $1 AND a.address = $2", 2, (const char *const[]){ email, address });
}

static long
sql_long(const char *sql, const char *param)
{
	char *v = iweb_sql_value(sql, param != NULL ? 1 : 0, (const char *const[]){ param });
	long n = v != NULL ? strtol(v, NULL, 10) : -1;

	free(v);
	return n;
}

/* The mail accounts and the jobs, for "nothing changed" (malloc'd digest). */
static char *
snapshot(void)
{
	return iweb_sql_value("SELECT md5((SELECT coalesce(string_agg(a::text, ',' ORDER BY id), "
	    "'') FROM mail_accounts a) || (SELECT coalesce(string_agg(j::text, ',' ORDER BY id), "
	    "'') FROM jobs j))", 0, NULL);
}

/* A string member ("" when absent or not a string). */
static const char *
jstr(json_t *j, const char *key)
{
	const char *s = json_string_value(json_object_get(j, key));

	return s != NULL ? s : "";
}

/* A JSON request with a bearer token (token not NULL) or as the signed-in browser w
 * (cookie, CSRF token, Origin). */
static long
api(struct iweb *w, const char *token, struct itest_response *r, const char *method,
    const char *path, const char *json)
{
	const char *headers[6];
	char *h[3] = { NULL, NULL, NULL };
	size_t n = 0;
	long st;

	if (token != NULL) {
		headers[n++] = h[0] = itest_asprintf("Authorization: Bearer %s", token);
	} else {
		headers[n++] = h[0] = itest_asprintf("Cookie: %s=%s", SESSION_COOKIE,
		    iweb_cookie(w, SESSION_COOKIE) != NULL ? iweb_cookie(w, SESSION_COOKIE) : "");
		headers[n++] = h[1] = itest_asprintf("X-CSRF-Token: %s", w->csrf);
		headers[n++] = h[2] = itest_asprintf("Origin: %s", itest_base_url());
	}
	if (json != NULL)
		headers[n++] = "Content-Type: application/json";
	headers[n] = NULL;
	itest_response_free(r);
	st = itest_request(NULL, r, method, path, headers, json, json != NULL ? strlen(json) : 0)
	    == 0 ? r->status : 0;
	for (size_t i = 0; i < 3; i++)
		free(h[i]);
	return st;
}

static json_t *
body_json(const struct itest_response *r)
{
	char err[256];
	json_t *j = itest_json(r, err, sizeof(err));

	EXPECT(j != NULL, r, "a JSON body: %s", err);
	return j != NULL ? j : json_object();
}

/* The body of an API call that creates or tests a mailbox. */
static char *
api_body(const char *address, const char *host, const char *port, const char *security,
    const char *password)
{
	return itest_asprintf("{\"address\": \"%s\", \"host\": \"%s\", \"port\": %s, "
	    "\"security\": \"%s\", \"username\": \"" IMAP_USER "\", \"password\": \"%s\"}",
	    address, host, port, security, password);
}

/* A personal access token made on the tokens page with the read scope only. */
static char *
make_read_token(struct iweb *w)
{
	const char *p, *q;
	long st;

	st = iweb_get(w, "/settings/tokens");
	EXPECT_STATUS(st, 200, iweb_last(w));
	st = iweb_post(w, "/settings/tokens", (const char *const[]){ "name", "mailbox reader",
	    "scope", "read", "expires_days", "", NULL }, 1, NULL);
	EXPECT_STATUS(st, 200, iweb_last(w));
	p = w->last.body != NULL ? strstr(w->last.body, "value=\"mr_pat_") : NULL;
	EXPECT(p != NULL, iweb_last(w), "the page shows the new token");
	if (p == NULL)
		return NULL;
	p += strlen("value=\"");
	q = strchr(p, '"');
	return q != NULL ? strndup(p, (size_t)(q - p)) : NULL;
}

/* ---- tests */

static void
test_page_and_connection_test(void)
{
	struct iweb *w = iweb_new();
	const char *email = signup(w, "mbxtest"), *fields[20];
	const char *address = iweb_unique_email("alice");
	long st;

	st = iweb_get(w, "/settings");
	EXPECT(iweb_body_has(w, "href=\"/settings/mailboxes\""), iweb_last(w),
	    "the settings page links the mailboxes");
	st = iweb_get(w, "/settings/mailboxes");
	EXPECT_STATUS(st, 200, iweb_last(w));
	EXPECT(iweb_body_has(w, "You have not connected a mailbox yet."), iweb_last(w),
	    "an empty list");
	EXPECT(iweb_body_has(w, "travel in clear"), iweb_last(w), "the warning about none");

	/* The right password: the server's folders are counted (INBOX, Drafts, Sent, Junk,
	 * Trash at least). HTMX gets the result alone. */
	form_fields(fields, address, IMAP_PASS);
	st = iweb_post_headers(w, "/settings/mailboxes/test", fields, 1, NULL, hx_headers);
	EXPECT_STATUS(st, 200, iweb_last(w));
	EXPECT(iweb_body_has(w, "Connected: ") && iweb_body_has(w, " folders found."),
	    iweb_last(w), "the test connected");
	EXPECT(!iweb_body_has(w, "<html") && iweb_body_has(w, "id=\"test-result\""),
	    iweb_last(w), "a fragment");
	EXPECT(!iweb_body_has(w, IMAP_PASS), iweb_last(w), "no password in the answer");

	/* A wrong password: Dovecot's own words. */
	form_fields(fields, address, IMAP_WRONG);
	st = iweb_post_headers(w, "/settings/mailboxes/test", fields, 1, NULL, hx_headers);
	EXPECT_STATUS(st, 200, iweb_last(w));
	EXPECT(iweb_body_has(w, DOVECOT_AUTH_FAILED), iweb_last(w), "the server's error");
	EXPECT(!iweb_body_has(w, "Connected: "), iweb_last(w), "not connected");
	EXPECT(!iweb_body_has(w, IMAP_WRONG), iweb_last(w), "no password in the answer");

	/* Without HTMX: the whole page, the form as it was sent, but the password. */
	st = iweb_post(w, "/settings/mailboxes/test", fields, 1, NULL);
	EXPECT_STATUS(st, 200, iweb_last(w));
	EXPECT(iweb_body_has(w, "<html") && iweb_body_has(w, DOVECOT_AUTH_FAILED), iweb_last(w),
	    "the page with the server's error");
	EXPECT(iweb_body_has(w, "value=\"127.0.0.1\"") && iweb_body_has(w, address),
	    iweb_last(w), "the form keeps its values");
	EXPECT(!iweb_body_has(w, IMAP_WRONG), iweb_last(w), "no password in the answer");

	/* A test stores nothing. */
	EXPECT(sql_long("SELECT count(*) FROM mail_accounts a JOIN users u ON u.id = a.user_id "
	    "WHERE u.email = $1", email) == 0, NULL, "no account after tests");
	iweb_free(w);
}

static void
test_add_password_remove(void)
{
	struct iweb *w = iweb_new();
	const char *email = signup(w, "mbxadd"), *fields[20];
	const char *address = iweb_unique_email("alice");
	char *id, *path, *cred;
	long st;

	/* A wrong password: nothing stored, the form kept with the server's words. */
	st = iweb_get(w, "/settings/mailboxes");
	form_fields(fields, address, IMAP_WRONG);
	st = iweb_post(w, "/settings/mailboxes", fields, 1, NULL);
	EXPECT_STATUS(st, 422, iweb_last(w));
	EXPECT(iweb_body_has(w, DOVECOT_AUTH_FAILED), iweb_last(w), "the server's error");
	EXPECT(iweb_body_has(w, "value=\"127.0.0.1\"") && iweb_body_has(w, address),
	    iweb_last(w), "the form keeps its values");
	EXPECT(!iweb_body_has(w, IMAP_WRONG), iweb_last(w), "the password is not echoed");
	EXPECT(sql_long("SELECT count(*) FROM mail_accounts a JOIN users u ON u.id = a.user_id "
	    "WHERE u.email = $1", email) == 0, NULL, "nothing stored");

	/* The right one: stored, its first sync queued. */
	id = add_mailbox(w, email, address);
	EXPECT(id != NULL, NULL, "the account exists");
	if (id == NULL)
		goto out;
	path = strdup(iweb_location(w));
	st = iweb_get(w, path);
	free(path);
	EXPECT_STATUS(st, 200, iweb_last(w));
	EXPECT(iweb_body_has(w, "is connected. Its first sync is queued"), iweb_last(w),
	    "the notice");
	EXPECT(iweb_body_has(w, address) && iweb_body_has(w, "sync queued") &&
	    iweb_body_has(w, "unencrypted"), iweb_last(w), "the list shows it");
	EXPECT(sql_long("SELECT count(*) FROM jobs WHERE kind = 'sync' AND unique_key = "
	    "'sync:' || $1 AND (payload->>'account_id')::bigint = $1::bigint AND dead_at IS NULL",
	    id) == 1, NULL, "a sync job is queued");
	EXPECT(sql_long("SELECT count(*) FROM mail_accounts WHERE id = $1::bigint AND "
	    "credentials IS NOT NULL AND position(convert_to('" IMAP_PASS "', 'UTF8') IN "
	    "credentials) = 0 AND settings->>'host' = '127.0.0.1' AND settings->>'security' = "
	    "'none' AND settings::text NOT LIKE '%" IMAP_PASS "%'", id) == 1, NULL,
	    "the credentials column does not hold the password");
	EXPECT(sql_long("SELECT count(*) FROM audit_log WHERE event = 'mailbox.add' AND "
	    "details->>'id' = $1 AND details::text NOT LIKE '%" IMAP_PASS "%'", id) == 1, NULL,
	    "the audit log has it, without the password");
	{
		char *dump = iweb_db_dump();

		EXPECT(dump != NULL && strstr(dump, IMAP_PASS) == NULL, NULL,
		    "no plaintext password anywhere in the database");
		free(dump);
	}
	/* The same address again: refused. */
	form_fields(fields, address, IMAP_PASS);
	st = iweb_post(w, "/settings/mailboxes", fields, 1, NULL);
	EXPECT_STATUS(st, 409, iweb_last(w));
	EXPECT(iweb_body_has(w, "You have connected this address already."), iweb_last(w),
	    "duplicate");

	/* Sync now: the job stays one. */
	path = itest_asprintf("/settings/mailboxes/%s/sync", id);
	st = iweb_post(w, path, NULL, 1, NULL);
	EXPECT_STATUS(st, 303, iweb_last(w));
	free(path);
	EXPECT(sql_long("SELECT count(*) FROM jobs WHERE unique_key = 'sync:' || $1", id) == 1,
	    NULL, "one live sync job");

	/* Change the password: a wrong one is refused with the server's words and changes
	 * nothing; the right one is sealed again. */
	cred = iweb_sql_value("SELECT encode(credentials, 'hex') FROM mail_accounts WHERE "
	    "id = $1::bigint", 1, (const char *const[]){ id });
	path = itest_asprintf("/settings/mailboxes/%s/password", id);
	st = iweb_post(w, path, (const char *const[]){ "password", IMAP_WRONG, NULL }, 1, NULL);
	EXPECT_STATUS(st, 422, iweb_last(w));
	EXPECT(iweb_body_has(w, DOVECOT_AUTH_FAILED), iweb_last(w), "the server's error");
	{
		char *now = iweb_sql_value("SELECT encode(credentials, 'hex') FROM mail_accounts "
		    "WHERE id = $1::bigint", 1, (const char *const[]){ id });

		EXPECT(cred != NULL && now != NULL && strcmp(cred, now) == 0, NULL,
		    "a refused password changes nothing");
		free(now);
	}
	st = iweb_post(w, path, (const char *const[]){ "password", IMAP_PASS, NULL }, 1, NULL);
	EXPECT_STATUS(st, 303, iweb_last(w));
	EXPECT(strstr(iweb_location(w), "?password=") != NULL, iweb_last(w), "the notice");
	{
		char *now = iweb_sql_value("SELECT encode(credentials, 'hex') FROM mail_accounts "
		    "WHERE id = $1::bigint", 1, (const char *const[]){ id });

		EXPECT(cred != NULL && now != NULL && strcmp(cred, now) != 0, NULL,
		    "sealed again (a new nonce)");
		free(now);
	}
	EXPECT(sql_long("SELECT count(*) FROM audit_log WHERE event = 'mailbox.password' AND "
	    "details->>'id' = $1", id) == 1, NULL, "audited");
	free(path);
	free(cred);

	/* Remove: a confirmation first, then everything goes (a folder and a message
	 * stand for what a sync would have stored). */
	PQclear(iweb_sql("INSERT INTO mail_folders (account_id, user_id, name) SELECT id, "
	    "user_id, 'INBOX' FROM mail_accounts WHERE id = $1::bigint", 1,
	    (const char *const[]){ id }));
	PQclear(iweb_sql("INSERT INTO mail_messages (account_id, user_id, message_id, folder_id) "
	    "SELECT a.id, a.user_id, 'm1@example.org', f.id FROM mail_accounts a JOIN "
	    "mail_folders f ON f.account_id = a.id WHERE a.id = $1::bigint", 1,
	    (const char *const[]){ id }));
	path = itest_asprintf("/settings/mailboxes/%s/remove", id);
	st = iweb_get(w, path);
	EXPECT_STATUS(st, 200, iweb_last(w));
	EXPECT(iweb_body_has(w, address) && iweb_body_has(w, "cannot be undone"), iweb_last(w),
	    "the confirmation page");
	EXPECT(sql_long("SELECT count(*) FROM mail_accounts WHERE id = $1::bigint", id) == 1,
	    NULL, "a GET removes nothing");
	st = iweb_post(w, path, NULL, 1, NULL);
	EXPECT_STATUS(st, 303, iweb_last(w));
	EXPECT(strcmp(iweb_location(w), "/settings/mailboxes?removed=1") == 0, iweb_last(w),
	    "back to the list");
	free(path);
	EXPECT(sql_long("SELECT (SELECT count(*) FROM mail_accounts WHERE id = $1::bigint) + "
	    "(SELECT count(*) FROM mail_folders WHERE account_id = $1::bigint) + "
	    "(SELECT count(*) FROM mail_messages WHERE account_id = $1::bigint) + "
	    "(SELECT count(*) FROM jobs WHERE unique_key = 'sync:' || $1)", id) == 0, NULL,
	    "the account, its folders, messages and jobs are gone");
	EXPECT(sql_long("SELECT count(*) FROM audit_log WHERE event = 'mailbox.remove' AND "
	    "details->>'id' = $1", id) == 1, NULL, "audited");
	st = iweb_get(w, "/settings/mailboxes?removed=1");
	EXPECT(iweb_body_has(w, "The mailbox has been removed"), iweb_last(w), "the notice");
	free(id);
out:
	iweb_free(w);
}

static void
test_api(void)
{
	struct iweb *w = iweb_new();
	const char *email = signup(w, "mbxapi");
	const char *address = iweb_unique_email("alice");
	struct itest_response r = { 0 };
	char *token, *body, *path, *id = NULL;
	json_t *j;
	long st;

	token = make_read_token(w);
	if (token == NULL)
		goto out;
	st = iweb_get(w, "/settings/mailboxes");	/* the CSRF token of the session */

	/* Test and create with the session (the write scope). */
	body = api_body(address, "127.0.0.1", imap_port, "none", IMAP_PASS);
	st = api(w, NULL, &r, "POST", "/api/v1/mailboxes/test", body);
	EXPECT_STATUS(st, 200, &r);
	j = body_json(&r);
	EXPECT(json_is_true(json_object_get(j, "ok")) &&
	    json_integer_value(json_object_get(j, "folders")) >= 4, &r, "connected");
	json_decref(j);
	free(body);
	body = api_body(address, "127.0.0.1", imap_port, "none", IMAP_WRONG);
	st = api(w, NULL, &r, "POST", "/api/v1/mailboxes/test", body);
	EXPECT_STATUS(st, 200, &r);
	j = body_json(&r);
	EXPECT(json_is_false(json_object_get(j, "ok")) &&
	    strstr(jstr(j, "server_error"), DOVECOT_AUTH_FAILED) != NULL &&
	    strcmp(jstr(j, "kind"), "auth") == 0, &r,
	    "the server's error");
	json_decref(j);
	st = api(w, NULL, &r, "POST", "/api/v1/mailboxes", body);
	EXPECT_STATUS(st, 422, &r);
	j = body_json(&r);
	{
		json_t *d = json_object_get(json_object_get(j, "error"), "details");

		EXPECT(strcmp(jstr(json_object_get(j, "error"), "code"), "connection_failed") == 0 &&
		    strstr(jstr(d, "server_error"), DOVECOT_AUTH_FAILED) != NULL &&
		    strstr(jstr(json_object_get(d, "fields"), "password"),
		    DOVECOT_AUTH_FAILED) != NULL, &r,
		    "422 with the server's error in details");
	}
	EXPECT(strstr(r.body, IMAP_WRONG) == NULL, &r, "no password in the answer");
	json_decref(j);
	free(body);
	EXPECT(sql_long("SELECT count(*) FROM mail_accounts a JOIN users u ON u.id = a.user_id "
	    "WHERE u.email = $1", email) == 0, NULL, "nothing stored");

	body = api_body(address, "127.0.0.1", imap_port, "none", IMAP_PASS);
	st = api(w, NULL, &r, "POST", "/api/v1/mailboxes", body);
	EXPECT_STATUS(st, 201, &r);
	free(body);
	j = body_json(&r);
	id = itest_asprintf("%lld", (long long)json_integer_value(json_object_get(j, "id")));
	EXPECT(strcmp(jstr(j, "address"), address) == 0 &&
	    json_integer_value(json_object_get(j, "port")) == atoi(imap_port) &&
	    json_is_true(json_object_get(j, "sync_queued")) &&
	    json_object_get(j, "password") == NULL, &r, "the new account");
	EXPECT(itest_header(&r, "Location") != NULL &&
	    strstr(itest_header(&r, "Location"), id) != NULL, &r, "its Location");
	json_decref(j);

	/* A read token lists and reads, and may not change anything. */
	st = api(w, token, &r, "GET", "/api/v1/mailboxes", NULL);
	EXPECT_STATUS(st, 200, &r);
	j = body_json(&r);
	EXPECT(json_array_size(json_object_get(j, "mailboxes")) == 1 &&
	    strcmp(jstr(json_array_get(json_object_get(j, "mailboxes"), 0), "address"),
	    address) == 0, &r, "the list");
	EXPECT(strstr(r.body, IMAP_PASS) == NULL, &r, "no password in the list");
	json_decref(j);
	path = itest_asprintf("/api/v1/mailboxes/%s", id);
	st = api(w, token, &r, "GET", path, NULL);
	EXPECT_STATUS(st, 200, &r);
	st = api(w, token, &r, "DELETE", path, NULL);
	EXPECT_STATUS(st, 403, &r);
	free(path);
	path = itest_asprintf("/api/v1/mailboxes/%s/sync", id);
	st = api(w, token, &r, "POST", path, NULL);
	EXPECT_STATUS(st, 403, &r);
	st = api(w, NULL, &r, "POST", path, NULL);
	EXPECT_STATUS(st, 202, &r);
	free(path);
	body = api_body(address, "127.0.0.1", imap_port, "none", IMAP_PASS);
	st = api(w, token, &r, "POST", "/api/v1/mailboxes/test", body);
	EXPECT_STATUS(st, 403, &r);
	free(body);

	/* Delete with the session. */
	path = itest_asprintf("/api/v1/mailboxes/%s", id);
	st = api(w, NULL, &r, "DELETE", path, NULL);
	EXPECT_STATUS(st, 204, &r);
	st = api(w, NULL, &r, "GET", path, NULL);
	EXPECT_STATUS(st, 404, &r);
	st = api(w, NULL, &r, "DELETE", path, NULL);
	EXPECT_STATUS(st, 404, &r);
	free(path);
	EXPECT(sql_long("SELECT count(*) FROM jobs WHERE unique_key = 'sync:' || $1", id) == 0,
	    NULL, "its jobs are gone");
	free(token);
out:
	free(id);
	itest_response_free(&r);
	iweb_free(w);
}

static void
test_other_users_ids(void)
{
	struct iweb *a = iweb_new(), *b = iweb_new();
	const char *ea = signup(a, "mbxowner");
	const char *address = iweb_unique_email("alice");
	struct itest_response r = { 0 };
	char *id, *path, *before, *after;
	long st;

	signup(b, "mbxother");
	id = add_mailbox(a, ea, address);
	EXPECT(id != NULL, NULL, "a's account");
	if (id == NULL)
		goto out;
	before = snapshot();
	st = iweb_get(b, "/settings/mailboxes");
	EXPECT(!iweb_body_has(b, address), iweb_last(b), "b does not see a's account");

	path = itest_asprintf("/settings/mailboxes/%s/remove", id);
	EXPECT_STATUS(iweb_get(b, path), 404, iweb_last(b));
	EXPECT_STATUS(iweb_post(b, path, NULL, 1, NULL), 404, iweb_last(b));
	free(path);
	path = itest_asprintf("/settings/mailboxes/%s/sync", id);
	EXPECT_STATUS(iweb_post(b, path, NULL, 1, NULL), 404, iweb_last(b));
	free(path);
	path = itest_asprintf("/settings/mailboxes/%s/password", id);
	EXPECT_STATUS(iweb_post(b, path, (const char *const[]){ "password", IMAP_PASS, NULL }, 1,
	    NULL), 404, iweb_last(b));
	free(path);
	path = itest_asprintf("/api/v1/mailboxes/%s", id);
	EXPECT_STATUS(api(b, NULL, &r, "GET", path, NULL), 404, &r);
	EXPECT_STATUS(api(b, NULL, &r, "DELETE", path, NULL), 404, &r);
	free(path);
	path = itest_asprintf("/api/v1/mailboxes/%s/sync", id);
	EXPECT_STATUS(api(b, NULL, &r, "POST", path, NULL), 404, &r);
	free(path);
	path = itest_asprintf("/settings/mailboxes/%s/writeback", id);
	EXPECT_STATUS(iweb_post(b, path, (const char *const[]){ "writeback", "off", NULL }, 1,
	    NULL), 404, iweb_last(b));
	EXPECT_STATUS(iweb_post(b, path, (const char *const[]){ "writeback", "bogus", NULL }, 1,
	    NULL), 404, iweb_last(b));
	free(path);
	path = itest_asprintf("/api/v1/mailboxes/%s", id);
	EXPECT_STATUS(api(b, NULL, &r, "PATCH", path, "{\"writeback\": \"off\"}"), 404, &r);
	free(path);
	st = api(b, NULL, &r, "GET", "/api/v1/mailboxes", NULL);
	EXPECT(st == 200 && strstr(r.body, address) == NULL, &r, "b's list is empty of it");

	/* b's 404s changed nothing. */
	after = snapshot();
	EXPECT(before != NULL && after != NULL && strcmp(before, after) == 0, NULL,
	    "the accounts and the jobs are unchanged");
	EXPECT(sql_long("SELECT count(*) FROM mail_accounts WHERE id = $1::bigint", id) == 1,
	    NULL, "a's account is still there");
	free(before);
	free(after);
	free(id);
out:
	itest_response_free(&r);
	iweb_free(a);
	iweb_free(b);
}

/* The account's writeback column (malloc'd). */
static char *
writeback_of(const char *id)
{
	return iweb_sql_value("SELECT writeback FROM mail_accounts WHERE id = $1::bigint", 1,
	    (const char *const[]){ id });
}

static void
expect_writeback(const char *id, const char *want, const char *what)
{
	char *v = writeback_of(id);

	EXPECT(v != NULL && strcmp(v, want) == 0, NULL, "%s: writeback is %s (is %s)", what,
	    want, v != NULL ? v : "(none)");
	free(v);
}

/* The write-back setting: the page's select (label by default), changed on the page
 * and with PATCH, a write-back queued when it writes, bad values refused unchanged. */
static void
test_writeback(void)
{
	struct iweb *w = iweb_new();
	const char *email = signup(w, "mbxwb");
	const char *address = iweb_unique_email("alice");
	struct itest_response r = { 0 };
	char *id, *path, *api_path, *token;
	json_t *j;
	long st;

	id = add_mailbox(w, email, address);
	EXPECT(id != NULL, NULL, "the account");
	if (id == NULL)
		goto out;
	st = iweb_get(w, "/settings/mailboxes");
	EXPECT(st == 200 && iweb_body_has(w, "Write back categories") &&
	    iweb_body_has(w, "<option value=\"label\" selected"), iweb_last(w),
	    "the select, label by default");
	expect_writeback(id, "label", "a new account");

	path = itest_asprintf("/settings/mailboxes/%s/writeback", id);
	st = iweb_post(w, path, (const char *const[]){ "writeback", "off", NULL }, 1, NULL);
	EXPECT_STATUS(st, 303, iweb_last(w));
	expect_writeback(id, "off", "switched off");
	EXPECT(sql_long("SELECT count(*) FROM audit_log WHERE event = 'mailbox.writeback' AND "
	    "details->>'id' = $1", id) == 1, NULL, "audited");
	{
		char *back = strdup(iweb_location(w));

		st = iweb_get(w, back);
		free(back);
	}
	EXPECT(st == 200 && iweb_body_has(w, "has been saved") &&
	    iweb_body_has(w, "<option value=\"off\" selected"), iweb_last(w),
	    "the notice and the new value");
	/* Bad values: refused next to the select, nothing changes. */
	st = iweb_post(w, path, (const char *const[]){ "writeback", "move", NULL }, 1, NULL);
	EXPECT_STATUS(st, 400, iweb_last(w));
	EXPECT(iweb_body_has(w, "Choose one of the write-back options."), iweb_last(w),
	    "the error");
	st = iweb_post(w, path, NULL, 1, NULL);
	EXPECT_STATUS(st, 400, iweb_last(w));
	expect_writeback(id, "off", "bad values");
	/* Switched on: a write-back is queued. */
	st = iweb_post(w, path, (const char *const[]){ "writeback", "label_move", NULL }, 1,
	    NULL);
	EXPECT_STATUS(st, 303, iweb_last(w));
	expect_writeback(id, "label_move", "label_move");
	EXPECT(sql_long("SELECT count(*) FROM jobs WHERE unique_key = 'writeback:' || $1", id)
	    >= 1, NULL, "a write-back queued");
	free(path);

	/* The API. */
	token = make_read_token(w);
	api_path = itest_asprintf("/api/v1/mailboxes/%s", id);
	iweb_get(w, "/settings/mailboxes");
	st = api(w, NULL, &r, "GET", api_path, NULL);
	EXPECT_STATUS(st, 200, &r);
	j = body_json(&r);
	EXPECT(strcmp(jstr(j, "writeback"), "label_move") == 0, &r, "writeback shown");
	json_decref(j);
	if (token != NULL) {
		st = api(w, token, &r, "PATCH", api_path, "{\"writeback\": \"off\"}");
		EXPECT_STATUS(st, 403, &r);
	}
	{
		static const char *const bad[] = { "{\"writeback\": \"move\"}",
			"{\"writeback\": 1}", "{}", "{\"writeback\": \"off\", \"port\": 1}" };

		for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
			st = api(w, NULL, &r, "PATCH", api_path, bad[i]);
			EXPECT(st == 400 && strstr(r.body, "\"fields\"") != NULL, &r, "%s: 400",
			    bad[i]);
		}
	}
	expect_writeback(id, "label_move", "refused PATCHes");
	st = api(w, NULL, &r, "PATCH", api_path, "{\"writeback\": \"label\"}");
	EXPECT_STATUS(st, 200, &r);
	j = body_json(&r);
	EXPECT(strcmp(jstr(j, "writeback"), "label") == 0 &&
	    strcmp(jstr(j, "address"), address) == 0, &r, "the account as changed");
	json_decref(j);
	expect_writeback(id, "label", "PATCH");
	free(api_path);
	free(token);
	free(id);
out:
	itest_response_free(&r);
	iweb_free(w);
}

static void
test_bad_input(void)
{
	static const struct {
		const char *field, *value, *json_port, *json_host, *json_security;
	} cases[] = {
		{ "port", "0", "0", "127.0.0.1", "none" },
		{ "port", "70000", "70000", "127.0.0.1", "none" },
		{ "host", "", "143", "", "none" },
		{ "security", "ssl", "143", "127.0.0.1", "ssl" },
	};
	struct iweb *w = iweb_new();
	const char *email = signup(w, "mbxbad");
	const char *address = iweb_unique_email("alice");
	struct itest_response r = { 0 };
	long st, tests_before;

	tests_before = sql_long("SELECT count(*) FROM audit_log WHERE event = 'mailbox.test'",
	    NULL);
	st = iweb_get(w, "/settings/mailboxes");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *fields[20];
		char *body, *want;
		json_t *j;

		form_fields(fields, address, IMAP_PASS);
		for (size_t k = 0; fields[k] != NULL; k += 2) {
			if (strcmp(fields[k], cases[i].field) == 0)
				fields[k + 1] = cases[i].value;
		}
		st = iweb_post(w, "/settings/mailboxes", fields, 1, NULL);
		EXPECT_STATUS(st, 400, iweb_last(w));
		want = itest_asprintf("id=\"mailbox-%s-error\"", cases[i].field);
		EXPECT(iweb_body_has(w, want) || (strcmp(cases[i].field, "security") == 0 &&
		    iweb_body_has(w, "Choose tls, starttls or none.")), iweb_last(w),
		    "the error is next to %s", cases[i].field);
		free(want);
		st = iweb_post_headers(w, "/settings/mailboxes/test", fields, 1, NULL, hx_headers);
		EXPECT(st == 200 && iweb_body_has(w, "The test did not start"), iweb_last(w),
		    "the test refuses %s", cases[i].field);

		body = api_body(address, cases[i].json_host, cases[i].json_port,
		    cases[i].json_security, IMAP_PASS);
		st = api(w, NULL, &r, "POST", "/api/v1/mailboxes", body);
		EXPECT_STATUS(st, 400, &r);
		j = body_json(&r);
		EXPECT(json_object_get(json_object_get(json_object_get(json_object_get(j, "error"),
		    "details"), "fields"), cases[i].field) != NULL, &r, "details.fields.%s",
		    cases[i].field);
		json_decref(j);
		st = api(w, NULL, &r, "POST", "/api/v1/mailboxes/test", body);
		EXPECT_STATUS(st, 400, &r);
		free(body);
	}
	/* Not a number, not a JSON object. */
	st = api(w, NULL, &r, "POST", "/api/v1/mailboxes", "{\"address\": \"x@example.org\", "
	    "\"host\": \"127.0.0.1\", \"port\": \"143\", \"password\": 5}");
	EXPECT_STATUS(st, 400, &r);
	EXPECT(strstr(r.body, "\"port\"") != NULL && strstr(r.body, "\"password\"") != NULL, &r,
	    "port and password refused");
	st = api(w, NULL, &r, "POST", "/api/v1/mailboxes", "[1]");
	EXPECT_STATUS(st, 400, &r);

	EXPECT(sql_long("SELECT count(*) FROM mail_accounts a JOIN users u ON u.id = a.user_id "
	    "WHERE u.email = $1", email) == 0, NULL, "nothing stored");
	EXPECT(sql_long("SELECT count(*) FROM audit_log WHERE event = 'mailbox.test'", NULL) ==
	    tests_before, NULL, "no connection was tried");
	itest_response_free(&r);
	iweb_free(w);
}

static void
test_rate_limit(void)
{
	struct iweb *w = iweb_new();
	const char *email = signup(w, "mbxlimit"), *fields[20];
	struct itest_response r = { 0 };
	char *body;
	long st;

	/* Ten tests in the last minute, as if made just now. */
	PQclear(iweb_sql("INSERT INTO audit_log (user_id, actor_id, event) SELECT id, id, "
	    "'mailbox.test' FROM users, generate_series(1, 10) WHERE email = $1", 1,
	    (const char *const[]){ email }));
	st = iweb_get(w, "/settings/mailboxes");
	form_fields(fields, iweb_unique_email("alice"), IMAP_PASS);
	st = iweb_post_headers(w, "/settings/mailboxes/test", fields, 1, NULL, hx_headers);
	EXPECT(st == 200 && iweb_body_has(w, "try again in"), iweb_last(w), "the 11th waits");
	st = iweb_post(w, "/settings/mailboxes", fields, 1, NULL);
	EXPECT_STATUS(st, 429, iweb_last(w));
	body = api_body("x@example.org", "127.0.0.1", imap_port, "none", IMAP_PASS);
	st = api(w, NULL, &r, "POST", "/api/v1/mailboxes/test", body);
	EXPECT_STATUS(st, 429, &r);
	EXPECT(itest_header(&r, "Retry-After") != NULL &&
	    atoi(itest_header(&r, "Retry-After")) >= 1 &&
	    atoi(itest_header(&r, "Retry-After")) <= 60, &r, "Retry-After");
	EXPECT(sql_long("SELECT count(*) FROM audit_log a JOIN users u ON u.id = a.user_id "
	    "WHERE u.email = $1 AND a.event = 'mailbox.test'", email) == 10, NULL,
	    "refused tests are not counted");
	/* A minute later the window has room again. */
	PQclear(iweb_sql("UPDATE audit_log SET created_at = now() - interval '61 seconds' "
	    "WHERE event = 'mailbox.test' AND user_id = (SELECT id FROM users WHERE email = $1)",
	    1, (const char *const[]){ email }));
	st = api(w, NULL, &r, "POST", "/api/v1/mailboxes/test", body);
	EXPECT_STATUS(st, 200, &r);
	free(body);
	EXPECT(sql_long("SELECT count(*) FROM mail_accounts a JOIN users u ON u.id = a.user_id "
	    "WHERE u.email = $1", email) == 0, NULL, "nothing stored");
	itest_response_free(&r);
	iweb_free(w);
}

/* ---- set-up */

static int
sh(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof cmd, fmt, ap);
	va_end(ap);
	return system(cmd);
}

/* Starts the test's Dovecot; 1 when it runs, 0 when it cannot here (skip), -1 on error. */
static int
dovecot_start(void)
{
	const char *env = getenv("MAILROOM_TEST_DOVECOT");
	char line[256], cmd[2048];
	FILE *f;
	int ok = 0;

	if (env != NULL && *env != '\0')
		snprintf(dovecot, sizeof dovecot, "%s", env);
	else
		snprintf(dovecot, sizeof dovecot, "%s/contrib/dovecot", MR_SRCDIR);
	if (access("/usr/sbin/dovecot", X_OK) != 0) {
		const char *ci = getenv("CI");

		fprintf(stderr, "test-mailboxes: Dovecot is not installed (Debian: "
		    "dovecot-imapd)\n");
		return ci != NULL && strcmp(ci, "true") == 0 ? -1 : 0;
	}
	snprintf(dovecot_dir, sizeof dovecot_dir, "%s/mailroom-mbx-XXXXXX",
	    getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp");
	if (mkdtemp(dovecot_dir) == NULL)
		return -1;
	snprintf(cmd, sizeof cmd, "'%s' start '%s'", dovecot, dovecot_dir);
	if ((f = popen(cmd, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof line, f) != NULL) {
		if (strncmp(line, "imap://127.0.0.1:", 17) == 0) {
			snprintf(imap_port, sizeof imap_port, "%d", atoi(line + 17));
			ok = 1;
		}
	}
	if (pclose(f) != 0 || !ok) {
		fprintf(stderr, "test-mailboxes: contrib/dovecot start failed\n");
		return -1;
	}
	return 1;
}

int
main(int argc, char **argv)
{
	static const struct itest_case tests[] = {
		{ "page", "the page and the connection test", test_page_and_connection_test, 0 },
		{ "page", "add, change the password, remove", test_add_password_remove, 0 },
		{ "api", "the JSON API, scopes", test_api, 0 },
		{ "owner", "another user's ids: 404, nothing changes", test_other_users_ids, 0 },
		{ "writeback", "the write-back setting", test_writeback, 0 },
		{ "input", "bad input: field errors, nothing stored", test_bad_input, 0 },
		{ "limit", "connection tests are limited per user", test_rate_limit, 0 },
	};
	unsigned failed;
	int d;

	itest_init();
	if ((d = dovecot_start()) <= 0) {
		itest_cleanup();
		return d == 0 ? 77 : 1;
	}
	failed = itest_run(argc, argv, tests, sizeof(tests) / sizeof(tests[0]));
	sh("'%s' stop '%s' >/dev/null 2>&1; rm -rf '%s'", dovecot, dovecot_dir, dovecot_dir);
	itest_cleanup();
	return failed > 0 ? 1 : 0;
}
