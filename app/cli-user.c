/* cli-user.c: "mailroom user", the accounts of an installation for its administrator on
 * the command line: add, list, disable and enable, set-role, reset-password. Every change
 * is one transaction with its audit_log row (actor NULL, details {"via":"cli"}). */
#include "config.h"

#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <sodium.h>

#include "account.h"
#include "cli.h"
#include "db-migrate.h"
#include "password.h"
#include "secret.h"
#include "util.h"

/* A password line: 128 code points are at most 512 bytes; longer input is refused. */
#define CLI_USER_PW_MAX 1024
/* How long a reset link made here stays usable. */
#define CLI_USER_RESET_SECONDS 3600

static int cli_user_exec(int argc, char **argv);

const struct cli_cmd cli_user_entry = {
	"user", "add|list|disable|enable|set-role|reset-password [arguments]", cli_user_exec
};

struct cli_user_sub {
	const char *name;
	const char *usage;
	int (*exec)(int argc, char **argv);
};

static int cli_user_add(int argc, char **argv);
static int cli_user_list(int argc, char **argv);
static int cli_user_disable(int argc, char **argv);
static int cli_user_enable(int argc, char **argv);
static int cli_user_set_role(int argc, char **argv);
static int cli_user_reset_password(int argc, char **argv);

static const struct cli_user_sub cli_user_subs[] = {
	{ "add", "EMAIL [--name NAME] [--admin] [--time-zone TZ] [--password-stdin]",
	    cli_user_add },
	{ "list", "", cli_user_list },
	{ "disable", "EMAIL", cli_user_disable },
	{ "enable", "EMAIL", cli_user_enable },
	{ "set-role", "EMAIL admin|member", cli_user_set_role },
	{ "reset-password", "EMAIL", cli_user_reset_password },
};

static int
cli_user_usage(void)
{
	for (size_t i = 0; i < MR_ARRAY_LEN(cli_user_subs); i++) {
		fprintf(stderr, "%s mailroom user %s%s%s\n", i == 0 ? "usage:" : "      ",
		    cli_user_subs[i].name, *cli_user_subs[i].usage != '\0' ? " " : "",
		    cli_user_subs[i].usage);
	}
	return CLI_EXIT_USAGE;
}

static int
cli_user_exec(int argc, char **argv)
{
	if (argc < 2)
		return cli_user_usage();
	for (size_t i = 0; i < MR_ARRAY_LEN(cli_user_subs); i++) {
		if (strcmp(argv[1], cli_user_subs[i].name) == 0)
			return cli_user_subs[i].exec(argc - 1, argv + 1);
	}
	fprintf(stderr, "mailroom: user: unknown subcommand: %s\n", argv[1]);
	return cli_user_usage();
}

/* --- Database ---------------------------------------------------------------------- */

/* Runs sql with text parameters; on failure prints the server's message and returns NULL
 * with the SQLSTATE in *sqlstate (when not NULL). */
static PGresult *
cli_user_sql(PGconn *conn, const char *sql, int nparams, const char *const *params,
    char sqlstate[6])
{
	PGresult *r = PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0);
	const char *msg, *state;

	if (sqlstate != NULL)
		sqlstate[0] = '\0';
	if (PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK)
		return r;
	state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
	if (sqlstate != NULL && state != NULL)
		snprintf(sqlstate, 6, "%s", state);
	/* A duplicate is the caller's to explain. */
	if (state == NULL || strcmp(state, "23505") != 0) {
		msg = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
		fprintf(stderr, "mailroom: user: database: %s\n",
		    msg != NULL ? msg : PQerrorMessage(conn));
	}
	PQclear(r);
	return NULL;
}

/* Runs a statement whose result is not needed. */
static int
cli_user_run(PGconn *conn, const char *sql, int nparams, const char *const *params)
{
	PGresult *r = cli_user_sql(conn, sql, nparams, params, NULL);

	if (r == NULL)
		return -1;
	PQclear(r);
	return 0;
}

/* Connects and checks that the schema is current, or prints why not. */
static PGconn *
cli_user_connect(void)
{
	PGconn *conn = main_cli_connect();
	char err[1024];

	if (db_migrate_check(conn, err, sizeof err) == -1) {
		fprintf(stderr, "mailroom: user: %s (run: mailroom migrate up)\n", err);
		PQfinish(conn);
		return NULL;
	}
	return conn;
}

/* Ends a failed transaction (if one is open) and the connection; returns CLI_EXIT_FAIL. */
static int
cli_user_fail(PGconn *conn)
{
	if (conn != NULL) {
		if (PQtransactionStatus(conn) != PQTRANS_IDLE)
			PQclear(PQexec(conn, "ROLLBACK"));
		PQfinish(conn);
	}
	return CLI_EXIT_FAIL;
}

struct cli_user_row {
	char id[24];
	char role[8];
	int disabled;
};

/* Finds the user with this address (citext: any case), locking the row when in a
 * transaction. Returns 1, 0 when there is none (with a message), or -1. */
static int
cli_user_find(PGconn *conn, const char *email, struct cli_user_row *u)
{
	const char *params[1] = { email };
	PGresult *r;

	r = cli_user_sql(conn, "SELECT id, role, disabled FROM users WHERE email = $1 FOR UPDATE",
	    1, params, NULL);
	if (r == NULL)
		return -1;
	if (PQntuples(r) != 1) {
		PQclear(r);
		fprintf(stderr, "mailroom: user: no user with the address %s\n", email);
		return 0;
	}
	snprintf(u->id, sizeof(u->id), "%s", PQgetvalue(r, 0, 0));
	snprintf(u->role, sizeof(u->role), "%s", PQgetvalue(r, 0, 1));
	u->disabled = strcmp(PQgetvalue(r, 0, 2), "t") == 0;
	PQclear(r);
	return 1;
}

/* The active admins other than id, with every active admin's row locked in id order, so
 * that two demotions or disablings at once cannot both see the other admin. -1 on error. */
static long
cli_user_other_admins(PGconn *conn, const char *id)
{
	const char *params[1] = { id };
	PGresult *r;
	long n = 0;

	r = cli_user_sql(conn, "SELECT id FROM users WHERE role = 'admin' AND NOT disabled "
	    "ORDER BY id FOR UPDATE", 0, NULL, NULL);
	if (r == NULL)
		return -1;
	for (int i = 0; i < PQntuples(r); i++) {
		if (strcmp(PQgetvalue(r, i, 0), params[0]) != 0)
			n++;
	}
	PQclear(r);
	return n;
}

/* The audit row of an admin action on user id, with details beside "via": "cli" (details
 * is stolen; may be NULL). */
static int
cli_user_audit(PGconn *conn, const char *id, const char *event, json_t *details)
{
	const char *params[3];
	char *text;
	int rc;

	if (details == NULL)
		details = json_object();
	json_object_set_new(details, "via", json_string("cli"));
	text = json_dumps(details, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(details);
	if (text == NULL)
		fatal("out of memory");
	params[0] = id;
	params[1] = event;
	params[2] = text;
	rc = cli_user_run(conn, "INSERT INTO audit_log (user_id, actor_id, event, details) "
	    "VALUES ($1, NULL, $2, $3::jsonb)", 3, params);
	free(text);
	return rc;
}

/* The start of a change to the user with this address: connects, begins the transaction
 * and locks the user's row; with admins, every active admin's row first, in the same order
 * for every change, so that two at once cannot deadlock. NULL (with a message) on failure. */
static PGconn *
cli_user_begin(const char *email, int admins, struct cli_user_row *u)
{
	PGconn *conn = cli_user_connect();

	if (conn == NULL)
		return NULL;
	if (cli_user_run(conn, "BEGIN", 0, NULL) == -1 ||
	    (admins && cli_user_other_admins(conn, "") < 0) ||
	    cli_user_find(conn, email, u) != 1) {
		cli_user_fail(conn);
		return NULL;
	}
	return conn;
}

/* Whether u is an active admin no other active admin would remain beside (then says so,
 * for the subcommand sub): disabling or demoting it would leave the installation without
 * one. 1, 0, or -1 on error. */
static int
cli_user_is_last_admin(PGconn *conn, const struct cli_user_row *u, const char *sub,
    const char *email)
{
	long others;

	if (strcmp(u->role, "admin") != 0 || u->disabled)
		return 0;
	if ((others = cli_user_other_admins(conn, u->id)) < 0)
		return -1;
	if (others > 0)
		return 0;
	fprintf(stderr, "mailroom: user %s: %s is the last active admin: make another user "
	    "admin first\n", sub, email);
	return 1;
}

/* Ends a change that has nothing to do: the transaction without changes, the connection. */
static int
cli_user_unchanged(PGconn *conn)
{
	PQclear(PQexec(conn, "ROLLBACK"));
	PQfinish(conn);
	return CLI_EXIT_OK;
}

/* --- Input ------------------------------------------------------------------------- */

/* The terminal, while its echo is off, for the signal handler to restore. */
static int cli_user_tty_fd = -1;
static struct termios cli_user_tty_saved;

static void
cli_user_tty_signal(int sig)
{
	if (cli_user_tty_fd != -1)
		tcsetattr(cli_user_tty_fd, TCSANOW, &cli_user_tty_saved);
	signal(sig, SIG_DFL);
	raise(sig);
}

/* Reads one line into buf (without its end of line). Returns 0, -1 at end of input, or
 * -2 when the line does not fit (the rest of it is read and dropped). */
static int
cli_user_read_line(FILE *f, char *buf, size_t len)
{
	size_t n;

	if (fgets(buf, (int)len, f) == NULL)
		return -1;
	n = strlen(buf);
	if (n > 0 && buf[n - 1] == '\n')
		buf[--n] = '\0';
	else if (!feof(f)) {
		int c;

		/* Too long: drop the rest of the line, so that it is not read as input. */
		while ((c = fgetc(f)) != EOF && c != '\n')
			;
		sodium_memzero(buf, len);
		return -2;
	}
	if (n > 0 && buf[n - 1] == '\r')
		buf[--n] = '\0';
	return 0;
}

/* Asks for a password on the terminal without echo. Returns 0, -1 (no terminal or end
 * of input) or -2 (too long). The modes change with TCSANOW, not TCSAFLUSH: a flush
 * would drop the second copy when both are typed (or pasted) ahead. */
static int
cli_user_ask(FILE *tty, const char *prompt, char *buf, size_t len)
{
	struct termios noecho;
	struct sigaction sa, old_int, old_term, old_hup;
	int fd = fileno(tty), rc;

	if (tcgetattr(fd, &cli_user_tty_saved) == -1)
		return -1;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = cli_user_tty_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	sigaction(SIGHUP, &sa, &old_hup);
	noecho = cli_user_tty_saved;
	noecho.c_lflag &= ~(tcflag_t)(ECHO | ECHOE | ECHOK);
	noecho.c_lflag |= ECHONL;
	cli_user_tty_fd = fd;
	fputs(prompt, tty);
	fflush(tty);
	tcsetattr(fd, TCSANOW, &noecho);
	rc = cli_user_read_line(tty, buf, len);
	tcsetattr(fd, TCSANOW, &cli_user_tty_saved);
	cli_user_tty_fd = -1;
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	sigaction(SIGHUP, &old_hup, NULL);
	return rc;
}

/* The new password: one line of standard input, or typed twice on the terminal. */
static int
cli_user_read_password(int from_stdin, const char *email, char pw[CLI_USER_PW_MAX])
{
	char again[CLI_USER_PW_MAX], prompt[320];
	FILE *tty;
	int rc;

	if (from_stdin) {
		rc = cli_user_read_line(stdin, pw, CLI_USER_PW_MAX);
		if (rc == -1)
			fprintf(stderr, "mailroom: user add: no password on standard input\n");
		else if (rc == -2)
			fprintf(stderr, "mailroom: user add: the password is too long\n");
		return rc == 0 ? 0 : -1;
	}
	if ((tty = fopen("/dev/tty", "r+")) == NULL) {
		fprintf(stderr, "mailroom: user add: no terminal to ask for the password: give it "
		    "on standard input with --password-stdin\n");
		return -1;
	}
	snprintf(prompt, sizeof(prompt), "Password for %s: ", email);
	rc = cli_user_ask(tty, prompt, pw, CLI_USER_PW_MAX);
	if (rc == 0)
		rc = cli_user_ask(tty, "Same password again: ", again, sizeof(again));
	fclose(tty);
	if (rc == -2) {
		fprintf(stderr, "mailroom: user add: the password is too long\n");
	} else if (rc != 0) {
		fprintf(stderr, "mailroom: user add: no password given\n");
	} else if (strcmp(pw, again) != 0) {
		fprintf(stderr, "mailroom: user add: the two passwords differ\n");
		rc = -1;
	}
	sodium_memzero(again, sizeof(again));
	return rc == 0 ? 0 : -1;
}

/* --- Subcommands ------------------------------------------------------------------- */

static int
cli_user_add(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "name", required_argument, NULL, 'n' },
		{ "admin", no_argument, NULL, 'a' },
		{ "time-zone", required_argument, NULL, 't' },
		{ "password-stdin", no_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 },
	};
	const char *email, *name = NULL, *tz = "UTC", *why, *params[5];
	char local[65], pw[CLI_USER_PW_MAX], hash[PASSWORD_HASH_MAX], err[1024], state[6];
	char id[24];
	int ch, admin = 0, from_stdin = 0;
	enum password_status st;
	PGconn *conn;
	PGresult *r;

	opterr = 0;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 'n': name = optarg; break;
		case 'a': admin = 1; break;
		case 't': tz = optarg; break;
		case 's': from_stdin = 1; break;
		default:
			fprintf(stderr, "mailroom: user add: unknown option or missing value: %s\n",
			    argv[optind - 1]);
			return cli_user_usage();
		}
	}
	if (argc - optind != 1)
		return cli_user_usage();
	email = argv[optind];
	/* The same rules as the sign-up form. */
	if (account_check_email(email) != NULL) {
		fprintf(stderr, "mailroom: user add: not an email address like "
		    "name@example.org: %s\n", email);
		return CLI_EXIT_USAGE;
	}
	if (name == NULL) {
		snprintf(local, sizeof(local), "%.*s", (int)(strchr(email, '@') - email), email);
		name = local;
	}
	if (account_check_name(name) != NULL) {
		fprintf(stderr, "mailroom: user add: the name must be 1 to 100 characters of "
		    "text\n");
		return CLI_EXIT_USAGE;
	}
	if (!account_text_ok(tz, 64)) {
		fprintf(stderr, "mailroom: user add: not a time zone: %s\n", tz);
		return CLI_EXIT_USAGE;
	}
	if (password_init(err, sizeof err) == -1) {
		fprintf(stderr, "mailroom: user add: %s\n", err);
		return CLI_EXIT_FAIL;
	}

	if ((conn = cli_user_connect()) == NULL)
		goto fail;
	/* Before asking for a password that could not be used. */
	params[0] = email;
	params[1] = tz;
	r = cli_user_sql(conn, "SELECT EXISTS (SELECT 1 FROM users WHERE email = $1), "
	    "EXISTS (SELECT 1 FROM pg_timezone_names WHERE name = $2)", 2, params, NULL);
	if (r == NULL)
		goto fail;
	if (strcmp(PQgetvalue(r, 0, 0), "t") == 0) {
		fprintf(stderr, "mailroom: user add: a user with the address %s already exists\n",
		    email);
		PQclear(r);
		goto fail;
	}
	if (strcmp(PQgetvalue(r, 0, 1), "t") != 0) {
		fprintf(stderr, "mailroom: user add: unknown time zone: %s (for example "
		    "Europe/Berlin or UTC)\n", tz);
		PQclear(r);
		cli_user_fail(conn);
		password_shutdown();
		return CLI_EXIT_USAGE;
	}
	PQclear(r);

	if (cli_user_read_password(from_stdin, email, pw) == -1)
		goto fail;
	if (password_check_policy(pw, email, name, &why) != PASSWORD_POLICY_OK) {
		fprintf(stderr, "mailroom: user add: password refused: %s\n", why);
		sodium_memzero(pw, sizeof(pw));
		goto fail;
	}
	st = password_hash(pw, hash);
	sodium_memzero(pw, sizeof(pw));
	if (st != PASSWORD_OK) {
		fprintf(stderr, "mailroom: user add: cannot hash the password (out of memory?)\n");
		goto fail;
	}

	if (cli_user_run(conn, "BEGIN", 0, NULL) == -1)
		goto fail;
	params[0] = email;
	params[1] = name;
	params[2] = hash;
	params[3] = tz;
	params[4] = admin ? "admin" : "member";
	r = cli_user_sql(conn, "INSERT INTO users (email, display_name, password_hash, "
	    "time_zone, role) VALUES ($1, $2, $3, $4, $5) RETURNING id", 5, params, state);
	if (r == NULL) {
		if (strcmp(state, "23505") == 0)
			fprintf(stderr, "mailroom: user add: a user with the address %s already "
			    "exists\n", email);
		goto fail;
	}
	snprintf(id, sizeof(id), "%s", PQgetvalue(r, 0, 0));
	PQclear(r);
	if (cli_user_audit(conn, id, "admin.user_add", json_pack("{s:s}", "role",
	    admin ? "admin" : "member")) == -1 || cli_user_run(conn, "COMMIT", 0, NULL) == -1)
		goto fail;
	PQfinish(conn);
	password_shutdown();
	printf("%s\n", id);
	return CLI_EXIT_OK;
fail:
	sodium_memzero(pw, sizeof(pw));
	password_shutdown();
	return cli_user_fail(conn);
}

/* Writes s with control characters shown as '?' (names come from the web too), padded
 * to width code points. */
static void
cli_user_cell(const char *s, int width, int last)
{
	int chars = 0;

	for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
		putchar(*p < 0x20 || *p == 0x7f ? '?' : *p);
		if ((*p & 0xc0) != 0x80)
			chars++;
	}
	if (last) {
		putchar('\n');
		return;
	}
	for (; chars < width + 2; chars++)
		putchar(' ');
}

static int
cli_user_width(const char *s)
{
	int n = 0;

	for (; *s != '\0'; s++) {
		if ((*s & 0xc0) != 0x80)
			n++;
	}
	return n;
}

static int
cli_user_list(int argc, char **argv)
{
	static const char *const head[] = { "ID", "EMAIL", "NAME", "ROLE", "STATUS",
	    "CREATED (UTC)", "LAST SIGN-IN (UTC)" };
	int width[MR_ARRAY_LEN(head)];
	PGconn *conn;
	PGresult *r;

	(void)argv;
	if (argc != 1)
		return cli_user_usage();
	if ((conn = cli_user_connect()) == NULL)
		return CLI_EXIT_FAIL;
	/* The last sign-in is the newest session's start: sessions are made by signing in. */
	r = cli_user_sql(conn, "SELECT u.id, u.email, u.display_name, u.role, "
	    "CASE WHEN u.disabled THEN 'disabled' ELSE 'active' END, "
	    "to_char(u.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI'), "
	    "coalesce(to_char((SELECT max(s.created_at) FROM sessions s WHERE s.user_id = u.id) "
	    "AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI'), 'never') "
	    "FROM users u ORDER BY u.id", 0, NULL, NULL);
	if (r == NULL)
		return cli_user_fail(conn);
	for (size_t c = 0; c < MR_ARRAY_LEN(head); c++) {
		width[c] = cli_user_width(head[c]);
		for (int i = 0; i < PQntuples(r); i++) {
			int w = cli_user_width(PQgetvalue(r, i, (int)c));

			if (w > width[c])
				width[c] = w;
		}
	}
	for (size_t c = 0; c < MR_ARRAY_LEN(head); c++)
		cli_user_cell(head[c], width[c], c + 1 == MR_ARRAY_LEN(head));
	for (int i = 0; i < PQntuples(r); i++) {
		for (size_t c = 0; c < MR_ARRAY_LEN(head); c++)
			cli_user_cell(PQgetvalue(r, i, (int)c), width[c],
			    c + 1 == MR_ARRAY_LEN(head));
	}
	PQclear(r);
	PQfinish(conn);
	return CLI_EXIT_OK;
}

static int
cli_user_disable(int argc, char **argv)
{
	struct cli_user_row u;
	const char *params[1];
	PGconn *conn;
	PGresult *r;
	long sessions, tokens;

	if (argc != 2)
		return cli_user_usage();
	if ((conn = cli_user_begin(argv[1], 1, &u)) == NULL)
		return CLI_EXIT_FAIL;
	if (cli_user_is_last_admin(conn, &u, "disable", argv[1]) != 0)
		return cli_user_fail(conn);
	params[0] = u.id;
	if (cli_user_run(conn, "UPDATE users SET disabled = true WHERE id = $1", 1,
	    params) == -1)
		return cli_user_fail(conn);
	/* Everything that lets the account in without its password. */
	if ((r = cli_user_sql(conn, "DELETE FROM sessions WHERE user_id = $1", 1, params,
	    NULL)) == NULL)
		return cli_user_fail(conn);
	sessions = strtol(PQcmdTuples(r), NULL, 10);
	PQclear(r);
	if ((r = cli_user_sql(conn, "UPDATE api_tokens SET revoked_at = now() "
	    "WHERE user_id = $1 AND revoked_at IS NULL", 1, params, NULL)) == NULL)
		return cli_user_fail(conn);
	tokens = strtol(PQcmdTuples(r), NULL, 10);
	PQclear(r);
	if (cli_user_run(conn, "UPDATE password_resets SET expires_at = now() "
	    "WHERE user_id = $1 AND used_at IS NULL AND expires_at > now()", 1, params) == -1 ||
	    cli_user_run(conn, "DELETE FROM oauth_codes WHERE user_id = $1 AND used_at IS NULL",
	    1, params) == -1)
		return cli_user_fail(conn);
	if (cli_user_audit(conn, u.id, "admin.user_disable", json_pack("{s:I, s:I}",
	    "sessions_ended", (json_int_t)sessions, "tokens_revoked", (json_int_t)tokens)) == -1 ||
	    cli_user_run(conn, "COMMIT", 0, NULL) == -1)
		return cli_user_fail(conn);
	PQfinish(conn);
	printf("%s %s: %ld session%s ended, %ld API token%s revoked\n", argv[1],
	    u.disabled ? "was already disabled" : "disabled", sessions, sessions == 1 ? "" : "s",
	    tokens, tokens == 1 ? "" : "s");
	return CLI_EXIT_OK;
}

static int
cli_user_enable(int argc, char **argv)
{
	struct cli_user_row u;
	const char *params[1];
	PGconn *conn;

	if (argc != 2)
		return cli_user_usage();
	if ((conn = cli_user_begin(argv[1], 0, &u)) == NULL)
		return CLI_EXIT_FAIL;
	if (!u.disabled) {
		printf("%s is already enabled\n", argv[1]);
		return cli_user_unchanged(conn);
	}
	params[0] = u.id;
	if (cli_user_run(conn, "UPDATE users SET disabled = false WHERE id = $1", 1,
	    params) == -1 ||
	    cli_user_audit(conn, u.id, "admin.user_enable", NULL) == -1 ||
	    cli_user_run(conn, "COMMIT", 0, NULL) == -1)
		return cli_user_fail(conn);
	PQfinish(conn);
	printf("%s enabled\n", argv[1]);
	return CLI_EXIT_OK;
}

static int
cli_user_set_role(int argc, char **argv)
{
	struct cli_user_row u;
	const char *params[2];
	PGconn *conn;

	if (argc != 3)
		return cli_user_usage();
	if (strcmp(argv[2], "admin") != 0 && strcmp(argv[2], "member") != 0) {
		fprintf(stderr, "mailroom: user set-role: the role is admin or member, not %s\n",
		    argv[2]);
		return CLI_EXIT_USAGE;
	}
	if ((conn = cli_user_begin(argv[1], 1, &u)) == NULL)
		return CLI_EXIT_FAIL;
	if (strcmp(u.role, argv[2]) == 0) {
		printf("%s is already %s\n", argv[1], argv[2]);
		return cli_user_unchanged(conn);
	}
	if (strcmp(argv[2], "member") == 0 &&
	    cli_user_is_last_admin(conn, &u, "set-role", argv[1]) != 0)
		return cli_user_fail(conn);
	params[0] = u.id;
	params[1] = argv[2];
	if (cli_user_run(conn, "UPDATE users SET role = $2 WHERE id = $1", 2, params) == -1 ||
	    cli_user_audit(conn, u.id, "admin.set_role", json_pack("{s:s, s:s}", "from",
	    u.role, "to", argv[2])) == -1 ||
	    cli_user_run(conn, "COMMIT", 0, NULL) == -1)
		return cli_user_fail(conn);
	PQfinish(conn);
	printf("%s is now %s\n", argv[1], argv[2]);
	return CLI_EXIT_OK;
}

static int
cli_user_reset_password(int argc, char **argv)
{
	struct cli_user_row u;
	char token[SECRET_TEXT_MAX], digest[SECRET_DIGEST_PARAM_LEN], secs[16];
	const char *params[3];
	size_t blen = strlen(mr_config.base_url);
	PGconn *conn;

	if (argc != 2)
		return cli_user_usage();
	if ((conn = cli_user_begin(argv[1], 0, &u)) == NULL)
		return CLI_EXIT_FAIL;
	if (u.disabled) {
		fprintf(stderr, "mailroom: user reset-password: %s is disabled (mailroom user "
		    "enable first)\n", argv[1]);
		return cli_user_fail(conn);
	}
	/* One live link at a time: the ones made before stop working. */
	params[0] = u.id;
	if (cli_user_run(conn, "UPDATE password_resets SET expires_at = now() "
	    "WHERE user_id = $1 AND used_at IS NULL AND expires_at > now()", 1, params) == -1)
		return cli_user_fail(conn);
	secret_new("", token);
	secret_digest_param(token, digest);
	snprintf(secs, sizeof(secs), "%d", CLI_USER_RESET_SECONDS);
	params[1] = digest;
	params[2] = secs;
	if (cli_user_run(conn, "INSERT INTO password_resets (user_id, token_hash, expires_at) "
	    "VALUES ($1, $2::bytea, now() + make_interval(secs => $3::int))", 3, params) == -1 ||
	    cli_user_audit(conn, u.id, "admin.reset_link", json_pack("{s:i}", "expires_in",
	    CLI_USER_RESET_SECONDS)) == -1 ||
	    cli_user_run(conn, "COMMIT", 0, NULL) == -1) {
		sodium_memzero(token, sizeof(token));
		return cli_user_fail(conn);
	}
	PQfinish(conn);
	while (blen > 0 && mr_config.base_url[blen - 1] == '/')
		blen--;
	printf("%.*s/reset?token=%s\n", (int)blen, mr_config.base_url, token);
	fprintf(stderr, "a single-use link for %s, valid for one hour: give it to them "
	    "privately\n", argv[1]);
	sodium_memzero(token, sizeof(token));
	return CLI_EXIT_OK;
}
