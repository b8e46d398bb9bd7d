//! `report mrr|revenue|services|overdue|utilisation`: the dashboard's figures on a terminal.

use clap::{Args, ValueEnum};

use crate::client::{query, Client};
use crate::output::{money, print_json, Table};

/// Which report.
#[derive(Clone, Copy, ValueEnum)]
pub enum ReportName {
    /// Monthly recurring revenue at the end of each month.
    Mrr,
    /// Payments received minus refunds per month.
    Revenue,
    /// Services activated and cancelled per month.
    Services,
    /// Open invoices past their due date now.
    Overdue,
    /// Accounts against capacity per server.
    Utilisation,
}

impl ReportName {
    fn path(self) -> &'static str {
        match self {
            ReportName::Mrr => "mrr",
            ReportName::Revenue => "revenue",
            ReportName::Services => "services",
            ReportName::Overdue => "overdue",
            ReportName::Utilisation => "utilisation",
        }
    }
}

/// `nextpanel-bill report`.
#[derive(Args)]
pub struct ReportArgs {
    /// Which report.
    #[arg(value_enum)]
    pub report: ReportName,
    /// Months back, the current one included (1 to 36).
    #[arg(long, default_value_t = 12)]
    pub months: u32,
    /// Print CSV (series,currency,label,value) instead of a table.
    #[arg(long)]
    pub csv: bool,
}

fn value_text(value: i64, unit: &str, currency: Option<&str>) -> String {
    match (unit, currency) {
        ("minor_units", Some(c)) => money(value, c),
        ("percent", _) => format!("{value}%"),
        _ => value.to_string(),
    }
}

/// Runs `report`.
pub async fn run(args: ReportArgs, client: &mut Client, json: bool) -> anyhow::Result<()> {
    let path = format!(
        "/api/v1/reports/{}{}",
        args.report.path(),
        query(&[("months", Some(args.months.to_string()))])
    );
    let report = client.get(&path).await?;
    if json {
        return print_json(&report);
    }
    let series = report["series"].as_array().cloned().unwrap_or_default();
    let unit = report["unit"].as_str().unwrap_or("count").to_owned();
    if args.csv {
        println!("series,currency,label,value");
        for s in &series {
            for p in s["points"].as_array().into_iter().flatten() {
                println!(
                    "{},{},{},{}",
                    s["name"].as_str().unwrap_or(""),
                    s["currency"].as_str().unwrap_or(""),
                    p["label"].as_str().unwrap_or(""),
                    p["value"].as_i64().unwrap_or(0)
                );
            }
        }
        return Ok(());
    }
    println!("{}", report["title"].as_str().unwrap_or("report"));
    let names: Vec<String> = series
        .iter()
        .map(|s| s["name"].as_str().unwrap_or("").to_uppercase())
        .collect();
    let mut headers = vec!["".to_owned()];
    headers.extend(names);
    let header_refs: Vec<&str> = headers.iter().map(String::as_str).collect();
    let mut t = Table::new(&header_refs);
    let labels: Vec<String> = series
        .first()
        .and_then(|s| s["points"].as_array())
        .map(|p| {
            p.iter()
                .map(|p| p["label"].as_str().unwrap_or("").to_owned())
                .collect()
        })
        .unwrap_or_default();
    for (i, label) in labels.iter().enumerate() {
        let mut row = vec![label.clone()];
        for s in &series {
            let v = s["points"][i]["value"].as_i64().unwrap_or(0);
            row.push(value_text(v, &unit, s["currency"].as_str()));
        }
        t.row(row);
    }
    t.print("figures");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_read_in_their_unit() {
        assert_eq!(value_text(1999, "minor_units", Some("USD")), "19.99 USD");
        assert_eq!(value_text(30, "percent", None), "30%");
        assert_eq!(value_text(3, "count", None), "3");
    }
}
