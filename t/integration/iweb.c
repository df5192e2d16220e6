/* iweb.c: the browser-like client of the integration tests (iweb.h). */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <dirent.h>
#include <sys/stat.h>

#include <CUnit/CUnit.h>
#include <curl/curl.h>

#include "iweb.h"

struct iweb *
iweb_new(void)
{
	struct iweb *w = calloc(1, sizeof(*w));

	if (w == NULL)
		abort();
	w->http = itest_client_new();
	return w;
}

void
iweb_clear_cookies(struct iweb *w)
{
	for (size_t i = 0; i < w->ncookies; i++) {
		free(w->cookies[i].name);
		free(w->cookies[i].value);
	}
	w->ncookies = 0;
}

void
iweb_free(struct iweb *w)
{
	if (w == NULL)
		return;
	iweb_clear_cookies(w);
	itest_response_free(&w->last);
	itest_client_free(w->http);
	free(w);
}

const char *
iweb_cookie(const struct iweb *w, const char *name)
{
	for (size_t i = 0; i < w->ncookies; i++) {
		if (strcmp(w->cookies[i].name, name) == 0)
			return w->cookies[i].value;
	}
	return NULL;
}

static void
iweb_drop_cookie(struct iweb *w, const char *name)
{
	for (size_t i = 0; i < w->ncookies; i++) {
		if (strcmp(w->cookies[i].name, name) == 0) {
			free(w->cookies[i].name);
			free(w->cookies[i].value);
			w->cookies[i] = w->cookies[--w->ncookies];
			return;
		}
	}
}

void
iweb_set_cookie(struct iweb *w, const char *name, const char *value)
{
	iweb_drop_cookie(w, name);
	if (w->ncookies == IWEB_MAX_COOKIES)
		abort();
	w->cookies[w->ncookies].name = strdup(name);
	w->cookies[w->ncookies].value = strdup(value);
	w->ncookies++;
}

/* Applies every Set-Cookie of the last response: Max-Age=0 deletes. */
static void
iweb_take_cookies(struct iweb *w)
{
	for (size_t i = 0; i < w->last.nheaders; i++) {
		const char *h = w->last.headers[i].value, *eq, *semi;
		char *name, *value;

		if (strcasecmp(w->last.headers[i].name, "Set-Cookie") != 0)
			continue;
		eq = strchr(h, '=');
		if (eq == NULL)
			continue;
		semi = strchr(eq, ';');
		name = strndup(h, (size_t)(eq - h));
		value = semi != NULL ? strndup(eq + 1, (size_t)(semi - eq - 1)) : strdup(eq + 1);
		if (strstr(h, "Max-Age=0") != NULL || *value == '\0')
			iweb_drop_cookie(w, name);
		else
			iweb_set_cookie(w, name, value);
		free(name);
		free(value);
	}
}

/* The CSRF token of the last page: a csrf_token field's value or the csrf-token meta. */
static void
iweb_take_csrf(struct iweb *w)
{
	static const char *const marks[] = { "name=\"csrf_token\" value=\"",
		"name=\"csrf-token\" content=\"" };
	const char *body = w->last.body;

	for (size_t i = 0; i < sizeof(marks) / sizeof(marks[0]); i++) {
		const char *p = strstr(body, marks[i]), *end;

		if (p == NULL)
			continue;
		p += strlen(marks[i]);
		end = strchr(p, '"');
		if (end == NULL || (size_t)(end - p) >= sizeof(w->csrf) || end == p)
			continue;
		memcpy(w->csrf, p, (size_t)(end - p));
		w->csrf[end - p] = '\0';
		return;
	}
}

static char *
iweb_cookie_header(const struct iweb *w)
{
	size_t n = 16;
	char *h;

	for (size_t i = 0; i < w->ncookies; i++)
		n += strlen(w->cookies[i].name) + strlen(w->cookies[i].value) + 3;
	h = malloc(n);
	if (h == NULL)
		abort();
	strcpy(h, "Cookie: ");
	for (size_t i = 0; i < w->ncookies; i++) {
		if (i > 0)
			strcat(h, "; ");
		strcat(h, w->cookies[i].name);
		strcat(h, "=");
		strcat(h, w->cookies[i].value);
	}
	return h;
}

static long
iweb_send(struct iweb *w, const char *method, const char *path, const char *const *extra,
    const char *body, size_t body_len)
{
	const char *headers[16];
	char *cookie = iweb_cookie_header(w);
	size_t n = 0;

	if (w->ncookies > 0)
		headers[n++] = cookie;
	for (; extra != NULL && *extra != NULL && n < 15; extra++)
		headers[n++] = *extra;
	headers[n] = NULL;
	itest_response_free(&w->last);
	if (itest_request(w->http, &w->last, method, path, headers, body, body_len) != 0) {
		free(cookie);
		return 0;
	}
	free(cookie);
	iweb_take_cookies(w);
	iweb_take_csrf(w);
	return w->last.status;
}

long
iweb_get(struct iweb *w, const char *path)
{
	return iweb_send(w, "GET", path, NULL, NULL, 0);
}

long
iweb_post_headers(struct iweb *w, const char *path, const char *const *fields,
    int with_csrf, const char *origin, const char *const *headers)
{
	CURL *e = curl_easy_init();
	size_t cap = 256, len = 0;
	char *body = malloc(cap), *origin_h = NULL;
	const char *all[12];
	size_t n = 0;
	int has_csrf = 0;
	long status;

	if (body == NULL || e == NULL)
		abort();
	body[0] = '\0';
	for (const char *const *f = fields; f != NULL && f[0] != NULL; f += 2) {
		char *k = curl_easy_escape(e, f[0], 0);
		char *v = curl_easy_escape(e, f[1], (int)strlen(f[1]));
		size_t need = strlen(k) + strlen(v) + 3;

		if (strcmp(f[0], "csrf_token") == 0)
			has_csrf = 1;
		while (len + need + 1 > cap) {
			cap *= 2;
			body = realloc(body, cap);
			if (body == NULL)
				abort();
		}
		len += (size_t)snprintf(body + len, cap - len, "%s%s=%s", len > 0 ? "&" : "", k, v);
		curl_free(k);
		curl_free(v);
	}
	if (with_csrf && !has_csrf && w->csrf[0] != '\0') {
		char *v = curl_easy_escape(e, w->csrf, 0);

		body = realloc(body, len + strlen(v) + 16);
		if (body == NULL)
			abort();
		len += (size_t)sprintf(body + len, "%scsrf_token=%s", len > 0 ? "&" : "", v);
		curl_free(v);
	}
	curl_easy_cleanup(e);
	all[n++] = "Content-Type: application/x-www-form-urlencoded";
	if (origin == NULL)
		origin_h = itest_asprintf("Origin: %s", itest_base_url());
	else if (*origin != '\0')
		origin_h = itest_asprintf("Origin: %s", origin);
	if (origin_h != NULL)
		all[n++] = origin_h;
	for (; headers != NULL && *headers != NULL && n < 11; headers++)
		all[n++] = *headers;
	all[n] = NULL;
	status = iweb_send(w, "POST", path, all, body, len);
	free(origin_h);
	free(body);
	return status;
}

long
iweb_post(struct iweb *w, const char *path, const char *const *fields, int with_csrf,
    const char *origin)
{
	return iweb_post_headers(w, path, fields, with_csrf, origin, NULL);
}

int
iweb_body_has(const struct iweb *w, const char *s)
{
	return w->last.body != NULL && strstr(w->last.body, s) != NULL;
}

const char *
iweb_location(const struct iweb *w)
{
	const char *l = itest_header(&w->last, "Location");

	return l != NULL ? l : "";
}

static PGconn *iweb_pg;

PGconn *
iweb_db(void)
{
	const char *url = getenv("DATABASE_URL");

	if (iweb_pg != NULL)
		return iweb_pg;
	if (url == NULL || *url == '\0')
		return NULL;
	iweb_pg = PQconnectdb(url);
	if (PQstatus(iweb_pg) != CONNECTION_OK) {
		fprintf(stderr, "iweb: DATABASE_URL: %s", PQerrorMessage(iweb_pg));
		PQfinish(iweb_pg);
		iweb_pg = NULL;
	}
	return iweb_pg;
}

PGresult *
iweb_sql(const char *sql, int nparams, const char *const *params)
{
	PGconn *c = iweb_db();
	PGresult *r;
	char msg[512];

	if (c == NULL) {
		CU_FAIL("DATABASE_URL is not set or not reachable");
		return NULL;
	}
	r = PQexecParams(c, sql, nparams, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK && PQresultStatus(r) != PGRES_COMMAND_OK) {
		snprintf(msg, sizeof(msg), "SQL failed: %s: %s", sql, PQerrorMessage(c));
		CU_assertImplementation(CU_FALSE, __LINE__, msg, __FILE__, "", CU_FALSE);
		PQclear(r);
		return NULL;
	}
	return r;
}

char *
iweb_sql_value(const char *sql, int nparams, const char *const *params)
{
	PGresult *r = iweb_sql(sql, nparams, params);
	char *v = NULL;

	if (r != NULL && PQntuples(r) > 0 && !PQgetisnull(r, 0, 0))
		v = strdup(PQgetvalue(r, 0, 0));
	PQclear(r);
	return v;
}

char *
iweb_db_dump(void)
{
	PGresult *tables = iweb_sql("SELECT quote_ident(tablename) FROM pg_tables "
	    "WHERE schemaname = 'public' ORDER BY 1", 0, NULL);
	size_t cap = 1 << 16, len = 0;
	char *out = malloc(cap);

	if (out == NULL)
		abort();
	out[0] = '\0';
	for (int i = 0; tables != NULL && i < PQntuples(tables); i++) {
		char *sql = itest_asprintf("SELECT t::text FROM %s t", PQgetvalue(tables, i, 0));
		PGresult *r = iweb_sql(sql, 0, NULL);

		for (int j = 0; r != NULL && j < PQntuples(r); j++) {
			const char *row = PQgetvalue(r, j, 0);
			size_t n = strlen(row);

			while (len + n + 2 > cap) {
				cap *= 2;
				out = realloc(out, cap);
				if (out == NULL)
					abort();
			}
			memcpy(out + len, row, n);
			len += n;
			out[len++] = '\n';
			out[len] = '\0';
		}
		PQclear(r);
		free(sql);
	}
	PQclear(tables);
	return out;
}

const char *
iweb_unique_email(const char *tag)
{
	static unsigned n;

	/* Kept for the whole run (a test holds on to the addresses it made). */
	return itest_asprintf("%s-%ld-%u@example.org", tag, (long)getpid(), n++);
}

/* Decodes quoted-printable in place: soft line breaks and =XX escapes. */
static void
iweb_qp_decode(char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	char *out = s;

	while (*s != '\0') {
		if (s[0] == '=' && s[1] == '\r' && s[2] == '\n') {
			s += 3;
		} else if (s[0] == '=' && s[1] == '\n') {
			s += 2;
		} else if (s[0] == '=' && s[1] != '\0' && s[2] != '\0' && strchr(hex, s[1]) &&
		    strchr(hex, s[2])) {
			*out++ = (char)((strchr(hex, s[1]) - hex) * 16 + (strchr(hex, s[2]) - hex));
			s += 3;
		} else {
			*out++ = *s++;
		}
	}
	*out = '\0';
}

char *
iweb_mail_for(const char *rcpt, double since, double timeout)
{
	const char *dir = getenv("MAILROOM_TEST_MAILDIR");
	double deadline = itest_now() + timeout;
	char *path, *best = NULL;

	if (dir == NULL || *dir == '\0')
		return NULL;
	path = itest_asprintf("%s/new", dir);
	for (;;) {
		DIR *d = opendir(path);
		struct dirent *e;
		double best_time = 0;

		while (d != NULL && (e = readdir(d)) != NULL) {
			char *file, *text;
			struct stat st;
			const char *end;

			if (e->d_name[0] == '.')
				continue;
			file = itest_asprintf("%s/%s", path, e->d_name);
			if (stat(file, &st) == 0 && (double)st.st_mtime + 1 >= since &&
			    (double)st.st_mtime >= best_time &&
			    (text = itest_read_file(file, NULL)) != NULL) {
				end = strstr(text, "\r\n\r\n");
				if (end == NULL)
					end = strstr(text, "\n\n");
				if (end != NULL && strstr(text, rcpt) != NULL &&
				    strstr(text, rcpt) < end) {
					free(best);
					best = text;
					best_time = (double)st.st_mtime;
				} else {
					free(text);
				}
			}
			free(file);
		}
		if (d != NULL)
			closedir(d);
		if (best != NULL || itest_now() > deadline)
			break;
		itest_sleep(0.1);
	}
	free(path);
	if (best != NULL)
		iweb_qp_decode(best);
	return best;
}

char *
iweb_extract_url(const char *text, const char *prefix)
{
	const char *p = text != NULL ? strstr(text, prefix) : NULL;
	size_t n = 0;

	if (p == NULL)
		return NULL;
	while (p[n] != '\0' && p[n] > ' ' && p[n] != '"' && p[n] != '<' && p[n] != '>')
		n++;
	return strndup(p, n);
}
