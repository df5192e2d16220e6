/* http-response.h: the response a handler builds, the one function that sets security
 * headers, and the one that turns a failure into the JSON envelope or the HTML error page. */
#ifndef MAILROOM_HTTP_RESPONSE_H
#define MAILROOM_HTTP_RESPONSE_H

#include <jansson.h>
#include "arena.h"
#include "http-request.h"

/* The Content-Security-Policy (and framing rule) a response gets: every policy is written
 * in http_response_security_headers, handlers only choose one. */
enum http_policy {
	HTTP_POLICY_PAGE = 0,     /* pages and API answers: no frames in them, never framed */
	HTTP_POLICY_PAGE_FRAMES,  /* a page that shows mail bodies in frames of this site */
	HTTP_POLICY_MAIL_BODY,    /* a mail body inside such a frame: sandboxed, no script */
};

struct http_response {
	int status;
	enum http_policy policy;
	const char *content_type;
	struct kvlist headers;  /* extra headers, in order */
	struct buf body;
	/* Set by http_fail: the error the envelope or page describes. */
	const char *error_code;
	const char *error_message;
	json_t *error_details;  /* object, owned by the response; NULL for {} */
};

void http_response_init(struct http_response *res, struct arena *a);
void http_response_header(struct http_response *res, const char *name, const char *value);
/* Adds a Set-Cookie header: Path=/, HttpOnly, SameSite=Lax, and Secure when secure.
 * max_age > 0 makes it persistent, 0 a browser-session cookie, < 0 deletes it. The value
 * must be cookie-safe (base64url); anything else is refused and nothing is set. */
void http_response_set_cookie(struct http_response *res, const char *name,
    const char *value, long max_age, int secure);
/* First value of a header set on the response, or NULL. */
const char *http_response_get_header(const struct http_response *res, const char *name);
/* Replaces the body with a JSON document (compact, sorted keys) and sets the type. The
 * reference is stolen. */
void http_response_json(struct http_response *res, int status, json_t *doc);
void http_response_text(struct http_response *res, int status, const char *content_type,
    const char *text, size_t len);

/* Records a failure; returns status so handlers can `return http_fail(...)`. details (an
 * object, or NULL) is stolen. */
int http_fail(struct http_response *res, int status, const char *code, const char *message,
    json_t *details);

/* Renders the recorded failure (or a generic one for status) as the JSON envelope
 * {"error":{"code","message","details","request_id"}} when the request wants JSON, else as
 * the HTML error page. Adds Retry-After on 429 and 503 when none is set. */
void http_response_render_error(struct http_response *res, const struct http_request *req);

/* Sets the security headers every response carries, and X-Request-Id. The one place. */
void http_response_security_headers(struct http_response *res, const struct http_request *req);

/* Reason phrase of a status ("Not Found"); "Unknown" for codes we do not use. */
const char *http_status_text(int status);
/* Default error code for a status ("not_found", "method_not_allowed", ...). */
const char *http_status_code(int status);

/* Serializes the CGI response head ("Status: ...\r\nHeaders\r\n\r\n") into out. With
 * head_only the body is left out but its Content-Length is kept. */
void http_response_serialize_head(const struct http_response *res, struct buf *out);

#endif
