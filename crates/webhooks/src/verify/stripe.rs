//! Stripe: `Stripe-Signature: t=<unix>,v1=<hex>[,v1=<hex>…][,v0=<hex>]`, HMAC-SHA256 over
//! `"{t}.{body}"` keyed with the secret string as configured (`whsec_…` included).

use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use time::OffsetDateTime;

use super::{check_timestamp, ct_eq, HeaderSource, VerifyError};
use crate::secret::Secret;

/// The header Stripe signs with.
pub const HEADER: &str = "stripe-signature";
/// Stripe's default tolerance for old timestamps.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(300);
/// At most this many `v1` entries are examined (a bound against hostile headers).
const MAX_SIGNATURES: usize = 16;

/// HMAC-SHA256 keyed with `secret`: the key's inner and outer blocks are hashed once here and the
/// state cloned for every message.
fn keyed(secret: &str) -> Hmac<Sha256> {
    // HMAC accepts keys of any length: this cannot fail.
    Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length")
}

fn mac(keyed: &Hmac<Sha256>, timestamp: &str, body: &[u8]) -> [u8; 32] {
    let mut m = keyed.clone();
    m.update(timestamp.as_bytes());
    m.update(b".");
    m.update(body);
    m.finalize().into_bytes().into()
}

/// The `Stripe-Signature` value Stripe would send for `body` at `timestamp`, signed with `secret`.
///
/// ```
/// let secret = concat!("whsec_", "test");
/// let v = wedsync_webhooks::verify::stripe::sign(secret, 1_700_000_000, b"{}");
/// assert!(v.starts_with("t=1700000000,v1="));
/// ```
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    sign_many(&[secret], timestamp, body)
}

/// Like [`sign`] with one `v1` entry per secret (as Stripe does while a secret is rolled).
pub fn sign_many(secrets: &[&str], timestamp: i64, body: &[u8]) -> String {
    let t = timestamp.to_string();
    let mut out = format!("t={t}");
    for s in secrets {
        out.push_str(",v1=");
        out.push_str(&hex::encode(mac(&keyed(s), &t, body)));
    }
    out
}

/// Verifies `Stripe-Signature`.
#[derive(Clone)]
pub struct StripeVerifier {
    /// One keyed HMAC-SHA256 state per secret (the secrets themselves are not kept).
    keyed: Vec<Hmac<Sha256>>,
    tolerance: Duration,
    future_tolerance: Option<Duration>,
}

impl std::fmt::Debug for StripeVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StripeVerifier")
            .field("secrets", &self.keyed.len())
            .field("tolerance", &self.tolerance)
            .field("future_tolerance", &self.future_tolerance)
            .finish()
    }
}

impl StripeVerifier {
    /// A verifier accepting a signature from any of `secrets`, with the default 300 s tolerance
    /// and (like Stripe's SDKs) no limit on timestamps in the future.
    pub fn new<S: Into<Secret>>(secrets: impl IntoIterator<Item = S>) -> Self {
        StripeVerifier {
            keyed: secrets
                .into_iter()
                .map(|s| keyed(s.into().expose()))
                .collect(),
            tolerance: DEFAULT_TOLERANCE,
            future_tolerance: None,
        }
    }

    /// Reject timestamps older than `tolerance`.
    pub fn with_tolerance(mut self, tolerance: Duration) -> Self {
        self.tolerance = tolerance;
        self
    }

    /// Also reject timestamps further than `tolerance` in the future (off by default).
    pub fn with_future_tolerance(mut self, tolerance: Duration) -> Self {
        self.future_tolerance = Some(tolerance);
        self
    }

    /// Verify the raw `body` against the `Stripe-Signature` header at time `now`.
    pub fn verify(
        &self,
        headers: &dyn HeaderSource,
        body: &[u8],
        now: OffsetDateTime,
    ) -> Result<(), VerifyError> {
        let value = headers
            .header(HEADER)
            .ok_or(VerifyError::MissingHeader("Stripe-Signature"))?;
        self.verify_header(value, body, now)
    }

    /// Verify with the header value given directly.
    pub fn verify_header(
        &self,
        value: &str,
        body: &[u8],
        now: OffsetDateTime,
    ) -> Result<(), VerifyError> {
        if self.keyed.is_empty() {
            return Err(VerifyError::NoSecretConfigured);
        }
        let parsed = parse(value)?;
        check_timestamp(parsed.timestamp, now, self.tolerance, self.future_tolerance)?;
        let mut candidates: Vec<[u8; 32]> = Vec::new();
        for v1 in parsed.v1.iter().take(MAX_SIGNATURES) {
            let mut buf = [0u8; 32];
            if hex::decode_to_slice(v1, &mut buf).is_ok() {
                candidates.push(buf);
            }
        }
        let mut ok = false;
        for k in &self.keyed {
            let expected = mac(k, parsed.timestamp_str, body);
            for c in &candidates {
                // No early exit: every comparison runs.
                ok |= ct_eq(&expected, c);
            }
        }
        if ok {
            Ok(())
        } else {
            Err(VerifyError::NoMatchingSignature {
                candidates: parsed.v1.len(),
                secrets: self.keyed.len(),
            })
        }
    }
}

struct Parsed<'a> {
    timestamp: i64,
    timestamp_str: &'a str,
    v1: Vec<&'a str>,
}

fn malformed(reason: &'static str) -> VerifyError {
    VerifyError::MalformedHeader {
        header: "Stripe-Signature",
        reason,
    }
}

fn parse(value: &str) -> Result<Parsed<'_>, VerifyError> {
    let mut ts: Option<&str> = None;
    let mut v1 = Vec::new();
    for item in value.split(',') {
        let Some((k, v)) = item.trim().split_once('=') else {
            continue; // malformed entries are ignored
        };
        match k {
            "t" if ts.is_none() => ts = Some(v),
            "v1" if !v.is_empty() => v1.push(v),
            _ => {}
        }
    }
    let ts = ts.ok_or(malformed("no timestamp (t=)"))?;
    if ts.is_empty() {
        return Err(malformed("empty timestamp (t=)"));
    }
    let timestamp: i64 = ts
        .parse()
        .map_err(|_| malformed("timestamp is not an integer"))?;
    if v1.is_empty() {
        return Err(malformed("no v1 signature"));
    }
    Ok(Parsed {
        timestamp,
        timestamp_str: ts,
        v1,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret() -> String {
        format!("{}{}", "whsec_", "unit_test_secret_value")
    }

    fn at(t: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(t).unwrap()
    }

    #[test]
    fn valid_and_tampered() {
        let s = secret();
        let v = StripeVerifier::new([s.as_str()]);
        let h = sign(&s, 1000, b"{\"id\":1}");
        assert_eq!(v.verify_header(&h, b"{\"id\":1}", at(1000)), Ok(()));
        assert!(matches!(
            v.verify_header(&h, b"{\"id\":2}", at(1000)),
            Err(VerifyError::NoMatchingSignature {
                candidates: 1,
                secrets: 1
            })
        ));
    }

    #[test]
    fn tolerance_edges() {
        let s = secret();
        let v = StripeVerifier::new([s.as_str()]);
        let h = sign(&s, 1000, b"x");
        assert!(v.verify_header(&h, b"x", at(1300)).is_ok());
        assert!(matches!(
            v.verify_header(&h, b"x", at(1301)),
            Err(VerifyError::TimestampTooOld {
                age_secs: 301,
                tolerance_secs: 300
            })
        ));
        // Future timestamps are accepted by default, rejectable by configuration.
        assert!(v.verify_header(&h, b"x", at(0)).is_ok());
        let strict = v.clone().with_future_tolerance(Duration::from_secs(10));
        assert!(strict.verify_header(&h, b"x", at(990)).is_ok());
        assert!(matches!(
            strict.verify_header(&h, b"x", at(989)),
            Err(VerifyError::TimestampTooNew { ahead_secs: 11, .. })
        ));
    }

    #[test]
    fn malformed_headers() {
        let v = StripeVerifier::new([secret()]);
        for (h, _why) in [
            ("", "empty"),
            ("garbage", "no t"),
            ("t=,v1=ab", "empty t"),
            ("t=abc,v1=ab", "non-numeric"),
            ("t=1000", "no v1"),
            ("t=1000,v0=abcd", "only v0"),
        ] {
            assert!(
                matches!(
                    v.verify_header(h, b"", at(1000)),
                    Err(VerifyError::MalformedHeader { .. })
                ),
                "{h}"
            );
        }
    }
}
