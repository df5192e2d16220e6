/* html-check.h: an independent check of the sanitizer's output, shared by its unit test and
 * its fuzz harness. It reads the output back with libxml2 and looks at the tree, not at the
 * bytes alone: only allowlisted elements, no event handlers, no script URLs anywhere. */
#ifndef MAILROOM_T_HTML_CHECK_H
#define MAILROOM_T_HTML_CHECK_H

#include <stdlib.h>
#include <string.h>
#include <libxml/HTMLparser.h>
#include <libxml/tree.h>

static const char *const html_check_elements[] = {
	"html", "body", /* implied by libxml2 around the fragment */
	"a", "abbr", "address", "b", "bdi", "bdo", "big", "blockquote", "br", "caption",
	"center", "cite", "code", "col", "colgroup", "dd", "del", "details", "dfn", "div", "dl",
	"dt", "em", "figcaption", "figure", "font", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i",
	"img", "ins", "kbd", "li", "mark", "ol", "p", "pre", "q", "rp", "rt", "ruby", "s", "samp",
	"small", "span", "strike", "strong", "sub", "summary", "sup", "table", "tbody", "td",
	"tfoot", "th", "thead", "time", "tr", "tt", "u", "ul", "var", NULL
};

static const char *const html_check_attributes[] = {
	"href", "src", "alt", "width", "height", "colspan", "rowspan", "span", "scope", "align",
	"valign", "bgcolor", "border", "cellpadding", "cellspacing", "nowrap", "color", "face",
	"size", "start", "type", "datetime", "open", "dir", "lang", "title", "style", "rel",
	"target", "referrerpolicy", "class", "data-src", "data-cid", "data-alt", "data-width",
	"data-height", NULL
};

/* Tags that must never appear in the bytes, whatever the tree says. */
static const char *const html_check_forbidden_tags[] = {
	"<script", "<iframe", "<object", "<embed", "<form", "<base", "<meta", "<link", "<style",
	"<svg", "<math", "<frame", "<applet", "<input", "<button", "<textarea", "<select",
	"<template", "<noscript", "<audio", "<video", "<canvas", "<title", "<!", "<?", "</script",
	NULL
};

static int
html_check_in(const char *const *list, const char *s)
{
	for (; *list != NULL; list++) {
		if (strcmp(*list, s) == 0)
			return 1;
	}
	return 0;
}

/* s lower-cased without the bytes a browser ignores or strips in a URL. */
static void
html_check_squeeze(const char *s, char *out, size_t outlen)
{
	size_t o = 0;

	for (; *s != '\0' && o + 1 < outlen; s++) {
		unsigned char c = (unsigned char)*s;

		if (c <= 0x20)
			continue;
		out[o++] = (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
	}
	out[o] = '\0';
}

/* Whether the squeezed declarations css set the property prop. */
static int
html_check_css_property(const char *css, const char *prop)
{
	size_t n = strlen(prop);

	for (const char *p = css; (p = strstr(p, prop)) != NULL; p++) {
		if ((p == css || p[-1] == ';') && p[n] == ':')
			return 1;
	}
	return 0;
}

static const char *
html_check_value(const char *name, const char *value)
{
	size_t n = strlen(value) + 1;
	char *sq = malloc(n);
	const char *why = NULL;

	if (sq == NULL)
		abort();
	html_check_squeeze(value, sq, n);
	if (strstr(sq, "javascript:") != NULL || strstr(sq, "vbscript:") != NULL ||
	    strstr(sq, "livescript:") != NULL || strstr(sq, "data:text") != NULL)
		why = "script URL in an attribute";
	else if ((strcmp(name, "href") == 0 || strcmp(name, "data-src") == 0) &&
	    strncmp(sq, "http://", 7) != 0 && strncmp(sq, "https://", 8) != 0 &&
	    (strcmp(name, "data-src") == 0 || strncmp(sq, "mailto:", 7) != 0))
		why = "link or image URL with a scheme that is not allowed";
	else if (strcmp(name, "src") == 0 && strncmp(sq, "http://", 7) != 0 &&
	    strncmp(sq, "https://", 8) != 0 && strncmp(sq, "data:image/png;", 15) != 0 &&
	    strncmp(sq, "data:image/jpeg;", 16) != 0 && strncmp(sq, "data:image/jpg;", 15) != 0 &&
	    strncmp(sq, "data:image/gif;", 15) != 0 && strncmp(sq, "data:image/webp;", 16) != 0)
		why = "image source with a scheme that is not allowed";
	else if (strcmp(name, "style") == 0 && (strstr(sq, "url(") != NULL ||
	    strstr(sq, "expression(") != NULL || strstr(sq, "@import") != NULL ||
	    strchr(sq, '\\') != NULL || strchr(sq, '<') != NULL || strchr(sq, '>') != NULL ||
	    strstr(sq, "/*") != NULL || html_check_css_property(sq, "position") ||
	    html_check_css_property(sq, "behavior") ||
	    html_check_css_property(sq, "-moz-binding") ||
	    html_check_css_property(sq, "z-index")))
		why = "dangerous CSS in a style attribute";
	else if (strcmp(name, "class") == 0 && strcmp(value, "mr-blocked-image") != 0 &&
	    strcmp(value, "mr-inline-image") != 0)
		why = "a class other than the placeholders'";
	else if (strcmp(name, "target") == 0 && strcmp(value, "_blank") != 0)
		why = "a link target other than _blank";
	free(sq);
	return why;
}

/* Returns NULL when html (the sanitizer's output) passes, or what is wrong. */
static const char *
html_check_output(const char *html, size_t len)
{
	static const char prefix[] = "<body>";
	const char *why = NULL;
	htmlDocPtr doc;
	xmlNode *node;
	char *src;

	for (size_t i = 0; i < len; i++) {
		if (html[i] != '<')
			continue;
		for (size_t f = 0; html_check_forbidden_tags[f] != NULL; f++) {
			const char *t = html_check_forbidden_tags[f];
			size_t k;

			for (k = 0; t[k] != '\0' && i + k < len; k++) {
				char c = html[i + k];

				if (c >= 'A' && c <= 'Z')
					c = (char)(c - 'A' + 'a');
				if (c != t[k])
					break;
			}
			if (t[k] == '\0')
				return "forbidden tag in the bytes";
		}
	}
	if (memchr(html, '\0', len) != NULL)
		return "NUL byte in the output";

	src = malloc(sizeof(prefix) + len);
	if (src == NULL)
		abort();
	memcpy(src, prefix, sizeof(prefix) - 1);
	memcpy(src + sizeof(prefix) - 1, html, len);
	doc = htmlReadMemory(src, (int)(sizeof(prefix) - 1 + len), NULL, "UTF-8",
	    HTML_PARSE_NONET | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING);
	free(src);
	if (doc == NULL)
		return "the output does not parse";
	node = doc->children;
	while (node != NULL && why == NULL) {
		if (node->type == XML_ELEMENT_NODE) {
			if (!html_check_in(html_check_elements, (const char *)node->name))
				why = "element outside the allowlist";
			for (xmlAttr *at = node->properties; at != NULL && why == NULL;
			    at = at->next) {
				const char *name = (const char *)at->name;
				xmlChar *v;

				if ((name[0] == 'o' || name[0] == 'O') &&
				    (name[1] == 'n' || name[1] == 'N'))
					why = "event handler attribute";
				else if (!html_check_in(html_check_attributes, name))
					why = "attribute outside the allowlist";
				if (why != NULL)
					break;
				v = xmlNodeListGetString(doc, at->children, 1);
				why = html_check_value(name, v != NULL ? (const char *)v : "");
				xmlFree(v);
			}
		} else if (node->type != XML_TEXT_NODE && node->type != XML_DTD_NODE) {
			why = "a node that is neither element nor text";
		}
		if (node->type == XML_ELEMENT_NODE && node->children != NULL) {
			node = node->children;
			continue;
		}
		while (node != NULL && node->next == NULL) {
			node = node->parent;
			if (node == (xmlNode *)doc)
				node = NULL;
		}
		if (node != NULL)
			node = node->next;
	}
	xmlFreeDoc(doc);
	return why;
}

#endif
