//! Paying invoices: Stripe Checkout links and manual payments recorded by an admin, and
//! the one path every payment takes (the webhook in [`super::stripe_webhook`], the
//! return page, the sweep and automatic charges too). Whatever the route, a paid invoice is applied once,
//! in one transaction: the payment row, the invoice status, the license, the hosting
//! account with its provision job, and the messages. A replayed event, a second
//! delivery or a second event for the same payment changes nothing.

use chrono::Duration;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::audit::{self, Change};
use super::invoices::{self, Invoice};
use super::provisioning::{self, NewAccount};
use super::{random_bytes, Actor, ServiceError};
use crate::config::Settings;
use crate::domain::hosting::{self, AccountState};
use crate::domain::invoice::{self as invoice_rules, InvoiceStatus};
use crate::domain::license::{self, LicenseStatus};
use crate::domain::plan::BillingCycle;
use crate::domain::role::Role;
use crate::jobs::{self, Payload};
use crate::payments::stripe::Settlement;
use crate::payments::stripe_client::CheckoutRequest;
use crate::store::invoices::InvoiceRow;
use crate::store::payments::PaymentRow;
use crate::store::{self, Db, Tx};
use crate::vault::Vault;

/// Suspensions for non-payment start with this, so a payment lifts exactly those.
pub const NON_PAYMENT: &str = "non-payment";

/// A Checkout Session is reused while younger than this (Stripe expires them after 24 h).
const CHECKOUT_REUSE_HOURS: i64 = 23;

/// Where to pay an invoice.
#[derive(Debug, Serialize, ToSchema)]
pub struct CheckoutLink {
    /// The invoice.
    pub invoice_id: i64,
    /// Its number.
    pub number: String,
    /// Stripe's payment page: send the customer there.
    pub url: String,
    /// The Checkout Session id.
    pub session_id: String,
}

/// Body of `POST /api/v1/invoices/{id}/mark-paid`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ManualPayment {
    /// The bank transfer or receipt reference, 1 to 200 characters.
    pub reference: String,
}

/// The dependencies of applying a payment.
pub struct PaymentContext<'a> {
    /// The database.
    pub db: &'a Db,
    /// The configuration.
    pub settings: &'a Settings,
    /// Seals the generated hosting password until the job uses it.
    pub vault: &'a Vault,
    /// Wakes the job workers after a commit.
    pub wake: &'a tokio::sync::Notify,
}

/// A Stripe Checkout link for an open invoice the caller owes (or any, for an admin).
pub async fn checkout(
    db: &Db,
    settings: &Settings,
    actor: &Actor,
    id: i64,
) -> Result<CheckoutLink, ServiceError> {
    if actor.role == Role::Staff {
        return Err(ServiceError::Forbidden(
            "staff cannot start payments; the customer or an admin can",
        ));
    }
    let client = super::cards::stripe(settings)?;
    let mut conn = db.conn().await?;
    let row = invoices::load_owned(&mut conn, actor, id).await?;
    let customer = store::users::find(&mut conn, row.customer_id)
        .await?
        .ok_or(ServiceError::NotFound("customer"))?;
    let plan = store::plans::find(&mut conn, row.plan_id)
        .await?
        .ok_or(ServiceError::NotFound("plan"))?;
    if row.kind == "order" && row.status == InvoiceStatus::Open.as_str() {
        // The fleet may have filled up since the order: better no payment than a wait.
        invoices::require_room(&mut conn, settings, &plan).await?;
    }
    if super::capture::pending_for(&mut conn, id).await? {
        return Err(ServiceError::Conflict {
            field: None,
            message: "the card payment of this invoice is authorized; it is taken once the hosting is ready".into(),
        });
    }
    drop(conn);
    if row.status != InvoiceStatus::Open.as_str() {
        return Err(invoices::not_open(&row, "paid"));
    }
    let now = store::now();
    if let (Some(session), Some(url), Some(at)) = (
        &row.checkout_session_id,
        &row.checkout_url,
        row.checkout_created_at,
    ) {
        if now - at < Duration::hours(CHECKOUT_REUSE_HOURS) {
            return Ok(CheckoutLink {
                invoice_id: id,
                number: invoices::number_of(&row),
                url: url.clone(),
                session_id: session.clone(),
            });
        }
    }
    // The card is saved to the customer's Stripe Customer for automatic renewals.
    let stripe_customer = super::cards::stripe_customer(db, &client, &customer).await?;
    let request = CheckoutRequest {
        invoice_id: id,
        description: format!(
            "{} {} ({})",
            invoices::number_of(&row),
            plan.name,
            row.billing_cycle
        ),
        amount: row.total_minor,
        currency: row.currency.clone(),
        customer: Some(stripe_customer),
        customer_email: customer.email,
        // Hosting is only charged for once it exists, when the shop says so.
        manual_capture: captured_later(settings, &row),
        success_url: return_url(&settings.stripe.success_url, settings, id),
        cancel_url: return_url(&settings.stripe.cancel_url, settings, id),
        // Clicks racing each other within the hour get the same session from Stripe.
        idempotency_key: format!("nextpanel-bill-invoice-{id}-{}", now.timestamp() / 3_600),
    };
    let session = client
        .create_checkout_session(&request)
        .await
        .map_err(|e| ServiceError::PaymentProvider(e.to_string()))?;
    let mut tx = db.begin().await?;
    store::invoices::set_checkout(&mut tx, id, &session.id, &session.url, now).await?;
    tx.commit().await?;
    Ok(CheckoutLink {
        invoice_id: id,
        number: invoices::number_of(&row),
        url: session.url,
        session_id: session.id,
    })
}

/// Whether this invoice's Checkout only authorizes the card: an order that creates a
/// hosting account, in a shop that captures after provisioning.
fn captured_later(settings: &Settings, row: &InvoiceRow) -> bool {
    settings.collection.capture_after_provisioning
        && row.kind == "order"
        && row.order_username.is_some()
}

fn return_url(template: &str, settings: &Settings, invoice_id: i64) -> String {
    template
        .replace("{public_url}", &settings.public_url)
        .replace("{invoice_id}", &invoice_id.to_string())
}

/// Places an order (see [`invoices::place_order`]); an order that costs nothing (a free
/// plan) is settled at once, so its hosting account is created without a payment step.
pub async fn order(
    ctx: &PaymentContext<'_>,
    actor: &Actor,
    customer_id: i64,
    body: invoices::NewOrder,
) -> Result<Invoice, ServiceError> {
    let placed = invoices::place_order(ctx.db, ctx.settings, actor, customer_id, body).await?;
    if placed.total != 0 {
        return Ok(placed);
    }
    settle_without_payment(ctx, placed.id, &placed.number).await?;
    invoices::view(ctx.db, actor, placed.id).await
}

/// Settles an invoice with nothing left to pay (a free plan, or one the credit balance
/// paid): as a payment of 0, so it is fulfilled exactly as a paid one.
pub(crate) async fn settle_without_payment(
    ctx: &PaymentContext<'_>,
    invoice_id: i64,
    number: &str,
) -> Result<(), ServiceError> {
    let mut tx = ctx.db.begin().await?;
    let row = store::invoices::find(&mut tx, invoice_id)
        .await?
        .ok_or(ServiceError::NotFound("invoice"))?;
    let settlement = Settlement {
        invoice_id,
        reference: format!("free:{number}"),
        amount: 0,
        currency: row.currency.clone(),
        message: None,
    };
    apply_payment(ctx, &mut tx, &Actor::system(), "manual", &settlement).await?;
    tx.commit().await?;
    ctx.wake.notify_waiters();
    Ok(())
}

/// Records a payment an admin received outside Stripe (bank transfer) and applies it.
pub async fn mark_paid(
    ctx: &PaymentContext<'_>,
    actor: &Actor,
    id: i64,
    body: ManualPayment,
) -> Result<Invoice, ServiceError> {
    actor.require_admin()?;
    let reference = crate::domain::text::bounded("reference", &body.reference, 1, 200)?;
    let mut tx = ctx.db.begin().await?;
    // Held from the status check to the commit: of twenty marks (or a mark and a void)
    // racing, one pays the invoice and the others see it paid.
    store::invoices::lock(&mut tx, id).await?;
    let row = store::invoices::find(&mut tx, id)
        .await?
        .ok_or(ServiceError::NotFound("invoice"))?;
    if row.status != InvoiceStatus::Open.as_str() {
        return Err(invoices::not_open(&row, "marked paid"));
    }
    // A reference is one transfer: the same one again would be taken for a replay and
    // leave this invoice open while answering as if it had been paid.
    if store::payments::succeeded_exists(&mut tx, "manual", &reference).await? {
        return Err(ServiceError::Conflict {
            field: Some("reference".into()),
            message: format!(
                "a payment with the reference '{reference}' was recorded before; give this transfer's own reference"
            ),
        });
    }
    let settlement = Settlement {
        invoice_id: id,
        reference,
        amount: row.total_minor,
        currency: row.currency.clone(),
        message: None,
    };
    apply_payment(ctx, &mut tx, actor, "manual", &settlement).await?;
    tx.commit().await?;
    ctx.wake.notify_waiters();
    invoices::get(ctx.db, actor, id).await
}

/// Records a successful payment and, if it pays an open invoice exactly, fulfils it.
pub(crate) async fn apply_payment(
    ctx: &PaymentContext<'_>,
    tx: &mut Tx,
    actor: &Actor,
    provider: &str,
    s: &Settlement,
) -> Result<String, ServiceError> {
    store::invoices::lock(tx, s.invoice_id).await?;
    let Some(row) = store::invoices::find(tx, s.invoice_id).await? else {
        tracing::error!(invoice = s.invoice_id, reference = %s.reference, "payment for an unknown invoice");
        return Ok(format!(
            "not applied: no invoice with id {}; refund {} by hand",
            s.invoice_id, s.reference
        ));
    };
    let number = invoices::number_of(&row);
    // A second event about the same PaymentIntent (completed, then async succeeded).
    // Checked first: on PostgreSQL a unique violation would abort the whole transaction.
    if store::payments::succeeded_exists(tx, provider, &s.reference).await? {
        return Ok(format!("payment {} was recorded before", s.reference));
    }
    let mismatch =
        invoice_rules::check_amount(row.total_minor, &row.currency, s.amount, &s.currency).err();
    // The invoice is locked: an open one is paid by this payment and by no other.
    let open = row.status == InvoiceStatus::Open.as_str();
    let applied = open && mismatch.is_none();
    store::payments::insert(
        tx,
        &payment_row(row.id, provider, s, "succeeded", mismatch.clone(), applied),
    )
    .await?;
    if let Some(problem) = mismatch {
        tracing::error!(invoice = row.id, %problem, "payment does not match its invoice; not applied");
        record_note(tx, actor, row.id, "payment.mismatch", &problem).await?;
        return Ok(format!("not applied to {number}: {problem}"));
    }
    if !open {
        let problem = format!(
            "{number} is {} already; payment {} needs a refund",
            row.status, s.reference
        );
        tracing::warn!(invoice = row.id, %problem, "payment for an invoice that is not open");
        record_note(tx, actor, row.id, "payment.not_applied", &problem).await?;
        return Ok(format!("not applied: {problem}"));
    }
    if !store::invoices::close(tx, row.id, store::invoices::Closing::Paid, store::now()).await? {
        return Err(ServiceError::Internal(format!(
            "{number} was open under its lock and could not be closed"
        )));
    }
    if s.amount > 0 {
        invoices::queue_message(
            tx,
            &row,
            "payment_received",
            &row.id.to_string(),
            json!({"attach_invoice": row.id}),
        )
        .await?;
    }
    let fulfilled = if row.kind == "renewal" {
        renew(ctx, tx, actor, &row).await?
    } else if row.kind == "plan_change" {
        super::plan_changes::invoice_paid(tx, ctx.settings, actor, row.id).await?
    } else if row.kind == "late_fee" {
        "late fee paid".to_owned()
    } else if row.license_id.is_some() {
        // Authorized earlier and fulfilled then; this is its capture.
        "fulfilled when the card was authorized".to_owned()
    } else {
        fulfil_order(ctx, tx, actor, &row).await?
    };
    audit::record(
        tx,
        actor,
        Change::<(), _> {
            action: "invoice.paid",
            entity_type: "invoice",
            entity_id: Some(row.id),
            before: None,
            after: Some(
                &json!({"provider": provider, "reference": s.reference, "amount": s.amount,
                "currency": row.currency, "result": fulfilled}),
            ),
        },
    )
    .await?;
    Ok(format!("{number} paid: {fulfilled}"))
}

/// The payment row recording `s` against an invoice.
pub(crate) fn payment_row(
    invoice_id: i64,
    provider: &str,
    s: &Settlement,
    status: &str,
    message: Option<String>,
    applied: bool,
) -> PaymentRow {
    PaymentRow {
        id: 0,
        invoice_id,
        provider: provider.to_owned(),
        provider_ref: s.reference.clone(),
        status: status.to_owned(),
        amount_minor: s.amount,
        currency: s.currency.to_ascii_uppercase(),
        message,
        created_at: store::now(),
        applied,
    }
}

pub(crate) async fn record_note(
    tx: &mut Tx,
    actor: &Actor,
    invoice_id: i64,
    action: &str,
    problem: &str,
) -> Result<(), ServiceError> {
    audit::record(
        tx,
        actor,
        Change::<(), _> {
            action,
            entity_type: "invoice",
            entity_id: Some(invoice_id),
            before: None,
            after: Some(&json!({ "problem": problem })),
        },
    )
    .await
}

/// A paid (or authorized) order: the license, then the hosting account and its provision job.
pub(crate) async fn fulfil_order(
    ctx: &PaymentContext<'_>,
    tx: &mut Tx,
    actor: &Actor,
    row: &InvoiceRow,
) -> Result<String, ServiceError> {
    let customer = super::customers::load(tx, row.customer_id).await?;
    let plan = store::plans::find(tx, row.plan_id)
        .await?
        .ok_or(ServiceError::NotFound("plan"))?;
    let cycle = BillingCycle::parse(&row.billing_cycle).unwrap_or(BillingCycle::Monthly);
    let license = super::licenses::issue_in(tx, actor, customer.id, &plan, cycle).await?;
    let Some(username) = row.order_username.clone() else {
        store::invoices::set_fulfilment(tx, row.id, license.id, None).await?;
        return Ok(format!("license {} issued", license.license_key));
    };
    let password = hosting::password_from_entropy(random_bytes()?);
    let sealed = ctx
        .vault
        .seal(&password)
        .map_err(|e| ServiceError::Internal(e.to_string()))?;
    let server_id = provisioning::choose_server(
        tx,
        plan.location.as_deref(),
        plan.server_group.as_deref(),
        &[],
        &username,
    )
    .await?;
    let (account, _job) = provisioning::record(
        tx,
        ctx.settings,
        actor,
        NewAccount {
            customer_id: customer.id,
            license_id: license.id,
            server_id,
            pinned_server: false,
            username,
            email: customer.email.clone(),
            account_type: plan.account_type.clone(),
            package_id: plan.package_id,
            idempotency_key: Some(format!("invoice:{}", row.id)),
            sealed_password: sealed,
        },
    )
    .await?;
    store::invoices::set_fulfilment(tx, row.id, license.id, Some(account.id)).await?;
    Ok(match server_id {
        Some(_) => format!(
            "license {} issued, hosting account {} provisioning",
            license.license_key, account.id
        ),
        None => format!(
            "license {} issued, hosting account {} waits for a usable server",
            license.license_key, account.id
        ),
    })
}

/// A paid renewal: the license runs one more period and non-payment suspensions end.
async fn renew(
    ctx: &PaymentContext<'_>,
    tx: &mut Tx,
    actor: &Actor,
    row: &InvoiceRow,
) -> Result<String, ServiceError> {
    let Some(license_id) = row.license_id else {
        return Ok("no license to renew".into());
    };
    let before = store::licenses::find(tx, license_id)
        .await?
        .ok_or(ServiceError::NotFound("license"))?;
    if before.status == LicenseStatus::Cancelled.as_str() {
        return Ok(format!(
            "license {} is cancelled; the payment needs a refund",
            before.license_key
        ));
    }
    let cycle = BillingCycle::parse(&row.billing_cycle).unwrap_or(BillingCycle::Monthly);
    let from = row
        .period_start
        .map_or(before.expires_at, |start| start.max(before.expires_at));
    let mut after = before.clone();
    after.expires_at = license::period_end(from, cycle, 1)?;
    after.status = LicenseStatus::Active.as_str().to_owned();
    after.updated_at = store::now();
    let saved = store::licenses::update(tx, &after).await?;
    // A downgrade scheduled for the period just paid for takes effect with it.
    super::plan_changes::period_started(tx, ctx.settings, actor, license_id).await?;
    audit::record(
        tx,
        actor,
        Change {
            action: "license.renewed",
            entity_type: "license",
            entity_id: Some(license_id),
            before: Some(&super::licenses::License::from(&before)),
            after: Some(&super::licenses::License::from(&saved)),
        },
    )
    .await?;
    let mut lifted = 0;
    for account in store::hosting_accounts::under_license(tx, license_id).await? {
        let suspended_for_non_payment = account.state == AccountState::Suspended.as_str()
            && account
                .suspend_reason
                .as_deref()
                .is_some_and(|r| r.starts_with(NON_PAYMENT));
        if suspended_for_non_payment {
            jobs::enqueue(
                tx,
                ctx.settings,
                &Payload::Unsuspend {
                    account_id: account.id,
                },
                &format!("unsuspend:{}:paid:{}", account.id, row.id),
            )
            .await?;
            lifted += 1;
        }
    }
    Ok(format!(
        "license {} runs until {}{}",
        saved.license_key,
        saved.expires_at.format("%Y-%m-%d"),
        if lifted > 0 {
            format!(", {lifted} account(s) unsuspended")
        } else {
            String::new()
        }
    ))
}
