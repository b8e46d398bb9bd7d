//! Quota alerts: when usage reaches 80 % of a limit a warning goes out, at 100 % a
//! "limit reached" message.

/// How close usage is to its limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuotaAlert {
    /// 80 % or more of the limit.
    Warning,
    /// The limit is reached or exceeded.
    Reached,
}

/// Share of the limit at which the warning goes out.
pub const WARNING_PERCENT: i64 = 80;

/// The alert for `used` against `limit` (`-1` is unlimited: never an alert).
pub fn alert(used: i64, limit: i64) -> Option<QuotaAlert> {
    if limit < 0 {
        return None;
    }
    if used >= limit {
        // A zero limit with nothing used is not "reached": nothing is in use.
        return (used > 0 || limit > 0).then_some(QuotaAlert::Reached);
    }
    (percent(used, limit) >= WARNING_PERCENT).then_some(QuotaAlert::Warning)
}

/// Usage as a whole percentage of the limit (0 for a zero or unlimited limit).
pub fn percent(used: i64, limit: i64) -> i64 {
    if limit <= 0 {
        return 0;
    }
    i64::try_from(i128::from(used.max(0)) * 100 / i128::from(limit)).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds() {
        assert_eq!(alert(3, 5), None);
        assert_eq!(alert(4, 5), Some(QuotaAlert::Warning));
        assert_eq!(alert(5, 5), Some(QuotaAlert::Reached));
        assert_eq!(alert(7, 5), Some(QuotaAlert::Reached));
        assert_eq!(alert(1_000_000, -1), None);
        assert_eq!(alert(0, 0), None);
        assert_eq!(alert(1, 0), Some(QuotaAlert::Reached));
        assert_eq!(alert(799, 1000), None);
        assert_eq!(alert(800, 1000), Some(QuotaAlert::Warning));
        assert_eq!(percent(1, 3), 33);
    }
}
