//! Argon2id password hashing, off the async threads.

use std::sync::OnceLock;

use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::Argon2;

use super::ServiceError;

/// Hashes a password with Argon2id (default OWASP parameters) into a PHC string.
pub async fn hash(password: String) -> Result<String, ServiceError> {
    tokio::task::spawn_blocking(move || hash_blocking(&password))
        .await
        .map_err(|e| ServiceError::Internal(format!("hashing task failed: {e}")))?
}

fn hash_blocking(password: &str) -> Result<String, ServiceError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| ServiceError::Internal(format!("password hashing failed: {e}")))
}

/// Checks `password` against `stored`; with no stored hash it checks a dummy one,
/// so an unknown email takes as long to refuse as a wrong password.
pub async fn verify(password: String, stored: Option<String>) -> Result<bool, ServiceError> {
    tokio::task::spawn_blocking(move || {
        let dummy = dummy_hash()?;
        let (phc, real) = match stored.as_deref() {
            // Imported from the older billing system; replaced by Argon2id at sign-in.
            Some(legacy) if is_legacy(legacy) => {
                return Ok(bcrypt::verify(password.as_bytes(), legacy).unwrap_or(false));
            }
            Some(phc) => (phc, true),
            None => (dummy, false),
        };
        let parsed = PasswordHash::new(phc)
            .map_err(|e| ServiceError::Internal(format!("stored hash unreadable: {e}")))?;
        let matches = Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok();
        Ok(real && matches)
    })
    .await
    .map_err(|e| ServiceError::Internal(format!("verification task failed: {e}")))?
}

/// A bcrypt hash (`$2b$...`, passlib's format) carried over by `import seed`: it still
/// verifies, and sign-in replaces it with an Argon2id hash.
pub fn is_legacy(stored: &str) -> bool {
    ["$2a$", "$2b$", "$2x$", "$2y$"]
        .iter()
        .any(|p| stored.starts_with(p))
}

fn dummy_hash() -> Result<&'static str, ServiceError> {
    static DUMMY: OnceLock<String> = OnceLock::new();
    if let Some(h) = DUMMY.get() {
        return Ok(h);
    }
    let h = hash_blocking("nextpanel-bill dummy password")?;
    Ok(DUMMY.get_or_init(|| h))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hash_and_verify() -> Result<(), ServiceError> {
        let h = hash("correct horse battery".into()).await?;
        assert!(h.starts_with("$argon2id$"));
        assert!(verify("correct horse battery".into(), Some(h.clone())).await?);
        assert!(!verify("wrong horse battery".into(), Some(h)).await?);
        assert!(!verify("nextpanel-bill dummy password".into(), None).await?);
        Ok(())
    }

    #[tokio::test]
    async fn imported_bcrypt_hashes_verify() -> Result<(), ServiceError> {
        // passlib's bcrypt of "old-password-1" at cost 4.
        let old =
            bcrypt::hash("old-password-1", 4).map_err(|e| ServiceError::Internal(e.to_string()))?;
        assert!(is_legacy(&old));
        assert!(verify("old-password-1".into(), Some(old.clone())).await?);
        assert!(!verify("old-password-2".into(), Some(old)).await?);
        assert!(!verify("x".into(), Some("$2b$04$broken".into())).await?);
        Ok(())
    }
}
