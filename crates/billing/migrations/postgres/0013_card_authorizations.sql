-- Orders paid by card authorization and captured once the hosting account is active
-- (capture = "after_provisioning"), or released when it cannot be created.
-- Kept in step with ../sqlite/0013_card_authorizations.sql (a test compares them).

CREATE TABLE payment_authorizations (
    invoice_id BIGINT PRIMARY KEY REFERENCES invoices (id),
    payment_intent_id TEXT NOT NULL UNIQUE,
    amount_minor BIGINT NOT NULL,
    currency TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('authorized', 'captured', 'released', 'failed')),
    message TEXT,
    created_at TIMESTAMPTZ NOT NULL,
    finished_at TIMESTAMPTZ
);
