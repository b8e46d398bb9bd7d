-- Prices per currency: a plan may be sold in more currencies than its own, each with its
-- prices per cycle and setup fee; a customer is billed in one currency, fixed by the
-- first order (or by an admin).
-- Kept in step with ../postgres/0019_plan_currencies.sql (a test compares them).

CREATE TABLE plan_currency_prices (
    plan_id INTEGER NOT NULL REFERENCES plans (id),
    currency TEXT NOT NULL,
    price_monthly BIGINT,
    price_quarterly BIGINT,
    price_semiannual BIGINT,
    price_annual BIGINT,
    setup_fee BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (plan_id, currency)
);

ALTER TABLE users ADD COLUMN billing_currency TEXT;
