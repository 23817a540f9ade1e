-- Schedules (issue 18 item 7): per connection at most one push and one sync schedule, every N minutes or
-- a cron expression in a time zone. Any gateway replica's scheduler claims the due ones (SKIP LOCKED,
-- then a short claim) and starts the slot's run with an idempotency key of (schedule, slot), so a slot
-- has one run however many replicas there are.
-- depends: 0013.key-scopes

CREATE TABLE connection_schedules (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    org_id         uuid NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    connection_id  uuid NOT NULL REFERENCES platform_connections(id) ON DELETE CASCADE,
    kind           text NOT NULL CHECK (kind IN ('push', 'sync')),
    every_minutes  integer CHECK (every_minutes >= 1),
    cron           text CHECK (length(cron) BETWEEN 1 AND 200),
    time_zone      text NOT NULL DEFAULT 'UTC',
    enabled        boolean NOT NULL DEFAULT true,
    -- The slot the scheduler starts next; slots missed while no replica ran collapse into this one.
    next_run_at    timestamptz NOT NULL,
    claimed_until  timestamptz,
    last_slot_at   timestamptz,
    last_run_id    uuid REFERENCES runs(id) ON DELETE SET NULL,
    -- Why the last slot started nothing (a disabled connection, the previous run still going), or NULL.
    last_error     text,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (connection_id, kind),
    CHECK ((every_minutes IS NULL) <> (cron IS NULL))
);
CREATE INDEX connection_schedules_due ON connection_schedules (next_run_at) WHERE enabled;
CREATE INDEX connection_schedules_last_run ON connection_schedules (last_run_id);
