-- 0010_rule_actions: the actions of the rule that decided a message (archive, mark_read,
-- star, move), applied to the mailbox by the write-back (app/writeback.c, doc/triage.md
-- "Rules' actions"). actions_applied_rule is the id of the rule whose actions were
-- applied, written only after the server confirmed them: a message whose
-- category_rule_id differs has actions waiting, and a retried job applies nothing twice.
ALTER TABLE mail_messages ADD COLUMN actions_applied_rule bigint;
-- Messages decided before this: their rules' actions were never promised to them, and
-- applying them now would move old mail all at once.
UPDATE mail_messages SET actions_applied_rule = category_rule_id
	WHERE category_rule_id IS NOT NULL;
