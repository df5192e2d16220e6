/* routes.c: every URL of the application in one table. Flags declare what a route needs
 * before its handler runs: a session or a token, and a CSRF check on unsafe methods. */
#include "config.h"

#include "routes.h"

const struct route routes[] = {
	{ "GET", "/", page_home_landing, 0, NULL },
	{ "GET", "/inbox", page_home_inbox, 0, NULL },
	{ "GET", "/healthz", page_health_healthz, ROUTE_JSON, NULL },
	{ "GET", "/readyz", page_health_readyz, ROUTE_JSON, NULL },
	{ "GET", "/metrics", page_health_metrics, 0, NULL },
};

const size_t routes_count = MR_ARRAY_LEN(routes);
