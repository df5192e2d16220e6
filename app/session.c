/* session.c: starting and ending browser sessions (session.h). Looking a session up is
 * auth.c's job, on the first need of a request. */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sodium.h>

#include "auth.h"
#include "db-pool.h"
#include "http-server.h"
#include "secret.h"
#include "session.h"
#include "util.h"

const char *
session_cookie_name(void)
{
	return mr_config.secure_cookies ? "__Host-mr_session" : "mr_session";
}

const char *
session_pre_cookie_name(void)
{
	return mr_config.secure_cookies ? "__Host-mr_pre" : "mr_pre";
}

int
session_start(struct http_ctx *c, int64_t user_id)
{
	char token[SECRET_TEXT_MAX], digest[SECRET_DIGEST_PARAM_LEN], uid[24], max[24];
	const char *params[5];
	PGresult *r;

	if (session_end_current(c) != 0)
		return c->res->status;
	secret_new("", token);
	secret_digest_param(token, digest);
	snprintf(uid, sizeof(uid), "%" PRId64, user_id);
	snprintf(max, sizeof(max), "%d", mr_config.session_max);
	params[0] = uid;
	params[1] = digest;
	params[2] = max;
	params[3] = c->req->user_agent != NULL ? c->req->user_agent : "";
	params[4] = c->req->remote_addr;
	r = http_ctx_exec(c, DB_STMT_SESSION_CREATE, 5, params);
	if (r == NULL)
		return c->res->status;
	PQclear(r);
	http_response_set_cookie(c->res, session_cookie_name(), token, mr_config.session_max,
	    mr_config.secure_cookies);
	/* From here on this request is the new session's: auth_user() looks it up again. */
	c->session_secret = arena_strdup(c->arena, token);
	c->auth_done = 0;
	c->user = NULL;
	c->csrf_token = NULL;
	c->req->user_id = 0;
	sodium_memzero(token, sizeof(token));
	return 0;
}

int
session_end_current(struct http_ctx *c)
{
	const struct auth_user *u = auth_user(c);
	char sid[24], uid[24];
	const char *params[2];
	PGresult *r;

	if (u == NULL || u->via != AUTH_SESSION) {
		if (kvlist_get(&c->req->cookies, session_cookie_name()) != NULL &&
		    c->session_secret == NULL)
			http_response_set_cookie(c->res, session_cookie_name(), "", -1,
			    mr_config.secure_cookies);
		return 0;
	}
	snprintf(sid, sizeof(sid), "%" PRId64, u->session_id);
	snprintf(uid, sizeof(uid), "%" PRId64, u->id);
	params[0] = sid;
	params[1] = uid;
	r = http_ctx_exec(c, DB_STMT_SESSION_DELETE, 2, params);
	if (r == NULL)
		return c->res->status;
	PQclear(r);
	http_response_set_cookie(c->res, session_cookie_name(), "", -1, mr_config.secure_cookies);
	c->session_secret = "";
	c->auth_done = 1;
	c->user = NULL;
	c->csrf_token = NULL;
	c->req->user_id = 0;
	return 0;
}
