/* page-tokens.c: personal access tokens and the extension's sign-ins: the settings page
 * (/settings/tokens) and the JSON API that shares its checks (/api/v1/me,
 * /api/v1/tokens). A new token is shown once, in the answer that created it; only its
 * digest is kept. Token management takes a signed-in browser, never a token: a leaked
 * token cannot mint others, outlive its own expiry or hide by revoking the rest. */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "account.h"
#include "api-token.h"
#include "audit.h"
#include "auth.h"
#include "db-pool.h"
#include "form.h"
#include "http-server.h"
#include "oauth.h"
#include "page.h"
#include "routes.h"
#include "secret.h"
#include "util.h"

/* Usable personal tokens a user may hold at once. */
#define TOKENS_MAX 50
/* The longest lifetime a personal token may be given, days (empty: no expiry). */
#define TOKENS_MAX_DAYS 365

/* What a new personal token is asked to be. */
struct tokens_input {
	const char *name;
	unsigned scopes;
	const char *days;   /* decimal, or NULL for no expiry */
};

/* A token just made: its text (shown once) and its row. */
struct tokens_new {
	char token[SECRET_TEXT_MAX];
	char prefix[16];
	int64_t id;
	const char *created, *expires;
};

static const char *
tokens_id(struct http_ctx *c, int64_t id)
{
	return arena_printf(c->arena, "%" PRId64, id);
}

/* "read write" as a JSON array. */
static json_t *
tokens_scope_array(const char *list)
{
	unsigned mask = 0;
	json_t *a = json_array();

	oauth_scopes_parse(list, &mask);
	if (mask & OAUTH_SCOPE_READ)
		json_array_append_new(a, json_string(API_SCOPE_READ));
	if (mask & OAUTH_SCOPE_WRITE)
		json_array_append_new(a, json_string(API_SCOPE_WRITE));
	return a;
}

/* NULL when name is 1 to 100 characters without control characters. */
static const char *
tokens_check_name(const char *name)
{
	long chars = util_text_chars(name);

	if (chars < 0)
		return "Name the token with letters, digits and punctuation.";
	if (chars == 0)
		return "Name the token, for example after the script that uses it.";
	if (chars > 100)
		return "The name is at most 100 characters.";
	return NULL;
}

/* Checks the input into f's field errors; days_field names the lifetime's field. */
static void
tokens_check(struct form *f, const struct tokens_input *in, int scopes_bad,
    const char *days_field)
{
	const char *why;
	int64_t days;

	if ((why = tokens_check_name(in->name)) != NULL)
		form_error(f, "name", why);
	if (scopes_bad)
		form_error(f, "scopes", "The scopes are read and write.");
	else if (in->scopes == 0)
		form_error(f, "scopes", "Choose what the token may do: read, write, or both.");
	if (in->days != NULL && util_parse_int64(in->days, 1, TOKENS_MAX_DAYS, &days) == -1)
		form_error(f, days_field, "A number of days from 1 to 365, or empty for a token "
		    "that does not expire.");
}

/* Makes the token. Returns 0, 1 when the user has TOKENS_MAX already, or -1 with
 * c->res failed. */
static int
tokens_create(struct http_ctx *c, const struct tokens_input *in, struct tokens_new *out)
{
	const struct auth_user *u = auth_user(c);
	char digest[SECRET_DIGEST_PARAM_LEN];
	const char *params[7];
	PGresult *r;

	secret_new(API_TOKEN_PERSONAL_PREFIX, out->token);
	secret_digest_param(out->token, digest);
	snprintf(out->prefix, sizeof(out->prefix), "%.*s",
	    (int)strlen(API_TOKEN_PERSONAL_PREFIX) + 4, out->token);
	params[0] = tokens_id(c, u->id);
	params[1] = in->name;
	params[2] = digest;
	params[3] = out->prefix;
	params[4] = oauth_scopes_text(in->scopes);
	params[5] = in->days;
	params[6] = arena_printf(c->arena, "%d", TOKENS_MAX);
	r = http_ctx_exec(c, DB_STMT_APITOKEN_PAT_CREATE, 7, params);
	if (r == NULL) {
		sodium_memzero(out->token, sizeof(out->token));
		return -1;
	}
	if (PQntuples(r) != 1) {
		PQclear(r);
		sodium_memzero(out->token, sizeof(out->token));
		return 1;
	}
	out->id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	out->created = arena_strdup(c->arena, PQgetvalue(r, 0, 1));
	out->expires = arena_strdup(c->arena, PQgetvalue(r, 0, 2));
	PQclear(r);
	audit_record(c, u->id, u->id, "token.create", json_pack("{s:s, s:I, s:s, s:s, s:s}",
	    "kind", "personal", "id", (json_int_t)out->id, "name", in->name,
	    "prefix", out->prefix, "scopes", oauth_scopes_text(in->scopes)));
	return 0;
}

/* The user's personal tokens, for the page (json 0) or the API (json 1). NULL with
 * c->res failed. */
static json_t *
tokens_list(struct http_ctx *c, int api)
{
	const char *params[1] = { tokens_id(c, auth_user(c)->id) };
	PGresult *r = http_ctx_exec(c, DB_STMT_APITOKEN_PAT_LIST, 1, params);
	json_t *list;

	if (r == NULL)
		return NULL;
	list = json_array();
	for (int i = 0; i < PQntuples(r); i++) {
		const char *id = PQgetvalue(r, i, 0), *last = PQgetvalue(r, i, 5);
		const char *expires = PQgetvalue(r, i, 6);
		int expired = strcmp(PQgetvalue(r, i, 7), "t") == 0;
		json_t *t;

		if (api)
			t = json_pack("{s:I, s:s, s:s, s:o, s:s, s:s?, s:s?, s:b}",
			    "id", (json_int_t)strtoll(id, NULL, 10), "name", PQgetvalue(r, i, 1),
			    "prefix", PQgetvalue(r, i, 2),
			    "scopes", tokens_scope_array(PQgetvalue(r, i, 3)),
			    "created_at", PQgetvalue(r, i, 4),
			    "last_used_at", *last != '\0' ? last : NULL,
			    "expires_at", *expires != '\0' ? expires : NULL, "expired", expired);
		else
			t = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:b, s:s}",
			    "id", id, "name", PQgetvalue(r, i, 1), "prefix", PQgetvalue(r, i, 2),
			    "scopes", PQgetvalue(r, i, 3), "created", PQgetvalue(r, i, 4),
			    "last_used", last, "expires", expires, "expired", expired,
			    "revoke_url", arena_printf(c->arena, "/settings/tokens/%s/revoke", id));
		if (t != NULL)
			json_array_append_new(list, t);
	}
	PQclear(r);
	return list;
}

/* The extension's sign-ins (token families) that still work. NULL with c->res failed. */
static json_t *
tokens_families(struct http_ctx *c, int api)
{
	const char *params[1] = { tokens_id(c, auth_user(c)->id) };
	PGresult *r = http_ctx_exec(c, DB_STMT_APITOKEN_FAMILY_LIST, 1, params);
	json_t *list;

	if (r == NULL)
		return NULL;
	list = json_array();
	for (int i = 0; i < PQntuples(r); i++) {
		const char *family = PQgetvalue(r, i, 0), *last = PQgetvalue(r, i, 4);
		json_t *f;

		if (api)
			f = json_pack("{s:s, s:s, s:o, s:s, s:s?}", "id", family,
			    "client_id", PQgetvalue(r, i, 1),
			    "scopes", tokens_scope_array(PQgetvalue(r, i, 2)),
			    "created_at", PQgetvalue(r, i, 3),
			    "last_used_at", *last != '\0' ? last : NULL);
		else
			f = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "id", family,
			    "client_id", PQgetvalue(r, i, 1), "scopes", PQgetvalue(r, i, 2),
			    "created", PQgetvalue(r, i, 3), "last_used", last,
			    "revoke_url", arena_printf(c->arena,
			    "/settings/tokens/sessions/%s/revoke", family));
		if (f != NULL)
			json_array_append_new(list, f);
	}
	PQclear(r);
	return list;
}

/* ---- The page */

static void
tokens_form_init(struct http_ctx *c, struct form *f)
{
	form_init(f, c, "token");
	form_field(f, "name", "Name", "text", form_value(c, "name"), "off", 1,
	    "What uses the token, for example \"backup script\".");
	form_field(f, "expires_days", "Expires after (days)", "text",
	    form_value(c, "expires_days"), "off", 0,
	    "From 1 to 365. Leave it empty for a token that does not expire.");
}

static int
tokens_render(struct http_ctx *c, int status, struct form *f, const struct tokens_input *in,
    const struct tokens_new *made, const char *form_error)
{
	json_t *tokens = tokens_list(c, 0), *families = tokens_families(c, 0);
	json_t *scope_error = json_object_get(f->errors, "scopes");
	json_t *ctx;

	if (tokens == NULL || families == NULL) {
		json_decref(tokens);
		json_decref(families);
		json_decref(form_context(f));
		return c->res->status;
	}
	ctx = json_pack("{s:o, s:o, s:s?, s:b, s:b, s:s?}",
	    "tokens", tokens, "sessions", families,
	    "scope_error", scope_error != NULL ? json_string_value(scope_error) : NULL,
	    "scope_read", in == NULL || (in->scopes & OAUTH_SCOPE_READ) != 0,
	    "scope_write", in != NULL && (in->scopes & OAUTH_SCOPE_WRITE) != 0,
	    "form_error", form_error);
	json_object_set_new(ctx, "create_form", form_context(f));
	if (made != NULL)
		json_object_set_new(ctx, "new_token", json_pack("{s:s, s:s, s:s}",
		    "value", made->token, "name", in->name, "prefix", made->prefix));
	return page_render(c, status, "pages/tokens.html", "API tokens", "settings", NULL, ctx);
}

int
page_tokens(struct http_ctx *c)
{
	struct form f;

	tokens_form_init(c, &f);
	return tokens_render(c, 200, &f, NULL, NULL, NULL);
}

int
page_tokens_create(struct http_ctx *c)
{
	struct tokens_input in = { form_value(c, "name"), 0, NULL };
	struct tokens_new made;
	struct form f;
	int scopes_bad = 0, rc;

	for (size_t i = 0; i < c->req->form.len; i++) {
		const struct kv *kv = &c->req->form.items[i];
		unsigned one;

		if (strcmp(kv->name, "scope") != 0)
			continue;
		if (oauth_scopes_parse(kv->value, &one) == -1)
			scopes_bad = 1;
		in.scopes |= one;
	}
	if (*form_value(c, "expires_days") != '\0')
		in.days = form_value(c, "expires_days");
	tokens_form_init(c, &f);
	tokens_check(&f, &in, scopes_bad, "expires_days");
	if (f.nerrors > 0)
		return tokens_render(c, 400, &f, &in, NULL,
		    "The token was not created: see the fields below.");
	rc = tokens_create(c, &in, &made);
	if (rc < 0) {
		json_decref(form_context(&f));
		return c->res->status;
	}
	if (rc > 0)
		return tokens_render(c, 409, &f, &in, NULL, "You have 50 tokens already: revoke "
		    "one you no longer use first.");
	/* The new token is in this answer only: a redirect would have to carry it. The
	 * form starts afresh. */
	json_decref(form_context(&f));
	c->req->form.len = 0;
	tokens_form_init(c, &f);
	rc = tokens_render(c, 200, &f, &in, &made, NULL);
	sodium_memzero(made.token, sizeof(made.token));
	return rc;
}

/* Revokes the personal token of the address ({id}) with its audit row, for the page and
 * the API. Returns 0, or the status of the answer already made. */
static int
tokens_revoke(struct http_ctx *c)
{
	const struct auth_user *u = auth_user(c);
	int64_t id = http_param_int(c->req, "id");
	const char *params[2] = { tokens_id(c, id), tokens_id(c, u->id) };
	PGresult *r = http_ctx_exec(c, DB_STMT_APITOKEN_PAT_REVOKE, 2, params);

	if (r == NULL)
		return c->res->status;
	/* Another user's token, or one revoked already: nothing of yours is there. */
	if (PQntuples(r) != 1) {
		PQclear(r);
		return http_fail(c->res, 404, "not_found", "There is no such token.", NULL);
	}
	audit_record(c, u->id, u->id, "token.revoke", json_pack("{s:s, s:I, s:s, s:s}",
	    "kind", "personal", "id", (json_int_t)id, "name", PQgetvalue(r, 0, 0),
	    "prefix", PQgetvalue(r, 0, 1)));
	PQclear(r);
	return 0;
}

int
page_tokens_revoke(struct http_ctx *c)
{
	int rc = tokens_revoke(c);

	if (rc != 0)
		return rc;
	page_flash(c, "token-revoked");
	return page_redirect(c, "/settings/tokens");
}

int
page_tokens_family_revoke(struct http_ctx *c)
{
	const struct auth_user *u = auth_user(c);
	const char *family = http_param(c->req, "family");
	const char *params[2] = { family, tokens_id(c, u->id) };
	PGresult *r = http_ctx_exec(c, DB_STMT_APITOKEN_FAMILY_REVOKE, 2, params);

	if (r == NULL)
		return c->res->status;
	if (PQntuples(r) == 0) {
		PQclear(r);
		return http_fail(c->res, 404, "not_found", "There is no such sign-in.", NULL);
	}
	audit_record(c, u->id, u->id, "token.revoke", json_pack("{s:s, s:s, s:s, s:i}",
	    "kind", "extension", "family", family, "client_id", PQgetvalue(r, 0, 0),
	    "revoked", PQntuples(r)));
	PQclear(r);
	page_flash(c, "token-revoked");
	return page_redirect(c, "/settings/tokens#sessions");
}

/* ---- The JSON API */

static json_t *
tokens_me(const struct auth_user *u)
{
	json_t *scopes = json_array();

	if (u->via == AUTH_TOKEN) {
		for (const char **s = u->scopes; s != NULL && *s != NULL; s++)
			json_array_append_new(scopes, json_string(*s));
	} else {
		json_array_append_new(scopes, json_string(API_SCOPE_READ));
		json_array_append_new(scopes, json_string(API_SCOPE_WRITE));
	}
	return json_pack("{s:I, s:s, s:s, s:s, s:s, s:o, s:s}", "id", (json_int_t)u->id,
	    "email", u->email, "display_name", u->display_name, "time_zone", u->time_zone,
	    "role", u->is_admin ? "admin" : "member", "scopes", scopes,
	    "auth", u->via == AUTH_TOKEN ? "token" : "session");
}

int
api_me(struct http_ctx *c)
{
	http_response_json(c->res, 200, tokens_me(auth_user(c)));
	return 200;
}

/* A string member of the JSON body: NULL when absent; *bad when not a string. */
static const char *
tokens_json_string(json_t *body, const char *name, int *bad)
{
	json_t *v = json_object_get(body, name);

	if (v == NULL)
		return NULL;
	if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v)) {
		*bad = 1;
		return NULL;
	}
	return json_string_value(v);
}

static int
tokens_need_object(struct http_ctx *c)
{
	if (c->req->json == NULL || !json_is_object(c->req->json))
		return http_fail(c->res, 400, "bad_request",
		    "Send a JSON object (Content-Type: application/json).", NULL);
	return 0;
}

int
api_me_update(struct http_ctx *c)
{
	const struct auth_user *u = auth_user(c);
	struct auth_user now;
	const char *name, *tz, *why, *params[3];
	int name_bad = 0, tz_bad = 0, rc;
	struct form f;
	PGresult *r;

	if (tokens_need_object(c) != 0)
		return c->res->status;
	name = tokens_json_string(c->req->json, "display_name", &name_bad);
	tz = tokens_json_string(c->req->json, "time_zone", &tz_bad);
	form_init(&f, c, "me");
	if (name_bad || (name != NULL && (why = account_check_name(name)) != NULL))
		form_error(&f, "display_name", name_bad ? "A string." : why);
	if (tz_bad) {
		form_error(&f, "time_zone", "A string.");
	} else if (tz != NULL) {
		rc = account_check_time_zone(c, tz, &why);
		if (rc < 0) {
			json_decref(form_details(&f));
			return c->res->status;
		}
		if (rc > 0)
			form_error(&f, "time_zone", why);
	}
	if (f.nerrors > 0)
		return http_fail(c->res, 400, "invalid_input", "Some fields are not valid.",
		    form_details(&f));
	json_decref(form_details(&f));
	if (name == NULL && tz == NULL) {
		http_response_json(c->res, 200, tokens_me(u));
		return 200;
	}
	params[0] = tokens_id(c, u->id);
	params[1] = name != NULL ? name : u->display_name;
	params[2] = tz != NULL ? tz : u->time_zone;
	r = http_ctx_exec(c, DB_STMT_USER_UPDATE_PROFILE, 3, params);
	if (r == NULL)
		return c->res->status;
	PQclear(r);
	audit_record(c, u->id, u->id, "profile.change", json_pack("{s:s}", "via",
	    u->via == AUTH_TOKEN ? "token" : "api"));
	now = *u;
	now.display_name = params[1];
	now.time_zone = params[2];
	http_response_json(c->res, 200, tokens_me(&now));
	return 200;
}

int
api_tokens_list(struct http_ctx *c)
{
	json_t *tokens = tokens_list(c, 1), *families;

	if (tokens == NULL)
		return c->res->status;
	families = tokens_families(c, 1);
	if (families == NULL) {
		json_decref(tokens);
		return c->res->status;
	}
	http_response_json(c->res, 200, json_pack("{s:o, s:o}", "tokens", tokens,
	    "extension_sessions", families));
	return 200;
}

int
api_tokens_create(struct http_ctx *c)
{
	struct tokens_input in = { NULL, 0, NULL };
	struct tokens_new made;
	json_t *scopes, *days, *v;
	int bad = 0, scopes_bad = 0, rc;
	size_t i;
	struct form f;

	if (tokens_need_object(c) != 0)
		return c->res->status;
	form_init(&f, c, "token");
	in.name = tokens_json_string(c->req->json, "name", &bad);
	if (in.name == NULL)
		in.name = "";
	scopes = json_object_get(c->req->json, "scopes");
	if (scopes != NULL && !json_is_array(scopes))
		scopes_bad = 1;
	json_array_foreach(scopes, i, v) {
		unsigned one;

		if (!json_is_string(v) || oauth_scopes_parse(json_string_value(v), &one) == -1 ||
		    strchr(json_string_value(v), ' ') != NULL)
			scopes_bad = 1;
		else
			in.scopes |= one;
	}
	days = json_object_get(c->req->json, "expires_in_days");
	if (days != NULL && !json_is_null(days)) {
		if (!json_is_integer(days))
			in.days = "x";   /* refused by the check below */
		else
			in.days = arena_printf(c->arena, "%" JSON_INTEGER_FORMAT,
			    json_integer_value(days));
	}
	if (bad)
		form_error(&f, "name", "A string.");
	tokens_check(&f, &in, scopes_bad, "expires_in_days");
	if (f.nerrors > 0)
		return http_fail(c->res, 400, "invalid_input", "Some fields are not valid.",
		    form_details(&f));
	json_decref(form_details(&f));
	rc = tokens_create(c, &in, &made);
	if (rc < 0)
		return c->res->status;
	if (rc > 0)
		return http_fail(c->res, 409, "too_many_tokens", "You have 50 tokens already: "
		    "revoke one you no longer use first.", NULL);
	http_response_header(c->res, "Location", arena_printf(c->arena, "/api/v1/tokens/%" PRId64,
	    made.id));
	http_response_json(c->res, 201, json_pack("{s:I, s:s, s:s, s:o, s:s, s:s?, s:s}",
	    "id", (json_int_t)made.id, "name", in.name, "prefix", made.prefix,
	    "scopes", tokens_scope_array(oauth_scopes_text(in.scopes)),
	    "created_at", made.created,
	    "expires_at", *made.expires != '\0' ? made.expires : NULL, "token", made.token));
	sodium_memzero(made.token, sizeof(made.token));
	return 201;
}

int
api_tokens_delete(struct http_ctx *c)
{
	int rc = tokens_revoke(c);

	return rc != 0 ? rc : 204;
}
