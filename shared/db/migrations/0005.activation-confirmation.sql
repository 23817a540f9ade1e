-- Platforms that finish writes later (TTD data-rate batches) leave an activation `pending`;
-- the confirmation's outcome and message are kept with it.
-- depends: 0001.initial-schema

ALTER TABLE activations ADD COLUMN state_message text;
