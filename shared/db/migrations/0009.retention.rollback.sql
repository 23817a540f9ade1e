-- Undo 0009.retention.
-- transactional: false

DROP INDEX CONCURRENTLY IF EXISTS sync_rejects_at;
DROP INDEX CONCURRENTLY IF EXISTS runs_finished;
DROP INDEX CONCURRENTLY IF EXISTS outbox_dispatched;
