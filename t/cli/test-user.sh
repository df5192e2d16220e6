#!/bin/sh
# test-user.sh: "mailroom user" against a database of its own: add (password on standard
# input or typed twice on a terminal), list, a duplicate and weak passwords refused,
# set-role and the last admin, disable (sessions ended, tokens revoked), enable, and
# reset-password (a link printed, only its digest stored). Skipped (77) without
# MAILROOM_TEST_DATABASE_URL (a key=value superuser conninfo) or psql.
set -u
bin=${BUILDDIR:-.}/app
. "${srcdir:-.}/t/cli/db-test.sh"
db_test_setup mr_user warn
cd "${TMPDIR:-/tmp}" || exit 1

out=""
err=""
rc=0
# run CMD...: runs mailroom with standard input from $input (empty: none), keeps its
# output, messages and exit status.
input=""
run() {
	if [ -n "$input" ]; then
		printf '%s\n' "$input" | "$bin/mailroom" "$@" >"$tmp.out" 2>"$tmp.err"
	else
		"$bin/mailroom" "$@" </dev/null >"$tmp.out" 2>"$tmp.err"
	fi
	rc=$?
	out=$(cat "$tmp.out")
	err=$(cat "$tmp.err")
	input=""
}
sql() { psql -X -A -t -q "$url" -c "$1"; }
tmp=$(mktemp)
trap 'rm -f "$tmp" "$tmp.out" "$tmp.err" "$tmp.dump"; psql -q -X "$admin_url" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1' EXIT

# expect NAME STATUS [PATTERN]: the last run exited STATUS and, with PATTERN, its output
# or messages match it.
expect() {
	if [ "$rc" -ne "$2" ]; then
		not_ok "$1: exit status $rc, expected $2: $err"
	elif [ $# -ge 3 ] && ! printf '%s\n%s\n' "$out" "$err" | grep -Eq -- "$3"; then
		not_ok "$1: output does not match /$3/: $out $err"
	else
		ok "$1"
	fi
}
# same NAME ACTUAL EXPECTED
same() {
	if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1: got \"$2\", expected \"$3\""; fi
}

run migrate up
expect "migrate up" 0

# Command lines that cannot run: 2, before any database work.
run user
expect "user without a subcommand" 2 'usage: mailroom user add EMAIL'
run user frobnicate
expect "unknown subcommand" 2 'unknown subcommand'
run user add not-an-address --password-stdin
expect "add: not an address" 2 'not an email address'
run user add a@example.org --colour --password-stdin
expect "add: unknown option" 2 'unknown option'
run user set-role a@example.org boss
expect "set-role: unknown role" 2 'admin or member'
run user list extra
expect "list: extra argument" 2
run help
expect "help lists user" 0 '^    user add\|list'

# The first admin.
input="violet-kettle-sings-42"
run user add admin@example.org --name "Ada Admin" --admin --password-stdin
expect "add an admin" 0 '^[0-9]+$'
admin_id=$out
same "admin stored as admin" "$(sql "SELECT role || ' ' || display_name || ' ' || time_zone FROM users WHERE id = $admin_id")" "admin Ada Admin UTC"
hash=$(sql "SELECT password_hash FROM users WHERE id = $admin_id")
case $hash in
'$argon2id$v=19$m=65536,t=3,p=1$'*) ok "Argon2id hash with the default parameters" ;;
*) not_ok "unexpected hash: $hash" ;;
esac

input="another-violet-kettle"
run user add ADMIN@Example.org --password-stdin
expect "duplicate address refused (any case)" 1 'already exists'

input="password1234"
run user add bob@example.org --password-stdin
expect "common password refused" 1 'password refused: .*common'
input="short-one"
run user add bob@example.org --password-stdin
expect "short password refused" 1 'at least 12 characters'
input="bob@example.org"
run user add bob@example.org --password-stdin
expect "the address as password refused" 1 'must not be your email address'
input="Robert Tables"
run user add bob@example.org --name "Robert Tables" --password-stdin
expect "the name as password refused" 1 'must not be your name'
run user add bob@example.org --password-stdin
expect "no password on standard input" 1 'no password'
input="a perfectly fine password"
run user add bob@example.org --time-zone Mars/Olympus --password-stdin
expect "unknown time zone" 2 'unknown time zone'
same "nothing added by refusals" "$(sql "SELECT count(*) FROM users")" "1"
if command -v setsid >/dev/null 2>&1; then
	setsid -w "$bin/mailroom" user add bob@example.org </dev/null >"$tmp.out" 2>"$tmp.err"
	rc=$?
	out=$(cat "$tmp.out")
	err=$(cat "$tmp.err")
	expect "no terminal and no --password-stdin" 1 'no terminal.*--password-stdin'
fi

input="a perfectly fine password"
run user add bob@example.org --name "Robert Tables" --time-zone Europe/Berlin --password-stdin
expect "add a member" 0 '^[0-9]+$'
bob_id=$out
same "member stored" "$(sql "SELECT role || ' ' || time_zone || ' ' || disabled FROM users WHERE id = $bob_id")" "member Europe/Berlin false"

# Typed twice on a terminal (script(1) gives the program one).
if command -v script >/dev/null 2>&1; then
	printf 'carol-types-her-password\ncarol-types-her-password\n' |
	    script -qec "$bin/mailroom user add carol@example.org" /dev/null >"$tmp.out" 2>&1
	rc=$?
	if [ "$rc" -eq 0 ] && [ "$(sql "SELECT count(*) FROM users WHERE email = 'carol@example.org'")" = 1 ]; then
		ok "add with the password typed twice on a terminal"
	else
		not_ok "add on a terminal: exit status $rc: $(cat "$tmp.out")"
	fi
	printf 'dave-types-his-password\ndave-types-another-one\n' |
	    script -qec "$bin/mailroom user add dave@example.org" /dev/null >"$tmp.out" 2>&1
	rc=$?
	if [ "$rc" -ne 0 ] && grep -q 'differ' "$tmp.out"; then
		ok "two different passwords on a terminal refused"
	else
		not_ok "two different passwords: exit status $rc: $(cat "$tmp.out")"
	fi
fi

# list: everyone, with the last sign-in from the sessions.
sql "INSERT INTO sessions (user_id, token_hash, expires_at, created_at)
    VALUES ($admin_id, decode(repeat('a1', 32), 'hex'), now() + interval '1 day',
    '2024-05-06 07:08:00+00')"
run user list
expect "list" 0 'ID +EMAIL +NAME +ROLE +STATUS +CREATED \(UTC\) +LAST SIGN-IN \(UTC\)'
line=$(printf '%s\n' "$out" | grep 'admin@example.org')
case $line in
"$admin_id "*"Ada Admin"*admin*active*"2024-05-06 07:08") ok "list: the admin's row" ;;
*) not_ok "list: the admin's row: $line" ;;
esac
line=$(printf '%s\n' "$out" | grep 'bob@example.org')
case $line in
"$bob_id "*"Robert Tables"*member*active*never) ok "list: the member's row" ;;
*) not_ok "list: the member's row: $line" ;;
esac

# Roles, and the last active admin.
run user set-role bob@example.org admin
expect "promote" 0 'now admin'
run user set-role bob@example.org admin
expect "promote again: nothing to do" 0 'already admin'
run user set-role admin@example.org member
expect "demote with another admin left" 0 'now member'
run user set-role BOB@example.org member
expect "demoting the last active admin refused" 1 'last active admin'
same "still admin" "$(sql "SELECT role FROM users WHERE id = $bob_id")" "admin"
run user disable bob@example.org
expect "disabling the last active admin refused" 1 'last active admin'
run user set-role nobody@example.org admin
expect "set-role: unknown user" 1 'no user with the address nobody@example.org'
run user set-role admin@example.org admin
expect "promote back" 0

# Disable: sessions, tokens, reset links.
sql "INSERT INTO sessions (user_id, token_hash, expires_at) VALUES
    ($bob_id, decode(repeat('b1', 32), 'hex'), now() + interval '1 day'),
    ($bob_id, decode(repeat('b2', 32), 'hex'), now() + interval '1 day')"
sql "INSERT INTO api_tokens (user_id, kind, token_hash, prefix) VALUES
    ($bob_id, 'personal', decode(repeat('c1', 32), 'hex'), 'mr_pat_c1')"
sql "INSERT INTO api_tokens (user_id, kind, token_hash, prefix, revoked_at) VALUES
    ($bob_id, 'personal', decode(repeat('c2', 32), 'hex'), 'mr_pat_c2', '2024-01-01')"
run user disable bob@example.org
expect "disable" 0 '2 sessions ended, 1 API token revoked'
same "disabled" "$(sql "SELECT disabled FROM users WHERE id = $bob_id")" "t"
same "sessions gone" "$(sql "SELECT count(*) FROM sessions WHERE user_id = $bob_id")" "0"
same "other sessions kept" "$(sql "SELECT count(*) FROM sessions WHERE user_id = $admin_id")" "1"
same "tokens revoked" "$(sql "SELECT count(*) FROM api_tokens WHERE user_id = $bob_id AND revoked_at IS NULL")" "0"
same "an earlier revocation kept" "$(sql "SELECT revoked_at::date FROM api_tokens WHERE prefix = 'mr_pat_c2'")" "2024-01-01"
run user list
expect "list shows disabled" 0 'bob@example.org .*disabled'
run user reset-password bob@example.org
expect "no reset link for a disabled user" 1 'disabled'
run user enable bob@example.org
expect "enable" 0 'enabled'
same "enabled" "$(sql "SELECT disabled FROM users WHERE id = $bob_id")" "f"
run user enable bob@example.org
expect "enable again: nothing to do" 0 'already enabled'
run user disable nobody@example.org
expect "disable: unknown user" 1 'no user with the address'

# Reset links: printed once, stored as a digest only.
run user reset-password bob@example.org
expect "reset-password" 0 '^https://mail\.example\.test/reset\?token=[A-Za-z0-9_-]{43}$'
token=${out##*token=}
same "one link stored" "$(sql "SELECT count(*) FROM password_resets WHERE user_id = $bob_id AND used_at IS NULL AND expires_at BETWEEN now() + interval '59 minutes' AND now() + interval '61 minutes'")" "1"
if command -v b2sum >/dev/null 2>&1; then
	digest=$(printf '%s' "$token" | b2sum -l 256 | cut -d' ' -f1)
	same "the stored value is the token's BLAKE2b-256" "$(sql "SELECT count(*) FROM password_resets WHERE token_hash = '\\x$digest'::bytea")" "1"
fi
if command -v pg_dump >/dev/null 2>&1 && pg_dump -d "$url" >"$tmp.dump" 2>/dev/null; then :; else
	for t in users sessions password_resets audit_log api_tokens; do
		psql -X -q "$url" -c "COPY $t TO STDOUT"
	done >"$tmp.dump"
fi
if [ -s "$tmp.dump" ] && ! grep -qF -- "$token" "$tmp.dump"; then
	ok "the token is nowhere in the database"
else
	not_ok "the token is in the database dump (or the dump failed)"
fi
run user reset-password bob@example.org
expect "a second link" 0 '/reset\?token='
same "the first link no longer works" "$(sql "SELECT count(*) FROM password_resets WHERE user_id = $bob_id AND expires_at > now()")" "1"
run user reset-password nobody@example.org
expect "reset-password: unknown user" 1 'no user with the address'

# The audit trail: every change, by nobody signed in, via the CLI.
same "audit events" "$(sql "SELECT string_agg(event, ' ' ORDER BY id) FROM audit_log WHERE user_id IN ($admin_id, $bob_id)")" \
    "admin.user_add admin.user_add admin.set_role admin.set_role admin.set_role admin.user_disable admin.user_enable admin.reset_link admin.reset_link"
same "audit rows name no actor and say via cli" "$(sql "SELECT count(*) FROM audit_log WHERE actor_id IS NULL AND details->>'via' = 'cli'")" "$(sql "SELECT count(*) FROM audit_log")"
same "disable's audit details" "$(sql "SELECT details->>'sessions_ended' || ' ' || (details->>'tokens_revoked') FROM audit_log WHERE event = 'admin.user_disable'")" "2 1"

# A schema that is behind is refused with the way out.
run migrate down 1
run user list
expect "schema behind" 1 'mailroom migrate up'

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
