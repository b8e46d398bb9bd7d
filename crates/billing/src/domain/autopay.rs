//! Automatic renewal charges: when the next off-session attempt of an invoice may run,
//! what Stripe's decline codes mean in words, and whether a saved card lasts until a
//! renewal.

use chrono::{DateTime, Datelike, Duration, Utc};

/// Days after the due date of the automatic attempts, by default: on the due date, then
/// 3, 5 and 7 days later. After the last one the reminders and suspension take over.
pub const DEFAULT_RETRY_DAYS: [i64; 4] = [0, 3, 5, 7];

/// The attempt schedule of an invoice: days after its due date, ascending from 0 or more.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetrySchedule(Vec<i64>);

impl RetrySchedule {
    /// Checks that the days are 0 or more, ascending, and at most 20.
    pub fn new(days: Vec<i64>) -> Result<RetrySchedule, &'static str> {
        if days.is_empty() || days.len() > 20 {
            return Err("must list 1 to 20 days");
        }
        if days.iter().any(|d| *d < 0 || *d > 365) {
            return Err("days must be between 0 and 365");
        }
        if days.windows(2).any(|w| w[0] >= w[1]) {
            return Err("days must be in ascending order without repeats");
        }
        Ok(RetrySchedule(days))
    }

    /// The days, as configured.
    pub fn days(&self) -> &[i64] {
        &self.0
    }

    /// How many attempts the schedule allows.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Always false: a schedule has at least one attempt.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// When the attempt after `tries` earlier ones may run: at its day after the due date,
    /// and never sooner after the previous attempt than the gap the schedule puts between
    /// them (so a card saved late is not tried four times in one day). `None` once the
    /// schedule is used up.
    pub fn next_at(
        &self,
        due_at: DateTime<Utc>,
        tries: usize,
        last_try: Option<DateTime<Utc>>,
    ) -> Option<DateTime<Utc>> {
        let day = *self.0.get(tries)?;
        let planned = due_at + Duration::days(day);
        let gap = match tries.checked_sub(1).and_then(|i| self.0.get(i)) {
            Some(previous) => Duration::days(day - previous),
            None => Duration::zero(),
        };
        Some(match last_try {
            Some(last) => planned.max(last + gap),
            None => planned,
        })
    }
}

impl Default for RetrySchedule {
    fn default() -> Self {
        RetrySchedule(DEFAULT_RETRY_DAYS.to_vec())
    }
}

/// Stripe's decline code in words a customer or an admin can act on.
pub fn decline_in_words(code: &str) -> &'static str {
    match code {
        "insufficient_funds" => "the card has insufficient funds",
        "expired_card" => "the card has expired",
        "incorrect_cvc" | "invalid_cvc" => "the card's security code was wrong",
        "incorrect_number" | "invalid_number" => "the card number is wrong",
        "lost_card" | "stolen_card" | "pickup_card" => "the card was reported lost or stolen",
        "card_velocity_exceeded" | "withdrawal_count_limit_exceeded" => {
            "the card's spending limit was reached"
        }
        "do_not_honor" | "generic_decline" | "card_declined" => {
            "the bank declined the charge without giving a reason"
        }
        "authentication_required" => "the bank asks the cardholder to confirm the payment",
        "processing_error" => "the card could not be processed; it may work on another try",
        "fraudulent" | "merchant_blacklist" => "the charge was blocked as possibly fraudulent",
        "currency_not_supported" => "the card does not support this currency",
        "card_not_supported" => "the card does not support this kind of purchase",
        _ => "the card was declined",
    }
}

/// Whether a card expiring at the end of `exp_month`/`exp_year` can still pay on `date`.
pub fn card_valid_on(exp_month: i64, exp_year: i64, date: DateTime<Utc>) -> bool {
    let (year, month) = (i64::from(date.year()), i64::from(date.month()));
    (exp_year, exp_month) >= (year, month)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(day: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, day, 12, 0, 0).unwrap()
    }

    #[test]
    fn the_default_schedule_tries_on_the_due_date_then_after_3_5_and_7_days() {
        let s = RetrySchedule::default();
        let due = at(1);
        assert_eq!(s.next_at(due, 0, None), Some(at(1)));
        assert_eq!(s.next_at(due, 1, Some(at(1))), Some(at(4)));
        assert_eq!(s.next_at(due, 2, Some(at(4))), Some(at(6)));
        assert_eq!(s.next_at(due, 3, Some(at(6))), Some(at(8)));
        assert_eq!(s.next_at(due, 4, Some(at(8))), None);
    }

    #[test]
    fn a_card_saved_late_is_tried_at_once_then_spaced_out() {
        let s = RetrySchedule::default();
        let due = at(1);
        // Saved on the 10th: the first try is due (it was due on the 1st) ...
        assert_eq!(s.next_at(due, 0, None), Some(at(1)));
        // ... and the second waits the 3 days the schedule puts between them.
        assert_eq!(s.next_at(due, 1, Some(at(10))), Some(at(13)));
    }

    #[test]
    fn schedules_must_be_ascending_and_bounded() {
        assert!(RetrySchedule::new(vec![0, 2, 9]).is_ok());
        assert!(RetrySchedule::new(vec![]).is_err());
        assert!(RetrySchedule::new(vec![3, 3]).is_err());
        assert!(RetrySchedule::new(vec![5, 1]).is_err());
        assert!(RetrySchedule::new(vec![-1, 2]).is_err());
        assert!(RetrySchedule::new((0..21).collect()).is_err());
    }

    #[test]
    fn decline_codes_read_as_sentences() {
        assert_eq!(
            decline_in_words("insufficient_funds"),
            "the card has insufficient funds"
        );
        assert_eq!(decline_in_words("something_new"), "the card was declined");
    }

    #[test]
    fn a_card_is_valid_through_its_expiry_month() {
        assert!(card_valid_on(3, 2026, at(31)));
        assert!(!card_valid_on(2, 2026, at(1)));
        assert!(card_valid_on(1, 2027, at(1)));
        assert!(!card_valid_on(12, 2025, at(1)));
    }
}
