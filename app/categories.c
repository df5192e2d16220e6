/* categories.c: a user's categories (categories.h): checks, slugs, and the statements
 * that list, create, change, reorder and delete them. Changes run in a transaction that
 * holds the user's lock (categories_begin), so that the limit, the uniqueness of names
 * and the set of ids a reorder names cannot change under them. */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "categories.h"
#include "pq.h"
#include "util.h"

const char *const categories_colours[] = { "slate", "red", "orange", "amber", "green",
	"teal", "sky", "blue", "indigo", "violet", "pink" };
const size_t categories_colours_count = MR_ARRAY_LEN(categories_colours);

/* ---- Statements */

void
categories_rollback(PGconn *c)
{
	PQclear(PQexec(c, "ROLLBACK"));
}

/* A statement of a transaction: 0, or -1 with the transaction rolled back. */
static int
categories_step(PGconn *c, const char *what, const char *sql, int n,
    const char *const *params, char *err, size_t errlen)
{
	PGresult *r = pq_exec(c, what, sql, n, params, err, errlen);

	if (r == NULL) {
		categories_rollback(c);
		return -1;
	}
	PQclear(r);
	return 0;
}

int
categories_sql_true(PGconn *c, const char *what, const char *sql, int n,
    const char *const *params, char *err, size_t errlen)
{
	PGresult *r = pq_exec(c, what, sql, n, params, err, errlen);
	int yes;

	if (r == NULL)
		return -1;
	yes = PQntuples(r) > 0 && strcmp(PQgetvalue(r, 0, 0), "t") == 0;
	PQclear(r);
	return yes;
}

int
categories_begin(PGconn *c, int64_t user_id, const char *what, char *err, size_t errlen)
{
	char uid[24];
	const char *params[1] = { uid };

	snprintf(uid, sizeof uid, "%" PRId64, user_id);
	if (categories_step(c, what, "BEGIN", 0, NULL, err, errlen) < 0)
		return -1;
	/* The settings row is the user's lock: made when missing, so there is always a
	 * row to lock (a user deleted meanwhile has none, and nothing to change). */
	return categories_step(c, what, "INSERT INTO triage_settings (user_id) SELECT id FROM "
	    "users WHERE id = $1::bigint ON CONFLICT (user_id) DO UPDATE SET user_id = "
	    "EXCLUDED.user_id", 1, params, err, errlen);
}

int
categories_commit(PGconn *c, const char *what, char *err, size_t errlen)
{
	return categories_step(c, what, "COMMIT", 0, NULL, err, errlen);
}

/* ---- Checks */

int
categories_slug_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > CATEGORIES_SLUG_MAX || *s == '-')
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return 0;
	}
	return 1;
}

void
categories_slug_from_name(const char *name, char *out)
{
	size_t n = 0;
	int dash = 0;

	for (const char *p = name; *p != '\0' && n < CATEGORIES_SLUG_MAX; p++) {
		char ch = *p;

		if (ch >= 'A' && ch <= 'Z')
			ch = (char)(ch - 'A' + 'a');
		if ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9')) {
			if (dash && n > 0 && n + 1 < CATEGORIES_SLUG_MAX)
				out[n++] = '-';
			dash = 0;
			out[n++] = ch;
		} else {
			dash = 1;
		}
	}
	out[n] = '\0';
	if (n == 0)
		snprintf(out, CATEGORIES_SLUG_MAX + 1, "category");
}

int
categories_check(const struct category_input *in, int creating, categories_bad_fn bad,
    void *arg)
{
	int nbad = 0;
	long chars;

	if (in->name != NULL || creating) {
		chars = in->name != NULL ? util_text_chars(in->name) : 0;
		if (chars < 0) {
			bad(arg, "name", "Name the category with letters, digits and punctuation.");
			nbad++;
		} else if (chars == 0) {
			bad(arg, "name", "Name the category.");
			nbad++;
		} else if (chars > CATEGORIES_NAME_MAX) {
			bad(arg, "name", "The name is at most 60 characters.");
			nbad++;
		}
	}
	if (in->colour != NULL) {
		size_t i;

		for (i = 0; i < categories_colours_count; i++) {
			if (strcmp(in->colour, categories_colours[i]) == 0)
				break;
		}
		if (i == categories_colours_count) {
			bad(arg, "colour", "Choose one of the colours: slate, red, orange, amber, "
			    "green, teal, sky, blue, indigo, violet, pink.");
			nbad++;
		}
	}
	if (in->description != NULL) {
		/* Line breaks and tabs are fine in a description; other control characters
		 * are not. */
		char *copy = xstrdup(in->description);
		long n;

		for (char *p = copy; *p != '\0'; p++) {
			if (*p == '\r' || *p == '\n' || *p == '\t')
				*p = ' ';
		}
		n = util_text_chars(copy);
		free(copy);
		if (n < 0) {
			bad(arg, "description", "Describe the category with letters, digits and "
			    "punctuation.");
			nbad++;
		} else if (n > CATEGORIES_DESCRIPTION_MAX) {
			bad(arg, "description", "The description is at most 500 characters.");
			nbad++;
		}
	}
	return nbad;
}

/* ---- Reading */

#define CATEGORIES_COLUMNS "SELECT id, slug, builtin, name, colour, description, hidden, " \
	"position FROM categories "

static void
categories_row(PGresult *r, int i, struct category *out)
{
	out->id = strtoll(PQgetvalue(r, i, 0), NULL, 10);
	snprintf(out->slug, sizeof out->slug, "%s", PQgetvalue(r, i, 1));
	out->builtin = strcmp(PQgetvalue(r, i, 2), "t") == 0;
	out->name = xstrdup(PQgetvalue(r, i, 3));
	snprintf(out->colour, sizeof out->colour, "%s", PQgetvalue(r, i, 4));
	out->description = xstrdup(PQgetvalue(r, i, 5));
	out->hidden = strcmp(PQgetvalue(r, i, 6), "t") == 0;
	out->position = atoi(PQgetvalue(r, i, 7));
}

long
categories_list(PGconn *c, int64_t user_id, int64_t id, struct category **out, char *err,
    size_t errlen)
{
	char uid[24], cid[24];
	const char *params[2] = { uid, cid };
	PGresult *r;
	long n;

	*out = NULL;
	snprintf(uid, sizeof uid, "%" PRId64, user_id);
	snprintf(cid, sizeof cid, "%" PRId64, id);
	r = pq_exec(c, "categories", CATEGORIES_COLUMNS "WHERE user_id = $1::bigint "
	    "AND ($2::bigint = 0 OR id = $2::bigint) ORDER BY position, id", 2, params, err,
	    errlen);
	if (r == NULL)
		return -1;
	n = PQntuples(r);
	if (n > 0)
		*out = xcalloc((size_t)n, sizeof **out);
	for (long i = 0; i < n; i++)
		categories_row(r, (int)i, &(*out)[i]);
	PQclear(r);
	return n;
}

void
categories_free(struct category *l, size_t n)
{
	if (l == NULL)
		return;
	for (size_t i = 0; i < n; i++) {
		free(l[i].name);
		free(l[i].description);
	}
	free(l);
}

int
categories_usage(PGconn *c, int64_t user_id, const char *slug, long *messages, long *rules,
    char *err, size_t errlen)
{
	char uid[24];
	const char *params[2] = { uid, slug };
	PGresult *r;

	snprintf(uid, sizeof uid, "%" PRId64, user_id);
	r = pq_exec(c, "categories", "SELECT (SELECT count(*) FROM mail_messages "
	    "WHERE user_id = $1::bigint AND category = $2), (SELECT count(*) FROM triage_rules "
	    "WHERE user_id = $1::bigint AND category = $2)", 2, params, err, errlen);
	if (r == NULL)
		return -1;
	*messages = strtol(PQgetvalue(r, 0, 0), NULL, 10);
	*rules = strtol(PQgetvalue(r, 0, 1), NULL, 10);
	PQclear(r);
	return 0;
}

/* ---- Changes (in a transaction of categories_begin) */

/* Whether another category of the user (not except) has this name, in any case: 1, 0,
 * or -1. */
static int
categories_name_taken(PGconn *c, const char *uid, const char *name, int64_t except,
    char *err, size_t errlen)
{
	char eid[24];
	const char *params[3] = { uid, name, eid };

	snprintf(eid, sizeof eid, "%" PRId64, except);
	return categories_sql_true(c, "categories", "SELECT EXISTS (SELECT 1 FROM categories "
	    "WHERE user_id = $1::bigint AND lower(name) = lower($2) AND id <> $3::bigint)", 3,
	    params, err, errlen);
}

/* The slug of a new category named name: its slug from the name, or that with "-2",
 * "-3", ... when the user has it already. Returns 0 or -1. */
static int
categories_new_slug(PGconn *c, const char *uid, const char *name, char *slug, char *err,
    size_t errlen)
{
	char base[CATEGORIES_SLUG_MAX + 1];
	const char *params[2] = { uid, base };
	PGresult *r;
	int n;

	categories_slug_from_name(name, base);
	r = pq_exec(c, "categories", "SELECT slug FROM categories WHERE user_id = "
	    "$1::bigint AND left(slug, length($2)) = $2", 2, params, err, errlen);
	if (r == NULL)
		return -1;
	for (n = 1; ; n++) {
		char suffix[16];
		int used = 0;

		suffix[0] = '\0';
		if (n > 1)
			snprintf(suffix, sizeof suffix, "-%d", n);
		/* The base is cut so that the number fits, and no dash is left doubled. */
		snprintf(slug, CATEGORIES_SLUG_MAX + 1, "%.*s%s",
		    (int)(CATEGORIES_SLUG_MAX - strlen(suffix)), base, suffix);
		for (int i = 0; i < PQntuples(r) && !used; i++)
			used = strcmp(PQgetvalue(r, i, 0), slug) == 0;
		if (!used && strstr(slug, "--") == NULL)
			break;
	}
	PQclear(r);
	return 0;
}

enum categories_status
categories_create(PGconn *c, int64_t user_id, const struct category_input *in, int64_t *id,
    char *err, size_t errlen)
{
	char uid[24], slug[CATEGORIES_SLUG_MAX + 1], max[16];
	const char *params[7];
	PGresult *r;
	int taken;

	*id = 0;
	snprintf(uid, sizeof uid, "%" PRId64, user_id);
	snprintf(max, sizeof max, "%d", CATEGORIES_MAX);
	if (categories_begin(c, user_id, "categories", err, errlen) < 0)
		return CATEGORIES_FAILED;
	if ((taken = categories_name_taken(c, uid, in->name, 0, err, errlen)) != 0) {
		categories_rollback(c);
		return taken < 0 ? CATEGORIES_FAILED : CATEGORIES_NAME_TAKEN;
	}
	if (categories_new_slug(c, uid, in->name, slug, err, errlen) < 0) {
		categories_rollback(c);
		return CATEGORIES_FAILED;
	}
	params[0] = uid;
	params[1] = slug;
	params[2] = in->name;
	params[3] = in->colour != NULL ? in->colour : "slate";
	params[4] = in->description != NULL ? in->description : "";
	params[5] = in->hidden > 0 ? "t" : "f";
	params[6] = max;
	/* Nothing is inserted when the user is at the limit. */
	r = pq_exec(c, "categories", "INSERT INTO categories (user_id, slug, name, colour, "
	    "description, hidden, position) SELECT $1::bigint, $2, $3, $4, $5, $6::boolean, "
	    "coalesce(max(position), 0) + 1 FROM categories WHERE user_id = $1::bigint "
	    "HAVING count(*) < $7::int RETURNING id", 7, params, err, errlen);
	if (r == NULL) {
		categories_rollback(c);
		return CATEGORIES_FAILED;
	}
	if (PQntuples(r) != 1) {
		PQclear(r);
		categories_rollback(c);
		return CATEGORIES_LIMIT;
	}
	*id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	return categories_commit(c, "categories", err, errlen) < 0 ? CATEGORIES_FAILED :
	    CATEGORIES_OK;
}

enum categories_status
categories_update(PGconn *c, int64_t user_id, int64_t id, const struct category_input *in,
    char *err, size_t errlen)
{
	char uid[24], cid[24];
	const char *params[6];
	long rows;
	int taken = 0;

	snprintf(uid, sizeof uid, "%" PRId64, user_id);
	snprintf(cid, sizeof cid, "%" PRId64, id);
	if (categories_begin(c, user_id, "categories", err, errlen) < 0)
		return CATEGORIES_FAILED;
	if (in->name != NULL && (taken = categories_name_taken(c, uid, in->name, id, err,
	    errlen)) != 0) {
		categories_rollback(c);
		return taken < 0 ? CATEGORIES_FAILED : CATEGORIES_NAME_TAKEN;
	}
	params[0] = uid;
	params[1] = cid;
	params[2] = in->name;
	params[3] = in->colour;
	params[4] = in->description;
	params[5] = in->hidden < 0 ? NULL : in->hidden ? "t" : "f";
	rows = pq_run(c, "categories", "UPDATE categories SET name = coalesce($3, name), "
	    "colour = coalesce($4, colour), description = coalesce($5, description), "
	    "hidden = coalesce($6::boolean, hidden) WHERE id = $2::bigint AND user_id = $1::bigint",
	    6, params, err, errlen);
	if (rows <= 0) {
		categories_rollback(c);
		return rows < 0 ? CATEGORIES_FAILED : CATEGORIES_NOT_FOUND;
	}
	return categories_commit(c, "categories", err, errlen) < 0 ? CATEGORIES_FAILED :
	    CATEGORIES_OK;
}

/* ids as a PostgreSQL array literal ("{1,2,3}"), malloc'd. */
static char *
categories_id_array(const int64_t *ids, size_t n)
{
	char *s = xmalloc(n * 21 + 3), *p = s;

	*p++ = '{';
	for (size_t i = 0; i < n; i++)
		p += sprintf(p, "%s%" PRId64, i > 0 ? "," : "", ids[i]);
	*p++ = '}';
	*p = '\0';
	return s;
}

enum categories_status
categories_reorder(PGconn *c, int64_t user_id, const int64_t *ids, size_t n, char *err,
    size_t errlen)
{
	char uid[24], *list = categories_id_array(ids, n);
	const char *params[2] = { uid, list };
	int same;

	snprintf(uid, sizeof uid, "%" PRId64, user_id);
	if (categories_begin(c, user_id, "categories", err, errlen) < 0) {
		free(list);
		return CATEGORIES_FAILED;
	}
	/* The list must be a permutation of the user's ids: same count, no repeats, and
	 * each one the user's. */
	same = categories_sql_true(c, "categories", "SELECT (SELECT count(*) FROM categories "
	    "WHERE user_id = $1::bigint) = cardinality($2::bigint[]) AND (SELECT count(DISTINCT "
	    "x) FROM unnest($2::bigint[]) x) = cardinality($2::bigint[]) AND NOT EXISTS (SELECT "
	    "1 FROM unnest($2::bigint[]) x WHERE NOT EXISTS (SELECT 1 FROM categories WHERE "
	    "id = x AND user_id = $1::bigint))", 2, params, err, errlen);
	if (same < 0)
		goto fail;
	if (!same) {
		categories_rollback(c);
		free(list);
		return CATEGORIES_BAD_ORDER;
	}
	if (pq_run(c, "categories", "UPDATE categories k SET position = o.n FROM "
	    "unnest($2::bigint[]) WITH ORDINALITY o(id, n) WHERE k.id = o.id AND "
	    "k.user_id = $1::bigint", 2, params, err, errlen) < 0)
		goto fail;
	free(list);
	return categories_commit(c, "categories", err, errlen) < 0 ? CATEGORIES_FAILED :
	    CATEGORIES_OK;
fail:
	categories_rollback(c);
	free(list);
	return CATEGORIES_FAILED;
}

enum categories_status
categories_delete(PGconn *c, int64_t user_id, int64_t id, char *err, size_t errlen)
{
	/* Each with $1 the user and $2 the slug. */
	static const char *const forget[] = {
		"UPDATE mail_messages SET category = NULL, triaged_at = NULL, "
		    "category_confidence = NULL, category_source = NULL, category_reasons = '[]', "
		    "category_rule_id = NULL WHERE user_id = $1::bigint AND category = $2",
		"UPDATE mail_threads SET category = NULL WHERE user_id = $1::bigint AND "
		    "category = $2",
		/* A rule left with nothing to do is disabled rather than left to match and
		 * decide nothing. */
		"UPDATE triage_rules SET category = NULL, enabled = enabled AND "
		    "jsonb_array_length(actions) > 0 WHERE user_id = $1::bigint AND category = $2",
		"DELETE FROM sender_categories WHERE user_id = $1::bigint AND category = $2",
		"DELETE FROM triage_features WHERE user_id = $1::bigint AND category = $2",
		"DELETE FROM triage_totals WHERE user_id = $1::bigint AND category = $2",
		"UPDATE triage_settings SET screening_category = 'marketing' WHERE "
		    "user_id = $1::bigint AND screening_category = $2",
	};
	char uid[24], cid[24], slug[CATEGORIES_SLUG_MAX + 1];
	const char *params[2] = { uid, cid };
	PGresult *r;
	int builtin;

	snprintf(uid, sizeof uid, "%" PRId64, user_id);
	snprintf(cid, sizeof cid, "%" PRId64, id);
	if (categories_begin(c, user_id, "categories", err, errlen) < 0)
		return CATEGORIES_FAILED;
	r = pq_exec(c, "categories", "SELECT slug, builtin FROM categories WHERE "
	    "id = $2::bigint AND user_id = $1::bigint", 2, params, err, errlen);
	if (r == NULL)
		goto fail;
	if (PQntuples(r) != 1) {
		PQclear(r);
		categories_rollback(c);
		return CATEGORIES_NOT_FOUND;
	}
	snprintf(slug, sizeof slug, "%s", PQgetvalue(r, 0, 0));
	builtin = strcmp(PQgetvalue(r, 0, 1), "t") == 0;
	PQclear(r);
	if (builtin) {
		categories_rollback(c);
		return CATEGORIES_BUILTIN;
	}
	params[1] = slug;
	for (size_t i = 0; i < MR_ARRAY_LEN(forget); i++) {
		if (pq_run(c, "categories", forget[i], 2, params, err, errlen) < 0)
			goto fail;
	}
	params[1] = cid;
	if (pq_run(c, "categories", "DELETE FROM categories WHERE id = $2::bigint AND "
	    "user_id = $1::bigint", 2, params, err, errlen) < 0)
		goto fail;
	return categories_commit(c, "categories", err, errlen) < 0 ? CATEGORIES_FAILED :
	    CATEGORIES_OK;
fail:
	categories_rollback(c);
	return CATEGORIES_FAILED;
}
