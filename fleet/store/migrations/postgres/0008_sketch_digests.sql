-- A digest of each day sketch's registers, kept by PostgreSQL itself: an instance that read a sketch before can
-- ask for it again by digest and be sent the registers only if they changed (pg-store.ts, SketchRowCache), instead
-- of 4 KiB (8 KiB as hex) per key and day on every finalization. Generated, so every writer keeps it right —
-- an instance not yet upgraded too — and derived from the content, so an equal digest means equal registers
-- whichever instance, transaction or restored copy of the database wrote them.
ALTER TABLE destination_sketches ADD COLUMN digest UUID GENERATED ALWAYS AS (md5(registers)::uuid) STORED;
ALTER TABLE pair_sketches ADD COLUMN digest UUID GENERATED ALWAYS AS (md5(registers)::uuid) STORED;
ALTER TABLE app_sketches ADD COLUMN digest UUID GENERATED ALWAYS AS (md5(registers)::uuid) STORED;
