/* oauth.c: the extension's authorization flow (oauth.h): the consent page that issues
 * an authorization code, the token endpoint (code + PKCE verifier, then refresh tokens
 * that rotate, with reuse detection) and revocation. Codes and tokens are opaque
 * secrets of which the database keeps only the digests; none is ever logged. The token
 * endpoints answer in RFC 6749 5.2's format ({"error", "error_description"}), which the
 * OAuth libraries extensions use expect, rather than the API's error envelope. */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "api-token.h"
#include "audit.h"
#include "auth.h"
#include "cors.h"
#include "db-pool.h"
#include "http-server.h"
#include "oauth.h"
#include "page.h"
#include "routes.h"
#include "secret.h"
#include "util.h"

/* ---- The checks (no I/O) */

int
oauth_scopes_parse(const char *s, unsigned *mask)
{
	*mask = 0;
	if (s == NULL)
		return 0;
	while (*s != '\0') {
		size_t n;

		if (*s == ' ') {
			s++;
			continue;
		}
		n = strcspn(s, " ");
		if (n == strlen(API_SCOPE_READ) && strncmp(s, API_SCOPE_READ, n) == 0)
			*mask |= OAUTH_SCOPE_READ;
		else if (n == strlen(API_SCOPE_WRITE) && strncmp(s, API_SCOPE_WRITE, n) == 0)
			*mask |= OAUTH_SCOPE_WRITE;
		else
			return -1;
		s += n;
	}
	return 0;
}

const char *
oauth_scopes_text(unsigned mask)
{
	switch (mask & (OAUTH_SCOPE_READ | OAUTH_SCOPE_WRITE)) {
	case OAUTH_SCOPE_READ:
		return API_SCOPE_READ;
	case OAUTH_SCOPE_WRITE:
		return API_SCOPE_WRITE;
	case OAUTH_SCOPE_READ | OAUTH_SCOPE_WRITE:
		return API_SCOPE_READ " " API_SCOPE_WRITE;
	default:
		return "";
	}
}

static int
oauth_is_b64url(char ch)
{
	return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
	    ch == '-' || ch == '_';
}

int
oauth_pkce_verifier_wellformed(const char *v)
{
	size_t n;

	if (v == NULL)
		return 0;
	n = strlen(v);
	if (n < 43 || n > 128)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!oauth_is_b64url(v[i]) && v[i] != '.' && v[i] != '~')
			return 0;
	return 1;
}

int
oauth_pkce_challenge_wellformed(const char *ch)
{
	if (ch == NULL || strlen(ch) != OAUTH_CHALLENGE_LEN)
		return 0;
	for (size_t i = 0; i < OAUTH_CHALLENGE_LEN; i++)
		if (!oauth_is_b64url(ch[i]))
			return 0;
	return 1;
}

void
oauth_pkce_challenge(const char *verifier, char out[OAUTH_CHALLENGE_LEN + 1])
{
	unsigned char h[crypto_hash_sha256_BYTES];

	crypto_hash_sha256(h, (const unsigned char *)verifier, strlen(verifier));
	sodium_bin2base64(out, OAUTH_CHALLENGE_LEN + 1, h, sizeof(h),
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

int
oauth_pkce_verify(const char *verifier, const char *challenge)
{
	char want[OAUTH_CHALLENGE_LEN + 1];

	if (!oauth_pkce_verifier_wellformed(verifier) ||
	    !oauth_pkce_challenge_wellformed(challenge))
		return 0;
	oauth_pkce_challenge(verifier, want);
	return sodium_memcmp(want, challenge, OAUTH_CHALLENGE_LEN) == 0;
}

int
oauth_client_listed(const char *list, const char *client_id)
{
	return cors_origin_listed(list, client_id);
}

int
oauth_client_allowed(const char *client_id)
{
	return cors_origin_allowed(client_id);
}

/* "/" and a path of letters, digits and -._~/ without a ".." segment. */
static int
oauth_redirect_path_ok(const char *p)
{
	if (*p != '/' || strlen(p) > 1000)
		return 0;
	for (const char *s = p; *s != '\0'; s++) {
		if (!oauth_is_b64url(*s) && *s != '.' && *s != '~' && *s != '/')
			return 0;
		if (s[0] == '/' && s[1] == '.' && s[2] == '.' && (s[3] == '/' || s[3] == '\0'))
			return 0;
	}
	return 1;
}

int
oauth_redirect_uri_valid(const char *client_id, const char *redirect_uri)
{
	static const char chrome[] = "chrome-extension://";
	size_t n;

	if (client_id == NULL || redirect_uri == NULL ||
	    !cors_origin_wellformed(client_id, strlen(client_id)))
		return 0;
	n = strlen(client_id);
	/* The extension's own pages. */
	if (strncmp(redirect_uri, client_id, n) == 0)
		return oauth_redirect_path_ok(redirect_uri + n);
	/* chrome.identity.getRedirectURL(): https://<id>.chromiumapp.org/, which the
	 * browser intercepts and hands to that extension only. */
	if (strncmp(client_id, chrome, sizeof(chrome) - 1) == 0) {
		const char *id = client_id + sizeof(chrome) - 1;
		const char *host = ".chromiumapp.org";

		if (strncmp(redirect_uri, "https://", 8) != 0 ||
		    strncmp(redirect_uri + 8, id, 32) != 0 ||
		    strncmp(redirect_uri + 8 + 32, host, strlen(host)) != 0)
			return 0;
		return oauth_redirect_path_ok(redirect_uri + 8 + 32 + strlen(host));
	}
	return 0;
}

/* ---- Helpers of the handlers */

static const char *
oauth_id(struct http_ctx *c, int64_t id)
{
	return arena_printf(c->arena, "%" PRId64, id);
}

/* RFC 6749 5.2: {"error": code, "error_description": text}, never stored by caches. */
static int
oauth_error(struct http_ctx *c, int status, const char *error, const char *description)
{
	http_response_header(c->res, "Cache-Control", "no-store");
	http_response_header(c->res, "Pragma", "no-cache");
	http_response_json(c->res, status, json_pack("{s:s, s:s}", "error", error,
	    "error_description", description));
	return status;
}

/* A parameter of a token or revocation request, from its urlencoded or JSON body (never
 * the query string, which logs and histories keep). NULL when absent or empty; *bad set
 * when it is there twice, or is not a string. */
static const char *
oauth_param(struct http_ctx *c, const char *name, int *bad)
{
	const char *v;

	if (c->req->json != NULL) {
		json_t *j = json_is_object(c->req->json) ? json_object_get(c->req->json, name) :
		    NULL;

		if (j == NULL || json_is_null(j))
			return NULL;
		if (!json_is_string(j) || strlen(json_string_value(j)) != json_string_length(j)) {
			*bad = 1;
			return NULL;
		}
		v = json_string_value(j);
	} else {
		if (kvlist_count(&c->req->form, name) > 1) {
			*bad = 1;
			return NULL;
		}
		v = kvlist_get(&c->req->form, name);
	}
	return v != NULL && *v != '\0' ? v : NULL;
}

/* ---- The authorization endpoint: a page of the signed-in browser */

struct oauth_authz {
	const char *client_id, *redirect_uri, *challenge, *state;
	unsigned scopes;
};

enum oauth_authz_check {
	OAUTH_AUTHZ_OK,
	OAUTH_AUTHZ_NO_CLIENT,   /* client or redirect_uri bad: tell the user, never redirect */
	OAUTH_AUTHZ_ERROR,       /* anything else: redirect back with error */
};

/* The value of name in l, or NULL; *dup set when it is there more than once. */
static const char *
oauth_kv(const struct kvlist *l, const char *name, int *dup)
{
	const char *v = kvlist_get(l, name);

	if (kvlist_count(l, name) > 1)
		*dup = 1;
	return v != NULL && *v != '\0' ? v : NULL;
}

/* Whether s is a state RFC 6749 allows (1*VSCHAR) and we keep (at most 500). */
static int
oauth_state_ok(const char *s)
{
	size_t n = strlen(s);

	if (n > OAUTH_STATE_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (s[i] < 0x20 || s[i] > 0x7e)
			return 0;
	return 1;
}

/* Reads and checks an authorization request (the query of the GET, the fields of the
 * consent form's POST). RFC 6749 4.1.2.1: with a bad client or redirect_uri the user is
 * told and nothing is sent anywhere; other faults go back to the extension. */
static enum oauth_authz_check
oauth_authz_read(const struct kvlist *l, int consent, struct oauth_authz *a,
    const char **error, const char **why)
{
	int dup = 0, other_dup = 0;
	const char *type, *method, *scope;

	memset(a, 0, sizeof(*a));
	a->client_id = oauth_kv(l, "client_id", &dup);
	a->redirect_uri = oauth_kv(l, "redirect_uri", &dup);
	if (dup || a->client_id == NULL || !oauth_client_allowed(a->client_id)) {
		*why = "This extension is not allowed to sign in to this server: its id is not "
		    "in MAILROOM_EXTENSION_ORIGINS.";
		return OAUTH_AUTHZ_NO_CLIENT;
	}
	if (a->redirect_uri == NULL || !oauth_redirect_uri_valid(a->client_id, a->redirect_uri)) {
		*why = "The extension asked to be answered at an address it may not use.";
		return OAUTH_AUTHZ_NO_CLIENT;
	}
	a->state = oauth_kv(l, "state", &other_dup);
	a->challenge = oauth_kv(l, "code_challenge", &other_dup);
	scope = oauth_kv(l, "scope", &other_dup);
	type = oauth_kv(l, "response_type", &other_dup);
	method = oauth_kv(l, "code_challenge_method", &other_dup);
	*error = "invalid_request";
	if (other_dup) {
		*why = "A parameter is given more than once.";
		a->state = NULL;
		return OAUTH_AUTHZ_ERROR;
	}
	if (a->state != NULL && !oauth_state_ok(a->state)) {
		*why = "state is at most 500 printable ASCII characters.";
		a->state = NULL;
		return OAUTH_AUTHZ_ERROR;
	}
	/* The consent form carries only what the page checked already. */
	if (!consent && (type == NULL || strcmp(type, "code") != 0)) {
		*error = "unsupported_response_type";
		*why = "Only response_type=code is supported.";
		return OAUTH_AUTHZ_ERROR;
	}
	if (!consent && (method == NULL || strcmp(method, "S256") != 0)) {
		*why = "PKCE is required, with code_challenge_method=S256.";
		return OAUTH_AUTHZ_ERROR;
	}
	if (!oauth_pkce_challenge_wellformed(a->challenge)) {
		*why = "code_challenge must be 43 base64url characters (S256).";
		return OAUTH_AUTHZ_ERROR;
	}
	if (oauth_scopes_parse(scope, &a->scopes) == -1) {
		*error = "invalid_scope";
		*why = "The scopes are read and write.";
		return OAUTH_AUTHZ_ERROR;
	}
	if (a->scopes == 0)
		a->scopes = OAUTH_SCOPE_READ;
	return OAUTH_AUTHZ_OK;
}

/* 303 to the extension's redirect_uri with the parameters (name, value, ..., NULL). */
static int
oauth_redirect_back(struct http_ctx *c, const char *redirect_uri, const char *const *kv)
{
	struct buf b;
	char sep = '?';

	buf_init(&b, c->arena);
	buf_puts(&b, redirect_uri);
	for (int i = 0; kv[i] != NULL; i += 2) {
		if (kv[i + 1] == NULL)
			continue;
		buf_printf(&b, "%c%s=%s", sep, kv[i], util_url_encode(c->arena, kv[i + 1], ""));
		sep = '&';
	}
	http_response_header(c->res, "Location", b.data);
	return 303;
}

static int
oauth_authz_fail(struct http_ctx *c, enum oauth_authz_check rc, const struct oauth_authz *a,
    const char *error, const char *why)
{
	if (rc == OAUTH_AUTHZ_NO_CLIENT)
		return http_fail(c->res, 400, "invalid_request", why, NULL);
	return oauth_redirect_back(c, a->redirect_uri, (const char *const[]){ "error", error,
	    "error_description", why, "state", a->state, NULL });
}

int
oauth_authorize(struct http_ctx *c)
{
	const struct auth_user *u = auth_user(c);
	struct oauth_authz a;
	const char *error = NULL, *why = NULL;
	enum oauth_authz_check rc = oauth_authz_read(&c->req->query, 0, &a, &error, &why);
	const char *rest;

	if (rc != OAUTH_AUTHZ_OK)
		return oauth_authz_fail(c, rc, &a, error, why);
	/* The part of redirect_uri after the origin, to show where the answer goes. */
	rest = strstr(a.redirect_uri, "://");
	rest = rest != NULL ? rest + 3 : a.redirect_uri;
	return page_render(c, 200, "pages/authorize.html", "Allow the extension", "settings",
	    NULL, json_pack("{s:{s:s, s:s, s:s, s:s?, s:s}, s:b, s:b, s:s}",
	    "authz", "client_id", a.client_id, "redirect_uri", a.redirect_uri,
	    "code_challenge", a.challenge, "state", a.state,
	    "scope", oauth_scopes_text(a.scopes),
	    "can_read", (a.scopes & OAUTH_SCOPE_READ) != 0,
	    "can_write", (a.scopes & OAUTH_SCOPE_WRITE) != 0,
	    "account_email", u->email));
}

int
oauth_authorize_post(struct http_ctx *c)
{
	const struct auth_user *u = auth_user(c);
	struct oauth_authz a;
	const char *error = NULL, *why = NULL, *decision, *params[7];
	enum oauth_authz_check rc = oauth_authz_read(&c->req->form, 1, &a, &error, &why);
	char code[SECRET_TEXT_MAX], digest[SECRET_DIGEST_PARAM_LEN];
	PGresult *r;
	int status;

	if (rc != OAUTH_AUTHZ_OK)
		return oauth_authz_fail(c, rc, &a, error, why);
	decision = kvlist_get(&c->req->form, "decision");
	if (decision == NULL || strcmp(decision, "allow") != 0)
		return oauth_redirect_back(c, a.redirect_uri, (const char *const[]){ "error",
		    "access_denied", "error_description", "The user did not allow it.", "state",
		    a.state, NULL });
	secret_new(OAUTH_CODE_PREFIX, code);
	secret_digest_param(code, digest);
	params[0] = oauth_id(c, u->id);
	params[1] = digest;
	params[2] = a.client_id;
	params[3] = a.redirect_uri;
	params[4] = a.challenge;
	params[5] = oauth_scopes_text(a.scopes);
	params[6] = arena_printf(c->arena, "%d", OAUTH_CODE_TTL);
	r = http_ctx_exec(c, DB_STMT_APITOKEN_CODE_CREATE, 7, params);
	if (r == NULL) {
		sodium_memzero(code, sizeof(code));
		return c->res->status;
	}
	PQclear(r);
	status = oauth_redirect_back(c, a.redirect_uri, (const char *const[]){ "code", code,
	    "state", a.state, NULL });
	sodium_memzero(code, sizeof(code));
	return status;
}

/* ---- The token endpoint */

/* A new access and refresh token pair: the texts for the client, the digests and
 * prefixes for the database. */
struct oauth_pair {
	char access[SECRET_TEXT_MAX], refresh[SECRET_TEXT_MAX];
	char access_digest[SECRET_DIGEST_PARAM_LEN], refresh_digest[SECRET_DIGEST_PARAM_LEN];
	char access_prefix[16], refresh_prefix[16];
};

static void
oauth_pair_new(struct oauth_pair *p)
{
	secret_new(API_TOKEN_ACCESS_PREFIX, p->access);
	secret_new(API_TOKEN_REFRESH_PREFIX, p->refresh);
	secret_digest_param(p->access, p->access_digest);
	secret_digest_param(p->refresh, p->refresh_digest);
	snprintf(p->access_prefix, sizeof(p->access_prefix), "%.*s",
	    (int)strlen(API_TOKEN_ACCESS_PREFIX) + 4, p->access);
	snprintf(p->refresh_prefix, sizeof(p->refresh_prefix), "%.*s",
	    (int)strlen(API_TOKEN_REFRESH_PREFIX) + 4, p->refresh);
}

/* RFC 6749 5.1. */
static int
oauth_token_answer(struct http_ctx *c, struct oauth_pair *p, const char *scope)
{
	http_response_header(c->res, "Cache-Control", "no-store");
	http_response_header(c->res, "Pragma", "no-cache");
	http_response_json(c->res, 200, json_pack("{s:s, s:s, s:i, s:s, s:s}",
	    "access_token", p->access, "token_type", "Bearer",
	    "expires_in", mr_config.access_token_ttl, "refresh_token", p->refresh,
	    "scope", scope));
	sodium_memzero(p, sizeof(*p));
	return 200;
}

/* A code that was already exchanged: RFC 6749 4.1.2 asks to revoke what it gave. */
static int
oauth_code_reused(struct http_ctx *c, const char *digest, const char *client_id)
{
	const char *params[1] = { digest };
	PGresult *r = http_ctx_exec(c, DB_STMT_APITOKEN_CODE_REUSE, 1, params);

	if (r == NULL)
		return c->res->status;
	if (PQntuples(r) == 1) {
		int64_t uid = strtoll(PQgetvalue(r, 0, 0), NULL, 10);

		log_warn("authorization code used twice: family %s of user %" PRId64 " revoked "
		    "(%s tokens)", PQgetvalue(r, 0, 1), uid, PQgetvalue(r, 0, 2));
		audit_record(c, uid, 0, "token.reuse", json_pack("{s:s, s:s, s:s, s:i}",
		    "what", "authorization code", "client_id", client_id, "family",
		    PQgetvalue(r, 0, 1), "revoked", atoi(PQgetvalue(r, 0, 2))));
	}
	PQclear(r);
	return oauth_error(c, 400, "invalid_grant",
	    "The code is not valid: unknown, expired or already used.");
}

static int
oauth_token_code(struct http_ctx *c, const char *client_id, int *bad)
{
	const char *code = oauth_param(c, "code", bad);
	const char *redirect_uri = oauth_param(c, "redirect_uri", bad);
	const char *verifier = oauth_param(c, "code_verifier", bad);
	char digest[SECRET_DIGEST_PARAM_LEN], challenge[OAUTH_CHALLENGE_LEN + 1];
	const char *params[10], *why;
	struct oauth_pair p;
	PGresult *r;
	int64_t uid;

	if (*bad || code == NULL || redirect_uri == NULL || verifier == NULL)
		return oauth_error(c, 400, "invalid_request",
		    "code, redirect_uri, client_id and code_verifier are required, once each.");
	if (!secret_is_wellformed(OAUTH_CODE_PREFIX, code))
		return oauth_error(c, 400, "invalid_grant",
		    "The code is not valid: unknown, expired or already used.");
	secret_digest_param(code, digest);
	/* A malformed verifier matches no challenge, and still uses the code up. */
	if (oauth_pkce_verifier_wellformed(verifier))
		oauth_pkce_challenge(verifier, challenge);
	else
		challenge[0] = '\0';
	oauth_pair_new(&p);
	params[0] = digest;
	params[1] = client_id;
	params[2] = redirect_uri;
	params[3] = challenge;
	params[4] = p.access_digest;
	params[5] = p.access_prefix;
	params[6] = p.refresh_digest;
	params[7] = p.refresh_prefix;
	params[8] = arena_printf(c->arena, "%d", mr_config.access_token_ttl);
	params[9] = arena_printf(c->arena, "%d", OAUTH_REFRESH_IDLE);
	r = http_ctx_exec(c, DB_STMT_APITOKEN_CODE_EXCHANGE, 10, params);
	if (r == NULL) {
		sodium_memzero(&p, sizeof(p));
		return c->res->status;
	}
	if (PQntuples(r) != 1) {
		PQclear(r);
		sodium_memzero(&p, sizeof(p));
		return oauth_code_reused(c, digest, client_id);
	}
	uid = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	if (strcmp(PQgetvalue(r, 0, 1), "t") != 0)
		why = "The code has expired: codes live 60 seconds.";
	else if (strcmp(PQgetvalue(r, 0, 2), "t") != 0)
		why = "The code was issued to another client_id.";
	else if (strcmp(PQgetvalue(r, 0, 3), "t") != 0)
		why = "redirect_uri differs from the authorization request's.";
	else if (strcmp(PQgetvalue(r, 0, 4), "t") != 0)
		why = "code_verifier does not match the code_challenge.";
	else if (strcmp(PQgetvalue(r, 0, 7), "2") != 0)
		why = "The account is disabled.";
	else
		why = NULL;
	if (why != NULL) {
		PQclear(r);
		sodium_memzero(&p, sizeof(p));
		return oauth_error(c, 400, "invalid_grant", why);
	}
	audit_record(c, uid, uid, "token.create", json_pack("{s:s, s:s, s:s, s:s}",
	    "kind", "extension", "client_id", client_id, "scopes", PQgetvalue(r, 0, 5),
	    "family", PQgetvalue(r, 0, 6)));
	why = arena_strdup(c->arena, PQgetvalue(r, 0, 5));
	PQclear(r);
	return oauth_token_answer(c, &p, why);
}

/* A refresh token presented after it was exchanged: whoever holds its successor and
 * whoever presents it now cannot be told apart, so the whole authorization ends. */
static int
oauth_refresh_reused(struct http_ctx *c, const char *digest, const char *client_id)
{
	const char *params[1] = { digest };
	PGresult *r = http_ctx_exec(c, DB_STMT_APITOKEN_REFRESH_REUSE, 1, params);

	if (r == NULL)
		return c->res->status;
	if (PQntuples(r) == 1) {
		int64_t uid = strtoll(PQgetvalue(r, 0, 0), NULL, 10);

		log_warn("refresh token reused: family %s of user %" PRId64 " revoked (%s tokens)",
		    PQgetvalue(r, 0, 1), uid, PQgetvalue(r, 0, 2));
		audit_record(c, uid, 0, "token.reuse", json_pack("{s:s, s:s, s:s, s:i}",
		    "what", "refresh token", "client_id", client_id, "family",
		    PQgetvalue(r, 0, 1), "revoked", atoi(PQgetvalue(r, 0, 2))));
		PQclear(r);
		return oauth_error(c, 400, "invalid_grant", "The refresh token was already used: "
		    "every token of this sign-in has been revoked. Sign in again.");
	}
	PQclear(r);
	return oauth_error(c, 400, "invalid_grant",
	    "The refresh token is not valid: unknown, expired, revoked, or for another client.");
}

static int
oauth_token_refresh(struct http_ctx *c, const char *client_id, int *bad)
{
	const char *token = oauth_param(c, "refresh_token", bad);
	const char *scope = oauth_param(c, "scope", bad);
	char digest[SECRET_DIGEST_PARAM_LEN];
	const char *params[10];
	struct oauth_pair p;
	unsigned mask;
	PGresult *r;

	if (*bad || token == NULL)
		return oauth_error(c, 400, "invalid_request",
		    "refresh_token and client_id are required, once each.");
	if (oauth_scopes_parse(scope, &mask) == -1)
		return oauth_error(c, 400, "invalid_scope", "The scopes are read and write.");
	if (!secret_is_wellformed(API_TOKEN_REFRESH_PREFIX, token))
		return oauth_error(c, 400, "invalid_grant", "The refresh token is not valid.");
	secret_digest_param(token, digest);
	oauth_pair_new(&p);
	params[0] = digest;
	params[1] = client_id;
	params[2] = p.access_digest;
	params[3] = p.access_prefix;
	params[4] = p.refresh_digest;
	params[5] = p.refresh_prefix;
	params[6] = arena_printf(c->arena, "%d", mr_config.access_token_ttl);
	params[7] = arena_printf(c->arena, "%d", OAUTH_REFRESH_IDLE);
	params[8] = arena_printf(c->arena, "%d", OAUTH_REFRESH_MAX);
	params[9] = mask != 0 ? oauth_scopes_text(mask) : NULL;
	r = http_ctx_exec(c, DB_STMT_APITOKEN_REFRESH, 10, params);
	if (r == NULL) {
		sodium_memzero(&p, sizeof(p));
		return c->res->status;
	}
	if (PQntuples(r) != 1 || strcmp(PQgetvalue(r, 0, 2), "2") != 0) {
		PQclear(r);
		sodium_memzero(&p, sizeof(p));
		return oauth_refresh_reused(c, digest, client_id);
	}
	scope = arena_strdup(c->arena, PQgetvalue(r, 0, 1));
	PQclear(r);
	return oauth_token_answer(c, &p, scope);
}

int
oauth_token(struct http_ctx *c)
{
	int bad = 0;
	const char *grant = oauth_param(c, "grant_type", &bad);
	const char *client_id = oauth_param(c, "client_id", &bad);

	if (c->req->json != NULL && !json_is_object(c->req->json))
		return oauth_error(c, 400, "invalid_request",
		    "The body is a form or a JSON object.");
	if (bad || grant == NULL)
		return oauth_error(c, 400, "invalid_request", "grant_type is required, once.");
	if (strcmp(grant, "authorization_code") != 0 && strcmp(grant, "refresh_token") != 0)
		return oauth_error(c, 400, "unsupported_grant_type",
		    "grant_type is authorization_code or refresh_token.");
	if (client_id == NULL)
		return oauth_error(c, 400, "invalid_request", "client_id is required, once.");
	if (!oauth_client_allowed(client_id))
		return oauth_error(c, 400, "invalid_client",
		    "This client_id is not in MAILROOM_EXTENSION_ORIGINS.");
	if (strcmp(grant, "authorization_code") == 0)
		return oauth_token_code(c, client_id, &bad);
	return oauth_token_refresh(c, client_id, &bad);
}

/* ---- Revocation (RFC 7009): any answer but a malformed request is 200, so that a
 * client cannot probe which tokens exist. */

int
oauth_revoke(struct http_ctx *c)
{
	int bad = 0;
	const char *token = oauth_param(c, "token", &bad);
	const char *client_id = oauth_param(c, "client_id", &bad);
	char digest[SECRET_DIGEST_PARAM_LEN];
	const char *params[2];
	PGresult *r;

	if (c->req->json != NULL && !json_is_object(c->req->json))
		return oauth_error(c, 400, "invalid_request",
		    "The body is a form or a JSON object.");
	if (bad || token == NULL || client_id == NULL)
		return oauth_error(c, 400, "invalid_request",
		    "token and client_id are required, once each.");
	if (!oauth_client_allowed(client_id))
		return oauth_error(c, 400, "invalid_client",
		    "This client_id is not in MAILROOM_EXTENSION_ORIGINS.");
	if (secret_is_wellformed(API_TOKEN_ACCESS_PREFIX, token) ||
	    secret_is_wellformed(API_TOKEN_REFRESH_PREFIX, token)) {
		secret_digest_param(token, digest);
		params[0] = digest;
		params[1] = client_id;
		r = http_ctx_exec(c, DB_STMT_APITOKEN_OAUTH_REVOKE, 2, params);
		if (r == NULL)
			return c->res->status;
		if (PQntuples(r) == 1 && strcmp(PQgetvalue(r, 0, 3), "0") != 0) {
			int64_t uid = strtoll(PQgetvalue(r, 0, 0), NULL, 10);

			audit_record(c, uid, uid, "token.revoke", json_pack("{s:s, s:s, s:s, s:i}",
			    "kind", PQgetvalue(r, 0, 1), "client_id", client_id, "family",
			    PQgetvalue(r, 0, 2), "revoked", atoi(PQgetvalue(r, 0, 3))));
		}
		PQclear(r);
	}
	http_response_header(c->res, "Cache-Control", "no-store");
	http_response_json(c->res, 200, json_object());
	return 200;
}
