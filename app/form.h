/* form.h: the context of an HTML form for templates/partials/field.html: each field's
 * label, value, hint and the error shown next to it (aria-invalid, aria-describedby), plus
 * the form's CSRF token. Handlers fill a form, validate, and re-render it with errors. */
#ifndef MAILROOM_FORM_H
#define MAILROOM_FORM_H

#include <jansson.h>
#include "http-router.h"

struct form {
	struct http_ctx *c;
	const char *id;     /* prefix of the fields' element ids */
	json_t *fields;     /* object: name -> field context */
	json_t *errors;     /* object: name -> message, for the JSON API */
	int nerrors;
};

void form_init(struct form *f, struct http_ctx *c, const char *id);
/* The submitted value of name with surrounding white space removed ("" when absent). */
const char *form_value(struct http_ctx *c, const char *name);
/* Adds a field. value NULL for passwords (never echoed). autocomplete may be NULL. */
void form_field(struct form *f, const char *name, const char *label, const char *type,
    const char *value, const char *autocomplete, int required, const char *hint);
/* Records the error shown next to field name (the first error of a field wins). */
void form_error(struct form *f, const char *name, const char *message);
/* {"csrf": token, "fields": {...}, "has_errors": bool} under key "form"; frees f. */
json_t *form_context(struct form *f);
/* Frees a form that is not rendered (the request went on to succeed). */
void form_free(struct form *f);
/* For the JSON API: the field errors as details {"fields": {...}}; frees f. */
json_t *form_details(struct form *f);

#endif
