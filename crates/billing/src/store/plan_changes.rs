//! The `plan_changes` table: a license's move to another plan, pending or done.

use chrono::{DateTime, Utc};

use super::{on_conn, AsConn, StoreError, Tx};

/// A row of `plan_changes`.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PlanChangeRow {
    /// Primary key.
    pub id: i64,
    /// The license that changes plan.
    pub license_id: i64,
    /// Its customer.
    pub customer_id: i64,
    /// The plan it leaves.
    pub from_plan_id: i64,
    /// The plan it moves to.
    pub to_plan_id: i64,
    /// `upgrade` or `downgrade`.
    pub direction: String,
    /// `awaiting_payment`, `scheduled`, `applied` or `cancelled`.
    pub state: String,
    /// An upgrade's prorated invoice.
    pub invoice_id: Option<i64>,
    /// A downgrade's credit (taken at once).
    pub credit_minor: i64,
    /// ISO-4217 code.
    pub currency: String,
    /// When it takes (or took) effect.
    pub effective_at: DateTime<Utc>,
    /// Who asked for it.
    pub created_by: String,
    /// When.
    pub created_at: DateTime<Utc>,
    /// When it was applied.
    pub applied_at: Option<DateTime<Utc>>,
    /// When it was cancelled.
    pub cancelled_at: Option<DateTime<Utc>>,
}

const COLUMNS: &str =
    "id, license_id, customer_id, from_plan_id, to_plan_id, direction, state, invoice_id, \
    credit_minor, currency, effective_at, created_by, created_at, applied_at, cancelled_at";

/// Records a change; a second pending change of the license is a `Duplicate`.
pub async fn insert(tx: &mut Tx, c: &PlanChangeRow) -> Result<PlanChangeRow, StoreError> {
    let sql = format!(
        "INSERT INTO plan_changes (license_id, customer_id, from_plan_id, to_plan_id, direction, state, invoice_id, \
         credit_minor, currency, effective_at, created_by, created_at, applied_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING {COLUMNS}"
    );
    let row = on_conn!(tx, |c2| sqlx::query_as::<_, PlanChangeRow>(&sql)
        .bind(c.license_id)
        .bind(c.customer_id)
        .bind(c.from_plan_id)
        .bind(c.to_plan_id)
        .bind(&c.direction)
        .bind(&c.state)
        .bind(c.invoice_id)
        .bind(c.credit_minor)
        .bind(&c.currency)
        .bind(c.effective_at)
        .bind(&c.created_by)
        .bind(c.created_at)
        .bind(c.applied_at)
        .fetch_one(c2)
        .await)?;
    Ok(row)
}

/// The license's change in flight (awaiting payment or scheduled), if any.
pub async fn pending(
    conn: &mut impl AsConn,
    license_id: i64,
) -> Result<Option<PlanChangeRow>, StoreError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM plan_changes WHERE license_id = $1 AND state IN ('awaiting_payment', 'scheduled')"
    );
    let row = on_conn!(conn, |c| sqlx::query_as::<_, PlanChangeRow>(&sql)
        .bind(license_id)
        .fetch_optional(c)
        .await)?;
    Ok(row)
}

/// The pending changes of any of these licenses (at most one each).
pub async fn pending_among(
    conn: &mut impl AsConn,
    license_ids: &[i64],
) -> Result<Vec<PlanChangeRow>, StoreError> {
    super::rows_in(
        conn,
        "plan_changes",
        COLUMNS,
        "license_id",
        license_ids,
        " AND state IN ('awaiting_payment', 'scheduled')",
    )
    .await
}

/// The change an invoice pays for.
pub async fn of_invoice(
    conn: &mut impl AsConn,
    invoice_id: i64,
) -> Result<Option<PlanChangeRow>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM plan_changes WHERE invoice_id = $1");
    let row = on_conn!(conn, |c| sqlx::query_as::<_, PlanChangeRow>(&sql)
        .bind(invoice_id)
        .fetch_optional(c)
        .await)?;
    Ok(row)
}

/// The license's changes, newest first.
pub async fn of_license(
    conn: &mut impl AsConn,
    license_id: i64,
) -> Result<Vec<PlanChangeRow>, StoreError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM plan_changes WHERE license_id = $1 ORDER BY id DESC LIMIT 50"
    );
    let rows = on_conn!(conn, |c| sqlx::query_as::<_, PlanChangeRow>(&sql)
        .bind(license_id)
        .fetch_all(c)
        .await)?;
    Ok(rows)
}

/// Moves a pending change to `applied` or `cancelled`; `false` when it was not pending
/// (another run got there first).
pub async fn finish(
    tx: &mut Tx,
    id: i64,
    state: &str,
    at: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let column = if state == "applied" {
        "applied_at"
    } else {
        "cancelled_at"
    };
    let sql = format!(
        "UPDATE plan_changes SET state = $2, {column} = $3 \
         WHERE id = $1 AND state IN ('awaiting_payment', 'scheduled')"
    );
    let n = on_conn!(tx, |c| sqlx::query(&sql)
        .bind(id)
        .bind(state)
        .bind(at)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(n == 1)
}
