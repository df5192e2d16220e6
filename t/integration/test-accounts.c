/* test-accounts.c: integration tests of accounts over HTTP against the running stack:
 * sign-up, sign-in, sign-out, wrong passwords, the lockout and its expiry, the session id
 * changing at sign-in, CSRF and Origin checks that refuse and change nothing, randomized
 * form input that never gets a 5xx, and a database that holds no plaintext secret.
 * Usage: test-accounts [suite...]; with no argument every suite runs, in order. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <CUnit/Basic.h>
#include <CUnit/CUnit.h>

#include "itest.h"
#include "iweb.h"

#define SESSION_COOKIE "mr_session"
#define PRE_COOKIE "mr_pre"
#define GOOD_PASSWORD "correct horse battery staple 42"

#define EXPECT(ok, w, ...) \
	itest_expect_at(__FILE__, __LINE__, (ok), iweb_last(w), __VA_ARGS__)
#define EXPECT_STATUS(st, want, w) \
	itest_expect_status_at(__FILE__, __LINE__, (st), (want), iweb_last(w))

/* Signs a new account up in w; returns its email (static storage of iweb). */
static const char *
signup(struct iweb *w, const char *tag)
{
	const char *email = iweb_unique_email(tag);
	long st;

	st = iweb_get(w, "/signup");
	EXPECT_STATUS(st, 200, w);
	st = iweb_post(w, "/signup", (const char *const[]){ "email", email, "display_name",
	    "Ada Lovelace", "password", GOOD_PASSWORD, "time_zone", "Europe/London", NULL }, 1,
	    NULL);
	EXPECT_STATUS(st, 303, w);
	EXPECT(strcmp(iweb_location(w), "/inbox") == 0, w, "sign-up goes to the inbox");
	EXPECT(iweb_cookie(w, SESSION_COOKIE) != NULL, w, "sign-up sets the session cookie");
	return email;
}

/* Tests share 127.0.0.1: each starts with that address's failures forgotten. */
static void
forget_ip_failures(void)
{
	PQclear(iweb_sql("DELETE FROM login_throttle WHERE scope = 'ip'", 0, NULL));
}

/* Failures slow the next attempts down before they lock: make the slow-downs pass, as
 * if the client had waited, without sleeping. */
static void
let_slowdowns_pass(void)
{
	PQclear(iweb_sql("UPDATE login_throttle SET last_failure_at = now() - "
	    "interval '60 seconds' WHERE locked_until IS NULL OR locked_until < now()", 0, NULL));
}

/* Signs in from the sign-in form (w must not be signed in already). */
static long
login_at(unsigned line, struct iweb *w, const char *email, const char *password)
{
	long st;

	st = iweb_get(w, "/login");
	itest_expect_at(__FILE__, line, st == 200, iweb_last(w),
	    "the sign-in form: status %ld, expected 200 (Location %s)", st, iweb_location(w));
	return iweb_post(w, "/login", (const char *const[]){ "email", email, "password",
	    password, NULL }, 1, NULL);
}
#define login(w, email, password) login_at(__LINE__, (w), (email), (password))

static void
test_signup_login_logout(void)
{
	struct iweb *w = iweb_new();
	const char *email = signup(w, "flow");
	char *first_session;
	long st;

	/* The inbox is the user's now. */
	st = iweb_get(w, "/inbox");
	EXPECT_STATUS(st, 200, w);
	EXPECT(iweb_body_has(w, "Ada Lovelace"), w, "the page shows the user's name");
	EXPECT(iweb_body_has(w, "Your account is ready."), w, "the flash message shows once");
	st = iweb_get(w, "/inbox");
	EXPECT(!iweb_body_has(w, "Your account is ready."), w, "the flash message is gone");

	/* Sign out: the session ends on the server, not only in the browser. */
	first_session = strdup(iweb_cookie(w, SESSION_COOKIE) != NULL ?
	    iweb_cookie(w, SESSION_COOKIE) : "");
	st = iweb_post(w, "/logout", NULL, 1, NULL);
	EXPECT_STATUS(st, 303, w);
	EXPECT(iweb_cookie(w, SESSION_COOKIE) == NULL, w, "sign-out clears the cookie");
	iweb_set_cookie(w, SESSION_COOKIE, first_session);
	st = iweb_get(w, "/inbox");
	EXPECT_STATUS(st, 303, w);
	EXPECT(strncmp(iweb_location(w), "/login", 6) == 0, w, "an ended session is refused");
	iweb_clear_cookies(w);

	/* Signed out, the inbox sends to the sign-in form, and back afterwards. */
	st = iweb_get(w, "/inbox?category=fyi");
	EXPECT_STATUS(st, 303, w);
	EXPECT(strcmp(iweb_location(w), "/login?next=/inbox%3Fcategory%3Dfyi") == 0, w,
	    "redirect keeps where the user was going");
	st = iweb_get(w, "/login?next=/inbox%3Fcategory%3Dfyi");
	st = iweb_post(w, "/login", (const char *const[]){ "email", email, "password",
	    GOOD_PASSWORD, "next", "/inbox?category=fyi", NULL }, 1, NULL);
	EXPECT_STATUS(st, 303, w);
	EXPECT(strcmp(iweb_location(w), "/inbox?category=fyi") == 0, w, "back to next");
	EXPECT(iweb_cookie(w, SESSION_COOKIE) != NULL &&
	    strcmp(iweb_cookie(w, SESSION_COOKIE), first_session) != 0, w,
	    "a new session id at sign-in");
	st = iweb_get(w, "/inbox?category=fyi");
	EXPECT_STATUS(st, 200, w);

	/* An open redirect is not followed. */
	iweb_clear_cookies(w);
	st = login(w, email, GOOD_PASSWORD);
	(void)st;
	iweb_clear_cookies(w);
	st = iweb_get(w, "/login");
	st = iweb_post(w, "/login", (const char *const[]){ "email", email, "password",
	    GOOD_PASSWORD, "next", "//evil.example/", NULL }, 1, NULL);
	EXPECT_STATUS(st, 303, w);
	EXPECT(strcmp(iweb_location(w), "/inbox") == 0, w, "next=//host is not followed");
	free(first_session);
	iweb_free(w);
}

static void
test_session_fixation(void)
{
	struct iweb *w = iweb_new();
	const char *email = signup(w, "fixation");
	long st;

	/* A session id planted before sign-in (an attacker's own valid session, or any value)
	 * is replaced at sign-in, never adopted. */
	char *planted = strdup(iweb_cookie(w, SESSION_COOKIE) != NULL ?
	    iweb_cookie(w, SESSION_COOKIE) : "");
	struct iweb *victim = iweb_new();

	iweb_set_cookie(victim, SESSION_COOKIE, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
	st = login(victim, email, GOOD_PASSWORD);
	EXPECT_STATUS(st, 303, victim);
	EXPECT(strcmp(iweb_cookie(victim, SESSION_COOKIE),
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA") != 0, victim, "planted id replaced");
	EXPECT(strcmp(iweb_cookie(victim, SESSION_COOKIE), planted) != 0, victim,
	    "a new id, not the other session's");
	free(planted);
	iweb_free(victim);
	iweb_free(w);
}

static void
test_wrong_password(void)
{
	struct iweb *w = iweb_new();
	const char *email = signup(w, "wrong");
	long st;

	iweb_clear_cookies(w);
	forget_ip_failures();
	st = login(w, email, "not the password at all");
	EXPECT_STATUS(st, 401, w);
	EXPECT(iweb_body_has(w, "Email or password is wrong."), w, "a clear message");
	EXPECT(iweb_body_has(w, "aria-invalid=\"true\""), w, "the field is marked invalid");
	EXPECT(iweb_cookie(w, SESSION_COOKIE) == NULL, w, "no session");
	EXPECT(!iweb_body_has(w, "not the password at all"), w, "the password is not echoed");

	/* An unknown address gets the very same answer. */
	st = login(w, iweb_unique_email("nobody"), "not the password at all");
	EXPECT_STATUS(st, 401, w);
	EXPECT(iweb_body_has(w, "Email or password is wrong."), w, "same message");

	/* Empty fields: 400 with the error next to each field. */
	st = iweb_post(w, "/login", (const char *const[]){ "email", "", "password", "", NULL },
	    1, NULL);
	EXPECT_STATUS(st, 400, w);
	EXPECT(iweb_body_has(w, "id=\"login-email-error\""), w, "email error next to email");
	EXPECT(iweb_body_has(w, "id=\"login-password-error\""), w, "password error");
	EXPECT(iweb_body_has(w, "aria-describedby=\"login-email-error\""), w,
	    "the error is tied to its field");
	iweb_free(w);
}

static void
test_lockout(void)
{
	struct iweb *w = iweb_new();
	const char *email = signup(w, "lockout");
	const char *p[1] = { email };
	char *failures;
	long st;
	int i;

	iweb_clear_cookies(w);
	forget_ip_failures();
	for (i = 0; i < 5; i++) {
		let_slowdowns_pass();
		st = login(w, email, "wrong password number x");
		EXPECT_STATUS(st, 401, w);
	}
	/* Locked: even the right password is refused, with when to try again. */
	st = login(w, email, GOOD_PASSWORD);
	EXPECT_STATUS(st, 429, w);
	EXPECT(itest_header(&w->last, "Retry-After") != NULL, w, "Retry-After on a lockout");
	EXPECT(iweb_body_has(w, "Too many failed attempts"), w, "says why");
	EXPECT(iweb_cookie(w, SESSION_COOKIE) == NULL, w, "no session while locked");
	failures = iweb_sql_value("SELECT failures FROM login_throttle "
	    "WHERE scope = 'account' AND key = lower($1)", 1, p);
	EXPECT(failures != NULL && atoi(failures) >= 5, w, "failures stored in PostgreSQL");
	free(failures);

	/* The lock expires: move its clock back rather than wait. */
	PQclear(iweb_sql("UPDATE login_throttle SET locked_until = now() - interval '1 second', "
	    "first_failure_at = now() - interval '1 day', "
	    "last_failure_at = now() - interval '1 day' "
	    "WHERE scope = 'account' AND key = lower($1)", 1, p));
	st = login(w, email, GOOD_PASSWORD);
	EXPECT_STATUS(st, 303, w);
	EXPECT(iweb_cookie(w, SESSION_COOKIE) != NULL, w, "signed in after the lock expired");
	iweb_free(w);
}

/* Failures spread over many addresses from one client address lock that address. */
static void
test_ip_lockout(void)
{
	struct iweb *w = iweb_new();
	const char *email = signup(w, "iplock");
	long st = 0;
	int i;

	iweb_clear_cookies(w);
	forget_ip_failures();
	for (i = 0; i < 20; i++) {
		let_slowdowns_pass();
		st = login(w, iweb_unique_email("spray"), "wrong password number x");
		if (st != 401)
			break;
	}
	EXPECT(i == 20, w, "20 failures answered 401 (stopped at %d with %ld)", i, st);
	st = login(w, email, GOOD_PASSWORD);
	EXPECT_STATUS(st, 429, w);
	EXPECT(iweb_cookie(w, SESSION_COOKIE) == NULL, w, "no session from a locked address");
	forget_ip_failures();
	st = login(w, email, GOOD_PASSWORD);
	EXPECT_STATUS(st, 303, w);
	iweb_free(w);
}

static void
test_csrf(void)
{
	struct iweb *w = iweb_new();
	struct iweb *other = iweb_new();
	const char *email = signup(w, "csrf");
	char *sessions_before, *sessions_after;
	const char *p[1] = { email };
	long st;

	(void)email;
	sessions_before = iweb_sql_value("SELECT count(*) FROM sessions s JOIN users u "
	    "ON u.id = s.user_id WHERE u.email = $1", 1, p);
	st = iweb_get(w, "/inbox");
	EXPECT_STATUS(st, 200, w);

	/* No token, a wrong token, another session's token, a foreign Origin, a cross-site
	 * fetch without Origin: 403, and the session is still there. */
	st = iweb_post(w, "/logout", NULL, 0, NULL);
	EXPECT_STATUS(st, 403, w);
	EXPECT(iweb_body_has(w, "expired or did not come from this site"), w, "403 page");
	st = iweb_post(w, "/logout", (const char *const[]){ "csrf_token",
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", NULL }, 0, NULL);
	EXPECT_STATUS(st, 403, w);
	signup(other, "csrf-other");
	iweb_get(other, "/inbox");
	st = iweb_post(w, "/logout", (const char *const[]){ "csrf_token", other->csrf, NULL }, 0,
	    NULL);
	EXPECT_STATUS(st, 403, w);
	st = iweb_post(w, "/logout", NULL, 1, "https://evil.example");
	EXPECT_STATUS(st, 403, w);
	st = iweb_post(w, "/logout", NULL, 1, "null");
	EXPECT_STATUS(st, 403, w);
	st = iweb_post_headers(w, "/logout", NULL, 1, "",
	    (const char *const[]){ "Sec-Fetch-Site: cross-site", NULL });
	EXPECT_STATUS(st, 403, w);
	sessions_after = iweb_sql_value("SELECT count(*) FROM sessions s JOIN users u "
	    "ON u.id = s.user_id WHERE u.email = $1", 1, p);
	EXPECT(sessions_before != NULL && sessions_after != NULL &&
	    strcmp(sessions_before, sessions_after) == 0, w, "refused requests changed nothing");
	st = iweb_get(w, "/inbox");
	EXPECT_STATUS(st, 200, w);

	/* The JSON envelope for an API client. */
	st = iweb_post_headers(w, "/logout", NULL, 0, NULL,
	    (const char *const[]){ "Accept: application/json", NULL });
	EXPECT_STATUS(st, 403, w);
	EXPECT(iweb_body_has(w, "\"code\":\"csrf_failed\""), w, "csrf_failed envelope");

	/* HTMX sends the token as a header. */
	st = iweb_post_headers(w, "/logout", NULL, 0, NULL, (const char *const[]){
	    "HX-Request: true", NULL });
	EXPECT_STATUS(st, 403, w);
	{
		char *h = itest_asprintf("X-CSRF-Token: %s", w->csrf);

		st = iweb_post_headers(w, "/logout", NULL, 0, NULL, (const char *const[]){
		    "HX-Request: true", h, NULL });
		free(h);
	}
	EXPECT_STATUS(st, 200, w);
	EXPECT(itest_header(&w->last, "HX-Redirect") != NULL, w, "HTMX is redirected");

	/* Anonymous forms are protected too: a sign-in without the pre-session token. */
	iweb_clear_cookies(w);
	st = iweb_post(w, "/login", (const char *const[]){ "email", email, "password",
	    GOOD_PASSWORD, NULL }, 0, NULL);
	EXPECT_STATUS(st, 403, w);
	EXPECT(iweb_cookie(w, SESSION_COOKIE) == NULL, w, "no session from a forged sign-in");
	free(sessions_before);
	free(sessions_after);
	iweb_free(other);
	iweb_free(w);
}

static void
test_signup_validation(void)
{
	static const struct {
		const char *field, *value, *error_id;
	} cases[] = {
		{ "email", "not-an-address", "signup-email-error" },
		{ "email", "a@b", "signup-email-error" },
		{ "password", "short", "signup-password-error" },
		{ "password", "password1234", "signup-password-error" },
		{ "password", "x", "signup-password-error" },
		{ "display_name", "", "signup-display_name-error" },
		{ "time_zone", "Mars/Olympus", "signup-time_zone-error" },
	};
	struct iweb *w = iweb_new();
	const char *email = signup(w, "dup");
	long st;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *f[] = { "email", iweb_unique_email("valid"), "display_name", "Grace",
			"password", GOOD_PASSWORD, "time_zone", "UTC", NULL };

		for (size_t j = 0; f[j] != NULL; j += 2) {
			if (strcmp(f[j], cases[i].field) == 0)
				f[j + 1] = cases[i].value;
		}
		iweb_clear_cookies(w);
		iweb_get(w, "/signup");
		st = iweb_post(w, "/signup", f, 1, NULL);
		EXPECT(st == 400, w, "%s=%s: status %ld", cases[i].field, cases[i].value, st);
		EXPECT(iweb_body_has(w, cases[i].error_id), w, "%s=%s: error next to the field",
		    cases[i].field, cases[i].value);
		EXPECT(iweb_cookie(w, SESSION_COOKIE) == NULL, w, "no account, no session");
	}
	/* The same address twice. */
	iweb_clear_cookies(w);
	iweb_get(w, "/signup");
	st = iweb_post(w, "/signup", (const char *const[]){ "email", email, "display_name",
	    "Someone", "password", GOOD_PASSWORD, "time_zone", "UTC", NULL }, 1, NULL);
	EXPECT_STATUS(st, 409, w);
	EXPECT(iweb_body_has(w, "signup-email-error"), w, "duplicate address at the field");
	iweb_free(w);
}

/* The emailed reset link: same answer for unknown addresses, works once, within its
 * hour, ends every session; the token is nowhere in the database. */
static void
test_reset_by_mail(void)
{
	struct iweb *w = iweb_new(), *other = iweb_new(), *anon = iweb_new();
	const char *email = signup(w, "reset");
	const char *nobody = iweb_unique_email("nobody");
	const char *new_password = "a brand new passphrase 9";
	char *mail, *link, *path, *token, *dump, *old_session;
	long st;

	forget_ip_failures();
	EXPECT_STATUS(login(other, email, GOOD_PASSWORD), 303, other);
	old_session = strdup(iweb_cookie(w, SESSION_COOKIE) != NULL ?
	    iweb_cookie(w, SESSION_COOKIE) : "");
	if (getenv("MAILROOM_TEST_MAILDIR") == NULL) {
		printf("\n  MAILROOM_TEST_MAILDIR is not set: the mailed link is not checked\n");
		goto out;
	}
	/* An unknown address and a known one get the same answer. */
	st = iweb_get(anon, "/reset");
	EXPECT_STATUS(st, 200, anon);
	st = iweb_post(anon, "/reset", (const char *const[]){ "email", nobody, NULL }, 1, NULL);
	EXPECT_STATUS(st, 303, anon);
	EXPECT(strcmp(iweb_location(anon), "/login") == 0, anon, "to the sign-in page");
	st = iweb_post(anon, "/reset", (const char *const[]){ "email", email, NULL }, 1, NULL);
	EXPECT_STATUS(st, 303, anon);
	EXPECT(strcmp(iweb_location(anon), "/login") == 0, anon, "the same answer");
	iweb_get(anon, "/login");
	EXPECT(iweb_body_has(anon, "If an account uses that address"), anon, "says so");

	mail = iweb_mail_for(email, 0, 15);
	EXPECT(mail != NULL, NULL, "a mail reached the stack's mailbox for %s", email);
	if (mail == NULL)
		goto out;
	EXPECT(strstr(mail, "Subject: Reset your mailroom password") != NULL, NULL,
	    "the subject says what it is");
	link = iweb_extract_url(mail, itest_base_url());
	EXPECT(link != NULL && strstr(link, "/reset?token=") != NULL, NULL, "the mail has a link");
	free(mail);
	EXPECT(iweb_mail_for(nobody, 0, 1) == NULL, NULL, "no mail for an unknown address");
	if (link == NULL || strstr(link, "/reset?token=") == NULL)
		goto out;
	path = strdup(link + strlen(itest_base_url()));
	token = strdup(strstr(link, "token=") + 6);

	/* The link opens a form; the page sends no Referer anywhere. */
	st = iweb_get(anon, path);
	EXPECT_STATUS(st, 200, anon);
	EXPECT(itest_header(&anon->last, "Referrer-Policy") != NULL &&
	    strcmp(itest_header(&anon->last, "Referrer-Policy"), "no-referrer") == 0 &&
	    itest_header_count(&anon->last, "Referrer-Policy") == 1, anon, "no-referrer, once");
	EXPECT(iweb_body_has(anon, email), anon, "names the account");
	st = iweb_post(anon, "/reset/password", (const char *const[]){ "token", token,
	    "new_password", "short", NULL }, 1, NULL);
	EXPECT_STATUS(st, 400, anon);
	EXPECT(iweb_body_has(anon, "reset-new_password-error"), anon, "error at the field");
	st = iweb_post(anon, "/reset/password", (const char *const[]){ "token", token,
	    "new_password", new_password, NULL }, 1, NULL);
	EXPECT_STATUS(st, 303, anon);
	EXPECT(strcmp(iweb_location(anon), "/inbox") == 0, anon, "signed in, to the inbox");
	EXPECT(iweb_cookie(anon, SESSION_COOKIE) != NULL, anon, "a session");

	/* Every earlier session is over; the old password no longer works. */
	EXPECT_STATUS(iweb_get(w, "/inbox"), 303, w);
	EXPECT_STATUS(iweb_get(other, "/inbox"), 303, other);
	iweb_clear_cookies(other);
	EXPECT_STATUS(login(other, email, GOOD_PASSWORD), 401, other);
	EXPECT_STATUS(login(other, email, new_password), 303, other);

	/* Used once: the second time it is refused. */
	iweb_clear_cookies(anon);
	st = iweb_get(anon, path);
	EXPECT_STATUS(st, 410, anon);
	EXPECT(iweb_body_has(anon, "not valid"), anon, "says the link is spent");
	st = iweb_post(anon, "/reset/password", (const char *const[]){ "token", token,
	    "new_password", "yet another passphrase 10", NULL }, 1, NULL);
	EXPECT_STATUS(st, 410, anon);
	iweb_clear_cookies(other);
	EXPECT_STATUS(login(other, email, new_password), 303, other);

	/* An expired link is refused the same way. */
	iweb_post(anon, "/reset", (const char *const[]){ "email", email, NULL }, 1, NULL);
	PQclear(iweb_sql("UPDATE password_resets SET expires_at = now() - interval '1 second' "
	    "WHERE used_at IS NULL AND user_id = (SELECT id FROM users WHERE email = $1)", 1,
	    (const char *const[]){ email }));
	mail = iweb_mail_for(email, 0, 15);
	free(link);
	link = iweb_extract_url(mail, itest_base_url());
	if (link != NULL && strstr(link, "/reset?token=") != NULL && strcmp(strstr(link,
	    "token=") + 6, token) != 0) {
		EXPECT_STATUS(iweb_get(anon, link + strlen(itest_base_url())), 410, anon);
	}
	free(mail);

	dump = iweb_db_dump();
	EXPECT(strstr(dump, token) == NULL, NULL, "the reset token is not in the database");
	EXPECT(strstr(dump, new_password) == NULL, NULL, "nor the new password");
	free(dump);
	free(path);
	free(token);
	free(link);
out:
	free(old_session);
	iweb_free(w);
	iweb_free(other);
	iweb_free(anon);
}

/* Settings: the password and the address change only with the current password; a
 * changed password ends the other sessions; a session can be ended from another. */
static void
test_settings_changes(void)
{
	struct iweb *w = iweb_new(), *phone = iweb_new(), *laptop = iweb_new();
	const char *email = signup(w, "settings");
	const char *new_email = iweb_unique_email("moved");
	const char *p[1] = { email };
	char *sid;
	long st;

	forget_ip_failures();
	EXPECT_STATUS(login(phone, email, GOOD_PASSWORD), 303, phone);
	EXPECT_STATUS(login(laptop, email, GOOD_PASSWORD), 303, laptop);

	/* Three sessions listed; end the laptop's from the first browser. */
	st = iweb_get(w, "/settings");
	EXPECT_STATUS(st, 200, w);
	EXPECT(iweb_body_has(w, "This browser"), w, "the current session is marked");
	sid = iweb_sql_value("SELECT s.id FROM sessions s JOIN users u ON u.id = s.user_id "
	    "WHERE u.email = $1 ORDER BY s.created_at DESC, s.id DESC LIMIT 1", 1, p);
	if (sid != NULL) {
		char *path = itest_asprintf("/settings/sessions/%s/end", sid);

		st = iweb_post(w, path, NULL, 1, NULL);
		EXPECT_STATUS(st, 303, w);
		EXPECT_STATUS(iweb_get(laptop, "/inbox"), 303, laptop);
		EXPECT_STATUS(iweb_get(phone, "/inbox"), 200, phone);
		free(path);
	}
	free(sid);

	/* Profile: a bad time zone at its field, then a good one kept. */
	iweb_get(w, "/settings");
	st = iweb_post(w, "/settings/profile", (const char *const[]){ "display_name", "Ada L.",
	    "time_zone", "Nowhere/Atlantis", NULL }, 1, NULL);
	EXPECT_STATUS(st, 400, w);
	EXPECT(iweb_body_has(w, "profile-time_zone-error"), w, "time zone error at the field");
	st = iweb_post(w, "/settings/profile", (const char *const[]){ "display_name", "Ada L.",
	    "time_zone", "America/New_York", NULL }, 1, NULL);
	EXPECT_STATUS(st, 303, w);
	{
		char *tz = iweb_sql_value("SELECT time_zone FROM users WHERE email = $1", 1, p);

		EXPECT(tz != NULL && strcmp(tz, "America/New_York") == 0, NULL, "saved");
		free(tz);
	}

	/* Password: the wrong current one changes nothing. */
	iweb_get(w, "/settings");
	st = iweb_post(w, "/settings/password", (const char *const[]){ "current_password",
	    "not my password at all", "new_password", "another long passphrase 7", NULL }, 1,
	    NULL);
	EXPECT_STATUS(st, 400, w);
	EXPECT(iweb_body_has(w, "password-current_password-error"), w, "error at the field");
	EXPECT_STATUS(iweb_get(phone, "/inbox"), 200, phone);
	st = iweb_post(w, "/settings/password", (const char *const[]){ "current_password",
	    GOOD_PASSWORD, "new_password", "another long passphrase 7", NULL }, 1, NULL);
	EXPECT_STATUS(st, 303, w);
	EXPECT_STATUS(iweb_get(w, "/inbox"), 200, w);
	EXPECT_STATUS(iweb_get(phone, "/inbox"), 303, phone);

	/* Email: with the (new) password only. */
	iweb_get(w, "/settings");
	st = iweb_post(w, "/settings/email", (const char *const[]){ "email", new_email,
	    "password", GOOD_PASSWORD, NULL }, 1, NULL);
	EXPECT_STATUS(st, 400, w);
	EXPECT(iweb_body_has(w, "email-password-error"), w, "re-authentication refused");
	st = iweb_post(w, "/settings/email", (const char *const[]){ "email", new_email,
	    "password", "another long passphrase 7", NULL }, 1, NULL);
	EXPECT_STATUS(st, 303, w);
	iweb_clear_cookies(phone);
	EXPECT_STATUS(login(phone, email, "another long passphrase 7"), 401, phone);
	EXPECT_STATUS(login(phone, new_email, "another long passphrase 7"), 303, phone);

	/* Each change is in the account's activity. */
	st = iweb_get(w, "/settings/activity");
	EXPECT_STATUS(st, 200, w);
	EXPECT(iweb_body_has(w, "Password changed") && iweb_body_has(w, "Email address changed") &&
	    iweb_body_has(w, "Wrong current password") && iweb_body_has(w, "Session ended"), w,
	    "the activity lists the changes");
	iweb_free(w);
	iweb_free(phone);
	iweb_free(laptop);
}

/* Random bytes, UTF-8 or not, long or short, for every field of every form, anonymous
 * and signed in (an administrator's): the answer is a 2xx, 3xx or 4xx, never a 5xx. */
static void
test_random_forms(void)
{
	static const struct {
		const char *path;       /* "{id}" is the signed-in user's id */
		const char *page;       /* where the form is, for its CSRF token */
		int signed_in;
		const char *fields[5];
	} forms[] = {
		{ "/signup", "/signup", 0, { "email", "display_name", "password", "time_zone", NULL } },
		{ "/login", "/login", 0, { "email", "password", "next", NULL } },
		{ "/reset", "/reset", 0, { "email", NULL } },
		{ "/reset/password", "/reset", 0, { "token", "new_password", NULL } },
		{ "/settings/profile", "/settings", 1, { "display_name", "time_zone", NULL } },
		{ "/settings/password", "/settings", 1, { "current_password", "new_password",
		    NULL } },
		{ "/settings/email", "/settings", 1, { "email", "password", NULL } },
		{ "/settings/tokens", "/settings/tokens", 1, { "name", "scopes", "expires_days",
		    NULL } },
		{ "/admin/invites", "/admin/invites", 1, { "email", "days", NULL } },
		{ "/admin/users/{id}/role", "/admin/users", 1, { "role", NULL } },
	};
	static const char *const seeds[] = { "", " ", "a@b.c", "x@example.org", "UTC",
		"Europe/Berlin", "\xff\xfe", "\xc3\x28", "<script>alert(1)</script>", "' OR 1=1 --",
		"%00", "\x01\x02", "//evil", "\xc3\xa9", "\xf0\x9f\x98\x80", "a\r\nSet-Cookie: x=y",
		GOOD_PASSWORD, "password1234", "read", "write", "admin", "member", "-1", "0",
		"99999999999999999999", "30", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" };
	struct iweb *anon = iweb_new(), *user = iweb_new();
	const char *email = signup(user, "random");
	const char *p[1] = { email };
	char *uid = iweb_sql_value("SELECT id FROM users WHERE email = $1", 1, p);
	char *hash = iweb_sql_value("SELECT password_hash FROM users WHERE email = $1", 1, p);
	unsigned seed = (unsigned)getpid();
	int iterations = 400, bad = 0;

	forget_ip_failures();
	/* An administrator reaches every form; its own role form may demote it (refused for
	 * the last admin, or done): make it admin again each time. */
	PQclear(iweb_sql("UPDATE users SET role = 'admin' WHERE email = $1", 1, p));
	if (getenv("MAILROOM_TEST_ITERATIONS") != NULL)
		iterations = atoi(getenv("MAILROOM_TEST_ITERATIONS"));
	printf("\n  seed %u, %d iterations\n", seed, iterations);
	srand(seed);
	for (int it = 0; it < iterations; it++) {
		size_t fi = (size_t)rand() % (sizeof(forms) / sizeof(forms[0]));
		struct iweb *w = forms[fi].signed_in ? user : anon;
		char path[128], values[5][600];
		const char *f[12];
		size_t n = 0;
		long st;

		snprintf(path, sizeof(path), "%s", forms[fi].path);
		if (strstr(path, "{id}") != NULL)
			snprintf(strstr(path, "{id}"), sizeof(path) - (size_t)(strstr(path, "{id}") -
			    path), "%s%s", uid != NULL ? uid : "0",
			    strstr(forms[fi].path, "{id}") + 4);
		for (size_t k = 0; forms[fi].fields[k] != NULL; k++) {
			int kind = rand() % 3;
			size_t len;

			if (kind == 0) {
				snprintf(values[k], sizeof(values[k]), "%s",
				    seeds[(size_t)rand() % (sizeof(seeds) / sizeof(seeds[0]))]);
			} else {
				len = kind == 1 ? (size_t)rand() % 20 : (size_t)rand() % 590;
				for (size_t b = 0; b < len; b++)
					values[k][b] = (char)(1 + rand() % 255);
				values[k][len] = '\0';
			}
			if (rand() % 10 == 0)
				continue;   /* a missing field */
			f[n++] = forms[fi].fields[k];
			f[n++] = values[k];
		}
		f[n] = NULL;
		if (!forms[fi].signed_in)
			iweb_clear_cookies(w);
		/* Passwords and addresses of the signed-in user may change: keep it signed in
		 * and an administrator, whatever the last answer did. */
		if (forms[fi].signed_in && iweb_get(w, forms[fi].page) != 200) {
			iweb_clear_cookies(w);
			PQclear(iweb_sql("UPDATE users SET email = $1, password_hash = $3, "
			    "role = 'admin', disabled = false WHERE id = $2::bigint", 3,
			    (const char *const[]){ email, uid, hash }));
			forget_ip_failures();
			PQclear(iweb_sql("DELETE FROM login_throttle", 0, NULL));
			login(w, email, GOOD_PASSWORD);
		}
		iweb_get(w, forms[fi].page);
		st = iweb_post(w, path, f, 1, NULL);
		/* nginx's own rate limit on these forms answers before the application: wait
		 * for it and send the same input again, so that the application sees it. */
		for (int tries = 0; st == 429 && iweb_body_has(w, "<center>nginx</center>") &&
		    tries < 40; tries++) {
			itest_sleep(0.25);
			iweb_get(w, forms[fi].page);
			st = iweb_post(w, path, f, 1, NULL);
		}
		if (st >= 500 || st < 200) {
			bad++;
			EXPECT(0, w, "iteration %d on %s: status %ld", it, path, st);
		}
		PQclear(iweb_sql("UPDATE users SET role = 'admin' WHERE id = $1::bigint", 1,
		    (const char *const[]){ uid }));
	}
	EXPECT(bad == 0, NULL, "%d answers were 5xx or missing", bad);
	forget_ip_failures();
	free(uid);
	free(hash);
	iweb_free(anon);
	iweb_free(user);
}

/* No plaintext password, session id or CSRF secret anywhere in the database. */
static void
test_no_plaintext_in_db(void)
{
	struct iweb *w = iweb_new();
	char *dump, *session;

	signup(w, "dump");
	if (iweb_cookie(w, SESSION_COOKIE) == NULL) {
		CU_FAIL("sign-up failed");
		iweb_free(w);
		return;
	}
	session = strdup(iweb_cookie(w, SESSION_COOKIE));
	iweb_get(w, "/inbox");
	dump = iweb_db_dump();
	EXPECT(strlen(dump) > 0 && strstr(dump, "Ada Lovelace") != NULL, NULL,
	    "the dump has the rows");
	EXPECT(strstr(dump, GOOD_PASSWORD) == NULL, NULL, "no plaintext password");
	EXPECT(strstr(dump, session) == NULL, NULL, "no session id");
	EXPECT(strstr(dump, w->csrf) == NULL, NULL, "no CSRF token");
	free(dump);
	free(session);
	iweb_free(w);
}

int
main(int argc, char **argv)
{
	static const struct itest_case tests[] = {
		{ "accounts", "sign up, in and out", test_signup_login_logout, 0 },
		{ "accounts", "session id changes at sign-in", test_session_fixation, 0 },
		{ "accounts", "wrong password", test_wrong_password, 0 },
		{ "accounts", "lockout and its expiry", test_lockout, 0 },
		{ "accounts", "lockout of a client address", test_ip_lockout, 0 },
		{ "accounts", "sign-up validation", test_signup_validation, 0 },
		{ "accounts", "password reset by mail", test_reset_by_mail, 0 },
		{ "accounts", "settings changes", test_settings_changes, 0 },
		{ "csrf", "refused and nothing changes", test_csrf, 0 },
		{ "random", "random form input never gets a 5xx", test_random_forms, 0 },
		{ "secrets", "no plaintext secret in the database", test_no_plaintext_in_db, 0 },
	};
	unsigned failed;

	itest_init();
	failed = itest_run(argc, argv, tests, sizeof(tests) / sizeof(tests[0]));
	itest_cleanup();
	return failed > 0 ? 1 : 0;
}
