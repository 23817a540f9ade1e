-- Whoever waits for a run to move (the guide's step loop in the gateway) is told at commit by whichever
-- writer moved it (the status-recorder's batch, the sync-worker's page, a run failed), instead of polling.
-- One channel, the run id as payload: a gateway LISTENs once and wakes its waiters of that run. Cursor
-- saves and lease renewals change none of these columns, so they notify nobody.
-- depends: 0011.console-sessions

CREATE FUNCTION notify_run_progress() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('activator_run_progress', NEW.id::text);
    RETURN NULL;
END
$$;

CREATE TRIGGER runs_progress_notify AFTER UPDATE ON runs FOR EACH ROW
    WHEN (OLD.processed IS DISTINCT FROM NEW.processed OR OLD.pages IS DISTINCT FROM NEW.pages
          OR OLD.status IS DISTINCT FROM NEW.status OR OLD.started_at IS DISTINCT FROM NEW.started_at)
    EXECUTE FUNCTION notify_run_progress();
