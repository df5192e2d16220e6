/* pq.h: what the modules that talk to PostgreSQL through a plain PGconn (the worker's
 * jobs and sync, ingest, mail accounts) share: running a statement with text
 * parameters and turning a failure into one sentence. The FastCGI handlers use the pool
 * and its prepared statements instead (db-pool.h). */
#ifndef MAILROOM_PQ_H
#define MAILROOM_PQ_H

#include <stddef.h>
#include <libpq-fe.h>

/* Returns r when its status is a success (a command or rows), else clears it and returns
 * NULL with "<what>: <the database's message, first line kept whole>" in err (err may
 * be NULL). */
PGresult *pq_check(PGconn *c, PGresult *r, const char *what, char *err, size_t errlen);

/* Runs sql with n text parameters: pq_check of PQexecParams. */
PGresult *pq_exec(PGconn *c, const char *what, const char *sql, int n,
    const char *const *params, char *err, size_t errlen);

/* The same for a statement whose rows do not matter: the rows it affected, or -1. */
long pq_run(PGconn *c, const char *what, const char *sql, int n, const char *const *params,
    char *err, size_t errlen);

#endif
