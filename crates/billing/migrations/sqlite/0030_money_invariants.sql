-- What must never break is a constraint, so a missed lock is an error and not a loss.
-- Kept in step with ../postgres/0030_money_invariants.sql.

-- 1. The credit balance per customer and currency is a row updated in place (and locked
-- by whoever decides from it) beside its ledger, and it is never negative. A ledger that
-- was already overspent (concurrent orders before this migration) gets a correcting
-- entry, so the ledger still sums to the balance and the overspending stays on record.
INSERT INTO credit_entries (customer_id, currency, amount_minor, reason, created_by, created_at)
SELECT customer_id, currency, -SUM(amount_minor),
       'correction: concurrent requests spent more credit than there was (migration 0030)',
       'system', strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now')
FROM credit_entries GROUP BY customer_id, currency HAVING SUM(amount_minor) < 0;

CREATE TABLE credit_balances (
    customer_id BIGINT NOT NULL REFERENCES users (id),
    currency TEXT NOT NULL,
    balance_minor BIGINT NOT NULL CHECK (balance_minor >= 0),
    PRIMARY KEY (customer_id, currency)
);
INSERT INTO credit_balances (customer_id, currency, balance_minor)
SELECT customer_id, currency, SUM(amount_minor) FROM credit_entries GROUP BY customer_id, currency;

-- 2. At most one payment is applied to (pays) an invoice. A payment that arrives for an
-- invoice already paid or void is recorded unapplied: money to give back.
ALTER TABLE payments ADD COLUMN applied BOOLEAN NOT NULL DEFAULT FALSE;
UPDATE payments SET applied = TRUE WHERE id IN (
    SELECT MIN(p.id) FROM payments p JOIN invoices i ON i.id = p.invoice_id
    WHERE p.status = 'succeeded' AND p.message IS NULL AND i.status = 'paid'
    GROUP BY p.invoice_id
);
CREATE UNIQUE INDEX payments_applied_idx ON payments (invoice_id) WHERE applied;

-- 3. One live order or account per hosting username. The lock rows serialise the
-- decisions about one username (an order, a payment's account, an admin's account);
-- the unique indexes make a missed lock an error.
CREATE TABLE hosting_username_locks (
    username TEXT PRIMARY KEY
);
CREATE UNIQUE INDEX hosting_accounts_live_username_idx ON hosting_accounts (username)
    WHERE state IN ('pending', 'provisioning', 'active', 'suspended');
CREATE UNIQUE INDEX invoices_open_order_username_idx ON invoices (order_username)
    WHERE kind = 'order' AND status = 'open';

-- 4. A plan change is credited once (the license lock keeps racing changes apart; this
-- makes a missed lock an error).
CREATE UNIQUE INDEX credit_entries_plan_change_idx ON credit_entries (plan_change_id)
    WHERE plan_change_id IS NOT NULL;
