-- Activator's domain (DESIGN.md "Domain"). Every row belongs to exactly one org.
-- depends:

CREATE EXTENSION IF NOT EXISTS pgcrypto;

CREATE TABLE orgs (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- Keys are stored as sha256 hex digests; the prefix helps a human tell keys apart.
CREATE TABLE api_keys (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    org_id      uuid NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    key_hash    text NOT NULL UNIQUE,
    key_prefix  text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz
);
CREATE INDEX api_keys_org ON api_keys(org_id);

CREATE TABLE platform_connections (
    id                    uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    org_id                uuid NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    name                  text NOT NULL,
    platform              text NOT NULL CHECK (platform IN ('custom_api', 'indexexchange', 'liveramp', 'tradedesk')),
    direction             text NOT NULL CHECK (direction IN ('inbound', 'outbound', 'bidirectional')),
    auth_type             text NOT NULL CHECK (auth_type IN ('oauth2', 'bearer', 'api_key', 'header', 'none')),
    -- Kept for compatibility with the seed; credentials live only in auth_credentials_enc.
    auth_credentials      jsonb NOT NULL DEFAULT '{}' CHECK (auth_credentials = '{}'::jsonb),
    auth_credentials_enc  bytea,
    config                jsonb NOT NULL DEFAULT '{}',
    enabled               boolean NOT NULL DEFAULT true,
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX platform_connections_org ON platform_connections(org_id);

CREATE TABLE topics (
    id                     uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    org_id                 uuid NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    name                   text NOT NULL CHECK (length(name) BETWEEN 1 AND 500),
    parent_category        text,
    path                   text[] NOT NULL DEFAULT '{}',
    description            text NOT NULL DEFAULT '',
    external_id            text,
    source_connection_id   uuid REFERENCES platform_connections(id) ON DELETE SET NULL,
    cpm                    numeric(12, 4) CHECK (cpm IS NULL OR cpm >= 0),
    attributes             jsonb NOT NULL DEFAULT '{}',
    tradedesk_name         text,
    tradedesk_description  text,
    liveramp_name          text,
    liveramp_description   text,
    platform_outputs       jsonb NOT NULL DEFAULT '{}',
    status                 text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'deleted')),
    created_at             timestamptz NOT NULL DEFAULT now(),
    updated_at             timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX topics_org_external_id ON topics(org_id, external_id) WHERE external_id IS NOT NULL;
CREATE INDEX topics_org_id ON topics(org_id, id);

CREATE TABLE output_templates (
    org_id                uuid NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    key                   text NOT NULL CHECK (key ~ '^[a-z0-9_][a-z0-9_-]{0,62}$'),
    path_fields           text[] NOT NULL DEFAULT '{}',
    separator             text NOT NULL DEFAULT ' > ',
    name_template         text,
    description_template  text NOT NULL DEFAULT '{{description}}',
    active                boolean NOT NULL DEFAULT true,
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, key)
);

-- The ledger topic x connection -> platform segment; makes pushes idempotent and resumable.
CREATE TABLE activations (
    connection_id        uuid NOT NULL REFERENCES platform_connections(id) ON DELETE CASCADE,
    topic_id             uuid NOT NULL REFERENCES topics(id) ON DELETE CASCADE,
    org_id               uuid NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    platform_segment_id  text,
    content_hash         text,
    state                text NOT NULL CHECK (state IN ('active', 'inactive', 'pending', 'failed')),
    last_run_id          uuid,
    last_outcome         text,
    last_pushed_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (connection_id, topic_id)
);

CREATE TABLE runs (
    id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    org_id             uuid NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    connection_id      uuid NOT NULL REFERENCES platform_connections(id) ON DELETE CASCADE,
    kind               text NOT NULL CHECK (kind IN ('push', 'sync')),
    status             text NOT NULL DEFAULT 'queued'
                       CHECK (status IN ('queued', 'running', 'succeeded', 'partial', 'failed', 'cancelled', 'incomplete')),
    mode               text NOT NULL DEFAULT 'auto' CHECK (mode IN ('auto', 'step')),
    dry_run            boolean NOT NULL DEFAULT false,
    request            jsonb NOT NULL DEFAULT '{}',
    parent_run_id      uuid REFERENCES runs(id) ON DELETE SET NULL,
    total              integer NOT NULL DEFAULT 0,
    processed          integer NOT NULL DEFAULT 0,
    succeeded          integer NOT NULL DEFAULT 0,
    failed             integer NOT NULL DEFAULT 0,
    skipped            integer NOT NULL DEFAULT 0,
    inserted           integer NOT NULL DEFAULT 0,
    updated            integer NOT NULL DEFAULT 0,
    unchanged          integer NOT NULL DEFAULT 0,
    invalid            integer NOT NULL DEFAULT 0,
    pages              integer NOT NULL DEFAULT 0,
    error_count        integer NOT NULL DEFAULT 0,
    errors_stored      integer NOT NULL DEFAULT 0,
    cancel_requested   boolean NOT NULL DEFAULT false,
    status_reason      text,
    throttled_until    timestamptz,
    checkpoint         jsonb,
    created_at         timestamptz NOT NULL DEFAULT now(),
    started_at         timestamptz,
    finished_at        timestamptz,
    updated_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX runs_connection ON runs(connection_id, created_at DESC);

-- One terminal result per item per run; the natural key makes redelivered events harmless.
CREATE TABLE run_items (
    run_id               uuid NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    item_id              text NOT NULL,
    outcome              text NOT NULL,
    -- Dry runs record the plan: what would be done and under which name.
    planned_action       text,
    segment_name         text,
    platform_segment_id  text,
    error_code           text,
    error_message        text,
    attempt              integer NOT NULL DEFAULT 1,
    event_id             uuid NOT NULL,
    at                   timestamptz NOT NULL,
    PRIMARY KEY (run_id, item_id)
);

CREATE TABLE run_errors (
    id       bigserial PRIMARY KEY,
    run_id   uuid NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    item_id  text,
    code     text NOT NULL,
    message  text NOT NULL,
    attempt  integer NOT NULL DEFAULT 1,
    at       timestamptz NOT NULL
);
CREATE INDEX run_errors_run ON run_errors(run_id, id);

-- Transactional outbox: written with the run, published by the relay, marked dispatched.
CREATE TABLE outbox (
    id             bigserial PRIMARY KEY,
    topic          text NOT NULL,
    key            text NOT NULL,
    payload        jsonb NOT NULL,
    headers        jsonb NOT NULL DEFAULT '{}',
    created_at     timestamptz NOT NULL DEFAULT now(),
    dispatched_at  timestamptz
);
CREATE INDEX outbox_pending ON outbox(id) WHERE dispatched_at IS NULL;
