/* test-http-request.c: unit tests of app/http-request.c: every parser, its error paths
 * and its limits at the boundary, and the request built from a fabricated CGI env. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <CUnit/Basic.h>

#include "arena.h"
#include "http-request.h"
#include "util.h"

static struct arena *test_arena;
static struct http_error err;

/* Each test starts from an empty arena and a cleared error. */
static struct arena *
t_arena(void)
{
	arena_reset(test_arena);
	memset(&err, 0, sizeof(err));
	return test_arena;
}

static struct http_limits
t_limits(void)
{
	return http_limits_default;
}

/* An arena copy of the concatenation of n copies of s. */
static char *
t_repeat(const char *s, size_t n)
{
	struct buf b;

	buf_init(&b, test_arena);
	for (size_t i = 0; i < n; i++)
		buf_puts(&b, s);
	return b.data;
}

#define ASSERT_ERR(st, cd) do {						\
	CU_ASSERT_EQUAL(err.status, (st));				\
	CU_ASSERT_PTR_NOT_NULL_FATAL(err.code);				\
	CU_ASSERT_STRING_EQUAL(err.code, (cd));				\
	CU_ASSERT_PTR_NOT_NULL(err.message);				\
} while (0)

static int
t_urlencoded(const char *s, size_t len, const struct http_limits *lim, struct kvlist *out)
{
	memset(out, 0, sizeof(*out));
	return http_parse_urlencoded(test_arena, s, len, lim, out, &err);
}

static void
test_kvlist(void)
{
	struct arena *a = t_arena();
	struct kvlist l;
	char name[16];

	memset(&l, 0, sizeof(l));
	CU_ASSERT_PTR_NULL(kvlist_get(&l, "a"));
	CU_ASSERT_EQUAL(kvlist_count(&l, "a"), 0);
	for (int i = 0; i < 100; i++) {
		snprintf(name, sizeof(name), "k%d", i % 10);
		kvlist_add(&l, a, name, "v\0w", 3);
	}
	CU_ASSERT_EQUAL(l.len, 100);
	CU_ASSERT_EQUAL(kvlist_count(&l, "k3"), 10);
	CU_ASSERT_STRING_EQUAL(kvlist_get(&l, "k9"), "v");
	CU_ASSERT_EQUAL(l.items[99].value_len, 3);
	CU_ASSERT(memcmp(l.items[99].value, "v\0w", 4) == 0);

	/* The list keeps copies, not the caller's buffers. */
	strcpy(name, "first");
	kvlist_add(&l, a, name, name, strlen(name));
	strcpy(name, "xxxxx");
	CU_ASSERT_STRING_EQUAL(kvlist_get(&l, "first"), "first");
	CU_ASSERT_PTR_NULL(kvlist_get(&l, "missing"));
}

static void
test_url_decode(void)
{
	char out[64], inplace[] = "a%2Fb";
	long n;

	n = http_url_decode(out, "a%20b+c", 7, 1);
	CU_ASSERT_EQUAL(n, 5);
	CU_ASSERT_STRING_EQUAL(out, "a b c");
	n = http_url_decode(out, "a%20b+c", 7, 0);
	CU_ASSERT_STRING_EQUAL(out, "a b+c");
	CU_ASSERT_EQUAL(n, 5);
	n = http_url_decode(out, "%41%4a%4A%7e", 12, 0);
	CU_ASSERT_EQUAL(n, 4);
	CU_ASSERT_STRING_EQUAL(out, "AJJ~");
	n = http_url_decode(out, "x%00y", 5, 0);
	CU_ASSERT_EQUAL(n, 3);
	CU_ASSERT(memcmp(out, "x\0y", 4) == 0);
	n = http_url_decode(out, "", 0, 1);
	CU_ASSERT_EQUAL(n, 0);
	CU_ASSERT_STRING_EQUAL(out, "");

	CU_ASSERT_EQUAL(http_url_decode(out, "%", 1, 1), -1);
	CU_ASSERT_EQUAL(http_url_decode(out, "%4", 2, 1), -1);
	CU_ASSERT_EQUAL(http_url_decode(out, "ab%4", 4, 1), -1);
	CU_ASSERT_EQUAL(http_url_decode(out, "%4g", 3, 1), -1);
	CU_ASSERT_EQUAL(http_url_decode(out, "%g4", 3, 1), -1);
	CU_ASSERT_EQUAL(http_url_decode(out, "%%41", 4, 1), -1);
	/* The length bounds the input: "%41" cut after two bytes is malformed. */
	CU_ASSERT_EQUAL(http_url_decode(out, "%41", 2, 1), -1);

	n = http_url_decode(inplace, inplace, strlen(inplace), 0);
	CU_ASSERT_EQUAL(n, 3);
	CU_ASSERT_STRING_EQUAL(inplace, "a/b");
}

static void
test_urlencoded_basic(void)
{
	struct http_limits lim = t_limits();
	struct kvlist l;
	const char *s;

	t_arena();
	s = "a=1&b=2&a=3";
	CU_ASSERT_EQUAL_FATAL(t_urlencoded(s, strlen(s), &lim, &l), 0);
	CU_ASSERT_EQUAL(l.len, 3);
	CU_ASSERT_EQUAL(kvlist_count(&l, "a"), 2);
	CU_ASSERT_STRING_EQUAL(kvlist_get(&l, "a"), "1");
	CU_ASSERT_STRING_EQUAL(l.items[2].value, "3");
	CU_ASSERT_STRING_EQUAL(kvlist_get(&l, "b"), "2");

	s = "&&a=1&&&";
	CU_ASSERT_EQUAL_FATAL(t_urlencoded(s, strlen(s), &lim, &l), 0);
	CU_ASSERT_EQUAL(l.len, 1);
	CU_ASSERT_EQUAL_FATAL(t_urlencoded("", 0, &lim, &l), 0);
	CU_ASSERT_EQUAL(l.len, 0);
	CU_ASSERT_EQUAL_FATAL(t_urlencoded(NULL, 0, &lim, &l), 0);
	CU_ASSERT_EQUAL(l.len, 0);

	s = "flag&x=&=v&e=b=c";
	CU_ASSERT_EQUAL_FATAL(t_urlencoded(s, strlen(s), &lim, &l), 0);
	CU_ASSERT_EQUAL_FATAL(l.len, 4);
	CU_ASSERT_STRING_EQUAL(l.items[0].name, "flag");
	CU_ASSERT_STRING_EQUAL(l.items[0].value, "");
	CU_ASSERT_EQUAL(l.items[0].value_len, 0);
	CU_ASSERT_STRING_EQUAL(l.items[1].name, "x");
	CU_ASSERT_EQUAL(l.items[1].value_len, 0);
	CU_ASSERT_STRING_EQUAL(l.items[2].name, "");
	CU_ASSERT_STRING_EQUAL(l.items[2].value, "v");
	CU_ASSERT_STRING_EQUAL(kvlist_get(&l, "e"), "b=c");

	s = "first+name=J%C3%B6rg+M%C3%BCller&q=a%2Bb";
	CU_ASSERT_EQUAL_FATAL(t_urlencoded(s, strlen(s), &lim, &l), 0);
	CU_ASSERT_STRING_EQUAL(kvlist_get(&l, "first name"), "J\xc3\xb6rg M\xc3\xbcller");
	CU_ASSERT_STRING_EQUAL(kvlist_get(&l, "q"), "a+b");

	/* The length, not a NUL, ends the input. */
	CU_ASSERT_EQUAL_FATAL(t_urlencoded("a=x\0y&b=2", 9, &lim, &l), 0);
	CU_ASSERT_EQUAL_FATAL(l.len, 2);
	CU_ASSERT_EQUAL(l.items[0].value_len, 3);
	CU_ASSERT(memcmp(l.items[0].value, "x\0y", 4) == 0);
	CU_ASSERT_EQUAL_FATAL(t_urlencoded("a=1&b=2", 3, &lim, &l), 0);
	CU_ASSERT_EQUAL(l.len, 1);
}

static void
test_urlencoded_nasty(void)
{
	static const char nasty[] = "\0\"&'<>";
	struct http_limits lim = t_limits();
	struct kvlist l;
	const char *s = "msg=%00%22%26'%3C%3E&after=1";

	t_arena();
	CU_ASSERT_EQUAL_FATAL(t_urlencoded(s, strlen(s), &lim, &l), 0);
	CU_ASSERT_EQUAL_FATAL(l.len, 2);
	CU_ASSERT_STRING_EQUAL(l.items[0].name, "msg");
	CU_ASSERT_EQUAL(l.items[0].value_len, sizeof(nasty) - 1);
	CU_ASSERT(memcmp(l.items[0].value, nasty, sizeof(nasty)) == 0);
	CU_ASSERT_STRING_EQUAL(kvlist_get(&l, "after"), "1");
}

static void
test_urlencoded_errors(void)
{
	struct http_limits lim = t_limits();
	struct kvlist l;
	const char *s;

	t_arena();
	s = "ok=1&query=%zz";
	CU_ASSERT_EQUAL(t_urlencoded(s, strlen(s), &lim, &l), -1);
	ASSERT_ERR(400, "bad_request");
	CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "\"query\""));
	CU_ASSERT_PTR_NOT_NULL_FATAL(err.field);
	CU_ASSERT_STRING_EQUAL(err.field, "query");

	s = "v=50%";
	CU_ASSERT_EQUAL(t_urlencoded(s, strlen(s), &lim, &l), -1);
	ASSERT_ERR(400, "bad_request");

	s = "a%zb=1";
	CU_ASSERT_EQUAL(t_urlencoded(s, strlen(s), &lim, &l), -1);
	ASSERT_ERR(400, "bad_request");

	s = "a%00b=1";
	CU_ASSERT_EQUAL(t_urlencoded(s, strlen(s), &lim, &l), -1);
	ASSERT_ERR(400, "bad_request");

	/* A name with control bytes is shown sanitised in the message. */
	s = "%0A%1B%3Cx%3E=%";
	CU_ASSERT_EQUAL(t_urlencoded(s, strlen(s), &lim, &l), -1);
	ASSERT_ERR(400, "bad_request");
	CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "\"?" "?<x>\""));
}

static void
test_urlencoded_limits(void)
{
	struct http_limits lim = t_limits();
	struct kvlist l;
	const char *s;

	t_arena();
	/* max_fields: empty pairs do not count. */
	s = t_repeat("a=1&&", 1000);
	CU_ASSERT_EQUAL(t_urlencoded(s, strlen(s), &lim, &l), 0);
	CU_ASSERT_EQUAL(l.len, 1000);
	s = t_repeat("a=1&", 1001);
	CU_ASSERT_EQUAL(t_urlencoded(s, strlen(s), &lim, &l), -1);
	ASSERT_ERR(413, "too_many_fields");

	/* max_name counts decoded bytes. */
	s = arena_printf(test_arena, "%s=1", t_repeat("%41", 256));
	CU_ASSERT_EQUAL(t_urlencoded(s, strlen(s), &lim, &l), 0);
	CU_ASSERT_EQUAL(strlen(l.items[0].name), 256);
	s = arena_printf(test_arena, "%s=1", t_repeat("n", 257));
	CU_ASSERT_EQUAL(t_urlencoded(s, strlen(s), &lim, &l), -1);
	ASSERT_ERR(400, "bad_request");
	CU_ASSERT(strlen(err.message) < 128);

	lim.max_value = 10;
	s = "v=%41%41%41%41%41%41%41%41%41%41";
	CU_ASSERT_EQUAL(t_urlencoded(s, strlen(s), &lim, &l), 0);
	CU_ASSERT_EQUAL(l.items[0].value_len, 10);
	s = "v=12345678901";
	CU_ASSERT_EQUAL(t_urlencoded(s, strlen(s), &lim, &l), -1);
	ASSERT_ERR(413, "payload_too_large");
	CU_ASSERT_STRING_EQUAL(err.field, "v");

	lim = t_limits();
	lim.max_fields = 2;
	s = "a=1&b=2";
	CU_ASSERT_EQUAL(t_urlencoded(s, strlen(s), &lim, &l), 0);
	s = "a=1&b=2&c";
	CU_ASSERT_EQUAL(t_urlencoded(s, strlen(s), &lim, &l), -1);
	ASSERT_ERR(413, "too_many_fields");
}

static int
t_cookies(const char *h, const struct http_limits *lim, struct kvlist *out)
{
	memset(out, 0, sizeof(*out));
	return http_parse_cookies(test_arena, h, lim, out, &err);
}

static void
test_cookies(void)
{
	struct http_limits lim = t_limits();
	struct kvlist l;

	t_arena();
	CU_ASSERT_EQUAL_FATAL(t_cookies("sid=abc; theme=dark", &lim, &l), 0);
	CU_ASSERT_EQUAL(l.len, 2);
	CU_ASSERT_STRING_EQUAL(kvlist_get(&l, "sid"), "abc");
	CU_ASSERT_STRING_EQUAL(kvlist_get(&l, "theme"), "dark");

	CU_ASSERT_EQUAL_FATAL(t_cookies("  a = 1 ;b=2;\tc=3\t;", &lim, &l), 0);
	CU_ASSERT_EQUAL_FATAL(l.len, 3);
	CU_ASSERT_STRING_EQUAL(l.items[0].name, "a");
	CU_ASSERT_STRING_EQUAL(l.items[0].value, "1");
	CU_ASSERT_EQUAL(l.items[0].value_len, 1);
	CU_ASSERT_STRING_EQUAL(kvlist_get(&l, "c"), "3");

	/* One pair of quotes is removed, and only a pair. */
	CU_ASSERT_EQUAL_FATAL(t_cookies("q=\"x y\"; e=\"\"; h=\"; d=\"\"x\"\"; m=\"a", &lim,
	    &l), 0);
	CU_ASSERT_STRING_EQUAL(kvlist_get(&l, "q"), "x y");
	CU_ASSERT_STRING_EQUAL(kvlist_get(&l, "e"), "");
	CU_ASSERT_STRING_EQUAL(kvlist_get(&l, "h"), "\"");
	CU_ASSERT_STRING_EQUAL(kvlist_get(&l, "d"), "\"x\"");
	CU_ASSERT_STRING_EQUAL(kvlist_get(&l, "m"), "\"a");

	/* Malformed pairs are skipped, the rest kept. */
	CU_ASSERT_EQUAL_FATAL(t_cookies("noeq; =v; a b=1; ok=1;;(x)=2; \"q\"=3; c=%41; e=a=b",
	    &lim, &l), 0);
	CU_ASSERT_EQUAL_FATAL(l.len, 3);
	CU_ASSERT_STRING_EQUAL(l.items[0].name, "ok");
	CU_ASSERT_STRING_EQUAL(kvlist_get(&l, "c"), "%41");
	CU_ASSERT_STRING_EQUAL(kvlist_get(&l, "e"), "a=b");

	CU_ASSERT_EQUAL(t_cookies("", &lim, &l), 0);
	CU_ASSERT_EQUAL(l.len, 0);
	CU_ASSERT_EQUAL(t_cookies(NULL, &lim, &l), 0);
	CU_ASSERT_EQUAL(l.len, 0);
	CU_ASSERT_EQUAL(t_cookies(" ; ;", &lim, &l), 0);
	CU_ASSERT_EQUAL(l.len, 0);

	CU_ASSERT_EQUAL_FATAL(t_cookies("a=1; a=2", &lim, &l), 0);
	CU_ASSERT_EQUAL(kvlist_count(&l, "a"), 2);
	CU_ASSERT_STRING_EQUAL(kvlist_get(&l, "a"), "1");

	lim.max_name = 4;
	CU_ASSERT_EQUAL_FATAL(t_cookies("abcd=1; abcde=2", &lim, &l), 0);
	CU_ASSERT_EQUAL(l.len, 1);
	CU_ASSERT_STRING_EQUAL(l.items[0].name, "abcd");
}

static void
test_cookies_limit(void)
{
	struct http_limits lim = t_limits();
	struct kvlist l;
	char *h;

	t_arena();
	h = t_repeat("c=1; ", 64);
	CU_ASSERT_EQUAL(t_cookies(h, &lim, &l), 0);
	CU_ASSERT_EQUAL(l.len, 64);
	/* Skipped pairs do not count. */
	h = arena_printf(test_arena, "%s%s", t_repeat("c=1; ", 64), t_repeat("bad; ", 100));
	CU_ASSERT_EQUAL(t_cookies(h, &lim, &l), 0);
	h = t_repeat("c=1; ", 65);
	CU_ASSERT_EQUAL(t_cookies(h, &lim, &l), -1);
	ASSERT_ERR(400, "too_many_cookies");
}

static void
test_content_type(void)
{
	struct arena *a = t_arena();
	const char *v;

	v = http_content_type_param(a, "multipart/form-data; boundary=abc", "boundary");
	CU_ASSERT_STRING_EQUAL(v, "abc");
	v = http_content_type_param(a, "multipart/form-data;BOUNDARY=----=_Part_0/1", "boundary");
	CU_ASSERT_STRING_EQUAL(v, "----=_Part_0/1");
	v = http_content_type_param(a, "text/plain ; format=flowed ; charset = UTF-8 ", "Charset");
	CU_ASSERT_STRING_EQUAL(v, "UTF-8");
	v = http_content_type_param(a, "text/plain; a=\"x;y\\\"z\\\\w\"; charset=utf-8", "a");
	CU_ASSERT_STRING_EQUAL(v, "x;y\"z\\w");
	v = http_content_type_param(a, "text/plain; a=\"x;y\\\"z\"; charset=utf-8", "charset");
	CU_ASSERT_STRING_EQUAL(v, "utf-8");
	v = http_content_type_param(a, "text/plain; a=\"\"", "a");
	CU_ASSERT_STRING_EQUAL(v, "");
	v = http_content_type_param(a, "text/plain;; ;charset=x;", "charset");
	CU_ASSERT_STRING_EQUAL(v, "x");
	v = http_content_type_param(a, "text/plain; a=1; a=2", "a");
	CU_ASSERT_STRING_EQUAL(v, "1");

	CU_ASSERT_PTR_NULL(http_content_type_param(a, "text/plain", "charset"));
	CU_ASSERT_PTR_NULL(http_content_type_param(a, "text/plain; format=flowed", "charset"));
	CU_ASSERT_PTR_NULL(http_content_type_param(a, NULL, "charset"));
	CU_ASSERT_PTR_NULL(http_content_type_param(a, "", "charset"));
	/* Parsing stops at a malformed parameter. */
	CU_ASSERT_PTR_NULL(http_content_type_param(a, "text/plain; charset", "charset"));
	CU_ASSERT_PTR_NULL(http_content_type_param(a, "text/plain; =x; charset=y", "charset"));
	CU_ASSERT_PTR_NULL(http_content_type_param(a, "text/plain; a=\"open; charset=y",
	    "charset"));
	CU_ASSERT_PTR_NULL(http_content_type_param(a, "text/plain; a=\"q\"x; charset=y",
	    "charset"));
	CU_ASSERT_PTR_NULL(http_content_type_param(a, "text/plain; a=b c; charset=y",
	    "charset"));
	CU_ASSERT_STRING_EQUAL(http_content_type_param(a, "text/plain; charset=y; a=b c",
	    "charset"), "y");

	CU_ASSERT_TRUE(http_content_type_is("application/json", "application/json"));
	CU_ASSERT_TRUE(http_content_type_is("APPLICATION/Json; charset=utf-8",
	    "application/json"));
	CU_ASSERT_TRUE(http_content_type_is("  application/json  ;x=y", "application/json"));
	CU_ASSERT_TRUE(http_content_type_is("text/html", "TEXT/HTML"));
	CU_ASSERT_FALSE(http_content_type_is("application/jsonx", "application/json"));
	CU_ASSERT_FALSE(http_content_type_is("application/json-patch+json",
	    "application/json"));
	CU_ASSERT_FALSE(http_content_type_is("application/jso", "application/json"));
	CU_ASSERT_FALSE(http_content_type_is("", "application/json"));
	CU_ASSERT_FALSE(http_content_type_is(NULL, "application/json"));
}

static int
t_multipart(const char *ct, const char *body, size_t len, const struct http_limits *lim,
    struct kvlist *fields, struct http_upload **up, size_t *nup)
{
	memset(fields, 0, sizeof(*fields));
	return http_parse_multipart(test_arena, ct, body, len, lim, fields, up, nup, &err);
}

#define CT "multipart/form-data; boundary=XyZ"
#define BODY_FULL \
	"This is the preamble.\r\n" \
	"--XyZ\r\n" \
	"Content-Disposition: form-data; name=\"subject\"\r\n" \
	"\r\n" \
	"Hello\r\nWorld\r\n" \
	"--XyZ\r\n" \
	"content-disposition: FORM-DATA; NAME=\"empty\"\r\n" \
	"Content-Type: text/plain; charset=utf-8\r\n" \
	"\r\n" \
	"\r\n" \
	"--XyZ\r\n" \
	"Content-Disposition: form-data; name=\"doc\"; filename=\"C:\\Users\\me\\report.pdf\"\r\n" \
	"Content-Type: application/pdf\r\n" \
	"\r\n" \
	"%PDF\0\r\n--XyZnot\n\r--Xy\r\n" \
	"--XyZ  \r\n" \
	"Content-Disposition: form-data; name=\"doc\"; filename=\"../../etc/passwd\"\r\n" \
	"\r\n" \
	"root\r\n" \
	"--XyZ\r\n" \
	"Content-Disposition: form-data; name=\"none\"; filename=\"\"\r\n" \
	"Content-Type: application/octet-stream\r\n" \
	"\r\n" \
	"\r\n" \
	"--XyZ--\r\n" \
	"This is the epilogue.\r\n--XyZ\r\nignored"

static void
test_multipart(void)
{
	static const char body[] = BODY_FULL;
	static const char pdf[] = "%PDF\0\r\n--XyZnot\n\r--Xy";
	struct http_limits lim = t_limits();
	struct kvlist f;
	struct http_upload *up;
	size_t nup;

	t_arena();
	CU_ASSERT_EQUAL_FATAL(t_multipart(CT, body, sizeof(body) - 1, &lim, &f, &up, &nup), 0);
	CU_ASSERT_EQUAL_FATAL(f.len, 2);
	CU_ASSERT_STRING_EQUAL(kvlist_get(&f, "subject"), "Hello\r\nWorld");
	CU_ASSERT_EQUAL(f.items[0].value_len, 12);
	CU_ASSERT_STRING_EQUAL(kvlist_get(&f, "empty"), "");
	CU_ASSERT_EQUAL(f.items[1].value_len, 0);

	CU_ASSERT_EQUAL_FATAL(nup, 3);
	CU_ASSERT_STRING_EQUAL(up[0].field, "doc");
	CU_ASSERT_STRING_EQUAL(up[0].filename, "report.pdf");
	CU_ASSERT_STRING_EQUAL(up[0].content_type, "application/pdf");
	CU_ASSERT_EQUAL(up[0].len, sizeof(pdf) - 1);
	CU_ASSERT(memcmp(up[0].data, pdf, sizeof(pdf) - 1) == 0);
	CU_ASSERT_STRING_EQUAL(up[1].filename, "passwd");
	CU_ASSERT_STRING_EQUAL(up[1].content_type, "application/octet-stream");
	CU_ASSERT_EQUAL(up[1].len, 4);
	CU_ASSERT(memcmp(up[1].data, "root", 4) == 0);
	CU_ASSERT_STRING_EQUAL(up[2].field, "none");
	CU_ASSERT_STRING_EQUAL(up[2].filename, "");
	CU_ASSERT_EQUAL(up[2].len, 0);
	/* Uploads are not copied: they point into the body. */
	for (size_t i = 0; i < nup; i++) {
		CU_ASSERT(up[i].data >= body);
		CU_ASSERT(up[i].data + up[i].len <= body + sizeof(body) - 1);
	}
}

static void
test_multipart_forms(void)
{
	struct http_limits lim = t_limits();
	struct kvlist f;
	struct http_upload *up;
	size_t nup;
	const char *b;

	t_arena();
	/* No preamble, quoted boundary, escaped quote in a name, unix separators. */
	b = "--a'b(c)\r\n"
	    "Content-Disposition: form-data; name=\"say \\\"hi\\\"\"\r\n\r\n"
	    "x\r\n"
	    "--a'b(c)\r\n"
	    "Content-Disposition: form-data; filename=\"/home/u/a b.txt\"; name=f\r\n"
	    "Content-Type: text/plain\r\n\r\n"
	    "data\r\n"
	    "--a'b(c)--";
	CU_ASSERT_EQUAL_FATAL(t_multipart("multipart/form-data; boundary=\"a'b(c)\"", b,
	    strlen(b), &lim, &f, &up, &nup), 0);
	CU_ASSERT_EQUAL(f.len, 1);
	CU_ASSERT_STRING_EQUAL(kvlist_get(&f, "say \"hi\""), "x");
	CU_ASSERT_EQUAL_FATAL(nup, 1);
	CU_ASSERT_STRING_EQUAL(up[0].field, "f");
	CU_ASSERT_STRING_EQUAL(up[0].filename, "a b.txt");
	CU_ASSERT_EQUAL(up[0].len, 4);

	/* Nothing of a path survives, not even a last "..". */
	b = "--b\r\nContent-Disposition: form-data; name=f; filename=\"a\\..\"\r\n\r\n1\r\n"
	    "--b\r\nContent-Disposition: form-data; name=f; filename=\"..\"\r\n\r\n2\r\n"
	    "--b\r\nContent-Disposition: form-data; name=f; filename=\"a/.\"\r\n\r\n3\r\n"
	    "--b\r\nContent-Disposition: form-data; name=f; filename=\"..a\"\r\n\r\n4\r\n"
	    "--b\r\nContent-Disposition: form-data; name=f; filename=\"x/\"\r\n\r\n5\r\n"
	    "--b--";
	CU_ASSERT_EQUAL_FATAL(t_multipart("multipart/form-data; boundary=b", b, strlen(b), &lim,
	    &f, &up, &nup), 0);
	CU_ASSERT_EQUAL_FATAL(nup, 5);
	CU_ASSERT_STRING_EQUAL(up[0].filename, "");
	CU_ASSERT_STRING_EQUAL(up[1].filename, "");
	CU_ASSERT_STRING_EQUAL(up[2].filename, "");
	CU_ASSERT_STRING_EQUAL(up[3].filename, "..a");
	CU_ASSERT_STRING_EQUAL(up[4].filename, "");
	CU_ASSERT_EQUAL(up[4].len, 1);
	CU_ASSERT_EQUAL(up[4].data[0], '5');

	/* Something like a delimiter that is not one belongs to the preamble. */
	b = "--bX\r\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n--b--";
	CU_ASSERT_EQUAL(t_multipart("multipart/form-data; boundary=b", b, strlen(b), &lim, &f,
	    &up, &nup), 0);
	CU_ASSERT_EQUAL(f.len, 0);

	/* A body with no parts at all. */
	b = "--b--";
	CU_ASSERT_EQUAL(t_multipart("multipart/form-data; boundary=b", b, strlen(b), &lim, &f,
	    &up, &nup), 0);
	CU_ASSERT_EQUAL(f.len, 0);
	CU_ASSERT_EQUAL(nup, 0);
	CU_ASSERT_PTR_NULL(up);

	/* Boundary of the maximum length, 70. */
	b = arena_printf(test_arena, "--%s\r\nContent-Disposition: form-data; name=a\r\n\r\n"
	    "1\r\n--%s--\r\n", t_repeat("b", 70), t_repeat("b", 70));
	CU_ASSERT_EQUAL(t_multipart(arena_printf(test_arena, "multipart/form-data; boundary=%s",
	    t_repeat("b", 70)), b, strlen(b), &lim, &f, &up, &nup), 0);
	CU_ASSERT_STRING_EQUAL(kvlist_get(&f, "a"), "1");
}

static void
t_multipart_fails(const char *ct, const char *body, int status, const char *code,
    const char *message)
{
	struct http_limits lim = t_limits();
	struct kvlist f;
	struct http_upload *up;
	size_t nup;

	memset(&err, 0, sizeof(err));
	CU_ASSERT_EQUAL(t_multipart(ct, body, strlen(body), &lim, &f, &up, &nup), -1);
	ASSERT_ERR(status, code);
	if (message != NULL && err.message != NULL)
		CU_ASSERT_STRING_EQUAL(err.message, message);
}

static void
test_multipart_errors(void)
{
	static const char ok[] = "--b\r\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n--b--";
	const char *boundary71;

	t_arena();
	t_multipart_fails("multipart/form-data", ok, 400, "bad_request", NULL);
	t_multipart_fails("multipart/form-data; boundary=", ok, 400, "bad_request", NULL);
	t_multipart_fails("multipart/form-data; boundary=\"\"", ok, 400, "bad_request", NULL);
	t_multipart_fails("multipart/form-data; boundary=\"b\\\"\"", ok, 400, "bad_request",
	    NULL);
	t_multipart_fails("multipart/form-data; boundary=\"b \"", ok, 400, "bad_request", NULL);
	t_multipart_fails(NULL, ok, 400, "bad_request", NULL);
	boundary71 = t_repeat("b", 71);
	t_multipart_fails(arena_printf(test_arena, "multipart/form-data; boundary=%s",
	    boundary71), arena_printf(test_arena, "--%s\r\nContent-Disposition: form-data; "
	    "name=a\r\n\r\n1\r\n--%s--", boundary71, boundary71), 400, "bad_request", NULL);

	/* No closing delimiter, in its different shapes. */
	t_multipart_fails("multipart/form-data; boundary=b",
	    "--b\r\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n", 400, "bad_request",
	    "malformed multipart: no closing boundary");
	t_multipart_fails("multipart/form-data; boundary=b",
	    "--b\r\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n--b", 400,
	    "bad_request", "malformed multipart: no closing boundary");
	t_multipart_fails("multipart/form-data; boundary=b",
	    "--b\r\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n--b\r\n", 400,
	    "bad_request", "malformed multipart: no closing boundary");
	t_multipart_fails("multipart/form-data; boundary=b",
	    "--b\r\nContent-Disposition: form-data; name=a\r\n", 400, "bad_request",
	    "malformed multipart: no closing boundary");
	t_multipart_fails("multipart/form-data; boundary=b", "--b", 400, "bad_request",
	    "malformed multipart: no closing boundary");
	t_multipart_fails("multipart/form-data; boundary=b", "", 400, "bad_request", NULL);
	t_multipart_fails("multipart/form-data; boundary=b", "no delimiter at all", 400,
	    "bad_request", NULL);
	/* Bare LF line ends are not delimiters. */
	t_multipart_fails("multipart/form-data; boundary=b",
	    "--b\nContent-Disposition: form-data; name=a\n\n1\n--b--\n", 400, "bad_request",
	    NULL);

	/* Part headers. */
	t_multipart_fails("multipart/form-data; boundary=b",
	    "--b\r\nContent-Type: text/plain\r\n\r\n1\r\n--b--", 400, "bad_request", NULL);
	t_multipart_fails("multipart/form-data; boundary=b",
	    "--b\r\n\r\n1\r\n--b--", 400, "bad_request", NULL);
	t_multipart_fails("multipart/form-data; boundary=b",
	    "--b\r\nContent-Disposition: form-data\r\n\r\n1\r\n--b--", 400, "bad_request",
	    NULL);
	t_multipart_fails("multipart/form-data; boundary=b",
	    "--b\r\nContent-Disposition: form-data; filename=x\r\n\r\n1\r\n--b--", 400,
	    "bad_request", NULL);
	t_multipart_fails("multipart/form-data; boundary=b",
	    "--b\r\nContent-Disposition: attachment; name=a\r\n\r\n1\r\n--b--", 400,
	    "bad_request", NULL);
	t_multipart_fails("multipart/form-data; boundary=b",
	    "--b\r\nContent-Disposition: form-data; name=\"a\r\n\r\n1\r\n--b--", 400,
	    "bad_request", NULL);
	t_multipart_fails("multipart/form-data; boundary=b",
	    "--b\r\nContent-Disposition: form-data; name=a\nX-Evil: 1\r\n\r\n1\r\n--b--", 400,
	    "bad_request", NULL);
	t_multipart_fails("multipart/form-data; boundary=b",
	    "--b\r\nno colon here\r\n\r\n1\r\n--b--", 400, "bad_request", NULL);
	t_multipart_fails("multipart/form-data; boundary=b",
	    arena_printf(test_arena, "--b\r\nContent-Disposition: form-data; name=a\r\n"
	    "X-Pad: %s\r\n\r\n1\r\n--b--", t_repeat("p", 8200)), 400, "bad_request",
	    "malformed multipart: part headers too large");
	t_multipart_fails("multipart/form-data; boundary=b",
	    arena_printf(test_arena, "--b\r\nContent-Disposition: form-data; name=%s\r\n\r\n"
	    "1\r\n--b--", t_repeat("n", 257)), 400, "bad_request", NULL);
}

static void
test_multipart_limits(void)
{
	struct http_limits lim = t_limits();
	struct kvlist f;
	struct http_upload *up;
	size_t nup;
	const char *ct = "multipart/form-data; boundary=b";
	const char *b;
	char *big;

	t_arena();
	b = "--b\r\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n"
	    "--b\r\nContent-Disposition: form-data; name=f; filename=x\r\n\r\n2\r\n"
	    "--b--";
	lim.max_fields = 2;
	CU_ASSERT_EQUAL(t_multipart(ct, b, strlen(b), &lim, &f, &up, &nup), 0);
	lim.max_fields = 1;
	CU_ASSERT_EQUAL(t_multipart(ct, b, strlen(b), &lim, &f, &up, &nup), -1);
	ASSERT_ERR(413, "too_many_fields");

	lim = t_limits();
	lim.max_upload = strlen(b);
	CU_ASSERT_EQUAL(t_multipart(ct, b, strlen(b), &lim, &f, &up, &nup), 0);
	lim.max_upload = strlen(b) - 1;
	CU_ASSERT_EQUAL(t_multipart(ct, b, strlen(b), &lim, &f, &up, &nup), -1);
	ASSERT_ERR(413, "payload_too_large");

	/* max_value applies to fields, not to files. */
	lim = t_limits();
	lim.max_value = 3;
	b = "--b\r\nContent-Disposition: form-data; name=a\r\n\r\n123\r\n"
	    "--b\r\nContent-Disposition: form-data; name=f; filename=x\r\n\r\n123456\r\n"
	    "--b--";
	CU_ASSERT_EQUAL(t_multipart(ct, b, strlen(b), &lim, &f, &up, &nup), 0);
	b = "--b\r\nContent-Disposition: form-data; name=a\r\n\r\n1234\r\n--b--";
	CU_ASSERT_EQUAL(t_multipart(ct, b, strlen(b), &lim, &f, &up, &nup), -1);
	ASSERT_ERR(413, "payload_too_large");
	CU_ASSERT_STRING_EQUAL(err.field, "a");

	/* Part headers of exactly the limit are accepted. */
	lim = t_limits();
	b = "Content-Disposition: form-data; name=a\r\nX-Pad: ";
	big = arena_printf(test_arena, "--b\r\n%s%s\r\n\r\n1\r\n--b--", b,
	    t_repeat("p", 8192 - strlen(b)));
	CU_ASSERT_EQUAL(t_multipart(ct, big, strlen(big), &lim, &f, &up, &nup), 0);
	big = arena_printf(test_arena, "--b\r\n%s%s\r\n\r\n1\r\n--b--", b,
	    t_repeat("p", 8193 - strlen(b)));
	CU_ASSERT_EQUAL(t_multipart(ct, big, strlen(big), &lim, &f, &up, &nup), -1);
	ASSERT_ERR(400, "bad_request");
}

static void
test_multipart_large(void)
{
	struct http_limits lim = t_limits();
	struct kvlist f;
	struct http_upload *up;
	size_t nup, n = 4 * 1024 * 1024, off;
	const char *head = "--b\r\nContent-Disposition: form-data; name=f; filename=big\r\n\r\n";
	char *body;

	t_arena();
	/* Almost-delimiters everywhere must still parse in linear time. */
	body = xmalloc(n + 128);
	off = strlen(head);
	memcpy(body, head, off);
	while (off < n) {
		memcpy(body + off, "\r\n--", 4);
		off += 4;
	}
	memcpy(body + off, "\r\n--b--", 7);
	off += 7;
	CU_ASSERT_EQUAL(t_multipart("multipart/form-data; boundary=b", body, off, &lim, &f, &up,
	    &nup), 0);
	CU_ASSERT_EQUAL_FATAL(nup, 1);
	CU_ASSERT_EQUAL(up[0].len, off - strlen(head) - 7);
	free(body);
}

static int
t_json(const char *s, size_t len, const struct http_limits *lim, json_t **out)
{
	memset(&err, 0, sizeof(err));
	return http_parse_json(s, len, lim, out, &err);
}

static void
test_json(void)
{
	struct http_limits lim = t_limits();
	json_t *j;
	const char *s;

	t_arena();
	s = "{\"to\":\"a@example.org\",\"n\":[1,2,{\"x\":null}]}";
	CU_ASSERT_EQUAL_FATAL(t_json(s, strlen(s), &lim, &j), 0);
	CU_ASSERT_TRUE(json_is_object(j));
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(j, "to")), "a@example.org");
	json_decref(j);
	CU_ASSERT_EQUAL_FATAL(t_json("[]", 2, &lim, &j), 0);
	CU_ASSERT_TRUE(json_is_array(j));
	json_decref(j);

	/* Top-level scalars are refused. */
	CU_ASSERT_EQUAL(t_json("1", 1, &lim, &j), -1);
	ASSERT_ERR(400, "invalid_json");
	CU_ASSERT_PTR_NULL(j);
	CU_ASSERT_EQUAL(t_json("\"s\"", 3, &lim, &j), -1);
	ASSERT_ERR(400, "invalid_json");

	s = "{\"a\":1,\"a\":2}";
	CU_ASSERT_EQUAL(t_json(s, strlen(s), &lim, &j), -1);
	ASSERT_ERR(400, "invalid_json");
	CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "duplicate"));

	s = "{\"a\":\n  tru}";
	CU_ASSERT_EQUAL(t_json(s, strlen(s), &lim, &j), -1);
	ASSERT_ERR(400, "invalid_json");
	CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "line 2"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "column"));

	CU_ASSERT_EQUAL(t_json("[\"\xff\"]", 5, &lim, &j), -1);
	ASSERT_ERR(400, "invalid_json");
	CU_ASSERT_EQUAL(t_json("[\"\xc3\"]", 5, &lim, &j), -1);
	ASSERT_ERR(400, "invalid_json");
	for (const char *m = err.message; *m != '\0'; m++)
		CU_ASSERT((unsigned char)*m >= 0x20 && (unsigned char)*m < 0x7f);
	CU_ASSERT_EQUAL(t_json("{\"a\":\"\\u0000\"}", 14, &lim, &j), -1);
	ASSERT_ERR(400, "invalid_json");
	CU_ASSERT_EQUAL(t_json("{}\0", 3, &lim, &j), -1);
	ASSERT_ERR(400, "invalid_json");
	CU_ASSERT_EQUAL(t_json("{} x", 4, &lim, &j), -1);
	ASSERT_ERR(400, "invalid_json");
	CU_ASSERT_EQUAL(t_json("", 0, &lim, &j), -1);
	ASSERT_ERR(400, "invalid_json");
	CU_ASSERT_EQUAL(t_json(NULL, 0, &lim, &j), -1);
	ASSERT_ERR(400, "invalid_json");

	lim.max_body = 2;
	CU_ASSERT_EQUAL_FATAL(t_json("{}", 2, &lim, &j), 0);
	json_decref(j);
	CU_ASSERT_EQUAL(t_json("[1]", 3, &lim, &j), -1);
	ASSERT_ERR(413, "payload_too_large");
}

static void
test_json_depth(void)
{
	struct http_limits lim = t_limits();
	json_t *j;
	char *s;

	t_arena();
	s = arena_printf(test_arena, "%s%s", t_repeat("[", 32), t_repeat("]", 32));
	CU_ASSERT_EQUAL_FATAL(t_json(s, strlen(s), &lim, &j), 0);
	json_decref(j);
	s = arena_printf(test_arena, "%s%s", t_repeat("[", 33), t_repeat("]", 33));
	CU_ASSERT_EQUAL(t_json(s, strlen(s), &lim, &j), -1);
	ASSERT_ERR(400, "invalid_json");
	CU_ASSERT_PTR_NULL(j);
	s = arena_printf(test_arena, "%s1%s", t_repeat("{\"k\":", 33), t_repeat("}", 33));
	CU_ASSERT_EQUAL(t_json(s, strlen(s), &lim, &j), -1);
	ASSERT_ERR(400, "invalid_json");
	/* Far beyond jansson's own limit: refused by ours, quickly. */
	s = t_repeat("[", 100000);
	CU_ASSERT_EQUAL(t_json(s, strlen(s), &lim, &j), -1);
	ASSERT_ERR(400, "invalid_json");

	/* Brackets in strings, and siblings, do not nest. */
	s = arena_printf(test_arena, "[\"%s\\\"\",%s]", t_repeat("[{", 40),
	    t_repeat("[],", 100));
	s[strlen(s) - 2] = ' ';
	CU_ASSERT_EQUAL_FATAL(t_json(s, strlen(s), &lim, &j), 0);
	json_decref(j);

	lim.max_json_depth = 1;
	CU_ASSERT_EQUAL_FATAL(t_json("{\"a\":1}", 7, &lim, &j), 0);
	json_decref(j);
	CU_ASSERT_EQUAL(t_json("{\"a\":[]}", 8, &lim, &j), -1);
	ASSERT_ERR(400, "invalid_json");
}

static const char *const test_env_src[] = {
	"REQUEST_METHOD=POST",
	"REQUEST_URI=/api/items/caf%C3%A9%20x?q=1&r=a+b",
	"QUERY_STRING=q=1&r=a+b",
	"DOCUMENT_URI=/api/items/caf\xc3\xa9 x",
	"CONTENT_TYPE=application/x-www-form-urlencoded",
	"CONTENT_LENGTH=13",
	"REMOTE_ADDR=192.0.2.7",
	"HTTP_HOST=mail.example.org",
	"HTTPS=on",
	"HTTP_ORIGIN=https://mail.example.org",
	"HTTP_USER_AGENT=test/1.0",
	"HTTP_ACCEPT=text/html",
	"HTTP_HX_REQUEST=true",
	"HTTP_COOKIE=sid=abc; theme=\"dark\"",
	"HTTP_X_REQUEST_ID=from-header",
	"REQUEST_ID=0123456789abcdef-XYZ",
	"EMPTY=",
	NULL
};
static char **test_env;

/* CGI environments are arrays of char *: copy string literals into the arena. */
static char **
t_env(const char *const *src)
{
	size_t n = 0;
	char **env;

	while (src[n] != NULL)
		n++;
	env = arena_calloc(test_arena, n + 1, sizeof(*env));
	for (size_t i = 0; i < n; i++)
		env[i] = arena_strdup(test_arena, src[i]);
	return env;
}

static void
test_cgi_param(void)
{
	static const char *const short_src[] = { "REQUEST=x", "REQUEST_METHODX=y", NULL };
	char **short_env;

	t_arena();
	test_env = t_env(test_env_src);
	short_env = t_env(short_src);
	CU_ASSERT_STRING_EQUAL(http_cgi_param(test_env, "X-Request-Id"), "from-header");
	CU_ASSERT_STRING_EQUAL(http_cgi_param(test_env, "x-request-id"), "from-header");
	CU_ASSERT_STRING_EQUAL(http_cgi_param(test_env, "HX-Request"), "true");
	CU_ASSERT_STRING_EQUAL(http_cgi_param(test_env, "REQUEST_METHOD"), "POST");
	CU_ASSERT_STRING_EQUAL(http_cgi_param(test_env, "QUERY_STRING"), "q=1&r=a+b");
	CU_ASSERT_STRING_EQUAL(http_cgi_param(test_env, "HTTP_HOST"), "mail.example.org");
	CU_ASSERT_STRING_EQUAL(http_cgi_param(test_env, "Host"), "mail.example.org");
	CU_ASSERT_STRING_EQUAL(http_cgi_param(test_env, "Content-Type"),
	    "application/x-www-form-urlencoded");
	CU_ASSERT_STRING_EQUAL(http_cgi_param(test_env, "content-length"), "13");
	CU_ASSERT_STRING_EQUAL(http_cgi_param(test_env, "EMPTY"), "");
	CU_ASSERT_PTR_NULL(http_cgi_param(test_env, "X-Missing"));
	CU_ASSERT_PTR_NULL(http_cgi_param(test_env, "REQUEST"));
	CU_ASSERT_PTR_NULL(http_cgi_param(test_env, ""));
	CU_ASSERT_PTR_NULL(http_cgi_param(NULL, "REQUEST_METHOD"));
	CU_ASSERT_PTR_NULL(http_cgi_param(test_env, t_repeat("X", 500)));
	CU_ASSERT_PTR_NULL(http_cgi_param(short_env, "REQUEST_METHOD"));
	CU_ASSERT_STRING_EQUAL(http_cgi_param(short_env, "REQUEST"), "x");
}

static int
t_from_cgi(struct http_request *req, char **env)
{
	struct http_limits lim = t_limits();

	memset(&err, 0, sizeof(err));
	return http_request_from_cgi(req, test_arena, env, &lim, &err);
}

static void
test_request_from_cgi(void)
{
	struct http_request req;

	t_arena();
	test_env = t_env(test_env_src);
	CU_ASSERT_EQUAL_FATAL(t_from_cgi(&req, test_env), 0);
	CU_ASSERT_PTR_EQUAL(req.arena, test_arena);
	CU_ASSERT_EQUAL(req.route_index, -1);
	CU_ASSERT_EQUAL(req.user_id, 0);
	CU_ASSERT_STRING_EQUAL(req.method, "POST");
	CU_ASSERT_STRING_EQUAL(req.raw_uri, "/api/items/caf%C3%A9%20x?q=1&r=a+b");
	CU_ASSERT_STRING_EQUAL(req.path, "/api/items/caf\xc3\xa9 x");
	CU_ASSERT_STRING_EQUAL(req.query_string, "q=1&r=a+b");
	CU_ASSERT_STRING_EQUAL(kvlist_get(&req.query, "q"), "1");
	CU_ASSERT_STRING_EQUAL(kvlist_get(&req.query, "r"), "a b");
	CU_ASSERT_STRING_EQUAL(req.content_type, "application/x-www-form-urlencoded");
	CU_ASSERT_EQUAL(req.content_length, 13);
	CU_ASSERT_STRING_EQUAL(req.remote_addr, "192.0.2.7");
	CU_ASSERT_STRING_EQUAL(req.host, "mail.example.org");
	CU_ASSERT_STRING_EQUAL(req.scheme, "https");
	CU_ASSERT_STRING_EQUAL(req.origin, "https://mail.example.org");
	CU_ASSERT_STRING_EQUAL(req.user_agent, "test/1.0");
	CU_ASSERT_STRING_EQUAL(req.accept, "text/html");
	CU_ASSERT_EQUAL(req.hx_request, 1);
	CU_ASSERT_EQUAL(req.wants_json, 1);
	CU_ASSERT_STRING_EQUAL(kvlist_get(&req.cookies, "sid"), "abc");
	CU_ASSERT_STRING_EQUAL(kvlist_get(&req.cookies, "theme"), "dark");
	CU_ASSERT_STRING_EQUAL(req.request_id, "0123456789abcdef-XYZ");
	CU_ASSERT_EQUAL(req.form.len, 0);
	CU_ASSERT_PTR_NULL(req.json);
	CU_ASSERT_PTR_NULL(req.body);
}

static void
test_request_from_cgi_minimal(void)
{
	struct http_request req;
	static const char *const src1[] = { "REQUEST_METHOD=GET",
	    "REQUEST_URI=/inbox?page=2&sort=date", "REQUEST_ID=bad id!", "CONTENT_LENGTH=",
	    "HTTP_HX_REQUEST=1", NULL };
	static const char *const src2[] = { "REQUEST_METHOD=GET", "DOCUMENT_URI=/a%2541 b",
	    "QUERY_STRING=", "REQUEST_SCHEME=https", "HTTP_ACCEPT=application/json", NULL };
	static const char *const src3[] = { "REQUEST_METHOD=GET",
	    "REQUEST_URI=HTTP://example.org/x%2Fy?z=1",
	    "HTTP_ACCEPT=text/html, application/json", NULL };
	static const char *const src4[] = { "REQUEST_METHOD=GET",
	    "REQUEST_URI=https://example.org?z=1", NULL };
	static const char *const src5[] = { "REQUEST_METHOD=OPTIONS", "REQUEST_URI=/api",
	    "REQUEST_ID=", NULL };
	static const char *const src6[] = { "REQUEST_METHOD=GET", "REQUEST_URI=/apix",
	    "REQUEST_ID=", NULL };
	char **env, **env2, **env3, **env4, **env5, **env6;

	t_arena();
	env = t_env(src1);
	env2 = t_env(src2);
	env3 = t_env(src3);
	env4 = t_env(src4);
	env5 = t_env(src5);
	env6 = t_env(src6);
	CU_ASSERT_EQUAL_FATAL(t_from_cgi(&req, env), 0);
	CU_ASSERT_STRING_EQUAL(req.path, "/inbox");
	CU_ASSERT_STRING_EQUAL(req.query_string, "page=2&sort=date");
	CU_ASSERT_STRING_EQUAL(kvlist_get(&req.query, "sort"), "date");
	CU_ASSERT_EQUAL(req.content_length, 0);
	CU_ASSERT_PTR_NULL(req.content_type);
	CU_ASSERT_PTR_NULL(req.remote_addr);
	CU_ASSERT_PTR_NULL(req.origin);
	CU_ASSERT_STRING_EQUAL(req.scheme, "http");
	CU_ASSERT_EQUAL(req.hx_request, 0);
	CU_ASSERT_EQUAL(req.wants_json, 0);
	CU_ASSERT_EQUAL(req.cookies.len, 0);
	CU_ASSERT_EQUAL_FATAL(strlen(req.request_id), 32);
	CU_ASSERT_EQUAL(strspn(req.request_id, "0123456789abcdef"), 32);

	/* DOCUMENT_URI is decoded by nginx already: taken as is. */
	CU_ASSERT_EQUAL_FATAL(t_from_cgi(&req, env2), 0);
	CU_ASSERT_STRING_EQUAL(req.path, "/a%2541 b");
	CU_ASSERT_PTR_NULL(req.raw_uri);
	CU_ASSERT_STRING_EQUAL(req.query_string, "");
	CU_ASSERT_STRING_EQUAL(req.scheme, "https");
	CU_ASSERT_EQUAL(req.wants_json, 1);

	CU_ASSERT_EQUAL_FATAL(t_from_cgi(&req, env3), 0);
	CU_ASSERT_STRING_EQUAL(req.path, "/x/y");
	CU_ASSERT_STRING_EQUAL(kvlist_get(&req.query, "z"), "1");
	CU_ASSERT_EQUAL(req.wants_json, 0);
	CU_ASSERT_EQUAL_FATAL(t_from_cgi(&req, env4), 0);
	CU_ASSERT_STRING_EQUAL(req.path, "/");
	CU_ASSERT_STRING_EQUAL(kvlist_get(&req.query, "z"), "1");

	CU_ASSERT_EQUAL_FATAL(t_from_cgi(&req, env5), 0);
	CU_ASSERT_STRING_EQUAL(req.method, "OPTIONS");
	CU_ASSERT_EQUAL(req.wants_json, 1);
	CU_ASSERT_EQUAL(strlen(req.request_id), 32);
	CU_ASSERT_EQUAL_FATAL(t_from_cgi(&req, env6), 0);
	CU_ASSERT_EQUAL(req.wants_json, 0);
}

static void
t_cgi_fails(const char *method, const char *uri, const char *extra, int status,
    const char *code, const char *message)
{
	struct http_request req;
	char *env[5];
	size_t n = 0;

	if (method != NULL)
		env[n++] = arena_printf(test_arena, "REQUEST_METHOD=%s", method);
	if (uri != NULL)
		env[n++] = arena_printf(test_arena, "REQUEST_URI=%s", uri);
	if (extra != NULL)
		env[n++] = arena_strdup(test_arena, extra);
	env[n++] = arena_strdup(test_arena, "REQUEST_ID=kept-on-failure");
	env[n] = NULL;
	CU_ASSERT_EQUAL(t_from_cgi(&req, env), -1);
	ASSERT_ERR(status, code);
	if (message != NULL && err.message != NULL)
		CU_ASSERT_STRING_EQUAL(err.message, message);
	CU_ASSERT_STRING_EQUAL(req.request_id, "kept-on-failure");
	CU_ASSERT_PTR_NOT_NULL(req.scheme);
}

static void
test_request_from_cgi_errors(void)
{
	static const char *const src[] = { "REQUEST_METHOD=ABCDEFGHIJKLMNOP", "REQUEST_URI=/",
	    NULL };
	struct http_request req;
	char **env;

	t_arena();
	env = t_env(src);
	CU_ASSERT_EQUAL(t_from_cgi(&req, env), 0);

	t_cgi_fails(NULL, "/", NULL, 400, "bad_request", NULL);
	t_cgi_fails("", "/", NULL, 400, "bad_request", NULL);
	t_cgi_fails("get", "/", NULL, 400, "bad_request", NULL);
	t_cgi_fails("G3T", "/", NULL, 400, "bad_request", NULL);
	t_cgi_fails("ABCDEFGHIJKLMNOPQ", "/", NULL, 400, "bad_request", NULL);
	t_cgi_fails("GET", "/a%zz", NULL, 400, "bad_request", NULL);
	t_cgi_fails("GET", "/a%2", NULL, 400, "bad_request", NULL);
	t_cgi_fails("GET", "/a%00b", NULL, 400, "bad_request", NULL);
	t_cgi_fails("GET", "*", NULL, 400, "bad_request", NULL);
	t_cgi_fails("GET", "inbox", NULL, 400, "bad_request", NULL);
	t_cgi_fails("GET", "?a=1", NULL, 400, "bad_request", NULL);
	t_cgi_fails("GET", NULL, NULL, 400, "bad_request", NULL);
	t_cgi_fails("GET", NULL, "DOCUMENT_URI=inbox", 400, "bad_request", NULL);
	t_cgi_fails("GET", "/?q=%zz", NULL, 400, "bad_request", NULL);
	t_cgi_fails("GET", "/", "QUERY_STRING=a=%", 400, "bad_request", NULL);
	t_cgi_fails("GET", "/", "CONTENT_LENGTH=12a", 400, "bad_request",
	    "invalid Content-Length");
	t_cgi_fails("GET", "/", "CONTENT_LENGTH=-1", 400, "bad_request",
	    "invalid Content-Length");
	t_cgi_fails("GET", "/", "CONTENT_LENGTH= 1", 400, "bad_request",
	    "invalid Content-Length");
	t_cgi_fails("GET", "/", "CONTENT_LENGTH=+1", 400, "bad_request",
	    "invalid Content-Length");
	t_cgi_fails("GET", "/", "CONTENT_LENGTH=999999999999999999999999", 400, "bad_request",
	    "invalid Content-Length");
	t_cgi_fails("GET", "/", arena_printf(test_arena, "HTTP_COOKIE=%s",
	    t_repeat("c=1; ", 65)), 400, "too_many_cookies", NULL);
}

static void
test_request_id(void)
{
	static const char *const src[] = { "REQUEST_METHOD=GET", "REQUEST_URI=/",
	    "REQUEST_ID=", NULL };
	struct http_request req;
	char **env, *id64, *id65;

	t_arena();
	env = t_env(src);
	id64 = t_repeat("a", 64);
	id65 = t_repeat("a", 65);
	env[2] = arena_printf(test_arena, "REQUEST_ID=%s", id64);
	CU_ASSERT_EQUAL_FATAL(t_from_cgi(&req, env), 0);
	CU_ASSERT_STRING_EQUAL(req.request_id, id64);
	env[2] = arena_printf(test_arena, "REQUEST_ID=%s", id65);
	CU_ASSERT_EQUAL_FATAL(t_from_cgi(&req, env), 0);
	CU_ASSERT_EQUAL(strlen(req.request_id), 32);
	env[2] = arena_strdup(test_arena, "REQUEST_ID=a_b");
	CU_ASSERT_EQUAL_FATAL(t_from_cgi(&req, env), 0);
	CU_ASSERT_EQUAL(strlen(req.request_id), 32);
	env[2] = arena_strdup(test_arena, "REQUEST_ID=-");
	CU_ASSERT_EQUAL_FATAL(t_from_cgi(&req, env), 0);
	CU_ASSERT_STRING_EQUAL(req.request_id, "-");
}

static int
t_body(struct http_request *req, const char *ct, const char *body, size_t len,
    const struct http_limits *lim)
{
	memset(req, 0, sizeof(*req));
	req->arena = test_arena;
	req->route_index = -1;
	req->content_type = ct;
	memset(&err, 0, sizeof(err));
	return http_request_parse_body(req, body, len, lim, &err);
}

static void
test_parse_body(void)
{
	struct http_limits lim = t_limits();
	struct http_request req;
	const char *mp = "--b\r\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n"
	    "--b\r\nContent-Disposition: form-data; name=f; filename=x.txt\r\n\r\nxyz\r\n"
	    "--b--\r\n";
	json_t *other;

	t_arena();
	CU_ASSERT_EQUAL(t_body(&req, NULL, "", 0, &lim), 0);
	CU_ASSERT_EQUAL(t_body(&req, "text/plain", NULL, 0, &lim), 0);

	CU_ASSERT_EQUAL(t_body(&req, NULL, "a=1", 3, &lim), -1);
	ASSERT_ERR(415, "unsupported_media_type");
	CU_ASSERT_EQUAL(t_body(&req, "", "a=1", 3, &lim), -1);
	ASSERT_ERR(415, "unsupported_media_type");
	CU_ASSERT_EQUAL(t_body(&req, "text/plain", "a=1", 3, &lim), -1);
	ASSERT_ERR(415, "unsupported_media_type");
	CU_ASSERT_EQUAL(t_body(&req, "application/jsonp", "[]", 2, &lim), -1);
	ASSERT_ERR(415, "unsupported_media_type");

	CU_ASSERT_EQUAL_FATAL(t_body(&req, "Application/X-WWW-Form-Urlencoded; charset=UTF-8",
	    "to=a%40b.org&x=%00", 18, &lim), 0);
	CU_ASSERT_STRING_EQUAL(kvlist_get(&req.form, "to"), "a@b.org");
	CU_ASSERT_EQUAL(req.form.items[1].value_len, 1);
	CU_ASSERT_EQUAL(req.body_len, 18);
	CU_ASSERT_STRING_EQUAL(req.body, "to=a%40b.org&x=%00");
	CU_ASSERT_EQUAL(t_body(&req, "application/x-www-form-urlencoded", "a=%", 3, &lim), -1);
	ASSERT_ERR(400, "bad_request");

	CU_ASSERT_EQUAL_FATAL(t_body(&req, "multipart/form-data; boundary=b", mp, strlen(mp),
	    &lim), 0);
	CU_ASSERT_STRING_EQUAL(kvlist_get(&req.form, "a"), "1");
	CU_ASSERT_EQUAL_FATAL(req.nuploads, 1);
	CU_ASSERT_STRING_EQUAL(req.uploads[0].filename, "x.txt");
	CU_ASSERT_PTR_EQUAL(req.body, mp);

	CU_ASSERT_EQUAL_FATAL(t_body(&req, "application/json; charset=utf-8", "{\"a\":1}", 7,
	    &lim), 0);
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(req.json, "a")), 1);
	json_decref(req.json);
	CU_ASSERT_EQUAL_FATAL(t_body(&req, "application/merge-patch+json", "{}", 2, &lim), 0);
	CU_ASSERT_TRUE(json_is_object(req.json));
	json_decref(req.json);
	CU_ASSERT_EQUAL(t_body(&req, "application/json", "{\"a\":1,\"a\":1}", 13, &lim), -1);
	ASSERT_ERR(400, "invalid_json");
	CU_ASSERT_PTR_NULL(req.json);
	/* The message is the request's own, not the thread's scratch buffer. */
	CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "duplicate"));
	CU_ASSERT_EQUAL(http_parse_json("[", 1, &lim, &other, NULL), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "duplicate"));
}

static void
test_parse_body_limits(void)
{
	struct http_limits lim = t_limits();
	struct http_request req;
	const char *mp = "--b\r\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n--b--";
	const char *form = "a=1&b=2";

	t_arena();
	lim.max_body = strlen(form);
	CU_ASSERT_EQUAL(t_body(&req, "application/x-www-form-urlencoded", form, strlen(form),
	    &lim), 0);
	CU_ASSERT_EQUAL(t_body(&req, "application/json", "[1,2,3]", 7, &lim), 0);
	json_decref(req.json);
	lim.max_body = strlen(form) - 1;
	CU_ASSERT_EQUAL(t_body(&req, "application/x-www-form-urlencoded", form, strlen(form),
	    &lim), -1);
	ASSERT_ERR(413, "payload_too_large");
	CU_ASSERT_EQUAL(t_body(&req, "application/json", "[1,2,3]", 7, &lim), -1);
	ASSERT_ERR(413, "payload_too_large");
	CU_ASSERT_EQUAL(t_body(&req, "application/problem+json", "[1,2,3]", 7, &lim), -1);
	ASSERT_ERR(413, "payload_too_large");

	/* Multipart bodies answer to max_upload only. */
	lim.max_body = 1;
	lim.max_upload = strlen(mp);
	CU_ASSERT_EQUAL(t_body(&req, "multipart/form-data; boundary=b", mp, strlen(mp), &lim),
	    0);
	lim.max_upload = strlen(mp) - 1;
	CU_ASSERT_EQUAL(t_body(&req, "multipart/form-data; boundary=b", mp, strlen(mp), &lim),
	    -1);
	ASSERT_ERR(413, "payload_too_large");
}

static void
test_limits_default(void)
{
	CU_ASSERT_EQUAL(http_limits_default.max_body, 1024 * 1024);
	CU_ASSERT_EQUAL(http_limits_default.max_upload, 25 * 1024 * 1024);
	CU_ASSERT_EQUAL(http_limits_default.max_fields, 1000);
	CU_ASSERT_EQUAL(http_limits_default.max_name, 256);
	CU_ASSERT_EQUAL(http_limits_default.max_value, 1024 * 1024);
	CU_ASSERT_EQUAL(http_limits_default.max_cookies, 64);
	CU_ASSERT_EQUAL(http_limits_default.max_json_depth, 32);
}

static int
suite_init(void)
{
	test_arena = arena_new(64 * 1024);
	return 0;
}

static int
suite_cleanup(void)
{
	arena_free(test_arena);
	test_arena = NULL;
	return 0;
}

static void
test_accept_json(void)
{
	CU_ASSERT(http_accept_prefers_json("application/json"));
	CU_ASSERT(http_accept_prefers_json("Application/JSON; charset=utf-8"));
	CU_ASSERT(http_accept_prefers_json("application/problem+json"));
	CU_ASSERT(http_accept_prefers_json("text/html;q=0.5, application/json"));
	CU_ASSERT(http_accept_prefers_json("text/html; q=0.2,application/json;q=0.3"));
	CU_ASSERT(http_accept_prefers_json("application/json, text/plain, */*"));
	/* Browsers and ties get HTML. */
	CU_ASSERT(!http_accept_prefers_json("text/html,application/xhtml+xml,application/xml;"
	    "q=0.9,image/avif,image/webp,*/*;q=0.8"));
	CU_ASSERT(!http_accept_prefers_json("text/html, application/json"));
	CU_ASSERT(!http_accept_prefers_json("application/json;q=0.5, text/html;q=0.5"));
	CU_ASSERT(!http_accept_prefers_json("application/json;q=0"));
	CU_ASSERT(!http_accept_prefers_json("application/json;q=x"));
	CU_ASSERT(!http_accept_prefers_json("*/*"));
	CU_ASSERT(!http_accept_prefers_json(""));
	CU_ASSERT(!http_accept_prefers_json("application/jsonx"));
	CU_ASSERT(!http_accept_prefers_json(",;,;q=,"));
}

int
main(void)
{
	static const struct {
		const char *name;
		CU_TestFunc fn;
	} tests[] = {
		{ "limits default", test_limits_default },
		{ "kvlist", test_kvlist },
		{ "url decode", test_url_decode },
		{ "urlencoded basic", test_urlencoded_basic },
		{ "urlencoded nasty value", test_urlencoded_nasty },
		{ "urlencoded errors", test_urlencoded_errors },
		{ "urlencoded limits", test_urlencoded_limits },
		{ "cookies", test_cookies },
		{ "cookies limit", test_cookies_limit },
		{ "content type", test_content_type },
		{ "multipart", test_multipart },
		{ "multipart forms", test_multipart_forms },
		{ "multipart errors", test_multipart_errors },
		{ "multipart limits", test_multipart_limits },
		{ "multipart large", test_multipart_large },
		{ "json", test_json },
		{ "json depth", test_json_depth },
		{ "cgi param", test_cgi_param },
		{ "request from cgi", test_request_from_cgi },
		{ "request from cgi minimal", test_request_from_cgi_minimal },
		{ "request from cgi errors", test_request_from_cgi_errors },
		{ "request id", test_request_id },
		{ "parse body", test_parse_body },
		{ "parse body limits", test_parse_body_limits },
		{ "Accept negotiation", test_accept_json },
	};
	CU_pSuite suite;
	unsigned int failures;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	suite = CU_add_suite("http-request", suite_init, suite_cleanup);
	if (suite == NULL)
		goto fail;
	for (size_t i = 0; i < MR_ARRAY_LEN(tests); i++) {
		if (CU_add_test(suite, tests[i].name, tests[i].fn) == NULL)
			goto fail;
	}
	CU_basic_set_mode(CU_BRM_VERBOSE);
	if (CU_basic_run_tests() != CUE_SUCCESS)
		goto fail;
	failures = CU_get_number_of_failures();
	CU_cleanup_registry();
	return failures != 0;

fail:
	fprintf(stderr, "test-http-request: %s\n", CU_get_error_msg());
	CU_cleanup_registry();
	return 1;
}
