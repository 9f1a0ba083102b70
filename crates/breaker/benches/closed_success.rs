//! Closed-state success path, side by side with recloser and failsafe (their default configs).
//!
//! Run with: `cargo bench -p wedsync-breaker --bench closed_success -- --warm-up-time 1 --measurement-time 3`

#![allow(missing_docs)] // criterion_group! generates undocumented items

use std::hint::black_box;
use std::sync::Barrier;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use failsafe::CircuitBreaker as _;
use wedsync_breaker::{BreakerConfig, CircuitBreaker, Clock, CoarseClock, SlidingWindow};

fn wedsync_count() -> CircuitBreaker {
    // The default configuration: a count window of 100, slow-call detection off.
    CircuitBreaker::new("bench", BreakerConfig::default())
}

fn wedsync_time_slow() -> CircuitBreaker {
    let cfg = BreakerConfig::builder()
        .sliding_window(SlidingWindow::Time(60))
        .slow_call_duration_threshold(Duration::from_secs(1))
        .build()
        .expect("valid config");
    CircuitBreaker::new("bench", cfg)
}

fn closed_success(c: &mut Criterion) {
    let mut g = c.benchmark_group("closed_success");
    let count = wedsync_count();
    g.bench_function("wedsync_count", |b| {
        b.iter(|| count.call(|| Ok::<_, ()>(black_box(1u32))))
    });
    let time = wedsync_time_slow();
    g.bench_function("wedsync_time_slow", |b| {
        b.iter(|| time.call(|| Ok::<_, ()>(black_box(1u32))))
    });
    let rec = recloser::Recloser::default();
    g.bench_function("recloser", |b| {
        b.iter(|| rec.call(|| Ok::<_, ()>(black_box(1u32))))
    });
    let fs = failsafe::Config::new().build();
    g.bench_function("failsafe", |b| {
        b.iter(|| fs.call(|| Ok::<_, ()>(black_box(1u32))))
    });
    g.finish();
}

/// Two threads calling one shared breaker; the figure is wall time per call per thread.
fn two_threads<F: Fn() + Sync>(iters: u64, f: &F) -> Duration {
    let barrier = Barrier::new(2);
    std::thread::scope(|s| {
        let hs: Vec<_> = (0..2)
            .map(|_| {
                s.spawn(|| {
                    barrier.wait();
                    let t = Instant::now();
                    for _ in 0..iters {
                        f();
                    }
                    t.elapsed()
                })
            })
            .collect();
        hs.into_iter()
            .map(|h| h.join().unwrap_or_default())
            .max()
            .unwrap_or_default()
    })
}

fn closed_success_two_threads(c: &mut Criterion) {
    let mut g = c.benchmark_group("closed_success_two_threads");
    let count = wedsync_count();
    g.bench_function("wedsync_count", |b| {
        b.iter_custom(|n| {
            two_threads(n, &|| {
                let _ = black_box(count.call(|| Ok::<_, ()>(black_box(1u32))));
            })
        })
    });
    let time = wedsync_time_slow();
    g.bench_function("wedsync_time_slow", |b| {
        b.iter_custom(|n| {
            two_threads(n, &|| {
                let _ = black_box(time.call(|| Ok::<_, ()>(black_box(1u32))));
            })
        })
    });
    let rec = recloser::Recloser::default();
    g.bench_function("recloser", |b| {
        b.iter_custom(|n| {
            two_threads(n, &|| {
                let _ = black_box(rec.call(|| Ok::<_, ()>(black_box(1u32))));
            })
        })
    });
    let fs = failsafe::Config::new().build();
    g.bench_function("failsafe", |b| {
        b.iter_custom(|n| {
            two_threads(n, &|| {
                let _ = black_box(fs.call(|| Ok::<_, ()>(black_box(1u32))));
            })
        })
    });
    g.finish();
}

fn clock(c: &mut Criterion) {
    let mut g = c.benchmark_group("clock");
    g.bench_function("instant_now", |b| b.iter(|| black_box(Instant::now())));
    let coarse = CoarseClock::new();
    g.bench_function("coarse_now", |b| b.iter(|| black_box(coarse.now())));
    g.finish();
}

criterion_group!(benches, closed_success, closed_success_two_threads, clock);
criterion_main!(benches);
