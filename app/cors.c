/* cors.c: the CORS decisions and headers for the extension's origins (cors.h). */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "cors.h"
#include "http-server.h"
#include "util.h"

#define CORS_CHROME "chrome-extension://"
#define CORS_MOZ "moz-extension://"

int
cors_origin_wellformed(const char *s, size_t n)
{
	size_t cl = strlen(CORS_CHROME), ml = strlen(CORS_MOZ);

	if (n == cl + 32 && strncmp(s, CORS_CHROME, cl) == 0) {
		for (size_t i = cl; i < n; i++)
			if (s[i] < 'a' || s[i] > 'p')
				return 0;
		return 1;
	}
	if (n == ml + 36 && strncmp(s, CORS_MOZ, ml) == 0) {
		for (size_t i = 0; i < 36; i++) {
			char ch = s[ml + i];

			if (i == 8 || i == 13 || i == 18 || i == 23) {
				if (ch != '-')
					return 0;
			} else if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f'))) {
				return 0;
			}
		}
		return 1;
	}
	return 0;
}

/* The next entry of a comma-separated list from *p, spaces trimmed: its start and
 * length; 0 at the end of the list. */
static int
cors_next(const char **p, const char **start, size_t *len)
{
	const char *s = *p, *end;

	if (*s == '\0')
		return 0;
	end = s + strcspn(s, ",");
	*p = *end == ',' ? end + 1 : end;
	while (s < end && (*s == ' ' || *s == '\t'))
		s++;
	while (end > s && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	*start = s;
	*len = (size_t)(end - s);
	return 1;
}

const char *
cors_origins_invalid(const char *list)
{
	static _Thread_local char why[160];
	const char *p = list, *s, *t, *q;
	size_t n, m, len;
	int count = 0;

	/* Unset or blank: no extension. */
	if (list == NULL || strspn(list, " \t") == (len = strlen(list)))
		return NULL;
	while (len > 0 && (list[len - 1] == ' ' || list[len - 1] == '\t'))
		len--;
	if (list[len - 1] == ',')
		return "an empty entry (two commas, or a comma at an end)";
	while (cors_next(&p, &s, &n)) {
		if (n == 0)
			return "an empty entry (two commas, or a comma at an end)";
		if (!cors_origin_wellformed(s, n)) {
			snprintf(why, sizeof(why), "\"%.*s\" is not chrome-extension://<32 letters "
			    "a-p> or moz-extension://<uuid> (no path, no slash at the end)",
			    n > 60 ? 60 : (int)n, s);
			return why;
		}
		q = list;
		while (cors_next(&q, &t, &m) && t < s) {
			if (m == n && memcmp(s, t, n) == 0) {
				snprintf(why, sizeof(why), "\"%.*s\" is listed twice", (int)n, s);
				return why;
			}
		}
		if (++count > CORS_MAX_ORIGINS) {
			snprintf(why, sizeof(why), "more than %d origins", CORS_MAX_ORIGINS);
			return why;
		}
	}
	return NULL;
}

int
cors_form_action(const char *list, char *out, size_t outlen)
{
	const char *p = list, *s;
	size_t n, len, cl = strlen(CORS_CHROME);
	int w;

	len = (size_t)snprintf(out, outlen, "'self'");
	while (list != NULL && cors_next(&p, &s, &n)) {
		if (n == 0)
			continue;
		if (strncmp(s, CORS_CHROME, cl) == 0)
			w = snprintf(out + len, outlen - len, " https://%.*s.chromiumapp.org %.*s",
			    (int)(n - cl), s + cl, (int)n, s);
		else
			w = snprintf(out + len, outlen - len, " %.*s", (int)n, s);
		if (w < 0 || (size_t)w >= outlen - len)
			return -1;
		len += (size_t)w;
	}
	return 0;
}

int
cors_origin_listed(const char *list, const char *origin)
{
	const char *p = list, *s;
	size_t n, olen;

	if (list == NULL || origin == NULL)
		return 0;
	olen = strlen(origin);
	/* "null" (sandboxed frames, file: pages, some redirects) and "*" are not origins
	 * anyone can be held to; a well-formed origin is all a list can hold anyway. */
	if (!cors_origin_wellformed(origin, olen))
		return 0;
	while (cors_next(&p, &s, &n)) {
		if (n == olen && memcmp(s, origin, n) == 0)
			return 1;
	}
	return 0;
}

int
cors_origin_allowed(const char *origin)
{
	return cors_origin_listed(mr_config.extension_origins, origin);
}

int
cors_path(const char *path)
{
	if (path == NULL)
		return 0;
	return strncmp(path, "/api/v1/", 8) == 0 || strcmp(path, "/oauth/token") == 0 ||
	    strcmp(path, "/oauth/revoke") == 0;
}

/* Whether the response already has header name with exactly this value. */
static int
cors_has(const struct http_response *res, const char *name, const char *value)
{
	for (size_t i = 0; i < res->headers.len; i++) {
		const struct kv *h = &res->headers.items[i];

		if (util_strcaseeq(h->name, name) && strcmp(h->value, value) == 0)
			return 1;
	}
	return 0;
}

int
cors_apply(struct http_ctx *c, const struct route *rt)
{
	const char *origin = c->req->origin;

	if (!cors_path(c->req->path))
		return 0;
	/* A session-only route (token management) is never called with a bearer token, and
	 * cookies do not cross origins here: nothing for another origin to read. */
	if (rt != NULL && (rt->flags & ROUTE_SESSION) && !(rt->flags & ROUTE_TOKEN))
		return 0;
	/* Caches must not serve one origin's answer to another. Once per response: the
	 * preflight answer has its headers already. */
	if (!cors_has(c->res, "Vary", "Origin"))
		http_response_header(c->res, "Vary", "Origin");
	if (!cors_origin_allowed(origin))
		return 0;
	if (http_response_get_header(c->res, "Access-Control-Allow-Origin") == NULL) {
		http_response_header(c->res, "Access-Control-Allow-Origin", origin);
		http_response_header(c->res, "Access-Control-Expose-Headers",
		    "WWW-Authenticate, Retry-After, X-Request-Id");
	}
	return 1;
}

int
cors_preflight(struct http_ctx *c, const char *allow)
{
	const char *origin = c->req->origin;

	if (c->req->method == NULL || strcmp(c->req->method, "OPTIONS") != 0 ||
	    !cors_path(c->req->path))
		return 0;
	c->res->status = 204;
	c->res->body.len = 0;
	http_response_header(c->res, "Allow", arena_printf(c->arena, "%s, OPTIONS", allow));
	http_response_header(c->res, "Vary", "Origin");
	if (!cors_origin_allowed(origin))
		return 1;
	http_response_header(c->res, "Access-Control-Allow-Origin", origin);
	http_response_header(c->res, "Access-Control-Allow-Methods", allow);
	http_response_header(c->res, "Access-Control-Allow-Headers",
	    "Authorization, Content-Type");
	http_response_header(c->res, "Access-Control-Max-Age", CORS_MAX_AGE);
	return 1;
}
