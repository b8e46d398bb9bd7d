//! Coupons: their codes, what they take off, and whether one may be used now.

use chrono::{DateTime, Utc};

use super::tax::div_round;
use super::Invalid;

/// What a coupon takes off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Discount {
    /// This share of the amount, in basis points (1 to 10000).
    Percent(i64),
    /// This many minor units of `currency` (never more than the amount).
    Fixed {
        /// Minor units.
        amount: i64,
        /// ISO-4217 code.
        currency: String,
    },
}

impl Discount {
    /// Minor units taken off `base` (in the coupon's currency for fixed ones): rounded half
    /// up, never more than `base`, never negative.
    pub fn off(&self, base: i64) -> i64 {
        let off = match self {
            Discount::Percent(bp) => {
                i64::try_from(div_round(i128::from(base) * i128::from(*bp), 10_000)).unwrap_or(0)
            }
            Discount::Fixed { amount, .. } => *amount,
        };
        off.clamp(0, base.max(0))
    }

    /// How the discount reads on an invoice line: `20% off`, `5.00 USD off`.
    pub fn words(&self, amount_text: impl Fn(i64, &str) -> String) -> String {
        match self {
            Discount::Percent(bp) => {
                let whole = bp / 100;
                let frac = bp % 100;
                if frac == 0 {
                    format!("{whole}% off")
                } else {
                    format!("{whole}.{frac:02}% off")
                }
            }
            Discount::Fixed { amount, currency } => {
                format!("{} off", amount_text(*amount, currency))
            }
        }
    }
}

/// A coupon code as stored: 3 to 32 letters, digits, `-` or `_`, in upper case.
pub fn code(field: &'static str, raw: &str) -> Result<String, Invalid> {
    let code = raw.trim().to_ascii_uppercase();
    let fine = (3..=32).contains(&code.len())
        && code
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if fine {
        Ok(code)
    } else {
        Err(Invalid::new(
            field,
            "must be 3 to 32 letters, digits, '-' or '_'",
        ))
    }
}

/// What decides whether a coupon may be used.
#[derive(Debug, Clone)]
pub struct Terms {
    /// Its code.
    pub code: String,
    /// Switched off by an admin?
    pub is_active: bool,
    /// When it stops working.
    pub expires_at: Option<DateTime<Utc>>,
    /// How often it may be used.
    pub max_redemptions: Option<i64>,
    /// How often it was used.
    pub redemptions: i64,
    /// The one plan it is for (`None`: all).
    pub plan_id: Option<i64>,
    /// The plan's name, for the message.
    pub plan_name: Option<String>,
    /// A fixed coupon's currency.
    pub currency: Option<String>,
}

/// Whether the coupon may be used now on `plan_id` priced in `currency`; the reason if not.
pub fn usable(t: &Terms, plan_id: i64, currency: &str, now: DateTime<Utc>) -> Result<(), Invalid> {
    let refuse = |why: String| Err(Invalid::new("coupon", format!("{} {why}", t.code)));
    if !t.is_active {
        return refuse("is no longer valid".into());
    }
    if let Some(at) = t.expires_at.filter(|at| *at <= now) {
        return refuse(format!("expired on {}", at.format("%Y-%m-%d")));
    }
    if t.max_redemptions.is_some_and(|max| t.redemptions >= max) {
        return refuse("has been used up".into());
    }
    if t.plan_id.is_some_and(|p| p != plan_id) {
        return refuse(format!(
            "is for the plan {} only",
            t.plan_name.as_deref().unwrap_or("another plan")
        ));
    }
    if let Some(c) = t.currency.as_deref().filter(|c| *c != currency) {
        return refuse(format!("is in {c}; this plan is priced in {currency}"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn terms() -> Terms {
        Terms {
            code: "WELCOME".into(),
            is_active: true,
            expires_at: None,
            max_redemptions: Some(2),
            redemptions: 0,
            plan_id: Some(1),
            plan_name: Some("Starter".into()),
            currency: None,
        }
    }

    #[test]
    fn discounts_round_and_never_exceed_the_amount() {
        assert_eq!(Discount::Percent(2000).off(999), 200);
        assert_eq!(Discount::Percent(10_000).off(999), 999);
        let fixed = Discount::Fixed {
            amount: 5000,
            currency: "USD".into(),
        };
        assert_eq!(fixed.off(999), 999);
        assert_eq!(fixed.off(-5), 0);
        assert_eq!(
            Discount::Percent(1250).words(|_, _| String::new()),
            "12.50% off"
        );
    }

    #[test]
    fn coupons_say_why_they_cannot_be_used() {
        let now = Utc::now();
        assert!(usable(&terms(), 1, "USD", now).is_ok());
        let mut t = terms();
        t.redemptions = 2;
        assert!(usable(&t, 1, "USD", now)
            .expect_err("refused")
            .message
            .contains("used up"));
        let t = Terms {
            expires_at: Some(now),
            ..terms()
        };
        assert!(usable(&t, 1, "USD", now)
            .expect_err("refused")
            .message
            .contains("expired"));
        assert!(usable(&terms(), 2, "USD", now)
            .expect_err("refused")
            .message
            .contains("Starter only"));
        let t = Terms {
            currency: Some("EUR".into()),
            ..terms()
        };
        assert!(usable(&t, 1, "USD", now)
            .expect_err("refused")
            .message
            .contains("is in EUR"));
        let t = Terms {
            is_active: false,
            ..terms()
        };
        assert_eq!(
            usable(&t, 1, "USD", now).expect_err("refused").field,
            "coupon"
        );
        assert_eq!(code("c", " summer-26 "), Ok("SUMMER-26".into()));
        assert!(code("c", "no").is_err() && code("c", "bad code").is_err());
    }
}
