//! Lock-free sliding windows.
//!
//! Both windows are tagged with an epoch (the low 16 bits of the breaker's generation, which
//! changes on every transition). Resetting a window is one store of a new epoch; an outcome
//! recorded under an older epoch is detected and dropped, so an outcome that belongs to an
//! earlier state never counts in the current one.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

/// Counts of one window at one instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Counts {
    pub calls: u32,
    pub failed: u32,
    pub slow: u32,
}

const FILLED: u32 = 1;
const FAILED: u32 = 2;
const SLOW: u32 = 4;

fn bits(failed: bool, slow: bool) -> u32 {
    FILLED | if failed { FAILED } else { 0 } | if slow { SLOW } else { 0 }
}

// counts word: [epoch:16 | calls:16 | failed:16 | slow:16]
fn pack(epoch: u16, c: Counts) -> u64 {
    (u64::from(epoch) << 48)
        | ((u64::from(c.calls) & 0xFFFF) << 32)
        | ((u64::from(c.failed) & 0xFFFF) << 16)
        | (u64::from(c.slow) & 0xFFFF)
}

fn unpack(w: u64) -> (u16, Counts) {
    (
        (w >> 48) as u16,
        Counts {
            calls: ((w >> 32) & 0xFFFF) as u32,
            failed: ((w >> 16) & 0xFFFF) as u32,
            slow: (w & 0xFFFF) as u32,
        },
    )
}

/// The last `n` outcomes, in a ring of epoch-tagged slots plus one packed counter word.
///
/// A slot whose epoch differs from the window's is empty. Recording: claim the next slot index,
/// read the slot; when it already holds the same outcome in this epoch (the common case of a
/// success replacing a success) nothing is written at all; otherwise swap the slot and apply the
/// difference to the counter word with a compare-and-swap that fails if the epoch moved on.
///
/// `H` holds the ring index: [`CachePadded`] for the closed window, written by every call from
/// every thread; [`PlainHead`] for the half-open probe window, which sees a handful of calls and
/// need not pay for a cache line of its own (nor force 128-byte alignment on the breaker).
#[derive(Debug)]
pub(crate) struct CountWindow<H = CachePadded<AtomicU32>> {
    slots: Box<[AtomicU32]>,
    /// Written by every call: on a cache line of its own (closed window), so that it does not
    /// evict the counters and the breaker's state word from other cores' caches.
    head: H,
    counts: AtomicU64,
}

/// A ring index without padding.
#[derive(Debug, Default)]
pub(crate) struct PlainHead(AtomicU32);

impl std::ops::Deref for PlainHead {
    type Target = AtomicU32;
    fn deref(&self) -> &AtomicU32 {
        &self.0
    }
}

/// Aligns its content to a cache line (128 bytes covers adjacent-line prefetch on x86).
#[derive(Debug, Default)]
#[repr(align(128))]
pub(crate) struct CachePadded<T>(pub T);

impl<T> std::ops::Deref for CachePadded<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<H: std::ops::Deref<Target = AtomicU32> + Default> CountWindow<H> {
    pub fn new(size: u32) -> Self {
        let size = size.max(1);
        Self {
            slots: (0..size).map(|_| AtomicU32::new(0)).collect(),
            head: H::default(),
            counts: AtomicU64::new(pack(0, Counts::default())),
        }
    }

    /// Empties the window and tags it with `epoch`.
    pub fn reset(&self, epoch: u16) {
        self.counts
            .store(pack(epoch, Counts::default()), Ordering::Release);
    }

    /// The window's epoch and counts.
    pub fn snapshot(&self) -> (u16, Counts) {
        unpack(self.counts.load(Ordering::Acquire))
    }

    /// Whether the window is full of successes (no failure, no slow call) under `epoch`. Then
    /// recording one more fast success changes nothing at all — it would evict a fast success —
    /// so the caller may skip [`record`](Self::record): the healthy closed path does no
    /// read-modify-write and scales across cores.
    #[inline]
    pub fn full_of_successes(&self, epoch: u16) -> bool {
        let (e, c) = unpack(self.counts.load(Ordering::Acquire));
        e == epoch && c.failed == 0 && c.slow == 0 && c.calls as usize == self.slots.len()
    }

    /// Records one outcome under `epoch`; `None` when the window has moved to another epoch.
    #[inline]
    pub fn record(&self, epoch: u16, failed: bool, slow: bool) -> Option<Counts> {
        let len = self.slots.len() as u32;
        let mut h = self.head.load(Ordering::Relaxed);
        let idx = loop {
            let next = if h + 1 >= len { 0 } else { h + 1 };
            match self
                .head
                .compare_exchange_weak(h, next, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => break h,
                Err(cur) => h = cur,
            }
        };
        let slot = &self.slots[idx as usize];
        let new = (u32::from(epoch) << 16) | bits(failed, slow);
        let old = slot.load(Ordering::Acquire);
        if old == new {
            // Same outcome already counted in this epoch: nothing changes.
            let (e, c) = unpack(self.counts.load(Ordering::Acquire));
            return (e == epoch).then_some(c);
        }
        let old = slot.swap(new, Ordering::AcqRel);
        let old_valid = (old >> 16) as u16 == epoch && old & FILLED != 0;
        let mut cur = self.counts.load(Ordering::Acquire);
        loop {
            let (e, mut c) = unpack(cur);
            if e != epoch {
                return None;
            }
            if !old_valid {
                c.calls = c.calls.wrapping_add(1);
            } else {
                c.failed = c.failed.wrapping_sub(u32::from(old & FAILED != 0));
                c.slow = c.slow.wrapping_sub(u32::from(old & SLOW != 0));
            }
            c.failed = c.failed.wrapping_add(u32::from(failed));
            c.slow = c.slow.wrapping_add(u32::from(slow));
            let next = pack(epoch, c);
            match self
                .counts
                .compare_exchange_weak(cur, next, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => return Some(unpack(next).1),
                Err(actual) => cur = actual,
            }
        }
    }
}

/// One second of a time window.
#[derive(Debug, Default)]
struct Bucket {
    /// `epoch << 48 | second`; `u64::MAX` when never used.
    stamp: AtomicU64,
    calls: AtomicU32,
    failed: AtomicU32,
    slow: AtomicU32,
}

const SECOND_MASK: u64 = (1 << 48) - 1;

fn stamp(epoch: u16, second: u64) -> u64 {
    (u64::from(epoch) << 48) | (second & SECOND_MASK)
}

/// The calls of the last `n` whole seconds: `n` per-second buckets, each tagged with its epoch and
/// second. A bucket is reused for a later second by whoever records first in that second.
///
/// The sum over buckets costs O(n), so successes skip it when a full evaluation earlier in the
/// same second already found enough calls and rates below their thresholds: within one second a
/// success can only lower both rates. Failures, slow calls, the first call of each second and any
/// call while the minimum is not reached evaluate fully.
#[derive(Debug)]
pub(crate) struct TimeWindow {
    buckets: Box<[Bucket]>,
    epoch: AtomicU32,
    /// `epoch << 48 | second` of the last evaluation that found the window healthy.
    healthy_at: AtomicU64,
}

impl TimeWindow {
    pub fn new(seconds: u32) -> Self {
        let n = seconds.max(1);
        Self {
            buckets: (0..n)
                .map(|_| Bucket {
                    stamp: AtomicU64::new(u64::MAX),
                    ..Bucket::default()
                })
                .collect(),
            epoch: AtomicU32::new(0),
            healthy_at: AtomicU64::new(u64::MAX),
        }
    }

    pub fn reset(&self, epoch: u16) {
        self.healthy_at.store(u64::MAX, Ordering::Release);
        self.epoch.store(u32::from(epoch), Ordering::Release);
    }

    pub fn epoch(&self) -> u16 {
        self.epoch.load(Ordering::Acquire) as u16
    }

    /// Records one outcome at `second` under `epoch`. Returns `None` when stale, and
    /// `Some(None)` when the evaluation can be skipped (see the type's docs).
    #[inline]
    pub fn record(
        &self,
        epoch: u16,
        second: u64,
        failed: bool,
        slow: bool,
    ) -> Option<Option<Counts>> {
        if self.epoch() != epoch {
            return None;
        }
        // 32-bit modulo: cheaper, and seconds since the clock's origin fit in 32 bits for 136 years.
        let len = self.buckets.len() as u32;
        let b = &self.buckets[(second as u32 % len) as usize];
        let want = stamp(epoch, second);
        let mut s = b.stamp.load(Ordering::Acquire);
        while s != want {
            let s_epoch = (s >> 48) as u16;
            let s_second = s & SECOND_MASK;
            if s != u64::MAX && s_epoch == epoch && s_second > second {
                // This thread lagged behind a newer second sharing the bucket: count it there.
                break;
            }
            match b
                .stamp
                .compare_exchange(s, want, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => {
                    b.calls.store(0, Ordering::Release);
                    b.failed.store(0, Ordering::Release);
                    b.slow.store(0, Ordering::Release);
                    break;
                }
                Err(actual) => s = actual,
            }
        }
        b.calls.fetch_add(1, Ordering::AcqRel);
        if failed {
            b.failed.fetch_add(1, Ordering::AcqRel);
        }
        if slow {
            b.slow.fetch_add(1, Ordering::AcqRel);
        }
        if !failed && !slow && self.healthy_at.load(Ordering::Acquire) == want {
            return Some(None);
        }
        Some(Some(self.sum(epoch, second)))
    }

    /// Notes that a full evaluation at `second` found the window healthy (enough calls, rates
    /// below thresholds).
    pub fn mark_healthy(&self, epoch: u16, second: u64) {
        self.healthy_at
            .store(stamp(epoch, second), Ordering::Release);
    }

    /// Forgets the last healthy evaluation (a later one found the window unhealthy or below its
    /// minimum, or the rules changed).
    pub fn clear_healthy(&self) {
        if self.healthy_at.load(Ordering::Relaxed) != u64::MAX {
            self.healthy_at.store(u64::MAX, Ordering::Release);
        }
    }

    /// Sums the buckets of `(second - n, second]` tagged with `epoch`.
    pub fn sum(&self, epoch: u16, second: u64) -> Counts {
        let len = self.buckets.len() as u64;
        let oldest = second.saturating_sub(len - 1);
        let mut c = Counts::default();
        for b in self.buckets.iter() {
            let s = b.stamp.load(Ordering::Acquire);
            if s == u64::MAX || (s >> 48) as u16 != epoch {
                continue;
            }
            let sec = s & SECOND_MASK;
            if sec < oldest || sec > second {
                continue;
            }
            c.calls += b.calls.load(Ordering::Acquire);
            c.failed += b.failed.load(Ordering::Acquire);
            c.slow += b.slow.load(Ordering::Acquire);
        }
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn count_window_evicts_oldest_and_tracks_counts() {
        let w = CountWindow::<CachePadded<AtomicU32>>::new(3);
        w.reset(1);
        assert_eq!(w.record(1, true, false).unwrap().failed, 1);
        w.record(1, false, true);
        let c = w.record(1, false, false).unwrap();
        assert_eq!((c.calls, c.failed, c.slow), (3, 1, 1));
        // The fourth outcome evicts the first (the failure).
        let c = w.record(1, false, false).unwrap();
        assert_eq!((c.calls, c.failed, c.slow), (3, 0, 1));
        let c = w.record(1, false, false).unwrap();
        assert_eq!((c.calls, c.failed, c.slow), (3, 0, 0));
        // Stale epoch is refused and a reset empties the window.
        assert!(w.record(0, true, false).is_none());
        w.reset(2);
        assert_eq!(w.snapshot(), (2, Counts::default()));
        assert_eq!(w.record(2, true, false).unwrap().calls, 1);
    }

    #[test]
    fn time_window_evicts_whole_seconds() {
        let w = TimeWindow::new(2);
        w.reset(3);
        w.record(3, 10, true, false);
        w.record(3, 10, false, false);
        assert_eq!(w.sum(3, 10).calls, 2);
        w.record(3, 11, false, false);
        assert_eq!(w.sum(3, 11).calls, 3);
        // At second 12, second 10 has left a 2-second window.
        let c = w.record(3, 12, false, false).unwrap().unwrap();
        assert_eq!((c.calls, c.failed), (2, 0));
        assert_eq!(w.sum(3, 20).calls, 0);
        assert!(w.record(2, 20, true, false).is_none());
    }
}
