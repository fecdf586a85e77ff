-- A digest of each day sketch's registers, kept by PostgreSQL itself: an instance that read a sketch before can
-- ask for it again by digest and be sent the registers only if they changed (pg-store.ts, SketchRowCache), instead
-- of 4 KiB (8 KiB as hex) per key and day on every finalization.
--
-- A plain nullable column, no default: adding it changes the catalog only, where a STORED generated column (or a
-- default computed per row) rewrites the whole table under ACCESS EXCLUSIVE — ~36 µs a row, every instance's reads
-- blocked meanwhile, and past fleet.postgres.statement_timeout_ms from ~1.7 M rows on, rolled back and tried again
-- at every start. Rows written before this migration keep a NULL digest until ingest or the rollup rewrites them;
-- a read always sends their registers and no instance keeps them.
--
-- A row trigger sets the digest on every INSERT and UPDATE, so every writer keeps it right — an instance not yet
-- upgraded, which does not know the column, too — and whatever a writer puts in the column is replaced. It is
-- derived from the content, so an equal digest means equal registers whichever instance, transaction or restored
-- copy of the database wrote them. SHA-256, not md5: from PostgreSQL 14 on, md5() goes through OpenSSL, which
-- refuses MD5 on a server in FIPS mode, and every sketch write would fail there. Its first 16 bytes as a uuid: the
-- same 16 bytes per row and 36 characters per digest on the wire as before (a read sends back every digest it
-- holds), and 128 bits are far more than telling a key's few dozen days apart needs.
--
-- sha256() and EXECUTE FUNCTION need PostgreSQL 11.
ALTER TABLE destination_sketches ADD COLUMN digest UUID;
ALTER TABLE pair_sketches ADD COLUMN digest UUID;
ALTER TABLE app_sketches ADD COLUMN digest UUID;

CREATE FUNCTION outflow_sketch_digest() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.digest := encode(substring(sha256(NEW.registers) FROM 1 FOR 16), 'hex')::uuid;
  RETURN NEW;
END
$$;

CREATE TRIGGER sketch_digest BEFORE INSERT OR UPDATE ON destination_sketches FOR EACH ROW EXECUTE FUNCTION outflow_sketch_digest();
CREATE TRIGGER sketch_digest BEFORE INSERT OR UPDATE ON pair_sketches FOR EACH ROW EXECUTE FUNCTION outflow_sketch_digest();
CREATE TRIGGER sketch_digest BEFORE INSERT OR UPDATE ON app_sketches FOR EACH ROW EXECUTE FUNCTION outflow_sketch_digest();
