-- 0001_init down: removes what 0001_init.up.sql created, newest first.
-- Dropping instance discards the installation identifier: a new one is made on the next up.

DROP TABLE instance;
DROP FUNCTION set_updated_at();

-- Fails (rather than cascading) when a table still uses citext: reverting this migration
-- must never silently drop user data.
DROP EXTENSION IF EXISTS citext;
