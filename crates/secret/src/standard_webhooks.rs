//! The Standard Webhooks signing scheme (Svix / Resend, Supabase auth hooks), once for the
//! workspace.
//!
//! Signed content is `"{id}.{timestamp}.{body}"`, HMAC-SHA256 keyed with the base64-decoded part
//! of the secret after `whsec_`; the signature is `v1,<base64>`. Secrets are accepted as
//! `whsec_<base64>`, `v1,whsec_<base64>` (Supabase's form) or bare base64.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Why a secret is not a Standard Webhooks key. Never contains the secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// What follows the optional `v1,` / `whsec_` prefixes is not base64.
    #[error("not base64 after the whsec_ prefix")]
    NotBase64,
    /// The decoded key is empty.
    #[error("empty key")]
    Empty,
}

impl KeyError {
    /// The reason as a static string (the error's message).
    pub const fn reason(self) -> &'static str {
        match self {
            KeyError::NotBase64 => "not base64 after the whsec_ prefix",
            KeyError::Empty => "empty key",
        }
    }
}

/// Decodes a secret in any accepted form (`whsec_<base64>`, `v1,whsec_<base64>`, bare base64,
/// surrounding whitespace ignored) to its HMAC key bytes.
pub fn decode_key(secret: &str) -> Result<Vec<u8>, KeyError> {
    let s = secret.trim();
    let s = s.strip_prefix("v1,").unwrap_or(s);
    let s = s.strip_prefix("whsec_").unwrap_or(s);
    let key = B64.decode(s).map_err(|_| KeyError::NotBase64)?;
    if key.is_empty() {
        return Err(KeyError::Empty);
    }
    Ok(key)
}

/// A Standard Webhooks key, ready to sign: the key's inner and outer HMAC blocks are hashed once
/// here and the state cloned for every message. `Debug` shows no key material.
#[derive(Clone)]
pub struct SigningKey(Hmac<Sha256>);

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningKey(***)")
    }
}

impl SigningKey {
    /// A key from decoded key bytes (any length).
    pub fn from_bytes(key: &[u8]) -> Self {
        // HMAC accepts keys of any length: this cannot fail.
        SigningKey(Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length"))
    }

    /// A key from a secret in any accepted form (see [`decode_key`]).
    pub fn from_secret(secret: &str) -> Result<Self, KeyError> {
        decode_key(secret).map(|k| Self::from_bytes(&k))
    }

    /// The raw HMAC-SHA256 of `"{id}.{timestamp}.{body}"`.
    pub fn mac(&self, id: &str, timestamp: &str, body: &[u8]) -> [u8; 32] {
        let mut m = self.0.clone();
        m.update(id.as_bytes());
        m.update(b".");
        m.update(timestamp.as_bytes());
        m.update(b".");
        m.update(body);
        m.finalize().into_bytes().into()
    }

    /// The signature header entry `v1,<base64>` for `body`.
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        format!(
            "v1,{}",
            B64.encode(self.mac(id, &timestamp.to_string(), body))
        )
    }
}

/// The signature header value (`v1,<base64>`) for `body`, signed with `secret` (any accepted
/// form). Fails only when the secret is not a key (the error does not echo it).
///
/// ```
/// use wedsync_secret::standard_webhooks;
/// let secret = concat!("whsec_", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
/// let sig = standard_webhooks::sign(secret, "msg_1", 1_700_000_000, b"{}").unwrap();
/// assert!(sig.starts_with("v1,"));
/// assert!(standard_webhooks::sign(concat!("whsec_", "!!"), "msg_1", 0, b"").is_err());
/// ```
pub fn sign(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> Result<String, KeyError> {
    Ok(SigningKey::from_secret(secret)?.sign(id, timestamp, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_secret_form_gives_the_same_key() {
        let key = B64.encode(b"unit-test-key-material-32-bytes!");
        let whsec = format!("whsec_{key}");
        let supa = format!("v1,{whsec}");
        let a = sign(&whsec, "id", 1000, b"b").unwrap();
        assert_eq!(sign(&supa, "id", 1000, b"b").unwrap(), a);
        assert_eq!(sign(&key, "id", 1000, b"b").unwrap(), a);
        assert_eq!(sign(&format!(" {whsec}\n"), "id", 1000, b"b").unwrap(), a);
        assert_ne!(sign(&whsec, "id", 1001, b"b").unwrap(), a);
    }

    #[test]
    fn bad_secrets_are_typed_and_not_echoed() {
        let bad = concat!("whsec_", "!!not*base64!!");
        let err = sign(bad, "id", 0, b"").unwrap_err();
        assert_eq!(err, KeyError::NotBase64);
        assert!(!err.to_string().contains("not*base64"));
        assert_eq!(err.to_string(), err.reason());
        assert_eq!(decode_key("whsec_"), Err(KeyError::Empty));
        assert_eq!(
            format!("{:?}", SigningKey::from_bytes(b"k")),
            "SigningKey(***)"
        );
    }
}
