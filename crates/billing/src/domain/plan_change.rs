//! Moving a license to another plan in the middle of its period: which way it goes, and
//! the prorated difference.
//!
//! Proration is per day: the period runs from its start to its end (UTC dates); the days
//! left are those from today (included) to the end (excluded). An upgrade costs
//! `(new price − old price) × days left ÷ days in the period`; a downgrade taken at once
//! credits `(old price − new price) × days left ÷ days in the period`. Both are rounded
//! half away from zero to the minor unit.

use chrono::{DateTime, Months, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::plan::BillingCycle;
use super::tax::div_round;
use super::Invalid;

/// Which way a plan change goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// To a plan that costs more per period (or the same).
    Upgrade,
    /// To a plan that costs less.
    Downgrade,
}

impl Direction {
    /// From the two plans' prices for the license's cycle.
    pub fn of(old_price: i64, new_price: i64) -> Direction {
        if new_price < old_price {
            Direction::Downgrade
        } else {
            Direction::Upgrade
        }
    }

    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Upgrade => "upgrade",
            Direction::Downgrade => "downgrade",
        }
    }
}

/// When a downgrade takes effect.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Timing {
    /// At the end of the paid period (the default): nothing to credit.
    #[default]
    PeriodEnd,
    /// At once, with the unused difference added to the credit balance.
    Now,
}

/// The start of the period that ends at `end`.
pub fn period_start(end: DateTime<Utc>, cycle: BillingCycle) -> Result<DateTime<Utc>, Invalid> {
    end.checked_sub_months(Months::new(cycle.months()))
        .ok_or_else(|| Invalid::new("plan_id", "the license's period is out of range"))
}

/// The prorated part of a per-period amount.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Proration {
    /// Days left in the period, today included.
    pub days_left: i64,
    /// Days in the period.
    pub days_in_period: i64,
    /// `amount × days_left ÷ days_in_period`, rounded.
    pub amount: i64,
}

/// Prorates `per_period` over what is left of `[start, end)` on `today`.
pub fn prorate(
    per_period: i64,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    today: DateTime<Utc>,
) -> Proration {
    let days_in_period = (end.date_naive() - start.date_naive()).num_days().max(1);
    let days_left = (end.date_naive() - today.date_naive())
        .num_days()
        .clamp(0, days_in_period);
    let amount = div_round(
        i128::from(per_period) * i128::from(days_left),
        i128::from(days_in_period),
    );
    Proration {
        days_left,
        days_in_period,
        amount: i64::try_from(amount).unwrap_or(i64::MAX),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn day(y: i32, m: u32, d: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, 15, 30, 0)
            .single()
            .expect("a day")
    }

    #[test]
    fn an_upgrade_pays_the_days_left() {
        // December has 31 days; on the 2nd, 30 are left (the 2nd to the 31st).
        let p = prorate(1000, day(2026, 12, 1), day(2027, 1, 1), day(2026, 12, 2));
        assert_eq!((p.days_left, p.days_in_period, p.amount), (30, 31, 968));
        // The whole period on its first day; nothing on its last day... but one day.
        assert_eq!(
            prorate(1000, day(2026, 12, 1), day(2027, 1, 1), day(2026, 12, 1)).amount,
            1000
        );
        assert_eq!(
            prorate(1000, day(2026, 12, 1), day(2027, 1, 1), day(2026, 12, 31)).amount,
            32
        );
        assert_eq!(
            prorate(1000, day(2026, 12, 1), day(2027, 1, 1), day(2027, 1, 5)).amount,
            0
        );
    }

    #[test]
    fn directions_and_periods() {
        assert_eq!(Direction::of(999, 1999), Direction::Upgrade);
        assert_eq!(Direction::of(1999, 999), Direction::Downgrade);
        assert_eq!(
            period_start(day(2027, 1, 1), BillingCycle::Monthly),
            Ok(day(2026, 12, 1))
        );
    }
}
