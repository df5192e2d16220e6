/* cli-mailbox.c: "mailroom mailbox", a user's connected mail accounts for the
 * administrator on the command line: add (tested first, the password read from standard
 * input or a file, never from the command line where ps would show it), list, remove.
 * The same checks and storage as the settings page (mailacct.h), with audit rows
 * {"via":"cli"}. */
#include "config.h"

#include <errno.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <sodium.h>

#include "cli.h"
#include "db-migrate.h"
#include "imap.h"
#include "mailacct.h"
#include "util.h"
#include "vault.h"

static int cli_mailbox_exec(int argc, char **argv);

const struct cli_cmd cli_mailbox_entry = {
	"mailbox", "add|list|remove [arguments]", cli_mailbox_exec
};

static int cli_mailbox_add(int argc, char **argv);
static int cli_mailbox_list(int argc, char **argv);
static int cli_mailbox_remove(int argc, char **argv);

static const struct {
	const char *name;
	const char *usage;
	int (*exec)(int argc, char **argv);
} cli_mailbox_subs[] = {
	{ "add", "--user EMAIL --address ADDR --host HOST [--port PORT] "
	    "[--security tls|starttls|none] [--username USER] [--auth auto|login|plain] "
	    "[--name NAME] [--password-file FILE] [--no-test]\n"
	    "                         (the password: the first line of FILE, or of standard "
	    "input)", cli_mailbox_add },
	{ "list", "[--user EMAIL]", cli_mailbox_list },
	{ "remove", "ID", cli_mailbox_remove },
};

static int
cli_mailbox_usage(void)
{
	for (size_t i = 0; i < MR_ARRAY_LEN(cli_mailbox_subs); i++)
		fprintf(stderr, "%s mailroom mailbox %s %s\n", i == 0 ? "usage:" : "      ",
		    cli_mailbox_subs[i].name, cli_mailbox_subs[i].usage);
	return CLI_EXIT_USAGE;
}

static int
cli_mailbox_exec(int argc, char **argv)
{
	if (argc < 2)
		return cli_mailbox_usage();
	for (size_t i = 0; i < MR_ARRAY_LEN(cli_mailbox_subs); i++) {
		if (strcmp(argv[1], cli_mailbox_subs[i].name) == 0)
			return cli_mailbox_subs[i].exec(argc - 1, argv + 1);
	}
	fprintf(stderr, "mailroom: mailbox: unknown subcommand: %s\n", argv[1]);
	return cli_mailbox_usage();
}

/* Connects and checks that the schema is current; NULL (with a message) when not. */
static PGconn *
cli_mailbox_connect(const char *sub)
{
	PGconn *conn = main_cli_connect();
	char err[1024];

	if (db_migrate_check(conn, err, sizeof err) == -1) {
		fprintf(stderr, "mailroom: mailbox %s: %s (run: mailroom migrate up)\n", sub, err);
		PQfinish(conn);
		return NULL;
	}
	return conn;
}

/* The id of the user with this address (any case); 0 when none (with a message), -1 on
 * a database error (with a message). */
static int64_t
cli_mailbox_user(PGconn *conn, const char *sub, const char *email)
{
	const char *p[1] = { email };
	PGresult *r = PQexecParams(conn, "SELECT id FROM users WHERE email = $1", 1, NULL, p,
	    NULL, NULL, 0);
	int64_t id = -1;

	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		fprintf(stderr, "mailroom: mailbox %s: database: %s", sub, PQerrorMessage(conn));
	else if (PQntuples(r) != 1)
		fprintf(stderr, "mailroom: mailbox %s: no user with the address %s\n", sub, email),
		    id = 0;
	else
		id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	return id;
}

/* The audit row of a change to a user's mailboxes (details stolen). */
static void
cli_mailbox_audit(PGconn *conn, int64_t user_id, const char *event, json_t *details)
{
	char uid[24], *text;
	const char *p[3] = { uid, event, NULL };
	PGresult *r;

	json_object_set_new(details, "via", json_string("cli"));
	text = json_dumps(details, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(details);
	if (text == NULL)
		fatal("out of memory");
	snprintf(uid, sizeof uid, "%" PRId64, user_id);
	p[2] = text;
	r = PQexecParams(conn, "INSERT INTO audit_log (user_id, actor_id, event, details) "
	    "VALUES ($1, NULL, $2, $3::jsonb)", 3, NULL, p, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		fprintf(stderr, "mailroom: mailbox: the audit log was not written: %s",
		    PQerrorMessage(conn));
	PQclear(r);
	free(text);
}

/* The first line of f, without its end of line, into buf. Returns 0, or -1 with a
 * message (no line, or one longer than the limit). */
static int
cli_mailbox_read_secret(FILE *f, const char *from, char *buf, size_t len)
{
	size_t n;

	if (fgets(buf, (int)len, f) == NULL) {
		fprintf(stderr, "mailroom: mailbox add: no password in %s\n", from);
		return -1;
	}
	n = strlen(buf);
	if (n > 0 && buf[n - 1] == '\n')
		buf[--n] = '\0';
	else if (!feof(f)) {
		sodium_memzero(buf, len);
		fprintf(stderr, "mailroom: mailbox add: the password in %s is longer than %d "
		    "bytes\n", from, MAILACCT_SECRET_MAX);
		return -1;
	}
	if (n > 0 && buf[n - 1] == '\r')
		buf[--n] = '\0';
	return 0;
}

/* The command line's name of a field that mailacct_check refuses. */
static void
cli_mailbox_bad(void *arg, const char *field, const char *message)
{
	static const char *const names[][2] = {
		{ "address", "--address" }, { "display_name", "--name" }, { "host", "--host" },
		{ "port", "--port" }, { "security", "--security" }, { "username", "--username" },
		{ "auth", "--auth" }, { "secret", "the password" },
	};
	const char *name = field;

	(void)arg;
	for (size_t i = 0; i < MR_ARRAY_LEN(names); i++) {
		if (strcmp(names[i][0], field) == 0)
			name = names[i][1];
	}
	fprintf(stderr, "mailroom: mailbox add: %s: %s\n", name, message);
}

static int
cli_mailbox_add(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "user", required_argument, NULL, 'U' },
		{ "address", required_argument, NULL, 'a' },
		{ "name", required_argument, NULL, 'n' },
		{ "host", required_argument, NULL, 'h' },
		{ "port", required_argument, NULL, 'p' },
		{ "security", required_argument, NULL, 's' },
		{ "username", required_argument, NULL, 'u' },
		{ "auth", required_argument, NULL, 'A' },
		{ "password-file", required_argument, NULL, 'f' },
		{ "no-test", no_argument, NULL, 'T' },
		{ NULL, 0, NULL, 0 },
	};
	struct mailacct_input in = { NULL, "", NULL, "", "", "", "", NULL };
	char secret[MAILACCT_SECRET_MAX + 2], err[1024];
	const char *user = NULL, *file = NULL;
	struct imap_settings s;
	struct vault *v = NULL;
	enum provider_status st;
	PGconn *conn = NULL;
	FILE *f;
	int64_t uid, id, job;
	int ch, test = 1, rc = CLI_EXIT_FAIL;

	opterr = 0;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 'U': user = optarg; break;
		case 'a': in.address = optarg; break;
		case 'n': in.display_name = optarg; break;
		case 'h': in.host = optarg; break;
		case 'p': in.port = optarg; break;
		case 's': in.security = optarg; break;
		case 'u': in.username = optarg; break;
		case 'A': in.auth = optarg; break;
		case 'f': file = optarg; break;
		case 'T': test = 0; break;
		default:
			fprintf(stderr, "mailroom: mailbox add: unknown option or missing value: "
			    "%s\n", argv[optind - 1]);
			return cli_mailbox_usage();
		}
	}
	if (optind != argc || user == NULL || in.address == NULL || in.host == NULL)
		return cli_mailbox_usage();
	if (file != NULL) {
		if ((f = fopen(file, "r")) == NULL) {
			fprintf(stderr, "mailroom: mailbox add: %s: %s\n", file, strerror(errno));
			return CLI_EXIT_FAIL;
		}
		rc = cli_mailbox_read_secret(f, file, secret, sizeof secret);
		fclose(f);
	} else {
		rc = cli_mailbox_read_secret(stdin, "standard input", secret, sizeof secret);
	}
	if (rc != 0)
		return CLI_EXIT_FAIL;
	rc = CLI_EXIT_FAIL;
	in.secret = secret;
	if (mailacct_check(&in, 1, &s, cli_mailbox_bad, NULL) > 0)
		goto done;
	switch (vault_load(&v, err, sizeof err)) {
	case 1:
		break;
	case 0:
		fprintf(stderr, "mailroom: mailbox add: no vault key is configured, so the password "
		    "cannot be stored (MAILROOM_VAULT_KEY_FILE, see doc/vault.md)\n");
		goto done;
	default:
		fprintf(stderr, "mailroom: mailbox add: %s\n", err);
		goto done;
	}
	if ((conn = cli_mailbox_connect("add")) == NULL)
		goto done;
	if ((uid = cli_mailbox_user(conn, "add", user)) <= 0)
		goto done;
	if (test) {
		st = imap_test_connection(&s, NULL, err, sizeof err);
		if (st != PROVIDER_OK) {
			fprintf(stderr, "mailroom: mailbox add: the connection test failed, nothing "
			    "was stored: %s\n", err);
			goto done;
		}
		printf("connection test passed: %s:%d\n", s.host, s.port != 0 ? s.port :
		    s.security == IMAP_SECURITY_TLS ? 993 : 143);
	}
	id = mailacct_create(conn, v, uid, in.address, in.display_name, &s, err, sizeof err);
	if (id < 0) {
		fprintf(stderr, "mailroom: mailbox add: %s\n", err);
		goto done;
	}
	if (id == 0) {
		fprintf(stderr, "mailroom: mailbox add: %s has connected %s already\n", user,
		    in.address);
		goto done;
	}
	cli_mailbox_audit(conn, uid, "mailbox.add", json_pack("{s:I, s:s, s:s, s:s}", "id",
	    (json_int_t)id, "address", in.address, "host", s.host, "security",
	    mailacct_security_name(s.security)));
	if ((job = mailacct_queue_sync(conn, uid, id, err, sizeof err)) < 0)
		fprintf(stderr, "mailroom: mailbox add: %s (the worker's schedule will sync it)\n",
		    err);
	printf("added mailbox %" PRId64 " (%s) for %s", id, in.address, user);
	if (job > 0)
		printf("; first sync queued (job %" PRId64 ")", job);
	printf("\n");
	rc = CLI_EXIT_OK;
done:
	sodium_memzero(secret, sizeof secret);
	if (conn != NULL)
		PQfinish(conn);
	vault_free(v);
	return rc;
}

static int
cli_mailbox_list(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "user", required_argument, NULL, 'U' },
		{ NULL, 0, NULL, 0 },
	};
	struct mailacct_info *l;
	const char *user = NULL;
	char err[1024];
	PGconn *conn;
	int64_t uid = 0;
	long n;
	int ch;

	opterr = 0;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (ch != 'U') {
			fprintf(stderr, "mailroom: mailbox list: unknown option or missing value: "
			    "%s\n", argv[optind - 1]);
			return cli_mailbox_usage();
		}
		user = optarg;
	}
	if (optind != argc)
		return cli_mailbox_usage();
	if ((conn = cli_mailbox_connect("list")) == NULL)
		return CLI_EXIT_FAIL;
	if (user != NULL && (uid = cli_mailbox_user(conn, "list", user)) <= 0) {
		PQfinish(conn);
		return CLI_EXIT_FAIL;
	}
	n = mailacct_list(conn, uid, 0, &l, err, sizeof err);
	PQfinish(conn);
	if (n < 0) {
		fprintf(stderr, "mailroom: mailbox list: %s\n", err);
		return CLI_EXIT_FAIL;
	}
	printf("%-6s %-28s %-28s %-32s %-8s %-20s %8s %7s\n", "ID", "USER", "ADDRESS", "SERVER",
	    "STATE", "LAST SYNC", "MESSAGES", "FOLDERS");
	for (long i = 0; i < n; i++) {
		char server[300];

		snprintf(server, sizeof server, "%s:%d/%s", l[i].host, l[i].port, l[i].security);
		printf("%-6" PRId64 " %-28s %-28s %-32s %-8s %-20s %8" PRId64 " %7" PRId64 "\n",
		    l[i].id, l[i].user_email, l[i].address, server, l[i].sync_state,
		    l[i].last_sync_at != NULL ? l[i].last_sync_at : "never", l[i].messages,
		    l[i].folders);
		if (l[i].last_error != NULL)
			printf("       last error (%s): %s\n", l[i].last_error_at != NULL ?
			    l[i].last_error_at : "", l[i].last_error);
	}
	mailacct_list_free(l, n);
	return CLI_EXIT_OK;
}

static int
cli_mailbox_remove(int argc, char **argv)
{
	struct mailacct_info *l = NULL;
	char err[1024];
	PGconn *conn;
	int64_t id;
	long n;
	int del, rc = CLI_EXIT_FAIL;

	if (argc != 2 || util_parse_int64(argv[1], 1, INT64_MAX, &id) == -1)
		return cli_mailbox_usage();
	if ((conn = cli_mailbox_connect("remove")) == NULL)
		return CLI_EXIT_FAIL;
	/* The administrator names the account alone: its owner comes from the row. */
	if ((n = mailacct_list(conn, 0, id, &l, err, sizeof err)) < 0) {
		fprintf(stderr, "mailroom: mailbox remove: %s\n", err);
	} else if (n == 0) {
		fprintf(stderr, "mailroom: mailbox remove: no mailbox has the id %" PRId64 "\n", id);
	} else if ((del = mailacct_delete(conn, l[0].user_id, id, err, sizeof err)) != 1) {
		if (del == 0)
			snprintf(err, sizeof err, "no mailbox has the id %" PRId64, id);
		fprintf(stderr, "mailroom: mailbox remove: %s\n", err);
	} else {
		cli_mailbox_audit(conn, l[0].user_id, "mailbox.remove", json_pack("{s:I, s:s, s:I}",
		    "id", (json_int_t)id, "address", l[0].address, "messages",
		    (json_int_t)l[0].messages));
		printf("removed mailbox %" PRId64 " (%s of %s) and its %" PRId64 " messages\n", id,
		    l[0].address, l[0].user_email, l[0].messages);
		rc = CLI_EXIT_OK;
	}
	mailacct_list_free(l, n > 0 ? n : 0);
	PQfinish(conn);
	return rc;
}
