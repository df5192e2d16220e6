/* oauth.h: the browser extension's authorization flow, OAuth 2.0 authorization code with
 * PKCE (RFC 6749, RFC 7636) for a public client, and token revocation (RFC 7009).
 *
 * The client id is the extension's origin, one of MAILROOM_EXTENSION_ORIGINS. Its
 * redirect_uri is either https://<id>.chromiumapp.org/<path> (Chrome's and Edge's
 * chrome.identity.launchWebAuthFlow, for a chrome-extension://<id> client) or the
 * extension's own origin followed by /<path>; <path> holds only letters, digits and
 * "-._~/", with no "..", no query and no fragment. The code lives 60 seconds and is
 * used once; the token endpoint answers an access token (MAILROOM_ACCESS_TOKEN_TTL,
 * 15 minutes) and a refresh token that rotates on every use: it lives 30 days from its
 * last use and at most 90 days from the authorization. A refresh token presented a
 * second time, or a code exchanged a second time, revokes every token of its
 * authorization (its family). The functions below are the checks, free of I/O. */
#ifndef MAILROOM_OAUTH_H
#define MAILROOM_OAUTH_H

#include <stddef.h>

#define OAUTH_CODE_PREFIX "mr_ac_"
#define OAUTH_CODE_TTL 60
#define OAUTH_REFRESH_IDLE (30 * 86400)
#define OAUTH_REFRESH_MAX (90 * 86400)
/* The base64url text of a SHA-256 digest, without padding: the S256 challenge. */
#define OAUTH_CHALLENGE_LEN 43
/* What a state parameter may hold: it travels back to the extension as it came. */
#define OAUTH_STATE_MAX 500

/* Scopes as bits. */
#define OAUTH_SCOPE_READ 1u
#define OAUTH_SCOPE_WRITE 2u

/* Parses a space-separated scope list ("read write"); each scope is read or write, in
 * any order, repeats allowed. Returns 0 with the bits in *mask (0 for an empty list), or
 * -1 on an unknown scope or a character outside RFC 6749's scope-token. */
int oauth_scopes_parse(const char *s, unsigned *mask);
/* "read", "write", "read write" or "" for a mask, in that canonical order. */
const char *oauth_scopes_text(unsigned mask);

/* RFC 7636 4.1: 43 to 128 characters of [A-Za-z0-9-._~]. */
int oauth_pkce_verifier_wellformed(const char *v);
/* An S256 challenge: exactly 43 base64url characters. */
int oauth_pkce_challenge_wellformed(const char *ch);
/* BASE64URL(SHA-256(verifier)) without padding, into out (OAUTH_CHALLENGE_LEN + 1). */
void oauth_pkce_challenge(const char *verifier, char out[OAUTH_CHALLENGE_LEN + 1]);
/* Whether verifier is well-formed and its S256 challenge equals challenge (compared in
 * constant time). */
int oauth_pkce_verify(const char *verifier, const char *challenge);

/* Whether client_id is an extension origin of the list (a checked
 * MAILROOM_EXTENSION_ORIGINS value); oauth_client_allowed checks the running one. */
int oauth_client_listed(const char *list, const char *client_id);
int oauth_client_allowed(const char *client_id);
/* Whether redirect_uri is one the client may use (see the top of this file); client_id
 * must be a well-formed extension origin. */
int oauth_redirect_uri_valid(const char *client_id, const char *redirect_uri);

#endif
