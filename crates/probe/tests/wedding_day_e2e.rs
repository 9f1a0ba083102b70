//! The seed's promise: on a wedding day a critical failure is notified within 15 seconds.
//! Real fakes on loopback (Stripe, Slack, PagerDuty), the monitor's DEFAULT wedding-day settings
//! (5 s interval ± 10 %, 1 s re-check, 2 failures to open), real time.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{poll_until, wait_for_snapshot};
use wedsync_probe::clock::TokioClock;
use wedsync_probe::{
    HealthProbe, Monitor, MonitorConfig, PagerDutySink, ProbeStatus, Secret, ServiceConfig,
    SlackSink, StripeProbe, WeddingDayPolicy,
};
use wedsync_testkit::{FakePagerDuty, FakeSlack, FakeStripe, Scenario};

/// Saturday 2027-06-12 12:00 London (BST) in unix ms.
const SATURDAY_NOON_LONDON: i64 = 1_812_798_000_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn critical_wedding_day_failure_is_notified_within_15_seconds() {
    assert!(WeddingDayPolicy::default().is_wedding_day(SATURDAY_NOON_LONDON));
    let stripe = FakeStripe::start().await;
    let slack = FakeSlack::start().await;
    let pd = FakePagerDuty::start().await;

    let probe = StripeProbe::new(Secret::new(stripe.secret_key()), stripe.livemode())
        .base_url(stripe.base_url())
        .timeout(Duration::from_millis(2500));
    let probe: Arc<dyn HealthProbe> = Arc::new(probe);
    let monitor = Monitor::builder()
        .service(ServiceConfig::new(probe))
        .config(MonitorConfig {
            startup_spread: Duration::ZERO,
            ..MonitorConfig::default()
        })
        .clock(Arc::new(TokioClock::starting_at(SATURDAY_NOON_LONDON)))
        .sink(Arc::new(SlackSink::new(Secret::new(slack.webhook_url()))))
        .sink(Arc::new(
            PagerDutySink::new(Secret::new(pd.routing_key())).url(pd.enqueue_url()),
        ))
        .build()
        .unwrap();
    assert!(monitor.is_wedding_day());
    assert!(
        monitor.breakers().is_wedding_day(),
        "breakers in wedding-day mode"
    );
    let mut rx = monitor.subscribe();
    let handle = monitor.start().await.unwrap();

    // wait for the first healthy result
    wait_for_snapshot(
        &mut rx,
        Duration::from_secs(10),
        "first healthy result",
        |s| s.services["stripe"].status == ProbeStatus::Healthy,
    )
    .await;

    // Stripe starts failing right after a healthy check: the worst case for detection.
    let t0 = Instant::now();
    stripe.set_scenario(Scenario::ServerError);
    // Polled here rather than with the fakes' wait_for_* helpers, which can miss a wake-up when
    // the request is counted before its body is recorded.
    assert!(
        poll_until(Duration::from_secs(15), || !pd.events().is_empty()).await,
        "PagerDuty not paged within 15 s"
    );
    let paged = t0.elapsed();
    assert!(
        poll_until(Duration::from_secs(15).saturating_sub(paged), || !slack
            .messages()
            .is_empty())
        .await,
        "Slack not notified within 15 s"
    );
    let notified = t0.elapsed();
    assert!(notified < Duration::from_secs(15), "took {notified:?}");
    eprintln!("wedding-day failure paged after {paged:?}, Slack after {notified:?}");

    let ev = &pd.events()[0];
    assert_eq!(ev["event_action"], "trigger");
    assert_eq!(ev["payload"]["severity"], "critical");
    let key = ev["dedup_key"].as_str().unwrap().to_owned();
    assert!(key.starts_with("wedsync/stripe/"));
    assert!(
        slack.texts()[0].contains("WEDDING DAY"),
        "{:?}",
        slack.texts()
    );
    // no secret reached a receiver
    let all = format!("{:?}{:?}", pd.events(), slack.messages());
    assert!(!all.contains(stripe.secret_key()));

    // recovery: resolved with the same dedup key, PagerDuty triggered exactly once
    stripe.set_scenario(Scenario::Healthy);
    let t1 = Instant::now();
    assert!(
        poll_until(Duration::from_secs(15), || pd.events().len() >= 2).await,
        "resolve sent"
    );
    eprintln!("resolved after {:?}", t1.elapsed());
    assert!(
        t1.elapsed() < Duration::from_secs(5),
        "two 1 s re-checks resolve it"
    );
    let alerts = pd.alerts();
    assert_eq!(alerts[&key].status, "resolved");
    assert_eq!(alerts[&key].triggers, 1);
    handle.shutdown().await;
}
