/* test-http-router.c: route patterns, typed captures, 404 against 405 with Allow, HEAD on
 * GET routes, and the compile-time refusal of malformed tables. */
#include "config.h"

#include <string.h>

#include "http-router.h"
#include "unit.h"

static int
h(struct http_ctx *c)
{
	return 200;
}

static const struct route table[] = {
	{ "GET", "/", h, 0, NULL },
	{ "GET", "/messages", h, 0, NULL },
	{ "POST", "/messages", h, ROUTE_CSRF, NULL },
	{ "GET", "/messages/{id:int}", h, 0, NULL },
	{ "DELETE", "/messages/{id:int}", h, 0, NULL },
	{ "GET", "/threads/{tid:uuid}/raw", h, 0, NULL },
	{ "GET", "/c/{name:slug}", h, 0, NULL },
	{ "GET", "/f/{any:str}", h, 0, NULL },
};

static int
match(struct router *r, struct arena *a, struct http_request *req, const char *method,
    const char *path, char *allow)
{
	memset(req, 0, sizeof(*req));
	req->arena = a;
	req->method = method;
	req->path = path;
	req->route_index = -1;
	return http_router_match(r, req, allow, 128);
}

static void
test_matching(void)
{
	struct router r;
	struct arena *a = arena_new(4096);
	struct http_request req;
	char err[256], allow[128];

	CU_ASSERT_EQUAL_FATAL(http_router_compile(&r, table, MR_ARRAY_LEN(table), err,
	    sizeof(err)), 0);
	CU_ASSERT_EQUAL(match(&r, a, &req, "GET", "/", allow), 0);
	CU_ASSERT_EQUAL(match(&r, a, &req, "GET", "/messages", allow), 1);
	CU_ASSERT_EQUAL(match(&r, a, &req, "POST", "/messages", allow), 2);
	CU_ASSERT_EQUAL(match(&r, a, &req, "GET", "/messages/42", allow), 3);
	CU_ASSERT_EQUAL(req.route_index, 3);
	CU_ASSERT_EQUAL(http_param_int(&req, "id"), 42);
	CU_ASSERT_STRING_EQUAL(http_param(&req, "id"), "42");
	CU_ASSERT_EQUAL(match(&r, a, &req, "DELETE", "/messages/7", allow), 4);
	CU_ASSERT_EQUAL(match(&r, a, &req, "HEAD", "/messages/7", allow), 3);
	CU_ASSERT_EQUAL(match(&r, a, &req, "GET",
	    "/threads/123e4567-e89b-12d3-a456-426614174000/raw", allow), 5);
	CU_ASSERT_STRING_EQUAL(http_param(&req, "tid"), "123e4567-e89b-12d3-a456-426614174000");
	CU_ASSERT_EQUAL(match(&r, a, &req, "GET", "/c/to-respond_2", allow), 6);
	CU_ASSERT_EQUAL(match(&r, a, &req, "GET", "/f/Any thing.txt", allow), 7);
	http_router_free(&r);
	arena_free(a);
}

static void
test_typed_captures_refuse(void)
{
	static const char *paths[] = {
		"/messages/0", "/messages/007", "/messages/-1", "/messages/1x",
		"/messages/1234567890123456789", "/messages/", "/messages/1/",
		"/threads/123e4567e89b12d3a456426614174000/raw",
		"/threads/123e4567-e89b-12d3-a456-42661417400g/raw",
		"/c/Upper", "/c/", "/c/a.b", "/f/", "/messages//1", "/nope", "/messages/1/x",
	};
	struct router r;
	struct arena *a = arena_new(4096);
	struct http_request req;
	char err[256], allow[128];

	CU_ASSERT_EQUAL_FATAL(http_router_compile(&r, table, MR_ARRAY_LEN(table), err,
	    sizeof(err)), 0);
	for (size_t i = 0; i < MR_ARRAY_LEN(paths); i++) {
		int m = match(&r, a, &req, "GET", paths[i], allow);

		if (m != ROUTER_NOT_FOUND)
			fprintf(stderr, "unexpected match of %s: %d\n", paths[i], m);
		CU_ASSERT_EQUAL(m, ROUTER_NOT_FOUND);
		CU_ASSERT_EQUAL(req.params.len, 0);
	}
	http_router_free(&r);
	arena_free(a);
}

static void
test_method_not_allowed(void)
{
	struct router r;
	struct arena *a = arena_new(4096);
	struct http_request req;
	char err[256], allow[128];

	CU_ASSERT_EQUAL_FATAL(http_router_compile(&r, table, MR_ARRAY_LEN(table), err,
	    sizeof(err)), 0);
	CU_ASSERT_EQUAL(match(&r, a, &req, "PUT", "/messages", allow),
	    ROUTER_METHOD_NOT_ALLOWED);
	CU_ASSERT_STRING_EQUAL(allow, "GET, HEAD, POST");
	CU_ASSERT_EQUAL(match(&r, a, &req, "POST", "/messages/3", allow),
	    ROUTER_METHOD_NOT_ALLOWED);
	CU_ASSERT_STRING_EQUAL(allow, "GET, HEAD, DELETE");
	CU_ASSERT_EQUAL(match(&r, a, &req, "POST", "/", allow), ROUTER_METHOD_NOT_ALLOWED);
	CU_ASSERT_STRING_EQUAL(allow, "GET, HEAD");
	http_router_free(&r);
	arena_free(a);
}

static void
test_compile_errors(void)
{
	static const struct {
		struct route rt;
		const char *why;
	} bad[] = {
		{ { "GET", "nope", h, 0, NULL }, "must start with /" },
		{ { "GET", "/a//b", h, 0, NULL }, "empty path segment" },
		{ { "GET", "/a/", h, 0, NULL }, "trailing slash" },
		{ { "GET", "/a/{id}", h, 0, NULL }, "{name:type}" },
		{ { "GET", "/a/{id:float}", h, 0, NULL }, "unknown capture type" },
		{ { "GET", "/a/{:int}", h, 0, NULL }, "{name:type}" },
		{ { "GET", "/a/x{id:int}", h, 0, NULL }, "braces" },
		{ { "GET", "/a", NULL, 0, NULL }, "handler" },
	};
	struct router r;
	char err[256];

	for (size_t i = 0; i < MR_ARRAY_LEN(bad); i++) {
		CU_ASSERT_EQUAL(http_router_compile(&r, &bad[i].rt, 1, err, sizeof(err)), -1);
		CU_ASSERT_PTR_NOT_NULL(strstr(err, bad[i].why));
	}
	{
		const struct route dup[] = { { "GET", "/a", h, 0, NULL }, { "GET", "/a", h, 0, NULL } };

		CU_ASSERT_EQUAL(http_router_compile(&r, dup, 2, err, sizeof(err)), -1);
		CU_ASSERT_PTR_NOT_NULL(strstr(err, "duplicate"));
	}
}

int
main(void)
{
	static const struct unit_test tests[] = {
		{ "matching and captures", test_matching },
		{ "typed captures refuse bad values", test_typed_captures_refuse },
		{ "405 with Allow", test_method_not_allowed },
		{ "malformed tables are refused", test_compile_errors },
		{ NULL, NULL },
	};

	return unit_run("http-router", tests);
}
