DROP INDEX IF EXISTS runs_retry_due;
ALTER TABLE runs
    DROP COLUMN IF EXISTS retry_attempt,
    DROP COLUMN IF EXISTS retry_horizon_at,
    DROP COLUMN IF EXISTS retry_due_at,
    DROP COLUMN IF EXISTS retry_given_up_at;
