//! Hosting accounts: usernames, passwords, the state machine, server choice and retry timing.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::Invalid;

/// A hosting login: 3 to 32 of `a-z0-9`, starting with a letter (the NextPanel rule).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    /// Checks the NextPanel username rule (no normalisation: what is typed is what is created).
    pub fn parse(raw: &str) -> Result<Username, Invalid> {
        let bad = |m: &str| Err(Invalid::new("username", m));
        if !(3..=32).contains(&raw.len()) {
            return bad("must be 3 to 32 characters");
        }
        if !raw.starts_with(|c: char| c.is_ascii_lowercase()) {
            return bad("must start with a lower-case letter");
        }
        if !raw
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        {
            return bad("may contain only lower-case letters a-z and digits 0-9");
        }
        Ok(Username(raw.to_owned()))
    }

    /// The username.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Checks a hosting password: 12 to 128 characters with a letter and a digit.
pub fn check_password(raw: &str) -> Result<(), Invalid> {
    let len = raw.chars().count();
    if !(12..=128).contains(&len) {
        return Err(Invalid::new("password", "must be 12 to 128 characters"));
    }
    if !raw.chars().any(char::is_alphabetic) || !raw.chars().any(|c| c.is_ascii_digit()) {
        return Err(Invalid::new(
            "password",
            "must contain at least one letter and one digit",
        ));
    }
    if raw.chars().any(char::is_control) {
        return Err(Invalid::new(
            "password",
            "must not contain control characters",
        ));
    }
    Ok(())
}

/// Builds a 20-character password from 20 random bytes: letters, digits and symbols,
/// with at least one of each of the first two (the panel's rule).
pub fn password_from_entropy(bytes: [u8; 24]) -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789-_.!@#";
    let mut out: String = bytes[..20]
        .iter()
        .map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]))
        .collect();
    // The modulo bias over 62 symbols is under 2 bits in total; the guarantees below matter more.
    if !out.chars().any(|c| c.is_ascii_digit()) {
        out.replace_range(0..1, &char::from(b'2' + bytes[20] % 8).to_string());
    }
    if !out.chars().any(|c| c.is_ascii_alphabetic()) {
        out.replace_range(1..2, &char::from(b'a' + bytes[21] % 26).to_string());
    }
    out
}

/// Where a hosting account is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AccountState {
    /// Recorded, its job not started yet.
    Pending,
    /// The create job is running or retrying.
    Provisioning,
    /// Exists on the panel and is in service.
    Active,
    /// Exists on the panel, blocked.
    Suspended,
    /// Removed from the panel.
    Terminated,
    /// Could not be created; see the reason. An admin can retry or cancel.
    Failed,
}

impl AccountState {
    /// Stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            AccountState::Pending => "pending",
            AccountState::Provisioning => "provisioning",
            AccountState::Active => "active",
            AccountState::Suspended => "suspended",
            AccountState::Terminated => "terminated",
            AccountState::Failed => "failed",
        }
    }

    /// Parses the stored name.
    pub fn parse(raw: &str) -> Option<AccountState> {
        use AccountState::*;
        [Pending, Provisioning, Active, Suspended, Terminated, Failed]
            .into_iter()
            .find(|s| s.as_str() == raw)
    }

    /// Whether the account takes a slot on its server and its license.
    pub fn is_live(self) -> bool {
        matches!(
            self,
            AccountState::Pending
                | AccountState::Provisioning
                | AccountState::Active
                | AccountState::Suspended
        )
    }

    /// Checks a move; the same state is allowed (operations are idempotent).
    pub fn transition(self, next: AccountState) -> Result<AccountState, Invalid> {
        use AccountState::*;
        let ok = self == next
            || matches!(
                (self, next),
                (Pending, Provisioning | Active | Failed | Terminated)
                    | (Provisioning, Active | Failed | Terminated)
                    | (Active, Suspended | Terminated)
                    | (Suspended, Active | Terminated)
                    | (Failed, Pending | Terminated)
            );
        if ok {
            Ok(next)
        } else {
            Err(Invalid::new(
                "state",
                format!(
                    "a {} account cannot become {}",
                    self.as_str(),
                    next.as_str()
                ),
            ))
        }
    }
}

/// What server selection knows about a candidate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// Server id.
    pub id: i64,
    /// Takes new accounts.
    pub is_active: bool,
    /// Healthy per the monitor.
    pub is_online: bool,
    /// Capacity.
    pub capacity: i64,
    /// Live accounts.
    pub current_accounts: i64,
    /// Latency of the last check.
    pub last_latency_ms: Option<i64>,
    /// Location label.
    pub location: Option<String>,
    /// Group label.
    pub group: Option<String>,
}

/// Orders the usable servers for a plan: active, online, with a free slot, matching the
/// plan's location and group when it has them, and not already tried; lowest utilisation
/// first, then fewer accounts, then lower latency.
pub fn rank_servers(
    candidates: &[Candidate],
    location: Option<&str>,
    group: Option<&str>,
    tried: &[i64],
) -> Vec<i64> {
    let mut usable: Vec<&Candidate> = candidates
        .iter()
        .filter(|c| c.is_active && c.is_online && c.current_accounts < c.capacity)
        .filter(|c| location.is_none_or(|l| c.location.as_deref() == Some(l)))
        .filter(|c| group.is_none_or(|g| c.group.as_deref() == Some(g)))
        .filter(|c| !tried.contains(&c.id))
        .collect();
    usable.sort_by(|a, b| {
        // Cross-multiplied utilisation compares exactly, without floats.
        let ua = i128::from(a.current_accounts) * i128::from(b.capacity);
        let ub = i128::from(b.current_accounts) * i128::from(a.capacity);
        ua.cmp(&ub)
            .then(a.current_accounts.cmp(&b.current_accounts))
            .then(
                a.last_latency_ms
                    .unwrap_or(i64::MAX)
                    .cmp(&b.last_latency_ms.unwrap_or(i64::MAX)),
            )
            .then(a.id.cmp(&b.id))
    });
    usable.into_iter().map(|c| c.id).collect()
}

/// Delay before retry number `attempt` (1-based): `base` doubled each time, capped,
/// with `jitter` in [0, 1) spreading it over ±25 %.
pub fn backoff_ms(attempt: i64, base_ms: u64, cap_ms: u64, jitter: f64) -> u64 {
    let exp = u32::try_from(attempt.clamp(1, 30) - 1).unwrap_or(0);
    let raw = base_ms.saturating_mul(1u64 << exp.min(30)).min(cap_ms);
    let factor = 0.75 + 0.5 * jitter.clamp(0.0, 1.0);
    // Float only for the jitter of a delay, never for money.
    ((raw as f64) * factor) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames() {
        for ok in ["abc", "alice2026", &"a".repeat(32)] {
            assert!(Username::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "ab",
            "1abc",
            "Alice",
            "al-ice",
            "al ice",
            &"a".repeat(33),
            "",
        ] {
            assert!(Username::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn passwords() {
        assert!(check_password("correct-horse-7").is_ok());
        assert!(check_password("short1").is_err());
        assert!(check_password("nodigitsatallhere").is_err());
        for seed in 0..=255u8 {
            let p = password_from_entropy([seed; 24]);
            assert_eq!(p.chars().count(), 20);
            assert!(check_password(&p).is_ok(), "{p}");
        }
    }

    #[test]
    fn state_machine() {
        use AccountState::*;
        assert!(Pending.transition(Provisioning).is_ok());
        assert!(Active.transition(Suspended).is_ok());
        assert!(Suspended.transition(Active).is_ok());
        assert!(Failed.transition(Pending).is_ok());
        assert!(Terminated.transition(Active).is_err());
        assert!(Provisioning.transition(Suspended).is_err());
        assert!(Active.is_live() && !Terminated.is_live() && !Failed.is_live());
    }

    fn c(id: i64, cur: i64, cap: i64) -> Candidate {
        Candidate {
            id,
            is_active: true,
            is_online: true,
            capacity: cap,
            current_accounts: cur,
            last_latency_ms: Some(10),
            location: None,
            group: None,
        }
    }

    #[test]
    fn ranking() {
        let servers = vec![
            c(1, 5, 10),
            c(2, 1, 10),
            c(3, 10, 10),
            Candidate {
                is_online: false,
                ..c(4, 0, 10)
            },
            Candidate {
                is_active: false,
                ..c(5, 0, 10)
            },
            c(6, 10, 100),
            Candidate {
                location: Some("eu".into()),
                ..c(7, 0, 10)
            },
        ];
        assert_eq!(rank_servers(&servers, None, None, &[]), vec![7, 2, 6, 1]);
        assert_eq!(rank_servers(&servers, Some("eu"), None, &[]), vec![7]);
        assert_eq!(rank_servers(&servers, None, None, &[7, 2]), vec![6, 1]);
        let tie = vec![
            Candidate {
                last_latency_ms: Some(50),
                ..c(1, 1, 10)
            },
            Candidate {
                last_latency_ms: Some(5),
                ..c(2, 1, 10)
            },
        ];
        assert_eq!(rank_servers(&tie, None, None, &[]), vec![2, 1]);
    }

    #[test]
    fn backoff_grows_and_caps() {
        assert_eq!(backoff_ms(1, 1000, 60_000, 0.5), 1000);
        assert_eq!(backoff_ms(3, 1000, 60_000, 0.5), 4000);
        assert_eq!(backoff_ms(20, 1000, 60_000, 0.5), 60_000);
        assert_eq!(backoff_ms(1, 1000, 60_000, 0.0), 750);
        assert!(backoff_ms(1, 1000, 60_000, 0.999) < 1250);
    }
}
