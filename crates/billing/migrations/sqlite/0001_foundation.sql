-- Foundation schema: users (admins, staff, customers), sessions, API keys,
-- login throttling, plans, licenses and the audit log.
-- Kept in step with ../postgres/0001_foundation.sql (a test compares them).

CREATE TABLE users (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    email TEXT NOT NULL UNIQUE,
    password_hash TEXT,
    role TEXT NOT NULL CHECK (role IN ('admin', 'staff', 'customer')),
    full_name TEXT NOT NULL,
    company_name TEXT,
    phone TEXT,
    is_active BOOLEAN NOT NULL DEFAULT TRUE,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX users_role_idx ON users (role);

CREATE TABLE sessions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL REFERENCES users (id),
    access_hash TEXT NOT NULL UNIQUE,
    refresh_hash TEXT NOT NULL UNIQUE,
    access_expires_at TEXT NOT NULL,
    refresh_expires_at TEXT NOT NULL,
    revoked_at TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX sessions_user_idx ON sessions (user_id);

CREATE TABLE api_keys (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL REFERENCES users (id),
    name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('admin', 'staff')),
    key_prefix TEXT NOT NULL,
    key_hash TEXT NOT NULL UNIQUE,
    revoked_at TEXT,
    created_at TEXT NOT NULL
);

CREATE TABLE login_attempts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    email TEXT NOT NULL,
    client_ip TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX login_attempts_email_idx ON login_attempts (email, created_at);
CREATE INDEX login_attempts_ip_idx ON login_attempts (client_ip, created_at);

CREATE TABLE plans (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL,
    currency TEXT NOT NULL,
    price_monthly BIGINT,
    price_quarterly BIGINT,
    price_semiannual BIGINT,
    price_annual BIGINT,
    setup_fee BIGINT NOT NULL DEFAULT 0,
    max_accounts BIGINT NOT NULL,
    max_domains BIGINT NOT NULL,
    max_databases BIGINT NOT NULL,
    max_emails BIGINT NOT NULL,
    storage_mb BIGINT NOT NULL,
    bandwidth_mb BIGINT NOT NULL,
    account_type TEXT NOT NULL CHECK (account_type IN ('panel', 'reseller', 'master-reseller')),
    package_id BIGINT,
    server_group TEXT,
    location TEXT,
    is_active BOOLEAN NOT NULL DEFAULT TRUE,
    sort_order BIGINT NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE licenses (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    license_key TEXT NOT NULL UNIQUE,
    customer_id INTEGER NOT NULL REFERENCES users (id),
    plan_id INTEGER NOT NULL REFERENCES plans (id),
    billing_cycle TEXT NOT NULL CHECK (billing_cycle IN ('monthly', 'quarterly', 'semiannual', 'annual')),
    status TEXT NOT NULL CHECK (status IN ('active', 'suspended', 'expired', 'cancelled')),
    max_accounts BIGINT NOT NULL,
    max_domains BIGINT NOT NULL,
    max_databases BIGINT NOT NULL,
    max_emails BIGINT NOT NULL,
    storage_mb BIGINT NOT NULL,
    bandwidth_mb BIGINT NOT NULL,
    activated_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    cancelled_at TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX licenses_customer_idx ON licenses (customer_id);

CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    actor_kind TEXT NOT NULL,
    actor_id BIGINT,
    actor_label TEXT NOT NULL,
    action TEXT NOT NULL,
    entity_type TEXT NOT NULL,
    entity_id BIGINT,
    before_state TEXT,
    after_state TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX audit_log_entity_idx ON audit_log (entity_type, entity_id);
