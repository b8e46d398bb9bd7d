//! Figures for the reports: sums and counts over a span of time, by currency. The series
//! over months read the summaries that migration 0024's triggers keep, not the licenses,
//! payments and refunds themselves.

use chrono::{DateTime, Utc};

use super::{on_conn, AsConn, StoreError};

/// A change, from one month boundary (or instant) to the next, in what the live licenses
/// cost per cycle, by currency and billing cycle; summed from the start, the changes give
/// what the licenses live at a boundary cost.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LiveChange {
    /// `YYYY-MM`: the month whose start first sees the change (empty for an instant).
    pub month: String,
    /// ISO-4217 code.
    pub currency: String,
    /// `monthly`, `quarterly`, `semiannual` or `annual`.
    pub billing_cycle: String,
    /// Change in the sum of the plans' prices for that cycle, minor units.
    pub total_minor: i64,
    /// Change in the number of live licenses.
    pub licenses: i64,
}

/// The changes in the live licenses of every month up to and including `month` (`YYYY-MM`),
/// priced at their plans' current prices in the customer's billing currency. Read from
/// `license_month_figures` (a few rows per plan and month, kept by triggers; see migration
/// 0024), not from the licenses.
pub async fn live_changes_until(
    conn: &mut impl AsConn,
    month: &str,
) -> Result<Vec<LiveChange>, StoreError> {
    let rows = on_conn!(conn, |c| {
        sqlx::query_as::<_, LiveChange>(
        "SELECT f.month, COALESCE(pc.currency, p.currency) AS currency, f.billing_cycle, \
         CAST(COALESCE(SUM(f.live_change * CASE WHEN pc.plan_id IS NOT NULL THEN \
           CASE f.billing_cycle WHEN 'monthly' THEN pc.price_monthly WHEN 'quarterly' THEN pc.price_quarterly \
           WHEN 'semiannual' THEN pc.price_semiannual ELSE pc.price_annual END \
         ELSE \
           CASE f.billing_cycle WHEN 'monthly' THEN p.price_monthly WHEN 'quarterly' THEN p.price_quarterly \
           WHEN 'semiannual' THEN p.price_semiannual ELSE p.price_annual END \
         END), 0) AS BIGINT) AS total_minor, \
         CAST(SUM(f.live_change) AS BIGINT) AS licenses \
         FROM license_month_figures f JOIN plans p ON p.id = f.plan_id \
         LEFT JOIN plan_currency_prices pc ON pc.plan_id = f.plan_id AND pc.currency = f.billing_currency \
         WHERE f.month <= $1 AND f.live_change <> 0 \
         GROUP BY f.month, COALESCE(pc.currency, p.currency), f.billing_cycle ORDER BY 1, 2, 3"
    )
    .bind(month)
    .fetch_all(c)
    .await
    })?;
    Ok(rows)
}

/// The change in the live licenses from `from` to `until` (`from < until`): those that
/// started in `(from, until]` added, those that ended in it taken away, priced as
/// [`live_changes_until`] prices them. Reads only the licenses with an activation, expiry or
/// cancellation in the span, through their indexes.
pub async fn live_changes_between(
    conn: &mut impl AsConn,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<Vec<LiveChange>, StoreError> {
    // A license is live at t when activated_at <= t < ended, where ended is
    // max(activated_at, min(expires_at, cancelled_at)); so from `from` to `until` it is
    // added when activated_at falls in (from, until] and taken away when ended does.
    let rows = on_conn!(conn, |c| {
        sqlx::query_as::<_, LiveChange>(
        "SELECT '' AS month, COALESCE(pc.currency, p.currency) AS currency, l.billing_cycle, \
         CAST(COALESCE(SUM(l.sign * CASE WHEN pc.plan_id IS NOT NULL THEN \
           CASE l.billing_cycle WHEN 'monthly' THEN pc.price_monthly WHEN 'quarterly' THEN pc.price_quarterly \
           WHEN 'semiannual' THEN pc.price_semiannual ELSE pc.price_annual END \
         ELSE \
           CASE l.billing_cycle WHEN 'monthly' THEN p.price_monthly WHEN 'quarterly' THEN p.price_quarterly \
           WHEN 'semiannual' THEN p.price_semiannual ELSE p.price_annual END \
         END), 0) AS BIGINT) AS total_minor, \
         CAST(COALESCE(SUM(l.sign), 0) AS BIGINT) AS licenses \
         FROM (SELECT customer_id, plan_id, billing_cycle, \
                 CASE WHEN activated_at > $1 AND activated_at <= $2 THEN 1 ELSE 0 END \
                 - CASE WHEN ended > $1 AND ended <= $2 THEN 1 ELSE 0 END AS sign \
               FROM (SELECT customer_id, plan_id, billing_cycle, activated_at, \
                       CASE WHEN until_at < activated_at THEN activated_at ELSE until_at END AS ended \
                     FROM (SELECT customer_id, plan_id, billing_cycle, activated_at, \
                             CASE WHEN cancelled_at < expires_at THEN cancelled_at ELSE expires_at END AS until_at \
                           FROM licenses \
                           WHERE (activated_at > $1 AND activated_at <= $2) \
                              OR (expires_at > $1 AND expires_at <= $2) \
                              OR (cancelled_at > $1 AND cancelled_at <= $2)) AS x) AS y) AS l \
         JOIN plans p ON p.id = l.plan_id JOIN users u ON u.id = l.customer_id \
         LEFT JOIN plan_currency_prices pc ON pc.plan_id = p.id AND pc.currency = u.billing_currency \
         GROUP BY COALESCE(pc.currency, p.currency), l.billing_cycle ORDER BY 2, 3"
    )
    .bind(from)
    .bind(until)
    .fetch_all(c)
    .await
    })?;
    Ok(rows)
}

/// Payments received and refunds completed in a month, in one currency.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MonthRevenue {
    /// `YYYY-MM`.
    pub month: String,
    /// ISO-4217 code.
    pub currency: String,
    /// Successful payments, minor units.
    pub received: i64,
    /// How many.
    pub payments: i64,
    /// Completed refunds, minor units.
    pub refunded: i64,
    /// How many.
    pub refunds: i64,
}

/// Payments received and refunds completed in the months `from` to `until` (`YYYY-MM`,
/// both included), by month and currency, from `revenue_month_figures` (kept by triggers;
/// see migration 0024).
pub async fn revenue_by_month(
    conn: &mut impl AsConn,
    from: &str,
    until: &str,
) -> Result<Vec<MonthRevenue>, StoreError> {
    let rows = on_conn!(conn, |c| {
        sqlx::query_as::<_, MonthRevenue>(
            // Summed over the rows each month and currency is spread across (migration 0028).
            "SELECT month, currency, CAST(SUM(received) AS BIGINT) AS received, \
             CAST(SUM(payments) AS BIGINT) AS payments, CAST(SUM(refunded) AS BIGINT) AS refunded, \
             CAST(SUM(refunds) AS BIGINT) AS refunds FROM revenue_month_figures \
             WHERE month >= $1 AND month <= $2 GROUP BY month, currency \
             HAVING SUM(payments) <> 0 OR SUM(refunds) <> 0 ORDER BY month, currency",
        )
        .bind(from)
        .bind(until)
        .fetch_all(c)
        .await
    })?;
    Ok(rows)
}

/// Licenses activated and cancelled in one month.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MonthServices {
    /// `YYYY-MM`.
    pub month: String,
    /// Licenses whose `activated_at` is in the month.
    pub activated: i64,
    /// Licenses whose `cancelled_at` is in the month.
    pub cancelled: i64,
}

/// Licenses activated and cancelled in the months `from` to `until` (`YYYY-MM`, both
/// included), from `license_month_figures` (kept by triggers; see migration 0024).
pub async fn services_by_month(
    conn: &mut impl AsConn,
    from: &str,
    until: &str,
) -> Result<Vec<MonthServices>, StoreError> {
    let rows = on_conn!(conn, |c| {
        sqlx::query_as::<_, MonthServices>(
            "SELECT month, CAST(SUM(activated) AS BIGINT) AS activated, \
             CAST(SUM(cancelled) AS BIGINT) AS cancelled FROM license_month_figures \
             WHERE month >= $1 AND month <= $2 GROUP BY month ORDER BY month",
        )
        .bind(from)
        .bind(until)
        .fetch_all(c)
        .await
    })?;
    Ok(rows)
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
