/* page.c: the glue between handlers and the template engine. Every page gets the same
 * layout context (title, navigation state, flash messages, version) so that handlers
 * only describe their own content. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "auth.h"
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

/* The first character (a whole UTF-8 sequence) of a name, for the avatar. */
static const char *
page_initial(struct http_ctx *c, const char *name)
{
	uint32_t cp;
	size_t n = *name != '\0' ? util_utf8_decode((const unsigned char *)name, strlen(name),
	    &cp) : 0;

	return n == 0 ? "?" : arena_strndup(c->arena, name, n);
}

/* The context every page's layout reads. */
static json_t *
page_layout_context(const char *title, const char *nav)
{
	char full[256];

	snprintf(full, sizeof(full), "%s%smailroom", title != NULL ? title : "",
	    title != NULL ? " · " : "");
	static const char *const items[] = { "home", "inbox", "settings", "admin", "login",
		"signup" };
	json_t *navs = json_object();

	for (size_t i = 0; i < MR_ARRAY_LEN(items); i++)
		json_object_set_new(navs, items[i], nav != NULL && strcmp(nav, items[i]) == 0 ?
		    json_string("page") : json_null());
	return json_pack("{s:{s:s}, s:{s:s}, s:o, s:[]}",
	    "page", "title", full,
	    "app", "version", PACKAGE_VERSION,
	    "nav", navs,
	    "flash");
}

#define PAGE_FLASH_COOKIE "mr_flash"

static const struct {
	const char *code;
	const char *kind;
	const char *text;
} page_flashes[] = {
	{ "signed-in", "success", "Welcome back." },
	{ "signed-up", "success", "Your account is ready." },
	{ "signed-out", "info", "You have been signed out." },
	{ "profile-saved", "success", "Your profile has been saved." },
	{ "password-changed", "success",
	    "Your password has been changed. Your other sessions have been ended." },
	{ "password-reset", "success", "Your password has been reset. You are signed in." },
	{ "email-changed", "success", "Your email address has been changed." },
	{ "sessions-ended", "success", "Your other sessions have been ended." },
	{ "session-ended", "success", "The session has been ended." },
	{ "token-revoked", "success", "The token has been revoked." },
	{ "user-updated", "success", "The user has been updated." },
	{ "user-disabled", "success",
	    "The account has been disabled: its sessions ended and its API tokens revoked." },
	{ "user-enabled", "success", "The account has been enabled." },
	{ "role-changed", "success", "The role has been changed." },
	{ "user-sessions-ended", "success", "The account's sessions have been ended." },
	{ "invite-revoked", "success", "The invitation has been revoked." },
	{ "reset-sent", "info",
	    "If an account uses that address, a link to reset its password is on its way." },
};

void
page_flash(struct http_ctx *c, const char *code)
{
	http_response_set_cookie(c->res, PAGE_FLASH_COOKIE, code, 60, mr_config.secure_cookies);
}

int
page_redirect(struct http_ctx *c, const char *location)
{
	if (c->req->hx_request) {
		http_response_header(c->res, "HX-Redirect", location);
		return 200;
	}
	http_response_header(c->res, "Location", location);
	return 303;
}

/* The flash message a redirect left, consumed by this page. */
static void
page_take_flash(struct http_ctx *c, json_t *full)
{
	const char *code = kvlist_get(&c->req->cookies, PAGE_FLASH_COOKIE);

	if (code == NULL)
		return;
	http_response_set_cookie(c->res, PAGE_FLASH_COOKIE, "", -1, mr_config.secure_cookies);
	for (size_t i = 0; i < MR_ARRAY_LEN(page_flashes); i++) {
		if (strcmp(code, page_flashes[i].code) == 0) {
			json_array_append_new(json_object_get(full, "flash"), json_pack("{s:s, s:b}",
			    "text", page_flashes[i].text, page_flashes[i].kind, 1));
			return;
		}
	}
}

/* The signed-in user and the CSRF token every form and HTMX request carries. */
static void
page_user_context(struct http_ctx *c, json_t *full)
{
	const struct auth_user *u = auth_user(c);

	json_object_set_new(full, "csrf", json_string(auth_csrf_token(c)));
	if (u == NULL)
		return;
	json_object_set_new(full, "user", json_pack("{s:s, s:s, s:b, s:s}", "display_name",
	    u->display_name, "email", u->email, "is_admin", u->is_admin, "initial",
	    page_initial(c, u->display_name)));
}

int
page_render(struct http_ctx *c, int status, const char *name, const char *title,
    const char *nav, const char *fragment, json_t *ctx)
{
	json_t *full = page_layout_context(title, nav);
	char err[512];
	const char *frag = c->req->hx_request && fragment != NULL ? fragment : NULL;
	int rc;

	page_user_context(c, full);
	if (!c->req->hx_request)
		page_take_flash(c, full);
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
