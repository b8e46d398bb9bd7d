//! Customers (and admins for them) move a license to another plan mid-term.
//!
//! An upgrade issues an invoice for the prorated difference; the plan changes (license
//! quotas at once, the panel package through a job per hosting account) when it is paid.
//! A downgrade takes effect at the end of the paid period (the renewal is priced at the
//! new plan), or at once with the unused difference added to the credit balance.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::audit::{self, Change};
use super::invoices::{self, amount_text, Invoice};
use super::payments::PaymentContext;
use super::{Actor, ServiceError};
use crate::domain::invoice::{InvoiceKind, Line};
use crate::domain::license::LicenseStatus;
use crate::domain::plan::BillingCycle;
use crate::domain::plan_change::{self, Direction, Timing};
use crate::domain::quota::{self, Holdings};
use crate::domain::role::Role;
use crate::domain::Invalid;
use crate::jobs::{self, Payload};
use crate::store::licenses::LicenseRow;
use crate::store::plan_changes::PlanChangeRow;
use crate::store::plans::PlanRow;
use crate::store::{self, AsConn, Tx};

/// Body of `POST /api/v1/me/licenses/{id}/plan-change` (and the admin route).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanChangeRequest {
    /// The plan to move to (same account type, same currency).
    pub plan_id: i64,
    /// For a downgrade: `period_end` (default) or `now` (the unused difference becomes
    /// credit). Upgrades always take effect once their invoice is paid.
    #[serde(default)]
    pub timing: Timing,
}

/// A plan change as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct PlanChange {
    /// Change id.
    pub id: i64,
    /// The license.
    pub license_id: i64,
    /// The plan left.
    pub from_plan_id: i64,
    /// The plan moved to.
    pub to_plan_id: i64,
    /// `upgrade` or `downgrade`.
    pub direction: String,
    /// `awaiting_payment` (an upgrade's invoice is open), `scheduled` (a downgrade at the
    /// end of the period), `applied` or `cancelled`.
    pub state: String,
    /// An upgrade's invoice for the prorated difference.
    pub invoice: Option<Invoice>,
    /// A downgrade's credit, in minor units.
    pub credit: i64,
    /// ISO-4217 code.
    pub currency: String,
    /// When it takes (or took) effect.
    pub effective_at: DateTime<Utc>,
    /// Who asked for it.
    pub created_by: String,
    /// When.
    pub created_at: DateTime<Utc>,
}

async fn view(conn: &mut impl AsConn, row: &PlanChangeRow) -> Result<PlanChange, ServiceError> {
    let invoice = match row.invoice_id {
        Some(id) => store::invoices::find(conn, id)
            .await?
            .map(|r| Invoice::from(&r)),
        None => None,
    };
    Ok(PlanChange {
        id: row.id,
        license_id: row.license_id,
        from_plan_id: row.from_plan_id,
        to_plan_id: row.to_plan_id,
        direction: row.direction.clone(),
        state: row.state.clone(),
        invoice,
        credit: row.credit_minor,
        currency: row.currency.clone(),
        effective_at: row.effective_at,
        created_by: row.created_by.clone(),
        created_at: row.created_at,
    })
}

/// The license if the caller may see it: a customer their own, admins and staff any.
async fn license_seen_by(
    conn: &mut impl AsConn,
    actor: &Actor,
    id: i64,
) -> Result<LicenseRow, ServiceError> {
    let found = match actor.role {
        Role::Customer => {
            let me = actor.user_id.ok_or(ServiceError::NotFound("license"))?;
            store::licenses::find_owned(conn, id, me).await?
        }
        _ => {
            actor.require_staff()?;
            store::licenses::find(conn, id).await?
        }
    };
    found.ok_or(ServiceError::NotFound("license"))
}

/// The license if the caller may change it: a customer their own, an admin any.
async fn license_for(
    conn: &mut impl AsConn,
    actor: &Actor,
    id: i64,
) -> Result<LicenseRow, ServiceError> {
    if actor.role != Role::Customer {
        actor.require_admin()?;
    }
    license_seen_by(conn, actor, id).await
}

fn conflict(message: impl Into<String>) -> ServiceError {
    ServiceError::Conflict {
        field: Some("plan_id".into()),
        message: message.into(),
    }
}

/// The two plans' prices for the license's cycle, after checking the target is one the
/// license can move to.
async fn check_target(
    conn: &mut impl AsConn,
    license: &LicenseRow,
    current: &PlanRow,
    currency: &str,
    target_id: i64,
) -> Result<(PlanRow, i64, i64), ServiceError> {
    let target = store::plans::find(conn, target_id)
        .await?
        .filter(|p| p.is_active)
        .ok_or_else(|| {
            Invalid::new(
                "plan_id",
                format!("no plan with id {target_id} is for sale"),
            )
        })?;
    if target.id == current.id {
        return Err(Invalid::new("plan_id", "is the plan the license already has").into());
    }
    if target.account_type != current.account_type {
        return Err(Invalid::new(
            "plan_id",
            format!(
                "is a {} plan; this license can only move to another {} plan",
                target.account_type, current.account_type
            ),
        )
        .into());
    }
    let cycle = BillingCycle::parse(&license.billing_cycle).unwrap_or(BillingCycle::Monthly);
    let target_prices = super::plans::prices_in(conn, &target, currency)
        .await?
        .ok_or_else(|| {
            Invalid::new(
                "plan_id",
                format!("has no price in {currency}, the currency this license is billed in"),
            )
        })?;
    let current_prices = super::plans::prices_in(conn, current, currency).await?;
    let new_price = target_prices
        .price(cycle)
        .map(|m| m.minor())
        .ok_or_else(|| {
            Invalid::new(
                "plan_id",
                format!(
                    "has no {} price, the cycle this license is billed in",
                    cycle.as_str()
                ),
            )
        })?;
    let old_price = current_prices
        .and_then(|p| p.price(cycle))
        .map_or(0, |m| m.minor());
    // The new plan must hold what is in use now, or the panel and the license checks
    // would disagree from the first day.
    let held = Holdings {
        accounts: store::hosting_accounts::live_under_license(conn, license.id).await?,
        domains: store::license_usage::used(conn, license.id, "domains").await?,
        databases: store::license_usage::used(conn, license.id, "databases").await?,
        emails: store::license_usage::used(conn, license.id, "emails").await?,
    };
    quota::fits(held, super::plans::quotas_of(&target)).map_err(|problem| {
        conflict(format!(
            "cannot move to {}: {problem}; remove some first",
            target.name
        ))
    })?;
    Ok((target, old_price, new_price))
}

/// Asks for a plan change of a license (a customer's own; an admin's for anyone).
pub async fn request(
    ctx: &PaymentContext<'_>,
    actor: &Actor,
    license_id: i64,
    body: PlanChangeRequest,
) -> Result<PlanChange, ServiceError> {
    let mut tx = ctx.db.begin().await?;
    // The license is held from the checks to the commit: of racing changes one is made,
    // the others find it made (and a downgrade's credit is given once).
    store::licenses::lock(&mut tx, license_id).await?;
    let license = license_for(&mut tx, actor, license_id).await?;
    if license.status != LicenseStatus::Active.as_str() {
        return Err(conflict(format!(
            "the license is {}; only an active license can change plan{}",
            license.status,
            if license.status == LicenseStatus::Suspended.as_str() {
                " (pay what is overdue first)"
            } else {
                ""
            }
        )));
    }
    if let Some(p) = store::plan_changes::pending(&mut tx, license.id).await? {
        return Err(conflict(format!(
            "a change to plan {} is already {}; cancel it first",
            p.to_plan_id,
            p.state.replace('_', " ")
        )));
    }
    let current = store::plans::find(&mut tx, license.plan_id)
        .await?
        .ok_or(ServiceError::NotFound("plan"))?;
    let customer = store::users::find(&mut tx, license.customer_id)
        .await?
        .ok_or(ServiceError::NotFound("customer"))?;
    let currency = invoices::billing_currency(&customer, &current);
    let (target, old_price, new_price) =
        check_target(&mut tx, &license, &current, &currency, body.plan_id).await?;
    let cycle = BillingCycle::parse(&license.billing_cycle).unwrap_or(BillingCycle::Monthly);
    let now = store::now();
    let start = plan_change::period_start(license.expires_at, cycle)?;
    let direction = Direction::of(old_price, new_price);
    let mut row = PlanChangeRow {
        id: 0,
        license_id: license.id,
        customer_id: license.customer_id,
        from_plan_id: current.id,
        to_plan_id: target.id,
        direction: direction.as_str().to_owned(),
        state: "applied".to_owned(),
        invoice_id: None,
        credit_minor: 0,
        currency,
        effective_at: now,
        created_by: actor.label.clone(),
        created_at: now,
        applied_at: Some(now),
        cancelled_at: None,
    };
    match (direction, body.timing) {
        (Direction::Upgrade, _) => {
            let p = plan_change::prorate(new_price - old_price, start, license.expires_at, now);
            if p.amount > 0 {
                let line = Line {
                    description: format!(
                        "Upgrade from {} to {}, {} to {} ({} of {} days)",
                        current.name,
                        target.name,
                        now.format("%Y-%m-%d"),
                        license.expires_at.format("%Y-%m-%d"),
                        p.days_left,
                        p.days_in_period
                    ),
                    quantity: 1,
                    unit_amount: p.amount,
                };
                let invoice = store::invoices::InvoiceRow {
                    license_id: Some(license.id),
                    ..invoices::open_row(
                        &customer,
                        InvoiceKind::PlanChange,
                        &target,
                        cycle,
                        &row.currency,
                        now + Duration::days(ctx.settings.billing.order_due_days),
                        now,
                    )
                };
                let saved = invoices::create(
                    &mut tx,
                    &ctx.settings.invoicing,
                    actor,
                    &customer,
                    &invoice,
                    vec![line],
                )
                .await?;
                row.invoice_id = Some(saved.id);
                if saved.total_minor > 0 {
                    row.state = "awaiting_payment".to_owned();
                    row.applied_at = None;
                }
            }
        }
        (Direction::Downgrade, Timing::PeriodEnd) => {
            row.state = "scheduled".to_owned();
            row.effective_at = license.expires_at;
            row.applied_at = None;
        }
        (Direction::Downgrade, Timing::Now) => {
            let p = plan_change::prorate(old_price - new_price, start, license.expires_at, now);
            row.credit_minor = p.amount;
        }
    }
    let saved = store::plan_changes::insert(&mut tx, &row).await?;
    if saved.credit_minor > 0 {
        super::credits::add(
            &mut tx,
            actor,
            license.customer_id,
            &saved.currency,
            saved.credit_minor,
            &format!(
                "unused part of {} after moving to {} ({})",
                current.name,
                target.name,
                amount_text(saved.credit_minor, &saved.currency)
            ),
            None,
            Some(saved.id),
        )
        .await?;
    }
    if saved.state == "applied" {
        apply_in(&mut tx, ctx.settings, actor, &saved).await?;
    }
    let shown = view(&mut tx, &saved).await?;
    audit::record(
        &mut tx,
        actor,
        Change::<(), _> {
            action: "license.plan_change_requested",
            entity_type: "license",
            entity_id: Some(license.id),
            before: None,
            after: Some(&shown),
        },
    )
    .await?;
    tx.commit().await?;
    ctx.wake.notify_waiters();
    // Paid at once when the credit balance covered it.
    if let Some(invoice) = &shown.invoice {
        if invoice.total == 0 && shown.state == "awaiting_payment" {
            super::payments::settle_without_payment(ctx, invoice.id, &invoice.number).await?;
            let mut conn = ctx.db.conn().await?;
            let row = store::plan_changes::pending(&mut conn, license.id)
                .await?
                .unwrap_or(saved);
            return view(&mut conn, &row).await;
        }
    }
    Ok(shown)
}

/// Moves the license to the change's plan in `tx` and queues the panel package change of
/// each of its live accounts; marks the change applied.
async fn apply_in(
    tx: &mut Tx,
    settings: &crate::config::Settings,
    actor: &Actor,
    change: &PlanChangeRow,
) -> Result<(), ServiceError> {
    let plan = store::plans::find(tx, change.to_plan_id)
        .await?
        .ok_or(ServiceError::NotFound("plan"))?;
    let mut license = store::licenses::find(tx, change.license_id)
        .await?
        .ok_or(ServiceError::NotFound("license"))?;
    license.plan_id = plan.id;
    super::licenses::set_quotas(&mut license, super::plans::quotas_of(&plan));
    license.updated_at = store::now();
    store::licenses::update_plan(tx, &license).await?;
    store::plan_changes::finish(tx, change.id, "applied", store::now()).await?;
    for account in store::hosting_accounts::under_license(tx, license.id).await? {
        if !matches!(account.state.as_str(), "active" | "suspended") {
            continue;
        }
        jobs::enqueue(
            tx,
            settings,
            &Payload::ChangePlan {
                account_id: account.id,
                plan_id: plan.id,
            },
            &format!("plan-change:{}:{}", change.id, account.id),
        )
        .await?;
    }
    audit::record(
        tx,
        actor,
        Change::<(), _> {
            action: "license.plan_changed",
            entity_type: "license",
            entity_id: Some(license.id),
            before: None,
            after: Some(&json!({"plan_change": change.id, "from_plan_id": change.from_plan_id, "to_plan_id": plan.id})),
        },
    )
    .await
}

/// An upgrade's invoice was paid: the change takes effect (in the payment's transaction).
pub(crate) async fn invoice_paid(
    tx: &mut Tx,
    settings: &crate::config::Settings,
    actor: &Actor,
    invoice_id: i64,
) -> Result<String, ServiceError> {
    let Some(change) = store::plan_changes::of_invoice(tx, invoice_id).await? else {
        return Ok("no plan change to apply".into());
    };
    if change.state != "awaiting_payment" {
        return Ok(format!("plan change {} is {}", change.id, change.state));
    }
    apply_in(tx, settings, actor, &change).await?;
    Ok(format!("moved to plan {}", change.to_plan_id))
}

/// An upgrade's invoice was voided: its change will not happen.
pub(crate) async fn invoice_voided(tx: &mut Tx, invoice_id: i64) -> Result<(), ServiceError> {
    if let Some(change) = store::plan_changes::of_invoice(tx, invoice_id).await? {
        store::plan_changes::finish(tx, change.id, "cancelled", store::now()).await?;
    }
    Ok(())
}

/// The plan a license renews at, given its pending change: the target of a downgrade
/// scheduled for that period's start.
pub(crate) fn renewal_plan(
    license: &LicenseRow,
    pending: Option<&store::plan_changes::PlanChangeRow>,
) -> i64 {
    match pending {
        Some(c) if c.state == "scheduled" && c.effective_at <= license.expires_at => c.to_plan_id,
        _ => license.plan_id,
    }
}

/// A renewal was paid: a downgrade scheduled for the new period takes effect.
pub(crate) async fn period_started(
    tx: &mut Tx,
    settings: &crate::config::Settings,
    actor: &Actor,
    license_id: i64,
) -> Result<(), ServiceError> {
    if let Some(c) = store::plan_changes::pending(tx, license_id).await? {
        if c.state == "scheduled" {
            apply_in(tx, settings, actor, &c).await?;
        }
    }
    Ok(())
}

/// The license's pending change, if any, and its history.
pub async fn of_license(
    db: &crate::store::Db,
    actor: &Actor,
    license_id: i64,
) -> Result<Vec<PlanChange>, ServiceError> {
    let mut conn = db.conn().await?;
    let license = license_seen_by(&mut conn, actor, license_id).await?;
    let mut out = Vec::new();
    for row in store::plan_changes::of_license(&mut conn, license.id).await? {
        out.push(view(&mut conn, &row).await?);
    }
    Ok(out)
}

/// Cancels the license's pending change; an upgrade's open invoice is voided with it.
pub async fn cancel(
    ctx: &PaymentContext<'_>,
    actor: &Actor,
    license_id: i64,
) -> Result<PlanChange, ServiceError> {
    let mut tx = ctx.db.begin().await?;
    store::licenses::lock(&mut tx, license_id).await?;
    let license = license_for(&mut tx, actor, license_id).await?;
    let change = store::plan_changes::pending(&mut tx, license.id)
        .await?
        .ok_or(ServiceError::NotFound("pending plan change"))?;
    if let Some(invoice_id) = change.invoice_id {
        if let Some(invoice) = store::invoices::find(&mut tx, invoice_id).await? {
            invoices::void_in(&mut tx, actor, &invoice, "the plan change was cancelled").await?;
        }
    }
    store::plan_changes::finish(&mut tx, change.id, "cancelled", store::now()).await?;
    let row = PlanChangeRow {
        state: "cancelled".to_owned(),
        ..change
    };
    let shown = view(&mut tx, &row).await?;
    audit::record(
        &mut tx,
        actor,
        Change::<(), _> {
            action: "license.plan_change_cancelled",
            entity_type: "license",
            entity_id: Some(license.id),
            before: None,
            after: Some(&shown),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(shown)
}
