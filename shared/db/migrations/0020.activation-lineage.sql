-- A Trade Desk element cannot change parent: a topic moved in the taxonomy gets a new element under its new
-- path and the old one is deactivated. The ledger keeps the path an element was made under (a JSON array of
-- the ancestors' names; NULL: not known, rows written before this) and the elements it replaced, oldest first.
-- depends: 0019.reconcile-schedules

ALTER TABLE activations
    ADD COLUMN IF NOT EXISTS platform_path jsonb,
    ADD COLUMN IF NOT EXISTS replaced_segment_ids text[] NOT NULL DEFAULT '{}';
