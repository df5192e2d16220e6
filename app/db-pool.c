/* db-pool.c: the libpq pool of one FastCGI process. Threads borrow a connection per
 * request; a broken one is reset, not trusted, and a failed reset answers 503 quickly
 * instead of making requests wait on a database that is down. */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "db-pool.h"
#include "metrics.h"
#include "util.h"

/* A slot whose connection failed is not retried more often than this. */
#define DB_RECONNECT_INTERVAL_US 1000000

struct db_conn {
	struct db_pool *pool;
	PGconn *pg;
	int broken;
	int in_use;
	int64_t last_attempt_us;
};

struct db_pool {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	char *conninfo;
	int size;
	int in_use;
	int acquire_timeout_ms;
	struct db_conn *conns;
};

/* Keeps the first line-ish of a libpq message, with newlines and tabs folded. */
static void
db_one_line(const char *in, char *out, size_t outlen)
{
	size_t n = 0;
	int space = 0;

	for (; *in != '\0' && n + 1 < outlen; in++) {
		if (*in == '\n' || *in == '\t' || *in == '\r') {
			space = 1;
			continue;
		}
		if (space && n > 0) {
			out[n++] = ' ';
			if (n + 1 >= outlen)
				break;
		}
		space = 0;
		out[n++] = *in;
	}
	while (n > 0 && out[n - 1] == ' ')
		n--;
	out[n] = '\0';
}

void
db_describe_target(const char *conninfo, char *out, size_t outlen)
{
	PQconninfoOption *opts, *o;
	const char *host = NULL, *hostaddr = NULL, *port = NULL, *dbname = NULL, *user = NULL;
	char *errmsg = NULL;

	opts = PQconninfoParse(conninfo, &errmsg);
	if (opts == NULL) {
		snprintf(out, outlen, "(unparsable database URL)");
		PQfreemem(errmsg);
		return;
	}
	for (o = opts; o->keyword != NULL; o++) {
		if (o->val == NULL || *o->val == '\0')
			continue;
		if (strcmp(o->keyword, "host") == 0)
			host = o->val;
		else if (strcmp(o->keyword, "hostaddr") == 0)
			hostaddr = o->val;
		else if (strcmp(o->keyword, "port") == 0)
			port = o->val;
		else if (strcmp(o->keyword, "dbname") == 0)
			dbname = o->val;
		else if (strcmp(o->keyword, "user") == 0)
			user = o->val;
	}
	if (host == NULL)
		host = hostaddr != NULL ? hostaddr : getenv("PGHOST");
	if (port == NULL)
		port = getenv("PGPORT");
	if (dbname == NULL)
		dbname = getenv("PGDATABASE");
	snprintf(out, outlen, "%s:%s/%s", host != NULL ? host : "localhost",
	    port != NULL ? port : "5432", dbname != NULL ? dbname : (user != NULL ? user : "?"));
	PQconninfoFree(opts);
}

PGconn *
db_connect(const char *conninfo, const char *application_name, char *err, size_t errlen)
{
	char timeout[16], options[96], target[256], cause[512];
	const char *keys[] = { "dbname", "connect_timeout", "application_name", "options",
	    "client_encoding", NULL };
	const char *vals[6];
	PGconn *pg;

	snprintf(timeout, sizeof(timeout), "%d",
	    mr_config.db_connect_timeout > 0 ? mr_config.db_connect_timeout : 2);
	snprintf(options, sizeof(options), "-c statement_timeout=%d "
	    "-c idle_in_transaction_session_timeout=60000",
	    mr_config.db_statement_timeout_ms);
	vals[0] = conninfo;
	vals[1] = timeout;
	vals[2] = application_name;
	vals[3] = options;
	vals[4] = "UTF8";
	vals[5] = NULL;
	/* expand_dbname: the URL's settings apply, ours (listed after it) override them. */
	pg = PQconnectdbParams(keys, vals, 1);
	if (pg != NULL && PQstatus(pg) == CONNECTION_OK)
		return pg;
	db_describe_target(conninfo, target, sizeof(target));
	if (pg == NULL) {
		snprintf(err, errlen, "cannot connect to database at %s: out of memory", target);
		return NULL;
	}
	if (PQhost(pg) != NULL && *PQhost(pg) != '\0')
		snprintf(target, sizeof(target), "%s:%s/%s", PQhost(pg), PQport(pg),
		    PQdb(pg) != NULL ? PQdb(pg) : "?");
	db_one_line(PQerrorMessage(pg), cause, sizeof(cause));
	snprintf(err, errlen, "cannot connect to database at %s: %s", target, cause);
	PQfinish(pg);
	return NULL;
}

static int
db_prepare_all(PGconn *pg, char *err, size_t errlen)
{
	for (int i = 0; i < DB_STMT__COUNT; i++) {
		const struct db_stmt_def *s = &db_stmts[i];
		PGresult *r = PQprepare(pg, s->name, s->sql, s->nparams, NULL);

		if (PQresultStatus(r) != PGRES_COMMAND_OK) {
			char cause[512];

			db_one_line(PQresultErrorMessage(r), cause, sizeof(cause));
			snprintf(err, errlen, "preparing statement %s: %s", s->name, cause);
			PQclear(r);
			return -1;
		}
		PQclear(r);
	}
	return 0;
}

struct db_pool *
db_pool_new(const char *conninfo, int size, int acquire_timeout_ms)
{
	struct db_pool *p = xcalloc(1, sizeof(*p));

	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	p->conninfo = xstrdup(conninfo);
	p->size = size;
	p->acquire_timeout_ms = acquire_timeout_ms;
	p->conns = xcalloc((size_t)size, sizeof(*p->conns));
	for (int i = 0; i < size; i++)
		p->conns[i].pool = p;
	return p;
}

void
db_pool_free(struct db_pool *p)
{
	if (p == NULL)
		return;
	for (int i = 0; i < p->size; i++) {
		if (p->conns[i].pg != NULL)
			PQfinish(p->conns[i].pg);
	}
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cv);
	free(p->conns);
	free(p->conninfo);
	free(p);
}

/* An idle pool connection has nothing to read: the pool never LISTENs. If it does, the
 * server has said goodbye (a restart, an administrator's termination: an error message
 * and then the end of the stream, maybe not both yet) and the connection is not reused. */
static int
db_conn_alive(struct db_conn *c)
{
	struct pollfd pfd;

	if (c->pg == NULL || c->broken || PQstatus(c->pg) != CONNECTION_OK)
		return 0;
	pfd.fd = PQsocket(c->pg);
	pfd.events = POLLIN;
	pfd.revents = 0;
	if (pfd.fd < 0)
		return 0;
	return poll(&pfd, 1, 0) == 0;
}

/* Opens the slot's connection and prepares every statement on it. */
static int
db_conn_open(struct db_conn *c)
{
	char err[768];

	if (c->pg != NULL) {
		PQfinish(c->pg);
		c->pg = NULL;
	}
	c->last_attempt_us = util_now_us();
	c->pg = db_connect(c->pool->conninfo, "mailroom-fcgi", err, sizeof(err));
	if (c->pg == NULL) {
		metrics_db_error("08006");
		log_err("%s", err);
		return -1;
	}
	if (db_prepare_all(c->pg, err, sizeof(err)) == -1) {
		metrics_db_error("XX000");
		log_err("%s", err);
		PQfinish(c->pg);
		c->pg = NULL;
		return -1;
	}
	c->broken = 0;
	c->last_attempt_us = 0;
	return 0;
}

static void
db_pool_publish(struct db_pool *p)
{
	metrics_pool(p->in_use, p->size);
}

struct db_conn *
db_pool_acquire(struct db_pool *p)
{
	struct db_conn *c = NULL;
	struct timespec deadline;
	int64_t now;

	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += p->acquire_timeout_ms / 1000;
	deadline.tv_nsec += (long)(p->acquire_timeout_ms % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}

	pthread_mutex_lock(&p->mu);
	for (;;) {
		struct db_conn *idle = NULL, *empty = NULL;

		for (int i = 0; i < p->size; i++) {
			struct db_conn *s = &p->conns[i];

			if (s->in_use)
				continue;
			if (s->pg != NULL && !s->broken) {
				idle = s;
				break;
			}
			if (empty == NULL)
				empty = s;
		}
		c = idle != NULL ? idle : empty;
		if (c != NULL)
			break;
		if (pthread_cond_timedwait(&p->cv, &p->mu, &deadline) == ETIMEDOUT) {
			pthread_mutex_unlock(&p->mu);
			log_warn("no database connection free within %d ms", p->acquire_timeout_ms);
			return NULL;
		}
	}
	c->in_use = 1;
	p->in_use++;
	db_pool_publish(p);
	pthread_mutex_unlock(&p->mu);

	if (db_conn_alive(c))
		return c;

	/* Dead or never opened: reconnect, at most once a second per slot so that requests
	 * fail fast while the database is down. */
	now = util_now_us();
	if ((c->last_attempt_us == 0 || now - c->last_attempt_us >= DB_RECONNECT_INTERVAL_US) &&
	    db_conn_open(c) == 0)
		return c;
	if (c->pg != NULL) {
		PQfinish(c->pg);
		c->pg = NULL;
	}
	db_pool_release(p, c);
	return NULL;
}

void
db_pool_release(struct db_pool *p, struct db_conn *c)
{
	if (c == NULL)
		return;
	/* A connection left inside a transaction by a failed handler is not reused as is. */
	if (c->pg != NULL && PQtransactionStatus(c->pg) != PQTRANS_IDLE)
		c->broken = 1;
	pthread_mutex_lock(&p->mu);
	c->in_use = 0;
	p->in_use--;
	db_pool_publish(p);
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

int
db_pool_in_use(struct db_pool *p)
{
	int n;

	pthread_mutex_lock(&p->mu);
	n = p->in_use;
	pthread_mutex_unlock(&p->mu);
	return n;
}

int
db_pool_size(struct db_pool *p)
{
	return p->size;
}

PGconn *
db_conn_pg(struct db_conn *c)
{
	return c->pg;
}

/* The one mapping from SQLSTATE to the HTTP status a request answers with. */
static const struct {
	const char *prefix; /* a whole code, or a two-character class */
	int status;
	int retryable;
} db_sqlstate_map[] = {
	{ "23505", 409, 0 },  /* unique_violation */
	{ "23503", 409, 0 },  /* foreign_key_violation */
	{ "23P01", 409, 0 },  /* exclusion_violation */
	{ "23502", 400, 0 },  /* not_null_violation */
	{ "23514", 400, 0 },  /* check_violation */
	{ "22", 400, 0 },     /* data exception: bad input reached SQL */
	{ "40001", 503, 1 },  /* serialization_failure */
	{ "40P01", 503, 1 },  /* deadlock_detected */
	{ "55P03", 503, 1 },  /* lock_not_available */
	{ "57014", 503, 0 },  /* query_canceled: statement_timeout */
	{ "57P", 503, 0 },    /* admin or crash shutdown */
	{ "08", 503, 0 },     /* connection exception */
	{ "53", 503, 0 },     /* insufficient resources */
	{ "54", 500, 0 },     /* program limit exceeded */
	{ "42", 500, 0 },     /* syntax error or access rule: our bug or a missing migration */
};

int
db_status_from_sqlstate(const char *sqlstate)
{
	if (sqlstate == NULL)
		return 503;
	for (size_t i = 0; i < MR_ARRAY_LEN(db_sqlstate_map); i++) {
		const char *pre = db_sqlstate_map[i].prefix;

		if (strncmp(sqlstate, pre, strlen(pre)) == 0)
			return db_sqlstate_map[i].status;
	}
	return 500;
}

int
db_sqlstate_is_retryable(const char *sqlstate)
{
	if (sqlstate == NULL)
		return 0;
	for (size_t i = 0; i < MR_ARRAY_LEN(db_sqlstate_map); i++) {
		const char *pre = db_sqlstate_map[i].prefix;

		if (strncmp(sqlstate, pre, strlen(pre)) == 0)
			return db_sqlstate_map[i].retryable;
	}
	return 0;
}

void
db_count_error(const char *sqlstate)
{
	metrics_db_error(sqlstate);
}

PGresult *
db_exec(struct db_conn *c, enum db_stmt stmt, int nparams, const char *const *params,
    int *status)
{
	const struct db_stmt_def *s = &db_stmts[stmt];

	for (int attempt = 0;; attempt++) {
		/* Only a statement outside a transaction may run again on its own. */
		int alone = PQtransactionStatus(c->pg) == PQTRANS_IDLE;
		PGresult *r = PQexecPrepared(c->pg, s->name, nparams, params, NULL, NULL, 0);
		ExecStatusType st = PQresultStatus(r);
		const char *sqlstate;
		char cause[512];

		if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
			*status = 200;
			return r;
		}
		if (PQstatus(c->pg) != CONNECTION_OK) {
			db_one_line(PQerrorMessage(c->pg), cause, sizeof(cause));
			metrics_db_error("08006");
			PQclear(r);
			/* A read can run again on a new connection: the server may have been
			 * restarted since this one was last used. */
			if (s->retry_safe && alone && attempt == 0 && db_conn_open(c) == 0) {
				log_info("statement %s: connection lost (%s), reconnected", s->name,
				    cause);
				continue;
			}
			c->broken = 1;
			log_err("statement %s: connection lost: %s", s->name, cause);
			*status = 503;
			return NULL;
		}
		sqlstate = PQresultErrorField(r, PG_DIAG_SQLSTATE);
		metrics_db_error(sqlstate);
		/* A lone statement outside a transaction can simply run again. */
		if (db_sqlstate_is_retryable(sqlstate) && attempt < 2 && alone) {
			PQclear(r);
			continue;
		}
		db_one_line(PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) != NULL ?
		    PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : PQerrorMessage(c->pg),
		    cause, sizeof(cause));
		*status = db_status_from_sqlstate(sqlstate);
		if (*status >= 500)
			log_err("statement %s failed: %s (SQLSTATE %s)", s->name, cause,
			    sqlstate != NULL ? sqlstate : "none");
		else
			log_info("statement %s refused: %s (SQLSTATE %s)", s->name, cause,
			    sqlstate != NULL ? sqlstate : "none");
		PQclear(r);
		return NULL;
	}
}
