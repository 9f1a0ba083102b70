//! Signature verification and signing for every provider (see `shared/providers.md` §2).
//!
//! Each scheme has a verifier holding *several* secrets (rotation: any one valid signature under any
//! configured secret is accepted) and a `sign` function producing exactly what the provider sends,
//! used by the CLI, the testkit and tests. All comparisons are constant-time; errors name what is
//! wrong and never contain a secret or a signature.
//!
//! | scheme | verifier | signer |
//! |---|---|---|
//! | Stripe | [`StripeVerifier`] | [`stripe::sign`] |
//! | Svix / Resend, Standard Webhooks / Supabase auth hooks | [`StandardWebhooksVerifier`] | [`standard::sign`], [`standard::headers`] |
//! | Supabase database webhooks (shared secret header) | [`SharedSecretVerifier`] | [`shared::header_value`] |
//! | Twilio (form and JSON) | [`TwilioVerifier`] | [`twilio::sign`] |

pub mod shared;
pub mod standard;
pub mod stripe;
pub mod twilio;

use std::time::Duration;

use time::OffsetDateTime;

pub use shared::SharedSecretVerifier;
pub use standard::StandardWebhooksVerifier;
pub use stripe::StripeVerifier;
pub use twilio::TwilioVerifier;

/// Svix (Resend) verification is Standard Webhooks verification.
pub type SvixVerifier = StandardWebhooksVerifier;

/// Why a webhook did not verify. Never contains a secret, a signature or the body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// A required header is absent.
    #[error("missing header `{0}`")]
    MissingHeader(&'static str),
    /// A header is present but cannot be parsed.
    #[error("malformed header `{header}`: {reason}")]
    MalformedHeader {
        /// The header's name.
        header: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The signed timestamp is older than the tolerance.
    #[error("timestamp too old: {age_secs} s old, tolerance {tolerance_secs} s")]
    TimestampTooOld {
        /// Seconds between the timestamp and now.
        age_secs: i64,
        /// The configured tolerance.
        tolerance_secs: u64,
    },
    /// The signed timestamp is further in the future than the tolerance.
    #[error("timestamp too far ahead: {ahead_secs} s in the future, tolerance {tolerance_secs} s")]
    TimestampTooNew {
        /// Seconds between now and the timestamp.
        ahead_secs: i64,
        /// The configured tolerance.
        tolerance_secs: u64,
    },
    /// Signatures were present but none matched any configured secret.
    #[error(
        "no matching signature ({candidates} candidate(s) checked against {secrets} secret(s))"
    )]
    NoMatchingSignature {
        /// Signatures of the right scheme found in the header.
        candidates: usize,
        /// Secrets tried.
        secrets: usize,
    },
    /// Twilio JSON: the body's SHA-256 differs from the URL's `bodySHA256`.
    #[error("body hash does not match the bodySHA256 query parameter")]
    BodyHashMismatch,
    /// Twilio: the request URL is needed and was not given.
    #[error("the request URL is required to verify this provider")]
    MissingUrl,
    /// The verifier has no secret configured.
    #[error("no secret configured")]
    NoSecretConfigured,
    /// A configured secret has the wrong form (index into the configured list; value not shown).
    #[error("configured secret #{index} is invalid: {reason}")]
    InvalidSecret {
        /// Position in the configured list (0-based).
        index: usize,
        /// What is wrong with it.
        reason: &'static str,
    },
}

impl VerifyError {
    /// A stable snake_case name, stored as the delivery's `verdict_reason`.
    pub fn kind(&self) -> &'static str {
        match self {
            VerifyError::MissingHeader(_) => "missing_header",
            VerifyError::MalformedHeader { .. } => "malformed_header",
            VerifyError::TimestampTooOld { .. } => "timestamp_too_old",
            VerifyError::TimestampTooNew { .. } => "timestamp_too_new",
            VerifyError::NoMatchingSignature { .. } => "no_matching_signature",
            VerifyError::BodyHashMismatch => "body_hash_mismatch",
            VerifyError::MissingUrl => "missing_url",
            VerifyError::NoSecretConfigured => "no_secret_configured",
            VerifyError::InvalidSecret { .. } => "invalid_secret",
        }
    }
}

/// Case-insensitive header lookup over whatever the caller has.
pub trait HeaderSource {
    /// The first value of header `name` (ASCII case-insensitive), if present and valid UTF-8.
    fn header(&self, name: &str) -> Option<&str>;
}

impl<K: AsRef<str>, V: AsRef<str>> HeaderSource for [(K, V)] {
    fn header(&self, name: &str) -> Option<&str> {
        self.iter()
            .find(|(k, _)| k.as_ref().eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_ref())
    }
}

impl<K: AsRef<str>, V: AsRef<str>, const N: usize> HeaderSource for [(K, V); N] {
    fn header(&self, name: &str) -> Option<&str> {
        self.as_slice().header(name)
    }
}

impl<K: AsRef<str>, V: AsRef<str>> HeaderSource for &[(K, V)] {
    fn header(&self, name: &str) -> Option<&str> {
        (**self).header(name)
    }
}

impl<K: AsRef<str>, V: AsRef<str>> HeaderSource for Vec<(K, V)> {
    fn header(&self, name: &str) -> Option<&str> {
        self.as_slice().header(name)
    }
}

impl HeaderSource for http::HeaderMap {
    fn header(&self, name: &str) -> Option<&str> {
        self.get(name).and_then(|v| v.to_str().ok())
    }
}

/// An incoming request, as far as verification needs it.
#[derive(Clone, Copy)]
pub struct Request<'a> {
    /// Its headers.
    pub headers: &'a dyn HeaderSource,
    /// The raw body, exactly as received.
    pub body: &'a [u8],
    /// The full URL as the provider called it (Twilio only).
    pub url: Option<&'a str>,
}

impl std::fmt::Debug for Request<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Request")
            .field("body_len", &self.body.len())
            .field("url", &self.url.is_some())
            .finish_non_exhaustive()
    }
}

/// Any provider's verifier.
#[derive(Debug, Clone)]
pub enum Verifier {
    /// Stripe.
    Stripe(StripeVerifier),
    /// Svix / Resend / Standard Webhooks / Supabase auth hooks.
    Standard(StandardWebhooksVerifier),
    /// Supabase database webhooks.
    SharedSecret(SharedSecretVerifier),
    /// Twilio.
    Twilio(TwilioVerifier),
}

impl Verifier {
    /// The verifier `provider` signs for, holding `secrets` (several during a rotation): Stripe's
    /// scheme for Stripe, Standard Webhooks for Resend (Svix), Supabase auth hooks and other
    /// Standard Webhooks senders, the shared-secret header for Supabase database webhooks, and
    /// Twilio's URL signature (`public_base`: the public `scheme://host` Twilio calls, when behind
    /// a proxy). Fails only when a Standard Webhooks secret has the wrong form.
    pub fn for_provider<S: Into<crate::Secret>>(
        provider: crate::Provider,
        secrets: impl IntoIterator<Item = S>,
        public_base: Option<&str>,
    ) -> Result<Verifier, VerifyError> {
        use crate::Provider;
        Ok(match provider {
            Provider::Stripe => Verifier::Stripe(StripeVerifier::new(secrets)),
            Provider::Resend | Provider::SupabaseAuth | Provider::Standard => {
                Verifier::Standard(StandardWebhooksVerifier::new(secrets)?)
            }
            Provider::SupabaseDb => Verifier::SharedSecret(SharedSecretVerifier::new(secrets)),
            Provider::Twilio => {
                let v = TwilioVerifier::new(secrets);
                Verifier::Twilio(match public_base {
                    Some(base) => v.with_public_base(base),
                    None => v,
                })
            }
        })
    }

    /// Verify `req` at time `now`.
    pub fn verify(&self, req: &Request<'_>, now: OffsetDateTime) -> Result<(), VerifyError> {
        match self {
            Verifier::Stripe(v) => v.verify(req.headers, req.body, now),
            Verifier::Standard(v) => v.verify(req.headers, req.body, now),
            Verifier::SharedSecret(v) => v.verify(req.headers),
            Verifier::Twilio(v) => v.verify(
                req.url.ok_or(VerifyError::MissingUrl)?,
                req.headers,
                req.body,
            ),
        }
    }
}

/// Check `ts` (unix seconds) against `now`: older than `past` → too old; further ahead than
/// `future` (when given) → too new.
pub(crate) fn check_timestamp(
    ts: i64,
    now: OffsetDateTime,
    past: Duration,
    future: Option<Duration>,
) -> Result<(), VerifyError> {
    let now = now.unix_timestamp();
    let age = now.saturating_sub(ts);
    let past_secs = past.as_secs();
    if age > 0 && age as u64 > past_secs {
        return Err(VerifyError::TimestampTooOld {
            age_secs: age,
            tolerance_secs: past_secs,
        });
    }
    if let Some(future) = future {
        let ahead = ts.saturating_sub(now);
        if ahead > 0 && ahead as u64 > future.as_secs() {
            return Err(VerifyError::TimestampTooNew {
                ahead_secs: ahead,
                tolerance_secs: future.as_secs(),
            });
        }
    }
    Ok(())
}

/// Constant-time equality of two byte strings (length is not secret).
pub(crate) fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.ct_eq(b))
}
