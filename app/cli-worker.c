/* cli-worker.c: "mailroom worker" claims jobs from the queue (jobs.h) and runs them.
 *
 * N worker threads, each with its own connection, claim due jobs of the kinds that have a
 * handler here (and that --kinds selects); a heartbeat thread with a connection of its own
 * extends the leases of the running jobs every lease/3 seconds and tells a handler to stop
 * when its lease was lost. SIGTERM or SIGINT: no more claims; running jobs get
 * MAILROOM_WORKER_GRACE seconds to finish, then are told to stop and given back to the
 * queue without counting the attempt; the exit status is 0. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <jansson.h>
#include <libpq-fe.h>

#include "cli.h"
#include "db-migrate.h"
#include "db-pool.h"
#include "jobs.h"
#include "replies.h"
#include "sync.h"
#include "triage.h"
#include "util.h"
#include "vault.h"
#include "writeback.h"

static int cli_worker_exec(int argc, char **argv);

const struct cli_cmd cli_worker_entry = {
	"worker", "[--concurrency N] [--kinds KIND,...] [--lease SECONDS] [--once]",
	cli_worker_exec
};

#define WORKER_MAX_CONCURRENCY	64
#define WORKER_POLL_MS		1000	/* idle wait between claims when nothing is due */
#define WORKER_STOP_WAIT_MS	5000	/* after the grace: how long handlers get to stop */
#define WORKER_SCHEDULE_ATTEMPTS 100
#define WORKER_SYNC_ATTEMPTS	10

/* ---- handlers ---------------------------------------------------------------------- */

static int worker_sync_interval = 60;	/* MAILROOM_SYNC_INTERVAL */

static int
worker_handle_noop(struct job *job, PGconn *conn, char *err, size_t errlen)
{
	(void)job;
	(void)conn;
	(void)err;
	(void)errlen;
	return JOBS_OK;
}

/* {"seconds": N}: sleeps N seconds (at most an hour), stopping early when told to. */
static int
worker_handle_sleep(struct job *job, PGconn *conn, char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *root, *v;
	int64_t end;
	double secs = 0;

	(void)conn;
	root = json_loads(job->payload, 0, &jerr);
	v = root != NULL ? json_object_get(root, "seconds") : NULL;
	if (v == NULL || !json_is_number(v) || json_number_value(v) < 0 ||
	    json_number_value(v) > 3600) {
		json_decref(root);
		snprintf(err, errlen, "sleep: payload needs \"seconds\" from 0 to 3600");
		return JOBS_PERMANENT;
	}
	secs = json_number_value(v);
	json_decref(root);
	end = util_now_us() + (int64_t)(secs * 1e6);
	while (util_now_us() < end) {
		if (jobs_should_stop(job)) {
			snprintf(err, errlen, "sleep: stopped");
			return JOBS_RETRY;
		}
		nanosleep(&(struct timespec){ 0, 50 * 1000000L }, NULL);
	}
	return JOBS_OK;
}

/* The periodic scheduler: a sync job for every account not disabled (one live per
 * account), then itself again in MAILROOM_SYNC_INTERVAL seconds. */
static int
worker_handle_schedule(struct job *job, PGconn *conn, char *err, size_t errlen)
{
	int n;

	if ((n = jobs_schedule_syncs(conn, WORKER_SYNC_ATTEMPTS, err, errlen)) < 0)
		return JOBS_RETRY;
	if (n > 0)
		log_info("schedule: %d sync job%s queued", n, n == 1 ? "" : "s");
	/* Reply tracking: time alone flags awaiting threads for a follow-up. And untriaged
	 * mail whose triage job was not queued (or ended as the mail came) gets one. */
	if (replies_follow_up(conn, 0, err, errlen) < 0 ||
	    triage_enqueue_pending(conn, err, errlen) < 0)
		return JOBS_RETRY;
	job->reschedule = worker_sync_interval;
	return JOBS_OK;
}

/* The vault opens the accounts' credentials; loaded at start-up (NULL: no key, and
 * syncs fail saying so). */
static struct vault *worker_vault;
static char worker_vault_error[256];

/* The "account_id" of a job's payload; 0 when it has none (or the job no user). */
static int64_t
worker_payload_account(const struct job *job)
{
	json_error_t jerr;
	json_t *root, *v;
	json_int_t account_id = 0;

	root = json_loads(job->payload, 0, &jerr);
	v = root != NULL ? json_object_get(root, "account_id") : NULL;
	if (json_is_integer(v))
		account_id = json_integer_value(v);
	json_decref(root);
	return account_id > 0 && job->user_id > 0 ? (int64_t)account_id : 0;
}

/* {"account_id": N}: one sync of that account of the job's user (sync.h). A refused
 * login is final (the account waits for its user); anything else is retried. */
static int
worker_handle_sync(struct job *job, PGconn *conn, char *err, size_t errlen)
{
	struct sync_stats st;
	enum provider_status s;
	int64_t account_id = worker_payload_account(job);

	if (account_id == 0) {
		snprintf(err, errlen, "sync: payload needs \"account_id\" and the job a user");
		return JOBS_PERMANENT;
	}
	if (worker_vault == NULL) {
		snprintf(err, errlen, "sync: %s", worker_vault_error);
		return JOBS_RETRY;
	}
	s = sync_account(conn, worker_vault, job->user_id, (int64_t)account_id, job->stop, &st,
	    err, errlen);
	log_info("sync: account %" PRId64 ": %zu folder%s, %zu fetched (%zu bytes), %zu new, "
	    "%zu flag change%s, %zu removed%s%s", (int64_t)account_id, st.folders,
	    st.folders == 1 ? "" : "s", st.fetched, st.bytes, st.stored, st.flag_changes,
	    st.flag_changes == 1 ? "" : "s", st.expunged, s == PROVIDER_OK ? "" : ": ",
	    s == PROVIDER_OK ? "" : err);
	if (s == PROVIDER_OK && jobs_should_stop(job)) {
		/* Cut short (shutdown, lost lease): what was fetched is stored, the rest is
		 * still to do. */
		snprintf(err, errlen, "sync: stopped before the end");
		return JOBS_RETRY;
	}
	if (s == PROVIDER_OK)
		return JOBS_OK;
	if (s == PROVIDER_AUTH || s == PROVIDER_GONE)
		return JOBS_PERMANENT;
	return JOBS_RETRY;
}

/* {"account_id": N}: writes the categories of that account of the job's user to its
 * mailbox (writeback.h). Provider and database failures are retried with the queue's
 * backoff; a refused login or a missing account are final. */
static int
worker_handle_writeback(struct job *job, PGconn *conn, char *err, size_t errlen)
{
	struct writeback_stats st;
	int64_t account_id = worker_payload_account(job);
	int rc;

	if (account_id == 0) {
		snprintf(err, errlen, "writeback: payload needs \"account_id\" and the job a user");
		return JOBS_PERMANENT;
	}
	if (worker_vault == NULL) {
		snprintf(err, errlen, "writeback: %s", worker_vault_error);
		return JOBS_RETRY;
	}
	rc = writeback_account(conn, worker_vault, job->user_id, (int64_t)account_id, job->stop,
	    &st, err, errlen);
	log_info("writeback: account %" PRId64 ": %zu message%s written (%s), %zu moved, "
	    "%zu command%s%s%s", (int64_t)account_id, st.messages, st.messages == 1 ? "" : "s",
	    st.labels ? "label folders" : "keywords", st.moved, st.commands,
	    st.commands == 1 ? "" : "s", rc == 0 ? "" : ": ", rc == 0 ? "" : err);
	if (rc == 0 && jobs_should_stop(job)) {
		snprintf(err, errlen, "writeback: stopped before the end");
		return JOBS_RETRY;
	}
	return rc == 0 ? JOBS_OK : rc == -2 ? JOBS_PERMANENT : JOBS_RETRY;
}

/* {"user_id": N} (or the job's user): classifies that user's untriaged messages in
 * batches, stopping early when told to, then queues the write-back of their categories
 * (triage_job_run, triage.h). */
static int
worker_handle_triage(struct job *job, PGconn *conn, char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *root = json_loads(job->payload, 0, &jerr);
	json_t *v = root != NULL ? json_object_get(root, "user_id") : NULL;
	int64_t user_id = json_is_integer(v) ? (int64_t)json_integer_value(v) : job->user_id;
	long done = 0;
	int rc;

	json_decref(root);
	if (user_id <= 0 || (job->user_id > 0 && user_id != job->user_id)) {
		snprintf(err, errlen, "triage: payload needs \"user_id\" (the job's user)");
		return JOBS_PERMANENT;
	}
	rc = triage_job_run(conn, user_id, job->stop, &done, err, errlen);
	log_info("triage: user %" PRId64 ": %ld message%s classified%s%s", user_id, done,
	    done == 1 ? "" : "s", rc < 0 ? ": " : "", rc < 0 ? err : "");
	if (rc > 0) {
		snprintf(err, errlen, "triage: stopped before the end");
		return JOBS_RETRY;
	}
	return rc == 0 ? JOBS_OK : JOBS_RETRY;
}

/* Every kind this worker can run. A kind without an entry here is never claimed: it
 * waits for a worker that has its handler. */
static const struct worker_handler {
	const char *kind;
	jobs_handler_fn fn;
} worker_handlers[] = {
	{ "noop", worker_handle_noop },
	{ "schedule", worker_handle_schedule },
	{ "sleep", worker_handle_sleep },
	{ "sync", worker_handle_sync },
	{ "triage", worker_handle_triage },
	{ "writeback", worker_handle_writeback },
};

static const struct worker_handler *
worker_handler_entry(const char *kind)
{
	size_t i;

	for (i = 0; i < MR_ARRAY_LEN(worker_handlers); i++) {
		if (strcmp(worker_handlers[i].kind, kind) == 0)
			return &worker_handlers[i];
	}
	return NULL;
}

static jobs_handler_fn
worker_handler_find(const char *kind)
{
	const struct worker_handler *h = worker_handler_entry(kind);

	return h != NULL ? h->fn : NULL;
}

/* ---- the threads ------------------------------------------------------------------- */

struct worker_slot {
	int index;
	pthread_t thread;
	char worker_id[JOBS_WORKER_ID_MAX];
	pthread_mutex_t mu;
	int busy;			/* under mu: job holds the running job */
	struct job job;			/* under mu: id, worker and attempts of the running job */
	atomic_int stop;		/* the handler should stop */
	atomic_int release;		/* ... because the worker is shutting down */
	atomic_int done;		/* the thread has finished */
	int started;			/* thread is running (to be joined) */
};

static struct worker {
	const char *kinds[MR_ARRAY_LEN(worker_handlers)];
	size_t nkinds;
	int concurrency;
	int lease;
	int once;
	struct worker_slot slots[WORKER_MAX_CONCURRENCY];
	atomic_int stopping;		/* a signal came: claim nothing more */
	atomic_int hb_quit;		/* the heartbeat thread should end */
	atomic_int failed;		/* a database error (--once exits 1) */
} worker;

static void
worker_sleep_ms(int ms, const atomic_int *flag)
{
	for (; ms > 0 && (flag == NULL || !atomic_load(flag)); ms -= 50)
		nanosleep(&(struct timespec){ 0, 50 * 1000000L }, NULL);
}

static PGconn *
worker_connect(const char *what)
{
	char err[1024];
	PGconn *conn;

	conn = db_connect(mr_config.database_url, "mailroom-worker", err, sizeof err);
	if (conn == NULL)
		log_err("%s: %s", what, err);
	return conn;
}

/* After a failed statement: a broken connection is reset (one attempt). */
static void
worker_check_conn(PGconn *conn)
{
	if (PQstatus(conn) == CONNECTION_BAD)
		PQreset(conn);
}

static void
worker_run_job(struct worker_slot *slot, PGconn *conn, struct job *job)
{
	char err[1024], dberr[1024];
	const char *outcome;
	jobs_handler_fn fn;
	int64_t start;
	int rc, r;

	pthread_mutex_lock(&slot->mu);
	slot->job = *job;
	slot->job.payload = NULL;
	slot->job.unique_key = NULL;
	atomic_store(&slot->stop, 0);
	atomic_store(&slot->release, 0);
	slot->busy = 1;
	pthread_mutex_unlock(&slot->mu);

	job->stop = &slot->stop;
	err[0] = '\0';
	log_info("job start id=%" PRId64 " kind=%s attempt=%d/%d worker=%s", job->id, job->kind,
	    job->attempts, job->max_attempts, job->worker_id);
	start = util_now_us();
	fn = worker_handler_find(job->kind);
	if (job->attempts > job->max_attempts) {
		/* Its last attempt's lease ran out (the worker died): no more tries. */
		snprintf(err, sizeof err, "the lease of the last attempt ran out");
		rc = JOBS_PERMANENT;
	} else if (fn == NULL) {
		snprintf(err, sizeof err, "no handler for kind %s", job->kind);
		rc = JOBS_RETRY;
	} else
		rc = fn(job, conn, err, sizeof err);

	/* No more heartbeats: the run ends with the statement below. */
	pthread_mutex_lock(&slot->mu);
	slot->busy = 0;
	pthread_mutex_unlock(&slot->mu);
	if (rc != JOBS_OK && atomic_load(&slot->release)) {
		r = jobs_release(conn, job, dberr, sizeof dberr);
		outcome = "released";
	} else if (rc == JOBS_OK) {
		r = jobs_complete(conn, job, dberr, sizeof dberr);
		outcome = job->reschedule >= 0 ? "rescheduled" : "done";
	} else {
		r = jobs_fail(conn, job, err, rc == JOBS_PERMANENT, dberr, sizeof dberr);
		outcome = r == 2 ? "dead" : "retry";
	}
	if (r < 0) {
		log_err("job %" PRId64 ": %s", job->id, dberr);
		atomic_store(&worker.failed, 1);
		worker_check_conn(conn);
		outcome = "unrecorded";
	} else if (r == 0)
		outcome = "lease-lost";
	log_info("job end id=%" PRId64 " kind=%s attempt=%d outcome=%s ms=%" PRId64 "%s%s",
	    job->id, job->kind, job->attempts, outcome, (util_now_us() - start) / 1000,
	    rc != JOBS_OK ? " error=" : "", rc != JOBS_OK ? err : "");
}

static void *
worker_thread(void *arg)
{
	struct worker_slot *slot = arg;
	char err[1024];
	struct job job;
	PGconn *conn;
	int r;

	conn = worker_connect(slot->worker_id);
	while (conn == NULL && !worker.once && !atomic_load(&worker.stopping)) {
		worker_sleep_ms(5000, &worker.stopping);
		conn = worker_connect(slot->worker_id);
	}
	if (conn == NULL)
		atomic_store(&worker.failed, 1);
	while (conn != NULL && !atomic_load(&worker.stopping)) {
		r = jobs_claim(conn, slot->worker_id, worker.kinds, worker.nkinds, worker.lease,
		    &job, err, sizeof err);
		if (r < 0) {
			log_err("%s: %s", slot->worker_id, err);
			atomic_store(&worker.failed, 1);
			if (worker.once)
				break;
			worker_check_conn(conn);
			worker_sleep_ms(WORKER_POLL_MS, &worker.stopping);
			continue;
		}
		if (r == 0) {
			if (worker.once)
				break;
			worker_sleep_ms(WORKER_POLL_MS, &worker.stopping);
			continue;
		}
		worker_run_job(slot, conn, &job);
		jobs_clear(&job);
	}
	if (conn != NULL)
		PQfinish(conn);
	atomic_store(&slot->done, 1);
	return NULL;
}

/* Extends the running jobs' leases; tells a handler whose lease was lost to stop. */
static void *
worker_heartbeat_thread(void *arg)
{
	char err[1024];
	struct job job;
	PGconn *conn = arg;
	int i, busy, r, every_ms;

	every_ms = worker.lease * 1000 / 3;
	if (every_ms < 200)
		every_ms = 200;
	while (!atomic_load(&worker.hb_quit)) {
		worker_sleep_ms(every_ms, &worker.hb_quit);
		if (atomic_load(&worker.hb_quit))
			break;
		for (i = 0; i < worker.concurrency; i++) {
			struct worker_slot *slot = &worker.slots[i];

			pthread_mutex_lock(&slot->mu);
			busy = slot->busy;
			job = slot->job;
			pthread_mutex_unlock(&slot->mu);
			if (!busy)
				continue;
			r = jobs_heartbeat(conn, &job, worker.lease, err, sizeof err);
			if (r < 0) {
				log_err("heartbeat: %s", err);
				worker_check_conn(conn);
			} else if (r == 0) {
				log_warn("job %" PRId64 ": lease lost, stopping it", job.id);
				atomic_store(&slot->stop, 1);
			}
		}
	}
	return NULL;
}

/* ---- the command ------------------------------------------------------------------- */

static int
worker_env_int(const char *name, int def, int min, int max)
{
	const char *s = getenv(name);
	int64_t v;

	if (s == NULL || *s == '\0')
		return def;
	if (util_parse_int64(s, min, max, &v) != 0)
		fatal("%s must be an integer from %d to %d, got \"%s\"", name, min, max, s);
	return (int)v;
}

/* --kinds: a comma-separated list of kinds that have a handler. */
static int
worker_parse_kinds(const char *arg)
{
	const struct worker_handler *h;
	char *list, *tok, *save = NULL;
	size_t i;

	worker.nkinds = 0;
	list = xstrdup(arg);
	for (tok = strtok_r(list, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
		if ((h = worker_handler_entry(tok)) == NULL) {
			fprintf(stderr, "mailroom: worker: no handler for job kind \"%s\" "
			    "(known:", tok);
			for (i = 0; i < MR_ARRAY_LEN(worker_handlers); i++)
				fprintf(stderr, " %s", worker_handlers[i].kind);
			fprintf(stderr, ")\n");
			free(list);
			return -1;
		}
		for (i = 0; i < worker.nkinds; i++) {
			if (worker.kinds[i] == h->kind)
				break;
		}
		if (i == worker.nkinds)
			worker.kinds[worker.nkinds++] = h->kind;
	}
	free(list);
	return worker.nkinds > 0 ? 0 : -1;
}

static int
worker_all_done(void)
{
	int i;

	for (i = 0; i < worker.concurrency; i++) {
		if (!atomic_load(&worker.slots[i].done))
			return 0;
	}
	return 1;
}

/* Waits for a signal or for every worker thread to end, at most until deadline_us (0: no
 * limit). Returns 1 on a signal. */
static int
worker_wait(const sigset_t *set, int64_t deadline_us)
{
	struct timespec ts = { 0, 100 * 1000000L };
	int sig;

	while (!worker_all_done()) {
		if (deadline_us != 0 && util_now_us() >= deadline_us)
			return 0;
		sig = sigtimedwait(set, NULL, &ts);
		if (sig == SIGTERM || sig == SIGINT)
			return 1;
	}
	return 0;
}

static int
cli_worker_exec(int argc, char **argv)
{
	char host[64], err[1024], *kinds_arg = NULL;
	int64_t v, deadline;
	int i, grace, signalled;
	pthread_t hb;
	sigset_t set;
	PGconn *main_conn;
	size_t k;

	worker.concurrency = 2;
	worker.lease = 60;
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--once") == 0)
			worker.once = 1;
		else if (strcmp(argv[i], "--concurrency") == 0 && i + 1 < argc) {
			if (util_parse_int64(argv[++i], 1, WORKER_MAX_CONCURRENCY, &v) != 0) {
				fprintf(stderr, "mailroom: worker: --concurrency must be from 1 "
				    "to %d\n", WORKER_MAX_CONCURRENCY);
				return main_cli_usage(&cli_worker_entry);
			}
			worker.concurrency = (int)v;
		} else if (strcmp(argv[i], "--lease") == 0 && i + 1 < argc) {
			if (util_parse_int64(argv[++i], 1, 86400, &v) != 0) {
				fprintf(stderr, "mailroom: worker: --lease must be from 1 to "
				    "86400 seconds\n");
				return main_cli_usage(&cli_worker_entry);
			}
			worker.lease = (int)v;
		} else if (strcmp(argv[i], "--kinds") == 0 && i + 1 < argc)
			kinds_arg = argv[++i];
		else
			return main_cli_usage(&cli_worker_entry);
	}
	if (kinds_arg != NULL) {
		if (worker_parse_kinds(kinds_arg) != 0)
			return main_cli_usage(&cli_worker_entry);
	} else {
		for (k = 0; k < MR_ARRAY_LEN(worker_handlers); k++)
			worker.kinds[k] = worker_handlers[k].kind;
		worker.nkinds = MR_ARRAY_LEN(worker_handlers);
	}
	worker_sync_interval = worker_env_int("MAILROOM_SYNC_INTERVAL", 60, 1, 86400);
	grace = worker_env_int("MAILROOM_WORKER_GRACE", 30, 0, 86400);

	if (gethostname(host, sizeof host) != 0)
		snprintf(host, sizeof host, "localhost");
	host[sizeof host - 1] = '\0';

	/* The signals are taken by this thread alone, with sigtimedwait. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);

	i = vault_load(&worker_vault, worker_vault_error, sizeof worker_vault_error);
	if (i == 0)
		snprintf(worker_vault_error, sizeof worker_vault_error, "no vault key is "
		    "configured (MAILROOM_VAULT_KEY_FILE or MAILROOM_VAULT_KEYS)");
	if (i != 1) {
		log_warn("worker: %s: mail accounts cannot be synced", worker_vault_error);
		worker_vault = NULL;
	}
	main_conn = main_cli_connect();
	if (db_migrate_check(main_conn, err, sizeof err) == -1) {
		fprintf(stderr, "mailroom: worker: %s (run: mailroom migrate up)\n", err);
		PQfinish(main_conn);
		return CLI_EXIT_FAIL;
	}
	for (k = 0; k < worker.nkinds; k++) {
		if (strcmp(worker.kinds[k], "schedule") == 0 &&
		    jobs_enqueue(main_conn, "schedule", NULL, 0, "schedule", 0,
		    WORKER_SCHEDULE_ATTEMPTS, err, sizeof err) < 0) {
			fprintf(stderr, "mailroom: worker: %s\n", err);
			PQfinish(main_conn);
			return CLI_EXIT_FAIL;
		}
	}

	log_info("worker started: concurrency=%d lease=%ds grace=%ds sync_interval=%ds%s",
	    worker.concurrency, worker.lease, grace, worker_sync_interval,
	    worker.once ? " once" : "");
	for (i = 0; i < worker.concurrency; i++) {
		struct worker_slot *slot = &worker.slots[i];

		slot->index = i;
		snprintf(slot->worker_id, sizeof slot->worker_id, "%s:%ld:%d", host,
		    (long)getpid(), i);
		pthread_mutex_init(&slot->mu, NULL);
		if (pthread_create(&slot->thread, NULL, worker_thread, slot) != 0) {
			log_err("cannot start worker thread %d", i);
			atomic_store(&slot->done, 1);
			atomic_store(&worker.failed, 1);
			continue;
		}
		slot->started = 1;
	}
	for (; i < WORKER_MAX_CONCURRENCY; i++)
		atomic_store(&worker.slots[i].done, 1);
	if (pthread_create(&hb, NULL, worker_heartbeat_thread, main_conn) != 0)
		fatal("cannot start the heartbeat thread");

	signalled = worker_wait(&set, 0);
	if (signalled) {
		log_info("worker stopping: running jobs get %d s to finish", grace);
		atomic_store(&worker.stopping, 1);
		deadline = util_now_us() + (int64_t)grace * 1000000;
		/* A second signal cuts the grace short. */
		if (worker_wait(&set, deadline) || !worker_all_done()) {
			for (i = 0; i < worker.concurrency; i++) {
				atomic_store(&worker.slots[i].release, 1);
				atomic_store(&worker.slots[i].stop, 1);
			}
			sigemptyset(&set);
			worker_wait(&set, util_now_us() + WORKER_STOP_WAIT_MS * 1000);
		}
	}
	atomic_store(&worker.hb_quit, 1);
	pthread_join(hb, NULL);

	if (!worker_all_done()) {
		/* Handlers that did not stop: give their jobs back and leave without them. */
		for (i = 0; i < worker.concurrency; i++) {
			struct worker_slot *slot = &worker.slots[i];
			struct job job;
			int busy;

			pthread_mutex_lock(&slot->mu);
			busy = slot->busy && !atomic_load(&slot->done);
			job = slot->job;
			pthread_mutex_unlock(&slot->mu);
			if (busy && jobs_release(main_conn, &job, err, sizeof err) < 0)
				log_err("job %" PRId64 ": %s", job.id, err);
			else if (busy)
				log_warn("job %" PRId64 " (%s) did not stop: released", job.id,
				    job.kind);
		}
		PQfinish(main_conn);
		log_info("worker stopped");
		fflush(NULL);
		_exit(CLI_EXIT_OK);
	}
	for (i = 0; i < worker.concurrency; i++) {
		if (worker.slots[i].started)
			pthread_join(worker.slots[i].thread, NULL);
	}
	PQfinish(main_conn);
	log_info("worker stopped");
	return worker.once && atomic_load(&worker.failed) ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}
