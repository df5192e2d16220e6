/* routes.h: the application's route table and the handlers it names. */
#ifndef MAILROOM_ROUTES_H
#define MAILROOM_ROUTES_H

#include "http-router.h"

extern const struct route routes[];
extern const size_t routes_count;

/* page-home.c */
int page_home_landing(struct http_ctx *c);
int page_home_inbox(struct http_ctx *c);

/* page-health.c */
int page_health_healthz(struct http_ctx *c);
int page_health_readyz(struct http_ctx *c);
int page_health_metrics(struct http_ctx *c);

#endif
