//! The breaker's public value types: rejections and call errors, events, metrics,
//! subscription ids.

use super::*;

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
pub(super) fn serialize_ms_ceil<S: serde::Serializer>(
    d: &Option<Duration>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.serialize_some(&ms_ceil(*d)),
        None => s.serialize_none(),
    }
}

/// `d` in whole milliseconds, rounded up, saturating.
#[cfg(feature = "serde")]
pub(super) fn ms_ceil(d: Duration) -> u64 {
    let ms = d.as_nanos().div_ceil(1_000_000);
    u64::try_from(ms).unwrap_or(u64::MAX)
}

/// An id returned by [`CircuitBreaker::subscribe`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SubscriptionId(pub(super) u64);

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
