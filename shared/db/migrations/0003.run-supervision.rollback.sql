DROP INDEX IF EXISTS runs_running_heartbeat;
ALTER TABLE runs DROP COLUMN IF EXISTS redeliveries;
ALTER TABLE runs DROP COLUMN IF EXISTS heartbeat_at;
