-- How long a platform has had an activation under review (state 'pending'): a push of a pending
-- activation writes it again (and its last_pushed_at), so the time since it became pending is kept in
-- pending_since, set by the trigger for every writer. The gateway's pending-review gauges read it on
-- every scrape from the small partial index, not from the ledger, which is never pruned.
-- depends: 0015.run-trace-context
-- transactional: false

-- Each statement may be retried after a failure part-way (no transaction): all are idempotent.
ALTER TABLE activations ADD COLUMN IF NOT EXISTS pending_since timestamptz;

CREATE OR REPLACE FUNCTION activations_pending_since() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.state <> 'pending' THEN
        NEW.pending_since := NULL;
    ELSIF TG_OP = 'UPDATE' AND OLD.state = 'pending' THEN
        NEW.pending_since := coalesce(OLD.pending_since, NEW.pending_since, now());
    ELSE
        NEW.pending_since := coalesce(NEW.pending_since, now());
    END IF;
    RETURN NEW;
END
$$;

-- Only rows that are or were pending call the function: the common write (active, never pending) does not.
DROP TRIGGER IF EXISTS activations_pending_since ON activations;
CREATE TRIGGER activations_pending_since BEFORE INSERT OR UPDATE OF state ON activations FOR EACH ROW
    WHEN (NEW.state = 'pending' OR NEW.pending_since IS NOT NULL)
    EXECUTE FUNCTION activations_pending_since();

-- Activations already pending: since their last push, the best figure there is.
UPDATE activations SET pending_since = last_pushed_at WHERE state = 'pending' AND pending_since IS NULL;

-- Built CONCURRENTLY so pushes keep writing the ledger meanwhile; the drop first lets a retry after a
-- failed build replace its invalid index.
DROP INDEX CONCURRENTLY IF EXISTS activations_pending_review;
CREATE INDEX CONCURRENTLY activations_pending_review ON activations (pending_since) WHERE state = 'pending';
