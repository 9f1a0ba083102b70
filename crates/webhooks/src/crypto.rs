//! Raw bodies at rest: sealed with XChaCha20-Poly1305 under a key from configuration.
//!
//! The delivery id is the associated data, so a ciphertext copied onto another row does not open.
//! Several keys may be configured: the first seals, all open (key rotation: add the new key first,
//! keep the old one until its bodies have expired, at most the retention period).

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use uuid::Uuid;

use crate::secret::Secret;
use crate::store::EncryptedBody;

/// Key length in bytes.
pub const KEY_LEN: usize = 32;

/// Errors from sealing or opening a raw body. Never contain key material or plaintext.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CryptoError {
    /// A configured key is not 32 bytes of base64.
    #[error("encryption key `{key_id}` is invalid: {reason}")]
    InvalidKey {
        /// The key's id.
        key_id: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// The body was sealed with a key id that is not configured (any more).
    #[error("no encryption key `{0}` is configured")]
    UnknownKey(String),
    /// Authentication failed: wrong key, wrong delivery, or tampered ciphertext.
    #[error("raw body could not be decrypted (wrong key or tampered)")]
    Decrypt,
    /// The AEAD refused to seal (should not happen).
    #[error("raw body could not be encrypted")]
    Encrypt,
}

/// Seals and opens raw bodies.
#[derive(Clone)]
pub struct BodyCipher {
    keys: Vec<(String, XChaCha20Poly1305)>,
}

impl std::fmt::Debug for BodyCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids: Vec<&str> = self.keys.iter().map(|(id, _)| id.as_str()).collect();
        f.debug_struct("BodyCipher").field("key_ids", &ids).finish()
    }
}

impl BodyCipher {
    /// A cipher sealing with `key` (32 bytes), labelled `key_id`.
    pub fn new(key_id: impl Into<String>, key: &[u8; KEY_LEN]) -> Self {
        BodyCipher {
            keys: vec![(key_id.into(), XChaCha20Poly1305::new(key.into()))],
        }
    }

    /// A cipher from a base64-encoded 32-byte key (as kept in configuration).
    pub fn from_base64(key_id: impl Into<String>, key: &Secret) -> Result<Self, CryptoError> {
        let key_id = key_id.into();
        let bytes = decode_key(&key_id, key)?;
        Ok(Self::new(key_id, &bytes))
    }

    /// Also open bodies sealed with an older key (never used to seal).
    pub fn with_old_key(mut self, key_id: impl Into<String>, key: &[u8; KEY_LEN]) -> Self {
        self.keys
            .push((key_id.into(), XChaCha20Poly1305::new(key.into())));
        self
    }

    /// The id of the key that seals new bodies.
    pub fn sealing_key_id(&self) -> &str {
        self.keys.first().map_or("", |(id, _)| id.as_str())
    }

    /// Every configured key id, the sealing key first.
    pub fn key_ids(&self) -> impl Iterator<Item = &str> {
        self.keys.iter().map(|(id, _)| id.as_str())
    }

    /// Whether a key with this id is configured.
    pub fn has_key(&self, key_id: &str) -> bool {
        self.keys.iter().any(|(id, _)| id == key_id)
    }

    /// A fresh random key (for tests and `generate-key` tooling).
    pub fn generate_key() -> [u8; KEY_LEN] {
        XChaCha20Poly1305::generate_key(&mut OsRng).into()
    }

    /// Seal `plaintext` for delivery `delivery_id` with the current key and a random nonce.
    pub fn seal(&self, delivery_id: Uuid, plaintext: &[u8]) -> Result<EncryptedBody, CryptoError> {
        let (key_id, cipher) = self.keys.first().ok_or(CryptoError::Encrypt)?;
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let ciphertext = cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext,
                    aad: delivery_id.as_bytes(),
                },
            )
            .map_err(|_| CryptoError::Encrypt)?;
        Ok(EncryptedBody {
            key_id: key_id.clone(),
            nonce: nonce.to_vec(),
            ciphertext,
        })
    }

    /// Open a body sealed for `delivery_id`.
    pub fn open(&self, delivery_id: Uuid, body: &EncryptedBody) -> Result<Vec<u8>, CryptoError> {
        let (_, cipher) = self
            .keys
            .iter()
            .find(|(id, _)| *id == body.key_id)
            .ok_or_else(|| CryptoError::UnknownKey(body.key_id.clone()))?;
        if body.nonce.len() != 24 {
            return Err(CryptoError::Decrypt);
        }
        cipher
            .decrypt(
                XNonce::from_slice(&body.nonce),
                Payload {
                    msg: &body.ciphertext,
                    aad: delivery_id.as_bytes(),
                },
            )
            .map_err(|_| CryptoError::Decrypt)
    }
}

fn decode_key(key_id: &str, key: &Secret) -> Result<[u8; KEY_LEN], CryptoError> {
    parse_key(key.expose()).map_err(|reason| CryptoError::InvalidKey {
        key_id: key_id.to_owned(),
        reason,
    })
}

/// A key from its text form (base64 of 32 bytes, surrounding whitespace ignored), or what is wrong
/// with it (`not base64`, `not 32 bytes`) — never the text itself.
pub fn parse_key(text: &str) -> Result<[u8; KEY_LEN], &'static str> {
    let bytes = B64.decode(text.trim()).map_err(|_| "not base64")?;
    bytes.try_into().map_err(|_| "not 32 bytes")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_binds_delivery_and_rotates() {
        let old = BodyCipher::generate_key();
        let new = BodyCipher::generate_key();
        let c_old = BodyCipher::new("k1", &old);
        let id = Uuid::new_v4();
        let sealed = c_old.seal(id, b"{\"amount\":250000}").unwrap();
        assert_ne!(sealed.ciphertext, b"{\"amount\":250000}");
        assert_eq!(c_old.open(id, &sealed).unwrap(), b"{\"amount\":250000}");
        assert_eq!(
            c_old.open(Uuid::new_v4(), &sealed),
            Err(CryptoError::Decrypt)
        );
        let mut tampered = sealed.clone();
        tampered.ciphertext[0] ^= 1;
        assert_eq!(c_old.open(id, &tampered), Err(CryptoError::Decrypt));

        let rotated = BodyCipher::new("k2", &new).with_old_key("k1", &old);
        assert_eq!(rotated.open(id, &sealed).unwrap(), b"{\"amount\":250000}");
        assert_eq!(rotated.seal(id, b"x").unwrap().key_id, "k2");
        let only_new = BodyCipher::new("k2", &new);
        assert_eq!(
            only_new.open(id, &sealed),
            Err(CryptoError::UnknownKey("k1".into()))
        );
    }

    #[test]
    fn base64_keys() {
        let key = Secret::new(B64.encode(BodyCipher::generate_key()));
        assert!(BodyCipher::from_base64("k", &key).is_ok());
        let short = Secret::new(B64.encode([1u8; 16]));
        let err = BodyCipher::from_base64("k", &short).unwrap_err();
        assert!(!err.to_string().contains(short.expose()));
        assert_eq!(
            err,
            CryptoError::InvalidKey {
                key_id: "k".into(),
                reason: "not 32 bytes"
            }
        );
        let garbage = Secret::new("not base64 at all!");
        assert_eq!(
            BodyCipher::from_base64("k", &garbage).unwrap_err(),
            CryptoError::InvalidKey {
                key_id: "k".into(),
                reason: "not base64"
            }
        );
    }

    #[test]
    fn malformed_nonce_and_debug() {
        let key = BodyCipher::generate_key();
        let c = BodyCipher::new("k1", &key).with_old_key("k0", &BodyCipher::generate_key());
        let id = Uuid::new_v4();
        let mut sealed = c.seal(id, b"body").unwrap();
        assert_eq!(sealed.nonce.len(), 24);
        sealed.nonce.pop();
        assert_eq!(c.open(id, &sealed), Err(CryptoError::Decrypt));
        let d = format!("{c:?}");
        assert!(d.contains("k1") && d.contains("k0"), "{d}");
        assert!(!d.contains(&B64.encode(key)), "{d}");
    }
}
