/* mime.c: one email message read with GMime 3 into struct mime_message. The rules (what is
 * kept, the limits, the warnings, nested messages) are in doc/mime.md. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <iconv.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <gmime/gmime.h>
#include <libxml/HTMLparser.h>
#include <libxml/tree.h>
#include <sodium.h>

#include "html-sanitize.h"
#include "mime.h"
#include "util.h"

#define MIME_ARENA_CHUNK 16384
#define MIME_ITEM_MAX 80           /* bytes of a header name or charset quoted in a warning */

static pthread_once_t mime_once = PTHREAD_ONCE_INIT;

static void
mime_init_once(void)
{
	g_mime_init();
	xmlInitParser();
}

void
mime_init(void)
{
	pthread_once(&mime_once, mime_init_once);
}

/* ---- UTF-8 ---- */

/* The length of the valid UTF-8 sequence at s (n bytes left), or 0 when it is not one. */
static size_t
mime_utf8_seq(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];

	if (c < 0x80)
		return c != 0 ? 1 : 0;
	if (c >= 0xc2 && c <= 0xdf)
		return n >= 2 && (s[1] & 0xc0) == 0x80 ? 2 : 0;
	if (c >= 0xe0 && c <= 0xef) {
		if (n < 3 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80)
			return 0;
		if (c == 0xe0 && s[1] < 0xa0)
			return 0;          /* overlong */
		if (c == 0xed && s[1] >= 0xa0)
			return 0;          /* surrogate */
		return 3;
	}
	if (c >= 0xf0 && c <= 0xf4) {
		if (n < 4 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80 ||
		    (s[3] & 0xc0) != 0x80)
			return 0;
		if (c == 0xf0 && s[1] < 0x90)
			return 0;
		if (c == 0xf4 && s[1] >= 0x90)
			return 0;
		return 4;
	}
	return 0;
}

int
mime_utf8_valid(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	while (i < n) {
		size_t k = mime_utf8_seq(p + i, n - i);

		if (k == 0)
			return 0;
		i += k;
	}
	return 1;
}

static void
mime_utf8_append_clean(struct buf *b, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, run = 0;

	while (i < n) {
		size_t k = mime_utf8_seq(p + i, n - i);

		if (k == 0) {
			buf_append(b, s + run, i - run);
			if (p[i] != 0)
				buf_append(b, "\xef\xbf\xbd", 3);
			i++;
			run = i;
		} else {
			i += k;
		}
	}
	buf_append(b, s + run, n - run);
}

const char *
mime_utf8_clean(struct arena *a, const char *s, size_t n)
{
	struct buf b;

	buf_init(&b, a);
	if (s != NULL)
		mime_utf8_append_clean(&b, s, n);
	return b.data != NULL ? b.data : arena_strdup(a, "");
}

/* The longest prefix of s (valid UTF-8) of at most max bytes that ends on a character. */
static size_t
mime_utf8_cut(const char *s, size_t n, size_t max)
{
	if (n <= max)
		return n;
	while (max > 0 && ((unsigned char)s[max] & 0xc0) == 0x80)
		max--;
	return max;
}

/* ---- the parse context ---- */

struct mime_alt {
	int got_text, got_html;
};

struct mime_ctx {
	struct mime_message *m;
	struct arena *a;
	struct buf text;           /* text/plain bodies, UTF-8 */
	struct buf html;           /* text/html bodies, UTF-8, not yet sanitized */
	size_t nparts;
	int parts_warned, depth_warned, warnings_full;
	size_t att_cap, warn_cap;
};

static void mime_warn(struct mime_ctx *c, const char *fmt, ...) MR_PRINTF(2, 3);

static void
mime_warn(struct mime_ctx *c, const char *fmt, ...)
{
	struct mime_message *m = c->m;
	const char *w;
	va_list ap;
	char *s;

	if (c->warnings_full)
		return;
	va_start(ap, fmt);
	s = arena_vprintf(c->a, fmt, ap);
	va_end(ap);
	w = mime_utf8_clean(c->a, s, strlen(s));
	for (size_t i = 0; i < m->n_warnings; i++) {
		if (strcmp(m->warnings[i], w) == 0)
			return;
	}
	if (m->n_warnings + 1 >= MIME_MAX_WARNINGS) {
		w = "more warnings left out";
		c->warnings_full = 1;
	}
	if (m->n_warnings == c->warn_cap) {
		size_t cap = c->warn_cap ? c->warn_cap * 2 : 8;
		const char **v = arena_alloc(c->a, cap * sizeof(*v));

		if (m->n_warnings > 0)
			memcpy(v, m->warnings, m->n_warnings * sizeof(*v));
		m->warnings = v;
		c->warn_cap = cap;
	}
	m->warnings[m->n_warnings++] = w;
}

/* A short printable quotation of an item (header name, charset) for a warning. */
static const char *
mime_item(struct mime_ctx *c, const char *s)
{
	struct buf b;
	size_t n;

	if (s == NULL)
		return "";
	n = strnlen(s, MIME_ITEM_MAX + 1);
	buf_init(&b, c->a);
	for (size_t i = 0; i < n && i < MIME_ITEM_MAX; i++) {
		unsigned char ch = (unsigned char)s[i];

		buf_putc(&b, ch >= 0x20 && ch < 0x7f ? (char)ch : '?');
	}
	if (n > MIME_ITEM_MAX)
		buf_puts(&b, "...");
	return b.data != NULL ? b.data : "";
}

/* A header value (may be NULL) as kept: valid UTF-8, at most MIME_MAX_HEADER bytes. */
static const char *
mime_header_text(struct mime_ctx *c, const char *what, const char *v)
{
	const char *s;
	size_t n;

	if (v == NULL)
		return NULL;
	s = mime_utf8_clean(c->a, v, strlen(v));
	n = strlen(s);
	if (n > MIME_MAX_HEADER) {
		mime_warn(c, "%s longer than %d bytes: cut", what, MIME_MAX_HEADER);
		s = arena_strndup(c->a, s, mime_utf8_cut(s, n, MIME_MAX_HEADER));
	}
	return s;
}

static void
mime_parser_warning(gint64 offset, GMimeParserWarning code, const gchar *item, gpointer data)
{
	struct mime_ctx *c = data;
	const char *it = mime_item(c, item);

	(void)offset;
	switch (code) {
	case GMIME_WARN_DUPLICATED_HEADER:
		mime_warn(c, "duplicated header %s", it);
		break;
	case GMIME_WARN_DUPLICATED_PARAMETER:
		mime_warn(c, "duplicated parameter %s", it);
		break;
	case GMIME_WARN_UNENCODED_8BIT_HEADER:
		mime_warn(c, "unencoded 8-bit header %s", it);
		break;
	case GMIME_WARN_INVALID_CONTENT_TYPE:
		mime_warn(c, "invalid Content-Type: read as application/octet-stream");
		break;
	case GMIME_WARN_INVALID_RFC2047_HEADER_VALUE:
		mime_warn(c, "invalid encoded word in header %s", it);
		break;
	case GMIME_WARN_MALFORMED_MULTIPART:
		mime_warn(c, "multipart without parts");
		break;
	case GMIME_WARN_TRUNCATED_MESSAGE:
		mime_warn(c, "truncated message");
		break;
	case GMIME_WARN_MALFORMED_MESSAGE:
		mime_warn(c, "malformed message");
		break;
	case GMIME_CRIT_INVALID_HEADER_NAME:
		mime_warn(c, "invalid header name %s", it);
		break;
	case GMIME_CRIT_CONFLICTING_HEADER:
		mime_warn(c, "conflicting header %s", it);
		break;
	case GMIME_CRIT_CONFLICTING_PARAMETER:
		mime_warn(c, "conflicting parameter %s", it);
		break;
	case GMIME_CRIT_MULTIPART_WITHOUT_BOUNDARY:
		mime_warn(c, "multipart without boundary");
		break;
	case GMIME_WARN_INVALID_PARAMETER:
		mime_warn(c, "invalid parameter %s", it);
		break;
	case GMIME_WARN_INVALID_ADDRESS_LIST:
		mime_warn(c, "invalid address list %s", it);
		break;
	case GMIME_CRIT_NESTING_OVERFLOW:
		mime_warn(c, "MIME nesting too deep");
		break;
	case GMIME_WARN_PART_WITHOUT_CONTENT:
		mime_warn(c, "part without content (truncated multipart)");
		break;
	case GMIME_CRIT_PART_WITHOUT_HEADERS_OR_CONTENT:
		mime_warn(c, "part without headers or content");
		break;
	default:
		mime_warn(c, "parser warning %d", (int)code);
		break;
	}
}

/* ---- charsets ---- */

static void
mime_latin1_append(struct buf *b, const unsigned char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (s[i] == 0)
			continue;
		if (s[i] < 0x80) {
			buf_putc(b, (char)s[i]);
		} else {
			char u[2] = { (char)(0xc0 | (s[i] >> 6)), (char)(0x80 | (s[i] & 0x3f)) };

			buf_append(b, u, 2);
		}
	}
}

static int
mime_charset_is(const char *cs, const char *const *names)
{
	for (; *names != NULL; names++) {
		if (strcasecmp(cs, *names) == 0)
			return 1;
	}
	return 0;
}

/* Converts n bytes in charset (may be NULL) to UTF-8, appended to out. Undecodable bytes
 * become U+FFFD; an unknown charset is read as Latin-1 with a warning. */
static void
mime_to_utf8(struct mime_ctx *c, struct buf *out, const char *bytes, size_t n,
    const char *charset)
{
	static const char *const utf8_names[] = { "utf-8", "utf8", NULL };
	static const char *const ascii_names[] = { "us-ascii", "ascii", "ansi_x3.4-1968", NULL };
	iconv_t cd;
	struct buf tmp;

	if (charset != NULL && *charset == '\0')
		charset = NULL;
	if (charset == NULL || mime_charset_is(charset, ascii_names)) {
		/* Undeclared (or declared ASCII) 8-bit text: UTF-8 when it is, else Latin-1. */
		if (mime_utf8_valid(bytes, n) || memchr(bytes, 0, n) != NULL) {
			mime_utf8_append_clean(out, bytes, n);
		} else {
			mime_warn(c, "8-bit text without a charset: decoded as latin1");
			mime_latin1_append(out, (const unsigned char *)bytes, n);
		}
		return;
	}
	if (mime_charset_is(charset, utf8_names)) {
		mime_utf8_append_clean(out, bytes, n);
		return;
	}
	/* iconv itself: g_mime_iconv_open falls back to another charset for unknown ones. */
	cd = iconv_open("UTF-8", g_mime_charset_iconv_name(charset));
	if (cd == (iconv_t)-1) {
		mime_warn(c, "charset %s: decoded as latin1", mime_item(c, charset));
		mime_latin1_append(out, (const unsigned char *)bytes, n);
		return;
	}
	buf_init(&tmp, c->a);
	{
		char chunk[4096];
		char *in = (char *)(uintptr_t)bytes;
		size_t inleft = n;
		int bad = 0;

		while (inleft > 0) {
			char *o = chunk;
			size_t oleft = sizeof(chunk);
			size_t r = iconv(cd, &in, &inleft, &o, &oleft);
			int err = errno;

			buf_append(&tmp, chunk, sizeof(chunk) - oleft);
			if (r == (size_t)-1) {
				if (err == E2BIG)
					continue;
				/* EILSEQ or EINVAL (a sequence cut at the end): one byte skipped. */
				buf_append(&tmp, "\xef\xbf\xbd", 3);
				in++;
				inleft--;
				bad = 1;
				iconv(cd, NULL, NULL, NULL, NULL);
			}
		}
		{
			char *o = chunk;
			size_t oleft = sizeof(chunk);

			iconv(cd, NULL, NULL, &o, &oleft);
			buf_append(&tmp, chunk, sizeof(chunk) - oleft);
		}
		if (bad)
			mime_warn(c, "invalid bytes in charset %s", mime_item(c, charset));
	}
	iconv_close(cd);
	if (tmp.data != NULL)
		mime_utf8_append_clean(out, tmp.data, tmp.len);
}

/* ---- parts ---- */

/* The decoded content of a leaf part, from c's arena (NUL-terminated; *n its length). */
static const char *
mime_part_bytes(struct mime_ctx *c, GMimePart *part, size_t *n)
{
	GMimeDataWrapper *w = g_mime_part_get_content(part);
	GByteArray *ba;
	GMimeStream *st;
	char *s;

	*n = 0;
	if (w == NULL)
		return "";
	ba = g_byte_array_new();
	st = g_mime_stream_mem_new_with_byte_array(ba);
	g_mime_stream_mem_set_owner(GMIME_STREAM_MEM(st), FALSE);
	if (g_mime_data_wrapper_write_to_stream(w, st) == -1)
		mime_warn(c, "part content could not be decoded");
	g_mime_stream_flush(st);
	g_object_unref(st);
	s = ba->len > 0 ? arena_strndup(c->a, (const char *)ba->data, ba->len) :
	    arena_strdup(c->a, "");
	*n = ba->len;
	g_byte_array_free(ba, TRUE);
	return s;
}

/* The part's decoded content in UTF-8 (its charset parameter converted). */
static const char *
mime_part_text(struct mime_ctx *c, GMimePart *part)
{
	const char *bytes, *cs;
	struct buf b;
	size_t n;

	bytes = mime_part_bytes(c, part, &n);
	cs = g_mime_object_get_content_type_parameter(GMIME_OBJECT(part), "charset");
	buf_init(&b, c->a);
	mime_to_utf8(c, &b, bytes, n, cs);
	return b.data != NULL ? b.data : "";
}

/* The size of an object's content once decoded (a message/rfc822: its whole text). */
static size_t
mime_decoded_size(GMimeObject *obj)
{
	GMimeStream *st = g_mime_stream_null_new();
	size_t n = 0;

	if (GMIME_IS_PART(obj)) {
		GMimeDataWrapper *w = g_mime_part_get_content(GMIME_PART(obj));

		if (w != NULL)
			g_mime_data_wrapper_write_to_stream(w, st);
	} else if (GMIME_IS_MESSAGE_PART(obj)) {
		GMimeMessage *inner = g_mime_message_part_get_message(GMIME_MESSAGE_PART(obj));

		if (inner != NULL)
			g_mime_object_write_to_stream(GMIME_OBJECT(inner), NULL, st);
	}
	g_mime_stream_flush(st);
	n = GMIME_STREAM_NULL(st)->written;
	g_object_unref(st);
	return n;
}

static const char *
mime_content_type(struct mime_ctx *c, GMimeObject *obj)
{
	GMimeContentType *ct = g_mime_object_get_content_type(obj);
	char *t, *s;

	if (ct == NULL)
		return "application/octet-stream";
	t = g_mime_content_type_get_mime_type(ct);
	if (t == NULL)
		return "application/octet-stream";
	s = (char *)(uintptr_t)mime_header_text(c, "Content-Type", t);
	g_free(t);
	for (char *p = s; *p != '\0'; p++)
		*p = (char)tolower((unsigned char)*p);
	return s;
}

static void
mime_add_attachment(struct mime_ctx *c, GMimeObject *obj, const char *num,
    const char *filename, const char *type)
{
	struct mime_message *m = c->m;
	GMimeContentDisposition *d = g_mime_object_get_content_disposition(obj);
	const char *disp = d != NULL ? g_mime_content_disposition_get_disposition(d) : NULL;
	const char *cid = g_mime_object_get_content_id(obj);
	struct mime_attachment *at;

	if (m->n_attachments == c->att_cap) {
		size_t cap = c->att_cap ? c->att_cap * 2 : 4;
		struct mime_attachment *v = arena_alloc(c->a, cap * sizeof(*v));

		if (m->n_attachments > 0)
			memcpy(v, m->attachments, m->n_attachments * sizeof(*v));
		m->attachments = v;
		c->att_cap = cap;
	}
	at = &m->attachments[m->n_attachments++];
	memset(at, 0, sizeof(*at));
	at->filename = filename != NULL ? mime_header_text(c, "filename", filename) : "";
	at->content_type = type;
	at->size = mime_decoded_size(obj);
	at->content_id = cid != NULL && *cid != '\0' ? mime_header_text(c, "Content-ID", cid) : NULL;
	at->is_inline = disp != NULL ? strcasecmp(disp, "inline") == 0 : at->content_id != NULL;
	at->part = arena_strdup(c->a, num);
}

/* METHOD of an iCalendar text: the first unfolded "METHOD:" line. */
static const char *
mime_calendar_method(struct mime_ctx *c, const char *ics)
{
	const char *p = ics;

	while (*p != '\0') {
		const char *eol = strchr(p, '\n');
		size_t n = eol != NULL ? (size_t)(eol - p) : strlen(p);

		if (n >= 7 && strncasecmp(p, "METHOD:", 7) == 0) {
			struct buf b;

			buf_init(&b, c->a);
			for (size_t i = 7; i < n && b.len < 32; i++) {
				unsigned char ch = (unsigned char)p[i];

				if (ch > ' ' && ch < 0x7f)
					buf_putc(&b, (char)toupper(ch));
			}
			return b.len > 0 ? b.data : NULL;
		}
		if (eol == NULL)
			break;
		p = eol + 1;
	}
	return NULL;
}

static void
mime_append_body(struct mime_ctx *c, struct buf *b, const char *s, int is_text)
{
	size_t n = strlen(s);

	if (b->len + 2 >= MIME_MAX_BODY)
		return;
	if (b->len > 0)
		buf_puts(b, is_text ? "\n\n" : "\n");
	if (b->len + n > MIME_MAX_BODY) {
		mime_warn(c, "body longer than %u bytes: cut", MIME_MAX_BODY);
		n = mime_utf8_cut(s, n, MIME_MAX_BODY - b->len);
	}
	if (!is_text) {
		buf_append(b, s, n);
		return;
	}
	/* CRLF and lone CR become LF. */
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\r') {
			buf_putc(b, '\n');
			if (i + 1 < n && s[i + 1] == '\n')
				i++;
		} else {
			buf_putc(b, s[i]);
		}
	}
}

static void mime_walk(struct mime_ctx *c, GMimeObject *obj, const char *num, int depth,
    struct mime_alt *alt);

static void
mime_walk_leaf(struct mime_ctx *c, GMimeObject *obj, const char *num, struct mime_alt *alt)
{
	GMimePart *part = GMIME_PART(obj);
	GMimeContentDisposition *d = g_mime_object_get_content_disposition(obj);
	const char *type = mime_content_type(c, obj);
	const char *filename = g_mime_part_get_filename(part);
	int attached = d != NULL && g_mime_content_disposition_is_attachment(d);

	if (strcmp(type, "text/calendar") == 0) {
		if (c->m->calendar == NULL) {
			c->m->calendar = mime_part_text(c, part);
			c->m->calendar_method = mime_calendar_method(c, c->m->calendar);
			if (c->m->calendar_method == NULL) {
				const char *p = g_mime_object_get_content_type_parameter(obj,
				    "method");

				if (p != NULL)
					c->m->calendar_method = mime_calendar_method(c,
					    arena_printf(c->a, "METHOD:%s", p));
			}
		}
		if (attached || filename != NULL)
			mime_add_attachment(c, obj, num, filename, type);
		return;
	}
	if (!attached && filename == NULL &&
	    (strcmp(type, "text/plain") == 0 || strcmp(type, "text/html") == 0)) {
		int is_text = type[5] == 'p';

		if (alt != NULL) {
			int *got = is_text ? &alt->got_text : &alt->got_html;

			if (*got)
				return;    /* another alternative of the same content */
			*got = 1;
		}
		mime_append_body(c, is_text ? &c->text : &c->html, mime_part_text(c, part),
		    is_text);
		return;
	}
	mime_add_attachment(c, obj, num, filename, type);
}

static void
mime_walk(struct mime_ctx *c, GMimeObject *obj, const char *num, int depth,
    struct mime_alt *alt)
{
	if (obj == NULL)
		return;
	if (++c->nparts > MIME_MAX_PARTS) {
		if (!c->parts_warned)
			mime_warn(c, "more than %d parts: the rest left out", MIME_MAX_PARTS);
		c->parts_warned = 1;
		return;
	}
	if (depth > MIME_MAX_DEPTH) {
		if (!c->depth_warned)
			mime_warn(c, "parts nested deeper than %d: left out", MIME_MAX_DEPTH);
		c->depth_warned = 1;
		return;
	}
	if (GMIME_IS_MULTIPART(obj)) {
		GMimeMultipart *mp = GMIME_MULTIPART(obj);
		GMimeContentType *ct = g_mime_object_get_content_type(obj);
		const char *sub = ct != NULL ? g_mime_content_type_get_media_subtype(ct) : NULL;
		int n = g_mime_multipart_get_count(mp);
		struct mime_alt own = { 0, 0 };

		if (sub != NULL && strcasecmp(sub, "alternative") == 0)
			alt = &own;
		if (n == 0) {
			/* No boundary found: what GMime read as the prologue is all there is. */
			const char *pro = g_mime_multipart_get_prologue(mp);

			mime_warn(c, "multipart without parts");
			if (pro != NULL && *pro != '\0') {
				struct buf t;

				buf_init(&t, c->a);
				mime_to_utf8(c, &t, pro, strlen(pro), NULL);
				if (t.len > 0)
					mime_append_body(c, &c->text, t.data, 1);
			}
		}
		for (int i = 0; i < n && !c->parts_warned; i++) {
			const char *cn = *num != '\0' ? arena_printf(c->a, "%s.%d", num, i + 1) :
			    arena_printf(c->a, "%d", i + 1);

			mime_walk(c, g_mime_multipart_get_part(mp, i), cn, depth + 1, alt);
		}
		return;
	}
	if (*num == '\0')
		num = "1";
	if (GMIME_IS_MESSAGE_PART(obj)) {
		/* A nested message is one attachment, named after its subject; its own parts
		 * stay inside it (doc/mime.md). */
		GMimeMessage *inner = g_mime_message_part_get_message(GMIME_MESSAGE_PART(obj));
		GMimeContentDisposition *d = g_mime_object_get_content_disposition(obj);
		const char *fn = d != NULL ? g_mime_content_disposition_get_parameter(d,
		    "filename") : NULL;
		const char *subj = inner != NULL ? g_mime_message_get_subject(inner) : NULL;
		char *name;

		if (fn == NULL || *fn == '\0') {
			const char *s = subj != NULL && *subj != '\0' ? subj : "message";

			name = arena_printf(c->a, "%.200s.eml", s);
			for (char *p = name; *p != '\0'; p++) {
				if (*p == '/' || *p == '\\' || (unsigned char)*p < 0x20)
					*p = '_';
			}
			fn = name;
		}
		mime_add_attachment(c, obj, num, fn, "message/rfc822");
		return;
	}
	if (GMIME_IS_PART(obj)) {
		mime_walk_leaf(c, obj, num, alt);
		return;
	}
}

/* ---- HTML to text ---- */

struct mime_h2t {
	struct buf *out;
	int space;          /* a space is owed before the next text */
	int newlines;       /* line breaks owed before the next text */
	int pre;            /* inside <pre> */
};

static void
mime_h2t_break(struct mime_h2t *h, int n)
{
	if (h->newlines < n)
		h->newlines = n;
}

static void
mime_h2t_text(struct mime_h2t *h, const char *s)
{
	for (; *s != '\0'; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '\n' && h->pre) {
			h->newlines = h->newlines < 2 ? h->newlines + 1 : 2;
			continue;
		}
		if (ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\f') {
			h->space = 1;
			continue;
		}
		if (ch == 0xc2 && (unsigned char)s[1] == 0xa0) {  /* &nbsp; */
			h->space = 1;
			s++;
			continue;
		}
		if (h->out->len > 0) {
			if (h->newlines > 0) {
				/* No trailing space before a line break. */
				while (h->out->len > 0 && h->out->data[h->out->len - 1] == ' ')
					h->out->data[--h->out->len] = '\0';
				for (int i = 0; i < h->newlines; i++)
					buf_putc(h->out, '\n');
			} else if (h->space && h->out->data[h->out->len - 1] != '\n') {
				buf_putc(h->out, ' ');
			}
		}
		h->newlines = 0;
		h->space = 0;
		buf_putc(h->out, (char)ch);
	}
}

/* 0: inline, 1: a line break around it, 2: a blank line around it. */
static int
mime_h2t_block(const char *name)
{
	static const char *const para[] = { "p", "h1", "h2", "h3", "h4", "h5", "h6",
	    "blockquote", "pre", "table", "ul", "ol", "dl", "hr", NULL };
	static const char *const line[] = { "div", "br", "li", "tr", "dt", "dd", "section",
	    "article", "header", "footer", "address", "nav", "aside", "main", "center",
	    "form", "fieldset", "figure", "figcaption", "caption", "tbody", "thead", "tfoot",
	    "body", "html", NULL };

	if (mime_charset_is(name, para))
		return 2;
	if (mime_charset_is(name, line))
		return 1;
	return 0;
}

static int
mime_h2t_skipped(const char *name)
{
	static const char *const skip[] = { "script", "style", "head", "title", "noscript",
	    "template", "iframe", "object", "svg", "math", NULL };

	return mime_charset_is(name, skip);
}

static void
mime_h2t_close(struct mime_h2t *h, xmlNode *n)
{
	const char *name = (const char *)n->name;

	if (strcasecmp(name, "pre") == 0)
		h->pre = 0;
	if (strcasecmp(name, "a") == 0) {
		xmlChar *href = xmlGetProp(n, (const xmlChar *)"href");

		if (href != NULL) {
			const char *u = (const char *)href;

			while (*u == ' ' || *u == '\t' || *u == '\n' || *u == '\r')
				u++;
			if (strncasecmp(u, "http://", 7) == 0 || strncasecmp(u, "https://", 8) == 0 ||
			    strncasecmp(u, "mailto:", 7) == 0) {
				xmlChar *content = xmlNodeGetContent(n);
				const char *t = content != NULL ? (const char *)content : "";
				const char *bare = strncasecmp(u, "mailto:", 7) == 0 ? u + 7 : u;

				/* A link whose text is its URL is said once. */
				if (strstr(t, bare) == NULL) {
					mime_h2t_text(h, " (");
					h->space = 0;
					mime_h2t_text(h, u);
					h->space = 0;
					mime_h2t_text(h, ")");
				}
				xmlFree(content);
			}
			xmlFree(href);
		}
	}
	mime_h2t_break(h, mime_h2t_block(name));
}

const char *
mime_html_to_text(struct arena *a, const char *html, size_t len)
{
	struct buf out;
	struct mime_h2t h;
	htmlDocPtr doc;
	xmlNode *n;

	mime_init();
	buf_init(&out, a);
	if (len == 0 || len > MIME_MAX_BODY)
		return arena_strdup(a, "");
	doc = htmlReadMemory(html, (int)len, NULL, "UTF-8", HTML_PARSE_RECOVER |
	    HTML_PARSE_NONET | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING | HTML_PARSE_COMPACT);
	if (doc == NULL)
		return arena_strdup(a, "");
	memset(&h, 0, sizeof(h));
	h.out = &out;
	/* An iterative walk: the depth of the tree is the sender's. */
	n = xmlDocGetRootElement(doc);
	while (n != NULL) {
		int descend = 0;

		if (n->type == XML_ELEMENT_NODE) {
			const char *name = (const char *)n->name;

			if (!mime_h2t_skipped(name)) {
				int blk = mime_h2t_block(name);

				if (strcasecmp(name, "br") == 0) {
					h.newlines = h.newlines < 2 ? h.newlines + 1 : 2;
					if (out.len == 0)
						h.newlines = 0;
				} else {
					mime_h2t_break(&h, blk);
				}
				if (strcasecmp(name, "pre") == 0)
					h.pre = 1;
				if (strcasecmp(name, "td") == 0 || strcasecmp(name, "th") == 0)
					h.space = 1;
				if (strcasecmp(name, "img") == 0) {
					xmlChar *alt = xmlGetProp(n, (const xmlChar *)"alt");

					if (alt != NULL) {
						mime_h2t_text(&h, (const char *)alt);
						xmlFree(alt);
					}
				}
				descend = n->children != NULL;
				if (!descend)
					mime_h2t_close(&h, n);
			}
		} else if (n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE) {
			if (n->content != NULL)
				mime_h2t_text(&h, (const char *)n->content);
		}
		if (descend) {
			n = n->children;
			continue;
		}
		while (n != NULL && n->next == NULL) {
			n = n->parent;
			if (n == NULL || n->type == XML_DOCUMENT_NODE ||
			    n->type == XML_HTML_DOCUMENT_NODE) {
				n = NULL;
				break;
			}
			mime_h2t_close(&h, n);
		}
		if (n != NULL)
			n = n->next;
	}
	xmlFreeDoc(doc);
	return mime_utf8_clean(a, out.data != NULL ? out.data : "", out.len);
}

/* ---- headers ---- */

static void
mime_addresses(struct mime_ctx *c, InternetAddressList *l, struct mime_address_list *out,
    int depth)
{
	int n = l != NULL ? internet_address_list_length(l) : 0;

	for (int i = 0; i < n; i++) {
		InternetAddress *ia = internet_address_list_get_address(l, i);

		if (out->n >= MIME_MAX_ADDRESSES) {
			mime_warn(c, "more than %d addresses in a header: the rest left out",
			    MIME_MAX_ADDRESSES);
			return;
		}
		if (INTERNET_ADDRESS_IS_GROUP(ia)) {
			if (depth < 2)
				mime_addresses(c, internet_address_group_get_members(
				    INTERNET_ADDRESS_GROUP(ia)), out, depth + 1);
		} else if (INTERNET_ADDRESS_IS_MAILBOX(ia)) {
			const char *name = internet_address_get_name(ia);
			const char *addr = internet_address_mailbox_get_addr(
			    INTERNET_ADDRESS_MAILBOX(ia));
			struct mime_address *v;

			if ((out->n & (out->n - 1)) == 0) {
				/* Capacity doubles at each power of two. */
				size_t cap = out->n ? out->n * 2 : 1;

				v = arena_alloc(c->a, cap * sizeof(*v));
				if (out->n > 0)
					memcpy(v, out->v, out->n * sizeof(*v));
				out->v = v;
			}
			v = &out->v[out->n++];
			v->name = name != NULL ? mime_header_text(c, "address name", name) : "";
			v->address = addr != NULL ? mime_header_text(c, "address", addr) : "";
		}
	}
}

/* An id as kept: valid UTF-8, no <> around it, none of the controls. */
static const char *
mime_id(struct mime_ctx *c, const char *id)
{
	const char *s;
	size_t n;

	if (id == NULL)
		return NULL;
	while (*id == '<' || *id == ' ' || *id == '\t')
		id++;
	n = strlen(id);
	while (n > 0 && (id[n - 1] == '>' || id[n - 1] == ' ' || id[n - 1] == '\t'))
		n--;
	if (n == 0)
		return NULL;
	if (n > 998) {
		mime_warn(c, "message id longer than 998 bytes: cut");
		n = 998;
	}
	s = mime_utf8_clean(c->a, id, n);
	for (char *p = (char *)(uintptr_t)s; *p != '\0'; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '_';
	}
	return s;
}

static const char *const mime_header_allow[] = {
	"List-Id", "List-Unsubscribe", "List-Unsubscribe-Post", "List-Post", "List-Owner",
	"List-Archive", "Precedence", "Auto-Submitted", "X-Auto-Response-Suppress",
	"X-Autoreply", "X-Autorespond", "X-Mailer", "User-Agent", "Return-Path", "Sender",
	"Feedback-ID", "X-Campaign", "X-Campaign-Id", "X-CampaignID", "X-Mailchimp-Campaign",
	"X-Mailgun-Tag", "X-SES-Outgoing", "X-Priority", "Importance",
	"X-MS-Exchange-Organization-AutoReplyType", "X-Spam-Flag", "Organization",
};

static void
mime_collect_headers(struct mime_ctx *c, GMimeObject *obj)
{
	GMimeHeaderList *hl = g_mime_object_get_header_list(obj);
	int n = hl != NULL ? g_mime_header_list_get_count(hl) : 0;

	for (int i = 0; i < n; i++) {
		GMimeHeader *h = g_mime_header_list_get_header_at(hl, i);
		const char *name = g_mime_header_get_name(h), *value;
		size_t k;

		if (name == NULL)
			continue;
		for (k = 0; k < MR_ARRAY_LEN(mime_header_allow); k++) {
			if (strcasecmp(name, mime_header_allow[k]) == 0)
				break;
		}
		if (k == MR_ARRAY_LEN(mime_header_allow) ||
		    json_object_get(c->m->headers, mime_header_allow[k]) != NULL)
			continue;
		value = mime_header_text(c, mime_header_allow[k], g_mime_header_get_value(h));
		if (value == NULL)
			value = "";
		while (*value == ' ' || *value == '\t')
			value++;
		json_object_set_new(c->m->headers, mime_header_allow[k], json_string(value));
	}
}

static void
mime_read_headers(struct mime_ctx *c, GMimeMessage *msg)
{
	struct mime_message *m = c->m;
	GMimeObject *obj = GMIME_OBJECT(msg);
	GMimeReferences *refs;
	GDateTime *dt;
	const char *v;

	m->message_id = mime_id(c, g_mime_message_get_message_id(msg));
	if ((v = g_mime_object_get_header(obj, "In-Reply-To")) != NULL) {
		GMimeReferences *r = g_mime_references_parse(NULL, v);

		if (r != NULL && g_mime_references_length(r) > 0)
			m->in_reply_to = mime_id(c, g_mime_references_get_message_id(r, 0));
		if (r != NULL)
			g_mime_references_free(r);
	}
	v = g_mime_object_get_header(obj, "References");
	refs = v != NULL ? g_mime_references_parse(NULL, v) : NULL;
	if (refs != NULL) {
		int n = g_mime_references_length(refs);

		if (n > MIME_MAX_REFERENCES) {
			mime_warn(c, "more than %d References: the oldest left out",
			    MIME_MAX_REFERENCES);
		}
		m->references = arena_calloc(c->a, (size_t)(n > 0 ? n : 1), sizeof(char *));
		for (int i = n > MIME_MAX_REFERENCES ? n - MIME_MAX_REFERENCES : 0; i < n; i++) {
			const char *id = mime_id(c, g_mime_references_get_message_id(refs, i));

			if (id != NULL)
				m->references[m->n_references++] = id;
		}
		g_mime_references_free(refs);
	}
	mime_addresses(c, g_mime_message_get_from(msg), &m->from, 0);
	mime_addresses(c, g_mime_message_get_to(msg), &m->to, 0);
	mime_addresses(c, g_mime_message_get_cc(msg), &m->cc, 0);
	mime_addresses(c, g_mime_message_get_reply_to(msg), &m->reply_to, 0);
	v = mime_header_text(c, "Subject", g_mime_message_get_subject(msg));
	m->subject = v != NULL ? v : "";
	dt = g_mime_message_get_date(msg);
	if (dt != NULL) {
		m->date = (int64_t)g_date_time_to_unix(dt);
		if (m->date < 0) {
			mime_warn(c, "Date before 1970: ignored");
			m->date = 0;
		}
	} else if (g_mime_object_get_header(obj, "Date") != NULL) {
		mime_warn(c, "unreadable Date header");
	} else {
		mime_warn(c, "no Date header");
	}
	mime_collect_headers(c, obj);
}

/* ---- the message ---- */

static const char *
mime_snippet(struct arena *a, const char *text)
{
	struct buf b;
	size_t chars = 0;
	int space = 0;
	const char *end = text + strlen(text);

	buf_init(&b, a);
	for (const char *p = text; *p != '\0';) {
		unsigned char ch = (unsigned char)*p;
		size_t k;

		if (ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\f' ||
		    ch == '\v') {
			space = b.len > 0;
			p++;
			continue;
		}
		k = mime_utf8_seq((const unsigned char *)p, (size_t)(end - p));
		if (k == 0)
			k = 1;     /* not reached: text is valid UTF-8 */
		if (chars + (size_t)space + 1 > MIME_SNIPPET_CHARS ||
		    b.len + (size_t)space + k > MIME_SNIPPET_BYTES)
			break;
		if (space) {
			buf_putc(&b, ' ');
			chars++;
			space = 0;
		}
		buf_append(&b, p, k);
		chars++;
		p += k;
	}
	return b.data != NULL ? b.data : arena_strdup(a, "");
}

static void
mime_synthetic_id(struct mime_message *m, const char *raw, size_t len)
{
	unsigned char h[crypto_hash_sha256_BYTES];
	char hex[2 * sizeof(h) + 1];

	crypto_hash_sha256(h, (const unsigned char *)raw, len);
	for (size_t i = 0; i < sizeof(h); i++)
		snprintf(hex + 2 * i, 3, "%02x", h[i]);
	m->message_id = arena_printf(m->arena, "mailroom-%s", hex);
	m->message_id_synthetic = 1;
}

int
mime_parse(const char *raw, size_t len, struct mime_message **out)
{
	static const char *fallback[] = { "UTF-8", "ISO-8859-1", NULL };
	struct mime_message *m;
	struct mime_ctx c;
	GMimeParserOptions *po;
	GMimeParser *parser;
	GMimeStream *st;
	GMimeMessage *msg;
	size_t skip = 0;

	*out = NULL;
	mime_init();
	m = xcalloc(1, sizeof(*m));
	m->arena = arena_new(MIME_ARENA_CHUNK);
	m->headers = json_object();
	if (m->headers == NULL) {
		arena_free(m->arena);
		free(m);
		return -1;
	}
	memset(&c, 0, sizeof(c));
	c.m = m;
	c.a = m->arena;
	buf_init(&c.text, c.a);
	buf_init(&c.html, c.a);
	if (raw == NULL)
		raw = "";

	/* An mbox "From " separator line is not a header. */
	if (len >= 5 && memcmp(raw, "From ", 5) == 0) {
		const char *nl = memchr(raw, '\n', len);

		skip = nl != NULL ? (size_t)(nl - raw) + 1 : len;
	}
	po = g_mime_parser_options_new();
	g_mime_parser_options_set_fallback_charsets(po, fallback);
	g_mime_parser_options_set_rfc2047_compliance_mode(po, GMIME_RFC_COMPLIANCE_LOOSE);
	g_mime_parser_options_set_parameter_compliance_mode(po, GMIME_RFC_COMPLIANCE_LOOSE);
	g_mime_parser_options_set_address_compliance_mode(po, GMIME_RFC_COMPLIANCE_LOOSE);
	g_mime_parser_options_set_warning_callback(po, mime_parser_warning, &c);
	st = g_mime_stream_mem_new_with_buffer(raw + skip, len - skip);
	parser = g_mime_parser_new_with_stream(st);
	g_mime_parser_set_format(parser, GMIME_FORMAT_MESSAGE);
	msg = g_mime_parser_construct_message(parser, po);
	g_object_unref(parser);
	g_object_unref(st);

	if (msg == NULL) {
		mime_warn(&c, "not a message: kept as text");
		m->subject = "";
		mime_append_body(&c, &c.text, mime_utf8_clean(c.a, raw, len), 1);
	} else {
		mime_read_headers(&c, msg);
		mime_walk(&c, g_mime_message_get_mime_part(msg), "", 0, NULL);
		g_object_unref(msg);
	}
	g_mime_parser_options_free(po);

	if (m->message_id == NULL) {
		mime_warn(&c, "no Message-ID header");
		mime_synthetic_id(m, raw, len);
	}
	if (c.html.len > 0) {
		struct html_sanitize_opts opts = { 0 };
		struct buf hb;

		buf_init(&hb, c.a);
		if (html_sanitize_fragment(c.a, c.html.data, c.html.len, &opts, &hb) == 0)
			m->html = mime_utf8_clean(c.a, hb.data != NULL ? hb.data : "", hb.len);
		else
			mime_warn(&c, "HTML body unreadable");
		if (c.text.len == 0) {
			const char *t = mime_html_to_text(c.a, c.html.data, c.html.len);

			buf_puts(&c.text, t);
			m->text_from_html = 1;
		}
	}
	m->text = c.text.data != NULL ? c.text.data : "";
	m->snippet = mime_snippet(c.a, m->text);
	*out = m;
	return 0;
}

void
mime_message_free(struct mime_message *m)
{
	if (m == NULL)
		return;
	json_decref(m->headers);
	arena_free(m->arena);
	free(m);
}
