/* test-mail.c: integration tests of the mail pages and API (app/page-mail.c) against the
 * running stack. Two users get a few hundred messages through ingest_message (dates,
 * threads, attachments, two accounts, folders, an HTML body full of XSS); then: walking
 * every page of the inbox and of /api/v1/threads gives each thread exactly once, newest
 * first; filters and every search operator give exactly the threads a model of the seed
 * data predicts; a bad query and a bad cursor are refused with a clear message; another
 * user's ids are 404 on every route; the body route and the pages carry the right
 * Content-Security-Policy; the JSON has its documented shape. Triage in the dashboard:
 * moving a thread to a category (page, htmx, API) stores it, records the correction and
 * teaches the model; the navigation's counts match the database; the reasons, the
 * screen's "Allow" and the reply tracking's ages show.
 * Usage: test-mail [suite...]; needs MAILROOM_TEST_URL and DATABASE_URL. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <CUnit/Basic.h>
#include <CUnit/CUnit.h>

#include "ingest.h"
#include "itest.h"
#include "iweb.h"

#define SESSION_COOKIE "mr_session"
#define GOOD_PASSWORD "correct horse battery staple 42"

#define EXPECT(ok, r, ...) itest_expect_at(__FILE__, __LINE__, (ok), (r), __VA_ARGS__)
#define EXPECT_STATUS(st, want, r) itest_expect_status_at(__FILE__, __LINE__, (st), (want), (r))

/* The seed: THREADS threads of 1 to 4 messages in account A of user 1, EXTRA one-message
 * threads in its account B, one thread with an HTML body of XSS, and user 2's own. */
#define THREADS 100
#define EXTRA 5
#define MAX_MSGS (THREADS * 4 + EXTRA + 8)
/* 2025-01-01T00:00:00Z */
#define BASE_TIME INT64_C(1735689600)

enum sender { ADA, CHARLES, NEWS, ME, MALLORY, BOB };

static const char *const sender_hdr[] = {
	[ADA] = "Ada Lovelace <ada@example.org>",
	[CHARLES] = "Charles Babbage <charles@engine.example>",
	[NEWS] = "Shop Newsletter <news@shop.example>",
	[ME] = "Me Myself <me@example.org>",
	[MALLORY] = "Mallory <mallory@evil.example>",
	[BOB] = "Bob <bob@example.net>",
};
static const char *const sender_name[] = {
	[ADA] = "Ada Lovelace", [CHARLES] = "Charles Babbage", [NEWS] = "Shop Newsletter",
	[ME] = "Me Myself", [MALLORY] = "Mallory", [BOB] = "Bob",
};

/* What the model knows of each seeded message. */
struct seed_msg {
	int user;             /* 1 or 2 */
	int account;          /* 0: user 1's A, 1: user 1's B, 2: user 2's */
	int64_t date;
	enum sender from;
	int sent, att, html, unread;
	char subject[64];
	char body[256];
	char message_id[64];
	char parent[64];      /* In-Reply-To, "" for none */
	char refs[512];
	int64_t row, thread;  /* from the database after seeding */
};

static struct seed_msg msgs[MAX_MSGS];
static size_t nmsgs;
static struct iweb *w1, *w2;
static char *uid1, *uid2, *acct[3], *folder_inbox[3], *folder_sent;
static int64_t xss_msg, xss_thread, text_msg, bob_msg, bob_thread;
static int seeded, seed_ok;
static char *token_read, *token_write;

static const char XSS_HTML[] =
	"<p>Hello from <b>Mallory</b></p><script>alert('script')</script>"
	"<img src=x onerror=\"alert('onerror')\"><a href=\"javascript:alert('href')\">click</a>"
	"<svg onload=alert('svg')></svg><iframe src=\"javascript:alert('frame')\"></iframe>"
	"<form action=\"/logout\" method=post><button>Sign out</button></form>"
	"<img src=\"https://tracker.example/pixel.gif\" alt=\"pixel\">"
	"<p style=\"color: red\">Red text</p>";

/* strcasestr, which POSIX lacks. */
static const char *
find_ci(const char *hay, const char *needle)
{
	size_t n = strlen(needle);

	for (; *hay != '\0'; hay++)
		if (strncasecmp(hay, needle, n) == 0)
			return hay;
	return NULL;
}

/* ---- Seeding ------------------------------------------------------------------------- */

static char *
sqlv(const char *sql, int n, const char *const *p)
{
	char *v = iweb_sql_value(sql, n, p);

	CU_ASSERT_PTR_NOT_NULL_FATAL(v);
	return v;
}

static char *
signup(struct iweb *w, const char *tag)
{
	const char *email = iweb_unique_email(tag);
	long st;

	st = iweb_get(w, "/signup");
	EXPECT_STATUS(st, 200, iweb_last(w));
	st = iweb_post(w, "/signup", (const char *const[]){ "email", email, "display_name",
	    tag, "password", GOOD_PASSWORD, "time_zone", "Europe/London", NULL }, 1, NULL);
	EXPECT_STATUS(st, 303, iweb_last(w));
	return sqlv("SELECT id FROM users WHERE email = $1", 1, (const char *[]){ email });
}

static char *
add_account(const char *user, const char *address)
{
	return sqlv("INSERT INTO mail_accounts (user_id, address, provider) VALUES ($1, $2, "
	    "'mbox') RETURNING id", 2, (const char *[]){ user, address });
}

static char *
add_folder(const char *user, const char *account, const char *name, const char *role)
{
	return sqlv("INSERT INTO mail_folders (account_id, user_id, name, role) VALUES "
	    "($1, $2, $3, $4) RETURNING id", 4, (const char *[]){ account, user, name, role });
}

static struct seed_msg *
new_msg(int user, int account, int64_t date, enum sender from, const char *id)
{
	struct seed_msg *m = &msgs[nmsgs++];

	CU_ASSERT_FATAL(nmsgs <= MAX_MSGS);
	memset(m, 0, sizeof(*m));
	m->user = user;
	m->account = account;
	m->date = date;
	m->from = from;
	m->sent = from == ME;
	snprintf(m->message_id, sizeof(m->message_id), "%s@seed.example", id);
	return m;
}

/* The raw RFC 5322 text of m. */
static char *
raw_message(const struct seed_msg *m)
{
	char date[64], head[1024];
	struct tm tm;
	time_t t = (time_t)m->date;
	const char *to = m->sent ? sender_hdr[ADA] : m->user == 2 ? sender_hdr[BOB] :
	    sender_hdr[ME];

	gmtime_r(&t, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	snprintf(head, sizeof(head), "Message-ID: <%s>\r\nDate: %s\r\nFrom: %s\r\nTo: %s\r\n"
	    "Subject: %s\r\n%s%s%s%s%s%sMIME-Version: 1.0\r\n", m->message_id, date,
	    sender_hdr[m->from], to, m->subject,
	    *m->parent ? "In-Reply-To: <" : "", m->parent, *m->parent ? ">\r\n" : "",
	    *m->refs ? "References: " : "", m->refs, *m->refs ? "\r\n" : "");
	if (m->html)
		return itest_asprintf("%sContent-Type: multipart/alternative; boundary=\"b1\"\r\n\r\n"
		    "--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n%s\r\n"
		    "--b1\r\nContent-Type: text/html; charset=utf-8\r\n\r\n%s\r\n--b1--\r\n",
		    head, m->body, XSS_HTML);
	if (m->att)
		return itest_asprintf("%sContent-Type: multipart/mixed; boundary=\"b2\"\r\n\r\n"
		    "--b2\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n%s\r\n"
		    "--b2\r\nContent-Type: application/pdf; name=\"report.pdf\"\r\n"
		    "Content-Disposition: attachment; filename=\"report.pdf\"\r\n"
		    "Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQKJcTl8uXr\r\n--b2--\r\n",
		    head, m->body);
	return itest_asprintf("%sContent-Type: text/plain; charset=utf-8\r\n\r\n%s\r\n", head,
	    m->body);
}

static void
ingest(struct seed_msg *m)
{
	static const char *const self[] = { "me@example.org", NULL };
	static const char *const seen[] = { "\\Seen", NULL };
	const char *user = m->user == 1 ? uid1 : uid2;
	const char *folder = m->sent ? folder_sent : folder_inbox[m->account];
	char *raw = raw_message(m), err[512];
	static uint32_t uid;	/* a UID of its own in whichever folder */
	int inserted = 0;
	int rc;

	rc = ingest_message(iweb_db(), strtoll(user, NULL, 10),
	    strtoll(acct[m->account], NULL, 10), strtoll(folder, NULL, 10), ++uid, raw, strlen(raw),
	    m->unread ? NULL : seen, m->date, self, &inserted, err, sizeof(err));
	EXPECT(rc == 0 && inserted == 1, NULL, "ingest %s: %s", m->message_id, rc == 0 ? "" : err);
	free(raw);
	{
		PGresult *r = iweb_sql("SELECT id, thread_id FROM mail_messages WHERE user_id = $1 "
		    "AND message_id = $2", 2, (const char *[]){ user, m->message_id });

		CU_ASSERT_FATAL(r != NULL && PQntuples(r) == 1);
		m->row = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
		m->thread = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
		PQclear(r);
	}
}

/* Creates the token of w with these scopes from the tokens page (its text, malloc'd). */
static char *
make_token(struct iweb *w, const char *scope)
{
	const char *p;
	char *end;
	long st;

	st = iweb_get(w, "/settings/tokens");
	EXPECT_STATUS(st, 200, iweb_last(w));
	st = iweb_post(w, "/settings/tokens", (const char *const[]){ "name", scope, "scope",
	    scope, "expires_days", "", NULL }, 1, NULL);
	EXPECT_STATUS(st, 200, iweb_last(w));
	p = strstr(w->last.body, "value=\"mr_pat_");
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	p += strlen("value=\"");
	end = strchr(p, '"');
	CU_ASSERT_PTR_NOT_NULL_FATAL(end);
	return strndup(p, (size_t)(end - p));
}

static void
seed(void)
{
	if (seeded) {
		CU_ASSERT_FATAL(seed_ok);
		return;
	}
	seeded = 1;
	w1 = iweb_new();
	w2 = iweb_new();
	uid1 = signup(w1, "mail-ada");
	uid2 = signup(w2, "mail-bob");
	acct[0] = add_account(uid1, "me@example.org");
	acct[1] = add_account(uid1, "me@work.example");
	acct[2] = add_account(uid2, "bob@example.net");
	folder_inbox[0] = add_folder(uid1, acct[0], "INBOX", "inbox");
	folder_sent = add_folder(uid1, acct[0], "Sent", "sent");
	folder_inbox[1] = add_folder(uid1, acct[1], "INBOX", "inbox");
	folder_inbox[2] = add_folder(uid2, acct[2], "INBOX", "inbox");

	for (int t = 0; t < THREADS; t++) {
		int n = t % 4 + 1;
		char subject[48];

		if (t % 10 == 7)
			snprintf(subject, sizeof(subject), "Quarterly report %d", t);
		else if (t % 2 == 1)
			snprintf(subject, sizeof(subject), "Invoice %d", t);
		else
			snprintf(subject, sizeof(subject), "Project alpha %d", t);
		for (int j = 0; j < n; j++) {
			char id[32];
			enum sender from = j % 2 == 1 ? ME : (enum sender)(t % 3);
			struct seed_msg *m, *prev = j > 0 ? &msgs[nmsgs - 1] : NULL;

			snprintf(id, sizeof(id), "t%d.m%d", t, j);
			m = new_msg(1, 0, BASE_TIME + (int64_t)((t * 37) % 100) * 86400 +
			    (int64_t)j * 3600 * (1 + t % 3) + t * 7 + 40000, from, id);
			snprintf(m->subject, sizeof(m->subject), "%s%s", j > 0 ? "Re: " : "",
			    subject);
			snprintf(m->body, sizeof(m->body), "Hello number %d-%d.%s%s%s", t, j,
			    t % 10 == 3 ? " The zebra crossing is closed." : "",
			    t % 10 == 4 && j == 0 ? " We were crossing the zebra." : "",
			    t % 6 == 0 ? " Please see the invoice." : "");
			m->att = t % 5 == 0 && j == 0;
			m->unread = t % 7 == 0 && j == n - 1;
			if (prev != NULL) {
				size_t len = 0;

				snprintf(m->parent, sizeof(m->parent), "%s", prev->message_id);
				for (int k = 0; k < j; k++)
					len += (size_t)snprintf(m->refs + len, sizeof(m->refs) - len,
					    "%s<t%d.m%d@seed.example>", k > 0 ? " " : "", t, k);
			}
			ingest(m);
		}
	}
	for (int k = 0; k < EXTRA; k++) {
		char id[32];
		struct seed_msg *m;

		snprintf(id, sizeof(id), "b%d", k);
		m = new_msg(1, 1, BASE_TIME + 200 * 86400 + k * 3600, ADA, id);
		snprintf(m->subject, sizeof(m->subject), "Second account %d", k);
		snprintf(m->body, sizeof(m->body), "Hello from the other account, %d.", k);
		ingest(m);
	}
	{
		/* 2025-07-01T12:00:00Z: 13:00 in London. */
		struct seed_msg *m = new_msg(1, 0, INT64_C(1751371200), MALLORY, "xss");

		snprintf(m->subject, sizeof(m->subject), "You won <script>alert(1)</script>");
		snprintf(m->body, sizeof(m->body), "Hello from Mallory, the text version.");
		m->html = 1;
		ingest(m);
		xss_msg = m->row;
		xss_thread = m->thread;
		text_msg = msgs[0].row;
	}
	for (int k = 0; k < 3; k++) {
		char id[32];
		struct seed_msg *m;

		snprintf(id, sizeof(id), "bob%d", k);
		m = new_msg(2, 2, BASE_TIME + 300 * 86400 + k * 60, BOB, id);
		snprintf(m->subject, sizeof(m->subject), "Bob private %d", k);
		snprintf(m->body, sizeof(m->body), "Hello, this is Bob's own mail %d.", k);
		m->html = k == 0;
		ingest(m);
		if (k == 0) {
			bob_msg = m->row;
			bob_thread = m->thread;
		}
	}
	token_read = make_token(w1, "read");
	token_write = make_token(w1, "write");
	seed_ok = 1;
}

/* ---- The model ------------------------------------------------------------------------ */

typedef int (*msg_pred)(const struct seed_msg *m, const void *arg);

static int
cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/* The sorted, distinct threads of user 1 that have a message matching pred. */
static size_t
expected_threads(msg_pred pred, const void *arg, int64_t *out)
{
	size_t n = 0;

	for (size_t i = 0; i < nmsgs; i++) {
		int dup = 0;

		if (msgs[i].user != 1 || !pred(&msgs[i], arg))
			continue;
		for (size_t k = 0; k < n; k++)
			dup |= out[k] == msgs[i].thread;
		if (!dup)
			out[n++] = msgs[i].thread;
	}
	qsort(out, n, sizeof(*out), cmp_i64);
	return n;
}

/* Whether the text of m (subject, participants, body) has word as a word. */
static int
has_word(const struct seed_msg *m, const char *word)
{
	char text[512];
	size_t wl = strlen(word);

	snprintf(text, sizeof(text), " %s %s %s ", m->subject, sender_name[m->from], m->body);
	for (char *p = text; *p != '\0'; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' &&
		    *p <= '9')))
			*p = ' ';
	for (const char *p = find_ci(text, word); p != NULL; p = find_ci(p + 1, word))
		if (p[-1] == ' ' && p[wl] == ' ')
			return 1;
	return 0;
}

static int p_all(const struct seed_msg *m, const void *a) { (void)m; (void)a; return 1; }
static int p_from_charles(const struct seed_msg *m, const void *a) { (void)a; return m->from == CHARLES; }
static int p_report(const struct seed_msg *m, const void *a) { (void)a; return find_ci(m->subject, "report") != NULL; }
static int p_att(const struct seed_msg *m, const void *a) { (void)a; return m->att; }
static int p_no_att_invoice(const struct seed_msg *m, const void *a) { (void)a; return !m->att && has_word(m, "invoice"); }
static int p_sent(const struct seed_msg *m, const void *a) { (void)a; return m->sent; }
static int p_account_b(const struct seed_msg *m, const void *a) { (void)a; return m->account == 1; }
static int p_phrase(const struct seed_msg *m, const void *a) { (void)a; return strstr(m->body, "zebra crossing") != NULL; }
static int p_words(const struct seed_msg *m, const void *a) { (void)a; return has_word(m, "zebra") && has_word(m, "crossing"); }
static int p_zebra_not_invoice(const struct seed_msg *m, const void *a) { (void)a; return has_word(m, "zebra") && !has_word(m, "invoice"); }
static int p_invoice_not_news(const struct seed_msg *m, const void *a) { (void)a; return has_word(m, "invoice") && m->from != NEWS; }
static int p_hello(const struct seed_msg *m, const void *a) { (void)a; return has_word(m, "hello"); }

/* Dates in [lo, hi) (seconds). */
struct range { int64_t lo, hi; };
static int p_range(const struct seed_msg *m, const void *a) { const struct range *r = a; return m->date >= r->lo && m->date < r->hi; }

/* ---- Requests ---------------------------------------------------------------------------- */

/* GET path as the signed-in w, with extra headers; the answer in r. */
static long
get_as(struct iweb *w, struct itest_response *r, const char *path, const char *extra)
{
	char *cookie = itest_asprintf("Cookie: %s=%s", SESSION_COOKIE,
	    iweb_cookie(w, SESSION_COOKIE) != NULL ? iweb_cookie(w, SESSION_COOKIE) : "");
	const char *headers[3] = { cookie, extra, NULL };
	long st;

	itest_response_free(r);
	st = itest_request(NULL, r, "GET", path, headers, NULL, 0) == 0 ? r->status : 0;
	free(cookie);
	return st;
}

static long
get_token(struct itest_response *r, const char *path, const char *token)
{
	char *auth = itest_asprintf("Authorization: Bearer %s", token);
	const char *headers[2] = { auth, NULL };
	long st;

	itest_response_free(r);
	st = itest_request(NULL, r, "GET", path, headers, NULL, 0) == 0 ? r->status : 0;
	free(auth);
	return st;
}

/* %-encodes a query value. */
static char *
qenc(const char *s)
{
	char *out = malloc(3 * strlen(s) + 1), *o = out;

	CU_ASSERT_PTR_NOT_NULL_FATAL(out);
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '_' || c == '.' || c == '~')
			*o++ = (char)c;
		else
			o += sprintf(o, "%%%02X", c);
	}
	*o = '\0';
	return out;
}

/* Walks every page of /api/v1/threads?params (with the read token) into ids, in the
 * order given; checks the dates never increase (newest first) unless ranked. Returns
 * the number of rows, or -1 when a page failed. */
static long
walk_api(const char *params, int limit, int64_t *ids, size_t max)
{
	struct itest_response r = { 0 };
	char *after = NULL, last_date[32] = "9999";
	long n = 0;
	int pages = 0;

	for (;;) {
		char *path = itest_asprintf("/api/v1/threads?%s&limit=%d%s%s", params, limit,
		    after != NULL ? "&after=" : "", after != NULL ? after : "");
		long st = get_token(&r, path, token_read);
		json_t *doc, *threads, *t, *next;
		size_t i;
		int ranked;

		free(path);
		EXPECT_STATUS(st, 200, &r);
		doc = itest_json(&r, NULL, 0);
		threads = json_object_get(doc, "threads");
		EXPECT(json_is_array(threads) && json_array_size(threads) <= (size_t)limit, &r,
		    "a page of at most %d threads", limit);
		if (st != 200 || !json_is_array(threads)) {
			json_decref(doc);
			n = -1;
			break;
		}
		ranked = strcmp(json_string_value(json_object_get(doc, "order")), "relevance") == 0;
		json_array_foreach(threads, i, t) {
			const char *d = json_string_value(json_object_get(t, "date"));

			EXPECT(d != NULL && (ranked || strcmp(d, last_date) <= 0), &r,
			    "newest first: %s after %s", d ? d : "(none)", last_date);
			if (d != NULL)
				snprintf(last_date, sizeof(last_date), "%s", d);
			if ((size_t)n < max)
				ids[n] = json_integer_value(json_object_get(t, "id"));
			n++;
		}
		next = json_object_get(doc, "next");
		free(after);
		after = json_is_string(next) ? qenc(json_string_value(next)) : NULL;
		EXPECT(after == NULL || json_array_size(threads) == (size_t)limit, &r,
		    "only a full page has a next cursor");
		json_decref(doc);
		if (after == NULL || ++pages > 200)
			break;
	}
	free(after);
	itest_response_free(&r);
	return n;
}

/* Checks that got (n rows, in list order) holds each thread of want exactly once. */
static void
expect_same_threads(const char *what, const int64_t *got, long n, const int64_t *want,
    size_t nwant)
{
	int64_t *sorted = malloc(sizeof(int64_t) * (size_t)(n > 0 ? n : 1));
	long dups = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(sorted);
	if (n > 0)
		memcpy(sorted, got, sizeof(int64_t) * (size_t)n);
	qsort(sorted, (size_t)(n > 0 ? n : 0), sizeof(int64_t), cmp_i64);
	for (long i = 1; i < n; i++)
		dups += sorted[i] == sorted[i - 1];
	EXPECT(dups == 0, NULL, "%s: %ld thread(s) listed twice", what, dups);
	EXPECT(n == (long)nwant && (n == 0 || memcmp(sorted, want, sizeof(int64_t) *
	    (size_t)n) == 0), NULL, "%s: %ld threads listed, %zu expected", what, n, nwant);
	if (n != (long)nwant || (n > 0 && memcmp(sorted, want, sizeof(int64_t) * (size_t)n)))
		for (size_t i = 0, k = 0; i < nwant || k < (size_t)n;) {
			if (k >= (size_t)n || (i < nwant && want[i] < sorted[k]))
				fprintf(stderr, "  %s: missing thread %" PRId64 "\n", what, want[i++]);
			else if (i >= nwant || sorted[k] < want[i])
				fprintf(stderr, "  %s: unexpected thread %" PRId64 "\n", what,
				    sorted[k++]);
			else
				i++, k++;
		}
	free(sorted);
}

static void
check_search(const char *params, int limit, msg_pred pred, const void *arg)
{
	int64_t got[MAX_MSGS], want[MAX_MSGS];
	size_t nwant = expected_threads(pred, arg, want);
	long n = walk_api(params, limit, got, MAX_MSGS);

	EXPECT(nwant > 0, NULL, "%s: the seed has matches (a test that cannot fail otherwise)",
	    params);
	expect_same_threads(params, got, n, want, nwant);
}

/* ---- Tests ------------------------------------------------------------------------------- */

/* The thread ids of an inbox page (data-thread="N"), and its "Older" link (malloc'd). */
static size_t
page_threads(const char *body, int64_t *ids, size_t max, char **older)
{
	size_t n = 0;
	const char *p = body, *lm;

	for (p = strstr(p, "data-thread=\""); p != NULL; p = strstr(p + 1, "data-thread=\""))
		if (n < max)
			ids[n++] = strtoll(p + strlen("data-thread=\""), NULL, 10);
	*older = NULL;
	if ((lm = strstr(body, "id=\"load-more\"")) != NULL && (p = strstr(lm, "href=\"")) != NULL) {
		const char *e = strchr(p + 6, '"');
		char *o = strndup(p + 6, (size_t)(e - p - 6)), *s, *d;

		/* &amp; back to & */
		for (s = d = o; *s != '\0'; s++, d++) {
			*d = *s;
			if (strncmp(s, "&amp;", 5) == 0)
				s += 4;
		}
		*d = '\0';
		*older = o;
	}
	return n;
}

static void
test_inbox_walk(void)
{
	int64_t want[MAX_MSGS], got[MAX_MSGS];
	size_t nwant, n = 0;
	char *path = strdup("/inbox");
	int pages = 0;
	long st;

	seed();
	nwant = expected_threads(p_all, NULL, want);
	/* The page: 50 threads a page, then "Older" until there is none. */
	while (path != NULL && pages++ < 50) {
		char *older;
		size_t k;

		st = iweb_get(w1, path);
		EXPECT_STATUS(st, 200, iweb_last(w1));
		k = page_threads(w1->last.body, got + n, MAX_MSGS - n, &older);
		EXPECT(k == 50 || older == NULL, iweb_last(w1), "50 threads a page, %zu here", k);
		n += k;
		free(path);
		path = older;
	}
	expect_same_threads("inbox pages", got, (long)n, want, nwant);
	EXPECT(pages == (int)(nwant + 49) / 50, NULL, "%d pages for %zu threads", pages, nwant);

	/* The API, in small pages. */
	check_search("", 7, p_all, NULL);
	/* The newest first: the thread with the latest message leads. */
	{
		struct itest_response r = { 0 };
		json_t *doc;

		const struct seed_msg *newest = NULL;

		for (size_t i = 0; i < nmsgs; i++)
			if (msgs[i].user == 1 && (newest == NULL || msgs[i].date > newest->date))
				newest = &msgs[i];
		st = get_token(&r, "/api/v1/threads?limit=1", token_read);
		doc = itest_json(&r, NULL, 0);
		EXPECT(newest != NULL && json_integer_value(json_object_get(json_array_get(
		    json_object_get(doc, "threads"), 0), "id")) == newest->thread, &r,
		    "the thread of the newest message comes first");
		json_decref(doc);
		itest_response_free(&r);
	}
}

static void
test_filters(void)
{
	struct itest_response r = { 0 };
	char *path;
	long st;

	seed();
	check_search("in=sent", 6, p_sent, NULL);
	path = itest_asprintf("account=%s", acct[1]);
	check_search(path, 2, p_account_b, NULL);
	free(path);

	/* Categories: an empty one says so (the triage suite puts no mail in this one). */
	st = get_token(&r, "/api/v1/threads?category=meeting-update", token_read);
	EXPECT(st == 200 && strstr(r.body, "\"threads\":[]") != NULL, &r,
	    "no thread is in Meeting update");
	st = iweb_get(w1, "/inbox?category=meeting-update");
	EXPECT_STATUS(st, 200, iweb_last(w1));
	EXPECT((iweb_body_has(w1, "No mail has been sorted into categories yet.") ||
	    iweb_body_has(w1, "No conversation is in Meeting update right now.")) &&
	    !iweb_body_has(w1, "data-thread="), iweb_last(w1), "the category view explains");
	EXPECT(!iweb_body_has(w1, "not available yet"), iweb_last(w1),
	    "sorting into categories is available");
	st = iweb_get(w1, "/inbox");
	EXPECT(iweb_body_has(w1, ">All mail</h1>") && iweb_body_has(w1, "name=\"account\""),
	    iweb_last(w1), "All mail is the default view, with the account filter");
	st = iweb_get(w2, "/inbox");
	EXPECT(!iweb_body_has(w2, "name=\"account\""), iweb_last(w2),
	    "one account: no account filter");

	/* Bad filters change nothing and say what is wrong. */
	st = get_token(&r, "/api/v1/threads?in=nowhere", token_read);
	EXPECT(st == 400 && strstr(r.body, "\"in\"") != NULL, &r, "an unknown folder role");
	path = itest_asprintf("/api/v1/threads?account=%s", acct[2]);
	st = get_token(&r, path, token_read);
	free(path);
	EXPECT(st == 400 && strstr(r.body, "\"account\"") != NULL, &r,
	    "another user's account is not a filter");
	st = get_token(&r, "/api/v1/threads?category=nope", token_read);
	EXPECT(st == 400 && strstr(r.body, "\"category\"") != NULL, &r, "an unknown category");
	st = get_token(&r, "/api/v1/threads?limit=101", token_read);
	EXPECT(st == 400 && strstr(r.body, "\"limit\"") != NULL, &r, "a limit over 100");
	st = iweb_get(w1, "/inbox?category=nope");
	EXPECT_STATUS(st, 404, iweb_last(w1));

	/* The htmx fragment of the list, as the category links ask for it. */
	st = get_as(w1, &r, "/inbox?category=marketing", "HX-Request: true");
	EXPECT(st == 200 && strncmp(r.body, "<section id=\"message-list\"", 26) == 0 &&
	    strstr(r.body, "id=\"inbox-q\"") == NULL &&
	    strstr(r.body, "<html") == NULL && strstr(r.body, ">Marketing</h1>") != NULL, &r,
	    "an htmx request gets the list alone");
	{
		int vary = 0;

		/* nginx may add a Vary of its own (Accept-Encoding) before ours. */
		for (size_t i = 0; i < r.nheaders; i++)
			vary |= strcasecmp(r.headers[i].name, "Vary") == 0 &&
			    strstr(r.headers[i].value, "HX-Request") != NULL;
		EXPECT(vary, &r, "Vary: HX-Request");
	}
	itest_response_free(&r);
}

static void
test_search(void)
{
	struct range march;
	char *lo, *hi;

	seed();
	/* The boundaries as the database reads them (its time zone). */
	lo = sqlv("SELECT extract(epoch FROM ('2025-03-01'::date + 1)::timestamptz)::bigint",
	    0, NULL);
	hi = sqlv("SELECT extract(epoch FROM '2025-04-01'::date::timestamptz)::bigint", 0, NULL);
	march.lo = strtoll(lo, NULL, 10);
	march.hi = strtoll(hi, NULL, 10);
	free(lo);
	free(hi);

	check_search("q=from%3Acharles", 9, p_from_charles, NULL);
	check_search("q=subject%3AREPORT", 4, p_report, NULL);
	check_search("q=has%3Aattachment", 8, p_att, NULL);
	check_search("q=-has%3Aattachment+invoice", 100, p_no_att_invoice, NULL);
	check_search("q=after%3A2025-03-01+before%3A2025-04-01", 10, p_range, &march);
	check_search("q=%22zebra+crossing%22", 3, p_phrase, NULL);
	check_search("q=zebra+crossing", 3, p_words, NULL);
	check_search("q=zebra+-invoice", 3, p_zebra_not_invoice, NULL);
	check_search("q=invoice+-from%3Anews", 11, p_invoice_not_news, NULL);
	check_search("q=in%3Asent", 20, p_sent, NULL);
	/* A word in every message: the newest first, and by relevance (bounded). */
	check_search("q=hello", 13, p_hello, NULL);
	check_search("q=hello&sort=relevance", 13, p_hello, NULL);
	{
		struct itest_response r = { 0 };
		long st = get_token(&r, "/api/v1/threads?q=hello&sort=relevance&limit=5",
		    token_read);

		EXPECT(st == 200 && strstr(r.body, "\"order\":\"relevance\"") != NULL &&
		    strstr(r.body, "\"ranked_window\":1000") != NULL, &r, "ranked, and says how");
		itest_response_free(&r);
	}

	/* The page shows the results and keeps the query in the box. */
	{
		long st = iweb_get(w1, "/inbox?q=from%3Acharles+%22zebra+crossing%22");

		EXPECT_STATUS(st, 200, iweb_last(w1));
		EXPECT(iweb_body_has(w1, "value=\"from:charles &quot;zebra crossing&quot;\"") &&
		    iweb_body_has(w1, ">Search</h1>"), iweb_last(w1), "the query stays in the box");
	}
}

static void
test_bad_input(void)
{
	struct itest_response r = { 0 };
	json_t *doc;
	char *cursor = NULL, *path;
	long st;

	seed();
	/* A query that does not parse: the sentence next to the box, and in the API. */
	st = iweb_get(w1, "/inbox?q=after%3A2025-13-45+report");
	EXPECT_STATUS(st, 400, iweb_last(w1));
	EXPECT(iweb_body_has(w1, "id=\"inbox-q-error\"") &&
	    iweb_body_has(w1, "after: expects a date like 2026-01-31.") &&
	    iweb_body_has(w1, "aria-invalid=\"true\"") && !iweb_body_has(w1, "data-thread="),
	    iweb_last(w1), "the parse error is shown next to the search box");
	st = get_token(&r, "/api/v1/threads?q=before%3Ayesterday", token_read);
	doc = itest_json(&r, NULL, 0);
	EXPECT(st == 400 && strcmp(json_string_value(json_object_get(json_object_get(
	    json_object_get(json_object_get(doc, "error"), "details"), "fields"), "q")) ?
	    json_string_value(json_object_get(json_object_get(json_object_get(json_object_get(
	    doc, "error"), "details"), "fields"), "q")) : "", "before: expects a date like "
	    "2026-01-31.") == 0, &r, "the API names the field and the reason");
	json_decref(doc);

	/* Cursors: garbage, tampered, and one of another order are refused. */
	st = get_token(&r, "/api/v1/threads?after=bm9wZQ", token_read);
	EXPECT(st == 400 && strstr(r.body, "\"after\"") != NULL &&
	    strstr(r.body, "invalid_input") != NULL, &r, "a cursor that is not one");
	st = get_token(&r, "/api/v1/threads?after=%%%%", token_read);
	EXPECT_STATUS(st, 400, &r);
	st = get_token(&r, "/api/v1/threads?limit=2", token_read);
	doc = itest_json(&r, NULL, 0);
	if (json_is_string(json_object_get(doc, "next")))
		cursor = qenc(json_string_value(json_object_get(doc, "next")));
	json_decref(doc);
	EXPECT(cursor != NULL, &r, "a next cursor");
	if (cursor != NULL) {
		path = itest_asprintf("/api/v1/threads?q=hello&after=%s", cursor);
		st = get_token(&r, path, token_read);
		free(path);
		EXPECT_STATUS(st, 400, &r);
		path = itest_asprintf("/api/v1/threads?after=%s", cursor);
		st = get_token(&r, path, token_read);
		free(path);
		EXPECT_STATUS(st, 200, &r);
		/* One character changed. */
		cursor[3] = cursor[3] == 'A' ? 'B' : 'A';
		path = itest_asprintf("/inbox?after=%s", cursor);
		st = iweb_get(w1, path);
		free(path);
		EXPECT(st == 400 || st == 200, iweb_last(w1), "a changed cursor is refused or is "
		    "just another position");
		free(cursor);
	}
	st = iweb_get(w1, "/inbox?after=not-a-cursor");
	EXPECT(st == 400 && iweb_body_has(w1, "start again from the first page"), iweb_last(w1),
	    "the page says what is wrong");
	itest_response_free(&r);
}

static void
test_other_users(void)
{
	struct itest_response r = { 0 };
	char *paths[8];
	size_t n = 0;
	long st;

	seed();
	/* Bob's thread and message from Ada's session and token: not found everywhere. */
	paths[n++] = itest_asprintf("/threads/%" PRId64, bob_thread);
	paths[n++] = itest_asprintf("/messages/%" PRId64 "/body", bob_msg);
	paths[n++] = itest_asprintf("/api/v1/threads/%" PRId64, bob_thread);
	paths[n++] = itest_asprintf("/api/v1/messages/%" PRId64, bob_msg);
	for (size_t i = 0; i < n; i++) {
		st = get_as(w1, &r, paths[i], NULL);
		EXPECT_STATUS(st, 404, &r);
		EXPECT(strstr(r.body, "Bob private") == NULL, &r, "nothing of Bob's shows");
		if (strncmp(paths[i], "/api/", 5) == 0) {
			st = get_token(&r, paths[i], token_read);
			EXPECT_STATUS(st, 404, &r);
		}
		/* And Bob himself gets them: the 404 is about the owner, not the id. */
		st = get_as(w2, &r, paths[i], NULL);
		EXPECT_STATUS(st, 200, &r);
		free(paths[i]);
	}
	/* Searching never reaches another user's mail. */
	st = get_token(&r, "/api/v1/threads?q=bob", token_read);
	EXPECT(st == 200 && strstr(r.body, "Bob private") == NULL, &r, "no result of Bob's");
	st = get_token(&r, "/api/v1/threads?q=subject%3Aprivate", token_read);
	EXPECT(st == 200 && strstr(r.body, "\"threads\":[]") != NULL, &r, "none at all");
	/* Ids that exist nowhere. */
	st = get_as(w1, &r, "/threads/999999999", NULL);
	EXPECT_STATUS(st, 404, &r);
	/* Signed out: the sign-in page, not the mail. */
	itest_response_free(&r);
	itest_get(NULL, &r, "/api/v1/threads");
	EXPECT_STATUS(r.status, 401, &r);
	itest_response_free(&r);
}

static void
test_thread_and_body(void)
{
	struct itest_response r = { 0 };
	char *path, *src;
	const char *csp, *xfo;
	long st;

	seed();
	path = itest_asprintf("/threads/%" PRId64, xss_thread);
	st = get_as(w1, &r, path, NULL);
	EXPECT_STATUS(st, 200, &r);
	src = itest_asprintf("<iframe sandbox=\"allow-popups allow-popups-to-escape-sandbox\" "
	    "src=\"/messages/%" PRId64 "/body\"", xss_msg);
	EXPECT(strstr(r.body, src) != NULL, &r, "the body is in a sandboxed frame: %s", src);
	EXPECT(strstr(r.body, "You won &lt;script&gt;alert(1)&lt;/script&gt;") != NULL &&
	    strstr(r.body, "<script>alert") == NULL, &r, "the subject is text");
	EXPECT(strstr(r.body, "Tue 1 Jul 2025, 13:00") != NULL, &r,
	    "the date in the user's time zone (Europe/London)");
	EXPECT(strstr(r.body, "Hello from Mallory, the text version.") != NULL, &r,
	    "the text body is there too");
	csp = itest_header(&r, "Content-Security-Policy");
	EXPECT(csp != NULL && strstr(csp, "frame-src 'self'") != NULL &&
	    strstr(csp, "frame-ancestors 'none'") != NULL && strstr(csp, "script-src 'self'"),
	    &r, "the page may frame this site only");
	free(src);
	/* The reading pane: the same, as an htmx fragment. */
	st = get_as(w1, &r, path, "HX-Request: true");
	EXPECT(st == 200 && strncmp(r.body, "<aside id=\"reading-pane\"", 24) == 0 &&
	    strstr(r.body, "<html") == NULL, &r, "the pane alone for htmx");
	free(path);
	/* Other pages frame nothing. */
	st = get_as(w1, &r, "/settings", NULL);
	csp = itest_header(&r, "Content-Security-Policy");
	EXPECT(csp != NULL && strstr(csp, "frame-src 'none'") != NULL, &r,
	    "pages without mail frame nothing");

	/* The body itself: its own strict policy; no script, handler or script URL. */
	path = itest_asprintf("/messages/%" PRId64 "/body", xss_msg);
	st = get_as(w1, &r, path, NULL);
	free(path);
	EXPECT_STATUS(st, 200, &r);
	csp = itest_header(&r, "Content-Security-Policy");
	xfo = itest_header(&r, "X-Frame-Options");
	EXPECT(csp != NULL && strncmp(csp, "sandbox allow-popups allow-popups-to-escape-sandbox;",
	    52) == 0 &&
	    strstr(csp, "default-src 'none'") != NULL && strstr(csp, "frame-ancestors 'self'") &&
	    strstr(csp, "style-src 'unsafe-inline'") && strstr(csp, "img-src data:") &&
	    strstr(csp, "script-src") == NULL, &r, "the body's CSP: %s", csp ? csp : "(none)");
	EXPECT(xfo != NULL && strcmp(xfo, "SAMEORIGIN") == 0, &r, "framed by this site only");
	EXPECT(itest_media_type_is(itest_header(&r, "Content-Type"), "text/html"), &r, "HTML");
	EXPECT(strstr(r.body, "Mallory") != NULL && strstr(r.body, "Red text") != NULL, &r,
	    "the mail's content is there");
	EXPECT(find_ci(r.body, "<script") == NULL && find_ci(r.body, "onerror") == NULL &&
	    find_ci(r.body, "onload") == NULL && find_ci(r.body, "javascript:") == NULL &&
	    find_ci(r.body, "<iframe") == NULL && find_ci(r.body, "<form") == NULL &&
	    find_ci(r.body, "<svg") == NULL && strstr(r.body, " src=\"https://tracker") == NULL,
	    &r, "nothing active, no remote image");
	EXPECT(strstr(r.body, "mr-blocked-image") != NULL, &r, "the remote image is held back");
	/* A message without HTML has no body document. */
	path = itest_asprintf("/messages/%" PRId64 "/body", text_msg);
	st = get_as(w1, &r, path, NULL);
	free(path);
	EXPECT_STATUS(st, 404, &r);
	itest_response_free(&r);
}

static void
test_json_shapes(void)
{
	struct itest_response r = { 0 };
	json_t *doc, *t, *m, *a;
	char *path;
	long st;
	int64_t att_thread = 0;

	seed();
	for (size_t i = 0; i < nmsgs; i++)
		if (msgs[i].att && att_thread == 0)
			att_thread = msgs[i].thread;
	/* A list row. */
	st = get_token(&r, "/api/v1/threads?q=has%3Aattachment&limit=1", token_read);
	doc = itest_json(&r, NULL, 0);
	t = json_array_get(json_object_get(doc, "threads"), 0);
	EXPECT(st == 200 && json_is_integer(json_object_get(t, "id")) &&
	    json_is_string(json_object_get(t, "subject")) &&
	    json_is_string(json_object_get(t, "date")) &&
	    json_is_integer(json_object_get(t, "message_count")) &&
	    json_is_array(json_object_get(t, "participants")) &&
	    json_is_string(json_object_get(json_array_get(json_object_get(t, "participants"), 0),
	    "address")) && json_is_string(json_object_get(t, "snippet")) &&
	    json_is_boolean(json_object_get(t, "unread")) &&
	    json_is_true(json_object_get(t, "has_attachments")) &&
	    json_is_null(json_object_get(t, "category")) &&
	    json_is_integer(json_object_get(t, "account_id")) &&
	    json_is_integer(json_object_get(t, "message_id")) &&
	    json_object_get(t, "url") == NULL && json_is_string(json_object_get(doc, "next")) &&
	    strcmp(json_string_value(json_object_get(doc, "order")), "newest") == 0, &r,
	    "the list's shape");
	json_decref(doc);

	/* A thread with its messages. */
	path = itest_asprintf("/api/v1/threads/%" PRId64, att_thread);
	st = get_token(&r, path, token_read);
	free(path);
	doc = itest_json(&r, NULL, 0);
	m = json_array_get(json_object_get(doc, "messages"), 0);
	a = json_array_get(json_object_get(m, "attachments"), 0);
	EXPECT(st == 200 && json_integer_value(json_object_get(doc, "id")) == att_thread &&
	    json_array_size(json_object_get(doc, "messages")) ==
	    (size_t)json_integer_value(json_object_get(doc, "message_count")) &&
	    json_is_array(json_object_get(m, "from")) && json_is_array(json_object_get(m, "to")) &&
	    json_is_array(json_object_get(m, "cc")) && json_is_string(json_object_get(m, "text")) &&
	    json_is_null(json_object_get(m, "html")) && json_is_array(json_object_get(m, "flags")) &&
	    json_is_string(json_object_get(m, "date")) &&
	    strcmp(json_string_value(json_object_get(a, "filename")), "report.pdf") == 0 &&
	    strcmp(json_string_value(json_object_get(a, "content_type")), "application/pdf") == 0 &&
	    json_integer_value(json_object_get(a, "size")) > 0, &r, "the thread's shape");
	json_decref(doc);

	/* One message, with its sanitized HTML. */
	path = itest_asprintf("/api/v1/messages/%" PRId64, xss_msg);
	st = get_token(&r, path, token_read);
	free(path);
	doc = itest_json(&r, NULL, 0);
	EXPECT(st == 200 && json_integer_value(json_object_get(doc, "id")) == xss_msg &&
	    json_integer_value(json_object_get(doc, "thread_id")) == xss_thread &&
	    json_is_string(json_object_get(doc, "html")) &&
	    strstr(json_string_value(json_object_get(doc, "html")), "<script") == NULL &&
	    strstr(json_string_value(json_object_get(doc, "html")), "Red text") != NULL &&
	    strcmp(json_string_value(json_object_get(json_array_get(json_object_get(doc, "from"),
	    0), "address")), "mallory@evil.example") == 0, &r, "the message's shape");
	json_decref(doc);

	/* Scope read: a token that may only write is refused. */
	st = get_token(&r, "/api/v1/threads", token_write);
	EXPECT(st == 403 && strstr(r.body, "insufficient_scope") != NULL, &r, "scope read");
	itest_response_free(&r);
}

/* ---- Triage in the dashboard and the API --------------------------------------------- */

/* The thread of seeded thread number t, and the row of its message j in *msg. */
static int64_t
seed_thread(int t, int j, int64_t *msg)
{
	char id[48];

	snprintf(id, sizeof(id), "t%d.m%d@seed.example", t, j);
	for (size_t i = 0; i < nmsgs; i++) {
		if (strcmp(msgs[i].message_id, id) == 0) {
			if (msg != NULL)
				*msg = msgs[i].row;
			return msgs[i].thread;
		}
	}
	CU_FAIL_FATAL("no such seeded message");
	return 0;
}

/* A number the database gives (-1 for none). */
static double
sql_num(const char *sql, int n, const char *const *p)
{
	char *v = iweb_sql_value(sql, n, p);
	double x = v != NULL ? strtod(v, NULL) : -1;

	free(v);
	return x;
}

/* A text the database gives ("" for none), malloc'd. */
static char *
sql_text(const char *sql, int n, const char *const *p)
{
	char *v = iweb_sql_value(sql, n, p);

	return v != NULL ? v : strdup("");
}

static long
post_json(struct itest_response *r, const char *path, const char *token, const char *body)
{
	char *auth = itest_asprintf("Authorization: Bearer %s", token);
	const char *headers[3] = { auth, "Content-Type: application/json", NULL };
	long st;

	itest_response_free(r);
	st = itest_request(NULL, r, "POST", path, headers, body, strlen(body)) == 0 ?
	    r->status : 0;
	free(auth);
	return st;
}

/* The count the navigation in body shows for slug ("all": All mail), or -1. */
static long
nav_count(const char *body, const char *slug)
{
	const char *nav = strstr(body, "<nav aria-label=\"Categories\">");
	const char *end = nav != NULL ? strstr(nav, "</nav>") : NULL;
	char *key = itest_asprintf("data-category=\"%s\"", slug);
	const char *p = end != NULL ? strstr(nav, key) : NULL;
	long n = -1;

	if (p != NULL && p < end && (p = strstr(p, "class=\"nav-count")) != NULL && p < end &&
	    (p = strchr(p, '>')) != NULL)
		n = strtol(p + 1, NULL, 10);
	free(key);
	return n;
}

/* Every count of the navigation in body is what the database says. */
static void
check_nav_counts(const char *body, const struct itest_response *r, const char *when)
{
	PGresult *q = iweb_sql("SELECT c.slug, count(t.id) FROM categories c "
	    "LEFT JOIN mail_threads t ON t.user_id = c.user_id AND t.category = c.slug "
	    "AND t.last_date IS NOT NULL WHERE c.user_id = $1 AND NOT c.hidden "
	    "GROUP BY c.slug, c.position ORDER BY c.position", 1, (const char *[]){ uid1 });
	double all = sql_num("SELECT count(*) FROM mail_threads WHERE user_id = $1 "
	    "AND last_date IS NOT NULL", 1, (const char *[]){ uid1 });
	long sorted = 0;

	CU_ASSERT_FATAL(q != NULL && PQntuples(q) >= 8);
	for (int i = 0; i < PQntuples(q); i++) {
		long want = strtol(PQgetvalue(q, i, 1), NULL, 10);
		long got = nav_count(body, PQgetvalue(q, i, 0));

		sorted += want;
		EXPECT(got == want, r, "%s: the navigation counts %ld threads in %s, the database %ld",
		    when, got, PQgetvalue(q, i, 0), want);
	}
	EXPECT(nav_count(body, "all") == (long)all, r, "%s: All mail counts %ld, the database %.0f",
	    when, nav_count(body, "all"), all);
	EXPECT(sorted > 0, r, "%s: some threads are sorted (a count of 0 everywhere proves "
	    "nothing)", when);
	PQclear(q);
}

static long
corrections(void)
{
	return (long)sql_num("SELECT count(*) FROM triage_corrections WHERE user_id = $1", 1,
	    (const char *[]){ uid1 });
}

static void
test_recat_page(void)
{
	int64_t latest, t;
	char *tid, *path, *v, *latest_s;
	double feat, docs;
	long before, st;

	seed();
	/* Invoice 3: Ada, me, Ada, me. The model learns from Ada's second message. */
	t = seed_thread(3, 0, NULL);
	seed_thread(3, 2, &latest);
	tid = itest_asprintf("%" PRId64, t);
	latest_s = itest_asprintf("%" PRId64, latest);
	path = itest_asprintf("/threads/%s/category", tid);
	feat = sql_num("SELECT coalesce(sum(count), 0) FROM triage_features WHERE user_id = $1 "
	    "AND category = 'marketing'", 1, (const char *[]){ uid1 });
	docs = sql_num("SELECT coalesce(sum(documents), 0) FROM triage_totals WHERE user_id = $1 "
	    "AND category = 'marketing'", 1, (const char *[]){ uid1 });
	before = corrections();
	/* Write-back is for IMAP accounts: this one is one now (no worker runs it here). */
	iweb_sql_value("UPDATE mail_accounts SET provider = 'imap' WHERE id = $1 RETURNING id", 1,
	    (const char *[]){ acct[0] });

	st = iweb_get(w1, "/inbox");
	EXPECT_STATUS(st, 200, iweb_last(w1));
	EXPECT(iweb_body_has(w1, "action=\"/threads/") &&
	    iweb_body_has(w1, "<button type=\"submit\" name=\"category\" value=\"fyi\""),
	    iweb_last(w1), "each row has the recategorize menu");
	st = iweb_post(w1, path, (const char *const[]){ "category", "marketing", "next",
	    "/inbox?category=marketing", NULL }, 1, NULL);
	EXPECT_STATUS(st, 303, iweb_last(w1));
	EXPECT(strcmp(iweb_location(w1), "/inbox?category=marketing") == 0, iweb_last(w1),
	    "back to the list: %s", iweb_location(w1));

	v = sql_text("SELECT category FROM mail_threads WHERE id = $1", 1,
	    (const char *[]){ tid });
	EXPECT(strcmp(v, "marketing") == 0, NULL, "the thread is in Marketing: %s", v);
	free(v);
	EXPECT(sql_num("SELECT count(*) FROM mail_messages WHERE thread_id = $1 AND "
	    "category = 'marketing' AND category_source = 'correction' AND "
	    "category_confidence = 1 AND category_reasons = '[\"You moved it here\"]' AND "
	    "triaged_at IS NOT NULL", 1, (const char *[]){ tid }) == 4, NULL,
	    "each of its 4 messages is decided by the user");
	v = sql_text("SELECT concat_ws('|', source, to_category, message_id, "
	    "apply_to_sender::text, coalesce(sender::text, '')) FROM triage_corrections WHERE user_id = $1 "
	    "ORDER BY id DESC LIMIT 1", 1, (const char *[]){ uid1 });
	{
		char *want = itest_asprintf("dashboard|marketing|%s|false|ada@example.org",
		    latest_s);

		EXPECT(strcmp(v, want) == 0, NULL, "the correction: %s, expected %s", v, want);
		free(want);
	}
	free(v);
	EXPECT(corrections() == before + 1, NULL, "one correction recorded");
	EXPECT(sql_num("SELECT coalesce(sum(count), 0) FROM triage_features WHERE user_id = $1 "
	    "AND category = 'marketing'", 1, (const char *[]){ uid1 }) > feat &&
	    sql_num("SELECT coalesce(sum(documents), 0) FROM triage_totals WHERE user_id = $1 "
	    "AND category = 'marketing'", 1, (const char *[]){ uid1 }) == docs + 1, NULL,
	    "the model learned the correction");
	EXPECT(sql_num("SELECT count FROM triage_features WHERE user_id = $1 AND "
	    "category = 'marketing' AND feature = 's:ada@example.org'", 1,
	    (const char *[]){ uid1 }) >= 1, NULL, "the model knows the sender now");
	EXPECT(sql_num("SELECT count(*) FROM jobs WHERE unique_key = 'writeback:' || $1", 1,
	    (const char *[]){ acct[0] }) >= 1, NULL, "the write-back to the mailbox is queued");

	/* The same move again is no second correction. */
	st = iweb_post(w1, path, (const char *const[]){ "category", "marketing", NULL }, 1, NULL);
	EXPECT_STATUS(st, 303, iweb_last(w1));
	EXPECT(corrections() == before + 1, NULL, "a second click teaches nothing new");
	/* Back to this site's pages only. */
	st = iweb_post(w1, path, (const char *const[]){ "category", "marketing", "next",
	    "https://evil.example/", NULL }, 1, NULL);
	v = itest_asprintf("/threads/%s", tid);
	EXPECT(st == 303 && strcmp(iweb_location(w1), v) == 0, iweb_last(w1),
	    "a foreign next is not followed: %s", iweb_location(w1));
	free(v);

	/* The thread page shows where it is, and the list of Marketing has it. */
	st = iweb_get(w1, "/inbox?category=marketing");
	v = itest_asprintf("data-thread=\"%s\"", tid);
	EXPECT(st == 200 && iweb_body_has(w1, v), iweb_last(w1), "listed in Marketing");
	free(v);
	check_nav_counts(w1->last.body, iweb_last(w1), "after a move");
	free(path);
	free(tid);
	free(latest_s);
}

static void
test_recat_htmx(void)
{
	const char *hx[] = { "HX-Request: true", NULL };
	int64_t t, other;
	char *tid, *oid, *path, *want;
	long st;

	seed();
	t = seed_thread(6, 0, NULL);
	other = seed_thread(8, 0, NULL);
	tid = itest_asprintf("%" PRId64, t);
	oid = itest_asprintf("%" PRId64, other);
	path = itest_asprintf("/threads/%s/category", tid);
	st = iweb_get(w1, "/inbox");
	/* As the menu sends it from the inbox with this thread in its reading pane. */
	st = iweb_post_headers(w1, path, (const char *const[]){ "category", "fyi", "next",
	    "/inbox", "row", tid, "row", oid, "pane", tid, "list_category", "", NULL }, 1, NULL,
	    hx);
	EXPECT_STATUS(st, 200, iweb_last(w1));
	want = itest_asprintf("<div hx-swap-oob=\"innerHTML:#row-%s\">", tid);
	EXPECT(iweb_body_has(w1, want) && iweb_body_has(w1,
	    "<div hx-swap-oob=\"innerHTML:#reading-pane\">") && iweb_body_has(w1,
	    "<div hx-swap-oob=\"innerHTML:#category-nav\">"), iweb_last(w1),
	    "the row, the pane and the navigation are redrawn");
	free(want);
	want = itest_asprintf("#row-%s\"", oid);
	EXPECT(!iweb_body_has(w1, want) && !iweb_body_has(w1, "<html"), iweb_last(w1),
	    "nothing else");
	free(want);
	EXPECT(iweb_body_has(w1, "<span class=\"recat-name\">FYI</span>"), iweb_last(w1),
	    "the new chip");
	check_nav_counts(w1->last.body, iweb_last(w1), "the redrawn navigation");
	/* From a page that shows none of these parts: where to go. */
	st = iweb_post_headers(w1, path, (const char *const[]){ "category", "fyi", "next",
	    "/inbox?category=fyi", NULL }, 1, NULL, hx);
	EXPECT(st == 200 && itest_header(&w1->last, "HX-Redirect") != NULL &&
	    strcmp(itest_header(&w1->last, "HX-Redirect"), "/inbox?category=fyi") == 0,
	    iweb_last(w1), "HX-Redirect to next");
	free(path);
	free(tid);
	free(oid);
}

static void
test_recat_sender_and_refusals(void)
{
	int64_t t, t3;
	char *tid, *path, *v, *dump;
	long before, st;

	seed();
	/* Quarterly report 7, from Charles: his mail goes to Notification from now on. */
	t = seed_thread(7, 0, NULL);
	tid = itest_asprintf("%" PRId64, t);
	path = itest_asprintf("/threads/%s/category", tid);
	st = iweb_get(w1, "/inbox");
	st = iweb_post(w1, path, (const char *const[]){ "category", "notification",
	    "apply_to_sender", "1", NULL }, 1, NULL);
	EXPECT_STATUS(st, 303, iweb_last(w1));
	v = sql_text("SELECT coalesce(category, 'NULL') FROM sender_categories "
	    "WHERE user_id = $1 AND sender = 'charles@engine.example'", 1,
	    (const char *[]){ uid1 });
	EXPECT(strcmp(v, "notification") == 0, NULL, "the sender is sorted: %s", v);
	free(v);
	v = sql_text("SELECT concat_ws('|', apply_to_sender::text, sender) FROM triage_corrections "
	    "WHERE user_id = $1 ORDER BY id DESC LIMIT 1", 1, (const char *[]){ uid1 });
	EXPECT(strcmp(v, "true|charles@engine.example") == 0, NULL, "the correction says so: %s",
	    v);
	free(v);
	free(path);
	free(tid);

	/* Refused: nothing changes. */
	t3 = seed_thread(3, 0, NULL);
	tid = itest_asprintf("%" PRId64, t3);
	path = itest_asprintf("/threads/%s/category", tid);
	before = corrections();
	dump = iweb_db_dump();
	st = iweb_post(w1, path, (const char *const[]){ "category", "nope", NULL }, 1, NULL);
	EXPECT(st == 400 && iweb_body_has(w1, "not one of your categories"), iweb_last(w1),
	    "an unknown category");
	st = iweb_post(w1, path, (const char *const[]){ "category", "", NULL }, 1, NULL);
	EXPECT(st == 400 && iweb_body_has(w1, "Choose the category"), iweb_last(w1),
	    "no category");
	st = iweb_post(w1, path, (const char *const[]){ "category", "fyi", NULL }, 0, NULL);
	EXPECT_STATUS(st, 403, iweb_last(w1));
	free(path);
	path = itest_asprintf("/threads/%" PRId64 "/category", bob_thread);
	st = iweb_post(w1, path, (const char *const[]){ "category", "fyi", NULL }, 1, NULL);
	EXPECT_STATUS(st, 404, iweb_last(w1));
	free(path);
	path = itest_asprintf("/threads/999999999/category");
	st = iweb_post(w1, path, (const char *const[]){ "category", "fyi", NULL }, 1, NULL);
	EXPECT_STATUS(st, 404, iweb_last(w1));
	v = iweb_db_dump();
	EXPECT(strcmp(v, dump) == 0 && corrections() == before, NULL,
	    "a refused move changes nothing in the database");
	free(v);
	free(dump);
	free(path);
	free(tid);
}

static void
test_recat_api(void)
{
	struct itest_response r = { 0 };
	json_t *doc, *m, *t, *c;
	int64_t tn;
	char *path, *v;
	size_t i;
	long st;
	int found = 0;

	seed();
	tn = seed_thread(9, 0, NULL);
	path = itest_asprintf("/api/v1/threads/%" PRId64 "/category", tn);
	st = post_json(&r, path, token_write, "{\"category\": \"fyi\", \"apply_to_sender\": false}");
	doc = itest_json(&r, NULL, 0);
	m = json_array_get(json_object_get(doc, "messages"), 0);
	EXPECT(st == 200 && json_integer_value(json_object_get(doc, "id")) == tn &&
	    strcmp(json_string_value(json_object_get(doc, "category")) ?
	    json_string_value(json_object_get(doc, "category")) : "", "fyi") == 0 &&
	    json_is_string(json_object_get(m, "category_source")) &&
	    strcmp(json_string_value(json_object_get(m, "category_source")), "correction") == 0 &&
	    json_number_value(json_object_get(m, "category_confidence")) == 1.0 &&
	    strcmp(json_string_value(json_array_get(json_object_get(m, "category_reasons"), 0)) ?
	    json_string_value(json_array_get(json_object_get(m, "category_reasons"), 0)) : "",
	    "You moved it here") == 0, &r, "the thread, moved, with its messages' decision");
	json_decref(doc);
	v = sql_text("SELECT concat_ws('|', source, to_category) FROM triage_corrections "
	    "WHERE user_id = $1 ORDER BY id DESC LIMIT 1", 1, (const char *[]){ uid1 });
	EXPECT(strcmp(v, "api|fyi") == 0, NULL, "recorded as the API's: %s", v);
	free(v);

	/* Refusals. */
	st = post_json(&r, path, token_read, "{\"category\": \"fyi\"}");
	EXPECT(st == 403 && strstr(r.body, "insufficient_scope") != NULL, &r, "scope write");
	st = post_json(&r, path, token_write, "{\"category\": \"nope\"}");
	EXPECT(st == 400 && strstr(r.body, "\"category\"") != NULL &&
	    strstr(r.body, "not one of your categories") != NULL, &r, "an unknown category");
	st = post_json(&r, path, token_write, "{\"category\": 5, \"apply_to_sender\": \"yes\"}");
	EXPECT(st == 400 && strstr(r.body, "\"category\"") != NULL &&
	    strstr(r.body, "\"apply_to_sender\"") != NULL, &r, "both fields named");
	st = post_json(&r, path, token_write, "[1]");
	EXPECT_STATUS(st, 400, &r);
	free(path);
	path = itest_asprintf("/api/v1/threads/%" PRId64 "/category", bob_thread);
	st = post_json(&r, path, token_write, "{\"category\": \"fyi\"}");
	EXPECT_STATUS(st, 404, &r);
	EXPECT(sql_num("SELECT count(*) FROM mail_threads WHERE id = $1 AND category IS NULL", 1,
	    (const char *[]){ itest_asprintf("%" PRId64, bob_thread) }) == 1, NULL,
	    "Bob's thread is untouched");
	free(path);

	/* The list gives the decision too. */
	st = get_token(&r, "/api/v1/threads?category=fyi&limit=100", token_read);
	doc = itest_json(&r, NULL, 0);
	json_array_foreach(json_object_get(doc, "threads"), i, t) {
		if (json_integer_value(json_object_get(t, "id")) != tn)
			continue;
		found = strcmp(json_string_value(json_object_get(t, "category_source")) ?
		    json_string_value(json_object_get(t, "category_source")) : "", "correction") ==
		    0 && json_number_value(json_object_get(t, "category_confidence")) == 1.0 &&
		    json_array_size(json_object_get(t, "category_reasons")) == 1 &&
		    json_is_null(json_object_get(t, "category_rule_id")) &&
		    json_object_get(t, "reply") != NULL && json_object_get(t, "recat") == NULL;
	}
	EXPECT(st == 200 && found, &r, "listed in FYI with its decision");
	json_decref(doc);

	/* The counts. */
	st = get_token(&r, "/api/v1/categories/counts", token_read);
	doc = itest_json(&r, NULL, 0);
	EXPECT(st == 200 && json_array_size(json_object_get(doc, "categories")) >= 8 &&
	    json_integer_value(json_object_get(doc, "all")) == (json_int_t)sql_num(
	    "SELECT count(*) FROM mail_threads WHERE user_id = $1 AND last_date IS NOT NULL", 1,
	    (const char *[]){ uid1 }), &r, "the counts, with All mail");
	json_array_foreach(json_object_get(doc, "categories"), i, c) {
		const char *slug = json_string_value(json_object_get(c, "slug"));
		double want = sql_num("SELECT count(*) FROM mail_threads WHERE user_id = $1 AND "
		    "category = $2 AND last_date IS NOT NULL", 2, (const char *[]){ uid1, slug });

		EXPECT(json_integer_value(json_object_get(c, "threads")) == (json_int_t)want, &r,
		    "%s: %" JSON_INTEGER_FORMAT " threads, the database %.0f", slug,
		    json_integer_value(json_object_get(c, "threads")), want);
	}
	json_decref(doc);
	itest_response_free(&r);
}

static void
test_reasons_shown(void)
{
	struct itest_response r = { 0 };
	int64_t t, m0, m1;
	char *tid, *s0, *s1, *rule, *path;
	json_t *doc;
	long st;

	seed();
	t = seed_thread(13, 0, &m0);
	seed_thread(13, 1, &m1);
	tid = itest_asprintf("%" PRId64, t);
	s0 = itest_asprintf("%" PRId64, m0);
	s1 = itest_asprintf("%" PRId64, m1);
	rule = sqlv("INSERT INTO triage_rules (user_id, name, conditions, category) VALUES "
	    "($1, 'Invoices rule', '[{\"field\": \"subject\", \"op\": \"contains\", "
	    "\"value\": \"zzz-never\"}]', 'notification') RETURNING id", 1,
	    (const char *[]){ uid1 });
	iweb_sql_value("UPDATE mail_messages SET category = 'to-respond', "
	    "category_confidence = 0.87, category_source = 'classifier', category_reasons = "
	    "'[\"Asks you a question: ''Could you send the figures?''\"]', triaged_at = now() "
	    "WHERE id = $1 RETURNING id", 1, (const char *[]){ s0 });
	iweb_sql_value("UPDATE mail_messages SET category = 'notification', "
	    "category_confidence = 1, category_source = 'rule', category_rule_id = $2, "
	    "category_reasons = '[\"Your rule matched\"]', triaged_at = now() WHERE id = $1 "
	    "RETURNING id", 2, (const char *[]){ s1, rule });
	path = itest_asprintf("/threads/%s", tid);
	st = get_as(w1, &r, path, NULL);
	EXPECT(st == 200 && strstr(r.body, "<summary class=\"cursor-pointer text-slate-500\">"
	    "Why?</summary>") != NULL &&
	    strstr(r.body, "Asks you a question: 'Could you send the figures?'") != NULL &&
	    strstr(r.body, ">87%<") != NULL && strstr(r.body, ">the classifier<") != NULL &&
	    strstr(r.body, ">your rule \u201cInvoices rule\u201d<") != NULL &&
	    strstr(r.body, "data-slug=\"to-respond\"><span aria-hidden") != NULL, &r,
	    "each message's chip and, on demand, why");
	free(path);
	path = itest_asprintf("/api/v1/messages/%s", s1);
	st = get_token(&r, path, token_read);
	doc = itest_json(&r, NULL, 0);
	EXPECT(st == 200 && json_integer_value(json_object_get(doc, "category_rule_id")) ==
	    strtoll(rule, NULL, 10) && json_is_string(json_object_get(doc, "category_rule_name")) &&
	    strcmp(json_string_value(json_object_get(doc, "category_source")), "rule") == 0, &r,
	    "the API names the rule");
	json_decref(doc);
	free(path);
	free(tid);
	free(s0);
	free(s1);
	free(rule);
	itest_response_free(&r);
}

static void
test_screening_allow(void)
{
	struct itest_response r = { 0 };
	int64_t t, m0;
	char *tid, *s0, *path, *v, *bob;
	long st;

	seed();
	/* Project alpha 2 starts with the shop's newsletter: held by the screen. */
	t = seed_thread(2, 0, &m0);
	tid = itest_asprintf("%" PRId64, t);
	s0 = itest_asprintf("%" PRId64, m0);
	iweb_sql_value("UPDATE mail_messages SET category = 'marketing', category_confidence = "
	    "0.9, category_source = 'screening', category_reasons = '[\"First-time sender\"]', "
	    "triaged_at = now() WHERE id = $1 RETURNING id", 1, (const char *[]){ s0 });
	path = itest_asprintf("/threads/%s", tid);
	st = iweb_get(w1, path);
	v = itest_asprintf("name=\"message\" value=\"%s\"", s0);
	EXPECT(st == 200 && iweb_body_has(w1, "First-time sender —") &&
	    iweb_body_has(w1, "action=\"/senders/allow\"") && iweb_body_has(w1, v), iweb_last(w1),
	    "the screened message offers Allow");
	free(v);
	st = iweb_post(w1, "/senders/allow", (const char *const[]){ "message", s0, "next", path,
	    NULL }, 1, NULL);
	EXPECT(st == 303 && strcmp(iweb_location(w1), path) == 0, iweb_last(w1),
	    "back to the thread");
	EXPECT(sql_num("SELECT count(*) FROM sender_categories WHERE user_id = $1 AND "
	    "sender = 'news@shop.example' AND category IS NULL", 1, (const char *[]){ uid1 }) == 1,
	    NULL, "the sender is allowed for good");
	v = sql_text("SELECT coalesce(category_source, 'none') FROM mail_messages WHERE id = $1",
	    1, (const char *[]){ s0 });
	EXPECT(strcmp(v, "screening") != 0 && strcmp(v, "none") != 0, NULL,
	    "the message is triaged again: %s", v);
	free(v);
	/* Another user's message, and none. */
	bob = itest_asprintf("%" PRId64, bob_msg);
	st = iweb_post(w1, "/senders/allow", (const char *const[]){ "message", bob, NULL }, 1,
	    NULL);
	EXPECT_STATUS(st, 404, iweb_last(w1));
	st = iweb_post(w1, "/senders/allow", (const char *const[]){ "message", "x", NULL }, 1,
	    NULL);
	EXPECT_STATUS(st, 400, iweb_last(w1));
	/* The API. */
	st = post_json(&r, "/api/v1/senders/allow", token_write,
	    "{\"sender\": \"promo@cold.example\"}");
	EXPECT(st == 200 && strstr(r.body, "\"allowed\":true") != NULL &&
	    sql_num("SELECT count(*) FROM sender_categories WHERE user_id = $1 AND "
	    "sender = 'promo@cold.example' AND category IS NULL", 1,
	    (const char *[]){ uid1 }) == 1, &r, "allowed by address");
	st = post_json(&r, "/api/v1/senders/allow", token_write, "{\"sender\": \"nonsense\"}");
	EXPECT(st == 400 && strstr(r.body, "\"sender\"") != NULL, &r, "not an address");
	st = post_json(&r, "/api/v1/senders/allow", token_write,
	    "{\"sender\": \"a@b.example\", \"message_id\": 1}");
	EXPECT_STATUS(st, 400, &r);
	v = itest_asprintf("{\"message_id\": %s}", bob);
	st = post_json(&r, "/api/v1/senders/allow", token_write, v);
	EXPECT_STATUS(st, 404, &r);
	free(v);
	EXPECT(sql_num("SELECT count(*) FROM sender_categories WHERE sender IN "
	    "('nonsense', 'a@b.example', 'bob@example.net')", 0, NULL) == 0, NULL,
	    "nothing stored for refused requests");
	free(bob);
	free(path);
	free(tid);
	free(s0);
	itest_response_free(&r);
}

static void
test_reply_tracking(void)
{
	struct itest_response r = { 0 };
	char *late, *fresh, *owed, *path, *row;
	json_t *doc, *reply;
	const char *p;
	long st;

	seed();
	late = itest_asprintf("%" PRId64, seed_thread(17, 0, NULL));
	fresh = itest_asprintf("%" PRId64, seed_thread(19, 0, NULL));
	owed = itest_asprintf("%" PRId64, seed_thread(21, 0, NULL));
	iweb_sql_value("UPDATE mail_threads SET category = 'awaiting-reply', reply_state = "
	    "'awaiting', reply_since = now() - interval '3 days 2 hours', follow_up = true "
	    "WHERE id = $1 RETURNING id", 1, (const char *[]){ late });
	iweb_sql_value("UPDATE mail_threads SET category = 'awaiting-reply', reply_state = "
	    "'awaiting', reply_since = now() - interval '1 hour', follow_up = false "
	    "WHERE id = $1 RETURNING id", 1, (const char *[]){ fresh });
	iweb_sql_value("UPDATE mail_threads SET category = 'to-respond', reply_state = 'owed', "
	    "reply_since = now() - interval '30 hours' WHERE id = $1 RETURNING id", 1,
	    (const char *[]){ owed });
	st = iweb_get(w1, "/inbox?category=awaiting-reply");
	EXPECT(st == 200 && iweb_body_has(w1, "Awaiting reply · 3 days") &&
	    iweb_body_has(w1, "Awaiting reply · since today"), iweb_last(w1), "the ages");
	row = itest_asprintf("id=\"row-%s\"", late);
	p = strstr(w1->last.body, row);
	EXPECT(p != NULL && strstr(p, "border-l-4") != NULL && strstr(p, "border-l-4") <
	    strstr(p, "</li>") && strstr(p, ">Follow up<") < strstr(p, "</li>"), iweb_last(w1),
	    "the thread to follow up stands out");
	free(row);
	row = itest_asprintf("id=\"row-%s\"", fresh);
	p = strstr(w1->last.body, row);
	EXPECT(p != NULL && (strstr(p, "border-l-4") == NULL || strstr(p, "border-l-4") >
	    strstr(p, "</li>")), iweb_last(w1), "a fresh one does not");
	free(row);
	st = iweb_get(w1, "/inbox?category=to-respond");
	EXPECT(st == 200 && iweb_body_has(w1, "To respond · 1 day"), iweb_last(w1),
	    "what the user owes, with its age");
	p = strstr(w1->last.body, "data-category=\"awaiting-reply\"");
	row = strdup("<span class=\"follow-up-count ");
	EXPECT(p != NULL && strstr(p, row) != NULL && strstr(p, row) < strstr(p, "</a>") &&
	    strtol(strchr(strstr(strstr(p, row), "<span>"), '>') + 1, NULL, 10) ==
	    (long)sql_num("SELECT count(*) FROM mail_threads WHERE user_id = $1 AND "
	    "reply_state = 'awaiting' AND follow_up", 1, (const char *[]){ uid1 }),
	    iweb_last(w1), "the navigation counts the threads to follow up");
	free(row);
	path = itest_asprintf("/api/v1/threads/%s", late);
	st = get_token(&r, path, token_read);
	doc = itest_json(&r, NULL, 0);
	reply = json_object_get(doc, "reply");
	EXPECT(st == 200 && strcmp(json_string_value(json_object_get(reply, "state")) ?
	    json_string_value(json_object_get(reply, "state")) : "", "awaiting") == 0 &&
	    json_integer_value(json_object_get(reply, "days")) == 3 &&
	    json_is_true(json_object_get(reply, "follow_up")) &&
	    json_is_string(json_object_get(reply, "since")), &r, "the API's reply tracking");
	json_decref(doc);
	free(path);
	free(late);
	free(fresh);
	free(owed);
	itest_response_free(&r);
}

int
main(int argc, char **argv)
{
	static const struct itest_case tests[] = {
		{ "list", "every thread once, newest first", test_inbox_walk, 0 },
		{ "list", "filters and categories", test_filters, 0 },
		{ "search", "operators give exactly the expected threads", test_search, 0 },
		{ "search", "bad queries and cursors", test_bad_input, 0 },
		{ "owner", "another user's ids are not found", test_other_users, 0 },
		{ "thread", "thread view and sandboxed body", test_thread_and_body, 0 },
		{ "api", "JSON shapes and scope", test_json_shapes, 0 },
		{ "triage", "recategorize from the page: stored, learned, counted",
		    test_recat_page, 0 },
		{ "triage", "recategorize with htmx: the parts shown are redrawn", test_recat_htmx,
		    0 },
		{ "triage", "apply to the sender; refusals change nothing",
		    test_recat_sender_and_refusals, 0 },
		{ "triage", "recategorize through the API, the decision and the counts",
		    test_recat_api, 0 },
		{ "triage", "the reasons on demand", test_reasons_shown, 0 },
		{ "triage", "a first-time sender allowed", test_screening_allow, 0 },
		{ "triage", "reply tracking: ages and follow-up", test_reply_tracking, 0 },
	};
	unsigned failed;

	itest_init();
	if (iweb_db() == NULL) {
		fprintf(stderr, "test-mail: DATABASE_URL is needed to seed mail\n");
		return 1;
	}
	failed = itest_run(argc, argv, tests, sizeof(tests) / sizeof(tests[0]));
	itest_cleanup();
	return failed > 0 ? 1 : 0;
}
