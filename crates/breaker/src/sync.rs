//! Sharing breaker state across processes.
//!
//! Several `wedsync-monitor` processes share one PostgreSQL. When one of them sees Stripe fail
//! and opens its `stripe` breaker, or an operator force-opens `twilio` through the admin API of
//! one instance, every instance should follow. This module is the contract between the breaker
//! and whatever carries the changes (the `wedsync-store` crate implements it on PostgreSQL).
//!
//! # Publishing (local → store)
//!
//! Give a [`Registry`](crate::Registry) (or a single breaker) an `Arc<dyn StateSync>` and an
//! instance id. After every *local* state change — an automatic transition, or a manual
//! operation (`force_open`, `open_for`, `open_until`, `close`, `disable`, `metrics_only`,
//! `reset`, wedding-day switch) — the breaker calls [`StateSync::publish`] once, outside its
//! internal locks, on the thread that caused the change.
//!
//! `publish` is **synchronous and must not block**: it runs on the call path of whichever
//! request tripped the breaker. Implementations enqueue the change (for example into a bounded
//! `std::sync::mpsc` or `tokio::sync::mpsc` channel with `try_send`) and let a background task
//! write it to the database. Dropping a change when the queue is full is acceptable: the next
//! change supersedes it, and every instance still protects itself with its own breaker.
//!
//! # Observing (store → local)
//!
//! A poller (or `LISTEN/NOTIFY` task) in the store reads changes written by other instances and
//! hands each to [`Registry::apply_remote`](crate::Registry::apply_remote). It returns what it did
//! ([`RemoteApplied`]). Remote changes are applied **without** calling `publish` again, so there
//! is no echo loop; and a change whose `instance` is the registry's own is ignored, so the poller
//! need not filter its own rows (it may, cheaply, by `instance`).
//!
//! How each kind is applied locally:
//!
//! | kind | local effect |
//! |---|---|
//! | `Transition { to: Open, .. }` | a closed or half-open breaker opens for its own configured duration (a remote trip protects every instance); other states are left alone |
//! | `Transition { to: other, .. }` | nothing: each instance probes and closes on its own evidence |
//! | `ForcedOpen { until: None }` | `force_open()` |
//! | `ForcedOpen { until: Some(t) }` | `open_until(t)` (ignored when `t` has passed) |
//! | `Close` / `Reset` / `Disable` / `MetricsOnly` | the same operation |
//! | `WeddingDay { on }` | `set_wedding_day(on)` on that breaker |
//!
//! `at` and `until` are wall-clock times (`SystemTime`) because they cross machines; the breaker
//! converts `until` to its monotonic clock on arrival. Keep server clocks in sync (NTP).

use std::time::SystemTime;

use crate::State;

/// A state change to share with other processes. The store builds one from each row it reads
/// (all fields are public), or with [`SharedChange::new`] when stamping a change now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedChange {
    /// The breaker's name (its registry key, e.g. `"stripe"`).
    pub breaker: String,
    /// What happened.
    pub kind: SharedChangeKind,
    /// Wall-clock time of the change at its origin.
    pub at: SystemTime,
    /// Id of the process that made the change (see [`RegistryBuilder::instance`](crate::RegistryBuilder::instance)).
    pub instance: String,
}

impl SharedChange {
    /// A change stamped with the current wall-clock time.
    pub fn new(
        breaker: impl Into<String>,
        kind: SharedChangeKind,
        instance: impl Into<String>,
    ) -> Self {
        Self {
            breaker: breaker.into(),
            kind,
            at: SystemTime::now(),
            instance: instance.into(),
        }
    }
}

/// The kinds of shared change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SharedChangeKind {
    /// An automatic transition (a trip, a half-open probe result, a half-open timeout).
    Transition {
        /// State before.
        from: State,
        /// State after.
        to: State,
    },
    /// Forced open indefinitely (`until: None`, state `ForcedOpen`) or opened until a time
    /// (`open_for` / `open_until` / a `Retry-After` hook; state `Open`).
    ForcedOpen {
        /// End of the opening, if any.
        until: Option<SystemTime>,
    },
    /// `reset()`: closed, fresh window, counters cleared.
    Reset,
    /// `close()`.
    Close,
    /// `disable()`.
    Disable,
    /// `metrics_only()`.
    MetricsOnly,
    /// Wedding-day mode switched on or off for this breaker.
    WeddingDay {
        /// The new mode.
        on: bool,
    },
}

impl SharedChangeKind {
    /// A short snake_case name for storage (`"transition"`, `"forced_open"`, `"reset"`, …).
    pub const fn as_str(&self) -> &'static str {
        match self {
            SharedChangeKind::Transition { .. } => "transition",
            SharedChangeKind::ForcedOpen { .. } => "forced_open",
            SharedChangeKind::Reset => "reset",
            SharedChangeKind::Close => "close",
            SharedChangeKind::Disable => "disable",
            SharedChangeKind::MetricsOnly => "metrics_only",
            SharedChangeKind::WeddingDay { .. } => "wedding_day",
        }
    }
}

/// Receives the local state changes of breakers, to share them with other processes.
///
/// Called synchronously on the thread that made the change, outside every breaker lock. It
/// **must not block** (no network or database round trip, no async runtime): enqueue and return.
pub trait StateSync: Send + Sync {
    /// Publishes one change.
    fn publish(&self, change: &SharedChange);
}

/// What [`Registry::apply_remote`](crate::Registry::apply_remote) did with a remote change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RemoteApplied {
    /// The local breaker's state changed.
    Applied,
    /// Nothing to do (already in that state, an informational transition, an expired `until`).
    Unchanged,
    /// The change came from this very instance.
    OwnInstance,
}

/// A [`StateSync`] that keeps every change in memory; for tests and single-process setups.
#[derive(Debug, Default)]
pub struct MemorySync {
    changes: std::sync::Mutex<Vec<SharedChange>>,
}

impl MemorySync {
    /// An empty log.
    pub fn new() -> Self {
        Self::default()
    }

    /// Removes and returns every change published so far.
    pub fn take(&self) -> Vec<SharedChange> {
        std::mem::take(&mut *self.changes.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

impl StateSync for MemorySync {
    fn publish(&self, change: &SharedChange) {
        self.changes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(change.clone());
    }
}
