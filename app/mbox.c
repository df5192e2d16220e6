/* mbox.c: the streaming mbox reader (mbox.h). The file is read through a buffer of
 * MBOX_CHUNK bytes; at each line start at least MBOX_LOOK bytes (or the rest of the file)
 * are in the buffer, enough to tell a separator or an escaped ">From " line, so that no
 * line, however long, is ever held whole outside the message being built. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "mbox.h"
#include "util.h"

#define MBOX_CHUNK (64 * 1024)
/* A line of more than MBOX_LOOK - 5 '>' before "From " is left as it is. */
#define MBOX_LOOK 4096

enum line_kind { LINE_TEXT, LINE_SEPARATOR };

struct mbox_reader {
	FILE *f;
	size_t max;
	char *buf;
	size_t pos, fill;
	uint64_t base;          /* the file offset of buf[0] */
	int eof, failed, started;

	/* The line being read. */
	int mid_line;           /* inside a line whose start has been handled */
	enum line_kind kind;
	int prev_blank;         /* the last complete line was empty */
	size_t blank_len;       /* its length (1 or 2) when it was */

	/* The message being read. */
	int open;
	uint64_t msg_offset;
	char *msg;
	size_t len, cap;
	int oversize;
	uint64_t msg_bytes;
	char *from_line;
	size_t from_len;

	size_t skipped;
};

struct mbox_reader *
mbox_open(FILE *f, size_t max_message)
{
	struct mbox_reader *r = xcalloc(1, sizeof(*r));

	r->f = f;
	r->max = max_message != 0 ? max_message : MBOX_MAX_MESSAGE;
	r->buf = xmalloc(MBOX_CHUNK);
	return r;
}

void
mbox_close(struct mbox_reader *r)
{
	if (r == NULL)
		return;
	free(r->buf);
	free(r->msg);
	free(r->from_line);
	free(r);
}

void
mbox_message_free(struct mbox_message *m)
{
	free(m->data);
	free(m->from_line);
	memset(m, 0, sizeof(*m));
}

uint64_t
mbox_offset(const struct mbox_reader *r)
{
	return r->base + r->pos;
}

size_t
mbox_skipped(const struct mbox_reader *r)
{
	return r->skipped;
}

/* Makes at least need bytes available from pos, or all that is left of the file. */
static int
mbox_fill(struct mbox_reader *r, size_t need)
{
	if (need > MBOX_CHUNK)
		need = MBOX_CHUNK;
	if (r->fill - r->pos >= need || r->eof)
		return 0;
	if (r->pos > 0) {
		memmove(r->buf, r->buf + r->pos, r->fill - r->pos);
		r->base += r->pos;
		r->fill -= r->pos;
		r->pos = 0;
	}
	while (r->fill < need && !r->eof) {
		size_t got = fread(r->buf + r->fill, 1, MBOX_CHUNK - r->fill, r->f);

		r->fill += got;
		if (got == 0) {
			if (ferror(r->f))
				return -1;
			r->eof = 1;
		}
	}
	return 0;
}

static void
msg_append(struct mbox_reader *r, const char *p, size_t n)
{
	r->msg_bytes += n;
	if (r->oversize)
		return;
	if (r->len + n > r->max) {
		r->oversize = 1;
		free(r->msg);
		r->msg = NULL;
		r->len = r->cap = 0;
		return;
	}
	if (r->len + n + 1 > r->cap) {
		size_t cap = r->cap != 0 ? r->cap : 4096;

		while (cap < r->len + n + 1)
			cap *= 2;
		if (cap > r->max + 1)
			cap = r->max + 1;
		r->msg = xreallocarray(r->msg, cap, 1);
		r->cap = cap;
	}
	memcpy(r->msg + r->len, p, n);
	r->len += n;
}

static void
from_append(struct mbox_reader *r, const char *p, size_t n)
{
	if (r->from_len + n > MBOX_FROM_LINE_MAX)
		n = MBOX_FROM_LINE_MAX - r->from_len;
	memcpy(r->from_line + r->from_len, p, n);
	r->from_len += n;
}

/* Starts the message of the separator line at the read position. */
static void
msg_start(struct mbox_reader *r)
{
	r->open = 1;
	r->msg_offset = mbox_offset(r);
	r->len = 0;
	r->oversize = 0;
	r->msg_bytes = 0;
	free(r->from_line);
	r->from_line = xmalloc(MBOX_FROM_LINE_MAX + 1);
	r->from_len = 0;
}

/* Ends the open message at the read position: 1 when it is given to *m, 0 when it is
 * skipped. */
static int
msg_end(struct mbox_reader *r, struct mbox_message *m)
{
	r->open = 0;
	if (!r->oversize && r->prev_blank && r->len >= r->blank_len)
		r->len -= r->blank_len;
	if (r->oversize || r->len == 0) {
		if (r->oversize)
			log_warn("mbox: the message at byte %" PRIu64 " is larger than %zu bytes "
			    "(%" PRIu64 "): skipped", r->msg_offset, r->max, r->msg_bytes);
		else
			log_warn("mbox: the message at byte %" PRIu64 " is empty: skipped",
			    r->msg_offset);
		r->skipped++;
		return 0;
	}
	/* Trim the separator line's end. */
	while (r->from_len > 0 && (r->from_line[r->from_len - 1] == '\n' ||
	    r->from_line[r->from_len - 1] == '\r'))
		r->from_len--;
	r->from_line[r->from_len] = '\0';
	m->data = xreallocarray(r->msg, r->len + 1, 1);
	m->data[r->len] = '\0';
	m->len = r->len;
	m->offset = r->msg_offset;
	m->end = mbox_offset(r);
	m->from_line = r->from_line;
	r->msg = NULL;
	r->len = r->cap = 0;
	r->from_line = NULL;
	return 1;
}

static int
mbox_fail(struct mbox_reader *r, char *err, size_t errlen, const char *what)
{
	r->failed = 1;
	if (err != NULL && errlen > 0)
		snprintf(err, errlen, "%s", what);
	return -1;
}

int
mbox_next(struct mbox_reader *r, struct mbox_message *m, char *err, size_t errlen)
{
	memset(m, 0, sizeof(*m));
	if (r->failed)
		return mbox_fail(r, err, errlen, "the mbox reader stopped at an earlier error");
	for (;;) {
		const char *p, *nl;
		size_t avail, n;
		int complete;

		if (mbox_fill(r, r->mid_line ? 1 : MBOX_LOOK) == -1) {
			char what[160];

			snprintf(what, sizeof(what), "cannot read the mbox file at byte %" PRIu64
			    ": %s", mbox_offset(r), strerror(errno));
			return mbox_fail(r, err, errlen, what);
		}
		avail = r->fill - r->pos;
		if (avail == 0) {
			/* The end of the file. */
			if (r->open && msg_end(r, m))
				return 1;
			return 0;
		}
		p = r->buf + r->pos;
		nl = memchr(p, '\n', avail);
		n = nl != NULL ? (size_t)(nl - p) + 1 : avail;
		complete = nl != NULL || (r->eof && n == avail);

		if (!r->mid_line) {
			int sep = n >= 5 && memcmp(p, "From ", 5) == 0 &&
			    (!r->started || r->prev_blank);

			if (!r->started && !sep) {
				char what[200];
				size_t show = 0;

				while (show < n && show < 40 && p[show] >= ' ' && p[show] <= '~')
					show++;
				snprintf(what, sizeof(what), "not an mbox file: it does not start "
				    "with a \"From \" line (it starts with \"%.*s\")", (int)show, p);
				return mbox_fail(r, err, errlen, what);
			}
			if (sep && r->open) {
				/* The message before ends here; the separator is read next call. */
				if (msg_end(r, m))
					return 1;
				continue;
			}
			r->started = 1;
			if (sep) {
				msg_start(r);
				r->kind = LINE_SEPARATOR;
				p += 5;
				n -= 5;
				r->pos += 5;
			} else {
				size_t k = 0;

				r->kind = LINE_TEXT;
				while (k < n && p[k] == '>')
					k++;
				if (k > 0 && n - k >= 5 && memcmp(p + k, "From ", 5) == 0) {
					/* mboxrd: one '>' less. */
					p++;
					n--;
					r->pos++;
				}
			}
			r->prev_blank = complete && ((n == 1 && p[0] == '\n') ||
			    (n == 2 && p[0] == '\r' && p[1] == '\n'));
			r->blank_len = r->prev_blank ? n : 0;
			if (r->kind == LINE_SEPARATOR)
				r->prev_blank = 0;
		}
		if (r->kind == LINE_SEPARATOR)
			from_append(r, p, n);
		else
			msg_append(r, p, n);
		r->pos += n;
		r->mid_line = !complete;
	}
}
