DROP INDEX IF EXISTS runs_org_idempotency_key;
ALTER TABLE runs DROP COLUMN IF EXISTS idempotency_key;
