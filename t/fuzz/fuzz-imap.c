/* fuzz-imap.c: libFuzzer harness for imap-parse.c, the part of the IMAP client that reads
 * what a server sends. The input is a server's byte stream, fed to the response reader in
 * pieces whose sizes come from the input, with small limits so that the bounds are
 * reached; each whole response is parsed and read as FETCH, LIST, SEARCH, ESEARCH and
 * VANISHED. Every value must lie inside the response's buffer, lists must be finite, and
 * no set may yield more UIDs than allowed. The input also goes through modified UTF-7
 * both ways (a decoded name must encode to a name that decodes the same) and the UID
 * set writer (what it writes reads back as the same UIDs). */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imap-parse.h"
#include "imap.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fuzz_fail(const char *what)
{
	fprintf(stderr, "fuzz-imap: %s\n", what);
	abort();
}

struct fuzz_count {
	size_t n;
	uint32_t last;
	const uint32_t *want;		/* the UIDs a written set must give back */
	size_t nwant;
};

static int
fuzz_uid(void *arg, uint32_t uid)
{
	struct fuzz_count *c = arg;

	if (c->want != NULL && (c->n >= c->nwant || c->want[c->n] != uid))
		fuzz_fail("a written UID set reads back differently");
	c->n++;
	c->last = uid;
	return 0;
}

/* Every node of r inside [buf, buf + len); lists walk to their end. */
static void
fuzz_check_nodes(const struct imap_resp *r, const char *buf, size_t len)
{
	size_t steps = 0;

	for (size_t i = 0; i < r->nnodes; i++) {
		const struct imap_node *n = &r->nodes[i];

		if ((n->type == IMAP_ATOM || n->type == IMAP_STRING) && n->len > 0 &&
		    (n->s < buf || n->s + n->len > buf + len))
			fuzz_fail("a value outside the response");
		if (n->type == IMAP_ATOM && n->len == 0)
			fuzz_fail("an empty atom");
		if (n->next != -1 && (n->next <= (int)i || (size_t)n->next >= r->nnodes))
			fuzz_fail("a list that does not go forward");
		if (n->child != -1 && (n->type != IMAP_LIST || n->child <= (int)i ||
		    (size_t)n->child >= r->nnodes))
			fuzz_fail("a bad child");
		steps++;
	}
	if (r->nnodes > IMAP_NODES_MAX || steps != r->nnodes)
		fuzz_fail("too many values");
}

static void
fuzz_response(char *buf, size_t len)
{
	struct imap_resp r = { 0 };
	struct imap_fetch f;
	struct imap_list l;
	struct imap_str set;
	struct fuzz_count c = { 0 };
	int earlier;

	if (imap_parse(&r, buf, len) == -1) {
		if (r.err[0] == '\0')
			fuzz_fail("an error without a message");
		imap_resp_free(&r);
		return;
	}
	fuzz_check_nodes(&r, buf, len);
	if (r.kind == IMAP_KIND_TAGGED && (r.tag.len == 0 || r.cond == IMAP_COND_NONE))
		fuzz_fail("a tagged response without a tag or a condition");
	if (imap_fetch_parse(&r, &f) == 0) {
		if (f.body.s != NULL && (f.body.len > len || (f.body.len > 0 &&
		    (f.body.s < buf || f.body.s + f.body.len > buf + len))))
			fuzz_fail("a body outside the response");
		if (f.has_flags && imap_node(&r, f.flags) == NULL)
			fuzz_fail("flags without a node");
	}
	if (imap_list_parse(&r, &l) == 0) {
		char *raw = xstrndup(l.name.s, l.name.len), *d = imap_mutf7_decode(raw);

		free(d);
		free(raw);
	}
	if (imap_esearch_all(&r, &set) == 0 && set.s != NULL) {
		if (imap_uidset_each(set.s, set.len, 1, UINT32_MAX, 100000, fuzz_uid, &c) == 0 &&
		    c.n > 100000)
			fuzz_fail("more UIDs than allowed");
	}
	c.n = 0;
	if (imap_vanished(&r, &set, &earlier) == 0) {
		if (imap_uidset_each(set.s, set.len, 3, 5000, 1000, fuzz_uid, &c) == 0 &&
		    (c.n > 1000 || (c.n > 0 && (c.last < 3 || c.last > 5000))))
			fuzz_fail("UIDs outside the range");
	}
	if (imap_str_is(r.name.s, r.name.len, "SEARCH")) {
		size_t pos = 0, k = 0;
		uint32_t uid;

		while (imap_search_next(&r, &pos, &uid) == 1) {
			if (uid == 0 || ++k > len)
				fuzz_fail("a SEARCH that does not end");
		}
	}
	imap_resp_free(&r);
}

static void
fuzz_stream(const uint8_t *data, size_t size, size_t line_max, size_t literal_max)
{
	struct imap_reader rd;
	size_t pos = 0, step = 1;
	int responses = 0;

	imap_reader_init(&rd);
	rd.line_max = line_max;
	rd.literal_max = literal_max;
	rd.response_max = 4 * literal_max + line_max;
	while (pos < size) {
		size_t k = size - pos < step ? size - pos : step;
		ssize_t n = imap_reader_feed(&rd, (const char *)data + pos, k);

		if (n < 0) {
			if (rd.err[0] == '\0')
				fuzz_fail("a reader error without a message");
			break;
		}
		if ((size_t)n > k)
			fuzz_fail("the reader took more than it was given");
		pos += (size_t)n;
		if (rd.len > rd.response_max + 32)
			fuzz_fail("a response over its maximum");
		if (rd.complete) {
			if (rd.buf[rd.len] != '\0')
				fuzz_fail("an unterminated response");
			fuzz_response(rd.buf, rd.len);
			imap_reader_next(&rd);
			if (++responses > 10000)
				break;
		} else if ((size_t)n < k) {
			fuzz_fail("the reader stopped before a response's end");
		}
		step = (step * 7 + data[pos % size]) % 61 + 1;
	}
	imap_reader_free(&rd);
}

static void
fuzz_mutf7(const uint8_t *data, size_t size)
{
	char *s = xstrndup((const char *)data, size > 512 ? 512 : size), *d, *e, *d2;

	if ((d = imap_mutf7_decode(s)) != NULL) {
		if ((e = imap_mutf7_encode(d)) == NULL)
			fuzz_fail("a decoded name that does not encode");
		if ((d2 = imap_mutf7_decode(e)) == NULL || strcmp(d, d2) != 0)
			fuzz_fail("a name that does not survive a round trip");
		free(d2);
		free(e);
		free(d);
	}
	if ((e = imap_mutf7_encode(s)) != NULL) {
		if ((d = imap_mutf7_decode(e)) == NULL || strcmp(d, s) != 0)
			fuzz_fail("an encoded name that does not decode to itself");
		free(d);
		free(e);
	}
	free(s);
}

static void
fuzz_uidsets(const uint8_t *data, size_t size)
{
	uint32_t uids[64];
	size_t n = 0, k;
	char set[96];
	struct fuzz_count c = { 0 };

	for (size_t i = 0; i + 1 < size && n < MR_ARRAY_LEN(uids); i += 2)
		uids[n++] = (uint32_t)data[i] << 8 | data[i + 1];
	n = imap_uids_sort(uids, n);
	if (n == 0)
		return;
	k = imap_uidset_format(uids, n, set, sizeof(set));
	if (k == 0 || k > n || strlen(set) >= sizeof(set))
		fuzz_fail("a UID set that holds nothing");
	c.want = uids;
	c.nwant = k;
	if (imap_uidset_each(set, strlen(set), 1, UINT32_MAX, 1u << 20, fuzz_uid, &c) != 0 ||
	    c.n != k)
		fuzz_fail("a written UID set does not read back");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;

	if (!ready) {
		log_set_level(LOG_LEVEL_ERROR);
		ready = 1;
	}
	if (size == 0)
		return 0;
	fuzz_stream(data, size, 200, 40);
	fuzz_stream(data, size, IMAP_LINE_MAX, IMAP_LITERAL_MAX);
	fuzz_mutf7(data, size);
	fuzz_uidsets(data, size);
	return 0;
}
