-- Prevalence host rows by integer ids instead of text. A row of destination_hosts was (key, host UUID,
-- first_seen, last_seen), ~70 bytes keyed by two strings; it is now (dest_id, host_ref, first_seen,
-- last_seen), ~15 bytes. Host refs are handed out in order of first sighting, so a batch of new hosts
-- appends at the end of each key's range instead of dirtying pages all over the table, and every
-- COMMIT (and checkpoint) writes far fewer pages. Key tables keep their text key as a UNIQUE column.
-- Ids are AUTOINCREMENT, never reused after a delete: a process holding an id (a cached host ref, or a
-- key row read just before another process expired it) can then only miss rows, never read or write
-- another key's or host's.
CREATE TABLE host_refs (
  ref INTEGER PRIMARY KEY AUTOINCREMENT,
  host_id TEXT NOT NULL UNIQUE
);
INSERT INTO host_refs (host_id)
  SELECT host_id FROM destination_hosts UNION SELECT host_id FROM app_hosts UNION SELECT host_id FROM pair_hosts ORDER BY 1;

-- Bumped whenever rows of host_refs are deleted, so a process caching refs knows to drop its cache.
CREATE TABLE store_meta (
  name TEXT PRIMARY KEY,
  value INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO store_meta (name, value) VALUES ('host_refs_generation', 0);

CREATE TABLE destinations_v5 (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  key TEXT NOT NULL UNIQUE,
  first_seen INTEGER NOT NULL,
  last_seen INTEGER NOT NULL,
  saturated INTEGER NOT NULL DEFAULT 0,
  saturated_hosts INTEGER NOT NULL DEFAULT 0
);
INSERT INTO destinations_v5 (key, first_seen, last_seen, saturated, saturated_hosts)
  SELECT key, first_seen, last_seen, saturated, saturated_hosts FROM destinations ORDER BY key;
CREATE TABLE destination_hosts_v5 (
  dest_id INTEGER NOT NULL,
  host_ref INTEGER NOT NULL,
  first_seen INTEGER NOT NULL,
  last_seen INTEGER NOT NULL,
  PRIMARY KEY (dest_id, host_ref)
) WITHOUT ROWID;
INSERT INTO destination_hosts_v5 (dest_id, host_ref, first_seen, last_seen)
  SELECT d.id, h.ref, x.first_seen, x.last_seen FROM destination_hosts x JOIN destinations_v5 d ON d.key = x.key JOIN host_refs h ON h.host_id = x.host_id;
DROP TABLE destination_hosts;
DROP TABLE destinations;
ALTER TABLE destinations_v5 RENAME TO destinations;
ALTER TABLE destination_hosts_v5 RENAME TO destination_hosts;

CREATE TABLE pairs_v5 (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  identity TEXT NOT NULL,
  key TEXT NOT NULL,
  first_seen INTEGER NOT NULL,
  last_seen INTEGER NOT NULL,
  saturated INTEGER NOT NULL DEFAULT 0,
  saturated_hosts INTEGER NOT NULL DEFAULT 0,
  UNIQUE (identity, key)
);
INSERT INTO pairs_v5 (identity, key, first_seen, last_seen, saturated, saturated_hosts)
  SELECT identity, key, first_seen, last_seen, saturated, saturated_hosts FROM pairs ORDER BY identity, key;
CREATE TABLE pair_hosts_v5 (
  pair_id INTEGER NOT NULL,
  host_ref INTEGER NOT NULL,
  first_seen INTEGER NOT NULL,
  last_seen INTEGER NOT NULL,
  PRIMARY KEY (pair_id, host_ref)
) WITHOUT ROWID;
INSERT INTO pair_hosts_v5 (pair_id, host_ref, first_seen, last_seen)
  SELECT p.id, h.ref, x.first_seen, x.last_seen FROM pair_hosts x JOIN pairs_v5 p ON p.identity = x.identity AND p.key = x.key JOIN host_refs h ON h.host_id = x.host_id;
DROP TABLE pair_hosts;
DROP TABLE pairs;
ALTER TABLE pairs_v5 RENAME TO pairs;
ALTER TABLE pair_hosts_v5 RENAME TO pair_hosts;

CREATE TABLE apps_v5 (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  identity TEXT NOT NULL UNIQUE,
  first_seen INTEGER NOT NULL,
  last_seen INTEGER NOT NULL,
  saturated INTEGER NOT NULL DEFAULT 0,
  saturated_hosts INTEGER NOT NULL DEFAULT 0,
  path TEXT NOT NULL DEFAULT '',
  signature_class TEXT NOT NULL DEFAULT '',
  team_id TEXT NOT NULL DEFAULT '',
  signing_id TEXT NOT NULL DEFAULT '',
  cdhash TEXT NOT NULL DEFAULT '',
  attrs_time INTEGER NOT NULL DEFAULT -1
);
INSERT INTO apps_v5 (identity, first_seen, last_seen, saturated, saturated_hosts, path, signature_class, team_id, signing_id, cdhash, attrs_time)
  SELECT identity, first_seen, last_seen, saturated, saturated_hosts, path, signature_class, team_id, signing_id, cdhash, attrs_time FROM apps ORDER BY identity;
CREATE TABLE app_hosts_v5 (
  app_id INTEGER NOT NULL,
  host_ref INTEGER NOT NULL,
  first_seen INTEGER NOT NULL,
  last_seen INTEGER NOT NULL,
  PRIMARY KEY (app_id, host_ref)
) WITHOUT ROWID;
INSERT INTO app_hosts_v5 (app_id, host_ref, first_seen, last_seen)
  SELECT a.id, h.ref, x.first_seen, x.last_seen FROM app_hosts x JOIN apps_v5 a ON a.identity = x.identity JOIN host_refs h ON h.host_id = x.host_id;
DROP TABLE app_hosts;
DROP TABLE apps;
ALTER TABLE apps_v5 RENAME TO apps;
ALTER TABLE app_hosts_v5 RENAME TO app_hosts;
