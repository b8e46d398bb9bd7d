-- Reconciliation reports: what differed between our accounts on a server and the
-- server's own list, and what was fixed. Kept after the server is removed (server_id
-- becomes NULL; server_name keeps the report readable).
-- Kept in step with ../postgres/0004_reconciliations.sql (a test compares them).

CREATE TABLE reconciliations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    server_id INTEGER REFERENCES servers (id) ON DELETE SET NULL,
    server_name TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('ok', 'drift', 'error')),
    orphans BIGINT NOT NULL DEFAULT 0,
    missing BIGINT NOT NULL DEFAULT 0,
    mismatches BIGINT NOT NULL DEFAULT 0,
    fixed BIGINT NOT NULL DEFAULT 0,
    report TEXT NOT NULL,
    error TEXT,
    actor TEXT NOT NULL
);
CREATE INDEX reconciliations_server_idx ON reconciliations (server_id, id);
