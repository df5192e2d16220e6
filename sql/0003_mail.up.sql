-- 0003_mail: mailboxes, their folders, threads, messages and attachments, and the job
-- queue the workers take their work from. Every row of mail belongs to a user through
-- its account; every query filters by user_id.

-- A connected mailbox. Credentials are sealed by the vault (bound to this table, the
-- row and the user); sync state says what the last run did.
CREATE TABLE mail_accounts (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	user_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	provider text NOT NULL DEFAULT 'imap' CHECK (provider IN ('imap', 'gmail', 'graph', 'mbox')),
	address citext NOT NULL CHECK (length(address) BETWEEN 3 AND 254),
	display_name text NOT NULL DEFAULT '' CHECK (length(display_name) <= 200),
	-- IMAP: host, port, security ('tls', 'starttls', 'none'), username, auth ('login',
	-- 'plain', 'xoauth2'); other providers keep their settings here too.
	settings jsonb NOT NULL DEFAULT '{}',
	credentials bytea,
	-- Backfill: messages per folder and days back (NULL: the defaults).
	backfill_messages integer CHECK (backfill_messages IS NULL OR backfill_messages > 0),
	backfill_days integer CHECK (backfill_days IS NULL OR backfill_days > 0),
	sync_state text NOT NULL DEFAULT 'new'
		CHECK (sync_state IN ('new', 'syncing', 'idle', 'error', 'disabled')),
	last_sync_at timestamptz,
	last_error text CHECK (last_error IS NULL OR length(last_error) <= 2000),
	last_error_at timestamptz,
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now(),
	UNIQUE (user_id, address, provider)
);
CREATE INDEX mail_accounts_user ON mail_accounts (user_id);
CREATE TRIGGER mail_accounts_updated_at BEFORE UPDATE ON mail_accounts
	FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- A folder (IMAP mailbox, Gmail label, Graph folder) with its sync cursor.
CREATE TABLE mail_folders (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	account_id bigint NOT NULL REFERENCES mail_accounts (id) ON DELETE CASCADE,
	user_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	name text NOT NULL CHECK (length(name) BETWEEN 1 AND 1000),
	delimiter text CHECK (delimiter IS NULL OR length(delimiter) = 1),
	role text NOT NULL DEFAULT 'other'
		CHECK (role IN ('inbox', 'sent', 'drafts', 'archive', 'trash', 'junk', 'other')),
	uidvalidity bigint CHECK (uidvalidity IS NULL OR uidvalidity BETWEEN 1 AND 4294967295),
	uidnext bigint CHECK (uidnext IS NULL OR uidnext BETWEEN 1 AND 4294967296),
	highestmodseq numeric(20, 0),
	-- The oldest UID fetched by the backfill so far (it walks newest first).
	backfill_low_uid bigint,
	backfill_done boolean NOT NULL DEFAULT false,
	selectable boolean NOT NULL DEFAULT true,
	last_sync_at timestamptz,
	UNIQUE (account_id, name)
);
CREATE INDEX mail_folders_user ON mail_folders (user_id);

-- A conversation. subject_key is the subject without Re:/Fwd: prefixes, for the
-- fallback that joins messages without references.
CREATE TABLE mail_threads (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	user_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	account_id bigint NOT NULL REFERENCES mail_accounts (id) ON DELETE CASCADE,
	subject text NOT NULL DEFAULT '',
	subject_key text NOT NULL DEFAULT '',
	first_date timestamptz,
	last_date timestamptz,
	message_count integer NOT NULL DEFAULT 0,
	-- The triage issue fills these.
	category text,
	created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX mail_threads_user_last ON mail_threads (user_id, last_date DESC, id DESC);
CREATE INDEX mail_threads_subject ON mail_threads (account_id, subject_key, last_date DESC);

CREATE TABLE mail_messages (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	user_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	account_id bigint NOT NULL REFERENCES mail_accounts (id) ON DELETE CASCADE,
	folder_id bigint REFERENCES mail_folders (id) ON DELETE SET NULL,
	thread_id bigint REFERENCES mail_threads (id) ON DELETE SET NULL,
	uid bigint CHECK (uid IS NULL OR uid BETWEEN 1 AND 4294967295),
	-- Without angle brackets; a message that has none gets a synthetic one
	-- ("mailroom-<sha256 of the raw message>") so that imports stay idempotent.
	message_id text NOT NULL CHECK (length(message_id) BETWEEN 1 AND 998),
	in_reply_to text,
	refs text[] NOT NULL DEFAULT '{}',
	from_addr jsonb NOT NULL DEFAULT '[]',
	to_addr jsonb NOT NULL DEFAULT '[]',
	cc_addr jsonb NOT NULL DEFAULT '[]',
	reply_to jsonb NOT NULL DEFAULT '[]',
	subject text NOT NULL DEFAULT '',
	sent_at timestamptz,
	received_at timestamptz NOT NULL DEFAULT now(),
	size integer NOT NULL DEFAULT 0 CHECK (size >= 0),
	flags text[] NOT NULL DEFAULT '{}',
	headers jsonb NOT NULL DEFAULT '{}',
	body_text text NOT NULL DEFAULT '',
	body_html text,
	snippet text NOT NULL DEFAULT '' CHECK (length(snippet) <= 400),
	direction text NOT NULL DEFAULT 'received' CHECK (direction IN ('received', 'sent')),
	has_attachments boolean NOT NULL DEFAULT false,
	has_calendar boolean NOT NULL DEFAULT false,
	calendar text,
	parse_warnings text[] NOT NULL DEFAULT '{}',
	-- The triage issue fills these.
	category text,
	search tsvector,
	created_at timestamptz NOT NULL DEFAULT now(),
	UNIQUE (account_id, message_id)
);
CREATE INDEX mail_messages_list ON mail_messages (user_id, category, received_at DESC, id DESC);
CREATE INDEX mail_messages_user_date ON mail_messages (user_id, received_at DESC, id DESC);
CREATE INDEX mail_messages_folder_uid ON mail_messages (folder_id, uid);
CREATE INDEX mail_messages_thread ON mail_messages (thread_id, sent_at);
CREATE INDEX mail_messages_search ON mail_messages USING gin (search);
-- References and In-Reply-To are looked up by Message-ID within an account.
CREATE INDEX mail_messages_refs ON mail_messages USING gin (refs);

-- Attachments: metadata only; the content stays on the server it came from.
CREATE TABLE mail_attachments (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	message_id bigint NOT NULL REFERENCES mail_messages (id) ON DELETE CASCADE,
	user_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	filename text NOT NULL DEFAULT '' CHECK (length(filename) <= 1000),
	content_type text NOT NULL DEFAULT 'application/octet-stream',
	size integer NOT NULL DEFAULT 0 CHECK (size >= 0),
	content_id text,
	-- Where it is in the message (IMAP BODY section, "2.1"), to fetch it on demand.
	part text NOT NULL DEFAULT '',
	inline boolean NOT NULL DEFAULT false
);
CREATE INDEX mail_attachments_message ON mail_attachments (message_id);
CREATE INDEX mail_attachments_user ON mail_attachments (user_id);

-- The job queue. A worker claims due jobs with FOR UPDATE SKIP LOCKED and holds a lease
-- (locked_until, pushed forward by its heartbeat); a job whose lease ran out is taken
-- again. Failures retry with exponential backoff and jitter; after max_attempts the job
-- is dead (dead_at set) and kept for inspection. unique_key makes at most one live job
-- per key (one sync per account at a time).
CREATE TABLE jobs (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	kind text NOT NULL CHECK (length(kind) BETWEEN 1 AND 64),
	payload jsonb NOT NULL DEFAULT '{}',
	user_id bigint REFERENCES users (id) ON DELETE CASCADE,
	unique_key text,
	run_at timestamptz NOT NULL DEFAULT now(),
	attempts integer NOT NULL DEFAULT 0,
	max_attempts integer NOT NULL DEFAULT 10 CHECK (max_attempts > 0),
	locked_by text,
	locked_until timestamptz,
	last_error text,
	dead_at timestamptz,
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX jobs_unique_live ON jobs (unique_key)
	WHERE unique_key IS NOT NULL AND dead_at IS NULL;
CREATE INDEX jobs_due ON jobs (run_at) WHERE dead_at IS NULL;
CREATE TRIGGER jobs_updated_at BEFORE UPDATE ON jobs
	FOR EACH ROW EXECUTE FUNCTION set_updated_at();
