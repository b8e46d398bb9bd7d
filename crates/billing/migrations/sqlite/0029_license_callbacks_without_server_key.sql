-- Remembered callback answers no longer reference servers by a foreign key.
-- Kept in step with ../postgres/0029_license_callbacks_without_server_key.sql, which
-- says why. SQLite cannot drop a constraint: the table is made again without it.
CREATE TABLE license_callbacks_new (
    server_id INTEGER NOT NULL,
    request_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    outcome TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (server_id, request_id)
);
INSERT INTO license_callbacks_new (server_id, request_id, kind, outcome, created_at)
    SELECT server_id, request_id, kind, outcome, created_at FROM license_callbacks;
DROP TABLE license_callbacks;
ALTER TABLE license_callbacks_new RENAME TO license_callbacks;
CREATE INDEX license_callbacks_created_at ON license_callbacks (created_at);
