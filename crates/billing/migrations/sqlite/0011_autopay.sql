-- Saved cards and automatic renewal charges.
-- Kept in step with ../postgres/0011_autopay.sql (a test compares them).

-- The customer's Stripe Customer (created on their first Checkout) and whether renewals
-- are charged to the saved card by themselves (the customer may turn it off).
ALTER TABLE users ADD COLUMN stripe_customer_id TEXT;
ALTER TABLE users ADD COLUMN autopay BOOLEAN NOT NULL DEFAULT TRUE;
CREATE UNIQUE INDEX users_stripe_customer_idx ON users (stripe_customer_id);

-- The one card a customer pays renewals with: Stripe's PaymentMethod id and what a person
-- needs to recognise the card. Never the card data itself.
CREATE TABLE saved_cards (
    customer_id INTEGER PRIMARY KEY REFERENCES users (id),
    payment_method_id TEXT NOT NULL,
    brand TEXT NOT NULL,
    last4 TEXT NOT NULL,
    exp_month BIGINT NOT NULL,
    exp_year BIGINT NOT NULL,
    saved_at TEXT NOT NULL,
    -- The renewal (its due date) the "card expires before it" reminder was sent for.
    expiry_reminded_for TEXT
);

-- Where an invoice is in its automatic-charge schedule: attempts made since the card was
-- saved, and when the next may run (NULL: as soon as the invoice is due).
ALTER TABLE invoices ADD COLUMN autopay_tries BIGINT NOT NULL DEFAULT 0;
ALTER TABLE invoices ADD COLUMN next_charge_at TEXT;
-- When the public Checkout return page last asked Stripe about the invoice (throttle).
ALTER TABLE invoices ADD COLUMN checkout_checked_at TEXT;

-- Every off-session charge of an invoice. The row is written (pending) and committed
-- before Stripe is asked, under an idempotency key made of the invoice and the attempt
-- number, so a crash, a retry or a second instance repeats the same request and Stripe
-- answers it with the same PaymentIntent: never a second charge.
CREATE TABLE charge_attempts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    invoice_id INTEGER NOT NULL REFERENCES invoices (id),
    attempt BIGINT NOT NULL,
    idempotency_key TEXT NOT NULL UNIQUE,
    payment_method_id TEXT NOT NULL,
    amount_minor BIGINT NOT NULL,
    currency TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'succeeded', 'processing', 'action_required', 'declined', 'failed')),
    payment_intent_id TEXT,
    decline_code TEXT,
    message TEXT,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    UNIQUE (invoice_id, attempt)
);
-- Recovery looks for attempts left pending by a crash.
CREATE INDEX charge_attempts_unsettled_idx ON charge_attempts (started_at) WHERE state IN ('pending', 'processing');
-- The payment sweep asks Stripe about recent Checkout Sessions of open invoices.
CREATE INDEX invoices_open_checkout_idx ON invoices (checkout_created_at) WHERE status = 'open' AND checkout_session_id IS NOT NULL;
-- The billing run finds renewals to charge by due date among open invoices.
CREATE INDEX invoices_open_charge_idx ON invoices (next_charge_at) WHERE status = 'open' AND kind = 'renewal';
