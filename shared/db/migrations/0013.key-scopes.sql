-- Scoped API keys (issue 18 item 8): `admin` may do everything, `read` every GET and the run event
-- stream but no change. Keys made before scopes existed keep doing everything: they are `admin`.
-- depends: 0012.run-progress-notify

ALTER TABLE api_keys ADD COLUMN scope text NOT NULL DEFAULT 'admin' CHECK (scope IN ('admin', 'read'));
