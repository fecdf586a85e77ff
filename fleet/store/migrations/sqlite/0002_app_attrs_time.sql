-- Event time (last_seen of the sighting) that set an app's descriptive attributes, so the newest sighting
-- wins whatever order rows arrive in (as on PostgreSQL). -1: no attribute recorded yet.
ALTER TABLE apps ADD COLUMN attrs_time INTEGER NOT NULL DEFAULT -1;
