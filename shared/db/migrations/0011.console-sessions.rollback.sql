-- Undo 0011.console-sessions.
DROP TABLE IF EXISTS console_sessions;
