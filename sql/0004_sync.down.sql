-- 0004_sync down: removes what 0004_sync.up.sql created, newest first.
ALTER TABLE mail_folders DROP COLUMN resync;
ALTER TABLE mail_accounts DROP COLUMN auth_failed_at;
DROP TABLE mail_locations;
