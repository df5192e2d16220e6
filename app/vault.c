/* vault.c: sealing secrets at rest (vault.h): the key set and its parser, the ciphertext
 * format, the bytea helpers, and the re-sealing of every sealed column under a new key. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <sodium.h>

#include "db-migrate.h"
#include "util.h"
#include "vault.h"

/* A key set holds few keys: the current one and those still awaiting rotation. */
#define VAULT_KEYS_MAX 32
#define VAULT_FILE_MAX (64 * 1024)
/* PostgreSQL's identifier limit. */
#define VAULT_IDENT_MAX 63
#define VAULT_NONCE_BYTES crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define VAULT_TAG_BYTES crypto_aead_xchacha20poly1305_ietf_ABYTES
/* Domain separation: these keys seal nothing else, but the label costs nothing. */
#define VAULT_AD_LABEL "mailroom-vault"
#define VAULT_AD_MAX (sizeof(VAULT_AD_LABEL) + 2 + VAULT_KID_MAX + 1 + VAULT_IDENT_MAX + 16)

/* Every column the vault seals. A migration that adds one adds its row here, so that
 * rotate-key covers it. */
const struct vault_column vault_columns[] = {
	{ "user_secrets", "id", "user_id", "ciphertext" },
	{ "mail_accounts", "id", "user_id", "credentials" },
};
const size_t vault_columns_count = MR_ARRAY_LEN(vault_columns);

struct vault *vault_process;

struct vault_key {
	char		kid[VAULT_KID_MAX + 1];
	unsigned char	key[VAULT_KEY_BYTES];
};

struct vault {
	/* sodium_allocarray: guard pages, locked when the system allows it, read-only once
	 * loaded, zeroed by sodium_free. */
	struct vault_key	*keys;
	size_t			 nkeys;
};

static int
vault_kid_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}

static int
vault_kid_valid_n(const char *s, size_t n)
{
	if (n < 1 || n > VAULT_KID_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (!vault_kid_char(s[i]))
			return 0;
	}
	return 1;
}

int
vault_kid_is_valid(const char *s)
{
	return s != NULL && vault_kid_valid_n(s, strnlen(s, VAULT_KID_MAX + 1));
}

/* Table and column names go into the associated data and into rotate-key's SQL: only
 * plain lower-case identifiers. */
static int
vault_ident_ok(const char *s)
{
	size_t n;

	if (s == NULL || (n = strnlen(s, VAULT_IDENT_MAX + 1)) == 0 || n > VAULT_IDENT_MAX)
		return 0;
	if (!((s[0] >= 'a' && s[0] <= 'z') || s[0] == '_'))
		return 0;
	for (size_t i = 1; i < n; i++) {
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return 0;
	}
	return 1;
}

static const struct vault_key *
vault_find(const struct vault *v, const char *kid, size_t kidlen)
{
	for (size_t i = 0; i < v->nkeys; i++) {
		if (strlen(v->keys[i].kid) == kidlen && memcmp(v->keys[i].kid, kid, kidlen) == 0)
			return &v->keys[i];
	}
	return NULL;
}

/* Decodes the base64 of one key into key; -1 with the reason in err. The key text is
 * never copied into a message. */
static int
vault_parse_key(const char *b64, size_t len, unsigned char key[VAULT_KEY_BYTES],
    const char *loc, const char *kid, char *err, size_t errlen)
{
	static const int variants[] = { sodium_base64_VARIANT_ORIGINAL,
	    sodium_base64_VARIANT_ORIGINAL_NO_PADDING };
	unsigned char tmp[2 * VAULT_KEY_BYTES];
	const char *end;
	size_t binlen = 0;
	int rc = -1, decoded = 0;

	if (len > 2 * VAULT_KEY_B64_LEN) {
		snprintf(err, errlen, "%s: key \"%s\": too long: expected 32 bytes in standard "
		    "base64 (44 characters, as mailroom vault-keygen prints)", loc, kid);
		return -1;
	}
	for (size_t i = 0; i < MR_ARRAY_LEN(variants) && !decoded; i++) {
		if (sodium_base642bin(tmp, sizeof(tmp), b64, len, NULL, &binlen, &end,
		    variants[i]) == 0 && end == b64 + len)
			decoded = 1;
	}
	if (!decoded) {
		snprintf(err, errlen, "%s: key \"%s\": not standard base64 (expected 44 "
		    "characters of A-Z, a-z, 0-9, + and / ending in =)", loc, kid);
		goto out;
	}
	if (binlen != VAULT_KEY_BYTES) {
		snprintf(err, errlen, "%s: key \"%s\": %zu bytes, expected 32 (44 base64 "
		    "characters, as mailroom vault-keygen prints)", loc, kid, binlen);
		goto out;
	}
	if (sodium_is_zero(tmp, VAULT_KEY_BYTES)) {
		snprintf(err, errlen, "%s: key \"%s\": all zero bytes: not a random key", loc, kid);
		goto out;
	}
	memcpy(key, tmp, VAULT_KEY_BYTES);
	rc = 0;
out:
	sodium_memzero(tmp, sizeof(tmp));
	return rc;
}

/*
 * Parses key lines. In a file (is_file) entries are lines, named "PATH:LINE"; in a
 * variable they are separated by newlines or commas, named "NAME, entry N".
 */
static int
vault_parse(const char *text, size_t len, const char *origin, int is_file,
    struct vault **out, char *err, size_t errlen)
{
	struct vault_key *keys;
	struct vault *v;
	int lines[VAULT_KEYS_MAX];
	char loc[512];
	size_t n = 0, pos = 0;
	int lineno = 0;

	*out = NULL;
	if ((keys = sodium_allocarray(VAULT_KEYS_MAX, sizeof(*keys))) == NULL)
		fatal("cannot allocate guarded memory for the vault keys");
	while (pos < len) {
		size_t start = pos, end = pos, kidlen;
		const char *colon;

		while (end < len && text[end] != '\n' && (is_file || text[end] != ','))
			end++;
		pos = end + 1;
		lineno++;
		if (is_file)
			snprintf(loc, sizeof(loc), "%s:%d", origin, lineno);
		else
			snprintf(loc, sizeof(loc), "%s, entry %d", origin, lineno);
		while (start < end && (text[start] == ' ' || text[start] == '\t'))
			start++;
		while (end > start && (text[end - 1] == ' ' || text[end - 1] == '\t' ||
		    text[end - 1] == '\r'))
			end--;
		if (start == end || text[start] == '#')
			continue;

		if ((colon = memchr(text + start, ':', end - start)) == NULL) {
			snprintf(err, errlen, "%s: expected KID:BASE64KEY", loc);
			goto fail;
		}
		kidlen = (size_t)(colon - (text + start));
		if (!vault_kid_valid_n(text + start, kidlen)) {
			snprintf(err, errlen, "%s: the key id must be 1 to 16 characters of a-z, "
			    "0-9 and '-'", loc);
			goto fail;
		}
		for (size_t i = 0; i < n; i++) {
			if (strlen(keys[i].kid) == kidlen &&
			    memcmp(keys[i].kid, text + start, kidlen) == 0) {
				snprintf(err, errlen, "%s: key id \"%s\" appears twice (first on %s "
				    "%d)", loc, keys[i].kid, is_file ? "line" : "entry", lines[i]);
				goto fail;
			}
		}
		if (n == VAULT_KEYS_MAX) {
			snprintf(err, errlen, "%s: more than %d keys", loc, VAULT_KEYS_MAX);
			goto fail;
		}
		memcpy(keys[n].kid, text + start, kidlen);
		keys[n].kid[kidlen] = '\0';
		if (vault_parse_key(colon + 1, (size_t)(text + end - (colon + 1)), keys[n].key,
		    loc, keys[n].kid, err, errlen) == -1)
			goto fail;
		lines[n] = lineno;
		n++;
	}
	if (n == 0) {
		snprintf(err, errlen, "%s: no keys (expected lines KID:BASE64KEY; mailroom "
		    "vault-keygen prints one)", origin);
		goto fail;
	}
	if (sodium_mprotect_readonly(keys) != 0)
		fatal("cannot protect the vault keys: %s", strerror(errno));
	v = xcalloc(1, sizeof(*v));
	v->keys = keys;
	v->nkeys = n;
	*out = v;
	return 0;
fail:
	sodium_free(keys);
	return -1;
}

int
vault_load_string(struct vault **out, const char *text, const char *origin, char *err,
    size_t errlen)
{
	return vault_parse(text, strlen(text), origin, 0, out, err, errlen);
}

int
vault_load_file(struct vault **out, const char *path, char *err, size_t errlen)
{
	struct stat st;
	char *buf = NULL;
	size_t len = 0;
	ssize_t r;
	int fd, rc = -1;

	*out = NULL;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", path);
		goto out;
	}
	/* Only the owner may read or change the keys. */
	if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
		snprintf(err, errlen, "%s: group or others have access to the key file (mode "
		    "%04o): run chmod 600 %s", path, (unsigned)(st.st_mode & 07777), path);
		goto out;
	}
	buf = xmalloc(VAULT_FILE_MAX + 1);
	while (len <= VAULT_FILE_MAX) {
		r = read(fd, buf + len, VAULT_FILE_MAX + 1 - len);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1) {
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			goto out;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	if (len > VAULT_FILE_MAX) {
		snprintf(err, errlen, "%s: larger than %d KiB: not a key file", path,
		    VAULT_FILE_MAX / 1024);
		goto out;
	}
	rc = vault_parse(buf, len, path, 1, out, err, errlen);
out:
	if (buf != NULL) {
		sodium_memzero(buf, VAULT_FILE_MAX + 1);
		free(buf);
	}
	close(fd);
	return rc;
}

int
vault_load(struct vault **out, char *err, size_t errlen)
{
	*out = NULL;
	if (mr_config.vault_key_file != NULL) {
		if (vault_load_file(out, mr_config.vault_key_file, err, errlen) == -1)
			return -1;
		return 1;
	}
	if (mr_config.vault_keys != NULL) {
		if (vault_load_string(out, mr_config.vault_keys, "MAILROOM_VAULT_KEYS", err,
		    errlen) == -1)
			return -1;
		return 1;
	}
	return 0;
}

void
vault_free(struct vault *v)
{
	if (v == NULL)
		return;
	sodium_free(v->keys);
	free(v);
}

const char *
vault_current_kid(const struct vault *v)
{
	return v->keys[0].kid;
}

size_t
vault_key_count(const struct vault *v)
{
	return v->nkeys;
}

static void
vault_be64(unsigned char *p, uint64_t x)
{
	for (int i = 7; i >= 0; i--) {
		p[i] = (unsigned char)(x & 0xff);
		x >>= 8;
	}
}

/* The associated data: every field length-prefixed or fixed-size, so no two bindings
 * encode alike. */
static size_t
vault_ad(unsigned char ad[VAULT_AD_MAX], const char *kid, size_t kidlen, const char *table,
    int64_t row_id, int64_t user_id)
{
	size_t n = 0, tlen = strlen(table);

	memcpy(ad, VAULT_AD_LABEL, sizeof(VAULT_AD_LABEL));
	n += sizeof(VAULT_AD_LABEL);
	ad[n++] = VAULT_FORMAT_V1;
	ad[n++] = (unsigned char)kidlen;
	memcpy(ad + n, kid, kidlen);
	n += kidlen;
	ad[n++] = (unsigned char)tlen;
	memcpy(ad + n, table, tlen);
	n += tlen;
	vault_be64(ad + n, (uint64_t)row_id);
	n += 8;
	vault_be64(ad + n, (uint64_t)user_id);
	n += 8;
	return n;
}

int
vault_seal(const struct vault *v, const char *table, int64_t row_id, int64_t user_id,
    const void *pt, size_t ptlen, unsigned char **ct, size_t *ctlen)
{
	static const unsigned char empty[1];
	unsigned char ad[VAULT_AD_MAX], *buf;
	const struct vault_key *k;
	unsigned long long clen;
	size_t kidlen, hlen, adlen;

	*ct = NULL;
	*ctlen = 0;
	if (v == NULL || v->nkeys == 0 || !vault_ident_ok(table) || ptlen > VAULT_PLAINTEXT_MAX)
		return -1;
	k = &v->keys[0];
	kidlen = strlen(k->kid);
	hlen = 2 + kidlen;
	buf = xmalloc(hlen + VAULT_NONCE_BYTES + ptlen + VAULT_TAG_BYTES);
	buf[0] = VAULT_FORMAT_V1;
	buf[1] = (unsigned char)kidlen;
	memcpy(buf + 2, k->kid, kidlen);
	randombytes_buf(buf + hlen, VAULT_NONCE_BYTES);
	adlen = vault_ad(ad, k->kid, kidlen, table, row_id, user_id);
	crypto_aead_xchacha20poly1305_ietf_encrypt(buf + hlen + VAULT_NONCE_BYTES, &clen,
	    pt != NULL ? pt : empty, ptlen, ad, adlen, NULL, buf + hlen, k->key);
	*ct = buf;
	*ctlen = hlen + VAULT_NONCE_BYTES + (size_t)clen;
	return 0;
}

/* The header of a version 1 ciphertext: the kid and where the nonce starts. */
static int
vault_header(const unsigned char *ct, size_t ctlen, const char **kid, size_t *kidlen,
    size_t *hlen)
{
	if (ct == NULL || ctlen < 2 || ct[0] != VAULT_FORMAT_V1)
		return -1;
	*kidlen = ct[1];
	*kid = (const char *)ct + 2;
	*hlen = 2 + *kidlen;
	/* The length first: the kid's bytes are read only once they are known to be there. */
	if (ctlen < *hlen + VAULT_NONCE_BYTES + VAULT_TAG_BYTES ||
	    !vault_kid_valid_n(*kid, *kidlen))
		return -1;
	return 0;
}

int
vault_ct_kid(const unsigned char *ct, size_t ctlen, char kid[VAULT_KID_MAX + 1])
{
	const char *k;
	size_t kidlen, hlen;

	if (vault_header(ct, ctlen, &k, &kidlen, &hlen) == -1)
		return -1;
	memcpy(kid, k, kidlen);
	kid[kidlen] = '\0';
	return 0;
}

int
vault_open(const struct vault *v, const char *table, int64_t row_id, int64_t user_id,
    const unsigned char *ct, size_t ctlen, unsigned char **pt, size_t *ptlen)
{
	unsigned char ad[VAULT_AD_MAX], *buf;
	const struct vault_key *k;
	const char *kid;
	unsigned long long mlen;
	size_t kidlen, hlen, adlen, clen;

	*pt = NULL;
	*ptlen = 0;
	if (v == NULL || !vault_ident_ok(table) ||
	    vault_header(ct, ctlen, &kid, &kidlen, &hlen) == -1 ||
	    (k = vault_find(v, kid, kidlen)) == NULL)
		return -1;
	clen = ctlen - hlen - VAULT_NONCE_BYTES;
	if (clen - VAULT_TAG_BYTES > VAULT_PLAINTEXT_MAX)
		return -1;
	buf = xmalloc(clen - VAULT_TAG_BYTES + 1);
	adlen = vault_ad(ad, k->kid, kidlen, table, row_id, user_id);
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(buf, &mlen, NULL,
	    ct + hlen + VAULT_NONCE_BYTES, clen, ad, adlen, ct + hlen, k->key) != 0) {
		vault_plain_free(buf, clen - VAULT_TAG_BYTES + 1);
		return -1;
	}
	buf[mlen] = '\0';
	*pt = buf;
	*ptlen = (size_t)mlen;
	return 0;
}

void
vault_plain_free(unsigned char *pt, size_t ptlen)
{
	if (pt == NULL)
		return;
	sodium_memzero(pt, ptlen);
	free(pt);
}

char *
vault_bytea_param(const unsigned char *ct, size_t ctlen)
{
	char *s = xmalloc(2 + 2 * ctlen + 1);

	s[0] = '\\';
	s[1] = 'x';
	sodium_bin2hex(s + 2, 2 * ctlen + 1, ct, ctlen);
	return s;
}

int
vault_bytea_value(const char *text, unsigned char **ct, size_t *ctlen)
{
	unsigned char *raw;
	size_t len;

	*ct = NULL;
	*ctlen = 0;
	if (text == NULL || (raw = PQunescapeBytea((const unsigned char *)text, &len)) == NULL)
		return -1;
	*ct = xmalloc(len > 0 ? len : 1);
	memcpy(*ct, raw, len);
	*ctlen = len;
	PQfreemem(raw);
	return 0;
}

int
vault_keygen(const char *kid, char out[VAULT_KEY_LINE_MAX])
{
	unsigned char key[VAULT_KEY_BYTES];
	char made[VAULT_KID_MAX + 1], hex[5];
	struct tm tm;
	time_t now;
	size_t n;

	if (kid == NULL) {
		now = time(NULL);
		if (gmtime_r(&now, &tm) == NULL || strftime(made, sizeof(made), "%Y%m%d-", &tm) == 0)
			fatal("cannot format the date");
		util_random_hex(hex, 2);
		n = strlen(made);
		memcpy(made + n, hex, sizeof(hex));
		kid = made;
	}
	if (!vault_kid_is_valid(kid))
		return -1;
	n = strlen(kid);
	memcpy(out, kid, n);
	out[n++] = ':';
	randombytes_buf(key, sizeof(key));
	sodium_bin2base64(out + n, VAULT_KEY_LINE_MAX - n, key, sizeof(key),
	    sodium_base64_VARIANT_ORIGINAL);
	sodium_memzero(key, sizeof(key));
	return 0;
}

static int
vault_command(PGconn *conn, const char *sql, const char *what, char *err, size_t errlen)
{
	PGresult *res = PQexec(conn, sql);

	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		db_migrate_pg_error(conn, res, what, err, errlen);
		PQclear(res);
		return -1;
	}
	PQclear(res);
	return 0;
}

/* One row that does not open: on out, and into err when it is the first. */
static void
vault_rotate_problem(FILE *out, struct vault_rotate_stats *st, int *first, char *err,
    size_t errlen, const char *fmt, ...) MR_PRINTF(6, 7);

static void
vault_rotate_problem(FILE *out, struct vault_rotate_stats *st, int *first, char *err,
    size_t errlen, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (out != NULL)
		fprintf(out, "error: %s\n", msg);
	if (*first) {
		snprintf(err, errlen, "%s", msg);
		*first = 0;
	}
	st->failed++;
}

/*
 * Re-seals the rows of one sealed column, batch by batch in id order. Returns -1 on a
 * database failure (err set, the open batch rolled back), 0 otherwise; rows that do not
 * open are counted in st->failed.
 */
static int
vault_rotate_column(PGconn *conn, const struct vault *v, const struct vault_column *col,
    int batch, FILE *out, struct vault_rotate_stats *st, int *first, char *err,
    size_t errlen)
{
	char sel[512], upd[512], last[24], limit[16];
	const char *cur = vault_current_kid(v);
	PGresult *res = NULL;
	int rows;

	if (!vault_ident_ok(col->table) || !vault_ident_ok(col->id_col) ||
	    (col->user_col != NULL && !vault_ident_ok(col->user_col)) ||
	    !vault_ident_ok(col->ct_col)) {
		snprintf(err, errlen, "sealed column %s: not a plain identifier", col->table);
		return -1;
	}
	/* Identifiers come from the registry above, checked; values travel as parameters. */
	/* A row without a secret (a NULL column) has nothing to re-seal. */
	snprintf(sel, sizeof(sel), "SELECT %s AS id, %s AS user_id, %s AS ct FROM %s"
	    " WHERE %s > $1 AND %s IS NOT NULL ORDER BY %s LIMIT $2 FOR UPDATE", col->id_col,
	    col->user_col != NULL ? col->user_col : "NULL::bigint", col->ct_col, col->table,
	    col->id_col, col->ct_col, col->id_col);
	snprintf(upd, sizeof(upd), "UPDATE %s SET %s = $1 WHERE %s = $2", col->table,
	    col->ct_col, col->id_col);
	snprintf(last, sizeof(last), "%" PRId64, INT64_MIN);
	snprintf(limit, sizeof(limit), "%d", batch);

	do {
		const char *params[2] = { last, limit };
		long resealed = 0, current = 0, bad = 0;
		int fid, fuser, fct;

		if (vault_command(conn, "BEGIN", "BEGIN", err, errlen) == -1)
			return -1;
		res = PQexecParams(conn, sel, 2, NULL, params, NULL, NULL, 0);
		if (PQresultStatus(res) != PGRES_TUPLES_OK) {
			db_migrate_pg_error(conn, res, col->table, err, errlen);
			goto fail;
		}
		rows = PQntuples(res);
		fid = PQfnumber(res, "id");
		fuser = PQfnumber(res, "user_id");
		fct = PQfnumber(res, "ct");
		for (int i = 0; i < rows; i++) {
			unsigned char *ct = NULL, *pt = NULL, *nct = NULL;
			size_t ctlen, ptlen, nctlen;
			char kid[VAULT_KID_MAX + 1], *param;
			const char *uparams[2];
			int64_t id, user = 0;
			PGresult *ures;

			if (util_parse_int64(PQgetvalue(res, i, fid), INT64_MIN, INT64_MAX,
			    &id) == -1 || (!PQgetisnull(res, i, fuser) &&
			    util_parse_int64(PQgetvalue(res, i, fuser), INT64_MIN, INT64_MAX,
			    &user) == -1)) {
				snprintf(err, errlen, "%s: unexpected id value", col->table);
				goto fail;
			}
			if (PQgetisnull(res, i, fct) ||
			    vault_bytea_value(PQgetvalue(res, i, fct), &ct, &ctlen) == -1 ||
			    vault_ct_kid(ct, ctlen, kid) == -1) {
				vault_rotate_problem(out, st, first, err, errlen, "%s row %" PRId64
				    " (user %" PRId64 "): not a vault ciphertext", col->table, id,
				    user);
				bad++;
				free(ct);
				continue;
			}
			if (strcmp(kid, cur) == 0) {
				current++;
				free(ct);
				continue;
			}
			if (vault_find(v, kid, strlen(kid)) == NULL) {
				vault_rotate_problem(out, st, first, err, errlen, "%s row %" PRId64
				    " (user %" PRId64 "): sealed with key \"%s\", which is not in the "
				    "key set", col->table, id, user, kid);
				bad++;
				free(ct);
				continue;
			}
			if (vault_open(v, col->table, id, user, ct, ctlen, &pt, &ptlen) == -1) {
				vault_rotate_problem(out, st, first, err, errlen, "%s row %" PRId64
				    " (user %" PRId64 "): does not open with key \"%s\" (altered, or "
				    "copied from another row)", col->table, id, user, kid);
				bad++;
				free(ct);
				continue;
			}
			free(ct);
			/* The batch is rolled back anyway: only look for more problems. */
			if (bad > 0) {
				vault_plain_free(pt, ptlen);
				continue;
			}
			if (vault_seal(v, col->table, id, user, pt, ptlen, &nct, &nctlen) == -1) {
				vault_plain_free(pt, ptlen);
				snprintf(err, errlen, "%s: cannot seal", col->table);
				goto fail;
			}
			vault_plain_free(pt, ptlen);
			param = vault_bytea_param(nct, nctlen);
			free(nct);
			uparams[0] = param;
			uparams[1] = PQgetvalue(res, i, fid);
			ures = PQexecParams(conn, upd, 2, NULL, uparams, NULL, NULL, 0);
			free(param);
			if (PQresultStatus(ures) != PGRES_COMMAND_OK) {
				db_migrate_pg_error(conn, ures, col->table, err, errlen);
				PQclear(ures);
				goto fail;
			}
			PQclear(ures);
			resealed++;
		}
		if (rows > 0)
			snprintf(last, sizeof(last), "%s", PQgetvalue(res, rows - 1, fid));
		PQclear(res);
		res = NULL;
		if (bad > 0) {
			if (vault_command(conn, "ROLLBACK", "ROLLBACK", err, errlen) == -1)
				return -1;
			st->current += current;
			st->held += rows - bad - current;
			if (out != NULL)
				fprintf(out, "%s: ids up to %s: batch rolled back: %ld do not open, "
				    "%ld held back with them, %ld already current\n", col->table, last,
				    bad, rows - bad - current, current);
		} else {
			if (vault_command(conn, "COMMIT", "COMMIT", err, errlen) == -1)
				return -1;
			st->resealed += resealed;
			st->current += current;
			if (out != NULL && rows > 0)
				fprintf(out, "%s: ids up to %s: %ld re-sealed, %ld already current\n",
				    col->table, last, resealed, current);
		}
		if (out != NULL)
			fflush(out);
	} while (rows == batch);
	return 0;
fail:
	PQclear(res);
	if (PQtransactionStatus(conn) != PQTRANS_IDLE) {
		res = PQexec(conn, "ROLLBACK");
		PQclear(res);
	}
	return -1;
}

int
vault_rotate(PGconn *conn, const struct vault *v, int batch, FILE *out,
    struct vault_rotate_stats *st, char *err, size_t errlen)
{
	int first = 1;

	memset(st, 0, sizeof(*st));
	if (v == NULL || v->nkeys == 0) {
		snprintf(err, errlen, "no vault keys loaded");
		return -1;
	}
	if (batch < 1) {
		snprintf(err, errlen, "batch size must be at least 1");
		return -1;
	}
	if (db_migrate_require_idle(conn, err, errlen) == -1)
		return -1;
	for (size_t i = 0; i < vault_columns_count; i++) {
		if (vault_rotate_column(conn, v, &vault_columns[i], batch, out, st, &first, err,
		    errlen) == -1)
			return -1;
	}
	return st->failed > 0 ? -1 : 0;
}
