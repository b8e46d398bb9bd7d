-- Plans that change mid-term, and a credit balance per customer and currency.
-- Kept in step with ../postgres/0017_plan_changes_credit.sql (a test compares them).

-- Invoices get two more kinds: `plan_change` (the prorated difference of an upgrade) and
-- `late_fee` (charged once for an invoice paid late).
-- SQLite cannot change a CHECK constraint in place: the table is rebuilt with the same
-- columns, rows and indexes, under its own name, so the other tables' foreign keys still
-- point to it (they are deferred to the commit, and hold again by then).
PRAGMA defer_foreign_keys = ON;
CREATE TABLE invoices_copy AS SELECT * FROM invoices;
DROP TABLE invoices;
CREATE TABLE invoices (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    customer_id INTEGER NOT NULL REFERENCES users (id),
    kind TEXT NOT NULL CHECK (kind IN ('order', 'renewal', 'plan_change', 'late_fee')),
    status TEXT NOT NULL CHECK (status IN ('open', 'paid', 'void')),
    plan_id INTEGER NOT NULL REFERENCES plans (id),
    billing_cycle TEXT NOT NULL CHECK (billing_cycle IN ('monthly', 'quarterly', 'semiannual', 'annual')),
    -- Renewal: the license renewed. Order: the license issued when it was paid.
    -- Plan change: the license whose plan changes.
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
    updated_at TEXT NOT NULL,
    autopay_tries BIGINT NOT NULL DEFAULT 0,
    next_charge_at TEXT,
    checkout_checked_at TEXT,
    number TEXT,
    subtotal_minor BIGINT NOT NULL DEFAULT 0,
    tax_minor BIGINT NOT NULL DEFAULT 0,
    prices_include_tax BOOLEAN NOT NULL DEFAULT FALSE,
    reverse_charge BOOLEAN NOT NULL DEFAULT FALSE,
    buyer_name TEXT,
    buyer_company TEXT,
    buyer_address TEXT,
    buyer_country TEXT,
    buyer_region TEXT,
    buyer_tax_id TEXT
);
-- Putting the rows back into the table the other tables refer to resolves, row by row,
-- the violations the DROP counted.
INSERT INTO invoices SELECT id, customer_id, kind, status, plan_id, billing_cycle, license_id,
    hosting_account_id, order_username, currency, total_minor, period_start, period_end, due_at, paid_at,
    voided_at, checkout_session_id, checkout_url, checkout_created_at, reminders_sent, last_reminder_at,
    created_at, updated_at, autopay_tries, next_charge_at, checkout_checked_at, number, subtotal_minor,
    tax_minor, prices_include_tax, reverse_charge, buyer_name, buyer_company, buyer_address, buyer_country,
    buyer_region, buyer_tax_id FROM invoices_copy ORDER BY id;
DROP TABLE invoices_copy;
CREATE INDEX invoices_customer_idx ON invoices (customer_id);
CREATE INDEX invoices_status_due_idx ON invoices (status, due_at);
CREATE UNIQUE INDEX invoices_renewal_period_idx ON invoices (license_id, period_start) WHERE kind = 'renewal';
CREATE INDEX invoices_open_checkout_idx ON invoices (checkout_created_at) WHERE status = 'open' AND checkout_session_id IS NOT NULL;
CREATE INDEX invoices_open_charge_idx ON invoices (next_charge_at) WHERE status = 'open' AND kind = 'renewal';
CREATE UNIQUE INDEX invoices_number_idx ON invoices (number);

-- A change of a license's plan: an upgrade waits for its prorated invoice to be paid; a
-- downgrade is scheduled for the end of the period, or applied at once with the unused
-- difference credited.
CREATE TABLE plan_changes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    license_id INTEGER NOT NULL REFERENCES licenses (id),
    customer_id INTEGER NOT NULL REFERENCES users (id),
    from_plan_id INTEGER NOT NULL REFERENCES plans (id),
    to_plan_id INTEGER NOT NULL REFERENCES plans (id),
    direction TEXT NOT NULL CHECK (direction IN ('upgrade', 'downgrade')),
    state TEXT NOT NULL CHECK (state IN ('awaiting_payment', 'scheduled', 'applied', 'cancelled')),
    invoice_id INTEGER REFERENCES invoices (id),
    credit_minor BIGINT NOT NULL DEFAULT 0,
    currency TEXT NOT NULL,
    effective_at TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    applied_at TEXT,
    cancelled_at TEXT
);
-- One change in flight per license, however many clicks race.
CREATE UNIQUE INDEX plan_changes_pending_idx ON plan_changes (license_id) WHERE state IN ('awaiting_payment', 'scheduled');
CREATE INDEX plan_changes_invoice_idx ON plan_changes (invoice_id);

-- Credit owed to customers: every change is a ledger entry; the balance is their sum.
CREATE TABLE credit_entries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    customer_id INTEGER NOT NULL REFERENCES users (id),
    currency TEXT NOT NULL,
    amount_minor BIGINT NOT NULL,
    reason TEXT NOT NULL,
    invoice_id INTEGER REFERENCES invoices (id),
    plan_change_id INTEGER REFERENCES plan_changes (id),
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX credit_entries_customer_idx ON credit_entries (customer_id, currency);

ALTER TABLE invoices ADD COLUMN credit_applied_minor BIGINT NOT NULL DEFAULT 0;

-- A late-fee invoice names the overdue invoice it is for; one fee per overdue invoice.
ALTER TABLE invoices ADD COLUMN late_fee_for INTEGER REFERENCES invoices (id);
CREATE UNIQUE INDEX invoices_late_fee_idx ON invoices (late_fee_for) WHERE kind = 'late_fee';
