/* audit.c: writes audit_log rows for request handlers (audit.h). */
#include "config.h"

#include <inttypes.h>
#include <stdlib.h>

#include "audit.h"
#include "auth.h"
#include "db-pool.h"
#include "http-server.h"
#include "util.h"

void
audit_record(struct http_ctx *c, int64_t user_id, int64_t actor_id, const char *event,
    json_t *details)
{
	struct db_conn *db = http_ctx_db(c);
	char uid[24], aid[24], *json = NULL;
	const char *params[6];
	PGresult *r;
	int status;

	snprintf(uid, sizeof(uid), "%" PRId64, user_id);
	snprintf(aid, sizeof(aid), "%" PRId64, actor_id);
	if (details != NULL)
		json = json_dumps(details, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(details);
	params[0] = user_id > 0 ? uid : NULL;
	params[1] = actor_id > 0 ? aid : NULL;
	params[2] = event;
	params[3] = c->req->remote_addr;
	params[4] = c->req->user_agent;
	params[5] = json;
	if (db == NULL) {
		log_err("audit %s: no database connection", event);
	} else if ((r = db_exec(db, DB_STMT_AUDIT_INSERT, 6, params, &status)) == NULL) {
		log_err("audit %s: not recorded (status %d)", event, status);
	} else {
		PQclear(r);
	}
	free(json);
}
