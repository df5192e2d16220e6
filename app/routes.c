/* routes.c: every URL of the application in one table. Flags declare what a route needs
 * before its handler runs: a session or a token, and a CSRF check on unsafe methods. */
#include "config.h"

#include "routes.h"

const struct route routes[] = {
	{ "GET", "/", page_home_landing, 0, NULL },
	{ "GET", "/inbox", page_home_inbox, ROUTE_SESSION, NULL },
	{ "GET", "/login", page_account_login, 0, NULL },
	{ "POST", "/login", page_account_login_post, ROUTE_CSRF, NULL },
	{ "POST", "/logout", page_account_logout, ROUTE_CSRF, NULL },
	{ "GET", "/signup", page_account_signup, 0, NULL },
	{ "POST", "/signup", page_account_signup_post, ROUTE_CSRF, NULL },
	{ "GET", "/reset", page_account_reset, 0, NULL },
	{ "POST", "/reset", page_account_reset_post, ROUTE_CSRF, NULL },
	{ "POST", "/reset/password", page_account_reset_password, ROUTE_CSRF, NULL },
	{ "GET", "/settings", page_settings, ROUTE_SESSION, NULL },
	{ "POST", "/settings/profile", page_settings_profile, ROUTE_SESSION | ROUTE_CSRF, NULL },
	{ "POST", "/settings/password", page_settings_password, ROUTE_SESSION | ROUTE_CSRF,
	    NULL },
	{ "POST", "/settings/email", page_settings_email, ROUTE_SESSION | ROUTE_CSRF, NULL },
	{ "POST", "/settings/sessions/{id:int}/end", page_settings_session_end,
	    ROUTE_SESSION | ROUTE_CSRF, NULL },
	{ "POST", "/settings/sessions/end-others", page_settings_sessions_end_others,
	    ROUTE_SESSION | ROUTE_CSRF, NULL },
	{ "GET", "/settings/activity", page_settings_activity, ROUTE_SESSION, NULL },
	/* API tokens (page-tokens.c) and the extension's authorization flow (oauth.c). The
	 * token endpoints take no session and no CSRF token: they are called by the
	 * extension, cross-origin (cors.c), with a code or a refresh token. */
	{ "GET", "/settings/tokens", page_tokens, ROUTE_SESSION, NULL },
	{ "POST", "/settings/tokens", page_tokens_create, ROUTE_SESSION | ROUTE_CSRF, NULL },
	{ "POST", "/settings/tokens/{id:int}/revoke", page_tokens_revoke,
	    ROUTE_SESSION | ROUTE_CSRF, NULL },
	{ "POST", "/settings/tokens/sessions/{family:uuid}/revoke", page_tokens_family_revoke,
	    ROUTE_SESSION | ROUTE_CSRF, NULL },
	{ "GET", "/oauth/authorize", oauth_authorize, ROUTE_SESSION, NULL },
	{ "POST", "/oauth/authorize", oauth_authorize_post, ROUTE_SESSION | ROUTE_CSRF, NULL },
	{ "POST", "/oauth/token", oauth_token, ROUTE_JSON, NULL },
	{ "POST", "/oauth/revoke", oauth_revoke, ROUTE_JSON, NULL },
	{ "GET", "/api/v1/me", api_me, ROUTE_SESSION | ROUTE_TOKEN | ROUTE_JSON, "read" },
	{ "PATCH", "/api/v1/me", api_me_update,
	    ROUTE_SESSION | ROUTE_TOKEN | ROUTE_JSON | ROUTE_CSRF, "write" },
	{ "GET", "/api/v1/tokens", api_tokens_list, ROUTE_SESSION | ROUTE_JSON, NULL },
	{ "POST", "/api/v1/tokens", api_tokens_create, ROUTE_SESSION | ROUTE_JSON | ROUTE_CSRF,
	    NULL },
	{ "DELETE", "/api/v1/tokens/{id:int}", api_tokens_delete,
	    ROUTE_SESSION | ROUTE_JSON | ROUTE_CSRF, NULL },
	/* Admin pages: the handlers answer 404 to anyone but an admin. */
	{ "GET", "/admin/users", page_admin_users, ROUTE_SESSION, NULL },
	{ "GET", "/admin/users/{id:int}", page_admin_user, ROUTE_SESSION, NULL },
	{ "POST", "/admin/users/{id:int}/disable", page_admin_user_disable,
	    ROUTE_SESSION | ROUTE_CSRF, NULL },
	{ "POST", "/admin/users/{id:int}/enable", page_admin_user_enable,
	    ROUTE_SESSION | ROUTE_CSRF, NULL },
	{ "POST", "/admin/users/{id:int}/role", page_admin_user_role, ROUTE_SESSION | ROUTE_CSRF,
	    NULL },
	{ "POST", "/admin/users/{id:int}/reset-link", page_admin_user_reset_link,
	    ROUTE_SESSION | ROUTE_CSRF, NULL },
	{ "POST", "/admin/users/{id:int}/end-sessions", page_admin_user_end_sessions,
	    ROUTE_SESSION | ROUTE_CSRF, NULL },
	{ "GET", "/admin/invites", page_admin_invites, ROUTE_SESSION, NULL },
	{ "POST", "/admin/invites", page_admin_invite_create, ROUTE_SESSION | ROUTE_CSRF, NULL },
	{ "POST", "/admin/invites/{id:int}/revoke", page_admin_invite_revoke,
	    ROUTE_SESSION | ROUTE_CSRF, NULL },
	{ "GET", "/admin/audit", page_admin_audit, ROUTE_SESSION, NULL },
	/* page-mailboxes.c */
	/* END page-mailboxes.c */
	/* page-mail.c */
	/* END page-mail.c */
	{ "GET", "/healthz", page_health_healthz, ROUTE_JSON, NULL },
	{ "GET", "/readyz", page_health_readyz, ROUTE_JSON, NULL },
	{ "GET", "/metrics", page_health_metrics, 0, NULL },
};

const size_t routes_count = MR_ARRAY_LEN(routes);
