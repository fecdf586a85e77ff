-- The sinks' outbox (DetectionsRepo.changedSince): every upsert of a detection gives the row the next
-- number of a counter kept in store_meta, which never goes back (retention deleting the newest detections
-- must not hand their numbers out again, or a sink cursor past them would skip the new rows). SQLite has
-- one writer at a time, so change numbers are also commit order.
ALTER TABLE detections ADD COLUMN change_seq INTEGER NOT NULL DEFAULT 0;
-- Detections stored before this migration are numbered in (last_seen, id) order; sinks start after them.
WITH numbered AS (SELECT id, row_number() OVER (ORDER BY last_seen, id) AS seq FROM detections)
UPDATE detections SET change_seq = numbered.seq FROM numbered WHERE numbered.id = detections.id;
INSERT INTO store_meta (name, value) SELECT 'detection_change_seq', coalesce(max(change_seq), 0) FROM detections;
CREATE INDEX detections_change ON detections (change_seq);
