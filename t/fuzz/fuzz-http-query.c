/* fuzz-http-query.c: libFuzzer harness for query strings and urlencoded bodies, and for
 * the request path and query taken from a CGI REQUEST_URI. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "http-request.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct arena *fuzz_arena;

static void
fuzz_check_error(const struct http_error *err)
{
	if (err->status != 400 && err->status != 413)
		abort();
	if (err->code == NULL || err->message == NULL)
		abort();
}

static void
fuzz_check_list(const struct kvlist *l, const struct http_limits *lim, size_t size)
{
	if (l->len > lim->max_fields)
		abort();
	for (size_t i = 0; i < l->len; i++) {
		const struct kv *kv = &l->items[i];

		if (strlen(kv->name) > lim->max_name || kv->value_len > size ||
		    kv->value_len > lim->max_value || kv->value[kv->value_len] != '\0')
			abort();
	}
}

static void
fuzz_urlencoded(const char *s, size_t size, const struct http_limits *lim)
{
	struct http_error err;
	struct kvlist l;

	memset(&l, 0, sizeof(l));
	memset(&err, 0, sizeof(err));
	if (http_parse_urlencoded(fuzz_arena, s, size, lim, &l, &err) == 0)
		fuzz_check_list(&l, lim, size);
	else
		fuzz_check_error(&err);
}

static void
fuzz_request_uri(const char *s, size_t size)
{
	struct http_request req;
	struct http_error err;
	char *env[4];

	/* A CGI parameter is a C string: the input up to its first NUL. */
	env[0] = arena_strdup(fuzz_arena, "REQUEST_METHOD=GET");
	env[1] = arena_strdup(fuzz_arena, "REQUEST_ID=fuzz");
	env[2] = arena_printf(fuzz_arena, "REQUEST_URI=%.*s", (int)size, s);
	env[3] = NULL;
	memset(&err, 0, sizeof(err));
	if (http_request_from_cgi(&req, fuzz_arena, env, &http_limits_default, &err) == 0) {
		if (req.path == NULL || req.path[0] != '/' || req.query_string == NULL ||
		    strlen(req.path) > size)
			abort();
		fuzz_check_list(&req.query, &http_limits_default, size);
	} else
		fuzz_check_error(&err);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http_limits tight = http_limits_default;
	const char *s = (const char *)data;
	char *out;
	long n;

	if (fuzz_arena == NULL)
		fuzz_arena = arena_new(64 * 1024);
	arena_reset(fuzz_arena);

	out = arena_alloc(fuzz_arena, size + 1);
	n = http_url_decode(out, s, size, 1);
	if (n > (long)size || (n >= 0 && out[n] != '\0'))
		abort();

	fuzz_urlencoded(s, size, &http_limits_default);
	/* Small limits make the limit paths reachable with small inputs. */
	tight.max_fields = 8;
	tight.max_name = 8;
	tight.max_value = 16;
	fuzz_urlencoded(s, size, &tight);
	if (size < 8192)
		fuzz_request_uri(s, size);
	return 0;
}
