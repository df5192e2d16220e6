/* rules.h: a user's triage rules (table triage_rules): conditions on the sender, the
 * recipients, the subject, the body and the headers, combined with all (AND) or any
 * (OR), leading to a category and optional actions. The classifier (triage.c) loads the
 * enabled rules once per batch and asks for the first that matches a message, before it
 * decides anything itself; the settings page and the API create and edit them through
 * the same parser, so a stored rule has always passed rules_parse.
 *
 * A rule as JSON (the API's body, and what triage_rules stores in its columns):
 *
 *	{"name": "Newsletters", "enabled": true, "match": "any",
 *	 "conditions": [{"field": "header:List-Id", "op": "contains", "value": "news"},
 *	     {"field": "from", "op": "matches", "value": "^no-?reply@", "negate": false}],
 *	 "category": "marketing",
 *	 "actions": [{"type": "archive"}, {"type": "move", "folder": "News"}]}
 *
 * Every comparison is case-insensitive (ASCII, Latin, Greek and Cyrillic letters). */
#ifndef MAILROOM_RULES_H
#define MAILROOM_RULES_H

#include <stddef.h>
#include <stdint.h>
#include <regex.h>
#include <jansson.h>
#include <libpq-fe.h>

#define RULES_MAX		50	/* rules per user */
#define RULES_CONDITIONS_MAX	20	/* conditions per rule */
#define RULES_VALUE_MAX		500	/* characters of a condition's value or a folder */
#define RULES_NAME_MAX		100	/* characters of a rule's name */
#define RULES_REGEX_MAX		200	/* characters of a "matches" pattern */
#define RULES_HEADER_NAME_MAX	76	/* characters of a header's name */
#define RULES_BODY_MAX		(64 * 1024)	/* bytes of the body a condition looks at */
#define RULES_HEADER_VALUES_MAX	32	/* occurrences of one header looked at */

/* What a condition looks at. */
enum rule_field {
	RULE_FIELD_FROM,	/* the sender's address or display name */
	RULE_FIELD_DOMAIN,	/* the domain of the sender's address */
	RULE_FIELD_TO,		/* any To address or name */
	RULE_FIELD_CC,		/* any Cc address or name */
	RULE_FIELD_RECIPIENTS,	/* any To or Cc address or name */
	RULE_FIELD_SUBJECT,
	RULE_FIELD_BODY,	/* the text body, its first RULES_BODY_MAX bytes */
	RULE_FIELD_HEADER,	/* any occurrence of a named header */
};

enum rule_op {
	RULE_OP_CONTAINS,
	RULE_OP_IS,
	RULE_OP_STARTS,
	RULE_OP_ENDS,
	RULE_OP_MATCHES,	/* POSIX extended regular expression, anywhere in the text
				 * (^ and $ also match at the start and end of each line) */
};

enum rule_action_type {
	RULE_ACTION_ARCHIVE,
	RULE_ACTION_MARK_READ,
	RULE_ACTION_STAR,
	RULE_ACTION_MOVE,	/* to folder */
};

struct rule_condition {
	enum rule_field field;
	char *header;		/* RULE_FIELD_HEADER: the header's name as given */
	enum rule_op op;
	int negate;		/* the condition holds when the comparison does not */
	char *value;		/* as given (white space around it removed) */
	char *folded;		/* value case-folded, for the plain comparisons */
	regex_t re;		/* RULE_OP_MATCHES */
	int has_re;
};

struct rule_action {
	enum rule_action_type type;
	char *folder;		/* RULE_ACTION_MOVE */
};

struct rule {
	int64_t id;		/* 0 before it is stored */
	char *name;
	int position;		/* 1 for the first rule of the user */
	int enabled;
	int match_any;		/* 0: all conditions must hold; 1: any */
	struct rule_condition *conditions;
	size_t nconditions;
	char *category;		/* a slug of the user's categories, or NULL (actions only) */
	struct rule_action *actions;
	size_t nactions;
	char created_at[24];	/* UTC "YYYY-MM-DDTHH:MM:SSZ" of a stored rule */
	char updated_at[24];
	/* A stored rule that no longer parses (the database was edited by hand): why,
	 * naming the rule and the field. Such a rule never matches. NULL otherwise. */
	char *error;
};

struct rule_set {
	struct rule *rules;	/* in position order */
	size_t n;
};

/* ---- Parsing and validation */

/* Called once per refused member: field is the member's path in the JSON ("name",
 * "conditions[2].value", "actions[0].folder"), message a sentence for the user that
 * names the rule and, for a condition, its number and field. */
typedef void (*rules_bad_fn)(void *arg, const char *field, const char *message);

/* Reads and checks a rule from its JSON object j into *out (zeroed first; free it with
 * rule_free whatever the result). Members "id", "position", "created_at" and
 * "updated_at" are ignored (what GET answers can be sent back); any other unknown member
 * is refused. Regular expressions are compiled here. Returns the number of refused
 * members (0: *out is a valid rule, but its category may not exist: the store checks). */
int rules_parse(json_t *j, struct rule *out, rules_bad_fn bad, void *arg);
void rule_free(struct rule *r);

/* The rule as JSON: {"id", "name", "position", "enabled", "match", "conditions",
 * "category", "actions", "created_at", "updated_at"} (id and times when stored). What
 * rules_parse reads back into the same rule. */
json_t *rules_json(const struct rule *r);
/* One sentence per condition, for lists: "Subject contains \"invoice\"". */
char *rules_condition_text(const struct rule_condition *c);

/* Names as the JSON has them ("from", "contains", "archive", ...), and back (-1 when
 * unknown). rules_field_parse also reads "header:Name", storing the name in *header
 * (malloc'd) when header is not NULL. */
const char *rules_field_name(enum rule_field f);
const char *rules_op_name(enum rule_op op);
const char *rules_action_name(enum rule_action_type t);
int rules_field_parse(const char *s, char **header);
int rules_op_parse(const char *s);
int rules_action_parse(const char *s);

/* ---- Evaluation */

/* An address of a message: either part may be NULL. */
struct rule_addr {
	const char *address;
	const char *name;
};

/* A message as rules see it. Strings may be NULL (empty). The caller keeps them alive
 * during the call; nothing is kept afterwards. */
struct rule_msg {
	const char *from_address;
	const char *from_name;
	const struct rule_addr *to;
	size_t nto;
	const struct rule_addr *cc;
	size_t ncc;
	const char *subject;
	const char *body;	/* the text body; only RULES_BODY_MAX bytes are looked at */
	size_t body_len;
	/* The i-th (from 0) occurrence of header name (compared without case) with its
	 * value unfolded and decoded, or NULL past the last; NULL: the message has no
	 * headers to look at. At most RULES_HEADER_VALUES_MAX occurrences are asked for. */
	const char *(*header)(void *arg, const char *name, size_t i);
	void *header_arg;
};

/* Whether rule r holds for m (a rule with an error never does; its enabled flag is not
 * looked at). */
int rules_match(const struct rule *r, const struct rule_msg *m);
/* The first enabled rule of set, in order, that holds for m, or NULL. The decision it
 * makes is the caller's to record: its category, its actions, and its id as
 * mail_messages.category_rule_id with category_source 'rule'. */
const struct rule *rules_first_match(const struct rule_set *set, const struct rule_msg *m);

/* ---- Storage: every call is scoped by the owner; another user's rule id behaves as
 * one that does not exist. Messages of database failures go to err. */

enum rules_status {
	RULES_OK,
	RULES_NOT_FOUND,	/* no such rule of this user */
	RULES_NO_CATEGORY,	/* the rule names a category the user does not have */
	RULES_LIMIT,		/* the user has RULES_MAX rules already */
	RULES_FAILED,		/* the database failed: err says why */
};

/* The enabled rules of user_id in order, compiled, for the classifier: *out is never
 * NULL on success (maybe empty); a stored rule that no longer parses is logged with its
 * error and left out. Returns 0, or -1 with err set. */
int rules_load(PGconn *c, int64_t user_id, struct rule_set **out, char *err, size_t errlen);
/* All the rules of user_id (id 0), enabled or not, or rule id alone, in order (rules
 * that no longer parse are there with their error). Returns the count or -1. */
long rules_list(PGconn *c, int64_t user_id, int64_t id, struct rule_set **out, char *err,
    size_t errlen);
void rules_set_free(struct rule_set *set);

/* Stores a parsed rule as the user's last one; *id is its id. */
enum rules_status rules_create(PGconn *c, int64_t user_id, const struct rule *r,
    int64_t *id, char *err, size_t errlen);
/* Replaces rule id with r (all but its position). */
enum rules_status rules_update(PGconn *c, int64_t user_id, int64_t id, const struct rule *r,
    char *err, size_t errlen);
/* Moves rule id to position (1 first; past the end: last), renumbering the others. */
enum rules_status rules_move(PGconn *c, int64_t user_id, int64_t id, long position,
    char *err, size_t errlen);
enum rules_status rules_delete(PGconn *c, int64_t user_id, int64_t id, char *err,
    size_t errlen);

#endif
