//! License validation for NextPanel servers: which quota a feature consumes, the
//! HMAC-signed messages, the clock window, and the verdict.
//!
//! A server signs `license_key|feature|timestamp` (validation) or
//! `license_key|resource|delta|timestamp` (usage reports) with the API secret both
//! sides share: `signature = hex(HMAC-SHA256(api_secret, message))`. Version 2 of
//! the callbacks appends `|request_id` to both, so a repeat can be recognised.

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::license::LicenseStatus;

/// How far a request's timestamp may be from our clock, in seconds, either way.
pub const CLOCK_WINDOW_SECS: i64 = 300;

/// A quota-counted resource of a license.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    /// Hosting accounts (`max_accounts`), counted from our own records.
    Accounts,
    /// Domains (`max_domains`), as reported by the servers.
    Domains,
    /// Databases (`max_databases`), as reported by the servers.
    Databases,
    /// Email accounts (`max_emails`), as reported by the servers.
    Emails,
}

impl Resource {
    /// The resource a validated feature consumes; `None` for features without a quota.
    pub fn for_feature(feature: &str) -> Option<Resource> {
        match feature {
            "create_account" => Some(Resource::Accounts),
            "create_domain" => Some(Resource::Domains),
            "create_database" => Some(Resource::Databases),
            "create_email" => Some(Resource::Emails),
            _ => None,
        }
    }

    /// A resource servers may report usage of. Accounts are not among them: we
    /// count those ourselves, so a report could only make the count wrong.
    pub fn reportable(name: &str) -> Option<Resource> {
        match name {
            "domains" => Some(Resource::Domains),
            "databases" => Some(Resource::Databases),
            "emails" => Some(Resource::Emails),
            _ => None,
        }
    }

    /// Stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Resource::Accounts => "accounts",
            Resource::Domains => "domains",
            Resource::Databases => "databases",
            Resource::Emails => "emails",
        }
    }

    /// The error text when the quota is used up, e.g. `Database quota exceeded`.
    pub fn quota_exceeded(self) -> &'static str {
        match self {
            Resource::Accounts => "Account quota exceeded",
            Resource::Domains => "Domain quota exceeded",
            Resource::Databases => "Database quota exceeded",
            Resource::Emails => "Email quota exceeded",
        }
    }
}

/// The id a version-2 callback carries: 16 to 64 characters of `[A-Za-z0-9_-]`,
/// unique per request, covered by the signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(String);

impl RequestId {
    /// Checks the length and alphabet.
    pub fn parse(raw: &str) -> Result<RequestId, &'static str> {
        let ok_char = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
        if !(16..=64).contains(&raw.len()) || !raw.chars().all(ok_char) {
            return Err("must be 16 to 64 characters of A-Z, a-z, 0-9, - and _ (a UUID will do)");
        }
        Ok(RequestId(raw.to_owned()))
    }

    /// The id as sent.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The message signed for a validation: `license_key|feature|timestamp`, then
/// `|request_id` in version 2.
pub fn validate_message(
    license_key: &str,
    feature: &str,
    timestamp: i64,
    request_id: Option<&RequestId>,
) -> String {
    with_request_id(format!("{license_key}|{feature}|{timestamp}"), request_id)
}

/// The message signed for a usage report: `license_key|resource|delta|timestamp`,
/// then `|request_id` in version 2.
pub fn usage_message(
    license_key: &str,
    resource: &str,
    delta: i64,
    timestamp: i64,
    request_id: Option<&RequestId>,
) -> String {
    with_request_id(
        format!("{license_key}|{resource}|{delta}|{timestamp}"),
        request_id,
    )
}

fn with_request_id(mut message: String, request_id: Option<&RequestId>) -> String {
    if let Some(id) = request_id {
        message.push('|');
        message.push_str(id.as_str());
    }
    message
}

/// `hex(HMAC-SHA256(secret, message))`.
pub fn sign(secret: &str, message: &str) -> String {
    mac(secret, message)
        .map(|m| hex::encode(m.finalize().into_bytes()))
        .unwrap_or_default()
}

/// Whether `signature_hex` is the HMAC of `message` under `secret`, compared in
/// constant time so the answer's timing reveals nothing about the right value.
pub fn signature_matches(secret: &str, message: &str, signature_hex: &str) -> bool {
    match (hex::decode(signature_hex.trim()), mac(secret, message)) {
        (Ok(bytes), Some(mac)) => mac.verify_slice(&bytes).is_ok(),
        _ => false,
    }
}

/// The keyed MAC over `message`; `None` never happens in practice, since HMAC
/// takes keys of any length, but it keeps this free of panics.
fn mac(secret: &str, message: &str) -> Option<Hmac<Sha256>> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).ok()?;
    mac.update(message.as_bytes());
    Some(mac)
}

/// Whether two byte strings are equal, in time independent of where they differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Whether `timestamp` (Unix seconds) is within [`CLOCK_WINDOW_SECS`] of `now`.
pub fn fresh(timestamp: i64, now: DateTime<Utc>) -> bool {
    now.timestamp().abs_diff(timestamp) <= CLOCK_WINDOW_SECS.unsigned_abs()
}

/// What we know about a license when deciding.
#[derive(Debug, Clone, Copy)]
pub struct LicenseFacts {
    /// Its status.
    pub status: LicenseStatus,
    /// Paid until.
    pub expires_at: DateTime<Utc>,
    /// Whether the asking server holds a live account under it.
    pub on_server: bool,
}

/// The answer to a validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// Whether the action may go ahead.
    pub valid: bool,
    /// What is left before the action; -1 for unlimited or unquoted features.
    pub remaining_quota: i64,
    /// Why not, when not valid.
    pub error: Option<String>,
}

impl Verdict {
    /// A refusal with `error`.
    pub fn refused(error: impl Into<String>) -> Verdict {
        Verdict {
            valid: false,
            remaining_quota: 0,
            error: Some(error.into()),
        }
    }

    fn allowed(remaining_quota: i64) -> Verdict {
        Verdict {
            valid: true,
            remaining_quota,
            error: None,
        }
    }
}

/// Decides a validation. `quota` is `(resource, max, used)` for a quota-counted
/// feature (`max` -1 = unlimited), `None` for any other feature.
pub fn decide(
    license: LicenseFacts,
    quota: Option<(Resource, i64, i64)>,
    now: DateTime<Utc>,
) -> Verdict {
    if license.status != LicenseStatus::Active {
        return Verdict::refused(format!("License is {}", license.status.as_str()));
    }
    if license.expires_at <= now {
        return Verdict::refused("License has expired");
    }
    // A new account cannot be on the server yet, so only the slot count applies to it.
    let creating_account = matches!(quota, Some((Resource::Accounts, _, _)));
    if !license.on_server && !creating_account {
        return Verdict::refused("License is not valid on this server");
    }
    let Some((resource, max, used)) = quota else {
        return Verdict::allowed(-1);
    };
    if max < 0 {
        return Verdict::allowed(-1);
    }
    let remaining = max.saturating_sub(used);
    if remaining <= 0 {
        return Verdict::refused(resource.quota_exceeded());
    }
    Verdict::allowed(remaining)
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;

    fn active(on_server: bool) -> LicenseFacts {
        LicenseFacts {
            status: LicenseStatus::Active,
            expires_at: Utc::now() + Duration::days(30),
            on_server,
        }
    }

    #[test]
    fn features_map_to_their_quotas() {
        assert_eq!(
            Resource::for_feature("create_database"),
            Some(Resource::Databases)
        );
        assert_eq!(
            Resource::for_feature("create_account"),
            Some(Resource::Accounts)
        );
        assert_eq!(
            Resource::for_feature("create_email"),
            Some(Resource::Emails)
        );
        assert_eq!(
            Resource::for_feature("create_domain"),
            Some(Resource::Domains)
        );
        assert_eq!(Resource::for_feature("install_wordpress"), None);
        assert_eq!(Resource::reportable("accounts"), None);
        assert_eq!(Resource::reportable("emails"), Some(Resource::Emails));
    }

    #[test]
    fn signatures_round_trip_and_reject_tampering() {
        let msg = validate_message(
            "NP-AAAA-BBBB-CCCC-DDDD",
            "create_database",
            1_764_000_000,
            None,
        );
        assert_eq!(msg, "NP-AAAA-BBBB-CCCC-DDDD|create_database|1764000000");
        let sig = sign("nps_secret", &msg);
        assert_eq!(sig.len(), 64);
        assert!(signature_matches("nps_secret", &msg, &sig));
        assert!(!signature_matches("nps_other", &msg, &sig));
        assert!(!signature_matches("nps_secret", &format!("{msg}1"), &sig));
        assert!(!signature_matches("nps_secret", &msg, "not hex"));
        assert_eq!(
            usage_message("K", "databases", -1, 5, None),
            "K|databases|-1|5"
        );
    }

    #[test]
    fn known_hmac_vector() {
        // RFC 4231 test case 2.
        assert_eq!(
            sign("Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn request_ids_take_16_to_64_url_safe_characters() {
        for good in [
            "0123456789abcdef",
            "8f14e45f-ceea-467a-9af0-1b2c3d4e5f60",
            &"A_".repeat(32),
        ] {
            assert!(RequestId::parse(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "0123456789abcde",
            &"a".repeat(65),
            "0123456789abcdef|",
            "0123456789 abcdef",
            "0123456789abcdéf",
        ] {
            assert!(RequestId::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn version_2_messages_end_with_the_request_id() -> Result<(), &'static str> {
        let id = RequestId::parse("req_0123456789abcdef")?;
        assert_eq!(
            validate_message("NP-K", "create_domain", 17, Some(&id)),
            "NP-K|create_domain|17|req_0123456789abcdef"
        );
        assert_eq!(
            usage_message("NP-K", "domains", -1, 17, Some(&id)),
            "NP-K|domains|-1|17|req_0123456789abcdef"
        );
        assert_eq!(
            usage_message("NP-K", "domains", -1, 17, None),
            "NP-K|domains|-1|17"
        );
        Ok(())
    }

    #[test]
    fn constant_time_eq_compares_exactly() {
        assert!(constant_time_eq(b"npk_abc", b"npk_abc"));
        assert!(!constant_time_eq(b"npk_abc", b"npk_abd"));
        assert!(!constant_time_eq(b"npk_abc", b"npk_ab"));
    }

    #[test]
    fn the_clock_window_is_300_seconds_either_way() {
        let now = Utc::now();
        let t = now.timestamp();
        assert!(fresh(t, now));
        assert!(fresh(t - 300, now));
        assert!(fresh(t + 300, now));
        assert!(!fresh(t - 301, now));
        assert!(!fresh(t + 301, now));
        assert!(!fresh(i64::MIN, now));
    }

    #[test]
    fn remaining_quota_and_exhaustion() {
        let now = Utc::now();
        let v = decide(active(true), Some((Resource::Databases, 5, 1)), now);
        assert_eq!(v, Verdict::allowed(4));
        let v = decide(active(true), Some((Resource::Databases, 2, 2)), now);
        assert_eq!(v, Verdict::refused("Database quota exceeded"));
        let v = decide(active(true), Some((Resource::Emails, 2, 7)), now);
        assert_eq!(v, Verdict::refused("Email quota exceeded"));
        let v = decide(active(true), Some((Resource::Domains, -1, 99)), now);
        assert_eq!(v, Verdict::allowed(-1));
        let v = decide(active(true), None, now);
        assert_eq!(v, Verdict::allowed(-1));
    }

    #[test]
    fn only_active_unexpired_licenses_on_the_server_are_valid() {
        let now = Utc::now();
        let quota = Some((Resource::Databases, 5, 0));
        for status in [
            LicenseStatus::Suspended,
            LicenseStatus::Cancelled,
            LicenseStatus::Expired,
        ] {
            let facts = LicenseFacts {
                status,
                ..active(true)
            };
            assert!(!decide(facts, quota, now).valid);
        }
        let lapsed = LicenseFacts {
            expires_at: now - Duration::seconds(1),
            ..active(true)
        };
        assert_eq!(
            decide(lapsed, quota, now),
            Verdict::refused("License has expired")
        );
        assert_eq!(
            decide(active(false), quota, now),
            Verdict::refused("License is not valid on this server")
        );
        assert!(!decide(active(false), None, now).valid);
    }

    #[test]
    fn a_new_account_needs_only_a_free_slot() {
        let now = Utc::now();
        let v = decide(active(false), Some((Resource::Accounts, 2, 1)), now);
        assert_eq!(v, Verdict::allowed(1));
        let v = decide(active(false), Some((Resource::Accounts, 1, 1)), now);
        assert_eq!(v, Verdict::refused("Account quota exceeded"));
    }
}
