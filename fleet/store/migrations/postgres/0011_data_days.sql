-- The days (floor(event time / 86400)) that hold events. Baseline maturity (SPEC §4, finalize.ts) counts from the
-- first day with data in a candidate's window, not from the first event ever ingested: a store that held a pilot's
-- logs, then nothing for weeks, has nothing in the window of the first candidates after the gap.
-- Ingest records the days of every batch; retention (maintenance.ts) drops the days before the prevalence data kept.
CREATE TABLE data_days (
  day BIGINT PRIMARY KEY
);
-- An existing store counts every day from its first event to its newest as holding data: it keeps exactly its old
-- behaviour for the data it already holds (event_clock has one row per ingest slot).
INSERT INTO data_days (day)
SELECT generate_series(floor(min(earliest) / 86400.0)::bigint, floor(max(newest) / 86400.0)::bigint)
FROM event_clock
HAVING min(earliest) <= max(newest);
