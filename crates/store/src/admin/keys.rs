//! The API-key format and its constant-time check: the only place keys are made, hashed and
//! compared (both backends and any HTTP layer use these).

use sha2::{Digest, Sha256};

use super::ApiKeySecret;

/// Prefix of every key this store issues.
pub const KEY_PREFIX: &str = "wsk_";

/// Length of the stored, displayable prefix (`wsk_` + 8 hex characters).
pub const DISPLAY_PREFIX_LEN: usize = KEY_PREFIX.len() + 8;

/// A new random key: `wsk_` + 64 hex characters (244 random bits from the OS generator, via two
/// version-4 UUIDs).
pub fn generate_key() -> ApiKeySecret {
    let a = uuid::Uuid::new_v4();
    let b = uuid::Uuid::new_v4();
    let mut key = String::with_capacity(KEY_PREFIX.len() + 64);
    key.push_str(KEY_PREFIX);
    key.push_str(&hex::encode(a.as_bytes()));
    key.push_str(&hex::encode(b.as_bytes()));
    ApiKeySecret::new(key)
}

/// The SHA-256 of a key, as stored. Keys carry 244 random bits, so a fast hash is safe here
/// (no dictionary to attack); lookups go through the unique index on the hash, and the final
/// comparison is constant-time.
pub fn hash_key(key: &ApiKeySecret) -> Vec<u8> {
    Sha256::digest(key.expose().as_bytes()).to_vec()
}

/// The displayable prefix of a key.
pub fn display_prefix(key: &ApiKeySecret) -> String {
    key.expose().chars().take(DISPLAY_PREFIX_LEN).collect()
}

/// Whether `key` has the shape of a key this store issues (`wsk_` + 64 lowercase hex
/// characters), so an HTTP layer can refuse garbage without a database round trip. Verifying
/// still needs [`ApiKeyStore::verify_api_key`](super::ApiKeyStore::verify_api_key).
pub fn is_well_formed(key: &str) -> bool {
    key.strip_prefix(KEY_PREFIX).is_some_and(|hex| {
        hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    })
}

/// Constant-time equality of two hashes.
pub fn hashes_equal(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_random_prefixed_and_hash_stably() {
        let a = generate_key();
        let b = generate_key();
        assert_ne!(a, b);
        assert!(a.expose().starts_with(KEY_PREFIX));
        assert_eq!(a.expose().len(), 68);
        assert_eq!(hash_key(&a), hash_key(&a.clone()));
        assert_ne!(hash_key(&a), hash_key(&b));
        assert!(hashes_equal(&hash_key(&a), &hash_key(&a)));
        assert!(!hashes_equal(&hash_key(&a), &hash_key(&b)));
        assert_eq!(display_prefix(&a).len(), DISPLAY_PREFIX_LEN);
        assert!(is_well_formed(a.expose()));
        assert!(!is_well_formed(&a.expose()[..67]));
        assert!(!is_well_formed(&a.expose().to_uppercase()));
        assert!(!is_well_formed(&a.expose().replacen(KEY_PREFIX, "xsk_", 1)));
        assert_eq!(format!("{a:?}"), "ApiKeySecret(***)");
        assert!(!format!("{a}").contains(KEY_PREFIX));
    }
}
