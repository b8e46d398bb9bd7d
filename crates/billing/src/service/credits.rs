//! A customer's credit balance per currency: added by downgrades taken at once and by
//! admins (with a reason, audited), used up by the next invoices automatically.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::audit::{self, Change};
use super::invoices::amount_text;
use super::{Actor, ServiceError};
use crate::domain::money::{Currency, Money};
use crate::domain::text;
use crate::domain::Invalid;
use crate::store::credits::CreditEntryRow;
use crate::store::{self, Db, Tx};

/// A balance in one currency.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Balance {
    /// ISO-4217 code.
    pub currency: String,
    /// Minor units the customer is owed.
    pub balance: i64,
    /// For people, e.g. `4.50 USD`.
    pub balance_display: String,
}

/// One change of a balance.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CreditEntry {
    /// Entry id.
    pub id: i64,
    /// ISO-4217 code.
    pub currency: String,
    /// Minor units added (positive) or used (negative).
    pub amount: i64,
    /// For people.
    pub amount_display: String,
    /// Why.
    pub reason: String,
    /// The invoice it paid part of.
    pub invoice_id: Option<i64>,
    /// The plan change it came from.
    pub plan_change_id: Option<i64>,
    /// Who made it.
    pub created_by: String,
    /// When.
    pub created_at: DateTime<Utc>,
}

impl From<&CreditEntryRow> for CreditEntry {
    fn from(e: &CreditEntryRow) -> Self {
        CreditEntry {
            id: e.id,
            currency: e.currency.clone(),
            amount: e.amount_minor,
            amount_display: amount_text(e.amount_minor, &e.currency),
            reason: e.reason.clone(),
            invoice_id: e.invoice_id,
            plan_change_id: e.plan_change_id,
            created_by: e.created_by.clone(),
            created_at: e.created_at,
        }
    }
}

/// A customer's credit: balances and the latest entries.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Credit {
    /// One per currency the customer ever had credit in.
    pub balances: Vec<Balance>,
    /// The latest 100 entries, newest first.
    pub entries: Vec<CreditEntry>,
}

/// Body of `POST /api/v1/customers/{id}/credit`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreditAdjustment {
    /// ISO-4217 code.
    pub currency: String,
    /// Minor units to add (positive) or take away (negative); never below a zero balance.
    pub amount: i64,
    /// Why (shown to the customer and kept in the audit log).
    pub reason: String,
}

async fn credit_of(
    conn: &mut impl store::AsConn,
    customer_id: i64,
) -> Result<Credit, ServiceError> {
    let balances = store::credits::balances(conn, customer_id)
        .await?
        .into_iter()
        .map(|(currency, balance)| Balance {
            balance_display: amount_text(balance, &currency),
            currency,
            balance,
        })
        .collect();
    let entries = store::credits::entries(conn, customer_id)
        .await?
        .iter()
        .map(CreditEntry::from)
        .collect();
    Ok(Credit { balances, entries })
}

/// The caller's own credit.
pub async fn mine(db: &Db, actor: &Actor) -> Result<Credit, ServiceError> {
    let me = actor.user_id.ok_or(ServiceError::NotFound("customer"))?;
    let mut conn = db.conn().await?;
    credit_of(&mut conn, me).await
}

/// A customer's credit (admin, staff).
pub async fn of_customer(db: &Db, actor: &Actor, customer_id: i64) -> Result<Credit, ServiceError> {
    actor.require_staff()?;
    let mut conn = db.conn().await?;
    super::customers::load(&mut conn, customer_id).await?;
    credit_of(&mut conn, customer_id).await
}

/// Adds or takes away credit by hand (admin; audited).
pub async fn adjust(
    db: &Db,
    actor: &Actor,
    customer_id: i64,
    body: CreditAdjustment,
) -> Result<Credit, ServiceError> {
    actor.require_admin()?;
    let currency = Currency::parse(&body.currency)?.code();
    let reason = text::bounded("reason", &body.reason, 1, 200)?;
    if body.amount == 0 {
        return Err(Invalid::new("amount", "must not be zero").into());
    }
    if body.amount.unsigned_abs() > Money::MAX_PRICE_MINOR.unsigned_abs() {
        return Err(Invalid::new(
            "amount",
            format!(
                "must be at most {} minor units either way",
                Money::MAX_PRICE_MINOR
            ),
        )
        .into());
    }
    let mut tx = db.begin().await?;
    super::customers::load(&mut tx, customer_id).await?;
    // Held until the commit, so concurrent adjustments each see the one before.
    let before = store::credits::lock_balance(&mut tx, customer_id, currency).await?;
    let after = before
        .checked_add(body.amount)
        .filter(|b| *b >= 0 && *b <= Money::MAX_PRICE_MINOR)
        .ok_or_else(|| {
            Invalid::new(
                "amount",
                format!(
                    "would leave the balance below zero or above {}; the customer has {}",
                    amount_text(Money::MAX_PRICE_MINOR, currency),
                    amount_text(before, currency)
                ),
            )
        })?;
    let entry = add(
        &mut tx,
        actor,
        customer_id,
        currency,
        body.amount,
        &reason,
        None,
        None,
    )
    .await?;
    audit::record(
        &mut tx,
        actor,
        Change {
            action: "credit.adjusted",
            entity_type: "customer",
            entity_id: Some(customer_id),
            before: Some(&serde_json::json!({"currency": currency, "balance": before})),
            after: Some(&serde_json::json!({"currency": currency, "balance": after, "entry": CreditEntry::from(&entry)})),
        },
    )
    .await?;
    let credit = credit_of(&mut tx, customer_id).await?;
    tx.commit().await?;
    Ok(credit)
}

/// Writes one ledger entry in the caller's transaction.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn add(
    tx: &mut Tx,
    actor: &Actor,
    customer_id: i64,
    currency: &str,
    amount: i64,
    reason: &str,
    invoice_id: Option<i64>,
    plan_change_id: Option<i64>,
) -> Result<CreditEntryRow, ServiceError> {
    Ok(store::credits::insert(
        tx,
        &CreditEntryRow {
            id: 0,
            customer_id,
            currency: currency.to_owned(),
            amount_minor: amount,
            reason: reason.to_owned(),
            invoice_id,
            plan_change_id,
            created_by: actor.label.clone(),
            created_at: store::now(),
        },
    )
    .await?)
}
