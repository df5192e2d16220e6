/* auth.h: who is making a request, and the checks the route table's flags ask for.
 *
 * A request is identified at most once, on first need (auth_identify): by a bearer token
 * (Authorization: Bearer mr_pat_... or mr_at_..., api-token.c) or else by the session
 * cookie (session.c). Cookie-authenticated unsafe requests must carry the CSRF token bound
 * to the session (form field "csrf_token" or header X-CSRF-Token) and, when the browser
 * sends one, an Origin equal to MAILROOM_BASE_URL's. Anonymous forms (sign-in, sign-up,
 * reset) are protected the same way by a token bound to a pre-session cookie. */
#ifndef MAILROOM_AUTH_H
#define MAILROOM_AUTH_H

#include <stdint.h>
#include "http-router.h"

enum auth_via { AUTH_NONE, AUTH_SESSION, AUTH_TOKEN };

struct auth_user {
	int64_t id;
	const char *email;
	const char *display_name;
	const char *time_zone;
	int is_admin;
	enum auth_via via;
	int64_t session_id;        /* AUTH_SESSION */
	int64_t authenticated_age; /* AUTH_SESSION: seconds since the password was typed */
	int64_t token_id;          /* AUTH_TOKEN */
	const char **scopes;       /* AUTH_TOKEN: NULL-terminated */
};

/* The user of the request, identified on first call (NULL when anonymous or when the
 * credentials are not valid). Sets c->req->user_id. */
const struct auth_user *auth_user(struct http_ctx *c);

/* The CSRF token forms and HTMX requests of this request must carry: bound to the
 * session, or to the pre-session cookie (set on the response when missing). */
const char *auth_csrf_token(struct http_ctx *c);

/* The checks of a route's flags, before its handler: returns 0 to go on, or an HTTP
 * status already recorded on c->res (401, 403, or a 303 redirect to the sign-in page). */
int auth_check_route(struct http_ctx *c, const struct route *rt);

/* Whether the token of this request carries scope (sessions carry every scope). */
int auth_has_scope(const struct auth_user *u, const char *scope);

/* Bearer tokens (api-token.c): resolves "mr_pat_..." or "mr_at_..." into u (allocated in
 * the request's arena). Returns 1 when valid, 0 when not (expired, revoked, unknown,
 * malformed, disabled user), -1 with c->res failed (503) when the database is down. */
int api_token_authenticate(struct http_ctx *c, const char *token, struct auth_user *u);

#endif
