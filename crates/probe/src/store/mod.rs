//! Storage traits for probe results, incidents and the notification outbox, and an in-memory
//! implementation ([`MemoryStore`], in `store/memory.rs`).
//!
//! `wedsync-store` implements [`ResultStore`], [`IncidentStore`] and [`OutboxStore`] on PostgreSQL
//! and SQLite and runs the same `conformance` suite (feature `conformance`) on both.
//! All times are unix milliseconds (UTC); all enums have `as_str`/`FromStr` for text columns.
//!
//! Every field of a stored [`ProbeResult`] must round-trip, `timings` and `retry_after` included
//! (durations at millisecond precision or finer; JSON columns are fine).
//!
//! # Multi-process rules an implementation must keep
//! - [`IncidentStore::open_incident`] is *insert if no incident of that service is open*: two
//!   processes that both decide to open one get one incident, and only one of them gets
//!   [`OpenOutcome::Created`] (PostgreSQL: a partial unique index on `service WHERE state = 'open'`).
//! - [`IncidentStore::resolve_incident`] returns the incident only to the caller that resolved it.
//! - [`OutboxStore::enqueue`] is idempotent on the notification id.
//! - [`OutboxStore::claim_due`] hands a notification to one claimer until its lease expires
//!   (PostgreSQL: `FOR UPDATE SKIP LOCKED`); `mark_sent`/`mark_failed` only act for the lease holder.

use std::fmt;
use std::str::FromStr;

use async_trait::async_trait;

use crate::{ProbeResult, ProbeStatus};

mod memory;

pub use memory::MemoryStore;

/// An error from a storage backend.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The backend failed (connection, query, serialisation). The message never holds secrets.
    #[error("storage backend error: {0}")]
    Backend(String),
    /// The record does not exist.
    #[error("not found")]
    NotFound,
}

/// The error returned when a string names no variant of a storage enum.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown value: {0:?}")]
pub struct ParseEnumError(pub String);

macro_rules! str_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $v:ident = $s:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($(#[$vm])* $v),+ }
        impl $name {
            /// The stable lowercase name, as stored.
            pub fn as_str(self) -> &'static str { match self { $($name::$v => $s),+ } }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result { f.write_str(self.as_str()) }
        }
        impl FromStr for $name {
            type Err = ParseEnumError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s { $($s => Ok($name::$v),)+ _ => Err(ParseEnumError(s.to_owned())) }
            }
        }
    };
}

str_enum! {
    /// Whether an incident is still going on.
    IncidentState {
        /// Going on.
        Open = "open",
        /// Over.
        Resolved = "resolved",
    }
}

str_enum! {
    /// What a notification announces.
    NotificationKind {
        /// An incident opened (PagerDuty `trigger`).
        Trigger = "trigger",
        /// An incident resolved (PagerDuty `resolve`).
        Resolve = "resolve",
        /// An incident is still open (never re-triggers PagerDuty).
        Reminder = "reminder",
        /// A service is flapping; one notice instead of a stream.
        Flapping = "flapping",
    }
}

str_enum! {
    /// Where a notification is in its delivery.
    OutboxState {
        /// Waiting for (another) attempt.
        Pending = "pending",
        /// Delivered.
        Sent = "sent",
        /// Gave up (permanent error or attempts exhausted).
        Dead = "dead",
    }
}

/// One incident of one service. Keyed by its deterministic `dedup_key`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Incident {
    /// Deterministic key per (service, incident): `wedsync/{service}/{opened_at_ms}`; it is the
    /// PagerDuty `dedup_key`.
    pub dedup_key: String,
    /// The service.
    pub service: String,
    /// Open or resolved.
    pub state: IncidentState,
    /// The status that opened it (or the latest failing status while open).
    pub status: ProbeStatus,
    /// When it opened.
    pub opened_at_ms: i64,
    /// Last change.
    pub updated_at_ms: i64,
    /// When it resolved.
    pub resolved_at_ms: Option<i64>,
    /// When a trigger or reminder was last enqueued for it.
    pub last_notified_at_ms: Option<i64>,
    /// Whether it opened on a wedding day.
    pub wedding_day: bool,
    /// A short redacted summary (the latest failing detail).
    pub summary: String,
}

impl Incident {
    /// The deterministic dedup key of the incident of `service` opened at `opened_at_ms`.
    pub fn dedup_key_for(service: &str, opened_at_ms: i64) -> String {
        format!("wedsync/{service}/{opened_at_ms}")
    }
}

/// What [`IncidentStore::open_incident`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpenOutcome {
    /// This call opened the incident: the caller notifies.
    Created(Incident),
    /// An incident of that service was already open (returned): the caller does not notify.
    AlreadyOpen(Incident),
}

/// One notification in the outbox.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Notification {
    /// Unique, deterministic id, also the idempotency key sent to receivers:
    /// `{incident dedup_key}/{kind}/{sink}[/{seq}]`.
    pub id: String,
    /// The sink's name (`"slack"`, `"pagerduty"`, `"webhook"`, `"log"`, or a configured name).
    pub sink: String,
    /// What it announces.
    pub kind: NotificationKind,
    /// The incident's dedup key.
    pub incident_key: String,
    /// The service.
    pub service: String,
    /// The message as JSON (an [`crate::alert::Alert`]); redacted.
    pub payload: String,
    /// Delivery state.
    pub state: OutboxState,
    /// Attempts made so far (incremented by each claim).
    pub attempts: u32,
    /// Earliest time of the next attempt.
    pub next_attempt_at_ms: i64,
    /// When it was enqueued.
    pub created_at_ms: i64,
    /// The current lease holder, if claimed.
    pub lease_owner: Option<String>,
    /// When the current lease ends.
    pub lease_until_ms: Option<i64>,
    /// The last delivery error (redacted).
    pub last_error: Option<String>,
}

impl Notification {
    /// A notification `id` to `sink` announcing `kind` of the incident `incident_key` of
    /// `service`, with its JSON `payload`: pending, never attempted, enqueued and due at `at_ms`.
    pub fn pending(
        id: impl Into<String>,
        sink: impl Into<String>,
        kind: NotificationKind,
        incident_key: impl Into<String>,
        service: impl Into<String>,
        payload: impl Into<String>,
        at_ms: i64,
    ) -> Self {
        Notification {
            id: id.into(),
            sink: sink.into(),
            kind,
            incident_key: incident_key.into(),
            service: service.into(),
            payload: payload.into(),
            state: OutboxState::Pending,
            attempts: 0,
            next_attempt_at_ms: at_ms,
            created_at_ms: at_ms,
            lease_owner: None,
            lease_until_ms: None,
            last_error: None,
        }
    }
}

/// Probe results: insert, latest per service, history.
#[async_trait]
pub trait ResultStore: Send + Sync {
    /// Stores one result.
    async fn insert_result(&self, result: &ProbeResult) -> Result<(), StoreError>;
    /// The newest result of every service, sorted by service name.
    async fn latest_results(&self) -> Result<Vec<ProbeResult>, StoreError>;
    /// Results of `service` with `checked_at_ms >= since_ms`, newest first, at most `limit`.
    async fn history(
        &self,
        service: &str,
        since_ms: i64,
        limit: usize,
    ) -> Result<Vec<ProbeResult>, StoreError>;
    /// Deletes results older than `before_ms`; returns how many.
    async fn prune_results(&self, before_ms: i64) -> Result<u64, StoreError>;
    /// `service`'s results aggregated per hour (the hourly rollups), oldest first, from the hour
    /// that contains `since_ms` on. Stores keep the rollups current as results are inserted, so
    /// the current hour is included, and keep them after the raw results are pruned.
    async fn hourly_history(
        &self,
        service: &str,
        since_ms: i64,
    ) -> Result<Vec<HourlyHealth>, StoreError>;

    /// `service`'s results aggregated per UTC day, oldest first, from the day that contains
    /// `since_ms` on; each bucket's `hour_start_ms` is the start of its day. The default sums
    /// [`hourly_history`](Self::hourly_history), so it covers only the hours a store keeps;
    /// stores with daily rollups (PostgreSQL, SQLite) read those instead and keep 90 days and
    /// more.
    async fn daily_history(
        &self,
        service: &str,
        since_ms: i64,
    ) -> Result<Vec<HourlyHealth>, StoreError> {
        let hours = self
            .hourly_history(service, HourlyHealth::day_of(since_ms))
            .await?;
        Ok(HourlyHealth::per_day(&hours))
    }
}

/// Hours of [`HourlyHealth`] a [`MemoryStore`] keeps per service, counted back from the newest
/// (a day and the current hour).
pub const MEMORY_HOURS_KEPT: i64 = 25;

/// Milliseconds in an hour: the width of a [`HourlyHealth`] bucket.
pub const HOUR_MS: i64 = 3_600_000;

/// Milliseconds in a day: the width of a [`ResultStore::daily_history`] bucket.
pub const DAY_MS: i64 = 86_400_000;

/// One hour of a service's probe results, aggregated ([`ResultStore::hourly_history`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct HourlyHealth {
    /// Start of the hour (Unix milliseconds, a multiple of [`HOUR_MS`]).
    pub hour_start_ms: i64,
    /// Results in the hour.
    pub checks: u64,
    /// Healthy results.
    pub healthy: u64,
    /// Degraded results.
    pub degraded: u64,
    /// Unhealthy results (authentication failures, rate limits and unknowns count only in
    /// `checks`).
    pub unhealthy: u64,
    /// Sum of the results' latencies in whole milliseconds.
    pub latency_sum_ms: u64,
    /// The highest latency in whole milliseconds (`None` for an empty bucket).
    pub latency_max_ms: Option<u64>,
}

impl HourlyHealth {
    /// The start of the hour that contains `at_ms`.
    pub fn hour_of(at_ms: i64) -> i64 {
        at_ms - at_ms.rem_euclid(HOUR_MS)
    }

    /// The start of the UTC day that contains `at_ms`.
    pub fn day_of(at_ms: i64) -> i64 {
        at_ms - at_ms.rem_euclid(DAY_MS)
    }

    /// Sums hourly buckets (oldest first) into daily ones (oldest first).
    pub fn per_day(hours: &[HourlyHealth]) -> Vec<HourlyHealth> {
        let mut days: Vec<HourlyHealth> = Vec::new();
        for h in hours {
            let day = Self::day_of(h.hour_start_ms);
            match days.last_mut() {
                Some(d) if d.hour_start_ms == day => d.merge(h),
                _ => days.push(HourlyHealth {
                    hour_start_ms: day,
                    ..*h
                }),
            }
        }
        days
    }

    /// Adds another bucket's counts to this one.
    pub fn merge(&mut self, other: &HourlyHealth) {
        self.checks += other.checks;
        self.healthy += other.healthy;
        self.degraded += other.degraded;
        self.unhealthy += other.unhealthy;
        self.latency_sum_ms = self.latency_sum_ms.saturating_add(other.latency_sum_ms);
        self.latency_max_ms = match (self.latency_max_ms, other.latency_max_ms) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
    }

    /// Adds one result (it must fall in this bucket's hour).
    pub fn add(&mut self, r: &ProbeResult) {
        let latency = u64::try_from(r.latency.as_millis()).unwrap_or(u64::MAX);
        self.checks += 1;
        match r.status {
            ProbeStatus::Healthy => self.healthy += 1,
            ProbeStatus::Degraded => self.degraded += 1,
            ProbeStatus::Unhealthy => self.unhealthy += 1,
            _ => {}
        }
        self.latency_sum_ms = self.latency_sum_ms.saturating_add(latency);
        self.latency_max_ms = Some(self.latency_max_ms.map_or(latency, |m| m.max(latency)));
    }
}

/// An incident change that [`IncidentStore::change_incident_and_enqueue`] applies together with
/// the notifications it causes.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum IncidentChange {
    /// [`IncidentStore::open_incident`]; the notifications are enqueued only when it is
    /// [`OpenOutcome::Created`] (the caller that opened it notifies).
    Open(Incident),
    /// [`IncidentStore::update_incident`]; the notifications are enqueued when it succeeds.
    Update(Incident),
    /// [`IncidentStore::resolve_incident`]; the notifications are enqueued only when this call
    /// resolved it (`Some`).
    Resolve {
        /// The incident's dedup key.
        dedup_key: String,
        /// When it resolved.
        resolved_at_ms: i64,
    },
}

/// What [`IncidentStore::change_incident_and_enqueue`] did: the result of the incident operation
/// (the notifications were enqueued exactly when it "took", see [`IncidentChange`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChangeOutcome {
    /// The result of the open.
    Opened(OpenOutcome),
    /// The update was applied.
    Updated,
    /// The result of the resolve.
    Resolved(Option<Incident>),
}

impl ChangeOutcome {
    /// Whether the change took, so its notifications were enqueued.
    pub fn took(&self) -> bool {
        match self {
            ChangeOutcome::Opened(o) => matches!(o, OpenOutcome::Created(_)),
            ChangeOutcome::Updated => true,
            ChangeOutcome::Resolved(r) => r.is_some(),
        }
    }
}

/// Incidents: open (once per service), update, resolve, list open, get by dedup key.
#[async_trait]
pub trait IncidentStore: Send + Sync {
    /// Inserts `incident` (state open) unless an incident of its service is open already.
    async fn open_incident(&self, incident: Incident) -> Result<OpenOutcome, StoreError>;
    /// Overwrites the mutable fields (`status`, `updated_at_ms`, `last_notified_at_ms`, `summary`)
    /// of the incident with this dedup key. `NotFound` when there is none.
    async fn update_incident(&self, incident: &Incident) -> Result<(), StoreError>;
    /// Resolves the open incident with this dedup key. Returns it (resolved) to the one caller that
    /// changed it; `None` when it was not open (already resolved or unknown).
    async fn resolve_incident(
        &self,
        dedup_key: &str,
        resolved_at_ms: i64,
    ) -> Result<Option<Incident>, StoreError>;
    /// All open incidents, oldest first.
    async fn list_open_incidents(&self) -> Result<Vec<Incident>, StoreError>;
    /// The incident with this dedup key, open or resolved.
    async fn get_incident(&self, dedup_key: &str) -> Result<Option<Incident>, StoreError>;

    /// Applies `change` and, when it takes (see [`IncidentChange`]), enqueues `notifications`
    /// (as [`OutboxStore::enqueue`] does: a notification whose id exists is skipped) **in one
    /// transaction**: either both are stored or neither is, so a crash can neither lose the page
    /// for a stored incident nor page about an incident that was not stored.
    ///
    /// Returns `Ok(None)` when the store does not offer this (the default, so existing
    /// implementations keep compiling): the caller then makes the two writes one after the other,
    /// which is not atomic. [`MemoryStore`] implements it; a database store should (one
    /// transaction around the incident statement and the outbox inserts).
    async fn change_incident_and_enqueue(
        &self,
        change: &IncidentChange,
        notifications: &[Notification],
    ) -> Result<Option<ChangeOutcome>, StoreError> {
        let _ = (change, notifications);
        Ok(None)
    }
}

/// What one [`OutboxStore::claim_due`] asks for: which sender claims, at what time, for how long,
/// and how many notifications.
///
/// ```
/// use wedsync_probe::store::DueClaim;
///
/// // "dispatcher-1" claims at most 16 notifications due at t, each for 60 s
/// let t = 1_780_000_000_000;
/// let claim = DueClaim::new("dispatcher-1", t, 60_000, 16);
/// assert_eq!((claim.owner, claim.lease_ms), ("dispatcher-1", 60_000));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DueClaim<'a> {
    /// Who claims: written to each claimed notification's `lease_owner`; only this owner's
    /// [`OutboxStore::mark_sent`] and [`OutboxStore::mark_failed`] count until the lease ends.
    pub owner: &'a str,
    /// The claim's time (unix ms): notifications with `next_attempt_at_ms <= now_ms` are due, and
    /// a lease with `lease_until_ms <= now_ms` has expired (the notification is claimable again).
    pub now_ms: i64,
    /// How long (ms) the owner holds each claimed notification: `lease_until_ms = now_ms +
    /// lease_ms`. It should exceed the slowest send, or another claimer may send it too.
    pub lease_ms: i64,
    /// The most notifications to claim; `0` claims nothing (and changes nothing).
    pub limit: usize,
}

impl<'a> DueClaim<'a> {
    /// A claim by `owner` at `now_ms` of at most `limit` due notifications, each leased for
    /// `lease_ms` milliseconds.
    pub fn new(owner: &'a str, now_ms: i64, lease_ms: i64, limit: usize) -> Self {
        DueClaim {
            owner,
            now_ms,
            lease_ms,
            limit,
        }
    }
}

/// A failed send of a claimed notification: why, and when to try again (for
/// [`OutboxStore::mark_failed`]).
///
/// ```
/// use wedsync_probe::store::SendFailure;
///
/// let later = SendFailure::retry_at("HTTP 503", 1_780_000_060_000);
/// assert_eq!(later.retry_at_ms, Some(1_780_000_060_000));
/// assert_eq!(SendFailure::dead("HTTP 404").retry_at_ms, None);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendFailure<'a> {
    /// What went wrong (kept as the notification's `last_error`; already free of secrets).
    pub error: &'a str,
    /// When to try again (unix ms): the notification goes back to pending with this
    /// `next_attempt_at_ms`. `None`: it is dead (never tried again).
    pub retry_at_ms: Option<i64>,
}

impl<'a> SendFailure<'a> {
    /// Failed with `error`; try again at `at_ms`.
    pub fn retry_at(error: &'a str, at_ms: i64) -> Self {
        SendFailure {
            error,
            retry_at_ms: Some(at_ms),
        }
    }

    /// Failed with `error` for good.
    pub fn dead(error: &'a str) -> Self {
        SendFailure {
            error,
            retry_at_ms: None,
        }
    }
}

/// The notification outbox: enqueue, claim due with a lease, mark sent, fail with retry time.
#[async_trait]
pub trait OutboxStore: Send + Sync {
    /// Enqueues a notification (state pending). Returns `false` (and changes nothing) when one with
    /// the same id exists.
    async fn enqueue(&self, notification: Notification) -> Result<bool, StoreError>;
    /// Claims up to [`DueClaim::limit`] pending notifications with `next_attempt_at_ms <=
    /// claim.now_ms` whose lease is free or expired, oldest `next_attempt_at_ms` first: sets
    /// `lease_owner = claim.owner`, `lease_until_ms = claim.now_ms + claim.lease_ms`, and increments
    /// `attempts`. Returns them (updated). See [`DueClaim`] for what each parameter means.
    async fn claim_due(&self, claim: DueClaim<'_>) -> Result<Vec<Notification>, StoreError>;
    /// Marks a claimed notification sent. Returns `false` when `owner` no longer holds its lease.
    async fn mark_sent(&self, id: &str, owner: &str, now_ms: i64) -> Result<bool, StoreError>;
    /// Records a failed attempt (see [`SendFailure`]): back to pending at its retry time, or dead;
    /// clears the lease. Returns `false` when `owner` no longer holds the lease.
    async fn mark_failed(
        &self,
        id: &str,
        owner: &str,
        fail: SendFailure<'_>,
    ) -> Result<bool, StoreError>;
    /// The notification with this id.
    async fn get_notification(&self, id: &str) -> Result<Option<Notification>, StoreError>;
    /// Notifications of one incident, in enqueue order.
    async fn notifications_for(&self, incident_key: &str) -> Result<Vec<Notification>, StoreError>;
}

/// Everything the monitor stores; implemented for every type that implements the three traits.
pub trait ProbeStore: ResultStore + IncidentStore + OutboxStore {}
impl<T: ResultStore + IncidentStore + OutboxStore + ?Sized> ProbeStore for T {}
