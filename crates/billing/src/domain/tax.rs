//! Tax: rates by place and date, the tax of an invoice line with one rounding rule, and
//! the EU reverse charge for business customers in another member state.
//!
//! Rounding: tax is computed **per line** and rounded **half away from zero** to the
//! minor unit (half-up for the positive amounts of invoices). With tax-exclusive prices
//! a line's tax is `round(net × rate)`; with tax-inclusive prices its net is
//! `round(gross ÷ (1 + rate))` and its tax is `gross − net`, so net + tax is always the
//! price exactly. Invoice totals are the sums of the lines.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::Invalid;

/// Basis points in 100 %.
pub const FULL_BP: i64 = 10_000;

/// A tax rate in force for a place over a span of dates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Rate {
    /// Its id.
    pub id: i64,
    /// What invoices call it: `VAT`, `GST`, `Sales tax`.
    pub name: String,
    /// The rate in basis points: 2000 is 20 %.
    pub rate_bp: i64,
    /// ISO 3166-1 alpha-2 country code.
    pub country: String,
    /// Region (state, province) within the country; `None` for the whole country.
    pub region: Option<String>,
    /// First day it applies.
    pub valid_from: NaiveDate,
    /// Last day it applies; `None` while in force.
    pub valid_to: Option<NaiveDate>,
}

impl Rate {
    fn applies_on(&self, day: NaiveDate) -> bool {
        self.valid_from <= day && self.valid_to.is_none_or(|to| day <= to)
    }

    /// Whether both rates would apply to the same place on some day.
    pub fn overlaps(&self, other: &Rate) -> bool {
        let same_place = self.country == other.country
            && self.region.as_deref().map(str::to_ascii_lowercase)
                == other.region.as_deref().map(str::to_ascii_lowercase);
        let starts_before_other_ends = other.valid_to.is_none_or(|to| self.valid_from <= to);
        let other_starts_before_end = self.valid_to.is_none_or(|to| other.valid_from <= to);
        same_place && starts_before_other_ends && other_starts_before_end
    }
}

/// Checks a rate's fields (the id is not looked at).
pub fn check(rate: &Rate) -> Result<(), Invalid> {
    let name = rate.name.trim();
    if name.is_empty() || name.chars().count() > 40 {
        return Err(Invalid::new(
            "name",
            "must be 1 to 40 characters, like VAT or Sales tax",
        ));
    }
    if !(0..=FULL_BP).contains(&rate.rate_bp) {
        return Err(Invalid::new(
            "rate_bp",
            "must be between 0 and 10000 basis points (0 % to 100 %)",
        ));
    }
    country(&rate.country)?;
    if let Some(region) = &rate.region {
        if region.trim().is_empty() || region.chars().count() > 64 {
            return Err(Invalid::new(
                "region",
                "must be 1 to 64 characters, or left out",
            ));
        }
    }
    if rate.valid_to.is_some_and(|to| to < rate.valid_from) {
        return Err(Invalid::new("valid_to", "must not be before valid_from"));
    }
    Ok(())
}

/// A country code as stored: two upper-case letters.
pub fn country(raw: &str) -> Result<String, Invalid> {
    let code = raw.trim().to_ascii_uppercase();
    // Assigned codes only: `XX`, `QQ` and `ZZ` are two letters but no country, and a tax
    // rate or a buyer in one would never match anything real.
    if code.len() == 2 && isocountry::CountryCode::for_alpha2(&code).is_ok() {
        Ok(code)
    } else {
        Err(Invalid::new(
            "country",
            "must be an assigned two-letter ISO 3166-1 country code like DE or US",
        ))
    }
}

/// The rate for a buyer in `country` (and `region`) on `day`: one for the region
/// wins over one for the whole country; `None` when no rate applies (no tax).
pub fn pick<'a>(
    rates: &'a [Rate],
    country: &str,
    region: Option<&str>,
    day: NaiveDate,
) -> Option<&'a Rate> {
    let here = |r: &&Rate| r.country.eq_ignore_ascii_case(country) && r.applies_on(day);
    let regional = region.and_then(|want| {
        rates.iter().filter(here).find(|r| {
            r.region
                .as_deref()
                .is_some_and(|have| have.eq_ignore_ascii_case(want.trim()))
        })
    });
    regional.or_else(|| rates.iter().filter(here).find(|r| r.region.is_none()))
}

/// `numerator / denominator` rounded half away from zero (`denominator > 0`).
pub fn div_round(numerator: i128, denominator: i128) -> i128 {
    let half = denominator / 2;
    if numerator >= 0 {
        (numerator + half) / denominator
    } else {
        -((-numerator + half) / denominator)
    }
}

/// Net amount and tax of a line priced `amount` at `rate_bp`.
pub fn line_tax(
    amount: i64,
    rate_bp: i64,
    prices_include_tax: bool,
) -> Result<(i64, i64), Invalid> {
    let too_large = || Invalid::new("amount", "the amount is too large");
    let (amount_w, bp) = (i128::from(amount), i128::from(rate_bp));
    let (net, tax) = if prices_include_tax {
        let net = div_round(amount_w * i128::from(FULL_BP), i128::from(FULL_BP) + bp);
        (net, amount_w - net)
    } else {
        (amount_w, div_round(amount_w * bp, i128::from(FULL_BP)))
    };
    Ok((
        i64::try_from(net).map_err(|_| too_large())?,
        i64::try_from(tax).map_err(|_| too_large())?,
    ))
}

/// An invoice's lines with their tax, and its totals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Totals {
    /// `(net, tax)` of each line, in the order given.
    pub lines: Vec<(i64, i64)>,
    /// Sum of the nets.
    pub subtotal: i64,
    /// Sum of the taxes.
    pub tax: i64,
    /// `subtotal + tax`: what the customer pays.
    pub total: i64,
}

/// Taxes lines priced `amounts` at `rate_bp` (0 for none), line by line.
pub fn totals(amounts: &[i64], rate_bp: i64, prices_include_tax: bool) -> Result<Totals, Invalid> {
    let too_large = || Invalid::new("amount", "the invoice total is too large");
    let mut out = Totals {
        lines: Vec::with_capacity(amounts.len()),
        subtotal: 0,
        tax: 0,
        total: 0,
    };
    for amount in amounts {
        let (net, tax) = line_tax(*amount, rate_bp, prices_include_tax)?;
        out.subtotal = out.subtotal.checked_add(net).ok_or_else(too_large)?;
        out.tax = out.tax.checked_add(tax).ok_or_else(too_large)?;
        out.lines.push((net, tax));
    }
    out.total = out.subtotal.checked_add(out.tax).ok_or_else(too_large)?;
    Ok(out)
}

/// The tax a refund of `refund` gives back of an invoice that carried `tax` in its
/// `gross` total: the same share, rounded half away from zero.
pub fn refunded_tax(refund: i64, tax: i64, gross: i64) -> i64 {
    if gross == 0 {
        return 0;
    }
    i64::try_from(div_round(
        i128::from(refund) * i128::from(tax),
        i128::from(gross),
    ))
    .unwrap_or(0)
}

/// EU member states (Greece's VAT numbers start with EL).
pub const EU: [&str; 27] = [
    "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU", "IE", "IT",
    "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK",
];

/// The shape of each member state's VAT number after its prefix: `d` a digit, `l` a
/// letter, `x` either, followed by a count; upper-case letters stand for themselves;
/// `|` separates the shapes a country uses.
fn vat_shape(country: &str) -> Option<&'static str> {
    Some(match country {
        "AT" => "Ud8",
        "BE" => "d10",
        "BG" => "d9|d10",
        "CY" => "d8l1",
        "CZ" => "d8|d9|d10",
        "DE" | "EE" | "GR" | "PT" => "d9",
        "DK" | "FI" | "HU" | "LU" | "MT" | "SI" => "d8",
        "ES" => "x1d7x1",
        "FR" => "x2d9",
        "HR" | "IT" | "LV" => "d11",
        "IE" => "d7l1|d7l2|d1x1d5l1",
        "LT" => "d9|d12",
        "NL" => "d9Bd2",
        "PL" | "SK" => "d10",
        "RO" => "d2|d3|d4|d5|d6|d7|d8|d9|d10",
        "SE" => "d12",
        _ => return None,
    })
}

fn shape_matches(shape: &str, text: &str) -> bool {
    let mut chars = text.chars();
    let mut spec = shape.chars().peekable();
    while let Some(class) = spec.next() {
        let mut count = String::new();
        while let Some(d) = spec.peek().filter(|c| c.is_ascii_digit()) {
            count.push(*d);
            spec.next();
        }
        let n: usize = count.parse().unwrap_or(1);
        for _ in 0..n {
            let Some(c) = chars.next() else {
                return false;
            };
            let ok = match class {
                'd' => c.is_ascii_digit(),
                'l' => c.is_ascii_uppercase(),
                'x' => c.is_ascii_uppercase() || c.is_ascii_digit(),
                literal => c == literal,
            };
            if !ok {
                return false;
            }
        }
    }
    chars.next().is_none()
}

/// A customer's tax id, normalised (upper case, no spaces, dots or dashes). In an EU
/// country it must be a VAT number of that country's format, with or without its
/// prefix (stored with it); elsewhere 3 to 32 letters and digits.
pub fn tax_id(country_code: &str, raw: &str) -> Result<String, Invalid> {
    let compact: String = raw
        .chars()
        .filter(|c| !c.is_whitespace() && !matches!(c, '.' | '-' | '/'))
        .collect::<String>()
        .to_ascii_uppercase();
    let Some(shape) = vat_shape(country_code) else {
        let fine =
            (3..=32).contains(&compact.len()) && compact.bytes().all(|b| b.is_ascii_alphanumeric());
        return if fine {
            Ok(compact)
        } else {
            Err(Invalid::new("tax_id", "must be 3 to 32 letters and digits"))
        };
    };
    let prefix = if country_code == "GR" {
        "EL"
    } else {
        country_code
    };
    let body = compact.strip_prefix(prefix).unwrap_or(&compact);
    if shape.split('|').any(|s| shape_matches(s, body)) {
        Ok(format!("{prefix}{body}"))
    } else {
        Err(Invalid::new(
            "tax_id",
            format!(
                "is not a VAT number in the format of {country_code} (for example {})",
                example(country_code)
            ),
        ))
    }
}

fn example(country_code: &str) -> &'static str {
    match country_code {
        "DE" => "DE123456789",
        "FR" => "FRXX123456789",
        "NL" => "NL123456789B01",
        "AT" => "ATU12345678",
        _ => "the number on the customer's VAT registration",
    }
}

/// Whether a sale from a shop in `seller_country` to a buyer in `buyer_country` with a
/// VAT number is an EU reverse charge (0 %, the buyer accounts for the VAT).
pub fn reverse_charge(
    seller_country: Option<&str>,
    buyer_country: &str,
    buyer_tax_id: Option<&str>,
) -> bool {
    let Some(seller) = seller_country else {
        return false;
    };
    EU.contains(&seller)
        && EU.contains(&buyer_country)
        && seller != buyer_country
        && buyer_tax_id.is_some_and(|id| tax_id(buyer_country, id).is_ok())
}

/// The note invoices with a reverse charge carry.
pub const REVERSE_CHARGE_NOTE: &str =
    "Reverse charge: VAT to be accounted for by the recipient (Article 196, Council Directive 2006/112/EC).";

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn rate(
        id: i64,
        country: &str,
        region: Option<&str>,
        from: (i32, u32, u32),
        to: Option<(i32, u32, u32)>,
    ) -> Rate {
        let day = |(y, m, d): (i32, u32, u32)| NaiveDate::from_ymd_opt(y, m, d).expect("a day");
        Rate {
            id,
            name: "VAT".into(),
            rate_bp: 2000,
            country: country.into(),
            region: region.map(str::to_owned),
            valid_from: day(from),
            valid_to: to.map(day),
        }
    }

    #[test]
    fn lines_round_half_up_per_line() -> Result<(), Invalid> {
        // 9.99 at 19 %: 1.8981 → 1.90; 0.05 at 10 %: 0.005 → 0.01.
        assert_eq!(line_tax(999, 1900, false)?, (999, 190));
        assert_eq!(line_tax(5, 1000, false)?, (5, 1));
        assert_eq!(line_tax(4, 1000, false)?, (4, 0));
        // 11.90 including 19 %: net 10.00, tax 1.90.
        assert_eq!(line_tax(1190, 1900, true)?, (1000, 190));
        assert_eq!(line_tax(-999, 1900, false)?, (-999, -190));
        assert_eq!(line_tax(999, 0, true)?, (999, 0));
        Ok(())
    }

    #[test]
    fn the_regional_rate_wins_and_dates_bound_rates() {
        let rates = vec![
            rate(1, "US", None, (2020, 1, 1), None),
            rate(2, "US", Some("CA"), (2020, 1, 1), Some((2026, 6, 30))),
        ];
        let day = |m| NaiveDate::from_ymd_opt(2026, m, 1).expect("a day");
        assert_eq!(
            pick(&rates, "US", Some("ca"), day(3)).map(|r| r.id),
            Some(2)
        );
        assert_eq!(
            pick(&rates, "US", Some("CA"), day(7)).map(|r| r.id),
            Some(1)
        );
        assert_eq!(pick(&rates, "US", None, day(3)).map(|r| r.id), Some(1));
        assert_eq!(pick(&rates, "DE", None, day(3)), None);
    }

    #[test]
    fn overlapping_rates_are_found() {
        let a = rate(1, "DE", None, (2020, 1, 1), Some((2026, 12, 31)));
        assert!(a.overlaps(&rate(2, "DE", None, (2026, 12, 31), None)));
        assert!(!a.overlaps(&rate(2, "DE", None, (2027, 1, 1), None)));
        assert!(!a.overlaps(&rate(2, "DE", Some("BY"), (2020, 1, 1), None)));
        assert!(!a.overlaps(&rate(2, "AT", None, (2020, 1, 1), None)));
        assert!(rate(1, "DE", None, (2020, 1, 1), None).overlaps(&rate(
            2,
            "DE",
            None,
            (2030, 1, 1),
            None
        )));
    }

    #[test]
    fn rates_are_checked() {
        let mut r = rate(0, "DE", None, (2026, 1, 1), None);
        assert!(check(&r).is_ok());
        r.rate_bp = 10_001;
        assert_eq!(check(&r).map_err(|e| e.field), Err("rate_bp"));
        r.rate_bp = -1;
        assert_eq!(check(&r).map_err(|e| e.field), Err("rate_bp"));
        r.rate_bp = 2000;
        r.country = "Germany".into();
        assert_eq!(check(&r).map_err(|e| e.field), Err("country"));
    }

    #[test]
    fn vat_numbers_have_their_countrys_format() {
        assert_eq!(tax_id("DE", "de 123.456.789"), Ok("DE123456789".into()));
        assert_eq!(tax_id("DE", "123456789"), Ok("DE123456789".into()));
        assert_eq!(tax_id("GR", "EL123456789"), Ok("EL123456789".into()));
        assert_eq!(tax_id("NL", "NL123456789B01"), Ok("NL123456789B01".into()));
        assert_eq!(tax_id("AT", "ATU12345678"), Ok("ATU12345678".into()));
        assert!(tax_id("DE", "DE12345678").is_err());
        assert!(tax_id("FR", "FR123").is_err());
        assert_eq!(tax_id("US", "12-3456789"), Ok("123456789".into()));
        assert!(tax_id("US", "x").is_err());
    }

    #[test]
    fn reverse_charge_needs_two_eu_countries_and_a_vat_number() {
        assert!(reverse_charge(Some("DE"), "FR", Some("FRXX123456789")));
        assert!(!reverse_charge(Some("DE"), "DE", Some("DE123456789")));
        assert!(!reverse_charge(Some("DE"), "FR", None));
        assert!(!reverse_charge(Some("DE"), "FR", Some("FR1")));
        assert!(!reverse_charge(Some("US"), "FR", Some("FRXX123456789")));
        assert!(!reverse_charge(None, "FR", Some("FRXX123456789")));
    }

    proptest! {
        /// With prices including tax, net + tax is the price to the unit, and the net is
        /// the nearest unit to price ÷ (1 + rate).
        #[test]
        fn inclusive_prices_split_exactly(gross in -10_000_000_000i64..10_000_000_000, bp in 0i64..=10_000) {
            let (net, tax) = line_tax(gross, bp, true).expect("in range");
            prop_assert_eq!(net + tax, gross);
            let exact = gross as f64 * 10_000.0 / (10_000 + bp) as f64;
            prop_assert!((net as f64 - exact).abs() <= 0.5 + 1e-6 * exact.abs().max(1.0));
        }

        /// With prices excluding tax, the tax is within half a unit of the exact tax.
        #[test]
        fn exclusive_tax_is_within_half_a_unit(net in -10_000_000_000i64..10_000_000_000, bp in 0i64..=10_000) {
            let (n, tax) = line_tax(net, bp, false).expect("in range");
            prop_assert_eq!(n, net);
            let exact = i128::from(net) * i128::from(bp);
            let err = (i128::from(tax) * 10_000 - exact).abs();
            prop_assert!(err <= 5_000, "tax {} for {} at {}", tax, net, bp);
        }

        /// Totals are the sums of the lines, and with inclusive prices the total is
        /// exactly what the lines' prices add up to.
        #[test]
        fn totals_are_the_sums_of_the_lines(
            amounts in proptest::collection::vec(0i64..100_000_000, 0..20),
            bp in 0i64..=10_000,
            inclusive: bool,
        ) {
            let t = totals(&amounts, bp, inclusive).expect("in range");
            prop_assert_eq!(t.subtotal, t.lines.iter().map(|l| l.0).sum::<i64>());
            prop_assert_eq!(t.tax, t.lines.iter().map(|l| l.1).sum::<i64>());
            prop_assert_eq!(t.total, t.subtotal + t.tax);
            if inclusive {
                prop_assert_eq!(t.total, amounts.iter().sum::<i64>());
            } else {
                prop_assert_eq!(t.subtotal, amounts.iter().sum::<i64>());
            }
        }

        /// Half away from zero is symmetric.
        #[test]
        fn rounding_is_symmetric(n in -1_000_000_000i128..1_000_000_000, d in 1i128..100_000) {
            prop_assert_eq!(div_round(-n, d), -div_round(n, d));
        }
    }
}
