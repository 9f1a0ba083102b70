//! The parts a server is assembled from: the configured store opened once and shared by API
//! keys, the audit log, probe results, webhook deliveries, retention and readiness.

use std::collections::BTreeMap;
use std::sync::Arc;

use wedsync_probe::store::ProbeStore;
use wedsync_store::breaker_sync::PgBreakerSync;
use wedsync_store::{AnyStore, StoreUrl};
use wedsync_webhooks::store::{InMemoryStore, WebhookStore};

use crate::admin::AdminStore;
use crate::config::Config;
use crate::{bodykeys, StartError};

/// The parts a server is assembled from; [`Components::build`] makes them from configuration.
pub struct Components {
    /// API keys and the audit log.
    pub admin: Arc<AdminStore>,
    /// The store's health check, answering `/readyz` (`None`: always ready).
    pub readiness: Option<Arc<dyn wedsync_store::StoreHealthCheck>>,
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
    /// The store's retention job (`None` for the in-memory parts).
    pub retention: Option<Arc<dyn wedsync_store::Retention>>,
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
    /// In-memory parts (nothing persists; for tests and embedding): the webhook and probe stores
    /// of their crates, API keys and the audit log in an in-memory SQLite database.
    pub async fn in_memory() -> Result<Self, StartError> {
        let admin = wedsync_store::SqliteStore::open_in_memory()
            .await
            .map_err(|e| StartError::Store(e.to_string()))?;
        Ok(Self {
            admin: Arc::new(AdminStore::new(Arc::new(admin))),
            retention: None,
            readiness: None,
            webhook_store: Arc::new(InMemoryStore::new()),
            probe_store: Arc::new(wedsync_probe::store::MemoryStore::new()),
            sinks: Vec::new(),
            probes: BTreeMap::new(),
            breaker_sync: None,
            key_home: bodykeys::KeyHome::Ephemeral,
        })
    }

    /// Applies the configured store's migrations (opening a store migrates it).
    pub async fn migrate(cfg: &Config) -> Result<(), StartError> {
        open(&cfg.store.url).await.map(drop)
    }

    /// Opens the configured store and builds the parts on it: API keys, the audit log,
    /// readiness, webhook deliveries with their queue and attempts, probe results, incidents and
    /// the outbox; on PostgreSQL also the breaker state sharing.
    pub async fn build(cfg: &Config) -> Result<Self, StartError> {
        let mut c = Self::in_memory().await?;
        match open(&cfg.store.url).await? {
            AnyStore::Sqlite(s) => {
                if let Ok(StoreUrl::Sqlite(path)) = StoreUrl::parse(&cfg.store.url) {
                    c.key_home = bodykeys::KeyHome::beside_database(std::path::Path::new(path));
                }
                c.on_store(Arc::new(s));
            }
            AnyStore::Postgres(s) => {
                c.breaker_sync = Some(PgBreakerSync::start(s.clone()));
                c.key_home = bodykeys::KeyHome::Required;
                c.on_store(Arc::new(s));
            }
            _ => return Err(StartError::Store("unsupported store backend".into())),
        }
        Ok(c)
    }

    /// Every part kept in one store (SQLite or PostgreSQL).
    fn on_store<S>(&mut self, s: Arc<S>)
    where
        S: crate::admin::AdminBackend
            + ProbeStore
            + WebhookStore
            + wedsync_store::Retention
            + wedsync_store::StoreHealthCheck,
    {
        self.admin = Arc::new(AdminStore::new(s.clone()));
        self.probe_store = s.clone();
        self.webhook_store = s.clone();
        self.retention = Some(s.clone());
        self.readiness = Some(s);
    }
}

/// The configured store, opened and migrated.
async fn open(url: &str) -> Result<AnyStore, StartError> {
    AnyStore::open(url, "wedsync-monitor")
        .await
        .map_err(|e| StartError::Store(e.to_string()))
}
