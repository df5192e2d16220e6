/* audit.h: the audit log. Sign-ins and their failures, password and email changes, token
 * creation and revocation, admin actions: each a row of audit_log with who it concerns,
 * who did it, the client address and user agent, and details as JSON. */
#ifndef MAILROOM_AUDIT_H
#define MAILROOM_AUDIT_H

#include <stdint.h>
#include <jansson.h>
#include "http-router.h"

/* Records event for user_id (0: none) done by actor_id (0: the user themselves when
 * signed in, else unknown) with details (stolen; NULL for {}). Never fails the request:
 * a failure to write is logged. */
void audit_record(struct http_ctx *c, int64_t user_id, int64_t actor_id, const char *event,
    json_t *details);

#endif
