-- The dashboard's MRR, services and revenue reports, kept cheap at a million licenses.
-- Kept in step with ../sqlite/0024_report_figures.sql (a test compares them).
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

-- The month of an instant for the services report: the one containing it.
CREATE FUNCTION report_month_of(at TIMESTAMPTZ) RETURNS TEXT
    LANGUAGE sql IMMUTABLE AS $$ SELECT to_char(at AT TIME ZONE 'UTC', 'YYYY-MM') $$;

-- The first month whose start is at or after an instant: from then on, "at <= month
-- start" holds. Timestamps have microsecond resolution, so stepping back one finds it.
CREATE FUNCTION report_month_from(at TIMESTAMPTZ) RETURNS TEXT
    LANGUAGE sql IMMUTABLE AS $$
    SELECT to_char(date_trunc('month', (at AT TIME ZONE 'UTC') - interval '1 microsecond')
        + interval '1 month', 'YYYY-MM')
$$;

-- One license's rows (see the table), times `sign` (-1 to take a former state away).
-- Arguments: plan, cycle, billing currency, activated_at, expires_at, cancelled_at, sign.
CREATE FUNCTION license_month_changes(
    BIGINT, TEXT, TEXT, TIMESTAMPTZ, TIMESTAMPTZ, TIMESTAMPTZ, BIGINT
) RETURNS TABLE (plan_id BIGINT, billing_cycle TEXT, billing_currency TEXT, month TEXT,
                 live_change BIGINT, activated BIGINT, cancelled BIGINT)
    LANGUAGE sql IMMUTABLE AS $$
    SELECT $1, $2, $3, d.month, d.live_change * $7, d.activated * $7, d.cancelled * $7
    FROM (VALUES
        (report_month_from($4), 1::BIGINT, 0::BIGINT, 0::BIGINT),
        (GREATEST(report_month_from($4), report_month_from(LEAST($5, COALESCE($6, $5)))),
            -1, 0, 0),
        (report_month_of($4), 0, 1, 0),
        (report_month_of($6), 0, 0, 1)
    ) AS d (month, live_change, activated, cancelled)
    WHERE d.month IS NOT NULL
$$;

-- Statement-level, so a bulk change is one set-based write; rows are upserted in key
-- order so that transactions touching the same rows take their locks in the same order.
CREATE FUNCTION license_month_figures_apply() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO license_month_figures AS f
            (plan_id, billing_cycle, billing_currency, month, live_change, activated, cancelled)
        SELECT c.plan_id, c.billing_cycle, c.billing_currency, c.month,
               SUM(c.live_change), SUM(c.activated), SUM(c.cancelled)
        FROM new_rows n JOIN users u ON u.id = n.customer_id
        CROSS JOIN LATERAL license_month_changes(n.plan_id, n.billing_cycle,
            COALESCE(u.billing_currency, ''), n.activated_at, n.expires_at, n.cancelled_at, 1) c
        GROUP BY 1, 2, 3, 4
        HAVING SUM(c.live_change) <> 0 OR SUM(c.activated) <> 0 OR SUM(c.cancelled) <> 0
        ORDER BY 1, 2, 3, 4
        ON CONFLICT (plan_id, billing_cycle, billing_currency, month) DO UPDATE SET
            live_change = f.live_change + excluded.live_change,
            activated = f.activated + excluded.activated,
            cancelled = f.cancelled + excluded.cancelled;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO license_month_figures AS f
            (plan_id, billing_cycle, billing_currency, month, live_change, activated, cancelled)
        SELECT c.plan_id, c.billing_cycle, c.billing_currency, c.month,
               SUM(c.live_change), SUM(c.activated), SUM(c.cancelled)
        FROM old_rows o JOIN users u ON u.id = o.customer_id
        CROSS JOIN LATERAL license_month_changes(o.plan_id, o.billing_cycle,
            COALESCE(u.billing_currency, ''), o.activated_at, o.expires_at, o.cancelled_at, -1) c
        GROUP BY 1, 2, 3, 4
        HAVING SUM(c.live_change) <> 0 OR SUM(c.activated) <> 0 OR SUM(c.cancelled) <> 0
        ORDER BY 1, 2, 3, 4
        ON CONFLICT (plan_id, billing_cycle, billing_currency, month) DO UPDATE SET
            live_change = f.live_change + excluded.live_change,
            activated = f.activated + excluded.activated,
            cancelled = f.cancelled + excluded.cancelled;
    ELSE
        -- Most license updates (status, usage, renewal flags) touch none of these columns:
        -- they pair up and cancel out, and write nothing.
        INSERT INTO license_month_figures AS f
            (plan_id, billing_cycle, billing_currency, month, live_change, activated, cancelled)
        SELECT c.plan_id, c.billing_cycle, c.billing_currency, c.month,
               SUM(c.live_change), SUM(c.activated), SUM(c.cancelled)
        FROM old_rows o JOIN new_rows n ON n.id = o.id
        JOIN users uo ON uo.id = o.customer_id JOIN users un ON un.id = n.customer_id
        CROSS JOIN LATERAL (
            SELECT * FROM license_month_changes(o.plan_id, o.billing_cycle,
                COALESCE(uo.billing_currency, ''), o.activated_at, o.expires_at, o.cancelled_at, -1)
            UNION ALL
            SELECT * FROM license_month_changes(n.plan_id, n.billing_cycle,
                COALESCE(un.billing_currency, ''), n.activated_at, n.expires_at, n.cancelled_at, 1)
        ) c
        WHERE (o.customer_id, o.plan_id, o.billing_cycle, o.activated_at, o.expires_at, o.cancelled_at)
            IS DISTINCT FROM
              (n.customer_id, n.plan_id, n.billing_cycle, n.activated_at, n.expires_at, n.cancelled_at)
        GROUP BY 1, 2, 3, 4
        HAVING SUM(c.live_change) <> 0 OR SUM(c.activated) <> 0 OR SUM(c.cancelled) <> 0
        ORDER BY 1, 2, 3, 4
        ON CONFLICT (plan_id, billing_cycle, billing_currency, month) DO UPDATE SET
            live_change = f.live_change + excluded.live_change,
            activated = f.activated + excluded.activated,
            cancelled = f.cancelled + excluded.cancelled;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER license_month_figures_insert AFTER INSERT ON licenses
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION license_month_figures_apply();
CREATE TRIGGER license_month_figures_update AFTER UPDATE ON licenses
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION license_month_figures_apply();
CREATE TRIGGER license_month_figures_delete AFTER DELETE ON licenses
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION license_month_figures_apply();

-- A customer's billing currency moves all their licenses to the new currency's rows.
CREATE FUNCTION license_month_figures_currency() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO license_month_figures AS f
        (plan_id, billing_cycle, billing_currency, month, live_change, activated, cancelled)
    SELECT c.plan_id, c.billing_cycle, c.billing_currency, c.month,
           SUM(c.live_change), SUM(c.activated), SUM(c.cancelled)
    FROM licenses l
    CROSS JOIN LATERAL (
        SELECT * FROM license_month_changes(l.plan_id, l.billing_cycle,
            COALESCE(OLD.billing_currency, ''), l.activated_at, l.expires_at, l.cancelled_at, -1)
        UNION ALL
        SELECT * FROM license_month_changes(l.plan_id, l.billing_cycle,
            COALESCE(NEW.billing_currency, ''), l.activated_at, l.expires_at, l.cancelled_at, 1)
    ) c
    WHERE l.customer_id = NEW.id
    GROUP BY 1, 2, 3, 4
    HAVING SUM(c.live_change) <> 0 OR SUM(c.activated) <> 0 OR SUM(c.cancelled) <> 0
    ORDER BY 1, 2, 3, 4
    ON CONFLICT (plan_id, billing_cycle, billing_currency, month) DO UPDATE SET
        live_change = f.live_change + excluded.live_change,
        activated = f.activated + excluded.activated,
        cancelled = f.cancelled + excluded.cancelled;
    RETURN NULL;
END
$$;

CREATE TRIGGER license_month_figures_currency AFTER UPDATE OF billing_currency ON users
    FOR EACH ROW WHEN (OLD.billing_currency IS DISTINCT FROM NEW.billing_currency)
    EXECUTE FUNCTION license_month_figures_currency();

-- Licenses that existed before this migration.
INSERT INTO license_month_figures
    (plan_id, billing_cycle, billing_currency, month, live_change, activated, cancelled)
SELECT c.plan_id, c.billing_cycle, c.billing_currency, c.month,
       SUM(c.live_change), SUM(c.activated), SUM(c.cancelled)
FROM licenses l JOIN users u ON u.id = l.customer_id
CROSS JOIN LATERAL license_month_changes(l.plan_id, l.billing_cycle,
    COALESCE(u.billing_currency, ''), l.activated_at, l.expires_at, l.cancelled_at, 1) c
GROUP BY 1, 2, 3, 4
HAVING SUM(c.live_change) <> 0 OR SUM(c.activated) <> 0 OR SUM(c.cancelled) <> 0;

-- The revenue report: payments received and refunds completed per month and currency,
-- with how many of each (a currency shows in a month when it had any), likewise kept by
-- triggers in the transaction of each change; it used to read every payment and refund
-- twice per month shown. Row by row: payments and refunds are written one at a time.
CREATE TABLE revenue_month_figures (
    currency TEXT NOT NULL,
    month TEXT NOT NULL,
    received BIGINT NOT NULL DEFAULT 0,
    payments BIGINT NOT NULL DEFAULT 0,
    refunded BIGINT NOT NULL DEFAULT 0,
    refunds BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (currency, month)
);

-- Adds to one month's figures.
CREATE FUNCTION revenue_month_add(
    currency TEXT, at TIMESTAMPTZ, received BIGINT, payments BIGINT, refunded BIGINT, refunds BIGINT
) RETURNS void LANGUAGE sql AS $$
    INSERT INTO revenue_month_figures AS f (currency, month, received, payments, refunded, refunds)
    VALUES ($1, report_month_of($2), $3, $4, $5, $6)
    ON CONFLICT (currency, month) DO UPDATE SET
        received = f.received + excluded.received,
        payments = f.payments + excluded.payments,
        refunded = f.refunded + excluded.refunded,
        refunds = f.refunds + excluded.refunds
$$;

-- A payment counts when it succeeded, in the month it was made.
CREATE FUNCTION revenue_month_figures_payment() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' AND OLD.status = 'succeeded' THEN
        PERFORM revenue_month_add(OLD.currency, OLD.created_at, -OLD.amount_minor, -1, 0, 0);
    END IF;
    IF TG_OP <> 'DELETE' AND NEW.status = 'succeeded' THEN
        PERFORM revenue_month_add(NEW.currency, NEW.created_at, NEW.amount_minor, 1, 0, 0);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER revenue_month_figures_payment AFTER INSERT OR DELETE
    OR UPDATE OF status, amount_minor, currency, created_at ON payments
    FOR EACH ROW EXECUTE FUNCTION revenue_month_figures_payment();

-- A refund counts when it succeeded, in the month it finished.
CREATE FUNCTION revenue_month_figures_refund() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' AND OLD.state = 'succeeded' AND OLD.finished_at IS NOT NULL THEN
        PERFORM revenue_month_add(OLD.currency, OLD.finished_at, 0, 0, -OLD.amount_minor, -1);
    END IF;
    IF TG_OP <> 'DELETE' AND NEW.state = 'succeeded' AND NEW.finished_at IS NOT NULL THEN
        PERFORM revenue_month_add(NEW.currency, NEW.finished_at, 0, 0, NEW.amount_minor, 1);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER revenue_month_figures_refund AFTER INSERT OR DELETE
    OR UPDATE OF state, amount_minor, currency, finished_at ON refunds
    FOR EACH ROW EXECUTE FUNCTION revenue_month_figures_refund();

-- Payments and refunds that existed before this migration.
INSERT INTO revenue_month_figures (currency, month, received, payments, refunded, refunds)
SELECT currency, month, SUM(received), SUM(payments), SUM(refunded), SUM(refunds) FROM (
    SELECT currency, report_month_of(created_at) AS month, amount_minor AS received,
           1 AS payments, 0 AS refunded, 0 AS refunds
    FROM payments WHERE status = 'succeeded'
    UNION ALL
    SELECT currency, report_month_of(finished_at), 0, 0, amount_minor, 1
    FROM refunds WHERE state = 'succeeded' AND finished_at IS NOT NULL
) AS d
GROUP BY currency, month;
