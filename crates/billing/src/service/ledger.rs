//! The ledger check: every invariant of money and state, checked in SQL on one snapshot
//! of the database (`nextpanel-bill check`, the scheduled check behind `/ready` and
//! `/metrics`, and the tests after every integration test).

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::ServiceError;
use crate::domain::invoice::number as legacy_number;
use crate::store::{self, Db};

/// How long a Stripe refund may stay pending before it is worth a look (Stripe answers
/// most at once; a bank's refund can take days).
const PROVIDER_REFUND_PENDING_DAYS: i64 = 7;

/// One broken invariant.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Violation {
    /// The rule, e.g. `credit balance equals its ledger`.
    pub rule: &'static str,
    /// What breaks it, naming the rows.
    pub detail: String,
}

/// What one check found.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LedgerReport {
    /// How many rules were checked.
    pub rules: usize,
    /// Every violation found (empty when the books hold).
    pub violations: Vec<Violation>,
    /// When the snapshot was taken.
    pub checked_at: DateTime<Utc>,
}

/// Checks every rule on one snapshot. `sweep_interval` is the payment sweep's: a manual
/// refund still pending after twice that (and a little) was left behind by a crash and
/// not settled.
pub async fn check(
    db: &Db,
    sweep_interval: std::time::Duration,
) -> Result<LedgerReport, ServiceError> {
    let now = store::now();
    let sweep = Duration::from_std(sweep_interval * 2).unwrap_or(Duration::hours(1));
    let manual_stale = now - sweep - Duration::minutes(1);
    let provider_stale = now - Duration::days(PROVIDER_REFUND_PENDING_DAYS);
    let mut tx = db.snapshot().await?;
    let rules = store::ledger::rules();
    let mut violations = Vec::new();
    for rule in &rules {
        for detail in store::ledger::violations(&mut tx, rule, manual_stale, provider_stale).await?
        {
            violations.push(Violation {
                rule: rule.name,
                detail,
            });
        }
    }
    let (taken, early, numbered) = store::ledger::invoice_numbering(&mut tx).await?;
    tx.rollback().await?;
    let early = early
        .iter()
        .filter(|(id, number)| *number == legacy_number(*id))
        .count() as i64;
    if numbered - early != taken {
        violations.push(Violation {
            rule: "invoice numbers are gapless",
            detail: format!(
                "{} invoices hold numbers from the sequence, which gave {taken}",
                numbered - early
            ),
        });
    }
    Ok(LedgerReport {
        rules: rules.len() + 1,
        violations,
        checked_at: now,
    })
}

/// The outcome of this instance's latest scheduled check, for `/ready` and `/metrics`.
#[derive(Debug, Default)]
pub struct LedgerStatus {
    /// Violations found by the latest check; -1 before the first one finished.
    violations: AtomicI64,
    /// When it ran (seconds since the epoch; 0: never).
    checked_at: AtomicI64,
}

impl LedgerStatus {
    /// A status that has not checked yet.
    pub fn new() -> Arc<LedgerStatus> {
        Arc::new(LedgerStatus {
            violations: AtomicI64::new(-1),
            checked_at: AtomicI64::new(0),
        })
    }

    /// Records a finished check.
    pub fn record(&self, report: &LedgerReport) {
        self.violations
            .store(report.violations.len() as i64, Ordering::Relaxed);
        self.checked_at
            .store(report.checked_at.timestamp(), Ordering::Relaxed);
    }

    /// `(violations, when)` of the latest check, if one finished.
    pub fn latest(&self) -> Option<(i64, DateTime<Utc>)> {
        let n = self.violations.load(Ordering::Relaxed);
        let at = DateTime::from_timestamp(self.checked_at.load(Ordering::Relaxed), 0)?;
        (n >= 0).then_some((n, at))
    }
}

/// Runs the check every `interval` for as long as the process lives, logging each
/// violation (an error: the books are wrong) and keeping the count for `/ready`.
pub async fn run_scheduled(
    db: Db,
    status: Arc<LedgerStatus>,
    interval: std::time::Duration,
    sweep_interval: std::time::Duration,
) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        match check(&db, sweep_interval).await {
            Ok(report) => {
                for v in &report.violations {
                    tracing::error!(rule = v.rule, detail = %v.detail, "ledger check: violation");
                }
                status.record(&report);
            }
            Err(e) => tracing::warn!(error = %e, "ledger check could not run"),
        }
    }
}
