-- Dedupe keys move from one B-tree row per result row (results_seen) to an append-only log: one row per
-- ingest batch holding its new keys' 64-bit fingerprints and event times (16 bytes each, see
-- sqlite/seen-keys.ts). The store keeps the set in memory and reads the log's tail before each check, so
-- a batch appends one row instead of inserting thousands of random keys (a fifth of ingest time at
-- 10 000 hosts, mostly the pages each COMMIT rewrote). Existing digests are converted by the store
-- right after this migration (the fingerprint is computed in JS), then the old table is dropped.
CREATE TABLE result_key_log (
  id INTEGER PRIMARY KEY,
  min_time INTEGER NOT NULL,
  max_time INTEGER NOT NULL,
  keys BLOB NOT NULL
);
CREATE INDEX result_key_log_max_time ON result_key_log (max_time);
ALTER TABLE results_seen RENAME TO results_seen_legacy;
