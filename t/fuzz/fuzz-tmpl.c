/* fuzz-tmpl.c: libFuzzer harness for templates and contexts. The input is a page template,
 * a NUL byte and a JSON context; a page that loads is rendered and read back with libxml2:
 * no broken structure, and no script, event handler or script URL the template lacks. */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <libxml/HTMLparser.h>
#include <libxml/parserInternals.h>

#include "arena.h"
#include "tmpl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The page can use a layout, a partial and the manifest of a fixed set around it. */
static const char fuzz_layout[] =
	"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
	"<title m-slot=\"title\">Layout</title><template m-slot=\"head\"></template>"
	"<link rel=\"stylesheet\" m-static-href=\"css/app.css\"></head>"
	"<body><div m-include=\"partials/p.html\"></div><main m-slot=\"content\"><p>none</p>"
	"</main><script type=\"application/json\" m-json=\"v\"></script></body></html>\n";
static const char fuzz_partial[] =
	"<b m-text=\"v\" m-attr-title=\"v\"></b><a m-attr-href=\"u\" m-class-x=\"t\">link</a>"
	"<i m-slot=\"content\">side</i>";
static const char fuzz_manifest[] = "{\"css/app.css\": \"css/app.0123abcd.css\"}";

/* Used when the input has no context of its own: the values that matter to escaping. */
static const char fuzz_default_ctx[] =
	"{\"v\": \"\\u0000\\\"&'<>\", \"u\": \" JaVa\\tScRiPt:alert(1)\","
	" \"h\": \"<script>alert(1)</script><b onclick=x>b</b>\","
	" \"t\": true, \"f\": false, \"n\": 3, \"s\": \"inbox\","
	" \"items\": [{\"id\": 1, \"name\": \"</script>\", \"url\": \"javascript:alert(1)\"},"
	" {\"id\": \"../x?y\", \"name\": \"\\u2028\", \"url\": \"/ok\"}],"
	" \"o\": {\"a\": {\"b\": \"deep\"}}}";

#define FUZZ_MAX_EACH 3         /* loops nest at most this deep... */
#define FUZZ_MAX_ARRAY 16       /* ...over arrays this long, to bound the page size */

struct fuzz_strings {
	char **v;
	size_t n;
};

static struct arena *fuzz_arena;
static const char *fuzz_text;   /* the template, for failure reports */
static size_t fuzz_tlen;

static void
fuzz_strings_add(struct fuzz_strings *s, const char *a, const char *b)
{
	size_t la = strlen(a), lb = b != NULL ? strlen(b) : 0;
	char *p = malloc(la + lb + 2);

	s->v = realloc(s->v, (s->n + 1) * sizeof(*s->v));
	if (p == NULL || s->v == NULL)
		abort();
	memcpy(p, a, la);
	p[la] = '=';
	if (lb > 0)
		memcpy(p + la + 1, b, lb);
	p[la + 1 + lb] = '\0';
	s->v[s->n++] = p;
}

static int
fuzz_strings_has(const struct fuzz_strings *s, const char *a, const char *b)
{
	size_t la = strlen(a);

	for (size_t i = 0; i < s->n; i++) {
		if (strncmp(s->v[i], a, la) == 0 && s->v[i][la] == '=' &&
		    strcmp(s->v[i] + la + 1, b != NULL ? b : "") == 0)
			return 1;
	}
	return 0;
}

static void
fuzz_strings_free(struct fuzz_strings *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
}

struct fuzz_parse {
	int errors;
};

static void
fuzz_parse_error(void *data, xmlErrorPtr e)
{
	xmlParserCtxtPtr ctxt = data;
	struct fuzz_parse *fp = ctxt->_private;

	if (e->level >= XML_ERR_ERROR && e->code != XML_HTML_UNKNOWN_TAG)
		fp->errors++;
}

static xmlDocPtr
fuzz_parse(const char *html, size_t len, int *errors)
{
	struct fuzz_parse fp = { 0 };
	htmlParserCtxtPtr ctxt = htmlCreateMemoryParserCtxt(html, (int)len);
	xmlDocPtr doc;

	*errors = 0;
	if (ctxt == NULL)       /* libxml2 refuses empty input */
		return NULL;
	ctxt->_private = &fp;
	ctxt->sax->serror = fuzz_parse_error;
	ctxt->sax->initialized = XML_SAX2_MAGIC;
	htmlCtxtUseOptions(ctxt, HTML_PARSE_NONET | HTML_PARSE_IGNORE_ENC);
	xmlSwitchEncoding(ctxt, XML_CHAR_ENCODING_UTF8);
	htmlParseDocument(ctxt);
	doc = ctxt->myDoc;
	ctxt->myDoc = NULL;
	htmlFreeParserCtxt(ctxt);
	*errors = fp.errors;
	return doc;
}

static int
fuzz_is_url_attr(const char *name)
{
	static const char *const names[] = {
		"href", "src", "action", "formaction", "poster", "cite", "data", "background",
		"xlink:href", "hx-get", "hx-post", "hx-put", "hx-patch", "hx-delete", NULL
	};

	for (const char *const *n = names; *n != NULL; n++) {
		if (strcmp(*n, name) == 0)
			return 1;
	}
	return 0;
}

/* Whether a browser would run the URL: its scheme read without the bytes browsers ignore,
 * written independently of tmpl_safe_url. */
static int
fuzz_script_url(const char *v)
{
	static const char *const bad[] = {
		"javascript:", "vbscript:", "livescript:", "data:", NULL
	};
	char sq[32];
	size_t o = 0;

	for (; *v != '\0' && o + 1 < sizeof(sq); v++) {
		unsigned char c = (unsigned char)*v;

		if (c <= 0x20)
			continue;
		sq[o++] = (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
	}
	sq[o] = '\0';
	for (const char *const *b = bad; *b != NULL; b++) {
		if (strncmp(sq, *b, strlen(*b)) == 0)
			return 1;
	}
	return 0;
}

static char *
fuzz_content(xmlNodePtr n)
{
	return (char *)xmlNodeGetContent(n);
}

/* What the template itself holds: scripts, event handlers and URL attributes. */
static void
fuzz_collect(xmlNodePtr n, struct fuzz_strings *scripts, struct fuzz_strings *attrs)
{
	for (; n != NULL; n = n->next) {
		if (n->type != XML_ELEMENT_NODE)
			continue;
		if (strcmp((const char *)n->name, "script") == 0) {
			char *c = fuzz_content(n);

			fuzz_strings_add(scripts, "", c != NULL ? c : "");
			xmlFree(c);
		}
		for (xmlAttrPtr a = n->properties; a != NULL; a = a->next) {
			char *v = fuzz_content((xmlNodePtr)a);

			fuzz_strings_add(attrs, (const char *)a->name, v);
			xmlFree(v);
		}
		fuzz_collect(n->children, scripts, attrs);
	}
}

static void
fuzz_fail(const char *why, const char *detail, const char *html)
{
	fprintf(stderr, "fuzz-tmpl: %s: %s\n--- template ---\n%.*s\n--- output ---\n%s\n", why,
	    detail, (int)fuzz_tlen, fuzz_text, html);
	abort();
}

static void
fuzz_check_tree(xmlNodePtr n, const struct fuzz_strings *scripts,
    const struct fuzz_strings *attrs, const char *html)
{
	for (; n != NULL; n = n->next) {
		if (n->type != XML_ELEMENT_NODE)
			continue;
		for (xmlAttrPtr a = n->properties; a != NULL; a = a->next) {
			const char *an = (const char *)a->name;
			char *v = fuzz_content((xmlNodePtr)a);
			int known = fuzz_strings_has(attrs, an, v);

			if (strncmp(an, "m-", 2) == 0)
				fuzz_fail("a directive reached the output", an, html);
			if (strncmp(an, "on", 2) == 0 && !known)
				fuzz_fail("an event handler the template lacks", an, html);
			if (fuzz_is_url_attr(an) && v != NULL && !known && fuzz_script_url(v))
				fuzz_fail("a script URL the template lacks", v, html);
			xmlFree(v);
		}
		if (strcmp((const char *)n->name, "script") == 0) {
			char *c = fuzz_content(n);
			json_t *j;

			if (!fuzz_strings_has(scripts, "", c != NULL ? c : "")) {
				/* Not the template's own: it must be an m-json block. */
				j = c == NULL ? NULL :
				    json_loads(c, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
				if (j == NULL || strchr(c, '<') != NULL)
					fuzz_fail("a script the template lacks",
					    c != NULL ? c : "", html);
				json_decref(j);
			}
			xmlFree(c);
		}
		fuzz_check_tree(n->children, scripts, attrs, html);
	}
}

static size_t
fuzz_count(const char *s, size_t n, const char *what)
{
	size_t count = 0, wl = strlen(what);

	for (size_t i = 0; i + wl <= n; i++) {
		if (memcmp(s + i, what, wl) == 0)
			count++;
	}
	return count;
}

static int
fuzz_small(json_t *j)
{
	const char *key;
	json_t *v;
	size_t i;

	if (json_is_array(j)) {
		if (json_array_size(j) > FUZZ_MAX_ARRAY)
			return 0;
		json_array_foreach(j, i, v) {
			if (!fuzz_small(v))
				return 0;
		}
	} else if (json_is_object(j)) {
		json_object_foreach(j, key, v) {
			if (!fuzz_small(v))
				return 0;
		}
	}
	return 1;
}

static void
fuzz_render_check(const struct tmpl_set *set, const char *frag, const json_t *ctx,
    int structure, const struct fuzz_strings *scripts, const struct fuzz_strings *attrs)
{
	struct buf out;
	char err[256];
	xmlDocPtr doc;
	int errors;

	buf_init(&out, fuzz_arena);
	if (tmpl_render(set, "page.html", frag, ctx, &out, err, sizeof(err)) == -1)
		fuzz_fail("render failed", err, "");
	if (strlen(out.data) != out.len)
		fuzz_fail("NUL byte in the output", "", out.data);
	if (out.len == 0)
		return;
	doc = fuzz_parse(out.data, out.len, &errors);
	if (structure && errors > 0)
		fuzz_fail("the output does not parse back cleanly",
		    frag != NULL ? frag : "page", out.data);
	if (doc != NULL)
		fuzz_check_tree(xmlDocGetRootElement(doc), scripts, attrs, out.data);
	xmlFreeDoc(doc);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	const uint8_t *nul = memchr(data, '\0', size);
	size_t tlen = nul != NULL ? (size_t)(nul - data) : size;
	struct fuzz_strings scripts = { NULL, 0 }, attrs = { NULL, 0 };
	struct tmpl_source src[4];
	struct tmpl_set *set = NULL;
	json_t *ctx = NULL;
	char err[512];
	xmlDocPtr doc;
	int errors, structure;

	fuzz_text = text;
	fuzz_tlen = tlen;
	if (fuzz_arena == NULL)
		fuzz_arena = arena_new(64 * 1024);
	arena_reset(fuzz_arena);
	if (fuzz_count(text, tlen, "m-each") > FUZZ_MAX_EACH)
		return 0;
	if (nul != NULL)
		ctx = json_loadb((const char *)nul + 1, size - tlen - 1,
		    JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
	if (ctx == NULL)
		ctx = json_loads(fuzz_default_ctx, JSON_ALLOW_NUL, NULL);
	if (ctx == NULL)
		abort();
	if (!fuzz_small(ctx))
		goto done;

	src[0] = (struct tmpl_source){ "layout.html", fuzz_layout, sizeof(fuzz_layout) - 1 };
	src[1] = (struct tmpl_source){ "partials/p.html", fuzz_partial,
	    sizeof(fuzz_partial) - 1 };
	src[2] = (struct tmpl_source){ "static/manifest.json", fuzz_manifest,
	    sizeof(fuzz_manifest) - 1 };
	src[3] = (struct tmpl_source){ "page.html", text, tlen };
	if (tmpl_set_load_mem(src, 4, &set, err, sizeof(err)) == -1) {
		if (err[0] == '\0')
			fuzz_fail("a load error without a message", "", "");
		goto done;
	}

	/* Includes, layouts and m-html put markup where the template's author chose; only
	 * the rest must give back a tree without parse errors whatever the context holds. */
	structure = fuzz_count(text, tlen, "m-include") == 0 &&
	    fuzz_count(text, tlen, "m-layout") == 0 && fuzz_count(text, tlen, "m-html") == 0;
	doc = fuzz_parse(text, tlen, &errors);
	if (doc != NULL)
		fuzz_collect(xmlDocGetRootElement(doc), &scripts, &attrs);
	xmlFreeDoc(doc);
	fuzz_strings_add(&attrs, "href", "/static/css/app.0123abcd.css");

	fuzz_render_check(set, NULL, ctx, structure, &scripts, &attrs);
	if (tmpl_has(set, "page.html", "f"))
		fuzz_render_check(set, "f", ctx, structure, &scripts, &attrs);
done:
	tmpl_set_free(set);
	json_decref(ctx);
	fuzz_strings_free(&scripts);
	fuzz_strings_free(&attrs);
	return 0;
}
