//! End to end: receive → verify → record → forward over real HTTP on 127.0.0.1 → retry → replay →
//! analysis.
#![cfg(feature = "forward")]

mod common;

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use common::{Answer, TestHandler};
use time::OffsetDateTime;
use wedsync_breaker::{BreakerConfig, Registry, SlidingWindow};
use wedsync_webhooks::analysis;
use wedsync_webhooks::clock::ManualClock;
use wedsync_webhooks::crypto::BodyCipher;
use wedsync_webhooks::delivery::{CollectEvents, Handler, Worker};
use wedsync_webhooks::forward::ReqwestTransport;
use wedsync_webhooks::ingest::{Incoming, Receipt, Receiver};
use wedsync_webhooks::replay::{self, BulkFilter, ReplayError};
use wedsync_webhooks::retry::RetryPolicy;
use wedsync_webhooks::store::{
    AttemptTrigger, DeliveryStatus, ErrorKind, InMemoryStore, Priority, ReplayJobState,
    WebhookStore,
};
use wedsync_webhooks::verify::{stripe, StandardWebhooksVerifier, StripeVerifier, Verifier};
use wedsync_webhooks::{Provider, Secret};

const PI_FAILED: &[u8] = include_bytes!("fixtures/stripe_payment_intent_payment_failed.json");
const CHECKOUT: &[u8] = include_bytes!("fixtures/stripe_checkout_session_completed.json");

fn stripe_secret() -> String {
    format!("{}{}", "whsec_", "pipeline_fixture")
}

fn handler_secret() -> String {
    format!(
        "{}{}",
        "whsec_",
        base64::engine::general_purpose::STANDARD.encode([42u8; 32])
    )
}

struct Rig {
    store: Arc<InMemoryStore>,
    clock: ManualClock,
    receiver: Receiver,
    worker: Worker,
    handler: TestHandler,
    events: Arc<CollectEvents>,
    breakers: Arc<Registry>,
}

fn start_time() -> OffsetDateTime {
    // Three days before the fixtures' wedding date (2026-12-05): wedding-critical by date.
    time::macros::datetime!(2026-12-02 10:00 UTC)
}

async fn rig_with(policy: RetryPolicy, timeout: Duration, breakers: Registry) -> Rig {
    let store = Arc::new(InMemoryStore::new());
    let clock = ManualClock::new(start_time());
    let cipher = BodyCipher::new("k1", &BodyCipher::generate_key());
    let secret = stripe_secret();
    let receiver = Receiver::new(store.clone(), cipher.clone()).provider(
        Provider::Stripe,
        Verifier::Stripe(StripeVerifier::new([secret.as_str()])),
        true,
    );
    let handler = TestHandler::start().await;
    let events = Arc::new(CollectEvents::default());
    let breakers = Arc::new(breakers);
    let mut h = Handler::new(handler.url.clone(), Secret::new(handler_secret()));
    h.retry = policy;
    h.timeout = timeout;
    let worker = Worker::new(
        "w1",
        store.clone(),
        Arc::new(ReqwestTransport::new().unwrap()),
        cipher,
        breakers.clone(),
        Arc::new(clock.clone()),
    )
    .handler(Provider::Stripe, h)
    .events(events.clone());
    Rig {
        store,
        clock,
        receiver,
        worker,
        handler,
        events,
        breakers,
    }
}

async fn rig() -> Rig {
    rig_with_schedule(RetryPolicy::default().schedule).await
}

/// [`rig`] whose normal-priority deliveries retry after `schedule`.
async fn rig_with_schedule(schedule: Vec<Duration>) -> Rig {
    let policy = RetryPolicy {
        schedule,
        ..RetryPolicy::default()
    };
    rig_with(
        policy,
        Duration::from_secs(5),
        Registry::new(BreakerConfig::default()),
    )
    .await
}

impl Rig {
    async fn receive(&self, body: &[u8]) -> Receipt {
        let now = self.clock.now();
        let headers = vec![
            ("Content-Type".to_owned(), "application/json".to_owned()),
            (
                "Stripe-Signature".to_owned(),
                stripe::sign(&stripe_secret(), now.unix_timestamp(), body),
            ),
        ];
        self.receiver
            .receive(
                &Incoming {
                    provider: Provider::Stripe,
                    headers: &headers,
                    body,
                    url: None,
                },
                now,
            )
            .await
            .unwrap()
    }
}

use wedsync_webhooks::clock::Clock as _;

fn with_event(id: &str, ty: &str) -> Vec<u8> {
    format!(
        r#"{{"id":"{id}","object":"event","type":"{ty}","data":{{"object":{{"metadata":{{}}}}}}}}"#
    )
    .into_bytes()
}

#[tokio::test]
async fn dedupes_and_forwards_once_signed_for_the_handler() {
    let r = rig().await;
    let first = r.receive(PI_FAILED).await;
    assert_eq!(first.status, DeliveryStatus::Pending);
    assert_eq!(first.priority, Priority::Critical);
    // Stripe retries with a new `t` and the same event id: a duplicate, not forwarded.
    r.clock.advance(Duration::from_secs(30));
    let again = r.receive(PI_FAILED).await;
    assert_eq!(again.status, DeliveryStatus::Duplicate);
    assert_eq!(again.duplicate_of, Some(first.id));
    assert!(again.accepted());

    assert_eq!(r.worker.run_once().await.unwrap(), 1);
    assert_eq!(r.worker.run_once().await.unwrap(), 0);
    let reqs = r.handler.requests();
    assert_eq!(reqs.len(), 1, "forwarded exactly once");
    let req = &reqs[0];
    assert_eq!(req.body, PI_FAILED, "the original body, byte for byte");
    assert_eq!(req.header("content-type"), Some("application/json"));
    assert_eq!(req.header("x-wedsync-provider"), Some("stripe"));
    assert_eq!(req.header("x-wedsync-attempt"), Some("1"));
    let v = StandardWebhooksVerifier::new([handler_secret()]).unwrap();
    v.verify(&req.headers, &req.body, r.clock.now())
        .expect("handler can trust us");

    let d = r.store.get_delivery(first.id).await.unwrap().unwrap();
    assert_eq!(d.status, DeliveryStatus::Delivered);
    assert!(PI_FAILED.windows(9).any(|w| w == b"emma.wils"));
    assert!(
        !d.sanitized_body.contains("emma.wilson@example.com"),
        "sanitised copy"
    );
    assert!(d.sanitized_body.contains("evt_3OyBcDeFgHiJkLmNoPqRsTuV"));
    let attempts = r.store.list_attempts(first.id).await.unwrap();
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0].response_status, Some(200));
    assert_eq!(attempts[0].trigger, AttemptTrigger::Scheduled);

    // A forged request is recorded as rejected and never forwarded.
    let headers = vec![("Stripe-Signature".to_owned(), "t=1,v1=00".to_owned())];
    let forged = r
        .receiver
        .receive(
            &Incoming {
                provider: Provider::Stripe,
                headers: &headers,
                body: CHECKOUT,
                url: None,
            },
            r.clock.now(),
        )
        .await
        .unwrap();
    assert_eq!(forged.status, DeliveryStatus::Rejected);
    assert!(!forged.accepted());
    assert_eq!(r.worker.run_once().await.unwrap(), 0);
    // …and did not reserve the event id: the genuine one still goes through.
    let genuine = r.receive(CHECKOUT).await;
    assert_eq!(genuine.status, DeliveryStatus::Pending);
}

#[tokio::test]
async fn retries_on_schedule_with_retry_after_then_delivers() {
    let r = rig().await;
    r.handler.push(Answer::status(503));
    r.handler.push(Answer {
        retry_after: Some("200".into()),
        ..Answer::status(429)
    });
    let rec = r.receive(&with_event("evt_retry", "invoice.paid")).await;
    assert_eq!(rec.priority, Priority::Normal);
    let t0 = r.clock.now();
    r.worker.run_once().await.unwrap();
    let d = r.store.get_delivery(rec.id).await.unwrap().unwrap();
    assert_eq!(d.status, DeliveryStatus::Retrying);
    let next = d.next_attempt_at.unwrap() - t0;
    assert!(
        next >= time::Duration::seconds(4) && next <= time::Duration::seconds(6),
        "{next}"
    );
    // Not yet due.
    r.clock.advance(Duration::from_secs(3));
    assert_eq!(r.worker.run_once().await.unwrap(), 0);
    r.clock.set(d.next_attempt_at.unwrap());
    let t1 = r.clock.now();
    r.worker.run_once().await.unwrap();
    let d = r.store.get_delivery(rec.id).await.unwrap().unwrap();
    // Second delay 300 s ± 20 %, Retry-After 200 s clamped up to the delay.
    let next = d.next_attempt_at.unwrap() - t1;
    assert!(
        next >= time::Duration::seconds(240) && next <= time::Duration::seconds(360),
        "{next}"
    );
    r.clock.set(d.next_attempt_at.unwrap());
    r.worker.run_once().await.unwrap();
    let d = r.store.get_delivery(rec.id).await.unwrap().unwrap();
    assert_eq!(d.status, DeliveryStatus::Delivered);
    let kinds: Vec<_> = r
        .store
        .list_attempts(rec.id)
        .await
        .unwrap()
        .iter()
        .map(|a| a.error_kind)
        .collect();
    assert_eq!(
        kinds,
        vec![Some(ErrorKind::Http5xx), Some(ErrorKind::Http4xx), None]
    );
    let attempts: Vec<_> = r
        .handler
        .requests()
        .iter()
        .map(|q| q.header("x-wedsync-attempt").unwrap().to_owned())
        .collect();
    assert_eq!(attempts, ["1", "2", "3"]);
    assert!(r.events.take().is_empty());
}

#[tokio::test]
async fn gone_stops_and_exhaustion_emits_an_event() {
    let r = rig_with_schedule(vec![Duration::from_secs(1), Duration::from_secs(1)]).await;
    r.handler.push(Answer::status(410));
    let gone = r.receive(&with_event("evt_gone", "invoice.paid")).await;
    r.worker.run_once().await.unwrap();
    assert_eq!(
        r.store.get_delivery(gone.id).await.unwrap().unwrap().status,
        DeliveryStatus::Failed
    );
    let ev = r.events.take();
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0].reason, "gone");
    assert_eq!(ev[0].last_status, Some(410));

    for _ in 0..3 {
        r.handler.push(Answer::status(500));
    }
    let ex = r.receive(&with_event("evt_exhaust", "invoice.paid")).await;
    for _ in 0..3 {
        r.worker.run_once().await.unwrap();
        r.clock.advance(Duration::from_secs(2));
    }
    let d = r.store.get_delivery(ex.id).await.unwrap().unwrap();
    assert_eq!(d.status, DeliveryStatus::Failed);
    assert_eq!(d.attempt_count, 3);
    let ev = r.events.take();
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0].reason, "exhausted");
    assert_eq!(ev[0].delivery_id, ex.id);
    assert_eq!(ev[0].attempts, 3);

    let all = r.store.list_deliveries(&Default::default()).await.unwrap();
    let attention = analysis::needs_attention(&all);
    assert_eq!(attention.len(), 2);
    let groups = analysis::failure_groups(&all);
    assert_eq!(groups.len(), 2);
    assert!(groups
        .iter()
        .any(|g| g.status_class == "5xx" && g.error_kind == Some(ErrorKind::Http5xx)));
    let report = analysis::report(&all);
    assert_eq!(report.overall.failed, 2);
    assert_eq!(report.per_provider[&Provider::Stripe].received, 2);
    assert_eq!(report.overall.success_rate, Some(0.0));
}

#[tokio::test]
async fn timeouts_and_connect_errors_are_classified() {
    let r = rig_with(
        RetryPolicy::default(),
        Duration::from_millis(300),
        Registry::new(BreakerConfig::default()),
    )
    .await;
    r.handler.push(Answer {
        delay: Duration::from_secs(3),
        ..Answer::status(200)
    });
    let rec = r.receive(&with_event("evt_slow", "invoice.paid")).await;
    let t0 = r.clock.now();
    r.worker.run_once().await.unwrap();
    let d = r.store.get_delivery(rec.id).await.unwrap().unwrap();
    assert_eq!(d.last_error, Some(ErrorKind::Timeout));
    assert!(
        d.next_attempt_at.unwrap() - t0 >= time::Duration::seconds(60),
        "≥ 60 s after a timeout"
    );

    // A handler that is not listening.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = closed.local_addr().unwrap();
    drop(closed);
    let cipher = BodyCipher::new("k1", &BodyCipher::generate_key());
    let store = Arc::new(InMemoryStore::new());
    let receiver = Receiver::new(store.clone(), cipher.clone()).provider(
        Provider::Stripe,
        Verifier::Stripe(StripeVerifier::new([stripe_secret()])),
        true,
    );
    let worker = Worker::new(
        "w2",
        store.clone(),
        Arc::new(ReqwestTransport::new().unwrap()),
        cipher,
        Arc::new(Registry::new(BreakerConfig::default())),
        Arc::new(r.clock.clone()),
    )
    .handler(
        Provider::Stripe,
        Handler::new(format!("http://{addr}/x"), Secret::new(handler_secret())),
    );
    let now = r.clock.now();
    let body = with_event("evt_conn", "invoice.paid");
    let headers = vec![(
        "Stripe-Signature".to_owned(),
        stripe::sign(&stripe_secret(), now.unix_timestamp(), &body),
    )];
    let rec = receiver
        .receive(
            &Incoming {
                provider: Provider::Stripe,
                headers: &headers,
                body: &body,
                url: None,
            },
            now,
        )
        .await
        .unwrap();
    worker.run_once().await.unwrap();
    let d = store.get_delivery(rec.id).await.unwrap().unwrap();
    assert_eq!(d.last_error, Some(ErrorKind::Connect));
}

#[tokio::test]
async fn critical_deliveries_are_claimed_first() {
    let r = rig().await;
    for i in 0..3 {
        let _ = r
            .receive(&with_event(&format!("evt_n{i}"), "invoice.paid"))
            .await;
    }
    let crit = r
        .receive(&with_event("evt_crit", "invoice.payment_failed"))
        .await;
    assert_eq!(crit.priority, Priority::Critical);
    let worker = r.worker.batch(1);
    worker.run_once().await.unwrap();
    let first = &r.handler.requests()[0];
    assert!(String::from_utf8_lossy(&first.body).contains("evt_crit"));
}

#[tokio::test]
async fn replay_single_force_and_expired_raw_body() {
    let r = rig().await;
    let rec = r.receive(&with_event("evt_replay", "invoice.paid")).await;
    r.worker.run_once().await.unwrap();
    let store: &dyn WebhookStore = r.store.as_ref();
    let now = r.clock.now();
    assert!(matches!(
        replay::replay_one(store, rec.id, false, now).await,
        Err(ReplayError::AlreadyDelivered)
    ));
    replay::replay_one(store, rec.id, true, now).await.unwrap();
    r.handler.push(Answer::status(500));
    r.worker.run_once().await.unwrap();
    let d = r.store.get_delivery(rec.id).await.unwrap().unwrap();
    assert_eq!(
        d.status,
        DeliveryStatus::Failed,
        "a manual replay is a single attempt"
    );
    assert!(d.next_attempt_at.is_none());
    assert!(
        r.events.take().is_empty(),
        "a failed manual replay is not an alert"
    );
    let attempts = r.store.list_attempts(rec.id).await.unwrap();
    assert_eq!(attempts.len(), 2);
    assert_eq!(attempts[1].trigger, AttemptTrigger::Manual);
    assert_eq!(
        r.handler.requests()[1].header("x-wedsync-attempt"),
        Some("2")
    );
    r.clock.advance(Duration::from_secs(3600));
    assert_eq!(r.worker.run_once().await.unwrap(), 0, "not retried");

    // Retention: after 7 days the raw body is gone and replay says so.
    r.clock.advance(Duration::from_secs(7 * 86_400));
    assert_eq!(r.receiver.purge_expired(r.clock.now()).await.unwrap(), 1);
    let err = replay::replay_one(store, rec.id, true, r.clock.now())
        .await
        .unwrap_err();
    assert!(matches!(err, ReplayError::RawBodyExpired));
    assert!(err.to_string().contains("raw body expired"), "{err}");
}

#[tokio::test]
async fn bulk_replay_is_a_tracked_job() {
    let r = rig_with_schedule(vec![]).await;
    let mut ids = Vec::new();
    for i in 0..5 {
        r.handler.push(Answer::status(502));
        ids.push(
            r.receive(&with_event(&format!("evt_b{i}"), "invoice.paid"))
                .await
                .id,
        );
    }
    r.worker.run_once().await.unwrap();
    let store: &dyn WebhookStore = r.store.as_ref();
    let now = r.clock.now();
    let too_long = BulkFilter {
        provider: Some(Provider::Stripe),
        event_type: None,
        statuses: vec![],
        from: now - time::Duration::days(15),
        to: now,
    };
    assert!(matches!(
        replay::start_bulk(store, &too_long, "ops", now).await,
        Err(ReplayError::InvalidWindow)
    ));
    let filter = BulkFilter {
        from: now - time::Duration::days(1),
        to: now + time::Duration::seconds(1),
        ..too_long
    };
    let job = replay::start_bulk(store, &filter, "ops", now)
        .await
        .unwrap();
    assert_eq!(job.total, 5);
    assert_eq!(job.state, ReplayJobState::Queued);
    let done = replay::run_bulk(store, job.id, now).await.unwrap();
    assert_eq!(
        (done.state, done.scheduled, done.skipped),
        (ReplayJobState::Completed, 5, 0)
    );
    assert_eq!(store.get_replay_job(job.id).await.unwrap().unwrap(), done);
    r.worker.run_once().await.unwrap();
    for id in ids {
        let d = r.store.get_delivery(id).await.unwrap().unwrap();
        assert_eq!(d.status, DeliveryStatus::Delivered);
        let a = r.store.list_attempts(id).await.unwrap();
        assert_eq!(a.last().unwrap().trigger, AttemptTrigger::Bulk);
    }
}

#[tokio::test]
async fn an_open_breaker_stops_requests_to_its_handler() {
    let cfg = BreakerConfig::builder()
        .sliding_window(SlidingWindow::Count(4))
        .minimum_calls(2)
        .failure_rate_threshold(50.0)
        .wait_duration_in_open(Duration::from_secs(600))
        .build()
        .unwrap();
    let r = rig_with(
        RetryPolicy::default(),
        Duration::from_secs(5),
        Registry::new(cfg),
    )
    .await;
    for i in 0..2 {
        r.handler.push(Answer::status(503));
        let _ = r
            .receive(&with_event(&format!("evt_o{i}"), "invoice.paid"))
            .await;
    }
    r.worker.run_once().await.unwrap();
    assert_eq!(r.handler.requests().len(), 2);
    let third = r.receive(&with_event("evt_o3", "invoice.paid")).await;
    assert_eq!(
        r.worker.run_once().await.unwrap(),
        0,
        "nothing claimed while open"
    );
    assert_eq!(r.handler.requests().len(), 2, "no request while open");
    // the delivery waits in the queue without spending a slot of its retry schedule
    let d = r.store.get_delivery(third.id).await.unwrap().unwrap();
    assert_eq!(d.status, DeliveryStatus::Pending);
    assert_eq!((d.attempt_count, d.run_attempts), (0, 0));
    // once the breaker admits calls again, it goes out as its first attempt
    r.breakers
        .get(&wedsync_webhooks::delivery::breaker_name(Provider::Stripe))
        .reset();
    assert_eq!(r.worker.run_once().await.unwrap(), 1);
    let d = r.store.get_delivery(third.id).await.unwrap().unwrap();
    assert_eq!((d.attempt_count, d.run_attempts), (1, 1));
    assert_eq!(r.handler.requests().len(), 3);
}
