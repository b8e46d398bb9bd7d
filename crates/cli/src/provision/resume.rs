//! The resume file of `provision`: what a run has created so far, so `--resume` continues
//! instead of creating twice. It never holds a password, only ids and the idempotency key.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::credentials;

/// What a provisioning run chose and created.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct ResumeState {
    /// Sent as `Idempotency-Key` on the provision call, so a repeat cannot create twice.
    pub idempotency_key: String,
    /// Customer email.
    pub email: String,
    /// Hosting username.
    pub username: String,
    /// Plan.
    pub plan_id: i64,
    /// Billing cycle.
    pub billing_cycle: String,
    /// Chosen server; `None` lets nextpanel-bill pick.
    pub server_id: Option<i64>,
    /// The customer, once found or created.
    pub customer_id: Option<i64>,
    /// Whether this run created the customer.
    pub customer_created: bool,
    /// The license, once issued.
    pub license_id: Option<i64>,
    /// The hosting account, once known.
    pub account_id: Option<i64>,
}

impl ResumeState {
    /// Whether anything was created yet.
    pub fn created_anything(&self) -> bool {
        self.customer_created || self.license_id.is_some() || self.account_id.is_some()
    }
}

/// Path of the resume file.
pub fn path() -> anyhow::Result<PathBuf> {
    Ok(credentials::config_dir()?.join("provision-resume.json"))
}

/// The unfinished run, if any.
pub fn load() -> anyhow::Result<Option<ResumeState>> {
    credentials::read_json(&path()?)
}

/// Records progress (mode 0600).
pub fn save(state: &ResumeState) -> anyhow::Result<()> {
    credentials::write_json(&path()?, state)
}

/// Forgets the run (after success, or when nothing was created).
pub fn clear() -> anyhow::Result<()> {
    credentials::remove(&path()?).map(|_| ())
}

/// A fresh random idempotency key.
pub fn new_key() -> anyhow::Result<String> {
    let mut bytes = [0u8; 16];
    getrandom::getrandom(&mut bytes)
        .map_err(|e| anyhow::anyhow!("no randomness for the idempotency key: {e}"))?;
    Ok(format!("cli-{}", hex(&bytes)))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A random password of `len` characters with at least a letter and a digit (without
/// look-alike characters, since people copy it by hand).
pub fn generate_password(len: usize) -> anyhow::Result<String> {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    loop {
        let mut bytes = vec![0u8; len];
        getrandom::getrandom(&mut bytes)
            .map_err(|e| anyhow::anyhow!("no randomness for the password: {e}"))?;
        // 256 is not a multiple of the alphabet size; the slight bias costs far less than
        // the length gives, and rejection sampling would buy nothing a reader can see.
        let password: String = bytes
            .iter()
            .map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]))
            .collect();
        if password.chars().any(|c| c.is_ascii_alphabetic())
            && password.chars().any(|c| c.is_ascii_digit())
        {
            return Ok(password);
        }
    }
}

/// Checks a hosting username as NextPanel wants it: 3 to 32 of a-z0-9, starting with a letter.
pub fn check_username(name: &str) -> Result<(), String> {
    let len = name.chars().count();
    if !(3..=32).contains(&len) {
        return Err("3 to 32 characters".to_owned());
    }
    if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
        return Err("must start with a lower-case letter".to_owned());
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
    {
        return Err("only a-z and 0-9".to_owned());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_follow_nextpanel_rules() {
        assert!(check_username("alice01").is_ok());
        assert!(check_username("ab").is_err());
        assert!(check_username("1abc").is_err());
        assert!(check_username("Alice").is_err());
        assert!(check_username("al-ice").is_err());
        assert!(check_username(&"a".repeat(33)).is_err());
    }

    #[test]
    fn generated_passwords_have_a_letter_and_a_digit() {
        let p = generate_password(16).unwrap_or_default();
        assert_eq!(p.len(), 16);
        assert!(p.chars().any(|c| c.is_ascii_digit()));
        assert!(p.chars().any(|c| c.is_ascii_alphabetic()));
    }

    #[test]
    fn the_resume_file_holds_no_password() {
        let text = serde_json::to_string(&ResumeState::default()).unwrap_or_default();
        assert!(!text.contains("password"));
    }
}
