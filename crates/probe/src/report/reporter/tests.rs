use super::*;
use crate::store::{IncidentState, IncidentStore, MemoryStore, ResultStore};
use crate::{probe_breaker_config, FnProbe, ServiceConfig};

fn probe(status: ProbeStatus) -> ServiceConfig {
    ServiceConfig::new(Arc::new(FnProbe::new(
        "stripe",
        Duration::from_secs(1),
        move || async move { ProbeResult::new("stripe", status, "checked") },
    )))
}

struct Fixture {
    store: Arc<MemoryStore>,
    breakers: Registry,
    clock: wedsync_breaker::FakeClock,
    monitor: Arc<Monitor>,
}

fn fixture(status: ProbeStatus) -> Fixture {
    let store = Arc::new(MemoryStore::new());
    let clock = wedsync_breaker::FakeClock::new();
    let breakers = Registry::builder()
        .default_config(probe_breaker_config())
        .clock(Arc::new(clock.clone()))
        .build();
    let monitor = Monitor::builder()
        .service(probe(status))
        .store(store.clone())
        .breakers(breakers.clone())
        .build()
        .expect("monitor");
    Fixture {
        store,
        breakers,
        clock,
        monitor: Arc::new(monitor),
    }
}

impl Fixture {
    fn reporter(&self) -> Reporter {
        Reporter::new(self.store.clone(), self.breakers.clone())
            .with_services([("stripe", "stripe"), ("twilio", "twilio")])
            .with_monitor(self.monitor.clone())
    }
}

fn incident(service: &str) -> Incident {
    Incident {
        dedup_key: Incident::dedup_key_for(service, 1),
        service: service.into(),
        state: IncidentState::Open,
        status: ProbeStatus::Unhealthy,
        opened_at_ms: 1,
        updated_at_ms: 1,
        resolved_at_ms: None,
        last_notified_at_ms: None,
        wedding_day: false,
        summary: "HTTP 503".into(),
    }
}

fn json(r: &RenderedReport) -> serde_json::Value {
    serde_json::to_value(r).expect("report serialises")
}

#[tokio::test]
async fn the_full_report_is_reused_until_a_result_moves_the_generation() {
    let f = fixture(ProbeStatus::Healthy);
    let reporter = f.reporter();
    let all = ReportQuery::default();
    let a = reporter.report(&all).await.unwrap();
    let b = reporter.report(&all).await.unwrap();
    assert!(Arc::ptr_eq(&a.services, &b.services), "rendered once");
    assert_eq!(json(&a)["services"][0]["status"], "unknown");

    reporter.run_now("stripe").await.unwrap();
    let c = reporter.report(&all).await.unwrap();
    assert!(
        !Arc::ptr_eq(&b.services, &c.services),
        "a new result renders anew"
    );
    let v = json(&c);
    assert_eq!(v["services"][0]["status"], "healthy");
    assert_eq!(v["services"][1]["name"], "twilio");
    assert_eq!(v["monitor_running"], true);
    // an unreported service's status is unknown, the worst of the two here
    assert_eq!(v["status"], "unknown");
}

#[tokio::test]
async fn open_incidents_are_read_at_most_every_ttl() {
    let f = fixture(ProbeStatus::Healthy);
    let all = ReportQuery::default();
    let cached = f.reporter().with_incidents_ttl(Duration::from_secs(3600));
    let uncached = f.reporter().with_incidents_ttl(Duration::ZERO);
    assert!(json(&cached.report(&all).await.unwrap())["services"][0]["incident"].is_null());
    assert!(json(&uncached.report(&all).await.unwrap())["services"][0]["incident"].is_null());

    f.store.open_incident(incident("stripe")).await.unwrap();
    let v = json(&cached.report(&all).await.unwrap());
    assert!(
        v["services"][0]["incident"].is_null(),
        "within the TTL: {v}"
    );
    let v = json(&uncached.report(&all).await.unwrap());
    assert_eq!(v["services"][0]["incident"]["summary"], "HTTP 503", "{v}");
}

#[tokio::test]
async fn an_open_breaker_is_rendered_anew() {
    let f = fixture(ProbeStatus::Healthy);
    let reporter = f.reporter();
    let b = f.breakers.get("stripe");
    while b.state() != State::Open {
        b.try_acquire().expect("closed admits").failure();
    }
    let all = ReportQuery::default();
    let first = reporter.report(&all).await.unwrap();
    f.clock.advance(Duration::from_millis(3));
    let second = reporter.report(&all).await.unwrap();
    assert!(!Arc::ptr_eq(&first.services, &second.services));
    let (a, b) = (json(&first), json(&second));
    assert_eq!(b["services"][0]["breaker"]["state"], "open");
    let retry = |v: &serde_json::Value| v["services"][0]["breaker"]["retry_after"].as_f64();
    assert!(retry(&b) < retry(&a), "{a} then {b}");

    let after = reporter.reset_breaker("stripe").unwrap();
    assert_eq!(after.state, "closed");
}

#[tokio::test]
async fn without_a_monitor_the_stored_results_answer_with_history() {
    let f = fixture(ProbeStatus::Healthy);
    let r = ProbeResult::new("stripe", ProbeStatus::Degraded, "slow").at(crate::now_ms());
    f.store.insert_result(&r).await.unwrap();
    let reporter = Reporter::new(f.store.clone(), f.breakers.clone())
        .with_services([("stripe", "stripe"), ("twilio", "twilio")]);
    let q = ReportQuery::from_pairs([("service", "stripe"), ("include_history", "1")]);
    let v = json(&reporter.report(&q).await.unwrap());
    assert_eq!(v["monitor_running"], false);
    assert_eq!(v["status"], "degraded");
    assert_eq!(v["services"].as_array().map(Vec::len), Some(1));
    assert!(v["services"][0]["history"].is_array(), "{v}");

    assert!(matches!(
        reporter.run_now("stripe").await,
        Err(ReportError::NoMonitor)
    ));
    let e = reporter.known(&"x".repeat(100)).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("unknown service `{}`", "x".repeat(64))
    );
}

#[test]
fn queries_parse_like_the_health_route() {
    let q = ReportQuery::from_pairs([
        ("include_history", "yes"),
        ("service", "stripe"),
        ("service", "twilio"),
    ]);
    assert_eq!(q.service.as_deref(), Some("stripe"));
    assert!(!q.include_history);
    assert!(ReportQuery::from_pairs([("include_history", "true")]).include_history);
}

#[tokio::test]
async fn gauges_mark_the_current_status_and_breaker_state() {
    let f = fixture(ProbeStatus::Healthy);
    let reporter = f.reporter();
    f.monitor.run_now("stripe").await.unwrap();
    let [status, latency, breaker] = reporter.gauges();
    let one = |g: &Gauge, service: &str| -> Vec<String> {
        g.series
            .iter()
            .filter(|(l, v)| l[0].1 == service && *v == 1.0)
            .map(|(l, _)| l[1].1.clone())
            .collect()
    };
    assert_eq!(one(&status, "stripe"), ["healthy"]);
    assert_eq!(one(&status, "twilio"), ["unknown"]);
    assert_eq!(one(&breaker, "twilio"), ["closed"]);
    assert_eq!(status.series.len(), 2 * ProbeStatus::ALL.len());
    assert_eq!(latency.series.len(), 1);
}
