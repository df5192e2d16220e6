/* cors.h: cross-origin access for the browser extension, in one place. Only the JSON API
 * (/api/v1/...) and the token endpoints (/oauth/token, /oauth/revoke) answer cross-origin
 * requests, and only from the origins of MAILROOM_EXTENSION_ORIGINS: the answer names
 * that one origin (never "*", never "null") and never allows credentials, because the
 * extension sends bearer tokens, not cookies. Any other origin gets no Access-Control-*
 * header at all, so the browser withholds the answer from it. */
#ifndef MAILROOM_CORS_H
#define MAILROOM_CORS_H

#include <stddef.h>
#include "http-router.h"

/* How long a browser may cache a preflight answer, seconds. */
#define CORS_MAX_AGE "600"
/* The most origins MAILROOM_EXTENSION_ORIGINS may list. */
#define CORS_MAX_ORIGINS 16

/* Whether s (n bytes) is an extension origin mailroom accepts in its settings:
 * "chrome-extension://" and 32 letters a-p (Chrome's and Edge's extension ids), or
 * "moz-extension://" and a lower-case UUID (Firefox's per-install origin). */
int cors_origin_wellformed(const char *s, size_t n);

/* Checks a MAILROOM_EXTENSION_ORIGINS value: origins separated by commas (spaces around
 * them allowed), each well-formed, at most CORS_MAX_ORIGINS, none twice. NULL when it
 * is acceptable (an empty list is), else the reason, naming the bad entry (static). */
const char *cors_origins_invalid(const char *list);

/* The sources of the pages' CSP form-action for a checked list: 'self', then for each
 * Chrome extension https://<id>.chromiumapp.org and its origin, for each Firefox one its
 * origin. The consent page of the authorization flow sends the browser there (oauth.c),
 * and browsers check form-action on the redirect after a form too. Writes into out
 * (outlen >= 8); -1 when it does not fit. */
int cors_form_action(const char *list, char *out, size_t outlen);

/* Whether origin is exactly one of the origins of list (a checked setting). "null",
 * "*", "" and NULL never are. */
int cors_origin_listed(const char *list, const char *origin);
/* The same against the running configuration (mr_config.extension_origins). */
int cors_origin_allowed(const char *origin);

/* Whether path answers cross-origin requests at all: /api/v1/... and /oauth/token,
 * /oauth/revoke (not /oauth/authorize, a page for the signed-in browser). */
int cors_path(const char *path);

/* Adds the CORS headers of an actual request to c->res: for a CORS path, Vary: Origin;
 * when the request's Origin is listed, also Access-Control-Allow-Origin (that origin)
 * and Access-Control-Expose-Headers. rt is the matched route or NULL (404, 405, a parse
 * error): a route that takes only a session cookie gets none (cookies never cross). Call
 * it for every answer, errors included, so the extension can read why it failed.
 * Returns 1 when the origin was allowed, else 0. */
int cors_apply(struct http_ctx *c, const struct route *rt);

/* Answers a preflight request (OPTIONS to a CORS path) with 204: with the allow headers
 * when the Origin is listed, without any Access-Control-* header otherwise. allow is the
 * methods the path accepts, as the router lists them for 405 ("GET, HEAD"). Returns 1
 * when it answered, 0 when the request is not a preflight to a CORS path. */
int cors_preflight(struct http_ctx *c, const char *allow);

#endif
