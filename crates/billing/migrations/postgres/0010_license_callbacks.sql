-- Version 2 of the license callbacks (replay-proof) and O(1) caller look-up.
-- Kept in step with ../sqlite/0010_license_callbacks.sql (a test compares them).

-- hex(HMAC-SHA256(key derived from the master key, api_key)): finds the calling server
-- with one indexed read instead of opening every sealed key. NULL until start-up fills it
-- in for servers registered before this migration (the database alone cannot compute it).
ALTER TABLE servers ADD COLUMN api_key_lookup TEXT;
CREATE INDEX servers_api_key_lookup ON servers (api_key_lookup);

-- Each (server, request_id) a callback used, with the answer it got, so a repeat gets the
-- same answer and applies nothing. Trimmed by housekeeping well after the 300 s window.
CREATE TABLE license_callbacks (
    server_id BIGINT NOT NULL REFERENCES servers (id) ON DELETE CASCADE,
    request_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    outcome TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (server_id, request_id)
);
CREATE INDEX license_callbacks_created_at ON license_callbacks (created_at);
