-- Two-factor sign-in (TOTP, RFC 6238) with recovery codes, shop-wide security settings,
-- and sessions that say what they are (bearer tokens or the console's cookie) and
-- where they came from, so users and admins can see and end them.
-- Kept in step with ../postgres/0015_two_factor_sessions.sql (a test compares them).

CREATE TABLE user_totp (
    user_id INTEGER PRIMARY KEY REFERENCES users (id),
    -- The shared secret sealed by the vault: the server must read it back to check codes.
    secret_sealed TEXT NOT NULL,
    -- NULL while the user is setting it up and has not yet confirmed a code.
    enabled_at TEXT,
    -- The last 30-second step a code was accepted for: a code works once.
    last_used_step INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL
);

CREATE TABLE recovery_codes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL REFERENCES users (id),
    -- SHA-256 of the code; the code itself is shown once.
    code_digest TEXT NOT NULL,
    used_at TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX recovery_codes_user_idx ON recovery_codes (user_id);

-- Settings admins change at run time (not in the configuration file).
CREATE TABLE settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

ALTER TABLE sessions ADD COLUMN kind TEXT NOT NULL DEFAULT 'token';
ALTER TABLE sessions ADD COLUMN client_ip TEXT;
ALTER TABLE sessions ADD COLUMN user_agent TEXT;
ALTER TABLE sessions ADD COLUMN last_seen_at TEXT;
