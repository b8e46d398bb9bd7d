-- The dashboard's MRR, services and revenue reports, kept cheap at a million licenses.
-- Kept in step with ../postgres/0024_report_figures.sql (a test compares them).
--
-- Both reports used to read every license once per month shown (MRR: a join of every
-- license with its plan, customer and prices, 12 times; services: 24 COUNTs): seconds at a
-- million licenses. No index makes "live at an instant" cheap, because a license is live
-- over an interval [activated_at, min(expires_at, cancelled_at)). So each license is kept
-- here as changes by month, and a month's figure is a sum over a few thousand rows:
--   live_change: +1 in the month whose boundary first counts its activation (the first
--     month start at or after activated_at), -1 in the one whose boundary first sees it
--     ended (at or after max(activated_at, min(expires_at, cancelled_at)));
--     the licenses live at a month start M are the sum of live_change over months <= M;
--   activated / cancelled: licenses whose activated_at / cancelled_at fall in the month.
-- Keyed by plan, cycle and the customer's billing currency ('' when unset), not by price,
-- so the reports keep pricing at read time with the plans' current prices.
--
-- The rows are written by triggers in the same transaction as every change to a license
-- (or to a customer's billing currency), whichever code or SQL makes it, so the figures
-- are exact and every server process on the database sees the same ones. A month is the
-- UTC calendar month, labelled 'YYYY-MM' as the reports label it.
CREATE TABLE license_month_figures (
    plan_id BIGINT NOT NULL,
    billing_cycle TEXT NOT NULL,
    billing_currency TEXT NOT NULL,
    month TEXT NOT NULL,
    live_change BIGINT NOT NULL DEFAULT 0,
    activated BIGINT NOT NULL DEFAULT 0,
    cancelled BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (plan_id, billing_cycle, billing_currency, month)
);

-- The MRR report's figure for the current month is at "now", not at a month boundary: it
-- adds to the sum at the month's start the licenses that started or ended since, found
-- through these three (a few percent of the licenses, where a full scan would read all).
CREATE INDEX licenses_activated_idx ON licenses (activated_at);
CREATE INDEX licenses_expires_idx ON licenses (expires_at);
CREATE INDEX licenses_cancelled_idx ON licenses (cancelled_at);

-- The month bounds below compare timestamps as text, as every query on SQLite does (sqlx
-- writes them as RFC 3339, '2026-12-01T00:00:00+00:00'), so the figures agree with
-- comparing each license against the month's start. SQLite triggers run once per row.
CREATE TRIGGER license_month_figures_insert AFTER INSERT ON licenses
BEGIN
    INSERT INTO license_month_figures
        (plan_id, billing_cycle, billing_currency, month, live_change, activated, cancelled)
    SELECT p, y, b, m, SUM(l), SUM(a), SUM(c) FROM (
        SELECT NEW.plan_id AS p, NEW.billing_cycle AS y, COALESCE((SELECT billing_currency FROM users WHERE id = NEW.customer_id), '') AS b, (CASE WHEN NEW.activated_at <= substr(NEW.activated_at, 1, 7) || '-01T00:00:00+00:00' THEN substr(NEW.activated_at, 1, 7) ELSE strftime('%Y-%m', substr(NEW.activated_at, 1, 7) || '-01', '+1 month') END) AS m, 1 AS l, 0 AS a, 0 AS c
        UNION ALL SELECT NEW.plan_id, NEW.billing_cycle, COALESCE((SELECT billing_currency FROM users WHERE id = NEW.customer_id), ''), max((CASE WHEN NEW.activated_at <= substr(NEW.activated_at, 1, 7) || '-01T00:00:00+00:00' THEN substr(NEW.activated_at, 1, 7) ELSE strftime('%Y-%m', substr(NEW.activated_at, 1, 7) || '-01', '+1 month') END), min((CASE WHEN NEW.expires_at <= substr(NEW.expires_at, 1, 7) || '-01T00:00:00+00:00' THEN substr(NEW.expires_at, 1, 7) ELSE strftime('%Y-%m', substr(NEW.expires_at, 1, 7) || '-01', '+1 month') END), (CASE WHEN COALESCE(NEW.cancelled_at, NEW.expires_at) <= substr(COALESCE(NEW.cancelled_at, NEW.expires_at), 1, 7) || '-01T00:00:00+00:00' THEN substr(COALESCE(NEW.cancelled_at, NEW.expires_at), 1, 7) ELSE strftime('%Y-%m', substr(COALESCE(NEW.cancelled_at, NEW.expires_at), 1, 7) || '-01', '+1 month') END))), -1, 0, 0
        UNION ALL SELECT NEW.plan_id, NEW.billing_cycle, COALESCE((SELECT billing_currency FROM users WHERE id = NEW.customer_id), ''), (CASE WHEN NEW.activated_at < substr(NEW.activated_at, 1, 7) || '-01T00:00:00+00:00' THEN strftime('%Y-%m', substr(NEW.activated_at, 1, 7) || '-01', '-1 month') ELSE substr(NEW.activated_at, 1, 7) END), 0, 1, 0
        UNION ALL SELECT NEW.plan_id, NEW.billing_cycle, COALESCE((SELECT billing_currency FROM users WHERE id = NEW.customer_id), ''), (CASE WHEN NEW.cancelled_at < substr(NEW.cancelled_at, 1, 7) || '-01T00:00:00+00:00' THEN strftime('%Y-%m', substr(NEW.cancelled_at, 1, 7) || '-01', '-1 month') ELSE substr(NEW.cancelled_at, 1, 7) END), 0, 0, 1
    ) AS d
    WHERE m IS NOT NULL
    GROUP BY p, y, b, m
    HAVING SUM(l) <> 0 OR SUM(a) <> 0 OR SUM(c) <> 0
    ON CONFLICT (plan_id, billing_cycle, billing_currency, month) DO UPDATE SET
        live_change = live_change + excluded.live_change,
        activated = activated + excluded.activated,
        cancelled = cancelled + excluded.cancelled;
END;

CREATE TRIGGER license_month_figures_delete AFTER DELETE ON licenses
BEGIN
    INSERT INTO license_month_figures
        (plan_id, billing_cycle, billing_currency, month, live_change, activated, cancelled)
    SELECT p, y, b, m, SUM(l), SUM(a), SUM(c) FROM (
        SELECT OLD.plan_id AS p, OLD.billing_cycle AS y, COALESCE((SELECT billing_currency FROM users WHERE id = OLD.customer_id), '') AS b, (CASE WHEN OLD.activated_at <= substr(OLD.activated_at, 1, 7) || '-01T00:00:00+00:00' THEN substr(OLD.activated_at, 1, 7) ELSE strftime('%Y-%m', substr(OLD.activated_at, 1, 7) || '-01', '+1 month') END) AS m, -1 AS l, 0 AS a, 0 AS c
        UNION ALL SELECT OLD.plan_id, OLD.billing_cycle, COALESCE((SELECT billing_currency FROM users WHERE id = OLD.customer_id), ''), max((CASE WHEN OLD.activated_at <= substr(OLD.activated_at, 1, 7) || '-01T00:00:00+00:00' THEN substr(OLD.activated_at, 1, 7) ELSE strftime('%Y-%m', substr(OLD.activated_at, 1, 7) || '-01', '+1 month') END), min((CASE WHEN OLD.expires_at <= substr(OLD.expires_at, 1, 7) || '-01T00:00:00+00:00' THEN substr(OLD.expires_at, 1, 7) ELSE strftime('%Y-%m', substr(OLD.expires_at, 1, 7) || '-01', '+1 month') END), (CASE WHEN COALESCE(OLD.cancelled_at, OLD.expires_at) <= substr(COALESCE(OLD.cancelled_at, OLD.expires_at), 1, 7) || '-01T00:00:00+00:00' THEN substr(COALESCE(OLD.cancelled_at, OLD.expires_at), 1, 7) ELSE strftime('%Y-%m', substr(COALESCE(OLD.cancelled_at, OLD.expires_at), 1, 7) || '-01', '+1 month') END))), 1, 0, 0
        UNION ALL SELECT OLD.plan_id, OLD.billing_cycle, COALESCE((SELECT billing_currency FROM users WHERE id = OLD.customer_id), ''), (CASE WHEN OLD.activated_at < substr(OLD.activated_at, 1, 7) || '-01T00:00:00+00:00' THEN strftime('%Y-%m', substr(OLD.activated_at, 1, 7) || '-01', '-1 month') ELSE substr(OLD.activated_at, 1, 7) END), 0, -1, 0
        UNION ALL SELECT OLD.plan_id, OLD.billing_cycle, COALESCE((SELECT billing_currency FROM users WHERE id = OLD.customer_id), ''), (CASE WHEN OLD.cancelled_at < substr(OLD.cancelled_at, 1, 7) || '-01T00:00:00+00:00' THEN strftime('%Y-%m', substr(OLD.cancelled_at, 1, 7) || '-01', '-1 month') ELSE substr(OLD.cancelled_at, 1, 7) END), 0, 0, -1
    ) AS d
    WHERE m IS NOT NULL
    GROUP BY p, y, b, m
    HAVING SUM(l) <> 0 OR SUM(a) <> 0 OR SUM(c) <> 0
    ON CONFLICT (plan_id, billing_cycle, billing_currency, month) DO UPDATE SET
        live_change = live_change + excluded.live_change,
        activated = activated + excluded.activated,
        cancelled = cancelled + excluded.cancelled;
END;

-- Most license updates (status, usage, renewal flags) touch none of these columns.
CREATE TRIGGER license_month_figures_update
AFTER UPDATE OF customer_id, plan_id, billing_cycle, activated_at, expires_at, cancelled_at ON licenses
WHEN OLD.customer_id IS NOT NEW.customer_id OR OLD.plan_id IS NOT NEW.plan_id
    OR OLD.billing_cycle IS NOT NEW.billing_cycle OR OLD.activated_at IS NOT NEW.activated_at
    OR OLD.expires_at IS NOT NEW.expires_at OR OLD.cancelled_at IS NOT NEW.cancelled_at
BEGIN
    INSERT INTO license_month_figures
        (plan_id, billing_cycle, billing_currency, month, live_change, activated, cancelled)
    SELECT p, y, b, m, SUM(l), SUM(a), SUM(c) FROM (
        SELECT OLD.plan_id AS p, OLD.billing_cycle AS y, COALESCE((SELECT billing_currency FROM users WHERE id = OLD.customer_id), '') AS b, (CASE WHEN OLD.activated_at <= substr(OLD.activated_at, 1, 7) || '-01T00:00:00+00:00' THEN substr(OLD.activated_at, 1, 7) ELSE strftime('%Y-%m', substr(OLD.activated_at, 1, 7) || '-01', '+1 month') END) AS m, -1 AS l, 0 AS a, 0 AS c
        UNION ALL SELECT OLD.plan_id, OLD.billing_cycle, COALESCE((SELECT billing_currency FROM users WHERE id = OLD.customer_id), ''), max((CASE WHEN OLD.activated_at <= substr(OLD.activated_at, 1, 7) || '-01T00:00:00+00:00' THEN substr(OLD.activated_at, 1, 7) ELSE strftime('%Y-%m', substr(OLD.activated_at, 1, 7) || '-01', '+1 month') END), min((CASE WHEN OLD.expires_at <= substr(OLD.expires_at, 1, 7) || '-01T00:00:00+00:00' THEN substr(OLD.expires_at, 1, 7) ELSE strftime('%Y-%m', substr(OLD.expires_at, 1, 7) || '-01', '+1 month') END), (CASE WHEN COALESCE(OLD.cancelled_at, OLD.expires_at) <= substr(COALESCE(OLD.cancelled_at, OLD.expires_at), 1, 7) || '-01T00:00:00+00:00' THEN substr(COALESCE(OLD.cancelled_at, OLD.expires_at), 1, 7) ELSE strftime('%Y-%m', substr(COALESCE(OLD.cancelled_at, OLD.expires_at), 1, 7) || '-01', '+1 month') END))), 1, 0, 0
        UNION ALL SELECT OLD.plan_id, OLD.billing_cycle, COALESCE((SELECT billing_currency FROM users WHERE id = OLD.customer_id), ''), (CASE WHEN OLD.activated_at < substr(OLD.activated_at, 1, 7) || '-01T00:00:00+00:00' THEN strftime('%Y-%m', substr(OLD.activated_at, 1, 7) || '-01', '-1 month') ELSE substr(OLD.activated_at, 1, 7) END), 0, -1, 0
        UNION ALL SELECT OLD.plan_id, OLD.billing_cycle, COALESCE((SELECT billing_currency FROM users WHERE id = OLD.customer_id), ''), (CASE WHEN OLD.cancelled_at < substr(OLD.cancelled_at, 1, 7) || '-01T00:00:00+00:00' THEN strftime('%Y-%m', substr(OLD.cancelled_at, 1, 7) || '-01', '-1 month') ELSE substr(OLD.cancelled_at, 1, 7) END), 0, 0, -1
        UNION ALL SELECT NEW.plan_id, NEW.billing_cycle, COALESCE((SELECT billing_currency FROM users WHERE id = NEW.customer_id), ''), (CASE WHEN NEW.activated_at <= substr(NEW.activated_at, 1, 7) || '-01T00:00:00+00:00' THEN substr(NEW.activated_at, 1, 7) ELSE strftime('%Y-%m', substr(NEW.activated_at, 1, 7) || '-01', '+1 month') END), 1, 0, 0
        UNION ALL SELECT NEW.plan_id, NEW.billing_cycle, COALESCE((SELECT billing_currency FROM users WHERE id = NEW.customer_id), ''), max((CASE WHEN NEW.activated_at <= substr(NEW.activated_at, 1, 7) || '-01T00:00:00+00:00' THEN substr(NEW.activated_at, 1, 7) ELSE strftime('%Y-%m', substr(NEW.activated_at, 1, 7) || '-01', '+1 month') END), min((CASE WHEN NEW.expires_at <= substr(NEW.expires_at, 1, 7) || '-01T00:00:00+00:00' THEN substr(NEW.expires_at, 1, 7) ELSE strftime('%Y-%m', substr(NEW.expires_at, 1, 7) || '-01', '+1 month') END), (CASE WHEN COALESCE(NEW.cancelled_at, NEW.expires_at) <= substr(COALESCE(NEW.cancelled_at, NEW.expires_at), 1, 7) || '-01T00:00:00+00:00' THEN substr(COALESCE(NEW.cancelled_at, NEW.expires_at), 1, 7) ELSE strftime('%Y-%m', substr(COALESCE(NEW.cancelled_at, NEW.expires_at), 1, 7) || '-01', '+1 month') END))), -1, 0, 0
        UNION ALL SELECT NEW.plan_id, NEW.billing_cycle, COALESCE((SELECT billing_currency FROM users WHERE id = NEW.customer_id), ''), (CASE WHEN NEW.activated_at < substr(NEW.activated_at, 1, 7) || '-01T00:00:00+00:00' THEN strftime('%Y-%m', substr(NEW.activated_at, 1, 7) || '-01', '-1 month') ELSE substr(NEW.activated_at, 1, 7) END), 0, 1, 0
        UNION ALL SELECT NEW.plan_id, NEW.billing_cycle, COALESCE((SELECT billing_currency FROM users WHERE id = NEW.customer_id), ''), (CASE WHEN NEW.cancelled_at < substr(NEW.cancelled_at, 1, 7) || '-01T00:00:00+00:00' THEN strftime('%Y-%m', substr(NEW.cancelled_at, 1, 7) || '-01', '-1 month') ELSE substr(NEW.cancelled_at, 1, 7) END), 0, 0, 1
    ) AS d
    WHERE m IS NOT NULL
    GROUP BY p, y, b, m
    HAVING SUM(l) <> 0 OR SUM(a) <> 0 OR SUM(c) <> 0
    ON CONFLICT (plan_id, billing_cycle, billing_currency, month) DO UPDATE SET
        live_change = live_change + excluded.live_change,
        activated = activated + excluded.activated,
        cancelled = cancelled + excluded.cancelled;
END;

-- A customer's billing currency moves all their licenses to the new currency's rows.
CREATE TRIGGER license_month_figures_currency AFTER UPDATE OF billing_currency ON users
WHEN OLD.billing_currency IS NOT NEW.billing_currency
BEGIN
    INSERT INTO license_month_figures
        (plan_id, billing_cycle, billing_currency, month, live_change, activated, cancelled)
    SELECT p, y, b, m, SUM(l), SUM(a), SUM(c) FROM (
        SELECT l.plan_id AS p, l.billing_cycle AS y, COALESCE(OLD.billing_currency, '') AS b, (CASE WHEN l.activated_at <= substr(l.activated_at, 1, 7) || '-01T00:00:00+00:00' THEN substr(l.activated_at, 1, 7) ELSE strftime('%Y-%m', substr(l.activated_at, 1, 7) || '-01', '+1 month') END) AS m, -1 AS l, 0 AS a, 0 AS c FROM licenses l WHERE l.customer_id = NEW.id
        UNION ALL SELECT l.plan_id, l.billing_cycle, COALESCE(OLD.billing_currency, ''), max((CASE WHEN l.activated_at <= substr(l.activated_at, 1, 7) || '-01T00:00:00+00:00' THEN substr(l.activated_at, 1, 7) ELSE strftime('%Y-%m', substr(l.activated_at, 1, 7) || '-01', '+1 month') END), min((CASE WHEN l.expires_at <= substr(l.expires_at, 1, 7) || '-01T00:00:00+00:00' THEN substr(l.expires_at, 1, 7) ELSE strftime('%Y-%m', substr(l.expires_at, 1, 7) || '-01', '+1 month') END), (CASE WHEN COALESCE(l.cancelled_at, l.expires_at) <= substr(COALESCE(l.cancelled_at, l.expires_at), 1, 7) || '-01T00:00:00+00:00' THEN substr(COALESCE(l.cancelled_at, l.expires_at), 1, 7) ELSE strftime('%Y-%m', substr(COALESCE(l.cancelled_at, l.expires_at), 1, 7) || '-01', '+1 month') END))), 1, 0, 0 FROM licenses l WHERE l.customer_id = NEW.id
        UNION ALL SELECT l.plan_id, l.billing_cycle, COALESCE(OLD.billing_currency, ''), (CASE WHEN l.activated_at < substr(l.activated_at, 1, 7) || '-01T00:00:00+00:00' THEN strftime('%Y-%m', substr(l.activated_at, 1, 7) || '-01', '-1 month') ELSE substr(l.activated_at, 1, 7) END), 0, -1, 0 FROM licenses l WHERE l.customer_id = NEW.id
        UNION ALL SELECT l.plan_id, l.billing_cycle, COALESCE(OLD.billing_currency, ''), (CASE WHEN l.cancelled_at < substr(l.cancelled_at, 1, 7) || '-01T00:00:00+00:00' THEN strftime('%Y-%m', substr(l.cancelled_at, 1, 7) || '-01', '-1 month') ELSE substr(l.cancelled_at, 1, 7) END), 0, 0, -1 FROM licenses l WHERE l.customer_id = NEW.id
        UNION ALL SELECT l.plan_id, l.billing_cycle, COALESCE(NEW.billing_currency, ''), (CASE WHEN l.activated_at <= substr(l.activated_at, 1, 7) || '-01T00:00:00+00:00' THEN substr(l.activated_at, 1, 7) ELSE strftime('%Y-%m', substr(l.activated_at, 1, 7) || '-01', '+1 month') END), 1, 0, 0 FROM licenses l WHERE l.customer_id = NEW.id
        UNION ALL SELECT l.plan_id, l.billing_cycle, COALESCE(NEW.billing_currency, ''), max((CASE WHEN l.activated_at <= substr(l.activated_at, 1, 7) || '-01T00:00:00+00:00' THEN substr(l.activated_at, 1, 7) ELSE strftime('%Y-%m', substr(l.activated_at, 1, 7) || '-01', '+1 month') END), min((CASE WHEN l.expires_at <= substr(l.expires_at, 1, 7) || '-01T00:00:00+00:00' THEN substr(l.expires_at, 1, 7) ELSE strftime('%Y-%m', substr(l.expires_at, 1, 7) || '-01', '+1 month') END), (CASE WHEN COALESCE(l.cancelled_at, l.expires_at) <= substr(COALESCE(l.cancelled_at, l.expires_at), 1, 7) || '-01T00:00:00+00:00' THEN substr(COALESCE(l.cancelled_at, l.expires_at), 1, 7) ELSE strftime('%Y-%m', substr(COALESCE(l.cancelled_at, l.expires_at), 1, 7) || '-01', '+1 month') END))), -1, 0, 0 FROM licenses l WHERE l.customer_id = NEW.id
        UNION ALL SELECT l.plan_id, l.billing_cycle, COALESCE(NEW.billing_currency, ''), (CASE WHEN l.activated_at < substr(l.activated_at, 1, 7) || '-01T00:00:00+00:00' THEN strftime('%Y-%m', substr(l.activated_at, 1, 7) || '-01', '-1 month') ELSE substr(l.activated_at, 1, 7) END), 0, 1, 0 FROM licenses l WHERE l.customer_id = NEW.id
        UNION ALL SELECT l.plan_id, l.billing_cycle, COALESCE(NEW.billing_currency, ''), (CASE WHEN l.cancelled_at < substr(l.cancelled_at, 1, 7) || '-01T00:00:00+00:00' THEN strftime('%Y-%m', substr(l.cancelled_at, 1, 7) || '-01', '-1 month') ELSE substr(l.cancelled_at, 1, 7) END), 0, 0, 1 FROM licenses l WHERE l.customer_id = NEW.id
    ) AS d
    WHERE m IS NOT NULL
    GROUP BY p, y, b, m
    HAVING SUM(l) <> 0 OR SUM(a) <> 0 OR SUM(c) <> 0
    ON CONFLICT (plan_id, billing_cycle, billing_currency, month) DO UPDATE SET
        live_change = live_change + excluded.live_change,
        activated = activated + excluded.activated,
        cancelled = cancelled + excluded.cancelled;
END;

-- Licenses that existed before this migration.
INSERT INTO license_month_figures
    (plan_id, billing_cycle, billing_currency, month, live_change, activated, cancelled)
SELECT p, y, b, m, SUM(l), SUM(a), SUM(c) FROM (
    SELECT l.plan_id AS p, l.billing_cycle AS y, COALESCE((SELECT billing_currency FROM users WHERE id = l.customer_id), '') AS b, (CASE WHEN l.activated_at <= substr(l.activated_at, 1, 7) || '-01T00:00:00+00:00' THEN substr(l.activated_at, 1, 7) ELSE strftime('%Y-%m', substr(l.activated_at, 1, 7) || '-01', '+1 month') END) AS m, 1 AS l, 0 AS a, 0 AS c FROM licenses l
    UNION ALL SELECT l.plan_id, l.billing_cycle, COALESCE((SELECT billing_currency FROM users WHERE id = l.customer_id), ''), max((CASE WHEN l.activated_at <= substr(l.activated_at, 1, 7) || '-01T00:00:00+00:00' THEN substr(l.activated_at, 1, 7) ELSE strftime('%Y-%m', substr(l.activated_at, 1, 7) || '-01', '+1 month') END), min((CASE WHEN l.expires_at <= substr(l.expires_at, 1, 7) || '-01T00:00:00+00:00' THEN substr(l.expires_at, 1, 7) ELSE strftime('%Y-%m', substr(l.expires_at, 1, 7) || '-01', '+1 month') END), (CASE WHEN COALESCE(l.cancelled_at, l.expires_at) <= substr(COALESCE(l.cancelled_at, l.expires_at), 1, 7) || '-01T00:00:00+00:00' THEN substr(COALESCE(l.cancelled_at, l.expires_at), 1, 7) ELSE strftime('%Y-%m', substr(COALESCE(l.cancelled_at, l.expires_at), 1, 7) || '-01', '+1 month') END))), -1, 0, 0 FROM licenses l
    UNION ALL SELECT l.plan_id, l.billing_cycle, COALESCE((SELECT billing_currency FROM users WHERE id = l.customer_id), ''), (CASE WHEN l.activated_at < substr(l.activated_at, 1, 7) || '-01T00:00:00+00:00' THEN strftime('%Y-%m', substr(l.activated_at, 1, 7) || '-01', '-1 month') ELSE substr(l.activated_at, 1, 7) END), 0, 1, 0 FROM licenses l
    UNION ALL SELECT l.plan_id, l.billing_cycle, COALESCE((SELECT billing_currency FROM users WHERE id = l.customer_id), ''), (CASE WHEN l.cancelled_at < substr(l.cancelled_at, 1, 7) || '-01T00:00:00+00:00' THEN strftime('%Y-%m', substr(l.cancelled_at, 1, 7) || '-01', '-1 month') ELSE substr(l.cancelled_at, 1, 7) END), 0, 0, 1 FROM licenses l
) AS d
WHERE m IS NOT NULL
GROUP BY p, y, b, m
HAVING SUM(l) <> 0 OR SUM(a) <> 0 OR SUM(c) <> 0
ON CONFLICT (plan_id, billing_cycle, billing_currency, month) DO UPDATE SET
    live_change = live_change + excluded.live_change,
    activated = activated + excluded.activated,
    cancelled = cancelled + excluded.cancelled;

-- The revenue report: payments received and refunds completed per month and currency,
-- with how many of each (a currency shows in a month when it had any), likewise kept by
-- triggers in the transaction of each change; it used to read every payment and refund
-- twice per month shown.
CREATE TABLE revenue_month_figures (
    currency TEXT NOT NULL,
    month TEXT NOT NULL,
    received BIGINT NOT NULL DEFAULT 0,
    payments BIGINT NOT NULL DEFAULT 0,
    refunded BIGINT NOT NULL DEFAULT 0,
    refunds BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (currency, month)
);

-- A payment counts when it succeeded, in the month it was made.
CREATE TRIGGER revenue_month_figures_payment_insert AFTER INSERT ON payments
WHEN NEW.status = 'succeeded'
BEGIN
    INSERT INTO revenue_month_figures (currency, month, received, payments, refunded, refunds)
    SELECT NEW.currency, (CASE WHEN NEW.created_at < substr(NEW.created_at, 1, 7) || '-01T00:00:00+00:00' THEN strftime('%Y-%m', substr(NEW.created_at, 1, 7) || '-01', '-1 month') ELSE substr(NEW.created_at, 1, 7) END), NEW.amount_minor, 1, 0, 0 WHERE true
    ON CONFLICT (currency, month) DO UPDATE SET
        received = received + excluded.received, payments = payments + excluded.payments,
        refunded = refunded + excluded.refunded, refunds = refunds + excluded.refunds;
END;
CREATE TRIGGER revenue_month_figures_payment_delete AFTER DELETE ON payments
WHEN OLD.status = 'succeeded'
BEGIN
    INSERT INTO revenue_month_figures (currency, month, received, payments, refunded, refunds)
    SELECT OLD.currency, (CASE WHEN OLD.created_at < substr(OLD.created_at, 1, 7) || '-01T00:00:00+00:00' THEN strftime('%Y-%m', substr(OLD.created_at, 1, 7) || '-01', '-1 month') ELSE substr(OLD.created_at, 1, 7) END), -OLD.amount_minor, -1, 0, 0 WHERE true
    ON CONFLICT (currency, month) DO UPDATE SET
        received = received + excluded.received, payments = payments + excluded.payments,
        refunded = refunded + excluded.refunded, refunds = refunds + excluded.refunds;
END;
CREATE TRIGGER revenue_month_figures_payment_update_old
AFTER UPDATE OF status, amount_minor, currency, created_at ON payments
WHEN OLD.status = 'succeeded'
BEGIN
    INSERT INTO revenue_month_figures (currency, month, received, payments, refunded, refunds)
    SELECT OLD.currency, (CASE WHEN OLD.created_at < substr(OLD.created_at, 1, 7) || '-01T00:00:00+00:00' THEN strftime('%Y-%m', substr(OLD.created_at, 1, 7) || '-01', '-1 month') ELSE substr(OLD.created_at, 1, 7) END), -OLD.amount_minor, -1, 0, 0 WHERE true
    ON CONFLICT (currency, month) DO UPDATE SET
        received = received + excluded.received, payments = payments + excluded.payments,
        refunded = refunded + excluded.refunded, refunds = refunds + excluded.refunds;
END;
CREATE TRIGGER revenue_month_figures_payment_update_new
AFTER UPDATE OF status, amount_minor, currency, created_at ON payments
WHEN NEW.status = 'succeeded'
BEGIN
    INSERT INTO revenue_month_figures (currency, month, received, payments, refunded, refunds)
    SELECT NEW.currency, (CASE WHEN NEW.created_at < substr(NEW.created_at, 1, 7) || '-01T00:00:00+00:00' THEN strftime('%Y-%m', substr(NEW.created_at, 1, 7) || '-01', '-1 month') ELSE substr(NEW.created_at, 1, 7) END), NEW.amount_minor, 1, 0, 0 WHERE true
    ON CONFLICT (currency, month) DO UPDATE SET
        received = received + excluded.received, payments = payments + excluded.payments,
        refunded = refunded + excluded.refunded, refunds = refunds + excluded.refunds;
END;

-- A refund counts when it succeeded, in the month it finished.
CREATE TRIGGER revenue_month_figures_refund_insert AFTER INSERT ON refunds
WHEN NEW.state = 'succeeded' AND NEW.finished_at IS NOT NULL
BEGIN
    INSERT INTO revenue_month_figures (currency, month, received, payments, refunded, refunds)
    SELECT NEW.currency, (CASE WHEN NEW.finished_at < substr(NEW.finished_at, 1, 7) || '-01T00:00:00+00:00' THEN strftime('%Y-%m', substr(NEW.finished_at, 1, 7) || '-01', '-1 month') ELSE substr(NEW.finished_at, 1, 7) END), 0, 0, NEW.amount_minor, 1 WHERE true
    ON CONFLICT (currency, month) DO UPDATE SET
        received = received + excluded.received, payments = payments + excluded.payments,
        refunded = refunded + excluded.refunded, refunds = refunds + excluded.refunds;
END;
CREATE TRIGGER revenue_month_figures_refund_delete AFTER DELETE ON refunds
WHEN OLD.state = 'succeeded' AND OLD.finished_at IS NOT NULL
BEGIN
    INSERT INTO revenue_month_figures (currency, month, received, payments, refunded, refunds)
    SELECT OLD.currency, (CASE WHEN OLD.finished_at < substr(OLD.finished_at, 1, 7) || '-01T00:00:00+00:00' THEN strftime('%Y-%m', substr(OLD.finished_at, 1, 7) || '-01', '-1 month') ELSE substr(OLD.finished_at, 1, 7) END), 0, 0, -OLD.amount_minor, -1 WHERE true
    ON CONFLICT (currency, month) DO UPDATE SET
        received = received + excluded.received, payments = payments + excluded.payments,
        refunded = refunded + excluded.refunded, refunds = refunds + excluded.refunds;
END;
CREATE TRIGGER revenue_month_figures_refund_update_old
AFTER UPDATE OF state, amount_minor, currency, finished_at ON refunds
WHEN OLD.state = 'succeeded' AND OLD.finished_at IS NOT NULL
BEGIN
    INSERT INTO revenue_month_figures (currency, month, received, payments, refunded, refunds)
    SELECT OLD.currency, (CASE WHEN OLD.finished_at < substr(OLD.finished_at, 1, 7) || '-01T00:00:00+00:00' THEN strftime('%Y-%m', substr(OLD.finished_at, 1, 7) || '-01', '-1 month') ELSE substr(OLD.finished_at, 1, 7) END), 0, 0, -OLD.amount_minor, -1 WHERE true
    ON CONFLICT (currency, month) DO UPDATE SET
        received = received + excluded.received, payments = payments + excluded.payments,
        refunded = refunded + excluded.refunded, refunds = refunds + excluded.refunds;
END;
CREATE TRIGGER revenue_month_figures_refund_update_new
AFTER UPDATE OF state, amount_minor, currency, finished_at ON refunds
WHEN NEW.state = 'succeeded' AND NEW.finished_at IS NOT NULL
BEGIN
    INSERT INTO revenue_month_figures (currency, month, received, payments, refunded, refunds)
    SELECT NEW.currency, (CASE WHEN NEW.finished_at < substr(NEW.finished_at, 1, 7) || '-01T00:00:00+00:00' THEN strftime('%Y-%m', substr(NEW.finished_at, 1, 7) || '-01', '-1 month') ELSE substr(NEW.finished_at, 1, 7) END), 0, 0, NEW.amount_minor, 1 WHERE true
    ON CONFLICT (currency, month) DO UPDATE SET
        received = received + excluded.received, payments = payments + excluded.payments,
        refunded = refunded + excluded.refunded, refunds = refunds + excluded.refunds;
END;

-- Payments and refunds that existed before this migration.
INSERT INTO revenue_month_figures (currency, month, received, payments, refunded, refunds)
SELECT currency, month, SUM(received), SUM(payments), SUM(refunded), SUM(refunds) FROM (
    SELECT currency, (CASE WHEN created_at < substr(created_at, 1, 7) || '-01T00:00:00+00:00' THEN strftime('%Y-%m', substr(created_at, 1, 7) || '-01', '-1 month') ELSE substr(created_at, 1, 7) END) AS month, amount_minor AS received,
           1 AS payments, 0 AS refunded, 0 AS refunds
    FROM payments WHERE status = 'succeeded'
    UNION ALL
    SELECT currency, (CASE WHEN finished_at < substr(finished_at, 1, 7) || '-01T00:00:00+00:00' THEN strftime('%Y-%m', substr(finished_at, 1, 7) || '-01', '-1 month') ELSE substr(finished_at, 1, 7) END), 0, 0, amount_minor, 1
    FROM refunds WHERE state = 'succeeded' AND finished_at IS NOT NULL
) AS d
GROUP BY currency, month;
