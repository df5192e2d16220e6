/* test-rules.c: the rule parser and evaluator of rules.c, without a database: every
 * field and operator, negation, all/any, case folding beyond ASCII, headers through the
 * callback, the body's bound, the order of a rule set, and every refusal of the parser
 * with the member it names (conditions by index), regular expressions that do not
 * compile or are refused, and the limits. Storage is tested in test-categories.c. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "rules.h"
#include "unit.h"
#include "util.h"

/* ---- helpers */

/* The refusals of one parse: member path and message, in order. */
struct errs {
	char field[32][64];
	char message[32][512];
	int n;
};

static void
collect(void *arg, const char *field, const char *message)
{
	struct errs *e = arg;

	if (e->n < 32) {
		snprintf(e->field[e->n], sizeof e->field[0], "%s", field);
		snprintf(e->message[e->n], sizeof e->message[0], "%s", message);
	}
	e->n++;
}

/* The message of the refusal of field, or NULL. */
static const char *
err_for(const struct errs *e, const char *field)
{
	for (int i = 0; i < e->n && i < 32; i++) {
		if (strcmp(e->field[i], field) == 0)
			return e->message[i];
	}
	return NULL;
}

/* Parses the JSON text into r; the number of refusals (collected into e). */
static int
parse(const char *text, struct rule *r, struct errs *e)
{
	json_error_t jerr;
	json_t *j = json_loads(text, 0, &jerr);
	int n;

	memset(e, 0, sizeof *e);
	if (j == NULL) {
		fprintf(stderr, "bad test JSON: %s: %s\n", text, jerr.text);
		exit(1);
	}
	n = rules_parse(j, r, collect, e);
	json_decref(j);
	return n;
}

/* A rule with one condition (field, op, value, negate), to marketing. */
static int
one(struct rule *r, const char *field, const char *op, const char *value, int negate)
{
	json_t *j = json_pack("{s:s, s:[{s:s, s:s, s:s, s:b}], s:s}", "name", "T",
	    "conditions", "field", field, "op", op, "value", value, "negate", negate,
	    "category", "marketing");
	struct errs e = { .n = 0 };
	int n = rules_parse(j, r, collect, &e);

	json_decref(j);
	return n;
}

/* The headers of a test message: name, value pairs. */
static const char *const headers[][2] = {
	{ "List-Id", "Weekly News <news.example.org>" },
	{ "Received", "from a" },
	{ "Received", "from b.relay.example" },
	{ "X-Spam", "YES" },
};

static const char *
header_fn(void *arg, const char *name, size_t i)
{
	size_t *calls = arg;

	if (calls != NULL)
		(*calls)++;
	for (size_t k = 0; k < MR_ARRAY_LEN(headers); k++) {
		if (strcasecmp(headers[k][0], name) == 0 && i-- == 0)
			return headers[k][1];
	}
	return NULL;
}

static const struct rule_addr to_list[] = {
	{ "ada@example.org", "Ada Lovelace" },
	{ "team@lists.example.org", NULL },
};
static const struct rule_addr cc_list[] = {
	{ "grace@navy.example", "Grace Hopper" },
};

static const char body_text[] = "Hello,\nplease find the INVOICE attached.\nRegards";

static struct rule_msg
message(void)
{
	struct rule_msg m = {
		"Billing@Shop.Example.COM", "Shop Billing Team", to_list, 2, cc_list, 1,
		"  Your Invoice #42 is ready  ", body_text, sizeof body_text - 1, header_fn, NULL
	};

	return m;
}

/* Whether a one-condition rule holds for the test message. */
static int
holds(const char *field, const char *op, const char *value, int negate)
{
	struct rule_msg m = message();
	struct rule r;
	int hit;

	if (one(&r, field, op, value, negate) != 0) {
		rule_free(&r);
		return -1;
	}
	hit = rules_match(&r, &m);
	rule_free(&r);
	return hit;
}

/* ---- parsing */

static void
test_parse_valid(void)
{
	static const char text[] = "{\"name\": \"Newsletters\", \"enabled\": false, "
	    "\"match\": \"any\", \"conditions\": [{\"field\": \"header:List-Id\", \"op\": "
	    "\"contains\", \"value\": \"  news \"}, {\"field\": \"from\", \"op\": \"matches\", "
	    "\"value\": \"^no-?reply@\", \"negate\": true}], \"category\": \"marketing\", "
	    "\"actions\": [{\"type\": \"archive\"}, {\"type\": \"move\", \"folder\": "
	    "\"News/Weekly\"}], \"id\": 7, \"position\": 3, \"created_at\": \"x\"}";
	struct rule r, back;
	struct errs e;
	json_t *j, *k;
	char *s;

	CU_ASSERT_EQUAL_FATAL(parse(text, &r, &e), 0);
	CU_ASSERT_STRING_EQUAL(r.name, "Newsletters");
	CU_ASSERT_EQUAL(r.enabled, 0);
	CU_ASSERT_EQUAL(r.match_any, 1);
	CU_ASSERT_EQUAL_FATAL(r.nconditions, 2);
	CU_ASSERT_EQUAL(r.conditions[0].field, RULE_FIELD_HEADER);
	CU_ASSERT_STRING_EQUAL(r.conditions[0].header, "List-Id");
	CU_ASSERT_STRING_EQUAL(r.conditions[0].value, "news");
	CU_ASSERT_EQUAL(r.conditions[1].op, RULE_OP_MATCHES);
	CU_ASSERT_EQUAL(r.conditions[1].negate, 1);
	CU_ASSERT_EQUAL(r.conditions[1].has_re, 1);
	CU_ASSERT_STRING_EQUAL(r.category, "marketing");
	CU_ASSERT_EQUAL_FATAL(r.nactions, 2);
	CU_ASSERT_EQUAL(r.actions[1].type, RULE_ACTION_MOVE);
	CU_ASSERT_STRING_EQUAL(r.actions[1].folder, "News/Weekly");
	CU_ASSERT_EQUAL(r.id, 0);	/* ignored members are not read */

	/* The JSON of a rule reads back into the same rule. */
	j = rules_json(&r);
	CU_ASSERT_PTR_NULL(json_object_get(j, "id"));
	memset(&e, 0, sizeof e);
	CU_ASSERT_EQUAL_FATAL(rules_parse(j, &back, collect, &e), 0);
	k = rules_json(&back);
	CU_ASSERT_TRUE(json_equal(j, k));
	s = json_dumps(k, JSON_COMPACT | JSON_SORT_KEYS);
	CU_ASSERT_STRING_EQUAL(s, "{\"actions\":[{\"type\":\"archive\"},{\"folder\":"
	    "\"News/Weekly\",\"type\":\"move\"}],\"category\":\"marketing\",\"conditions\":"
	    "[{\"field\":\"header:List-Id\",\"negate\":false,\"op\":\"contains\",\"value\":"
	    "\"news\"},{\"field\":\"from\",\"negate\":true,\"op\":\"matches\",\"value\":"
	    "\"^no-?reply@\"}],\"enabled\":false,\"match\":\"any\",\"name\":\"Newsletters\"}");
	free(s);
	json_decref(j);
	json_decref(k);
	rule_free(&back);
	rule_free(&r);

	/* Defaults: enabled, all; actions only, no category. */
	CU_ASSERT_EQUAL_FATAL(parse("{\"name\": \"Star boss\", \"conditions\": [{\"field\": "
	    "\"from\", \"op\": \"is\", \"value\": \"boss@example.org\"}], \"category\": null, "
	    "\"actions\": [{\"type\": \"star\"}, {\"type\": \"mark_read\"}]}", &r, &e), 0);
	CU_ASSERT_EQUAL(r.enabled, 1);
	CU_ASSERT_EQUAL(r.match_any, 0);
	CU_ASSERT_PTR_NULL(r.category);
	CU_ASSERT_EQUAL(r.nactions, 2);
	rule_free(&r);
}

static void
test_names(void)
{
	static const char *const fields[] = { "from", "domain", "to", "cc", "recipients",
		"subject", "body" };
	static const char *const ops[] = { "contains", "is", "starts", "ends", "matches" };
	static const char *const bad_fields[] = { "", "header", "header:", "header:Bad Name",
		"header:X:Y", "sender", "FROM", "header:\xc3\xa9" };
	char *h;

	for (size_t i = 0; i < MR_ARRAY_LEN(fields); i++) {
		CU_ASSERT_EQUAL(rules_field_parse(fields[i], NULL), (int)i);
		CU_ASSERT_STRING_EQUAL(rules_field_name((enum rule_field)i), fields[i]);
	}
	CU_ASSERT_EQUAL(rules_field_parse("header:X-Mailer", &h), RULE_FIELD_HEADER);
	CU_ASSERT_STRING_EQUAL(h, "X-Mailer");
	free(h);
	for (size_t i = 0; i < MR_ARRAY_LEN(bad_fields); i++)
		CU_ASSERT_EQUAL(rules_field_parse(bad_fields[i], NULL), -1);
	for (size_t i = 0; i < MR_ARRAY_LEN(ops); i++) {
		CU_ASSERT_EQUAL(rules_op_parse(ops[i]), (int)i);
		CU_ASSERT_STRING_EQUAL(rules_op_name((enum rule_op)i), ops[i]);
	}
	CU_ASSERT_EQUAL(rules_op_parse("equals"), -1);
	CU_ASSERT_EQUAL(rules_action_parse("mark_read"), RULE_ACTION_MARK_READ);
	CU_ASSERT_EQUAL(rules_action_parse("delete"), -1);
}

/* One refusal of the rule text, at field, with a message containing words. */
static void
refused(const char *text, const char *field, const char *words)
{
	struct rule r;
	struct errs e;
	const char *msg;

	CU_ASSERT(parse(text, &r, &e) > 0);
	msg = err_for(&e, field);
	if (msg == NULL || strstr(msg, words) == NULL) {
		fprintf(stderr, "\n%s\n  wanted %s: ...%s...; got:", text, field, words);
		for (int i = 0; i < e.n && i < 32; i++)
			fprintf(stderr, " [%s: %s]", e.field[i], e.message[i]);
		fprintf(stderr, "\n");
	}
	CU_ASSERT_PTR_NOT_NULL(msg);
	CU_ASSERT(msg != NULL && strstr(msg, words) != NULL);
	rule_free(&r);
}

#define COND(x) "{\"name\": \"R1\", \"conditions\": [" x "], \"category\": \"fyi\"}"
#define OKC "{\"field\": \"subject\", \"op\": \"contains\", \"value\": \"a\"}"

static void
test_refusals(void)
{
	struct rule r;
	struct errs e;

	CU_ASSERT(parse("[1, 2]", &r, &e) > 0);
	CU_ASSERT_STRING_EQUAL(e.field[0], "rule");
	rule_free(&r);
	refused("{\"conditions\": [" OKC "], \"category\": \"fyi\"}", "name", "Name the rule");
	refused("{\"name\": \"\", \"conditions\": [" OKC "], \"category\": \"fyi\"}", "name",
	    "Name the rule");
	refused("{\"name\": 5, \"conditions\": [" OKC "], \"category\": \"fyi\"}", "name",
	    "letters");
	refused("{\"name\": \"a\\u0007b\", \"conditions\": [" OKC "], \"category\": \"fyi\"}",
	    "name", "letters");
	refused("{\"name\": \"R1\", \"conditions\": [" OKC "], \"category\": \"fyi\", "
	    "\"enabled\": \"yes\"}", "enabled", "true or false");
	refused("{\"name\": \"R1\", \"match\": \"most\", \"conditions\": [" OKC "], "
	    "\"category\": \"fyi\"}", "match", "all");
	refused("{\"name\": \"R1\", \"conditions\": [], \"category\": \"fyi\"}", "conditions",
	    "no conditions");
	refused("{\"name\": \"R1\", \"conditions\": {}, \"category\": \"fyi\"}", "conditions",
	    "no conditions");
	refused("{\"name\": \"R1\", \"conditions\": [" OKC "], \"category\": \"Not A Slug\"}",
	    "category", "slug");
	refused("{\"name\": \"R1\", \"conditions\": [" OKC "]}", "category", "does nothing");
	refused("{\"name\": \"R1\", \"conditions\": [" OKC "], \"category\": \"fyi\", "
	    "\"colour\": \"red\"}", "colour", "Unknown member");
	/* Conditions are named by index in the path and by number in the message. */
	refused(COND(OKC ", {\"field\": \"sender\", \"op\": \"is\", \"value\": \"x\"}"),
	    "conditions[1].field", "Rule \"R1\", condition 2: choose what to look at");
	refused(COND(OKC ", " OKC ", {\"field\": \"to\", \"op\": \"like\", \"value\": \"x\"}"),
	    "conditions[2].op", "Rule \"R1\", condition 3 (to): choose how to compare");
	refused(COND("{\"field\": \"to\", \"op\": \"is\", \"value\": \"\"}"),
	    "conditions[0].value", "give a value");
	refused(COND("{\"field\": \"to\", \"op\": \"is\", \"value\": \"   \"}"),
	    "conditions[0].value", "give a value");
	refused(COND("{\"field\": \"to\", \"op\": \"is\"}"), "conditions[0].value",
	    "give a value");
	refused(COND("{\"field\": \"to\", \"op\": \"is\", \"value\": 3}"), "conditions[0].value",
	    "text");
	refused(COND("{\"field\": \"to\", \"op\": \"is\", \"value\": \"a\\nb\"}"),
	    "conditions[0].value", "one line");
	refused(COND("{\"field\": \"to\", \"op\": \"is\", \"value\": \"a\", \"negate\": 1}"),
	    "conditions[0].negate", "true or false");
	refused(COND("{\"field\": \"to\", \"op\": \"is\", \"value\": \"a\", \"not\": true}"),
	    "conditions[0].not", "Unknown member");
	refused(COND(OKC ", 7"), "conditions[1].field", "condition 2: a condition is an object");
	refused(COND("{\"field\": \"header:\", \"op\": \"is\", \"value\": \"a\"}"),
	    "conditions[0].field", "header:Name");
	/* Actions. */
	refused("{\"name\": \"R1\", \"conditions\": [" OKC "], \"actions\": [{\"type\": "
	    "\"archive\"}, {\"type\": \"archive\"}]}", "actions[1].type", "there already");
	refused("{\"name\": \"R1\", \"conditions\": [" OKC "], \"actions\": [{\"type\": "
	    "\"delete\"}]}", "actions[0].type", "archive, mark_read, star or move");
	refused("{\"name\": \"R1\", \"conditions\": [" OKC "], \"actions\": [{\"type\": "
	    "\"move\"}]}", "actions[0].folder", "name the folder");
	refused("{\"name\": \"R1\", \"conditions\": [" OKC "], \"actions\": [{\"type\": "
	    "\"star\", \"folder\": \"X\"}]}", "actions[0].folder", "only move");
	refused("{\"name\": \"R1\", \"conditions\": [" OKC "], \"actions\": \"archive\"}",
	    "actions", "list of objects");
	refused("{\"name\": \"R1\", \"conditions\": [" OKC "], \"actions\": [\"archive\"]}",
	    "actions[0].type", "an object");
}

/* A string of n copies of ch (malloc'd). */
static char *
repeat(char ch, size_t n)
{
	char *s = xmalloc(n + 1);

	memset(s, ch, n);
	s[n] = '\0';
	return s;
}

static void
test_limits(void)
{
	json_t *j, *conds;
	struct rule r;
	struct errs e;
	char *v;

	/* 100 characters of name, 500 of value, 20 conditions: fine; one more: refused. */
	v = repeat('n', 100);
	conds = json_array();
	for (int i = 0; i < RULES_CONDITIONS_MAX; i++)
		json_array_append_new(conds, json_pack("{s:s, s:s, s:s}", "field", "body", "op",
		    "contains", "value", "x"));
	j = json_pack("{s:s, s:O, s:s}", "name", v, "conditions", conds, "category", "fyi");
	memset(&e, 0, sizeof e);
	CU_ASSERT_EQUAL(rules_parse(j, &r, collect, &e), 0);
	rule_free(&r);
	json_array_append_new(conds, json_pack("{s:s, s:s, s:s}", "field", "body", "op",
	    "contains", "value", "x"));
	json_object_set(j, "conditions", conds);
	memset(&e, 0, sizeof e);
	CU_ASSERT(rules_parse(j, &r, collect, &e) > 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(err_for(&e, "conditions"), "at most 20"));
	rule_free(&r);
	json_decref(conds);
	free(v);
	v = repeat('n', 101);
	json_object_set_new(j, "name", json_string(v));
	json_object_set_new(j, "conditions", json_pack("[{s:s, s:s, s:s}]", "field", "body",
	    "op", "contains", "value", "x"));
	memset(&e, 0, sizeof e);
	CU_ASSERT(rules_parse(j, &r, collect, &e) > 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(err_for(&e, "name"), "at most 100"));
	rule_free(&r);
	json_decref(j);
	free(v);

	/* 500 characters of value (counted in characters, not bytes) pass, 501 do not. */
	v = xmalloc(1001);
	for (int i = 0; i < 500; i++)
		memcpy(v + 2 * i, "\xc3\xa9", 2);
	v[1000] = '\0';
	CU_ASSERT_EQUAL(one(&r, "subject", "contains", v, 0), 0);
	rule_free(&r);
	free(v);
	v = repeat('x', 501);
	j = json_pack("{s:s, s:[{s:s, s:s, s:s}], s:s}", "name", "Long", "conditions", "field",
	    "subject", "op", "is", "value", v, "category", "fyi");
	memset(&e, 0, sizeof e);
	CU_ASSERT(rules_parse(j, &r, collect, &e) > 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(err_for(&e, "conditions[0].value"), "at most 500"));
	rule_free(&r);
	json_decref(j);
	free(v);
	/* A folder of 501 characters. */
	v = repeat('f', 501);
	j = json_pack("{s:s, s:[{s:s, s:s, s:s}], s:[{s:s, s:s}]}", "name", "F", "conditions",
	    "field", "subject", "op", "is", "value", "x", "actions", "type", "move", "folder", v);
	memset(&e, 0, sizeof e);
	CU_ASSERT(rules_parse(j, &r, collect, &e) > 0);
	CU_ASSERT_PTR_NOT_NULL(err_for(&e, "actions[0].folder"));
	rule_free(&r);
	json_decref(j);
	free(v);
}

static void
test_regex_errors(void)
{
	static const struct {
		const char *pattern, *words;
	} bad[] = {
		{ "(unclosed", "not valid" },
		{ "[a-", "not valid" },
		{ "(a)\\1", "back-references" },
		{ "a{101}", "at most 100" },
		{ "(a{50}){50}", "multiply to more than 1000" },
		{ "a{2,200}", "at most 100" },
		/* Found by fuzz-rules: stacked repetitions made glibc's regcomp take GBs. */
		{ "(a{5}|[[2alpha:]++++++++++]{2,3})+$", "cannot follow another" },
		{ "a*{2}", "cannot follow another" },
		{ "a?b?c?d?e?f?g?h?i?j?k?l?m?n?o?p?q?r?s?t?u?", "at most 20 repetitions" },
	};
	struct rule r;
	char *long_pattern;

	for (size_t i = 0; i < MR_ARRAY_LEN(bad); i++) {
		json_t *j = json_pack("{s:s, s:[{s:s, s:s, s:s}, {s:s, s:s, s:s}], s:s}", "name",
		    "Spam filter", "conditions", "field", "from", "op", "is", "value", "x",
		    "field", "subject", "op", "matches", "value", bad[i].pattern, "category",
		    "fyi");
		struct errs e = { .n = 0 };
		int n = rules_parse(j, &r, collect, &e);
		const char *msg = err_for(&e, "conditions[1].value");

		json_decref(j);
		rule_free(&r);
		CU_ASSERT_EQUAL(n, 1);
		CU_ASSERT_PTR_NOT_NULL_FATAL(msg);
		/* The message names the rule, the condition and its field. */
		CU_ASSERT_PTR_NOT_NULL(strstr(msg, "Rule \"Spam filter\", condition 2 (subject)"));
		CU_ASSERT_PTR_NOT_NULL(strstr(msg, bad[i].words));
	}
	/* Header conditions name their header. */
	CU_ASSERT(one(&r, "header:X-Spam", "matches", "(", 0) > 0);
	rule_free(&r);
	{
		json_t *j = json_pack("{s:s, s:[{s:s, s:s, s:s}], s:s}", "name", "H", "conditions",
		    "field", "header:X-Spam", "op", "matches", "value", "(", "category", "fyi");
		struct errs e = { .n = 0 };

		rules_parse(j, &r, collect, &e);
		CU_ASSERT_PTR_NOT_NULL(strstr(err_for(&e, "conditions[0].value"),
		    "condition 1 (header X-Spam)"));
		json_decref(j);
		rule_free(&r);
	}
	/* The cap of a pattern: 200 characters. */
	long_pattern = repeat('a', 200);
	CU_ASSERT_EQUAL(one(&r, "subject", "matches", long_pattern, 0), 0);
	rule_free(&r);
	free(long_pattern);
	long_pattern = repeat('a', 201);
	CU_ASSERT(one(&r, "subject", "matches", long_pattern, 0) > 0);
	rule_free(&r);
	free(long_pattern);
	/* Braces inside a bracket expression are letters, not counts. */
	CU_ASSERT_EQUAL(one(&r, "subject", "matches", "[{]999[}]", 0), 0);
	rule_free(&r);
}

/* ---- evaluation */

static void
test_ops(void)
{
	/* The subject is "  Your Invoice #42 is ready  ": white space around is ignored. */
	CU_ASSERT_EQUAL(holds("subject", "contains", "invoice #42", 0), 1);
	CU_ASSERT_EQUAL(holds("subject", "contains", "receipt", 0), 0);
	CU_ASSERT_EQUAL(holds("subject", "is", "YOUR INVOICE #42 IS READY", 0), 1);
	CU_ASSERT_EQUAL(holds("subject", "is", "your invoice", 0), 0);
	CU_ASSERT_EQUAL(holds("subject", "starts", "your inv", 0), 1);
	CU_ASSERT_EQUAL(holds("subject", "starts", "invoice", 0), 0);
	CU_ASSERT_EQUAL(holds("subject", "ends", "IS READY", 0), 1);
	CU_ASSERT_EQUAL(holds("subject", "ends", "your", 0), 0);
	CU_ASSERT_EQUAL(holds("subject", "matches", "invoice #[0-9]+", 0), 1);
	CU_ASSERT_EQUAL(holds("subject", "matches", "^INVOICE", 0), 0);
	CU_ASSERT_EQUAL(holds("subject", "matches", "^your", 0), 1);
	/* Negation turns each around. */
	CU_ASSERT_EQUAL(holds("subject", "contains", "invoice", 1), 0);
	CU_ASSERT_EQUAL(holds("subject", "contains", "receipt", 1), 1);
	CU_ASSERT_EQUAL(holds("subject", "is", "nope", 1), 1);
	CU_ASSERT_EQUAL(holds("subject", "starts", "your", 1), 0);
	CU_ASSERT_EQUAL(holds("subject", "ends", "ready", 1), 0);
	CU_ASSERT_EQUAL(holds("subject", "matches", "^x", 1), 1);
}

static void
test_fields(void)
{
	/* from: the address or the display name. */
	CU_ASSERT_EQUAL(holds("from", "is", "billing@shop.example.com", 0), 1);
	CU_ASSERT_EQUAL(holds("from", "contains", "billing team", 0), 1);
	CU_ASSERT_EQUAL(holds("from", "starts", "shop", 0), 1);	/* the name */
	CU_ASSERT_EQUAL(holds("from", "contains", "ada", 0), 0);
	CU_ASSERT_EQUAL(holds("from", "contains", "billing", 1), 0);
	/* domain: after the last @. */
	CU_ASSERT_EQUAL(holds("domain", "is", "shop.example.com", 0), 1);
	CU_ASSERT_EQUAL(holds("domain", "is", "example.com", 0), 0);
	CU_ASSERT_EQUAL(holds("domain", "ends", ".example.com", 0), 1);
	CU_ASSERT_EQUAL(holds("domain", "contains", "billing", 0), 0);
	/* to, cc, recipients: any of them, address or name. */
	CU_ASSERT_EQUAL(holds("to", "is", "team@lists.example.org", 0), 1);
	CU_ASSERT_EQUAL(holds("to", "contains", "lovelace", 0), 1);
	CU_ASSERT_EQUAL(holds("to", "contains", "hopper", 0), 0);
	CU_ASSERT_EQUAL(holds("cc", "contains", "hopper", 0), 1);
	CU_ASSERT_EQUAL(holds("cc", "contains", "lovelace", 0), 0);
	CU_ASSERT_EQUAL(holds("recipients", "contains", "hopper", 0), 1);
	CU_ASSERT_EQUAL(holds("recipients", "contains", "lovelace", 0), 1);
	CU_ASSERT_EQUAL(holds("recipients", "ends", "@navy.example", 0), 1);
	CU_ASSERT_EQUAL(holds("recipients", "contains", "nobody", 1), 1);
	CU_ASSERT_EQUAL(holds("recipients", "contains", "ada", 1), 0);
	/* body */
	CU_ASSERT_EQUAL(holds("body", "contains", "invoice attached", 0), 1);
	CU_ASSERT_EQUAL(holds("body", "matches", "^please", 0), 1);	/* ^ at each line */
	CU_ASSERT_EQUAL(holds("body", "matches", "^attached", 0), 0);
	CU_ASSERT_EQUAL(holds("body", "starts", "hello,", 0), 1);
	CU_ASSERT_EQUAL(holds("body", "ends", "regards", 0), 1);
	/* headers: any occurrence; an absent header holds only negated. */
	CU_ASSERT_EQUAL(holds("header:list-id", "contains", "news.example.org", 0), 1);
	CU_ASSERT_EQUAL(holds("header:Received", "contains", "relay", 0), 1);
	CU_ASSERT_EQUAL(holds("header:Received", "is", "from a", 0), 1);
	CU_ASSERT_EQUAL(holds("header:X-Spam", "is", "yes", 0), 1);
	CU_ASSERT_EQUAL(holds("header:X-Absent", "contains", "a", 0), 0);
	CU_ASSERT_EQUAL(holds("header:X-Absent", "contains", "a", 1), 1);
}

static void
test_fold(void)
{
	static const struct rule_addr to[] = { { "\xc3\xa9t\xc3\xa9@example.org",
		"\xd0\x98\xd0\xb2\xd0\xb0\xd0\xbd \xce\x9f\xce\xb4\xcf\x85\xcf\x83\xcf\x83\xce\xad"
		"\xce\xb1\xcf\x82" } };
	struct rule_msg m = { "x@example.org", NULL, to, 1, NULL, 0,
		"R\xc3\x89SUM\xc3\x89 \xc5\xbb\xc3\xb3\xc5\x82w", NULL, 0, NULL, NULL };
	struct rule r;

	/* Subject "RÉSUMÉ Żółw": Latin-1 and Latin Extended-A capitals fold. */
	CU_ASSERT_EQUAL_FATAL(one(&r, "subject", "is", "r\xc3\xa9sum\xc3\xa9 \xc5\xbc\xc3\xb3"
	    "\xc5\x82w", 0), 0);
	CU_ASSERT_EQUAL(rules_match(&r, &m), 1);
	rule_free(&r);
	CU_ASSERT_EQUAL_FATAL(one(&r, "subject", "matches", "^r\xc3\xa9sum\xc3\xa9", 0), 0);
	CU_ASSERT_EQUAL(rules_match(&r, &m), 1);
	rule_free(&r);
	/* Cyrillic and Greek: "ИВАН" finds "Иван", "ΟΔΥΣΣ" finds "Οδυσσέας". */
	CU_ASSERT_EQUAL_FATAL(one(&r, "to", "contains", "\xd0\x98\xd0\x92\xd0\x90\xd0\x9d", 0),
	    0);
	CU_ASSERT_EQUAL(rules_match(&r, &m), 1);
	rule_free(&r);
	CU_ASSERT_EQUAL_FATAL(one(&r, "to", "contains", "\xce\x9f\xce\x94\xce\xa5\xce\xa3\xce\xa3",
	    0), 0);
	CU_ASSERT_EQUAL(rules_match(&r, &m), 1);
	rule_free(&r);
	/* NULL fields are empty. */
	CU_ASSERT_EQUAL_FATAL(one(&r, "body", "contains", "x", 1), 0);
	CU_ASSERT_EQUAL(rules_match(&r, &m), 1);
	rule_free(&r);
	CU_ASSERT_EQUAL_FATAL(one(&r, "cc", "contains", "x", 0), 0);
	CU_ASSERT_EQUAL(rules_match(&r, &m), 0);
	rule_free(&r);
}

static void
test_body_bound(void)
{
	size_t n = RULES_BODY_MAX + 100;
	char *body = repeat('a', n);
	struct rule_msg m = message();
	struct rule r;

	memcpy(body + 10, "early", 5);
	memcpy(body + n - 20, "LATE", 4);
	body[50] = '\0';	/* a NUL byte is not the end */
	memcpy(body + 60, "afternul", 8);
	m.body = body;
	m.body_len = n;
	CU_ASSERT_EQUAL_FATAL(one(&r, "body", "contains", "early", 0), 0);
	CU_ASSERT_EQUAL(rules_match(&r, &m), 1);
	rule_free(&r);
	CU_ASSERT_EQUAL_FATAL(one(&r, "body", "contains", "afternul", 0), 0);
	CU_ASSERT_EQUAL(rules_match(&r, &m), 1);
	rule_free(&r);
	CU_ASSERT_EQUAL_FATAL(one(&r, "body", "contains", "late", 0), 0);
	CU_ASSERT_EQUAL(rules_match(&r, &m), 0);
	rule_free(&r);
	free(body);
}

/* A two-condition rule: subject contains s1, from contains s2, combined by match. */
static int
two(const char *match, const char *s1, const char *s2)
{
	json_t *j = json_pack("{s:s, s:s, s:[{s:s, s:s, s:s}, {s:s, s:s, s:s}], s:s}", "name",
	    "Two", "match", match, "conditions", "field", "subject", "op", "contains", "value",
	    s1, "field", "from", "op", "contains", "value", s2, "category", "fyi");
	struct rule_msg m = message();
	struct errs e = { .n = 0 };
	struct rule r;
	int hit;

	CU_ASSERT_EQUAL(rules_parse(j, &r, collect, &e), 0);
	json_decref(j);
	hit = rules_match(&r, &m);
	rule_free(&r);
	return hit;
}

static void
test_all_any(void)
{
	CU_ASSERT_EQUAL(two("all", "invoice", "billing"), 1);
	CU_ASSERT_EQUAL(two("all", "invoice", "nobody"), 0);
	CU_ASSERT_EQUAL(two("all", "nothing", "billing"), 0);
	CU_ASSERT_EQUAL(two("all", "nothing", "nobody"), 0);
	CU_ASSERT_EQUAL(two("any", "invoice", "billing"), 1);
	CU_ASSERT_EQUAL(two("any", "invoice", "nobody"), 1);
	CU_ASSERT_EQUAL(two("any", "nothing", "billing"), 1);
	CU_ASSERT_EQUAL(two("any", "nothing", "nobody"), 0);
}

static void
test_first_match(void)
{
	static const char *const texts[] = {
		"{\"name\": \"A\", \"enabled\": false, \"conditions\": [{\"field\": \"subject\", "
		    "\"op\": \"contains\", \"value\": \"invoice\"}], \"category\": \"fyi\"}",
		"{\"name\": \"B\", \"conditions\": [{\"field\": \"subject\", \"op\": \"contains\", "
		    "\"value\": \"nothing\"}], \"category\": \"comment\"}",
		"{\"name\": \"C\", \"conditions\": [{\"field\": \"domain\", \"op\": \"ends\", "
		    "\"value\": \"example.com\"}], \"category\": \"notification\"}",
		"{\"name\": \"D\", \"conditions\": [{\"field\": \"subject\", \"op\": \"contains\", "
		    "\"value\": \"invoice\"}], \"category\": \"to-respond\"}",
	};
	struct rule_set set = { NULL, 0 };
	struct rule_msg m = message();
	const struct rule *hit;
	size_t calls = 0;
	struct errs e;

	set.rules = xcalloc(MR_ARRAY_LEN(texts), sizeof *set.rules);
	for (size_t i = 0; i < MR_ARRAY_LEN(texts); i++)
		CU_ASSERT_EQUAL(parse(texts[i], &set.rules[set.n++], &e), 0);
	/* A is disabled; B does not hold; C holds and comes before D. */
	hit = rules_first_match(&set, &m);
	CU_ASSERT_PTR_NOT_NULL_FATAL(hit);
	CU_ASSERT_STRING_EQUAL(hit->name, "C");
	CU_ASSERT_STRING_EQUAL(hit->category, "notification");
	/* A rule that could not be read never holds. */
	set.rules[2].error = xstrdup("broken");
	hit = rules_first_match(&set, &m);
	CU_ASSERT_PTR_NOT_NULL_FATAL(hit);
	CU_ASSERT_STRING_EQUAL(hit->name, "D");
	set.rules[3].enabled = 0;
	CU_ASSERT_PTR_NULL(rules_first_match(&set, &m));
	CU_ASSERT_PTR_NULL(rules_first_match(NULL, &m));
	/* No header lookup is made when no rule asks for a header. */
	m.header_arg = &calls;
	set.rules[3].enabled = 1;
	rules_first_match(&set, &m);
	CU_ASSERT_EQUAL(calls, 0);
	for (size_t i = 0; i < set.n; i++)
		rule_free(&set.rules[i]);
	free(set.rules);
}

static void
test_condition_text(void)
{
	struct rule r;
	struct errs e;
	char *t;

	CU_ASSERT_EQUAL_FATAL(parse("{\"name\": \"x\", \"conditions\": [{\"field\": "
	    "\"header:List-Id\", \"op\": \"starts\", \"value\": \"news\", \"negate\": true}, "
	    "{\"field\": \"recipients\", \"op\": \"matches\", \"value\": \"^a\"}], "
	    "\"category\": \"fyi\"}", &r, &e), 0);
	t = rules_condition_text(&r.conditions[0]);
	CU_ASSERT_STRING_EQUAL(t, "Header List-Id does not start with \"news\"");
	free(t);
	t = rules_condition_text(&r.conditions[1]);
	CU_ASSERT_STRING_EQUAL(t, "To or Cc matches \"^a\"");
	free(t);
	rule_free(&r);
}

int
main(void)
{
	static const struct unit_test tests[] = {
		{ "a valid rule and its JSON", test_parse_valid },
		{ "field, operator and action names", test_names },
		{ "refusals name the member", test_refusals },
		{ "limits", test_limits },
		{ "regular expressions refused", test_regex_errors },
		{ "every operator, negation", test_ops },
		{ "every field", test_fields },
		{ "case folding beyond ASCII", test_fold },
		{ "the body's bound", test_body_bound },
		{ "all and any", test_all_any },
		{ "first match of a set", test_first_match },
		{ "conditions as sentences", test_condition_text },
		{ NULL, NULL }
	};

	return unit_run("rules", tests);
}
