-- Dedupe keys move from one B-tree row per result row (results_seen) to an append-only log: one row per
-- ingest batch holding its new keys' 64-bit fingerprints and event times (16 bytes each, see
-- sqlite/seen-keys.ts). The store keeps the set in memory and reads the log's tail before each check, so
-- a batch appends one row instead of inserting thousands of random keys (a fifth of ingest time at
-- 10 000 hosts, mostly the pages each COMMIT rewrote). The old digests are dropped, not converted: the
-- digest changed from md5 to SHA-256 in the same release, so no new row could match them.
-- AUTOINCREMENT: every process reads the rows after the last id it holds, so an id must never be handed
-- out twice (expiry may delete the newest row; a plain rowid would then be reused, unseen by the others).
CREATE TABLE result_key_log (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  min_time INTEGER NOT NULL,
  max_time INTEGER NOT NULL,
  keys BLOB NOT NULL
);
CREATE INDEX result_key_log_max_time ON result_key_log (max_time);
DROP TABLE results_seen;
