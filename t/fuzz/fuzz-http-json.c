/* fuzz-http-json.c: libFuzzer harness for JSON bodies, parsed directly and through the
 * request: what is accepted is an object or an array no deeper than the limit, and what
 * is refused gets a 400 or a 413 with a printable message. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "http-request.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct arena *fuzz_arena;

static size_t
fuzz_depth(json_t *j)
{
	size_t max = 0, d;
	const char *key;
	json_t *v;
	size_t i;

	if (json_is_object(j)) {
		json_object_foreach(j, key, v) {
			if ((d = fuzz_depth(v)) > max)
				max = d;
		}
		return max + 1;
	}
	if (json_is_array(j)) {
		json_array_foreach(j, i, v) {
			if ((d = fuzz_depth(v)) > max)
				max = d;
		}
		return max + 1;
	}
	return 0;
}

static void
fuzz_json(const char *s, size_t size, const struct http_limits *lim)
{
	struct http_error err;
	json_t *j = NULL;

	memset(&err, 0, sizeof(err));
	if (http_parse_json(s, size, lim, &j, &err) == -1) {
		if (j != NULL || (err.status != 400 && err.status != 413) ||
		    err.code == NULL || err.message == NULL)
			abort();
		for (const char *m = err.message; *m != '\0'; m++) {
			if ((unsigned char)*m < 0x20 || (unsigned char)*m >= 0x7f)
				abort();
		}
		return;
	}
	if (j == NULL || !(json_is_object(j) || json_is_array(j)) ||
	    fuzz_depth(j) > lim->max_json_depth)
		abort();
	json_decref(j);
}

/* Through the request, as the server does: "+json" media types, messages in the arena. */
static void
fuzz_body(const char *s, size_t size)
{
	struct http_request req;
	struct http_error err;

	memset(&req, 0, sizeof(req));
	memset(&err, 0, sizeof(err));
	req.arena = fuzz_arena;
	req.content_type = size % 2 ? "application/json; charset=utf-8" :
	    "application/vnd.api+json";
	if (http_request_parse_body(&req, s, size, &http_limits_default, &err) == -1) {
		if (req.json != NULL || (err.status != 400 && err.status != 413) ||
		    err.code == NULL || err.message == NULL)
			abort();
	} else if (size != 0 && req.json == NULL)
		abort();
	json_decref(req.json);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http_limits tight = http_limits_default;
	char *copy;

	if (fuzz_arena == NULL)
		fuzz_arena = arena_new(64 * 1024);
	arena_reset(fuzz_arena);

	/* An exact-size copy, so reads past the end are caught. */
	copy = malloc(size != 0 ? size : 1);
	if (copy == NULL)
		abort();
	memcpy(copy, data, size);
	fuzz_json(copy, size, &http_limits_default);
	tight.max_json_depth = 3;
	tight.max_body = 256;
	fuzz_json(copy, size, &tight);
	fuzz_body(copy, size);
	free(copy);
	return 0;
}
