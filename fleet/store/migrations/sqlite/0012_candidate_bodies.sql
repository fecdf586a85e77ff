-- A candidate's ~1 KB JSON body moves to a table of its own. Finalization marks each judged candidate
-- (status, detection, counted bytes): with the body inline, every such update rewrote the page of a
-- 1 KB row, ~4 MB of WAL per 5 000-candidate batch, most of a batch's commit. The row it now rewrites
-- is ~250 bytes.
-- body_md5 (candidateBodyDigest) is what finalization compares to tell whether the version it judged is
-- still the stored one, so marking reads no body either. outflow_md5 is registered by the store
-- (sqlite-store.ts) before migrations run.
-- seq is an INTEGER PRIMARY KEY so that it is the rowid and VACUUM keeps it: the bodies are keyed by it.
CREATE TABLE candidates_v12 (
  seq INTEGER PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  host_id TEXT NOT NULL,
  event_time INTEGER NOT NULL,
  analytic TEXT NOT NULL,
  destination_key TEXT NOT NULL,
  bytes_out INTEGER NOT NULL,
  body_md5 TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('pending', 'finalized')),
  detection_id TEXT,
  counted_bytes_out INTEGER NOT NULL DEFAULT 0,
  counted_bytes_in INTEGER NOT NULL DEFAULT 0,
  branch TEXT NOT NULL DEFAULT ''
);
CREATE TABLE candidate_bodies (
  seq INTEGER PRIMARY KEY,
  body TEXT NOT NULL
);
INSERT INTO candidates_v12 (seq, id, host_id, event_time, analytic, destination_key, bytes_out, body_md5, status, detection_id, counted_bytes_out, counted_bytes_in, branch)
  SELECT rowid, id, host_id, event_time, analytic, destination_key, bytes_out, outflow_md5(body), status, detection_id, counted_bytes_out, counted_bytes_in, branch FROM candidates;
INSERT INTO candidate_bodies (seq, body) SELECT rowid, body FROM candidates;
DROP TABLE candidates;
ALTER TABLE candidates_v12 RENAME TO candidates;
CREATE INDEX candidates_pending ON candidates (status, event_time, id);
-- Whoever deletes candidates (retention, an operator), their bodies go with them.
CREATE TRIGGER candidates_drop_body AFTER DELETE ON candidates BEGIN
  DELETE FROM candidate_bodies WHERE seq = old.seq;
END;
