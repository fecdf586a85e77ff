-- The sinks' outbox (DetectionsRepo.changedSince). Every upsert of detections holds a transaction-level
-- advisory lock from before it draws its first number until COMMIT, so detection writers take numbers one
-- transaction at a time and commit in number order: a reader that has seen change n has seen every change
-- before it, and nothing can later commit behind its cursor. (A sequence alone would not do: a transaction
-- that drew 10 could commit after one that drew 11 had been read.) Advisory locks are per database, so
-- other databases on the server do not hold the feed back.
CREATE SEQUENCE detection_change_seq;
ALTER TABLE detections ADD COLUMN change_seq BIGINT NOT NULL DEFAULT 0;
-- Detections stored before this migration are numbered in (last_seen, id) order; sinks start after them.
WITH numbered AS (SELECT host_id, id, row_number() OVER (ORDER BY last_seen, id COLLATE "C") AS seq FROM detections)
UPDATE detections d SET change_seq = numbered.seq FROM numbered WHERE d.host_id = numbered.host_id AND d.id = numbered.id;
SELECT setval('detection_change_seq', coalesce((SELECT max(change_seq) FROM detections), 0) + 1, false);
CREATE INDEX detections_change ON detections (change_seq);
