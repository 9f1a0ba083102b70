//! Monotonic clocks: the breaker never reads the wall clock for its decisions.
//!
//! A [`Clock`] returns the time elapsed since an arbitrary, fixed origin. Three are provided:
//!
//! | clock | cost of `now()` | resolution | use |
//! |---|---|---|---|
//! | [`CoarseClock`] | one atomic load (~1 ns) | its tick (1 ms by default) | the default: slow-call timing and time windows without a syscall per call |
//! | [`MonotonicClock`] | one `Instant::now()` (~20–40 ns on a VM) | nanoseconds | when sub-millisecond slow-call thresholds matter |
//! | [`FakeClock`] | one atomic load | exact | tests and the `breaker-sim` simulator: time moves only when told |

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// A monotonic clock, injected into every breaker so each rule is testable without sleeping.
///
/// `now()` must never go backwards. It is read on the call path only when a rule needs it: a
/// count window without slow-call detection never reads the clock while the breaker is closed.
pub trait Clock: Send + Sync + fmt::Debug + 'static {
    /// Time elapsed since this clock's origin.
    fn now(&self) -> Duration;

    /// [`now`](Clock::now) in whole nanoseconds (saturating); what the breaker reads on its call
    /// path. Override it when the clock keeps nanoseconds natively.
    #[inline]
    fn now_nanos(&self) -> u64 {
        duration_nanos(self.now())
    }
}

/// A precise clock backed by [`std::time::Instant`].
#[derive(Debug, Clone, Copy)]
pub struct MonotonicClock {
    origin: Instant,
}

impl MonotonicClock {
    /// A clock whose origin is now.
    pub fn new() -> Self {
        Self {
            origin: Instant::now(),
        }
    }
}

impl Default for MonotonicClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for MonotonicClock {
    fn now(&self) -> Duration {
        self.origin.elapsed()
    }
}

/// A cheap clock: one background thread per process stores `Instant::now()` into an atomic every
/// tick (1 ms), and `now()` is a single atomic load.
///
/// This is how the breaker times calls for slow-call detection and buckets time windows without
/// paying for two `Instant::now()` per call. Durations it measures are accurate to one tick, so a
/// slow-call threshold should be well above 1 ms (they are seconds in practice). The ticker thread
/// (`wedsync-coarse-clock`) is started on first use and shared by every `CoarseClock` in the process.
#[derive(Clone)]
pub struct CoarseClock {
    shared: &'static CoarseShared,
}

impl fmt::Debug for CoarseClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CoarseClock")
            .field("resolution", &COARSE_TICK)
            .finish()
    }
}

struct CoarseShared {
    origin: Instant,
    nanos: AtomicU64,
    started: AtomicBool,
}

/// The tick of the process-wide [`CoarseClock`].
pub const COARSE_TICK: Duration = Duration::from_millis(1);

static COARSE: OnceLock<CoarseShared> = OnceLock::new();

impl CoarseClock {
    /// A handle on the process-wide coarse clock, starting its ticker thread if needed.
    pub fn new() -> Self {
        let shared = COARSE.get_or_init(|| CoarseShared {
            origin: Instant::now(),
            nanos: AtomicU64::new(0),
            started: AtomicBool::new(false),
        });
        if !shared.started.swap(true, Ordering::AcqRel) {
            let spawned = std::thread::Builder::new()
                .name("wedsync-coarse-clock".into())
                .spawn(move || loop {
                    std::thread::sleep(COARSE_TICK);
                    let now = duration_nanos(shared.origin.elapsed());
                    shared.nanos.fetch_max(now, Ordering::Relaxed);
                });
            if spawned.is_err() {
                // No thread: fall back to updating on read (still correct, just slower).
                shared.started.store(false, Ordering::Release);
            }
        }
        Self { shared }
    }
}

impl Default for CoarseClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for CoarseClock {
    #[inline]
    fn now(&self) -> Duration {
        Duration::from_nanos(self.now_nanos())
    }

    #[inline]
    fn now_nanos(&self) -> u64 {
        if !self.shared.started.load(Ordering::Relaxed) {
            let now = duration_nanos(self.shared.origin.elapsed());
            self.shared.nanos.fetch_max(now, Ordering::Relaxed);
        }
        self.shared.nanos.load(Ordering::Relaxed)
    }
}

/// A manual clock for tests and simulation: time moves only through [`FakeClock::advance`] and
/// [`FakeClock::set`]. Clones share the same time.
#[derive(Debug, Clone, Default)]
pub struct FakeClock {
    nanos: Arc<AtomicU64>,
}

impl FakeClock {
    /// A fake clock at time zero.
    pub fn new() -> Self {
        Self::default()
    }

    /// Moves time forward by `by`.
    pub fn advance(&self, by: Duration) {
        self.nanos.fetch_add(duration_nanos(by), Ordering::SeqCst);
    }

    /// Sets the time to `to`; a value earlier than now is ignored (the clock is monotonic).
    pub fn set(&self, to: Duration) {
        self.nanos.fetch_max(duration_nanos(to), Ordering::SeqCst);
    }
}

impl Clock for FakeClock {
    fn now(&self) -> Duration {
        Duration::from_nanos(self.now_nanos())
    }

    fn now_nanos(&self) -> u64 {
        self.nanos.load(Ordering::SeqCst)
    }
}

#[inline]
pub(crate) fn duration_nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fake_clock_moves_only_when_told_and_never_back() {
        let c = FakeClock::new();
        assert_eq!(c.now(), Duration::ZERO);
        c.advance(Duration::from_millis(5));
        assert_eq!(c.now(), Duration::from_millis(5));
        c.set(Duration::from_millis(2));
        assert_eq!(c.now(), Duration::from_millis(5));
        let d = c.clone();
        d.advance(Duration::from_secs(1));
        assert_eq!(c.now(), Duration::from_millis(1005));
    }

    #[test]
    fn coarse_clock_advances() {
        let c = CoarseClock::new();
        let a = c.now();
        // The ticker thread may not be scheduled for a while on a loaded machine: wait for it
        // (bounded) instead of assuming it ran within one short sleep.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let mut b = c.now();
        while b <= a && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
            b = c.now();
        }
        assert!(b > a, "{a:?} -> {b:?}");
        let m = MonotonicClock::new();
        assert!(m.now() <= m.now());
    }
}
