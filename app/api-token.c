/* api-token.c: bearer token authentication (auth.h's api_token_authenticate). */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api-token.h"
#include "auth.h"
#include "db-pool.h"
#include "http-server.h"
#include "secret.h"
#include "util.h"

/* Splits the space-separated scopes into a NULL-terminated array in the arena. */
static const char **
api_token_scopes(struct arena *a, const char *list)
{
	size_t n = 1;
	const char **out;
	char *copy = arena_strdup(a, list), *save = NULL, *tok;

	for (const char *p = list; *p != '\0'; p++)
		n += *p == ' ';
	out = arena_calloc(a, n + 1, sizeof(*out));
	n = 0;
	for (tok = strtok_r(copy, " ", &save); tok != NULL; tok = strtok_r(NULL, " ", &save))
		out[n++] = tok;
	out[n] = NULL;
	return out;
}

int
api_token_authenticate(struct http_ctx *c, const char *token, struct auth_user *u)
{
	char digest[SECRET_DIGEST_PARAM_LEN];
	const char *params[2], *kind;
	struct db_conn *db;
	PGresult *r;
	int status;

	if (secret_is_wellformed(API_TOKEN_PERSONAL_PREFIX, token))
		kind = "personal";
	else if (secret_is_wellformed(API_TOKEN_ACCESS_PREFIX, token))
		kind = "access";
	else
		return 0;   /* refresh tokens, JWTs, anything else: not a bearer token here */
	db = http_ctx_db(c);
	if (db == NULL)
		return -1;
	secret_digest_param(token, digest);
	params[0] = digest;
	params[1] = kind;
	r = db_exec(db, DB_STMT_TOKEN_LOOKUP, 2, params, &status);
	if (r == NULL)
		return -1;
	if (PQntuples(r) != 1) {
		PQclear(r);
		return 0;
	}
	u->token_id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	u->id = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
	u->email = arena_strdup(c->arena, PQgetvalue(r, 0, 2));
	u->display_name = arena_strdup(c->arena, PQgetvalue(r, 0, 3));
	u->time_zone = arena_strdup(c->arena, PQgetvalue(r, 0, 4));
	u->is_admin = strcmp(PQgetvalue(r, 0, 5), "t") == 0;
	u->scopes = api_token_scopes(c->arena, PQgetvalue(r, 0, 6));
	if (strcmp(PQgetvalue(r, 0, 7), "t") == 0) {
		char tid[24];
		const char *p[1] = { tid };

		snprintf(tid, sizeof(tid), "%" PRId64, u->token_id);
		PQclear(db_exec(db, DB_STMT_TOKEN_TOUCH, 1, p, &status));
	}
	PQclear(r);
	return 1;
}
