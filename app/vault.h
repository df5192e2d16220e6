/* vault.h: secrets at rest. Values mailroom must read back (mail account passwords, OAuth
 * tokens, users' API keys) are sealed with XChaCha20-Poly1305 under a key that never enters
 * the database: it comes from a key file (MAILROOM_VAULT_KEY_FILE) or the environment
 * (MAILROOM_VAULT_KEYS). A ciphertext names its key and is bound to its table, row and user,
 * so a value copied to another row opens nowhere. doc/vault.md tells how to run it. */
#ifndef MAILROOM_VAULT_H
#define MAILROOM_VAULT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <libpq-fe.h>

#define VAULT_KEY_BYTES 32
#define VAULT_KID_MAX 16
/* The base64 text of a key, with its padding: 44 characters. */
#define VAULT_KEY_B64_LEN 44
/* A key line as vault-keygen prints it: "KID:BASE64", NUL. */
#define VAULT_KEY_LINE_MAX (VAULT_KID_MAX + 1 + VAULT_KEY_B64_LEN + 1)
/* Secrets are short: vault_seal refuses more than this. */
#define VAULT_PLAINTEXT_MAX (1 << 20)

/*
 * Ciphertext, version 1:
 *   0x01 | kid length (1..16) | kid | nonce (24 random bytes) | AEAD output (pt + 16 tag)
 * The associated data is "mailroom-vault" 0x00, then the version byte, the kid (length and
 * bytes), the table (length and bytes), the row id and the user id (64-bit big-endian).
 */
#define VAULT_FORMAT_V1 0x01

struct vault;

/* One sealed column: rotate-key re-seals every row of each (vault.c holds the list).
 * user_col is NULL for a table whose rows belong to no user (user id 0 in the binding). */
struct vault_column {
	const char *table;
	const char *id_col;
	const char *user_col;
	const char *ct_col;
};

extern const struct vault_column vault_columns[];
extern const size_t vault_columns_count;

/* The keys of the process, set by the program's main; NULL when none are configured, and
 * then sealing and opening are unavailable (vault_seal and vault_open return -1). */
extern struct vault *vault_process;

/* Loads the keys the configuration names: mr_config.vault_key_file, else
 * mr_config.vault_keys. Returns 1 with *out set, 0 with *out NULL when neither is set,
 * -1 with err naming the file:line or the variable (and never a key). */
int vault_load(struct vault **out, char *err, size_t errlen);
/* A key file: one "KID:BASE64" per line, the first the current key; blank lines and
 * lines starting with '#' are skipped. Refused when group or others may read it. */
int vault_load_file(struct vault **out, const char *path, char *err, size_t errlen);
/* The same lines from a string, separated by newlines or commas; origin names it in
 * messages ("MAILROOM_VAULT_KEYS"). */
int vault_load_string(struct vault **out, const char *text, const char *origin, char *err,
    size_t errlen);
/* Zeroes and frees the keys; NULL is allowed. */
void vault_free(struct vault *v);

/* The id of the current key (the one vault_seal uses), and how many keys are loaded. */
const char *vault_current_kid(const struct vault *v);
size_t vault_key_count(const struct vault *v);

/*
 * Seals ptlen bytes of pt for row row_id of table, owned by user_id (0 for none). The row
 * id must be known before sealing: take it first (SELECT nextval(pg_get_serial_sequence(
 * ...)) and INSERT ... OVERRIDING SYSTEM VALUE), or insert a placeholder and update it in
 * the same transaction. Sets *ct (free(3) it) and *ctlen; returns -1 when v is NULL or the
 * table name is not a short identifier.
 */
int vault_seal(const struct vault *v, const char *table, int64_t row_id, int64_t user_id,
    const void *pt, size_t ptlen, unsigned char **ct, size_t *ctlen);
/* Opens what vault_seal made for the same table, row and user. Sets *pt (NUL-terminated
 * after *ptlen bytes; release it with vault_plain_free) and returns 0; returns -1 on any
 * failure: malformed, unknown key id, altered, or bound to another row. */
int vault_open(const struct vault *v, const char *table, int64_t row_id, int64_t user_id,
    const unsigned char *ct, size_t ctlen, unsigned char **pt, size_t *ptlen);
/* Zeroes and frees a plaintext from vault_open; NULL is allowed. */
void vault_plain_free(unsigned char *pt, size_t ptlen);
/* The key id a ciphertext names into kid; -1 when ct is not a version 1 ciphertext. */
int vault_ct_kid(const unsigned char *ct, size_t ctlen, char kid[VAULT_KID_MAX + 1]);

/* A ciphertext as a bytea parameter in libpq's text format ("\x" and hex); free(3) it. */
char *vault_bytea_param(const unsigned char *ct, size_t ctlen);
/* A bytea value as PQgetvalue returns it in text format, decoded into *ct (free(3) it).
 * Returns -1 when it is not a bytea text. */
int vault_bytea_value(const char *text, unsigned char **ct, size_t *ctlen);

/* Writes a new key line "KID:BASE64" into out; kid NULL makes one from the date and a
 * random suffix ("20261130-9f2c"). Returns -1 when kid is not 1-16 of [a-z0-9-]. */
int vault_keygen(const char *kid, char out[VAULT_KEY_LINE_MAX]);
/* Whether s is a valid key id: 1-16 characters of [a-z0-9-]. */
int vault_kid_is_valid(const char *s);

struct vault_rotate_stats {
	long resealed;	/* opened with an older key, sealed again with the current one */
	long current;	/* already under the current key */
	long failed;	/* could not be opened (unknown key, altered, not a ciphertext) */
	long held;	/* left unchanged because they share a batch with a failed row */
};

/*
 * Re-seals every row of every sealed column under the current key, batch rows at a time,
 * each batch in its own transaction (SELECT ... FOR UPDATE): rows already under the current
 * key are left alone, so a second run changes nothing and an interrupted run can be run
 * again. A row that does not open is reported on out with its table, id and key id, and
 * its whole batch is rolled back; later batches still run. Progress and problems go to out
 * (may be NULL). Returns 0 when every row is under the current key, -1 otherwise with the
 * first problem in err. conn must not be inside a transaction.
 */
int vault_rotate(PGconn *conn, const struct vault *v, int batch, FILE *out,
    struct vault_rotate_stats *st, char *err, size_t errlen);

#endif
