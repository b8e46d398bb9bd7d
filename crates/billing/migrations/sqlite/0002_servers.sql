-- NextPanel servers (credentials sealed by the vault) and the hosting accounts
-- they hold, from which every server's account count is derived.
-- Kept in step with ../postgres/0002_servers.sql (a test compares them).

CREATE TABLE servers (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    description TEXT,
    base_url TEXT NOT NULL,
    api_key_sealed TEXT NOT NULL,
    api_secret_sealed TEXT NOT NULL,
    api_key_hint TEXT NOT NULL,
    capacity BIGINT NOT NULL CHECK (capacity >= 1),
    location TEXT,
    server_group TEXT,
    tags TEXT NOT NULL DEFAULT '[]',
    is_active BOOLEAN NOT NULL DEFAULT TRUE,
    is_online BOOLEAN NOT NULL DEFAULT FALSE,
    consecutive_failures BIGINT NOT NULL DEFAULT 0,
    consecutive_successes BIGINT NOT NULL DEFAULT 0,
    last_checked_at TEXT,
    last_latency_ms BIGINT,
    last_error TEXT,
    version TEXT,
    extensions TEXT NOT NULL DEFAULT '[]',
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE hosting_accounts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    customer_id INTEGER NOT NULL REFERENCES users (id),
    license_id INTEGER NOT NULL REFERENCES licenses (id),
    -- Nullable: a server removed after its accounts were terminated leaves their history behind.
    server_id INTEGER REFERENCES servers (id) ON DELETE SET NULL,
    username TEXT NOT NULL,
    panel_account_id TEXT,
    account_type TEXT NOT NULL CHECK (account_type IN ('panel', 'reseller', 'master-reseller')),
    state TEXT NOT NULL CHECK (state IN ('pending', 'provisioning', 'active', 'suspended', 'terminated', 'failed')),
    failure_reason TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (server_id, username)
);
CREATE INDEX hosting_accounts_server_state_idx ON hosting_accounts (server_id, state);
CREATE INDEX hosting_accounts_customer_idx ON hosting_accounts (customer_id);
