/* throttle.c: the sign-in throttle (throttle.h). The policy lives in the statements of
 * db-stmt.c, so that every process applies it to the same rows with the same clock. */
#include "config.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db-pool.h"
#include "throttle.h"
#include "util.h"

/* The settings, or their defaults when the configuration was not loaded (tests). */
static int
throttle_account_max(void)
{
	return mr_config.login_max_failures > 0 ? mr_config.login_max_failures : 5;
}

static int
throttle_ip_max(void)
{
	return mr_config.login_ip_max_failures > 0 ? mr_config.login_ip_max_failures : 20;
}

static int
throttle_lock_seconds(void)
{
	return mr_config.login_lock_seconds > 0 ? mr_config.login_lock_seconds : 900;
}

void
throttle_ip_key(const char *ip, char out[THROTTLE_IP_KEY_MAX])
{
	unsigned char a[16];
	char text[INET6_ADDRSTRLEN];

	if (inet_pton(AF_INET, ip, a) == 1) {
		inet_ntop(AF_INET, a, out, THROTTLE_IP_KEY_MAX);
		return;
	}
	if (inet_pton(AF_INET6, ip, a) == 1) {
		static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

		if (memcmp(a, mapped, sizeof(mapped)) == 0) {
			inet_ntop(AF_INET, a + 12, out, THROTTLE_IP_KEY_MAX);
			return;
		}
		/* One host of a /64 can change its address at will within it. */
		memset(a + 8, 0, 8);
		inet_ntop(AF_INET6, a, text, sizeof(text));
		snprintf(out, THROTTLE_IP_KEY_MAX, "%s/64", text);
		return;
	}
	snprintf(out, THROTTLE_IP_KEY_MAX, "%s", ip);
}

int
throttle_check_detail(struct db_conn *db, const char *email, const char *ip,
    int *wait_seconds, int *locked, int *by_ip)
{
	char key[THROTTLE_IP_KEY_MAX], amax[16], imax[16];
	const char *params[4];
	PGresult *r;
	int status, wait = 0, lock = 0, ipwait = 0;

	*wait_seconds = 0;
	if (locked != NULL)
		*locked = 0;
	if (by_ip != NULL)
		*by_ip = 0;
	if (ip != NULL && *ip != '\0')
		throttle_ip_key(ip, key);
	snprintf(amax, sizeof(amax), "%d", throttle_account_max());
	snprintf(imax, sizeof(imax), "%d", throttle_ip_max());
	params[0] = email;
	params[1] = ip != NULL && *ip != '\0' ? key : NULL;
	params[2] = amax;
	params[3] = imax;
	if ((r = db_exec(db, DB_STMT_THROTTLE_CHECK, 4, params, &status)) == NULL)
		return -1;
	for (int i = 0; i < PQntuples(r); i++) {
		int row_ip = strcmp(PQgetvalue(r, i, 0), "t") == 0;
		int lw = atoi(PQgetvalue(r, i, 1)), sw = atoi(PQgetvalue(r, i, 2));
		int w = lw > sw ? lw : sw;

		if (lw > 0)
			lock = 1;
		if (w > wait) {
			wait = w;
			ipwait = row_ip;
		}
	}
	PQclear(r);
	*wait_seconds = wait;
	if (locked != NULL)
		*locked = lock;
	if (by_ip != NULL)
		*by_ip = ipwait;
	return wait > 0;
}

int
throttle_check(struct db_conn *db, const char *email, const char *ip, int *wait_seconds)
{
	return throttle_check_detail(db, email, ip, wait_seconds, NULL, NULL);
}

/* One failure in one scope; returns 1 when it locked, 0 when not, -1 on failure. */
static int
throttle_fail_one(struct db_conn *db, const char *scope, const char *key, int max,
    int max_lock)
{
	char smax[16], lock[16], window[16], longest[16];
	const char *params[6];
	PGresult *r;
	int status, locked;

	snprintf(smax, sizeof(smax), "%d", max);
	snprintf(lock, sizeof(lock), "%d", throttle_lock_seconds());
	snprintf(window, sizeof(window), "%d", THROTTLE_WINDOW_SECONDS);
	snprintf(longest, sizeof(longest), "%d", max_lock);
	params[0] = scope;
	params[1] = key;
	params[2] = smax;
	params[3] = lock;
	params[4] = window;
	params[5] = longest;
	if ((r = db_exec(db, DB_STMT_THROTTLE_FAIL, 6, params, &status)) == NULL)
		return -1;
	locked = PQntuples(r) == 1 && strcmp(PQgetvalue(r, 0, 1), "t") == 0;
	PQclear(r);
	if (locked)
		log_info("sign-in locked for a %s after %d failures", scope, max);
	return locked;
}

int
throttle_fail(struct db_conn *db, const char *email, const char *ip)
{
	char key[THROTTLE_IP_KEY_MAX];
	int a, b = 0;

	a = throttle_fail_one(db, "account", email, throttle_account_max(),
	    THROTTLE_MAX_LOCK_SECONDS);
	if (a < 0)
		return -1;
	if (ip != NULL && *ip != '\0') {
		throttle_ip_key(ip, key);
		/* An address shared by many people (an office, a carrier's NAT) is not
		 * locked for longer and longer. */
		b = throttle_fail_one(db, "ip", key, throttle_ip_max(), throttle_lock_seconds());
		if (b < 0)
			return -1;
	}
	return a || b;
}

int
throttle_success(struct db_conn *db, const char *email)
{
	const char *params[1] = { email };
	PGresult *r;
	int status;

	if ((r = db_exec(db, DB_STMT_THROTTLE_SUCCESS, 1, params, &status)) == NULL)
		return -1;
	PQclear(r);
	return 0;
}

long
throttle_purge(struct db_conn *db)
{
	char window[16];
	const char *params[1] = { window };
	PGresult *r;
	long n;
	int status;

	snprintf(window, sizeof(window), "%d", THROTTLE_WINDOW_SECONDS);
	if ((r = db_exec(db, DB_STMT_THROTTLE_PURGE, 1, params, &status)) == NULL)
		return -1;
	n = strtol(PQcmdTuples(r), NULL, 10);
	PQclear(r);
	return n;
}
