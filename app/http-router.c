/* http-router.c: compiles the route table's patterns once at start-up and matches a
 * request's method and path against them, checking each capture's type. */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http-router.h"
#include "util.h"

static const struct {
	const char *name;
	enum capture_type type;
} capture_types[] = {
	{ "int", CAPTURE_INT },
	{ "uuid", CAPTURE_UUID },
	{ "slug", CAPTURE_SLUG },
	{ "str", CAPTURE_STR },
};

static int
router_compile_one(struct route_compiled *rc, const struct route *rt, size_t index,
    char *err, size_t errlen)
{
	const char *p = rt->pattern;
	size_t cap = 4;

	rc->route = rt;
	rc->nsegments = 0;
	rc->segments = xcalloc(cap, sizeof(*rc->segments));
	if (p[0] != '/') {
		snprintf(err, errlen, "route %zu %s: pattern must start with /", index, p);
		return -1;
	}
	if (rt->method == NULL || rt->handler == NULL) {
		snprintf(err, errlen, "route %zu %s: method and handler are required", index, p);
		return -1;
	}
	p++;
	while (*p != '\0') {
		const char *end = strchr(p, '/');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		struct route_segment *s;

		if (rc->nsegments == cap) {
			cap *= 2;
			rc->segments = xreallocarray(rc->segments, cap, sizeof(*rc->segments));
		}
		s = &rc->segments[rc->nsegments++];
		memset(s, 0, sizeof(*s));
		if (len == 0) {
			snprintf(err, errlen, "route %zu %s: empty path segment", index, rt->pattern);
			return -1;
		}
		if (p[0] == '{') {
			const char *colon = memchr(p, ':', len);
			int found = 0;

			if (p[len - 1] != '}' || colon == NULL || colon == p + 1) {
				snprintf(err, errlen, "route %zu %s: a capture is {name:type}", index,
				    rt->pattern);
				return -1;
			}
			s->name = xstrndup(p + 1, (size_t)(colon - p - 1));
			for (size_t i = 0; i < MR_ARRAY_LEN(capture_types); i++) {
				size_t tl = strlen(capture_types[i].name);

				if ((size_t)(p + len - 1 - colon - 1) == tl &&
				    strncmp(colon + 1, capture_types[i].name, tl) == 0) {
					s->type = capture_types[i].type;
					found = 1;
				}
			}
			if (!found) {
				snprintf(err, errlen, "route %zu %s: unknown capture type", index,
				    rt->pattern);
				return -1;
			}
		} else {
			if (memchr(p, '{', len) != NULL || memchr(p, '}', len) != NULL) {
				snprintf(err, errlen, "route %zu %s: braces inside a literal segment",
				    index, rt->pattern);
				return -1;
			}
			s->literal = xstrndup(p, len);
		}
		p += len;
		if (*p == '/') {
			p++;
			if (*p == '\0') {
				snprintf(err, errlen, "route %zu %s: trailing slash", index,
				    rt->pattern);
				return -1;
			}
		}
	}
	return 0;
}

int
http_router_compile(struct router *r, const struct route *table, size_t n, char *err,
    size_t errlen)
{
	r->routes = xcalloc(n, sizeof(*r->routes));
	r->nroutes = n;
	for (size_t i = 0; i < n; i++) {
		if (router_compile_one(&r->routes[i], &table[i], i, err, errlen) == -1) {
			http_router_free(r);
			return -1;
		}
		for (size_t j = 0; j < i; j++) {
			if (strcmp(table[j].pattern, table[i].pattern) == 0 &&
			    strcmp(table[j].method, table[i].method) == 0) {
				snprintf(err, errlen, "route %zu %s %s: duplicate of route %zu", i,
				    table[i].method, table[i].pattern, j);
				http_router_free(r);
				return -1;
			}
		}
	}
	return 0;
}

void
http_router_free(struct router *r)
{
	for (size_t i = 0; i < r->nroutes; i++) {
		struct route_compiled *rc = &r->routes[i];

		for (size_t j = 0; rc->segments != NULL && j < rc->nsegments; j++) {
			free(rc->segments[j].literal);
			free(rc->segments[j].name);
		}
		free(rc->segments);
	}
	free(r->routes);
	r->routes = NULL;
	r->nroutes = 0;
}

static int
router_capture_ok(enum capture_type t, const char *s, size_t len)
{
	switch (t) {
	case CAPTURE_INT:
		/* A positive id without leading zeros that fits in int64. */
		if (len == 0 || len > 18 || s[0] == '0')
			return 0;
		for (size_t i = 0; i < len; i++) {
			if (!isdigit((unsigned char)s[i]))
				return 0;
		}
		return 1;
	case CAPTURE_UUID:
		if (len != 36)
			return 0;
		for (size_t i = 0; i < len; i++) {
			if (i == 8 || i == 13 || i == 18 || i == 23) {
				if (s[i] != '-')
					return 0;
			} else if (!isxdigit((unsigned char)s[i])) {
				return 0;
			}
		}
		return 1;
	case CAPTURE_SLUG:
		if (len == 0 || len > 64)
			return 0;
		for (size_t i = 0; i < len; i++) {
			if (!(islower((unsigned char)s[i]) || isdigit((unsigned char)s[i]) ||
			    s[i] == '-' || s[i] == '_'))
				return 0;
		}
		return 1;
	case CAPTURE_STR:
		return len > 0 && len <= 1024 && memchr(s, '\0', len) == NULL;
	}
	return 0;
}

/* Whether the path's segments fit the compiled pattern; captures go to params if given. */
static int
router_path_matches(const struct route_compiled *rc, const char *path, struct arena *a,
    struct kvlist *params)
{
	const char *p = path + 1;
	size_t seg = 0;

	if (*p == '\0')
		return rc->nsegments == 0;
	for (;;) {
		const char *end = strchr(p, '/');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		const struct route_segment *s;

		if (seg == rc->nsegments)
			return 0;
		s = &rc->segments[seg++];
		if (s->literal != NULL) {
			if (strlen(s->literal) != len || memcmp(s->literal, p, len) != 0)
				return 0;
		} else {
			if (!router_capture_ok(s->type, p, len))
				return 0;
			if (params != NULL)
				kvlist_add(params, a, s->name, arena_strndup(a, p, len), len);
		}
		if (end == NULL)
			break;
		p = end + 1;
		if (*p == '\0')
			return 0; /* a trailing slash is another address */
	}
	return seg == rc->nsegments;
}

static int
router_method_matches(const char *route_method, const char *method)
{
	return strcmp(route_method, method) == 0 ||
	    (strcmp(route_method, "GET") == 0 && strcmp(method, "HEAD") == 0);
}

int
http_router_match(const struct router *r, struct http_request *req, char *allow,
    size_t allowlen)
{
	int path_seen = 0;
	size_t off = 0;

	if (allowlen > 0)
		allow[0] = '\0';
	for (size_t i = 0; i < r->nroutes; i++) {
		const struct route_compiled *rc = &r->routes[i];

		if (!router_path_matches(rc, req->path, NULL, NULL))
			continue;
		if (router_method_matches(rc->route->method, req->method)) {
			req->params.len = 0;
			router_path_matches(rc, req->path, req->arena, &req->params);
			req->route_index = (int)i;
			return (int)i;
		}
		path_seen = 1;
		if (off < allowlen) {
			int n = snprintf(allow + off, allowlen - off, "%s%s", off ? ", " : "",
			    rc->route->method);
			off += n > 0 ? (size_t)n : 0;
			if (strcmp(rc->route->method, "GET") == 0 && off < allowlen) {
				n = snprintf(allow + off, allowlen - off, ", HEAD");
				off += n > 0 ? (size_t)n : 0;
			}
		}
	}
	return path_seen ? ROUTER_METHOD_NOT_ALLOWED : ROUTER_NOT_FOUND;
}

const char *
http_param(const struct http_request *req, const char *name)
{
	return kvlist_get(&req->params, name);
}

int64_t
http_param_int(const struct http_request *req, const char *name)
{
	const char *s = kvlist_get(&req->params, name);
	int64_t v = 0;

	if (s == NULL || util_parse_int64(s, 1, INT64_MAX, &v) == -1)
		return 0;
	return v;
}
