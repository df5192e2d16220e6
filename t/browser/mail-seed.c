/* mail-seed.c: gives a user of the browser tests' stack some mail, through ingest_message
 * as a sync would store it: a mail account, an inbox, 55 one-message threads (more than a
 * page of the inbox), a two-message thread, and a message whose HTML body and subject are
 * full of XSS. t/browser/mail.test.mjs signs a user up and runs
 *
 *   DATABASE_URL=... mail-seed EMAIL
 *
 * which prints {"account": ID, "xss": {"thread": ID, "message": ID}, "pair": {...},
 * "threads": N} on standard output. Exits 1 with a message when anything fails. */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <libpq-fe.h>

#include "ingest.h"
#include "util.h"

#define SEED_PLAIN 55
/* 2026-01-05T09:00:00Z, and a minute between messages. */
#define SEED_BASE INT64_C(1767603600)

static PGconn *conn;

static void
die(const char *what, const char *why)
{
	fprintf(stderr, "mail-seed: %s: %s\n", what, why);
	exit(1);
}

/* The first value of a one-row query. */
static char *
one(const char *sql, int n, const char *const *params)
{
	PGresult *r = PQexecParams(conn, sql, n, NULL, params, NULL, NULL, 0);
	char *v;

	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
		die(sql, PQntuples(r) == 0 ? "no row" : PQerrorMessage(conn));
	v = strdup(PQgetvalue(r, 0, 0));
	PQclear(r);
	if (v == NULL)
		die("strdup", "out of memory");
	return v;
}

/* Stores one message (Message-ID <id@browser.example>); returns its row id and its
 * thread in *thread. */
static int64_t
store(const char *user, const char *account, const char *folder, const char *id,
    int64_t date, const char *raw, int64_t *thread)
{
	static const char *const self[] = { "me@example.org", NULL };
	static const char *const seen[] = { "\\Seen", NULL };
	static uint32_t uid;	/* the next UID of the folder */
	char err[512], mid[64];
	int inserted;
	int64_t row;
	PGresult *r;

	if (ingest_message(conn, strtoll(user, NULL, 10), strtoll(account, NULL, 10),
	    strtoll(folder, NULL, 10), ++uid, raw, strlen(raw), date % 120 ? NULL : seen, date,
	    self, &inserted, err, sizeof(err)) != 0)
		die("ingest", err);
	snprintf(mid, sizeof(mid), "%s@browser.example", id);
	r = PQexecParams(conn, "SELECT id, thread_id FROM mail_messages WHERE user_id = $1 "
	    "AND account_id = $2 AND message_id = $3", 3, NULL,
	    (const char *[]){ user, account, mid }, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
		die(mid, "not stored");
	row = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	*thread = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
	PQclear(r);
	return row;
}

static char *
message(const char *id, int64_t date, const char *from, const char *subject,
    const char *extra_headers, const char *body)
{
	char when[64];
	time_t t = (time_t)date;
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(when, sizeof(when), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	return xasprintf("Message-ID: <%s@browser.example>\r\nDate: %s\r\nFrom: %s\r\n"
	    "To: Me <me@example.org>\r\nSubject: %s\r\nMIME-Version: 1.0\r\n%s%s", id, when,
	    from, subject, extra_headers, body);
}

int
main(int argc, char **argv)
{
	const char *url = getenv("DATABASE_URL");
	char *user, *account, *folder, *raw, id[32], subject[64];
	int64_t xss_msg, xss_thread, pair_msg, pair_thread, t;

	if (argc != 2 || url == NULL || *url == '\0') {
		fprintf(stderr, "usage: DATABASE_URL=... mail-seed EMAIL\n");
		return 2;
	}
	conn = PQconnectdb(url);
	if (PQstatus(conn) != CONNECTION_OK)
		die("DATABASE_URL", PQerrorMessage(conn));
	user = one("SELECT id FROM users WHERE email = $1", 1, (const char *[]){ argv[1] });
	account = one("INSERT INTO mail_accounts (user_id, address, provider) VALUES ($1, "
	    "'me@example.org', 'mbox') RETURNING id", 1, (const char *[]){ user });
	folder = one("INSERT INTO mail_folders (account_id, user_id, name, role) VALUES ($1, $2, "
	    "'INBOX', 'inbox') RETURNING id", 2, (const char *[]){ account, user });

	for (int i = 0; i < SEED_PLAIN; i++) {
		snprintf(id, sizeof(id), "plain-%d", i);
		snprintf(subject, sizeof(subject), "Weekly note %d", i);
		raw = message(id, SEED_BASE + i * 60, "Ada Lovelace <ada@example.org>", subject,
		    "Content-Type: text/plain; charset=utf-8\r\n\r\n", "A plain note.\r\n");
		store(user, account, folder, id, SEED_BASE + i * 60, raw, &t);
		free(raw);
	}
	raw = message("pair-1", SEED_BASE + 100 * 60, "Charles Babbage <charles@engine.example>",
	    "Engine plans", "Content-Type: text/plain; charset=utf-8\r\n\r\n",
	    "The plans are attached in my head.\r\n");
	store(user, account, folder, "pair-1", SEED_BASE + 100 * 60, raw, &t);
	free(raw);
	raw = message("pair-2", SEED_BASE + 101 * 60, "Ada Lovelace <ada@example.org>",
	    "Re: Engine plans", "In-Reply-To: <pair-1@browser.example>\r\n"
	    "References: <pair-1@browser.example>\r\n"
	    "Content-Type: text/plain; charset=utf-8\r\n\r\n", "Then send your head.\r\n");
	pair_msg = store(user, account, folder, "pair-2", SEED_BASE + 101 * 60, raw,
	    &pair_thread);
	free(raw);
	/* The newest: the XSS. Each of these would open a dialog, log an error or make a
	 * request if it survived the sanitizer or the frame's sandbox. */
	raw = message("xss", SEED_BASE + 200 * 60, "Mallory <mallory@evil.example>",
	    "Prize <img src=x onerror=alert('subject')>",
	    "Content-Type: multipart/alternative; boundary=\"b\"\r\n\r\n",
	    "--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nYou won (text).\r\n"
	    "--b\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
	    "<html><head><meta http-equiv=\"refresh\" content=\"0;url=javascript:alert('meta')\">"
	    "<style>body{background:url(https://tracker.example/bg.png)}</style></head><body>"
	    "<p id=\"xss-text\" style=\"color: #b91c1c\">You won a prize</p>"
	    "<script>alert('script')</script>"
	    "<img src=x onerror=\"alert('onerror')\">"
	    "<img src=\"https://tracker.example/pixel.gif\" alt=\"tracker\">"
	    "<img alt=\"dot\" src=\"data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAf"
	    "FcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==\">"
	    "<a href=\"javascript:alert('href')\">claim</a>"
	    "<svg><script>alert('svg')</script></svg><svg onload=\"alert('svgload')\"></svg>"
	    "<iframe src=\"javascript:alert('frame')\"></iframe>"
	    "<form action=\"/logout\" method=\"post\"><button>Claim</button></form>"
	    "<math><mtext><table><mglyph><style><img src=x onerror=alert('mxss')>"
	    "</style></mglyph></table></mtext></math>"
	    "<a href=\"https://example.org/\">a real link</a>"
	    "</body></html>\r\n--b--\r\n");
	xss_msg = store(user, account, folder, "xss", SEED_BASE + 200 * 60, raw, &xss_thread);
	free(raw);

	printf("{\"account\": %s, \"threads\": %d, \"xss\": {\"thread\": %" PRId64 ", "
	    "\"message\": %" PRId64 "}, \"pair\": {\"thread\": %" PRId64 ", \"message\": %"
	    PRId64 "}}\n", account, SEED_PLAIN + 2, xss_thread, xss_msg, pair_thread, pair_msg);
	free(user);
	free(account);
	free(folder);
	PQfinish(conn);
	return 0;
}
