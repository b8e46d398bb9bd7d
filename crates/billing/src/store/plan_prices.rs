//! The `plan_currency_prices` table: a plan's prices in currencies other than its own.

use super::{on_conn, AsConn, StoreError, Tx};

/// A plan's prices in one more currency.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct PlanPricesRow {
    /// The plan.
    pub plan_id: i64,
    /// ISO-4217 code.
    pub currency: String,
    /// Monthly price, minor units.
    pub price_monthly: Option<i64>,
    /// Quarterly price.
    pub price_quarterly: Option<i64>,
    /// Semiannual price.
    pub price_semiannual: Option<i64>,
    /// Annual price.
    pub price_annual: Option<i64>,
    /// Setup fee.
    pub setup_fee: i64,
}

const COLUMNS: &str =
    "plan_id, currency, price_monthly, price_quarterly, price_semiannual, price_annual, setup_fee";

/// A plan's other currencies, by code.
pub async fn of_plan(
    conn: &mut impl AsConn,
    plan_id: i64,
) -> Result<Vec<PlanPricesRow>, StoreError> {
    let sql =
        format!("SELECT {COLUMNS} FROM plan_currency_prices WHERE plan_id = $1 ORDER BY currency");
    let rows = on_conn!(conn, |c| sqlx::query_as::<_, PlanPricesRow>(&sql)
        .bind(plan_id)
        .fetch_all(c)
        .await)?;
    Ok(rows)
}

/// Every plan's other currencies (plans are few).
pub async fn all(conn: &mut impl AsConn) -> Result<Vec<PlanPricesRow>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM plan_currency_prices ORDER BY plan_id, currency");
    let rows = on_conn!(conn, |c| sqlx::query_as::<_, PlanPricesRow>(&sql)
        .fetch_all(c)
        .await)?;
    Ok(rows)
}

/// A plan's prices in `currency`, if it has them.
pub async fn find(
    conn: &mut impl AsConn,
    plan_id: i64,
    currency: &str,
) -> Result<Option<PlanPricesRow>, StoreError> {
    let sql =
        format!("SELECT {COLUMNS} FROM plan_currency_prices WHERE plan_id = $1 AND currency = $2");
    let row = on_conn!(conn, |c| sqlx::query_as::<_, PlanPricesRow>(&sql)
        .bind(plan_id)
        .bind(currency)
        .fetch_optional(c)
        .await)?;
    Ok(row)
}

/// Replaces a plan's other currencies.
pub async fn replace(tx: &mut Tx, plan_id: i64, rows: &[PlanPricesRow]) -> Result<(), StoreError> {
    on_conn!(tx, |c| sqlx::query(
        "DELETE FROM plan_currency_prices WHERE plan_id = $1"
    )
    .bind(plan_id)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    for r in rows {
        on_conn!(tx, |c| {
            sqlx::query(
            "INSERT INTO plan_currency_prices (plan_id, currency, price_monthly, price_quarterly, price_semiannual, \
             price_annual, setup_fee) VALUES ($1, $2, $3, $4, $5, $6, $7)"
        )
        .bind(plan_id)
        .bind(&r.currency)
        .bind(r.price_monthly)
        .bind(r.price_quarterly)
        .bind(r.price_semiannual)
        .bind(r.price_annual)
        .bind(r.setup_fee)
        .execute(c)
        .await
        .map(|r| r.rows_affected())
        })?;
    }
    Ok(())
}
