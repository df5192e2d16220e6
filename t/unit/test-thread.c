/* test-thread.c: conversation threading: message id parsing, subject keys, the thread
 * decision against a fake store, and the merge plan for late parents. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "thread.h"
#include "util.h"
#include "unit.h"

/* ---- thread_parse_refs ---- */

static void
expect_refs(const char *header, const char *const *want, size_t nwant)
{
	struct thread_refs r;
	size_t n = thread_parse_refs(header, &r);

	CU_ASSERT_EQUAL(n, nwant);
	CU_ASSERT_EQUAL(r.n, nwant);
	for (size_t i = 0; i < nwant && i < r.n; i++) {
		CU_ASSERT_STRING_EQUAL(r.ids[i], want[i]);
	}
	thread_refs_free(&r);
}

static void
test_refs_plain(void)
{
	static const char *const w1[] = { "a@x", "b@y", "c@z" };
	static const char *const w2[] = { "one@example.org" };

	expect_refs("<a@x> <b@y> <c@z>", w1, 3);
	expect_refs("<a@x>\r\n <b@y>\r\n\t<c@z>", w1, 3);
	expect_refs("<a@x><b@y><c@z>", w1, 3);
	expect_refs("<one@example.org>", w2, 1);
	expect_refs(NULL, NULL, 0);
	expect_refs("", NULL, 0);
	expect_refs("   ", NULL, 0);
}

static void
test_refs_garbage(void)
{
	static const char *const w1[] = { "a@x", "b@y" };
	static const char *const w2[] = { "id@host" };
	static const char *const w3[] = { "b@y" };

	/* Comments and text between ids. */
	expect_refs("<a@x> (the first) junk, <b@y>", w1, 2);
	/* The old In-Reply-To form: a sentence around the id. */
	expect_refs("John's message of \"Mon, 1 Jan 2024\" <id@host>", w2, 1);
	expect_refs("Your message of Mon <id@host> (John Doe)", w2, 1);
	/* An unclosed '<' before a good id; a '<' restarting inside. */
	expect_refs("<broken <b@y>", w3, 1);
	expect_refs("<a@x <b@y>", w3, 1);
	/* Empty brackets and brackets of whitespace are dropped. */
	expect_refs("<> < > <a@x> <\t> <b@y>", w1, 2);
	/* Whitespace inside an id (a folded header) is removed. */
	expect_refs("<a@\r\n x> <b@y>", w1, 2);
	/* A stray '>' is ignored. */
	expect_refs("> <a@x> >> <b@y>", w1, 2);
}

static void
test_refs_bare(void)
{
	static const char *const w1[] = { "a@x", "b@y" };
	static const char *const w2[] = { "id@host" };

	expect_refs("a@x b@y", w1, 2);
	expect_refs("a@x,b@y", w1, 2);
	expect_refs(" a@x ,\r\n b@y ", w1, 2);
	/* Tokens without '@', or with two, are not ids. */
	expect_refs("hello a@x world @ b@ b@y x@y@z", w1, 2);
	/* When any bracketed id is there, bare tokens are not ids. */
	expect_refs("john@example.com's message <id@host>", w2, 1);
	/* An unclosed '<' alone: nothing. */
	expect_refs("<a@x", NULL, 0);
}

static void
test_refs_duplicates(void)
{
	static const char *const w1[] = { "b@y", "a@x", "c@z" };

	/* Each id once, at its last place. */
	expect_refs("<a@x> <b@y> <a@x> <c@z> <c@z>", w1, 3);
}

static void
test_refs_max(void)
{
	char *h = xmalloc(150 * 32);
	size_t off = 0;
	struct thread_refs r;
	char want[32];

	h[0] = '\0';
	for (int i = 0; i < 150; i++)
		off += (size_t)snprintf(h + off, 32, "<id%d@h> ", i);
	CU_ASSERT_EQUAL(thread_parse_refs(h, &r), THREAD_REFS_MAX);
	/* The last 100: id50..id149, oldest first. */
	CU_ASSERT_STRING_EQUAL(r.ids[0], "id50@h");
	snprintf(want, sizeof(want), "id%d@h", 149);
	CU_ASSERT_STRING_EQUAL(r.ids[THREAD_REFS_MAX - 1], want);
	thread_refs_free(&r);
	CU_ASSERT_EQUAL(r.n, 0);
	free(h);
}

static void
test_refs_long_id(void)
{
	size_t n = THREAD_ID_MAX + 10;
	char *h = xmalloc(n + 16);
	struct thread_refs r;

	h[0] = '<';
	memset(h + 1, 'a', n);
	memcpy(h + 1 + n, "> <ok@h>", 9);
	CU_ASSERT_EQUAL(thread_parse_refs(h, &r), 1);
	CU_ASSERT_STRING_EQUAL(r.ids[0], "ok@h");
	thread_refs_free(&r);
	free(h);
}

/* ---- thread_subject_key ---- */

static void
expect_key(const char *subject, const char *want)
{
	char key[THREAD_KEY_SIZE], again[THREAD_KEY_SIZE];
	size_t n = thread_subject_key(subject, key, sizeof(key));

	CU_ASSERT_STRING_EQUAL(key, want);
	CU_ASSERT_EQUAL(n, strlen(key));
	/* The key of a key is the key. */
	thread_subject_key(key, again, sizeof(again));
	CU_ASSERT_STRING_EQUAL(again, key);
}

static void
test_key_prefixes(void)
{
	expect_key("Re: Lunch on Friday", "lunch on friday");
	expect_key("RE: Lunch on Friday", "lunch on friday");
	expect_key("re:Lunch", "lunch");
	expect_key("Re: Re: RE: re: Lunch", "lunch");
	expect_key("Fwd: Re: Lunch", "lunch");
	expect_key("Fw: Lunch", "lunch");
	expect_key("FW: Lunch", "lunch");
	expect_key("AW: WG: Angebot", "angebot");
	expect_key("SV: VS: Tilbud", "tilbud");
	expect_key("R\xc3\xa9" "f : Devis", "devis");
	expect_key("R\xc3\x89" "F: Devis", "devis");
	expect_key("TR: Devis", "devis");
	expect_key("RIF: Preventivo", "preventivo");
	expect_key("R: Preventivo", "preventivo");
	expect_key("Antw: Offerte", "offerte");
	expect_key("Odp: Oferta", "oferta");
	expect_key("Re : Lunch", "lunch");
	expect_key("Re[2]: Lunch", "lunch");
	expect_key("Re(3): Re[12]: Lunch", "lunch");
	expect_key("Re\xef\xbc\x9a Lunch", "lunch");
}

static void
test_key_not_prefixes(void)
{
	/* Words that start like a prefix but are not one. */
	expect_key("Report: Q3", "report: q3");
	expect_key("Rest of the week", "rest of the week");
	expect_key("Fwdx: a", "fwdx: a");
	expect_key("Re[x]: a", "re[x]: a");
	expect_key("Re[]: a", "re[]: a");
	/* A prefix later in the subject stays. */
	expect_key("Lunch (was Re: Dinner)", "lunch (was re: dinner)");
	expect_key("Plan: Re: x", "plan: re: x");
}

static void
test_key_tags(void)
{
	expect_key("[dev-list] Release 1.2", "release 1.2");
	expect_key("Re: [dev-list] Re: Release 1.2", "release 1.2");
	expect_key("[a] [b] Re: [c] x", "x");
	/* Not tags: empty, unclosed, nested. */
	expect_key("[] x", "[] x");
	expect_key("[open x", "[open x");
	/* A tag later stays. */
	expect_key("Release [rc1]", "release [rc1]");
}

static void
test_key_whitespace_case(void)
{
	expect_key("  Hello\t\tWorld  \r\n ", "hello world");
	expect_key("MiXeD CaSe", "mixed case");
	/* Non-ASCII is left as it is (no folding). */
	expect_key("Re: \xc3\x89t\xc3\xa9 \xc3\xa0 PARIS", "\xc3\x89t\xc3\xa9 \xc3\xa0 paris");
	expect_key("", "");
	expect_key(NULL, "");
	expect_key("Re:", "");
	expect_key("Re: Fwd:  ", "");
}

static void
test_key_truncation(void)
{
	char big[1000], key[8], small[1];

	/* Cut at a character boundary: "é" (2 bytes) does not fit after "abcdef". */
	CU_ASSERT_EQUAL(thread_subject_key("abcdef\xc3\xa9xyz", key, sizeof(key)), 6);
	CU_ASSERT_STRING_EQUAL(key, "abcdef");
	CU_ASSERT_EQUAL(thread_subject_key("abc", small, sizeof(small)), 0);
	CU_ASSERT_STRING_EQUAL(small, "");
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	CU_ASSERT_EQUAL(thread_subject_key(big, key, sizeof(key)), 7);
	/* A cut that ends with what reads as a prefix: "ab re: x" cut to "re:" cannot happen
	 * from the front, but a cut after a space is trimmed. */
	CU_ASSERT_EQUAL(thread_subject_key("abcdef gh", key, sizeof(key)), 6);
	CU_ASSERT_STRING_EQUAL(key, "abcdef");
}

static void
test_key_generic(void)
{
	char key[THREAD_KEY_SIZE];

	CU_ASSERT(thread_subject_generic(""));
	CU_ASSERT(thread_subject_generic("hi"));
	CU_ASSERT(thread_subject_generic("hello"));
	CU_ASSERT(thread_subject_generic("test"));
	CU_ASSERT(thread_subject_generic("(no subject)"));
	CU_ASSERT(thread_subject_generic(NULL));
	thread_subject_key("Re: HELLO", key, sizeof(key));
	CU_ASSERT(thread_subject_generic(key));
	CU_ASSERT(!thread_subject_generic("quarterly report"));
	CU_ASSERT(!thread_subject_generic("hello world"));
}

/* ---- thread_decide, against a fake store ---- */

struct fake_msg {
	const char *id;
	int64_t thread;
};

struct fake_store {
	const struct fake_msg *msgs;
	size_t nmsgs;
	const struct thread_candidate *cands;
	size_t ncands;
	int id_calls, subject_calls;
	char last_key[THREAD_KEY_SIZE];
	int64_t last_since, last_until;
};

static int64_t
fake_find_id(void *ctx, const char *id)
{
	struct fake_store *s = ctx;

	s->id_calls++;
	for (size_t i = 0; i < s->nmsgs; i++) {
		if (strcmp(s->msgs[i].id, id) == 0)
			return s->msgs[i].thread;
	}
	return 0;
}

static size_t
fake_find_subject(void *ctx, const char *key, int64_t since, int64_t until,
    const struct thread_candidate **out)
{
	struct fake_store *s = ctx;

	s->subject_calls++;
	snprintf(s->last_key, sizeof(s->last_key), "%s", key);
	s->last_since = since;
	s->last_until = until;
	*out = s->cands;
	return s->ncands;
}

static const struct fake_msg store_msgs[] = {
	{ "root@a", 10 },
	{ "reply1@b", 10 },
	{ "other@c", 20 },
	{ "late@d", 30 },
};

#define DAY 86400
#define T0 1700000000

static const char *const people_ab[] = { "alice@example.org", "bob@example.org" };
static const char *const people_AB[] = { "Bob@Example.org", "ALICE@example.org" };
static const char *const people_ac[] = { "alice@example.org", "carol@example.org" };
static const char *const people_abc[] = { "alice@example.org", "bob@example.org",
	"carol@example.org" };
static const char *const people_a[] = { "alice@example.org" };

static struct thread_lookup
fake_lookup(struct fake_store *s)
{
	struct thread_lookup l = { s, fake_find_id, fake_find_subject };

	s->msgs = store_msgs;
	s->nmsgs = MR_ARRAY_LEN(store_msgs);
	return l;
}

static void
test_decide_in_reply_to(void)
{
	struct fake_store s = { 0 };
	struct thread_lookup l = fake_lookup(&s);
	const char *irt[] = { "reply1@b" };
	const char *refs[] = { "other@c" };
	struct thread_message m = { "new@x", irt, 1, refs, 1, "Re: x", T0, NULL, 0 };
	enum thread_reason why;

	/* In-Reply-To wins over References. */
	CU_ASSERT_EQUAL(thread_decide(&m, &l, &why), 10);
	CU_ASSERT_EQUAL(why, THREAD_BY_IN_REPLY_TO);
	CU_ASSERT_EQUAL(s.subject_calls, 0);
}

static void
test_decide_references(void)
{
	struct fake_store s = { 0 };
	struct thread_lookup l = fake_lookup(&s);
	const char *irt[] = { "unknown@z" };
	/* The last known reference wins: other@c (20) is after root@a (10). */
	const char *refs[] = { "root@a", "other@c", "missing@q" };
	struct thread_message m = { "new@x", irt, 1, refs, 3, "Re: x", T0, NULL, 0 };
	enum thread_reason why;

	CU_ASSERT_EQUAL(thread_decide(&m, &l, &why), 20);
	CU_ASSERT_EQUAL(why, THREAD_BY_REFERENCES);

	/* Missing parents: only the root is known (JWZ: the chain has holes). */
	refs[1] = "gone1@q";
	refs[2] = "gone2@q";
	m.nin_reply_to = 0;
	CU_ASSERT_EQUAL(thread_decide(&m, &l, &why), 10);
	CU_ASSERT_EQUAL(why, THREAD_BY_REFERENCES);
}

static void
test_decide_unknown_parents(void)
{
	struct fake_store s = { 0 };
	struct thread_lookup l = fake_lookup(&s);
	const char *refs[] = { "gone@q" };
	struct thread_candidate c = { 77, T0, people_ab, 2 };
	struct thread_message m = { "new@x", NULL, 0, refs, 1, "Budget 2025", T0, people_ab,
		2 };
	enum thread_reason why;

	s.cands = &c;
	s.ncands = 1;
	/* A reply whose parent is not stored yet: a new thread, no subject guess. */
	CU_ASSERT_EQUAL(thread_decide(&m, &l, &why), 0);
	CU_ASSERT_EQUAL(why, THREAD_NEW);
	CU_ASSERT_EQUAL(s.subject_calls, 0);
}

static void
test_decide_self(void)
{
	struct fake_store s = { 0 };
	struct thread_lookup l = fake_lookup(&s);
	const char *refs[] = { "late@d", "other@c" };
	struct thread_message m = { "late@d", NULL, 0, refs, 2, NULL, T0, NULL, 0 };
	enum thread_reason why;

	/* A message already stored (imported twice) keeps its thread. */
	CU_ASSERT_EQUAL(thread_decide(&m, &l, &why), 30);
	CU_ASSERT_EQUAL(why, THREAD_BY_SELF);

	/* Its own id among its references is skipped. */
	m.message_id = "fresh@x";
	refs[1] = "fresh@x";
	s.id_calls = 0;
	CU_ASSERT_EQUAL(thread_decide(&m, &l, &why), 30);
	CU_ASSERT_EQUAL(why, THREAD_BY_REFERENCES);
}

static void
test_decide_subject(void)
{
	struct fake_store s = { 0 };
	struct thread_lookup l = fake_lookup(&s);
	struct thread_candidate c[] = {
		{ 40, T0 - 2 * DAY, people_ab, 2 },
	};
	struct thread_message m = { "new@x", NULL, 0, NULL, 0, "RE: [team] Budget  2025",
		T0, people_AB, 2 };
	enum thread_reason why;

	s.cands = c;
	s.ncands = 1;
	CU_ASSERT_EQUAL(thread_decide(&m, &l, &why), 40);
	CU_ASSERT_EQUAL(why, THREAD_BY_SUBJECT);
	CU_ASSERT_STRING_EQUAL(s.last_key, "budget 2025");
	CU_ASSERT_EQUAL(s.last_since, T0 - THREAD_SUBJECT_WINDOW);
	CU_ASSERT_EQUAL(s.last_until, T0 + THREAD_SUBJECT_WINDOW);
}

static void
test_decide_subject_window(void)
{
	struct fake_store s = { 0 };
	struct thread_lookup l = fake_lookup(&s);
	/* A store that ignores the window: the decision checks it again. */
	struct thread_candidate c[] = {
		{ 40, T0 - 8 * DAY, people_ab, 2 },
		{ 41, T0 + 8 * DAY, people_ab, 2 },
	};
	struct thread_message m = { "new@x", NULL, 0, NULL, 0, "Budget 2025", T0, people_ab,
		2 };
	enum thread_reason why;

	s.cands = c;
	s.ncands = 2;
	CU_ASSERT_EQUAL(thread_decide(&m, &l, &why), 0);
	CU_ASSERT_EQUAL(why, THREAD_NEW);
	/* Exactly 7 days is within. */
	c[0].last_date = T0 - THREAD_SUBJECT_WINDOW;
	CU_ASSERT_EQUAL(thread_decide(&m, &l, &why), 40);
}

static void
test_decide_subject_people(void)
{
	struct fake_store s = { 0 };
	struct thread_lookup l = fake_lookup(&s);
	struct thread_candidate c[] = {
		{ 50, T0 - DAY, people_ac, 2 },
	};
	struct thread_message m = { "new@x", NULL, 0, NULL, 0, "Budget 2025", T0, people_ab,
		2 };
	enum thread_reason why;

	s.cands = c;
	s.ncands = 1;
	/* Only alice in common: not the same conversation. */
	CU_ASSERT_EQUAL(thread_decide(&m, &l, &why), 0);
	/* Two of three in common: joins. */
	c[0].participants = people_abc;
	c[0].nparticipants = 3;
	CU_ASSERT_EQUAL(thread_decide(&m, &l, &why), 50);
	/* A note to oneself: the same single person on both sides. */
	c[0].participants = people_a;
	c[0].nparticipants = 1;
	m.participants = people_a;
	m.nparticipants = 1;
	CU_ASSERT_EQUAL(thread_decide(&m, &l, &why), 50);
	/* One person against a thread of three: no. */
	c[0].participants = people_abc;
	c[0].nparticipants = 3;
	CU_ASSERT_EQUAL(thread_decide(&m, &l, &why), 0);
	/* No participants at all: no. */
	m.nparticipants = 0;
	CU_ASSERT_EQUAL(thread_decide(&m, &l, &why), 0);
}

static void
test_decide_subject_best(void)
{
	struct fake_store s = { 0 };
	struct thread_lookup l = fake_lookup(&s);
	struct thread_candidate c[] = {
		{ 60, T0 - 3 * DAY, people_ab, 2 },
		{ 61, T0 - 1 * DAY, people_abc, 3 },
		{ 62, T0 - 1 * DAY, people_ab, 2 },
		{ 0, T0, people_abc, 3 },
	};
	struct thread_message m = { "new@x", NULL, 0, NULL, 0, "Budget 2025", T0, people_abc,
		3 };

	s.cands = c;
	s.ncands = 4;
	/* Most people in common first. */
	CU_ASSERT_EQUAL(thread_decide(&m, &l, NULL), 61);
	/* Then the nearest in time. */
	m.participants = people_ab;
	m.nparticipants = 2;
	CU_ASSERT_EQUAL(thread_decide(&m, &l, NULL), 61);
	c[1].participants = people_ac;
	c[1].nparticipants = 2;
	CU_ASSERT_EQUAL(thread_decide(&m, &l, NULL), 62);
}

static void
test_decide_subject_refused(void)
{
	struct fake_store s = { 0 };
	struct thread_lookup l = fake_lookup(&s);
	struct thread_candidate c = { 70, T0, people_ab, 2 };
	const char *irt[] = { "unknown@z" };
	struct thread_message m = { "new@x", NULL, 0, NULL, 0, "Re: Hello", T0, people_ab, 2 };

	s.cands = &c;
	s.ncands = 1;
	/* A generic subject. */
	CU_ASSERT_EQUAL(thread_decide(&m, &l, NULL), 0);
	m.subject = "(no subject)";
	CU_ASSERT_EQUAL(thread_decide(&m, &l, NULL), 0);
	m.subject = "Re: ";
	CU_ASSERT_EQUAL(thread_decide(&m, &l, NULL), 0);
	m.subject = NULL;
	CU_ASSERT_EQUAL(thread_decide(&m, &l, NULL), 0);
	CU_ASSERT_EQUAL(s.subject_calls, 0);
	/* An In-Reply-To, even unknown, rules the subject out. */
	m.subject = "Budget 2025";
	m.in_reply_to = irt;
	m.nin_reply_to = 1;
	CU_ASSERT_EQUAL(thread_decide(&m, &l, NULL), 0);
	CU_ASSERT_EQUAL(s.subject_calls, 0);
	/* Without a subject callback. */
	m.nin_reply_to = 0;
	l.find_by_subject = NULL;
	CU_ASSERT_EQUAL(thread_decide(&m, &l, NULL), 0);
	l.find_by_subject = fake_find_subject;
	CU_ASSERT_EQUAL(thread_decide(&m, &l, NULL), 70);
}

static void
test_decide_new(void)
{
	struct fake_store s = { 0 };
	struct thread_lookup l = fake_lookup(&s);
	struct thread_message m = { NULL, NULL, 0, NULL, 0, "Budget 2025", T0, people_ab, 2 };
	enum thread_reason why = THREAD_BY_SUBJECT;

	CU_ASSERT_EQUAL(thread_decide(&m, &l, &why), 0);
	CU_ASSERT_EQUAL(why, THREAD_NEW);
	CU_ASSERT_EQUAL(s.id_calls, 0);
	CU_ASSERT_EQUAL(s.subject_calls, 1);
}

/* JWZ's example of a reply that arrives before its parent: B replies to A, C replies to B;
 * C arrives first, then A, then B. */
static void
test_decide_late_parent(void)
{
	struct fake_msg msgs[3];
	struct fake_store s = { 0 };
	struct thread_lookup l = { &s, fake_find_id, fake_find_subject };
	const char *c_refs[] = { "A@x", "B@x" };
	const char *c_irt[] = { "B@x" };
	const char *b_refs[] = { "A@x" };
	struct thread_message c = { "C@x", c_irt, 1, c_refs, 2, "Re: plan", T0, NULL, 0 };
	struct thread_message a = { "A@x", NULL, 0, NULL, 0, "plan", T0 - 100, NULL, 0 };
	struct thread_message b = { "B@x", b_refs, 1, b_refs, 1, "Re: plan", T0 - 50, NULL,
		0 };
	int64_t children[2], merge[2], into;
	size_t nmerge = 99;

	s.msgs = msgs;
	/* C: neither parent is stored: a new thread 1. */
	CU_ASSERT_EQUAL(thread_decide(&c, &l, NULL), 0);
	msgs[0] = (struct fake_msg){ "C@x", 1 };
	s.nmsgs = 1;
	/* A: no headers; a new thread 2, and thread 1 references A: merge 1 into 2. */
	CU_ASSERT_EQUAL(thread_decide(&a, &l, NULL), 0);
	msgs[1] = (struct fake_msg){ "A@x", 2 };
	s.nmsgs = 2;
	children[0] = 1;
	into = thread_merge_plan(2, children, 1, merge, &nmerge);
	CU_ASSERT_EQUAL(into, 2);
	CU_ASSERT_EQUAL(nmerge, 1);
	CU_ASSERT_EQUAL(merge[0], 1);
	msgs[0].thread = 2;
	/* B: its In-Reply-To (A) is stored now: thread 2; C (thread 2) references B:
	 * nothing to merge. */
	CU_ASSERT_EQUAL(thread_decide(&b, &l, NULL), 2);
	children[0] = 2;
	into = thread_merge_plan(2, children, 1, merge, &nmerge);
	CU_ASSERT_EQUAL(into, 2);
	CU_ASSERT_EQUAL(nmerge, 0);
}

static void
test_merge_plan(void)
{
	int64_t children[] = { 9, 4, 9, 0, 7, 4 };
	int64_t merge[6];
	size_t n = 99;

	/* No decided thread: the smallest child thread keeps them. */
	CU_ASSERT_EQUAL(thread_merge_plan(0, children, 6, merge, &n), 4);
	CU_ASSERT_EQUAL(n, 2);
	CU_ASSERT_EQUAL(merge[0], 9);
	CU_ASSERT_EQUAL(merge[1], 7);
	/* A decided thread keeps them. */
	CU_ASSERT_EQUAL(thread_merge_plan(5, children, 6, merge, &n), 5);
	CU_ASSERT_EQUAL(n, 3);
	/* Nothing. */
	CU_ASSERT_EQUAL(thread_merge_plan(0, NULL, 0, merge, &n), 0);
	CU_ASSERT_EQUAL(n, 0);
	CU_ASSERT_EQUAL(thread_merge_plan(3, NULL, 0, merge, &n), 3);
	CU_ASSERT_EQUAL(n, 0);
}

/* Parsing and deciding together, as the ingestion does. */
static void
test_parse_and_decide(void)
{
	struct fake_store s = { 0 };
	struct thread_lookup l = fake_lookup(&s);
	struct thread_refs irt, refs;
	struct thread_message m = { "new@x", NULL, 0, NULL, 0, "Re: x", T0, NULL, 0 };

	thread_parse_refs("  <missing@q>  (comment)", &irt);
	thread_parse_refs("<root@a>\r\n <gone@q> <root@a>", &refs);
	m.in_reply_to = (const char *const *)irt.ids;
	m.nin_reply_to = irt.n;
	m.references = (const char *const *)refs.ids;
	m.nreferences = refs.n;
	CU_ASSERT_EQUAL(thread_decide(&m, &l, NULL), 10);
	thread_refs_free(&irt);
	thread_refs_free(&refs);
}

int
main(void)
{
	static const struct unit_test tests[] = {
		{ "refs: plain", test_refs_plain },
		{ "refs: garbage between", test_refs_garbage },
		{ "refs: bare ids", test_refs_bare },
		{ "refs: duplicates", test_refs_duplicates },
		{ "refs: the last 100", test_refs_max },
		{ "refs: a too long id", test_refs_long_id },
		{ "key: prefixes", test_key_prefixes },
		{ "key: not prefixes", test_key_not_prefixes },
		{ "key: list tags", test_key_tags },
		{ "key: whitespace and case", test_key_whitespace_case },
		{ "key: truncation", test_key_truncation },
		{ "key: generic subjects", test_key_generic },
		{ "decide: In-Reply-To", test_decide_in_reply_to },
		{ "decide: References", test_decide_references },
		{ "decide: unknown parents", test_decide_unknown_parents },
		{ "decide: the message itself", test_decide_self },
		{ "decide: subject", test_decide_subject },
		{ "decide: subject window", test_decide_subject_window },
		{ "decide: subject participants", test_decide_subject_people },
		{ "decide: the best subject candidate", test_decide_subject_best },
		{ "decide: subject refused", test_decide_subject_refused },
		{ "decide: new thread", test_decide_new },
		{ "decide: late parent (JWZ)", test_decide_late_parent },
		{ "merge plan", test_merge_plan },
		{ "parse and decide", test_parse_and_decide },
		{ NULL, NULL },
	};

	return unit_run("thread", tests);
}
