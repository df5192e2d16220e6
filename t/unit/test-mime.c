/* test-mime.c: mime_parse on hand-written messages (the files of t/unit/mime/), one
 * feature each: encoded words in several charsets, RFC 2231 file names,
 * multipart/alternative, text derived from HTML, nested messages, calendar parts,
 * synthetic ids, bad charsets and 8-bit garbage, and the limits. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "mime.h"
#include "mime-check.h"
#include "unit.h"
#include "util.h"

static char *
load(const char *name, size_t *len)
{
	const char *srcdir = getenv("srcdir");
	char *path = xasprintf("%s/t/unit/mime/%s", srcdir != NULL && *srcdir != '\0' ? srcdir :
	    MR_SRCDIR, name);
	FILE *f = fopen(path, "rb");
	char *raw;
	long n;

	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	CU_ASSERT_FATAL(fseek(f, 0, SEEK_END) == 0);
	n = ftell(f);
	CU_ASSERT_FATAL(n >= 0 && fseek(f, 0, SEEK_SET) == 0);
	raw = xmalloc((size_t)n + 1);
	CU_ASSERT_FATAL(fread(raw, 1, (size_t)n, f) == (size_t)n);
	fclose(f);
	free(path);
	*len = (size_t)n;
	return raw;
}

static struct mime_message *
parse_file(const char *name)
{
	struct mime_message *m = NULL;
	size_t len;
	char *raw = load(name, &len);

	CU_ASSERT_FATAL(mime_parse(raw, len, &m) == 0);
	CU_ASSERT_PTR_NULL(mime_check(m));
	free(raw);
	return m;
}

static struct mime_message *
parse_str(const char *s)
{
	struct mime_message *m = NULL;

	CU_ASSERT_FATAL(mime_parse(s, strlen(s), &m) == 0);
	CU_ASSERT_PTR_NULL(mime_check(m));
	return m;
}

static int
has_warning(const struct mime_message *m, const char *w)
{
	for (size_t i = 0; i < m->n_warnings; i++) {
		if (strcmp(m->warnings[i], w) == 0)
			return 1;
	}
	return 0;
}

static const char *
header(const struct mime_message *m, const char *name)
{
	return json_string_value(json_object_get(m->headers, name));
}

static void
test_encoded_words(void)
{
	struct mime_message *m = parse_file("encoded-words.eml");

	CU_ASSERT_STRING_EQUAL(m->message_id, "abc.123@example.fr");
	CU_ASSERT_EQUAL(m->message_id_synthetic, 0);
	CU_ASSERT_STRING_EQUAL(m->in_reply_to, "prev@example.org");
	CU_ASSERT_EQUAL_FATAL(m->n_references, 2);
	CU_ASSERT_STRING_EQUAL(m->references[0], "first@example.org");
	CU_ASSERT_STRING_EQUAL(m->references[1], "prev@example.org");
	/* UTF-8 base64, ISO-8859-1 Q, ISO-2022-JP: "München naïve and 日本" */
	CU_ASSERT_STRING_EQUAL(m->subject, "M\xc3\xbcnchen na\xc3\xafve and \xe6\x97\xa5\xe6\x9c\xac");
	CU_ASSERT_EQUAL_FATAL(m->from.n, 1);
	CU_ASSERT_STRING_EQUAL(m->from.v[0].name, "Andr\xc3\xa9 Dupr\xc3\xa9");
	CU_ASSERT_STRING_EQUAL(m->from.v[0].address, "andre@example.fr");
	CU_ASSERT_EQUAL_FATAL(m->to.n, 2);
	CU_ASSERT_STRING_EQUAL(m->to.v[0].name, "\xd0\x98\xd0\xb2\xd0\xb0\xd0\xbd"); /* KOI8-R */
	CU_ASSERT_STRING_EQUAL(m->to.v[0].address, "ivan@example.ru");
	CU_ASSERT_STRING_EQUAL(m->to.v[1].name, "Plain Name");
	CU_ASSERT_EQUAL_FATAL(m->cc.n, 1);
	CU_ASSERT_STRING_EQUAL(m->cc.v[0].name, "\xe5\xb1\xb1\xe7\x94\xb0");
	CU_ASSERT_EQUAL_FATAL(m->reply_to.n, 1);
	CU_ASSERT_STRING_EQUAL(m->reply_to.v[0].name, "Caf\xc3\xa9 \xe2\x82\xac"); /* cp1252 */
	/* Tue, 03 Nov 2026 10:20:30 +0100 */
	CU_ASSERT_EQUAL(m->date, 1793697630);
	CU_ASSERT_STRING_EQUAL(header(m, "List-Id"), "News <news.example.org>");
	CU_ASSERT_STRING_EQUAL(header(m, "List-Unsubscribe"),
	    "<https://example.org/u?x=1>, <mailto:u@example.org>");
	CU_ASSERT_STRING_EQUAL(header(m, "X-Mailer"), "Hand 1.0");
	CU_ASSERT_PTR_NULL(json_object_get(m->headers, "X-Unlisted"));
	CU_ASSERT_EQUAL(json_object_size(m->headers), 3);
	CU_ASSERT_STRING_EQUAL(m->text, "Hello   world.\nLine two.\n");
	CU_ASSERT_STRING_EQUAL(m->snippet, "Hello world. Line two.");
	CU_ASSERT_PTR_NULL(m->html);
	CU_ASSERT_EQUAL(m->n_attachments, 0);
	CU_ASSERT_EQUAL(m->n_warnings, 0);
	mime_message_free(m);
}

static void
test_rfc2231(void)
{
	struct mime_message *m = parse_file("rfc2231.eml");

	CU_ASSERT_STRING_EQUAL(m->text, "See the files.");
	CU_ASSERT_EQUAL_FATAL(m->n_attachments, 3);
	CU_ASSERT_STRING_EQUAL(m->attachments[0].filename, "\xe2\x82\xac rates 2026.pdf");
	CU_ASSERT_STRING_EQUAL(m->attachments[0].content_type, "application/pdf");
	CU_ASSERT_EQUAL(m->attachments[0].size, 1027);
	CU_ASSERT_STRING_EQUAL(m->attachments[0].part, "2");
	CU_ASSERT_EQUAL(m->attachments[0].is_inline, 0);
	CU_ASSERT_PTR_NULL(m->attachments[0].content_id);
	/* Continuations, ISO-8859-1 */
	CU_ASSERT_STRING_EQUAL(m->attachments[1].filename, "r\xc3\xa9sum\xc3\xa9.txt");
	CU_ASSERT_STRING_EQUAL(m->attachments[1].content_type, "text/plain");
	CU_ASSERT_EQUAL(m->attachments[1].size, 2);
	CU_ASSERT_STRING_EQUAL(m->attachments[1].part, "3");
	/* RFC 2047 in a name parameter, inline with a Content-ID */
	CU_ASSERT_STRING_EQUAL(m->attachments[2].filename, "logo \xc3\xa9t\xc3\xa9.png");
	CU_ASSERT_STRING_EQUAL(m->attachments[2].content_type, "image/png");
	CU_ASSERT_EQUAL(m->attachments[2].size, 8);
	CU_ASSERT_STRING_EQUAL(m->attachments[2].content_id, "logo@example.org");
	CU_ASSERT_EQUAL(m->attachments[2].is_inline, 1);
	CU_ASSERT_STRING_EQUAL(m->attachments[2].part, "4");
	mime_message_free(m);
}

static void
test_alternative(void)
{
	struct mime_message *m = parse_file("alternative.eml");

	CU_ASSERT_STRING_EQUAL(m->text, "The plain \xc3\xa9" "dition.");
	CU_ASSERT_EQUAL(m->text_from_html, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(m->html);
	CU_ASSERT_PTR_NOT_NULL(strstr(m->html, "<p>The <b>HTML</b> edition</p>"));
	CU_ASSERT_PTR_NULL(strstr(m->html, "script"));
	CU_ASSERT_PTR_NULL(strstr(m->html, "alert"));
	CU_ASSERT_STRING_EQUAL(header(m, "Precedence"), "bulk");
	CU_ASSERT_STRING_EQUAL(header(m, "List-Unsubscribe-Post"), "List-Unsubscribe=One-Click");
	CU_ASSERT_EQUAL(m->date, 1793898000);
	CU_ASSERT_EQUAL_FATAL(m->n_attachments, 2);
	CU_ASSERT_STRING_EQUAL(m->attachments[0].part, "1.2.2");
	CU_ASSERT_STRING_EQUAL(m->attachments[0].content_type, "image/gif");
	CU_ASSERT_STRING_EQUAL(m->attachments[0].content_id, "pic");
	CU_ASSERT_EQUAL(m->attachments[0].is_inline, 1);
	CU_ASSERT_EQUAL(m->attachments[0].size, 14);
	CU_ASSERT_STRING_EQUAL(m->attachments[1].part, "2");
	CU_ASSERT_STRING_EQUAL(m->attachments[1].filename, "terms.pdf");
	CU_ASSERT_EQUAL(m->attachments[1].size, 5);
	CU_ASSERT_EQUAL(m->attachments[1].is_inline, 0);
	mime_message_free(m);
}

static void
test_html_only(void)
{
	struct mime_message *m = parse_file("html-only.eml");

	CU_ASSERT_EQUAL(m->text_from_html, 1);
	CU_ASSERT_STRING_EQUAL(m->text,
	    "Caf\xc3\xa9 news\n\n"
	    "First paragraph, two lines.\n\n"
	    "Read the article (https://example.org/a) or https://example.org/b.\n\n"
	    "one\ntwo\n\n"
	    "Bye\nnow");
	CU_ASSERT_STRING_EQUAL(m->snippet, "Caf\xc3\xa9 news First paragraph, two lines. Read the "
	    "article (https://example.org/a) or https://example.org/b. one two Bye now");
	CU_ASSERT_PTR_NOT_NULL_FATAL(m->html);
	CU_ASSERT_PTR_NULL(strstr(m->html, "hidden"));
	CU_ASSERT_PTR_NULL(strstr(m->html, "color"));
	mime_message_free(m);
}

static void
test_html_to_text(void)
{
	struct arena *a = arena_new(4096);
	static const char html[] = "<table><tr><td>a</td><td>b</td></tr><tr><td>c</td></tr>"
	    "</table><pre>x  y\nz</pre><p>mail <a href=\"mailto:q@example.org\">q@example.org"
	    "</a> <a href=\"javascript:x()\">js</a> <img alt=\"[logo]\" src=\"x\"></p>"
	    "<style>b{}</style><noscript>ns</noscript>&nbsp;&amp;&lt;end";

	CU_ASSERT_STRING_EQUAL(mime_html_to_text(a, html, strlen(html)),
	    "a b\nc\n\nx y\nz\n\nmail q@example.org js [logo]\n\n&<end");
	CU_ASSERT_STRING_EQUAL(mime_html_to_text(a, "", 0), "");
	arena_free(a);
}

static void
test_nested(void)
{
	struct mime_message *m = parse_file("nested.eml");

	CU_ASSERT_STRING_EQUAL(m->text, "See below.");
	/* The inner message is one attachment; its text and its zip stay inside it. */
	CU_ASSERT_EQUAL_FATAL(m->n_attachments, 1);
	CU_ASSERT_STRING_EQUAL(m->attachments[0].filename, "Inner news.eml");
	CU_ASSERT_STRING_EQUAL(m->attachments[0].content_type, "message/rfc822");
	CU_ASSERT_STRING_EQUAL(m->attachments[0].part, "2");
	CU_ASSERT(m->attachments[0].size > 200);
	CU_ASSERT_PTR_NULL(strstr(m->text, "Inner text"));
	mime_message_free(m);
}

static void
test_calendar(void)
{
	struct mime_message *m = parse_file("calendar.eml");

	CU_ASSERT_STRING_EQUAL(m->text, "You are invited.");
	CU_ASSERT_PTR_NOT_NULL_FATAL(m->calendar);
	CU_ASSERT_STRING_EQUAL(m->calendar_method, "REQUEST");
	CU_ASSERT(strncmp(m->calendar, "BEGIN:VCALENDAR\r\n", 17) == 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(m->calendar, "UID:weekly@example.org"));
	CU_ASSERT_EQUAL_FATAL(m->n_attachments, 1);
	CU_ASSERT_STRING_EQUAL(m->attachments[0].filename, "invite.ics");
	CU_ASSERT_STRING_EQUAL(m->attachments[0].part, "2");
	mime_message_free(m);

	/* The method parameter when the body says none. */
	m = parse_str("Message-ID: <c@x>\r\nDate: Sun, 08 Nov 2026 09:00:00 +0000\r\n"
	    "Content-Type: text/calendar; method=cancel\r\n\r\nBEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n");
	CU_ASSERT_STRING_EQUAL(m->calendar_method, "CANCEL");
	CU_ASSERT_STRING_EQUAL(m->text, "");
	mime_message_free(m);
}

static void
test_synthetic_id(void)
{
	static const char a[] = "From: a@example.org\r\nSubject: no id\r\n\r\nbody\r\n";
	static const char b[] = "From: a@example.org\r\nSubject: no id\r\n\r\nbody!\r\n";
	struct mime_message *m1 = parse_str(a), *m2 = parse_str(a), *m3 = parse_str(b);

	CU_ASSERT_EQUAL(m1->message_id_synthetic, 1);
	CU_ASSERT_EQUAL(strlen(m1->message_id), 9 + 64);
	CU_ASSERT(strncmp(m1->message_id, "mailroom-", 9) == 0);
	CU_ASSERT_STRING_EQUAL(m1->message_id, m2->message_id);
	CU_ASSERT_STRING_NOT_EQUAL(m1->message_id, m3->message_id);
	CU_ASSERT(has_warning(m1, "no Message-ID header"));
	CU_ASSERT(has_warning(m1, "no Date header"));
	CU_ASSERT_EQUAL(m1->date, 0);
	CU_ASSERT_STRING_EQUAL(m1->text, "body\n");
	mime_message_free(m1);
	mime_message_free(m2);
	mime_message_free(m3);
}

static void
test_bad_charset(void)
{
	struct mime_message *m = parse_file("bad-charset.eml");

	CU_ASSERT_STRING_EQUAL(m->text, "Caf\xc3\xa9 cr\xc3\xa8me\n");
	CU_ASSERT(has_warning(m, "charset x-unknown: decoded as latin1"));
	mime_message_free(m);
}

static void
test_garbage_8bit(void)
{
	struct mime_message *m = parse_file("garbage-8bit.eml");

	/* Whatever the bytes, valid UTF-8 (mime_check in parse_file) with the ASCII kept. */
	CU_ASSERT(strncmp(m->subject, "Hi ", 3) == 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(m->subject, " end "));
	CU_ASSERT_EQUAL_FATAL(m->from.n, 1);
	CU_ASSERT_STRING_EQUAL(m->from.v[0].address, "bob@example.org");
	CU_ASSERT_PTR_NOT_NULL(strstr(m->from.v[0].name, "Bob"));
	CU_ASSERT_STRING_EQUAL(m->text,
	    "Body \xef\xbf\xbd( with \xef\xbf\xbd bad \xef\xbf\xbd\xef\xbf\xbd bytes\n");
	CU_ASSERT_EQUAL(m->date, 0);
	CU_ASSERT(has_warning(m, "unreadable Date header"));
	CU_ASSERT(has_warning(m, "unencoded 8-bit header Subject"));
	mime_message_free(m);
}

static void
test_utf8_helpers(void)
{
	struct arena *a = arena_new(1024);

	CU_ASSERT(mime_utf8_valid("caf\xc3\xa9", 5));
	CU_ASSERT(!mime_utf8_valid("\xc0\xaf", 2));          /* overlong */
	CU_ASSERT(!mime_utf8_valid("\xed\xa0\x80", 3));      /* surrogate */
	CU_ASSERT(!mime_utf8_valid("\xf4\x90\x80\x80", 4));  /* beyond U+10FFFF */
	CU_ASSERT(!mime_utf8_valid("a\0b", 3));
	CU_ASSERT_STRING_EQUAL(mime_utf8_clean(a, "a\xff" "b\0c\xe2\x82", 7),
	    "a\xef\xbf\xbd" "bc\xef\xbf\xbd\xef\xbf\xbd");
	arena_free(a);
}

static void
test_snippet_limits(void)
{
	struct buf b;
	struct arena *a = arena_new(4096);
	struct mime_message *m;

	/* 300 three-byte characters: the snippet stops before 400 bytes, on a character. */
	buf_init(&b, a);
	buf_puts(&b, "Message-ID: <s@x>\r\nDate: Sun, 08 Nov 2026 09:00:00 +0000\r\n"
	    "Content-Type: text/plain; charset=utf-8\r\n\r\n");
	for (int i = 0; i < 300; i++)
		buf_puts(&b, "\xe2\x82\xac");
	m = parse_str(b.data);
	CU_ASSERT_EQUAL(strlen(m->snippet), 399);
	mime_message_free(m);

	/* 300 ASCII words: 200 characters. */
	buf_init(&b, a);
	buf_puts(&b, "Message-ID: <s@x>\r\n\r\n");
	for (int i = 0; i < 300; i++)
		buf_puts(&b, "ab \r\n");
	m = parse_str(b.data);
	CU_ASSERT_EQUAL(strlen(m->snippet), 200);
	mime_message_free(m);
	arena_free(a);
}

static void
test_malformed(void)
{
	struct arena *a = arena_new(4096);
	struct mime_message *m;
	struct buf b;

	/* Empty input, bare garbage, NUL bytes: still a message with an id. */
	CU_ASSERT_FATAL(mime_parse("", 0, &m) == 0);
	CU_ASSERT_PTR_NULL(mime_check(m));
	CU_ASSERT_EQUAL(m->message_id_synthetic, 1);
	mime_message_free(m);
	CU_ASSERT_FATAL(mime_parse("\0\xff\0\r\n\r\n\0", 7, &m) == 0);
	CU_ASSERT_PTR_NULL(mime_check(m));
	mime_message_free(m);

	/* A truncated multipart keeps its first part. */
	m = parse_str("Message-ID: <t@x>\r\nContent-Type: multipart/mixed; boundary=Z\r\n\r\n"
	    "--Z\r\nContent-Type: text/plain\r\n\r\nkept\r\n--Z\r\nContent-Type: image/png\r\n"
	    "Content-Transfer-Encoding: base64\r\n\r\niVBO");
	CU_ASSERT_STRING_EQUAL(m->text, "kept");
	CU_ASSERT_EQUAL(m->n_attachments, 1);
	mime_message_free(m);

	/* A multipart whose boundary never comes: its content is kept as text. */
	m = parse_str("Message-ID: <u@x>\r\nContent-Type: multipart/mixed; boundary=Q\r\n\r\n"
	    "no boundary here\r\n");
	CU_ASSERT_STRING_EQUAL(m->text, "no boundary here\n");
	CU_ASSERT(has_warning(m, "multipart without parts"));
	mime_message_free(m);

	/* A text body beyond the limit is cut on a character, with a warning. */
	{
		size_t n = MIME_MAX_BODY + 1000, h;
		char *big = xmalloc(n + 64);

		h = (size_t)snprintf(big, 64, "Message-ID: <big@x>\r\n\r\n");
		for (size_t i = h; i < n; i += 2)
			memcpy(big + i, "\xc3\xa9", 2);
		CU_ASSERT_FATAL(mime_parse(big, n, &m) == 0);
		CU_ASSERT_PTR_NULL(mime_check(m));
		CU_ASSERT(strlen(m->text) <= MIME_MAX_BODY);
		CU_ASSERT(strlen(m->text) >= MIME_MAX_BODY - 2);
		CU_ASSERT(has_warning(m, "body longer than 4194304 bytes: cut"));
		mime_message_free(m);
		free(big);
	}

	/* Nesting beyond the limit: a warning, no crash. */
	buf_init(&b, a);
	buf_puts(&b, "Message-ID: <n@x>\r\n");
	for (int i = 0; i < 60; i++)
		buf_printf(&b, "Content-Type: multipart/mixed; boundary=b%d\r\n\r\n--b%d\r\n", i, i);
	buf_puts(&b, "Content-Type: text/plain\r\n\r\ndeep\r\n");
	m = parse_str(b.data);
	CU_ASSERT(has_warning(m, "parts nested deeper than 32: left out") ||
	    has_warning(m, "MIME nesting too deep"));
	mime_message_free(m);

	/* More parts than the limit. */
	buf_init(&b, a);
	buf_puts(&b, "Message-ID: <p@x>\r\nContent-Type: multipart/mixed; boundary=P\r\n\r\n");
	for (int i = 0; i < 1100; i++)
		buf_puts(&b, "--P\r\nContent-Type: application/x-a\r\n\r\nx\r\n");
	buf_puts(&b, "--P--\r\n");
	m = parse_str(b.data);
	CU_ASSERT(has_warning(m, "more than 1000 parts: the rest left out"));
	CU_ASSERT(m->n_attachments == 999);
	mime_message_free(m);
	arena_free(a);
}

int
main(void)
{
	static const struct unit_test tests[] = {
		{ "encoded words, addresses, ids, headers", test_encoded_words },
		{ "RFC 2231 and 2047 file names, part numbers", test_rfc2231 },
		{ "multipart/alternative prefers text", test_alternative },
		{ "HTML only: text derived", test_html_only },
		{ "HTML to text rules", test_html_to_text },
		{ "nested message/rfc822", test_nested },
		{ "calendar METHOD", test_calendar },
		{ "synthetic Message-ID", test_synthetic_id },
		{ "unknown charset", test_bad_charset },
		{ "8-bit garbage headers", test_garbage_8bit },
		{ "UTF-8 helpers", test_utf8_helpers },
		{ "snippet limits", test_snippet_limits },
		{ "malformed input", test_malformed },
		{ NULL, NULL },
	};

	return unit_run("mime", tests);
}
