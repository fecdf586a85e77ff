-- Candidates carry a ~1 KB JSON body. In a WITHOUT ROWID table a row that size spills into an overflow
-- page of its own (about one 4 KB page per candidate), so reading a finalize batch and marking it
-- finalized touched and rewrote ~4x the bytes of the rows. A rowid table keeps such rows inline.
CREATE TABLE candidates_rowid (
  id TEXT PRIMARY KEY,
  host_id TEXT NOT NULL,
  event_time INTEGER NOT NULL,
  analytic TEXT NOT NULL,
  destination_key TEXT NOT NULL,
  bytes_out INTEGER NOT NULL,
  body TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('pending', 'finalized')),
  detection_id TEXT,
  counted_bytes_out INTEGER NOT NULL DEFAULT 0,
  counted_bytes_in INTEGER NOT NULL DEFAULT 0,
  branch TEXT NOT NULL DEFAULT ''
);
INSERT INTO candidates_rowid (id, host_id, event_time, analytic, destination_key, bytes_out, body, status, detection_id, counted_bytes_out, counted_bytes_in, branch)
  SELECT id, host_id, event_time, analytic, destination_key, bytes_out, body, status, detection_id, counted_bytes_out, counted_bytes_in, branch FROM candidates;
DROP TABLE candidates;
ALTER TABLE candidates_rowid RENAME TO candidates;
CREATE INDEX candidates_pending ON candidates (status, event_time, id);
