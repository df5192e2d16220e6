/* throttle.h: the sign-in throttle. Failed sign-ins are counted in the login_throttle
 * table, shared by every process, per account (scope 'account', the lower-cased address,
 * whether or not an account has it) and per client address (scope 'ip'; an IPv6 client
 * counts by its /64, which one machine usually has whole).
 *
 * A run of failures slows the next attempt down, then locks:
 *   - account: from failure max/2 + 1 on, each next attempt waits 1, 2, 4 ... 30 s after
 *     the last failure; failure number MAILROOM_LOGIN_MAX_FAILURES (5) locks the account
 *     for MAILROOM_LOGIN_LOCK_SECONDS (900); each further MAX_FAILURES failures in the
 *     same run lock again for twice as long as the previous lock, up to 24 hours;
 *   - ip: the same with MAILROOM_LOGIN_IP_MAX_FAILURES (20) and always the same lock, so
 *     that one client cannot try a few passwords on many accounts.
 * A run ends, and the count starts again from zero, once it began more than
 * THROTTLE_WINDOW_SECONDS ago and any lock it earned ended more than that long ago. A
 * successful sign-in ends the account's run; the address's run goes on, so one account
 * the client owns does not clear its spraying of others.
 *
 * Every time is the database's clock (now()), never the process's. Tests make time pass
 * by moving a row's first_failure_at, last_failure_at and locked_until into the past with
 * an UPDATE; nothing here sleeps. */
#ifndef MAILROOM_THROTTLE_H
#define MAILROOM_THROTTLE_H

#include <stddef.h>

#include "db-pool.h"

/* How long a run of failures counts, and the longest lock. */
#define THROTTLE_WINDOW_SECONDS 900
#define THROTTLE_MAX_LOCK_SECONDS 86400
/* The longest slow-down between two attempts before a lock. */
#define THROTTLE_MAX_DELAY_SECONDS 30
/* Room for the key of a client address ("ffff:...:ffff/64", or an IPv4 address). */
#define THROTTLE_IP_KEY_MAX 64

/* Whether a sign-in for email from ip may be tried now. Returns 0 when it may, 1 when it
 * must wait (*wait_seconds > 0; send it as Retry-After), -1 when the database failed. ip
 * may be NULL or "" when unknown. */
int throttle_check(struct db_conn *db, const char *email, const char *ip, int *wait_seconds);
/* Like throttle_check, and says whether the wait is a lock (rather than a slow-down) and
 * whether it is the client address (rather than the account) that waits. */
int throttle_check_detail(struct db_conn *db, const char *email, const char *ip,
    int *wait_seconds, int *locked, int *by_ip);
/* Counts a failed sign-in for email and for ip. Returns 1 when this failure locked the
 * account or the address, 0 when not, -1 when the database failed. */
int throttle_fail(struct db_conn *db, const char *email, const char *ip);
/* A successful sign-in: the account's count starts again. Returns 0, or -1. */
int throttle_success(struct db_conn *db, const char *email);
/* Deletes the rows that no longer count for anything. Returns how many, or -1. */
long throttle_purge(struct db_conn *db);

/* The key of a client address: IPv4 and IPv4-mapped IPv6 as the dotted address, IPv6 as
 * its /64 network; anything else is kept as it is, cut to fit. */
void throttle_ip_key(const char *ip, char out[THROTTLE_IP_KEY_MAX]);

#endif
