/* secret.h: the random secrets mailroom hands out (session ids, reset links, invites, API
 * tokens, authorization codes) and the digests it keeps of them. A secret is 32 random
 * bytes, written as a prefix and 43 base64url characters; the database stores only the
 * 32-byte BLAKE2b digest, so a copy of the database opens no session and no account. */
#ifndef MAILROOM_SECRET_H
#define MAILROOM_SECRET_H

#include <stddef.h>

#define SECRET_BYTES 32
#define SECRET_DIGEST_BYTES 32
/* The base64url text of SECRET_BYTES, without padding. */
#define SECRET_B64_LEN 43
/* Room for a prefix of at most 15 characters, the text and the NUL. */
#define SECRET_TEXT_MAX (16 + SECRET_B64_LEN + 1)
/* "\x" and 64 hex digits, NUL: the digest as a bytea parameter in libpq's text format. */
#define SECRET_DIGEST_PARAM_LEN (2 + 2 * SECRET_DIGEST_BYTES + 1)

/* Writes prefix (may be "") and a new random secret into out (SECRET_TEXT_MAX bytes). */
void secret_new(const char *prefix, char out[SECRET_TEXT_MAX]);
/* Whether s is prefix followed by exactly SECRET_B64_LEN base64url characters. */
int secret_is_wellformed(const char *prefix, const char *s);
/* The digest of the whole text s (prefix included) as a bytea parameter ("\x..."). */
void secret_digest_param(const char *s, char out[SECRET_DIGEST_PARAM_LEN]);
/* Constant-time comparison of two NUL-terminated strings of known-public length. */
int secret_equal(const char *a, const char *b);

#endif
