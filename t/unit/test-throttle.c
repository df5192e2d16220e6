/* test-throttle.c: the sign-in throttle against a real database (unit-db.h): the slow-down
 * and the lock after N failures, the wait it announces, expiry (time moves by moving the
 * rows' timestamps back, never by sleeping), doubling locks, a success clearing the
 * account, the per-address lock across accounts, IPv6 /64 keys, and two connections
 * counting at once without losing a failure. */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libpq-fe.h>
#include <sodium.h>

#include "db-pool.h"
#include "throttle.h"
#include "util.h"
#include "unit.h"
#include "unit-db.h"

static struct db_pool *test_pool;
static struct db_conn *test_db;
static PGconn *test_pg;	/* the test's own connection, to look at and move rows */

static void
test_reset(void)
{
	unit_db_exec(test_pg, "DELETE FROM login_throttle");
	mr_config.login_max_failures = 5;
	mr_config.login_lock_seconds = 900;
	mr_config.login_ip_max_failures = 20;
}

/* Makes seconds pass for every row: all its times move back. */
static void
test_travel(int seconds)
{
	char s[16];
	const char *params[1] = { s };
	PGresult *r;

	snprintf(s, sizeof(s), "%d", seconds);
	r = PQexecParams(test_pg, "UPDATE login_throttle SET "
	    "first_failure_at = first_failure_at - make_interval(secs => $1::int), "
	    "last_failure_at = last_failure_at - make_interval(secs => $1::int), "
	    "locked_until = locked_until - make_interval(secs => $1::int)", 1, NULL, params,
	    NULL, NULL, 0);
	CU_ASSERT(PQresultStatus(r) == PGRES_COMMAND_OK);
	PQclear(r);
}

/* The failures of a row, or -1 when there is none. */
static int
test_failures(const char *scope, const char *key)
{
	const char *params[2] = { scope, key };
	PGresult *r = PQexecParams(test_pg, "SELECT failures FROM login_throttle "
	    "WHERE scope = $1 AND key = $2", 2, NULL, params, NULL, NULL, 0);
	int n = -1;

	if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
		n = atoi(PQgetvalue(r, 0, 0));
	PQclear(r);
	return n;
}

static void
test_lockout(void)
{
	int wait = -1, locked = -1, by_ip = -1;

	test_reset();
	CU_ASSERT_EQUAL(throttle_check(test_db, "Lock@Example.org", "198.51.100.1", &wait), 0);
	CU_ASSERT_EQUAL(wait, 0);
	for (int i = 1; i <= 4; i++)
		CU_ASSERT_EQUAL(throttle_fail(test_db, "Lock@Example.org", "198.51.100.1"), 0);
	/* Counted under the lower-cased address. */
	CU_ASSERT_EQUAL(test_failures("account", "lock@example.org"), 4);
	CU_ASSERT_EQUAL(test_failures("ip", "198.51.100.1"), 4);
	/* Slowed down, not locked: 4 failures of 5 wait 2 s after the last. */
	CU_ASSERT_EQUAL(throttle_check_detail(test_db, "lock@example.org", "198.51.100.1",
	    &wait, &locked, &by_ip), 1);
	CU_ASSERT(wait >= 1 && wait <= 2);
	CU_ASSERT_EQUAL(locked, 0);
	CU_ASSERT_EQUAL(by_ip, 0);

	CU_ASSERT_EQUAL(throttle_fail(test_db, "LOCK@example.org", "198.51.100.1"), 1);
	CU_ASSERT_EQUAL(throttle_check_detail(test_db, "lock@example.org", "198.51.100.1",
	    &wait, &locked, &by_ip), 1);
	CU_ASSERT(wait > 890 && wait <= 900);
	CU_ASSERT_EQUAL(locked, 1);
	CU_ASSERT_EQUAL(by_ip, 0);
	/* From anywhere: the account is what is locked. */
	CU_ASSERT_EQUAL(throttle_check(test_db, "lock@example.org", "203.0.113.9", &wait), 1);
	CU_ASSERT(wait > 890);
	CU_ASSERT_EQUAL(throttle_check(test_db, "lock@example.org", NULL, &wait), 1);
	/* Another account from the same address is not. */
	CU_ASSERT_EQUAL(throttle_check(test_db, "other@example.org", "198.51.100.1", &wait), 0);
}

static void
test_slowdown(void)
{
	int wait = -1;

	test_reset();
	mr_config.login_max_failures = 20;
	/* Up to max/2 failures cost nothing. */
	for (int i = 1; i <= 10; i++) {
		CU_ASSERT_EQUAL(throttle_fail(test_db, "slow@example.org", NULL), 0);
		CU_ASSERT_EQUAL(throttle_check(test_db, "slow@example.org", NULL, &wait), 0);
	}
	CU_ASSERT_EQUAL(throttle_fail(test_db, "slow@example.org", NULL), 0);
	CU_ASSERT_EQUAL(throttle_check(test_db, "slow@example.org", NULL, &wait), 1);
	CU_ASSERT_EQUAL(wait, 1);
	CU_ASSERT_EQUAL(throttle_fail(test_db, "slow@example.org", NULL), 0);
	CU_ASSERT_EQUAL(throttle_check(test_db, "slow@example.org", NULL, &wait), 1);
	CU_ASSERT_EQUAL(wait, 2);
	test_travel(2);
	CU_ASSERT_EQUAL(throttle_check(test_db, "slow@example.org", NULL, &wait), 0);
	CU_ASSERT_EQUAL(wait, 0);
	/* Then 4, 8, 16, and never more than THROTTLE_MAX_DELAY_SECONDS. */
	for (int i = 13; i <= 15; i++)
		CU_ASSERT_EQUAL(throttle_fail(test_db, "slow@example.org", NULL), 0);
	CU_ASSERT_EQUAL(throttle_check(test_db, "slow@example.org", NULL, &wait), 1);
	CU_ASSERT_EQUAL(wait, 16);
	CU_ASSERT_EQUAL(throttle_fail(test_db, "slow@example.org", NULL), 0);
	CU_ASSERT_EQUAL(throttle_check(test_db, "slow@example.org", NULL, &wait), 1);
	CU_ASSERT_EQUAL(wait, THROTTLE_MAX_DELAY_SECONDS);
}

static void
test_expiry_and_doubling(void)
{
	int wait = -1, locked = -1;

	test_reset();
	for (int i = 1; i <= 5; i++)
		throttle_fail(test_db, "exp@example.org", NULL);
	CU_ASSERT_EQUAL(throttle_check(test_db, "exp@example.org", NULL, &wait), 1);
	test_travel(899);
	CU_ASSERT_EQUAL(throttle_check_detail(test_db, "exp@example.org", NULL, &wait, &locked,
	    NULL), 1);
	CU_ASSERT_EQUAL(wait, 1);
	CU_ASSERT_EQUAL(locked, 1);
	test_travel(1);
	CU_ASSERT_EQUAL(throttle_check(test_db, "exp@example.org", NULL, &wait), 0);
	CU_ASSERT_EQUAL(wait, 0);

	/* Failing on right after a lock: the next lock lasts twice as long, and so on. */
	for (int i = 1; i <= 4; i++)
		CU_ASSERT_EQUAL(throttle_fail(test_db, "exp@example.org", NULL), 0);
	CU_ASSERT_EQUAL(test_failures("account", "exp@example.org"), 9);
	CU_ASSERT_EQUAL(throttle_fail(test_db, "exp@example.org", NULL), 1);
	CU_ASSERT_EQUAL(throttle_check(test_db, "exp@example.org", NULL, &wait), 1);
	CU_ASSERT(wait > 1790 && wait <= 1800);
	test_travel(1800);
	for (int i = 1; i <= 5; i++)
		throttle_fail(test_db, "exp@example.org", NULL);
	CU_ASSERT_EQUAL(throttle_check(test_db, "exp@example.org", NULL, &wait), 1);
	CU_ASSERT(wait > 3590 && wait <= 3600);

	/* Capped at a day. */
	mr_config.login_lock_seconds = 50000;
	test_travel(3600);
	for (int i = 1; i <= 5; i++)
		throttle_fail(test_db, "exp@example.org", NULL);
	CU_ASSERT_EQUAL(throttle_check(test_db, "exp@example.org", NULL, &wait), 1);
	CU_ASSERT(wait > THROTTLE_MAX_LOCK_SECONDS - 10 && wait <= THROTTLE_MAX_LOCK_SECONDS);

	/* Quiet for a window after the lock: the run is over, counting starts afresh. */
	test_travel(THROTTLE_MAX_LOCK_SECONDS + THROTTLE_WINDOW_SECONDS + 1);
	CU_ASSERT_EQUAL(throttle_check(test_db, "exp@example.org", NULL, &wait), 0);
	CU_ASSERT_EQUAL(throttle_fail(test_db, "exp@example.org", NULL), 0);
	CU_ASSERT_EQUAL(test_failures("account", "exp@example.org"), 1);
	CU_ASSERT_EQUAL(throttle_check(test_db, "exp@example.org", NULL, &wait), 0);
}

/* Failures spread out: those older than the window no longer count. */
static void
test_window(void)
{
	test_reset();
	for (int i = 1; i <= 4; i++)
		throttle_fail(test_db, "win@example.org", NULL);
	test_travel(THROTTLE_WINDOW_SECONDS + 1);
	CU_ASSERT_EQUAL(throttle_fail(test_db, "win@example.org", NULL), 0);
	CU_ASSERT_EQUAL(test_failures("account", "win@example.org"), 1);
	/* Within the window they add up. */
	test_travel(THROTTLE_WINDOW_SECONDS - 60);
	CU_ASSERT_EQUAL(throttle_fail(test_db, "win@example.org", NULL), 0);
	CU_ASSERT_EQUAL(test_failures("account", "win@example.org"), 2);
}

static void
test_success_clears(void)
{
	int wait;

	test_reset();
	for (int i = 1; i <= 4; i++)
		throttle_fail(test_db, "ok@example.org", "198.51.100.2");
	CU_ASSERT_EQUAL(throttle_success(test_db, "OK@example.org"), 0);
	CU_ASSERT_EQUAL(test_failures("account", "ok@example.org"), -1);
	/* The address's count stays: one good account does not clear spraying others. */
	CU_ASSERT_EQUAL(test_failures("ip", "198.51.100.2"), 4);
	CU_ASSERT_EQUAL(throttle_check(test_db, "ok@example.org", "198.51.100.2", &wait), 0);
	/* And a success on an account that never failed is fine. */
	CU_ASSERT_EQUAL(throttle_success(test_db, "never@example.org"), 0);
}

static void
test_ip_lock(void)
{
	char email[64];
	int wait = -1, locked = -1, by_ip = -1;

	test_reset();
	for (int i = 1; i <= 19; i++) {
		snprintf(email, sizeof(email), "spray%d@example.org", i);
		CU_ASSERT_EQUAL(throttle_fail(test_db, email, "203.0.113.7"), 0);
	}
	CU_ASSERT_EQUAL(throttle_fail(test_db, "spray20@example.org", "203.0.113.7"), 1);
	/* Any account, even a new one, from that address waits. */
	CU_ASSERT_EQUAL(throttle_check_detail(test_db, "fresh@example.org", "203.0.113.7",
	    &wait, &locked, &by_ip), 1);
	CU_ASSERT(wait > 890 && wait <= 900);
	CU_ASSERT_EQUAL(locked, 1);
	CU_ASSERT_EQUAL(by_ip, 1);
	/* Another address does not, and no account is locked. */
	CU_ASSERT_EQUAL(throttle_check(test_db, "spray1@example.org", "203.0.113.8", &wait), 0);
	/* The address lock does not double. */
	test_travel(900);
	for (int i = 1; i <= 20; i++)
		throttle_fail(test_db, "again@example.org", "203.0.113.7");
	CU_ASSERT_EQUAL(throttle_check_detail(test_db, "fresh@example.org", "203.0.113.7",
	    &wait, &locked, &by_ip), 1);
	CU_ASSERT(wait > 890 && wait <= 900);
	CU_ASSERT_EQUAL(by_ip, 1);
	/* An unknown address is not counted. */
	test_reset();
	CU_ASSERT_EQUAL(throttle_fail(test_db, "noip@example.org", ""), 0);
	CU_ASSERT_EQUAL(test_failures("account", "noip@example.org"), 1);
	CU_ASSERT_EQUAL(test_failures("ip", ""), -1);
}

static void
test_ip_keys(void)
{
	char k[THROTTLE_IP_KEY_MAX];

	throttle_ip_key("192.0.2.1", k);
	CU_ASSERT_STRING_EQUAL(k, "192.0.2.1");
	throttle_ip_key("::ffff:192.0.2.1", k);
	CU_ASSERT_STRING_EQUAL(k, "192.0.2.1");
	throttle_ip_key("2001:DB8:0:0:1::1", k);
	CU_ASSERT_STRING_EQUAL(k, "2001:db8::/64");
	throttle_ip_key("2001:db8:0:1:ffff:eeee:dddd:cccc", k);
	CU_ASSERT_STRING_EQUAL(k, "2001:db8:0:1::/64");
	throttle_ip_key("not an address", k);
	CU_ASSERT_STRING_EQUAL(k, "not an address");

	/* Two addresses of one /64 share a count. */
	test_reset();
	throttle_fail(test_db, "v6a@example.org", "2001:db8::1");
	throttle_fail(test_db, "v6b@example.org", "2001:db8::ffff:2");
	throttle_fail(test_db, "v6c@example.org", "2001:db8:0:1::1");
	CU_ASSERT_EQUAL(test_failures("ip", "2001:db8::/64"), 2);
	CU_ASSERT_EQUAL(test_failures("ip", "2001:db8:0:1::/64"), 1);
}

/* --- Two connections at once ------------------------------------------------------- */

#define TEST_RACE_ROUNDS 60

static void *
test_race_thread(void *arg)
{
	struct db_conn *db = db_pool_acquire(test_pool);
	long errors = 0;

	(void)arg;
	if (db == NULL)
		return (void *)(long)TEST_RACE_ROUNDS;
	for (int i = 0; i < TEST_RACE_ROUNDS; i++) {
		if (throttle_fail(db, "race@example.org", "198.51.100.77") < 0)
			errors++;
	}
	db_pool_release(test_pool, db);
	return (void *)errors;
}

static void
test_race(void)
{
	pthread_t t[2];
	void *r[2];

	test_reset();
	db_pool_release(test_pool, test_db);
	CU_ASSERT_FATAL(pthread_create(&t[0], NULL, test_race_thread, NULL) == 0);
	CU_ASSERT_FATAL(pthread_create(&t[1], NULL, test_race_thread, NULL) == 0);
	pthread_join(t[0], &r[0]);
	pthread_join(t[1], &r[1]);
	test_db = db_pool_acquire(test_pool);
	CU_ASSERT_FATAL(test_db != NULL);
	CU_ASSERT_EQUAL((long)r[0], 0);
	CU_ASSERT_EQUAL((long)r[1], 0);
	CU_ASSERT_EQUAL(test_failures("account", "race@example.org"), 2 * TEST_RACE_ROUNDS);
	CU_ASSERT_EQUAL(test_failures("ip", "198.51.100.77"), 2 * TEST_RACE_ROUNDS);
}

static void
test_purge(void)
{
	test_reset();
	throttle_fail(test_db, "old@example.org", "198.51.100.3");
	for (int i = 0; i < 5; i++)
		throttle_fail(test_db, "locked@example.org", NULL);
	test_travel(THROTTLE_WINDOW_SECONDS + 1);
	throttle_fail(test_db, "new@example.org", NULL);
	/* The old row and its address go; the lock (it ended only a moment ago) and the new
	 * row stay. */
	CU_ASSERT_EQUAL(throttle_purge(test_db), 2);
	CU_ASSERT_EQUAL(test_failures("account", "old@example.org"), -1);
	CU_ASSERT_EQUAL(test_failures("account", "locked@example.org"), 5);
	CU_ASSERT_EQUAL(test_failures("account", "new@example.org"), 1);
	test_travel(THROTTLE_WINDOW_SECONDS);
	CU_ASSERT_EQUAL(throttle_purge(test_db), 2);
}

int
main(void)
{
	static const struct unit_test tests[] = {
		{ "lock after N failures, with its wait", test_lockout },
		{ "slow-down before the lock", test_slowdown },
		{ "expiry, doubling, the day's cap, a new run", test_expiry_and_doubling },
		{ "the counting window", test_window },
		{ "success clears the account", test_success_clears },
		{ "an address locks across accounts", test_ip_lock },
		{ "address keys, IPv6 by /64", test_ip_keys },
		{ "two connections racing", test_race },
		{ "purge", test_purge },
		{ NULL, NULL },
	};
	const char *conninfo;
	int rc;

	log_set_level(LOG_LEVEL_ERROR);
	if (sodium_init() < 0)
		fatal("sodium_init failed");
	if ((conninfo = unit_db_create()) == NULL) {
		fprintf(stderr, "MAILROOM_TEST_DATABASE_URL not set: skipped\n");
		return UNIT_DB_SKIP;
	}
	test_pg = unit_db_connect();
	test_pool = db_pool_new(conninfo, 2, 5000);
	test_db = db_pool_acquire(test_pool);
	if (test_db == NULL) {
		fprintf(stderr, "cannot connect through the pool\n");
		unit_db_drop();
		return 1;
	}
	rc = unit_run("throttle", tests);
	db_pool_release(test_pool, test_db);
	db_pool_free(test_pool);
	PQfinish(test_pg);
	unit_db_drop();
	return rc;
}
