//! The `coupons` and `coupon_redemptions` tables.

use chrono::{DateTime, Utc};

use super::{on_conn, AsConn, StoreError, Tx};

/// A row of `coupons`.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CouponRow {
    /// Primary key.
    pub id: i64,
    /// Upper-case code.
    pub code: String,
    /// `percent` or `fixed`.
    pub kind: String,
    /// Percent coupons: basis points off.
    pub percent_bp: Option<i64>,
    /// Fixed coupons: minor units off.
    pub amount_minor: Option<i64>,
    /// Fixed coupons: their currency.
    pub currency: Option<String>,
    /// Invoices discounted (1: the order alone).
    pub cycles: i64,
    /// The one plan it is for.
    pub plan_id: Option<i64>,
    /// When it stops working.
    pub expires_at: Option<DateTime<Utc>>,
    /// How often it may be used.
    pub max_redemptions: Option<i64>,
    /// How often it was used.
    pub redemptions: i64,
    /// Switched on?
    pub is_active: bool,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

const COLUMNS: &str =
    "id, code, kind, percent_bp, amount_minor, currency, cycles, plan_id, expires_at, \
    max_redemptions, redemptions, is_active, created_at, updated_at";

/// Stores a coupon; a code in use is a `Duplicate`.
pub async fn insert(tx: &mut Tx, c: &CouponRow) -> Result<CouponRow, StoreError> {
    let sql = format!(
        "INSERT INTO coupons (code, kind, percent_bp, amount_minor, currency, cycles, plan_id, expires_at, \
         max_redemptions, redemptions, is_active, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 0, TRUE, $10, $10) RETURNING {COLUMNS}"
    );
    let row = on_conn!(tx, |c2| sqlx::query_as::<_, CouponRow>(&sql)
        .bind(&c.code)
        .bind(&c.kind)
        .bind(c.percent_bp)
        .bind(c.amount_minor)
        .bind(&c.currency)
        .bind(c.cycles)
        .bind(c.plan_id)
        .bind(c.expires_at)
        .bind(c.max_redemptions)
        .bind(c.created_at)
        .fetch_one(c2)
        .await)?;
    Ok(row)
}

/// Every coupon, newest first.
pub async fn all(conn: &mut impl AsConn) -> Result<Vec<CouponRow>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM coupons ORDER BY id DESC LIMIT 500");
    let rows = on_conn!(conn, |c| sqlx::query_as::<_, CouponRow>(&sql)
        .fetch_all(c)
        .await)?;
    Ok(rows)
}

/// One coupon.
pub async fn find(conn: &mut impl AsConn, id: i64) -> Result<Option<CouponRow>, StoreError> {
    super::find_row(conn, "coupons", COLUMNS, id, None).await
}

/// The coupon with this (upper-case) code.
pub async fn by_code(conn: &mut impl AsConn, code: &str) -> Result<Option<CouponRow>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM coupons WHERE code = $1");
    let row = on_conn!(conn, |c| sqlx::query_as::<_, CouponRow>(&sql)
        .bind(code)
        .fetch_optional(c)
        .await)?;
    Ok(row)
}

/// Writes what admins may change of a coupon.
pub async fn update(tx: &mut Tx, c: &CouponRow) -> Result<CouponRow, StoreError> {
    let sql = format!(
        "UPDATE coupons SET is_active = $2, expires_at = $3, max_redemptions = $4, updated_at = $5 \
         WHERE id = $1 RETURNING {COLUMNS}"
    );
    let row = on_conn!(tx, |c2| sqlx::query_as::<_, CouponRow>(&sql)
        .bind(c.id)
        .bind(c.is_active)
        .bind(c.expires_at)
        .bind(c.max_redemptions)
        .bind(c.updated_at)
        .fetch_one(c2)
        .await)?;
    Ok(row)
}

/// Counts one use unless that goes over the limit; `false` when it is used up (a race
/// between two orders for the last use has one winner).
pub async fn redeem(tx: &mut Tx, id: i64) -> Result<bool, StoreError> {
    let n = on_conn!(tx, |c| sqlx::query(
        "UPDATE coupons SET redemptions = redemptions + 1 \
         WHERE id = $1 AND (max_redemptions IS NULL OR redemptions < max_redemptions)"
    )
    .bind(id)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

/// Gives a use back (its order was voided) and forgets the redemption.
pub async fn unredeem(tx: &mut Tx, invoice_id: i64) -> Result<(), StoreError> {
    let coupon: Option<i64> = on_conn!(tx, |c| sqlx::query_scalar(
        "DELETE FROM coupon_redemptions WHERE invoice_id = $1 RETURNING coupon_id"
    )
    .bind(invoice_id)
    .fetch_optional(c)
    .await)?;
    if let Some(id) = coupon {
        on_conn!(tx, |c| sqlx::query(
            "UPDATE coupons SET redemptions = redemptions - 1 WHERE id = $1 AND redemptions > 0"
        )
        .bind(id)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
    }
    Ok(())
}

/// Records a use of a coupon on an order.
pub async fn insert_redemption(
    tx: &mut Tx,
    coupon_id: i64,
    customer_id: i64,
    invoice_id: i64,
    cycles_left: i64,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    on_conn!(tx, |c| {
        sqlx::query(
        "INSERT INTO coupon_redemptions (coupon_id, customer_id, invoice_id, cycles_left, created_at) \
         VALUES ($1, $2, $3, $4, $5)"
    )
    .bind(coupon_id)
    .bind(customer_id)
    .bind(invoice_id)
    .bind(cycles_left)
    .bind(at)
    .execute(c)
    .await
    .map(|r| r.rows_affected())
    })?;
    Ok(())
}

/// The coupon still discounting a license's renewals (through the order that issued it),
/// and the redemption's id.
pub async fn for_renewal(
    conn: &mut impl AsConn,
    license_id: i64,
) -> Result<Option<(i64, CouponRow)>, StoreError> {
    #[derive(sqlx::FromRow)]
    struct Found {
        redemption_id: i64,
        #[sqlx(flatten)]
        coupon: CouponRow,
    }
    let columns = super::qualified("c", COLUMNS);
    let sql = format!(
        "SELECT r.id AS redemption_id, {columns} FROM coupon_redemptions r \
         JOIN coupons c ON c.id = r.coupon_id JOIN invoices i ON i.id = r.invoice_id \
         WHERE i.license_id = $1 AND i.status = 'paid' AND r.cycles_left > 0 ORDER BY r.id LIMIT 1"
    );
    let found = on_conn!(conn, |c| sqlx::query_as::<_, Found>(&sql)
        .bind(license_id)
        .fetch_optional(c)
        .await)?;
    Ok(found.map(|f| (f.redemption_id, f.coupon)))
}

/// Which of these licenses have a coupon that still discounts renewals (the ones for
/// which [`for_renewal`] finds something).
pub async fn renewing_among(
    conn: &mut impl AsConn,
    license_ids: &[i64],
) -> Result<Vec<i64>, StoreError> {
    if license_ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT DISTINCT i.license_id FROM coupon_redemptions r JOIN invoices i ON i.id = r.invoice_id \
         WHERE i.license_id IN ({}) AND i.status = 'paid' AND r.cycles_left > 0",
        super::placeholders(license_ids.len())
    );
    let ids = on_conn!(conn, |c| {
        let mut q = sqlx::query_scalar::<_, i64>(&sql);
        for id in license_ids {
            q = q.bind(*id);
        }
        q.fetch_all(c).await
    })?;
    Ok(ids)
}

/// Uses one renewal of a redemption; `false` when none is left.
pub async fn use_cycle(tx: &mut Tx, redemption_id: i64) -> Result<bool, StoreError> {
    let n = on_conn!(tx, |c| {
        sqlx::query(
        "UPDATE coupon_redemptions SET cycles_left = cycles_left - 1 WHERE id = $1 AND cycles_left > 0"
    )
    .bind(redemption_id)
    .execute(c)
    .await
    .map(|r| r.rows_affected())
    })?;
    Ok(n == 1)
}
