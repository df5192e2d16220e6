/* mime.h: reads one email message (RFC 5322 + MIME) with GMime 3 into what mailroom stores:
 * identifiers, addresses, subject and date in UTF-8, a text and a sanitized HTML body, a
 * snippet, the attachments' descriptions, the first calendar part and a list of parse
 * warnings. Any input is accepted: what cannot be read is left out and said in a warning,
 * and every string it returns is valid UTF-8. doc/mime.md describes the rules and limits. */
#ifndef MAILROOM_MIME_H
#define MAILROOM_MIME_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "arena.h"

#define MIME_MAX_DEPTH 32          /* nesting of multiparts and messages */
#define MIME_MAX_PARTS 1000        /* parts walked in one message */
#define MIME_MAX_HEADER 16384      /* bytes kept of one decoded header value */
#define MIME_MAX_ADDRESSES 1000    /* addresses kept of one address header */
#define MIME_MAX_REFERENCES 200    /* message ids kept of References */
#define MIME_MAX_WARNINGS 64       /* distinct warnings kept */
#define MIME_MAX_BODY (4u << 20)   /* bytes kept of the text and of the HTML body */
#define MIME_SNIPPET_CHARS 200     /* characters of the snippet, at most ... */
#define MIME_SNIPPET_BYTES 400     /* ... and bytes */

struct mime_address {
	const char *name;          /* display name, "" when none */
	const char *address;       /* addr-spec, "" for an undisclosed group */
};

struct mime_address_list {
	struct mime_address *v;
	size_t n;
};

struct mime_attachment {
	const char *filename;      /* decoded (RFC 2231 / 2047); "" when the part names none */
	const char *content_type;  /* "type/subtype", lower case */
	size_t size;               /* bytes after the transfer encoding is decoded */
	const char *content_id;    /* without <>, or NULL */
	int is_inline;             /* Content-Disposition: inline, or a Content-ID and none */
	const char *part;          /* IMAP part number, "1", "2.1" */
};

struct mime_message {
	struct arena *arena;           /* owns every string below */
	const char *message_id;        /* without <>; synthetic "mailroom-<sha256 hex>" if none */
	int message_id_synthetic;
	const char *in_reply_to;       /* the first id of In-Reply-To, without <>, or NULL */
	const char **references;       /* ids of References, without <> */
	size_t n_references;
	struct mime_address_list from, to, cc, reply_to;
	const char *subject;           /* decoded, "" when missing */
	int64_t date;                  /* UTC epoch seconds, 0 when missing or unreadable */
	json_t *headers;               /* the allowlisted headers: {"List-Id": "...", ...} */
	const char *text;              /* text body, "" when none */
	int text_from_html;            /* the text was derived from the HTML body */
	const char *html;              /* sanitized HTML body, or NULL when the message has none */
	const char *snippet;           /* start of text, whitespace collapsed */
	struct mime_attachment *attachments;
	size_t n_attachments;
	const char *calendar;          /* the first text/calendar part, UTF-8, or NULL */
	const char *calendar_method;   /* its METHOD ("REQUEST", "CANCEL"...), upper case, or NULL */
	const char **warnings;         /* what could not be read, as short sentences */
	size_t n_warnings;
};

/* Initialises GMime once for the whole process (thread-safe, idempotent). Every module
 * using GMime calls it rather than g_mime_init. */
void mime_init(void);

/* Parses raw (len bytes, need not be NUL-terminated). Returns 0 and *out (free it with
 * mime_message_free) for any input; -1 only when memory runs out. */
int mime_parse(const char *raw, size_t len, struct mime_message **out);
void mime_message_free(struct mime_message *m);

/* HTML (UTF-8) to plain text as mime_parse derives it: block elements become line breaks,
 * links "text (url)", scripts and styles dropped, whitespace collapsed. From a's memory. */
const char *mime_html_to_text(struct arena *a, const char *html, size_t len);
/* Copies s as valid UTF-8 into a, each invalid byte replaced by U+FFFD and NUL dropped. */
const char *mime_utf8_clean(struct arena *a, const char *s, size_t n);
/* Whether s (n bytes) is valid UTF-8 without NUL (overlongs, surrogates refused). */
int mime_utf8_valid(const char *s, size_t n);

#endif
