/* test-jobs.c: the job queue against a database of its own (unit-db.h; skipped without
 * MAILROOM_TEST_DATABASE_URL): enqueue, claim and complete; one live job per unique key;
 * concurrent claims never share a job; the backoff and its jitter; dead letters; leases
 * that run out, heartbeats that keep them, and release on stop. */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobs.h"
#include "unit.h"
#include "unit-db.h"

static PGconn *conn;
static const char *const kinds_noop[] = { "noop" };

/* The value of a one-row, one-column query as a long (-1 when no row). */
static long
q_long(PGconn *c, const char *sql)
{
	PGresult *r = PQexec(c, sql);
	long v = -1;

	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		fprintf(stderr, "%s: %s", sql, PQerrorMessage(c));
		exit(1);
	}
	if (PQntuples(r) == 1 && !PQgetisnull(r, 0, 0))
		v = strtol(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	return v;
}

static void
reset_jobs(void)
{
	unit_db_exec(conn, "DELETE FROM jobs");
}

static void
test_enqueue_claim_complete(void)
{
	char err[256], sql[128];
	struct job job;
	int64_t id;

	reset_jobs();
	id = jobs_enqueue(conn, "noop", "{\"a\":1}", 0, NULL, 0, 5, err, sizeof err);
	CU_ASSERT_FATAL(id > 0);
	/* A job of another kind, and one not yet due, are not claimed. */
	CU_ASSERT(jobs_enqueue(conn, "other", NULL, 0, NULL, 0, 5, err, sizeof err) > 0);
	CU_ASSERT(jobs_enqueue(conn, "noop", NULL, 0, NULL, 3600, 5, err, sizeof err) > 0);
	CU_ASSERT_EQUAL_FATAL(jobs_claim(conn, "w1", kinds_noop, 1, 30, &job, err, sizeof err), 1);
	CU_ASSERT_EQUAL(job.id, id);
	CU_ASSERT_STRING_EQUAL(job.kind, "noop");
	CU_ASSERT_STRING_EQUAL(job.payload, "{\"a\": 1}");
	CU_ASSERT_EQUAL(job.attempts, 1);
	CU_ASSERT_EQUAL(job.max_attempts, 5);
	CU_ASSERT_PTR_NULL(job.unique_key);
	snprintf(sql, sizeof sql, "SELECT count(*) FROM jobs WHERE id = %lld AND locked_by = 'w1' "
	    "AND locked_until > now() + interval '25 seconds'", (long long)id);
	CU_ASSERT_EQUAL(q_long(conn, sql), 1);
	jobs_clear(&job);
	/* Nothing else is due for w2; w1 completes its job (named by id, worker, attempt). */
	CU_ASSERT_EQUAL(jobs_claim(conn, "w2", kinds_noop, 1, 30, &job, err, sizeof err), 0);
	job.id = id;
	job.attempts = 1;
	job.reschedule = -1;
	snprintf(job.worker_id, sizeof job.worker_id, "w1");
	CU_ASSERT_EQUAL(jobs_complete(conn, &job, err, sizeof err), 1);
	snprintf(sql, sizeof sql, "SELECT count(*) FROM jobs WHERE id = %lld", (long long)id);
	CU_ASSERT_EQUAL(q_long(conn, sql), 0);
	CU_ASSERT_EQUAL(jobs_complete(conn, &job, err, sizeof err), 0);
}

static void
test_unique_key(void)
{
	char err[256];
	struct job job;
	int64_t a, b, c;

	reset_jobs();
	a = jobs_enqueue(conn, "noop", NULL, 0, "sync:1", 0, 1, err, sizeof err);
	b = jobs_enqueue(conn, "noop", NULL, 0, "sync:1", 0, 1, err, sizeof err);
	c = jobs_enqueue(conn, "noop", NULL, 0, "sync:2", 0, 1, err, sizeof err);
	CU_ASSERT(a > 0);
	CU_ASSERT_EQUAL(a, b);
	CU_ASSERT(c > 0 && c != a);
	CU_ASSERT_EQUAL(q_long(conn, "SELECT count(*) FROM jobs"), 2);
	/* Still one while it runs; a dead letter frees the key. */
	CU_ASSERT_EQUAL_FATAL(jobs_claim(conn, "w", kinds_noop, 1, 30, &job, err, sizeof err), 1);
	CU_ASSERT_EQUAL(job.id, a);
	CU_ASSERT_STRING_EQUAL(job.unique_key, "sync:1");
	CU_ASSERT_EQUAL(jobs_enqueue(conn, "noop", NULL, 0, "sync:1", 0, 1, err, sizeof err), a);
	CU_ASSERT_EQUAL(jobs_fail(conn, &job, "boom", 0, err, sizeof err), 2);
	b = jobs_enqueue(conn, "noop", NULL, 0, "sync:1", 0, 1, err, sizeof err);
	CU_ASSERT(b > 0 && b != a);
	jobs_clear(&job);
}

struct claimer {
	int64_t ids[200];
	int n;
};

static void *
claimer_run(void *arg)
{
	struct claimer *cl = arg;
	char err[256], wid[32];
	struct job job;
	PGconn *c = unit_db_connect();
	int r;

	snprintf(wid, sizeof wid, "w%p", arg);
	while ((r = jobs_claim(c, wid, kinds_noop, 1, 60, &job, err, sizeof err)) == 1) {
		if (cl->n < 200)
			cl->ids[cl->n++] = job.id;
		if (jobs_complete(c, &job, err, sizeof err) != 1)
			cl->n = 1000;
		jobs_clear(&job);
	}
	if (r < 0)
		fprintf(stderr, "claim: %s\n", err);
	PQfinish(c);
	return NULL;
}

static void
test_concurrent_claims(void)
{
	enum { NJOBS = 120, NTHREADS = 4 };
	static struct claimer cls[NTHREADS];
	static int seen[NJOBS + 1];
	pthread_t th[NTHREADS];
	char err[256];
	int64_t first = 0, id;
	int i, j, total = 0, dup = 0;

	reset_jobs();
	for (i = 0; i < NJOBS; i++) {
		id = jobs_enqueue(conn, "noop", NULL, 0, NULL, 0, 3, err, sizeof err);
		CU_ASSERT_FATAL(id > 0);
		if (i == 0)
			first = id;
	}
	for (i = 0; i < NTHREADS; i++)
		pthread_create(&th[i], NULL, claimer_run, &cls[i]);
	for (i = 0; i < NTHREADS; i++)
		pthread_join(th[i], NULL);
	for (i = 0; i < NTHREADS; i++) {
		CU_ASSERT(cls[i].n <= 200);
		for (j = 0; j < cls[i].n && j < 200; j++) {
			id = cls[i].ids[j] - first;
			if (id < 0 || id >= NJOBS || seen[id]++)
				dup++;
			total++;
		}
	}
	CU_ASSERT_EQUAL(dup, 0);
	CU_ASSERT_EQUAL(total, NJOBS);
	CU_ASSERT_EQUAL(q_long(conn, "SELECT count(*) FROM jobs"), 0);
}

/* Seconds from now to the job's run_at, as the database sees it (in milliseconds). */
static long
run_in_ms(int64_t id)
{
	char sql[160];

	snprintf(sql, sizeof sql, "SELECT (extract(epoch FROM run_at - now()) * 1000)::bigint "
	    "FROM jobs WHERE id = %lld", (long long)id);
	return q_long(conn, sql);
}

static void
test_backoff(void)
{
	char err[256];
	struct job job;
	long ms, lo, hi, base;
	int64_t id;
	int attempt, distinct = 0, k;
	long first[8];

	reset_jobs();
	id = jobs_enqueue(conn, "noop", NULL, 0, NULL, 0, 20, err, sizeof err);
	for (attempt = 1; attempt <= 12; attempt++) {
		CU_ASSERT_EQUAL_FATAL(jobs_claim(conn, "w", kinds_noop, 1, 30, &job, err,
		    sizeof err), 1);
		CU_ASSERT_EQUAL(job.attempts, attempt);
		CU_ASSERT_EQUAL(jobs_fail(conn, &job, "temporary", 0, err, sizeof err), 1);
		jobs_clear(&job);
		base = JOBS_BACKOFF_BASE * (1L << (attempt - 1));
		if (base > JOBS_BACKOFF_CAP)
			base = JOBS_BACKOFF_CAP;
		lo = base * 750 - 100;
		hi = base * 1250 + 100;
		ms = run_in_ms(id);
		CU_ASSERT(ms >= lo && ms <= hi);
		if (!(ms >= lo && ms <= hi))
			fprintf(stderr, "attempt %d: %ld ms not in [%ld, %ld]\n", attempt, ms, lo,
			    hi);
		/* Due again at once, for the next round. */
		unit_db_exec(conn, "UPDATE jobs SET run_at = now()");
	}
	CU_ASSERT_EQUAL(q_long(conn, "SELECT count(*) FROM jobs WHERE last_error = 'temporary' "
	    "AND dead_at IS NULL AND locked_by IS NULL"), 1);
	/* Jitter: the fourth attempt waits 80 s give or take 25%, differently each time. */
	for (k = 0; k < 8; k++) {
		unit_db_exec(conn, "UPDATE jobs SET attempts = 3, run_at = now()");
		CU_ASSERT_EQUAL_FATAL(jobs_claim(conn, "w", kinds_noop, 1, 30, &job, err,
		    sizeof err), 1);
		CU_ASSERT_EQUAL(jobs_fail(conn, &job, "again", 0, err, sizeof err), 1);
		jobs_clear(&job);
		first[k] = run_in_ms(id);
		CU_ASSERT(first[k] >= 60000 - 100 && first[k] <= 100000 + 100);
		if (k > 0 && first[k] != first[0])
			distinct++;
	}
	CU_ASSERT(distinct > 0);
}

static void
test_dead_letter(void)
{
	char err[256];
	struct job job;
	int64_t id, perm;
	int i;

	reset_jobs();
	id = jobs_enqueue(conn, "noop", NULL, 0, NULL, 0, 3, err, sizeof err);
	for (i = 1; i <= 3; i++) {
		CU_ASSERT_EQUAL_FATAL(jobs_claim(conn, "w", kinds_noop, 1, 30, &job, err,
		    sizeof err), 1);
		CU_ASSERT_EQUAL(job.id, id);
		CU_ASSERT_EQUAL(jobs_fail(conn, &job, "no luck", 0, err, sizeof err),
		    i < 3 ? 1 : 2);
		jobs_clear(&job);
		unit_db_exec(conn, "UPDATE jobs SET run_at = now() WHERE dead_at IS NULL");
	}
	CU_ASSERT_EQUAL(jobs_claim(conn, "w", kinds_noop, 1, 30, &job, err, sizeof err), 0);
	CU_ASSERT_EQUAL(q_long(conn, "SELECT count(*) FROM jobs WHERE dead_at IS NOT NULL "
	    "AND attempts = 3 AND last_error = 'no luck' AND locked_by IS NULL"), 1);
	/* A permanent failure is dead at once. */
	perm = jobs_enqueue(conn, "noop", NULL, 0, NULL, 0, 10, err, sizeof err);
	CU_ASSERT_EQUAL_FATAL(jobs_claim(conn, "w", kinds_noop, 1, 30, &job, err, sizeof err), 1);
	CU_ASSERT_EQUAL(job.id, perm);
	CU_ASSERT_EQUAL(jobs_fail(conn, &job, "bad payload", 1, err, sizeof err), 2);
	jobs_clear(&job);
	CU_ASSERT_EQUAL(q_long(conn, "SELECT count(*) FROM jobs WHERE dead_at IS NOT NULL"), 2);
}

static void
test_leases(void)
{
	char err[256];
	struct job a, b;
	PGconn *other = unit_db_connect();
	int64_t id;

	reset_jobs();
	id = jobs_enqueue(conn, "noop", NULL, 0, NULL, 0, 5, err, sizeof err);
	CU_ASSERT_EQUAL_FATAL(jobs_claim(conn, "w1", kinds_noop, 1, 1, &a, err, sizeof err), 1);
	/* The heartbeat keeps it: extended to a minute, nobody else gets it. */
	CU_ASSERT_EQUAL(jobs_heartbeat(conn, &a, 60, err, sizeof err), 1);
	CU_ASSERT_EQUAL(q_long(conn, "SELECT count(*) FROM jobs WHERE locked_until > "
	    "now() + interval '55 seconds'"), 1);
	CU_ASSERT_EQUAL(jobs_claim(other, "w2", kinds_noop, 1, 30, &b, err, sizeof err), 0);
	/* Its lease runs out (the worker died): another worker takes it. */
	unit_db_exec(conn, "UPDATE jobs SET locked_until = now() - interval '1 second'");
	CU_ASSERT_EQUAL_FATAL(jobs_claim(other, "w2", kinds_noop, 1, 30, &b, err, sizeof err),
	    1);
	CU_ASSERT_EQUAL(b.id, id);
	CU_ASSERT_EQUAL(b.attempts, 2);
	/* The first run has lost it: its heartbeat says so and it can finish nothing. */
	CU_ASSERT_EQUAL(jobs_heartbeat(conn, &a, 60, err, sizeof err), 0);
	CU_ASSERT_EQUAL(jobs_complete(conn, &a, err, sizeof err), 0);
	CU_ASSERT_EQUAL(jobs_fail(conn, &a, "late", 0, err, sizeof err), 0);
	CU_ASSERT_EQUAL(jobs_release(conn, &a, err, sizeof err), 0);
	CU_ASSERT_EQUAL(q_long(conn, "SELECT count(*) FROM jobs WHERE locked_by = 'w2' AND "
	    "attempts = 2 AND last_error IS NULL"), 1);
	CU_ASSERT_EQUAL(jobs_complete(other, &b, err, sizeof err), 1);
	CU_ASSERT_EQUAL(q_long(conn, "SELECT count(*) FROM jobs"), 0);
	jobs_clear(&a);
	jobs_clear(&b);
	PQfinish(other);
}

static void
test_release_and_reschedule(void)
{
	char err[256];
	struct job job;
	int64_t id;

	reset_jobs();
	id = jobs_enqueue(conn, "noop", NULL, 0, "schedule", 0, 5, err, sizeof err);
	CU_ASSERT_EQUAL_FATAL(jobs_claim(conn, "w", kinds_noop, 1, 30, &job, err, sizeof err), 1);
	CU_ASSERT_EQUAL(job.attempts, 1);
	CU_ASSERT_EQUAL(jobs_release(conn, &job, err, sizeof err), 1);
	jobs_clear(&job);
	CU_ASSERT_EQUAL(q_long(conn, "SELECT count(*) FROM jobs WHERE attempts = 0 AND "
	    "locked_by IS NULL AND locked_until IS NULL AND run_at <= now()"), 1);
	/* Claimable again at once; a periodic job completes into its next run. */
	CU_ASSERT_EQUAL_FATAL(jobs_claim(conn, "w", kinds_noop, 1, 30, &job, err, sizeof err), 1);
	CU_ASSERT_EQUAL(job.id, id);
	CU_ASSERT_EQUAL(job.attempts, 1);
	job.reschedule = 60;
	CU_ASSERT_EQUAL(jobs_complete(conn, &job, err, sizeof err), 1);
	jobs_clear(&job);
	CU_ASSERT(run_in_ms(id) > 58000 && run_in_ms(id) <= 60000);
	CU_ASSERT_EQUAL(q_long(conn, "SELECT count(*) FROM jobs WHERE attempts = 0 AND "
	    "locked_by IS NULL"), 1);
}

static void
test_schedule_syncs(void)
{
	char err[256];

	reset_jobs();
	unit_db_exec(conn, "DELETE FROM mail_accounts");
	unit_db_exec(conn, "INSERT INTO users (email, display_name, password_hash) "
	    "VALUES ('sched@example.org', 'S', '$argon2id$x'), "
	    "('off@example.org', 'O', '$argon2id$x') ON CONFLICT DO NOTHING");
	unit_db_exec(conn, "UPDATE users SET disabled = true WHERE email = 'off@example.org'");
	unit_db_exec(conn, "INSERT INTO mail_accounts (user_id, address, sync_state) "
	    "SELECT id, a, s FROM users, (VALUES ('a@example.org', 'new'), "
	    "('b@example.org', 'idle'), ('c@example.org', 'disabled')) v(a, s) "
	    "WHERE email = 'sched@example.org'");
	/* A disabled user's accounts are not synced. */
	unit_db_exec(conn, "INSERT INTO mail_accounts (user_id, address) SELECT id, "
	    "'d@example.org' FROM users WHERE email = 'off@example.org'");
	CU_ASSERT_EQUAL(jobs_schedule_syncs(conn, 10, err, sizeof err), 2);
	CU_ASSERT_EQUAL(jobs_schedule_syncs(conn, 10, err, sizeof err), 0);
	CU_ASSERT_EQUAL(q_long(conn, "SELECT count(*) FROM jobs j JOIN mail_accounts a ON "
	    "j.unique_key = 'sync:' || a.id AND (j.payload->>'account_id')::bigint = a.id "
	    "AND j.user_id = a.user_id WHERE j.kind = 'sync' AND a.sync_state <> 'disabled'"), 2);
	CU_ASSERT_EQUAL(q_long(conn, "SELECT count(*) FROM jobs"), 2);
}

int
main(void)
{
	static const struct unit_test tests[] = {
		{ "enqueue, claim, complete", test_enqueue_claim_complete },
		{ "one live job per unique key", test_unique_key },
		{ "concurrent claims never share a job", test_concurrent_claims },
		{ "backoff grows, is capped and has jitter", test_backoff },
		{ "dead letters", test_dead_letter },
		{ "leases: heartbeat, expiry, reclaim", test_leases },
		{ "release and reschedule", test_release_and_reschedule },
		{ "periodic sync scheduling", test_schedule_syncs },
		{ NULL, NULL }
	};
	int rc;

	if (unit_db_create() == NULL) {
		fprintf(stderr, "test-jobs: MAILROOM_TEST_DATABASE_URL not set: skipped\n");
		return UNIT_DB_SKIP;
	}
	conn = unit_db_connect();
	rc = unit_run("jobs", tests);
	PQfinish(conn);
	unit_db_drop();
	return rc;
}
