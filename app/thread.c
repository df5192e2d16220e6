/* thread.c: conversation threading (thread.h, doc/threading.md). */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "thread.h"
#include "util.h"

/* ---- Message ids ---- */

struct ref_span {
	size_t start, len;
};

static int
ref_ws(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* The id in s[0..len) without whitespace and control bytes, malloc'd; NULL when that
 * leaves nothing, or too much, or bytes no id has. */
static char *
ref_clean(const char *s, size_t len)
{
	char *out;
	size_t n = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '<' || c == '>' || c == '\0')
			return NULL;
		if (c > 0x20 && c != 0x7f)
			n++;
	}
	if (n == 0 || n > THREAD_ID_MAX)
		return NULL;
	out = xmalloc(n + 1);
	n = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c > 0x20 && c != 0x7f)
			out[n++] = (char)c;
	}
	out[n] = '\0';
	return out;
}

/* A bare token is an id when it has one '@' with something on both sides. */
static int
ref_bare_ok(const char *s, size_t len)
{
	const char *at = memchr(s, '@', len);

	if (at == NULL || at == s || at == s + len - 1)
		return 0;
	if (memchr(at + 1, '@', len - (size_t)(at - s) - 1) != NULL)
		return 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '"' || s[i] == '(' || s[i] == ')' || s[i] == ';')
			return 0;
	}
	return 1;
}

static void
ref_push(struct ref_span **spans, size_t *n, size_t *cap, size_t start, size_t len)
{
	if (*n == *cap) {
		*cap = *cap != 0 ? *cap * 2 : 16;
		*spans = xreallocarray(*spans, *cap, sizeof(**spans));
	}
	(*spans)[*n].start = start;
	(*spans)[*n].len = len;
	(*n)++;
}

size_t
thread_parse_refs(const char *header, struct thread_refs *out)
{
	struct ref_span *spans = NULL;
	size_t nspans = 0, cap = 0, hlen, i;
	char *kept[THREAD_REFS_MAX];
	size_t nkept = 0;

	out->n = 0;
	if (header == NULL)
		return 0;
	hlen = strlen(header);

	/* Bracketed ids: from a '<' to the next '>', restarting at a later '<'. */
	for (i = 0; i < hlen; i++) {
		if (header[i] == '<') {
			size_t j = i + 1;

			while (j < hlen && header[j] != '>' && header[j] != '<')
				j++;
			if (j < hlen && header[j] == '>') {
				ref_push(&spans, &nspans, &cap, i + 1, j - i - 1);
				i = j;
			} else {
				i = j - 1;  /* a '<' again, or the end */
			}
		}
	}
	/* No bracket pair at all: bare ids separated by whitespace or commas. */
	if (nspans == 0 && strchr(header, '<') == NULL) {
		i = 0;
		while (i < hlen) {
			size_t j;

			while (i < hlen && (ref_ws((unsigned char)header[i]) || header[i] == ','))
				i++;
			j = i;
			while (j < hlen && !ref_ws((unsigned char)header[j]) && header[j] != ',')
				j++;
			if (j > i && ref_bare_ok(header + i, j - i))
				ref_push(&spans, &nspans, &cap, i, j - i);
			i = j;
		}
	}

	/* From the last: each id once, at most THREAD_REFS_MAX. */
	for (i = nspans; i > 0 && nkept < THREAD_REFS_MAX; i--) {
		char *id = ref_clean(header + spans[i - 1].start, spans[i - 1].len);
		size_t k;

		if (id == NULL)
			continue;
		for (k = 0; k < nkept; k++) {
			if (strcmp(kept[k], id) == 0)
				break;
		}
		if (k < nkept) {
			free(id);
			continue;
		}
		kept[nkept++] = id;
	}
	free(spans);
	for (i = 0; i < nkept; i++)
		out->ids[i] = kept[nkept - 1 - i];
	out->n = nkept;
	return nkept;
}

void
thread_refs_free(struct thread_refs *r)
{
	for (size_t i = 0; i < r->n; i++)
		free(r->ids[i]);
	r->n = 0;
}

/* ---- Subject keys ---- */

/* Reply and forward prefixes, lower case (UTF-8 for "réf"). */
static const char *const subject_prefixes[] = {
	"re", "fwd", "fw", "aw", "wg", "sv", "vs", "r\xc3\xa9\x66", "ref", "tr", "rif", "r",
	"antw", "odp", "enc", "rv",
};

static int
key_ws(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

static unsigned char
key_lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c - 'A' + 'a') : c;
}

/* Whether s starts with the prefix word p, ASCII case-insensitively; "É" (C3 89) matches
 * "é" (C3 A9). Returns the length matched, or 0. */
static size_t
key_word(const char *s, const char *p)
{
	size_t i = 0;

	for (; p[i] != '\0'; i++) {
		unsigned char a = key_lower((unsigned char)s[i]), b = (unsigned char)p[i];

		if (a == b)
			continue;
		if (b == 0xa9 && a == 0x89 && i > 0 && (unsigned char)p[i - 1] == 0xc3)
			continue;
		return 0;
	}
	return i;
}

/* The length of a reply/forward prefix at s: a word, an optional counter "[n]" or "(n)",
 * optional spaces, then ':' (or the full-width '：'); 0 when there is none. */
static size_t
key_prefix(const char *s)
{
	for (size_t k = 0; k < MR_ARRAY_LEN(subject_prefixes); k++) {
		size_t i = key_word(s, subject_prefixes[k]);

		if (i == 0)
			continue;
		if (s[i] == '[' || s[i] == '(') {
			char close = s[i] == '[' ? ']' : ')';
			size_t j = i + 1;

			while (s[j] >= '0' && s[j] <= '9' && j - i <= 6)
				j++;
			if (j == i + 1 || s[j] != close)
				continue;
			i = j + 1;
		}
		while (s[i] == ' ' || s[i] == '\t')
			i++;
		if (s[i] == ':')
			return i + 1;
		if ((unsigned char)s[i] == 0xef && (unsigned char)s[i + 1] == 0xbc &&
		    (unsigned char)s[i + 2] == 0x9a)
			return i + 3;
	}
	return 0;
}

/* The length of a list tag "[name]" at s (no nested brackets, at most 64 bytes inside,
 * not empty), or 0. */
static size_t
key_tag(const char *s)
{
	size_t i = 1;

	if (s[0] != '[')
		return 0;
	while (s[i] != '\0' && s[i] != ']' && s[i] != '[' && i <= 65)
		i++;
	if (s[i] != ']' || i == 1)
		return 0;
	return i + 1;
}

size_t
thread_subject_key(const char *subject, char *out, size_t outsize)
{
	const char *s = subject != NULL ? subject : "";
	size_t n = 0, cut;
	int space = 0, full = 0;

	if (outsize == 0)
		return 0;
	for (;;) {
		size_t k;

		while (key_ws((unsigned char)*s))
			s++;
		if ((k = key_prefix(s)) != 0 || (k = key_tag(s)) != 0) {
			s += k;
			continue;
		}
		break;
	}
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (key_ws(c)) {
			space = 1;
			continue;
		}
		if (space && n > 0) {
			if (n + 1 >= outsize) {
				full = 1;
				break;
			}
			out[n++] = ' ';
		}
		space = 0;
		if (n + 1 >= outsize) {
			full = 1;
			break;
		}
		out[n++] = (char)key_lower(c);
	}
	/* A key cut short ends at a character boundary: a trailing incomplete UTF-8
	 * sequence goes (one that was so in the subject stays: the key of a key is the key). */
	cut = n;
	while (full && cut > 0 && ((unsigned char)out[cut - 1] & 0xc0) == 0x80)
		cut--;
	if (full && cut > 0 && (unsigned char)out[cut - 1] >= 0xc0) {
		unsigned char lead = (unsigned char)out[cut - 1];
		size_t want = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : 2;

		if (n - (cut - 1) < want)
			n = cut - 1;
	}
	while (n > 0 && out[n - 1] == ' ')
		n--;
	out[n] = '\0';
	/* A cut may have left something that reads as a prefix (a prefix only ends with
	 * ':', so only when the cut fell right after one); strip it again so that the key of
	 * a key is the key. */
	if (key_prefix(out) != 0 || key_tag(out) != 0) {
		char *tmp = xstrndup(out, n);

		n = thread_subject_key(tmp, out, outsize);
		free(tmp);
	}
	return n;
}

static const char *const generic_subjects[] = {
	"hello", "hello!", "hi", "hi!", "hey", "hey!", "hallo", "bonjour", "salut", "hola",
	"ciao", "(no subject)", "no subject", "(none)", "none", "(kein betreff)", "kein betreff",
	"(sans objet)", "sans objet", "untitled", "subject", "test", "testing", "test email",
	"test message", "question", "a question", "quick question", "question?", "thanks",
	"thanks!", "thank you", "thank you!", "thx", "update", "updates", "info", "information",
	"fyi", "meeting", "call", "follow up", "follow-up", "followup", "checking in",
	"urgent", "important", "request", "help", "hello there", "hi there", "greetings",
	"good morning", "invoice", "document", "documents", "photos", "pictures", "re", "fwd",
	"?", "...",
};

int
thread_subject_generic(const char *key)
{
	if (key == NULL || strlen(key) < 3)
		return 1;
	for (size_t i = 0; i < MR_ARRAY_LEN(generic_subjects); i++) {
		if (strcmp(key, generic_subjects[i]) == 0)
			return 1;
	}
	return 0;
}

/* ---- Deciding ---- */

/* The number of distinct addresses of a that are also in b, ASCII case-insensitively;
 * *na receives the number of distinct non-empty addresses of a. */
static size_t
shared_count(const char *const *a, size_t an, const char *const *b, size_t bn, size_t *na)
{
	size_t shared = 0, distinct = 0;

	for (size_t i = 0; i < an; i++) {
		size_t j;

		if (a[i] == NULL || a[i][0] == '\0')
			continue;
		for (j = 0; j < i; j++) {
			if (a[j] != NULL && util_strcaseeq(a[i], a[j]))
				break;
		}
		if (j < i)
			continue;
		distinct++;
		for (j = 0; j < bn; j++) {
			if (b[j] != NULL && util_strcaseeq(a[i], b[j])) {
				shared++;
				break;
			}
		}
	}
	*na = distinct;
	return shared;
}

static int64_t
span_abs(int64_t a, int64_t b)
{
	return a > b ? a - b : b - a;
}

static int64_t
by_subject(const struct thread_message *m, const struct thread_lookup *l)
{
	char key[THREAD_KEY_SIZE];
	const struct thread_candidate *c = NULL;
	size_t n, best_shared = 0;
	int64_t best = 0, best_gap = 0, since, until;

	if (l->find_by_subject == NULL || m->subject == NULL)
		return 0;
	thread_subject_key(m->subject, key, sizeof(key));
	if (thread_subject_generic(key))
		return 0;
	since = m->date > INT64_MIN + THREAD_SUBJECT_WINDOW ? m->date - THREAD_SUBJECT_WINDOW :
	    INT64_MIN;
	until = m->date < INT64_MAX - THREAD_SUBJECT_WINDOW ? m->date + THREAD_SUBJECT_WINDOW :
	    INT64_MAX;
	n = l->find_by_subject(l->ctx, key, since, until, &c);
	for (size_t i = 0; i < n && c != NULL; i++) {
		size_t na, nb, shared;
		int64_t gap;
		int same;

		if (c[i].thread_id <= 0 || c[i].last_date < since || c[i].last_date > until)
			continue;
		shared = shared_count(m->participants, m->nparticipants, c[i].participants,
		    c[i].nparticipants, &na);
		(void)shared_count(c[i].participants, c[i].nparticipants, m->participants,
		    m->nparticipants, &nb);
		/* The same people on both sides (a conversation with oneself included). */
		same = na > 0 && shared == na && nb == na;
		if (shared < 2 && !same)
			continue;
		gap = span_abs(m->date, c[i].last_date);
		if (best == 0 || shared > best_shared ||
		    (shared == best_shared && (gap < best_gap ||
		    (gap == best_gap && c[i].thread_id < best)))) {
			best = c[i].thread_id;
			best_shared = shared;
			best_gap = gap;
		}
	}
	return best;
}

static int
same_id(const char *a, const char *b)
{
	return a != NULL && b != NULL && strcmp(a, b) == 0;
}

int64_t
thread_decide(const struct thread_message *m, const struct thread_lookup *l,
    enum thread_reason *reason)
{
	enum thread_reason why = THREAD_NEW;
	int64_t t = 0;
	const char *self = m->message_id != NULL && m->message_id[0] != '\0' ? m->message_id :
	    NULL;

	if (l->find_by_message_id != NULL) {
		if (self != NULL && (t = l->find_by_message_id(l->ctx, self)) > 0) {
			why = THREAD_BY_SELF;
			goto done;
		}
		for (size_t i = 0; i < m->nin_reply_to; i++) {
			const char *id = m->in_reply_to[i];

			if (id == NULL || id[0] == '\0' || same_id(id, self))
				continue;
			if ((t = l->find_by_message_id(l->ctx, id)) > 0) {
				why = THREAD_BY_IN_REPLY_TO;
				goto done;
			}
		}
		for (size_t i = m->nreferences; i > 0; i--) {
			const char *id = m->references[i - 1];

			if (id == NULL || id[0] == '\0' || same_id(id, self))
				continue;
			if ((t = l->find_by_message_id(l->ctx, id)) > 0) {
				why = THREAD_BY_REFERENCES;
				goto done;
			}
		}
	}
	t = 0;
	/* Only a message that names no parent at all may join by subject. */
	if (m->nin_reply_to == 0 && m->nreferences == 0 && (t = by_subject(m, l)) > 0)
		why = THREAD_BY_SUBJECT;
done:
	if (t <= 0) {
		t = 0;
		why = THREAD_NEW;
	}
	if (reason != NULL)
		*reason = why;
	return t;
}

int64_t
thread_merge_plan(int64_t decided, const int64_t *children, size_t n, int64_t *merge,
    size_t *nmerge)
{
	int64_t into = decided > 0 ? decided : 0;
	size_t k = 0;

	if (into == 0) {
		for (size_t i = 0; i < n; i++) {
			if (children[i] > 0 && (into == 0 || children[i] < into))
				into = children[i];
		}
	}
	for (size_t i = 0; i < n; i++) {
		size_t j;

		if (children[i] <= 0 || children[i] == into)
			continue;
		for (j = 0; j < k; j++) {
			if (merge[j] == children[i])
				break;
		}
		if (j == k)
			merge[k++] = children[i];
	}
	*nmerge = k;
	return into;
}
