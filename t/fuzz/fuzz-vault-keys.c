/* fuzz-vault-keys.c: libFuzzer harness for the vault's key lists (MAILROOM_VAULT_KEYS and
 * the key file), its ciphertext header and its bytea helpers. The input is key text, and
 * after a first NUL byte, if there is one, a ciphertext (else the whole input is tried as
 * one). A key set that loads must seal and open a plaintext back, bound to its row; a
 * refusal must say why without quoting a key; the file and the variable must agree on
 * text both can hold; and no ciphertext the harness did not seal may open under keys the
 * input cannot know. */
#include "config.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sodium.h>

#include "util.h"
#include "vault.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_TABLE "user_secrets"
#define FUZZ_ROW 42
#define FUZZ_USER 7
#define FUZZ_PT_MAX 64
#define FUZZ_HEADER_EXTRA (24 + 16)   /* nonce and tag */

static int fuzz_ready;
/* Keys drawn at start-up: no input can name them with the right bytes. */
static struct vault *fuzz_secret_set;
/* A deleted file reopened through /proc for vault_load_file; -1 when not available. */
static int fuzz_fd = -1;
static char fuzz_path[64];

static void
fuzz_init(void)
{
	char a[VAULT_KEY_LINE_MAX], b[VAULT_KEY_LINE_MAX], text[2 * VAULT_KEY_LINE_MAX + 2];
	char tmpl[] = "/tmp/fuzz-vault-keys.XXXXXX", err[256];
	int fd;

	if (sodium_init() < 0)
		abort();
	if (vault_keygen("k1", a) == -1 || vault_keygen("other-key", b) == -1)
		abort();
	snprintf(text, sizeof(text), "%s\n%s", a, b);
	if (vault_load_string(&fuzz_secret_set, text, "fuzz", err, sizeof(err)) == -1)
		abort();
	sodium_memzero(text, sizeof(text));
	sodium_memzero(a, sizeof(a));
	sodium_memzero(b, sizeof(b));
	if ((fd = mkstemp(tmpl)) != -1) {
		unlink(tmpl);
		snprintf(fuzz_path, sizeof(fuzz_path), "/proc/self/fd/%d", fd);
		if (access(fuzz_path, R_OK) == 0)
			fuzz_fd = fd;
		else
			close(fd);
	}
	fuzz_ready = 1;
}

static int
fuzz_b64_char(int c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	    c == '+' || c == '/' || c == '=';
}

/*
 * A refusal names the entry, never the key: no run of 20 or more base64 characters that
 * follows a colon in the input may appear in the message. The key part of an entry is
 * what follows its first colon up to the next separator.
 */
static void
fuzz_check_err(const char *err, const uint8_t *text, size_t len, int is_file)
{
	size_t errlen = strlen(err);

	if (errlen == 0)
		abort();
	for (size_t i = 0; i < len; i++) {
		size_t j, k;

		if (text[i] != ':')
			continue;
		for (j = i + 1; j < len; j = k) {
			for (; j < len && !fuzz_b64_char(text[j]); j++) {
				if (text[j] == '\n' || (!is_file && text[j] == ','))
					break;
			}
			if (j >= len || text[j] == '\n' || (!is_file && text[j] == ','))
				break;
			for (k = j; k < len && fuzz_b64_char(text[k]); k++)
				;
			if (k - j >= 20 && memmem(err, errlen, text + j, k - j) != NULL) {
				fprintf(stderr, "fuzz-vault-keys: the message quotes key text: %s\n",
				    err);
				abort();
			}
		}
	}
}

/* Seals pt with v and checks everything a loaded set promises. */
static void
fuzz_roundtrip(const struct vault *v, const uint8_t *pt, size_t ptlen, size_t pos)
{
	unsigned char *ct, *out;
	char kid[VAULT_KID_MAX + 1];
	const char *cur = vault_current_kid(v);
	size_t ctlen, outlen, kidlen = strlen(cur);

	if (vault_key_count(v) < 1 || vault_key_count(v) > 32 || !vault_kid_is_valid(cur))
		abort();
	if (vault_seal(v, FUZZ_TABLE, FUZZ_ROW, FUZZ_USER, pt, ptlen, &ct, &ctlen) != 0)
		abort();
	if (ctlen != 2 + kidlen + FUZZ_HEADER_EXTRA + ptlen || ct[0] != VAULT_FORMAT_V1 ||
	    ct[1] != kidlen)
		abort();
	if (vault_ct_kid(ct, ctlen, kid) != 0 || strcmp(kid, cur) != 0)
		abort();
	if (vault_open(v, FUZZ_TABLE, FUZZ_ROW, FUZZ_USER, ct, ctlen, &out, &outlen) != 0 ||
	    outlen != ptlen || (ptlen > 0 && memcmp(out, pt, ptlen) != 0) || out[outlen] != '\0')
		abort();
	vault_plain_free(out, outlen);

	/* Bound to its table, row and user. */
	if (vault_open(v, FUZZ_TABLE, FUZZ_ROW + 1, FUZZ_USER, ct, ctlen, &out, &outlen) == 0 ||
	    vault_open(v, FUZZ_TABLE, FUZZ_ROW, FUZZ_USER + 1, ct, ctlen, &out, &outlen) == 0 ||
	    vault_open(v, "user_secret", FUZZ_ROW, FUZZ_USER, ct, ctlen, &out, &outlen) == 0 ||
	    vault_open(v, "Bad-Table", FUZZ_ROW, FUZZ_USER, ct, ctlen, &out, &outlen) == 0)
		abort();
	if (out != NULL || outlen != 0)
		abort();
	/* Any altered byte, or a byte less, and it opens nowhere. */
	ct[pos % ctlen] ^= (unsigned char)(1u << (pos % 8));
	if (vault_open(v, FUZZ_TABLE, FUZZ_ROW, FUZZ_USER, ct, ctlen, &out, &outlen) == 0)
		abort();
	ct[pos % ctlen] ^= (unsigned char)(1u << (pos % 8));
	if (vault_open(v, FUZZ_TABLE, FUZZ_ROW, FUZZ_USER, ct, ctlen - 1, &out, &outlen) == 0)
		abort();
	/* Keys the input cannot know open none of it (unless they share its key id, which
	 * still fails the tag). */
	if (vault_open(fuzz_secret_set, FUZZ_TABLE, FUZZ_ROW, FUZZ_USER, ct, ctlen, &out,
	    &outlen) == 0)
		abort();
	free(ct);

	if (vault_seal(v, "Not-An-Ident", FUZZ_ROW, FUZZ_USER, pt, ptlen, &ct, &ctlen) != -1 ||
	    ct != NULL || ctlen != 0)
		abort();
}

/* The input's ciphertext: whatever it is, vault_open returns cleanly. */
static void
fuzz_open_input(const struct vault *v, const uint8_t *ct, size_t ctlen, int may_open)
{
	char kid[VAULT_KID_MAX + 1];
	unsigned char *pt;
	size_t ptlen;
	int has_kid = vault_ct_kid(ct, ctlen, kid) == 0;

	if (has_kid && (!vault_kid_is_valid(kid) || ct[0] != VAULT_FORMAT_V1 ||
	    ct[1] != strlen(kid) || ctlen < 2 + strlen(kid) + FUZZ_HEADER_EXTRA))
		abort();
	if (vault_open(v, FUZZ_TABLE, FUZZ_ROW, FUZZ_USER, ct, ctlen, &pt, &ptlen) == 0) {
		/* Only a real ciphertext of a set the input itself holds can open. */
		if (!may_open || !has_kid ||
		    ptlen != ctlen - 2 - strlen(kid) - FUZZ_HEADER_EXTRA || pt[ptlen] != '\0')
			abort();
		vault_plain_free(pt, ptlen);
	} else if (pt != NULL || ptlen != 0) {
		abort();
	}
}

/* The bytea helpers: what decodes encodes back to the same bytes. */
static void
fuzz_bytea(const char *text)
{
	unsigned char *ct, *back;
	size_t ctlen, backlen;
	char *param;

	if (vault_bytea_value(text, &ct, &ctlen) == -1) {
		if (ct != NULL || ctlen != 0)
			abort();
		return;
	}
	param = vault_bytea_param(ct, ctlen);
	if (strncmp(param, "\\x", 2) != 0 || strlen(param) != 2 + 2 * ctlen ||
	    strspn(param + 2, "0123456789abcdef") != 2 * ctlen)
		abort();
	if (vault_bytea_value(param, &back, &backlen) != 0 || backlen != ctlen ||
	    (ctlen > 0 && memcmp(back, ct, ctlen) != 0))
		abort();
	free(back);
	free(param);
	free(ct);
}

/* Whether the variable and the file see the same entries: no NUL, no comma, and not
 * larger than a key file may be. */
static int
fuzz_same_entries(const uint8_t *data, size_t size, size_t tlen)
{
	return tlen == size && size <= 64 * 1024 && memchr(data, ',', size) == NULL;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vault *vs = NULL, *vf = NULL;
	const uint8_t *ct = data, *pt;
	char err[256];
	char *text;
	size_t tlen, ctlen = size, ptlen;
	int rs, rf = -2;

	if (!fuzz_ready)
		fuzz_init();

	/* The key text ends at the first NUL, as a variable's value does. */
	text = xmalloc(size + 1);
	memcpy(text, data, size);
	text[size] = '\0';
	tlen = strlen(text);
	if (tlen < size) {
		ct = data + tlen + 1;
		ctlen = size - tlen - 1;
	}

	err[0] = '\0';
	rs = vault_load_string(&vs, text, "MAILROOM_VAULT_KEYS", err, sizeof(err));
	if (rs == 0) {
		if (vs == NULL)
			abort();
	} else {
		if (rs != -1 || vs != NULL)
			abort();
		fuzz_check_err(err, data, tlen, 0);
	}

	/* The same bytes as a key file (NULs and all). */
	if (fuzz_fd != -1 && ftruncate(fuzz_fd, 0) == 0 &&
	    pwrite(fuzz_fd, data, size, 0) == (ssize_t)size) {
		err[0] = '\0';
		rf = vault_load_file(&vf, fuzz_path, err, sizeof(err));
		if (rf == 0) {
			if (vf == NULL)
				abort();
		} else {
			if (rf != -1 || vf != NULL)
				abort();
			fuzz_check_err(err, data, size, 1);
		}
		/* Without commas and NULs, a file and a variable read the same entries. */
		if (fuzz_same_entries(data, size, tlen)) {
			if (rs != rf)
				abort();
			if (rs == 0 && (vault_key_count(vs) != vault_key_count(vf) ||
			    strcmp(vault_current_kid(vs), vault_current_kid(vf)) != 0))
				abort();
		}
	}

	/* A plaintext from the input: its last bytes, at most 64. */
	ptlen = size < FUZZ_PT_MAX ? size : FUZZ_PT_MAX;
	pt = data + size - ptlen;
	if (vs != NULL)
		fuzz_roundtrip(vs, pt, ptlen, size);
	if (vf != NULL)
		fuzz_roundtrip(vf, pt, ptlen, size + 1);
	if (vs != NULL && vf != NULL && fuzz_same_entries(data, size, tlen)) {
		/* The same keys: one seals, the other opens. */
		unsigned char *c, *o;
		size_t clen, olen;

		if (vault_seal(vs, FUZZ_TABLE, FUZZ_ROW, FUZZ_USER, pt, ptlen, &c, &clen) != 0 ||
		    vault_open(vf, FUZZ_TABLE, FUZZ_ROW, FUZZ_USER, c, clen, &o, &olen) != 0 ||
		    olen != ptlen || (ptlen > 0 && memcmp(o, pt, ptlen) != 0))
			abort();
		vault_plain_free(o, olen);
		free(c);
	}

	fuzz_open_input(fuzz_secret_set, ct, ctlen, 0);
	if (vs != NULL)
		fuzz_open_input(vs, ct, ctlen, 1);
	if (vf != NULL)
		fuzz_open_input(vf, ct, ctlen, 1);
	/* No set: refused, not a crash. */
	{
		unsigned char *p, *c;
		size_t plen, clen;

		if (vault_open(NULL, FUZZ_TABLE, FUZZ_ROW, FUZZ_USER, ct, ctlen, &p, &plen) != -1 ||
		    vault_seal(NULL, FUZZ_TABLE, FUZZ_ROW, FUZZ_USER, pt, ptlen, &c, &clen) != -1)
			abort();
	}

	fuzz_bytea(text);

	vault_free(vs);
	vault_free(vf);
	sodium_memzero(text, size + 1);
	free(text);
	return 0;
}
