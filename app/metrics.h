/* metrics.h: Prometheus counters shared by all FastCGI processes. Each process owns one
 * slot file in the metrics directory (found by flock) and counts into it with atomics;
 * /metrics sums the slots of every process, living or gone, so counters stay monotonic. */
#ifndef MAILROOM_METRICS_H
#define MAILROOM_METRICS_H

#include <stdint.h>
#include "arena.h"

#define METRICS_MAX_ROUTES 128
#define METRICS_MAX_SLOTS 64

/* Opens (or adopts) this process's slot in dir; with dir NULL the counters are private to
 * the process. route_names are the labels of route indexes 0..nroutes-1; index nroutes is
 * "unmatched". Returns -1 with err on failure. */
int metrics_open(const char *dir, const char *const *route_names, int nroutes, char *err,
    size_t errlen);
void metrics_close(void);

void metrics_request(int route, int status, int64_t duration_us);
void metrics_db_error(const char *sqlstate);
void metrics_pool(int in_use, int size);

/* Appends the Prometheus text exposition of every slot to out. */
void metrics_render(struct buf *out);

/* For tests: index of a status in the fixed status list, and of a SQLSTATE class. */
int metrics_status_index(int status);
int metrics_db_class_index(const char *sqlstate);

#endif
