-- 0001_init: the base every later migration builds on.
-- Applied by "mailroom migrate up" in one transaction, recorded in schema_migrations.

-- Case-insensitive text, so that e-mail addresses compare the way mail systems treat
-- them (Alice@Example.org = alice@example.org) in unique keys and lookups. citext is a
-- trusted extension (PostgreSQL 13+): the database owner may create it without being a
-- superuser. Debian ships it in postgresql-15 (formerly postgresql-contrib).
CREATE EXTENSION IF NOT EXISTS citext;

-- Tables with an updated_at column install this as a BEFORE UPDATE trigger, so the column
-- stays right even for updates written by hand in psql or by a future tool.
CREATE FUNCTION set_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	NEW.updated_at := now();
	RETURN NEW;
END;
$$;

-- One row describing this installation: a stable identifier that survives host moves and
-- restores (backups, exports and metrics name it), and when the schema was first created.
CREATE TABLE instance (
	id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	created_at timestamptz NOT NULL DEFAULT now(),
	schema_note text NOT NULL
);

-- A unique index on a constant admits exactly one row: a second INSERT fails.
CREATE UNIQUE INDEX instance_single_row ON instance ((true));

INSERT INTO instance (schema_note)
VALUES ('mailroom schema; schema_migrations lists the applied migrations');
