/* imap-parse.h: IMAP's response syntax without the network, for imap.c: a reader that
 * cuts the server's byte stream into whole responses (a line with its literals, every
 * part bounded), a parser of one response into a small tree of values, and the pieces
 * of FETCH, LIST, SEARCH/ESEARCH and VANISHED that the client reads, with UID sets,
 * dates and modified UTF-7. Nothing here does I/O, so the fuzz harness drives all of it. */
#ifndef MAILROOM_IMAP_PARSE_H
#define MAILROOM_IMAP_PARSE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* A line outside literals; SEARCH answers may be given more (imap_reader.line_max). */
#define IMAP_LINE_MAX		(64 * 1024)
/* A literal (a message) larger than this is read and dropped, not kept. */
#define IMAP_LITERAL_MAX	((size_t)64 * 1024 * 1024)
/* A whole response; literals that would pass it are dropped too. */
#define IMAP_RESPONSE_MAX	(IMAP_LITERAL_MAX + (size_t)1024 * 1024)
#define IMAP_DEPTH_MAX		32
#define IMAP_NODES_MAX		65536

struct imap_reader {
	char *buf;			/* the response so far, NUL-terminated */
	size_t len, cap;
	size_t line_start;		/* where the current line began in buf */
	uint64_t literal_left;		/* bytes of the current literal still to come */
	int draining;			/* the literal is too large: its bytes are dropped */
	int complete;			/* buf holds a whole response */
	size_t line_max, literal_max, response_max;
	char err[128];
};

void imap_reader_init(struct imap_reader *r);
/* Takes bytes of the stream; stops at the end of a response. Returns the bytes used
 * (r->complete is then set if buf holds a whole response), or -1 with r->err. */
ssize_t imap_reader_feed(struct imap_reader *r, const char *data, size_t n);
/* Forgets the response read, ready for the next one (buf is reused). */
void imap_reader_next(struct imap_reader *r);
void imap_reader_free(struct imap_reader *r);

enum imap_type {
	IMAP_NIL,
	IMAP_ATOM,			/* an atom or a number (BODY[...]<n> included) */
	IMAP_STRING,			/* a quoted string (unescaped) or a literal */
	IMAP_LIST,
	IMAP_BIG			/* a literal over the maximum: len is its size */
};

struct imap_node {
	enum imap_type type;
	const char *s;			/* ATOM, STRING: not NUL-terminated */
	size_t len;
	int child;			/* LIST: its first item, -1 if empty */
	int next;			/* the following item, -1 at the end */
};

enum imap_kind { IMAP_KIND_TAGGED, IMAP_KIND_UNTAGGED, IMAP_KIND_CONTINUE };
enum imap_cond {
	IMAP_COND_NONE,			/* a data response (FETCH, LIST, EXISTS...) */
	IMAP_COND_OK, IMAP_COND_NO, IMAP_COND_BAD, IMAP_COND_BYE, IMAP_COND_PREAUTH
};

struct imap_str {
	const char *s;
	size_t len;
};

struct imap_resp {
	enum imap_kind kind;
	struct imap_str tag;		/* TAGGED */
	enum imap_cond cond;
	/* Status responses: the response code ("[APPENDUID 1 2]": code APPENDUID, args
	 * "1 2") and the human text; CONTINUE: text. */
	struct imap_str code, code_args, text;
	/* Data responses: "* 3 FETCH (...)" has num 3; name is FETCH, LIST, SEARCH... */
	int has_num;
	uint32_t num;
	struct imap_str name;
	/* The data after the name: parsed into nodes from first, except for SEARCH, whose
	 * numbers (there may be millions) stay in rest for imap_search_next. */
	int first;
	struct imap_str rest;
	struct imap_node *nodes;
	size_t nnodes, ncap;
	char err[128];
};

/* Parses the response in buf (len bytes, as the reader gives it; unescaped in place).
 * The nodes point into buf. Returns 0, or -1 with r->err. */
int imap_parse(struct imap_resp *r, char *buf, size_t len);
void imap_resp_free(struct imap_resp *r);

const struct imap_node *imap_node(const struct imap_resp *r, int i);
/* Case-insensitive comparison of an atom or string with a literal. */
int imap_str_is(const char *s, size_t len, const char *lit);
int imap_node_is(const struct imap_node *n, const char *lit);
int imap_parse_u32(const char *s, size_t len, uint32_t *out);
int imap_parse_u64(const char *s, size_t len, uint64_t *out);
/* "17-Jul-1996 02:44:25 -0700" to seconds since the epoch; -1 when invalid. */
int imap_parse_date(const char *s, size_t len, int64_t *out);

/* The next UID of a SEARCH answer's rest (from *pos): 1, 0 at the end, -1 on junk. */
int imap_search_next(const struct imap_resp *r, size_t *pos, uint32_t *uid);

/* Calls fn for each UID of the set s ("1:5,7") within [lo, hi], at most max of them
 * (more is an error: a server cannot make us count to four billion). Returns 0, 1 when
 * fn returned non-zero, -1 when the set is invalid or too large. */
int imap_uidset_each(const char *s, size_t len, uint32_t lo, uint32_t hi, size_t max,
    int (*fn)(void *arg, uint32_t uid), void *arg);
/* Writes the UIDs uids[0..n) (ascending, no duplicates) as a compact set "1:5,7,9:12"
 * of at most outlen - 1 bytes (outlen >= 32). Returns how many UIDs it holds: fewer than
 * n when out is full, the rest being for another command. */
size_t imap_uidset_format(const uint32_t *uids, size_t n, char *out, size_t outlen);
/* Sorts uids ascending and drops duplicates and zeros; returns the new count. */
size_t imap_uids_sort(uint32_t *uids, size_t n);

/* The attributes of a FETCH response the client asks for. */
struct imap_fetch {
	uint32_t uid;			/* 0 when absent */
	int has_flags;
	int flags;			/* the FLAGS list's node, -1 when absent */
	int has_date;
	int64_t internal_date;
	uint32_t size;
	uint64_t modseq;
	struct imap_str body;		/* BODY[]: s NULL when absent */
	int body_big;			/* BODY[] was over the maximum (body.len: its size) */
	struct imap_str header;		/* BODY[HEADER] */
};

/* Reads a FETCH response (r->name FETCH). Returns 0, or -1 when malformed. */
int imap_fetch_parse(const struct imap_resp *r, struct imap_fetch *f);

#define IMAP_LIST_NOSELECT	0x001u
#define IMAP_LIST_SENT		0x002u
#define IMAP_LIST_DRAFTS	0x004u
#define IMAP_LIST_ARCHIVE	0x008u
#define IMAP_LIST_ALL		0x010u
#define IMAP_LIST_TRASH		0x020u
#define IMAP_LIST_JUNK		0x040u

struct imap_list {
	unsigned flags;
	char delimiter;			/* 0: none */
	struct imap_str name;		/* as sent: modified UTF-7 */
};

/* Reads a LIST response. Returns 0, or -1 when malformed. */
int imap_list_parse(const struct imap_resp *r, struct imap_list *l);

/* An ESEARCH response's ALL set (NULL, 0 when there is none); -1 when malformed. */
int imap_esearch_all(const struct imap_resp *r, struct imap_str *set);

/* A VANISHED response: its set and whether it is (EARLIER); -1 when malformed. */
int imap_vanished(const struct imap_resp *r, struct imap_str *set, int *earlier);

/* An IMAP atom usable as a keyword (RFC 3501 ATOM-CHAR), or a system flag ("\Seen"). */
int imap_flag_valid(const char *s);

#endif
