/* page-triage.c: a user's categories and triage rules, on the settings pages
 * /settings/categories and /settings/rules and through the JSON API /api/v1/categories
 * and /api/v1/rules. Both go through the same checks (categories_check, rules_parse)
 * and the same statements (categories.c, rules.c); every change is audited. The rule
 * editor is a plain form whose "add a condition" and "remove" buttons re-render it
 * from what was sent, so it works without JavaScript; with htmx the form alone is
 * swapped (fragment "rule-editor"). */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "auth.h"
#include "categories.h"
#include "db-pool.h"
#include "form.h"
#include "http-server.h"
#include "page.h"
#include "pq.h"
#include "routes.h"
#include "rules.h"
#include "util.h"

/* ---- Common */

/* The request's connection as plain libpq, for categories.c and rules.c; NULL with
 * c->res failed (503). */
static PGconn *
tri_pg(struct http_ctx *c)
{
	struct db_conn *db = http_ctx_db(c);

	if (db == NULL) {
		http_fail(c->res, 503, "database_unavailable", NULL, NULL);
		return NULL;
	}
	return db_conn_pg(db);
}

/* A failure of the database: logged with its words, answered 500. */
static int
tri_db_fail(struct http_ctx *c, const char *err)
{
	log_err("%s", err);
	return http_fail(c->res, 500, "internal_error", NULL, NULL);
}

static void
tri_bad(void *arg, const char *field, const char *message)
{
	form_error(arg, field, message);
}

static int
tri_api_invalid(struct http_ctx *c, struct form *f)
{
	return http_fail(c->res, 400, "invalid_input", "Some fields are not valid.",
	    form_details(f));
}

/* 0 when the request has a JSON object as its body, else the 400 made. */
static int
tri_api_body(struct http_ctx *c)
{
	if (c->req->json == NULL || !json_is_object(c->req->json))
		return http_fail(c->res, 400, "bad_request",
		    "Send a JSON object (Content-Type: application/json).", NULL);
	return 0;
}

/* A fixed sentence about the thing named in ?key=ID of the page a change redirected
 * to (its name from the user's own list, never text from the URL), or NULL. */
struct tri_notice {
	const char *key, *before, *after;	/* the name goes between */
};

static const char *
tri_notice(struct http_ctx *c, const struct tri_notice *notices, size_t n,
    const int64_t *ids, const char *const *names, size_t count)
{
	const char *v;
	int64_t id;

	for (size_t i = 0; i < n; i++) {
		if ((v = kvlist_get(&c->req->query, notices[i].key)) == NULL)
			continue;
		if (notices[i].before == NULL)
			return notices[i].after;
		if (util_parse_int64(v, 1, INT64_MAX, &id) == -1)
			continue;
		for (size_t k = 0; k < count; k++) {
			if (ids[k] == id)
				return arena_printf(c->arena, "%s%s%s", notices[i].before, names[k],
				    notices[i].after);
		}
	}
	return NULL;
}

/* ---- Categories */

/* The swatch of each colour: whole class names, which Tailwind finds in
 * templates/pages/categories.html (its comment lists them). */
static const char *
tri_swatch(const char *colour)
{
	static const char *const swatches[][2] = {
		{ "slate", "bg-slate-500" }, { "red", "bg-red-500" },
		{ "orange", "bg-orange-500" }, { "amber", "bg-amber-500" },
		{ "green", "bg-green-500" }, { "teal", "bg-teal-500" }, { "sky", "bg-sky-500" },
		{ "blue", "bg-blue-500" }, { "indigo", "bg-indigo-500" },
		{ "violet", "bg-violet-500" }, { "pink", "bg-pink-500" },
	};

	for (size_t i = 0; i < MR_ARRAY_LEN(swatches); i++) {
		if (strcmp(colour, swatches[i][0]) == 0)
			return swatches[i][1];
	}
	return "bg-slate-500";
}

static json_t *
tri_category_json(const struct category *k)
{
	return json_pack("{s:I, s:s, s:b, s:s, s:s, s:s, s:b, s:i}", "id", (json_int_t)k->id,
	    "slug", k->slug, "builtin", k->builtin, "name", k->name, "colour", k->colour,
	    "description", k->description, "hidden", k->hidden, "position", k->position);
}

/* The user's categories (id 0) or one of them; NULL with c->res failed. */
static struct category *
tri_categories(struct http_ctx *c, int64_t id, long *n)
{
	struct category *l;
	PGconn *pg = tri_pg(c);
	char err[512];

	*n = 0;
	if (pg == NULL)
		return NULL;
	if ((*n = categories_list(pg, auth_user(c)->id, id, &l, err, sizeof err)) < 0) {
		*n = 0;
		tri_db_fail(c, err);
		return NULL;
	}
	/* Not NULL for an empty list, so that NULL always means failure. */
	return l != NULL ? l : xcalloc(1, sizeof *l);
}

/* One of the user's categories: 1 with *out set, 0 with a 404 made, -1 (c->res failed). */
static int
tri_category_find(struct http_ctx *c, int64_t id, struct category **out)
{
	long n;

	if ((*out = tri_categories(c, id, &n)) == NULL)
		return -1;
	if (n == 1)
		return 1;
	categories_free(*out, (size_t)n);
	*out = NULL;
	http_fail(c->res, 404, "not_found", "There is no such category.", NULL);
	return 0;
}

static json_t *
tri_colour_options(const char *selected)
{
	json_t *l = json_array();

	for (size_t i = 0; i < categories_colours_count; i++) {
		const char *v = categories_colours[i];

		json_array_append_new(l, json_pack("{s:s, s:s, s:b}", "value", v, "swatch",
		    tri_swatch(v), "selected", selected != NULL && strcmp(selected, v) == 0));
	}
	return l;
}

/* A user's triage_settings; the defaults when the user has no row. */
struct tri_settings {
	int64_t follow_up_days;
	int screening;
	char category[CATEGORIES_SLUG_MAX + 1];
};

/* How the categories page is to be shown. */
struct tri_cat_view {
	int status;
	struct form *add;		/* the add form, filled and checked */
	const char *form_error;		/* above the forms */
	int64_t edit_id;		/* the category whose save failed (0: none) */
	struct form *edit;		/* its errors */
	const struct category_input *edit_in;	/* what was sent for it */
	struct form *triage;		/* the triage form's errors (NULL: none) */
	const struct tri_settings *triage_in;	/* what was sent for it */
	const char *triage_days;	/* follow_up_days as sent */
};

static json_t *tri_settings_context(struct http_ctx *c, const struct category *l, long n,
    const struct tri_cat_view *v);

static json_t *
tri_category_row(struct http_ctx *c, const struct category *k, long i, long n,
    const struct tri_cat_view *v)
{
	const char *base = arena_printf(c->arena, "/settings/categories/%" PRId64, k->id);
	int failed = v != NULL && v->edit_id == k->id;
	const struct category_input *in = failed ? v->edit_in : NULL;
	const char *name = in != NULL && in->name != NULL ? in->name : k->name;
	const char *colour = in != NULL && in->colour != NULL ? in->colour : k->colour;
	const char *desc = in != NULL && in->description != NULL ? in->description :
	    k->description;
	json_t *row = json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:b, s:b, s:b, s:b, s:s, s:s, "
	    "s:s, s:o, s:b}", "id", (json_int_t)k->id, "slug", k->slug, "name", k->name,
	    "colour", k->colour, "swatch", tri_swatch(k->colour), "description", k->description,
	    "hidden", in != NULL ? in->hidden > 0 : k->hidden, "builtin", k->builtin,
	    "first", i == 0, "last", i == n - 1, "save_url", base,
	    "move_url", arena_printf(c->arena, "%s/move", base),
	    "delete_url", arena_printf(c->arena, "%s/delete", base),
	    "colours", tri_colour_options(colour), "open", failed);

	json_object_set_new(row, "name_value", json_string(name));
	json_object_set_new(row, "description_value", json_string(desc));
	if (failed)
		json_object_set(row, "errors", v->edit->errors);
	return row;
}

static int
tri_categories_render(struct http_ctx *c, const struct tri_cat_view *v)
{
	static const struct tri_notice notices[] = {
		{ "added", "The category ", " has been added." },
		{ "saved", "The category ", " has been saved." },
		{ "deleted", NULL, "The category has been deleted: its messages will be sorted "
		    "again." },		{ "triage", NULL, "The triage settings have been saved." },
	};
	const char *colour = form_value(c, "colour");
	struct category *l;
	json_t *rows, *ctx, *triage;
	int64_t *ids;
	const char **names;
	long n;

	if ((l = tri_categories(c, 0, &n)) == NULL)
		return c->res->status;
	rows = json_array();
	ids = arena_calloc(c->arena, (size_t)n + 1, sizeof *ids);
	names = arena_calloc(c->arena, (size_t)n + 1, sizeof *names);
	for (long i = 0; i < n; i++) {
		json_array_append_new(rows, tri_category_row(c, &l[i], i, n, v));
		ids[i] = l[i].id;
		names[i] = arena_strdup(c->arena, l[i].name);
	}
	triage = tri_settings_context(c, l, n, v);
	categories_free(l, (size_t)n);
	if (triage == NULL) {
		json_decref(rows);
		return c->res->status;
	}
	ctx = json_pack("{s:o, s:s?, s:s?, s:o, s:s, s:O}", "categories", rows,
	    "notice", tri_notice(c, notices, MR_ARRAY_LEN(notices), ids, names, (size_t)n),
	    "form_error", v->form_error, "add_colours",
	    tri_colour_options(*colour != '\0' ? colour : "slate"),
	    "add_description", form_value(c, "description"), "add_errors", v->add->errors);
	json_object_set_new(ctx, "triage", triage);
	json_object_set_new(ctx, "can_add", json_boolean(n < CATEGORIES_MAX));
	json_object_set_new(ctx, "add_form", form_context(v->add));
	return page_render(c, v->status, "pages/categories.html", "Categories", "settings",
	    NULL, ctx);
}

static void
tri_category_form_init(struct http_ctx *c, struct form *f)
{
	form_init(f, c, "category");
	form_field(f, "name", "Name", "text", form_value(c, "name"), "off", 1,
	    "At most 60 characters, different from your other categories' names.");
}

int
page_triage_categories(struct http_ctx *c)
{
	struct form f;
	struct tri_cat_view v = { 200, &f, NULL, 0, NULL, NULL, NULL, NULL, NULL };

	tri_category_form_init(c, &f);
	return tri_categories_render(c, &v);
}

/* The audit row of a change of a category ("category.create", ...); slug NULL when
 * not at hand. */
static void
tri_category_audit(struct http_ctx *c, const char *event, int64_t id, const char *slug,
    const char *name)
{
	const struct auth_user *u = auth_user(c);

	audit_record(c, u->id, u->id, event, json_pack("{s:I, s:s?, s:s}", "id",
	    (json_int_t)id, "slug", slug, "name", name));
}

/* The sentence of a refused change for the page and the API, with the field it concerns
 * recorded in f; NULL for CATEGORIES_OK. */
static const char *
tri_category_refusal(enum categories_status st, struct form *f)
{
	switch (st) {
	case CATEGORIES_NAME_TAKEN:
		form_error(f, "name", "You have a category of that name already.");
		return "The category was not saved: see the fields below.";
	case CATEGORIES_LIMIT:
		return "You have 50 categories already: delete one you no longer use first.";
	case CATEGORIES_BUILTIN:
		return "A built-in category cannot be deleted: hide it instead.";
	case CATEGORIES_BAD_ORDER:
		form_error(f, "ids", "List each of your categories' ids once.");
		return "The order was not saved.";
	case CATEGORIES_NOT_FOUND:
		return "There is no such category.";
	default:
		return NULL;
	}
}

int
page_triage_category_add(struct http_ctx *c)
{
	struct category_input in = { form_value(c, "name"), form_value(c, "colour"),
	    form_value(c, "description"), 0 };
	struct tri_cat_view v = { 400, NULL, NULL, 0, NULL, NULL, NULL, NULL, NULL };
	enum categories_status st;
	struct form f;
	PGconn *pg;
	char err[512];
	int64_t id;

	tri_category_form_init(c, &f);
	v.add = &f;
	if (*in.colour == '\0')
		in.colour = NULL;
	if (categories_check(&in, 1, tri_bad, &f) > 0) {
		v.form_error = "The category was not added: see the fields below.";
		return tri_categories_render(c, &v);
	}
	if ((pg = tri_pg(c)) == NULL)
		return c->res->status;
	st = categories_create(pg, auth_user(c)->id, &in, &id, err, sizeof err);
	if (st == CATEGORIES_FAILED)
		return tri_db_fail(c, err);
	if (st != CATEGORIES_OK) {
		v.status = st == CATEGORIES_LIMIT ? 409 : 400;
		v.form_error = tri_category_refusal(st, &f);
		return tri_categories_render(c, &v);
	}
	tri_category_audit(c, "category.create", id, NULL, in.name);
	form_free(&f);
	return page_redirect(c, arena_printf(c->arena, "/settings/categories?added=%" PRId64
	    "#category-%" PRId64, id, id));
}

int
page_triage_category_save(struct http_ctx *c)
{
	int64_t id = http_param_int(c->req, "id");
	struct category_input in = { form_value(c, "name"), form_value(c, "colour"),
	    form_value(c, "description"), kvlist_get(&c->req->form, "hidden") != NULL };
	struct tri_cat_view v = { 400, NULL, NULL, id, NULL, &in, NULL, NULL, NULL };
	struct category *k;
	enum categories_status st;
	struct form f, add;
	PGconn *pg;
	char err[512];

	if (tri_category_find(c, id, &k) != 1)
		return c->res->status;
	form_init(&f, c, arena_printf(c->arena, "category-%" PRId64, id));
	v.edit = &f;
	/* The add form starts empty: its fields are not what was sent. */
	form_init(&add, c, "category");
	form_field(&add, "name", "Name", "text", "", "off", 1,
	    "At most 60 characters, different from your other categories' names.");
	v.add = &add;
	if (categories_check(&in, 0, tri_bad, &f) > 0) {
		v.form_error = "The category was not saved: see its fields below.";
		goto refused;
	}
	if ((pg = tri_pg(c)) == NULL)
		goto done;
	st = categories_update(pg, auth_user(c)->id, id, &in, err, sizeof err);
	if (st == CATEGORIES_FAILED) {
		tri_db_fail(c, err);
		goto done;
	}
	if (st == CATEGORIES_NOT_FOUND) {
		http_fail(c->res, 404, "not_found", "There is no such category.", NULL);
		goto done;
	}
	if (st != CATEGORIES_OK) {
		v.form_error = tri_category_refusal(st, &f);
		goto refused;
	}
	tri_category_audit(c, "category.update", id, k->slug, in.name);
	categories_free(k, 1);
	return page_redirect(c, arena_printf(c->arena, "/settings/categories?saved=%" PRId64
	    "#category-%" PRId64, id, id));
refused:
	categories_free(k, 1);
	/* The add form's fields must not show what was sent for this one. */
	c->req->form.len = 0;
	return tri_categories_render(c, &v);
done:
	categories_free(k, 1);
	return c->res->status;
}

/* Moves category or rule id one place up or down (form value direction) within ids
 * [0..n): the new order in *out (arena), or -1 with a 400 made. */
static int
tri_move_order(struct http_ctx *c, const int64_t *ids, size_t n, int64_t id, int64_t **out)
{
	const char *dir = form_value(c, "direction");
	int delta = strcmp(dir, "up") == 0 ? -1 : strcmp(dir, "down") == 0 ? 1 : 0;
	int64_t *order = arena_calloc(c->arena, n + 1, sizeof *order);
	size_t i;

	if (delta == 0)
		return http_fail(c->res, 400, "bad_request", "Move up or down.", NULL), -1;
	memcpy(order, ids, n * sizeof *order);
	for (i = 0; i < n && order[i] != id; i++)
		;
	if (i < n && (delta < 0 ? i > 0 : i + 1 < n)) {
		int64_t t = order[i];

		order[i] = order[(size_t)((long)i + delta)];
		order[(size_t)((long)i + delta)] = t;
	}
	*out = order;
	return 0;
}

int
page_triage_category_move(struct http_ctx *c)
{
	int64_t id = http_param_int(c->req, "id"), *ids, *order;
	enum categories_status st;
	struct category *l;
	PGconn *pg;
	char err[512];
	long n, i;

	if ((l = tri_categories(c, 0, &n)) == NULL)
		return c->res->status;
	ids = arena_calloc(c->arena, (size_t)n + 1, sizeof *ids);
	for (i = 0; i < n; i++)
		ids[i] = l[i].id;
	categories_free(l, (size_t)n);
	for (i = 0; i < n && ids[i] != id; i++)
		;
	if (i == n)
		return http_fail(c->res, 404, "not_found", "There is no such category.", NULL);
	if (tri_move_order(c, ids, (size_t)n, id, &order) < 0)
		return c->res->status;
	if ((pg = tri_pg(c)) == NULL)
		return c->res->status;
	st = categories_reorder(pg, auth_user(c)->id, order, (size_t)n, err, sizeof err);
	if (st == CATEGORIES_FAILED)
		return tri_db_fail(c, err);
	/* A category added or deleted meanwhile: the page shows the order as it is. */
	return page_redirect(c, arena_printf(c->arena, "/settings/categories#category-%" PRId64,
	    id));
}

int
page_triage_category_delete_confirm(struct http_ctx *c)
{
	struct category *k;
	PGconn *pg;
	long messages, rules;
	char err[512];
	json_t *ctx;

	if (tri_category_find(c, http_param_int(c->req, "id"), &k) != 1)
		return c->res->status;
	if (k->builtin) {
		categories_free(k, 1);
		return http_fail(c->res, 409, "builtin_category",
		    "A built-in category cannot be deleted: hide it instead.", NULL);
	}
	if ((pg = tri_pg(c)) == NULL || categories_usage(pg, auth_user(c)->id, k->slug,
	    &messages, &rules, err, sizeof err) < 0) {
		categories_free(k, 1);
		return pg == NULL ? c->res->status : tri_db_fail(c, err);
	}
	ctx = json_pack("{s:{s:o, s:I, s:I, s:s}}", "confirm", "category",
	    tri_category_row(c, k, 0, 1, NULL), "messages", (json_int_t)messages,
	    "rules", (json_int_t)rules, "delete_url",
	    arena_printf(c->arena, "/settings/categories/%" PRId64 "/delete", k->id));
	categories_free(k, 1);
	return page_render(c, 200, "pages/categories.html", "Delete a category", "settings",
	    NULL, ctx);
}

/* Deletes the category of the address, with its audit row, for the page and the API.
 * Returns 0, or the status of the answer already made. */
static int
tri_category_delete(struct http_ctx *c)
{
	struct category *k;
	enum categories_status st;
	PGconn *pg;
	char err[512];

	if (tri_category_find(c, http_param_int(c->req, "id"), &k) != 1)
		return c->res->status;
	if ((pg = tri_pg(c)) == NULL) {
		categories_free(k, 1);
		return c->res->status;
	}
	st = categories_delete(pg, auth_user(c)->id, k->id, err, sizeof err);
	if (st == CATEGORIES_OK)
		tri_category_audit(c, "category.delete", k->id, k->slug, k->name);
	categories_free(k, 1);
	switch (st) {
	case CATEGORIES_OK:
		return 0;
	case CATEGORIES_FAILED:
		return tri_db_fail(c, err);
	case CATEGORIES_BUILTIN:
		return http_fail(c->res, 409, "builtin_category",
		    "A built-in category cannot be deleted: hide it instead.", NULL);
	default:
		return http_fail(c->res, 404, "not_found", "There is no such category.", NULL);
	}
}

int
page_triage_category_delete(struct http_ctx *c)
{
	int rc = tri_category_delete(c);

	return rc != 0 ? rc : page_redirect(c, "/settings/categories?deleted=1");
}

/* ---- Categories: the JSON API */

/* The members of a category's body into in (creating: name required); errors in f. */
static void
tri_category_json_input(struct http_ctx *c, struct form *f, struct category_input *in,
    int creating)
{
	static const char *const members[] = { "name", "colour", "description", "hidden" };
	json_t *body = c->req->json, *v;
	const char *key;

	in->name = in->colour = in->description = NULL;
	in->hidden = creating ? 0 : -1;
	json_object_foreach(body, key, v) {
		size_t i;

		for (i = 0; i < MR_ARRAY_LEN(members) && strcmp(members[i], key) != 0; i++)
			;
		if (i == MR_ARRAY_LEN(members)) {
			form_error(f, arena_strdup(c->arena, key), "Unknown member: the members are "
			    "name, colour, description and hidden.");
		} else if (i == 3) {
			if (!json_is_boolean(v))
				form_error(f, key, "true or false.");
			else
				in->hidden = json_is_true(v);
		} else if (!json_is_string(v) || strlen(json_string_value(v)) !=
		    json_string_length(v)) {
			form_error(f, key, "A string.");
		} else {
			/* White space around a name or a description is not part of it. */
			const char *s = json_string_value(v);
			size_t n;

			while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
				s++;
			n = strlen(s);
			while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' ||
			    s[n - 1] == '\n'))
				n--;
			s = arena_strndup(c->arena, s, n);
			if (i == 0)
				in->name = s;
			else if (i == 1)
				in->colour = s;
			else
				in->description = s;
		}
	}
	categories_check(in, creating, tri_bad, f);
}

/* Answers with category id (status 200 or 201). */
static int
tri_api_category(struct http_ctx *c, int64_t id, int status)
{
	struct category *k;

	if (tri_category_find(c, id, &k) != 1)
		return c->res->status;
	if (status == 201)
		http_response_header(c->res, "Location", arena_printf(c->arena,
		    "/api/v1/categories/%" PRId64, id));
	http_response_json(c->res, status, tri_category_json(k));
	categories_free(k, 1);
	return status;
}

/* The answer to a refused or failed change of the API. */
static int
tri_api_category_refused(struct http_ctx *c, enum categories_status st, struct form *f,
    const char *err)
{
	const char *why = tri_category_refusal(st, f);

	switch (st) {
	case CATEGORIES_FAILED:
		form_free(f);
		return tri_db_fail(c, err);
	case CATEGORIES_NAME_TAKEN:
	case CATEGORIES_BAD_ORDER:
		return http_fail(c->res, 400, "invalid_input", why, form_details(f));
	case CATEGORIES_LIMIT:
		form_free(f);
		return http_fail(c->res, 409, "too_many_categories", why, NULL);
	default:
		form_free(f);
		return http_fail(c->res, 404, "not_found", why, NULL);
	}
}

static json_t *
tri_api_categories_json(struct http_ctx *c)
{
	struct category *l;
	json_t *list;
	long n;

	if ((l = tri_categories(c, 0, &n)) == NULL)
		return NULL;
	list = json_array();
	for (long i = 0; i < n; i++)
		json_array_append_new(list, tri_category_json(&l[i]));
	categories_free(l, (size_t)n);
	return json_pack("{s:o}", "categories", list);
}

int
api_categories_list(struct http_ctx *c)
{
	json_t *j = tri_api_categories_json(c);

	if (j == NULL)
		return c->res->status;
	http_response_json(c->res, 200, j);
	return 200;
}

int
api_categories_create(struct http_ctx *c)
{
	struct category_input in;
	enum categories_status st;
	struct form f;
	PGconn *pg;
	char err[512];
	int64_t id;

	if (tri_api_body(c) != 0)
		return c->res->status;
	form_init(&f, c, "category");
	tri_category_json_input(c, &f, &in, 1);
	if (f.nerrors > 0)
		return tri_api_invalid(c, &f);
	if ((pg = tri_pg(c)) == NULL) {
		form_free(&f);
		return c->res->status;
	}
	st = categories_create(pg, auth_user(c)->id, &in, &id, err, sizeof err);
	if (st != CATEGORIES_OK)
		return tri_api_category_refused(c, st, &f, err);
	form_free(&f);
	tri_category_audit(c, "category.create", id, NULL, in.name);
	return tri_api_category(c, id, 201);
}

int
api_categories_update(struct http_ctx *c)
{
	int64_t id = http_param_int(c->req, "id");
	struct category_input in;
	enum categories_status st;
	struct category *k;
	struct form f;
	PGconn *pg;
	char err[512];

	if (tri_api_body(c) != 0 || tri_category_find(c, id, &k) != 1)
		return c->res->status;
	form_init(&f, c, "category");
	tri_category_json_input(c, &f, &in, 0);
	if (f.nerrors > 0) {
		categories_free(k, 1);
		return tri_api_invalid(c, &f);
	}
	if ((pg = tri_pg(c)) == NULL) {
		categories_free(k, 1);
		form_free(&f);
		return c->res->status;
	}
	st = categories_update(pg, auth_user(c)->id, id, &in, err, sizeof err);
	if (st == CATEGORIES_OK)
		tri_category_audit(c, "category.update", id, k->slug,
		    in.name != NULL ? in.name : k->name);
	categories_free(k, 1);
	if (st != CATEGORIES_OK)
		return tri_api_category_refused(c, st, &f, err);
	form_free(&f);
	return tri_api_category(c, id, 200);
}

int
api_categories_delete(struct http_ctx *c)
{
	int rc = tri_category_delete(c);

	return rc != 0 ? rc : 204;
}

int
api_categories_order(struct http_ctx *c)
{
	const struct auth_user *u = auth_user(c);
	json_t *ids, *v, *j;
	enum categories_status st;
	int64_t *order;
	struct form f;
	size_t i, n;
	PGconn *pg;
	char err[512];

	if (tri_api_body(c) != 0)
		return c->res->status;
	form_init(&f, c, "order");
	ids = json_object_get(c->req->json, "ids");
	if (!json_is_array(ids) || json_array_size(ids) > CATEGORIES_MAX ||
	    json_object_size(c->req->json) != 1) {
		form_error(&f, "ids", "Send {\"ids\": [...]}: each of your categories' ids once, "
		    "in the order you want.");
		return tri_api_invalid(c, &f);
	}
	n = json_array_size(ids);
	order = arena_calloc(c->arena, n + 1, sizeof *order);
	json_array_foreach(ids, i, v) {
		if (!json_is_integer(v) || json_integer_value(v) < 1) {
			form_error(&f, "ids", "The ids are integers.");
			return tri_api_invalid(c, &f);
		}
		order[i] = json_integer_value(v);
	}
	if ((pg = tri_pg(c)) == NULL) {
		form_free(&f);
		return c->res->status;
	}
	st = categories_reorder(pg, u->id, order, n, err, sizeof err);
	if (st != CATEGORIES_OK)
		return tri_api_category_refused(c, st, &f, err);
	form_free(&f);
	audit_record(c, u->id, u->id, "category.reorder", json_pack("{s:O}", "ids", ids));
	if ((j = tri_api_categories_json(c)) == NULL)
		return c->res->status;
	http_response_json(c->res, 200, j);
	return 200;
}

/* ---- Rules */

/* The user's rules (id 0) or one of them; NULL with c->res failed. */
static struct rule_set *
tri_rules(struct http_ctx *c, int64_t id)
{
	struct rule_set *set;
	PGconn *pg = tri_pg(c);
	char err[512];

	if (pg == NULL)
		return NULL;
	if (rules_list(pg, auth_user(c)->id, id, &set, err, sizeof err) < 0) {
		tri_db_fail(c, err);
		return NULL;
	}
	return set;
}

/* One of the user's rules: 1 with *out set, 0 with a 404 made, -1 (c->res failed). */
static int
tri_rule_find(struct http_ctx *c, int64_t id, struct rule_set **out)
{
	if ((*out = tri_rules(c, id)) == NULL)
		return -1;
	if ((*out)->n == 1)
		return 1;
	rules_set_free(*out);
	*out = NULL;
	http_fail(c->res, 404, "not_found", "There is no such rule.", NULL);
	return 0;
}

static void
tri_rule_audit(struct http_ctx *c, const char *event, int64_t id, const char *name)
{
	const struct auth_user *u = auth_user(c);

	audit_record(c, u->id, u->id, event, json_pack("{s:I, s:s}", "id", (json_int_t)id,
	    "name", name != NULL ? name : ""));
}

/* A refusal of the store for the page and the API, recorded in f. */
static const char *
tri_rule_refusal(enum rules_status st, struct form *f)
{
	switch (st) {
	case RULES_NO_CATEGORY:
		form_error(f, "category", "You have no such category: choose one of yours.");
		return "The rule was not saved: see the fields below.";
	case RULES_LIMIT:
		return "You have 50 rules already: delete one you no longer use first.";
	case RULES_NOT_FOUND:
		return "There is no such rule.";
	default:
		return NULL;
	}
}

/* One row of the condition builder, as sent or as stored. */
struct tri_row {
	const char *field;	/* "from", ..., "header" */
	const char *header;
	const char *op;
	int negate;
	const char *value;
};

/* The rule editor's state. */
struct tri_editor {
	int64_t id;		/* 0: a new rule */
	const char *name;
	int enabled;
	int match_any;
	const char *category;	/* "" for none */
	struct tri_row *rows;
	size_t nrows;
	int archive, mark_read, star;
	const char *folder;	/* the move action's folder, "" for none */
};

static const char *
tri_form_flag(struct http_ctx *c, const char *name)
{
	return kvlist_get(&c->req->form, name);
}

/* The editor as the form sent it. Returns 0, or -1 with a 400 made when its condition
 * rows do not line up. */
static int
tri_editor_from_form(struct http_ctx *c, struct tri_editor *ed)
{
	static const char *const cols[] = { "cond_field", "cond_header", "cond_op", "cond_not",
		"cond_value" };
	size_t counts[MR_ARRAY_LEN(cols)] = { 0 };
	const struct kvlist *form = &c->req->form;

	memset(ed, 0, sizeof *ed);
	ed->name = form_value(c, "name");
	ed->enabled = tri_form_flag(c, "enabled") != NULL;
	ed->match_any = strcmp(form_value(c, "match"), "any") == 0;
	ed->category = form_value(c, "category");
	ed->archive = tri_form_flag(c, "action_archive") != NULL;
	ed->mark_read = tri_form_flag(c, "action_mark_read") != NULL;
	ed->star = tri_form_flag(c, "action_star") != NULL;
	ed->folder = form_value(c, "move_folder");
	ed->nrows = kvlist_count(form, "cond_field");
	ed->rows = arena_calloc(c->arena, ed->nrows + 1, sizeof *ed->rows);
	for (size_t i = 0; i < form->len; i++) {
		const struct kv *kv = &form->items[i];

		for (size_t k = 0; k < MR_ARRAY_LEN(cols); k++) {
			struct tri_row *row;
			const char *v;

			if (strcmp(kv->name, cols[k]) != 0)
				continue;
			if (counts[k] >= ed->nrows)
				return http_fail(c->res, 400, "bad_request",
				    "The conditions of the form do not line up.", NULL), -1;
			row = &ed->rows[counts[k]++];
			v = kv->value;
			switch (k) {
			case 0: row->field = v; break;
			case 1: row->header = v; break;
			case 2: row->op = v; break;
			case 3: row->negate = strcmp(v, "not") == 0; break;
			default: row->value = v; break;
			}
		}
	}
	for (size_t k = 0; k < MR_ARRAY_LEN(cols); k++) {
		if (counts[k] != ed->nrows)
			return http_fail(c->res, 400, "bad_request",
			    "The conditions of the form do not line up.", NULL), -1;
	}
	return 0;
}

static void
tri_editor_from_rule(struct http_ctx *c, const struct rule *r, struct tri_editor *ed)
{
	memset(ed, 0, sizeof *ed);
	ed->id = r->id;
	ed->name = arena_strdup(c->arena, r->name);
	ed->enabled = r->enabled;
	ed->match_any = r->match_any;
	ed->category = arena_strdup(c->arena, r->category != NULL ? r->category : "");
	ed->folder = "";
	ed->nrows = r->nconditions;
	ed->rows = arena_calloc(c->arena, ed->nrows + 1, sizeof *ed->rows);
	for (size_t i = 0; i < r->nconditions; i++) {
		const struct rule_condition *k = &r->conditions[i];

		ed->rows[i].field = rules_field_name(k->field);
		ed->rows[i].header = arena_strdup(c->arena, k->header != NULL ? k->header : "");
		ed->rows[i].op = rules_op_name(k->op);
		ed->rows[i].negate = k->negate;
		ed->rows[i].value = arena_strdup(c->arena, k->value != NULL ? k->value : "");
	}
	for (size_t i = 0; i < r->nactions; i++) {
		switch (r->actions[i].type) {
		case RULE_ACTION_ARCHIVE: ed->archive = 1; break;
		case RULE_ACTION_MARK_READ: ed->mark_read = 1; break;
		case RULE_ACTION_STAR: ed->star = 1; break;
		case RULE_ACTION_MOVE:
			ed->folder = arena_strdup(c->arena, r->actions[i].folder);
			break;
		}
	}
}

/* The editor as the rule's JSON, for rules_parse. */
static json_t *
tri_editor_json(struct http_ctx *c, const struct tri_editor *ed)
{
	json_t *conds = json_array(), *acts = json_array();

	for (size_t i = 0; i < ed->nrows; i++) {
		const struct tri_row *row = &ed->rows[i];
		const char *field = row->field != NULL ? row->field : "";

		if (strcmp(field, "header") == 0)
			field = arena_printf(c->arena, "header:%s", row->header != NULL ?
			    row->header : "");
		json_array_append_new(conds, json_pack("{s:s%, s:s%, s:s%, s:b}",
		    "field", field, strlen(field), "op", row->op, strlen(row->op),
		    "value", row->value, strlen(row->value), "negate", row->negate));
	}
	if (ed->archive)
		json_array_append_new(acts, json_pack("{s:s}", "type", "archive"));
	if (ed->mark_read)
		json_array_append_new(acts, json_pack("{s:s}", "type", "mark_read"));
	if (ed->star)
		json_array_append_new(acts, json_pack("{s:s}", "type", "star"));
	if (*ed->folder != '\0')
		json_array_append_new(acts, json_pack("{s:s, s:s%}", "type", "move", "folder",
		    ed->folder, strlen(ed->folder)));
	return json_pack("{s:s%, s:b, s:s, s:o, s:s?, s:o}", "name", ed->name, strlen(ed->name),
	    "enabled", ed->enabled, "match", ed->match_any ? "any" : "all",
	    "conditions", conds, "category", *ed->category != '\0' ? ed->category : NULL,
	    "actions", acts);
}

/* Options of a select: values[i] with labels[i], the one equal to selected marked. */
static json_t *
tri_options(const char *const *values, const char *const *labels, size_t n,
    const char *selected)
{
	json_t *l = json_array();

	for (size_t i = 0; i < n; i++)
		json_array_append_new(l, json_pack("{s:s, s:s, s:b}", "value", values[i],
		    "label", labels[i], "selected", selected != NULL &&
		    strcmp(selected, values[i]) == 0));
	return l;
}

/* The first error recorded for a member of condition i, or NULL. */
static const char *
tri_row_error(struct http_ctx *c, json_t *errors, size_t i)
{
	static const char *const members[] = { "field", "op", "negate", "value" };

	for (size_t k = 0; k < MR_ARRAY_LEN(members); k++) {
		const char *e = json_string_value(json_object_get(errors,
		    arena_printf(c->arena, "conditions[%zu].%s", i, members[k])));

		if (e != NULL)
			return e;
	}
	return NULL;
}

/* The first error whose member starts with prefix, or NULL. */
static const char *
tri_prefix_error(json_t *errors, const char *prefix)
{
	const char *key;
	json_t *v;

	json_object_foreach(errors, key, v) {
		if (strncmp(key, prefix, strlen(prefix)) == 0 && (key[strlen(prefix)] == '\0' ||
		    key[strlen(prefix)] == '['))
			return json_string_value(v);
	}
	return NULL;
}

/* The editor's context: the rule's fields, its rows with their errors, and the
 * choices. errors may be NULL. */
static json_t *
tri_editor_context(struct http_ctx *c, const struct tri_editor *ed, json_t *errors,
    const struct category *cats, long ncats)
{
	static const char *const fields[] = { "from", "domain", "to", "cc", "recipients",
		"subject", "body", "header" };
	static const char *const field_labels[] = { "From (address or name)", "Sender's domain",
		"To", "Cc", "To or Cc", "Subject", "Body", "Header (name it)" };
	static const char *const ops[] = { "contains", "is", "starts", "ends", "matches" };
	static const char *const op_labels[] = { "contain", "equal", "start with", "end with",
		"match the regular expression" };
	static const char *const nots[] = { "", "not" };
	static const char *const not_labels[] = { "does", "does not" };
	json_t *rows = json_array(), *cat_opts = json_array(), *j;
	const char *action = ed->id > 0 ? arena_printf(c->arena, "/settings/rules/%" PRId64,
	    ed->id) : "/settings/rules";

	for (size_t i = 0; i < ed->nrows; i++) {
		const struct tri_row *row = &ed->rows[i];
		const char *e = errors != NULL ? tri_row_error(c, errors, i) : NULL;

		json_array_append_new(rows, json_pack("{s:i, s:o, s:s, s:o, s:o, s:s, s:s?, s:s, "
		    "s:s, s:s}", "number", (int)i + 1,
		    "fields", tri_options(fields, field_labels, MR_ARRAY_LEN(fields), row->field),
		    "header", row->header != NULL ? row->header : "",
		    "ops", tri_options(ops, op_labels, MR_ARRAY_LEN(ops), row->op),
		    "nots", tri_options(nots, not_labels, 2, row->negate ? "not" : ""),
		    "value", row->value != NULL ? row->value : "", "error", e,
		    "remove", arena_printf(c->arena, "remove:%zu", i),
		    "id", arena_printf(c->arena, "cond-%zu", i + 1),
		    "error_id", arena_printf(c->arena, "cond-%zu-error", i + 1)));
	}
	json_array_append_new(cat_opts, json_pack("{s:s, s:s, s:b}", "value", "", "label",
	    "No category (actions only)", "selected", *ed->category == '\0'));
	for (long i = 0; i < ncats; i++)
		json_array_append_new(cat_opts, json_pack("{s:s, s:s, s:b}", "value", cats[i].slug,
		    "label", cats[i].hidden ? arena_printf(c->arena, "%s (hidden)", cats[i].name) :
		    cats[i].name, "selected", strcmp(cats[i].slug, ed->category) == 0));
	j = json_pack("{s:s, s:b, s:s, s:b, s:b, s:o, s:o, s:b, s:b, s:b, s:s, s:b, s:b}",
	    "action", action, "is_new", ed->id == 0, "name", ed->name, "enabled", ed->enabled,
	    "match_any", ed->match_any, "rows", rows, "categories", cat_opts,
	    "archive", ed->archive, "mark_read", ed->mark_read, "star", ed->star,
	    "folder", ed->folder, "can_add", ed->nrows < RULES_CONDITIONS_MAX,
	    "can_remove", ed->nrows > 1);
	if (j == NULL) {
		/* Text that is not UTF-8 came with the form: show the form without it. */
		j = json_pack("{s:s, s:b, s:s, s:o, s:o, s:b, s:b}", "action", action, "is_new",
		    ed->id == 0, "name", "", "rows", json_array(), "categories", json_array(),
		    "can_add", 1, "enabled", 1);
	}
	if (errors != NULL) {
		json_object_set_new(j, "name_error", json_string(json_string_value(
		    json_object_get(errors, "name"))));
		json_object_set_new(j, "match_error", json_string(json_string_value(
		    json_object_get(errors, "match"))));
		json_object_set_new(j, "category_error", json_string(json_string_value(
		    json_object_get(errors, "category"))));
		json_object_set_new(j, "actions_error", json_string(tri_prefix_error(errors,
		    "actions")));
		json_object_set_new(j, "conditions_error", json_string(json_string_value(
		    json_object_get(errors, "conditions"))));
	}
	return j;
}

static int
tri_editor_render(struct http_ctx *c, int status, const struct tri_editor *ed,
    struct form *f, const char *form_error)
{
	struct category *cats;
	json_t *ctx;
	long n;

	if ((cats = tri_categories(c, 0, &n)) == NULL) {
		if (f != NULL)
			form_free(f);
		return c->res->status;
	}
	ctx = json_pack("{s:o, s:s?}", "editor", tri_editor_context(c, ed, f != NULL ?
	    f->errors : NULL, cats, n), "form_error", form_error);
	categories_free(cats, (size_t)n);
	if (f != NULL)
		form_free(f);
	/* htmx swaps only successful answers: its requests get the form with the errors
	 * as 200. */
	if (c->req->hx_request)
		status = 200;
	return page_render(c, status, "pages/rules.html", ed->id > 0 ? "Edit a rule" :
	    "New rule", "settings", "rule-editor", ctx);
}

/* The sentence of the list of conditions and of the actions, for the rules list. */
static json_t *
tri_rule_row(struct http_ctx *c, const struct rule *r, size_t i, size_t n,
    const struct category *cats, long ncats)
{
	const char *base = arena_printf(c->arena, "/settings/rules/%" PRId64, r->id);
	json_t *conds = json_array(), *acts = json_array(), *row;
	const char *cat_name = NULL, *swatch = NULL;

	for (size_t k = 0; k < r->nconditions; k++) {
		char *t = rules_condition_text(&r->conditions[k]);

		json_array_append_new(conds, json_string(t));
		free(t);
	}
	for (size_t k = 0; k < r->nactions; k++) {
		static const char *const words[] = { "archive", "mark as read", "star", "move to " };
		const struct rule_action *a = &r->actions[k];

		json_array_append_new(acts, json_string(arena_printf(c->arena, "%s%s",
		    words[a->type], a->folder != NULL ? a->folder : "")));
	}
	for (long k = 0; r->category != NULL && k < ncats; k++) {
		if (strcmp(cats[k].slug, r->category) == 0) {
			cat_name = cats[k].name;
			swatch = tri_swatch(cats[k].colour);
		}
	}
	row = json_pack("{s:I, s:s, s:b, s:b, s:o, s:o, s:s?, s:s?, s:s?, s:s, s:s, s:s, s:s, "
	    "s:b, s:b, s:s?}", "id", (json_int_t)r->id, "name", r->name, "enabled", r->enabled,
	    "match_any", r->match_any, "conditions", conds, "actions", acts,
	    "category", r->category, "category_name", cat_name, "swatch", swatch,
	    "edit_url", base, "enabled_url", arena_printf(c->arena, "%s/enabled", base),
	    "move_url", arena_printf(c->arena, "%s/move", base),
	    "delete_url", arena_printf(c->arena, "%s/delete", base),
	    "first", i == 0, "last", i + 1 == n, "error", r->error);
	return row != NULL ? row : json_pack("{s:I, s:s}", "id", (json_int_t)r->id, "name", "?");
}

int
page_triage_rules(struct http_ctx *c)
{
	static const struct tri_notice notices[] = {
		{ "added", "The rule ", " has been added." },
		{ "saved", "The rule ", " has been saved." },
		{ "deleted", NULL, "The rule has been deleted." },
	};
	struct rule_set *set;
	struct category *cats;
	json_t *rows, *ctx;
	int64_t *ids;
	const char **names;
	long ncats;

	if ((set = tri_rules(c, 0)) == NULL)
		return c->res->status;
	if ((cats = tri_categories(c, 0, &ncats)) == NULL) {
		rules_set_free(set);
		return c->res->status;
	}
	rows = json_array();
	ids = arena_calloc(c->arena, set->n + 1, sizeof *ids);
	names = arena_calloc(c->arena, set->n + 1, sizeof *names);
	for (size_t i = 0; i < set->n; i++) {
		json_array_append_new(rows, tri_rule_row(c, &set->rules[i], i, set->n, cats, ncats));
		ids[i] = set->rules[i].id;
		names[i] = arena_strdup(c->arena, set->rules[i].name);
	}
	ctx = json_pack("{s:o, s:s?, s:b}", "rules", rows, "notice", tri_notice(c, notices,
	    MR_ARRAY_LEN(notices), ids, names, set->n), "can_add", set->n < RULES_MAX);
	categories_free(cats, (size_t)ncats);
	rules_set_free(set);
	return page_render(c, 200, "pages/rules.html", "Rules", "settings", NULL, ctx);
}

int
page_triage_rule_new(struct http_ctx *c)
{
	struct tri_row empty = { "from", "", "contains", 0, "" };
	struct tri_editor ed = { 0, "", 1, 0, "", &empty, 1, 0, 0, 0, "" };

	return tri_editor_render(c, 200, &ed, NULL, NULL);
}

int
page_triage_rule_edit(struct http_ctx *c)
{
	struct rule_set *set;
	struct tri_editor ed;
	int rc;

	if (tri_rule_find(c, http_param_int(c->req, "id"), &set) != 1)
		return c->res->status;
	tri_editor_from_rule(c, &set->rules[0], &ed);
	rules_set_free(set);
	rc = tri_editor_render(c, 200, &ed, NULL, NULL);
	return rc;
}

/* The editor's "add a condition" and "remove" buttons: 1 when the form was changed and
 * is to be shown again, 0 for a save. */
static int
tri_editor_button(struct http_ctx *c, struct tri_editor *ed)
{
	const char *action = form_value(c, "do");
	int64_t k;

	if (strcmp(action, "add") == 0) {
		struct tri_row *rows;

		if (ed->nrows >= RULES_CONDITIONS_MAX)
			return 1;
		rows = arena_calloc(c->arena, ed->nrows + 2, sizeof *rows);
		memcpy(rows, ed->rows, ed->nrows * sizeof *rows);
		rows[ed->nrows] = (struct tri_row){ "subject", "", "contains", 0, "" };
		ed->rows = rows;
		ed->nrows++;
		return 1;
	}
	if (strncmp(action, "remove:", 7) == 0) {
		if (util_parse_int64(action + 7, 0, (int64_t)ed->nrows - 1, &k) == 0 &&
		    ed->nrows > 1) {
			memmove(&ed->rows[k], &ed->rows[k + 1], (ed->nrows - (size_t)k - 1) *
			    sizeof *ed->rows);
			ed->nrows--;
		}
		return 1;
	}
	return 0;
}

/* Saves the editor's rule (new when ed->id is 0): the redirect, or the editor again
 * with what is wrong. */
static int
tri_editor_save(struct http_ctx *c, struct tri_editor *ed)
{
	const struct auth_user *u = auth_user(c);
	json_t *j = tri_editor_json(c, ed);
	enum rules_status st;
	struct rule r;
	struct form f;
	const char *why;
	PGconn *pg;
	char err[512];
	int64_t id = ed->id;

	form_init(&f, c, "rule");
	if (j == NULL) {
		form_error(&f, "rule", "The form holds text that is not UTF-8.");
		return tri_editor_render(c, 400, ed, &f, "The rule was not saved.");
	}
	if (rules_parse(j, &r, tri_bad, &f) > 0) {
		json_decref(j);
		rule_free(&r);
		return tri_editor_render(c, 400, ed, &f,
		    "The rule was not saved: see the fields below.");
	}
	json_decref(j);
	if ((pg = tri_pg(c)) == NULL) {
		rule_free(&r);
		form_free(&f);
		return c->res->status;
	}
	if (id == 0)
		st = rules_create(pg, u->id, &r, &id, err, sizeof err);
	else
		st = rules_update(pg, u->id, id, &r, err, sizeof err);
	if (st == RULES_OK)
		tri_rule_audit(c, ed->id == 0 ? "rule.create" : "rule.update", id, r.name);
	rule_free(&r);
	switch (st) {
	case RULES_OK:
		form_free(&f);
		return page_redirect(c, arena_printf(c->arena, "/settings/rules?%s=%" PRId64
		    "#rule-%" PRId64, ed->id == 0 ? "added" : "saved", id, id));
	case RULES_FAILED:
		form_free(&f);
		return tri_db_fail(c, err);
	case RULES_NOT_FOUND:
		form_free(&f);
		return http_fail(c->res, 404, "not_found", "There is no such rule.", NULL);
	default:
		why = tri_rule_refusal(st, &f);
		return tri_editor_render(c, st == RULES_LIMIT ? 409 : 400, ed, &f, why);
	}
}

int
page_triage_rule_create(struct http_ctx *c)
{
	struct tri_editor ed;

	if (tri_editor_from_form(c, &ed) < 0)
		return c->res->status;
	if (tri_editor_button(c, &ed))
		return tri_editor_render(c, 200, &ed, NULL, NULL);
	return tri_editor_save(c, &ed);
}

int
page_triage_rule_save(struct http_ctx *c)
{
	struct rule_set *set;
	struct tri_editor ed;

	/* Another user's rule is not there, whatever the form does. */
	if (tri_rule_find(c, http_param_int(c->req, "id"), &set) != 1)
		return c->res->status;
	rules_set_free(set);
	if (tri_editor_from_form(c, &ed) < 0)
		return c->res->status;
	ed.id = http_param_int(c->req, "id");
	if (tri_editor_button(c, &ed))
		return tri_editor_render(c, 200, &ed, NULL, NULL);
	return tri_editor_save(c, &ed);
}

int
page_triage_rule_enable(struct http_ctx *c)
{
	int64_t id = http_param_int(c->req, "id");
	struct rule_set *set;
	enum rules_status st;
	struct rule *r;
	PGconn *pg;
	char err[512];

	if (tri_rule_find(c, id, &set) != 1)
		return c->res->status;
	r = &set->rules[0];
	if (r->error != NULL) {
		rules_set_free(set);
		return http_fail(c->res, 409, "invalid_rule", "This rule cannot be read: edit it "
		    "or delete it.", NULL);
	}
	r->enabled = strcmp(form_value(c, "enabled"), "1") == 0;
	if ((pg = tri_pg(c)) == NULL) {
		rules_set_free(set);
		return c->res->status;
	}
	st = rules_update(pg, auth_user(c)->id, id, r, err, sizeof err);
	if (st == RULES_OK)
		tri_rule_audit(c, r->enabled ? "rule.enable" : "rule.disable", id, r->name);
	rules_set_free(set);
	if (st == RULES_FAILED)
		return tri_db_fail(c, err);
	if (st != RULES_OK)
		return http_fail(c->res, 409, "conflict", "The rule could not be changed: edit it.",
		    NULL);
	return page_redirect(c, arena_printf(c->arena, "/settings/rules#rule-%" PRId64, id));
}

int
page_triage_rule_move(struct http_ctx *c)
{
	int64_t id = http_param_int(c->req, "id"), *ids, *order;
	struct rule_set *set;
	enum rules_status st;
	PGconn *pg;
	char err[512];
	size_t i, n;

	if ((set = tri_rules(c, 0)) == NULL)
		return c->res->status;
	n = set->n;
	ids = arena_calloc(c->arena, n + 1, sizeof *ids);
	for (i = 0; i < n; i++)
		ids[i] = set->rules[i].id;
	rules_set_free(set);
	for (i = 0; i < n && ids[i] != id; i++)
		;
	if (i == n)
		return http_fail(c->res, 404, "not_found", "There is no such rule.", NULL);
	if (tri_move_order(c, ids, n, id, &order) < 0 || (pg = tri_pg(c)) == NULL)
		return c->res->status;
	for (i = 0; i < n && order[i] != id; i++)
		;
	st = rules_move(pg, auth_user(c)->id, id, (long)i + 1, err, sizeof err);
	if (st == RULES_FAILED)
		return tri_db_fail(c, err);
	return page_redirect(c, arena_printf(c->arena, "/settings/rules#rule-%" PRId64, id));
}

/* Deletes the rule of the address with its audit row; 0 or the status made. */
static int
tri_rule_delete(struct http_ctx *c)
{
	int64_t id = http_param_int(c->req, "id");
	struct rule_set *set;
	enum rules_status st;
	PGconn *pg;
	char err[512];

	if (tri_rule_find(c, id, &set) != 1)
		return c->res->status;
	if ((pg = tri_pg(c)) == NULL) {
		rules_set_free(set);
		return c->res->status;
	}
	st = rules_delete(pg, auth_user(c)->id, id, err, sizeof err);
	if (st == RULES_OK)
		tri_rule_audit(c, "rule.delete", id, set->rules[0].name);
	rules_set_free(set);
	if (st == RULES_FAILED)
		return tri_db_fail(c, err);
	if (st != RULES_OK)
		return http_fail(c->res, 404, "not_found", "There is no such rule.", NULL);
	return 0;
}

int
page_triage_rule_delete(struct http_ctx *c)
{
	int rc = tri_rule_delete(c);

	return rc != 0 ? rc : page_redirect(c, "/settings/rules?deleted=1");
}

/* ---- Rules: the JSON API */

/* Answers with rule id (status 200 or 201). */
static int
tri_api_rule(struct http_ctx *c, int64_t id, int status)
{
	struct rule_set *set;

	if (tri_rule_find(c, id, &set) != 1)
		return c->res->status;
	if (status == 201)
		http_response_header(c->res, "Location", arena_printf(c->arena,
		    "/api/v1/rules/%" PRId64, id));
	http_response_json(c->res, status, rules_json(&set->rules[0]));
	rules_set_free(set);
	return status;
}

static int
tri_api_rule_refused(struct http_ctx *c, enum rules_status st, struct form *f,
    const char *err)
{
	const char *why = tri_rule_refusal(st, f);

	switch (st) {
	case RULES_FAILED:
		form_free(f);
		return tri_db_fail(c, err);
	case RULES_NO_CATEGORY:
		return http_fail(c->res, 400, "invalid_input", why, form_details(f));
	case RULES_LIMIT:
		form_free(f);
		return http_fail(c->res, 409, "too_many_rules", why, NULL);
	default:
		form_free(f);
		return http_fail(c->res, 404, "not_found", why, NULL);
	}
}

int
api_rules_list(struct http_ctx *c)
{
	struct rule_set *set;
	json_t *list;

	if ((set = tri_rules(c, 0)) == NULL)
		return c->res->status;
	list = json_array();
	for (size_t i = 0; i < set->n; i++)
		json_array_append_new(list, rules_json(&set->rules[i]));
	rules_set_free(set);
	http_response_json(c->res, 200, json_pack("{s:o}", "rules", list));
	return 200;
}

int
api_rules_get(struct http_ctx *c)
{
	return tri_api_rule(c, http_param_int(c->req, "id"), 200);
}

/* Parses body into r and stores it as rule id (0: a new one), moving it to position
 * (0: where it is). Answers with the rule or the refusal. */
static int
tri_api_rule_store(struct http_ctx *c, json_t *body, int64_t id, long position)
{
	const struct auth_user *u = auth_user(c);
	enum rules_status st;
	struct rule r;
	struct form f;
	PGconn *pg;
	char err[512];
	int64_t new_id = id;

	form_init(&f, c, "rule");
	if (rules_parse(body, &r, tri_bad, &f) > 0) {
		rule_free(&r);
		return tri_api_invalid(c, &f);
	}
	if ((pg = tri_pg(c)) == NULL) {
		rule_free(&r);
		form_free(&f);
		return c->res->status;
	}
	if (id == 0)
		st = rules_create(pg, u->id, &r, &new_id, err, sizeof err);
	else
		st = rules_update(pg, u->id, id, &r, err, sizeof err);
	if (st == RULES_OK && position > 0)
		st = rules_move(pg, u->id, new_id, position, err, sizeof err);
	if (st == RULES_OK)
		tri_rule_audit(c, id == 0 ? "rule.create" : "rule.update", new_id, r.name);
	rule_free(&r);
	if (st != RULES_OK)
		return tri_api_rule_refused(c, st, &f, err);
	form_free(&f);
	return tri_api_rule(c, new_id, id == 0 ? 201 : 200);
}

/* The "position" member of a body (0 when absent); -1 with f's error when not an integer
 * from 1. */
static long
tri_api_position(json_t *body, struct form *f)
{
	json_t *p = json_object_get(body, "position");

	if (p == NULL)
		return 0;
	if (!json_is_integer(p) || json_integer_value(p) < 1 || json_integer_value(p) > 1000) {
		form_error(f, "position", "The position is an integer from 1 (first).");
		return -1;
	}
	return (long)json_integer_value(p);
}

int
api_rules_create(struct http_ctx *c)
{
	struct form f;
	long position;

	if (tri_api_body(c) != 0)
		return c->res->status;
	form_init(&f, c, "rule");
	if ((position = tri_api_position(c->req->json, &f)) < 0)
		return tri_api_invalid(c, &f);
	form_free(&f);
	return tri_api_rule_store(c, c->req->json, 0, position);
}

/* PATCH: the stored rule with the body's members put over it, checked as a whole. */
int
api_rules_update(struct http_ctx *c)
{
	int64_t id = http_param_int(c->req, "id");
	static const char *const computed[] = { "id", "position", "created_at", "updated_at",
		"error" };
	struct rule_set *set;
	json_t *merged;
	struct form f;
	long position;
	int rc;

	if (tri_api_body(c) != 0 || tri_rule_find(c, id, &set) != 1)
		return c->res->status;
	form_init(&f, c, "rule");
	if ((position = tri_api_position(c->req->json, &f)) < 0) {
		rules_set_free(set);
		return tri_api_invalid(c, &f);
	}
	form_free(&f);
	merged = rules_json(&set->rules[0]);
	rules_set_free(set);
	for (size_t i = 0; i < MR_ARRAY_LEN(computed); i++)
		json_object_del(merged, computed[i]);
	json_object_update(merged, c->req->json);
	json_object_del(merged, "position");
	rc = tri_api_rule_store(c, merged, id, position);
	json_decref(merged);
	return rc;
}

int
api_rules_delete(struct http_ctx *c)
{
	int rc = tri_rule_delete(c);

	return rc != 0 ? rc : 204;
}

/* ---- Triage settings: follow-up days and the screening of first-time senders, on the
 * categories page (form "triage") and at /api/v1/triage/settings. */

/* Reads the user's settings into s: 0, or -1 with c->res failed. */
static int
tri_settings_load(struct http_ctx *c, struct tri_settings *s)
{
	char uid[24], err[512];
	const char *params[1] = { uid };
	PGconn *pg = tri_pg(c);
	PGresult *r;

	if (pg == NULL)
		return -1;
	snprintf(uid, sizeof uid, "%" PRId64, auth_user(c)->id);
	/* The defaults are the table's (sql/0006_triage.up.sql). */
	r = pq_exec(pg, "triage settings", "SELECT COALESCE(s.follow_up_days, 3), "
	    "COALESCE(s.screening, true), COALESCE(s.screening_category, 'marketing') "
	    "FROM (SELECT 1) one LEFT JOIN triage_settings s ON s.user_id = $1::bigint",
	    1, params, err, sizeof err);
	if (r == NULL) {
		tri_db_fail(c, err);
		return -1;
	}
	s->follow_up_days = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	s->screening = strcmp(PQgetvalue(r, 0, 1), "t") == 0;
	snprintf(s->category, sizeof s->category, "%s", PQgetvalue(r, 0, 2));
	PQclear(r);
	return 0;
}

/* The screening category sent into s, or an error in f; whether it is one of the
 * user's categories is checked when storing. */
static void
tri_settings_category(const char *slug, struct tri_settings *s, struct form *f)
{
	if (*slug == '\0' || strlen(slug) > CATEGORIES_SLUG_MAX) {
		form_error(f, "screening_category", "Choose one of your categories.");
		return;
	}
	snprintf(s->category, sizeof s->category, "%s", slug);
}

/* Stores s as the user's settings: 1, 0 when the screening category is not one of the
 * user's (nothing changed), -1 with err. The settings row is locked first
 * (categories_begin), so that a category deleted meanwhile is either seen gone here or
 * has its deletion reset the setting after. */
static int
tri_settings_store(PGconn *pg, int64_t user_id, const struct tri_settings *s, char *err,
    size_t errlen)
{
	char uid[24], days[24];
	const char *params[4] = { uid, days, s->screening ? "true" : "false", s->category };
	long n;

	snprintf(uid, sizeof uid, "%" PRId64, user_id);
	snprintf(days, sizeof days, "%" PRId64, s->follow_up_days);
	if (categories_begin(pg, user_id, "triage settings", err, errlen) < 0)
		return -1;
	n = pq_run(pg, "triage settings", "INSERT INTO triage_settings (user_id, "
	    "follow_up_days, screening, screening_category, updated_at) SELECT $1::bigint, "
	    "$2::integer, $3::boolean, slug, now() FROM categories WHERE user_id = $1::bigint "
	    "AND slug = $4 ON CONFLICT (user_id) DO UPDATE SET follow_up_days = "
	    "EXCLUDED.follow_up_days, screening = EXCLUDED.screening, screening_category = "
	    "EXCLUDED.screening_category, updated_at = now()", 4, params, err, errlen);
	if (n <= 0) {
		categories_rollback(pg);
		return n < 0 ? -1 : 0;
	}
	return categories_commit(pg, "triage settings", err, errlen) < 0 ? -1 : 1;
}

/* Stores s after its checks passed: 1, 0 with the unknown category's error in f, -1 with
 * c->res failed. The change is audited. */
static int
tri_settings_save(struct http_ctx *c, const struct tri_settings *s, struct form *f)
{
	const struct auth_user *u = auth_user(c);
	PGconn *pg = tri_pg(c);
	char err[512];
	int rc;

	if (pg == NULL)
		return -1;
	if ((rc = tri_settings_store(pg, u->id, s, err, sizeof err)) < 0) {
		tri_db_fail(c, err);
		return -1;
	}
	if (rc == 0) {
		form_error(f, "screening_category", "Choose one of your categories.");
		return 0;
	}
	audit_record(c, u->id, u->id, "triage.settings", json_pack("{s:I, s:b, s:s}",
	    "follow_up_days", (json_int_t)s->follow_up_days, "screening", s->screening,
	    "screening_category", s->category));
	return 1;
}

static json_t *
tri_settings_json(const struct tri_settings *s)
{
	return json_pack("{s:I, s:b, s:s}", "follow_up_days", (json_int_t)s->follow_up_days,
	    "screening", s->screening, "screening_category", s->category);
}

/* The "triage" object of the categories page: the stored settings, or what was sent
 * with its errors; NULL with c->res failed. */
static json_t *
tri_settings_context(struct http_ctx *c, const struct category *l, long n,
    const struct tri_cat_view *v)
{
	struct tri_settings stored;
	const struct tri_settings *s = v->triage_in;
	json_t *options = json_array(), *ctx;

	if (s == NULL) {
		if (tri_settings_load(c, &stored) < 0) {
			json_decref(options);
			return NULL;
		}
		s = &stored;
	}
	for (long i = 0; i < n; i++)
		json_array_append_new(options, json_pack("{s:s, s:s, s:b}", "value", l[i].slug,
		    "name", l[i].name, "selected", strcmp(l[i].slug, s->category) == 0));
	ctx = json_pack("{s:s, s:b, s:o}", "follow_up_days", v->triage_days != NULL ?
	    v->triage_days : arena_printf(c->arena, "%" PRId64, s->follow_up_days),
	    "screening", s->screening, "categories", options);
	json_object_set_new(ctx, "errors", v->triage != NULL ?
	    json_incref(v->triage->errors) : json_object());
	return ctx;
}

int
page_triage_settings(struct http_ctx *c)
{
	struct tri_settings s;
	struct form add, f;
	struct tri_cat_view v = { 400, &add, NULL, 0, NULL, NULL, &f, &s, NULL };
	int rc;

	v.triage_days = form_value(c, "follow_up_days");
	memset(&s, 0, sizeof s);
	form_init(&f, c, "triage");
	if (util_parse_int64(v.triage_days, 1, 90, &s.follow_up_days) == -1)
		form_error(&f, "follow_up_days", "A whole number of days from 1 to 90.");
	s.screening = strcmp(form_value(c, "screening"), "1") == 0;
	tri_settings_category(form_value(c, "screening_category"), &s, &f);
	if (f.nerrors == 0) {
		if ((rc = tri_settings_save(c, &s, &f)) < 0) {
			form_free(&f);
			return c->res->status;
		}
		if (rc == 1) {
			form_free(&f);
			return page_redirect(c, "/settings/categories?triage=1#triage");
		}
	}
	tri_category_form_init(c, &add);
	v.form_error = "The triage settings were not saved: see the fields below.";
	rc = tri_categories_render(c, &v);
	form_free(&f);
	return rc;
}

int
api_triage_settings_get(struct http_ctx *c)
{
	struct tri_settings s;

	if (tri_settings_load(c, &s) < 0)
		return c->res->status;
	http_response_json(c->res, 200, tri_settings_json(&s));
	return 200;
}

/* PATCH: the keys sent change, the others keep their stored values. */
int
api_triage_settings_update(struct http_ctx *c)
{
	struct tri_settings s;
	struct form f;
	json_t *body = c->req->json, *v;
	int rc;

	if (tri_api_body(c) != 0 || tri_settings_load(c, &s) < 0)
		return c->res->status;
	form_init(&f, c, "triage");
	if ((v = json_object_get(body, "follow_up_days")) != NULL) {
		if (!json_is_integer(v) || json_integer_value(v) < 1 ||
		    json_integer_value(v) > 90)
			form_error(&f, "follow_up_days", "A whole number of days from 1 to 90.");
		else
			s.follow_up_days = json_integer_value(v);
	}
	if ((v = json_object_get(body, "screening")) != NULL) {
		if (!json_is_boolean(v))
			form_error(&f, "screening", "true or false.");
		else
			s.screening = json_is_true(v);
	}
	if ((v = json_object_get(body, "screening_category")) != NULL)
		tri_settings_category(json_is_string(v) ? json_string_value(v) : "", &s, &f);
	if (f.nerrors > 0)
		return tri_api_invalid(c, &f);
	if ((rc = tri_settings_save(c, &s, &f)) <= 0) {
		if (rc == 0)
			return tri_api_invalid(c, &f);
		form_free(&f);
		return c->res->status;
	}
	form_free(&f);
	http_response_json(c->res, 200, tri_settings_json(&s));
	return 200;
}
