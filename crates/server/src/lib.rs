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
//!   with a timer, no `?` on `accept()`, bounded graceful shutdown, every body read by
//!   `wedsync_dashboard::http::read_limited` (413 above `server.body_limit_bytes`).
//! - Routes live in one table ([`routes::ROUTES`]); `/openapi.json` is tested against it.
//! - Errors are JSON `{"error":{"code","message"}}`; internal errors are a bare 500 whose detail goes
//!   only to the log, and every log line passes through the redactor.
//!
//! # Feature flags
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `demo` | yes | `wedsync-monitor demo` and [`demo`]: the fake providers of `wedsync-testkit` and the demo's story; a production build leaves them out with `--no-default-features` |

pub mod admin;
pub mod app;
pub mod bodykeys;
pub mod build;
pub mod check;
pub mod components;
pub mod config;
pub mod dashboard;
#[cfg(feature = "demo")]
pub mod demo;
pub mod error;
pub mod integrations;
mod jobs;
pub mod logging;
pub mod metrics;
pub mod openapi;
pub mod ratelimit;
pub mod routes;
pub mod server;
pub mod webhooks;

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::app::App;
pub use crate::build::random_whsec;
pub use crate::components::Components;
use crate::config::Config;
use crate::integrations::Integrations;
pub use crate::jobs::BREAKER_SYNC_POLL;
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
    let instance = format!(
        "wedsync-monitor-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    if bodykeys::needs_key(&cfg) {
        let store = &*components.webhook_store;
        bodykeys::refuse_to_replace_a_lost_key(&cfg, &components.key_home, store).await?;
    }
    let wiring = Wiring {
        keys: bodykeys::key_ring(&cfg, &components.key_home)?,
        breakers: Arc::new(build::breaker_registry(&cfg, &instance, &components)),
        metrics: Arc::new(Metrics::new()),
        cfg,
        components,
        instance,
    };
    let (stop, stop_rx) = watch::channel(false);
    let (app, monitor, receiver) = wiring.app(stop_rx.clone())?;
    let jobs = wiring.jobs(stop_rx, &app, monitor, receiver).await?;
    let (addr, http) = match wiring.cfg.server.api_enabled {
        true => {
            let stopped = jobs.stopped();
            let (addr, task) = serve_api(&wiring.cfg, listener, app.clone(), stopped).await?;
            (Some(addr), Some(task))
        }
        false => (None, None),
    };
    Ok(RunningServer {
        addr,
        app,
        breakers: wiring.breakers,
        stop,
        http,
        background: jobs.into_handles(),
    })
}

/// Everything the application and the background jobs are built from.
struct Wiring {
    cfg: Arc<Config>,
    components: Components,
    instance: String,
    keys: bodykeys::KeyRing,
    breakers: Arc<wedsync_breaker::Registry>,
    metrics: Arc<Metrics>,
}

type Built = (
    Arc<App>,
    Option<Arc<wedsync_probe::Monitor>>,
    Arc<wedsync_webhooks::ingest::Receiver>,
);

impl Wiring {
    /// The application (API, webhook ingress, dashboard), the monitor when this process runs
    /// one, and the webhook receiver.
    fn app(&self, stop: watch::Receiver<bool>) -> Result<Built, StartError> {
        let (cfg, c) = (&self.cfg, &self.components);
        let monitor = match cfg.monitor.enabled {
            true => Some(Arc::new(build::build_monitor(
                cfg,
                c.probe_store.clone(),
                (*self.breakers).clone(),
                &self.instance,
                &c.probes,
                c.sinks.clone(),
            )?)),
            false => None,
        };
        let breakers = (*self.breakers).clone();
        let integrations = Integrations::new(
            cfg.clone(),
            monitor.clone(),
            c.probe_store.clone(),
            breakers,
        );
        let webhooks = WebhookIngress::new(
            cfg.clone(),
            c.webhook_store.clone(),
            self.keys.cipher.clone(),
            self.metrics.clone(),
            cfg.ingress.raw_body_retention,
        )?;
        let receiver = webhooks.receiver().clone();
        let (admin, metrics, ready) = (c.admin.clone(), self.metrics.clone(), c.readiness.clone());
        let app = Arc::new_cyclic(|me| {
            let app = App::new(cfg.clone(), admin, metrics, ready, integrations, webhooks);
            if !cfg.dashboard.enabled {
                return app;
            }
            let sessions = self.keys.derive("dashboard sessions");
            app.with_dashboard(dashboard::new(cfg, sessions, me.clone(), stop))
        });
        Ok((app, monitor, receiver))
    }

    /// Starts the background jobs this process's configuration asks for.
    async fn jobs(
        &self,
        stop: watch::Receiver<bool>,
        app: &Arc<App>,
        monitor: Option<Arc<wedsync_probe::Monitor>>,
        receiver: Arc<wedsync_webhooks::ingest::Receiver>,
    ) -> Result<jobs::Jobs, StartError> {
        let (cfg, c, metrics) = (&self.cfg, &self.components, &self.metrics);
        let mut jobs = jobs::Jobs::new(stop);
        if let Some(sync) = &c.breaker_sync {
            jobs.breaker_follower(sync, self.breakers.clone(), self.instance.clone());
        }
        jobs.rate_limit_sweeper(app.clone());
        if let Some(m) = &monitor {
            jobs.monitor(m, metrics.clone()).await?;
            tracing::info!(services = cfg.services.len(), "monitor started");
        }
        let cipher = self.keys.cipher.clone();
        if bodykeys::needs_key(cfg) {
            jobs.stored_key_check(c.webhook_store.clone(), cipher.clone(), metrics.clone());
        }
        if cfg.worker.enabled {
            let worker =
                build::build_worker(cfg, &self.instance, c, cipher, &self.breakers, metrics)?;
            let (n, idle) = (cfg.worker.concurrency, cfg.worker.poll_interval);
            jobs.delivery_workers(Arc::new(worker), n, idle);
        }
        if cfg.retention.enabled {
            let (policy, every) = (cfg.retention_policy(), cfg.retention.interval);
            jobs.retention(receiver, c.retention.clone(), policy, every);
        }
        Ok(jobs)
    }
}

/// Binds `server.listen` (unless a listener is given) and serves the API until `shutdown`.
async fn serve_api(
    cfg: &Config,
    listener: Option<TcpListener>,
    app: Arc<App>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(SocketAddr, JoinHandle<()>), StartError> {
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
        header_read_timeout: cfg.server.header_read_timeout,
        shutdown_timeout: cfg.server.shutdown_timeout,
    };
    tracing::info!(%addr, "listening");
    Ok((
        addr,
        tokio::spawn(server::serve(listener, app, opts, shutdown)),
    ))
}

pub use wedsync_probe::service_breaker_config;

/// The breaker configuration for the internal webhook handlers (the webhooks crate's default).
pub use wedsync_webhooks::delivery::handler_breaker_config;

/// Runs the server until SIGTERM or Ctrl-C, then shuts down gracefully.
pub async fn run(cfg: Config, listener: Option<TcpListener>) -> Result<(), StartError> {
    let server = start(cfg, listener).await?;
    server::shutdown_signal().await;
    server.shutdown().await;
    Ok(())
}
