-- The change number of a detection's insert (DetectionChange.firstCursor): a sink whose cursor is before it has
-- never been offered any version of the detection, so an OCSF sink renders its first delivery as a Create even
-- when flows were folded in before it (its change_seq is then later than its first). Updates leave it alone.
ALTER TABLE detections ADD COLUMN first_change_seq BIGINT;
-- Stored before this migration: the first change is unknown; the current one is the best bound (a sink that has
-- not been offered the detection yet renders a Create, one that has been renders an Update from its next change).
UPDATE detections SET first_change_seq = change_seq;
