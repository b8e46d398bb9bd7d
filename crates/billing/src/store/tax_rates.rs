//! The `tax_rates` table: tax rates by country, region and dates.

use chrono::{DateTime, NaiveDate, Utc};

use super::{on_conn, AsConn, StoreError, Tx};

/// A row of `tax_rates`.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TaxRateRow {
    /// Primary key.
    pub id: i64,
    /// Name on invoices.
    pub name: String,
    /// Rate in basis points.
    pub rate_bp: i64,
    /// Country code.
    pub country: String,
    /// Region, or `None` for the whole country.
    pub region: Option<String>,
    /// First day.
    pub valid_from: NaiveDate,
    /// Last day, if it ends.
    pub valid_to: Option<NaiveDate>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

const COLUMNS: &str =
    "id, name, rate_bp, country, region, valid_from, valid_to, created_at, updated_at";

/// Every rate, by place and start.
pub async fn all(conn: &mut impl AsConn) -> Result<Vec<TaxRateRow>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM tax_rates ORDER BY country, region, valid_from, id");
    let rows = on_conn!(conn, |c| sqlx::query_as::<_, TaxRateRow>(&sql)
        .fetch_all(c)
        .await)?;
    Ok(rows)
}

/// The rates of one country (what an invoice to a buyer there may use).
pub async fn of_country(
    conn: &mut impl AsConn,
    country: &str,
) -> Result<Vec<TaxRateRow>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM tax_rates WHERE country = $1 ORDER BY id");
    let rows = on_conn!(conn, |c| sqlx::query_as::<_, TaxRateRow>(&sql)
        .bind(country)
        .fetch_all(c)
        .await)?;
    Ok(rows)
}

/// One rate.
pub async fn find(conn: &mut impl AsConn, id: i64) -> Result<Option<TaxRateRow>, StoreError> {
    super::find_row(conn, "tax_rates", COLUMNS, id, None).await
}

/// Stores a new rate.
pub async fn insert(tx: &mut Tx, r: &TaxRateRow) -> Result<TaxRateRow, StoreError> {
    let sql = format!(
        "INSERT INTO tax_rates (name, rate_bp, country, region, valid_from, valid_to, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7) RETURNING {COLUMNS}"
    );
    let row = on_conn!(tx, |c| sqlx::query_as::<_, TaxRateRow>(&sql)
        .bind(&r.name)
        .bind(r.rate_bp)
        .bind(&r.country)
        .bind(&r.region)
        .bind(r.valid_from)
        .bind(r.valid_to)
        .bind(r.created_at)
        .fetch_one(c)
        .await)?;
    Ok(row)
}

/// Writes a rate's fields back.
pub async fn update(tx: &mut Tx, r: &TaxRateRow) -> Result<TaxRateRow, StoreError> {
    let sql = format!(
        "UPDATE tax_rates SET name = $2, rate_bp = $3, country = $4, region = $5, valid_from = $6, valid_to = $7, \
         updated_at = $8 WHERE id = $1 RETURNING {COLUMNS}"
    );
    let row = on_conn!(tx, |c| sqlx::query_as::<_, TaxRateRow>(&sql)
        .bind(r.id)
        .bind(&r.name)
        .bind(r.rate_bp)
        .bind(&r.country)
        .bind(&r.region)
        .bind(r.valid_from)
        .bind(r.valid_to)
        .bind(r.updated_at)
        .fetch_one(c)
        .await)?;
    Ok(row)
}

/// Whether any invoice line was taxed at this rate.
pub async fn in_use(conn: &mut impl AsConn, id: i64) -> Result<bool, StoreError> {
    let n: i64 = on_conn!(conn, |c| sqlx::query_scalar(
        "SELECT COUNT(*) FROM invoice_lines WHERE tax_rate_id = $1"
    )
    .bind(id)
    .fetch_one(c)
    .await)?;
    Ok(n > 0)
}

/// Deletes a rate no invoice used.
pub async fn delete(tx: &mut Tx, id: i64) -> Result<(), StoreError> {
    on_conn!(tx, |c| sqlx::query("DELETE FROM tax_rates WHERE id = $1")
        .bind(id)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(())
}

/// Lines of invoices paid in `[from, until)`, summed by place, tax and currency.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PaidTaxRow {
    /// The buyer's country on the invoice.
    pub country: Option<String>,
    /// The tax's name on the lines (`None`: untaxed).
    pub tax_name: Option<String>,
    /// The rate on the lines.
    pub tax_rate_bp: i64,
    /// Whether these were reverse-charge invoices.
    pub reverse_charge: bool,
    /// Currency.
    pub currency: String,
    /// Invoices counted.
    pub invoices: i64,
    /// Sum of net amounts.
    pub taxable_minor: i64,
    /// Sum of tax.
    pub tax_minor: i64,
}

/// Sums of the lines of invoices paid in `[from, until)`.
pub async fn paid_in(
    conn: &mut impl AsConn,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<Vec<PaidTaxRow>, StoreError> {
    let rows = on_conn!(conn, |c| {
        sqlx::query_as::<_, PaidTaxRow>(
        "SELECT i.buyer_country AS country, l.tax_name, l.tax_rate_bp, i.reverse_charge, i.currency, \
         COUNT(DISTINCT i.id) AS invoices, CAST(SUM(l.amount_minor) AS BIGINT) AS taxable_minor, CAST(SUM(l.tax_minor) AS BIGINT) AS tax_minor \
         FROM invoices i JOIN invoice_lines l ON l.invoice_id = i.id \
         WHERE i.status = 'paid' AND i.paid_at >= $1 AND i.paid_at < $2 \
         GROUP BY i.buyer_country, l.tax_name, l.tax_rate_bp, i.reverse_charge, i.currency \
         ORDER BY i.buyer_country, l.tax_name, l.tax_rate_bp, i.currency"
    )
    .bind(from)
    .bind(until)
    .fetch_all(c)
    .await
    })?;
    Ok(rows)
}

/// A credit note issued in a period, with what its invoice was taxed.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CreditedRow {
    /// The buyer's country on the invoice.
    pub country: Option<String>,
    /// The tax's name on the invoice's first line.
    pub tax_name: Option<String>,
    /// Its rate.
    pub tax_rate_bp: i64,
    /// Whether the invoice was a reverse charge.
    pub reverse_charge: bool,
    /// Currency.
    pub currency: String,
    /// The amount given back (tax included).
    pub amount_minor: i64,
    /// The invoice's total (what was paid plus the credit that paid part of it).
    pub invoice_total_minor: i64,
    /// The invoice's tax.
    pub invoice_tax_minor: i64,
}

/// Credit notes issued in `[from, until)`.
pub async fn credited_in(
    conn: &mut impl AsConn,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<Vec<CreditedRow>, StoreError> {
    let rows = on_conn!(conn, |c| {
        sqlx::query_as::<_, CreditedRow>(
        "SELECT i.buyer_country AS country, \
         (SELECT l.tax_name FROM invoice_lines l WHERE l.invoice_id = i.id ORDER BY l.id LIMIT 1) AS tax_name, \
         COALESCE((SELECT l.tax_rate_bp FROM invoice_lines l WHERE l.invoice_id = i.id ORDER BY l.id LIMIT 1), 0) AS tax_rate_bp, \
         i.reverse_charge, n.currency, n.amount_minor, i.total_minor + i.credit_applied_minor AS invoice_total_minor, i.tax_minor AS invoice_tax_minor \
         FROM credit_notes n JOIN invoices i ON i.id = n.invoice_id \
         WHERE n.created_at >= $1 AND n.created_at < $2 ORDER BY n.id"
    )
    .bind(from)
    .bind(until)
    .fetch_all(c)
    .await
    })?;
    Ok(rows)
}
