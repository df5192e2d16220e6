-- 0002_accounts: people, their sessions and tokens, and what protects them.
-- No column holds a plaintext password, session id, reset token or API token: only
-- Argon2id hashes (passwords) and BLAKE2b-256 digests of 256-bit random values (the rest).
-- Secrets that must be read back (later: IMAP passwords, OAuth tokens) are sealed by the
-- vault (app/vault.c) with a key that never enters the database.

CREATE TABLE users (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	email citext NOT NULL UNIQUE CHECK (length(email) BETWEEN 3 AND 254),
	display_name text NOT NULL CHECK (length(display_name) BETWEEN 1 AND 100),
	-- crypto_pwhash_str output ($argon2id$v=19$m=...,t=...,p=1$salt$hash)
	password_hash text NOT NULL CHECK (password_hash LIKE '$argon2id$%'),
	time_zone text NOT NULL DEFAULT 'UTC' CHECK (length(time_zone) BETWEEN 1 AND 64),
	role text NOT NULL DEFAULT 'member' CHECK (role IN ('admin', 'member')),
	disabled boolean NOT NULL DEFAULT false,
	password_changed_at timestamptz NOT NULL DEFAULT now(),
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TRIGGER users_updated_at BEFORE UPDATE ON users
	FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- Browser sessions. The cookie carries 32 random bytes; the table keeps their digest.
CREATE TABLE sessions (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	user_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	token_hash bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),
	created_at timestamptz NOT NULL DEFAULT now(),
	last_seen_at timestamptz NOT NULL DEFAULT now(),
	-- The absolute limit; the idle limit is last_seen_at + the configured idle time.
	expires_at timestamptz NOT NULL,
	-- Last time the user typed their password in this session (sign-in or a re-check).
	authenticated_at timestamptz NOT NULL DEFAULT now(),
	user_agent text NOT NULL DEFAULT '' CHECK (length(user_agent) <= 512),
	ip inet
);
CREATE INDEX sessions_user ON sessions (user_id, last_seen_at DESC);

-- Single-use password reset links. The mail carries the token; the table its digest.
CREATE TABLE password_resets (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	user_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	token_hash bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),
	created_at timestamptz NOT NULL DEFAULT now(),
	expires_at timestamptz NOT NULL,
	used_at timestamptz,
	ip inet
);
CREATE INDEX password_resets_user ON password_resets (user_id, created_at DESC);

-- Invitations, for installations where sign-up is invite-only.
CREATE TABLE invites (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	token_hash bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),
	email citext CHECK (email IS NULL OR length(email) BETWEEN 3 AND 254),
	created_by bigint REFERENCES users (id) ON DELETE SET NULL,
	created_at timestamptz NOT NULL DEFAULT now(),
	expires_at timestamptz NOT NULL,
	used_at timestamptz,
	used_by bigint REFERENCES users (id) ON DELETE SET NULL
);

-- API tokens: personal access tokens (kind 'personal', long-lived, named, with scopes)
-- and the extension's tokens from the authorization flow: short-lived 'access' tokens and
-- 'refresh' tokens that rotate. Tokens of one authorization share a family; a refresh
-- token used twice revokes its whole family.
CREATE TABLE api_tokens (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	user_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	kind text NOT NULL CHECK (kind IN ('personal', 'access', 'refresh')),
	name text NOT NULL DEFAULT '' CHECK (length(name) <= 100),
	token_hash bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),
	-- The first characters of the token, shown in lists so a user can tell tokens apart.
	prefix text NOT NULL CHECK (length(prefix) <= 16),
	scopes text[] NOT NULL DEFAULT '{}',
	client_id text CHECK (client_id IS NULL OR length(client_id) <= 200),
	family_id uuid,
	created_at timestamptz NOT NULL DEFAULT now(),
	last_used_at timestamptz,
	expires_at timestamptz,
	-- A refresh token is used once: the moment it was exchanged for the next one.
	used_at timestamptz,
	revoked_at timestamptz,
	CHECK ((kind = 'personal') = (family_id IS NULL))
);
CREATE INDEX api_tokens_user ON api_tokens (user_id, kind, created_at DESC);
CREATE INDEX api_tokens_family ON api_tokens (family_id) WHERE family_id IS NOT NULL;

-- Authorization codes of the extension's flow (PKCE S256), single use, short-lived.
CREATE TABLE oauth_codes (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	user_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	code_hash bytea NOT NULL UNIQUE CHECK (length(code_hash) = 32),
	client_id text NOT NULL CHECK (length(client_id) <= 200),
	redirect_uri text NOT NULL CHECK (length(redirect_uri) <= 2000),
	code_challenge text NOT NULL CHECK (length(code_challenge) BETWEEN 43 AND 128),
	scopes text[] NOT NULL DEFAULT '{}',
	created_at timestamptz NOT NULL DEFAULT now(),
	expires_at timestamptz NOT NULL,
	used_at timestamptz
);

-- Failed sign-ins, per account (scope 'account', key the lower-cased address) and per
-- client address (scope 'ip'), shared by every process. A run of failures slows the next
-- attempts down, then locks until locked_until.
CREATE TABLE login_throttle (
	scope text NOT NULL CHECK (scope IN ('account', 'ip')),
	key text NOT NULL CHECK (length(key) <= 254),
	failures integer NOT NULL DEFAULT 0,
	first_failure_at timestamptz NOT NULL DEFAULT now(),
	last_failure_at timestamptz NOT NULL DEFAULT now(),
	locked_until timestamptz,
	PRIMARY KEY (scope, key)
);

-- What happened to an account, for its owner and for admins. user_id is whose account it
-- concerns, actor_id who did it (an admin, the user, or NULL for the system or an unknown
-- visitor).
CREATE TABLE audit_log (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	user_id bigint REFERENCES users (id) ON DELETE SET NULL,
	actor_id bigint REFERENCES users (id) ON DELETE SET NULL,
	event text NOT NULL CHECK (length(event) <= 64),
	ip inet,
	user_agent text NOT NULL DEFAULT '' CHECK (length(user_agent) <= 512),
	details jsonb NOT NULL DEFAULT '{}',
	created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_log_user ON audit_log (user_id, created_at DESC);
CREATE INDEX audit_log_created ON audit_log (created_at DESC);

-- Secrets a user gives mailroom that must be read back (API keys of services, later mail
-- account passwords live with their accounts). Sealed by the vault: the ciphertext names
-- its key id and is bound to this table, its row and its user.
CREATE TABLE user_secrets (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	user_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	name text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
	ciphertext bytea NOT NULL,
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now(),
	UNIQUE (user_id, name)
);
CREATE TRIGGER user_secrets_updated_at BEFORE UPDATE ON user_secrets
	FOR EACH ROW EXECUTE FUNCTION set_updated_at();
