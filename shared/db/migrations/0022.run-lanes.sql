-- Lanes of a run: a big auto push run's topics are split into id ranges, each leased on its own, so
-- several replicas push one run at once (shared/runs/lanes.py). Lane 0 is the run's own row (its lease
-- columns on runs); lanes 1.. are rows here. runs.lanes is decided once, at the run's first slice.
-- depends: 0021.run-lease-holder

ALTER TABLE runs ADD COLUMN IF NOT EXISTS lanes integer CHECK (lanes >= 1);
-- Lane 0 finished its range while other lanes still run: not claimable until they are done.
ALTER TABLE runs ADD COLUMN IF NOT EXISTS lanes_waiting boolean NOT NULL DEFAULT false;
-- Why lane 0's work failed (the platform refused the credentials), kept until the run is closed.
ALTER TABLE runs ADD COLUMN IF NOT EXISTS work_failed_reason text;

CREATE TABLE IF NOT EXISTS run_lanes (
    run_id uuid NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    lane integer NOT NULL CHECK (lane >= 1),
    created_at timestamptz NOT NULL DEFAULT now(),
    lease_owner uuid,
    lease_expires_at timestamptz,
    lease_holder text,
    work_cursor jsonb,
    last_served_at timestamptz,
    slice_failures integer NOT NULL DEFAULT 0,
    work_done_at timestamptz,
    failed_reason text,
    PRIMARY KEY (run_id, lane)
);

CREATE INDEX IF NOT EXISTS run_lanes_open ON run_lanes (last_served_at NULLS FIRST) WHERE work_done_at IS NULL;
CREATE INDEX IF NOT EXISTS run_lanes_holder ON run_lanes (lease_holder) WHERE lease_holder IS NOT NULL;
