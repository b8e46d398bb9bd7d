//! Reading the older billing system's values (`../shared/seed-schema.md`): money stored
//! as floats in major units, statuses as enum names in either case, booleans and times
//! as each engine writes them. Every value arrives as text (the importer reads columns
//! `CAST(... AS TEXT)`), so floats are converted from their shortest decimal form exactly.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};

/// An amount converted to minor units, and whether that was exact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Converted {
    /// Minor units, rounded half away from zero.
    pub minor: i64,
    /// `false`: digits past the currency's exponent were dropped (9.990000001 → 999).
    pub exact: bool,
}

/// Converts a decimal number as text (`9.99`, `-0.5`, `19.990000000000002`, `1e-05`) to
/// minor units of a currency with `exponent` decimals.
pub fn money(text: &str, exponent: u32) -> Option<Converted> {
    let text = text.trim();
    let (negative, unsigned) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let (mantissa, power) = match unsigned.split_once(['e', 'E']) {
        Some((m, p)) => (m, p.parse::<i32>().ok()?),
        None => (unsigned, 0),
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if whole.is_empty() && fraction.is_empty()
        || !whole
            .bytes()
            .chain(fraction.bytes())
            .all(|b| b.is_ascii_digit())
    {
        return None;
    }
    // value = digits × 10^-scale; minor units = digits × 10^(exponent - scale).
    let digits = format!("{whole}{fraction}");
    let digits = digits.trim_start_matches('0');
    let scale = i64::try_from(fraction.len()).ok()? - i64::from(power);
    let shift = i64::from(exponent) - scale;
    let parse = |d: &str| -> Option<i64> {
        if d.is_empty() {
            Some(0)
        } else {
            d.parse().ok()
        }
    };
    let (mut minor, exact, round_up) = if shift >= 0 {
        let factor = 10_i64.checked_pow(u32::try_from(shift).ok()?)?;
        (parse(digits)?.checked_mul(factor)?, true, false)
    } else {
        let drop = usize::try_from(-shift).ok()?;
        let (kept, dropped) = digits.split_at(digits.len().saturating_sub(drop));
        // The first dropped digit decides the rounding; when more digits are dropped than
        // there are, it is a leading zero.
        let first = if drop > digits.len() {
            b'0'
        } else {
            dropped.bytes().next().unwrap_or(b'0')
        };
        (
            parse(kept)?,
            dropped.bytes().all(|b| b == b'0'),
            first >= b'5',
        )
    };
    if round_up {
        minor = minor.checked_add(1)?;
    }
    Some(Converted {
        minor: if negative { -minor } else { minor },
        exact,
    })
}

/// An enum value stored by SQLAlchemy (the NAME, `ACTIVE`) or by hand (`active`).
pub fn status(text: &str) -> String {
    text.trim().to_ascii_lowercase()
}

/// A boolean as SQLite (`1`, `0`) or PostgreSQL (`true`, `false`) gives it as text.
pub fn flag(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "t" | "yes" => Some(true),
        "0" | "false" | "f" | "no" => Some(false),
        _ => None,
    }
}

/// A time as SQLAlchemy stores it on SQLite (`2025-01-15 10:00:00.000000`, no zone: UTC)
/// or PostgreSQL gives it as text (`2025-01-15 10:00:00+00`, `...+02:00`).
pub fn time(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.with_timezone(&Utc));
    }
    for format in ["%Y-%m-%d %H:%M:%S%.f%#z", "%Y-%m-%dT%H:%M:%S%.f%#z"] {
        if let Ok(t) = DateTime::parse_from_str(text, format) {
            return Some(t.with_timezone(&Utc));
        }
    }
    for format in ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(text, format) {
            return Some(t.and_utc());
        }
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
}

/// Our state of a hosting account from the old `status` and whether it was deleted.
pub fn account_state(status: Option<&str>, deleted: bool) -> Option<&'static str> {
    if deleted {
        return Some("terminated");
    }
    match self::status(status.unwrap_or("active")).as_str() {
        "active" => Some("active"),
        "suspended" => Some("suspended"),
        "deleted" | "terminated" | "cancelled" | "canceled" | "removed" => Some("terminated"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(text: &str) -> (i64, bool) {
        money(text, 2).map_or((i64::MIN, false), |c| (c.minor, c.exact))
    }

    #[test]
    fn floats_become_exact_minor_units() {
        assert_eq!(m("9.99"), (999, true));
        assert_eq!(m("9.990000001"), (999, false));
        assert_eq!(m("19.990000000000002"), (1999, false));
        assert_eq!(m("99.9"), (9990, true));
        assert_eq!(m("199"), (19900, true));
        assert_eq!(m("199.0"), (19900, true));
        assert_eq!(m("0"), (0, true));
        assert_eq!(m("0.005"), (1, false));
        assert_eq!(m("0.0049"), (0, false));
        assert_eq!(m("-0.005"), (-1, false));
        assert_eq!(m("-12.345"), (-1235, false));
        assert_eq!(m("12.5"), (1250, true));
        assert_eq!(m("1e-05"), (0, false));
        assert_eq!(m("1.5e2"), (15000, true));
        assert_eq!(m("2.675"), (268, false));
        assert_eq!(
            money("1000", 0),
            Some(Converted {
                minor: 1000,
                exact: true
            })
        );
        assert_eq!(
            money("10.5", 0),
            Some(Converted {
                minor: 11,
                exact: false
            })
        );
        for bad in ["", "abc", "1.2.3", "NaN", "inf", "1,5", "-"] {
            assert!(money(bad, 2).is_none(), "{bad}");
        }
    }

    #[test]
    fn times_from_either_engine() {
        let want = "2025-01-15T10:00:00Z";
        for text in [
            "2025-01-15 10:00:00",
            "2025-01-15 10:00:00.000000",
            "2025-01-15 10:00:00+00",
            "2025-01-15 12:00:00+02:00",
            "2025-01-15T10:00:00Z",
        ] {
            assert_eq!(
                time(text).map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
                Some(want.to_owned()),
                "{text}"
            );
        }
        assert!(time("2025-01-15").is_some());
        assert!(time("yesterday").is_none());
    }

    #[test]
    fn enums_flags_and_states() {
        assert_eq!(status("SUSPENDED"), "suspended");
        assert_eq!(flag("1"), Some(true));
        assert_eq!(flag("false"), Some(false));
        assert_eq!(flag("maybe"), None);
        assert_eq!(account_state(Some("ACTIVE"), false), Some("active"));
        assert_eq!(account_state(Some("active"), true), Some("terminated"));
        assert_eq!(account_state(Some("deleted"), false), Some("terminated"));
        assert_eq!(account_state(Some("weird"), false), None);
    }
}
