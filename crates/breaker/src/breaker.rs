//! The circuit breaker state machine.

use std::fmt;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, SystemTime};

use crate::clock::{duration_nanos, Clock, CoarseClock};
use crate::config::{BreakerConfig, HalfOpenTimeout, Rules, SlidingWindow};
use crate::outcome::{Classifier, DefaultClassifier, Outcome};
use crate::sync::{RemoteApplied, SharedChange, SharedChangeKind, StateSync};
use crate::window::{CountWindow, Counts, PlainHead, TimeWindow};
use crate::State;

// State word: [generation:60 | wedding:1 | state:3].
const STATE_MASK: u64 = 0b111;
const WEDDING: u64 = 0b1000;
const GEN_SHIFT: u32 = 4;
const NO_START: u64 = u64::MAX;

#[inline]
fn state_of(w: u64) -> State {
    State::from_bits(w & STATE_MASK)
}
#[inline]
fn wedding_of(w: u64) -> usize {
    usize::from(w & WEDDING != 0)
}
#[inline]
fn gen_of(w: u64) -> u64 {
    w >> GEN_SHIFT
}
#[inline]
fn epoch_of(w: u64) -> u16 {
    gen_of(w) as u16
}
/// Same generation and state (the wedding bit may differ).
#[inline]
fn same_gen(a: u64, b: u64) -> bool {
    (a ^ b) & !WEDDING == 0
}

/// A rate in percent, `None` below `min` calls.
pub(crate) fn rate(part: u32, calls: u32, min: u32) -> Option<f32> {
    (calls >= min && calls > 0).then(|| part as f32 * 100.0 / calls as f32)
}

/// A call was not permitted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    /// The breaker's name.
    pub breaker: Arc<str>,
    /// The state that rejected the call (`Open`, `ForcedOpen` or `HalfOpen` with all probe slots
    /// taken).
    pub state: State,
    /// When an open breaker will admit a probe again; `None` when unknown (forced open, half-open).
    pub retry_after: Option<Duration>,
}

impl fmt::Display for Rejected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "circuit breaker `{}` is {}", self.breaker, self.state)?;
        if let Some(d) = self.retry_after {
            write!(f, "; retry after {:.3}s", d.as_secs_f64())?;
        }
        Ok(())
    }
}

impl std::error::Error for Rejected {}

/// The error of [`CircuitBreaker::call`]: the breaker rejected the call, or the call failed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CallError<E> {
    /// The breaker did not permit the call; it was not made.
    Rejected(Rejected),
    /// The call was made and returned this error.
    Inner(E),
    /// The call did not finish within the timeout of `call_with_timeout` (feature `tokio`); it
    /// was cancelled and counted as a failure.
    Timeout(Duration),
}

impl<E> CallError<E> {
    /// The inner error, if the call was made.
    pub fn into_inner(self) -> Option<E> {
        match self {
            CallError::Inner(e) => Some(e),
            CallError::Rejected(_) | CallError::Timeout(_) => None,
        }
    }

    /// Whether the breaker rejected the call.
    pub fn is_rejected(&self) -> bool {
        matches!(self, CallError::Rejected(_))
    }
}

impl<E: fmt::Display> fmt::Display for CallError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallError::Rejected(r) => r.fmt(f),
            CallError::Inner(e) => e.fmt(f),
            CallError::Timeout(d) => write!(f, "call timed out after {:.3}s", d.as_secs_f64()),
        }
    }
}

impl<E: std::error::Error + 'static> std::error::Error for CallError<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CallError::Rejected(r) => Some(r),
            CallError::Inner(e) => Some(e),
            CallError::Timeout(_) => None,
        }
    }
}

/// An operator asked for a transition the state machine does not allow (closed → half-open).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("illegal transition of circuit breaker `{breaker}` from {from} to {to}")]
pub struct TransitionError {
    /// The breaker's name.
    pub breaker: Arc<str>,
    /// The current state.
    pub from: State,
    /// The requested state.
    pub to: State,
}

/// Whether a change was made here or applied from another process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Made by this process (a call or a local operator).
    Local,
    /// Applied through [`CircuitBreaker::apply_remote`].
    Remote,
}

/// Something that happened to a breaker.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Event {
    /// The breaker's name.
    pub breaker: Arc<str>,
    /// The breaker's clock when it happened.
    pub at: Duration,
    /// Local or remote.
    pub origin: Origin,
    /// What happened.
    pub kind: EventKind,
}

/// The kinds of [`Event`].
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum EventKind {
    /// The state changed.
    Transition {
        /// Before.
        from: State,
        /// After.
        to: State,
    },
    /// A call was not permitted.
    Rejected {
        /// The rejecting state.
        state: State,
        /// See [`Rejected::retry_after`].
        retry_after: Option<Duration>,
    },
    /// The failure rate reached its threshold (once per crossing).
    FailureRateExceeded {
        /// The rate in percent.
        rate: f32,
    },
    /// The slow-call rate reached its threshold (once per crossing).
    SlowCallRateExceeded {
        /// The rate in percent.
        rate: f32,
    },
    /// `reset()`: closed with a fresh window and cleared counters.
    Reset,
    /// Wedding-day mode switched.
    WeddingDay {
        /// The new mode.
        on: bool,
    },
}

/// A point-in-time view of a breaker (with feature `serde`, it serializes with these field
/// names and the state as its snake_case name, for admin APIs).
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct Metrics {
    /// The state.
    pub state: State,
    /// Whether wedding-day mode is on.
    pub wedding_day: bool,
    /// Failure rate in percent; `None` until the minimum number of calls is recorded.
    pub failure_rate: Option<f32>,
    /// Slow-call rate in percent; `None` until the minimum number of calls is recorded.
    pub slow_call_rate: Option<f32>,
    /// Outcomes in the current window (the probe window in half-open; the window that was
    /// current when the breaker opened, in open states).
    pub buffered_calls: u32,
    /// Failures among them.
    pub failed_calls: u32,
    /// Slow calls among them.
    pub slow_calls: u32,
    /// Calls rejected since the breaker was created or last `reset()`.
    pub not_permitted_calls: u64,
    /// How long until this breaker admits a half-open probe: exactly
    /// [`CircuitBreaker::retry_after`] at the moment of the snapshot (`None` unless `Open`).
    /// With feature `serde` it serializes as `retry_after_ms`: whole milliseconds, rounded up
    /// (so `0` only when a probe is admitted now), or `null`.
    #[cfg_attr(
        feature = "serde",
        serde(rename = "retry_after_ms", serialize_with = "serialize_ms_ceil")
    )]
    pub retry_after: Option<Duration>,
}

/// `Some(d)` as whole milliseconds rounded up, `None` as `null`.
#[cfg(feature = "serde")]
fn serialize_ms_ceil<S: serde::Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.serialize_some(&ms_ceil(*d)),
        None => s.serialize_none(),
    }
}

/// `d` in whole milliseconds, rounded up, saturating.
#[cfg(feature = "serde")]
fn ms_ceil(d: Duration) -> u64 {
    let ms = d.as_nanos().div_ceil(1_000_000);
    u64::try_from(ms).unwrap_or(u64::MAX)
}

/// An id returned by [`CircuitBreaker::subscribe`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SubscriptionId(u64);

type Subscriber = Arc<dyn Fn(&Event) + Send + Sync>;

#[derive(Default)]
struct Subscribers {
    any: AtomicBool,
    next: AtomicU64,
    list: Mutex<Arc<Vec<(u64, Subscriber)>>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Subscribers {
    fn add(&self, f: Subscriber) -> SubscriptionId {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let mut l = lock(&self.list);
        let mut v = Vec::clone(&l);
        v.push((id, f));
        *l = Arc::new(v);
        self.any.store(true, Ordering::Release);
        SubscriptionId(id)
    }

    fn remove(&self, id: SubscriptionId) -> bool {
        let mut l = lock(&self.list);
        let mut v = Vec::clone(&l);
        let before = v.len();
        v.retain(|(i, _)| *i != id.0);
        let removed = v.len() != before;
        self.any.store(!v.is_empty(), Ordering::Release);
        *l = Arc::new(v);
        removed
    }

    /// Delivers `event` to every subscriber, with no lock held while they run.
    fn emit(&self, event: &Event) {
        if !self.any.load(Ordering::Acquire) {
            return;
        }
        let list = Arc::clone(&lock(&self.list));
        for (_, s) in list.iter() {
            // A panicking subscriber must not take the call path down with it.
            let _ = catch_unwind(AssertUnwindSafe(|| s(event)));
        }
    }
}

// The count window's ring index is cache-padded on purpose (one per breaker); boxing it would add
// an indirection to every call.
#[allow(clippy::large_enum_variant)]
enum ClosedWindow {
    Count(CountWindow),
    Time(TimeWindow),
}

struct Control {
    consecutive_opens: u32,
    rng: u64,
}

impl Control {
    fn next_unit(&mut self) -> f64 {
        // splitmix64
        self.rng = self.rng.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// How a transition to `Open` computes its deadline.
#[derive(Clone, Copy)]
enum OpenSpec {
    /// A trip: the configured open duration for the next consecutive opening.
    Trip,
    /// Open for exactly this long (manual or a `Retry-After` hook).
    For(Duration),
}

const SRC_CLOSED: u8 = 0;
const SRC_HALF: u8 = 1;

pub(crate) struct Inner {
    name: Arc<str>,
    word: AtomicU64,
    open_until: AtomicU64,
    entered_at: AtomicU64,
    not_permitted: AtomicU64,
    /// `[generation low 32 | probes taken 32]` of the current half-open state.
    half_slots: AtomicU64,
    exceeded: AtomicU8,
    metrics_src: AtomicU8,
    closed: ClosedWindow,
    half: CountWindow<PlainHead>,
    rules: [Rules; 2],
    timed: [bool; 2],
    /// Shared by every breaker a registry builds with the same configuration.
    config: Arc<BreakerConfig>,
    clock: Arc<dyn Clock>,
    ctl: Mutex<Control>,
    subs: Subscribers,
    sync: Option<(Arc<dyn StateSync>, Arc<str>)>,
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))]
    me: Weak<Inner>,
}

/// A circuit breaker: a cheap, cloneable handle (clones share one breaker).
///
/// ```
/// use wedsync_breaker::{BreakerConfig, CircuitBreaker, State};
///
/// let cb = CircuitBreaker::new("stripe", BreakerConfig::default());
/// let r: Result<u32, wedsync_breaker::CallError<&str>> = cb.call(|| Ok(7));
/// assert_eq!(r.unwrap(), 7);
/// assert_eq!(cb.state(), State::Closed);
/// cb.force_open();
/// let rejected = cb.call(|| Ok::<_, &str>(1)).unwrap_err();
/// assert!(rejected.is_rejected());
/// ```
#[derive(Clone)]
pub struct CircuitBreaker {
    inner: Arc<Inner>,
}

impl fmt::Debug for CircuitBreaker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CircuitBreaker")
            .field("name", &self.inner.name)
            .field("state", &self.state())
            .finish_non_exhaustive()
    }
}

/// Builder for a [`CircuitBreaker`] with a custom clock or a [`StateSync`].
#[must_use]
pub struct BreakerBuilder {
    name: Arc<str>,
    config: Arc<BreakerConfig>,
    clock: Option<Arc<dyn Clock>>,
    sync: Option<(Arc<dyn StateSync>, Arc<str>)>,
    wedding_day: bool,
}

impl fmt::Debug for BreakerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BreakerBuilder")
            .field("name", &self.name)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl BreakerBuilder {
    /// Sets the (already validated) configuration.
    pub fn config(mut self, config: BreakerConfig) -> Self {
        self.config = Arc::new(config);
        self
    }

    /// Sets a configuration shared with other breakers (a registry's), kept shared when it needs
    /// no clamping.
    pub(crate) fn shared_config(mut self, config: Arc<BreakerConfig>) -> Self {
        self.config = config;
        self
    }

    /// Sets the clock (default: the process-wide [`CoarseClock`]).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Publishes local changes to `sync`, tagged with `instance` (see [`crate::sync`]).
    pub fn state_sync(mut self, sync: Arc<dyn StateSync>, instance: impl Into<Arc<str>>) -> Self {
        self.sync = Some((sync, instance.into()));
        self
    }

    /// Starts in wedding-day mode.
    pub fn wedding_day(mut self, on: bool) -> Self {
        self.wedding_day = on;
        self
    }

    /// Builds the breaker, closed. A configuration edited out of range after validation is
    /// clamped into range.
    pub fn build(self) -> CircuitBreaker {
        let clamped = self.config.clamped();
        let cfg = if clamped == *self.config {
            self.config
        } else {
            Arc::new(clamped)
        };
        let rules = [cfg.rules(false), cfg.rules(true)];
        let timed = [
            rules[0].slow_call_nanos.is_some(),
            rules[1].slow_call_nanos.is_some(),
        ];
        let closed = match cfg.sliding_window {
            SlidingWindow::Count(n) => ClosedWindow::Count(CountWindow::new(n)),
            SlidingWindow::Time(n) => ClosedWindow::Time(TimeWindow::new(n)),
        };
        let half = CountWindow::new(rules[0].permitted.max(rules[1].permitted));
        let clock = self
            .clock
            .unwrap_or_else(|| Arc::new(CoarseClock::new()) as Arc<dyn Clock>);
        let seed = duration_nanos(clock.now()) ^ (Arc::as_ptr(&self.name) as *const u8 as u64);
        let word = if self.wedding_day { WEDDING } else { 0 };
        let inner = Arc::new_cyclic(|me| Inner {
            name: self.name,
            word: AtomicU64::new(word),
            open_until: AtomicU64::new(0),
            entered_at: AtomicU64::new(duration_nanos(clock.now())),
            not_permitted: AtomicU64::new(0),
            half_slots: AtomicU64::new(0),
            exceeded: AtomicU8::new(0),
            metrics_src: AtomicU8::new(SRC_CLOSED),
            closed,
            half,
            rules,
            timed,
            config: cfg,
            clock,
            ctl: Mutex::new(Control {
                consecutive_opens: 0,
                rng: seed,
            }),
            subs: Subscribers::default(),
            sync: self.sync,
            me: me.clone(),
        });
        CircuitBreaker { inner }
    }
}

/// What a permit remembers from admission.
#[derive(Debug, Clone, Copy)]
struct Ticket {
    word: u64,
    start: u64,
}

impl CircuitBreaker {
    /// A closed breaker with the default clock.
    pub fn new(name: impl Into<Arc<str>>, config: BreakerConfig) -> Self {
        Self::builder(name).config(config).build()
    }

    /// A builder, for a custom clock or state sharing.
    pub fn builder(name: impl Into<Arc<str>>) -> BreakerBuilder {
        BreakerBuilder {
            name: name.into(),
            config: Arc::new(BreakerConfig::default()),
            clock: None,
            sync: None,
            wedding_day: false,
        }
    }

    /// The breaker's name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The breaker's name, shared (a registry keys its map with it).
    pub(crate) fn name_arc(&self) -> &Arc<str> {
        &self.inner.name
    }

    /// The configuration it was built with.
    pub fn config(&self) -> &BreakerConfig {
        &self.inner.config
    }

    /// The current state. An open breaker whose wait has ended still reports `Open` until the
    /// next call (or the timer, with `automatic_transition_to_half_open`) moves it.
    pub fn state(&self) -> State {
        state_of(self.inner.word.load(Ordering::Acquire))
    }

    /// The breaker's clock reading.
    pub fn now(&self) -> Duration {
        self.inner.clock.now()
    }

    /// Whether wedding-day mode is on.
    pub fn is_wedding_day(&self) -> bool {
        self.inner.word.load(Ordering::Acquire) & WEDDING != 0
    }

    /// Switches wedding-day mode: the [`WeddingDay`](crate::WeddingDay) overrides apply from the
    /// next call on. The window and state are kept. Returns whether the mode changed.
    pub fn set_wedding_day(&self, on: bool) -> bool {
        self.inner.set_wedding_day(on, Origin::Local)
    }

    /// Asks for permission to make one call. Record its outcome through the [`Permit`]; dropping
    /// the permit unrecorded frees its half-open slot and records nothing.
    #[inline]
    pub fn try_acquire(&self) -> Result<Permit<'_>, Rejected> {
        let ticket = self.inner.acquire()?;
        Ok(Permit {
            inner: &self.inner,
            ticket,
            armed: true,
        })
    }

    /// Like [`try_acquire`](Self::try_acquire), with a permit that owns a handle on the breaker
    /// (for futures that must be `'static`).
    pub fn try_acquire_owned(&self) -> Result<OwnedPermit, Rejected> {
        let ticket = self.inner.acquire()?;
        Ok(OwnedPermit {
            inner: Arc::clone(&self.inner),
            ticket,
            armed: true,
        })
    }

    /// Runs `f` if permitted; `Ok` counts as a success and `Err` as a failure.
    #[inline]
    pub fn call<T, E, F>(&self, f: F) -> Result<T, CallError<E>>
    where
        F: FnOnce() -> Result<T, E>,
    {
        self.call_with(&DefaultClassifier, f)
    }

    /// Runs `f` if permitted and records the outcome `classifier` gives its result.
    #[inline]
    pub fn call_with<T, E, C, F>(&self, classifier: &C, f: F) -> Result<T, CallError<E>>
    where
        C: Classifier<T, E> + ?Sized,
        F: FnOnce() -> Result<T, E>,
    {
        let permit = self.try_acquire().map_err(CallError::Rejected)?;
        let result = f();
        permit.record_result(&result, classifier);
        result.map_err(CallError::Inner)
    }

    /// Awaits the future `f` returns if permitted; `Ok` counts as a success, `Err` as a failure.
    /// Dropping the returned future before it completes records nothing and frees a half-open
    /// slot.
    pub async fn call_async<T, E, F, Fut>(&self, f: F) -> Result<T, CallError<E>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        self.call_async_with(&DefaultClassifier, f).await
    }

    /// [`call_async`](Self::call_async) with a classifier.
    pub async fn call_async_with<T, E, C, F, Fut>(
        &self,
        classifier: &C,
        f: F,
    ) -> Result<T, CallError<E>>
    where
        C: Classifier<T, E> + ?Sized,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let permit = self.try_acquire().map_err(CallError::Rejected)?;
        let result = f().await;
        permit.record_result(&result, classifier);
        result.map_err(CallError::Inner)
    }

    /// Awaits `f()` for at most `timeout` (tokio's clock) if permitted. A timeout cancels the
    /// call, records a failure and returns [`CallError::Timeout`]; otherwise `Ok` is a success and
    /// `Err` a failure.
    #[cfg(feature = "tokio")]
    pub async fn call_with_timeout<T, E, F, Fut>(
        &self,
        timeout: Duration,
        f: F,
    ) -> Result<T, CallError<E>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let permit = self.try_acquire().map_err(CallError::Rejected)?;
        match tokio::time::timeout(timeout, f()).await {
            Ok(result) => {
                permit.record_result(&result, &DefaultClassifier);
                result.map_err(CallError::Inner)
            }
            Err(_) => {
                permit.record_elapsed(Outcome::Failure, timeout);
                Err(CallError::Timeout(timeout))
            }
        }
    }

    /// A snapshot of the state and the current window.
    pub fn metrics(&self) -> Metrics {
        self.inner.metrics()
    }

    /// How long until this breaker admits a half-open probe, read from its clock now.
    ///
    /// - `Open`: `Some(open deadline − now)`, the same value a rejected call carries in
    ///   [`Rejected::retry_after`]. `Some(Duration::ZERO)` once the wait has ended but no call (or
    ///   timer) has moved the breaker to half-open yet: the next call is admitted as a probe.
    ///   The deadline is the one in force: a trip's (growing) open duration, `open_for`,
    ///   `open_until`, or a classifier's `Retry-After`.
    /// - `ForcedOpen`: `None` — it has no deadline; it rejects until an operator acts.
    /// - `HalfOpen`: `None` — probes are admitted now while slots are free (a call rejected
    ///   because all slots are taken carries no `retry_after` either).
    /// - `Closed`, `Disabled`, `MetricsOnly`: `None` — calls are admitted.
    ///
    /// Reads two atomics and takes no lock; it does not move the breaker (an open breaker whose
    /// wait has ended stays `Open` until the next call). Also in [`Metrics::retry_after`].
    ///
    /// ```
    /// use std::{sync::Arc, time::Duration};
    /// use wedsync_breaker::{BreakerConfig, CircuitBreaker, FakeClock};
    ///
    /// let clock = FakeClock::new();
    /// let cb = CircuitBreaker::builder("stripe")
    ///     .config(BreakerConfig::default())
    ///     .clock(Arc::new(clock.clone()))
    ///     .build();
    /// assert_eq!(cb.retry_after(), None); // closed
    /// cb.open_for(Duration::from_secs(30));
    /// clock.advance(Duration::from_secs(10));
    /// assert_eq!(cb.retry_after(), Some(Duration::from_secs(20)));
    /// clock.advance(Duration::from_secs(25));
    /// assert_eq!(cb.retry_after(), Some(Duration::ZERO)); // the next call is a probe
    /// cb.force_open();
    /// assert_eq!(cb.retry_after(), None); // no deadline
    /// ```
    pub fn retry_after(&self) -> Option<Duration> {
        self.inner.retry_after()
    }

    /// Rejects every call until another operation changes the state.
    pub fn force_open(&self) {
        self.inner
            .manual(State::ForcedOpen, None, Origin::Local, false);
    }

    /// Opens for `d`, then half-opens as after a trip. The consecutive-openings count is not
    /// increased.
    pub fn open_for(&self, d: Duration) {
        self.inner
            .manual(State::Open, Some(d), Origin::Local, false);
    }

    /// Opens until the wall-clock time `t` (converted to the breaker's clock now); a time in the
    /// past half-opens on the next call.
    pub fn open_until(&self, t: SystemTime) {
        let d = t
            .duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO);
        self.open_for(d);
    }

    /// Closes with a fresh window.
    pub fn close(&self) {
        self.inner.manual(State::Closed, None, Origin::Local, false);
    }

    /// Admits everything and records nothing until another operation changes the state.
    pub fn disable(&self) {
        self.inner
            .manual(State::Disabled, None, Origin::Local, false);
    }

    /// Admits and records everything, publishes threshold events, never transitions.
    pub fn metrics_only(&self) {
        self.inner
            .manual(State::MetricsOnly, None, Origin::Local, false);
    }

    /// Closes with a fresh window, clears consecutive openings and the not-permitted counter, and
    /// publishes a `Reset` event (always, even when already closed).
    pub fn reset(&self) {
        self.inner.manual(State::Closed, None, Origin::Local, true);
    }

    /// Moves an open or forced-open breaker to half-open now.
    pub fn half_open(&self) -> Result<(), TransitionError> {
        self.transition_to(State::HalfOpen)
    }

    /// Moves to `to` as an operator would. `Open` opens for the configured duration. Moving to
    /// `HalfOpen` from anything but `Open`/`ForcedOpen` is a [`TransitionError`]; moving to the
    /// current state does nothing and publishes nothing.
    pub fn transition_to(&self, to: State) -> Result<(), TransitionError> {
        let from = self.state();
        if !from.can_transition_to(to) {
            return Err(TransitionError {
                breaker: Arc::clone(&self.inner.name),
                from,
                to,
            });
        }
        let open = (to == State::Open).then(|| {
            let r = self.inner.rules_now();
            r.open.for_opening(1, 0.5)
        });
        if to == State::HalfOpen {
            if let Err(from) = self.inner.manual_half_open(Origin::Local) {
                return Err(TransitionError {
                    breaker: Arc::clone(&self.inner.name),
                    from,
                    to,
                });
            }
            return Ok(());
        }
        self.inner.manual(to, open, Origin::Local, false);
        Ok(())
    }

    /// Calls `f` with every event of this breaker, outside any internal lock (so `f` may read or
    /// operate the breaker). A panic in `f` is caught and ignored.
    pub fn subscribe(&self, f: impl Fn(&Event) + Send + Sync + 'static) -> SubscriptionId {
        self.inner.subs.add(Arc::new(f))
    }

    pub(crate) fn subscribe_arc(&self, f: Arc<dyn Fn(&Event) + Send + Sync>) -> SubscriptionId {
        self.inner.subs.add(f)
    }

    /// Removes a subscriber; returns whether it was there.
    pub fn unsubscribe(&self, id: SubscriptionId) -> bool {
        self.inner.subs.remove(id)
    }

    /// Applies a change published by another process, without publishing it again. See
    /// [`crate::sync`] for what each kind does.
    pub fn apply_remote(&self, change: &SharedChange) -> RemoteApplied {
        if let Some((_, me)) = &self.inner.sync {
            if **me == *change.instance {
                return RemoteApplied::OwnInstance;
            }
        }
        let i = &self.inner;
        let changed = match change.kind {
            SharedChangeKind::Transition {
                to: State::Open, ..
            } => {
                let w = i.word.load(Ordering::Acquire);
                matches!(state_of(w), State::Closed | State::HalfOpen)
                    && i.transition_auto(w, State::Open, OpenSpec::Trip, Origin::Remote)
            }
            SharedChangeKind::Transition { .. } => false,
            SharedChangeKind::ForcedOpen { until: None } => {
                i.manual(State::ForcedOpen, None, Origin::Remote, false)
            }
            SharedChangeKind::ForcedOpen { until: Some(t) } => {
                match t.duration_since(SystemTime::now()) {
                    Ok(d) if !d.is_zero() => i.manual(State::Open, Some(d), Origin::Remote, false),
                    _ => false,
                }
            }
            SharedChangeKind::Reset => i.manual(State::Closed, None, Origin::Remote, true),
            SharedChangeKind::Close => i.manual(State::Closed, None, Origin::Remote, false),
            SharedChangeKind::Disable => i.manual(State::Disabled, None, Origin::Remote, false),
            SharedChangeKind::MetricsOnly => {
                i.manual(State::MetricsOnly, None, Origin::Remote, false)
            }
            SharedChangeKind::WeddingDay { on } => i.set_wedding_day(on, Origin::Remote),
        };
        if changed {
            RemoteApplied::Applied
        } else {
            RemoteApplied::Unchanged
        }
    }

    /// The number of consecutive openings since the breaker last closed.
    pub fn consecutive_openings(&self) -> u32 {
        lock(&self.inner.ctl).consecutive_opens
    }

    /// Whether `other` is a handle on the same breaker.
    pub fn ptr_eq(&self, other: &CircuitBreaker) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}

/// Permission to make one call, borrowed from the breaker. Record the outcome with one of the
/// `record*` methods; dropping it unrecorded (cancellation, panic) records nothing and frees its
/// half-open slot.
#[must_use = "record the outcome, or drop the permit to release it"]
pub struct Permit<'a> {
    inner: &'a Inner,
    ticket: Ticket,
    armed: bool,
}

/// Like [`Permit`], holding its own handle on the breaker (`'static`, `Send`).
#[must_use = "record the outcome, or drop the permit to release it"]
pub struct OwnedPermit {
    inner: Arc<Inner>,
    ticket: Ticket,
    armed: bool,
}

macro_rules! permit_methods {
    () => {
        /// The state that admitted the call.
        pub fn state(&self) -> State {
            state_of(self.ticket.word)
        }

        /// Records `outcome`, timing the call from admission for slow-call detection.
        #[inline]
        pub fn record(mut self, outcome: Outcome) {
            self.armed = false;
            self.inner.record(self.ticket, outcome, None);
        }

        /// Records `outcome` with a duration measured by the caller.
        pub fn record_elapsed(mut self, outcome: Outcome, elapsed: Duration) {
            self.armed = false;
            self.inner
                .record(self.ticket, outcome, Some(duration_nanos(elapsed)));
        }

        /// Records a success.
        #[inline]
        pub fn success(self) {
            self.record(Outcome::Success)
        }

        /// Records a failure.
        pub fn failure(self) {
            self.record(Outcome::Failure)
        }

        /// Records the outcome `classifier` gives `result`, first honouring its
        /// [`open_for`](Classifier::open_for) hook when the call was admitted while closed.
        #[inline]
        pub fn record_result<T, E, C>(self, result: &Result<T, E>, classifier: &C)
        where
            C: Classifier<T, E> + ?Sized,
        {
            if state_of(self.ticket.word) == State::Closed {
                if let Some(d) = classifier.open_for(result) {
                    self.inner.hook_open(self.ticket.word, d);
                }
            }
            self.record(classifier.classify(result))
        }
    };
}

impl Permit<'_> {
    permit_methods!();
}

impl OwnedPermit {
    permit_methods!();
}

impl Drop for Permit<'_> {
    #[inline]
    fn drop(&mut self) {
        if self.armed {
            self.inner.release(self.ticket);
        }
    }
}

impl Drop for OwnedPermit {
    fn drop(&mut self) {
        if self.armed {
            self.inner.release(self.ticket);
        }
    }
}

impl fmt::Debug for Permit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Permit")
            .field("breaker", &self.inner.name)
            .field("state", &self.state())
            .finish()
    }
}

impl fmt::Debug for OwnedPermit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnedPermit")
            .field("breaker", &self.inner.name)
            .field("state", &self.state())
            .finish()
    }
}

/// Events and a shared change produced under the lock, delivered after it is released.
struct Effects {
    events: Vec<EventKind>,
    shared: Option<SharedChangeKind>,
    origin: Origin,
    at: Duration,
    timer: Option<(u64, Duration)>,
}

impl Inner {
    #[inline]
    fn now_nanos(&self) -> u64 {
        self.clock.now_nanos()
    }

    fn rules_now(&self) -> &Rules {
        &self.rules[wedding_of(self.word.load(Ordering::Acquire))]
    }

    #[inline]
    fn acquire(&self) -> Result<Ticket, Rejected> {
        let w = self.word.load(Ordering::Acquire);
        match state_of(w) {
            State::Closed | State::MetricsOnly => Ok(Ticket {
                word: w,
                start: self.start_tick(w),
            }),
            State::Disabled => Ok(Ticket {
                word: w,
                start: NO_START,
            }),
            _ => self.acquire_slow(w),
        }
    }

    #[inline]
    fn start_tick(&self, w: u64) -> u64 {
        if self.timed[wedding_of(w)] {
            self.now_nanos()
        } else {
            NO_START
        }
    }

    #[cold]
    fn acquire_slow(&self, mut w: u64) -> Result<Ticket, Rejected> {
        loop {
            let st = state_of(w);
            match st {
                State::Closed | State::MetricsOnly | State::Disabled => {
                    return Ok(Ticket {
                        word: w,
                        start: if st == State::Disabled {
                            NO_START
                        } else {
                            self.start_tick(w)
                        },
                    })
                }
                State::ForcedOpen => return Err(self.reject(st, None)),
                State::Open => {
                    let now = self.now_nanos();
                    let until = self.open_until.load(Ordering::Acquire);
                    if now < until {
                        return Err(self.reject(st, Some(Duration::from_nanos(until - now))));
                    }
                    self.transition_auto(w, State::HalfOpen, OpenSpec::Trip, Origin::Local);
                }
                State::HalfOpen => {
                    let rules = &self.rules[wedding_of(w)];
                    if let Some(max) = rules.max_wait_in_half_open {
                        let now = self.now_nanos();
                        let entered = self.entered_at.load(Ordering::Acquire);
                        if now.saturating_sub(entered) >= duration_nanos(max) {
                            let to = match rules.half_open_timeout {
                                HalfOpenTimeout::Open => State::Open,
                                HalfOpenTimeout::Closed => State::Closed,
                            };
                            self.transition_auto(w, to, OpenSpec::Trip, Origin::Local);
                            w = self.word.load(Ordering::Acquire);
                            continue;
                        }
                    }
                    let tag = gen_of(w) & 0xFFFF_FFFF;
                    let mut s = self.half_slots.load(Ordering::Acquire);
                    loop {
                        if s >> 32 != tag {
                            break; // the state moved on; re-read it
                        }
                        if (s & 0xFFFF_FFFF) >= u64::from(rules.permitted) {
                            return Err(self.reject(st, None));
                        }
                        match self.half_slots.compare_exchange_weak(
                            s,
                            s + 1,
                            Ordering::AcqRel,
                            Ordering::Acquire,
                        ) {
                            Ok(_) => {
                                return Ok(Ticket {
                                    word: w,
                                    start: self.start_tick(w),
                                })
                            }
                            Err(actual) => s = actual,
                        }
                    }
                }
            }
            w = self.word.load(Ordering::Acquire);
        }
    }

    fn reject(&self, state: State, retry_after: Option<Duration>) -> Rejected {
        self.not_permitted.fetch_add(1, Ordering::Relaxed);
        let r = Rejected {
            breaker: Arc::clone(&self.name),
            state,
            retry_after,
        };
        if self.subs.any.load(Ordering::Acquire) {
            self.subs.emit(&Event {
                breaker: Arc::clone(&self.name),
                at: self.clock.now(),
                origin: Origin::Local,
                kind: EventKind::Rejected { state, retry_after },
            });
        }
        r
    }

    /// A permit dropped without an outcome: free its half-open slot.
    fn release(&self, t: Ticket) {
        if state_of(t.word) == State::HalfOpen {
            self.release_slot(t.word);
        }
    }

    fn release_slot(&self, word: u64) {
        let tag = gen_of(word) & 0xFFFF_FFFF;
        let _ = self
            .half_slots
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |s| {
                (s >> 32 == tag && s & 0xFFFF_FFFF > 0).then(|| s - 1)
            });
    }

    #[inline]
    fn is_slow(
        &self,
        rules: &Rules,
        t: &Ticket,
        elapsed: Option<u64>,
        now: &mut Option<u64>,
    ) -> bool {
        let Some(threshold) = rules.slow_call_nanos else {
            return false;
        };
        let elapsed = match elapsed {
            Some(e) => e,
            None if t.start != NO_START => {
                let n = self.now_nanos();
                *now = Some(n);
                n.saturating_sub(t.start)
            }
            None => return false,
        };
        elapsed > threshold
    }

    #[inline]
    fn record(&self, t: Ticket, outcome: Outcome, elapsed: Option<u64>) {
        match state_of(t.word) {
            State::Closed | State::MetricsOnly => {
                if outcome == Outcome::Ignored {
                    return;
                }
                let cur = self.word.load(Ordering::Acquire);
                if !same_gen(cur, t.word) {
                    return; // belongs to an earlier state
                }
                let rules = &self.rules[wedding_of(cur)];
                let failed = outcome == Outcome::Failure;
                let mut now = None;
                let slow = self.is_slow(rules, &t, elapsed, &mut now);
                match &self.closed {
                    ClosedWindow::Count(w) => {
                        if !failed
                            && !slow
                            && w.full_of_successes(epoch_of(cur))
                            && self.exceeded.load(Ordering::Relaxed) == 0
                        {
                            return; // a fast success replacing a fast success: nothing changes
                        }
                        if let Some(c) = w.record(epoch_of(cur), failed, slow) {
                            self.evaluate_closed(cur, c, rules, None);
                        }
                    }
                    ClosedWindow::Time(w) => {
                        let now = now.unwrap_or_else(|| self.now_nanos());
                        let second = now / 1_000_000_000;
                        if let Some(Some(c)) = w.record(epoch_of(cur), second, failed, slow) {
                            self.evaluate_closed(cur, c, rules, Some(second));
                        }
                    }
                }
            }
            State::HalfOpen => self.record_half_open(t, outcome, elapsed),
            _ => {}
        }
    }

    #[inline]
    fn evaluate_closed(&self, cur: u64, c: Counts, rules: &Rules, second: Option<u64>) {
        if c.calls < rules.minimum_calls {
            if let ClosedWindow::Time(w) = &self.closed {
                w.clear_healthy();
            }
            return;
        }
        let (f_ex, s_ex) = exceeded(c, rules);
        if f_ex || s_ex {
            if let ClosedWindow::Time(w) = &self.closed {
                w.clear_healthy();
            }
        } else {
            if self.exceeded.load(Ordering::Relaxed) != 0 {
                self.exceeded.store(0, Ordering::Relaxed);
            }
            if let (ClosedWindow::Time(w), Some(s)) = (&self.closed, second) {
                w.mark_healthy(epoch_of(cur), s);
            }
            return;
        }
        self.threshold_exceeded(cur, c, f_ex, s_ex);
    }

    #[cold]
    fn threshold_exceeded(&self, cur: u64, c: Counts, f_ex: bool, s_ex: bool) {
        let flags = u8::from(f_ex) | (u8::from(s_ex) << 1);
        let prev = self.exceeded.swap(flags, Ordering::AcqRel);
        let newly = flags & !prev;
        let at = self.clock.now();
        if newly & 1 != 0 {
            self.emit(
                at,
                Origin::Local,
                EventKind::FailureRateExceeded {
                    rate: c.failed as f32 * 100.0 / c.calls as f32,
                },
            );
        }
        if newly & 2 != 0 {
            self.emit(
                at,
                Origin::Local,
                EventKind::SlowCallRateExceeded {
                    rate: c.slow as f32 * 100.0 / c.calls as f32,
                },
            );
        }
        if state_of(cur) == State::Closed {
            self.transition_auto(cur, State::Open, OpenSpec::Trip, Origin::Local);
        }
    }

    fn record_half_open(&self, t: Ticket, outcome: Outcome, elapsed: Option<u64>) {
        let cur = self.word.load(Ordering::Acquire);
        if !same_gen(cur, t.word) {
            return;
        }
        if outcome == Outcome::Ignored {
            self.release_slot(t.word);
            return;
        }
        let rules = &self.rules[wedding_of(cur)];
        let mut now = None;
        let slow = self.is_slow(rules, &t, elapsed, &mut now);
        let Some(c) = self
            .half
            .record(epoch_of(cur), outcome == Outcome::Failure, slow)
        else {
            return;
        };
        let needed = rules.minimum_calls.min(rules.permitted);
        if c.calls < needed {
            return;
        }
        let (f_ex, s_ex) = exceeded(c, rules);
        let to = if f_ex || s_ex {
            State::Open
        } else {
            State::Closed
        };
        self.transition_auto(cur, to, OpenSpec::Trip, Origin::Local);
    }

    /// A `Retry-After`-style hook asked to open for `d` (closed state only).
    fn hook_open(&self, admitted: u64, d: Duration) {
        let ctl = lock(&self.ctl);
        let cur = self.word.load(Ordering::Acquire);
        if !same_gen(cur, admitted) || state_of(cur) != State::Closed {
            return;
        }
        let shared = SharedChangeKind::ForcedOpen {
            until: Some(SystemTime::now() + d),
        };
        self.commit(
            ctl,
            cur,
            State::Open,
            OpenSpec::For(d),
            Origin::Local,
            Some(shared),
            false,
        );
    }

    /// An automatic transition from the exact state `expect` (same generation); returns whether
    /// this thread made it.
    fn transition_auto(&self, expect: u64, to: State, open: OpenSpec, origin: Origin) -> bool {
        let ctl = lock(&self.ctl);
        let cur = self.word.load(Ordering::Acquire);
        if !same_gen(cur, expect) || state_of(cur) == to {
            return false;
        }
        if to == State::HalfOpen && state_of(cur) == State::Open {
            // Re-check the deadline under the lock.
            if self.now_nanos() < self.open_until.load(Ordering::Acquire) {
                return false;
            }
        }
        self.commit(ctl, cur, to, open, origin, None, false);
        true
    }

    /// A manual operation. `open` is the open duration when `to == Open`.
    fn manual(&self, to: State, open: Option<Duration>, origin: Origin, reset: bool) -> bool {
        let ctl = lock(&self.ctl);
        let cur = self.word.load(Ordering::Acquire);
        let from = state_of(cur);
        let shared = match (to, reset) {
            (_, true) => SharedChangeKind::Reset,
            (State::ForcedOpen, _) => SharedChangeKind::ForcedOpen { until: None },
            (State::Open, _) => SharedChangeKind::ForcedOpen {
                until: open.map(|d| SystemTime::now() + d),
            },
            (State::Disabled, _) => SharedChangeKind::Disable,
            (State::MetricsOnly, _) => SharedChangeKind::MetricsOnly,
            _ => SharedChangeKind::Close,
        };
        if from == to && !reset {
            if to == State::Open {
                if let Some(d) = open {
                    // Already open: move the deadline, publish nothing.
                    let until = self.now_nanos().saturating_add(duration_nanos(d));
                    self.open_until.store(until, Ordering::Release);
                }
            }
            return false;
        }
        let spec = match open {
            Some(d) => OpenSpec::For(d),
            None => OpenSpec::Trip,
        };
        self.commit(ctl, cur, to, spec, origin, Some(shared), reset);
        true
    }

    /// Operator half-open; `Err(current)` when illegal.
    fn manual_half_open(&self, origin: Origin) -> Result<bool, State> {
        let ctl = lock(&self.ctl);
        let cur = self.word.load(Ordering::Acquire);
        let from = state_of(cur);
        if from == State::HalfOpen {
            return Ok(false);
        }
        if !from.can_transition_to(State::HalfOpen) {
            return Err(from);
        }
        self.commit(
            ctl,
            cur,
            State::HalfOpen,
            OpenSpec::Trip,
            origin,
            None,
            false,
        );
        Ok(true)
    }

    fn set_wedding_day(&self, on: bool, origin: Origin) -> bool {
        let ctl = lock(&self.ctl);
        let cur = self.word.load(Ordering::Acquire);
        if (cur & WEDDING != 0) == on {
            return false;
        }
        let next = if on { cur | WEDDING } else { cur & !WEDDING };
        if let ClosedWindow::Time(w) = &self.closed {
            // The thresholds change: a healthy verdict under the old ones no longer holds.
            w.clear_healthy();
        }
        self.word.store(next, Ordering::Release);
        drop(ctl);
        self.deliver(Effects {
            events: vec![EventKind::WeddingDay { on }],
            shared: Some(SharedChangeKind::WeddingDay { on }),
            origin,
            at: self.clock.now(),
            timer: None,
        });
        true
    }

    /// Performs a transition under the lock, then releases it and delivers the effects.
    #[allow(clippy::too_many_arguments)]
    fn commit(
        &self,
        mut ctl: MutexGuard<'_, Control>,
        cur: u64,
        to: State,
        open: OpenSpec,
        origin: Origin,
        manual: Option<SharedChangeKind>,
        reset: bool,
    ) {
        let from = state_of(cur);
        let now = self.now_nanos();
        let gen = gen_of(cur).wrapping_add(1) & (u64::MAX >> GEN_SHIFT);
        let next = (gen << GEN_SHIFT) | (cur & WEDDING) | to as u64;
        let epoch = gen as u16;
        let rules = &self.rules[wedding_of(cur)];
        let mut timer = None;
        match to {
            State::Closed | State::MetricsOnly | State::Disabled => {
                match &self.closed {
                    ClosedWindow::Count(w) => w.reset(epoch),
                    ClosedWindow::Time(w) => w.reset(epoch),
                }
                self.exceeded.store(0, Ordering::Release);
                self.metrics_src.store(SRC_CLOSED, Ordering::Release);
                if to == State::Closed {
                    ctl.consecutive_opens = 0;
                }
            }
            State::Open => {
                let d = match open {
                    OpenSpec::For(d) => d,
                    OpenSpec::Trip => {
                        ctl.consecutive_opens = ctl.consecutive_opens.saturating_add(1);
                        let u = ctl.next_unit();
                        rules.open.for_opening(ctl.consecutive_opens, u)
                    }
                };
                self.open_until
                    .store(now.saturating_add(duration_nanos(d)), Ordering::Release);
                if from == State::HalfOpen {
                    self.metrics_src.store(SRC_HALF, Ordering::Release);
                }
                if self.config.automatic_transition_to_half_open {
                    timer = Some((next, d));
                }
            }
            State::HalfOpen => {
                self.half.reset(epoch);
                self.half_slots
                    .store((gen & 0xFFFF_FFFF) << 32, Ordering::Release);
                self.exceeded.store(0, Ordering::Release);
                self.metrics_src.store(SRC_HALF, Ordering::Release);
            }
            State::ForcedOpen => {}
        }
        if reset {
            ctl.consecutive_opens = 0;
            self.not_permitted.store(0, Ordering::Relaxed);
        }
        self.entered_at.store(now, Ordering::Release);
        self.word.store(next, Ordering::Release);
        drop(ctl);
        let mut events = Vec::with_capacity(1);
        if reset {
            events.push(EventKind::Reset);
        } else {
            events.push(EventKind::Transition { from, to });
        }
        let shared = manual.or(Some(SharedChangeKind::Transition { from, to }));
        self.deliver(Effects {
            events,
            shared,
            origin,
            at: Duration::from_nanos(now),
            timer,
        });
    }

    fn emit(&self, at: Duration, origin: Origin, kind: EventKind) {
        self.subs.emit(&Event {
            breaker: Arc::clone(&self.name),
            at,
            origin,
            kind,
        });
    }

    /// Delivers events and the shared change; called with no lock held.
    fn deliver(&self, fx: Effects) {
        for kind in fx.events {
            self.emit(fx.at, fx.origin, kind);
        }
        if fx.origin == Origin::Local {
            if let (Some((sync, instance)), Some(kind)) = (&self.sync, fx.shared) {
                sync.publish(&SharedChange::new(&*self.name, kind, &**instance));
            }
        }
        if let Some((word, d)) = fx.timer {
            self.start_timer(word, d);
        }
    }

    #[cfg(feature = "tokio")]
    fn start_timer(&self, word: u64, d: Duration) {
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            let me = self.me.clone();
            handle.spawn(async move {
                let mut wait = d;
                // Re-arm a few times if the breaker's clock says the deadline is still ahead
                // (timer rounding, or `open_for` moved it); give up once the state moved on.
                for _ in 0..4 {
                    tokio::time::sleep(wait).await;
                    let Some(inner) = me.upgrade() else { return };
                    if !same_gen(inner.word.load(Ordering::Acquire), word) {
                        return;
                    }
                    let (now, until) =
                        (inner.now_nanos(), inner.open_until.load(Ordering::Acquire));
                    if now >= until {
                        inner.transition_auto(word, State::HalfOpen, OpenSpec::Trip, Origin::Local);
                        return;
                    }
                    wait = Duration::from_nanos(until - now);
                }
            });
        }
    }

    #[cfg(not(feature = "tokio"))]
    fn start_timer(&self, _word: u64, _d: Duration) {}

    /// See [`CircuitBreaker::retry_after`].
    fn retry_after(&self) -> Option<Duration> {
        let mut w = self.word.load(Ordering::Acquire);
        loop {
            if state_of(w) != State::Open {
                return None;
            }
            // The deadline is stored before the state word; re-read the word so the deadline
            // belongs to the opening that was read (not to a later one, nor a stale one).
            let until = self.open_until.load(Ordering::Acquire);
            let again = self.word.load(Ordering::Acquire);
            if again == w {
                return Some(Duration::from_nanos(until.saturating_sub(self.now_nanos())));
            }
            w = again;
        }
    }

    fn metrics(&self) -> Metrics {
        let w = self.word.load(Ordering::Acquire);
        let st = state_of(w);
        let rules = &self.rules[wedding_of(w)];
        let src = match st {
            State::HalfOpen => SRC_HALF,
            State::Open | State::ForcedOpen => self.metrics_src.load(Ordering::Acquire),
            _ => SRC_CLOSED,
        };
        let (c, min) = if src == SRC_HALF {
            (
                self.half.snapshot().1,
                rules.minimum_calls.min(rules.permitted),
            )
        } else {
            let c = match &self.closed {
                ClosedWindow::Count(cw) => cw.snapshot().1,
                ClosedWindow::Time(tw) => tw.sum(tw.epoch(), self.now_nanos() / 1_000_000_000),
            };
            (c, rules.minimum_calls)
        };
        Metrics {
            state: st,
            wedding_day: w & WEDDING != 0,
            failure_rate: rate(c.failed, c.calls, min),
            slow_call_rate: rate(c.slow, c.calls, min),
            buffered_calls: c.calls,
            failed_calls: c.failed,
            slow_calls: c.slow,
            not_permitted_calls: self.not_permitted.load(Ordering::Relaxed),
            retry_after: self.retry_after(),
        }
    }
}

/// Whether the failure and slow-call rates of `c` reach their thresholds (rates ≥ threshold).
#[inline]
fn exceeded(c: Counts, rules: &Rules) -> (bool, bool) {
    let calls = c.calls as f32;
    let f = c.failed > 0 && c.failed as f32 * 100.0 / calls >= rules.failure_rate_threshold;
    let s = c.slow > 0
        && rules.slow_call_nanos.is_some()
        && c.slow as f32 * 100.0 / calls >= rules.slow_call_rate_threshold;
    (f, s)
}

#[allow(dead_code)]
fn _assert_traits() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<CircuitBreaker>();
    send_sync::<OwnedPermit>();
    send_sync::<Permit<'static>>();
}

#[cfg(all(test, feature = "serde"))]
mod serde_tests {
    use std::sync::Arc;
    use std::time::Duration;

    use crate::{BreakerConfig, CircuitBreaker, FakeClock};

    #[test]
    fn retry_after_serializes_as_whole_milliseconds_rounded_up() {
        let clock = FakeClock::new();
        let b = CircuitBreaker::builder("s")
            .config(BreakerConfig::default())
            .clock(Arc::new(clock.clone()))
            .build();
        let ms = |b: &CircuitBreaker| {
            serde_json::to_value(b.metrics()).unwrap()["retry_after_ms"].clone()
        };
        assert_eq!(ms(&b), serde_json::Value::Null);
        b.open_for(Duration::from_millis(1500));
        assert_eq!(ms(&b), 1500);
        clock.advance(Duration::from_nanos(1));
        assert_eq!(ms(&b), 1500, "1499.999999 ms rounds up");
        clock.advance(Duration::from_millis(1500));
        assert_eq!(ms(&b), 0);
        assert_eq!(super::ms_ceil(Duration::MAX), u64::MAX);
    }
}
