/* arena.h: per-request memory. Everything a request allocates comes from its arena and is
 * released in one step when the request ends; handlers never free request data. */
#ifndef MAILROOM_ARENA_H
#define MAILROOM_ARENA_H

#include <stdarg.h>
#include <stddef.h>
#include "util.h"

struct arena;

struct arena *arena_new(size_t chunk_size);
void arena_free(struct arena *a);
/* Releases everything allocated since arena_new; keeps the first chunk for reuse. */
void arena_reset(struct arena *a);
/* Aligned to max_align_t; never returns NULL (aborts on exhaustion of memory). */
void *arena_alloc(struct arena *a, size_t n);
void *arena_calloc(struct arena *a, size_t nmemb, size_t size);
/* Grows the most recent allocation in place when possible. */
void *arena_realloc(struct arena *a, void *p, size_t oldn, size_t newn);
char *arena_strdup(struct arena *a, const char *s);
/* Copies n bytes and adds a NUL. */
char *arena_strndup(struct arena *a, const char *s, size_t n);
char *arena_printf(struct arena *a, const char *fmt, ...) MR_PRINTF(2, 3);
char *arena_vprintf(struct arena *a, const char *fmt, va_list ap) MR_PRINTF(2, 0);
/* Bytes currently handed out (for tests and metrics). */
size_t arena_used(const struct arena *a);

/* A growable byte buffer whose memory comes from an arena. Always NUL-terminated. */
struct buf {
	struct arena *arena;
	char *data;
	size_t len;
	size_t cap;
};

void buf_init(struct buf *b, struct arena *a);
void buf_append(struct buf *b, const void *p, size_t n);
void buf_puts(struct buf *b, const char *s);
void buf_putc(struct buf *b, char c);
void buf_printf(struct buf *b, const char *fmt, ...) MR_PRINTF(2, 3);
/* Appends s as the body of a JSON string (no quotes), escaping as RFC 8259 requires. */
void buf_json_escape(struct buf *b, const char *s, size_t n);

#endif
