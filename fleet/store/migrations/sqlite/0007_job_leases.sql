-- Scheduler job locks across processes (Store.withJobLock): two `fleet serve` processes on one file, or
-- `outflow fleet ingest`/`finalize` beside a running serve, must not finalize (and deliver) at the same
-- time. A job holds a lease row while it runs and renews it; a lease past expires_at (its holder died)
-- may be taken over. Times are unix milliseconds of the holders' clock (processes on one machine).
CREATE TABLE job_leases (
  name TEXT PRIMARY KEY,
  owner TEXT NOT NULL,
  expires_at INTEGER NOT NULL
);
