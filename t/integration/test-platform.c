/* test-platform.c: integration tests of the platform against the running stack over HTTP:
 * /healthz, /readyz and /metrics, security headers, error answers to bad input, the access
 * log, and recovery from a stopped database and a killed FastCGI process.
 * Usage: test-platform [suite...]; with no argument every suite runs, in order. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>

#include <CUnit/Basic.h>
#include <CUnit/CUnit.h>
#include <jansson.h>

#include "itest.h"

/* The body limits the application enforces (see the issue): JSON and forms up to 1 MiB,
 * at most 1000 fields. nginx lets bigger bodies through so that the application answers. */
#define JSON_BODY_LIMIT (1024 * 1024)
#define MAX_FIELDS 1000

/*
 * Assertions that carry the request and the response into CUnit's failure list, so that
 * the summary alone says what was sent and what came back.
 */


#define EXPECT(r, cond) itest_expect_at(__FILE__, __LINE__, (cond) ? 1 : 0, (r), "%s", #cond)
#define EXPECTF(r, cond, ...) itest_expect_at(__FILE__, __LINE__, (cond) ? 1 : 0, (r), __VA_ARGS__)

static const char *
nz(const char *s)
{
	return s != NULL ? s : "(absent)";
}

/* Lower-cases and drops blanks, so "text/html; charset=UTF-8" compares as written. */
static void
squash(const char *in, char *out, size_t outlen)
{
	size_t o = 0;

	for (; in != NULL && *in != '\0' && o + 1 < outlen; in++) {
		if (*in == ' ' || *in == '\t')
			continue;
		out[o++] = (*in >= 'A' && *in <= 'Z') ? (char)(*in - 'A' + 'a') : *in;
	}
	out[o] = '\0';
}

/* Whether a comma-separated header value (Allow, Cache-Control) has token tok. */
static int
has_token(const char *value, const char *tok)
{
	size_t n = strlen(tok);
	const char *p = value;

	while (p != NULL && *p != '\0') {
		const char *end;
		size_t len;

		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		end = p;
		while (*end != '\0' && *end != ',')
			end++;
		len = (size_t)(end - p);
		while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
			len--;
		/* Cache-Control tokens may carry "=value"; compare the name only. */
		if (len >= n && strncasecmp(p, tok, n) == 0 && (len == n || p[n] == '='))
			return 1;
		p = end;
	}
	return 0;
}

static int
valid_request_id(const char *id)
{
	size_t n = 0;

	if (id == NULL)
		return 0;
	for (; id[n] != '\0'; n++) {
		char c = id[n];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '-'))
			return 0;
	}
	return n >= 1 && n <= 64;
}

/*
 * Content-Security-Policy: directives are split on ';' and their sources on blanks, so
 * that "default-src 'self'" is found as a directive and not as a substring of another.
 */

/* Copies the sources of directive name into out (blank-separated); 0 when absent. */
static int
csp_directive(const char *csp, const char *name, char *out, size_t outlen)
{
	size_t n = strlen(name);
	const char *p = csp;

	while (p != NULL && *p != '\0') {
		const char *end;

		while (*p == ' ' || *p == '\t' || *p == ';')
			p++;
		end = strchr(p, ';');
		if (end == NULL)
			end = p + strlen(p);
		if ((size_t)(end - p) >= n && strncasecmp(p, name, n) == 0 &&
		    (p + n == end || p[n] == ' ' || p[n] == '\t')) {
			snprintf(out, outlen, " %.*s ", (int)(end - p - (long)n), p + n);
			return 1;
		}
		p = end;
	}
	return 0;
}

static int
csp_has_source(const char *sources, const char *src)
{
	const char *p = sources;
	size_t n = strlen(src);

	while ((p = strstr(p, src)) != NULL) {
		if ((p == sources || p[-1] == ' ' || p[-1] == '\t') &&
		    (p[n] == ' ' || p[n] == '\t' || p[n] == '\0'))
			return 1;
		p += n;
	}
	return 0;
}

#define CHECK_SECURITY_HEADERS(r) check_security_headers(__LINE__, (r))

static void
check_security_headers(unsigned line, const struct itest_response *r)
{
	static const char *const once[] = {
		"X-Content-Type-Options", "X-Frame-Options", "Referrer-Policy",
		"Content-Security-Policy", "Cross-Origin-Opener-Policy", "X-Request-Id",
	};
	const char *v, *csp;
	char src[1024];
	size_t i;

	v = itest_header(r, "X-Content-Type-Options");
	itest_expect_at(__FILE__, line, v != NULL && strcasecmp(v, "nosniff") == 0, r,
	    "X-Content-Type-Options is %s, want nosniff", nz(v));
	v = itest_header(r, "X-Frame-Options");
	itest_expect_at(__FILE__, line, v != NULL && strcasecmp(v, "DENY") == 0, r,
	    "X-Frame-Options is %s, want DENY", nz(v));
	v = itest_header(r, "Referrer-Policy");
	itest_expect_at(__FILE__, line, v != NULL && strcasecmp(v, "strict-origin-when-cross-origin") == 0, r,
	    "Referrer-Policy is %s, want strict-origin-when-cross-origin", nz(v));
	v = itest_header(r, "Cross-Origin-Opener-Policy");
	itest_expect_at(__FILE__, line, v != NULL && strcasecmp(v, "same-origin") == 0, r,
	    "Cross-Origin-Opener-Policy is %s, want same-origin", nz(v));
	v = itest_header(r, "X-Request-Id");
	itest_expect_at(__FILE__, line, valid_request_id(v), r,
	    "X-Request-Id is %s, want 1-64 characters of [A-Za-z0-9-]", nz(v));
	v = itest_header(r, "Cache-Control");
	itest_expect_at(__FILE__, line, v != NULL && has_token(v, "no-store"), r,
	    "Cache-Control is %s, want no-store", nz(v));

	csp = itest_header(r, "Content-Security-Policy");
	itest_expect_at(__FILE__, line, csp != NULL, r, "no Content-Security-Policy");
	if (csp != NULL) {
		int has_default = csp_directive(csp, "default-src", src, sizeof(src));

		itest_expect_at(__FILE__, line, has_default && csp_has_source(src, "'self'"), r,
		    "CSP %s has no default-src 'self'", csp);
		itest_expect_at(__FILE__, line, csp_directive(csp, "frame-ancestors", src, sizeof(src)) &&
		    csp_has_source(src, "'none'"), r, "CSP %s has no frame-ancestors 'none'", csp);
		/* Without script-src, default-src is what governs scripts. */
		if (csp_directive(csp, "script-src", src, sizeof(src)) ||
		    csp_directive(csp, "default-src", src, sizeof(src)))
			itest_expect_at(__FILE__, line, !csp_has_source(src, "'unsafe-inline'"), r,
			    "CSP %s allows inline scripts", csp);
	}
	/* A header set both by nginx and by the application would be sent twice; browsers
	 * then combine or ignore them. The application is the one place that sets them. */
	for (i = 0; i < sizeof(once) / sizeof(once[0]); i++)
		itest_expect_at(__FILE__, line, itest_header_count(r, once[i]) <= 1, r,
		    "%s sent %zu times", once[i], itest_header_count(r, once[i]));
}

/* The JSON error envelope: {"error":{"code","message","details","request_id"}}. code
 * NULL accepts any non-empty code. */
#define CHECK_ENVELOPE(r, status, code) check_envelope(__LINE__, (r), (status), (code))

static void
check_envelope(unsigned line, const struct itest_response *r, long status, const char *code)
{
	const char *ct = itest_header(r, "Content-Type");
	const char *rid = itest_header(r, "X-Request-Id");
	json_t *j, *e, *v;
	char err[256];

	itest_expect_at(__FILE__, line, r->status == status, r, "status %ld, want %ld", r->status, status);
	itest_expect_at(__FILE__, line, itest_media_type_is(ct, "application/json"), r,
	    "Content-Type %s, want application/json", nz(ct));
	check_security_headers(line, r);
	j = itest_json(r, err, sizeof(err));
	itest_expect_at(__FILE__, line, j != NULL, r, "body is not JSON: %s", err);
	if (j == NULL)
		return;
	e = json_object_get(j, "error");
	itest_expect_at(__FILE__, line, json_is_object(e), r, "no \"error\" object in the body");
	itest_expect_at(__FILE__, line, json_object_size(j) == 1, r, "the envelope has keys besides \"error\"");
	if (!json_is_object(e)) {
		json_decref(j);
		return;
	}
	v = json_object_get(e, "code");
	itest_expect_at(__FILE__, line, json_is_string(v) && json_string_length(v) > 0, r,
	    "error.code is not a non-empty string");
	if (code != NULL && json_is_string(v))
		itest_expect_at(__FILE__, line, strcmp(json_string_value(v), code) == 0, r,
		    "error.code is %s, want %s", json_string_value(v), code);
	v = json_object_get(e, "message");
	itest_expect_at(__FILE__, line, json_is_string(v) && json_string_length(v) > 0, r,
	    "error.message is not a non-empty string");
	v = json_object_get(e, "details");
	itest_expect_at(__FILE__, line, json_is_object(v), r, "error.details is not an object");
	v = json_object_get(e, "request_id");
	itest_expect_at(__FILE__, line, json_is_string(v) && rid != NULL &&
	    strcmp(json_string_value(v), rid) == 0, r,
	    "error.request_id %s differs from X-Request-Id %s",
	    json_is_string(v) ? json_string_value(v) : "(not a string)", nz(rid));
	json_decref(j);
}

/* The HTML error page: text/html; charset=utf-8, naming the status and the request id. */
#define CHECK_HTML_ERROR(r, status) check_html_error(__LINE__, (r), (status))

static void
check_html_error(unsigned line, const struct itest_response *r, long status)
{
	const char *ct = itest_header(r, "Content-Type");
	const char *rid = itest_header(r, "X-Request-Id");
	char sq[256], code[16];

	itest_expect_at(__FILE__, line, r->status == status, r, "status %ld, want %ld", r->status, status);
	squash(ct, sq, sizeof(sq));
	itest_expect_at(__FILE__, line, strcmp(sq, "text/html;charset=utf-8") == 0, r,
	    "Content-Type %s, want text/html; charset=utf-8", nz(ct));
	check_security_headers(line, r);
	snprintf(code, sizeof(code), "%ld", status);
	itest_expect_at(__FILE__, line, strstr(r->body, code) != NULL, r, "the page does not show %s", code);
	itest_expect_at(__FILE__, line, rid != NULL && strstr(r->body, rid) != NULL, r,
	    "the page does not show the request id %s", nz(rid));
}

static int
post(struct itest_response *r, const char *path, const char *content_type, const void *body,
    size_t len)
{
	const char *headers[3] = { NULL, NULL, NULL };
	char *ct = NULL;
	int rc;

	if (content_type != NULL) {
		ct = itest_asprintf("Content-Type: %s", content_type);
		headers[0] = ct;
	}
	rc = itest_request(NULL, r, "POST", path, headers, body, len);
	free(ct);
	return rc;
}

/*
 * The newest migration's name, which /readyz reports as its schema. It is read from the
 * tree's sql/ directory so the test follows new migrations; without it, the form is checked.
 */

static int
migration_name(const char *file, char *out, size_t outlen)
{
	size_t n = 0;

	/* NNNN_name followed by '.' or '/' or the end: "0001_init.up.sql", "0001_init". */
	if (strlen(file) < 6 || file[4] != '_')
		return 0;
	for (n = 0; n < 4; n++)
		if (file[n] < '0' || file[n] > '9')
			return 0;
	while (file[n] != '\0' && file[n] != '.')
		n++;
	if (n + 1 > outlen)
		return 0;
	memcpy(out, file, n);
	out[n] = '\0';
	return 1;
}

static int
newest_migration(char *out, size_t outlen)
{
	const char *env = getenv("MAILROOM_TEST_SCHEMA");
	const char *srcdir = getenv("srcdir");
	char dirs[3][1024], name[256];
	const char *slash;
	size_t i;
	int found = 0;

	if (env != NULL && *env != '\0') {
		snprintf(out, outlen, "%s", env);
		return 1;
	}
	snprintf(dirs[0], sizeof(dirs[0]), "%s/sql", srcdir != NULL ? srcdir : ".");
	slash = strrchr(__FILE__, '/');
	snprintf(dirs[1], sizeof(dirs[1]), "%.*s/../../sql",
	    slash != NULL ? (int)(slash - __FILE__) : 1, slash != NULL ? __FILE__ : ".");
	snprintf(dirs[2], sizeof(dirs[2]), "sql");
	for (i = 0; i < 3 && !found; i++) {
		DIR *d = opendir(dirs[i]);
		struct dirent *de;

		if (d == NULL)
			continue;
		out[0] = '\0';
		while ((de = readdir(d)) != NULL) {
			if (!migration_name(de->d_name, name, sizeof(name)))
				continue;
			/* Numbered names sort in the order they apply. */
			if (strcmp(name, out) > 0)
				snprintf(out, outlen, "%s", name);
			found = 1;
		}
		closedir(d);
	}
	return found;
}

/*
 * Suite "health": /healthz and /readyz.
 */

static void
test_healthz_get(void)
{
	struct itest_response r;
	json_t *j, *want;
	char err[256];

	itest_get(NULL, &r, "/healthz");
	EXPECT(&r, r.status == 200);
	EXPECTF(&r, itest_media_type_is(itest_header(&r, "Content-Type"), "application/json"),
	    "Content-Type is %s", nz(itest_header(&r, "Content-Type")));
	CHECK_SECURITY_HEADERS(&r);
	j = itest_json(&r, err, sizeof(err));
	want = json_pack("{s:s}", "status", "ok");
	EXPECTF(&r, j != NULL && json_equal(j, want), "body is not {\"status\":\"ok\"} (%s)",
	    j != NULL ? "other JSON" : err);
	json_decref(j);
	json_decref(want);
	itest_response_free(&r);
}

static void
test_healthz_head(void)
{
	struct itest_response r;

	itest_request(NULL, &r, "HEAD", "/healthz", NULL, NULL, 0);
	EXPECT(&r, r.status == 200);
	EXPECT(&r, r.body_len == 0);
	EXPECTF(&r, itest_media_type_is(itest_header(&r, "Content-Type"), "application/json"),
	    "Content-Type is %s", nz(itest_header(&r, "Content-Type")));
	CHECK_SECURITY_HEADERS(&r);
	itest_response_free(&r);
}

static void
test_readyz(void)
{
	struct itest_response r;
	json_t *j;
	char err[256], want[256];
	const char *schema;

	itest_get(NULL, &r, "/readyz");
	EXPECT(&r, r.status == 200);
	EXPECTF(&r, itest_media_type_is(itest_header(&r, "Content-Type"), "application/json"),
	    "Content-Type is %s", nz(itest_header(&r, "Content-Type")));
	CHECK_SECURITY_HEADERS(&r);
	j = itest_json(&r, err, sizeof(err));
	EXPECTF(&r, j != NULL, "body is not JSON: %s", err);
	if (j == NULL) {
		itest_response_free(&r);
		return;
	}
	EXPECT(&r, json_is_string(json_object_get(j, "status")) &&
	    strcmp(json_string_value(json_object_get(j, "status")), "ready") == 0);
	schema = json_string_value(json_object_get(j, "schema"));
	if (newest_migration(want, sizeof(want))) {
		EXPECTF(&r, schema != NULL && strcmp(schema, want) == 0,
		    "schema is %s, want the newest migration %s", nz(schema), want);
	} else {
		EXPECTF(&r, schema != NULL && migration_name(schema, want, sizeof(want)) &&
		    strcmp(want, schema) == 0, "schema %s is not a migration name", nz(schema));
	}
	json_decref(j);
	itest_response_free(&r);
}

static void
test_request_ids_unique(void)
{
	struct itest_response a, b;
	const char *ia, *ib;

	itest_get(NULL, &a, "/healthz");
	itest_get(NULL, &b, "/healthz");
	ia = itest_header(&a, "X-Request-Id");
	ib = itest_header(&b, "X-Request-Id");
	EXPECTF(&b, ia != NULL && ib != NULL && strcmp(ia, ib) != 0,
	    "two requests got the request ids %s and %s", nz(ia), nz(ib));
	itest_response_free(&a);
	itest_response_free(&b);
}

/*
 * Suite "metrics": a validator for the Prometheus text format 0.0.4, then the metrics the
 * platform must expose.
 */

#define PROM_MAX_LABELS 16

struct prom_sample {
	char *name;
	char *family;
	char *lname[PROM_MAX_LABELS];
	char *lvalue[PROM_MAX_LABELS];
	size_t nlabels;
	double value;
};

struct prom_family {
	char *name;
	char type[16];
	int help;
	int started;   /* samples seen */
	int closed;    /* another family's samples came after this one's */
};

struct prom {
	struct prom_sample *s;
	size_t ns;
	struct prom_family *f;
	size_t nf;
	char err[512];
};

static void
prom_free(struct prom *p)
{
	size_t i, k;

	for (i = 0; i < p->ns; i++) {
		free(p->s[i].name);
		for (k = 0; k < p->s[i].nlabels; k++) {
			free(p->s[i].lname[k]);
			free(p->s[i].lvalue[k]);
		}
	}
	for (i = 0; i < p->nf; i++)
		free(p->f[i].name);
	free(p->s);
	free(p->f);
	memset(p, 0, sizeof(*p));
}

static int
prom_name_char(char c, int first, int colon)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon && c == ':'))
		return 1;
	return !first && c >= '0' && c <= '9';
}

/* Length of a metric (colon) or label name at s, 0 if there is none. */
static size_t
prom_name_len(const char *s, int colon)
{
	size_t n = 0;

	while (prom_name_char(s[n], n == 0, colon))
		n++;
	return n;
}

static struct prom_family *
prom_family(struct prom *p, const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < p->nf; i++)
		if (strlen(p->f[i].name) == len && strncmp(p->f[i].name, name, len) == 0)
			return &p->f[i];
	return NULL;
}

static struct prom_family *
prom_family_add(struct prom *p, const char *name, size_t len)
{
	struct prom_family *f;

	p->f = realloc(p->f, (p->nf + 1) * sizeof(*p->f));
	if (p->f == NULL)
		abort();
	f = &p->f[p->nf++];
	memset(f, 0, sizeof(*f));
	f->name = strndup(name, len);
	if (f->name == NULL)
		abort();
	return f;
}

static int
prom_value(const char *s, size_t len, double *out)
{
	char buf[64], *end;

	if (len == 0 || len >= sizeof(buf))
		return 0;
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (strcmp(buf, "+Inf") == 0) {
		*out = HUGE_VAL;
		return 1;
	}
	if (strcmp(buf, "-Inf") == 0) {
		*out = -HUGE_VAL;
		return 1;
	}
	if (strcmp(buf, "NaN") == 0) {
		*out = (double)NAN;
		return 1;
	}
	errno = 0;
	*out = strtod(buf, &end);
	return *end == '\0' && errno == 0 && !isnan(*out) && !isinf(*out);
}

/* "# HELP name text" and "# TYPE name type"; other comments are allowed and ignored. */
static int
prom_comment(struct prom *p, const char *line, size_t lineno)
{
	const char *s = line + 1, *kw;
	struct prom_family *f;
	size_t n;
	int is_type;

	while (*s == ' ' || *s == '\t')
		s++;
	if (strncmp(s, "HELP", 4) != 0 && strncmp(s, "TYPE", 4) != 0)
		return 0;
	if (s[4] != ' ' && s[4] != '\t')
		return 0;
	is_type = s[0] == 'T';
	s += 4;
	while (*s == ' ' || *s == '\t')
		s++;
	n = prom_name_len(s, 1);
	if (n == 0 || (s[n] != ' ' && s[n] != '\t' && s[n] != '\0')) {
		snprintf(p->err, sizeof(p->err), "line %zu: bad metric name in %s", lineno, line);
		return -1;
	}
	if ((f = prom_family(p, s, n)) == NULL)
		f = prom_family_add(p, s, n);
	if (f->started) {
		snprintf(p->err, sizeof(p->err), "line %zu: %s comes after samples of %s",
		    lineno, is_type ? "TYPE" : "HELP", f->name);
		return -1;
	}
	kw = s + n;
	while (*kw == ' ' || *kw == '\t')
		kw++;
	if (is_type) {
		static const char *const types[] = {
			"counter", "gauge", "histogram", "summary", "untyped",
		};
		size_t i;

		if (f->type[0] != '\0') {
			snprintf(p->err, sizeof(p->err), "line %zu: second TYPE for %s", lineno,
			    f->name);
			return -1;
		}
		for (i = 0; i < sizeof(types) / sizeof(types[0]); i++)
			if (strcmp(kw, types[i]) == 0)
				break;
		if (i == sizeof(types) / sizeof(types[0])) {
			snprintf(p->err, sizeof(p->err), "line %zu: unknown type \"%s\"", lineno, kw);
			return -1;
		}
		snprintf(f->type, sizeof(f->type), "%s", kw);
	} else {
		const char *c;

		if (f->help) {
			snprintf(p->err, sizeof(p->err), "line %zu: second HELP for %s", lineno,
			    f->name);
			return -1;
		}
		/* HELP text escapes only backslash and newline. */
		for (c = kw; *c != '\0'; c++)
			if (*c == '\\' && c[1] != '\\' && c[1] != 'n') {
				snprintf(p->err, sizeof(p->err), "line %zu: bad escape in HELP",
				    lineno);
				return -1;
			} else if (*c == '\\') {
				c++;
			}
		f->help = 1;
	}
	return 0;
}

/* The family a sample belongs to: its own name, or a histogram's (or summary's) base name
 * for the _bucket, _sum and _count series. */
static struct prom_family *
prom_sample_family(struct prom *p, const char *name)
{
	static const char *const suffixes[] = { "_bucket", "_sum", "_count" };
	size_t len = strlen(name), i;
	struct prom_family *f;

	if ((f = prom_family(p, name, len)) != NULL && f->type[0] != '\0' &&
	    strcmp(f->type, "histogram") != 0 && strcmp(f->type, "summary") != 0)
		return f;
	for (i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		size_t sl = strlen(suffixes[i]);

		if (len > sl && strcmp(name + len - sl, suffixes[i]) == 0 &&
		    (f = prom_family(p, name, len - sl)) != NULL &&
		    (strcmp(f->type, "histogram") == 0 ||
		    (strcmp(f->type, "summary") == 0 && i > 0)))
			return f;
	}
	return NULL;
}

static int
prom_sample_line(struct prom *p, const char *line, size_t lineno)
{
	struct prom_sample s;
	struct prom_family *f;
	const char *c = line, *v;
	size_t n, i, k;
	char *val;

	memset(&s, 0, sizeof(s));
	n = prom_name_len(c, 1);
	if (n == 0) {
		snprintf(p->err, sizeof(p->err), "line %zu: no metric name: %s", lineno, line);
		return -1;
	}
	s.name = strndup(c, n);
	c += n;
	if (*c == '{') {
		c++;
		for (;;) {
			while (*c == ' ' || *c == '\t')
				c++;
			if (*c == '}')
				break;
			n = prom_name_len(c, 0);
			if (n == 0 || c[n] != '=' || c[n + 1] != '"' ||
			    s.nlabels == PROM_MAX_LABELS) {
				snprintf(p->err, sizeof(p->err), "line %zu: bad label: %s", lineno,
				    line);
				goto fail;
			}
			s.lname[s.nlabels] = strndup(c, n);
			for (k = 0; k < s.nlabels; k++)
				if (strcmp(s.lname[k], s.lname[s.nlabels]) == 0) {
					snprintf(p->err, sizeof(p->err),
					    "line %zu: label %s twice: %s", lineno, s.lname[k], line);
					s.nlabels++;
					goto fail;
				}
			c += n + 2;
			val = malloc(strlen(c) + 1);
			if (val == NULL)
				abort();
			for (i = 0; *c != '"'; c++) {
				if (*c == '\0') {
					free(val);
					snprintf(p->err, sizeof(p->err),
					    "line %zu: unterminated label value: %s", lineno, line);
					s.nlabels++;
					goto fail;
				}
				if (*c == '\\') {
					c++;
					if (*c != '\\' && *c != '"' && *c != 'n') {
						free(val);
						snprintf(p->err, sizeof(p->err),
						    "line %zu: bad escape in label value: %s", lineno,
						    line);
						s.nlabels++;
						goto fail;
					}
					val[i++] = *c == 'n' ? '\n' : *c;
				} else {
					val[i++] = *c;
				}
			}
			val[i] = '\0';
			s.lvalue[s.nlabels++] = val;
			c++;
			while (*c == ' ' || *c == '\t')
				c++;
			if (*c == ',') {
				c++;
				continue;
			}
			if (*c != '}') {
				snprintf(p->err, sizeof(p->err), "line %zu: expected , or }: %s",
				    lineno, line);
				goto fail;
			}
		}
		c++;
	}
	if (*c != ' ' && *c != '\t') {
		snprintf(p->err, sizeof(p->err), "line %zu: no blank before the value: %s", lineno,
		    line);
		goto fail;
	}
	while (*c == ' ' || *c == '\t')
		c++;
	v = c;
	while (*c != '\0' && *c != ' ' && *c != '\t')
		c++;
	if (!prom_value(v, (size_t)(c - v), &s.value)) {
		snprintf(p->err, sizeof(p->err), "line %zu: bad value: %s", lineno, line);
		goto fail;
	}
	while (*c == ' ' || *c == '\t')
		c++;
	if (*c != '\0') {
		/* An optional timestamp: integer milliseconds. */
		const char *t = c;

		if (*c == '-')
			c++;
		while (*c >= '0' && *c <= '9')
			c++;
		if (c == t || *c != '\0') {
			snprintf(p->err, sizeof(p->err), "line %zu: junk after the value: %s",
			    lineno, line);
			goto fail;
		}
	}

	f = prom_sample_family(p, s.name);
	if (f == NULL || f->type[0] == '\0' || !f->help) {
		snprintf(p->err, sizeof(p->err), "line %zu: %s has no # HELP and # TYPE before it",
		    lineno, s.name);
		goto fail;
	}
	if (f->closed) {
		snprintf(p->err, sizeof(p->err),
		    "line %zu: samples of %s are not grouped together", lineno, f->name);
		goto fail;
	}
	for (i = 0; i < p->nf; i++)
		if (&p->f[i] != f && p->f[i].started)
			p->f[i].closed = 1;
	f->started = 1;
	s.family = f->name;
	n = strlen(s.name);
	if ((strcmp(f->type, "counter") == 0 || (n > 6 && strcmp(s.name + n - 6, "_count") == 0))
	    && !(s.value >= 0)) {
		snprintf(p->err, sizeof(p->err), "line %zu: negative count: %s", lineno, line);
		goto fail;
	}
	/* The same series twice. */
	for (i = 0; i < p->ns; i++) {
		const struct prom_sample *o = &p->s[i];
		size_t m = 0;

		if (strcmp(o->name, s.name) != 0 || o->nlabels != s.nlabels)
			continue;
		for (k = 0; k < s.nlabels; k++) {
			size_t q;

			for (q = 0; q < o->nlabels; q++)
				if (strcmp(o->lname[q], s.lname[k]) == 0 &&
				    strcmp(o->lvalue[q], s.lvalue[k]) == 0)
					m++;
		}
		if (m == s.nlabels) {
			snprintf(p->err, sizeof(p->err), "line %zu: series repeated: %s", lineno,
			    line);
			goto fail;
		}
	}
	p->s = realloc(p->s, (p->ns + 1) * sizeof(*p->s));
	if (p->s == NULL)
		abort();
	p->s[p->ns++] = s;
	return 0;
fail:
	free(s.name);
	for (k = 0; k < s.nlabels; k++) {
		free(s.lname[k]);
		free(s.lvalue[k]);
	}
	return -1;
}

static const char *
prom_label(const struct prom_sample *s, const char *name)
{
	size_t i;

	for (i = 0; i < s->nlabels; i++)
		if (strcmp(s->lname[i], name) == 0)
			return s->lvalue[i];
	return NULL;
}

/* Same labels, ignoring the label named ignore. */
static int
prom_same_labels(const struct prom_sample *a, const struct prom_sample *b, const char *ignore)
{
	size_t i, na = 0, nb = 0;

	for (i = 0; i < a->nlabels; i++) {
		const char *v;

		if (ignore != NULL && strcmp(a->lname[i], ignore) == 0)
			continue;
		na++;
		v = prom_label(b, a->lname[i]);
		if (v == NULL || strcmp(v, a->lvalue[i]) != 0)
			return 0;
	}
	for (i = 0; i < b->nlabels; i++)
		if (ignore == NULL || strcmp(b->lname[i], ignore) != 0)
			nb++;
	return na == nb;
}

static const struct prom_sample *
prom_find_like(const struct prom *p, const char *name, const struct prom_sample *like)
{
	size_t i;

	for (i = 0; i < p->ns; i++)
		if (strcmp(p->s[i].name, name) == 0 && prom_same_labels(&p->s[i], like, "le"))
			return &p->s[i];
	return NULL;
}

/* Every histogram series: an le on every bucket, a +Inf bucket, cumulative counts that
 * never decrease, and _sum and _count, with _count equal to the +Inf bucket. */
static int
prom_check_histograms(struct prom *p)
{
	size_t i, j;

	for (i = 0; i < p->ns; i++) {
		const struct prom_sample *b = &p->s[i], *inf = NULL, *cnt, *sum;
		const struct prom_family *f = prom_family(p, b->family, strlen(b->family));
		char name[256];

		if (strcmp(f->type, "histogram") != 0)
			continue;
		snprintf(name, sizeof(name), "%s_bucket", f->name);
		if (strcmp(b->name, name) != 0)
			continue;
		if (prom_label(b, "le") == NULL) {
			snprintf(p->err, sizeof(p->err), "%s without le", b->name);
			return -1;
		}
		for (j = 0; j < p->ns; j++) {
			const struct prom_sample *o = &p->s[j];
			double le_b, le_o;

			if (strcmp(o->name, name) != 0 || !prom_same_labels(o, b, "le") ||
			    prom_label(o, "le") == NULL)
				continue;
			if (strcmp(prom_label(o, "le"), "+Inf") == 0)
				inf = o;
			if (!prom_value(prom_label(b, "le"), strlen(prom_label(b, "le")), &le_b) ||
			    !prom_value(prom_label(o, "le"), strlen(prom_label(o, "le")), &le_o)) {
				snprintf(p->err, sizeof(p->err), "%s has a bad le", name);
				return -1;
			}
			if ((le_o < le_b && o->value > b->value) ||
			    (le_o > le_b && o->value < b->value)) {
				snprintf(p->err, sizeof(p->err),
				    "%s: le=%s has %g but le=%s has %g", name, prom_label(o, "le"),
				    o->value, prom_label(b, "le"), b->value);
				return -1;
			}
		}
		if (inf == NULL) {
			snprintf(p->err, sizeof(p->err), "%s series without le=\"+Inf\"", name);
			return -1;
		}
		snprintf(name, sizeof(name), "%s_count", f->name);
		cnt = prom_find_like(p, name, b);
		snprintf(name, sizeof(name), "%s_sum", f->name);
		sum = prom_find_like(p, name, b);
		if (cnt == NULL || sum == NULL) {
			snprintf(p->err, sizeof(p->err), "%s series without _count or _sum", f->name);
			return -1;
		}
		if (cnt->value != inf->value) {
			snprintf(p->err, sizeof(p->err), "%s_count %g differs from le=\"+Inf\" %g",
			    f->name, cnt->value, inf->value);
			return -1;
		}
	}
	return 0;
}

/* 0 when text is valid exposition format, -1 with p->err set otherwise. */
static int
prom_parse(struct prom *p, const char *text, size_t len)
{
	size_t lineno = 0;
	const char *c = text, *end = text + len;

	memset(p, 0, sizeof(*p));
	if (len == 0 || text[len - 1] != '\n') {
		snprintf(p->err, sizeof(p->err), "the text does not end with a newline");
		return -1;
	}
	if (memchr(text, '\0', len) != NULL) {
		snprintf(p->err, sizeof(p->err), "NUL byte in the text");
		return -1;
	}
	while (c < end) {
		const char *nl = memchr(c, '\n', (size_t)(end - c));
		char *line = strndup(c, (size_t)(nl - c));
		int rc = 0;

		lineno++;
		if (line == NULL)
			abort();
		if (strchr(line, '\r') != NULL) {
			snprintf(p->err, sizeof(p->err), "line %zu: carriage return", lineno);
			rc = -1;
		} else if (line[0] == '#') {
			rc = prom_comment(p, line, lineno);
		} else if (line[0] != '\0') {
			rc = prom_sample_line(p, line, lineno);
		}
		free(line);
		if (rc != 0)
			return -1;
		c = nl + 1;
	}
	return prom_check_histograms(p);
}

/* Sum of the samples named name whose labels include the pairs in match (NULL-ended
 * name, value, name, value...). *count receives how many matched. */
static double
prom_sum(const struct prom *p, const char *name, const char *const *match, size_t *count)
{
	double sum = 0;
	size_t i, k, n = 0;

	for (i = 0; i < p->ns; i++) {
		int ok = strcmp(p->s[i].name, name) == 0;

		for (k = 0; ok && match != NULL && match[k] != NULL; k += 2) {
			const char *v = prom_label(&p->s[i], match[k]);

			ok = v != NULL && strcmp(v, match[k + 1]) == 0;
		}
		if (ok) {
			sum += p->s[i].value;
			n++;
		}
	}
	if (count != NULL)
		*count = n;
	return sum;
}

static const char *
prom_type(const struct prom *p, const char *family)
{
	size_t i;

	for (i = 0; i < p->nf; i++)
		if (strcmp(p->f[i].name, family) == 0)
			return p->f[i].type;
	return "";
}

/* Fetches /metrics and parses it; 0 when it answered 200 with valid text. */
static int
fetch_metrics(struct prom *p, struct itest_response *r)
{
	itest_get(NULL, r, "/metrics");
	if (r->status != 200) {
		memset(p, 0, sizeof(*p));
		snprintf(p->err, sizeof(p->err), "/metrics answered %ld", r->status);
		return -1;
	}
	return prom_parse(p, r->body, r->body_len);
}

/* The validator must itself reject what it is meant to catch. */
static void
test_metrics_validator(void)
{
	static const char *const bad[] = {
		"x 1\n",
		"# TYPE x counter\nx 1\n",
		"# HELP x h\n# TYPE x counter\nx{a=\"1\"} 1",
		"# HELP x h\n# TYPE x counter\nx{a=1} 1\n",
		"# HELP x h\n# TYPE x counter\nx{a=\"\\q\"} 1\n",
		"# HELP x h\n# TYPE x counter\nx one\n",
		"# HELP x h\n# TYPE x counter\nx 1 2 3\n",
		"# HELP x h\n# TYPE x counter\nx 1\nx 2\n",
		"# HELP x h\n# TYPE x counter\n# HELP y h\n# TYPE y gauge\nx 1\ny 1\nx{a=\"b\"} 1\n",
		"# HELP x h\n# TYPE x counter\nx 1\n# TYPE x gauge\n",
		"# HELP x h\n# TYPE x flux\nx 1\n",
		"# HELP h h\n# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum 1\nh_count 1\n",
		("# HELP h h\n# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\n"
		    "h_sum 1\nh_count 1\n"),
		"# HELP h h\n# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 1\n",
		"# HELP h h\n# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_count 2\n",
	};
	static const char good[] =
	    "# HELP x Requests.\n# TYPE x counter\nx{a=\"1\",b=\"q\\\"\\\\\\n\"} 3\nx{a=\"2\",} 4\n"
	    "\n# HELP g A gauge.\n# TYPE g gauge\ng 0.5\n"
	    "# HELP h A histogram.\n# TYPE h histogram\nh_bucket{r=\"/\",le=\"0.1\"} 1\n"
	    "h_bucket{r=\"/\",le=\"+Inf\"} 2\nh_sum{r=\"/\"} 0.3\nh_count{r=\"/\"} 2\n";
	struct prom p;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = prom_parse(&p, bad[i], strlen(bad[i]));

		EXPECTF(NULL, rc != 0, "the validator accepted case %zu", i);
		prom_free(&p);
	}
	EXPECTF(NULL, prom_parse(&p, good, strlen(good)) == 0, "the validator rejected good "
	    "text: %s", p.err);
	EXPECT(NULL, p.ns == 7);
	prom_free(&p);
}

static void
test_metrics_format(void)
{
	struct itest_response r;
	const char *ct;
	struct prom p;
	int rc;

	rc = fetch_metrics(&p, &r);
	ct = itest_header(&r, "Content-Type");
	EXPECT(&r, r.status == 200);
	EXPECTF(&r, itest_media_type_is(ct, "text/plain") && ct != NULL &&
	    strstr(ct, "version=0.0.4") != NULL, "Content-Type %s, want text/plain; "
	    "version=0.0.4", nz(ct));
	CHECK_SECURITY_HEADERS(&r);
	EXPECTF(&r, rc == 0, "/metrics is not valid Prometheus text: %s", p.err);
	prom_free(&p);
	itest_response_free(&r);
}

static void
test_metrics_families(void)
{
	static const char *const healthz[] = { "route", "/healthz", NULL };
	static const char *const healthz_inf[] = { "route", "/healthz", "le", "+Inf", NULL };
	static const struct {
		const char *family;
		const char *type;
		int needs_sample;
	} want[] = {
		{ "mailroom_http_requests_total", "counter", 1 },
		{ "mailroom_http_request_duration_seconds", "histogram", 1 },
		{ "mailroom_db_pool_connections_in_use", "gauge", 1 },
		{ "mailroom_db_pool_connections", "gauge", 1 },
		/* A counter by error class has no series until an error happens. */
		{ "mailroom_db_errors_total", "counter", 0 },
	};
	struct itest_response r, h;
	struct prom p;
	size_t i, n;

	/* At least one /healthz request before, so its series exist. */
	itest_get(NULL, &h, "/healthz");
	itest_response_free(&h);
	if (fetch_metrics(&p, &r) != 0) {
		EXPECTF(&r, 0, "%s", p.err);
		goto done;
	}
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		const char *t = prom_type(&p, want[i].family);
		char sample[256];

		EXPECTF(NULL, strcmp(t, want[i].type) == 0, "%s has TYPE \"%s\", want %s",
		    want[i].family, t, want[i].type);
		snprintf(sample, sizeof(sample), "%s%s", want[i].family,
		    strcmp(want[i].type, "histogram") == 0 ? "_count" : "");
		prom_sum(&p, sample, NULL, &n);
		if (want[i].needs_sample)
			EXPECTF(NULL, n > 0, "no %s sample in /metrics", sample);
	}
	prom_sum(&p, "mailroom_http_requests_total",
	    (const char *const[]){ "route", "/healthz", "status", "200", NULL }, &n);
	EXPECTF(NULL, n == 1, "%zu series of mailroom_http_requests_total{route=\"/healthz\","
	    "status=\"200\"}, want 1", n);
	prom_sum(&p, "mailroom_http_request_duration_seconds_bucket", healthz_inf, &n);
	EXPECTF(NULL, n >= 1, "no le=\"+Inf\" bucket for /healthz");
	prom_sum(&p, "mailroom_http_request_duration_seconds_bucket", healthz, &n);
	EXPECTF(NULL, n >= 2, "%zu buckets for /healthz, want several", n);
	prom_sum(&p, "mailroom_http_request_duration_seconds_sum", healthz, &n);
	EXPECTF(NULL, n >= 1, "no _sum for /healthz");
	prom_sum(&p, "mailroom_http_request_duration_seconds_count", healthz, &n);
	EXPECTF(NULL, n >= 1, "no _count for /healthz");
	EXPECT(NULL, prom_sum(&p, "mailroom_db_pool_connections_in_use", NULL, NULL) >= 0);
	EXPECT(NULL, prom_sum(&p, "mailroom_db_pool_connections", NULL, NULL) >= 0);
done:
	prom_free(&p);
	itest_response_free(&r);
}

static void
test_metrics_counts(void)
{
	static const char *const ok[] = { "route", "/healthz", "status", "200", NULL };
	static const char *const route[] = { "route", "/healthz", NULL };
	enum { K = 50 };
	struct itest_client *c = itest_client_new();
	struct itest_response r;
	struct prom p0, p1;
	double n0, n1, c0, c1;
	int i, good = 0;

	if (fetch_metrics(&p0, &r) != 0) {
		EXPECTF(&r, 0, "%s", p0.err);
		prom_free(&p0);
		itest_response_free(&r);
		itest_client_free(c);
		return;
	}
	itest_response_free(&r);
	n0 = prom_sum(&p0, "mailroom_http_requests_total", ok, NULL);
	c0 = prom_sum(&p0, "mailroom_http_request_duration_seconds_count", route, NULL);
	for (i = 0; i < K; i++) {
		itest_get(c, &r, "/healthz");
		good += r.status == 200;
		itest_response_free(&r);
	}
	EXPECTF(NULL, good == K, "%d of %d /healthz requests answered 200", good, K);
	if (fetch_metrics(&p1, &r) != 0) {
		EXPECTF(&r, 0, "%s", p1.err);
	} else {
		n1 = prom_sum(&p1, "mailroom_http_requests_total", ok, NULL);
		c1 = prom_sum(&p1, "mailroom_http_request_duration_seconds_count", route, NULL);
		/* Counted over every FastCGI process, whichever one answered. */
		EXPECTF(NULL, n1 - n0 >= K, "requests_total{route=\"/healthz\",status=\"200\"} "
		    "went from %g to %g after %d requests", n0, n1, K);
		EXPECTF(NULL, c1 - c0 >= K, "the /healthz latency histogram's _count went from "
		    "%g to %g after %d requests", c0, c1, K);
	}
	prom_free(&p0);
	prom_free(&p1);
	itest_response_free(&r);
	itest_client_free(c);
}

/*
 * Suite "headers": security headers on the successful answers (error answers are checked
 * with them in the "errors" suite).
 */

static void
test_security_headers(void)
{
	static const char *const paths[] = { "/healthz", "/readyz", "/metrics" };
	struct itest_response r;
	size_t i;

	for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		itest_get(NULL, &r, paths[i]);
		EXPECT(&r, r.status == 200);
		CHECK_SECURITY_HEADERS(&r);
		itest_response_free(&r);
	}
}

/*
 * Suite "errors": the JSON envelope under /api/ and for clients that prefer JSON, the HTML
 * page elsewhere, and the answers to bad bodies, which are parsed before routing.
 */

static void
test_not_found(void)
{
	static const char *const json[] = { "Accept: application/json", NULL };
	static const char *const json_q[] = { "Accept: text/html;q=0.5, application/json", NULL };
	static const char *const browser[] = {
		"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", NULL,
	};
	struct itest_response r;

	itest_get(NULL, &r, "/api/v1/nope");
	CHECK_ENVELOPE(&r, 404, "not_found");
	itest_response_free(&r);

	itest_get(NULL, &r, "/nope");
	CHECK_HTML_ERROR(&r, 404);
	itest_response_free(&r);

	itest_request(NULL, &r, "GET", "/nope", browser, NULL, 0);
	CHECK_HTML_ERROR(&r, 404);
	itest_response_free(&r);

	itest_request(NULL, &r, "GET", "/nope", json, NULL, 0);
	CHECK_ENVELOPE(&r, 404, "not_found");
	itest_response_free(&r);

	itest_request(NULL, &r, "GET", "/nope", json_q, NULL, 0);
	CHECK_ENVELOPE(&r, 404, "not_found");
	itest_response_free(&r);
}

static void
test_method_not_allowed(void)
{
	static const char *const paths[] = { "/healthz", "/readyz", "/metrics" };
	struct itest_response r;
	const char *allow;
	size_t i;

	for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		itest_request(NULL, &r, "POST", paths[i], NULL, NULL, 0);
		allow = itest_header(&r, "Allow");
		EXPECT(&r, r.status == 405);
		EXPECTF(&r, allow != NULL && has_token(allow, "GET") && has_token(allow, "HEAD") &&
		    !has_token(allow, "POST"), "Allow is %s, want GET and HEAD", nz(allow));
		CHECK_SECURITY_HEADERS(&r);
		itest_response_free(&r);
	}
	itest_request(NULL, &r, "DELETE", "/healthz", NULL, NULL, 0);
	EXPECT(&r, r.status == 405);
	allow = itest_header(&r, "Allow");
	EXPECTF(&r, allow != NULL && has_token(allow, "GET"), "Allow is %s", nz(allow));
	itest_response_free(&r);
}

static void
test_json_bodies(void)
{
	static const char truncated[] = "{\"a\":";
	static const char dup[] = "{\"a\":1,\"a\":2}";
	static const char fine[] = "{\"a\":[1,2,{\"b\":null}],\"c\":\"d\"}";
	struct itest_response r;
	size_t big_len = JSON_BODY_LIMIT + JSON_BODY_LIMIT / 2, under = JSON_BODY_LIMIT - 1024;
	char *big;

	post(&r, "/api/v1/nope", "application/json", truncated, strlen(truncated));
	CHECK_ENVELOPE(&r, 400, "invalid_json");
	itest_response_free(&r);

	post(&r, "/api/v1/nope", "application/json", dup, strlen(dup));
	CHECK_ENVELOPE(&r, 400, NULL);
	itest_response_free(&r);

	/* Parsing succeeds, so routing answers. */
	post(&r, "/api/v1/nope", "application/json; charset=utf-8", fine, strlen(fine));
	CHECK_ENVELOPE(&r, 404, "not_found");
	itest_response_free(&r);

	/* {"a":"xxx..."}: 1.5 MiB is refused, just under 1 MiB is parsed. */
	big = malloc(big_len);
	if (big == NULL)
		abort();
	memset(big, 'x', big_len);
	memcpy(big, "{\"a\":\"", 6);
	memcpy(big + big_len - 2, "\"}", 2);
	post(&r, "/api/v1/nope", "application/json", big, big_len);
	CHECK_ENVELOPE(&r, 413, "payload_too_large");
	itest_response_free(&r);

	memset(big, 'x', under);
	memcpy(big, "{\"a\":\"", 6);
	memcpy(big + under - 2, "\"}", 2);
	post(&r, "/api/v1/nope", "application/json", big, under);
	CHECK_ENVELOPE(&r, 404, "not_found");
	itest_response_free(&r);
	free(big);
}

static void
test_media_types(void)
{
	static const char body[] = "hello";
	struct itest_response r;

	post(&r, "/api/v1/nope", "text/plain", body, strlen(body));
	CHECK_ENVELOPE(&r, 415, "unsupported_media_type");
	itest_response_free(&r);

	post(&r, "/api/v1/nope", NULL, body, strlen(body));
	CHECK_ENVELOPE(&r, 415, "unsupported_media_type");
	itest_response_free(&r);

	post(&r, "/nope", "application/x-evil", body, strlen(body));
	CHECK_HTML_ERROR(&r, 415);
	itest_response_free(&r);
}

static char *
repeat_fields(size_t n, size_t *len)
{
	char *s = malloc(n * 4 + 1);
	size_t i, o = 0;

	if (s == NULL)
		abort();
	for (i = 0; i < n; i++) {
		if (i > 0)
			s[o++] = '&';
		memcpy(s + o, "a=1", 3);
		o += 3;
	}
	s[o] = '\0';
	*len = o;
	return s;
}

static void
test_urlencoded(void)
{
	static const char *const form = "application/x-www-form-urlencoded";
	static const char bad[] = "a=%zz";
	struct itest_response r;
	size_t len;
	char *body;

	post(&r, "/api/v1/nope", form, bad, strlen(bad));
	CHECK_ENVELOPE(&r, 400, "bad_request");
	itest_response_free(&r);

	body = repeat_fields(MAX_FIELDS + 1, &len);
	post(&r, "/api/v1/nope", form, body, len);
	CHECK_ENVELOPE(&r, 413, "too_many_fields");
	itest_response_free(&r);
	free(body);

	body = repeat_fields(MAX_FIELDS, &len);
	post(&r, "/api/v1/nope", form, body, len);
	CHECK_ENVELOPE(&r, 404, "not_found");
	itest_response_free(&r);
	free(body);

	post(&r, "/nope", form, bad, strlen(bad));
	CHECK_HTML_ERROR(&r, 400);
	itest_response_free(&r);
}

static void
test_multipart(void)
{
	static const char *const ct = "multipart/form-data; boundary=XyZzy42";
	static const char valid[] =
	    "--XyZzy42\r\n"
	    "Content-Disposition: form-data; name=\"note\"\r\n\r\n"
	    "hello\r\n"
	    "--XyZzy42\r\n"
	    "Content-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\n"
	    "Content-Type: text/plain\r\n\r\n"
	    "file contents\r\nsecond line\r\n"
	    "--XyZzy42--\r\n";
	static const char unterminated[] =
	    "--XyZzy42\r\n"
	    "Content-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\n"
	    "Content-Type: text/plain\r\n\r\n"
	    "file contents\r\n";
	struct itest_response r;

	post(&r, "/api/v1/nope", ct, valid, strlen(valid));
	CHECK_ENVELOPE(&r, 404, "not_found");
	itest_response_free(&r);

	post(&r, "/api/v1/nope", ct, unterminated, strlen(unterminated));
	CHECK_ENVELOPE(&r, 400, NULL);
	itest_response_free(&r);

	post(&r, "/api/v1/nope", "multipart/form-data", valid, strlen(valid));
	CHECK_ENVELOPE(&r, 400, NULL);
	itest_response_free(&r);
}

static void
test_query_string(void)
{
	struct itest_response r;

	itest_get(NULL, &r, "/api/v1/nope?a=%G1");
	CHECK_ENVELOPE(&r, 400, NULL);
	itest_response_free(&r);

	itest_get(NULL, &r, "/nope?a=%G1");
	CHECK_HTML_ERROR(&r, 400);
	itest_response_free(&r);

	itest_get(NULL, &r, "/api/v1/nope?a=1&b=%20x");
	CHECK_ENVELOPE(&r, 404, "not_found");
	itest_response_free(&r);
}

/* A big body, answered or refused, must leave nginx's kept-alive connection to the
 * application fit for the next request. nginx retries a GET that meets a connection the
 * application dropped, but not a POST, so small POSTs follow the big ones. The fault this
 * looks for depends on how the body's last bytes arrive, hence the many rounds. */
static void
test_big_bodies_then_more(void)
{
	static const char *const json_ct[] = { "Content-Type: application/json", NULL };
	static const char *const text_ct[] = { "Content-Type: text/plain", NULL };
	enum { ROUNDS = 60 };
	size_t over = JSON_BODY_LIMIT + JSON_BODY_LIMIT / 2;
	struct itest_response r;
	char first[1024] = "";
	int i, k, bad = 0, rounds = 0;
	char *big;

	big = malloc(over);
	if (big == NULL)
		abort();
	for (i = 0; i < ROUNDS; i++) {
		/* Mostly bodies the application reads to the end, a few it refuses unread;
		 * sizes vary so that the body's end falls at different offsets. */
		int refuse = i % 4 == 3;
		size_t n = refuse ? over : JSON_BODY_LIMIT - 1024 - (size_t)(i * 173 % 4096);

		memset(big, 'x', n);
		memcpy(big, "{\"a\":\"", 6);
		memcpy(big + n - 2, "\"}", 2);
		itest_request(NULL, &r, "POST", "/api/v1/nope", json_ct, big, n);
		EXPECT(&r, r.status == (refuse ? 413 : 404));
		itest_response_free(&r);
		for (k = 0; k < 2; k++) {
			itest_request(NULL, &r, "POST", "/api/v1/nope", text_ct, "hello", 5);
			if (r.status != 415 && bad++ == 0) {
				itest_describe(&r, first, sizeof(first));
				rounds = i + 1;
			}
			itest_response_free(&r);
		}
	}
	EXPECTF(NULL, bad == 0, "%d of %d small POSTs after big bodies were not answered 415; "
	    "the first, in round %d: %s", bad, 2 * ROUNDS, rounds, first);
	free(big);
}

/* What the client sent must not come back as markup. */
static void
test_no_echo(void)
{
	static const char *const form = "application/x-www-form-urlencoded";
	static const char bad[] = "<script>alert(1)</script>=%zz";
	struct itest_response r;

	post(&r, "/nope", form, bad, strlen(bad));
	CHECK_HTML_ERROR(&r, 400);
	EXPECT(&r, strstr(r.body, "<script>") == NULL);
	EXPECT(&r, strstr(r.body, "alert(1)</") == NULL);
	itest_response_free(&r);

	itest_get(NULL, &r, "/nope/%3Cscript%3Ealert(1)%3C/script%3E");
	CHECK_HTML_ERROR(&r, 404);
	EXPECT(&r, strstr(r.body, "<script>") == NULL);
	itest_response_free(&r);

	itest_get(NULL, &r, "/nope?%3Cscript%3E=%G1");
	CHECK_HTML_ERROR(&r, 400);
	EXPECT(&r, strstr(r.body, "<script>") == NULL);
	itest_response_free(&r);
}

/*
 * Suite "access-log": one JSON line per request in the FastCGI log, found by request id.
 */

struct log_search {
	const char *path;
	const char *request_id;
	size_t found;
	json_t *line;      /* the first matching line */
};

static int
log_search_run(void *arg)
{
	struct log_search *s = arg;
	char *text, *line, *save = NULL;

	s->found = 0;
	json_decref(s->line);
	s->line = NULL;
	if ((text = itest_read_file(s->path, NULL)) == NULL)
		return 0;
	for (line = strtok_r(text, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		json_t *j;
		const char *id, *type;

		if (strstr(line, s->request_id) == NULL)
			continue;
		if ((j = json_loads(line, 0, NULL)) == NULL)
			continue;
		id = json_string_value(json_object_get(j, "request_id"));
		type = json_string_value(json_object_get(j, "type"));
		if (id != NULL && strcmp(id, s->request_id) == 0 && type != NULL &&
		    strcmp(type, "access") == 0) {
			if (s->found++ == 0)
				s->line = json_incref(j);
		}
		json_decref(j);
	}
	free(text);
	return s->found > 0;
}

static void
check_access_line(const char *log, const struct itest_response *r, const char *path)
{
	const char *rid = itest_header(r, "X-Request-Id");
	struct log_search s = { log, rid, 0, NULL };
	json_t *v;

	EXPECT(r, rid != NULL);
	if (rid == NULL)
		return;
	EXPECTF(r, itest_poll(5.0, 0.05, log_search_run, &s),
	    "no access line with request_id %s in %s", rid, log);
	if (s.line == NULL)
		return;
	/* Give a second line, if one were written, the time to show up. */
	itest_sleep(0.3);
	log_search_run(&s);
	EXPECTF(r, s.found == 1, "%zu access lines for request %s, want 1", s.found, rid);
	if (s.line == NULL)
		return;
	v = json_object_get(s.line, "method");
	EXPECTF(r, json_is_string(v) && strcmp(json_string_value(v), r->method) == 0,
	    "access line method is %s, want %s",
	    json_is_string(v) ? json_string_value(v) : "(not a string)", r->method);
	v = json_object_get(s.line, "path");
	EXPECTF(r, json_is_string(v) && strcmp(json_string_value(v), path) == 0,
	    "access line path is %s, want %s",
	    json_is_string(v) ? json_string_value(v) : "(not a string)", path);
	v = json_object_get(s.line, "status");
	EXPECTF(r, json_is_integer(v) && json_integer_value(v) == r->status,
	    "access line status is %lld, want %ld",
	    json_is_integer(v) ? (long long)json_integer_value(v) : -1LL, r->status);
	v = json_object_get(s.line, "duration_us");
	EXPECTF(r, json_is_number(v) && json_number_value(v) >= 0,
	    "access line duration_us is not a non-negative number");
	v = json_object_get(s.line, "user_id");
	EXPECTF(r, v != NULL && json_is_null(v), "access line user_id is %s, want null",
	    v == NULL ? "absent" : "not null");
	json_decref(s.line);
}

static char *
fcgi_log_path(void)
{
	char *out = NULL;
	size_t n;

	if (itest_ctl("fcgi-log", &out) != 0) {
		free(out);
		return NULL;
	}
	n = strlen(out);
	while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == '\r' || out[n - 1] == ' '))
		out[--n] = '\0';
	if (n == 0) {
		free(out);
		return NULL;
	}
	return out;
}

static void
test_access_log(void)
{
	static const char bad_json[] = "{\"a\":";
	static const char *const json_ct[] = { "Content-Type: application/json", NULL };
	char *log = fcgi_log_path();
	struct itest_response r;

	EXPECTF(NULL, log != NULL, "`$MAILROOM_TEST_CTL fcgi-log` printed no path");
	if (log == NULL)
		return;

	itest_get(NULL, &r, "/healthz");
	check_access_line(log, &r, "/healthz");
	itest_response_free(&r);

	itest_request(NULL, &r, "HEAD", "/healthz", NULL, NULL, 0);
	check_access_line(log, &r, "/healthz");
	itest_response_free(&r);

	itest_get(NULL, &r, "/api/v1/nope");
	check_access_line(log, &r, "/api/v1/nope");
	itest_response_free(&r);

	itest_request(NULL, &r, "POST", "/api/v1/nope", json_ct, bad_json, strlen(bad_json));
	check_access_line(log, &r, "/api/v1/nope");
	itest_response_free(&r);

	itest_get(NULL, &r, "/nope");
	check_access_line(log, &r, "/nope");
	itest_response_free(&r);
	free(log);
}

/*
 * Suite "resilience", run last: PostgreSQL stopped and started again, a FastCGI process
 * killed, then many requests in parallel.
 */

struct ready_poll {
	struct itest_client *c;
	long last_status;
};

static int
ready_poll_run(void *arg)
{
	struct ready_poll *rp = arg;
	struct itest_response r;

	itest_get(rp->c, &r, "/readyz");
	rp->last_status = r.status;
	itest_response_free(&r);
	return rp->last_status == 200;
}

static double
db_errors(void)
{
	struct itest_response r;
	struct prom p;
	double v = -1;

	if (fetch_metrics(&p, &r) == 0)
		v = prom_sum(&p, "mailroom_db_errors_total", NULL, NULL);
	prom_free(&p);
	itest_response_free(&r);
	return v;
}

static void
test_db_down(void)
{
	struct itest_client *c = itest_client_new();
	struct itest_response r;
	struct ready_poll rp;
	double e0, e1, t;
	struct prom p;
	int i, rc, ok;

	/* A hung request must show as a slow one, not stop the run. */
	itest_client_set_timeout(c, 10);
	e0 = db_errors();
	rc = itest_ctl("pg-stop", NULL);
	EXPECTF(NULL, rc == 0, "`$MAILROOM_TEST_CTL pg-stop` exited %d", rc);

	for (i = 0; i < 5; i++) {
		const char *ra;
		json_t *j;
		char err[256];

		itest_get(c, &r, "/readyz");
		ra = itest_header(&r, "Retry-After");
		EXPECT(&r, r.status == 503);
		EXPECTF(&r, r.total_time < 1.0, "/readyz took %.3f s with the database down",
		    r.total_time);
		EXPECTF(&r, ra != NULL && ra[0] != '\0' && strspn(ra, "0123456789") ==
		    strlen(ra), "Retry-After is %s, want a number of seconds", nz(ra));
		EXPECTF(&r, itest_media_type_is(itest_header(&r, "Content-Type"),
		    "application/json"), "Content-Type is %s",
		    nz(itest_header(&r, "Content-Type")));
		CHECK_SECURITY_HEADERS(&r);
		j = itest_json(&r, err, sizeof(err));
		EXPECTF(&r, j != NULL, "body is not JSON: %s", err);
		EXPECT(&r, json_is_string(json_object_get(j, "status")) &&
		    strcmp(json_string_value(json_object_get(j, "status")), "unavailable") == 0);
		EXPECT(&r, json_is_string(json_object_get(j, "reason")) &&
		    json_string_length(json_object_get(j, "reason")) > 0);
		json_decref(j);
		itest_response_free(&r);
	}

	itest_get(c, &r, "/healthz");
	EXPECTF(&r, r.status == 200, "/healthz with the database down");
	itest_response_free(&r);

	rc = fetch_metrics(&p, &r);
	EXPECTF(&r, r.status == 200, "/metrics with the database down");
	EXPECTF(&r, rc == 0, "/metrics with the database down: %s", p.err);
	prom_free(&p);
	itest_response_free(&r);
	e1 = db_errors();
	EXPECTF(NULL, e1 > e0, "mailroom_db_errors_total went from %g to %g over an outage",
	    e0, e1);

	rc = itest_ctl("pg-start", NULL);
	EXPECTF(NULL, rc == 0, "`$MAILROOM_TEST_CTL pg-start` exited %d", rc);
	t = itest_now();
	rp.c = c;
	rp.last_status = 0;
	ok = itest_poll(15.0, 0.25, ready_poll_run, &rp);
	EXPECTF(NULL, ok, "/readyz still answers %ld 15 s after PostgreSQL started",
	    rp.last_status);
	if (ok) {
		printf("\n    /readyz back to 200 %.2f s after pg-start ", itest_now() - t);
		for (i = 0; i < 20; i++) {
			itest_get(c, &r, "/readyz");
			EXPECTF(&r, r.status == 200, "request %d of 20 after recovery", i + 1);
			itest_response_free(&r);
		}
	}
	itest_client_free(c);
}

struct pid_list {
	long pid[256];
	size_t n;
};

static int
fcgi_pids(struct pid_list *l)
{
	char *out = NULL, *p, *end;

	l->n = 0;
	if (itest_ctl("fcgi-pids", &out) != 0) {
		free(out);
		return -1;
	}
	for (p = out; *p != '\0' && l->n < 256; p = end) {
		long v = strtol(p, &end, 10);

		if (end == p) {
			end = p + 1;
			continue;
		}
		if (v > 0)
			l->pid[l->n++] = v;
	}
	free(out);
	return 0;
}

static int
pid_in(const struct pid_list *l, long pid)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (l->pid[i] == pid)
			return 1;
	return 0;
}

struct respawn {
	const struct pid_list *before;
	long killed;
	struct pid_list now;
};

static int
respawn_run(void *arg)
{
	struct respawn *rs = arg;
	size_t i;
	int fresh = 0;

	if (fcgi_pids(&rs->now) != 0)
		return 0;
	for (i = 0; i < rs->now.n; i++)
		if (!pid_in(rs->before, rs->now.pid[i]))
			fresh = 1;
	return fresh && rs->now.n == rs->before->n && !pid_in(&rs->now, rs->killed);
}

/* Parallel load: each thread has its own client and alternates between the paths. */
struct load {
	pthread_t tid;
	int requests;
	const char *const *paths;
	int failures;
	char first[1024];
};

static void *
load_run(void *arg)
{
	struct load *l = arg;
	struct itest_client *c = itest_client_new();
	struct itest_response r;
	int i;

	for (i = 0; i < l->requests; i++) {
		itest_get(c, &r, l->paths[i % 2]);
		if (r.status != 200 && l->failures++ == 0)
			itest_describe(&r, l->first, sizeof(l->first));
		itest_response_free(&r);
	}
	itest_client_free(c);
	return NULL;
}

/* Runs threads x requests and returns the failures, with the first one described. */
static int
load(int threads, int requests, const char *const *paths, char *first, size_t firstlen)
{
	struct load l[16];
	int i, failures = 0;

	first[0] = '\0';
	for (i = 0; i < threads && i < 16; i++) {
		memset(&l[i], 0, sizeof(l[i]));
		l[i].requests = requests;
		l[i].paths = paths;
		if (pthread_create(&l[i].tid, NULL, load_run, &l[i]) != 0) {
			fprintf(stderr, "pthread_create failed\n");
			abort();
		}
	}
	for (i = 0; i < threads && i < 16; i++) {
		pthread_join(l[i].tid, NULL);
		failures += l[i].failures;
		if (l[i].failures > 0 && first[0] == '\0')
			snprintf(first, firstlen, "%s", l[i].first);
	}
	return failures;
}

static void
test_fcgi_kill(void)
{
	static const char *const healthz[] = { "/healthz", "/healthz" };
	struct itest_client *c = itest_client_new();
	struct pid_list before;
	struct respawn rs;
	struct itest_response r;
	char first[1024] = "", desc[1024];
	int i, failures = 0, first_index = -1, ok;
	double t;

	/* Requests in parallel first, so that nginx keeps connections open to several
	 * processes, among them the one about to die. */
	load(8, 20, healthz, desc, sizeof(desc));
	itest_get(c, &r, "/healthz");
	itest_response_free(&r);

	EXPECTF(NULL, fcgi_pids(&before) == 0 && before.n > 0,
	    "`$MAILROOM_TEST_CTL fcgi-pids` listed no process");
	if (before.n == 0) {
		itest_client_free(c);
		return;
	}
	EXPECTF(NULL, kill((pid_t)before.pid[0], SIGKILL) == 0, "kill -9 %ld: %s",
	    before.pid[0], strerror(errno));
	t = itest_now();

	for (i = 0; i < 200; i++) {
		itest_get(c, &r, "/healthz");
		if (r.status != 200) {
			if (failures++ == 0) {
				first_index = i;
				itest_describe(&r, first, sizeof(first));
			}
		}
		itest_response_free(&r);
	}
	EXPECTF(NULL, failures == 0, "%d of 200 /healthz requests after kill -9 of %ld failed; "
	    "the first was request %d: %s", failures, before.pid[0], first_index + 1, first);

	rs.before = &before;
	rs.killed = before.pid[0];
	ok = itest_poll(5.0 - (itest_now() - t), 0.1, respawn_run, &rs);
	EXPECTF(NULL, ok, "5 s after kill -9 of %ld: %zu processes (were %zu), %s", rs.killed,
	    rs.now.n, before.n, pid_in(&rs.now, rs.killed) ? "the killed pid is still listed" :
	    "no new pid");
	itest_client_free(c);
}

static void
test_concurrency(void)
{
	static const char *const paths[] = { "/healthz", "/readyz" };
	char first[1024];
	int failures;
	double t = itest_now();

	failures = load(8, 200, paths, first, sizeof(first));
	printf("\n    1600 requests in %.2f s ", itest_now() - t);
	EXPECTF(NULL, failures == 0, "%d of 1600 parallel requests failed; first: %s",
	    failures, first);
}

/* Whether suite was named on the command line (all run when none is). */
int
main(int argc, char **argv)
{
	static const struct itest_case tests[] = {
		{ "health", "GET /healthz", test_healthz_get, 0 },
		{ "health", "HEAD /healthz", test_healthz_head, 0 },
		{ "health", "GET /readyz", test_readyz, 0 },
		{ "health", "request ids differ", test_request_ids_unique, 0 },
		{ "metrics", "the format validator", test_metrics_validator, 0 },
		{ "metrics", "Prometheus text format", test_metrics_format, 0 },
		{ "metrics", "required families", test_metrics_families, 0 },
		{ "metrics", "counters follow requests", test_metrics_counts, 0 },
		{ "headers", "security headers", test_security_headers, 0 },
		{ "errors", "404 envelope and page", test_not_found, 0 },
		{ "errors", "405 with Allow", test_method_not_allowed, 0 },
		{ "errors", "JSON bodies", test_json_bodies, 0 },
		{ "errors", "unsupported media types", test_media_types, 0 },
		{ "errors", "urlencoded bodies", test_urlencoded, 0 },
		{ "errors", "multipart bodies", test_multipart, 0 },
		{ "errors", "query strings", test_query_string, 0 },
		{ "errors", "input is not echoed as markup", test_no_echo, 0 },
		{ "errors", "big bodies leave the connection usable", test_big_bodies_then_more, 0 },
		{ "access-log", "one JSON line per request", test_access_log, 1 },
		{ "resilience", "PostgreSQL stopped and started", test_db_down, 1 },
		{ "resilience", "kill -9 of a FastCGI process", test_fcgi_kill, 1 },
		{ "resilience", "8 threads x 200 requests", test_concurrency, 0 },
	};
	unsigned failed;

	itest_init();
	if (itest_ctl_command() == NULL)
		fprintf(stderr, "MAILROOM_TEST_CTL is not set: the access log, database and "
		    "process tests do not run\n");
	failed = itest_run(argc, argv, tests, sizeof(tests) / sizeof(tests[0]));
	itest_cleanup();
	return failed > 0 ? 1 : 0;
}
