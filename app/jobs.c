/* jobs.c: the job queue (jobs.h). Plain libpq with $n parameters: the worker is not a
 * FastCGI process and has no pool. Every statement is in the table below; every time is
 * now() of the database, never this host's clock. */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libpq-fe.h>

#include "jobs.h"
#include "pq.h"
#include "util.h"

enum jobs_sql {
	JOBS_SQL_ENQUEUE,
	JOBS_SQL_CLAIM,
	JOBS_SQL_HEARTBEAT,
	JOBS_SQL_DELETE,
	JOBS_SQL_RESCHEDULE,
	JOBS_SQL_FAIL,
	JOBS_SQL_RELEASE,
	JOBS_SQL_SCHEDULE_SYNCS,
	JOBS_SQL__COUNT
};

/* The conflict target of the partial unique index jobs_unique_live. */
#define JOBS_LIVE_KEY \
	"ON CONFLICT (unique_key) WHERE unique_key IS NOT NULL AND dead_at IS NULL DO NOTHING "
/* A run is identified by its worker and its attempt: a job whose lease ran out and that
 * another worker claimed is no longer this run's to finish. */
#define JOBS_THIS_RUN "WHERE id = $1 AND locked_by = $2 AND attempts = $3 "

static const char *const jobs_sql[JOBS_SQL__COUNT] = {
	/* $1 kind, $2 payload, $3 user_id, $4 unique_key, $5 delay, $6 max_attempts.
	 * The second branch finds the live job holding the key when the insert did nothing. */
	[JOBS_SQL_ENQUEUE] =
	"WITH ins AS (INSERT INTO jobs (kind, payload, user_id, unique_key, run_at, "
	"max_attempts) VALUES ($1, $2::jsonb, $3::bigint, $4::text, "
	"now() + make_interval(secs => $5::int), $6::int) "
	JOBS_LIVE_KEY "RETURNING id) "
	"SELECT id FROM ins UNION ALL "
	"SELECT id FROM jobs WHERE $4::text IS NOT NULL AND unique_key = $4::text "
	"AND dead_at IS NULL LIMIT 1",
	/* $1 worker, $2 lease seconds, $3 kinds (text[]). */
	[JOBS_SQL_CLAIM] =
	"UPDATE jobs SET locked_by = $1, locked_until = now() + make_interval(secs => $2::int), "
	"attempts = attempts + 1 "
	"WHERE id = (SELECT id FROM jobs WHERE dead_at IS NULL AND run_at <= now() "
	"AND (locked_until IS NULL OR locked_until < now()) AND kind = ANY($3::text[]) "
	"ORDER BY run_at, id FOR UPDATE SKIP LOCKED LIMIT 1) "
	"RETURNING id, kind, payload::text, coalesce(user_id, 0), unique_key, attempts, "
	"max_attempts",
	/* $4 lease seconds. */
	[JOBS_SQL_HEARTBEAT] =
	"UPDATE jobs SET locked_until = now() + make_interval(secs => $4::int) "
	JOBS_THIS_RUN "AND dead_at IS NULL",
	[JOBS_SQL_DELETE] =
	"DELETE FROM jobs " JOBS_THIS_RUN,
	/* $4 seconds until the next run. */
	[JOBS_SQL_RESCHEDULE] =
	"UPDATE jobs SET locked_by = NULL, locked_until = NULL, attempts = 0, "
	"last_error = NULL, run_at = now() + make_interval(secs => $4::int) " JOBS_THIS_RUN,
	/* $4 error, $5 permanent, $6 backoff base, $7 backoff cap. The exponent is bounded so
	 * that the power never overflows whatever attempts is. */
	[JOBS_SQL_FAIL] =
	"UPDATE jobs SET locked_by = NULL, locked_until = NULL, last_error = $4, "
	"dead_at = CASE WHEN $5::boolean OR attempts >= max_attempts THEN now() END, "
	"run_at = CASE WHEN $5::boolean OR attempts >= max_attempts THEN run_at "
	"ELSE now() + make_interval(secs => least($6::int * power(2, least(attempts - 1, 30)), "
	"$7::int) * (0.75 + random() * 0.5)) END " JOBS_THIS_RUN
	"RETURNING dead_at IS NOT NULL",
	[JOBS_SQL_RELEASE] =
	"UPDATE jobs SET locked_by = NULL, locked_until = NULL, "
	"attempts = greatest(attempts - 1, 0) " JOBS_THIS_RUN,
	/* $1 max_attempts. */
	[JOBS_SQL_SCHEDULE_SYNCS] =
	"INSERT INTO jobs (kind, payload, user_id, unique_key, max_attempts) "
	"SELECT 'sync', jsonb_build_object('account_id', a.id), a.user_id, 'sync:' || a.id, "
	"$1::int FROM mail_accounts a JOIN users u ON u.id = a.user_id "
	"WHERE a.sync_state <> 'disabled' AND a.auth_failed_at IS NULL "
	"AND a.provider <> 'mbox' AND NOT u.disabled ORDER BY a.id "
	JOBS_LIVE_KEY,
};

/* Runs statement s; returns the result when its status is ok, else NULL with the
 * database's message in err. */
static PGresult *
jobs_exec(PGconn *conn, enum jobs_sql s, int n, const char *const *params, char *err,
    size_t errlen)
{
	return pq_exec(conn, "job queue", jobs_sql[s], n, params, err, errlen);
}

/* The affected rows of a command: 1 or 0 here. */
static int
jobs_affected(PGresult *r)
{
	const char *s = PQcmdTuples(r);

	return s != NULL && *s != '\0' && strcmp(s, "0") != 0;
}

int64_t
jobs_enqueue(PGconn *conn, const char *kind, const char *payload, int64_t user_id,
    const char *unique_key, int delay_seconds, int max_attempts, char *err, size_t errlen)
{
	char uid[24], delay[16], max[16];
	const char *params[6];
	PGresult *r;
	int64_t id = -1;
	int tries;

	if (kind == NULL || *kind == '\0' || strlen(kind) > JOBS_KIND_MAX) {
		snprintf(err, errlen, "job queue: invalid job kind");
		return -1;
	}
	if (delay_seconds < 0)
		delay_seconds = 0;
	if (max_attempts < 1)
		max_attempts = 1;
	snprintf(uid, sizeof uid, "%" PRId64, user_id);
	snprintf(delay, sizeof delay, "%d", delay_seconds);
	snprintf(max, sizeof max, "%d", max_attempts);
	params[0] = kind;
	params[1] = payload != NULL ? payload : "{}";
	params[2] = user_id > 0 ? uid : NULL;
	params[3] = unique_key;
	params[4] = delay;
	params[5] = max;
	/* Neither branch finds a row when the holder of the key committed after this
	 * statement's snapshot and then went away: try again. */
	for (tries = 0; tries < 3 && id < 0; tries++) {
		if ((r = jobs_exec(conn, JOBS_SQL_ENQUEUE, 6, params, err, errlen)) == NULL)
			return -1;
		if (PQntuples(r) == 1)
			id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
		PQclear(r);
	}
	if (id < 0)
		snprintf(err, errlen, "job queue: cannot enqueue %s: key %s keeps changing", kind,
		    unique_key != NULL ? unique_key : "");
	return id;
}

/* kinds as a text[] literal: {"a","b"} with quotes and backslashes escaped. */
static char *
jobs_kinds_array(const char *const *kinds, size_t nkinds)
{
	size_t i, len = 3;
	const char *p;
	char *s, *o;

	for (i = 0; i < nkinds; i++)
		len += 2 * strlen(kinds[i]) + 3;
	o = s = xmalloc(len);
	*o++ = '{';
	for (i = 0; i < nkinds; i++) {
		if (i > 0)
			*o++ = ',';
		*o++ = '"';
		for (p = kinds[i]; *p != '\0'; p++) {
			if (*p == '"' || *p == '\\')
				*o++ = '\\';
			*o++ = *p;
		}
		*o++ = '"';
	}
	*o++ = '}';
	*o = '\0';
	return s;
}

int
jobs_claim(PGconn *conn, const char *worker_id, const char *const *kinds, size_t nkinds,
    int lease_seconds, struct job *out, char *err, size_t errlen)
{
	char lease[16], *arr;
	const char *params[3];
	PGresult *r;

	memset(out, 0, sizeof *out);
	out->reschedule = -1;
	if (nkinds == 0)
		return 0;
	if (strlen(worker_id) >= sizeof out->worker_id) {
		snprintf(err, errlen, "job queue: worker id too long");
		return -1;
	}
	snprintf(lease, sizeof lease, "%d", lease_seconds > 0 ? lease_seconds : 1);
	arr = jobs_kinds_array(kinds, nkinds);
	params[0] = worker_id;
	params[1] = lease;
	params[2] = arr;
	r = jobs_exec(conn, JOBS_SQL_CLAIM, 3, params, err, errlen);
	free(arr);
	if (r == NULL)
		return -1;
	if (PQntuples(r) != 1) {
		PQclear(r);
		return 0;
	}
	out->id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	snprintf(out->kind, sizeof out->kind, "%s", PQgetvalue(r, 0, 1));
	out->payload = xstrdup(PQgetvalue(r, 0, 2));
	out->user_id = strtoll(PQgetvalue(r, 0, 3), NULL, 10);
	out->unique_key = PQgetisnull(r, 0, 4) ? NULL : xstrdup(PQgetvalue(r, 0, 4));
	out->attempts = atoi(PQgetvalue(r, 0, 5));
	out->max_attempts = atoi(PQgetvalue(r, 0, 6));
	snprintf(out->worker_id, sizeof out->worker_id, "%s", worker_id);
	PQclear(r);
	return 1;
}

/* The parameters naming this run of job: $1 id, $2 worker, $3 attempts. */
struct jobs_run {
	char id[24], attempts[16];
	const char *params[7];
};

static void
jobs_run_init(struct jobs_run *run, const struct job *job)
{
	snprintf(run->id, sizeof run->id, "%" PRId64, job->id);
	snprintf(run->attempts, sizeof run->attempts, "%d", job->attempts);
	run->params[0] = run->id;
	run->params[1] = job->worker_id;
	run->params[2] = run->attempts;
}

/* Runs s on this run of job with the extra parameters already set; 1 when it changed the
 * row, 0 when the run no longer holds it, -1 on error. */
static int
jobs_update_run(PGconn *conn, enum jobs_sql s, struct jobs_run *run, int n, char *err,
    size_t errlen)
{
	PGresult *r;
	int changed;

	if ((r = jobs_exec(conn, s, n, run->params, err, errlen)) == NULL)
		return -1;
	changed = jobs_affected(r);
	PQclear(r);
	return changed;
}

int
jobs_heartbeat(PGconn *conn, const struct job *job, int lease_seconds, char *err,
    size_t errlen)
{
	struct jobs_run run;
	char lease[16];

	jobs_run_init(&run, job);
	snprintf(lease, sizeof lease, "%d", lease_seconds > 0 ? lease_seconds : 1);
	run.params[3] = lease;
	return jobs_update_run(conn, JOBS_SQL_HEARTBEAT, &run, 4, err, errlen);
}

int
jobs_complete(PGconn *conn, const struct job *job, char *err, size_t errlen)
{
	struct jobs_run run;
	char secs[16];

	jobs_run_init(&run, job);
	if (job->reschedule < 0)
		return jobs_update_run(conn, JOBS_SQL_DELETE, &run, 3, err, errlen);
	snprintf(secs, sizeof secs, "%d", job->reschedule);
	run.params[3] = secs;
	return jobs_update_run(conn, JOBS_SQL_RESCHEDULE, &run, 4, err, errlen);
}

/* error cut to JOBS_ERROR_MAX bytes without splitting a UTF-8 sequence, and made valid
 * UTF-8 otherwise (the column is text). */
static char *
jobs_error_text(const char *error)
{
	size_t len = strlen(error), i = 0, n;
	uint32_t cp;
	char *s, *o;

	if (len > JOBS_ERROR_MAX)
		len = JOBS_ERROR_MAX;
	o = s = xmalloc(len + 1);
	while (i < len) {
		n = util_utf8_decode((const unsigned char *)error + i, len - i, &cp);
		if (n == 0 || cp == 0) {
			*o++ = '?';
			i++;
			continue;
		}
		memcpy(o, error + i, n);
		o += n;
		i += n;
	}
	*o = '\0';
	return s;
}

int
jobs_fail(PGconn *conn, const struct job *job, const char *error, int permanent, char *err,
    size_t errlen)
{
	struct jobs_run run;
	char base[16], cap[16], *text;
	PGresult *r;
	int rc;

	jobs_run_init(&run, job);
	text = jobs_error_text(error != NULL && *error != '\0' ? error : "failed");
	snprintf(base, sizeof base, "%d", JOBS_BACKOFF_BASE);
	snprintf(cap, sizeof cap, "%d", JOBS_BACKOFF_CAP);
	run.params[3] = text;
	run.params[4] = permanent ? "true" : "false";
	run.params[5] = base;
	run.params[6] = cap;
	r = jobs_exec(conn, JOBS_SQL_FAIL, 7, run.params, err, errlen);
	free(text);
	if (r == NULL)
		return -1;
	if (PQntuples(r) != 1)
		rc = 0;
	else
		rc = strcmp(PQgetvalue(r, 0, 0), "t") == 0 ? 2 : 1;
	PQclear(r);
	return rc;
}

int
jobs_release(PGconn *conn, const struct job *job, char *err, size_t errlen)
{
	struct jobs_run run;

	jobs_run_init(&run, job);
	return jobs_update_run(conn, JOBS_SQL_RELEASE, &run, 3, err, errlen);
}

int
jobs_schedule_syncs(PGconn *conn, int max_attempts, char *err, size_t errlen)
{
	char max[16];
	const char *params[1];
	PGresult *r;
	int n;

	snprintf(max, sizeof max, "%d", max_attempts > 0 ? max_attempts : 1);
	params[0] = max;
	if ((r = jobs_exec(conn, JOBS_SQL_SCHEDULE_SYNCS, 1, params, err, errlen)) == NULL)
		return -1;
	n = atoi(PQcmdTuples(r));
	PQclear(r);
	return n;
}

int
jobs_should_stop(const struct job *job)
{
	return job->stop != NULL && atomic_load(job->stop) != 0;
}

void
jobs_clear(struct job *job)
{
	free(job->payload);
	free(job->unique_key);
	job->payload = NULL;
	job->unique_key = NULL;
}
