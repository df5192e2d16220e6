/* test-auth.c: the checks of auth.c that need no database: the CSRF token of anonymous
 * forms (bound to the pre-session cookie), the Origin and Sec-Fetch-Site checks, the
 * sign-in redirect of pages, bearer headers that are not tokens, cookies' attributes,
 * and the form contexts that put errors next to their fields. */
#include "config.h"

#include <string.h>

#include "auth.h"
#include "form.h"
#include "http-server.h"
#include "session.h"
#include "unit.h"

static int
h_form(struct http_ctx *c)
{
	/* What a page does: hand the token to the template. */
	http_response_text(c->res, 200, "text/plain", auth_csrf_token(c),
	    strlen(auth_csrf_token(c)));
	return 200;
}

static const struct route table[] = {
	{ "GET", "/login", h_form, 0, NULL },
	{ "POST", "/login", h_form, ROUTE_CSRF, NULL },
	{ "GET", "/inbox", h_form, ROUTE_SESSION, NULL },
	{ "GET", "/api/v1/me", h_form, ROUTE_SESSION | ROUTE_TOKEN | ROUTE_JSON, "read" },
};

static struct router router;
static struct http_server_opts opts;

struct req_opts {
	const char *method, *path, *raw_uri, *cookie_pre, *form_token, *header_token, *origin,
	    *fetch_site, *authorization;
	int wants_json;
};

static void
run(struct arena *a, const struct req_opts *o, struct http_request *req,
    struct http_response *res)
{
	memset(req, 0, sizeof(*req));
	req->arena = a;
	req->method = o->method;
	req->path = o->path;
	req->raw_uri = o->raw_uri;
	req->request_id = "rid";
	req->route_index = -1;
	req->wants_json = o->wants_json;
	req->origin = o->origin;
	req->sec_fetch_site = o->fetch_site;
	req->csrf_header = o->header_token;
	req->authorization = o->authorization;
	if (o->cookie_pre != NULL)
		kvlist_add(&req->cookies, a, "mr_pre", o->cookie_pre, strlen(o->cookie_pre));
	if (o->form_token != NULL)
		kvlist_add(&req->form, a, "csrf_token", o->form_token, strlen(o->form_token));
	http_response_init(res, a);
	http_server_dispatch(&opts, req, res, a, NULL);
}

/* The pre-session cookie set by a GET, and the token of the page. */
static void
anonymous_page(struct arena *a, char *cookie, size_t cookielen, char *token, size_t toklen)
{
	struct req_opts o = { .method = "GET", .path = "/login" };
	struct http_request req;
	struct http_response res;
	const char *sc;

	run(a, &o, &req, &res);
	CU_ASSERT_EQUAL_FATAL(res.status, 200);
	sc = http_response_get_header(&res, "Set-Cookie");
	CU_ASSERT_PTR_NOT_NULL_FATAL(sc);
	CU_ASSERT_NSTRING_EQUAL(sc, "mr_pre=", 7);
	CU_ASSERT_PTR_NOT_NULL(strstr(sc, "; Path=/; HttpOnly; SameSite=Lax"));
	CU_ASSERT_PTR_NULL(strstr(sc, "Secure"));   /* plain-HTTP development */
	snprintf(cookie, cookielen, "%.*s", (int)strcspn(sc + 7, ";"), sc + 7);
	snprintf(token, toklen, "%.*s", (int)res.body.len, res.body.data);
	CU_ASSERT_EQUAL(strlen(token), 43);
	CU_ASSERT(strcmp(cookie, token) != 0);
}

static void
test_anonymous_csrf(void)
{
	struct arena *a = arena_new(1 << 16);
	struct http_request req;
	struct http_response res;
	char cookie[128], token[128], other_cookie[128], other_token[128];
	struct req_opts o = { .method = "POST", .path = "/login",
		.origin = "http://127.0.0.1:8080" };

	anonymous_page(a, cookie, sizeof(cookie), token, sizeof(token));
	anonymous_page(a, other_cookie, sizeof(other_cookie), other_token, sizeof(other_token));
	CU_ASSERT(strcmp(cookie, other_cookie) != 0);

	/* The right pair passes, by field or by header. */
	o.cookie_pre = cookie;
	o.form_token = token;
	run(a, &o, &req, &res);
	CU_ASSERT_EQUAL(res.status, 200);
	o.form_token = NULL;
	o.header_token = token;
	run(a, &o, &req, &res);
	CU_ASSERT_EQUAL(res.status, 200);

	/* The same cookie on a second request gives the same token (a page and its post). */
	{
		struct req_opts g = { .method = "GET", .path = "/login", .cookie_pre = cookie };

		run(a, &g, &req, &res);
		CU_ASSERT_EQUAL(res.status, 200);
		CU_ASSERT_NSTRING_EQUAL(res.body.data, token, 43);
		CU_ASSERT_PTR_NULL(http_response_get_header(&res, "Set-Cookie"));
	}

	/* Each of these is refused with 403. */
	struct req_opts bad[] = {
		{ .cookie_pre = cookie },                                   /* no token */
		{ .cookie_pre = cookie, .form_token = other_token },        /* another's */
		{ .cookie_pre = other_cookie, .form_token = token },
		{ .form_token = token },                                    /* no cookie */
		{ .cookie_pre = cookie, .form_token = "" },
		{ .cookie_pre = cookie, .form_token = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" },
		{ .cookie_pre = cookie, .form_token = token, .origin = "https://evil.example" },
		{ .cookie_pre = cookie, .form_token = token, .origin = "null" },
		{ .cookie_pre = cookie, .form_token = token, .origin = "http://127.0.0.1:8081" },
		{ .cookie_pre = cookie, .form_token = token, .origin = "http://127.0.0.1:8080.evil" },
		{ .cookie_pre = cookie, .form_token = token, .fetch_site = "cross-site" },
		{ .cookie_pre = cookie, .form_token = token, .fetch_site = "same-site" },
	};
	for (size_t i = 0; i < MR_ARRAY_LEN(bad); i++) {
		bad[i].method = "POST";
		bad[i].path = "/login";
		if (bad[i].origin == NULL && bad[i].fetch_site == NULL)
			bad[i].origin = "http://127.0.0.1:8080";
		run(a, &bad[i], &req, &res);
		if (res.status != 403)
			fprintf(stderr, "\ncase %zu: status %d\n", i, res.status);
		CU_ASSERT_EQUAL(res.status, 403);
		CU_ASSERT_PTR_NOT_NULL(strstr(res.body.data, "did not come from this site"));
	}
	/* Without Origin, a same-origin fetch (or an old browser) passes with the token. */
	{
		struct req_opts ok = { .method = "POST", .path = "/login", .cookie_pre = cookie,
			.form_token = token, .fetch_site = "same-origin" };

		run(a, &ok, &req, &res);
		CU_ASSERT_EQUAL(res.status, 200);
		ok.fetch_site = NULL;
		run(a, &ok, &req, &res);
		CU_ASSERT_EQUAL(res.status, 200);
	}
	arena_free(a);
}

static void
test_sign_in_redirect(void)
{
	struct arena *a = arena_new(1 << 16);
	struct http_request req;
	struct http_response res;
	struct req_opts o = { .method = "GET", .path = "/inbox",
		.raw_uri = "/inbox?category=fyi&x=\"<>" };

	run(a, &o, &req, &res);
	CU_ASSERT_EQUAL(res.status, 303);
	CU_ASSERT_STRING_EQUAL(http_response_get_header(&res, "Location"),
	    "/login?next=/inbox%3Fcategory%3Dfyi%26x%3D%22%3C%3E");
	o.wants_json = 1;
	run(a, &o, &req, &res);
	CU_ASSERT_EQUAL(res.status, 401);
	arena_free(a);
}

static void
test_bearer_not_a_token(void)
{
	static const char *const headers[] = {
		"Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0.",   /* alg:none JWT */
		"Bearer mr_pat_short",
		"Bearer ",
		"Basic dXNlcjpwYXNz",
		"mr_pat_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
	};
	struct arena *a = arena_new(1 << 16);
	struct http_request req;
	struct http_response res;

	for (size_t i = 0; i < MR_ARRAY_LEN(headers); i++) {
		struct req_opts o = { .method = "GET", .path = "/api/v1/me",
			.authorization = headers[i], .wants_json = 1 };

		run(a, &o, &req, &res);
		CU_ASSERT_EQUAL(res.status, 401);
		CU_ASSERT_PTR_NOT_NULL(http_response_get_header(&res, "WWW-Authenticate"));
		CU_ASSERT_PTR_NOT_NULL(strstr(res.body.data, "\"code\":\""));
		CU_ASSERT_EQUAL(req.user_id, 0);
	}
	arena_free(a);
}

static void
test_cookies(void)
{
	struct arena *a = arena_new(1 << 12);
	struct http_response res;

	http_response_init(&res, a);
	http_response_set_cookie(&res, "__Host-mr_session", "abc-_.XYZ", 3600, 1);
	CU_ASSERT_STRING_EQUAL(http_response_get_header(&res, "Set-Cookie"),
	    "__Host-mr_session=abc-_.XYZ; Path=/; Max-Age=3600; HttpOnly; SameSite=Lax; Secure");
	http_response_init(&res, a);
	http_response_set_cookie(&res, "mr_session", "", -1, 0);
	CU_ASSERT_STRING_EQUAL(http_response_get_header(&res, "Set-Cookie"),
	    "mr_session=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax");
	/* Values that could split the header or add attributes are refused. */
	http_response_init(&res, a);
	http_response_set_cookie(&res, "x", "a;Domain=evil", 0, 1);
	http_response_set_cookie(&res, "x", "a\r\nX: y", 0, 1);
	http_response_set_cookie(&res, "x", "a b", 0, 1);
	CU_ASSERT_PTR_NULL(http_response_get_header(&res, "Set-Cookie"));
	arena_free(a);
}

static void
test_form_errors(void)
{
	struct arena *a = arena_new(1 << 14);
	struct http_request req;
	struct http_response res;
	struct http_ctx c = { .req = &req, .res = &res, .arena = a };
	struct form f;
	json_t *ctx, *field;

	memset(&req, 0, sizeof(req));
	req.arena = a;
	http_response_init(&res, a);
	kvlist_add(&req.form, a, "email", "  ada@example.org \r\n", 20);
	CU_ASSERT_STRING_EQUAL(form_value(&c, "email"), "ada@example.org");
	CU_ASSERT_STRING_EQUAL(form_value(&c, "missing"), "");

	form_init(&f, &c, "signup");
	form_field(&f, "email", "Email", "email", "ada@example.org", "email", 1, NULL);
	form_field(&f, "password", "Password", "password", NULL, "new-password", 1, "12+");
	form_error(&f, "password", "Too short.");
	form_error(&f, "password", "Second error is not shown.");
	ctx = form_context(&f);
	CU_ASSERT(json_is_true(json_object_get(ctx, "has_errors")));
	CU_ASSERT_EQUAL(strlen(json_string_value(json_object_get(ctx, "csrf"))), 43);
	field = json_object_get(json_object_get(ctx, "fields"), "password");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(field, "error")), "Too short.");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(field, "invalid")), "true");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(field, "describedby")),
	    "signup-password-error signup-password-hint");
	/* Passwords are not echoed. */
	CU_ASSERT(json_object_get(field, "value") == NULL || json_is_null(json_object_get(field, "value")));
	field = json_object_get(json_object_get(ctx, "fields"), "email");
	CU_ASSERT_PTR_NULL(json_object_get(field, "invalid"));
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(field, "value")),
	    "ada@example.org");
	json_decref(ctx);
	json_decref(c.owned);
	arena_free(a);
}

int
main(void)
{
	static const struct unit_test tests[] = {
		{ "anonymous forms' CSRF token and Origin", test_anonymous_csrf },
		{ "pages redirect to sign-in, APIs get 401", test_sign_in_redirect },
		{ "bearer headers that are not tokens", test_bearer_not_a_token },
		{ "cookie attributes", test_cookies },
		{ "form contexts with field errors", test_form_errors },
		{ NULL, NULL },
	};
	char err[256];
	int rc;

	mr_config.base_url = "http://127.0.0.1:8080";
	mr_config.secure_cookies = 0;
	if (http_router_compile(&router, table, MR_ARRAY_LEN(table), err, sizeof(err)) == -1) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	opts.router = &router;
	rc = unit_run("auth", tests);
	http_router_free(&router);
	return rc;
}
