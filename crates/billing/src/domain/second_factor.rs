//! Second factors for sign-in: TOTP codes (RFC 6238: HMAC-SHA1, 6 digits, 30-second
//! steps) and single-use recovery codes.

use totp_rs::{Algorithm, TOTP};

use super::Invalid;

/// Seconds per TOTP step.
pub const STEP_SECS: u64 = 30;
/// Bytes of a TOTP secret: 160 bits, as RFC 4226 recommends.
pub const SECRET_LEN: usize = 20;
/// How many recovery codes a user gets.
pub const RECOVERY_CODES: usize = 10;
/// Letters of recovery codes: lower case without look-alikes (0/o, 1/l/i).
const RECOVERY_ALPHABET: &[u8] = b"23456789abcdefghjkmnpqrstuvwxyz";
/// Characters of a recovery code (without its dash): 10 from 31 letters, about 50 bits.
const RECOVERY_LEN: usize = 10;

/// A code as typed at sign-in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Code {
    /// Six digits from the authenticator app.
    Totp(String),
    /// A recovery code, normalised (lower case, no dash or spaces).
    Recovery(String),
}

impl Code {
    /// Reads what the user typed; spaces and a recovery code's dash do not matter.
    pub fn parse(field: &'static str, input: &str) -> Result<Code, Invalid> {
        let compact: String = input
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '-')
            .collect();
        if compact.len() == 6 && compact.bytes().all(|b| b.is_ascii_digit()) {
            return Ok(Code::Totp(compact));
        }
        let lower = compact.to_ascii_lowercase();
        if lower.len() == RECOVERY_LEN && lower.bytes().all(|b| RECOVERY_ALPHABET.contains(&b)) {
            return Ok(Code::Recovery(lower));
        }
        Err(Invalid::new(
            field,
            "must be the 6-digit code from your authenticator app or one of your recovery codes",
        ))
    }
}

/// The time step a six-digit `code` is valid for at `unix_now`, allowing one step of
/// clock drift either way; `None` when it matches none of them.
pub fn matching_step(secret: &[u8], code: &str, unix_now: u64) -> Option<u64> {
    let totp = totp(secret);
    let now_step = unix_now / STEP_SECS;
    [now_step.saturating_sub(1), now_step, now_step + 1]
        .into_iter()
        .find(|step| totp.check(code, step * STEP_SECS))
}

/// The code an authenticator shows at `unix_time` (for tests and the simulator of a phone).
pub fn code_at(secret: &[u8], unix_time: u64) -> String {
    totp(secret).generate(unix_time)
}

/// The `otpauth://` URL authenticator apps read from the QR code.
pub fn otpauth_url(secret: &[u8], issuer: &str, account: &str) -> Result<String, Invalid> {
    // The URL's label is `issuer:account`; a colon inside either would be misread.
    let issuer = issuer.replace(':', " ");
    let account = account.replace(':', " ");
    TOTP::new(
        Algorithm::SHA1,
        6,
        0,
        STEP_SECS,
        secret.to_vec(),
        Some(issuer),
        account,
    )
    .map(|t| t.get_url())
    .map_err(|e| Invalid::new("secret", format!("cannot make an authenticator key: {e}")))
}

/// The secret as authenticator apps take it when typed in: base32 without padding.
pub fn manual_key(secret: &[u8]) -> String {
    totp(secret).get_secret_base32()
}

fn totp(secret: &[u8]) -> TOTP {
    // Skew 0: `matching_step` tries the neighbouring steps itself, to learn which matched.
    TOTP::new_unchecked(
        Algorithm::SHA1,
        6,
        0,
        STEP_SECS,
        secret.to_vec(),
        None,
        String::new(),
    )
}

/// A recovery code shown to the user (`xxxxx-xxxxx`) from random bytes.
pub fn recovery_code(random: &[u8; RECOVERY_LEN]) -> String {
    let letters: String = random
        .iter()
        .map(|b| char::from(RECOVERY_ALPHABET[usize::from(*b) % RECOVERY_ALPHABET.len()]))
        .collect();
    format!("{}-{}", &letters[..5], &letters[5..])
}

/// Random bytes a recovery code is made from.
pub type RecoverySeed = [u8; RECOVERY_LEN];

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B, SHA-1 secret "12345678901234567890", 6 digits.
    #[test]
    fn codes_match_the_rfc_vectors() {
        let secret = b"12345678901234567890";
        for (time, code) in [
            (59, "287082"),
            (1_111_111_109, "081804"),
            (1_234_567_890, "005924"),
            (2_000_000_000, "279037"),
        ] {
            assert_eq!(code_at(secret, time), code);
            assert_eq!(matching_step(secret, code, time), Some(time / 30));
        }
    }

    #[test]
    fn one_step_of_drift_either_way_and_no_more() {
        let secret = b"12345678901234567890";
        let code = code_at(secret, 1_000_000_000);
        let step = 1_000_000_000 / 30;
        assert_eq!(matching_step(secret, &code, 1_000_000_030), Some(step));
        assert_eq!(matching_step(secret, &code, 999_999_970), Some(step));
        assert_eq!(matching_step(secret, &code, 1_000_000_090), None);
        assert_eq!(
            matching_step(b"another secret 12345", &code, 1_000_000_000),
            None
        );
    }

    #[test]
    fn codes_parse_with_spaces_and_dashes() {
        assert_eq!(
            Code::parse("code", " 123 456 "),
            Ok(Code::Totp("123456".into()))
        );
        assert_eq!(
            Code::parse("code", "ABCDE-FGHJK"),
            Ok(Code::Recovery("abcdefghjk".into()))
        );
        for bad in ["", "12345", "1234567", "abcde-fghi1", "hello"] {
            assert!(Code::parse("code", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn recovery_codes_are_dashed_and_parse_back() {
        let code = recovery_code(&[0, 1, 2, 3, 4, 250, 251, 252, 253, 255]);
        assert_eq!(code.len(), 11);
        assert!(matches!(Code::parse("code", &code), Ok(Code::Recovery(_))));
    }

    #[test]
    fn otpauth_urls_carry_issuer_and_account() -> Result<(), Invalid> {
        let url = otpauth_url(&[7; SECRET_LEN], "Acme: Hosting", "ada@example.com")?;
        assert!(url.starts_with("otpauth://totp/Acme%20%20Hosting:ada%40example.com?secret="));
        assert!(url.contains("issuer=Acme%20%20Hosting"));
        assert_eq!(manual_key(&[7; SECRET_LEN]).len(), 32);
        Ok(())
    }
}
