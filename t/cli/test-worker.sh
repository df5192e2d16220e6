#!/bin/sh
# test-worker.sh: "mailroom worker" against a database of its own: --once runs the due
# noop jobs and dead-letters a bad one; the scheduler queues one sync per account; SIGTERM
# lets a short job finish and gives a long one back (attempt not counted) within the grace
# time, exiting 0; a worker killed with -9 leaves a lease that runs out, and then another
# worker takes the job and completes it; a worker whose lease was taken stops its handler
# and leaves the job alone; a schema behind is refused. Skipped (77) without
# MAILROOM_TEST_DATABASE_URL (a key=value superuser conninfo) or psql.
set -u
bin=${BUILDDIR:-.}/app
. "${srcdir:-.}/t/cli/db-test.sh"
db_test_setup mr_worker info
cd "${TMPDIR:-/tmp}" || exit 1

tmp=$(mktemp)
wpid=""
trap '[ -n "$wpid" ] && kill -9 $wpid 2>/dev/null; rm -f "$tmp" "$tmp.err"; psql -q -X "$admin_url" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1' EXIT

sql() { psql -X -A -t -q "$url" -c "$1"; }
same() {
	if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1: got \"$2\", expected \"$3\""; fi
}
# wait_for SQL TENTHS: until SQL gives t, at most TENTHS tenths of a second.
wait_for() {
	n=0
	while [ "$n" -lt "$2" ]; do
		[ "$(sql "$1")" = t ] && return 0
		sleep 0.1
		n=$((n + 1))
	done
	return 1
}
now_ms() { echo $(($(date +%s%N) / 1000000)); }

if ! "$bin/mailroom" migrate up >/dev/null 2>"$tmp.err"; then
	echo "FAIL: migrate up: $(cat "$tmp.err")"
	exit 1
fi

# --once: the due noop jobs run and are gone; a sleep job with a bad payload is dead at
# once; a job not yet due and a kind without a handler stay.
sql "INSERT INTO jobs (kind, payload) SELECT 'noop', jsonb_build_object('secret', 'hunter2-' || g) FROM generate_series(1, 5) g"
sql "INSERT INTO jobs (kind, payload) VALUES ('sleep', '{\"seconds\": \"x\"}')"
sql "INSERT INTO jobs (kind, run_at) VALUES ('noop', now() + interval '1 hour')"
sql "INSERT INTO jobs (kind) VALUES ('no-such-kind')"
"$bin/mailroom" worker --once --kinds noop,sleep --concurrency 3 </dev/null >/dev/null 2>"$tmp.err"
same "worker --once exits 0" "$?" "0"
same "the due noop jobs ran" "$(sql "SELECT count(*) FROM jobs WHERE kind = 'noop'")" "1"
same "a bad payload is a dead letter" \
    "$(sql "SELECT count(*) FROM jobs WHERE kind = 'sleep' AND dead_at IS NOT NULL AND attempts = 1 AND last_error LIKE 'sleep: payload%'")" "1"
same "a kind without a handler is not claimed" \
    "$(sql "SELECT attempts || ' ' || coalesce(locked_by, '-') FROM jobs WHERE kind = 'no-such-kind'")" "0 -"
same "one log line per job start and end" "$(grep -c '"msg":"job \(start\|end\) id=' "$tmp.err")" "12"
if grep -q hunter2 "$tmp.err"; then not_ok "the log shows payloads"; else ok "the log shows no payload"; fi
"$bin/mailroom" worker --once --kinds bogus </dev/null >/dev/null 2>&1
same "an unknown kind is a usage error" "$?" "2"

# The scheduler: one sync per account not disabled, itself again in the interval.
sql "INSERT INTO users (email, display_name, password_hash) VALUES ('w@example.org', 'W', '\$argon2id\$x')"
sql "INSERT INTO mail_accounts (user_id, address, sync_state) SELECT id, a, s FROM users, (VALUES ('a@example.org', 'new'), ('b@example.org', 'disabled')) v(a, s)"
# (--kinds schedule: a sync job would be claimed, and fail here without a vault.)
MAILROOM_SYNC_INTERVAL=120 "$bin/mailroom" worker --once --kinds schedule </dev/null >/dev/null 2>"$tmp.err"
same "worker --once --kinds schedule exits 0" "$?" "0"
same "one sync job per account" \
    "$(sql "SELECT string_agg(a.address || ' ' || j.attempts, ',') FROM jobs j JOIN mail_accounts a ON j.unique_key = 'sync:' || a.id WHERE j.kind = 'sync'")" "a@example.org 0"
same "the scheduler is due again in MAILROOM_SYNC_INTERVAL" \
    "$(sql "SELECT count(*) FROM jobs WHERE kind = 'schedule' AND unique_key = 'schedule' AND attempts = 0 AND run_at BETWEEN now() + interval '110 seconds' AND now() + interval '120 seconds'")" "1"
MAILROOM_SYNC_INTERVAL=120 "$bin/mailroom" worker --once --kinds schedule </dev/null >/dev/null 2>&1
same "a second run queues nothing more" "$(sql "SELECT count(*) FROM jobs WHERE kind IN ('sync', 'schedule')")" "2"
sql "DELETE FROM jobs"

# SIGTERM: a job that ends within the grace time completes; the worker exits 0.
id=$(sql "INSERT INTO jobs (kind, payload) VALUES ('sleep', '{\"seconds\": 1}') RETURNING id")
MAILROOM_WORKER_GRACE=10 "$bin/mailroom" worker --kinds sleep </dev/null >/dev/null 2>"$tmp.err" &
wpid=$!
wait_for "SELECT locked_by IS NOT NULL FROM jobs WHERE id = $id" 50 || not_ok "the sleep job was not claimed"
kill -TERM "$wpid"
wait "$wpid"
same "SIGTERM during a short job: exit 0" "$?" "0"
wpid=""
same "the short job completed" "$(sql "SELECT count(*) FROM jobs WHERE id = $id")" "0"

# SIGTERM: a job longer than the grace time is released, its attempt not counted.
id=$(sql "INSERT INTO jobs (kind, payload) VALUES ('sleep', '{\"seconds\": 60}') RETURNING id")
MAILROOM_WORKER_GRACE=1 "$bin/mailroom" worker --kinds sleep </dev/null >/dev/null 2>"$tmp.err" &
wpid=$!
wait_for "SELECT locked_by IS NOT NULL FROM jobs WHERE id = $id" 50 || not_ok "the sleep job was not claimed"
start=$(now_ms)
kill -TERM "$wpid"
wait "$wpid"
rc=$?
ms=$(($(now_ms) - start))
wpid=""
same "SIGTERM during a long job: exit 0" "$rc" "0"
if [ "$ms" -lt 4000 ]; then ok "stopped within the grace time ($ms ms)"; else not_ok "took $ms ms to stop"; fi
same "the long job was released" \
    "$(sql "SELECT attempts || ' ' || coalesce(locked_by, '-') || ' ' || coalesce(locked_until::text, '-') || ' ' || (dead_at IS NULL) || ' ' || (run_at <= now()) FROM jobs WHERE id = $id")" "0 - - true true"
sql "DELETE FROM jobs"

# kill -9: the lease runs out, then another worker takes the job and completes it.
id=$(sql "INSERT INTO jobs (kind, payload) VALUES ('sleep', '{\"seconds\": 3}') RETURNING id")
"$bin/mailroom" worker --kinds sleep --lease 3 </dev/null >/dev/null 2>"$tmp.err" &
wpid=$!
wait_for "SELECT locked_by IS NOT NULL FROM jobs WHERE id = $id" 50 || not_ok "the sleep job was not claimed"
kill -9 "$wpid"
wait "$wpid" 2>/dev/null
wpid=""
same "killed mid-job: still locked, one attempt" \
    "$(sql "SELECT attempts || ' ' || (locked_until > now()) FROM jobs WHERE id = $id")" "1 true"
"$bin/mailroom" worker --once --kinds sleep --lease 2 </dev/null >/dev/null 2>&1
same "while the lease holds, nobody else takes it" "$(sql "SELECT attempts FROM jobs WHERE id = $id")" "1"
wait_for "SELECT locked_until < now() FROM jobs WHERE id = $id" 50 || not_ok "the lease did not run out"
"$bin/mailroom" worker --once --kinds sleep --lease 2 </dev/null >/dev/null 2>"$tmp.err"
same "a second worker after the lease: exit 0" "$?" "0"
same "... took the job and completed it" "$(sql "SELECT count(*) FROM jobs WHERE id = $id")" "0"
if grep -q "\"msg\":\"job end id=$id kind=sleep attempt=2 outcome=done" "$tmp.err"; then
	ok "its second attempt is logged"
else
	not_ok "no log line of the second attempt: $(cat "$tmp.err")"
fi

# A lease lost (another worker took the job): the heartbeat notices, the handler is
# stopped and the job is left to its new holder.
sql "DELETE FROM jobs"
id=$(sql "INSERT INTO jobs (kind, payload) VALUES ('sleep', '{\"seconds\": 60}') RETURNING id")
MAILROOM_WORKER_GRACE=1 "$bin/mailroom" worker --kinds sleep --lease 3 </dev/null >/dev/null 2>"$tmp.err" &
wpid=$!
wait_for "SELECT locked_by IS NOT NULL FROM jobs WHERE id = $id" 50 || not_ok "the sleep job was not claimed"
sql "UPDATE jobs SET locked_by = 'thief', attempts = attempts + 1 WHERE id = $id"
n=0
while [ "$n" -lt 50 ] && ! grep -q "\"msg\":\"job end id=$id kind=sleep attempt=1 outcome=lease-lost" "$tmp.err"; do
	sleep 0.1
	n=$((n + 1))
done
if [ "$n" -lt 50 ]; then ok "a lost lease stops the handler"; else not_ok "the handler went on: $(cat "$tmp.err")"; fi
kill -TERM "$wpid"
wait "$wpid"
same "... and the worker still stops with 0" "$?" "0"
wpid=""
same "... leaving the job to its new holder" \
    "$(sql "SELECT attempts || ' ' || locked_by || ' ' || (last_error IS NULL) FROM jobs WHERE id = $id")" "2 thief true"

# A schema that is behind is refused with the way out.
"$bin/mailroom" migrate down 1 >/dev/null 2>&1
"$bin/mailroom" worker --once </dev/null >/dev/null 2>"$tmp.err"
same "schema behind: exit 1" "$?" "1"
if grep -q 'mailroom migrate up' "$tmp.err"; then ok "schema behind: the way out"; else
	not_ok "schema behind: $(cat "$tmp.err")"; fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
