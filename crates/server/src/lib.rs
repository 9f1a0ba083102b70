//! `wedsync-monitor`: the thin hyper server that wires WedSync's probes, breakers, alerts and
//! webhook ingress together, and the `wedsync-monitor` binary.
//!
//! # Example
//!
//! Start the server in-process on an ephemeral port, ask it whether it is alive, and stop it:
//!
//! ```
//! # #[tokio::main(flavor = "multi_thread", worker_threads = 2)]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use wedsync_monitor::{config::Config, start};
//!
//! let mut cfg = Config::from_toml("[store]\nurl = \"sqlite::memory:\"")?;
//! cfg.server.listen = "127.0.0.1:0".into();
//! let server = start(cfg, None).await?;
//! let addr = server.local_addr();
//!
//! // a bare HTTP/1.1 request over a plain TCP stream
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//! let mut s = tokio::net::TcpStream::connect(addr).await?;
//! s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await?;
//! let mut reply = String::new();
//! s.read_to_string(&mut reply).await?;
//! assert!(reply.starts_with("HTTP/1.1 200 OK"));
//!
//! server.shutdown().await;
//! # Ok(())
//! # }
//! ```
//!
//! # Details
//!
//! - [`run`] is what `wedsync-monitor serve` calls: it builds everything from a [`config::Config`],
//!   serves until SIGTERM/Ctrl-C and shuts down gracefully. [`start`] does the same but returns a
//!   [`RunningServer`] handle, so tests run the real server in-process on `127.0.0.1:0`.
//! - The accept loop ([`server::serve`]) follows the project's hyper checklist: header-read timeout
//!   with a timer, no `?` on `accept()`, bounded graceful shutdown, every body through
//!   `http_body_util::Limited` (413 above `server.body_limit_bytes`).
//! - Routes live in one table ([`routes::ROUTES`]); `/openapi.json` is tested against it.
//! - Errors are JSON `{"error":{"code","message"}}`; internal errors are a bare 500 whose detail goes
//!   only to the log, and every log line passes through the redactor.
//!
//! # Feature flags
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | — | — | the crate has no optional features; everything the binary needs is always built |

pub mod admin;
pub mod app;
pub mod bodykeys;
pub mod check;
pub mod config;
pub mod dashboard;
pub mod demo;
pub mod error;
pub mod integrations;
pub mod logging;
pub mod metrics;
pub mod openapi;
pub mod ratelimit;
pub mod redaction;
pub mod routes;
pub mod server;
pub mod webhooks;

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use std::collections::BTreeMap;
use std::time::Duration;

use wedsync_probe::store::ProbeStore;
use wedsync_store::breaker_sync::PgBreakerSync;
use wedsync_webhooks::crypto::BodyCipher;
use wedsync_webhooks::store::{InMemoryStore, WebhookStore};

use crate::admin::{AdminStore, MemoryAdminStore};
use crate::app::{AlwaysReady, App, Readiness};
use crate::config::Config;
use crate::integrations::Integrations;
use crate::metrics::Metrics;
use crate::webhooks::WebhookIngress;

/// An error while starting the server.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    /// The listener could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address tried.
        addr: SocketAddr,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The store could not be opened or migrated.
    #[error("store: {0}")]
    Store(String),
}

/// The parts a server is assembled from; [`Components::build`] makes them from configuration.
pub struct Components {
    /// API keys and the audit log.
    pub admin: Arc<dyn AdminStore>,
    /// Readiness of the store.
    pub readiness: Arc<dyn Readiness>,
    /// Webhook deliveries, attempts, queue and replay jobs.
    pub webhook_store: Arc<dyn WebhookStore>,
    /// Probe results, incidents and the notification outbox.
    pub probe_store: Arc<dyn ProbeStore>,
    /// Extra alert sinks (the demo adds its fake Slack here).
    pub sinks: Vec<Arc<dyn wedsync_probe::AlertSink>>,
    /// Probes to use instead of the built-in ones, by service name (tests, the demo).
    pub probes: BTreeMap<String, Arc<dyn wedsync_probe::HealthProbe>>,
    /// Where the raw-body key lives when `[ingress]` names none (beside a SQLite file; required
    /// on PostgreSQL; per process for an in-memory store).
    pub key_home: bodykeys::KeyHome,
    /// Breaker state shared with the other instances on the same PostgreSQL (`None`: breakers are
    /// local to this process, as with SQLite).
    pub breaker_sync: Option<Arc<PgBreakerSync>>,
}

impl std::fmt::Debug for Components {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Components").finish_non_exhaustive()
    }
}

impl Components {
    /// In-memory parts (nothing persists; for tests and embedding).
    pub fn in_memory() -> Self {
        Self {
            admin: Arc::new(MemoryAdminStore::default()),
            readiness: Arc::new(AlwaysReady),
            webhook_store: Arc::new(InMemoryStore::new()),
            probe_store: Arc::new(wedsync_probe::store::MemoryStore::new()),
            sinks: Vec::new(),
            probes: BTreeMap::new(),
            breaker_sync: None,
            key_home: bodykeys::KeyHome::Ephemeral,
        }
    }

    /// Applies the configured store's migrations.
    pub async fn migrate(cfg: &Config) -> Result<(), StartError> {
        let err = |e: wedsync_store::StoreError| StartError::Store(e.to_string());
        match StoreKind::of(&cfg.store.url) {
            StoreKind::SqliteMemory => {
                wedsync_store::SqliteStore::open_in_memory()
                    .await
                    .map_err(err)?;
            }
            StoreKind::Sqlite(path) => {
                // opening runs the pending migrations
                wedsync_store::SqliteStore::open(path).await.map_err(err)?;
            }
            StoreKind::Postgres(url) => {
                let pg = wedsync_store::PgStore::connect(
                    wedsync_store::PgConfig::new(url).application_name("wedsync-monitor"),
                )
                .await
                .map_err(err)?;
                pg.run_migrations().await.map_err(err)?;
            }
        }
        Ok(())
    }

    /// Opens the configured store and builds the parts on it (SQLite is migrated at open): API
    /// keys, the audit log, readiness, webhook deliveries with their queue and attempts, probe
    /// results, incidents and the outbox; on PostgreSQL also the breaker state sharing.
    pub async fn build(cfg: &Config) -> Result<Self, StartError> {
        let err = |e: wedsync_store::StoreError| StartError::Store(e.to_string());
        let mut c = Self::in_memory();
        match StoreKind::of(&cfg.store.url) {
            StoreKind::SqliteMemory => {
                let s = Arc::new(
                    wedsync_store::SqliteStore::open_in_memory()
                        .await
                        .map_err(err)?,
                );
                c.admin = Arc::new(admin::StoreAdmin::new(s.clone()));
                c.probe_store = s.clone();
                c.webhook_store = s.clone();
                c.readiness = Arc::new(StoreReady(s));
            }
            StoreKind::Sqlite(path) => {
                let s = Arc::new(wedsync_store::SqliteStore::open(path).await.map_err(err)?);
                c.key_home = bodykeys::KeyHome::beside_database(std::path::Path::new(path));
                c.admin = Arc::new(admin::StoreAdmin::new(s.clone()));
                c.probe_store = s.clone();
                c.webhook_store = s.clone();
                c.readiness = Arc::new(StoreReady(s));
            }
            StoreKind::Postgres(url) => {
                let s = Arc::new(
                    wedsync_store::PgStore::connect(
                        wedsync_store::PgConfig::new(url).application_name("wedsync-monitor"),
                    )
                    .await
                    .map_err(err)?,
                );
                c.admin = Arc::new(admin::StoreAdmin::new(s.clone()));
                c.probe_store = s.clone();
                c.webhook_store = s.clone();
                c.breaker_sync = Some(PgBreakerSync::start((*s).clone()));
                c.key_home = bodykeys::KeyHome::Required;
                c.readiness = Arc::new(StoreReady(s));
            }
        }
        Ok(c)
    }
}

enum StoreKind<'a> {
    SqliteMemory,
    Sqlite(&'a str),
    Postgres(&'a str),
}

impl<'a> StoreKind<'a> {
    fn of(url: &'a str) -> Self {
        if url == "sqlite::memory:" || url == "sqlite://:memory:" {
            StoreKind::SqliteMemory
        } else if let Some(path) = url.strip_prefix("sqlite://") {
            StoreKind::Sqlite(path)
        } else if let Some(path) = url.strip_prefix("sqlite:") {
            StoreKind::Sqlite(path)
        } else {
            StoreKind::Postgres(url)
        }
    }
}

/// Readiness from the store's own health check.
struct StoreReady<S>(Arc<S>);

#[async_trait::async_trait]
impl<S: wedsync_store::StoreHealthCheck + 'static> Readiness for StoreReady<S> {
    async fn ready(&self) -> Result<(), String> {
        let h = self.0.health(Duration::from_secs(2)).await;
        if h.ok {
            Ok(())
        } else {
            Err(h
                .error
                .unwrap_or_else(|| format!("{} unhealthy", h.backend)))
        }
    }
}

/// A server started by [`start`].
#[derive(Debug)]
pub struct RunningServer {
    addr: Option<SocketAddr>,
    app: Arc<App>,
    breakers: Arc<wedsync_breaker::Registry>,
    stop: watch::Sender<bool>,
    http: Option<JoinHandle<()>>,
    background: Vec<JoinHandle<()>>,
}

impl RunningServer {
    /// The address the API listens on.
    ///
    /// # Panics
    /// When the API is switched off (`server.api_enabled = false`).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr.expect("the API is enabled")
    }

    /// The address the API listens on, if it is enabled.
    pub fn try_local_addr(&self) -> Option<SocketAddr> {
        self.addr
    }

    /// The application (for in-process inspection in tests).
    pub fn app(&self) -> &Arc<App> {
        &self.app
    }

    /// The breaker registry: the services' breakers and the webhook handlers' breakers. With
    /// PostgreSQL, changes made here reach the other instances (see [`BREAKER_SYNC_POLL`]).
    pub fn breakers(&self) -> &Arc<wedsync_breaker::Registry> {
        &self.breakers
    }

    /// Stops accepting, drains in-flight requests (bounded), then stops the background jobs.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        if let Some(h) = self.http.take() {
            let _ = h.await;
        }
        for h in self.background.drain(..) {
            let _ = h.await;
        }
    }

    /// Waits until the server stops by itself (after a shutdown signal).
    pub async fn wait(mut self) {
        if let Some(h) = self.http.take() {
            let _ = h.await;
        }
        let _ = self.stop.send(true);
        for h in self.background.drain(..) {
            let _ = h.await;
        }
    }
}

/// Builds everything from `cfg` and starts serving on `listener` (or on `server.listen` when
/// `None`). Returns once the listener is bound.
pub async fn start(
    cfg: Config,
    listener: Option<TcpListener>,
) -> Result<RunningServer, StartError> {
    let components = Components::build(&cfg).await?;
    start_with(cfg, listener, components).await
}

/// Like [`start`], with parts supplied by the caller.
pub async fn start_with(
    cfg: Config,
    listener: Option<TcpListener>,
    components: Components,
) -> Result<RunningServer, StartError> {
    cfg.validate()?;
    let cfg = Arc::new(cfg);
    let metrics = Arc::new(Metrics::new());
    let instance = format!(
        "wedsync-monitor-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    if bodykeys::needs_key(&cfg) {
        bodykeys::refuse_to_replace_a_lost_key(
            &cfg,
            &components.key_home,
            &*components.webhook_store,
        )
        .await?;
    }
    let keys = bodykeys::key_ring(&cfg, &components.key_home)?;
    let cipher = keys.cipher.clone();
    let mut registry = wedsync_breaker::Registry::builder()
        .default_config(service_breaker_config())
        .instance(instance.clone());
    for name in cfg.webhooks.keys() {
        if let Some(p) = webhooks::provider_of(name) {
            registry = registry.config(
                wedsync_webhooks::delivery::breaker_name(p),
                handler_breaker_config(),
            );
        }
    }
    if let Some(sync) = &components.breaker_sync {
        registry = registry.state_sync(sync.clone());
    }
    let breakers = Arc::new(registry.build());
    let monitor = if cfg.monitor.enabled {
        let m = integrations::build_monitor(
            &cfg,
            components.probe_store.clone(),
            (*breakers).clone(),
            &instance,
            &components.probes,
            components.sinks.clone(),
        )?;
        Some(Arc::new(m))
    } else {
        None
    };
    let integrations = Integrations::new(
        cfg.clone(),
        monitor.clone(),
        components.probe_store.clone(),
        (*breakers).clone(),
    );
    let webhooks = WebhookIngress::new(
        cfg.clone(),
        components.webhook_store.clone(),
        cipher.clone(),
        metrics.clone(),
        cfg.raw_body_retention(),
    )?;
    let receiver = webhooks.receiver().clone();
    let (stop, stop_rx) = watch::channel(false);
    let mut app = App::new(
        cfg.clone(),
        components.admin,
        metrics,
        components.readiness,
        integrations,
        webhooks,
    );
    if cfg.dashboard.enabled {
        app = app.with_dashboard(dashboard::Dashboard::new(
            keys.derive("dashboard sessions"),
            stop_rx.clone(),
        ));
    }
    let app = Arc::new(app);
    if let Some(d) = &app.dashboard {
        d.attach(&app);
    }
    let stopped = |rx: &watch::Receiver<bool>| {
        let mut rx = rx.clone();
        async move {
            let _ = rx.wait_for(|stop| *stop).await;
        }
    };
    let mut background = Vec::new();
    if let Some(sync) = &components.breaker_sync {
        // other instances' resets, forced opens and trips, applied to ours
        let registry = breakers.clone();
        let follower = sync.follow(instance.clone(), BREAKER_SYNC_POLL, move |change| {
            let applied = registry.apply_remote(change);
            tracing::debug!(breaker = %change.breaker, from = %change.instance, ?applied, "remote breaker change");
        });
        let stop = stopped(&stop_rx);
        background.push(tokio::spawn(async move {
            stop.await;
            follower.abort();
        }));
        tracing::info!("breaker state shared through PostgreSQL");
    }
    {
        // keep rate-limiter state bounded
        let app = app.clone();
        let stop = stopped(&stop_rx);
        background.push(tokio::spawn(async move {
            tokio::pin!(stop);
            loop {
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_secs(60)) => app.limits.retain_recent(),
                    () = &mut stop => break,
                }
            }
        }));
    }
    if let Some(m) = &monitor {
        let handle = m
            .start()
            .await
            .map_err(|e| StartError::Store(format!("cannot start the monitor: {e}")))?;
        let mut rx = m.subscribe();
        let metrics = app.metrics().clone();
        let stop = stopped(&stop_rx);
        background.push(tokio::spawn(async move {
            tokio::pin!(stop);
            let mut seen: BTreeMap<String, i64> = BTreeMap::new();
            loop {
                tokio::select! {
                    changed = rx.changed() => {
                        if changed.is_err() { break; }
                        let snap = rx.borrow_and_update().clone();
                        for (name, h) in &snap.services {
                            if let Some(last) = &h.last {
                                if seen.get(name) != Some(&last.checked_at_ms) {
                                    seen.insert(name.clone(), last.checked_at_ms);
                                    Integrations::observe(&metrics, last);
                                }
                            }
                        }
                    }
                    () = &mut stop => break,
                }
            }
            handle.shutdown().await;
        }));
        tracing::info!(services = cfg.services.len(), "monitor started");
    }
    if bodykeys::needs_key(&cfg) {
        // bodies sealed with a key this process does not have: loud now, not at their first attempt
        let (store, ring, metrics) = (
            components.webhook_store.clone(),
            cipher.clone(),
            app.metrics().clone(),
        );
        background.push(tokio::spawn(async move {
            if let Err(e) = bodykeys::check_stored_keys(&*store, &ring, &metrics).await {
                tracing::warn!(error = %e, "could not check the stored raw bodies' keys");
            }
        }));
    }
    if cfg.worker.enabled {
        let worker = Arc::new(build_worker(
            &cfg,
            &instance,
            components.webhook_store.clone(),
            cipher,
            breakers.clone(),
            app.metrics().clone(),
        )?);
        for _ in 0..cfg.worker.concurrency {
            let worker = worker.clone();
            let idle = cfg.worker_poll();
            let stop = stopped(&stop_rx);
            background.push(tokio::spawn(async move {
                wedsync_webhooks::forward::run_worker(worker, idle, stop, |e| {
                    tracing::error!(error = %e, "delivery worker round failed");
                })
                .await;
            }));
        }
        tracing::info!(
            concurrency = cfg.worker.concurrency,
            "delivery worker started"
        );
    }
    if cfg.retention.enabled {
        let every = cfg.retention_interval();
        let stop = stopped(&stop_rx);
        background.push(tokio::spawn(async move {
            tokio::pin!(stop);
            loop {
                match receiver
                    .purge_expired(time::OffsetDateTime::now_utc())
                    .await
                {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(purged = n, "retention: raw webhook bodies deleted"),
                    Err(e) => tracing::error!(error = %e, "retention job failed"),
                }
                tokio::select! {
                    () = tokio::time::sleep(every) => {}
                    () = &mut stop => break,
                }
            }
        }));
    }
    let (addr, http) = if cfg.server.api_enabled {
        let listener = match listener {
            Some(l) => l,
            None => {
                let addr = cfg.listen_addr()?;
                TcpListener::bind(addr)
                    .await
                    .map_err(|source| StartError::Bind { addr, source })?
            }
        };
        let addr = listener.local_addr().map_err(|source| StartError::Bind {
            addr: cfg
                .listen_addr()
                .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0))),
            source,
        })?;
        let opts = server::LoopOptions {
            header_read_timeout: cfg.header_read_timeout(),
            shutdown_timeout: cfg.shutdown_timeout(),
        };
        let shutdown = stopped(&stop_rx);
        tracing::info!(%addr, "listening");
        let app2 = app.clone();
        (
            Some(addr),
            Some(tokio::spawn(server::serve(listener, app2, opts, shutdown))),
        )
    } else {
        (None, None)
    };
    Ok(RunningServer {
        addr,
        app,
        breakers,
        stop,
        http,
        background,
    })
}

/// How often an instance reads the other instances' breaker changes when no PostgreSQL
/// notification woke it (notifications normally deliver them within milliseconds).
pub const BREAKER_SYNC_POLL: Duration = Duration::from_secs(2);

/// The breaker configuration for services: the last 10 outcomes, judged
/// after 4, opening at a 50 % failure rate for 30 s, two probes in half-open. Probes arrive every
/// few seconds, not hundreds per second, so the library's defaults (100 calls) would never trip.
pub fn service_breaker_config() -> wedsync_breaker::BreakerConfig {
    wedsync_breaker::BreakerConfig::builder()
        .sliding_window(wedsync_breaker::SlidingWindow::Count(10))
        .minimum_calls(4)
        .failure_rate_threshold(50.0)
        .wait_duration_in_open(Duration::from_secs(30))
        .permitted_calls_in_half_open(2)
        .build()
        .unwrap_or_default()
}

/// The breaker configuration for the internal webhook handlers (the webhooks crate's default).
pub use wedsync_webhooks::delivery::handler_breaker_config;

/// A random Standard Webhooks secret (`whsec_<base64>`).
pub fn random_whsec() -> String {
    use base64::Engine as _;
    format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(BodyCipher::generate_key())
    )
}

fn build_worker(
    cfg: &Config,
    instance: &str,
    store: Arc<dyn WebhookStore>,
    cipher: BodyCipher,
    breakers: Arc<wedsync_breaker::Registry>,
    metrics: Arc<Metrics>,
) -> Result<wedsync_webhooks::delivery::Worker, StartError> {
    let transport = wedsync_webhooks::forward::ReqwestTransport::new()
        .map_err(|e| StartError::Store(format!("cannot build the HTTP client: {e}")))?;
    let mut worker = wedsync_webhooks::delivery::Worker::new(
        instance,
        store,
        Arc::new(transport),
        cipher,
        breakers,
        Arc::new(wedsync_webhooks::clock::SystemClock),
    )
    .events(Arc::new(bodykeys::WorkerEvents::new(metrics)))
    .heartbeat(cfg.worker_lease(), cfg.worker_lease() / 3);
    for (name, w) in &cfg.webhooks {
        let (Some(provider), Some(url)) = (webhooks::provider_of(name), &w.forward_to) else {
            continue;
        };
        let secret = match &w.handler_secret_env {
            Some(env) => cfg
                .require_secret(&format!("webhooks.{name}.handler_secret_env"), env)?
                .expose()
                .to_string(),
            None => {
                tracing::warn!(provider = %name, "handler_secret_env is not set, so the handler sees deliveries signed with a random per-process key");
                random_whsec()
            }
        };
        worker = worker.handler(
            provider,
            wedsync_webhooks::delivery::Handler::new(
                url.clone(),
                wedsync_webhooks::Secret::new(secret),
            ),
        );
    }
    Ok(worker)
}

/// Runs the server until SIGTERM or Ctrl-C, then shuts down gracefully.
pub async fn run(cfg: Config, listener: Option<TcpListener>) -> Result<(), StartError> {
    let server = start(cfg, listener).await?;
    server::shutdown_signal().await;
    server.shutdown().await;
    Ok(())
}
