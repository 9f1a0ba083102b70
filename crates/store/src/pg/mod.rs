//! PostgreSQL: diesel-async over a deadpool pool, LISTEN/NOTIFY through tokio-postgres — the
//! pool, its connections and the migrations. What it stores is in the domain modules (`admin`,
//! `probe`, `webhooks`, `breaker`).

pub(crate) mod batch;
pub(crate) mod cached;
mod listen;

use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use diesel::ConnectionError;
use diesel_async::pooled_connection::{
    AsyncDieselConnectionManager, ManagerConfig, PoolError, PoolableConnection,
};
use diesel_async::AsyncPgConnection;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};
use futures_util::FutureExt;

use crate::admin::{StoreHealth, StoreHealthCheck};
use crate::error::{Result, StoreError};

pub use listen::Listener;

/// The PostgreSQL migrations (`migrations/postgres`), embedded in the binary.
pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// How to reach PostgreSQL and how to size the pool.
#[derive(Clone, PartialEq, Eq)]
pub struct PgConfig {
    /// `postgres://user:password@host:port/db` (Unix sockets: percent-encode the directory as the
    /// host, e.g. `postgres://postgres@%2Frun%2Fpostgresql/db`).
    pub url: String,
    /// Maximum connections in the pool. Default 16.
    pub pool_size: usize,
    /// How long establishing one connection may take. Default 5 s.
    pub connect_timeout: Duration,
    /// How long a caller waits for a free pooled connection. Default 5 s.
    pub wait_timeout: Duration,
    /// How long checking a returned connection may take. Default 5 s.
    pub recycle_timeout: Duration,
    /// `statement_timeout` set on every new connection. Default 30 s.
    pub statement_timeout: Duration,
    /// `application_name` set on every new connection (shows in `pg_stat_activity`).
    /// Default `wedsync-monitor`.
    pub application_name: String,
    /// Items (deliveries, attempt reports) written per group-committed statement at most.
    /// Default 256.
    pub max_batch: usize,
    /// Group-committed statements in flight at once, per kind. Fewer means bigger batches and
    /// fewer commits; more means lower latency when the server has idle cores. Default 2.
    pub batches_in_flight: usize,
}

impl std::fmt::Debug for PgConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgConfig")
            .field("url", &redact_url(&self.url))
            .field("pool_size", &self.pool_size)
            .field("connect_timeout", &self.connect_timeout)
            .field("wait_timeout", &self.wait_timeout)
            .field("statement_timeout", &self.statement_timeout)
            .field("application_name", &self.application_name)
            .finish_non_exhaustive()
    }
}

impl PgConfig {
    /// A configuration with the defaults and `url`.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            pool_size: 16,
            connect_timeout: Duration::from_secs(5),
            wait_timeout: Duration::from_secs(5),
            recycle_timeout: Duration::from_secs(5),
            statement_timeout: Duration::from_secs(30),
            application_name: "wedsync-monitor".to_owned(),
            max_batch: 256,
            batches_in_flight: 2,
        }
    }

    /// Sets the pool size.
    pub fn pool_size(mut self, n: usize) -> Self {
        self.pool_size = n;
        self
    }

    /// Sets `application_name`.
    pub fn application_name(mut self, name: impl Into<String>) -> Self {
        self.application_name = name.into();
        self
    }

    fn validate(&self) -> Result<()> {
        if self.pool_size == 0 {
            return Err(StoreError::Config("pool_size must be at least 1".into()));
        }
        if self.max_batch == 0 || self.batches_in_flight == 0 {
            return Err(StoreError::Config(
                "max_batch and batches_in_flight must be at least 1".into(),
            ));
        }
        tokio_postgres::Config::from_str(&self.url)
            .map_err(|e| StoreError::Config(format!("bad PostgreSQL URL: {e}")))?;
        Ok(())
    }
}

/// `url` with any password replaced by `***`.
pub(crate) fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "***".to_owned();
    };
    let end = rest.find('/').unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}{tail}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

/// Opens one connection with the store's session settings: `application_name` (a startup
/// parameter), `connect_timeout`, and `statement_timeout` (set right after connecting).
pub(crate) async fn establish(
    url: &str,
    application_name: &str,
    connect_timeout: Duration,
    statement_timeout: Duration,
) -> diesel::ConnectionResult<AsyncPgConnection> {
    use diesel_async::SimpleAsyncConnection;
    let (client, connection) = connect_raw(url, application_name, connect_timeout).await?;
    let mut conn = AsyncPgConnection::try_from_client_and_connection(client, connection).await?;
    conn.batch_execute(&format!(
        "SET statement_timeout = {}",
        statement_timeout.as_millis()
    ))
    .await
    .map_err(ConnectionError::CouldntSetupConfiguration)?;
    Ok(conn)
}

pub(crate) async fn connect_raw(
    url: &str,
    application_name: &str,
    connect_timeout: Duration,
) -> diesel::ConnectionResult<(
    tokio_postgres::Client,
    tokio_postgres::Connection<tokio_postgres::Socket, tokio_postgres::tls::NoTlsStream>,
)> {
    let mut config = tokio_postgres::Config::from_str(url)
        .map_err(|e| ConnectionError::InvalidConnectionUrl(e.to_string()))?;
    config.application_name(application_name);
    config.connect_timeout(connect_timeout);
    config
        .connect(tokio_postgres::NoTls)
        .await
        .map_err(|e| ConnectionError::BadConnection(e.to_string()))
}

/// A connection checked out of the store's pool (derefs to `AsyncPgConnection`).
pub type PooledConnection = deadpool::managed::Object<PgManager>;

/// A connection used this recently is handed out again without a test query.
const VERIFIED_WITHIN: Duration = Duration::from_secs(1);

/// The pool's connection manager: diesel-async's, except that a connection checked out less
/// than a second ago is not tested with a `SELECT 1` round trip again (the
/// group-committed writers check out a connection per batch, hundreds of times a second). A
/// connection whose socket closed or whose transaction state is broken is still discarded, and
/// one idle for longer is tested as before.
pub struct PgManager {
    inner: AsyncDieselConnectionManager<AsyncPgConnection>,
}

impl std::fmt::Debug for PgManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgManager").finish_non_exhaustive()
    }
}

impl deadpool::managed::Manager for PgManager {
    type Type = AsyncPgConnection;
    type Error = PoolError;

    async fn create(&self) -> std::result::Result<AsyncPgConnection, PoolError> {
        self.inner.create().await
    }

    async fn recycle(
        &self,
        conn: &mut AsyncPgConnection,
        metrics: &deadpool::managed::Metrics,
    ) -> deadpool::managed::RecycleResult<PoolError> {
        if metrics.last_used() < VERIFIED_WITHIN && !std::thread::panicking() && !conn.is_broken() {
            return Ok(());
        }
        self.inner.recycle(conn, metrics).await
    }
}

type Pool = deadpool::managed::Pool<PgManager>;

pub(crate) struct Inner {
    pub(crate) pool: Pool,
    pub(crate) config: PgConfig,
    pub(crate) listener: Listener,
    #[cfg_attr(not(feature = "webhooks"), allow(dead_code))]
    pub(crate) wake_pending: std::sync::atomic::AtomicBool,
    #[cfg(feature = "webhooks")]
    pub(crate) webhooks: crate::webhooks::pg::Batchers,
}

/// At most one queue `NOTIFY` per this interval (each is a round trip and a transaction of its own).
const WAKE_DEBOUNCE: Duration = Duration::from_millis(20);

/// Wakes queue workers in every process: one `NOTIFY` per [`WAKE_DEBOUNCE`] at most, sent
/// after the writes committed and outside them (a `NOTIFY` inside a write transaction would
/// serialise commits on PostgreSQL's notification lock).
#[cfg_attr(not(feature = "webhooks"), allow(dead_code))]
static NOTIFY_QUEUE: std::sync::LazyLock<cached::Statement> = std::sync::LazyLock::new(|| {
    cached::Statement::new("SELECT pg_notify('wedsync_delivery_queue', '')")
});

#[cfg_attr(not(feature = "webhooks"), allow(dead_code))]
pub(crate) fn wake_workers(inner: &Arc<Inner>) {
    use std::sync::atomic::Ordering;
    inner.listener.wake_local();
    if inner.wake_pending.swap(true, Ordering::AcqRel) {
        return;
    }
    let inner = Arc::clone(inner);
    tokio::spawn(async move {
        tokio::time::sleep(WAKE_DEBOUNCE).await;
        inner.wake_pending.store(false, Ordering::Release);
        use diesel_async::RunQueryDsl;
        if let Ok(mut conn) = inner.pool.get().await {
            let _ = NOTIFY_QUEUE.query().execute(&mut conn).await;
        }
    });
}

/// The PostgreSQL store. Cheap to clone; all clones share one pool.
#[derive(Clone)]
pub struct PgStore {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl PgStore {
    /// Builds the pool (no connection is opened yet) and starts the background group-commit
    /// writers.
    ///
    /// Must be called inside a tokio runtime.
    pub fn new(config: PgConfig) -> Result<Self> {
        config.validate()?;
        let mut manager_config = ManagerConfig::<AsyncPgConnection>::default();
        let (app, connect_timeout, statement_timeout) = (
            config.application_name.clone(),
            config.connect_timeout,
            config.statement_timeout,
        );
        manager_config.custom_setup = Box::new(move |url| {
            let url = url.to_owned();
            let app = app.clone();
            async move { establish(&url, &app, connect_timeout, statement_timeout).await }.boxed()
        });
        let manager = AsyncDieselConnectionManager::<AsyncPgConnection>::new_with_config(
            &config.url,
            manager_config,
        );
        let pool = Pool::builder(PgManager { inner: manager })
            .max_size(config.pool_size)
            .wait_timeout(Some(config.wait_timeout))
            .create_timeout(Some(config.connect_timeout))
            .recycle_timeout(Some(config.recycle_timeout))
            // the most recently returned connection first: the few a steady load needs stay
            // warm (their prepared statements and the server backend's caches) and skip the
            // test query (`VERIFIED_WITHIN`); the rest idle
            .queue_mode(deadpool::managed::QueueMode::Lifo)
            .runtime(deadpool::Runtime::Tokio1)
            .build()
            .map_err(|e| StoreError::Config(e.to_string()))?;
        let listener = Listener::new(config.clone());
        let inner = Arc::new_cyclic(|_weak| Inner {
            #[cfg(feature = "webhooks")]
            webhooks: crate::webhooks::pg::Batchers::spawn(
                _weak,
                config.max_batch,
                config.batches_in_flight,
            ),
            pool,
            config,
            listener,
            wake_pending: std::sync::atomic::AtomicBool::new(false),
        });
        Ok(Self { inner })
    }

    /// Builds the store and runs the pending migrations.
    pub async fn connect(config: PgConfig) -> Result<Self> {
        let store = Self::new(config)?;
        store.run_migrations().await?;
        Ok(store)
    }

    /// The configuration.
    pub fn config(&self) -> &PgConfig {
        &self.inner.config
    }

    /// Applies pending migrations, on a dedicated connection in `spawn_blocking` (diesel's
    /// migration harness is synchronous; this is safe on a current-thread runtime too).
    pub async fn run_migrations(&self) -> Result<Vec<String>> {
        self.with_migration_conn(|conn| {
            conn.run_pending_migrations(MIGRATIONS)
                .map(crate::admin::migration_names)
        })
        .await
    }

    /// Reverts every applied migration (for tests and `migrate down`).
    pub async fn revert_all_migrations(&self) -> Result<Vec<String>> {
        self.with_migration_conn(|conn| {
            conn.revert_all_migrations(MIGRATIONS)
                .map(crate::admin::migration_names)
        })
        .await
    }

    async fn with_migration_conn<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(
                &mut diesel_async::async_connection_wrapper::AsyncConnectionWrapper<
                    AsyncPgConnection,
                >,
            ) -> diesel::migration::Result<T>
            + Send
            + 'static,
    {
        let c = &self.inner.config;
        let conn = establish(
            &c.url,
            &c.application_name,
            c.connect_timeout,
            c.statement_timeout,
        )
        .await?;
        let mut wrapper: diesel_async::async_connection_wrapper::AsyncConnectionWrapper<
            AsyncPgConnection,
        > = conn.into();
        tokio::task::spawn_blocking(move || f(&mut wrapper))
            .await?
            .map_err(|e| StoreError::Migration(e.to_string()))
    }

    /// A pooled connection, or [`StoreError::Unavailable`].
    pub async fn conn(&self) -> Result<PooledConnection> {
        self.inner.pool.get().await.map_err(|e| {
            StoreError::Unavailable(format!(
                "no PostgreSQL connection from the pool ({}): {e}",
                redact_url(&self.inner.config.url)
            ))
        })
    }

    /// The pool's status: (open connections, idle connections, maximum).
    pub fn pool_status(&self) -> (usize, usize, usize) {
        let s = self.inner.pool.status();
        (s.size, s.available, s.max_size)
    }
}

#[async_trait::async_trait]
impl StoreHealthCheck for PgStore {
    async fn health(&self, timeout: Duration) -> StoreHealth {
        let started = Instant::now();
        let error = crate::admin::ping_error(timeout, crate::admin::pg_ping(self)).await;
        let (pool_size, pool_available, pool_max) = self.pool_status();
        StoreHealth {
            backend: "postgres",
            ok: error.is_none(),
            latency: started.elapsed(),
            error,
            pool_size,
            pool_available,
            pool_max,
        }
    }
}
