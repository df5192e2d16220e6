#!/bin/sh
# test-dovecot.sh: the Dovecot test server of contrib/dovecot: it starts on loopback in a
# temporary directory, takes messages by IMAP APPEND, answers STATUS with CONDSTORE's
# HIGHESTMODSEQ, over IMAPS too, refuses a wrong password, serves a message's body,
# changes a folder's UIDVALIDITY on demand and stops without leaving a process. Then
# it times the fetch of 1,000 small messages in one FETCH (the reference of the sync
# benchmark). Skipped (77) without Dovecot (Debian: dovecot-imapd), curl or openssl.
set -u
passed=0
failed=0

ok() { passed=$((passed + 1)); echo "ok: $1"; }
not_ok() { failed=$((failed + 1)); echo "FAIL: $1"; }

# check NAME PATTERN TEXT: TEXT matches the extended regular expression PATTERN.
check() {
	if printf '%s\n' "$3" | grep -Eq -- "$2"; then
		ok "$1: $(printf '%s\n' "$3" | grep -E -- "$2" | head -n 1)"
	else
		not_ok "$1: no /$2/ in: $3"
	fi
}

now_ms() { echo $(($(date +%s%N) / 1000000)); }

dovecot_bin=/usr/sbin/dovecot
[ -x "$dovecot_bin" ] || dovecot_bin=$(command -v dovecot 2>/dev/null) || {
	echo "skip: dovecot is not installed (Debian: dovecot-imapd)"
	exit 77
}
for tool in curl openssl setpriv; do
	command -v "$tool" >/dev/null 2>&1 || { echo "skip: $tool not found"; exit 77; }
done

harness=${MAILROOM_TEST_DOVECOT:-${srcdir:-.}/contrib/dovecot}
case $harness in /*) ;; *) harness=$(pwd)/$harness ;; esac
[ -x "$harness" ] || { echo "FAIL: $harness is not executable"; exit 1; }

dir=$(mktemp -d "${TMPDIR:-/tmp}/mailroom-dovecot.XXXXXX") || exit 1
cleanup() {
	"$harness" stop "$dir" >/dev/null 2>&1
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# ---- start
urls=$("$harness" start "$dir" 2>&1)
rc=$?
if [ "$rc" -ne 0 ]; then
	echo "FAIL: contrib/dovecot start: $urls"
	exit 1
fi
imap=$(printf '%s\n' "$urls" | grep '^imap://')
imaps=$(printf '%s\n' "$urls" | grep '^imaps://')
check "start prints the IMAP URL" '^imap://127\.0\.0\.1:[0-9]+$' "$imap"
check "start prints the IMAPS URL" '^imaps://127\.0\.0\.1:[0-9]+$' "$imaps"
check "listens on loopback only" '^listen = 127\.0\.0\.1$' "$(cat "$dir/dovecot.conf")"

# ---- seed: 3 messages in INBOX, 2 in a new folder Archive
mkdir "$dir/eml"
for i in 1 2 3 4 5; do
	printf 'From: Carol <carol@example.org>\r\nTo: Alice <alice@example.org>\r\nSubject: Test message %s\r\nDate: Mon, 2 Mar 2026 10:0%s:00 +0000\r\nMessage-ID: <test-%s@example.org>\r\n\r\nHello, this is message number %s.\r\n' \
		"$i" "$i" "$i" "$i" >"$dir/eml/m$i.eml"
done
if "$harness" append "$dir" alice alice-pass INBOX "$dir/eml/m1.eml" "$dir/eml/m2.eml" "$dir/eml/m3.eml"; then
	ok "append 3 messages to INBOX"
else
	not_ok "append 3 messages to INBOX"
fi
if "$harness" append "$dir" alice alice-pass Archive "$dir/eml/m4.eml" "$dir/eml/m5.eml"; then
	ok "append 2 messages to a new folder Archive"
else
	not_ok "append 2 messages to a new folder Archive"
fi

status_inbox() {
	curl -sS --max-time 20 "$imap/INBOX" -u alice:alice-pass \
		-X 'STATUS INBOX (MESSAGES UIDNEXT UIDVALIDITY HIGHESTMODSEQ)' 2>&1
}
out=$(status_inbox)
check "STATUS INBOX: 3 messages and a HIGHESTMODSEQ (CONDSTORE)" \
	'^\* STATUS INBOX \(MESSAGES 3 UIDNEXT 4 UIDVALIDITY [0-9]+ HIGHESTMODSEQ [0-9]+\)' "$out"
validity1=$(printf '%s\n' "$out" | sed -n 's/.*UIDVALIDITY \([0-9]*\).*/\1/p')
out=$(curl -sS --max-time 20 "$imap/" -u alice:alice-pass -X 'STATUS Archive (MESSAGES)' 2>&1)
check "STATUS Archive: 2 messages" '^\* STATUS Archive \(MESSAGES 2\)' "$out"
out=$(curl -sS --max-time 20 "$imap/" -u alice:alice-pass -X 'LIST "" "*"' 2>&1)
check "LIST: Archive with \\Archive" '^\* LIST \([^)]*\\Archive[^)]*\) "/" Archive' "$out"
out=$(curl -sS --max-time 20 "$imap/" -u alice:alice-pass -X 'CAPABILITY' 2>&1)
check "CAPABILITY: CONDSTORE and QRESYNC" 'CONDSTORE.* QRESYNC' "$out"
out=$(curl -sS --max-time 20 "$imap/INBOX" -u alice:alice-pass -X 'FETCH 1:3 (FLAGS)' 2>&1)
check "appended messages are unseen" '^\* 3 FETCH \(FLAGS \((\\Recent)?\)\)' "$out"
out=$(curl -sS --max-time 20 "$imap/" -u bob:bob-pass -X 'STATUS INBOX (MESSAGES)' 2>&1)
check "bob has a mailbox of his own" '^\* STATUS INBOX \(MESSAGES 0\)' "$out"

# ---- IMAPS: self-signed (-k, or the certificate as the CA)
out=$(curl -sS --max-time 20 -k "$imaps/INBOX" -u alice:alice-pass -X 'STATUS INBOX (MESSAGES)' 2>&1)
check "IMAPS with -k" '^\* STATUS INBOX \(MESSAGES 3\)' "$out"
out=$(curl -sS --max-time 20 --cacert "$dir/ssl/cert.pem" "$imaps/INBOX" -u alice:alice-pass \
	-X 'STATUS INBOX (MESSAGES)' 2>&1)
check "IMAPS with its certificate as the CA" '^\* STATUS INBOX \(MESSAGES 3\)' "$out"
out=$(curl -sS --max-time 20 "$imaps/INBOX" -u alice:alice-pass -X 'NOOP' 2>&1)
check "IMAPS refuses an unverified certificate" 'curl: \((60|35)\)' "$out"

# ---- authentication
out=$(curl -sS --max-time 20 "$imap/INBOX" -u alice:wrong -X 'STATUS INBOX (MESSAGES)' 2>&1)
check "a wrong password fails" 'curl: \(67\) Login denied' "$out"
if "$harness" adduser "$dir" carol carol-pass; then
	out=$(curl -sS --max-time 20 "$imap/" -u carol:carol-pass -X 'STATUS INBOX (MESSAGES)' 2>&1)
	check "adduser on a running server" '^\* STATUS INBOX \(MESSAGES 0\)' "$out"
else
	not_ok "adduser carol"
fi

# ---- a message's body
out=$(curl -sS --max-time 20 "$imap/INBOX;UID=2" -u alice:alice-pass 2>&1)
check "FETCH of message 2: its header" '^Subject: Test message 2' "$out"
check "FETCH of message 2: its body" '^Hello, this is message number 2\.' "$out"

# ---- a new UIDVALIDITY
new=$("$harness" uidvalidity-reset "$dir" alice INBOX 2>&1)
out=$(status_inbox)
validity2=$(printf '%s\n' "$out" | sed -n 's/.*UIDVALIDITY \([0-9]*\).*/\1/p')
if [ -n "$validity1" ] && [ -n "$validity2" ] && [ "$validity1" != "$validity2" ] &&
	[ "$new" = "$validity2" ]; then
	ok "uidvalidity-reset: UIDVALIDITY $validity1 -> $validity2"
else
	not_ok "uidvalidity-reset: UIDVALIDITY $validity1 -> $validity2 (printed: $new)"
fi
check "uidvalidity-reset keeps the messages" '^\* STATUS INBOX \(MESSAGES 3 UIDNEXT 4 ' "$out"

# ---- 1,000 small messages: APPEND them, then FETCH them all at once
mkdir "$dir/bulk"
i=1
while [ "$i" -le 1000 ]; do
	printf 'From: Sender %s <sender%s@example.org>\r\nTo: Bob <bob@example.org>\r\nSubject: Bulk message %s\r\nDate: Mon, 2 Mar 2026 12:00:00 +0000\r\nMessage-ID: <bulk-%s@example.org>\r\n\r\nBody of bulk message %s.\r\n' \
		"$i" "$i" "$i" "$i" "$i" >"$dir/bulk/$i.eml"
	i=$((i + 1))
done
t0=$(now_ms)
# shellcheck disable=SC2046 # the file names have no spaces
if "$harness" append "$dir" bob bob-pass INBOX $(i=1; while [ "$i" -le 1000 ]; do
	printf '%s ' "$dir/bulk/$i.eml"; i=$((i + 1)); done); then
	t1=$(now_ms)
	ok "append 1000 messages (one connection): $(((t1 - t0) / 1000)).$(printf '%03d' $(((t1 - t0) % 1000))) s"
else
	not_ok "append 1000 messages"
fi
# One FETCH 1:* BODY.PEEK[] on one connection, the commands pipelined through curl's
# telnet:// (curl's IMAP keeps a custom command's responses as headers, 300 KB at most).
t0=$(now_ms)
printf 'a LOGIN bob bob-pass\r\nb EXAMINE INBOX\r\nc FETCH 1:* BODY.PEEK[]\r\nd LOGOUT\r\n' |
	curl -sS --max-time 120 "telnet://${imap#imap://}" -o "$dir/fetch.out"
rc=$?
t1=$(now_ms)
n=$(grep -c '^Body of bulk message [0-9]*\.' "$dir/fetch.out" 2>/dev/null)
bytes=$(wc -c <"$dir/fetch.out" 2>/dev/null)
if [ "$rc" -eq 0 ] && [ "$n" = 1000 ] && grep -q '^c OK Fetch completed' "$dir/fetch.out"; then
	secs="$(((t1 - t0) / 1000)).$(printf '%03d' $(((t1 - t0) % 1000)))"
	ok "FETCH 1:* BODY.PEEK[] of 1000 messages, one command ($bytes bytes): $secs s"
	echo "dovecot_fetch_1000_one_command_seconds $secs"
else
	not_ok "FETCH 1:* BODY.PEEK[]: curl exit $rc, $n of 1000 bodies"
fi
# The same messages one by one (imap://.../INBOX;UID=N, 1000 URLs on one connection).
i=1
{
	echo 'user = "bob:bob-pass"'
	while [ "$i" -le 1000 ]; do
		echo "url = \"$imap/INBOX;UID=$i\""
		i=$((i + 1))
	done
} >"$dir/fetch.cfg"
t0=$(now_ms)
curl -sS --max-time 120 -K "$dir/fetch.cfg" >"$dir/fetch1.out"
rc=$?
t1=$(now_ms)
n=$(grep -c '^Body of bulk message [0-9]*\.' "$dir/fetch1.out" 2>/dev/null)
if [ "$rc" -eq 0 ] && [ "$n" = 1000 ]; then
	secs="$(((t1 - t0) / 1000)).$(printf '%03d' $(((t1 - t0) % 1000)))"
	ok "FETCH of 1000 messages one by one: $secs s"
	echo "dovecot_fetch_1000_one_by_one_seconds $secs"
else
	not_ok "FETCH of 1000 messages one by one: curl exit $rc, $n of 1000 bodies"
fi

# ---- stop
inst=$(sed -n 's/^instance_name = //p' "$dir/dovecot.conf")
port=${imap##*:}
if "$harness" stop "$dir"; then
	ok "stop"
else
	not_ok "stop"
fi
left=$(pgrep -f -- "$dir/dovecot\\.conf|^dovecot-$inst/" | tr '\n' ' ')
if [ -z "$inst" ]; then
	not_ok "no instance_name in dovecot.conf"
elif [ -n "$left" ]; then
	not_ok "stop leaves processes: $left"
else
	ok "stop leaves no Dovecot process"
fi
if curl -sS --max-time 5 "imap://127.0.0.1:$port/" -u alice:alice-pass -X NOOP >/dev/null 2>&1; then
	not_ok "the IMAP port still answers after stop"
else
	ok "the IMAP port is closed after stop"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
