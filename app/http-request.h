/* http-request.h: the request as handlers see it, and the parsers that build it from CGI
 * parameters and the body: query strings, cookies, urlencoded and multipart forms, JSON.
 * The parsers are pure functions over bytes so that unit tests and fuzzers drive them. */
#ifndef MAILROOM_HTTP_REQUEST_H
#define MAILROOM_HTTP_REQUEST_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "arena.h"

/* A list of name/value pairs in arrival order. Names and values are NUL-terminated copies
 * in the arena; value_len allows values with embedded NULs (their C string stops early). */
struct kv {
	const char *name;
	const char *value;
	size_t value_len;
};

struct kvlist {
	struct kv *items;
	size_t len;
	size_t cap;
};

void kvlist_add(struct kvlist *l, struct arena *a, const char *name, const char *value,
    size_t value_len);
/* First value for name, or NULL. */
const char *kvlist_get(const struct kvlist *l, const char *name);
/* Number of values with that name. */
size_t kvlist_count(const struct kvlist *l, const char *name);

/* A file part of a multipart/form-data body. data points into the request body. */
struct http_upload {
	const char *field;
	const char *filename;     /* as sent, without any directory part; may be "" */
	const char *content_type; /* "application/octet-stream" when the part has none */
	const char *data;
	size_t len;
};

struct http_limits {
	size_t max_body;        /* any body, bytes */
	size_t max_upload;      /* multipart bodies, bytes (uploads) */
	size_t max_fields;      /* pairs in a query string, form or multipart body */
	size_t max_name;        /* bytes in one field name */
	size_t max_value;       /* bytes in one non-file value */
	size_t max_cookies;     /* cookies in the Cookie header */
	size_t max_json_depth;  /* nesting of a JSON body */
};

extern const struct http_limits http_limits_default;

/* Why a parse failed: an HTTP status (400, 413 or 415), a machine code and a message for
 * the client. field names the offending input when one is known. */
struct http_error {
	int status;
	const char *code;    /* "bad_request", "payload_too_large", "unsupported_media_type", ... */
	const char *message; /* static or arena string, safe to show to the client */
	const char *field;   /* may be NULL */
};

/* Percent-decoding of one component; '+' becomes a space when plus_is_space. Returns the
 * decoded length, or -1 on a malformed escape. out must hold len+1 bytes. */
long http_url_decode(char *out, const char *in, size_t len, int plus_is_space);

/* application/x-www-form-urlencoded, also used for QUERY_STRING. 0 or -1 with err set. */
int http_parse_urlencoded(struct arena *a, const char *s, size_t len,
    const struct http_limits *lim, struct kvlist *out, struct http_error *err);

/* The Cookie header (RFC 6265 cookie-string). Malformed pairs are skipped, as browsers
 * send what other sites set; returns -1 only when the limits are exceeded. */
int http_parse_cookies(struct arena *a, const char *header, const struct http_limits *lim,
    struct kvlist *out, struct http_error *err);

/* Whether an Accept header ranks JSON (application/json or a +json type) above HTML by
 * its q-values; wildcards count for neither. A browser's Accept gets HTML. */
int http_accept_prefers_json(const char *accept);

/* Extracts a parameter (e.g. "boundary", "charset") of a Content-Type value, unquoting it.
 * Returns NULL when absent. */
const char *http_content_type_param(struct arena *a, const char *content_type,
    const char *param);
/* Compares the media type of a Content-Type value, ignoring parameters and case. */
int http_content_type_is(const char *content_type, const char *media_type);

/* multipart/form-data (RFC 7578). Non-file parts go to fields, file parts to uploads. */
int http_parse_multipart(struct arena *a, const char *content_type, const char *body,
    size_t len, const struct http_limits *lim, struct kvlist *fields,
    struct http_upload **uploads, size_t *nuploads, struct http_error *err);

/* A JSON body (UTF-8, one value, an object or an array at the top). *out is a new reference
 * the caller must json_decref (the request does this at the end). Duplicate keys and
 * nesting deeper than max_json_depth are refused. With no arena to hold it, the message
 * of a failure is thread-local and valid until the thread's next call. */
int http_parse_json(const char *body, size_t len, const struct http_limits *lim,
    json_t **out, struct http_error *err);

struct http_request {
	struct arena *arena;
	const char *request_id;
	const char *method;      /* REQUEST_METHOD */
	const char *path;        /* decoded path of REQUEST_URI, else DOCUMENT_URI; no query */
	const char *raw_uri;     /* REQUEST_URI as sent */
	const char *query_string;
	const char *content_type;
	size_t content_length;
	const char *remote_addr;
	const char *host;
	const char *scheme;      /* "http" or "https" */
	const char *origin;      /* Origin header or NULL */
	const char *user_agent;
	const char *authorization;   /* Authorization header (never logged) */
	const char *sec_fetch_site;  /* Sec-Fetch-Site header */
	const char *csrf_header;     /* X-CSRF-Token header */
	const char *accept;
	int hx_request;          /* HX-Request: true */
	int wants_json;          /* path under /api/ or Accept prefers JSON */

	struct kvlist query;
	struct kvlist cookies;
	struct kvlist form;      /* urlencoded or multipart fields */
	struct http_upload *uploads;
	size_t nuploads;
	json_t *json;            /* JSON body, or NULL */
	const char *body;
	size_t body_len;

	/* Captures of the matched route, typed by the router. */
	struct kvlist params;
	int64_t user_id;         /* 0 when anonymous */
	int route_index;         /* index in the route table, -1 before routing */
};

/* Reads a CGI parameter from env, a NULL-terminated "NAME=value" array. A name made only
 * of A-Z, 0-9 and '_' ("REQUEST_METHOD", "QUERY_STRING") is looked up as is; any other
 * is a header name: http_cgi_param(env, "X-Request-Id") looks up HTTP_X_REQUEST_ID, and
 * Content-Type and Content-Length map to CONTENT_TYPE and CONTENT_LENGTH as in CGI. */
const char *http_cgi_param(char **env, const char *name);

/* Fills the request from CGI parameters (no body). Returns 0, or -1 with err (e.g. a
 * malformed query string or path); even then arena, request_id and scheme are set, so
 * the error response can be written. */
int http_request_from_cgi(struct http_request *req, struct arena *a, char **env,
    const struct http_limits *lim, struct http_error *err);

/* Parses body by req->content_type into form/uploads/json: urlencoded and JSON bodies
 * are limited by max_body, multipart by max_upload (413 beyond), a non-empty body of any
 * other media type is 415. The raw body stays in req->body. */
int http_request_parse_body(struct http_request *req, const char *body, size_t len,
    const struct http_limits *lim, struct http_error *err);

#endif
