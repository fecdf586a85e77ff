-- A host's name is dated by the line that carried it, not by the host's last_seen, which lines without a
-- hostname decoration also move: an older name must not win over a newer one because an unnamed line came
-- later in the same batch. Stored names keep last_seen as their time.
ALTER TABLE hosts ADD COLUMN hostname_time BIGINT NOT NULL DEFAULT 0;
UPDATE hosts SET hostname_time = last_seen WHERE hostname <> '';
