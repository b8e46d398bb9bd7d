-- Coupons: a percentage or a fixed amount off, for the order alone or for a number of
-- invoices (the order and the renewals after it), for one plan or all, with an expiry
-- and a limit on how often they are used.
-- Kept in step with ../postgres/0018_coupons.sql (a test compares them).

CREATE TABLE coupons (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    code TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL CHECK (kind IN ('percent', 'fixed')),
    percent_bp BIGINT,
    amount_minor BIGINT,
    currency TEXT,
    -- Invoices that get the discount: 1 is the order alone.
    cycles BIGINT NOT NULL CHECK (cycles >= 1),
    plan_id INTEGER REFERENCES plans (id),
    expires_at TEXT,
    max_redemptions BIGINT,
    redemptions BIGINT NOT NULL DEFAULT 0,
    is_active BOOLEAN NOT NULL DEFAULT TRUE,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE coupon_redemptions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    coupon_id INTEGER NOT NULL REFERENCES coupons (id),
    customer_id INTEGER NOT NULL REFERENCES users (id),
    -- The order it was entered with; its license carries the rest of the discount.
    invoice_id INTEGER NOT NULL UNIQUE REFERENCES invoices (id),
    -- Renewals still to discount.
    cycles_left BIGINT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX coupon_redemptions_coupon_idx ON coupon_redemptions (coupon_id);
