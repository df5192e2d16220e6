/* triage.h: the embedded classifier (issue 6, doc/triage.md). A message and what is known
 * of its context (the user's addresses, the sender's history, the thread's state) become
 * weighted votes of signals, each with a sentence, and a naive Bayes model over stemmed
 * words, sender and signal features (a shared prior plus the user's corrections) adds
 * its own; the decision is the category with the highest score, its confidence the
 * softmax of the scores. The core (triage_classify) is pure: no database, no network;
 * app/triage-db.c gathers the context from PostgreSQL, stores the decision and learns
 * from corrections. */
#ifndef MAILROOM_TRIAGE_H
#define MAILROOM_TRIAGE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <jansson.h>
#include <libpq-fe.h>

#include "mime.h"

#define TRIAGE_BUILTIN 8
#define TRIAGE_MAX_CLASSES 64      /* built-in and user-defined categories of one model */
#define TRIAGE_SLUG_SIZE 41        /* sql/0006: slug ~ '^[a-z0-9][a-z0-9-]{0,39}$' */
#define TRIAGE_MAX_REASONS 6
#define TRIAGE_REASON_SIZE 200
#define TRIAGE_BODY_BYTES 16384    /* bytes of the text body read (after quotes are cut) */
#define TRIAGE_MAX_TOKENS 600      /* distinct words kept of subject and body */
#define TRIAGE_MAX_FEATURES 700    /* words, sender, domain and signal features */
#define TRIAGE_FEATURE_SIZE 200    /* sql/0006: length(feature) BETWEEN 1 AND 200 */

/* The built-in categories, in the order of sql/0006's categories_builtin. */
enum triage_builtin {
	TRIAGE_TO_RESPOND,
	TRIAGE_FYI,
	TRIAGE_COMMENT,
	TRIAGE_NOTIFICATION,
	TRIAGE_MEETING_UPDATE,
	TRIAGE_AWAITING_REPLY,
	TRIAGE_ACTIONED,
	TRIAGE_MARKETING
};
extern const char *const triage_builtin_slugs[TRIAGE_BUILTIN];
/* The index of a built-in slug, or -1. */
int triage_builtin_index(const char *slug);
/* Whether s is a well-formed category slug (sql/0006's CHECK). */
int triage_slug_valid(const char *s);

/* A message as the classifier sees it; every pointer is borrowed. */
struct triage_message {
	struct mime_address_list from, to, cc, reply_to;
	const char *subject;           /* "" when none */
	const char *text;              /* the text body, "" when none */
	json_t *headers;               /* mime_parse's allowlisted headers, or NULL */
	const char *calendar_method;   /* "REQUEST", "CANCEL"..., or NULL */
	int is_reply;                  /* it has In-Reply-To or References */
	int sent;                      /* the user's own message (From one of their addresses) */
	int has_attachments;
};

/* From a parsed message (it must outlive m). self: the user's addresses, to set m->sent. */
void triage_message_from_mime(struct triage_message *m, const struct mime_message *mm,
    const char *const *self);
/* The METHOD of a text/calendar object ("REQUEST"), upper case, into out; NULL when it
 * has none. */
const char *triage_calendar_method(const char *ics, char *out, size_t outlen);

/* Counts of features per category: the shared prior, or what one user's corrections
 * taught (sql/0006 triage_features, triage_totals). */
struct triage_model;

struct triage_model *triage_model_new(void);
void triage_model_free(struct triage_model *m);
/* The class of slug, added when missing; -1 when the model has TRIAGE_MAX_CLASSES. */
int triage_model_class(struct triage_model *m, const char *slug);
void triage_model_add(struct triage_model *m, const char *feature, const char *slug,
    double count);
void triage_model_add_docs(struct triage_model *m, const char *slug, double docs,
    double features);
size_t triage_model_vocabulary(const struct triage_model *m);
/* The model as text (one "D slug docs features" line per class, one "F feature slug
 * count" per count, tab-separated, sorted: the same model gives the same bytes). */
int triage_model_write(const struct triage_model *m, FILE *f);
/* Reads triage_model_write's text; NULL with a sentence in err. */
struct triage_model *triage_model_read(const char *path, char *err, size_t errlen);
/* The shipped prior: share/triage-prior.tsv as installed (or in the source tree when
 * mailroom runs from its build tree). */
const char *triage_prior_default_path(void);

/* What the store knows of the message's context (app/triage-db.c fills it). Zeroed:
 * nothing is known, and only the message itself counts. */
struct triage_context {
	const char *const *self;       /* the user's addresses, NULL-terminated, or NULL */
	int history;                   /* the next three are known */
	long from_sender;              /* messages received from the sender before this one */
	long to_sender;                /* messages the user sent to the sender */
	long sender_corrections;       /* corrections the user made to the sender's mail */
	int thread;                    /* the thread facts below are known */
	int user_replied_after;        /* received: the user wrote in the thread after it */
	int answered_after;            /* sent: someone else wrote in the thread after it */
	int answers_user;              /* received: it replies to a message of the user */
	int user_in_thread;            /* the user wrote in the thread before it */
	/* The user's own model (their corrections) or NULL, on top of the prior. */
	const struct triage_model *user_model;
};

struct triage_reason {
	char text[TRIAGE_REASON_SIZE]; /* a sentence for the user */
	const char *signal;            /* the signal's name ("list-unsubscribe") */
	double weight;                 /* its part in the decision */
};

/* Who decided, as sql/0006's mail_messages.category_source names it. */
#define TRIAGE_SOURCE_CLASSIFIER "classifier"
#define TRIAGE_SOURCE_RULE "rule"
#define TRIAGE_SOURCE_SENDER "sender"
#define TRIAGE_SOURCE_SCREENING "screening"

struct triage_decision {
	char category[TRIAGE_SLUG_SIZE];
	double confidence;             /* in [0, 1] */
	const char *source;            /* a TRIAGE_SOURCE_ */
	int64_t rule_id;               /* the rule that decided, 0 when none */
	struct triage_reason reasons[TRIAGE_MAX_REASONS];
	size_t n_reasons;              /* most important first */
	int first_time_sender;         /* for the cold-email screen: no history with them */
	double outreach;               /* how much it looks like marketing or cold outreach */
};

/* A classifier: the prior, the stemmers and the scratch memory of one thread. */
struct triage_classifier;

/* prior may be NULL (signals only); it is borrowed and must outlive the classifier. */
struct triage_classifier *triage_classifier_new(const struct triage_model *prior);
void triage_classifier_free(struct triage_classifier *tc);

/* Decides m's category. Deterministic: the same message, context and models give the
 * same decision. Never fails: a message with nothing to go on is FYI, unsure. */
void triage_classify(struct triage_classifier *tc, const struct triage_message *m,
    const struct triage_context *ctx, struct triage_decision *out);

/* The features of m the models count (stemmed words "w:", sender "s:", domain "d:",
 * signals "f:"), each once; valid until the next call on tc. Returns how many. */
size_t triage_features(struct triage_classifier *tc, const struct triage_message *m,
    const struct triage_context *ctx, const char ***features);

/* The language picked for m's text ("english", "german", "french", "spanish"...), as
 * the stemmer names it. */
const char *triage_language(struct triage_classifier *tc, const char *text, size_t len);

/* The decision's reasons as a JSON array of sentences (new reference). */
json_t *triage_reasons_json(const struct triage_decision *d);

/* ---- app/triage-db.c: the store's side ---- */

/* Classifies the stored message row of user_id (the user's rules of app/rules.c first,
 * then the sender's category, thread state and calendar, the classifier with the
 * user's model, then the cold-email screen of the user's settings) and stores the
 * decision
 * (category, confidence, source, reasons, rule, triaged_at; the thread's category when
 * it is the thread's latest message; the thread's reply state). out may be NULL. -1 with err when the message is
 * not the user's or the database fails (nothing changes). */
int triage_db_classify(PGconn *c, int64_t user_id, int64_t row, struct triage_decision *out,
    char *err, size_t errlen);

/* Classifies a message that is not stored (mailroom triage --explain) against user_id's
 * store (0: no user, no history). Nothing is written. */
int triage_db_explain(PGconn *c, int64_t user_id, const struct mime_message *mm,
    struct triage_decision *out, char *err, size_t errlen);

/* Messages read, decided and stored together by triage_db_pending. */
#define TRIAGE_DB_BATCH 250

/* Classifies up to limit untriaged messages (triaged_at IS NULL) of user_id (0: of every
 * user), oldest first, in batches of TRIAGE_DB_BATCH, in one transaction (or the
 * caller's); *done says how many. A message corrected meanwhile keeps its correction. */
int triage_db_pending(PGconn *c, int64_t user_id, long limit, long *done, char *err,
    size_t errlen);

/* The "triage" job: classifies a user's untriaged messages (app/cli-worker.c). */
#define TRIAGE_JOB_ATTEMPTS 10

/* The triage job's work: classifies every untriaged message of user_id, a transaction
 * per TRIAGE_DB_BATCH, polling stop (may be NULL) between them, then queues the
 * write-back of the user's accounts (writeback_enqueue) when it classified any. Returns
 * 0 when all is done, 1 when stopped (what was done is kept), -1 with err; *done says
 * how many messages were classified. */
int triage_job_run(PGconn *c, int64_t user_id, const atomic_int *stop, long *done,
    char *err, size_t errlen);

/* Queues a triage job for user_id (payload {"user_id": N}, unique key "triage:<user>":
 * nothing is added while one is queued or running). Returns its id, or -1 (logged). */
int64_t triage_enqueue(PGconn *c, int64_t user_id);
/* Queues one for every user who has untriaged messages (the periodic scheduler's safety
 * net). Returns how many users, or -1 with err. */
long triage_enqueue_pending(PGconn *c, char *err, size_t errlen);

/* The cold-email screen's "allow": lets sender (an address, or a domain: "example.com"
 * or "@example.com") of user_id through for good (a sender_categories row with no
 * category; a row the sender has already is kept), and classifies again the messages
 * the screen caught from them. In one transaction (or the caller's); *retriaged says how
 * many messages. -1 with err when sender is not an address or a domain, or the database
 * fails (nothing changes). */
int triage_allow_sender(PGconn *c, int64_t user_id, const char *sender, long *retriaged,
    char *err, size_t errlen);

/* Learns a correction: the stored message row of user_id moved from category from (NULL
 * or "" when it had none) to category to. The features of the message are counted for
 * to (and taken back from from) in the user's model, incrementally, in one transaction
 * (or the caller's). Storing the correction itself and the message's new category is the
 * caller's (the correction's) job. -1 with err when the message is not the user's, to is
 * not one of their categories, or the database fails. */
int triage_learn(PGconn *c, int64_t user_id, int64_t row, const char *from, const char *to,
    char *err, size_t errlen);

/* The prior every classifier of the process uses (loaded once, thread-safe) from path
 * (NULL: triage_prior_default_path()). A prior that cannot be read leaves the classifier
 * on its signals alone, with a warning in the log. */
void triage_db_use_prior(const char *path);
/* Frees the prior and this thread's classifier (tests and tools, at exit). */
void triage_db_shutdown(void);

#endif
