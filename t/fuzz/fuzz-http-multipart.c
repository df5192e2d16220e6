/* fuzz-http-multipart.c: libFuzzer harness for multipart/form-data bodies. The first
 * line of the input is the Content-Type value, the rest is the body, so the boundary
 * and the Content-Type parameter syntax are fuzzed along with the parts. */
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
fuzz_multipart(const char *ct, const char *body, size_t len, const struct http_limits *lim)
{
	struct http_upload *up = NULL;
	struct http_error err;
	struct kvlist f;
	size_t nup = 0;

	memset(&f, 0, sizeof(f));
	memset(&err, 0, sizeof(err));
	if (http_parse_multipart(fuzz_arena, ct, body, len, lim, &f, &up, &nup, &err) == -1) {
		if ((err.status != 400 && err.status != 413) || err.code == NULL ||
		    err.message == NULL)
			abort();
		return;
	}
	if (f.len + nup > lim->max_fields || (nup > 0 && up == NULL))
		abort();
	for (size_t i = 0; i < f.len; i++) {
		const struct kv *kv = &f.items[i];

		if (strlen(kv->name) > lim->max_name || kv->value_len > len ||
		    kv->value_len > lim->max_value || kv->value[kv->value_len] != '\0')
			abort();
	}
	for (size_t i = 0; i < nup; i++) {
		const struct http_upload *u = &up[i];

		/* Uploads are slices of the body, never copies. */
		if (u->data < body || u->len > len || u->data + u->len > body + len)
			abort();
		if (u->field == NULL || strlen(u->field) > lim->max_name ||
		    u->filename == NULL || strchr(u->filename, '/') != NULL ||
		    strchr(u->filename, '\\') != NULL || strcmp(u->filename, "..") == 0 ||
		    strcmp(u->filename, ".") == 0 || u->content_type == NULL ||
		    *u->content_type == '\0')
			abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http_limits tight = http_limits_default;
	const char *nl, *s = (const char *)data;
	char *ct, *body;
	size_t ctlen, len;

	if (fuzz_arena == NULL)
		fuzz_arena = arena_new(64 * 1024);
	arena_reset(fuzz_arena);

	nl = memchr(s, '\n', size);
	if (nl == NULL)
		return 0;
	ctlen = (size_t)(nl - s);
	if (ctlen > 0 && s[ctlen - 1] == '\r')
		ctlen--;
	ct = arena_strndup(fuzz_arena, s, ctlen);
	/* The body in a buffer of its own size, so reads past it are caught. */
	len = size - (size_t)(nl + 1 - s);
	body = malloc(len != 0 ? len : 1);
	if (body == NULL)
		abort();
	memcpy(body, nl + 1, len);

	fuzz_multipart(ct, body, len, &http_limits_default);
	tight.max_fields = 3;
	tight.max_name = 8;
	tight.max_value = 16;
	tight.max_upload = 512;
	fuzz_multipart(ct, body, len, &tight);
	free(body);
	return 0;
}
