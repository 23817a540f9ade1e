-- Retention (issue 16): what the pruner in the gateway looks up, oldest first, a small batch at a time.
-- depends: 0008.run-history
-- transactional: false

-- Built CONCURRENTLY so the relay, the recorder and the workers keep writing meanwhile; each build is
-- preceded by a drop so a retry after a failed build replaces its invalid index.

-- Dispatched outbox rows by when they reached Kafka (the pending rows keep outbox_pending).
DROP INDEX CONCURRENTLY IF EXISTS outbox_dispatched;
CREATE INDEX CONCURRENTLY outbox_dispatched ON outbox (dispatched_at) WHERE dispatched_at IS NOT NULL;

-- Finished runs by when they finished: only runs in a final status are ever candidates.
DROP INDEX CONCURRENTLY IF EXISTS runs_finished;
CREATE INDEX CONCURRENTLY runs_finished ON runs (finished_at)
    WHERE status IN ('cancelled', 'failed', 'incomplete', 'partial', 'succeeded');

-- Rejected records by age: their raw payloads may be kept shorter than the run they belong to.
DROP INDEX CONCURRENTLY IF EXISTS sync_rejects_at;
CREATE INDEX CONCURRENTLY sync_rejects_at ON sync_rejects (at);
