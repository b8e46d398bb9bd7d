//! The simulator as a client of nextpanel-bill: license validation before a
//! quota-consuming action and usage reports after it, signed with the shared
//! key pair as the contract describes:
//! `signature = hex(HMAC-SHA256(api_secret, field|field|...|timestamp|request_id))`.
//! Every callback is version 2: a fresh random `request_id`, covered by the
//! signature, so the billing system can refuse to count a replayed report.

use hmac::{Hmac, Mac};
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::Sha256;

use crate::config::Credential;

/// Why a callback gave no usable answer.
#[derive(Debug, thiserror::Error)]
pub enum CallbackError {
    /// The billing URL could not be reached or did not answer in time.
    #[error("billing system unreachable: {0}")]
    Unreachable(String),
    /// The billing system answered with a non-2xx status.
    #[error("billing system answered {status}: {detail}")]
    Rejected {
        /// The HTTP status.
        status: u16,
        /// The answer's `detail`, or its raw text.
        detail: String,
    },
    /// The operating system gave no randomness for the request id.
    #[error("no randomness for a request id: {0}")]
    NoRandomness(String),
    /// The answer was not the documented JSON.
    #[error("unexpected answer from the billing system: {0}")]
    BadAnswer(String),
}

/// The outcome of a license validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The action may go ahead.
    Allowed {
        /// What is left after it; -1 for unlimited.
        remaining_quota: i64,
    },
    /// The action is refused, with the billing system's reason.
    Refused {
        /// The `error` text of the answer.
        error: String,
    },
}

#[derive(Deserialize)]
struct ValidateAnswer {
    valid: bool,
    #[serde(default)]
    remaining_quota: Option<i64>,
    #[serde(default)]
    error: Option<String>,
}

/// Hex HMAC-SHA256 of the parts joined with `|`.
pub fn sign(secret: &str, parts: &[&str]) -> String {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(mac) => mac,
        Err(_) => return String::new(),
    };
    mac.update(parts.join("|").as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// A fresh request id: 128 random bits as 32 hex characters. Without randomness
/// there is no callback: a repeated id would be answered without being applied.
pub fn new_request_id() -> Result<String, CallbackError> {
    crate::random::bytes::<16>()
        .map(hex::encode)
        .map_err(|e| CallbackError::NoRandomness(e.to_string()))
}

/// Talks to one nextpanel-bill base URL as one registered server.
#[derive(Debug, Clone, Copy)]
pub struct LicenseClient<'a> {
    http: &'a reqwest::Client,
    base_url: &'a str,
    credential: &'a Credential,
}

impl<'a> LicenseClient<'a> {
    /// A client for `base_url`, identifying itself with `credential`.
    pub fn new(http: &'a reqwest::Client, base_url: &'a str, credential: &'a Credential) -> Self {
        Self {
            http,
            base_url: base_url.trim_end_matches('/'),
            credential,
        }
    }

    /// `POST /api/v1/licenses/validate` for `feature`.
    pub async fn validate(
        &self,
        license_key: &str,
        feature: &str,
    ) -> Result<Verdict, CallbackError> {
        let now = chrono::Utc::now().timestamp();
        let request_id = new_request_id()?;
        let signature = sign(
            &self.credential.api_secret,
            &[license_key, feature, &now.to_string(), &request_id],
        );
        let body = json!({
            "license_key": license_key,
            "feature": feature,
            "timestamp": now,
            "request_id": request_id,
            "signature": signature,
        });
        let answer: ValidateAnswer = self.post("/api/v1/licenses/validate", body).await?;
        Ok(if answer.valid {
            Verdict::Allowed {
                remaining_quota: answer.remaining_quota.unwrap_or(-1),
            }
        } else {
            Verdict::Refused {
                error: answer
                    .error
                    .unwrap_or_else(|| "License validation failed".to_owned()),
            }
        })
    }

    /// `POST /api/v1/licenses/usage`: `delta` more (or fewer) of `resource`.
    pub async fn report_usage(
        &self,
        license_key: &str,
        resource: &str,
        delta: i64,
    ) -> Result<Value, CallbackError> {
        let now = chrono::Utc::now().timestamp();
        let request_id = new_request_id()?;
        let signature = sign(
            &self.credential.api_secret,
            &[
                license_key,
                resource,
                &delta.to_string(),
                &now.to_string(),
                &request_id,
            ],
        );
        let body = json!({
            "license_key": license_key,
            "resource": resource,
            "delta": delta,
            "timestamp": now,
            "request_id": request_id,
            "signature": signature,
        });
        self.post("/api/v1/licenses/usage", body).await
    }

    async fn post<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        body: Value,
    ) -> Result<T, CallbackError> {
        let response = self
            .http
            .post(format!("{}{path}", self.base_url))
            .header("X-API-Key", &self.credential.api_key)
            .json(&body)
            .send()
            .await
            .map_err(|e| CallbackError::Unreachable(e.to_string()))?;
        let status = response.status();
        let text = response
            .text()
            .await
            .map_err(|e| CallbackError::Unreachable(e.to_string()))?;
        if !status.is_success() {
            let detail = serde_json::from_str::<Value>(&text)
                .ok()
                .and_then(|v| v.get("detail").and_then(Value::as_str).map(str::to_owned))
                .unwrap_or(text);
            return Err(CallbackError::Rejected {
                status: status.as_u16(),
                detail,
            });
        }
        serde_json::from_str(&text).map_err(|e| CallbackError::BadAnswer(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_a_known_hmac() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        assert_eq!(
            sign("Jefe", &["what do ya want for nothing?"]),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert_eq!(sign("k", &["a", "b", "1"]), sign("k", &["a|b|1"]));
    }

    #[test]
    fn request_ids_are_fresh_and_of_the_documented_shape() -> Result<(), CallbackError> {
        let (a, b) = (new_request_id()?, new_request_id()?);
        assert_ne!(a, b);
        assert_eq!(a.len(), 32);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        Ok(())
    }
}
