//! NextPanel's wire format: our requests as its JSON bodies, and its JSON
//! answers as our types.
//!
//! Parsing is tolerant where the contract is loose (ids and numbers as
//! integers or strings, naive timestamps, unknown keys) and strict only about
//! what we cannot do without (an account's `id`, a health `status`). Parse
//! failures describe the problem without echoing the body, so nothing the
//! server sent back (such as a password) reaches an error message.

use chrono::{DateTime, NaiveDateTime, SecondsFormat, Utc};
use secrecy::ExposeSecret;
use serde_json::{json, Map, Value};

use super::types::{CreateAccount, PanelAccount, PanelAccountStatus, PanelHealth, PanelStats};

/// The create body of the contract, with every key present.
pub(crate) fn create_body(request: &CreateAccount) -> Value {
    let is_admin = request.account_type.is_admin();
    json!({
        "username": request.username,
        "email": request.email,
        "password": request.password.expose_secret(),
        "full_name": request.full_name,
        "phone": request.phone,
        "company": request.company,
        "package_id": request.package_id,
        "is_admin": is_admin,
        "billing_id": request.billing_id,
        "metadata": {
            "created_from": "billing_system",
            "billing_customer_id": request.billing_id,
            "account_type": request.account_type.as_str(),
            "is_admin": is_admin,
            "created_at": request.created_at.to_rfc3339_opts(SecondsFormat::Secs, true),
            "hosting_account_id": request.hosting_account_id,
        },
    })
}

/// Parses a body as JSON, saying only that it is not.
fn json_of(body: &[u8]) -> Result<Value, String> {
    serde_json::from_slice(body).map_err(|_| {
        let kind = if body.is_empty() { "empty" } else { "not JSON" };
        format!("the body is {kind} ({} bytes)", body.len())
    })
}

/// One account object; `id` is required.
pub(crate) fn account(body: &[u8]) -> Result<PanelAccount, String> {
    account_of(&json_of(body)?)
}

/// The account list: a JSON array, or an object wrapping one.
pub(crate) fn account_list(body: &[u8]) -> Result<Vec<PanelAccount>, String> {
    let value = json_of(body)?;
    let items = match &value {
        Value::Array(items) => items,
        Value::Object(map) => ["accounts", "items", "data", "results"]
            .iter()
            .find_map(|k| map.get(*k).and_then(Value::as_array))
            .ok_or("an object without an account list")?,
        _ => return Err("neither a list nor an object".to_owned()),
    };
    items.iter().map(account_of).collect()
}

fn account_of(value: &Value) -> Result<PanelAccount, String> {
    let map = value.as_object().ok_or("an account is not a JSON object")?;
    let id = map
        .get("id")
        .and_then(text_of)
        .filter(|id| !id.is_empty())
        .ok_or("an account has no id")?;
    let text = |key: &str| map.get(key).and_then(text_of);
    Ok(PanelAccount {
        id,
        username: text("username").unwrap_or_default(),
        email: text("email").unwrap_or_default(),
        status: text("status").map_or(PanelAccountStatus::Active, |s| {
            PanelAccountStatus::parse(&s)
        }),
        is_admin: map.get("is_admin").is_some_and(truthy),
        package_id: map.get("package_id").and_then(int_of),
        billing_id: text("billing_id"),
        created_at: map.get("created_at").and_then(time_of),
    })
}

/// The stats object: known keys read tolerantly, the rest kept in `extra`.
pub(crate) fn stats(body: &[u8]) -> Result<PanelStats, String> {
    let Value::Object(mut map) = json_of(body)? else {
        return Err("the stats are not a JSON object".to_owned());
    };
    let mut count = |key: &str| {
        map.remove(key)
            .and_then(|v| int_of(&v))
            .and_then(|n| u64::try_from(n).ok())
    };
    let total_domains = count("total_domains");
    let total_databases = count("total_databases");
    let total_email_accounts = count("total_email_accounts");
    let total_ssl_certificates = count("total_ssl_certificates");
    let storage_used_bytes = count("storage_used");
    let account_age_days = count("account_age_days");
    let last_login = map.remove("last_login").as_ref().and_then(time_of);
    Ok(PanelStats {
        total_domains,
        total_databases,
        total_email_accounts,
        total_ssl_certificates,
        storage_used_bytes,
        last_login,
        account_age_days,
        extra: map,
    })
}

/// The health answer; `status` is required, so any web page is not mistaken for NextPanel.
pub(crate) fn health(body: &[u8]) -> Result<PanelHealth, String> {
    let value = json_of(body).map_err(|e| format!("{e}; is this a NextPanel server?"))?;
    let map: &Map<String, Value> = value
        .as_object()
        .ok_or("the health answer is not a JSON object")?;
    let status = map
        .get("status")
        .and_then(Value::as_str)
        .ok_or("the health answer has no status; is this a NextPanel server?")?;
    let extensions = map
        .get("extensions")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    Ok(PanelHealth {
        status: status.to_owned(),
        version: map.get("version").and_then(text_of),
        extensions,
    })
}

/// Any 2xx body will do (the contract promises nothing about it).
pub(crate) fn ignore(_body: &[u8]) -> Result<(), String> {
    Ok(())
}

/// A string, or a number written as text.
fn text_of(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// An integer, an integral float, or an integer written as text.
fn int_of(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64().or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
                .map(|f| f as i64)
        }),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// `true`, `1` or `"true"`.
fn truthy(value: &Value) -> bool {
    match value {
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_i64() == Some(1),
        Value::String(s) => matches!(s.to_ascii_lowercase().as_str(), "true" | "1"),
        _ => false,
    }
}

/// RFC 3339, or a naive timestamp (as Python servers send), read as UTC.
fn time_of(value: &Value) -> Option<DateTime<Utc>> {
    let text = value.as_str()?.trim();
    if let Ok(time) = DateTime::parse_from_rfc3339(text) {
        return Some(time.with_timezone(&Utc));
    }
    ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"]
        .iter()
        .find_map(|format| NaiveDateTime::parse_from_str(text, format).ok())
        .map(|naive| naive.and_utc())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::domain::plan::AccountType;

    #[test]
    fn create_body_has_every_key_and_derived_metadata() {
        let request = CreateAccount {
            username: "alice".into(),
            email: "alice@example.com".into(),
            password: "s3cret-pass".into(),
            full_name: None,
            phone: None,
            company: Some("ACME".into()),
            package_id: Some(2),
            account_type: AccountType::Reseller,
            billing_id: "42".into(),
            hosting_account_id: 7,
            created_at: DateTime::parse_from_rfc3339("2025-01-02T03:04:05Z")
                .unwrap()
                .with_timezone(&Utc),
            idempotency_key: None,
        };
        let body = create_body(&request);
        assert_eq!(body["password"], "s3cret-pass");
        assert_eq!(body["full_name"], Value::Null);
        assert_eq!(body["is_admin"], true);
        assert_eq!(body["metadata"]["created_from"], "billing_system");
        assert_eq!(body["metadata"]["account_type"], "reseller");
        assert_eq!(body["metadata"]["created_at"], "2025-01-02T03:04:05Z");
        assert_eq!(body["metadata"]["hosting_account_id"], 7);
        assert_eq!(body["metadata"]["billing_customer_id"], "42");
        assert!(!format!("{request:?}").contains("s3cret-pass"));
    }

    #[test]
    fn accounts_parse_tolerantly() {
        let a = account(br#"{"id": 12, "username": "bob", "status": "Suspended", "is_admin": 1, "package_id": "3", "billing_id": 9, "created_at": "2025-01-02T03:04:05.123"}"#).unwrap();
        assert_eq!(a.id, "12");
        assert_eq!(a.status, PanelAccountStatus::Suspended);
        assert!(a.is_admin);
        assert_eq!(a.package_id, Some(3));
        assert_eq!(a.billing_id.as_deref(), Some("9"));
        assert!(a.created_at.is_some());
        assert!(account(br#"{"username": "bob"}"#).is_err());
        assert!(account(b"<html>").is_err());
        let wrapped = account_list(br#"{"accounts": [{"id": "a1"}]}"#).unwrap();
        assert_eq!(wrapped[0].id, "a1");
    }

    #[test]
    fn stats_keep_unknown_keys() {
        let s = stats(br#"{"user_id": 1, "total_domains": 3, "storage_used": 1024.0, "last_login": null, "inodes": 5}"#).unwrap();
        assert_eq!(s.total_domains, Some(3));
        assert_eq!(s.storage_used_bytes, Some(1024));
        assert_eq!(s.total_databases, None);
        assert_eq!(s.extra["inodes"], 5);
        assert_eq!(s.extra["user_id"], 1);
    }

    #[test]
    fn health_accepts_ok_and_lists_extensions() {
        let h = health(br#"{"status": "ok"}"#).unwrap();
        assert!(h.is_healthy() && h.extensions.is_empty());
        let h =
            health(br#"{"status": "healthy", "version": "1.0.0", "extensions": ["lookup", 3]}"#)
                .unwrap();
        assert_eq!(h.extensions, vec!["lookup".to_owned()]);
        assert!(health(b"<html></html>").is_err());
    }
}
