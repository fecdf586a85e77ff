-- When a pending candidate is due (finalize.ts): the event time of the earliest version reported since it was last
-- judged. A flow that stays open is reported again on every run of the candidates pack, each report a newer version
-- of the same row; with event_time alone as the due time, such a row was judged only once its flow had gone quiet
-- for finalize_delay, so an upload over one long connection was detected only after it ended.
-- No index of its own: every write of a candidate would keep it up to date (ingest speed), and finalization walks the
-- pending rows in (event_time, id) order on candidates_pending anyway, a due row never later than its event_time.
ALTER TABLE candidates ADD COLUMN due_time INTEGER;
UPDATE candidates SET due_time = event_time;
-- The event time of the version last judged: a late copy of a version no newer than it (another source, a re-read
-- file) does not bring a pending row's due time forward (pg-store.ts / sqlite-store.ts upsertPending).
ALTER TABLE candidates ADD COLUMN judged_time INTEGER;
-- A row finalized before this migration was judged at its stored version.
UPDATE candidates SET judged_time = event_time WHERE status = 'finalized';
