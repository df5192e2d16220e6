/* test-page.c: the shipped templates load (a broken one would stop start-up), every page
 * renders through page_render with its real context and re-parses cleanly, and error pages
 * keep user text as text. The inbox, which needs the database, is tested with its data in
 * t/integration/test-mail.c (its fragment for HTMX included). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libxml/HTMLparser.h>

#include "http-server.h"
#include "page.h"
#include "auth.h"
#include "routes.h"
#include "unit.h"

static struct router router;
static struct http_server_opts opts;

/* Parses html and fails the test on any error libxml2 reports, except its ignorance of
 * HTML5 element names (libxml2 2.9 knows HTML 4 only). */
static void
check_reparses(const char *html, size_t len)
{
	htmlParserCtxtPtr ctxt = htmlNewParserCtxt();
	htmlDocPtr doc;
	const xmlError *e;

	CU_ASSERT_PTR_NOT_NULL_FATAL(ctxt);
	doc = htmlCtxtReadMemory(ctxt, html, (int)len, NULL, "utf-8",
	    HTML_PARSE_NONET | HTML_PARSE_NOWARNING | HTML_PARSE_NOERROR);
	CU_ASSERT_PTR_NOT_NULL(doc);
	e = xmlCtxtGetLastError(ctxt);
	if (e != NULL && e->code != XML_HTML_UNKNOWN_TAG) {
		fprintf(stderr, "re-parse error %d: %s", e->code, e->message);
		CU_FAIL("rendered page does not re-parse cleanly");
	}
	xmlFreeDoc(doc);
	htmlFreeParserCtxt(ctxt);
}

static void
get(struct arena *a, const char *path, const char *query, int hx, struct http_request *req,
    struct http_response *res)
{
	struct http_error err;

	memset(req, 0, sizeof(*req));
	req->arena = a;
	req->method = "GET";
	req->path = path;
	req->request_id = "rid-1";
	req->route_index = -1;
	req->hx_request = hx;
	if (query != NULL)
		CU_ASSERT_EQUAL(http_parse_urlencoded(a, query, strlen(query),
		    &http_limits_default, &req->query, &err), 0);
	http_response_init(res, a);
	http_server_dispatch(&opts, req, res, a, NULL);
}

static void
test_pages_render(void)
{
	static const char *paths[] = { "/", "/nope" };
	struct arena *a = arena_new(1 << 16);
	struct http_request req;
	struct http_response res;

	for (size_t i = 0; i < MR_ARRAY_LEN(paths); i++) {
		get(a, paths[i], NULL, 0, &req, &res);
		CU_ASSERT_EQUAL(res.status, i < 1 ? 200 : 404);
		CU_ASSERT_STRING_EQUAL(res.content_type, "text/html; charset=utf-8");
		CU_ASSERT_EQUAL(strncmp(res.body.data, "<!DOCTYPE html>", 15), 0);
		/* Assets come through the manifest, with content hashes. */
		CU_ASSERT_PTR_NOT_NULL(strstr(res.body.data, "href=\"/static/css/app."));
		CU_ASSERT_PTR_NULL(strstr(res.body.data, " m-"));
		check_reparses(res.body.data, res.body.len);
		arena_reset(a);
	}
	arena_free(a);
}

static void
test_landing_lists_categories(void)
{
	struct arena *a = arena_new(1 << 16);
	struct http_request req;
	struct http_response res;

	get(a, "/", NULL, 0, &req, &res);
	for (size_t i = 0; i < page_categories_count; i++) {
		char want[128];

		snprintf(want, sizeof(want), "data-category=\"%s\">%s<", page_categories[i].slug,
		    page_categories[i].name);
		CU_ASSERT_PTR_NOT_NULL(strstr(res.body.data, want));
	}
	CU_ASSERT_PTR_NOT_NULL(strstr(res.body.data, "not available yet"));
	arena_free(a);
}

static void
test_error_page_escapes(void)
{
	struct arena *a = arena_new(1 << 16);
	struct http_request req;
	struct http_response res;

	memset(&req, 0, sizeof(req));
	req.arena = a;
	req.request_id = "rid-2";
	http_response_init(&res, a);
	http_fail(&res, 400, "bad_request", "field \"<script>alert(1)</script>\" & more", NULL);
	http_response_render_error(&res, &req);
	CU_ASSERT_PTR_NULL(strstr(res.body.data, "<script>alert"));
	CU_ASSERT(strstr(res.body.data,
	    "field &quot;&lt;script&gt;alert(1)&lt;/script&gt;&quot; &amp; more") != NULL ||
	    strstr(res.body.data, "field \"&lt;script&gt;alert(1)&lt;/script&gt;\" &amp; more") != NULL);
	CU_ASSERT_PTR_NOT_NULL(strstr(res.body.data, "rid-2"));
	CU_ASSERT_PTR_NOT_NULL(strstr(res.body.data, ">Bad Request<"));
	check_reparses(res.body.data, res.body.len);
	arena_free(a);
}

int
main(void)
{
	static const struct unit_test tests[] = {
		{ "every page renders and re-parses", test_pages_render },
		{ "landing lists the categories", test_landing_lists_categories },
		{ "error page keeps text as text", test_error_page_escapes },
		{ NULL, NULL },
	};
	const char *srcdir = getenv("srcdir");
	char dir[4096], err[1024];

	snprintf(dir, sizeof(dir), "%s/templates", srcdir != NULL ? srcdir : ".");
	if (page_init(dir, err, sizeof(err)) == -1) {
		fprintf(stderr, "test-page: %s\n", err);
		return 1;
	}
	if (http_router_compile(&router, routes, routes_count, err, sizeof(err)) == -1)
		return 1;
	opts.router = &router;
	opts.limits = http_limits_default;
	return unit_run("page", tests);
}
