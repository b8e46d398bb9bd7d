//! Billing users' identity fields: email, names, phone and passwords.

use super::{text, Invalid};

/// A syntactically valid, lower-cased email address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    /// Longest address SMTP allows.
    pub const MAX_LEN: usize = 254;

    /// Parses and normalises (trim, lower-case) an email address.
    pub fn parse(raw: &str) -> Result<Email, Invalid> {
        let value = raw.trim().to_lowercase();
        let bad = |msg: &str| Err(Invalid::new("email", msg));
        if value.is_empty() {
            return bad("must not be empty");
        }
        if value.len() > Self::MAX_LEN {
            return bad("must be at most 254 characters");
        }
        let Some((local, domain)) = value.rsplit_once('@') else {
            return bad("must be an email address like name@example.com");
        };
        let domain_ok = domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains("..")
            && domain
                .chars()
                .all(|c| c.is_alphanumeric() || c == '-' || c == '.');
        let local_ok = !local.is_empty()
            && local.len() <= 64
            && !local.contains('@')
            && local.chars().all(|c| {
                !c.is_whitespace()
                    && !c.is_control()
                    && c != '<'
                    && c != '>'
                    && c != '"'
                    && c != ','
            });
        if !domain_ok || !local_ok {
            return bad("must be an email address like name@example.com");
        }
        Ok(Email(value))
    }

    /// The address as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Consumes the address into its text.
    pub fn into_string(self) -> String {
        self.0
    }
}

/// A person's full name (1 to 200 characters).
pub fn full_name(raw: &str) -> Result<String, Invalid> {
    text::bounded("full_name", raw, 1, 200)
}

/// An optional company name (up to 200 characters).
pub fn company_name(raw: Option<&str>) -> Result<Option<String>, Invalid> {
    text::optional("company_name", raw, 200)
}

/// An optional phone number: digits, spaces and `+-().`, 4 to 32 characters.
pub fn phone(raw: Option<&str>) -> Result<Option<String>, Invalid> {
    let Some(value) = text::optional("phone", raw, 32)? else {
        return Ok(None);
    };
    let digits = value.chars().filter(char::is_ascii_digit).count();
    if digits < 4
        || !value
            .chars()
            .all(|c| c.is_ascii_digit() || " +-().".contains(c))
    {
        return Err(Invalid::new(
            "phone",
            "must be a phone number: digits, spaces and + - ( ) . only",
        ));
    }
    Ok(Some(value))
}

/// A new password that is long enough and not absurdly long.
pub struct NewPassword(String);

impl NewPassword {
    /// Shortest password accepted for billing accounts.
    pub const MIN_LEN: usize = 10;
    /// Longest password accepted (Argon2 input stays cheap to bound).
    pub const MAX_LEN: usize = 128;

    /// Checks the password rules; `field` names the input in errors.
    pub fn parse(field: &'static str, raw: &str) -> Result<NewPassword, Invalid> {
        let len = raw.chars().count();
        if len < Self::MIN_LEN {
            return Err(Invalid::new(
                field,
                format!("must be at least {} characters", Self::MIN_LEN),
            ));
        }
        if len > Self::MAX_LEN {
            return Err(Invalid::new(
                field,
                format!("must be at most {} characters", Self::MAX_LEN),
            ));
        }
        if raw.trim().is_empty() {
            return Err(Invalid::new(field, "must not be only spaces"));
        }
        Ok(NewPassword(raw.to_owned()))
    }

    /// The password text, for hashing only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for NewPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NewPassword(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_normalises_and_rejects() {
        assert_eq!(
            Email::parse(" Ada@Example.COM ").map(Email::into_string),
            Ok("ada@example.com".into())
        );
        for bad in [
            "",
            "ada",
            "ada@",
            "@example.com",
            "ada@example",
            "a b@example.com",
            "ada@exa mple.com",
            "ada@.com",
            "ada@example..com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad} should be rejected");
        }
        assert!(Email::parse(&format!("{}@example.com", "a".repeat(65))).is_err());
    }

    #[test]
    fn phone_rules() {
        assert_eq!(
            phone(Some("+1 (555) 010-2000")),
            Ok(Some("+1 (555) 010-2000".into()))
        );
        assert_eq!(phone(Some("")), Ok(None));
        assert!(phone(Some("call me")).is_err());
        assert!(phone(Some("12")).is_err());
    }

    #[test]
    fn password_rules() {
        assert!(NewPassword::parse("password", "short").is_err());
        assert!(NewPassword::parse("password", &" ".repeat(12)).is_err());
        assert!(NewPassword::parse("password", &"x".repeat(129)).is_err());
        let ok =
            NewPassword::parse("password", "correct horse battery").map(|p| p.expose().to_owned());
        assert_eq!(ok, Ok("correct horse battery".to_owned()));
        assert_eq!(
            format!(
                "{:?}",
                NewPassword::parse("p", "correct horse battery").ok()
            ),
            "Some(NewPassword(***))"
        );
    }
}

/// Where a customer's invoices are addressed, and their tax id.
#[derive(
    Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(deny_unknown_fields)]
pub struct Billing {
    /// Street and city, up to 300 characters (several lines allowed).
    #[serde(default)]
    pub address: Option<String>,
    /// Postal code.
    #[serde(default)]
    pub postal_code: Option<String>,
    /// State, province or region (regional tax rates match on it).
    #[serde(default)]
    pub region: Option<String>,
    /// ISO 3166-1 alpha-2 country code: which tax applies.
    #[serde(default)]
    pub country: Option<String>,
    /// VAT number (EU: checked against the country's format) or other tax id.
    #[serde(default)]
    pub tax_id: Option<String>,
}

impl Billing {
    /// Checks and normalises every field; a tax id needs the country it belongs to.
    pub fn checked(self) -> Result<Billing, Invalid> {
        let address = text::optional("billing.address", self.address.as_deref(), 300)?;
        let postal_code = text::optional("billing.postal_code", self.postal_code.as_deref(), 20)?;
        let region = text::optional("billing.region", self.region.as_deref(), 64)?;
        let country = match text::optional("billing.country", self.country.as_deref(), 64)? {
            Some(c) => Some(
                super::tax::country(&c).map_err(|e| Invalid::new("billing.country", e.message))?,
            ),
            None => None,
        };
        let tax_id = match (
            text::optional("billing.tax_id", self.tax_id.as_deref(), 40)?,
            &country,
        ) {
            (None, _) => None,
            (Some(_), None) => {
                return Err(Invalid::new(
                    "billing.tax_id",
                    "needs billing.country, the country that issued it",
                ))
            }
            (Some(raw), Some(c)) => Some(
                super::tax::tax_id(c, &raw)
                    .map_err(|e| Invalid::new("billing.tax_id", e.message))?,
            ),
        };
        Ok(Billing {
            address,
            postal_code,
            region,
            country,
            tax_id,
        })
    }
}
