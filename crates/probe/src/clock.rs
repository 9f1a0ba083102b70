//! Wall-clock time for the monitor, alert engine and outbox.

use std::fmt;

/// Unix-millisecond wall time. The monitor reads all times through one of these, so tests can run
/// under tokio's paused clock and start on any date.
pub trait WallClock: Send + Sync + fmt::Debug {
    /// Now, in unix milliseconds (UTC).
    fn now_ms(&self) -> i64;
}

/// The system's UTC clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl WallClock for SystemClock {
    fn now_ms(&self) -> i64 {
        crate::now_ms()
    }
}

/// Wall time that advances with tokio's clock from a fixed start: under `tokio::time::pause()`
/// it advances only when the test advances it. Outside tests it is monotonic wall time anchored
/// at construction (immune to NTP steps).
#[derive(Debug, Clone, Copy)]
pub struct TokioClock {
    base_ms: i64,
    base: tokio::time::Instant,
}

impl TokioClock {
    /// Starts at the system's current time.
    pub fn new() -> Self {
        Self::starting_at(crate::now_ms())
    }

    /// Starts at `unix_ms` (e.g. a Saturday, to test wedding days).
    pub fn starting_at(unix_ms: i64) -> Self {
        TokioClock {
            base_ms: unix_ms,
            base: tokio::time::Instant::now(),
        }
    }
}

impl Default for TokioClock {
    fn default() -> Self {
        Self::new()
    }
}

impl WallClock for TokioClock {
    fn now_ms(&self) -> i64 {
        self.base_ms + self.base.elapsed().as_millis() as i64
    }
}
