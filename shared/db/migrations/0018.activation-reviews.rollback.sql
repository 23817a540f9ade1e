DROP INDEX IF EXISTS activations_pending_by_run;
ALTER TABLE activations
    DROP COLUMN IF EXISTS review_checks,
    DROP COLUMN IF EXISTS next_review_at;
