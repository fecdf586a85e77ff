-- How long after the version last judged a newer version of the row is due, when that judgement folded the flow into a
-- detection (CandidateInput.rejudgeHold: analytics.open_flow_update_interval for a flow still open, 0 for its closing
-- report). Each judgement of a firing flow is a detection update offered to every sink; an upload reported by the
-- candidates pack every minute for twelve hours made about 180 of them.
-- The fold in markFinalized reads it: the version stored then is due at the judged version's time plus its hold.
--
-- A plain nullable column, no default: adding it changes the catalog only (no table rewrite). Rows written before (or
-- inserted by an instance not yet upgraded) have none, and are due at their report (coalesce in pg-store.ts); a row such
-- an instance replaces keeps the hold it had, which the fold disregards for a closing report (ROW_HOLD in pg-store.ts).
ALTER TABLE candidates ADD COLUMN rejudge_hold BIGINT;
