//! Run with: `cargo run --release -p wedsync-probe --features http --example probe_heap -- 10000`
//!
//! Where a monitor's heap goes, per monitored service: builds the pieces of an N-endpoint monitor
//! (default 10,000) one after another on one thread and prints the live heap each step adds
//! (counted by a global allocator: allocator overhead is not included, RSS is larger). No
//! network: every probe is an `HttpProbe` built as `probe_load` builds them, wrapped so that its
//! check answers at once.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use wedsync_probe::http_probes::default_client;
use wedsync_probe::store::MemoryStore;
use wedsync_probe::{
    HealthProbe, HttpProbe, HttpSettings, Monitor, MonitorConfig, ProbeResult, ProbeStatus,
    ServiceConfig, WeddingDayPolicy,
};

struct Answering(HttpProbe);

#[async_trait]
impl HealthProbe for Answering {
    fn service(&self) -> &str {
        self.0.service()
    }
    fn timeout(&self) -> Duration {
        HealthProbe::timeout(&self.0)
    }
    async fn check(&self) -> ProbeResult {
        ProbeResult::new(self.0.service(), ProbeStatus::Healthy, "HTTP 200")
            .with_http_status(200)
            .with_latency(Duration::from_millis(2))
    }
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(10_000);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let per = |bytes: i64| bytes as f64 / n as f64;
    let mut total = 0i64;
    let mut line = |what: &str, bytes: i64, counted: bool| {
        if counted {
            total += bytes;
        }
        println!("{what:<52} {:>7.0} B/service", per(bytes));
        total
    };

    let client = default_client();
    let mut services = Vec::new();
    line(
        "HttpProbe + ServiceConfig",
        allocation_counter::measure(|| {
            let settings = HttpSettings {
                client,
                timeout: Duration::from_secs(5),
                slow_after: Duration::from_secs(2),
            };
            services = (0..n)
                .map(|i| {
                    let url = format!("http://127.0.0.1:40000/health/{i}");
                    let probe: Arc<dyn HealthProbe> = Arc::new(Answering(
                        HttpProbe::new(format!("endpoint-{i:05}"), url)
                            .settings(settings.clone())
                            .condition("/status == UP".parse().expect("condition")),
                    ));
                    ServiceConfig::new(probe)
                        .intervals(Duration::from_secs(30), Duration::from_secs(30))
                })
                .collect();
        })
        .bytes_current,
        true,
    );

    let names: Vec<String> = (0..n).map(|i| format!("endpoint-{i:05}")).collect();
    let mut registry = None;
    line(
        "  (for reference: a Registry with N default breakers)",
        allocation_counter::measure(|| {
            let r = wedsync_breaker::Registry::default();
            for name in &names {
                r.get(name);
            }
            registry = Some(r);
        })
        .bytes_current,
        false,
    );
    drop(registry.take());

    let mut monitor = None;
    line(
        "Monitor::build (breakers, live health map)",
        allocation_counter::measure(|| {
            monitor = Some(
                Monitor::builder()
                    .services(std::mem::take(&mut services))
                    .store(Arc::new(MemoryStore::with_capacity(2)))
                    .config(MonitorConfig {
                        policy: WeddingDayPolicy::never(),
                        ..MonitorConfig::default()
                    })
                    .build()
                    .expect("monitor"),
            );
        })
        .bytes_current,
        true,
    );
    let monitor = monitor.expect("built");
    for round in 1..=3 {
        line(
            &format!("results, round {round} (store, alert state, cached)"),
            allocation_counter::measure(|| {
                rt.block_on(async {
                    for name in &names {
                        monitor.run_now(name).await.expect("service");
                    }
                })
            })
            .bytes_current,
            true,
        );
    }
    let mut handle = None;
    line(
        "Monitor::start (scheduler, publisher, outbox)",
        allocation_counter::measure(|| {
            rt.block_on(async {
                handle = Some(monitor.start().await.expect("start"));
            })
        })
        .bytes_current,
        true,
    );
    let mut snap = None;
    let total = line(
        "one Monitor::snapshot",
        allocation_counter::measure(|| snap = Some(monitor.snapshot())).bytes_current,
        true,
    );
    println!("{:<52} {:>7.0} B/service", "total", per(total));
    println!("services={n}");
    rt.block_on(async move {
        if let Some(h) = handle {
            h.shutdown().await;
        }
    });
}
