//! Alert engine and outbox: thresholds, reminders, flapping, maintenance, retries, restart
//! reconciliation — with a manual wall clock.

use std::sync::atomic::{AtomicI64, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use wedsync_probe::alert::{Alert, AlertConfig, AlertEngine, MaintenanceWindow};
use wedsync_probe::clock::WallClock;
use wedsync_probe::outbox::{Dispatcher, RetryPolicy};
use wedsync_probe::sink::{AlertSink, SendError};
use wedsync_probe::store::{
    IncidentStore, MemoryStore, Notification, NotificationKind, OutboxState, OutboxStore,
    ProbeStore,
};
use wedsync_probe::{ProbeResult, ProbeStatus};

#[derive(Debug, Default)]
struct ManualClock(AtomicI64);
impl ManualClock {
    fn at(ms: i64) -> Arc<Self> {
        Arc::new(ManualClock(AtomicI64::new(ms)))
    }
    fn advance(&self, d: Duration) {
        self.0.fetch_add(d.as_millis() as i64, Ordering::SeqCst);
    }
}
impl WallClock for ManualClock {
    fn now_ms(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// Records what it got; fails the first `fail_first` sends with `fail_with`.
struct Recorder {
    name: String,
    reminders: bool,
    got: Mutex<Vec<(NotificationKind, Alert)>>,
    fail_first: AtomicU32,
    fail_with: SendError,
}

impl Recorder {
    fn new(name: &str, reminders: bool) -> Arc<Self> {
        Arc::new(Recorder {
            name: name.into(),
            reminders,
            got: Mutex::new(Vec::new()),
            fail_first: AtomicU32::new(0),
            fail_with: SendError::Permanent {
                message: "x".into(),
            },
        })
    }
    fn failing(name: &str, n: u32, e: SendError) -> Arc<Self> {
        Arc::new(Recorder {
            name: name.into(),
            reminders: true,
            got: Mutex::new(Vec::new()),
            fail_first: AtomicU32::new(n),
            fail_with: e,
        })
    }
    fn kinds(&self) -> Vec<NotificationKind> {
        self.got.lock().unwrap().iter().map(|(k, _)| *k).collect()
    }
}

#[async_trait]
impl AlertSink for Recorder {
    fn name(&self) -> &str {
        &self.name
    }
    fn accepts(&self, kind: NotificationKind) -> bool {
        self.reminders || kind != NotificationKind::Reminder
    }
    async fn send(&self, n: &Notification, alert: &Alert) -> Result<(), SendError> {
        if self
            .fail_first
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |v| v.checked_sub(1))
            .is_ok()
        {
            return Err(self.fail_with.clone());
        }
        self.got.lock().unwrap().push((n.kind, alert.clone()));
        Ok(())
    }
}

const SAT_NOON: i64 = 1_800_000_000_000;

struct Rig {
    clock: Arc<ManualClock>,
    store: Arc<MemoryStore>,
    engine: AlertEngine,
    dispatcher: Dispatcher,
    slack: Arc<Recorder>,
    pager: Arc<Recorder>,
}

fn rig_with(cfg: AlertConfig, store: Arc<MemoryStore>, clock: Arc<ManualClock>) -> Rig {
    let slack = Recorder::new("slack", true);
    let pager = Recorder::new("pagerduty", false);
    let sinks: Vec<Arc<dyn AlertSink>> = vec![slack.clone(), pager.clone()];
    let engine = AlertEngine::new(
        cfg,
        store.clone() as Arc<dyn ProbeStore>,
        sinks.clone(),
        clock.clone(),
    );
    let dispatcher = Dispatcher::new(store.clone(), sinks, "p1", clock.clone());
    Rig {
        clock,
        store,
        engine,
        dispatcher,
        slack,
        pager,
    }
}

fn rig(cfg: AlertConfig) -> Rig {
    rig_with(cfg, Arc::new(MemoryStore::new()), ManualClock::at(SAT_NOON))
}

fn res(status: ProbeStatus) -> ProbeResult {
    ProbeResult::new("stripe", status, format!("HTTP {status}"))
}

impl Rig {
    async fn feed(&self, status: ProbeStatus, wedding: bool) -> Vec<NotificationKind> {
        self.clock.advance(Duration::from_secs(30));
        let out = self.engine.on_result(&res(status), wedding).await.unwrap();
        self.dispatcher.dispatch_once().await.unwrap();
        out.notified
    }
}

#[tokio::test]
async fn opens_after_n_failures_notifies_once_and_resolves_after_m() {
    use ProbeStatus::*;
    let r = rig(AlertConfig::default());
    assert!(r.feed(Unhealthy, false).await.is_empty());
    assert!(r.feed(Unhealthy, false).await.is_empty());
    assert_eq!(
        r.feed(Unhealthy, false).await,
        vec![NotificationKind::Trigger]
    );
    for _ in 0..10 {
        assert!(
            r.feed(Unhealthy, false).await.is_empty(),
            "no stream while open"
        );
    }
    assert_eq!(r.slack.kinds(), vec![NotificationKind::Trigger]);
    assert_eq!(r.pager.kinds(), vec![NotificationKind::Trigger]);
    let key = r.slack.got.lock().unwrap()[0].1.dedup_key.clone();
    assert!(key.starts_with("wedsync/stripe/"));
    assert!(
        r.feed(Healthy, false).await.is_empty(),
        "one success is not enough"
    );
    assert_eq!(
        r.feed(Degraded, false).await,
        vec![NotificationKind::Resolve]
    );
    assert_eq!(
        r.pager.got.lock().unwrap()[1].1.dedup_key,
        key,
        "resolve carries the same dedup key"
    );
    let inc = r.store.get_incident(&key).await.unwrap().unwrap();
    assert_eq!(inc.state.as_str(), "resolved");
}

#[tokio::test]
async fn wedding_days_open_sooner_and_page_critical() {
    let r = rig(AlertConfig::default());
    assert!(r.feed(ProbeStatus::Unhealthy, true).await.is_empty());
    assert_eq!(
        r.feed(ProbeStatus::Unhealthy, true).await,
        vec![NotificationKind::Trigger]
    );
    let got = r.pager.got.lock().unwrap();
    assert_eq!(got[0].1.severity.as_str(), "critical");
    assert!(got[0].1.wedding_day);
}

#[tokio::test]
async fn rate_limited_and_unknown_are_neutral_auth_failed_alerts() {
    use ProbeStatus::*;
    let r = rig(AlertConfig::default());
    r.feed(Unhealthy, false).await;
    r.feed(Unhealthy, false).await;
    for s in [RateLimited, Unknown, RateLimited] {
        assert!(
            r.feed(s, false).await.is_empty(),
            "{s} neither opens nor resets"
        );
    }
    assert_eq!(
        r.feed(Unhealthy, false).await,
        vec![NotificationKind::Trigger]
    );

    let r = rig(AlertConfig::default());
    for _ in 0..2 {
        r.feed(AuthFailed, false).await;
    }
    assert_eq!(
        r.feed(AuthFailed, false).await,
        vec![NotificationKind::Trigger]
    );
    let got = r.slack.got.lock().unwrap();
    assert_eq!(got[0].1.status, AuthFailed);
    assert_eq!(got[0].1.severity.as_str(), "error");
}

#[tokio::test]
async fn reminders_are_rate_limited_and_never_reach_pagerduty() {
    let cfg = AlertConfig {
        reminder_interval: Duration::from_secs(10 * 60),
        ..AlertConfig::default()
    };
    let r = rig(cfg);
    // 30 s per result: 3 to open, then 60 more results = 30 minutes
    for _ in 0..63 {
        r.feed(ProbeStatus::Unhealthy, false).await;
    }
    let slack = r.slack.kinds();
    assert_eq!(slack[0], NotificationKind::Trigger);
    let reminders = slack
        .iter()
        .filter(|k| **k == NotificationKind::Reminder)
        .count();
    assert_eq!(
        reminders, 3,
        "one per 10 minutes over 30 minutes: {slack:?}"
    );
    assert_eq!(
        r.pager.kinds(),
        vec![NotificationKind::Trigger],
        "PagerDuty is never re-triggered"
    );
}

#[tokio::test]
async fn flapping_sends_one_notice_instead_of_a_stream() {
    use ProbeStatus::*;
    let cfg = AlertConfig {
        failures_to_open: 1,
        successes_to_resolve: 1,
        ..AlertConfig::default()
    };
    let r = rig(cfg);
    for i in 0..40 {
        r.feed(if i % 2 == 0 { Unhealthy } else { Healthy }, false)
            .await;
    }
    let kinds = r.slack.kinds();
    let flaps = kinds
        .iter()
        .filter(|k| **k == NotificationKind::Flapping)
        .count();
    assert_eq!(flaps, 1, "{kinds:?}");
    // before the window shows 8 changes, 4 open/resolve pairs went out; then one notice, then
    // silence for the remaining 31 flips
    assert_eq!(kinds.len(), 9, "a handful, not a stream of 40: {kinds:?}");
    assert_eq!(kinds[8], NotificationKind::Flapping);
    // stabilising: healthy for a while resolves the incident once
    for _ in 0..25 {
        r.feed(Healthy, false).await;
    }
    let kinds = r.slack.kinds();
    assert_eq!(kinds.last(), Some(&NotificationKind::Resolve), "{kinds:?}");
}

#[tokio::test]
async fn maintenance_silences_but_keeps_measuring() {
    let clock = ManualClock::at(SAT_NOON);
    let cfg = AlertConfig {
        maintenance: vec![MaintenanceWindow {
            service: Some("stripe".into()),
            start_ms: SAT_NOON,
            end_ms: SAT_NOON + 5 * 60_000,
        }],
        ..AlertConfig::default()
    };
    let r = rig_with(cfg, Arc::new(MemoryStore::new()), clock);
    for _ in 0..9 {
        // 4.5 minutes of failures inside the window
        let out = r.feed(ProbeStatus::Unhealthy, false).await;
        assert!(out.is_empty());
    }
    assert!(r.slack.kinds().is_empty());
    let out = r
        .engine
        .on_result(&res(ProbeStatus::Unhealthy), false)
        .await
        .unwrap();
    assert!(out.in_maintenance);
    assert_eq!(out.consecutive_failures, 10, "measuring went on");
    r.clock.advance(Duration::from_secs(60));
    assert_eq!(
        r.feed(ProbeStatus::Unhealthy, false).await,
        vec![NotificationKind::Trigger],
        "after the window the ongoing outage is announced"
    );
}

#[tokio::test]
async fn restart_neither_re_pages_nor_leaves_a_zombie() {
    let store = Arc::new(MemoryStore::new());
    let clock = ManualClock::at(SAT_NOON);
    let first = rig_with(AlertConfig::default(), store.clone(), clock.clone());
    for _ in 0..3 {
        first.feed(ProbeStatus::Unhealthy, false).await;
    }
    assert_eq!(first.pager.kinds(), vec![NotificationKind::Trigger]);
    let key = first.pager.got.lock().unwrap()[0].1.dedup_key.clone();
    drop(first);

    // "restart": a new engine on the same store
    let second = rig_with(AlertConfig::default(), store.clone(), clock.clone());
    assert_eq!(second.engine.reconcile().await.unwrap(), 1);
    for _ in 0..5 {
        assert!(second.feed(ProbeStatus::Unhealthy, false).await.is_empty());
    }
    assert!(second.pager.kinds().is_empty(), "no re-page after restart");
    drop(second);

    // the outage ends while the monitor is down; after the next restart it resolves
    let third = rig_with(AlertConfig::default(), store.clone(), clock);
    third.engine.reconcile().await.unwrap();
    third.feed(ProbeStatus::Healthy, false).await;
    assert_eq!(
        third.feed(ProbeStatus::Healthy, false).await,
        vec![NotificationKind::Resolve]
    );
    let resolved_key = third.pager.got.lock().unwrap()[0].1.dedup_key.clone();
    assert_eq!(resolved_key, key, "the original incident is resolved");
    assert!(store.list_open_incidents().await.unwrap().is_empty());
}

fn enqueue_one(id: &str, at: i64) -> Notification {
    let alert = Alert {
        kind: NotificationKind::Trigger,
        service: "stripe".into(),
        dedup_key: "wedsync/stripe/1".into(),
        status: ProbeStatus::Unhealthy,
        severity: wedsync_probe::alert::Severity::Critical,
        summary: "HTTP 503".into(),
        opened_at_ms: at,
        at_ms: at,
        wedding_day: true,
    };
    Notification::pending(
        id,
        "slack",
        NotificationKind::Trigger,
        "wedsync/stripe/1",
        "stripe",
        serde_json::to_string(&alert).unwrap(),
        at,
    )
}

#[tokio::test]
async fn outbox_retries_429_and_5xx_until_sent() {
    let clock = ManualClock::at(SAT_NOON);
    let store = Arc::new(MemoryStore::new());
    let slack = Recorder::failing(
        "slack",
        2,
        SendError::Retryable {
            message: "HTTP 429".into(),
            retry_after: Some(Duration::from_secs(7)),
        },
    );
    let d = Dispatcher::new(store.clone(), vec![slack.clone()], "p1", clock.clone());
    store.enqueue(enqueue_one("n1", SAT_NOON)).await.unwrap();
    let rep = d.dispatch_once().await.unwrap();
    assert_eq!(rep.retried, 1);
    let n = store.get_notification("n1").await.unwrap().unwrap();
    assert_eq!(
        n.next_attempt_at_ms,
        SAT_NOON + 7_000,
        "Retry-After honoured"
    );
    assert_eq!(n.last_error.as_deref(), Some("HTTP 429"));
    clock.advance(Duration::from_secs(6));
    assert_eq!(d.dispatch_once().await.unwrap().retried, 0, "not due yet");
    clock.advance(Duration::from_secs(1));
    assert_eq!(d.dispatch_once().await.unwrap().retried, 1);
    clock.advance(Duration::from_secs(60));
    assert_eq!(d.dispatch_once().await.unwrap().sent, 1);
    let n = store.get_notification("n1").await.unwrap().unwrap();
    assert_eq!(n.state, OutboxState::Sent);
    assert_eq!(n.attempts, 3);
    assert_eq!(slack.kinds().len(), 1, "delivered exactly once");
}

#[tokio::test]
async fn outbox_gives_up_on_permanent_errors_and_after_max_attempts() {
    let clock = ManualClock::at(SAT_NOON);
    let store = Arc::new(MemoryStore::new());
    let gone = Recorder::failing(
        "slack",
        100,
        SendError::Permanent {
            message: "HTTP 410 channel_is_archived".into(),
        },
    );
    let d = Dispatcher::new(store.clone(), vec![gone], "p1", clock.clone());
    store.enqueue(enqueue_one("n1", SAT_NOON)).await.unwrap();
    assert_eq!(d.dispatch_once().await.unwrap().dead, 1);
    assert_eq!(
        store.get_notification("n1").await.unwrap().unwrap().state,
        OutboxState::Dead
    );

    let store = Arc::new(MemoryStore::new());
    let flaky = Recorder::failing(
        "slack",
        100,
        SendError::Retryable {
            message: "HTTP 503".into(),
            retry_after: None,
        },
    );
    let d =
        Dispatcher::new(store.clone(), vec![flaky], "p1", clock.clone()).with_retry(RetryPolicy {
            base: Duration::from_secs(1),
            max_delay: Duration::from_secs(4),
            max_attempts: 3,
        });
    store
        .enqueue(enqueue_one("n1", clock.now_ms()))
        .await
        .unwrap();
    for _ in 0..3 {
        d.dispatch_once().await.unwrap();
        clock.advance(Duration::from_secs(5));
    }
    let n = store.get_notification("n1").await.unwrap().unwrap();
    assert_eq!(n.state, OutboxState::Dead);
    assert_eq!(n.attempts, 3);
}

#[tokio::test]
async fn two_dispatchers_never_send_one_notification_twice() {
    let clock = ManualClock::at(SAT_NOON);
    let store = Arc::new(MemoryStore::new());
    let slack = Recorder::new("slack", true);
    let a = Dispatcher::new(store.clone(), vec![slack.clone()], "a", clock.clone());
    let b = Dispatcher::new(store.clone(), vec![slack.clone()], "b", clock.clone());
    for i in 0..50 {
        store
            .enqueue(enqueue_one(&format!("n{i}"), SAT_NOON))
            .await
            .unwrap();
    }
    for _ in 0..3 {
        let (x, y) = tokio::join!(a.dispatch_once(), b.dispatch_once());
        x.unwrap();
        y.unwrap();
    }
    assert_eq!(slack.kinds().len(), 50);
}
