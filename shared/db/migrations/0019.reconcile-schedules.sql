-- A connection may also be reconciled on a schedule: a drift report (a reconcile dry run) per slot.
-- depends: 0018.activation-reviews

ALTER TABLE connection_schedules DROP CONSTRAINT IF EXISTS connection_schedules_kind_check;
ALTER TABLE connection_schedules ADD CONSTRAINT connection_schedules_kind_check
    CHECK (kind IN ('push', 'sync', 'reconcile'));
