/* page-admin.c: the administration pages: users (list, search, details, disable and
 * enable, role, a password-reset link, ending their sessions), invitations and the whole
 * audit log. Only an admin's browser session reaches them; anyone else gets the same 404
 * as an unknown address, so the admin area is not advertised. */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "account.h"
#include "audit.h"
#include "auth.h"
#include "db-pool.h"
#include "form.h"
#include "http-server.h"
#include "page.h"
#include "routes.h"
#include "secret.h"
#include "util.h"

#define ADMIN_PAGE_SIZE 50
#define ADMIN_MAX_PAGE 10000
#define ADMIN_RECENT_EVENTS 20
#define ADMIN_RESET_SECONDS 3600
#define ADMIN_INVITE_DAYS_MAX 90

#define ADMIN_LAST_ADMIN "This is the last active administrator: make another user " \
	"administrator first."

/* --- Shared -------------------------------------------------------------------------- */

/* The signed-in admin, or NULL: the handlers' first check. */
static const struct auth_user *
admin_user(struct http_ctx *c)
{
	const struct auth_user *u = auth_user(c);

	return u != NULL && u->is_admin && u->via == AUTH_SESSION ? u : NULL;
}

/* What anyone but an admin gets: the router's own answer to an unknown address. */
static int
admin_deny(struct http_ctx *c)
{
	return http_fail(c->res, 404, "not_found", "There is nothing at this address.", NULL);
}

static const char *
admin_id(struct http_ctx *c, int64_t id)
{
	return arena_printf(c->arena, "%" PRId64, id);
}

/* MAILROOM_BASE_URL without a trailing slash, followed by path. */
static const char *
admin_link(struct http_ctx *c, const char *path)
{
	size_t n = strlen(mr_config.base_url);

	while (n > 0 && mr_config.base_url[n - 1] == '/')
		n--;
	return arena_printf(c->arena, "%.*s%s", (int)n, mr_config.base_url, path);
}

/* A text filter of the query string, trimmed: NULL when absent or empty; *bad set when
 * it is too long or not text. */
static const char *
admin_query_text(struct http_ctx *c, const char *name, size_t max, int *bad)
{
	const char *v = kvlist_get(&c->req->query, name);
	size_t n;

	if (v == NULL)
		return NULL;
	while (*v == ' ' || *v == '\t')
		v++;
	n = strlen(v);
	while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
		n--;
	if (n == 0)
		return NULL;
	v = arena_strndup(c->arena, v, n);
	if (n > max || util_text_chars(v) < 0)
		*bad = 1;
	return v;
}

/* ?page=N (1 when absent); *bad set when it is not a page number. */
static int64_t
admin_query_page(struct http_ctx *c, int *bad)
{
	const char *v = kvlist_get(&c->req->query, "page");
	int64_t page = 1;

	if (v != NULL && util_parse_int64(v, 1, ADMIN_MAX_PAGE, &page) != 0)
		*bad = 1;
	return page;
}

/* The paging links' numbers: prev and next, null when there is none. */
static json_t *
admin_paging(int64_t page, int has_next)
{
	return json_pack("{s:I, s:o, s:o}", "page", (json_int_t)page,
	    "prev", page > 1 ? json_integer(page - 1) : json_null(),
	    "next", has_next ? json_integer(page + 1) : json_null());
}

/* Audit rows of DB_STMT_ADMIN_AUDIT_LIST (at most limit of them) for the templates: the
 * columns page-settings.c reads, and whose account each row concerns. */
static json_t *
admin_audit_rows(struct http_ctx *c, PGresult *r, int limit)
{
	json_t *rows = page_settings_audit_rows(c, r);
	size_t i;
	json_t *row;

	/* A row that is not text (a user agent of invalid UTF-8) is left out: then the rows
	 * no longer line up with r, and they go without their account. */
	if ((int)json_array_size(rows) == PQntuples(r)) {
		json_array_foreach(rows, i, row)
			json_object_set_new(row, "subject", json_string(PQgetvalue(r, (int)i, 6)));
	}
	while ((int)json_array_size(rows) > limit)
		json_array_remove(rows, json_array_size(rows) - 1);
	return rows;
}

/* The user an action is about, with its row locked in the transaction. */
struct admin_target {
	const char *email;
	int is_admin;
	int disabled;
	long other_admins;  /* active admins but this user; with_admins only */
};

/* Begins the action's transaction: locks the active admins' rows (with_admins) and then
 * the user's. Returns 1, or 0 when there is no such user (404 recorded), or -1 (status
 * recorded); on 0 and -1 no transaction is left open. */
static int
admin_lock_target(struct http_ctx *c, const char *id, int with_admins,
    struct admin_target *t)
{
	const char *params[1] = { id };
	PGresult *r;

	t->other_admins = 0;
	if (account_begin(c) != 0)
		return -1;
	if (with_admins) {
		if ((r = http_ctx_exec(c, DB_STMT_ADMIN_ADMINS_LOCK, 0, NULL)) == NULL)
			goto fail;
		for (int i = 0; i < PQntuples(r); i++)
			if (strcmp(PQgetvalue(r, i, 0), id) != 0)
				t->other_admins++;
		PQclear(r);
	}
	if ((r = http_ctx_exec(c, DB_STMT_ADMIN_USER_LOCK, 1, params)) == NULL)
		goto fail;
	if (PQntuples(r) != 1) {
		PQclear(r);
		admin_deny(c);
		account_rollback(c);
		return 0;
	}
	t->email = arena_strdup(c->arena, PQgetvalue(r, 0, 0));
	t->is_admin = strcmp(PQgetvalue(r, 0, 1), "admin") == 0;
	t->disabled = strcmp(PQgetvalue(r, 0, 2), "t") == 0;
	PQclear(r);
	return 1;
fail:
	account_rollback(c);
	return -1;
}

/* --- Users --------------------------------------------------------------------------- */

int
page_admin_users(struct http_ctx *c)
{
	int bad = 0;
	const char *q = admin_query_text(c, "q", 200, &bad);
	int64_t page = admin_query_page(c, &bad);
	const char *params[3];
	json_t *users;
	PGresult *r;
	int64_t total = 0;

	if (admin_user(c) == NULL)
		return admin_deny(c);
	if (bad)
		return http_fail(c->res, 400, "bad_request", "The search is at most 200 "
		    "characters of text, and the page a number from 1.", NULL);
	params[0] = q;
	params[1] = admin_id(c, ADMIN_PAGE_SIZE);
	params[2] = admin_id(c, (page - 1) * ADMIN_PAGE_SIZE);
	if ((r = http_ctx_exec(c, DB_STMT_ADMIN_USER_LIST, 3, params)) == NULL)
		return c->res->status;
	users = json_array();
	for (int i = 0; i < PQntuples(r); i++) {
		int64_t id = strtoll(PQgetvalue(r, i, 0), NULL, 10);
		json_t *row = json_pack("{s:I, s:s, s:s, s:s, s:b, s:b, s:s, s:s, s:i, s:b, s:s}",
		    "id", (json_int_t)id, "email", PQgetvalue(r, i, 1),
		    "name", PQgetvalue(r, i, 2), "role", PQgetvalue(r, i, 3),
		    "is_admin", strcmp(PQgetvalue(r, i, 3), "admin") == 0,
		    "disabled", strcmp(PQgetvalue(r, i, 4), "t") == 0,
		    "created", PQgetvalue(r, i, 5), "last_seen", PQgetvalue(r, i, 6),
		    "failures", atoi(PQgetvalue(r, i, 7)),
		    "locked", strcmp(PQgetvalue(r, i, 8), "t") == 0,
		    "url", arena_printf(c->arena, "/admin/users/%" PRId64, id));

		if (row != NULL)
			json_array_append_new(users, row);
		total = strtoll(PQgetvalue(r, i, 9), NULL, 10);
	}
	PQclear(r);
	return page_render(c, 200, "pages/admin-users.html", "Users", "admin", "users",
	    json_pack("{s:s, s:o, s:s, s:I, s:o}", "admin_tab", "users", "users", users,
	    "q", q != NULL ? q : "", "total", (json_int_t)total,
	    "paging", admin_paging(page, page * ADMIN_PAGE_SIZE < total)));
}

/* The user page; error (may be NULL) says why an action was refused, reset_link is the
 * link an admin just made (shown once). */
static int
admin_user_render(struct http_ctx *c, int status, int64_t id, const char *error,
    const char *reset_link)
{
	const struct auth_user *me = auth_user(c);
	const char *params[4] = { admin_id(c, id), arena_printf(c->arena, "%d",
	    mr_config.session_idle) };
	PGresult *r;
	json_t *user, *events;
	const char *email;

	if ((r = http_ctx_exec(c, DB_STMT_ADMIN_USER_GET, 2, params)) == NULL)
		return c->res->status;
	if (PQntuples(r) != 1) {
		PQclear(r);
		return admin_deny(c);
	}
	user = json_pack("{s:I, s:s, s:s, s:s, s:b, s:b, s:s, s:s, s:s, s:s, s:i, s:b, s:i, "
	    "s:i, s:b}",
	    "id", (json_int_t)id, "email", PQgetvalue(r, 0, 1), "name", PQgetvalue(r, 0, 2),
	    "role", PQgetvalue(r, 0, 3), "is_admin", strcmp(PQgetvalue(r, 0, 3), "admin") == 0,
	    "disabled", strcmp(PQgetvalue(r, 0, 4), "t") == 0,
	    "time_zone", PQgetvalue(r, 0, 5), "created", PQgetvalue(r, 0, 6),
	    "password_changed", PQgetvalue(r, 0, 7), "last_seen", PQgetvalue(r, 0, 8),
	    "failures", atoi(PQgetvalue(r, 0, 9)),
	    "locked", strcmp(PQgetvalue(r, 0, 10), "t") == 0,
	    "sessions", atoi(PQgetvalue(r, 0, 11)), "tokens", atoi(PQgetvalue(r, 0, 12)),
	    "is_self", id == me->id);
	if (user == NULL) {
		PQclear(r);
		return http_fail(c->res, 500, "internal_error", NULL, NULL);
	}
	email = arena_strdup(c->arena, PQgetvalue(r, 0, 1));
	params[0] = NULL;
	params[1] = email;
	params[2] = admin_id(c, ADMIN_RECENT_EVENTS);
	params[3] = "0";
	PQclear(r);
	if ((r = http_ctx_exec(c, DB_STMT_ADMIN_AUDIT_LIST, 4, params)) == NULL) {
		json_decref(user);
		return c->res->status;
	}
	events = admin_audit_rows(c, r, ADMIN_RECENT_EVENTS);
	PQclear(r);
	return page_render(c, status, "pages/admin-user.html", email, "admin", NULL,
	    json_pack("{s:o, s:o, s:s?, s:s?, s:i}", "u", user, "events", events,
	    "error", error, "reset_link", reset_link, "reset_minutes", ADMIN_RESET_SECONDS / 60));
}

/* Refuses an action on user id after its transaction began: ends the transaction and
 * shows the user page with why. */
static int
admin_refuse(struct http_ctx *c, int64_t id, const char *why)
{
	account_rollback(c);
	return admin_user_render(c, 409, id, why, NULL);
}

/* Whether t is an active admin no other active admin would remain beside: disabling or
 * demoting it would leave the installation without one. */
static int
admin_is_last(const struct admin_target *t)
{
	return t->is_admin && !t->disabled && t->other_admins == 0;
}

int
page_admin_user(struct http_ctx *c)
{
	if (admin_user(c) == NULL)
		return admin_deny(c);
	return admin_user_render(c, 200, http_param_int(c->req, "id"), NULL, NULL);
}

static int
admin_user_done(struct http_ctx *c, int64_t id, const char *flash)
{
	page_flash(c, flash);
	return page_redirect(c, arena_printf(c->arena, "/admin/users/%" PRId64, id));
}

/* Disabling ends everything that lets the account in without its password: sessions,
 * API tokens, unused reset links and authorization codes. */
int
page_admin_user_disable(struct http_ctx *c)
{
	const struct auth_user *me = admin_user(c);
	int64_t id = http_param_int(c->req, "id");
	const char *ids = admin_id(c, id);
	struct admin_target t;
	long sessions, tokens;

	if (me == NULL)
		return admin_deny(c);
	if (id == me->id)
		return admin_user_render(c, 409, id, "You cannot disable your own account.", NULL);
	if (admin_lock_target(c, ids, 1, &t) != 1)
		return c->res->status;
	if (admin_is_last(&t))
		return admin_refuse(c, id, ADMIN_LAST_ADMIN);
	if (!t.disabled && account_tx_exec(c, DB_STMT_ADMIN_USER_SET_DISABLED, ids, "true") < 0)
		return c->res->status;
	if ((sessions = account_tx_exec(c, DB_STMT_SESSION_DELETE_ALL, ids, NULL)) < 0 ||
	    (tokens = account_tx_exec(c, DB_STMT_ADMIN_TOKENS_REVOKE, ids, NULL)) < 0 ||
	    account_tx_exec(c, DB_STMT_ADMIN_RESETS_EXPIRE, ids, NULL) < 0 ||
	    account_tx_exec(c, DB_STMT_ADMIN_CODES_DELETE, ids, NULL) < 0 ||
	    account_commit(c) != 0)
		return c->res->status;
	audit_record(c, id, me->id, "admin.user_disable", json_pack("{s:I, s:I, s:s}",
	    "sessions_ended", (json_int_t)sessions, "tokens_revoked", (json_int_t)tokens,
	    "via", "web"));
	return admin_user_done(c, id, "user-disabled");
}

int
page_admin_user_enable(struct http_ctx *c)
{
	const struct auth_user *me = admin_user(c);
	int64_t id = http_param_int(c->req, "id");
	const char *params[2] = { admin_id(c, id), "false" };
	PGresult *r;
	int found;

	if (me == NULL)
		return admin_deny(c);
	if ((r = http_ctx_exec(c, DB_STMT_ADMIN_USER_SET_DISABLED, 2, params)) == NULL)
		return c->res->status;
	found = strcmp(PQcmdTuples(r), "1") == 0;
	PQclear(r);
	if (!found)
		return admin_deny(c);
	audit_record(c, id, me->id, "admin.user_enable", json_pack("{s:s}", "via", "web"));
	return admin_user_done(c, id, "user-enabled");
}

int
page_admin_user_role(struct http_ctx *c)
{
	const struct auth_user *me = admin_user(c);
	int64_t id = http_param_int(c->req, "id");
	const char *ids = admin_id(c, id), *role = form_value(c, "role");
	struct admin_target t;
	int to_admin;

	if (me == NULL)
		return admin_deny(c);
	if (strcmp(role, "admin") != 0 && strcmp(role, "member") != 0)
		return admin_user_render(c, 400, id, "Choose a role: administrator or member.",
		    NULL);
	to_admin = strcmp(role, "admin") == 0;
	if (admin_lock_target(c, ids, 1, &t) != 1)
		return c->res->status;
	if (t.is_admin == to_admin) {
		account_rollback(c);
		return admin_user_done(c, id, "user-updated");
	}
	if (admin_is_last(&t))
		return admin_refuse(c, id, ADMIN_LAST_ADMIN);
	if (account_tx_exec(c, DB_STMT_ADMIN_USER_SET_ROLE, ids, role) < 0 ||
	    account_commit(c) != 0)
		return c->res->status;
	audit_record(c, id, me->id, "admin.set_role", json_pack("{s:s, s:s, s:s}", "from",
	    t.is_admin ? "admin" : "member", "to", role, "via", "web"));
	if (id == me->id) {
		/* No longer an admin: the admin pages are gone for this browser. */
		page_flash(c, "role-changed");
		return page_redirect(c, "/settings");
	}
	return admin_user_done(c, id, "role-changed");
}

/* A single-use link valid for an hour, shown once on the answer: the admin hands it over.
 * The links made before for the account stop working. */
int
page_admin_user_reset_link(struct http_ctx *c)
{
	const struct auth_user *me = admin_user(c);
	int64_t id = http_param_int(c->req, "id");
	const char *ids = admin_id(c, id), *params[3], *link;
	char token[SECRET_TEXT_MAX], digest[SECRET_DIGEST_PARAM_LEN];
	struct admin_target t;
	PGresult *r;

	if (me == NULL)
		return admin_deny(c);
	if (admin_lock_target(c, ids, 0, &t) != 1)
		return c->res->status;
	if (t.disabled)
		return admin_refuse(c, id, "This account is disabled: enable it before making a "
		    "reset link.");
	if (account_tx_exec(c, DB_STMT_ADMIN_RESETS_EXPIRE, ids, NULL) < 0)
		return c->res->status;
	secret_new("", token);
	secret_digest_param(token, digest);
	params[0] = ids;
	params[1] = digest;
	params[2] = c->req->remote_addr;
	if ((r = http_ctx_exec(c, DB_STMT_ADMIN_RESET_CREATE, 3, params)) == NULL) {
		sodium_memzero(token, sizeof(token));
		account_rollback(c);
		return c->res->status;
	}
	PQclear(r);
	if (account_commit(c) != 0) {
		sodium_memzero(token, sizeof(token));
		return c->res->status;
	}
	audit_record(c, id, me->id, "admin.reset_link", json_pack("{s:i, s:s}", "expires_in",
	    ADMIN_RESET_SECONDS, "via", "web"));
	link = admin_link(c, arena_printf(c->arena, "/reset?token=%s", token));
	sodium_memzero(token, sizeof(token));
	return admin_user_render(c, 200, id, NULL, link);
}

int
page_admin_user_end_sessions(struct http_ctx *c)
{
	const struct auth_user *me = admin_user(c);
	int64_t id = http_param_int(c->req, "id");
	const char *ids = admin_id(c, id);
	struct admin_target t;
	long ended;

	if (me == NULL)
		return admin_deny(c);
	if (admin_lock_target(c, ids, 0, &t) != 1)
		return c->res->status;
	/* On one's own account this browser stays signed in: every other session ends. */
	if ((ended = account_tx_exec(c, DB_STMT_SESSION_DELETE_OTHERS, ids,
	    id == me->id ? admin_id(c, me->session_id) : "0")) < 0 || account_commit(c) != 0)
		return c->res->status;
	audit_record(c, id, me->id, "admin.sessions_end", json_pack("{s:I, s:s}", "ended",
	    (json_int_t)ended, "via", "web"));
	return admin_user_done(c, id, "user-sessions-ended");
}

/* --- Invitations --------------------------------------------------------------------- */

static void
admin_invite_form(struct form *f, struct http_ctx *c, const char *email, const char *days)
{
	form_init(f, c, "invite");
	form_field(f, "email", "Email (optional)", "email", email, "off", 0,
	    "When given, only this address can use the invitation.");
	form_field(f, "days", "Valid for (days)", "number", days, "off", 1,
	    "From 1 to 90.");
}

/* The invitations page; link is an invitation just made (shown once). */
static int
admin_invites_render(struct http_ctx *c, int status, struct form *f, const char *error,
    const char *link, const char *link_email, const char *link_expires)
{
	int bad = 0;
	int64_t page = admin_query_page(c, &bad);
	const char *params[2];
	json_t *invites;
	PGresult *r;
	int n;

	if (bad) {
		json_decref(form_context(f));
		return http_fail(c->res, 400, "bad_request", "The page is a number from 1.", NULL);
	}
	params[0] = admin_id(c, ADMIN_PAGE_SIZE + 1);
	params[1] = admin_id(c, (page - 1) * ADMIN_PAGE_SIZE);
	if ((r = http_ctx_exec(c, DB_STMT_ADMIN_INVITE_LIST, 2, params)) == NULL) {
		json_decref(form_context(f));
		return c->res->status;
	}
	invites = json_array();
	n = PQntuples(r);
	for (int i = 0; i < n && i < ADMIN_PAGE_SIZE; i++) {
		const char *state = PQgetvalue(r, i, 7);
		json_t *row = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:b, s:s}",
		    "id", PQgetvalue(r, i, 0), "email", PQgetvalue(r, i, 1),
		    "created_by", PQgetvalue(r, i, 2), "created", PQgetvalue(r, i, 3),
		    "expires", PQgetvalue(r, i, 4), "used", PQgetvalue(r, i, 5),
		    "used_by", PQgetvalue(r, i, 6), "state", state,
		    "revocable", strcmp(state, "used") != 0,
		    "revoke_url", arena_printf(c->arena, "/admin/invites/%s/revoke",
		    PQgetvalue(r, i, 0)));

		if (row != NULL)
			json_array_append_new(invites, row);
	}
	PQclear(r);
	return page_render(c, status, "pages/admin-invites.html", "Invitations", "admin", NULL,
	    json_pack("{s:s, s:o, s:o, s:o, s:s?, s:s?, s:s?, s:s?, s:s}", "admin_tab", "invites",
	    "form", form_context(f),
	    "invites", invites, "paging", admin_paging(page, n > ADMIN_PAGE_SIZE),
	    "form_error", error, "invite_link", link, "invite_email", link_email,
	    "invite_expires", link_expires, "signup", mr_config.signup));
}

int
page_admin_invites(struct http_ctx *c)
{
	struct form f;

	if (admin_user(c) == NULL)
		return admin_deny(c);
	admin_invite_form(&f, c, "", "7");
	return admin_invites_render(c, 200, &f, NULL, NULL, NULL, NULL);
}

int
page_admin_invite_create(struct http_ctx *c)
{
	const struct auth_user *me = admin_user(c);
	const char *email = form_value(c, "email"), *days = form_value(c, "days"), *why;
	char token[SECRET_TEXT_MAX], digest[SECRET_DIGEST_PARAM_LEN];
	const char *params[4], *link, *expires;
	struct form f;
	int64_t ndays = 0, invite;
	PGresult *r;

	if (me == NULL)
		return admin_deny(c);
	if (*days == '\0')
		days = "7";
	admin_invite_form(&f, c, email, days);
	if (*email != '\0' && (why = account_check_email(email)) != NULL)
		form_error(&f, "email", why);
	if (util_parse_int64(days, 1, ADMIN_INVITE_DAYS_MAX, &ndays) != 0)
		form_error(&f, "days", "Enter a number of days from 1 to 90.");
	if (f.nerrors > 0)
		return admin_invites_render(c, 400, &f, "The invitation was not made: see the "
		    "fields below.", NULL, NULL, NULL);
	secret_new("", token);
	secret_digest_param(token, digest);
	params[0] = digest;
	params[1] = *email != '\0' ? email : NULL;
	params[2] = admin_id(c, me->id);
	params[3] = admin_id(c, ndays);
	if ((r = http_ctx_exec(c, DB_STMT_ADMIN_INVITE_CREATE, 4, params)) == NULL) {
		sodium_memzero(token, sizeof(token));
		json_decref(form_context(&f));
		return c->res->status;
	}
	invite = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	expires = arena_strdup(c->arena, PQgetvalue(r, 0, 1));
	PQclear(r);
	audit_record(c, 0, me->id, "admin.invite_create", json_pack("{s:I, s:s?, s:I, s:s}",
	    "invite", (json_int_t)invite, "email", params[1], "days", (json_int_t)ndays,
	    "via", "web"));
	link = admin_link(c, arena_printf(c->arena, "/signup?invite=%s", token));
	sodium_memzero(token, sizeof(token));
	/* A fresh form for the next one. */
	json_decref(form_context(&f));
	admin_invite_form(&f, c, "", "7");
	return admin_invites_render(c, 201, &f, NULL, link, params[1], expires);
}

int
page_admin_invite_revoke(struct http_ctx *c)
{
	const struct auth_user *me = admin_user(c);
	int64_t id = http_param_int(c->req, "id");
	const char *params[1] = { admin_id(c, id) };
	PGresult *r;

	if (me == NULL)
		return admin_deny(c);
	if ((r = http_ctx_exec(c, DB_STMT_ADMIN_INVITE_REVOKE, 1, params)) == NULL)
		return c->res->status;
	if (PQntuples(r) != 1) {
		PQclear(r);
		/* Unknown, or used already: a used invitation stays, as the record of it. */
		return http_fail(c->res, 404, "not_found", "There is no such unused invitation.",
		    NULL);
	}
	audit_record(c, 0, me->id, "admin.invite_revoke", json_pack("{s:I, s:s?, s:s}",
	    "invite", (json_int_t)id, "email", *PQgetvalue(r, 0, 0) != '\0' ?
	    PQgetvalue(r, 0, 0) : NULL, "via", "web"));
	PQclear(r);
	page_flash(c, "invite-revoked");
	return page_redirect(c, "/admin/invites");
}

/* --- Audit log ----------------------------------------------------------------------- */

int
page_admin_audit(struct http_ctx *c)
{
	int bad = 0;
	const char *event = admin_query_text(c, "event", 64, &bad);
	const char *email = admin_query_text(c, "user", 254, &bad);
	int64_t page = admin_query_page(c, &bad);
	const char *params[4];
	json_t *events;
	PGresult *r;
	int n;

	if (admin_user(c) == NULL)
		return admin_deny(c);
	if (bad)
		return http_fail(c->res, 400, "bad_request", "The event is at most 64 characters, "
		    "the address at most 254, and the page a number from 1.", NULL);
	params[0] = event;
	params[1] = email;
	params[2] = admin_id(c, ADMIN_PAGE_SIZE + 1);
	params[3] = admin_id(c, (page - 1) * ADMIN_PAGE_SIZE);
	if ((r = http_ctx_exec(c, DB_STMT_ADMIN_AUDIT_LIST, 4, params)) == NULL)
		return c->res->status;
	n = PQntuples(r);
	events = admin_audit_rows(c, r, ADMIN_PAGE_SIZE);
	PQclear(r);
	return page_render(c, 200, "pages/admin-audit.html", "Audit log", "admin", "events",
	    json_pack("{s:s, s:o, s:{s:s, s:s}, s:o}", "admin_tab", "audit", "events", events,
	    "filter", "event", event != NULL ? event : "", "user", email != NULL ? email : "",
	    "paging", admin_paging(page, n > ADMIN_PAGE_SIZE)));
}
