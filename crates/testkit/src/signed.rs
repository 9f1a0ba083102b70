//! Realistic signed provider webhooks, built from the [`fixtures`] with
//! `wedsync-webhooks`' own signing functions (so what they verify is exactly what providers send).
//!
//! | provider | builder | headers |
//! |---|---|---|
//! | Stripe | [`stripe`], [`stripe_at`], [`stripe_rotated`] | `Stripe-Signature: t=…,v1=…` |
//! | Resend (Svix) | [`resend`], [`resend_at`] | `svix-id`, `svix-timestamp`, `svix-signature` |
//! | Supabase auth hooks (Standard Webhooks) | [`standard`], [`standard_at`] | `webhook-id`, `webhook-timestamp`, `webhook-signature` |
//! | Supabase database webhooks | [`supabase_db`] | `Authorization: Bearer <shared secret>` |
//! | Twilio | [`twilio_form`], [`twilio_json`] | `X-Twilio-Signature` (JSON: `bodySHA256` in the URL) |
//!
//! ```
//! use wedsync_testkit::signed;
//! use wedsync_webhooks::verify::StripeVerifier;
//!
//! let secret = signed::stripe_secret();
//! let hook = signed::stripe_checkout_session_completed(&secret);
//! assert_eq!(hook.dedupe_id.as_deref(), Some("evt_1NxAbCdEfGhIjKlMnOpQrSt"));
//! let verifier = StripeVerifier::new([secret.as_str()]);
//! let now = time::OffsetDateTime::now_utc();
//! assert!(verifier.verify(&hook.headers, &hook.body, now).is_ok());
//! ```

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use wedsync_webhooks::verify::standard::HeaderStyle;
use wedsync_webhooks::verify::{self, VerifyError};

use crate::fixtures;
use crate::server::random_token;

/// A signed webhook, ready to send: `POST` [`body`](Self::body) with [`headers`](Self::headers).
/// `Debug` masks the `Authorization` header (Supabase database webhooks carry their shared secret
/// there).
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SignedWebhook {
    /// `stripe`, `resend`, `standard`, `supabase-db` or `twilio`.
    pub provider: &'static str,
    /// Headers to send (lowercase names), `content-type` included.
    pub headers: Vec<(String, String)>,
    /// The raw body that was signed.
    pub body: Vec<u8>,
    /// The signed timestamp (Unix seconds); for unsigned or timestamp-free schemes, when it was
    /// built.
    pub timestamp: i64,
    /// Twilio only: the exact URL that was signed (post to this URL, `bodySHA256` included).
    pub url: Option<String>,
    /// What a receiver should dedupe on: Stripe's `evt_…`, the `svix-id`, or Twilio's
    /// `MessageSid:MessageStatus`; `None` where the provider gives nothing stable (Standard
    /// Webhooks from Supabase, database webhooks: hash the body).
    pub dedupe_id: Option<String>,
}

impl std::fmt::Debug for SignedWebhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(k, v)| {
                if k.eq_ignore_ascii_case("authorization") {
                    (k.as_str(), "***")
                } else {
                    (k.as_str(), v.as_str())
                }
            })
            .collect();
        f.debug_struct("SignedWebhook")
            .field("provider", &self.provider)
            .field("headers", &headers)
            .field("body_len", &self.body.len())
            .field("timestamp", &self.timestamp)
            .field("url", &self.url)
            .field("dedupe_id", &self.dedupe_id)
            .finish()
    }
}

impl SignedWebhook {
    /// The first value of header `name` (case-insensitive).
    #[must_use]
    pub fn header(&self, name: &str) -> Option<&str> {
        crate::fake::header_value(&self.headers, name)
    }

    /// The headers as `(&str, &str)` pairs (the shape verifiers take).
    #[must_use]
    pub fn header_pairs(&self) -> Vec<(&str, &str)> {
        self.headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect()
    }

    /// The body as text.
    #[must_use]
    pub fn body_text(&self) -> Option<&str> {
        std::str::from_utf8(&self.body).ok()
    }

    /// `POST` it to `url` (`http://127.0.0.1:PORT/path`) over a plain HTTP/1.1 connection and
    /// return the status code. For Twilio pass [`url`](Self::url), the URL that was signed.
    ///
    /// # Errors
    /// On a malformed URL, connection or I/O errors, or an answer that is not HTTP/1.1.
    pub async fn post(&self, url: &str) -> std::io::Result<u16> {
        crate::raw_post(url, &self.header_pairs(), &self.body).await
    }
}

/// Unix seconds now.
#[must_use]
pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// A fresh Stripe endpoint secret, `whsec_` + 32 characters (generated at run time).
#[must_use]
pub fn stripe_secret() -> String {
    format!("{}{}", "whsec_", random_token(32))
}

/// A fresh Svix (Resend) secret, `whsec_<base64 of 24 random bytes>`.
#[must_use]
pub fn svix_secret() -> String {
    let bytes = random_token(24).into_bytes();
    format!(
        "{}{}",
        "whsec_",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    )
}

/// A fresh Standard Webhooks secret in Supabase's form, `v1,whsec_<base64>`.
#[must_use]
pub fn standard_secret() -> String {
    format!("v1,{}", svix_secret())
}

/// A fresh shared secret for Supabase database webhooks.
#[must_use]
pub fn shared_secret() -> String {
    random_token(40)
}

fn json_id(body: &str) -> Option<String> {
    serde_json::from_str::<serde_json::Value>(body)
        .ok()?
        .get("id")?
        .as_str()
        .map(str::to_owned)
}

/// A Stripe webhook for `body`, signed with `secret` at the current time.
#[must_use]
pub fn stripe(secret: &str, body: &str) -> SignedWebhook {
    stripe_at(secret, body, now())
}

/// A Stripe webhook for `body`, signed with `secret` at `timestamp` (Unix seconds) — use an old
/// timestamp to test the tolerance, a new one for each retry of the same event.
#[must_use]
pub fn stripe_at(secret: &str, body: &str, timestamp: i64) -> SignedWebhook {
    stripe_rotated(&[secret], body, timestamp)
}

/// A Stripe webhook with one `v1` signature per secret (as Stripe sends while a secret rolls).
#[must_use]
pub fn stripe_rotated(secrets: &[&str], body: &str, timestamp: i64) -> SignedWebhook {
    SignedWebhook {
        provider: "stripe",
        headers: vec![
            (
                "content-type".to_owned(),
                "application/json; charset=utf-8".to_owned(),
            ),
            (
                verify::stripe::HEADER.to_owned(),
                verify::stripe::sign_many(secrets, timestamp, body.as_bytes()),
            ),
            (
                "user-agent".to_owned(),
                "Stripe/1.0 (+https://stripe.com/docs/webhooks)".to_owned(),
            ),
        ],
        body: body.as_bytes().to_vec(),
        timestamp,
        url: None,
        dedupe_id: json_id(body),
    }
}

/// A Resend (Svix) webhook for `body`, signed with `secret` (`whsec_…`) now, with a new
/// `msg_…` id.
///
/// # Errors
/// When `secret` is not `whsec_<base64>` (or bare base64).
pub fn resend(secret: &str, body: &str) -> Result<SignedWebhook, VerifyError> {
    let id = format!("msg_{}", random_token(27));
    resend_at(secret, &id, body, now())
}

/// A Resend (Svix) webhook with this `svix-id` and timestamp (reuse the id for a retry).
///
/// # Errors
/// When `secret` is not `whsec_<base64>` (or bare base64).
pub fn resend_at(
    secret: &str,
    id: &str,
    body: &str,
    timestamp: i64,
) -> Result<SignedWebhook, VerifyError> {
    let mut headers =
        verify::standard::headers(HeaderStyle::Svix, secret, id, timestamp, body.as_bytes())?;
    headers.push(("content-type".to_owned(), "application/json".to_owned()));
    headers.push(("user-agent".to_owned(), "Svix-Webhooks/1.24".to_owned()));
    Ok(SignedWebhook {
        provider: "resend",
        headers,
        body: body.as_bytes().to_vec(),
        timestamp,
        url: None,
        dedupe_id: Some(id.to_owned()),
    })
}

/// A Standard Webhooks request (a Supabase auth hook) for `body`, signed with `secret`
/// (`v1,whsec_…` or `whsec_…`) now, with a new UUID-like `webhook-id` (Supabase uses a new one per
/// attempt, so it is not a dedupe key).
///
/// # Errors
/// When `secret` is not in an accepted form.
pub fn standard(secret: &str, body: &str) -> Result<SignedWebhook, VerifyError> {
    let hex: String = crate::server::random_hex(32);
    let id = format!(
        "{}-{}-4{}-a{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[13..16],
        &hex[17..20],
        &hex[20..32]
    );
    standard_at(secret, &id, body, now())
}

/// A Standard Webhooks request with this `webhook-id` and timestamp.
///
/// # Errors
/// When `secret` is not in an accepted form.
pub fn standard_at(
    secret: &str,
    id: &str,
    body: &str,
    timestamp: i64,
) -> Result<SignedWebhook, VerifyError> {
    let mut headers = verify::standard::headers(
        HeaderStyle::Standard,
        secret,
        id,
        timestamp,
        body.as_bytes(),
    )?;
    headers.push(("content-type".to_owned(), "application/json".to_owned()));
    Ok(SignedWebhook {
        provider: "standard",
        headers,
        body: body.as_bytes().to_vec(),
        timestamp,
        url: None,
        dedupe_id: None,
    })
}

/// A Supabase database webhook for `body`, carrying `Authorization: Bearer <shared_secret>`
/// (database webhooks are unsigned).
#[must_use]
pub fn supabase_db(shared_secret: &str, body: &str) -> SignedWebhook {
    SignedWebhook {
        provider: "supabase-db",
        headers: vec![
            ("content-type".to_owned(), "application/json".to_owned()),
            (
                verify::shared::DEFAULT_HEADER.to_owned(),
                verify::shared::header_value(shared_secret),
            ),
            ("user-agent".to_owned(), "pg_net/0.10.0".to_owned()),
        ],
        body: body.as_bytes().to_vec(),
        timestamp: now(),
        url: None,
        dedupe_id: None,
    }
}

fn twilio_dedupe(form: &str) -> Option<String> {
    let mut sid = None;
    let mut status = None;
    for pair in form.split('&') {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        match k {
            "MessageSid" => sid = Some(v.to_owned()),
            "MessageStatus" | "SmsStatus" if status.is_none() => status = Some(v.to_owned()),
            _ => {}
        }
    }
    Some(format!("{}:{}", sid?, status?))
}

/// A Twilio form-encoded webhook (`application/x-www-form-urlencoded` `body`) to `url`, signed
/// with the account's `auth_token` (URL + sorted parameters, HMAC-SHA1).
#[must_use]
pub fn twilio_form(auth_token: &str, url: &str, body: &str) -> SignedWebhook {
    SignedWebhook {
        provider: "twilio",
        headers: vec![
            (
                "content-type".to_owned(),
                "application/x-www-form-urlencoded".to_owned(),
            ),
            (
                verify::twilio::HEADER.to_owned(),
                verify::twilio::sign(auth_token, url, body.as_bytes()),
            ),
            ("i-twilio-idempotency-token".to_owned(), random_token(36)),
            ("user-agent".to_owned(), "TwilioProxy/1.1".to_owned()),
        ],
        body: body.as_bytes().to_vec(),
        timestamp: now(),
        url: Some(url.to_owned()),
        dedupe_id: twilio_dedupe(body),
    }
}

/// A Twilio JSON webhook: `url` gets `bodySHA256=<hex sha256(body)>` appended and only the URL
/// is signed; post to [`SignedWebhook::url`].
#[must_use]
pub fn twilio_json(auth_token: &str, url: &str, body: &str) -> SignedWebhook {
    let signed_url = verify::twilio::url_with_body_hash(url, body.as_bytes());
    SignedWebhook {
        provider: "twilio",
        headers: vec![
            ("content-type".to_owned(), "application/json".to_owned()),
            (
                verify::twilio::HEADER.to_owned(),
                verify::twilio::sign(auth_token, &signed_url, body.as_bytes()),
            ),
            ("user-agent".to_owned(), "TwilioProxy/1.1".to_owned()),
        ],
        body: body.as_bytes().to_vec(),
        timestamp: now(),
        url: Some(signed_url),
        dedupe_id: json_id(body),
    }
}

/// [`fixtures::STRIPE_CHECKOUT_SESSION_COMPLETED`], signed now.
#[must_use]
pub fn stripe_checkout_session_completed(secret: &str) -> SignedWebhook {
    stripe(secret, fixtures::STRIPE_CHECKOUT_SESSION_COMPLETED)
}

/// [`fixtures::STRIPE_PAYMENT_INTENT_PAYMENT_FAILED`], signed now.
#[must_use]
pub fn stripe_payment_intent_payment_failed(secret: &str) -> SignedWebhook {
    stripe(secret, fixtures::STRIPE_PAYMENT_INTENT_PAYMENT_FAILED)
}

/// [`fixtures::RESEND_EMAIL_BOUNCED`], signed now the Svix way.
///
/// # Errors
/// When `secret` is not `whsec_<base64>`.
pub fn resend_email_bounced(secret: &str) -> Result<SignedWebhook, VerifyError> {
    resend(secret, fixtures::RESEND_EMAIL_BOUNCED)
}

/// [`fixtures::SUPABASE_AUTH_HOOK_SEND_SMS`], signed now the Standard Webhooks way.
///
/// # Errors
/// When `secret` is not in an accepted form.
pub fn supabase_auth_hook_send_sms(secret: &str) -> Result<SignedWebhook, VerifyError> {
    standard(secret, fixtures::SUPABASE_AUTH_HOOK_SEND_SMS)
}

/// [`fixtures::SUPABASE_DB_WEBHOOK_INSERT`] with the shared-secret header.
#[must_use]
pub fn supabase_db_webhook_insert(shared_secret: &str) -> SignedWebhook {
    supabase_db(shared_secret, fixtures::SUPABASE_DB_WEBHOOK_INSERT)
}

/// [`fixtures::TWILIO_SMS_STATUS_UNDELIVERED`] to `url`, signed with `auth_token`.
#[must_use]
pub fn twilio_sms_status_undelivered(auth_token: &str, url: &str) -> SignedWebhook {
    twilio_form(auth_token, url, fixtures::TWILIO_SMS_STATUS_UNDELIVERED)
}

/// [`fixtures::TWILIO_SMS_INBOUND`] to `url`, signed with `auth_token`.
#[must_use]
pub fn twilio_sms_inbound(auth_token: &str, url: &str) -> SignedWebhook {
    twilio_form(auth_token, url, fixtures::TWILIO_SMS_INBOUND)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_masks_the_shared_secret() {
        let secret = shared_secret();
        let hook = supabase_db_webhook_insert(&secret);
        let shown = format!("{hook:?}");
        assert!(!shown.contains(&secret));
        assert!(shown.contains("supabase-db"));
    }

    #[test]
    fn twilio_dedupe_uses_sid_and_status() {
        let id = twilio_dedupe(fixtures::TWILIO_SMS_STATUS_UNDELIVERED).unwrap();
        assert!(id.starts_with("SM") && id.ends_with(":undelivered"), "{id}");
        assert_eq!(twilio_dedupe("Body=x"), None);
    }

    #[test]
    fn secrets_have_their_providers_shapes() {
        assert!(stripe_secret().starts_with("whsec_"));
        let svix = svix_secret();
        let key = base64::engine::general_purpose::STANDARD
            .decode(svix.strip_prefix("whsec_").unwrap())
            .unwrap();
        assert_eq!(key.len(), 24);
        assert!(standard_secret().starts_with("v1,whsec_"));
        assert_ne!(shared_secret(), shared_secret());
    }
}
