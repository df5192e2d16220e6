/* fuzz-html-sanitize.c: libFuzzer harness for the email body sanitizer: whatever the body,
 * the output passes the independent check of t/unit/html-check.h (read back by libxml2),
 * sanitizing it again changes nothing, and its size stays proportional to the input. */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "html-sanitize.h"
#include "util.h"
#include "../unit/html-check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The largest growth a byte can cause: a quote in an image's alt becomes &quot; twice, in
 * the placeholder's data-alt and in its text; an <img src=cid:x> of 15 bytes becomes a
 * placeholder of 78. */
#define FUZZ_MAX_GROWTH 12
#define FUZZ_SLACK 256

static struct arena *fuzz_arena;

static void
fuzz_fail(const char *why, const char *in, size_t inlen, const char *out, const char *again)
{
	fprintf(stderr, "html-sanitize: %s\n  input  (%zu bytes): %.*s\n  output: %s\n", why,
	    inlen, (int)(inlen > 2000 ? 2000 : inlen), in, out);
	if (again != NULL)
		fprintf(stderr, "  again:  %s\n", again);
	abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* The input's length picks the option, so that both run on every kind of body. */
	struct html_sanitize_opts opts = { (int)(size & 1) };
	struct html_sanitize_stats stats;
	const char *in = (const char *)data, *why;
	struct buf out, again;

	if (fuzz_arena == NULL)
		fuzz_arena = arena_new(256 * 1024);
	arena_reset(fuzz_arena);
	buf_init(&out, fuzz_arena);
	buf_init(&again, fuzz_arena);

	if (html_sanitize_fragment_stats(fuzz_arena, in, size, &opts, &out, &stats) != 0) {
		if (out.len != 0)
			fuzz_fail("failed but wrote output", in, size, out.data, NULL);
		return 0;
	}
	if (strlen(out.data) != out.len)
		fuzz_fail("NUL inside the output", in, size, out.data, NULL);
	if (out.len > FUZZ_MAX_GROWTH * size + FUZZ_SLACK)
		fuzz_fail("output out of proportion to the input", in, size, out.data, NULL);
	if (opts.allow_remote_images && stats.remote_images != 0)
		fuzz_fail("remote images blocked although allowed", in, size, out.data, NULL);
	if ((why = html_check_output(out.data, out.len)) != NULL)
		fuzz_fail(why, in, size, out.data, NULL);
	if (html_sanitize_fragment(fuzz_arena, out.data, out.len, &opts, &again) != 0)
		fuzz_fail("the output does not parse again", in, size, out.data, NULL);
	if (again.len != out.len || memcmp(again.data, out.data, out.len) != 0)
		fuzz_fail("not idempotent", in, size, out.data, again.data);
	return 0;
}
