-- 0009_triage_history, undone: 0008's index of the sender's history.
DROP INDEX mail_messages_sender;
CREATE INDEX mail_messages_sender ON mail_messages (user_id, lower(from_addr->0->>'address'))
	WHERE direction = 'received';
