-- Idempotency keys of run requests (Kafka intake, and HTTP's optional Idempotency-Key header):
-- a repeated key of an org names the run its first request created instead of starting another.
-- depends: 0001.initial-schema

ALTER TABLE runs ADD COLUMN idempotency_key text CHECK (length(idempotency_key) BETWEEN 1 AND 255);
CREATE UNIQUE INDEX runs_org_idempotency_key ON runs(org_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
