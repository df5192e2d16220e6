/* http-response.c: building responses, the security headers (set here and nowhere else),
 * and the rendering of failures: the JSON envelope for the API, an HTML page otherwise.
 * The page is built as a libxml2 tree so that no value can escape its text node. */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <libxml/HTMLtree.h>
#include <libxml/tree.h>

#include "http-response.h"
#include "page.h"
#include "util.h"

/* libxml2 takes const xmlChar * for names and text; BAD_CAST would drop the const. */
#define XC(s) ((const xmlChar *)(s))

static const struct {
	int status;
	const char *text;
	const char *code;
} http_statuses[] = {
	{ 200, "OK", "ok" },
	{ 201, "Created", "created" },
	{ 202, "Accepted", "accepted" },
	{ 204, "No Content", "no_content" },
	{ 301, "Moved Permanently", "moved" },
	{ 302, "Found", "found" },
	{ 303, "See Other", "see_other" },
	{ 304, "Not Modified", "not_modified" },
	{ 400, "Bad Request", "bad_request" },
	{ 401, "Unauthorized", "unauthorized" },
	{ 403, "Forbidden", "forbidden" },
	{ 404, "Not Found", "not_found" },
	{ 405, "Method Not Allowed", "method_not_allowed" },
	{ 409, "Conflict", "conflict" },
	{ 410, "Gone", "gone" },
	{ 412, "Precondition Failed", "precondition_failed" },
	{ 413, "Payload Too Large", "payload_too_large" },
	{ 415, "Unsupported Media Type", "unsupported_media_type" },
	{ 422, "Unprocessable Content", "unprocessable" },
	{ 428, "Precondition Required", "precondition_required" },
	{ 429, "Too Many Requests", "rate_limited" },
	{ 500, "Internal Server Error", "internal_error" },
	{ 502, "Bad Gateway", "bad_gateway" },
	{ 503, "Service Unavailable", "unavailable" },
	{ 504, "Gateway Timeout", "timeout" },
};

/* What a person reads on the error page; never the internal cause. */
static const struct {
	int status;
	const char *explain;
} http_explanations[] = {
	{ 400, "The request could not be understood." },
	{ 401, "You need to sign in to see this page." },
	{ 403, "You are not allowed to do that." },
	{ 404, "There is nothing at this address." },
	{ 405, "This address does not accept that kind of request." },
	{ 413, "What you sent is larger than this server accepts." },
	{ 415, "This address does not accept that kind of content." },
	{ 429, "Too many requests: wait a moment and try again." },
	{ 500, "Something went wrong on our side. It has been logged." },
	{ 503, "The service is briefly unavailable. Try again in a few seconds." },
};

const char *
http_status_text(int status)
{
	for (size_t i = 0; i < MR_ARRAY_LEN(http_statuses); i++) {
		if (http_statuses[i].status == status)
			return http_statuses[i].text;
	}
	return "Unknown";
}

const char *
http_status_code(int status)
{
	for (size_t i = 0; i < MR_ARRAY_LEN(http_statuses); i++) {
		if (http_statuses[i].status == status)
			return http_statuses[i].code;
	}
	return status >= 500 ? "internal_error" : "error";
}

void
http_response_init(struct http_response *res, struct arena *a)
{
	memset(res, 0, sizeof(*res));
	res->status = 200;
	buf_init(&res->body, a);
}

void
http_response_header(struct http_response *res, const char *name, const char *value)
{
	/* Header values never carry line breaks: drop the header rather than split it. */
	if (strpbrk(name, "\r\n:") != NULL || strpbrk(value, "\r\n") != NULL) {
		log_err("refusing header %s with a line break", name);
		return;
	}
	kvlist_add(&res->headers, res->body.arena, name, value, strlen(value));
}

const char *
http_response_get_header(const struct http_response *res, const char *name)
{
	for (size_t i = 0; i < res->headers.len; i++) {
		if (util_strcaseeq(res->headers.items[i].name, name))
			return res->headers.items[i].value;
	}
	return NULL;
}

void
http_response_json(struct http_response *res, int status, json_t *doc)
{
	char *s = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII);

	res->status = status;
	res->content_type = "application/json";
	res->body.len = 0;
	if (s != NULL) {
		buf_puts(&res->body, s);
		free(s);
	}
	json_decref(doc);
}

void
http_response_text(struct http_response *res, int status, const char *content_type,
    const char *text, size_t len)
{
	res->status = status;
	res->content_type = content_type;
	res->body.len = 0;
	buf_append(&res->body, text, len);
}

void
http_response_set_cookie(struct http_response *res, const char *name, const char *value,
    long max_age, int secure)
{
	struct arena *a = res->body.arena;

	for (const char *p = value; *p != '\0'; p++) {
		if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		    (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.')) {
			log_err("refusing to set cookie %s: value is not cookie-safe", name);
			return;
		}
	}
	http_response_header(res, "Set-Cookie", arena_printf(a,
	    "%s=%s; Path=/%s%s; HttpOnly; SameSite=Lax%s", name, max_age < 0 ? "" : value,
	    max_age != 0 ? "; Max-Age=" : "",
	    max_age > 0 ? arena_printf(a, "%ld", max_age) : max_age < 0 ? "0" : "",
	    secure ? "; Secure" : ""));
}

int
http_fail(struct http_response *res, int status, const char *code, const char *message,
    json_t *details)
{
	res->status = status;
	res->error_code = code;
	res->error_message = message;
	json_decref(res->error_details);
	res->error_details = details;
	return status;
}

static const char *
http_explain(int status)
{
	for (size_t i = 0; i < MR_ARRAY_LEN(http_explanations); i++) {
		if (http_explanations[i].status == status)
			return http_explanations[i].explain;
	}
	return status >= 500 ? "Something went wrong on our side." : "The request failed.";
}

static void
http_render_error_json(struct http_response *res, const struct http_request *req,
    const char *code, const char *message)
{
	json_t *details = res->error_details != NULL ? json_incref(res->error_details) :
	    json_object();
	json_t *doc = json_pack("{s:{s:s, s:s, s:o, s:s}}", "error", "code", code, "message",
	    message, "details", details, "request_id", req->request_id ? req->request_id : "");

	if (doc == NULL) {
		/* Only a message that is not UTF-8 gets here: answer without it. */
		doc = json_pack("{s:{s:s, s:s, s:{}, s:s}}", "error", "code", code, "message",
		    http_status_text(res->status), "details", "request_id",
		    req->request_id ? req->request_id : "");
	}
	http_response_json(res, res->status, doc);
}

static void
http_render_error_html(struct http_response *res, const struct http_request *req,
    const char *message)
{
	htmlDocPtr doc;
	xmlNodePtr html, head, body, main, node, meta;
	xmlChar *out = NULL;
	int outlen = 0;
	char title[96];

	if (message != NULL && (strcmp(message, http_status_text(res->status)) == 0 ||
	    strcmp(message, http_explain(res->status)) == 0))
		message = NULL;
	if (page_templates() != NULL) {
		page_render_error(res, req, http_status_text(res->status),
		    http_explain(res->status), message);
		return;
	}
	/* Before the templates are loaded (and in unit tests): a minimal page. */
	doc = htmlNewDocNoDtD(NULL, NULL);
	snprintf(title, sizeof(title), "%d %s · mailroom", res->status,
	    http_status_text(res->status));
	xmlCreateIntSubset(doc, XC("html"), NULL, NULL);
	html = xmlNewNode(NULL, XC("html"));
	xmlNewProp(html, XC("lang"), XC("en"));
	xmlDocSetRootElement(doc, html);
	head = xmlNewChild(html, NULL, XC("head"), NULL);
	meta = xmlNewChild(head, NULL, XC("meta"), NULL);
	xmlNewProp(meta, XC("charset"), XC("utf-8"));
	meta = xmlNewChild(head, NULL, XC("meta"), NULL);
	xmlNewProp(meta, XC("name"), XC("viewport"));
	xmlNewProp(meta, XC("content"), XC("width=device-width, initial-scale=1"));
	xmlNewTextChild(head, NULL, XC("title"), XC(title));
	body = xmlNewChild(html, NULL, XC("body"), NULL);
	main = xmlNewChild(body, NULL, XC("main"), NULL);
	snprintf(title, sizeof(title), "%d %s", res->status, http_status_text(res->status));
	xmlNewTextChild(main, NULL, XC("h1"), XC(title));
	xmlNewTextChild(main, NULL, XC("p"), XC(http_explain(res->status)));
	if (message != NULL)
		xmlNewTextChild(main, NULL, XC("p"), XC(message));
	node = xmlNewTextChild(main, NULL, XC("p"), XC("Request id: "));
	xmlNewTextChild(node, NULL, XC("code"),
	    XC((req->request_id ? req->request_id : "")));
	node = xmlNewTextChild(main, NULL, XC("p"), NULL);
	node = xmlNewTextChild(node, NULL, XC("a"), XC("Back to the start page"));
	xmlNewProp(node, XC("href"), XC("/"));

	htmlDocDumpMemoryFormat(doc, &out, &outlen, 0);
	res->content_type = "text/html; charset=utf-8";
	res->body.len = 0;
	if (out != NULL)
		buf_append(&res->body, out, (size_t)outlen);
	xmlFree(out);
	xmlFreeDoc(doc);
}

void
http_response_render_error(struct http_response *res, const struct http_request *req)
{
	const char *code = res->error_code ? res->error_code : http_status_code(res->status);
	const char *message = res->error_message ? res->error_message :
	    http_status_text(res->status);

	if ((res->status == 503 || res->status == 429) &&
	    http_response_get_header(res, "Retry-After") == NULL)
		http_response_header(res, "Retry-After", res->status == 503 ? "5" : "30");
	if (req->wants_json)
		http_render_error_json(res, req, code, message);
	else
		http_render_error_html(res, req, message);
	json_decref(res->error_details);
	res->error_details = NULL;
}

void
http_response_security_headers(struct http_response *res, const struct http_request *req)
{
	const char *frames = res->policy == HTTP_POLICY_PAGE_FRAMES ? "'self'" : "'none'";

	http_response_header(res, "X-Content-Type-Options", "nosniff");
	/* A page with a secret in its address (a reset link) sets no-referrer itself. */
	if (http_response_get_header(res, "Referrer-Policy") == NULL)
		http_response_header(res, "Referrer-Policy", "strict-origin-when-cross-origin");
	if (res->policy == HTTP_POLICY_MAIL_BODY) {
		/* An email's (sanitized) HTML, loaded by a sandboxed <iframe> of our own pages:
		 * a unique origin without script, forms or plugins even if the frame's
		 * attribute were lost; its links open in a new tab (popups, outside the
		 * sandbox); nothing loads but the message's own data: images; the inline
		 * styles mail relies on stay. */
		http_response_header(res, "X-Frame-Options", "SAMEORIGIN");
		http_response_header(res, "Content-Security-Policy",
		    "sandbox allow-popups allow-popups-to-escape-sandbox; default-src 'none'; "
		    "style-src 'unsafe-inline'; img-src data:; "
		    "base-uri 'none'; form-action 'none'; frame-ancestors 'self'");
	} else {
		http_response_header(res, "X-Frame-Options", "DENY");
		/* Scripts only from our own files (Alpine's CSP build needs no eval); styles
		 * likewise. Frames only on the pages that show mail bodies, and only ours
		 * (HTTP_POLICY_MAIL_BODY). form-action also names the configured extensions'
		 * redirect targets, where the consent form of their authorization flow sends
		 * the browser (config.c, cors.h). */
		http_response_header(res, "Content-Security-Policy", arena_printf(res->body.arena,
		    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
		    "connect-src 'self'; font-src 'self'; frame-src %s; object-src 'none'; "
		    "base-uri 'none'; form-action %s; frame-ancestors 'none'", frames,
		    mr_config.csp_form_action != NULL ? mr_config.csp_form_action : "'self'"));
	}
	http_response_header(res, "Cross-Origin-Opener-Policy", "same-origin");
	http_response_header(res, "Cross-Origin-Resource-Policy", "same-origin");
	http_response_header(res, "Permissions-Policy",
	    "camera=(), microphone=(), geolocation=(), payment=(), usb=()");
	if (http_response_get_header(res, "Cache-Control") == NULL)
		http_response_header(res, "Cache-Control", "no-store");
	if (req->request_id != NULL)
		http_response_header(res, "X-Request-Id", req->request_id);
}

void
http_response_serialize_head(const struct http_response *res, struct buf *out)
{
	buf_printf(out, "Status: %d %s\r\n", res->status, http_status_text(res->status));
	if (res->content_type != NULL)
		buf_printf(out, "Content-Type: %s\r\n", res->content_type);
	if (res->status != 204 && res->status != 304)
		buf_printf(out, "Content-Length: %zu\r\n", res->body.len);
	for (size_t i = 0; i < res->headers.len; i++)
		buf_printf(out, "%s: %s\r\n", res->headers.items[i].name,
		    res->headers.items[i].value);
	buf_puts(out, "\r\n");
}
