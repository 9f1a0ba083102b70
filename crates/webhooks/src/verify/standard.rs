//! Standard Webhooks, as used by Svix (Resend) and Supabase auth hooks.
//!
//! Headers `webhook-id`, `webhook-timestamp`, `webhook-signature` (Svix also sends them as
//! `svix-id`, `svix-timestamp`, `svix-signature`). Signed content `"{id}.{timestamp}.{body}"`,
//! HMAC-SHA256 keyed with the base64-decoded part of the secret after `whsec_`; the signature
//! header is a list of `v1,<base64>` entries separated by spaces (Svix) or `", "` (Supabase).
//! Secrets are accepted as `whsec_<base64>`, `v1,whsec_<base64>` (Supabase's form) or bare base64.

use std::time::Duration;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use time::OffsetDateTime;
use wedsync_secret::standard_webhooks::{self, KeyError, SigningKey};

use super::{check_timestamp, ct_eq, HeaderSource, VerifyError};
use crate::secret::Secret;

/// Default tolerance, in both directions.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(300);
/// At most this many signature entries are examined.
const MAX_SIGNATURES: usize = 16;

/// Which header names a signer emits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderStyle {
    /// `svix-id`, `svix-timestamp`, `svix-signature` (Resend).
    Svix,
    /// `webhook-id`, `webhook-timestamp`, `webhook-signature` (Standard Webhooks).
    Standard,
}

impl HeaderStyle {
    /// `(id, timestamp, signature)` header names.
    pub const fn names(self) -> (&'static str, &'static str, &'static str) {
        match self {
            HeaderStyle::Svix => ("svix-id", "svix-timestamp", "svix-signature"),
            HeaderStyle::Standard => ("webhook-id", "webhook-timestamp", "webhook-signature"),
        }
    }
}

/// Decode a secret in any accepted form to its HMAC key. `index` is only used in the error.
/// The scheme itself lives in [`wedsync_secret::standard_webhooks`].
pub fn decode_secret(secret: &str, index: usize) -> Result<Vec<u8>, VerifyError> {
    standard_webhooks::decode_key(secret).map_err(|e| invalid_secret(index, e))
}

fn invalid_secret(index: usize, e: KeyError) -> VerifyError {
    VerifyError::InvalidSecret {
        index,
        reason: e.reason(),
    }
}

/// The signature header value (`v1,<base64>`) for `body`, signed with `secret` (any accepted form).
/// Delegates to [`wedsync_secret::standard_webhooks::sign`], the workspace's one signer.
///
/// ```
/// use wedsync_webhooks::verify::standard;
/// let secret = concat!("whsec_", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
/// let sig = standard::sign(secret, "msg_1", 1_700_000_000, b"{}").unwrap();
/// assert!(sig.starts_with("v1,"));
/// ```
pub fn sign(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> Result<String, VerifyError> {
    standard_webhooks::sign(secret, id, timestamp, body).map_err(|e| invalid_secret(0, e))
}

/// A fresh random secret (`whsec_<base64>` of 32 random bytes), for a handler that names no
/// secret of its own.
///
/// ```
/// use wedsync_webhooks::verify::standard;
/// let secret = standard::random_secret();
/// assert!(secret.starts_with("whsec_") && secret != standard::random_secret());
/// assert!(standard::decode_secret(&secret, 0).is_ok());
/// ```
pub fn random_secret() -> String {
    format!(
        "whsec_{}",
        B64.encode(crate::crypto::BodyCipher::generate_key())
    )
}

/// The three headers a sender emits, in `style`'s names.
pub fn headers(
    style: HeaderStyle,
    secret: &str,
    id: &str,
    timestamp: i64,
    body: &[u8],
) -> Result<Vec<(String, String)>, VerifyError> {
    let (h_id, h_ts, h_sig) = style.names();
    Ok(vec![
        (h_id.to_owned(), id.to_owned()),
        (h_ts.to_owned(), timestamp.to_string()),
        (h_sig.to_owned(), sign(secret, id, timestamp, body)?),
    ])
}

/// Verifies Standard Webhooks / Svix signatures.
#[derive(Clone)]
pub struct StandardWebhooksVerifier {
    /// One keyed HMAC-SHA256 state per secret (the decoded keys themselves are not kept).
    keys: Vec<SigningKey>,
    tolerance: Duration,
}

impl std::fmt::Debug for StandardWebhooksVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StandardWebhooksVerifier")
            .field("secrets", &self.keys.len())
            .field("tolerance", &self.tolerance)
            .finish()
    }
}

impl StandardWebhooksVerifier {
    /// A verifier accepting any of `secrets` (each `whsec_…`, `v1,whsec_…` or bare base64), with
    /// ±5 min tolerance. Fails on a secret that is not base64 (its value is not echoed).
    pub fn new<S: Into<Secret>>(secrets: impl IntoIterator<Item = S>) -> Result<Self, VerifyError> {
        let keys = secrets
            .into_iter()
            .enumerate()
            .map(|(i, s)| {
                SigningKey::from_secret(s.into().expose()).map_err(|e| invalid_secret(i, e))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(StandardWebhooksVerifier {
            keys,
            tolerance: DEFAULT_TOLERANCE,
        })
    }

    /// Set the tolerance (applies both to old and future timestamps).
    pub fn with_tolerance(mut self, tolerance: Duration) -> Self {
        self.tolerance = tolerance;
        self
    }

    /// Verify `body` against `webhook-*` (or `svix-*`) headers at time `now`.
    pub fn verify(
        &self,
        headers: &dyn HeaderSource,
        body: &[u8],
        now: OffsetDateTime,
    ) -> Result<(), VerifyError> {
        let get = |std: &'static str, svix: &'static str| {
            headers
                .header(std)
                .or_else(|| headers.header(svix))
                .ok_or(VerifyError::MissingHeader(std))
        };
        let id = get("webhook-id", "svix-id")?;
        let ts = get("webhook-timestamp", "svix-timestamp")?;
        let sig = get("webhook-signature", "svix-signature")?;
        self.verify_parts(id, ts, sig, body, now)
    }

    /// Verify with the three header values given directly.
    pub fn verify_parts(
        &self,
        id: &str,
        timestamp: &str,
        signature: &str,
        body: &[u8],
        now: OffsetDateTime,
    ) -> Result<(), VerifyError> {
        if self.keys.is_empty() {
            return Err(VerifyError::NoSecretConfigured);
        }
        if id.is_empty() {
            return Err(VerifyError::MalformedHeader {
                header: "webhook-id",
                reason: "empty",
            });
        }
        let ts: i64 = timestamp
            .trim()
            .parse()
            .map_err(|_| VerifyError::MalformedHeader {
                header: "webhook-timestamp",
                reason: "not an integer",
            })?;
        check_timestamp(ts, now, self.tolerance, Some(self.tolerance))?;
        let candidates = parse_signatures(signature)?;
        let mut ok = false;
        for key in &self.keys {
            let expected = key.mac(id, timestamp.trim(), body);
            for c in &candidates {
                ok |= ct_eq(&expected, c);
            }
        }
        if ok {
            Ok(())
        } else {
            Err(VerifyError::NoMatchingSignature {
                candidates: candidates.len(),
                secrets: self.keys.len(),
            })
        }
    }
}

/// Parse `v1,<b64> v1,<b64>` or `v1,<b64>, v1,<b64>`; other versions and undecodable entries
/// are skipped. Errors when no `v1` entry remains.
fn parse_signatures(value: &str) -> Result<Vec<Vec<u8>>, VerifyError> {
    let mut out = Vec::new();
    for token in value.split_ascii_whitespace().take(MAX_SIGNATURES) {
        let token = token.trim_end_matches(',');
        let Some((version, sig)) = token.split_once(',') else {
            continue;
        };
        if version != "v1" {
            continue;
        }
        if let Ok(bytes) = B64.decode(sig) {
            out.push(bytes);
        }
    }
    if out.is_empty() {
        return Err(VerifyError::MalformedHeader {
            header: "webhook-signature",
            reason: "no v1 signature",
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret() -> String {
        format!("whsec_{}", B64.encode(b"unit-test-key-material-32-bytes!"))
    }

    fn at(t: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(t).unwrap()
    }

    #[test]
    fn svix_and_standard_headers() {
        let s = secret();
        let v = StandardWebhooksVerifier::new([s.as_str()]).unwrap();
        for style in [HeaderStyle::Svix, HeaderStyle::Standard] {
            let h = headers(style, &s, "msg_1", 1000, b"body").unwrap();
            assert_eq!(v.verify(&h, b"body", at(1000)), Ok(()));
            assert!(v.verify(&h, b"bodY", at(1000)).is_err());
        }
    }

    #[test]
    fn supabase_secret_form_and_comma_space_separator() {
        let raw = secret();
        let supa = format!("v1,{raw}");
        let v = StandardWebhooksVerifier::new([supa.as_str()]).unwrap();
        let other = format!("whsec_{}", B64.encode(b"another-key"));
        let good = sign(&raw, "id", 1000, b"b").unwrap();
        let bad = sign(&other, "id", 1000, b"b").unwrap();
        for joined in [
            format!("{bad}, {good}"),
            format!("{bad} {good}"),
            format!("{good},"),
        ] {
            assert_eq!(
                v.verify_parts("id", "1000", &joined, b"b", at(1000)),
                Ok(()),
                "{joined}"
            );
        }
    }

    #[test]
    fn tolerance_both_directions() {
        let s = secret();
        let v = StandardWebhooksVerifier::new([s.as_str()]).unwrap();
        let sig = sign(&s, "id", 1000, b"").unwrap();
        assert!(v.verify_parts("id", "1000", &sig, b"", at(1300)).is_ok());
        assert!(v.verify_parts("id", "1000", &sig, b"", at(700)).is_ok());
        assert!(matches!(
            v.verify_parts("id", "1000", &sig, b"", at(1301)),
            Err(VerifyError::TimestampTooOld { .. })
        ));
        assert!(matches!(
            v.verify_parts("id", "1000", &sig, b"", at(699)),
            Err(VerifyError::TimestampTooNew { .. })
        ));
    }

    #[test]
    fn invalid_secret_is_not_echoed() {
        let bad = concat!("whsec_", "!!not*base64!!");
        let err = StandardWebhooksVerifier::new([bad]).unwrap_err();
        assert!(!err.to_string().contains("not*base64"));
        assert_eq!(err.kind(), "invalid_secret");
    }
}
