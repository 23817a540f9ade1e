ALTER TABLE activations DROP COLUMN IF EXISTS state_message;
