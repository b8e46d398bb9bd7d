//! Output for people and for scripts: aligned tables, JSON, money in major units, and
//! colour only on a terminal without `NO_COLOR`.

use std::io::IsTerminal;

use serde_json::Value;

/// Whether stdout may carry colour: a terminal, and `NO_COLOR` unset or empty.
pub fn colour() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Prints a JSON value, pretty, on stdout.
pub fn print_json(value: &Value) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// A table whose columns are padded to their widest cell.
pub struct Table {
    headers: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column headings.
    pub fn new(headers: &[&str]) -> Table {
        Table {
            headers: headers.iter().map(|h| (*h).to_owned()).collect(),
            rows: Vec::new(),
        }
    }

    /// Adds a row (missing cells are blank).
    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// Whether no row was added.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The table as text, one line per row, headings first.
    pub fn render(&self, colour: bool) -> String {
        let width = |s: &str| s.chars().count();
        let mut widths: Vec<usize> = self.headers.iter().map(|h| width(h)).collect();
        for row in &self.rows {
            for (i, cell) in row.iter().enumerate().take(widths.len()) {
                widths[i] = widths[i].max(width(cell));
            }
        }
        let line = |cells: &[String]| {
            let last = widths.len().saturating_sub(1);
            let mut out = String::new();
            for (i, w) in widths.iter().enumerate() {
                let cell = cells.get(i).map_or("", String::as_str);
                out.push_str(cell);
                if i < last {
                    out.push_str(&" ".repeat(w - width(cell) + 2));
                }
            }
            out.trim_end().to_owned()
        };
        let mut out = String::new();
        let head = line(&self.headers);
        if colour {
            out.push_str(&format!("\x1b[1m{head}\x1b[0m\n"));
        } else {
            out.push_str(&head);
            out.push('\n');
        }
        for row in &self.rows {
            out.push_str(&line(row));
            out.push('\n');
        }
        out
    }

    /// Prints the table, or `none` when empty.
    pub fn print(&self, what: &str) {
        if self.is_empty() {
            println!("no {what}");
        } else {
            print!("{}", self.render(colour()));
        }
    }
}

/// The items of a JSON array, or of a page's `items`; empty when there are none.
pub fn items(value: &Value) -> &[Value] {
    value.as_array().map(Vec::as_slice).unwrap_or_default()
}

/// Prints the paging line under a list: `page 1 of 3 (120 in all)`.
pub fn print_page(list: &Value) {
    let total = list["total"].as_i64().unwrap_or(0);
    let page = list["page"].as_i64().unwrap_or(1);
    let per_page = list["per_page"].as_i64().unwrap_or(50).max(1);
    let pages = ((total + per_page - 1) / per_page).max(1);
    if pages > 1 {
        println!("page {page} of {pages} ({total} in all; see the others with --page)");
    }
}

/// A JSON field as table text: strings bare, `null` as `-`, booleans as yes/no.
pub fn text(v: &Value) -> String {
    match v {
        Value::Null => "-".to_owned(),
        Value::String(s) => s.clone(),
        Value::Bool(true) => "yes".to_owned(),
        Value::Bool(false) => "no".to_owned(),
        other => other.to_string(),
    }
}

/// Digits after the decimal point of a currency (ISO 4217); 2 for all but these.
fn minor_digits(currency: &str) -> u32 {
    const ZERO: &[&str] = &[
        "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI", "VND",
        "VUV", "XAF", "XOF", "XPF",
    ];
    const THREE: &[&str] = &["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"];
    let code = currency.to_ascii_uppercase();
    if ZERO.contains(&code.as_str()) {
        0
    } else if THREE.contains(&code.as_str()) {
        3
    } else {
        2
    }
}

/// Minor units as major units with the currency: `999 USD` → `9.99 USD`, with integer
/// arithmetic only, so no amount is ever rounded.
pub fn money(minor: i64, currency: &str) -> String {
    let digits = minor_digits(currency);
    let code = currency.to_ascii_uppercase();
    let sign = if minor < 0 { "-" } else { "" };
    let abs = minor.unsigned_abs();
    if digits == 0 {
        return format!("{sign}{abs} {code}");
    }
    let scale = 10u64.pow(digits);
    format!(
        "{sign}{}.{:0width$} {code}",
        abs / scale,
        abs % scale,
        width = digits as usize
    )
}

/// A plan's prices as `9.99 USD/monthly, 99.90 USD/annual`, in cycle order.
pub fn plan_prices(plan: &Value) -> String {
    let currency = plan["currency"].as_str().unwrap_or("");
    let mut out = Vec::new();
    for cycle in ["monthly", "quarterly", "semiannual", "annual"] {
        if let Some(amount) = plan["prices"][cycle].as_i64() {
            out.push(format!("{}/{cycle}", money(amount, currency)));
        }
    }
    out.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_is_exact_in_major_units() {
        assert_eq!(money(999, "USD"), "9.99 USD");
        assert_eq!(money(5, "eur"), "0.05 EUR");
        assert_eq!(money(1000, "JPY"), "1000 JPY");
        assert_eq!(money(1234, "KWD"), "1.234 KWD");
        assert_eq!(money(-250, "USD"), "-2.50 USD");
        assert_eq!(money(i64::MIN, "USD"), "-92233720368547758.08 USD");
    }

    #[test]
    fn tables_align_columns() {
        let mut t = Table::new(&["ID", "NAME"]);
        t.row(vec!["1".into(), "web".into()]);
        t.row(vec!["100".into(), "x".into()]);
        assert_eq!(t.render(false), "ID   NAME\n1    web\n100  x\n");
    }

    #[test]
    fn prices_are_listed_in_cycle_order() {
        let plan =
            serde_json::json!({"currency": "USD", "prices": {"annual": 9990, "monthly": 999}});
        assert_eq!(plan_prices(&plan), "9.99 USD/monthly, 99.90 USD/annual");
    }
}
