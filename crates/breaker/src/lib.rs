//! A circuit breaker with resilience4j's semantics, made exact: count and time sliding windows,
//! failure- and slow-call-rate thresholds, bounded half-open probing, special states, events, a
//! registry with wedding-day mode and kill switches, and a trait for sharing state across
//! processes.
//!
//! # Example
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Duration;
//! use wedsync_breaker::{BreakerConfig, CallError, CircuitBreaker, FakeClock, SlidingWindow, State};
//!
//! let clock = FakeClock::new();
//! let cfg = BreakerConfig::builder()
//!     .sliding_window(SlidingWindow::Count(10))
//!     .minimum_calls(4)
//!     .failure_rate_threshold(50.0)
//!     .wait_duration_in_open(Duration::from_secs(30))
//!     .permitted_calls_in_half_open(2)
//!     .build()
//!     .unwrap();
//! let stripe = CircuitBreaker::builder("stripe")
//!     .config(cfg)
//!     .clock(Arc::new(clock.clone()))
//!     .build();
//!
//! // Two successes, two failures: 50 % ≥ 50 % once 4 calls are recorded → open.
//! for ok in [true, true, false, false] {
//!     let _ = stripe.call(|| if ok { Ok(()) } else { Err("card_declined?") });
//! }
//! assert_eq!(stripe.state(), State::Open);
//! match stripe.call(|| Ok::<_, ()>(())) {
//!     Err(CallError::Rejected(r)) => assert_eq!(r.retry_after, Some(Duration::from_secs(30))),
//!     other => panic!("expected a rejection, got {other:?}"),
//! }
//!
//! // After the wait, two probes decide; both succeed → closed.
//! clock.advance(Duration::from_secs(30));
//! let p1 = stripe.try_acquire().unwrap();
//! let p2 = stripe.try_acquire().unwrap();
//! assert!(stripe.try_acquire().is_err(), "only 2 probes in half-open");
//! p1.success();
//! p2.success();
//! assert_eq!(stripe.state(), State::Closed);
//! ```
//!
//! # Details
//!
//! - **Windows.** [`SlidingWindow::Count`] keeps the last *n* outcomes; [`SlidingWindow::Time`]
//!   keeps whole-second buckets of the last *n* seconds. No rate exists below `minimum_calls`
//!   recorded outcomes ([`Metrics::failure_rate`] is `None`), and the breaker cannot trip.
//! - **Thresholds are inclusive** (rate ≥ threshold trips); a call is slow when its duration is
//!   strictly greater than `slow_call_duration_threshold`.
//! - **Rates are evaluated after every recorded outcome, successes included.** Polly and
//!   gobreaker evaluate only on failures, so with a minimum of 4 calls the sequence failure,
//!   failure, failure, success trips here (75 % after the 4th call) but not there.
//! - **Open** rejects at once with [`Rejected`] (state and `retry_after`); the open duration is
//!   fixed or grows with consecutive openings ([`OpenDuration::Exponential`]). Open → half-open
//!   happens on the first call after the wait, or by a timer (feature `tokio`).
//! - **Half-open** admits exactly `permitted_calls_in_half_open` probes; they form a fresh count
//!   window judged after `min(minimum_calls, permitted_calls_in_half_open)` outcomes. A
//!   [`Permit`] dropped unrecorded frees its slot; [`Outcome::Ignored`] frees it too. Outcomes
//!   admitted under an earlier state never move the current one (each transition starts a new
//!   generation, and the permit remembers its own).
//! - **Special states**: disabled, forced open, metrics-only; manual control with
//!   [`CircuitBreaker::force_open`], `open_for`, `open_until`, `close`, `disable`, `reset`,
//!   `half_open` (an illegal transition is a [`TransitionError`]). A transition to the current
//!   state publishes nothing.
//! - **Events** ([`Event`]) are delivered outside every internal lock.
//! - **Wedding-day mode** ([`WeddingDay`]) swaps thresholds and open durations on one breaker
//!   ([`CircuitBreaker::set_wedding_day`]) or all ([`Registry::set_wedding_day`]).
//! - **Sharing across processes**: see [`sync`].
//!
//! # Guarantees
//!
//! - The closed-state call path takes no lock and allocates nothing. On a count window full of
//!   fast successes (the healthy steady state) a fast success is two atomic loads and no write
//!   at all, so it scales across cores; otherwise it is one compare-and-swap on the ring index,
//!   a load of the slot (a success replacing a success writes nothing) and a load of the packed
//!   counters, plus a compare-and-swap on them when they change. The clock is read only when a rule
//!   needs it — never for a count window without slow-call detection — and the default
//!   [`CoarseClock`] costs one atomic load, so timing a call never costs two `Instant::now()`.
//! - Transitions take a per-breaker mutex; events and [`StateSync::publish`] run after it is
//!   released.
//! - No `unsafe` code.
//!
//! # Feature flags
//!
//! | feature | default | adds |
//! |---|---|---|
//! | `tokio` | no | timer-driven open → half-open (`automatic_transition_to_half_open`) and [`CircuitBreaker::call_with_timeout`] |
//! | `tower` | no | [`tower::BreakerLayer`], a `tower::Layer` honouring `poll_ready` |
//! | `reqwest` | no | [`reqwest::ReqwestClassifier`]: 5xx/408/429/timeouts/connect errors are failures, 429 `Retry-After` opens the breaker |
//! | `serde` | no | `Deserialize`/`Serialize` for [`BreakerConfig`] (the keys in `docs/breaker.md`) and [`State`]; `Serialize` for [`Metrics`] |
//! | `sim` | no | the `breaker-sim` binary (implies `serde`) |

mod breaker;
pub mod clock;
pub mod config;
mod outcome;
mod registry;
#[cfg(feature = "reqwest")]
pub mod reqwest;
#[cfg(feature = "sim")]
pub mod sim;
mod state;
pub mod sync;
#[cfg(feature = "tower")]
pub mod tower;
mod window;

pub use breaker::{
    BreakerBuilder, CallError, CircuitBreaker, Event, EventKind, Metrics, Origin, OwnedPermit,
    Permit, Rejected, SubscriptionId, TransitionError,
};
pub use clock::{Clock, CoarseClock, FakeClock, MonotonicClock};
pub use config::{
    BreakerConfig, BreakerConfigBuilder, ConfigError, HalfOpenTimeout, OpenDuration, SlidingWindow,
    WeddingDay,
};
pub use outcome::{Classifier, DefaultClassifier, Outcome};
pub use registry::{Group, Registry, RegistryBuilder};
pub use state::{ParseStateError, State};
pub use sync::{RemoteApplied, SharedChange, SharedChangeKind, StateSync};

/// The package name of this crate.
pub const CRATE_NAME: &str = "wedsync-breaker";
