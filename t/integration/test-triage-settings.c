/* test-triage-settings.c: categories and triage rules over HTTP against the running
 * stack: the settings pages without JavaScript (add, rename, hide, reorder, delete with
 * its confirmation; the rule editor's "add a condition" and "remove" buttons, saving,
 * enabling, moving, deleting) and with htmx (the editor's fragment), the JSON API with
 * its scopes, input refused field by field (rule errors by condition index) without
 * changing anything, and another user's ids answering 404 everywhere, changing nothing.
 * Usage: test-triage-settings [suite...]. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/Basic.h>
#include <CUnit/CUnit.h>

#include "itest.h"
#include "iweb.h"

#define SESSION_COOKIE "mr_session"
#define GOOD_PASSWORD "correct horse battery staple 42"

#define EXPECT(ok, r, ...) itest_expect_at(__FILE__, __LINE__, (ok), (r), __VA_ARGS__)
#define EXPECT_STATUS(st, want, r) itest_expect_status_at(__FILE__, __LINE__, (st), (want), (r))

static const char *const hx_headers[] = { "HX-Request: true", NULL };

/* ---- helpers */

static const char *
signup(struct iweb *w, const char *tag)
{
	const char *email = iweb_unique_email(tag);
	long st;

	st = iweb_get(w, "/signup");
	EXPECT_STATUS(st, 200, iweb_last(w));
	st = iweb_post(w, "/signup", (const char *const[]){ "email", email, "display_name",
	    "Ada Lovelace", "password", GOOD_PASSWORD, "time_zone", "Europe/London", NULL }, 1,
	    NULL);
	EXPECT_STATUS(st, 303, iweb_last(w));
	return email;
}

/* The first column of the first row of sql with one parameter, as a string (malloc'd). */
static char *
sql1(const char *sql, const char *param)
{
	return iweb_sql_value(sql, param != NULL ? 1 : 0, (const char *const[]){ param });
}

static long
sql_long(const char *sql, const char *param)
{
	char *v = sql1(sql, param);
	long n = v != NULL ? strtol(v, NULL, 10) : -1;

	free(v);
	return n;
}

/* The id (malloc'd text) of the category slug of the user of email. */
static char *
category_id(const char *email, const char *slug)
{
	return iweb_sql_value("SELECT c.id FROM categories c JOIN users u ON u.id = c.user_id "
	    "WHERE u.email = $1 AND c.slug = $2", 2, (const char *const[]){ email, slug });
}

/* Categories, rules, messages' decisions and the audit log's triage rows: a digest for
 * "nothing changed". */
static char *
snapshot(void)
{
	return iweb_sql_value("SELECT md5((SELECT coalesce(string_agg(c::text, ',' ORDER BY id), "
	    "'') FROM categories c) || (SELECT coalesce(string_agg(r::text, ',' ORDER BY id), '') "
	    "FROM triage_rules r) || (SELECT coalesce(string_agg(a::text, ',' ORDER BY id), '') "
	    "FROM audit_log a WHERE event LIKE 'category.%' OR event LIKE 'rule.%'))", 0, NULL);
}

static void
expect_unchanged(const char *before, const char *what)
{
	char *after = snapshot();

	EXPECT(before != NULL && after != NULL && strcmp(before, after) == 0, NULL,
	    "%s changed nothing", what);
	free(after);
}

/* A JSON request with a bearer token (token not NULL) or as the signed-in browser w. */
static long
api(struct iweb *w, const char *token, struct itest_response *r, const char *method,
    const char *path, const char *json)
{
	const char *headers[6];
	char *h[3] = { NULL, NULL, NULL };
	size_t n = 0;
	long st;

	if (token != NULL) {
		headers[n++] = h[0] = itest_asprintf("Authorization: Bearer %s", token);
	} else {
		headers[n++] = h[0] = itest_asprintf("Cookie: %s=%s", SESSION_COOKIE,
		    iweb_cookie(w, SESSION_COOKIE) != NULL ? iweb_cookie(w, SESSION_COOKIE) : "");
		headers[n++] = h[1] = itest_asprintf("X-CSRF-Token: %s", w->csrf);
		headers[n++] = h[2] = itest_asprintf("Origin: %s", itest_base_url());
	}
	if (json != NULL)
		headers[n++] = "Content-Type: application/json";
	headers[n] = NULL;
	itest_response_free(r);
	st = itest_request(NULL, r, method, path, headers, json, json != NULL ? strlen(json) : 0)
	    == 0 ? r->status : 0;
	for (size_t i = 0; i < 3; i++)
		free(h[i]);
	return st;
}

static json_t *
body_json(const struct itest_response *r)
{
	char err[256];
	json_t *j = itest_json(r, err, sizeof(err));

	EXPECT(j != NULL, r, "a JSON body: %s", err);
	return j != NULL ? j : json_object();
}

/* The message of details.fields.NAME of an error answer, or NULL. */
static const char *
field_error(json_t *j, const char *name)
{
	return json_string_value(json_object_get(json_object_get(json_object_get(
	    json_object_get(j, "error"), "details"), "fields"), name));
}

/* A personal access token with the scopes given ("read", or "read" and "write"). */
static char *
make_token(struct iweb *w, int write)
{
	const char *p, *q;
	long st;

	st = iweb_get(w, "/settings/tokens");
	EXPECT_STATUS(st, 200, iweb_last(w));
	st = iweb_post(w, "/settings/tokens", write ? (const char *const[]){ "name", "triage rw",
	    "scope", "read", "scope", "write", "expires_days", "", NULL } :
	    (const char *const[]){ "name", "triage ro", "scope", "read", "expires_days", "",
	    NULL }, 1, NULL);
	EXPECT_STATUS(st, 200, iweb_last(w));
	p = w->last.body != NULL ? strstr(w->last.body, "value=\"mr_pat_") : NULL;
	EXPECT(p != NULL, iweb_last(w), "the page shows the new token");
	if (p == NULL)
		return NULL;
	p += strlen("value=\"");
	q = strchr(p, '"');
	return q != NULL ? strndup(p, (size_t)(q - p)) : NULL;
}

/* A read-only and a read-write token of w's user: 1 when both were made. */
static int
make_tokens(struct iweb *w, char **ro, char **rw)
{
	iweb_get(w, "/settings");
	*ro = make_token(w, 0);
	*rw = make_token(w, 1);
	return *ro != NULL && *rw != NULL;
}

/* The rule editor's fields: the rule's own, then n condition rows of 5 values each
 * (field, header, not, op, value), then extra; NULL-terminated in out (at most 120). */
static void
rule_form(const char *out[120], const char *name, const char *category,
    const char *const *rows, size_t n, const char *const *extra)
{
	size_t k = 0;

	out[k++] = "name";
	out[k++] = name;
	out[k++] = "match";
	out[k++] = "all";
	out[k++] = "category";
	out[k++] = category;
	out[k++] = "enabled";
	out[k++] = "1";
	out[k++] = "move_folder";
	out[k++] = "";
	for (size_t i = 0; i < n; i++) {
		static const char *const cols[] = { "cond_field", "cond_header", "cond_not",
			"cond_op", "cond_value" };

		for (size_t c = 0; c < 5; c++) {
			out[k++] = cols[c];
			out[k++] = rows[i * 5 + c];
		}
	}
	for (; extra != NULL && *extra != NULL && k < 118; extra++)
		out[k++] = *extra;
	out[k] = NULL;
}

/* How many condition rows the last page's editor has. */
static int
editor_rows(const struct iweb *w)
{
	int n = 0;

	for (const char *p = w->last.body; p != NULL && (p = strstr(p, "name=\"cond_value\""));
	    p++)
		n++;
	return n;
}

/* ---- categories: the page */

static void
test_categories_page(void)
{
	struct iweb *w = iweb_new();
	const char *email = signup(w, "cat-page");
	char *before, *id, *fyi, *to_respond, *path;
	long st, pos_fyi, pos_tr;

	st = iweb_get(w, "/settings");
	EXPECT_STATUS(st, 200, iweb_last(w));
	EXPECT(iweb_body_has(w, "href=\"/settings/categories\"") &&
	    iweb_body_has(w, "href=\"/settings/rules\""), iweb_last(w),
	    "the settings page links to categories and rules");
	st = iweb_get(w, "/settings/categories");
	EXPECT_STATUS(st, 200, iweb_last(w));
	EXPECT(iweb_body_has(w, "To respond") && iweb_body_has(w, "Meeting update") &&
	    iweb_body_has(w, "Awaiting reply") && iweb_body_has(w, "Marketing"), iweb_last(w),
	    "the built-in categories are listed");

	/* Bad input: nothing is added. */
	before = snapshot();
	st = iweb_post(w, "/settings/categories", (const char *const[]){ "name", "",
	    "colour", "teal", "description", "", NULL }, 1, NULL);
	EXPECT_STATUS(st, 400, iweb_last(w));
	EXPECT(iweb_body_has(w, "Name the category."), iweb_last(w), "the name's error");
	st = iweb_post(w, "/settings/categories", (const char *const[]){ "name", "Receipts",
	    "colour", "purple", "description", "", NULL }, 1, NULL);
	EXPECT_STATUS(st, 400, iweb_last(w));
	EXPECT(iweb_body_has(w, "Choose one of the colours"), iweb_last(w), "the colour's error");
	EXPECT(iweb_body_has(w, "value=\"Receipts\""), iweb_last(w), "the name is kept");
	st = iweb_post(w, "/settings/categories", (const char *const[]){ "name", "marketing",
	    "colour", "teal", "description", "", NULL }, 1, NULL);
	EXPECT_STATUS(st, 400, iweb_last(w));
	EXPECT(iweb_body_has(w, "You have a category of that name already."), iweb_last(w),
	    "a taken name (in another case)");
	expect_unchanged(before, "refused adds");
	free(before);

	/* Add. */
	st = iweb_post(w, "/settings/categories", (const char *const[]){ "name",
	    "Receipts & <b>bills</b>", "colour", "teal", "description", "Shops' receipts.",
	    NULL }, 1, NULL);
	EXPECT_STATUS(st, 303, iweb_last(w));
	EXPECT(strncmp(iweb_location(w), "/settings/categories?added=", 27) == 0, iweb_last(w),
	    "back to the list");
	id = category_id(email, "receipts-b-bills-b");
	EXPECT(id != NULL, NULL, "the category has its slug");
	path = strdup(iweb_location(w));
	st = iweb_get(w, path);
	free(path);
	EXPECT_STATUS(st, 200, iweb_last(w));
	EXPECT(iweb_body_has(w, "Receipts &amp; &lt;b&gt;bills&lt;/b&gt; has been added"),
	    iweb_last(w), "the notice names it, escaped");

	/* Rename and hide a built-in: its slug stays. */
	to_respond = category_id(email, "to-respond");
	path = itest_asprintf("/settings/categories/%s", to_respond);
	st = iweb_post(w, path, (const char *const[]){ "name", "Reply needed", "colour", "red",
	    "description", "Mine.", "hidden", "1", NULL }, 1, NULL);
	EXPECT_STATUS(st, 303, iweb_last(w));
	EXPECT(sql_long("SELECT count(*) FROM categories WHERE id = $1 AND slug = 'to-respond' "
	    "AND name = 'Reply needed' AND hidden AND description = 'Mine.'", to_respond) == 1,
	    NULL, "renamed and hidden, same slug");
	/* A bad save shows the row's error and changes nothing. */
	before = snapshot();
	st = iweb_post(w, path, (const char *const[]){ "name", "Receipts & <b>bills</b>",
	    "colour", "red", "description", "", NULL }, 1, NULL);
	EXPECT_STATUS(st, 400, iweb_last(w));
	EXPECT(iweb_body_has(w, "You have a category of that name already."), iweb_last(w),
	    "the row's error");
	expect_unchanged(before, "a refused rename");
	free(before);
	free(path);

	/* Move FYI up: it comes before To respond. */
	fyi = category_id(email, "fyi");
	path = itest_asprintf("/settings/categories/%s/move", fyi);
	st = iweb_post(w, path, (const char *const[]){ "direction", "up", NULL }, 1, NULL);
	EXPECT_STATUS(st, 303, iweb_last(w));
	pos_fyi = sql_long("SELECT position FROM categories WHERE id = $1", fyi);
	pos_tr = sql_long("SELECT position FROM categories WHERE id = $1", to_respond);
	EXPECT(pos_fyi < pos_tr, NULL, "FYI is first now (%ld < %ld)", pos_fyi, pos_tr);
	st = iweb_post(w, path, (const char *const[]){ "direction", "sideways", NULL }, 1, NULL);
	EXPECT_STATUS(st, 400, iweb_last(w));
	free(path);

	/* Delete: a built-in cannot be; the confirmation, then the deletion. */
	path = itest_asprintf("/settings/categories/%s/delete", fyi);
	st = iweb_get(w, path);
	EXPECT_STATUS(st, 409, iweb_last(w));
	before = snapshot();
	st = iweb_post(w, path, NULL, 1, NULL);
	EXPECT_STATUS(st, 409, iweb_last(w));
	expect_unchanged(before, "deleting a built-in");
	free(before);
	free(path);
	path = itest_asprintf("/settings/categories/%s/delete", id);
	st = iweb_get(w, path);
	EXPECT_STATUS(st, 200, iweb_last(w));
	EXPECT(iweb_body_has(w, "id=\"confirm-delete-button\""), iweb_last(w),
	    "the confirmation");
	EXPECT(sql_long("SELECT count(*) FROM categories WHERE id = $1", id) == 1, NULL,
	    "not deleted by the confirmation page");
	st = iweb_post(w, path, NULL, 1, NULL);
	EXPECT_STATUS(st, 303, iweb_last(w));
	EXPECT(sql_long("SELECT count(*) FROM categories WHERE id = $1", id) == 0, NULL,
	    "deleted");
	EXPECT(sql_long("SELECT count(*) FROM audit_log WHERE event = 'category.delete' AND "
	    "(details->>'id') = $1", id) == 1, NULL, "audited");
	/* Without the CSRF token: refused. */
	st = iweb_post(w, "/settings/categories", (const char *const[]){ "name", "No csrf",
	    "colour", "teal", NULL }, 0, NULL);
	EXPECT_STATUS(st, 403, iweb_last(w));
	free(path);
	free(id);
	free(fyi);
	free(to_respond);
	iweb_free(w);
}

/* ---- rules: the page */

static void
test_rules_page(void)
{
	struct iweb *w = iweb_new();
	const char *email = signup(w, "rule-page");
	static const char *const row1[] = { "from", "", "", "contains", "newsletter" };
	static const char *const rows2[] = {
		"from", "", "", "contains", "newsletter",
		"subject", "", "not", "matches", "(unclosed",
	};
	static const char *const rows_ok[] = {
		"header", "List-Id", "", "contains", "news.example.org",
		"subject", "", "not", "matches", "^re:",
	};
	const char *fields[120];
	char *before, *rid, *path, *p;
	long st;

	st = iweb_get(w, "/settings/rules");
	EXPECT_STATUS(st, 200, iweb_last(w));
	EXPECT(iweb_body_has(w, "You have no rules yet."), iweb_last(w), "no rules");
	st = iweb_get(w, "/settings/rules/new");
	EXPECT_STATUS(st, 200, iweb_last(w));
	EXPECT(editor_rows(w) == 1, iweb_last(w), "one condition row");
	EXPECT(iweb_body_has(w, "value=\"marketing\""), iweb_last(w), "the categories offered");

	/* Without JavaScript: "add a condition" re-renders the form with one more row,
	 * keeping what was typed; "remove" takes one away. Nothing is stored. */
	before = snapshot();
	rule_form(fields, "News", "marketing", row1, 1, (const char *const[]){ "do", "add",
	    NULL });
	st = iweb_post(w, "/settings/rules", fields, 1, NULL);
	EXPECT_STATUS(st, 200, iweb_last(w));
	EXPECT(editor_rows(w) == 2, iweb_last(w), "two rows");
	EXPECT(iweb_body_has(w, "value=\"newsletter\""), iweb_last(w), "the value is kept");
	rule_form(fields, "News", "marketing", rows2, 2, (const char *const[]){ "do",
	    "remove:0", NULL });
	st = iweb_post(w, "/settings/rules", fields, 1, NULL);
	EXPECT_STATUS(st, 200, iweb_last(w));
	EXPECT(editor_rows(w) == 1 && !iweb_body_has(w, "value=\"newsletter\"") &&
	    iweb_body_has(w, "value=\"(unclosed\""), iweb_last(w), "the first row removed");
	/* With htmx: the form alone. */
	rule_form(fields, "News", "marketing", row1, 1, (const char *const[]){ "do", "add",
	    NULL });
	st = iweb_post_headers(w, "/settings/rules", fields, 1, NULL, hx_headers);
	EXPECT_STATUS(st, 200, iweb_last(w));
	EXPECT(strncmp(w->last.body, "<form", 5) == 0 && !iweb_body_has(w, "<html") &&
	    editor_rows(w) == 2, iweb_last(w), "the editor's fragment");
	/* Rows that do not line up: refused. */
	st = iweb_post(w, "/settings/rules", (const char *const[]){ "name", "x", "cond_field",
	    "from", "cond_field", "to", "cond_op", "is", "cond_not", "", "cond_header", "",
	    "cond_value", "a", "do", "save", NULL }, 1, NULL);
	EXPECT_STATUS(st, 400, iweb_last(w));

	/* Saving a rule with a bad pattern: the error names the rule and the condition. */
	rule_form(fields, "News", "marketing", rows2, 2, (const char *const[]){ "do", "save",
	    NULL });
	st = iweb_post(w, "/settings/rules", fields, 1, NULL);
	EXPECT_STATUS(st, 400, iweb_last(w));
	EXPECT(iweb_body_has(w, "Rule &quot;News&quot;, condition 2 (subject): the regular "
	    "expression is not valid") || iweb_body_has(w, "Rule \"News\", condition 2 "
	    "(subject): the regular expression is not valid"), iweb_last(w),
	    "the regex error next to its row");
	/* A category of another user, or none: refused. */
	rule_form(fields, "News", "no-such-category", row1, 1, NULL);
	st = iweb_post(w, "/settings/rules", fields, 1, NULL);
	EXPECT_STATUS(st, 400, iweb_last(w));
	EXPECT(iweb_body_has(w, "You have no such category"), iweb_last(w), "category error");
	expect_unchanged(before, "the editor's buttons and refused saves");
	free(before);

	/* Save. */
	rule_form(fields, "News", "marketing", rows_ok, 2, (const char *const[]){
	    "action_archive", "1", "do", "save", NULL });
	st = iweb_post(w, "/settings/rules", fields, 1, NULL);
	EXPECT_STATUS(st, 303, iweb_last(w));
	rid = iweb_sql_value("SELECT r.id FROM triage_rules r JOIN users u ON u.id = r.user_id "
	    "WHERE u.email = $1 AND r.name = 'News'", 1, (const char *const[]){ email });
	EXPECT(rid != NULL, NULL, "the rule is stored");
	if (rid == NULL)
		goto out;
	p = sql1("SELECT conditions::text || ' ' || actions::text || ' ' || category FROM "
	    "triage_rules WHERE id = $1", rid);
	EXPECT(p != NULL && strstr(p, "\"header:List-Id\"") != NULL &&
	    strstr(p, "\"negate\": true") != NULL && strstr(p, "archive") != NULL &&
	    strstr(p, "marketing") != NULL, NULL, "stored as sent: %s", p != NULL ? p : "");
	free(p);
	st = iweb_get(w, "/settings/rules");
	EXPECT_STATUS(st, 200, iweb_last(w));
	EXPECT(iweb_body_has(w, "Header List-Id contains &quot;news.example.org&quot;") ||
	    iweb_body_has(w, "Header List-Id contains \"news.example.org\""), iweb_last(w),
	    "the conditions in words");

	/* Edit: the form shows it; a change is saved. */
	path = itest_asprintf("/settings/rules/%s", rid);
	st = iweb_get(w, path);
	EXPECT_STATUS(st, 200, iweb_last(w));
	EXPECT(iweb_body_has(w, "value=\"List-Id\"") && editor_rows(w) == 2, iweb_last(w),
	    "the rule in the editor");
	rule_form(fields, "News, renamed", "fyi", rows_ok, 1, (const char *const[]){ "do",
	    "save", NULL });
	st = iweb_post(w, path, fields, 1, NULL);
	EXPECT_STATUS(st, 303, iweb_last(w));
	EXPECT(sql_long("SELECT count(*) FROM triage_rules WHERE id = $1 AND name = "
	    "'News, renamed' AND category = 'fyi' AND jsonb_array_length(conditions) = 1 AND "
	    "actions = '[]'", rid) == 1, NULL, "updated");
	free(path);

	/* Disable, move (a second rule first), delete. */
	path = itest_asprintf("/settings/rules/%s/enabled", rid);
	st = iweb_post(w, path, (const char *const[]){ "enabled", "0", NULL }, 1, NULL);
	EXPECT_STATUS(st, 303, iweb_last(w));
	EXPECT(sql_long("SELECT count(*) FROM triage_rules WHERE id = $1 AND NOT enabled", rid)
	    == 1, NULL, "disabled");
	free(path);
	rule_form(fields, "Second", "fyi", row1, 1, (const char *const[]){ "do", "save", NULL });
	st = iweb_post(w, "/settings/rules", fields, 1, NULL);
	EXPECT_STATUS(st, 303, iweb_last(w));
	path = itest_asprintf("/settings/rules/%s/move", rid);
	st = iweb_post(w, path, (const char *const[]){ "direction", "down", NULL }, 1, NULL);
	EXPECT_STATUS(st, 303, iweb_last(w));
	p = iweb_sql_value("SELECT string_agg(r.name, '|' ORDER BY r.position, r.id) FROM "
	    "triage_rules r JOIN users u ON u.id = r.user_id WHERE u.email = $1", 1,
	    (const char *const[]){ email });
	EXPECT(p != NULL && strcmp(p, "Second|News, renamed") == 0, NULL, "moved: %s",
	    p != NULL ? p : "");
	free(p);
	free(path);
	path = itest_asprintf("/settings/rules/%s/delete", rid);
	st = iweb_post(w, path, NULL, 1, NULL);
	EXPECT_STATUS(st, 303, iweb_last(w));
	EXPECT(sql_long("SELECT count(*) FROM triage_rules WHERE id = $1", rid) == 0, NULL,
	    "deleted");
	free(path);
out:
	free(rid);
	iweb_free(w);
}

/* ---- the API */

static void
test_api(void)
{
	struct iweb *w = iweb_new();
	struct itest_response r = { 0 };
	const char *email = signup(w, "triage-api");
	char *ro, *rw, *before, *path, *fyi, *cid = NULL, *rid = NULL, *body;
	json_t *j, *list;
	long st;

	if (!make_tokens(w, &ro, &rw))
		goto out;

	st = api(w, ro, &r, "GET", "/api/v1/categories", NULL);
	EXPECT_STATUS(st, 200, &r);
	j = body_json(&r);
	list = json_object_get(j, "categories");
	EXPECT(json_array_size(list) == 8, &r, "the eight built-in ones");
	EXPECT(strcmp(json_string_value(json_object_get(json_array_get(list, 0), "slug")),
	    "to-respond") == 0 && json_is_true(json_object_get(json_array_get(list, 0),
	    "builtin")), &r, "in order");
	json_decref(j);

	/* The read scope cannot change anything. */
	before = snapshot();
	st = api(w, ro, &r, "POST", "/api/v1/categories", "{\"name\": \"X\"}");
	EXPECT_STATUS(st, 403, &r);
	st = api(w, ro, &r, "POST", "/api/v1/rules", "{}");
	EXPECT_STATUS(st, 403, &r);
	/* Bad input: 400 with the fields. */
	st = api(w, rw, &r, "POST", "/api/v1/categories", "{\"name\": \"\", \"colour\": "
	    "\"purple\", \"hue\": 3, \"hidden\": \"yes\"}");
	EXPECT_STATUS(st, 400, &r);
	j = body_json(&r);
	EXPECT(field_error(j, "name") != NULL && field_error(j, "colour") != NULL &&
	    field_error(j, "hue") != NULL && field_error(j, "hidden") != NULL, &r,
	    "each refused member");
	json_decref(j);
	st = api(w, rw, &r, "POST", "/api/v1/categories", "[1]");
	EXPECT_STATUS(st, 400, &r);
	st = api(w, rw, &r, "POST", "/api/v1/categories", "{\"name\": \"FYI\"}");
	EXPECT_STATUS(st, 400, &r);
	j = body_json(&r);
	EXPECT(field_error(j, "name") != NULL, &r, "a taken name");
	json_decref(j);
	st = api(w, rw, &r, "POST", "/api/v1/rules", "{\"name\": \"Bad\", \"conditions\": "
	    "[{\"field\": \"from\", \"op\": \"is\", \"value\": \"a@b.c\"}, {\"field\": "
	    "\"subject\", \"op\": \"matches\", \"value\": \"[z-a]\"}], \"category\": \"fyi\"}");
	EXPECT_STATUS(st, 400, &r);
	j = body_json(&r);
	EXPECT(field_error(j, "conditions[1].value") != NULL &&
	    strstr(field_error(j, "conditions[1].value"), "Rule \"Bad\", condition 2 (subject)")
	    != NULL, &r, "the regex error by condition index");
	json_decref(j);
	st = api(w, rw, &r, "POST", "/api/v1/rules", "{\"name\": \"Bad\", \"conditions\": "
	    "[{\"field\": \"from\", \"op\": \"is\", \"value\": \"a@b.c\"}], \"category\": "
	    "\"receipts\"}");
	EXPECT_STATUS(st, 400, &r);
	j = body_json(&r);
	EXPECT(field_error(j, "category") != NULL, &r, "a category the user does not have");
	json_decref(j);
	expect_unchanged(before, "refused API calls");
	free(before);

	/* Categories: create, patch, order, delete. */
	st = api(w, rw, &r, "POST", "/api/v1/categories", "{\"name\": \"  Receipts \", "
	    "\"colour\": \"teal\", \"description\": \"Shops.\"}");
	EXPECT_STATUS(st, 201, &r);
	j = body_json(&r);
	EXPECT(strcmp(json_string_value(json_object_get(j, "slug")), "receipts") == 0 &&
	    strcmp(json_string_value(json_object_get(j, "name")), "Receipts") == 0 &&
	    json_is_false(json_object_get(j, "builtin")), &r, "the new category");
	cid = itest_asprintf("%lld", (long long)json_integer_value(json_object_get(j, "id")));
	json_decref(j);
	path = itest_asprintf("/api/v1/categories/%s", cid);
	st = api(w, NULL, &r, "PATCH", path, "{\"hidden\": true, \"colour\": \"blue\"}");
	EXPECT_STATUS(st, 200, &r);
	j = body_json(&r);
	EXPECT(json_is_true(json_object_get(j, "hidden")) && strcmp(json_string_value(
	    json_object_get(j, "colour")), "blue") == 0 && strcmp(json_string_value(
	    json_object_get(j, "name")), "Receipts") == 0, &r, "patched, the rest kept");
	json_decref(j);
	st = api(w, rw, &r, "PATCH", path, "{\"name\": \"x\\u0001\"}");
	EXPECT_STATUS(st, 400, &r);
	fyi = category_id(email, "fyi");
	{
		char *fpath = itest_asprintf("/api/v1/categories/%s", fyi);

		st = api(w, rw, &r, "DELETE", fpath, NULL);
		EXPECT_STATUS(st, 409, &r);
		free(fpath);
	}
	/* Order: the new one first. */
	body = iweb_sql_value("SELECT '{\"ids\": [' || string_agg(c.id::text, ',' ORDER BY "
	    "c.builtin, c.position) || ']}' FROM categories c JOIN users u ON u.id = c.user_id "
	    "WHERE u.email = $1", 1, (const char *const[]){ email });
	st = api(w, rw, &r, "POST", "/api/v1/categories/order", body);
	EXPECT_STATUS(st, 200, &r);
	j = body_json(&r);
	EXPECT(strcmp(json_string_value(json_object_get(json_array_get(json_object_get(j,
	    "categories"), 0), "slug")), "receipts") == 0, &r, "reordered");
	json_decref(j);
	free(body);
	st = api(w, rw, &r, "POST", "/api/v1/categories/order", "{\"ids\": [1, 2]}");
	EXPECT_STATUS(st, 400, &r);

	/* Rules: create, get, list, patch, delete. */
	st = api(w, rw, &r, "POST", "/api/v1/rules", "{\"name\": \"Shop mail\", \"match\": "
	    "\"any\", \"conditions\": [{\"field\": \"domain\", \"op\": \"ends\", \"value\": "
	    "\"shop.example\"}, {\"field\": \"header:List-Id\", \"op\": \"contains\", "
	    "\"value\": \"shop\"}], \"category\": \"receipts\", \"actions\": [{\"type\": "
	    "\"move\", \"folder\": \"Shops\"}]}");
	EXPECT_STATUS(st, 201, &r);
	j = body_json(&r);
	rid = itest_asprintf("%lld", (long long)json_integer_value(json_object_get(j, "id")));
	EXPECT(json_integer_value(json_object_get(j, "position")) == 1 &&
	    json_array_size(json_object_get(j, "conditions")) == 2, &r, "the new rule");
	json_decref(j);
	free(path);
	path = itest_asprintf("/api/v1/rules/%s", rid);
	st = api(w, ro, &r, "GET", path, NULL);
	EXPECT_STATUS(st, 200, &r);
	st = api(w, rw, &r, "POST", "/api/v1/rules", "{\"name\": \"Second\", \"conditions\": "
	    "[{\"field\": \"body\", \"op\": \"contains\", \"value\": \"unsubscribe\"}], "
	    "\"category\": \"marketing\", \"position\": 1}");
	EXPECT_STATUS(st, 201, &r);
	st = api(w, ro, &r, "GET", "/api/v1/rules", NULL);
	EXPECT_STATUS(st, 200, &r);
	j = body_json(&r);
	list = json_object_get(j, "rules");
	EXPECT(json_array_size(list) == 2 && strcmp(json_string_value(json_object_get(
	    json_array_get(list, 0), "name")), "Second") == 0, &r, "the list, in order");
	json_decref(j);
	before = snapshot();
	st = api(w, rw, &r, "PATCH", path, "{\"conditions\": [{\"field\": \"subject\", "
	    "\"op\": \"is\", \"value\": \"ok\"}, {\"field\": \"nope\", \"op\": \"is\", "
	    "\"value\": \"x\"}]}");
	EXPECT_STATUS(st, 400, &r);
	j = body_json(&r);
	EXPECT(field_error(j, "conditions[1].field") != NULL, &r, "by condition index");
	json_decref(j);
	st = api(w, rw, &r, "PATCH", path, "{\"position\": 0}");
	EXPECT_STATUS(st, 400, &r);
	expect_unchanged(before, "refused patches");
	free(before);
	st = api(w, NULL, &r, "PATCH", path, "{\"enabled\": false, \"position\": 1}");
	EXPECT_STATUS(st, 200, &r);
	j = body_json(&r);
	EXPECT(json_is_false(json_object_get(j, "enabled")) &&
	    json_integer_value(json_object_get(j, "position")) == 1 &&
	    strcmp(json_string_value(json_object_get(j, "name")), "Shop mail") == 0 &&
	    strcmp(json_string_value(json_object_get(json_array_get(json_object_get(j,
	    "actions"), 0), "folder")), "Shops") == 0, &r, "patched, the rest kept");
	json_decref(j);
	/* Deleting the category: the rule loses it and keeps its move action. */
	free(path);
	path = itest_asprintf("/api/v1/categories/%s", cid);
	st = api(w, rw, &r, "DELETE", path, NULL);
	EXPECT_STATUS(st, 204, &r);
	EXPECT(sql_long("SELECT count(*) FROM triage_rules WHERE id = $1 AND category IS NULL",
	    rid) == 1, NULL, "the rule lost its category");
	free(path);
	path = itest_asprintf("/api/v1/rules/%s", rid);
	st = api(w, rw, &r, "DELETE", path, NULL);
	EXPECT_STATUS(st, 204, &r);
	st = api(w, rw, &r, "GET", path, NULL);
	EXPECT_STATUS(st, 404, &r);
	free(path);
	free(fyi);
out:
	itest_response_free(&r);
	free(cid);
	free(rid);
	free(ro);
	free(rw);
	iweb_free(w);
}

/* ---- another user's ids */

static void
test_ownership(void)
{
	struct iweb *a = iweb_new(), *b = iweb_new();
	struct itest_response r = { 0 };
	const char *alice = signup(a, "owner-a");
	char *cat, *rule, *before, *p;
	long st;

	signup(b, "owner-b");
	iweb_get(a, "/settings/categories");
	st = iweb_post(a, "/settings/categories", (const char *const[]){ "name", "Private",
	    "colour", "teal", NULL }, 1, NULL);
	EXPECT_STATUS(st, 303, iweb_last(a));
	iweb_get(a, "/settings/rules");
	st = api(a, NULL, &r, "POST", "/api/v1/rules", "{\"name\": \"Mine\", \"conditions\": "
	    "[{\"field\": \"from\", \"op\": \"is\", \"value\": \"a@b.c\"}], \"category\": "
	    "\"private\"}");
	EXPECT_STATUS(st, 201, &r);
	cat = category_id(alice, "private");
	rule = iweb_sql_value("SELECT r.id FROM triage_rules r JOIN users u ON u.id = r.user_id "
	    "WHERE u.email = $1", 1, (const char *const[]){ alice });
	if (cat == NULL || rule == NULL)
		goto out;
	iweb_get(b, "/settings/categories");
	before = snapshot();
	{
		/* Method, the path before and after the id, a body. */
		const struct {
			const char *method, *before, *after, *body;
		} calls[] = {
			{ "PAGE-POST", "/settings/categories/", "", NULL },
			{ "PAGE-POST", "/settings/categories/", "/move", NULL },
			{ "GET", "/settings/categories/", "/delete", NULL },
			{ "PAGE-POST", "/settings/categories/", "/delete", NULL },
			{ "PATCH", "/api/v1/categories/", "", "{\"name\": \"Stolen\"}" },
			{ "DELETE", "/api/v1/categories/", "", NULL },
		}, rcalls[] = {
			{ "GET", "/settings/rules/", "", NULL },
			{ "PAGE-POST", "/settings/rules/", "", NULL },
			{ "PAGE-POST", "/settings/rules/", "/enabled", NULL },
			{ "PAGE-POST", "/settings/rules/", "/move", NULL },
			{ "PAGE-POST", "/settings/rules/", "/delete", NULL },
			{ "GET", "/api/v1/rules/", "", NULL },
			{ "PATCH", "/api/v1/rules/", "", "{\"name\": \"Stolen\"}" },
			{ "DELETE", "/api/v1/rules/", "", NULL },
		};

		for (size_t k = 0; k < 2; k++) {
			size_t n = k == 0 ? sizeof calls / sizeof calls[0] :
			    sizeof rcalls / sizeof rcalls[0];

			for (size_t i = 0; i < n; i++) {
				const char *method = k == 0 ? calls[i].method : rcalls[i].method;
				const char *body = k == 0 ? calls[i].body : rcalls[i].body;

				p = itest_asprintf("%s%s%s", k == 0 ? calls[i].before :
				    rcalls[i].before, k == 0 ? cat : rule, k == 0 ? calls[i].after :
				    rcalls[i].after);
				if (strcmp(method, "PAGE-POST") == 0) {
					st = iweb_post(b, p, (const char *const[]){ "name", "Stolen",
					    "direction", "up", "enabled", "0", "cond_field", "from",
					    "cond_header", "", "cond_not", "", "cond_op", "is",
					    "cond_value", "x", "do", "save", NULL }, 1, NULL);
					EXPECT(st == 404, iweb_last(b), "%s %s: 404", method, p);
				} else if (strncmp(p, "/settings", 9) == 0) {
					st = iweb_get(b, p);
					EXPECT(st == 404, iweb_last(b), "%s %s: 404", method, p);
				} else {
					st = api(b, NULL, &r, method, p, body);
					EXPECT(st == 404, &r, "%s %s: 404", method, p);
				}
				free(p);
			}
		}
	}
	/* Order with Alice's id in Bob's list: refused. */
	p = iweb_sql_value("SELECT '{\"ids\": [' || string_agg(id::text, ',') || ']}' FROM "
	    "(SELECT id FROM categories WHERE user_id = (SELECT user_id FROM categories WHERE "
	    "id = $1) ORDER BY position) x", 1, (const char *const[]){ cat });
	st = api(b, NULL, &r, "POST", "/api/v1/categories/order", p);
	EXPECT_STATUS(st, 400, &r);
	free(p);
	/* A rule of Bob's naming Alice's category slug: Bob has none of that name. */
	st = api(b, NULL, &r, "POST", "/api/v1/rules", "{\"name\": \"Steal\", \"conditions\": "
	    "[{\"field\": \"from\", \"op\": \"is\", \"value\": \"a@b.c\"}], \"category\": "
	    "\"private\"}");
	EXPECT_STATUS(st, 400, &r);
	/* Bob's lists hold nothing of Alice's. */
	st = api(b, NULL, &r, "GET", "/api/v1/rules", NULL);
	EXPECT(st == 200 && strstr(r.body, "Mine") == NULL, &r, "Bob's rules");
	st = iweb_get(b, "/settings/categories");
	EXPECT(st == 200 && !iweb_body_has(b, "Private"), iweb_last(b), "Bob's categories");
	expect_unchanged(before, "another user's calls");
	free(before);
out:
	free(cat);
	free(rule);
	itest_response_free(&r);
	iweb_free(a);
	iweb_free(b);
}

/* ---- the triage settings: the form on the categories page and the API */

/* The user's settings row as "days,screening,category", "none" without one (malloc'd). */
static char *
settings_of(const char *email)
{
	return iweb_sql_value("SELECT coalesce((SELECT s.follow_up_days || ',' || "
	    "s.screening::text || ',' || s.screening_category FROM triage_settings s JOIN users "
	    "u ON u.id = s.user_id WHERE u.email = $1), 'none')", 1,
	    (const char *const[]){ email });
}

static void
expect_settings(const char *email, const char *want, const char *what)
{
	char *v = settings_of(email);

	EXPECT(v != NULL && strcmp(v, want) == 0, NULL, "%s: the settings are %s (are %s)",
	    what, want, v != NULL ? v : "(none)");
	free(v);
}

static long
settings_audits(const char *email)
{
	return sql_long("SELECT count(*) FROM audit_log a JOIN users u ON u.id = a.user_id "
	    "WHERE u.email = $1 AND a.event = 'triage.settings'", email);
}

static void
test_settings(void)
{
	struct iweb *w = iweb_new(), *b = iweb_new();
	struct itest_response r = { 0 };
	const char *email = signup(w, "triage-set");
	char *ro = NULL, *rw = NULL;
	json_t *j;
	long st;

	signup(b, "triage-set-b");
	st = iweb_get(w, "/settings/categories");
	EXPECT(st == 200 && iweb_body_has(w, "id=\"triage\"") &&
	    iweb_body_has(w, "name=\"follow_up_days\"") && iweb_body_has(w, "value=\"3\"") &&
	    iweb_body_has(w, "<option value=\"marketing\" selected"), iweb_last(w),
	    "the form with the defaults");
	/* Saved: the checkbox left out turns screening off. */
	st = iweb_post(w, "/settings/triage", (const char *const[]){ "follow_up_days", "7",
	    "screening_category", "fyi", NULL }, 1, NULL);
	EXPECT_STATUS(st, 303, iweb_last(w));
	expect_settings(email, "7,false,fyi", "the form");
	EXPECT(settings_audits(email) == 1, NULL, "audited");
	{
		char *back = strdup(iweb_location(w));

		st = iweb_get(w, back);
		free(back);
	}
	EXPECT(st == 200 && iweb_body_has(w, "The triage settings have been saved.") &&
	    iweb_body_has(w, "value=\"7\"") && iweb_body_has(w, "<option value=\"fyi\" selected"),
	    iweb_last(w), "the notice and the stored values");
	/* Bad input: the error next to its field, nothing changes. */
	{
		static const struct {
			const char *days, *category, *error;
		} bad[] = {
			{ "0", "fyi", "A whole number of days from 1 to 90." },
			{ "91", "fyi", "A whole number of days from 1 to 90." },
			{ "two", "fyi", "A whole number of days from 1 to 90." },
			{ "5", "no-such-category", "Choose one of your categories." },
			{ "5", "", "Choose one of your categories." },
		};

		for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
			st = iweb_post(w, "/settings/triage", (const char *const[]){
			    "follow_up_days", bad[i].days, "screening", "1", "screening_category",
			    bad[i].category, NULL }, 1, NULL);
			EXPECT(st == 400 && iweb_body_has(w, bad[i].error) &&
			    iweb_body_has(w, "aria-invalid=\"true\""), iweb_last(w),
			    "%s, %s: 400 with the error", bad[i].days, bad[i].category);
		}
	}
	expect_settings(email, "7,false,fyi", "bad input");
	EXPECT(settings_audits(email) == 1, NULL, "bad input is not audited");

	/* The API. */
	if (!make_tokens(w, &ro, &rw))
		goto out;
	st = api(w, ro, &r, "GET", "/api/v1/triage/settings", NULL);
	EXPECT_STATUS(st, 200, &r);
	j = body_json(&r);
	EXPECT(json_integer_value(json_object_get(j, "follow_up_days")) == 7 &&
	    json_is_false(json_object_get(j, "screening")) &&
	    strcmp(json_string_value(json_object_get(j, "screening_category")) != NULL ?
	    json_string_value(json_object_get(j, "screening_category")) : "", "fyi") == 0, &r,
	    "the stored settings");
	json_decref(j);
	st = api(w, ro, &r, "PATCH", "/api/v1/triage/settings", "{\"follow_up_days\": 5}");
	EXPECT_STATUS(st, 403, &r);
	st = api(w, rw, &r, "PATCH", "/api/v1/triage/settings", "{\"follow_up_days\": 0, "
	    "\"screening\": \"yes\", \"screening_category\": 4}");
	EXPECT_STATUS(st, 400, &r);
	j = body_json(&r);
	EXPECT(field_error(j, "follow_up_days") != NULL && field_error(j, "screening") != NULL &&
	    field_error(j, "screening_category") != NULL, &r, "each refused member");
	json_decref(j);
	st = api(w, rw, &r, "PATCH", "/api/v1/triage/settings", "{\"follow_up_days\": 5, "
	    "\"screening_category\": \"nope\"}");
	EXPECT_STATUS(st, 400, &r);
	j = body_json(&r);
	EXPECT(field_error(j, "screening_category") != NULL, &r, "an unknown category");
	json_decref(j);
	st = api(w, rw, &r, "PATCH", "/api/v1/triage/settings", "[1]");
	EXPECT_STATUS(st, 400, &r);
	expect_settings(email, "7,false,fyi", "refused PATCHes");
	/* Only the members sent change. */
	st = api(w, rw, &r, "PATCH", "/api/v1/triage/settings", "{\"follow_up_days\": 14, "
	    "\"screening\": true}");
	EXPECT_STATUS(st, 200, &r);
	j = body_json(&r);
	EXPECT(json_integer_value(json_object_get(j, "follow_up_days")) == 14 &&
	    json_is_true(json_object_get(j, "screening")), &r, "the new settings");
	json_decref(j);
	expect_settings(email, "14,true,fyi", "PATCH");
	EXPECT(settings_audits(email) == 2, NULL, "the PATCH audited");

	/* Bob cannot name a category only Alice has; his settings stay his own. */
	iweb_get(w, "/settings/categories");
	st = iweb_post(w, "/settings/categories", (const char *const[]){ "name", "Receipts",
	    "colour", "teal", NULL }, 1, NULL);
	EXPECT_STATUS(st, 303, iweb_last(w));
	st = api(w, rw, &r, "PATCH", "/api/v1/triage/settings",
	    "{\"screening_category\": \"receipts\"}");
	EXPECT_STATUS(st, 200, &r);
	iweb_get(b, "/settings/categories");
	st = api(b, NULL, &r, "PATCH", "/api/v1/triage/settings",
	    "{\"screening_category\": \"receipts\"}");
	EXPECT_STATUS(st, 400, &r);
	st = api(b, NULL, &r, "GET", "/api/v1/triage/settings", NULL);
	EXPECT(st == 200 && strstr(r.body, "receipts") == NULL &&
	    strstr(r.body, "marketing") != NULL, &r, "Bob's own settings");
	expect_settings(email, "14,true,receipts", "Alice's");
out:
	free(ro);
	free(rw);
	itest_response_free(&r);
	iweb_free(w);
	iweb_free(b);
}

int
main(int argc, char **argv)
{
	static const struct itest_case tests[] = {
		{ "categories", "the categories page", test_categories_page, 0 },
		{ "rules", "the rules page and its editor", test_rules_page, 0 },
		{ "api", "the JSON API, scopes and refusals", test_api, 0 },
		{ "owner", "another user's ids", test_ownership, 0 },
		{ "settings", "the triage settings: the form and the API", test_settings, 0 },
	};
	unsigned failed;

	itest_init();
	failed = itest_run(argc, argv, tests, sizeof(tests) / sizeof(tests[0]));
	itest_cleanup();
	return failed > 0 ? 1 : 0;
}
