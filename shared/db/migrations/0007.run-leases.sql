-- Run work under leases: a worker accepts a run's command at once (the offset moves on), then any
-- replica executes the run slice by slice under a lease that expires in seconds if its holder dies.
-- depends: 0005.activation-confirmation

ALTER TABLE runs ADD COLUMN accepted_at timestamptz;
ALTER TABLE runs ADD COLUMN lease_owner uuid;
ALTER TABLE runs ADD COLUMN lease_expires_at timestamptz;
ALTER TABLE runs ADD COLUMN last_served_at timestamptz;
ALTER TABLE runs ADD COLUMN work_cursor jsonb;
ALTER TABLE runs ADD COLUMN work_done_at timestamptz;
-- The claim query: open runs of a kind, least recently served first.
CREATE INDEX runs_open_work ON runs (kind, last_served_at NULLS FIRST, created_at)
    WHERE accepted_at IS NOT NULL AND work_done_at IS NULL AND status IN ('queued', 'running');
CREATE INDEX runs_connection_leases ON runs (connection_id, kind)
    WHERE work_done_at IS NULL AND status IN ('queued', 'running');
