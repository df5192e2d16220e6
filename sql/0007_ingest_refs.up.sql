-- 0007_ingest_refs: the index of References and In-Reply-To without a pending list.
-- app/ingest.c looks it up for every message it stores (which stored messages name the
-- new one: a late parent). With fastupdate, new entries wait in a pending list that every
-- search reads in full until it is merged (at 4 MB): a first sync of 10,000 messages
-- spent more on those lookups than on anything but the insert itself. Its entries are
-- few per message, so writing them straight into the index costs little.
ALTER INDEX mail_messages_refs SET (fastupdate = off);
-- What waits in the list now goes into the index.
SELECT gin_clean_pending_list('mail_messages_refs'::regclass);
