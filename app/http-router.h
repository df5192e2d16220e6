/* http-router.h: the route table's types and matching. A route is a method, a path pattern
 * with typed captures ("/api/v1/messages/{id:int}"), a handler and flags saying whether it
 * needs a session or a token and a CSRF check. The table itself lives in routes.c. */
#ifndef MAILROOM_HTTP_ROUTER_H
#define MAILROOM_HTTP_ROUTER_H

#include <stddef.h>
#include <jansson.h>
#include "http-request.h"
#include "http-response.h"

struct db_pool;
struct db_conn;
struct auth_user;

/* What a handler sees: the parsed request, the response to fill, the request's arena and
 * a database connection taken from the pool on first use. */
struct http_ctx {
	struct http_request *req;
	struct http_response *res;
	struct arena *arena;
	struct db_pool *pool;
	struct db_conn *db;
	/* Filled by auth_user() on first use; user NULL when anonymous. */
	int auth_done;
	const struct auth_user *user;
	/* Set when the request signs in or out: the session secret that now applies ("" for
	 * none) instead of the cookie's. */
	const char *session_secret;
	const char *csrf_token;    /* cached by auth_csrf_token() */
	/* JSON values released when the request ends (forms' contexts: a handler that
	 * answers early cannot leak them). NULL until something is added. */
	json_t *owned;
};

typedef int (*http_handler)(struct http_ctx *c);

enum route_flags {
	ROUTE_SESSION = 1 << 0, /* a logged-in session cookie is required */
	ROUTE_TOKEN = 1 << 1,   /* a bearer token is accepted (with SESSION: either) */
	ROUTE_CSRF = 1 << 2,    /* unsafe methods need the CSRF token */
	ROUTE_JSON = 1 << 3,    /* errors are always the JSON envelope */
};

struct route {
	const char *method;
	const char *pattern;
	http_handler handler;
	unsigned flags;
	/* With ROUTE_TOKEN: the scope a bearer token needs ("read", "write"); NULL: any. */
	const char *scope;
};

enum capture_type { CAPTURE_INT, CAPTURE_UUID, CAPTURE_SLUG, CAPTURE_STR };

struct route_segment {
	char *literal;           /* NULL for a capture */
	char *name;              /* capture name */
	enum capture_type type;
};

struct route_compiled {
	const struct route *route;
	struct route_segment *segments;
	size_t nsegments;
};

struct router {
	struct route_compiled *routes;
	size_t nroutes;
};

/* Compiles a table. A malformed pattern or unknown capture type is reported in err
 * ("route 3 /x/{id:nope}: unknown capture type") and returns -1. */
int http_router_compile(struct router *r, const struct route *table, size_t n, char *err,
    size_t errlen);
void http_router_free(struct router *r);

#define ROUTER_NOT_FOUND (-1)
#define ROUTER_METHOD_NOT_ALLOWED (-2)

/* Matches method and decoded path. Returns the route index and adds the typed captures to
 * req->params, or ROUTER_NOT_FOUND, or ROUTER_METHOD_NOT_ALLOWED with the methods the path
 * does accept written into allow ("GET, HEAD"). HEAD matches GET routes. */
int http_router_match(const struct router *r, struct http_request *req, char *allow,
    size_t allowlen);

/* A capture checked by the router: an int capture always parses. */
int64_t http_param_int(const struct http_request *req, const char *name);
const char *http_param(const struct http_request *req, const char *name);

#endif
