-- The report figures of 0024, each spread over 16 rows by license (or payment, refund)
-- id. Kept in step with ../sqlite/0028_report_figure_shards.sql (a test compares them).
--
-- Every order issues a license in the current month on a plan, and every payment lands
-- in the current month in a currency: with one figures row per (plan, cycle, currency,
-- month) or (currency, month), each such transaction held that one row locked from its
-- insert to its commit, and concurrent orders queued on it (measured: paid orders on
-- PostgreSQL went from 160 to 110 a second while each waited about 130 ms for the row).
-- With the id's remainder by 16 in the key, concurrent orders rarely meet; the reports
-- sum the 16 rows.
ALTER TABLE license_month_figures ADD COLUMN shard INTEGER NOT NULL DEFAULT 0;
ALTER TABLE license_month_figures DROP CONSTRAINT license_month_figures_pkey;
ALTER TABLE license_month_figures ADD PRIMARY KEY (plan_id, billing_cycle, billing_currency, month, shard);

CREATE OR REPLACE FUNCTION license_month_figures_apply() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO license_month_figures AS f
            (plan_id, billing_cycle, billing_currency, month, shard, live_change, activated, cancelled)
        SELECT c.plan_id, c.billing_cycle, c.billing_currency, c.month, CAST(n.id % 16 AS INTEGER),
               SUM(c.live_change), SUM(c.activated), SUM(c.cancelled)
        FROM new_rows n JOIN users u ON u.id = n.customer_id
        CROSS JOIN LATERAL license_month_changes(n.plan_id, n.billing_cycle,
            COALESCE(u.billing_currency, ''), n.activated_at, n.expires_at, n.cancelled_at, 1) c
        GROUP BY 1, 2, 3, 4, 5
        HAVING SUM(c.live_change) <> 0 OR SUM(c.activated) <> 0 OR SUM(c.cancelled) <> 0
        ORDER BY 1, 2, 3, 4, 5
        ON CONFLICT (plan_id, billing_cycle, billing_currency, month, shard) DO UPDATE SET
            live_change = f.live_change + excluded.live_change,
            activated = f.activated + excluded.activated,
            cancelled = f.cancelled + excluded.cancelled;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO license_month_figures AS f
            (plan_id, billing_cycle, billing_currency, month, shard, live_change, activated, cancelled)
        SELECT c.plan_id, c.billing_cycle, c.billing_currency, c.month, CAST(o.id % 16 AS INTEGER),
               SUM(c.live_change), SUM(c.activated), SUM(c.cancelled)
        FROM old_rows o JOIN users u ON u.id = o.customer_id
        CROSS JOIN LATERAL license_month_changes(o.plan_id, o.billing_cycle,
            COALESCE(u.billing_currency, ''), o.activated_at, o.expires_at, o.cancelled_at, -1) c
        GROUP BY 1, 2, 3, 4, 5
        HAVING SUM(c.live_change) <> 0 OR SUM(c.activated) <> 0 OR SUM(c.cancelled) <> 0
        ORDER BY 1, 2, 3, 4, 5
        ON CONFLICT (plan_id, billing_cycle, billing_currency, month, shard) DO UPDATE SET
            live_change = f.live_change + excluded.live_change,
            activated = f.activated + excluded.activated,
            cancelled = f.cancelled + excluded.cancelled;
    ELSE
        INSERT INTO license_month_figures AS f
            (plan_id, billing_cycle, billing_currency, month, shard, live_change, activated, cancelled)
        SELECT c.plan_id, c.billing_cycle, c.billing_currency, c.month, CAST(o.id % 16 AS INTEGER),
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
        GROUP BY 1, 2, 3, 4, 5
        HAVING SUM(c.live_change) <> 0 OR SUM(c.activated) <> 0 OR SUM(c.cancelled) <> 0
        ORDER BY 1, 2, 3, 4, 5
        ON CONFLICT (plan_id, billing_cycle, billing_currency, month, shard) DO UPDATE SET
            live_change = f.live_change + excluded.live_change,
            activated = f.activated + excluded.activated,
            cancelled = f.cancelled + excluded.cancelled;
    END IF;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION license_month_figures_currency() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO license_month_figures AS f
        (plan_id, billing_cycle, billing_currency, month, shard, live_change, activated, cancelled)
    SELECT c.plan_id, c.billing_cycle, c.billing_currency, c.month, CAST(l.id % 16 AS INTEGER),
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
    GROUP BY 1, 2, 3, 4, 5
    HAVING SUM(c.live_change) <> 0 OR SUM(c.activated) <> 0 OR SUM(c.cancelled) <> 0
    ORDER BY 1, 2, 3, 4, 5
    ON CONFLICT (plan_id, billing_cycle, billing_currency, month, shard) DO UPDATE SET
        live_change = f.live_change + excluded.live_change,
        activated = f.activated + excluded.activated,
        cancelled = f.cancelled + excluded.cancelled;
    RETURN NULL;
END
$$;

ALTER TABLE revenue_month_figures ADD COLUMN shard INTEGER NOT NULL DEFAULT 0;
ALTER TABLE revenue_month_figures DROP CONSTRAINT revenue_month_figures_pkey;
ALTER TABLE revenue_month_figures ADD PRIMARY KEY (currency, month, shard);

-- Adds to one month's figures, in the row of the payment's or refund's id.
CREATE FUNCTION revenue_month_add_at(
    currency TEXT, at TIMESTAMPTZ, id BIGINT, received BIGINT, payments BIGINT, refunded BIGINT, refunds BIGINT
) RETURNS void LANGUAGE sql AS $$
    INSERT INTO revenue_month_figures AS f (currency, month, shard, received, payments, refunded, refunds)
    VALUES ($1, report_month_of($2), CAST($3 % 16 AS INTEGER), $4, $5, $6, $7)
    ON CONFLICT (currency, month, shard) DO UPDATE SET
        received = f.received + excluded.received,
        payments = f.payments + excluded.payments,
        refunded = f.refunded + excluded.refunded,
        refunds = f.refunds + excluded.refunds
$$;

CREATE OR REPLACE FUNCTION revenue_month_figures_payment() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' AND OLD.status = 'succeeded' THEN
        PERFORM revenue_month_add_at(OLD.currency, OLD.created_at, OLD.id, -OLD.amount_minor, -1, 0, 0);
    END IF;
    IF TG_OP <> 'DELETE' AND NEW.status = 'succeeded' THEN
        PERFORM revenue_month_add_at(NEW.currency, NEW.created_at, NEW.id, NEW.amount_minor, 1, 0, 0);
    END IF;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION revenue_month_figures_refund() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' AND OLD.state = 'succeeded' AND OLD.finished_at IS NOT NULL THEN
        PERFORM revenue_month_add_at(OLD.currency, OLD.finished_at, OLD.id, 0, 0, -OLD.amount_minor, -1);
    END IF;
    IF TG_OP <> 'DELETE' AND NEW.state = 'succeeded' AND NEW.finished_at IS NOT NULL THEN
        PERFORM revenue_month_add_at(NEW.currency, NEW.finished_at, NEW.id, 0, 0, NEW.amount_minor, 1);
    END IF;
    RETURN NULL;
END
$$;

DROP FUNCTION revenue_month_add(TEXT, TIMESTAMPTZ, BIGINT, BIGINT, BIGINT, BIGINT);
