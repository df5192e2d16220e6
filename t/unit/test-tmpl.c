/* test-tmpl.c: the template engine: exact escaping in text, attribute and URL positions,
 * load errors with file:line, loops, conditions, includes, layouts and fragments, and every
 * template of t/unit/tmpl/good rendered with a rich context and parsed back by libxml2. */
#include "config.h"

#include <dirent.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <libxml/HTMLparser.h>
#include <libxml/HTMLtree.h>
#include <libxml/parserInternals.h>

#include "arena.h"
#include "tmpl.h"
#include "unit.h"

#define NASTY "\0\"&'<>"
#define NASTY_LEN 6
#define FFFD "\xef\xbf\xbd"

static struct arena *test_arena;

static const char *
test_srcdir(void)
{
	const char *s = getenv("srcdir");

	return s != NULL && *s != '\0' ? s : ".";
}

static char *
test_path(const char *rel)
{
	return arena_printf(test_arena, "%s/t/unit/tmpl/%s", test_srcdir(), rel);
}

static char *
test_read(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	struct buf b;
	char chunk[4096];
	size_t n;

	buf_init(&b, test_arena);
	if (f == NULL) {
		fprintf(stderr, "cannot open %s\n", path);
		CU_FAIL_FATAL("cannot read a test file");
		return NULL;
	}
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		buf_append(&b, chunk, n);
	fclose(f);
	*len = b.len;
	return b.data;
}

static json_t *
test_context(void)
{
	json_error_t je;
	json_t *ctx = json_load_file(test_path("context.json"), JSON_REJECT_DUPLICATES, &je);

	if (ctx == NULL)
		fprintf(stderr, "context.json:%d: %s\n", je.line, je.text);
	CU_ASSERT_PTR_NOT_NULL_FATAL(ctx);
	return ctx;
}

static int
test_equal(const char *what, const char *got, const char *want)
{
	if (strcmp(got, want) == 0)
		return 1;
	fprintf(stderr, "\n%s:\n  got:  [%s]\n  want: [%s]\n", what, got, want);
	return 0;
}

/* Loads the sources (NULL-terminated name, text pairs) into set; 0 or -1 with err. */
static int
test_load_pairs(const char *const *pairs, struct tmpl_set **set, char *err, size_t errlen)
{
	struct tmpl_source src[16];
	size_t n = 0;

	for (; pairs[0] != NULL && n < MR_ARRAY_LEN(src); pairs += 2, n++) {
		src[n].name = pairs[0];
		src[n].text = pairs[1];
		src[n].len = strlen(pairs[1]);
	}
	return tmpl_set_load_mem(src, n, set, err, errlen);
}

/* Loads the sources; fails the test on an error. */
static struct tmpl_set *
test_load(const char *const *pairs)
{
	struct tmpl_set *set = NULL;
	char err[512];

	if (test_load_pairs(pairs, &set, err, sizeof(err)) == -1) {
		fprintf(stderr, "\nload: %s\n", err);
		CU_FAIL_FATAL("templates did not load");
	}
	return set;
}

/* The load error of the sources, or "" when they load. */
static const char *
test_load_error(const char *const *pairs)
{
	struct tmpl_set *set = NULL;
	char err[512];

	if (test_load_pairs(pairs, &set, err, sizeof(err)) == 0) {
		tmpl_set_free(set);
		return "";
	}
	return arena_strdup(test_arena, err);
}

static const char *
test_render(const struct tmpl_set *set, const char *name, const char *frag, const json_t *ctx)
{
	struct buf out;
	char err[256];

	buf_init(&out, test_arena);
	if (tmpl_render(set, name, frag, ctx, &out, err, sizeof(err)) == -1) {
		fprintf(stderr, "\nrender %s %s: %s\n", name, frag != NULL ? frag : "", err);
		CU_FAIL("render failed");
		return "";
	}
	return out.data;
}

/* Renders fragment "f" of a one-template set. */
static const char *
test_frag(const char *text, const json_t *ctx)
{
	const char *pairs[] = { "t.html", text, NULL };
	struct tmpl_set *set = test_load(pairs);
	const char *out = test_render(set, "t.html", "f", ctx);

	tmpl_set_free(set);
	return out;
}

static const char *
test_frag_json(const char *text, const char *ctxjson)
{
	json_error_t je;
	json_t *ctx = json_loads(ctxjson, JSON_ALLOW_NUL, &je);
	const char *out;

	CU_ASSERT_PTR_NOT_NULL_FATAL(ctx);
	out = test_frag(text, ctx);
	json_decref(ctx);
	return out;
}

/* --- Escaping ---------------------------------------------------------------------- */

static void
test_nasty_string(void)
{
	json_t *ctx = json_object();

	json_object_set_new(ctx, "v", json_stringn(NASTY, NASTY_LEN));
	CU_ASSERT(test_equal("text", test_frag("<p m-fragment=\"f\" m-text=\"v\">x</p>", ctx),
	    "<p>" FFFD "\"&amp;'&lt;&gt;</p>"));
	CU_ASSERT(test_equal("attribute", test_frag("<p m-fragment=\"f\" m-attr-title=\"v\"></p>",
	    ctx), "<p title=\"" FFFD "&quot;&amp;&#39;&lt;&gt;\"></p>"));
	/* No scheme (the NUL is stripped as a browser would, '"' cannot start one): relative. */
	CU_ASSERT(test_equal("url", test_frag("<a m-fragment=\"f\" m-attr-href=\"v\">x</a>", ctx),
	    "<a href=\"" FFFD "&quot;&amp;&#39;&lt;&gt;\">x</a>"));
	CU_ASSERT(test_equal("class", test_frag(
	    "<b m-fragment=\"f\" class=\"c\" m-class=\"v\">x</b>", ctx),
	    "<b class=\"c " FFFD "&quot;&amp;&#39;&lt;&gt;\">x</b>"));
	CU_ASSERT(test_equal("concat", test_frag("<p m-fragment=\"f\" m-text=\"v ~ v\"></p>", ctx),
	    "<p>" FFFD "\"&amp;'&lt;&gt;" FFFD "\"&amp;'&lt;&gt;</p>"));
	json_decref(ctx);
}

static void
test_urls(void)
{
	static const struct {
		const char *url, *want;
	} cases[] = {
		{ "javascript:alert(1)", "#" },
		{ " JaVa\tScRiPt:alert(1)", "#" },
		{ "\x01java\nscript:alert(1)", "#" },
		{ "data:text/html,<script>alert(1)</script>", "#" },
		{ "vbscript:msgbox(1)", "#" },
		{ "file:///etc/passwd", "#" },
		{ "httpsx://a", "#" },
		{ "//evil.example", "//evil.example" },
		{ "mailto:x@y", "mailto:x@y" },
		{ "MAILTO:x@y", "MAILTO:x@y" },
		{ "https://example.org/a?b=1&c=2", "https://example.org/a?b=1&amp;c=2" },
		{ "http://example.org", "http://example.org" },
		{ "/inbox?x=1&y=2", "/inbox?x=1&amp;y=2" },
		{ "?page=2", "?page=2" },
		{ "#top", "#top" },
		{ "messages/1", "messages/1" },
		{ "java script:alert(1)", "java script:alert(1)" }, /* a space: no scheme */
		{ ":foo", ":foo" },
		{ "", "" },
	};

	for (size_t i = 0; i < MR_ARRAY_LEN(cases); i++) {
		json_t *ctx = json_pack("{ss}", "u", cases[i].url);
		const char *want = arena_printf(test_arena, "<a href=\"%s\">x</a>", cases[i].want);

		CU_ASSERT(test_equal(cases[i].url, test_frag(
		    "<a m-fragment=\"f\" m-attr-href=\"u\">x</a>", ctx), want));
		json_decref(ctx);
	}
	/* The same values outside URL attributes are only escaped. */
	CU_ASSERT(test_equal("text", test_frag_json(
	    "<p m-fragment=\"f\" m-attr-title=\"u\" m-text=\"u\"></p>",
	    "{\"u\": \"javascript:alert(1)\"}"),
	    "<p title=\"javascript:alert(1)\">javascript:alert(1)</p>"));
	/* Every URL attribute goes through the same check. */
	CU_ASSERT(test_equal("other url attributes", test_frag_json(
	    "<form m-fragment=\"f\" m-attr-action=\"u\"><button m-attr-formaction=\"u\" "
	    "m-attr-hx-post=\"u\"></button><img alt=\"\" m-attr-src=\"u\"><svg><a "
	    "m-attr-xlink:href=\"u\"></a></svg></form>", "{\"u\": \"javascript:x\"}"),
	    "<form action=\"#\"><button formaction=\"#\" hx-post=\"#\"></button>"
	    "<img alt=\"\" src=\"#\"><svg><a xlink:href=\"#\"></a></svg></form>"));
}

static void
test_safe_url(void)
{
	const char *r;
	size_t len;

	len = 5;
	r = tmpl_safe_url("/a\0b", &len);
	CU_ASSERT_EQUAL(len, 5);
	CU_ASSERT(memcmp(r, "/a\0b", 5) == 0);
	len = 21;
	r = tmpl_safe_url("\0\0javascript:alert(1)", &len);
	CU_ASSERT_STRING_EQUAL(r, "#");
	CU_ASSERT_EQUAL(len, 1);
	/* A NUL inside the scheme ends it, as the U+FFFD a browser reads there would. */
	len = 15;
	r = tmpl_safe_url("java\0script:x()", &len);
	CU_ASSERT_EQUAL(len, 15);
	len = 6;
	CU_ASSERT_STRING_EQUAL(tmpl_safe_url("HTTPS:", &len), "HTTPS:");
}

static void
test_url_concat(void)
{
	/* In URL attributes the values joined with ~ are percent-encoded: an id cannot leave
	 * its path segment nor add a query parameter. Outside URLs they are plain text. */
	CU_ASSERT(test_equal("path", test_frag_json(
	    "<a m-fragment=\"f\" m-attr-href=\"'/messages/' ~ id ~ '/reply?q=' ~ q\" "
	    "m-attr-title=\"'/messages/' ~ id\">x</a>",
	    "{\"id\": \"../admin?x=1#y\", \"q\": \"a b&c=d\\u00e9\"}"),
	    "<a href=\"/messages/..%2Fadmin%3Fx%3D1%23y/reply?q=a%20b%26c%3Dd%C3%A9\" "
	    "title=\"/messages/../admin?x=1#y\">x</a>"));
	CU_ASSERT(test_equal("number", test_frag_json(
	    "<a m-fragment=\"f\" m-attr-href=\"'/m/' ~ id ~ '/' ~ 7\">x</a>", "{\"id\": 42}"),
	    "<a href=\"/m/42/7\">x</a>"));
	/* A value in front decides nothing: it is encoded, so it cannot bring a scheme. */
	CU_ASSERT(test_equal("scheme", test_frag_json(
	    "<a m-fragment=\"f\" m-attr-href=\"u ~ '/x'\">x</a>",
	    "{\"u\": \"javascript:alert(1)\"}"),
	    "<a href=\"javascript%3Aalert%281%29/x\">x</a>"));
	CU_ASSERT(test_equal("literal scheme", test_frag_json(
	    "<a m-fragment=\"f\" m-attr-href=\"'javascript:' ~ u\">x</a>", "{\"u\": \"alert(1)\"}"),
	    "<a href=\"#\">x</a>"));
}

static void
test_json_block(void)
{
	json_t *ctx = json_pack("{s{sssssisbsn}}", "d", "html", "</script><!--<script>",
	    "sep", "\xe2\x80\xa8|\xe2\x80\xa9", "n", 3, "ok", 1, "none");

	json_object_set_new(json_object_get(ctx, "d"), "nul", json_stringn("a\0&b", 4));
	CU_ASSERT(test_equal("m-json", test_frag(
	    "<div m-fragment=\"f\"><script type=\"application/json\" m-json=\"d\">{}</script>"
	    "</div>", ctx),
	    "<div><script type=\"application/json\">{\"html\":\"\\u003c/script\\u003e\\u003c!--"
	    "\\u003cscript\\u003e\",\"sep\":\"\\u2028|\\u2029\",\"n\":3,\"ok\":true,"
	    "\"none\":null,\"nul\":\"a\\u0000\\u0026b\"}</script></div>"));
	CU_ASSERT(test_equal("m-json scalars", test_frag(
	    "<div m-fragment=\"f\"><script type=\"application/json\" m-json=\"missing\"></script>"
	    "<script type=\"application/json\" m-json=\"'<' ~ d.n\"></script></div>", ctx),
	    "<div><script type=\"application/json\">null</script>"
	    "<script type=\"application/json\">\"\\u003c3\"</script></div>"));
	json_decref(ctx);
}

static void
test_invalid_bytes(void)
{
	json_t *ctx = json_object();

	/* Invalid UTF-8 (one U+FFFD per byte), C0 controls, U+FFFF and an overlong '<'. */
	json_object_set_new(ctx, "v", json_stringn_nocheck("a\xff" "b\x01" "c\x0c" "d\t\n"
	    "\xef\xbf\xbf" "\xc0\xbc" "\xe2\x82\xac", 17));
	CU_ASSERT(test_equal("text", test_frag("<p m-fragment=\"f\" m-text=\"v\"></p>", ctx),
	    "<p>a" FFFD "b" FFFD "c" FFFD "d\t\n" FFFD FFFD FFFD FFFD FFFD "\xe2\x82\xac</p>"));
	CU_ASSERT(test_equal("attribute", test_frag("<p m-fragment=\"f\" m-attr-title=\"v\"></p>",
	    ctx), "<p title=\"a" FFFD "b" FFFD "c" FFFD "d\t\n" FFFD FFFD FFFD FFFD FFFD
	    "\xe2\x82\xac\"></p>"));
	json_decref(ctx);
}

/* Length of the well-formed UTF-8 sequence at s, from Unicode's table of well-formed byte
 * sequences (Table 3-7), or 0; U+FFFE and U+FFFF are not characters of a document. */
static size_t
ref_utf8(const unsigned char *s, size_t n)
{
	static const struct {
		unsigned char lead_lo, lead_hi, lo, hi;
		size_t len;
	} t[] = {
		{ 0xc2, 0xdf, 0x80, 0xbf, 2 }, { 0xe0, 0xe0, 0xa0, 0xbf, 3 },
		{ 0xe1, 0xec, 0x80, 0xbf, 3 }, { 0xed, 0xed, 0x80, 0x9f, 3 },
		{ 0xee, 0xef, 0x80, 0xbf, 3 }, { 0xf0, 0xf0, 0x90, 0xbf, 4 },
		{ 0xf1, 0xf3, 0x80, 0xbf, 4 }, { 0xf4, 0xf4, 0x80, 0x8f, 4 },
	};

	for (size_t k = 0; k < MR_ARRAY_LEN(t); k++) {
		if (s[0] < t[k].lead_lo || s[0] > t[k].lead_hi)
			continue;
		if (n < t[k].len || s[1] < t[k].lo || s[1] > t[k].hi)
			return 0;
		for (size_t i = 2; i < t[k].len; i++) {
			if (s[i] < 0x80 || s[i] > 0xbf)
				return 0;
		}
		if (t[k].len == 3 && s[0] == 0xef && s[1] == 0xbf && s[2] >= 0xbe)
			return 0;
		return t[k].len;
	}
	return 0;
}

static void
ref_escape(struct buf *b, const unsigned char *s, size_t n, int attr)
{
	for (size_t i = 0; i < n;) {
		unsigned char c = s[i];
		size_t len;

		if (c == '&')
			buf_puts(b, "&amp;");
		else if (c == '<')
			buf_puts(b, "&lt;");
		else if (c == '>')
			buf_puts(b, "&gt;");
		else if (attr && c == '"')
			buf_puts(b, "&quot;");
		else if (attr && c == '\'')
			buf_puts(b, "&#39;");
		else if (c < 0x20 && c != '\t' && c != '\n' && c != '\r')
			buf_puts(b, FFFD);
		else if (c < 0x80)
			buf_putc(b, (char)c);
		else if ((len = ref_utf8(s + i, n - i)) > 0) {
			buf_append(b, s + i, len);
			i += len;
			continue;
		} else
			buf_puts(b, FFFD);
		i++;
	}
}

/* Long and short values of every kind of byte, across the escaper's word and chunk steps,
 * against the reference above. */
static void
test_escape_random(void)
{
	static const char *const parts[] = {
		"a", "plain text ", "0123456789abcdef", " ", "&", "<", ">", "\"", "'", "\t", "\n",
		"\r", "\x01", "\x7f", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "\xff",
		"\xc3", "\xe2\x82", "\xef\xbf\xbf", "\xef\xbf\xbe", "\xed\xa0\x80",
		"\xe0\x80\xaf", "\xf4\x90\x80\x80", "\xc0\xbc", "\x80", "\xef\xbf\xbd"
	};
	const char *pairs[] = {
		"t.html", "<p m-fragment=\"t\" m-text=\"v\"></p><p m-fragment=\"a\" "
		"m-attr-title=\"v\"></p>", NULL
	};
	struct tmpl_set *set = test_load(pairs);
	uint64_t seed = 0x746d706cULL;
	int bad = 0;

	for (int round = 0; round < 300 && bad < 3; round++) {
		size_t target = round < 100 ? (size_t)round : (size_t)(seed % 9000);
		struct buf v, want;
		json_t *ctx;

		buf_init(&v, test_arena);
		while (v.len < target) {
			seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
			/* Mostly plain text, so that runs span many 8-byte words. */
			buf_puts(&v, (seed >> 33) % 4 != 0 ? parts[1] : parts[(seed >> 40) %
			    MR_ARRAY_LEN(parts)]);
		}
		ctx = json_object();
		json_object_set_new(ctx, "v", json_stringn_nocheck(v.data, v.len));
		for (int attr = 0; attr < 2; attr++) {
			const char *got = test_render(set, "t.html", attr ? "a" : "t", ctx);

			buf_init(&want, test_arena);
			buf_puts(&want, attr ? "<p title=\"" : "<p>");
			ref_escape(&want, (const unsigned char *)v.data, v.len, attr);
			buf_puts(&want, attr ? "\"></p>" : "</p>");
			if (strcmp(got, want.data) != 0 && bad++ < 3)
				test_equal(attr ? "attribute" : "text", got, want.data);
		}
		json_decref(ctx);
		arena_reset(test_arena);
	}
	CU_ASSERT_EQUAL(bad, 0);
	tmpl_set_free(set);
}

/* --- Values and expressions -------------------------------------------------------- */

static void
test_values(void)
{
	CU_ASSERT(test_equal("scalars", test_frag_json(
	    "<p m-fragment=\"f\"><b m-text=\"i\"></b><b m-text=\"r\"></b><b m-text=\"big\"></b>"
	    "<b m-text=\"t\"></b><b m-text=\"n\"></b><b m-text=\"nope\">x</b><b m-text=\"a\"></b>"
	    "<b m-text=\"o\"></b><b m-text=\"a.1\"></b><b m-text=\"o.k.0\"></b></p>",
	    "{\"i\": -42, \"r\": 2.5, \"big\": 1e21, \"t\": true, \"n\": null, \"a\": [1, 2],"
	    " \"o\": {\"k\": [\"z\"]}}"),
	    "<p><b>-42</b><b>2.5</b><b>1e+21</b><b>true</b><b></b><b></b><b></b><b></b><b>2</b>"
	    "<b>z</b></p>"));
	CU_ASSERT(test_equal("attributes", test_frag_json(
	    "<input m-fragment=\"f\" type=\"checkbox\" value=\"x\" m-attr-value=\"n\" "
	    "m-attr-checked=\"t\" m-attr-disabled=\"f\" m-attr-aria-checked=\"t\" "
	    "m-attr-aria-disabled=\"f\" m-attr-data-n=\"i\" m-attr-title=\"o\" "
	    "m-attr-required=\"s\">",
	    "{\"t\": true, \"f\": false, \"n\": null, \"i\": 0, \"o\": {}, \"s\": \"yes\"}"),
	    "<input type=\"checkbox\" checked aria-checked=\"true\" aria-disabled=\"false\" "
	    "data-n=\"0\" required>"));
	CU_ASSERT(test_equal("classes", test_frag_json(
	    "<div m-fragment=\"f\"><p class=\"a\" m-class-on=\"t\" m-class-off=\"f\"></p>"
	    "<p m-class-off=\"f\"></p><p class=\"a\" m-attr-class=\"'b c'\" m-class-d=\"t\"></p>"
	    "<p m-class=\"n\" m-class-x-y=\"t\"></p></div>",
	    "{\"t\": true, \"f\": false, \"n\": null}"),
	    "<div><p class=\"a on\"></p><p></p><p class=\"a b c d\"></p>"
	    "<p class=\"x-y\"></p></div>"));
}

static void
test_expressions(void)
{
	CU_ASSERT(test_equal("logic", test_frag_json(
	    "<p m-fragment=\"f\">"
	    "<b m-if=\"not f\">1</b><b m-if=\"t and not f\">2</b><b m-if=\"f or z\">3</b>"
	    "<b m-if=\"s == 'inbox'\">4</b><b m-if=\"s != 'inbox'\">5</b><b m-if=\"i == 3\">6</b>"
	    "<b m-if=\"r3 == 3\">7</b><b m-if=\"i == '3'\">8</b><b m-if=\"n == null\">9</b>"
	    "<b m-if=\"missing == null\">10</b><b m-if=\"e\">11</b><b m-if=\"ea\">12</b>"
	    "<b m-if=\"a\">13</b><b m-if=\"z\">14</b><b m-if=\"(t or f) and (i == 3)\">15</b>"
	    "<b m-if=\"not not t\">16</b><b m-if=\"s ~ i == 'inbox3'\">17</b>"
	    "<b m-if=\"true\">18</b>"
	    "<b m-if=\"false\">19</b><b m-if=\"a == a\">20</b><b m-if=\"r\">21</b>"
	    "<b m-if=\"loop\">22</b><b m-unless=\"f\">23</b><b m-if=\"t\" m-unless=\"t\">24</b>"
	    "</p>",
	    "{\"t\": true, \"f\": false, \"s\": \"inbox\", \"i\": 3, \"n\": null, \"z\": 0,"
	    " \"e\": \"\", \"ea\": [], \"a\": [0], \"r\": 0.0, \"r3\": 3.0}"),
	    "<p><b>1</b><b>2</b><b>4</b><b>6</b><b>7</b><b>9</b><b>10</b><b>13</b><b>15</b>"
	    "<b>16</b><b>17</b><b>18</b><b>20</b><b>23</b></p>"));
}

static void
test_loops(void)
{
	CU_ASSERT(test_equal("loop variables", test_frag_json(
	    "<ul m-fragment=\"f\"><li m-each=\"x in xs\" m-class-first=\"loop.first\" "
	    "m-class-last=\"loop.last\" m-attr-data-i=\"loop.index\" m-attr-data-n=\"loop.length\" "
	    "m-text=\"x.name\">x</li></ul>",
	    "{\"xs\": [{\"name\": \"a\"}, {\"name\": \"b\"}, {\"name\": \"c\"}]}"),
	    "<ul><li class=\"first\" data-i=\"0\" data-n=\"3\">a</li>"
	    "<li data-i=\"1\" data-n=\"3\">b</li>"
	    "<li class=\"last\" data-i=\"2\" data-n=\"3\">c</li></ul>"));
	CU_ASSERT(test_equal("nested", test_frag_json(
	    "<div m-fragment=\"f\"><p m-each=\"r in rows\"><i m-each=\"c in r.cells\">"
	    "<b m-text=\"r.id ~ ':' ~ c ~ '@' ~ loop.index\"></b></i></p></div>",
	    "{\"rows\": [{\"id\": \"r1\", \"cells\": [1, 2]}, {\"id\": \"r2\", \"cells\": []},"
	    " {\"id\": \"r3\", \"cells\": [3]}]}"),
	    "<div><p><i><b>r1:1@0</b></i><i><b>r1:2@1</b></i></p><p></p><p><i><b>r3:3@0</b></i>"
	    "</p></div>"));
	/* Not an array: no iteration. A filter per item with m-if on the same element. */
	CU_ASSERT(test_equal("filter", test_frag_json(
	    "<div m-fragment=\"f\"><i m-each=\"x in o\">o</i><i m-each=\"x in missing\">m</i>"
	    "<b m-each=\"x in xs\" m-if=\"x.keep\" m-text=\"x.v\"></b></div>",
	    "{\"o\": {\"a\": 1}, \"xs\": [{\"v\": 1, \"keep\": true}, {\"v\": 2}, {\"v\": 3, "
	    "\"keep\": true}]}"),
	    "<div><b>1</b><b>3</b></div>"));
	/* An item's name shadows the context's key of the same name inside the loop only. */
	CU_ASSERT(test_equal("shadow", test_frag_json(
	    "<p m-fragment=\"f\"><b m-each=\"x in xs\" m-text=\"x\"></b><i m-text=\"x\"></i></p>",
	    "{\"x\": \"outer\", \"xs\": [\"inner\"]}"), "<p><b>inner</b><i>outer</i></p>"));
}

static void
test_includes(void)
{
	const char *pairs[] = {
		"page.html",
		"<ul m-fragment=\"f\">"
		"<li m-each=\"m in msgs\" m-include=\"row.html\" m-with=\"m\">preview</li>"
		"<li m-include=\"plain.html\"></li>"
		"<li m-each=\"m in msgs\" m-include=\"plain.html\"></li>"
		"<li m-include=\"doc.html\" m-with=\"missing\"></li>"
		"</ul>",
		"row.html", "<li><b m-text=\"subject\"></b> <i m-text=\"title\"></i></li>",
		"plain.html", "Hello <b m-text=\"title\"></b><i m-text=\"m.subject\"></i>",
		"doc.html", "<!DOCTYPE html><html><head><title>partial</title></head>"
		"<body><p>doc <span m-text=\"title\">t</span></p></body></html>",
		NULL
	};
	struct tmpl_set *set = test_load(pairs);
	json_t *ctx = json_pack("{s[{ss}{ss}]ss}", "msgs", "subject", "A", "subject", "B<",
	    "title", "T");

	/* With m-with the partial sees the value alone; without, the caller's whole scope. A
	 * partial that starts with text is not wrapped in a <p>; a whole document gives its
	 * <body>. */
	CU_ASSERT(test_equal("includes", test_render(set, "page.html", "f", ctx),
	    "<ul><li><b>A</b> <i></i></li><li><b>B&lt;</b> <i></i></li>"
	    "Hello <b>T</b><i></i>Hello <b>T</b><i>A</i>Hello <b>T</b><i>B&lt;</i>"
	    "<p>doc <span></span></p></ul>"));
	json_decref(ctx);
	tmpl_set_free(set);
}

static void
test_layout(void)
{
	const char *pairs[] = {
		"layout.html",
		"<!DOCTYPE html>\n<html lang=\"en\"><head><title m-slot=\"title\">Default</title>"
		"<template m-slot=\"head\"><meta name=\"d\" content=\"default\"></template></head>"
		"<body><nav m-include=\"nav.html\"></nav>"
		"<main m-slot=\"content\"><p>none</p></main>"
		"<aside m-slot=\"aside\"><p>aside default</p></aside></body></html>",
		"nav.html",
		"<ul><li m-text=\"user\"></li></ul><footer m-slot=\"footer\">f</footer>",
		"page.html",
		"<!DOCTYPE html>\n<html m-layout=\"layout.html\"><head>"
		"<title m-fill=\"title\" m-text=\"'Inbox (' ~ n ~ ')'\">Inbox</title>"
		"<template m-fill=\"head\"><link rel=\"x\" href=\"/x\"></template></head>"
		"<body><h1>page scaffolding, not rendered</h1>"
		"<div class=\"ignored\" m-fill=\"content\"><p m-fragment=\"f\" m-text=\"user\"></p>"
		"<p>more</p></div><div m-fill=\"footer\">page footer</div></body></html>",
		NULL
	};
	struct tmpl_set *set = test_load(pairs);
	json_t *ctx = json_pack("{sssi}", "user", "Ann", "n", 3);

	CU_ASSERT(test_equal("page", test_render(set, "page.html", NULL, ctx),
	    "<!DOCTYPE html>\n<html lang=\"en\"><head><title>Inbox (3)</title>"
	    "<link rel=\"x\" href=\"/x\"></head><body><ul><li>Ann</li></ul>"
	    "<footer>page footer</footer><main><p>Ann</p><p>more</p></main>"
	    "<aside><p>aside default</p></aside></body></html>\n"));
	CU_ASSERT(test_equal("layout alone", test_render(set, "layout.html", NULL, ctx),
	    "<!DOCTYPE html>\n<html lang=\"en\"><head><title>Default</title>"
	    "<meta name=\"d\" content=\"default\"></head><body><ul><li>Ann</li></ul>"
	    "<footer>f</footer><main><p>none</p></main><aside><p>aside default</p></aside>"
	    "</body></html>\n"));
	CU_ASSERT(test_equal("fragment of a page with a layout",
	    test_render(set, "page.html", "f", ctx), "<p>Ann</p>"));
	json_decref(ctx);
	tmpl_set_free(set);
}

/* A fill that includes a partial holding the same slot must not render itself forever. */
static void
test_layout_no_recursion(void)
{
	const char *pairs[] = {
		"layout.html", "<main m-slot=\"content\">layout default</main>",
		"x.html", "<section m-slot=\"content\">x default</section>",
		"page.html", "<html m-layout=\"layout.html\"><body><div m-fill=\"content\">"
		"<p>fill</p><div m-include=\"x.html\"></div></div></body></html>",
		NULL
	};
	struct tmpl_set *set = test_load(pairs);

	CU_ASSERT(test_equal("page", test_render(set, "page.html", NULL, NULL),
	    "<!DOCTYPE html>\n<html><body><main><p>fill</p><section>x default</section></main>"
	    "</body></html>\n"));
	tmpl_set_free(set);
}

static void
test_fragments(void)
{
	const char *pairs[] = {
		"page.html",
		"<!DOCTYPE html>\n<html><body><h1 m-text=\"title\"></h1>"
		"<ul id=\"rows\" m-fragment=\"rows\"><li m-each=\"r in rows\" m-fragment=\"items\" "
		"m-attr-data-i=\"loop.index\"><span m-fragment=\"row\" m-text=\"r\"></span>"
		"</li></ul>"
		"<p m-fragment=\"gone\" m-if=\"missing\">x</p></body></html>",
		NULL
	};
	struct tmpl_set *set = test_load(pairs);
	json_t *ctx = json_pack("{sss[ss]s{}}", "title", "T", "rows", "a", "b", "r");
	struct buf out;
	char err[128];

	CU_ASSERT(tmpl_has(set, "page.html", NULL));
	CU_ASSERT(tmpl_has(set, "page.html", "rows"));
	CU_ASSERT(!tmpl_has(set, "page.html", "nope"));
	CU_ASSERT(!tmpl_has(set, "nope.html", NULL));
	CU_ASSERT(test_equal("rows", test_render(set, "page.html", "rows", ctx),
	    "<ul id=\"rows\"><li data-i=\"0\"><span>a</span></li>"
	    "<li data-i=\"1\"><span>b</span></li></ul>"));
	/* On the m-each element, a fragment is the whole loop. */
	CU_ASSERT(test_equal("items", test_render(set, "page.html", "items", ctx),
	    "<li data-i=\"0\"><span>a</span></li><li data-i=\"1\"><span>b</span></li>"));
	/* Inside the loop, alone: the item comes from the context by its name. */
	json_object_set_new(ctx, "r", json_string("one row"));
	CU_ASSERT(test_equal("row", test_render(set, "page.html", "row", ctx),
	    "<span>one row</span>"));
	CU_ASSERT(test_equal("gone", test_render(set, "page.html", "gone", ctx), ""));
	CU_ASSERT(test_equal("page", test_render(set, "page.html", NULL, ctx),
	    "<!DOCTYPE html>\n<html><body><h1>T</h1><ul id=\"rows\"><li data-i=\"0\">"
	    "<span>a</span></li><li data-i=\"1\"><span>b</span></li></ul></body></html>\n"));

	buf_init(&out, test_arena);
	buf_puts(&out, "kept");
	CU_ASSERT_EQUAL(tmpl_render(set, "page.html", "nope", ctx, &out, err, sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "nope"));
	CU_ASSERT_EQUAL(tmpl_render(set, "nope.html", NULL, ctx, &out, err, sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "nope.html"));
	CU_ASSERT_STRING_EQUAL(out.data, "kept");
	json_decref(ctx);
	tmpl_set_free(set);
}

static void
test_text_details(void)
{
	/* A leading newline in <pre> and <textarea> is doubled, since parsers drop one. */
	CU_ASSERT(test_equal("pre", test_frag_json(
	    "<div m-fragment=\"f\"><pre m-text=\"s\"></pre><textarea m-text=\"s\"></textarea>"
	    "<p m-text=\"s\"></p></div>", "{\"s\": \"\\nx\"}"),
	    "<div><pre>\n\nx</pre><textarea>\n\nx</textarea><p>\nx</p></div>"));
	/* Static parts: entities decoded by the parser are serialized again, comments go,
	 * boolean attributes stay as written, placeholders give way to directives. */
	CU_ASSERT(test_equal("static", test_frag_json(
	    "<p m-fragment=\"f\" title=\"a &amp; &quot;b&quot; 'c'\" hidden data-e=\"\">"
	    "&lt;&amp;&gt; &copy;<!-- note --><a href=\"#\" m-attr-href=\"u\">x</a>"
	    "<input disabled value=\"v\" m-attr-value=\"u\"></p>", "{\"u\": \"/u\"}"),
	    "<p title=\"a &amp; &quot;b&quot; &#39;c&#39;\" hidden data-e=\"\">&lt;&amp;&gt; "
	    "\xc2\xa9<a href=\"/u\">x</a><input disabled value=\"/u\"></p>"));
}

/* --- Load errors ------------------------------------------------------------------- */

static const char test_manifest[] = "{\"css/app.css\": \"css/app.3f2a91c0.css\"}";

static void
test_load_errors(void)
{
	static const struct {
		const char *file;
		int line;
		const char *reason;
	} cases[] = {
		{ "parse-error.html", 3,
		    "attribute value never closed (libxml2, at line 6: AttValue" },
		{ "unknown-directive.html", 3, "unknown directive m-frobnicate" },
		{ "unknown-partial.html", 3, "m-include=\"partials/nope.html\": unknown partial" },
		{ "attr-onclick.html", 3, "m-attr-onclick: event handler attributes run script" },
		{ "attr-style.html", 2, "m-attr-style: style cannot come from data" },
		{ "text-in-script.html", 5, "<script> takes no directive" },
		{ "directive-in-script.html", 3, "directives inside <script> are not processed" },
		{ "duplicate-fragment.html", 5, "m-fragment=\"list\" is already a fragment" },
		{ "bad-expression.html", 3,
		    "m-if=\"user.role ==\": expected a value at column 13" },
		{ "unclosed-string.html", 2, "m-if=\"user.role == 'admin\": unterminated string" },
		{ "each-syntax.html", 3, "m-each=\"item of items\": expected \"in\"" },
		{ "unknown-layout.html", 2, "m-layout=\"nope.html\": unknown layout" },
		{ "attr-srcset.html", 2, "m-attr-srcset: srcset holds several URLs" },
		{ "attr-hx-on.html", 2, "m-attr-hx-on:click: htmx may run" },
		{ "attr-alpine.html", 2, "m-attr-x-data: Alpine evaluates" },
		{ "json-on-div.html", 2, "m-json belongs on <script type=\"application/json\">" },
		{ "fill-without-layout.html", 2, "m-fill=\"content\" without m-layout" },
		{ "void-content.html", 3, "<source> is a void element but content was parsed" },
		{ "unknown-asset.html", 2, "m-static-href=\"css/nope.css\": unknown asset" },
		{ "style-directive.html", 4, "<style> takes no directive" },
		{ "with-alone.html", 2, "m-with needs m-include" },
		{ "element-in-title.html", 4, "<title> holds text only" },
		{ "text-and-html.html", 2,
		    "m-text, m-html, m-json and m-slot each give the content" },
		{ "dead-directive.html", 3, "m-text is inside an element whose content m-text" },
	};

	for (size_t i = 0; i < MR_ARRAY_LEN(cases); i++) {
		const char *name = arena_printf(test_arena, "broken/%s", cases[i].file);
		const char *want = arena_printf(test_arena, "%s:%d: %s", name, cases[i].line,
		    cases[i].reason);
		size_t len;
		const char *text = test_read(test_path(name), &len);
		const char *pairs[] = { name, text, "static/manifest.json", test_manifest, NULL };
		const char *err = test_load_error(pairs);

		if (strncmp(err, want, strlen(want)) != 0) {
			fprintf(stderr, "\n%s:\n  got:  %s\n  want: %s...\n", cases[i].file, err,
			    want);
			CU_FAIL("wrong load error");
		}
	}
}

static void
test_load_errors_more(void)
{
	const char *cycle[] = {
		"a.html", "<p>a</p>\n<div m-include=\"b.html\"></div>",
		"b.html", "<p>b</p>\n\n<div m-include=\"a.html\"></div>", NULL
	};
	const char *self[] = { "a.html", "<div m-include=\"a.html\"></div>", NULL };
	const char *slot[] = {
		"l.html", "<main m-slot=\"content\"></main>",
		"p.html", "<!DOCTYPE html>\n<html m-layout=\"l.html\">\n<body>\n"
		"<div m-fill=\"contnet\">x</div></body></html>", NULL
	};
	const char *nested[] = {
		"l1.html", "<html m-layout=\"l2.html\"><body></body></html>",
		"l2.html", "<main m-slot=\"c\"></main>",
		"p.html", "<html m-layout=\"l1.html\"><body></body></html>", NULL
	};
	const char *no_manifest[] = { "a.html", "<link rel=\"x\" m-static-href=\"a.css\">", NULL };
	const char *bad_manifest[] = {
		"a.html", "<p>x</p>", "static/manifest.json", "{\"a\": ", NULL
	};
	const char *fill_in_if[] = {
		"l.html", "<main m-slot=\"c\"></main>",
		"p.html", "<html m-layout=\"l.html\"><body><div m-if=\"x\">\n"
		"<div m-fill=\"c\"></div></div></body></html>", NULL
	};
	const char *on_body[] = { "a.html", "<html><body m-if=\"x\"></body></html>", NULL };
	const char *meta[] = {
		"a.html", "<html><head><meta http-equiv=\"refresh\" m-attr-content=\"x\"></head>"
		"</html>", NULL
	};
	const char *badname[] = { "a.txt", "x", NULL };
	const char *invalid_utf8[] = { "a.html", "<p>\n\xff</p>", NULL };
	const char *deep[] = {
		"a.html", "<p m-if=\"((((((((((((((((((((((((((((((((((x"
		"))))))))))))))))))))))))))))))))))\"></p>", NULL
	};
	const char *include_layout[] = {
		"l.html", "<main m-slot=\"c\"></main>",
		"p.html", "<html m-layout=\"l.html\"><body></body></html>",
		"q.html", "<div m-include=\"p.html\"></div>", NULL
	};
	const char *extra_text[] = { "a.html", "<p m-text=\"a b\"></p>", NULL };
	const char *keyword[] = { "a.html", "<p m-each=\"loop in xs\"></p>", NULL };
	const char *prefixed[] = { "a.html", "<p>\n<x:script>alert(1)</x:script></p>", NULL };
	const char *stray[] = { "a.html", "<!DOCTYPE html><html><head><", NULL };
	const char *digit[] = { "a.html", "<img alt=\"\" m-attr-0src=\"u\">", NULL };
	const char *mname[] = { "a.html", "<p m-attr-m-if=\"u\"></p>", NULL };
	const char *control[] = { "a.html", "<div onclick=a\x19" "b>x</div>", NULL };

	CU_ASSERT_PTR_NOT_NULL(strstr(test_load_error(cycle), "b.html:3: m-include=\"a.html\""));
	CU_ASSERT_PTR_NOT_NULL(strstr(test_load_error(cycle), "makes an include cycle"));
	CU_ASSERT_PTR_NOT_NULL(strstr(test_load_error(self), "a.html:1: m-include=\"a.html\" "
	    "makes an include cycle"));
	CU_ASSERT(test_equal("slot", test_load_error(slot),
	    "p.html:4: m-fill=\"contnet\": l.html has no such slot"));
	CU_ASSERT_PTR_NOT_NULL(strstr(test_load_error(nested), "layouts do not nest"));
	CU_ASSERT_PTR_NOT_NULL(strstr(test_load_error(no_manifest),
	    "a.html:1: m-static-href=\"a.css\": no asset manifest"));
	CU_ASSERT_PTR_NOT_NULL(strstr(test_load_error(bad_manifest), "static/manifest.json:1: "));
	CU_ASSERT_PTR_NOT_NULL(strstr(test_load_error(fill_in_if),
	    "p.html:2: m-fill=\"c\" inside"));
	CU_ASSERT_PTR_NOT_NULL(strstr(test_load_error(on_body), "<body> takes only"));
	CU_ASSERT_PTR_NOT_NULL(strstr(test_load_error(meta), "<meta http-equiv>"));
	CU_ASSERT_PTR_NOT_NULL(strstr(test_load_error(badname), "ends in .html"));
	CU_ASSERT_PTR_NOT_NULL(strstr(test_load_error(invalid_utf8), "a.html:2: Input is not "
	    "proper UTF-8"));
	CU_ASSERT_PTR_NOT_NULL(strstr(test_load_error(deep), "nested too deeply"));
	CU_ASSERT_PTR_NOT_NULL(strstr(test_load_error(include_layout), "q.html:1: m-include="
	    "\"p.html\": that template uses m-layout"));
	CU_ASSERT_PTR_NOT_NULL(strstr(test_load_error(extra_text), "unexpected text at column 3"));
	CU_ASSERT_PTR_NOT_NULL(strstr(test_load_error(keyword), "cannot be named after"));
	/* Found by fuzzing: each would not read back as it was written. */
	CU_ASSERT_PTR_NOT_NULL(strstr(test_load_error(prefixed), "a.html:2: <x:script>: element "
	    "names with a prefix"));
	CU_ASSERT_PTR_NOT_NULL(strstr(test_load_error(stray), "text directly inside <head>"));
	CU_ASSERT_PTR_NOT_NULL(strstr(test_load_error(digit), "m-attr-0src: is not an attribute"));
	CU_ASSERT_PTR_NOT_NULL(strstr(test_load_error(mname), "m- names are directives"));
	CU_ASSERT_PTR_NOT_NULL(strstr(test_load_error(control), "control character in the value "
	    "of onclick"));
}

static void
test_load_dir_errors(void)
{
	struct tmpl_set *set = NULL;
	char err[512];
	const char *dir = test_path("broken");
	const char *want = arena_printf(test_arena, "%s/parse-error.html:3: ", dir);

	/* Every file is parsed before any is compiled: the parse error comes first. */
	CU_ASSERT_EQUAL(tmpl_set_load(dir, &set, err, sizeof(err)), -1);
	CU_ASSERT_PTR_NULL(set);
	CU_ASSERT(strncmp(err, want, strlen(want)) == 0);
	CU_ASSERT_EQUAL(tmpl_set_load(test_path("nope"), &set, err, sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "nope"));
}

/* --- The template tree, parsed back -------------------------------------------------- */

struct test_parse {
	char why[256];
	int errors;
};

static void
test_parse_error(void *data, xmlErrorPtr e)
{
	xmlParserCtxtPtr ctxt = data;
	struct test_parse *tp = ctxt->_private;

	/* libxml2 2.9 reports HTML5 elements as unknown tags; anything else is a failure. */
	if (e->level < XML_ERR_ERROR || e->code == XML_HTML_UNKNOWN_TAG)
		return;
	if (tp->errors++ == 0)
		snprintf(tp->why, sizeof(tp->why), "line %d: %s", e->line, e->message);
}

static xmlDocPtr
test_parse_html(const char *html, size_t len, struct test_parse *tp)
{
	htmlParserCtxtPtr ctxt = htmlCreateMemoryParserCtxt(html, (int)len);
	xmlDocPtr doc;

	memset(tp, 0, sizeof(*tp));
	CU_ASSERT_PTR_NOT_NULL_FATAL(ctxt);
	ctxt->_private = tp;
	ctxt->sax->serror = test_parse_error;
	ctxt->sax->initialized = XML_SAX2_MAGIC;
	htmlCtxtUseOptions(ctxt, HTML_PARSE_NONET);
	xmlSwitchEncoding(ctxt, XML_CHAR_ENCODING_UTF8);
	htmlParseDocument(ctxt);
	doc = ctxt->myDoc;
	ctxt->myDoc = NULL;
	htmlFreeParserCtxt(ctxt);
	return doc;
}

/* No directive left, no event handler, no script from the context. */
static int
test_tree_clean(xmlNodePtr n, char *why, size_t whylen)
{
	for (; n != NULL; n = n->next) {
		if (n->type != XML_ELEMENT_NODE)
			continue;
		for (xmlAttrPtr a = n->properties; a != NULL; a = a->next) {
			const char *an = (const char *)a->name;

			if (strncmp(an, "m-", 2) == 0 || strncmp(an, "on", 2) == 0) {
				snprintf(why, whylen, "attribute %s on <%s>", an,
				    (const char *)n->name);
				return 0;
			}
		}
		/* Every script in context.json calls alert(). */
		if (strcmp((const char *)n->name, "script") == 0) {
			xmlChar *text = xmlNodeGetContent(n);
			int bad = text != NULL && strstr((const char *)text, "alert(") != NULL &&
			    strstr((const char *)text, "\\u003cscript") == NULL;

			xmlFree(text);
			if (bad) {
				snprintf(why, whylen, "a script from the context");
				return 0;
			}
		}
		if (!test_tree_clean(n->children, why, whylen))
			return 0;
	}
	return 1;
}

static void
test_check_output(const char *what, const char *html)
{
	struct test_parse tp;
	xmlDocPtr doc = test_parse_html(html, strlen(html), &tp);
	char why[256] = "";

	if (tp.errors > 0) {
		fprintf(stderr, "\n%s: %d parse errors, first %s\n%s\n", what, tp.errors,
		    tp.why, html);
		CU_FAIL("rendered template does not parse back cleanly");
	}
	CU_ASSERT_PTR_NOT_NULL(doc);
	if (doc != NULL && !test_tree_clean(xmlDocGetRootElement(doc), why, sizeof(why))) {
		fprintf(stderr, "\n%s: %s\n", what, why);
		CU_FAIL("rendered template holds a directive or a script");
	}
	xmlFreeDoc(doc);
}

static void
test_good_tree(void)
{
	static const char *const fragments[][2] = {
		{ "pages/inbox.html", "rows" },
		{ "pages/inbox.html", "pager" },
		{ "pages/message.html", "message" },
	};
	struct tmpl_set *set = NULL;
	char err[512];
	json_t *ctx = test_context();
	const char *name;
	size_t i;

	if (tmpl_set_load(test_path("good"), &set, err, sizeof(err)) == -1) {
		fprintf(stderr, "\n%s\n", err);
		CU_FAIL_FATAL("t/unit/tmpl/good does not load");
	}
	for (i = 0; (name = tmpl_set_name(set, i)) != NULL; i++) {
		const char *html = test_render(set, name, NULL, ctx);

		CU_ASSERT(strncmp(html, "<!DOCTYPE html>\n<html", 21) == 0);
		test_check_output(name, html);
	}
	CU_ASSERT_EQUAL(i, 7);
	for (i = 0; i < MR_ARRAY_LEN(fragments); i++) {
		const char *html = test_render(set, fragments[i][0], fragments[i][1], ctx);
		const char *what = arena_printf(test_arena, "%s#%s", fragments[i][0],
		    fragments[i][1]);

		CU_ASSERT(*html == '<');
		test_check_output(what, html);
	}

	/* Spot checks of the rich page: the layout, a nested include with m-with, values. */
	name = test_render(set, "pages/inbox.html", NULL, NULL);
	CU_ASSERT_PTR_NOT_NULL(strstr(name, "<title>Inbox \xc2\xb7 mailroom</title>"));
	CU_ASSERT_PTR_NOT_NULL(strstr(name, "<p class=\"empty\">Nothing here.</p>"));
	name = test_render(set, "pages/inbox.html", NULL, ctx);
	CU_ASSERT_PTR_NOT_NULL(strstr(name, "<link rel=\"stylesheet\" "
	    "href=\"/static/css/app.3f2a91c0.css\">"));
	CU_ASSERT_PTR_NOT_NULL(strstr(name, "<meta name=\"robots\" content=\"noindex\">\n</head>"));
	CU_ASSERT_PTR_NOT_NULL(strstr(name, "<body class=\"layout signed-in\">"));
	CU_ASSERT_PTR_NOT_NULL(strstr(name, "<a href=\"/inbox/to-respond\" class=\"current\" "
	    "aria-current=\"true\">"));
	CU_ASSERT_PTR_NOT_NULL(strstr(name, "<tr class=\"unread\" data-id=\"101\">"));
	CU_ASSERT_PTR_NOT_NULL(strstr(name, "<a href=\"/messages/x%2F..%2Fy%3Fz%3D1\">"));
	CU_ASSERT_PTR_NOT_NULL(strstr(name, "<span class=\"chip chip-fyi&quot; "
	    "onmouseover=&quot;x\">FYI</span>"));
	CU_ASSERT_PTR_NOT_NULL(strstr(name,
	    "<li class=\"current\"><a href=\"/inbox?page=2\">1</a>"));
	CU_ASSERT_PTR_NULL(strstr(name, "<script>alert"));
	CU_ASSERT_PTR_NULL(strstr(name, "Nothing here"));
	name = test_render(set, "pages/message.html", NULL, ctx);
	CU_ASSERT_PTR_NOT_NULL(strstr(name, "<a href=\"#\">link</a>"));
	CU_ASSERT_PTR_NOT_NULL(strstr(name, "<option value=\"fyi\" selected>"));
	CU_ASSERT_PTR_NOT_NULL(strstr(name, "<input type=\"checkbox\" name=\"archive\" checked>"));
	CU_ASSERT_PTR_NOT_NULL(strstr(name,
	    "<button type=\"submit\" hx-post=\"/messages/101/send\""));
	/* m-html goes through the sanitizer: the script goes, the text stays. */
	CU_ASSERT_PTR_NOT_NULL(strstr(name, "Hi "));
	CU_ASSERT_PTR_NOT_NULL(strstr(name, "there"));
	CU_ASSERT_PTR_NULL(strstr(name, "<script>alert"));
	CU_ASSERT_PTR_NULL(strstr(name, "javascript:alert(2)\""));
	json_decref(ctx);
	tmpl_set_free(set);
}

/* A template without directives comes out as libxml2 serializes its tree. */
static void
test_matches_libxml2(void)
{
	struct tmpl_set *set = NULL;
	char err[512];
	const char *mine, *path = test_path("good/pages/static.html");
	xmlBufferPtr xb = xmlBufferCreate();
	xmlOutputBufferPtr ob = xmlOutputBufferCreateBuffer(xb, NULL);
	struct test_parse tp;
	size_t len;
	const char *text = test_read(path, &len);
	xmlDocPtr doc = test_parse_html(text, len, &tp);
	const char *theirs;

	CU_ASSERT_EQUAL_FATAL(tmpl_set_load(test_path("good"), &set, err, sizeof(err)), 0);
	mine = test_render(set, "pages/static.html", NULL, NULL);
	CU_ASSERT_EQUAL(tp.errors, 0);
	htmlNodeDumpFormatOutput(ob, doc, xmlDocGetRootElement(doc), "UTF-8", 0);
	xmlOutputBufferClose(ob);
	theirs = arena_printf(test_arena, "<!DOCTYPE html>\n%s\n",
	    (const char *)xmlBufferContent(xb));
	CU_ASSERT(test_equal("static.html", mine, theirs));
	xmlBufferFree(xb);
	xmlFreeDoc(doc);
	tmpl_set_free(set);
}

/* --- Threads ----------------------------------------------------------------------- */

struct test_thread {
	const struct tmpl_set *set;
	const json_t *ctx;
	const char *want;
	int bad;
};

static void *
test_thread_main(void *arg)
{
	struct test_thread *tt = arg;
	struct arena *a = arena_new(64 * 1024);
	char err[128];

	for (int i = 0; i < 200; i++) {
		struct buf out;

		buf_init(&out, a);
		if (tmpl_render(tt->set, "pages/inbox.html", NULL, tt->ctx, &out, err,
		    sizeof(err)) == -1 || strcmp(out.data, tt->want) != 0)
			tt->bad++;
		arena_reset(a);
	}
	arena_free(a);
	return NULL;
}

static void
test_threads(void)
{
	struct tmpl_set *set = NULL;
	char err[512];
	json_t *ctx = test_context();
	struct test_thread tt[4];
	pthread_t th[4];

	CU_ASSERT_EQUAL_FATAL(tmpl_set_load(test_path("good"), &set, err, sizeof(err)), 0);
	for (int i = 0; i < 4; i++) {
		tt[i].set = set;
		tt[i].ctx = ctx;
		tt[i].want = test_render(set, "pages/inbox.html", NULL, ctx);
		tt[i].bad = 0;
		CU_ASSERT_EQUAL_FATAL(pthread_create(&th[i], NULL, test_thread_main, &tt[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		CU_ASSERT_EQUAL(tt[i].bad, 0);
	}
	json_decref(ctx);
	tmpl_set_free(set);
}

int
main(void)
{
	static const struct unit_test tests[] = {
		{ "the nasty string in text, attribute and URL positions", test_nasty_string },
		{ "URL attributes allow http, https, mailto and relative URLs", test_urls },
		{ "tmpl_safe_url directly", test_safe_url },
		{ "values joined into URLs are percent-encoded", test_url_concat },
		{ "m-json cannot close its script", test_json_block },
		{ "invalid UTF-8 and controls become U+FFFD", test_invalid_bytes },
		{ "the escapers against a reference, random values", test_escape_random },
		{ "values: numbers, booleans, null, attributes, classes", test_values },
		{ "expressions: not, and, or, ==, !=, ~, literals", test_expressions },
		{ "loops and their variables", test_loops },
		{ "includes with and without m-with", test_includes },
		{ "layouts fill their slots", test_layout },
		{ "a fill does not recurse through a partial's slot", test_layout_no_recursion },
		{ "fragments render alone", test_fragments },
		{ "pre, textarea and static content", test_text_details },
		{ "load errors name file and line", test_load_errors },
		{ "more load errors", test_load_errors_more },
		{ "load errors from a directory", test_load_dir_errors },
		{ "every template renders and parses back cleanly", test_good_tree },
		{ "static content matches libxml2's serializer", test_matches_libxml2 },
		{ "one set, four threads", test_threads },
		{ NULL, NULL }
	};
	int rc;

	test_arena = arena_new(1 << 20);
	rc = unit_run("tmpl", tests);
	arena_free(test_arena);
	xmlCleanupParser();
	return rc;
}
