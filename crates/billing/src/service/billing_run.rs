//! The billing run: renewal invoices before licenses expire, reminders about overdue
//! invoices, and suspension of hosting whose renewal stays unpaid. Every step is
//! guarded in the database (a unique renewal per license and period, a reminder
//! counter moved with compare-and-set, a license that is suspended once), so runs on
//! several instances, or a run repeated after a crash, send nothing twice.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

use super::audit::{self, Change};
use super::payments::NON_PAYMENT;
use super::{Actor, ServiceError};
use crate::config::Settings;
use crate::domain::hosting::AccountState;
use crate::domain::invoice::{self, InvoiceKind};
use crate::domain::license::{self as license_rules, LicenseStatus};
use crate::domain::plan::BillingCycle;
use crate::domain::plan::PriceList;
use crate::jobs::{self, Payload};
use crate::store::invoices::InvoiceRow;
use crate::store::licenses::LicenseRow;
use crate::store::plan_changes::PlanChangeRow;
use crate::store::plans::PlanRow;
use crate::store::users::UserRow;
use crate::store::{self, Db};

/// Rows one run looks at per step; the next run continues.
const BATCH: i64 = 500;

/// Renewal invoices issued per transaction: one commit (one disk flush) per group
/// instead of per invoice, short enough that a checkout waiting for the invoice
/// number sequence waits a fraction of a second, and a crash loses at most one
/// group, which the next run issues again.
const RENEWALS_PER_COMMIT: usize = 100;

/// Where a keyset cursor over times starts: before any row.
fn start_of_time() -> DateTime<Utc> {
    DateTime::<Utc>::UNIX_EPOCH
}

/// One license to renew, with what was read for its group.
struct Renewal<'a> {
    license: &'a LicenseRow,
    customer: &'a UserRow,
    change: Option<&'a PlanChangeRow>,
    /// Whether a coupon may discount it (read for the group; the coupon itself is read
    /// only for these).
    coupon: bool,
}

/// Plans and their prices per currency, read once per group of renewals.
#[derive(Default)]
struct Plans {
    plans: HashMap<i64, PlanRow>,
    prices: HashMap<(i64, String), Option<PriceList>>,
}

impl Plans {
    /// The plan and its prices in the customer's billing currency (`None`: not sold in it).
    async fn priced(
        &mut self,
        tx: &mut store::Tx,
        plan_id: i64,
        customer: &UserRow,
    ) -> Result<(&PlanRow, Option<&PriceList>), ServiceError> {
        let plan = match self.plans.entry(plan_id) {
            Entry::Occupied(e) => e.into_mut(),
            Entry::Vacant(e) => e.insert(
                store::plans::find(tx, plan_id)
                    .await?
                    .ok_or(ServiceError::NotFound("plan"))?,
            ),
        };
        let currency = super::invoices::billing_currency(customer, plan);
        let key = (plan_id, currency);
        if !self.prices.contains_key(&key) {
            let prices = super::plans::prices_in(tx, plan, &key.1).await?;
            self.prices.insert(key.clone(), prices);
        }
        Ok((plan, self.prices[&key].as_ref()))
    }
}

/// What one billing run did.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct BillingRunReport {
    /// Renewal invoices issued.
    pub renewal_invoices: i64,
    /// Licenses due for renewal whose plan has no price for their cycle (left alone).
    pub renewals_skipped: i64,
    /// Overdue reminders queued.
    pub reminders: i64,
    /// Licenses suspended for non-payment.
    pub licenses_suspended: i64,
    /// Hosting accounts queued for suspension.
    pub accounts_suspended: i64,
    /// Unpaid orders voided after `void_unpaid_orders_after_days`.
    pub orders_voided: i64,
    /// Late-fee invoices issued for renewals unpaid `late_fee_after_days` after their due date.
    pub late_fees: i64,
    /// Automatic charges of saved cards.
    pub autopay: super::autopay::CollectReport,
}

impl BillingRunReport {
    /// Adds a group's `(issued, skipped)` renewals.
    fn count_renewals(&mut self, (issued, skipped): (i64, i64)) {
        self.renewal_invoices += issued;
        self.renewals_skipped += skipped;
    }
}

/// Runs billing on a timer and on request.
#[derive(Clone)]
pub struct BillingRunner {
    /// The database.
    pub db: Db,
    /// Lead times, reminder policy.
    pub settings: Arc<Settings>,
    /// Wakes job workers after suspensions are queued.
    pub wake: Arc<tokio::sync::Notify>,
    /// Needed to apply payments (sealing passwords of new accounts).
    pub vault: crate::vault::Vault,
}

impl BillingRunner {
    /// One run at `now`.
    pub async fn run_once(&self, now: DateTime<Utc>) -> Result<BillingRunReport, ServiceError> {
        let mut report = BillingRunReport::default();
        self.issue_renewals(now, &mut report).await?;
        // Before chasing: a renewal the saved card pays needs no reminder.
        report.autopay = super::autopay::collect(
            &super::payments::PaymentContext {
                db: &self.db,
                settings: &self.settings,
                vault: &self.vault,
                wake: &self.wake,
            },
            now,
        )
        .await?;
        self.chase_overdue(now, &mut report).await?;
        self.charge_late_fees(now, &mut report).await?;
        if report.accounts_suspended > 0 {
            self.wake.notify_waiters();
        }
        Ok(report)
    }

    /// One run at an admin's request.
    pub async fn run_now(&self, actor: &Actor) -> Result<BillingRunReport, ServiceError> {
        actor.require_admin()?;
        self.run_once(store::now()).await
    }

    /// Runs every `interval` until the task is dropped.
    pub async fn run(self, interval: Duration) {
        let mut rounds = super::periodic::Rounds::new(self.db.clone(), "billing", interval);
        loop {
            rounds.next().await;
            match self.run_once(store::now()).await {
                Ok(r) => tracing::info!(
                    renewals = r.renewal_invoices,
                    reminders = r.reminders,
                    suspended = r.accounts_suspended,
                    charged = r.autopay.charged,
                    declined = r.autopay.declined,
                    "billing run finished"
                ),
                Err(e) => tracing::error!(error = %e, "billing run failed"),
            }
        }
    }

    async fn issue_renewals(
        &self,
        now: DateTime<Utc>,
        report: &mut BillingRunReport,
    ) -> Result<(), ServiceError> {
        let horizon = now + chrono::Duration::days(self.settings.billing.renewal_lead_days);
        // Batch after batch; the cursor walks past licenses left alone (no price), so
        // every due license is seen once per run.
        let mut after = (start_of_time(), 0);
        loop {
            let mut conn = self.db.conn().await?;
            let due = store::invoices::licenses_to_renew(&mut conn, horizon, after, BATCH).await?;
            drop(conn);
            let full = due.len() == usize::try_from(BATCH).unwrap_or(usize::MAX);
            if let Some(last) = due.last() {
                after = (last.expires_at, last.id);
            }
            for group in due.chunks(RENEWALS_PER_COMMIT) {
                match self.renew_group(group, now).await {
                    // Another instance issued one of them meanwhile: its unique renewal
                    // index refused ours and aborted the transaction. One by one, the
                    // others still get theirs (and the one issued meanwhile is skipped).
                    Err(ServiceError::Conflict { .. }) => {
                        for license in group {
                            match self.renew_group(std::slice::from_ref(license), now).await {
                                Err(ServiceError::Conflict { .. }) => {}
                                done => report.count_renewals(done?),
                            }
                        }
                    }
                    done => report.count_renewals(done?),
                }
            }
            if !full {
                return Ok(());
            }
        }
    }

    /// Issues the renewal invoices of `group` in one transaction, reading what they have
    /// in common (customers, plans, pending plan changes, coupons, credit) once:
    /// `(issued, left alone because their plan cannot price them)`.
    async fn renew_group(
        &self,
        group: &[LicenseRow],
        now: DateTime<Utc>,
    ) -> Result<(i64, i64), ServiceError> {
        let mut tx = self.db.begin().await?;
        let ids: Vec<i64> = group.iter().map(|l| l.id).collect();
        let mut customer_ids: Vec<i64> = group.iter().map(|l| l.customer_id).collect();
        customer_ids.sort_unstable();
        customer_ids.dedup();
        let customers: HashMap<i64, UserRow> = store::users::find_many(&mut tx, &customer_ids)
            .await?
            .into_iter()
            .map(|u| (u.id, u))
            .collect();
        let changes: HashMap<i64, PlanChangeRow> =
            store::plan_changes::pending_among(&mut tx, &ids)
                .await?
                .into_iter()
                .map(|c| (c.license_id, c))
                .collect();
        let coupons: HashSet<i64> = store::coupons::renewing_among(&mut tx, &ids)
            .await?
            .into_iter()
            .collect();
        let mut issuing = super::invoices::Issuing::default();
        issuing.know_credit(&mut tx, &customer_ids).await?;
        let mut plans = Plans::default();
        let mut skipped = 0;
        for license in group {
            let customer = customers
                .get(&license.customer_id)
                .ok_or(ServiceError::NotFound("customer"))?;
            let renewal = Renewal {
                license,
                customer,
                change: changes.get(&license.id),
                coupon: coupons.contains(&license.id),
            };
            if !self
                .add_renewal(&mut tx, &mut issuing, &mut plans, renewal, now)
                .await?
            {
                skipped += 1;
            }
        }
        let issued = issuing
            .issue(&mut tx, &self.settings.invoicing, &Actor::system())
            .await?;
        tx.commit().await?;
        Ok((i64::try_from(issued.len()).unwrap_or(i64::MAX), skipped))
    }

    /// Prices the renewal of one license into `issuing`; `false` when its plan cannot
    /// price it.
    async fn add_renewal(
        &self,
        tx: &mut store::Tx,
        issuing: &mut super::invoices::Issuing,
        plans: &mut Plans,
        renewal: Renewal<'_>,
        now: DateTime<Utc>,
    ) -> Result<bool, ServiceError> {
        let Renewal {
            license, customer, ..
        } = renewal;
        // A downgrade scheduled for the next period prices it.
        let plan_id = super::plan_changes::renewal_plan(license, renewal.change);
        let cycle = BillingCycle::parse(&license.billing_cycle).unwrap_or(BillingCycle::Monthly);
        let (plan, prices) = plans.priced(tx, plan_id, customer).await?;
        let Some(prices) = prices else {
            tracing::warn!(license = license.id, currency = %super::invoices::billing_currency(customer, plan), "no renewal invoice: the plan has no price in the customer's currency");
            return Ok(false);
        };
        let currency = super::invoices::billing_currency(customer, plan);
        let start = license.expires_at;
        let end = license_rules::period_end(start, cycle, 1)?;
        let mut lines = match invoice::lines(
            &plan.name,
            prices,
            cycle,
            InvoiceKind::Renewal,
            Some((start, end)),
        ) {
            Ok(lines) => lines,
            Err(e) => {
                tracing::warn!(license = license.id, problem = %e, "no renewal invoice: the plan cannot price it");
                return Ok(false);
            }
        };
        // A coupon entered with the order may discount this renewal too.
        if renewal.coupon {
            if let Some(line) = super::coupons::renewal_line(tx, license.id, &lines).await? {
                lines.push(line);
            }
        }
        let row = InvoiceRow {
            license_id: Some(license.id),
            period_start: Some(start),
            period_end: Some(end),
            // Due when the paid period ends, or now if it already has.
            ..super::invoices::open_row(
                customer,
                InvoiceKind::Renewal,
                plan,
                cycle,
                &currency,
                start.max(now),
                now,
            )
        };
        issuing
            .add(tx, &self.settings.invoicing, customer, &row, lines)
            .await?;
        Ok(true)
    }

    async fn chase_overdue(
        &self,
        now: DateTime<Utc>,
        report: &mut BillingRunReport,
    ) -> Result<(), ServiceError> {
        let policy = self.settings.billing.dunning;
        let mut after = (start_of_time(), 0);
        loop {
            let mut conn = self.db.conn().await?;
            let overdue = store::invoices::overdue(&mut conn, now, after, BATCH).await?;
            drop(conn);
            let full = overdue.len() == usize::try_from(BATCH).unwrap_or(usize::MAX);
            for row in &overdue {
                after = (row.due_at, row.id);
                self.chase(row, now, policy, report).await?;
            }
            if !full {
                return Ok(());
            }
        }
    }

    /// Voids, reminds or suspends for one overdue invoice, as its age calls for.
    async fn chase(
        &self,
        row: &InvoiceRow,
        now: DateTime<Utc>,
        policy: crate::domain::invoice::DunningPolicy,
        report: &mut BillingRunReport,
    ) -> Result<(), ServiceError> {
        if row.kind == InvoiceKind::Order.as_str() && policy.order_void_due(now, row.due_at) {
            // An authorized order is settled with its account, not voided.
            let mut conn = self.db.conn().await?;
            if super::capture::pending_for(&mut conn, row.id).await? {
                return Ok(());
            }
            drop(conn);
            if self.void_stale_order(row).await? {
                report.orders_voided += 1;
            }
            return Ok(());
        }
        if policy.reminder_due(now, row.due_at, row.reminders_sent, row.last_reminder_at)
            && !self.autopay_ahead(row.id).await?
            && self.remind(row, now).await?
        {
            report.reminders += 1;
        }
        if row.kind == InvoiceKind::Renewal.as_str() && policy.suspension_due(now, row.due_at) {
            if let Some(accounts) = self.suspend_for(row).await? {
                report.licenses_suspended += 1;
                report.accounts_suspended += accounts;
            }
        }
        Ok(())
    }

    /// Issues the late fee of each renewal unpaid long enough, once per invoice: a unique
    /// index on the overdue invoice makes a racing instance's second fee fail.
    async fn charge_late_fees(
        &self,
        now: DateTime<Utc>,
        report: &mut BillingRunReport,
    ) -> Result<(), ServiceError> {
        let fee = self.settings.billing.late_fee;
        if !fee.enabled() {
            return Ok(());
        }
        let mut conn = self.db.conn().await?;
        let due = store::invoices::late_fee_due(&mut conn, fee.cutoff(now), BATCH).await?;
        drop(conn);
        for overdue in due {
            let amount = fee.on(overdue.total_minor);
            if amount <= 0 {
                continue;
            }
            let mut tx = self.db.begin().await?;
            let plan = store::plans::find(&mut tx, overdue.plan_id)
                .await?
                .ok_or(ServiceError::NotFound("plan"))?;
            let customer = store::users::find(&mut tx, overdue.customer_id)
                .await?
                .ok_or(ServiceError::NotFound("customer"))?;
            let cycle =
                BillingCycle::parse(&overdue.billing_cycle).unwrap_or(BillingCycle::Monthly);
            let number = super::invoices::number_of(&overdue);
            let row = InvoiceRow {
                license_id: overdue.license_id,
                late_fee_for: Some(overdue.id),
                ..super::invoices::open_row(
                    &customer,
                    InvoiceKind::LateFee,
                    &plan,
                    cycle,
                    &overdue.currency,
                    now + chrono::Duration::days(self.settings.billing.order_due_days),
                    now,
                )
            };
            let line = invoice::Line {
                description: format!(
                    "Late fee for invoice {number} (due {})",
                    overdue.due_at.format("%Y-%m-%d")
                ),
                quantity: 1,
                unit_amount: amount,
            };
            match super::invoices::create(
                &mut tx,
                &self.settings.invoicing,
                &Actor::system(),
                &customer,
                &row,
                vec![line],
            )
            .await
            {
                Ok(_) => {
                    tx.commit().await?;
                    report.late_fees += 1;
                }
                // Another instance charged it between our read and our write.
                Err(ServiceError::Conflict { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Whether the saved card will still be tried for this invoice: the customer was told
    /// of the failed attempt already, and reminders start once the tries are used up.
    async fn autopay_ahead(&self, invoice_id: i64) -> Result<bool, ServiceError> {
        let max = i64::try_from(self.settings.collection.retry.len()).unwrap_or(i64::MAX);
        let mut conn = self.db.conn().await?;
        Ok(store::autopay::attempts_ahead(&mut conn, invoice_id, max).await?)
    }

    /// Voids an order nobody paid (its price may be stale; the customer can order again).
    async fn void_stale_order(&self, row: &InvoiceRow) -> Result<bool, ServiceError> {
        let mut tx = self.db.begin().await?;
        let reason = format!(
            "unpaid {} days after its due date",
            self.settings.billing.dunning.void_orders_after_days
        );
        if !super::invoices::void_in(&mut tx, &Actor::system(), row, &reason).await? {
            return Ok(false);
        }
        tx.commit().await?;
        Ok(true)
    }

    /// Queues the next reminder unless another run just did.
    async fn remind(&self, row: &InvoiceRow, now: DateTime<Utc>) -> Result<bool, ServiceError> {
        let mut tx = self.db.begin().await?;
        if !store::invoices::count_reminder(&mut tx, row.id, row.reminders_sent, now).await? {
            return Ok(false);
        }
        let sent = row.reminders_sent + 1;
        let suspend_date = (row.kind == InvoiceKind::Renewal.as_str()).then(|| {
            self.settings
                .billing
                .dunning
                .suspend_date(row.due_at)
                .format("%Y-%m-%d")
                .to_string()
        });
        super::invoices::queue_message(
            &mut tx,
            row,
            "overdue_reminder",
            &format!("{}:{sent}", row.id),
            json!({ "suspend_date": suspend_date, "reminder": sent }),
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Suspends the license of an unpaid renewal and queues suspension of its live
    /// accounts; `None` when that was done before, else the accounts queued.
    async fn suspend_for(&self, row: &InvoiceRow) -> Result<Option<i64>, ServiceError> {
        let Some(license_id) = row.license_id else {
            return Ok(None);
        };
        let mut tx = self.db.begin().await?;
        let before = store::licenses::find(&mut tx, license_id)
            .await?
            .ok_or(ServiceError::NotFound("license"))?;
        if before.status != LicenseStatus::Active.as_str() {
            return Ok(None);
        }
        let mut after = before.clone();
        after.status = LicenseStatus::Suspended.as_str().to_owned();
        after.updated_at = store::now();
        let saved = store::licenses::update(&mut tx, &after).await?;
        let actor = Actor::system();
        audit::record(
            &mut tx,
            &actor,
            Change {
                action: "license.suspended_for_non_payment",
                entity_type: "license",
                entity_id: Some(license_id),
                before: Some(&super::licenses::License::from(&before)),
                after: Some(&super::licenses::License::from(&saved)),
            },
        )
        .await?;
        let reason = format!(
            "{NON_PAYMENT}: invoice {} is overdue",
            super::invoices::number_of(row)
        );
        let mut queued = 0;
        for account in store::hosting_accounts::under_license(&mut tx, license_id).await? {
            if account.state != AccountState::Active.as_str() {
                continue;
            }
            let payload = Payload::Suspend {
                account_id: account.id,
                reason: reason.clone(),
            };
            let key = format!("suspend:{}:unpaid:{}", account.id, row.id);
            jobs::enqueue(&mut tx, &self.settings, &payload, &key).await?;
            queued += 1;
        }
        tx.commit().await?;
        tracing::warn!(
            license = license_id,
            invoice = row.id,
            accounts = queued,
            "suspended for non-payment"
        );
        Ok(Some(queued))
    }
}
