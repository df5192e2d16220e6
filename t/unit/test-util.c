/* test-util.c: small helpers every program uses: integer parsing, case-insensitive
 * comparison, random ids, log levels. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "unit.h"

static void
test_parse_int64(void)
{
	int64_t v = 0;

	CU_ASSERT_EQUAL(util_parse_int64("42", 0, 100, &v), 0);
	CU_ASSERT_EQUAL(v, 42);
	CU_ASSERT_EQUAL(util_parse_int64("-5", -10, 10, &v), 0);
	CU_ASSERT_EQUAL(v, -5);
	CU_ASSERT_EQUAL(util_parse_int64("101", 0, 100, &v), -1);
	CU_ASSERT_EQUAL(util_parse_int64("", 0, 100, &v), -1);
	CU_ASSERT_EQUAL(util_parse_int64(" 1", 0, 100, &v), -1);
	CU_ASSERT_EQUAL(util_parse_int64("1 ", 0, 100, &v), -1);
	CU_ASSERT_EQUAL(util_parse_int64("0x10", 0, 100, &v), -1);
	CU_ASSERT_EQUAL(util_parse_int64("99999999999999999999", 0, INT64_MAX, &v), -1);
	CU_ASSERT_EQUAL(util_parse_int64(NULL, 0, 1, &v), -1);
}

static void
test_strcaseeq(void)
{
	CU_ASSERT(util_strcaseeq("Content-Type", "content-type"));
	CU_ASSERT(!util_strcaseeq("Content-Type", "content-typ"));
	CU_ASSERT(!util_strcaseeq("a", "ab"));
	CU_ASSERT(util_strcaseeq("", ""));
}

static void
test_random_hex(void)
{
	char a[33], b[33];

	util_random_hex(a, 16);
	util_random_hex(b, 16);
	CU_ASSERT_EQUAL(strlen(a), 32);
	CU_ASSERT_EQUAL(strspn(a, "0123456789abcdef"), 32);
	CU_ASSERT_NOT_EQUAL(strcmp(a, b), 0);
}

static void
test_log_levels(void)
{
	enum log_level l;

	CU_ASSERT_EQUAL(log_parse_level("WARN", &l), 0);
	CU_ASSERT_EQUAL(l, LOG_LEVEL_WARN);
	CU_ASSERT_EQUAL(log_parse_level("debug", &l), 0);
	CU_ASSERT_EQUAL(l, LOG_LEVEL_DEBUG);
	CU_ASSERT_EQUAL(log_parse_level("verbose", &l), -1);
}

static void
test_xasprintf(void)
{
	char *s = xasprintf("%s=%d", "n", 7);

	CU_ASSERT_STRING_EQUAL(s, "n=7");
	free(s);
}

int
main(void)
{
	static const struct unit_test tests[] = {
		{ "parse int64", test_parse_int64 },
		{ "case-insensitive equality", test_strcaseeq },
		{ "random hex ids", test_random_hex },
		{ "log levels", test_log_levels },
		{ "xasprintf", test_xasprintf },
		{ NULL, NULL },
	};

	return unit_run("util", tests);
}
