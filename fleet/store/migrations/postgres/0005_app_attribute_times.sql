-- Each app attribute is dated by the row that carried its value. With one attrs_time per app, an older row
-- could fill an empty attribute and then hold it against a newer row that arrived later, so the result
-- depended on arrival order. Stored values take attrs_time as their time (-1 where empty); attrs_time stays
-- the newest of them.
ALTER TABLE apps ADD COLUMN path_time BIGINT NOT NULL DEFAULT -1;
ALTER TABLE apps ADD COLUMN signature_class_time BIGINT NOT NULL DEFAULT -1;
ALTER TABLE apps ADD COLUMN team_id_time BIGINT NOT NULL DEFAULT -1;
ALTER TABLE apps ADD COLUMN signing_id_time BIGINT NOT NULL DEFAULT -1;
ALTER TABLE apps ADD COLUMN cdhash_time BIGINT NOT NULL DEFAULT -1;
UPDATE apps SET
  path_time = CASE WHEN path <> '' THEN attrs_time ELSE -1 END,
  signature_class_time = CASE WHEN signature_class <> '' THEN attrs_time ELSE -1 END,
  team_id_time = CASE WHEN team_id <> '' THEN attrs_time ELSE -1 END,
  signing_id_time = CASE WHEN signing_id <> '' THEN attrs_time ELSE -1 END,
  cdhash_time = CASE WHEN cdhash <> '' THEN attrs_time ELSE -1 END
WHERE attrs_time >= 0;
