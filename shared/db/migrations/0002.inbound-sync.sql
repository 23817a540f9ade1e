-- Inbound sync (issue 6): high-water marks per connection, the source ids each run has seen, rejected records.
-- depends: 0001.initial-schema

-- The incremental_field mark of a connection, advanced only by a run that completed.
CREATE TABLE sync_state (
    connection_id    uuid PRIMARY KEY REFERENCES platform_connections(id) ON DELETE CASCADE,
    org_id           uuid NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    high_water_mark  text,
    last_run_id      uuid REFERENCES runs(id) ON DELETE SET NULL,
    updated_at       timestamptz NOT NULL DEFAULT now()
);

-- Distinct source ids of a running sync: completeness, duplicates across pages and soft deletes
-- survive a crash with it. Emptied when the run closes.
CREATE TABLE sync_seen (
    run_id     uuid NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    source_id  text NOT NULL,
    PRIMARY KEY (run_id, source_id)
);

-- Records that could not become topics, kept as received (JSON text: sources may send U+0000,
-- which jsonb refuses), with their page, position and the reason.
CREATE TABLE sync_rejects (
    id         bigserial PRIMARY KEY,
    run_id     uuid NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    page       integer NOT NULL,
    position   integer NOT NULL,
    source_id  text,
    reason     text NOT NULL,
    payload    text NOT NULL,
    at         timestamptz NOT NULL DEFAULT now(),
    UNIQUE (run_id, page, position)
);

-- Soft deletes look for a connection's active topics that a full sync did not see.
CREATE INDEX topics_source_connection_active ON topics(source_connection_id, external_id) WHERE status = 'active';
