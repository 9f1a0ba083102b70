//! Supabase database webhooks are unsigned: they are protected by a shared secret sent in a header
//! (by default `Authorization: Bearer <secret>`), compared here in constant time.

use sha2::{Digest, Sha256};

use super::{ct_eq, HeaderSource, VerifyError};
use crate::secret::Secret;

/// Default header name.
pub const DEFAULT_HEADER: &str = "authorization";
/// Default value prefix.
pub const DEFAULT_PREFIX: &str = "Bearer ";

/// The header value a sender configured with `secret` sends (`Bearer <secret>`).
///
/// ```
/// let v = wedsync_webhooks::verify::shared::header_value(concat!("db", "-hook-secret"));
/// assert!(v.starts_with("Bearer "));
/// ```
pub fn header_value(secret: &str) -> String {
    format!("{DEFAULT_PREFIX}{secret}")
}

/// Checks a shared secret header.
#[derive(Debug, Clone)]
pub struct SharedSecretVerifier {
    header: String,
    prefix: String,
    /// SHA-256 of each accepted full header value: comparing digests hides the secrets' lengths.
    digests: Vec<[u8; 32]>,
}

impl SharedSecretVerifier {
    /// Accept `Authorization: Bearer <s>` for any `s` in `secrets`.
    pub fn new<S: Into<Secret>>(secrets: impl IntoIterator<Item = S>) -> Self {
        Self::with_header(DEFAULT_HEADER, DEFAULT_PREFIX, secrets)
    }

    /// Accept `<header>: <prefix><s>` for any `s` in `secrets` (e.g. `x-webhook-secret`, no prefix).
    pub fn with_header<S: Into<Secret>>(
        header: &str,
        prefix: &str,
        secrets: impl IntoIterator<Item = S>,
    ) -> Self {
        let digests = secrets
            .into_iter()
            .map(|s| {
                let mut h = Sha256::new();
                h.update(prefix.as_bytes());
                h.update(s.into().expose().as_bytes());
                h.finalize().into()
            })
            .collect();
        SharedSecretVerifier {
            header: header.to_ascii_lowercase(),
            prefix: prefix.to_owned(),
            digests,
        }
    }

    /// The header this verifier reads.
    pub fn header_name(&self) -> &str {
        &self.header
    }

    /// Verify the header.
    pub fn verify(&self, headers: &dyn HeaderSource) -> Result<(), VerifyError> {
        if self.digests.is_empty() {
            return Err(VerifyError::NoSecretConfigured);
        }
        let value = headers
            .header(&self.header)
            .ok_or(VerifyError::MissingHeader("shared secret header"))?;
        if !value.starts_with(&self.prefix) {
            return Err(VerifyError::MalformedHeader {
                header: "shared secret header",
                reason: "unexpected scheme",
            });
        }
        let got: [u8; 32] = Sha256::digest(value.as_bytes()).into();
        let mut ok = false;
        for d in &self.digests {
            ok |= ct_eq(d, &got);
        }
        if ok {
            Ok(())
        } else {
            Err(VerifyError::NoMatchingSignature {
                candidates: 1,
                secrets: self.digests.len(),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotation_and_mismatch() {
        let old = format!("{}{}", "db-old-", "s3cr3t");
        let new = format!("{}{}", "db-new-", "s3cr3t");
        let v = SharedSecretVerifier::new([old.as_str(), new.as_str()]);
        for s in [&old, &new] {
            let h = [("Authorization", header_value(s))];
            assert_eq!(v.verify(&h), Ok(()));
        }
        let wrong = [("authorization", header_value("nope"))];
        let err = v.verify(&wrong).unwrap_err();
        assert_eq!(err.kind(), "no_matching_signature");
        assert!(!err.to_string().contains("nope"));
        let none: [(&str, &str); 0] = [];
        assert_eq!(v.verify(&none).unwrap_err().kind(), "missing_header");
        let basic = [("authorization", "Basic abc")];
        assert_eq!(v.verify(&basic).unwrap_err().kind(), "malformed_header");
    }
}
