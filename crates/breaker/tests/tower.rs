//! The tower layer under a paused tokio clock.
#![cfg(feature = "tower")]

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tower::{Service, ServiceBuilder, ServiceExt};
use wedsync_breaker::tower::BreakerLayer;
use wedsync_breaker::{BreakerConfig, CircuitBreaker, FakeClock, Outcome, Rejected, State};

/// Answers `Ok(n)` for even n and `Err` for odd n; counts calls; readiness can be withheld.
#[derive(Clone)]
struct Echo {
    calls: Arc<AtomicUsize>,
    ready: Arc<AtomicUsize>,
}

impl Service<u32> for Echo {
    type Response = u32;
    type Error = std::io::Error;
    type Future = Pin<Box<dyn Future<Output = Result<u32, std::io::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        if self.ready.load(Ordering::SeqCst) > 0 {
            Poll::Ready(Ok(()))
        } else {
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }

    fn call(&mut self, n: u32) -> Self::Future {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Box::pin(async move {
            if n == 99 {
                tokio::time::sleep(Duration::from_secs(3600)).await;
            }
            if n.is_multiple_of(2) {
                Ok(n)
            } else {
                Err(std::io::Error::other("odd"))
            }
        })
    }
}

fn setup(permitted: u32) -> (CircuitBreaker, FakeClock, Echo) {
    let clock = FakeClock::new();
    let cfg = BreakerConfig::builder()
        .sliding_window(wedsync_breaker::SlidingWindow::Count(4))
        .minimum_calls(2)
        .permitted_calls_in_half_open(permitted)
        .wait_duration_in_open(Duration::from_secs(5))
        .build()
        .unwrap();
    let cb = CircuitBreaker::builder("tower")
        .config(cfg)
        .clock(Arc::new(clock.clone()))
        .build();
    let echo = Echo {
        calls: Arc::new(AtomicUsize::new(0)),
        ready: Arc::new(AtomicUsize::new(1)),
    };
    (cb, clock, echo)
}

/// [`setup`] with one half-open probe, and the echo service behind a [`BreakerLayer`] on the
/// breaker.
fn layered() -> (
    CircuitBreaker,
    FakeClock,
    Echo,
    wedsync_breaker::tower::Breaker<Echo>,
) {
    let (cb, clock, echo) = setup(1);
    let svc = BreakerLayer::new(cb.clone()).layer_service(echo.clone());
    (cb, clock, echo, svc)
}

#[tokio::test(start_paused = true)]
async fn failures_trip_and_an_open_breaker_sheds_without_calling_inner() {
    let (cb, _, echo) = setup(1);
    let mut svc = ServiceBuilder::new()
        .layer(BreakerLayer::new(cb.clone()))
        .service(echo.clone());
    assert_eq!(svc.ready().await.unwrap().call(2).await.unwrap(), 2);
    let inner_err = svc.ready().await.unwrap().call(1).await.unwrap_err();
    assert!(
        inner_err.downcast_ref::<Rejected>().is_none(),
        "an inner error"
    );
    // 1 failure of 2 calls = 50 %: open.
    assert_eq!(cb.state(), State::Open);
    assert_eq!(echo.calls.load(Ordering::SeqCst), 2);
    // poll_ready is Ready at once; the call fails fast with Rejected; inner is not called.
    let err = svc.ready().await.unwrap().call(4).await.unwrap_err();
    let r = err.downcast_ref::<Rejected>().expect("a Rejected");
    assert_eq!(r.state, State::Open);
    assert_eq!(r.retry_after, Some(Duration::from_secs(5)));
    assert_eq!(echo.calls.load(Ordering::SeqCst), 2);
}

#[tokio::test(start_paused = true)]
async fn poll_ready_waits_for_inner_and_holds_the_probe_slot() {
    let (cb, clock, echo, mut svc) = layered();
    cb.open_for(Duration::from_secs(1));
    clock.advance(Duration::from_secs(1));
    echo.ready.store(0, Ordering::SeqCst);
    // Not ready inside: poll_ready is Pending and keeps the single half-open slot.
    let pending = futures_poll_once(&mut svc).await;
    assert!(pending.is_pending());
    assert_eq!(cb.state(), State::HalfOpen);
    assert!(cb.try_acquire().is_err(), "the slot is held by the service");
    echo.ready.store(1, Ordering::SeqCst);
    let out = svc.ready().await.unwrap().call(2).await.unwrap();
    assert_eq!(out, 2);
    assert_eq!(cb.state(), State::Closed);
}

#[tokio::test(start_paused = true)]
async fn a_dropped_response_future_frees_the_probe_slot_and_records_nothing() {
    let (cb, _, _echo, mut svc) = layered();
    cb.force_open();
    cb.half_open().unwrap();
    let hung = svc.ready().await.unwrap().call(99);
    let res = tokio::time::timeout(Duration::from_secs(1), hung).await;
    assert!(res.is_err(), "timed out, future dropped");
    assert_eq!(cb.state(), State::HalfOpen);
    assert_eq!(cb.metrics().buffered_calls, 0);
    let p = cb.try_acquire().expect("slot freed");
    p.record(Outcome::Success);
    assert_eq!(cb.state(), State::Closed);
}

trait LayerExt {
    fn layer_service(&self, s: Echo) -> wedsync_breaker::tower::Breaker<Echo>;
}
impl LayerExt for BreakerLayer {
    fn layer_service(&self, s: Echo) -> wedsync_breaker::tower::Breaker<Echo> {
        tower::Layer::layer(self, s)
    }
}

async fn futures_poll_once(svc: &mut wedsync_breaker::tower::Breaker<Echo>) -> Poll<()> {
    std::future::poll_fn(|cx| {
        Poll::Ready(match svc.poll_ready(cx) {
            Poll::Ready(_) => Poll::Ready(()),
            Poll::Pending => Poll::Pending,
        })
    })
    .await
}

/// A service that is never ready: its `poll_ready` fails.
#[derive(Clone)]
struct Broken;

impl Service<u32> for Broken {
    type Response = u32;
    type Error = std::io::Error;
    type Future = std::future::Ready<Result<u32, std::io::Error>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Err(std::io::Error::other("backend gone")))
    }

    fn call(&mut self, n: u32) -> Self::Future {
        std::future::ready(Ok(n))
    }
}

#[tokio::test(start_paused = true)]
async fn an_inner_poll_ready_error_frees_the_probe_slot_and_records_nothing() {
    let (cb, _, _) = setup(1);
    let mut svc = tower::Layer::layer(&BreakerLayer::new(cb.clone()), Broken);
    cb.force_open();
    cb.half_open().unwrap();
    let err = std::future::poll_fn(|cx| svc.poll_ready(cx))
        .await
        .unwrap_err();
    assert!(err.downcast_ref::<Rejected>().is_none(), "the inner error");
    assert_eq!(cb.metrics().buffered_calls, 0);
    cb.try_acquire().expect("the slot was released").success();
    assert_eq!(cb.state(), State::Closed);
}

#[tokio::test(start_paused = true)]
async fn call_without_poll_ready_still_asks_the_breaker() {
    let (cb, _, echo, mut svc) = layered();
    cb.force_open();
    let err = svc.call(2).await.unwrap_err();
    assert_eq!(
        err.downcast_ref::<Rejected>().unwrap().state,
        State::ForcedOpen
    );
    assert_eq!(echo.calls.load(Ordering::SeqCst), 0, "inner not called");
    cb.close();
    assert_eq!(svc.call(2).await.unwrap(), 2);
    assert_eq!(cb.metrics().buffered_calls, 1, "recorded");
}

#[tokio::test(start_paused = true)]
async fn a_clone_holds_no_permit_and_a_shed_service_does_not_ask_again() {
    let (cb, _, _echo, mut svc) = layered();
    assert!(svc.breaker().ptr_eq(&cb));
    cb.force_open();
    cb.half_open().unwrap();
    std::future::poll_fn(|cx| svc.poll_ready(cx)).await.unwrap(); // takes the only probe slot
    let mut other = svc.clone();
    std::future::poll_fn(|cx| other.poll_ready(cx))
        .await
        .unwrap(); // shed: ready, rejected
    std::future::poll_fn(|cx| other.poll_ready(cx))
        .await
        .unwrap(); // still the same rejection
    assert_eq!(
        cb.metrics().not_permitted_calls,
        1,
        "asked the breaker once"
    );
    let err = other.call(2).await.unwrap_err();
    assert_eq!(
        err.downcast_ref::<Rejected>().unwrap().state,
        State::HalfOpen
    );
    assert_eq!(
        svc.call(2).await.unwrap(),
        2,
        "the original keeps its permit"
    );
    assert_eq!(cb.state(), State::Closed);
    assert_eq!(other.get_ref().calls.load(Ordering::SeqCst), 1);
    other.get_mut().ready.store(0, Ordering::SeqCst);
    assert_eq!(
        svc.into_inner().ready.load(Ordering::SeqCst),
        0,
        "shared readiness"
    );
}
