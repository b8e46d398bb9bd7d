//! Exact money: integer minor units plus an ISO-4217 currency. Never floats.

use super::Invalid;

/// Active ISO-4217 currency codes (funds and precious metals left out).
const ISO_4217: &[&str] = &[
    "AED", "AFN", "ALL", "AMD", "ANG", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT",
    "BGN", "BHD", "BIF", "BMD", "BND", "BOB", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD", "CAD",
    "CDF", "CHF", "CLP", "CNY", "COP", "CRC", "CUP", "CVE", "CZK", "DJF", "DKK", "DOP", "DZD",
    "EGP", "ERN", "ETB", "EUR", "FJD", "FKP", "GBP", "GEL", "GHS", "GIP", "GMD", "GNF", "GTQ",
    "GYD", "HKD", "HNL", "HTG", "HUF", "IDR", "ILS", "INR", "IQD", "IRR", "ISK", "JMD", "JOD",
    "JPY", "KES", "KGS", "KHR", "KMF", "KPW", "KRW", "KWD", "KYD", "KZT", "LAK", "LBP", "LKR",
    "LRD", "LSL", "LYD", "MAD", "MDL", "MGA", "MKD", "MMK", "MNT", "MOP", "MRU", "MUR", "MVR",
    "MWK", "MXN", "MYR", "MZN", "NAD", "NGN", "NIO", "NOK", "NPR", "NZD", "OMR", "PAB", "PEN",
    "PGK", "PHP", "PKR", "PLN", "PYG", "QAR", "RON", "RSD", "RUB", "RWF", "SAR", "SBD", "SCR",
    "SDG", "SEK", "SGD", "SHP", "SLE", "SOS", "SRD", "SSP", "STN", "SVC", "SYP", "SZL", "THB",
    "TJS", "TMT", "TND", "TOP", "TRY", "TTD", "TWD", "TZS", "UAH", "UGX", "USD", "UYU", "UZS",
    "VES", "VND", "VUV", "WST", "XAF", "XCD", "XOF", "XPF", "YER", "ZAR", "ZMW", "ZWG",
];

/// Currencies whose minor unit is not 1/100.
const EXPONENTS: &[(&str, u32)] = &[
    ("BHD", 3),
    ("BIF", 0),
    ("CLP", 0),
    ("DJF", 0),
    ("GNF", 0),
    ("IQD", 3),
    ("ISK", 0),
    ("JOD", 3),
    ("JPY", 0),
    ("KMF", 0),
    ("KRW", 0),
    ("KWD", 3),
    ("LYD", 3),
    ("OMR", 3),
    ("PYG", 0),
    ("RWF", 0),
    ("TND", 3),
    ("UGX", 0),
    ("VND", 0),
    ("VUV", 0),
    ("XAF", 0),
    ("XOF", 0),
    ("XPF", 0),
];

/// An ISO-4217 currency code such as `USD`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Currency(&'static str);

impl Currency {
    /// Parses a three-letter ISO-4217 code (case-insensitive).
    pub fn parse(raw: &str) -> Result<Currency, Invalid> {
        let upper = raw.trim().to_ascii_uppercase();
        ISO_4217
            .iter()
            .find(|code| **code == upper)
            .map(|code| Currency(code))
            .ok_or_else(|| {
                Invalid::new(
                    "currency",
                    format!("'{}' is not an ISO-4217 currency code", raw.trim()),
                )
            })
    }

    /// The code, e.g. `USD`.
    pub fn code(self) -> &'static str {
        self.0
    }

    /// Number of decimal places of the minor unit (2 for USD, 0 for JPY).
    pub fn exponent(self) -> u32 {
        EXPONENTS
            .iter()
            .find(|(code, _)| *code == self.0)
            .map_or(2, |(_, exp)| *exp)
    }
}

/// An amount of money in minor units (cents) of one currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Money {
    minor: i64,
    currency: Currency,
}

impl Money {
    /// Largest amount accepted for a price: ten billion major units of a 2-decimal currency.
    pub const MAX_PRICE_MINOR: i64 = 1_000_000_000_000;

    /// A price: non-negative and below [`Money::MAX_PRICE_MINOR`]; `field` names the input.
    pub fn price(field: &'static str, minor: i64, currency: Currency) -> Result<Money, Invalid> {
        if minor < 0 {
            return Err(Invalid::new(field, "must not be negative"));
        }
        if minor > Self::MAX_PRICE_MINOR {
            return Err(Invalid::new(
                field,
                format!("must be at most {}", Self::MAX_PRICE_MINOR),
            ));
        }
        Ok(Money { minor, currency })
    }

    /// Reads an amount typed in major units (`4.99`, `12`, `1500` for JPY) exactly,
    /// digit by digit: more decimals than the currency has, signs, exponents or anything
    /// but digits and one point are refused.
    pub fn parse_decimal(
        field: &'static str,
        text: &str,
        currency: Currency,
    ) -> Result<Money, Invalid> {
        let exp = usize::try_from(currency.exponent()).unwrap_or(0);
        let wrong = || {
            Invalid::new(
                field,
                format!(
                    "must be an amount like {} in {}",
                    if exp == 0 {
                        "1500".to_owned()
                    } else {
                        format!("4.{}", "9".repeat(exp))
                    },
                    currency.code()
                ),
            )
        };
        let text = text.trim();
        let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
        let digits = |s: &str| s.chars().all(|c| c.is_ascii_digit());
        if whole.is_empty()
            || whole.len() > 12
            || !digits(whole)
            || !digits(fraction)
            || fraction.len() > exp
        {
            return Err(wrong());
        }
        if text.ends_with('.') {
            return Err(wrong());
        }
        let padded = format!("{whole}{fraction:0<exp$}");
        let minor: i64 = padded.parse().map_err(|_| wrong())?;
        Money::price(field, minor, currency)
    }

    /// The amount in minor units.
    pub fn minor(self) -> i64 {
        self.minor
    }

    /// The currency.
    pub fn currency(self) -> Currency {
        self.currency
    }

    /// The amount in major units as exact decimal text, e.g. `12.50` or `1500` for JPY.
    pub fn decimal(self) -> String {
        let exp = self.currency.exponent();
        if exp == 0 {
            return self.minor.to_string();
        }
        let scale = 10_i64.pow(exp);
        let sign = if self.minor < 0 { "-" } else { "" };
        let abs = self.minor.unsigned_abs();
        let scale = scale.unsigned_abs();
        format!(
            "{sign}{}.{:0width$}",
            abs / scale,
            abs % scale,
            width = exp as usize
        )
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn typed_amounts_are_read_exactly() -> Result<(), super::Invalid> {
        let usd = super::Currency::parse("USD")?;
        let jpy = super::Currency::parse("JPY")?;
        let read = |t: &str, c| super::Money::parse_decimal("amount", t, c).map(|m| m.minor());
        assert_eq!(read("4.99", usd), Ok(499));
        assert_eq!(read("4.9", usd), Ok(490));
        assert_eq!(read("12", usd), Ok(1200));
        assert_eq!(read(" 0.07 ", usd), Ok(7));
        assert_eq!(read("1500", jpy), Ok(1500));
        for bad in [
            "4.999",
            "-1",
            "1e3",
            "",
            ".5",
            "5.",
            "4,99",
            "12345678901234",
        ] {
            assert!(read(bad, usd).is_err(), "{bad}");
        }
        assert!(read("1.5", jpy).is_err());
        Ok(())
    }

    use super::*;

    #[test]
    fn currency_codes() {
        assert_eq!(Currency::parse("usd").map(Currency::code), Ok("USD"));
        assert!(Currency::parse("US").is_err());
        assert!(Currency::parse("XXX").is_err());
        assert_eq!(Currency::parse("JPY").map(Currency::exponent), Ok(0));
        assert_eq!(Currency::parse("KWD").map(Currency::exponent), Ok(3));
        assert_eq!(Currency::parse("EUR").map(Currency::exponent), Ok(2));
    }

    #[test]
    fn prices_are_exact_and_bounded() -> Result<(), Invalid> {
        let usd = Currency::parse("USD")?;
        assert_eq!(Money::price("p", 1250, usd)?.decimal(), "12.50");
        assert_eq!(Money::price("p", 5, usd)?.decimal(), "0.05");
        assert_eq!(
            Money::price("p", 1500, Currency::parse("JPY")?)?.decimal(),
            "1500"
        );
        assert_eq!(
            Money::price("p", 1, Currency::parse("KWD")?)?.decimal(),
            "0.001"
        );
        assert!(Money::price("p", -1, usd).is_err());
        assert!(Money::price("p", Money::MAX_PRICE_MINOR + 1, usd).is_err());
        Ok(())
    }
}
