DELETE FROM connection_schedules WHERE kind = 'reconcile';
ALTER TABLE connection_schedules DROP CONSTRAINT IF EXISTS connection_schedules_kind_check;
ALTER TABLE connection_schedules ADD CONSTRAINT connection_schedules_kind_check CHECK (kind IN ('push', 'sync'));
