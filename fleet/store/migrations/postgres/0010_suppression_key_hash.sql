-- A suppression key holds the host id and the group root's identity, or its path (up to 4096 characters) when the
-- root has no code identity: longer than a btree index entry may be (2704 bytes), so the detection's insert failed,
-- and with it every finalization run from that candidate on (SQLite has no such bound). A hash index keeps a 4-byte
-- hash per row, whatever the key's length; finalization asks for keys by equality only (`= ANY`), and created_at
-- then filters the few detections of each key.
DROP INDEX detections_suppression;
CREATE INDEX detections_suppression ON detections USING hash (suppression_key);
