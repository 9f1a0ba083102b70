//! The closed-state success path allocates nothing (counted by a global allocator).

use std::sync::Arc;
use std::time::Duration;

use wedsync_breaker::{BreakerConfig, CircuitBreaker, CoarseClock, FakeClock, SlidingWindow};

fn assert_no_alloc(name: &str, b: &CircuitBreaker) {
    // Warm up (the first use may start the coarse clock's thread).
    for _ in 0..10 {
        b.call(|| Ok::<_, ()>(1)).unwrap();
    }
    let info = allocation_counter::measure(|| {
        for i in 0..10_000u32 {
            let r: Result<u32, _> = b.call(|| Ok::<_, ()>(i));
            assert!(r.is_ok());
            let p = b.try_acquire().unwrap();
            p.success();
        }
    });
    assert_eq!(info.count_total, 0, "{name}: {info:?}");
}

#[test]
fn closed_success_path_does_not_allocate() {
    let count = BreakerConfig::builder()
        .sliding_window(SlidingWindow::Count(100))
        .build()
        .unwrap();
    assert_no_alloc("count", &CircuitBreaker::new("a", count));

    let time_slow = BreakerConfig::builder()
        .sliding_window(SlidingWindow::Time(60))
        .slow_call_duration_threshold(Duration::from_secs(1))
        .build()
        .unwrap();
    let b = CircuitBreaker::builder("b")
        .config(time_slow.clone())
        .clock(Arc::new(CoarseClock::new()))
        .build();
    assert_no_alloc("time+slow, coarse clock", &b);
    let fake = FakeClock::new();
    let b = CircuitBreaker::builder("c")
        .config(time_slow)
        .clock(Arc::new(fake.clone()))
        .build();
    assert_no_alloc("time+slow, fake clock", &b);
    fake.advance(Duration::from_secs(5));
    assert_no_alloc("time+slow, next second", &b);

    // The counter does see allocations (this test can fail).
    let info = allocation_counter::measure(|| {
        let v: Vec<u8> = std::hint::black_box(Vec::with_capacity(16));
        assert_eq!(v.capacity(), 16);
    });
    assert!(info.count_total >= 1);
}
