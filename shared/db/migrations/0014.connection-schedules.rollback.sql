-- Undo 0014.connection-schedules.
DROP TABLE IF EXISTS connection_schedules;
