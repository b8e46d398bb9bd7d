//! Figures for the reports: sums and counts over a span of time, by currency.

use chrono::{DateTime, Utc};

use super::{on_conn, AsConn, StoreError};

/// Price sums of the licenses live at an instant, by currency and billing cycle.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LivePrices {
    /// ISO-4217 code.
    pub currency: String,
    /// `monthly`, `quarterly`, `semiannual` or `annual`.
    pub billing_cycle: String,
    /// Sum of the plans' prices for that cycle, minor units.
    pub total_minor: i64,
    /// Licenses counted.
    pub licenses: i64,
}

/// What the licenses live at `at` (activated, not expired, not cancelled) cost per cycle,
/// at their plans' current prices in the customer's billing currency.
pub async fn live_prices(
    conn: &mut impl AsConn,
    at: DateTime<Utc>,
) -> Result<Vec<LivePrices>, StoreError> {
    let rows = on_conn!(conn, |c| {
        sqlx::query_as::<_, LivePrices>(
        "SELECT COALESCE(pc.currency, p.currency) AS currency, l.billing_cycle, \
         CAST(COALESCE(SUM(CASE WHEN pc.plan_id IS NOT NULL THEN \
           CASE l.billing_cycle WHEN 'monthly' THEN pc.price_monthly WHEN 'quarterly' THEN pc.price_quarterly \
           WHEN 'semiannual' THEN pc.price_semiannual ELSE pc.price_annual END \
         ELSE \
           CASE l.billing_cycle WHEN 'monthly' THEN p.price_monthly WHEN 'quarterly' THEN p.price_quarterly \
           WHEN 'semiannual' THEN p.price_semiannual ELSE p.price_annual END \
         END), 0) AS BIGINT) AS total_minor, \
         COUNT(*) AS licenses \
         FROM licenses l JOIN plans p ON p.id = l.plan_id JOIN users u ON u.id = l.customer_id \
         LEFT JOIN plan_currency_prices pc ON pc.plan_id = p.id AND pc.currency = u.billing_currency \
         WHERE l.activated_at <= $1 AND l.expires_at > $1 AND (l.cancelled_at IS NULL OR l.cancelled_at > $1) \
         GROUP BY COALESCE(pc.currency, p.currency), l.billing_cycle ORDER BY 1, 2"
    )
    .bind(at)
    .fetch_all(c)
    .await
    })?;
    Ok(rows)
}

/// A sum by currency.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CurrencySum {
    /// ISO-4217 code.
    pub currency: String,
    /// Minor units.
    pub total_minor: i64,
}

/// Successful payments received in `[from, until)`, by currency.
pub async fn payments_in(
    conn: &mut impl AsConn,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<Vec<CurrencySum>, StoreError> {
    let rows = on_conn!(conn, |c| {
        sqlx::query_as::<_, CurrencySum>(
        "SELECT currency, CAST(SUM(amount_minor) AS BIGINT) AS total_minor FROM payments \
         WHERE status = 'succeeded' AND created_at >= $1 AND created_at < $2 GROUP BY currency ORDER BY currency"
    )
    .bind(from)
    .bind(until)
    .fetch_all(c)
    .await
    })?;
    Ok(rows)
}

/// Refunds completed in `[from, until)`, by currency.
pub async fn refunds_in(
    conn: &mut impl AsConn,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<Vec<CurrencySum>, StoreError> {
    let rows = on_conn!(conn, |c| {
        sqlx::query_as::<_, CurrencySum>(
        "SELECT currency, CAST(SUM(amount_minor) AS BIGINT) AS total_minor FROM refunds \
         WHERE state = 'succeeded' AND finished_at >= $1 AND finished_at < $2 GROUP BY currency ORDER BY currency"
    )
    .bind(from)
    .bind(until)
    .fetch_all(c)
    .await
    })?;
    Ok(rows)
}

/// Licenses activated, and licenses cancelled, in `[from, until)`.
pub async fn services_in(
    conn: &mut impl AsConn,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<(i64, i64), StoreError> {
    let new: i64 = on_conn!(conn, |c| sqlx::query_scalar(
        "SELECT COUNT(*) FROM licenses WHERE activated_at >= $1 AND activated_at < $2"
    )
    .bind(from)
    .bind(until)
    .fetch_one(c)
    .await)?;
    let cancelled: i64 = on_conn!(conn, |c| sqlx::query_scalar(
        "SELECT COUNT(*) FROM licenses WHERE cancelled_at >= $1 AND cancelled_at < $2"
    )
    .bind(from)
    .bind(until)
    .fetch_one(c)
    .await)?;
    Ok((new, cancelled))
}

/// Open invoices past their due date at `at`: count and amount by currency.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Overdue {
    /// ISO-4217 code.
    pub currency: String,
    /// Invoices.
    pub invoices: i64,
    /// What is left to pay on them.
    pub total_minor: i64,
}

/// What is overdue at `at`.
pub async fn overdue(
    conn: &mut impl AsConn,
    at: DateTime<Utc>,
) -> Result<Vec<Overdue>, StoreError> {
    let rows = on_conn!(conn, |c| {
        sqlx::query_as::<_, Overdue>(
        "SELECT currency, COUNT(*) AS invoices, CAST(SUM(total_minor) AS BIGINT) AS total_minor FROM invoices \
         WHERE status = 'open' AND due_at < $1 GROUP BY currency ORDER BY currency"
    )
    .bind(at)
    .fetch_all(c)
    .await
    })?;
    Ok(rows)
}
