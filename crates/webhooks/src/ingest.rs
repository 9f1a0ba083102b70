//! Receiving: verify → extract → prioritise → sanitise → seal → record (and enqueue).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use time::OffsetDateTime;
use uuid::Uuid;

use crate::crypto::{BodyCipher, CryptoError};
use crate::event::{self, EventInfo};
use crate::priority::PriorityRules;
use crate::provider::Provider;
use crate::sanitize::{RedactSanitizer, Sanitizer};
use crate::store::{
    DeliveryStatus, InsertOutcome, NewDelivery, Priority, StoreError, Verdict, WebhookStore,
};
use crate::verify::{Request, Verifier, VerifyError};

/// Default retention of raw bodies.
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(7 * 86_400);

/// A webhook as it arrived.
#[derive(Debug, Clone)]
pub struct Incoming<'a> {
    /// Which provider's endpoint received it.
    pub provider: Provider,
    /// All request headers.
    pub headers: &'a [(String, String)],
    /// The raw body, untouched.
    pub body: &'a [u8],
    /// The full URL as the provider called it (needed for Twilio; see
    /// [`TwilioVerifier::public_url`](crate::verify::TwilioVerifier::public_url)).
    pub url: Option<&'a str>,
}

/// What happened to a received webhook.
#[derive(Debug, Clone, PartialEq)]
pub struct Receipt {
    /// The stored delivery's id.
    pub id: Uuid,
    /// Its status (`pending`, `received`, `duplicate` or `rejected`).
    pub status: DeliveryStatus,
    /// For duplicates: the original.
    pub duplicate_of: Option<Uuid>,
    /// The verification error, for rejected deliveries. Answer the provider 400/401 then.
    pub rejection: Option<VerifyError>,
    /// Priority given.
    pub priority: Priority,
    /// Extracted facts.
    pub event: EventInfo,
}

impl Receipt {
    /// Whether the sender should be told it succeeded (2xx): everything but a rejection.
    /// Duplicates are acknowledged so the provider stops retrying.
    pub fn accepted(&self) -> bool {
        self.rejection.is_none()
    }
}

/// Errors receiving a webhook (verification failures are not errors: they are recorded).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReceiveError {
    /// No verifier is configured for the provider.
    #[error("no verifier configured for provider `{0}`")]
    NotConfigured(Provider),
    /// The raw body could not be sealed.
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// One shared default sanitiser: building the redactors is not free.
fn default_sanitizer() -> Arc<dyn Sanitizer> {
    static DEFAULT: std::sync::OnceLock<Arc<RedactSanitizer>> = std::sync::OnceLock::new();
    DEFAULT
        .get_or_init(|| Arc::new(RedactSanitizer::new()))
        .clone()
}

/// Receives webhooks into a [`WebhookStore`].
pub struct Receiver {
    store: Arc<dyn WebhookStore>,
    verifiers: HashMap<Provider, Verifier>,
    forwarded: Vec<Provider>,
    sanitizer: Arc<dyn Sanitizer>,
    cipher: BodyCipher,
    rules: PriorityRules,
    retention: Duration,
    record_rejected: bool,
}

impl std::fmt::Debug for Receiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Receiver")
            .field("providers", &self.verifiers.keys().collect::<Vec<_>>())
            .field("forwarded", &self.forwarded)
            .field("retention", &self.retention)
            .finish_non_exhaustive()
    }
}

impl Receiver {
    /// A receiver with no providers yet, sealing raw bodies with `cipher`; default priority rules,
    /// 7-day retention, [`RedactSanitizer`], rejected requests recorded.
    pub fn new(store: Arc<dyn WebhookStore>, cipher: BodyCipher) -> Self {
        Receiver {
            store,
            verifiers: HashMap::new(),
            forwarded: Vec::new(),
            sanitizer: default_sanitizer(),
            cipher,
            rules: PriorityRules::default(),
            retention: DEFAULT_RETENTION,
            record_rejected: true,
        }
    }

    /// Accept `provider`'s webhooks, verified by `verifier`. With `forward`, verified deliveries
    /// are enqueued for the provider's handler; without, they are recorded only.
    pub fn provider(mut self, provider: Provider, verifier: Verifier, forward: bool) -> Self {
        self.verifiers.insert(provider, verifier);
        self.forwarded.retain(|p| *p != provider);
        if forward {
            self.forwarded.push(provider);
        }
        self
    }

    /// Replace the priority rules.
    pub fn priority_rules(mut self, rules: PriorityRules) -> Self {
        self.rules = rules;
        self
    }

    /// How long raw bodies are kept.
    pub fn retention(mut self, retention: Duration) -> Self {
        self.retention = retention;
        self
    }

    /// Replace the sanitiser.
    pub fn sanitizer(mut self, sanitizer: Arc<dyn Sanitizer>) -> Self {
        self.sanitizer = sanitizer;
        self
    }

    /// Whether requests failing verification are recorded (default `true`). They never reserve a
    /// dedupe key, keep no raw body and are never forwarded.
    pub fn record_rejected(mut self, on: bool) -> Self {
        self.record_rejected = on;
        self
    }

    /// Receive one webhook at `now`.
    pub async fn receive(
        &self,
        incoming: &Incoming<'_>,
        now: OffsetDateTime,
    ) -> Result<Receipt, ReceiveError> {
        let provider = incoming.provider;
        let verifier = self
            .verifiers
            .get(&provider)
            .ok_or(ReceiveError::NotConfigured(provider))?;
        let headers = incoming.headers;
        let verdict = verifier.verify(
            &Request {
                headers: &headers,
                body: incoming.body,
                url: incoming.url,
            },
            now,
        );
        let event = event::extract(provider, &headers, incoming.body);
        let id = Uuid::new_v4();
        let content_type =
            crate::verify::HeaderSource::header(&headers, "content-type").map(str::to_owned);
        let (priority, rejection) = match verdict {
            Ok(()) => (self.rules.classify(provider, &event, now), None),
            Err(e) => (Priority::Normal, Some(e)),
        };
        if rejection.is_some() && !self.record_rejected {
            return Ok(Receipt {
                id,
                status: DeliveryStatus::Rejected,
                duplicate_of: None,
                rejection,
                priority,
                event,
            });
        }
        let raw_body = if rejection.is_none() {
            Some(self.cipher.seal(id, incoming.body)?)
        } else {
            None
        };
        let forward = rejection.is_none() && self.forwarded.contains(&provider);
        let new = NewDelivery {
            id,
            provider,
            event_id: event.event_id.clone(),
            dedupe_key: event.dedupe_key.clone(),
            event_type: event.event_type.clone(),
            received_at: now,
            verdict: if rejection.is_none() {
                Verdict::Verified
            } else {
                Verdict::Rejected
            },
            verdict_reason: rejection.as_ref().map(|e| e.kind().to_owned()),
            sanitized_headers: self.sanitizer.headers(provider, headers),
            sanitized_body: self
                .sanitizer
                .body(provider, content_type.as_deref(), incoming.body),
            content_type,
            raw_body,
            raw_body_expires_at: Some(now + self.retention),
            priority,
            next_attempt_at: forward.then_some(now),
        };
        let (status, duplicate_of) = match self.store.insert_delivery(new).await? {
            InsertOutcome::Inserted { status, .. } => (status, None),
            InsertOutcome::Duplicate { original, .. } => {
                (DeliveryStatus::Duplicate, Some(original))
            }
        };
        Ok(Receipt {
            id,
            status,
            duplicate_of,
            rejection,
            priority,
            event,
        })
    }

    /// Delete raw bodies past their retention (run periodically, e.g. hourly).
    pub async fn purge_expired(&self, now: OffsetDateTime) -> Result<u64, StoreError> {
        self.store.purge_raw_bodies(now).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::InMemoryStore;
    use crate::verify::{stripe, StripeVerifier};

    fn secret() -> String {
        format!("{}{}", "whsec_", "ingest_unit")
    }

    fn receiver(store: Arc<InMemoryStore>) -> Receiver {
        let s = secret();
        Receiver::new(store, BodyCipher::new("k", &BodyCipher::generate_key())).provider(
            Provider::Stripe,
            Verifier::Stripe(StripeVerifier::new([s.as_str()])),
            false,
        )
    }

    fn at(t: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(t).unwrap()
    }

    const BODY: &[u8] = br#"{"id":"evt_unit","type":"invoice.paid","data":{"object":{}}}"#;

    #[tokio::test]
    async fn unconfigured_rejected_and_recorded_only() {
        let store = Arc::new(InMemoryStore::new());
        let r = receiver(store.clone()).retention(Duration::from_secs(60));
        assert!(format!("{r:?}").contains("Stripe"));
        let none: Vec<(String, String)> = Vec::new();
        let twilio = Incoming {
            provider: Provider::Twilio,
            headers: &none,
            body: b"",
            url: None,
        };
        assert!(matches!(
            r.receive(&twilio, at(1000)).await,
            Err(ReceiveError::NotConfigured(Provider::Twilio))
        ));

        // Verified but not forwarded: recorded as received, raw body sealed until the retention.
        let headers = vec![(
            "Stripe-Signature".to_owned(),
            stripe::sign(&secret(), 1000, BODY),
        )];
        let ok = Incoming {
            provider: Provider::Stripe,
            headers: &headers,
            body: BODY,
            url: None,
        };
        let receipt = r.receive(&ok, at(1000)).await.unwrap();
        assert!(receipt.accepted());
        assert_eq!(receipt.status, DeliveryStatus::Received);
        let d = store.get_delivery(receipt.id).await.unwrap().unwrap();
        assert!(d.raw_body.is_some());
        assert_eq!(d.raw_body_expires_at, Some(at(1060)));

        // A bad signature is recorded (no raw body, never a dedupe reservation) ...
        let bad = vec![("Stripe-Signature".to_owned(), "t=1000,v1=00".to_owned())];
        let tampered = Incoming {
            headers: &bad,
            ..ok.clone()
        };
        let receipt = r.receive(&tampered, at(1000)).await.unwrap();
        assert!(!receipt.accepted());
        assert_eq!(receipt.status, DeliveryStatus::Rejected);
        let d = store.get_delivery(receipt.id).await.unwrap().unwrap();
        assert!(d.raw_body.is_none());
        assert_eq!(d.verdict_reason.as_deref(), Some("no_matching_signature"));

        // ... or, with `record_rejected(false)`, not stored at all.
        let quiet = receiver(store.clone()).record_rejected(false);
        let receipt = quiet.receive(&tampered, at(1000)).await.unwrap();
        assert_eq!(receipt.status, DeliveryStatus::Rejected);
        assert!(store.get_delivery(receipt.id).await.unwrap().is_none());
    }
}
