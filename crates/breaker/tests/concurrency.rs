//! Many threads on one breaker: half-open never admits more than `permitted_calls_in_half_open`
//! probes at once, and every count adds up.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

use wedsync_breaker::{BreakerConfig, CircuitBreaker, FakeClock, Outcome, SlidingWindow, State};

const THREADS: usize = 8;

fn breaker(permitted: u32, window: u32) -> (CircuitBreaker, FakeClock) {
    let clock = FakeClock::new();
    let cfg = BreakerConfig::builder()
        .sliding_window(SlidingWindow::Count(window))
        .minimum_calls(permitted)
        .permitted_calls_in_half_open(permitted)
        .failure_rate_threshold(50.0)
        .build()
        .unwrap();
    let b = CircuitBreaker::builder("c")
        .config(cfg)
        .clock(Arc::new(clock.clone()))
        .build();
    (b, clock)
}

/// Runs `work(thread_index)` on `THREADS` threads released together by a barrier; their results in
/// thread order.
fn together<T: Send>(work: impl Fn(usize) -> T + Sync) -> Vec<T> {
    let start = Barrier::new(THREADS);
    thread::scope(|s| {
        let handles: Vec<_> = (0..THREADS)
            .map(|t| {
                let (start, work) = (&start, &work);
                s.spawn(move || {
                    start.wait();
                    work(t)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

#[test]
fn half_open_never_admits_more_than_permitted_at_once() {
    const PERMITTED: u32 = 3;
    const ROUNDS: usize = 20_000;
    let (b, _) = breaker(PERMITTED, 10);
    b.force_open();
    b.half_open().unwrap();
    let in_flight = Arc::new(AtomicUsize::new(0));
    let max_seen = Arc::new(AtomicUsize::new(0));
    let admitted = Arc::new(AtomicU64::new(0));
    let rejected = Arc::new(AtomicU64::new(0));
    together(|t| {
        for i in 0..ROUNDS {
            match b.try_acquire() {
                Ok(p) => {
                    let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                    max_seen.fetch_max(now, Ordering::SeqCst);
                    admitted.fetch_add(1, Ordering::Relaxed);
                    if (i + t) % 64 == 0 {
                        thread::yield_now();
                    }
                    in_flight.fetch_sub(1, Ordering::SeqCst);
                    // Cancelled or ignored: the slot is freed, nothing recorded.
                    if i % 2 == 0 {
                        drop(p);
                    } else {
                        p.record(Outcome::Ignored);
                    }
                }
                Err(r) => {
                    assert_eq!(r.state, State::HalfOpen);
                    rejected.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    });
    let max = max_seen.load(Ordering::SeqCst);
    assert!(max <= PERMITTED as usize, "{max} probes at once");
    assert!(max >= 1);
    let (a, r) = (
        admitted.load(Ordering::SeqCst),
        rejected.load(Ordering::SeqCst),
    );
    assert_eq!(a + r, (THREADS * ROUNDS) as u64);
    assert_eq!(b.metrics().not_permitted_calls, r);
    assert_eq!(b.metrics().buffered_calls, 0);
    assert_eq!(b.state(), State::HalfOpen);
    // Every slot was given back: exactly PERMITTED probes can be taken now.
    let probes: Vec<_> = (0..PERMITTED).map(|_| b.try_acquire().unwrap()).collect();
    assert!(b.try_acquire().is_err());
    for p in probes {
        p.success();
    }
    assert_eq!(b.state(), State::Closed);
}

#[test]
fn racing_probes_admit_exactly_permitted_and_decide_once() {
    const PERMITTED: u32 = 5;
    let (b, _) = breaker(PERMITTED, 10);
    let transitions = Arc::new(AtomicUsize::new(0));
    let t2 = transitions.clone();
    b.subscribe(move |e| {
        if matches!(e.kind, wedsync_breaker::EventKind::Transition { .. }) {
            t2.fetch_add(1, Ordering::SeqCst);
        }
    });
    b.force_open();
    b.half_open().unwrap();
    let before = transitions.load(Ordering::SeqCst);
    let permits: Vec<_> = together(|_| {
        let mut mine = Vec::new();
        for _ in 0..100 {
            if let Ok(p) = b.try_acquire_owned() {
                mine.push(p);
            }
        }
        mine
    })
    .into_iter()
    .flatten()
    .collect();
    assert_eq!(permits.len(), PERMITTED as usize);
    assert_eq!(
        b.metrics().not_permitted_calls,
        (THREADS * 100) as u64 - u64::from(PERMITTED)
    );
    // Record them all concurrently: the half-open window decides exactly once.
    let handles: Vec<_> = permits
        .into_iter()
        .map(|p| thread::spawn(move || p.success()))
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(b.state(), State::Closed);
    assert_eq!(transitions.load(Ordering::SeqCst) - before, 1);
}

#[test]
fn closed_window_counts_stay_exact_under_contention() {
    let (b, _) = breaker(1, 1000);
    b.metrics_only();
    let run = |outcome: Outcome| {
        together(|_| {
            for _ in 0..5_000 {
                b.try_acquire().unwrap().record(outcome);
            }
        });
    };
    run(Outcome::Failure);
    let m = b.metrics();
    assert_eq!((m.buffered_calls, m.failed_calls), (1000, 1000));
    run(Outcome::Success);
    let m = b.metrics();
    assert_eq!((m.buffered_calls, m.failed_calls), (1000, 0));
    assert_eq!(m.failure_rate, Some(0.0));
    let _ = Duration::ZERO;
}
