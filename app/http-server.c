/* http-server.c: the FastCGI loop of one process. Each thread accepts with FCGX_Accept_r,
 * reads the body within the limits, runs the request pipeline, writes the response, logs
 * one access line, counts it, and resets its arena. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <fcgiapp.h>

#include "auth.h"
#include "cors.h"
#include "db-pool.h"
#include "http-server.h"
#include "metrics.h"
#include "util.h"

static volatile int http_server_in_flight;
static volatile int http_server_stopping;

struct db_conn *
http_ctx_db(struct http_ctx *c)
{
	if (c->db == NULL && c->pool != NULL)
		c->db = db_pool_acquire(c->pool);
	return c->db;
}

PGresult *
http_ctx_exec(struct http_ctx *c, int stmt, int nparams, const char *const *params)
{
	struct db_conn *db = http_ctx_db(c);
	PGresult *r;
	int status;

	if (db == NULL) {
		http_fail(c->res, 503, "database_unavailable",
		    "The database is not reachable right now. Try again shortly.", NULL);
		return NULL;
	}
	r = db_exec(db, (enum db_stmt)stmt, nparams, params, &status);
	if (r == NULL) {
		if (status == 503)
			http_fail(c->res, 503, "database_unavailable",
			    "The database is not reachable right now. Try again shortly.", NULL);
		else if (status == 409)
			http_fail(c->res, 409, "conflict", "That conflicts with existing data.", NULL);
		else
			http_fail(c->res, status, NULL, NULL, NULL);
	}
	return r;
}

void
http_server_dispatch(const struct http_server_opts *opts, struct http_request *req,
    struct http_response *res, struct arena *a, const struct http_error *parse_err)
{
	struct http_ctx ctx = { .req = req, .res = res, .arena = a, .pool = opts->pool };
	const struct route *rt = NULL;
	char allow[128];
	int idx, status;

	if (parse_err != NULL) {
		http_fail(res, parse_err->status, parse_err->code, parse_err->message,
		    parse_err->field != NULL ?
		    json_pack("{s:s}", "field", parse_err->field) : NULL);
		goto render;
	}

	idx = http_router_match(opts->router, req, allow, sizeof(allow));
	if (idx == ROUTER_NOT_FOUND) {
		http_fail(res, 404, "not_found", "There is nothing at this address.", NULL);
		goto render;
	}
	if (idx == ROUTER_METHOD_NOT_ALLOWED) {
		/* A CORS preflight: OPTIONS to /api/v1/... or /oauth/token|revoke (cors.c). */
		if (cors_preflight(&ctx, allow))
			goto render;
		http_response_header(res, "Allow", allow);
		http_fail(res, 405, "method_not_allowed",
		    arena_printf(a, "This address accepts %s.", allow), NULL);
		goto render;
	}

	rt = opts->router->routes[idx].route;
	if (rt->flags & ROUTE_JSON)
		req->wants_json = 1;
	/* Who is asking, and whether this route lets them: sign-in, token scope, CSRF. */
	if (auth_check_route(&ctx, rt) != 0)
		goto render;

	status = rt->handler(&ctx);
	res->status = status;

render:
	/* CORS headers for the extension's origins, errors included (cors.c). */
	cors_apply(&ctx, rt);
	if (res->status >= 400 && (res->body.len == 0 || res->error_code != NULL))
		http_response_render_error(res, req);
	http_response_security_headers(res, req);
	if (ctx.db != NULL)
		db_pool_release(opts->pool, ctx.db);
	json_decref(ctx.owned);
	json_decref(res->error_details);
	res->error_details = NULL;
}

static void
http_access_log(struct arena *a, const struct http_request *req, int status,
    int64_t duration_us, size_t bytes)
{
	struct buf b;
	char when[40];
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	buf_init(&b, a);
	buf_printf(&b, "{\"ts\":\"%s\",\"type\":\"access\",\"request_id\":\"", when);
	buf_json_escape(&b, req->request_id ? req->request_id : "",
	    req->request_id ? strlen(req->request_id) : 0);
	buf_puts(&b, "\",\"method\":\"");
	if (req->method != NULL)
		buf_json_escape(&b, req->method, strlen(req->method));
	buf_puts(&b, "\",\"path\":\"");
	/* The path, not the query string: queries may carry tokens. */
	if (req->path != NULL)
		buf_json_escape(&b, req->path, strlen(req->path));
	buf_printf(&b, "\",\"status\":%d,\"duration_us\":%lld,\"bytes\":%zu,\"user_id\":",
	    status, (long long)duration_us, bytes);
	if (req->user_id != 0)
		buf_printf(&b, "%lld", (long long)req->user_id);
	else
		buf_puts(&b, "null");
	buf_puts(&b, ",\"remote_addr\":\"");
	if (req->remote_addr != NULL)
		buf_json_escape(&b, req->remote_addr, strlen(req->remote_addr));
	buf_puts(&b, "\"}");
	log_write_line(b.data, b.len);
}

/* Reads exactly content_length bytes of the body into the arena. */
static int
http_read_body(FCGX_Request *fr, struct arena *a, size_t len, char **out)
{
	char *body = arena_alloc(a, len + 1);
	size_t got = 0;

	while (got < len) {
		int want = len - got > (1 << 20) ? 1 << 20 : (int)(len - got);
		int n = FCGX_GetStr(body + got, want, fr->in);

		if (n <= 0)
			break;
		got += (size_t)n;
	}
	body[got] = '\0';
	*out = body;
	return got == len ? 0 : -1;
}

/* Reads whatever is left of the body, up to the end-of-stream record. libfcgi treats
 * that record as a protocol error if it is still there when the next request is read on
 * a kept-alive connection, and closes the connection, which nginx cannot retry for POST. */
static void
http_drain_body(FCGX_Request *fr)
{
	char sink[16384];

	while (FCGX_GetStr(sink, (int)sizeof(sink), fr->in) > 0)
		;
}

static void
http_handle(const struct http_server_opts *opts, FCGX_Request *fr, struct arena *a)
{
	struct http_request req;
	struct http_response res;
	struct http_error err = { 0, NULL, NULL, NULL };
	const struct http_error *perr = NULL;
	struct buf head;
	int64_t t0 = util_now_us(), dur;
	char *body = NULL;
	size_t limit;

	http_response_init(&res, a);
	if (http_request_from_cgi(&req, a, fr->envp, &opts->limits, &err) == -1) {
		perr = &err;
		goto dispatch;
	}
	limit = http_content_type_is(req.content_type, "multipart/form-data") ?
	    opts->limits.max_upload : opts->limits.max_body;
	if (req.content_length > limit) {
		/* Refused before reading: the client learns at once. */
		err.status = 413;
		err.code = "payload_too_large";
		err.message = arena_printf(a, "The body is larger than %zu bytes.", limit);
		perr = &err;
		goto dispatch;
	}
	if (req.content_length > 0) {
		if (http_read_body(fr, a, req.content_length, &body) == -1) {
			err.status = 400;
			err.code = "bad_request";
			err.message = "The body ended before its Content-Length.";
			perr = &err;
			goto dispatch;
		}
		if (http_request_parse_body(&req, body, req.content_length, &opts->limits,
		    &err) == -1)
			perr = &err;
	}

dispatch:
	http_server_dispatch(opts, &req, &res, a, perr);

	buf_init(&head, a);
	http_response_serialize_head(&res, &head);
	FCGX_PutStr(head.data, (int)head.len, fr->out);
	if (req.method == NULL || strcmp(req.method, "HEAD") != 0)
		FCGX_PutStr(res.body.data, (int)res.body.len, fr->out);
	/* The CGI parameters die with FCGX_Finish_r: keep what the access line needs. */
	if (req.request_id != NULL)
		req.request_id = arena_strdup(a, req.request_id);
	if (req.method != NULL)
		req.method = arena_strdup(a, req.method);
	if (req.path != NULL)
		req.path = arena_strdup(a, req.path);
	if (req.remote_addr != NULL)
		req.remote_addr = arena_strdup(a, req.remote_addr);
	http_drain_body(fr);
	FCGX_Finish_r(fr);

	dur = util_now_us() - t0;
	metrics_request(req.route_index, res.status, dur);
	http_access_log(a, &req, res.status, dur, res.body.len);
	json_decref(req.json);
}

struct http_thread {
	pthread_t tid;
	const struct http_server_opts *opts;
};

static void *
http_thread_main(void *arg)
{
	struct http_thread *t = arg;
	struct arena *a = arena_new(64 * 1024);
	FCGX_Request fr;

	if (FCGX_InitRequest(&fr, t->opts->listen_fd, 0) != 0)
		fatal("FCGX_InitRequest failed");
	for (;;) {
		if (FCGX_Accept_r(&fr) < 0) {
			if (http_server_stopping)
				break;
			/* A client that vanished mid-request is no reason to stop serving. */
			continue;
		}
		__atomic_add_fetch(&http_server_in_flight, 1, __ATOMIC_SEQ_CST);
		http_handle(t->opts, &fr, a);
		arena_reset(a);
		__atomic_sub_fetch(&http_server_in_flight, 1, __ATOMIC_SEQ_CST);
	}
	arena_free(a);
	return NULL;
}

int
http_server_run(const struct http_server_opts *opts, int drain_seconds)
{
	struct http_thread *threads;
	sigset_t set;
	int sig = 0;

	/* Threads inherit a mask with the stop signals blocked; only sigwait below sees them. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	threads = xcalloc((size_t)opts->threads, sizeof(*threads));
	for (int i = 0; i < opts->threads; i++) {
		threads[i].opts = opts;
		if (pthread_create(&threads[i].tid, NULL, http_thread_main, &threads[i]) != 0)
			fatal("cannot start thread %d of %d", i + 1, opts->threads);
	}
	log_info("serving with %d threads, database pool of %d", opts->threads,
	    db_pool_size(opts->pool));

	for (;;) {
		if (sigwait(&set, &sig) != 0)
			continue;
		if (sig == SIGHUP)
			continue; /* nothing to reload yet; do not die on it */
		break;
	}
	http_server_stopping = 1;
	FCGX_ShutdownPending();
	log_info("signal %d: draining %d requests in flight", sig,
	    __atomic_load_n(&http_server_in_flight, __ATOMIC_SEQ_CST));
	for (int i = 0; i < drain_seconds * 20; i++) {
		if (__atomic_load_n(&http_server_in_flight, __ATOMIC_SEQ_CST) == 0)
			break;
		usleep(50000);
	}
	/* Threads blocked in accept are not joined: the process ends here. */
	free(threads);
	return 0;
}
