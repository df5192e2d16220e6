/* categories.h: a user's categories (table categories): the eight built-in ones every
 * user gets (sql/0006_triage, their meaning in doc/triage.md) and the user's own. Each
 * can be renamed, recoloured, described, hidden from the navigation and reordered;
 * only the user's own can be deleted. Messages, threads and rules name a category by
 * its slug, which never changes: a built-in's is fixed, a user-defined one's is made
 * from its name when it is created. Every call is scoped by the owner: another user's
 * category id behaves as one that does not exist. */
#ifndef MAILROOM_CATEGORIES_H
#define MAILROOM_CATEGORIES_H

#include <stddef.h>
#include <stdint.h>
#include <libpq-fe.h>

#include "pq.h"

#define CATEGORIES_MAX			50	/* per user, built-in ones included */
#define CATEGORIES_NAME_MAX		60	/* characters */
#define CATEGORIES_DESCRIPTION_MAX	500	/* characters */
#define CATEGORIES_SLUG_MAX		40	/* bytes: ^[a-z0-9][a-z0-9-]{0,39}$ */

/* The colours the schema allows, in the order the settings page offers them. */
extern const char *const categories_colours[];
extern const size_t categories_colours_count;

struct category {
	int64_t id;
	char slug[CATEGORIES_SLUG_MAX + 1];
	int builtin;
	char *name;
	char colour[16];
	char *description;
	int hidden;
	int position;
};

/* What a create or an update asks for: NULL (hidden: -1) leaves a member as it is on an
 * update, and takes the default on a create (the name is required there). */
struct category_input {
	const char *name;
	const char *colour;
	const char *description;
	int hidden;
};

/* Called once per refused member with the field ("name", "colour", "description") and
 * a sentence for the user. */
typedef void (*categories_bad_fn)(void *arg, const char *field, const char *message);

/* Checks in against the rules of the schema (creating: a name is required). Returns the
 * number of refused members. The uniqueness of the name is checked when storing. */
int categories_check(const struct category_input *in, int creating, categories_bad_fn bad,
    void *arg);
/* Whether s has the form of a slug. */
int categories_slug_valid(const char *s);
/* The slug a name gives (before making it unique): ASCII letters and digits lower-cased,
 * every other run of characters one '-', at most CATEGORIES_SLUG_MAX bytes; "category"
 * when nothing is left. out holds CATEGORIES_SLUG_MAX + 1 bytes. */
void categories_slug_from_name(const char *name, char *out);

enum categories_status {
	CATEGORIES_OK,
	CATEGORIES_NOT_FOUND,	/* no such category of this user */
	CATEGORIES_NAME_TAKEN,	/* another of the user's categories has this name (any case) */
	CATEGORIES_LIMIT,	/* the user has CATEGORIES_MAX categories already */
	CATEGORIES_BUILTIN,	/* a built-in category cannot be deleted */
	CATEGORIES_BAD_ORDER,	/* the ids are not each of the user's categories once */
	CATEGORIES_FAILED,	/* the database failed: err says why */
};

/* The user's categories in order (id 0), or category id alone. Returns the count, or -1
 * with err set. categories_free releases the list. */
long categories_list(PGconn *c, int64_t user_id, int64_t id, struct category **out,
    char *err, size_t errlen);
void categories_free(struct category *l, size_t n);

/* Adds a category of the user's own after the others, with a slug made from its name
 * (a number added when the user has it already); *id is its id. */
enum categories_status categories_create(PGconn *c, int64_t user_id,
    const struct category_input *in, int64_t *id, char *err, size_t errlen);
/* Changes what in gives of category id; the slug stays. */
enum categories_status categories_update(PGconn *c, int64_t user_id, int64_t id,
    const struct category_input *in, char *err, size_t errlen);
/* Puts the user's categories in the order of ids, which must name each of them once. */
enum categories_status categories_reorder(PGconn *c, int64_t user_id, const int64_t *ids,
    size_t n, char *err, size_t errlen);
/* Deletes a category of the user's own, in one transaction: its messages and threads go
 * back to untriaged (category and triaged_at NULL, the decision's details cleared), its
 * rules lose their category (and are disabled when that leaves them nothing to do), the
 * senders sorted into it and the model's counts for it are forgotten, and a screening
 * setting that named it goes back to Marketing. */
enum categories_status categories_delete(PGconn *c, int64_t user_id, int64_t id, char *err,
    size_t errlen);
/* How many of the user's messages and rules name slug, for the delete confirmation.
 * Returns 0 or -1. */
int categories_usage(PGconn *c, int64_t user_id, const char *slug, long *messages,
    long *rules, char *err, size_t errlen);

/* ---- Shared by categories.c and rules.c: the transactions of the triage settings
 * (statements go through pq.h). */

/* pq_exec under its former name: triage-db.c calls it; to go once it calls pq_exec. */
static inline PGresult *
categories_sql(PGconn *c, const char *what, const char *sql, int n,
    const char *const *params, char *err, size_t errlen)
{
	return pq_exec(c, what, sql, n, params, err, errlen);
}
/* Whether the first column of the first row of sql is true: 1, 0, or -1 with err set. */
int categories_sql_true(PGconn *c, const char *what, const char *sql, int n,
    const char *const *params, char *err, size_t errlen);
/* BEGIN and a lock on the user's triage settings (other changes of this user's
 * categories and rules wait for the transaction), so that counts and names checked in
 * it stay true until it commits. Returns 0, or -1 (rolled back) with err set. */
int categories_begin(PGconn *c, int64_t user_id, const char *what, char *err,
    size_t errlen);
/* COMMIT (0), or ROLLBACK (-1 with err set when the commit fails). */
int categories_commit(PGconn *c, const char *what, char *err, size_t errlen);
void categories_rollback(PGconn *c);

#endif
