/* mailgen.h: realistic synthetic mail for the benchmarks. A seeded generator writes raw
 * RFC 5322 messages (CRLF) of one mailbox: a Zipf-distributed vocabulary (common words
 * really common, a long tail of rare ones), a few frequent correspondents among many,
 * notifications with List-Id, sent mail, threads with In-Reply-To and References, dates
 * spread evenly over a period, multipart/alternative and HTML-only bodies, attachments.
 * The same seed gives the same messages. */
#ifndef MAILROOM_T_MAILGEN_H
#define MAILROOM_T_MAILGEN_H

#include <stddef.h>
#include <stdint.h>

struct mailgen;

struct mailgen_msg {
	const char *raw;	/* CRLF line ends; valid until the next mailgen_next */
	size_t len;
	size_t index;		/* 0, 1, ... */
	size_t thread;		/* the generator's thread number (0, 1, ...) */
	int64_t date;		/* its Date, Unix seconds */
	int64_t received;	/* when the server got it: a little after date */
	int sent;		/* from the mailbox's owner */
	int seen;		/* \Seen */
	int flagged;		/* \Flagged */
	int has_attachment;
};

/* count messages dated from first to last (Unix seconds), for the owner self_name
 * <self_address>; tag makes the Message-IDs of two generators differ. */
struct mailgen *mailgen_new(uint64_t seed, size_t count, int64_t first, int64_t last,
    const char *self_name, const char *self_address, const char *tag);
/* The next message, or NULL after count of them. */
const struct mailgen_msg *mailgen_next(struct mailgen *g);
void mailgen_free(struct mailgen *g);

/* The vocabulary by rank (0 is the most frequent word); rank below mailgen_words(). */
size_t mailgen_words(void);
const char *mailgen_word(size_t rank);
/* Two-word phrases that bodies use now and then, by index below mailgen_phrases(). */
size_t mailgen_phrases(void);
const char *mailgen_phrase(size_t i);
/* The correspondents by rank (0 writes the most): last name and address. */
size_t mailgen_contacts(void);
const char *mailgen_contact_name(size_t rank);
const char *mailgen_contact_address(size_t rank);

#endif
