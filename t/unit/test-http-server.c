/* test-http-server.c: the request pipeline after the body is read: parse errors become
 * the envelope, 404 and 405, routes that need a user or a CSRF token fail closed, and
 * every answer carries the security headers. */
#include "config.h"

#include <string.h>

#include "http-server.h"
#include "unit.h"

static int
h_ok(struct http_ctx *c)
{
	http_response_json(c->res, 200, json_pack("{s:b}", "ok", 1));
	return 200;
}

static int
h_conflict(struct http_ctx *c)
{
	return http_fail(c->res, 409, "conflict", "Edited elsewhere.", NULL);
}

static const struct route table[] = {
	{ "GET", "/ok", h_ok, 0, NULL },
	{ "POST", "/form", h_ok, ROUTE_CSRF, NULL },
	{ "GET", "/mine", h_ok, ROUTE_SESSION, NULL },
	{ "GET", "/api/v1/conflict", h_conflict, ROUTE_JSON, NULL },
};

static struct router router;
static struct http_server_opts opts;

static void
run(struct arena *a, const char *method, const char *path, int wants_json,
    const struct http_error *perr, struct http_request *req, struct http_response *res)
{
	memset(req, 0, sizeof(*req));
	req->arena = a;
	req->method = method;
	req->path = path;
	req->request_id = "rid";
	req->route_index = -1;
	req->wants_json = wants_json;
	http_response_init(res, a);
	http_server_dispatch(&opts, req, res, a, perr);
	CU_ASSERT_STRING_EQUAL(http_response_get_header(res, "X-Content-Type-Options"),
	    "nosniff");
	CU_ASSERT_STRING_EQUAL(http_response_get_header(res, "X-Request-Id"), "rid");
}

static void
test_pipeline(void)
{
	struct arena *a = arena_new(1 << 16);
	struct http_request req;
	struct http_response res;
	struct http_error perr = { 413, "payload_too_large", "Too big.", "upload" };

	run(a, "GET", "/ok", 0, NULL, &req, &res);
	CU_ASSERT_EQUAL(res.status, 200);
	CU_ASSERT_STRING_EQUAL(res.body.data, "{\"ok\":true}");
	CU_ASSERT_EQUAL(req.route_index, 0);

	run(a, "GET", "/nope", 0, NULL, &req, &res);
	CU_ASSERT_EQUAL(res.status, 404);
	CU_ASSERT_STRING_EQUAL(res.content_type, "text/html; charset=utf-8");

	run(a, "GET", "/nope", 1, NULL, &req, &res);
	CU_ASSERT_EQUAL(res.status, 404);
	CU_ASSERT_PTR_NOT_NULL(strstr(res.body.data, "\"code\":\"not_found\""));
	CU_ASSERT_PTR_NOT_NULL(strstr(res.body.data, "\"request_id\":\"rid\""));

	run(a, "DELETE", "/ok", 1, NULL, &req, &res);
	CU_ASSERT_EQUAL(res.status, 405);
	CU_ASSERT_STRING_EQUAL(http_response_get_header(&res, "Allow"), "GET, HEAD");

	run(a, "POST", "/ok", 0, &perr, &req, &res);
	CU_ASSERT_EQUAL(res.status, 413);
	CU_ASSERT_EQUAL(req.route_index, -1);

	run(a, "POST", "/api/v1/x", 1, &perr, &req, &res);
	CU_ASSERT_PTR_NOT_NULL(strstr(res.body.data, "\"code\":\"payload_too_large\""));
	CU_ASSERT_PTR_NOT_NULL(strstr(res.body.data, "\"details\":{\"field\":\"upload\"}"));
	arena_free(a);
}

static void
test_fail_closed(void)
{
	struct arena *a = arena_new(1 << 16);
	struct http_request req;
	struct http_response res;

	/* A page sends the browser to the sign-in form; an API client gets 401. */
	run(a, "GET", "/mine", 0, NULL, &req, &res);
	CU_ASSERT_EQUAL(res.status, 303);
	CU_ASSERT_STRING_EQUAL(http_response_get_header(&res, "Location"), "/login");
	run(a, "GET", "/mine", 1, NULL, &req, &res);
	CU_ASSERT_EQUAL(res.status, 401);
	CU_ASSERT_PTR_NOT_NULL(strstr(res.body.data, "\"code\":\"unauthorized\""));
	run(a, "POST", "/form", 0, NULL, &req, &res);
	CU_ASSERT_EQUAL(res.status, 403);
	CU_ASSERT_PTR_NOT_NULL(strstr(res.body.data, "403"));
	arena_free(a);
}

static void
test_handler_errors(void)
{
	struct arena *a = arena_new(1 << 16);
	struct http_request req;
	struct http_response res;

	/* A ROUTE_JSON route answers with the envelope even to a browser. */
	run(a, "GET", "/api/v1/conflict", 0, NULL, &req, &res);
	CU_ASSERT_EQUAL(res.status, 409);
	CU_ASSERT_STRING_EQUAL(res.content_type, "application/json");
	CU_ASSERT_PTR_NOT_NULL(strstr(res.body.data, "Edited elsewhere."));
	arena_free(a);
}

int
main(void)
{
	static const struct unit_test tests[] = {
		{ "pipeline", test_pipeline },
		{ "auth and CSRF fail closed", test_fail_closed },
		{ "handler errors", test_handler_errors },
		{ NULL, NULL },
	};
	char err[256];

	if (http_router_compile(&router, table, MR_ARRAY_LEN(table), err, sizeof(err)) == -1)
		return 1;
	opts.router = &router;
	opts.limits = http_limits_default;
	return unit_run("http-server", tests);
}
