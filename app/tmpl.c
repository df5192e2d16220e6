/* tmpl.c: the template engine. Templates are parsed with libxml2's HTML parser at start-up
 * and compiled into flat programs of pre-serialized static chunks and dynamic ops; rendering
 * walks the ops with a jansson context and never parses HTML (except inside m-html). */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>
#include <libxml/HTMLparser.h>
#include <libxml/parserInternals.h>
#include <libxml/xmlerror.h>

#include "arena.h"
#include "html-sanitize.h"
#include "tmpl.h"
#include "util.h"

/* The sanitizer's interface as this module uses it: should it change, the build must stop
 * here rather than pass m-html values through something else. */
int html_sanitize_fragment(struct arena *a, const char *html, size_t len,
    const struct html_sanitize_opts *opts, struct buf *out);

/* libxml2 2.12 made the error argument of structured handlers const. */
#if LIBXML_VERSION >= 21200
typedef const xmlError *tmpl_xml_error;
#else
typedef xmlErrorPtr tmpl_xml_error;
#endif

#define TMPL_MAX_FILE (4 * 1024 * 1024)
#define TMPL_MAX_DIR_DEPTH 16
#define TMPL_MAX_EXPR_DEPTH 32
#define TMPL_DOCTYPE "<!DOCTYPE html>\n"
#define TMPL_FFFD "\xef\xbf\xbd"

/* --- Types ------------------------------------------------------------------------- */

enum tmpl_expr_kind {
	TMPL_EX_PATH, TMPL_EX_STR, TMPL_EX_INT, TMPL_EX_BOOL, TMPL_EX_NULL,
	TMPL_EX_NOT, TMPL_EX_AND, TMPL_EX_OR, TMPL_EX_EQ, TMPL_EX_NE, TMPL_EX_CONCAT
};

struct tmpl_seg {
	const char *name;       /* object key */
	size_t len;
	long idx;               /* array index when the segment is all digits, else -1 */
};

/* jansson 2.14 looks keys up by length, which saves a strlen per lookup. */
#if JANSSON_VERSION_HEX >= 0x020e00
#define tmpl_object_get(o, seg) json_object_getn((o), (seg)->name, (seg)->len)
#else
#define tmpl_object_get(o, seg) json_object_get((o), (seg)->name)
#endif

struct tmpl_expr {
	enum tmpl_expr_kind kind;
	const struct tmpl_expr *a, *b;  /* operands */
	const struct tmpl_seg *seg;     /* PATH */
	size_t nseg;
	int is_loop;                    /* PATH rooted at "loop" */
	const char *s;                  /* STR */
	size_t len;
	json_int_t i;                   /* INT; BOOL (0 or 1) */
};

enum tmpl_op_kind {
	TMPL_OP_STATIC,         /* pool bytes, copied as they are */
	TMPL_OP_TEXT,           /* a value as escaped text */
	TMPL_OP_ATTR,           /* ' name="value"', or nothing */
	TMPL_OP_CLASS,          /* the class attribute, static and dynamic classes merged */
	TMPL_OP_IF,             /* when the condition fails, jump to end */
	TMPL_OP_EACH,           /* [pc + 1, end) once per array element */
	TMPL_OP_INCLUDE,        /* a partial's body */
	TMPL_OP_SLOT,           /* the page's fill, or [pc + 1, end) */
	TMPL_OP_JSON,           /* a value as JSON safe inside <script> */
	TMPL_OP_HTML            /* a value through the sanitizer */
};

#define TMPL_ATTR_URL 1         /* ATTR: the value must pass tmpl_safe_url */
#define TMPL_ATTR_BOOL 2        /* ATTR: present or absent, by truthiness */
#define TMPL_TEXT_LF 4          /* TEXT in <pre>/<textarea>: parsers drop a leading newline */

struct tmpl_class_cond {
	const char *name;       /* escaped */
	size_t len;
	const struct tmpl_expr *expr;
};

struct tmpl_class {
	const char *fixed;      /* escaped static classes, or NULL */
	size_t fixedlen;
	const struct tmpl_expr *value;  /* m-class or m-attr-class */
	struct tmpl_class_cond *cond;
	size_t ncond;
};

struct tmpl;

struct tmpl_op {
	enum tmpl_op_kind kind;
	int flags;
	int negate;             /* IF: m-unless */
	long line;              /* INCLUDE: for the cycle message */
	size_t off, len;        /* STATIC: bytes in the pool; ATTR: length of name */
	size_t end;             /* IF, EACH, SLOT: index past the ops they govern */
	const char *name;       /* ATTR: " name"; EACH: the item's name; SLOT: slot name */
	const struct tmpl_expr *expr;
	struct tmpl *target;            /* INCLUDE */
	const struct tmpl_class *cls;   /* CLASS */
};

struct tmpl_range {
	const char *name;
	size_t start, end;
	long line;
};

struct tmpl {
	const char *name;       /* "pages/inbox.html" */
	const char *path;       /* for messages */
	const char *text;
	size_t textlen;
	char *owned;            /* text read from a file */
	xmlDocPtr doc;          /* between parsing and the end of loading */
	struct tmpl_op *ops;
	size_t nops, capops;
	struct buf pool;        /* the static chunks */
	size_t body_start, body_end;    /* what an include inserts */
	const struct tmpl *layout;
	struct tmpl_range *fills, *frags, *slots;
	size_t nfills, nfrags, nslots;
	int visit;              /* include-cycle search: 0 new, 1 open, 2 done */
};

struct tmpl_set {
	struct arena *arena;
	struct tmpl **t;        /* by name */
	size_t n;
	json_t *manifest;       /* during loading */
	const char *manifest_path;
};

/* Compiler state for one template. */
struct tmpl_cc {
	struct tmpl_set *set;
	struct tmpl *t;
	size_t pending;         /* pool offset where the unflushed static bytes start */
	int in_fill;
	int in_cond;            /* inside m-if, m-unless or m-each */
	char *err;
	size_t errlen;
};

/* The directives of one element. */
struct tmpl_dirs {
	xmlAttrPtr text, html, json, cond_if, cond_unless, each, include, with, layout;
	xmlAttrPtr slot, fill, fragment, cls, attr_class;
	size_t nattr, nclassif, nstatic, any;
};

/* Render state. */
struct tmpl_loop {
	const char *var;
	const json_t *item;
	size_t idx, count;
	const struct tmpl_loop *parent;
};

struct tmpl_scope {
	const json_t *root;
	const struct tmpl_loop *loop;
};

struct tmpl_run {
	const struct tmpl *page;        /* provides the fills of the layout's slots */
	struct buf *out;
	struct arena *arena;
};

enum tmpl_value_kind {
	TMPL_V_NULL, TMPL_V_BOOL, TMPL_V_INT, TMPL_V_REAL, TMPL_V_STR, TMPL_V_JSON
};

struct tmpl_value {
	enum tmpl_value_kind kind;      /* TMPL_V_JSON: an array or an object */
	int b;
	json_int_t i;
	double d;
	const char *s;
	size_t len;
	const json_t *j;        /* the context value it came from, if any */
};

/* --- Tables ------------------------------------------------------------------------ */

/* HTML5's void elements, plus the obsolete ones libxml2 also parses as empty. */
static const char *const tmpl_void_elements[] = {
	"area", "base", "basefont", "bgsound", "br", "col", "embed", "frame", "hr", "img",
	"input", "isindex", "keygen", "link", "meta", "param", "source", "track", "wbr", NULL
};

static const char *const tmpl_bool_attrs[] = {
	"allowfullscreen", "async", "autofocus", "autoplay", "checked", "compact", "controls",
	"declare", "default", "defer", "disabled", "formnovalidate", "hidden", "inert", "ismap",
	"itemscope", "loop", "multiple", "muted", "nohref", "nomodule", "noresize", "noshade",
	"novalidate", "nowrap", "open", "playsinline", "readonly", "required", "reversed",
	"selected", NULL
};

/* Attributes a browser loads or navigates to. */
static const char *const tmpl_url_attrs[] = {
	"href", "src", "action", "formaction", "poster", "cite", "data", "background",
	"longdesc", "manifest", "codebase", "icon", "profile", "xlink:href", "hx-get",
	"hx-post", "hx-put", "hx-patch", "hx-delete", "hx-push-url", "hx-replace-url", NULL
};

/* htmx attributes that hold selectors, swap styles or plain text; the others can carry
 * script (hx-on, hx-vals "js:", hx-trigger filters) or reshape requests. */
static const char *const tmpl_hx_plain_attrs[] = {
	"hx-target", "hx-swap", "hx-select", "hx-select-oob", "hx-confirm", "hx-indicator",
	"hx-include", "hx-disabled-elt", "hx-prompt", "hx-boost", "hx-sync", NULL
};

/* SVG animation elements can rewrite other attributes (an href) at run time. */
static const char *const tmpl_svg_animations[] = {
	"animate", "animatemotion", "animatetransform", "set", NULL
};

static const char *const tmpl_directive_names[] = {
	"m-text", "m-html", "m-json", "m-if", "m-unless", "m-each", "m-include", "m-with",
	"m-layout", "m-slot", "m-fill", "m-fragment", "m-class", "m-static-href",
	"m-static-src", NULL
};

static int
tmpl_in_list(const char *s, const char *const *list)
{
	for (; *list != NULL; list++) {
		if (strcmp(s, *list) == 0)
			return 1;
	}
	return 0;
}

static int
tmpl_is(xmlNodePtr n, const char *name)
{
	return n != NULL && n->type == XML_ELEMENT_NODE &&
	    strcmp((const char *)n->name, name) == 0;
}

/* ASCII classes: <ctype.h> answers for bytes above 0x7f by the locale, and what a URL
 * scheme or a template name is must not change with it. */
static int
tmpl_alpha(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int
tmpl_digit(int c)
{
	return c >= '0' && c <= '9';
}

static int
tmpl_alnum(int c)
{
	return tmpl_alpha(c) || tmpl_digit(c);
}

static int
tmpl_lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

/* --- Errors ------------------------------------------------------------------------ */

static int tmpl_verrf(char *err, size_t errlen, const char *path, long line,
    const char *fmt, va_list ap) MR_PRINTF(5, 0);
static int tmpl_errf(char *err, size_t errlen, const char *path, long line,
    const char *fmt, ...) MR_PRINTF(5, 6);
static int tmpl_cc_fail(struct tmpl_cc *cc, xmlNodePtr node, const char *fmt, ...)
    MR_PRINTF(3, 4);

static int
tmpl_verrf(char *err, size_t errlen, const char *path, long line, const char *fmt,
    va_list ap)
{
	int n = 0;

	if (err == NULL || errlen == 0)
		return -1;
	err[0] = '\0';
	if (path != NULL)
		n = snprintf(err, errlen, "%s:%ld: ", path, line);
	if (n >= 0 && (size_t)n < errlen)
		vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
	return -1;
}

static int
tmpl_errf(char *err, size_t errlen, const char *path, long line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	tmpl_verrf(err, errlen, path, line, fmt, ap);
	va_end(ap);
	return -1;
}

static int
tmpl_cc_fail(struct tmpl_cc *cc, xmlNodePtr node, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	tmpl_verrf(cc->err, cc->errlen, cc->t->path, node != NULL ? xmlGetLineNo(node) : 1,
	    fmt, ap);
	va_end(ap);
	return -1;
}

/* --- Escaping ---------------------------------------------------------------------- */

/* Length of the UTF-8 sequence at s that libxml2 and XML accept as a character, or 0:
 * what util_utf8_decode refuses, and U+FFFE/U+FFFF. */
static size_t
tmpl_utf8_len(const unsigned char *s, size_t n)
{
	uint32_t cp;
	size_t len = util_utf8_decode(s, n, &cp);

	return len == 0 || cp == 0xfffe || cp == 0xffff ? 0 : len;
}

/* Room for extra more bytes in b. buf_append grows the same way; rendering writes into the
 * reserved space directly rather than append by append. */
static void
tmpl_reserve(struct buf *b, size_t extra)
{
	size_t want = b->len + extra + 1, cap = b->cap;

	if (want <= cap)
		return;
	while (cap < want)
		cap *= 2;
	b->data = arena_realloc(b->arena, b->data, b->len + 1, cap);
	b->cap = cap;
}

static inline void
tmpl_put(struct buf *b, const char *s, size_t n)
{
	tmpl_reserve(b, n);
	memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = '\0';
}

#define TMPL_R16(x) x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x

/* Per byte: 1 escaped everywhere, 2 escaped in attribute values, 4 a control or the
 * start of a multi-byte sequence, looked at closer. */
static const unsigned char tmpl_esc_class[256] = {
	4, 4, 4, 4, 4, 4, 4, 4, 4, 0, 0, 4, 4, 0, 4, 4,         /* tab, LF, CR pass */
	TMPL_R16(4),
	0, 0, 2, 0, 0, 0, 1, 2, 0, 0, 0, 0, 0, 0, 0, 0,         /* " & ' */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0,         /* < > */
	TMPL_R16(0), TMPL_R16(0), TMPL_R16(0), TMPL_R16(0),
	TMPL_R16(4), TMPL_R16(4), TMPL_R16(4), TMPL_R16(4),
	TMPL_R16(4), TMPL_R16(4), TMPL_R16(4), TMPL_R16(4)
};

#define TMPL_ONES 0x0101010101010101ULL
#define TMPL_HIGHS 0x8080808080808080ULL

/* Whether any byte of the word may need escaping: a control, a non-ASCII byte, & < > (and
 * " ' in attributes). Tab, LF and CR also answer yes; the byte loop lets them through. */
static int
tmpl_word_special(uint64_t x, int attr)
{
	uint64_t amp = x ^ (TMPL_ONES * '&'), lt = x ^ (TMPL_ONES * '<');
	uint64_t gt = x ^ (TMPL_ONES * '>');
	uint64_t hit = (x - TMPL_ONES * 0x20) | x;      /* below 0x20, or 0x80 and above */

	hit |= (amp - TMPL_ONES) & ~amp;
	hit |= (lt - TMPL_ONES) & ~lt;
	hit |= (gt - TMPL_ONES) & ~gt;
	if (attr) {
		uint64_t dq = x ^ (TMPL_ONES * '"'), sq = x ^ (TMPL_ONES * '\'');

		hit |= (dq - TMPL_ONES) & ~dq;
		hit |= (sq - TMPL_ONES) & ~sq;
	}
	return (hit & TMPL_HIGHS) != 0;
}

/* The one escaper of each context: text escapes & < >, attribute values also " and '.
 * Bytes that are not characters of an HTML document (NUL and the other C0 controls but
 * tab, LF and CR; invalid UTF-8, one per byte; U+FFFE, U+FFFF) become U+FFFD, as a
 * browser would show them, so that the output always re-parses cleanly. */
static void
tmpl_escape(struct buf *b, const char *s, size_t n, int attr)
{
	const unsigned char *u = (const unsigned char *)s;
	unsigned mask = attr ? 7 : 5;
	size_t i = 0;

	while (i < n) {
		/* Each input byte gives at most 6 output bytes ("&quot;"). */
		size_t end = n - i < 4096 ? n : i + 4096;
		char *o;

		tmpl_reserve(b, (end - i) * 6);
		o = b->data + b->len;
		while (i < end) {
			size_t start = i, len;
			unsigned char c;

			for (;;) {
				size_t lim;
				uint64_t x;

				while (i + 8 <= end) {
					memcpy(&x, u + i, 8);
					if (tmpl_word_special(x, attr))
						break;
					i += 8;
				}
				lim = i + 8 < end ? i + 8 : end;
				while (i < lim && (tmpl_esc_class[u[i]] & mask) == 0)
					i++;
				if (i < lim || i == end)
					break;
			}
			memcpy(o, s + start, i - start);
			o += i - start;
			if (i == end)
				break;
			c = u[i++];
			switch (c) {
			case '&': memcpy(o, "&amp;", 5); o += 5; continue;
			case '<': memcpy(o, "&lt;", 4); o += 4; continue;
			case '>': memcpy(o, "&gt;", 4); o += 4; continue;
			case '"': memcpy(o, "&quot;", 6); o += 6; continue;
			case '\'': memcpy(o, "&#39;", 5); o += 5; continue;
			default: break;
			}
			if (c >= 0x80 && (len = tmpl_utf8_len(u + i - 1, n - i + 1)) != 0) {
				/* May run past end by 3 bytes: still within the reserve. */
				memcpy(o, s + i - 1, len);
				o += len;
				i += len - 1;
				continue;
			}
			memcpy(o, TMPL_FFFD, 3);
			o += 3;
		}
		b->len = (size_t)(o - b->data);
	}
	b->data[b->len] = '\0';
}

/* Percent-encodes all but RFC 3986's unreserved characters: a value joined into a URL
 * stays one component and cannot add a path segment, a query or a scheme. */
static void
tmpl_url_encode(struct buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	char *o;

	tmpl_reserve(b, n * 3);
	o = b->data + b->len;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (tmpl_alnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
			*o++ = (char)c;
		} else {
			*o++ = '%';
			*o++ = hex[c >> 4];
			*o++ = hex[c & 15];
		}
	}
	b->len = (size_t)(o - b->data);
	b->data[b->len] = '\0';
}

const char *
tmpl_safe_url(const char *url, size_t *len)
{
	static const char *const allowed[] = { "http", "https", "mailto", NULL };
	char scheme[8];
	size_t i = 0, n = *len, sl = 0;

	/* As the URL standard parses: leading C0 controls and spaces are stripped, tabs and
	 * newlines anywhere are ignored, and a scheme is an ASCII letter followed by letters,
	 * digits, "+", "-" or "." up to a ":"; anything else before the ":" means none. */
	while (i < n && (unsigned char)url[i] <= 0x20)
		i++;
	for (; i < n; i++) {
		unsigned char c = (unsigned char)url[i];

		if (c == '\t' || c == '\n' || c == '\r')
			continue;
		if (c == ':')
			break;
		if (!tmpl_alpha(c) &&
		    !(sl > 0 && (tmpl_digit(c) || c == '+' || c == '-' || c == '.')))
			return url;
		if (sl < sizeof(scheme))
			scheme[sl] = (char)tmpl_lower(c);
		sl++;
	}
	if (i == n || sl == 0)
		return url;
	for (const char *const *a = allowed; *a != NULL; a++) {
		if (strlen(*a) == sl && memcmp(*a, scheme, sl) == 0)
			return url;
	}
	*len = 1;
	return "#";
}

/* --- Expressions ------------------------------------------------------------------- */

struct tmpl_lex {
	struct tmpl_cc *cc;
	xmlNodePtr node;
	const char *dir;        /* the directive, for messages */
	const char *src;
	const char *p;
	int depth;
};

static const struct tmpl_expr *tmpl_parse_or(struct tmpl_lex *lx);

static const struct tmpl_expr *
tmpl_lex_fail(struct tmpl_lex *lx, const char *msg)
{
	tmpl_cc_fail(lx->cc, lx->node, "%s=\"%s\": %s at column %d", lx->dir, lx->src, msg,
	    (int)(lx->p - lx->src) + 1);
	return NULL;
}

static void
tmpl_lex_space(struct tmpl_lex *lx)
{
	while (*lx->p == ' ' || *lx->p == '\t' || *lx->p == '\n' || *lx->p == '\r')
		lx->p++;
}

static int
tmpl_ident_start(char c)
{
	return tmpl_alpha((unsigned char)c) || c == '_';
}

static int
tmpl_ident_char(char c)
{
	return tmpl_alnum((unsigned char)c) || c == '_';
}

static size_t
tmpl_lex_ident(const char *p)
{
	size_t n = 0;

	if (!tmpl_ident_start(p[0]))
		return 0;
	while (tmpl_ident_char(p[n]))
		n++;
	return n;
}

/* Consumes the keyword w when it is the next token. */
static int
tmpl_lex_word(struct tmpl_lex *lx, const char *w)
{
	size_t n;

	tmpl_lex_space(lx);
	n = tmpl_lex_ident(lx->p);
	if (n != strlen(w) || memcmp(lx->p, w, n) != 0)
		return 0;
	lx->p += n;
	return 1;
}

static int
tmpl_is_keyword(const char *s, size_t n)
{
	static const char *const words[] = {
		"and", "or", "not", "true", "false", "null", "in", NULL
	};

	for (const char *const *w = words; *w != NULL; w++) {
		if (strlen(*w) == n && memcmp(*w, s, n) == 0)
			return 1;
	}
	return 0;
}

static struct tmpl_expr *
tmpl_expr_new(struct tmpl_lex *lx, enum tmpl_expr_kind kind)
{
	struct tmpl_expr *e = arena_calloc(lx->cc->set->arena, 1, sizeof(*e));

	e->kind = kind;
	return e;
}

static const struct tmpl_expr *
tmpl_parse_string(struct tmpl_lex *lx)
{
	char quote = *lx->p++;
	struct buf b;
	struct tmpl_expr *e;

	buf_init(&b, lx->cc->set->arena);
	for (;;) {
		char c = *lx->p;

		if (c == '\0')
			return tmpl_lex_fail(lx, "unterminated string");
		lx->p++;
		if (c == quote)
			break;
		if (c == '\\') {
			if (*lx->p != quote && *lx->p != '\\')
				return tmpl_lex_fail(lx,
				    "only \\\\ and \\' (or \\\") are escapes");
			c = *lx->p++;
		}
		buf_putc(&b, c);
	}
	e = tmpl_expr_new(lx, TMPL_EX_STR);
	e->s = b.data;
	e->len = b.len;
	return e;
}

static const struct tmpl_expr *
tmpl_parse_number(struct tmpl_lex *lx)
{
	struct tmpl_expr *e;
	long long v;
	char *end;

	errno = 0;
	v = strtoll(lx->p, &end, 10);
	if (errno != 0)
		return tmpl_lex_fail(lx, "number out of range");
	lx->p = end;
	if (tmpl_ident_char(*lx->p) || *lx->p == '.')
		return tmpl_lex_fail(lx, "only integers are numbers here");
	e = tmpl_expr_new(lx, TMPL_EX_INT);
	e->i = (json_int_t)v;
	return e;
}

static const struct tmpl_expr *
tmpl_parse_path(struct tmpl_lex *lx, size_t n)
{
	struct arena *a = lx->cc->set->arena;
	struct tmpl_seg seg[64];
	struct tmpl_seg *copy;
	struct tmpl_expr *e;
	size_t nseg = 0;

	for (;;) {
		int digits = 0;

		if (nseg == MR_ARRAY_LEN(seg))
			return tmpl_lex_fail(lx, "path too long");
		if (n == 0) {
			while (tmpl_digit((unsigned char)lx->p[n]))
				n++;
			digits = n > 0;
			if (n == 0 || tmpl_ident_char(lx->p[n]))
				return tmpl_lex_fail(lx,
				    "expected a name or an index after '.'");
		}
		seg[nseg].name = arena_strndup(a, lx->p, n);
		seg[nseg].len = n;
		seg[nseg].idx = -1;
		if (digits && n <= 9)
			seg[nseg].idx = strtol(seg[nseg].name, NULL, 10);
		nseg++;
		lx->p += n;
		if (*lx->p != '.')
			break;
		lx->p++;
		n = tmpl_lex_ident(lx->p);
	}
	copy = arena_alloc(a, nseg * sizeof(*copy));
	memcpy(copy, seg, nseg * sizeof(*copy));
	e = tmpl_expr_new(lx, TMPL_EX_PATH);
	e->seg = copy;
	e->nseg = nseg;
	e->is_loop = strcmp(copy[0].name, "loop") == 0;
	return e;
}

static const struct tmpl_expr *
tmpl_parse_primary(struct tmpl_lex *lx)
{
	struct tmpl_expr *e;
	const struct tmpl_expr *inner;
	char c;
	size_t n;

	tmpl_lex_space(lx);
	c = *lx->p;
	if (c == '(') {
		lx->p++;
		if (++lx->depth > TMPL_MAX_EXPR_DEPTH)
			return tmpl_lex_fail(lx, "expression nested too deeply");
		if ((inner = tmpl_parse_or(lx)) == NULL)
			return NULL;
		lx->depth--;
		tmpl_lex_space(lx);
		if (*lx->p != ')')
			return tmpl_lex_fail(lx, "expected ')'");
		lx->p++;
		return inner;
	}
	if (c == '\'' || c == '"')
		return tmpl_parse_string(lx);
	if (tmpl_digit((unsigned char)c) || (c == '-' && tmpl_digit((unsigned char)lx->p[1])))
		return tmpl_parse_number(lx);
	n = tmpl_lex_ident(lx->p);
	if (n == 0)
		return tmpl_lex_fail(lx, c == '\0' ? "expected a value" :
		    "expected a name, a string or a number");
	if (tmpl_is_keyword(lx->p, n)) {
		if (n == 4 && memcmp(lx->p, "true", 4) == 0) {
			e = tmpl_expr_new(lx, TMPL_EX_BOOL);
			e->i = 1;
		} else if (n == 5 && memcmp(lx->p, "false", 5) == 0) {
			e = tmpl_expr_new(lx, TMPL_EX_BOOL);
		} else if (n == 4 && memcmp(lx->p, "null", 4) == 0) {
			e = tmpl_expr_new(lx, TMPL_EX_NULL);
		} else {
			return tmpl_lex_fail(lx, "unexpected keyword");
		}
		lx->p += n;
		if (*lx->p == '.')
			return tmpl_lex_fail(lx, "a literal has no fields");
		return e;
	}
	return tmpl_parse_path(lx, n);
}

static const struct tmpl_expr *
tmpl_parse_concat(struct tmpl_lex *lx)
{
	const struct tmpl_expr *left = tmpl_parse_primary(lx), *right;
	struct tmpl_expr *e;

	while (left != NULL) {
		tmpl_lex_space(lx);
		if (*lx->p != '~')
			break;
		lx->p++;
		if ((right = tmpl_parse_primary(lx)) == NULL)
			return NULL;
		e = tmpl_expr_new(lx, TMPL_EX_CONCAT);
		e->a = left;
		e->b = right;
		left = e;
	}
	return left;
}

static const struct tmpl_expr *
tmpl_parse_cmp(struct tmpl_lex *lx)
{
	const struct tmpl_expr *left = tmpl_parse_concat(lx), *right;
	enum tmpl_expr_kind kind;
	struct tmpl_expr *e;

	if (left == NULL)
		return NULL;
	tmpl_lex_space(lx);
	if (lx->p[0] == '=' && lx->p[1] == '=')
		kind = TMPL_EX_EQ;
	else if (lx->p[0] == '!' && lx->p[1] == '=')
		kind = TMPL_EX_NE;
	else
		return left;
	lx->p += 2;
	if ((right = tmpl_parse_concat(lx)) == NULL)
		return NULL;
	e = tmpl_expr_new(lx, kind);
	e->a = left;
	e->b = right;
	return e;
}

static const struct tmpl_expr *
tmpl_parse_not(struct tmpl_lex *lx)
{
	const struct tmpl_expr *inner;
	struct tmpl_expr *e;

	if (!tmpl_lex_word(lx, "not"))
		return tmpl_parse_cmp(lx);
	if (++lx->depth > TMPL_MAX_EXPR_DEPTH)
		return tmpl_lex_fail(lx, "expression nested too deeply");
	if ((inner = tmpl_parse_not(lx)) == NULL)
		return NULL;
	lx->depth--;
	e = tmpl_expr_new(lx, TMPL_EX_NOT);
	e->a = inner;
	return e;
}

static const struct tmpl_expr *
tmpl_parse_and(struct tmpl_lex *lx)
{
	const struct tmpl_expr *left = tmpl_parse_not(lx), *right;
	struct tmpl_expr *e;

	while (left != NULL && tmpl_lex_word(lx, "and")) {
		if ((right = tmpl_parse_not(lx)) == NULL)
			return NULL;
		e = tmpl_expr_new(lx, TMPL_EX_AND);
		e->a = left;
		e->b = right;
		left = e;
	}
	return left;
}

static const struct tmpl_expr *
tmpl_parse_or(struct tmpl_lex *lx)
{
	const struct tmpl_expr *left = tmpl_parse_and(lx), *right;
	struct tmpl_expr *e;

	while (left != NULL && tmpl_lex_word(lx, "or")) {
		if ((right = tmpl_parse_and(lx)) == NULL)
			return NULL;
		e = tmpl_expr_new(lx, TMPL_EX_OR);
		e->a = left;
		e->b = right;
		left = e;
	}
	return left;
}

static const struct tmpl_expr *
tmpl_parse_end(struct tmpl_lex *lx, const struct tmpl_expr *e)
{
	if (e == NULL)
		return NULL;
	tmpl_lex_space(lx);
	if (*lx->p != '\0')
		return tmpl_lex_fail(lx, "unexpected text");
	return e;
}

static void
tmpl_lex_init(struct tmpl_lex *lx, struct tmpl_cc *cc, xmlNodePtr node, const char *dir,
    const char *src)
{
	lx->cc = cc;
	lx->node = node;
	lx->dir = dir;
	lx->src = src;
	lx->p = src;
	lx->depth = 0;
}

static const struct tmpl_expr *
tmpl_parse_expr(struct tmpl_cc *cc, xmlNodePtr node, const char *dir, const char *src)
{
	struct tmpl_lex lx;

	tmpl_lex_init(&lx, cc, node, dir, src);
	return tmpl_parse_end(&lx, tmpl_parse_or(&lx));
}

/* "item in expr" */
static const struct tmpl_expr *
tmpl_parse_each(struct tmpl_cc *cc, xmlNodePtr node, const char *src, const char **var)
{
	struct tmpl_lex lx;
	size_t n;

	tmpl_lex_init(&lx, cc, node, "m-each", src);
	tmpl_lex_space(&lx);
	n = tmpl_lex_ident(lx.p);
	if (n == 0)
		return tmpl_lex_fail(&lx, "expected \"name in expression\"");
	if (tmpl_is_keyword(lx.p, n) || (n == 4 && memcmp(lx.p, "loop", 4) == 0))
		return tmpl_lex_fail(&lx,
		    "the item cannot be named after a keyword or \"loop\"");
	*var = arena_strndup(cc->set->arena, lx.p, n);
	lx.p += n;
	if (!tmpl_lex_word(&lx, "in"))
		return tmpl_lex_fail(&lx, "expected \"in\"");
	return tmpl_parse_end(&lx, tmpl_parse_or(&lx));
}

/* --- Compiling --------------------------------------------------------------------- */

static struct tmpl *
tmpl_find(const struct tmpl_set *set, const char *name)
{
	size_t lo = 0, hi = set->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(name, set->t[mid]->name);

		if (c == 0)
			return set->t[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

static const struct tmpl_range *
tmpl_range_find(const struct tmpl_range *v, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++) {
		if (strcmp(v[i].name, name) == 0)
			return &v[i];
	}
	return NULL;
}

static struct tmpl_range *
tmpl_range_push(struct tmpl_range **v, size_t *n)
{
	*v = xreallocarray(*v, *n + 1, sizeof(**v));
	memset(&(*v)[*n], 0, sizeof(**v));
	return &(*v)[(*n)++];
}

static struct tmpl_op *
tmpl_cc_push(struct tmpl_cc *cc, enum tmpl_op_kind kind)
{
	struct tmpl *t = cc->t;
	struct tmpl_op *op;

	if (t->nops == t->capops) {
		t->capops = t->capops != 0 ? t->capops * 2 : 32;
		t->ops = xreallocarray(t->ops, t->capops, sizeof(*t->ops));
	}
	op = &t->ops[t->nops++];
	memset(op, 0, sizeof(*op));
	op->kind = kind;
	return op;
}

/* Turns the static bytes written since the last op into one STATIC op. */
static void
tmpl_cc_flush(struct tmpl_cc *cc)
{
	struct tmpl_op *op;

	if (cc->t->pool.len == cc->pending)
		return;
	op = tmpl_cc_push(cc, TMPL_OP_STATIC);
	op->off = cc->pending;
	op->len = cc->t->pool.len - cc->pending;
	cc->pending = cc->t->pool.len;
}

static struct tmpl_op *
tmpl_cc_op(struct tmpl_cc *cc, enum tmpl_op_kind kind)
{
	tmpl_cc_flush(cc);
	return tmpl_cc_push(cc, kind);
}

static void
tmpl_cc_puts(struct tmpl_cc *cc, const char *s)
{
	buf_puts(&cc->t->pool, s);
}

static const char *
tmpl_attr_value(xmlAttrPtr a)
{
	xmlNodePtr c = a->children;

	/* libxml2's HTML parser gives an attribute one text node, or none when bare. */
	if (c == NULL || c->type != XML_TEXT_NODE || c->content == NULL)
		return "";
	return (const char *)c->content;
}

static xmlAttrPtr
tmpl_prop(xmlNodePtr el, const char *prefix, const char *name)
{
	char full[256];
	int n = snprintf(full, sizeof(full), "%s%s", prefix, name);

	if (n < 0 || (size_t)n >= sizeof(full))
		return NULL;
	return xmlHasProp(el, (const xmlChar *)full);
}

static int
tmpl_directive_known(const char *s, size_t n)
{
	for (const char *const *d = tmpl_directive_names; *d != NULL; d++) {
		if (strlen(*d) == n && memcmp(*d, s, n) == 0)
			return 1;
	}
	return (n > 7 && memcmp(s, "m-attr-", 7) == 0) ||
	    (n > 8 && memcmp(s, "m-class-", 8) == 0);
}

/* Why m-attr-NAME may not be set from data on element el, or NULL; sets *flags. */
static const char *
tmpl_attr_refusal(const char *el, const char *name, int *flags)
{
	const char *base = name;

	*flags = 0;
	if (*name == '\0')
		return "needs an attribute name";
	/* The names libxml2 reads back: a letter or "_" first, then letters, digits, "-",
	 * "_", ":" and "." (the parser has lower-cased them already). */
	if (!tmpl_alpha((unsigned char)name[0]) && name[0] != '_')
		return "is not an attribute name";
	for (const char *p = name; *p != '\0'; p++) {
		if (!tmpl_alnum((unsigned char)*p) && strchr("-_:.", *p) == NULL)
			return "is not an attribute name";
	}
	if (strncmp(name, "m-", 2) == 0)
		return "m- names are directives: they never reach the output";
	if (strcmp(el, "base") == 0)
		return "<base> changes every relative URL: its attributes cannot come from "
		    "data";
	if (tmpl_in_list(el, tmpl_svg_animations))
		return "SVG animations can rewrite other attributes: they cannot come from "
		    "data";
	if (strncmp(name, "on", 2) == 0)
		return "event handler attributes run script: they cannot come from data";
	if (strcmp(name, "style") == 0)
		return "style cannot come from data (use m-class)";
	if (strcmp(name, "srcset") == 0 || strcmp(name, "imagesrcset") == 0)
		return "srcset holds several URLs: set src instead";
	if (strcmp(name, "srcdoc") == 0)
		return "srcdoc holds a whole document: it cannot come from data";
	if (strcmp(name, "ping") == 0 || strcmp(name, "http-equiv") == 0)
		return "this attribute cannot come from data";
	if (strncmp(name, "x-", 2) == 0)
		return "Alpine evaluates this attribute as code: it cannot come from data";
	if (strncmp(name, "data-hx-", 8) == 0)
		base = name + 5;
	if (tmpl_in_list(base, tmpl_url_attrs)) {
		*flags = TMPL_ATTR_URL;
		return NULL;
	}
	if (strncmp(base, "hx-", 3) == 0 && !tmpl_in_list(base, tmpl_hx_plain_attrs))
		return "htmx may run this attribute as code or send it with requests: set it "
		    "in the template";
	if (tmpl_in_list(name, tmpl_bool_attrs))
		*flags = TMPL_ATTR_BOOL;
	return NULL;
}

/* Classifies the m- attributes of el. */
static int
tmpl_cc_scan(struct tmpl_cc *cc, xmlNodePtr el, struct tmpl_dirs *d)
{
	memset(d, 0, sizeof(*d));
	for (xmlAttrPtr a = el->properties; a != NULL; a = a->next) {
		const char *an = (const char *)a->name;
		xmlAttrPtr *slot = NULL;

		if (strncmp(an, "m-", 2) != 0)
			continue;
		d->any++;
		if (strcmp(an, "m-text") == 0)
			slot = &d->text;
		else if (strcmp(an, "m-html") == 0)
			slot = &d->html;
		else if (strcmp(an, "m-json") == 0)
			slot = &d->json;
		else if (strcmp(an, "m-if") == 0)
			slot = &d->cond_if;
		else if (strcmp(an, "m-unless") == 0)
			slot = &d->cond_unless;
		else if (strcmp(an, "m-each") == 0)
			slot = &d->each;
		else if (strcmp(an, "m-include") == 0)
			slot = &d->include;
		else if (strcmp(an, "m-with") == 0)
			slot = &d->with;
		else if (strcmp(an, "m-layout") == 0)
			slot = &d->layout;
		else if (strcmp(an, "m-slot") == 0)
			slot = &d->slot;
		else if (strcmp(an, "m-fill") == 0)
			slot = &d->fill;
		else if (strcmp(an, "m-fragment") == 0)
			slot = &d->fragment;
		else if (strcmp(an, "m-class") == 0)
			slot = &d->cls;
		else if (strcmp(an, "m-static-href") == 0 || strcmp(an, "m-static-src") == 0)
			d->nstatic++;
		else if (strncmp(an, "m-attr-", 7) == 0) {
			const char *why;
			int flags;

			why = tmpl_attr_refusal((const char *)el->name, an + 7, &flags);
			if (why != NULL)
				return tmpl_cc_fail(cc, el, "%s: %s", an, why);
			if (strcmp(an + 7, "class") == 0)
				d->attr_class = a;
			if (strcmp(an + 7, "content") == 0 && tmpl_is(el, "meta") &&
			    xmlHasProp(el, (const xmlChar *)"http-equiv") != NULL)
				return tmpl_cc_fail(cc, el, "%s: the content of <meta "
				    "http-equiv> cannot come from data", an);
			d->nattr++;
		} else if (strncmp(an, "m-class-", 8) == 0 && an[8] != '\0')
			d->nclassif++;
		else
			return tmpl_cc_fail(cc, el, "unknown directive %s", an);
		if (slot != NULL)
			*slot = a;
	}
	return 0;
}

/* Directives left in content that m-text, m-html, m-json or m-include replace would
 * silently never run. */
static int
tmpl_cc_dead(struct tmpl_cc *cc, xmlNodePtr el, const char *by)
{
	for (xmlNodePtr n = el->children; n != NULL; n = n->next) {
		if (n->type != XML_ELEMENT_NODE)
			continue;
		for (xmlAttrPtr a = n->properties; a != NULL; a = a->next) {
			if (strncmp((const char *)a->name, "m-", 2) == 0)
				return tmpl_cc_fail(cc, n, "%s is inside an element whose "
				    "content %s replaces: it would never run",
				    (const char *)a->name, by);
		}
		if (tmpl_cc_dead(cc, n, by) == -1)
			return -1;
	}
	return 0;
}

/* Text that looks like a directive inside <script> or <style>, where nothing is
 * processed. */
static int
tmpl_raw_has_directive(const char *s)
{
	for (const char *p = s; (p = strstr(p, "m-")) != NULL; p += 2) {
		size_t n = strspn(p, "abcdefghijklmnopqrstuvwxyz-");

		if ((p == s || strchr(" \t\r\n\f", p[-1]) != NULL) && p[n] == '=' &&
		    tmpl_directive_known(p, n))
			return 1;
	}
	return 0;
}

static int
tmpl_cc_check(struct tmpl_cc *cc, xmlNodePtr el, const struct tmpl_dirs *d)
{
	const char *name = (const char *)el->name;
	int is_raw = strcmp(name, "script") == 0 || strcmp(name, "style") == 0;
	int is_doc = strcmp(name, "html") == 0 || strcmp(name, "head") == 0 ||
	    strcmp(name, "body") == 0;
	size_t ncontent = (d->text != NULL) + (d->html != NULL) + (d->json != NULL) +
	    (d->slot != NULL);

	if (strcmp(name, "html") == 0 && el->parent != NULL &&
	    el->parent->type != XML_HTML_DOCUMENT_NODE && el->parent->type != XML_DOCUMENT_NODE)
		return tmpl_cc_fail(cc, el, "misplaced <html> (content after </html>?)");
	if ((strcmp(name, "head") == 0 || strcmp(name, "body") == 0) &&
	    (!tmpl_is(el->parent, "html") || el->parent->parent == NULL ||
	    el->parent->parent->type != XML_HTML_DOCUMENT_NODE))
		return tmpl_cc_fail(cc, el, "misplaced <%s>", name);
	if (is_doc && d->any != d->nattr + d->nclassif + (d->cls != NULL) + (d->layout != NULL))
		return tmpl_cc_fail(cc, el, "<%s> takes only m-attr-*, m-class and m-layout",
		    name);
	if (d->layout != NULL && strcmp(name, "html") != 0)
		return tmpl_cc_fail(cc, el, "m-layout belongs on <html>");
	/* m-static-src names a build artifact, not data: it may load a script. */
	if (is_raw && d->any != (d->json != NULL) + d->nstatic)
		return tmpl_cc_fail(cc, el, "<%s> takes no directive%s: values never go into "
		    "scripts or styles", name, strcmp(name, "script") == 0 ?
		    " but m-json (on type=\"application/json\") and m-static-src" : "");
	if (d->json != NULL) {
		xmlAttrPtr type = xmlHasProp(el, (const xmlChar *)"type");

		if (strcmp(name, "script") != 0 || type == NULL ||
		    !util_strcaseeq(tmpl_attr_value(type), "application/json"))
			return tmpl_cc_fail(cc, el,
			    "m-json belongs on <script type=\"application/json\">");
	}
	if (ncontent > 1)
		return tmpl_cc_fail(cc, el, "m-text, m-html, m-json and m-slot each give the "
		    "content: use one");
	if (d->include != NULL && d->any != (size_t)(1 + (d->with != NULL) +
	    (d->cond_if != NULL) + (d->cond_unless != NULL) + (d->each != NULL) +
	    (d->fragment != NULL)))
		return tmpl_cc_fail(cc, el, "m-include replaces the element: only m-with, "
		    "m-if, m-unless, m-each and m-fragment go with it");
	if (d->with != NULL && d->include == NULL)
		return tmpl_cc_fail(cc, el, "m-with needs m-include");
	if (tmpl_in_list(name, tmpl_void_elements)) {
		if (ncontent > 0)
			return tmpl_cc_fail(cc, el, "<%s> is a void element: it has no content",
			    name);
		if (el->children != NULL)
			return tmpl_cc_fail(cc, el, "<%s> is a void element but content was "
			    "parsed into it: end it with />", name);
	}
	if (strcmp(name, "title") == 0 || strcmp(name, "textarea") == 0) {
		if (d->html != NULL)
			return tmpl_cc_fail(cc, el, "<%s> holds text: m-html cannot go there",
			    name);
		for (xmlNodePtr c = el->children; c != NULL; c = c->next) {
			if (c->type == XML_ELEMENT_NODE)
				return tmpl_cc_fail(cc, c, "<%s> holds text only: browsers "
				    "would show <%s> as text", name, (const char *)c->name);
		}
	}
	if (d->cls != NULL && d->attr_class != NULL)
		return tmpl_cc_fail(cc, el, "use m-class or m-attr-class, not both");
	for (xmlAttrPtr a = el->properties; a != NULL; a = a->next) {
		const char *an = (const char *)a->name;

		if (strncmp(an, "m-static-", 9) == 0 &&
		    tmpl_prop(el, "m-attr-", an + 9) != NULL)
			return tmpl_cc_fail(cc, el, "%s and m-attr-%s both set %s", an, an + 9,
			    an + 9);
	}
	if (d->text != NULL && tmpl_cc_dead(cc, el, "m-text") == -1)
		return -1;
	if (d->html != NULL && tmpl_cc_dead(cc, el, "m-html") == -1)
		return -1;
	if (d->include != NULL && tmpl_cc_dead(cc, el, "m-include") == -1)
		return -1;
	return 0;
}

static const struct tmpl_expr *
tmpl_cc_expr(struct tmpl_cc *cc, xmlNodePtr el, xmlAttrPtr a)
{
	return tmpl_parse_expr(cc, el, (const char *)a->name, tmpl_attr_value(a));
}

static int
tmpl_cc_class(struct tmpl_cc *cc, xmlNodePtr el, const struct tmpl_dirs *d)
{
	struct arena *ar = cc->set->arena;
	struct tmpl_class *cls = arena_calloc(ar, 1, sizeof(*cls));
	xmlAttrPtr fixed = xmlHasProp(el, (const xmlChar *)"class");
	xmlAttrPtr dyn = d->cls != NULL ? d->cls : d->attr_class;
	struct tmpl_op *op;

	if (fixed != NULL && *tmpl_attr_value(fixed) != '\0') {
		struct buf b;

		buf_init(&b, ar);
		tmpl_escape(&b, tmpl_attr_value(fixed), strlen(tmpl_attr_value(fixed)), 1);
		cls->fixed = b.data;
		cls->fixedlen = b.len;
	}
	if (dyn != NULL && (cls->value = tmpl_cc_expr(cc, el, dyn)) == NULL)
		return -1;
	cls->cond = arena_calloc(ar, d->nclassif, sizeof(*cls->cond));
	for (xmlAttrPtr a = el->properties; a != NULL; a = a->next) {
		const char *an = (const char *)a->name;
		struct tmpl_class_cond *c;
		struct buf b;

		if (strncmp(an, "m-class-", 8) != 0)
			continue;
		c = &cls->cond[cls->ncond++];
		buf_init(&b, ar);
		tmpl_escape(&b, an + 8, strlen(an + 8), 1);
		c->name = b.data;
		c->len = b.len;
		if ((c->expr = tmpl_cc_expr(cc, el, a)) == NULL)
			return -1;
	}
	op = tmpl_cc_op(cc, TMPL_OP_CLASS);
	op->cls = cls;
	return 0;
}

static int
tmpl_cc_static_url(struct tmpl_cc *cc, xmlNodePtr el, xmlAttrPtr a)
{
	const char *an = (const char *)a->name, *asset = tmpl_attr_value(a);
	json_t *hashed;

	if (cc->set->manifest == NULL)
		return tmpl_cc_fail(cc, el, "%s=\"%s\": no asset manifest (%s)", an, asset,
		    cc->set->manifest_path);
	hashed = json_object_get(cc->set->manifest, asset);
	if (!json_is_string(hashed))
		return tmpl_cc_fail(cc, el, "%s=\"%s\": unknown asset (not in %s)", an, asset,
		    cc->set->manifest_path);
	tmpl_cc_puts(cc, " ");
	tmpl_cc_puts(cc, an + 9);
	tmpl_cc_puts(cc, "=\"/static/");
	tmpl_escape(&cc->t->pool, json_string_value(hashed), json_string_length(hashed), 1);
	tmpl_cc_puts(cc, "\"");
	return 0;
}

static int
tmpl_cc_start_tag(struct tmpl_cc *cc, xmlNodePtr el, const struct tmpl_dirs *d)
{
	int class_ops = d->cls != NULL || d->attr_class != NULL || d->nclassif > 0;
	int class_done = 0;

	tmpl_cc_puts(cc, "<");
	tmpl_cc_puts(cc, (const char *)el->name);
	for (xmlAttrPtr a = el->properties; a != NULL; a = a->next) {
		const char *an = (const char *)a->name;
		struct tmpl_op *op;
		const struct tmpl_expr *e;
		int flags;

		/* The class attribute goes where its first part stands; a static class with
		 * no directive is an ordinary attribute. */
		if (class_ops && (strcmp(an, "class") == 0 || strcmp(an, "m-attr-class") == 0 ||
		    strncmp(an, "m-class", 7) == 0)) {
			if (!class_done && tmpl_cc_class(cc, el, d) == -1)
				return -1;
			class_done = 1;
			continue;
		}
		if (strncmp(an, "m-attr-", 7) == 0) {
			if ((e = tmpl_cc_expr(cc, el, a)) == NULL)
				return -1;
			tmpl_attr_refusal((const char *)el->name, an + 7, &flags);
			op = tmpl_cc_op(cc, TMPL_OP_ATTR);
			op->expr = e;
			op->flags = flags;
			op->name = arena_printf(cc->set->arena, " %s", an + 7);
			op->len = strlen(op->name);
			continue;
		}
		if (strncmp(an, "m-static-", 9) == 0) {
			if (tmpl_cc_static_url(cc, el, a) == -1)
				return -1;
			continue;
		}
		if (strncmp(an, "m-", 2) == 0)
			continue;
		/* A static value given also by a directive is a placeholder for the preview. */
		if (tmpl_prop(el, "m-attr-", an) != NULL ||
		    tmpl_prop(el, "m-static-", an) != NULL)
			continue;
		/* libxml2 refuses control characters in text but not in attribute values;
		 * the escaper would turn them into U+FFFD behind the author's back. */
		for (const char *v = tmpl_attr_value(a); *v != '\0'; v++) {
			if ((unsigned char)*v < 0x20 && *v != '\t' && *v != '\n' && *v != '\r')
				return tmpl_cc_fail(cc, el, "control character in the value of %s",
				    an);
		}
		tmpl_cc_puts(cc, " ");
		tmpl_cc_puts(cc, an);
		if (a->children == NULL || (tmpl_in_list(an, tmpl_bool_attrs) &&
		    util_strcaseeq(tmpl_attr_value(a), an)))
			continue;
		tmpl_cc_puts(cc, "=\"");
		tmpl_escape(&cc->t->pool, tmpl_attr_value(a), strlen(tmpl_attr_value(a)), 1);
		tmpl_cc_puts(cc, "\"");
	}
	tmpl_cc_puts(cc, ">");
	return 0;
}

static int tmpl_cc_element(struct tmpl_cc *cc, xmlNodePtr el);

static int
tmpl_cc_children(struct tmpl_cc *cc, xmlNodePtr el)
{
	for (xmlNodePtr n = el->children; n != NULL; n = n->next) {
		if (n->type == XML_ELEMENT_NODE) {
			if (tmpl_cc_element(cc, n) == -1)
				return -1;
		} else if (n->type == XML_TEXT_NODE && n->content != NULL) {
			const char *s = (const char *)n->content;

			/* libxml2 keeps a stray "<" at the end of a file as text, even in
			 * <head>; no parser puts text there, so the output would not read back
			 * the same. */
			if ((tmpl_is(el, "html") || tmpl_is(el, "head")) &&
			    s[strspn(s, " \t\r\n\f")] != '\0')
				return tmpl_cc_fail(cc, n, "text directly inside <%s>",
				    (const char *)el->name);
			tmpl_escape(&cc->t->pool, s, strlen(s), 0);
		}
		/* Comments and processing instructions are notes for template authors. */
	}
	return 0;
}

/* <script> and <style> content is raw text: copied as it was parsed, which cannot hold
 * the element's end tag. */
static int
tmpl_cc_raw(struct tmpl_cc *cc, xmlNodePtr el)
{
	for (xmlNodePtr n = el->children; n != NULL; n = n->next) {
		const char *s = (const char *)n->content;

		if (s == NULL ||
		    (n->type != XML_CDATA_SECTION_NODE && n->type != XML_TEXT_NODE))
			continue;
		if (tmpl_raw_has_directive(s))
			return tmpl_cc_fail(cc, el, "directives inside <%s> are not processed: "
			    "values never go into scripts or styles", (const char *)el->name);
		tmpl_cc_puts(cc, s);
	}
	return 0;
}

static int
tmpl_cc_fill(struct tmpl_cc *cc, xmlNodePtr el, const struct tmpl_dirs *d)
{
	const char *name = tmpl_attr_value(d->fill);
	struct tmpl_range *r;
	struct tmpl *t = cc->t;
	size_t start;

	if (*name == '\0')
		return tmpl_cc_fail(cc, el, "m-fill needs a slot name");
	if (t->layout == NULL)
		return tmpl_cc_fail(cc, el, "m-fill=\"%s\" without m-layout on <html>", name);
	if (d->any != (size_t)(1 + (d->text != NULL) + (d->html != NULL)))
		return tmpl_cc_fail(cc, el, "m-fill=\"%s\" takes no other directive but m-text "
		    "or m-html", name);
	if (cc->in_fill)
		return tmpl_cc_fail(cc, el, "m-fill=\"%s\" inside another m-fill", name);
	if (cc->in_cond)
		return tmpl_cc_fail(cc, el, "m-fill=\"%s\" inside m-if, m-unless or m-each: "
		    "fills always go to the layout", name);
	if (tmpl_range_find(t->fills, t->nfills, name) != NULL)
		return tmpl_cc_fail(cc, el, "m-fill=\"%s\" given twice", name);
	tmpl_cc_flush(cc);
	start = t->nops;
	cc->in_fill++;
	if (d->text != NULL || d->html != NULL) {
		/* <title m-fill="title" m-text="..."> is how a page gives its title. */
		xmlAttrPtr a = d->text != NULL ? d->text : d->html;
		const struct tmpl_expr *e = tmpl_cc_expr(cc, el, a);
		struct tmpl_op *op;

		if (e == NULL)
			return -1;
		op = tmpl_cc_op(cc, d->text != NULL ? TMPL_OP_TEXT : TMPL_OP_HTML);
		op->expr = e;
	} else if (tmpl_cc_children(cc, el) == -1) {
		return -1;
	}
	cc->in_fill--;
	tmpl_cc_flush(cc);
	r = tmpl_range_push(&t->fills, &t->nfills);
	r->name = arena_strdup(cc->set->arena, name);
	r->start = start;
	r->end = t->nops;
	r->line = xmlGetLineNo(el);
	return 0;
}

static int
tmpl_doc_has_layout(const struct tmpl *t)
{
	xmlNodePtr root = xmlDocGetRootElement(t->doc);

	return root != NULL && xmlHasProp(root, (const xmlChar *)"m-layout") != NULL;
}

static int
tmpl_cc_layout(struct tmpl_cc *cc, xmlNodePtr el, xmlAttrPtr a)
{
	const char *name = tmpl_attr_value(a);
	struct tmpl *layout = tmpl_find(cc->set, name);

	if (layout == NULL)
		return tmpl_cc_fail(cc, el, "m-layout=\"%s\": unknown layout", name);
	if (layout == cc->t || tmpl_doc_has_layout(layout))
		return tmpl_cc_fail(cc, el, "m-layout=\"%s\": that template uses m-layout "
		    "itself and layouts do not nest", name);
	cc->t->layout = layout;
	return 0;
}

static int
tmpl_cc_slot(struct tmpl_cc *cc, xmlNodePtr el, xmlAttrPtr a)
{
	const char *name = tmpl_attr_value(a);
	struct tmpl *t = cc->t;
	struct tmpl_range *r;
	struct tmpl_op *op;
	size_t at;

	if (*name == '\0')
		return tmpl_cc_fail(cc, el, "m-slot needs a name");
	if (t->layout != NULL)
		return tmpl_cc_fail(cc, el, "m-slot=\"%s\" in a page that uses m-layout", name);
	if (tmpl_range_find(t->slots, t->nslots, name) != NULL)
		return tmpl_cc_fail(cc, el, "m-slot=\"%s\" given twice", name);
	r = tmpl_range_push(&t->slots, &t->nslots);
	r->name = arena_strdup(cc->set->arena, name);
	r->line = xmlGetLineNo(el);
	op = tmpl_cc_op(cc, TMPL_OP_SLOT);
	op->name = r->name;
	at = t->nops - 1;
	if (tmpl_cc_children(cc, el) == -1)
		return -1;
	tmpl_cc_flush(cc);
	t->ops[at].end = t->nops;
	return 0;
}

static int
tmpl_cc_include(struct tmpl_cc *cc, xmlNodePtr el, const struct tmpl_dirs *d)
{
	const char *name = tmpl_attr_value(d->include);
	const struct tmpl_expr *with = NULL;
	struct tmpl *target = tmpl_find(cc->set, name);
	struct tmpl_op *op;

	if (target == NULL)
		return tmpl_cc_fail(cc, el, "m-include=\"%s\": unknown partial", name);
	if (tmpl_doc_has_layout(target))
		return tmpl_cc_fail(cc, el, "m-include=\"%s\": that template uses m-layout and "
		    "cannot be included", name);
	if (d->with != NULL && (with = tmpl_cc_expr(cc, el, d->with)) == NULL)
		return -1;
	op = tmpl_cc_op(cc, TMPL_OP_INCLUDE);
	op->target = target;
	op->expr = with;
	op->line = xmlGetLineNo(el);
	return 0;
}

/* Emits an op governing the rest of the element; returns its index for the end patch. */
static size_t
tmpl_cc_guard(struct tmpl_cc *cc, enum tmpl_op_kind kind, const struct tmpl_expr *e,
    int negate, const char *var)
{
	struct tmpl_op *op = tmpl_cc_op(cc, kind);

	op->expr = e;
	op->negate = negate;
	op->name = var;
	return cc->t->nops - 1;
}

static int
tmpl_cc_element(struct tmpl_cc *cc, xmlNodePtr el)
{
	const char *name = (const char *)el->name;
	struct tmpl *t = cc->t;
	struct tmpl_dirs d;
	const struct tmpl_expr *e;
	const char *var = NULL;
	size_t guards[3], nguards = 0, frag_start = 0;
	struct tmpl_op *op;

	if (tmpl_cc_scan(cc, el, &d) == -1 || tmpl_cc_check(cc, el, &d) == -1)
		return -1;
	if (d.fill != NULL)
		return tmpl_cc_fill(cc, el, &d);
	if (d.layout != NULL && tmpl_cc_layout(cc, el, d.layout) == -1)
		return -1;
	if (d.fragment != NULL) {
		if (*tmpl_attr_value(d.fragment) == '\0')
			return tmpl_cc_fail(cc, el, "m-fragment needs a name");
		if (tmpl_range_find(t->frags, t->nfrags, tmpl_attr_value(d.fragment)) != NULL)
			return tmpl_cc_fail(cc, el, "m-fragment=\"%s\" is already a fragment "
			    "of this template", tmpl_attr_value(d.fragment));
		tmpl_cc_flush(cc);
		frag_start = t->nops;
	}
	if (d.each != NULL) {
		if ((e = tmpl_parse_each(cc, el, tmpl_attr_value(d.each), &var)) == NULL)
			return -1;
		guards[nguards++] = tmpl_cc_guard(cc, TMPL_OP_EACH, e, 0, var);
	}
	if (d.cond_if != NULL) {
		if ((e = tmpl_cc_expr(cc, el, d.cond_if)) == NULL)
			return -1;
		guards[nguards++] = tmpl_cc_guard(cc, TMPL_OP_IF, e, 0, NULL);
	}
	if (d.cond_unless != NULL) {
		if ((e = tmpl_cc_expr(cc, el, d.cond_unless)) == NULL)
			return -1;
		guards[nguards++] = tmpl_cc_guard(cc, TMPL_OP_IF, e, 1, NULL);
	}
	if (nguards > 0)
		cc->in_cond++;

	if (d.include != NULL) {
		if (tmpl_cc_include(cc, el, &d) == -1)
			return -1;
	} else if (d.slot != NULL && strcmp(name, "template") == 0) {
		/* A <template> slot stands for its content alone (for <head>, mostly). */
		if (tmpl_cc_slot(cc, el, d.slot) == -1)
			return -1;
	} else {
		if (tmpl_cc_start_tag(cc, el, &d) == -1)
			return -1;
		if (!tmpl_in_list(name, tmpl_void_elements)) {
			if (d.slot != NULL) {
				if (tmpl_cc_slot(cc, el, d.slot) == -1)
					return -1;
			} else if (d.text != NULL) {
				if ((e = tmpl_cc_expr(cc, el, d.text)) == NULL)
					return -1;
				op = tmpl_cc_op(cc, TMPL_OP_TEXT);
				op->expr = e;
				if (strcmp(name, "pre") == 0 || strcmp(name, "textarea") == 0 ||
				    strcmp(name, "listing") == 0)
					op->flags = TMPL_TEXT_LF;
			} else if (d.html != NULL || d.json != NULL) {
				xmlAttrPtr a = d.html != NULL ? d.html : d.json;

				if ((e = tmpl_cc_expr(cc, el, a)) == NULL)
					return -1;
				op = tmpl_cc_op(cc, d.html != NULL ? TMPL_OP_HTML :
				    TMPL_OP_JSON);
				op->expr = e;
			} else if (strcmp(name, "script") == 0 || strcmp(name, "style") == 0) {
				if (tmpl_cc_raw(cc, el) == -1)
					return -1;
			} else if (strcmp(name, "body") == 0) {
				tmpl_cc_flush(cc);
				t->body_start = t->nops;
				if (tmpl_cc_children(cc, el) == -1)
					return -1;
				tmpl_cc_flush(cc);
				t->body_end = t->nops;
			} else if (tmpl_cc_children(cc, el) == -1) {
				return -1;
			}
			tmpl_cc_puts(cc, "</");
			tmpl_cc_puts(cc, name);
			tmpl_cc_puts(cc, ">");
		}
	}

	if (nguards > 0)
		cc->in_cond--;
	tmpl_cc_flush(cc);
	for (size_t i = 0; i < nguards; i++)
		t->ops[guards[i]].end = t->nops;
	if (d.fragment != NULL) {
		struct tmpl_range *r = tmpl_range_push(&t->frags, &t->nfrags);

		r->name = arena_strdup(cc->set->arena, tmpl_attr_value(d.fragment));
		r->start = frag_start;
		r->end = t->nops;
		r->line = xmlGetLineNo(el);
	}
	return 0;
}

static int
tmpl_compile(struct tmpl_set *set, struct tmpl *t, char *err, size_t errlen)
{
	struct tmpl_cc cc;
	xmlNodePtr root = xmlDocGetRootElement(t->doc);

	memset(&cc, 0, sizeof(cc));
	cc.set = set;
	cc.t = t;
	cc.err = err;
	cc.errlen = errlen;
	buf_init(&t->pool, set->arena);
	tmpl_cc_puts(&cc, TMPL_DOCTYPE);
	if (tmpl_cc_element(&cc, root) == -1)
		return -1;
	tmpl_cc_puts(&cc, "\n");
	tmpl_cc_flush(&cc);
	return 0;
}

/* --- Loading ----------------------------------------------------------------------- */

static int
tmpl_prefix_ci(const char *s, size_t n, const char *prefix)
{
	size_t pl = strlen(prefix);

	if (n < pl)
		return 0;
	for (size_t i = 0; i < pl; i++) {
		if (tmpl_lower((unsigned char)s[i]) != prefix[i])
			return 0;
	}
	return n == pl || !tmpl_alnum((unsigned char)s[pl]);
}

struct tmpl_perr {
	char *err;
	size_t errlen;
	const char *path;
	const char *text;       /* what libxml2 parses, for tmpl_unclosed_quote */
	size_t len;
	int failed;
};

/* The line of an attribute value whose quote is never closed, or 0. libxml2 reports such a
 * value where it gave up, at the end of the file; the author wants the opening quote. */
static long
tmpl_unclosed_quote(const char *s, size_t n)
{
	const char *raw = NULL;         /* inside <script> or <style>: skip to its end tag */
	long line = 1, qline = 0;
	char quote = 0, last = 0;
	int in_tag = 0;

	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (c == '\n')
			line++;
		if (quote != 0) {
			if (c == quote)
				quote = 0;
		} else if (in_tag) {
			if ((c == '"' || c == '\'') && last == '=') {
				quote = c;
				qline = line;
			} else if (c == '>') {
				in_tag = 0;
			}
			if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
				last = c;
		} else if (raw != NULL) {
			if (c == '<' && i + 2 + strlen(raw) <= n && s[i + 1] == '/' &&
			    tmpl_prefix_ci(s + i + 2, n - i - 2, raw))
				raw = NULL;
		} else if (c == '<' && i + 4 <= n && memcmp(s + i, "<!--", 4) == 0) {
			const char *end = NULL;

			for (size_t j = i + 4; j + 3 <= n && end == NULL; j++) {
				if (memcmp(s + j, "-->", 3) == 0)
					end = s + j;
			}
			if (end == NULL)
				return 0;
			for (; s + i < end; i++)
				line += s[i] == '\n';
		} else if (c == '<' && i + 1 < n && tmpl_alpha((unsigned char)s[i + 1])) {
			in_tag = 1;
			last = 0;
			if (tmpl_prefix_ci(s + i + 1, n - i - 1, "script"))
				raw = "script";
			else if (tmpl_prefix_ci(s + i + 1, n - i - 1, "style"))
				raw = "style";
		}
	}
	return quote != 0 ? qline : 0;
}

static void
tmpl_parse_error(void *data, tmpl_xml_error e)
{
	xmlParserCtxtPtr ctxt = data;
	struct tmpl_perr *pe = ctxt->_private;
	long qline;
	size_t len;

	/* libxml2 2.9 knows HTML 4 only and reports main, nav, svg, template... as unknown
	 * tags: those are HTML5, not mistakes. A prefixed name (o:p) is one: libxml2 keeps
	 * only what follows the ":", and <x:script> would come out as <script>. */
	if (pe->failed || e->level < XML_ERR_ERROR)
		return;
	if (e->code == XML_HTML_UNKNOWN_TAG) {
		if (e->str1 == NULL || strchr(e->str1, ':') == NULL)
			return;
		pe->failed = 1;
		tmpl_errf(pe->err, pe->errlen, pe->path, e->line > 0 ? e->line : 1,
		    "<%s>: element names with a prefix are not HTML (libxml2 drops the "
		    "prefix)", e->str1);
		return;
	}
	pe->failed = 1;
	len = e->message != NULL ? strlen(e->message) : 0;
	while (len > 0 && (e->message[len - 1] == '\n' || e->message[len - 1] == ' '))
		len--;
	if (e->code == XML_ERR_ATTRIBUTE_NOT_FINISHED &&
	    (qline = tmpl_unclosed_quote(pe->text, pe->len)) > 0 && qline != e->line) {
		tmpl_errf(pe->err, pe->errlen, pe->path, qline, "attribute value never closed "
		    "(libxml2, at line %d: %.*s)", e->line, (int)len,
		    e->message != NULL ? e->message : "");
		return;
	}
	tmpl_errf(pe->err, pe->errlen, pe->path, e->line > 0 ? e->line : 1, "%.*s", (int)len,
	    e->message != NULL ? e->message : "parse error");
}

/* A file that does not begin with a doctype, <html>, <head> or <body> (after spaces and
 * comments) is body content, as a browser shows it; without a <body> before it libxml2
 * would wrap leading text in a <p>. */
static int
tmpl_is_fragment_file(const char *s, size_t n)
{
	size_t i = 0;

	if (n >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0)
		i = 3;
	for (;;) {
		while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r' ||
		    s[i] == '\f'))
			i++;
		if (n - i >= 4 && memcmp(s + i, "<!--", 4) == 0) {
			size_t j = i + 4;

			while (j + 3 <= n && memcmp(s + j, "-->", 3) != 0)
				j++;
			if (j + 3 > n)
				return 1;
			i = j + 3;
			continue;
		}
		break;
	}
	s += i;
	n -= i;
	return !(tmpl_prefix_ci(s, n, "<!doctype") || tmpl_prefix_ci(s, n, "<html") ||
	    tmpl_prefix_ci(s, n, "<head") || tmpl_prefix_ci(s, n, "<body"));
}

static int
tmpl_parse(struct tmpl *t, char *err, size_t errlen)
{
	struct tmpl_perr pe = { err, errlen, t->path, NULL, 0, 0 };
	const char *text = t->text;
	size_t len = t->textlen;
	htmlParserCtxtPtr ctxt;
	char *wrapped = NULL;
	xmlDocPtr doc;

	if (len > TMPL_MAX_FILE)
		return tmpl_errf(err, errlen, t->path, 1, "larger than %d bytes",
		    TMPL_MAX_FILE);
	if (memchr(text, '\0', len) != NULL)
		return tmpl_errf(err, errlen, t->path, 1, "NUL byte in template");
	if (tmpl_is_fragment_file(text, len)) {
		/* On the first line, so line numbers stay those of the file. */
		wrapped = xmalloc(len + 6);
		memcpy(wrapped, "<body>", 6);
		memcpy(wrapped + 6, text, len);
		text = wrapped;
		len += 6;
	}
	ctxt = htmlCreateMemoryParserCtxt(text, (int)len);
	if (ctxt == NULL) {
		free(wrapped);
		return tmpl_errf(err, errlen, t->path, 1, "cannot create an HTML parser");
	}
	pe.text = text;
	pe.len = len;
	ctxt->_private = &pe;
	ctxt->sax->serror = tmpl_parse_error;
	ctxt->sax->initialized = XML_SAX2_MAGIC;
	htmlCtxtUseOptions(ctxt, HTML_PARSE_NONET | HTML_PARSE_IGNORE_ENC);
	ctxt->linenumbers = 1;
	xmlSwitchEncoding(ctxt, XML_CHAR_ENCODING_UTF8);
	htmlParseDocument(ctxt);
	doc = ctxt->myDoc;
	ctxt->myDoc = NULL;
	htmlFreeParserCtxt(ctxt);
	free(wrapped);
	if (pe.failed) {
		xmlFreeDoc(doc);
		return -1;
	}
	if (doc == NULL || xmlDocGetRootElement(doc) == NULL) {
		xmlFreeDoc(doc);
		return tmpl_errf(err, errlen, t->path, 1, "empty template");
	}
	t->doc = doc;
	return 0;
}

static int
tmpl_check_cycles(struct tmpl *t, char *err, size_t errlen)
{
	t->visit = 1;
	for (size_t i = 0; i < t->nops; i++) {
		struct tmpl *target;

		if (t->ops[i].kind != TMPL_OP_INCLUDE)
			continue;
		target = t->ops[i].target;
		if (target->visit == 1)
			return tmpl_errf(err, errlen, t->path, t->ops[i].line,
			    "m-include=\"%s\" makes an include cycle", target->name);
		if (target->visit == 0 && tmpl_check_cycles(target, err, errlen) == -1)
			return -1;
	}
	t->visit = 2;
	return 0;
}

/* Whether a slot of that name is in t or in the partials it includes. */
static int
tmpl_has_slot(const struct tmpl *t, const char *name)
{
	if (tmpl_range_find(t->slots, t->nslots, name) != NULL)
		return 1;
	for (size_t i = 0; i < t->nops; i++) {
		if (t->ops[i].kind == TMPL_OP_INCLUDE && tmpl_has_slot(t->ops[i].target, name))
			return 1;
	}
	return 0;
}

static struct tmpl *
tmpl_add(struct tmpl_set *set, const char *name)
{
	struct tmpl *t = arena_calloc(set->arena, 1, sizeof(*t));

	set->t = xreallocarray(set->t, set->n + 1, sizeof(*set->t));
	set->t[set->n++] = t;
	t->name = arena_strdup(set->arena, name);
	t->path = t->name;
	return t;
}

static int
tmpl_cmp(const void *a, const void *b)
{
	return strcmp((*(struct tmpl *const *)a)->name, (*(struct tmpl *const *)b)->name);
}

static struct tmpl_set *
tmpl_set_new(void)
{
	struct tmpl_set *set = xcalloc(1, sizeof(*set));

	set->arena = arena_new(64 * 1024);
	set->manifest_path = "static/manifest.json";
	return set;
}

/* Parses, compiles and checks every template of set; frees what only loading needs. */
static int
tmpl_set_build(struct tmpl_set *set, char *err, size_t errlen)
{
	int rc = -1;

	xmlInitParser();
	if (set->n > 0)
		qsort(set->t, set->n, sizeof(*set->t), tmpl_cmp);
	for (size_t i = 0; i + 1 < set->n; i++) {
		if (strcmp(set->t[i]->name, set->t[i + 1]->name) == 0) {
			tmpl_errf(err, errlen, set->t[i]->path, 1, "template given twice");
			goto done;
		}
	}
	for (size_t i = 0; i < set->n; i++) {
		if (tmpl_parse(set->t[i], err, errlen) == -1)
			goto done;
	}
	for (size_t i = 0; i < set->n; i++) {
		if (tmpl_compile(set, set->t[i], err, errlen) == -1)
			goto done;
	}
	for (size_t i = 0; i < set->n; i++) {
		if (set->t[i]->visit == 0 && tmpl_check_cycles(set->t[i], err, errlen) == -1)
			goto done;
	}
	for (size_t i = 0; i < set->n; i++) {
		const struct tmpl *t = set->t[i];

		for (size_t f = 0; t->layout != NULL && f < t->nfills; f++) {
			if (!tmpl_has_slot(t->layout, t->fills[f].name)) {
				tmpl_errf(err, errlen, t->path, t->fills[f].line,
				    "m-fill=\"%s\": %s has no such slot", t->fills[f].name,
				    t->layout->name);
				goto done;
			}
		}
	}
	rc = 0;
done:
	for (size_t i = 0; i < set->n; i++) {
		xmlFreeDoc(set->t[i]->doc);
		set->t[i]->doc = NULL;
		free(set->t[i]->owned);
		set->t[i]->owned = NULL;
		set->t[i]->text = NULL;
	}
	json_decref(set->manifest);
	set->manifest = NULL;
	return rc;
}

static int
tmpl_manifest_parse(struct tmpl_set *set, json_t *m, const json_error_t *je, char *err,
    size_t errlen)
{
	if (m == NULL)
		return tmpl_errf(err, errlen, set->manifest_path, je->line > 0 ? je->line : 1,
		    "%s", je->text);
	if (!json_is_object(m)) {
		json_decref(m);
		return tmpl_errf(err, errlen, set->manifest_path, 1,
		    "the manifest is not a JSON object");
	}
	set->manifest = m;
	return 0;
}

int
tmpl_set_load_mem(const struct tmpl_source *src, size_t n, struct tmpl_set **out,
    char *err, size_t errlen)
{
	struct tmpl_set *set = tmpl_set_new();

	for (size_t i = 0; i < n; i++) {
		struct tmpl *t;
		size_t nl = strlen(src[i].name);

		if (strcmp(src[i].name, "static/manifest.json") == 0) {
			json_error_t je;
			json_t *m = json_loadb(src[i].text, src[i].len, JSON_REJECT_DUPLICATES,
			    &je);

			json_decref(set->manifest);
			set->manifest = NULL;
			if (tmpl_manifest_parse(set, m, &je, err, errlen) == -1)
				goto fail;
			continue;
		}
		if (nl < 6 || strcmp(src[i].name + nl - 5, ".html") != 0) {
			tmpl_errf(err, errlen, src[i].name, 1,
			    "a template's name ends in .html");
			goto fail;
		}
		t = tmpl_add(set, src[i].name);
		t->text = src[i].text;
		t->textlen = src[i].len;
	}
	if (tmpl_set_build(set, err, errlen) == -1)
		goto fail;
	*out = set;
	return 0;
fail:
	tmpl_set_free(set);
	return -1;
}

static char *
tmpl_read_file(const char *path, size_t *len, char *err, size_t errlen)
{
	struct stat st;
	FILE *f;
	char *data;

	if ((f = fopen(path, "rb")) == NULL) {
		tmpl_errf(err, errlen, NULL, 0, "%s: %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fileno(f), &st) == -1 || st.st_size > TMPL_MAX_FILE) {
		tmpl_errf(err, errlen, NULL, 0, "%s: cannot read (or larger than %d bytes)",
		    path, TMPL_MAX_FILE);
		fclose(f);
		return NULL;
	}
	data = xmalloc((size_t)st.st_size + 1);
	*len = fread(data, 1, (size_t)st.st_size, f);
	if (ferror(f)) {
		tmpl_errf(err, errlen, NULL, 0, "%s: %s", path, strerror(errno));
		fclose(f);
		free(data);
		return NULL;
	}
	fclose(f);
	data[*len] = '\0';
	return data;
}

/* Adds the *.html files under root/rel to set. */
static int
tmpl_walk(struct tmpl_set *set, const char *root, const char *rel, int depth, char *err,
    size_t errlen)
{
	char *dirpath = rel[0] != '\0' ? xasprintf("%s/%s", root, rel) : xstrdup(root);
	struct dirent *de;
	DIR *d;
	int rc = 0;

	if ((d = opendir(dirpath)) == NULL) {
		tmpl_errf(err, errlen, NULL, 0, "%s: %s", dirpath, strerror(errno));
		free(dirpath);
		return -1;
	}
	while (rc == 0 && (de = readdir(d)) != NULL) {
		size_t nl = strlen(de->d_name);
		char *child, *full;
		struct stat st;

		/* static/ holds the assets and their manifest, not templates. */
		if (de->d_name[0] == '.' || (depth == 0 && strcmp(de->d_name, "static") == 0))
			continue;
		child = rel[0] != '\0' ? xasprintf("%s/%s", rel, de->d_name) :
		    xstrdup(de->d_name);
		full = xasprintf("%s/%s", root, child);
		if (stat(full, &st) == -1) {
			rc = tmpl_errf(err, errlen, NULL, 0, "%s: %s", full, strerror(errno));
		} else if (S_ISDIR(st.st_mode)) {
			if (depth + 1 >= TMPL_MAX_DIR_DEPTH)
				rc = tmpl_errf(err, errlen, NULL, 0,
				    "%s: directories nested too deeply", full);
			else
				rc = tmpl_walk(set, root, child, depth + 1, err, errlen);
		} else if (S_ISREG(st.st_mode) && nl > 5 &&
		    strcmp(de->d_name + nl - 5, ".html") == 0) {
			struct tmpl *t = tmpl_add(set, child);

			t->path = arena_strdup(set->arena, full);
			if ((t->owned = tmpl_read_file(full, &t->textlen, err, errlen)) == NULL)
				rc = -1;
			t->text = t->owned;
		}
		free(child);
		free(full);
	}
	closedir(d);
	free(dirpath);
	return rc;
}

int
tmpl_set_load(const char *dir, struct tmpl_set **out, char *err, size_t errlen)
{
	struct tmpl_set *set = tmpl_set_new();
	char *mpath = xasprintf("%s/static/manifest.json", dir);
	struct stat st;

	set->manifest_path = arena_strdup(set->arena, mpath);
	free(mpath);
	if (stat(set->manifest_path, &st) == 0) {
		json_error_t je;
		json_t *m = json_load_file(set->manifest_path, JSON_REJECT_DUPLICATES, &je);

		if (tmpl_manifest_parse(set, m, &je, err, errlen) == -1)
			goto fail;
	}
	if (tmpl_walk(set, dir, "", 0, err, errlen) == -1 ||
	    tmpl_set_build(set, err, errlen) == -1)
		goto fail;
	*out = set;
	return 0;
fail:
	tmpl_set_free(set);
	return -1;
}

void
tmpl_set_free(struct tmpl_set *set)
{
	if (set == NULL)
		return;
	for (size_t i = 0; i < set->n; i++) {
		struct tmpl *t = set->t[i];

		xmlFreeDoc(t->doc);
		free(t->owned);
		free(t->ops);
		free(t->fills);
		free(t->frags);
		free(t->slots);
	}
	json_decref(set->manifest);
	free(set->t);
	arena_free(set->arena);
	free(set);
}

const char *
tmpl_set_name(const struct tmpl_set *set, size_t i)
{
	return i < set->n ? set->t[i]->name : NULL;
}

int
tmpl_has(const struct tmpl_set *set, const char *name, const char *fragment)
{
	const struct tmpl *t = tmpl_find(set, name);

	if (t == NULL)
		return 0;
	return fragment == NULL || tmpl_range_find(t->frags, t->nfrags, fragment) != NULL;
}

/* --- Rendering --------------------------------------------------------------------- */

static struct tmpl_value
tmpl_value_json(const json_t *j)
{
	struct tmpl_value v;

	memset(&v, 0, sizeof(v));
	v.kind = TMPL_V_NULL;
	v.j = j;
	if (j == NULL)
		return v;
	switch (json_typeof(j)) {
	case JSON_OBJECT:
	case JSON_ARRAY:
		v.kind = TMPL_V_JSON;
		break;
	case JSON_STRING:
		v.kind = TMPL_V_STR;
		v.s = json_string_value(j);
		v.len = json_string_length(j);
		break;
	case JSON_INTEGER:
		v.kind = TMPL_V_INT;
		v.i = json_integer_value(j);
		break;
	case JSON_REAL:
		v.kind = TMPL_V_REAL;
		v.d = json_real_value(j);
		break;
	case JSON_TRUE:
	case JSON_FALSE:
		v.kind = TMPL_V_BOOL;
		v.b = json_is_true(j);
		break;
	case JSON_NULL:
		break;
	}
	return v;
}

static int
tmpl_truthy(const struct tmpl_value *v)
{
	switch (v->kind) {
	case TMPL_V_BOOL: return v->b;
	case TMPL_V_INT: return v->i != 0;
	case TMPL_V_REAL: return v->d < 0 || v->d > 0;
	case TMPL_V_STR: return v->len > 0;
	case TMPL_V_JSON:
		if (json_is_array(v->j))
			return json_array_size(v->j) > 0;
		return json_object_size(v->j) > 0;
	case TMPL_V_NULL: break;
	}
	return 0;
}

static int
tmpl_equal(const struct tmpl_value *a, const struct tmpl_value *b)
{
	int an = a->kind == TMPL_V_INT || a->kind == TMPL_V_REAL;
	int bn = b->kind == TMPL_V_INT || b->kind == TMPL_V_REAL;

	if (an && bn) {
		double x = a->kind == TMPL_V_INT ? (double)a->i : a->d;
		double y = b->kind == TMPL_V_INT ? (double)b->i : b->d;

		if (a->kind == TMPL_V_INT && b->kind == TMPL_V_INT)
			return a->i == b->i;
		return !(x < y || x > y);
	}
	if (a->kind != b->kind)
		return 0;
	switch (a->kind) {
	case TMPL_V_NULL: return 1;
	case TMPL_V_BOOL: return a->b == b->b;
	case TMPL_V_STR: return a->len == b->len && memcmp(a->s, b->s, a->len) == 0;
	case TMPL_V_JSON: return json_equal(a->j, b->j);
	default: break;
	}
	return 0;
}

/* Decimal digits of v into out (at least 21 bytes); snprintf costs more than the rest of
 * an attribute. */
static int
tmpl_format_int(char *out, json_int_t v)
{
	unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
	char rev[24];
	int n = 0, len = 0;

	do {
		rev[n++] = (char)('0' + u % 10);
		u /= 10;
	} while (u != 0);
	if (v < 0)
		out[len++] = '-';
	while (n > 0)
		out[len++] = rev[--n];
	return len;
}

/* The text of a value: numbers as integers or %g, booleans as true/false, and nothing for
 * null, arrays and objects. tmp holds the digits. */
static void
tmpl_value_text(const struct tmpl_value *v, char tmp[32], const char **s, size_t *len)
{
	int n;

	switch (v->kind) {
	case TMPL_V_STR:
		*s = v->s;
		*len = v->len;
		return;
	case TMPL_V_INT:
		n = tmpl_format_int(tmp, v->i);
		break;
	case TMPL_V_REAL:
		n = snprintf(tmp, 32, "%g", v->d);
		break;
	case TMPL_V_BOOL:
		*s = v->b ? "true" : "false";
		*len = strlen(*s);
		return;
	default:
		*s = "";
		*len = 0;
		return;
	}
	*s = tmp;
	*len = n > 0 ? (size_t)n : 0;
}

static struct tmpl_value
tmpl_eval_path(const struct tmpl_expr *e, const struct tmpl_scope *sc)
{
	const json_t *j = NULL;
	const struct tmpl_loop *l;

	for (l = sc->loop; l != NULL; l = l->parent) {
		if (strcmp(l->var, e->seg[0].name) == 0) {
			j = l->item;
			goto walk;
		}
	}
	if (e->is_loop && sc->loop != NULL) {
		struct tmpl_value v = tmpl_value_json(NULL);
		const char *f = e->nseg == 2 ? e->seg[1].name : "";

		l = sc->loop;
		if (strcmp(f, "index") == 0) {
			v.kind = TMPL_V_INT;
			v.i = (json_int_t)l->idx;
		} else if (strcmp(f, "length") == 0) {
			v.kind = TMPL_V_INT;
			v.i = (json_int_t)l->count;
		} else if (strcmp(f, "first") == 0) {
			v.kind = TMPL_V_BOOL;
			v.b = l->idx == 0;
		} else if (strcmp(f, "last") == 0) {
			v.kind = TMPL_V_BOOL;
			v.b = l->idx + 1 == l->count;
		}
		return v;
	}
	j = tmpl_object_get(sc->root, &e->seg[0]);
walk:
	for (size_t i = 1; i < e->nseg && j != NULL; i++) {
		if (json_is_object(j))
			j = tmpl_object_get(j, &e->seg[i]);
		else if (json_is_array(j) && e->seg[i].idx >= 0)
			j = json_array_get(j, (size_t)e->seg[i].idx);
		else
			j = NULL;
	}
	return tmpl_value_json(j);
}

static struct tmpl_value tmpl_eval(struct tmpl_run *r, const struct tmpl_expr *e,
    const struct tmpl_scope *sc);

/* Joins the operands of a ~ chain into b; in a URL, only literals go in as they are. */
static void
tmpl_concat(struct tmpl_run *r, const struct tmpl_expr *e, const struct tmpl_scope *sc,
    int url, struct buf *b)
{
	struct tmpl_value v;
	const char *s;
	size_t len;
	char tmp[32];

	if (e->kind == TMPL_EX_CONCAT) {
		tmpl_concat(r, e->a, sc, url, b);
		tmpl_concat(r, e->b, sc, url, b);
		return;
	}
	v = tmpl_eval(r, e, sc);
	tmpl_value_text(&v, tmp, &s, &len);
	if (url && e->kind != TMPL_EX_STR && e->kind != TMPL_EX_INT)
		tmpl_url_encode(b, s, len);
	else
		tmpl_put(b, s, len);
}

static struct tmpl_value
tmpl_eval(struct tmpl_run *r, const struct tmpl_expr *e, const struct tmpl_scope *sc)
{
	struct tmpl_value v = tmpl_value_json(NULL), a, b;
	struct buf cat;

	switch (e->kind) {
	case TMPL_EX_PATH:
		return tmpl_eval_path(e, sc);
	case TMPL_EX_STR:
		v.kind = TMPL_V_STR;
		v.s = e->s;
		v.len = e->len;
		break;
	case TMPL_EX_INT:
		v.kind = TMPL_V_INT;
		v.i = e->i;
		break;
	case TMPL_EX_BOOL:
		v.kind = TMPL_V_BOOL;
		v.b = e->i != 0;
		break;
	case TMPL_EX_NULL:
		break;
	case TMPL_EX_NOT:
		a = tmpl_eval(r, e->a, sc);
		v.kind = TMPL_V_BOOL;
		v.b = !tmpl_truthy(&a);
		break;
	case TMPL_EX_AND:
	case TMPL_EX_OR:
		a = tmpl_eval(r, e->a, sc);
		v.kind = TMPL_V_BOOL;
		v.b = tmpl_truthy(&a);
		if (v.b == (e->kind == TMPL_EX_AND)) {
			b = tmpl_eval(r, e->b, sc);
			v.b = tmpl_truthy(&b);
		}
		break;
	case TMPL_EX_EQ:
	case TMPL_EX_NE:
		a = tmpl_eval(r, e->a, sc);
		b = tmpl_eval(r, e->b, sc);
		v.kind = TMPL_V_BOOL;
		v.b = tmpl_equal(&a, &b) == (e->kind == TMPL_EX_EQ);
		break;
	case TMPL_EX_CONCAT:
		buf_init(&cat, r->arena);
		tmpl_concat(r, e, sc, 0, &cat);
		v.kind = TMPL_V_STR;
		v.s = cat.data;
		v.len = cat.len;
		break;
	}
	return v;
}

static void
tmpl_exec_attr(struct tmpl_run *r, const struct tmpl_op *op, const struct tmpl_scope *sc)
{
	struct tmpl_value v;
	const char *s;
	size_t len;
	char tmp[32];

	if ((op->flags & TMPL_ATTR_URL) && op->expr->kind == TMPL_EX_CONCAT) {
		struct buf cat;

		buf_init(&cat, r->arena);
		tmpl_concat(r, op->expr, sc, 1, &cat);
		v = tmpl_value_json(NULL);
		v.kind = TMPL_V_STR;
		v.s = cat.data;
		v.len = cat.len;
	} else {
		v = tmpl_eval(r, op->expr, sc);
	}
	if (op->flags & TMPL_ATTR_BOOL) {
		if (tmpl_truthy(&v))
			tmpl_put(r->out, op->name, op->len);
		return;
	}
	if (v.kind == TMPL_V_NULL || v.kind == TMPL_V_JSON)
		return;
	tmpl_value_text(&v, tmp, &s, &len);
	if (op->flags & TMPL_ATTR_URL)
		s = tmpl_safe_url(s, &len);
	tmpl_put(r->out, op->name, op->len);
	tmpl_put(r->out, "=\"", 2);
	tmpl_escape(r->out, s, len, 1);
	tmpl_put(r->out, "\"", 1);
}

static void
tmpl_exec_class(struct tmpl_run *r, const struct tmpl_class *cls, const struct tmpl_scope *sc)
{
	struct buf *out = r->out;
	size_t start = out->len;
	int empty = 1;

	tmpl_put(out, " class=\"", 8);
	if (cls->fixed != NULL) {
		tmpl_put(out, cls->fixed, cls->fixedlen);
		empty = 0;
	}
	if (cls->value != NULL) {
		struct tmpl_value v = tmpl_eval(r, cls->value, sc);
		const char *s;
		size_t len;
		char tmp[32];

		tmpl_value_text(&v, tmp, &s, &len);
		if (len > 0) {
			if (!empty)
				tmpl_put(out, " ", 1);
			tmpl_escape(out, s, len, 1);
			empty = 0;
		}
	}
	for (size_t i = 0; i < cls->ncond; i++) {
		struct tmpl_value v = tmpl_eval(r, cls->cond[i].expr, sc);

		if (!tmpl_truthy(&v))
			continue;
		if (!empty)
			tmpl_put(out, " ", 1);
		tmpl_put(out, cls->cond[i].name, cls->cond[i].len);
		empty = 0;
	}
	if (empty) {
		out->len = start;
		out->data[start] = '\0';
	} else {
		tmpl_put(out, "\"", 1);
	}
}

static int
tmpl_json_collect(const char *s, size_t n, void *data)
{
	buf_append(data, s, n);
	return 0;
}

/* JSON for a <script type="application/json">: < > & and the JavaScript line separators
 * become \u escapes, which only occur inside strings, so the script cannot be closed nor
 * a comment opened. */
static void
tmpl_exec_json(struct tmpl_run *r, const struct tmpl_value *v)
{
	json_t *tmp = NULL;
	const json_t *j = v->j;
	struct buf raw;

	if (j == NULL) {
		switch (v->kind) {
		case TMPL_V_STR: j = tmp = json_stringn(v->s, v->len); break;
		case TMPL_V_INT: j = tmp = json_integer(v->i); break;
		case TMPL_V_REAL: j = tmp = json_real(v->d); break;
		case TMPL_V_BOOL: j = tmp = json_boolean(v->b); break;
		default: break;
		}
	}
	buf_init(&raw, r->arena);
	if (j == NULL || json_dump_callback(j, tmpl_json_collect, &raw,
	    JSON_COMPACT | JSON_ENCODE_ANY) == -1) {
		raw.len = 0;
		buf_puts(&raw, "null");
	}
	json_decref(tmp);
	for (size_t i = 0, run = 0; i <= raw.len; i++) {
		const char *rep = NULL;
		size_t skip = 1;

		if (i < raw.len) {
			unsigned char c = (unsigned char)raw.data[i];

			if (c == '<')
				rep = "\\u003c";
			else if (c == '>')
				rep = "\\u003e";
			else if (c == '&')
				rep = "\\u0026";
			else if (c == 0xe2 && i + 2 < raw.len &&
			    (unsigned char)raw.data[i + 1] == 0x80 &&
			    ((unsigned char)raw.data[i + 2] & 0xfe) == 0xa8) {
				/* E2 80 A8 and E2 80 A9: U+2028 and U+2029 */
				rep = raw.data[i + 2] == '\xa8' ? "\\u2028" : "\\u2029";
				skip = 3;
			} else {
				continue;
			}
		}
		buf_append(r->out, raw.data + run, i - run);
		if (rep != NULL)
			buf_append(r->out, rep, 6);
		i += skip - 1;
		run = i + 1;
	}
}

static void
tmpl_exec_html(struct tmpl_run *r, const struct tmpl_value *v)
{
	struct html_sanitize_opts opts = { 0 };
	struct buf clean;
	const char *s;
	size_t len;
	char tmp[32];

	tmpl_value_text(v, tmp, &s, &len);
	if (len == 0)
		return;
	buf_init(&clean, r->arena);
	if (html_sanitize_fragment(r->arena, s, len, &opts, &clean) == -1) {
		/* Nothing rather than something unsanitized: the page still renders. */
		log_warn("m-html: the sanitizer refused %zu bytes", len);
		return;
	}
	buf_append(r->out, clean.data, clean.len);
}

static void
tmpl_exec(struct tmpl_run *r, const struct tmpl *t, size_t pc, size_t end,
    const struct tmpl_scope *sc)
{
	while (pc < end) {
		const struct tmpl_op *op = &t->ops[pc];
		struct tmpl_value v;

		switch (op->kind) {
		case TMPL_OP_STATIC:
			tmpl_put(r->out, t->pool.data + op->off, op->len);
			break;
		case TMPL_OP_TEXT: {
			const char *s;
			size_t len;
			char tmp[32];

			v = tmpl_eval(r, op->expr, sc);
			tmpl_value_text(&v, tmp, &s, &len);
			if ((op->flags & TMPL_TEXT_LF) && len > 0 && s[0] == '\n')
				buf_putc(r->out, '\n');
			tmpl_escape(r->out, s, len, 0);
			break;
		}
		case TMPL_OP_ATTR:
			tmpl_exec_attr(r, op, sc);
			break;
		case TMPL_OP_CLASS:
			tmpl_exec_class(r, op->cls, sc);
			break;
		case TMPL_OP_IF:
			v = tmpl_eval(r, op->expr, sc);
			if (tmpl_truthy(&v) == op->negate) {
				pc = op->end;
				continue;
			}
			break;
		case TMPL_OP_EACH:
			v = tmpl_eval(r, op->expr, sc);
			if (json_is_array(v.j)) {
				struct tmpl_loop loop = { op->name, NULL, 0, 0, sc->loop };
				struct tmpl_scope inner = { sc->root, &loop };

				loop.count = json_array_size(v.j);
				for (loop.idx = 0; loop.idx < loop.count; loop.idx++) {
					loop.item = json_array_get(v.j, loop.idx);
					tmpl_exec(r, t, pc + 1, op->end, &inner);
				}
			}
			pc = op->end;
			continue;
		case TMPL_OP_INCLUDE: {
			struct tmpl_scope inner = *sc;

			if (op->expr != NULL) {
				v = tmpl_eval(r, op->expr, sc);
				inner.root = v.j;
				inner.loop = NULL;
			}
			tmpl_exec(r, op->target, op->target->body_start, op->target->body_end,
			    &inner);
			break;
		}
		case TMPL_OP_SLOT: {
			const struct tmpl *page = r->page;
			const struct tmpl_range *fill = page == NULL ? NULL :
			    tmpl_range_find(page->fills, page->nfills, op->name);

			if (fill != NULL) {
				/* Fills do not nest: a slot reached again from inside a fill
				 * (through a partial) shows its default instead of the same fill
				 * forever. */
				r->page = NULL;
				tmpl_exec(r, page, fill->start, fill->end, sc);
				r->page = page;
			} else {
				tmpl_exec(r, t, pc + 1, op->end, sc);
			}
			pc = op->end;
			continue;
		}
		case TMPL_OP_JSON:
			v = tmpl_eval(r, op->expr, sc);
			tmpl_exec_json(r, &v);
			break;
		case TMPL_OP_HTML:
			v = tmpl_eval(r, op->expr, sc);
			tmpl_exec_html(r, &v);
			break;
		}
		pc++;
	}
}

int
tmpl_render(const struct tmpl_set *set, const char *name, const char *fragment,
    const json_t *ctx, struct buf *out, char *err, size_t errlen)
{
	const struct tmpl *t = tmpl_find(set, name);
	struct tmpl_scope sc = { ctx, NULL };
	struct tmpl_run r = { NULL, out, out->arena };

	if (t == NULL)
		return tmpl_errf(err, errlen, NULL, 0, "no template \"%s\"", name);
	if (fragment != NULL) {
		const struct tmpl_range *f = tmpl_range_find(t->frags, t->nfrags, fragment);

		if (f == NULL)
			return tmpl_errf(err, errlen, NULL, 0, "%s has no fragment \"%s\"",
			    name, fragment);
		tmpl_exec(&r, t, f->start, f->end, &sc);
	} else if (t->layout != NULL) {
		r.page = t;
		tmpl_exec(&r, t->layout, 0, t->layout->nops, &sc);
	} else {
		tmpl_exec(&r, t, 0, t->nops, &sc);
	}
	return 0;
}
