# db-test.sh: what the shell tests of mailroom commands share, sourced by them: the ok and
# not_ok counters, the skip (77) without MAILROOM_TEST_DATABASE_URL (a key=value superuser
# conninfo) or psql, and a database of the test's own with the environment the commands
# read. The sourcing script sets its own EXIT trap, which drops "$db".
passed=0
failed=0

ok() { passed=$((passed + 1)); echo "ok: $1"; }
not_ok() { failed=$((failed + 1)); echo "FAIL: $1"; }

# db_test_setup PREFIX LOG_LEVEL: skips without a database; creates PREFIX_<pid> and
# exports DATABASE_URL (key=value conninfo: the last dbname wins) and the settings.
db_test_setup() {
	if [ -z "${MAILROOM_TEST_DATABASE_URL:-}" ]; then
		echo "skip: MAILROOM_TEST_DATABASE_URL not set"
		exit 77
	fi
	if ! command -v psql >/dev/null 2>&1; then
		echo "skip: psql not found"
		exit 77
	fi
	unset MAILROOM_CONFIG
	db=${1}_$$
	admin_url=$MAILROOM_TEST_DATABASE_URL
	url="$admin_url dbname=$db"
	if ! psql -q -X "$admin_url" -c "CREATE DATABASE $db" >/dev/null; then
		echo "FAIL: cannot create a test database with MAILROOM_TEST_DATABASE_URL"
		exit 1
	fi
	DATABASE_URL=$url
	MAILROOM_ENV=development
	MAILROOM_BASE_URL=https://mail.example.test/
	MAILROOM_LOG_LEVEL=$2
	export DATABASE_URL MAILROOM_ENV MAILROOM_BASE_URL MAILROOM_LOG_LEVEL
}
