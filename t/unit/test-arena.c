/* test-arena.c: the per-request arena and its buffer: alignment, growth, reset, the JSON
 * string escaper. */
#include "config.h"

#include <stdalign.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "arena.h"
#include "unit.h"

static void
test_alignment_and_reset(void)
{
	struct arena *a = arena_new(1024);

	for (int i = 1; i < 200; i++) {
		char *p = arena_alloc(a, (size_t)i);

		CU_ASSERT_EQUAL((uintptr_t)p % alignof(max_align_t), 0);
		memset(p, 'x', (size_t)i);
	}
	CU_ASSERT(arena_used(a) >= 199 * 200 / 2);
	arena_reset(a);
	CU_ASSERT_EQUAL(arena_used(a), 0);
	CU_ASSERT_PTR_NOT_NULL(arena_alloc(a, 10));
	arena_free(a);
}

static void
test_large_allocation(void)
{
	struct arena *a = arena_new(1024);
	char *small = arena_strdup(a, "before");
	char *big = arena_alloc(a, 1 << 20);
	char *after;

	memset(big, 0xab, 1 << 20);
	after = arena_strdup(a, "after");
	CU_ASSERT_STRING_EQUAL(small, "before");
	CU_ASSERT_STRING_EQUAL(after, "after");
	CU_ASSERT_EQUAL((unsigned char)big[(1 << 20) - 1], 0xab);
	arena_free(a);
}

static void
test_strings(void)
{
	struct arena *a = arena_new(256);
	char *s = arena_strndup(a, "abc\0def", 7);

	CU_ASSERT_EQUAL(memcmp(s, "abc\0def", 8), 0);
	CU_ASSERT_STRING_EQUAL(arena_printf(a, "%d-%s", 42, "x"), "42-x");
	arena_free(a);
}

static void
test_realloc_in_place(void)
{
	struct arena *a = arena_new(4096);
	char *p = arena_alloc(a, 16), *q;

	memcpy(p, "0123456789abcdef", 16);
	q = arena_realloc(a, p, 16, 64);
	CU_ASSERT_PTR_EQUAL(p, q);
	CU_ASSERT_EQUAL(memcmp(q, "0123456789abcdef", 16), 0);
	q = arena_realloc(a, q, 64, 100000);
	CU_ASSERT_EQUAL(memcmp(q, "0123456789abcdef", 16), 0);
	arena_free(a);
}

static void
test_buf_growth(void)
{
	struct arena *a = arena_new(512);
	struct buf b;

	buf_init(&b, a);
	for (int i = 0; i < 10000; i++)
		buf_printf(&b, "%04d,", i % 10000);
	CU_ASSERT_EQUAL(b.len, 50000);
	CU_ASSERT_EQUAL(b.data[b.len], '\0');
	CU_ASSERT_EQUAL(strncmp(b.data + 5 * 9999, "9999,", 5), 0);
	buf_append(&b, "\0z", 2);
	CU_ASSERT_EQUAL(b.len, 50002);
	arena_free(a);
}

static void
test_json_escape(void)
{
	struct arena *a = arena_new(512);
	struct buf b;
	static const char nasty[] = "\0\"&'<>\\\n\x01\x7f";

	buf_init(&b, a);
	buf_json_escape(&b, nasty, sizeof(nasty) - 1);
	CU_ASSERT_STRING_EQUAL(b.data,
	    "\\u0000\\\"\\u0026'\\u003c\\u003e\\\\\\n\\u0001\\u007f");
	arena_free(a);
}

static void
test_json_escape_invalid_utf8(void)
{
	struct arena *a = arena_new(512);
	struct buf b;

	/* Valid multi-byte characters pass, broken sequences become U+FFFD. */
	buf_init(&b, a);
	buf_json_escape(&b, "caf\xc3\xa9 \xff\xc3 \xe2\x82\xac", 12);
	CU_ASSERT_STRING_EQUAL(b.data, "caf\xc3\xa9 \\ufffd\\ufffd \xe2\x82\xac");
	arena_free(a);
}

int
main(void)
{
	static const struct unit_test tests[] = {
		{ "alignment and reset", test_alignment_and_reset },
		{ "large allocation", test_large_allocation },
		{ "strings", test_strings },
		{ "realloc in place", test_realloc_in_place },
		{ "buffer growth", test_buf_growth },
		{ "JSON escape of the nasty string", test_json_escape },
		{ "JSON escape of invalid UTF-8", test_json_escape_invalid_utf8 },
		{ NULL, NULL },
	};

	return unit_run("arena", tests);
}
