-- 0006_triage: categories, the decisions of triage and where they came from, the
-- corrections users make, the model learned from them, rules, reply tracking and the
-- per-user triage settings. Every row belongs to a user; every query filters by user_id.

-- A user's categories: the eight built-in ones (builtin, their slug fixed, their meaning
-- in doc/triage.md) and the user's own. Each can be renamed, hidden and reordered;
-- built-in ones cannot be deleted. Messages and threads name their category by slug.
CREATE TABLE categories (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	user_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	slug text NOT NULL CHECK (slug ~ '^[a-z0-9][a-z0-9-]{0,39}$'),
	builtin boolean NOT NULL DEFAULT false,
	name text NOT NULL CHECK (length(name) BETWEEN 1 AND 60),
	colour text NOT NULL DEFAULT 'slate'
		CHECK (colour IN ('slate', 'red', 'orange', 'amber', 'green', 'teal', 'sky',
		'blue', 'indigo', 'violet', 'pink')),
	description text NOT NULL DEFAULT '' CHECK (length(description) <= 500),
	hidden boolean NOT NULL DEFAULT false,
	position integer NOT NULL DEFAULT 0,
	created_at timestamptz NOT NULL DEFAULT now(),
	UNIQUE (user_id, slug)
);

-- The built-in categories of one user (idempotent): called for every new user by the
-- trigger below, and here for the users there are already.
CREATE FUNCTION categories_builtin(uid bigint) RETURNS void LANGUAGE sql AS $$
	INSERT INTO categories (user_id, slug, builtin, name, colour, description, position)
	VALUES
	(uid, 'to-respond', true, 'To respond', 'red', 'Messages that need a reply from you.', 1),
	(uid, 'fyi', true, 'FYI', 'sky', 'Worth knowing, nothing to do.', 2),
	(uid, 'comment', true, 'Comment', 'violet',
		'Replies and comments in threads you are copied on.', 3),
	(uid, 'notification', true, 'Notification', 'slate',
		'Automated messages from services and tools.', 4),
	(uid, 'meeting-update', true, 'Meeting update', 'amber',
		'Invitations, changes and answers about meetings.', 5),
	(uid, 'awaiting-reply', true, 'Awaiting reply', 'orange',
		'Threads where you wrote last and wait for an answer.', 6),
	(uid, 'actioned', true, 'Actioned', 'green',
		'Threads you have already answered or dealt with.', 7),
	(uid, 'marketing', true, 'Marketing', 'pink',
		'Newsletters, promotions and cold outreach.', 8)
	ON CONFLICT (user_id, slug) DO NOTHING
$$;

CREATE FUNCTION users_categories_builtin() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	PERFORM categories_builtin(NEW.id);
	RETURN NEW;
END
$$;
CREATE TRIGGER users_categories_builtin AFTER INSERT ON users
	FOR EACH ROW EXECUTE FUNCTION users_categories_builtin();
SELECT categories_builtin(id) FROM users;

-- Each message's decision: its category (mail_messages.category, a slug), how sure, who
-- decided (a rule, the classifier, the user's correction, a sender the user sorted, an
-- LLM) and why, in sentences.
ALTER TABLE mail_messages
	ADD COLUMN category_confidence real
		CHECK (category_confidence IS NULL OR category_confidence BETWEEN 0 AND 1),
	ADD COLUMN category_source text CHECK (category_source IS NULL OR category_source IN
		('rule', 'classifier', 'correction', 'sender', 'screening', 'llm')),
	ADD COLUMN category_reasons jsonb NOT NULL DEFAULT '[]',
	ADD COLUMN category_rule_id bigint,
	ADD COLUMN triaged_at timestamptz,
	-- The keyword or folder last written back to the mailbox (write-back is idempotent).
	ADD COLUMN written_back text;
CREATE INDEX mail_messages_untriaged ON mail_messages (user_id, id) WHERE triaged_at IS NULL;

-- A correction: the user moved a message from one category to another (in the
-- dashboard, the API, the extension, or in their own mail client as seen by the sync).
CREATE TABLE triage_corrections (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	user_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	message_id bigint REFERENCES mail_messages (id) ON DELETE SET NULL,
	from_category text,
	to_category text NOT NULL,
	source text NOT NULL CHECK (source IN ('dashboard', 'api', 'extension', 'mailbox')),
	sender citext,
	apply_to_sender boolean NOT NULL DEFAULT false,
	created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX triage_corrections_user ON triage_corrections (user_id, created_at DESC);

-- Senders the user sorted for good ("always put mail from them in X"), and senders let
-- through the cold-email screen (category NULL: allowed, classified as usual).
CREATE TABLE sender_categories (
	user_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	sender citext NOT NULL CHECK (length(sender) BETWEEN 3 AND 254),
	category text,
	created_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (user_id, sender)
);

-- The user's model, learned from their corrections: counts of features (tokens, sender,
-- domain, header signals) per category, on top of the shared prior shipped with mailroom.
CREATE TABLE triage_features (
	user_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	feature text NOT NULL CHECK (length(feature) BETWEEN 1 AND 200),
	category text NOT NULL,
	count real NOT NULL DEFAULT 0,
	PRIMARY KEY (user_id, feature, category)
);
CREATE TABLE triage_totals (
	user_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	category text NOT NULL,
	documents real NOT NULL DEFAULT 0,
	features real NOT NULL DEFAULT 0,
	PRIMARY KEY (user_id, category)
);

-- Rules: conditions on sender, domain, recipients, subject, body and headers, combined
-- with all (AND) or any (OR), leading to a category and optional actions; the first
-- enabled rule that matches, in position order, decides before the classifier.
CREATE TABLE triage_rules (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	user_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	name text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
	position integer NOT NULL DEFAULT 0,
	enabled boolean NOT NULL DEFAULT true,
	match text NOT NULL DEFAULT 'all' CHECK (match IN ('all', 'any')),
	conditions jsonb NOT NULL CHECK (jsonb_typeof(conditions) = 'array'),
	category text,
	actions jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(actions) = 'array'),
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX triage_rules_user ON triage_rules (user_id, position);
CREATE TRIGGER triage_rules_updated_at BEFORE UPDATE ON triage_rules
	FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- Reply tracking, per thread: owed (the user should answer), awaiting (the user wrote
-- last and waits), or done; since when; flagged for a follow-up after N days.
ALTER TABLE mail_threads
	ADD COLUMN reply_state text CHECK (reply_state IS NULL OR reply_state IN
		('owed', 'awaiting', 'done')),
	ADD COLUMN reply_since timestamptz,
	ADD COLUMN follow_up boolean NOT NULL DEFAULT false;
CREATE INDEX mail_threads_reply ON mail_threads (user_id, reply_state, reply_since)
	WHERE reply_state IN ('owed', 'awaiting');

-- Write-back per account: nothing, the category as a keyword (or label folder), or that
-- and Marketing and Notification moved out of the inbox.
ALTER TABLE mail_accounts ADD COLUMN writeback text NOT NULL DEFAULT 'label'
	CHECK (writeback IN ('off', 'label', 'label_move'));

-- Per-user triage settings.
CREATE TABLE triage_settings (
	user_id bigint PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
	follow_up_days integer NOT NULL DEFAULT 3 CHECK (follow_up_days BETWEEN 1 AND 90),
	screening boolean NOT NULL DEFAULT true,
	screening_category text NOT NULL DEFAULT 'marketing',
	updated_at timestamptz NOT NULL DEFAULT now()
);
