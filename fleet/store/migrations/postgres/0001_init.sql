-- Outflow aggregator state on PostgreSQL (shared by several aggregator instances).
-- Every table's primary key starts with the column a Citus cluster would distribute it by, so the same
-- schema runs on one server or, after create_distributed_table (docs/postgres-nats.md), sharded:
--   destination key : destinations, destination_hosts, pairs, pair_hosts   (co-located)
--   app identity    : apps, app_hosts                                       (co-located)
--   host id         : hosts, host_status, candidates, detections           (co-located)
--   digest          : results_seen
--   reference/local : event_clock, checkpoints, quarantine, outflow_migrations
-- Times are unix seconds of event time (BIGINT) except quarantine.received_at (wall clock).

-- dedupe keys of result rows (at-least-once deliveries, redelivered NATS messages)
CREATE TABLE results_seen (
  digest    TEXT   NOT NULL PRIMARY KEY,
  unix_time BIGINT NOT NULL
);
CREATE INDEX results_seen_time ON results_seen (unix_time);

CREATE TABLE hosts (
  host_id    TEXT   NOT NULL PRIMARY KEY,
  hostname   TEXT   NOT NULL DEFAULT '',
  first_seen BIGINT NOT NULL,
  last_seen  BIGINT NOT NULL
);
CREATE INDEX hosts_last_seen ON hosts (last_seen);

CREATE TABLE host_status (
  host_id   TEXT   NOT NULL,
  component TEXT   NOT NULL,
  platform  TEXT   NOT NULL,
  state     TEXT   NOT NULL,
  detail    TEXT   NOT NULL,
  version   TEXT   NOT NULL,
  time      BIGINT NOT NULL,
  PRIMARY KEY (host_id, component)
);

-- One row per writer slot instead of a single row: every ingest transaction observes the clock, and a
-- single hot row would serialize all instances' commits. Readers take MIN/MAX over the slots.
CREATE TABLE event_clock (
  slot     INTEGER NOT NULL PRIMARY KEY,
  earliest BIGINT  NOT NULL,
  newest   BIGINT  NOT NULL
);

-- prevalence: exact host sets while a key is below the common threshold, then a counter (saturated)
CREATE TABLE destinations (
  dest_key   TEXT    NOT NULL PRIMARY KEY,
  first_seen BIGINT  NOT NULL,
  last_seen  BIGINT  NOT NULL,
  saturated  BOOLEAN NOT NULL DEFAULT FALSE,
  host_count INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE destination_hosts (
  dest_key   TEXT   NOT NULL,
  host_id    TEXT   NOT NULL,
  first_seen BIGINT NOT NULL,
  last_seen  BIGINT NOT NULL,
  PRIMARY KEY (dest_key, host_id)
);
CREATE INDEX destination_hosts_last_seen ON destination_hosts (last_seen);

CREATE TABLE pairs (
  dest_key   TEXT    NOT NULL,
  identity   TEXT    NOT NULL,
  first_seen BIGINT  NOT NULL,
  last_seen  BIGINT  NOT NULL,
  saturated  BOOLEAN NOT NULL DEFAULT FALSE,
  host_count INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (dest_key, identity)
);
CREATE TABLE pair_hosts (
  dest_key   TEXT   NOT NULL,
  identity   TEXT   NOT NULL,
  host_id    TEXT   NOT NULL,
  first_seen BIGINT NOT NULL,
  last_seen  BIGINT NOT NULL,
  PRIMARY KEY (dest_key, identity, host_id)
);
CREATE INDEX pair_hosts_last_seen ON pair_hosts (last_seen);

CREATE TABLE apps (
  identity        TEXT    NOT NULL PRIMARY KEY,
  first_seen      BIGINT  NOT NULL,
  last_seen       BIGINT  NOT NULL,
  saturated       BOOLEAN NOT NULL DEFAULT FALSE,
  host_count      INTEGER NOT NULL DEFAULT 0,
  path            TEXT    NOT NULL DEFAULT '',
  signature_class TEXT    NOT NULL DEFAULT '',
  team_id         TEXT    NOT NULL DEFAULT '',
  signing_id      TEXT    NOT NULL DEFAULT '',
  cdhash          TEXT    NOT NULL DEFAULT '',
  -- event time of the sighting that set the attributes ("latest non-empty value wins", order-independent)
  attrs_time      BIGINT  NOT NULL DEFAULT -1
);
CREATE TABLE app_hosts (
  identity   TEXT   NOT NULL,
  host_id    TEXT   NOT NULL,
  first_seen BIGINT NOT NULL,
  last_seen  BIGINT NOT NULL,
  PRIMARY KEY (identity, host_id)
);
CREATE INDEX app_hosts_last_seen ON app_hosts (last_seen);

CREATE TABLE candidates (
  host_id           TEXT    NOT NULL,
  id                TEXT    NOT NULL,
  event_time        BIGINT  NOT NULL,
  destination_key   TEXT    NOT NULL,
  bytes_out         BIGINT  NOT NULL,
  -- JSON text, not JSONB: byte-identical to what SQLite returns, and ties between two versions of a
  -- flow break on this text (order-independent)
  body              TEXT    NOT NULL,
  status            TEXT    NOT NULL CHECK (status IN ('pending', 'finalized')),
  detection_id      TEXT,
  counted_bytes_out BIGINT  NOT NULL DEFAULT 0,
  counted_bytes_in  BIGINT  NOT NULL DEFAULT 0,
  branch            TEXT    NOT NULL DEFAULT '',
  PRIMARY KEY (host_id, id)
);
CREATE INDEX candidates_pending ON candidates (event_time, id) WHERE status = 'pending';
CREATE INDEX candidates_id ON candidates (id);
CREATE INDEX candidates_finalized_time ON candidates (event_time) WHERE status = 'finalized';

CREATE TABLE detections (
  host_id         TEXT   NOT NULL,
  id              TEXT   NOT NULL,
  suppression_key TEXT   NOT NULL,
  analytic        TEXT   NOT NULL,
  created_at      BIGINT NOT NULL,
  first_seen      BIGINT NOT NULL,
  last_seen       BIGINT NOT NULL,
  body            TEXT   NOT NULL,
  PRIMARY KEY (host_id, id)
);
CREATE INDEX detections_id ON detections (id);
CREATE INDEX detections_suppression ON detections (suppression_key, created_at DESC);
CREATE INDEX detections_last_seen ON detections (last_seen, id);

CREATE TABLE quarantine (
  seq         BIGSERIAL PRIMARY KEY,
  received_at BIGINT NOT NULL,
  source      TEXT   NOT NULL,
  reason      TEXT   NOT NULL,
  line        TEXT   NOT NULL
);
CREATE INDEX quarantine_received ON quarantine (received_at);

CREATE TABLE checkpoints (
  source_id  TEXT        NOT NULL PRIMARY KEY,
  checkpoint TEXT        NOT NULL,
  updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
