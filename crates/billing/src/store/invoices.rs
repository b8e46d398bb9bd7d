//! The `invoices` and `invoice_lines` tables.

use chrono::{DateTime, Utc};

use super::{on_conn, AsConn, Filters, Listed, Page, StoreError, Tx};

/// A row of `invoices`.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct InvoiceRow {
    /// Primary key.
    pub id: i64,
    /// The number from the gapless sequence (`INV-2026-000042`).
    pub number: Option<String>,
    /// Who owes it.
    pub customer_id: i64,
    /// `order` or `renewal`.
    pub kind: String,
    /// `open`, `paid` or `void`.
    pub status: String,
    /// The plan charged.
    pub plan_id: i64,
    /// The billing cycle charged.
    pub billing_cycle: String,
    /// Renewal: the license renewed; order: the license issued on payment.
    pub license_id: Option<i64>,
    /// Order: the hosting account created on payment.
    pub hosting_account_id: Option<i64>,
    /// Order: the hosting username asked for.
    pub order_username: Option<String>,
    /// ISO-4217 code.
    pub currency: String,
    /// Exact total in minor units, tax included.
    pub total_minor: i64,
    /// Sum of the lines' net amounts.
    pub subtotal_minor: i64,
    /// Sum of the lines' tax.
    pub tax_minor: i64,
    /// Credit balance used to pay part of it (`total_minor` is what is left to pay).
    pub credit_applied_minor: i64,
    /// A late fee's overdue invoice.
    pub late_fee_for: Option<i64>,
    /// Whether the plan prices included tax when it was issued.
    pub prices_include_tax: bool,
    /// EU reverse charge: no VAT charged, the buyer accounts for it.
    pub reverse_charge: bool,
    /// Renewal: the period paid for.
    pub period_start: Option<DateTime<Utc>>,
    /// Renewal: end of the period paid for.
    pub period_end: Option<DateTime<Utc>>,
    /// Due date.
    pub due_at: DateTime<Utc>,
    /// When it was paid.
    pub paid_at: Option<DateTime<Utc>>,
    /// When it was voided.
    pub voided_at: Option<DateTime<Utc>>,
    /// The latest Stripe Checkout Session.
    pub checkout_session_id: Option<String>,
    /// Its payment page.
    pub checkout_url: Option<String>,
    /// When it was created (sessions expire after a day).
    pub checkout_created_at: Option<DateTime<Utc>>,
    /// Overdue reminders sent.
    pub reminders_sent: i64,
    /// When the last one was queued.
    pub last_reminder_at: Option<DateTime<Utc>>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// The buyer as billed.
    #[sqlx(flatten)]
    pub buyer: BuyerRow,
}

/// The buyer as an invoice was addressed when issued.
#[derive(Debug, Clone, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct BuyerRow {
    /// Full name.
    pub buyer_name: Option<String>,
    /// Company.
    pub buyer_company: Option<String>,
    /// Street and city.
    pub buyer_address: Option<String>,
    /// Country code.
    pub buyer_country: Option<String>,
    /// Region.
    pub buyer_region: Option<String>,
    /// Tax id.
    pub buyer_tax_id: Option<String>,
}

/// A row of `invoice_lines`.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LineRow {
    /// Primary key.
    pub id: i64,
    /// The invoice.
    pub invoice_id: i64,
    /// What is charged.
    pub description: String,
    /// How many.
    pub quantity: i64,
    /// Price of one in minor units.
    pub unit_amount_minor: i64,
    /// `quantity × unit` in minor units, net of tax.
    pub amount_minor: i64,
    /// The tax rate applied, if any.
    pub tax_rate_id: Option<i64>,
    /// Its name then (`VAT`).
    pub tax_name: Option<String>,
    /// Its rate then, in basis points.
    pub tax_rate_bp: i64,
    /// The line's tax in minor units.
    pub tax_minor: i64,
}

const COLUMNS: &str = "id, number, customer_id, kind, status, plan_id, billing_cycle, license_id, hosting_account_id, \
    order_username, currency, total_minor, subtotal_minor, tax_minor, credit_applied_minor, prices_include_tax, reverse_charge, \
    period_start, period_end, due_at, paid_at, voided_at, \
    checkout_session_id, checkout_url, checkout_created_at, reminders_sent, last_reminder_at, created_at, updated_at, \
    buyer_name, buyer_company, buyer_address, buyer_country, buyer_region, buyer_tax_id, late_fee_for";

/// Inserts an invoice (the row's `id` is ignored).
pub async fn insert(tx: &mut Tx, i: &InvoiceRow) -> Result<InvoiceRow, StoreError> {
    insert_many(tx, std::slice::from_ref(i))
        .await?
        .pop()
        .ok_or_else(|| sqlx::Error::RowNotFound.into())
}

/// Inserts invoices in one statement; returns them as stored, in the order given (they
/// must have distinct numbers: the order is restored by number, as RETURNING has none).
pub async fn insert_many(tx: &mut Tx, rows: &[InvoiceRow]) -> Result<Vec<InvoiceRow>, StoreError> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    const FIELDS: usize = 35;
    let sql = format!(
        "INSERT INTO invoices (customer_id, kind, status, plan_id, billing_cycle, license_id, hosting_account_id, \
         order_username, currency, total_minor, period_start, period_end, due_at, paid_at, voided_at, \
         checkout_session_id, checkout_url, checkout_created_at, reminders_sent, last_reminder_at, created_at, updated_at, \
         number, subtotal_minor, tax_minor, prices_include_tax, reverse_charge, \
         buyer_name, buyer_company, buyer_address, buyer_country, buyer_region, buyer_tax_id, credit_applied_minor, late_fee_for) \
         VALUES {} RETURNING {COLUMNS}",
        super::values_lists(rows.len(), FIELDS)
    );
    let mut saved = on_conn!(tx, |c| {
        let mut q = sqlx::query_as::<_, InvoiceRow>(&sql);
        for i in rows {
            q = q
                .bind(i.customer_id)
                .bind(&i.kind)
                .bind(&i.status)
                .bind(i.plan_id)
                .bind(&i.billing_cycle)
                .bind(i.license_id)
                .bind(i.hosting_account_id)
                .bind(&i.order_username)
                .bind(&i.currency)
                .bind(i.total_minor)
                .bind(i.period_start)
                .bind(i.period_end)
                .bind(i.due_at)
                .bind(i.paid_at)
                .bind(i.voided_at)
                .bind(&i.checkout_session_id)
                .bind(&i.checkout_url)
                .bind(i.checkout_created_at)
                .bind(i.reminders_sent)
                .bind(i.last_reminder_at)
                .bind(i.created_at)
                .bind(i.updated_at)
                .bind(&i.number)
                .bind(i.subtotal_minor)
                .bind(i.tax_minor)
                .bind(i.prices_include_tax)
                .bind(i.reverse_charge)
                .bind(&i.buyer.buyer_name)
                .bind(&i.buyer.buyer_company)
                .bind(&i.buyer.buyer_address)
                .bind(&i.buyer.buyer_country)
                .bind(&i.buyer.buyer_region)
                .bind(&i.buyer.buyer_tax_id)
                .bind(i.credit_applied_minor)
                .bind(i.late_fee_for);
        }
        q.fetch_all(c).await
    })?;
    if rows.len() > 1 {
        let order: std::collections::HashMap<&Option<String>, usize> = rows
            .iter()
            .enumerate()
            .map(|(n, r)| (&r.number, n))
            .collect();
        saved.sort_by_key(|r| order.get(&r.number).copied().unwrap_or(usize::MAX));
    }
    Ok(saved)
}

/// Inserts invoice lines in one statement.
pub async fn insert_lines(tx: &mut Tx, lines: &[LineRow]) -> Result<(), StoreError> {
    if lines.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "INSERT INTO invoice_lines (invoice_id, description, quantity, unit_amount_minor, amount_minor, \
         tax_rate_id, tax_name, tax_rate_bp, tax_minor) VALUES {}",
        super::values_lists(lines.len(), 9)
    );
    on_conn!(tx, |c| {
        let mut q = sqlx::query(&sql);
        for l in lines {
            q = q
                .bind(l.invoice_id)
                .bind(&l.description)
                .bind(l.quantity)
                .bind(l.unit_amount_minor)
                .bind(l.amount_minor)
                .bind(l.tax_rate_id)
                .bind(&l.tax_name)
                .bind(l.tax_rate_bp)
                .bind(l.tax_minor);
        }
        q.execute(c).await.map(|r| r.rows_affected())
    })?;
    Ok(())
}

/// The lines of an invoice in order.
pub async fn lines(conn: &mut impl AsConn, invoice_id: i64) -> Result<Vec<LineRow>, StoreError> {
    let rows = on_conn!(conn, |c| sqlx::query_as::<_, LineRow>(
        "SELECT id, invoice_id, description, quantity, unit_amount_minor, amount_minor, \
         tax_rate_id, tax_name, tax_rate_bp, tax_minor \
         FROM invoice_lines WHERE invoice_id = $1 ORDER BY id"
    )
    .bind(invoice_id)
    .fetch_all(c)
    .await)?;
    Ok(rows)
}

/// Finds an invoice by id.
pub async fn find(conn: &mut impl AsConn, id: i64) -> Result<Option<InvoiceRow>, StoreError> {
    super::find_row(conn, "invoices", COLUMNS, id, None).await
}

/// Finds an invoice by id only if `customer_id` owes it.
pub async fn find_owned(
    conn: &mut impl AsConn,
    id: i64,
    customer_id: i64,
) -> Result<Option<InvoiceRow>, StoreError> {
    super::find_row(conn, "invoices", COLUMNS, id, Some(customer_id)).await
}

/// One page of invoices newest first, optionally one customer's and in one status.
pub async fn list(
    conn: &mut impl AsConn,
    customer_id: Option<i64>,
    status: Option<&str>,
    number: Option<&str>,
    page: Page,
) -> Result<Listed<InvoiceRow>, StoreError> {
    let filters = Filters::new()
        .eq("customer_id", customer_id)
        .eq("status", status)
        .eq("number", number);
    super::list_page(conn, "invoices", COLUMNS, filters, page).await
}

/// Holds the invoice's row lock until the transaction ends, so two deliveries about
/// one payment are applied one after the other (SQLite serialises writers anyway).
pub async fn lock(tx: &mut Tx, id: i64) -> Result<(), StoreError> {
    super::lock_row(tx, "invoices", id).await
}

/// The open order, of any customer, that holds this hosting username.
pub async fn open_order_for(
    conn: &mut impl AsConn,
    username: &str,
) -> Result<Option<InvoiceRow>, StoreError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM invoices WHERE order_username = $1 AND kind = 'order' AND status = 'open'"
    );
    let row = on_conn!(conn, |c| sqlx::query_as::<_, InvoiceRow>(&sql)
        .bind(username)
        .fetch_optional(c)
        .await)?;
    Ok(row)
}

/// How an open invoice is closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Closing {
    /// Paid: `paid_at` is set.
    Paid,
    /// Voided: `voided_at` is set.
    Void,
}

/// Closes an open invoice; `false` when it was not open (paid already, or void).
pub async fn close(
    tx: &mut Tx,
    id: i64,
    how: Closing,
    at: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let sql = match how {
        Closing::Paid => {
            "UPDATE invoices SET status = 'paid', paid_at = $2, updated_at = $2 WHERE id = $1 AND status = 'open'"
        }
        Closing::Void => {
            "UPDATE invoices SET status = 'void', voided_at = $2, updated_at = $2 WHERE id = $1 AND status = 'open'"
        }
    };
    let n = on_conn!(tx, |c| sqlx::query(sql)
        .bind(id)
        .bind(at)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

/// Records what a paid order produced.
pub async fn set_fulfilment(
    tx: &mut Tx,
    id: i64,
    license_id: i64,
    hosting_account_id: Option<i64>,
) -> Result<(), StoreError> {
    on_conn!(tx, |c| {
        sqlx::query(
        "UPDATE invoices SET license_id = $2, hosting_account_id = $3, updated_at = $4 WHERE id = $1"
    )
    .bind(id)
    .bind(license_id)
    .bind(hosting_account_id)
    .bind(super::now())
    .execute(c)
    .await
    .map(|r| r.rows_affected())
    })?;
    Ok(())
}

/// Stores the latest checkout session of an invoice.
pub async fn set_checkout(
    tx: &mut Tx,
    id: i64,
    session_id: &str,
    url: &str,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    on_conn!(tx, |c| {
        sqlx::query(
        "UPDATE invoices SET checkout_session_id = $2, checkout_url = $3, checkout_created_at = $4, updated_at = $4 \
         WHERE id = $1"
    )
    .bind(id)
    .bind(session_id)
    .bind(url)
    .bind(at)
    .execute(c)
    .await
    .map(|r| r.rows_affected())
    })?;
    Ok(())
}

/// Counts a reminder if none was counted since `seen` reminders; `false` when another run did.
pub async fn count_reminder(
    tx: &mut Tx,
    id: i64,
    seen: i64,
    at: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let n = on_conn!(tx, |c| {
        sqlx::query(
        "UPDATE invoices SET reminders_sent = reminders_sent + 1, last_reminder_at = $3, updated_at = $3 \
         WHERE id = $1 AND reminders_sent = $2 AND status = 'open'"
    )
    .bind(id)
    .bind(seen)
    .bind(at)
    .execute(c)
    .await
    .map(|r| r.rows_affected())
    })?;
    Ok(n == 1)
}

/// Open invoices due before `now`, oldest first.
pub async fn overdue(
    conn: &mut impl AsConn,
    now: DateTime<Utc>,
    after: (DateTime<Utc>, i64),
    limit: i64,
) -> Result<Vec<InvoiceRow>, StoreError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM invoices WHERE status = 'open' AND due_at < $1 \
         AND (due_at, id) > ($2, $3) ORDER BY due_at, id LIMIT $4"
    );
    let rows = on_conn!(conn, |c| sqlx::query_as::<_, InvoiceRow>(&sql)
        .bind(now)
        .bind(after.0)
        .bind(after.1)
        .bind(limit)
        .fetch_all(c)
        .await)?;
    Ok(rows)
}

/// The renewal invoice of a license for the period starting at `period_start`.
pub async fn renewal_for(
    conn: &mut impl AsConn,
    license_id: i64,
    period_start: DateTime<Utc>,
) -> Result<Option<InvoiceRow>, StoreError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM invoices WHERE kind = 'renewal' AND license_id = $1 AND period_start = $2"
    );
    let row = on_conn!(conn, |c| sqlx::query_as::<_, InvoiceRow>(&sql)
        .bind(license_id)
        .bind(period_start)
        .fetch_optional(c)
        .await)?;
    Ok(row)
}

/// Active or suspended licenses expiring before `horizon` without a renewal invoice for
/// that period, in `(expires_at, id)` order after `after`.
pub async fn licenses_to_renew(
    conn: &mut impl AsConn,
    horizon: DateTime<Utc>,
    after: (DateTime<Utc>, i64),
    limit: i64,
) -> Result<Vec<super::licenses::LicenseRow>, StoreError> {
    // The renewal check is a probe of invoices_renewal_period_idx per candidate, in key
    // order. PostgreSQL would turn NOT EXISTS into an anti-join whose plan depends on fresh
    // statistics (right after many licenses changed it chose a nested loop over every
    // renewal invoice: minutes); `OFFSET 0` keeps it a per-row probe on any statistics.
    let fence = match conn.raw() {
        super::RawConn::Postgres(_) => " OFFSET 0",
        super::RawConn::Sqlite(_) => "",
    };
    let columns = super::qualified("l", super::licenses::COLUMNS);
    let sql = format!(
        "SELECT {columns} FROM licenses l WHERE l.status IN ('active', 'suspended') AND l.auto_renew \
         AND l.expires_at <= $1 AND (l.expires_at, l.id) > ($2, $3) \
         AND NOT EXISTS (SELECT 1 FROM invoices i WHERE i.kind = 'renewal' AND i.license_id = l.id \
         AND i.period_start = l.expires_at{fence}) ORDER BY l.expires_at, l.id LIMIT $4"
    );
    let rows = on_conn!(conn, |c| {
        sqlx::query_as::<_, super::licenses::LicenseRow>(&sql)
            .bind(horizon)
            .bind(after.0)
            .bind(after.1)
            .bind(limit)
            .fetch_all(c)
            .await
    })?;
    Ok(rows)
}

/// Takes the right to ask Stripe about the invoice's Checkout Session now, unless it was
/// taken since `not_since`; `false`: asked too recently.
pub async fn claim_checkout_check(
    conn: &mut impl AsConn,
    id: i64,
    now: DateTime<Utc>,
    not_since: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let n = on_conn!(conn, |c| sqlx::query(
        "UPDATE invoices SET checkout_checked_at = $2 WHERE id = $1 \
         AND (checkout_checked_at IS NULL OR checkout_checked_at < $3)"
    )
    .bind(id)
    .bind(now)
    .bind(not_since)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

/// Open invoices with a Checkout Session created after `since`, oldest first.
pub async fn open_with_checkout(
    conn: &mut impl AsConn,
    since: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<i64>, StoreError> {
    let ids = on_conn!(conn, |c| sqlx::query_scalar::<_, i64>(
        "SELECT id FROM invoices WHERE status = 'open' AND checkout_session_id IS NOT NULL \
         AND checkout_created_at > $1 ORDER BY checkout_created_at, id LIMIT $2"
    )
    .bind(since)
    .bind(limit)
    .fetch_all(c)
    .await)?;
    Ok(ids)
}

/// Open renewals due before `cutoff` that have no late fee yet, oldest first.
pub async fn late_fee_due(
    conn: &mut impl AsConn,
    cutoff: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<InvoiceRow>, StoreError> {
    let columns = super::qualified("i", COLUMNS);
    let sql = format!(
        "SELECT {columns} FROM invoices i WHERE i.status = 'open' AND i.kind = 'renewal' AND i.due_at < $1 \
         AND NOT EXISTS (SELECT 1 FROM invoices f WHERE f.kind = 'late_fee' AND f.late_fee_for = i.id) \
         ORDER BY i.due_at, i.id LIMIT $2"
    );
    let rows = on_conn!(conn, |c| sqlx::query_as::<_, InvoiceRow>(&sql)
        .bind(cutoff)
        .bind(limit)
        .fetch_all(c)
        .await)?;
    Ok(rows)
}
