-- A compacted (saturated) key's host count slides with the window: one HyperLogLog of its hosts per UTC day
-- of event time (fleet/store/host-sketch.ts). Before, a counter stood in for the dropped host rows and a
-- key once common stayed common while any host kept sighting it.
CREATE TABLE destination_sketches (
  dest_id INTEGER NOT NULL,
  day INTEGER NOT NULL,
  registers BLOB NOT NULL,
  PRIMARY KEY (dest_id, day)
) WITHOUT ROWID;
CREATE TABLE pair_sketches (
  pair_id INTEGER NOT NULL,
  day INTEGER NOT NULL,
  registers BLOB NOT NULL,
  PRIMARY KEY (pair_id, day)
) WITHOUT ROWID;
CREATE TABLE app_sketches (
  app_id INTEGER NOT NULL,
  day INTEGER NOT NULL,
  registers BLOB NOT NULL,
  PRIMARY KEY (app_id, day)
) WITHOUT ROWID;
-- Keys compacted before now have no sketch of their earlier hosts: windows starting before the newest event
-- time seen so far (or the key's own last sighting, if later) still count their compaction-time host count
-- (saturatedHostCount).
ALTER TABLE destinations ADD COLUMN sketch_from INTEGER NOT NULL DEFAULT 0;
ALTER TABLE pairs ADD COLUMN sketch_from INTEGER NOT NULL DEFAULT 0;
ALTER TABLE apps ADD COLUMN sketch_from INTEGER NOT NULL DEFAULT 0;
UPDATE destinations SET sketch_from = max(coalesce((SELECT newest FROM event_clock WHERE id = 1), 0), last_seen) WHERE saturated = 1;
UPDATE pairs SET sketch_from = max(coalesce((SELECT newest FROM event_clock WHERE id = 1), 0), last_seen) WHERE saturated = 1;
UPDATE apps SET sketch_from = max(coalesce((SELECT newest FROM event_clock WHERE id = 1), 0), last_seen) WHERE saturated = 1;
