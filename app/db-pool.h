/* db-pool.h: the per-process libpq connection pool shared by the request threads,
 * prepared statements from one table, and the SQLSTATE to HTTP status mapping. */
#ifndef MAILROOM_DB_POOL_H
#define MAILROOM_DB_POOL_H

#include <stddef.h>
#include <libpq-fe.h>

/* Every statement the application runs, prepared on each new connection (db-stmt.c). */
enum db_stmt {
	DB_STMT_PING,
	DB_STMT_MIGRATIONS_APPLIED,
	DB_STMT_BEGIN,
	DB_STMT_COMMIT,
	DB_STMT_ROLLBACK,
	/* Add new statements at the end of a module's block, one block per module, each
	 * named DB_STMT_<MODULE>_<WHAT>; db-stmt.c holds their SQL in the same order. */
	DB_STMT__COUNT
};

struct db_stmt_def {
	enum db_stmt id;
	const char *name;
	const char *sql;
	int nparams;
	int retry_safe;   /* reads only: may run again on a fresh connection */
};

extern const struct db_stmt_def db_stmts[DB_STMT__COUNT];

struct db_conn;
struct db_pool;

/* Connects with the configured connect_timeout, statement_timeout and application_name.
 * On failure returns NULL and writes "cannot connect to database at HOST:PORT/DB: cause"
 * into err. Does not prepare statements. */
PGconn *db_connect(const char *conninfo, const char *application_name, char *err,
    size_t errlen);
/* "host:port/dbname" of a conninfo string or URL, for messages; never includes a password. */
void db_describe_target(const char *conninfo, char *out, size_t outlen);

struct db_pool *db_pool_new(const char *conninfo, int size, int acquire_timeout_ms);
void db_pool_free(struct db_pool *p);
/* Takes a connection, connecting or resetting a broken one (at most one attempt per
 * second per slot). NULL when none is usable within the acquire timeout: answer 503. */
struct db_conn *db_pool_acquire(struct db_pool *p);
void db_pool_release(struct db_pool *p, struct db_conn *c);
/* Connections handed out now, and the pool size. */
int db_pool_in_use(struct db_pool *p);
int db_pool_size(struct db_pool *p);

PGconn *db_conn_pg(struct db_conn *c);
/* Runs a prepared statement with text parameters. Returns the result (caller PQclear's) or
 * NULL with the HTTP status to answer in *status: the SQLSTATE mapping decides it; a broken
 * connection is marked for reset and gives 503. */
PGresult *db_exec(struct db_conn *c, enum db_stmt stmt, int nparams,
    const char *const *params, int *status);

/* SQLSTATE to HTTP status: 23505 -> 409, class 08 -> 503, 40001/40P01 -> 503 (retry), ... */
int db_status_from_sqlstate(const char *sqlstate);
/* Whether a failed statement with this SQLSTATE can be retried as a whole. */
int db_sqlstate_is_retryable(const char *sqlstate);

/* Counted for /metrics: errors by class. */
void db_count_error(const char *sqlstate);

#endif
