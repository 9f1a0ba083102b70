//! Wall clocks, injectable so tests control time.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use time::OffsetDateTime;

/// A source of the current time.
pub trait Clock: Send + Sync {
    /// Now.
    fn now(&self) -> OffsetDateTime;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

/// A clock that moves only when told (tests, replays of recorded traffic).
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<Mutex<OffsetDateTime>>);

impl ManualClock {
    /// A clock showing `start`.
    pub fn new(start: OffsetDateTime) -> Self {
        ManualClock(Arc::new(Mutex::new(start)))
    }

    /// Move forward by `d`.
    pub fn advance(&self, d: Duration) {
        let mut t = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *t += d;
    }

    /// Jump to `t`.
    pub fn set(&self, t: OffsetDateTime) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = t;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A wall clock that follows tokio's clock: `start` plus the tokio time elapsed since creation, so
/// `tokio::time::pause()` / `advance()` drive it (feature `forward`).
#[cfg(feature = "forward")]
#[derive(Debug, Clone, Copy)]
pub struct TokioClock {
    start: OffsetDateTime,
    origin: tokio::time::Instant,
}

#[cfg(feature = "forward")]
impl TokioClock {
    /// A clock showing `start` now.
    pub fn new(start: OffsetDateTime) -> Self {
        TokioClock {
            start,
            origin: tokio::time::Instant::now(),
        }
    }
}

#[cfg(feature = "forward")]
impl Clock for TokioClock {
    fn now(&self) -> OffsetDateTime {
        self.start + self.origin.elapsed()
    }
}
