/* jobs.h: the job queue in PostgreSQL (table jobs, sql/0003_mail.up.sql).
 *
 * A job is claimed by one worker at a time under a lease (locked_by, locked_until) that a
 * heartbeat extends; a lease that runs out makes the job claimable again, so every job
 * runs at least once and handlers must be idempotent. A failed job is retried later with
 * exponential backoff and jitter, and dead-lettered (dead_at set, kept for the admin) after
 * max_attempts. A unique key allows one live job per key (e.g. "sync:<account id>": at
 * most one sync of an account queued or running). Every time is the database's clock. */
#ifndef MAILROOM_JOBS_H
#define MAILROOM_JOBS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <libpq-fe.h>

#define JOBS_KIND_MAX		64
#define JOBS_WORKER_ID_MAX	128
#define JOBS_ERROR_MAX		2000	/* last_error is cut to this many bytes */
#define JOBS_BACKOFF_BASE	10	/* seconds before the first retry (before jitter) */
#define JOBS_BACKOFF_CAP	3600	/* the backoff's ceiling (before jitter) */

struct job {
	int64_t id;
	char kind[JOBS_KIND_MAX + 1];
	char *payload;			/* JSON text (malloc'd; jobs_clear frees it) */
	int64_t user_id;		/* 0: none */
	char *unique_key;		/* NULL: none */
	int attempts;			/* counting this run */
	int max_attempts;
	char worker_id[JOBS_WORKER_ID_MAX];
	/* Set by the handler: seconds until the job runs again when it completes (periodic
	 * jobs); -1 (the default) deletes it. */
	int reschedule;
	/* Set by the worker: non-zero when the handler should stop at once (the lease is
	 * lost or the worker is shutting down). NULL: never. */
	const atomic_int *stop;
};

/* A handler runs one job: 0 done, -1 failed and worth retrying, -2 failed for good (dead
 * at once); on failure it writes a message into err (no secrets: it is stored). */
typedef int (*jobs_handler_fn)(struct job *job, PGconn *conn, char *err, size_t errlen);

#define JOBS_OK		0
#define JOBS_RETRY	(-1)
#define JOBS_PERMANENT	(-2)

/* Queues a job to run in delay_seconds (>= 0). payload NULL means {}; user_id 0 none.
 * With a unique_key already held by a live job nothing is added and that job's id is
 * returned. Returns the id, or -1 with a message in err. */
int64_t jobs_enqueue(PGconn *conn, const char *kind, const char *payload, int64_t user_id,
    const char *unique_key, int delay_seconds, int max_attempts, char *err, size_t errlen);

/* Claims the due job of one of kinds[0..nkinds) that has waited longest, for worker_id,
 * under a lease of lease_seconds, counting the attempt. Returns 1 with the job in *out
 * (jobs_clear it), 0 when none is due, -1 with a message in err. */
int jobs_claim(PGconn *conn, const char *worker_id, const char *const *kinds, size_t nkinds,
    int lease_seconds, struct job *out, char *err, size_t errlen);

/* Extends the lease to now + lease_seconds if the job is still this run's. Returns 1 when
 * it is, 0 when the lease was lost (another worker claimed it, or it is gone), -1 on a
 * database error. */
int jobs_heartbeat(PGconn *conn, const struct job *job, int lease_seconds, char *err,
    size_t errlen);

/* Done: deletes the job, or with job->reschedule >= 0 makes it due again then with its
 * attempts reset. Returns 1, 0 when the lease was lost (nothing changed), -1 on error. */
int jobs_complete(PGconn *conn, const struct job *job, char *err, size_t errlen);

/* Failed with message error: retried after the backoff JOBS_BACKOFF_BASE *
 * 2^(attempts-1) seconds, capped at JOBS_BACKOFF_CAP, times a random factor in
 * [0.75, 1.25]; dead-lettered when permanent or attempts >= max_attempts. Returns 2 when
 * dead, 1 when retried, 0 when the lease was lost, -1 on error. */
int jobs_fail(PGconn *conn, const struct job *job, const char *error, int permanent,
    char *err, size_t errlen);

/* Gives the job back without counting this attempt (the worker is stopping): claimable
 * again at once. Returns 1, 0 when the lease was lost, -1 on error. */
int jobs_release(PGconn *conn, const struct job *job, char *err, size_t errlen);

/* Queues a sync job (unique key "sync:<id>", payload {"account_id": id}) for every mail
 * account whose sync_state is not 'disabled', of a user not disabled, that has none live.
 * Returns how many were added, or -1. */
int jobs_schedule_syncs(PGconn *conn, int max_attempts, char *err, size_t errlen);

/* Whether the handler of job should stop now. */
int jobs_should_stop(const struct job *job);

void jobs_clear(struct job *job);

#endif
