//! Invoices: what a customer owes for an order or a renewal, the exact total, and
//! when an unpaid one gets a reminder or has its services suspended.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::money::Money;
use super::plan::{BillingCycle, PriceList};
use super::Invalid;

/// Why an invoice exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum InvoiceKind {
    /// A new plan: paying it issues a license and creates the hosting account.
    Order,
    /// The next period of an existing license: paying it extends the license.
    Renewal,
    /// The prorated difference of an upgrade: paying it moves the license to the new plan.
    PlanChange,
    /// A fee for a renewal paid late: paying it changes nothing else.
    LateFee,
}

impl InvoiceKind {
    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            InvoiceKind::Order => "order",
            InvoiceKind::Renewal => "renewal",
            InvoiceKind::PlanChange => "plan_change",
            InvoiceKind::LateFee => "late_fee",
        }
    }

    /// Parses a stored name.
    pub fn parse(raw: &str) -> Option<InvoiceKind> {
        match raw {
            "order" => Some(InvoiceKind::Order),
            "renewal" => Some(InvoiceKind::Renewal),
            "plan_change" => Some(InvoiceKind::PlanChange),
            "late_fee" => Some(InvoiceKind::LateFee),
            _ => None,
        }
    }
}

/// Where an invoice stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum InvoiceStatus {
    /// Waiting for payment.
    Open,
    /// Paid in full.
    Paid,
    /// Cancelled before payment; never payable again.
    Void,
}

impl InvoiceStatus {
    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            InvoiceStatus::Open => "open",
            InvoiceStatus::Paid => "paid",
            InvoiceStatus::Void => "void",
        }
    }

    /// Parses a stored name.
    pub fn parse(raw: &str) -> Option<InvoiceStatus> {
        match raw {
            "open" => Some(InvoiceStatus::Open),
            "paid" => Some(InvoiceStatus::Paid),
            "void" => Some(InvoiceStatus::Void),
            _ => None,
        }
    }
}

/// One line of an invoice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// What is charged.
    pub description: String,
    /// How many.
    pub quantity: i64,
    /// Price of one, in minor units.
    pub unit_amount: i64,
}

impl Line {
    /// `quantity × unit_amount`.
    pub fn amount(&self) -> Result<i64, Invalid> {
        self.quantity
            .checked_mul(self.unit_amount)
            .ok_or_else(|| Invalid::new("amount", "the amount is too large"))
    }
}

/// The lines of an invoice for `cycle` of `plan_name` (plus the setup fee on an order);
/// a renewal names its period (an order's starts when it is paid).
pub fn lines(
    plan_name: &str,
    prices: &PriceList,
    cycle: BillingCycle,
    kind: InvoiceKind,
    period: Option<(DateTime<Utc>, DateTime<Utc>)>,
) -> Result<Vec<Line>, Invalid> {
    let price = prices.price(cycle).ok_or_else(|| {
        Invalid::new(
            "billing_cycle",
            format!("the plan has no {} price", cycle.as_str()),
        )
    })?;
    let description = match period {
        Some((from, to)) => format!(
            "{plan_name} hosting, {} ({} to {})",
            cycle.as_str(),
            from.format("%Y-%m-%d"),
            to.format("%Y-%m-%d")
        ),
        None => format!("{plan_name} hosting, {}", cycle.as_str()),
    };
    let mut out = vec![Line {
        description,
        quantity: 1,
        unit_amount: price.minor(),
    }];
    let setup = prices.setup_fee();
    if kind == InvoiceKind::Order && setup.minor() > 0 {
        out.push(Line {
            description: format!("{plan_name} setup fee"),
            quantity: 1,
            unit_amount: setup.minor(),
        });
    }
    Ok(out)
}

/// The exact total of `lines`.
pub fn total(lines: &[Line]) -> Result<i64, Invalid> {
    lines.iter().try_fold(0_i64, |sum, line| {
        sum.checked_add(line.amount()?)
            .ok_or_else(|| Invalid::new("amount", "the total is too large"))
    })
}

/// The number customers see: `INV-000042`.
pub fn number(id: i64) -> String {
    format!("INV-{id:06}")
}

/// Reads `INV-000042` (or a bare `42`) back to an id.
pub fn id_from_number(raw: &str) -> Option<i64> {
    let digits = raw.strip_prefix("INV-").unwrap_or(raw);
    digits.parse().ok().filter(|id| *id > 0)
}

/// The fee charged once for a renewal paid late: a fixed part plus a share of its total.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LateFee {
    /// Minor units.
    pub fixed: i64,
    /// Basis points of the overdue invoice's total.
    pub percent_bp: i64,
    /// Days after the due date when it is charged.
    pub after_days: i64,
}

impl LateFee {
    /// The fee on an overdue total (rounded half up); 0 when none is configured.
    pub fn on(&self, total: i64) -> i64 {
        let share = i64::try_from(super::tax::div_round(
            i128::from(total.max(0)) * i128::from(self.percent_bp),
            10_000,
        ))
        .unwrap_or(0);
        self.fixed.saturating_add(share)
    }

    /// Whether fees are charged at all.
    pub fn enabled(&self) -> bool {
        self.fixed > 0 || self.percent_bp > 0
    }

    /// The due dates late enough for the fee at `now`: before this instant.
    pub fn cutoff(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        now - Duration::days(self.after_days)
    }
}

/// When reminders about unpaid invoices go out and when services stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DunningPolicy {
    /// Days between reminders.
    pub reminder_interval_days: i64,
    /// Reminders per invoice at most.
    pub max_reminders: i64,
    /// Days after the due date when a renewal's hosting is suspended.
    pub suspend_after_days: i64,
    /// Days after the due date when an unpaid order is voided (its price may be stale).
    pub void_orders_after_days: i64,
}

impl DunningPolicy {
    /// Whether an invoice due at `due_at`, reminded `sent` times (last at `last`), gets a reminder now.
    pub fn reminder_due(
        &self,
        now: DateTime<Utc>,
        due_at: DateTime<Utc>,
        sent: i64,
        last: Option<DateTime<Utc>>,
    ) -> bool {
        if now <= due_at || sent >= self.max_reminders {
            return false;
        }
        match last {
            None => true,
            Some(last) => now - last >= Duration::days(self.reminder_interval_days),
        }
    }

    /// The day services of an unpaid renewal due at `due_at` are suspended.
    pub fn suspend_date(&self, due_at: DateTime<Utc>) -> DateTime<Utc> {
        due_at + Duration::days(self.suspend_after_days)
    }

    /// Whether an order due at `due_at` is unpaid long enough to be voided.
    pub fn order_void_due(&self, now: DateTime<Utc>, due_at: DateTime<Utc>) -> bool {
        now >= due_at + Duration::days(self.void_orders_after_days)
    }

    /// Whether a renewal due at `due_at` is unpaid long enough to suspend its services.
    pub fn suspension_due(&self, now: DateTime<Utc>, due_at: DateTime<Utc>) -> bool {
        now >= self.suspend_date(due_at)
    }
}

/// A payment reported by the provider, checked against the invoice before it counts.
pub fn check_amount(
    invoice_total: i64,
    invoice_currency: &str,
    paid: i64,
    paid_currency: &str,
) -> Result<(), String> {
    if !paid_currency.eq_ignore_ascii_case(invoice_currency) {
        return Err(format!(
            "paid in {} but the invoice is in {invoice_currency}",
            paid_currency.to_ascii_uppercase()
        ));
    }
    if paid != invoice_total {
        return Err(format!(
            "paid {paid} minor units but the invoice total is {invoice_total}"
        ));
    }
    Ok(())
}

/// Formats an amount for people: `12.50 USD`.
pub fn display(amount: Money) -> String {
    format!("{} {}", amount.decimal(), amount.currency().code())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::domain::money::Currency;
    use chrono::TimeZone;

    fn prices(setup: i64) -> PriceList {
        let usd = Currency::parse("USD").unwrap();
        PriceList::new(
            usd,
            &[(BillingCycle::Monthly, 999), (BillingCycle::Annual, 9_990)],
            setup,
        )
        .unwrap()
    }

    fn day(d: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, d, 0, 0, 0).unwrap()
    }

    #[test]
    fn an_order_adds_the_setup_fee_and_a_renewal_does_not() {
        let period = Some((day(1), day(31)));
        let order = lines(
            "Starter",
            &prices(500),
            BillingCycle::Monthly,
            InvoiceKind::Order,
            None,
        )
        .unwrap();
        assert_eq!(order.len(), 2);
        assert_eq!(total(&order), Ok(1_499));
        assert_eq!(order[0].description, "Starter hosting, monthly");
        assert_eq!(order[1].description, "Starter setup fee");
        let renewal = lines(
            "Starter",
            &prices(500),
            BillingCycle::Annual,
            InvoiceKind::Renewal,
            period,
        )
        .unwrap();
        assert_eq!(total(&renewal), Ok(9_990));
        assert_eq!(
            renewal[0].description,
            "Starter hosting, annual (2026-01-01 to 2026-01-31)"
        );
        let free_setup = lines(
            "Starter",
            &prices(0),
            BillingCycle::Monthly,
            InvoiceKind::Order,
            None,
        )
        .unwrap();
        assert_eq!(free_setup.len(), 1);
    }

    #[test]
    fn a_cycle_without_a_price_names_the_field() {
        let err = lines(
            "Starter",
            &prices(0),
            BillingCycle::Quarterly,
            InvoiceKind::Order,
            None,
        )
        .unwrap_err();
        assert_eq!(err.field, "billing_cycle");
        assert!(err.message.contains("quarterly"));
    }

    #[test]
    fn totals_never_overflow_silently() {
        let line = Line {
            description: "x".into(),
            quantity: 2,
            unit_amount: i64::MAX,
        };
        assert!(total(&[line]).is_err());
    }

    #[test]
    fn late_fees_add_a_share_to_the_fixed_part() {
        let fee = LateFee {
            fixed: 500,
            percent_bp: 150,
            after_days: 7,
        };
        assert_eq!(fee.on(1999), 500 + 30);
        assert!(fee.enabled());
        assert!(!LateFee::default().enabled());
        assert_eq!(
            LateFee {
                fixed: 0,
                percent_bp: 1000,
                after_days: 1
            }
            .on(995),
            100
        );
    }

    #[test]
    fn numbers_round_trip() {
        assert_eq!(number(42), "INV-000042");
        assert_eq!(number(1_234_567), "INV-1234567");
        assert_eq!(id_from_number("INV-000042"), Some(42));
        assert_eq!(id_from_number("42"), Some(42));
        assert_eq!(id_from_number("INV-x"), None);
        assert_eq!(id_from_number("0"), None);
    }

    #[test]
    fn reminders_start_after_the_due_date_and_keep_their_interval() {
        let policy = DunningPolicy {
            reminder_interval_days: 3,
            max_reminders: 2,
            suspend_after_days: 14,
            void_orders_after_days: 30,
        };
        assert!(!policy.order_void_due(day(30), day(1)));
        assert!(policy.order_void_due(day(31), day(1)));
        assert!(
            !policy.reminder_due(day(5), day(5), 0, None),
            "not before due"
        );
        assert!(policy.reminder_due(day(6), day(5), 0, None));
        assert!(!policy.reminder_due(day(7), day(5), 1, Some(day(6))));
        assert!(policy.reminder_due(day(9), day(5), 1, Some(day(6))));
        assert!(
            !policy.reminder_due(day(20), day(5), 2, Some(day(9))),
            "at most two"
        );
        assert!(!policy.suspension_due(day(18), day(5)));
        assert!(policy.suspension_due(day(19), day(5)));
    }

    #[test]
    fn a_payment_counts_only_for_the_exact_amount_and_currency() {
        assert_eq!(check_amount(1_499, "USD", 1_499, "usd"), Ok(()));
        assert!(check_amount(1_499, "USD", 1_498, "usd")
            .unwrap_err()
            .contains("1498"));
        assert!(check_amount(1_499, "USD", 1_499, "eur")
            .unwrap_err()
            .contains("EUR"));
    }
}
