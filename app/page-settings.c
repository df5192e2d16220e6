/* page-settings.c: the account settings page: profile, password, email address, the
 * signed-in sessions (with a way to end them), and the account's own activity (audit
 * log). Changing the password or the email address asks for the current password. */
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
#include "mailer.h"
#include "page.h"
#include "password.h"
#include "routes.h"
#include "util.h"

struct settings_forms {
	struct form profile, password, email;
	const char *which_error;   /* the form that failed, for the summary */
};

static const char *
settings_id(struct http_ctx *c, int64_t id)
{
	return arena_printf(c->arena, "%" PRId64, id);
}

/* The user's row: email, name, time zone, password hash. NULL with c->res failed. */
static PGresult *
settings_user(struct http_ctx *c)
{
	const char *params[1] = { settings_id(c, auth_user(c)->id) };
	PGresult *r = http_ctx_exec(c, DB_STMT_USER_SETTINGS, 1, params);

	if (r != NULL && PQntuples(r) != 1) {
		PQclear(r);
		http_fail(c->res, 404, "not_found", NULL, NULL);
		return NULL;
	}
	return r;
}

/* A short description of a browser from its User-Agent, for the sessions list. */
static const char *
settings_device(struct http_ctx *c, const char *ua)
{
	static const struct {
		const char *needle, *name;
	} browsers[] = {
		{ "Edg/", "Edge" }, { "OPR/", "Opera" }, { "Firefox/", "Firefox" },
		{ "Chrome/", "Chrome" }, { "Safari/", "Safari" }, { "curl/", "curl" },
	}, systems[] = {
		{ "Android", "Android" }, { "iPhone", "iPhone" }, { "iPad", "iPad" },
		{ "Windows", "Windows" }, { "Mac OS X", "macOS" }, { "CrOS", "ChromeOS" },
		{ "Linux", "Linux" },
	};
	const char *b = NULL, *s = NULL;

	for (size_t i = 0; i < MR_ARRAY_LEN(browsers) && b == NULL; i++)
		if (strstr(ua, browsers[i].needle) != NULL)
			b = browsers[i].name;
	for (size_t i = 0; i < MR_ARRAY_LEN(systems) && s == NULL; i++)
		if (strstr(ua, systems[i].needle) != NULL)
			s = systems[i].name;
	if (b == NULL && s == NULL)
		return *ua != '\0' ? "Unknown browser" : "Unknown device";
	if (b == NULL || s == NULL)
		return b != NULL ? b : s;
	return arena_printf(c->arena, "%s on %s", b, s);
}

static json_t *
settings_sessions(struct http_ctx *c)
{
	const struct auth_user *u = auth_user(c);
	const char *params[2] = { settings_id(c, u->id),
		arena_printf(c->arena, "%d", mr_config.session_idle) };
	PGresult *r = http_ctx_exec(c, DB_STMT_SESSION_LIST, 2, params);
	json_t *list = json_array();

	for (int i = 0; r != NULL && i < PQntuples(r); i++) {
		int64_t id = strtoll(PQgetvalue(r, i, 0), NULL, 10);
		json_t *s = json_pack("{s:s, s:s, s:s, s:s, s:s, s:b, s:s}",
		    "id", PQgetvalue(r, i, 0), "created", PQgetvalue(r, i, 1),
		    "last_seen", PQgetvalue(r, i, 2),
		    "device", settings_device(c, PQgetvalue(r, i, 3)),
		    "ip", PQgetvalue(r, i, 4), "current", id == u->session_id,
		    "end_url", arena_printf(c->arena, "/settings/sessions/%" PRId64 "/end", id));

		if (s != NULL)
			json_array_append_new(list, s);
	}
	PQclear(r);
	return list;
}

static void
settings_forms_init(struct http_ctx *c, struct settings_forms *f, PGresult *user)
{
	const char *name = PQgetvalue(user, 0, 1), *tz = PQgetvalue(user, 0, 2);
	const char *email = PQgetvalue(user, 0, 0);

	if (c->req->form.len > 0 && kvlist_get(&c->req->form, "display_name") != NULL) {
		name = form_value(c, "display_name");
		tz = form_value(c, "time_zone");
	}
	form_init(&f->profile, c, "profile");
	form_field(&f->profile, "display_name", "Your name", "text", name, "name", 1, NULL);
	form_field(&f->profile, "time_zone", "Time zone", "text", tz, "off", 1,
	    "For dates and reminders, for example Europe/Berlin.");
	form_init(&f->password, c, "password");
	form_field(&f->password, "current_password", "Current password", "password", NULL,
	    "current-password", 1, NULL);
	form_field(&f->password, "new_password", "New password", "password", NULL,
	    "new-password", 1, "At least 12 characters. Your other sessions will be ended.");
	form_init(&f->email, c, "email");
	form_field(&f->email, "email", "New email address", "email",
	    kvlist_get(&c->req->form, "email") != NULL ? form_value(c, "email") : email, "email",
	    1, NULL);
	form_field(&f->email, "password", "Current password", "password", NULL,
	    "current-password", 1, "To confirm it is you.");
	f->which_error = NULL;
}

static int
settings_render(struct http_ctx *c, int status, struct settings_forms *f, PGresult *user)
{
	json_t *ctx = json_pack("{s:o, s:o, s:o, s:o, s:{s:s, s:s}, s:s?}",
	    "profile_form", form_context(&f->profile),
	    "password_form", form_context(&f->password),
	    "email_form", form_context(&f->email),
	    "sessions", settings_sessions(c),
	    "account", "email", PQgetvalue(user, 0, 0), "name", PQgetvalue(user, 0, 1),
	    "form_error", f->which_error);

	PQclear(user);
	return page_render(c, status, "pages/settings.html", "Settings", "settings", NULL, ctx);
}

int
page_settings(struct http_ctx *c)
{
	struct settings_forms f;
	PGresult *user = settings_user(c);

	if (user == NULL)
		return c->res->status;
	settings_forms_init(c, &f, user);
	return settings_render(c, 200, &f, user);
}

int
page_settings_profile(struct http_ctx *c)
{
	const struct auth_user *u = auth_user(c);
	const char *name = form_value(c, "display_name"), *tz = form_value(c, "time_zone");
	const char *params[3], *why;
	struct settings_forms f;
	PGresult *user = settings_user(c), *r;
	int bad;

	if (user == NULL)
		return c->res->status;
	settings_forms_init(c, &f, user);
	if ((why = account_check_name(name)) != NULL)
		form_error(&f.profile, "display_name", why);
	bad = account_check_time_zone(c, tz, &why);
	if (bad < 0) {
		PQclear(user);
		return c->res->status;
	}
	if (bad > 0)
		form_error(&f.profile, "time_zone", why);
	if (f.profile.nerrors > 0) {
		f.which_error = "The profile was not saved: see the fields below.";
		return settings_render(c, 400, &f, user);
	}
	PQclear(user);
	params[0] = settings_id(c, u->id);
	params[1] = name;
	params[2] = tz;
	r = http_ctx_exec(c, DB_STMT_USER_UPDATE_PROFILE, 3, params);
	if (r == NULL)
		return c->res->status;
	PQclear(r);
	audit_record(c, u->id, u->id, "profile.change", NULL);
	page_flash(c, "profile-saved");
	return page_redirect(c, "/settings");
}

/* Checks the current password typed into form field; records the field error. Returns
 * 1 when right, 0 when wrong (error recorded), -1 when the answer must be status. */
static int
settings_reauth(struct http_ctx *c, struct form *f, const char *field, const char *hash)
{
	const char *pw = kvlist_get(&c->req->form, field);
	enum password_status st;

	if (pw == NULL || *pw == '\0') {
		form_error(f, field, "Enter your current password.");
		return 0;
	}
	st = password_verify(pw, hash, NULL);
	if (st == PASSWORD_BUSY) {
		http_response_header(c->res, "Retry-After", "2");
		http_fail(c->res, 503, "busy", "Too many password checks at once. Try again in a "
		    "moment.", NULL);
		return -1;
	}
	if (st != PASSWORD_OK) {
		form_error(f, field, "This is not your current password.");
		audit_record(c, auth_user(c)->id, auth_user(c)->id, "reauth.failure", NULL);
		return 0;
	}
	return 1;
}

int
page_settings_password(struct http_ctx *c)
{
	const struct auth_user *u = auth_user(c);
	const char *pw = kvlist_get(&c->req->form, "new_password"), *why, *params[2];
	struct settings_forms f;
	PGresult *user = settings_user(c), *r;
	char hash[PASSWORD_HASH_MAX];
	int ok, rc;

	if (user == NULL)
		return c->res->status;
	settings_forms_init(c, &f, user);
	ok = settings_reauth(c, &f.password, "current_password", PQgetvalue(user, 0, 3));
	if (ok < 0) {
		PQclear(user);
		return c->res->status;
	}
	if (pw == NULL || *pw == '\0')
		form_error(&f.password, "new_password", "Choose a new password.");
	else if (password_check_policy(pw, PQgetvalue(user, 0, 0), PQgetvalue(user, 0, 1),
	    &why) != PASSWORD_POLICY_OK)
		form_error(&f.password, "new_password", why);
	if (f.password.nerrors > 0) {
		f.which_error = "The password was not changed: see the fields below.";
		return settings_render(c, 400, &f, user);
	}
	PQclear(user);
	if ((rc = account_hash_password(c, pw, NULL, hash)) != 0)
		return rc;
	params[0] = settings_id(c, u->id);
	params[1] = hash;
	r = http_ctx_exec(c, DB_STMT_USER_SET_PASSWORD, 2, params);
	sodium_memzero(hash, sizeof(hash));
	if (r == NULL)
		return c->res->status;
	PQclear(r);
	/* Everywhere else the old password was used is signed out. */
	params[1] = settings_id(c, u->session_id);
	PQclear(http_ctx_exec(c, DB_STMT_SESSION_DELETE_OTHERS, 2, params));
	PQclear(http_ctx_exec(c, DB_STMT_RESET_END_OTHERS, 1, params));
	params[1] = settings_id(c, u->session_id);
	PQclear(http_ctx_exec(c, DB_STMT_SESSION_REAUTH, 2, (const char *const[]){
	    params[1], params[0] }));
	audit_record(c, u->id, u->id, "password.change", NULL);
	account_notify(c, u->email, u->display_name, "Your mailroom password was changed",
	    "The password of your mailroom account was changed, and every other session of "
	    "the account was signed out.\n\nIf this was not you, reset your password now and "
	    "tell your administrator.");
	page_flash(c, "password-changed");
	return page_redirect(c, "/settings");
}

int
page_settings_email(struct http_ctx *c)
{
	const struct auth_user *u = auth_user(c);
	const char *email = form_value(c, "email"), *why, *params[2], *old;
	struct settings_forms f;
	PGresult *user = settings_user(c), *r;
	int ok;

	if (user == NULL)
		return c->res->status;
	settings_forms_init(c, &f, user);
	old = arena_strdup(c->arena, PQgetvalue(user, 0, 0));
	if ((why = account_check_email(email)) != NULL)
		form_error(&f.email, "email", why);
	ok = settings_reauth(c, &f.email, "password", PQgetvalue(user, 0, 3));
	if (ok < 0) {
		PQclear(user);
		return c->res->status;
	}
	if (f.email.nerrors > 0) {
		f.which_error = "The email address was not changed: see the fields below.";
		return settings_render(c, 400, &f, user);
	}
	params[0] = settings_id(c, u->id);
	params[1] = email;
	r = http_ctx_exec(c, DB_STMT_USER_SET_EMAIL, 2, params);
	if (r == NULL) {
		if (c->res->status != 409) {
			PQclear(user);
			return c->res->status;
		}
		c->res->error_code = NULL;
		form_error(&f.email, "email", "Another account uses this address.");
		f.which_error = "The email address was not changed: see the fields below.";
		return settings_render(c, 409, &f, user);
	}
	PQclear(r);
	PQclear(user);
	audit_record(c, u->id, u->id, "email.change", json_pack("{s:s, s:s}", "from", old,
	    "to", email));
	account_notify(c, old, u->display_name, "Your mailroom email address was changed",
	    arena_printf(c->arena, "The email address of your mailroom account was changed "
	    "from %s to %s.\n\nIf this was not you, tell your administrator now.", old, email));
	page_flash(c, "email-changed");
	return page_redirect(c, "/settings");
}

int
page_settings_session_end(struct http_ctx *c)
{
	const struct auth_user *u = auth_user(c);
	int64_t id = http_param_int(c->req, "id");
	const char *params[2] = { settings_id(c, id), settings_id(c, u->id) };
	PGresult *r;

	if (id == u->session_id)
		return page_account_logout(c);
	r = http_ctx_exec(c, DB_STMT_SESSION_DELETE, 2, params);
	if (r == NULL)
		return c->res->status;
	/* Someone else's session id, or one that ended already: nothing to end here. */
	if (strcmp(PQcmdTuples(r), "0") == 0) {
		PQclear(r);
		return http_fail(c->res, 404, "not_found", "There is no such session.", NULL);
	}
	PQclear(r);
	audit_record(c, u->id, u->id, "session.end", json_pack("{s:I}", "session",
	    (json_int_t)id));
	page_flash(c, "session-ended");
	return page_redirect(c, "/settings#sessions");
}

int
page_settings_sessions_end_others(struct http_ctx *c)
{
	const struct auth_user *u = auth_user(c);
	const char *params[2] = { settings_id(c, u->id), settings_id(c, u->session_id) };
	PGresult *r = http_ctx_exec(c, DB_STMT_SESSION_DELETE_OTHERS, 2, params);

	if (r == NULL)
		return c->res->status;
	audit_record(c, u->id, u->id, "session.end_others", json_pack("{s:i}", "ended",
	    atoi(PQcmdTuples(r))));
	PQclear(r);
	page_flash(c, "sessions-ended");
	return page_redirect(c, "/settings#sessions");
}

/* Names shown for audit events; others show as they are. */
static const char *
settings_event_text(const char *event)
{
	static const struct {
		const char *event, *text;
	} names[] = {
		{ "signup", "Account created" },
		{ "login.success", "Signed in" },
		{ "login.failure", "Failed sign-in" },
		{ "login.locked", "Sign-in refused: too many failures" },
		{ "login.disabled", "Sign-in refused: account disabled" },
		{ "logout", "Signed out" },
		{ "profile.change", "Profile changed" },
		{ "password.change", "Password changed" },
		{ "password.reset_requested", "Password reset requested" },
		{ "password.reset", "Password reset" },
		{ "email.change", "Email address changed" },
		{ "reauth.failure", "Wrong current password" },
		{ "session.end", "Session ended" },
		{ "session.end_others", "Other sessions ended" },
		{ "token.create", "Access token created" },
		{ "token.revoke", "Access token revoked" },
		{ "token.reuse", "Refresh token reused: its sign-in was revoked" },
		{ "admin.user_add", "Account created by an administrator" },
		{ "admin.user_disable", "Account disabled by an administrator" },
		{ "admin.user_enable", "Account enabled by an administrator" },
		{ "admin.set_role", "Role changed by an administrator" },
		{ "admin.reset_link", "Reset link made by an administrator" },
		{ "admin.sessions_end", "Sessions ended by an administrator" },
		{ "admin.invite_create", "Invitation created" },
		{ "admin.invite_revoke", "Invitation revoked" },
	};

	for (size_t i = 0; i < MR_ARRAY_LEN(names); i++)
		if (strcmp(event, names[i].event) == 0)
			return names[i].text;
	return event;
}

json_t *
page_settings_audit_rows(struct http_ctx *c, PGresult *r)
{
	json_t *rows = json_array();

	for (int i = 0; r != NULL && i < PQntuples(r); i++) {
		json_t *row = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}",
		    "event", PQgetvalue(r, i, 0),
		    "text", settings_event_text(PQgetvalue(r, i, 0)),
		    "at", PQgetvalue(r, i, 1), "ip", PQgetvalue(r, i, 2),
		    "device", settings_device(c, PQgetvalue(r, i, 3)),
		    "details", strcmp(PQgetvalue(r, i, 4), "{}") == 0 ? "" : PQgetvalue(r, i, 4),
		    "actor", PQgetvalue(r, i, 5));

		if (row != NULL)
			json_array_append_new(rows, row);
	}
	return rows;
}

int
page_settings_activity(struct http_ctx *c)
{
	const char *params[1] = { settings_id(c, auth_user(c)->id) };
	PGresult *r = http_ctx_exec(c, DB_STMT_AUDIT_LIST_USER, 1, params);
	json_t *rows;

	if (r == NULL)
		return c->res->status;
	rows = page_settings_audit_rows(c, r);
	PQclear(r);
	return page_render(c, 200, "pages/activity.html", "Activity", "settings", NULL,
	    json_pack("{s:o}", "events", rows));
}
