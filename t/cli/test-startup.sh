#!/bin/sh
# test-startup.sh: the programs refuse to start on a database they cannot reach (within
# 5 seconds, naming the host and the cause) or whose schema is behind (naming the
# migration), and on an invalid setting (naming the variable).
set -u
bin=${BUILDDIR:-.}/app
passed=0
failed=0

ok() { passed=$((passed + 1)); echo "ok: $1"; }
not_ok() { failed=$((failed + 1)); echo "FAIL: $1"; }

# expect_fail NAME PATTERN CMD...: CMD exits non-zero within 5 s and its stderr matches.
expect_fail() {
	name=$1 pattern=$2
	shift 2
	start=$(date +%s%N)
	err=$("$@" 2>&1 >/dev/null)
	rc=$?
	ms=$((($(date +%s%N) - start) / 1000000))
	if [ "$rc" -eq 0 ]; then
		not_ok "$name: exit status 0"
	elif [ "$ms" -ge 5000 ]; then
		not_ok "$name: took $ms ms"
	elif ! printf '%s\n' "$err" | grep -Eq -- "$pattern"; then
		not_ok "$name: message does not match /$pattern/: $err"
	else
		ok "$name ($ms ms): $err"
	fi
}

unset MAILROOM_CONFIG
cd "${TMPDIR:-/tmp}" || exit 1

# A listener that never accepts: the kernel completes the handshake, nobody answers.
silent_port=""
silent_pid=""
if command -v perl >/dev/null 2>&1; then
	portfile=$(mktemp)
	perl -MIO::Socket::INET -e '
	    my $s = IO::Socket::INET->new(LocalAddr => "127.0.0.1", LocalPort => 0,
	        Listen => 16, ReuseAddr => 1) or die "listen: $!";
	    open(my $f, ">", $ARGV[0]) or die; print $f $s->sockport, "\n"; close $f;
	    sleep 60;' "$portfile" &
	silent_pid=$!
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		[ -s "$portfile" ] && break
		sleep 0.1
	done
	silent_port=$(cat "$portfile")
	rm -f "$portfile"
	trap 'kill $silent_pid 2>/dev/null' EXIT
else
	echo "note: perl not found: the no-answer case is not run"
fi

# Nothing listens on port 1: refused at once.
for prog in mailroom mailroom-fcgi; do
	arg=check
	[ "$prog" = mailroom-fcgi ] && arg=--check
	DATABASE_URL=postgresql://mailroom@127.0.0.1:1/mailroom \
	    expect_fail "$prog, refused" 'cannot connect to database at 127\.0\.0\.1:1/mailroom: .*(refused|failed)' \
	    "$bin/$prog" "$arg"
	# A server that accepts the connection and never answers: the connect timeout applies.
	if [ -n "$silent_port" ]; then
		DATABASE_URL=postgresql://mailroom@127.0.0.1:$silent_port/mailroom \
		    expect_fail "$prog, no answer" \
		    "cannot connect to database at 127\\.0\\.0\\.1:$silent_port/mailroom: .*timeout" \
		    "$bin/$prog" "$arg"
	fi
	MAILROOM_THREADS=lots \
	    expect_fail "$prog, bad setting" 'MAILROOM_THREADS' "$bin/$prog" "$arg"
done

# A reachable database whose schema is behind.
if [ -n "${MAILROOM_TEST_DATABASE_URL:-}" ]; then
	db=mr_startup_$$
	if psql -q -X "$MAILROOM_TEST_DATABASE_URL" -c "CREATE DATABASE $db" >/dev/null 2>&1; then
		url=$(printf '%s' "$MAILROOM_TEST_DATABASE_URL" | sed "s/dbname=[^ ]*/dbname=$db/")
		DATABASE_URL=$url expect_fail "mailroom-fcgi, schema behind" \
		    'refusing to serve: migration 0001_init is not applied' "$bin/mailroom-fcgi" --check
		DATABASE_URL=$url expect_fail "mailroom check, schema behind" \
		    '0001_init' "$bin/mailroom" check
		if DATABASE_URL=$url "$bin/mailroom" migrate up >/dev/null 2>&1 &&
		    DATABASE_URL=$url "$bin/mailroom-fcgi" --check >/dev/null 2>&1; then
			ok "mailroom-fcgi --check passes once migrated"
		else
			not_ok "mailroom-fcgi --check after migrate up"
		fi
		psql -q -X "$MAILROOM_TEST_DATABASE_URL" -c "DROP DATABASE $db" >/dev/null 2>&1
	else
		not_ok "cannot create a test database with MAILROOM_TEST_DATABASE_URL"
	fi
else
	echo "note: MAILROOM_TEST_DATABASE_URL not set: schema checks not run"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
