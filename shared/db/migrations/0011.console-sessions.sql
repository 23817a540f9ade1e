-- Console sign-in (issue 18): a browser session per exchanged API key, its token stored as a digest only.
-- depends: 0009.retention

-- A row, not a signed token: sign-out deletes it at once, and revoking the key that opened it
-- (api_keys.revoked_at) ends it on the next request; a signed token would stay valid until expiry.
CREATE TABLE console_sessions (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    org_id      uuid NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    api_key_id  uuid NOT NULL REFERENCES api_keys(id) ON DELETE CASCADE,
    token_hash  text NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL
);
CREATE INDEX console_sessions_expires ON console_sessions (expires_at);
CREATE INDEX console_sessions_api_key ON console_sessions (api_key_id);
