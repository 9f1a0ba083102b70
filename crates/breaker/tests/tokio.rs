//! Async calls, the timeout helper and the timer-driven half-open (feature `tokio`).
#![cfg(feature = "tokio")]

use std::sync::Arc;
use std::time::Duration;

use wedsync_breaker::{
    BreakerConfig, CallError, CircuitBreaker, MonotonicClock, SlidingWindow, State,
};

fn cfg(auto: bool) -> BreakerConfig {
    BreakerConfig::builder()
        .sliding_window(SlidingWindow::Count(2))
        .minimum_calls(2)
        .wait_duration_in_open(Duration::from_millis(50))
        .automatic_transition_to_half_open(auto)
        .build()
        .unwrap()
}

#[tokio::test]
async fn async_calls_record_and_cancellation_records_nothing() {
    let cb = CircuitBreaker::new("a", cfg(false));
    assert_eq!(cb.call_async(|| async { Ok::<_, ()>(1) }).await.unwrap(), 1);
    let fut = cb.call_async(|| async {
        tokio::time::sleep(Duration::from_secs(60)).await;
        Err::<(), _>(())
    });
    assert!(tokio::time::timeout(Duration::from_millis(10), fut)
        .await
        .is_err());
    assert_eq!(
        cb.metrics().buffered_calls,
        1,
        "the cancelled call is not counted"
    );
    let r = cb
        .call_with_timeout(Duration::from_millis(10), || async {
            tokio::time::sleep(Duration::from_secs(60)).await;
            Ok::<_, ()>(())
        })
        .await;
    assert!(matches!(r, Err(CallError::Timeout(_))));
    assert_eq!(cb.metrics().failed_calls, 1);
}

#[tokio::test]
async fn a_timer_moves_open_to_half_open_without_a_call() {
    for auto in [true, false] {
        let cb = CircuitBreaker::builder("t")
            .config(cfg(auto))
            .clock(Arc::new(MonotonicClock::new()))
            .build();
        for _ in 0..2 {
            let _ = cb.call(|| Err::<(), _>(()));
        }
        assert_eq!(cb.state(), State::Open);
        tokio::time::sleep(Duration::from_millis(200)).await;
        let expect = if auto { State::HalfOpen } else { State::Open };
        assert_eq!(cb.state(), expect, "auto = {auto}");
    }
}
