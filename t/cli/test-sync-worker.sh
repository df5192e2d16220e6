#!/bin/sh
# test-sync-worker.sh: the sync jobs of "mailroom worker" against a real Dovecot
# (contrib/dovecot) and a database of their own. A mailbox of 3000 messages is added with
# "mailroom mailbox add" (which queues its first sync); the worker running that sync is
# killed with -9 half way; another worker takes the job once the lease has run out, and
# the Message-IDs stored are then exactly the server's, none twice. Then new mail, and a
# worker stopped with SIGTERM in the middle of its sync: it exits 0 and gives the job back,
# and the next run completes the mailbox. Skipped (77) without MAILROOM_TEST_DATABASE_URL
# or psql, and without Dovecot unless CI=true (then it fails).
set -u
bin=${BUILDDIR:-.}/app
. "${srcdir:-.}/t/cli/db-test.sh"
db_test_setup mr_syncw warn
dovecot=${MAILROOM_TEST_DOVECOT:-${srcdir:-.}/contrib/dovecot}
case $dovecot in
/*) ;;
*) dovecot=$PWD/$dovecot ;;	# the test runs in a directory of its own
esac

if [ ! -x /usr/sbin/dovecot ]; then
	if [ "${CI:-}" = true ]; then
		echo "FAIL: Dovecot is not installed (Debian: dovecot-imapd)"
		exit 1
	fi
	echo "skip: Dovecot is not installed (Debian: dovecot-imapd)"
	exit 77
fi

tmp=$(mktemp -d)
chmod 755 "$tmp"
wpid=""
cleanup() {
	[ -n "$wpid" ] && kill -9 "$wpid" 2>/dev/null
	"$dovecot" stop "$tmp/dv" >/dev/null 2>&1
	rm -rf "$tmp"
	psql -q -X "$admin_url" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1
}
trap cleanup EXIT
cd "$tmp" || exit 1

sql() { psql -X -A -t -q "$url" -c "$1"; }
same() {
	if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1: got \"$2\", expected \"$3\""; fi
}
# wait_for SQL HUNDREDTHS: until SQL gives t, at most HUNDREDTHS hundredths of a second.
wait_for() {
	n=0
	while [ "$n" -lt "$2" ]; do
		[ "$(sql "$1")" = t ] && return 0
		sleep 0.01
		n=$((n + 1))
	done
	return 1
}
# messages FIRST LAST: .eml files in $tmp/msg, their paths on stdout.
messages() {
	mkdir -p "$tmp/msg"
	i=$1
	while [ "$i" -le "$2" ]; do
		printf 'From: Sender %d <s%d@example.net>\r\nTo: alice@example.org\r\nSubject: note %d\r\nDate: Mon, 30 Nov 2026 09:%02d:%02d +0000\r\nMessage-ID: <w-%d@example.net>\r\n\r\nLine one of %d.\r\n' \
		    $((i % 9)) $((i % 9)) "$i" $((i / 60 % 60)) $((i % 60)) "$i" "$i" \
		    >"$tmp/msg/$i.eml"
		echo "$tmp/msg/$i.eml"
		i=$((i + 1))
	done
}
# The stored Message-IDs are exactly the server's, each once.
check_exact() {
	"$dovecot" message-ids "$tmp/dv" alice INBOX | LC_ALL=C sort >"$tmp/server"
	sql "SELECT m.message_id FROM mail_messages m JOIN mail_locations l ON l.message_id = m.id
	    JOIN mail_folders f ON f.id = l.folder_id WHERE f.name = 'INBOX'" |
	    LC_ALL=C sort >"$tmp/stored"
	same "$1: server's count" "$(wc -l <"$tmp/server" | tr -d ' ')" "$2"
	if cmp -s "$tmp/server" "$tmp/stored"; then
		ok "$1: the stored Message-IDs are the server's"
	else
		not_ok "$1: the stored Message-IDs differ from the server's: $(diff "$tmp/server" \
		    "$tmp/stored" | head -5 | tr '\n' ' ')"
	fi
	same "$1: no message twice" "$(sql "SELECT count(*) - count(DISTINCT message_id)
	    FROM mail_messages")" 0
}
start_worker() {
	"$bin/mailroom" worker --kinds sync --concurrency 1 --lease 2 >>"$tmp/worker.log" 2>&1 &
	wpid=$!
}

url_line=$("$dovecot" start "$tmp/dv" | head -1)
port=${url_line##*:}
case $port in
'' | *[!0-9]*) echo "FAIL: contrib/dovecot start: $url_line"; exit 1 ;;
esac
MAILROOM_VAULT_KEYS=$("$bin/mailroom" vault-keygen t1)
MAILROOM_IMAP_ALLOW_PRIVATE=1
MAILROOM_WORKER_GRACE=0
export MAILROOM_VAULT_KEYS MAILROOM_IMAP_ALLOW_PRIVATE MAILROOM_WORKER_GRACE

if ! "$bin/mailroom" migrate up >/dev/null 2>"$tmp/err"; then
	echo "FAIL: migrate up: $(cat "$tmp/err")"
	exit 1
fi
printf 'sync worker test passphrase 42\n' |
	"$bin/mailroom" user add owner@example.org --password-stdin >/dev/null 2>"$tmp/err" ||
	{ echo "FAIL: user add: $(cat "$tmp/err")"; exit 1; }

# shellcheck disable=SC2046 # one path per message
"$dovecot" append "$tmp/dv" alice alice-pass INBOX $(messages 1 3000) ||
	{ echo "FAIL: cannot seed the mailbox"; exit 1; }
out=$(printf 'alice-pass\n' | "$bin/mailroom" mailbox add --user owner@example.org \
	--address alice@example.org --host 127.0.0.1 --port "$port" --security none \
	--username alice 2>&1)
case $out in
*"added mailbox "*) ok "mailbox add: $(echo "$out" | tail -1)" ;;
*) not_ok "mailbox add: $out"; exit 1 ;;
esac
account=$(echo "$out" | sed -n 's/.*added mailbox \([0-9]*\).*/\1/p')
same "the first sync is queued" "$(sql "SELECT count(*) FROM jobs WHERE kind = 'sync'
    AND unique_key = 'sync:$account'")" 1

# kill -9 in the middle of the sync.
start_worker
if wait_for "SELECT count(*) >= 300 FROM mail_messages" 6000; then
	kill -9 "$wpid"
	wait "$wpid" 2>/dev/null
	wpid=""
	first=$(sql "SELECT count(*) FROM mail_messages")
	if [ "$first" -lt 3000 ]; then
		ok "worker killed with $first of 3000 messages stored"
	else
		not_ok "the sync ended before the kill ($first stored)"
	fi
else
	not_ok "no message stored by the first worker within 60 s: $(tail -3 "$tmp/worker.log")"
fi
same "the job is still held by the dead worker's lease" "$(sql "SELECT locked_by IS NOT NULL
    FROM jobs WHERE unique_key = 'sync:$account'")" t

start_worker
if wait_for "SELECT count(*) = 0 FROM jobs WHERE kind = 'sync'" 12000; then
	ok "another worker took the job after the lease ran out and completed it"
else
	not_ok "the sync job is still there after 120 s: $(sql "SELECT attempts, last_error
	    FROM jobs WHERE kind = 'sync'")"
fi
check_exact "after kill -9" 3000
same "the account is idle, with no error" "$(sql "SELECT sync_state || coalesce(last_error, '')
    FROM mail_accounts WHERE id = $account")" idle

# SIGTERM in the middle of a sync of new mail: the job goes back, the next run finishes.
# shellcheck disable=SC2046 # one path per message
"$dovecot" append "$tmp/dv" alice alice-pass INBOX $(messages 3001 5000) ||
	{ echo "FAIL: cannot add mail"; exit 1; }
sql "INSERT INTO jobs (kind, payload, user_id, unique_key) SELECT 'sync',
    jsonb_build_object('account_id', id), user_id, 'sync:' || id FROM mail_accounts
    WHERE id = $account" >/dev/null
if wait_for "SELECT count(*) >= 3300 FROM mail_messages" 6000; then
	kill -TERM "$wpid"
	wait "$wpid"
	same "the worker exits 0 on SIGTERM" "$?" 0
	wpid=""
	second=$(sql "SELECT count(*) FROM mail_messages")
	if [ "$second" -lt 5000 ]; then
		ok "stopped with $second of 5000 messages stored"
	else
		not_ok "the sync ended before SIGTERM ($second stored)"
	fi
	same "the job was given back, the attempt not counted" "$(sql "SELECT locked_by IS NULL
	    AND attempts = 0 FROM jobs WHERE unique_key = 'sync:$account'")" t
else
	not_ok "the second sync stored nothing within 60 s"
fi
"$bin/mailroom" worker --kinds sync --once >>"$tmp/worker.log" 2>&1
same "worker --once runs the rest" "$?" 0
check_exact "after SIGTERM" 5000

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
