/* mime-check.h: the invariants of a parsed message that the MIME tests and the fuzz
 * harness assert on any input: every string is valid UTF-8 (no NUL inside, which C strings
 * cannot show, and no invalid sequence), the required fields are there, the snippet is
 * short. */
#ifndef MAILROOM_T_MIME_CHECK_H
#define MAILROOM_T_MIME_CHECK_H

#include <string.h>
#include <jansson.h>

#include "mime.h"

static inline const char *
mime_check_str(const char *s, int required)
{
	if (s == NULL)
		return required ? "missing" : NULL;
	if (!mime_utf8_valid(s, strlen(s)))
		return "invalid UTF-8";
	return NULL;
}

static inline const char *
mime_check_list(const struct mime_address_list *l)
{
	const char *why;

	if (l->n > 0 && l->v == NULL)
		return "address list";
	for (size_t i = 0; i < l->n; i++) {
		if ((why = mime_check_str(l->v[i].name, 1)) != NULL ||
		    (why = mime_check_str(l->v[i].address, 1)) != NULL)
			return why;
	}
	return NULL;
}

/* NULL when m holds, else what does not (a static string). */
static inline const char *
mime_check(const struct mime_message *m)
{
	const char *why, *key;
	json_t *v;

#define MIME_CHECK(e) do { if ((why = (e)) != NULL) return why; } while (0)
	MIME_CHECK(mime_check_str(m->message_id, 1));
	if (*m->message_id == '\0')
		return "empty message id";
	MIME_CHECK(mime_check_str(m->in_reply_to, 0));
	for (size_t i = 0; i < m->n_references; i++)
		MIME_CHECK(mime_check_str(m->references[i], 1));
	MIME_CHECK(mime_check_list(&m->from));
	MIME_CHECK(mime_check_list(&m->to));
	MIME_CHECK(mime_check_list(&m->cc));
	MIME_CHECK(mime_check_list(&m->reply_to));
	MIME_CHECK(mime_check_str(m->subject, 1));
	MIME_CHECK(mime_check_str(m->text, 1));
	MIME_CHECK(mime_check_str(m->html, 0));
	MIME_CHECK(mime_check_str(m->snippet, 1));
	if (strlen(m->snippet) > MIME_SNIPPET_BYTES)
		return "snippet too long";
	for (size_t i = 0; i < m->n_attachments; i++) {
		const struct mime_attachment *a = &m->attachments[i];

		MIME_CHECK(mime_check_str(a->filename, 1));
		MIME_CHECK(mime_check_str(a->content_type, 1));
		MIME_CHECK(mime_check_str(a->content_id, 0));
		MIME_CHECK(mime_check_str(a->part, 1));
		if (*a->part == '\0')
			return "empty part number";
	}
	MIME_CHECK(mime_check_str(m->calendar, 0));
	MIME_CHECK(mime_check_str(m->calendar_method, 0));
	for (size_t i = 0; i < m->n_warnings; i++)
		MIME_CHECK(mime_check_str(m->warnings[i], 1));
	if (!json_is_object(m->headers))
		return "headers not an object";
	json_object_foreach(m->headers, key, v) {
		if (!json_is_string(v))
			return "header not a string";
		MIME_CHECK(mime_check_str(json_string_value(v), 1));
	}
#undef MIME_CHECK
	return NULL;
}

#endif
