/* secret.c: random secrets and their digests (secret.h). */
#include "config.h"

#include <string.h>
#include <sodium.h>

#include "secret.h"
#include "util.h"

void
secret_new(const char *prefix, char out[SECRET_TEXT_MAX])
{
	unsigned char raw[SECRET_BYTES];
	size_t plen = strlen(prefix);

	if (plen > SECRET_TEXT_MAX - SECRET_B64_LEN - 1)
		fatal("secret prefix too long: %s", prefix);
	randombytes_buf(raw, sizeof(raw));
	memcpy(out, prefix, plen);
	sodium_bin2base64(out + plen, SECRET_TEXT_MAX - plen, raw, sizeof(raw),
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	sodium_memzero(raw, sizeof(raw));
}

int
secret_is_wellformed(const char *prefix, const char *s)
{
	size_t plen = strlen(prefix);

	if (s == NULL || strncmp(s, prefix, plen) != 0)
		return 0;
	s += plen;
	for (size_t i = 0; i < SECRET_B64_LEN; i++) {
		char c = s[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '_'))
			return 0;
	}
	return s[SECRET_B64_LEN] == '\0';
}

void
secret_digest_param(const char *s, char out[SECRET_DIGEST_PARAM_LEN])
{
	unsigned char d[SECRET_DIGEST_BYTES];

	crypto_generichash(d, sizeof(d), (const unsigned char *)s, strlen(s), NULL, 0);
	out[0] = '\\';
	out[1] = 'x';
	sodium_bin2hex(out + 2, SECRET_DIGEST_PARAM_LEN - 2, d, sizeof(d));
}

int
secret_equal(const char *a, const char *b)
{
	size_t n = strlen(a);

	if (n != strlen(b))
		return 0;
	return sodium_memcmp(a, b, n) == 0;
}
