-- How long after the version last judged a newer version of the row is due, when that judgement folded the flow into a
-- detection (CandidateInput.rejudgeHold: analytics.open_flow_update_interval for a flow still open, 0 for its closing
-- report). Each judgement of a firing flow is a detection update offered to every sink; an upload reported by the
-- candidates pack every minute for twelve hours made about 180 of them.
-- The fold in markFinalized reads it: the version stored then is due at the judged version's time plus its hold.
-- With it a pending row can be due after its event_time (0014's note no longer holds): finalization's walk in
-- (event_time, id) order filters such a row out until its due time.
-- Rows written before it are due at their report, as they were.
ALTER TABLE candidates ADD COLUMN rejudge_hold INTEGER NOT NULL DEFAULT 0;
