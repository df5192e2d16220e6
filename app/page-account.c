/* page-account.c: signing up, in and out. Forms re-render with the error next to its
 * field; a wrong email and a wrong password get the same answer, in the same time, so
 * the sign-in form does not tell which addresses have accounts. */
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
#include "secret.h"
#include "session.h"
#include "throttle.h"
#include "util.h"

#define ACCOUNT_WRONG_CREDENTIALS "Email or password is wrong."

/* --- Shared by the account pages (account.h) ------------------------------------- */

int
account_check_time_zone(struct http_ctx *c, const char *tz, const char **why)
{
	const char *params[1] = { tz };
	PGresult *r;
	int known;

	*why = "Choose a time zone such as Europe/Berlin, America/New_York or UTC.";
	if (!account_text_ok(tz, 64))
		return 1;
	r = http_ctx_exec(c, DB_STMT_TIME_ZONE_VALID, 1, params);
	if (r == NULL)
		return -1;
	known = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
	PQclear(r);
	return known ? 0 : 1;
}

void
account_notify(struct http_ctx *c, const char *to, const char *name, const char *subject,
    const char *text)
{
	struct mailer_message m = { to, name, subject, NULL, NULL };
	char err[256];

	if (!mailer_enabled())
		return;
	m.text = arena_printf(c->arena, "Hello %s,\n\n%s\n\n-- \nmailroom at %s\n", name,
	    text, mr_config.base_url);
	if (mailer_enqueue(&m, err, sizeof(err)) != MAILER_SENT)
		log_warn("notice \"%s\" not queued: %s", subject, err);
}

int
account_hash_password(struct http_ctx *c, const char *pw, const char *busy,
    char out[PASSWORD_HASH_MAX])
{
	switch (password_hash(pw, out)) {
	case PASSWORD_OK:
		return 0;
	case PASSWORD_BUSY:
		http_response_header(c->res, "Retry-After", "2");
		return http_fail(c->res, 503, "busy", busy, NULL);
	default:
		return http_fail(c->res, 500, "internal_error", NULL, NULL);
	}
}

int
account_begin(struct http_ctx *c)
{
	PGresult *r = http_ctx_exec(c, DB_STMT_BEGIN, 0, NULL);

	if (r == NULL)
		return -1;
	PQclear(r);
	return 0;
}

void
account_rollback(struct http_ctx *c)
{
	int status = c->res->status;
	const char *code = c->res->error_code;

	PQclear(http_ctx_exec(c, DB_STMT_ROLLBACK, 0, NULL));
	c->res->status = status;
	c->res->error_code = code;
}

int
account_commit(struct http_ctx *c)
{
	PGresult *r = http_ctx_exec(c, DB_STMT_COMMIT, 0, NULL);

	if (r == NULL) {
		account_rollback(c);
		return -1;
	}
	PQclear(r);
	return 0;
}

long
account_tx_exec(struct http_ctx *c, int stmt, const char *first, const char *second)
{
	const char *params[2] = { first, second };
	PGresult *r = http_ctx_exec(c, stmt, second != NULL ? 2 : 1, params);
	long n;

	if (r == NULL) {
		account_rollback(c);
		return -1;
	}
	n = strtol(PQcmdTuples(r), NULL, 10);
	PQclear(r);
	return n;
}

/* A "next" parameter is followed only to a path of this site. */
static const char *
account_next(const char *next)
{
	if (next == NULL || next[0] != '/' || next[1] == '/' || next[1] == '\\' ||
	    strlen(next) > 2000)
		return "/inbox";
	for (const char *p = next; *p != '\0'; p++) {
		if ((unsigned char)*p < 0x21 || *p == 0x7f || *p == '\\')
			return "/inbox";
	}
	return next;
}

static int
account_signup_open(struct http_ctx *c, int *first_user)
{
	PGresult *r = http_ctx_exec(c, DB_STMT_USER_COUNT, 0, NULL);

	if (r == NULL)
		return -1;
	*first_user = strcmp(PQgetvalue(r, 0, 0), "0") == 0;
	PQclear(r);
	return *first_user || strcmp(mr_config.signup, "open") == 0;
}

/* --- Sign in ----------------------------------------------------------------------- */

static void
login_form(struct form *f, struct http_ctx *c, const char *email)
{
	form_init(f, c, "login");
	form_field(f, "email", "Email", "email", email, "username", 1, NULL);
	form_field(f, "password", "Password", "password", NULL, "current-password", 1, NULL);
}

static int
login_render(struct http_ctx *c, int status, struct form *f, const char *error)
{
	const char *next = kvlist_get(&c->req->form, "next");
	int open = strcmp(mr_config.signup, "open") == 0;

	if (next == NULL)
		next = kvlist_get(&c->req->query, "next");
	return page_render(c, status, "pages/login.html", "Sign in", "login", NULL,
	    json_pack("{s:o, s:s?, s:s?, s:b}", "form", form_context(f), "form_error", error,
	    "next", next != NULL ? account_next(next) : NULL, "signup_open", open));
}

int
page_account_login(struct http_ctx *c)
{
	struct form f;

	if (auth_user(c) != NULL)
		return page_redirect(c, account_next(kvlist_get(&c->req->query, "next")));
	login_form(&f, c, NULL);
	return login_render(c, 200, &f, NULL);
}

int
page_account_login_post(struct http_ctx *c)
{
	const char *email = form_value(c, "email");
	const char *pw = kvlist_get(&c->req->form, "password");
	const char *ip = c->req->remote_addr != NULL ? c->req->remote_addr : "";
	struct db_conn *db = http_ctx_db(c);
	const char *params[3], *why;
	struct form f;
	int64_t user_id = 0;
	int wait = 0, needs_rehash = 0, ok = 0, disabled = 0, rc;
	char hash[256] = "";
	PGresult *r;

	login_form(&f, c, email);
	if ((why = account_check_email(email)) != NULL)
		form_error(&f, "email", why);
	if (pw == NULL || *pw == '\0')
		form_error(&f, "password", "Enter your password.");
	if (f.nerrors > 0)
		return login_render(c, 400, &f, NULL);
	if (db == NULL)
		return http_fail(c->res, 503, "database_unavailable", NULL, NULL);

	rc = throttle_check(db, email, ip, &wait);
	if (rc < 0)
		return http_fail(c->res, 503, "database_unavailable", NULL, NULL);
	if (rc > 0) {
		http_response_header(c->res, "Retry-After", arena_printf(c->arena, "%d", wait));
		audit_record(c, 0, 0, "login.locked", json_pack("{s:s}", "email", email));
		return login_render(c, 429, &f, arena_printf(c->arena,
		    "Too many failed attempts. Try again in %d minute%s.", (wait + 59) / 60,
		    (wait + 59) / 60 == 1 ? "" : "s"));
	}

	params[0] = email;
	r = http_ctx_exec(c, DB_STMT_USER_FOR_LOGIN, 1, params);
	if (r == NULL)
		return c->res->status;
	if (PQntuples(r) == 1) {
		user_id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
		snprintf(hash, sizeof(hash), "%s", PQgetvalue(r, 0, 1));
		disabled = strcmp(PQgetvalue(r, 0, 2), "t") == 0;
	}
	PQclear(r);

	if (user_id != 0) {
		rc = password_verify(pw, hash, &needs_rehash);
	} else {
		/* The same work for an unknown address as for a known one. */
		rc = password_verify_dummy(pw);
	}
	if (rc == PASSWORD_BUSY) {
		http_response_header(c->res, "Retry-After", "2");
		return http_fail(c->res, 503, "busy",
		    "Too many sign-ins at once. Try again in a moment.", NULL);
	}
	ok = rc == PASSWORD_OK && user_id != 0;
	if (!ok || disabled) {
		if (throttle_fail(db, email, ip) < 0)
			log_warn("could not record a failed sign-in");
		audit_record(c, user_id, 0, disabled && ok ? "login.disabled" : "login.failure",
		    json_pack("{s:s}", "email", email));
		form_error(&f, "password", ACCOUNT_WRONG_CREDENTIALS);
		return login_render(c, 401, &f, disabled && ok ?
		    "This account is disabled. Ask your administrator." :
		    ACCOUNT_WRONG_CREDENTIALS);
	}
	if (throttle_success(db, email) < 0)
		log_warn("could not clear the sign-in throttle");
	if (needs_rehash) {
		char fresh[PASSWORD_HASH_MAX];
		char uid[24];

		if (password_hash(pw, fresh) == PASSWORD_OK) {
			snprintf(uid, sizeof(uid), "%" PRId64, user_id);
			params[0] = uid;
			params[1] = fresh;
			params[2] = hash;
			r = http_ctx_exec(c, DB_STMT_USER_REHASH, 3, params);
			if (r == NULL)
				return c->res->status;
			PQclear(r);
		}
	}
	if (session_start(c, user_id) != 0)
		return c->res->status;
	audit_record(c, user_id, user_id, "login.success", NULL);
	return page_redirect(c, account_next(kvlist_get(&c->req->form, "next")));
}

/* --- Sign out ---------------------------------------------------------------------- */

int
page_account_logout(struct http_ctx *c)
{
	const struct auth_user *u = auth_user(c);
	int64_t uid = u != NULL ? u->id : 0;

	if (session_end_current(c) != 0)
		return c->res->status;
	if (uid != 0)
		audit_record(c, uid, uid, "logout", NULL);
	page_flash(c, "signed-out");
	return page_redirect(c, "/login");
}

/* --- Sign up ----------------------------------------------------------------------- */

static void
signup_form(struct form *f, struct http_ctx *c, const char *email, const char *name,
    const char *tz)
{
	form_init(f, c, "signup");
	form_field(f, "email", "Email", "email", email, "email", 1, NULL);
	form_field(f, "display_name", "Your name", "text", name, "name", 1,
	    "How mailroom greets you and signs drafts.");
	form_field(f, "password", "Password", "password", NULL, "new-password", 1,
	    "At least 12 characters. A few unrelated words make a strong one.");
	form_field(f, "time_zone", "Time zone", "text", tz, "off", 1,
	    "For dates and reminders, for example Europe/Berlin.");
}

/* Whether the request carries a well-formed invitation token. */
static const char *
signup_invite(struct http_ctx *c)
{
	const char *t = kvlist_get(&c->req->form, "invite");

	if (t == NULL)
		t = kvlist_get(&c->req->query, "invite");
	return t != NULL && secret_is_wellformed("", t) ? t : NULL;
}

static int
signup_render(struct http_ctx *c, int status, struct form *f, const char *error,
    int first_user)
{
	return page_render(c, status, "pages/signup.html", "Create an account", "signup", NULL,
	    json_pack("{s:o, s:s?, s:s?, s:b}", "form", f != NULL ? form_context(f) :
	    json_null(), "form_error", error, "invite", signup_invite(c),
	    "first_user", first_user));
}

int
page_account_signup(struct http_ctx *c)
{
	struct form f;
	int first = 0, open;

	if (auth_user(c) != NULL)
		return page_redirect(c, "/inbox");
	open = account_signup_open(c, &first);
	if (open < 0)
		return c->res->status;
	if (!open && (strcmp(mr_config.signup, "closed") == 0 || signup_invite(c) == NULL))
		return signup_render(c, 403, NULL, strcmp(mr_config.signup, "closed") == 0 ?
		    "Sign-up is closed on this installation." :
		    "Sign-up needs an invitation on this installation. Ask an administrator for a "
		    "link.", 0);
	signup_form(&f, c, NULL, NULL, "UTC");
	return signup_render(c, 200, &f, NULL, first);
}

int
page_account_signup_post(struct http_ctx *c)
{
	const char *email = form_value(c, "email");
	const char *name = form_value(c, "display_name");
	const char *tz = form_value(c, "time_zone");
	const char *pw = kvlist_get(&c->req->form, "password");
	const char *invite = signup_invite(c), *why, *params[4];
	char digest[SECRET_DIGEST_PARAM_LEN], hash[PASSWORD_HASH_MAX], uid[24];
	int first = 0, open, rc, in_tx = 0;
	int64_t user_id, invite_id = 0;
	struct form f;
	PGresult *r;

	open = account_signup_open(c, &first);
	if (open < 0)
		return c->res->status;
	if (!open && (strcmp(mr_config.signup, "closed") == 0 || invite == NULL))
		return signup_render(c, 403, NULL, "Sign-up needs an invitation on this "
		    "installation.", 0);
	if (*tz == '\0')
		tz = "UTC";
	signup_form(&f, c, email, name, tz);
	if ((why = account_check_email(email)) != NULL)
		form_error(&f, "email", why);
	if ((why = account_check_name(name)) != NULL)
		form_error(&f, "display_name", why);
	if (pw == NULL || *pw == '\0')
		form_error(&f, "password", "Choose a password.");
	else if (password_check_policy(pw, email, name, &why) != 0)
		form_error(&f, "password", why);
	rc = account_check_time_zone(c, tz, &why);
	if (rc < 0)
		return c->res->status;
	if (rc > 0)
		form_error(&f, "time_zone", why);
	if (f.nerrors > 0)
		return signup_render(c, 400, &f, NULL, first);

	if ((rc = account_hash_password(c, pw, "Too many sign-ups at once. Try again in a "
	    "moment.", hash)) != 0)
		return rc;

	if (!open) {
		/* The invitation and the account are taken together or not at all. */
		if (account_begin(c) != 0)
			return c->res->status;
		in_tx = 1;
		secret_digest_param(invite, digest);
		params[0] = digest;
		params[1] = email;
		r = http_ctx_exec(c, DB_STMT_INVITE_CLAIM, 2, params);
		if (r == NULL)
			goto fail;
		if (PQntuples(r) != 1) {
			PQclear(r);
			account_rollback(c);
			return signup_render(c, 403, &f, "This invitation is not valid: it has "
			    "expired, was used already, or is for another address.", 0);
		}
		invite_id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
		PQclear(r);
	}
	params[0] = email;
	params[1] = name;
	params[2] = hash;
	params[3] = tz;
	r = http_ctx_exec(c, DB_STMT_USER_CREATE, 4, params);
	if (r == NULL) {
		if (c->res->status == 409) {
			if (in_tx)
				account_rollback(c);
			c->res->status = 200;
			c->res->error_code = NULL;
			form_error(&f, "email", "An account with this address exists already. "
			    "Sign in, or reset its password.");
			return signup_render(c, 409, &f, NULL, first);
		}
		goto fail;
	}
	user_id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	if (in_tx) {
		char iid[24];

		snprintf(iid, sizeof(iid), "%" PRId64, invite_id);
		snprintf(uid, sizeof(uid), "%" PRId64, user_id);
		/* Both end the transaction themselves when they fail. */
		if (account_tx_exec(c, DB_STMT_INVITE_SET_USER, iid, uid) < 0 ||
		    account_commit(c) != 0)
			return c->res->status;
	}
	sodium_memzero(hash, sizeof(hash));
	audit_record(c, user_id, user_id, "signup", json_pack("{s:b, s:b}", "admin", first,
	    "invited", invite_id != 0));
	if (session_start(c, user_id) != 0)
		return c->res->status;
	page_flash(c, "signed-up");
	return page_redirect(c, "/inbox");
fail:
	if (in_tx)
		account_rollback(c);
	return c->res->status;
}

/* --- Password reset by an emailed link ------------------------------------------------- */

static int
reset_render(struct http_ctx *c, int status, struct form *f, const char *token,
    const char *error, const char *account)
{
	return page_render(c, status, "pages/reset.html", "Reset your password", "login", NULL,
	    json_pack("{s:o, s:s?, s:s?, s:s?, s:b}", "form", f != NULL ? form_context(f) :
	    json_null(), "token", token, "form_error", error, "account", account,
	    "mail_enabled", mailer_enabled()));
}

static void
reset_request_form(struct form *f, struct http_ctx *c, const char *email)
{
	form_init(f, c, "reset");
	form_field(f, "email", "Email", "email", email, "username", 1,
	    "The address of your account. A link to choose a new password will be sent there.");
}

static void
reset_password_form(struct form *f, struct http_ctx *c)
{
	form_init(f, c, "reset");
	form_field(f, "new_password", "New password", "password", NULL, "new-password", 1,
	    "At least 12 characters. Every session of the account will be signed out.");
}

#define RESET_INVALID "This reset link is not valid: it was used already, has expired, or " \
	"was replaced by a newer one. Ask for a new link below."

/* The answer to a link that opens no account: the form that asks for a new one. */
static int
reset_invalid(struct http_ctx *c)
{
	struct form f;

	reset_request_form(&f, c, NULL);
	return reset_render(c, 410, &f, NULL, RESET_INVALID, NULL);
}

/* The account a reset token opens, with its address and name; or 0 with the answer made
 * and its status in *status: the form to ask for a new link (410), or the database's
 * failure. */
static int64_t
reset_peek(struct http_ctx *c, const char *token, const char **email, const char **name,
    int *status)
{
	char digest[SECRET_DIGEST_PARAM_LEN];
	const char *params[1] = { digest };
	PGresult *r;
	int64_t id = 0;

	if (!secret_is_wellformed("", token)) {
		*status = reset_invalid(c);
		return 0;
	}
	secret_digest_param(token, digest);
	r = http_ctx_exec(c, DB_STMT_RESET_PEEK, 1, params);
	if (r == NULL) {
		*status = c->res->status;
		return 0;
	}
	if (PQntuples(r) == 1) {
		id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
		*email = arena_strdup(c->arena, PQgetvalue(r, 0, 1));
		*name = arena_strdup(c->arena, PQgetvalue(r, 0, 2));
	}
	PQclear(r);
	if (id == 0)
		*status = reset_invalid(c);
	return id;
}

int
page_account_reset(struct http_ctx *c)
{
	const char *token = kvlist_get(&c->req->query, "token"), *email = NULL, *name = NULL;
	struct form f;
	int64_t id;
	int status;

	/* The page holds a secret in its URL: no other site learns it from a Referer. */
	http_response_header(c->res, "Referrer-Policy", "no-referrer");
	if (token == NULL) {
		reset_request_form(&f, c, NULL);
		return reset_render(c, 200, &f, NULL, NULL, NULL);
	}
	if ((id = reset_peek(c, token, &email, &name, &status)) == 0)
		return status;
	reset_password_form(&f, c);
	return reset_render(c, 200, &f, token, NULL, email);
}

int
page_account_reset_post(struct http_ctx *c)
{
	const char *email = form_value(c, "email"), *why, *params[3];
	char token[SECRET_TEXT_MAX], digest[SECRET_DIGEST_PARAM_LEN];
	struct form f;
	PGresult *r;

	reset_request_form(&f, c, email);
	if ((why = account_check_email(email)) != NULL) {
		form_error(&f, "email", why);
		return reset_render(c, 400, &f, NULL, NULL, NULL);
	}
	if (!mailer_enabled())
		return reset_render(c, 503, &f, NULL, "This installation cannot send mail, so "
		    "passwords cannot be reset by email. Ask your administrator for a reset link "
		    "(mailroom user reset-password).", NULL);
	secret_new("", token);
	secret_digest_param(token, digest);
	params[0] = email;
	params[1] = digest;
	params[2] = c->req->remote_addr;
	r = http_ctx_exec(c, DB_STMT_RESET_CREATE, 3, params);
	if (r == NULL)
		return c->res->status;
	/* The same answer whether or not the address has an account: the work that differs
	 * (sending) happens on the mail thread, after this answer. */
	if (PQntuples(r) == 1) {
		int64_t uid = strtoll(PQgetvalue(r, 0, 0), NULL, 10);

		account_notify(c, PQgetvalue(r, 0, 1), PQgetvalue(r, 0, 2),
		    "Reset your mailroom password", arena_printf(c->arena,
		    "Someone, probably you, asked to reset the password of your mailroom "
		    "account. To choose a new password, open this link within an hour:\n\n"
		    "%s/reset?token=%s\n\nThe link works once. If you did not ask for it, "
		    "ignore this message: your password stays as it is.", mr_config.base_url,
		    token));
		audit_record(c, uid, 0, "password.reset_requested", NULL);
	}
	PQclear(r);
	sodium_memzero(token, sizeof(token));
	page_flash(c, "reset-sent");
	return page_redirect(c, "/login");
}

int
page_account_reset_password(struct http_ctx *c)
{
	const char *token = kvlist_get(&c->req->form, "token");
	const char *pw = kvlist_get(&c->req->form, "new_password");
	const char *email = NULL, *name = NULL, *why, *params[1];
	char digest[SECRET_DIGEST_PARAM_LEN], hash[PASSWORD_HASH_MAX], uid[24];
	struct form f;
	int64_t id;
	int rc, failed;
	PGresult *r;

	http_response_header(c->res, "Referrer-Policy", "no-referrer");
	if (token == NULL)
		token = "";
	if ((id = reset_peek(c, token, &email, &name, &rc)) == 0)
		return rc;
	reset_password_form(&f, c);
	if (pw == NULL || *pw == '\0')
		form_error(&f, "new_password", "Choose a new password.");
	else if (password_check_policy(pw, email, name, &why) != PASSWORD_POLICY_OK)
		form_error(&f, "new_password", why);
	if (f.nerrors > 0)
		return reset_render(c, 400, &f, token, NULL, email);
	form_free(&f);
	if ((rc = account_hash_password(c, pw, NULL, hash)) != 0)
		return rc;
	/* Used once: the claim and the new password in one transaction. */
	secret_digest_param(token, digest);
	snprintf(uid, sizeof(uid), "%" PRId64, id);
	if (account_begin(c) != 0)
		return c->res->status;
	params[0] = digest;
	r = http_ctx_exec(c, DB_STMT_RESET_CLAIM, 1, params);
	if (r == NULL || PQntuples(r) != 1 || strtoll(PQgetvalue(r, 0, 0), NULL, 10) != id) {
		PQclear(r);
		account_rollback(c);
		if (c->res->status >= 500)
			return c->res->status;
		return reset_invalid(c);
	}
	PQclear(r);
	failed = account_tx_exec(c, DB_STMT_USER_SET_PASSWORD, uid, hash) < 0 ||
	    account_tx_exec(c, DB_STMT_RESET_END_OTHERS, uid, NULL) < 0 ||
	    account_tx_exec(c, DB_STMT_SESSION_DELETE_ALL, uid, NULL) < 0 ||
	    account_commit(c) != 0;
	sodium_memzero(hash, sizeof(hash));
	if (failed)
		return c->res->status;
	audit_record(c, id, id, "password.reset", NULL);
	if (throttle_success(http_ctx_db(c), email) < 0)
		log_warn("could not clear the sign-in throttle");
	account_notify(c, email, name, "Your mailroom password was reset",
	    "The password of your mailroom account was reset with a link sent to this "
	    "address, and every session of the account was signed out.\n\nIf this was not "
	    "you, tell your administrator now.");
	if (session_start(c, id) != 0)
		return c->res->status;
	page_flash(c, "password-reset");
	return page_redirect(c, "/inbox");
}
