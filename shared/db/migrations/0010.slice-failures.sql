-- A run whose slices keep failing (a bug, a poison config) is failed with the error after
-- RUN_MAX_SLICE_FAILURES slices in a row, instead of being retried a lease later forever.
-- depends: 0007.run-leases

ALTER TABLE runs ADD COLUMN slice_failures integer NOT NULL DEFAULT 0;
