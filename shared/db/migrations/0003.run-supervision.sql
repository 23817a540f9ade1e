-- Stuck-run supervision: workers heartbeat the runs they drive; a run whose heartbeat stops is
-- redelivered a bounded number of times, then failed with the reason.
-- depends: 0001.initial-schema

ALTER TABLE runs ADD COLUMN heartbeat_at timestamptz;
ALTER TABLE runs ADD COLUMN redeliveries integer NOT NULL DEFAULT 0;
CREATE INDEX runs_running_heartbeat ON runs(heartbeat_at) WHERE status = 'running';
