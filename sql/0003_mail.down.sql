-- 0003_mail down: removes what 0003_mail.up.sql created, newest first.
DROP TABLE jobs;
DROP TABLE mail_attachments;
DROP TABLE mail_messages;
DROP TABLE mail_threads;
DROP TABLE mail_folders;
DROP TABLE mail_accounts;
