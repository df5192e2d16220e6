/* password.h: what a password must be (length, not a common one, not the account's own
 * address or name), how it is stored (Argon2id through libsodium's crypto_pwhash_str) and
 * how many hashes one process computes at once, so that a storm of sign-ins cannot take
 * more than concurrency x memlimit of memory.
 *
 * password_init runs once at start-up, before any thread uses the module; the other
 * functions are thread-safe. */
#ifndef MAILROOM_PASSWORD_H
#define MAILROOM_PASSWORD_H

#include <stddef.h>
#include <sodium.h>

/* Length in Unicode code points (ASVS 2.1.1, 2.1.2: at least 12, 128 allowed). */
#define PASSWORD_MIN_CHARS 12
#define PASSWORD_MAX_CHARS 128
/* Room for crypto_pwhash_str's output, NUL included. */
#define PASSWORD_HASH_MAX crypto_pwhash_STRBYTES

/* The defaults of MAILROOM_PWHASH_OPSLIMIT, _MEMLIMIT and _CONCURRENCY (see password.c). */
#define PASSWORD_DEFAULT_OPSLIMIT 3
#define PASSWORD_DEFAULT_MEMLIMIT (64u << 20)
#define PASSWORD_DEFAULT_CONCURRENCY 2
/* How long a caller waits for a free hashing slot before it is told PASSWORD_BUSY. */
#define PASSWORD_DEFAULT_WAIT_MS 5000

enum password_policy {
	PASSWORD_POLICY_OK,
	PASSWORD_POLICY_INVALID,	/* not valid UTF-8, or a control character */
	PASSWORD_POLICY_TOO_SHORT,
	PASSWORD_POLICY_TOO_LONG,
	PASSWORD_POLICY_COMMON,		/* in the list of common passwords */
	PASSWORD_POLICY_PERSONAL,	/* the account's address, its local part or its name */
	PASSWORD_POLICY_UNAVAILABLE	/* the common list is not loaded: refused, not waved */
};

enum password_status {
	PASSWORD_OK,		/* hashed, or the password matches */
	PASSWORD_MISMATCH,	/* wrong password (or a hash that does not parse) */
	PASSWORD_BUSY,		/* no hashing slot within the wait: answer 503 + Retry-After */
	PASSWORD_ERROR		/* out of memory */
};

/* Takes the parameters from mr_config (opslimit, memlimit, concurrency), loads the common
 * password list (mr_config.common_passwords, or the installed one) and prepares the hash
 * that password_verify_dummy checks against. Returns -1 with a message in err. */
int password_init(char *err, size_t errlen);
/* Frees the common list. */
void password_shutdown(void);

/* Where the common list is read from when MAILROOM_COMMON_PASSWORDS is not set: the
 * installed copy, or the source tree's when the programs run from their build tree. */
const char *password_default_list_path(void);
/* Replaces the common list with the file at path: one password a line, lines starting
 * with "#!comment:" ignored. Not safe while other threads check passwords. */
int password_load_common(const char *path, char *err, size_t errlen);
/* Whether pw is in the common list, compared without regard to ASCII case. */
int password_is_common(const char *pw);

/* Whether pw may be chosen by the account with this address and display name (either may
 * be NULL). On refusal, *why is a sentence to show next to the form field. */
enum password_policy password_check_policy(const char *pw, const char *email,
    const char *display_name, const char **why);

/* The Argon2id parameters of new hashes, the number of hashes computed at once and how
 * long a caller waits for a slot. password_init sets them from the configuration; tests
 * change them. Any argument 0 keeps the current value. */
void password_set_params(unsigned long long opslimit, size_t memlimit, int concurrency,
    int wait_ms);

/* Hashes pw into out ("$argon2id$v=19$m=...,t=...,p=1$salt$hash"). */
enum password_status password_hash(const char *pw, char out[PASSWORD_HASH_MAX]);
/* Checks pw against hash. On PASSWORD_OK, *needs_rehash (may be NULL) tells whether the
 * hash was made with other parameters than the current ones: store password_hash(pw). */
enum password_status password_verify(const char *pw, const char *hash, int *needs_rehash);
/* The work of password_verify against a hash of no account, for sign-ins with an unknown
 * address: the answer takes as long as for a known one. Returns PASSWORD_MISMATCH, or
 * PASSWORD_BUSY like a real verification would. */
enum password_status password_verify_dummy(const char *pw);

/* For tests: called with a hashing slot held, before each hash or verification. */
extern void (*password_slot_hook)(void);

#endif
