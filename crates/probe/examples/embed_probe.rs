//! Wiring probes and the monitor into your own service: a built-in probe ([`TcpProbe`]), your own
//! [`HealthProbe`] implementation, the [`Monitor`] that schedules them, keeps a snapshot, feeds a
//! circuit breaker per service and opens incidents — and reading its results.
//!
//! ```sh
//! cargo run -p wedsync-probe --example embed_probe
//! ```
//!
//! Everything runs on 127.0.0.1 (the TCP probe checks a listener the example opens itself) and
//! ends after about ten seconds. It prints each snapshot change: both services healthy, then the
//! custom probe's dependency goes down, an incident opens (after `AlertConfig::failures_to_open`
//! consecutive failures, re-checked at the shorter re-check interval) and the service's breaker
//! opens; then it comes back and the incident resolves (after `successes_to_resolve` healthy
//! results; the breaker stays open for its open time, 60 s, then lets probes through again).
//!
//! In a real service: keep the [`Monitor`] in your application state, answer your health route
//! from [`Monitor::snapshot`] (it never waits on a provider), hand [`Monitor::subscribe`] to
//! whatever pushes updates, guard calls to a provider with `monitor.breakers().get(service)`, pass
//! a durable store (`wedsync-store`, feature `probe`) with [`MonitorBuilder::store`] and real alert
//! sinks (feature `http`: Slack, PagerDuty, signed webhooks) with [`MonitorBuilder::sink`]. The
//! built-in provider probes (`StripeProbe`, `ResendProbe`, `TwilioProbe`, `SupabaseAuthProbe`,
//! …) are behind the `http` feature and plug in the same way as the probes here.
//!
//! [`MonitorBuilder::store`]: wedsync_probe::monitor::MonitorBuilder::store
//! [`MonitorBuilder::sink`]: wedsync_probe::monitor::MonitorBuilder::sink

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use wedsync_probe::{
    HealthProbe, LogSink, Monitor, MonitorConfig, MonitorError, ProbeResult, ProbeStatus,
    ServiceConfig, Snapshot, TcpProbe,
};

/// Your own probe: here, the health of an in-process dependency (a queue consumer, a cache, a
/// licence server ...) that the rest of your service flips with `set_up`.
struct DependencyProbe {
    up: Arc<AtomicBool>,
}

#[async_trait]
impl HealthProbe for DependencyProbe {
    fn service(&self) -> &str {
        "billing-consumer"
    }

    fn timeout(&self) -> Duration {
        Duration::from_millis(200)
    }

    async fn check(&self) -> ProbeResult {
        let started = Instant::now();
        // A probe never returns an error: it classifies what it saw. Details pass through
        // wedsync-redact, so a secret in an error message is masked before anything stores it.
        let result = if self.up.load(Ordering::Acquire) {
            ProbeResult::new(self.service(), ProbeStatus::Healthy, "consumer lag 0")
        } else {
            ProbeResult::new(
                self.service(),
                ProbeStatus::Unhealthy,
                // a fake key, assembled here so no scanner mistakes it for a real one
                concat!(
                    "consumer stopped: refused token sk_",
                    "live_",
                    "exampleexample1234"
                ),
            )
        };
        result.with_latency(started.elapsed())
    }
}

fn print(snapshot: &Snapshot, started: Instant) {
    let t = started.elapsed().as_secs_f32();
    println!("[{t:5.1} s] overall {}", snapshot.overall);
    for (name, s) in &snapshot.services {
        println!(
            "          {name:<18} {:<10} failures in a row {}, breaker {}, incident {}",
            s.status.to_string(),
            s.consecutive_failures,
            s.breaker,
            s.incident.as_deref().unwrap_or("-"),
        );
        if let Some(last) = &s.last {
            println!("          {:<18} last detail: {}", "", last.detail);
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Something for the built-in TCP probe to connect to (your database, a sidecar, ...).
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let target = listener.local_addr()?;
    tokio::spawn(async move { while listener.accept().await.is_ok() {} });

    let up = Arc::new(AtomicBool::new(true));
    let fast = |probe: Arc<dyn HealthProbe>| {
        // Example cadence; the defaults are 30 s (5 s on wedding days), re-check 5 s (1 s).
        ServiceConfig::new(probe)
            .intervals(Duration::from_secs(1), Duration::from_secs(1))
            .rechecks(Duration::from_millis(300), Duration::from_millis(300))
    };
    let monitor = Monitor::builder()
        .service(fast(Arc::new(
            TcpProbe::new("postgres-sidecar", target.to_string())
                .timeout(Duration::from_millis(200)),
        )))
        .service(fast(Arc::new(DependencyProbe { up: up.clone() })))
        .config(MonitorConfig {
            startup_spread: Duration::from_millis(100),
            ..MonitorConfig::default()
        })
        // Alerts go to the log (tracing) here; add SlackSink/PagerDutySink/WebhookSink with `http`.
        .sink(Arc::new(LogSink::new()))
        .build()?;

    // One check on demand (what an admin "run now" button does), before scheduling starts.
    let first = monitor.run_now("billing-consumer").await?;
    println!("run_now: {} is {}", first.service, first.status);

    let handle = monitor.start().await?;
    let started = Instant::now();
    let mut updates = monitor.subscribe();
    let mut last_line = String::new();
    let deadline = started + Duration::from_secs(10);
    while Instant::now() < deadline {
        if started.elapsed() > Duration::from_secs(2) && started.elapsed() < Duration::from_secs(6)
        {
            up.store(false, Ordering::Release); // the dependency goes down for four seconds
        } else if started.elapsed() >= Duration::from_secs(6) {
            up.store(true, Ordering::Release);
        }
        let wait = tokio::time::timeout(Duration::from_millis(250), updates.changed()).await;
        if matches!(wait, Ok(Err(_))) {
            break; // the monitor was dropped
        }
        let snapshot = updates.borrow_and_update().clone();
        // Print only when something a reader cares about changed.
        let line = snapshot
            .services
            .values()
            .map(|s| format!("{}{}{}", s.status, s.breaker, s.incident.is_some()))
            .collect::<String>();
        if line != last_line {
            print(&snapshot, started);
            last_line = line;
        }
    }
    handle.shutdown().await;

    let end = monitor.snapshot();
    let resolved = end
        .services
        .get("billing-consumer")
        .is_some_and(|s| s.status == ProbeStatus::Healthy && s.incident.is_none());
    println!("done: billing-consumer back to healthy with no open incident: {resolved}");
    if !resolved {
        return Err(MonitorError::Config("the outage did not resolve in time".into()).into());
    }
    Ok(())
}
