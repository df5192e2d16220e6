/* page-mailboxes.c: connecting mail accounts, on the settings page /settings/mailboxes
 * and through the JSON API /api/v1/mailboxes, with the same checks (mailacct_check).
 * An account is stored only after a connection test passes; every test goes out to a
 * server the user names, so tests are counted per user (DB_STMT_MAILBOX_TEST_ALLOW).
 * Passwords are sealed by the vault at once and never shown, logged or audited. */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "auth.h"
#include "db-pool.h"
#include "form.h"
#include "http-server.h"
#include "imap.h"
#include "mailacct.h"
#include "page.h"
#include "pq.h"
#include "routes.h"
#include "util.h"
#include "vault.h"
#include "writeback.h"

/* Connection tests a user may start in a window of MBX_TEST_WINDOW seconds. */
#define MBX_TESTS_MAX		10
#define MBX_TEST_WINDOW		60

#define MBX_NO_VAULT "mailroom cannot store mail passwords yet: its administrator has not " \
	"set up the vault's key (MAILROOM_VAULT_KEY_FILE, see doc/vault.md)."

/* What a connection test found. */
struct mbx_test {
	enum provider_status status;
	size_t folders;
	char message[512];	/* the server's words when it refused */
};

/* How a page about the accounts is to be shown. */
struct mbx_view {
	int status;
	const char *fragment;		/* the test result alone (HTMX), or NULL */
	struct form *add;		/* the add form, filled and checked */
	const char *form_error;		/* above the add form */
	const struct mbx_test *test;	/* a test just run (NULL: none) */
	int64_t password_id;		/* the account whose password form failed */
	const char *password_error;
	int64_t writeback_id;		/* the account whose write-back form failed */
	const char *writeback_error;
};

static const char *
mbx_id(struct http_ctx *c, int64_t id)
{
	return arena_printf(c->arena, "%" PRId64, id);
}

static const char *
mbx_status_kind(enum provider_status st)
{
	switch (st) {
	case PROVIDER_OK: return "ok";
	case PROVIDER_AUTH: return "auth";
	case PROVIDER_NETWORK: return "network";
	case PROVIDER_PROTOCOL: return "protocol";
	case PROVIDER_REFUSED: return "refused";
	case PROVIDER_LIMIT: return "limit";
	case PROVIDER_GONE: return "gone";
	case PROVIDER_RESYNC: return "resync";
	}
	return "error";
}

/* The request's database connection as plain libpq, for mailacct.c and jobs.c; NULL
 * with c->res failed (503). */
static PGconn *
mbx_pg(struct http_ctx *c)
{
	struct db_conn *db = http_ctx_db(c);

	if (db == NULL) {
		http_fail(c->res, 503, "database_unavailable", NULL, NULL);
		return NULL;
	}
	return db_conn_pg(db);
}

/* A failure of mailacct.c or jobs.c: logged with the database's words, answered 500. */
static int
mbx_db_fail(struct http_ctx *c, const char *err)
{
	log_err("%s", err);
	return http_fail(c->res, 500, "internal_error", NULL, NULL);
}

/* ---- Input */

/* The form's and the API's field names where they differ from mailacct_input's. */
static const char *
mbx_field_name(const char *field)
{
	return strcmp(field, "secret") == 0 ? "password" : field;
}

static void
mbx_bad(void *arg, const char *field, const char *message)
{
	form_error(arg, mbx_field_name(field), message);
}

/* The input of the add form; the password as sent (white space is part of it). */
static void
mbx_form_input(struct http_ctx *c, struct mailacct_input *in)
{
	const char *pw = kvlist_get(&c->req->form, "password");

	in->address = form_value(c, "address");
	in->display_name = form_value(c, "display_name");
	in->host = form_value(c, "host");
	in->port = form_value(c, "port");
	in->security = form_value(c, "security");
	in->username = form_value(c, "username");
	in->auth = form_value(c, "auth");
	in->secret = pw != NULL ? pw : "";
}

static void
mbx_form_init(struct http_ctx *c, struct form *f)
{
	form_init(f, c, "mailbox");
	form_field(f, "address", "Email address", "email", form_value(c, "address"), "off", 1,
	    NULL);
	form_field(f, "display_name", "Name (optional)", "text", form_value(c, "display_name"),
	    "off", 0, "How the mailbox is named in mailroom, for example \"Work\".");
	form_field(f, "host", "IMAP server", "text", form_value(c, "host"), "off", 1,
	    "For example imap.example.org; your provider's help pages name it.");
	form_field(f, "port", "Port (optional)", "text", form_value(c, "port"), "off", 0,
	    "Empty: 993 with TLS, 143 with STARTTLS or none.");
	form_field(f, "username", "User name (optional)", "text", form_value(c, "username"),
	    "off", 0, "Empty: the email address.");
	form_field(f, "password", "Password", "password", NULL, "new-password", 1,
	    "Some providers want an app password here rather than your own.");
}

/* ---- The connection test */

/* Whether this user may start another connection test, recording it. Returns 0 when it
 * may, 1 when not (*wait seconds until one is allowed), -1 with c->res failed. */
static int
mbx_test_allowed(struct http_ctx *c, const struct imap_settings *s, int *wait)
{
	const struct auth_user *u = auth_user(c);
	json_t *d = json_pack("{s:s, s:i, s:s}", "host", s->host, "port", s->port,
	    "security", mailacct_security_name(s->security));
	char *details = d != NULL ? json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	const char *params[6];
	PGresult *r;
	int allowed;

	json_decref(d);
	params[0] = mbx_id(c, u->id);
	params[1] = c->req->remote_addr;
	params[2] = c->req->user_agent;
	params[3] = details;
	params[4] = arena_printf(c->arena, "%d", MBX_TEST_WINDOW);
	params[5] = arena_printf(c->arena, "%d", MBX_TESTS_MAX);
	r = http_ctx_exec(c, DB_STMT_MAILBOX_TEST_ALLOW, 6, params);
	free(details);
	if (r == NULL)
		return -1;
	allowed = strcmp(PQgetvalue(r, 0, 0), "1") == 0;
	*wait = atoi(PQgetvalue(r, 0, 1));
	PQclear(r);
	return allowed ? 0 : 1;
}

/* What a user over the limit of connection tests is told. */
static const char *
mbx_limit_text(struct http_ctx *c, int wait)
{
	return arena_printf(c->arena, "You have tested %d connections in the last minute: try "
	    "again in %d seconds.", MBX_TESTS_MAX, wait);
}

/* Connects with s, logs in and lists the folders. */
static void
mbx_connect(const struct imap_settings *s, struct mbx_test *t)
{
	memset(t, 0, sizeof *t);
	t->status = imap_test_connection(s, &t->folders, t->message, sizeof t->message);
}

/* Runs a test within the limit. Returns 0 with *t filled, 1 when over the limit (the
 * 429 is not made: *wait is set), -1 with c->res failed. */
static int
mbx_test(struct http_ctx *c, const struct imap_settings *s, struct mbx_test *t, int *wait)
{
	int rc = mbx_test_allowed(c, s, wait);

	if (rc != 0)
		return rc;
	mbx_connect(s, t);
	if (t->status != PROVIDER_OK)
		log_info("user %" PRId64 ": connection test to %s:%d failed (%s)", auth_user(c)->id,
		    s->host, s->port, mbx_status_kind(t->status));
	return 0;
}

/* The sentence the page shows for a test. */
static const char *
mbx_test_text(struct http_ctx *c, const struct mbx_test *t)
{
	if (t->status == PROVIDER_OK)
		return arena_printf(c->arena, "Connected: %zu folder%s found.", t->folders,
		    t->folders == 1 ? "" : "s");
	return t->message;
}

/* The field a failed test points at: the password when the server refused it. */
static const char *
mbx_test_field(const struct mbx_test *t)
{
	return t->status == PROVIDER_AUTH ? "password" : "host";
}

/* ---- Accounts as JSON */

static json_t *mbx_writebacks(struct http_ctx *c, int64_t id);
static void mbx_writeback_json(struct http_ctx *c, json_t *j, json_t *map, int64_t id,
    int api);

static json_t *
mbx_account_json(struct http_ctx *c, const struct mailacct_info *a, int api)
{
	json_t *j = json_pack("{s:I, s:s, s:s, s:s, s:s, s:i, s:s, s:s, s:s, s:s, s:b, s:s?, "
	    "s:s?, s:s?, s:s, s:I, s:I}",
	    "id", (json_int_t)a->id, "address", a->address, "display_name", a->display_name,
	    "provider", a->provider, "host", a->host, "port", a->port, "security", a->security,
	    "username", a->username, "auth", a->auth, "sync_state", a->sync_state,
	    "sync_queued", a->sync_queued, "last_sync_at", a->last_sync_at,
	    "last_error", a->last_error, "last_error_at", a->last_error_at,
	    "created_at", a->created_at, "messages", (json_int_t)a->messages,
	    "folders", (json_int_t)a->folders);
	const char *base;

	if (j == NULL)
		j = json_pack("{s:I, s:s}", "id", (json_int_t)a->id, "sync_state", "error");
	if (api)
		return j;
	base = arena_printf(c->arena, "/settings/mailboxes/%" PRId64, a->id);
	json_object_set_new(j, "sync_url", json_string(arena_printf(c->arena, "%s/sync", base)));
	json_object_set_new(j, "password_url",
	    json_string(arena_printf(c->arena, "%s/password", base)));
	json_object_set_new(j, "remove_url",
	    json_string(arena_printf(c->arena, "%s/remove", base)));
	json_object_set_new(j, "password_id",
	    json_string(arena_printf(c->arena, "mailbox-%" PRId64 "-password", a->id)));
	json_object_set_new(j, "unencrypted", json_boolean(strcmp(a->security, "none") == 0));
	return j;
}

/* The user's accounts (id 0) or one of them; NULL with c->res failed. *n is the count. */
static struct mailacct_info *
mbx_list(struct http_ctx *c, int64_t id, long *n)
{
	struct mailacct_info *l;
	PGconn *pg = mbx_pg(c);
	char err[512];

	*n = 0;
	if (pg == NULL)
		return NULL;
	*n = mailacct_list(pg, auth_user(c)->id, id, &l, err, sizeof err);
	if (*n < 0) {
		*n = 0;
		mbx_db_fail(c, err);
		return NULL;
	}
	/* A non-NULL pointer for an empty list, so that NULL always means failure. */
	return l != NULL ? l : xcalloc(1, sizeof *l);
}

/* One account of the user's: 1 with *out set, 0 with a 404 made, -1 with c->res failed. */
static int
mbx_find(struct http_ctx *c, int64_t id, struct mailacct_info **out)
{
	long n;

	*out = mbx_list(c, id, &n);
	if (*out == NULL)
		return -1;
	if (n == 1)
		return 1;
	mailacct_list_free(*out, n);
	*out = NULL;
	http_fail(c->res, 404, "not_found", "There is no such mailbox.", NULL);
	return 0;
}

/* ---- The page */

/* The notice of the action a redirect came back from (?added=ID and the like): fixed
 * sentences and the address of the user's own account, never text from the URL. */
static const char *
mbx_notice(struct http_ctx *c, const struct mailacct_info *l, long n)
{
	static const struct {
		const char *key, *before, *after;	/* the address goes between */
	} notices[] = {
		{ "added", "", " is connected. Its first sync is queued: messages appear as "
		    "they arrive." },
		{ "synced", "A sync of ", " is queued." },
		{ "password", "The password of ", " has been changed and a sync is queued." },
		{ "writeback", "The write-back of ", " has been saved." },
	};
	const char *v;
	int64_t id;

	if (kvlist_get(&c->req->query, "removed") != NULL)
		return "The mailbox has been removed, with everything mailroom stored of it.";
	for (size_t i = 0; i < MR_ARRAY_LEN(notices); i++) {
		if ((v = kvlist_get(&c->req->query, notices[i].key)) == NULL ||
		    util_parse_int64(v, 1, INT64_MAX, &id) == -1)
			continue;
		for (long k = 0; k < n; k++) {
			if (l[k].id == id)
				return arena_printf(c->arena, "%s%s%s", notices[i].before,
				    l[k].address, notices[i].after);
		}
	}
	return NULL;
}

static int
mbx_render(struct http_ctx *c, const struct mbx_view *v)
{
	struct mailacct_info *l;
	json_t *accounts, *ctx, *test = NULL, *errors, *writebacks;
	const char *notice;
	long n;

	if ((l = mbx_list(c, 0, &n)) == NULL) {
		json_decref(form_context(v->add));
		return c->res->status;
	}
	if ((writebacks = mbx_writebacks(c, 0)) == NULL) {
		mailacct_list_free(l, n);
		json_decref(form_context(v->add));
		return c->res->status;
	}
	accounts = json_array();
	for (long i = 0; i < n; i++) {
		json_t *a = mbx_account_json(c, &l[i], 0);

		mbx_writeback_json(c, a, writebacks, l[i].id, 0);
		if (l[i].id == v->writeback_id && v->writeback_error != NULL)
			json_object_set_new(a, "writeback_error", json_string(v->writeback_error));

		if (l[i].id == v->password_id && v->password_error != NULL) {
			json_object_set_new(a, "password_error", json_string(v->password_error));
			json_object_set_new(a, "password_open", json_true());
		}
		json_array_append_new(accounts, a);
	}
	notice = mbx_notice(c, l, n);
	mailacct_list_free(l, n);
	json_decref(writebacks);
	if (v->test != NULL)
		test = json_pack("{s:b, s:s, s:s}", "ok", v->test->status == PROVIDER_OK,
		    "text", mbx_test_text(c, v->test), "kind", mbx_status_kind(v->test->status));
	else if (v->add->nerrors > 0 && v->fragment != NULL) {
		/* A test refused before it started: the fields to fix, in the result. */
		json_t *list = json_array(), *msg;
		const char *key;

		json_object_foreach(v->add->errors, key, msg) {
			const char *label = json_string_value(json_object_get(json_object_get(
			    v->add->fields, key), "label"));

			json_array_append_new(list, json_string(arena_printf(c->arena, "%s: %s",
			    label != NULL ? label : key, json_string_value(msg))));
		}
		test = json_pack("{s:b, s:s, s:s, s:o}", "ok", 0, "text",
		    "The test did not start: check these fields.", "kind", "input", "fields", list);
	}
	errors = json_object_get(v->add->errors, "security");
	ctx = json_pack("{s:o, s:s?, s:s?, s:o?, s:s, s:s, s:s?, s:s?, s:b}",
	    "accounts", accounts, "notice", notice, "form_error", v->form_error,
	    "test", test,
	    "security", form_value(c, "security")[0] != '\0' ? form_value(c, "security") : "tls",
	    "auth", form_value(c, "auth")[0] != '\0' ? form_value(c, "auth") : "auto",
	    "security_error", errors != NULL ? json_string_value(errors) : NULL,
	    "auth_error", json_string_value(json_object_get(v->add->errors, "auth")),
	    "no_vault", vault_process == NULL);
	json_object_set_new(ctx, "add_form", form_context(v->add));
	return page_render(c, v->status, "pages/mailboxes.html", "Mailboxes", "settings",
	    v->fragment, ctx);
}

int
page_mailboxes(struct http_ctx *c)
{
	struct form f;
	struct mbx_view v = { 200, NULL, &f, NULL, NULL, 0, NULL, 0, NULL };

	mbx_form_init(c, &f);
	return mbx_render(c, &v);
}

/* "Test connection": with HTMX only the result (always 200, so that HTMX swaps it in),
 * else the whole page with the form as it was sent (but the password). */
int
page_mailboxes_test(struct http_ctx *c)
{
	struct mailacct_input in;
	struct imap_settings s;
	struct mbx_test t;
	struct form f;
	struct mbx_view v = { 200, "test-result", &f, NULL, NULL, 0, NULL, 0, NULL };
	int wait, rc;

	mbx_form_init(c, &f);
	mbx_form_input(c, &in);
	if (mailacct_check(&in, 0, &s, mbx_bad, &f) > 0) {
		v.status = c->req->hx_request ? 200 : 400;
		return mbx_render(c, &v);
	}
	if ((rc = mbx_test(c, &s, &t, &wait)) < 0) {
		json_decref(form_context(&f));
		return c->res->status;
	}
	if (rc > 0) {
		t.status = PROVIDER_LIMIT;
		snprintf(t.message, sizeof t.message, "%s", mbx_limit_text(c, wait));
		if (!c->req->hx_request)
			v.status = 429;
	}
	v.test = &t;
	return mbx_render(c, &v);
}

/* Stores the account of a test that passed and queues its first sync, with its audit
 * row. Returns the id, 0 when the user has that address already, -1 with c->res
 * failed. */
static int64_t
mbx_store(struct http_ctx *c, const struct mailacct_input *in, const struct imap_settings *s)
{
	const struct auth_user *u = auth_user(c);
	PGconn *pg = mbx_pg(c);
	char err[512];
	int64_t id;

	if (pg == NULL)
		return -1;
	id = mailacct_create(pg, vault_process, u->id, in->address, in->display_name, s, err,
	    sizeof err);
	if (id < 0) {
		mbx_db_fail(c, err);
		return -1;
	}
	if (id == 0)
		return 0;
	audit_record(c, u->id, u->id, "mailbox.add", json_pack("{s:I, s:s, s:s, s:i, s:s}",
	    "id", (json_int_t)id, "address", in->address, "host", s->host,
	    "port", s->port, "security", mailacct_security_name(s->security)));
	/* The account is there either way: a sync that cannot be queued now is queued by the
	 * worker's next schedule. */
	if (mailacct_queue_sync(pg, u->id, id, err, sizeof err) < 0)
		log_err("account %" PRId64 ": %s", id, err);
	return id;
}

static const char MBX_DUPLICATE[] = "You have connected this address already.";

int
page_mailboxes_add(struct http_ctx *c)
{
	struct mailacct_input in;
	struct imap_settings s;
	struct mbx_test t;
	struct form f;
	struct mbx_view v = { 400, NULL, &f, NULL, NULL, 0, NULL, 0, NULL };
	int64_t id;
	int wait, rc;

	mbx_form_init(c, &f);
	mbx_form_input(c, &in);
	if (vault_process == NULL) {
		v.status = 503;
		v.form_error = MBX_NO_VAULT;
		return mbx_render(c, &v);
	}
	if (mailacct_check(&in, 1, &s, mbx_bad, &f) > 0) {
		v.form_error = "The mailbox was not added: see the fields below.";
		return mbx_render(c, &v);
	}
	if ((rc = mbx_test(c, &s, &t, &wait)) < 0) {
		json_decref(form_context(&f));
		return c->res->status;
	}
	if (rc > 0) {
		v.status = 429;
		v.form_error = mbx_limit_text(c, wait);
		return mbx_render(c, &v);
	}
	if (t.status != PROVIDER_OK) {
		v.status = 422;
		v.form_error = "The mailbox was not added: the connection test failed.";
		form_error(&f, mbx_test_field(&t), t.message);
		v.test = &t;
		return mbx_render(c, &v);
	}
	if ((id = mbx_store(c, &in, &s)) < 0) {
		json_decref(form_context(&f));
		return c->res->status;
	}
	if (id == 0) {
		v.status = 409;
		v.form_error = "The mailbox was not added.";
		form_error(&f, "address", MBX_DUPLICATE);
		return mbx_render(c, &v);
	}
	form_free(&f);
	return page_redirect(c, arena_printf(c->arena, "/settings/mailboxes?added=%" PRId64,
	    id));
}

/* Queues a sync of the account of the address, for the page and the API. Returns the
 * job's id, or 0 with c->res failed (404 for another user's account). */
static int64_t
mbx_sync(struct http_ctx *c)
{
	struct mailacct_info *a;
	PGconn *pg;
	char err[512];
	int64_t job;

	if (mbx_find(c, http_param_int(c->req, "id"), &a) != 1)
		return 0;
	if ((pg = mbx_pg(c)) == NULL) {
		mailacct_list_free(a, 1);
		return 0;
	}
	job = mailacct_queue_sync(pg, a->user_id, a->id, err, sizeof err);
	mailacct_list_free(a, 1);
	if (job < 0) {
		mbx_db_fail(c, err);
		return 0;
	}
	return job;
}

int
page_mailboxes_sync(struct http_ctx *c)
{
	if (mbx_sync(c) == 0)
		return c->res->status;
	return page_redirect(c, arena_printf(c->arena, "/settings/mailboxes?synced=%" PRId64,
	    http_param_int(c->req, "id")));
}

int
page_mailboxes_password(struct http_ctx *c)
{
	const struct auth_user *u = auth_user(c);
	int64_t id = http_param_int(c->req, "id");
	const char *pw = kvlist_get(&c->req->form, "password");
	struct mbx_view v = { 400, NULL, NULL, NULL, NULL, id, NULL, 0, NULL };
	struct mailacct_input in = { NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL };
	struct imap_settings s;
	struct mailacct a;
	struct mbx_test t;
	struct form f, pf;
	PGconn *pg;
	char err[512];
	int wait, rc;

	if ((pg = mbx_pg(c)) == NULL)
		return c->res->status;
	rc = mailacct_load(pg, NULL, u->id, id, &a, err, sizeof err);
	if (rc < 0)
		return mbx_db_fail(c, err);
	if (rc == 0)
		return http_fail(c->res, 404, "not_found", "There is no such mailbox.", NULL);
	mbx_form_init(c, &f);
	v.add = &f;
	/* The stored settings with the new password go through the same checks. */
	in.host = a.imap.host;
	in.port = mbx_id(c, a.imap.port);
	in.security = mailacct_security_name(a.imap.security);
	in.username = a.imap.username;
	in.auth = mailacct_auth_name(a.imap.auth);
	in.secret = pw != NULL ? pw : "";
	form_init(&pf, c, "password");
	if (vault_process == NULL) {
		v.status = 503;
		v.password_error = MBX_NO_VAULT;
	} else if (mailacct_check(&in, 0, &s, mbx_bad, &pf) > 0) {
		v.password_error = json_string_value(json_object_get(pf.errors, "password"));
		if (v.password_error == NULL)
			v.password_error = "The stored settings of this mailbox are not valid: "
			    "remove it and add it again.";
		v.password_error = arena_strdup(c->arena, v.password_error);
	} else if ((rc = mbx_test(c, &s, &t, &wait)) < 0) {
		goto done;
	} else if (rc > 0) {
		v.status = 429;
		v.password_error = mbx_limit_text(c, wait);
	} else if (t.status != PROVIDER_OK) {
		v.status = 422;
		v.password_error = arena_strdup(c->arena, t.message);
	} else if ((rc = mailacct_set_secret(pg, vault_process, u->id, id, in.secret, err,
	    sizeof err)) <= 0) {
		if (rc < 0)
			mbx_db_fail(c, err);
		else
			http_fail(c->res, 404, "not_found", "There is no such mailbox.", NULL);
		goto done;
	} else {
		audit_record(c, u->id, u->id, "mailbox.password", json_pack("{s:I, s:s}", "id",
		    (json_int_t)id, "address", a.address));
		if (mailacct_queue_sync(pg, u->id, id, err, sizeof err) < 0)
			log_err("account %" PRId64 ": %s", id, err);
		form_free(&pf);
		form_free(&f);
		mailacct_free(&a);
		return page_redirect(c, arena_printf(c->arena,
		    "/settings/mailboxes?password=%" PRId64, id));
	}
	form_free(&pf);
	mailacct_free(&a);
	return mbx_render(c, &v);
done:
	form_free(&pf);
	form_free(&f);
	mailacct_free(&a);
	return c->res->status;
}

int
page_mailboxes_remove_confirm(struct http_ctx *c)
{
	struct mailacct_info *a;
	json_t *ctx;

	if (mbx_find(c, http_param_int(c->req, "id"), &a) != 1)
		return c->res->status;
	ctx = json_pack("{s:o}", "account", mbx_account_json(c, a, 0));
	mailacct_list_free(a, 1);
	return page_render(c, 200, "pages/mailbox-remove.html", "Remove a mailbox", "settings",
	    NULL, ctx);
}

/* Removes the account of the address with its data and jobs, and its audit row.
 * Returns 0, or the status of the answer already made. */
static int
mbx_remove(struct http_ctx *c)
{
	const struct auth_user *u = auth_user(c);
	struct mailacct_info *a;
	PGconn *pg;
	char err[512];
	int rc;

	if (mbx_find(c, http_param_int(c->req, "id"), &a) != 1)
		return c->res->status;
	if ((pg = mbx_pg(c)) == NULL) {
		mailacct_list_free(a, 1);
		return c->res->status;
	}
	rc = mailacct_delete(pg, u->id, a->id, err, sizeof err);
	if (rc > 0)
		audit_record(c, u->id, u->id, "mailbox.remove", json_pack("{s:I, s:s, s:I}",
		    "id", (json_int_t)a->id, "address", a->address,
		    "messages", (json_int_t)a->messages));
	mailacct_list_free(a, 1);
	if (rc < 0)
		return mbx_db_fail(c, err);
	if (rc == 0)
		return http_fail(c->res, 404, "not_found", "There is no such mailbox.", NULL);
	return 0;
}

int
page_mailboxes_remove(struct http_ctx *c)
{
	int rc = mbx_remove(c);

	if (rc != 0)
		return rc;
	return page_redirect(c, "/settings/mailboxes?removed=1");
}

/* ---- The JSON API */

/* A string member of the body ("" when absent or null); a field error when it is
 * anything else. */
static const char *
mbx_json_string(struct form *f, const char *name)
{
	json_t *v = json_object_get(f->c->req->json, name);

	if (v == NULL || json_is_null(v))
		return "";
	if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v)) {
		form_error(f, name, "A string.");
		return "";
	}
	return json_string_value(v);
}

/* The body of POST /api/v1/mailboxes and /test into in; NULL when not an object. */
static int
mbx_json_input(struct http_ctx *c, struct form *f, struct mailacct_input *in)
{
	json_t *port;

	if (c->req->json == NULL || !json_is_object(c->req->json))
		return http_fail(c->res, 400, "bad_request",
		    "Send a JSON object (Content-Type: application/json).", NULL);
	in->address = mbx_json_string(f, "address");
	in->display_name = mbx_json_string(f, "display_name");
	in->host = mbx_json_string(f, "host");
	in->security = mbx_json_string(f, "security");
	in->username = mbx_json_string(f, "username");
	in->auth = mbx_json_string(f, "auth");
	in->secret = mbx_json_string(f, "password");
	port = json_object_get(c->req->json, "port");
	if (port == NULL || json_is_null(port))
		in->port = "";
	else if (json_is_integer(port))
		in->port = arena_printf(c->arena, "%" JSON_INTEGER_FORMAT, json_integer_value(port));
	else
		in->port = "x";	/* refused by mailacct_check */
	return 0;
}

/* The 400 of input that does not pass the checks. */
static int
mbx_api_invalid(struct http_ctx *c, struct form *f)
{
	return http_fail(c->res, 400, "invalid_input", "Some fields are not valid.",
	    form_details(f));
}

int
api_mailboxes_list(struct http_ctx *c)
{
	struct mailacct_info *l;
	json_t *list, *map;
	long n;

	if ((l = mbx_list(c, 0, &n)) == NULL)
		return c->res->status;
	if ((map = mbx_writebacks(c, 0)) == NULL) {
		mailacct_list_free(l, n);
		return c->res->status;
	}
	list = json_array();
	for (long i = 0; i < n; i++) {
		json_t *a = mbx_account_json(c, &l[i], 1);

		mbx_writeback_json(c, a, map, l[i].id, 1);
		json_array_append_new(list, a);
	}
	json_decref(map);
	mailacct_list_free(l, n);
	http_response_json(c->res, 200, json_pack("{s:o}", "mailboxes", list));
	return 200;
}

int
api_mailboxes_get(struct http_ctx *c)
{
	struct mailacct_info *a;
	json_t *j, *map;

	if (mbx_find(c, http_param_int(c->req, "id"), &a) != 1)
		return c->res->status;
	if ((map = mbx_writebacks(c, a->id)) == NULL) {
		mailacct_list_free(a, 1);
		return c->res->status;
	}
	j = mbx_account_json(c, a, 1);
	mbx_writeback_json(c, j, map, a->id, 1);
	json_decref(map);
	http_response_json(c->res, 200, j);
	mailacct_list_free(a, 1);
	return 200;
}

/* The details of a failed test: the server's words, also as the error of the field it
 * concerns. */
static json_t *
mbx_test_details(struct form *f, const struct mbx_test *t)
{
	json_t *d;

	form_error(f, mbx_test_field(t), t->message);
	d = form_details(f);
	json_object_set_new(d, "server_error", json_string(t->message));
	json_object_set_new(d, "kind", json_string(mbx_status_kind(t->status)));
	return d;
}

/* Reads and checks the body of a create (need_account) or a test, then tests the
 * connection within the limit. Returns 0 with *t filled and f still open, or the status
 * of the answer already made (f freed). */
static int
mbx_api_test(struct http_ctx *c, struct form *f, int need_account, struct mailacct_input *in,
    struct imap_settings *s, struct mbx_test *t)
{
	int wait, rc;

	form_init(f, c, "mailbox");
	if (mbx_json_input(c, f, in) != 0) {
		form_free(f);
		return c->res->status;
	}
	if (mailacct_check(in, need_account, s, mbx_bad, f) > 0 || f->nerrors > 0)
		return mbx_api_invalid(c, f);
	if (need_account && vault_process == NULL) {
		form_free(f);
		return http_fail(c->res, 503, "vault_unavailable", MBX_NO_VAULT, NULL);
	}
	if ((rc = mbx_test(c, s, t, &wait)) == 0)
		return 0;
	form_free(f);
	if (rc < 0)
		return c->res->status;
	http_response_header(c->res, "Retry-After", arena_printf(c->arena, "%d", wait));
	return http_fail(c->res, 429, "too_many_tests", mbx_limit_text(c, wait), NULL);
}

int
api_mailboxes_create(struct http_ctx *c)
{
	struct mailacct_input in;
	struct mailacct_info *a;
	struct imap_settings s;
	struct mbx_test t;
	struct form f;
	int64_t id;
	int rc;

	if ((rc = mbx_api_test(c, &f, 1, &in, &s, &t)) != 0)
		return rc;
	if (t.status != PROVIDER_OK)
		return http_fail(c->res, 422, "connection_failed", "The connection test failed: "
		    "the mailbox was not added.", mbx_test_details(&f, &t));
	if ((id = mbx_store(c, &in, &s)) < 0) {
		form_free(&f);
		return c->res->status;
	}
	if (id == 0) {
		form_error(&f, "address", MBX_DUPLICATE);
		return http_fail(c->res, 409, "already_connected", MBX_DUPLICATE,
		    form_details(&f));
	}
	form_free(&f);
	if (mbx_find(c, id, &a) != 1)
		return c->res->status;
	http_response_header(c->res, "Location", arena_printf(c->arena,
	    "/api/v1/mailboxes/%" PRId64, id));
	http_response_json(c->res, 201, mbx_account_json(c, a, 1));
	mailacct_list_free(a, 1);
	return 201;
}

int
api_mailboxes_test(struct http_ctx *c)
{
	struct mailacct_input in;
	struct imap_settings s;
	struct mbx_test t;
	struct form f;
	int rc;

	if ((rc = mbx_api_test(c, &f, 0, &in, &s, &t)) != 0)
		return rc;
	form_free(&f);
	if (t.status == PROVIDER_OK)
		http_response_json(c->res, 200, json_pack("{s:b, s:I}", "ok", 1, "folders",
		    (json_int_t)t.folders));
	else
		http_response_json(c->res, 200, json_pack("{s:b, s:s, s:s}", "ok", 0,
		    "kind", mbx_status_kind(t.status), "server_error", t.message));
	return 200;
}

int
api_mailboxes_delete(struct http_ctx *c)
{
	int rc = mbx_remove(c);

	return rc != 0 ? rc : 204;
}

int
api_mailboxes_sync(struct http_ctx *c)
{
	int64_t job = mbx_sync(c);

	if (job == 0)
		return c->res->status;
	http_response_json(c->res, 202, json_pack("{s:I, s:I}", "id",
	    (json_int_t)http_param_int(c->req, "id"), "job_id", (json_int_t)job));
	return 202;
}

/* ---- Write-back of the categories to the mailbox (writeback.h), per account */

static const char *const mbx_wb_values[] = { "off", "label", "label_move" };
static const char *const mbx_wb_labels[] = {
	"Off",
	"As keywords (or label folders)",
	"As keywords, and Marketing and Notification moved out of the inbox",
};

static int
mbx_writeback_valid(const char *v)
{
	for (size_t i = 0; i < MR_ARRAY_LEN(mbx_wb_values); i++) {
		if (strcmp(v, mbx_wb_values[i]) == 0)
			return 1;
	}
	return 0;
}

/* The write-back of the user's accounts (id 0) or of one of them, as an object of ids
 * to values (mailacct_info does not carry it); NULL with c->res failed. */
static json_t *
mbx_writebacks(struct http_ctx *c, int64_t id)
{
	const char *params[2] = { mbx_id(c, auth_user(c)->id), mbx_id(c, id) };
	PGconn *pg = mbx_pg(c);
	PGresult *r;
	json_t *map;
	char err[512];

	if (pg == NULL)
		return NULL;
	r = pq_exec(pg, "mailbox write-back", "SELECT id, writeback FROM mail_accounts WHERE "
	    "user_id = $1::bigint AND ($2::bigint = 0 OR id = $2::bigint)", 2, params, err,
	    sizeof err);
	if (r == NULL) {
		mbx_db_fail(c, err);
		return NULL;
	}
	map = json_object();
	for (int i = 0; i < PQntuples(r); i++)
		json_object_set_new(map, PQgetvalue(r, i, 0), json_string(PQgetvalue(r, i, 1)));
	PQclear(r);
	return map;
}

/* Adds account id's write-back to its JSON: the value for the API, the form's select
 * for the page. */
static void
mbx_writeback_json(struct http_ctx *c, json_t *j, json_t *map, int64_t id, int api)
{
	const char *v = json_string_value(json_object_get(map, mbx_id(c, id)));
	json_t *options;

	if (v == NULL)
		v = "label";	/* the column's default; an account added meanwhile */
	json_object_set_new(j, "writeback", json_string(v));
	if (api)
		return;
	options = json_array();
	for (size_t i = 0; i < MR_ARRAY_LEN(mbx_wb_values); i++)
		json_array_append_new(options, json_pack("{s:s, s:s, s:b}", "value",
		    mbx_wb_values[i], "label", mbx_wb_labels[i], "selected",
		    strcmp(v, mbx_wb_values[i]) == 0));
	json_object_set_new(j, "writeback_options", options);
	json_object_set_new(j, "writeback_url", json_string(arena_printf(c->arena,
	    "/settings/mailboxes/%" PRId64 "/writeback", id)));
	json_object_set_new(j, "writeback_id", json_string(arena_printf(c->arena,
	    "mailbox-%" PRId64 "-writeback", id)));
}

/* Sets the write-back of account id of the user to value (checked) and, when it writes,
 * queues a write-back. 1, or 0 with c->res failed (404 for another user's account). */
static int
mbx_writeback_set(struct http_ctx *c, int64_t id, const char *value)
{
	const struct auth_user *u = auth_user(c);
	const char *params[3] = { mbx_id(c, u->id), mbx_id(c, id), value };
	PGconn *pg = mbx_pg(c);
	PGresult *r;
	char err[512];

	if (pg == NULL)
		return 0;
	r = pq_exec(pg, "mailbox write-back", "UPDATE mail_accounts SET writeback = $3 WHERE "
	    "user_id = $1::bigint AND id = $2::bigint RETURNING address", 3, params, err,
	    sizeof err);
	if (r == NULL) {
		mbx_db_fail(c, err);
		return 0;
	}
	if (PQntuples(r) == 0) {
		PQclear(r);
		http_fail(c->res, 404, "not_found", "There is no such mailbox.", NULL);
		return 0;
	}
	audit_record(c, u->id, u->id, "mailbox.writeback", json_pack("{s:I, s:s, s:s}", "id",
	    (json_int_t)id, "address", PQgetvalue(r, 0, 0), "writeback", value));
	PQclear(r);
	/* The setting is stored either way; a failed queueing is retried by the next
	 * triage or correction, which queue one too. */
	if (strcmp(value, "off") != 0 &&
	    writeback_enqueue(pg, u->id, id, err, sizeof err) < 0)
		log_err("account %" PRId64 ": %s", id, err);
	return 1;
}

int
page_mailboxes_writeback(struct http_ctx *c)
{
	int64_t id = http_param_int(c->req, "id");
	const char *value = form_value(c, "writeback");
	struct mailacct_info *a;
	struct form f;
	struct mbx_view v = { 400, NULL, &f, NULL, NULL, 0, NULL, id,
	    "Choose one of the write-back options." };

	if (mbx_writeback_valid(value)) {
		if (mbx_writeback_set(c, id, value) != 1)
			return c->res->status;
		return page_redirect(c, arena_printf(c->arena,
		    "/settings/mailboxes?writeback=%" PRId64, id));
	}
	if (mbx_find(c, id, &a) != 1)
		return c->res->status;
	mailacct_list_free(a, 1);
	mbx_form_init(c, &f);
	return mbx_render(c, &v);
}

/* PATCH: only "writeback" can be changed. */
int
api_mailboxes_update(struct http_ctx *c)
{
	int64_t id = http_param_int(c->req, "id");
	json_t *body = c->req->json, *v;
	struct mailacct_info *a;
	const char *key;
	struct form f;

	if (body == NULL || !json_is_object(body))
		return http_fail(c->res, 400, "bad_request",
		    "Send a JSON object (Content-Type: application/json).", NULL);
	if (mbx_find(c, id, &a) != 1)
		return c->res->status;
	mailacct_list_free(a, 1);
	form_init(&f, c, "mailbox");
	json_object_foreach(body, key, v) {
		if (strcmp(key, "writeback") != 0)
			form_error(&f, key, "Only writeback can be changed.");
	}
	v = json_object_get(body, "writeback");
	if (v == NULL || !json_is_string(v) || !mbx_writeback_valid(json_string_value(v)))
		form_error(&f, "writeback", "One of \"off\", \"label\" and \"label_move\".");
	if (f.nerrors > 0)
		return mbx_api_invalid(c, &f);
	form_free(&f);
	if (mbx_writeback_set(c, id, json_string_value(v)) != 1)
		return c->res->status;
	return api_mailboxes_get(c);
}
