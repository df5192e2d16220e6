/* util.h: allocation wrappers that never return NULL, fatal start-up errors, logging.
 * Log lines go to standard error as one JSON object each, written with one write(2). */
#ifndef MAILROOM_UTIL_H
#define MAILROOM_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#define MR_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define MR_NORETURN __attribute__((noreturn))
#define MR_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t size);
void *xreallocarray(void *p, size_t nmemb, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) MR_PRINTF(1, 2);

enum log_level { LOG_LEVEL_DEBUG, LOG_LEVEL_INFO, LOG_LEVEL_WARN, LOG_LEVEL_ERROR };

void log_set_level(enum log_level level);
int log_parse_level(const char *s, enum log_level *out);
void log_set_program(const char *name);
void log_msg(enum log_level level, const char *func, const char *fmt, ...) MR_PRINTF(3, 4);
/* Writes a whole line (a trailing newline is added) atomically to the log. */
void log_write_line(const char *line, size_t len);

#define log_debug(...) log_msg(LOG_LEVEL_DEBUG, __func__, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LEVEL_INFO, __func__, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LEVEL_WARN, __func__, __VA_ARGS__)
#define log_err(...) log_msg(LOG_LEVEL_ERROR, __func__, __VA_ARGS__)

/* Start-up failures: print "program: message" to stderr and exit(1). */
void fatal_at(const char *func, const char *fmt, ...) MR_PRINTF(2, 3) MR_NORETURN;
#define fatal(...) fatal_at(__func__, __VA_ARGS__)

/* Monotonic clock in microseconds. */
int64_t util_now_us(void);
/* Wall clock in microseconds since the epoch. */
int64_t util_wall_us(void);
/* Lower-case hex of n random bytes into out (2n+1 bytes). */
void util_random_hex(char *out, size_t nbytes);
/* Constant-time-free helpers for ASCII. */
int util_strcaseeq(const char *a, const char *b);
int util_parse_int64(const char *s, int64_t min, int64_t max, int64_t *out);
/* Length of the valid UTF-8 sequence at s (at most n > 0 bytes) with its code point in *cp,
 * or 0 when it is not one: overlong forms, surrogates and code points past U+10FFFF are
 * refused. */
size_t util_utf8_decode(const unsigned char *s, size_t n, uint32_t *cp);
/* The code points of s when it is valid UTF-8 without control characters (C0, DEL, C1),
 * else -1: the rule of every text a user names or types in one line. */
long util_text_chars(const char *s);

struct arena;
/* s percent-encoded in a's memory: all but RFC 3986's unreserved characters and those in
 * keep ("/" for a path, "" for a query value). */
const char *util_url_encode(struct arena *a, const char *s, const char *keep);

#endif
