//! Secrets at rest: server API keys and secrets are sealed with ChaCha20-Poly1305
//! under a 256-bit master key before they reach the database.
//!
//! The master key comes from `NEXTPANEL_BILL_MASTER_KEY` (64 hex characters) or a
//! key file, created with mode 0600 on first start when missing. Sealed values are
//! text: `v1:` + hex(nonce ‖ ciphertext ‖ tag); the version prefix leaves room to
//! rotate the scheme later.
//!
//! Sealed values cannot be searched, so the vault also gives a keyed hash
//! ([`Vault::lookup_hash`]) under a second key derived from the master key: stored
//! beside a sealed API key, it finds the server that owns a presented key with one
//! indexed read, and reveals nothing about the key without the master key.

use std::path::Path;

use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Why a key could not be loaded or a value not opened.
#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    /// The key in the environment or file is not 32 bytes of hex.
    #[error("the master key must be 64 hexadecimal characters (32 bytes)")]
    BadKey,
    /// The key file could not be read or created.
    #[error("master key file {path}: {source}")]
    KeyFile {
        /// Its path.
        path: String,
        /// The I/O failure.
        source: std::io::Error,
    },
    /// A sealed value is damaged or was sealed under another key.
    #[error("a stored secret cannot be decrypted: it is damaged or was encrypted under another master key")]
    Open,
    /// Encryption failed (should not happen).
    #[error("encryption failed")]
    Seal,
}

/// Seals and opens secrets under the master key.
#[derive(Clone)]
pub struct Vault {
    cipher: ChaCha20Poly1305,
    /// HMAC key for look-up hashes, derived from the master key so that one
    /// secret still rules everything, yet distinct from the encryption key.
    lookup_key: [u8; 32],
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Vault(***)")
    }
}

const PREFIX: &str = "v1:";
const NONCE_LEN: usize = 12;
/// Domain separation for the look-up key; a new label gives unrelated hashes.
const LOOKUP_LABEL: &[u8] = b"nextpanel-bill/api-key-lookup/v1";

type HmacSha256 = Hmac<Sha256>;

impl Vault {
    /// A vault over a 32-byte key.
    pub fn from_key(key: [u8; 32]) -> Vault {
        Vault {
            cipher: ChaCha20Poly1305::new(Key::from_slice(&key)),
            lookup_key: hmac_sha256(&key, LOOKUP_LABEL),
        }
    }

    /// `hex(HMAC-SHA256(lookup key, value))`: the same value always gives the same
    /// hash under one master key, so it can be stored, indexed and searched for.
    pub fn lookup_hash(&self, value: &str) -> String {
        hex::encode(hmac_sha256(&self.lookup_key, value.as_bytes()))
    }

    /// `hex(HMAC-SHA256(derived key, purpose ‖ 0 ‖ value))`: a tag on `value` that only
    /// this master key can make (sign-in challenges, CSRF tokens). `purpose` keeps the tags
    /// of different uses apart, and from [`Vault::lookup_hash`].
    pub fn tag(&self, purpose: &str, value: &str) -> String {
        hex::encode(self.tag_bytes(purpose, value))
    }

    /// Whether `tag` is [`Vault::tag`] of `purpose` and `value`, compared in constant time.
    pub fn tag_matches(&self, purpose: &str, value: &str, tag: &str) -> bool {
        let Ok(given) = hex::decode(tag) else {
            return false;
        };
        let expected = self.tag_bytes(purpose, value);
        given.len() == expected.len()
            && given
                .iter()
                .zip(expected.iter())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0
    }

    fn tag_bytes(&self, purpose: &str, value: &str) -> [u8; 32] {
        let message = [purpose.as_bytes(), &[0], value.as_bytes()].concat();
        hmac_sha256(&self.lookup_key, &message)
    }

    /// Parses a 64-character hex key.
    pub fn from_hex(hex_key: &str) -> Result<Vault, VaultError> {
        let bytes = hex::decode(hex_key.trim()).map_err(|_| VaultError::BadKey)?;
        let key: [u8; 32] = bytes.try_into().map_err(|_| VaultError::BadKey)?;
        Ok(Vault::from_key(key))
    }

    /// Reads the key file, or creates it (mode 0600) with a random key when missing.
    /// Returns the vault and whether the file was created.
    pub fn from_file_or_create(path: &Path) -> Result<(Vault, bool), VaultError> {
        let io = |source| VaultError::KeyFile {
            path: path.display().to_string(),
            source,
        };
        match std::fs::read_to_string(path) {
            Ok(text) => Ok((Vault::from_hex(&text)?, false)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key: [u8; 32] = ChaCha20Poly1305::generate_key(&mut OsRng).into();
                write_private(path, &hex::encode(key)).map_err(io)?;
                Ok((Vault::from_key(key), true))
            }
            Err(e) => Err(io(e)),
        }
    }

    /// Encrypts `plain` with a fresh random nonce.
    pub fn seal(&self, plain: &str) -> Result<String, VaultError> {
        let nonce = ChaCha20Poly1305::generate_nonce(&mut OsRng);
        let sealed = self
            .cipher
            .encrypt(&nonce, plain.as_bytes())
            .map_err(|_| VaultError::Seal)?;
        let mut out = Vec::with_capacity(NONCE_LEN + sealed.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(format!("{PREFIX}{}", hex::encode(out)))
    }

    /// Decrypts a value made by [`Vault::seal`].
    pub fn open(&self, sealed: &str) -> Result<String, VaultError> {
        let body = sealed.strip_prefix(PREFIX).ok_or(VaultError::Open)?;
        let bytes = hex::decode(body).map_err(|_| VaultError::Open)?;
        if bytes.len() < NONCE_LEN {
            return Err(VaultError::Open);
        }
        let (nonce, data) = bytes.split_at(NONCE_LEN);
        let plain = self
            .cipher
            .decrypt(Nonce::from_slice(nonce), data)
            .map_err(|_| VaultError::Open)?;
        String::from_utf8(plain).map_err(|_| VaultError::Open)
    }
}

fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    // HMAC accepts keys of any length, so the Err arm cannot be taken; a zero
    // hash would match nothing stored, which keeps this free of panics anyway.
    match <HmacSha256 as Mac>::new_from_slice(key) {
        Ok(mut mac) => {
            mac.update(message);
            mac.finalize().into_bytes().into()
        }
        Err(_) => [0; 32],
    }
}

/// Writes a file readable by its owner only.
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut file = crate::files::create_new_private(path)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_and_open_round_trip_with_fresh_nonces() -> Result<(), VaultError> {
        let vault = Vault::from_key([7; 32]);
        let a = vault.seal("nps_secret")?;
        let b = vault.seal("nps_secret")?;
        assert_ne!(a, b, "each seal uses a new nonce");
        assert!(a.starts_with("v1:") && !a.contains("nps_secret"));
        assert_eq!(vault.open(&a)?, "nps_secret");
        assert!(matches!(
            Vault::from_key([8; 32]).open(&a),
            Err(VaultError::Open)
        ));
        let mut tampered = a.clone();
        let last = tampered.pop();
        tampered.push(if last == Some('0') { '1' } else { '0' });
        assert!(matches!(vault.open(&tampered), Err(VaultError::Open)));
        assert!(vault.open("plain").is_err());
        Ok(())
    }

    #[test]
    fn lookup_hashes_are_stable_per_key_and_hide_the_value() {
        let vault = Vault::from_key([7; 32]);
        let h = vault.lookup_hash("npk_live_key");
        assert_eq!(h, vault.lookup_hash("npk_live_key"));
        assert_eq!(h.len(), 64);
        assert!(!h.contains("npk"));
        assert_ne!(h, vault.lookup_hash("npk_live_kez"));
        assert_ne!(h, Vault::from_key([8; 32]).lookup_hash("npk_live_key"));
    }

    #[test]
    fn key_file_is_created_private_and_reused() -> Result<(), VaultError> {
        let dir = tempfile::tempdir().map_err(|e| VaultError::KeyFile {
            path: "tmp".into(),
            source: e,
        })?;
        let path = dir.path().join("keys/master.key");
        let (first, created) = Vault::from_file_or_create(&path)?;
        assert!(created);
        let sealed = first.seal("x")?;
        let (second, created_again) = Vault::from_file_or_create(&path)?;
        assert!(!created_again);
        assert_eq!(second.open(&sealed)?, "x");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path)
                .map_err(|e| VaultError::KeyFile {
                    path: "m".into(),
                    source: e,
                })?
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(matches!(Vault::from_hex("abcd"), Err(VaultError::BadKey)));
        Ok(())
    }
}
