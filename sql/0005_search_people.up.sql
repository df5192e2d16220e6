-- 0005_search_people: indexes for the search operators from:, to: and subject:
-- (app/search.c, doc/search.md). They are substring matches (LIKE '%ada%'), which no
-- B-tree serves: without these, a sender that matches nothing read every message of the
-- mailbox. A trigram index (pg_trgm, GIN) answers such a pattern from the trigrams it
-- contains, whatever its case.

-- pg_trgm is a trusted extension (PostgreSQL 13+): the database owner may create it
-- without being a superuser. Debian ships it in postgresql-15.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- The people of an address list (the from_addr, to_addr, cc_addr JSON arrays, elements
-- {"name", "address"}) as one lower-cased text: "name address" per person, one line each,
-- so that a search value can match the name, the address or both but never runs from one
-- person into the next. app/ingest.c fills the columns below with it on insert; it is the
-- one definition of that text (the migration's backfill and t/bench/bench-search.c use it
-- too).
CREATE FUNCTION mail_people_text(people jsonb) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
	SELECT lower(coalesce(string_agg(concat_ws(' ', nullif(e->>'name', ''),
	    nullif(e->>'address', '')), E'\n'), ''))
	FROM jsonb_array_elements(people) e
$$;

-- from:, and to: (To and Cc). Plain columns written by the insert rather than generated
-- ones: PostgreSQL recomputes a stored generated column on every UPDATE of the row, and
-- the sync updates flags and locations of many rows.
ALTER TABLE mail_messages ADD COLUMN from_text text NOT NULL DEFAULT '';
ALTER TABLE mail_messages ADD COLUMN to_text text NOT NULL DEFAULT '';
UPDATE mail_messages SET from_text = mail_people_text(from_addr),
	to_text = mail_people_text(to_addr || cc_addr);

CREATE INDEX mail_messages_from_trgm ON mail_messages USING gin (from_text gin_trgm_ops);
CREATE INDEX mail_messages_to_trgm ON mail_messages USING gin (to_text gin_trgm_ops);
-- subject: stays ILIKE on the subject itself: pg_trgm's trigrams ignore case.
CREATE INDEX mail_messages_subject_trgm ON mail_messages USING gin (subject gin_trgm_ops);
