-- The durable job queue and what provisioning needs on hosting accounts.
-- Kept in step with ../postgres/0003_provisioning.sql (a test compares them).

CREATE TABLE jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    idempotency_key TEXT NOT NULL UNIQUE,
    state TEXT NOT NULL CHECK (state IN ('queued', 'running', 'done', 'failed', 'dead')),
    attempts BIGINT NOT NULL DEFAULT 0,
    max_attempts BIGINT NOT NULL,
    run_at TEXT NOT NULL,
    locked_until TEXT,
    locked_by TEXT,
    last_error TEXT,
    hosting_account_id BIGINT,
    result TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    finished_at TEXT
);
CREATE INDEX jobs_ready_idx ON jobs (state, run_at);
CREATE INDEX jobs_account_idx ON jobs (hosting_account_id);

ALTER TABLE hosting_accounts ADD COLUMN email TEXT;
ALTER TABLE hosting_accounts ADD COLUMN package_id BIGINT;
ALTER TABLE hosting_accounts ADD COLUMN pinned_server BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE hosting_accounts ADD COLUMN tried_servers TEXT NOT NULL DEFAULT '[]';
ALTER TABLE hosting_accounts ADD COLUMN idempotency_key TEXT;
ALTER TABLE hosting_accounts ADD COLUMN suspend_reason TEXT;
CREATE UNIQUE INDEX hosting_accounts_idempotency_idx ON hosting_accounts (idempotency_key);
CREATE INDEX hosting_accounts_license_idx ON hosting_accounts (license_id);
