//! Randomness from the operating system's CSPRNG (`getrandom`), and the
//! URL-safe base64 encoding the NextPanel key formats use.
//!
//! Credentials and tokens fail loudly when the OS has no randomness; fault
//! rolls (jitter, error rate) fall back to zero, because a missing jitter is
//! harmless while a guessable secret is not.

use std::io;

const BASE64URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Fills a fresh buffer of `N` random bytes.
pub fn bytes<const N: usize>() -> io::Result<[u8; N]> {
    let mut buf = [0u8; N];
    getrandom::getrandom(&mut buf).map_err(io::Error::other)?;
    Ok(buf)
}

/// Encodes `data` as unpadded base64url (RFC 4648 §5).
pub fn base64url(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        // 1 input byte gives 2 output chars, 2 give 3, 3 give 4.
        for i in 0..=chunk.len() {
            let index = (n >> (18 - 6 * i)) & 0x3f;
            out.push(char::from(BASE64URL[index as usize]));
        }
    }
    out
}

/// Random base64url text of exactly `len` characters.
pub fn base64url_chars(len: usize) -> io::Result<String> {
    let mut text = String::new();
    while text.len() < len {
        text.push_str(&base64url(&bytes::<48>()?));
    }
    text.truncate(len);
    Ok(text)
}

/// A uniform roll in `[0, 1)`; 0.0 when the OS gives no randomness.
pub fn unit_roll() -> f64 {
    match bytes::<8>() {
        // 53 random bits fill an f64 mantissa exactly.
        Ok(b) => (u64::from_le_bytes(b) >> 11) as f64 / (1u64 << 53) as f64,
        Err(_) => 0.0,
    }
}

/// A uniform integer in `0..=max`; 0 when the OS gives no randomness.
pub fn up_to(max: u64) -> u64 {
    if max == 0 {
        return 0;
    }
    match bytes::<8>() {
        // The modulo bias is irrelevant for latency jitter.
        Ok(b) => u64::from_le_bytes(b) % (max + 1),
        Err(_) => 0,
    }
}

/// True with probability `p` (clamped to `[0, 1]`).
pub fn chance(p: f64) -> bool {
    p >= 1.0 || (p > 0.0 && unit_roll() < p)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn base64url_matches_rfc4648_vectors() {
        assert_eq!(base64url(b""), "");
        assert_eq!(base64url(b"f"), "Zg");
        assert_eq!(base64url(b"fo"), "Zm8");
        assert_eq!(base64url(b"foo"), "Zm9v");
        assert_eq!(base64url(b"foobar"), "Zm9vYmFy");
        assert_eq!(base64url(&[0xfb, 0xff]), "-_8");
    }

    #[test]
    fn base64url_chars_has_requested_length() {
        for len in [0, 1, 43, 64, 100] {
            let text = base64url_chars(len).unwrap();
            assert_eq!(text.len(), len);
            assert!(text.bytes().all(|c| BASE64URL.contains(&c)));
        }
    }

    #[test]
    fn rolls_stay_in_range() {
        for _ in 0..100 {
            let r = unit_roll();
            assert!((0.0..1.0).contains(&r));
            assert!(up_to(5) <= 5);
        }
        assert!(chance(1.0));
        assert!(!chance(0.0));
    }
}
