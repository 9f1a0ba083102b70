//! Retry timing on a paused tokio clock: the worker loop follows the schedule (±20 % jitter) and
//! reports exhaustion after the last attempt; critical deliveries retry densely early on.
#![cfg(all(feature = "forward", feature = "conformance"))]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use wedsync_breaker::{BreakerConfig, Registry};
use wedsync_webhooks::clock::{Clock, TokioClock};
use wedsync_webhooks::crypto::BodyCipher;
use wedsync_webhooks::delivery::{
    CollectEvents, Handler, OutgoingRequest, Response, Transport, TransportError, Worker,
};
use wedsync_webhooks::forward::run_worker;
use wedsync_webhooks::retry::RetryPolicy;
use wedsync_webhooks::store::{conformance, InMemoryStore, Priority, WebhookStore};
use wedsync_webhooks::{Provider, Secret};

const IDLE: Duration = Duration::from_secs(2);

/// Always answers 503 and records when it was called (tokio time).
#[derive(Default)]
struct Down(Mutex<Vec<tokio::time::Instant>>);

#[async_trait]
impl Transport for Down {
    async fn send(&self, _req: OutgoingRequest) -> Result<Response, TransportError> {
        self.0.lock().unwrap().push(tokio::time::Instant::now());
        Ok(Response {
            status: 503,
            retry_after: None,
            body_prefix: b"down".to_vec(),
        })
    }
}

async fn run(priority: Priority) -> (Vec<Duration>, usize) {
    let clock = TokioClock::new(conformance::t0());
    let store = Arc::new(InMemoryStore::new());
    let cipher = BodyCipher::new("k", &BodyCipher::generate_key());
    let mut d = conformance::sample("evt_timing");
    d.priority = priority;
    d.raw_body = Some(cipher.seal(d.id, b"{}").unwrap());
    d.raw_body_expires_at = None;
    d.next_attempt_at = Some(clock.now());
    store.insert_delivery(d).await.unwrap();
    let down = Arc::new(Down::default());
    let events = Arc::new(CollectEvents::default());
    // Breaker disabled in effect: a huge minimum so it never trips here.
    let cfg = BreakerConfig::builder()
        .minimum_calls(1000)
        .build()
        .unwrap();
    let secret = format!(
        "{}{}",
        "whsec_", "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
    );
    let worker = Worker::new(
        "timing",
        store.clone(),
        down.clone(),
        cipher,
        Arc::new(Registry::new(cfg)),
        Arc::new(clock),
    )
    .handler(
        Provider::Stripe,
        Handler::new("http://127.0.0.1:9/unused", Secret::new(secret)),
    )
    .events(events.clone());
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(run_worker(
        Arc::new(worker),
        IDLE,
        async move {
            let _ = stop_rx.await;
        },
        |e| panic!("worker error: {e}"),
    ));
    // 40 hours of virtual time: the paused clock jumps from sleep to sleep.
    tokio::time::sleep(Duration::from_secs(40 * 3600)).await;
    let _ = stop_tx.send(());
    task.await.unwrap();
    let calls = down.0.lock().unwrap().clone();
    let gaps = calls.windows(2).map(|w| w[1] - w[0]).collect();
    (gaps, events.take().len())
}

fn check(gaps: &[Duration], schedule: &[Duration]) {
    assert_eq!(
        gaps.len(),
        schedule.len(),
        "one gap per scheduled retry: {gaps:?}"
    );
    for (g, d) in gaps.iter().zip(schedule) {
        let lo = d.mul_f64(0.8);
        // The loop polls every IDLE when nothing is due.
        let hi = d.mul_f64(1.2) + IDLE;
        assert!(
            *g >= lo && *g <= hi,
            "gap {g:?} outside [{lo:?}, {hi:?}] for {d:?}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn normal_schedule_then_exhausted() {
    let (gaps, events) = run(Priority::Normal).await;
    check(&gaps, &RetryPolicy::default().schedule);
    assert_eq!(events, 1, "exhaustion reported once");
}

#[tokio::test(start_paused = true)]
async fn critical_schedule_is_denser() {
    let (gaps, events) = run(Priority::Critical).await;
    let p = RetryPolicy::default();
    check(&gaps, &p.critical_schedule);
    assert_eq!(events, 1);
    let first_hour: usize = gaps
        .iter()
        .scan(Duration::ZERO, |acc, g| {
            *acc += *g;
            Some(*acc)
        })
        .filter(|t| *t <= Duration::from_secs(3600))
        .count();
    assert!(
        first_hour >= 5,
        "critical: ≥ 5 retries in the first hour, got {first_hour}"
    );
}
