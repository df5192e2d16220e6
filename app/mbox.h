/* mbox.h: a streaming mbox reader for `mailroom import-mbox` (Google Takeout exports
 * included). It reads a FILE* in chunks, never the whole file, and yields one message at a
 * time: the bytes between a "From " separator line and the next one, the separator
 * excluded. A separator is a line starting with "From " at the start of the file or after
 * an empty line. Lines matching ^>+From  lose one '>' (mboxrd; for mboxo files this is
 * the inverse of their escaping too). CRLF and LF files both work, line ends are kept as
 * they are, the empty line before a separator (and at the very end) is dropped, and
 * headers (X-GM-THRID, X-Gmail-Labels...) are not touched. A message larger than the
 * maximum size is skipped with a warning; so is an empty one. */
#ifndef MAILROOM_MBOX_H
#define MAILROOM_MBOX_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* The default maximum size of one message: 64 MB. */
#define MBOX_MAX_MESSAGE (64u * 1024 * 1024)
/* The separator line kept in struct mbox_message.from_line, at most this many bytes. */
#define MBOX_FROM_LINE_MAX 1000

struct mbox_reader;

struct mbox_message {
	char *data;          /* the message, malloc'd, NUL-terminated (len excludes the NUL) */
	size_t len;          /* > 0 */
	uint64_t offset;     /* the byte offset of its separator line, from where reading began */
	uint64_t end;        /* the offset just after its last byte (the next separator's) */
	char *from_line;     /* the separator line without "From " and line end, malloc'd */
};

/* A reader of f, which stays the caller's; max_message 0 means MBOX_MAX_MESSAGE. */
struct mbox_reader *mbox_open(FILE *f, size_t max_message);
/* The next message: 1 with *m filled (free it with mbox_message_free), 0 at the end of
 * the file, -1 on an error (a file that does not start with a "From " line, a read error)
 * with a message in err. */
int mbox_next(struct mbox_reader *r, struct mbox_message *m, char *err, size_t errlen);
/* The bytes read so far, for a progress line. */
uint64_t mbox_offset(const struct mbox_reader *r);
/* The messages skipped so far: too large, or empty. */
size_t mbox_skipped(const struct mbox_reader *r);
void mbox_close(struct mbox_reader *r);
void mbox_message_free(struct mbox_message *m);

#endif
