/* search.c: the search box's parser and its SQL fragment (see search.h). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "search.h"
#include "util.h"

static bool
search_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

static int
strncasecmp_ascii(const char *a, const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int ca = (unsigned char)a[i], cb = (unsigned char)b[i];

		if (ca >= 'A' && ca <= 'Z')
			ca += 'a' - 'A';
		if (cb >= 'A' && cb <= 'Z')
			cb += 'a' - 'A';
		if (ca != cb)
			return ca - cb;
		if (ca == 0)
			return 0;
	}
	return 0;
}

static char *
search_strndup(const char *s, size_t n)
{
	char *r = xmalloc(n + 1);

	memcpy(r, s, n);
	r[n] = '\0';
	return r;
}

static bool
search_date_valid(const char *s)
{
	static const int mdays[12] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int y, m, d;

	if (strlen(s) != 10 || s[4] != '-' || s[7] != '-')
		return false;
	for (size_t i = 0; i < 10; i++) {
		if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
			return false;
	}
	y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
	m = (s[5] - '0') * 10 + (s[6] - '0');
	d = (s[8] - '0') * 10 + (s[9] - '0');
	if (y < 1000 || m < 1 || m > 12 || d < 1 || d > mdays[m - 1])
		return false;
	if (m == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return false;
	return true;
}

static const struct {
	const char *name;
	enum search_kind kind;
} search_ops[] = {
	{ "from", SEARCH_FROM },     { "to", SEARCH_TO },         { "subject", SEARCH_SUBJECT },
	{ "has", SEARCH_HAS_ATTACHMENT }, { "before", SEARCH_BEFORE }, { "after", SEARCH_AFTER },
	{ "in", SEARCH_IN },         { "category", SEARCH_CATEGORY },
};

static int
search_add(struct search_query *out, enum search_kind kind, bool neg, char *value)
{
	if (out->n >= SEARCH_MAX_TERMS) {
		free(value);
		snprintf(out->error, sizeof(out->error),
			 "A search can have at most %d terms.", SEARCH_MAX_TERMS);
		return -1;
	}
	out->terms[out->n].kind = kind;
	out->terms[out->n].negated = neg;
	out->terms[out->n].value = value;
	out->n++;
	return 0;
}

int
search_parse(const char *q, struct search_query *out)
{
	const char *p;

	memset(out, 0, sizeof(*out));
	if (q == NULL)
		q = "";
	if (strlen(q) > SEARCH_MAX_QUERY) {
		snprintf(out->error, sizeof(out->error),
			 "A search can be at most %d characters long.", SEARCH_MAX_QUERY);
		return -1;
	}
	p = q;
	for (;;) {
		bool neg = false;
		const char *start, *e;
		size_t klen = 0;
		int op = -1;

		while (search_space(*p))
			p++;
		if (*p == '\0')
			break;
		if (*p == '-' && p[1] != '\0' && !search_space(p[1]) && p[1] != '-') {
			neg = true;
			p++;
		}
		if (*p == '"') {
			start = ++p;
			while (*p != '\0' && *p != '"')
				p++;
			e = p;
			if (*p == '"')
				p++;
			if (e > start && search_add(out, SEARCH_PHRASE, neg,
						    search_strndup(start, (size_t)(e - start))) < 0)
				goto fail;
			continue;
		}
		start = p;
		while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z'))
			p++;
		klen = (size_t)(p - start);
		if (*p == ':' && klen > 0 && !search_space(p[1]) && p[1] != '\0') {
			for (size_t i = 0; i < sizeof(search_ops) / sizeof(search_ops[0]); i++) {
				if (strlen(search_ops[i].name) == klen &&
				    strncasecmp_ascii(search_ops[i].name, start, klen) == 0) {
					op = (int)i;
					break;
				}
			}
		}
		if (op >= 0) {
			enum search_kind kind = search_ops[op].kind;
			const char *v = p + 1, *ve;
			char *value;

			if (*v == '"') {
				v++;
				ve = v;
				while (*ve != '\0' && *ve != '"')
					ve++;
				p = *ve == '"' ? ve + 1 : ve;
			} else {
				ve = v;
				while (*ve != '\0' && !search_space(*ve))
					ve++;
				p = ve;
			}
			value = search_strndup(v, (size_t)(ve - v));
			if (kind == SEARCH_HAS_ATTACHMENT) {
				bool att = strcmp(value, "attachment") == 0 ||
					   strcmp(value, "attachments") == 0;

				free(value);
				if (!att) {
					/* has:other is a plain word. */
					if (search_add(out, SEARCH_WORD, neg,
						       search_strndup(start, (size_t)(p - start))) < 0)
						goto fail;
					continue;
				}
				value = NULL;
			} else if (value[0] == '\0') {
				free(value);
				continue;
			} else if ((kind == SEARCH_BEFORE || kind == SEARCH_AFTER) &&
				   !search_date_valid(value)) {
				free(value);
				snprintf(out->error, sizeof(out->error),
					 "%s: expects a date like 2026-01-31.", search_ops[op].name);
				goto fail;
			}
			if (search_add(out, kind, neg, value) < 0)
				goto fail;
			continue;
		}
		/* A plain word (unknown operators included) runs to the next space. */
		while (*p != '\0' && !search_space(*p))
			p++;
		if (search_add(out, SEARCH_WORD, neg,
			       search_strndup(start, (size_t)(p - start))) < 0)
			goto fail;
	}
	return 0;
fail:
	{
		char err[sizeof(out->error)];

		memcpy(err, out->error, sizeof(err));
		search_query_free(out);
		memcpy(out->error, err, sizeof(err));
	}
	return -1;
}

void
search_query_free(struct search_query *q)
{
	for (size_t i = 0; i < q->n; i++)
		free(q->terms[i].value);
	memset(q, 0, sizeof(*q));
}

char *
search_like_pattern(const char *value)
{
	size_t n = strlen(value);
	char *r = xmalloc(2 * n + 3), *o = r;

	*o++ = '%';
	for (size_t i = 0; i < n; i++) {
		if (value[i] == '\\' || value[i] == '%' || value[i] == '_')
			*o++ = '\\';
		*o++ = value[i];
	}
	*o++ = '%';
	*o = '\0';
	return r;
}

/* ---- SQL ---- */

struct search_buf {
	char *s;
	size_t len, cap;
};

static void
sb_add(struct search_buf *b, const char *s)
{
	size_t n = strlen(s);

	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;

		while (b->len + n + 1 > cap)
			cap *= 2;
		b->s = xreallocarray(b->s, cap, 1);
		b->cap = cap;
	}
	memcpy(b->s + b->len, s, n + 1);
	b->len += n;
}

static void
sb_param(struct search_buf *b, int n)
{
	char num[16];

	snprintf(num, sizeof(num), "$%d", n);
	sb_add(b, num);
}

/* Appends one fixed piece with every '?' replaced by the placeholder $n. */
static void
sb_piece(struct search_buf *b, const char *piece, int n)
{
	for (const char *p = piece; *p != '\0'; p++) {
		if (*p == '?') {
			sb_param(b, n);
		} else {
			char c[2] = { *p, '\0' };

			sb_add(b, c);
		}
	}
}

/* A word or phrase for websearch_to_tsquery: always double-quoted (so that "or" and a
 * leading '-' stay words), its own double quotes turned into spaces. */
static void
sb_tsword(struct search_buf *b, const struct search_term *t)
{
	char *v;
	bool blank = true;

	for (const char *p = t->value; *p != '\0'; p++) {
		if (*p != '"' && !search_space(*p))
			blank = false;
	}
	if (blank)
		return;
	v = xstrdup(t->value);
	for (char *p = v; *p != '\0'; p++) {
		if (*p == '"')
			*p = ' ';
	}
	if (b->len > 0)
		sb_add(b, " ");
	if (t->negated)
		sb_add(b, "-");
	sb_add(b, "\"");
	sb_add(b, v);
	sb_add(b, "\"");
	free(v);
}

static const char *
search_piece(enum search_kind kind)
{
	switch (kind) {
	/* The people columns are lower-cased (sql/0005_search_people.up.sql): LIKE with the
	 * pattern lower-cased by the same lower() is a case-insensitive match, cheaper per
	 * row than ILIKE; the trigram indexes serve both. */
	case SEARCH_FROM:
		return "from_text LIKE lower(?)";
	case SEARCH_TO:
		return "to_text LIKE lower(?)";
	case SEARCH_SUBJECT:
		return "subject ILIKE ?";
	case SEARCH_HAS_ATTACHMENT:
		return "has_attachments";
	case SEARCH_BEFORE:
		return "received_at < ?::date";
	case SEARCH_AFTER:
		return "received_at >= ?::date + 1";
	case SEARCH_IN:
		/* Any folder the message is in (a message can be in several). */
		return "id IN (SELECT l.message_id FROM mail_locations l JOIN mail_folders f "
		       "ON f.id = l.folder_id WHERE f.role = lower(?) OR lower(f.name) = lower(?))";
	case SEARCH_CATEGORY:
		return "category = lower(?)";
	case SEARCH_WORD:
	case SEARCH_PHRASE:
		break;
	}
	return "TRUE";
}

void
search_build_sql(const struct search_query *q, int first, struct search_sql *out)
{
	struct search_buf w = { 0 }, ts = { 0 };
	size_t nclauses = 0;

	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < q->n; i++) {
		if (q->terms[i].kind == SEARCH_WORD || q->terms[i].kind == SEARCH_PHRASE)
			sb_tsword(&ts, &q->terms[i]);
	}
	if (ts.len > 0) {
		sb_piece(&w, "search @@ websearch_to_tsquery('simple', ?)", first);
		out->params[out->nparams++] = ts.s;
		ts.s = NULL;
		nclauses++;
	}
	free(ts.s);
	for (size_t i = 0; i < q->n; i++) {
		const struct search_term *t = &q->terms[i];
		int n = first + (int)out->nparams;

		if (t->kind == SEARCH_WORD || t->kind == SEARCH_PHRASE)
			continue;
		if (nclauses++ > 0)
			sb_add(&w, " AND ");
		if (t->negated)
			sb_add(&w, "NOT ");
		sb_add(&w, "(");
		sb_piece(&w, search_piece(t->kind), n);
		sb_add(&w, ")");
		switch (t->kind) {
		case SEARCH_FROM:
		case SEARCH_TO:
		case SEARCH_SUBJECT:
			out->params[out->nparams++] = search_like_pattern(t->value);
			break;
		case SEARCH_HAS_ATTACHMENT:
			break;
		default:
			out->params[out->nparams++] = xstrdup(t->value);
			break;
		}
	}
	if (nclauses == 0)
		sb_add(&w, "TRUE");
	out->where = w.s;
}

void
search_sql_free(struct search_sql *s)
{
	free(s->where);
	for (size_t i = 0; i < s->nparams; i++)
		free(s->params[i]);
	memset(s, 0, sizeof(*s));
}
