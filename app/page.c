/* page.c: the glue between handlers and the template engine. Every page gets the same
 * layout context (title, navigation state, flash messages, version) so that handlers
 * only describe their own content. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "http-response.h"
#include "page.h"
#include "tmpl.h"
#include "util.h"

static struct tmpl_set *page_set;

const struct page_category page_categories[] = {
	{ "to-respond", "To respond", "Messages that need a reply from you." },
	{ "fyi", "FYI", "Worth knowing, nothing to do." },
	{ "comment", "Comment", "Replies and comments in threads you are copied on." },
	{ "notification", "Notification", "Automated messages from services and tools." },
	{ "meeting-update", "Meeting update", "Invitations, changes and answers about meetings." },
	{ "awaiting-reply", "Awaiting reply", "Threads where you wrote last and wait for an answer." },
	{ "actioned", "Actioned", "Threads you have already answered or dealt with." },
	{ "marketing", "Marketing", "Newsletters, promotions and cold outreach." },
};
const size_t page_categories_count = MR_ARRAY_LEN(page_categories);

json_t *
page_categories_json(void)
{
	json_t *a = json_array();

	for (size_t i = 0; i < page_categories_count; i++)
		json_array_append_new(a, json_pack("{s:s, s:s, s:s}", "slug",
		    page_categories[i].slug, "name", page_categories[i].name, "description",
		    page_categories[i].description));
	return a;
}

int
page_init(const char *dir, char *err, size_t errlen)
{
	struct tmpl_set *set;
	static const char *required[] = { "layout.html", "pages/error.html" };

	if (tmpl_set_load(dir, &set, err, errlen) == -1)
		return -1;
	for (size_t i = 0; i < MR_ARRAY_LEN(required); i++) {
		if (!tmpl_has(set, required[i], NULL)) {
			snprintf(err, errlen, "%s: missing template %s", dir, required[i]);
			tmpl_set_free(set);
			return -1;
		}
	}
	page_shutdown();
	page_set = set;
	return 0;
}

void
page_shutdown(void)
{
	tmpl_set_free(page_set);
	page_set = NULL;
}

const struct tmpl_set *
page_templates(void)
{
	return page_set;
}

/* The context every page's layout reads. */
static json_t *
page_layout_context(const char *title, const char *nav)
{
	char full[256];

	snprintf(full, sizeof(full), "%s%smailroom", title != NULL ? title : "",
	    title != NULL ? " · " : "");
	return json_pack("{s:{s:s}, s:{s:s}, s:{s:o, s:o}, s:[]}",
	    "page", "title", full,
	    "app", "version", PACKAGE_VERSION,
	    "nav", "home", nav != NULL && strcmp(nav, "home") == 0 ? json_string("page") :
	    json_null(), "inbox", nav != NULL && strcmp(nav, "inbox") == 0 ?
	    json_string("page") : json_null(),
	    "flash");
}

int
page_render(struct http_ctx *c, int status, const char *name, const char *title,
    const char *nav, const char *fragment, json_t *ctx)
{
	json_t *full = page_layout_context(title, nav);
	char err[512];
	const char *frag = c->req->hx_request && fragment != NULL ? fragment : NULL;
	int rc;

	if (ctx != NULL)
		json_object_update(full, ctx);
	json_decref(ctx);
	c->res->body.len = 0;
	rc = page_set != NULL ? tmpl_render(page_set, name, frag, full, &c->res->body, err,
	    sizeof(err)) : -1;
	json_decref(full);
	if (rc == -1) {
		log_err("rendering %s%s%s: %s", name, frag ? "#" : "", frag ? frag : "",
		    page_set != NULL ? err : "templates not loaded");
		c->res->body.len = 0;
		return http_fail(c->res, 500, "internal_error", NULL, NULL);
	}
	c->res->content_type = "text/html; charset=utf-8";
	/* Fragments and pages differ for the same URL: caches must keep them apart. */
	http_response_header(c->res, "Vary", "HX-Request");
	return status;
}

void
page_render_error(struct http_response *res, const struct http_request *req,
    const char *title, const char *explain, const char *message)
{
	json_t *ctx = page_layout_context(title, NULL);
	char err[512], status[8];

	snprintf(status, sizeof(status), "%d", res->status);
	json_object_set_new(ctx, "error", json_pack("{s:s, s:s, s:s, s:s?, s:s}",
	    "status", status, "title", title, "explain", explain, "message", message,
	    "request_id", req->request_id != NULL ? req->request_id : ""));
	res->body.len = 0;
	if (tmpl_render(page_set, "pages/error.html", NULL, ctx, &res->body, err,
	    sizeof(err)) == -1) {
		log_err("rendering the error page: %s", err);
		res->body.len = 0;
		buf_printf(&res->body, "%d %s\n", res->status, title);
		res->content_type = "text/plain; charset=utf-8";
	} else {
		res->content_type = "text/html; charset=utf-8";
	}
	json_decref(ctx);
}
