/* db-stmt.c: every SQL statement the request handlers run, in one table. Each connection
 * prepares them all when it opens; values always travel as $n parameters. */
#include "config.h"

#include "db-pool.h"

const struct db_stmt_def db_stmts[DB_STMT__COUNT] = {
	[DB_STMT_PING] = { DB_STMT_PING, "ping", "SELECT 1", 0, 1 },
	[DB_STMT_MIGRATIONS_APPLIED] = { DB_STMT_MIGRATIONS_APPLIED, "migrations_applied",
	    "SELECT count(*) AS applied, max(version) AS version, "
	    "(SELECT name FROM schema_migrations ORDER BY version DESC LIMIT 1) AS name "
	    "FROM schema_migrations", 0, 1 },
	[DB_STMT_BEGIN] = { DB_STMT_BEGIN, "begin", "BEGIN", 0, 0 },
	[DB_STMT_COMMIT] = { DB_STMT_COMMIT, "commit", "COMMIT", 0, 0 },
	[DB_STMT_ROLLBACK] = { DB_STMT_ROLLBACK, "rollback", "ROLLBACK", 0, 0 },

	/* Sessions: $n are digests of the cookie's secret, never the secret. */
	[DB_STMT_SESSION_CREATE] = { DB_STMT_SESSION_CREATE, "session_create",
	    "INSERT INTO sessions (user_id, token_hash, expires_at, user_agent, ip) "
	    "VALUES ($1, $2, now() + make_interval(secs => $3::int), left($4, 512), $5::inet) "
	    "RETURNING id", 5, 0 },
	/* The session of a cookie, when neither its idle ($2 seconds) nor its absolute
	 * limit has passed and its user is not disabled; stale says last_seen_at is worth
	 * updating (at most once a minute). */
	[DB_STMT_SESSION_LOOKUP] = { DB_STMT_SESSION_LOOKUP, "session_lookup",
	    "SELECT s.id, u.id, u.email, u.display_name, u.time_zone, u.role = 'admin', "
	    "extract(epoch FROM now() - s.authenticated_at)::bigint, "
	    "s.last_seen_at < now() - interval '60 seconds' "
	    "FROM sessions s JOIN users u ON u.id = s.user_id "
	    "WHERE s.token_hash = $1 AND s.expires_at > now() "
	    "AND s.last_seen_at > now() - make_interval(secs => $2::int) AND NOT u.disabled",
	    2, 1 },
	[DB_STMT_SESSION_TOUCH] = { DB_STMT_SESSION_TOUCH, "session_touch",
	    "UPDATE sessions SET last_seen_at = now() WHERE id = $1", 1, 0 },
	[DB_STMT_SESSION_REAUTH] = { DB_STMT_SESSION_REAUTH, "session_reauth",
	    "UPDATE sessions SET authenticated_at = now() WHERE id = $1 AND user_id = $2", 2, 0 },
	[DB_STMT_SESSION_DELETE] = { DB_STMT_SESSION_DELETE, "session_delete",
	    "DELETE FROM sessions WHERE id = $1 AND user_id = $2", 2, 0 },
	[DB_STMT_SESSION_DELETE_OTHERS] = { DB_STMT_SESSION_DELETE_OTHERS,
	    "session_delete_others",
	    "DELETE FROM sessions WHERE user_id = $1 AND id <> $2", 2, 0 },
	[DB_STMT_SESSION_DELETE_ALL] = { DB_STMT_SESSION_DELETE_ALL, "session_delete_all",
	    "DELETE FROM sessions WHERE user_id = $1", 1, 0 },
	[DB_STMT_SESSION_LIST] = { DB_STMT_SESSION_LIST, "session_list",
	    "SELECT id, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), "
	    "to_char(last_seen_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), "
	    "user_agent, coalesce(host(ip), '') FROM sessions "
	    "WHERE user_id = $1 AND expires_at > now() "
	    "AND last_seen_at > now() - make_interval(secs => $2::int) "
	    "ORDER BY last_seen_at DESC", 2, 1 },
	[DB_STMT_AUDIT_INSERT] = { DB_STMT_AUDIT_INSERT, "audit_insert",
	    "INSERT INTO audit_log (user_id, actor_id, event, ip, user_agent, details) "
	    "VALUES ($1, $2, $3, $4::inet, left(coalesce($5, ''), 512), "
	    "coalesce($6::jsonb, '{}'))", 6, 0 },
	[DB_STMT_USER_FOR_LOGIN] = { DB_STMT_USER_FOR_LOGIN, "user_for_login",
	    "SELECT id, password_hash, disabled FROM users WHERE email = $1", 1, 1 },
	/* The first account of an installation is its admin. */
	[DB_STMT_USER_CREATE] = { DB_STMT_USER_CREATE, "user_create",
	    "INSERT INTO users (email, display_name, password_hash, time_zone, role) "
	    "SELECT $1, $2, $3, $4, CASE WHEN EXISTS (SELECT 1 FROM users) THEN 'member' "
	    "ELSE 'admin' END RETURNING id, role", 4, 0 },
	[DB_STMT_USER_REHASH] = { DB_STMT_USER_REHASH, "user_rehash",
	    "UPDATE users SET password_hash = $2 WHERE id = $1 AND password_hash = $3", 3, 0 },
	[DB_STMT_USER_COUNT] = { DB_STMT_USER_COUNT, "user_count",
	    "SELECT count(*) FROM users", 0, 1 },
	[DB_STMT_TIME_ZONE_VALID] = { DB_STMT_TIME_ZONE_VALID, "time_zone_valid",
	    "SELECT EXISTS (SELECT 1 FROM pg_timezone_names WHERE name = $1)", 1, 1 },
	/* Takes an unused, unexpired invitation (for this address when it names one). */
	[DB_STMT_INVITE_CLAIM] = { DB_STMT_INVITE_CLAIM, "invite_claim",
	    "UPDATE invites SET used_at = now() WHERE token_hash = $1 AND used_at IS NULL "
	    "AND expires_at > now() AND (email IS NULL OR email = $2) RETURNING id", 2, 0 },
	[DB_STMT_INVITE_SET_USER] = { DB_STMT_INVITE_SET_USER, "invite_set_user",
	    "UPDATE invites SET used_by = $2 WHERE id = $1", 2, 0 },
	[DB_STMT_USER_SETTINGS] = { DB_STMT_USER_SETTINGS, "user_settings",
	    "SELECT email, display_name, time_zone, password_hash FROM users WHERE id = $1",
	    1, 1 },
	[DB_STMT_USER_UPDATE_PROFILE] = { DB_STMT_USER_UPDATE_PROFILE, "user_update_profile",
	    "UPDATE users SET display_name = $2, time_zone = $3 WHERE id = $1", 3, 0 },
	[DB_STMT_USER_SET_PASSWORD] = { DB_STMT_USER_SET_PASSWORD, "user_set_password",
	    "UPDATE users SET password_hash = $2, password_changed_at = now() WHERE id = $1",
	    2, 0 },
	[DB_STMT_USER_SET_EMAIL] = { DB_STMT_USER_SET_EMAIL, "user_set_email",
	    "UPDATE users SET email = $2 WHERE id = $1", 2, 0 },
	/* A reset link for an active account, at most 5 an hour per account; no row when
	 * there is no such account or it asked too often. */
	[DB_STMT_RESET_CREATE] = { DB_STMT_RESET_CREATE, "reset_create",
	    "WITH u AS (SELECT id, email, display_name FROM users "
	    "WHERE email = $1 AND NOT disabled), "
	    "ins AS (INSERT INTO password_resets (user_id, token_hash, expires_at, ip) "
	    "SELECT u.id, $2, now() + interval '1 hour', $3::inet FROM u "
	    "WHERE (SELECT count(*) FROM password_resets r WHERE r.user_id = u.id "
	    "AND r.created_at > now() - interval '1 hour') < 5 RETURNING user_id) "
	    "SELECT u.id, u.email, u.display_name FROM u JOIN ins ON ins.user_id = u.id", 3, 0 },
	[DB_STMT_RESET_PEEK] = { DB_STMT_RESET_PEEK, "reset_peek",
	    "SELECT u.id, u.email, u.display_name FROM password_resets r "
	    "JOIN users u ON u.id = r.user_id WHERE r.token_hash = $1 AND r.used_at IS NULL "
	    "AND r.expires_at > now() AND NOT u.disabled", 1, 1 },
	[DB_STMT_RESET_CLAIM] = { DB_STMT_RESET_CLAIM, "reset_claim",
	    "UPDATE password_resets r SET used_at = now() FROM users u "
	    "WHERE u.id = r.user_id AND r.token_hash = $1 AND r.used_at IS NULL "
	    "AND r.expires_at > now() AND NOT u.disabled RETURNING r.user_id", 1, 0 },
	[DB_STMT_RESET_END_OTHERS] = { DB_STMT_RESET_END_OTHERS, "reset_end_others",
	    "UPDATE password_resets SET used_at = now() WHERE user_id = $1 AND used_at IS NULL",
	    1, 0 },
	[DB_STMT_AUDIT_LIST_USER] = { DB_STMT_AUDIT_LIST_USER, "audit_list_user",
	    "SELECT a.event, to_char(a.created_at AT TIME ZONE 'UTC', "
	    "'YYYY-MM-DD HH24:MI:SS \"UTC\"'), coalesce(host(a.ip), ''), a.user_agent, "
	    "a.details::text, coalesce(actor.email, '') FROM audit_log a "
	    "LEFT JOIN users actor ON actor.id = a.actor_id "
	    "WHERE a.user_id = $1 ORDER BY a.created_at DESC, a.id DESC LIMIT 200", 1, 1 },

	/* A usable personal or access token by digest; stale when last_used_at is worth
	 * updating (at most once a minute). */
	[DB_STMT_TOKEN_LOOKUP] = { DB_STMT_TOKEN_LOOKUP, "token_lookup",
	    "SELECT t.id, u.id, u.email, u.display_name, u.time_zone, u.role = 'admin', "
	    "array_to_string(t.scopes, ' '), "
	    "t.last_used_at IS NULL OR t.last_used_at < now() - interval '60 seconds' "
	    "FROM api_tokens t JOIN users u ON u.id = t.user_id "
	    "WHERE t.token_hash = $1 AND t.kind = $2 AND t.kind IN ('personal', 'access') "
	    "AND t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > now()) "
	    "AND NOT u.disabled", 2, 1 },
	[DB_STMT_TOKEN_TOUCH] = { DB_STMT_TOKEN_TOUCH, "token_touch",
	    "UPDATE api_tokens SET last_used_at = now() WHERE id = $1", 1, 0 },

	/* The sign-in throttle (throttle.h). $1 the account's address, $2 the client's key
	 * (may be NULL), $3 and $4 the failures that lock an account and an address. A row
	 * waits for its lock, and from failure max/2 + 1 on for 1, 2, 4 ... 30 seconds after
	 * its last failure. */
	[DB_STMT_THROTTLE_CHECK] = { DB_STMT_THROTTLE_CHECK, "throttle_check",
	    "SELECT scope = 'ip', "
	    "greatest(0, ceil(extract(epoch FROM locked_until - now())))::int, "
	    "CASE WHEN failures > m / 2 THEN greatest(0, ceil(extract(epoch FROM "
	    "last_failure_at + make_interval(secs => least(30, "
	    "power(2, least(failures - m / 2 - 1, 5)))) - now())))::int ELSE 0 END "
	    "FROM (SELECT l.*, CASE l.scope WHEN 'account' THEN $3::int ELSE $4::int END AS m "
	    "FROM login_throttle l "
	    "WHERE (l.scope = 'account' AND l.key = left(lower($1), 254)) "
	    "OR (l.scope = 'ip' AND l.key = left(lower($2), 254))) s", 4, 1 },
	/* One failure, counted atomically (the row is locked by ON CONFLICT): $1 scope, $2
	 * key, $3 failures per lock, $4 first lock (seconds), $5 window, $6 longest lock. A
	 * run that began more than the window ago, and whose last lock ended more than the
	 * window ago, starts again at 1; every $3-th failure of a run locks, each lock twice
	 * as long as the one before. Returns the count and whether this failure locked. */
	[DB_STMT_THROTTLE_FAIL] = { DB_STMT_THROTTLE_FAIL, "throttle_fail",
	    "INSERT INTO login_throttle AS t (scope, key, failures, first_failure_at, "
	    "last_failure_at, locked_until) "
	    "VALUES ($1, left(lower($2), 254), 1, now(), now(), "
	    "CASE WHEN $3::int <= 1 THEN now() + make_interval(secs => $4::int) END) "
	    "ON CONFLICT (scope, key) DO UPDATE SET "
	    "(failures, first_failure_at, last_failure_at, locked_until) = ("
	    "SELECT x.n, CASE WHEN x.fresh THEN now() ELSE t.first_failure_at END, now(), "
	    "CASE WHEN x.n % $3::int = 0 THEN now() + make_interval(secs => "
	    "least($4::int * power(2, least(x.n / $3::int - 1, 20)), $6::int)) "
	    "WHEN x.fresh THEN NULL ELSE t.locked_until END "
	    "FROM (SELECT f.fresh, CASE WHEN f.fresh THEN 1 ELSE t.failures + 1 END AS n "
	    "FROM (SELECT t.first_failure_at < now() - make_interval(secs => $5::int) "
	    "AND coalesce(t.locked_until < now() - make_interval(secs => $5::int), true) "
	    "AS fresh) f) x) "
	    "RETURNING failures, failures % $3::int = 0", 6, 0 },
	[DB_STMT_THROTTLE_SUCCESS] = { DB_STMT_THROTTLE_SUCCESS, "throttle_success",
	    "DELETE FROM login_throttle WHERE scope = 'account' AND key = left(lower($1), 254)",
	    1, 0 },
	/* Rows whose run is over ($1: the window): the next failure would start afresh. */
	[DB_STMT_THROTTLE_PURGE] = { DB_STMT_THROTTLE_PURGE, "throttle_purge",
	    "DELETE FROM login_throttle "
	    "WHERE last_failure_at < now() - make_interval(secs => $1::int) "
	    "AND coalesce(locked_until < now() - make_interval(secs => $1::int), true)", 1, 0 },

	/* The admin pages (page-admin.c): the handlers run them for admins only. Times are
	 * UTC text; a search ($1 of user_list) is a substring of the email or the name, its
	 * LIKE wildcards escaped here. Lists take a limit and an offset. */
	[DB_STMT_ADMIN_USER_LIST] = { DB_STMT_ADMIN_USER_LIST, "admin_user_list",
	    "SELECT u.id, u.email, u.display_name, u.role, u.disabled, "
	    "to_char(u.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD'), "
	    "coalesce(to_char((SELECT max(s.last_seen_at) FROM sessions s "
	    "WHERE s.user_id = u.id) AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI \"UTC\"'), ''), "
	    "coalesce(t.failures, 0), coalesce(t.locked_until > now(), false), count(*) OVER () "
	    "FROM users u "
	    "LEFT JOIN login_throttle t ON t.scope = 'account' "
	    "AND t.key = left(lower(u.email::text), 254) "
	    "CROSS JOIN (SELECT '%' || replace(replace(replace($1::text, '\\', '\\\\'), "
	    "'%', '\\%'), '_', '\\_') || '%' AS pat) p "
	    "WHERE $1::text IS NULL OR u.email::text ILIKE p.pat OR u.display_name ILIKE p.pat "
	    "ORDER BY u.created_at DESC, u.id DESC LIMIT $2::int OFFSET $3::int", 3, 1 },
	/* One user with what an admin needs to judge the account ($2: the idle limit of a
	 * session, seconds). */
	[DB_STMT_ADMIN_USER_GET] = { DB_STMT_ADMIN_USER_GET, "admin_user_get",
	    "SELECT u.id, u.email, u.display_name, u.role, u.disabled, u.time_zone, "
	    "to_char(u.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI \"UTC\"'), "
	    "to_char(u.password_changed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI \"UTC\"'), "
	    "coalesce(to_char((SELECT max(s.last_seen_at) FROM sessions s "
	    "WHERE s.user_id = u.id) AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI \"UTC\"'), ''), "
	    "coalesce(t.failures, 0), coalesce(t.locked_until > now(), false), "
	    "(SELECT count(*) FROM sessions s WHERE s.user_id = u.id AND s.expires_at > now() "
	    "AND s.last_seen_at > now() - make_interval(secs => $2::int)), "
	    "(SELECT count(*) FROM api_tokens k WHERE k.user_id = u.id AND k.revoked_at IS NULL "
	    "AND (k.expires_at IS NULL OR k.expires_at > now())) "
	    "FROM users u LEFT JOIN login_throttle t ON t.scope = 'account' "
	    "AND t.key = left(lower(u.email::text), 254) WHERE u.id = $1", 2, 1 },
	/* In a transaction, before the user's own row: every active admin's row locked in id
	 * order, so that two demotions or disablings at once cannot both count the other
	 * admin (the same order as mailroom user). */
	[DB_STMT_ADMIN_ADMINS_LOCK] = { DB_STMT_ADMIN_ADMINS_LOCK, "admin_admins_lock",
	    "SELECT id FROM users WHERE role = 'admin' AND NOT disabled ORDER BY id FOR UPDATE",
	    0, 0 },
	[DB_STMT_ADMIN_USER_LOCK] = { DB_STMT_ADMIN_USER_LOCK, "admin_user_lock",
	    "SELECT email, role, disabled FROM users WHERE id = $1 FOR UPDATE", 1, 0 },
	[DB_STMT_ADMIN_USER_SET_DISABLED] = { DB_STMT_ADMIN_USER_SET_DISABLED,
	    "admin_user_set_disabled",
	    "UPDATE users SET disabled = $2::boolean WHERE id = $1", 2, 0 },
	[DB_STMT_ADMIN_USER_SET_ROLE] = { DB_STMT_ADMIN_USER_SET_ROLE, "admin_user_set_role",
	    "UPDATE users SET role = $2 WHERE id = $1", 2, 0 },
	[DB_STMT_ADMIN_TOKENS_REVOKE] = { DB_STMT_ADMIN_TOKENS_REVOKE, "admin_tokens_revoke",
	    "UPDATE api_tokens SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL",
	    1, 0 },
	[DB_STMT_ADMIN_RESETS_EXPIRE] = { DB_STMT_ADMIN_RESETS_EXPIRE, "admin_resets_expire",
	    "UPDATE password_resets SET expires_at = now() "
	    "WHERE user_id = $1 AND used_at IS NULL AND expires_at > now()", 1, 0 },
	[DB_STMT_ADMIN_CODES_DELETE] = { DB_STMT_ADMIN_CODES_DELETE, "admin_codes_delete",
	    "DELETE FROM oauth_codes WHERE user_id = $1 AND used_at IS NULL", 1, 0 },
	/* A reset link an admin hands over: one hour, single use ($3: the admin's address). */
	[DB_STMT_ADMIN_RESET_CREATE] = { DB_STMT_ADMIN_RESET_CREATE, "admin_reset_create",
	    "INSERT INTO password_resets (user_id, token_hash, expires_at, ip) "
	    "VALUES ($1, $2, now() + interval '1 hour', $3::inet)", 3, 0 },
	/* $1 digest, $2 address or NULL, $3 the admin, $4 days. */
	[DB_STMT_ADMIN_INVITE_CREATE] = { DB_STMT_ADMIN_INVITE_CREATE, "admin_invite_create",
	    "INSERT INTO invites (token_hash, email, created_by, expires_at) "
	    "VALUES ($1, $2, $3, now() + make_interval(days => $4::int)) "
	    "RETURNING id, to_char(expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI \"UTC\"')",
	    4, 0 },
	[DB_STMT_ADMIN_INVITE_LIST] = { DB_STMT_ADMIN_INVITE_LIST, "admin_invite_list",
	    "SELECT i.id, coalesce(i.email::text, ''), coalesce(c.email::text, ''), "
	    "to_char(i.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI \"UTC\"'), "
	    "to_char(i.expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI \"UTC\"'), "
	    "coalesce(to_char(i.used_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI \"UTC\"'), ''), "
	    "coalesce(u.email::text, ''), "
	    "CASE WHEN i.used_at IS NOT NULL THEN 'used' WHEN i.expires_at <= now() "
	    "THEN 'expired' ELSE 'pending' END "
	    "FROM invites i LEFT JOIN users c ON c.id = i.created_by "
	    "LEFT JOIN users u ON u.id = i.used_by "
	    "ORDER BY i.created_at DESC, i.id DESC LIMIT $1::int OFFSET $2::int", 2, 1 },
	/* Only an invitation nobody used; an expired one too. */
	[DB_STMT_ADMIN_INVITE_REVOKE] = { DB_STMT_ADMIN_INVITE_REVOKE, "admin_invite_revoke",
	    "DELETE FROM invites WHERE id = $1 AND used_at IS NULL "
	    "RETURNING coalesce(email::text, '')", 1, 0 },
	/* The whole log, newest first; the columns of audit_list_user, then whose account a
	 * row concerns. $1: an event prefix ("admin." or "login"), $2: an address the row
	 * concerns, was done by, or (a failed sign-in of no account) was typed; NULL: any. */
	[DB_STMT_ADMIN_AUDIT_LIST] = { DB_STMT_ADMIN_AUDIT_LIST, "admin_audit_list",
	    "SELECT a.event, to_char(a.created_at AT TIME ZONE 'UTC', "
	    "'YYYY-MM-DD HH24:MI:SS \"UTC\"'), coalesce(host(a.ip), ''), a.user_agent, "
	    "a.details::text, coalesce(actor.email::text, ''), coalesce(u.email::text, '') "
	    "FROM audit_log a LEFT JOIN users actor ON actor.id = a.actor_id "
	    "LEFT JOIN users u ON u.id = a.user_id "
	    "WHERE ($1::text IS NULL OR left(a.event, length($1::text)) = $1::text) "
	    "AND ($2::text IS NULL OR lower(u.email::text) = lower($2::text) "
	    "OR lower(actor.email::text) = lower($2::text) "
	    "OR (a.user_id IS NULL AND lower(a.details->>'email') = lower($2::text))) "
	    "ORDER BY a.created_at DESC, a.id DESC LIMIT $3::int OFFSET $4::int", 4, 1 },

	/* API tokens (page-tokens.c, oauth.c). $n hold digests of tokens and codes, never
	 * the secrets. A personal token for user $1: name $2, digest $3, shown prefix $4,
	 * scopes $5 ("read write"), lifetime $6 days (NULL: none); no row when the user has
	 * $7 usable ones already. */
	[DB_STMT_APITOKEN_PAT_CREATE] = { DB_STMT_APITOKEN_PAT_CREATE, "apitoken_pat_create",
	    "INSERT INTO api_tokens (user_id, kind, name, token_hash, prefix, scopes, expires_at) "
	    "SELECT $1, 'personal', $2, $3, $4, string_to_array($5, ' '), "
	    "now() + make_interval(days => $6::int) "
	    "WHERE (SELECT count(*) FROM api_tokens WHERE user_id = $1 AND kind = 'personal' "
	    "AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())) < $7::int "
	    "RETURNING id, to_char(created_at AT TIME ZONE 'UTC', "
	    "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), coalesce(to_char(expires_at AT TIME ZONE 'UTC', "
	    "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), '')", 7, 0 },
	/* The user's personal tokens not revoked, expired ones too (marked). */
	[DB_STMT_APITOKEN_PAT_LIST] = { DB_STMT_APITOKEN_PAT_LIST, "apitoken_pat_list",
	    "SELECT id, name, prefix, array_to_string(scopes, ' '), "
	    "to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), "
	    "coalesce(to_char(last_used_at AT TIME ZONE 'UTC', "
	    "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), ''), "
	    "coalesce(to_char(expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), ''), "
	    "expires_at IS NOT NULL AND expires_at <= now() "
	    "FROM api_tokens WHERE user_id = $1 AND kind = 'personal' AND revoked_at IS NULL "
	    "ORDER BY created_at DESC, id DESC LIMIT 200", 1, 1 },
	[DB_STMT_APITOKEN_PAT_REVOKE] = { DB_STMT_APITOKEN_PAT_REVOKE, "apitoken_pat_revoke",
	    "UPDATE api_tokens SET revoked_at = now() WHERE id = $1 AND user_id = $2 "
	    "AND kind = 'personal' AND revoked_at IS NULL RETURNING name, prefix", 2, 0 },
	/* The extension's sign-ins of the user: families whose refresh token still works. */
	[DB_STMT_APITOKEN_FAMILY_LIST] = { DB_STMT_APITOKEN_FAMILY_LIST, "apitoken_family_list",
	    "SELECT family_id, min(client_id), "
	    "coalesce(min(array_to_string(scopes, ' ')) FILTER (WHERE kind = 'refresh'), ''), "
	    "to_char(min(created_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), "
	    "coalesce(to_char(max(last_used_at) AT TIME ZONE 'UTC', "
	    "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), '') "
	    "FROM api_tokens WHERE user_id = $1 AND family_id IS NOT NULL GROUP BY family_id "
	    "HAVING bool_or(kind = 'refresh' AND used_at IS NULL AND revoked_at IS NULL "
	    "AND expires_at > now()) "
	    "ORDER BY max(coalesce(last_used_at, created_at)) DESC LIMIT 100", 1, 1 },
	[DB_STMT_APITOKEN_FAMILY_REVOKE] = { DB_STMT_APITOKEN_FAMILY_REVOKE,
	    "apitoken_family_revoke",
	    "UPDATE api_tokens SET revoked_at = now() WHERE family_id = $1::uuid "
	    "AND user_id = $2 AND revoked_at IS NULL RETURNING client_id", 2, 0 },
	/* A code for user $1 (digest $2) to client $3 at $4 with challenge $5 and scopes $6,
	 * for $7 seconds; the user's codes expired for a day go. */
	[DB_STMT_APITOKEN_CODE_CREATE] = { DB_STMT_APITOKEN_CODE_CREATE, "apitoken_code_create",
	    "WITH purge AS (DELETE FROM oauth_codes WHERE user_id = $1 "
	    "AND expires_at < now() - interval '1 day') "
	    "INSERT INTO oauth_codes (user_id, code_hash, client_id, redirect_uri, "
	    "code_challenge, scopes, expires_at) VALUES ($1, $2, $3, $4, $5, "
	    "string_to_array($6, ' '), now() + make_interval(secs => $7::int))", 7, 0 },
	/* Exchanges code $1 in one statement: the code is used up whatever follows (the row
	 * lock makes a concurrent exchange wait and then find it used); only when it is
	 * fresh, for client $2 and redirect_uri $3, with challenge $4 (S256 of the
	 * verifier, computed by the caller), and its user active, an access token ($5,
	 * prefix $6, $9 seconds) and a refresh token ($7, $8, $10 seconds) are made in a new
	 * family named after the code, so that a second exchange can find and revoke them.
	 * No row: the code is unknown or used. */
	[DB_STMT_APITOKEN_CODE_EXCHANGE] = { DB_STMT_APITOKEN_CODE_EXCHANGE,
	    "apitoken_code_exchange",
	    "WITH c AS (UPDATE oauth_codes SET used_at = now() "
	    "WHERE code_hash = $1 AND used_at IS NULL "
	    "RETURNING user_id, scopes, md5(code_hash)::uuid AS family, "
	    "expires_at > now() AS fresh, client_id = $2::text AS client_ok, "
	    "redirect_uri = $3::text AS redirect_ok, code_challenge = $4::text AS pkce_ok), "
	    "ok AS (SELECT c.* FROM c JOIN users u ON u.id = c.user_id "
	    "WHERE c.fresh AND c.client_ok AND c.redirect_ok AND c.pkce_ok AND NOT u.disabled), "
	    "ins AS (INSERT INTO api_tokens (user_id, kind, token_hash, prefix, scopes, "
	    "client_id, family_id, expires_at) "
	    "SELECT ok.user_id, t.kind, t.hash, t.prefix, ok.scopes, $2::text, ok.family, "
	    "now() + make_interval(secs => t.secs) FROM ok CROSS JOIN (VALUES "
	    "('access', $5::bytea, $6::text, $9::int), ('refresh', $7::bytea, $8::text, $10::int)) "
	    "AS t(kind, hash, prefix, secs) RETURNING id) "
	    "SELECT c.user_id, c.fresh, c.client_ok, c.redirect_ok, c.pkce_ok, "
	    "array_to_string(c.scopes, ' '), c.family, (SELECT count(*) FROM ins) FROM c",
	    10, 0 },
	/* A used code presented again: revokes the tokens of its family. */
	[DB_STMT_APITOKEN_CODE_REUSE] = { DB_STMT_APITOKEN_CODE_REUSE, "apitoken_code_reuse",
	    "WITH c AS (SELECT user_id, md5(code_hash)::uuid AS family FROM oauth_codes "
	    "WHERE code_hash = $1 AND used_at IS NOT NULL), "
	    "r AS (UPDATE api_tokens t SET revoked_at = now() FROM c "
	    "WHERE t.family_id = c.family AND t.user_id = c.user_id AND t.revoked_at IS NULL "
	    "RETURNING t.id) "
	    "SELECT c.user_id, c.family, (SELECT count(*) FROM r) FROM c", 1, 0 },
	/* Rotation in one statement: refresh token $1 of client $2, usable and unused, is
	 * marked used, and a new access token ($3, $4, $7 seconds, scopes $10 when given,
	 * which must be among the family's) and refresh token ($5, $6) join its family. The
	 * refresh token lives $8 seconds from now, at most $9 from the family's first
	 * token. The row lock on $1 lets one of two concurrent rotations through; the other
	 * finds it used. No row: not usable (the caller then checks for reuse). */
	[DB_STMT_APITOKEN_REFRESH] = { DB_STMT_APITOKEN_REFRESH, "apitoken_refresh",
	    "WITH old AS (UPDATE api_tokens t SET used_at = now(), last_used_at = now() "
	    "FROM users u WHERE t.token_hash = $1 AND t.kind = 'refresh' AND t.used_at IS NULL "
	    "AND t.revoked_at IS NULL AND t.expires_at > now() AND t.client_id = $2::text "
	    "AND u.id = t.user_id AND NOT u.disabled "
	    "AND ($10::text IS NULL OR string_to_array($10::text, ' ') <@ t.scopes) "
	    "RETURNING t.user_id, t.scopes, t.family_id, t.client_id), "
	    "f AS (SELECT old.*, (SELECT min(a.created_at) FROM api_tokens a "
	    "WHERE a.family_id = old.family_id AND a.user_id = old.user_id) AS started FROM old), "
	    "ins AS (INSERT INTO api_tokens (user_id, kind, token_hash, prefix, scopes, "
	    "client_id, family_id, expires_at) "
	    "SELECT f.user_id, t.kind, t.hash, t.prefix, CASE WHEN t.kind = 'access' "
	    "AND $10::text IS NOT NULL THEN string_to_array($10::text, ' ') ELSE f.scopes END, "
	    "f.client_id, f.family_id, CASE t.kind WHEN 'access' "
	    "THEN now() + make_interval(secs => $7::int) "
	    "ELSE least(now() + make_interval(secs => $8::int), "
	    "f.started + make_interval(secs => $9::int)) END "
	    "FROM f CROSS JOIN (VALUES ('access', $3::bytea, $4::text), "
	    "('refresh', $5::bytea, $6::text)) AS t(kind, hash, prefix) "
	    "RETURNING kind, array_to_string(scopes, ' ') AS scopes) "
	    "SELECT old.user_id, coalesce((SELECT scopes FROM ins WHERE kind = 'access'), ''), "
	    "(SELECT count(*) FROM ins) FROM old", 10, 0 },
	/* A used refresh token presented again: revokes every token of its family. */
	[DB_STMT_APITOKEN_REFRESH_REUSE] = { DB_STMT_APITOKEN_REFRESH_REUSE,
	    "apitoken_refresh_reuse",
	    "WITH t AS (SELECT user_id, family_id FROM api_tokens WHERE token_hash = $1 "
	    "AND kind = 'refresh' AND used_at IS NOT NULL), "
	    "r AS (UPDATE api_tokens a SET revoked_at = now() FROM t "
	    "WHERE a.family_id = t.family_id AND a.user_id = t.user_id AND a.revoked_at IS NULL "
	    "RETURNING a.id) "
	    "SELECT t.user_id, t.family_id, (SELECT count(*) FROM r) FROM t", 1, 0 },
	/* RFC 7009: access token $1 of client $2 alone, a refresh token with its family. */
	[DB_STMT_APITOKEN_OAUTH_REVOKE] = { DB_STMT_APITOKEN_OAUTH_REVOKE, "apitoken_oauth_revoke",
	    "WITH t AS (SELECT id, user_id, kind, family_id FROM api_tokens "
	    "WHERE token_hash = $1 AND kind IN ('access', 'refresh') AND client_id = $2), "
	    "r AS (UPDATE api_tokens a SET revoked_at = now() FROM t "
	    "WHERE a.user_id = t.user_id AND a.revoked_at IS NULL "
	    "AND (a.id = t.id OR (t.kind = 'refresh' AND a.family_id = t.family_id)) "
	    "RETURNING a.id) "
	    "SELECT t.user_id, t.kind, t.family_id, (SELECT count(*) FROM r) FROM t", 2, 0 },
	/* page-mailboxes.c: connected mail accounts */
	/* A connection test goes out to a server the user names: at most $6 of them per
	 * user in $5 seconds, each recorded in the audit log (which is what is counted).
	 * Answers whether this one may go, and else the seconds until the oldest of the
	 * window leaves it. $1 user, $2 ip, $3 user agent, $4 details. */
	[DB_STMT_MAILBOX_TEST_ALLOW] = { DB_STMT_MAILBOX_TEST_ALLOW, "mailbox_test_allow",
	    "WITH recent AS (SELECT count(*) AS n, min(created_at) AS first FROM audit_log "
	    "WHERE user_id = $1::bigint AND event = 'mailbox.test' "
	    "AND created_at > now() - make_interval(secs => $5::int)), "
	    "ins AS (INSERT INTO audit_log (user_id, actor_id, event, ip, user_agent, details) "
	    "SELECT $1::bigint, $1::bigint, 'mailbox.test', $2::inet, left(coalesce($3, ''), 512), "
	    "coalesce($4::jsonb, '{}') FROM recent WHERE n < $6::int RETURNING id) "
	    "SELECT (SELECT count(*) FROM ins), coalesce(greatest(1, ceil(extract(epoch FROM "
	    "first + make_interval(secs => $5::int) - now())))::int, 1) FROM recent", 6, 0 },
	/* END page-mailboxes.c */
	/* page-mail.c: message list, thread view, search. $1 is always the user; the
	 * lists themselves are built in page-mail.c around search.c's WHERE fragment. */
	[DB_STMT_MAIL_ACCOUNTS] = { DB_STMT_MAIL_ACCOUNTS, "mail_accounts",
	    "SELECT id, address, display_name FROM mail_accounts WHERE user_id = $1 "
	    "ORDER BY address, id", 1, 1 },
	/* Whether triage has sorted any of the user's mail (mail_messages_list's index). */
	[DB_STMT_MAIL_CATEGORIZED] = { DB_STMT_MAIL_CATEGORIZED, "mail_categorized",
	    "SELECT EXISTS (SELECT 1 FROM mail_messages WHERE user_id = $1 "
	    "AND category IS NOT NULL)", 1, 1 },
	[DB_STMT_MAIL_THREAD] = { DB_STMT_MAIL_THREAD, "mail_thread",
	    "SELECT id, subject, message_count, category, account_id, reply_state, "
	    "to_char(reply_since AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), "
	    "floor(extract(epoch FROM now() - reply_since) / 86400)::int, follow_up "
	    "FROM mail_threads WHERE id = $2 AND user_id = $1", 2, 1 },
	/* A thread's messages, oldest first, and one message: $3 is the user's time zone. */
#define DB_STMT_MAIL_MESSAGE_COLUMNS \
	"SELECT id, thread_id, account_id, from_addr::text, to_addr::text, cc_addr::text, " \
	"subject, to_char(coalesce(sent_at, received_at) AT TIME ZONE 'UTC', " \
	"'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), " \
	"to_char(coalesce(sent_at, received_at) AT TIME ZONE $3::text, " \
	"'Dy FMDD Mon YYYY, HH24:MI'), body_text, body_html, " \
	"NOT ('\\Seen' = ANY (flags)), has_attachments, direction, to_json(flags)::text, " \
	"snippet, category, category_confidence, category_source, category_reasons::text, " \
	"category_rule_id, (SELECT r.name FROM triage_rules r WHERE r.id = category_rule_id " \
	"AND r.user_id = $1), lower(from_addr->0->>'address') FROM mail_messages "
	[DB_STMT_MAIL_THREAD_MESSAGES] = { DB_STMT_MAIL_THREAD_MESSAGES, "mail_thread_messages",
	    DB_STMT_MAIL_MESSAGE_COLUMNS "WHERE thread_id = $2 AND user_id = $1 "
	    "ORDER BY coalesce(sent_at, received_at), id", 3, 1 },
	[DB_STMT_MAIL_MESSAGE] = { DB_STMT_MAIL_MESSAGE, "mail_message",
	    DB_STMT_MAIL_MESSAGE_COLUMNS "WHERE id = $2 AND user_id = $1", 3, 1 },
#undef DB_STMT_MAIL_MESSAGE_COLUMNS
	/* The attachments of a thread's messages ($2 thread) or of one message ($3). */
	[DB_STMT_MAIL_ATTACHMENTS] = { DB_STMT_MAIL_ATTACHMENTS, "mail_attachments",
	    "SELECT a.message_id, a.filename, a.content_type, a.size, a.inline "
	    "FROM mail_attachments a JOIN mail_messages m ON m.id = a.message_id "
	    "WHERE a.user_id = $1 AND m.user_id = $1 "
	    "AND (m.thread_id = $2::bigint OR m.id = $3::bigint) ORDER BY a.message_id, a.id",
	    3, 1 },
	[DB_STMT_MAIL_BODY] = { DB_STMT_MAIL_BODY, "mail_body",
	    "SELECT body_html FROM mail_messages WHERE id = $2 AND user_id = $1", 2, 1 },
	/* The user's categories: one by slug, all in order, and all with the number of
	 * threads in each (the navigation; one pass over the user's threads) and in all. */
	[DB_STMT_MAIL_CATEGORY] = { DB_STMT_MAIL_CATEGORY, "mail_category",
	    "SELECT slug, name, colour FROM categories WHERE user_id = $1 AND slug = $2", 2, 1 },
	[DB_STMT_MAIL_CATEGORIES] = { DB_STMT_MAIL_CATEGORIES, "mail_categories",
	    "SELECT slug, name, colour, hidden FROM categories WHERE user_id = $1 "
	    "ORDER BY position, id", 1, 1 },
	[DB_STMT_MAIL_NAV] = { DB_STMT_MAIL_NAV, "mail_nav",
	    "WITH n AS (SELECT category, count(*) AS threads FROM mail_threads "
	    "WHERE user_id = $1 AND last_date IS NOT NULL GROUP BY category) "
	    "SELECT c.slug, c.name, c.colour, c.hidden, coalesce(n.threads, 0), "
	    "(SELECT coalesce(sum(threads), 0) FROM n) FROM categories c "
	    "LEFT JOIN n ON n.category = c.slug WHERE c.user_id = $1 ORDER BY c.position, c.id",
	    1, 1 },
	/* A recategorization ($2 the thread), in the caller's transaction: the thread,
	 * locked, and the message the model learns from (its latest received one, else its
	 * latest) with its decision and sender. */
	[DB_STMT_MAIL_RECAT_THREAD] = { DB_STMT_MAIL_RECAT_THREAD, "mail_recat_thread",
	    "SELECT t.id, t.category, m.id, m.category, m.category_source, m.direction, "
	    "lower(m.from_addr->0->>'address'), t.account_id FROM mail_threads t "
	    "LEFT JOIN LATERAL "
	    "(SELECT x.id, x.category, x.category_source, x.direction, x.from_addr "
	    "FROM mail_messages x WHERE x.user_id = $1 AND x.thread_id = t.id "
	    "ORDER BY x.direction = 'received' DESC, coalesce(x.sent_at, x.received_at) DESC, "
	    "x.id DESC LIMIT 1) m ON true WHERE t.id = $2 AND t.user_id = $1 FOR UPDATE OF t",
	    2, 0 },
	/* Every message of thread $2 and the thread itself to $3, decided by the user; the
	 * correction ($4 message, $5 its former category, $6 source, $7 sender, $8 apply to
	 * the sender) is recorded when $9. */
	[DB_STMT_MAIL_RECAT_STORE] = { DB_STMT_MAIL_RECAT_STORE, "mail_recat_store",
	    "WITH m AS (UPDATE mail_messages SET category = $3, category_confidence = 1, "
	    "category_source = 'correction', category_reasons = '[\"You moved it here\"]', "
	    "category_rule_id = NULL, triaged_at = now() WHERE user_id = $1 AND thread_id = $2 "
	    "RETURNING id), "
	    "t AS (UPDATE mail_threads SET category = $3 WHERE id = $2 AND user_id = $1 "
	    "RETURNING id), "
	    "k AS (INSERT INTO triage_corrections (user_id, message_id, from_category, "
	    "to_category, source, sender, apply_to_sender) SELECT $1, $4::bigint, $5, $3, $6, "
	    "$7, $8::boolean WHERE $9::boolean RETURNING id) "
	    "SELECT (SELECT count(*) FROM m), (SELECT count(*) FROM t), (SELECT count(*) FROM k)",
	    9, 0 },
	/* A sender sorted for good: their mail goes to category $3 from now on. */
	[DB_STMT_MAIL_SENDER_SET] = { DB_STMT_MAIL_SENDER_SET, "mail_sender_set",
	    "INSERT INTO sender_categories (user_id, sender, category) VALUES ($1, $2, $3) "
	    "ON CONFLICT (user_id, sender) DO UPDATE SET category = EXCLUDED.category", 3, 0 },
	[DB_STMT_MAIL_SENDER_OF] = { DB_STMT_MAIL_SENDER_OF, "mail_sender_of",
	    "SELECT lower(from_addr->0->>'address'), thread_id FROM mail_messages "
	    "WHERE id = $2 AND user_id = $1 AND direction = 'received' "
	    "AND coalesce(from_addr->0->>'address', '') <> ''", 2, 1 },
	/* END page-mail.c */
};
