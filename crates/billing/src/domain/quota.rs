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

/// What a license holds now, for checking a move to a smaller plan.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Holdings {
    /// Live hosting accounts.
    pub accounts: i64,
    /// Domains reported by the servers.
    pub domains: i64,
    /// Databases reported by the servers.
    pub databases: i64,
    /// Email accounts reported by the servers.
    pub emails: i64,
}

/// Whether `held` fits under `quotas`; otherwise every resource over its new limit, in words.
pub fn fits(held: Holdings, quotas: super::plan::Quotas) -> Result<(), String> {
    let over: Vec<String> = [
        ("hosting accounts", held.accounts, quotas.max_accounts),
        ("domains", held.domains, quotas.max_domains),
        ("databases", held.databases, quotas.max_databases),
        ("email accounts", held.emails, quotas.max_emails),
    ]
    .into_iter()
    .filter(|(_, used, limit)| *limit != super::plan::UNLIMITED && used > limit)
    .map(|(what, used, limit)| format!("{used} {what} (the plan allows {limit})"))
    .collect();
    if over.is_empty() {
        Ok(())
    } else {
        Err(format!("the license holds {}", over.join(", ")))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_move_fits_only_when_every_resource_is_within_the_new_limits() {
        let quotas = crate::domain::plan::Quotas {
            max_accounts: 1,
            max_domains: 5,
            max_databases: 2,
            max_emails: -1,
            storage_mb: 100,
            bandwidth_mb: -1,
        };
        let small = Holdings {
            accounts: 1,
            domains: 5,
            databases: 2,
            emails: 900,
        };
        assert_eq!(fits(small, quotas), Ok(()));
        let big = Holdings {
            databases: 7,
            domains: 6,
            ..small
        };
        let err = fits(big, quotas).unwrap_err();
        assert!(err.contains("6 domains (the plan allows 5)"), "{err}");
        assert!(err.contains("7 databases (the plan allows 2)"), "{err}");
        assert!(!err.contains("email"), "{err}");
    }

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
