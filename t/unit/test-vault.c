/* test-vault.c: unit tests for vault.c: sealing and opening, every byte of a ciphertext
 * tampered, the binding to table, row and user, key sets and their errors, the key file's
 * permissions, and rotate-key against a scratch database (skipped, status 77, without
 * MAILROOM_TEST_DATABASE_URL). */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sodium.h>

#include "util.h"
#include "vault.h"
#include "unit.h"
#include "unit-db.h"

static const char *test_db;	/* conninfo of the scratch database, NULL without one */

/* "KID:BASE64" of a key whose 32 bytes are all fill. */
static char *
test_vault_line(const char *kid, unsigned char fill)
{
	unsigned char key[VAULT_KEY_BYTES];
	char b64[VAULT_KEY_B64_LEN + 1];

	memset(key, fill, sizeof(key));
	sodium_bin2base64(b64, sizeof(b64), key, sizeof(key), sodium_base64_VARIANT_ORIGINAL);
	return xasprintf("%s:%s", kid, b64);
}

/* A vault from key lines joined by newlines. */
static struct vault *
test_vault_of(const char *text)
{
	struct vault *v = NULL;
	char err[512];

	if (vault_load_string(&v, text, "TEST", err, sizeof(err)) == -1)
		fprintf(stderr, "test vault: %s\n", err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(v);
	return v;
}

/* Vaults of one or two keys: kid1 with fill1, then (when kid2 is not NULL) kid2. */
static struct vault *
test_vault_new(const char *kid1, unsigned char fill1, const char *kid2, unsigned char fill2)
{
	char *a = test_vault_line(kid1, fill1), *b = NULL, *text;
	struct vault *v;

	if (kid2 != NULL) {
		b = test_vault_line(kid2, fill2);
		text = xasprintf("%s\n%s\n", a, b);
	} else
		text = xasprintf("%s\n", a);
	v = test_vault_of(text);
	free(a);
	free(b);
	free(text);
	return v;
}

/* Whether needle occurs in hay (memmem without _GNU_SOURCE). */
static int
test_vault_contains(const unsigned char *hay, size_t hlen, const void *needle, size_t nlen)
{
	if (nlen == 0 || nlen > hlen)
		return nlen == 0;
	for (size_t i = 0; i + nlen <= hlen; i++) {
		if (memcmp(hay + i, needle, nlen) == 0)
			return 1;
	}
	return 0;
}

static int
test_vault_opens(const struct vault *v, const char *table, int64_t row, int64_t user,
    const unsigned char *ct, size_t ctlen)
{
	unsigned char *pt;
	size_t ptlen;

	if (vault_open(v, table, row, user, ct, ctlen, &pt, &ptlen) == -1)
		return 0;
	vault_plain_free(pt, ptlen);
	return 1;
}

static void
test_round_trip(void)
{
	static const size_t lens[] = { 0, 1, 15, 16, 17, 64, 1000, 65536 };
	struct vault *v = test_vault_new("k1", 0x11, NULL, 0);
	unsigned char *src, *ct, *pt;
	size_t ctlen, ptlen;
	char kid[VAULT_KID_MAX + 1];

	CU_ASSERT_STRING_EQUAL(vault_current_kid(v), "k1");
	CU_ASSERT_EQUAL(vault_key_count(v), 1);
	src = xmalloc(65536);
	randombytes_buf(src, 65536);
	for (size_t i = 0; i < MR_ARRAY_LEN(lens); i++) {
		CU_ASSERT_EQUAL_FATAL(vault_seal(v, "user_secrets", 7, 3, src, lens[i], &ct,
		    &ctlen), 0);
		CU_ASSERT_EQUAL(ctlen, 2 + 2 + 24 + lens[i] + 16);
		CU_ASSERT_EQUAL(ct[0], VAULT_FORMAT_V1);
		CU_ASSERT_EQUAL(vault_ct_kid(ct, ctlen, kid), 0);
		CU_ASSERT_STRING_EQUAL(kid, "k1");
		CU_ASSERT_EQUAL_FATAL(vault_open(v, "user_secrets", 7, 3, ct, ctlen, &pt, &ptlen),
		    0);
		CU_ASSERT_EQUAL(ptlen, lens[i]);
		CU_ASSERT(memcmp(pt, src, lens[i]) == 0);
		CU_ASSERT_EQUAL(pt[ptlen], '\0');
		vault_plain_free(pt, ptlen);
		free(ct);
	}
	/* A text secret reads back as a C string. */
	CU_ASSERT_EQUAL_FATAL(vault_seal(v, "user_secrets", 1, 1, "hunter2", 7, &ct, &ctlen), 0);
	CU_ASSERT_EQUAL_FATAL(vault_open(v, "user_secrets", 1, 1, ct, ctlen, &pt, &ptlen), 0);
	CU_ASSERT_STRING_EQUAL((char *)pt, "hunter2");
	vault_plain_free(pt, ptlen);
	free(ct);
	/* Too long to be a secret. */
	CU_ASSERT_EQUAL(vault_seal(v, "user_secrets", 1, 1, src, VAULT_PLAINTEXT_MAX + 1, &ct,
	    &ctlen), -1);
	CU_ASSERT_PTR_NULL(ct);
	free(src);
	vault_free(v);
}

/* Changing any byte, dropping any tail or adding a byte makes the ciphertext unopenable. */
static void
test_tamper(void)
{
	struct vault *v = test_vault_new("key-a", 0x22, NULL, 0);
	static const unsigned char flips[] = { 0x01, 0x80, 0xff };
	unsigned char *ct, *bad;
	size_t ctlen;

	CU_ASSERT_EQUAL_FATAL(vault_seal(v, "user_secrets", 42, 9, "correct horse battery", 21,
	    &ct, &ctlen), 0);
	CU_ASSERT(test_vault_opens(v, "user_secrets", 42, 9, ct, ctlen));
	bad = xmalloc(ctlen + 1);
	for (size_t i = 0; i < ctlen; i++) {
		for (size_t f = 0; f < MR_ARRAY_LEN(flips); f++) {
			memcpy(bad, ct, ctlen);
			bad[i] ^= flips[f];
			if (test_vault_opens(v, "user_secrets", 42, 9, bad, ctlen)) {
				CU_FAIL("a tampered ciphertext opened");
				fprintf(stderr, "byte %zu ^ 0x%02x\n", i, flips[f]);
			}
		}
	}
	for (size_t n = 0; n < ctlen; n++)
		CU_ASSERT_FALSE(test_vault_opens(v, "user_secrets", 42, 9, ct, n));
	memcpy(bad, ct, ctlen);
	bad[ctlen] = 0;
	CU_ASSERT_FALSE(test_vault_opens(v, "user_secrets", 42, 9, bad, ctlen + 1));
	CU_ASSERT_FALSE(test_vault_opens(v, "user_secrets", 42, 9, NULL, 0));
	free(bad);
	free(ct);
	vault_free(v);
}

/* The binding: another table, row or user does not open it. */
static void
test_binding(void)
{
	struct vault *v = test_vault_new("k1", 0x33, NULL, 0);
	unsigned char *ct;
	size_t ctlen;

	CU_ASSERT_EQUAL_FATAL(vault_seal(v, "user_secrets", 5, 2, "s3cret", 6, &ct, &ctlen), 0);
	CU_ASSERT(test_vault_opens(v, "user_secrets", 5, 2, ct, ctlen));
	CU_ASSERT_FALSE(test_vault_opens(v, "mail_accounts", 5, 2, ct, ctlen));
	CU_ASSERT_FALSE(test_vault_opens(v, "user_secret", 5, 2, ct, ctlen));
	CU_ASSERT_FALSE(test_vault_opens(v, "user_secrets", 6, 2, ct, ctlen));
	CU_ASSERT_FALSE(test_vault_opens(v, "user_secrets", 5, 3, ct, ctlen));
	CU_ASSERT_FALSE(test_vault_opens(v, "user_secrets", 2, 5, ct, ctlen));
	CU_ASSERT_FALSE(test_vault_opens(v, "user_secrets", 5, 0, ct, ctlen));
	CU_ASSERT_FALSE(test_vault_opens(v, "user_secrets", -5, 2, ct, ctlen));
	free(ct);
	/* Names that are not plain identifiers are refused outright. */
	CU_ASSERT_EQUAL(vault_seal(v, "User Secrets", 5, 2, "x", 1, &ct, &ctlen), -1);
	CU_ASSERT_EQUAL(vault_seal(v, "", 5, 2, "x", 1, &ct, &ctlen), -1);
	CU_ASSERT_EQUAL(vault_seal(v, "a;drop", 5, 2, "x", 1, &ct, &ctlen), -1);
	/* Without keys nothing seals or opens. */
	CU_ASSERT_EQUAL(vault_seal(NULL, "user_secrets", 5, 2, "x", 1, &ct, &ctlen), -1);
	CU_ASSERT_FALSE(test_vault_opens(NULL, "user_secrets", 5, 2, (const unsigned char *)"x",
	    1));
	vault_free(v);
}

/* A ciphertext names its key: another key set cannot open it, even under the same id. */
static void
test_unknown_key(void)
{
	struct vault *a = test_vault_new("alpha", 0x44, NULL, 0);
	struct vault *b = test_vault_new("beta", 0x55, NULL, 0);
	struct vault *a2 = test_vault_new("alpha", 0x66, NULL, 0);
	unsigned char *ct;
	size_t ctlen;

	CU_ASSERT_EQUAL_FATAL(vault_seal(a, "user_secrets", 1, 1, "token", 5, &ct, &ctlen), 0);
	CU_ASSERT(test_vault_opens(a, "user_secrets", 1, 1, ct, ctlen));
	CU_ASSERT_FALSE(test_vault_opens(b, "user_secrets", 1, 1, ct, ctlen));
	CU_ASSERT_FALSE(test_vault_opens(a2, "user_secrets", 1, 1, ct, ctlen));
	free(ct);
	vault_free(a);
	vault_free(b);
	vault_free(a2);
}

/* Prepending a key makes it current; the old one still opens what it sealed. */
static void
test_old_key_opens(void)
{
	struct vault *old = test_vault_new("k1", 0x77, NULL, 0);
	struct vault *both = test_vault_new("k2", 0x78, "k1", 0x77);
	struct vault *fresh = test_vault_new("k2", 0x78, NULL, 0);
	unsigned char *ct, *ct2;
	size_t ctlen, ct2len;
	char kid[VAULT_KID_MAX + 1];

	CU_ASSERT_STRING_EQUAL(vault_current_kid(both), "k2");
	CU_ASSERT_EQUAL(vault_key_count(both), 2);
	CU_ASSERT_EQUAL_FATAL(vault_seal(old, "user_secrets", 3, 4, "pw", 2, &ct, &ctlen), 0);
	CU_ASSERT(test_vault_opens(both, "user_secrets", 3, 4, ct, ctlen));
	CU_ASSERT_FALSE(test_vault_opens(fresh, "user_secrets", 3, 4, ct, ctlen));
	CU_ASSERT_EQUAL_FATAL(vault_seal(both, "user_secrets", 3, 4, "pw", 2, &ct2, &ct2len), 0);
	CU_ASSERT_EQUAL(vault_ct_kid(ct2, ct2len, kid), 0);
	CU_ASSERT_STRING_EQUAL(kid, "k2");
	CU_ASSERT(test_vault_opens(fresh, "user_secrets", 3, 4, ct2, ct2len));
	CU_ASSERT_FALSE(test_vault_opens(old, "user_secrets", 3, 4, ct2, ct2len));
	free(ct);
	free(ct2);
	vault_free(old);
	vault_free(both);
	vault_free(fresh);
}

/* The plaintext never shows in the ciphertext, and sealing twice never repeats. */
static void
test_no_plaintext(void)
{
	static const char pt[] = "imap-password-0123456789-abcdefghij";
	struct vault *v = test_vault_new("k1", 0x99, NULL, 0);
	unsigned char *ct, *prev = NULL;
	size_t ctlen, prevlen = 0;

	for (int i = 0; i < 200; i++) {
		CU_ASSERT_EQUAL_FATAL(vault_seal(v, "user_secrets", 1, 1, pt, sizeof(pt) - 1, &ct,
		    &ctlen), 0);
		CU_ASSERT_FALSE(test_vault_contains(ct, ctlen, pt, 8));
		CU_ASSERT_FALSE(test_vault_contains(ct, ctlen, pt + 8, 8));
		CU_ASSERT_FALSE(test_vault_contains(ct, ctlen, pt + sizeof(pt) - 9, 8));
		if (prev != NULL) {
			CU_ASSERT(prevlen != ctlen || memcmp(prev, ct, ctlen) != 0);
			/* The nonce (after "\x01\x02k1") is fresh each time. */
			CU_ASSERT(memcmp(prev + 4, ct + 4, 24) != 0);
		}
		free(prev);
		prev = ct;
		prevlen = ctlen;
	}
	free(prev);
	vault_free(v);
}

struct test_vault_bad {
	const char *text;
	const char *message;
};

/* Malformed key sets, each refused with its reason; no key text in any message. */
static void
test_parse_errors(void)
{
	char *k1 = test_vault_line("k1", 0x01), *k1b = test_vault_line("k1", 0x02);
	char *upper = test_vault_line("K1", 0x01), *long_kid = test_vault_line(
	    "abcdefghijklmnopq", 0x01), *zero = test_vault_line("z", 0x00);
	char *dup = xasprintf("%s\n%s", k1, k1b);
	char short_key[64], long_key[128], bad[256], err[512];
	unsigned char raw[48];
	struct vault *v;

	memset(raw, 0xab, sizeof(raw));
	strcpy(short_key, "k1:");
	sodium_bin2base64(short_key + 3, sizeof(short_key) - 3, raw, 16,
	    sodium_base64_VARIANT_ORIGINAL);
	strcpy(long_key, "k1:");
	sodium_bin2base64(long_key + 3, sizeof(long_key) - 3, raw, 33,
	    sodium_base64_VARIANT_ORIGINAL);
	snprintf(bad, sizeof(bad), "%s", k1);
	bad[10] = '!';

	const struct test_vault_bad cases[] = {
		{ "", "TEST: no keys (expected lines KID:BASE64KEY" },
		{ "# only a comment\n\n   \n", "TEST: no keys" },
		{ "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0MTI=",
		    "TEST, entry 1: expected KID:BASE64KEY" },
		{ upper, "TEST, entry 1: the key id must be 1 to 16 characters of a-z, 0-9 and '-'" },
		{ long_kid, "TEST, entry 1: the key id must be" },
		{ ":AAAA", "TEST, entry 1: the key id must be" },
		{ "k_1:AAAA", "TEST, entry 1: the key id must be" },
		{ short_key, "TEST, entry 1: key \"k1\": 16 bytes, expected 32" },
		{ long_key, "TEST, entry 1: key \"k1\": 33 bytes, expected 32" },
		{ bad, "TEST, entry 1: key \"k1\": not standard base64" },
		{ "k1:", "TEST, entry 1: key \"k1\": 0 bytes, expected 32" },
		{ dup, "TEST, entry 2: key id \"k1\" appears twice (first on entry 1)" },
		{ zero, "TEST, entry 1: key \"z\": all zero bytes" },
	};

	for (size_t i = 0; i < MR_ARRAY_LEN(cases); i++) {
		err[0] = '\0';
		v = (struct vault *)1;
		CU_ASSERT_EQUAL(vault_load_string(&v, cases[i].text, "TEST", err, sizeof(err)),
		    -1);
		CU_ASSERT_PTR_NULL(v);
		if (strncmp(err, cases[i].message, strlen(cases[i].message)) != 0) {
			CU_FAIL("unexpected message");
			fprintf(stderr, "case %zu: got \"%s\", expected \"%s...\"\n", i, err,
			    cases[i].message);
		}
		/* The base64 of a key never appears in a message. */
		if (strchr(cases[i].text, ':') != NULL && strlen(strchr(cases[i].text, ':')) > 8)
			CU_ASSERT_PTR_NULL(strstr(err, strchr(cases[i].text, ':') + 1));
	}

	/* Too many keys. */
	{
		char *text = xstrdup(""), *line, *next;

		for (int i = 0; i < 33; i++) {
			char kid[8];

			snprintf(kid, sizeof(kid), "k%d", i);
			line = test_vault_line(kid, (unsigned char)(i + 1));
			next = xasprintf("%s%s\n", text, line);
			free(line);
			free(text);
			text = next;
		}
		CU_ASSERT_EQUAL(vault_load_string(&v, text, "TEST", err, sizeof(err)), -1);
		CU_ASSERT_STRING_EQUAL(err, "TEST, entry 33: more than 32 keys");
		free(text);
	}

	free(k1);
	free(k1b);
	free(upper);
	free(long_kid);
	free(zero);
	free(dup);
}

/* What a key set may look like: comments, blank lines, CRLF, spaces, commas in a
 * variable, keys without padding. */
static void
test_parse_ok(void)
{
	char *k2 = test_vault_line("k2", 0x02), *k1 = test_vault_line("k1", 0x01), *text;
	struct vault *v;
	char err[512];

	text = xasprintf("# mailroom vault keys\r\n\r\n  %s  \r\n# old\n%s", k2, k1);
	CU_ASSERT_EQUAL_FATAL(vault_load_string(&v, text, "TEST", err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(vault_current_kid(v), "k2");
	CU_ASSERT_EQUAL(vault_key_count(v), 2);
	vault_free(v);
	free(text);

	text = xasprintf("%s,%s", k1, k2);
	CU_ASSERT_EQUAL_FATAL(vault_load_string(&v, text, "TEST", err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(vault_current_kid(v), "k1");
	CU_ASSERT_EQUAL(vault_key_count(v), 2);
	vault_free(v);
	free(text);

	text = xstrdup(k1);
	text[strlen(text) - 1] = '\0';	/* the '=' */
	CU_ASSERT_EQUAL_FATAL(vault_load_string(&v, text, "TEST", err, sizeof(err)), 0);
	vault_free(v);
	free(text);
	vault_free(NULL);
	free(k1);
	free(k2);
}

static char test_tmp[64];

static char *
test_vault_file(const char *text, mode_t mode)
{
	char *path;
	FILE *f;

	if (test_tmp[0] == '\0') {
		strcpy(test_tmp, "/tmp/mailroom-test-vault-XXXXXX");
		CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(test_tmp));
	}
	path = xasprintf("%s/vault.keys", test_tmp);
	unlink(path);
	f = fopen(path, "w");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fputs(text, f);
	fclose(f);
	CU_ASSERT_EQUAL_FATAL(chmod(path, mode), 0);
	return path;
}

/* Key files: errors name file:line; group or others may not have access. */
static void
test_key_file(void)
{
	char *k1 = test_vault_line("k1", 0x01), *text, *path, expect[512], err[512];
	struct vault *v;

	text = xasprintf("# keys\n%s\n\nnot a key\n", k1);
	path = test_vault_file(text, 0600);
	CU_ASSERT_EQUAL(vault_load_file(&v, path, err, sizeof(err)), -1);
	snprintf(expect, sizeof(expect), "%s:4: expected KID:BASE64KEY", path);
	CU_ASSERT_STRING_EQUAL(err, expect);
	free(text);
	free(path);

	text = xasprintf("%s\n", k1);
	static const mode_t refused[] = { 0640, 0604, 0620, 0602, 0610, 0601, 0644, 0660 };
	for (size_t i = 0; i < MR_ARRAY_LEN(refused); i++) {
		path = test_vault_file(text, refused[i]);
		CU_ASSERT_EQUAL(vault_load_file(&v, path, err, sizeof(err)), -1);
		snprintf(expect, sizeof(expect), "%s: group or others have access to the key "
		    "file (mode %04o): run chmod 600 %s", path, (unsigned)refused[i], path);
		CU_ASSERT_STRING_EQUAL(err, expect);
		free(path);
	}
	path = test_vault_file(text, 0400);
	CU_ASSERT_EQUAL(vault_load_file(&v, path, err, sizeof(err)), 0);
	vault_free(v);
	free(path);
	path = test_vault_file(text, 0600);
	CU_ASSERT_EQUAL(vault_load_file(&v, path, err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(vault_current_kid(v), "k1");
	vault_free(v);

	/* Through the configuration. */
	memset(&mr_config, 0, sizeof(mr_config));
	CU_ASSERT_EQUAL(vault_load(&v, err, sizeof(err)), 0);
	CU_ASSERT_PTR_NULL(v);
	mr_config.vault_key_file = path;
	CU_ASSERT_EQUAL(vault_load(&v, err, sizeof(err)), 1);
	CU_ASSERT_PTR_NOT_NULL(v);
	vault_free(v);
	mr_config.vault_key_file = NULL;
	mr_config.vault_keys = k1;
	CU_ASSERT_EQUAL(vault_load(&v, err, sizeof(err)), 1);
	vault_free(v);
	mr_config.vault_keys = "k1:short";
	CU_ASSERT_EQUAL(vault_load(&v, err, sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "MAILROOM_VAULT_KEYS, entry 1: key \"k1\""));
	memset(&mr_config, 0, sizeof(mr_config));
	unlink(path);
	free(path);

	path = xasprintf("%s/missing.keys", test_tmp);
	CU_ASSERT_EQUAL(vault_load_file(&v, path, err, sizeof(err)), -1);
	snprintf(expect, sizeof(expect), "%s: No such file or directory", path);
	CU_ASSERT_STRING_EQUAL(err, expect);
	free(path);
	CU_ASSERT_EQUAL(chmod(test_tmp, 0700), 0);
	CU_ASSERT_EQUAL(vault_load_file(&v, test_tmp, err, sizeof(err)), -1);
	snprintf(expect, sizeof(expect), "%s: not a regular file", test_tmp);
	CU_ASSERT_STRING_EQUAL(err, expect);
	rmdir(test_tmp);
	free(text);
	free(k1);
}

static void
test_keygen(void)
{
	char line[VAULT_KEY_LINE_MAX], line2[VAULT_KEY_LINE_MAX], err[512];
	struct vault *v;

	CU_ASSERT_EQUAL_FATAL(vault_keygen("prod-2026", line), 0);
	CU_ASSERT_EQUAL(strncmp(line, "prod-2026:", 10), 0);
	CU_ASSERT_EQUAL(strlen(line), 10 + VAULT_KEY_B64_LEN);
	CU_ASSERT_EQUAL_FATAL(vault_load_string(&v, line, "TEST", err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(vault_current_kid(v), "prod-2026");
	vault_free(v);
	CU_ASSERT_EQUAL(vault_keygen("prod-2026", line2), 0);
	CU_ASSERT(strcmp(line, line2) != 0);

	CU_ASSERT_EQUAL_FATAL(vault_keygen(NULL, line), 0);
	CU_ASSERT_EQUAL(strlen(line), 13 + 1 + VAULT_KEY_B64_LEN);
	CU_ASSERT_EQUAL(line[8], '-');
	CU_ASSERT_EQUAL(line[13], ':');
	CU_ASSERT_EQUAL_FATAL(vault_load_string(&v, line, "TEST", err, sizeof(err)), 0);
	vault_free(v);

	CU_ASSERT_EQUAL(vault_keygen("Bad", line), -1);
	CU_ASSERT_EQUAL(vault_keygen("", line), -1);
	CU_ASSERT_EQUAL(vault_keygen("abcdefghijklmnopq", line), -1);
	CU_ASSERT(vault_kid_is_valid("abcdefghijklmnop"));
	CU_ASSERT_FALSE(vault_kid_is_valid("a:b"));
	CU_ASSERT_FALSE(vault_kid_is_valid(NULL));
}

static void
test_bytea(void)
{
	static const unsigned char raw[] = { 0x00, 0x01, 0x5c, 0x78, 0xff };
	unsigned char *back;
	size_t len;
	char *param;

	param = vault_bytea_param(raw, sizeof(raw));
	CU_ASSERT_STRING_EQUAL(param, "\\x00015c78ff");
	CU_ASSERT_EQUAL_FATAL(vault_bytea_value(param, &back, &len), 0);
	CU_ASSERT_EQUAL(len, sizeof(raw));
	CU_ASSERT(memcmp(back, raw, len) == 0);
	free(back);
	free(param);
	param = vault_bytea_param(raw, 0);
	CU_ASSERT_STRING_EQUAL(param, "\\x");
	CU_ASSERT_EQUAL(vault_bytea_value(param, &back, &len), 0);
	CU_ASSERT_EQUAL(len, 0);
	free(back);
	free(param);
	CU_ASSERT_EQUAL(vault_bytea_value(NULL, &back, &len), -1);
}

/* The registry's names are plain identifiers and seal. */
static void
test_registry(void)
{
	struct vault *v = test_vault_new("k1", 0x01, NULL, 0);
	unsigned char *ct;
	size_t ctlen;

	CU_ASSERT(vault_columns_count >= 1);
	CU_ASSERT_STRING_EQUAL(vault_columns[0].table, "user_secrets");
	for (size_t i = 0; i < vault_columns_count; i++) {
		CU_ASSERT_EQUAL(vault_seal(v, vault_columns[i].table, 1, 1, "x", 1, &ct, &ctlen),
		    0);
		free(ct);
	}
	vault_free(v);
}

/* ---- rotate-key against a database */

static PGresult *
test_vault_sql(PGconn *c, const char *sql, int n, const char *const *params)
{
	PGresult *r = PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);

	if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK) {
		fprintf(stderr, "%s: %s", sql, PQerrorMessage(c));
		CU_FAIL_FATAL("SQL failed");
	}
	return r;
}

static int64_t
test_vault_user(PGconn *c, const char *email)
{
	const char *params[] = { email };
	PGresult *r = test_vault_sql(c, "INSERT INTO users (email, display_name, password_hash)"
	    " VALUES ($1, 'T', '$argon2id$v=19$m=65536,t=2,p=1$c2FsdA$aGFzaA') RETURNING id", 1,
	    params);
	int64_t id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);

	PQclear(r);
	return id;
}

/* Inserts a secret the documented way: the id first, then the row sealed for it. */
static int64_t
test_vault_insert(PGconn *c, const struct vault *v, int64_t user, const char *name,
    const char *secret)
{
	PGresult *r;
	unsigned char *ct;
	size_t ctlen;
	char ids[24], users[24], *param;
	int64_t id;

	r = test_vault_sql(c, "SELECT nextval(pg_get_serial_sequence('user_secrets', 'id'))",
	    0, NULL);
	id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	CU_ASSERT_EQUAL_FATAL(vault_seal(v, "user_secrets", id, user, secret, strlen(secret),
	    &ct, &ctlen), 0);
	param = vault_bytea_param(ct, ctlen);
	snprintf(ids, sizeof(ids), "%" PRId64, id);
	snprintf(users, sizeof(users), "%" PRId64, user);
	{
		const char *params[] = { ids, users, name, param };

		PQclear(test_vault_sql(c, "INSERT INTO user_secrets (id, user_id, name, ciphertext)"
		    " OVERRIDING SYSTEM VALUE VALUES ($1, $2, $3, $4)", 4, params));
	}
	free(param);
	free(ct);
	return id;
}

struct test_vault_row {
	int64_t id, user;
	char kid[VAULT_KID_MAX + 1];
	char *hex;		/* the ciphertext as the database returns it */
	char *secret;		/* what it opens to with the given vault, or NULL */
};

/* Every row of user_secrets, in id order, opened with v. */
static int
test_vault_rows(PGconn *c, const struct vault *v, struct test_vault_row *rows, int max)
{
	PGresult *r = test_vault_sql(c, "SELECT id, user_id, ciphertext FROM user_secrets "
	    "ORDER BY id", 0, NULL);
	int n = PQntuples(r);

	CU_ASSERT_FATAL(n <= max);
	for (int i = 0; i < n; i++) {
		unsigned char *ct, *pt;
		size_t ctlen, ptlen;

		rows[i].id = strtoll(PQgetvalue(r, i, 0), NULL, 10);
		rows[i].user = strtoll(PQgetvalue(r, i, 1), NULL, 10);
		rows[i].hex = xstrdup(PQgetvalue(r, i, 2));
		rows[i].secret = NULL;
		CU_ASSERT_EQUAL_FATAL(vault_bytea_value(rows[i].hex, &ct, &ctlen), 0);
		if (vault_ct_kid(ct, ctlen, rows[i].kid) == -1)
			strcpy(rows[i].kid, "?");
		if (vault_open(v, "user_secrets", rows[i].id, rows[i].user, ct, ctlen, &pt,
		    &ptlen) == 0) {
			rows[i].secret = xstrdup((char *)pt);
			vault_plain_free(pt, ptlen);
		}
		free(ct);
	}
	PQclear(r);
	return n;
}

static void
test_vault_rows_free(struct test_vault_row *rows, int n)
{
	for (int i = 0; i < n; i++) {
		free(rows[i].hex);
		free(rows[i].secret);
	}
}

static char *
test_vault_secret(int i)
{
	return xasprintf("secret-%d-of-the-rotation-test", i);
}

#define TEST_ROWS 11

static void
test_rotate_db(void)
{
	struct vault *k1, *k2only, *both, *k0, *k3;
	struct vault_rotate_stats st;
	struct test_vault_row before[TEST_ROWS + 1], after[TEST_ROWS + 1];
	int64_t users[3], ids[TEST_ROWS], bad_id;
	char err[1024], *out = NULL, *name, *secret, needle[64];
	size_t outlen = 0;
	FILE *f;
	PGconn *c;
	int n, m;

	if (test_db == NULL)
		return;
	c = unit_db_connect();
	k1 = test_vault_new("k1", 0x01, NULL, 0);
	k2only = test_vault_new("k2", 0x02, NULL, 0);
	both = test_vault_new("k2", 0x02, "k1", 0x01);
	users[0] = test_vault_user(c, "a@example.com");
	users[1] = test_vault_user(c, "b@example.com");
	users[2] = test_vault_user(c, "c@example.com");
	/* Most rows under k1; rows 3 and 7 already under k2. */
	for (int i = 0; i < TEST_ROWS; i++) {
		name = xasprintf("s%d", i);
		secret = test_vault_secret(i);
		ids[i] = test_vault_insert(c, i == 3 || i == 7 ? k2only : k1, users[i % 3], name,
		    secret);
		free(name);
		free(secret);
	}
	/* The database never holds the plaintext. */
	{
		const char *params[] = { "secret-" };
		PGresult *r = test_vault_sql(c, "SELECT count(*) FROM user_secrets WHERE "
		    "position(convert_to($1, 'UTF8') IN ciphertext) > 0", 1, params);

		CU_ASSERT_STRING_EQUAL(PQgetvalue(r, 0, 0), "0");
		PQclear(r);
	}

	/* Rotation under k2 (k1 kept to open the old rows), in batches of 4. */
	f = open_memstream(&out, &outlen);
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	CU_ASSERT_EQUAL(vault_rotate(c, both, 4, f, &st, err, sizeof(err)), 0);
	fclose(f);
	CU_ASSERT_EQUAL(st.resealed, TEST_ROWS - 2);
	CU_ASSERT_EQUAL(st.current, 2);
	CU_ASSERT_EQUAL(st.failed, 0);
	CU_ASSERT_EQUAL(st.held, 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "user_secrets: ids up to"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "re-sealed"));
	free(out);
	out = NULL;
	n = test_vault_rows(c, k2only, before, TEST_ROWS + 1);
	CU_ASSERT_EQUAL_FATAL(n, TEST_ROWS);
	for (int i = 0; i < n; i++) {
		secret = test_vault_secret(i);
		CU_ASSERT_EQUAL(before[i].id, ids[i]);
		CU_ASSERT_STRING_EQUAL(before[i].kid, "k2");
		CU_ASSERT_PTR_NOT_NULL(before[i].secret);
		if (before[i].secret != NULL)
			CU_ASSERT_STRING_EQUAL(before[i].secret, secret);
		free(secret);
	}

	/* A second run changes nothing. */
	CU_ASSERT_EQUAL(vault_rotate(c, both, 4, NULL, &st, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(st.resealed, 0);
	CU_ASSERT_EQUAL(st.current, TEST_ROWS);
	m = test_vault_rows(c, k2only, after, TEST_ROWS + 1);
	CU_ASSERT_EQUAL_FATAL(m, n);
	for (int i = 0; i < n; i++)
		CU_ASSERT_STRING_EQUAL(after[i].hex, before[i].hex);
	test_vault_rows_free(after, m);

	/* A row under a key that is not loaded: reported, and its batch left as it was. */
	k0 = test_vault_new("k0", 0x09, NULL, 0);
	k3 = test_vault_new("k3", 0x03, "k2", 0x02);
	bad_id = test_vault_insert(c, k0, users[1], "lost", "under-a-lost-key");
	f = open_memstream(&out, &outlen);
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	CU_ASSERT_EQUAL(vault_rotate(c, k3, 4, f, &st, err, sizeof(err)), -1);
	fclose(f);
	snprintf(needle, sizeof(needle), "user_secrets row %" PRId64 " (user %" PRId64 "): ",
	    bad_id, users[1]);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, needle));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "sealed with key \"k0\", which is not in the key set"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, needle));
	CU_ASSERT_PTR_NULL(strstr(err, "under-a-lost-key"));
	free(out);
	out = NULL;
	/* 12 rows in batches of 4: the last batch (ids[8..10] and the lost one) is held. */
	CU_ASSERT_EQUAL(st.failed, 1);
	CU_ASSERT_EQUAL(st.resealed, 8);
	CU_ASSERT_EQUAL(st.held, 3);
	CU_ASSERT_EQUAL(st.current, 0);
	m = test_vault_rows(c, k3, after, TEST_ROWS + 1);
	CU_ASSERT_EQUAL_FATAL(m, TEST_ROWS + 1);
	for (int i = 0; i < m; i++) {
		if (i < 8) {
			CU_ASSERT_STRING_EQUAL(after[i].kid, "k3");
			CU_ASSERT_PTR_NOT_NULL(after[i].secret);
		} else if (i < TEST_ROWS) {
			CU_ASSERT_STRING_EQUAL(after[i].hex, before[i].hex);
		} else {
			CU_ASSERT_EQUAL(after[i].id, bad_id);
			CU_ASSERT_STRING_EQUAL(after[i].kid, "k0");
			CU_ASSERT_PTR_NULL(after[i].secret);
		}
	}
	test_vault_rows_free(after, m);

	/* A ciphertext copied onto another row does not open there (an old one: rows under
	 * the current key are skipped without being opened). */
	{
		char a[24], b[24];
		const char *params[] = { a, b };

		snprintf(a, sizeof(a), "%" PRId64, ids[8]);
		snprintf(b, sizeof(b), "%" PRId64, bad_id);
		PQclear(test_vault_sql(c, "UPDATE user_secrets SET ciphertext = (SELECT ciphertext"
		    " FROM user_secrets WHERE id = $1) WHERE id = $2", 2, params));
	}
	CU_ASSERT_EQUAL(vault_rotate(c, k3, 4, NULL, &st, err, sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, needle));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "does not open with key \"k2\""));
	CU_ASSERT_EQUAL(st.failed, 1);

	/* Once the bad row is gone, the run completes. */
	{
		char b[24];
		const char *params[] = { b };

		snprintf(b, sizeof(b), "%" PRId64, bad_id);
		PQclear(test_vault_sql(c, "DELETE FROM user_secrets WHERE id = $1", 1, params));
	}
	CU_ASSERT_EQUAL(vault_rotate(c, k3, 4, NULL, &st, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(st.resealed, 3);
	CU_ASSERT_EQUAL(st.current, 8);

	/* Not inside the caller's transaction. */
	PQclear(test_vault_sql(c, "BEGIN", 0, NULL));
	CU_ASSERT_EQUAL(vault_rotate(c, k3, 4, NULL, &st, err, sizeof(err)), -1);
	CU_ASSERT_STRING_EQUAL(err, "the database connection is inside a transaction");
	PQclear(test_vault_sql(c, "ROLLBACK", 0, NULL));

	test_vault_rows_free(before, n);
	vault_free(k0);
	vault_free(k1);
	vault_free(k2only);
	vault_free(k3);
	vault_free(both);
	PQfinish(c);
}

static const struct unit_test tests[] = {
	{ "round trip", test_round_trip },
	{ "every tampered byte fails", test_tamper },
	{ "bound to table, row and user", test_binding },
	{ "unknown key id fails", test_unknown_key },
	{ "old key opens after a new one is prepended", test_old_key_opens },
	{ "ciphertext never holds the plaintext", test_no_plaintext },
	{ "key set errors", test_parse_errors },
	{ "key set syntax", test_parse_ok },
	{ "key file and its permissions", test_key_file },
	{ "vault-keygen", test_keygen },
	{ "bytea helpers", test_bytea },
	{ "sealed column registry", test_registry },
	{ "rotate-key on a database", test_rotate_db },
	{ NULL, NULL },
};

int
main(void)
{
	int rc;

	if (sodium_init() < 0)
		fatal("sodium_init failed");
	test_db = unit_db_create();
	rc = unit_run("vault", tests);
	unit_db_drop();
	if (rc == 0 && test_db == NULL) {
		printf("SKIP: MAILROOM_TEST_DATABASE_URL not set: rotate-key not tested\n");
		return UNIT_DB_SKIP;
	}
	return rc;
}
