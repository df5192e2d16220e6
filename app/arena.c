/* arena.c: chunked bump allocator for per-request memory, and the arena-backed buffer.
 * Large allocations get a chunk of their own; reset keeps the first chunk. */
#include "config.h"

#include <stdalign.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "util.h"

#define ARENA_ALIGN alignof(max_align_t)

struct arena_chunk {
	struct arena_chunk *next;
	size_t size;
	size_t used;
	alignas(max_align_t) unsigned char data[];
};

struct arena {
	struct arena_chunk *head; /* current chunk; the list ends with the first one */
	size_t chunk_size;
	size_t used;
	void *last;               /* most recent allocation, for in-place growth */
	size_t last_size;
};

static struct arena_chunk *
arena_chunk_new(size_t size)
{
	struct arena_chunk *c = xmalloc(sizeof(*c) + size);

	c->next = NULL;
	c->size = size;
	c->used = 0;
	return c;
}

struct arena *
arena_new(size_t chunk_size)
{
	struct arena *a = xcalloc(1, sizeof(*a));

	a->chunk_size = chunk_size < 256 ? 256 : chunk_size;
	a->head = arena_chunk_new(a->chunk_size);
	return a;
}

void
arena_free(struct arena *a)
{
	struct arena_chunk *c, *next;

	if (a == NULL)
		return;
	for (c = a->head; c != NULL; c = next) {
		next = c->next;
		free(c);
	}
	free(a);
}

void
arena_reset(struct arena *a)
{
	struct arena_chunk *c = a->head, *next;

	while (c->next != NULL) {
		next = c->next;
		free(c);
		c = next;
	}
	c->used = 0;
	a->head = c;
	a->used = 0;
	a->last = NULL;
	a->last_size = 0;
}

static size_t
arena_round(size_t n)
{
	if (n > SIZE_MAX - ARENA_ALIGN)
		fatal("arena allocation of %zu bytes overflows", n);
	return (n + ARENA_ALIGN - 1) & ~(ARENA_ALIGN - 1);
}

void *
arena_alloc(struct arena *a, size_t n)
{
	struct arena_chunk *c = a->head;
	size_t need = arena_round(n ? n : 1);
	void *p;

	if (c->size - c->used < need) {
		struct arena_chunk *nc;
		size_t size = need > a->chunk_size / 4 ? need : a->chunk_size;

		nc = arena_chunk_new(size);
		if (size == need && c->size - c->used > ARENA_ALIGN * 8) {
			/* A big block: keep filling the current chunk afterwards. */
			nc->next = c->next;
			c->next = nc;
			nc->used = need;
			a->used += need;
			a->last = NULL;
			return nc->data;
		}
		nc->next = c;
		a->head = c = nc;
	}
	p = c->data + c->used;
	c->used += need;
	a->used += need;
	a->last = p;
	a->last_size = need;
	return p;
}

void *
arena_calloc(struct arena *a, size_t nmemb, size_t size)
{
	void *p;

	if (size != 0 && nmemb > SIZE_MAX / size)
		fatal("arena allocation of %zu x %zu bytes overflows", nmemb, size);
	p = arena_alloc(a, nmemb * size);
	memset(p, 0, nmemb * size);
	return p;
}

void *
arena_realloc(struct arena *a, void *p, size_t oldn, size_t newn)
{
	void *q;

	if (p != NULL && p == a->last) {
		struct arena_chunk *c = a->head;
		size_t need = arena_round(newn ? newn : 1);

		if ((unsigned char *)p + need <= c->data + c->size) {
			c->used = (size_t)((unsigned char *)p - c->data) + need;
			a->used = a->used - a->last_size + need;
			a->last_size = need;
			return p;
		}
	}
	q = arena_alloc(a, newn);
	if (p != NULL)
		memcpy(q, p, oldn < newn ? oldn : newn);
	return q;
}

char *
arena_strndup(struct arena *a, const char *s, size_t n)
{
	char *p = arena_alloc(a, n + 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *
arena_strdup(struct arena *a, const char *s)
{
	return arena_strndup(a, s, strlen(s));
}

char *
arena_vprintf(struct arena *a, const char *fmt, va_list ap)
{
	va_list ap2;
	int n;
	char *p;

	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		fatal("bad format %s", fmt);
	p = arena_alloc(a, (size_t)n + 1);
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	return p;
}

char *
arena_printf(struct arena *a, const char *fmt, ...)
{
	va_list ap;
	char *p;

	va_start(ap, fmt);
	p = arena_vprintf(a, fmt, ap);
	va_end(ap);
	return p;
}

size_t
arena_used(const struct arena *a)
{
	return a->used;
}

void
buf_init(struct buf *b, struct arena *a)
{
	b->arena = a;
	b->cap = 256;
	b->len = 0;
	b->data = arena_alloc(a, b->cap);
	b->data[0] = '\0';
}

static void
buf_grow(struct buf *b, size_t extra)
{
	size_t want = b->len + extra + 1, cap = b->cap;

	if (want <= cap)
		return;
	while (cap < want)
		cap = cap * 2;
	b->data = arena_realloc(b->arena, b->data, b->len + 1, cap);
	b->cap = cap;
}

void
buf_append(struct buf *b, const void *p, size_t n)
{
	buf_grow(b, n);
	memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
}

void
buf_puts(struct buf *b, const char *s)
{
	buf_append(b, s, strlen(s));
}

void
buf_putc(struct buf *b, char c)
{
	buf_append(b, &c, 1);
}

void
buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	if (n < 0)
		fatal("bad format %s", fmt);
	if ((size_t)n >= b->cap - b->len) {
		buf_grow(b, (size_t)n);
		va_start(ap, fmt);
		vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
	}
	b->len += (size_t)n;
}

void
buf_json_escape(struct buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *u = (const unsigned char *)s;

	for (size_t i = 0; i < n;) {
		unsigned char c = u[i];
		size_t len;
		uint32_t cp;

		switch (c) {
		case '"': buf_append(b, "\\\"", 2); i++; continue;
		case '\\': buf_append(b, "\\\\", 2); i++; continue;
		case '\n': buf_append(b, "\\n", 2); i++; continue;
		case '\r': buf_append(b, "\\r", 2); i++; continue;
		case '\t': buf_append(b, "\\t", 2); i++; continue;
		default: break;
		}
		if (c < 0x20 || c == 0x7f || c == '<' || c == '>' || c == '&') {
			char e[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };

			buf_append(b, e, 6);
			i++;
			continue;
		}
		len = util_utf8_decode(u + i, n - i, &cp);
		if (len == 0) {
			/* Keep the output valid JSON whatever the input bytes were. */
			buf_append(b, "\\ufffd", 6);
			i++;
			continue;
		}
		buf_append(b, u + i, len);
		i += len;
	}
}
