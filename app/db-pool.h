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
	/* session.c, auth.c, audit.c, page-account.c */
	DB_STMT_SESSION_CREATE,
	DB_STMT_SESSION_LOOKUP,
	DB_STMT_SESSION_TOUCH,
	DB_STMT_SESSION_REAUTH,
	DB_STMT_SESSION_DELETE,
	DB_STMT_SESSION_DELETE_OTHERS,
	DB_STMT_SESSION_DELETE_ALL,
	DB_STMT_SESSION_LIST,
	DB_STMT_AUDIT_INSERT,
	DB_STMT_USER_FOR_LOGIN,
	DB_STMT_USER_CREATE,
	DB_STMT_USER_REHASH,
	DB_STMT_USER_COUNT,
	DB_STMT_TIME_ZONE_VALID,
	DB_STMT_INVITE_CLAIM,
	DB_STMT_INVITE_SET_USER,
	DB_STMT_USER_SETTINGS,
	DB_STMT_USER_UPDATE_PROFILE,
	DB_STMT_USER_SET_PASSWORD,
	DB_STMT_USER_SET_EMAIL,
	DB_STMT_RESET_CREATE,
	DB_STMT_RESET_PEEK,
	DB_STMT_RESET_CLAIM,
	DB_STMT_RESET_END_OTHERS,
	DB_STMT_AUDIT_LIST_USER,
	/* api-token.c */
	DB_STMT_TOKEN_LOOKUP,
	DB_STMT_TOKEN_TOUCH,
	/* throttle.c */
	DB_STMT_THROTTLE_CHECK,
	DB_STMT_THROTTLE_FAIL,
	DB_STMT_THROTTLE_SUCCESS,
	DB_STMT_THROTTLE_PURGE,
	/* page-admin.c */
	DB_STMT_ADMIN_USER_LIST,
	DB_STMT_ADMIN_USER_GET,
	DB_STMT_ADMIN_ADMINS_LOCK,
	DB_STMT_ADMIN_USER_LOCK,
	DB_STMT_ADMIN_USER_SET_DISABLED,
	DB_STMT_ADMIN_USER_SET_ROLE,
	DB_STMT_ADMIN_TOKENS_REVOKE,
	DB_STMT_ADMIN_RESETS_EXPIRE,
	DB_STMT_ADMIN_CODES_DELETE,
	DB_STMT_ADMIN_RESET_CREATE,
	DB_STMT_ADMIN_INVITE_CREATE,
	DB_STMT_ADMIN_INVITE_LIST,
	DB_STMT_ADMIN_INVITE_REVOKE,
	DB_STMT_ADMIN_AUDIT_LIST,
	/* page-tokens.c, oauth.c */
	DB_STMT_APITOKEN_PAT_CREATE,
	DB_STMT_APITOKEN_PAT_LIST,
	DB_STMT_APITOKEN_PAT_REVOKE,
	DB_STMT_APITOKEN_FAMILY_LIST,
	DB_STMT_APITOKEN_FAMILY_REVOKE,
	DB_STMT_APITOKEN_CODE_CREATE,
	DB_STMT_APITOKEN_CODE_EXCHANGE,
	DB_STMT_APITOKEN_CODE_REUSE,
	DB_STMT_APITOKEN_REFRESH,
	DB_STMT_APITOKEN_REFRESH_REUSE,
	DB_STMT_APITOKEN_OAUTH_REVOKE,
	/* page-mailboxes.c: connected mail accounts */
	DB_STMT_MAILBOX_TEST_ALLOW,
	/* END page-mailboxes.c */
	/* page-mail.c: message list, thread view, search */
	DB_STMT_MAIL_ACCOUNTS,
	DB_STMT_MAIL_CATEGORIZED,
	DB_STMT_MAIL_THREAD,
	DB_STMT_MAIL_THREAD_MESSAGES,
	DB_STMT_MAIL_MESSAGE,
	DB_STMT_MAIL_ATTACHMENTS,
	DB_STMT_MAIL_BODY,
	DB_STMT_MAIL_CATEGORY,
	DB_STMT_MAIL_CATEGORIES,
	DB_STMT_MAIL_NAV,
	DB_STMT_MAIL_RECAT_THREAD,
	DB_STMT_MAIL_RECAT_STORE,
	DB_STMT_MAIL_SENDER_SET,
	DB_STMT_MAIL_SENDER_OF,
	/* END page-mail.c */
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
