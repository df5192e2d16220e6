-- 0007_ingest_refs down: the pending list again (the default).
ALTER INDEX mail_messages_refs RESET (fastupdate);
