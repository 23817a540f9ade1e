-- Undo 0016.activations-pending-review.
-- transactional: false

DROP INDEX CONCURRENTLY IF EXISTS activations_pending_review;
DROP TRIGGER IF EXISTS activations_pending_since ON activations;
DROP FUNCTION IF EXISTS activations_pending_since();
ALTER TABLE activations DROP COLUMN IF EXISTS pending_since;
