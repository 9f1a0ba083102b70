//! Sanitised copies for display and analysis, made with `wedsync-redact` and the provider's profile.

use wedsync_redact::{Profile, Redactor};

use crate::provider::Provider;
use crate::store::Header;

/// Makes the sanitised copies stored with deliveries and attempts. Implement it to plug in another
/// redactor; [`RedactSanitizer`] is the default.
pub trait Sanitizer: Send + Sync {
    /// Sanitise request headers.
    fn headers(&self, provider: Provider, headers: &[(String, String)]) -> Vec<Header>;
    /// Sanitise a body (JSON, form or text, judged from `content_type` and the bytes).
    fn body(&self, provider: Provider, content_type: Option<&str>, body: &[u8]) -> String;
}

/// The redact profile for a provider.
pub fn profile(provider: Provider) -> Profile {
    match provider {
        Provider::Stripe => Profile::Stripe,
        Provider::Resend => Profile::Resend,
        Provider::SupabaseAuth | Provider::SupabaseDb => Profile::Supabase,
        Provider::Twilio => Profile::Twilio,
        Provider::Standard => Profile::Generic,
    }
}

/// [`Sanitizer`] backed by one [`Redactor`] per provider profile.
#[derive(Debug, Clone)]
pub struct RedactSanitizer {
    redactors: Vec<(Provider, Redactor)>,
}

impl Default for RedactSanitizer {
    fn default() -> Self {
        RedactSanitizer {
            redactors: Provider::ALL
                .iter()
                .map(|&p| (p, Redactor::for_profile(profile(p))))
                .collect(),
        }
    }
}

impl RedactSanitizer {
    /// One redactor per provider, with the built-in profiles.
    pub fn new() -> Self {
        Self::default()
    }

    fn redactor(&self, p: Provider) -> &Redactor {
        // Every provider has an entry (built from `Provider::ALL`).
        &self
            .redactors
            .iter()
            .find(|(q, _)| *q == p)
            .expect("a redactor per provider")
            .1
    }
}

/// How a body should be parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    /// JSON.
    Json,
    /// `application/x-www-form-urlencoded`.
    Form,
    /// Anything else.
    Text,
}

/// Judge a body's kind from its content type, falling back to its first byte.
pub fn body_kind(content_type: Option<&str>, body: &[u8]) -> BodyKind {
    let ct = content_type.unwrap_or("").to_ascii_lowercase();
    if ct.contains("json") {
        BodyKind::Json
    } else if ct.contains("x-www-form-urlencoded") {
        BodyKind::Form
    } else {
        match body.iter().find(|b| !b.is_ascii_whitespace()) {
            Some(b'{') | Some(b'[') => BodyKind::Json,
            _ if ct.is_empty() && body.contains(&b'=') => BodyKind::Form,
            _ => BodyKind::Text,
        }
    }
}

impl Sanitizer for RedactSanitizer {
    fn headers(&self, provider: Provider, headers: &[(String, String)]) -> Vec<Header> {
        self.redactor(provider)
            .sanitize_headers(headers.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .output
    }

    fn body(&self, provider: Provider, content_type: Option<&str>, body: &[u8]) -> String {
        let r = self.redactor(provider);
        let bytes = match body_kind(content_type, body) {
            BodyKind::Json => r.sanitize_json(body).output,
            BodyKind::Form => r.sanitize_form(body).output,
            BodyKind::Text => {
                return r.sanitize_text(&String::from_utf8_lossy(body)).output;
            }
        };
        match String::from_utf8(bytes) {
            Ok(s) => s,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn otp_and_phone_do_not_survive() {
        let s = RedactSanitizer::new();
        let body = include_bytes!("../tests/fixtures/supabase_auth_hook_send_sms.json");
        let out = s.body(Provider::SupabaseAuth, Some("application/json"), body);
        assert!(!out.contains("561166"), "{out}");
        assert!(!out.contains("447700900123"), "{out}");
        let form = include_bytes!("../tests/fixtures/twilio_sms_inbound.form");
        let out = s.body(
            Provider::Twilio,
            Some("application/x-www-form-urlencoded"),
            form,
        );
        assert!(!out.contains("447700900123"), "{out}");
        assert!(out.contains("SmsStatus=received"), "{out}");
    }
}
