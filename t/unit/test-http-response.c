/* test-http-response.c: the error envelope and page, the security headers, header
 * injection, and the CGI response head. The nasty string goes through every output. */
#include "config.h"

#include <string.h>
#include <libxml/HTMLparser.h>

#include "http-response.h"
#include "unit.h"

static void
req_init(struct http_request *req, struct arena *a, int wants_json)
{
	memset(req, 0, sizeof(*req));
	req->arena = a;
	req->request_id = "req-123";
	req->method = "GET";
	req->path = "/x";
	req->wants_json = wants_json;
}

static void
test_json_envelope(void)
{
	struct arena *a = arena_new(4096);
	struct http_request req;
	struct http_response res;
	json_t *doc, *err;
	static const char nasty[] = "\"&'<>";

	req_init(&req, a, 1);
	http_response_init(&res, a);
	http_fail(&res, 400, "bad_request", nasty, json_pack("{s:s}", "field", "<script>"));
	http_response_render_error(&res, &req);
	CU_ASSERT_STRING_EQUAL(res.content_type, "application/json");
	CU_ASSERT_EQUAL(res.status, 400);
	doc = json_loads(res.body.data, 0, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(doc);
	err = json_object_get(doc, "error");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(err, "code")), "bad_request");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(err, "message")), nasty);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(err, "request_id")), "req-123");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(json_object_get(err, "details"),
	    "field")), "<script>");
	json_decref(doc);

	/* Without details the envelope still has an object. */
	http_response_init(&res, a);
	res.status = 404;
	http_response_render_error(&res, &req);
	doc = json_loads(res.body.data, 0, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(doc);
	err = json_object_get(doc, "error");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(err, "code")), "not_found");
	CU_ASSERT(json_is_object(json_object_get(err, "details")));
	json_decref(doc);
	arena_free(a);
}

static void
test_html_page(void)
{
	struct arena *a = arena_new(4096);
	struct http_request req;
	struct http_response res;
	htmlDocPtr doc;
	static const char nasty[] = "<script>alert(1)</script>\"&'";

	req_init(&req, a, 0);
	http_response_init(&res, a);
	http_fail(&res, 400, "bad_request", nasty, NULL);
	http_response_render_error(&res, &req);
	CU_ASSERT_STRING_EQUAL(res.content_type, "text/html; charset=utf-8");
	CU_ASSERT_PTR_NULL(strstr(res.body.data, "<script"));
	CU_ASSERT_PTR_NOT_NULL(strstr(res.body.data, "&lt;script&gt;alert(1)&lt;/script&gt;"));
	CU_ASSERT_PTR_NOT_NULL(strstr(res.body.data, "400 Bad Request"));
	CU_ASSERT_PTR_NOT_NULL(strstr(res.body.data, "req-123"));
	CU_ASSERT_PTR_NOT_NULL(strstr(res.body.data, "<!DOCTYPE html>"));
	doc = htmlReadMemory(res.body.data, (int)res.body.len, NULL, "utf-8",
	    HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING | HTML_PARSE_NONET);
	CU_ASSERT_PTR_NOT_NULL(doc);
	xmlFreeDoc(doc);
	arena_free(a);
}

static void
test_retry_after(void)
{
	struct arena *a = arena_new(4096);
	struct http_request req;
	struct http_response res;

	req_init(&req, a, 1);
	http_response_init(&res, a);
	http_fail(&res, 503, "unavailable", "down", NULL);
	http_response_render_error(&res, &req);
	CU_ASSERT_STRING_EQUAL(http_response_get_header(&res, "retry-after"), "5");
	http_response_init(&res, a);
	http_response_header(&res, "Retry-After", "17");
	http_fail(&res, 429, NULL, NULL, NULL);
	http_response_render_error(&res, &req);
	CU_ASSERT_STRING_EQUAL(http_response_get_header(&res, "Retry-After"), "17");
	CU_ASSERT_PTR_NOT_NULL(strstr(res.body.data, "\"rate_limited\""));
	arena_free(a);
}

static void
test_security_headers(void)
{
	struct arena *a = arena_new(4096);
	struct http_request req;
	struct http_response res;
	const char *csp;

	req_init(&req, a, 0);
	http_response_init(&res, a);
	http_response_security_headers(&res, &req);
	CU_ASSERT_STRING_EQUAL(http_response_get_header(&res, "X-Content-Type-Options"),
	    "nosniff");
	CU_ASSERT_STRING_EQUAL(http_response_get_header(&res, "X-Frame-Options"), "DENY");
	CU_ASSERT_STRING_EQUAL(http_response_get_header(&res, "Referrer-Policy"),
	    "strict-origin-when-cross-origin");
	CU_ASSERT_STRING_EQUAL(http_response_get_header(&res, "Cross-Origin-Opener-Policy"),
	    "same-origin");
	CU_ASSERT_STRING_EQUAL(http_response_get_header(&res, "Cache-Control"), "no-store");
	CU_ASSERT_STRING_EQUAL(http_response_get_header(&res, "X-Request-Id"), "req-123");
	csp = http_response_get_header(&res, "Content-Security-Policy");
	CU_ASSERT_PTR_NOT_NULL_FATAL(csp);
	CU_ASSERT_PTR_NOT_NULL(strstr(csp, "default-src 'self'"));
	CU_ASSERT_PTR_NOT_NULL(strstr(csp, "frame-ancestors 'none'"));
	CU_ASSERT_PTR_NULL(strstr(csp, "unsafe-inline"));
	CU_ASSERT_PTR_NULL(strstr(csp, "unsafe-eval"));

	/* A handler's own Cache-Control is kept. */
	http_response_init(&res, a);
	http_response_header(&res, "Cache-Control", "private, max-age=60");
	http_response_security_headers(&res, &req);
	CU_ASSERT_STRING_EQUAL(http_response_get_header(&res, "Cache-Control"),
	    "private, max-age=60");
	arena_free(a);
}

static void
test_header_injection(void)
{
	struct arena *a = arena_new(4096);
	struct http_response res;

	http_response_init(&res, a);
	http_response_header(&res, "X-A", "ok");
	http_response_header(&res, "X-B", "evil\r\nSet-Cookie: x=1");
	http_response_header(&res, "X-C\r\nSet-Cookie", "x=1");
	CU_ASSERT_EQUAL(res.headers.len, 1);
	CU_ASSERT_PTR_NULL(http_response_get_header(&res, "X-B"));
	arena_free(a);
}

static void
test_serialize_head(void)
{
	struct arena *a = arena_new(4096);
	struct http_response res;
	struct buf out;

	http_response_init(&res, a);
	http_response_text(&res, 201, "text/plain", "hello", 5);
	http_response_header(&res, "X-A", "1");
	buf_init(&out, a);
	http_response_serialize_head(&res, &out);
	CU_ASSERT_STRING_EQUAL(out.data, "Status: 201 Created\r\nContent-Type: text/plain\r\n"
	    "Content-Length: 5\r\nX-A: 1\r\n\r\n");
	http_response_init(&res, a);
	res.status = 204;
	buf_init(&out, a);
	http_response_serialize_head(&res, &out);
	CU_ASSERT_STRING_EQUAL(out.data, "Status: 204 No Content\r\n\r\n");
	arena_free(a);
}

static void
test_status_tables(void)
{
	CU_ASSERT_STRING_EQUAL(http_status_text(413), "Payload Too Large");
	CU_ASSERT_STRING_EQUAL(http_status_code(415), "unsupported_media_type");
	CU_ASSERT_STRING_EQUAL(http_status_text(799), "Unknown");
	CU_ASSERT_STRING_EQUAL(http_status_code(599), "internal_error");
}

int
main(void)
{
	static const struct unit_test tests[] = {
		{ "JSON error envelope", test_json_envelope },
		{ "HTML error page escapes by construction", test_html_page },
		{ "Retry-After on 503 and 429", test_retry_after },
		{ "security headers", test_security_headers },
		{ "header injection is refused", test_header_injection },
		{ "CGI response head", test_serialize_head },
		{ "status tables", test_status_tables },
		{ NULL, NULL },
	};

	return unit_run("http-response", tests);
}
