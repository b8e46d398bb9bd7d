//! Numbers of invoices and credit notes: a format such as `INV-{YYYY}-{seq:06}` and a
//! sequence without gaps. The sequence restarts each year when the format shows the
//! year, and never when it does not (a number must never come round again).

use chrono::{DateTime, Datelike, Utc};

use super::Invalid;

/// A checked number format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NumberFormat {
    parts: Vec<Part>,
    yearly: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Year4,
    Year2,
    Month,
    Seq(usize),
}

impl NumberFormat {
    /// Parses a format. Placeholders: `{YYYY}`, `{YY}`, `{MM}` and exactly one `{seq}`
    /// or `{seq:0N}` (zero-padded to N digits, N from 1 to 12). `{MM}` needs the year,
    /// so numbers cannot repeat from one year to the next.
    pub fn parse(field: &'static str, text: &str) -> Result<NumberFormat, Invalid> {
        let mut parts = Vec::new();
        let mut rest = text;
        let mut seqs = 0;
        while let Some(open) = rest.find('{') {
            if open > 0 {
                parts.push(Part::Text(rest[..open].to_owned()));
            }
            let close = rest[open..]
                .find('}')
                .map(|c| open + c)
                .ok_or_else(|| Invalid::new(field, "has a '{' without its '}'"))?;
            let token = &rest[open + 1..close];
            parts.push(match token {
                "YYYY" => Part::Year4,
                "YY" => Part::Year2,
                "MM" => Part::Month,
                "seq" => {
                    seqs += 1;
                    Part::Seq(1)
                }
                _ => match token.strip_prefix("seq:0").and_then(|n| n.parse::<usize>().ok()) {
                    Some(width) if (1..=12).contains(&width) => {
                        seqs += 1;
                        Part::Seq(width)
                    }
                    _ => {
                        return Err(Invalid::new(
                            field,
                            format!(
                                "has an unknown placeholder {{{token}}}; use {{YYYY}}, {{YY}}, {{MM}}, {{seq}} or {{seq:06}}"
                            ),
                        ))
                    }
                },
            });
            rest = &rest[close + 1..];
        }
        if rest.contains('}') {
            return Err(Invalid::new(field, "has a '}' without its '{'"));
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_owned()));
        }
        if seqs != 1 {
            return Err(Invalid::new(
                field,
                "must contain the sequence number exactly once, as {seq} or {seq:06}",
            ));
        }
        let yearly = parts.iter().any(|p| matches!(p, Part::Year4 | Part::Year2));
        if parts.contains(&Part::Month) && !yearly {
            return Err(Invalid::new(field, "shows {MM} without the year"));
        }
        let printable = parts.iter().all(|p| match p {
            Part::Text(t) => t.chars().all(|c| c.is_ascii_graphic() || c == ' '),
            _ => true,
        });
        if !printable || text.len() > 40 {
            return Err(Invalid::new(
                field,
                "must be at most 40 printable ASCII characters",
            ));
        }
        Ok(NumberFormat { parts, yearly })
    }

    /// The counter a document dated `at` takes its number from: its year when the
    /// format shows the year, else one counter for ever (0).
    pub fn counter_year(&self, at: DateTime<Utc>) -> i64 {
        if self.yearly {
            i64::from(at.year())
        } else {
            0
        }
    }

    /// The number of the `seq`-th document dated `at`.
    pub fn render(&self, seq: i64, at: DateTime<Utc>) -> String {
        self.parts
            .iter()
            .map(|p| match p {
                Part::Text(t) => t.clone(),
                Part::Year4 => format!("{:04}", at.year()),
                Part::Year2 => format!("{:02}", at.year() % 100),
                Part::Month => format!("{:02}", at.month()),
                Part::Seq(width) => format!("{seq:0width$}"),
            })
            .collect()
    }
}

impl std::fmt::Display for NumberFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for p in &self.parts {
            match p {
                Part::Text(t) => f.write_str(t)?,
                Part::Year4 => f.write_str("{YYYY}")?,
                Part::Year2 => f.write_str("{YY}")?,
                Part::Month => f.write_str("{MM}")?,
                Part::Seq(1) => f.write_str("{seq}")?,
                Part::Seq(width) => write!(f, "{{seq:0{width}}}")?,
            }
        }
        Ok(())
    }
}

/// The default format of invoice numbers.
pub const INVOICE_DEFAULT: &str = "INV-{YYYY}-{seq:06}";
/// The default format of credit-note numbers.
pub const CREDIT_NOTE_DEFAULT: &str = "CN-{YYYY}-{seq:06}";

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(y: i32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, 5, 12, 0, 0)
            .single()
            .expect("a date")
    }

    #[test]
    fn the_defaults_render_as_documented() -> Result<(), Invalid> {
        let f = NumberFormat::parse("f", INVOICE_DEFAULT)?;
        assert_eq!(f.render(42, at(2026, 12)), "INV-2026-000042");
        assert_eq!(f.counter_year(at(2026, 12)), 2026);
        let f = NumberFormat::parse("f", "{YY}{MM}/{seq}")?;
        assert_eq!(f.render(7, at(2027, 3)), "2703/7");
        let f = NumberFormat::parse("f", "A{seq:04}")?;
        assert_eq!(f.render(12_345, at(2026, 1)), "A12345");
        assert_eq!(f.counter_year(at(2026, 1)), 0, "no year shown: one counter");
        Ok(())
    }

    #[test]
    fn formats_that_could_repeat_or_are_unclear_are_refused() {
        for bad in [
            "INV-{YYYY}",
            "{seq}-{seq}",
            "INV-{MM}-{seq}",
            "INV-{seq:0}",
            "INV-{seq:013}",
            "INV-{year}-{seq}",
            "INV-{seq",
            "INV-seq}",
            "INVÉ-{seq}",
        ] {
            assert!(NumberFormat::parse("f", bad).is_err(), "{bad}");
        }
    }
}
