-- Invoices (orders and renewals), their lines, payments and the Stripe events
-- already applied (so a replayed webhook changes nothing).
-- Kept in step with ../postgres/0007_invoices.sql (a test compares them).

CREATE TABLE invoices (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    customer_id INTEGER NOT NULL REFERENCES users (id),
    kind TEXT NOT NULL CHECK (kind IN ('order', 'renewal')),
    status TEXT NOT NULL CHECK (status IN ('open', 'paid', 'void')),
    plan_id INTEGER NOT NULL REFERENCES plans (id),
    billing_cycle TEXT NOT NULL CHECK (billing_cycle IN ('monthly', 'quarterly', 'semiannual', 'annual')),
    -- Renewal: the license renewed. Order: the license issued when it was paid.
    license_id INTEGER REFERENCES licenses (id),
    -- Order: the hosting account created when it was paid.
    hosting_account_id INTEGER REFERENCES hosting_accounts (id),
    order_username TEXT,
    currency TEXT NOT NULL,
    total_minor BIGINT NOT NULL,
    period_start TEXT,
    period_end TEXT,
    due_at TEXT NOT NULL,
    paid_at TEXT,
    voided_at TEXT,
    checkout_session_id TEXT,
    checkout_url TEXT,
    checkout_created_at TEXT,
    reminders_sent BIGINT NOT NULL DEFAULT 0,
    last_reminder_at TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX invoices_customer_idx ON invoices (customer_id);
CREATE INDEX invoices_status_due_idx ON invoices (status, due_at);
-- One renewal invoice per license and period, however many billing runs race.
CREATE UNIQUE INDEX invoices_renewal_period_idx ON invoices (license_id, period_start) WHERE kind = 'renewal';

CREATE TABLE invoice_lines (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    invoice_id INTEGER NOT NULL REFERENCES invoices (id),
    description TEXT NOT NULL,
    quantity BIGINT NOT NULL,
    unit_amount_minor BIGINT NOT NULL,
    amount_minor BIGINT NOT NULL
);
CREATE INDEX invoice_lines_invoice_idx ON invoice_lines (invoice_id);

CREATE TABLE payments (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    invoice_id INTEGER NOT NULL REFERENCES invoices (id),
    provider TEXT NOT NULL CHECK (provider IN ('stripe', 'manual')),
    provider_ref TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('succeeded', 'failed')),
    amount_minor BIGINT NOT NULL,
    currency TEXT NOT NULL,
    message TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX payments_invoice_idx ON payments (invoice_id);
-- A provider's payment succeeds once: a second record of it is a replay.
CREATE UNIQUE INDEX payments_succeeded_ref_idx ON payments (provider, provider_ref) WHERE status = 'succeeded';

CREATE TABLE stripe_events (
    event_id TEXT PRIMARY KEY,
    event_type TEXT NOT NULL,
    outcome TEXT NOT NULL,
    received_at TEXT NOT NULL
);
