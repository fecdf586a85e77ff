-- The days (floor(event time / 86400)) that hold events. Baseline maturity (SPEC §4, finalize.ts) counts from the
-- first day with data in a candidate's window, not from the first event ever ingested: a store that held a pilot's
-- logs, then nothing for weeks, has nothing in the window of the first candidates after the gap.
-- Ingest records the days of every batch; retention (maintenance.ts) drops the days before the prevalence data kept.
CREATE TABLE data_days (
  day INTEGER PRIMARY KEY
);
-- An existing store counts every day from its first event to its newest as holding data: it keeps exactly its old
-- behaviour for the data it already holds.
INSERT INTO data_days (day)
WITH RECURSIVE d (day, last) AS (
  SELECT CAST(earliest AS INTEGER) / 86400, CAST(newest AS INTEGER) / 86400 FROM event_clock WHERE id = 1 AND earliest <= newest
  UNION ALL
  SELECT day + 1, last FROM d WHERE day < last
)
SELECT day FROM d;
