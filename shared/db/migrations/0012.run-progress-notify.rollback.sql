DROP TRIGGER IF EXISTS runs_progress_notify ON runs;
DROP FUNCTION IF EXISTS notify_run_progress();
