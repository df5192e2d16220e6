/* unit-db.h: a fresh, fully migrated database for a unit test program.
 *
 * MAILROOM_TEST_DATABASE_URL names a superuser conninfo (./contrib/dev test sets it to its
 * temporary cluster; for the dev stack: "host=$PWD/var/run user=postgres dbname=postgres").
 * unit_db_create makes a database of its own (mailroom_t_<pid>_<random>), applies every
 * migration and returns its conninfo; unit_db_drop removes it. Without the variable,
 * unit_db_create returns NULL and the program should exit UNIT_DB_SKIP (automake's 77). */
#ifndef MAILROOM_T_UNIT_DB_H
#define MAILROOM_T_UNIT_DB_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <libpq-fe.h>

#include "db-migrate.h"
#include "util.h"

#define UNIT_DB_SKIP 77

static char unit_db_name[64];
static char unit_db_conninfo[1024];

static inline void
unit_db_quiet(void *arg, const PGresult *r)
{
	(void)arg;
	(void)r;
}

static inline PGconn *
unit_db_connect_to(const char *admin, const char *dbname)
{
	const char *keys[] = { "dbname", "dbname", NULL };
	const char *vals[] = { admin, dbname, NULL };
	PGconn *c = PQconnectdbParams(keys, vals, 1);

	if (PQstatus(c) != CONNECTION_OK) {
		fprintf(stderr, "unit-db: %s: %s", dbname, PQerrorMessage(c));
		PQfinish(c);
		return NULL;
	}
	PQsetNoticeReceiver(c, unit_db_quiet, NULL);
	return c;
}

/* Runs sql on c (no parameters); exits the program when it fails. */
static inline void
unit_db_exec(PGconn *c, const char *sql)
{
	PGresult *r = PQexec(c, sql);

	if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK) {
		fprintf(stderr, "unit-db: %s: %s", sql, PQerrorMessage(c));
		exit(1);
	}
	PQclear(r);
}

/* The conninfo of a new migrated database, or NULL when MAILROOM_TEST_DATABASE_URL is
 * not set. Exits the program when the database cannot be made. */
static inline const char *
unit_db_create(void)
{
	const char *admin = getenv("MAILROOM_TEST_DATABASE_URL");
	char hex[9], err[512], sql[128];
	PGconn *a, *c;

	if (admin == NULL || *admin == '\0')
		return NULL;
	util_random_hex(hex, 4);
	snprintf(unit_db_name, sizeof(unit_db_name), "mailroom_t_%ld_%s", (long)getpid(), hex);
	a = unit_db_connect_to(admin, "postgres");
	if (a == NULL)
		exit(1);
	snprintf(sql, sizeof(sql), "CREATE DATABASE \"%s\"", unit_db_name);
	unit_db_exec(a, sql);
	PQfinish(a);
	c = unit_db_connect_to(admin, unit_db_name);
	if (c == NULL)
		exit(1);
	if (db_migrate_up(c, NULL, err, sizeof(err)) < 0) {
		fprintf(stderr, "unit-db: migrate: %s\n", err);
		exit(1);
	}
	PQfinish(c);
	/* A conninfo of its own: the admin's keywords with this dbname last (the last wins). */
	if (strstr(admin, "://") != NULL)
		fprintf(stderr, "unit-db: MAILROOM_TEST_DATABASE_URL must be key=value form\n"),
		    exit(1);
	snprintf(unit_db_conninfo, sizeof(unit_db_conninfo), "%s dbname=%s", admin,
	    unit_db_name);
	return unit_db_conninfo;
}

/* A new connection to the database of unit_db_create; exits on failure. */
static inline PGconn *
unit_db_connect(void)
{
	PGconn *c = PQconnectdb(unit_db_conninfo);

	if (PQstatus(c) != CONNECTION_OK) {
		fprintf(stderr, "unit-db: %s", PQerrorMessage(c));
		exit(1);
	}
	PQsetNoticeReceiver(c, unit_db_quiet, NULL);
	return c;
}

/* Drops the database of unit_db_create (WITH FORCE: open connections do not stop it). */
static inline void
unit_db_drop(void)
{
	const char *admin = getenv("MAILROOM_TEST_DATABASE_URL");
	char sql[128];
	PGconn *a;

	if (admin == NULL || unit_db_name[0] == '\0')
		return;
	a = unit_db_connect_to(admin, "postgres");
	if (a == NULL)
		return;
	snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS \"%s\" WITH (FORCE)", unit_db_name);
	unit_db_exec(a, sql);
	PQfinish(a);
	unit_db_name[0] = '\0';
}

#endif
