/* imap-parse.c: the reader and parser of IMAP responses (RFC 3501 section 7, RFC 7162's
 * VANISHED, RFC 4731's ESEARCH) and modified UTF-7 (RFC 3501 5.1.3). Every input is the
 * server's and may be anything: lengths are bounded, nesting is bounded, and a literal is
 * taken by its byte count, so a message that holds "A001 OK" or "* BYE" is only text. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "imap-parse.h"
#include "imap.h"
#include "util.h"

/* ---- the reader */

void
imap_reader_init(struct imap_reader *r)
{
	memset(r, 0, sizeof(*r));
	r->line_max = IMAP_LINE_MAX;
	r->literal_max = IMAP_LITERAL_MAX;
	r->response_max = IMAP_RESPONSE_MAX;
}

void
imap_reader_free(struct imap_reader *r)
{
	free(r->buf);
	r->buf = NULL;
	r->len = r->cap = 0;
}

void
imap_reader_next(struct imap_reader *r)
{
	/* A huge buffer (a large message) is not kept for the small responses after it. */
	if (r->cap > 4 * IMAP_LINE_MAX) {
		free(r->buf);
		r->buf = NULL;
		r->cap = 0;
	}
	r->len = r->line_start = 0;
	r->literal_left = 0;
	r->draining = r->complete = 0;
	r->err[0] = '\0';
}

static void
imap_reader_reserve(struct imap_reader *r, size_t more)
{
	size_t need = r->len + more + 1;

	if (need <= r->cap)
		return;
	if (need < r->cap * 2)
		need = r->cap * 2;
	if (need < 256)
		need = 256;
	r->buf = xreallocarray(r->buf, need, 1);
	r->cap = need;
}

static void
imap_reader_append(struct imap_reader *r, const char *p, size_t n)
{
	imap_reader_reserve(r, n);
	memcpy(r->buf + r->len, p, n);
	r->len += n;
	r->buf[r->len] = '\0';
}

/* The line just ended (buf[line_start..len) with its CRLF) announces a literal when it
 * ends with {N} or {N+}: its size in *n and where the '{' is in *brace. */
static int
imap_reader_literal(const struct imap_reader *r, uint64_t *n, size_t *brace)
{
	size_t end = r->len, i, digits;
	uint64_t v = 0;

	if (end > r->line_start && r->buf[end - 1] == '\n')
		end--;
	if (end > r->line_start && r->buf[end - 1] == '\r')
		end--;
	if (end <= r->line_start || r->buf[end - 1] != '}')
		return 0;
	i = --end;
	if (i > r->line_start && r->buf[i - 1] == '+')
		i--;
	digits = 0;
	while (i > r->line_start && r->buf[i - 1] >= '0' && r->buf[i - 1] <= '9') {
		i--;
		digits++;
	}
	if (digits == 0 || digits > 10 || i == r->line_start || r->buf[i - 1] != '{')
		return 0;
	for (size_t k = i; k < i + digits; k++)
		v = v * 10 + (uint64_t)(r->buf[k] - '0');
	if (v > UINT32_MAX)
		return 0;
	*n = v;
	*brace = i - 1;
	return 1;
}

ssize_t
imap_reader_feed(struct imap_reader *r, const char *data, size_t n)
{
	size_t used = 0;

	if (r->complete)
		return 0;
	while (used < n) {
		if (r->literal_left > 0) {
			size_t take = n - used;

			if (take > r->literal_left)
				take = (size_t)r->literal_left;
			if (!r->draining)
				imap_reader_append(r, data + used, take);
			used += take;
			r->literal_left -= take;
			if (r->literal_left == 0)
				r->line_start = r->len;
			continue;
		}
		const char *nl = memchr(data + used, '\n', n - used);
		size_t take = nl != NULL ? (size_t)(nl - (data + used)) + 1 : n - used;

		if (r->len - r->line_start + take > r->line_max + 2) {
			snprintf(r->err, sizeof(r->err), "a line longer than %zu bytes",
			    r->line_max);
			return -1;
		}
		if (r->len + take > r->response_max) {
			snprintf(r->err, sizeof(r->err), "a response larger than %zu bytes",
			    r->response_max);
			return -1;
		}
		imap_reader_append(r, data + used, take);
		used += take;
		if (nl == NULL)
			break;

		uint64_t lit;
		size_t brace;

		if (!imap_reader_literal(r, &lit, &brace)) {
			r->complete = 1;
			break;
		}
		if (lit > r->literal_max || r->len + lit > r->response_max) {
			/* Rewritten as {N!}: the parser sees a literal it does not have. */
			char mark[32];
			int m = snprintf(mark, sizeof(mark), "{%llu!}\r\n",
			    (unsigned long long)lit);

			r->len = brace;
			imap_reader_append(r, mark, (size_t)m);
			r->draining = 1;
		} else {
			r->draining = 0;
			/* Room for what is announced, up to a point: the bytes must come first. */
			imap_reader_reserve(r, lit < 1024 * 1024 ? (size_t)lit : 1024 * 1024);
		}
		r->literal_left = lit;
		r->line_start = r->len;
	}
	return (ssize_t)used;
}

/* ---- the parser */

struct imap_cursor {
	char *start;
	char *p;
	char *end;
	struct imap_resp *r;
	int depth;
};

static int
imap_fail(struct imap_cursor *c, const char *what)
{
	snprintf(c->r->err, sizeof(c->r->err), "%s at byte %zu", what,
	    (size_t)(c->p - c->start));
	return -1;
}

void
imap_resp_free(struct imap_resp *r)
{
	free(r->nodes);
	memset(r, 0, sizeof(*r));
}

const struct imap_node *
imap_node(const struct imap_resp *r, int i)
{
	if (i < 0 || (size_t)i >= r->nnodes)
		return NULL;
	return &r->nodes[i];
}

static int
imap_new_node(struct imap_cursor *c, enum imap_type type)
{
	struct imap_resp *r = c->r;

	if (r->nnodes >= IMAP_NODES_MAX)
		return -1;
	if (r->nnodes == r->ncap) {
		r->ncap = r->ncap == 0 ? 32 : r->ncap * 2;
		r->nodes = xreallocarray(r->nodes, r->ncap, sizeof(*r->nodes));
	}
	r->nodes[r->nnodes] = (struct imap_node){ type, NULL, 0, -1, -1 };
	return (int)r->nnodes++;
}

static int
imap_is_atom_char(unsigned char ch)
{
	return ch > 0x20 && ch < 0x7f && ch != '(' && ch != ')' && ch != '{' && ch != '"';
}

static int
imap_at_eol(const struct imap_cursor *c)
{
	return c->p >= c->end || *c->p == '\r' || *c->p == '\n';
}

/* An atom; "[...]" inside it (BODY[HEADER.FIELDS (A B)]) is taken whole. */
static int
imap_parse_atom(struct imap_cursor *c, struct imap_str *out)
{
	char *start = c->p;

	while (c->p < c->end) {
		unsigned char ch = (unsigned char)*c->p;

		if (ch == '[') {
			while (c->p < c->end && *c->p != ']' && *c->p != '\r' &&
			    *c->p != '\n')
				c->p++;
			if (c->p >= c->end || *c->p != ']')
				return imap_fail(c, "an unclosed [");
			c->p++;
			continue;
		}
		if (!imap_is_atom_char(ch))
			break;
		c->p++;
	}
	if (c->p == start)
		return imap_fail(c, "an unexpected character");
	out->s = start;
	out->len = (size_t)(c->p - start);
	return 0;
}

static int
imap_parse_quoted(struct imap_cursor *c, struct imap_str *out)
{
	char *w;

	c->p++;
	w = c->p;
	out->s = w;
	for (;;) {
		if (c->p >= c->end || *c->p == '\r' || *c->p == '\n')
			return imap_fail(c, "an unterminated quoted string");
		if (*c->p == '"')
			break;
		if (*c->p == '\\') {
			c->p++;
			if (c->p >= c->end || (*c->p != '\\' && *c->p != '"'))
				return imap_fail(c, "a bad escape in a quoted string");
		}
		*w++ = *c->p++;
	}
	out->len = (size_t)(w - out->s);
	c->p++;
	return 0;
}

/* {N}, {N+} then CRLF and N bytes; {N!} (a literal the reader dropped) then CRLF. */
static int
imap_parse_literal(struct imap_cursor *c, struct imap_str *out, int *big)
{
	uint64_t n = 0;
	int digits = 0;

	c->p++;
	while (c->p < c->end && *c->p >= '0' && *c->p <= '9' && digits < 11) {
		n = n * 10 + (uint64_t)(*c->p - '0');
		c->p++;
		digits++;
	}
	if (digits == 0 || digits > 10 || n > UINT32_MAX)
		return imap_fail(c, "a bad literal size");
	*big = 0;
	if (c->p < c->end && (*c->p == '+' || *c->p == '!')) {
		*big = *c->p == '!';
		c->p++;
	}
	if (c->p >= c->end || *c->p != '}')
		return imap_fail(c, "a bad literal");
	c->p++;
	if (c->p < c->end && *c->p == '\r')
		c->p++;
	if (c->p >= c->end || *c->p != '\n')
		return imap_fail(c, "a literal without its line end");
	c->p++;
	if (*big) {
		out->s = NULL;
		out->len = (size_t)n;
		return 0;
	}
	if ((uint64_t)(c->end - c->p) < n)
		return imap_fail(c, "a literal cut short");
	out->s = c->p;
	out->len = (size_t)n;
	c->p += n;
	return 0;
}

static int imap_parse_items(struct imap_cursor *c, int in_list, int *first);

static int
imap_parse_item(struct imap_cursor *c, int *idx)
{
	struct imap_str s = { NULL, 0 };
	enum imap_type type;
	int i, big = 0;

	switch (*c->p) {
	case '(':
		if (++c->depth > IMAP_DEPTH_MAX)
			return imap_fail(c, "lists nested too deep");
		if ((i = imap_new_node(c, IMAP_LIST)) == -1)
			return imap_fail(c, "too many values");
		c->p++;
		{
			int child;

			if (imap_parse_items(c, 1, &child) == -1)
				return -1;
			c->r->nodes[i].child = child;
		}
		if (c->p >= c->end || *c->p != ')')
			return imap_fail(c, "an unclosed list");
		c->p++;
		c->depth--;
		*idx = i;
		return 0;
	case '"':
		if (imap_parse_quoted(c, &s) == -1)
			return -1;
		type = IMAP_STRING;
		break;
	case '{':
		if (imap_parse_literal(c, &s, &big) == -1)
			return -1;
		type = big ? IMAP_BIG : IMAP_STRING;
		break;
	default:
		if (imap_parse_atom(c, &s) == -1)
			return -1;
		type = imap_str_is(s.s, s.len, "NIL") ? IMAP_NIL : IMAP_ATOM;
		break;
	}
	if ((i = imap_new_node(c, type)) == -1)
		return imap_fail(c, "too many values");
	c->r->nodes[i].s = s.s;
	c->r->nodes[i].len = s.len;
	*idx = i;
	return 0;
}

/* Items separated by spaces, up to ')' (in a list) or the end of the line. */
static int
imap_parse_items(struct imap_cursor *c, int in_list, int *first)
{
	int prev = -1, i = -1;

	*first = -1;
	for (;;) {
		if (imap_at_eol(c))
			return in_list ? imap_fail(c, "an unclosed list") : 0;
		if (*c->p == ')') {
			if (in_list)
				return 0;
			return imap_fail(c, "an unexpected )");
		}
		/* Items are separated by one space; servers that put more are forgiven. */
		if (*c->p == ' ') {
			c->p++;
			continue;
		}
		if (imap_parse_item(c, &i) == -1)
			return -1;
		if (prev == -1)
			*first = i;
		else
			c->r->nodes[prev].next = i;
		prev = i;
		if (!imap_at_eol(c) && *c->p != ' ' && *c->p != ')')
			return imap_fail(c, "values not separated by a space");
	}
}

static struct imap_str
imap_take_word(struct imap_cursor *c)
{
	struct imap_str w = { c->p, 0 };

	while (c->p < c->end && *c->p != ' ' && *c->p != '\r' && *c->p != '\n')
		c->p++;
	w.len = (size_t)(c->p - w.s);
	return w;
}

static struct imap_str
imap_take_text(struct imap_cursor *c)
{
	struct imap_str t = { c->p, 0 };

	while (c->p < c->end && *c->p != '\r' && *c->p != '\n')
		c->p++;
	t.len = (size_t)(c->p - t.s);
	return t;
}

/* [CODE args] text, after OK/NO/BAD/BYE/PREAUTH. */
static int
imap_parse_resp_text(struct imap_cursor *c)
{
	struct imap_resp *r = c->r;

	if (c->p < c->end && *c->p == ' ')
		c->p++;
	if (c->p < c->end && *c->p == '[') {
		c->p++;
		r->code.s = c->p;
		while (c->p < c->end && *c->p != ' ' && *c->p != ']' && *c->p != '\r' &&
		    *c->p != '\n')
			c->p++;
		r->code.len = (size_t)(c->p - r->code.s);
		if (c->p < c->end && *c->p == ' ') {
			c->p++;
			r->code_args.s = c->p;
			while (c->p < c->end && *c->p != ']' && *c->p != '\r' && *c->p != '\n')
				c->p++;
			r->code_args.len = (size_t)(c->p - r->code_args.s);
		}
		if (c->p >= c->end || *c->p != ']')
			return imap_fail(c, "an unclosed response code");
		c->p++;
		if (c->p < c->end && *c->p == ' ')
			c->p++;
	}
	r->text = imap_take_text(c);
	return 0;
}

static enum imap_cond
imap_cond_of(struct imap_str w)
{
	if (imap_str_is(w.s, w.len, "OK"))
		return IMAP_COND_OK;
	if (imap_str_is(w.s, w.len, "NO"))
		return IMAP_COND_NO;
	if (imap_str_is(w.s, w.len, "BAD"))
		return IMAP_COND_BAD;
	if (imap_str_is(w.s, w.len, "BYE"))
		return IMAP_COND_BYE;
	if (imap_str_is(w.s, w.len, "PREAUTH"))
		return IMAP_COND_PREAUTH;
	return IMAP_COND_NONE;
}

int
imap_parse(struct imap_resp *r, char *buf, size_t len)
{
	struct imap_cursor c = { buf, buf, buf + len, r, 0 };
	struct imap_str w;

	r->nnodes = 0;
	r->kind = IMAP_KIND_UNTAGGED;
	r->cond = IMAP_COND_NONE;
	r->tag = r->code = r->code_args = r->text = r->name = r->rest =
	    (struct imap_str){ NULL, 0 };
	r->has_num = 0;
	r->num = 0;
	r->first = -1;
	r->err[0] = '\0';
	if (len == 0)
		return imap_fail(&c, "an empty response");
	if (*c.p == '+') {
		r->kind = IMAP_KIND_CONTINUE;
		c.p++;
		if (c.p < c.end && *c.p == ' ')
			c.p++;
		r->text = imap_take_text(&c);
		return 0;
	}
	w = imap_take_word(&c);
	if (w.len == 0)
		return imap_fail(&c, "a response without a tag");
	if (!(w.len == 1 && *w.s == '*')) {
		for (size_t i = 0; i < w.len; i++) {
			if (!imap_is_atom_char((unsigned char)w.s[i]) || w.s[i] == '+')
				return imap_fail(&c, "a bad tag");
		}
		r->kind = IMAP_KIND_TAGGED;
		r->tag = w;
	}
	if (c.p >= c.end || *c.p != ' ')
		return imap_fail(&c, "a response that ends after its tag");
	c.p++;
	w = imap_take_word(&c);
	if (w.len > 0 && w.s[0] >= '0' && w.s[0] <= '9' && r->kind == IMAP_KIND_UNTAGGED) {
		if (imap_parse_u32(w.s, w.len, &r->num) == -1)
			return imap_fail(&c, "a bad message number");
		r->has_num = 1;
		if (c.p >= c.end || *c.p != ' ')
			return imap_fail(&c, "a number without a name");
		c.p++;
		w = imap_take_word(&c);
	}
	if (w.len == 0)
		return imap_fail(&c, "a response without a name");
	/* "* OK[ALERT]" and the like: the word stops at '['. */
	for (size_t i = 0; i < w.len; i++) {
		if (w.s[i] == '[' || w.s[i] == '(') {
			c.p = c.start + (w.s - c.start) + i;
			w.len = i;
			break;
		}
	}
	r->cond = r->has_num ? IMAP_COND_NONE : imap_cond_of(w);
	if (r->cond != IMAP_COND_NONE)
		return imap_parse_resp_text(&c);
	if (r->kind == IMAP_KIND_TAGGED)
		return imap_fail(&c, "a tagged response that is not OK, NO or BAD");
	for (size_t i = 0; i < w.len; i++) {
		if (!imap_is_atom_char((unsigned char)w.s[i]))
			return imap_fail(&c, "a bad response name");
	}
	r->name = w;
	if (c.p < c.end && *c.p == ' ')
		c.p++;
	if (imap_str_is(w.s, w.len, "SEARCH")) {
		r->rest = imap_take_text(&c);
		return 0;
	}
	if (imap_parse_items(&c, 0, &r->first) == -1)
		return -1;
	return 0;
}

/* ---- small values */

static int
imap_ncaseeq(const char *x, const char *y, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char a = (unsigned char)x[i], b = (unsigned char)y[i];

		if (a >= 'a' && a <= 'z')
			a -= 32;
		if (b >= 'a' && b <= 'z')
			b -= 32;
		if (a != b)
			return 0;
	}
	return 1;
}

int
imap_str_is(const char *s, size_t len, const char *lit)
{
	return s != NULL && len == strlen(lit) && imap_ncaseeq(s, lit, len);
}

int
imap_node_is(const struct imap_node *n, const char *lit)
{
	return n != NULL && (n->type == IMAP_ATOM || n->type == IMAP_STRING) &&
	    imap_str_is(n->s, n->len, lit);
}

int
imap_parse_u64(const char *s, size_t len, uint64_t *out)
{
	uint64_t v = 0;

	if (s == NULL || len == 0 || len > 20)
		return -1;
	for (size_t i = 0; i < len; i++) {
		unsigned d;

		if (s[i] < '0' || s[i] > '9')
			return -1;
		d = (unsigned)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

int
imap_parse_u32(const char *s, size_t len, uint32_t *out)
{
	uint64_t v;

	if (imap_parse_u64(s, len, &v) == -1 || v > UINT32_MAX)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

static int
imap_digits(const char *s, int n)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

int
imap_parse_date(const char *s, size_t len, int64_t *out)
{
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	char b[27];
	int day, mon = -1, year, hh, mm, ss, zh, zm;
	int64_t t;

	/* "dd-Mon-yyyy": the day may be padded with a space, or not at all. */
	if (len == 25) {
		b[0] = '0';
		memcpy(b + 1, s, len);
	} else if (len == 26) {
		memcpy(b, s, len);
		if (b[0] == ' ')
			b[0] = '0';
	} else {
		return -1;
	}
	b[26] = '\0';
	if (b[2] != '-' || b[6] != '-' || b[11] != ' ' || b[14] != ':' || b[17] != ':' ||
	    b[20] != ' ' || (b[21] != '+' && b[21] != '-'))
		return -1;
	for (int i = 0; i < 12; i++) {
		if (imap_ncaseeq(b + 3, months + i * 3, 3))
			mon = i + 1;
	}
	day = imap_digits(b, 2);
	year = imap_digits(b + 7, 4);
	hh = imap_digits(b + 12, 2);
	mm = imap_digits(b + 15, 2);
	ss = imap_digits(b + 18, 2);
	zh = imap_digits(b + 22, 2);
	zm = imap_digits(b + 24, 2);
	if (mon == -1 || day < 1 || day > 31 || year < 0 || hh < 0 || hh > 23 || mm < 0 ||
	    mm > 59 || ss < 0 || ss > 60 || zh < 0 || zm < 0 || zm > 59)
		return -1;
	struct tm tm = { .tm_year = year - 1900, .tm_mon = mon - 1, .tm_mday = day,
	    .tm_hour = hh, .tm_min = mm, .tm_sec = ss };

	/* Every year 0-9999 fits a 64-bit time_t; a 31-Feb (no server sends one) rolls over. */
	t = (int64_t)timegm(&tm);
	t += (b[21] == '+' ? -1 : 1) * (int64_t)(zh * 3600 + zm * 60);
	*out = t;
	return 0;
}

int
imap_search_next(const struct imap_resp *r, size_t *pos, uint32_t *uid)
{
	const char *s = r->rest.s;
	size_t n = r->rest.len, i = *pos, start;

	while (i < n && s[i] == ' ')
		i++;
	/* "(MODSEQ n)" may close a SEARCH answer: no UID after it. */
	if (i >= n || s[i] == '(') {
		*pos = n;
		return 0;
	}
	start = i;
	while (i < n && s[i] != ' ')
		i++;
	*pos = i;
	if (imap_parse_u32(s + start, i - start, uid) == -1 || *uid == 0)
		return -1;
	return 1;
}

/* ---- UID sets */

int
imap_uidset_each(const char *s, size_t len, uint32_t lo, uint32_t hi, size_t max,
    int (*fn)(void *arg, uint32_t uid), void *arg)
{
	size_t i = 0, count = 0;

	if (s == NULL || len == 0)
		return -1;
	while (i < len) {
		size_t start = i;
		uint32_t a, b;

		while (i < len && s[i] >= '0' && s[i] <= '9')
			i++;
		if (imap_parse_u32(s + start, i - start, &a) == -1 || a == 0)
			return -1;
		b = a;
		if (i < len && s[i] == ':') {
			start = ++i;
			while (i < len && s[i] >= '0' && s[i] <= '9')
				i++;
			if (imap_parse_u32(s + start, i - start, &b) == -1 || b == 0)
				return -1;
			if (b < a) {
				uint32_t t = a;

				a = b;
				b = t;
			}
		}
		if (i < len) {
			if (s[i] != ',' || i + 1 == len)
				return -1;
			i++;
		}
		if (a < lo)
			a = lo;
		if (b > hi)
			b = hi;
		if (a > b)
			continue;
		if ((uint64_t)b - a + 1 > max - count)
			return -1;
		count += (size_t)(b - a) + 1;
		for (uint64_t u = a; u <= b; u++) {
			if (fn(arg, (uint32_t)u) != 0)
				return 1;
		}
	}
	return 0;
}

size_t
imap_uidset_format(const uint32_t *uids, size_t n, char *out, size_t outlen)
{
	size_t i = 0, pos = 0;

	out[0] = '\0';
	while (i < n) {
		size_t j = i;
		char piece[32];
		int len;

		while (j + 1 < n && uids[j + 1] == uids[j] + 1)
			j++;
		if (j == i)
			len = snprintf(piece, sizeof(piece), "%s%u", pos ? "," : "", uids[i]);
		else
			len = snprintf(piece, sizeof(piece), "%s%u:%u", pos ? "," : "",
			    uids[i], uids[j]);
		if (pos + (size_t)len + 1 > outlen)
			break;
		memcpy(out + pos, piece, (size_t)len + 1);
		pos += (size_t)len;
		i = j + 1;
	}
	return i;
}

static int
imap_u32_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

size_t
imap_uids_sort(uint32_t *uids, size_t n)
{
	size_t k = 0;

	if (n > 1)
		qsort(uids, n, sizeof(*uids), imap_u32_cmp);
	for (size_t i = 0; i < n; i++) {
		if (uids[i] != 0 && (k == 0 || uids[k - 1] != uids[i]))
			uids[k++] = uids[i];
	}
	return k;
}

/* ---- FETCH, LIST, ESEARCH, VANISHED */

int
imap_fetch_parse(const struct imap_resp *r, struct imap_fetch *f)
{
	const struct imap_node *list = imap_node(r, r->first), *k, *v;

	memset(f, 0, sizeof(*f));
	f->flags = -1;
	if (list == NULL || list->type != IMAP_LIST)
		return -1;
	for (k = imap_node(r, list->child); k != NULL; k = imap_node(r, v->next)) {
		if ((v = imap_node(r, k->next)) == NULL || k->type != IMAP_ATOM)
			return -1;
		if (imap_node_is(k, "UID")) {
			if (v->type != IMAP_ATOM || imap_parse_u32(v->s, v->len, &f->uid) == -1)
				return -1;
		} else if (imap_node_is(k, "FLAGS")) {
			if (v->type != IMAP_LIST)
				return -1;
			for (const struct imap_node *fl = imap_node(r, v->child); fl != NULL;
			    fl = imap_node(r, fl->next)) {
				if (fl->type != IMAP_ATOM)
					return -1;
			}
			f->has_flags = 1;
			f->flags = (int)(v - r->nodes);
		} else if (imap_node_is(k, "INTERNALDATE")) {
			if (v->type != IMAP_STRING ||
			    imap_parse_date(v->s, v->len, &f->internal_date) == -1)
				return -1;
			f->has_date = 1;
		} else if (imap_node_is(k, "RFC822.SIZE")) {
			if (v->type != IMAP_ATOM || imap_parse_u32(v->s, v->len, &f->size) == -1)
				return -1;
		} else if (imap_node_is(k, "MODSEQ")) {
			const struct imap_node *m = imap_node(r, v->child);

			if (v->type != IMAP_LIST || m == NULL || m->type != IMAP_ATOM ||
			    imap_parse_u64(m->s, m->len, &f->modseq) == -1)
				return -1;
		} else if (imap_node_is(k, "BODY[]") || imap_node_is(k, "BODY[HEADER]")) {
			struct imap_str *dst = k->len == 6 ? &f->body : &f->header;

			/* Given twice, the last one counts, whole. */
			if (v->type == IMAP_STRING) {
				dst->s = v->s != NULL ? v->s : "";
				dst->len = v->len;
				if (dst == &f->body)
					f->body_big = 0;
			} else if (v->type == IMAP_BIG && dst == &f->body) {
				f->body_big = 1;
				dst->s = NULL;
				dst->len = v->len;
			} else if (v->type != IMAP_NIL) {
				return -1;
			}
		}
		/* Anything else (BODY[]<0>, X-GM-LABELS...) is not ours: skipped. */
	}
	return 0;
}

int
imap_list_parse(const struct imap_resp *r, struct imap_list *l)
{
	static const struct {
		const char *name;
		unsigned flag;
	} attrs[] = {
		{ "\\Noselect", IMAP_LIST_NOSELECT }, { "\\NonExistent", IMAP_LIST_NOSELECT },
		{ "\\Sent", IMAP_LIST_SENT }, { "\\Drafts", IMAP_LIST_DRAFTS },
		{ "\\Archive", IMAP_LIST_ARCHIVE }, { "\\All", IMAP_LIST_ALL },
		{ "\\Trash", IMAP_LIST_TRASH }, { "\\Junk", IMAP_LIST_JUNK },
	};
	const struct imap_node *fl = imap_node(r, r->first), *d, *name, *a;

	memset(l, 0, sizeof(*l));
	if (fl == NULL || fl->type != IMAP_LIST || (d = imap_node(r, fl->next)) == NULL ||
	    (name = imap_node(r, d->next)) == NULL)
		return -1;
	for (a = imap_node(r, fl->child); a != NULL; a = imap_node(r, a->next)) {
		if (a->type != IMAP_ATOM)
			return -1;
		for (size_t i = 0; i < MR_ARRAY_LEN(attrs); i++) {
			if (imap_node_is(a, attrs[i].name))
				l->flags |= attrs[i].flag;
		}
	}
	if (d->type == IMAP_STRING && d->len == 1)
		l->delimiter = d->s[0];
	else if (d->type != IMAP_NIL)
		return -1;
	if ((name->type != IMAP_STRING && name->type != IMAP_ATOM) || name->len == 0)
		return -1;
	l->name.s = name->s;
	l->name.len = name->len;
	if (memchr(name->s, '\0', name->len) != NULL)
		return -1;
	return 0;
}

int
imap_esearch_all(const struct imap_resp *r, struct imap_str *set)
{
	const struct imap_node *n = imap_node(r, r->first);

	set->s = NULL;
	set->len = 0;
	/* (TAG "x") first, then UID, then name/value pairs. */
	if (n != NULL && n->type == IMAP_LIST)
		n = imap_node(r, n->next);
	if (n != NULL && imap_node_is(n, "UID"))
		n = imap_node(r, n->next);
	while (n != NULL) {
		const struct imap_node *v = imap_node(r, n->next);

		if (v == NULL || n->type != IMAP_ATOM)
			return -1;
		if (imap_node_is(n, "ALL")) {
			if (v->type != IMAP_ATOM)
				return -1;
			set->s = v->s;
			set->len = v->len;
		}
		n = imap_node(r, v->next);
	}
	return 0;
}

int
imap_vanished(const struct imap_resp *r, struct imap_str *set, int *earlier)
{
	const struct imap_node *n = imap_node(r, r->first);

	*earlier = 0;
	if (n != NULL && n->type == IMAP_LIST) {
		const struct imap_node *e = imap_node(r, n->child);

		if (!imap_node_is(e, "EARLIER") || e->next != -1)
			return -1;
		*earlier = 1;
		n = imap_node(r, n->next);
	}
	if (n == NULL || n->type != IMAP_ATOM || n->next != -1)
		return -1;
	set->s = n->s;
	set->len = n->len;
	return 0;
}

int
imap_flag_valid(const char *s)
{
	static const char *const system[] = {
		"\\Seen", "\\Answered", "\\Flagged", "\\Deleted", "\\Draft"
	};
	size_t n = strlen(s);

	if (s[0] == '\\') {
		for (size_t i = 0; i < MR_ARRAY_LEN(system); i++) {
			if (imap_str_is(s, n, system[i]))
				return 1;
		}
		return 0;
	}
	if (n == 0 || n > 256)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];

		/* ATOM-CHAR minus the list, quoted and resp specials. */
		if (ch <= 0x20 || ch >= 0x7f || strchr("(){%*\"\\]", ch) != NULL)
			return 0;
	}
	return 1;
}

/* ---- modified UTF-7 */

static const char imap_b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

static int
imap_b64_val(unsigned char ch)
{
	const char *p;

	if (ch == '\0' || (p = strchr(imap_b64, ch)) == NULL)
		return -1;
	return (int)(p - imap_b64);
}

static void
imap_put_utf8(char **w, uint32_t cp)
{
	unsigned char *o = (unsigned char *)*w;

	if (cp < 0x80) {
		*o++ = (unsigned char)cp;
	} else if (cp < 0x800) {
		*o++ = (unsigned char)(0xc0 | (cp >> 6));
		*o++ = (unsigned char)(0x80 | (cp & 0x3f));
	} else if (cp < 0x10000) {
		*o++ = (unsigned char)(0xe0 | (cp >> 12));
		*o++ = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
		*o++ = (unsigned char)(0x80 | (cp & 0x3f));
	} else {
		*o++ = (unsigned char)(0xf0 | (cp >> 18));
		*o++ = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
		*o++ = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
		*o++ = (unsigned char)(0x80 | (cp & 0x3f));
	}
	*w = (char *)o;
}

/* One base64 run s[0..n) (between '&' and '-') as UTF-8 at *w. */
static int
imap_mutf7_run(const char *s, size_t n, char **w)
{
	uint32_t bits = 0, high = 0;
	int nbits = 0, units = 0;

	for (size_t i = 0; i < n; i++) {
		int v = imap_b64_val((unsigned char)s[i]);

		if (v == -1)
			return -1;
		bits = (bits << 6) | (uint32_t)v;
		nbits += 6;
		if (nbits < 16)
			continue;
		nbits -= 16;
		uint32_t u = (bits >> nbits) & 0xffff;

		bits &= (1u << nbits) - 1;
		units++;
		if (high != 0) {
			if (u < 0xdc00 || u > 0xdfff)
				return -1;
			imap_put_utf8(w, 0x10000 + ((high - 0xd800) << 10) + (u - 0xdc00));
			high = 0;
		} else if (u >= 0xd800 && u <= 0xdbff) {
			high = u;
		} else if (u >= 0xdc00 && u <= 0xdfff) {
			return -1;
		} else if (u == 0 || (u >= 0x20 && u <= 0x7e)) {
			/* Printable ASCII must stand for itself: one name, one spelling. */
			return -1;
		} else {
			imap_put_utf8(w, u);
		}
	}
	/* Leftover bits must be padding zeros, fewer than a 6-bit digit's worth... */
	if (high != 0 || units == 0 || nbits >= 6 || bits != 0)
		return -1;
	return 0;
}

char *
imap_mutf7_decode(const char *s)
{
	size_t n = strlen(s);
	/* Each base64 digit gives at most 6 bits; UTF-8 takes at most 3 bytes per 16 bits
	 * (4 per surrogate pair of 32): the output is never longer than 2n. */
	char *out = xmalloc(2 * n + 1), *w = out;

	for (size_t i = 0; i < n;) {
		unsigned char ch = (unsigned char)s[i];

		if (ch < 0x20 || ch > 0x7e)
			goto fail;
		if (ch != '&') {
			*w++ = (char)ch;
			i++;
			continue;
		}
		const char *end = strchr(s + i + 1, '-');

		if (end == NULL)
			goto fail;
		if (end == s + i + 1) {
			*w++ = '&';
		} else if (imap_mutf7_run(s + i + 1, (size_t)(end - (s + i + 1)), &w) == -1) {
			goto fail;
		}
		i = (size_t)(end - s) + 1;
	}
	*w = '\0';
	return out;
fail:
	free(out);
	return NULL;
}

char *
imap_mutf7_encode(const char *s)
{
	size_t n = strlen(s);
	/* The worst case, every character a 3-byte UTF-8 one: 16 bits as 8/3 digits. */
	char *out = xmalloc(3 * n + 8), *w = out;
	size_t i = 0;

	while (i < n) {
		unsigned char ch = (unsigned char)s[i];

		if (ch >= 0x20 && ch <= 0x7e) {
			*w++ = (char)ch;
			if (ch == '&')
				*w++ = '-';
			i++;
			continue;
		}
		uint32_t bits = 0;
		int nbits = 0;

		*w++ = '&';
		while (i < n && ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)) {
			uint32_t cp, units[2];
			size_t len = util_utf8_decode((const unsigned char *)s + i, n - i, &cp);
			int nu;

			if (len == 0)
				goto fail;
			i += len;
			if (cp >= 0x10000) {
				units[0] = 0xd800 + ((cp - 0x10000) >> 10);
				units[1] = 0xdc00 + ((cp - 0x10000) & 0x3ff);
				nu = 2;
			} else {
				units[0] = cp;
				nu = 1;
			}
			for (int k = 0; k < nu; k++) {
				bits = (bits << 16) | units[k];
				nbits += 16;
				while (nbits >= 6) {
					nbits -= 6;
					*w++ = imap_b64[(bits >> nbits) & 0x3f];
				}
				bits &= (1u << nbits) - 1;
			}
		}
		if (nbits > 0)
			*w++ = imap_b64[(bits << (6 - nbits)) & 0x3f];
		*w++ = '-';
	}
	*w = '\0';
	return out;
fail:
	free(out);
	return NULL;
}
