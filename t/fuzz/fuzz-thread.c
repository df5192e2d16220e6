/* fuzz-thread.c: libFuzzer harness for threading's parsers: the input, as a string, is
 * read as a References header (thread_parse_refs) and as a subject (thread_subject_key,
 * into buffers of several sizes), then both feed thread_decide against a store that knows
 * every other id. The ids must be non-empty, without brackets, whitespace or control
 * bytes, distinct, at most THREAD_REFS_MAX of them; the key must be lower-case ASCII with
 * single spaces inside and none at the ends, fit its buffer, and be its own key. */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "thread.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fuzz_fail(const char *what, const char *s)
{
	fprintf(stderr, "fuzz-thread: %s: [%s]\n", what, s);
	abort();
}

static void
fuzz_check_refs(const struct thread_refs *r)
{
	if (r->n > THREAD_REFS_MAX)
		fuzz_fail("too many ids", "");
	for (size_t i = 0; i < r->n; i++) {
		const char *id = r->ids[i];
		size_t len = strlen(id);

		if (len == 0 || len > THREAD_ID_MAX)
			fuzz_fail("an empty or too long id", id);
		for (size_t k = 0; k < len; k++) {
			unsigned char c = (unsigned char)id[k];

			if (c <= 0x20 || c == 0x7f || c == '<' || c == '>')
				fuzz_fail("a bad byte in an id", id);
		}
		for (size_t j = 0; j < i; j++) {
			if (strcmp(r->ids[j], id) == 0)
				fuzz_fail("a duplicate id", id);
		}
	}
}

static void
fuzz_check_key(const char *subject, size_t outsize)
{
	char *key = xmalloc(outsize), *again = xmalloc(outsize);
	size_t n = thread_subject_key(subject, key, outsize);

	if (n >= outsize || strlen(key) != n)
		fuzz_fail("a key that does not fit", key);
	if (n > 0 && (key[0] == ' ' || key[n - 1] == ' '))
		fuzz_fail("a space at an end of the key", key);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)key[i];

		if ((c >= 'A' && c <= 'Z') || c == '\t' || c == '\r' || c == '\n' || c == '\f' ||
		    c == '\v')
			fuzz_fail("an upper-case letter or whitespace in the key", key);
		if (c == ' ' && key[i + 1] == ' ')
			fuzz_fail("two spaces in the key", key);
	}
	if (thread_subject_key(key, again, outsize) != n || strcmp(again, key) != 0) {
		fprintf(stderr, "fuzz-thread: key [%s], its key [%s]\n", key, again);
		fuzz_fail("a key that is not its own key (a prefix left)", subject);
	}
	(void)thread_subject_generic(key);
	free(again);
	free(key);
}

static const char *fuzz_self;

/* Every id but the message's own is stored, in a thread named by its length. */
static int64_t
fuzz_find_id(void *ctx, const char *id)
{
	(void)ctx;
	if (fuzz_self != NULL && strcmp(id, fuzz_self) == 0)
		return 0;
	return (int64_t)strlen(id) % 3;
}

static size_t
fuzz_find_subject(void *ctx, const char *key, int64_t since, int64_t until,
    const struct thread_candidate **out)
{
	static const char *const people[] = { "a@x", "B@x", "c@x" };
	static const struct thread_candidate c[] = {
		{ 1, 0, people, 3 }, { 2, 100, people, 1 }, { 0, 0, NULL, 0 },
	};

	(void)ctx;
	if (key[0] == '\0' || since > until)
		abort();
	*out = c;
	return MR_ARRAY_LEN(c);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t sizes[] = { 1, 2, 7, 16, THREAD_KEY_SIZE };
	static const char *const people[] = { "A@x", "b@X", "a@x" };
	struct thread_lookup l = { NULL, fuzz_find_id, fuzz_find_subject };
	struct thread_message m;
	struct thread_refs r;
	char *s = xmalloc(size + 1);
	int64_t t, children[THREAD_REFS_MAX], merge[THREAD_REFS_MAX], into;
	size_t nmerge;
	enum thread_reason why;

	memcpy(s, data, size);
	s[size] = '\0';

	thread_parse_refs(s, &r);
	fuzz_check_refs(&r);
	for (size_t i = 0; i < MR_ARRAY_LEN(sizes); i++)
		fuzz_check_key(s, sizes[i]);

	memset(&m, 0, sizeof(m));
	m.message_id = r.n > 0 ? r.ids[0] : NULL;
	fuzz_self = m.message_id;
	m.references = (const char *const *)r.ids;
	m.nreferences = r.n;
	m.subject = s;
	m.date = size % 2 ? INT64_MAX : INT64_MIN;
	m.participants = people;
	m.nparticipants = 3;
	t = thread_decide(&m, &l, &why);
	if (t < 0 || (t == 0) != (why == THREAD_NEW))
		abort();
	m.nreferences = 0;
	t = thread_decide(&m, &l, &why);
	if (t < 0 || (t == 0) != (why == THREAD_NEW))
		abort();

	for (size_t i = 0; i < r.n; i++)
		children[i] = (int64_t)strlen(r.ids[i]) % 5;
	into = thread_merge_plan(t, children, r.n, merge, &nmerge);
	if (nmerge > r.n)
		abort();
	for (size_t i = 0; i < nmerge; i++) {
		if (merge[i] <= 0 || merge[i] == into)
			abort();
	}
	thread_refs_free(&r);
	free(s);
	return 0;
}
