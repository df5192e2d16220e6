/* html-sanitize.c: the email body sanitizer. libxml2 parses the body, and a walk of its tree
 * emits only allowlisted elements, attributes, URLs and CSS declarations. The walk closes by
 * itself every element libxml2 would close implicitly, so the output parses back unchanged. */
#include "config.h"

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/HTMLparser.h>
#include <libxml/parser.h>
#include <libxml/tree.h>

#include "arena.h"
#include "html-sanitize.h"
#include "util.h"

/* libxml2 2.9 stops parsing, dropping the rest of the document, below 255 levels under
 * <body>: the output must stay well above that so that it always parses back whole. Deeper
 * elements lose their tags and keep their content. */
#define HS_MAX_DEPTH 200
/* Inline data: images are part of the message already; the cap keeps one attribute from
 * dominating the page (about 96 KiB of image). */
#define HS_MAX_DATA_IMAGE (128 * 1024)
#define HS_MAX_CSS_VALUE 256
#define HS_MAX_CID 998 /* the longest line RFC 5322 allows, a Content-ID included */

/* No network, no error output (mail is full of invalid HTML), and whitespace kept: the text
 * must survive as it was written. */
#define HS_PARSE_OPTIONS (HTML_PARSE_NONET | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING | \
	HTML_PARSE_COMPACT)

/* Parsed after "<body>", a body's text is never wrapped in the <p> libxml2 implies for text
 * at the top of a document, and the <html>, <head> and <body> tags of a whole document are
 * ignored as misplaced. */
static const char html_sanitize_prefix[] = "<body>";

enum html_sanitize_attr_id {
	HS_ATTR_HREF,
	HS_ATTR_ALT,
	HS_ATTR_WIDTH,
	HS_ATTR_HEIGHT,
	HS_ATTR_COLSPAN,
	HS_ATTR_ROWSPAN,
	HS_ATTR_SPAN,
	HS_ATTR_SCOPE,
	HS_ATTR_ALIGN,
	HS_ATTR_VALIGN,
	HS_ATTR_BGCOLOR,
	HS_ATTR_BORDER,
	HS_ATTR_CELLPADDING,
	HS_ATTR_CELLSPACING,
	HS_ATTR_NOWRAP,
	HS_ATTR_COLOR,
	HS_ATTR_FACE,
	HS_ATTR_SIZE,
	HS_ATTR_START,
	HS_ATTR_TYPE,
	HS_ATTR_DATETIME,
	HS_ATTR_OPEN,
	HS_ATTR_DIR,
	HS_ATTR_LANG,
	HS_ATTR_TITLE,
	HS_ATTR_STYLE,
	HS_ATTR_COUNT
};

#define HS_A(x) (1u << HS_ATTR_##x)
#define HS_GLOBAL_ATTRS (HS_A(DIR) | HS_A(LANG) | HS_A(TITLE) | HS_A(STYLE))
#define HS_CELL_ATTRS (HS_A(WIDTH) | HS_A(HEIGHT) | HS_A(COLSPAN) | HS_A(ROWSPAN) | \
	HS_A(ALIGN) | HS_A(VALIGN) | HS_A(BGCOLOR) | HS_A(NOWRAP))
#define HS_ROWS_ATTRS (HS_A(ALIGN) | HS_A(VALIGN) | HS_A(BGCOLOR))

enum html_sanitize_check {
	HS_CHECK_TEXT,      /* any text: it is escaped and means nothing to the browser */
	HS_CHECK_HREF,      /* http, https or mailto */
	HS_CHECK_LENGTH,    /* 100, 100%, 100px */
	HS_CHECK_COUNT,     /* a small non-negative integer */
	HS_CHECK_INTEGER,   /* a signed integer */
	HS_CHECK_COLOR,     /* #rgb, #rrggbb or a color name */
	HS_CHECK_ENUM,      /* one of values, case-insensitive, emitted as listed */
	HS_CHECK_ENUM_CASE, /* one of values, case-sensitive (list types: a and A differ) */
	HS_CHECK_LANG,      /* a language tag */
	HS_CHECK_FACE,      /* font names */
	HS_CHECK_FONT_SIZE, /* 1 to 7, or relative +1, -2 */
	HS_CHECK_BOOL,      /* present or not; emitted as name="name" */
	HS_CHECK_STYLE      /* CSS declarations, filtered */
};

struct html_sanitize_attr {
	const char *name;
	enum html_sanitize_check check;
	const char *const *values;
};

static const char *const html_sanitize_align[] = {
	"left", "center", "right", "justify", "top", "middle", "bottom", "baseline",
	"absmiddle", "absbottom", "texttop", NULL
};
static const char *const html_sanitize_valign[] = {
	"top", "middle", "bottom", "baseline", NULL
};
static const char *const html_sanitize_scope[] = {
	"row", "col", "rowgroup", "colgroup", NULL
};
static const char *const html_sanitize_list_type[] = {
	"1", "a", "A", "i", "I", "disc", "circle", "square", NULL
};
static const char *const html_sanitize_dir[] = { "ltr", "rtl", "auto", NULL };

/* In the order the attributes are emitted: a fixed order, not the input's, so that the
 * output of the output is the same bytes. */
static const struct html_sanitize_attr html_sanitize_attrs[HS_ATTR_COUNT] = {
	[HS_ATTR_HREF] = { "href", HS_CHECK_HREF, NULL },
	[HS_ATTR_ALT] = { "alt", HS_CHECK_TEXT, NULL },
	[HS_ATTR_WIDTH] = { "width", HS_CHECK_LENGTH, NULL },
	[HS_ATTR_HEIGHT] = { "height", HS_CHECK_LENGTH, NULL },
	[HS_ATTR_COLSPAN] = { "colspan", HS_CHECK_COUNT, NULL },
	[HS_ATTR_ROWSPAN] = { "rowspan", HS_CHECK_COUNT, NULL },
	[HS_ATTR_SPAN] = { "span", HS_CHECK_COUNT, NULL },
	[HS_ATTR_SCOPE] = { "scope", HS_CHECK_ENUM, html_sanitize_scope },
	[HS_ATTR_ALIGN] = { "align", HS_CHECK_ENUM, html_sanitize_align },
	[HS_ATTR_VALIGN] = { "valign", HS_CHECK_ENUM, html_sanitize_valign },
	[HS_ATTR_BGCOLOR] = { "bgcolor", HS_CHECK_COLOR, NULL },
	[HS_ATTR_BORDER] = { "border", HS_CHECK_COUNT, NULL },
	[HS_ATTR_CELLPADDING] = { "cellpadding", HS_CHECK_COUNT, NULL },
	[HS_ATTR_CELLSPACING] = { "cellspacing", HS_CHECK_COUNT, NULL },
	[HS_ATTR_NOWRAP] = { "nowrap", HS_CHECK_BOOL, NULL },
	[HS_ATTR_COLOR] = { "color", HS_CHECK_COLOR, NULL },
	[HS_ATTR_FACE] = { "face", HS_CHECK_FACE, NULL },
	[HS_ATTR_SIZE] = { "size", HS_CHECK_FONT_SIZE, NULL },
	[HS_ATTR_START] = { "start", HS_CHECK_INTEGER, NULL },
	[HS_ATTR_TYPE] = { "type", HS_CHECK_ENUM_CASE, html_sanitize_list_type },
	[HS_ATTR_DATETIME] = { "datetime", HS_CHECK_TEXT, NULL },
	[HS_ATTR_OPEN] = { "open", HS_CHECK_BOOL, NULL },
	[HS_ATTR_DIR] = { "dir", HS_CHECK_ENUM, html_sanitize_dir },
	[HS_ATTR_LANG] = { "lang", HS_CHECK_LANG, NULL },
	[HS_ATTR_TITLE] = { "title", HS_CHECK_TEXT, NULL },
	[HS_ATTR_STYLE] = { "style", HS_CHECK_STYLE, NULL },
};

/* The elements the output may contain. */
enum html_sanitize_tag_id {
	HS_TAG_A, HS_TAG_ABBR, HS_TAG_ADDRESS, HS_TAG_B, HS_TAG_BDI, HS_TAG_BDO, HS_TAG_BIG,
	HS_TAG_BLOCKQUOTE, HS_TAG_BR, HS_TAG_CAPTION, HS_TAG_CENTER, HS_TAG_CITE, HS_TAG_CODE,
	HS_TAG_COL, HS_TAG_COLGROUP, HS_TAG_DD, HS_TAG_DEL, HS_TAG_DETAILS, HS_TAG_DFN,
	HS_TAG_DIV, HS_TAG_DL, HS_TAG_DT, HS_TAG_EM, HS_TAG_FIGCAPTION, HS_TAG_FIGURE,
	HS_TAG_FONT, HS_TAG_H1, HS_TAG_H2, HS_TAG_H3, HS_TAG_H4, HS_TAG_H5, HS_TAG_H6,
	HS_TAG_HR, HS_TAG_I, HS_TAG_IMG, HS_TAG_INS, HS_TAG_KBD, HS_TAG_LI, HS_TAG_MARK,
	HS_TAG_OL, HS_TAG_P, HS_TAG_PRE, HS_TAG_Q, HS_TAG_RP, HS_TAG_RT, HS_TAG_RUBY, HS_TAG_S,
	HS_TAG_SAMP, HS_TAG_SMALL, HS_TAG_SPAN, HS_TAG_STRIKE, HS_TAG_STRONG, HS_TAG_SUB,
	HS_TAG_SUMMARY, HS_TAG_SUP, HS_TAG_TABLE, HS_TAG_TBODY, HS_TAG_TD, HS_TAG_TFOOT,
	HS_TAG_TH, HS_TAG_THEAD, HS_TAG_TIME, HS_TAG_TR, HS_TAG_TT, HS_TAG_U, HS_TAG_UL,
	HS_TAG_VAR,
	HS_TAG_COUNT
};

struct html_sanitize_tag {
	const char *name;
	unsigned attrs;       /* HS_A() bits allowed besides HS_GLOBAL_ATTRS */
	unsigned char is_void;
};

static const struct html_sanitize_tag html_sanitize_tags[HS_TAG_COUNT] = {
	[HS_TAG_A] = { "a", HS_A(HREF), 0 },
	[HS_TAG_ABBR] = { "abbr", 0, 0 },
	[HS_TAG_ADDRESS] = { "address", 0, 0 },
	[HS_TAG_B] = { "b", 0, 0 },
	[HS_TAG_BDI] = { "bdi", 0, 0 },
	[HS_TAG_BDO] = { "bdo", 0, 0 },
	[HS_TAG_BIG] = { "big", 0, 0 },
	[HS_TAG_BLOCKQUOTE] = { "blockquote", 0, 0 },
	[HS_TAG_BR] = { "br", 0, 1 },
	[HS_TAG_CAPTION] = { "caption", HS_A(ALIGN), 0 },
	[HS_TAG_CENTER] = { "center", 0, 0 },
	[HS_TAG_CITE] = { "cite", 0, 0 },
	[HS_TAG_CODE] = { "code", 0, 0 },
	[HS_TAG_COL] = { "col", HS_A(SPAN) | HS_A(WIDTH) | HS_A(ALIGN) | HS_A(VALIGN), 1 },
	[HS_TAG_COLGROUP] = { "colgroup", HS_A(SPAN) | HS_A(WIDTH) | HS_A(ALIGN) | HS_A(VALIGN),
	    0 },
	[HS_TAG_DD] = { "dd", 0, 0 },
	[HS_TAG_DEL] = { "del", HS_A(DATETIME), 0 },
	[HS_TAG_DETAILS] = { "details", HS_A(OPEN), 0 },
	[HS_TAG_DFN] = { "dfn", 0, 0 },
	[HS_TAG_DIV] = { "div", HS_A(ALIGN), 0 },
	[HS_TAG_DL] = { "dl", 0, 0 },
	[HS_TAG_DT] = { "dt", 0, 0 },
	[HS_TAG_EM] = { "em", 0, 0 },
	[HS_TAG_FIGCAPTION] = { "figcaption", 0, 0 },
	[HS_TAG_FIGURE] = { "figure", 0, 0 },
	[HS_TAG_FONT] = { "font", HS_A(COLOR) | HS_A(FACE) | HS_A(SIZE), 0 },
	[HS_TAG_H1] = { "h1", HS_A(ALIGN), 0 },
	[HS_TAG_H2] = { "h2", HS_A(ALIGN), 0 },
	[HS_TAG_H3] = { "h3", HS_A(ALIGN), 0 },
	[HS_TAG_H4] = { "h4", HS_A(ALIGN), 0 },
	[HS_TAG_H5] = { "h5", HS_A(ALIGN), 0 },
	[HS_TAG_H6] = { "h6", HS_A(ALIGN), 0 },
	[HS_TAG_HR] = { "hr", HS_A(WIDTH) | HS_A(ALIGN), 1 },
	[HS_TAG_I] = { "i", 0, 0 },
	/* src is handled by html_sanitize_image. */
	[HS_TAG_IMG] = { "img", HS_A(ALT) | HS_A(WIDTH) | HS_A(HEIGHT) | HS_A(ALIGN) |
	    HS_A(BORDER), 1 },
	[HS_TAG_INS] = { "ins", HS_A(DATETIME), 0 },
	[HS_TAG_KBD] = { "kbd", 0, 0 },
	[HS_TAG_LI] = { "li", HS_A(TYPE), 0 },
	[HS_TAG_MARK] = { "mark", 0, 0 },
	[HS_TAG_OL] = { "ol", HS_A(START) | HS_A(TYPE), 0 },
	[HS_TAG_P] = { "p", HS_A(ALIGN), 0 },
	[HS_TAG_PRE] = { "pre", 0, 0 },
	[HS_TAG_Q] = { "q", 0, 0 },
	[HS_TAG_RP] = { "rp", 0, 0 },
	[HS_TAG_RT] = { "rt", 0, 0 },
	[HS_TAG_RUBY] = { "ruby", 0, 0 },
	[HS_TAG_S] = { "s", 0, 0 },
	[HS_TAG_SAMP] = { "samp", 0, 0 },
	[HS_TAG_SMALL] = { "small", 0, 0 },
	[HS_TAG_SPAN] = { "span", 0, 0 },
	[HS_TAG_STRIKE] = { "strike", 0, 0 },
	[HS_TAG_STRONG] = { "strong", 0, 0 },
	[HS_TAG_SUB] = { "sub", 0, 0 },
	[HS_TAG_SUMMARY] = { "summary", 0, 0 },
	[HS_TAG_SUP] = { "sup", 0, 0 },
	[HS_TAG_TABLE] = { "table", HS_A(WIDTH) | HS_A(HEIGHT) | HS_A(ALIGN) | HS_A(BGCOLOR) |
	    HS_A(BORDER) | HS_A(CELLPADDING) | HS_A(CELLSPACING), 0 },
	[HS_TAG_TBODY] = { "tbody", HS_ROWS_ATTRS, 0 },
	[HS_TAG_TD] = { "td", HS_CELL_ATTRS, 0 },
	[HS_TAG_TFOOT] = { "tfoot", HS_ROWS_ATTRS, 0 },
	[HS_TAG_TH] = { "th", HS_CELL_ATTRS | HS_A(SCOPE), 0 },
	[HS_TAG_THEAD] = { "thead", HS_ROWS_ATTRS, 0 },
	[HS_TAG_TIME] = { "time", HS_A(DATETIME), 0 },
	[HS_TAG_TR] = { "tr", HS_ROWS_ATTRS | HS_A(HEIGHT), 0 },
	[HS_TAG_TT] = { "tt", 0, 0 },
	[HS_TAG_U] = { "u", 0, 0 },
	[HS_TAG_UL] = { "ul", HS_A(TYPE), 0 },
	[HS_TAG_VAR] = { "var", 0, 0 },
};

enum html_sanitize_action {
	HS_UNWRAP,    /* the tag goes, the content stays: unknown and structural elements */
	HS_KEEP,      /* emitted as tag, with the attributes the tag allows */
	HS_DROP,      /* removed with everything inside */
	HS_DROP_VOID, /* removed; void in HTML, so what libxml2 put inside it is what followed */
	HS_IMAGE      /* html_sanitize_image decides */
};

struct html_sanitize_elem {
	const char *name;
	enum html_sanitize_action action;
	enum html_sanitize_tag_id tag;
};

/* Every element of the input that is not unwrapped, sorted by name for bsearch. Renamed
 * elements are kept as a tag of the same meaning that every mail reader knows; the landmark
 * elements become <div> so that a message cannot add landmarks to our page. */
static const struct html_sanitize_elem html_sanitize_elems[] = {
	{ "a", HS_KEEP, HS_TAG_A },
	{ "abbr", HS_KEEP, HS_TAG_ABBR },
	{ "acronym", HS_KEEP, HS_TAG_ABBR },
	{ "address", HS_KEEP, HS_TAG_ADDRESS },
	{ "applet", HS_DROP, 0 },
	{ "area", HS_DROP_VOID, 0 },
	{ "article", HS_KEEP, HS_TAG_DIV },
	{ "aside", HS_KEEP, HS_TAG_DIV },
	{ "audio", HS_DROP, 0 },
	{ "b", HS_KEEP, HS_TAG_B },
	{ "base", HS_DROP_VOID, 0 },
	{ "basefont", HS_DROP_VOID, 0 },
	{ "bdi", HS_KEEP, HS_TAG_BDI },
	{ "bdo", HS_KEEP, HS_TAG_BDO },
	{ "bgsound", HS_DROP_VOID, 0 },
	{ "big", HS_KEEP, HS_TAG_BIG },
	{ "blockquote", HS_KEEP, HS_TAG_BLOCKQUOTE },
	{ "br", HS_KEEP, HS_TAG_BR },
	{ "button", HS_DROP, 0 },
	{ "canvas", HS_DROP, 0 },
	{ "caption", HS_KEEP, HS_TAG_CAPTION },
	{ "center", HS_KEEP, HS_TAG_CENTER },
	{ "cite", HS_KEEP, HS_TAG_CITE },
	{ "code", HS_KEEP, HS_TAG_CODE },
	{ "col", HS_KEEP, HS_TAG_COL },
	{ "colgroup", HS_KEEP, HS_TAG_COLGROUP },
	{ "datalist", HS_DROP, 0 },
	{ "dd", HS_KEEP, HS_TAG_DD },
	{ "del", HS_KEEP, HS_TAG_DEL },
	{ "details", HS_KEEP, HS_TAG_DETAILS },
	{ "dfn", HS_KEEP, HS_TAG_DFN },
	{ "dialog", HS_DROP, 0 },
	{ "dir", HS_KEEP, HS_TAG_UL },
	{ "div", HS_KEEP, HS_TAG_DIV },
	{ "dl", HS_KEEP, HS_TAG_DL },
	{ "dt", HS_KEEP, HS_TAG_DT },
	{ "em", HS_KEEP, HS_TAG_EM },
	{ "embed", HS_DROP_VOID, 0 },
	{ "figcaption", HS_KEEP, HS_TAG_FIGCAPTION },
	{ "figure", HS_KEEP, HS_TAG_FIGURE },
	{ "font", HS_KEEP, HS_TAG_FONT },
	{ "footer", HS_KEEP, HS_TAG_DIV },
	{ "form", HS_DROP, 0 },
	{ "frame", HS_DROP_VOID, 0 },
	{ "frameset", HS_DROP, 0 },
	{ "h1", HS_KEEP, HS_TAG_H1 },
	{ "h2", HS_KEEP, HS_TAG_H2 },
	{ "h3", HS_KEEP, HS_TAG_H3 },
	{ "h4", HS_KEEP, HS_TAG_H4 },
	{ "h5", HS_KEEP, HS_TAG_H5 },
	{ "h6", HS_KEEP, HS_TAG_H6 },
	{ "head", HS_DROP, 0 },
	{ "header", HS_KEEP, HS_TAG_DIV },
	{ "hgroup", HS_KEEP, HS_TAG_DIV },
	{ "hr", HS_KEEP, HS_TAG_HR },
	{ "i", HS_KEEP, HS_TAG_I },
	{ "iframe", HS_DROP, 0 },
	{ "image", HS_DROP_VOID, 0 },
	{ "img", HS_IMAGE, HS_TAG_IMG },
	{ "input", HS_DROP_VOID, 0 },
	{ "ins", HS_KEEP, HS_TAG_INS },
	{ "isindex", HS_DROP_VOID, 0 },
	{ "kbd", HS_KEEP, HS_TAG_KBD },
	{ "keygen", HS_DROP_VOID, 0 },
	{ "li", HS_KEEP, HS_TAG_LI },
	{ "link", HS_DROP_VOID, 0 },
	{ "listing", HS_KEEP, HS_TAG_PRE },
	{ "main", HS_KEEP, HS_TAG_DIV },
	{ "mark", HS_KEEP, HS_TAG_MARK },
	{ "math", HS_DROP, 0 },
	{ "menu", HS_KEEP, HS_TAG_UL },
	{ "meta", HS_DROP_VOID, 0 },
	{ "nav", HS_KEEP, HS_TAG_DIV },
	{ "noembed", HS_DROP, 0 },
	{ "noframes", HS_DROP, 0 },
	{ "noscript", HS_DROP, 0 },
	{ "object", HS_DROP, 0 },
	{ "ol", HS_KEEP, HS_TAG_OL },
	{ "optgroup", HS_DROP, 0 },
	{ "option", HS_DROP, 0 },
	{ "p", HS_KEEP, HS_TAG_P },
	{ "param", HS_DROP_VOID, 0 },
	{ "plaintext", HS_DROP, 0 },
	{ "portal", HS_DROP, 0 },
	{ "pre", HS_KEEP, HS_TAG_PRE },
	{ "q", HS_KEEP, HS_TAG_Q },
	{ "rp", HS_KEEP, HS_TAG_RP },
	{ "rt", HS_KEEP, HS_TAG_RT },
	{ "ruby", HS_KEEP, HS_TAG_RUBY },
	{ "s", HS_KEEP, HS_TAG_S },
	{ "samp", HS_KEEP, HS_TAG_SAMP },
	{ "script", HS_DROP, 0 },
	{ "section", HS_KEEP, HS_TAG_DIV },
	{ "select", HS_DROP, 0 },
	{ "small", HS_KEEP, HS_TAG_SMALL },
	{ "source", HS_DROP_VOID, 0 },
	{ "span", HS_KEEP, HS_TAG_SPAN },
	{ "strike", HS_KEEP, HS_TAG_STRIKE },
	{ "strong", HS_KEEP, HS_TAG_STRONG },
	{ "style", HS_DROP, 0 },
	{ "sub", HS_KEEP, HS_TAG_SUB },
	{ "summary", HS_KEEP, HS_TAG_SUMMARY },
	{ "sup", HS_KEEP, HS_TAG_SUP },
	{ "svg", HS_DROP, 0 },
	{ "table", HS_KEEP, HS_TAG_TABLE },
	{ "tbody", HS_KEEP, HS_TAG_TBODY },
	{ "td", HS_KEEP, HS_TAG_TD },
	{ "template", HS_DROP, 0 },
	{ "textarea", HS_DROP, 0 },
	{ "tfoot", HS_KEEP, HS_TAG_TFOOT },
	{ "th", HS_KEEP, HS_TAG_TH },
	{ "thead", HS_KEEP, HS_TAG_THEAD },
	{ "time", HS_KEEP, HS_TAG_TIME },
	{ "title", HS_DROP, 0 },
	{ "tr", HS_KEEP, HS_TAG_TR },
	{ "track", HS_DROP_VOID, 0 },
	{ "tt", HS_KEEP, HS_TAG_TT },
	{ "u", HS_KEEP, HS_TAG_U },
	{ "ul", HS_KEEP, HS_TAG_UL },
	{ "var", HS_KEEP, HS_TAG_VAR },
	{ "video", HS_DROP, 0 },
	{ "wbr", HS_DROP_VOID, 0 },
	{ "xmp", HS_DROP, 0 },
};

enum html_sanitize_css_kind {
	HS_CSS_ANY,        /* lengths, colors, keywords */
	HS_CSS_NONNEG,     /* no negative lengths: they move text out of its box, over our page */
	HS_CSS_FAMILY,     /* font names may be quoted and non-ASCII */
	HS_CSS_DISPLAY,
	HS_CSS_FLOAT,
	HS_CSS_CLEAR
};

struct html_sanitize_prop {
	const char *name;
	enum html_sanitize_css_kind kind;
};

/* The CSS properties a message may set, sorted for bsearch. Nothing that positions,
 * layers, transforms or loads: position, z-index, transform, content, cursor and every
 * property that takes an image are missing on purpose. */
static const struct html_sanitize_prop html_sanitize_props[] = {
	{ "background", HS_CSS_ANY },
	{ "background-color", HS_CSS_ANY },
	{ "border", HS_CSS_ANY },
	{ "border-bottom", HS_CSS_ANY },
	{ "border-bottom-color", HS_CSS_ANY },
	{ "border-bottom-left-radius", HS_CSS_ANY },
	{ "border-bottom-right-radius", HS_CSS_ANY },
	{ "border-bottom-style", HS_CSS_ANY },
	{ "border-bottom-width", HS_CSS_ANY },
	{ "border-collapse", HS_CSS_ANY },
	{ "border-color", HS_CSS_ANY },
	{ "border-left", HS_CSS_ANY },
	{ "border-left-color", HS_CSS_ANY },
	{ "border-left-style", HS_CSS_ANY },
	{ "border-left-width", HS_CSS_ANY },
	{ "border-radius", HS_CSS_ANY },
	{ "border-right", HS_CSS_ANY },
	{ "border-right-color", HS_CSS_ANY },
	{ "border-right-style", HS_CSS_ANY },
	{ "border-right-width", HS_CSS_ANY },
	{ "border-spacing", HS_CSS_ANY },
	{ "border-style", HS_CSS_ANY },
	{ "border-top", HS_CSS_ANY },
	{ "border-top-color", HS_CSS_ANY },
	{ "border-top-left-radius", HS_CSS_ANY },
	{ "border-top-right-radius", HS_CSS_ANY },
	{ "border-top-style", HS_CSS_ANY },
	{ "border-top-width", HS_CSS_ANY },
	{ "border-width", HS_CSS_ANY },
	{ "clear", HS_CSS_CLEAR },
	{ "color", HS_CSS_ANY },
	{ "display", HS_CSS_DISPLAY },
	{ "float", HS_CSS_FLOAT },
	{ "font-family", HS_CSS_FAMILY },
	{ "font-size", HS_CSS_ANY },
	{ "font-style", HS_CSS_ANY },
	{ "font-variant", HS_CSS_ANY },
	{ "font-weight", HS_CSS_ANY },
	{ "height", HS_CSS_ANY },
	{ "letter-spacing", HS_CSS_NONNEG },
	{ "line-height", HS_CSS_ANY },
	{ "list-style-type", HS_CSS_ANY },
	{ "margin", HS_CSS_NONNEG },
	{ "margin-bottom", HS_CSS_NONNEG },
	{ "margin-left", HS_CSS_NONNEG },
	{ "margin-right", HS_CSS_NONNEG },
	{ "margin-top", HS_CSS_NONNEG },
	{ "max-height", HS_CSS_ANY },
	{ "max-width", HS_CSS_ANY },
	{ "min-height", HS_CSS_ANY },
	{ "min-width", HS_CSS_ANY },
	{ "overflow-wrap", HS_CSS_ANY },
	{ "padding", HS_CSS_NONNEG },
	{ "padding-bottom", HS_CSS_NONNEG },
	{ "padding-left", HS_CSS_NONNEG },
	{ "padding-right", HS_CSS_NONNEG },
	{ "padding-top", HS_CSS_NONNEG },
	{ "table-layout", HS_CSS_ANY },
	{ "text-align", HS_CSS_ANY },
	{ "text-decoration", HS_CSS_ANY },
	{ "text-transform", HS_CSS_ANY },
	{ "vertical-align", HS_CSS_ANY },
	{ "white-space", HS_CSS_ANY },
	{ "width", HS_CSS_ANY },
	{ "word-break", HS_CSS_ANY },
	{ "word-spacing", HS_CSS_NONNEG },
	{ "word-wrap", HS_CSS_ANY },
};

static const char *const html_sanitize_display[] = {
	"block", "inline", "inline-block", "inline-table", "list-item", "none", "table",
	"table-caption", "table-cell", "table-column", "table-column-group",
	"table-footer-group", "table-header-group", "table-row", "table-row-group", NULL
};
static const char *const html_sanitize_float[] = { "left", "right", "none", NULL };
static const char *const html_sanitize_clear[] = { "left", "right", "both", "none", NULL };
/* The only CSS functions a value may call: colors. Everything else that takes parentheses
 * (url, image-set, expression, var, attr, calc) is refused with the declaration. */
static const char *const html_sanitize_css_functions[] = {
	"rgb", "rgba", "hsl", "hsla", NULL
};

/* One element of the output that is still open. */
struct html_sanitize_open {
	const xmlNode *node; /* the input element it came from */
	enum html_sanitize_tag_id tag;
};

struct html_sanitize_state {
	struct arena *arena;
	struct buf *out;
	const struct html_sanitize_opts *opts;
	struct html_sanitize_stats *stats;
	size_t depth;
	struct html_sanitize_open open[HS_MAX_DEPTH];
};

/* What libxml2 does on reading <parent><child>: 0 not asked yet, 1 child nests, 2 child
 * closes parent first. Filled on first use from libxml2 itself, so the output follows the
 * rules of the libxml2 that will read it back. Racing threads store the same value. */
static _Atomic unsigned char html_sanitize_nesting[HS_TAG_COUNT][HS_TAG_COUNT];
static pthread_once_t html_sanitize_once = PTHREAD_ONCE_INIT;

static int
html_sanitize_is_alpha(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int
html_sanitize_is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static int
html_sanitize_is_alnum(unsigned char c)
{
	return html_sanitize_is_alpha(c) || html_sanitize_is_digit(c);
}

static int
html_sanitize_is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}

static unsigned char
html_sanitize_lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c - 'A' + 'a') : c;
}

/* Case-insensitive ASCII comparison of a and the first n bytes of b against a whole word. */
static int
html_sanitize_eq_ci(const char *a, const char *b, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char ca = (unsigned char)a[i], cb = (unsigned char)b[i];

		if (ca == '\0' || html_sanitize_lower(ca) != html_sanitize_lower(cb))
			return 0;
	}
	return a[i] == '\0';
}

static int
html_sanitize_starts_ci(const char *s, const char *prefix)
{
	for (; *prefix != '\0'; s++, prefix++) {
		if (html_sanitize_lower((unsigned char)*s) != (unsigned char)*prefix)
			return 0;
	}
	return 1;
}

static int
html_sanitize_cmp_ci(const char *a, const char *b)
{
	unsigned char ca, cb;

	do {
		ca = html_sanitize_lower((unsigned char)*a++);
		cb = html_sanitize_lower((unsigned char)*b++);
	} while (ca != '\0' && ca == cb);
	return (int)ca - (int)cb;
}

static int
html_sanitize_elem_cmp(const void *key, const void *elem)
{
	return html_sanitize_cmp_ci(key, ((const struct html_sanitize_elem *)elem)->name);
}

static int
html_sanitize_prop_cmp(const void *key, const void *prop)
{
	return strcmp(key, ((const struct html_sanitize_prop *)prop)->name);
}

static void
html_sanitize_init(void)
{
	xmlInitParser();
	/* bsearch needs the tables in order: an unsorted table is a bug caught by any test. */
	for (size_t i = 1; i < MR_ARRAY_LEN(html_sanitize_elems); i++) {
		if (strcmp(html_sanitize_elems[i - 1].name, html_sanitize_elems[i].name) >= 0)
			fatal("element table out of order at %s", html_sanitize_elems[i].name);
	}
	for (size_t i = 1; i < MR_ARRAY_LEN(html_sanitize_props); i++) {
		if (strcmp(html_sanitize_props[i - 1].name, html_sanitize_props[i].name) >= 0)
			fatal("property table out of order at %s", html_sanitize_props[i].name);
	}
}

/* --- Output ------------------------------------------------------------------------- */

void
html_sanitize_escape(struct buf *out, const char *s, size_t n)
{
	size_t i, done = 0;

	for (i = 0; i < n; i++) {
		const char *rep;

		switch (s[i]) {
		case '&': rep = "&amp;"; break;
		case '<': rep = "&lt;"; break;
		case '>': rep = "&gt;"; break;
		case '"': rep = "&quot;"; break;
		case '\'': rep = "&#39;"; break;
		/* A NUL would end the string for any C reader downstream, and HTML turns it
		 * into U+FFFD anyway. */
		case '\0': rep = "\xef\xbf\xbd"; break;
		default: continue;
		}
		buf_append(out, s + done, i - done);
		buf_puts(out, rep);
		done = i + 1;
	}
	buf_append(out, s + done, n - done);
}

static void
html_sanitize_put_attr(struct buf *out, const char *name, const char *value)
{
	buf_putc(out, ' ');
	buf_puts(out, name);
	buf_puts(out, "=\"");
	html_sanitize_escape(out, value, strlen(value));
	buf_putc(out, '"');
}

/* --- Input normalization ------------------------------------------------------------ */

/* Length of the valid UTF-8 sequence at s (n bytes available) with its code point in *cp,
 * or 0: overlong forms, surrogates and values past U+10FFFF are invalid. */
static size_t
html_sanitize_utf8(const unsigned char *s, size_t n, uint32_t *cp)
{
	uint32_t c = s[0];

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c < 0xc2 || c > 0xf4)
		return 0;
	if (c < 0xe0) {
		if (n < 2 || (s[1] & 0xc0) != 0x80)
			return 0;
		*cp = ((c & 0x1f) << 6) | (s[1] & 0x3f);
		return 2;
	}
	if (c < 0xf0) {
		if (n < 3 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80)
			return 0;
		*cp = ((c & 0x0f) << 12) | ((uint32_t)(s[1] & 0x3f) << 6) | (s[2] & 0x3f);
		if (*cp < 0x800 || (*cp >= 0xd800 && *cp <= 0xdfff))
			return 0;
		return 3;
	}
	if (n < 4 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80 || (s[3] & 0xc0) != 0x80)
		return 0;
	*cp = ((c & 0x07) << 18) | ((uint32_t)(s[1] & 0x3f) << 12) |
	    ((uint32_t)(s[2] & 0x3f) << 6) | (s[3] & 0x3f);
	if (*cp < 0x10000 || *cp > 0x10ffff)
		return 0;
	return 4;
}

/* Copies the body after the "<body>" prefix as clean UTF-8. libxml2 would otherwise read
 * the rest of a body with one bad byte as Latin-1, silently drop control characters, and
 * stop at a NUL; here every such byte becomes U+FFFD (which shows the reader something was
 * there), line ends become LF and a form feed a space, as an HTML tokenizer sees them,
 * and U+FEFF goes. */
static char *
html_sanitize_normalize(struct arena *a, const char *html, size_t len, size_t *outlen)
{
	static const char fffd[] = "\xef\xbf\xbd";
	const unsigned char *s = (const unsigned char *)html;
	size_t plen = sizeof(html_sanitize_prefix) - 1, i = 0, o;
	char *dst;

	if (len > (SIZE_MAX - plen - 1) / 3)
		return NULL;
	dst = arena_alloc(a, plen + len * 3 + 1);
	memcpy(dst, html_sanitize_prefix, plen);
	o = plen;
	while (i < len) {
		uint32_t cp;
		size_t n = html_sanitize_utf8(s + i, len - i, &cp);

		if (n == 0) {
			memcpy(dst + o, fffd, 3);
			o += 3;
			i++;
			continue;
		}
		if (cp == '\r') {
			dst[o++] = '\n';
			i += (i + 1 < len && s[i + 1] == '\n') ? 2 : 1;
			continue;
		}
		if (cp == '\f') {
			dst[o++] = ' ';
		} else if (cp == 0xfeff) {
			/* A byte order mark, or an invisible no-break space: dropped wherever it
			 * is, since dropping it only at the start would make the output differ
			 * from its own sanitization when the text before it goes. */
		} else if ((cp < 0x20 && cp != '\t' && cp != '\n') || cp == 0xfffe ||
		    cp == 0xffff) {
			memcpy(dst + o, fffd, 3);
			o += 3;
		} else {
			memcpy(dst + o, s + i, n);
			o += n;
		}
		i += n;
	}
	dst[o] = '\0';
	*outlen = o;
	return dst;
}

/* --- URLs ----------------------------------------------------------------------------- */

static int
html_sanitize_data_image(const char *s)
{
	static const char *const types[] = {
		"data:image/png;base64,", "data:image/jpeg;base64,", "data:image/jpg;base64,",
		"data:image/gif;base64,", "data:image/webp;base64,", NULL
	};
	const char *p = NULL;
	size_t n;

	for (size_t i = 0; types[i] != NULL; i++) {
		if (html_sanitize_starts_ci(s, types[i])) {
			p = s + strlen(types[i]);
			break;
		}
	}
	if (p == NULL)
		return 0;
	for (n = 0; p[n] != '\0'; n++) {
		unsigned char c = (unsigned char)p[n];

		if (!html_sanitize_is_alnum(c) && c != '+' && c != '/' && c != '=')
			return 0;
	}
	return n > 0 && n <= HS_MAX_DATA_IMAGE;
}

/* Whether v names a script or document scheme anywhere, as a browser would read it with
 * spaces and control characters ignored. Such values have no business in a mail, and
 * refusing them everywhere also covers a page script that might one day copy a title or an
 * alt into a URL. */
static int
html_sanitize_suspect(const char *v)
{
	static const char *const words[] = {
		"javascript:", "vbscript:", "livescript:", "data:text", NULL
	};
	size_t state[4] = { 0, 0, 0, 0 };

	for (; *v != '\0'; v++) {
		unsigned char c = html_sanitize_lower((unsigned char)*v);

		if (c <= 0x20)
			continue;
		for (size_t w = 0; words[w] != NULL; w++) {
			/* No word repeats its first letter, so a mismatch restarts it there. */
			if ((unsigned char)words[w][state[w]] == c)
				state[w]++;
			else
				state[w] = (unsigned char)words[w][0] == c;
			if (words[w][state[w]] == '\0')
				return 1;
		}
	}
	return 0;
}

enum html_sanitize_url
html_sanitize_url(struct arena *a, const char *url, const char **clean)
{
	size_t start = 0, end = strlen(url), i, j;
	char *s;

	*clean = NULL;
	/* What the URL parser does before looking at the scheme: "java\tscript:" and
	 * " javascript:" are javascript: URLs to a browser, so they must be to us. */
	while (start < end && (unsigned char)url[start] <= 0x20)
		start++;
	while (end > start && (unsigned char)url[end - 1] <= 0x20)
		end--;
	s = arena_alloc(a, end - start + 1);
	for (i = start, j = 0; i < end; i++) {
		if (url[i] != '\t' && url[i] != '\n' && url[i] != '\r')
			s[j++] = url[i];
	}
	s[j] = '\0';

	if (html_sanitize_suspect(s))
		return HTML_SANITIZE_URL_BAD;
	if (!html_sanitize_is_alpha((unsigned char)s[0]))
		return HTML_SANITIZE_URL_BAD; /* relative: it would resolve against our origin */
	for (i = 1; html_sanitize_is_alnum((unsigned char)s[i]) || s[i] == '+' || s[i] == '-' ||
	    s[i] == '.'; i++)
		;
	if (s[i] != ':')
		return HTML_SANITIZE_URL_BAD;
	/* "http:path" is relative to a page of the same scheme: only absolute forms pass. */
	if (html_sanitize_eq_ci("http", s, i) || html_sanitize_eq_ci("https", s, i)) {
		if (s[i + 1] != '/' || s[i + 2] != '/')
			return HTML_SANITIZE_URL_BAD;
		*clean = s;
		return HTML_SANITIZE_URL_WEB;
	}
	if (html_sanitize_eq_ci("mailto", s, i)) {
		*clean = s;
		return HTML_SANITIZE_URL_MAILTO;
	}
	if (html_sanitize_eq_ci("cid", s, i)) {
		const char *id = s + i + 1;
		size_t n;

		/* The id becomes a lookup key among the message's parts: the characters of an
		 * address (RFC 5322 atext, "@", "." and URL escapes), no quotes or brackets. */
		for (n = 0; id[n] != '\0'; n++) {
			if (!html_sanitize_is_alnum((unsigned char)id[n]) &&
			    strchr("!#$%&*+-/=?^_{|}~@.", id[n]) == NULL)
				return HTML_SANITIZE_URL_BAD;
		}
		if (n == 0 || n > HS_MAX_CID)
			return HTML_SANITIZE_URL_BAD;
		*clean = id;
		return HTML_SANITIZE_URL_CID;
	}
	if (html_sanitize_eq_ci("data", s, i) && html_sanitize_data_image(s)) {
		*clean = s;
		return HTML_SANITIZE_URL_DATA_IMAGE;
	}
	return HTML_SANITIZE_URL_BAD;
}

/* --- CSS ------------------------------------------------------------------------------ */

static int
html_sanitize_in_list(const char *const *list, const char *s, size_t n)
{
	for (; *list != NULL; list++) {
		if (html_sanitize_eq_ci(*list, s, n))
			return 1;
	}
	return 0;
}

/* Checks a declaration's value (n bytes, trimmed, whitespace collapsed). The characters
 * allowed leave a browser nothing to read but words, numbers, colors and lists of them:
 * no backslash escapes, comments, at-rules, colons (so no javascript:), angle brackets,
 * semicolons or braces; and parentheses only for the color functions. */
static int
html_sanitize_css_value_ok(const char *v, size_t n, enum html_sanitize_css_kind kind)
{
	unsigned char quote = 0;
	int in_function = 0;

	if (n == 0 || n > HS_MAX_CSS_VALUE)
		return 0;
	switch (kind) {
	case HS_CSS_DISPLAY:
		return html_sanitize_in_list(html_sanitize_display, v, n);
	case HS_CSS_FLOAT:
		return html_sanitize_in_list(html_sanitize_float, v, n);
	case HS_CSS_CLEAR:
		return html_sanitize_in_list(html_sanitize_clear, v, n);
	default:
		break;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)v[i];

		if (quote != 0) {
			/* Font names: words, not punctuation that could mean more. */
			if (c == quote)
				quote = 0;
			else if (!html_sanitize_is_alnum(c) && c != ' ' && c != '-' && c != '_' &&
			    c != '.' && c != ',' && c < 0x80)
				return 0;
			continue;
		}
		if (html_sanitize_is_alnum(c) || c == ' ' || c == '#' || c == '%' || c == '.' ||
		    c == ',' || c == '+' || c == '_')
			continue;
		if (c == '-') {
			if (kind == HS_CSS_NONNEG)
				return 0;
			continue;
		}
		if (c == '(') {
			size_t b = i;

			while (b > 0 && html_sanitize_is_alpha((unsigned char)v[b - 1]))
				b--;
			if (in_function || (b > 0 && v[b - 1] != ' ' && v[b - 1] != ',') ||
			    !html_sanitize_in_list(html_sanitize_css_functions, v + b, i - b))
				return 0;
			in_function = 1;
			continue;
		}
		if (c == ')') {
			if (!in_function)
				return 0;
			in_function = 0;
			continue;
		}
		if (kind == HS_CSS_FAMILY && (c == '"' || c == '\'')) {
			quote = c;
			continue;
		}
		if (kind == HS_CSS_FAMILY && c >= 0x80)
			continue;
		return 0;
	}
	return quote == 0 && !in_function;
}

/* Copies [s, s+n) into dst trimmed, with each whitespace run made one space. Returns the
 * length written; dst has room for n + 1 bytes. */
static size_t
html_sanitize_collapse(char *dst, const char *s, size_t n)
{
	size_t o = 0;
	int space = 0;

	for (size_t i = 0; i < n; i++) {
		if (html_sanitize_is_space((unsigned char)s[i])) {
			space = 1;
			continue;
		}
		if (space && o > 0)
			dst[o++] = ' ';
		space = 0;
		dst[o++] = s[i];
	}
	dst[o] = '\0';
	return o;
}

const char *
html_sanitize_style(struct arena *a, const char *css)
{
	char *val = arena_alloc(a, strlen(css) + 1);
	const char *p = css;
	struct buf out;

	buf_init(&out, a);
	/* Declarations are split at every semicolon: one inside a quoted font name leaves an
	 * unbalanced quote on both halves, and both are refused. */
	while (*p != '\0') {
		const char *decl = p, *colon, *end = strchr(p, ';');
		const struct html_sanitize_prop *prop;
		char name[32], *bang;
		size_t nlen = 0, vlen;
		int important = 0;

		if (end == NULL)
			end = p + strlen(p);
		p = *end == ';' ? end + 1 : end;
		colon = memchr(decl, ':', (size_t)(end - decl));
		if (colon == NULL)
			continue;
		while (decl < colon && html_sanitize_is_space((unsigned char)*decl))
			decl++;
		for (const char *q = decl; q < colon; q++) {
			unsigned char c = (unsigned char)*q;

			if (html_sanitize_is_space(c)) {
				/* Only whitespace may follow the name. */
				while (q < colon && html_sanitize_is_space((unsigned char)*q))
					q++;
				if (q != colon)
					nlen = 0;
				break;
			}
			if ((!html_sanitize_is_alpha(c) && c != '-') || nlen + 1 >= sizeof(name)) {
				nlen = 0;
				break;
			}
			name[nlen++] = (char)html_sanitize_lower(c);
		}
		if (nlen == 0)
			continue;
		name[nlen] = '\0';
		prop = bsearch(name, html_sanitize_props, MR_ARRAY_LEN(html_sanitize_props),
		    sizeof(html_sanitize_props[0]), html_sanitize_prop_cmp);
		if (prop == NULL)
			continue;

		vlen = html_sanitize_collapse(val, colon + 1, (size_t)(end - colon - 1));
		/* "!important" is the one use of "!" that CSS has; mail uses it a lot. */
		if ((bang = strchr(val, '!')) != NULL) {
			const char *rest = bang + 1;

			while (*rest == ' ')
				rest++;
			if (!html_sanitize_eq_ci("important", rest, strlen(rest)))
				continue;
			important = 1;
			while (bang > val && bang[-1] == ' ')
				bang--;
			*bang = '\0';
			vlen = (size_t)(bang - val);
		}
		if (!html_sanitize_css_value_ok(val, vlen, prop->kind))
			continue;
		if (out.len > 0)
			buf_puts(&out, "; ");
		buf_puts(&out, prop->name);
		buf_puts(&out, ": ");
		buf_append(&out, val, vlen);
		if (important)
			buf_puts(&out, " !important");
	}
	return out.len > 0 ? out.data : NULL;
}

/* --- Attributes ----------------------------------------------------------------------- */

/* The value of the attribute name of node, "" for an attribute without a value, or NULL. */
static const char *
html_sanitize_attr_get(struct arena *a, const xmlNode *node, const char *name)
{
	for (const xmlAttr *at = node->properties; at != NULL; at = at->next) {
		xmlChar *v;
		char *copy;

		if (at->name == NULL || html_sanitize_cmp_ci((const char *)at->name, name) != 0)
			continue;
		if (at->children == NULL)
			return "";
		if (at->children->next == NULL && at->children->type == XML_TEXT_NODE) {
			v = at->children->content;
			return v != NULL ? (const char *)v : "";
		}
		if ((v = xmlNodeListGetString(node->doc, at->children, 1)) == NULL)
			return "";
		copy = arena_strdup(a, (const char *)v);
		xmlFree(v);
		return copy;
	}
	return NULL;
}

/* v trimmed of ASCII whitespace, in the arena. */
static const char *
html_sanitize_trim(struct arena *a, const char *v, size_t *n)
{
	size_t len = strlen(v);

	while (len > 0 && html_sanitize_is_space((unsigned char)*v)) {
		v++;
		len--;
	}
	while (len > 0 && html_sanitize_is_space((unsigned char)v[len - 1]))
		len--;
	*n = len;
	return arena_strndup(a, v, len);
}

static int
html_sanitize_all(const char *s, size_t n, int (*ok)(unsigned char))
{
	for (size_t i = 0; i < n; i++) {
		if (!ok((unsigned char)s[i]))
			return 0;
	}
	return 1;
}

static int
html_sanitize_face_char(unsigned char c)
{
	return html_sanitize_is_alnum(c) || c == ' ' || c == ',' || c == '-' || c == '_' ||
	    c >= 0x80;
}

static int
html_sanitize_lang_char(unsigned char c)
{
	return html_sanitize_is_alnum(c) || c == '-';
}

/* 100, 100.5, 100%, 100px: what HTML's width and height attributes mean. */
static const char *
html_sanitize_length(struct arena *a, const char *s, size_t n)
{
	size_t i = 0, digits = 0, frac = 0;

	while (i < n && html_sanitize_is_digit((unsigned char)s[i])) {
		i++;
		digits++;
	}
	if (digits == 0 || digits > 5)
		return NULL;
	if (i < n && s[i] == '.') {
		i++;
		while (i < n && html_sanitize_is_digit((unsigned char)s[i])) {
			i++;
			frac++;
		}
		if (frac == 0 || frac > 3)
			return NULL;
	}
	if (i == n || (i + 1 == n && s[i] == '%'))
		return s;
	if (i + 2 == n && html_sanitize_eq_ci("px", s + i, 2))
		return arena_printf(a, "%.*spx", (int)i, s);
	return NULL;
}

/* Returns the value to emit for attribute id, or NULL to drop it. */
static const char *
html_sanitize_attr_value(struct html_sanitize_state *st, enum html_sanitize_attr_id id,
    const char *raw)
{
	const struct html_sanitize_attr *spec = &html_sanitize_attrs[id];
	const char *v, *clean;
	size_t n;

	if (spec->check == HS_CHECK_TEXT)
		return html_sanitize_suspect(raw) ? NULL : raw;
	if (spec->check == HS_CHECK_BOOL)
		return spec->name;
	if (spec->check == HS_CHECK_STYLE)
		return html_sanitize_style(st->arena, raw);
	if (spec->check == HS_CHECK_HREF) {
		switch (html_sanitize_url(st->arena, raw, &clean)) {
		case HTML_SANITIZE_URL_WEB:
		case HTML_SANITIZE_URL_MAILTO:
			return clean;
		default:
			return NULL;
		}
	}
	v = html_sanitize_trim(st->arena, raw, &n);
	if (n == 0)
		return NULL;
	switch (spec->check) {
	case HS_CHECK_LENGTH:
		return html_sanitize_length(st->arena, v, n);
	case HS_CHECK_COUNT:
		return n <= 4 && html_sanitize_all(v, n, html_sanitize_is_digit) ? v : NULL;
	case HS_CHECK_INTEGER:
		if (v[0] == '-')
			return n >= 2 && n <= 10 && html_sanitize_all(v + 1, n - 1,
			    html_sanitize_is_digit) ? v : NULL;
		return n <= 9 && html_sanitize_all(v, n, html_sanitize_is_digit) ? v : NULL;
	case HS_CHECK_COLOR:
		if (v[0] == '#')
			return n >= 2 && n <= 21 && html_sanitize_all(v + 1, n - 1,
			    html_sanitize_is_alnum) ? v : NULL;
		return n <= 20 && html_sanitize_all(v, n, html_sanitize_is_alnum) ? v : NULL;
	case HS_CHECK_ENUM:
		for (const char *const *e = spec->values; *e != NULL; e++) {
			if (html_sanitize_eq_ci(*e, v, n))
				return *e;
		}
		return NULL;
	case HS_CHECK_ENUM_CASE:
		for (const char *const *e = spec->values; *e != NULL; e++) {
			if (strcmp(*e, v) == 0)
				return *e;
		}
		return NULL;
	case HS_CHECK_LANG:
		return n <= 35 && html_sanitize_is_alpha((unsigned char)v[0]) &&
		    html_sanitize_all(v, n, html_sanitize_lang_char) ? v : NULL;
	case HS_CHECK_FACE:
		return n <= 128 && html_sanitize_all(v, n, html_sanitize_face_char) ? v : NULL;
	case HS_CHECK_FONT_SIZE:
		if (v[0] == '+' || v[0] == '-')
			return n == 2 && v[1] >= '1' && v[1] <= '7' ? v : NULL;
		return n == 1 && v[0] >= '1' && v[0] <= '7' ? v : NULL;
	default:
		return NULL;
	}
}

/* Emits the attributes of node that tag allows, in table order, minus those in skip.
 * Returns 1 if an href was emitted. */
static int
html_sanitize_put_attrs(struct html_sanitize_state *st, const xmlNode *node,
    enum html_sanitize_tag_id tag, unsigned skip)
{
	unsigned mask = (html_sanitize_tags[tag].attrs | HS_GLOBAL_ATTRS) & ~skip;
	int href = 0;

	for (unsigned id = 0; id < HS_ATTR_COUNT; id++) {
		const char *raw, *v;

		if ((mask & (1u << id)) == 0)
			continue;
		raw = html_sanitize_attr_get(st->arena, node, html_sanitize_attrs[id].name);
		if (raw == NULL)
			continue;
		if ((v = html_sanitize_attr_value(st, id, raw)) == NULL)
			continue;
		html_sanitize_put_attr(st->out, html_sanitize_attrs[id].name, v);
		if (id == HS_ATTR_HREF)
			href = 1;
	}
	return href;
}

/* --- Structure ------------------------------------------------------------------------ */

/* Whether libxml2, reading <parent><child>, closes parent before opening child (a <div>
 * closes a <p>, a <td> closes a <td>). Asked of libxml2 once per pair. */
static int
html_sanitize_closes(enum html_sanitize_tag_id parent, enum html_sanitize_tag_id child)
{
	unsigned char v = atomic_load_explicit(&html_sanitize_nesting[parent][child],
	    memory_order_relaxed);
	char probe[64];
	htmlDocPtr doc;
	int n, nested = 0;

	if (v != 0)
		return v == 2;
	n = snprintf(probe, sizeof(probe), "<body><%s><%s>", html_sanitize_tags[parent].name,
	    html_sanitize_tags[child].name);
	doc = htmlReadMemory(probe, n, NULL, "UTF-8", HS_PARSE_OPTIONS);
	if (doc == NULL)
		return 0; /* out of memory: answer without remembering */
	for (xmlNode *html = doc->children; html != NULL; html = html->next) {
		for (xmlNode *body = html->children; body != NULL; body = body->next) {
			for (xmlNode *p = body->children; p != NULL; p = p->next) {
				if (p->type != XML_ELEMENT_NODE)
					continue;
				for (xmlNode *c = p->children; c != NULL; c = c->next) {
					nested |= c->type == XML_ELEMENT_NODE &&
					    strcmp((const char *)c->name, html_sanitize_tags[child].name) == 0;
				}
				break;
			}
		}
	}
	xmlFreeDoc(doc);
	atomic_store_explicit(&html_sanitize_nesting[parent][child], nested ? 1 : 2,
	    memory_order_relaxed);
	return !nested;
}

static void
html_sanitize_close_top(struct html_sanitize_state *st)
{
	st->depth--;
	buf_puts(st->out, "</");
	buf_puts(st->out, html_sanitize_tags[st->open[st->depth].tag].name);
	buf_putc(st->out, '>');
}

/* Before tag opens, closes the elements that a reader of the output would close on seeing
 * it: the output then says explicitly what its tree is, and parses back to that tree. */
static void
html_sanitize_make_room(struct html_sanitize_state *st, enum html_sanitize_tag_id tag)
{
	while (st->depth > 0 && html_sanitize_closes(st->open[st->depth - 1].tag, tag))
		html_sanitize_close_top(st);
}

static void
html_sanitize_open_tag(struct html_sanitize_state *st, enum html_sanitize_tag_id tag)
{
	html_sanitize_make_room(st, tag);
	buf_putc(st->out, '<');
	buf_puts(st->out, html_sanitize_tags[tag].name);
}

struct html_sanitize_img {
	const char *src;
	const char *alt;
	const char *width;
	const char *height;
};

/* The span that stands for an image not loaded: the page reveals remote ones on request and
 * will resolve cid: ones from the message's parts. */
static void
html_sanitize_placeholder(struct html_sanitize_state *st, const char *cls, const char *key,
    const char *value, const struct html_sanitize_img *img, const char *title)
{
	html_sanitize_open_tag(st, HS_TAG_SPAN);
	html_sanitize_put_attr(st->out, "class", cls);
	html_sanitize_put_attr(st->out, key, value);
	if (img->alt != NULL && *img->alt != '\0')
		html_sanitize_put_attr(st->out, "data-alt", img->alt);
	if (img->width != NULL)
		html_sanitize_put_attr(st->out, "data-width", img->width);
	if (img->height != NULL)
		html_sanitize_put_attr(st->out, "data-height", img->height);
	html_sanitize_put_attr(st->out, "title", title);
	buf_putc(st->out, '>');
	if (img->alt != NULL && *img->alt != '\0') {
		buf_putc(st->out, '[');
		html_sanitize_escape(st->out, img->alt, strlen(img->alt));
		buf_putc(st->out, ']');
	} else
		buf_puts(st->out, "[image]");
	buf_puts(st->out, "</span>");
}

static const char *
html_sanitize_dimension(struct html_sanitize_state *st, const char *raw)
{
	const char *v;
	size_t n;

	if (raw == NULL)
		return NULL;
	v = html_sanitize_trim(st->arena, raw, &n);
	return n > 0 ? html_sanitize_length(st->arena, v, n) : NULL;
}

/* An <img>, or one of our placeholders read back (node is then the span): the same image
 * whichever form it arrives in, so that sanitizing the output changes nothing. */
static void
html_sanitize_image(struct html_sanitize_state *st, const xmlNode *node,
    const struct html_sanitize_img *in)
{
	struct html_sanitize_img img = *in;
	const char *clean;
	enum html_sanitize_url kind;
	unsigned skip = HS_A(ALT) | HS_A(WIDTH) | HS_A(HEIGHT);

	if (img.alt != NULL && html_sanitize_suspect(img.alt))
		img.alt = NULL;
	img.width = html_sanitize_dimension(st, in->width);
	img.height = html_sanitize_dimension(st, in->height);
	kind = html_sanitize_url(st->arena, in->src != NULL ? in->src : "", &clean);
	if (kind == HTML_SANITIZE_URL_WEB && !st->opts->allow_remote_images) {
		/* A remote image tells the sender when and where the message was read. */
		st->stats->remote_images++;
		html_sanitize_placeholder(st, "mr-blocked-image", "data-src", clean, &img,
		    "Remote image blocked");
		return;
	}
	if (kind == HTML_SANITIZE_URL_CID) {
		st->stats->inline_images++;
		html_sanitize_placeholder(st, "mr-inline-image", "data-cid", clean, &img,
		    "Inline image");
		return;
	}
	if (kind != HTML_SANITIZE_URL_WEB && kind != HTML_SANITIZE_URL_DATA_IMAGE) {
		st->stats->dropped_elements++;
		return;
	}
	html_sanitize_open_tag(st, HS_TAG_IMG);
	html_sanitize_put_attr(st->out, "src", clean);
	if (img.alt != NULL)
		html_sanitize_put_attr(st->out, "alt", img.alt);
	if (img.width != NULL)
		html_sanitize_put_attr(st->out, "width", img.width);
	if (img.height != NULL)
		html_sanitize_put_attr(st->out, "height", img.height);
	if (node->name != NULL && html_sanitize_cmp_ci((const char *)node->name, "img") == 0)
		html_sanitize_put_attrs(st, node, HS_TAG_IMG, skip);
	if (kind == HTML_SANITIZE_URL_WEB)
		html_sanitize_put_attr(st->out, "referrerpolicy", "no-referrer");
	buf_putc(st->out, '>');
}

/* Our own placeholders in the input (the output sanitized again, or a sender imitating
 * them) are read back as the image they stand for. Returns 1 if node was one. */
static int
html_sanitize_read_placeholder(struct html_sanitize_state *st, const xmlNode *node)
{
	const char *cls = html_sanitize_attr_get(st->arena, node, "class"), *v;
	struct html_sanitize_img img;

	if (cls == NULL)
		return 0;
	img.alt = html_sanitize_attr_get(st->arena, node, "data-alt");
	img.width = html_sanitize_attr_get(st->arena, node, "data-width");
	img.height = html_sanitize_attr_get(st->arena, node, "data-height");
	if (strcmp(cls, "mr-blocked-image") == 0) {
		img.src = html_sanitize_attr_get(st->arena, node, "data-src");
	} else if (strcmp(cls, "mr-inline-image") == 0) {
		v = html_sanitize_attr_get(st->arena, node, "data-cid");
		img.src = v != NULL ? arena_printf(st->arena, "cid:%s", v) : NULL;
	} else
		return 0;
	html_sanitize_image(st, node, &img);
	return 1;
}

/* Emits what node's start means. Returns 1 if the walk should go into its children. */
static int
html_sanitize_enter(struct html_sanitize_state *st, const xmlNode *node)
{
	const struct html_sanitize_elem *e;
	enum html_sanitize_tag_id tag;
	struct html_sanitize_img img;

	e = bsearch(node->name, html_sanitize_elems, MR_ARRAY_LEN(html_sanitize_elems),
	    sizeof(html_sanitize_elems[0]), html_sanitize_elem_cmp);
	if (e == NULL || e->action == HS_UNWRAP)
		return 1;
	if (e->action == HS_DROP || e->action == HS_DROP_VOID) {
		st->stats->dropped_elements++;
		return e->action == HS_DROP_VOID;
	}
	if (e->action == HS_IMAGE) {
		img.src = html_sanitize_attr_get(st->arena, node, "src");
		img.alt = html_sanitize_attr_get(st->arena, node, "alt");
		img.width = html_sanitize_attr_get(st->arena, node, "width");
		img.height = html_sanitize_attr_get(st->arena, node, "height");
		html_sanitize_image(st, node, &img);
		return 0;
	}
	tag = e->tag;
	if (tag == HS_TAG_SPAN && html_sanitize_read_placeholder(st, node))
		return 0;
	/* Void elements take no content: any children libxml2 gave them follow them. */
	if (!html_sanitize_tags[tag].is_void && st->depth == HS_MAX_DEPTH)
		return 1;
	html_sanitize_open_tag(st, tag);
	if (html_sanitize_put_attrs(st, node, tag, 0) && tag == HS_TAG_A) {
		/* A link opens outside our page, which it can neither script through
		 * window.opener nor learn the address of. */
		html_sanitize_put_attr(st->out, "rel", "noopener noreferrer nofollow");
		html_sanitize_put_attr(st->out, "target", "_blank");
	}
	buf_putc(st->out, '>');
	if (!html_sanitize_tags[tag].is_void) {
		st->open[st->depth].node = node;
		st->open[st->depth].tag = tag;
		st->depth++;
	}
	return 1;
}

static void
html_sanitize_leave(struct html_sanitize_state *st, const xmlNode *node)
{
	/* An element closed early by a later sibling's tag has already left the stack. */
	if (st->depth > 0 && st->open[st->depth - 1].node == node)
		html_sanitize_close_top(st);
}

/* Walks the tree without recursion: document order through the parent, child and sibling
 * links, so that no input can exhaust the C stack. */
static void
html_sanitize_walk(struct html_sanitize_state *st, xmlDocPtr doc)
{
	xmlNode *node = doc->children;

	while (node != NULL) {
		int descend = 0;

		if (node->type == XML_ELEMENT_NODE)
			descend = html_sanitize_enter(st, node);
		else if (node->type == XML_TEXT_NODE && node->content != NULL)
			html_sanitize_escape(st->out, (const char *)node->content,
			    strlen((const char *)node->content));
		/* Comments, processing instructions, CDATA (the content of script and
		 * style), DTD nodes: nothing a mail needs. */
		if (descend && node->children != NULL) {
			node = node->children;
			continue;
		}
		for (;;) {
			if (node->type == XML_ELEMENT_NODE)
				html_sanitize_leave(st, node);
			if (node->next != NULL) {
				node = node->next;
				break;
			}
			node = node->parent;
			if (node == NULL || node == (xmlNode *)doc) {
				node = NULL;
				break;
			}
		}
	}
	while (st->depth > 0)
		html_sanitize_close_top(st);
}

int
html_sanitize_fragment_stats(struct arena *a, const char *html, size_t len,
    const struct html_sanitize_opts *opts, struct buf *out, struct html_sanitize_stats *stats)
{
	static const struct html_sanitize_opts defaults = { 0 };
	struct html_sanitize_stats scratch;
	struct html_sanitize_state *st;
	htmlDocPtr doc;
	size_t srclen;
	char *src;

	pthread_once(&html_sanitize_once, html_sanitize_init);
	if (stats == NULL)
		stats = &scratch;
	memset(stats, 0, sizeof(*stats));
	if ((src = html_sanitize_normalize(a, html, len, &srclen)) == NULL || srclen > INT_MAX)
		return -1;
	doc = htmlReadMemory(src, (int)srclen, NULL, "UTF-8", HS_PARSE_OPTIONS);
	if (doc == NULL)
		return -1;
	st = arena_alloc(a, sizeof(*st));
	st->arena = a;
	st->out = out;
	st->opts = opts != NULL ? opts : &defaults;
	st->stats = stats;
	st->depth = 0;
	html_sanitize_walk(st, doc);
	xmlFreeDoc(doc);
	return 0;
}

int
html_sanitize_fragment(struct arena *a, const char *html, size_t len,
    const struct html_sanitize_opts *opts, struct buf *out)
{
	return html_sanitize_fragment_stats(a, html, len, opts, out, NULL);
}
