-- Undo 0008.run-history.
-- transactional: false

CREATE INDEX CONCURRENTLY IF NOT EXISTS runs_connection ON runs (connection_id, created_at DESC);
DROP INDEX CONCURRENTLY IF EXISTS run_items_outcome;
DROP INDEX CONCURRENTLY IF EXISTS runs_parent_history;
DROP INDEX CONCURRENTLY IF EXISTS runs_connection_status_history;
DROP INDEX CONCURRENTLY IF EXISTS runs_connection_history;
DROP INDEX CONCURRENTLY IF EXISTS runs_org_history;
