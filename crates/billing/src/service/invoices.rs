//! Invoices: a customer orders a plan (an open invoice), staff read every invoice, a
//! customer reads their own, an admin voids an unpaid one. Paying is in `payments`.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::audit::{self, Change};
use super::{customers, Actor, Paginated, ServiceError};
use crate::config::{InvoicingSettings, Settings};
use crate::domain::hosting::Username;
use crate::domain::invoice::{self, InvoiceKind, InvoiceStatus};
use crate::domain::money::{Currency, Money};
use crate::domain::plan::BillingCycle;
use crate::domain::role::Role;
use crate::domain::Invalid;
use crate::store::invoices::{InvoiceRow, LineRow};
use crate::store::payments::PaymentRow;
use crate::store::{self, Db, Page, Tx};

/// One line of an invoice.
#[derive(Debug, Serialize, ToSchema)]
pub struct InvoiceLine {
    /// What is charged.
    pub description: String,
    /// How many.
    pub quantity: i64,
    /// Price of one in minor units (as the plan lists it).
    pub unit_amount: i64,
    /// The line's amount net of tax, in minor units.
    pub amount: i64,
    /// The tax's name (`VAT`), if the line is taxed.
    pub tax_name: Option<String>,
    /// The tax rate in basis points (0: none).
    pub tax_rate_bp: i64,
    /// The line's tax in minor units.
    pub tax: i64,
}

/// The buyer as an invoice is addressed.
#[derive(Debug, Serialize, ToSchema)]
pub struct Buyer {
    /// Full name.
    pub name: Option<String>,
    /// Company.
    pub company: Option<String>,
    /// Street, city and postal code.
    pub address: Option<String>,
    /// Country code.
    pub country: Option<String>,
    /// Region.
    pub region: Option<String>,
    /// VAT number or tax id.
    pub tax_id: Option<String>,
}

/// A payment (or failed attempt) recorded against an invoice.
#[derive(Debug, Serialize, ToSchema)]
pub struct Payment {
    /// Payment id.
    pub id: i64,
    /// `stripe` or `manual`.
    pub provider: String,
    /// The provider's reference (PaymentIntent id, or the admin's note).
    pub reference: String,
    /// `succeeded` or `failed`.
    pub status: String,
    /// Minor units.
    pub amount: i64,
    /// ISO-4217 code.
    pub currency: String,
    /// Why it failed, or why it was not applied.
    pub message: Option<String>,
    /// When it was recorded.
    pub created_at: DateTime<Utc>,
    /// Whether it paid the invoice; a succeeded payment that did not is owed back.
    pub applied: bool,
}

impl From<&PaymentRow> for Payment {
    fn from(p: &PaymentRow) -> Self {
        Payment {
            id: p.id,
            provider: p.provider.clone(),
            reference: p.provider_ref.clone(),
            status: p.status.clone(),
            amount: p.amount_minor,
            currency: p.currency.clone(),
            message: p.message.clone(),
            created_at: p.created_at,
            applied: p.applied,
        }
    }
}

/// An invoice.
#[derive(Debug, Serialize, ToSchema)]
pub struct Invoice {
    /// Invoice id.
    pub id: i64,
    /// The number from the gapless sequence, `INV-2026-000042` (invoices issued before
    /// numbering existed keep theirs, `INV-000042`).
    pub number: String,
    /// Who owes it.
    pub customer_id: i64,
    /// The customer's name (in lists).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_name: Option<String>,
    /// The customer's email (in lists).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_email: Option<String>,
    /// `order` (a new plan) or `renewal` (the next period of a license).
    pub kind: InvoiceKind,
    /// `open`, `paid` or `void`.
    pub status: InvoiceStatus,
    /// The plan charged.
    pub plan_id: i64,
    /// The billing cycle charged.
    pub billing_cycle: String,
    /// ISO-4217 code.
    pub currency: String,
    /// What is left to pay in minor units: `subtotal + tax − credit_applied`.
    pub total: i64,
    /// The total for people, e.g. `14.99 USD`.
    pub total_display: String,
    /// Sum of the lines net of tax.
    pub subtotal: i64,
    /// Tax on the invoice.
    pub tax: i64,
    /// Credit balance that paid part of it.
    pub credit_applied: i64,
    /// Whether the plan's prices included the tax.
    pub prices_include_tax: bool,
    /// EU reverse charge: no VAT charged; `tax_note` says so.
    pub reverse_charge: bool,
    /// The note the invoice carries about tax, if any.
    pub tax_note: Option<String>,
    /// The buyer as billed when the invoice was issued.
    pub buyer: Buyer,
    /// Order: the hosting username asked for.
    pub username: Option<String>,
    /// Renewal: the license renewed; order: the license issued when it was paid.
    pub license_id: Option<i64>,
    /// Order: the hosting account created when it was paid.
    pub hosting_account_id: Option<i64>,
    /// Renewal: the period paid for.
    pub period_start: Option<DateTime<Utc>>,
    /// Renewal: end of that period.
    pub period_end: Option<DateTime<Utc>>,
    /// Due date.
    pub due_at: DateTime<Utc>,
    /// When it was paid.
    pub paid_at: Option<DateTime<Utc>>,
    /// When it was voided.
    pub voided_at: Option<DateTime<Utc>>,
    /// Overdue reminders sent.
    pub reminders_sent: i64,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// The lines (in single-invoice answers).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lines: Option<Vec<InvoiceLine>>,
    /// Payments and failed attempts (in single-invoice answers).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payments: Option<Vec<Payment>>,
    /// Automatic charges of the saved card, with their outcome (in single-invoice answers).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub charge_attempts: Option<Vec<super::autopay::ChargeAttempt>>,
    /// Refunds of its payments with their credit notes (in single-invoice answers).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refunds: Option<Vec<super::refunds::Refund>>,
    /// Disputes of its payments (in single-invoice answers).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disputes: Option<Vec<super::disputes::Dispute>>,
}

impl From<&InvoiceRow> for Invoice {
    fn from(r: &InvoiceRow) -> Self {
        Invoice {
            id: r.id,
            number: number_of(r),
            customer_id: r.customer_id,
            customer_name: None,
            customer_email: None,
            kind: InvoiceKind::parse(&r.kind).unwrap_or(InvoiceKind::Order),
            status: InvoiceStatus::parse(&r.status).unwrap_or(InvoiceStatus::Open),
            plan_id: r.plan_id,
            billing_cycle: r.billing_cycle.clone(),
            currency: r.currency.clone(),
            total: r.total_minor,
            total_display: amount_text(r.total_minor, &r.currency),
            subtotal: r.subtotal_minor,
            tax: r.tax_minor,
            credit_applied: r.credit_applied_minor,
            prices_include_tax: r.prices_include_tax,
            reverse_charge: r.reverse_charge,
            tax_note: r
                .reverse_charge
                .then(|| crate::domain::tax::REVERSE_CHARGE_NOTE.to_owned()),
            buyer: Buyer {
                name: r.buyer.buyer_name.clone(),
                company: r.buyer.buyer_company.clone(),
                address: r.buyer.buyer_address.clone(),
                country: r.buyer.buyer_country.clone(),
                region: r.buyer.buyer_region.clone(),
                tax_id: r.buyer.buyer_tax_id.clone(),
            },
            username: r.order_username.clone(),
            license_id: r.license_id,
            hosting_account_id: r.hosting_account_id,
            period_start: r.period_start,
            period_end: r.period_end,
            due_at: r.due_at,
            paid_at: r.paid_at,
            voided_at: r.voided_at,
            reminders_sent: r.reminders_sent,
            created_at: r.created_at,
            lines: None,
            payments: None,
            charge_attempts: None,
            refunds: None,
            disputes: None,
        }
    }
}

/// `14.99 USD`; the stored figures if the currency is unknown.
pub fn amount_text(minor: i64, currency: &str) -> String {
    Currency::parse(currency)
        .ok()
        .and_then(|c| Money::price("amount", minor, c).ok())
        .map_or_else(
            || format!("{minor} minor units {currency}"),
            invoice::display,
        )
}

/// Body of `POST /api/v1/me/orders` and `POST /api/v1/customers/{id}/orders`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewOrder {
    /// The plan to buy.
    pub plan_id: i64,
    /// The billing cycle (default: the shortest the plan is sold in).
    pub billing_cycle: Option<BillingCycle>,
    /// The hosting login to create: 3 to 32 of a-z0-9, starting with a letter.
    pub username: String,
    /// A coupon code.
    #[serde(default)]
    pub coupon: Option<String>,
    /// The currency to pay in (a first order; later orders are in the customer's billing
    /// currency). Default: the plan's own.
    #[serde(default)]
    pub currency: Option<String>,
}

/// Body of `POST /api/v1/invoices/{id}/void`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VoidInvoice {
    /// Why (kept in the audit log).
    pub reason: Option<String>,
}

/// Refuses to sell hosting no server can deliver now (full, offline, or none in the
/// plan's location or group), unless the shop accepts orders when full.
pub(crate) async fn require_room(
    conn: &mut impl store::AsConn,
    settings: &Settings,
    plan: &store::plans::PlanRow,
) -> Result<(), ServiceError> {
    if settings.billing.accept_orders_when_full
        || super::provisioning::can_host(
            conn,
            plan.location.as_deref(),
            plan.server_group.as_deref(),
        )
        .await?
    {
        return Ok(());
    }
    Err(ServiceError::Conflict {
        field: Some("plan_id".into()),
        message: format!(
            "plan '{}' cannot be ordered right now: no server can take a new account (all are full or \
             offline); please try again later or contact support",
            plan.name
        ),
    })
}

/// Places an order: an open invoice for the plan, and the "invoice created" message.
/// A customer orders for themselves; an admin may order for any customer.
pub async fn place_order(
    db: &Db,
    settings: &Settings,
    actor: &Actor,
    customer_id: i64,
    body: NewOrder,
) -> Result<Invoice, ServiceError> {
    // Anyone orders for themselves (only customers have a customer record); for
    // someone else only an admin may, and a customer learns nothing about others.
    if actor.user_id != Some(customer_id) {
        match actor.role {
            Role::Customer => return Err(ServiceError::NotFound("customer")),
            _ => actor.require_admin()?,
        }
    }
    let username = Username::parse(&body.username)?;
    let mut tx = db.begin().await?;
    let customer = customers::load(&mut tx, customer_id).await?;
    if !customer.is_active {
        return Err(Invalid::new("customer_id", "the customer is deactivated").into());
    }
    let plan = store::plans::find(&mut tx, body.plan_id)
        .await?
        .filter(|p| p.is_active)
        .ok_or_else(|| {
            Invalid::new(
                "plan_id",
                format!("no plan with id {} is for sale", body.plan_id),
            )
        })?;
    require_room(&mut tx, settings, &plan).await?;
    let currency = order_currency(&customer, &plan, body.currency.as_deref())?;
    let prices = super::plans::prices_in(&mut tx, &plan, &currency)
        .await?
        .ok_or_else(|| not_sold_in(&plan, &currency))?;
    let cycle = match body.billing_cycle {
        Some(c) => c,
        None => BillingCycle::ALL
            .into_iter()
            .find(|c| prices.price(*c).is_some())
            .ok_or_else(|| Invalid::new("plan_id", "the plan has no price"))?,
    };
    let mut lines = invoice::lines(&plan.name, &prices, cycle, InvoiceKind::Order, None)?;
    let coupon = match body
        .coupon
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty())
    {
        Some(code) => Some(super::coupons::for_order(&mut tx, code, &plan, &currency).await?),
        None => None,
    };
    if let Some(c) = &coupon {
        lines.extend(super::coupons::discount_line(c, &lines)?);
    }
    // One decision about a username at a time, whoever asks: a second click on "order"
    // must not become a second charge, nor two customers' orders one account.
    store::hosting_accounts::lock_username(&mut tx, username.as_str()).await?;
    if let Some(dup) = store::invoices::open_order_for(&mut tx, username.as_str()).await? {
        return Err(ServiceError::Conflict {
            field: Some("username".into()),
            message: if dup.customer_id == customer_id {
                format!(
                    "invoice {} already orders hosting for '{}'; pay or void it first",
                    number_of(&dup),
                    username.as_str()
                )
            } else {
                format!(
                    "the hosting username '{}' is taken; choose another",
                    username.as_str()
                )
            },
        });
    }
    // Refused now rather than after the customer paid for a name the fleet already uses.
    if store::hosting_accounts::username_in_use(&mut tx, username.as_str()).await? {
        return Err(ServiceError::Conflict {
            field: Some("username".into()),
            message: format!(
                "the hosting username '{}' is taken; choose another",
                username.as_str()
            ),
        });
    }
    let now = store::now();
    let row = InvoiceRow {
        order_username: Some(username.as_str().to_owned()),
        ..open_row(
            &customer,
            InvoiceKind::Order,
            &plan,
            cycle,
            &currency,
            now + Duration::days(settings.billing.order_due_days),
            now,
        )
    };
    let saved = create(&mut tx, &settings.invoicing, actor, &customer, &row, lines).await?;
    // The first order fixes the currency the customer is billed in.
    if customer.billing_currency.is_none() {
        store::users::fix_billing_currency(&mut tx, customer_id, &currency).await?;
    }
    if let Some(c) = &coupon {
        super::coupons::redeem(&mut tx, c, customer_id, saved.id).await?;
    }
    let view = detail(&mut tx, &saved).await?;
    tx.commit().await?;
    Ok(view)
}

/// The currency an order is paid in: the customer's billing currency once fixed, else
/// the one asked for, else the plan's own.
fn order_currency(
    customer: &store::users::UserRow,
    plan: &store::plans::PlanRow,
    asked: Option<&str>,
) -> Result<String, ServiceError> {
    let asked = asked
        .map(|c| Currency::parse(c).map(|c| c.code().to_owned()))
        .transpose()?;
    match (&customer.billing_currency, asked) {
        (Some(fixed), Some(asked)) if *fixed != asked => Err(Invalid::new(
            "currency",
            format!("this customer is billed in {fixed}; orders cannot be paid in {asked}"),
        )
        .into()),
        (None, Some(asked)) => Ok(asked),
        _ => Ok(billing_currency(customer, plan)),
    }
}

/// The currency a customer's invoices for `plan` are in: their billing currency once
/// fixed, else the plan's own (customers from before currencies were fixed).
pub(crate) fn billing_currency(
    customer: &store::users::UserRow,
    plan: &store::plans::PlanRow,
) -> String {
    customer
        .billing_currency
        .clone()
        .unwrap_or_else(|| plan.currency.clone())
}

/// The 422 for a plan without prices in the customer's currency.
pub(crate) fn not_sold_in(plan: &store::plans::PlanRow, currency: &str) -> ServiceError {
    Invalid::new(
        "plan_id",
        format!(
            "plan '{}' has no price in {currency}, the currency of this customer's invoices",
            plan.name
        ),
    )
    .into()
}

/// The number of invoice `id`, for public pages that name it (`None` if unknown).
pub async fn number_by_id(db: &Db, id: i64) -> Option<String> {
    let mut conn = db.conn().await.ok()?;
    let row = store::invoices::find(&mut conn, id).await.ok()??;
    Some(number_of(&row))
}

/// The number an invoice is shown with.
pub(crate) fn number_of(row: &InvoiceRow) -> String {
    row.number
        .clone()
        .unwrap_or_else(|| invoice::number(row.id))
}

/// An open invoice of `kind` for `plan` before it is stored; callers fill in the rest.
pub(crate) fn open_row(
    customer: &store::users::UserRow,
    kind: InvoiceKind,
    plan: &store::plans::PlanRow,
    cycle: BillingCycle,
    currency: &str,
    due_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> InvoiceRow {
    InvoiceRow {
        id: 0,
        number: None,
        customer_id: customer.id,
        kind: kind.as_str().to_owned(),
        status: InvoiceStatus::Open.as_str().to_owned(),
        plan_id: plan.id,
        billing_cycle: cycle.as_str().to_owned(),
        license_id: None,
        hosting_account_id: None,
        order_username: None,
        currency: currency.to_owned(),
        // Set by `create`, which taxes the lines.
        total_minor: 0,
        subtotal_minor: 0,
        tax_minor: 0,
        credit_applied_minor: 0,
        late_fee_for: None,
        prices_include_tax: false,
        reverse_charge: false,
        period_start: None,
        period_end: None,
        due_at,
        paid_at: None,
        voided_at: None,
        checkout_session_id: None,
        checkout_url: None,
        checkout_created_at: None,
        reminders_sent: 0,
        last_reminder_at: None,
        created_at: now,
        updated_at: now,
        buyer: Default::default(),
    }
}

/// Issues an invoice: taxes its lines for the buyer, gives it the next number of the
/// gapless sequence (in this transaction, so a rollback gives the number back), and
/// stores it with its lines, the "invoice created" message and the audit entry.
pub(crate) async fn create(
    tx: &mut Tx,
    invoicing: &InvoicingSettings,
    actor: &Actor,
    customer: &store::users::UserRow,
    row: &InvoiceRow,
    lines: Vec<invoice::Line>,
) -> Result<InvoiceRow, ServiceError> {
    let mut issuing = Issuing::default();
    issuing.add(tx, invoicing, customer, row, lines).await?;
    issuing
        .issue(tx, invoicing, actor)
        .await?
        .pop()
        .ok_or_else(|| ServiceError::Internal("an issued invoice went missing".into()))
}

/// Invoices issued together in one transaction (the billing run's renewals): what
/// pricing reads (tax settings and rates, credit balances) is read once for all of them,
/// and their numbers are taken from the sequence in one step, at the end, so the
/// sequence is locked only while they are written.
#[derive(Default)]
pub(crate) struct Issuing {
    tax: super::tax::Known,
    /// Credit left per customer and currency, after the invoices added so far.
    credit: HashMap<(i64, String), i64>,
    /// Customers whose every balance is in `credit` (a missing currency is zero).
    credit_known: HashSet<i64>,
    ready: Vec<Ready>,
}

/// An invoice priced and paid with credit, waiting for its number.
struct Ready {
    customer: store::users::UserRow,
    row: InvoiceRow,
    lines: Vec<(invoice::Line, i64, i64)>,
    rate: Option<crate::domain::tax::Rate>,
    credit: i64,
}

impl Issuing {
    /// Locks and reads the credit balances of these customers in one step (customers not
    /// read here are locked and read when their first invoice is added).
    pub(crate) async fn know_credit(
        &mut self,
        tx: &mut Tx,
        customer_ids: &[i64],
    ) -> Result<(), ServiceError> {
        for (customer, currency, balance) in
            store::credits::lock_balances_among(tx, customer_ids).await?
        {
            self.credit.insert((customer, currency), balance);
        }
        self.credit_known.extend(customer_ids);
        Ok(())
    }

    /// Prices `lines` for `customer` and pays what the customer's credit can; the
    /// invoice is written by [`Issuing::issue`].
    pub(crate) async fn add(
        &mut self,
        tx: &mut Tx,
        invoicing: &InvoicingSettings,
        customer: &store::users::UserRow,
        row: &InvoiceRow,
        lines: Vec<invoice::Line>,
    ) -> Result<(), ServiceError> {
        let issued = row.created_at;
        let priced = super::tax::price(
            tx,
            &mut self.tax,
            invoicing,
            customer,
            lines,
            issued.date_naive(),
        )
        .await?;
        let mut row = row.clone();
        row.subtotal_minor = priced.subtotal;
        row.tax_minor = priced.tax;
        // The customer's credit pays what it can; the rest is what is left to pay.
        let credit = self
            .use_credit(tx, row.customer_id, &row.currency, priced.total)
            .await?;
        row.credit_applied_minor = credit;
        row.total_minor = priced.total - credit;
        row.prices_include_tax = priced.prices_include_tax;
        row.reverse_charge = priced.reverse_charge;
        row.buyer = priced.buyer.clone();
        self.ready.push(Ready {
            customer: customer.clone(),
            row,
            lines: priced.lines,
            rate: priced.rate,
            credit,
        });
        Ok(())
    }

    /// Takes up to `due` of the customer's credit in `currency`.
    async fn use_credit(
        &mut self,
        tx: &mut Tx,
        customer_id: i64,
        currency: &str,
        due: i64,
    ) -> Result<i64, ServiceError> {
        if due <= 0 {
            return Ok(0);
        }
        let key = (customer_id, currency.to_owned());
        let left = match self.credit.get_mut(&key) {
            Some(left) => left,
            None => {
                let balance = if self.credit_known.contains(&customer_id) {
                    0
                } else {
                    store::credits::lock_balance(tx, customer_id, currency).await?
                };
                self.credit.entry(key).or_insert(balance)
            }
        };
        let used = (*left).clamp(0, due);
        *left -= used;
        Ok(used)
    }

    /// Numbers the invoices added, in the order added, and stores each with its lines,
    /// credit entry, "invoice created" message and audit entry.
    pub(crate) async fn issue(
        &mut self,
        tx: &mut Tx,
        invoicing: &InvoicingSettings,
        actor: &Actor,
    ) -> Result<Vec<InvoiceRow>, ServiceError> {
        let ready = std::mem::take(&mut self.ready);
        let format = &invoicing.invoice_numbers;
        // One block of numbers per counter year (one year, unless issued across New Year).
        let mut next: Vec<(i64, i64)> = Vec::new();
        for r in &ready {
            let year = format.counter_year(r.row.created_at);
            match next.iter_mut().find(|(y, _)| *y == year) {
                Some((_, n)) => *n += 1,
                None => next.push((year, 1)),
            }
        }
        for (year, n) in &mut next {
            let last = store::refunds::take_from_sequence(tx, "invoice", *year, *n).await?;
            *n = last - *n + 1;
        }
        let mut rows = Vec::with_capacity(ready.len());
        for r in &ready {
            let year = format.counter_year(r.row.created_at);
            let seq = next
                .iter_mut()
                .find(|(y, _)| *y == year)
                .map(|(_, n)| {
                    *n += 1;
                    *n - 1
                })
                .ok_or_else(|| ServiceError::Internal("no number taken for a year".into()))?;
            let mut row = r.row.clone();
            row.number = Some(format.render(seq, row.created_at));
            rows.push(row);
        }
        // Each kind of row in one statement: a run's renewals cost a few statements per
        // hundred invoices rather than several per invoice.
        let saved = store::invoices::insert_many(tx, &rows).await?;
        let mut lines = Vec::new();
        let mut messages = Vec::new();
        let mut entries = Vec::with_capacity(saved.len());
        for (invoice, r) in saved.iter().zip(&ready) {
            if r.credit > 0 {
                super::credits::add(
                    tx,
                    actor,
                    invoice.customer_id,
                    &invoice.currency,
                    -r.credit,
                    &format!("paid part of invoice {}", number_of(invoice)),
                    Some(invoice.id),
                    None,
                )
                .await?;
            }
            let rate = r.rate.as_ref();
            for (line, net, tax) in &r.lines {
                lines.push(LineRow {
                    id: 0,
                    invoice_id: invoice.id,
                    description: line.description.clone(),
                    quantity: line.quantity,
                    unit_amount_minor: line.unit_amount,
                    amount_minor: *net,
                    tax_rate_id: rate.map(|r| r.id),
                    tax_name: rate.map(|r| r.name.clone()),
                    tax_rate_bp: rate.map_or(0, |r| r.rate_bp),
                    tax_minor: *tax,
                });
            }
            // Nothing to pay (a free plan) is nothing to announce.
            if invoice.total_minor > 0 {
                messages.push(message(
                    &r.customer,
                    invoice,
                    "invoice_created",
                    &invoice.id.to_string(),
                    json!({"attach_invoice": invoice.id}),
                ));
            }
            entries.push(audit::entry(
                actor,
                Change::<(), _> {
                    action: "invoice.created",
                    entity_type: "invoice",
                    entity_id: Some(invoice.id),
                    before: None,
                    after: Some(&Invoice::from(invoice)),
                },
            )?);
        }
        store::invoices::insert_lines(tx, &lines).await?;
        store::outbox::insert_many(tx, &messages, store::now()).await?;
        store::audit::insert_many(tx, &entries).await?;
        Ok(saved)
    }
}

/// Queues `template` about `invoice` to its customer, once per `event` of that template.
pub(crate) async fn queue_message(
    tx: &mut Tx,
    invoice: &InvoiceRow,
    template: &str,
    event: &str,
    extra: serde_json::Value,
) -> Result<(), ServiceError> {
    let customer = store::users::find(tx, invoice.customer_id)
        .await?
        .ok_or(ServiceError::NotFound("customer"))?;
    let message = message(&customer, invoice, template, event, extra);
    store::outbox::insert_many(tx, std::slice::from_ref(&message), store::now()).await?;
    Ok(())
}

/// The message [`queue_message`] queues, to a customer already read.
fn message(
    customer: &store::users::UserRow,
    invoice: &InvoiceRow,
    template: &str,
    event: &str,
    extra: serde_json::Value,
) -> store::outbox::NewMessage {
    let mut data = json!({
        "name": customer.full_name,
        "number": number_of(invoice),
        "amount": amount_text(invoice.total_minor, &invoice.currency),
        "due_date": invoice.due_at.format("%Y-%m-%d").to_string(),
        "kind": invoice.kind,
    });
    if let (Some(obj), Some(more)) = (data.as_object_mut(), extra.as_object()) {
        for (k, v) in more {
            obj.insert(k.clone(), v.clone());
        }
    }
    store::outbox::NewMessage {
        event_key: format!("{template}:{event}"),
        recipient: customer.email.clone(),
        template: template.to_owned(),
        data: data.to_string(),
        secret: None,
    }
}

async fn detail(conn: &mut impl store::AsConn, row: &InvoiceRow) -> Result<Invoice, ServiceError> {
    let mut view = Invoice::from(row);
    let lines = store::invoices::lines(conn, row.id).await?;
    view.lines = Some(
        lines
            .iter()
            .map(|l| InvoiceLine {
                description: l.description.clone(),
                quantity: l.quantity,
                unit_amount: l.unit_amount_minor,
                amount: l.amount_minor,
                tax_name: l.tax_name.clone(),
                tax_rate_bp: l.tax_rate_bp,
                tax: l.tax_minor,
            })
            .collect(),
    );
    let payments = store::payments::for_invoice(conn, row.id).await?;
    view.payments = Some(payments.iter().map(Payment::from).collect());
    view.charge_attempts = Some(super::autopay::attempts_of(conn, row.id).await?);
    view.refunds = Some(super::refunds::of_invoice(conn, row.id).await?);
    view.disputes = Some(super::disputes::of_invoice(conn, row.id).await?);
    Ok(view)
}

/// Every invoice, newest first (admin, staff).
pub async fn list(
    db: &Db,
    actor: &Actor,
    customer_id: Option<i64>,
    status: Option<InvoiceStatus>,
    number: Option<&str>,
    page: Page,
) -> Result<Paginated<Invoice>, ServiceError> {
    actor.require_staff()?;
    page_of(db.read().await?, customer_id, status, number, page).await
}

/// The caller's own invoices, newest first.
pub async fn list_mine(
    db: &Db,
    actor: &Actor,
    status: Option<InvoiceStatus>,
    number: Option<&str>,
    page: Page,
) -> Result<Paginated<Invoice>, ServiceError> {
    let me = actor.user_id.ok_or(ServiceError::NotFound("user"))?;
    // A customer's own list stays on the primary: they look right after paying or ordering.
    page_of(db.conn().await?, Some(me), status, number, page).await
}

async fn page_of(
    mut conn: store::Conn,
    customer_id: Option<i64>,
    status: Option<InvoiceStatus>,
    number: Option<&str>,
    page: Page,
) -> Result<Paginated<Invoice>, ServiceError> {
    let number = number.map(str::trim).filter(|n| !n.is_empty());
    let listed = store::invoices::list(
        &mut conn,
        customer_id,
        status.map(|s| s.as_str()),
        number,
        page,
    )
    .await?;
    let mut list = Paginated::of(page, listed, |r| Invoice::from(&r));
    let items = &mut list.items;
    let mut ids: Vec<i64> = items.iter().map(|i| i.customer_id).collect();
    ids.sort_unstable();
    ids.dedup();
    let labels = store::users::labels(&mut conn, &ids).await?;
    for item in items.iter_mut() {
        if let Some((_, name, email)) = labels.iter().find(|(id, _, _)| *id == item.customer_id) {
            item.customer_name = Some(name.clone());
            item.customer_email = Some(email.clone());
        }
    }
    Ok(list)
}

/// One invoice with lines and payments (admin, staff).
pub async fn get(db: &Db, actor: &Actor, id: i64) -> Result<Invoice, ServiceError> {
    actor.require_staff()?;
    view(db, actor, id).await
}

/// One of the caller's own invoices; anyone else's is "not found", whatever the role.
pub async fn get_mine(db: &Db, actor: &Actor, id: i64) -> Result<Invoice, ServiceError> {
    view(db, &as_owner(actor), id).await
}

/// An invoice with lines and payments as `actor` may see it (see [`load_owned`]).
pub(crate) async fn view(db: &Db, actor: &Actor, id: i64) -> Result<Invoice, ServiceError> {
    let mut conn = db.conn().await?;
    let row = load_owned(&mut conn, actor, id).await?;
    detail(&mut conn, &row).await
}

/// The caller acting on their own records only (the `/me` routes): staff and admins
/// owe their own invoices like anyone else.
pub fn as_owner(actor: &Actor) -> Actor {
    Actor {
        role: Role::Customer,
        ..actor.clone()
    }
}

/// The invoice if the caller owes it (any invoice for admins and staff).
pub(crate) async fn load_owned(
    conn: &mut impl store::AsConn,
    actor: &Actor,
    id: i64,
) -> Result<InvoiceRow, ServiceError> {
    let found = match actor.role {
        Role::Customer => {
            let me = actor.user_id.ok_or(ServiceError::NotFound("invoice"))?;
            store::invoices::find_owned(conn, id, me).await?
        }
        _ => store::invoices::find(conn, id).await?,
    };
    found.ok_or(ServiceError::NotFound("invoice"))
}

/// The 409 for acting on an invoice that is no longer open; `what` is the refused act.
pub(crate) fn not_open(row: &InvoiceRow, what: &str) -> ServiceError {
    ServiceError::Conflict {
        field: None,
        message: format!(
            "invoice {} is {}; only open invoices can be {what}",
            number_of(row),
            row.status
        ),
    }
}

/// Voids `before` if it is still open, with its audit entry; `false` when it was not open.
pub(crate) async fn void_in(
    tx: &mut Tx,
    actor: &Actor,
    before: &InvoiceRow,
    reason: &str,
) -> Result<bool, ServiceError> {
    if !store::invoices::close(tx, before.id, store::invoices::Closing::Void, store::now()).await? {
        return Ok(false);
    }
    // Credit that paid part of it goes back to the balance.
    if before.credit_applied_minor > 0 {
        super::credits::add(
            tx,
            actor,
            before.customer_id,
            &before.currency,
            before.credit_applied_minor,
            &format!("invoice {} was voided", number_of(before)),
            Some(before.id),
            None,
        )
        .await?;
    }
    if before.kind == InvoiceKind::Order.as_str() {
        store::coupons::unredeem(tx, before.id).await?;
    }
    if before.kind == InvoiceKind::PlanChange.as_str() {
        super::plan_changes::invoice_voided(tx, before.id).await?;
    }
    audit::record(
        tx,
        actor,
        Change {
            action: "invoice.voided",
            entity_type: "invoice",
            entity_id: Some(before.id),
            before: Some(&Invoice::from(before)),
            after: Some(&json!({"status": "void", "reason": reason})),
        },
    )
    .await?;
    Ok(true)
}

/// Voids an open invoice (admin): it can no longer be paid.
pub async fn void(
    db: &Db,
    actor: &Actor,
    id: i64,
    body: VoidInvoice,
) -> Result<Invoice, ServiceError> {
    actor.require_admin()?;
    let reason = crate::domain::text::bounded(
        "reason",
        body.reason.as_deref().unwrap_or("voided by the provider"),
        1,
        500,
    )?;
    let mut tx = db.begin().await?;
    // Held to the commit, so a payment racing the void either comes first (and the void
    // is refused) or finds the invoice void (and is recorded as owed back).
    store::invoices::lock(&mut tx, id).await?;
    let before = store::invoices::find(&mut tx, id)
        .await?
        .ok_or(ServiceError::NotFound("invoice"))?;
    if super::capture::pending_for(&mut tx, id).await? {
        return Err(ServiceError::Conflict {
            field: None,
            message: "the card payment of this invoice is authorized and its hosting account is being created; \
                      it is captured or released with the account"
                .into(),
        });
    }
    if !void_in(&mut tx, actor, &before, &reason).await? {
        return Err(not_open(&before, "voided"));
    }
    let after = store::invoices::find(&mut tx, id)
        .await?
        .ok_or(ServiceError::NotFound("invoice"))?;
    let view = detail(&mut tx, &after).await?;
    tx.commit().await?;
    Ok(view)
}
