//! Embedded SQLite: the zero-install default store for one process — its connection and
//! migrations. What it stores is in the domain modules (`admin`, `probe`, `webhooks`).
//!
//! One connection (WAL mode, busy timeout, foreign keys on) behind a mutex; every call runs on
//! tokio's blocking pool. Timestamps are stored as INTEGER microseconds since the Unix epoch (UTC).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use diesel::connection::SimpleConnection;
use diesel::{Connection, SqliteConnection};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};
use time::OffsetDateTime;
use tokio::sync::Notify;

use crate::admin::{StoreHealth, StoreHealthCheck};
use crate::error::{Result, StoreError};

/// The SQLite migrations (`migrations/sqlite`), embedded in the binary.
pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");

/// How long a writer waits for a lock held by another connection before failing.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The SQLite store. Cheap to clone; clones share the connection.
#[derive(Clone)]
pub struct SqliteStore {
    conn: Arc<Mutex<SqliteConnection>>,
    path: PathBuf,
    /// Wakes workers waiting for due deliveries (see `wait_for_deliveries`).
    #[cfg_attr(not(feature = "webhooks"), allow(dead_code))]
    pub(crate) wake: Arc<Notify>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// Microseconds since the Unix epoch: how SQLite stores a timestamp.
pub(crate) fn us(t: OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos() / 1000).unwrap_or(i64::MAX)
}

/// The inverse of [`us`].
pub(crate) fn from_us(v: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(v) * 1000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// A query of a statement generated from a [`Dialect`](crate::dialect::Dialect) (a `String`),
/// built once per call site.
macro_rules! stmt {
    ($sql:expr $(,)?) => {{
        static SQL: ::std::sync::LazyLock<String> = ::std::sync::LazyLock::new(|| $sql);
        diesel::sql_query(SQL.as_str())
    }};
}
pub(crate) use stmt;

impl SqliteStore {
    /// Opens (creating if needed) the database file at `path` and runs pending migrations.
    pub async fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let url = path
            .to_str()
            .ok_or_else(|| StoreError::Config("the SQLite path is not UTF-8".into()))?
            .to_owned();
        Self::open_url(url, path).await
    }

    /// An in-memory database (gone when the store is dropped), migrated.
    pub async fn open_in_memory() -> Result<Self> {
        Self::open_url(":memory:".to_owned(), PathBuf::from(":memory:")).await
    }

    async fn open_url(url: String, path: PathBuf) -> Result<Self> {
        let conn = tokio::task::spawn_blocking(move || -> Result<SqliteConnection> {
            let mut conn = SqliteConnection::establish(&url).map_err(|e| {
                StoreError::Unavailable(format!("cannot open SQLite database: {e}"))
            })?;
            conn.batch_execute(&format!(
                "PRAGMA busy_timeout = {};
                 PRAGMA journal_mode = WAL;
                 PRAGMA synchronous = NORMAL;
                 PRAGMA foreign_keys = ON;",
                BUSY_TIMEOUT.as_millis()
            ))?;
            conn.run_pending_migrations(MIGRATIONS)
                .map_err(|e| StoreError::Migration(e.to_string()))?;
            Ok(conn)
        })
        .await??;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
            path,
            wake: Arc::new(Notify::new()),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` with the connection on the blocking pool.
    pub async fn with_conn<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut SqliteConnection) -> Result<T> + Send + 'static,
    {
        let conn = Arc::clone(&self.conn);
        tokio::task::spawn_blocking(move || {
            let mut guard = match conn.lock() {
                Ok(g) => g,
                Err(poisoned) => poisoned.into_inner(),
            };
            f(&mut guard)
        })
        .await?
    }

    /// Reverts every applied migration (for tests and `migrate down`).
    pub async fn revert_all_migrations(&self) -> Result<Vec<String>> {
        self.with_conn(|c| {
            c.revert_all_migrations(MIGRATIONS)
                .map(crate::admin::migration_names)
                .map_err(|e| StoreError::Migration(e.to_string()))
        })
        .await
    }

    /// Applies pending migrations.
    pub async fn run_migrations(&self) -> Result<Vec<String>> {
        self.with_conn(|c| {
            c.run_pending_migrations(MIGRATIONS)
                .map(crate::admin::migration_names)
                .map_err(|e| StoreError::Migration(e.to_string()))
        })
        .await
    }
}

#[async_trait]
impl StoreHealthCheck for SqliteStore {
    async fn health(&self, timeout: Duration) -> StoreHealth {
        let started = Instant::now();
        let error = crate::admin::ping_error(timeout, crate::admin::sqlite_ping(self)).await;
        StoreHealth {
            backend: "sqlite",
            ok: error.is_none(),
            latency: started.elapsed(),
            error,
            pool_size: 1,
            pool_available: usize::from(self.conn.try_lock().is_ok()),
            pool_max: 1,
        }
    }
}
