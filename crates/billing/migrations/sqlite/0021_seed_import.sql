-- Moving over from the older billing system (`nextpanel-bill import seed`): which of its
-- rows became which of ours, so a second run changes nothing and a stopped run resumes,
-- and its invoices and payments kept as read-only history under their old numbers.
-- Kept in step with ../postgres/0021_seed_import.sql (a test compares them).

CREATE TABLE import_map (
    -- The system imported from (`seed`), the kind of row, and its id there.
    source TEXT NOT NULL,
    entity TEXT NOT NULL,
    source_id TEXT NOT NULL,
    target_id BIGINT NOT NULL,
    imported_at TEXT NOT NULL,
    PRIMARY KEY (source, entity, source_id)
);

CREATE TABLE imported_invoices (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    customer_id INTEGER NOT NULL REFERENCES users (id),
    -- The old system's number, kept as it was (our own numbers never take this shape's place).
    number TEXT NOT NULL,
    status TEXT NOT NULL,
    currency TEXT NOT NULL,
    subtotal_minor BIGINT NOT NULL,
    tax_minor BIGINT NOT NULL,
    total_minor BIGINT NOT NULL,
    paid_minor BIGINT NOT NULL,
    due_minor BIGINT NOT NULL,
    issued_at TEXT,
    due_at TEXT,
    paid_at TEXT,
    -- The old line items as JSON text, as they were.
    items TEXT NOT NULL,
    notes TEXT,
    imported_at TEXT NOT NULL
);
CREATE INDEX imported_invoices_customer_idx ON imported_invoices (customer_id);

CREATE TABLE imported_payments (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    customer_id INTEGER NOT NULL REFERENCES users (id),
    amount_minor BIGINT NOT NULL,
    currency TEXT NOT NULL,
    status TEXT NOT NULL,
    method TEXT,
    -- The gateway's id of the payment (a Stripe PaymentIntent, or another gateway's).
    reference TEXT,
    description TEXT,
    failure_reason TEXT,
    created_at TEXT,
    processed_at TEXT,
    imported_at TEXT NOT NULL
);
CREATE INDEX imported_payments_customer_idx ON imported_payments (customer_id);
