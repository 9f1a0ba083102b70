//! The monitor's scheduling, breaker feedback, wedding-day switching, self-connectivity and
//! snapshots — under tokio's paused clock.

mod common;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::wait_for_snapshot;
use tokio::time::Instant;
use wedsync_breaker::{BreakerConfig, Registry, SlidingWindow, State};
use wedsync_probe::clock::TokioClock;
use wedsync_probe::monitor::MonitorBuilder;
use wedsync_probe::{
    FnProbe, HealthProbe, Monitor, MonitorConfig, MonitorError, ProbeResult, ProbeStatus,
    ServiceConfig, WeddingDayPolicy,
};

/// Friday 2027-06-11 23:59:00 London (BST) = 22:59:00 UTC.
const FRIDAY_2359_LONDON: i64 = 1_812_754_740_000;

fn never() -> MonitorConfig {
    MonitorConfig {
        policy: WeddingDayPolicy::never(),
        ..MonitorConfig::default()
    }
}

/// Builds `builder` with [`never`]'s configuration, runs it for `run` (of paused time) and shuts it
/// down.
async fn run_for(builder: MonitorBuilder, run: Duration) {
    let monitor = builder.config(never()).build().unwrap();
    let handle = monitor.start().await.unwrap();
    tokio::time::sleep(run).await;
    handle.shutdown().await;
}

/// A probe that records when each run started and returns scripted results (then `fallback`).
struct Scripted {
    name: String,
    took: Duration,
    timeout: Duration,
    script: Mutex<VecDeque<ProbeResult>>,
    fallback: ProbeStatus,
    starts: Mutex<Vec<Instant>>,
    inflight: AtomicUsize,
    max_inflight: AtomicUsize,
    global: Option<Arc<(AtomicUsize, AtomicUsize)>>,
}

impl Scripted {
    fn new(name: &str, took: Duration, fallback: ProbeStatus) -> Self {
        Scripted {
            name: name.into(),
            took,
            timeout: Duration::from_secs(3),
            script: Mutex::new(VecDeque::new()),
            fallback,
            starts: Mutex::new(Vec::new()),
            inflight: AtomicUsize::new(0),
            max_inflight: AtomicUsize::new(0),
            global: None,
        }
    }
    fn then(self, rs: impl IntoIterator<Item = ProbeResult>) -> Self {
        self.script.lock().unwrap().extend(rs);
        self
    }
    fn gaps(&self) -> Vec<Duration> {
        let s = self.starts.lock().unwrap();
        s.windows(2).map(|w| w[1] - w[0]).collect()
    }
}

#[async_trait::async_trait]
impl HealthProbe for Scripted {
    fn service(&self) -> &str {
        &self.name
    }
    fn timeout(&self) -> Duration {
        self.timeout
    }
    async fn check(&self) -> ProbeResult {
        self.starts.lock().unwrap().push(Instant::now());
        let n = self.inflight.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_inflight.fetch_max(n, Ordering::SeqCst);
        if let Some(g) = &self.global {
            let n = g.0.fetch_add(1, Ordering::SeqCst) + 1;
            g.1.fetch_max(n, Ordering::SeqCst);
        }
        tokio::time::sleep(self.took).await;
        self.inflight.fetch_sub(1, Ordering::SeqCst);
        if let Some(g) = &self.global {
            g.0.fetch_sub(1, Ordering::SeqCst);
        }
        let next = self.script.lock().unwrap().pop_front();
        next.unwrap_or_else(|| ProbeResult::new(&self.name, self.fallback, "scripted"))
    }
}

/// A probe of `service` that answers `status` at once, every time.
fn steady(service: &str, status: ProbeStatus) -> Arc<Scripted> {
    Arc::new(Scripted::new(service, Duration::ZERO, status))
}

fn res(status: ProbeStatus) -> ProbeResult {
    ProbeResult::new("x", status, "scripted")
}

#[tokio::test(start_paused = true)]
async fn no_overlapping_runs_and_the_concurrency_bound_holds() {
    let global = Arc::new((AtomicUsize::new(0), AtomicUsize::new(0)));
    let probes: Vec<Arc<Scripted>> = (0..6)
        .map(|i| {
            let mut p = Scripted::new(
                &format!("svc{i}"),
                Duration::from_secs(3),
                ProbeStatus::Healthy,
            );
            p.global = Some(global.clone());
            Arc::new(p)
        })
        .collect();
    let monitor = Monitor::builder()
        .services(probes.iter().map(|p| {
            ServiceConfig::new(p.clone() as Arc<dyn HealthProbe>)
                .intervals(Duration::from_secs(4), Duration::from_secs(4))
        }))
        .config(MonitorConfig {
            max_concurrency: 2,
            ..never()
        })
        .build()
        .unwrap();
    let handle = monitor.start().await.unwrap();
    // manual runs race the scheduled ones
    let m = monitor.clone();
    let manual = tokio::spawn(async move {
        for _ in 0..5 {
            let (a, b) = tokio::join!(m.run_now("svc0"), m.run_now("svc0"));
            a.unwrap();
            b.unwrap();
        }
    });
    tokio::time::sleep(Duration::from_secs(120)).await;
    manual.await.unwrap();
    handle.shutdown().await;
    assert_eq!(
        global.1.load(Ordering::SeqCst),
        2,
        "bounded by 2, and the bound is used"
    );
    for p in &probes {
        assert_eq!(
            p.max_inflight.load(Ordering::SeqCst),
            1,
            "{}: runs overlapped",
            p.name
        );
        assert!(p.starts.lock().unwrap().len() >= 5, "{} starved", p.name);
    }
    let lag = monitor.scheduling_lag();
    assert!(lag.count > 0);
    assert!(
        lag.max > Duration::ZERO,
        "waiting for a permit shows as lag"
    );
}

#[tokio::test(start_paused = true)]
async fn interval_excludes_probe_time_and_jitter_spreads_runs() {
    let exact = Arc::new(Scripted::new(
        "exact",
        Duration::from_secs(2),
        ProbeStatus::Healthy,
    ));
    let jittery = Arc::new(Scripted::new(
        "jittery",
        Duration::from_secs(2),
        ProbeStatus::Healthy,
    ));
    run_for(
        Monitor::builder()
            .service(
                ServiceConfig::new(exact.clone())
                    .intervals(Duration::from_secs(10), Duration::from_secs(10))
                    .jitter(0.0),
            )
            .service(
                ServiceConfig::new(jittery.clone())
                    .intervals(Duration::from_secs(10), Duration::from_secs(10))
                    .jitter(0.2),
            ),
        Duration::from_secs(300),
    )
    .await;
    let gaps = exact.gaps();
    assert!(gaps.len() >= 20);
    assert!(
        gaps.iter().all(|g| *g == Duration::from_secs(12)),
        "2 s probe + 10 s interval: {gaps:?}"
    );
    let gaps = jittery.gaps();
    assert!(gaps
        .iter()
        .all(|g| *g >= Duration::from_secs(10) && *g <= Duration::from_secs(14)));
    let distinct: std::collections::HashSet<_> = gaps.iter().map(|g| g.as_millis()).collect();
    assert!(distinct.len() > gaps.len() / 2, "jitter varies: {gaps:?}");
}

#[tokio::test(start_paused = true)]
async fn rechecks_faster_after_failure_and_backs_off_when_rate_limited() {
    use ProbeStatus::*;
    let p = Arc::new(Scripted::new("stripe", Duration::ZERO, Healthy).then([
        res(Healthy),
        res(Unhealthy),
        res(Healthy),
        res(RateLimited).with_retry_after(Some(Duration::from_secs(120))),
        res(RateLimited),
        res(Healthy),
    ]));
    run_for(
        Monitor::builder().service(
            ServiceConfig::new(p.clone())
                .intervals(Duration::from_secs(30), Duration::from_secs(5))
                .rechecks(Duration::from_secs(5), Duration::from_secs(1))
                .jitter(0.0),
        ),
        Duration::from_secs(400),
    )
    .await;
    let gaps: Vec<u64> = p.gaps().iter().map(|g| g.as_secs()).collect();
    assert_eq!(
        &gaps[..6],
        &[30, 5, 30, 120, 60, 30],
        "healthy→interval, failure→recheck, 429→Retry-After, 429 without→default back-off"
    );
}

#[tokio::test(start_paused = true)]
async fn a_hanging_probe_times_out_as_unhealthy() {
    let mut p = Scripted::new("slow", Duration::from_secs(3600), ProbeStatus::Healthy);
    p.timeout = Duration::from_secs(2);
    let monitor = Monitor::builder()
        .service(ServiceConfig::new(Arc::new(p)))
        .config(never())
        .build()
        .unwrap();
    let t = Instant::now();
    let r = monitor.run_now("slow").await.unwrap();
    assert_eq!(r.status, ProbeStatus::Unhealthy);
    assert!(r.detail.contains("timed out"));
    assert_eq!(t.elapsed(), Duration::from_secs(2));
}

#[tokio::test]
async fn configuration_is_validated() {
    let p = Arc::new(FnProbe::new("a", Duration::from_secs(30), || async {
        ProbeResult::new("a", ProbeStatus::Healthy, "")
    }));
    let err = Monitor::builder()
        .service(ServiceConfig::new(p.clone()))
        .build()
        .unwrap_err();
    assert!(
        matches!(err, MonitorError::Config(_)),
        "timeout 30 s is not below 5 s wedding interval"
    );
    let ok = Arc::new(FnProbe::new("a", Duration::from_secs(1), || async {
        ProbeResult::new("a", ProbeStatus::Healthy, "")
    }));
    let err = Monitor::builder()
        .service(ServiceConfig::new(ok.clone()))
        .service(ServiceConfig::new(ok.clone()))
        .build()
        .unwrap_err();
    assert!(matches!(err, MonitorError::Config(_)), "duplicate names");
    let m = Monitor::builder()
        .service(ServiceConfig::new(ok))
        .build()
        .unwrap();
    assert!(matches!(
        m.run_now("nope").await,
        Err(MonitorError::UnknownService(_))
    ));
}

#[tokio::test]
async fn breaker_feedback_ignores_auth_failed_and_rate_limited() {
    use ProbeStatus::*;
    let cfg = BreakerConfig::builder()
        .sliding_window(SlidingWindow::Count(4))
        .minimum_calls(2)
        .failure_rate_threshold(50.0)
        .wait_duration_in_open(Duration::from_secs(60))
        .build()
        .unwrap();
    let mut script = Vec::new();
    script.extend(std::iter::repeat_n(res(AuthFailed), 10));
    script.extend(std::iter::repeat_n(res(RateLimited), 10));
    script.extend([res(Healthy), res(Healthy), res(Unhealthy), res(Unhealthy)]);
    let p = Arc::new(Scripted::new("stripe", Duration::ZERO, Healthy).then(script));
    let monitor = Monitor::builder()
        .service(ServiceConfig::new(p))
        .breakers(Registry::new(cfg))
        .config(never())
        .build()
        .unwrap();
    let breaker = monitor.breakers().get("stripe");
    for _ in 0..20 {
        monitor.run_now("stripe").await.unwrap();
        assert_eq!(
            breaker.state(),
            State::Closed,
            "auth_failed/rate_limited never trip it"
        );
    }
    assert_eq!(breaker.metrics().failed_calls, 0);
    for _ in 0..3 {
        monitor.run_now("stripe").await.unwrap();
    }
    assert_eq!(breaker.state(), State::Closed, "1 of 3 failed: 33 % < 50 %");
    monitor.run_now("stripe").await.unwrap();
    assert_eq!(
        breaker.state(),
        State::Open,
        "unhealthy results open the breaker"
    );
    assert_eq!(monitor.snapshot().services["stripe"].breaker, "open");
}

#[tokio::test(start_paused = true)]
async fn wedding_day_starts_at_local_midnight_and_tightens_everything() {
    let p = steady("stripe", ProbeStatus::Healthy);
    let monitor = Monitor::builder()
        .service(
            ServiceConfig::new(p.clone())
                .intervals(Duration::from_secs(30), Duration::from_secs(5))
                .jitter(0.0),
        )
        .config(MonitorConfig {
            startup_spread: Duration::ZERO,
            ..MonitorConfig::default()
        })
        .clock(Arc::new(TokioClock::starting_at(FRIDAY_2359_LONDON)))
        .build()
        .unwrap();
    assert!(!monitor.is_wedding_day());
    assert!(!monitor.breakers().is_wedding_day());
    let mut rx = monitor.subscribe();
    let handle = monitor.start().await.unwrap();
    tokio::time::sleep(Duration::from_secs(59)).await;
    assert!(!monitor.is_wedding_day(), "23:59:59 Friday");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(monitor.is_wedding_day(), "00:00:01 Saturday");
    assert!(monitor.breakers().is_wedding_day(), "breakers switched");
    assert!(monitor.breakers().get("stripe").is_wedding_day());
    rx.mark_changed();
    assert!(rx.borrow_and_update().wedding_day, "published");
    tokio::time::sleep(Duration::from_secs(60)).await;
    handle.shutdown().await;
    let gaps: Vec<u64> = p.gaps().iter().map(|g| g.as_secs()).collect();
    assert_eq!(&gaps[..2], &[30, 30], "Friday: 30 s");
    assert!(
        gaps[gaps.len() - 5..].iter().all(|g| *g == 5),
        "Saturday: 5 s: {gaps:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn offline_monitor_reports_unknown_and_pages_nobody() {
    let p = steady("stripe", ProbeStatus::Unhealthy);
    let online = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let o = online.clone();
    let conn = Arc::new(FnProbe::new("self", Duration::from_secs(1), move || {
        let up = o.load(Ordering::SeqCst);
        async move {
            ProbeResult::new(
                "self",
                if up {
                    ProbeStatus::Healthy
                } else {
                    ProbeStatus::Unhealthy
                },
                "",
            )
        }
    }));
    let monitor = Monitor::builder()
        .service(ServiceConfig::new(p))
        .connectivity(conn)
        .config(never())
        .build()
        .unwrap();
    for _ in 0..6 {
        let r = monitor.run_now("stripe").await.unwrap();
        assert_eq!(r.status, ProbeStatus::Unknown);
        assert!(r.detail.contains("cannot reach the network"));
        tokio::time::advance(Duration::from_secs(6)).await;
    }
    let snap = monitor.snapshot();
    assert_eq!(snap.services["stripe"].status, ProbeStatus::Unknown);
    assert_eq!(
        snap.services["stripe"].incident, None,
        "no page while offline"
    );
    assert_eq!(monitor.breakers().get("stripe").metrics().failed_calls, 0);
    online.store(true, Ordering::SeqCst);
    tokio::time::advance(Duration::from_secs(6)).await;
    let r = monitor.run_now("stripe").await.unwrap();
    assert_eq!(
        r.status,
        ProbeStatus::Unhealthy,
        "network back: the failure is real"
    );
}

#[tokio::test(start_paused = true)]
async fn snapshot_and_subscribers_see_results() {
    let a = steady("a", ProbeStatus::Healthy);
    let b = steady("b", ProbeStatus::Degraded);
    let monitor = Monitor::builder()
        .service(ServiceConfig::new(a))
        .service(ServiceConfig::new(b))
        .config(never())
        .build()
        .unwrap();
    let s = monitor.snapshot();
    assert_eq!(s.overall, ProbeStatus::Unknown, "nothing measured yet");
    let mut rx = monitor.subscribe();
    let handle = monitor.start().await.unwrap();
    let s = wait_for_snapshot(
        &mut rx,
        Duration::from_secs(10),
        "every service measured",
        |s| s.services.values().all(|h| h.last.is_some()),
    )
    .await;
    assert_eq!(s.overall, ProbeStatus::Degraded);
    let s = monitor.snapshot();
    assert_eq!(s.services["a"].status, ProbeStatus::Healthy);
    assert_eq!(s.services["a"].breaker, "closed");
    assert_eq!(monitor.services(), vec!["a", "b"]);
    let stored = monitor.store().latest_results().await.unwrap();
    assert_eq!(stored.len(), 2, "results persisted");
    handle.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn each_new_result_is_seen_once() {
    let monitor = Monitor::builder()
        .service(ServiceConfig::new(steady("a", ProbeStatus::Healthy)))
        .service(ServiceConfig::new(steady("b", ProbeStatus::Degraded)))
        .config(never())
        .build()
        .unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let into = seen.clone();
    let follow = monitor.each_new_result(move |r| into.lock().unwrap().push(r.service.clone()));
    let follow = tokio::spawn(follow);
    let handle = monitor.start().await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while seen.lock().unwrap().len() < 2 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    handle.shutdown().await;
    drop(monitor);
    follow.await.unwrap();
    let mut seen = seen.lock().unwrap().clone();
    seen.sort();
    assert_eq!(seen, ["a", "b"], "each first result once");
}

#[tokio::test(start_paused = true)]
async fn monitor_reconciles_incidents_at_start_up() {
    use wedsync_probe::store::{Incident, IncidentState, IncidentStore, MemoryStore, ProbeStore};
    let store = Arc::new(MemoryStore::new());
    let key = Incident::dedup_key_for("stripe", 1_000);
    store
        .open_incident(Incident {
            dedup_key: key.clone(),
            service: "stripe".into(),
            state: IncidentState::Open,
            status: ProbeStatus::Unhealthy,
            opened_at_ms: 1_000,
            updated_at_ms: 1_000,
            resolved_at_ms: None,
            last_notified_at_ms: Some(1_000),
            wedding_day: false,
            summary: "HTTP 503".into(),
        })
        .await
        .unwrap();
    let p = steady("stripe", ProbeStatus::Healthy);
    run_for(
        Monitor::builder()
            .service(
                ServiceConfig::new(p.clone())
                    .rechecks(Duration::from_secs(2), Duration::from_secs(1))
                    .jitter(0.0),
            )
            .store(store.clone() as Arc<dyn ProbeStore>),
        Duration::from_secs(10),
    )
    .await;
    let inc = store.get_incident(&key).await.unwrap().unwrap();
    assert_eq!(
        inc.state,
        IncidentState::Resolved,
        "outage that ended while down is resolved"
    );
    let gaps: Vec<u64> = p.gaps().iter().map(|g| g.as_secs()).collect();
    assert_eq!(gaps[0], 2, "open incident: confirmed at the re-check pace");
}

#[tokio::test(start_paused = true)]
async fn the_generation_moves_with_every_recorded_result_and_only_then() {
    let p = Scripted::new("svc", Duration::from_millis(10), ProbeStatus::Healthy);
    let monitor = Monitor::builder()
        .service(ServiceConfig::new(Arc::new(p)))
        .config(never())
        .build()
        .unwrap();
    let g0 = monitor.generation();
    let s0 = monitor.snapshot();
    assert_eq!(monitor.generation(), g0, "reading changes nothing");
    monitor.run_now("svc").await.unwrap();
    let g1 = monitor.generation();
    assert!(g1 > g0, "a recorded result moves it");
    let s1 = monitor.snapshot();
    assert_ne!(s0.services["svc"], s1.services["svc"]);
    // same generation, same per-service state
    assert_eq!(monitor.generation(), g1);
    assert_eq!(monitor.snapshot().services, s1.services);
    monitor.run_now("svc").await.unwrap();
    assert!(
        monitor.generation() > g1,
        "even a healthy result staying healthy"
    );
}
