/* replies.h: reply tracking (issue 6, item 6; doc/triage.md, "Reply tracking"). Each
 * thread of a user has a reply state (sql/0006 mail_threads.reply_state, reply_since,
 * follow_up), worked out from its messages and their categories:
 *
 *   awaiting  the user's own message is the thread's last (and they have not marked it
 *             Actioned): they wait for an answer, since that message;
 *   owed      someone else wrote last, and a message of theirs in To respond came after
 *             the user's last action in the thread (their last message, or a message they
 *             marked Actioned): the user owes an answer, since the first such message;
 *   done      neither, in a thread the user took part in (wrote in, or marked Actioned);
 *   NULL      neither, in a thread the user never took part in (newsletters, notices).
 *
 * follow_up is set on an awaiting thread older than the user's
 * triage_settings.follow_up_days (3 when unset). A reply from either side moves the thread
 * on: owed -> awaiting when the user answers, awaiting -> owed (or done, when the answer
 * asks nothing) when the other side does.
 *
 * triage (app/triage-db.c) updates the threads of the messages it classifies; the
 * periodic scheduler job calls replies_follow_up, since time alone raises the flag.
 * Whoever changes a message's category otherwise (a correction) calls
 * replies_update_threads for its thread. Every call is scoped by the owner. */
#ifndef MAILROOM_REPLIES_H
#define MAILROOM_REPLIES_H

#include <stddef.h>
#include <stdint.h>
#include <libpq-fe.h>

#define REPLIES_FOLLOW_UP_DAYS 3	/* triage_settings.follow_up_days's default */
#define REPLIES_LIST_MAX 200		/* threads one replies_list call returns at most */

/* Works out the reply state of the user's threads listed (n of them; another user's are
 * left alone), in the caller's transaction if any. Returns how many threads changed, or
 * -1 with err. */
long replies_update_threads(PGconn *c, int64_t user_id, const int64_t *threads, size_t n,
    char *err, size_t errlen);

/* The same for every thread of the user (after an import, or to repair). */
long replies_rebuild(PGconn *c, int64_t user_id, char *err, size_t errlen);

/* Sets or clears follow_up on the awaiting threads of user_id (0: of every user) by their
 * age and the owner's setting: the periodic pass. Returns how many threads changed, or
 * -1 with err. */
long replies_follow_up(PGconn *c, int64_t user_id, char *err, size_t errlen);

/* For the dashboard. */
struct replies_counts {
	long owed;		/* threads where the user owes an answer */
	long awaiting;		/* threads where the user waits for one */
	long follow_up;		/* of the awaiting ones, those flagged for a follow-up */
};

int replies_counts(PGconn *c, int64_t user_id, struct replies_counts *out, char *err,
    size_t errlen);

enum replies_kind {
	REPLIES_OWED,
	REPLIES_AWAITING,
	REPLIES_FOLLOW_UP,	/* the awaiting threads flagged for a follow-up */
};

struct reply_thread {
	int64_t thread_id;
	int64_t message_id;	/* the row of the thread's last message */
	char *subject;		/* the thread's subject, "" when none */
	char *who;		/* the other side: the last sender who is not the user (owed),
				 * the first recipient of the user's last message (awaiting);
				 * a display name when there is one, else the address; "" none */
	char *who_address;	/* the address of who, "" when none */
	int64_t since;		/* epoch seconds: when the state began */
	int64_t age;		/* seconds since then, by the database's clock */
	int follow_up;
	int message_count;
	char category[41];	/* the thread's category slug, "" when none */
};

/* The user's threads of kind, the oldest first (the longest waiting), at most limit
 * (capped at REPLIES_LIST_MAX) from offset. Returns the count (the list in *out, free it
 * with replies_free), or -1 with err. */
long replies_list(PGconn *c, int64_t user_id, enum replies_kind kind, long limit,
    long offset, struct reply_thread **out, char *err, size_t errlen);
void replies_free(struct reply_thread *v, size_t n);

/* A state's name as sql/0006 stores it ("owed", "awaiting", "done"), for JSON. */
const char *replies_kind_name(enum replies_kind kind);

#endif
