-- 0006_triage down: removes what 0006_triage.up.sql created, newest first.
DROP TABLE triage_settings;
ALTER TABLE mail_accounts DROP COLUMN writeback;
DROP INDEX mail_threads_reply;
ALTER TABLE mail_threads DROP COLUMN follow_up, DROP COLUMN reply_since,
	DROP COLUMN reply_state;
DROP TABLE triage_rules;
DROP TABLE triage_totals;
DROP TABLE triage_features;
DROP TABLE sender_categories;
DROP TABLE triage_corrections;
DROP INDEX mail_messages_untriaged;
ALTER TABLE mail_messages DROP COLUMN written_back, DROP COLUMN triaged_at,
	DROP COLUMN category_rule_id, DROP COLUMN category_reasons,
	DROP COLUMN category_source, DROP COLUMN category_confidence;
DROP TRIGGER users_categories_builtin ON users;
DROP FUNCTION users_categories_builtin();
DROP FUNCTION categories_builtin(bigint);
DROP TABLE categories;
