#!/bin/sh
# test-triage.sh: "mailroom triage". --explain prints one JSON line per file with the
# file, the category, the confidence, the reasons and the source, for messages of
# contrib/triage-seed and t/mime-corpus; a missing file is an error on stderr and exit 1
# while the others are still explained; --train and --evaluate read a labelled corpus; a
# bad command line exits 2. With MAILROOM_TEST_DATABASE_URL (a key=value superuser
# conninfo) and psql: --explain --user reads the user's store, an unknown user exits 1,
# --pending classifies the stored messages not triaged yet.
set -u
bin=${BUILDDIR:-.}/app
src=${srcdir:-.}
case $src in /*) ;; *) src=$(pwd)/$src ;; esac
seed=$src/contrib/triage-seed
passed=0
failed=0
ok() { passed=$((passed + 1)); echo "ok: $1"; }
not_ok() { failed=$((failed + 1)); echo "FAIL: $1"; }
tmp=$(mktemp -d)
db=""
trap 'rm -rf "$tmp"; [ -n "$db" ] && psql -q -X "$MAILROOM_TEST_DATABASE_URL" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1' EXIT
MAILROOM_ENV=development
MAILROOM_LOG_LEVEL=error
export MAILROOM_ENV MAILROOM_LOG_LEVEL
unset MAILROOM_CONFIG

out=""
err=""
rc=0
run() {
	"$bin/mailroom" "$@" </dev/null >"$tmp/out" 2>"$tmp/err"
	rc=$?
	out=$(cat "$tmp/out")
	err=$(cat "$tmp/err")
}
expect() {
	if [ "$rc" -ne "$2" ]; then
		not_ok "$1: exit $rc, expected $2 ($out $err)"
	elif ! printf '%s\n%s\n' "$out" "$err" | grep -q -- "$3"; then
		not_ok "$1: no \"$3\" in: $out $err"
	else
		ok "$1"
	fi
}
# The shape of one line of --explain.
shape='^\{"file":"[^"]*","category":"[a-z0-9-]*","confidence":(0(\.[0-9]+)?|1\.0),"reasons":\["[^"].*"\],"source":"classifier"\}$'

msg=$(ls "$seed/marketing/"*.eml | head -1)
run triage --explain "$msg"
expect "explain a newsletter" 0 '"category":"marketing"'
if printf '%s\n' "$out" | grep -Eq "$shape"; then ok "the line's shape"; else not_ok "shape: $out"; fi

# One line per file, in order, for every message of the seed set.
set -- $(find "$seed" -name '*.eml' | sort)
run triage --explain "$@"
lines=$(printf '%s\n' "$out" | grep -Ec "$shape")
if [ "$rc" -eq 0 ] && [ "$lines" -eq "$#" ]; then ok "$# files, $lines lines"; else
	not_ok "$# files, $lines lines (exit $rc): $err"; fi
if [ "$(printf '%s\n' "$out" | head -1 | sed 's/^{"file":"\([^"]*\)".*/\1/')" = "$1" ]; then
	ok "lines in the order of the files"; else not_ok "order: $(printf '%s\n' "$out" | head -1)"; fi

# The malformed corpus: every file gets a line.
set -- $(find "$src/t/mime-corpus" -type f \( -name '*.eml' -o -name '*.msg' \) | sort)
run triage --explain "$@"
lines=$(printf '%s\n' "$out" | grep -c '"category":')
if [ "$rc" -eq 0 ] && [ "$lines" -eq "$#" ]; then ok "malformed corpus: $lines lines"; else
	not_ok "malformed corpus: $# files, $lines lines, exit $rc: $(printf '%s' "$err" | head -3)"; fi

run triage --explain "$tmp/missing.eml" "$msg"
expect "a missing file" 1 "missing.eml: No such file"
if printf '%s\n' "$out" | grep -q '"category":"marketing"'; then ok "the others still explained"
else not_ok "others: $out"; fi

run triage --explain
expect "no file" 2 "usage: mailroom triage"
run triage --frobnicate x
expect "unknown option" 2 "unknown option: --frobnicate"
run triage --explain --pending x.eml
expect "two modes" 2 "usage: mailroom triage"
run triage --train "$seed"
expect "--train without --out" 2 "usage: mailroom triage"
run triage --pending --limit 0
expect "a bad limit" 2 "limit: expected a number"
run triage --explain --prior "$tmp/none.tsv" "$msg"
expect "a missing prior: signals alone" 0 '"category":"marketing"'

# Training and evaluating.
run triage --train "$seed" --self you@example.org --out "$tmp/prior.tsv"
expect "train on the seed set" 0 "messages, .* features, written to"
if head -1 "$tmp/prior.tsv" | grep -q '^# mailroom triage model 1' && grep -q '^D	marketing	' "$tmp/prior.tsv"
then ok "the model file"; else not_ok "model file: $(head -3 "$tmp/prior.tsv")"; fi
run triage --evaluate "$seed" --self you@example.org --prior "$tmp/prior.tsv"
expect "evaluate" 0 'triage_accuracy{category="all"} [01]\.[0-9]* ([0-9]*/[0-9]*)'
expect "the rate" 0 'triage_rate [0-9]* messages/s'
mkdir "$tmp/empty"
run triage --train "$tmp/empty" --out "$tmp/p2.tsv"
expect "an empty corpus" 1 "no labelled messages"
if [ ! -e "$tmp/p2.tsv" ]; then ok "nothing written"; else not_ok "a model was written"; fi

# With a database.
if [ -z "${MAILROOM_TEST_DATABASE_URL:-}" ] || ! command -v psql >/dev/null 2>&1; then
	echo "skip: the database part (MAILROOM_TEST_DATABASE_URL not set or no psql)"
	echo "$passed passed, $failed failed"
	[ "$failed" -eq 0 ]
	exit
fi
db=mr_triage_$$
url="$MAILROOM_TEST_DATABASE_URL dbname=$db"
psql -q -X "$MAILROOM_TEST_DATABASE_URL" -c "CREATE DATABASE $db" >/dev/null || exit 1
DATABASE_URL=$url
MAILROOM_BASE_URL=https://mail.example.test/
export DATABASE_URL MAILROOM_BASE_URL
sql() { psql -X -A -t -q "$url" -c "$1"; }
"$bin/mailroom" migrate up >/dev/null 2>"$tmp/err" || { echo "FAIL: migrate: $(cat "$tmp/err")"; exit 1; }
sql "INSERT INTO users (email, display_name, password_hash) VALUES ('you@example.org', 'You', '\$argon2id\$x')"
sql "INSERT INTO mail_accounts (user_id, address) SELECT id, 'you@example.org' FROM users" >/dev/null

run triage --explain --user nobody@example.org "$msg"
expect "an unknown user" 1 "no user with the address nobody@example.org"
q=$(ls "$seed/to-respond/"*.eml | head -1)
run triage --explain --user you@example.org "$q"
expect "explain for a user" 0 '"category":"to-respond"'
if printf '%s\n' "$out" | grep -q 'First message from this sender\|Sent to you directly'; then
	ok "the user's relation in the reasons"; else not_ok "relation: $out"; fi

# --pending: stored messages, not triaged yet.
acct=$(sql "SELECT id FROM mail_accounts")
uid=$(sql "SELECT id FROM users")
sql "INSERT INTO mail_messages (user_id, account_id, message_id, from_addr, to_addr, subject, body_text) VALUES
    ($uid, $acct, 'p1@x', '[{\"name\":\"Bob\",\"address\":\"bob@partner.example.net\"}]', '[{\"name\":\"\",\"address\":\"you@example.org\"}]', 'Figures', 'Could you send me the figures for March?'),
    ($uid, $acct, 'p2@x', '[{\"name\":\"Shop\",\"address\":\"no-reply@shop.example.com\"}]', '[{\"name\":\"\",\"address\":\"you@example.org\"}]', 'Your order', 'Your order has shipped. This is an automated message.')"
run triage --pending --user you@example.org
expect "pending" 0 "^2 messages classified$"
got=$(sql "SELECT string_agg(category || ':' || category_source, ',' ORDER BY message_id) FROM mail_messages")
if [ "$got" = "to-respond:classifier,notification:classifier" ]; then ok "pending stored the decisions"
else not_ok "pending stored: $got"; fi
run triage --pending
expect "nothing pending" 0 "^0 messages classified$"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
