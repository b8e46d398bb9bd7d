//! Bearer secrets: session tokens and API keys, random and stored only as hashes.

use sha2::{Digest, Sha256};

use super::{random_bytes, ServiceError};

/// Prefix of access tokens.
pub const ACCESS_PREFIX: &str = "npb_at_";
/// Prefix of refresh tokens.
pub const REFRESH_PREFIX: &str = "npb_rt_";
/// Prefix of API keys.
pub const API_KEY_PREFIX: &str = "npb_ak_";

/// A new random secret: `prefix` + 64 hex characters (256 bits).
pub fn generate(prefix: &str) -> Result<String, ServiceError> {
    let bytes: [u8; 32] = random_bytes()?;
    Ok(format!("{prefix}{}", hex::encode(bytes)))
}

/// The SHA-256 hex digest stored in place of a token. A fast hash is right here:
/// the tokens carry 256 random bits, so there is nothing to brute-force.
pub fn digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_prefixed() -> Result<(), ServiceError> {
        let a = generate(ACCESS_PREFIX)?;
        let b = generate(ACCESS_PREFIX)?;
        assert_ne!(a, b);
        assert!(a.starts_with("npb_at_"));
        assert_eq!(a.len(), 7 + 64);
        assert_eq!(digest(&a).len(), 64);
        assert_ne!(digest(&a), digest(&b));
        Ok(())
    }
}
