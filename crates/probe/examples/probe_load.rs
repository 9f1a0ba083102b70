//! Run with: `cargo run --release -p wedsync-probe --features http --example probe_load -- --endpoints 10000 --interval 30 --duration 120`
//!
//! One monitor probing N generic HTTP endpoints (default 10,000) served by loopback fakes (a
//! child process running `wedsync-testkit`'s `FakeHttp`, so the servers' CPU is not counted),
//! every `--interval` seconds, for a bounded `--duration`. Prints the monitor process's CPU share
//! (of one core), peak RSS and the scheduling-lag percentiles.
//!
//! `--breaker-window N` gives every service's breaker a count window of N (default: the
//! monitor's own registry, `probe_breaker_config()`: a window of 10); `--keep-results N` keeps N results per service in the
//! in-memory store (0: results are not stored, as with a database store).

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use wedsync_probe::http_probes::default_client;
use wedsync_probe::store::MemoryStore;
use wedsync_probe::{
    HealthProbe, HttpProbe, HttpSettings, Monitor, MonitorConfig, ProbeStatus, ServiceConfig,
    WeddingDayPolicy,
};

struct Args {
    endpoints: usize,
    interval: u64,
    duration: u64,
    concurrency: usize,
    servers: usize,
    serve: Option<usize>,
    breaker_window: Option<u32>,
    keep_results: usize,
}

fn args() -> Args {
    let mut a = Args {
        endpoints: 10_000,
        interval: 30,
        duration: 120,
        concurrency: 64,
        servers: 4,
        serve: None,
        breaker_window: None,
        keep_results: 2,
    };
    let v: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < v.len() {
        let next = v.get(i + 1).and_then(|x| x.parse::<u64>().ok());
        match (v[i].as_str(), next) {
            ("--endpoints", Some(n)) => a.endpoints = n as usize,
            ("--interval", Some(n)) => a.interval = n.max(1),
            ("--duration", Some(n)) => a.duration = n.max(1),
            ("--concurrency", Some(n)) => a.concurrency = n.max(1) as usize,
            ("--servers", Some(n)) => a.servers = n.max(1) as usize,
            ("--serve", Some(n)) => a.serve = Some(n.max(1) as usize),
            ("--breaker-window", Some(n)) => a.breaker_window = Some(n.max(1) as u32),
            ("--keep-results", Some(n)) => a.keep_results = n as usize,
            (other, _) => {
                eprintln!("unknown or incomplete argument {other:?}");
                std::process::exit(2);
            }
        }
        i += 2;
    }
    a
}

/// CPU time (user + system) of this process, from /proc/self/stat (USER_HZ = 100).
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|x| x.parse::<u64>().ok()).unwrap_or(0);
    // after the command name: state is index 0, utime index 11, stime index 12
    Duration::from_millis((ticks(11) + ticks(12)) * 10)
}

/// A /proc/self/status field in kB.
fn status_kb(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|x| x.parse().ok())
        .unwrap_or(0)
}

fn serve(n: usize) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let mut fakes = Vec::new();
        for _ in 0..n {
            let f = wedsync_testkit::FakeHttp::start().await;
            f.handle().set_log_capacity(0);
            println!("{}", f.base_url());
            fakes.push(f);
        }
        println!("ready");
        let _ = std::io::stdout().flush();
        // run until the parent closes our stdin
        tokio::task::spawn_blocking(|| {
            let mut s = String::new();
            while std::io::stdin()
                .read_line(&mut s)
                .map(|n| n > 0)
                .unwrap_or(false)
            {}
        })
        .await
        .ok();
        drop(fakes);
    });
}

fn main() {
    let a = args();
    if let Some(n) = a.serve {
        serve(n);
        return;
    }
    let exe = std::env::current_exe().expect("current exe");
    let mut child = Command::new(exe)
        .args(["--serve", &a.servers.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn the fake servers");
    let mut bases = Vec::new();
    let out = child.stdout.take().expect("child stdout");
    for line in BufReader::new(out).lines() {
        let line = line.expect("read child");
        if line == "ready" {
            break;
        }
        bases.push(line);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let report = rt.block_on(run(&a, &bases));
    drop(child.stdin.take());
    let _ = child.wait();
    println!("{report}");
}

async fn run(a: &Args, bases: &[String]) -> String {
    let interval = Duration::from_secs(a.interval);
    let client = default_client();
    let settings = HttpSettings {
        client,
        timeout: Duration::from_secs(5).min(interval / 2),
        slow_after: Duration::from_secs(2),
    };
    let services = (0..a.endpoints).map(|i| {
        let url = format!("{}/health/{i}", bases[i % bases.len()]);
        let probe: Arc<dyn HealthProbe> = Arc::new(
            HttpProbe::new(format!("endpoint-{i:05}"), url)
                .settings(settings.clone())
                .condition("/status == UP".parse().expect("condition")),
        );
        ServiceConfig::new(probe).intervals(interval, interval)
    });
    let mut builder = Monitor::builder()
        .services(services)
        .store(Arc::new(MemoryStore::with_capacity(a.keep_results.max(1))))
        .config(MonitorConfig {
            max_concurrency: a.concurrency,
            policy: WeddingDayPolicy::never(),
            startup_spread: interval,
            persist_results: a.keep_results > 0,
            ..MonitorConfig::default()
        });
    if let Some(w) = a.breaker_window {
        let cfg = wedsync_breaker::BreakerConfig::builder()
            .sliding_window(wedsync_breaker::SlidingWindow::Count(w))
            .minimum_calls(w.min(10))
            .build()
            .expect("breaker config");
        builder = builder.breakers(wedsync_breaker::Registry::new(cfg));
    }
    let monitor = builder.build().expect("monitor");
    let t0 = Instant::now();
    let handle = monitor.start().await.expect("start");
    // measure CPU after the first interval (start-up spread), until the end
    let warm = interval.min(Duration::from_secs(a.duration) / 2);
    tokio::time::sleep(warm).await;
    let (cpu0, w0) = (cpu_time(), Instant::now());
    tokio::time::sleep(Duration::from_secs(a.duration).saturating_sub(warm)).await;
    let (cpu1, w1) = (cpu_time(), Instant::now());
    let snap = monitor.snapshot();
    let lag = monitor.scheduling_lag();
    handle.shutdown().await;
    let healthy = snap
        .services
        .values()
        .filter(|h| h.status == ProbeStatus::Healthy)
        .count();
    let share = (cpu1 - cpu0).as_secs_f64() / (w1 - w0).as_secs_f64() * 100.0;
    format!(
        "endpoints={} interval={}s duration={}s concurrency={} breaker_window={} keep_results={} runs={} healthy_at_end={}\n\
         cpu_share_of_one_core={share:.1}% (measured over {:.0} s after warm-up)\n\
         peak_rss={:.1} MB (VmHWM) rss_at_end={:.1} MB\n\
         scheduling_lag p50={} ms p99={} ms max={} ms\n\
         wall={:.0} s",
        a.endpoints,
        a.interval,
        a.duration,
        a.concurrency,
        a.breaker_window
            .map(|w| w.to_string())
            .unwrap_or_else(|| "monitor-default".into()),
        a.keep_results,
        lag.count,
        healthy,
        (w1 - w0).as_secs_f64(),
        status_kb("VmHWM:") as f64 / 1024.0,
        status_kb("VmRSS:") as f64 / 1024.0,
        lag.p50.as_millis(),
        lag.p99.as_millis(),
        lag.max.as_millis(),
        t0.elapsed().as_secs_f64(),
    )
}
