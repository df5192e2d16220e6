/* tmpl.h: HTML templates. The files under templates/ are parsed with libxml2 once at
 * start-up and compiled into flat programs that render a page (or one fragment of it) from
 * a jansson context into a request's buffer; doc/templates.md describes the directives. */
#ifndef MAILROOM_TMPL_H
#define MAILROOM_TMPL_H

#include <stddef.h>
#include <jansson.h>
#include "arena.h"

/* A loaded set of templates. Read-only once loaded: any number of threads may render
 * from it at the same time. */
struct tmpl_set;

/* One template given as text rather than a file, for tmpl_set_load_mem. A source named
 * "static/manifest.json" is the asset manifest; every other name ends in ".html". */
struct tmpl_source {
	const char *name;
	const char *text;
	size_t len;
};

/* Loads and compiles every *.html file under dir (recursively, except dir/static/ and
 * hidden entries), named by their path relative to dir ("pages/inbox.html"), and the
 * asset manifest dir/static/manifest.json when present. On failure returns -1 with
 * "path:line: reason" in err and *out untouched. */
int tmpl_set_load(const char *dir, struct tmpl_set **out, char *err, size_t errlen);
/* The same from sources in memory (tests, fuzzing); error messages name the sources. */
int tmpl_set_load_mem(const struct tmpl_source *src, size_t n, struct tmpl_set **out,
    char *err, size_t errlen);
void tmpl_set_free(struct tmpl_set *set);

/* Name of the i-th template in name order, or NULL when i is past the end. */
const char *tmpl_set_name(const struct tmpl_set *set, size_t i);
/* 1 when the set holds template name and, unless fragment is NULL, that fragment. */
int tmpl_has(const struct tmpl_set *set, const char *name, const char *fragment);

/* Appends to out the template name rendered with ctx (an object; NULL is {}): the whole
 * page with its layout and "<!DOCTYPE html>" when fragment is NULL, else only the element
 * marked m-fragment="fragment", without layout or doctype. Returns -1 with a message in
 * err when the template or the fragment does not exist; out is then left as it was. */
int tmpl_render(const struct tmpl_set *set, const char *name, const char *fragment,
    const json_t *ctx, struct buf *out, char *err, size_t errlen);

/* The URL check every URL attribute set by a template goes through: returns url when its
 * scheme, read as a browser reads it, is http, https or mailto, or when it has none (a
 * relative URL, "//host" included); otherwise returns "#". *len is the length of url on
 * entry (it may hold NUL bytes) and the length of the result on return. */
const char *tmpl_safe_url(const char *url, size_t *len);

#endif
