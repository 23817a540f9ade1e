-- Undo 0013.connection-schedules.
DROP TABLE IF EXISTS connection_schedules;
