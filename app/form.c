/* form.c: form contexts with field-level errors (form.h). */
#include "config.h"

#include <string.h>

#include "auth.h"
#include "form.h"
#include "util.h"

void
form_init(struct form *f, struct http_ctx *c, const char *id)
{
	f->c = c;
	f->id = id;
	f->fields = json_object();
	f->errors = json_object();
	f->nerrors = 0;
	/* The request holds a reference too, so that a handler that answers without
	 * rendering the form leaks nothing. */
	if (c->owned == NULL)
		c->owned = json_array();
	json_array_append(c->owned, f->fields);
	json_array_append(c->owned, f->errors);
}

const char *
form_value(struct http_ctx *c, const char *name)
{
	const char *v = kvlist_get(&c->req->form, name);
	size_t n;

	if (v == NULL)
		return "";
	while (*v == ' ' || *v == '\t' || *v == '\r' || *v == '\n')
		v++;
	n = strlen(v);
	while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t' || v[n - 1] == '\r' ||
	    v[n - 1] == '\n'))
		n--;
	return arena_strndup(c->arena, v, n);
}

void
form_field(struct form *f, const char *name, const char *label, const char *type,
    const char *value, const char *autocomplete, int required, const char *hint)
{
	struct arena *a = f->c->arena;
	const char *id = arena_printf(a, "%s-%s", f->id, name);
	json_t *field = json_pack("{s:s, s:s, s:s, s:s, s:s?, s:s?, s:b, s:s?}",
	    "id", id, "name", name, "label", label, "type", type, "value", value,
	    "autocomplete", autocomplete, "required", required, "hint", hint);

	if (field == NULL) {
		/* A value that is not UTF-8 (forms are checked before): show it empty. */
		field = json_pack("{s:s, s:s, s:s, s:s, s:s?, s:b, s:s?}", "id", id, "name", name,
		    "label", label, "type", type, "autocomplete", autocomplete, "required",
		    required, "hint", hint);
	}
	if (hint != NULL) {
		json_object_set_new(field, "hint_id", json_string(arena_printf(a, "%s-hint", id)));
		json_object_set_new(field, "describedby",
		    json_string(arena_printf(a, "%s-hint", id)));
	}
	json_object_set_new(f->fields, name, field);
}

void
form_error(struct form *f, const char *name, const char *message)
{
	json_t *field = json_object_get(f->fields, name);

	if (json_object_get(f->errors, name) != NULL)
		return;
	json_object_set_new(f->errors, name, json_string(message));
	f->nerrors++;
	if (field != NULL) {
		const char *id = json_string_value(json_object_get(field, "id"));
		const char *hint = json_string_value(json_object_get(field, "hint_id"));
		const char *eid = arena_printf(f->c->arena, "%s-error", id);

		json_object_set_new(field, "error", json_string(message));
		json_object_set_new(field, "error_id", json_string(eid));
		json_object_set_new(field, "invalid", json_string("true"));
		json_object_set_new(field, "describedby", json_string(hint != NULL ?
		    arena_printf(f->c->arena, "%s %s", eid, hint) : eid));
	}
}

json_t *
form_context(struct form *f)
{
	json_t *ctx = json_pack("{s:s, s:o, s:b, s:o}", "csrf", auth_csrf_token(f->c),
	    "fields", f->fields, "has_errors", f->nerrors > 0, "errors", f->errors);

	f->fields = f->errors = NULL;
	return ctx;
}

void
form_free(struct form *f)
{
	json_decref(f->fields);
	json_decref(f->errors);
	f->fields = f->errors = NULL;
}

json_t *
form_details(struct form *f)
{
	json_t *d = json_pack("{s:o}", "fields", f->errors);

	json_decref(f->fields);
	f->fields = f->errors = NULL;
	return d;
}
