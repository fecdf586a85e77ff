-- When a pending candidate is due (finalize.ts): the event time of the earliest version reported since it was last
-- judged. A flow that stays open is reported again on every run of the candidates pack, each report a newer version
-- of the same row; with event_time alone as the due time, such a row was judged only once its flow had gone quiet
-- for finalize_delay, so an upload over one long connection was detected only after it ended.
--
-- A plain nullable column, no default: adding it changes the catalog only (no table rewrite). Rows written before
-- (or by an instance not yet upgraded) have none, and are due at their event_time (coalesce in pg-store.ts).
ALTER TABLE candidates ADD COLUMN due_time BIGINT;
CREATE INDEX candidates_due ON candidates (coalesce(due_time, event_time)) WHERE status = 'pending';
-- The event time of the version last judged: a late copy of a version no newer than it (another source, a re-read
-- file) does not bring a pending row's due time forward (pg-store.ts / sqlite-store.ts upsertPending).
ALTER TABLE candidates ADD COLUMN judged_time BIGINT;
-- A row finalized before this migration was judged at its stored version.
UPDATE candidates SET judged_time = event_time WHERE status = 'finalized';
