/* html-sanitize.h: turns the HTML of an email body into markup that is safe to show inside
 * our pages: an allowlist of elements, attributes, URL schemes and CSS properties, applied to
 * libxml2's parse tree and serialized again. The policy is described in doc/sanitizer.md. */
#ifndef MAILROOM_HTML_SANITIZE_H
#define MAILROOM_HTML_SANITIZE_H

#include <stddef.h>

#include "arena.h"

struct html_sanitize_opts {
	int allow_remote_images; /* 0: remote <img> become placeholders the user can reveal */
};

/* What the sanitizer did to one body, so that the page can offer "show images". */
struct html_sanitize_stats {
	unsigned remote_images;    /* remote images replaced by a span.mr-blocked-image */
	unsigned inline_images;    /* cid: images replaced by a span.mr-inline-image */
	unsigned dropped_elements; /* removed with their content, images without a usable src */
};

/* Parses an HTML fragment or document (an email body) with libxml2's HTML parser and appends
 * its sanitized, well-formed serialization to out. Returns 0, or -1 only when libxml2 cannot
 * parse at all (out then holds nothing new). */
int html_sanitize_fragment(struct arena *a, const char *html, size_t len,
    const struct html_sanitize_opts *opts, struct buf *out);
/* The same, and fills stats (which may be NULL). */
int html_sanitize_fragment_stats(struct arena *a, const char *html, size_t len,
    const struct html_sanitize_opts *opts, struct buf *out, struct html_sanitize_stats *stats);

/* The one escaper of the output, for text and for double-quoted attribute values alike:
 * & < > " ' become references and NUL becomes U+FFFD. */
void html_sanitize_escape(struct buf *out, const char *s, size_t n);

enum html_sanitize_url {
	HTML_SANITIZE_URL_BAD,        /* anything else: the attribute is dropped */
	HTML_SANITIZE_URL_WEB,        /* http: or https: */
	HTML_SANITIZE_URL_MAILTO,     /* mailto: */
	HTML_SANITIZE_URL_CID,        /* cid: (an inline attachment); *clean is the id alone */
	HTML_SANITIZE_URL_DATA_IMAGE  /* data:image/{png,jpeg,gif,webp};base64, within the limit */
};

/* Classifies url as a browser's URL parser would see it (leading and trailing controls and
 * spaces trimmed, tabs and newlines removed, scheme case-insensitive) and stores in *clean
 * the form to emit, allocated from a. Relative URLs are HTML_SANITIZE_URL_BAD. */
enum html_sanitize_url html_sanitize_url(struct arena *a, const char *url, const char **clean);

/* Filters the declarations of a style attribute through the property allowlist. Returns the
 * kept declarations in canonical form ("name: value; name: value"), or NULL if none is left. */
const char *html_sanitize_style(struct arena *a, const char *css);

#endif
