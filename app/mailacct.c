/* mailacct.c: a user's connected mail accounts (mailacct.h). Plain libpq with $n
 * parameters, so that the worker, the CLI and the FastCGI handlers (through db_conn_pg)
 * share it; every statement names the owner. The secret is sealed by the vault bound to
 * the row and its user, and opened only by mailacct_load with a vault. */
#include "config.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <sodium.h>

#include "jobs.h"
#include "mailacct.h"
#include "pq.h"
#include "util.h"
#include "vault.h"

#define MAILACCT_TABLE "mail_accounts"

static const char *const mailacct_security_names[] = {
	[IMAP_SECURITY_TLS] = "tls",
	[IMAP_SECURITY_STARTTLS] = "starttls",
	[IMAP_SECURITY_NONE] = "none",
};

static const char *const mailacct_auth_names[] = {
	[IMAP_AUTH_AUTO] = "auto",
	[IMAP_AUTH_LOGIN] = "login",
	[IMAP_AUTH_PLAIN] = "plain",
	[IMAP_AUTH_XOAUTH2] = "xoauth2",
};

static const char *const mailacct_states[] = {
	"new", "syncing", "idle", "error", "disabled",
};

/* The columns mailacct_list reads, in this order. */
#define MAILACCT_INFO_COLUMNS \
	"a.id, a.user_id, u.email, a.provider, a.address, a.display_name, " \
	"coalesce(a.settings->>'host', ''), coalesce(a.settings->>'port', '0'), " \
	"coalesce(a.settings->>'security', ''), coalesce(a.settings->>'username', ''), " \
	"coalesce(a.settings->>'auth', ''), a.sync_state, " \
	MAILACCT_TS("a.last_sync_at") ", a.last_error, " MAILACCT_TS("a.last_error_at") ", " \
	MAILACCT_TS("a.created_at") ", " \
	"(SELECT count(*) FROM mail_messages m WHERE m.account_id = a.id " \
	"AND m.user_id = a.user_id), " \
	"(SELECT count(*) FROM mail_folders f WHERE f.account_id = a.id " \
	"AND f.user_id = a.user_id), " \
	"EXISTS (SELECT 1 FROM jobs j WHERE j.unique_key = 'sync:' || a.id " \
	"AND j.user_id = a.user_id AND j.dead_at IS NULL) "
#define MAILACCT_TS(col) \
	"to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

const char *
mailacct_security_name(enum imap_security s)
{
	if ((size_t)s >= MR_ARRAY_LEN(mailacct_security_names))
		return "";
	return mailacct_security_names[s];
}

const char *
mailacct_auth_name(enum imap_auth a)
{
	if ((size_t)a >= MR_ARRAY_LEN(mailacct_auth_names))
		return "";
	return mailacct_auth_names[a];
}

/* The index of name in names[0..n), or -1. */
static int
mailacct_lookup(const char *const *names, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++) {
		if (strcmp(names[i], name) == 0)
			return (int)i;
	}
	return -1;
}

/* Runs sql; returns the result when it succeeded, else NULL with the database's message
 * in err. */
static PGresult *
mailacct_sql(PGconn *c, const char *sql, int n, const char *const *params, char *err,
    size_t errlen)
{
	return pq_exec(c, "mail accounts: database", sql, n, params, err, errlen);
}

/* Runs a statement whose rows do not matter; returns the affected rows or -1. */
static long
mailacct_run(PGconn *c, const char *sql, int n, const char *const *params, char *err,
    size_t errlen)
{
	return pq_run(c, "mail accounts: database", sql, n, params, err, errlen);
}

static void
mailacct_rollback(PGconn *c)
{
	PGresult *r = PQexec(c, "ROLLBACK");

	PQclear(r);
}

/* The port a connection uses when the settings leave it 0. */
static int
mailacct_port(const struct imap_settings *s)
{
	if (s->port > 0)
		return s->port;
	return s->security == IMAP_SECURITY_TLS ? 993 : 143;
}

/* Seals secret for row id of user_id as a bytea parameter; NULL with a message in err. */
static char *
mailacct_seal(const struct vault *v, int64_t user_id, int64_t id, const char *secret,
    char *err, size_t errlen)
{
	unsigned char *ct;
	size_t ctlen;
	char *param;

	if (v == NULL) {
		snprintf(err, errlen, "the vault has no keys: passwords cannot be stored "
		    "(set MAILROOM_VAULT_KEY_FILE, see doc/vault.md)");
		return NULL;
	}
	if (vault_seal(v, MAILACCT_TABLE, id, user_id, secret, strlen(secret), &ct,
	    &ctlen) == -1) {
		snprintf(err, errlen, "the vault could not seal the password");
		return NULL;
	}
	param = vault_bytea_param(ct, ctlen);
	free(ct);
	return param;
}

/* The settings column: the IMAP settings without the secret. */
static char *
mailacct_settings_json(const struct imap_settings *s)
{
	json_t *j = json_pack("{s:s, s:i, s:s, s:s, s:s}", "host", s->host, "port",
	    mailacct_port(s), "security", mailacct_security_name(s->security), "username",
	    s->username, "auth", mailacct_auth_name(s->auth));
	char *text;

	if (j == NULL)
		fatal("out of memory");
	text = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	if (text == NULL)
		fatal("out of memory");
	return text;
}

int64_t
mailacct_create(PGconn *c, const struct vault *v, int64_t user_id, const char *address,
    const char *display_name, const struct imap_settings *s, char *err, size_t errlen)
{
	char uid[24], sid[24], *settings = NULL, *cred = NULL;
	const char *p[6];
	PGresult *r;
	int64_t id = -1;

	if (user_id <= 0 || address == NULL || *address == '\0' || s == NULL ||
	    s->host == NULL || *s->host == '\0' || s->username == NULL ||
	    (size_t)s->security >= MR_ARRAY_LEN(mailacct_security_names) ||
	    (size_t)s->auth >= MR_ARRAY_LEN(mailacct_auth_names) || s->port < 0 ||
	    s->port > 65535) {
		snprintf(err, errlen, "mail accounts: incomplete account settings");
		return -1;
	}
	/* The id first, so that the seal can name the row it belongs to: the row and its
	 * sealed secret are then written by one INSERT. */
	r = mailacct_sql(c, "SELECT nextval(pg_get_serial_sequence('mail_accounts', 'id'))",
	    0, NULL, err, errlen);
	if (r == NULL)
		return -1;
	id = (int64_t)strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	if (s->secret != NULL &&
	    (cred = mailacct_seal(v, user_id, id, s->secret, err, errlen)) == NULL)
		return -1;
	settings = mailacct_settings_json(s);
	snprintf(sid, sizeof sid, "%" PRId64, id);
	snprintf(uid, sizeof uid, "%" PRId64, user_id);
	p[0] = sid;
	p[1] = uid;
	p[2] = address;
	p[3] = display_name != NULL ? display_name : "";
	p[4] = settings;
	p[5] = cred;
	r = mailacct_sql(c, "INSERT INTO mail_accounts (id, user_id, provider, address, "
	    "display_name, settings, credentials) OVERRIDING SYSTEM VALUE "
	    "VALUES ($1, $2, 'imap', $3, $4, $5::jsonb, $6::bytea) "
	    "ON CONFLICT (user_id, address, provider) DO NOTHING RETURNING id", 6, p, err,
	    errlen);
	free(settings);
	if (cred != NULL) {
		sodium_memzero(cred, strlen(cred));
		free(cred);
	}
	if (r == NULL)
		return -1;
	if (PQntuples(r) == 0)
		id = 0;
	PQclear(r);
	return id;
}

static char *
mailacct_strdup_col(PGresult *r, int row, int col)
{
	if (PQgetisnull(r, row, col))
		return NULL;
	return xstrdup(PQgetvalue(r, row, col));
}

/* Opens the credentials column (text form) of account a into a->imap.secret. */
static int
mailacct_open_secret(const struct vault *v, struct mailacct *a, const char *text,
    char *err, size_t errlen)
{
	unsigned char *ct, *pt;
	size_t ctlen, ptlen;
	int rc;

	if (vault_bytea_value(text, &ct, &ctlen) == -1) {
		snprintf(err, errlen, "account %" PRId64 ": the stored password is not a sealed "
		    "value", a->id);
		return -1;
	}
	rc = vault_open(v, MAILACCT_TABLE, a->id, a->user_id, ct, ctlen, &pt, &ptlen);
	free(ct);
	if (rc == -1) {
		snprintf(err, errlen, "account %" PRId64 ": the stored password cannot be "
		    "opened (altered, or sealed with a key this vault does not have)", a->id);
		return -1;
	}
	a->imap.secret = xstrndup((const char *)pt, ptlen);
	vault_plain_free(pt, ptlen);
	return 0;
}

int
mailacct_load(PGconn *c, const struct vault *v, int64_t user_id, int64_t id,
    struct mailacct *out, char *err, size_t errlen)
{
	char sid[24], uid[24];
	const char *p[2] = { sid, uid };
	const char *sec, *auth;
	PGresult *r;
	int64_t port;
	int i;

	memset(out, 0, sizeof *out);
	if (user_id <= 0 || id <= 0)
		return 0;
	snprintf(sid, sizeof sid, "%" PRId64, id);
	snprintf(uid, sizeof uid, "%" PRId64, user_id);
	r = mailacct_sql(c, "SELECT provider, address, display_name, "
	    "coalesce(settings->>'host', ''), coalesce(settings->>'port', '0'), "
	    "coalesce(settings->>'security', 'tls'), coalesce(settings->>'username', ''), "
	    "coalesce(settings->>'auth', 'auto'), credentials, "
	    "coalesce(backfill_messages, 0), coalesce(backfill_days, 0), sync_state, last_error "
	    "FROM mail_accounts WHERE id = $1 AND user_id = $2", 2, p, err, errlen);
	if (r == NULL)
		return -1;
	if (PQntuples(r) == 0) {
		PQclear(r);
		return 0;
	}
	out->id = id;
	out->user_id = user_id;
	snprintf(out->provider, sizeof out->provider, "%s", PQgetvalue(r, 0, 0));
	out->address = xstrdup(PQgetvalue(r, 0, 1));
	out->display_name = xstrdup(PQgetvalue(r, 0, 2));
	out->imap.host = xstrdup(PQgetvalue(r, 0, 3));
	if (util_parse_int64(PQgetvalue(r, 0, 4), 0, 65535, &port) == -1)
		port = -1;
	out->imap.port = (int)port;
	sec = PQgetvalue(r, 0, 5);
	auth = PQgetvalue(r, 0, 7);
	out->imap.username = xstrdup(PQgetvalue(r, 0, 6));
	out->backfill_messages = atoi(PQgetvalue(r, 0, 9));
	out->backfill_days = atoi(PQgetvalue(r, 0, 10));
	snprintf(out->sync_state, sizeof out->sync_state, "%s", PQgetvalue(r, 0, 11));
	out->last_error = mailacct_strdup_col(r, 0, 12);
	out->imap.ca_file = mr_config.imap_ca_file;
	out->imap.timeout = mr_config.imap_timeout;
	out->imap.allow_private = mr_config.imap_allow_private;
	if (strcmp(out->provider, "imap") == 0) {
		if ((i = mailacct_lookup(mailacct_security_names,
		    MR_ARRAY_LEN(mailacct_security_names), sec)) < 0 || port < 0) {
			snprintf(err, errlen, "account %" PRId64 ": invalid stored settings", id);
			goto fail;
		}
		out->imap.security = (enum imap_security)i;
		if ((i = mailacct_lookup(mailacct_auth_names, MR_ARRAY_LEN(mailacct_auth_names),
		    auth)) < 0) {
			snprintf(err, errlen, "account %" PRId64 ": invalid stored settings", id);
			goto fail;
		}
		out->imap.auth = (enum imap_auth)i;
	}
	if (v != NULL && !PQgetisnull(r, 0, 8) &&
	    mailacct_open_secret(v, out, PQgetvalue(r, 0, 8), err, errlen) == -1)
		goto fail;
	PQclear(r);
	return 1;
fail:
	PQclear(r);
	mailacct_free(out);
	return -1;
}

void
mailacct_free(struct mailacct *a)
{
	if (a == NULL)
		return;
	/* The settings' strings are const for imap.c's sake; here they are ours. */
	if (a->imap.secret != NULL) {
		char *s = (char *)(uintptr_t)a->imap.secret;

		sodium_memzero(s, strlen(s));
		free(s);
	}
	free((char *)(uintptr_t)a->imap.host);
	free((char *)(uintptr_t)a->imap.username);
	free(a->address);
	free(a->display_name);
	free(a->last_error);
	memset(a, 0, sizeof *a);
}

/* error cut to at most max bytes at a character boundary, with every byte that is not
 * valid UTF-8 (servers send anything) or a control character replaced by '?'. */
static char *
mailacct_clean_text(const char *s, size_t max)
{
	size_t n = strlen(s), i = 0, o = 0, k;
	char *out = xmalloc((n < max ? n : max) + 1);
	uint32_t cp;

	while (i < n) {
		k = util_utf8_decode((const unsigned char *)s + i, n - i, &cp);
		if (k == 0 || (cp < 0x20 && cp != '\n' && cp != '\t') || cp == 0x7f ||
		    (cp >= 0x80 && cp < 0xa0)) {
			k = k == 0 ? 1 : k;
			if (o + 1 > max)
				break;
			out[o++] = '?';
			i += k;
			continue;
		}
		if (o + k > max)
			break;
		memcpy(out + o, s + i, k);
		o += k;
		i += k;
	}
	out[o] = '\0';
	return out;
}

int
mailacct_set_state(PGconn *c, int64_t user_id, int64_t id, const char *state,
    const char *error)
{
	char sid[24], uid[24], err[512], *msg = NULL;
	const char *p[4];
	long rows;

	if (state == NULL || mailacct_lookup(mailacct_states, MR_ARRAY_LEN(mailacct_states),
	    state) < 0) {
		log_err("account %" PRId64 ": invalid sync state", id);
		return -1;
	}
	if (error != NULL)
		msg = mailacct_clean_text(error, MAILACCT_ERROR_MAX);
	snprintf(sid, sizeof sid, "%" PRId64, id);
	snprintf(uid, sizeof uid, "%" PRId64, user_id);
	p[0] = sid;
	p[1] = uid;
	p[2] = state;
	p[3] = msg;
	rows = mailacct_run(c, "UPDATE mail_accounts SET sync_state = $3, last_error = $4, "
	    "last_sync_at = CASE WHEN $3 = 'idle' THEN now() ELSE last_sync_at END, "
	    "last_error_at = CASE WHEN $3 = 'error' THEN now() ELSE last_error_at END "
	    "WHERE id = $1 AND user_id = $2", 4, p, err, sizeof err);
	free(msg);
	if (rows < 0) {
		log_err("account %" PRId64 ": %s", id, err);
		return -1;
	}
	/* An account removed while it was syncing has nothing left to record. */
	return 0;
}

int
mailacct_set_secret(PGconn *c, const struct vault *v, int64_t user_id, int64_t id,
    const char *secret, char *err, size_t errlen)
{
	char sid[24], uid[24], *cred;
	const char *p[3];
	long rows;

	if (user_id <= 0 || id <= 0)
		return 0;
	if ((cred = mailacct_seal(v, user_id, id, secret, err, errlen)) == NULL)
		return -1;
	snprintf(sid, sizeof sid, "%" PRId64, id);
	snprintf(uid, sizeof uid, "%" PRId64, user_id);
	p[0] = sid;
	p[1] = uid;
	p[2] = cred;
	/* A new password is a new start: the next sync reports on it. */
	rows = mailacct_run(c, "UPDATE mail_accounts SET credentials = $3::bytea, "
	    "sync_state = CASE WHEN sync_state = 'error' THEN 'new' ELSE sync_state END, "
	    "last_error = NULL WHERE id = $1 AND user_id = $2", 3, p, err, errlen);
	sodium_memzero(cred, strlen(cred));
	free(cred);
	if (rows < 0)
		return -1;
	return rows > 0;
}

int
mailacct_delete(PGconn *c, int64_t user_id, int64_t id, char *err, size_t errlen)
{
	char sid[24], uid[24];
	const char *p[2] = { sid, uid };
	long rows;

	if (user_id <= 0 || id <= 0)
		return 0;
	snprintf(sid, sizeof sid, "%" PRId64, id);
	snprintf(uid, sizeof uid, "%" PRId64, user_id);
	if (mailacct_run(c, "BEGIN", 0, NULL, err, errlen) < 0)
		return -1;
	/* Folders, messages, threads and attachments go by cascade; the account's jobs are
	 * named by their payload (a running sync then finds its lease lost). */
	rows = mailacct_run(c, "DELETE FROM mail_accounts WHERE id = $1 AND user_id = $2", 2,
	    p, err, errlen);
	if (rows > 0 && mailacct_run(c, "DELETE FROM jobs WHERE user_id = $2 "
	    "AND (unique_key = 'sync:' || $1 OR payload->>'account_id' = $1)", 2, p, err,
	    errlen) < 0)
		rows = -1;
	if (rows < 0) {
		mailacct_rollback(c);
		return -1;
	}
	if (mailacct_run(c, "COMMIT", 0, NULL, err, errlen) < 0) {
		mailacct_rollback(c);
		return -1;
	}
	return rows > 0;
}

static void
mailacct_info_fill(struct mailacct_info *a, PGresult *r, int row)
{
	int64_t port;

	a->id = (int64_t)strtoll(PQgetvalue(r, row, 0), NULL, 10);
	a->user_id = (int64_t)strtoll(PQgetvalue(r, row, 1), NULL, 10);
	a->user_email = xstrdup(PQgetvalue(r, row, 2));
	snprintf(a->provider, sizeof a->provider, "%s", PQgetvalue(r, row, 3));
	a->address = xstrdup(PQgetvalue(r, row, 4));
	a->display_name = xstrdup(PQgetvalue(r, row, 5));
	a->host = xstrdup(PQgetvalue(r, row, 6));
	if (util_parse_int64(PQgetvalue(r, row, 7), 0, 65535, &port) == -1)
		port = 0;
	a->port = (int)port;
	snprintf(a->security, sizeof a->security, "%s", PQgetvalue(r, row, 8));
	a->username = xstrdup(PQgetvalue(r, row, 9));
	snprintf(a->auth, sizeof a->auth, "%s", PQgetvalue(r, row, 10));
	snprintf(a->sync_state, sizeof a->sync_state, "%s", PQgetvalue(r, row, 11));
	a->last_sync_at = mailacct_strdup_col(r, row, 12);
	a->last_error = mailacct_strdup_col(r, row, 13);
	a->last_error_at = mailacct_strdup_col(r, row, 14);
	a->created_at = xstrdup(PQgetvalue(r, row, 15));
	a->messages = (int64_t)strtoll(PQgetvalue(r, row, 16), NULL, 10);
	a->folders = (int64_t)strtoll(PQgetvalue(r, row, 17), NULL, 10);
	a->sync_queued = strcmp(PQgetvalue(r, row, 18), "t") == 0;
}

long
mailacct_list(PGconn *c, int64_t user_id, int64_t id, struct mailacct_info **out,
    char *err, size_t errlen)
{
	char sid[24], uid[24];
	const char *p[2] = { uid, sid };
	PGresult *r;
	long n;

	*out = NULL;
	if (user_id < 0 || id < 0)
		return 0;
	snprintf(sid, sizeof sid, "%" PRId64, id);
	snprintf(uid, sizeof uid, "%" PRId64, user_id);
	r = mailacct_sql(c, "SELECT " MAILACCT_INFO_COLUMNS
	    "FROM mail_accounts a JOIN users u ON u.id = a.user_id "
	    "WHERE ($1::bigint = 0 OR a.user_id = $1::bigint) "
	    "AND ($2::bigint = 0 OR a.id = $2::bigint) ORDER BY a.user_id, a.id", 2, p, err,
	    errlen);
	if (r == NULL)
		return -1;
	n = PQntuples(r);
	if (n > 0) {
		*out = xcalloc((size_t)n, sizeof **out);
		for (long i = 0; i < n; i++)
			mailacct_info_fill(&(*out)[i], r, (int)i);
	}
	PQclear(r);
	return n;
}

void
mailacct_list_free(struct mailacct_info *l, long n)
{
	if (l == NULL)
		return;
	for (long i = 0; i < n; i++) {
		free(l[i].user_email);
		free(l[i].address);
		free(l[i].display_name);
		free(l[i].host);
		free(l[i].username);
		free(l[i].last_sync_at);
		free(l[i].last_error);
		free(l[i].last_error_at);
		free(l[i].created_at);
	}
	free(l);
}

int64_t
mailacct_queue_sync(PGconn *c, int64_t user_id, int64_t id, char *err, size_t errlen)
{
	char payload[64], key[40];

	snprintf(payload, sizeof payload, "{\"account_id\": %" PRId64 "}", id);
	snprintf(key, sizeof key, "sync:%" PRId64, id);
	return jobs_enqueue(c, "sync", payload, user_id, key, 0, MAILACCT_SYNC_ATTEMPTS, err,
	    errlen);
}

/* --- Input checks ------------------------------------------------------------------ */

/* A host name or an IPv4 or IPv6 address as typed: letters, digits, '.', '-', '_' and
 * ':', not starting with a dot, a dash or a colon. A scheme ("imaps://") or a port
 * ("host:993") cannot be mistaken for one: ':' needs two of them (IPv6). */
static int
mailacct_host_ok(const char *h)
{
	size_t n = strlen(h), colons = 0;

	if (n == 0 || n > 253 || *h == '.' || *h == '-')
		return 0;
	for (const char *p = h; *p != '\0'; p++) {
		if (*p == ':')
			colons++;
		else if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '.' || *p == '-' || *p == '_'))
			return 0;
	}
	return colons == 0 || colons >= 2;
}

/* Something like local@domain, 3 to 254 characters without spaces or controls. */
static int
mailacct_address_ok(const char *a)
{
	long chars = util_text_chars(a);
	const char *at = strrchr(a, '@');

	return chars >= 3 && strlen(a) <= 254 && at != NULL && at != a && at[1] != '\0' &&
	    strpbrk(a, " \t") == NULL;
}

/* name in names[0..n) with "" meaning the first; -1 when it is none of them. */
static int
mailacct_choice(const char *const *names, size_t n, const char *name)
{
	if (name == NULL || *name == '\0')
		return 0;
	return mailacct_lookup(names, n, name);
}

int
mailacct_check(const struct mailacct_input *in, int need_account, struct imap_settings *s,
    void (*bad)(void *arg, const char *field, const char *message), void *arg)
{
	const char *host = in->host != NULL ? in->host : "";
	const char *user = in->username != NULL ? in->username : "";
	int64_t port = 0;
	long chars;
	int nbad = 0, sec, auth;

	memset(s, 0, sizeof *s);
	if (need_account) {
		if (in->address == NULL || !mailacct_address_ok(in->address)) {
			bad(arg, "address", "Enter the mailbox's email address, like "
			    "ada@example.org.");
			nbad++;
		}
		chars = util_text_chars(in->display_name != NULL ? in->display_name : "");
		if (chars < 0 || chars > 200) {
			bad(arg, "display_name", "At most 200 characters, without control "
			    "characters.");
			nbad++;
		}
	}
	if (*host == '\0') {
		bad(arg, "host", "Enter the IMAP server's name, like imap.example.org.");
		nbad++;
	} else if (!mailacct_host_ok(host)) {
		bad(arg, "host", "A server name (imap.example.org) or an IP address, without "
		    "a scheme or a port.");
		nbad++;
	}
	if (in->port != NULL && *in->port != '\0' &&
	    util_parse_int64(in->port, 1, 65535, &port) == -1) {
		bad(arg, "port", "A port number from 1 to 65535, or empty for the usual one "
		    "(993 with TLS, 143 otherwise).");
		nbad++;
	}
	if ((sec = mailacct_choice(mailacct_security_names,
	    MR_ARRAY_LEN(mailacct_security_names), in->security)) < 0) {
		bad(arg, "security", "Choose tls, starttls or none.");
		nbad++;
	}
	/* XOAUTH2 takes a token from a sign-in flow, not something typed. */
	if ((auth = mailacct_choice(mailacct_auth_names, MR_ARRAY_LEN(mailacct_auth_names),
	    in->auth)) < 0 || auth == IMAP_AUTH_XOAUTH2) {
		bad(arg, "auth", "Choose auto, login or plain.");
		nbad++;
	}
	chars = util_text_chars(user);
	if (chars < 0 || strlen(user) > 254) {
		bad(arg, "username", "At most 254 characters, without control characters.");
		nbad++;
	}
	if (in->secret == NULL || *in->secret == '\0') {
		bad(arg, "secret", "Enter the mailbox's password (or an app password).");
		nbad++;
	} else if (strlen(in->secret) > MAILACCT_SECRET_MAX) {
		bad(arg, "secret", "The password is at most 1024 bytes.");
		nbad++;
	} else if (strpbrk(in->secret, "\r\n") != NULL) {
		bad(arg, "secret", "The password cannot contain line breaks.");
		nbad++;
	}
	if (nbad > 0)
		return nbad;
	s->host = host;
	s->port = (int)port;
	s->security = (enum imap_security)sec;
	s->username = *user != '\0' ? user : in->address;
	s->auth = (enum imap_auth)auth;
	s->secret = in->secret;
	s->ca_file = mr_config.imap_ca_file;
	s->timeout = mr_config.imap_timeout;
	s->allow_private = mr_config.imap_allow_private;
	if (s->username == NULL || *s->username == '\0') {
		bad(arg, "username", "Enter the user name the server knows you by.");
		return 1;
	}
	return 0;
}
