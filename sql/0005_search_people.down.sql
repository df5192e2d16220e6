-- 0005_search_people down: removes what 0005_search_people.up.sql created, newest first.
DROP INDEX mail_messages_subject_trgm;
DROP INDEX mail_messages_to_trgm;
DROP INDEX mail_messages_from_trgm;
ALTER TABLE mail_messages DROP COLUMN to_text;
ALTER TABLE mail_messages DROP COLUMN from_text;
DROP FUNCTION mail_people_text(jsonb);

-- Fails (rather than cascading) when something else still uses pg_trgm.
DROP EXTENSION IF EXISTS pg_trgm;
