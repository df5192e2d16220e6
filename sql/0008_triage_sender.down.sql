-- 0008_triage_sender, undone.
DROP INDEX mail_messages_sent_to;
DROP INDEX mail_messages_sender;
DROP FUNCTION mail_address_list(jsonb);
