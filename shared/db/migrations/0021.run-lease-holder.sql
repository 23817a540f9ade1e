-- Which worker instance holds a run's lease (WORKER_INSTANCE_ID, e.g. the pod's name): an instance that
-- starts again after a crash gives its predecessor's leases back at once instead of waiting out their TTL.
-- depends: 0020.activation-lineage

ALTER TABLE runs ADD COLUMN IF NOT EXISTS lease_holder text;
