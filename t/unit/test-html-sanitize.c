/* test-html-sanitize.c: the email body sanitizer: exact output for each rule of the policy
 * (doc/sanitizer.md), the escaper, URLs and CSS alone, limits, and the XSS corpus of t/xss/
 * checked through libxml2 and for idempotence. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "html-check.h"
#include "html-sanitize.h"
#include "unit.h"

static struct arena *test_arena;

static const char *
sanitize_stats(const char *html, size_t len, int allow_remote, struct html_sanitize_stats *stats)
{
	struct html_sanitize_opts opts = { allow_remote };
	struct buf out;

	buf_init(&out, test_arena);
	if (html_sanitize_fragment_stats(test_arena, html, len, &opts, &out, stats) != 0)
		return "(parse failure)";
	return out.data;
}

static const char *
sanitize(const char *html)
{
	return sanitize_stats(html, strlen(html), 0, NULL);
}

/* Compares the output for in with want, names both on failure, and checks that the output
 * is a fixed point. */
static void
expect_at(const char *in, size_t len, int allow_remote, const char *want, int line)
{
	const char *got = sanitize_stats(in, len, allow_remote, NULL), *again;
	int ok = strcmp(got, want) == 0;

	if (!ok)
		fprintf(stderr, "\nline %d: input   %s\n"
		    "         want    %s\n         got     %s\n", line, in, want, got);
	CU_assertImplementation(ok, (unsigned)line, "sanitized output", __FILE__, "", CU_FALSE);
	again = sanitize_stats(got, strlen(got), allow_remote, NULL);
	ok = strcmp(again, got) == 0;
	if (!ok)
		fprintf(stderr, "\nline %d: not idempotent\n"
		    "         once    %s\n         twice   %s\n", line, got, again);
	CU_assertImplementation(ok, (unsigned)line, "idempotent", __FILE__, "", CU_FALSE);
}

#define EXPECT(in, want) expect_at((in), strlen(in), 0, (want), __LINE__)
/* For inputs with NUL bytes: in must be a string literal. */
#define EXPECT_LIT(in, want) expect_at((in), sizeof(in) - 1, 0, (want), __LINE__)
#define EXPECT_REMOTE(in, want) expect_at((in), strlen(in), 1, (want), __LINE__)

static void
test_escape(void)
{
	struct buf b;

	buf_init(&b, test_arena);
	html_sanitize_escape(&b, "\0\"&'<>", 6);
	CU_ASSERT_EQUAL(b.len, strlen("\xef\xbf\xbd&quot;&amp;&#39;&lt;&gt;"));
	CU_ASSERT_STRING_EQUAL(b.data, "\xef\xbf\xbd&quot;&amp;&#39;&lt;&gt;");
	b.len = 0;
	html_sanitize_escape(&b, "plain text é", strlen("plain text é"));
	CU_ASSERT_STRING_EQUAL(b.data, "plain text é");
	/* The same string through text and attribute positions of a whole body. */
	EXPECT_LIT("<p title=\"&quot;&amp;'&lt;&gt;\">\0\"&amp;'&lt;&gt;</p>",
	    "<p title=\"&quot;&amp;&#39;&lt;&gt;\">"
	    "\xef\xbf\xbd&quot;&amp;&#39;&lt;&gt;</p>");
}

static void
test_text_and_fragments(void)
{
	EXPECT("", "");
	EXPECT("hello", "hello");
	EXPECT("hello <b>world</b>", "hello <b>world</b>");
	EXPECT("a & b < c > d", "a &amp; b &lt; c &gt; d");
	EXPECT("  leading and trailing  ", "  leading and trailing  ");
	EXPECT("<p>one<p>two", "<p>one</p><p>two</p>");
	EXPECT("<ul><li>a<li>b</ul>", "<ul><li>a</li><li>b</li></ul>");
	EXPECT("<b><i>x</b>y</i>", "<b><i>x</i></b>y");
	EXPECT("line<br>break<br/>again<hr>", "line<br>break<br>again<hr>");
	EXPECT("<pre>  keep\n  spaces</pre>", "<pre>  keep\n  spaces</pre>");
	EXPECT("&eacute;&#233;&#xe9;&nbsp;&unknown;", "ééé\xc2\xa0&amp;unknown;");
}

static void
test_documents(void)
{
	EXPECT("<!DOCTYPE html><html><head><title>Subject</title><meta charset=\"utf-8\">"
	    "<style>p { color: red }</style><base href=\"https://evil.example/\"></head>"
	    "<body bgcolor=red onload=\"alert(1)\"><p>Hi</p></body></html>",
	    "<p>Hi</p>");
	EXPECT("<html><body>a</body></html>b", "ab");
	EXPECT("<body>a</body>after body", "aafter body");
	EXPECT("<body>a</body></html>after html", "a<p>after html</p>");
	EXPECT("<?xml version=\"1.0\"?><p>x</p>", "<p>x</p>");
}

static void
test_dropped_elements(void)
{
	static const char *const dropped[] = {
		"<script>alert(1)</script>", "<script src=\"https://x.example/a.js\"></script>",
		"<style>b { color: red }</style>", "<iframe src=\"https://x.example/\">f</iframe>",
		"<object data=\"x.swf\">o</object>", "<embed src=\"x.swf\">",
		"<applet code=\"x\">a</applet>", "<form action=\"https://x.example/\">f</form>",
		"<input value=\"v\">", "<button>b</button>", "<select><option>o</option></select>",
		"<textarea>t</textarea>", "<meta http-equiv=\"refresh\" content=\"0\">",
		"<link rel=\"stylesheet\" href=\"https://x.example/a.css\">",
		"<base href=\"https://x.example/\">", "<title>t</title>", "<svg><g>s</g></svg>",
		"<math><mi>m</mi></math>", "<template>t</template>", "<noscript>n</noscript>",
		"<audio src=\"a.mp3\">a</audio>", "<video src=\"v.mp4\">v</video>",
		"<canvas>c</canvas>", "<frameset><frame src=\"x\"></frameset>", "<xmp>x</xmp>",
		"<source src=\"x\"><track src=\"y\"><param name=\"p\"><keygen><wbr>",
		"<noembed>n</noembed>", "<noframes>n</noframes>",
		NULL
	};
	static const char two[] = "<script>1</script><iframe></iframe>x";
	struct html_sanitize_stats stats;

	for (size_t i = 0; dropped[i] != NULL; i++) {
		char *in = arena_printf(test_arena, "[%s]", dropped[i]);

		expect_at(in, strlen(in), 0, "[]", __LINE__);
	}
	/* Void in HTML: what follows them is not theirs. */
	EXPECT("<embed src=\"x.swf\">after<input>text", "aftertext");
	/* <plaintext> takes the rest of the document, for libxml2 as for a browser. */
	EXPECT("a<plaintext><b>p</b>", "a");
	sanitize_stats(two, sizeof(two) - 1, 0, &stats);
	CU_ASSERT_EQUAL(stats.dropped_elements, 2);
}

static void
test_unwrapped_and_renamed(void)
{
	EXPECT("<custom-element onclick=\"alert(1)\"><b>x</b></custom-element>", "<b>x</b>");
	EXPECT("<marquee>m</marquee><blink>b</blink><nobr>n</nobr>", "mbn");
	EXPECT("<label>l</label><fieldset><legend>g</legend>f</fieldset>", "lgf");
	EXPECT("<section><header>h</header><article>a</article></section>",
	    "<div><div>h</div><div>a</div></div>");
	EXPECT("<main><nav>n</nav></main><aside>s</aside><footer>f</footer>",
	    "<div><div>n</div></div><div>s</div><div>f</div>");
	EXPECT("<acronym title=\"t\">a</acronym>", "<abbr title=\"t\">a</abbr>");
	EXPECT("<listing>l</listing><menu><li>m</li></menu><dir><li>d</li></dir>",
	    "<pre>l</pre><ul><li>m</li></ul><ul><li>d</li></ul>");
}

static void
test_comments_and_others(void)
{
	EXPECT("a<!-- comment -->b", "ab");
	EXPECT("a<!--<script>alert(1)</script>-->b", "ab");
	EXPECT("a<?php echo 1; ?>b", "ab");
	/* HTML has no CDATA sections outside SVG and MathML: libxml2 reads text. */
	EXPECT("a<![CDATA[<b>x</b>]]>b", "a&lt;![CDATA[<b>x</b>]]&gt;b");
	EXPECT("<!--[if gte mso 9]><xml><o:OfficeDocumentSettings/></xml><![endif]-->x", "x");
}

static void
test_attributes(void)
{
	EXPECT("<p id=\"x\" name=\"n\" class=\"fixed inset-0\" onclick=\"alert(1)\" "
	    "data-x=\"1\" tabindex=\"1\" accesskey=\"k\">p</p>", "<p>p</p>");
	/* Emitted in a fixed order, whatever the input's. */
	EXPECT("<div title=\"t\" lang=\"en-GB\" dir=\"RTL\" align=\"Center\">x</div>",
	    "<div align=\"center\" dir=\"rtl\" lang=\"en-GB\" title=\"t\">x</div>");
	EXPECT("<div dir=\"sideways\" lang=\"en_GB!\" align=\"javascript:x\">x</div>",
	    "<div>x</div>");
	EXPECT("<div ONCLICK=\"a\" OnMouseOver=\"b\" onfocus = \"c\" on=\"d\">x</div>",
	    "<div>x</div>");
	EXPECT("<span title=\"javascript:alert(1)\">x</span><span title=\"java script:\">y"
	    "</span>", "<span>x</span><span>y</span>");
	EXPECT("<table width=\"100%\" height=\"20px\" border=\"1\" cellpadding=\"2\" "
	    "cellspacing=\"0\" bgcolor=\"#FFF\" align=\"center\" "
	    "background=\"https://t.example/p\">"
	    "<tr valign=\"top\" height=\"10\"><td width=\"50.5\" colspan=\"2\" rowspan=\"1\" "
	    "nowrap bgcolor=\"red\">c</td><th scope=\"col\">h</th></tr></table>",
	    "<table width=\"100%\" height=\"20px\" align=\"center\" bgcolor=\"#FFF\" "
	    "border=\"1\" cellpadding=\"2\" cellspacing=\"0\"><tr height=\"10\" valign=\"top\">"
	    "<td width=\"50.5\" colspan=\"2\" rowspan=\"1\" bgcolor=\"red\" nowrap=\"nowrap\">c"
	    "</td><th scope=\"col\">h</th></tr></table>");
	EXPECT("<td width=\"100%;x:expression(1)\" colspan=\"99999\" bgcolor=\"red;x\">c</td>",
	    "<td>c</td>");
	EXPECT("<font color=\"#ff0000\" face=\"Comic Sans MS, sans-serif\" size=\"+2\">f</font>",
	    "<font color=\"#ff0000\" face=\"Comic Sans MS, sans-serif\" size=\"+2\">f</font>");
	EXPECT("<font color=\"red;background:url(x)\" face=\"x;y\" size=\"9\">f</font>",
	    "<font>f</font>");
	EXPECT("<ol start=\"-3\" type=\"A\"><li type=\"i\">x</li></ol><ul type=\"square\"></ul>",
	    "<ol start=\"-3\" type=\"A\"><li type=\"i\">x</li></ol><ul type=\"square\"></ul>");
	EXPECT("<ol start=\"1;x\" type=\"javascript:x\"></ol>", "<ol></ol>");
	EXPECT("<details open ontoggle=\"alert(1)\"><summary>s</summary>d</details>",
	    "<details open=\"open\"><summary>s</summary>d</details>");
	EXPECT("<time datetime=\"2024-01-02\">t</time>",
	    "<time datetime=\"2024-01-02\">t</time>");
}

static void
test_links(void)
{
	const char *rel = " rel=\"noopener noreferrer nofollow\" target=\"_blank\"";

	EXPECT("<a href=\"https://example.com/a?b=1&amp;c=2#d\">x</a>",
	    arena_printf(test_arena, "<a href=\"https://example.com/a?b=1&amp;c=2#d\"%s>x</a>",
	    rel));
	EXPECT("<a href=\"HTTP://EXAMPLE.COM/\" target=\"_self\" rel=\"opener\">x</a>",
	    arena_printf(test_arena, "<a href=\"HTTP://EXAMPLE.COM/\"%s>x</a>", rel));
	EXPECT("<a href=\"mailto:a@example.com?subject=hi\">m</a>",
	    arena_printf(test_arena, "<a href=\"mailto:a@example.com?subject=hi\"%s>m</a>",
	    rel));
	/* Tabs, newlines and surrounding spaces are what the URL parser ignores. */
	EXPECT("<a href=\" \thttps://exa\nmple.com/ \">x</a>",
	    arena_printf(test_arena, "<a href=\"https://example.com/\"%s>x</a>", rel));
	EXPECT("<a href=\"javascript:alert(1)\">x</a>", "<a>x</a>");
	EXPECT("<a href=\"JaVaScRiPt:alert(1)\">x</a>", "<a>x</a>");
	EXPECT("<a href=\"jav&#x09;ascript:alert(1)\">x</a>", "<a>x</a>");
	EXPECT("<a href=\"jav&#x0A;ascript:alert(1)\">x</a>", "<a>x</a>");
	EXPECT("<a href=\"&#x20;&#x01;javascript:alert(1)\">x</a>", "<a>x</a>");
	EXPECT("<a href=\"&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;"
	    "alert(1)\">x</a>", "<a>x</a>");
	EXPECT("<a href=\"javascript&colon;alert(1)\">x</a>", "<a>x</a>");
	EXPECT("<a href=\"vbscript:msgbox(1)\">x</a>", "<a>x</a>");
	EXPECT("<a href=\"data:text/html;base64,PHNjcmlwdD4=\">x</a>", "<a>x</a>");
	EXPECT("<a href=\"file:///etc/passwd\">x</a><a href=\"about:blank\">y</a>",
	    "<a>x</a><a>y</a>");
	/* Relative URLs would resolve against our origin; fragments point at ids we drop. */
	EXPECT("<a href=\"/logout\">x</a><a href=\"?q=1\">y</a><a href=\"#top\">z</a>",
	    "<a>x</a><a>y</a><a>z</a>");
	EXPECT("<a href=\"//evil.example/\">x</a><a href=\"http:evil\">y</a>",
	    "<a>x</a><a>y</a>");
	EXPECT("<a href=\"https://example.com/?u=javascript:alert(1)\">x</a>", "<a>x</a>");
	EXPECT("<a name=\"top\" id=\"top\">anchor</a>", "<a>anchor</a>");
	/* A link inside a link: libxml2 closes the first, and so does the output. */
	EXPECT("<a href=\"https://a.example/\">1<a href=\"https://b.example/\">2</a></a>",
	    arena_printf(test_arena, "<a href=\"https://a.example/\"%s>1</a>"
	    "<a href=\"https://b.example/\"%s>2</a>", rel, rel));
}

static void
test_url_function(void)
{
	const char *clean;

	CU_ASSERT_EQUAL(html_sanitize_url(test_arena, "https://x.example/", &clean),
	    HTML_SANITIZE_URL_WEB);
	CU_ASSERT_STRING_EQUAL(clean, "https://x.example/");
	CU_ASSERT_EQUAL(html_sanitize_url(test_arena, "\x01 http://x\t.example/\n", &clean),
	    HTML_SANITIZE_URL_WEB);
	CU_ASSERT_STRING_EQUAL(clean, "http://x.example/");
	CU_ASSERT_EQUAL(html_sanitize_url(test_arena, "MAILTO:a@b", &clean),
	    HTML_SANITIZE_URL_MAILTO);
	CU_ASSERT_EQUAL(html_sanitize_url(test_arena, "cid:part1.x@y", &clean),
	    HTML_SANITIZE_URL_CID);
	CU_ASSERT_STRING_EQUAL(clean, "part1.x@y");
	CU_ASSERT_EQUAL(html_sanitize_url(test_arena, "cid:", &clean), HTML_SANITIZE_URL_BAD);
	CU_ASSERT_PTR_NULL(clean);
	CU_ASSERT_EQUAL(html_sanitize_url(test_arena, "cid:a b", &clean), HTML_SANITIZE_URL_BAD);
	CU_ASSERT_EQUAL(html_sanitize_url(test_arena, "cid:a\"b", &clean), HTML_SANITIZE_URL_BAD);
	CU_ASSERT_EQUAL(html_sanitize_url(test_arena, "cid:a<b", &clean), HTML_SANITIZE_URL_BAD);
	CU_ASSERT_EQUAL(html_sanitize_url(test_arena, "data:image/png;base64,iVBORw0KGgo=",
	    &clean), HTML_SANITIZE_URL_DATA_IMAGE);
	CU_ASSERT_EQUAL(html_sanitize_url(test_arena, "DATA:IMAGE/JPEG;BASE64,/9j/4A==",
	    &clean), HTML_SANITIZE_URL_DATA_IMAGE);
	CU_ASSERT_EQUAL(html_sanitize_url(test_arena, "data:image/svg+xml;base64,PHN2Zz4=",
	    &clean), HTML_SANITIZE_URL_BAD);
	CU_ASSERT_EQUAL(html_sanitize_url(test_arena, "data:image/png,rawbytes", &clean),
	    HTML_SANITIZE_URL_BAD);
	CU_ASSERT_EQUAL(html_sanitize_url(test_arena, "data:image/png;base64,<script>", &clean),
	    HTML_SANITIZE_URL_BAD);
	CU_ASSERT_EQUAL(html_sanitize_url(test_arena, "java\0script:", &clean),
	    HTML_SANITIZE_URL_BAD);
	CU_ASSERT_EQUAL(html_sanitize_url(test_arena, "ftp://x.example/", &clean),
	    HTML_SANITIZE_URL_BAD);
	CU_ASSERT_EQUAL(html_sanitize_url(test_arena, "", &clean), HTML_SANITIZE_URL_BAD);
	CU_ASSERT_EQUAL(html_sanitize_url(test_arena, "https:", &clean), HTML_SANITIZE_URL_BAD);
	CU_ASSERT_EQUAL(html_sanitize_url(test_arena, "1http://x", &clean),
	    HTML_SANITIZE_URL_BAD);
}

static void
test_images(void)
{
	static const char four[] = "<img src=\"https://a.example/1\"><img src=\"cid:x\">"
	    "<img src=\"https://a.example/2\"><img src=\"javascript:x\">";
	struct html_sanitize_stats stats;
	char *big;
	size_t n;

	EXPECT("<img src=\"https://t.example/p.gif\" alt=\"Logo\" width=\"120\" height=\"40\" "
	    "onerror=\"alert(1)\">",
	    "<span class=\"mr-blocked-image\" data-src=\"https://t.example/p.gif\" "
	    "data-alt=\"Logo\" data-width=\"120\" data-height=\"40\" "
	    "title=\"Remote image blocked\">[Logo]</span>");
	EXPECT("<img src=\"http://t.example/p.gif\">",
	    "<span class=\"mr-blocked-image\" data-src=\"http://t.example/p.gif\" "
	    "title=\"Remote image blocked\">[image]</span>");
	EXPECT_REMOTE("<img src=\"https://t.example/p.gif\" alt=\"Logo\" width=\"120\" "
	    "style=\"border: 0; position: fixed\" border=\"0\" onload=\"alert(1)\">",
	    "<img src=\"https://t.example/p.gif\" alt=\"Logo\" width=\"120\" border=\"0\" "
	    "style=\"border: 0\" referrerpolicy=\"no-referrer\">");
	EXPECT("<img src=\"cid:logo@example.com\" alt=\"Logo\">",
	    "<span class=\"mr-inline-image\" data-cid=\"logo@example.com\" data-alt=\"Logo\" "
	    "title=\"Inline image\">[Logo]</span>");
	EXPECT("<img src=\"data:image/png;base64,iVBORw0KGgo=\" alt=\"\">",
	    "<img src=\"data:image/png;base64,iVBORw0KGgo=\" alt=\"\">");
	EXPECT("<img src=\"data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+\">", "");
	EXPECT("<img src=\"javascript:alert(1)\"><img src=\"x.png\"><img>"
	    "<img src=\"//t.example/p.gif\"><img srcset=\"https://t.example/p.gif 1x\">", "");
	EXPECT("<img src=\"cid:\">", "");
	/* Oversized inline images are dropped rather than carried into every page view. */
	n = 128 * 1024 + 1;
	big = arena_alloc(test_arena, n + 64);
	strcpy(big, "<img src=\"data:image/png;base64,");
	memset(big + strlen(big), 'A', n);
	strcpy(big + strlen("<img src=\"data:image/png;base64,") + n, "\">");
	EXPECT(big, "");

	sanitize_stats(four, sizeof(four) - 1, 0, &stats);
	CU_ASSERT_EQUAL(stats.remote_images, 2);
	CU_ASSERT_EQUAL(stats.inline_images, 1);
	CU_ASSERT_EQUAL(stats.dropped_elements, 1);
	sanitize_stats(four, sizeof(four) - 1, 1, &stats);
	CU_ASSERT_EQUAL(stats.remote_images, 0);
}

static void
test_placeholders_read_back(void)
{
	const char *once = sanitize("<p><img src=\"https://t.example/a.png\" alt=\"A\" "
	    "width=\"10\"></p>");

	/* With images allowed, our own placeholder turns back into the image. */
	EXPECT_REMOTE(once, "<p><img src=\"https://t.example/a.png\" alt=\"A\" width=\"10\" "
	    "referrerpolicy=\"no-referrer\"></p>");
	/* A sender imitating a placeholder gets what an <img> would have given. */
	EXPECT("<span class=\"mr-blocked-image\" data-src=\"javascript:alert(1)\">x</span>", "");
	EXPECT("<span class=\"mr-inline-image\" data-cid='\"><script>'>x</span>", "");
	EXPECT("<span class=\"mr-blocked-image other\" data-src=\"https://t.example/\">x</span>",
	    "<span>x</span>");
}

static void
test_style_attribute(void)
{
	EXPECT("<p style=\"COLOR: Red; Font-Weight:bold;;text-align : center\">x</p>",
	    "<p style=\"color: Red; font-weight: bold; text-align: center\">x</p>");
	EXPECT("<p style=\"position: fixed; top: 0; z-index: 9; color: red\">x</p>",
	    "<p style=\"color: red\">x</p>");
	EXPECT("<p style=\"position: absolute\">x</p>", "<p>x</p>");
	CU_ASSERT_STRING_EQUAL(html_sanitize_style(test_arena,
	    "font-family: 'Helvetica Neue', \"Arial\", sans-serif; font-size: 14px !IMPORTANT"),
	    "font-family: 'Helvetica Neue', \"Arial\", sans-serif; font-size: 14px !important");
	CU_ASSERT_STRING_EQUAL(html_sanitize_style(test_arena,
	    "color: rgb(1, 2, 3); background-color: rgba(0,0,0,0.5); border: 1px solid #ccc"),
	    "color: rgb(1, 2, 3); background-color: rgba(0,0,0,0.5); border: 1px solid #ccc");
	CU_ASSERT_STRING_EQUAL(html_sanitize_style(test_arena,
	    "margin: 0 auto; padding: 4px 8px; width: 100%; display: inline-block"),
	    "margin: 0 auto; padding: 4px 8px; width: 100%; display: inline-block");
	CU_ASSERT_STRING_EQUAL(html_sanitize_style(test_arena,
	    "  color:\n\tred  ;  line-height :  1.5 "), "color: red; line-height: 1.5");
	/* Each of these loses its declaration and keeps the rest. */
	static const char *const refused[] = {
		"background: url(https://t.example/p.gif)", "background: URL(x)",
		"background-image: url(x)", "width: expression(alert(1))",
		"color: e\\78pression(alert(1))", "color: red\\;", "color: red /* x */",
		"color: javascript:alert(1)", "font-family: '<script>'",
		"font-family: 'unterminated", "color: <b>", "color: red}",
		"display: fixed", "display: flex", "position: relative", "margin-top: -100px",
		"margin: 0 -1em", "letter-spacing: -20px", "float: inherit; float: x",
		"width: calc(100% - 10px)", "color: var(--x)", "color: attr(title)",
		"background: image-set('x.png' 1x)", "color: rgb(rgb(1,2,3))",
		"color: xrgb(1,2,3)", "-moz-binding: url(x)", "behavior: url(x.htc)",
		"color: red !ie", "color!important: red", "font-family: \"a;b\"",
		"color @import 'x'", "z-index: 10", "content: 'x'",
		"color: \xef\xbc\x9ared", "col or: red",
		NULL
	};
	for (size_t i = 0; refused[i] != NULL; i++) {
		const char *css = arena_printf(test_arena, "%s; color: blue", refused[i]);
		const char *got = html_sanitize_style(test_arena, css);

		if (got == NULL || strcmp(got, "color: blue") != 0)
			fprintf(stderr, "\nstyle %s\n  gave %s\n", css,
			    got != NULL ? got : "(null)");
		CU_ASSERT_PTR_NOT_NULL(got);
		if (got != NULL)
			CU_ASSERT_STRING_EQUAL(got, "color: blue");
	}
	CU_ASSERT_PTR_NULL(html_sanitize_style(test_arena, ""));
	CU_ASSERT_PTR_NULL(html_sanitize_style(test_arena, "position: fixed"));
	CU_ASSERT_PTR_NULL(html_sanitize_style(test_arena, ";;: ;x"));
}

static void
test_structure_round_trip(void)
{
	/* An unknown element let a <div> sit inside a <p>; without it, libxml2 would close
	 * the <p> on reading the <div>, so the output closes it explicitly. */
	EXPECT("<p>a<section><div>b</div></section>c</p>", "<p>a</p><div><div>b</div></div>c");
	EXPECT("<p>a<x-y><div>b</div>c</x-y>d</p>", "<p>a</p><div>b</div>cd");
	EXPECT("<p>a<x-y><hr>b</x-y></p>", "<p>a</p><hr>b");
	EXPECT("<table><tr><td>a<x-y><td>b</td></x-y></td></tr></table>",
	    "<table><tr><td>a</td><td>b</td></tr></table>");
	EXPECT("<p>x<img src=\"https://t.example/a\">y</p>",
	    "<p>x<span class=\"mr-blocked-image\" data-src=\"https://t.example/a\" "
	    "title=\"Remote image blocked\">[image]</span>y</p>");
}

static size_t
max_depth(const char *html)
{
	size_t depth = 0, max = 0;

	for (const char *p = html; (p = strchr(p, '<')) != NULL; p++) {
		if (p[1] == '/')
			depth--;
		else if (strncmp(p, "<br>", 4) != 0)
			depth++;
		if (depth > max)
			max = depth;
	}
	return max;
}

static void
test_limits(void)
{
	struct buf in;
	const char *out;
	size_t n = 0;

	/* Deeper than the sanitizer's cap and below libxml2's: the text stays, the depth goes. */
	buf_init(&in, test_arena);
	for (int i = 0; i < 240; i++)
		buf_puts(&in, "<span>");
	buf_puts(&in, "deep");
	for (int i = 0; i < 240; i++)
		buf_puts(&in, "</span>");
	buf_puts(&in, "after");
	out = sanitize(in.data);
	CU_ASSERT_EQUAL(max_depth(out), 200);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "deep"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "after"));
	CU_ASSERT_STRING_EQUAL(sanitize(out), out);

	/* Far deeper: libxml2 gives up below 255 levels; nothing may crash or grow. */
	in.len = 0;
	for (int i = 0; i < 100000; i++)
		buf_puts(&in, "<div><b>");
	out = sanitize(in.data);
	CU_ASSERT(strlen(out) <= 16 * in.len);
	CU_ASSERT(max_depth(out) <= 200);
	CU_ASSERT_STRING_EQUAL(sanitize(out), out);

	/* Output stays proportional to input for the most expanding constructs. */
	in.len = 0;
	for (int i = 0; i < 2000; i++)
		buf_puts(&in, "<a href=http://a>'<img src=cid:x>\"");
	out = sanitize(in.data);
	CU_ASSERT(strlen(out) <= 8 * in.len);
	for (const char *p = out; (p = strstr(p, "mr-inline-image")) != NULL; p++)
		n++;
	CU_ASSERT_EQUAL(n, 2000);
}

static void
test_encoding(void)
{
	/* Invalid UTF-8, NUL and C0 controls become U+FFFD; CR LF and CR become LF. */
	EXPECT_LIT("a\xff" "b\xc3" "c\0d\x01" "e\xed\xa0\x80" "f\r\ng\rh\x0ci",
	    "a\xef\xbf\xbd" "b\xef\xbf\xbd" "c\xef\xbf\xbd" "d\xef\xbf\xbd"
	    "e\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" "f\ng\nh i");
	EXPECT("\xef\xbb\xbfstart", "start");
	EXPECT("<script>x</script>\xef\xbb\xbf" "mid\xef\xbb\xbf" "dle", "middle");
	EXPECT("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x93\xa7",
	    "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x93\xa7");
	/* A declared charset changes nothing: the body is UTF-8 by the time it gets here. */
	EXPECT("<meta charset=\"iso-8859-1\">caf\xc3\xa9", "caf\xc3\xa9");
	EXPECT_LIT("<scr\0ipt>alert(1)</scr\0ipt>", "alert(1)");
}

/* Decodes one line of a corpus file (format in t/xss/README) into out; returns its length. */
static size_t
corpus_decode(const char *line, char *out)
{
	size_t o = 0;

	for (const char *p = line; *p != '\0'; p++) {
		if (*p != '\\') {
			out[o++] = *p;
			continue;
		}
		switch (p[1]) {
		case 'n': out[o++] = '\n'; p++; break;
		case 'r': out[o++] = '\r'; p++; break;
		case 't': out[o++] = '\t'; p++; break;
		case '0': out[o++] = '\0'; p++; break;
		case '\\': out[o++] = '\\'; p++; break;
		case 'x': {
			unsigned v;

			if (strspn(p + 2, "0123456789abcdefABCDEF") >= 2 &&
			    sscanf(p + 2, "%2x", &v) == 1) {
				out[o++] = (char)v;
				p += 3;
				break;
			}
			out[o++] = '\\';
			break;
		}
		default: out[o++] = '\\'; break;
		}
	}
	return o;
}

static size_t corpus_vectors, corpus_failures;

static void
corpus_check(const char *file, int lineno, const char *vec, size_t len, int allow_remote)
{
	const char *out = sanitize_stats(vec, len, allow_remote, NULL), *why, *again;

	why = html_check_output(out, strlen(out));
	if (why == NULL) {
		again = sanitize_stats(out, strlen(out), allow_remote, NULL);
		if (strcmp(again, out) != 0)
			why = "not idempotent";
	}
	if (why != NULL) {
		corpus_failures++;
		fprintf(stderr, "\n%s:%d: %s\n  output: %s\n", file, lineno, why, out);
	}
}

static void
corpus_file(const char *path, const char *name)
{
	char line[65536], *vec = arena_alloc(test_arena, sizeof(line));
	FILE *f = fopen(path, "r");
	int lineno = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	while (fgets(line, sizeof(line), f) != NULL) {
		size_t n = strlen(line), len;

		lineno++;
		CU_ASSERT(n < sizeof(line) - 1);
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = '\0';
		if (n == 0 || line[0] == '#')
			continue;
		len = corpus_decode(line, vec);
		corpus_vectors++;
		corpus_check(name, lineno, vec, len, 0);
		corpus_check(name, lineno, vec, len, 1);
		arena_reset(test_arena);
		vec = arena_alloc(test_arena, sizeof(line));
	}
	fclose(f);
}

static void
test_xss_corpus(void)
{
	const char *srcdir = getenv("srcdir");
	char dir[4096];
	struct dirent *de;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s/t/xss", srcdir != NULL && *srcdir != '\0' ? srcdir : ".");
	d = opendir(dir);
	if (d == NULL)
		fprintf(stderr, "\n%s: %s\n", dir, strerror(errno));
	CU_ASSERT_PTR_NOT_NULL_FATAL(d);
	while ((de = readdir(d)) != NULL) {
		size_t n = strlen(de->d_name);
		char path[8192];

		if (n < 5 || strcmp(de->d_name + n - 4, ".txt") != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		corpus_file(path, de->d_name);
	}
	closedir(d);
	fprintf(stderr, "\n  xss corpus: %zu vectors, %zu failures ", corpus_vectors,
	    corpus_failures);
	CU_ASSERT(corpus_vectors >= 200);
	CU_ASSERT_EQUAL(corpus_failures, 0);
}

static void
test_checker_catches(void)
{
	/* The corpus check itself must see what it is there to see. */
	CU_ASSERT_PTR_NOT_NULL(html_check_output("<SCRIPT>", 8));
	CU_ASSERT_PTR_NOT_NULL(html_check_output("<p onclick=\"x\">", 15));
	CU_ASSERT_PTR_NOT_NULL(html_check_output("<a href=\"java&#9;script:x\">", 27));
	CU_ASSERT_PTR_NOT_NULL(html_check_output("<img src=\"data:text/html,x\">", 28));
	CU_ASSERT_PTR_NOT_NULL(html_check_output("<x-y>", 5));
	CU_ASSERT_PTR_NOT_NULL(html_check_output("<p style=\"background:url(x)\">", 29));
	CU_ASSERT_PTR_NULL(html_check_output("<p>x &lt;script&gt;</p>", 23));
}

int
main(void)
{
	static const struct unit_test tests[] = {
		{ "one escaper for text and attributes", test_escape },
		{ "text and fragments", test_text_and_fragments },
		{ "whole documents", test_documents },
		{ "elements dropped with their content", test_dropped_elements },
		{ "elements unwrapped or renamed", test_unwrapped_and_renamed },
		{ "comments, processing instructions, CDATA", test_comments_and_others },
		{ "attribute allowlist and values", test_attributes },
		{ "links", test_links },
		{ "URL classification", test_url_function },
		{ "images and placeholders", test_images },
		{ "placeholders read back", test_placeholders_read_back },
		{ "style attribute", test_style_attribute },
		{ "implied closes made explicit", test_structure_round_trip },
		{ "depth and size limits", test_limits },
		{ "encoding", test_encoding },
		{ "corpus checker", test_checker_catches },
		{ "XSS corpus", test_xss_corpus },
		{ NULL, NULL },
	};
	int rc;

	test_arena = arena_new(64 * 1024);
	rc = unit_run("html-sanitize", tests);
	arena_free(test_arena);
	return rc;
}
