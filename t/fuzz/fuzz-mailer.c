/* fuzz-mailer.c: libFuzzer harness for the mail mailroom sends: mailbox parsing
 * (MAILROOM_MAIL_FROM) and message building. The input is up to five fields separated by
 * NUL bytes: the recipient's address, their display name, the subject, the text body and
 * an HTML body; the first field is also parsed as a mailbox and, when it is one, used as
 * the sender. A message that builds must be 7-bit, with CRLF line ends only, lines of at
 * most 998 bytes, and exactly the headers mailroom writes: one From, one To, one Subject,
 * no other recipient or header the input could have slipped in; read back with GMime it
 * has the one recipient and the subject it was given. */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <gmime/gmime.h>
#include <sodium.h>

#include "mailer.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_FROM "mailroom <mailroom@example.org>"
#define FUZZ_FROM_ADDR "mailroom@example.org"
#define FUZZ_FIELDS 5

static int fuzz_ready;

/* The settings of a sender; no SMTP URL: mailer_build needs only the From. */
static void
fuzz_configure(const char *from)
{
	struct mailer_opts o;

	memset(&o, 0, sizeof(o));
	o.from = from;
	o.connect_timeout_ms = 1000;
	o.timeout_ms = 1000;
	o.retries = 0;
	o.queue_max = 1;
	mailer_configure(&o);
}

static void
fuzz_init(void)
{
	if (sodium_init() < 0)
		abort();
	g_mime_init();
	fuzz_configure(FUZZ_FROM);
	fuzz_ready = 1;
}

static void
fuzz_fail(const char *what, const char *msg, size_t len)
{
	fprintf(stderr, "fuzz-mailer: %s\n--- message (%zu bytes) ---\n%.*s\n---\n", what, len,
	    len > 4000 ? 4000 : (int)len, msg);
	abort();
}

/* The headers mailroom writes, each at most once. */
static const char *const fuzz_headers[] = {
	"From", "To", "Subject", "Date", "Message-Id", "MIME-Version", "Content-Type",
	"Content-Transfer-Encoding",
};

/* Checks the wire form of a built message. */
static void
fuzz_check_wire(const char *msg, size_t len)
{
	size_t counts[MR_ARRAY_LEN(fuzz_headers)] = { 0 };
	size_t line = 0, head_end = 0;
	int in_head = 1, first = 1;

	if (msg[len] != '\0' || strlen(msg) != len)
		fuzz_fail("a NUL inside the message", msg, len);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)msg[i];

		if (c >= 0x80)
			fuzz_fail("an 8-bit byte", msg, len);
		if (c == '\r' && (i + 1 >= len || msg[i + 1] != '\n'))
			fuzz_fail("a bare CR", msg, len);
		if (c == '\n' && (i == 0 || msg[i - 1] != '\r'))
			fuzz_fail("a bare LF", msg, len);
	}
	if (len < 2 || memcmp(msg + len - 2, "\r\n", 2) != 0)
		fuzz_fail("no CRLF at the end", msg, len);

	/* Line by line: the header fields up to the first empty line, then the body. */
	while (line < len) {
		const char *l = msg + line, *eol = strstr(l, "\r\n");
		size_t n = (size_t)(eol - l);

		if (n > 998)
			fuzz_fail("a line longer than 998 bytes", msg, len);
		if (in_head) {
			if (n == 0) {
				in_head = 0;
				head_end = line;
			} else if (l[0] == ' ' || l[0] == '\t') {
				if (first)
					fuzz_fail("a continuation line first", msg, len);
			} else {
				const char *colon = memchr(l, ':', n);
				size_t nl, k;

				if (colon == NULL || colon == l)
					fuzz_fail("a header line without a name", msg, len);
				nl = (size_t)(colon - l);
				for (k = 0; k < nl; k++) {
					if (l[k] <= ' ' || l[k] > '~')
						fuzz_fail("a bad header name", msg, len);
				}
				for (k = 0; k < MR_ARRAY_LEN(fuzz_headers); k++) {
					if (strlen(fuzz_headers[k]) == nl &&
					    strncasecmp(fuzz_headers[k], l, nl) == 0)
						break;
				}
				if (k == MR_ARRAY_LEN(fuzz_headers))
					fuzz_fail("a header mailroom does not write", msg, len);
				counts[k]++;
			}
			first = 0;
		}
		line += n + 2;
	}
	if (in_head)
		fuzz_fail("no end of the header", msg, len);
	(void)head_end;
	for (size_t k = 0; k < MR_ARRAY_LEN(fuzz_headers); k++) {
		if (counts[k] > 1 || (k < 3 && counts[k] != 1))
			fuzz_fail("a header missing or repeated", msg, len);
	}
}

/* The address of the one mailbox of a list, or NULL when it is not exactly one. */
static const char *
fuzz_one_mailbox(InternetAddressList *l)
{
	InternetAddress *a;

	if (l == NULL || internet_address_list_length(l) != 1)
		return NULL;
	a = internet_address_list_get_address(l, 0);
	if (!INTERNET_ADDRESS_IS_MAILBOX(a))
		return NULL;
	return internet_address_mailbox_get_idn_addr(INTERNET_ADDRESS_MAILBOX(a));
}

/* Whether an address read back (in its ASCII form) is the one given: the same local part,
 * the same domain but for case. */
static int
fuzz_same_addr(const char *got, const char *want)
{
	const char *gat = strrchr(got, '@'), *wat = strrchr(want, '@');

	return gat != NULL && wat != NULL && gat - got == wat - want &&
	    memcmp(got, want, (size_t)(gat - got)) == 0 && strcasecmp(gat, wat) == 0;
}

/* Whether a header value read back is the one given: GMime trims the spaces and tabs
 * around a header's value, which is all a reader may lose. */
static int
fuzz_same_text(const char *got, const char *want)
{
	size_t gn = strlen(got), wn = strlen(want);

	while (gn > 0 && (*got == ' ' || *got == '\t')) {
		got++;
		gn--;
	}
	while (gn > 0 && (got[gn - 1] == ' ' || got[gn - 1] == '\t'))
		gn--;
	while (wn > 0 && (*want == ' ' || *want == '\t')) {
		want++;
		wn--;
	}
	while (wn > 0 && (want[wn - 1] == ' ' || want[wn - 1] == '\t'))
		wn--;
	return gn == wn && memcmp(got, want, gn) == 0;
}

static int
fuzz_plain_ascii(const char *s)
{
	for (; *s != '\0'; s++) {
		if ((unsigned char)*s >= 0x80)
			return 0;
	}
	return 1;
}

/* Reads the message back: one sender, one recipient, no other, and the subject given. */
static void
fuzz_check_parsed(const char *msg, size_t len, const struct mailer_message *m,
    const char *from_addr)
{
	GMimeStream *st = g_mime_stream_mem_new_with_buffer(msg, len);
	GMimeParser *p = g_mime_parser_new_with_stream(st);
	GMimeMessage *gm = g_mime_parser_construct_message(p, NULL);
	const char *a, *subject;

	g_object_unref(p);
	g_object_unref(st);
	if (gm == NULL)
		fuzz_fail("GMime cannot read it back", msg, len);
	if ((a = fuzz_one_mailbox(g_mime_message_get_from(gm))) == NULL ||
	    !fuzz_same_addr(a, from_addr))
		fuzz_fail("not exactly the one sender", msg, len);
	if ((a = fuzz_one_mailbox(g_mime_message_get_to(gm))) == NULL ||
	    !fuzz_same_addr(a, m->to))
		fuzz_fail("not exactly the one recipient", msg, len);
	if (internet_address_list_length(g_mime_message_get_cc(gm)) != 0 ||
	    internet_address_list_length(g_mime_message_get_bcc(gm)) != 0 ||
	    internet_address_list_length(g_mime_message_get_reply_to(gm)) != 0)
		fuzz_fail("another recipient", msg, len);
	/* Only a plain ASCII subject is compared: GMime's reader does not give every
	 * encoded subject back as written (it merges adjacent base64 encoded words, and
	 * decodes text that merely looks like one, "=?"), which says nothing about what
	 * mailroom wrote; the structure checked above is what matters. */
	if ((subject = g_mime_message_get_subject(gm)) == NULL ||
	    (fuzz_plain_ascii(m->subject) && strstr(m->subject, "=?") == NULL &&
	    !fuzz_same_text(subject, m->subject))) {
		fprintf(stderr, "fuzz-mailer: subject given [%s], read back [%s]\n", m->subject,
		    subject != NULL ? subject : "(none)");
		fuzz_fail("the subject read back differs", msg, len);
	}
	g_object_unref(gm);
}

static void
fuzz_build(const struct mailer_message *m, const char *from_addr)
{
	char *msg = NULL, err[256];
	size_t len = 0;
	int rc;

	err[0] = '\0';
	rc = mailer_build(m, &msg, &len, err, sizeof(err));
	if (rc != MAILER_SENT) {
		if (rc != MAILER_INVALID || msg != NULL || err[0] == '\0')
			abort();
		return;
	}
	if (msg == NULL)
		abort();
	fuzz_check_wire(msg, len);
	fuzz_check_parsed(msg, len, m, from_addr);
	mailer_buffer_free(msg, len);
}

/* A mailbox: what is accepted is a valid address and a display name of printable text. */
static int
fuzz_mailbox(const char *s, char *name, size_t namelen, char *addr, size_t addrlen)
{
	const char *why = NULL;

	if (mailer_mailbox_parse(s, name, namelen, addr, addrlen, &why) == -1) {
		if (why == NULL || *why == '\0')
			abort();
		return -1;
	}
	if (strlen(addr) >= addrlen || strlen(name) >= namelen || !mailer_address_valid(addr))
		abort();
	if (strpbrk(name, "\r\n") != NULL || strpbrk(addr, "\r\n<> \"") != NULL)
		abort();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *field[FUZZ_FIELDS] = { NULL };
	struct mailer_message m;
	char name[256], addr[256], small_name[8], small_addr[16];
	char *buf;
	size_t nfields = 0, start = 0;

	if (!fuzz_ready)
		fuzz_init();

	/* Fields are NUL-terminated in a copy; the last one ends with the input. */
	buf = xmalloc(size + 1);
	memcpy(buf, data, size);
	buf[size] = '\0';
	for (size_t i = 0; i <= size && nfields < FUZZ_FIELDS; i++) {
		if (i == size || buf[i] == '\0') {
			field[nfields++] = buf + start;
			start = i + 1;
		}
	}

	memset(&m, 0, sizeof(m));
	m.to = field[0];
	m.to_name = field[1];
	m.subject = field[2] != NULL ? field[2] : "Reset your password";
	m.text = field[3] != NULL ? field[3] : "Hello,\n\nthe link: https://example.org/r?t=x\n";
	m.html = field[4];
	fuzz_build(&m, FUZZ_FROM_ADDR);

	for (size_t i = 0; i < nfields; i++) {
		if (fuzz_mailbox(field[i], name, sizeof(name), addr, sizeof(addr)) == 0 && i == 0) {
			/* A sender the configuration could name: the same checks, from it. */
			struct mailer_message fixed = { "alice@example.org", "Alice", "Hi",
			    "Hello\n", NULL };

			fuzz_configure(field[0]);
			fuzz_build(&fixed, addr);
			fuzz_configure(FUZZ_FROM);
		}
		(void)fuzz_mailbox(field[i], small_name, sizeof(small_name), small_addr,
		    sizeof(small_addr));
	}

	sodium_memzero(buf, size + 1);
	free(buf);
	return 0;
}
