//! Storage: the [`WebhookStore`] trait, its plain record types, and an in-memory implementation.
//!
//! # Queue semantics
//!
//! Every verified delivery that has a handler is *enqueued when it is recorded*
//! ([`NewDelivery::next_attempt_at`] is `Some`). Workers — possibly in several processes sharing
//! one database — then loop:
//!
//! 1. [`WebhookStore::claim`] picks due deliveries (critical before normal, then oldest due first),
//!    skipping any held by an unexpired lease, and for each one atomically increments its attempt
//!    number and writes a fresh random lease token. The returned [`ClaimToken`] names exactly one
//!    `(delivery, attempt number, lease token)`.
//! 2. The worker sends the attempt and reports it with [`WebhookStore::complete`] or
//!    [`WebhookStore::fail`]. Both succeed only if the delivery still carries the same lease token
//!    and attempt number; otherwise they return [`StoreError::LeaseLost`] and change nothing.
//! 3. A worker that dies leaves its lease to expire. An expired lease is claimable again (with the
//!    *next* attempt number) and [`WebhookStore::reclaim_expired`] releases such leases in bulk.
//!
//! Hence two workers never hold the same attempt: attempt numbers only grow, each claim takes a new
//! one, and a report against a superseded claim is refused. A PostgreSQL implementation does step 1
//! with `SELECT … FOR UPDATE SKIP LOCKED` and steps 2–3 with `UPDATE … WHERE lease_token = $1 AND
//! attempt_count = $2`.
//!
//! Dedupe is part of [`WebhookStore::insert_delivery`]: only *verified, non-duplicate* deliveries
//! own a dedupe key (a forged request must not be able to reserve an event id), and a second
//! delivery with the same `(provider, dedupe_key)` is stored with status
//! [`DeliveryStatus::Duplicate`], never enqueued.

mod memory;

#[cfg(feature = "conformance")]
pub mod conformance;

use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

pub use memory::{validate_replay, InMemoryStore};

use crate::provider::{str_enum, Provider};

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Recorded but not queued (no handler configured for its provider).
    Received,
    /// Queued; no attempt in the current run yet.
    Pending,
    /// At least one attempt of the current run failed; another is scheduled.
    Retrying,
    /// A 2xx answer was received.
    Delivered,
    /// Gave up: retries exhausted, 410 Gone, or a failed single (manual) attempt.
    Failed,
    /// Same dedupe key as an earlier verified delivery; never forwarded.
    Duplicate,
    /// The signature did not verify; never forwarded.
    Rejected,
}

str_enum!(DeliveryStatus, "delivery status", {
    Received => "received",
    Pending => "pending",
    Retrying => "retrying",
    Delivered => "delivered",
    Failed => "failed",
    Duplicate => "duplicate",
    Rejected => "rejected",
});

impl DeliveryStatus {
    /// Whether deliveries in this status are in the work queue.
    pub const fn is_queued(self) -> bool {
        matches!(self, DeliveryStatus::Pending | DeliveryStatus::Retrying)
    }
}

/// Delivery priority. Critical deliveries are claimed before every normal one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    /// Everything else.
    Normal,
    /// Wedding-critical: claimed first, denser early retries.
    Critical,
}

str_enum!(Priority, "priority", { Normal => "normal", Critical => "critical" });

impl Priority {
    /// A number to sort by in SQL (`ORDER BY priority_rank DESC`): normal 0, critical 1.
    pub const fn rank(self) -> i16 {
        match self {
            Priority::Normal => 0,
            Priority::Critical => 1,
        }
    }
}

/// What caused an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttemptTrigger {
    /// The first attempt or a retry from the schedule.
    Scheduled,
    /// A single replay asked for by a person.
    Manual,
    /// Part of a bulk replay job.
    Bulk,
}

str_enum!(AttemptTrigger, "attempt trigger", {
    Scheduled => "scheduled",
    Manual => "manual",
    Bulk => "bulk",
});

/// Why an attempt failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorKind {
    /// No answer within the timeout.
    Timeout,
    /// Could not connect (refused, DNS, reset before an answer).
    Connect,
    /// TLS handshake or certificate failure.
    Tls,
    /// A 3xx answer (redirects are not followed and count as failures).
    Http3xx,
    /// A 4xx answer.
    Http4xx,
    /// A 5xx answer.
    Http5xx,
    /// The handler's circuit breaker was open; no request was sent.
    CircuitOpen,
    /// A worker's lease ran out before it reported the attempt.
    LeaseExpired,
    /// Anything else (e.g. the raw body could not be decrypted).
    Other,
}

str_enum!(ErrorKind, "error kind", {
    Timeout => "timeout",
    Connect => "connect",
    Tls => "tls",
    Http3xx => "http_3xx",
    Http4xx => "http_4xx",
    Http5xx => "http_5xx",
    CircuitOpen => "circuit_open",
    LeaseExpired => "lease_expired",
    Other => "other",
});

impl ErrorKind {
    /// The error kind for a non-2xx HTTP status, `None` for 2xx (and for codes outside 100..=599).
    pub fn from_status(status: u16) -> Option<ErrorKind> {
        match status {
            200..=299 => None,
            300..=399 => Some(ErrorKind::Http3xx),
            400..=499 => Some(ErrorKind::Http4xx),
            500..=599 => Some(ErrorKind::Http5xx),
            _ => Some(ErrorKind::Other),
        }
    }
}

/// Outcome of signature verification, stored with every delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// A configured secret produced a matching signature (or the shared secret matched).
    Verified,
    /// Verification failed; see [`Delivery::verdict_reason`].
    Rejected,
}

str_enum!(Verdict, "verdict", { Verified => "verified", Rejected => "rejected" });

/// The raw body, sealed with an AEAD (see [`crate::crypto`]). Only its owner's key opens it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EncryptedBody {
    /// Which configured key sealed it (for key rotation).
    pub key_id: String,
    /// The AEAD nonce.
    pub nonce: Vec<u8>,
    /// Ciphertext with its authentication tag.
    pub ciphertext: Vec<u8>,
}

impl std::fmt::Debug for EncryptedBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EncryptedBody")
            .field("key_id", &self.key_id)
            .field("len", &self.ciphertext.len())
            .finish_non_exhaustive()
    }
}

/// A header name and (sanitised) value.
pub type Header = (String, String);

/// Everything known about a delivery when it is first recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewDelivery {
    /// Chosen by the caller (`Uuid::new_v4()`).
    pub id: Uuid,
    /// Who sent it.
    pub provider: Provider,
    /// The provider's event id (`evt_…`, `svix-id`, `MessageSid`), when it has one.
    pub event_id: Option<String>,
    /// What duplicates are recognised by (see [`crate::event`]).
    pub dedupe_key: String,
    /// The provider's event type (`invoice.payment_failed`, `email.bounced`, a Twilio status…).
    pub event_type: Option<String>,
    /// When we received it.
    pub received_at: OffsetDateTime,
    /// Signature verdict.
    pub verdict: Verdict,
    /// Why verification failed (an [`crate::verify::VerifyError`] kind), if it did.
    pub verdict_reason: Option<String>,
    /// Request headers after sanitising.
    pub sanitized_headers: Vec<Header>,
    /// Body after sanitising, for display and analysis.
    pub sanitized_body: String,
    /// The request's `Content-Type`, forwarded as is.
    pub content_type: Option<String>,
    /// The sealed raw body, kept only for forwarding and replay.
    pub raw_body: Option<EncryptedBody>,
    /// When the raw body must be deleted (retention).
    pub raw_body_expires_at: Option<OffsetDateTime>,
    /// Priority from the rules.
    pub priority: Priority,
    /// `Some(t)`: enqueue, first attempt due at `t`. `None`: record only.
    /// Ignored (not enqueued) for rejected deliveries and duplicates.
    pub next_attempt_at: Option<OffsetDateTime>,
}

impl NewDelivery {
    /// A verified delivery from `provider` whose event id and dedupe key are `event_id`, received
    /// and first due at `now`, with `raw_body` (sealed for `id`), normal priority, no type and
    /// empty sanitised copies: a starting point for tools and tests, whose fields can be changed.
    pub fn verified(
        id: Uuid,
        provider: Provider,
        event_id: impl Into<String>,
        raw_body: Option<EncryptedBody>,
        now: OffsetDateTime,
    ) -> Self {
        let event_id = event_id.into();
        NewDelivery {
            id,
            provider,
            event_id: Some(event_id.clone()),
            dedupe_key: event_id,
            event_type: None,
            received_at: now,
            verdict: Verdict::Verified,
            verdict_reason: None,
            sanitized_headers: Vec::new(),
            sanitized_body: String::new(),
            content_type: Some("application/json".into()),
            raw_body,
            raw_body_expires_at: None,
            priority: Priority::Normal,
            next_attempt_at: Some(now),
        }
    }
}

/// A stored delivery.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Delivery {
    /// Unique id.
    pub id: Uuid,
    /// Who sent it.
    pub provider: Provider,
    /// The provider's event id, when it has one.
    pub event_id: Option<String>,
    /// The dedupe key.
    pub dedupe_key: String,
    /// The provider's event type.
    pub event_type: Option<String>,
    /// When it was received.
    pub received_at: OffsetDateTime,
    /// Signature verdict.
    pub verdict: Verdict,
    /// Why verification failed, if it did.
    pub verdict_reason: Option<String>,
    /// Sanitised request headers.
    pub sanitized_headers: Vec<Header>,
    /// Sanitised body.
    pub sanitized_body: String,
    /// The request's `Content-Type`.
    pub content_type: Option<String>,
    /// The sealed raw body; `None` once purged (or never kept).
    pub raw_body: Option<EncryptedBody>,
    /// When the raw body expires.
    pub raw_body_expires_at: Option<OffsetDateTime>,
    /// Priority.
    pub priority: Priority,
    /// Status.
    pub status: DeliveryStatus,
    /// For duplicates: the delivery that owns the dedupe key.
    pub duplicate_of: Option<Uuid>,
    /// Attempts claimed so far over the delivery's whole life (the last attempt number).
    pub attempt_count: u32,
    /// Attempts claimed in the current run (reset by a replay); drives the retry schedule.
    pub run_attempts: u32,
    /// When the next attempt is due (queued deliveries only).
    pub next_attempt_at: Option<OffsetDateTime>,
    /// The trigger the next attempt will carry.
    pub next_trigger: AttemptTrigger,
    /// The current run is a single attempt (manual replay): never retried.
    pub single_attempt: bool,
    /// The current lease, if a worker holds one.
    pub lease_token: Option<Uuid>,
    /// Which worker holds the lease.
    pub lease_owner: Option<String>,
    /// When the lease runs out.
    pub lease_expires_at: Option<OffsetDateTime>,
    /// When a 2xx answer arrived.
    pub delivered_at: Option<OffsetDateTime>,
    /// The last attempt's error kind.
    pub last_error: Option<ErrorKind>,
    /// The last attempt's HTTP status.
    pub last_status: Option<u16>,
    /// Last change.
    pub updated_at: OffsetDateTime,
}

impl Delivery {
    /// The stored form of a freshly inserted delivery. `status`/`duplicate_of` are decided by the
    /// store's dedupe step; store implementations may use this to build the row they insert.
    pub fn from_new(new: NewDelivery, status: DeliveryStatus, duplicate_of: Option<Uuid>) -> Self {
        let queued = status.is_queued();
        Delivery {
            id: new.id,
            provider: new.provider,
            event_id: new.event_id,
            dedupe_key: new.dedupe_key,
            event_type: new.event_type,
            received_at: new.received_at,
            verdict: new.verdict,
            verdict_reason: new.verdict_reason,
            sanitized_headers: new.sanitized_headers,
            sanitized_body: new.sanitized_body,
            content_type: new.content_type,
            // Duplicates and rejected requests are never forwarded: keep no raw body for them.
            raw_body: if matches!(status, DeliveryStatus::Duplicate | DeliveryStatus::Rejected) {
                None
            } else {
                new.raw_body
            },
            raw_body_expires_at: new.raw_body_expires_at,
            priority: new.priority,
            status,
            duplicate_of,
            attempt_count: 0,
            run_attempts: 0,
            next_attempt_at: if queued { new.next_attempt_at } else { None },
            next_trigger: AttemptTrigger::Scheduled,
            single_attempt: false,
            lease_token: None,
            lease_owner: None,
            lease_expires_at: None,
            delivered_at: None,
            last_error: None,
            last_status: None,
            updated_at: new.received_at,
        }
    }

    /// The status a new delivery gets before dedupe: rejected, pending or received.
    pub fn initial_status(new: &NewDelivery) -> DeliveryStatus {
        match (new.verdict, new.next_attempt_at) {
            (Verdict::Rejected, _) => DeliveryStatus::Rejected,
            (Verdict::Verified, Some(_)) => DeliveryStatus::Pending,
            (Verdict::Verified, None) => DeliveryStatus::Received,
        }
    }

    /// Whether the raw body is still available at `now`.
    pub fn raw_body_available(&self, now: OffsetDateTime) -> bool {
        self.raw_body.is_some() && self.raw_body_expires_at.is_none_or(|t| t > now)
    }

    /// Whether a worker holds an unexpired lease at `now`.
    pub fn is_leased(&self, now: OffsetDateTime) -> bool {
        self.lease_token.is_some() && self.lease_expires_at.is_some_and(|t| t > now)
    }
}

/// What [`WebhookStore::insert_delivery`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InsertOutcome {
    /// Stored as a new delivery (enqueued if it was verified and had `next_attempt_at`).
    Inserted {
        /// The new delivery's id.
        id: Uuid,
        /// Its status (`pending`, `received` or `rejected`).
        status: DeliveryStatus,
    },
    /// Stored with status `duplicate`; not enqueued.
    Duplicate {
        /// The new (duplicate) delivery's id.
        id: Uuid,
        /// The delivery that owns the dedupe key.
        original: Uuid,
    },
}

impl InsertOutcome {
    /// The id of the row just written.
    pub fn id(&self) -> Uuid {
        match *self {
            InsertOutcome::Inserted { id, .. } | InsertOutcome::Duplicate { id, .. } => id,
        }
    }
}

/// Names exactly one claimed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ClaimToken {
    /// The delivery.
    pub delivery_id: Uuid,
    /// The attempt number this claim took (1-based, over the delivery's whole life).
    pub attempt: u32,
    /// The random lease token written at claim time.
    pub lease_token: Uuid,
}

/// A claimed delivery: the row as it was after the claim, and the token to report with.
#[derive(Debug, Clone, PartialEq)]
pub struct Claimed {
    /// The delivery after the claim (lease set, counters incremented).
    pub delivery: Delivery,
    /// The token for [`WebhookStore::complete`] / [`WebhookStore::fail`].
    pub token: ClaimToken,
    /// What caused this attempt.
    pub trigger: AttemptTrigger,
}

/// What one [`WebhookStore::claim`] asks for: who claims, at what time, for how long, and how many.
///
/// ```
/// use std::time::Duration;
/// use time::OffsetDateTime;
/// use wedsync_webhooks::store::Claim;
///
/// let claim = Claim::new("worker-1", OffsetDateTime::now_utc(), Duration::from_secs(30), 32);
/// assert_eq!(claim.limit, 32);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Claim<'a> {
    /// The claiming worker's id, written to each claimed delivery's `lease_owner`.
    pub worker: &'a str,
    /// The claim's "now": deliveries with `next_attempt_at <= now` are due, leases that expire
    /// after it are still held, and it becomes each claimed delivery's `updated_at`.
    pub now: OffsetDateTime,
    /// How long the worker holds each claimed delivery: `lease_expires_at = now + lease`. Until
    /// then no other claim takes the delivery; after it the lease has expired, the delivery is
    /// claimable again (with the next attempt number) and [`WebhookStore::reclaim_expired`]
    /// releases it. A worker extends it with [`WebhookStore::renew_leases`] while it works.
    pub lease: Duration,
    /// The most deliveries to claim; `0` claims nothing (and changes nothing).
    pub limit: usize,
}

impl<'a> Claim<'a> {
    /// A claim by `worker` at `now` of at most `limit` deliveries, each leased for `lease`.
    pub fn new(worker: &'a str, now: OffsetDateTime, lease: Duration, limit: usize) -> Self {
        Claim {
            worker,
            now,
            lease,
            limit,
        }
    }
}

/// One forwarding attempt, as reported by the worker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttemptRecord {
    /// The delivery.
    pub delivery_id: Uuid,
    /// Attempt number (equals the claim's).
    pub attempt: u32,
    /// What caused it.
    pub trigger: AttemptTrigger,
    /// Which worker ran it.
    pub worker: String,
    /// When the request started.
    pub started_at: OffsetDateTime,
    /// How long it took, in milliseconds.
    pub duration_ms: u64,
    /// The handler's HTTP status, if it answered.
    pub response_status: Option<u16>,
    /// Why it failed, if it did.
    pub error_kind: Option<ErrorKind>,
    /// A sanitised excerpt of the response body (at most [`crate::MAX_EXCERPT_BYTES`]).
    pub response_excerpt: Option<String>,
}

/// How many deliveries of one provider are in one status (see
/// [`WebhookStore::count_deliveries`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryCount {
    /// The provider.
    pub provider: Provider,
    /// The status.
    pub status: DeliveryStatus,
    /// How many deliveries.
    pub count: u64,
}

/// `deliveries` counted the way [`WebhookStore::count_deliveries`] counts them, ordered by
/// provider and status name (the in-memory store's implementation, and the oracle its
/// conformance case compares every backend with).
pub fn count_by_provider_and_status<'a>(
    deliveries: impl IntoIterator<Item = &'a Delivery>,
) -> Vec<DeliveryCount> {
    let mut counts: std::collections::BTreeMap<(&'static str, &'static str), DeliveryCount> =
        std::collections::BTreeMap::new();
    for d in deliveries {
        let key = (d.provider.as_str(), d.status.as_str());
        counts
            .entry(key)
            .or_insert(DeliveryCount {
                provider: d.provider,
                status: d.status,
                count: 0,
            })
            .count += 1;
    }
    counts.into_values().collect()
}

/// How many stored raw bodies one key sealed (see [`WebhookStore::raw_body_keys`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyUsage {
    /// The key id recorded with the bodies.
    pub key_id: String,
    /// Raw bodies sealed with it and still kept.
    pub bodies: u64,
    /// Of those, the bodies of deliveries still queued (`pending` or `retrying`): these cannot be
    /// forwarded while no configured key opens them.
    pub queued: u64,
}

/// One stored raw body, for re-sealing under a new key (see [`WebhookStore::sealed_bodies`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedBody {
    /// The delivery it belongs to (the AEAD's associated data).
    pub delivery_id: Uuid,
    /// The sealed body.
    pub body: EncryptedBody,
}

/// Filter for [`WebhookStore::list_deliveries`]. All conditions are ANDed; `None` matches all.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryQuery {
    /// Only this provider.
    pub provider: Option<Provider>,
    /// Only this event type.
    pub event_type: Option<String>,
    /// Only these statuses (empty = all).
    pub statuses: Vec<DeliveryStatus>,
    /// `received_at >= from`.
    pub received_from: Option<OffsetDateTime>,
    /// `received_at < to`.
    pub received_to: Option<OffsetDateTime>,
    /// At most this many rows (`None` = no limit). Rows are ordered by `received_at`, then id.
    pub limit: Option<usize>,
}

impl DeliveryQuery {
    /// Whether `d` matches (the reference semantics every backend follows).
    pub fn matches(&self, d: &Delivery) -> bool {
        self.provider.is_none_or(|p| p == d.provider)
            && self
                .event_type
                .as_deref()
                .is_none_or(|t| d.event_type.as_deref() == Some(t))
            && (self.statuses.is_empty() || self.statuses.contains(&d.status))
            && self.received_from.is_none_or(|t| d.received_at >= t)
            && self.received_to.is_none_or(|t| d.received_at < t)
    }
}

/// A request to run a delivery again (see [`WebhookStore::schedule_replay`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplayRequest {
    /// Due time of the replayed attempt.
    pub at: OffsetDateTime,
    /// `Manual` or `Bulk`.
    pub trigger: AttemptTrigger,
    /// A single attempt, never retried (manual replays).
    pub single_attempt: bool,
    /// Replay even a delivered delivery.
    pub force: bool,
    /// The store's notion of "now" for lease and retention checks.
    pub now: OffsetDateTime,
}

/// State of a bulk replay job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReplayJobState {
    /// Created; not started.
    Queued,
    /// Scheduling deliveries.
    Running,
    /// Every selected delivery was handled.
    Completed,
    /// Stopped by an error; see [`ReplayJob::error`].
    Failed,
}

str_enum!(ReplayJobState, "replay job state", {
    Queued => "queued",
    Running => "running",
    Completed => "completed",
    Failed => "failed",
});

/// A bulk replay job and its progress.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReplayJob {
    /// Unique id.
    pub id: Uuid,
    /// Which deliveries it replays.
    pub filter: DeliveryQuery,
    /// Who asked (free text, for the audit trail).
    pub requested_by: String,
    /// State.
    pub state: ReplayJobState,
    /// Deliveries selected by the filter.
    pub total: u64,
    /// Deliveries scheduled for a new attempt.
    pub scheduled: u64,
    /// Deliveries skipped (raw body expired, in flight, already delivered…).
    pub skipped: u64,
    /// Why the job failed, if it did.
    pub error: Option<String>,
    /// Created.
    pub created_at: OffsetDateTime,
    /// Last progress update.
    pub updated_at: OffsetDateTime,
}

/// Storage errors.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// No delivery / job with that id.
    #[error("not found")]
    NotFound,
    /// The claim was superseded (lease expired and re-claimed, or the attempt was already
    /// reported). Nothing was changed.
    #[error("lease lost: the attempt was re-claimed or already reported")]
    LeaseLost,
    /// A replay was asked for a delivery that was already delivered, without `force`.
    #[error("already delivered (use force to replay anyway)")]
    AlreadyDelivered,
    /// A replay was asked for a delivery whose raw body is gone (retention) or was never kept.
    #[error("raw body expired: the payload was deleted after the retention period and cannot be replayed")]
    RawBodyExpired,
    /// A replay was asked for a delivery a worker is sending right now.
    #[error("a worker holds this delivery; try again when the attempt finishes")]
    InFlight,
    /// The delivery can never be forwarded (rejected or duplicate).
    #[error("not replayable: {0} deliveries are never forwarded")]
    NotReplayable(DeliveryStatus),
    /// The backend failed (connection, SQL, serialisation…).
    #[error("storage backend: {0}")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// The storage the webhook pipeline needs. Object-safe; implemented in memory here and on
/// PostgreSQL and SQLite by `wedsync-store`. All times are passed in so tests control the clock.
#[async_trait]
pub trait WebhookStore: Send + Sync {
    /// Record a delivery, deduplicating atomically: when a verified delivery with the same
    /// `(provider, dedupe_key)` exists whose status is not `duplicate`/`rejected`, the new one is
    /// stored with status `duplicate` and `duplicate_of` set, and not enqueued. Verified deliveries
    /// with `next_attempt_at` are enqueued (`pending`); without it they are `received`; rejected
    /// ones are `rejected`. Duplicates and rejected deliveries keep no raw body.
    async fn insert_delivery(&self, new: NewDelivery) -> Result<InsertOutcome, StoreError>;

    /// One delivery by id.
    async fn get_delivery(&self, id: Uuid) -> Result<Option<Delivery>, StoreError>;

    /// The verified, non-duplicate delivery owning `(provider, dedupe_key)`, if any.
    async fn find_by_dedupe_key(
        &self,
        provider: Provider,
        dedupe_key: &str,
    ) -> Result<Option<Delivery>, StoreError>;

    /// Claim up to [`Claim::limit`] due deliveries (`status` queued, `next_attempt_at <=
    /// claim.now`, no unexpired lease), critical first, then by `next_attempt_at`, then
    /// `received_at`. Each claim increments `attempt_count` and `run_attempts`, sets a new random
    /// lease token, `lease_owner = claim.worker` and `lease_expires_at = claim.now + claim.lease`.
    /// See [`Claim`] for what each parameter means.
    async fn claim(&self, claim: Claim<'_>) -> Result<Vec<Claimed>, StoreError>;

    /// Report a successful attempt: status `delivered`, `delivered_at = attempt.started_at +
    /// duration`, lease cleared, the attempt recorded. [`StoreError::LeaseLost`] (and no change)
    /// unless the delivery still carries `token`'s lease token and attempt number.
    async fn complete(&self, token: &ClaimToken, attempt: AttemptRecord) -> Result<(), StoreError>;

    /// Report a failed attempt: the attempt recorded, lease cleared, and then either
    /// `retrying` with `next_attempt_at = Some(t)` and trigger `scheduled`, or `failed` when
    /// `next_attempt_at` is `None`. Same lease check as [`complete`](Self::complete).
    async fn fail(
        &self,
        token: &ClaimToken,
        attempt: AttemptRecord,
        next_attempt_at: Option<OffsetDateTime>,
    ) -> Result<(), StoreError>;

    /// Release every lease that expired at or before `now`, recording a `lease_expired` attempt for
    /// each; the delivery becomes due at `now` (`retrying`). Returns how many were released.
    async fn reclaim_expired(&self, now: OffsetDateTime) -> Result<u64, StoreError>;

    /// Extend the leases of the claims in `tokens` to `until` (a worker's heartbeat while its
    /// attempts are in flight). Only rows that still carry the token's lease token and attempt
    /// number are touched; the others (reported, or re-claimed after their lease ran out) are
    /// skipped. Returns how many leases were extended.
    async fn renew_leases(
        &self,
        tokens: &[ClaimToken],
        until: OffsetDateTime,
    ) -> Result<u64, StoreError>;

    /// How many deliveries are queued (`pending` or `retrying`), counted without reading them.
    async fn queue_depth(&self) -> Result<u64, StoreError>;

    /// The deliveries matching `query` (its `limit` ignored) counted by provider and status,
    /// without reading them: in no particular order, zero counts left out. Dashboards and reports
    /// that only need figures use it instead of [`list_deliveries`](Self::list_deliveries).
    async fn count_deliveries(
        &self,
        query: &DeliveryQuery,
    ) -> Result<Vec<DeliveryCount>, StoreError>;

    /// How many kept raw bodies each key id sealed, by key id.
    async fn raw_body_keys(&self) -> Result<Vec<KeyUsage>, StoreError>;

    /// Up to `limit` kept raw bodies sealed with `key_id`, ordered by delivery id, after `after`
    /// (exclusive; `None` starts at the beginning).
    async fn sealed_bodies(
        &self,
        key_id: &str,
        after: Option<Uuid>,
        limit: usize,
    ) -> Result<Vec<SealedBody>, StoreError>;

    /// Replace the raw body of delivery `id` with `body` if it is still sealed with
    /// `expected_key_id` (re-sealing after a key rotation). Returns whether it was replaced
    /// (`false`: purged or re-sealed meanwhile, or no such delivery).
    async fn replace_raw_body(
        &self,
        id: Uuid,
        expected_key_id: &str,
        body: EncryptedBody,
    ) -> Result<bool, StoreError>;

    /// Re-enqueue a delivery for a replay: `run_attempts = 0`, the request's trigger and
    /// `single_attempt`, due at `at`, status `pending`. Errors: [`StoreError::NotFound`],
    /// [`StoreError::NotReplayable`], [`StoreError::AlreadyDelivered`] (unless `force`),
    /// [`StoreError::InFlight`], [`StoreError::RawBodyExpired`].
    async fn schedule_replay(&self, id: Uuid, req: ReplayRequest) -> Result<Delivery, StoreError>;

    /// The attempts of one delivery, by attempt number.
    async fn list_attempts(&self, delivery_id: Uuid) -> Result<Vec<AttemptRecord>, StoreError>;

    /// Deliveries matching `query`, ordered by `received_at`, then id.
    async fn list_deliveries(&self, query: &DeliveryQuery) -> Result<Vec<Delivery>, StoreError>;

    /// Delete raw bodies whose `raw_body_expires_at <= now` (retention). Returns how many.
    async fn purge_raw_bodies(&self, now: OffsetDateTime) -> Result<u64, StoreError>;

    /// Store a new replay job.
    async fn insert_replay_job(&self, job: ReplayJob) -> Result<(), StoreError>;

    /// Overwrite a replay job's progress fields (`state`, `total`, `scheduled`, `skipped`,
    /// `error`, `updated_at`).
    async fn update_replay_job(&self, job: &ReplayJob) -> Result<(), StoreError>;

    /// One replay job by id.
    async fn get_replay_job(&self, id: Uuid) -> Result<Option<ReplayJob>, StoreError>;
}
