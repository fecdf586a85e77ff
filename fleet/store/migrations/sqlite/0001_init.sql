-- Outflow fleet store, SQLite. Times are unix seconds of event time unless named received_at.
-- Prevalence tables keep exact host sets (…_hosts) only while a key is below the common threshold;
-- compaction then sets saturated = 1, records saturated_hosts and drops the host rows.

-- Keyed by time first: new digests land at the right edge of the B-tree (few dirty pages per batch,
-- unlike random digests), and expiry is a range delete on the key prefix.
CREATE TABLE results_seen (
  unix_time INTEGER NOT NULL,
  digest TEXT NOT NULL,
  PRIMARY KEY (unix_time, digest)
) WITHOUT ROWID;

CREATE TABLE hosts (
  host_id TEXT PRIMARY KEY,
  hostname TEXT NOT NULL DEFAULT '',
  first_seen INTEGER NOT NULL,
  last_seen INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX hosts_last_seen ON hosts (last_seen);

CREATE TABLE host_status (
  host_id TEXT NOT NULL,
  component TEXT NOT NULL,
  platform TEXT NOT NULL,
  state TEXT NOT NULL,
  detail TEXT NOT NULL,
  version TEXT NOT NULL,
  time INTEGER NOT NULL,
  PRIMARY KEY (host_id, component)
) WITHOUT ROWID;

CREATE TABLE event_clock (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  earliest INTEGER NOT NULL,
  newest INTEGER NOT NULL
);

CREATE TABLE destinations (
  key TEXT PRIMARY KEY,
  first_seen INTEGER NOT NULL,
  last_seen INTEGER NOT NULL,
  saturated INTEGER NOT NULL DEFAULT 0,
  saturated_hosts INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

CREATE TABLE destination_hosts (
  key TEXT NOT NULL,
  host_id TEXT NOT NULL,
  first_seen INTEGER NOT NULL,
  last_seen INTEGER NOT NULL,
  PRIMARY KEY (key, host_id)
) WITHOUT ROWID;

CREATE TABLE pairs (
  identity TEXT NOT NULL,
  key TEXT NOT NULL,
  first_seen INTEGER NOT NULL,
  last_seen INTEGER NOT NULL,
  saturated INTEGER NOT NULL DEFAULT 0,
  saturated_hosts INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (identity, key)
) WITHOUT ROWID;

CREATE TABLE pair_hosts (
  identity TEXT NOT NULL,
  key TEXT NOT NULL,
  host_id TEXT NOT NULL,
  first_seen INTEGER NOT NULL,
  last_seen INTEGER NOT NULL,
  PRIMARY KEY (identity, key, host_id)
) WITHOUT ROWID;

CREATE TABLE apps (
  identity TEXT PRIMARY KEY,
  first_seen INTEGER NOT NULL,
  last_seen INTEGER NOT NULL,
  saturated INTEGER NOT NULL DEFAULT 0,
  saturated_hosts INTEGER NOT NULL DEFAULT 0,
  path TEXT NOT NULL DEFAULT '',
  signature_class TEXT NOT NULL DEFAULT '',
  team_id TEXT NOT NULL DEFAULT '',
  signing_id TEXT NOT NULL DEFAULT '',
  cdhash TEXT NOT NULL DEFAULT ''
) WITHOUT ROWID;

CREATE TABLE app_hosts (
  identity TEXT NOT NULL,
  host_id TEXT NOT NULL,
  first_seen INTEGER NOT NULL,
  last_seen INTEGER NOT NULL,
  PRIMARY KEY (identity, host_id)
) WITHOUT ROWID;

CREATE TABLE candidates (
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
) WITHOUT ROWID;
CREATE INDEX candidates_pending ON candidates (status, event_time, id);

CREATE TABLE detections (
  id TEXT PRIMARY KEY,
  suppression_key TEXT NOT NULL,
  analytic TEXT NOT NULL,
  host_id TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  first_seen INTEGER NOT NULL,
  last_seen INTEGER NOT NULL,
  body TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX detections_suppression ON detections (suppression_key, created_at);
CREATE INDEX detections_last_seen ON detections (last_seen, id);

CREATE TABLE quarantine (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  received_at INTEGER NOT NULL,
  source TEXT NOT NULL,
  reason TEXT NOT NULL,
  line TEXT NOT NULL
);
CREATE INDEX quarantine_received_at ON quarantine (received_at);

CREATE TABLE checkpoints (
  source_id TEXT PRIMARY KEY,
  checkpoint TEXT NOT NULL
) WITHOUT ROWID;
