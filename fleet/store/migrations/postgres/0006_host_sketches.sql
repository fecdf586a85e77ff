-- A compacted (saturated) key's host count slides with the window: one HyperLogLog of its hosts per UTC day
-- of event time (fleet/store/host-sketch.ts). Before, host_count stood in for the dropped host rows and a
-- key once common stayed common while any host kept sighting it.
CREATE TABLE destination_sketches (
  dest_key  TEXT    NOT NULL,
  day       INTEGER NOT NULL,
  registers BYTEA   NOT NULL,
  PRIMARY KEY (dest_key, day)
);
CREATE TABLE pair_sketches (
  dest_key  TEXT    NOT NULL,
  identity  TEXT    NOT NULL,
  day       INTEGER NOT NULL,
  registers BYTEA   NOT NULL,
  PRIMARY KEY (dest_key, identity, day)
);
CREATE TABLE app_sketches (
  identity  TEXT    NOT NULL,
  day       INTEGER NOT NULL,
  registers BYTEA   NOT NULL,
  PRIMARY KEY (identity, day)
);
-- Keys compacted before now have no sketch of their earlier hosts: windows starting before the newest event
-- time seen so far (or the key's own last sighting, if later) still count host_count (saturatedHostCount).
ALTER TABLE destinations ADD COLUMN sketch_from BIGINT NOT NULL DEFAULT 0;
ALTER TABLE pairs ADD COLUMN sketch_from BIGINT NOT NULL DEFAULT 0;
ALTER TABLE apps ADD COLUMN sketch_from BIGINT NOT NULL DEFAULT 0;
UPDATE destinations SET sketch_from = GREATEST(COALESCE((SELECT max(newest) FROM event_clock), 0), last_seen) WHERE saturated;
UPDATE pairs SET sketch_from = GREATEST(COALESCE((SELECT max(newest) FROM event_clock), 0), last_seen) WHERE saturated;
UPDATE apps SET sketch_from = GREATEST(COALESCE((SELECT max(newest) FROM event_clock), 0), last_seen) WHERE saturated;
