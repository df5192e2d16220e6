/* http-server.h: the FastCGI request loop. T threads per process accept on the listening
 * socket with FCGX_Accept_r; each request gets an arena that is reset when it ends. */
#ifndef MAILROOM_HTTP_SERVER_H
#define MAILROOM_HTTP_SERVER_H

#include <stddef.h>
#include "http-router.h"

struct http_server_opts {
	int listen_fd;                 /* 0 under spawn-fcgi */
	int threads;
	struct db_pool *pool;
	const struct router *router;
	struct http_limits limits;
};

/* Runs until SIGTERM or SIGINT, then lets requests in flight finish (at most
 * drain_seconds) and returns. */
int http_server_run(const struct http_server_opts *opts, int drain_seconds);

/* Handles one request already read: the whole pipeline after the body is in memory
 * (parse, route, check flags, handler, error rendering, security headers). Used by the
 * loop and by unit tests. */
void http_server_dispatch(const struct http_server_opts *opts, struct http_request *req,
    struct http_response *res, struct arena *a, const struct http_error *parse_err);

/* Database connection for a handler, taken from the pool once per request. NULL when the
 * database is unavailable: the handler answers 503. */
struct db_conn *http_ctx_db(struct http_ctx *c);

/* Runs a prepared statement on the request's connection. On failure (database down, a
 * constraint, a timeout) records the mapped status on c->res with http_fail and returns
 * NULL: handlers `if (r == NULL) return c->res->status;`. The caller PQclear's. */
struct pg_result *http_ctx_exec(struct http_ctx *c, int stmt, int nparams,
    const char *const *params);

#endif
