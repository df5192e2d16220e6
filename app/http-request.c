/* http-request.c: the request built from CGI parameters, and the parsers of what clients
 * send: query strings, cookies, Content-Type parameters, urlencoded and multipart forms,
 * JSON. Every parser takes explicit lengths and enforces the limits itself. */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "arena.h"
#include "http-request.h"
#include "util.h"

const struct http_limits http_limits_default = {
	.max_body = 1024 * 1024,
	.max_upload = 25 * 1024 * 1024,
	.max_fields = 1000,
	.max_name = 256,
	.max_value = 1024 * 1024,
	.max_cookies = 64,
	.max_json_depth = 32,
};

/* RFC 2046 caps boundaries at 70 characters. */
#define HTTP_BOUNDARY_MAX 70
/* Header block of one multipart part: real ones are a few hundred bytes. */
#define HTTP_PART_HEADERS_MAX 8192
#define HTTP_METHOD_MAX 16
#define HTTP_REQUEST_ID_MAX 64
/* Longest field name quoted back in an error message. */
#define HTTP_SHOWN_NAME_MAX 64

/* The ASCII helpers below ignore the locale on purpose: HTTP syntax is ASCII. */
static int
http_lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

static int
http_is_space(int c)
{
	return c == ' ' || c == '\t';
}

static int
http_is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static int
http_is_alnum(int c)
{
	return http_is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int
http_hex_value(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* RFC 9110 tchar. */
static int
http_is_tchar(int c)
{
	return c != '\0' && (http_is_alnum(c) || strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static int
http_caseeqn(const char *a, const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (http_lower((unsigned char)a[i]) != http_lower((unsigned char)b[i]))
			return 0;
	}
	return 1;
}

/* Case-insensitive substring test of NUL-terminated strings. */

/*
 * memmem is not in C11. Candidates are found with memchr; the needles used here are at
 * most a boundary delimiter (74 bytes), so the work stays linear in the haystack.
 */
static const char *
http_memmem(const char *hay, size_t hlen, const char *needle, size_t nlen)
{
	const char *p = hay, *end = hay + hlen;

	if (nlen == 0)
		return hay;
	while ((size_t)(end - p) >= nlen) {
		p = memchr(p, needle[0], (size_t)(end - p) - nlen + 1);
		if (p == NULL)
			return NULL;
		if (memcmp(p, needle, nlen) == 0)
			return p;
		p++;
	}
	return NULL;
}

static int
http_fail(struct http_error *err, int status, const char *code, const char *message,
    const char *field)
{
	if (err != NULL) {
		err->status = status;
		err->code = code;
		err->message = message;
		err->field = field;
	}
	return -1;
}

/*
 * Field names are quoted back to the client in error messages: keep them short and
 * printable so a hostile name cannot put control bytes or megabytes into a response
 * or a log line.
 */
static const char *
http_shown_name(struct arena *a, const char *name, size_t len)
{
	size_t n = len > HTTP_SHOWN_NAME_MAX ? HTTP_SHOWN_NAME_MAX : len;
	char *s = arena_alloc(a, n + 4);

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];

		s[i] = c >= 0x20 && c < 0x7f ? (char)c : '?';
	}
	if (len > n)
		memcpy(s + n, "...", 4);
	else
		s[n] = '\0';
	return s;
}

static void
http_sanitize(char *s)
{
	for (; *s != '\0'; s++) {
		if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
			*s = '?';
	}
}

/* Appends without copying: the parsers hand over strings already in the arena. */
static void
kvlist_push(struct kvlist *l, struct arena *a, const char *name, const char *value,
    size_t value_len)
{
	if (l->len == l->cap) {
		size_t ncap = l->cap != 0 ? l->cap * 2 : 8;

		if (ncap > SIZE_MAX / sizeof(*l->items))
			fatal("kvlist of %zu items overflows", ncap);
		l->items = arena_realloc(a, l->items, l->cap * sizeof(*l->items),
		    ncap * sizeof(*l->items));
		l->cap = ncap;
	}
	l->items[l->len].name = name;
	l->items[l->len].value = value;
	l->items[l->len].value_len = value_len;
	l->len++;
}

void
kvlist_add(struct kvlist *l, struct arena *a, const char *name, const char *value,
    size_t value_len)
{
	kvlist_push(l, a, arena_strdup(a, name), arena_strndup(a, value, value_len), value_len);
}

const char *
kvlist_get(const struct kvlist *l, const char *name)
{
	for (size_t i = 0; i < l->len; i++) {
		if (strcmp(l->items[i].name, name) == 0)
			return l->items[i].value;
	}
	return NULL;
}

size_t
kvlist_count(const struct kvlist *l, const char *name)
{
	size_t n = 0;

	for (size_t i = 0; i < l->len; i++) {
		if (strcmp(l->items[i].name, name) == 0)
			n++;
	}
	return n;
}

/* Decoding never lengthens the input, so out may be in itself. */
long
http_url_decode(char *out, const char *in, size_t len, int plus_is_space)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		char c = in[i];

		if (c == '%') {
			int hi, lo;

			if (len - i < 3)
				return -1;
			hi = http_hex_value((unsigned char)in[i + 1]);
			lo = http_hex_value((unsigned char)in[i + 2]);
			if (hi < 0 || lo < 0)
				return -1;
			out[o++] = (char)(hi << 4 | lo);
			i += 2;
		} else if (c == '+' && plus_is_space)
			out[o++] = ' ';
		else
			out[o++] = c;
	}
	out[o] = '\0';
	return (long)o;
}

/*
 * Limits: more than max_fields pairs is 413 too_many_fields; a value longer than
 * max_value once decoded is 413 payload_too_large; a name longer than max_name, or with
 * a NUL byte, is 400 bad_request (no form has such names: the request is malformed
 * rather than large). Empty names ("=x") are kept, as browsers' URLSearchParams does.
 */
int
http_parse_urlencoded(struct arena *a, const char *s, size_t len,
    const struct http_limits *lim, struct kvlist *out, struct http_error *err)
{
	const char *p = s, *end;
	size_t count = 0;

	if (len == 0)
		return 0;
	end = s + len;
	while (p < end) {
		const char *amp = memchr(p, '&', (size_t)(end - p));
		const char *pe = amp != NULL ? amp : end;
		const char *eq, *ne, *vs, *shown;
		char *name, *value;
		long nlen, vlen;

		if (pe == p) {
			p = pe + 1;
			continue;
		}
		if (++count > lim->max_fields)
			return http_fail(err, 413, "too_many_fields", "too many fields", NULL);

		eq = memchr(p, '=', (size_t)(pe - p));
		ne = eq != NULL ? eq : pe;
		name = arena_alloc(a, (size_t)(ne - p) + 1);
		nlen = http_url_decode(name, p, (size_t)(ne - p), 1);
		if (nlen < 0) {
			return http_fail(err, 400, "bad_request",
			    "malformed percent-encoding in a field name", NULL);
		}
		if (memchr(name, '\0', (size_t)nlen) != NULL) {
			return http_fail(err, 400, "bad_request",
			    "a field name contains a NUL byte", NULL);
		}
		if ((size_t)nlen > lim->max_name) {
			shown = http_shown_name(a, name, (size_t)nlen);
			return http_fail(err, 400, "bad_request",
			    arena_printf(a, "field name \"%s\" is too long", shown), NULL);
		}

		vs = eq != NULL ? eq + 1 : pe;
		value = arena_alloc(a, (size_t)(pe - vs) + 1);
		vlen = http_url_decode(value, vs, (size_t)(pe - vs), 1);
		if (vlen < 0) {
			shown = http_shown_name(a, name, (size_t)nlen);
			return http_fail(err, 400, "bad_request",
			    arena_printf(a, "malformed percent-encoding in field \"%s\"", shown),
			    shown);
		}
		if ((size_t)vlen > lim->max_value) {
			shown = http_shown_name(a, name, (size_t)nlen);
			return http_fail(err, 413, "payload_too_large",
			    arena_printf(a, "field \"%s\" is too large", shown), shown);
		}
		kvlist_push(out, a, name, value, (size_t)vlen);
		p = amp != NULL ? amp + 1 : end;
	}
	return 0;
}

/*
 * Browsers send back whatever any site on the domain set, so pairs that are not
 * name=value with a token name are skipped rather than failing the request. Names
 * longer than max_name are skipped too. Values are kept as set: no percent-decoding.
 */
int
http_parse_cookies(struct arena *a, const char *header, const struct http_limits *lim,
    struct kvlist *out, struct http_error *err)
{
	const char *p = header;
	size_t count = 0;

	if (header == NULL)
		return 0;
	while (*p != '\0') {
		const char *semi = strchr(p, ';');
		const char *pe = semi != NULL ? semi : p + strlen(p);
		const char *ns = p, *ne, *vs, *ve, *eq, *c;

		p = semi != NULL ? semi + 1 : pe;
		while (ns < pe && http_is_space(*ns))
			ns++;
		eq = memchr(ns, '=', (size_t)(pe - ns));
		if (eq == NULL)
			continue;
		ne = eq;
		while (ne > ns && http_is_space(ne[-1]))
			ne--;
		if (ne == ns || (size_t)(ne - ns) > lim->max_name)
			continue;
		for (c = ns; c < ne && http_is_tchar((unsigned char)*c); c++)
			;
		if (c != ne)
			continue;

		vs = eq + 1;
		ve = pe;
		while (vs < ve && http_is_space(*vs))
			vs++;
		while (ve > vs && http_is_space(ve[-1]))
			ve--;
		if (ve - vs >= 2 && vs[0] == '"' && ve[-1] == '"') {
			vs++;
			ve--;
		}
		if (++count > lim->max_cookies) {
			return http_fail(err, 400, "too_many_cookies", "too many cookies",
			    NULL);
		}
		kvlist_push(out, a, arena_strndup(a, ns, (size_t)(ne - ns)),
		    arena_strndup(a, vs, (size_t)(ve - vs)), (size_t)(ve - vs));
	}
	return 0;
}

/*
 * Finds a parameter in a header value of the form "type; name=value; name="value"".
 * Parsing stops at the first malformed parameter: what follows cannot be trusted to be
 * split where the sender meant. In a quoted-string a backslash escapes the next byte;
 * with dquote_only it escapes only a DQUOTE, for Content-Disposition, where browsers
 * send Windows paths with raw backslashes and escape quotes as %22 instead.
 */
static const char *
http_header_param(struct arena *a, const char *s, size_t len, const char *param,
    int dquote_only)
{
	const char *p, *end = s + len;
	size_t plen = strlen(param);

	p = memchr(s, ';', len);
	if (p == NULL)
		return NULL;
	while (p < end) {
		const char *ns, *ne, *vs, *ve;
		int quoted = 0, match;

		p++; /* the ';' */
		while (p < end && http_is_space(*p))
			p++;
		if (p == end)
			break;
		if (*p == ';')
			continue;
		ns = p;
		while (p < end && http_is_tchar((unsigned char)*p))
			p++;
		ne = p;
		while (p < end && http_is_space(*p))
			p++;
		if (ne == ns || p == end || *p != '=')
			return NULL;
		p++;
		while (p < end && http_is_space(*p))
			p++;
		if (p < end && *p == '"') {
			quoted = 1;
			vs = ++p;
			while (p < end && *p != '"') {
				if (*p == '\\' && end - p >= 2)
					p++;
				p++;
			}
			if (p == end)
				return NULL;
			ve = p++;
		} else {
			/* Lenient: senders leave '=' or '/' unquoted in boundaries. */
			vs = p;
			while (p < end && *p != ';' && !http_is_space(*p) &&
			    (unsigned char)*p >= 0x20 && *p != 0x7f)
				p++;
			ve = p;
		}
		while (p < end && http_is_space(*p))
			p++;
		if (p < end && *p != ';')
			return NULL;

		match = (size_t)(ne - ns) == plen && http_caseeqn(ns, param, plen);
		if (!match)
			continue;
		if (!quoted)
			return arena_strndup(a, vs, (size_t)(ve - vs));
		else {
			char *out = arena_alloc(a, (size_t)(ve - vs) + 1), *o = out;

			for (const char *q = vs; q < ve; q++) {
				if (*q == '\\' && q + 1 < ve &&
				    (!dquote_only || q[1] == '"'))
					q++;
				*o++ = *q;
			}
			*o = '\0';
			return out;
		}
	}
	return NULL;
}

const char *
http_content_type_param(struct arena *a, const char *content_type, const char *param)
{
	if (content_type == NULL)
		return NULL;
	return http_header_param(a, content_type, strlen(content_type), param, 0);
}

/* The media type of a Content-Type value: *len bytes from the returned pointer. */
static const char *
http_media_type(const char *content_type, size_t *len)
{
	const char *s = content_type, *e;

	while (http_is_space(*s))
		s++;
	for (e = s; *e != '\0' && *e != ';'; e++)
		;
	while (e > s && http_is_space(e[-1]))
		e--;
	*len = (size_t)(e - s);
	return s;
}

int
http_content_type_is(const char *content_type, const char *media_type)
{
	const char *s;
	size_t len;

	if (content_type == NULL || media_type == NULL)
		return 0;
	s = http_media_type(content_type, &len);
	return len == strlen(media_type) && http_caseeqn(s, media_type, len);
}

/* application/json and the structured-syntax suffix of RFC 6839 (e.g. merge-patch+json). */
static int
http_content_type_is_json(const char *content_type)
{
	const char *s;
	size_t len;

	if (http_content_type_is(content_type, "application/json"))
		return 1;
	if (content_type == NULL)
		return 0;
	s = http_media_type(content_type, &len);
	return len > 5 && memchr(s, '/', len) != NULL && http_caseeqn(s + len - 5, "+json", 5);
}

/* RFC 2046 bchars; the last one may not be a space. */
static int
http_boundary_valid(const char *b, size_t len)
{
	if (len == 0 || len > HTTP_BOUNDARY_MAX || b[len - 1] == ' ')
		return 0;
	for (size_t i = 0; i < len; i++) {
		if (!http_is_alnum((unsigned char)b[i]) &&
		    (b[i] == '\0' || strchr("'()+_,-./:=? ", b[i]) == NULL))
			return 0;
	}
	return 1;
}

struct http_part {
	const char *disposition;
	size_t disposition_len;
	const char *content_type;
	size_t content_type_len;
};

/*
 * Splits a part's header block (CRLF-separated lines, without the blank line) and keeps
 * the two headers form-data uses. Control bytes are refused: a lone CR or LF inside a
 * line would let the sender's idea of the headers differ from ours.
 */
static int
http_part_headers(const char *p, const char *end, struct http_part *part)
{
	memset(part, 0, sizeof(*part));
	while (p < end) {
		const char *le = http_memmem(p, (size_t)(end - p), "\r\n", 2);
		const char *colon, *ne, *vs, *ve;

		if (le == NULL)
			le = end;
		for (const char *c = p; c < le; c++) {
			if (((unsigned char)*c < 0x20 && *c != '\t') || *c == 0x7f)
				return -1;
		}
		colon = memchr(p, ':', (size_t)(le - p));
		if (colon == NULL)
			return -1;
		for (ne = p; ne < colon && http_is_tchar((unsigned char)*ne); ne++)
			;
		if (ne == p || ne != colon)
			return -1;
		vs = colon + 1;
		ve = le;
		while (vs < ve && http_is_space(*vs))
			vs++;
		while (ve > vs && http_is_space(ve[-1]))
			ve--;
		if (colon - p == 19 && http_caseeqn(p, "Content-Disposition", 19) &&
		    part->disposition == NULL) {
			part->disposition = vs;
			part->disposition_len = (size_t)(ve - vs);
		} else if (colon - p == 12 && http_caseeqn(p, "Content-Type", 12) &&
		    part->content_type == NULL) {
			part->content_type = vs;
			part->content_type_len = (size_t)(ve - vs);
		}
		p = le == end ? end : le + 2;
	}
	return 0;
}

static void
http_upload_push(struct arena *a, struct http_upload **uploads, size_t *n, size_t *cap,
    const struct http_upload *u)
{
	if (*n == *cap) {
		size_t ncap = *cap != 0 ? *cap * 2 : 4;

		*uploads = arena_realloc(a, *uploads, *cap * sizeof(**uploads),
		    ncap * sizeof(**uploads));
		*cap = ncap;
	}
	(*uploads)[(*n)++] = *u;
}

/* Adds one part to fields or uploads after checking its headers and the limits. */
static int
http_multipart_part(struct arena *a, const char *hs, const char *he, const char *data,
    size_t len, const struct http_limits *lim, struct kvlist *fields,
    struct http_upload **uploads, size_t *nuploads, size_t *ucap, struct http_error *err)
{
	struct http_part part;
	const char *type, *name, *filename, *shown;
	size_t type_len, name_len;

	if (http_part_headers(hs, he, &part) == -1) {
		return http_fail(err, 400, "bad_request",
		    "malformed multipart: invalid part header", NULL);
	}
	if (part.disposition == NULL) {
		return http_fail(err, 400, "bad_request",
		    "malformed multipart: part without Content-Disposition", NULL);
	}
	type = part.disposition;
	for (type_len = 0; type_len < part.disposition_len && type[type_len] != ';'; type_len++)
		;
	while (type_len > 0 && http_is_space(type[type_len - 1]))
		type_len--;
	if (type_len != 9 || !http_caseeqn(type, "form-data", 9)) {
		return http_fail(err, 400, "bad_request",
		    "malformed multipart: part is not form-data", NULL);
	}
	name = http_header_param(a, part.disposition, part.disposition_len, "name", 1);
	if (name == NULL) {
		return http_fail(err, 400, "bad_request",
		    "malformed multipart: part without a name", NULL);
	}
	name_len = strlen(name);
	if (name_len > lim->max_name) {
		shown = http_shown_name(a, name, name_len);
		return http_fail(err, 400, "bad_request",
		    arena_printf(a, "field name \"%s\" is too long", shown), NULL);
	}
	filename = http_header_param(a, part.disposition, part.disposition_len, "filename", 1);

	if (filename != NULL) {
		struct http_upload u;
		const char *base = filename;

		/* Old browsers send the whole client path, with either separator. */
		for (const char *c = filename; *c != '\0'; c++) {
			if (*c == '/' || *c == '\\')
				base = c + 1;
		}
		/* What is left is used as a file name: "." and ".." cannot be one. */
		if (strcmp(base, ".") == 0 || strcmp(base, "..") == 0)
			base = "";
		u.field = name;
		u.filename = base;
		if (part.content_type != NULL && part.content_type_len > 0) {
			u.content_type = arena_strndup(a, part.content_type,
			    part.content_type_len);
		} else
			u.content_type = "application/octet-stream";
		u.data = data;
		u.len = len;
		http_upload_push(a, uploads, nuploads, ucap, &u);
	} else {
		if (len > lim->max_value) {
			shown = http_shown_name(a, name, name_len);
			return http_fail(err, 413, "payload_too_large",
			    arena_printf(a, "field \"%s\" is too large", shown), shown);
		}
		kvlist_push(fields, a, name, arena_strndup(a, data, len), len);
	}
	return 0;
}

/*
 * A delimiter is one only when "--" or optional padding and CRLF follow it: content
 * may contain "\r\n--boundaryX". The end of the body counts as a delimiter's end so
 * that a truncated body is reported as missing its closing boundary.
 */
static int
http_delimiter_ends(const char *p, const char *end)
{
	if (end - p >= 2 && p[0] == '-' && p[1] == '-')
		return 1;
	while (p < end && http_is_space(*p))
		p++;
	if (p == end)
		return 1;
	if (end - p == 1)
		return *p == '\r';
	return p[0] == '\r' && p[1] == '\n';
}

static const char *
http_multipart_next(const char *p, const char *end, const char *delim, size_t dlen)
{
	const char *q;

	while ((q = http_memmem(p, (size_t)(end - p), delim, dlen)) != NULL) {
		if (http_delimiter_ends(q + dlen, end))
			return q;
		p = q + 1;
	}
	return NULL;
}

int
http_parse_multipart(struct arena *a, const char *content_type, const char *body,
    size_t len, const struct http_limits *lim, struct kvlist *fields,
    struct http_upload **uploads, size_t *nuploads, struct http_error *err)
{
	const char *boundary, *p, *end;
	char *delim;
	size_t blen, dlen, count = 0, ucap = 0;

	*uploads = NULL;
	*nuploads = 0;
	if (body == NULL)
		body = "";
	end = body + len;
	if (len > lim->max_upload) {
		return http_fail(err, 413, "payload_too_large", "request body is too large",
		    NULL);
	}
	boundary = http_content_type_param(a, content_type, "boundary");
	if (boundary == NULL || *boundary == '\0') {
		return http_fail(err, 400, "bad_request",
		    "malformed multipart: no boundary in Content-Type", NULL);
	}
	blen = strlen(boundary);
	if (!http_boundary_valid(boundary, blen)) {
		return http_fail(err, 400, "bad_request",
		    "malformed multipart: invalid boundary", NULL);
	}
	/* "\r\n--boundary": the CRLF before a delimiter belongs to the delimiter. */
	delim = arena_printf(a, "\r\n--%s", boundary);
	dlen = blen + 4;

	if (len >= dlen - 2 && memcmp(body, delim + 2, dlen - 2) == 0 &&
	    http_delimiter_ends(body + dlen - 2, end))
		p = body + dlen - 2;
	else {
		p = http_multipart_next(body, end, delim, dlen);
		if (p == NULL) {
			return http_fail(err, 400, "bad_request",
			    "malformed multipart: no boundary in body", NULL);
		}
		p += dlen;
	}

	for (;;) {
		const char *hs, *he, *data, *next;

		if (end - p >= 2 && p[0] == '-' && p[1] == '-')
			return 0; /* the rest is the epilogue */
		while (p < end && http_is_space(*p))
			p++;
		if (end - p < 2) {
			return http_fail(err, 400, "bad_request",
			    "malformed multipart: no closing boundary", NULL);
		}
		if (p[0] != '\r' || p[1] != '\n') {
			return http_fail(err, 400, "bad_request",
			    "malformed multipart: garbage after boundary", NULL);
		}
		p += 2;

		if (end - p >= 2 && p[0] == '\r' && p[1] == '\n') {
			hs = he = p;
			data = p + 2;
		} else {
			size_t window = (size_t)(end - p);

			if (window > HTTP_PART_HEADERS_MAX + 4)
				window = HTTP_PART_HEADERS_MAX + 4;
			he = http_memmem(p, window, "\r\n\r\n", 4);
			if (he == NULL) {
				if ((size_t)(end - p) > HTTP_PART_HEADERS_MAX) {
					return http_fail(err, 400, "bad_request",
					    "malformed multipart: part headers too large",
					    NULL);
				}
				return http_fail(err, 400, "bad_request",
				    "malformed multipart: no closing boundary", NULL);
			}
			hs = p;
			data = he + 4;
		}
		next = http_multipart_next(data, end, delim, dlen);
		if (next == NULL) {
			return http_fail(err, 400, "bad_request",
			    "malformed multipart: no closing boundary", NULL);
		}
		if (++count > lim->max_fields) {
			return http_fail(err, 413, "too_many_fields", "too many fields",
			    NULL);
		}
		if (http_multipart_part(a, hs, he, data, (size_t)(next - data), lim, fields,
		    uploads, nuploads, &ucap, err) == -1)
			return -1;
		p = next + dlen;
	}
}

/*
 * Counts nesting before jansson parses anything, so a deep document is refused without
 * building it. Brackets inside strings do not count; on invalid JSON the count may be
 * off, which only changes which 400 the client gets.
 */
static int
http_json_too_deep(const char *s, size_t len, size_t max)
{
	size_t depth = 0;
	int in_string = 0;

	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (in_string) {
			if (c == '\\')
				i++;
			else if (c == '"')
				in_string = 0;
			continue;
		}
		switch (c) {
		case '"':
			in_string = 1;
			break;
		case '[':
		case '{':
			if (++depth > max)
				return 1;
			break;
		case ']':
		case '}':
			if (depth > 0)
				depth--;
			break;
		default:
			break;
		}
	}
	return 0;
}

/* No arena here: the message of a failure lives in the calling thread until its next call. */
static _Thread_local char http_json_message[JSON_ERROR_TEXT_LENGTH + 64];

int
http_parse_json(const char *body, size_t len, const struct http_limits *lim,
    json_t **out, struct http_error *err)
{
	json_error_t jerr;
	json_t *j;

	*out = NULL;
	if (len > lim->max_body) {
		return http_fail(err, 413, "payload_too_large", "request body is too large",
		    NULL);
	}
	if (body == NULL)
		body = "";
	if (http_json_too_deep(body, len, lim->max_json_depth)) {
		snprintf(http_json_message, sizeof(http_json_message),
		    "JSON nested deeper than %zu levels", lim->max_json_depth);
		return http_fail(err, 400, "invalid_json", http_json_message, NULL);
	}
	/* Without JSON_DECODE_ANY the top level must be an object or an array. */
	j = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (j == NULL) {
		snprintf(http_json_message, sizeof(http_json_message),
		    "invalid JSON at line %d, column %d: %s", jerr.line, jerr.column, jerr.text);
		http_sanitize(http_json_message);
		return http_fail(err, 400, "invalid_json", http_json_message, NULL);
	}
	*out = j;
	return 0;
}

/*
 * CGI passes a header as HTTP_ plus its name upper-cased with '-' as '_', except
 * Content-Type and Content-Length, which are CONTENT_TYPE and CONTENT_LENGTH. A name
 * made only of A-Z, 0-9 and '_' is taken to be a CGI variable already.
 */
const char *
http_cgi_param(char **env, const char *name)
{
	char key[160];
	const char *k = name;
	size_t klen;
	int cgi = 1;

	if (env == NULL || name == NULL || *name == '\0')
		return NULL;
	for (const char *c = name; *c != '\0'; c++) {
		if (!((*c >= 'A' && *c <= 'Z') || http_is_digit(*c) || *c == '_')) {
			cgi = 0;
			break;
		}
	}
	if (!cgi) {
		size_t n = strlen(name);

		if (util_strcaseeq(name, "Content-Type"))
			k = "CONTENT_TYPE";
		else if (util_strcaseeq(name, "Content-Length"))
			k = "CONTENT_LENGTH";
		else {
			if (n + 6 > sizeof(key))
				return NULL;
			memcpy(key, "HTTP_", 5);
			for (size_t i = 0; i < n; i++) {
				char c = name[i];

				if (c == '-')
					c = '_';
				else if (c >= 'a' && c <= 'z')
					c = (char)(c - ('a' - 'A'));
				key[5 + i] = c;
			}
			key[5 + n] = '\0';
			k = key;
		}
	}
	klen = strlen(k);
	for (char **e = env; *e != NULL; e++) {
		if (strncmp(*e, k, klen) == 0 && (*e)[klen] == '=')
			return *e + klen + 1;
	}
	return NULL;
}

/* Like http_cgi_param, but an empty value counts as absent (nginx passes them empty). */
static const char *
http_cgi_nonempty(char **env, const char *name)
{
	const char *v = http_cgi_param(env, name);

	return v != NULL && *v != '\0' ? v : NULL;
}

static int
http_parse_length(const char *s, size_t *out)
{
	size_t v = 0;

	for (; *s != '\0'; s++) {
		size_t d;

		if (!http_is_digit(*s))
			return -1;
		d = (size_t)(*s - '0');
		if (v > (SIZE_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

static int
http_request_id_valid(const char *s)
{
	size_t n = 0;

	for (; s[n] != '\0'; n++) {
		if (n >= HTTP_REQUEST_ID_MAX || !(http_is_alnum(s[n]) || s[n] == '-'))
			return 0;
	}
	return n > 0;
}

static int
http_request_method_valid(const char *s)
{
	size_t n = 0;

	for (; s[n] != '\0'; n++) {
		if (n >= HTTP_METHOD_MAX || s[n] < 'A' || s[n] > 'Z')
			return 0;
	}
	return n > 0;
}

/*
 * The path comes from REQUEST_URI, as sent, decoded here once. DOCUMENT_URI is used
 * only without REQUEST_URI and as is: nginx has decoded and normalised it already, and
 * decoding it again would turn "%2541" into "A".
 */
static int
http_request_set_path(struct http_request *req, char **env, struct http_error *err)
{
	const char *uri = req->raw_uri, *q;
	char *path;
	size_t plen;
	long n;

	if (uri == NULL) {
		const char *doc = http_cgi_nonempty(env, "DOCUMENT_URI");

		if (doc == NULL || *doc != '/') {
			return http_fail(err, 400, "bad_request", "request path is missing",
			    NULL);
		}
		req->path = doc;
		return 0;
	}
	/* Absolute-form request targets (RFC 9112 3.2.2) carry scheme and authority. */
	if (http_caseeqn(uri, "http://", 7) || http_caseeqn(uri, "https://", 8)) {
		uri = strstr(uri, "//") + 2;
		uri += strcspn(uri, "/?#");
		if (*uri != '/') {
			req->path = "/";
			if (*uri == '?' && req->query_string == NULL)
				req->query_string = uri + 1;
			return 0;
		}
	}
	q = strchr(uri, '?');
	plen = q != NULL ? (size_t)(q - uri) : strlen(uri);
	if (plen == 0 || uri[0] != '/') {
		return http_fail(err, 400, "bad_request", "request path must start with /",
		    NULL);
	}
	path = arena_alloc(req->arena, plen + 1);
	n = http_url_decode(path, uri, plen, 0);
	if (n < 0) {
		return http_fail(err, 400, "bad_request",
		    "malformed percent-encoding in the request path", NULL);
	}
	if (memchr(path, '\0', (size_t)n) != NULL) {
		return http_fail(err, 400, "bad_request",
		    "the request path contains a NUL byte", NULL);
	}
	req->path = path;
	if (q != NULL && req->query_string == NULL)
		req->query_string = q + 1;
	return 0;
}

/* The q-value of one media range's parameters ("; q=0.5"), 1 when absent, 0 when
 * malformed, as RFC 9110 section 12.4.2 allows at most three decimals. */
static double
http_accept_q(const char *params, size_t len)
{
	const char *p = params, *end = params + len;

	while (p < end) {
		const char *semi = memchr(p, ';', (size_t)(end - p));
		const char *stop = semi != NULL ? semi : end;

		while (p < stop && (*p == ' ' || *p == '\t'))
			p++;
		if (stop - p >= 2 && (p[0] == 'q' || p[0] == 'Q') && p[1] == '=') {
			double q = 0, scale = 1;
			int digits = 0;

			p += 2;
			if (p < stop && (*p == '0' || *p == '1'))
				q = *p++ - '0';
			else
				return 0;
			if (p < stop && *p == '.') {
				for (p++; p < stop && *p >= '0' && *p <= '9' && digits < 3; p++) {
					scale /= 10;
					q += (*p - '0') * scale;
					digits++;
				}
			}
			return q > 1 ? 1 : q;
		}
		p = stop + (stop < end);
	}
	return 1;
}

int
http_accept_prefers_json(const char *accept)
{
	double json_q = 0, html_q = 0;
	const char *p = accept;

	while (*p != '\0') {
		const char *comma = strchr(p, ',');
		size_t len = comma != NULL ? (size_t)(comma - p) : strlen(p);
		const char *semi = memchr(p, ';', len);
		size_t tlen = semi != NULL ? (size_t)(semi - p) : len;
		double q;

		while (tlen > 0 && (*p == ' ' || *p == '\t')) {
			p++;
			tlen--;
			len--;
		}
		while (tlen > 0 && (p[tlen - 1] == ' ' || p[tlen - 1] == '\t'))
			tlen--;
		q = semi != NULL ? http_accept_q(semi + 1, (size_t)(p + len - semi - 1)) : 1;
		if ((tlen == 16 && strncasecmp(p, "application/json", 16) == 0) ||
		    (tlen > 17 && strncasecmp(p, "application/", 12) == 0 &&
		    strncasecmp(p + tlen - 5, "+json", 5) == 0)) {
			if (q > json_q)
				json_q = q;
		} else if (tlen == 9 && strncasecmp(p, "text/html", 9) == 0) {
			if (q > html_q)
				html_q = q;
		}
		if (comma == NULL)
			break;
		p = comma + 1;
	}
	return json_q > 0 && json_q > html_q;
}

int
http_request_from_cgi(struct http_request *req, struct arena *a, char **env,
    const struct http_limits *lim, struct http_error *err)
{
	const char *v;

	memset(req, 0, sizeof(*req));
	req->arena = a;
	req->route_index = -1;
	req->scheme = "http";

	/* First, so that even a refused request can be traced in the logs. */
	v = http_cgi_param(env, "REQUEST_ID");
	if (v != NULL && http_request_id_valid(v))
		req->request_id = v;
	else {
		char *id = arena_alloc(a, 33);

		util_random_hex(id, 16);
		req->request_id = id;
	}

	v = http_cgi_param(env, "HTTPS");
	if ((v != NULL && util_strcaseeq(v, "on")) ||
	    ((v = http_cgi_param(env, "REQUEST_SCHEME")) != NULL && util_strcaseeq(v, "https")))
		req->scheme = "https";
	req->remote_addr = http_cgi_nonempty(env, "REMOTE_ADDR");
	req->host = http_cgi_nonempty(env, "HTTP_HOST");
	req->origin = http_cgi_nonempty(env, "HTTP_ORIGIN");
	req->user_agent = http_cgi_nonempty(env, "HTTP_USER_AGENT");
	req->authorization = http_cgi_nonempty(env, "HTTP_AUTHORIZATION");
	req->sec_fetch_site = http_cgi_nonempty(env, "HTTP_SEC_FETCH_SITE");
	req->csrf_header = http_cgi_nonempty(env, "HTTP_X_CSRF_TOKEN");
	req->accept = http_cgi_nonempty(env, "HTTP_ACCEPT");
	v = http_cgi_param(env, "HTTP_HX_REQUEST");
	req->hx_request = v != NULL && strcmp(v, "true") == 0;
	req->content_type = http_cgi_nonempty(env, "CONTENT_TYPE");
	req->raw_uri = http_cgi_nonempty(env, "REQUEST_URI");
	req->query_string = http_cgi_param(env, "QUERY_STRING");

	req->method = http_cgi_param(env, "REQUEST_METHOD");
	if (req->method == NULL || !http_request_method_valid(req->method)) {
		req->method = NULL;
		return http_fail(err, 400, "bad_request", "invalid request method", NULL);
	}
	if (http_request_set_path(req, env, err) == -1)
		return -1;
	if (req->query_string == NULL)
		req->query_string = "";
	req->wants_json = strncmp(req->path, "/api/", 5) == 0 || strcmp(req->path, "/api") == 0 ||
	    (req->accept != NULL && http_accept_prefers_json(req->accept));

	v = http_cgi_nonempty(env, "CONTENT_LENGTH");
	if (v != NULL && http_parse_length(v, &req->content_length) == -1) {
		return http_fail(err, 400, "bad_request", "invalid Content-Length",
		    "Content-Length");
	}
	if (http_parse_urlencoded(a, req->query_string, strlen(req->query_string), lim,
	    &req->query, err) == -1)
		return -1;
	return http_parse_cookies(a, http_cgi_param(env, "HTTP_COOKIE"), lim, &req->cookies,
	    err);
}

int
http_request_parse_body(struct http_request *req, const char *body, size_t len,
    const struct http_limits *lim, struct http_error *err)
{
	const char *ct = req->content_type;

	req->body = body;
	req->body_len = len;
	if (len == 0)
		return 0;
	if (ct == NULL || *ct == '\0') {
		return http_fail(err, 415, "unsupported_media_type",
		    "a request body needs a Content-Type", NULL);
	}
	if (http_content_type_is(ct, "application/x-www-form-urlencoded")) {
		if (len > lim->max_body) {
			return http_fail(err, 413, "payload_too_large",
			    "request body is too large", NULL);
		}
		return http_parse_urlencoded(req->arena, body, len, lim, &req->form, err);
	}
	if (http_content_type_is(ct, "multipart/form-data")) {
		return http_parse_multipart(req->arena, ct, body, len, lim, &req->form,
		    &req->uploads, &req->nuploads, err);
	}
	if (http_content_type_is_json(ct)) {
		if (http_parse_json(body, len, lim, &req->json, err) == -1) {
			if (err != NULL)
				err->message = arena_strdup(req->arena, err->message);
			return -1;
		}
		return 0;
	}
	return http_fail(err, 415, "unsupported_media_type",
	    "unsupported Content-Type for a request body", NULL);
}
