/* db-stmt.c: every SQL statement the request handlers run, in one table. Each connection
 * prepares them all when it opens; values always travel as $n parameters. */
#include "config.h"

#include "db-pool.h"

const struct db_stmt_def db_stmts[DB_STMT__COUNT] = {
	[DB_STMT_PING] = { DB_STMT_PING, "ping", "SELECT 1", 0, 1 },
	[DB_STMT_MIGRATIONS_APPLIED] = { DB_STMT_MIGRATIONS_APPLIED, "migrations_applied",
	    "SELECT count(*) AS applied, max(version) AS version, "
	    "(SELECT name FROM schema_migrations ORDER BY version DESC LIMIT 1) AS name "
	    "FROM schema_migrations", 0, 1 },
	[DB_STMT_BEGIN] = { DB_STMT_BEGIN, "begin", "BEGIN", 0, 0 },
	[DB_STMT_COMMIT] = { DB_STMT_COMMIT, "commit", "COMMIT", 0, 0 },
	[DB_STMT_ROLLBACK] = { DB_STMT_ROLLBACK, "rollback", "ROLLBACK", 0, 0 },
};
