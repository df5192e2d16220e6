/* fuzz-http-cookies.c: libFuzzer harness for the Cookie header, and for the other
 * header-value parsers: Content-Type parameters and media type comparison. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "http-request.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct arena *fuzz_arena;

static int
fuzz_is_tchar(int c)
{
	return c != '\0' && ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	    (c >= 'A' && c <= 'Z') || strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static void
fuzz_cookies(const char *h, size_t hlen, const struct http_limits *lim)
{
	struct http_error err;
	struct kvlist l;

	memset(&l, 0, sizeof(l));
	memset(&err, 0, sizeof(err));
	if (http_parse_cookies(fuzz_arena, h, lim, &l, &err) == -1) {
		if (err.status != 400 || err.code == NULL || err.message == NULL ||
		    strcmp(err.code, "too_many_cookies") != 0)
			abort();
		return;
	}
	if (l.len > lim->max_cookies)
		abort();
	for (size_t i = 0; i < l.len; i++) {
		const struct kv *kv = &l.items[i];
		size_t nlen = strlen(kv->name);

		if (nlen == 0 || nlen > lim->max_name || kv->value_len > hlen ||
		    strlen(kv->value) != kv->value_len || strchr(kv->value, ';') != NULL)
			abort();
		for (size_t j = 0; j < nlen; j++) {
			if (!fuzz_is_tchar((unsigned char)kv->name[j]))
				abort();
		}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http_limits tight = http_limits_default;
	const char *v;
	char *h;
	size_t hlen;

	if (fuzz_arena == NULL)
		fuzz_arena = arena_new(64 * 1024);
	arena_reset(fuzz_arena);

	/* Headers reach the parsers as C strings. */
	h = arena_strndup(fuzz_arena, (const char *)data, size);
	hlen = strlen(h);

	fuzz_cookies(h, hlen, &http_limits_default);
	tight.max_cookies = 4;
	tight.max_name = 8;
	fuzz_cookies(h, hlen, &tight);

	v = http_content_type_param(fuzz_arena, h, "boundary");
	if (v != NULL && strlen(v) > hlen)
		abort();
	v = http_content_type_param(fuzz_arena, h, "charset");
	if (v != NULL && strlen(v) > hlen)
		abort();
	(void)http_content_type_is(h, "multipart/form-data");
	(void)http_content_type_is(h, "application/json");
	return 0;
}
