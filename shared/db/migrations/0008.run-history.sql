-- Run history (issue 19): keyset pages of an org's or a connection's runs, newest first, and of a
-- run's items by outcome, each served from an index however long the history grows.
-- depends: 0001.initial-schema
-- transactional: false

-- Built CONCURRENTLY (outside a transaction) so the recorder and gateway keep writing meanwhile;
-- each build is preceded by a drop so a retry after a failed build replaces its invalid index.
-- The keys end in (created_at, id): runs of one transaction share created_at (run ids are random
-- v4 uuids), and a backward scan serves newest first with `(created_at, id) < cursor`.
DROP INDEX CONCURRENTLY IF EXISTS runs_org_history;
CREATE INDEX CONCURRENTLY runs_org_history ON runs (org_id, created_at, id);

DROP INDEX CONCURRENTLY IF EXISTS runs_connection_history;
CREATE INDEX CONCURRENTLY runs_connection_history ON runs (connection_id, created_at, id);

-- A dashboard's usual question: this connection's failed (or partial, ...) runs.
DROP INDEX CONCURRENTLY IF EXISTS runs_connection_status_history;
CREATE INDEX CONCURRENTLY runs_connection_status_history ON runs (connection_id, status, created_at, id);

-- Retry children of a run (also what ON DELETE SET NULL of parent_run_id looks up).
DROP INDEX CONCURRENTLY IF EXISTS runs_parent_history;
CREATE INDEX CONCURRENTLY runs_parent_history ON runs (parent_run_id, created_at, id)
    WHERE parent_run_id IS NOT NULL;

-- runs_connection (connection_id, created_at DESC) is a prefix of runs_connection_history.
DROP INDEX CONCURRENTLY IF EXISTS runs_connection;

-- A run's items of one outcome, in item order (the primary key serves the unfiltered pages).
DROP INDEX CONCURRENTLY IF EXISTS run_items_outcome;
CREATE INDEX CONCURRENTLY run_items_outcome ON run_items (run_id, outcome, item_id);
