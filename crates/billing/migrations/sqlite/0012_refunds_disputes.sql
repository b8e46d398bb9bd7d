-- Refunds with their credit notes, and card disputes.
-- Kept in step with ../postgres/0012_refunds_disputes.sql (a test compares them).

-- Gapless numbering of documents per kind and year: the counter moves in the same
-- transaction as the document that takes the number, so a rollback leaves no hole.
CREATE TABLE document_sequences (
    kind TEXT NOT NULL,
    year BIGINT NOT NULL,
    last_value BIGINT NOT NULL,
    PRIMARY KEY (kind, year)
);

-- Money given back. Written (pending) before Stripe is asked, with the idempotency key
-- Stripe gets, so a retry can never refund twice; Stripe's refund id is recorded once.
CREATE TABLE refunds (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    payment_id INTEGER NOT NULL REFERENCES payments (id),
    invoice_id INTEGER NOT NULL REFERENCES invoices (id),
    amount_minor BIGINT NOT NULL CHECK (amount_minor > 0),
    currency TEXT NOT NULL,
    reason TEXT NOT NULL,
    provider TEXT NOT NULL CHECK (provider IN ('stripe', 'manual')),
    provider_ref TEXT,
    idempotency_key TEXT NOT NULL UNIQUE,
    state TEXT NOT NULL CHECK (state IN ('pending', 'succeeded', 'failed')),
    message TEXT,
    service_action TEXT NOT NULL CHECK (service_action IN ('none', 'suspend', 'terminate')),
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    finished_at TEXT
);
CREATE INDEX refunds_payment_idx ON refunds (payment_id);
CREATE UNIQUE INDEX refunds_provider_ref_idx ON refunds (provider, provider_ref) WHERE provider_ref IS NOT NULL;
CREATE INDEX refunds_pending_idx ON refunds (created_at) WHERE state = 'pending';

-- The document a refund gives the customer, numbered CN-{year}-{seq}.
CREATE TABLE credit_notes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    number TEXT NOT NULL UNIQUE,
    customer_id INTEGER NOT NULL REFERENCES users (id),
    invoice_id INTEGER NOT NULL REFERENCES invoices (id),
    refund_id INTEGER NOT NULL UNIQUE REFERENCES refunds (id),
    amount_minor BIGINT NOT NULL,
    currency TEXT NOT NULL,
    reason TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX credit_notes_customer_idx ON credit_notes (customer_id);

-- Card disputes (chargebacks) as Stripe reports them, once per Stripe dispute.
CREATE TABLE disputes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    stripe_dispute_id TEXT NOT NULL UNIQUE,
    payment_id INTEGER NOT NULL REFERENCES payments (id),
    invoice_id INTEGER NOT NULL REFERENCES invoices (id),
    customer_id INTEGER NOT NULL REFERENCES users (id),
    amount_minor BIGINT NOT NULL,
    currency TEXT NOT NULL,
    reason TEXT NOT NULL,
    status TEXT NOT NULL,
    opened_at TEXT NOT NULL,
    closed_at TEXT
);
CREATE INDEX disputes_customer_idx ON disputes (customer_id);
CREATE INDEX disputes_invoice_idx ON disputes (invoice_id);
