/* itest.c: the integration tests' client library: libcurl requests that record status,
 * headers, body and timing; JSON parsing; the MAILROOM_TEST_CTL control command; polling.
 * Holds no global state: each client owns its curl handle. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <time.h>

#include <CUnit/Basic.h>
#include <curl/curl.h>

#include "itest.h"

#define ITEST_DEFAULT_TIMEOUT 30.0

struct itest_client {
	CURL *curl;
	double timeout;
};

static void *
itest_xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);

	if (q == NULL) {
		fprintf(stderr, "itest: out of memory (%zu bytes)\n", n);
		abort();
	}
	return q;
}

static char *
itest_xstrndup(const char *s, size_t n)
{
	char *p = itest_xrealloc(NULL, n + 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *
itest_asprintf(const char *fmt, ...)
{
	va_list ap;
	char *p;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0) {
		fprintf(stderr, "itest: bad format %s\n", fmt);
		abort();
	}
	p = itest_xrealloc(NULL, (size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return p;
}

const char *
itest_base_url(void)
{
	const char *u = getenv("MAILROOM_TEST_URL");

	return u != NULL && *u != '\0' ? u : NULL;
}

const char *
itest_ctl_command(void)
{
	const char *c = getenv("MAILROOM_TEST_CTL");

	return c != NULL && *c != '\0' ? c : NULL;
}

void
itest_init(void)
{
	if (itest_base_url() == NULL) {
		fprintf(stderr, "MAILROOM_TEST_URL is not set: skipping the integration tests "
		    "(./contrib/dev test starts a stack and sets it)\n");
		exit(77);
	}
	/* A peer closing a connection must show up as an error on that request, not kill
	 * the whole test program. */
	signal(SIGPIPE, SIG_IGN);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		fprintf(stderr, "itest: curl_global_init failed\n");
		exit(99);
	}
}

void
itest_cleanup(void)
{
	curl_global_cleanup();
}

struct itest_client *
itest_client_new(void)
{
	struct itest_client *c = itest_xrealloc(NULL, sizeof(*c));

	c->curl = curl_easy_init();
	if (c->curl == NULL) {
		fprintf(stderr, "itest: curl_easy_init failed\n");
		abort();
	}
	c->timeout = ITEST_DEFAULT_TIMEOUT;
	return c;
}

void
itest_client_free(struct itest_client *c)
{
	if (c == NULL)
		return;
	curl_easy_cleanup(c->curl);
	free(c);
}

void
itest_client_set_timeout(struct itest_client *c, double seconds)
{
	c->timeout = seconds;
}

void
itest_response_free(struct itest_response *r)
{
	size_t i;

	if (r == NULL)
		return;
	for (i = 0; i < r->nheaders; i++) {
		free(r->headers[i].name);
		free(r->headers[i].value);
	}
	free(r->headers);
	free(r->body);
	free(r->url);
	memset(r, 0, sizeof(*r));
}

static size_t
itest_on_body(char *data, size_t size, size_t nmemb, void *arg)
{
	struct itest_response *r = arg;
	size_t n = size * nmemb;

	r->body = itest_xrealloc(r->body, r->body_len + n + 1);
	memcpy(r->body + r->body_len, data, n);
	r->body_len += n;
	r->body[r->body_len] = '\0';
	return n;
}

static void
itest_drop_headers(struct itest_response *r)
{
	size_t i;

	for (i = 0; i < r->nheaders; i++) {
		free(r->headers[i].name);
		free(r->headers[i].value);
	}
	r->nheaders = 0;
}

static size_t
itest_on_header(char *data, size_t size, size_t nmemb, void *arg)
{
	struct itest_response *r = arg;
	size_t n = size * nmemb, len = n, nlen;
	const char *colon, *v, *end;

	while (len > 0 && (data[len - 1] == '\r' || data[len - 1] == '\n'))
		len--;
	if (len == 0)
		return n;
	/* A status line starts a new header block: a 100 Continue's headers must not mix
	 * with the final response's. */
	if (len >= 5 && memcmp(data, "HTTP/", 5) == 0) {
		itest_drop_headers(r);
		return n;
	}
	colon = memchr(data, ':', len);
	if (colon == NULL)
		return n;
	nlen = (size_t)(colon - data);
	v = colon + 1;
	end = data + len;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	r->headers = itest_xrealloc(r->headers, (r->nheaders + 1) * sizeof(*r->headers));
	r->headers[r->nheaders].name = itest_xstrndup(data, nlen);
	r->headers[r->nheaders].value = itest_xstrndup(v, (size_t)(end - v));
	r->nheaders++;
	return n;
}

static int
itest_has_header(const char *const *headers, const char *name)
{
	size_t nlen = strlen(name);

	for (; headers != NULL && *headers != NULL; headers++)
		if (strncasecmp(*headers, name, nlen) == 0 && (*headers)[nlen] == ':')
			return 1;
	return 0;
}

int
itest_request(struct itest_client *c, struct itest_response *r, const char *method,
    const char *path, const char *const *headers, const void *body, size_t body_len)
{
	struct itest_client *own = NULL;
	struct curl_slist *list = NULL, *tmp;
	const char *base = itest_base_url();
	char errbuf[CURL_ERROR_SIZE] = "";
	const char *const *h;
	size_t blen;
	CURLcode rc;
	CURL *e;
	int failed = 0;

	memset(r, 0, sizeof(*r));
	snprintf(r->method, sizeof(r->method), "%s", method);
	if (base == NULL)
		base = "http://127.0.0.1:8080";
	blen = strlen(base);
	while (blen > 0 && base[blen - 1] == '/')
		blen--;
	r->url = itest_asprintf("%.*s%s", (int)blen, base, path);
	r->body = itest_xstrndup("", 0);

	if (c == NULL)
		c = own = itest_client_new();
	e = c->curl;
	/* The handle keeps its connection cache across resets; only options are cleared. */
	curl_easy_reset(e);

	for (h = headers; h != NULL && *h != NULL; h++) {
		if ((tmp = curl_slist_append(list, *h)) == NULL)
			abort();
		list = tmp;
	}
	if (body != NULL) {
		/* Send exactly what the test asked for: an empty "Content-Type:" line removes
		 * the form type curl would otherwise add to every POST body. */
		if (!itest_has_header(headers, "Content-Type")) {
			if ((tmp = curl_slist_append(list, "Content-Type:")) == NULL)
				abort();
			list = tmp;
		}
		if (!itest_has_header(headers, "Expect")) {
			if ((tmp = curl_slist_append(list, "Expect:")) == NULL)
				abort();
			list = tmp;
		}
	}

	curl_easy_setopt(e, CURLOPT_URL, r->url);
	/* Tests run in threads; curl must not use signals for its timeouts. */
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)(c->timeout * 1000.0));
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
	/* Paths are sent as written, so tests can send odd ones on purpose. */
	curl_easy_setopt(e, CURLOPT_PATH_AS_IS, 1L);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, itest_on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, itest_on_header);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, list);
	if (strcmp(method, "HEAD") == 0) {
		curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
	} else if (body != NULL) {
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
		if (strcmp(method, "POST") != 0)
			curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
	} else if (strcmp(method, "GET") != 0) {
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
	}

	rc = curl_easy_perform(e);
	r->curl_code = (int)rc;
	if (rc != CURLE_OK) {
		snprintf(r->error, sizeof(r->error), "%s",
		    errbuf[0] != '\0' ? errbuf : curl_easy_strerror(rc));
		failed = 1;
	}
	curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &r->status);
	curl_easy_getinfo(e, CURLINFO_TOTAL_TIME, &r->total_time);
	/* The error buffer lives on this stack frame: detach it before returning. */
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, NULL);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(list);
	itest_client_free(own);
	return failed || r->status == 0 ? -1 : 0;
}

int
itest_get(struct itest_client *c, struct itest_response *r, const char *path)
{
	return itest_request(c, r, "GET", path, NULL, NULL, 0);
}

const char *
itest_header(const struct itest_response *r, const char *name)
{
	size_t i;

	for (i = 0; i < r->nheaders; i++)
		if (strcasecmp(r->headers[i].name, name) == 0)
			return r->headers[i].value;
	return NULL;
}

size_t
itest_header_count(const struct itest_response *r, const char *name)
{
	size_t i, n = 0;

	for (i = 0; i < r->nheaders; i++)
		if (strcasecmp(r->headers[i].name, name) == 0)
			n++;
	return n;
}

int
itest_media_type_is(const char *content_type, const char *media_type)
{
	size_t n = strlen(media_type);
	const char *p;

	if (content_type == NULL)
		return 0;
	while (*content_type == ' ' || *content_type == '\t')
		content_type++;
	if (strncasecmp(content_type, media_type, n) != 0)
		return 0;
	p = content_type + n;
	while (*p == ' ' || *p == '\t')
		p++;
	return *p == '\0' || *p == ';';
}

json_t *
itest_json(const struct itest_response *r, char *err, size_t errlen)
{
	json_error_t je;
	json_t *j;

	j = json_loadb(r->body, r->body_len, JSON_REJECT_DUPLICATES, &je);
	if (j == NULL && err != NULL)
		snprintf(err, errlen, "line %d column %d: %s", je.line, je.column, je.text);
	return j;
}

void
itest_describe(const struct itest_response *r, char *out, size_t outlen)
{
	const char *ct = itest_header(r, "Content-Type");
	size_t i, o = 0, shown = r->body_len < 300 ? r->body_len : 300;
	char body[1300];

	/* Control bytes would garble the test log: show them escaped. */
	for (i = 0; i < shown && o + 5 < sizeof(body); i++) {
		unsigned char ch = (unsigned char)r->body[i];

		if (ch == '\n') {
			body[o++] = '\\';
			body[o++] = 'n';
		} else if (ch < 0x20 || ch == 0x7f) {
			o += (size_t)snprintf(body + o, sizeof(body) - o, "\\x%02x", ch);
		} else {
			body[o++] = (char)ch;
		}
	}
	body[o] = '\0';
	if (r->curl_code != 0)
		snprintf(out, outlen, "%s %s -> no response (curl %d: %s)", r->method,
		    r->url != NULL ? r->url : "?", r->curl_code, r->error);
	else
		snprintf(out, outlen, "%s %s -> %ld, Content-Type %s, %.3f s, body (%zu bytes)%s"
		    " %s", r->method, r->url != NULL ? r->url : "?", r->status,
		    ct != NULL ? ct : "(none)", r->total_time, r->body_len,
		    shown < r->body_len ? " starts" : "", body);
}

int
itest_ctl(const char *subcommand, char **out)
{
	const char *ctl = itest_ctl_command();
	char *cmd, *buf = NULL;
	size_t len = 0, n;
	char chunk[4096];
	FILE *f;
	int st;

	if (out != NULL)
		*out = NULL;
	if (ctl == NULL)
		return -1;
	/* popen runs the line through sh -c, so MAILROOM_TEST_CTL may hold words. */
	cmd = itest_asprintf("%s %s", ctl, subcommand);
	fflush(NULL);
	f = popen(cmd, "r");
	free(cmd);
	if (f == NULL) {
		fprintf(stderr, "itest: cannot run %s %s: %s\n", ctl, subcommand,
		    strerror(errno));
		return -1;
	}
	buf = itest_xstrndup("", 0);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		buf = itest_xrealloc(buf, len + n + 1);
		memcpy(buf + len, chunk, n);
		len += n;
		buf[len] = '\0';
	}
	st = pclose(f);
	if (st == -1 || !WIFEXITED(st)) {
		free(buf);
		return -1;
	}
	if (out != NULL)
		*out = buf;
	else
		free(buf);
	return WEXITSTATUS(st);
}

double
itest_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void
itest_sleep(double seconds)
{
	struct timespec ts;

	if (seconds <= 0)
		return;
	ts.tv_sec = (time_t)seconds;
	ts.tv_nsec = (long)((seconds - (double)ts.tv_sec) * 1e9);
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

int
itest_poll(double timeout, double interval, int (*cond)(void *arg), void *arg)
{
	double deadline = itest_now() + timeout;

	for (;;) {
		if (cond(arg))
			return 1;
		if (itest_now() >= deadline)
			return 0;
		itest_sleep(interval);
		/* The last try happens at the deadline, not one interval after it. */
		if (itest_now() >= deadline)
			return cond(arg) ? 1 : 0;
	}
}

char *
itest_read_file(const char *path, size_t *lenp)
{
	char *buf = NULL;
	size_t len = 0, n;
	char chunk[65536];
	FILE *f;

	if ((f = fopen(path, "rb")) == NULL)
		return NULL;
	buf = itest_xstrndup("", 0);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		buf = itest_xrealloc(buf, len + n + 1);
		memcpy(buf + len, chunk, n);
		len += n;
		buf[len] = '\0';
	}
	if (ferror(f)) {
		fclose(f);
		free(buf);
		return NULL;
	}
	fclose(f);
	if (lenp != NULL)
		*lenp = len;
	return buf;
}

void
itest_expect_at(const char *file, unsigned line, int ok, const struct itest_response *r,
    const char *fmt, ...)
{
	char msg[2048], desc[1800];
	va_list ap;
	int n;

	if (ok) {
		CU_assertImplementation(CU_TRUE, line, "ok", file, "", CU_FALSE);
		return;
	}
	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (r != NULL && n >= 0 && (size_t)n < sizeof(msg)) {
		itest_describe(r, desc, sizeof(desc));
		snprintf(msg + n, sizeof(msg) - (size_t)n, " [%s]", desc);
	}
	CU_assertImplementation(CU_FALSE, line, msg, file, "", CU_FALSE);
}

static int
itest_suite_selected(int argc, char **argv, const char *suite)
{
	if (argc < 2)
		return 1;
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], suite) == 0)
			return 1;
	return 0;
}

unsigned
itest_run(int argc, char **argv, const struct itest_case *cases, size_t n)
{
	CU_pSuite suite = NULL;
	const char *current = "";
	int has_ctl = itest_ctl_command() != NULL;
	unsigned failed;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	for (size_t i = 0; i < n; i++) {
		if ((cases[i].needs_ctl && !has_ctl) ||
		    !itest_suite_selected(argc, argv, cases[i].suite))
			continue;
		if (strcmp(current, cases[i].suite) != 0) {
			current = cases[i].suite;
			suite = CU_add_suite(current, NULL, NULL);
		}
		if (suite == NULL || CU_add_test(suite, cases[i].name, cases[i].fn) == NULL) {
			CU_cleanup_registry();
			return 1;
		}
	}
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	failed = CU_get_number_of_tests_failed() + CU_get_number_of_failures();
	CU_cleanup_registry();
	return failed;
}

void
itest_expect_status_at(const char *file, unsigned line, long got, long want,
    const struct itest_response *r)
{
	itest_expect_at(file, line, got == want, r, "status %ld, expected %ld", got, want);
}
