-- 0002_accounts down: removes what 0002_accounts.up.sql created, newest first.
DROP TABLE user_secrets;
DROP TABLE audit_log;
DROP TABLE login_throttle;
DROP TABLE oauth_codes;
DROP TABLE api_tokens;
DROP TABLE invites;
DROP TABLE password_resets;
DROP TABLE sessions;
DROP TABLE users;
