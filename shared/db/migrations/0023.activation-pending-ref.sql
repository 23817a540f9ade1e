-- The platform's reference of an activation's write that it finishes later (The Trade Desk's data-rate
-- BatchId: TTD reports a rate's processing and approval by BatchId only), written with the ledger row by
-- the push's batch write, so any worker replica confirms or reviews any write. NULL: none needed or known
-- (a pending Trade Desk row written before this column is not asked about; the next push prices it again).
-- depends: 0022.run-lanes

ALTER TABLE activations ADD COLUMN IF NOT EXISTS pending_ref text;
