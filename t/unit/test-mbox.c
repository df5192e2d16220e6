/* test-mbox.c: the streaming mbox reader, on the crafted files of t/unit/mbox/ and on
 * buffers read through fmemopen. */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mbox.h"
#include "util.h"
#include "unit.h"

#define MBOX_DIR MR_SRCDIR "/t/unit/mbox/"
#define MAXMSG 16

struct got {
	struct mbox_message m[MAXMSG];
	size_t n;
	int rc;               /* the last mbox_next result */
	char err[256];
	uint64_t consumed;
	size_t skipped;
};

static void
read_all(FILE *f, size_t max, struct got *g)
{
	struct mbox_reader *r = mbox_open(f, max);
	struct mbox_message m;

	memset(g, 0, sizeof(*g));
	for (;;) {
		g->rc = mbox_next(r, &m, g->err, sizeof(g->err));
		if (g->rc != 1)
			break;
		if (g->n < MAXMSG)
			g->m[g->n++] = m;
		else
			mbox_message_free(&m);
	}
	g->consumed = mbox_offset(r);
	g->skipped = mbox_skipped(r);
	mbox_close(r);
}

static void
read_file(const char *name, size_t max, struct got *g)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s%s", MBOX_DIR, name);
	f = fopen(path, "rb");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	read_all(f, max, g);
	fclose(f);
}

static void
read_mem(const char *data, size_t len, size_t max, struct got *g)
{
	FILE *f = fmemopen((void *)(uintptr_t)data, len, "rb");

	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	read_all(f, max, g);
	fclose(f);
}

static void
got_free(struct got *g)
{
	for (size_t i = 0; i < g->n; i++)
		mbox_message_free(&g->m[i]);
}

/* Offsets increase, messages do not overlap and fit in what was read. */
static void
check_offsets(const struct got *g)
{
	uint64_t prev_end = 0;

	for (size_t i = 0; i < g->n; i++) {
		CU_ASSERT(g->m[i].len > 0);
		CU_ASSERT(g->m[i].offset >= prev_end);
		CU_ASSERT(g->m[i].end > g->m[i].offset);
		CU_ASSERT(g->m[i].len <= g->m[i].end - g->m[i].offset);
		CU_ASSERT_EQUAL(strlen(g->m[i].data), g->m[i].len);
		prev_end = g->m[i].end;
	}
	CU_ASSERT(prev_end <= g->consumed);
}

static void
test_basic(void)
{
	struct got g;

	read_file("basic.mbox", 0, &g);
	CU_ASSERT_EQUAL(g.rc, 0);
	CU_ASSERT_EQUAL_FATAL(g.n, 3);
	check_offsets(&g);
	CU_ASSERT_EQUAL(g.m[0].offset, 0);
	CU_ASSERT_STRING_EQUAL(g.m[0].from_line, "alice@example.org Mon Jan  1 10:00:00 2024");
	CU_ASSERT_STRING_EQUAL(g.m[0].data,
	    "From: Alice <alice@example.org>\n"
	    "To: Bob <bob@example.org>\n"
	    "Subject: First\n"
	    "Message-ID: <m1@example.org>\n"
	    "\n"
	    "Hello Bob.\n"
	    "From here on, an escaped line.\n"
	    ">From two levels.\n"
	    ">Fromage is not escaped.\n"
	    "From the middle of a paragraph, not a separator.\n");
	CU_ASSERT_EQUAL(g.m[1].offset, g.m[0].end);
	CU_ASSERT_STRING_EQUAL(g.m[1].from_line, "bob@example.org Mon Jan  1 11:00:00 2024");
	CU_ASSERT(strstr(g.m[1].data, "In-Reply-To: <m1@example.org>\n\nHi Alice.\n") != NULL);
	CU_ASSERT(g.m[1].data[g.m[1].len - 2] != '\n');
	CU_ASSERT_STRING_EQUAL(g.m[2].data + g.m[2].len - 11, "\nLast one.\n");
	CU_ASSERT_EQUAL(g.m[2].end, g.consumed);
	CU_ASSERT_EQUAL(g.consumed, 618);
	CU_ASSERT_EQUAL(g.skipped, 0);
	got_free(&g);
}

static void
test_crlf(void)
{
	struct got g;

	read_file("crlf.mbox", 0, &g);
	CU_ASSERT_EQUAL(g.rc, 0);
	CU_ASSERT_EQUAL_FATAL(g.n, 2);
	check_offsets(&g);
	CU_ASSERT_STRING_EQUAL(g.m[0].from_line, "alice@example.org Mon Jan  1 10:00:00 2024");
	CU_ASSERT_STRING_EQUAL(g.m[0].data,
	    "Subject: One\r\n\r\nBody one.\r\nFrom escaped.\r\n");
	CU_ASSERT_STRING_EQUAL(g.m[1].data, "Subject: Two\r\n\r\nBody two.\r\n");
	got_free(&g);
}

static void
test_takeout(void)
{
	struct got g;

	read_file("takeout.mbox", 0, &g);
	CU_ASSERT_EQUAL(g.rc, 0);
	CU_ASSERT_EQUAL_FATAL(g.n, 2);
	check_offsets(&g);
	CU_ASSERT_STRING_EQUAL(g.m[0].from_line,
	    "1781234567890123456@xxx Wed Mar 06 14:04:52 +0000 2024");
	CU_ASSERT(strncmp(g.m[0].data, "X-GM-THRID: 1781234567890123456\n"
	    "X-Gmail-Labels: Inbox,Important,Opened,Category Updates\n", 88) == 0);
	CU_ASSERT(strstr(g.m[1].data, "X-Gmail-Labels: Sent\n") != NULL);
	/* No empty line after the last message: its last line is kept whole. */
	CU_ASSERT_STRING_EQUAL(g.m[1].data + g.m[1].len - 14, "\nWhere is it?\n");
	got_free(&g);
}

static void
test_no_final_newline(void)
{
	struct got g;

	read_file("noeol.mbox", 0, &g);
	CU_ASSERT_EQUAL(g.rc, 0);
	CU_ASSERT_EQUAL_FATAL(g.n, 1);
	CU_ASSERT_STRING_EQUAL(g.m[0].data, "Subject: x\n\nno newline at the end");
	CU_ASSERT_EQUAL(g.m[0].end, 67);
	got_free(&g);
}

static void
test_not_mbox(void)
{
	struct got g;
	struct mbox_reader *r;
	struct mbox_message m;
	char err[256];
	FILE *f;

	read_file("notmbox.txt", 0, &g);
	CU_ASSERT_EQUAL(g.rc, -1);
	CU_ASSERT_EQUAL(g.n, 0);
	CU_ASSERT(strstr(g.err, "not an mbox file") != NULL);
	CU_ASSERT(strstr(g.err, "Subject: not an mbox") != NULL);

	/* A control byte is not echoed; the error stays. */
	f = fmemopen((void *)(uintptr_t)"\x01\x02zz\n", 5, "rb");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	r = mbox_open(f, 0);
	CU_ASSERT_EQUAL(mbox_next(r, &m, err, sizeof(err)), -1);
	CU_ASSERT(strstr(err, "starts with \"\")") != NULL);
	CU_ASSERT_EQUAL(mbox_next(r, &m, err, sizeof(err)), -1);
	mbox_close(r);
	fclose(f);

	/* "From" without the space is no separator either. */
	read_mem("From:a@b\n\nx\n", 12, 0, &g);
	CU_ASSERT_EQUAL(g.rc, -1);
}

static void
test_empty(void)
{
	struct got g;
	static const char two_seps[] = "From a\n\nFrom b\nSubject: b\n";

	read_mem("", 0, 0, &g);
	CU_ASSERT_EQUAL(g.rc, 0);
	CU_ASSERT_EQUAL(g.n, 0);

	/* A separator with nothing after it: skipped. */
	read_mem("From a\n", 7, 0, &g);
	CU_ASSERT_EQUAL(g.rc, 0);
	CU_ASSERT_EQUAL(g.n, 0);
	CU_ASSERT_EQUAL(g.skipped, 1);

	/* A message of only the empty line before the next separator: skipped. */
	read_mem(two_seps, sizeof(two_seps) - 1, 0, &g);
	CU_ASSERT_EQUAL(g.rc, 0);
	CU_ASSERT_EQUAL_FATAL(g.n, 1);
	CU_ASSERT_EQUAL(g.skipped, 1);
	CU_ASSERT_STRING_EQUAL(g.m[0].data, "Subject: b\n");
	CU_ASSERT_EQUAL(g.m[0].offset, 8);
	got_free(&g);
}

static void
test_too_large(void)
{
	struct got g;
	static const char data[] =
	    "From a\nSubject: small\n\nok\n\n"
	    "From b\nSubject: big\n\n0123456789012345678901234567890123456789\n\n"
	    "From c\nSubject: small too\n\nok\n";

	read_mem(data, sizeof(data) - 1, 40, &g);
	CU_ASSERT_EQUAL(g.rc, 0);
	CU_ASSERT_EQUAL_FATAL(g.n, 2);
	CU_ASSERT_EQUAL(g.skipped, 1);
	CU_ASSERT_STRING_EQUAL(g.m[0].data, "Subject: small\n\nok\n");
	CU_ASSERT_STRING_EQUAL(g.m[1].data, "Subject: small too\n\nok\n");
	CU_ASSERT_STRING_EQUAL(g.m[1].from_line, "c");
	check_offsets(&g);
	got_free(&g);
}

/* Lines far longer than the reader's buffer, a separator among them, and long runs of
 * '>' before "From ". */
static void
test_long_lines(void)
{
	size_t big = 300 * 1024, n = 0;
	char *data = xmalloc(2 * big + 8192);
	struct got g;

	n += (size_t)sprintf(data + n, "From %s\n", "x");
	memset(data + n, 'a', big);
	n += big;
	n += (size_t)sprintf(data + n, "\n>>>>>>>>>>From deep\n\nFrom ");
	memset(data + n, 'b', big);  /* a separator line of 300 KB */
	n += big;
	n += (size_t)sprintf(data + n, "\nbody\n");
	read_mem(data, n, 0, &g);
	CU_ASSERT_EQUAL(g.rc, 0);
	CU_ASSERT_EQUAL_FATAL(g.n, 2);
	CU_ASSERT_EQUAL(g.m[0].len, big + 20);
	CU_ASSERT(memcmp(g.m[0].data + big, "\n>>>>>>>>>From deep\n", 20) == 0);
	CU_ASSERT_EQUAL(strlen(g.m[1].from_line), MBOX_FROM_LINE_MAX);
	CU_ASSERT_STRING_EQUAL(g.m[1].data, "body\n");
	CU_ASSERT_EQUAL(g.m[1].end, n);
	check_offsets(&g);
	got_free(&g);
	free(data);
}

/* Many messages through the streaming buffer: every one comes out, in order. */
static void
test_many(void)
{
	size_t cap = 2000 * 64, n = 0;
	char *data = xmalloc(cap);
	struct got g;
	struct mbox_reader *r;
	struct mbox_message m;
	FILE *f;
	int count = 0, ok = 1;

	for (int i = 0; i < 2000; i++)
		n += (size_t)snprintf(data + n, cap - n, "From x\nSubject: %d\n\nbody %d\n\n", i,
		    i);
	f = fmemopen(data, n, "rb");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	r = mbox_open(f, 0);
	while (mbox_next(r, &m, g.err, sizeof(g.err)) == 1) {
		char want[64];

		snprintf(want, sizeof(want), "Subject: %d\n\nbody %d\n", count, count);
		if (strcmp(m.data, want) != 0)
			ok = 0;
		count++;
		mbox_message_free(&m);
	}
	CU_ASSERT(ok);
	CU_ASSERT_EQUAL(count, 2000);
	CU_ASSERT_EQUAL(mbox_offset(r), n);
	mbox_close(r);
	fclose(f);
	free(data);
}

int
main(void)
{
	static const struct unit_test tests[] = {
		{ "basic file, >From unescaping", test_basic },
		{ "CRLF file", test_crlf },
		{ "Google Takeout", test_takeout },
		{ "no newline at the end", test_no_final_newline },
		{ "not an mbox file", test_not_mbox },
		{ "empty messages", test_empty },
		{ "too large a message", test_too_large },
		{ "long lines", test_long_lines },
		{ "many messages", test_many },
		{ NULL, NULL },
	};

	log_set_level(LOG_LEVEL_ERROR);
	return unit_run("mbox", tests);
}
