/* api-token.h: tokens for the browser extension and scripts. Personal access tokens
 * ("mr_pat_" + 43 base64url characters) are named, scoped, revocable and shown once; the
 * extension's authorization flow yields short-lived access tokens ("mr_at_...") and
 * rotating refresh tokens ("mr_rt_..."). The database keeps only their digests. Tokens
 * are opaque: there is no signature or algorithm to tamper with, a token is valid exactly
 * while its row says so. */
#ifndef MAILROOM_API_TOKEN_H
#define MAILROOM_API_TOKEN_H

#define API_TOKEN_PERSONAL_PREFIX "mr_pat_"
#define API_TOKEN_ACCESS_PREFIX "mr_at_"
#define API_TOKEN_REFRESH_PREFIX "mr_rt_"

/* The scopes a token may carry. */
#define API_SCOPE_READ "read"
#define API_SCOPE_WRITE "write"

#endif
