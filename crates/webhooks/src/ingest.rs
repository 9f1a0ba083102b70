//! Receiving: verify → check the body's form → extract → prioritise → sanitise → seal → record
//! (and enqueue).
//!
//! The signature is checked on the raw bytes first: nothing parses the body of a request that did
//! not verify (a rejected request is recorded with its sanitised headers only). [`Receiver::answer`]
//! turns the outcome into what an HTTP endpoint answers (status and JSON body), so an embedder's
//! own hyper or axum handler only copies headers and body in and the answer out:
//!
//! ```
//! use std::sync::Arc;
//! use wedsync_webhooks::crypto::BodyCipher;
//! use wedsync_webhooks::ingest::{HttpRequest, Receiver};
//! use wedsync_webhooks::store::InMemoryStore;
//! use wedsync_webhooks::verify::Verifier;
//! use wedsync_webhooks::Provider;
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let secret = format!("{}{}", "whsec_", "doc_answer"); // fake, assembled at run time
//! let verifier = Verifier::for_provider(Provider::Stripe, [secret], None).unwrap();
//! let receiver = Receiver::new(Arc::new(InMemoryStore::new()), BodyCipher::new("k1", &[7; 32]))
//!     .provider(Provider::Stripe, verifier, false);
//!
//! // in your handler: the `{provider}` path segment, the URI, the headers and the raw body
//! let mut headers = http::HeaderMap::new();
//! headers.insert("stripe-signature", http::HeaderValue::from_static("t=1,v1=00"));
//! let uri: http::Uri = "/webhooks/stripe".parse().unwrap();
//! let req = HttpRequest { provider: "stripe", uri: &uri, headers: &headers, body: b"{}", public_url: None };
//! let answer = receiver.answer_http(&req, time::OffsetDateTime::now_utc()).await;
//! assert_eq!(answer.status(), 401); // then answer `answer.status()` with `answer.body()`
//! assert_eq!(answer.body()["error"]["code"], "invalid_signature");
//! # }
//! ```

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use time::OffsetDateTime;
use uuid::Uuid;

use wedsync_config::ConfigError;

use crate::config::{Secrets, WebhookConfig};
use crate::crypto::{BodyCipher, CryptoError};
use crate::event::{self, EventInfo};
use crate::priority::PriorityRules;
use crate::provider::Provider;
use crate::sanitize::{RedactSanitizer, Sanitizer};
use crate::store::{
    DeliveryStatus, InsertOutcome, NewDelivery, Priority, StoreError, Verdict, WebhookStore,
};
use crate::verify::{HeaderSource as _, Request, Verifier, VerifyError};

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

/// A webhook request in `http` types (what hyper and axum hand a handler).
#[derive(Debug, Clone, Copy)]
pub struct HttpRequest<'a> {
    /// The provider's name, as in the route `POST …/webhooks/{provider}`.
    pub provider: &'a str,
    /// The request URI (its path and query are part of what Twilio signs).
    pub uri: &'a http::Uri,
    /// The request headers.
    pub headers: &'a http::HeaderMap,
    /// The raw body, untouched.
    pub body: &'a [u8],
    /// The public URL of this endpoint, when a proxy in front changes it (see [`called_url`]).
    pub public_url: Option<&'a str>,
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
    /// Extracted facts (for a rejected request only the body-hash dedupe key: its body is not
    /// parsed).
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
    /// The request verified, but its body is not what the provider sends (nothing was recorded).
    #[error(transparent)]
    Malformed(#[from] MalformedBody),
}

/// Why a body is refused before anything is recorded: it is empty (checked before the signature:
/// no parsing), or it verified but is not well-formed JSON (or, sent as a form, not UTF-8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MalformedBody {
    /// No body at all.
    #[error("empty body")]
    Empty,
    /// Not valid JSON.
    #[error("the body is not valid JSON")]
    NotJson,
    /// A form body (`application/x-www-form-urlencoded`) that is not UTF-8.
    #[error("the form body is not UTF-8")]
    FormNotUtf8,
}

/// Checks a verified body's form: a form body must be UTF-8, any other must be JSON.
fn check_form(headers: &[(String, String)], body: &[u8]) -> Result<(), MalformedBody> {
    let is_form = headers
        .header("content-type")
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if is_form {
        std::str::from_utf8(body).map_err(|_| MalformedBody::FormNotUtf8)?;
    } else {
        serde_json::from_slice::<serde::de::IgnoredAny>(body)
            .map_err(|_| MalformedBody::NotJson)?;
    }
    Ok(())
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

    /// A receiver for the configured `[webhooks.<provider>]` tables: each provider verified with
    /// the secrets its `secret_env` names (read through `secrets`), and forwarded when its table
    /// names a `forward_to`. An error names the table's key (`webhooks.stripe.secret_env`).
    pub fn configured(
        store: Arc<dyn WebhookStore>,
        cipher: BodyCipher,
        tables: &BTreeMap<Provider, WebhookConfig>,
        secrets: Secrets<'_>,
    ) -> Result<Self, ConfigError> {
        tables
            .iter()
            .try_fold(Self::new(store, cipher), |r, (&provider, w)| {
                let verifier = w
                    .verifier(provider, secrets)
                    .map_err(|e| e.under(&format!("webhooks.{provider}")))?;
                Ok(r.provider(provider, verifier, w.forward_to.is_some()))
            })
    }

    /// The store deliveries are recorded in.
    pub fn store(&self) -> &Arc<dyn WebhookStore> {
        &self.store
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
    /// dedupe key, keep no raw body and no sanitised body (their body is never parsed), and are
    /// never forwarded.
    pub fn record_rejected(mut self, on: bool) -> Self {
        self.record_rejected = on;
        self
    }

    /// Receive one webhook at `now`: an empty body is refused, then the signature is checked on
    /// the raw bytes. A request that does not verify is recorded as rejected (unless
    /// [`record_rejected`](Self::record_rejected) is off) without its body ever being parsed: its
    /// dedupe key is the body hash, no event facts, no sanitised body, no raw body. A verified body
    /// must be well-formed ([`MalformedBody`]; nothing is recorded otherwise) before it is
    /// extracted, prioritised, sanitised, sealed and recorded.
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
        if incoming.body.is_empty() {
            return Err(MalformedBody::Empty.into());
        }
        let headers = incoming.headers;
        let verdict = verifier.verify(
            &Request {
                headers: &headers,
                body: incoming.body,
                url: incoming.url,
            },
            now,
        );
        match verdict {
            Ok(()) => {
                check_form(headers, incoming.body)?;
                self.record_verified(incoming, now).await
            }
            Err(e) => self.record_rejection(incoming, e, now).await,
        }
    }

    /// Records a verified, well-formed webhook.
    async fn record_verified(
        &self,
        incoming: &Incoming<'_>,
        now: OffsetDateTime,
    ) -> Result<Receipt, ReceiveError> {
        let (provider, headers) = (incoming.provider, incoming.headers);
        let event = event::extract(provider, &headers, incoming.body);
        let priority = self.rules.classify(provider, &event, now);
        let id = Uuid::new_v4();
        let content_type = headers.header("content-type").map(str::to_owned);
        let forward = self.forwarded.contains(&provider);
        let new = NewDelivery {
            id,
            provider,
            event_id: event.event_id.clone(),
            dedupe_key: event.dedupe_key.clone(),
            event_type: event.event_type.clone(),
            received_at: now,
            verdict: Verdict::Verified,
            verdict_reason: None,
            sanitized_headers: self.sanitizer.headers(provider, headers),
            sanitized_body: self
                .sanitizer
                .body(provider, content_type.as_deref(), incoming.body),
            content_type,
            raw_body: Some(self.cipher.seal(id, incoming.body)?),
            raw_body_expires_at: Some(now + self.retention),
            priority,
            next_attempt_at: forward.then_some(now),
        };
        self.insert(new, None, event).await
    }

    /// Records (or, with `record_rejected(false)`, only reports) a request that did not verify,
    /// without parsing its body.
    async fn record_rejection(
        &self,
        incoming: &Incoming<'_>,
        rejection: VerifyError,
        now: OffsetDateTime,
    ) -> Result<Receipt, ReceiveError> {
        let (provider, headers) = (incoming.provider, incoming.headers);
        let id = Uuid::new_v4();
        let event = EventInfo {
            dedupe_key: event::body_hash_key(incoming.body),
            ..EventInfo::default()
        };
        if !self.record_rejected {
            return Ok(Receipt {
                id,
                status: DeliveryStatus::Rejected,
                duplicate_of: None,
                rejection: Some(rejection),
                priority: Priority::Normal,
                event,
            });
        }
        let new = NewDelivery {
            id,
            provider,
            event_id: None,
            dedupe_key: event.dedupe_key.clone(),
            event_type: None,
            received_at: now,
            verdict: Verdict::Rejected,
            verdict_reason: Some(rejection.kind().to_owned()),
            sanitized_headers: self.sanitizer.headers(provider, headers),
            sanitized_body: String::new(),
            content_type: headers.header("content-type").map(str::to_owned),
            raw_body: None,
            raw_body_expires_at: Some(now + self.retention),
            priority: Priority::Normal,
            next_attempt_at: None,
        };
        self.insert(new, Some(rejection), event).await
    }

    async fn insert(
        &self,
        new: NewDelivery,
        rejection: Option<VerifyError>,
        event: EventInfo,
    ) -> Result<Receipt, ReceiveError> {
        let (id, priority) = (new.id, new.priority);
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

    /// Receive one webhook at `now` and decide what the endpoint answers (see [`Answer`]).
    pub async fn answer(&self, incoming: &Incoming<'_>, now: OffsetDateTime) -> Answer {
        Answer::from(self.receive(incoming, now).await)
    }

    /// [`answer`](Self::answer) for a request as hyper, axum or any `http`-based server hands it
    /// over: the provider named by the path segment (an unknown name is
    /// [`NotConfigured`](Answer::NotConfigured)), the URL it called rebuilt with [`called_url`].
    pub async fn answer_http(&self, req: &HttpRequest<'_>, now: OffsetDateTime) -> Answer {
        let Ok(provider) = req.provider.parse::<Provider>() else {
            return Answer::NotConfigured;
        };
        let headers: Vec<(String, String)> = req
            .headers
            .iter()
            .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
            .collect();
        let host = req.headers.header("host");
        let path_q = req
            .uri
            .path_and_query()
            .map_or(req.uri.path(), |pq| pq.as_str());
        let url = called_url(req.public_url, host, path_q);
        let incoming = Incoming {
            provider,
            headers: &headers,
            body: req.body,
            url: url.as_deref(),
        };
        self.answer(&incoming, now).await
    }

    /// Delete raw bodies past their retention (run periodically, e.g. hourly).
    pub async fn purge_expired(&self, now: OffsetDateTime) -> Result<u64, StoreError> {
        self.store.purge_raw_bodies(now).await
    }
}

/// What a webhook endpoint answers, decided by [`Receiver::answer`] from the outcome of
/// [`Receiver::receive`]. Every answer but [`Recorded`](Answer::Recorded) is a
/// [`Refusal`]: `{"error":{"code","message"}}` with its status. Only a recorded delivery is
/// acknowledged (2xx): durable before the sender is told so.
#[derive(Debug)]
#[non_exhaustive]
pub enum Answer {
    /// Recorded (accepted or a duplicate): `200 {"id","status","duplicate_of"}`.
    Recorded(Receipt),
    /// The signature did not verify (recorded as rejected): 401 `invalid_signature`.
    Rejected(Receipt),
    /// The body is empty, or verified but not well-formed: 400 `bad_request`.
    Malformed(MalformedBody),
    /// No provider of that name is configured: 404 `not_found`.
    NotConfigured,
    /// The store failed: 503 `unavailable`, retry after 5 s (log the error).
    StoreUnavailable(StoreError),
    /// Not recorded within the provider's [`answer_budget`](Provider::answer_budget): 503
    /// `unavailable`, retry after 1 s.
    OverBudget,
    /// Our own failure (the body could not be sealed): a bare 500; log the error, never show it.
    Failed(ReceiveError),
}

/// A refusal as the sender sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// HTTP status.
    pub status: u16,
    /// Stable machine-readable code (`invalid_signature`, `bad_request`, `not_found`,
    /// `unavailable`).
    pub code: &'static str,
    /// What is wrong (never a secret, a signature or the body).
    pub message: String,
    /// Seconds for a `Retry-After` header.
    pub retry_after: Option<u64>,
}

impl Refusal {
    /// 503 `unavailable`, retry after 5 s: the store failed (log its error).
    pub fn store_unavailable() -> Self {
        Refusal {
            status: 503,
            code: "unavailable",
            message: "the webhook store is unavailable; retry later".to_owned(),
            retry_after: Some(5),
        }
    }
}

impl From<Result<Receipt, ReceiveError>> for Answer {
    fn from(r: Result<Receipt, ReceiveError>) -> Self {
        match r {
            Ok(receipt) if receipt.rejection.is_some() => Answer::Rejected(receipt),
            Ok(receipt) => Answer::Recorded(receipt),
            Err(ReceiveError::Malformed(m)) => Answer::Malformed(m),
            Err(ReceiveError::NotConfigured(_)) => Answer::NotConfigured,
            Err(ReceiveError::Store(e)) => Answer::StoreUnavailable(e),
            Err(e) => Answer::Failed(e),
        }
    }
}

impl Answer {
    /// The refusal, for every answer but a recorded delivery and our own failure.
    pub fn refusal(&self) -> Option<Refusal> {
        let (status, code, message, retry_after) = match self {
            Answer::Recorded(_) | Answer::Failed(_) => return None,
            Answer::Rejected(r) => (
                401,
                "invalid_signature",
                format!(
                    "signature verification failed: {}",
                    r.rejection
                        .as_ref()
                        .map(ToString::to_string)
                        .unwrap_or_default()
                ),
                None,
            ),
            Answer::Malformed(m) => (400, "bad_request", m.to_string(), None),
            Answer::NotConfigured => (
                404,
                "not_found",
                "no webhook provider of that name is configured".to_owned(),
                None,
            ),
            Answer::StoreUnavailable(_) => return Some(Refusal::store_unavailable()),
            Answer::OverBudget => (
                503,
                "unavailable",
                "could not record the hook within its time budget".to_owned(),
                Some(1),
            ),
        };
        Some(Refusal {
            status,
            code,
            message,
            retry_after,
        })
    }

    /// The HTTP status.
    pub fn status(&self) -> u16 {
        match self {
            Answer::Recorded(_) => 200,
            Answer::Failed(_) => 500,
            other => other.refusal().map_or(500, |r| r.status),
        }
    }

    /// The JSON body (for a [`Failed`](Answer::Failed) answer, a generic error without detail).
    pub fn body(&self) -> serde_json::Value {
        match (self, self.refusal()) {
            (Answer::Recorded(r), _) => serde_json::json!({
                "id": r.id,
                "status": r.status.as_str(),
                "duplicate_of": r.duplicate_of,
            }),
            (_, Some(r)) => serde_json::json!({"error": {"code": r.code, "message": r.message}}),
            (_, None) => {
                serde_json::json!({"error": {"code": "internal", "message": "internal error"}})
            }
        }
    }

    /// The outcome as a metrics label: `accepted`, `duplicate`, `rejected`, `malformed` or
    /// `store_error`; `None` for requests to no configured provider and for our own failures.
    pub fn result(&self) -> Option<&'static str> {
        match self {
            Answer::Recorded(r) if r.status == DeliveryStatus::Duplicate => Some("duplicate"),
            Answer::Recorded(_) => Some("accepted"),
            Answer::Rejected(_) => Some("rejected"),
            Answer::Malformed(_) => Some("malformed"),
            Answer::StoreUnavailable(_) | Answer::OverBudget => Some("store_error"),
            Answer::NotConfigured | Answer::Failed(_) => None,
        }
    }
}

/// The URL a provider called, as its signature covers it (Twilio): `public_url` (the configured
/// public address of this endpoint, behind a proxy) with the request's query, else rebuilt as
/// `http://{host}{path_and_query}`; `None` without either.
pub fn called_url(
    public_url: Option<&str>,
    host: Option<&str>,
    path_and_query: &str,
) -> Option<String> {
    if let Some(public) = public_url {
        let query = path_and_query
            .split_once('?')
            .map(|(_, q)| format!("?{q}"))
            .unwrap_or_default();
        return Some(format!("{}{query}", public.trim_end_matches('/')));
    }
    Some(format!("http://{}{path_and_query}", host?))
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

    #[test]
    fn configured_verifies_each_table_and_names_a_missing_secret() {
        let table = WebhookConfig {
            secret_env: "S".into(),
            forward_to: Some("http://127.0.0.1:1/h".into()),
            handler_secret_env: None,
            public_url: None,
        };
        let tables = BTreeMap::from([(Provider::Stripe, table)]);
        let cipher = || BodyCipher::new("k", &[7; 32]);
        let store = || Arc::new(InMemoryStore::new());
        let none = |_: &str| None;
        let err = Receiver::configured(store(), cipher(), &tables, &none).unwrap_err();
        assert_eq!(err.key(), "webhooks.stripe.secret_env");
        let some = |_: &str| Some(crate::Secret::from(secret()));
        let r = Receiver::configured(store(), cipher(), &tables, &some).unwrap();
        assert!(format!("{r:?}").contains("forwarded: [Stripe]"), "{r:?}");
    }

    /// A delivery from `provider` of `body` with `headers`, as the HTTP layer hands it over.
    fn delivery<'a>(
        provider: Provider,
        headers: &'a [(String, String)],
        body: &'a [u8],
    ) -> Incoming<'a> {
        Incoming {
            provider,
            headers,
            body,
            url: None,
        }
    }

    #[tokio::test]
    async fn unconfigured_rejected_and_recorded_only() {
        let store = Arc::new(InMemoryStore::new());
        let r = receiver(store.clone()).retention(Duration::from_secs(60));
        assert!(format!("{r:?}").contains("Stripe"));
        let none: Vec<(String, String)> = Vec::new();
        let twilio = delivery(Provider::Twilio, &none, b"");
        assert!(matches!(
            r.receive(&twilio, at(1000)).await,
            Err(ReceiveError::NotConfigured(Provider::Twilio))
        ));

        // Verified but not forwarded: recorded as received, raw body sealed until the retention.
        let headers = vec![(
            "Stripe-Signature".to_owned(),
            stripe::sign(&secret(), 1000, BODY),
        )];
        let ok = delivery(Provider::Stripe, &headers, BODY);
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

    /// Counts the bodies handed to the sanitiser (which parses them).
    #[derive(Default)]
    struct CountingSanitizer(std::sync::atomic::AtomicUsize);

    impl Sanitizer for CountingSanitizer {
        fn headers(&self, _: Provider, headers: &[(String, String)]) -> Vec<(String, String)> {
            headers.to_vec()
        }
        fn body(&self, _: Provider, _: Option<&str>, body: &[u8]) -> String {
            self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            String::from_utf8_lossy(body).into_owned()
        }
    }

    fn signed(body: &[u8]) -> Vec<(String, String)> {
        vec![(
            "Stripe-Signature".to_owned(),
            stripe::sign(&secret(), 1000, body),
        )]
    }

    /// The signature is checked before anything parses the body: a body that is not JSON answers
    /// the signature error when unsigned or badly signed (and is recorded without its body), and
    /// the JSON error only once its signature verifies.
    #[tokio::test]
    async fn the_signature_is_checked_before_the_body_is_parsed() {
        let store = Arc::new(InMemoryStore::new());
        let parsed = Arc::new(CountingSanitizer::default());
        let r = receiver(store.clone()).sanitizer(parsed.clone());
        let not_json: &[u8] = b"{not json";
        let bad = vec![("Stripe-Signature".to_owned(), "t=1000,v1=00".to_owned())];
        let none: Vec<(String, String)> = Vec::new();
        for headers in [&bad, &none] {
            let incoming = delivery(Provider::Stripe, headers, not_json);
            let answer = r.answer(&incoming, at(1000)).await;
            assert_eq!(answer.status(), 401, "{answer:?}");
            assert_eq!(answer.body()["error"]["code"], "invalid_signature");
            assert_eq!(answer.result(), Some("rejected"));
            let Answer::Rejected(receipt) = answer else {
                unreachable!()
            };
            let d = store.get_delivery(receipt.id).await.unwrap().unwrap();
            assert_eq!(
                d.sanitized_body, "",
                "an unverified body is not kept, even sanitised"
            );
            assert_eq!(d.event_type, None);
        }
        // a forged copy of a genuine event reveals nothing of it either
        let forged = delivery(Provider::Stripe, &bad, BODY);
        let receipt = r.receive(&forged, at(1000)).await.unwrap();
        assert_eq!(
            (receipt.event.event_id, receipt.event.event_type),
            (None, None)
        );
        assert_eq!(parsed.0.load(std::sync::atomic::Ordering::SeqCst), 0);

        // signed: now the form is checked, and nothing is recorded
        let headers = signed(not_json);
        let incoming = delivery(Provider::Stripe, &headers, not_json);
        let answer = r.answer(&incoming, at(1000)).await;
        assert_eq!(answer.status(), 400);
        assert_eq!(
            answer.body()["error"]["message"],
            "the body is not valid JSON"
        );
        assert_eq!(answer.result(), Some("malformed"));
        assert_eq!(parsed.0.load(std::sync::atomic::Ordering::SeqCst), 0);
        assert_eq!(store.queue_depth().await.unwrap(), 0);

        // a signed form body must be UTF-8; an empty body is refused before anything else
        let latin1: &[u8] = b"Body=caf\xe9";
        let mut headers = signed(latin1);
        headers.push((
            "content-type".to_owned(),
            "application/x-www-form-urlencoded".to_owned(),
        ));
        let form = Incoming {
            body: latin1,
            headers: &headers,
            ..incoming.clone()
        };
        assert!(matches!(
            r.answer(&form, at(1000)).await,
            Answer::Malformed(MalformedBody::FormNotUtf8)
        ));
        let empty = Incoming {
            body: b"",
            ..incoming.clone()
        };
        let answer = r.answer(&empty, at(1000)).await;
        assert_eq!(
            (answer.status(), answer.body()["error"]["message"].as_str()),
            (400, Some("empty body"))
        );

        // signed and well-formed: recorded, and only now sanitised
        let headers = signed(BODY);
        let ok = Incoming {
            body: BODY,
            headers: &headers,
            ..incoming
        };
        let answer = r.answer(&ok, at(1000)).await;
        assert_eq!((answer.status(), answer.result()), (200, Some("accepted")));
        assert_eq!(answer.body()["status"], "received");
        assert_eq!(parsed.0.load(std::sync::atomic::Ordering::SeqCst), 1);
        let again = r.answer(&ok, at(1000)).await;
        assert_eq!(again.result(), Some("duplicate"));
        let Answer::Recorded(first) = answer else {
            unreachable!()
        };
        assert_eq!(again.body()["duplicate_of"], first.id.to_string());
    }

    #[tokio::test]
    async fn answers_for_unconfigured_providers_and_budgets() {
        let r = receiver(Arc::new(InMemoryStore::new()));
        let none: Vec<(String, String)> = Vec::new();
        let twilio = delivery(Provider::Twilio, &none, b"{}");
        let answer = r.answer(&twilio, at(1)).await;
        assert_eq!((answer.status(), answer.result()), (404, None));
        assert_eq!(answer.body()["error"]["code"], "not_found");
        let late = Answer::OverBudget.refusal().unwrap();
        assert_eq!((late.status, late.retry_after), (503, Some(1)));
        assert_eq!(
            Provider::SupabaseAuth.answer_budget(),
            Some(Duration::from_secs(4))
        );
        assert_eq!(Provider::Stripe.answer_budget(), None);
    }

    #[test]
    fn the_called_url_is_the_public_one_or_rebuilt_from_the_host() {
        assert_eq!(
            called_url(
                Some("https://hooks.example/webhooks/twilio/"),
                Some("in"),
                "/webhooks/twilio?a=1"
            )
            .as_deref(),
            Some("https://hooks.example/webhooks/twilio?a=1")
        );
        assert_eq!(
            called_url(None, Some("h:8080"), "/webhooks/twilio").as_deref(),
            Some("http://h:8080/webhooks/twilio")
        );
        assert_eq!(called_url(None, None, "/x"), None);
    }

    #[tokio::test]
    async fn http_requests_are_answered_from_their_parts() {
        let r = receiver(Arc::new(InMemoryStore::new()));
        let mut headers = http::HeaderMap::new();
        let sig = stripe::sign(&secret(), 1000, BODY);
        headers.insert("stripe-signature", sig.parse().unwrap());
        let uri: http::Uri = "/webhooks/stripe?x=1".parse().unwrap();
        let req = HttpRequest {
            provider: "stripe",
            uri: &uri,
            headers: &headers,
            body: BODY,
            public_url: None,
        };
        assert_eq!(r.answer_http(&req, at(1000)).await.status(), 200);
        for provider in ["paypal", "standard", "Stripe"] {
            let other = HttpRequest { provider, ..req };
            let answer = r.answer_http(&other, at(1000)).await;
            assert_eq!(answer.status(), 404, "{provider}");
        }
    }
}
