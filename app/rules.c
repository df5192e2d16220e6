/* rules.c: triage rules (rules.h): the JSON parser and its checks, the evaluation of a
 * rule set against a message, and the statements that store rules. Comparisons run on
 * case-folded copies: the condition's value is folded once when the rule is parsed, the
 * message's fields once per evaluation, so a set of 50 rules folds each field once. */
#include "config.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "categories.h"
#include "pq.h"
#include "rules.h"
#include "util.h"

static const char *const rules_fields[] = {
	[RULE_FIELD_FROM] = "from",
	[RULE_FIELD_DOMAIN] = "domain",
	[RULE_FIELD_TO] = "to",
	[RULE_FIELD_CC] = "cc",
	[RULE_FIELD_RECIPIENTS] = "recipients",
	[RULE_FIELD_SUBJECT] = "subject",
	[RULE_FIELD_BODY] = "body",
	[RULE_FIELD_HEADER] = "header",
};

static const char *const rules_ops[] = {
	[RULE_OP_CONTAINS] = "contains",
	[RULE_OP_IS] = "is",
	[RULE_OP_STARTS] = "starts",
	[RULE_OP_ENDS] = "ends",
	[RULE_OP_MATCHES] = "matches",
};

static const char *const rules_actions[] = {
	[RULE_ACTION_ARCHIVE] = "archive",
	[RULE_ACTION_MARK_READ] = "mark_read",
	[RULE_ACTION_STAR] = "star",
	[RULE_ACTION_MOVE] = "move",
};

/* The largest product of {n,m} counts a pattern may have: the regex compiler copies a
 * repeated part once per count, nested repetitions multiply. */
#define RULES_REGEX_REPEAT_MAX	1000
#define RULES_REGEX_QUANT_MAX	20	/* repetitions in one pattern */

/* The index of s in names[0..n), or -1. */
static int
rules_lookup(const char *const *names, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++) {
		if (strcmp(names[i], s) == 0)
			return (int)i;
	}
	return -1;
}

const char *
rules_field_name(enum rule_field f)
{
	return (size_t)f < MR_ARRAY_LEN(rules_fields) ? rules_fields[f] : "";
}

const char *
rules_op_name(enum rule_op op)
{
	return (size_t)op < MR_ARRAY_LEN(rules_ops) ? rules_ops[op] : "";
}

const char *
rules_action_name(enum rule_action_type t)
{
	return (size_t)t < MR_ARRAY_LEN(rules_actions) ? rules_actions[t] : "";
}

/* Whether s is a header field name (RFC 5322: printable ASCII but ':'), within the
 * length allowed. */
static int
rules_header_name_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > RULES_HEADER_NAME_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < 33 || s[i] > 126 || s[i] == ':')
			return 0;
	}
	return 1;
}

int
rules_field_parse(const char *s, char **header)
{
	if (header != NULL)
		*header = NULL;
	if (strncmp(s, "header:", 7) == 0) {
		if (!rules_header_name_valid(s + 7))
			return -1;
		if (header != NULL)
			*header = xstrdup(s + 7);
		return RULE_FIELD_HEADER;
	}
	if (strcmp(s, "header") == 0)
		return -1;
	return rules_lookup(rules_fields, MR_ARRAY_LEN(rules_fields), s);
}

int
rules_op_parse(const char *s)
{
	return rules_lookup(rules_ops, MR_ARRAY_LEN(rules_ops), s);
}

int
rules_action_parse(const char *s)
{
	return rules_lookup(rules_actions, MR_ARRAY_LEN(rules_actions), s);
}

/* ---- Case folding */

/* The lower-case letter of cp among those whose UTF-8 form has the same length: ASCII
 * (when ascii), Latin-1, Latin Extended-A, Greek and Cyrillic capitals. */
static uint32_t
rules_lower(uint32_t cp, int ascii)
{
	if (cp < 0x80)
		return ascii && cp >= 'A' && cp <= 'Z' ? cp + 32 : cp;
	if (cp >= 0xc0 && cp <= 0xde && cp != 0xd7)
		return cp + 0x20;
	if (cp >= 0x100 && cp <= 0x17f) {
		if (cp == 0x130 || cp == 0x131 || cp == 0x138 || cp == 0x149 || cp == 0x17f)
			return cp;
		if (cp == 0x178)
			return 0xff;
		/* Pairs start on an even code point up to U+0137 and from U+014A to U+0177,
		 * on an odd one from U+0139 to U+0148 and from U+0179. */
		if ((cp <= 0x137 || (cp >= 0x14a && cp <= 0x177)) ? (cp % 2 == 0) : (cp % 2 == 1))
			return cp + 1;
		return cp;
	}
	if (cp >= 0x391 && cp <= 0x3ab && cp != 0x3a2)
		return cp + 0x20;
	if (cp >= 0x410 && cp <= 0x42f)
		return cp + 0x20;
	if (cp >= 0x400 && cp <= 0x40f)
		return cp + 0x50;
	return cp;
}

/* Folds s[0..len) in place (ASCII letters too when ascii); NUL bytes become spaces so
 * that the copy is one C string. Bytes that are not UTF-8 stay as they are. */
static void
rules_fold_in_place(char *s, size_t len, int ascii)
{
	unsigned char *u = (unsigned char *)s;

	for (size_t i = 0; i < len;) {
		uint32_t cp, lc;
		size_t n;

		if (u[i] == '\0') {
			u[i++] = ' ';
			continue;
		}
		if ((n = util_utf8_decode(u + i, len - i, &cp)) == 0) {
			i++;
			continue;
		}
		lc = rules_lower(cp, ascii);
		if (lc != cp) {
			if (n == 1)
				u[i] = (unsigned char)lc;
			else {	/* two bytes before and after: U+0080 to U+07FF */
				u[i] = (unsigned char)(0xc0 | (lc >> 6));
				u[i + 1] = (unsigned char)(0x80 | (lc & 0x3f));
			}
		}
		i += n;
	}
}

/* A folded copy of s[0..len) without the white space around it (malloc'd). */
static char *
rules_fold(const char *s, size_t len)
{
	char *out;

	if (s == NULL)
		return xstrdup("");
	while (len > 0 && (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')) {
		s++;
		len--;
	}
	while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t' || s[len - 1] == '\r' ||
	    s[len - 1] == '\n'))
		len--;
	out = xstrndup(s, len);
	rules_fold_in_place(out, len, 1);
	return out;
}

static char *
rules_fold_str(const char *s)
{
	return rules_fold(s, s != NULL ? strlen(s) : 0);
}

/* ---- Parsing */

struct rules_parse_ctx {
	rules_bad_fn bad;
	void *arg;
	const char *name;	/* the rule's name for messages, or NULL */
	int nbad;
};

static void
rules_bad(struct rules_parse_ctx *p, const char *field, const char *fmt, ...)
    MR_PRINTF(3, 4);

static void
rules_bad(struct rules_parse_ctx *p, const char *field, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	p->nbad++;
	if (p->bad != NULL)
		p->bad(p->arg, field, msg);
}

/* "Rule \"Name\"" or "This rule", for the start of a message. */
static const char *
rules_who(const struct rules_parse_ctx *p, char *buf, size_t len)
{
	if (p->name == NULL)
		return "This rule";
	snprintf(buf, len, "Rule \"%s\"", p->name);
	return buf;
}

/* A refused member of condition i (field: what it looks at, NULL when unknown). */
static void
rules_bad_condition(struct rules_parse_ctx *p, size_t i, const char *member,
    const char *field, const char *message)
{
	char path[64], who[160];

	snprintf(path, sizeof path, "conditions[%zu].%s", i, member);
	if (field != NULL)
		rules_bad(p, path, "%s, condition %zu (%s): %s", rules_who(p, who, sizeof who),
		    i + 1, field, message);
	else
		rules_bad(p, path, "%s, condition %zu: %s", rules_who(p, who, sizeof who), i + 1,
		    message);
}

/* A string member without NUL bytes, or NULL (absent, or another type: *bad set). */
static const char *
rules_json_string(const json_t *j, const char *key, int *bad)
{
	json_t *v = json_object_get(j, key);

	*bad = 0;
	if (v == NULL || json_is_null(v))
		return NULL;
	if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v)) {
		*bad = 1;
		return NULL;
	}
	return json_string_value(v);
}

/* Refuses the members of object j that are not in allowed (NULL-terminated) nor in
 * ignored (NULL or NULL-terminated); each one's path is prefix and its key. */
static void
rules_unknown_members(struct rules_parse_ctx *p, json_t *j, const char *prefix,
    const char *const *allowed, const char *const *ignored)
{
	char list[128] = "";
	const char *key;
	json_t *v;

	for (const char *const *a = allowed; *a != NULL; a++)
		snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s",
		    a != allowed ? ", " : "", *a);
	json_object_foreach(j, key, v) {
		int known = 0;
		char path[128];

		for (const char *const *a = allowed; *a != NULL && !known; a++)
			known = strcmp(*a, key) == 0;
		for (const char *const *a = ignored; a != NULL && *a != NULL && !known; a++)
			known = strcmp(*a, key) == 0;
		if (known)
			continue;
		/* A member named "" at the top is the rule's fault as a whole. */
		snprintf(path, sizeof path, "%s%.100s", prefix, *prefix == '\0' && *key == '\0' ?
		    "rule" : key);
		rules_bad(p, path, "Unknown member \"%.100s\": the members are %s.", key, list);
	}
}

/* Why pattern cannot be used, or NULL: too long, a back-reference (which the matcher
 * can take exponential time over), or repetition counts that would make the compiled
 * pattern huge. */
static const char *
rules_regex_refused(const char *pattern)
{
	long chars = util_text_chars(pattern), product = 1;
	int quant = 0, nquant = 0;

	if (chars > RULES_REGEX_MAX)
		return "a regular expression is at most 200 characters.";
	for (const char *s = pattern; *s != '\0'; s++) {
		int is_quant = 0;

		if (*s == '\\') {
			if (s[1] >= '1' && s[1] <= '9')
				return "back-references (\\1 to \\9) are not allowed.";
			if (s[1] != '\0')
				s++;
		} else if (*s == '[') {
			/* A bracket expression: its braces are letters. */
			s++;
			if (*s == '^')
				s++;
			if (*s == ']')
				s++;
			while (*s != '\0' && *s != ']') {
				if (*s == '[' && (s[1] == ':' || s[1] == '.' || s[1] == '=')) {
					char close[3] = { s[1], ']', '\0' };
					const char *e = strstr(s + 2, close);

					if (e == NULL)
						break;
					s = e + 1;
				}
				s++;
			}
			if (*s == '\0')
				break;
		} else if (*s == '*' || *s == '+' || *s == '?') {
			is_quant = 1;
		} else if (*s == '{') {
			char *end;
			const char *close;
			long lo = strtol(s + 1, &end, 10), hi = lo;

			if (end != s + 1) {
				if (*end == ',' && end[1] >= '0' && end[1] <= '9')
					hi = strtol(end + 1, &end, 10);
				else if (*end == ',')
					end++;
				if (lo > 100 || hi > 100)
					return "a repetition count ({n,m}) is at most 100.";
				product *= hi > 1 ? hi : 1;
				if (product > RULES_REGEX_REPEAT_MAX)
					return "the repetition counts ({n,m}) multiply to more than 1000.";
				if ((close = strchr(end, '}')) != NULL)
					s = close;
				is_quant = 1;
			}
		}
		/* The matcher copies the repeated part for every repetition: stacked ones
		 * (a+++, a*{2}) multiply its size for no meaning, and many make it huge. */
		if (is_quant) {
			if (quant)
				return "a repetition cannot follow another one (as in a++ or a*{2}).";
			if (++nquant > RULES_REGEX_QUANT_MAX)
				return "a regular expression has at most 20 repetitions "
				    "(*, +, ?, {n,m}).";
		}
		quant = is_quant;
	}
	return NULL;
}

/* Compiles the pattern of condition i into cond->re; 0, or -1 with the error given. */
static int
rules_compile(struct rules_parse_ctx *p, size_t i, const char *field,
    struct rule_condition *cond)
{
	const char *why = rules_regex_refused(cond->value);
	char *pattern;
	char msg[256], full[400];
	int rc;

	if (why != NULL) {
		rules_bad_condition(p, i, "value", field, why);
		return -1;
	}
	/* Letters beyond ASCII are folded as the text is; ASCII ones are left to REG_ICASE,
	 * since escapes such as \W and \S mean something else in lower case. */
	pattern = xstrdup(cond->value);
	rules_fold_in_place(pattern, strlen(pattern), 0);
	/* REG_NEWLINE: ^ and $ also match at the lines of a body. */
	rc = regcomp(&cond->re, pattern, REG_EXTENDED | REG_ICASE | REG_NOSUB | REG_NEWLINE);
	free(pattern);
	if (rc != 0) {
		regerror(rc, &cond->re, msg, sizeof msg);
		snprintf(full, sizeof full, "the regular expression is not valid: %s.", msg);
		rules_bad_condition(p, i, "value", field, full);
		return -1;
	}
	cond->has_re = 1;
	return 0;
}

static void
rules_parse_condition(struct rules_parse_ctx *p, size_t i, json_t *j,
    struct rule_condition *cond)
{
	static const char *const allowed[] = { "field", "op", "value", "negate", NULL };
	const char *field, *op, *value;
	char fieldname[96], prefix[48];
	json_t *negate;
	long chars;
	int bad, f = -1, o = -1;

	if (!json_is_object(j)) {
		rules_bad_condition(p, i, "field", NULL, "a condition is an object with field, "
		    "op, value and negate.");
		return;
	}
	snprintf(prefix, sizeof prefix, "conditions[%zu].", i);
	rules_unknown_members(p, j, prefix, allowed, NULL);
	field = rules_json_string(j, "field", &bad);
	if (field != NULL)
		f = rules_field_parse(field, &cond->header);
	if (f < 0) {
		rules_bad_condition(p, i, "field", NULL, "choose what to look at: from, domain, to, "
		    "cc, recipients, subject, body, or header:Name (a header's name, for example "
		    "header:List-Id).");
		snprintf(fieldname, sizeof fieldname, "?");
	} else {
		cond->field = (enum rule_field)f;
		snprintf(fieldname, sizeof fieldname, "%s%s%s", rules_field_name(cond->field),
		    cond->header != NULL ? " " : "", cond->header != NULL ? cond->header : "");
	}
	op = rules_json_string(j, "op", &bad);
	if (op != NULL)
		o = rules_op_parse(op);
	if (o < 0)
		rules_bad_condition(p, i, "op", f >= 0 ? fieldname : NULL, "choose how to "
		    "compare: contains, is, starts, ends or matches.");
	else
		cond->op = (enum rule_op)o;
	negate = json_object_get(j, "negate");
	if (negate != NULL && !json_is_boolean(negate) && !json_is_null(negate))
		rules_bad_condition(p, i, "negate", f >= 0 ? fieldname : NULL,
		    "negate is true or false.");
	cond->negate = json_is_true(negate);
	value = rules_json_string(j, "value", &bad);
	chars = value != NULL ? util_text_chars(value) : 0;
	if (value != NULL && chars > 0) {
		/* White space around the value is not part of it. */
		const char *s = value;
		size_t n;

		while (*s == ' ')
			s++;
		n = strlen(s);
		while (n > 0 && s[n - 1] == ' ')
			n--;
		cond->value = xstrndup(s, n);
		chars = util_text_chars(cond->value);
	}
	if (bad || chars < 0)
		rules_bad_condition(p, i, "value", f >= 0 ? fieldname : NULL, "the value is text "
		    "of letters, digits and punctuation, on one line.");
	else if (chars == 0)
		rules_bad_condition(p, i, "value", f >= 0 ? fieldname : NULL,
		    "give a value to compare with.");
	else if (chars > RULES_VALUE_MAX)
		rules_bad_condition(p, i, "value", f >= 0 ? fieldname : NULL,
		    "the value is at most 500 characters.");
	else if (o == RULE_OP_MATCHES)
		rules_compile(p, i, f >= 0 ? fieldname : NULL, cond);
	if (cond->value != NULL && chars > 0)
		cond->folded = rules_fold_str(cond->value);
}

static void
rules_parse_conditions(struct rules_parse_ctx *p, json_t *list, struct rule *out)
{
	char who[160];
	size_t n;

	if (!json_is_array(list) || json_array_size(list) == 0) {
		rules_bad(p, "conditions", "%s has no conditions: give at least one (a list of "
		    "objects with field, op and value).", rules_who(p, who, sizeof who));
		return;
	}
	n = json_array_size(list);
	if (n > RULES_CONDITIONS_MAX) {
		rules_bad(p, "conditions", "%s has %zu conditions: at most 20.",
		    rules_who(p, who, sizeof who), n);
		return;
	}
	out->conditions = xcalloc(n, sizeof *out->conditions);
	out->nconditions = n;
	for (size_t i = 0; i < n; i++)
		rules_parse_condition(p, i, json_array_get(list, i), &out->conditions[i]);
}

static void
rules_parse_actions(struct rules_parse_ctx *p, json_t *list, struct rule *out)
{
	static const char *const allowed[] = { "type", "folder", NULL };
	char who[160], path[64];
	unsigned seen = 0;
	size_t n;

	if (list == NULL || json_is_null(list))
		return;
	if (!json_is_array(list)) {
		rules_bad(p, "actions", "%s: actions is a list of objects such as "
		    "{\"type\": \"archive\"}.", rules_who(p, who, sizeof who));
		return;
	}
	n = json_array_size(list);
	if (n > MR_ARRAY_LEN(rules_actions)) {
		rules_bad(p, "actions", "%s: each action at most once (archive, mark_read, star, "
		    "move).", rules_who(p, who, sizeof who));
		return;
	}
	out->actions = n > 0 ? xcalloc(n, sizeof *out->actions) : NULL;
	for (size_t i = 0; i < n; i++) {
		json_t *a = json_array_get(list, i);
		struct rule_action *act = &out->actions[out->nactions];
		const char *type, *folder;
		int bad, t = -1;
		long chars;

		snprintf(path, sizeof path, "actions[%zu].type", i);
		if (!json_is_object(a)) {
			rules_bad(p, path, "%s, action %zu: an object such as {\"type\": "
			    "\"archive\"}.", rules_who(p, who, sizeof who), i + 1);
			continue;
		}
		snprintf(path, sizeof path, "actions[%zu].", i);
		rules_unknown_members(p, a, path, allowed, NULL);
		snprintf(path, sizeof path, "actions[%zu].type", i);
		type = rules_json_string(a, "type", &bad);
		if (type != NULL)
			t = rules_action_parse(type);
		if (t < 0) {
			rules_bad(p, path, "%s, action %zu: the type is archive, mark_read, star "
			    "or move.", rules_who(p, who, sizeof who), i + 1);
			continue;
		}
		if (seen & (1u << t)) {
			rules_bad(p, path, "%s, action %zu: %s is there already.",
			    rules_who(p, who, sizeof who), i + 1, type);
			continue;
		}
		seen |= 1u << t;
		folder = rules_json_string(a, "folder", &bad);
		snprintf(path, sizeof path, "actions[%zu].folder", i);
		if (t != RULE_ACTION_MOVE) {
			if (folder != NULL || bad)
				rules_bad(p, path, "%s, action %zu: only move takes a folder.",
				    rules_who(p, who, sizeof who), i + 1);
		} else if ((chars = folder != NULL ? util_text_chars(folder) : 0) <= 0 || bad) {
			rules_bad(p, path, "%s, action %zu: name the folder to move the message to.",
			    rules_who(p, who, sizeof who), i + 1);
			continue;
		} else if (chars > RULES_VALUE_MAX) {
			rules_bad(p, path, "%s, action %zu: a folder's name is at most 500 "
			    "characters.", rules_who(p, who, sizeof who), i + 1);
			continue;
		}
		act->type = (enum rule_action_type)t;
		act->folder = t == RULE_ACTION_MOVE ? xstrdup(folder) : NULL;
		out->nactions++;
	}
}

int
rules_parse(json_t *j, struct rule *out, rules_bad_fn bad, void *arg)
{
	static const char *const allowed[] = { "name", "enabled", "match", "conditions",
		"category", "actions", NULL };
	static const char *const ignored[] = { "id", "position", "created_at", "updated_at",
		NULL };
	struct rules_parse_ctx p = { bad, arg, NULL, 0 };
	const char *name, *match, *category;
	json_t *enabled;
	char who[160];
	long chars;
	int isbad;

	memset(out, 0, sizeof *out);
	out->enabled = 1;
	if (!json_is_object(j)) {
		rules_bad(&p, "rule", "A rule is a JSON object with name, match, conditions, "
		    "category and actions.");
		return p.nbad;
	}
	name = rules_json_string(j, "name", &isbad);
	chars = name != NULL ? util_text_chars(name) : 0;
	if (isbad || chars < 0)
		rules_bad(&p, "name", "Name the rule with letters, digits and punctuation.");
	else if (chars == 0)
		rules_bad(&p, "name", "Name the rule, for example \"Newsletters\".");
	else if (chars > RULES_NAME_MAX)
		rules_bad(&p, "name", "The name is at most 100 characters.");
	else {
		out->name = xstrdup(name);
		p.name = out->name;
	}
	rules_unknown_members(&p, j, "", allowed, ignored);
	enabled = json_object_get(j, "enabled");
	if (enabled != NULL && !json_is_boolean(enabled))
		rules_bad(&p, "enabled", "%s: enabled is true or false.",
		    rules_who(&p, who, sizeof who));
	else if (enabled != NULL)
		out->enabled = json_is_true(enabled);
	match = rules_json_string(j, "match", &isbad);
	if (isbad || (match != NULL && strcmp(match, "all") != 0 && strcmp(match, "any") != 0))
		rules_bad(&p, "match", "%s: match is all (every condition must hold) or any "
		    "(one is enough).", rules_who(&p, who, sizeof who));
	else
		out->match_any = match != NULL && strcmp(match, "any") == 0;
	rules_parse_conditions(&p, json_object_get(j, "conditions"), out);
	category = rules_json_string(j, "category", &isbad);
	if (isbad || (category != NULL && !categories_slug_valid(category)))
		rules_bad(&p, "category", "%s: the category is the slug of one of your categories "
		    "(for example \"marketing\"), or null.", rules_who(&p, who, sizeof who));
	else if (category != NULL)
		out->category = xstrdup(category);
	rules_parse_actions(&p, json_object_get(j, "actions"), out);
	if (p.nbad == 0 && out->category == NULL && out->nactions == 0)
		rules_bad(&p, "category", "%s does nothing: choose a category, an action, or both.",
		    rules_who(&p, who, sizeof who));
	return p.nbad;
}

void
rule_free(struct rule *r)
{
	if (r == NULL)
		return;
	for (size_t i = 0; i < r->nconditions; i++) {
		struct rule_condition *c = &r->conditions[i];

		free(c->header);
		free(c->value);
		free(c->folded);
		if (c->has_re)
			regfree(&c->re);
	}
	free(r->conditions);
	for (size_t i = 0; i < r->nactions; i++)
		free(r->actions[i].folder);
	free(r->actions);
	free(r->name);
	free(r->category);
	free(r->error);
	memset(r, 0, sizeof *r);
}

/* ---- As JSON and as text */

static json_t *
rules_conditions_json(const struct rule *r)
{
	json_t *list = json_array();

	for (size_t i = 0; i < r->nconditions; i++) {
		const struct rule_condition *c = &r->conditions[i];
		char *field = c->header != NULL ? xasprintf("header:%s", c->header) :
		    xstrdup(rules_field_name(c->field));

		json_array_append_new(list, json_pack("{s:s, s:s, s:s, s:b}", "field", field,
		    "op", rules_op_name(c->op), "value", c->value != NULL ? c->value : "",
		    "negate", c->negate));
		free(field);
	}
	return list;
}

static json_t *
rules_actions_json(const struct rule *r)
{
	json_t *list = json_array();

	for (size_t i = 0; i < r->nactions; i++) {
		const struct rule_action *a = &r->actions[i];

		json_array_append_new(list, a->folder != NULL ? json_pack("{s:s, s:s}", "type",
		    rules_action_name(a->type), "folder", a->folder) : json_pack("{s:s}", "type",
		    rules_action_name(a->type)));
	}
	return list;
}

json_t *
rules_json(const struct rule *r)
{
	json_t *j = json_pack("{s:s, s:b, s:s, s:o, s:s?, s:o}", "name",
	    r->name != NULL ? r->name : "", "enabled", r->enabled, "match",
	    r->match_any ? "any" : "all", "conditions", rules_conditions_json(r),
	    "category", r->category, "actions", rules_actions_json(r));

	if (r->category == NULL)
		json_object_set_new(j, "category", json_null());
	if (r->id > 0) {
		json_object_set_new(j, "id", json_integer(r->id));
		json_object_set_new(j, "position", json_integer(r->position));
		json_object_set_new(j, "created_at", json_string(r->created_at));
		json_object_set_new(j, "updated_at", json_string(r->updated_at));
	}
	if (r->error != NULL)
		json_object_set_new(j, "error", json_string(r->error));
	return j;
}

char *
rules_condition_text(const struct rule_condition *c)
{
	static const char *const fields[] = {
		[RULE_FIELD_FROM] = "From",
		[RULE_FIELD_DOMAIN] = "Sender's domain",
		[RULE_FIELD_TO] = "To",
		[RULE_FIELD_CC] = "Cc",
		[RULE_FIELD_RECIPIENTS] = "To or Cc",
		[RULE_FIELD_SUBJECT] = "Subject",
		[RULE_FIELD_BODY] = "Body",
		[RULE_FIELD_HEADER] = "Header",
	};
	static const char *const ops[][2] = {
		[RULE_OP_CONTAINS] = { "contains", "does not contain" },
		[RULE_OP_IS] = { "is", "is not" },
		[RULE_OP_STARTS] = { "starts with", "does not start with" },
		[RULE_OP_ENDS] = { "ends with", "does not end with" },
		[RULE_OP_MATCHES] = { "matches", "does not match" },
	};

	return xasprintf("%s%s%s %s \"%s\"", fields[c->field], c->header != NULL ? " " : "",
	    c->header != NULL ? c->header : "", ops[c->op][c->negate ? 1 : 0],
	    c->value != NULL ? c->value : "");
}

/* ---- Evaluation */

/* The message's fields folded, made once per evaluation (the body when first asked). */
struct rules_view {
	const struct rule_msg *m;
	char *from[2];		/* address, name */
	char *domain;
	char *subject;
	char **to, **cc;	/* address and name of each recipient */
	size_t nto, ncc;
	char *body;
};

static char **
rules_view_addrs(const struct rule_addr *l, size_t n)
{
	char **out = xcalloc(n * 2 + 1, sizeof *out);

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = rules_fold_str(l[i].address);
		out[2 * i + 1] = rules_fold_str(l[i].name);
	}
	return out;
}

static void
rules_view_init(struct rules_view *v, const struct rule_msg *m)
{
	const char *at;

	memset(v, 0, sizeof *v);
	v->m = m;
	v->from[0] = rules_fold_str(m->from_address);
	v->from[1] = rules_fold_str(m->from_name);
	at = strrchr(v->from[0], '@');
	v->domain = xstrdup(at != NULL ? at + 1 : "");
	v->subject = rules_fold_str(m->subject);
	v->to = rules_view_addrs(m->to, m->to != NULL ? m->nto : 0);
	v->nto = m->to != NULL ? m->nto * 2 : 0;
	v->cc = rules_view_addrs(m->cc, m->cc != NULL ? m->ncc : 0);
	v->ncc = m->cc != NULL ? m->ncc * 2 : 0;
}

static void
rules_view_free(struct rules_view *v)
{
	free(v->from[0]);
	free(v->from[1]);
	free(v->domain);
	free(v->subject);
	for (size_t i = 0; i < v->nto; i++)
		free(v->to[i]);
	free(v->to);
	for (size_t i = 0; i < v->ncc; i++)
		free(v->cc[i]);
	free(v->cc);
	free(v->body);
}

/* Whether the folded text s passes c's comparison (negation aside). */
static int
rules_compare(const struct rule_condition *c, const char *s)
{
	size_t n, k;

	switch (c->op) {
	case RULE_OP_CONTAINS:
		return strstr(s, c->folded) != NULL;
	case RULE_OP_IS:
		return strcmp(s, c->folded) == 0;
	case RULE_OP_STARTS:
		return strncmp(s, c->folded, strlen(c->folded)) == 0;
	case RULE_OP_ENDS:
		n = strlen(s);
		k = strlen(c->folded);
		return n >= k && memcmp(s + n - k, c->folded, k) == 0;
	case RULE_OP_MATCHES:
		return c->has_re && regexec(&c->re, s, 0, NULL, 0) == 0;
	}
	return 0;
}

/* Whether any of list[0..n) passes. */
static int
rules_compare_any(const struct rule_condition *c, char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (rules_compare(c, list[i]))
			return 1;
	}
	return 0;
}

static int
rules_compare_header(const struct rule_condition *c, const struct rule_msg *m)
{
	if (m->header == NULL)
		return 0;
	for (size_t i = 0; i < RULES_HEADER_VALUES_MAX; i++) {
		const char *v = m->header(m->header_arg, c->header, i);
		char *folded;
		int hit;

		if (v == NULL)
			return 0;
		folded = rules_fold_str(v);
		hit = rules_compare(c, folded);
		free(folded);
		if (hit)
			return 1;
	}
	return 0;
}

static int
rules_condition_holds(const struct rule_condition *c, struct rules_view *v)
{
	int hit = 0;

	if (c->folded == NULL)
		return 0;
	switch (c->field) {
	case RULE_FIELD_FROM:
		hit = rules_compare_any(c, v->from, 2);
		break;
	case RULE_FIELD_DOMAIN:
		hit = rules_compare(c, v->domain);
		break;
	case RULE_FIELD_TO:
		hit = rules_compare_any(c, v->to, v->nto);
		break;
	case RULE_FIELD_CC:
		hit = rules_compare_any(c, v->cc, v->ncc);
		break;
	case RULE_FIELD_RECIPIENTS:
		hit = rules_compare_any(c, v->to, v->nto) || rules_compare_any(c, v->cc, v->ncc);
		break;
	case RULE_FIELD_SUBJECT:
		hit = rules_compare(c, v->subject);
		break;
	case RULE_FIELD_BODY:
		if (v->body == NULL)
			v->body = rules_fold(v->m->body, v->m->body != NULL ?
			    (v->m->body_len < RULES_BODY_MAX ? v->m->body_len : RULES_BODY_MAX) : 0);
		hit = rules_compare(c, v->body);
		break;
	case RULE_FIELD_HEADER:
		hit = rules_compare_header(c, v->m);
		break;
	}
	return c->negate ? !hit : hit;
}

static int
rules_match_view(const struct rule *r, struct rules_view *v)
{
	if (r->error != NULL || r->nconditions == 0)
		return 0;
	for (size_t i = 0; i < r->nconditions; i++) {
		int holds = rules_condition_holds(&r->conditions[i], v);

		if (r->match_any && holds)
			return 1;
		if (!r->match_any && !holds)
			return 0;
	}
	return !r->match_any;
}

int
rules_match(const struct rule *r, const struct rule_msg *m)
{
	struct rules_view v;
	int hit;

	rules_view_init(&v, m);
	hit = rules_match_view(r, &v);
	rules_view_free(&v);
	return hit;
}

const struct rule *
rules_first_match(const struct rule_set *set, const struct rule_msg *m)
{
	const struct rule *found = NULL;
	struct rules_view v;

	if (set == NULL || set->n == 0)
		return NULL;
	rules_view_init(&v, m);
	for (size_t i = 0; i < set->n && found == NULL; i++) {
		if (set->rules[i].enabled && rules_match_view(&set->rules[i], &v))
			found = &set->rules[i];
	}
	rules_view_free(&v);
	return found;
}

/* ---- Storage */

/* Keeps the first refusal of a stored rule that no longer parses. */
static void
rules_keep_first(void *arg, const char *field, const char *message)
{
	char **error = arg;

	(void)field;
	if (*error == NULL)
		*error = xstrdup(message);
}

/* Reads row i (id, name, enabled, match, conditions, category, actions, created,
 * updated) into out at position. */
static void
rules_row(PGresult *r, int i, struct rule *out, int position)
{
	json_error_t jerr;
	json_t *j = json_pack("{s:s, s:b, s:s, s:o?, s:o?, s:s?}", "name", PQgetvalue(r, i, 1),
	    "enabled", strcmp(PQgetvalue(r, i, 2), "t") == 0, "match", PQgetvalue(r, i, 3),
	    "conditions", json_loads(PQgetvalue(r, i, 4), 0, &jerr),
	    "actions", json_loads(PQgetvalue(r, i, 6), 0, &jerr),
	    "category", PQgetisnull(r, i, 5) ? NULL : PQgetvalue(r, i, 5));
	char *error = NULL;

	if (rules_parse(j, out, rules_keep_first, &error) > 0 && error == NULL)
		error = xstrdup("The rule cannot be read.");
	json_decref(j);
	out->id = strtoll(PQgetvalue(r, i, 0), NULL, 10);
	out->position = position;
	out->error = error;
	if (out->name == NULL)
		out->name = xstrdup(PQgetvalue(r, i, 1));
	snprintf(out->created_at, sizeof out->created_at, "%s", PQgetvalue(r, i, 7));
	snprintf(out->updated_at, sizeof out->updated_at, "%s", PQgetvalue(r, i, 8));
}

#define RULES_TIME(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

/* The user's rules in order (all, or the enabled ones), with each one's place among all
 * of them; id 0 for every rule. */
static long
rules_select(PGconn *c, int64_t user_id, int64_t id, int enabled_only, struct rule_set **out,
    char *err, size_t errlen)
{
	char uid[24], rid[24];
	const char *params[3] = { uid, rid, enabled_only ? "t" : "f" };
	struct rule_set *set;
	PGresult *r;
	long n;

	*out = NULL;
	snprintf(uid, sizeof uid, "%" PRId64, user_id);
	snprintf(rid, sizeof rid, "%" PRId64, id);
	r = pq_exec(c, "rules", "SELECT * FROM (SELECT id, name, enabled, match, "
	    "conditions::text, category, actions::text, " RULES_TIME("created_at") ", "
	    RULES_TIME("updated_at") ", row_number() OVER (ORDER BY position, id) "
	    "FROM triage_rules WHERE user_id = $1::bigint) x WHERE ($2::bigint = 0 OR "
	    "id = $2::bigint) AND (NOT $3::boolean OR enabled) ORDER BY row_number", 3, params,
	    err, errlen);
	if (r == NULL)
		return -1;
	n = PQntuples(r);
	set = xcalloc(1, sizeof *set);
	set->rules = n > 0 ? xcalloc((size_t)n, sizeof *set->rules) : NULL;
	set->n = (size_t)n;
	for (long i = 0; i < n; i++)
		rules_row(r, (int)i, &set->rules[i], atoi(PQgetvalue(r, (int)i, 9)));
	PQclear(r);
	*out = set;
	return n;
}

int
rules_load(PGconn *c, int64_t user_id, struct rule_set **out, char *err, size_t errlen)
{
	struct rule_set *set;
	size_t kept = 0;

	if (rules_select(c, user_id, 0, 1, out, err, errlen) < 0)
		return -1;
	set = *out;
	for (size_t i = 0; i < set->n; i++) {
		if (set->rules[i].error == NULL) {
			set->rules[kept++] = set->rules[i];
			continue;
		}
		log_warn("user %" PRId64 ": rule %" PRId64 " is skipped: %s", user_id,
		    set->rules[i].id, set->rules[i].error);
		rule_free(&set->rules[i]);
	}
	set->n = kept;
	return 0;
}

long
rules_list(PGconn *c, int64_t user_id, int64_t id, struct rule_set **out, char *err,
    size_t errlen)
{
	return rules_select(c, user_id, id, 0, out, err, errlen);
}

void
rules_set_free(struct rule_set *set)
{
	if (set == NULL)
		return;
	for (size_t i = 0; i < set->n; i++)
		rule_free(&set->rules[i]);
	free(set->rules);
	free(set);
}

/* Whether the rule's category is one of the user's (or it has none): 1, 0, or -1. */
static int
rules_category_ok(PGconn *c, const char *uid, const struct rule *r, char *err, size_t errlen)
{
	const char *params[2] = { uid, r->category };

	if (r->category == NULL)
		return 1;
	return categories_sql_true(c, "rules", "SELECT EXISTS (SELECT 1 FROM categories WHERE "
	    "user_id = $1::bigint AND slug = $2)", 2, params, err, errlen);
}

/* The statement's parameters for r: user, name, enabled, match, conditions, category,
 * actions (the JSON texts malloc'd into texts[0..1]). */
static void
rules_params(const struct rule *r, const char *uid, const char *params[7], char *texts[2])
{
	json_t *conds = rules_conditions_json(r), *acts = rules_actions_json(r);

	texts[0] = json_dumps(conds, JSON_COMPACT);
	texts[1] = json_dumps(acts, JSON_COMPACT);
	json_decref(conds);
	json_decref(acts);
	params[0] = uid;
	params[1] = r->name;
	params[2] = r->enabled ? "t" : "f";
	params[3] = r->match_any ? "any" : "all";
	params[4] = texts[0];
	params[5] = r->category;
	params[6] = texts[1];
}

/* Ends a change: commits after RULES_OK, else rolls back. */
static enum rules_status
rules_end(PGconn *c, enum rules_status st, char *err, size_t errlen)
{
	if (st != RULES_OK) {
		categories_rollback(c);
		return st;
	}
	return categories_commit(c, "rules", err, errlen) < 0 ? RULES_FAILED : RULES_OK;
}

/* Begins a change of rule r (NULL: none) of the user and checks its category. */
static enum rules_status
rules_begin(PGconn *c, int64_t user_id, const char *uid, const struct rule *r, char *err,
    size_t errlen)
{
	int ok;

	if (categories_begin(c, user_id, "rules", err, errlen) < 0)
		return RULES_FAILED;
	if (r == NULL)
		return RULES_OK;
	if ((ok = rules_category_ok(c, uid, r, err, errlen)) <= 0) {
		categories_rollback(c);
		return ok < 0 ? RULES_FAILED : RULES_NO_CATEGORY;
	}
	return RULES_OK;
}

enum rules_status
rules_create(PGconn *c, int64_t user_id, const struct rule *r, int64_t *id, char *err,
    size_t errlen)
{
	char uid[24], max[16], *texts[2];
	const char *params[8];
	enum rules_status st;
	PGresult *res;

	*id = 0;
	snprintf(uid, sizeof uid, "%" PRId64, user_id);
	snprintf(max, sizeof max, "%d", RULES_MAX);
	if ((st = rules_begin(c, user_id, uid, r, err, errlen)) != RULES_OK)
		return st;
	rules_params(r, uid, params, texts);
	params[7] = max;
	/* Nothing is inserted when the user is at the limit. */
	res = pq_exec(c, "rules", "INSERT INTO triage_rules (user_id, name, enabled, "
	    "match, conditions, category, actions, position) SELECT $1::bigint, $2, "
	    "$3::boolean, $4, $5::jsonb, $6, $7::jsonb, coalesce(max(position), 0) + 1 "
	    "FROM triage_rules WHERE user_id = $1::bigint HAVING count(*) < $8::int "
	    "RETURNING id", 8, params, err, errlen);
	free(texts[0]);
	free(texts[1]);
	if (res == NULL)
		st = RULES_FAILED;
	else if (PQntuples(res) != 1)
		st = RULES_LIMIT;
	else
		*id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return rules_end(c, st, err, errlen);
}

enum rules_status
rules_update(PGconn *c, int64_t user_id, int64_t id, const struct rule *r, char *err,
    size_t errlen)
{
	char uid[24], rid[24], *texts[2];
	const char *params[8];
	enum rules_status st;
	PGresult *res;

	snprintf(uid, sizeof uid, "%" PRId64, user_id);
	snprintf(rid, sizeof rid, "%" PRId64, id);
	if ((st = rules_begin(c, user_id, uid, r, err, errlen)) != RULES_OK)
		return st;
	rules_params(r, uid, params, texts);
	params[7] = rid;
	res = pq_exec(c, "rules", "UPDATE triage_rules SET name = $2, enabled = "
	    "$3::boolean, match = $4, conditions = $5::jsonb, category = $6, actions = $7::jsonb "
	    "WHERE id = $8::bigint AND user_id = $1::bigint RETURNING id", 8, params, err,
	    errlen);
	free(texts[0]);
	free(texts[1]);
	if (res == NULL)
		st = RULES_FAILED;
	else if (PQntuples(res) != 1)
		st = RULES_NOT_FOUND;
	PQclear(res);
	return rules_end(c, st, err, errlen);
}

enum rules_status
rules_move(PGconn *c, int64_t user_id, int64_t id, long position, char *err, size_t errlen)
{
	char uid[24], rid[24], pos[24];
	const char *params[3] = { uid, rid, pos };
	enum rules_status st;
	PGresult *res;

	snprintf(uid, sizeof uid, "%" PRId64, user_id);
	snprintf(rid, sizeof rid, "%" PRId64, id);
	snprintf(pos, sizeof pos, "%ld", position < 1 ? 1 : position);
	if ((st = rules_begin(c, user_id, uid, NULL, err, errlen)) != RULES_OK)
		return st;
	/* The others keep their order and are numbered around the rule's new place; a
	 * place past the end is the last. No row changes when the rule is not the user's. */
	res = pq_exec(c, "rules", "WITH t AS (SELECT id FROM triage_rules WHERE "
	    "id = $2::bigint AND user_id = $1::bigint), o AS (SELECT id, row_number() OVER "
	    "(ORDER BY position, id) AS n FROM triage_rules WHERE user_id = $1::bigint AND "
	    "id <> $2::bigint AND EXISTS (SELECT 1 FROM t)), p AS (SELECT least($3::bigint, "
	    "(SELECT count(*) FROM o) + 1) AS p), k AS (SELECT o.id, CASE WHEN o.n < p.p THEN "
	    "o.n ELSE o.n + 1 END AS pos FROM o, p UNION ALL SELECT t.id, p.p FROM t, p) "
	    "UPDATE triage_rules r SET position = k.pos FROM k WHERE r.id = k.id AND "
	    "r.user_id = $1::bigint RETURNING r.id", 3, params, err, errlen);
	if (res == NULL)
		st = RULES_FAILED;
	else if (PQntuples(res) == 0)
		st = RULES_NOT_FOUND;
	PQclear(res);
	return rules_end(c, st, err, errlen);
}

enum rules_status
rules_delete(PGconn *c, int64_t user_id, int64_t id, char *err, size_t errlen)
{
	char uid[24], rid[24];
	const char *params[2] = { uid, rid };
	PGresult *res;
	enum rules_status st;

	snprintf(uid, sizeof uid, "%" PRId64, user_id);
	snprintf(rid, sizeof rid, "%" PRId64, id);
	res = pq_exec(c, "rules", "DELETE FROM triage_rules WHERE id = $2::bigint AND "
	    "user_id = $1::bigint RETURNING id", 2, params, err, errlen);
	if (res == NULL)
		return RULES_FAILED;
	st = PQntuples(res) == 1 ? RULES_OK : RULES_NOT_FOUND;
	PQclear(res);
	return st;
}
