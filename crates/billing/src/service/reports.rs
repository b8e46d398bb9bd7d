//! The numbers at a glance: monthly recurring revenue, revenue collected, new and
//! cancelled services, what is overdue, and server utilisation. Each report is one
//! series-shaped answer (for the dashboard's charts, the CLI and spreadsheets via CSV).

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Months, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{Actor, ServiceError};
use crate::domain::server;
use crate::domain::tax::div_round;
use crate::domain::Invalid;
use crate::store::{self, Db};

/// Which report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReportName {
    /// Monthly recurring revenue at the end of each month, per currency.
    Mrr,
    /// Payments received minus refunds, per month and currency.
    Revenue,
    /// Licenses activated and cancelled per month.
    Services,
    /// Open invoices past their due date now, per currency.
    Overdue,
    /// Accounts against capacity, per server.
    Utilisation,
}

/// `?months=` of the reports over time.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReportQuery {
    /// Months back, the current one included (1 to 36, default 12).
    pub months: Option<u32>,
}

/// One point of a series.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Point {
    /// A month (`2026-12`), or what the value is of (a server's name).
    pub label: String,
    /// Minor units, a count or a percentage, as the report's `unit` says.
    pub value: i64,
}

/// One line (or group of bars) of a chart.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Series {
    /// What it is: a currency (`USD`), `new`, `cancelled`, `percent used`.
    pub name: String,
    /// The currency of money series.
    pub currency: Option<String>,
    /// Its points, oldest month first.
    pub points: Vec<Point>,
}

/// A report.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Report {
    /// Which report.
    pub report: ReportName,
    /// A title for people.
    pub title: String,
    /// `minor_units`, `count` or `percent`.
    pub unit: String,
    /// When it was computed.
    pub generated_at: DateTime<Utc>,
    /// Its series.
    pub series: Vec<Series>,
}

/// The first instant of each of the last `n` months (the current one last), and of the
/// month after.
fn months(now: DateTime<Utc>, n: u32) -> Result<Vec<DateTime<Utc>>, ServiceError> {
    let this = NaiveDate::from_ymd_opt(now.year(), now.month(), 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|d| d.and_utc())
        .ok_or_else(|| ServiceError::Internal("a month that does not exist".into()))?;
    (0..=n)
        .map(|i| {
            let back = n - 1;
            if i <= back {
                this.checked_sub_months(Months::new(back - i))
            } else {
                this.checked_add_months(Months::new(1))
            }
            .ok_or_else(|| ServiceError::Internal("months out of range".into()))
        })
        .collect()
}

fn label(month: DateTime<Utc>) -> String {
    month.format("%Y-%m").to_string()
}

/// Adds `value` to the point `at` of the series named `name`, creating what is missing.
fn put(
    series: &mut Vec<Series>,
    name: &str,
    currency: Option<&str>,
    labels: &[String],
    at: usize,
    value: i64,
) {
    let i = match series.iter().position(|s| s.name == name) {
        Some(i) => i,
        None => {
            series.push(Series {
                name: name.to_owned(),
                currency: currency.map(str::to_owned),
                points: labels
                    .iter()
                    .map(|l| Point {
                        label: l.clone(),
                        value: 0,
                    })
                    .collect(),
            });
            series.len() - 1
        }
    };
    series[i].points[at].value += value;
}

/// What the licenses live at one instant cost per cycle, by currency and cycle, built up
/// from changes.
#[derive(Default)]
struct LiveTotals(BTreeMap<(String, String), (i128, i64)>);

impl LiveTotals {
    fn add(&mut self, change: &store::reports::LiveChange) {
        let (total, licenses) = self
            .0
            .entry((change.currency.clone(), change.billing_cycle.clone()))
            .or_default();
        *total += i128::from(change.total_minor);
        *licenses += change.licenses;
    }

    /// MRR per currency that has live licenses, in currency order: the monthly equivalent
    /// of every cycle, summed in twelfths and rounded once.
    fn mrr(&self) -> Vec<(String, i64)> {
        let mut twelfths: Vec<(String, i128)> = Vec::new();
        for ((currency, cycle), (total, _)) in self.0.iter().filter(|(_, (_, n))| *n > 0) {
            let per_year = match cycle.as_str() {
                "monthly" => 12,
                "quarterly" => 4,
                "semiannual" => 2,
                _ => 1,
            };
            match twelfths.last_mut() {
                Some((c, t)) if c == currency => *t += total * per_year,
                _ => twelfths.push((currency.clone(), total * per_year)),
            }
        }
        twelfths
            .into_iter()
            .map(|(c, t)| (c, i64::try_from(div_round(t, 12)).unwrap_or(i64::MAX)))
            .collect()
    }
}

/// One report (admin, staff).
pub async fn report(
    db: &Db,
    actor: &Actor,
    name: ReportName,
    q: &ReportQuery,
) -> Result<Report, ServiceError> {
    actor.require_staff()?;
    let n = q.months.unwrap_or(12);
    if !(1..=36).contains(&n) {
        return Err(Invalid::new("months", "must be between 1 and 36").into());
    }
    let now = store::now();
    let bounds = months(now, n)?;
    let labels: Vec<String> = bounds[..bounds.len() - 1]
        .iter()
        .map(|m| label(*m))
        .collect();
    let mut conn = db.read().await?;
    let mut series = Vec::new();
    let (title, unit) = match name {
        ReportName::Mrr => {
            // The licenses live at each month's end are the running sum of the monthly
            // changes up to it; the current month's point is at `now`, so it adds the
            // changes since the month began.
            let current = bounds[labels.len() - 1];
            let changes = store::reports::live_changes_until(&mut conn, &label(current)).await?;
            let since = if now > current {
                store::reports::live_changes_between(&mut conn, current, now).await?
            } else {
                Vec::new()
            };
            let mut live = LiveTotals::default();
            let mut pending = changes.iter().peekable();
            for i in 0..labels.len() {
                let last = i + 1 == labels.len();
                let upto = if last {
                    label(current)
                } else {
                    label(bounds[i + 1])
                };
                while let Some(change) = pending.next_if(|c| c.month <= upto) {
                    live.add(change);
                }
                if last {
                    since.iter().for_each(|change| live.add(change));
                }
                for (currency, mrr) in live.mrr() {
                    put(&mut series, &currency, Some(&currency), &labels, i, mrr);
                }
            }
            (
                "Monthly recurring revenue (at each month's end, current prices)",
                "minor_units",
            )
        }
        ReportName::Revenue => {
            let rows =
                store::reports::revenue_by_month(&mut conn, &labels[0], &labels[labels.len() - 1])
                    .await?;
            for (i, month) in labels.iter().enumerate() {
                let of_month = || rows.iter().filter(|r| &r.month == month);
                // Payments first, then refunds: the order a currency's series first shows.
                for r in of_month().filter(|r| r.payments > 0) {
                    put(
                        &mut series,
                        &r.currency,
                        Some(&r.currency),
                        &labels,
                        i,
                        r.received,
                    );
                }
                for r in of_month().filter(|r| r.refunds > 0) {
                    put(
                        &mut series,
                        &r.currency,
                        Some(&r.currency),
                        &labels,
                        i,
                        -r.refunded,
                    );
                }
            }
            ("Revenue collected (payments minus refunds)", "minor_units")
        }
        ReportName::Services => {
            let rows =
                store::reports::services_by_month(&mut conn, &labels[0], &labels[labels.len() - 1])
                    .await?;
            for (i, month) in labels.iter().enumerate() {
                let (new, cancelled) = rows
                    .iter()
                    .find(|r| &r.month == month)
                    .map_or((0, 0), |r| (r.activated, r.cancelled));
                put(&mut series, "new", None, &labels, i, new);
                put(&mut series, "cancelled", None, &labels, i, cancelled);
            }
            ("New and cancelled services", "count")
        }
        ReportName::Overdue => {
            let today = vec![now.format("%Y-%m-%d").to_string()];
            for o in store::reports::overdue(&mut conn, now).await? {
                put(
                    &mut series,
                    &o.currency,
                    Some(&o.currency),
                    &today,
                    0,
                    o.total_minor,
                );
                put(
                    &mut series,
                    &format!("{} invoices", o.currency),
                    None,
                    &today,
                    0,
                    o.invoices,
                );
            }
            (
                "Overdue now (open invoices past their due date)",
                "minor_units",
            )
        }
        ReportName::Utilisation => {
            let servers = store::servers::list(&mut conn).await?;
            let names: Vec<String> = servers.iter().map(|s| s.name.clone()).collect();
            for (i, s) in servers.iter().enumerate() {
                put(
                    &mut series,
                    "percent used",
                    None,
                    &names,
                    i,
                    server::utilization_percent(s.current_accounts, s.capacity),
                );
                put(&mut series, "accounts", None, &names, i, s.current_accounts);
                put(&mut series, "capacity", None, &names, i, s.capacity);
            }
            ("Server utilisation", "percent")
        }
    };
    Ok(Report {
        report: name,
        title: title.to_owned(),
        unit: unit.to_owned(),
        generated_at: now,
        series,
    })
}

/// A report as CSV: one row per series and point.
pub fn csv(report: &Report) -> String {
    let mut out = String::from("series,currency,label,value\n");
    for s in &report.series {
        for p in &s.points {
            let field = crate::domain::text::csv_field;
            out.push_str(&format!(
                "{},{},{},{}\n",
                field(&s.name),
                s.currency.as_deref().unwrap_or(""),
                field(&p.label),
                p.value
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn months_end_with_the_current_one() -> Result<(), ServiceError> {
        let now = Utc
            .with_ymd_and_hms(2026, 12, 2, 10, 0, 0)
            .single()
            .expect("a time");
        let m = months(now, 3)?;
        let shown: Vec<String> = m.iter().map(|d| label(*d)).collect();
        assert_eq!(shown, ["2026-10", "2026-11", "2026-12", "2027-01"]);
        Ok(())
    }
}
