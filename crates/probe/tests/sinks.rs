//! HTTP sinks against the fake receivers: Slack, PagerDuty Events v2, the signed webhook, and the
//! outbox retrying 429/5xx through them.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::poll_until;
use wedsync_probe::alert::{Alert, Severity};
use wedsync_probe::clock::SystemClock;
use wedsync_probe::outbox::{Dispatcher, RetryPolicy};
use wedsync_probe::sink::{sign_standard_webhook, AlertSink, SendError};
use wedsync_probe::store::{MemoryStore, Notification, NotificationKind, OutboxState, OutboxStore};
use wedsync_probe::{PagerDutySink, ProbeStatus, Secret, SlackSink, WebhookSink};
use wedsync_testkit::{FakePagerDuty, FakeSlack, FakeWebhookHandler, Scenario};

fn alert(kind: NotificationKind) -> Alert {
    Alert {
        kind,
        service: "stripe".into(),
        dedup_key: "wedsync/stripe/1812798000000".into(),
        status: ProbeStatus::Unhealthy,
        severity: Severity::Critical,
        summary: "HTTP 500 api_error".into(),
        opened_at_ms: 1_812_798_000_000,
        at_ms: 1_812_798_000_000,
        wedding_day: true,
    }
}

fn note(a: &Alert, sink: &str) -> Notification {
    Notification::pending(
        format!("{}/{}/{sink}", a.dedup_key, a.kind.as_str()),
        sink,
        a.kind,
        &a.dedup_key,
        &a.service,
        serde_json::to_string(a).unwrap(),
        0,
    )
}

#[tokio::test]
async fn slack_sink_delivers_and_classifies_errors() {
    let fake = FakeSlack::start().await;
    let sink = SlackSink::new(Secret::new(fake.webhook_url()));
    let a = alert(NotificationKind::Trigger);
    sink.send(&note(&a, "slack"), &a).await.unwrap();
    assert!(poll_until(Duration::from_secs(5), || fake.texts().len() == 1).await);
    assert!(fake.texts()[0].contains("stripe"));
    fake.set_scenario(Scenario::rate_limited(3));
    match sink.send(&note(&a, "slack"), &a).await {
        Err(SendError::Retryable { retry_after, .. }) => {
            assert_eq!(retry_after, Some(Duration::from_secs(3)))
        }
        other => panic!("429 must be retryable, got {other:?}"),
    }
    fake.set_scenario(Scenario::ServerError);
    assert!(matches!(
        sink.send(&note(&a, "slack"), &a).await,
        Err(SendError::Retryable { .. })
    ));
    fake.set_scenario(Scenario::Status(410));
    assert!(matches!(
        sink.send(&note(&a, "slack"), &a).await,
        Err(SendError::Permanent { .. })
    ));
    // the URL holds a token: Debug never shows it
    assert!(!format!("{sink:?}").contains(&fake.webhook_url()));
}

#[tokio::test]
async fn pagerduty_sink_triggers_and_resolves_with_the_dedup_key() {
    let fake = FakePagerDuty::start().await;
    let sink = PagerDutySink::new(Secret::new(fake.routing_key())).url(fake.enqueue_url());
    assert!(
        !sink.accepts(NotificationKind::Reminder),
        "reminders never re-trigger"
    );
    assert!(sink.accepts(NotificationKind::Trigger));
    let t = alert(NotificationKind::Trigger);
    sink.send(&note(&t, "pagerduty"), &t).await.unwrap();
    let r = alert(NotificationKind::Resolve);
    sink.send(&note(&r, "pagerduty"), &r).await.unwrap();
    assert!(poll_until(Duration::from_secs(5), || fake.events().len() == 2).await);
    let ev = fake.events();
    assert_eq!(ev[0]["event_action"], "trigger");
    assert_eq!(ev[0]["payload"]["severity"], "critical");
    assert_eq!(ev[0]["payload"]["component"], "stripe");
    assert_eq!(ev[1]["event_action"], "resolve");
    assert_eq!(ev[0]["dedup_key"], ev[1]["dedup_key"]);
    let alerts = fake.alerts();
    assert_eq!(alerts[&t.dedup_key].status, "resolved");
    fake.set_scenario(Scenario::rate_limited(2));
    assert!(matches!(
        sink.send(&note(&t, "pagerduty"), &t).await,
        Err(SendError::Retryable { .. })
    ));
}

#[tokio::test]
async fn webhook_sink_signs_the_standard_webhooks_way() {
    let fake = FakeWebhookHandler::start().await;
    let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let sink = WebhookSink::new(fake.url_for("alerts"), Secret::new(secret));
    let a = alert(NotificationKind::Trigger);
    let n = note(&a, "webhook");
    sink.send(&n, &a).await.unwrap();
    assert!(poll_until(Duration::from_secs(5), || fake.delivered().len() == 1).await);
    let req = &fake.delivered()[0];
    let id = req.header("webhook-id").unwrap();
    assert_eq!(id, n.id);
    assert_eq!(req.header("idempotency-key"), Some(n.id.as_str()));
    let ts: i64 = req.header("webhook-timestamp").unwrap().parse().unwrap();
    let body = req.body_text().unwrap();
    let got: Alert = serde_json::from_str(body).unwrap();
    assert_eq!(got, a);
    let sig = req.header("webhook-signature").unwrap();
    assert_eq!(
        sig,
        sign_standard_webhook(secret, id, ts, body.as_bytes()).expect("valid secret")
    );
}

#[tokio::test]
async fn outbox_retries_through_a_failing_receiver_until_delivered() {
    let fake = FakeSlack::start().await;
    fake.set_scenario(Scenario::fail_times(2, Scenario::ServerError));
    let store = Arc::new(MemoryStore::new());
    let sink: Arc<dyn AlertSink> = Arc::new(SlackSink::new(Secret::new(fake.webhook_url())));
    let d = Dispatcher::new(store.clone(), vec![sink], "p1", Arc::new(SystemClock)).with_retry(
        RetryPolicy {
            base: Duration::from_millis(50),
            max_delay: Duration::from_millis(200),
            max_attempts: 10,
        },
    );
    let a = alert(NotificationKind::Trigger);
    let n = note(&a, "slack");
    store.enqueue(n.clone()).await.unwrap();
    for _ in 0..40 {
        d.dispatch_once().await.unwrap();
        if store.get_notification(&n.id).await.unwrap().unwrap().state == OutboxState::Sent {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let got = store.get_notification(&n.id).await.unwrap().unwrap();
    assert_eq!(got.state, OutboxState::Sent);
    assert_eq!(got.attempts, 3, "two 5xx, then delivered");
    assert!(poll_until(Duration::from_secs(5), || fake.texts().len() == 1).await);
}
