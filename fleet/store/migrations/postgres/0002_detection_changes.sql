-- The sinks' outbox (DetectionsRepo.changedSince). Several instances may upsert detections at once, and a
-- transaction that drew a smaller sequence number can commit after one that drew a larger, so sequence
-- order is not commit order. Changes are therefore ordered by the writing transaction's id first
-- (change_xid, then change_seq within it), and a reader returns only changes of transactions older than
-- its snapshot's xmin: those have all finished, and every later write gets a larger transaction id, so
-- nothing can ever be committed behind a cursor. (Single server; a Citus cluster's transaction ids are
-- per node: unverified there, see docs/postgres-nats.md.)
CREATE SEQUENCE detection_change_seq;
ALTER TABLE detections
  ADD COLUMN change_seq BIGINT NOT NULL DEFAULT 0,
  ADD COLUMN change_xid xid8 NOT NULL DEFAULT pg_current_xact_id();
-- Detections stored before this migration are numbered in (last_seen, id) order; sinks start after them.
WITH numbered AS (SELECT host_id, id, row_number() OVER (ORDER BY last_seen, id COLLATE "C") AS seq FROM detections)
UPDATE detections d SET change_seq = numbered.seq FROM numbered WHERE d.host_id = numbered.host_id AND d.id = numbered.id;
SELECT setval('detection_change_seq', coalesce((SELECT max(change_seq) FROM detections), 0) + 1, false);
CREATE INDEX detections_change ON detections (change_xid, change_seq);
