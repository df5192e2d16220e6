/* search.h: the search box's parser. A query of free words, "quoted phrases" and the
 * operators from:, to:, subject:, has:attachment, before:, after:, in:, category: (each
 * negatable with a leading -) becomes a list of terms; search_build_sql turns the terms
 * into a WHERE fragment over mail_messages made only of fixed SQL text and $n
 * placeholders, with the user's text in a parameter array. No database is involved. */
#ifndef MAILROOM_SEARCH_H
#define MAILROOM_SEARCH_H

#include <stdbool.h>
#include <stddef.h>

#define SEARCH_MAX_TERMS 32
#define SEARCH_MAX_QUERY 500
/* At most one parameter per term, plus the one text-search parameter. */
#define SEARCH_MAX_PARAMS (SEARCH_MAX_TERMS + 1)

enum search_kind {
	SEARCH_WORD,
	SEARCH_PHRASE,
	SEARCH_FROM,
	SEARCH_TO,
	SEARCH_SUBJECT,
	SEARCH_HAS_ATTACHMENT,
	SEARCH_BEFORE,
	SEARCH_AFTER,
	SEARCH_IN,
	SEARCH_CATEGORY
};

struct search_term {
	enum search_kind kind;
	bool negated;
	char *value; /* NULL for SEARCH_HAS_ATTACHMENT; a folder role or name for SEARCH_IN */
};

struct search_query {
	struct search_term terms[SEARCH_MAX_TERMS];
	size_t n;
	char error[160]; /* a sentence for the user when search_parse returned -1, else "" */
};

struct search_sql {
	char *where;                        /* "TRUE" when there is nothing to match */
	char *params[SEARCH_MAX_PARAMS];    /* params[i] is $(first + i) */
	size_t nparams;
};

/* Parses q (NULL reads as ""). Returns 0, or -1 with a sentence in out->error (too long,
 * too many terms, an invalid date); out holds no allocation after -1. */
int search_parse(const char *q, struct search_query *out);
void search_query_free(struct search_query *q);

/* Builds the fragment with placeholders numbered from first (the caller's own parameters
 * come before: first is 2 when user_id is $1). Never fails. */
void search_build_sql(const struct search_query *q, int first, struct search_sql *out);
void search_sql_free(struct search_sql *s);

/* The LIKE pattern %value% with \, % and _ escaped by \; a new string. */
char *search_like_pattern(const char *value);

#endif
