#!/bin/sh
# test-import-mbox.sh: "mailroom import-mbox" against a database of its own: the mbox files
# of t/unit/mbox go into an account's "Imported" folder with the right counts, threads and
# direction; a second import adds nothing; a file that is not an mbox, a missing file and
# an unknown account exit 1 with a clear message and change nothing; a bad command line
# exits 2. Skipped (77) without MAILROOM_TEST_DATABASE_URL (a key=value superuser
# conninfo) or psql.
set -u
bin=${BUILDDIR:-.}/app
src=${srcdir:-.}
case $src in /*) ;; *) src=$(pwd)/$src ;; esac
. "${srcdir:-.}/t/cli/db-test.sh"
db_test_setup mr_mbox warn
mbox=$src/t/unit/mbox
cd "${TMPDIR:-/tmp}" || exit 1

tmp=$(mktemp)
trap 'rm -f "$tmp" "$tmp.out" "$tmp.err"; psql -q -X "$admin_url" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1' EXIT

out=""
err=""
rc=0
run() {
	"$bin/mailroom" "$@" </dev/null >"$tmp.out" 2>"$tmp.err"
	rc=$?
	out=$(cat "$tmp.out")
	err=$(cat "$tmp.err")
}
sql() { psql -X -A -t -q "$url" -c "$1"; }
same() {
	if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1: got \"$2\", expected \"$3\""; fi
}
# expect NAME STATUS PATTERN: the last run exited STATUS and its output or messages match.
expect() {
	if [ "$rc" -ne "$2" ]; then
		not_ok "$1: exit $rc, expected $2 ($out $err)"
	elif ! printf '%s\n%s\n' "$out" "$err" | grep -q -- "$3"; then
		not_ok "$1: no \"$3\" in: $out $err"
	else
		ok "$1"
	fi
}

if ! "$bin/mailroom" migrate up >/dev/null 2>"$tmp.err"; then
	echo "FAIL: migrate up: $(cat "$tmp.err")"
	exit 1
fi
printf '%s\n' 'correct-horse-battery-1' | "$bin/mailroom" user add alice@example.org \
    --password-stdin >/dev/null 2>"$tmp.err" || { echo "FAIL: user add: $(cat "$tmp.err")"; exit 1; }
printf '%s\n' 'correct-horse-battery-2' | "$bin/mailroom" user add bob@example.org \
    --password-stdin >/dev/null 2>"$tmp.err" || { echo "FAIL: user add: $(cat "$tmp.err")"; exit 1; }
acct=$(sql "INSERT INTO mail_accounts (user_id, address, provider) SELECT id, 'me@gmail.com', 'mbox' FROM users WHERE email = 'alice@example.org' RETURNING id")
other=$(sql "INSERT INTO mail_accounts (user_id, address, provider) SELECT id, 'bob@example.org', 'mbox' FROM users WHERE email = 'bob@example.org' RETURNING id")

# The command line.
run import-mbox
expect "no arguments" 2 'usage: mailroom import-mbox FILE --account ID'
run import-mbox "$mbox/basic.mbox"
expect "no --account" 2 'usage: mailroom import-mbox'
run import-mbox "$mbox/basic.mbox" --account abc
expect "a bad account id" 2 'account id'
run import-mbox "$mbox/basic.mbox" --account "$acct" --colour
expect "an unknown option" 2 'usage: mailroom import-mbox'
run help
expect "help lists import-mbox" 0 '^    import-mbox FILE --account ID'

# Refusals that change nothing.
run import-mbox "$mbox/notmbox.txt" --account "$acct"
expect "not an mbox" 1 'notmbox.txt: .*does not start with a "From " line'
run import-mbox "$mbox/no-such.mbox" --account "$acct"
expect "a missing file" 1 'no-such.mbox: cannot open'
run import-mbox "$mbox/basic.mbox" --account 999999
expect "an unknown account" 1 'no account with the id 999999'
same "nothing stored by the refusals" "$(sql "SELECT (SELECT count(*) FROM mail_messages) + (SELECT count(*) FROM mail_folders)")" "0"

# The imports: counts as the reader splits the files.
total=0
for f in basic:3 crlf:2 noeol:1 takeout:2; do
	name=${f%%:*}
	n=${f##*:}
	run import-mbox "$mbox/$name.mbox" --account "$acct"
	expect "import $name.mbox" 0 "^$n new, 0 already there, 0 skipped$"
	total=$((total + n))
done
expect "the owner is named" 0 "account $acct (me@gmail.com) of alice@example.org"
same "no progress line when not on a terminal" "$(printf '%s' "$err" | grep -c "$(printf '\r')")" "0"
same "all the messages are stored" "$(sql "SELECT count(*) FROM mail_messages")" "$total"
same "in the Imported folder of the account" \
    "$(sql "SELECT count(*) FROM mail_messages m JOIN mail_folders f ON f.id = m.folder_id WHERE f.name = 'Imported' AND f.account_id = $acct AND m.account_id = $acct")" "$total"
same "one Imported folder" "$(sql "SELECT count(*) FROM mail_folders")" "1"
same "every row is alice's" \
    "$(sql "SELECT count(*) FROM mail_messages m JOIN users u ON u.id = m.user_id WHERE u.email = 'alice@example.org'")" "$total"
same "bob's account has nothing" "$(sql "SELECT count(*) FROM mail_messages WHERE account_id = $other")" "0"
same "a reply joins its parent's thread" \
    "$(sql "SELECT count(DISTINCT thread_id) FROM mail_messages WHERE message_id IN ('m1@example.org', 'm2@example.org')")" "1"
same "thread counts add up" "$(sql "SELECT sum(message_count) FROM mail_threads")" "$total"
same "the account's own address makes a sent message" \
    "$(sql "SELECT direction FROM mail_messages WHERE message_id = 'reply-1@gmail.com'")" "sent"
same "the separator's date is the received date" \
    "$(sql "SELECT to_char(received_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') FROM mail_messages WHERE message_id = 'order-1@shop.example'")" \
    "2024-03-06 14:04:52"
same "an escaped From line is unescaped" \
    "$(sql "SELECT body_text LIKE '%' || chr(10) || 'From here on%' FROM mail_messages WHERE message_id = 'm1@example.org'")" "t"
same "the search vector is set" "$(sql "SELECT count(*) FROM mail_messages WHERE search @@ to_tsquery('simple', 'order')")" "2"

# A second run adds nothing: messages with and without a Message-ID are recognised.
for f in basic:3 crlf:2 noeol:1 takeout:2; do
	name=${f%%:*}
	n=${f##*:}
	run import-mbox "$mbox/$name.mbox" --account="$acct"
	expect "import $name.mbox again" 0 "^0 new, $n already there, 0 skipped$"
done
# On a terminal (util-linux's script gives it one), a progress line.
if command -v script >/dev/null 2>&1; then
	script -qec "$bin/mailroom import-mbox $mbox/basic.mbox --account $acct" /dev/null \
	    </dev/null >"$tmp.out" 2>&1
	if tr '\r' '\n' <"$tmp.out" | grep -q '^3/3 messages, 100% (0 MB of 0 MB)'; then
		ok "a progress line on a terminal"
	else
		not_ok "a progress line on a terminal: $(tr '\r' '\n' <"$tmp.out")"
	fi
fi
same "still the same messages" "$(sql "SELECT count(*) FROM mail_messages")" "$total"
same "still the same threads" "$(sql "SELECT sum(message_count) FROM mail_threads")" "$total"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
