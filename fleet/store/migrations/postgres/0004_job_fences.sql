-- A fencing token per scheduler job. The instance that takes a job's advisory lock bumps the token, and every
-- transaction the job runs reads it FOR SHARE and stops when it is no longer the one its holder got. A job whose
-- lock went away with its connection (network cut, server-side kill) while the job went on therefore cannot
-- commit after a new holder started: the new holder's bump waits for a transaction already past the check,
-- and every later one fails the check.
CREATE TABLE job_fences (
  job TEXT PRIMARY KEY,
  token BIGINT NOT NULL
);
