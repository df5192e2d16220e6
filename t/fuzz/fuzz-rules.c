/* fuzz-rules.c: libFuzzer harness for the rule JSON parser of rules.c. The input is a
 * rule as JSON, then optionally a NUL byte and the text of a message (its subject, body,
 * sender and a header's value). Whatever parses must come back the same from its own
 * JSON (rules_json, then rules_parse again) and is evaluated against that message and a
 * fixed one; whatever is refused must say which member and why, in a sentence. */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fuzz_fail(const char *what, const char *detail)
{
	fprintf(stderr, "fuzz-rules: %s: [%s]\n", what, detail != NULL ? detail : "");
	abort();
}

static void
fuzz_bad(void *arg, const char *field, const char *message)
{
	int *n = arg;

	if (field == NULL || *field == '\0' || message == NULL || strlen(message) < 10)
		fuzz_fail("a refusal without a member or a sentence", message);
	(*n)++;
}

static const char *
fuzz_header(void *arg, const char *name, size_t i)
{
	(void)name;
	return i < 2 ? arg : NULL;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct rule_addr to[] = { { "ada@example.org", "Ada" }, { NULL, NULL } };
	const uint8_t *nul = memchr(data, '\0', size);
	size_t jlen = nul != NULL ? (size_t)(nul - data) : size;
	char *text = xstrndup(nul != NULL ? (const char *)nul + 1 : "",
	    nul != NULL ? size - jlen - 1 : 0);
	struct rule_msg m = { text, text, to, 2, to, 1, text, text, strlen(text), fuzz_header,
		text };
	struct rule_msg fixed = { "news@example.com", "News", to, 1, NULL, 0, "Weekly digest",
		"Hello\nworld", 11, NULL, NULL };
	struct rule_set set;
	struct rule r, back;
	json_t *j, *out, *again;
	int nbad = 0, n;

	j = json_loadb((const char *)data, jlen, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, NULL);
	if (j == NULL) {
		free(text);
		return 0;
	}
	n = rules_parse(j, &r, fuzz_bad, &nbad);
	json_decref(j);
	if (n != nbad)
		fuzz_fail("the count of refusals differs from the calls", NULL);
	if (n > 0) {
		rule_free(&r);
		free(text);
		return 0;
	}
	if (r.name == NULL || r.nconditions == 0 || r.nconditions > RULES_CONDITIONS_MAX ||
	    (r.category == NULL && r.nactions == 0))
		fuzz_fail("a rule that should have been refused", r.name);
	out = rules_json(&r);
	if (rules_parse(out, &back, fuzz_bad, &nbad) != 0)
		fuzz_fail("a rule's own JSON refused", r.name);
	again = rules_json(&back);
	if (!json_equal(out, again))
		fuzz_fail("the JSON does not come back the same", r.name);
	set.rules = &r;
	set.n = 1;
	r.enabled = 1;
	if (rules_first_match(&set, &m) != NULL && !rules_match(&r, &m))
		fuzz_fail("first match and match disagree", r.name);
	(void)rules_match(&back, &fixed);
	json_decref(out);
	json_decref(again);
	rule_free(&back);
	rule_free(&r);
	free(text);
	return 0;
}
