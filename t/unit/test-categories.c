/* test-categories.c: categories and the storage of rules against a database of their
 * own (unit-db.h; skipped without MAILROOM_TEST_DATABASE_URL): the built-in ones of a new
 * user, checks and slugs, create with unique slugs and names, rename and hide (a
 * built-in keeps its slug), reorder, delete (messages back to untriaged, rules losing
 * their category, in one transaction; built-ins refused), another user's ids, and rules
 * stored, listed, moved, loaded for the classifier, limited and owned. */
#include "config.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "categories.h"
#include "rules.h"
#include "unit.h"
#include "unit-db.h"

static PGconn *conn;
static int64_t alice, bob;
static char err[512];

static long
q_long(const char *fmt, ...) MR_PRINTF(1, 2);

/* The value of a one-row, one-column query as a long (-1 when no row or NULL). */
static long
q_long(const char *fmt, ...)
{
	char sql[1024];
	va_list ap;
	PGresult *r;
	long v = -1;

	va_start(ap, fmt);
	vsnprintf(sql, sizeof sql, fmt, ap);
	va_end(ap);
	r = PQexec(conn, sql);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		fprintf(stderr, "%s: %s", sql, PQerrorMessage(conn));
		exit(1);
	}
	if (PQntuples(r) == 1 && !PQgetisnull(r, 0, 0))
		v = strtol(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	return v;
}

static void
q_exec(const char *fmt, ...) MR_PRINTF(1, 2);

static void
q_exec(const char *fmt, ...)
{
	char sql[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(sql, sizeof sql, fmt, ap);
	va_end(ap);
	unit_db_exec(conn, sql);
}

static int64_t
make_user(const char *email)
{
	q_exec("INSERT INTO users (email, display_name, password_hash) VALUES ('%s', 'U', "
	    "'$argon2id$x')", email);
	return q_long("SELECT id FROM users WHERE email = '%s'", email);
}

static void
ignore(void *arg, const char *field, const char *message)
{
	int *n = arg;

	(void)field;
	(void)message;
	(*n)++;
}

/* Creates category name for user; its id (0 when refused: *st says why). */
static int64_t
create(int64_t user, const char *name, enum categories_status *st)
{
	struct category_input in = { name, "teal", "Mine.", 0 };
	enum categories_status s;
	int64_t id;

	s = categories_create(conn, user, &in, &id, err, sizeof err);
	if (s == CATEGORIES_FAILED)
		fprintf(stderr, "create %s: %s\n", name, err);
	if (st != NULL)
		*st = s;
	return s == CATEGORIES_OK ? id : 0;
}

/* The slug of category id. */
static const char *
slug_of(int64_t user, int64_t id)
{
	static char slug[CATEGORIES_SLUG_MAX + 1];
	struct category *k;

	slug[0] = '\0';
	if (categories_list(conn, user, id, &k, err, sizeof err) == 1)
		snprintf(slug, sizeof slug, "%s", k->slug);
	categories_free(k, 1);
	return slug;
}

/* ---- tests */

static void
test_builtin(void)
{
	static const char *const slugs[] = { "to-respond", "fyi", "comment", "notification",
		"meeting-update", "awaiting-reply", "actioned", "marketing" };
	int64_t carol = make_user("carol@example.org");
	struct category *l;
	long n;

	n = categories_list(conn, carol, 0, &l, err, sizeof err);
	CU_ASSERT_EQUAL_FATAL(n, 8);
	for (long i = 0; i < n; i++) {
		CU_ASSERT_STRING_EQUAL(l[i].slug, slugs[i]);
		CU_ASSERT_TRUE(l[i].builtin);
		CU_ASSERT_FALSE(l[i].hidden);
		CU_ASSERT(l[i].name[0] != '\0');
		CU_ASSERT(l[i].description[0] != '\0');
	}
	CU_ASSERT_STRING_EQUAL(l[0].name, "To respond");
	categories_free(l, (size_t)n);
	/* Another user's id is not there. */
	n = categories_list(conn, alice, q_long("SELECT id FROM categories WHERE user_id = %"
	    PRId64 " AND slug = 'fyi'", carol), &l, err, sizeof err);
	CU_ASSERT_EQUAL(n, 0);
	categories_free(l, (size_t)n);
}

static void
test_check_and_slug(void)
{
	char slug[CATEGORIES_SLUG_MAX + 1], long_name[128];
	struct category_input in = { "Receipts", "teal", "", 0 };
	int nbad = 0;

	CU_ASSERT_EQUAL(categories_check(&in, 1, ignore, &nbad), 0);
	in.name = "";
	CU_ASSERT_EQUAL(categories_check(&in, 1, ignore, &nbad), 1);
	in.name = NULL;
	CU_ASSERT_EQUAL(categories_check(&in, 1, ignore, &nbad), 1);
	CU_ASSERT_EQUAL(categories_check(&in, 0, ignore, &nbad), 0);	/* update: unchanged */
	memset(long_name, 'x', 61);
	long_name[61] = '\0';
	in.name = long_name;
	CU_ASSERT_EQUAL(categories_check(&in, 1, ignore, &nbad), 1);
	long_name[60] = '\0';
	CU_ASSERT_EQUAL(categories_check(&in, 1, ignore, &nbad), 0);
	in.name = "tab\there";
	CU_ASSERT_EQUAL(categories_check(&in, 1, ignore, &nbad), 1);
	in.name = "Ok";
	in.colour = "purple";
	CU_ASSERT_EQUAL(categories_check(&in, 1, ignore, &nbad), 1);
	in.colour = "violet";
	in.description = "Two\nlines are fine";
	CU_ASSERT_EQUAL(categories_check(&in, 1, ignore, &nbad), 0);
	in.description = "A bell\a is not";
	CU_ASSERT_EQUAL(categories_check(&in, 1, ignore, &nbad), 1);

	categories_slug_from_name("Receipts & Invoices!", slug);
	CU_ASSERT_STRING_EQUAL(slug, "receipts-invoices");
	categories_slug_from_name("  --Caf\xc3\xa9 2026--", slug);
	CU_ASSERT_STRING_EQUAL(slug, "caf-2026");
	categories_slug_from_name("\xe6\x97\xa5\xe6\x9c\xac", slug);
	CU_ASSERT_STRING_EQUAL(slug, "category");
	categories_slug_from_name("abcdefghij abcdefghij abcdefghij abcdefghij abcdefghij", slug);
	CU_ASSERT(strlen(slug) <= CATEGORIES_SLUG_MAX);
	CU_ASSERT_TRUE(categories_slug_valid(slug));
	CU_ASSERT_TRUE(categories_slug_valid("to-respond"));
	CU_ASSERT_FALSE(categories_slug_valid("-x"));
	CU_ASSERT_FALSE(categories_slug_valid("X"));
	CU_ASSERT_FALSE(categories_slug_valid(""));
}

static void
test_create(void)
{
	enum categories_status st;
	int64_t a, b, c, d;

	a = create(alice, "Receipts", &st);
	CU_ASSERT(a > 0);
	CU_ASSERT_STRING_EQUAL(slug_of(alice, a), "receipts");
	/* The same name in another case: refused; another name with the same slug: a
	 * number. */
	CU_ASSERT_EQUAL(create(alice, "RECEIPTS", &st), 0);
	CU_ASSERT_EQUAL(st, CATEGORIES_NAME_TAKEN);
	b = create(alice, "Receipts!", &st);
	CU_ASSERT(b > 0);
	CU_ASSERT_STRING_EQUAL(slug_of(alice, b), "receipts-2");
	/* A name that gives a built-in's slug. */
	CU_ASSERT_EQUAL(create(alice, "To respond", &st), 0);
	CU_ASSERT_EQUAL(st, CATEGORIES_NAME_TAKEN);
	c = create(alice, "To-respond!", &st);
	CU_ASSERT(c > 0);
	CU_ASSERT_STRING_EQUAL(slug_of(alice, c), "to-respond-2");
	/* Bob may use the same name; his slug is his own. */
	d = create(bob, "Receipts", &st);
	CU_ASSERT(d > 0);
	CU_ASSERT_STRING_EQUAL(slug_of(bob, d), "receipts");
	/* New ones come last. */
	CU_ASSERT_EQUAL(q_long("SELECT position FROM categories WHERE id = %" PRId64, a), 9);
	CU_ASSERT_EQUAL(q_long("SELECT position FROM categories WHERE id = %" PRId64, c), 11);
	CU_ASSERT_EQUAL(q_long("SELECT builtin::int FROM categories WHERE id = %" PRId64, a), 0);
}

static void
test_limit(void)
{
	int64_t dave = make_user("dave@example.org");
	enum categories_status st;
	char name[32];
	long before;

	for (int i = 8; i < CATEGORIES_MAX; i++) {
		snprintf(name, sizeof name, "Cat %d", i);
		CU_ASSERT(create(dave, name, &st) > 0);
	}
	before = q_long("SELECT count(*) FROM categories WHERE user_id = %" PRId64, dave);
	CU_ASSERT_EQUAL(before, CATEGORIES_MAX);
	CU_ASSERT_EQUAL(create(dave, "One too many", &st), 0);
	CU_ASSERT_EQUAL(st, CATEGORIES_LIMIT);
	CU_ASSERT_EQUAL(q_long("SELECT count(*) FROM categories WHERE user_id = %" PRId64, dave),
	    before);
}

static void
test_update(void)
{
	int64_t fyi = q_long("SELECT id FROM categories WHERE user_id = %" PRId64
	    " AND slug = 'fyi'", alice);
	int64_t bob_fyi = q_long("SELECT id FROM categories WHERE user_id = %" PRId64
	    " AND slug = 'fyi'", bob);
	struct category_input in = { "For your information", "indigo", NULL, 1 };
	struct category *k;

	CU_ASSERT_EQUAL(categories_update(conn, alice, fyi, &in, err, sizeof err), CATEGORIES_OK);
	CU_ASSERT_EQUAL_FATAL(categories_list(conn, alice, fyi, &k, err, sizeof err), 1);
	CU_ASSERT_STRING_EQUAL(k->slug, "fyi");	/* a built-in keeps its slug */
	CU_ASSERT_STRING_EQUAL(k->name, "For your information");
	CU_ASSERT_STRING_EQUAL(k->colour, "indigo");
	CU_ASSERT_STRING_EQUAL(k->description, "Worth knowing, nothing to do.");
	CU_ASSERT_TRUE(k->hidden);
	categories_free(k, 1);
	/* Only what is given changes. */
	in = (struct category_input){ NULL, NULL, "Read later.", 0 };
	CU_ASSERT_EQUAL(categories_update(conn, alice, fyi, &in, err, sizeof err), CATEGORIES_OK);
	CU_ASSERT_EQUAL_FATAL(categories_list(conn, alice, fyi, &k, err, sizeof err), 1);
	CU_ASSERT_STRING_EQUAL(k->name, "For your information");
	CU_ASSERT_STRING_EQUAL(k->description, "Read later.");
	CU_ASSERT_FALSE(k->hidden);
	categories_free(k, 1);
	/* A name another category has; the same name in another case for itself. */
	in = (struct category_input){ "marketing", NULL, NULL, -1 };
	CU_ASSERT_EQUAL(categories_update(conn, alice, fyi, &in, err, sizeof err),
	    CATEGORIES_NAME_TAKEN);
	in.name = "FOR YOUR INFORMATION";
	CU_ASSERT_EQUAL(categories_update(conn, alice, fyi, &in, err, sizeof err), CATEGORIES_OK);
	/* Bob's category through Alice: not found, and unchanged. */
	in.name = "Hacked";
	CU_ASSERT_EQUAL(categories_update(conn, alice, bob_fyi, &in, err, sizeof err),
	    CATEGORIES_NOT_FOUND);
	CU_ASSERT_EQUAL(q_long("SELECT count(*) FROM categories WHERE name = 'Hacked'"), 0);
}

/* The ids of the user's categories in order, into ids (at most max); the count. */
static long
order(int64_t user, int64_t *ids, long max)
{
	struct category *l;
	long n = categories_list(conn, user, 0, &l, err, sizeof err);

	for (long i = 0; i < n && i < max; i++)
		ids[i] = l[i].id;
	categories_free(l, (size_t)n);
	return n;
}

static void
test_reorder(void)
{
	int64_t ids[64], rev[64], got[64], bad[64];
	long n = order(alice, ids, 64);

	CU_ASSERT_FATAL(n > 2 && n < 64);
	for (long i = 0; i < n; i++)
		rev[i] = ids[n - 1 - i];
	CU_ASSERT_EQUAL(categories_reorder(conn, alice, rev, (size_t)n, err, sizeof err),
	    CATEGORIES_OK);
	CU_ASSERT_EQUAL(order(alice, got, 64), n);
	CU_ASSERT_EQUAL(memcmp(got, rev, (size_t)n * sizeof *got), 0);
	/* Missing one, one twice, one of Bob's: refused, nothing changes. */
	CU_ASSERT_EQUAL(categories_reorder(conn, alice, ids, (size_t)n - 1, err, sizeof err),
	    CATEGORIES_BAD_ORDER);
	memcpy(bad, ids, (size_t)n * sizeof *bad);
	bad[1] = bad[0];
	CU_ASSERT_EQUAL(categories_reorder(conn, alice, bad, (size_t)n, err, sizeof err),
	    CATEGORIES_BAD_ORDER);
	bad[1] = q_long("SELECT id FROM categories WHERE user_id = %" PRId64 " LIMIT 1", bob);
	CU_ASSERT_EQUAL(categories_reorder(conn, alice, bad, (size_t)n, err, sizeof err),
	    CATEGORIES_BAD_ORDER);
	CU_ASSERT_EQUAL(order(alice, got, 64), n);
	CU_ASSERT_EQUAL(memcmp(got, rev, (size_t)n * sizeof *got), 0);
	CU_ASSERT_EQUAL(categories_reorder(conn, alice, ids, (size_t)n, err, sizeof err),
	    CATEGORIES_OK);
}

/* Stores a rule of user from JSON text; its id, or 0 (st says why). */
static int64_t
store_rule(int64_t user, const char *text, enum rules_status *st)
{
	json_t *j = json_loads(text, 0, NULL);
	struct rule r;
	int nbad = 0;
	int64_t id = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(j);
	CU_ASSERT_EQUAL(rules_parse(j, &r, ignore, &nbad), 0);
	*st = rules_create(conn, user, &r, &id, err, sizeof err);
	if (*st == RULES_FAILED)
		fprintf(stderr, "rule: %s\n", err);
	rule_free(&r);
	json_decref(j);
	return id;
}

static void
test_delete(void)
{
	enum categories_status st;
	enum rules_status rst;
	int64_t travel = create(alice, "Travel", &st), bob_travel = create(bob, "Travel", &st);
	int64_t acct_a, acct_b, only, with_action, to_respond;

	CU_ASSERT_FATAL(travel > 0 && bob_travel > 0);
	/* Mail of Alice and Bob in their "travel", and one of Alice's elsewhere. */
	q_exec("INSERT INTO mail_accounts (user_id, address) VALUES (%" PRId64 ", 'a@x.org'), "
	    "(%" PRId64 ", 'b@x.org')", alice, bob);
	acct_a = q_long("SELECT id FROM mail_accounts WHERE address = 'a@x.org'");
	acct_b = q_long("SELECT id FROM mail_accounts WHERE address = 'b@x.org'");
	q_exec("INSERT INTO mail_messages (account_id, user_id, message_id, category, "
	    "category_source, category_confidence, triaged_at, category_reasons) VALUES "
	    "(%" PRId64 ", %" PRId64 ", 'm1', 'travel', 'rule', 0.9, now(), '[\"r\"]'), "
	    "(%" PRId64 ", %" PRId64 ", 'm2', 'travel', 'classifier', 0.5, now(), '[]'), "
	    "(%" PRId64 ", %" PRId64 ", 'm3', 'fyi', 'classifier', 0.5, now(), '[]'), "
	    "(%" PRId64 ", %" PRId64 ", 'm4', 'travel', 'classifier', 0.5, now(), '[]')",
	    acct_a, alice, acct_a, alice, acct_a, alice, acct_b, bob);
	q_exec("INSERT INTO mail_threads (user_id, account_id, category) VALUES "
	    "(%" PRId64 ", %" PRId64 ", 'travel')", alice, acct_a);
	q_exec("INSERT INTO sender_categories (user_id, sender, category) VALUES "
	    "(%" PRId64 ", 'air@line.example', 'travel')", alice);
	q_exec("INSERT INTO triage_features (user_id, feature, category, count) VALUES "
	    "(%" PRId64 ", 'w:flight', 'travel', 3), (%" PRId64 ", 'w:flight', 'fyi', 1)", alice,
	    alice);
	only = store_rule(alice, "{\"name\": \"Trips\", \"conditions\": [{\"field\": \"subject\", "
	    "\"op\": \"contains\", \"value\": \"flight\"}], \"category\": \"travel\"}", &rst);
	with_action = store_rule(alice, "{\"name\": \"Trips, starred\", \"conditions\": "
	    "[{\"field\": \"subject\", \"op\": \"contains\", \"value\": \"hotel\"}], "
	    "\"category\": \"travel\", \"actions\": [{\"type\": \"star\"}]}", &rst);
	CU_ASSERT_FATAL(only > 0 && with_action > 0);

	/* Built-in: refused; Bob's through Alice: not found. Nothing changed. */
	to_respond = q_long("SELECT id FROM categories WHERE user_id = %" PRId64
	    " AND slug = 'to-respond'", alice);
	CU_ASSERT_EQUAL(categories_delete(conn, alice, to_respond, err, sizeof err),
	    CATEGORIES_BUILTIN);
	CU_ASSERT_EQUAL(categories_delete(conn, alice, bob_travel, err, sizeof err),
	    CATEGORIES_NOT_FOUND);
	CU_ASSERT_EQUAL(q_long("SELECT count(*) FROM categories WHERE id IN (%" PRId64 ", %"
	    PRId64 ")", to_respond, bob_travel), 2);

	CU_ASSERT_EQUAL(categories_delete(conn, alice, travel, err, sizeof err), CATEGORIES_OK);
	CU_ASSERT_EQUAL(q_long("SELECT count(*) FROM categories WHERE id = %" PRId64, travel), 0);
	/* Alice's mail of it is untriaged again, with its decision forgotten. */
	CU_ASSERT_EQUAL(q_long("SELECT count(*) FROM mail_messages WHERE user_id = %" PRId64
	    " AND message_id IN ('m1', 'm2') AND category IS NULL AND triaged_at IS NULL AND "
	    "category_source IS NULL AND category_confidence IS NULL AND category_reasons = "
	    "'[]'", alice), 2);
	CU_ASSERT_EQUAL(q_long("SELECT count(*) FROM mail_messages WHERE message_id = 'm3' AND "
	    "category = 'fyi' AND triaged_at IS NOT NULL"), 1);
	CU_ASSERT_EQUAL(q_long("SELECT count(*) FROM mail_threads WHERE user_id = %" PRId64
	    " AND category = 'travel'", alice), 0);
	/* Bob's mail in his own "travel" is untouched. */
	CU_ASSERT_EQUAL(q_long("SELECT count(*) FROM mail_messages WHERE message_id = 'm4' AND "
	    "category = 'travel' AND triaged_at IS NOT NULL"), 1);
	/* The rules lost their category; the one left with nothing to do is disabled. */
	CU_ASSERT_EQUAL(q_long("SELECT count(*) FROM triage_rules WHERE id = %" PRId64
	    " AND category IS NULL AND NOT enabled", only), 1);
	CU_ASSERT_EQUAL(q_long("SELECT count(*) FROM triage_rules WHERE id = %" PRId64
	    " AND category IS NULL AND enabled", with_action), 1);
	CU_ASSERT_EQUAL(q_long("SELECT count(*) FROM sender_categories WHERE user_id = %" PRId64,
	    alice), 0);
	CU_ASSERT_EQUAL(q_long("SELECT count(*) FROM triage_features WHERE user_id = %" PRId64,
	    alice), 1);
	/* Deleting it again: not found. */
	CU_ASSERT_EQUAL(categories_delete(conn, alice, travel, err, sizeof err),
	    CATEGORIES_NOT_FOUND);
	rules_delete(conn, alice, only, err, sizeof err);
	rules_delete(conn, alice, with_action, err, sizeof err);
}

static void
test_delete_atomic(void)
{
	enum categories_status st;
	int64_t trash = create(alice, "Trash can", &st);

	CU_ASSERT_FATAL(trash > 0);
	q_exec("INSERT INTO mail_messages (account_id, user_id, message_id, category, triaged_at) "
	    "SELECT id, user_id, 'm5', 'trash-can', now() FROM mail_accounts WHERE address = "
	    "'a@x.org'");
	/* A failure half-way (a trigger refusing the last step) leaves everything as it
	 * was. */
	q_exec("CREATE FUNCTION t_refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
	    "RAISE EXCEPTION 'refused'; END $$");
	q_exec("CREATE TRIGGER t_refuse BEFORE DELETE ON categories FOR EACH ROW EXECUTE "
	    "FUNCTION t_refuse()");
	CU_ASSERT_EQUAL(categories_delete(conn, alice, trash, err, sizeof err), CATEGORIES_FAILED);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "refused"));
	CU_ASSERT_EQUAL(q_long("SELECT count(*) FROM mail_messages WHERE message_id = 'm5' AND "
	    "category = 'trash-can' AND triaged_at IS NOT NULL"), 1);
	q_exec("DROP TRIGGER t_refuse ON categories");
	q_exec("DROP FUNCTION t_refuse()");
	CU_ASSERT_EQUAL(PQtransactionStatus(conn), PQTRANS_IDLE);
	CU_ASSERT_EQUAL(categories_delete(conn, alice, trash, err, sizeof err), CATEGORIES_OK);
	CU_ASSERT_EQUAL(q_long("SELECT count(*) FROM mail_messages WHERE message_id = 'm5' AND "
	    "category IS NULL AND triaged_at IS NULL"), 1);
}

static void
test_usage(void)
{
	long messages = -1, rules = -1;

	CU_ASSERT_EQUAL(categories_usage(conn, alice, "fyi", &messages, &rules, err, sizeof err),
	    0);
	CU_ASSERT_EQUAL(messages, 1);
	CU_ASSERT_EQUAL(rules, 0);
}

static void
test_rules_store(void)
{
	static const char base[] = "{\"name\": \"R%d\", \"enabled\": %s, \"conditions\": "
	    "[{\"field\": \"subject\", \"op\": \"contains\", \"value\": \"r%d\"}], "
	    "\"category\": \"%s\"}";
	int64_t eve = make_user("eve@example.org"), ids[4], id, extra;
	enum rules_status st;
	struct rule_set *set;
	char text[512];
	json_t *j;
	struct rule r;
	int nbad = 0;

	for (int i = 0; i < 4; i++) {
		snprintf(text, sizeof text, base, i, i == 2 ? "false" : "true", i, "fyi");
		ids[i] = store_rule(eve, text, &st);
		CU_ASSERT_EQUAL(st, RULES_OK);
	}
	/* A category the user does not have (Bob's "receipts" is not Eve's). */
	snprintf(text, sizeof text, base, 9, "true", 9, "receipts");
	CU_ASSERT_EQUAL(store_rule(eve, text, &st), 0);
	CU_ASSERT_EQUAL(st, RULES_NO_CATEGORY);
	CU_ASSERT_EQUAL(q_long("SELECT count(*) FROM triage_rules WHERE user_id = %" PRId64, eve),
	    4);

	/* All of them in order; the classifier's set leaves the disabled one out. */
	CU_ASSERT_EQUAL_FATAL(rules_list(conn, eve, 0, &set, err, sizeof err), 4);
	for (int i = 0; i < 4; i++) {
		CU_ASSERT_EQUAL(set->rules[i].id, ids[i]);
		CU_ASSERT_EQUAL(set->rules[i].position, i + 1);
		CU_ASSERT_PTR_NULL(set->rules[i].error);
		CU_ASSERT_EQUAL(strlen(set->rules[i].created_at), 20);
	}
	rules_set_free(set);
	CU_ASSERT_EQUAL_FATAL(rules_load(conn, eve, &set, err, sizeof err), 0);
	CU_ASSERT_EQUAL(set->n, 3);
	CU_ASSERT_EQUAL(set->rules[2].id, ids[3]);
	rules_set_free(set);

	/* Move the last first, then the first to the end (past it). */
	CU_ASSERT_EQUAL(rules_move(conn, eve, ids[3], 1, err, sizeof err), RULES_OK);
	CU_ASSERT_EQUAL(rules_move(conn, eve, ids[3], 99, err, sizeof err), RULES_OK);
	CU_ASSERT_EQUAL(rules_move(conn, eve, ids[1], 1, err, sizeof err), RULES_OK);
	CU_ASSERT_EQUAL_FATAL(rules_list(conn, eve, 0, &set, err, sizeof err), 4);
	CU_ASSERT_EQUAL(set->rules[0].id, ids[1]);
	CU_ASSERT_EQUAL(set->rules[1].id, ids[0]);
	CU_ASSERT_EQUAL(set->rules[2].id, ids[2]);
	CU_ASSERT_EQUAL(set->rules[3].id, ids[3]);
	rules_set_free(set);
	CU_ASSERT_EQUAL(rules_move(conn, alice, ids[1], 3, err, sizeof err), RULES_NOT_FOUND);

	/* Update, and another user's update and delete: not found, nothing changes. */
	j = json_loads("{\"name\": \"Renamed\", \"conditions\": [{\"field\": \"from\", \"op\": "
	    "\"is\", \"value\": \"x@y.z\"}], \"category\": \"marketing\", \"actions\": "
	    "[{\"type\": \"archive\"}]}", 0, NULL);
	CU_ASSERT_EQUAL_FATAL(rules_parse(j, &r, ignore, &nbad), 0);
	json_decref(j);
	CU_ASSERT_EQUAL(rules_update(conn, alice, ids[0], &r, err, sizeof err), RULES_NOT_FOUND);
	CU_ASSERT_EQUAL(rules_delete(conn, alice, ids[0], err, sizeof err), RULES_NOT_FOUND);
	CU_ASSERT_EQUAL(rules_update(conn, eve, ids[0], &r, err, sizeof err), RULES_OK);
	rule_free(&r);
	CU_ASSERT_EQUAL_FATAL(rules_list(conn, eve, ids[0], &set, err, sizeof err), 1);
	CU_ASSERT_STRING_EQUAL(set->rules[0].name, "Renamed");
	CU_ASSERT_STRING_EQUAL(set->rules[0].category, "marketing");
	CU_ASSERT_EQUAL(set->rules[0].nactions, 1);
	CU_ASSERT_EQUAL(set->rules[0].position, 2);	/* its place is kept */
	rules_set_free(set);
	CU_ASSERT_EQUAL(rules_list(conn, alice, ids[0], &set, err, sizeof err), 0);
	rules_set_free(set);

	/* A rule edited by hand into one that does not parse: listed with its error,
	 * left out of the classifier's set. */
	q_exec("UPDATE triage_rules SET conditions = '[{\"field\": \"subject\", \"op\": "
	    "\"matches\", \"value\": \"(\"}]' WHERE id = %" PRId64, ids[3]);
	CU_ASSERT_EQUAL_FATAL(rules_list(conn, eve, ids[3], &set, err, sizeof err), 1);
	CU_ASSERT_PTR_NOT_NULL(set->rules[0].error);
	CU_ASSERT_PTR_NOT_NULL(strstr(set->rules[0].error, "Rule \"R3\", condition 1 (subject)"));
	rules_set_free(set);
	CU_ASSERT_EQUAL_FATAL(rules_load(conn, eve, &set, err, sizeof err), 0);
	CU_ASSERT_EQUAL(set->n, 2);	/* the disabled one and the broken one are out */
	for (size_t i = 0; i < set->n; i++)
		CU_ASSERT_NOT_EQUAL(set->rules[i].id, ids[3]);
	rules_set_free(set);

	/* The limit: 50 rules. */
	for (int i = 4; i < RULES_MAX; i++) {
		snprintf(text, sizeof text, base, i, "true", i, "fyi");
		CU_ASSERT(store_rule(eve, text, &st) > 0);
	}
	snprintf(text, sizeof text, base, 50, "true", 50, "fyi");
	extra = store_rule(eve, text, &st);
	CU_ASSERT_EQUAL(extra, 0);
	CU_ASSERT_EQUAL(st, RULES_LIMIT);
	CU_ASSERT_EQUAL(q_long("SELECT count(*) FROM triage_rules WHERE user_id = %" PRId64, eve),
	    RULES_MAX);
	CU_ASSERT_EQUAL(rules_delete(conn, eve, ids[2], err, sizeof err), RULES_OK);
	CU_ASSERT_EQUAL(rules_delete(conn, eve, ids[2], err, sizeof err), RULES_NOT_FOUND);
	id = store_rule(eve, text, &st);
	CU_ASSERT(id > 0);
	CU_ASSERT_EQUAL(PQtransactionStatus(conn), PQTRANS_IDLE);
}

int
main(void)
{
	static const struct unit_test tests[] = {
		{ "built-in categories of a new user", test_builtin },
		{ "checks and slugs", test_check_and_slug },
		{ "create: unique slugs and names", test_create },
		{ "the limit of categories", test_limit },
		{ "rename, recolour, hide", test_update },
		{ "reorder", test_reorder },
		{ "delete: mail back to untriaged, rules lose it", test_delete },
		{ "delete is one transaction", test_delete_atomic },
		{ "usage counts", test_usage },
		{ "rules: store, list, move, load, limit, owner", test_rules_store },
		{ NULL, NULL }
	};
	int rc;

	if (unit_db_create() == NULL) {
		fprintf(stderr, "test-categories: MAILROOM_TEST_DATABASE_URL not set: skipped\n");
		return UNIT_DB_SKIP;
	}
	conn = unit_db_connect();
	alice = make_user("alice@example.org");
	bob = make_user("bob@example.org");
	rc = unit_run("categories", tests);
	PQfinish(conn);
	unit_db_drop();
	return rc;
}
