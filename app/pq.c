/* pq.c: running statements on a plain PGconn (pq.h). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pq.h"

PGresult *
pq_check(PGconn *c, PGresult *r, const char *what, char *err, size_t errlen)
{
	ExecStatusType st = PQresultStatus(r);
	const char *msg;
	size_t len;

	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
		return r;
	msg = r != NULL ? PQresultErrorMessage(r) : NULL;
	if (msg == NULL || *msg == '\0')
		msg = PQerrorMessage(c);
	len = strlen(msg);
	while (len > 0 && (msg[len - 1] == '\n' || msg[len - 1] == ' '))
		len--;
	if (err != NULL)
		snprintf(err, errlen, "%s: %.*s", what, (int)len, msg);
	PQclear(r);
	return NULL;
}

PGresult *
pq_exec(PGconn *c, const char *what, const char *sql, int n, const char *const *params,
    char *err, size_t errlen)
{
	return pq_check(c, PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0), what, err,
	    errlen);
}

long
pq_run(PGconn *c, const char *what, const char *sql, int n, const char *const *params,
    char *err, size_t errlen)
{
	PGresult *r = pq_exec(c, what, sql, n, params, err, errlen);
	long rows;

	if (r == NULL)
		return -1;
	rows = strtol(PQcmdTuples(r), NULL, 10);
	PQclear(r);
	return rows;
}
