//! The circuit breaker: [`CircuitBreaker`], its builder and its lock-free state word; the
//! transitions are in `machine.rs`, the public value types in `types.rs`, permits in `permit.rs`.

mod machine;
mod permit;
mod types;

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

pub use permit::{OwnedPermit, Permit};
pub use types::{
    CallError, Event, EventKind, Metrics, Origin, Rejected, SubscriptionId, TransitionError,
};

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

#[allow(dead_code)]
fn _assert_traits() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<CircuitBreaker>();
    send_sync::<OwnedPermit>();
    send_sync::<Permit<'static>>();
}
