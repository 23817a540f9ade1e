-- Automatic retries of retryable failures (issue 15 item 7): a finished push run with failed items of a
-- retryable class is due for a retry child at retry_due_at (backoff from minutes), until the chain's
-- horizon (retry_horizon_at, set when its first run finished); past it the run is given up. Children
-- carry retry_attempt (the run's place in the chain) and the horizon of the run they retry.
-- depends: 0016.activations-pending-review

ALTER TABLE runs
    ADD COLUMN retry_attempt int NOT NULL DEFAULT 0,
    ADD COLUMN retry_horizon_at timestamptz,
    ADD COLUMN retry_due_at timestamptz,
    ADD COLUMN retry_given_up_at timestamptz;

CREATE INDEX runs_retry_due ON runs (retry_due_at) WHERE retry_due_at IS NOT NULL;
