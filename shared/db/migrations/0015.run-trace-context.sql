-- The trace a run's command arrived in: slices worked later, on any replica, continue it.
-- depends: 0014.connection-schedules

ALTER TABLE runs ADD COLUMN trace_context jsonb;
