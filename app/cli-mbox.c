/* cli-mbox.c: "mailroom import-mbox FILE --account ID", an mbox file (a Google Takeout
 * export, say) into an account's history. Messages go into the account's "Imported"
 * folder (made when missing), each in a transaction of its own (ingest_message), so that
 * an interrupted import keeps what it stored and a second run adds only what is missing:
 * messages are known by their Message-ID. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <libpq-fe.h>

#include "cli.h"
#include "db-migrate.h"
#include "ingest.h"
#include "mbox.h"
#include "triage.h"
#include "util.h"

#define CLI_MBOX_FOLDER "Imported"

static int cli_mbox_exec(int argc, char **argv);

const struct cli_cmd cli_import_mbox_entry = {
	"import-mbox", "FILE --account ID", cli_mbox_exec
};

static PGresult *
cli_mbox_sql(PGconn *conn, const char *sql, int n, const char *const *params)
{
	PGresult *r = PQexecParams(conn, sql, n, NULL, params, NULL, NULL, 0);

	if (PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK)
		return r;
	fprintf(stderr, "mailroom: import-mbox: database: %s", PQerrorMessage(conn));
	PQclear(r);
	return NULL;
}

/* Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm). */
static int64_t
cli_mbox_days(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* The date of a separator line ("sender Mon Jan  1 10:00:00 2024", Takeout's "sender
 * Wed Mar 06 14:04:52 +0000 2024"), UTC, or 0 when it has none that reads. */
static int64_t
cli_mbox_from_date(const char *line)
{
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	char tok[8][32];
	int n = 0, mon, day, hh, mm, ss, year;
	const char *p = line, *q;

	while (n < 8) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0')
			break;
		for (q = p; *q != '\0' && *q != ' ' && *q != '\t'; q++)
			;
		snprintf(tok[n++], sizeof tok[0], "%.*s", (int)(q - p < 31 ? q - p : 31), p);
		p = q;
	}
	if (n < 6 || strlen(tok[2]) != 3 || (q = strstr(months, tok[2])) == NULL ||
	    (q - months) % 3 != 0)
		return 0;
	mon = (int)(q - months) / 3 + 1;
	if (sscanf(tok[3], "%d", &day) != 1 || sscanf(tok[4], "%d:%d:%d", &hh, &mm, &ss) != 3 ||
	    sscanf(tok[n - 1], "%d", &year) != 1)
		return 0;
	if (day < 1 || day > 31 || hh < 0 || hh > 23 || mm < 0 || mm > 59 || ss < 0 ||
	    ss > 60 || year < 1970 || year > 9999)
		return 0;
	return cli_mbox_days(year, mon, day) * 86400 + hh * 3600 + mm * 60 + ss;
}

/* The messages of the file, counted as the reader splits them (a "From " line at the
 * start or after an empty line), for the progress line; the file is rewound. */
static uint64_t
cli_mbox_count(FILE *f)
{
	static const char sep[] = "From ";
	char buf[65536];
	uint64_t count = 0;
	size_t n, i, cur = 0, match = 0;
	int prev_blank = 1;

	while ((n = fread(buf, 1, sizeof buf, f)) > 0) {
		for (i = 0; i < n; i++) {
			char ch = buf[i];

			if (ch == '\n') {
				prev_blank = cur == 0;
				cur = match = 0;
				continue;
			}
			if (ch == '\r' && cur == 0)
				continue;
			if (cur < 5 && match == cur && ch == sep[cur]) {
				match++;
				if (match == 5 && prev_blank)
					count++;
			}
			cur++;
		}
	}
	rewind(f);
	return count;
}

static void
cli_mbox_progress(uint64_t done, uint64_t total, uint64_t bytes, uint64_t size)
{
	fprintf(stderr, "\r%" PRIu64 "/%" PRIu64 " messages, %d%% (%" PRIu64 " MB of %" PRIu64
	    " MB)", done, total, size > 0 ? (int)(bytes * 100 / size) : 100,
	    bytes / 1000000, size / 1000000);
	fflush(stderr);
}

static int
cli_mbox_exec(int argc, char **argv)
{
	const char *file = NULL, *account_arg = NULL, *self[2] = { NULL, NULL };
	char err[1024], user_s[24];
	int64_t account_id, user_id, folder_id;
	uint64_t total = 0, done = 0, size = 0, added = 0, present = 0, failed = 0;
	int64_t last_progress = 0;
	struct mbox_reader *rd = NULL;
	struct mbox_message msg;
	PGconn *conn = NULL;
	PGresult *r = NULL;
	FILE *f = NULL;
	struct stat st;
	int tty, rc = CLI_EXIT_FAIL, got;
	char *address = NULL;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--account") == 0 && i + 1 < argc && account_arg == NULL)
			account_arg = argv[++i];
		else if (strncmp(argv[i], "--account=", 10) == 0 && account_arg == NULL)
			account_arg = argv[i] + 10;
		else if (argv[i][0] == '-' && argv[i][1] != '\0')
			return main_cli_usage(&cli_import_mbox_entry);
		else if (file == NULL)
			file = argv[i];
		else
			return main_cli_usage(&cli_import_mbox_entry);
	}
	if (file == NULL || account_arg == NULL)
		return main_cli_usage(&cli_import_mbox_entry);
	if (util_parse_int64(account_arg, 1, INT64_MAX, &account_id) != 0) {
		fprintf(stderr, "mailroom: import-mbox: --account takes an account id (a "
		    "number)\n");
		return main_cli_usage(&cli_import_mbox_entry);
	}

	if ((f = fopen(file, "rb")) == NULL) {
		fprintf(stderr, "mailroom: import-mbox: %s: cannot open: %s\n", file,
		    strerror(errno));
		return CLI_EXIT_FAIL;
	}
	if (fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode))
		size = (uint64_t)st.st_size;
	tty = isatty(2);

	conn = main_cli_connect();
	if (db_migrate_check(conn, err, sizeof err) == -1) {
		fprintf(stderr, "mailroom: import-mbox: %s (run: mailroom migrate up)\n", err);
		goto out;
	}

	/* The account and its owner. */
	{
		const char *p[1] = { account_arg };

		r = cli_mbox_sql(conn, "SELECT a.user_id, a.address, u.email FROM mail_accounts a "
		    "JOIN users u ON u.id = a.user_id WHERE a.id = $1::bigint", 1, p);
		if (r == NULL)
			goto out;
		if (PQntuples(r) != 1) {
			fprintf(stderr, "mailroom: import-mbox: no account with the id %s\n",
			    account_arg);
			goto out;
		}
		user_id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
		address = xstrdup(PQgetvalue(r, 0, 1));
		printf("account %" PRId64 " (%s) of %s\n", account_id, address,
		    PQgetvalue(r, 0, 2));
		fflush(stdout);
		PQclear(r);
		r = NULL;
		self[0] = address;
	}

	/* The first message, before anything is written: a file that is not an mbox
	 * changes nothing. */
	rd = mbox_open(f, 0);
	got = mbox_next(rd, &msg, err, sizeof err);
	if (got < 0) {
		fprintf(stderr, "mailroom: import-mbox: %s: %s\n", file, err);
		goto out;
	}
	if (tty && size > 0 && got == 1) {
		/* Counted from a second handle: the reader's stays where it is. */
		FILE *g = fopen(file, "rb");

		if (g != NULL) {
			total = cli_mbox_count(g);
			fclose(g);
		}
	}

	/* The Imported folder. */
	snprintf(user_s, sizeof user_s, "%" PRId64, user_id);
	{
		const char *p[3] = { account_arg, user_s, CLI_MBOX_FOLDER };

		r = cli_mbox_sql(conn, "INSERT INTO mail_folders (account_id, user_id, name) "
		    "VALUES ($1::bigint, $2::bigint, $3) ON CONFLICT (account_id, name) DO NOTHING",
		    3, p);
		if (r == NULL)
			goto out_msg;
		PQclear(r);
		r = cli_mbox_sql(conn, "SELECT id FROM mail_folders WHERE account_id = $1::bigint "
		    "AND user_id = $2::bigint AND name = $3", 3, p);
		if (r == NULL || PQntuples(r) != 1)
			goto out_msg;
		folder_id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
		PQclear(r);
		r = NULL;
	}
	/* An import is repeatable: a crash loses at most the last commits, which the next
	 * run adds again. */
	PQclear(PQexec(conn, "SET synchronous_commit = off"));

	while (got == 1) {
		int inserted = 0;

		if (ingest_message(conn, user_id, account_id, folder_id, 0, msg.data, msg.len,
		    NULL, cli_mbox_from_date(msg.from_line), self, &inserted, err,
		    sizeof err) != 0) {
			if (PQstatus(conn) != CONNECTION_OK) {
				fprintf(stderr, "%smailroom: import-mbox: %s\n", tty ? "\n" : "",
				    err);
				goto out_msg;
			}
			fprintf(stderr, "%smailroom: import-mbox: message at byte %" PRIu64
			    " skipped: %s\n", tty ? "\n" : "", msg.offset, err);
			failed++;
		} else if (inserted)
			added++;
		else
			present++;
		done++;
		mbox_message_free(&msg);
		if (tty && util_now_us() - last_progress > 200000) {
			last_progress = util_now_us();
			cli_mbox_progress(done, total > done ? total : done, mbox_offset(rd), size);
		}
		got = mbox_next(rd, &msg, err, sizeof err);
	}
	if (tty) {
		cli_mbox_progress(done, done, size, size);
		fputc('\n', stderr);
	}
	/* What was added gets classified by the worker (a "triage" job). */
	if (added > 0 && triage_enqueue(conn, user_id) < 0)
		fprintf(stderr, "mailroom: import-mbox: the new messages could not be queued for "
		    "triage: `mailroom triage --pending` classifies them\n");
	if (got < 0) {
		fprintf(stderr, "mailroom: import-mbox: %s: %s\n", file, err);
		goto out_summary;
	}
	rc = CLI_EXIT_OK;
out_summary:
	printf("%" PRIu64 " new, %" PRIu64 " already there, %" PRIu64 " skipped",
	    added, present, failed + (uint64_t)mbox_skipped(rd));
	if (failed + mbox_skipped(rd) > 0) {
		printf(" (%zu too large or empty, %" PRIu64 " not stored: see the warnings above)",
		    mbox_skipped(rd), failed);
	}
	printf("\n");
	goto out;
out_msg:
	if (got == 1)
		mbox_message_free(&msg);
out:
	PQclear(r);
	if (rd != NULL)
		mbox_close(rd);
	if (conn != NULL)
		PQfinish(conn);
	fclose(f);
	free(address);
	return rc;
}
