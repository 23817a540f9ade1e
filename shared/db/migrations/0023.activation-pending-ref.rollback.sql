ALTER TABLE activations DROP COLUMN IF EXISTS pending_ref;
