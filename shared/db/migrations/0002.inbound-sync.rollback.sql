-- Undo 0002.inbound-sync.

DROP INDEX IF EXISTS topics_source_connection_active;
DROP TABLE IF EXISTS sync_rejects;
DROP TABLE IF EXISTS sync_seen;
DROP TABLE IF EXISTS sync_state;
