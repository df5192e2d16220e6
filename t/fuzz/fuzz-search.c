/* fuzz-search.c: libFuzzer harness for the search box's parser: the input, as a string,
 * is parsed and, when it parses, turned into SQL. The fragment must be made only of the
 * fixed SQL pieces: once every placeholder $n is removed it may hold no byte outside the
 * fixed pieces' alphabet and no quote other than the fixed '...' literals, each $n must
 * be between first and the last parameter, and every parameter must be valid UTF-8 when
 * the input was. */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "search.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fuzz_fail(const char *what, const char *s)
{
	fprintf(stderr, "fuzz-search: %s: [%s]\n", what, s);
	abort();
}

static bool
fuzz_utf8(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p != '\0') {
		size_t n;
		uint32_t cp;

		if (*p < 0x80) {
			p++;
			continue;
		} else if ((*p & 0xe0) == 0xc0) {
			n = 1;
			cp = *p & 0x1f;
		} else if ((*p & 0xf0) == 0xe0) {
			n = 2;
			cp = *p & 0x0f;
		} else if ((*p & 0xf8) == 0xf0) {
			n = 3;
			cp = *p & 0x07;
		} else {
			return false;
		}
		for (size_t i = 1; i <= n; i++) {
			if ((p[i] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (p[i] & 0x3f);
		}
		if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
		    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		p += n + 1;
	}
	return true;
}

/* The only quoted literals the fixed pieces hold. */
static const char *const fuzz_literals[] = { "'simple'", "'address'", "'name'" };

static void
fuzz_check_sql(const struct search_sql *s, int first)
{
	const char *p = s->where;

	if (p == NULL || *p == '\0')
		fuzz_fail("no fragment", "");
	while (*p != '\0') {
		unsigned char c = (unsigned char)*p;

		if (c == '$') {
			char *end;
			long n = strtol(p + 1, &end, 10);

			if (end == p + 1 || n < first || n >= first + (long)s->nparams)
				fuzz_fail("a placeholder out of range", s->where);
			p = end;
			continue;
		}
		if (c == '\'') {
			bool ok = false;

			for (size_t i = 0; i < sizeof(fuzz_literals) / sizeof(fuzz_literals[0]); i++) {
				size_t n = strlen(fuzz_literals[i]);

				if (strncmp(p, fuzz_literals[i], n) == 0) {
					p += n;
					ok = true;
					break;
				}
			}
			if (!ok)
				fuzz_fail("a quote outside the fixed literals", s->where);
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == ' ' ||
		      c == '(' || c == ')' || c == '_' || c == '.' || c == ',' || c == '|' ||
		      c == '-' || c == '>' || c == '<' || c == '=' || c == '@' || c == ':' ||
		      c == '+' || c == '1'))
			fuzz_fail("a byte outside the fixed pieces", s->where);
		p++;
	}
	if (s->nparams > SEARCH_MAX_PARAMS)
		fuzz_fail("too many parameters", s->where);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *q = xmalloc(size + 1);
	struct search_query sq;
	struct search_sql sql;
	bool utf8;

	memcpy(q, data, size);
	q[size] = '\0';
	utf8 = fuzz_utf8(q);
	if (search_parse(q, &sq) < 0) {
		if (sq.error[0] == '\0' || sq.n != 0)
			fuzz_fail("a failure without a sentence", q);
		free(q);
		return 0;
	}
	if (sq.error[0] != '\0' || sq.n > SEARCH_MAX_TERMS)
		fuzz_fail("a bad parse", q);
	search_build_sql(&sq, 2, &sql);
	fuzz_check_sql(&sql, 2);
	for (size_t i = 0; i < sql.nparams; i++) {
		if (sql.params[i] == NULL)
			fuzz_fail("a NULL parameter", q);
		if (utf8 && !fuzz_utf8(sql.params[i]))
			fuzz_fail("a parameter that is not UTF-8", sql.params[i]);
	}
	search_sql_free(&sql);
	search_query_free(&sq);
	free(q);
	return 0;
}
