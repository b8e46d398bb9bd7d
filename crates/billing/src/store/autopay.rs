//! Saved cards and automatic charges: the customer's Stripe Customer and autopay flag
//! (on `users`), `saved_cards`, `charge_attempts`, and the schedule columns of
//! `invoices`.

use chrono::{DateTime, Utc};

use super::{on_conn, AsConn, StoreError, Tx};

/// A row of `saved_cards`.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SavedCardRow {
    /// The customer (a user id).
    pub customer_id: i64,
    /// Stripe's PaymentMethod id.
    pub payment_method_id: String,
    /// `visa`, `mastercard`, ...
    pub brand: String,
    /// Last four digits.
    pub last4: String,
    /// Expiry month, 1 to 12.
    pub exp_month: i64,
    /// Expiry year.
    pub exp_year: i64,
    /// When it was saved.
    pub saved_at: DateTime<Utc>,
    /// The renewal date an "expires before renewal" reminder was sent for.
    pub expiry_reminded_for: Option<DateTime<Utc>>,
}

/// A row of `charge_attempts`.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AttemptRow {
    /// Primary key.
    pub id: i64,
    /// The invoice charged.
    pub invoice_id: i64,
    /// 1, 2, ... per invoice.
    pub attempt: i64,
    /// Sent to Stripe with the charge.
    pub idempotency_key: String,
    /// The card charged.
    pub payment_method_id: String,
    /// Minor units.
    pub amount_minor: i64,
    /// ISO-4217 code.
    pub currency: String,
    /// `pending`, `succeeded`, `processing`, `action_required`, `declined` or `failed`.
    pub state: String,
    /// Stripe's PaymentIntent, once known.
    pub payment_intent_id: Option<String>,
    /// The bank's decline code.
    pub decline_code: Option<String>,
    /// What happened, in words.
    pub message: Option<String>,
    /// When the attempt was recorded (just before Stripe was asked).
    pub started_at: DateTime<Utc>,
    /// When its outcome was recorded.
    pub finished_at: Option<DateTime<Utc>>,
}

const CARD_COLUMNS: &str =
    "customer_id, payment_method_id, brand, last4, exp_month, exp_year, saved_at, expiry_reminded_for";
const ATTEMPT_COLUMNS: &str =
    "id, invoice_id, attempt, idempotency_key, payment_method_id, amount_minor, currency, \
    state, payment_intent_id, decline_code, message, started_at, finished_at";

/// The customer's Stripe Customer id and whether autopay is on.
pub async fn billing_profile(
    conn: &mut impl AsConn,
    customer_id: i64,
) -> Result<Option<(Option<String>, bool)>, StoreError> {
    let row = on_conn!(conn, |c| sqlx::query_as::<_, (Option<String>, bool)>(
        "SELECT stripe_customer_id, autopay FROM users WHERE id = $1"
    )
    .bind(customer_id)
    .fetch_optional(c)
    .await)?;
    Ok(row)
}

/// Records the customer's Stripe Customer unless one is recorded; returns the one that is.
pub async fn set_stripe_customer(
    conn: &mut impl AsConn,
    customer_id: i64,
    stripe_customer: &str,
) -> Result<Option<String>, StoreError> {
    on_conn!(conn, |c| sqlx::query(
        "UPDATE users SET stripe_customer_id = $2 WHERE id = $1 AND stripe_customer_id IS NULL"
    )
    .bind(customer_id)
    .bind(stripe_customer)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(billing_profile(conn, customer_id)
        .await?
        .and_then(|(id, _)| id))
}

/// Our customer whose Stripe Customer this is.
pub async fn customer_of(
    conn: &mut impl AsConn,
    stripe_customer: &str,
) -> Result<Option<i64>, StoreError> {
    let id = on_conn!(conn, |c| sqlx::query_scalar::<_, i64>(
        "SELECT id FROM users WHERE stripe_customer_id = $1"
    )
    .bind(stripe_customer)
    .fetch_optional(c)
    .await)?;
    Ok(id)
}

/// Turns automatic payment on or off.
pub async fn set_autopay(tx: &mut Tx, customer_id: i64, on: bool) -> Result<(), StoreError> {
    on_conn!(tx, |c| sqlx::query(
        "UPDATE users SET autopay = $2 WHERE id = $1"
    )
    .bind(customer_id)
    .bind(on)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// The customer's saved card.
pub async fn card(
    conn: &mut impl AsConn,
    customer_id: i64,
) -> Result<Option<SavedCardRow>, StoreError> {
    let sql = format!("SELECT {CARD_COLUMNS} FROM saved_cards WHERE customer_id = $1");
    let row = on_conn!(conn, |c| sqlx::query_as::<_, SavedCardRow>(&sql)
        .bind(customer_id)
        .fetch_optional(c)
        .await)?;
    Ok(row)
}

/// Saves (or replaces) the customer's card.
pub async fn save_card(tx: &mut Tx, card: &SavedCardRow) -> Result<(), StoreError> {
    on_conn!(tx, |c| {
        sqlx::query(
        "INSERT INTO saved_cards (customer_id, payment_method_id, brand, last4, exp_month, exp_year, saved_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (customer_id) DO UPDATE SET \
         payment_method_id = $2, brand = $3, last4 = $4, exp_month = $5, exp_year = $6, saved_at = $7, \
         expiry_reminded_for = NULL"
    )
    .bind(card.customer_id)
    .bind(&card.payment_method_id)
    .bind(&card.brand)
    .bind(&card.last4)
    .bind(card.exp_month)
    .bind(card.exp_year)
    .bind(card.saved_at)
    .execute(c)
    .await
    .map(|r| r.rows_affected())
    })?;
    Ok(())
}

/// Forgets the customer's card; `false` when there was none.
pub async fn remove_card(tx: &mut Tx, customer_id: i64) -> Result<bool, StoreError> {
    let n = on_conn!(tx, |c| sqlx::query(
        "DELETE FROM saved_cards WHERE customer_id = $1"
    )
    .bind(customer_id)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

/// Records that the "card expires before the renewal" reminder went out for `renewal_at`;
/// `false` when it had already.
pub async fn mark_expiry_reminded(
    tx: &mut Tx,
    customer_id: i64,
    renewal_at: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let n = on_conn!(tx, |c| sqlx::query(
        "UPDATE saved_cards SET expiry_reminded_for = $2 WHERE customer_id = $1 \
         AND (expiry_reminded_for IS NULL OR expiry_reminded_for <> $2)"
    )
    .bind(customer_id)
    .bind(renewal_at)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

/// Customers with autopay and a saved card whose license renews before `horizon`, with
/// that renewal date and the card; the caller checks the expiry.
pub async fn renewals_with_cards(
    conn: &mut impl AsConn,
    now: DateTime<Utc>,
    horizon: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<(DateTime<Utc>, SavedCardRow)>, StoreError> {
    let card = super::qualified("s", CARD_COLUMNS);
    let sql = format!(
        "SELECT MIN(l.expires_at) AS renews_at, {card} FROM licenses l \
         JOIN users u ON u.id = l.customer_id AND u.autopay \
         JOIN saved_cards s ON s.customer_id = l.customer_id \
         WHERE l.status = 'active' AND l.expires_at > $1 AND l.expires_at <= $2 \
         GROUP BY {card} ORDER BY renews_at LIMIT $3"
    );
    #[derive(sqlx::FromRow)]
    struct Row {
        renews_at: DateTime<Utc>,
        #[sqlx(flatten)]
        card: SavedCardRow,
    }
    let rows = on_conn!(conn, |c| sqlx::query_as::<_, Row>(&sql)
        .bind(now)
        .bind(horizon)
        .bind(limit)
        .fetch_all(c)
        .await)?;
    Ok(rows.into_iter().map(|r| (r.renews_at, r.card)).collect())
}

/// Open renewal invoices due by `now` whose next automatic attempt may run, of
/// customers with autopay on and a saved card, by id after `after_id` (keyset: a run
/// walks all of them in batches, whatever happens to each).
pub async fn invoices_to_charge(
    conn: &mut impl AsConn,
    now: DateTime<Utc>,
    max_tries: i64,
    after_id: i64,
    limit: i64,
) -> Result<Vec<i64>, StoreError> {
    let ids = on_conn!(conn, |c| sqlx::query_scalar::<_, i64>(
        "SELECT i.id FROM invoices i \
         JOIN users u ON u.id = i.customer_id AND u.autopay \
         JOIN saved_cards s ON s.customer_id = i.customer_id \
         WHERE i.status = 'open' AND i.kind = 'renewal' AND i.due_at <= $1 AND i.total_minor > 0 \
         AND i.autopay_tries < $2 AND (i.next_charge_at IS NULL OR i.next_charge_at <= $1) \
         AND i.id > $3 ORDER BY i.id LIMIT $4"
    )
    .bind(now)
    .bind(max_tries)
    .bind(after_id)
    .bind(limit)
    .fetch_all(c)
    .await)?;
    Ok(ids)
}

/// An invoice's place in its schedule: tries made, and when the next may run.
pub async fn schedule_of(
    conn: &mut impl AsConn,
    invoice_id: i64,
) -> Result<(i64, Option<DateTime<Utc>>), StoreError> {
    let row = on_conn!(conn, |c| sqlx::query_as::<_, (i64, Option<DateTime<Utc>>)>(
        "SELECT autopay_tries, next_charge_at FROM invoices WHERE id = $1"
    )
    .bind(invoice_id)
    .fetch_optional(c)
    .await)?;
    Ok(row.unwrap_or((0, None)))
}

/// Moves an invoice along its schedule.
pub async fn set_schedule(
    tx: &mut Tx,
    invoice_id: i64,
    tries: i64,
    next_at: Option<DateTime<Utc>>,
) -> Result<(), StoreError> {
    on_conn!(tx, |c| sqlx::query(
        "UPDATE invoices SET autopay_tries = $2, next_charge_at = $3 WHERE id = $1"
    )
    .bind(invoice_id)
    .bind(tries)
    .bind(next_at)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// A new card starts the schedule of the customer's open renewals over.
pub async fn restart_schedules(tx: &mut Tx, customer_id: i64) -> Result<u64, StoreError> {
    let n = on_conn!(tx, |c| sqlx::query(
        "UPDATE invoices SET autopay_tries = 0, next_charge_at = NULL \
         WHERE customer_id = $1 AND status = 'open' AND kind = 'renewal'"
    )
    .bind(customer_id)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(n)
}

/// The attempts of an invoice, first first.
pub async fn attempts(
    conn: &mut impl AsConn,
    invoice_id: i64,
) -> Result<Vec<AttemptRow>, StoreError> {
    let sql = format!(
        "SELECT {ATTEMPT_COLUMNS} FROM charge_attempts WHERE invoice_id = $1 ORDER BY attempt"
    );
    let rows = on_conn!(conn, |c| sqlx::query_as::<_, AttemptRow>(&sql)
        .bind(invoice_id)
        .fetch_all(c)
        .await)?;
    Ok(rows)
}

/// Records an attempt before Stripe is asked (state `pending`); the unique
/// (invoice, attempt) pair makes a racing second writer fail with `Duplicate`.
pub async fn start_attempt(tx: &mut Tx, a: &AttemptRow) -> Result<AttemptRow, StoreError> {
    let sql = format!(
        "INSERT INTO charge_attempts (invoice_id, attempt, idempotency_key, payment_method_id, amount_minor, \
         currency, state, started_at) VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7) RETURNING {ATTEMPT_COLUMNS}"
    );
    let row = on_conn!(tx, |c| sqlx::query_as::<_, AttemptRow>(&sql)
        .bind(a.invoice_id)
        .bind(a.attempt)
        .bind(&a.idempotency_key)
        .bind(&a.payment_method_id)
        .bind(a.amount_minor)
        .bind(&a.currency)
        .bind(a.started_at)
        .fetch_one(c)
        .await)?;
    Ok(row)
}

/// How an attempt ended.
#[derive(Debug, Clone)]
pub struct AttemptEnd<'a> {
    /// The final state.
    pub state: &'a str,
    /// Stripe's PaymentIntent, when known.
    pub payment_intent_id: Option<&'a str>,
    /// The bank's decline code.
    pub decline_code: Option<&'a str>,
    /// What happened, in words.
    pub message: Option<&'a str>,
    /// When.
    pub at: DateTime<Utc>,
}

/// Records the outcome of a pending attempt; `false` when it was no longer pending
/// (another instance recorded it first).
pub async fn finish_attempt(
    tx: &mut Tx,
    id: i64,
    end: &AttemptEnd<'_>,
) -> Result<bool, StoreError> {
    let n = on_conn!(tx, |c| {
        sqlx::query(
        "UPDATE charge_attempts SET state = $2, payment_intent_id = COALESCE($3, payment_intent_id), \
         decline_code = $4, message = $5, finished_at = $6 WHERE id = $1 AND state IN ('pending', 'processing')"
    )
    .bind(id)
    .bind(end.state)
    .bind(end.payment_intent_id)
    .bind(end.decline_code)
    .bind(end.message)
    .bind(end.at)
    .execute(c)
    .await
    .map(|r| r.rows_affected())
    })?;
    Ok(n == 1)
}

/// Attempts still pending or processing since before `before` (their instance died
/// mid-call, or Stripe has not decided yet): to be asked again.
pub async fn unsettled_attempts(
    conn: &mut impl AsConn,
    before: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<AttemptRow>, StoreError> {
    let sql = format!(
        "SELECT {ATTEMPT_COLUMNS} FROM charge_attempts WHERE state IN ('pending', 'processing') \
         AND started_at < $1 ORDER BY started_at LIMIT $2"
    );
    let rows = on_conn!(conn, |c| sqlx::query_as::<_, AttemptRow>(&sql)
        .bind(before)
        .bind(limit)
        .fetch_all(c)
        .await)?;
    Ok(rows)
}

/// The currency of the customer's newest invoice: what a card saved now will pay in.
pub async fn usual_currency(
    conn: &mut impl AsConn,
    customer_id: i64,
) -> Result<Option<String>, StoreError> {
    let currency = on_conn!(conn, |c| sqlx::query_scalar::<_, String>(
        "SELECT currency FROM invoices WHERE customer_id = $1 ORDER BY id DESC LIMIT 1"
    )
    .bind(customer_id)
    .fetch_optional(c)
    .await)?;
    Ok(currency)
}

/// Whether an invoice still has automatic attempts ahead (autopay on, a card saved,
/// tries left): reminders wait until they are used up.
pub async fn attempts_ahead(
    conn: &mut impl AsConn,
    invoice_id: i64,
    max_tries: i64,
) -> Result<bool, StoreError> {
    let n: i64 = on_conn!(conn, |c| sqlx::query_scalar(
        "SELECT COUNT(*) FROM invoices i \
         JOIN users u ON u.id = i.customer_id AND u.autopay \
         JOIN saved_cards s ON s.customer_id = i.customer_id \
         WHERE i.id = $1 AND i.kind = 'renewal' AND i.autopay_tries < $2"
    )
    .bind(invoice_id)
    .bind(max_tries)
    .fetch_one(c)
    .await)?;
    Ok(n > 0)
}

/// When the oldest automatic charge still waiting for its outcome started.
pub async fn oldest_unsettled(conn: &mut impl AsConn) -> Result<Option<DateTime<Utc>>, StoreError> {
    let at = on_conn!(conn, |c| sqlx::query_scalar::<_, Option<DateTime<Utc>>>(
        "SELECT MIN(started_at) FROM charge_attempts WHERE state IN ('pending', 'processing')"
    )
    .fetch_one(c)
    .await)?;
    Ok(at)
}
