/* itest.h: client side of the integration tests. HTTP requests against the running stack
 * (libcurl), JSON bodies (jansson), and the control command that stops, starts and inspects
 * the parts of the stack. Shared by every test program under t/integration/. */
#ifndef MAILROOM_ITEST_H
#define MAILROOM_ITEST_H

#include <stddef.h>
#include <jansson.h>

#define ITEST_PRINTF(f, a) __attribute__((format(printf, f, a)))

struct itest_header {
	char *name;
	char *value;
};

/* What one request got back. The request's method and URL are kept so that a failing test
 * can show what it sent next to what it received. */
struct itest_response {
	char method[16];
	char *url;
	long status;                 /* 0 when no HTTP response arrived */
	struct itest_header *headers;
	size_t nheaders;
	char *body;                  /* always NUL-terminated, "" when there was none */
	size_t body_len;
	double total_time;           /* seconds, from curl's CURLINFO_TOTAL_TIME */
	int curl_code;               /* CURLcode; 0 when the transfer succeeded */
	char error[256];             /* curl's message when curl_code != 0 */
};

/* A client holds one curl easy handle, so that consecutive requests reuse the kept-alive
 * connection as a browser would. A client belongs to one thread at a time. */
struct itest_client;

/* Once at start, before any thread: exits 77 (the automake "skip" status) with a message
 * when MAILROOM_TEST_URL is unset, so a plain `make check` does not fail without a stack. */
void itest_init(void);
void itest_cleanup(void);
/* MAILROOM_TEST_URL without a trailing slash; NULL when unset. */
const char *itest_base_url(void);
/* MAILROOM_TEST_CTL, or NULL when unset or empty. */
const char *itest_ctl_command(void);

struct itest_client *itest_client_new(void);
void itest_client_free(struct itest_client *c);
/* Whole-transfer timeout in seconds for the client's later requests (default 30). */
void itest_client_set_timeout(struct itest_client *c, double seconds);

/* Sends method to base URL + path. headers is NULL or a NULL-terminated array of
 * "Name: value" lines. body NULL sends no body; otherwise body_len bytes are sent with a
 * Content-Length, and only the headers given here: curl adds no Content-Type of its own
 * and no "Expect: 100-continue". "HEAD" asks for no body. c may be NULL for a one-off
 * connection. r is overwritten (free it first when reusing it). Returns 0 when an HTTP
 * response arrived, -1 otherwise (r->curl_code and r->error then say why). */
int itest_request(struct itest_client *c, struct itest_response *r, const char *method,
    const char *path, const char *const *headers, const void *body, size_t body_len);
int itest_get(struct itest_client *c, struct itest_response *r, const char *path);
void itest_response_free(struct itest_response *r);

/* First value of a response header, the name compared case-insensitively; NULL if absent. */
const char *itest_header(const struct itest_response *r, const char *name);
/* How many times a header occurs. */
size_t itest_header_count(const struct itest_response *r, const char *name);
/* Whether a Content-Type value has this media type (parameters and case ignored). */
int itest_media_type_is(const char *content_type, const char *media_type);
/* The body parsed as JSON, rejecting duplicate keys; NULL with a message in err (when err
 * is not NULL) if it does not parse. The caller owns the reference. */
json_t *itest_json(const struct itest_response *r, char *err, size_t errlen);
/* One line describing request and response, body shortened, for failure messages. */
void itest_describe(const struct itest_response *r, char *out, size_t outlen);

/* Runs `sh -c "$MAILROOM_TEST_CTL subcommand"`, capturing its standard output (standard
 * error passes through). Returns the exit status, or -1 when MAILROOM_TEST_CTL is unset or
 * the command could not run or was killed. *out, when out is not NULL, receives a
 * NUL-terminated copy of the output (free it), or NULL on -1. */
int itest_ctl(const char *subcommand, char **out);

/* Calls cond(arg) every interval seconds until it returns non-zero (returns 1) or timeout
 * seconds have passed (returns 0 after one last try). */
int itest_poll(double timeout, double interval, int (*cond)(void *arg), void *arg);
/* Monotonic clock, seconds. */
double itest_now(void);
void itest_sleep(double seconds);

/* A test of a program: its suite (selectable on the command line), name and function;
 * needs_ctl marks the ones that need MAILROOM_TEST_CTL (skipped without it). */
struct itest_case {
	const char *suite;
	const char *name;
	void (*fn)(void);
	int needs_ctl;
};
/* Registers the cases of the suites named in argv[1..] (all without arguments) with
 * CUnit, runs them verbosely, and returns the number of failed tests and assertions
 * (or 1 when CUnit itself fails). */
unsigned itest_run(int argc, char **argv, const struct itest_case *cases, size_t n);
/* A CUnit assertion at file:line whose failure message carries r's request and
 * response (r may be NULL). */
void itest_expect_at(const char *file, unsigned line, int ok, const struct itest_response *r,
    const char *fmt, ...) ITEST_PRINTF(5, 6);

/* The same for "status got, expected want"; got is evaluated once by the callers'
 * macros, so a request written inside them runs once. */
void itest_expect_status_at(const char *file, unsigned line, long got, long want,
    const struct itest_response *r);

/* The whole file, NUL-terminated; NULL when it cannot be read. */
char *itest_read_file(const char *path, size_t *len);
/* malloc'd printf; aborts on allocation failure like the rest of this library. */
char *itest_asprintf(const char *fmt, ...) ITEST_PRINTF(1, 2);

#endif
