-- The sinks' outbox (DetectionsRepo.changedSince). Every upsert of detections takes its change numbers from
-- one counter row, incremented in the upsert's own transaction: the row lock is held to COMMIT, so detection
-- writers number one transaction at a time and commit in number order. A reader that has seen change n has
-- seen every change before it, and nothing can later commit behind its cursor. (A sequence would not do:
-- a transaction that drew 10 could commit after one that drew 11 had been read, and a sequence is not copied
-- with the tables by logical replication or a per-table dump, where a counter row is.)
CREATE TABLE store_meta (
  name  TEXT   NOT NULL PRIMARY KEY,
  value BIGINT NOT NULL
);
ALTER TABLE detections ADD COLUMN change_seq BIGINT NOT NULL DEFAULT 0;
-- Detections stored before this migration are numbered in (last_seen, id) order; sinks start after them.
WITH numbered AS (SELECT host_id, id, row_number() OVER (ORDER BY last_seen, id COLLATE "C") AS seq FROM detections)
UPDATE detections d SET change_seq = numbered.seq FROM numbered WHERE d.host_id = numbered.host_id AND d.id = numbered.id;
INSERT INTO store_meta (name, value) SELECT 'detection_change_seq', coalesce(max(change_seq), 0) FROM detections;
CREATE INDEX detections_change ON detections (change_seq);
