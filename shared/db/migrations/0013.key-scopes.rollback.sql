-- Undo 0013.key-scopes.
ALTER TABLE api_keys DROP COLUMN IF EXISTS scope;
