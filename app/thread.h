/* thread.h: conversation threading, JWZ-style. A new message joins the thread of the
 * message its In-Reply-To names, else of the latest of its References the store knows;
 * only a message with neither header may join a thread by its subject, and then only a
 * recent thread (THREAD_SUBJECT_WINDOW) with the same people and a subject that is not a
 * generic one ("hello", "test"). The module is pure: the store is reached through the
 * callbacks of struct thread_lookup. doc/threading.md has the rules and what the caller
 * does when a parent arrives after its replies (thread_merge_plan). */
#ifndef MAILROOM_THREAD_H
#define MAILROOM_THREAD_H

#include <stddef.h>
#include <stdint.h>

/* A subject match joins a thread only when the thread's latest message is at most this
 * far (in seconds, either side) from the new message's date: 7 days. */
#define THREAD_SUBJECT_WINDOW (7 * 24 * 3600)
/* thread_parse_refs keeps at most this many ids: the last ones of the header. */
#define THREAD_REFS_MAX 100
/* A message id longer than this (without its brackets) is dropped as garbage. */
#define THREAD_ID_MAX 995
/* The size of a buffer that holds any subject key, NUL included. */
#define THREAD_KEY_SIZE 256

/* Ids parsed from a References or In-Reply-To header, oldest first, each malloc'd,
 * without brackets or whitespace, non-empty and distinct. */
struct thread_refs {
	char *ids[THREAD_REFS_MAX];
	size_t n;
};

/* Extracts the <...> ids of a References or In-Reply-To header (NULL: none): garbage and
 * comments between ids are skipped, whitespace inside an id (a folded header) removed,
 * duplicates kept once (at their last place), and only the last THREAD_REFS_MAX kept. A
 * header with no bracketed id at all is read as whitespace- or comma-separated bare
 * local@domain ids. Returns out->n. Free with thread_refs_free. */
size_t thread_parse_refs(const char *header, struct thread_refs *out);
void thread_refs_free(struct thread_refs *r);

/* The key threads are matched on by subject: reply and forward prefixes ("Re:", "RE :",
 * "Fwd:", "Fw:", "AW:", "WG:", "SV:", "VS:", "Réf:", "TR:", "RIF:", "R:", "Antw:", "Odp:",
 * with counters as in "Re[2]:" or "Re(3):") and list tags ("[list-name]") are stripped
 * from the front, repeatedly; runs of whitespace become one space, none at either end;
 * ASCII letters are lower-cased; the rest is left as it is. out (outsize bytes, at least
 * 1) receives the key, cut at a UTF-8 character boundary when it does not fit; returns
 * its length. thread_subject_key of a key gives the key back. */
size_t thread_subject_key(const char *subject, char *out, size_t outsize);

/* Whether a key is too generic to join threads by: empty, very short, or one of the
 * subjects people reuse for unrelated mail ("hello", "hi", "(no subject)", "test"...). */
int thread_subject_generic(const char *key);

/* A thread that find_by_subject proposes, with the people of its messages. */
struct thread_candidate {
	int64_t thread_id;
	int64_t last_date;                 /* the date of its latest message, Unix seconds */
	const char *const *participants;   /* addresses (From, To, Cc of its messages) */
	size_t nparticipants;
};

struct thread_lookup {
	void *ctx;
	/* The thread of the stored message with this Message-ID (no brackets), or 0. */
	int64_t (*find_by_message_id)(void *ctx, const char *message_id);
	/* The threads with this subject key whose latest message is dated in [since, until];
	 * *out points to an array the callee owns, valid until the next call with ctx. NULL
	 * when the caller wants no subject fallback. */
	size_t (*find_by_subject)(void *ctx, const char *subject_key, int64_t since,
	    int64_t until, const struct thread_candidate **out);
};

/* The new message, its headers parsed by the caller (thread_parse_refs). */
struct thread_message {
	const char *message_id;            /* no brackets; NULL or "" when it has none */
	const char *const *in_reply_to;    /* the ids of In-Reply-To */
	size_t nin_reply_to;
	const char *const *references;     /* the ids of References, oldest first */
	size_t nreferences;
	const char *subject;               /* as sent (decoded), or its key; NULL: none */
	int64_t date;                      /* Unix seconds */
	const char *const *participants;   /* From, To, Cc addresses */
	size_t nparticipants;
};

/* How thread_decide chose. */
enum thread_reason {
	THREAD_NEW,             /* 0: a new thread */
	THREAD_BY_SELF,         /* the message is already stored: its own thread */
	THREAD_BY_IN_REPLY_TO,
	THREAD_BY_REFERENCES,
	THREAD_BY_SUBJECT,
};

/* The thread the message joins, or 0 for a new one; *reason (when not NULL) says why. */
int64_t thread_decide(const struct thread_message *m, const struct thread_lookup *lookup,
    enum thread_reason *reason);

/* A parent that arrives after replies which started threads of their own: the caller
 * finds the threads of the stored messages whose In-Reply-To or References name the new
 * message's Message-ID (children[], n of them), and the thread decided for the new
 * message (decided, 0 when new). thread_merge_plan returns the thread that keeps them all
 * (decided, or else the smallest child thread id; 0 when there is nothing to merge into)
 * and writes to merge[] (n entries at most) the distinct other threads whose messages
 * move into it, returning their count in *nmerge. */
int64_t thread_merge_plan(int64_t decided, const int64_t *children, size_t n,
    int64_t *merge, size_t *nmerge);

#endif
