//! Parsing what clients send into checked values ("parse, don't validate"):
//! a [`NewAccount`] always holds a valid username and email, and never a
//! clear-text password.

use serde::Deserialize;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::random;

/// A hosting login: 3 to 32 of `a-z0-9`, starting with a letter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    /// Parses a username, saying what is wrong with a bad one.
    pub fn parse(text: &str) -> Result<Self, String> {
        let problem = if !(3..=32).contains(&text.chars().count()) {
            Some("must be 3 to 32 characters long")
        } else if !text
            .bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        {
            Some("may contain only lowercase letters a-z and digits 0-9")
        } else if !text.starts_with(|c: char| c.is_ascii_lowercase()) {
            Some("must start with a letter")
        } else {
            None
        };
        match problem {
            Some(problem) => Err(format!("Invalid username '{text}': {problem}")),
            None => Ok(Self(text.to_owned())),
        }
    }

    /// The username text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An email address of plausible shape (`local@domain.tld`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    /// Parses an address; the check is shallow, as a panel's would be.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if text.is_empty() {
            return Err("email is required".to_owned());
        }
        let valid = match text.split_once('@') {
            Some((local, domain)) => {
                !local.is_empty()
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
                    && !domain.contains('@')
                    && !text.chars().any(char::is_whitespace)
            }
            None => false,
        };
        if valid {
            Ok(Self(text.to_owned()))
        } else {
            Err(format!("Invalid email address '{text}'"))
        }
    }

    /// The address text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The create body as sent on the wire, before checking.
#[derive(Debug, Deserialize)]
struct CreateBody {
    username: Option<String>,
    email: Option<String>,
    password: Option<String>,
    full_name: Option<String>,
    phone: Option<String>,
    company: Option<String>,
    package_id: Option<i64>,
    #[serde(default)]
    is_admin: Option<bool>,
    billing_id: Option<Value>,
    metadata: Option<Map<String, Value>>,
}

/// A checked create request.
#[derive(Debug, Clone)]
pub struct NewAccount {
    /// The hosting login.
    pub username: Username,
    /// The customer's email.
    pub email: Email,
    /// Salted hash of the initial password, if one was sent.
    pub password_hash: Option<String>,
    /// Contact name.
    pub full_name: Option<String>,
    /// Contact phone.
    pub phone: Option<String>,
    /// Contact company.
    pub company: Option<String>,
    /// The NextPanel package.
    pub package_id: Option<i64>,
    /// Reseller flag.
    pub is_admin: bool,
    /// nextpanel-bill's customer id.
    pub billing_id: Option<String>,
    /// Free-form data kept as sent.
    pub metadata: Map<String, Value>,
}

impl NewAccount {
    /// Parses a JSON create body, naming the field at fault.
    pub fn parse(body: Value) -> Result<Self, String> {
        if !body.is_object() {
            return Err("Request body must be a JSON object".to_owned());
        }
        let raw: CreateBody = serde_path_to_error::deserialize(body)
            .map_err(|e| format!("Invalid value for '{}': {}", e.path(), e.inner()))?;
        let username = match raw.username.as_deref() {
            None | Some("") => return Err("username is required".to_owned()),
            Some(name) => Username::parse(name)?,
        };
        let email = Email::parse(raw.email.as_deref().unwrap_or(""))?;
        let billing_id = match raw.billing_id {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s),
            Some(Value::Number(n)) => Some(n.to_string()),
            Some(_) => return Err("Invalid value for 'billing_id': expected a string".to_owned()),
        };
        let password_hash = raw.password.as_deref().map(hash_password).transpose()?;
        Ok(Self {
            username,
            email,
            password_hash,
            full_name: raw.full_name,
            phone: raw.phone,
            company: raw.company,
            package_id: raw.package_id,
            is_admin: raw.is_admin.unwrap_or(false),
            billing_id,
            metadata: raw.metadata.unwrap_or_default(),
        })
    }
}

/// Salted SHA-256 of a password; the simulator never keeps the password itself.
pub fn hash_password(password: &str) -> Result<String, String> {
    let salt = random::bytes::<16>().map_err(|e| format!("no randomness for salt: {e}"))?;
    let digest = Sha256::new()
        .chain_update(salt)
        .chain_update(password.as_bytes())
        .finalize();
    Ok(format!(
        "sha256${}${}",
        hex::encode(salt),
        hex::encode(digest)
    ))
}

/// Whether `password` matches a hash made by [`hash_password`] (the panel's login check).
pub fn password_matches(hash: &str, password: &str) -> bool {
    let mut parts = hash.split('$');
    let (Some("sha256"), Some(salt), Some(digest), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let (Ok(salt), Ok(expected)) = (hex::decode(salt), hex::decode(digest)) else {
        return false;
    };
    let actual = Sha256::new()
        .chain_update(salt)
        .chain_update(password.as_bytes())
        .finalize();
    crate::auth::constant_time_eq(&actual, &expected)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn a_password_matches_only_its_own_hash() {
        let hash = hash_password("s3cret-pass-1").unwrap();
        assert!(password_matches(&hash, "s3cret-pass-1"));
        assert!(!password_matches(&hash, "s3cret-pass-2"));
        assert!(!password_matches("garbage", "s3cret-pass-1"));
    }

    #[test]
    fn username_rules() {
        assert!(Username::parse("abc").is_ok());
        assert!(Username::parse("a1234567890123456789012345678901").is_ok());
        let too_long = "a".repeat(33);
        assert!(Username::parse(&too_long).unwrap_err().contains("3 to 32"));
        assert!(Username::parse("ab").unwrap_err().contains("3 to 32"));
        assert!(Username::parse("Abc").unwrap_err().contains("lowercase"));
        assert!(Username::parse("ab_c").unwrap_err().contains("lowercase"));
        assert!(Username::parse("1abc")
            .unwrap_err()
            .contains("start with a letter"));
    }

    #[test]
    fn email_rules() {
        assert!(Email::parse("a@example.com").is_ok());
        assert!(Email::parse("").unwrap_err().contains("required"));
        assert!(Email::parse("nope").is_err());
        assert!(Email::parse("a@b").is_err());
        assert!(Email::parse("a b@example.com").is_err());
    }

    #[test]
    fn create_body_is_parsed_and_checked() {
        let input = NewAccount::parse(json!({
            "username": "alice1", "email": "a@example.com", "password": "pw",
            "full_name": null, "phone": null, "company": "ACME",
            "package_id": 2, "is_admin": true, "billing_id": "cus_1",
            "metadata": {"account_type": "reseller"}
        }))
        .unwrap();
        assert_eq!(input.username.as_str(), "alice1");
        assert!(input.password_hash.unwrap().starts_with("sha256$"));
        assert_eq!(input.package_id, Some(2));
        assert!(input.is_admin);

        let err = NewAccount::parse(json!({"username": "alice1"})).unwrap_err();
        assert!(err.contains("email"));
        let err = NewAccount::parse(
            json!({"username": "alice1", "email": "a@example.com", "package_id": "x"}),
        )
        .unwrap_err();
        assert!(err.contains("package_id"), "{err}");
        assert!(NewAccount::parse(json!([])).is_err());
    }

    #[test]
    fn password_hash_is_salted_and_hides_the_password() {
        let a = hash_password("secret-pw").unwrap();
        let b = hash_password("secret-pw").unwrap();
        assert_ne!(a, b);
        assert!(!a.contains("secret-pw"));
    }
}
