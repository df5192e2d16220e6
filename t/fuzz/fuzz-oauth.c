/* fuzz-oauth.c: libFuzzer harness for the checks of the extension's authorization flow
 * (oauth.h) and of its origins (cors.h), all free of I/O. The input is up to six fields
 * separated by NUL bytes: a MAILROOM_EXTENSION_ORIGINS list, an origin or client_id, a
 * redirect_uri, a PKCE verifier, a challenge and a scope list; every field also goes
 * through every check on its own. What a check accepts must have the shape oauth.h and
 * cors.h document, written out again here independently. */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "cors.h"
#include "oauth.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_FIELDS 6
#define FUZZ_CHROME "chrome-extension://"
#define FUZZ_MOZ "moz-extension://"

/* Well-formed client ids the redirect check is also tried with. */
static const char *const fuzz_clients[] = {
	"chrome-extension://abcdefghijklmnopabcdefghijklmnop",
	"moz-extension://0123abcd-4567-89ef-0123-456789abcdef",
};

static int fuzz_ready;

static void
fuzz_fail(const char *what, const char *a, const char *b)
{
	fprintf(stderr, "fuzz-oauth: %s\n  [%s]\n  [%s]\n", what, a != NULL ? a : "(null)",
	    b != NULL ? b : "(null)");
	abort();
}

/* ---- the reference: the documented shapes, written out again */

static int
fuzz_ref_origin(const char *s, size_t n)
{
	size_t cl = strlen(FUZZ_CHROME), ml = strlen(FUZZ_MOZ);

	if (n == cl + 32 && memcmp(s, FUZZ_CHROME, cl) == 0) {
		for (size_t i = cl; i < n; i++) {
			if (s[i] < 'a' || s[i] > 'p')
				return 0;
		}
		return 1;
	}
	if (n == ml + 36 && memcmp(s, FUZZ_MOZ, ml) == 0) {
		static const char hex[] = "0123456789abcdef";

		for (size_t i = 0; i < 36; i++) {
			char c = s[ml + i];

			if (i == 8 || i == 13 || i == 18 || i == 23 ? c != '-' :
			    c == '\0' || strchr(hex, c) == NULL)
				return 0;
		}
		return 1;
	}
	return 0;
}

/* "/" then letters, digits and -._~/, no ".." segment, at most 1000 bytes in all. */
static int
fuzz_ref_path(const char *p)
{
	size_t n = strlen(p);

	if (n == 0 || n > 1000 || p[0] != '/')
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = p[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '.' || c == '_' || c == '~' || c == '/'))
			return 0;
	}
	for (const char *s = p; (s = strstr(s, "/..")) != NULL; s++) {
		if (s[3] == '/' || s[3] == '\0')
			return 0;
	}
	return 1;
}

static int
fuzz_ref_redirect(const char *client, const char *uri)
{
	size_t n = strlen(client);
	char host[128];

	if (!fuzz_ref_origin(client, n))
		return 0;
	if (strncmp(uri, client, n) == 0 && fuzz_ref_path(uri + n))
		return 1;
	if (strncmp(client, FUZZ_CHROME, strlen(FUZZ_CHROME)) != 0)
		return 0;
	snprintf(host, sizeof(host), "https://%s.chromiumapp.org", client + strlen(FUZZ_CHROME));
	return strncmp(uri, host, strlen(host)) == 0 && fuzz_ref_path(uri + strlen(host));
}

static int
fuzz_ref_verifier(const char *v)
{
	size_t n = strlen(v);

	return n >= 43 && n <= 128 && strspn(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789-._~") == n;
}

static int
fuzz_ref_challenge(const char *c)
{
	return strlen(c) == OAUTH_CHALLENGE_LEN && strspn(c, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789-_") == OAUTH_CHALLENGE_LEN;
}

/* The scope list: -1, or the mask. */
static int
fuzz_ref_scopes(const char *s)
{
	unsigned mask = 0;

	while (*s != '\0') {
		size_t n;

		if (*s == ' ') {
			s++;
			continue;
		}
		n = strcspn(s, " ");
		if (n == 4 && strncmp(s, "read", 4) == 0)
			mask |= OAUTH_SCOPE_READ;
		else if (n == 5 && strncmp(s, "write", 5) == 0)
			mask |= OAUTH_SCOPE_WRITE;
		else
			return -1;
		s += n;
	}
	return (int)mask;
}

/* The entries of a comma-separated list, spaces and tabs around them trimmed. */
struct fuzz_entries {
	const char *s[64];
	size_t n[64];
	size_t count;
	int overflow;
};

static void
fuzz_split(const char *list, struct fuzz_entries *e)
{
	const char *p = list;

	memset(e, 0, sizeof(*e));
	if (*p == '\0')
		return;
	for (;;) {
		const char *end = p + strcspn(p, ","), *s = p, *t = end;

		while (s < t && (*s == ' ' || *s == '\t'))
			s++;
		while (t > s && (t[-1] == ' ' || t[-1] == '\t'))
			t--;
		if (e->count == MR_ARRAY_LEN(e->s)) {
			e->overflow = 1;
			return;
		}
		e->s[e->count] = s;
		e->n[e->count++] = (size_t)(t - s);
		if (*end == '\0')
			return;
		p = end + 1;
	}
}

/* ---- the checks */

static void
fuzz_origin(const char *s)
{
	size_t n = strlen(s);
	int ok = cors_origin_wellformed(s, n);

	if (ok != fuzz_ref_origin(s, n))
		fuzz_fail("cors_origin_wellformed disagrees with the documented shape", s, NULL);
	if (ok && (strcmp(s, "null") == 0 || strchr(s, '*') != NULL ||
	    strchr(strstr(s, "://") + 3, '/') != NULL))
		fuzz_fail("an accepted origin that must not be", s, NULL);
	/* Every prefix, from a buffer of exactly that size: no read past n. */
	for (size_t k = n > 60 ? 40 : 0; k < n && k <= 60; k++) {
		char *copy = xmalloc(k > 0 ? k : 1);

		memcpy(copy, s, k);
		if (cors_origin_wellformed(copy, k) != fuzz_ref_origin(copy, k))
			fuzz_fail("cors_origin_wellformed disagrees on a prefix", s, NULL);
		free(copy);
	}
}

static void
fuzz_origins_list(const char *list)
{
	const char *why = cors_origins_invalid(list);
	struct fuzz_entries e;
	char out[4096], uri[256];
	int blank = strspn(list, " \t") == strlen(list);

	fuzz_split(list, &e);
	if (why != NULL) {
		if (*why == '\0')
			fuzz_fail("a refusal without a reason", list, NULL);
		if (blank)
			fuzz_fail("a blank list refused", list, why);
		if (!e.overflow && e.count <= CORS_MAX_ORIGINS) {
			int bad = 0;

			for (size_t i = 0; i < e.count && !bad; i++) {
				if (!fuzz_ref_origin(e.s[i], e.n[i]))
					bad = 1;
				for (size_t j = 0; j < i && !bad; j++) {
					if (e.n[i] == e.n[j] && memcmp(e.s[i], e.s[j], e.n[i]) == 0)
						bad = 1;
				}
			}
			if (!bad)
				fuzz_fail("a good list refused", list, why);
		}
	} else if (!blank) {
		/* Accepted: well-formed entries, none twice, at most CORS_MAX_ORIGINS. */
		if (e.overflow || e.count == 0 || e.count > CORS_MAX_ORIGINS)
			fuzz_fail("a list of the wrong length accepted", list, NULL);
		for (size_t i = 0; i < e.count; i++) {
			if (!fuzz_ref_origin(e.s[i], e.n[i]))
				fuzz_fail("a list with a bad entry accepted", list, NULL);
			for (size_t j = 0; j < i; j++) {
				if (e.n[i] == e.n[j] && memcmp(e.s[i], e.s[j], e.n[i]) == 0)
					fuzz_fail("a list with a repeated entry accepted", list, NULL);
			}
		}
	}
	if (why != NULL)
		return;
	if (blank) {
		if (cors_form_action(list, out, sizeof(out)) != 0 || strcmp(out, "'self'") != 0)
			fuzz_fail("a blank list's form-action is not 'self' alone", list, out);
		return;
	}

	/* A checked list: every entry is listed, and the CSP sources are plain. */
	for (size_t i = 0; i < e.count; i++) {
		char o[128];

		if (e.n[i] >= sizeof(o))
			fuzz_fail("an accepted entry too long", list, NULL);
		memcpy(o, e.s[i], e.n[i]);
		o[e.n[i]] = '\0';
		if (!cors_origin_listed(list, o) || !oauth_client_listed(list, o))
			fuzz_fail("an entry of a checked list is not listed", list, o);
		snprintf(uri, sizeof(uri), "%s/cb", o);
		if (!oauth_redirect_uri_valid(o, uri))
			fuzz_fail("an origin's own page refused as redirect_uri", o, uri);
	}
	if (cors_form_action(list, out, sizeof(out)) != 0)
		fuzz_fail("cors_form_action does not fit a checked list", list, NULL);
	if (strncmp(out, "'self'", 6) != 0 || strpbrk(out + 6, ";,'\"\r\n\t") != NULL)
		fuzz_fail("a form-action that could break the CSP", list, out);
	{
		/* 'self', then two sources per Chrome extension and one per Firefox one. */
		size_t want = 1, got = 1;

		for (size_t i = 0; i < e.count; i++)
			want += strncmp(e.s[i], FUZZ_CHROME, strlen(FUZZ_CHROME)) == 0 ? 2 : 1;
		for (const char *p = out; (p = strchr(p, ' ')) != NULL; p++)
			got++;
		if (got != want)
			fuzz_fail("form-action has the wrong sources", list, out);
	}
	/* Too small a buffer is refused, not overrun. */
	if (e.count > 0 && cors_form_action(list, out, 8) != -1)
		fuzz_fail("cors_form_action claims to fit in 8 bytes", list, NULL);
}

static void
fuzz_listed(const char *list, const char *origin)
{
	int listed = cors_origin_listed(list, origin);

	if (listed != oauth_client_listed(list, origin))
		fuzz_fail("oauth_client_listed differs from cors_origin_listed", list, origin);
	if (listed) {
		struct fuzz_entries e;
		int found = 0;

		if (!fuzz_ref_origin(origin, strlen(origin)))
			fuzz_fail("a malformed origin listed", list, origin);
		fuzz_split(list, &e);
		for (size_t i = 0; i < e.count; i++) {
			if (e.n[i] == strlen(origin) && memcmp(e.s[i], origin, e.n[i]) == 0)
				found = 1;
		}
		if (!found && !e.overflow)
			fuzz_fail("an origin listed that is not in the list", list, origin);
	}
	if (cors_origin_listed(list, "null") || cors_origin_listed(list, "*") ||
	    cors_origin_listed(list, "") || cors_origin_listed(list, NULL) ||
	    cors_origin_listed(NULL, origin))
		fuzz_fail("null, *, empty or NULL listed", list, origin);
}

static void
fuzz_redirect(const char *client, const char *uri)
{
	int ok = oauth_redirect_uri_valid(client, uri);
	const char *rest;

	if (ok != fuzz_ref_redirect(client, uri))
		fuzz_fail(ok ? "a redirect_uri accepted against the documented shape" :
		    "a documented redirect_uri refused", client, uri);
	if (!ok)
		return;
	if ((rest = strstr(uri, "://")) == NULL || strpbrk(rest + 3, "?#@\\%: \t\r\n") != NULL)
		fuzz_fail("an accepted redirect_uri with a query, fragment or userinfo", client,
		    uri);
	if (strncmp(uri, "https://", 8) != 0 && strncmp(uri, client, strlen(client)) != 0)
		fuzz_fail("an accepted redirect_uri neither https:// nor the extension's", client,
		    uri);
	if (strstr(uri, "/../") != NULL ||
	    (strlen(uri) >= 3 && strcmp(uri + strlen(uri) - 3, "/..") == 0))
		fuzz_fail("an accepted redirect_uri with a .. segment", client, uri);
}

static void
fuzz_pkce(const char *verifier, const char *challenge)
{
	char ch[OAUTH_CHALLENGE_LEN + 1];
	int vw = oauth_pkce_verifier_wellformed(verifier);
	int cw = oauth_pkce_challenge_wellformed(challenge);

	if (vw != fuzz_ref_verifier(verifier))
		fuzz_fail("oauth_pkce_verifier_wellformed disagrees", verifier, NULL);
	if (cw != fuzz_ref_challenge(challenge))
		fuzz_fail("oauth_pkce_challenge_wellformed disagrees", challenge, NULL);
	if (oauth_pkce_verify(verifier, challenge)) {
		if (!vw || !cw)
			fuzz_fail("a malformed pair verified", verifier, challenge);
		oauth_pkce_challenge(verifier, ch);
		if (strcmp(ch, challenge) != 0)
			fuzz_fail("verified against another challenge", verifier, challenge);
	}
	if (vw) {
		unsigned char h[crypto_hash_sha256_BYTES];
		char want[OAUTH_CHALLENGE_LEN + 1];

		oauth_pkce_challenge(verifier, ch);
		crypto_hash_sha256(h, (const unsigned char *)verifier, strlen(verifier));
		sodium_bin2base64(want, sizeof(want), h, sizeof(h),
		    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
		if (strcmp(ch, want) != 0 || !oauth_pkce_challenge_wellformed(ch) ||
		    !oauth_pkce_verify(verifier, ch))
			fuzz_fail("a verifier does not verify against its own challenge", verifier,
			    ch);
		/* One character changed, and it no longer does. */
		ch[strlen(verifier) % OAUTH_CHALLENGE_LEN] ^= 1;
		if (oauth_pkce_challenge_wellformed(ch) && oauth_pkce_verify(verifier, ch))
			fuzz_fail("verified against an altered challenge", verifier, ch);
	}
	if (oauth_pkce_verify(NULL, challenge) || oauth_pkce_verify(verifier, NULL) ||
	    oauth_pkce_verifier_wellformed(NULL) || oauth_pkce_challenge_wellformed(NULL))
		fuzz_fail("NULL accepted", verifier, challenge);
}

static void
fuzz_scopes(const char *s)
{
	unsigned mask = 0xdead, again = 0xbeef;
	int rc = oauth_scopes_parse(s, &mask), ref = fuzz_ref_scopes(s);
	const char *text;

	if (rc == -1 ? ref != -1 : (rc != 0 || ref == -1 || mask != (unsigned)ref))
		fuzz_fail("oauth_scopes_parse disagrees", s, NULL);
	if (rc == -1)
		return;
	if ((mask & ~(OAUTH_SCOPE_READ | OAUTH_SCOPE_WRITE)) != 0)
		fuzz_fail("a scope bit that does not exist", s, NULL);
	text = oauth_scopes_text(mask);
	if (oauth_scopes_parse(text, &again) != 0 || again != mask)
		fuzz_fail("the canonical text does not read back", s, text);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *field[FUZZ_FIELDS] = { NULL };
	char *buf;
	size_t nfields = 0, start = 0;

	if (!fuzz_ready) {
		if (sodium_init() < 0)
			abort();
		fuzz_ready = 1;
	}

	buf = xmalloc(size + 1);
	memcpy(buf, data, size);
	buf[size] = '\0';
	for (size_t i = 0; i <= size && nfields < FUZZ_FIELDS; i++) {
		if (i == size || buf[i] == '\0') {
			field[nfields++] = buf + start;
			start = i + 1;
		}
	}

	/* Every field through every check on its own. */
	for (size_t i = 0; i < nfields; i++) {
		const char *f = field[i];

		fuzz_origin(f);
		fuzz_origins_list(f);
		fuzz_scopes(f);
		fuzz_pkce(f, f);
		for (size_t k = 0; k < MR_ARRAY_LEN(fuzz_clients); k++) {
			fuzz_redirect(fuzz_clients[k], f);
			fuzz_listed(f, fuzz_clients[k]);
		}
		fuzz_redirect(f, f);
	}
	/* And together, as a request brings them. */
	if (nfields >= 2) {
		fuzz_listed(field[0], field[1]);
		fuzz_redirect(field[1], nfields >= 3 ? field[2] : "");
	}
	if (nfields >= 4)
		fuzz_pkce(field[3], nfields >= 5 ? field[4] : "");
	if (nfields >= 6)
		fuzz_scopes(field[5]);

	free(buf);
	return 0;
}
