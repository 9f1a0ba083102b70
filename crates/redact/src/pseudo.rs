//! Keyed pseudonyms: HMAC-SHA256 under a key held in [`SecretKey`].

use std::fmt;
use std::sync::Arc;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::{Kind, PolicyError};

/// The key for keyed pseudonyms. Its `Debug` and `Display` print a mask, never the key.
///
/// ```
/// let key = wedsync_redact::SecretKey::new(b"0123456789abcdef-not-a-real-key".to_vec())?;
/// assert_eq!(format!("{key:?}"), "SecretKey(***)");
/// # Ok::<(), wedsync_redact::PolicyError>(())
/// ```
#[derive(Clone)]
pub struct SecretKey(Arc<[u8]>);

impl SecretKey {
    /// Wraps `bytes` (at least 16) as a pseudonym key.
    pub fn new(bytes: impl Into<Vec<u8>>) -> Result<Self, PolicyError> {
        let bytes: Vec<u8> = bytes.into();
        if bytes.len() < 16 {
            return Err(PolicyError::ShortKey);
        }
        Ok(SecretKey(Arc::from(bytes)))
    }

    pub(crate) fn pseudonym(&self, kind: Kind, value: &str) -> String {
        let normalised = normalise(kind, value);
        // A key of any length is valid for HMAC; the fallback is unreachable.
        let mut mac = match Hmac::<Sha256>::new_from_slice(&self.0) {
            Ok(m) => m,
            Err(_) => return kind.placeholder().to_owned(),
        };
        mac.update(kind.as_str().as_bytes());
        mac.update(&[0]);
        mac.update(normalised.as_bytes());
        let tag = mac.finalize().into_bytes();
        let mut out = String::with_capacity(32);
        out.push_str("[REDACTED:");
        out.push_str(kind.as_str());
        out.push(':');
        for b in &tag[..6] {
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 15)]));
        }
        out.push(']');
        out
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

fn normalise(kind: Kind, value: &str) -> String {
    match kind {
        Kind::Email => value.trim().to_lowercase(),
        Kind::Phone => value
            .chars()
            .filter(|c| *c == '+' || c.is_ascii_digit())
            .collect(),
        _ => value.trim().to_owned(),
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(***)")
    }
}

impl fmt::Display for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pseudonyms_normalise_and_differ_by_key() {
        let k1 = SecretKey::new(vec![1u8; 32]).unwrap();
        let k2 = SecretKey::new(vec![2u8; 32]).unwrap();
        let a = k1.pseudonym(Kind::Email, " Emma.Wilson@Example.com ");
        let b = k1.pseudonym(Kind::Email, "emma.wilson@example.com");
        assert_eq!(a, b);
        assert!(a.starts_with("[REDACTED:email:") && a.len() == "[REDACTED:email:]".len() + 12);
        assert_ne!(a, k2.pseudonym(Kind::Email, "emma.wilson@example.com"));
        assert_eq!(
            k1.pseudonym(Kind::Phone, "+44 7700 900123"),
            k1.pseudonym(Kind::Phone, "+447700900123")
        );
        assert!(SecretKey::new(vec![0u8; 15]).is_err());
    }
}
