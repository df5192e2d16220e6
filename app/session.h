/* session.h: browser sessions. The cookie carries a 256-bit random secret; PostgreSQL keeps
 * its BLAKE2b digest with the user, the limits (idle: MAILROOM_SESSION_IDLE, absolute:
 * MAILROOM_SESSION_MAX) and what the settings page lists (device, address, last seen).
 * The cookie is "__Host-mr_session" (Secure, HttpOnly, SameSite=Lax, Path=/) except on the
 * plain-HTTP development stack, where browsers refuse __Host- and Secure: "mr_session". */
#ifndef MAILROOM_SESSION_H
#define MAILROOM_SESSION_H

#include <stdint.h>
#include "http-router.h"

const char *session_cookie_name(void);
/* The anonymous pre-session cookie that anonymous forms' CSRF tokens are bound to. */
const char *session_pre_cookie_name(void);

/* Signs user_id in: ends the request's current session if any (a new id at every
 * sign-in), creates a new one and sets its cookie. Returns 0, or the failure status
 * already recorded on c->res. */
int session_start(struct http_ctx *c, int64_t user_id);
/* Signs out: deletes the request's session and clears the cookie. */
int session_end_current(struct http_ctx *c);

#endif
