-- 0004_sync: where each message is on its server. A message (one row per Message-ID in
-- an account) can be in several folders at once (sent to oneself, Gmail's labels, a copy
-- in Archive); each copy is a location with its UID and flags. mail_messages.folder_id,
-- uid and flags mirror one of its locations (the first seen); a message whose last
-- location is expunged is deleted.
CREATE TABLE mail_locations (
	folder_id bigint NOT NULL REFERENCES mail_folders (id) ON DELETE CASCADE,
	uid bigint NOT NULL CHECK (uid BETWEEN 1 AND 4294967295),
	message_id bigint NOT NULL REFERENCES mail_messages (id) ON DELETE CASCADE,
	user_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	flags text[] NOT NULL DEFAULT '{}',
	modseq numeric(20, 0),
	PRIMARY KEY (folder_id, uid)
);
CREATE INDEX mail_locations_message ON mail_locations (message_id);
CREATE INDEX mail_locations_user ON mail_locations (user_id);

-- Set when the server refused the account's credentials: the scheduler leaves the account
-- alone (a provider may lock an account that keeps failing) until the user changes the
-- password or asks for a sync.
ALTER TABLE mail_accounts ADD COLUMN auth_failed_at timestamptz;

-- A folder whose UIDVALIDITY changed is fetched again in full (no backfill limit), its
-- messages matched by Message-ID; when that ends, messages it no longer has are removed.
ALTER TABLE mail_folders ADD COLUMN resync boolean NOT NULL DEFAULT false;
