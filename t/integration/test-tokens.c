/* test-tokens.c: integration tests of API tokens over HTTP against the running stack:
 * personal access tokens made on the page (shown once, stored as digests, scoped,
 * revocable, expiring), refused tokens (revoked, expired, tampered, a JWT with alg
 * none), the extension's authorization flow (consent, code, PKCE, refresh rotation,
 * reuse that revokes the family, revocation), CORS for listed and other origins, and
 * other users' ids on the revoke routes. The stack must run with
 * MAILROOM_EXTENSION_ORIGINS listing EXT_ORIGIN and EXT_ORIGIN2 (contrib/dev does).
 * Usage: test-tokens [suite...]; with no argument every suite runs, in order. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <CUnit/Basic.h>
#include <CUnit/CUnit.h>
#include <curl/curl.h>

#include "itest.h"
#include "iweb.h"

#define SESSION_COOKIE "mr_session"
#define GOOD_PASSWORD "correct horse battery staple 42"
#define EXT_ID "abcdefghijklmnopabcdefghijklmnop"
#define EXT_ORIGIN "chrome-extension://" EXT_ID
#define EXT_ORIGIN2 "chrome-extension://ponmlkjihgfedcbaponmlkjihgfedcba"
#define EXT_REDIRECT "https://" EXT_ID ".chromiumapp.org/callback"
/* RFC 7636 appendix B. */
#define VERIFIER "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
#define CHALLENGE "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
#define OTHER_VERIFIER "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define ALG_NONE_JWT "eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0."

#define EXPECT(ok, r, ...) itest_expect_at(__FILE__, __LINE__, (ok), (r), __VA_ARGS__)
#define EXPECT_STATUS(st, want, r) \
	itest_expect_status_at(__FILE__, __LINE__, (st), (want), (r))

/* ---- Helpers */

static char *
url_escape(const char *s)
{
	CURL *e = curl_easy_init();
	char *v, *out;

	if (e == NULL)
		abort();
	v = curl_easy_escape(e, s, 0);
	out = strdup(v);
	curl_free(v);
	curl_easy_cleanup(e);
	return out;
}

static const char *
signup(struct iweb *w, const char *tag)
{
	const char *email = iweb_unique_email(tag);
	long st;

	st = iweb_get(w, "/signup");
	EXPECT_STATUS(st, 200, &w->last);
	st = iweb_post(w, "/signup", (const char *const[]){ "email", email, "display_name",
	    "Ada Lovelace", "password", GOOD_PASSWORD, "time_zone", "Europe/London", NULL }, 1,
	    NULL);
	EXPECT_STATUS(st, 303, &w->last);
	EXPECT(iweb_cookie(w, SESSION_COOKIE) != NULL, &w->last, "signed up");
	return email;
}

/* The value of attribute-ish "mark" up to the next '"' in body, malloc'd, or NULL. */
static char *
cut(const char *body, const char *mark, const char *end_chars)
{
	const char *p = body != NULL ? strstr(body, mark) : NULL;
	size_t n;

	if (p == NULL)
		return NULL;
	p += strlen(mark);
	n = strcspn(p, end_chars);
	return strndup(p, n);
}

/* Makes a personal token on the page: scopes "read", "write" or "read write"; days
 * NULL for none. Returns the token (malloc'd) or NULL. */
static char *
make_pat(struct iweb *w, const char *name, const char *scopes, const char *days)
{
	const char *fields[12];
	size_t n = 0;
	char *token, *prefixed;
	long st;

	st = iweb_get(w, "/settings/tokens");
	EXPECT_STATUS(st, 200, &w->last);
	fields[n++] = "name";
	fields[n++] = name;
	if (strstr(scopes, "read") != NULL) {
		fields[n++] = "scope";
		fields[n++] = "read";
	}
	if (strstr(scopes, "write") != NULL) {
		fields[n++] = "scope";
		fields[n++] = "write";
	}
	fields[n++] = "expires_days";
	fields[n++] = days != NULL ? days : "";
	fields[n] = NULL;
	st = iweb_post(w, "/settings/tokens", fields, 1, NULL);
	EXPECT_STATUS(st, 200, &w->last);
	token = cut(w->last.body, "value=\"mr_pat_", "\"");
	EXPECT(token != NULL && strlen(token) == 43, &w->last, "the page shows the new token");
	if (token == NULL)
		return NULL;
	prefixed = itest_asprintf("mr_pat_%s", token);
	free(token);
	return prefixed;
}

/* A request with a bearer token (NULL: none), an Origin (NULL: none) and a body (NULL:
 * none) of the given type. */
static long
api(struct itest_response *r, const char *method, const char *path, const char *token,
    const char *origin, const char *content_type, const char *body)
{
	const char *headers[6];
	char *auth = NULL, *org = NULL, *ct = NULL;
	size_t n = 0;
	long st;

	if (token != NULL)
		headers[n++] = auth = itest_asprintf("Authorization: Bearer %s", token);
	if (origin != NULL)
		headers[n++] = org = itest_asprintf("Origin: %s", origin);
	if (content_type != NULL)
		headers[n++] = ct = itest_asprintf("Content-Type: %s", content_type);
	headers[n] = NULL;
	itest_response_free(r);
	st = itest_request(NULL, r, method, path, headers, body,
	    body != NULL ? strlen(body) : 0) == 0 ? r->status : 0;
	free(auth);
	free(org);
	free(ct);
	return st;
}

/* A request of the signed-in browser w with its cookies and CSRF token, JSON body. */
static long
api_session(struct iweb *w, struct itest_response *r, const char *method, const char *path,
    const char *json)
{
	const char *headers[6];
	char *cookie = itest_asprintf("Cookie: %s=%s", SESSION_COOKIE,
	    iweb_cookie(w, SESSION_COOKIE) != NULL ? iweb_cookie(w, SESSION_COOKIE) : "");
	char *csrf = itest_asprintf("X-CSRF-Token: %s", w->csrf);
	char *origin = itest_asprintf("Origin: %s", itest_base_url());
	size_t n = 0;
	long st;

	headers[n++] = cookie;
	headers[n++] = csrf;
	headers[n++] = origin;
	if (json != NULL)
		headers[n++] = "Content-Type: application/json";
	headers[n] = NULL;
	itest_response_free(r);
	st = itest_request(NULL, r, method, path, headers, json, json != NULL ? strlen(json) : 0)
	    == 0 ? r->status : 0;
	free(cookie);
	free(csrf);
	free(origin);
	return st;
}

static json_t *
body_json(const struct itest_response *r)
{
	char err[256];
	json_t *j = itest_json(r, err, sizeof(err));

	EXPECT(j != NULL, r, "a JSON body: %s", err);
	return j;
}

static const char *
jstr(json_t *j, const char *key)
{
	const char *s = json_string_value(json_object_get(j, key));

	return s != NULL ? s : "";
}

/* The id of the user's token named name, as text (malloc'd), or NULL. */
static char *
token_id(const char *email, const char *name)
{
	return iweb_sql_value("SELECT t.id FROM api_tokens t JOIN users u ON u.id = t.user_id "
	    "WHERE u.email = $1 AND t.name = $2", 2, (const char *const[]){ email, name });
}

static int
has_access_control(const struct itest_response *r)
{
	for (size_t i = 0; i < r->nheaders; i++)
		if (strncasecmp(r->headers[i].name, "Access-Control-", 15) == 0)
			return 1;
	return 0;
}

/* ---- Personal access tokens */

static void
test_pat_lifecycle(void)
{
	struct iweb *w = iweb_new();
	const char *email = signup(w, "pat");
	struct itest_response r = { 0 };
	char *token = make_pat(w, "reader", "read", NULL), *tampered, *id, *dump, *v;
	json_t *j;
	long st;

	if (token == NULL)
		goto out;
	EXPECT(iweb_body_has(w, "shown only this once"), &w->last, "the page says it once");

	/* Shown once: the list shows its prefix, never the token again. */
	st = iweb_get(w, "/settings/tokens");
	EXPECT_STATUS(st, 200, &w->last);
	EXPECT(!iweb_body_has(w, token), &w->last, "the token is not shown again");
	EXPECT(iweb_body_has(w, "reader"), &w->last, "the list names it");
	{
		char prefix[16];

		snprintf(prefix, sizeof(prefix), "%.11s", token);
		EXPECT(iweb_body_has(w, prefix), &w->last, "the list shows its prefix");
	}
	/* Stored as a digest only. */
	dump = iweb_db_dump();
	EXPECT(strstr(dump, token) == NULL && strstr(dump, token + 7) == NULL, NULL,
	    "no plaintext token in the database");
	free(dump);

	/* It works on /api/v1/me, with its scopes. */
	st = api(&r, "GET", "/api/v1/me", token, NULL, NULL, NULL);
	EXPECT_STATUS(st, 200, &r);
	j = body_json(&r);
	EXPECT(strcmp(jstr(j, "email"), email) == 0, &r, "the token's user");
	EXPECT(strcmp(jstr(j, "auth"), "token") == 0, &r, "via a token");
	EXPECT(json_array_size(json_object_get(j, "scopes")) == 1 &&
	    strcmp(json_string_value(json_array_get(json_object_get(j, "scopes"), 0)), "read") == 0,
	    &r, "scopes [read]");
	EXPECT(json_object_get(j, "id") != NULL && strcmp(jstr(j, "role"), "") != 0, &r,
	    "id and role");
	json_decref(j);
	v = iweb_sql_value("SELECT last_used_at IS NOT NULL FROM api_tokens t JOIN users u "
	    "ON u.id = t.user_id WHERE u.email = $1 AND t.name = 'reader'", 1,
	    (const char *const[]){ email });
	EXPECT(v != NULL && strcmp(v, "t") == 0, NULL, "last use recorded");
	free(v);

	/* Tampered: one character changed. */
	tampered = strdup(token);
	tampered[20] = tampered[20] == 'A' ? 'B' : 'A';
	st = api(&r, "GET", "/api/v1/me", tampered, NULL, NULL, NULL);
	EXPECT_STATUS(st, 401, &r);
	EXPECT(itest_header(&r, "WWW-Authenticate") != NULL &&
	    strstr(itest_header(&r, "WWW-Authenticate"), "invalid_token") != NULL, &r,
	    "WWW-Authenticate: invalid_token");
	free(tampered);
	/* A JWT with alg none, and other shapes. */
	st = api(&r, "GET", "/api/v1/me", ALG_NONE_JWT, NULL, NULL, NULL);
	EXPECT_STATUS(st, 401, &r);
	EXPECT(itest_header(&r, "WWW-Authenticate") != NULL, &r, "WWW-Authenticate");
	EXPECT(strstr(r.body, "\"invalid_token\"") != NULL, &r, "the error envelope");
	st = api(&r, "GET", "/api/v1/me", NULL, NULL, NULL, NULL);
	EXPECT_STATUS(st, 401, &r);
	EXPECT(itest_header(&r, "WWW-Authenticate") != NULL, &r, "WWW-Authenticate");
	{
		const char *h[] = { "Authorization: Basic YWRhOnNlY3JldA==", NULL };

		itest_response_free(&r);
		itest_request(NULL, &r, "GET", "/api/v1/me", h, NULL, 0);
		EXPECT_STATUS(r.status, 401, &r);
	}

	/* A read token on a write route: 403 insufficient_scope, nothing changes. */
	st = api(&r, "PATCH", "/api/v1/me", token, NULL, "application/json",
	    "{\"display_name\":\"Mallory\"}");
	EXPECT_STATUS(st, 403, &r);
	EXPECT(strstr(r.body, "insufficient_scope") != NULL, &r, "insufficient_scope");
	EXPECT(itest_header(&r, "WWW-Authenticate") != NULL &&
	    strstr(itest_header(&r, "WWW-Authenticate"), "scope=\"write\"") != NULL, &r,
	    "names the scope");
	v = iweb_sql_value("SELECT display_name FROM users WHERE email = $1", 1,
	    (const char *const[]){ email });
	EXPECT(v != NULL && strcmp(v, "Ada Lovelace") == 0, NULL, "name unchanged");
	free(v);

	/* Expired: moved into the past. */
	PQclear(iweb_sql("UPDATE api_tokens SET expires_at = now() - interval '1 second' "
	    "WHERE name = 'reader' AND user_id = (SELECT id FROM users WHERE email = $1)", 1,
	    (const char *const[]){ email }));
	st = api(&r, "GET", "/api/v1/me", token, NULL, NULL, NULL);
	EXPECT_STATUS(st, 401, &r);
	st = iweb_get(w, "/settings/tokens");
	EXPECT(iweb_body_has(w, ">expired<"), &w->last, "the list marks it expired");
	PQclear(iweb_sql("UPDATE api_tokens SET expires_at = NULL WHERE name = 'reader' "
	    "AND user_id = (SELECT id FROM users WHERE email = $1)", 1,
	    (const char *const[]){ email }));
	st = api(&r, "GET", "/api/v1/me", token, NULL, NULL, NULL);
	EXPECT_STATUS(st, 200, &r);

	/* Revoked on the page: 401 from then on. */
	id = token_id(email, "reader");
	EXPECT(id != NULL, NULL, "the token's row");
	if (id != NULL) {
		char *path = itest_asprintf("/settings/tokens/%s/revoke", id);

		st = iweb_get(w, "/settings/tokens");
		st = iweb_post(w, path, NULL, 1, NULL);
		EXPECT_STATUS(st, 303, &w->last);
		st = iweb_get(w, "/settings/tokens");
		EXPECT(iweb_body_has(w, "The token has been revoked."), &w->last, "flash");
		EXPECT(!iweb_body_has(w, ">reader<"), &w->last, "gone from the list");
		st = api(&r, "GET", "/api/v1/me", token, NULL, NULL, NULL);
		EXPECT_STATUS(st, 401, &r);
		/* Twice: nothing to revoke. */
		st = iweb_post(w, path, NULL, 1, NULL);
		EXPECT_STATUS(st, 404, &w->last);
		free(path);
	}
	v = iweb_sql_value("SELECT count(*) FROM audit_log a JOIN users u ON u.id = a.user_id "
	    "WHERE u.email = $1 AND a.event IN ('token.create', 'token.revoke')", 1,
	    (const char *const[]){ email });
	EXPECT(v != NULL && strcmp(v, "2") == 0, NULL, "audited: token.create, token.revoke "
	    "(%s)", v != NULL ? v : "none");
	free(v);
	free(id);
out:
	free(token);
	itest_response_free(&r);
	iweb_free(w);
}

static void
test_pat_write_and_expiry(void)
{
	struct iweb *w = iweb_new();
	const char *email = signup(w, "patw");
	struct itest_response r = { 0 };
	char *token = make_pat(w, "writer", "read write", "7"), *v;
	json_t *j;
	long st;

	if (token == NULL)
		goto out;
	st = api(&r, "PATCH", "/api/v1/me", token, NULL, "application/json",
	    "{\"display_name\":\"Ada King\",\"time_zone\":\"Europe/Paris\"}");
	EXPECT_STATUS(st, 200, &r);
	j = body_json(&r);
	EXPECT(strcmp(jstr(j, "display_name"), "Ada King") == 0 &&
	    strcmp(jstr(j, "time_zone"), "Europe/Paris") == 0, &r, "the new profile");
	json_decref(j);
	/* Validation: 400 with field details, nothing changes. */
	st = api(&r, "PATCH", "/api/v1/me", token, NULL, "application/json",
	    "{\"time_zone\":\"Mars/Olympus\"}");
	EXPECT_STATUS(st, 400, &r);
	EXPECT(strstr(r.body, "time_zone") != NULL, &r, "names the field");
	v = iweb_sql_value("SELECT display_name || ' ' || time_zone FROM users WHERE email = $1",
	    1, (const char *const[]){ email });
	EXPECT(v != NULL && strcmp(v, "Ada King Europe/Paris") == 0, NULL, "profile: %s",
	    v != NULL ? v : "none");
	free(v);
	v = iweb_sql_value("SELECT expires_at BETWEEN now() + interval '6 days 23 hours' AND "
	    "now() + interval '7 days 1 hour' FROM api_tokens t JOIN users u ON u.id = t.user_id "
	    "WHERE u.email = $1 AND t.name = 'writer'", 1, (const char *const[]){ email });
	EXPECT(v != NULL && strcmp(v, "t") == 0, NULL, "expires in 7 days");
	free(v);

	/* The form's checks. */
	st = iweb_get(w, "/settings/tokens");
	st = iweb_post(w, "/settings/tokens", (const char *const[]){ "name", "",
	    "expires_days", "0", NULL }, 1, NULL);
	EXPECT_STATUS(st, 400, &w->last);
	EXPECT(iweb_body_has(w, "Name the token"), &w->last, "name error");
	EXPECT(iweb_body_has(w, "Choose what the token may do"), &w->last, "scope error");
	EXPECT(iweb_body_has(w, "A number of days from 1 to 365"), &w->last, "days error");
	EXPECT(!iweb_body_has(w, "value=\"mr_pat_"), &w->last, "no token");
	st = iweb_post(w, "/settings/tokens", (const char *const[]){ "name", "x", "scope",
	    "admin", NULL }, 1, NULL);
	EXPECT_STATUS(st, 400, &w->last);
	/* Without the CSRF token: refused, nothing made. */
	st = iweb_post(w, "/settings/tokens", (const char *const[]){ "name", "csrf", "scope",
	    "read", NULL }, 0, NULL);
	EXPECT_STATUS(st, 403, &w->last);
	v = token_id(email, "csrf");
	EXPECT(v == NULL, NULL, "no token without the CSRF token");
	free(v);
out:
	free(token);
	itest_response_free(&r);
	iweb_free(w);
}

/* The JSON API of tokens: a signed-in browser only. */
static void
test_api_tokens(void)
{
	struct iweb *w = iweb_new();
	const char *email = signup(w, "apitok");
	struct itest_response r = { 0 };
	char *token = NULL, *path;
	json_t *j;
	json_int_t id = 0;
	long st;

	st = iweb_get(w, "/settings/tokens");   /* the CSRF token of the session */
	st = api_session(w, &r, "POST", "/api/v1/tokens",
	    "{\"name\":\"ci\",\"scopes\":[\"read\"],\"expires_in_days\":30}");
	EXPECT_STATUS(st, 201, &r);
	j = body_json(&r);
	if (j != NULL) {
		token = strdup(jstr(j, "token"));
		id = json_integer_value(json_object_get(j, "id"));
		EXPECT(strncmp(token, "mr_pat_", 7) == 0, &r, "a personal token");
		EXPECT(json_string_value(json_object_get(j, "expires_at")) != NULL, &r, "expiry");
	}
	json_decref(j);
	st = api(&r, "GET", "/api/v1/me", token, NULL, NULL, NULL);
	EXPECT_STATUS(st, 200, &r);

	/* The list: without the token itself. */
	st = api_session(w, &r, "GET", "/api/v1/tokens", NULL);
	EXPECT_STATUS(st, 200, &r);
	EXPECT(strstr(r.body, "\"ci\"") != NULL && token != NULL && strstr(r.body, token) == NULL,
	    &r, "listed without the secret");

	/* A token cannot manage tokens. */
	st = api(&r, "GET", "/api/v1/tokens", token, NULL, NULL, NULL);
	EXPECT_STATUS(st, 401, &r);
	st = api(&r, "POST", "/api/v1/tokens", token, NULL, "application/json",
	    "{\"name\":\"more\",\"scopes\":[\"read\",\"write\"]}");
	EXPECT_STATUS(st, 401, &r);
	path = itest_asprintf("/api/v1/tokens/%lld", (long long)id);
	st = api(&r, "DELETE", path, token, NULL, NULL, NULL);
	EXPECT_STATUS(st, 401, &r);

	/* Validation. */
	st = api_session(w, &r, "POST", "/api/v1/tokens", "{\"name\":\"\",\"scopes\":[\"root\"]}");
	EXPECT_STATUS(st, 400, &r);
	EXPECT(strstr(r.body, "\"fields\"") != NULL, &r, "field details");
	/* Without the CSRF header: refused. */
	{
		char *cookie = itest_asprintf("Cookie: %s=%s", SESSION_COOKIE,
		    iweb_cookie(w, SESSION_COOKIE));
		const char *h[] = { cookie, "Content-Type: application/json", NULL };
		const char *body = "{\"name\":\"nocsrf\",\"scopes\":[\"read\"]}";

		itest_response_free(&r);
		itest_request(NULL, &r, "POST", "/api/v1/tokens", h, body, strlen(body));
		EXPECT_STATUS(r.status, 403, &r);
		free(cookie);
	}

	/* Revoked through the API. */
	st = api_session(w, &r, "DELETE", path, NULL);
	EXPECT_STATUS(st, 204, &r);
	st = api(&r, "GET", "/api/v1/me", token, NULL, NULL, NULL);
	EXPECT_STATUS(st, 401, &r);
	st = api_session(w, &r, "DELETE", path, NULL);
	EXPECT_STATUS(st, 404, &r);
	(void)email;
	free(path);
	free(token);
	itest_response_free(&r);
	iweb_free(w);
}

/* ---- The extension's flow */

/* Runs the consent step for w; returns the code (malloc'd) or NULL. */
static char *
authorize(struct iweb *w, const char *scope, const char *state)
{
	char *ru = url_escape(EXT_REDIRECT), *sc = url_escape(scope), *cid = url_escape(EXT_ORIGIN);
	char *path = itest_asprintf("/oauth/authorize?response_type=code&client_id=%s"
	    "&redirect_uri=%s&code_challenge=" CHALLENGE "&code_challenge_method=S256&scope=%s"
	    "&state=%s", cid, ru, sc, state);
	char *code = NULL, *want;
	long st;

	st = iweb_get(w, path);
	EXPECT_STATUS(st, 200, &w->last);
	EXPECT(iweb_body_has(w, EXT_ORIGIN), &w->last, "the consent page names the extension");
	st = iweb_post(w, "/oauth/authorize", (const char *const[]){ "client_id", EXT_ORIGIN,
	    "redirect_uri", EXT_REDIRECT, "code_challenge", CHALLENGE, "scope", scope,
	    "state", state, "decision", "allow", NULL }, 1, NULL);
	EXPECT_STATUS(st, 303, &w->last);
	want = itest_asprintf("%s?code=mr_ac_", EXT_REDIRECT);
	EXPECT(strncmp(iweb_location(w), want, strlen(want)) == 0, &w->last,
	    "back to the redirect_uri with a code");
	code = cut(iweb_location(w), "code=", "&");
	{
		char *s = cut(iweb_location(w), "&state=", "&");

		EXPECT(s != NULL && strcmp(s, state) == 0, &w->last, "with the state");
		free(s);
	}
	free(want);
	free(path);
	free(ru);
	free(sc);
	free(cid);
	return code;
}

struct tokens {
	char *access, *refresh;
};

static void
tokens_free(struct tokens *t)
{
	free(t->access);
	free(t->refresh);
	t->access = t->refresh = NULL;
}

/* POST /oauth/token with a form; on 200 fills t. */
static long
token_request(struct itest_response *r, const char *form, const char *origin,
    struct tokens *t)
{
	long st = api(r, "POST", "/oauth/token", NULL, origin,
	    "application/x-www-form-urlencoded", form);
	json_t *j;

	if (st != 200 || t == NULL)
		return st;
	j = body_json(r);
	tokens_free(t);
	t->access = strdup(jstr(j, "access_token"));
	t->refresh = strdup(jstr(j, "refresh_token"));
	EXPECT(strncmp(t->access, "mr_at_", 6) == 0 && strncmp(t->refresh, "mr_rt_", 6) == 0, r,
	    "an access and a refresh token");
	EXPECT(strcmp(jstr(j, "token_type"), "Bearer") == 0, r, "Bearer");
	EXPECT(json_integer_value(json_object_get(j, "expires_in")) == 900, r, "15 minutes");
	EXPECT(itest_header(r, "Cache-Control") != NULL &&
	    strcmp(itest_header(r, "Cache-Control"), "no-store") == 0, r, "no-store");
	json_decref(j);
	return st;
}

static char *
code_form(const char *code, const char *verifier)
{
	char *ru = url_escape(EXT_REDIRECT), *cid = url_escape(EXT_ORIGIN);
	char *f = itest_asprintf("grant_type=authorization_code&code=%s&redirect_uri=%s"
	    "&client_id=%s&code_verifier=%s", code, ru, cid, verifier);

	free(ru);
	free(cid);
	return f;
}

static char *
refresh_form(const char *refresh)
{
	char *cid = url_escape(EXT_ORIGIN);
	char *f = itest_asprintf("grant_type=refresh_token&refresh_token=%s&client_id=%s",
	    refresh, cid);

	free(cid);
	return f;
}

static int
oauth_error_is(struct itest_response *r, const char *error)
{
	json_t *j = body_json(r);
	int ok = j != NULL && strcmp(jstr(j, "error"), error) == 0 &&
	    json_is_string(json_object_get(j, "error_description"));

	json_decref(j);
	return ok;
}

static void
test_oauth_flow(void)
{
	struct iweb *w = iweb_new();
	const char *email = signup(w, "oauth");
	struct itest_response r = { 0 };
	struct tokens t1 = { 0 }, t2 = { 0 }, t3 = { 0 };
	char *code = authorize(w, "read write", "s1"), *form, *v, *dump;
	json_t *j;
	long st;

	if (code == NULL)
		goto out;
	/* The code is kept as a digest, for 60 seconds. */
	v = iweb_sql_value("SELECT expires_at BETWEEN now() + interval '50 seconds' AND "
	    "now() + interval '61 seconds' FROM oauth_codes c JOIN users u ON u.id = c.user_id "
	    "WHERE u.email = $1", 1, (const char *const[]){ email });
	EXPECT(v != NULL && strcmp(v, "t") == 0, NULL, "a code for 60 seconds");
	free(v);
	dump = iweb_db_dump();
	EXPECT(strstr(dump, code) == NULL && strstr(dump, code + 6) == NULL, NULL,
	    "no plaintext code in the database");
	free(dump);

	/* Exchanged with the verifier. */
	form = code_form(code, VERIFIER);
	st = token_request(&r, form, NULL, &t1);
	EXPECT_STATUS(st, 200, &r);
	j = body_json(&r);
	EXPECT(strcmp(jstr(j, "scope"), "read write") == 0, &r, "scope read write");
	json_decref(j);
	st = api(&r, "GET", "/api/v1/me", t1.access, NULL, NULL, NULL);
	EXPECT_STATUS(st, 200, &r);
	EXPECT(strstr(r.body, email) != NULL, &r, "the user of the code");
	/* A refresh token is not a bearer token. */
	st = api(&r, "GET", "/api/v1/me", t1.refresh, NULL, NULL, NULL);
	EXPECT_STATUS(st, 401, &r);

	/* The extension's sign-in is listed. */
	st = iweb_get(w, "/settings/tokens");
	EXPECT(iweb_body_has(w, EXT_ORIGIN), &w->last, "the sign-in is listed");
	dump = iweb_db_dump();
	EXPECT(strstr(dump, t1.access + 6) == NULL && strstr(dump, t1.refresh + 6) == NULL, NULL,
	    "no plaintext token in the database");
	free(dump);

	/* The code a second time: refused, and what it gave is revoked (RFC 6749 4.1.2). */
	st = token_request(&r, form, NULL, NULL);
	EXPECT_STATUS(st, 400, &r);
	EXPECT(oauth_error_is(&r, "invalid_grant"), &r, "invalid_grant");
	st = api(&r, "GET", "/api/v1/me", t1.access, NULL, NULL, NULL);
	EXPECT_STATUS(st, 401, &r);
	free(form);
	form = refresh_form(t1.refresh);
	st = token_request(&r, form, NULL, NULL);
	EXPECT_STATUS(st, 400, &r);
	free(form);
	free(code);

	/* A new authorization; refresh rotates. */
	code = authorize(w, "read", "s2");
	form = code_form(code, VERIFIER);
	st = token_request(&r, form, NULL, &t1);
	EXPECT_STATUS(st, 200, &r);
	free(form);
	form = refresh_form(t1.refresh);
	st = token_request(&r, form, NULL, &t2);
	EXPECT_STATUS(st, 200, &r);
	EXPECT(t2.access != NULL && strcmp(t2.access, t1.access) != 0 &&
	    strcmp(t2.refresh, t1.refresh) != 0, &r, "a new pair");
	st = api(&r, "GET", "/api/v1/me", t2.access, NULL, NULL, NULL);
	EXPECT_STATUS(st, 200, &r);
	EXPECT(strstr(r.body, "\"write\"") == NULL, &r, "the scopes of the grant: read");
	/* And the next one, in JSON. */
	{
		char *body = itest_asprintf("{\"grant_type\":\"refresh_token\",\"refresh_token\":"
		    "\"%s\",\"client_id\":\"%s\"}", t2.refresh, EXT_ORIGIN);

		st = api(&r, "POST", "/oauth/token", NULL, NULL, "application/json", body);
		EXPECT_STATUS(st, 200, &r);
		j = body_json(&r);
		tokens_free(&t3);
		t3.access = strdup(jstr(j, "access_token"));
		t3.refresh = strdup(jstr(j, "refresh_token"));
		json_decref(j);
		free(body);
	}
	st = api(&r, "GET", "/api/v1/me", t3.access, NULL, NULL, NULL);
	EXPECT_STATUS(st, 200, &r);

	/* Reuse of the first refresh token: invalid_grant, and the whole family, the newest
	 * access token included, is revoked. */
	st = token_request(&r, form, NULL, NULL);
	EXPECT_STATUS(st, 400, &r);
	EXPECT(oauth_error_is(&r, "invalid_grant"), &r, "invalid_grant");
	st = api(&r, "GET", "/api/v1/me", t3.access, NULL, NULL, NULL);
	EXPECT_STATUS(st, 401, &r);
	st = api(&r, "GET", "/api/v1/me", t2.access, NULL, NULL, NULL);
	EXPECT_STATUS(st, 401, &r);
	free(form);
	form = refresh_form(t3.refresh);
	st = token_request(&r, form, NULL, NULL);
	EXPECT_STATUS(st, 400, &r);
	EXPECT(oauth_error_is(&r, "invalid_grant"), &r, "the newest refresh token too");
	v = iweb_sql_value("SELECT count(*) FROM audit_log a JOIN users u ON u.id = a.user_id "
	    "WHERE u.email = $1 AND a.event = 'token.reuse'", 1, (const char *const[]){ email });
	EXPECT(v != NULL && strcmp(v, "2") == 0, NULL, "token.reuse audited (%s)",
	    v != NULL ? v : "none");
	free(v);
	free(form);
	free(code);
out:
	tokens_free(&t1);
	tokens_free(&t2);
	tokens_free(&t3);
	itest_response_free(&r);
	iweb_free(w);
}

static void
test_oauth_refusals(void)
{
	struct iweb *w = iweb_new();
	const char *email = signup(w, "oauthbad");
	struct itest_response r = { 0 };
	struct tokens t = { 0 };
	char *code, *form, *path, *ru = url_escape(EXT_REDIRECT), *cid = url_escape(EXT_ORIGIN);
	long st;

	/* A wrong verifier: invalid_grant, and the code is spent. */
	code = authorize(w, "read", "w1");
	form = code_form(code, OTHER_VERIFIER);
	st = token_request(&r, form, NULL, NULL);
	EXPECT_STATUS(st, 400, &r);
	EXPECT(oauth_error_is(&r, "invalid_grant"), &r, "invalid_grant");
	EXPECT(strstr(r.body, "code_verifier") != NULL, &r, "says why");
	free(form);
	form = code_form(code, VERIFIER);
	st = token_request(&r, form, NULL, NULL);
	EXPECT_STATUS(st, 400, &r);
	free(form);
	free(code);

	/* An expired code. */
	code = authorize(w, "read", "w2");
	PQclear(iweb_sql("UPDATE oauth_codes SET expires_at = now() - interval '1 second' "
	    "WHERE user_id = (SELECT id FROM users WHERE email = $1) AND used_at IS NULL", 1,
	    (const char *const[]){ email }));
	form = code_form(code, VERIFIER);
	st = token_request(&r, form, NULL, NULL);
	EXPECT_STATUS(st, 400, &r);
	EXPECT(oauth_error_is(&r, "invalid_grant"), &r, "expired: invalid_grant");
	free(form);
	free(code);

	/* Another redirect_uri, another (listed) client. */
	code = authorize(w, "read", "w3");
	{
		char *other = url_escape("https://" EXT_ID ".chromiumapp.org/other");
		char *f = itest_asprintf("grant_type=authorization_code&code=%s&redirect_uri=%s"
		    "&client_id=%s&code_verifier=" VERIFIER, code, other, cid);

		st = token_request(&r, f, NULL, NULL);
		EXPECT_STATUS(st, 400, &r);
		EXPECT(oauth_error_is(&r, "invalid_grant"), &r, "redirect_uri: invalid_grant");
		free(f);
		free(other);
	}
	free(code);
	code = authorize(w, "read", "w4");
	{
		char *cid2 = url_escape(EXT_ORIGIN2);
		char *f = itest_asprintf("grant_type=authorization_code&code=%s&redirect_uri=%s"
		    "&client_id=%s&code_verifier=" VERIFIER, code, ru, cid2);

		st = token_request(&r, f, NULL, NULL);
		EXPECT_STATUS(st, 400, &r);
		EXPECT(oauth_error_is(&r, "invalid_grant"), &r, "client: invalid_grant");
		free(f);
		free(cid2);
	}
	free(code);

	/* The token endpoint's other errors. */
	st = token_request(&r, "grant_type=password&username=a&password=b", NULL, NULL);
	EXPECT_STATUS(st, 400, &r);
	EXPECT(oauth_error_is(&r, "unsupported_grant_type"), &r, "unsupported_grant_type");
	st = token_request(&r, "code=x", NULL, NULL);
	EXPECT(st == 400 && oauth_error_is(&r, "invalid_request"), &r, "invalid_request");
	st = token_request(&r, "grant_type=refresh_token&refresh_token=x&client_id=null", NULL,
	    NULL);
	EXPECT(st == 400 && oauth_error_is(&r, "invalid_client"), &r, "invalid_client");
	st = token_request(&r, "grant_type=refresh_token&grant_type=refresh_token&client_id=x",
	    NULL, NULL);
	EXPECT(st == 400 && oauth_error_is(&r, "invalid_request"), &r, "a repeated parameter");
	form = itest_asprintf("grant_type=refresh_token&refresh_token=%s&client_id=%s",
	    "mr_rt_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", cid);
	st = token_request(&r, form, NULL, NULL);
	EXPECT(st == 400 && oauth_error_is(&r, "invalid_grant"), &r, "unknown refresh token");
	free(form);

	/* The authorization endpoint: a bad client or redirect_uri is shown to the user and
	 * sends nobody anywhere; other faults go back to the extension. */
	path = itest_asprintf("/oauth/authorize?response_type=code&client_id=%s&redirect_uri=%s"
	    "&code_challenge=" CHALLENGE "&code_challenge_method=S256", cid,
	    "https%3A%2F%2Fevil.example%2Fcb");
	st = iweb_get(w, path);
	EXPECT_STATUS(st, 400, &w->last);
	EXPECT(itest_header(&w->last, "Location") == NULL, &w->last, "no redirect");
	free(path);
	path = itest_asprintf("/oauth/authorize?response_type=code&client_id=%s&redirect_uri=%s"
	    "&code_challenge=" CHALLENGE "&code_challenge_method=S256",
	    "chrome-extension%3A%2F%2Fbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
	    "https%3A%2F%2Fbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb.chromiumapp.org%2Fcb");
	st = iweb_get(w, path);
	EXPECT_STATUS(st, 400, &w->last);
	EXPECT(itest_header(&w->last, "Location") == NULL, &w->last, "no redirect");
	free(path);
	path = itest_asprintf("/oauth/authorize?response_type=code&client_id=%s&redirect_uri=%s"
	    "&state=p1", cid, ru);
	st = iweb_get(w, path);
	EXPECT_STATUS(st, 303, &w->last);
	EXPECT(strstr(iweb_location(w), "error=invalid_request") != NULL &&
	    strstr(iweb_location(w), "state=p1") != NULL, &w->last, "PKCE required");
	free(path);
	path = itest_asprintf("/oauth/authorize?response_type=code&client_id=%s&redirect_uri=%s"
	    "&code_challenge=" CHALLENGE "&code_challenge_method=plain", cid, ru);
	st = iweb_get(w, path);
	EXPECT_STATUS(st, 303, &w->last);
	EXPECT(strstr(iweb_location(w), "error=invalid_request") != NULL, &w->last,
	    "plain refused");
	free(path);
	path = itest_asprintf("/oauth/authorize?response_type=token&client_id=%s&redirect_uri=%s"
	    "&code_challenge=" CHALLENGE "&code_challenge_method=S256", cid, ru);
	st = iweb_get(w, path);
	EXPECT(st == 303 && strstr(iweb_location(w), "error=unsupported_response_type") != NULL,
	    &w->last, "implicit flow refused");
	free(path);
	path = itest_asprintf("/oauth/authorize?response_type=code&client_id=%s&redirect_uri=%s"
	    "&code_challenge=" CHALLENGE "&code_challenge_method=S256&scope=admin", cid, ru);
	st = iweb_get(w, path);
	EXPECT(st == 303 && strstr(iweb_location(w), "error=invalid_scope") != NULL,
	    &w->last, "unknown scope");
	free(path);

	/* Deny. */
	path = itest_asprintf("/oauth/authorize?response_type=code&client_id=%s&redirect_uri=%s"
	    "&code_challenge=" CHALLENGE "&code_challenge_method=S256&state=d1", cid, ru);
	st = iweb_get(w, path);
	EXPECT_STATUS(st, 200, &w->last);
	st = iweb_post(w, "/oauth/authorize", (const char *const[]){ "client_id", EXT_ORIGIN,
	    "redirect_uri", EXT_REDIRECT, "code_challenge", CHALLENGE, "scope", "read",
	    "state", "d1", "decision", "deny", NULL }, 1, NULL);
	EXPECT_STATUS(st, 303, &w->last);
	EXPECT(strstr(iweb_location(w), "error=access_denied") != NULL &&
	    strstr(iweb_location(w), "state=d1") != NULL && strstr(iweb_location(w), "code=") ==
	    NULL, &w->last, "access_denied");
	/* The consent form without its CSRF token: refused, no code. */
	st = iweb_post(w, "/oauth/authorize", (const char *const[]){ "client_id", EXT_ORIGIN,
	    "redirect_uri", EXT_REDIRECT, "code_challenge", CHALLENGE, "scope", "read",
	    "decision", "allow", NULL }, 0, NULL);
	EXPECT_STATUS(st, 403, &w->last);
	free(path);

	/* Signed out, the consent page sends to the sign-in form and back. */
	{
		struct iweb *anon = iweb_new();

		path = itest_asprintf("/oauth/authorize?response_type=code&client_id=%s"
		    "&redirect_uri=%s&code_challenge=" CHALLENGE "&code_challenge_method=S256", cid,
		    ru);
		st = iweb_get(anon, path);
		EXPECT_STATUS(st, 303, &anon->last);
		EXPECT(strncmp(iweb_location(anon), "/login?next=/oauth/authorize", 28) == 0,
		    &anon->last, "to the sign-in form");
		free(path);
		iweb_free(anon);
	}
	tokens_free(&t);
	free(ru);
	free(cid);
	itest_response_free(&r);
	iweb_free(w);
}

struct race {
	const char *form;
	long status;
};

static void *
race_one(void *arg)
{
	struct race *k = arg;
	struct itest_client *h = itest_client_new();
	struct itest_response r = { 0 };
	const char *headers[] = { "Content-Type: application/x-www-form-urlencoded", NULL };

	if (itest_request(h, &r, "POST", "/oauth/token", headers, k->form, strlen(k->form)) == 0)
		k->status = r.status;
	itest_response_free(&r);
	itest_client_free(h);
	return NULL;
}

/* Two refreshes with the same token at once: at most one succeeds. */
static void
test_oauth_concurrent_refresh(void)
{
	struct iweb *w = iweb_new();
	struct itest_response r = { 0 };
	struct tokens t = { 0 };
	char *code, *form;
	long st;

	signup(w, "race");
	for (int round = 0; round < 5; round++) {
		struct race k[2];
		pthread_t th[2];
		int ok = 0;

		code = authorize(w, "read", "r");
		form = code_form(code, VERIFIER);
		st = token_request(&r, form, NULL, &t);
		EXPECT_STATUS(st, 200, &r);
		free(form);
		free(code);
		form = refresh_form(t.refresh);
		for (int i = 0; i < 2; i++) {
			k[i].form = form;
			k[i].status = 0;
			pthread_create(&th[i], NULL, race_one, &k[i]);
		}
		for (int i = 0; i < 2; i++) {
			pthread_join(th[i], NULL);
			ok += k[i].status == 200;
			EXPECT(k[i].status == 200 || k[i].status == 400, NULL, "status %ld",
			    k[i].status);
		}
		EXPECT(ok <= 1, NULL, "both refreshes succeeded");
		free(form);
	}
	tokens_free(&t);
	itest_response_free(&r);
	iweb_free(w);
}

static void
test_oauth_revocation(void)
{
	struct iweb *w = iweb_new();
	const char *email = signup(w, "revoke");
	struct itest_response r = { 0 };
	struct tokens t = { 0 };
	char *code, *form, *family, *path, *cid = url_escape(EXT_ORIGIN);
	long st;

	/* RFC 7009: a refresh token takes its family with it. */
	code = authorize(w, "read", "v1");
	form = code_form(code, VERIFIER);
	st = token_request(&r, form, NULL, &t);
	EXPECT_STATUS(st, 200, &r);
	free(form);
	free(code);
	form = itest_asprintf("token=%s&client_id=%s", t.refresh, cid);
	st = api(&r, "POST", "/oauth/revoke", NULL, NULL, "application/x-www-form-urlencoded",
	    form);
	EXPECT_STATUS(st, 200, &r);
	st = api(&r, "GET", "/api/v1/me", t.access, NULL, NULL, NULL);
	EXPECT_STATUS(st, 401, &r);
	/* Again, or an unknown token: 200 all the same. */
	st = api(&r, "POST", "/oauth/revoke", NULL, NULL, "application/x-www-form-urlencoded",
	    form);
	EXPECT_STATUS(st, 200, &r);
	free(form);
	form = itest_asprintf("token=nonsense&client_id=%s", cid);
	st = api(&r, "POST", "/oauth/revoke", NULL, NULL, "application/x-www-form-urlencoded",
	    form);
	EXPECT_STATUS(st, 200, &r);
	free(form);
	st = api(&r, "POST", "/oauth/revoke", NULL, NULL, "application/x-www-form-urlencoded",
	    "client_id=x");
	EXPECT(st == 400 && oauth_error_is(&r, "invalid_request"), &r, "token required");

	/* An access token alone. */
	code = authorize(w, "read", "v2");
	form = code_form(code, VERIFIER);
	st = token_request(&r, form, NULL, &t);
	free(form);
	free(code);
	form = itest_asprintf("token=%s&client_id=%s", t.access, cid);
	st = api(&r, "POST", "/oauth/revoke", NULL, NULL, "application/x-www-form-urlencoded",
	    form);
	EXPECT_STATUS(st, 200, &r);
	free(form);
	st = api(&r, "GET", "/api/v1/me", t.access, NULL, NULL, NULL);
	EXPECT_STATUS(st, 401, &r);
	form = refresh_form(t.refresh);
	st = token_request(&r, form, NULL, &t);
	EXPECT_STATUS(st, 200, &r);
	free(form);

	/* The sign-in revoked on the settings page. */
	family = iweb_sql_value("SELECT family_id FROM api_tokens t JOIN users u "
	    "ON u.id = t.user_id WHERE u.email = $1 AND t.revoked_at IS NULL AND t.kind = 'access' "
	    "ORDER BY t.id DESC LIMIT 1", 1, (const char *const[]){ email });
	EXPECT(family != NULL, NULL, "a live family");
	if (family != NULL) {
		st = iweb_get(w, "/settings/tokens");
		path = itest_asprintf("/settings/tokens/sessions/%s/revoke", family);
		EXPECT(iweb_body_has(w, path), &w->last, "its revoke button");
		st = iweb_post(w, path, NULL, 1, NULL);
		EXPECT_STATUS(st, 303, &w->last);
		st = api(&r, "GET", "/api/v1/me", t.access, NULL, NULL, NULL);
		EXPECT_STATUS(st, 401, &r);
		form = refresh_form(t.refresh);
		st = token_request(&r, form, NULL, NULL);
		EXPECT_STATUS(st, 400, &r);
		free(form);
		st = iweb_post(w, path, NULL, 1, NULL);
		EXPECT_STATUS(st, 404, &w->last);
		free(path);
	}
	free(family);
	free(cid);
	tokens_free(&t);
	itest_response_free(&r);
	iweb_free(w);
}

/* ---- Another user's ids */

static void
test_other_users_ids(void)
{
	struct iweb *a = iweb_new(), *b = iweb_new();
	const char *email_a = signup(a, "owner");
	struct itest_response r = { 0 };
	struct tokens t = { 0 };
	char *token = make_pat(a, "mine", "read", NULL), *id = token_id(email_a, "mine");
	char *code, *form, *family, *path, *before, *after;
	long st;

	code = authorize(a, "read", "o1");
	form = code_form(code, VERIFIER);
	st = token_request(&r, form, NULL, &t);
	EXPECT_STATUS(st, 200, &r);
	free(form);
	free(code);
	family = iweb_sql_value("SELECT family_id FROM api_tokens t JOIN users u "
	    "ON u.id = t.user_id WHERE u.email = $1 AND t.kind = 'refresh'", 1,
	    (const char *const[]){ email_a });
	signup(b, "intruder");
	before = iweb_sql_value("SELECT string_agg(t::text, ',' ORDER BY id) FROM api_tokens t",
	    0, NULL);
	if (id != NULL) {
		path = itest_asprintf("/settings/tokens/%s/revoke", id);
		st = iweb_get(b, "/settings/tokens");
		st = iweb_post(b, path, NULL, 1, NULL);
		EXPECT_STATUS(st, 404, &b->last);
		free(path);
		path = itest_asprintf("/api/v1/tokens/%s", id);
		st = api_session(b, &r, "DELETE", path, NULL);
		EXPECT_STATUS(st, 404, &r);
		free(path);
	}
	if (family != NULL) {
		path = itest_asprintf("/settings/tokens/sessions/%s/revoke", family);
		st = iweb_post(b, path, NULL, 1, NULL);
		EXPECT_STATUS(st, 404, &b->last);
		free(path);
	}
	/* Nor does b see them. */
	st = iweb_get(b, "/settings/tokens");
	EXPECT(!iweb_body_has(b, ">mine<") && !iweb_body_has(b, EXT_ORIGIN), &b->last,
	    "another user's tokens are not listed");
	after = iweb_sql_value("SELECT string_agg(t::text, ',' ORDER BY id) FROM api_tokens t",
	    0, NULL);
	EXPECT(before != NULL && after != NULL && strcmp(before, after) == 0, NULL,
	    "nothing changed");
	st = api(&r, "GET", "/api/v1/me", token, NULL, NULL, NULL);
	EXPECT_STATUS(st, 200, &r);
	st = api(&r, "GET", "/api/v1/me", t.access, NULL, NULL, NULL);
	EXPECT_STATUS(st, 200, &r);
	free(before);
	free(after);
	free(family);
	free(token);
	free(id);
	tokens_free(&t);
	itest_response_free(&r);
	iweb_free(a);
	iweb_free(b);
}

/* ---- CORS */

static void
test_cors(void)
{
	struct iweb *w = iweb_new();
	struct itest_response r = { 0 };
	char *token;
	const char *h;
	long st;

	signup(w, "cors");
	token = make_pat(w, "cors", "read", NULL);

	/* The listed origin: that origin, Vary, no credentials. */
	st = api(&r, "GET", "/api/v1/me", token, EXT_ORIGIN, NULL, NULL);
	EXPECT_STATUS(st, 200, &r);
	h = itest_header(&r, "Access-Control-Allow-Origin");
	EXPECT(h != NULL && strcmp(h, EXT_ORIGIN) == 0, &r, "Access-Control-Allow-Origin");
	EXPECT(itest_header_count(&r, "Access-Control-Allow-Origin") == 1, &r, "once");
	h = itest_header(&r, "Vary");
	EXPECT(h != NULL && strstr(h, "Origin") != NULL, &r, "Vary: Origin");
	EXPECT(itest_header(&r, "Access-Control-Allow-Credentials") == NULL, &r,
	    "no credentials");
	/* Its errors too, so that the extension can read them. */
	st = api(&r, "GET", "/api/v1/me", "mr_pat_nope", EXT_ORIGIN, NULL, NULL);
	EXPECT_STATUS(st, 401, &r);
	EXPECT(itest_header(&r, "Access-Control-Allow-Origin") != NULL, &r, "on a 401");
	st = api(&r, "POST", "/oauth/token", NULL, EXT_ORIGIN,
	    "application/x-www-form-urlencoded", "grant_type=nope");
	EXPECT_STATUS(st, 400, &r);
	EXPECT(itest_header(&r, "Access-Control-Allow-Origin") != NULL, &r, "on /oauth/token");

	/* Unlisted, "null", none: no Access-Control-* header at all. */
	st = api(&r, "GET", "/api/v1/me", token,
	    "chrome-extension://bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", NULL, NULL);
	EXPECT_STATUS(st, 200, &r);
	EXPECT(!has_access_control(&r), &r, "an unlisted extension gets none");
	st = api(&r, "GET", "/api/v1/me", token, "https://evil.example", NULL, NULL);
	EXPECT(!has_access_control(&r), &r, "a web site gets none");
	st = api(&r, "GET", "/api/v1/me", token, "null", NULL, NULL);
	EXPECT(!has_access_control(&r), &r, "null gets none");
	st = api(&r, "GET", "/api/v1/me", token, NULL, NULL, NULL);
	EXPECT(!has_access_control(&r), &r, "no Origin, none");
	/* Pages never. */
	st = api(&r, "GET", "/settings", NULL, EXT_ORIGIN, NULL, NULL);
	EXPECT(!has_access_control(&r), &r, "not on pages");

	/* Preflight. */
	{
		const char *hd[] = { "Origin: " EXT_ORIGIN, "Access-Control-Request-Method: GET",
			"Access-Control-Request-Headers: authorization", NULL };

		itest_response_free(&r);
		itest_request(NULL, &r, "OPTIONS", "/api/v1/me", hd, NULL, 0);
		EXPECT_STATUS(r.status, 204, &r);
		h = itest_header(&r, "Access-Control-Allow-Origin");
		EXPECT(h != NULL && strcmp(h, EXT_ORIGIN) == 0, &r, "allow origin");
		h = itest_header(&r, "Access-Control-Allow-Methods");
		EXPECT(h != NULL && strstr(h, "GET") != NULL && strstr(h, "PATCH") != NULL, &r,
		    "allow methods");
		h = itest_header(&r, "Access-Control-Allow-Headers");
		EXPECT(h != NULL && strstr(h, "Authorization") != NULL, &r, "allow headers");
		h = itest_header(&r, "Access-Control-Max-Age");
		EXPECT(h != NULL && strcmp(h, "600") == 0, &r, "max age");
		EXPECT(itest_header(&r, "Access-Control-Allow-Credentials") == NULL, &r,
		    "no credentials");
		EXPECT(itest_header_count(&r, "Access-Control-Allow-Origin") == 1, &r, "once");
	}
	{
		const char *hd[] = { "Origin: " EXT_ORIGIN, "Access-Control-Request-Method: POST",
			"Access-Control-Request-Headers: content-type", NULL };

		itest_response_free(&r);
		itest_request(NULL, &r, "OPTIONS", "/oauth/token", hd, NULL, 0);
		EXPECT_STATUS(r.status, 204, &r);
		h = itest_header(&r, "Access-Control-Allow-Methods");
		EXPECT(h != NULL && strstr(h, "POST") != NULL, &r, "POST");
	}
	{
		const char *hd[] = { "Origin: https://evil.example",
			"Access-Control-Request-Method: GET", NULL };

		itest_response_free(&r);
		itest_request(NULL, &r, "OPTIONS", "/api/v1/me", hd, NULL, 0);
		EXPECT(!has_access_control(&r), &r, "an unlisted preflight gets none");
	}
	{
		const char *hd[] = { "Origin: null", "Access-Control-Request-Method: GET", NULL };

		itest_response_free(&r);
		itest_request(NULL, &r, "OPTIONS", "/api/v1/me", hd, NULL, 0);
		EXPECT(!has_access_control(&r), &r, "a null preflight gets none");
	}
	free(token);
	itest_response_free(&r);
	iweb_free(w);
}

int
main(int argc, char **argv)
{
	static const struct itest_case tests[] = {
		{ "pat", "made on the page, shown once, refused when revoked, expired or "
		    "tampered", test_pat_lifecycle, 0 },
		{ "pat", "write scope, expiry, form checks", test_pat_write_and_expiry, 0 },
		{ "pat", "the JSON API of tokens takes a session", test_api_tokens, 0 },
		{ "oauth", "authorize, code, token, refresh, reuse", test_oauth_flow, 0 },
		{ "oauth", "refusals", test_oauth_refusals, 0 },
		{ "oauth", "concurrent refreshes", test_oauth_concurrent_refresh, 0 },
		{ "oauth", "revocation", test_oauth_revocation, 0 },
		{ "owner", "another user's ids: 404, nothing changes", test_other_users_ids, 0 },
		{ "cors", "extension origins only", test_cors, 0 },
	};
	unsigned failed;

	itest_init();
	failed = itest_run(argc, argv, tests, sizeof(tests) / sizeof(tests[0]));
	itest_cleanup();
	return failed > 0 ? 1 : 0;
}
