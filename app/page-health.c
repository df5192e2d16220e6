/* page-health.c: the operational endpoints: /healthz (the process answers), /readyz (the
 * database answers and its schema is this build's), /metrics (Prometheus text). */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "db-migrate.h"
#include "db-pool.h"
#include "http-server.h"
#include "metrics.h"
#include "routes.h"

int
page_health_healthz(struct http_ctx *c)
{
	http_response_json(c->res, 200, json_pack("{s:s}", "status", "ok"));
	return 200;
}

static int
page_health_unready(struct http_ctx *c, const char *reason)
{
	http_response_header(c->res, "Retry-After", "5");
	http_response_json(c->res, 503, json_pack("{s:s, s:s}", "status", "unavailable",
	    "reason", reason));
	return 503;
}

int
page_health_readyz(struct http_ctx *c)
{
	const struct db_migration *latest;
	struct db_conn *db = http_ctx_db(c);
	PGresult *r;
	int status;
	long applied;

	if (db == NULL)
		return page_health_unready(c, "database unreachable");
	r = db_exec(db, DB_STMT_MIGRATIONS_APPLIED, 0, NULL, &status);
	if (r == NULL)
		return page_health_unready(c, "database query failed");
	applied = strtol(PQgetvalue(r, 0, PQfnumber(r, "applied")), NULL, 10);
	latest = db_migrations_count > 0 ? &db_migrations[db_migrations_count - 1] : NULL;
	if (latest != NULL && (applied != (long)db_migrations_count ||
	    strcmp(PQgetvalue(r, 0, PQfnumber(r, "name")), latest->name) != 0)) {
		char *why = arena_printf(c->arena, "schema is at %s, this build needs %s",
		    PQgetisnull(r, 0, PQfnumber(r, "name")) ? "nothing" :
		    PQgetvalue(r, 0, PQfnumber(r, "name")), latest->name);
		PQclear(r);
		return page_health_unready(c, why);
	}
	PQclear(r);
	http_response_json(c->res, 200, json_pack("{s:s, s:s}", "status", "ready", "schema",
	    latest != NULL ? latest->name : ""));
	return 200;
}

int
page_health_metrics(struct http_ctx *c)
{
	if (c->pool != NULL)
		metrics_pool(db_pool_in_use(c->pool), db_pool_size(c->pool));
	c->res->content_type = "text/plain; version=0.0.4; charset=utf-8";
	metrics_render(&c->res->body);
	return 200;
}
