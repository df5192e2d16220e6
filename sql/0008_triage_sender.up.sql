-- 0008_triage_sender: the indexes of the classifier's sender history (app/triage-db.c,
-- doc/triage.md): how many messages a user received from an address before, and how
-- many they sent to it. The trigram indexes of from:/to: (0005) answer a substring;
-- for a whole address they read the posting lists of trigrams every address of a
-- domain shares ("exa", "ple"), which took 10-20 ms a message on a small mailbox.

-- The addresses of an address list (the from_addr, to_addr, cc_addr JSON arrays), lower
-- case: the one definition the index and the queries share.
CREATE FUNCTION mail_address_list(people jsonb) RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
	SELECT coalesce(array_agg(lower(e->>'address')), '{}')
	FROM jsonb_array_elements(people) e
	WHERE coalesce(e->>'address', '') <> ''
$$;

CREATE INDEX mail_messages_sender ON mail_messages (user_id, lower(from_addr->0->>'address'))
	WHERE direction = 'received';
CREATE INDEX mail_messages_sent_to ON mail_messages
	USING gin (mail_address_list(to_addr || cc_addr)) WHERE direction = 'sent';
