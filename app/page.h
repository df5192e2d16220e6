/* page.h: rendering of whole pages from the templates: the layout's common context, the
 * HTMX fragment choice, and the error pages. */
#ifndef MAILROOM_PAGE_H
#define MAILROOM_PAGE_H

#include <jansson.h>
#include "http-router.h"

struct tmpl_set;

/* Loads the templates of dir once at start-up; -1 with "file:line: reason" in err. */
int page_init(const char *dir, char *err, size_t errlen);
void page_shutdown(void);
/* The loaded set, or NULL before page_init (unit tests of other modules). */
const struct tmpl_set *page_templates(void);

/* Renders template name with ctx (stolen) merged over the layout's context (title, nav,
 * flash, version). An HTMX request (HX-Request: true) for a page with fragment gets only
 * that fragment. Returns status, or 500 when rendering fails. */
int page_render(struct http_ctx *c, int status, const char *name, const char *title,
    const char *nav, const char *fragment, json_t *ctx);

/* Shows a message on the next page this browser renders (after a redirect): one of a
 * fixed set of codes ("signed-in", "signed-out", "password-changed", ...), so no user
 * text travels in the cookie. */
void page_flash(struct http_ctx *c, const char *code);
/* Answers 303 See Other to location (an HTMX request gets HX-Redirect). */
int page_redirect(struct http_ctx *c, const char *location);

/* The error page of res->status from pages/error.html; used by http_response_render_error
 * once the templates are loaded. */
void page_render_error(struct http_response *res, const struct http_request *req,
    const char *title, const char *explain, const char *message);

/* The built-in categories, in display order (the triage module will own them). */
struct page_category {
	const char *slug;
	const char *name;
	const char *description;
};
extern const struct page_category page_categories[];
extern const size_t page_categories_count;

/* The categories as a JSON array of {slug, name, description}. */
json_t *page_categories_json(void);

#endif
