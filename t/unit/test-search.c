/* test-search.c: the search box's parser (operators, negation, quotes, limits, dates) and
 * the SQL fragment and parameters it builds. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "search.h"
#include "util.h"
#include "unit.h"

static void
expect_term(const struct search_query *q, size_t i, enum search_kind kind, bool neg,
	    const char *value)
{
	CU_ASSERT_FATAL(i < q->n);
	CU_ASSERT_EQUAL(q->terms[i].kind, kind);
	CU_ASSERT_EQUAL(q->terms[i].negated, neg);
	if (value == NULL) {
		CU_ASSERT_PTR_NULL(q->terms[i].value);
	} else {
		CU_ASSERT_PTR_NOT_NULL_FATAL(q->terms[i].value);
		CU_ASSERT_STRING_EQUAL(q->terms[i].value, value);
	}
}

static void
expect_error(const char *query, const char *error)
{
	struct search_query q;

	CU_ASSERT_EQUAL(search_parse(query, &q), -1);
	CU_ASSERT_STRING_EQUAL(q.error, error);
	CU_ASSERT_EQUAL(q.n, 0);
	search_query_free(&q);
}

/* Parses query, builds with first = 2 and compares the fragment and parameters. */
static void
expect_sql(const char *query, const char *where, const char *const *params, size_t n)
{
	struct search_query q;
	struct search_sql s;

	CU_ASSERT_EQUAL_FATAL(search_parse(query, &q), 0);
	search_build_sql(&q, 2, &s);
	CU_ASSERT_STRING_EQUAL(s.where, where);
	CU_ASSERT_EQUAL(s.nparams, n);
	for (size_t i = 0; i < n && i < s.nparams; i++)
		CU_ASSERT_STRING_EQUAL(s.params[i], params[i]);
	search_sql_free(&s);
	search_query_free(&q);
}

static void
test_words(void)
{
	struct search_query q;

	CU_ASSERT_EQUAL(search_parse("  hello\tworld ", &q), 0);
	CU_ASSERT_EQUAL(q.n, 2);
	expect_term(&q, 0, SEARCH_WORD, false, "hello");
	expect_term(&q, 1, SEARCH_WORD, false, "world");
	search_query_free(&q);
}

static void
test_empty(void)
{
	struct search_query q;

	CU_ASSERT_EQUAL(search_parse("", &q), 0);
	CU_ASSERT_EQUAL(q.n, 0);
	search_query_free(&q);
	CU_ASSERT_EQUAL(search_parse(NULL, &q), 0);
	CU_ASSERT_EQUAL(q.n, 0);
	search_query_free(&q);
	CU_ASSERT_EQUAL(search_parse("   \t\n ", &q), 0);
	CU_ASSERT_EQUAL(q.n, 0);
	search_query_free(&q);
	expect_sql("", "TRUE", NULL, 0);
	expect_sql("\"\"", "TRUE", NULL, 0);
}

static void
test_phrases(void)
{
	struct search_query q;

	CU_ASSERT_EQUAL(search_parse("\"quarterly report\" budget", &q), 0);
	CU_ASSERT_EQUAL(q.n, 2);
	expect_term(&q, 0, SEARCH_PHRASE, false, "quarterly report");
	expect_term(&q, 1, SEARCH_WORD, false, "budget");
	search_query_free(&q);

	/* An unbalanced quote runs to the end. */
	CU_ASSERT_EQUAL(search_parse("a \"b c", &q), 0);
	CU_ASSERT_EQUAL(q.n, 2);
	expect_term(&q, 1, SEARCH_PHRASE, false, "b c");
	search_query_free(&q);
	CU_ASSERT_EQUAL(search_parse("\"", &q), 0);
	CU_ASSERT_EQUAL(q.n, 0);
	search_query_free(&q);
	CU_ASSERT_EQUAL(search_parse("from:\"Ada", &q), 0);
	CU_ASSERT_EQUAL(q.n, 1);
	expect_term(&q, 0, SEARCH_FROM, false, "Ada");
	search_query_free(&q);
}

static void
test_operators(void)
{
	struct search_query q;

	CU_ASSERT_EQUAL(search_parse("from:ada@example.org to:bob subject:invoice "
				     "has:attachment before:2026-01-31 after:2025-12-01 "
				     "in:inbox category:to_respond", &q), 0);
	CU_ASSERT_EQUAL(q.n, 8);
	expect_term(&q, 0, SEARCH_FROM, false, "ada@example.org");
	expect_term(&q, 1, SEARCH_TO, false, "bob");
	expect_term(&q, 2, SEARCH_SUBJECT, false, "invoice");
	expect_term(&q, 3, SEARCH_HAS_ATTACHMENT, false, NULL);
	expect_term(&q, 4, SEARCH_BEFORE, false, "2026-01-31");
	expect_term(&q, 5, SEARCH_AFTER, false, "2025-12-01");
	expect_term(&q, 6, SEARCH_IN, false, "inbox");
	expect_term(&q, 7, SEARCH_CATEGORY, false, "to_respond");
	search_query_free(&q);

	/* Operator names ignore case; quoted values keep their spaces. */
	CU_ASSERT_EQUAL(search_parse("FROM:\"Ada Lovelace\" In:\"Project X\"", &q), 0);
	CU_ASSERT_EQUAL(q.n, 2);
	expect_term(&q, 0, SEARCH_FROM, false, "Ada Lovelace");
	expect_term(&q, 1, SEARCH_IN, false, "Project X");
	search_query_free(&q);
}

static void
test_unknown_operators(void)
{
	struct search_query q;

	CU_ASSERT_EQUAL(search_parse("foo:bar has:pdf from: x:\"y", &q), 0);
	CU_ASSERT_EQUAL(q.n, 4);
	expect_term(&q, 0, SEARCH_WORD, false, "foo:bar");
	expect_term(&q, 1, SEARCH_WORD, false, "has:pdf");
	expect_term(&q, 2, SEARCH_WORD, false, "from:");
	expect_term(&q, 3, SEARCH_WORD, false, "x:\"y");
	search_query_free(&q);
	/* An empty quoted value is no term. */
	CU_ASSERT_EQUAL(search_parse("from:\"\" hello", &q), 0);
	CU_ASSERT_EQUAL(q.n, 1);
	expect_term(&q, 0, SEARCH_WORD, false, "hello");
	search_query_free(&q);
}

static void
test_negation(void)
{
	struct search_query q;

	CU_ASSERT_EQUAL(search_parse("-spam -\"big sale\" -from:news -has:attachment - --x", &q), 0);
	CU_ASSERT_EQUAL(q.n, 6);
	expect_term(&q, 0, SEARCH_WORD, true, "spam");
	expect_term(&q, 1, SEARCH_PHRASE, true, "big sale");
	expect_term(&q, 2, SEARCH_FROM, true, "news");
	expect_term(&q, 3, SEARCH_HAS_ATTACHMENT, true, NULL);
	expect_term(&q, 4, SEARCH_WORD, false, "-");
	expect_term(&q, 5, SEARCH_WORD, false, "--x");
	search_query_free(&q);
}

static void
test_dates(void)
{
	struct search_query q;

	CU_ASSERT_EQUAL(search_parse("after:2024-02-29 before:2000-02-29", &q), 0);
	search_query_free(&q);
	expect_error("after:2026-02-30", "after: expects a date like 2026-01-31.");
	expect_error("after:2025-02-29", "after: expects a date like 2026-01-31.");
	expect_error("x before:2026-1-31", "before: expects a date like 2026-01-31.");
	expect_error("before:yesterday", "before: expects a date like 2026-01-31.");
	expect_error("before:2026-13-01", "before: expects a date like 2026-01-31.");
	expect_error("before:2026-01-31x", "before: expects a date like 2026-01-31.");
	expect_error("from:a -after:2026-00-10", "after: expects a date like 2026-01-31.");
}

static void
test_limits(void)
{
	char big[SEARCH_MAX_QUERY + 2];
	char many[200] = "";
	struct search_query q;

	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	expect_error(big, "A search can be at most 500 characters long.");
	big[SEARCH_MAX_QUERY] = '\0';
	CU_ASSERT_EQUAL(search_parse(big, &q), 0);
	CU_ASSERT_EQUAL(q.n, 1);
	search_query_free(&q);

	for (int i = 0; i < SEARCH_MAX_TERMS; i++)
		strcat(many, "w ");
	CU_ASSERT_EQUAL(search_parse(many, &q), 0);
	CU_ASSERT_EQUAL(q.n, SEARCH_MAX_TERMS);
	search_query_free(&q);
	strcat(many, "from:x");
	expect_error(many, "A search can have at most 32 terms.");
}

static void
test_like_pattern(void)
{
	char *p = search_like_pattern("100%_real\\x");

	CU_ASSERT_STRING_EQUAL(p, "%100\\%\\_real\\\\x%");
	free(p);
	p = search_like_pattern("");
	CU_ASSERT_STRING_EQUAL(p, "%%");
	free(p);
}

static void
test_sql_words(void)
{
	static const char *const p1[] = { "\"hello\" \"big sale\" -\"spam\" \"or\" \"-x\"" };
	static const char *const p2[] = { "\"a b\"" };

	expect_sql("hello \"big sale\" -spam or \"-x\"",
		   "search @@ websearch_to_tsquery('simple', $2)", p1, 1);
	/* A quote inside a word never reaches the tsquery syntax. */
	expect_sql("a\"b", "search @@ websearch_to_tsquery('simple', $2)", p2, 1);
}

static void
test_sql_from(void)
{
	static const char *const p1[] = { "%100\\%\\_off%" };
	static const char *const p2[] = { "\"report\"", "%Ada Lovelace%", "%news%" };
	static const char *const p3[] = { "%Al%" };

	expect_sql("from:100%_off", "(from_text LIKE lower($2))", p1, 1);
	/* The value keeps its case in the parameter: lower() in SQL folds it as the
	 * column was folded, non-ASCII letters included. */
	expect_sql("report from:\"Ada Lovelace\" -to:news",
		   "search @@ websearch_to_tsquery('simple', $2) AND "
		   "(from_text LIKE lower($3)) AND NOT (to_text LIKE lower($4))", p2, 3);
	/* Shorter than a trigram: the same condition (the index cannot narrow it). */
	expect_sql("to:Al", "(to_text LIKE lower($2))", p3, 1);
}

static void
test_sql_others(void)
{
	static const char *const p1[] = { "%'; DROP TABLE x; --%", "2026-01-31", "2025-12-01",
					   "inbox", "marketing" };

	expect_sql("subject:\"'; DROP TABLE x; --\" has:attachment before:2026-01-31 "
		   "-after:2025-12-01 in:inbox -category:marketing",
		   "(subject ILIKE $2) AND (has_attachments) AND (received_at < $3::date) AND "
		   "NOT (received_at >= $4::date + 1) AND "
		   "(id IN (SELECT l.message_id FROM mail_locations l JOIN mail_folders f "
		   "ON f.id = l.folder_id WHERE f.role = lower($5) "
		   "OR lower(f.name) = lower($5))) AND "
		   "NOT (category = lower($6))", p1, 5);
	expect_sql("-has:attachment", "NOT (has_attachments)", NULL, 0);
}

int
main(void)
{
	static const struct unit_test tests[] = {
		{ "words", test_words },
		{ "empty", test_empty },
		{ "phrases", test_phrases },
		{ "operators", test_operators },
		{ "unknown operators", test_unknown_operators },
		{ "negation", test_negation },
		{ "dates", test_dates },
		{ "limits", test_limits },
		{ "like pattern", test_like_pattern },
		{ "sql words", test_sql_words },
		{ "sql from", test_sql_from },
		{ "sql others", test_sql_others },
		{ NULL, NULL },
	};

	return unit_run("search", tests);
}
