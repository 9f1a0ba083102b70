//! The reliability campaign: **no acknowledged webhook is ever lost**.
//!
//! A webhook we answered 2xx must reach the internal handler across crashes and restarts, with the
//! default configuration. Each test runs the real `wedsync-monitor serve` binary as child
//! processes (so SIGKILL is real), puts a provider-like load on it and injects faults while the
//! load runs:
//!
//! - **load** (`campaign/load.rs`): `WEDSYNC_CAMPAIGN_CLIENTS` clients (8) post signed Stripe
//!   webhooks with unique event ids at `WEDSYNC_CAMPAIGN_RATE` requests/s in total (400) for
//!   `WEDSYNC_CAMPAIGN_SECS` seconds (30). A 2xx is an acknowledgement; anything else (503 while the
//!   server or its database is down, a refused connection while it restarts, a timeout) is not, and
//!   the client sends the same event again 200 ms later, like the provider. About 2 % of the
//!   requests are malformed (bad signature, truncated JSON, not JSON, oversized, no signature
//!   header): none may be answered 2xx or reach the handler.
//! - **handler** (`campaign/handler.rs`): an in-test HTTP server the server forwards to. It refuses
//!   the first arrival of one event in ten with 503, answers after 1–3 ms, counts 2xx answers per
//!   event id, and flags the same delivery in flight twice at once (an overlap).
//! - **faults**, per test: SIGKILL of a server (restarted at once on the same port, or not at
//!   all), an exclusive lock on the SQLite file held past the store's busy timeout, SIGKILL of a
//!   private PostgreSQL cluster's postmaster (`campaign/cluster.rs`; restarted 2 s later), the
//!   handler down for 2 s.
//! - **ledger** (`campaign/ledger.rs`): after the load, it waits (bounded) for the deliveries, then
//!   accounts for every acknowledged event from the handler's books and the store itself:
//!
//!   ```text
//!   acknowledged == delivered + scheduled (with a reason) + late + missing
//!   ```
//!
//!   *delivered*: the handler answered 2xx at least once. *scheduled*: still queued on the
//!   documented retry schedule (5 s ±20 %, then 5 min; critical events 5 s, 30 s, 2 min…) because
//!   the handler refused it or was down — acceptable, and reported with its reason. *late*: still
//!   queued for any other reason 30 s after the later of its acknowledgement and the last restart
//!   (for example behind a dead worker's lease). *missing*: not in the store, or given up
//!   (`failed`). The campaign passes when `missing == 0`, `late == 0`, no overlap, no malformed
//!   request acknowledged or forwarded, and duplicates (2xx answers beyond the first per event,
//!   the price of at-least-once forwarding) are at most 0.1 % of the acknowledged events.
//!
//! Each test prints one summary block to stdout (run with `--nocapture` to see it):
//!
//! ```text
//! campaign sqlite: acknowledged=N delivered=N scheduled=N (reasons: ...) late=N missing=N
//!   duplicates=N (x.xx%) overlaps=N malformed_acked=N restart_to_last_delivery=X.Xs
//! ```
//!
//! followed by the load's answers, the malformed requests' answers, the fault timeline and the
//! handler's counts; on failure also the missing and late ids (first 20) and the tail of every
//! server's log.
//!
//! The tests run one at a time (they load a 2-core machine). The short form (the defaults) takes
//! about two and a half minutes for all three in a debug build. The long form:
//!
//! ```sh
//! scripts/campaign.sh     # release build, 60 s at 1000 requests/s per test
//! WEDSYNC_CAMPAIGN_SECS=120 WEDSYNC_CAMPAIGN_RATE=500 WEDSYNC_CAMPAIGN_CLIENTS=16 \
//!   cargo test --release -p wedsync-monitor --test campaign -- --nocapture --test-threads=1
//! ```

mod common;

#[path = "campaign/cluster.rs"]
mod cluster;
#[path = "campaign/faults.rs"]
mod faults;
#[path = "campaign/handler.rs"]
mod handler;
#[path = "campaign/ledger.rs"]
mod ledger;
#[path = "campaign/load.rs"]
mod load;
#[path = "campaign/report.rs"]
mod report;
#[path = "campaign/server.rs"]
mod server;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use wedsync_webhooks::store::WebhookStore;

use crate::cluster::PgCluster;
use crate::faults::{inject, Fault, Targets, Timeline};
use crate::handler::Handler;
use crate::ledger::Ledger;
use crate::load::LoadPlan;
use crate::server::ServerProc;

/// The environment variable holding the Stripe signing secret in the servers' environment.
const STRIPE_SECRET_ENV: &str = "CAMPAIGN_STRIPE_WHSEC";
/// The environment variable holding the raw-body encryption key (PostgreSQL campaigns).
const BODY_KEY_ENV: &str = "WEDSYNC_BODY_KEY";

/// The campaign's size, from the environment.
#[derive(Debug, Clone, Copy)]
struct Knobs {
    secs: f64,
    rate: f64,
    clients: usize,
}

fn knob<T: std::str::FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => v
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v:?} is not a number")),
        _ => default,
    }
}

impl Knobs {
    fn from_env() -> Self {
        let k = Knobs {
            secs: knob("WEDSYNC_CAMPAIGN_SECS", 30.0),
            rate: knob("WEDSYNC_CAMPAIGN_RATE", 400.0),
            clients: knob("WEDSYNC_CAMPAIGN_CLIENTS", 8),
        };
        assert!(
            k.secs > 0.0 && k.rate > 0.0 && k.clients > 0,
            "WEDSYNC_CAMPAIGN_SECS, _RATE and _CLIENTS must be positive: {k:?}"
        );
        k
    }
}

/// Where the servers keep their state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Backend {
    Sqlite,
    Postgres,
}

/// One campaign.
struct Plan {
    name: &'static str,
    backend: Backend,
    servers: usize,
    faults: Vec<(f64, Fault)>,
}

/// 32 random bytes, base64 (built at run time; never a literal).
fn random_body_key() -> String {
    use base64::Engine as _;
    let mut key = Vec::with_capacity(32);
    key.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
    key.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
    base64::engine::general_purpose::STANDARD.encode(key)
}

fn config_text(store_url: &str, forward_to: &str, backend: Backend) -> String {
    // SQLite: the configuration a newcomer runs — no [ingress] section at all.
    let ingress = match backend {
        Backend::Sqlite => String::new(),
        Backend::Postgres => format!("[ingress]\nencryption_key_env = \"{BODY_KEY_ENV}\"\n\n"),
    };
    // the default worker unless the long form asks for more delivery tasks
    let worker = match std::env::var("WEDSYNC_CAMPAIGN_WORKERS") {
        Ok(n) if !n.trim().is_empty() => format!(
            "[worker]\nconcurrency = {}\n\n",
            n.trim()
                .parse::<u32>()
                .expect("WEDSYNC_CAMPAIGN_WORKERS is a number")
        ),
        _ => String::new(),
    };
    format!(
        "[store]\nurl = \"{store_url}\"\n\n{ingress}[monitor]\nenabled = false\n\n{worker}\
         [webhooks.stripe]\nsecret_env = \"{STRIPE_SECRET_ENV}\"\nforward_to = \"{forward_to}\"\n"
    )
}

/// Applies the migrations to a fresh cluster with the binary's `migrate` subcommand.
fn migrate(dir: &Path, url: &str) {
    let o = server::command(dir, &[])
        .args(["--store-url", url, "migrate"])
        .output()
        .expect("run wedsync-monitor migrate");
    assert!(
        o.status.success(),
        "wedsync-monitor migrate failed: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

async fn open_store(backend: Backend, sqlite: Option<&Path>, url: &str) -> Arc<dyn WebhookStore> {
    match backend {
        Backend::Sqlite => Arc::new(
            wedsync_store::SqliteStore::open(sqlite.expect("the SQLite path"))
                .await
                .expect("open the campaign's SQLite store from the test"),
        ),
        Backend::Postgres => Arc::new(
            wedsync_store::PgStore::connect(
                wedsync_store::PgConfig::new(url)
                    .pool_size(2)
                    .application_name("wedsync-campaign"),
            )
            .await
            .expect("open the campaign's PostgreSQL store from the test"),
        ),
    }
}

async fn campaign(plan: Plan) {
    let knobs = Knobs::from_env();
    let dir = CampaignDir::new();
    let timeline = Timeline::new();
    let handler = Handler::start().await;

    let mut env = vec![(STRIPE_SECRET_ENV.to_owned(), common::stripe_secret())];
    let (store_url, sqlite, pg) = match plan.backend {
        Backend::Sqlite => {
            let path = dir.path().join("wsm.db");
            (format!("sqlite://{}", path.display()), Some(path), None)
        }
        Backend::Postgres => {
            let pg = tokio::task::spawn_blocking(PgCluster::start)
                .await
                .expect("start the private PostgreSQL cluster");
            let url = pg.url();
            let d = dir.path().to_path_buf();
            let u = url.clone();
            tokio::task::spawn_blocking(move || migrate(&d, &u))
                .await
                .expect("migrate the private cluster");
            env.push((BODY_KEY_ENV.to_owned(), random_body_key()));
            (url, None, Some(Arc::new(pg)))
        }
    };
    let config = dir.path().join("wedsync-monitor.toml");
    std::fs::write(
        &config,
        config_text(&store_url, &handler.url(), plan.backend),
    )
    .expect("write the campaign's configuration");

    let mut procs = Vec::new();
    for i in 0..plan.servers {
        procs.push(
            ServerProc::start(&format!("server-{i}"), dir.path(), &config, env.clone()).await,
        );
    }
    let targets: Vec<String> = procs.iter().map(ServerProc::base_url).collect();
    let logs: Vec<PathBuf> = procs.iter().map(|p| p.log_path().to_path_buf()).collect();
    let faults = Targets {
        servers: Arc::new(tokio::sync::Mutex::new(procs)),
        handler: handler.clone(),
        sqlite: sqlite.clone(),
        pg: pg.clone(),
        timeline: timeline.clone(),
    };

    let duration = Duration::from_secs_f64(knobs.secs);
    let run = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
    let load_plan = LoadPlan {
        run,
        clients: knobs.clients,
        rate: knobs.rate,
        duration,
        grace: Duration::from_secs(15),
        retry_after: Duration::from_millis(200),
        malformed_every: 50,
        targets,
        body_limit: usize::try_from(
            wedsync_monitor::config::Config::default()
                .server
                .body_limit_bytes,
        )
        .unwrap_or(usize::MAX),
    };
    timeline.note(format!(
        "load starts ({} clients, {}/s, {:.0}s)",
        knobs.clients, knobs.rate, knobs.secs
    ));
    let load_start = Instant::now();
    let load = tokio::spawn(load::run(load_plan));
    let mut fault_tasks = Vec::new();
    for (at, fault) in &plan.faults {
        let (at, fault, t) = (*at, *fault, faults.clone());
        fault_tasks.push(tokio::spawn(async move {
            tokio::time::sleep_until((load_start + duration.mul_f64(at)).into()).await;
            inject(fault, t).await;
        }));
    }
    let report = load.await.expect("the load panicked");
    timeline.note(format!(
        "load done ({} acknowledged, {} never)",
        report.acked.len(),
        report.unacked.len()
    ));
    for t in fault_tasks {
        t.await.expect("a fault task panicked");
    }

    let store = open_store(plan.backend, sqlite.as_deref(), &store_url).await;
    let wait_start = Instant::now();
    let why = ledger::wait(&handler, &report.acked, timeline.last_restart(), &*store).await;
    timeline.note(format!("wait ends: {why}"));
    let books = handler.books();
    let ledger = Ledger::build(&report, &books, &handler, timeline.last_restart(), &*store).await;
    let wait = wait_start.elapsed();

    let summary = ledger.summary(plan.name, report.malformed_acked.len());
    println!(
        "\n{summary}\n{}",
        report::details(&report, &books, &ledger, &timeline, wait, load_start)
    );

    let problems = report::problems(&ledger, &report);
    if !problems.is_empty() {
        println!(
            "{}",
            report::failure_dump(&ledger, &logs, pg.as_ref().map(|pg| pg.log_tail(15)))
        );
        panic!(
            "campaign {} failed:\n  - {}\n{summary}",
            plan.name,
            problems.join("\n  - ")
        );
    }
    // the servers stop before the cluster they use
    drop(faults);
}

/// The campaign directory (configuration, server logs, SQLite file): removed on drop, or kept for
/// inspection with `WEDSYNC_CAMPAIGN_KEEP=1`.
struct CampaignDir(Option<tempfile::TempDir>);

impl CampaignDir {
    fn new() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("wedsync-campaign.")
            .tempdir()
            .expect("create the campaign directory");
        if Self::keep() {
            println!("  campaign directory kept: {}", dir.path().display());
        }
        Self(Some(dir))
    }

    fn keep() -> bool {
        std::env::var("WEDSYNC_CAMPAIGN_KEEP").is_ok_and(|v| v == "1")
    }

    fn path(&self) -> &Path {
        self.0.as_ref().expect("the campaign directory").path()
    }
}

impl Drop for CampaignDir {
    fn drop(&mut self) {
        if let Some(dir) = self.0.take() {
            if Self::keep() {
                let _ = dir.keep();
            }
        }
    }
}

/// The campaigns load the machine: one at a time.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn run(plan: Plan) {
    let _guard = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("build the campaign's runtime");
    rt.block_on(campaign(plan));
}

/// The default configuration a newcomer runs (SQLite, no `[ingress]` section): a server SIGKILL and
/// restart at 40 % of the load, the SQLite file locked past the busy timeout at 60 %, the handler
/// down for 2 s at 75 %, malformed requests throughout.
#[test]
fn campaign_sqlite_default_config() {
    run(Plan {
        name: "sqlite",
        backend: Backend::Sqlite,
        servers: 1,
        faults: vec![
            (0.40, Fault::KillRestart(0)),
            (0.60, Fault::SqliteLock),
            (0.75, Fault::HandlerDown(Duration::from_secs(2))),
        ],
    });
}

/// PostgreSQL (a private cluster) with a configured body key: a server SIGKILL and restart at
/// 30 %, the postmaster SIGKILLed at 50 % and restarted 2 s later, the handler down for 2 s at
/// 80 %, malformed requests throughout.
#[test]
fn campaign_postgres() {
    run(Plan {
        name: "postgres",
        backend: Backend::Postgres,
        servers: 1,
        faults: vec![
            (0.30, Fault::KillRestart(0)),
            (0.50, Fault::PgKill),
            (0.80, Fault::HandlerDown(Duration::from_secs(2))),
        ],
    });
}

/// Two `serve` processes on one private cluster, the load spread across both; one is SIGKILLed
/// at 50 % and stays dead: the survivor delivers everything acknowledged, including what the dead
/// one had claimed, and no delivery is ever in flight twice.
#[test]
fn two_processes_one_killed() {
    run(Plan {
        name: "two-processes",
        backend: Backend::Postgres,
        servers: 2,
        faults: vec![(0.50, Fault::Kill(1))],
    });
}
