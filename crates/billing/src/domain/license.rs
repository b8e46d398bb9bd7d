//! Licenses: the key format, the status machine and the paid-until arithmetic.

use chrono::{DateTime, Months, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::plan::BillingCycle;
use super::Invalid;

/// The 32 characters a license key is made of: no I, O, 0 or 1 to misread.
const ALPHABET: &[u8; 32] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";

/// A license key `NP-XXXX-XXXX-XXXX-XXXX` carrying 80 random bits.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LicenseKey(String);

impl LicenseKey {
    /// Random bytes needed for one key (16 characters of 5 bits each = 80 bits).
    pub const ENTROPY_BYTES: usize = 10;

    /// Builds a key from 10 bytes that must come from a CSPRNG.
    pub fn from_entropy(bytes: [u8; Self::ENTROPY_BYTES]) -> LicenseKey {
        let mut acc: u128 = 0;
        for b in bytes {
            acc = (acc << 8) | u128::from(b);
        }
        let mut key = String::with_capacity(22);
        key.push_str("NP");
        for i in 0..16 {
            if i % 4 == 0 {
                key.push('-');
            }
            let shift = 75 - 5 * i;
            let index = ((acc >> shift) & 0x1f) as usize;
            key.push(char::from(ALPHABET[index]));
        }
        LicenseKey(key)
    }

    /// Parses a key typed or sent by someone (upper-cases, trims).
    pub fn parse(raw: &str) -> Result<LicenseKey, Invalid> {
        let value = raw.trim().to_ascii_uppercase();
        let groups: Vec<&str> = value.split('-').collect();
        let ok = groups.len() == 5
            && groups[0] == "NP"
            && groups[1..]
                .iter()
                .all(|g| g.len() == 4 && g.bytes().all(|b| ALPHABET.contains(&b)));
        if ok {
            Ok(LicenseKey(value))
        } else {
            Err(Invalid::new(
                "license_key",
                "must look like NP-XXXX-XXXX-XXXX-XXXX",
            ))
        }
    }

    /// The key as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Where a license is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum LicenseStatus {
    /// In force.
    Active,
    /// Temporarily blocked (unpaid, abuse); can come back.
    Suspended,
    /// Paid period ended; renewing makes it active again.
    Expired,
    /// Ended for good.
    Cancelled,
}

impl LicenseStatus {
    /// Stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            LicenseStatus::Active => "active",
            LicenseStatus::Suspended => "suspended",
            LicenseStatus::Expired => "expired",
            LicenseStatus::Cancelled => "cancelled",
        }
    }

    /// Parses the stored name.
    pub fn parse(raw: &str) -> Option<LicenseStatus> {
        [
            Self::Active,
            Self::Suspended,
            Self::Expired,
            Self::Cancelled,
        ]
        .into_iter()
        .find(|s| s.as_str() == raw)
    }

    /// Checks that a license may move from `self` to `next`.
    pub fn transition(self, next: LicenseStatus) -> Result<LicenseStatus, Invalid> {
        use LicenseStatus::*;
        let allowed = match (self, next) {
            (a, b) if a == b => true,
            (Cancelled, _) => false,
            (_, Cancelled) => true,
            (Active, Suspended | Expired) => true,
            (Suspended, Active | Expired) => true,
            (Expired, Active) => true,
            _ => false,
        };
        if allowed {
            Ok(next)
        } else {
            Err(Invalid::new(
                "status",
                format!(
                    "a {} license cannot become {}",
                    self.as_str(),
                    next.as_str()
                ),
            ))
        }
    }
}

/// The end of `periods` billing periods of `cycle` starting at `from`.
pub fn period_end(
    from: DateTime<Utc>,
    cycle: BillingCycle,
    periods: u32,
) -> Result<DateTime<Utc>, Invalid> {
    from.checked_add_months(Months::new(cycle.months().saturating_mul(periods)))
        .ok_or_else(|| Invalid::new("extend_cycles", "would move the expiry date out of range"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn keys_have_the_documented_shape() {
        let key = LicenseKey::from_entropy([0xff; 10]);
        assert_eq!(key.as_str(), "NP-9999-9999-9999-9999");
        let key = LicenseKey::from_entropy([0; 10]);
        assert_eq!(key.as_str(), "NP-AAAA-AAAA-AAAA-AAAA");
        let key = LicenseKey::from_entropy([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
        assert_eq!(LicenseKey::parse(key.as_str()), Ok(key.clone()));
        assert_eq!(key.as_str().len(), 22);
    }

    #[test]
    fn every_entropy_bit_reaches_the_key() {
        let base = LicenseKey::from_entropy([0; 10]);
        for byte in 0..10 {
            for bit in 0..8 {
                let mut bytes = [0u8; 10];
                bytes[byte] = 1 << bit;
                assert_ne!(
                    LicenseKey::from_entropy(bytes),
                    base,
                    "bit {bit} of byte {byte} was lost"
                );
            }
        }
    }

    #[test]
    fn parse_rejects_lookalikes() {
        for bad in [
            "NP-AAAA-AAAA-AAAA",
            "NP-AAAA-AAAA-AAAA-AAA0",
            "XX-AAAA-AAAA-AAAA-AAAA",
            "NP-AAAA-AAAA-AAAA-AAAI",
            "",
        ] {
            assert!(LicenseKey::parse(bad).is_err(), "{bad}");
        }
        assert!(LicenseKey::parse(" np-abcd-efgh-jkmn-pqrs ").is_ok());
    }

    #[test]
    fn status_machine() {
        use LicenseStatus::*;
        assert!(Active.transition(Suspended).is_ok());
        assert!(Suspended.transition(Active).is_ok());
        assert!(Expired.transition(Active).is_ok());
        assert!(Active.transition(Cancelled).is_ok());
        assert!(Cancelled.transition(Active).is_err());
        assert!(Expired.transition(Suspended).is_err());
        assert_eq!(Cancelled.transition(Cancelled), Ok(Cancelled));
    }

    #[test]
    fn periods_are_calendar_months() -> Result<(), Invalid> {
        let start = Utc
            .with_ymd_and_hms(2026, 1, 31, 10, 0, 0)
            .single()
            .ok_or(Invalid::new("t", "t"))?;
        let end = period_end(start, BillingCycle::Monthly, 1)?;
        assert_eq!(end.to_rfc3339(), "2026-02-28T10:00:00+00:00");
        let end = period_end(start, BillingCycle::Annual, 2)?;
        assert_eq!(end.to_rfc3339(), "2028-01-31T10:00:00+00:00");
        Ok(())
    }
}
