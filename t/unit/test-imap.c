/* test-imap.c: the IMAP client. First the parts without a network: the response reader
 * and parser (literals, quoted strings, NIL, nested lists, VANISHED, ESEARCH, bounds),
 * UID sets, dates, modified UTF-7 and the settings. Then sessions against a scripted
 * server in a thread (odd but valid servers, a greeting then nothing, a server that
 * hangs) and against a real Dovecot started by the test in a temporary directory
 * (contrib/dovecot, found through MAILROOM_TEST_DOVECOT or the source tree): logins over
 * plain, STARTTLS and TLS, refusals, folders, append and fetch, changes in the three
 * capability modes, UIDVALIDITY changes, moves, and a server stopped mid-fetch. Without
 * Dovecot the Dovecot tests fail when CI=true and are skipped loudly otherwise. */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "imap-parse.h"
#include "imap.h"
#include "util.h"
#include "unit.h"

/* ---- the parser */

/* Feeds s to a fresh reader in pieces of step bytes; returns the bytes of the first
 * whole response in *out (a copy), or -1. */
static int
read_one(const char *s, size_t len, size_t step, struct imap_reader *r)
{
	size_t pos = 0;

	imap_reader_init(r);
	while (pos < len && !r->complete) {
		size_t k = len - pos < step ? len - pos : step;
		ssize_t n = imap_reader_feed(r, s + pos, k);

		if (n < 0)
			return -1;
		pos += (size_t)n;
	}
	return r->complete ? (int)pos : -1;
}

static void
test_reader_literals(void)
{
	static const char in[] =
	    "* 1 FETCH (UID 7 BODY[] {25}\r\nA001 OK\r\n* BYE\r\nend {5}\r\n FLAGS (\\Seen))\r\n"
	    "mr2 OK done\r\n";
	size_t steps[] = { 1, 2, 3, 7, 4096 };

	for (size_t k = 0; k < MR_ARRAY_LEN(steps); k++) {
		struct imap_reader r;
		struct imap_resp resp = { 0 };
		struct imap_fetch f;
		int used = read_one(in, sizeof(in) - 1, steps[k], &r);

		CU_ASSERT_EQUAL(used, (int)(sizeof(in) - 1 - strlen("mr2 OK done\r\n")));
		CU_ASSERT_EQUAL_FATAL(imap_parse(&resp, r.buf, r.len), 0);
		CU_ASSERT(imap_str_is(resp.name.s, resp.name.len, "FETCH"));
		CU_ASSERT_EQUAL(resp.num, 1);
		CU_ASSERT_EQUAL_FATAL(imap_fetch_parse(&resp, &f), 0);
		CU_ASSERT_EQUAL(f.uid, 7);
		CU_ASSERT_EQUAL(f.body.len, 25);
		CU_ASSERT(f.body.s != NULL && memcmp(f.body.s, "A001 OK\r\n* BYE\r\nend {5}\r\n",
		    25) == 0);
		CU_ASSERT(f.has_flags);
		imap_resp_free(&resp);
		imap_reader_free(&r);
	}
}

static void
test_parse_values(void)
{
	char buf[] = "* LIST (\\HasNoChildren \\Sent) \"/\" \"a \\\"q\\\" \\\\ b\"\r\n";
	char buf2[] = "* X (a (b (c NIL) \"\") {3}\r\nx)y NIL)\r\n";
	char buf3[] = "mr9 NO [TRYCREATE] Mailbox doesn't exist: Foo\r\n";
	char buf4[] = "+ go ahead\r\n";
	char buf5[] = "* OK [PERMANENTFLAGS (\\Seen \\*)] Flags permitted.\r\n";
	char buf6[] = "* 3 FETCH (BODY[HEADER.FIELDS (FROM TO)] {2}\r\nab UID 4)\r\n";
	struct imap_resp r = { 0 };
	struct imap_list l;
	const struct imap_node *n, *m;
	struct imap_fetch f;

	CU_ASSERT_EQUAL_FATAL(imap_parse(&r, buf, strlen(buf)), 0);
	CU_ASSERT_EQUAL_FATAL(imap_list_parse(&r, &l), 0);
	CU_ASSERT_EQUAL(l.delimiter, '/');
	CU_ASSERT(l.flags & IMAP_LIST_SENT);
	CU_ASSERT(!(l.flags & IMAP_LIST_NOSELECT));
	CU_ASSERT(l.name.len == 9 && memcmp(l.name.s, "a \"q\" \\ b", 9) == 0);

	CU_ASSERT_EQUAL_FATAL(imap_parse(&r, buf2, strlen(buf2)), 0);
	n = imap_node(&r, r.first);
	CU_ASSERT_EQUAL_FATAL(n->type, IMAP_LIST);
	m = imap_node(&r, n->child);
	CU_ASSERT(imap_node_is(m, "a"));
	m = imap_node(&r, m->next);
	CU_ASSERT_EQUAL_FATAL(m->type, IMAP_LIST);
	m = imap_node(&r, imap_node(&r, m->child)->next);	/* (c NIL) */
	CU_ASSERT_EQUAL_FATAL(m->type, IMAP_LIST);
	CU_ASSERT_EQUAL(imap_node(&r, imap_node(&r, m->child)->next)->type, IMAP_NIL);
	m = imap_node(&r, m->next);
	CU_ASSERT(m->type == IMAP_STRING && m->len == 0);
	m = imap_node(&r, imap_node(&r, n->child)->next);
	m = imap_node(&r, m->next);				/* {3} x)y */
	CU_ASSERT(m->type == IMAP_STRING && m->len == 3 && memcmp(m->s, "x)y", 3) == 0);
	CU_ASSERT_EQUAL(imap_node(&r, m->next)->type, IMAP_NIL);

	CU_ASSERT_EQUAL_FATAL(imap_parse(&r, buf3, strlen(buf3)), 0);
	CU_ASSERT_EQUAL(r.kind, IMAP_KIND_TAGGED);
	CU_ASSERT(imap_str_is(r.tag.s, r.tag.len, "mr9"));
	CU_ASSERT_EQUAL(r.cond, IMAP_COND_NO);
	CU_ASSERT(imap_str_is(r.code.s, r.code.len, "TRYCREATE"));
	CU_ASSERT(imap_str_is(r.text.s, r.text.len, "Mailbox doesn't exist: Foo"));

	CU_ASSERT_EQUAL_FATAL(imap_parse(&r, buf4, strlen(buf4)), 0);
	CU_ASSERT_EQUAL(r.kind, IMAP_KIND_CONTINUE);

	CU_ASSERT_EQUAL_FATAL(imap_parse(&r, buf5, strlen(buf5)), 0);
	CU_ASSERT(imap_str_is(r.code.s, r.code.len, "PERMANENTFLAGS"));
	CU_ASSERT(imap_str_is(r.code_args.s, r.code_args.len, "(\\Seen \\*)"));

	CU_ASSERT_EQUAL_FATAL(imap_parse(&r, buf6, strlen(buf6)), 0);
	CU_ASSERT_EQUAL_FATAL(imap_fetch_parse(&r, &f), 0);
	CU_ASSERT_EQUAL(f.uid, 4);
	CU_ASSERT(f.body.s == NULL);
	imap_resp_free(&r);
}

static void
test_parse_refusals(void)
{
	static const char *const bad[] = {
		"", "\r\n", "*", "* ", "mr1 FOO bar\r\n", "* 99999999999 EXISTS\r\n",
		"* X (a b\r\n", "* X a)\r\n", "* X \"abc\r\n", "* X \"a\\b\"\r\n",
		"* X {5}\r\nab", "* X {a}\r\n", "* X {99999999999}\r\n", "* X a\"b\"\r\n",
		"* OK [ALERT oops\r\n", "* X BODY[ unclosed\r\n",
	};
	struct imap_resp r = { 0 };
	char deep[200];
	size_t k = 0;

	for (size_t i = 0; i < MR_ARRAY_LEN(bad); i++) {
		char *copy = xstrdup(bad[i]);

		if (imap_parse(&r, copy, strlen(copy)) != -1)
			fprintf(stderr, "parsed: %s\n", bad[i]);
		CU_ASSERT_EQUAL(imap_parse(&r, copy, strlen(copy)), -1);
		CU_ASSERT(r.err[0] != '\0');
		free(copy);
	}
	k += (size_t)snprintf(deep, sizeof(deep), "* X ");
	for (int i = 0; i < IMAP_DEPTH_MAX + 1; i++)
		deep[k++] = '(';
	for (int i = 0; i < IMAP_DEPTH_MAX + 1; i++)
		deep[k++] = ')';
	memcpy(deep + k, "\r\n", 3);
	CU_ASSERT_EQUAL(imap_parse(&r, deep, strlen(deep)), -1);
	imap_resp_free(&r);
}

static void
test_reader_bounds(void)
{
	struct imap_reader r;
	struct imap_resp resp = { 0 };
	struct imap_fetch f;
	char *line;
	static const char big[] = "* 2 FETCH (UID 9 BODY[] {20}\r\n0123456789abcdefghij)\r\n";

	/* A literal over the maximum is dropped, its size kept. */
	imap_reader_init(&r);
	r.literal_max = 10;
	CU_ASSERT_EQUAL(imap_reader_feed(&r, big, strlen(big)), (ssize_t)strlen(big));
	CU_ASSERT_FATAL(r.complete);
	CU_ASSERT(r.len < strlen(big));
	CU_ASSERT_EQUAL_FATAL(imap_parse(&resp, r.buf, r.len), 0);
	CU_ASSERT_EQUAL_FATAL(imap_fetch_parse(&resp, &f), 0);
	CU_ASSERT_EQUAL(f.uid, 9);
	CU_ASSERT(f.body_big);
	CU_ASSERT_EQUAL(f.body.len, 20);
	imap_reader_free(&r);

	/* A line over the maximum is an error, not memory. */
	imap_reader_init(&r);
	line = xmalloc(IMAP_LINE_MAX + 100);
	memset(line, 'a', IMAP_LINE_MAX + 100);
	memcpy(line, "* X ", 4);
	CU_ASSERT_EQUAL(imap_reader_feed(&r, line, IMAP_LINE_MAX + 100), -1);
	CU_ASSERT(strstr(r.err, "line") != NULL);
	free(line);
	imap_reader_free(&r);
	imap_resp_free(&resp);
}

static int
collect(void *arg, uint32_t uid)
{
	char *s = arg;

	sprintf(s + strlen(s), "%u,", uid);
	return 0;
}

static void
test_uidsets(void)
{
	char out[256] = "", set[64];
	uint32_t uids[] = { 9, 1, 2, 3, 3, 5, 7, 8, 0 };
	size_t n;

	CU_ASSERT_EQUAL(imap_uidset_each("1:3,7,10:8", 10, 1, 100, 100, collect, out), 0);
	CU_ASSERT_STRING_EQUAL(out, "1,2,3,7,8,9,10,");
	out[0] = '\0';
	/* Clamped to what was asked. */
	CU_ASSERT_EQUAL(imap_uidset_each("1:4294967295", 12, 5, 7, 100, collect, out), 0);
	CU_ASSERT_STRING_EQUAL(out, "5,6,7,");
	/* Too many is an error, not four billion calls. */
	CU_ASSERT_EQUAL(imap_uidset_each("1:4294967295", 12, 1, UINT32_MAX, 1000, collect,
	    out), -1);
	CU_ASSERT_EQUAL(imap_uidset_each("1:", 2, 1, 9, 9, collect, out), -1);
	CU_ASSERT_EQUAL(imap_uidset_each("1,", 2, 1, 9, 9, collect, out), -1);
	CU_ASSERT_EQUAL(imap_uidset_each("0", 1, 1, 9, 9, collect, out), -1);
	CU_ASSERT_EQUAL(imap_uidset_each("*", 1, 1, 9, 9, collect, out), -1);
	CU_ASSERT_EQUAL(imap_uidset_each("", 0, 1, 9, 9, collect, out), -1);

	n = imap_uids_sort(uids, MR_ARRAY_LEN(uids));
	CU_ASSERT_EQUAL(n, 7);
	CU_ASSERT_EQUAL(imap_uidset_format(uids, n, set, sizeof(set)), 7);
	CU_ASSERT_STRING_EQUAL(set, "1:3,5,7:9");
	/* A short buffer takes what fits; the rest is for the next command. */
	CU_ASSERT_EQUAL(imap_uidset_format(uids, n, set, 5), 3);
	CU_ASSERT_STRING_EQUAL(set, "1:3");
}

static void
test_search_vanished(void)
{
	char s1[] = "* SEARCH 2 84 882\r\n";
	char s2[] = "* SEARCH\r\n";
	char s3[] = "* ESEARCH (TAG \"mr4\") UID ALL 1:3,5\r\n";
	char s4[] = "* VANISHED (EARLIER) 41,43:45\r\n";
	char s5[] = "* VANISHED 7\r\n";
	char s6[] = "* ESEARCH (TAG \"mr5\") UID\r\n";
	char s7[] = "* SEARCH 2 x\r\n";
	struct imap_resp r = { 0 };
	struct imap_str set;
	size_t pos = 0;
	uint32_t uid;
	int earlier;

	CU_ASSERT_EQUAL_FATAL(imap_parse(&r, s1, strlen(s1)), 0);
	CU_ASSERT_EQUAL(imap_search_next(&r, &pos, &uid), 1);
	CU_ASSERT_EQUAL(uid, 2);
	CU_ASSERT_EQUAL(imap_search_next(&r, &pos, &uid), 1);
	CU_ASSERT_EQUAL(imap_search_next(&r, &pos, &uid), 1);
	CU_ASSERT_EQUAL(uid, 882);
	CU_ASSERT_EQUAL(imap_search_next(&r, &pos, &uid), 0);
	pos = 0;
	CU_ASSERT_EQUAL_FATAL(imap_parse(&r, s2, strlen(s2)), 0);
	CU_ASSERT_EQUAL(imap_search_next(&r, &pos, &uid), 0);
	pos = 0;
	CU_ASSERT_EQUAL_FATAL(imap_parse(&r, s7, strlen(s7)), 0);
	CU_ASSERT_EQUAL(imap_search_next(&r, &pos, &uid), 1);
	CU_ASSERT_EQUAL(imap_search_next(&r, &pos, &uid), -1);

	CU_ASSERT_EQUAL_FATAL(imap_parse(&r, s3, strlen(s3)), 0);
	CU_ASSERT_EQUAL_FATAL(imap_esearch_all(&r, &set), 0);
	CU_ASSERT(imap_str_is(set.s, set.len, "1:3,5"));
	CU_ASSERT_EQUAL_FATAL(imap_parse(&r, s6, strlen(s6)), 0);
	CU_ASSERT_EQUAL_FATAL(imap_esearch_all(&r, &set), 0);
	CU_ASSERT_PTR_NULL(set.s);

	CU_ASSERT_EQUAL_FATAL(imap_parse(&r, s4, strlen(s4)), 0);
	CU_ASSERT_EQUAL_FATAL(imap_vanished(&r, &set, &earlier), 0);
	CU_ASSERT(earlier);
	CU_ASSERT(imap_str_is(set.s, set.len, "41,43:45"));
	CU_ASSERT_EQUAL_FATAL(imap_parse(&r, s5, strlen(s5)), 0);
	CU_ASSERT_EQUAL_FATAL(imap_vanished(&r, &set, &earlier), 0);
	CU_ASSERT(!earlier);
	CU_ASSERT(imap_str_is(set.s, set.len, "7"));
	imap_resp_free(&r);
}

static void
test_dates_flags(void)
{
	int64_t t;

	CU_ASSERT_EQUAL(imap_parse_date("17-Jul-1996 02:44:25 -0700", 26, &t), 0);
	CU_ASSERT_EQUAL(t, 837596665);
	CU_ASSERT_EQUAL(imap_parse_date(" 1-Jan-2024 00:00:00 +0000", 26, &t), 0);
	CU_ASSERT_EQUAL(t, 1704067200);
	CU_ASSERT_EQUAL(imap_parse_date("1-Jan-2024 01:00:00 +0100", 25, &t), 0);
	CU_ASSERT_EQUAL(t, 1704067200);
	CU_ASSERT_EQUAL(imap_parse_date("17-Foo-1996 02:44:25 -0700", 26, &t), -1);
	CU_ASSERT_EQUAL(imap_parse_date("17-Jul-1996 25:44:25 -0700", 26, &t), -1);
	CU_ASSERT_EQUAL(imap_parse_date("yesterday", 9, &t), -1);

	CU_ASSERT(imap_flag_valid("\\Seen"));
	CU_ASSERT(imap_flag_valid("\\deleted"));
	CU_ASSERT(imap_flag_valid("$Label1"));
	CU_ASSERT(imap_flag_valid("mailroom-triaged"));
	CU_ASSERT(!imap_flag_valid("\\Recent"));
	CU_ASSERT(!imap_flag_valid("two words"));
	CU_ASSERT(!imap_flag_valid("a)b"));
	CU_ASSERT(!imap_flag_valid("x\r\nmr1 LOGOUT"));
	CU_ASSERT(!imap_flag_valid(""));
	CU_ASSERT(!imap_flag_valid("caf\xc3\xa9"));
}

static void
test_mutf7(void)
{
	static const struct {
		const char *utf8, *mutf7;
	} pairs[] = {
		{ "INBOX", "INBOX" },
		{ "~peter/mail/\xe5\x8f\xb0\xe5\x8c\x97/\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e",
		  "~peter/mail/&U,BTFw-/&ZeVnLIqe-" },
		{ "Entw\xc3\xbcrfe", "Entw&APw-rfe" },
		{ "Envoy\xc3\xa9s", "Envoy&AOk-s" },
		{ "a&b", "a&-b" },
		{ "&", "&-" },
		{ "\xf0\x9f\x93\xa7 mail", "&2D3c5w- mail" },
		{ "tab\there", "tab&AAk-here" },
	};
	static const char *const invalid[] = {
		"&", "&Jjo", "&AGE-", "&2D3-", "&Jjo!-", "caf\xc3\xa9", "&AOl-", "&-&", "&,-",
		"&AAA-",
	};

	for (size_t i = 0; i < MR_ARRAY_LEN(pairs); i++) {
		char *e = imap_mutf7_encode(pairs[i].utf8), *d = imap_mutf7_decode(pairs[i].mutf7);

		CU_ASSERT_PTR_NOT_NULL_FATAL(e);
		CU_ASSERT_PTR_NOT_NULL_FATAL(d);
		if (strcmp(e, pairs[i].mutf7) != 0 || strcmp(d, pairs[i].utf8) != 0)
			fprintf(stderr, "mutf7: %s -> %s, %s -> %s\n", pairs[i].utf8, e,
			    pairs[i].mutf7, d);
		CU_ASSERT_STRING_EQUAL(e, pairs[i].mutf7);
		CU_ASSERT_STRING_EQUAL(d, pairs[i].utf8);
		free(e);
		free(d);
	}
	for (size_t i = 0; i < MR_ARRAY_LEN(invalid); i++) {
		char *d = imap_mutf7_decode(invalid[i]);

		if (d != NULL)
			fprintf(stderr, "decoded %s as %s\n", invalid[i], d);
		CU_ASSERT_PTR_NULL(d);
		free(d);
	}
	CU_ASSERT_PTR_NULL(imap_mutf7_encode("bad \xff utf-8"));
	CU_ASSERT_PTR_NULL(imap_mutf7_encode("\xed\xa0\x80"));	/* a surrogate */
}

static void
test_settings(void)
{
	struct imap_settings s = { 0 };
	char err[256];

	CU_ASSERT_EQUAL(imap_settings_parse(&s, "imap.example.com", "", "tls", "me@example.com",
	    "auto", err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(s.host, "imap.example.com");
	CU_ASSERT_EQUAL(s.port, 0);
	CU_ASSERT_EQUAL(s.security, IMAP_SECURITY_TLS);
	CU_ASSERT_EQUAL(s.auth, IMAP_AUTH_AUTO);
	CU_ASSERT_EQUAL(imap_settings_parse(&s, "10.0.0.1", "143", "starttls", "me", "xoauth2",
	    err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(s.port, 143);
	CU_ASSERT_EQUAL(s.security, IMAP_SECURITY_STARTTLS);
	CU_ASSERT_EQUAL(s.auth, IMAP_AUTH_XOAUTH2);
	CU_ASSERT_EQUAL(imap_settings_parse(&s, "", "", "tls", "me", "auto", err, sizeof(err)),
	    -1);
	CU_ASSERT(strstr(err, "server") != NULL);
	CU_ASSERT_EQUAL(imap_settings_parse(&s, "evil/x@y", "", "tls", "me", "auto", err,
	    sizeof(err)), -1);
	CU_ASSERT_EQUAL(imap_settings_parse(&s, "h", "0", "tls", "me", "auto", err,
	    sizeof(err)), -1);
	CU_ASSERT(strstr(err, "port") != NULL);
	CU_ASSERT_EQUAL(imap_settings_parse(&s, "h", "65536", "tls", "me", "auto", err,
	    sizeof(err)), -1);
	CU_ASSERT_EQUAL(imap_settings_parse(&s, "h", "1x", "tls", "me", "auto", err,
	    sizeof(err)), -1);
	CU_ASSERT_EQUAL(imap_settings_parse(&s, "h", "", "ssl", "me", "auto", err,
	    sizeof(err)), -1);
	CU_ASSERT(strstr(err, "security") != NULL);
	CU_ASSERT_EQUAL(imap_settings_parse(&s, "h", "", "tls", "", "auto", err,
	    sizeof(err)), -1);
	CU_ASSERT(strstr(err, "username") != NULL);
	CU_ASSERT_EQUAL(imap_settings_parse(&s, "h", "", "tls", "a\nb", "auto", err,
	    sizeof(err)), -1);
	CU_ASSERT_EQUAL(imap_settings_parse(&s, "h", "", "tls", "me", "cram", err,
	    sizeof(err)), -1);
	CU_ASSERT(strstr(err, "authentication") != NULL);
}

/* ---- a scripted server in a thread */

struct fake_step {
	const char *cmd;		/* a prefix of the command after its tag */
	const char *reply;		/* $T is the tag; "<CLOSE>" closes, "<HANG>" waits */
};

struct fake {
	int lsock, port;
	const char *greeting;
	const char *caps;
	const struct fake_step *steps;
	pthread_t th;
	int used[32];
};

static void
fake_write(int fd, const char *s)
{
	size_t n = strlen(s);

	while (n > 0) {
		ssize_t w = send(fd, s, n, MSG_NOSIGNAL);

		if (w <= 0)
			return;
		s += w;
		n -= (size_t)w;
	}
}

/* Writes reply with $T replaced by tag. */
static void
fake_reply(int fd, const char *reply, const char *tag)
{
	const char *p;

	while ((p = strstr(reply, "$T")) != NULL) {
		char *part = xstrndup(reply, (size_t)(p - reply));

		fake_write(fd, part);
		free(part);
		fake_write(fd, tag);
		reply = p + 2;
	}
	fake_write(fd, reply);
}

/* A message one byte over IMAP_LITERAL_MAX, with a small one beside it. */
static void
fake_big(int fd, const char *tag)
{
	char head[128], *chunk = xmalloc(1024 * 1024);

	snprintf(head, sizeof(head), "* 1 FETCH (UID 5 BODY[] {%zu}\r\n",
	    IMAP_LITERAL_MAX + 1);
	fake_write(fd, head);
	memset(chunk, 'x', 1024 * 1024 - 1);
	chunk[1024 * 1024 - 1] = '\0';
	/* 64 times 1 MiB - 1 bytes, then the 65 that make 64 MiB + 1. */
	for (int i = 0; i < 64; i++)
		fake_write(fd, chunk);
	chunk[65] = '\0';
	fake_write(fd, chunk);
	fake_write(fd, " FLAGS (\\Seen))\r\n* 2 FETCH (UID 6 BODY[] {2}\r\nok)\r\n");
	fake_reply(fd, "$T OK done\r\n", tag);
	free(chunk);
}

static void *
fake_main(void *arg)
{
	struct fake *f = arg;
	char line[8192];
	size_t len = 0;
	int fd = accept(f->lsock, NULL, NULL);

	if (fd == -1)
		return NULL;
	fake_write(fd, f->greeting);
	for (;;) {
		struct pollfd pfd = { fd, POLLIN, 0 };
		char tag[64], *sp, *nl;
		ssize_t n;

		if (poll(&pfd, 1, 30000) <= 0)
			break;
		n = read(fd, line + len, sizeof(line) - 1 - len);
		if (n <= 0)
			break;
		len += (size_t)n;
		line[len] = '\0';
		while ((nl = strchr(line, '\n')) != NULL) {
			const char *cmd, *reply = NULL;

			*nl = '\0';
			if (nl > line && nl[-1] == '\r')
				nl[-1] = '\0';
			sp = strchr(line, ' ');
			snprintf(tag, sizeof(tag), "%.*s", sp ? (int)(sp - line) : 0, line);
			cmd = sp ? sp + 1 : "";
			if (strncmp(cmd, "CAPABILITY", 10) == 0) {
				if (strcmp(f->caps, "<CLOSE>") == 0)
					goto out;
				fake_reply(fd, f->caps, tag);
			} else if (strncmp(cmd, "LOGIN", 5) == 0) {
				fake_reply(fd, "$T OK Logged in\r\n", tag);
			} else if (strncmp(cmd, "LOGOUT", 6) == 0) {
				fake_reply(fd, "* BYE Logging out\r\n$T OK Bye\r\n", tag);
				goto out;
			} else {
				for (int i = 0; f->steps[i].cmd != NULL; i++) {
					if (!f->used[i] && strncmp(cmd, f->steps[i].cmd,
					    strlen(f->steps[i].cmd)) == 0) {
						f->used[i] = 1;
						reply = f->steps[i].reply;
						break;
					}
				}
				if (reply == NULL)
					fake_reply(fd, "$T BAD Unexpected command\r\n", tag);
				else if (strcmp(reply, "<BIG>") == 0)
					fake_big(fd, tag);
				else if (strlen(reply) >= 7 &&
				    strcmp(reply + strlen(reply) - 7, "<CLOSE>") == 0) {
					char *part = xstrndup(reply, strlen(reply) - 7);

					fake_reply(fd, part, tag);
					free(part);
					goto out;
				}
				else if (strcmp(reply, "<HANG>") == 0) {
					/* Silence until the client gives up. */
					while (poll(&pfd, 1, 30000) > 0 && read(fd, line,
					    sizeof(line)) > 0)
						;
					goto out;
				} else
					fake_reply(fd, reply, tag);
			}
			len -= (size_t)(nl + 1 - line);
			memmove(line, nl + 1, len + 1);
		}
	}
out:
	close(fd);
	return NULL;
}

static void
fake_start(struct fake *f, const char *greeting, const char *caps,
    const struct fake_step *steps)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sa);
	int one = 1;

	memset(f, 0, sizeof(*f));
	f->greeting = greeting;
	f->caps = caps != NULL ? caps :
	    "* CAPABILITY IMAP4rev1 LITERAL+ UIDPLUS\r\n$T OK done\r\n";
	f->steps = steps;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	f->lsock = socket(AF_INET, SOCK_STREAM, 0);
	CU_ASSERT_FATAL(f->lsock >= 0);
	setsockopt(f->lsock, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	CU_ASSERT_FATAL(bind(f->lsock, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	CU_ASSERT_FATAL(listen(f->lsock, 4) == 0);
	getsockname(f->lsock, (struct sockaddr *)&sa, &sl);
	f->port = ntohs(sa.sin_port);
	CU_ASSERT_FATAL(pthread_create(&f->th, NULL, fake_main, f) == 0);
}

static void
fake_stop(struct fake *f)
{
	pthread_join(f->th, NULL);
	close(f->lsock);
}

static struct imap_settings
fake_settings(const struct fake *f, int timeout)
{
	struct imap_settings s = { 0 };

	s.host = "127.0.0.1";
	s.port = f->port;
	s.security = IMAP_SECURITY_NONE;
	s.username = "u";
	s.secret = "p";
	s.auth = IMAP_AUTH_LOGIN;
	s.timeout = timeout;
	s.allow_private = 1;
	return s;
}

struct got {
	uint32_t uids[256];
	char *raw[256];
	size_t n;
	size_t stop_after;		/* 0: never */
	int (*hook)(struct got *g);	/* called after each message */
	char flags[256][64];
};

static int
got_msg(void *arg, const struct provider_message *m)
{
	struct got *g = arg;

	if (g->n < MR_ARRAY_LEN(g->uids)) {
		g->uids[g->n] = m->uid;
		g->raw[g->n] = xstrndup(m->raw, m->raw_len);
		g->flags[g->n][0] = '\0';
		for (size_t i = 0; m->flags[i] != NULL; i++)
			snprintf(g->flags[g->n] + strlen(g->flags[g->n]),
			    sizeof(g->flags[0]) - strlen(g->flags[g->n]), "%s%s",
			    i ? " " : "", m->flags[i]);
		CU_ASSERT_EQUAL(strlen(m->raw), m->raw_len);
	}
	g->n++;
	if (g->hook != NULL && g->hook(g) != 0)
		return 1;
	return g->stop_after != 0 && g->n >= g->stop_after;
}

static void
got_free(struct got *g)
{
	for (size_t i = 0; i < g->n && i < MR_ARRAY_LEN(g->raw); i++)
		free(g->raw[i]);
	memset(g, 0, sizeof(*g));
}

static void
test_fake_odd_server(void)
{
	/* No UIDNEXT (derived with UID FETCH *), untagged noise in every answer, a body
	 * holding lines that look like responses, ALERT, answers out of order in a batch. */
	static const struct fake_step steps[] = {
		{ "SELECT \"INBOX\"", "* 3 EXISTS\r\n* OK [UIDVALIDITY 77] ok\r\n"
		    "* OK [ALERT] Maintenance tonight\r\n$T OK [READ-WRITE] done\r\n" },
		{ "UID FETCH * (UID)", "* 3 FETCH (UID 12)\r\n$T OK done\r\n" },
		{ "UID SEARCH UID 1:4294967295", "* 4 EXISTS\r\n* SEARCH 10 11 12\r\n"
		    "$T OK done\r\n" },
		{ "UID FETCH 10:12 (UID FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[])",
		    "* 1 FETCH (UID 10 FLAGS (\\Seen) INTERNALDATE \"01-Jan-2024 00:00:00 +0000\" "
		    "RFC822.SIZE 5 BODY[] {5}\r\nhello)\r\n"
		    "* 2 EXPUNGE\r\n"
		    "* 2 FETCH (FLAGS (\\Flagged) UID 12 BODY[] {30}\r\n"
		    "mr6 OK fake\r\n* BYE fake\r\n{5}\r\n)\r\n"
		    "* 9 FETCH (UID 99 FLAGS (\\Seen))\r\n"
		    "$T OK done\r\n" },
		{ "LIST \"\" \"*\"", "* LIST (\\HasNoChildren) \"/\" INBOX\r\n"
		    "* LIST (\\Noselect) \"/\" {6}\r\n[Mail]\r\n"
		    "* LIST () \"/\" \"[Mail]/Sent Items\"\r\n"
		    "* LIST () \"/\" \"Gel&APY-schte Elemente\"\r\n"
		    "* LIST () \"/\" \"Papierkorb\"\r\n"
		    "* LIST () \"/\" \"bad&name\"\r\n"
		    "* LIST () NIL Spam\r\n"
		    "$T OK done\r\n" },
		{ NULL, NULL },
	};
	struct fake f;
	struct imap_settings s;
	struct provider p;
	struct provider_cursor c;
	struct provider_folder *fl;
	struct got g = { 0 };
	size_t n;

	fake_start(&f, "* OK fake ready\r\n", NULL, steps);
	s = fake_settings(&f, 5);
	imap_provider_init(&p, &s);
	CU_ASSERT_EQUAL_FATAL(p.ops->connect(&p), PROVIDER_OK);
	CU_ASSERT_EQUAL_FATAL(p.ops->open_folder(&p, "INBOX", &c), PROVIDER_OK);
	CU_ASSERT_EQUAL(c.uidvalidity, 77);
	CU_ASSERT_EQUAL(c.uidnext, 13);
	CU_ASSERT_EQUAL(c.modseq, 0);
	CU_ASSERT_EQUAL(p.ops->fetch(&p, 1, UINT32_MAX, 0, got_msg, &g), PROVIDER_OK);
	if (g.n != 2)
		fprintf(stderr, "fetch: %s\n", p.error);
	CU_ASSERT_EQUAL_FATAL(g.n, 2);
	CU_ASSERT_EQUAL(g.uids[0], 12);
	/* Our own tag inside the literal: mr1 LOGIN, mr2 CAPABILITY, mr3 SELECT, mr4 the
	 * UID FETCH *, mr5 SEARCH, mr6 this FETCH. */
	CU_ASSERT_STRING_EQUAL(g.raw[0], "mr6 OK fake\r\n* BYE fake\r\n{5}\r\n");
	CU_ASSERT_STRING_EQUAL(g.flags[0], "\\Flagged");
	CU_ASSERT_EQUAL(g.uids[1], 10);
	CU_ASSERT_STRING_EQUAL(g.raw[1], "hello");
	CU_ASSERT_STRING_EQUAL(g.flags[1], "\\Seen");
	CU_ASSERT_EQUAL(p.ops->list_folders(&p, &fl, &n), PROVIDER_OK);
	CU_ASSERT_EQUAL_FATAL(n, 6);
	CU_ASSERT_STRING_EQUAL(fl[0].name, "INBOX");
	CU_ASSERT_EQUAL(fl[0].role, FOLDER_INBOX);
	CU_ASSERT_STRING_EQUAL(fl[1].name, "[Mail]");
	CU_ASSERT_EQUAL(fl[1].selectable, 0);
	CU_ASSERT_EQUAL(fl[2].role, FOLDER_OTHER);	/* not a known name */
	CU_ASSERT_STRING_EQUAL(fl[3].name, "Gel\xc3\xb6schte Elemente");
	CU_ASSERT_EQUAL(fl[3].role, FOLDER_TRASH);
	CU_ASSERT_EQUAL(fl[4].role, FOLDER_OTHER);	/* the trash is taken */
	CU_ASSERT_STRING_EQUAL(fl[5].name, "Spam");
	CU_ASSERT_EQUAL(fl[5].role, FOLDER_JUNK);
	CU_ASSERT_EQUAL(fl[5].delimiter, 0);
	for (size_t i = 0; i < n; i++)
		free(fl[i].name);
	free(fl);
	p.ops->close(&p);
	fake_stop(&f);
	got_free(&g);
}

/* A message over the maximum comes with its header section only. */
static void
test_fake_big(void)
{
	static const struct fake_step steps[] = {
		{ "SELECT", "* 2 EXISTS\r\n* OK [UIDVALIDITY 1] x\r\n* OK [UIDNEXT 7] x\r\n"
		    "$T OK done\r\n" },
		{ "UID SEARCH", "* SEARCH 5 6\r\n$T OK done\r\n" },
		{ "UID FETCH 5:6 ", "<BIG>" },
		{ "UID FETCH 5 (UID BODY.PEEK[HEADER])", "* 1 FETCH (UID 5 BODY[HEADER] {22}\r\n"
		    "Subject: big\r\nX: y\r\n\r\n)\r\n$T OK done\r\n" },
		{ NULL, NULL },
	};
	struct fake f;
	struct imap_settings s;
	struct provider p;
	struct provider_cursor c;
	struct got g = { 0 };

	fake_start(&f, "* OK ready\r\n", NULL, steps);
	s = fake_settings(&f, 10);
	imap_provider_init(&p, &s);
	CU_ASSERT_EQUAL_FATAL(p.ops->connect(&p), PROVIDER_OK);
	CU_ASSERT_EQUAL_FATAL(p.ops->open_folder(&p, "INBOX", &c), PROVIDER_OK);
	CU_ASSERT_EQUAL(p.ops->fetch(&p, 1, UINT32_MAX, 0, got_msg, &g), PROVIDER_OK);
	CU_ASSERT_EQUAL_FATAL(g.n, 2);
	CU_ASSERT_EQUAL(g.uids[0], 6);
	CU_ASSERT_STRING_EQUAL(g.raw[0], "ok");
	CU_ASSERT_EQUAL(g.uids[1], 5);
	CU_ASSERT_STRING_EQUAL(g.raw[1], "Subject: big\r\nX: y\r\n\r\n");
	CU_ASSERT_STRING_EQUAL(g.flags[1], "\\Seen");
	p.ops->close(&p);
	fake_stop(&f);
	got_free(&g);
}

static void
test_fake_drops(void)
{
	static const struct fake_step close_steps[] = {
		{ "SELECT", "* 3 EXISTS\r\n* OK [UIDVALIDITY 1] x\r\n* OK [UIDNEXT 4] x\r\n"
		    "$T OK done\r\n" },
		{ "UID SEARCH", "* SEARCH 1 2 3\r\n$T OK done\r\n" },
		{ "UID FETCH", "* 1 FETCH (UID 3 BODY[] {1000}\r\nonly a part<CLOSE>" },
		{ NULL, NULL },
	};
	static const struct fake_step hang_steps[] = {
		{ "SELECT", "* 3 EXISTS\r\n* OK [UIDVALIDITY 1] x\r\n* OK [UIDNEXT 4] x\r\n"
		    "$T OK done\r\n" },
		{ "UID SEARCH", "* SEARCH 1 2 3\r\n$T OK done\r\n" },
		{ "UID FETCH", "<HANG>" },
		{ NULL, NULL },
	};
	static const struct fake_step garbled_steps[] = {
		{ "SELECT", "* 3 EXISTS\r\n* OK [UIDVALIDITY 1] x\r\n* OK [UIDNEXT 4] x\r\n"
		    "* XYZZY \"unterminated\r\n$T OK done\r\n" },
		{ "UID SEARCH", "* SEARCH 1 2 3\r\n$T OK done\r\n" },
		{ "UID FETCH", "* 1 FETCH (UID 3 BODY[] \"unterminated)\r\n$T OK done\r\n" },
		{ NULL, NULL },
	};
	static const struct fake_step bye_steps[] = {
		{ "SELECT", "* BYE Server shutting down\r\n" },
		{ NULL, NULL },
	};
	struct fake f;
	struct imap_settings s;
	struct provider p;
	struct provider_cursor c;
	struct got g = { 0 };
	int64_t t0;

	/* A server that closes mid-literal. */
	fake_start(&f, "* OK ready\r\n", NULL, close_steps);
	s = fake_settings(&f, 5);
	imap_provider_init(&p, &s);
	CU_ASSERT_EQUAL_FATAL(p.ops->connect(&p), PROVIDER_OK);
	CU_ASSERT_EQUAL_FATAL(p.ops->open_folder(&p, "INBOX", &c), PROVIDER_OK);
	t0 = util_now_us();
	CU_ASSERT_EQUAL(p.ops->fetch(&p, 1, 3, 0, got_msg, &g), PROVIDER_NETWORK);
	CU_ASSERT(strstr(p.error, "closed the connection") != NULL);
	CU_ASSERT(util_now_us() - t0 < 2000000);
	CU_ASSERT_EQUAL(g.n, 0);
	p.ops->close(&p);
	fake_stop(&f);

	/* A greeting, then the connection closes before the login. */
	{
		static const struct fake_step none[] = { { NULL, NULL } };

		fake_start(&f, "* OK hi\r\n", "<CLOSE>", none);
		s = fake_settings(&f, 5);
		t0 = util_now_us();
		imap_provider_init(&p, &s);
		CU_ASSERT_EQUAL(p.ops->connect(&p), PROVIDER_NETWORK);
		CU_ASSERT(p.error[0] != '\0');
		CU_ASSERT(util_now_us() - t0 < 5000000);
		p.ops->close(&p);
		fake_stop(&f);
	}

	/* A server that stops answering mid-fetch: PROVIDER_NETWORK after the timeout. */
	fake_start(&f, "* OK ready\r\n", NULL, hang_steps);
	s = fake_settings(&f, 2);
	imap_provider_init(&p, &s);
	CU_ASSERT_EQUAL_FATAL(p.ops->connect(&p), PROVIDER_OK);
	CU_ASSERT_EQUAL_FATAL(p.ops->open_folder(&p, "INBOX", &c), PROVIDER_OK);
	t0 = util_now_us();
	CU_ASSERT_EQUAL(p.ops->fetch(&p, 1, 3, 0, got_msg, &g), PROVIDER_NETWORK);
	CU_ASSERT(util_now_us() - t0 >= 1900000);
	CU_ASSERT(util_now_us() - t0 < 5000000);
	CU_ASSERT(strstr(p.error, "did not answer") != NULL);
	CU_ASSERT_EQUAL(g.n, 0);
	/* The session knows it is lost. */
	CU_ASSERT_EQUAL(p.ops->open_folder(&p, "INBOX", &c), PROVIDER_NETWORK);
	p.ops->close(&p);
	fake_stop(&f);

	/* An unreadable untagged response is skipped, but not one that may hold a
	 * message: that one is an error, not a message silently lost. */
	fake_start(&f, "* OK ready\r\n", NULL, garbled_steps);
	s = fake_settings(&f, 5);
	imap_provider_init(&p, &s);
	CU_ASSERT_EQUAL_FATAL(p.ops->connect(&p), PROVIDER_OK);
	CU_ASSERT_EQUAL_FATAL(p.ops->open_folder(&p, "INBOX", &c), PROVIDER_OK);
	CU_ASSERT_EQUAL(p.ops->fetch(&p, 1, 3, 0, got_msg, &g), PROVIDER_PROTOCOL);
	CU_ASSERT(strstr(p.error, "cannot read") != NULL);
	p.ops->close(&p);
	fake_stop(&f);

	/* BYE in the middle of a command. */
	fake_start(&f, "* OK ready\r\n", NULL, bye_steps);
	s = fake_settings(&f, 5);
	imap_provider_init(&p, &s);
	CU_ASSERT_EQUAL_FATAL(p.ops->connect(&p), PROVIDER_OK);
	CU_ASSERT_EQUAL(p.ops->open_folder(&p, "INBOX", &c), PROVIDER_NETWORK);
	CU_ASSERT(strstr(p.error, "the server closed the connection: Server shutting down") !=
	    NULL);
	p.ops->close(&p);
	fake_stop(&f);
	got_free(&g);
}

/* ---- Dovecot */

static char dv_script[1024];
static char dv_dir[256];
static char dv_cert[300];
static int dv_port;
static int dv_state;		/* 0: not tried, 1: running, -1: unavailable */

static int MR_PRINTF(1, 2)
sh(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd);
}

static void
dv_stop(void)
{
	if (dv_state == 1) {
		sh("'%s' stop '%s' >/dev/null 2>&1; rm -rf '%s'", dv_script, dv_dir, dv_dir);
		dv_state = 0;
	}
}

/* Starts Dovecot once for the program; 1 when it runs. Without Dovecot: a failure
 * under CI=true, a loud skip otherwise. */
static int
dv_need(void)
{
	const char *env = getenv("MAILROOM_TEST_DOVECOT"), *src = getenv("srcdir");
	const char *ci = getenv("CI");
	char line[2048];
	FILE *out;

	if (dv_state == 1)
		return 1;
	if (dv_state == -1)
		goto unavailable;
	if (env != NULL && *env != '\0')
		snprintf(dv_script, sizeof(dv_script), "%s", env);
	else
		snprintf(dv_script, sizeof(dv_script), "%s/contrib/dovecot",
		    src != NULL && *src != '\0' ? src : MR_SRCDIR);
	if (access("/usr/sbin/dovecot", X_OK) != 0 && sh("command -v dovecot >/dev/null") != 0) {
		fprintf(stderr, "\n*** test-imap: Dovecot is not installed (Debian: dovecot-imapd):"
		    " the Dovecot tests do not run ***\n");
		dv_state = -1;
		goto unavailable;
	}
	snprintf(dv_dir, sizeof(dv_dir), "%s/mailroom-imap-XXXXXX",
	    getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp");
	if (mkdtemp(dv_dir) == NULL)
		goto fail;
	snprintf(line, sizeof(line), "'%s' start '%s' 2>&1", dv_script, dv_dir);
	if ((out = popen(line, "r")) == NULL)
		goto fail;
	while (fgets(line, sizeof(line), out) != NULL) {
		if (strncmp(line, "imap://127.0.0.1:", 17) == 0)
			dv_port = atoi(line + 17);
		else
			fprintf(stderr, "contrib/dovecot: %s", line);
	}
	if (pclose(out) != 0 || dv_port == 0)
		goto fail;
	snprintf(dv_cert, sizeof(dv_cert), "%s/ssl/cert.pem", dv_dir);
	dv_state = 1;
	atexit(dv_stop);
	return 1;
fail:
	fprintf(stderr, "test-imap: contrib/dovecot start failed\n");
	dv_state = -1;
	CU_FAIL("Dovecot did not start");
	return 0;
unavailable:
	if (ci != NULL && strcmp(ci, "true") == 0)
		CU_FAIL("Dovecot is required when CI=true");
	return 0;
}

static struct imap_settings
dv_settings(const char *user, enum imap_security sec)
{
	struct imap_settings s = { 0 };

	s.host = "127.0.0.1";
	s.port = sec == IMAP_SECURITY_TLS ? dv_port + 1 : dv_port;
	s.security = sec;
	s.username = user;
	s.secret = "pw-of-test";
	s.ca_file = dv_cert;
	s.timeout = 10;
	s.allow_private = 1;
	return s;
}

/* A new user of Dovecot for one test: nothing left by another test. */
static void
dv_user(const char *user)
{
	CU_ASSERT_EQUAL_FATAL(sh("'%s' adduser '%s' '%s' pw-of-test >/dev/null", dv_script,
	    dv_dir, user), 0);
}

static void
dv_open(struct provider *p, const struct imap_settings *s)
{
	imap_provider_init(p, s);
	if (p->ops->connect(p) != PROVIDER_OK)
		fprintf(stderr, "connect: %s\n", p->error);
}

static char *
test_message(int i)
{
	const char *extra = "";

	if (i == 7)
		extra = "A001 OK\r\n* BYE\r\nmr12 OK [ALERT] not me\r\na literal-looking {5}\r\n"
		    "{5}\r\n";
	return xasprintf("From: Sender %d <s%d@example.com>\r\nTo: t@example.com\r\n"
	    "Subject: message %d\r\nMessage-ID: <m%d@example.com>\r\n"
	    "Date: Mon, 1 Jan 2024 10:%02d:00 +0000\r\n\r\nBody of message %d.\r\n%s",
	    i, i, i, i, i % 60, i, extra);
}

static void
append_n(struct provider *p, const char *folder, int first, int n, uint32_t *uids)
{
	for (int i = first; i < first + n; i++) {
		char *m = test_message(i);
		uint32_t uid = 0;

		CU_ASSERT_EQUAL(p->ops->append(p, folder, m, strlen(m), NULL, &uid),
		    PROVIDER_OK);
		if (uids != NULL)
			uids[i - first] = uid;
		free(m);
	}
}

static void
test_dv_logins(void)
{
	static const enum imap_security secs[] = {
		IMAP_SECURITY_NONE, IMAP_SECURITY_STARTTLS, IMAP_SECURITY_TLS
	};
	static const enum imap_auth auths[] = {
		IMAP_AUTH_AUTO, IMAP_AUTH_LOGIN, IMAP_AUTH_PLAIN
	};
	struct imap_settings s;
	char err[512];

	if (!dv_need())
		return;
	dv_user("logins");
	for (size_t i = 0; i < MR_ARRAY_LEN(secs); i++) {
		for (size_t k = 0; k < MR_ARRAY_LEN(auths); k++) {
			size_t nf = 0;

			s = dv_settings("logins", secs[i]);
			s.auth = auths[k];
			CU_ASSERT_EQUAL(imap_test_connection(&s, &nf, err, sizeof(err)), PROVIDER_OK);
			CU_ASSERT(nf >= 5);
			if (err[0] != '\0')
				fprintf(stderr, "security %zu auth %zu: %s\n", i, k, err);
		}
	}

	/* A password with a quote, a backslash and 8-bit characters: a literal for LOGIN,
	 * SASL PLAIN through curl. */
	CU_ASSERT_EQUAL_FATAL(sh("'%s' adduser '%s' odd '%s' >/dev/null", dv_script, dv_dir,
	    "p\"\xc3\xa4\\s"), 0);
	for (size_t k = 0; k < MR_ARRAY_LEN(auths); k++) {
		s = dv_settings("odd", IMAP_SECURITY_NONE);
		s.secret = "p\"\xc3\xa4\\s";
		s.auth = auths[k];
		CU_ASSERT_EQUAL(imap_test_connection(&s, NULL, err, sizeof(err)), PROVIDER_OK);
		s.secret = "p\"\xc3\xa4\\S";
		CU_ASSERT_EQUAL(imap_test_connection(&s, NULL, err, sizeof(err)), PROVIDER_AUTH);
	}

	/* The wrong password: the server's words. */
	s = dv_settings("logins", IMAP_SECURITY_NONE);
	s.secret = "not-the-password";
	CU_ASSERT_EQUAL(imap_test_connection(&s, NULL, err, sizeof(err)), PROVIDER_AUTH);
	CU_ASSERT(strstr(err, "Authentication failed") != NULL);
	CU_ASSERT(strstr(err, "not-the-password") == NULL);
	s.auth = IMAP_AUTH_LOGIN;
	CU_ASSERT_EQUAL(imap_test_connection(&s, NULL, err, sizeof(err)), PROVIDER_AUTH);
	CU_ASSERT(strstr(err, "Authentication failed") != NULL);

	/* TLS with a certificate nobody vouches for. */
	s = dv_settings("logins", IMAP_SECURITY_TLS);
	s.ca_file = "/etc/ssl/certs/ca-certificates.crt";
	CU_ASSERT_EQUAL(imap_test_connection(&s, NULL, err, sizeof(err)), PROVIDER_NETWORK);
	CU_ASSERT(strstr(err, "certificate is not trusted") != NULL);
	s = dv_settings("logins", IMAP_SECURITY_STARTTLS);
	s.ca_file = "/etc/ssl/certs/ca-certificates.crt";
	CU_ASSERT_EQUAL(imap_test_connection(&s, NULL, err, sizeof(err)), PROVIDER_NETWORK);
	CU_ASSERT(strstr(err, "certificate is not trusted") != NULL);

	/* A private address is refused unless allowed, by the address connected to. */
	s = dv_settings("logins", IMAP_SECURITY_NONE);
	s.allow_private = 0;
	CU_ASSERT_EQUAL(imap_test_connection(&s, NULL, err, sizeof(err)), PROVIDER_NETWORK);
	CU_ASSERT(strstr(err, "127.0.0.1 resolves to a private address (127.0.0.1)") != NULL);
	s.host = "localhost";
	CU_ASSERT_EQUAL(imap_test_connection(&s, NULL, err, sizeof(err)), PROVIDER_NETWORK);
	CU_ASSERT(strstr(err, "localhost resolves to a private address") != NULL);

	/* Nobody listening. */
	s = dv_settings("logins", IMAP_SECURITY_NONE);
	s.port = dv_port + 2;
	CU_ASSERT_EQUAL(imap_test_connection(&s, NULL, err, sizeof(err)), PROVIDER_NETWORK);
	CU_ASSERT(strstr(err, "cannot connect") != NULL);
	/* STARTTLS asked of a TLS port. */
	s = dv_settings("logins", IMAP_SECURITY_TLS);
	s.security = IMAP_SECURITY_NONE;
	s.timeout = 2;
	CU_ASSERT_EQUAL(imap_test_connection(&s, NULL, err, sizeof(err)), PROVIDER_NETWORK);
	CU_ASSERT(strstr(err, "did not answer") != NULL);
}

static void
test_dv_folders(void)
{
	struct imap_settings s;
	struct provider p;
	struct provider_folder *f;
	size_t n;
	int seen = 0;

	if (!dv_need())
		return;
	dv_user("folders");
	CU_ASSERT_EQUAL_FATAL(sh("printf 'Subject: x\\r\\n\\r\\nx\\r\\n' > '%s/x.eml' && "
	    "'%s' append '%s' folders pw-of-test Archive '%s/x.eml' >/dev/null && "
	    "'%s' append '%s' folders pw-of-test 'Projects/Q1' '%s/x.eml' >/dev/null",
	    dv_dir, dv_script, dv_dir, dv_dir, dv_script, dv_dir, dv_dir), 0);
	s = dv_settings("folders", IMAP_SECURITY_NONE);
	for (int mode = 0; mode < 2; mode++) {
		s.ignore_caps = mode ? IMAP_CAP_SPECIAL_USE : 0;
		dv_open(&p, &s);
		CU_ASSERT_EQUAL_FATAL(p.ops->list_folders(&p, &f, &n), PROVIDER_OK);
		seen = 0;
		for (size_t i = 0; i < n; i++) {
			static const struct {
				const char *name;
				enum provider_folder_role role;
			} want[] = {
				{ "INBOX", FOLDER_INBOX }, { "Sent", FOLDER_SENT },
				{ "Drafts", FOLDER_DRAFTS }, { "Trash", FOLDER_TRASH },
				{ "Junk", FOLDER_JUNK }, { "Archive", FOLDER_ARCHIVE },
				{ "Projects/Q1", FOLDER_OTHER },
			};

			for (size_t k = 0; k < MR_ARRAY_LEN(want); k++) {
				if (strcmp(f[i].name, want[k].name) == 0) {
					CU_ASSERT_EQUAL(f[i].role, want[k].role);
					CU_ASSERT_EQUAL(f[i].delimiter, '/');
					CU_ASSERT(f[i].selectable);
					seen |= 1 << k;
				}
			}
			free(f[i].name);
		}
		free(f);
		CU_ASSERT_EQUAL(seen, 0x7f);
		p.ops->close(&p);
	}
}

static int order_ok;

static void
test_dv_fetch(void)
{
	struct imap_settings s;
	struct provider p;
	struct provider_cursor c;
	struct got g = { 0 };
	uint32_t uids[120];

	if (!dv_need())
		return;
	dv_user("fetch");
	s = dv_settings("fetch", IMAP_SECURITY_STARTTLS);
	s.batch = 7;
	dv_open(&p, &s);
	append_n(&p, "INBOX", 1, 60, uids);
	p.ops->close(&p);
	/* The other half without LITERAL+ (the server's "+" is awaited). */
	s.ignore_caps = IMAP_CAP_LITERAL_PLUS;
	dv_open(&p, &s);
	append_n(&p, "INBOX", 61, 60, uids + 60);
	for (int i = 0; i < 120; i++)
		CU_ASSERT_EQUAL(uids[i], (uint32_t)i + 1);	/* APPENDUID */

	CU_ASSERT_EQUAL_FATAL(p.ops->open_folder(&p, "INBOX", &c), PROVIDER_OK);
	CU_ASSERT(c.uidvalidity != 0);
	CU_ASSERT_EQUAL(c.uidnext, 121);
	CU_ASSERT(c.modseq != 0);
	CU_ASSERT_EQUAL(p.ops->fetch(&p, 1, UINT32_MAX, 0, got_msg, &g), PROVIDER_OK);
	CU_ASSERT_EQUAL_FATAL(g.n, 120);
	order_ok = 1;
	for (size_t i = 0; i < g.n; i++) {
		char *m = test_message((int)(120 - i));

		if (g.uids[i] != 120 - i || strcmp(g.raw[i], m) != 0)
			order_ok = 0;
		CU_ASSERT_STRING_EQUAL(g.flags[i], "");
		free(m);
	}
	CU_ASSERT(order_ok);
	got_free(&g);

	/* At most max, the newest. */
	CU_ASSERT_EQUAL(p.ops->fetch(&p, 1, UINT32_MAX, 10, got_msg, &g), PROVIDER_OK);
	CU_ASSERT_EQUAL_FATAL(g.n, 10);
	CU_ASSERT_EQUAL(g.uids[0], 120);
	CU_ASSERT_EQUAL(g.uids[9], 111);
	got_free(&g);
	/* A range, without ESEARCH on another session. */
	p.ops->close(&p);
	s.ignore_caps = IMAP_CAP_ESEARCH | IMAP_CAP_CONDSTORE;
	s.batch = 0;
	dv_open(&p, &s);
	CU_ASSERT_EQUAL_FATAL(p.ops->open_folder(&p, "INBOX", &c), PROVIDER_OK);
	CU_ASSERT_EQUAL(c.modseq, 0);
	CU_ASSERT_EQUAL(p.ops->fetch(&p, 50, 60, 0, got_msg, &g), PROVIDER_OK);
	CU_ASSERT_EQUAL_FATAL(g.n, 11);
	CU_ASSERT_EQUAL(g.uids[0], 60);
	CU_ASSERT_EQUAL(g.uids[10], 50);
	got_free(&g);
	/* Nothing above UIDNEXT; an empty range. */
	CU_ASSERT_EQUAL(p.ops->fetch(&p, 121, UINT32_MAX, 0, got_msg, &g), PROVIDER_OK);
	CU_ASSERT_EQUAL(g.n, 0);
	CU_ASSERT_EQUAL(p.ops->fetch(&p, 9, 8, 0, got_msg, &g), PROVIDER_OK);
	CU_ASSERT_EQUAL(g.n, 0);
	/* The callback stops the fetch; the session goes on. */
	g.stop_after = 3;
	CU_ASSERT_EQUAL(p.ops->fetch(&p, 1, UINT32_MAX, 0, got_msg, &g), PROVIDER_OK);
	CU_ASSERT_EQUAL(g.n, 3);
	got_free(&g);
	CU_ASSERT_EQUAL(p.ops->fetch(&p, 1, 2, 0, got_msg, &g), PROVIDER_OK);
	CU_ASSERT_EQUAL(g.n, 2);
	got_free(&g);
	p.ops->close(&p);
}

struct seen_changes {
	char flags[16][64];		/* by UID */
	int kind[16];			/* 1 + kind, 0: not reported */
	uint64_t modseq[16];
	int n;
};

static int
got_change(void *arg, const struct provider_change *c)
{
	struct seen_changes *x = arg;

	x->n++;
	if (c->uid >= 16)
		return 0;
	if (c->kind == CHANGE_FLAGS || x->kind[c->uid] == 0)
		x->kind[c->uid] = 1 + (int)c->kind;
	if (c->kind == CHANGE_FLAGS) {
		x->flags[c->uid][0] = '\0';
		for (size_t i = 0; c->flags[i] != NULL; i++)
			snprintf(x->flags[c->uid] + strlen(x->flags[c->uid]),
			    sizeof(x->flags[0]) - strlen(x->flags[c->uid]), "%s%s",
			    i ? " " : "", c->flags[i]);
		x->modseq[c->uid] = c->modseq;
	}
	return 0;
}

/* Flags set and cleared, then an expunge by another session, seen by changes() with
 * QRESYNC, with CONDSTORE alone and with neither. */
static void
test_dv_changes(void)
{
	static const char *const users[] = { "ch-qresync", "ch-condstore", "ch-plain" };
	static const unsigned ignore[] = {
		0, IMAP_CAP_QRESYNC, IMAP_CAP_CONDSTORE | IMAP_CAP_MOVE
	};
	static const char *const seen[] = { "\\Seen", NULL };
	static const char *const label[] = { "$Label1", "mailroom", NULL };
	static const char *const bad[] = { "bad flag", NULL };

	if (!dv_need())
		return;
	for (int mode = 0; mode < 3; mode++) {
		struct imap_settings s;
		struct provider p, q;
		struct provider_cursor c0, c1, c2;
		struct seen_changes x;
		int complete;
		uint32_t uid2 = 2, uid3 = 3, uid4 = 4, both[] = { 2, 3 };

		dv_user(users[mode]);
		s = dv_settings(users[mode], IMAP_SECURITY_NONE);
		s.ignore_caps = ignore[mode];
		dv_open(&p, &s);
		append_n(&p, "INBOX", 1, 5, NULL);
		CU_ASSERT_EQUAL_FATAL(p.ops->open_folder(&p, "INBOX", &c0), PROVIDER_OK);
		CU_ASSERT_EQUAL(c0.modseq != 0, mode < 2);

		CU_ASSERT_EQUAL(p.ops->set_flags(&p, &uid2, 1, seen, 1), PROVIDER_OK);
		CU_ASSERT_EQUAL(p.ops->set_flags(&p, both, 2, label, 1), PROVIDER_OK);
		CU_ASSERT_EQUAL(p.ops->set_flags(&p, both, 2, bad, 1), PROVIDER_REFUSED);
		memset(&x, 0, sizeof(x));
		CU_ASSERT_EQUAL(p.ops->changes(&p, &c0, got_change, &x, &complete), PROVIDER_OK);
		CU_ASSERT_EQUAL(x.kind[2], 1 + CHANGE_FLAGS);
		CU_ASSERT_STRING_EQUAL(x.flags[2], "\\Seen $Label1 mailroom");
		CU_ASSERT_EQUAL(x.kind[3], 1 + CHANGE_FLAGS);
		CU_ASSERT_STRING_EQUAL(x.flags[3], "$Label1 mailroom");
		if (mode == 0) {
			CU_ASSERT_EQUAL(complete, 0);
			CU_ASSERT_EQUAL(x.kind[1], 0);
			CU_ASSERT(x.modseq[2] > c0.modseq);
		} else if (mode == 1) {
			CU_ASSERT_EQUAL(complete, 1);
			CU_ASSERT_EQUAL(x.kind[1], 1 + CHANGE_PRESENT);
			CU_ASSERT_EQUAL(x.kind[5], 1 + CHANGE_PRESENT);
		} else {
			CU_ASSERT_EQUAL(complete, 1);
			CU_ASSERT_EQUAL(x.kind[1], 1 + CHANGE_FLAGS);
			CU_ASSERT_STRING_EQUAL(x.flags[1], "");
		}

		/* Cleared; then another session moves UID 4 to Trash (without MOVE in
		 * the plain mode: COPY, \Deleted, UID EXPUNGE). */
		CU_ASSERT_EQUAL_FATAL(p.ops->open_folder(&p, "INBOX", &c1), PROVIDER_OK);
		CU_ASSERT_EQUAL(p.ops->set_flags(&p, &uid2, 1, seen, 0), PROVIDER_OK);
		dv_open(&q, &s);
		CU_ASSERT_EQUAL_FATAL(q.ops->open_folder(&q, "INBOX", &c2), PROVIDER_OK);
		CU_ASSERT_EQUAL(q.ops->move(&q, &uid4, 1, "Trash"), PROVIDER_OK);
		q.ops->close(&q);
		/* A command in between, which may carry the expunge's news. */
		CU_ASSERT_EQUAL(p.ops->set_flags(&p, &uid3, 1, seen, 1), PROVIDER_OK);
		memset(&x, 0, sizeof(x));
		CU_ASSERT_EQUAL(p.ops->changes(&p, &c1, got_change, &x, &complete), PROVIDER_OK);
		CU_ASSERT_EQUAL(x.kind[2], 1 + CHANGE_FLAGS);
		CU_ASSERT_STRING_EQUAL(x.flags[2], "$Label1 mailroom");
		CU_ASSERT_STRING_EQUAL(x.flags[3], "\\Seen $Label1 mailroom");
		if (mode == 0) {
			CU_ASSERT_EQUAL(complete, 0);
			CU_ASSERT_EQUAL(x.kind[4], 1 + CHANGE_EXPUNGED);
		} else {
			CU_ASSERT_EQUAL(complete, 1);
			CU_ASSERT_EQUAL(x.kind[4], 0);
			CU_ASSERT(x.kind[5] != 0);
		}
		/* Nothing below UIDNEXT 1. */
		c1.uidnext = 1;
		memset(&x, 0, sizeof(x));
		CU_ASSERT_EQUAL(p.ops->changes(&p, &c1, got_change, &x, &complete), PROVIDER_OK);
		CU_ASSERT_EQUAL(x.n, 0);
		/* The moved message is in Trash. */
		{
			struct got g = { 0 };

			CU_ASSERT_EQUAL_FATAL(p.ops->open_folder(&p, "Trash", &c2), PROVIDER_OK);
			CU_ASSERT_EQUAL(p.ops->fetch(&p, 1, UINT32_MAX, 0, got_msg, &g),
			    PROVIDER_OK);
			CU_ASSERT_EQUAL_FATAL(g.n, 1);
			CU_ASSERT(strstr(g.raw[0], "Subject: message 4\r\n") != NULL);
			CU_ASSERT(strstr(g.flags[0], "\\Deleted") == NULL);
			got_free(&g);
		}
		p.ops->close(&p);
	}
}

static void
test_dv_move_append(void)
{
	struct imap_settings s;
	struct provider p;
	struct provider_cursor c;
	static const char *const flags[] = { "\\Seen", "\\Flagged", "$Triaged", NULL };
	static const char *const badflags[] = { "\\Recent", NULL };
	uint32_t uid = 0, uids[3];
	struct got g = { 0 };
	char *m = test_message(1);

	if (!dv_need())
		return;
	dv_user("move");
	s = dv_settings("move", IMAP_SECURITY_TLS);
	dv_open(&p, &s);
	CU_ASSERT_EQUAL(p.ops->append(&p, "Drafts", m, strlen(m), flags, &uid), PROVIDER_OK);
	CU_ASSERT_EQUAL(uid, 1);
	CU_ASSERT_EQUAL(p.ops->append(&p, "Drafts", m, strlen(m), badflags, &uid),
	    PROVIDER_REFUSED);
	CU_ASSERT_EQUAL(p.ops->append(&p, "No Such Folder", m, strlen(m), NULL, &uid),
	    PROVIDER_GONE);
	CU_ASSERT(strstr(p.error, "TRYCREATE") != NULL);
	CU_ASSERT_EQUAL(p.ops->append(&p, "Drafts", "a\0b", 3, NULL, &uid), PROVIDER_REFUSED);
	CU_ASSERT_EQUAL(p.ops->open_folder(&p, "No Such Folder", &c), PROVIDER_GONE);
	CU_ASSERT(strstr(p.error, "No Such Folder") != NULL);
	/* A failed SELECT leaves no folder open. */
	CU_ASSERT_EQUAL(p.ops->fetch(&p, 1, 9, 0, got_msg, &g), PROVIDER_PROTOCOL);

	CU_ASSERT_EQUAL_FATAL(p.ops->open_folder(&p, "Drafts", &c), PROVIDER_OK);
	CU_ASSERT_EQUAL(p.ops->fetch(&p, 1, UINT32_MAX, 0, got_msg, &g), PROVIDER_OK);
	CU_ASSERT_EQUAL_FATAL(g.n, 1);
	CU_ASSERT_STRING_EQUAL(g.raw[0], m);
	CU_ASSERT(strstr(g.flags[0], "\\Seen") != NULL);
	CU_ASSERT(strstr(g.flags[0], "\\Flagged") != NULL);
	CU_ASSERT(strstr(g.flags[0], "$Triaged") != NULL);
	got_free(&g);
	append_n(&p, "Drafts", 2, 2, NULL);
	uids[0] = 1;
	uids[1] = 2;
	uids[2] = 3;
	CU_ASSERT_EQUAL(p.ops->move(&p, uids, 3, "No Such Folder"), PROVIDER_GONE);
	CU_ASSERT_EQUAL(p.ops->move(&p, uids, 3, "Sent"), PROVIDER_OK);
	CU_ASSERT_EQUAL(p.ops->fetch(&p, 1, UINT32_MAX, 0, got_msg, &g), PROVIDER_OK);
	CU_ASSERT_EQUAL(g.n, 0);
	CU_ASSERT_EQUAL_FATAL(p.ops->open_folder(&p, "Sent", &c), PROVIDER_OK);
	CU_ASSERT_EQUAL(c.uidnext, 4);
	CU_ASSERT_EQUAL(p.ops->fetch(&p, 1, UINT32_MAX, 0, got_msg, &g), PROVIDER_OK);
	CU_ASSERT_EQUAL(g.n, 3);
	got_free(&g);
	p.ops->close(&p);
	free(m);
}

static void
test_dv_uidvalidity(void)
{
	struct imap_settings s;
	struct provider p;
	struct provider_cursor c0, c1;
	struct seen_changes x;
	int complete;

	if (!dv_need())
		return;
	dv_user("uidv");
	s = dv_settings("uidv", IMAP_SECURITY_NONE);
	dv_open(&p, &s);
	append_n(&p, "INBOX", 1, 3, NULL);
	CU_ASSERT_EQUAL_FATAL(p.ops->open_folder(&p, "INBOX", &c0), PROVIDER_OK);
	p.ops->close(&p);
	CU_ASSERT_EQUAL_FATAL(sh("'%s' uidvalidity-reset '%s' uidv INBOX >/dev/null",
	    dv_script, dv_dir), 0);
	dv_open(&p, &s);
	CU_ASSERT_EQUAL_FATAL(p.ops->open_folder(&p, "INBOX", &c1), PROVIDER_OK);
	CU_ASSERT_NOT_EQUAL(c1.uidvalidity, c0.uidvalidity);
	memset(&x, 0, sizeof(x));
	CU_ASSERT_EQUAL(p.ops->changes(&p, &c0, got_change, &x, &complete), PROVIDER_RESYNC);
	CU_ASSERT(strstr(p.error, "UIDVALIDITY") != NULL);
	CU_ASSERT_EQUAL(x.n, 0);
	p.ops->close(&p);
}

static int64_t stopped_at;

static int
stop_server(struct got *g)
{
	/* The stop may wait for the process that waits for this client to read: the
	 * time that counts starts when it is over. */
	if (g->n == 1) {
		CU_ASSERT_EQUAL(sh("'%s' stop '%s' >/dev/null 2>&1", dv_script, dv_dir), 0);
		stopped_at = util_now_us();
	}
	return 0;
}

/* Last: Dovecot stopped while a fetch runs. */
static void
test_dv_stopped(void)
{
	struct imap_settings s;
	struct provider p;
	struct provider_cursor c;
	struct got g = { 0 };
	int64_t t0;

	if (!dv_need())
		return;
	dv_user("stopped");
	s = dv_settings("stopped", IMAP_SECURITY_NONE);
	s.batch = 5;
	s.timeout = 5;
	dv_open(&p, &s);
	append_n(&p, "INBOX", 1, 40, NULL);
	CU_ASSERT_EQUAL_FATAL(p.ops->open_folder(&p, "INBOX", &c), PROVIDER_OK);
	g.hook = stop_server;
	CU_ASSERT_EQUAL(p.ops->fetch(&p, 1, UINT32_MAX, 0, got_msg, &g), PROVIDER_NETWORK);
	t0 = util_now_us();
	CU_ASSERT(stopped_at != 0 && t0 - stopped_at < 2000000);
	CU_ASSERT(g.n < 40);
	CU_ASSERT(p.error[0] != '\0');
	p.ops->close(&p);
	sh("'%s' stop '%s' >/dev/null 2>&1", dv_script, dv_dir);
	got_free(&g);
}

int
main(void)
{
	static const struct unit_test tests[] = {
		{ "reader: literals in any pieces", test_reader_literals },
		{ "parser: values", test_parse_values },
		{ "parser: refusals", test_parse_refusals },
		{ "reader: bounds", test_reader_bounds },
		{ "UID sets", test_uidsets },
		{ "SEARCH, ESEARCH, VANISHED", test_search_vanished },
		{ "dates and flags", test_dates_flags },
		{ "modified UTF-7", test_mutf7 },
		{ "settings", test_settings },
		{ "scripted server: odd but valid", test_fake_odd_server },
		{ "scripted server: a message over 64 MiB", test_fake_big },
		{ "scripted server: drops, hangs, BYE", test_fake_drops },
		{ "dovecot: logins and refusals", test_dv_logins },
		{ "dovecot: folders and roles", test_dv_folders },
		{ "dovecot: append and fetch", test_dv_fetch },
		{ "dovecot: changes in three modes", test_dv_changes },
		{ "dovecot: move and append", test_dv_move_append },
		{ "dovecot: UIDVALIDITY reset", test_dv_uidvalidity },
		{ "dovecot: stopped mid-fetch", test_dv_stopped },
		{ NULL, NULL },
	};
	int rc;

	log_set_level(LOG_LEVEL_ERROR);
	rc = unit_run("imap", tests);
	dv_stop();
	return rc;
}
