//! Verify, record, forward, retry and replay the webhooks Stripe, Resend, Supabase and Twilio send.
//!
//! # Example
//!
//! ```
//! use std::sync::Arc;
//! use wedsync_webhooks::crypto::BodyCipher;
//! use wedsync_webhooks::ingest::{Incoming, Receiver};
//! use wedsync_webhooks::store::{DeliveryStatus, InMemoryStore, Priority, WebhookStore};
//! use wedsync_webhooks::verify::{stripe, StripeVerifier, Verifier};
//! use wedsync_webhooks::Provider;
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let secret = format!("{}{}", "whsec_", "doc_example"); // fake, assembled at run time
//! let store = Arc::new(InMemoryStore::new());
//! let receiver = Receiver::new(store.clone(), BodyCipher::new("k1", &BodyCipher::generate_key()))
//!     .provider(Provider::Stripe, Verifier::Stripe(StripeVerifier::new([secret.as_str()])), true);
//!
//! let body = br#"{"id":"evt_1","type":"invoice.payment_failed","data":{"object":{}}}"#;
//! let now = time::OffsetDateTime::now_utc();
//! let headers = vec![(
//!     "Stripe-Signature".to_owned(),
//!     stripe::sign(&secret, now.unix_timestamp(), body),
//! )];
//! let incoming = Incoming { provider: Provider::Stripe, headers: &headers, body, url: None };
//!
//! let first = receiver.receive(&incoming, now).await.unwrap();
//! assert_eq!(first.status, DeliveryStatus::Pending); // verified and queued for the handler
//! assert_eq!(first.priority, Priority::Critical); // a failed payment is wedding-critical
//! let again = receiver.receive(&incoming, now).await.unwrap();
//! assert_eq!(again.status, DeliveryStatus::Duplicate); // same evt_ id: never forwarded twice
//! assert_eq!(again.duplicate_of, Some(first.id));
//!
//! let stored = store.get_delivery(first.id).await.unwrap().unwrap();
//! assert!(stored.raw_body.is_some()); // sealed with XChaCha20-Poly1305, kept 7 days
//! # }
//! ```
//!
//! # Details
//!
//! - [`verify`]: verifiers (several secrets each, constant-time, typed errors that never echo a
//!   secret) and signers for Stripe, Svix/Resend, Standard Webhooks/Supabase auth hooks, Supabase
//!   database webhooks (shared secret) and Twilio (form and JSON).
//! - [`ingest`]: [`ingest::Receiver`] verifies (first, on the raw bytes), checks the body's form,
//!   extracts ([`event`]), prioritises ([`priority`]), sanitises ([`sanitize`], with
//!   `wedsync-redact`), seals ([`crypto`]) and records; [`ingest::Receiver::answer_http`] turns that
//!   into what an HTTP endpoint answers, for your own hyper or axum handler.
//! - [`config`]: the `wedsync-monitor` configuration sections this crate owns —
//!   `[webhooks.<provider>]`, `[worker]` and `[ingress]` (with the key settings the ring is built
//!   from) — on `wedsync-config`'s building blocks.
//! - [`keys`]: where raw-body keys come from ([`keys::KeySettings`], [`keys::KeyHome`]), key files,
//!   and checking or re-sealing stored bodies after a rotation.
//! - [`store`]: the [`store::WebhookStore`] trait — deliveries, attempts, a leased work queue safe
//!   across processes, replay jobs — with [`store::InMemoryStore`] and a conformance suite.
//! - [`delivery`]: the [`delivery::Worker`] forwards to per-provider handlers through a
//!   `wedsync-breaker` breaker, signs the Standard Webhooks way, records attempts, applies
//!   [`retry`] and emits [`delivery::DeliveryFailed`]; [`delivery::handler_breaker_config`] is the
//!   handler breakers' default.
//! - [`replay`] (single and bulk) and [`analysis`] (statistics, failure groups, attention list,
//!   serialisable reports).
//! - `api` (feature `api`): the webhook HTTP API as values — `POST /webhooks/{provider}` within
//!   the provider's answer budget (`Receiver::answer_http_in_time`), counted and logged; the admin
//!   reliability report, failure groups, replay jobs and replays (bulk runs spawned on tokio); the
//!   queue-depth gauge — each a serialisable value or an `ApiRefusal` carrying the
//!   [`ingest::Refusal`]. `wedsync-monitor` maps them to its responses.
//!
//! See `docs/webhooks.md` for the design, the queue semantics and the GDPR reasoning behind raw-body
//! encryption and retention.
//!
//! # Guarantees
//!
//! - Signatures are checked on the raw bytes before anything parses the body.
//! - Only verified deliveries reserve a dedupe key; duplicates and rejected requests are never
//!   forwarded and keep no raw body.
//! - One attempt number is held by at most one worker; a report from a superseded claim is refused.
//!
//! # Feature flags
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `api` | no | `api`: the webhook HTTP API as values (ingress within the answer budget, admin reports, replays with bulk runs on tokio, `Counters`) |
//! | `forward` | no | `api`, and `forward`: HTTP transport over reqwest (rustls), the tokio worker loop and `LoggedEvents` (the worker's events as `tracing` log lines and counters); [`clock::TokioClock`] |
//! | `conformance` | no | `store::conformance`: the storage test suite other backends run |
//! | `cli` | no | the `wedsync-webhooks` binary (`sign`, `verify`) |

pub mod analysis;
#[cfg(feature = "api")]
pub mod api;
pub mod clock;
pub mod config;
pub mod crypto;
pub mod delivery;
pub mod event;
#[cfg(feature = "forward")]
pub mod forward;
pub mod ingest;
pub mod keys;
pub mod priority;
pub mod provider;
pub mod replay;
pub mod retry;
pub mod sanitize;
pub mod secret;
pub mod store;
pub mod verify;

pub use provider::{ParseEnumError, Provider};
pub use secret::Secret;

/// Largest response excerpt stored with an attempt, in bytes.
pub const MAX_EXCERPT_BYTES: usize = 4096;
