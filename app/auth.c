/* auth.c: identifying the request (bearer token or session cookie), the CSRF token and
 * Origin check, and the checks of the route flags (auth.h). */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "auth.h"
#include "db-pool.h"
#include "http-server.h"
#include "secret.h"
#include "session.h"
#include "util.h"

#define AUTH_CSRF_CONTEXT "mailroom csrf v1"

/* The session secret of the request: the one it just started or ended, else the
 * cookie's (NULL when there is none or it is malformed). */
static const char *
auth_session_secret(struct http_ctx *c)
{
	const char *s = c->session_secret;

	if (s == NULL)
		s = kvlist_get(&c->req->cookies, session_cookie_name());
	return s != NULL && secret_is_wellformed("", s) ? s : NULL;
}

static int
auth_from_session(struct http_ctx *c, const char *secret, struct auth_user *u)
{
	char digest[SECRET_DIGEST_PARAM_LEN], idle[24];
	const char *params[2];
	PGresult *r;
	int status;
	struct db_conn *db = http_ctx_db(c);

	if (db == NULL)
		return -1;
	secret_digest_param(secret, digest);
	snprintf(idle, sizeof(idle), "%d", mr_config.session_idle);
	params[0] = digest;
	params[1] = idle;
	r = db_exec(db, DB_STMT_SESSION_LOOKUP, 2, params, &status);
	if (r == NULL)
		return -1;
	if (PQntuples(r) != 1) {
		PQclear(r);
		return 0;
	}
	u->session_id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	u->id = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
	u->email = arena_strdup(c->arena, PQgetvalue(r, 0, 2));
	u->display_name = arena_strdup(c->arena, PQgetvalue(r, 0, 3));
	u->time_zone = arena_strdup(c->arena, PQgetvalue(r, 0, 4));
	u->is_admin = strcmp(PQgetvalue(r, 0, 5), "t") == 0;
	u->authenticated_age = strtoll(PQgetvalue(r, 0, 6), NULL, 10);
	u->via = AUTH_SESSION;
	if (strcmp(PQgetvalue(r, 0, 7), "t") == 0) {
		char sid[24];
		const char *p[1] = { sid };
		PGresult *t;

		snprintf(sid, sizeof(sid), "%" PRId64, u->session_id);
		t = db_exec(db, DB_STMT_SESSION_TOUCH, 1, p, &status);
		PQclear(t);
	}
	PQclear(r);
	return 1;
}

/* The bearer token of the Authorization header, or NULL when there is none; sets
 * *malformed when the header is there but is not "Bearer <token>". */
static const char *
auth_bearer(const struct http_request *req, int *malformed)
{
	const char *h = req->authorization;

	*malformed = 0;
	if (h == NULL)
		return NULL;
	if (strncasecmp(h, "Bearer ", 7) != 0) {
		*malformed = 1;
		return NULL;
	}
	h += 7;
	while (*h == ' ')
		h++;
	if (*h == '\0') {
		*malformed = 1;
		return NULL;
	}
	return h;
}

const struct auth_user *
auth_user(struct http_ctx *c)
{
	struct auth_user *u;
	const char *secret, *bearer;
	int malformed, rc = 0;

	if (c->auth_done)
		return c->user;
	c->auth_done = 1;
	c->user = NULL;
	u = arena_calloc(c->arena, 1, sizeof(*u));
	bearer = auth_bearer(c->req, &malformed);
	if (bearer != NULL) {
		rc = api_token_authenticate(c, bearer, u);
		if (rc == 1)
			u->via = AUTH_TOKEN;
	} else if (!malformed && (secret = auth_session_secret(c)) != NULL) {
		rc = auth_from_session(c, secret, u);
	}
	if (rc < 0 && c->res->status < 500)
		http_fail(c->res, 503, "database_unavailable",
		    "The database is not reachable right now. Try again shortly.", NULL);
	if (rc == 1) {
		c->user = u;
		c->req->user_id = u->id;
	}
	return c->user;
}

int
auth_has_scope(const struct auth_user *u, const char *scope)
{
	if (u == NULL)
		return 0;
	if (u->via != AUTH_TOKEN || scope == NULL)
		return 1;
	for (const char **s = u->scopes; s != NULL && *s != NULL; s++) {
		if (strcmp(*s, scope) == 0)
			return 1;
	}
	return 0;
}

/* The CSRF token bound to a secret: keyed BLAKE2b of a fixed context, base64url. Only
 * the browser holding the cookie and this request know the secret. */
static const char *
auth_csrf_for(struct http_ctx *c, const char *secret)
{
	unsigned char mac[32];
	char *out = arena_alloc(c->arena, SECRET_B64_LEN + 1);

	crypto_generichash(mac, sizeof(mac), (const unsigned char *)AUTH_CSRF_CONTEXT,
	    strlen(AUTH_CSRF_CONTEXT), (const unsigned char *)secret, strlen(secret));
	sodium_bin2base64(out, SECRET_B64_LEN + 1, mac, sizeof(mac),
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	return out;
}

/* The pre-session cookie's secret, made and set on the response when missing. */
static const char *
auth_pre_secret(struct http_ctx *c, int create)
{
	const char *s = kvlist_get(&c->req->cookies, session_pre_cookie_name());
	char token[SECRET_TEXT_MAX];

	if (s != NULL && secret_is_wellformed("", s))
		return s;
	if (!create)
		return NULL;
	secret_new("", token);
	s = arena_strdup(c->arena, token);
	sodium_memzero(token, sizeof(token));
	http_response_set_cookie(c->res, session_pre_cookie_name(), s, 0,
	    mr_config.secure_cookies);
	kvlist_add(&c->req->cookies, c->arena, session_pre_cookie_name(), s, strlen(s));
	return s;
}

const char *
auth_csrf_token(struct http_ctx *c)
{
	const struct auth_user *u;
	const char *secret;

	if (c->csrf_token != NULL)
		return c->csrf_token;
	u = auth_user(c);
	if (u != NULL && u->via == AUTH_SESSION)
		secret = auth_session_secret(c);
	else
		secret = auth_pre_secret(c, 1);
	c->csrf_token = auth_csrf_for(c, secret);
	return c->csrf_token;
}

static int
auth_is_unsafe(const char *method)
{
	return strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0 &&
	    strcmp(method, "OPTIONS") != 0;
}

/* scheme://host[:port] of MAILROOM_BASE_URL, the only Origin unsafe requests may have. */
static int
auth_origin_allowed(const char *origin)
{
	const char *base = mr_config.base_url, *p;
	size_t n;

	if (base == NULL)
		return 0;
	p = strstr(base, "://");
	if (p == NULL)
		return 0;
	p += 3;
	n = (size_t)(p - base) + strcspn(p, "/?#");
	return strlen(origin) == n && strncasecmp(origin, base, n) == 0;
}

/* Origin (or, without it, Sec-Fetch-Site) and the token of the form or header. */
static int
auth_csrf_ok(struct http_ctx *c, const char **why)
{
	const struct http_request *req = c->req;
	const char *sent, *want, *secret;
	const struct auth_user *u = auth_user(c);

	if (req->origin != NULL) {
		if (!auth_origin_allowed(req->origin)) {
			*why = "origin";
			return 0;
		}
	} else if (req->sec_fetch_site != NULL && strcmp(req->sec_fetch_site, "same-origin") != 0 &&
	    strcmp(req->sec_fetch_site, "none") != 0) {
		*why = "sec-fetch-site";
		return 0;
	}
	if (u != NULL && u->via == AUTH_SESSION)
		secret = auth_session_secret(c);
	else
		secret = auth_pre_secret(c, 0);
	if (secret == NULL) {
		*why = "no cookie";
		return 0;
	}
	sent = req->csrf_header != NULL ? req->csrf_header : kvlist_get(&req->form, "csrf_token");
	want = auth_csrf_for(c, secret);
	if (sent == NULL || !secret_equal(sent, want)) {
		*why = sent == NULL ? "no token" : "wrong token";
		return 0;
	}
	return 1;
}

int
auth_check_route(struct http_ctx *c, const struct route *rt)
{
	const struct http_request *req = c->req;
	int unsafe = auth_is_unsafe(req->method);
	int needs_user = (rt->flags & (ROUTE_SESSION | ROUTE_TOKEN)) != 0;
	const struct auth_user *u = NULL;
	const char *why;

	/* Identify whenever a route needs a user, and for every unsafe request that carries
	 * credentials, so that a cookie-authenticated change is always CSRF-checked. */
	int identify = needs_user || (unsafe && (req->authorization != NULL ||
	    kvlist_get(&req->cookies, session_cookie_name()) != NULL));

	if (identify)
		u = auth_user(c);
	if (identify && u == NULL && c->res->status >= 500)
		return c->res->status;
	if (identify && req->authorization != NULL && u == NULL) {
		c->req->wants_json = 1;
		http_response_header(c->res, "WWW-Authenticate",
		    "Bearer realm=\"mailroom\", error=\"invalid_token\"");
		return http_fail(c->res, 401, "invalid_token",
		    "The access token is missing, malformed, expired or revoked.", NULL);
	}
	if (needs_user) {
		if (u == NULL) {
			if (req->wants_json || (rt->flags & ROUTE_JSON) || !(rt->flags & ROUTE_SESSION)) {
				http_response_header(c->res, "WWW-Authenticate",
				    "Bearer realm=\"mailroom\"");
				return http_fail(c->res, 401, "unauthorized", "Sign in first.", NULL);
			}
			/* A page: to the sign-in form, back here afterwards (GET only). */
			c->res->status = 303;
			http_response_header(c->res, "Location", strcmp(req->method, "GET") == 0 &&
			    req->raw_uri != NULL ? arena_printf(c->arena, "/login?next=%s",
			    util_url_encode(c->arena, req->raw_uri, "/")) : "/login");
			if (req->hx_request)
				http_response_header(c->res, "HX-Redirect", "/login");
			return 303;
		}
		if (u->via == AUTH_TOKEN && !(rt->flags & ROUTE_TOKEN))
			return http_fail(c->res, 401, "unauthorized",
			    "This address takes a signed-in browser, not a token.", NULL);
		if (u->via == AUTH_SESSION && !(rt->flags & ROUTE_SESSION))
			return http_fail(c->res, 401, "unauthorized",
			    "This address takes an access token.", NULL);
		if (!auth_has_scope(u, rt->scope)) {
			http_response_header(c->res, "WWW-Authenticate", arena_printf(c->arena,
			    "Bearer realm=\"mailroom\", error=\"insufficient_scope\", scope=\"%s\"",
			    rt->scope));
			return http_fail(c->res, 403, "insufficient_scope",
			    arena_printf(c->arena, "The token lacks the scope %s.", rt->scope), NULL);
		}
	}
	if (unsafe && (u == NULL || u->via != AUTH_TOKEN) &&
	    ((rt->flags & ROUTE_CSRF) || (u != NULL && u->via == AUTH_SESSION))) {
		if (!auth_csrf_ok(c, &why)) {
			log_info("CSRF check failed (%s) on %s %s", why, req->method, req->path);
			return http_fail(c->res, 403, "csrf_failed",
			    "This form has expired or did not come from this site. Reload the page "
			    "and try again.", NULL);
		}
	}
	return 0;
}
