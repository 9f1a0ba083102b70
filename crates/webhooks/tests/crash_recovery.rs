//! What a worker's death or a lost key does to queued deliveries: short leases renewed by a
//! heartbeat while an attempt is in flight, a dead worker's claims attempted again within one
//! lease (and counted), and a body no configured key opens waiting for its key instead of failing.
#![cfg(feature = "forward")]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use time::OffsetDateTime;
use uuid::Uuid;
use wedsync_breaker::{BreakerConfig, Registry};
use wedsync_webhooks::clock::{Clock as _, TokioClock};
use wedsync_webhooks::crypto::BodyCipher;
use wedsync_webhooks::delivery::{
    BodyUnopenable, DeliveryFailed, EventSink, Handler, OutgoingRequest, Response, Transport,
    TransportError, Worker, KEY_WAIT,
};
use wedsync_webhooks::store::{
    AttemptRecord, Claim, ClaimToken, Claimed, Delivery, DeliveryCount, DeliveryQuery,
    DeliveryStatus, EncryptedBody, InMemoryStore, InsertOutcome, KeyUsage, NewDelivery, ReplayJob,
    ReplayRequest, SealedBody, StoreError, WebhookStore,
};
use wedsync_webhooks::{Provider, Secret};

/// Answers 200 after `delay` (tokio time, so paused tests control it).
struct SlowHandler {
    delay: Duration,
    calls: AtomicUsize,
}

#[async_trait]
impl Transport for SlowHandler {
    async fn send(&self, _req: OutgoingRequest) -> Result<Response, TransportError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(self.delay).await;
        Ok(Response {
            status: 200,
            retry_after: None,
            body_prefix: Vec::new(),
        })
    }
}

#[derive(Default)]
struct Events {
    reclaimed: Mutex<Vec<(String, u64)>>,
    unopenable: Mutex<Vec<BodyUnopenable>>,
    failed: Mutex<Vec<DeliveryFailed>>,
}

impl EventSink for Events {
    fn delivery_failed(&self, e: &DeliveryFailed) {
        self.failed.lock().unwrap().push(e.clone());
    }
    fn body_unopenable(&self, e: &BodyUnopenable) {
        self.unopenable.lock().unwrap().push(e.clone());
    }
    fn leases_reclaimed(&self, worker: &str, count: u64) {
        self.reclaimed
            .lock()
            .unwrap()
            .push((worker.to_owned(), count));
    }
}

fn handler_secret() -> Secret {
    use base64::Engine as _;
    Secret::new(format!(
        "{}{}",
        "whsec_",
        base64::engine::general_purpose::STANDARD.encode([9u8; 32])
    ))
}

struct Rig {
    store: Arc<InMemoryStore>,
    clock: TokioClock,
    transport: Arc<SlowHandler>,
    events: Arc<Events>,
}

impl Rig {
    fn new(delay: Duration) -> Self {
        Rig {
            store: Arc::new(InMemoryStore::new()),
            clock: TokioClock::new(time::macros::datetime!(2026-12-05 09:00 UTC)),
            transport: Arc::new(SlowHandler {
                delay,
                calls: AtomicUsize::new(0),
            }),
            events: Arc::new(Events::default()),
        }
    }

    fn worker(&self, id: &str, cipher: BodyCipher) -> Worker {
        Worker::new(
            id,
            self.store.clone(),
            self.transport.clone(),
            cipher,
            Arc::new(Registry::new(BreakerConfig::default())),
            Arc::new(self.clock),
        )
        .handler(
            Provider::Stripe,
            Handler::new("http://127.0.0.1:9/hook", handler_secret()),
        )
        .events(self.events.clone())
    }

    async fn enqueue(&self, cipher: &BodyCipher) -> Uuid {
        let id = Uuid::new_v4();
        let now = self.clock.now();
        let body = cipher.seal(id, b"{\"id\":\"evt\"}").unwrap();
        let mut new = NewDelivery::verified(id, Provider::Stripe, id.to_string(), Some(body), now);
        new.raw_body_expires_at = Some(now + time::Duration::days(7));
        self.store.insert_delivery(new).await.unwrap();
        id
    }

    async fn status(&self, id: Uuid) -> DeliveryStatus {
        self.store.get_delivery(id).await.unwrap().unwrap().status
    }
}

fn key() -> BodyCipher {
    BodyCipher::new("k1", &[1u8; 32])
}

#[tokio::test(start_paused = true)]
async fn the_heartbeat_keeps_a_slow_attempts_lease() {
    // the handler takes 10 s; the lease is 3 s, renewed every second
    let rig = Rig::new(Duration::from_secs(10));
    let id = rig.enqueue(&key()).await;
    let worker = Arc::new(
        rig.worker("alive", key())
            .heartbeat(Duration::from_secs(3), Duration::from_secs(1)),
    );
    let w = worker.clone();
    let running = tokio::spawn(async move { w.run_once().await });
    tokio::time::sleep(Duration::from_secs(5)).await;
    // past the first lease: nobody may take the delivery from a live worker
    assert_eq!(rig.store.reclaim_expired(rig.clock.now()).await.unwrap(), 0);
    let other = rig
        .store
        .claim(Claim::new(
            "other",
            rig.clock.now(),
            Duration::from_secs(3),
            16,
        ))
        .await
        .unwrap();
    assert!(
        other.is_empty(),
        "a live worker's delivery was claimed again"
    );
    assert_eq!(running.await.unwrap().unwrap(), 1);
    assert_eq!(rig.status(id).await, DeliveryStatus::Delivered);
    assert_eq!(rig.transport.calls.load(Ordering::SeqCst), 1);
    assert!(
        worker.stats().renewed() >= 4,
        "{}",
        worker.stats().renewed()
    );
    assert_eq!(worker.stats().renew_failures(), 0);
}

#[tokio::test(start_paused = true)]
async fn without_a_heartbeat_a_short_lease_runs_out_under_a_slow_attempt() {
    // the contrast that shows the previous test can fail
    let rig = Rig::new(Duration::from_secs(10));
    rig.enqueue(&key()).await;
    let worker = Arc::new(rig.worker("alive", key()).lease(Duration::from_secs(3)));
    let w = worker.clone();
    let running = tokio::spawn(async move { w.run_once().await });
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(rig.store.reclaim_expired(rig.clock.now()).await.unwrap(), 1);
    running.await.unwrap().unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_dead_workers_claims_are_attempted_again_within_one_lease() {
    let rig = Rig::new(Duration::from_millis(5));
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(rig.enqueue(&key()).await);
    }
    // a worker claims all three and dies (SIGKILL: no report, no more heartbeats)
    let lease = Duration::from_secs(15);
    let dead = rig
        .store
        .claim(Claim::new("dead", rig.clock.now(), lease, 16))
        .await
        .unwrap();
    assert_eq!(dead.len(), 3);

    let survivor = rig
        .worker("survivor", key())
        .heartbeat(lease, Duration::from_secs(5));
    assert_eq!(survivor.run_once().await.unwrap(), 0, "still leased");
    tokio::time::sleep(lease).await;
    assert_eq!(survivor.run_once().await.unwrap(), 3);
    for id in &ids {
        assert_eq!(rig.status(*id).await, DeliveryStatus::Delivered);
        let attempts = rig.store.list_attempts(*id).await.unwrap();
        assert_eq!(
            attempts.len(),
            2,
            "the dead claim is recorded as lease_expired"
        );
    }
    assert_eq!(survivor.stats().reclaimed(), 3);
    assert_eq!(
        *rig.events.reclaimed.lock().unwrap(),
        vec![("survivor".to_owned(), 3)]
    );
}

#[tokio::test(start_paused = true)]
async fn a_body_no_key_opens_waits_for_its_key_and_is_delivered_once_it_is_back() {
    let rig = Rig::new(Duration::from_millis(5));
    let lost = BodyCipher::new("k0", &[7u8; 32]);
    let id = rig.enqueue(&lost).await;
    let worker = rig.worker("w", key());
    // many rounds, far longer than the whole retry schedule's attempt count: never given up
    for round in 0..12 {
        assert_eq!(worker.run_once().await.unwrap(), 1, "round {round}");
        let d = rig.store.get_delivery(id).await.unwrap().unwrap();
        assert_eq!(d.status, DeliveryStatus::Pending, "round {round}");
        assert_eq!(d.run_attempts, 0, "waiting for a key spends no retry");
        assert_eq!(d.next_attempt_at, Some(rig.clock.now() + KEY_WAIT));
        assert_eq!(worker.run_once().await.unwrap(), 0, "not before KEY_WAIT");
        tokio::time::sleep(KEY_WAIT).await;
    }
    assert_eq!(rig.transport.calls.load(Ordering::SeqCst), 0);
    assert_eq!(worker.stats().unopenable(), 12);
    let events = rig.events.unopenable.lock().unwrap().clone();
    assert_eq!(events.len(), 12);
    assert_eq!(events[0].key_id, "k0");
    assert!(events[0].reason.contains("k0"), "{}", events[0].reason);
    assert!(rig.events.failed.lock().unwrap().is_empty());
    let attempts = rig.store.list_attempts(id).await.unwrap();
    assert!(attempts[0]
        .response_excerpt
        .as_deref()
        .is_some_and(|e| e.contains("waiting for the key")));

    // a wrong key under the right id is a key problem too
    let wrong = rig.worker("wrong", BodyCipher::new("k0", &[8u8; 32]));
    assert_eq!(wrong.run_once().await.unwrap(), 1);
    assert_eq!(rig.status(id).await, DeliveryStatus::Pending);
    tokio::time::sleep(KEY_WAIT).await;

    // the operator puts the old key back in the ring: delivered
    let ring = BodyCipher::new("k1", &[1u8; 32]).with_old_key("k0", &[7u8; 32]);
    let fixed = rig.worker("fixed", ring);
    assert_eq!(fixed.run_once().await.unwrap(), 1);
    assert_eq!(rig.status(id).await, DeliveryStatus::Delivered);
    assert_eq!(rig.transport.calls.load(Ordering::SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn an_expired_body_still_fails_for_good_with_an_event() {
    let rig = Rig::new(Duration::from_millis(5));
    let id = rig.enqueue(&key()).await;
    rig.store
        .purge_raw_bodies(OffsetDateTime::now_utc() + time::Duration::days(3650))
        .await
        .unwrap();
    let worker = rig.worker("w", key());
    assert_eq!(worker.run_once().await.unwrap(), 1);
    assert_eq!(rig.status(id).await, DeliveryStatus::Failed);
    let failed = rig.events.failed.lock().unwrap().clone();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].reason, "raw_body_unavailable");
    assert!(rig.events.unopenable.lock().unwrap().is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_claimed_batch_is_sent_at_once() {
    // three deliveries, a handler that takes 1 s each: one round takes 1 s, not 3 s
    let rig = Rig::new(Duration::from_secs(1));
    for _ in 0..3 {
        rig.enqueue(&key()).await;
    }
    let worker = rig
        .worker("w", key())
        .heartbeat(Duration::from_secs(15), Duration::from_secs(5));
    let started = tokio::time::Instant::now();
    assert_eq!(worker.run_once().await.unwrap(), 3);
    assert_eq!(started.elapsed(), Duration::from_secs(1));
    assert_eq!(rig.transport.calls.load(Ordering::SeqCst), 3);
}

/// The in-memory store, whose `complete` fails while `failing` is above zero (a database that
/// went away for a moment).
struct FlakyReports {
    inner: Arc<InMemoryStore>,
    failing: AtomicUsize,
}

/// The whole impl: `complete` fails while `failing` is above zero; everything else goes to the
/// in-memory store (the macro expands before `async_trait` rewrites the methods).
macro_rules! flaky_store {
    ($($name:ident($($arg:ident: $ty:ty),*) -> $ret:ty;)*) => {
        #[async_trait]
        impl WebhookStore for FlakyReports {
            async fn complete(
                &self,
                token: &ClaimToken,
                attempt: AttemptRecord,
            ) -> Result<(), StoreError> {
                if self
                    .failing
                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                    .is_ok()
                {
                    return Err(StoreError::Backend("connection reset".into()));
                }
                self.inner.complete(token, attempt).await
            }
            $(async fn $name(&self, $($arg: $ty),*) -> Result<$ret, StoreError> {
                self.inner.$name($($arg),*).await
            })*
        }
    };
}

flaky_store! {
    insert_delivery(new: NewDelivery) -> InsertOutcome;
    get_delivery(id: Uuid) -> Option<Delivery>;
    find_by_dedupe_key(provider: Provider, key: &str) -> Option<Delivery>;
    claim(claim: Claim<'_>) -> Vec<Claimed>;
    fail(token: &ClaimToken, attempt: AttemptRecord, next: Option<OffsetDateTime>) -> ();
    reclaim_expired(now: OffsetDateTime) -> u64;
    schedule_replay(id: Uuid, req: ReplayRequest) -> Delivery;
    list_attempts(id: Uuid) -> Vec<AttemptRecord>;
    list_deliveries(q: &DeliveryQuery) -> Vec<Delivery>;
    count_deliveries(q: &DeliveryQuery) -> Vec<DeliveryCount>;
    purge_raw_bodies(now: OffsetDateTime) -> u64;
    insert_replay_job(job: ReplayJob) -> ();
    update_replay_job(job: &ReplayJob) -> ();
    get_replay_job(id: Uuid) -> Option<ReplayJob>;
    renew_leases(tokens: &[ClaimToken], until: OffsetDateTime) -> u64;
    raw_body_keys() -> Vec<KeyUsage>;
    queue_depth() -> u64;
    sealed_bodies(key_id: &str, after: Option<Uuid>, limit: usize) -> Vec<SealedBody>;
    replace_raw_body(id: Uuid, key_id: &str, body: EncryptedBody) -> bool;
}

#[tokio::test(start_paused = true)]
async fn a_report_the_store_refused_is_retried_so_the_handler_sees_it_once() {
    let rig = Rig::new(Duration::from_millis(5));
    let id = rig.enqueue(&key()).await;
    let flaky = Arc::new(FlakyReports {
        inner: rig.store.clone(),
        failing: AtomicUsize::new(4),
    });
    let worker = Worker::new(
        "w",
        flaky.clone(),
        rig.transport.clone(),
        key(),
        Arc::new(Registry::new(BreakerConfig::default())),
        Arc::new(rig.clock),
    )
    .handler(
        Provider::Stripe,
        Handler::new("http://127.0.0.1:9/hook", handler_secret()),
    )
    .heartbeat(Duration::from_secs(15), Duration::from_secs(5));
    assert_eq!(worker.run_once().await.unwrap(), 1);
    assert_eq!(flaky.failing.load(Ordering::SeqCst), 0, "asked again");
    assert_eq!(rig.status(id).await, DeliveryStatus::Delivered);
    // nothing left for a second attempt: the handler saw it once
    tokio::time::sleep(Duration::from_secs(30)).await;
    assert_eq!(worker.run_once().await.unwrap(), 0);
    assert_eq!(rig.transport.calls.load(Ordering::SeqCst), 1);

    // a store that stays away longer than the lease: the error comes back, nothing is lost
    let id = rig.enqueue(&key()).await;
    flaky.failing.store(usize::MAX, Ordering::SeqCst);
    assert!(worker.run_once().await.is_err());
    flaky.failing.store(0, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_secs(15)).await;
    assert_eq!(worker.run_once().await.unwrap(), 1, "attempted again");
    assert_eq!(rig.status(id).await, DeliveryStatus::Delivered);
}
