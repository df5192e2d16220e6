-- 0009_triage_history: the sender's history as the batched classifier reads it
-- (app/triage-db.c, doc/triage.md): how many messages a user received from an address
-- before a message's date. With the date in the index this is a range of at most 100
-- entries; 0008's index (user and address alone) read every message of the sender and
-- filtered them by date, which for a sender of a few hundred messages took most of the
-- classification time.
DROP INDEX mail_messages_sender;
CREATE INDEX mail_messages_sender ON mail_messages (user_id, lower(from_addr->0->>'address'),
	coalesce(sent_at, received_at)) WHERE direction = 'received';
