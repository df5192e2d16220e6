-- 0010_rule_actions, undone.
ALTER TABLE mail_messages DROP COLUMN actions_applied_rule;
