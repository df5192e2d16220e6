/* main-fcgi.c: mailroom-fcgi, the FastCGI program. Runs under spawn-fcgi (the listening
 * socket on standard input) with multiwatch forking several; checks its configuration and
 * the database schema before serving, then serves until SIGTERM. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <fcgiapp.h>
#include <libxml/parser.h>
#include <sodium.h>

#include "db-migrate.h"
#include "db-pool.h"
#include "http-server.h"
#include "mailer.h"
#include "metrics.h"
#include "page.h"
#include "routes.h"
#include "util.h"
#include "password.h"
#include "vault.h"

static void
usage(void)
{
	fprintf(stderr, "usage: mailroom-fcgi [--check] [--socket PATH]\n"
	    "  Serves FastCGI on standard input (as spawn-fcgi starts it) or on PATH.\n"
	    "  --check  verifies the configuration and the database, then exits.\n");
	exit(2);
}

/* Refuses to serve a database it cannot reach or whose schema is behind this build. */
static void
main_check_database(void)
{
	char err[1024];
	PGconn *pg = db_connect(mr_config.database_url, "mailroom-fcgi", err, sizeof(err));

	if (pg == NULL)
		fatal("%s", err);
	if (db_migrate_check(pg, err, sizeof(err)) == -1) {
		PQfinish(pg);
		fatal("refusing to serve: %s (run: mailroom migrate up)", err);
	}
	PQfinish(pg);
}

/* The vault's keys. Outside development they are required: an installation that stores
 * mail passwords must not come up unable to open them. In development their absence only
 * makes sealing unavailable (./contrib/dev up makes var/vault.keys). */
static void
main_load_vault(void)
{
	char err[1024];
	int r = vault_load(&vault_process, err, sizeof(err));

	if (r == -1)
		fatal("vault: %s", err);
	if (r == 0 && mr_config.profile != PROFILE_DEVELOPMENT)
		fatal("vault: no keys: set MAILROOM_VAULT_KEY_FILE (required outside development; "
		    "mailroom vault-keygen makes a key, see doc/vault.md)");
	if (r == 0)
		log_warn("vault: no keys (MAILROOM_VAULT_KEY_FILE unset): secrets cannot be "
		    "stored or read");
	else
		log_info("vault: %zu keys, sealing with \"%s\"", vault_key_count(vault_process),
		    vault_current_kid(vault_process));
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "check", no_argument, NULL, 'c' },
		{ "socket", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct http_server_opts opts;
	struct router router;
	const char **names;
	const char *socket_path = NULL;
	char err[1024];
	struct stat st;
	int ch, check_only = 0;

	log_set_program("mailroom-fcgi");
	while ((ch = getopt_long(argc, argv, "cs:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c': check_only = 1; break;
		case 's': socket_path = optarg; break;
		default: usage();
		}
	}
	if (optind != argc)
		usage();

	if (config_load(&mr_config, err, sizeof(err)) == -1)
		fatal("configuration: %s", err);
	if (sodium_init() < 0)
		fatal("libsodium failed to initialise");
	xmlInitParser();
	if (FCGX_Init() != 0)
		fatal("FCGX_Init failed");

	if (http_router_compile(&router, routes, routes_count, err, sizeof(err)) == -1)
		fatal("route table: %s", err);
	if (page_init(mr_config.templates_dir, err, sizeof(err)) == -1)
		fatal("templates: %s", err);
	if (password_init(err, sizeof(err)) == -1)
		fatal("passwords: %s", err);
	main_load_vault();
	main_check_database();
	if (check_only) {
		printf("ok: configuration valid (%s), templates loaded, database reachable and "
		    "migrated\n", config_profile_name(mr_config.profile));
		page_shutdown();
		http_router_free(&router);
		vault_free(vault_process);
		password_shutdown();
		return 0;
	}

	memset(&opts, 0, sizeof(opts));
	if (socket_path != NULL) {
		opts.listen_fd = FCGX_OpenSocket(socket_path, 128);
		if (opts.listen_fd < 0)
			fatal("cannot listen on %s: %s", socket_path, strerror(errno));
	} else {
		int type;
		socklen_t len = sizeof(type);

		if (fstat(0, &st) == -1 || !S_ISSOCK(st.st_mode) ||
		    getsockopt(0, SOL_SOCKET, SO_TYPE, &type, &len) == -1)
			fatal("standard input is not a socket: start mailroom-fcgi with spawn-fcgi "
			    "or give --socket PATH");
		opts.listen_fd = 0;
	}

	names = xcalloc(routes_count, sizeof(*names));
	for (size_t i = 0; i < routes_count; i++)
		names[i] = routes[i].pattern;
	if (metrics_open(mr_config.metrics_dir, names, (int)routes_count, err,
	    sizeof(err)) == -1)
		fatal("%s", err);

	opts.threads = mr_config.threads;
	opts.router = &router;
	opts.limits = http_limits_default;
	opts.limits.max_body = mr_config.max_body;
	opts.limits.max_upload = mr_config.max_upload;
	opts.pool = db_pool_new(mr_config.database_url, mr_config.db_pool_size,
	    mr_config.db_acquire_timeout_ms);
	metrics_pool(0, mr_config.db_pool_size);
	if (mailer_start(err, sizeof(err)) == -1)
		fatal("%s", err);
	log_info("started (%s profile)", config_profile_name(mr_config.profile));

	http_server_run(&opts, 10);
	/* Mail handed over by requests is sent before leaving, within a bound. */
	mailer_stop(5000);

	log_info("stopped");
	metrics_close();
	/* Threads may still sit in accept: leave without tearing down what they use. */
	_exit(0);
}
