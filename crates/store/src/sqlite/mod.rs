//! Embedded SQLite: the zero-install default store for one process.
//!
//! One connection (WAL mode, busy timeout, foreign keys on) behind a mutex; every call runs on
//! tokio's blocking pool. Timestamps are stored as INTEGER microseconds since the Unix epoch (UTC).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use diesel::connection::SimpleConnection;
use diesel::sql_types::{BigInt, Binary, Integer, Nullable, Text};
use diesel::{Connection, QueryableByName, RunQueryDsl, SqliteConnection};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};
use time::OffsetDateTime;
use tokio::sync::Notify;

use crate::error::{Result, StoreError};
use crate::keys;
use crate::model::*;

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

fn now_us() -> i64 {
    us(OffsetDateTime::now_utc())
}

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
                .map(|v| v.iter().map(|m| m.to_string()).collect())
                .map_err(|e| StoreError::Migration(e.to_string()))
        })
        .await
    }

    /// Applies pending migrations.
    pub async fn run_migrations(&self) -> Result<Vec<String>> {
        self.with_conn(|c| {
            c.run_pending_migrations(MIGRATIONS)
                .map(|v| v.iter().map(|m| m.to_string()).collect())
                .map_err(|e| StoreError::Migration(e.to_string()))
        })
        .await
    }
}

#[async_trait]
impl StoreHealthCheck for SqliteStore {
    async fn health(&self, timeout: Duration) -> StoreHealth {
        let started = Instant::now();
        let result = tokio::time::timeout(
            timeout,
            self.with_conn(|c| {
                diesel::sql_query("SELECT 1").execute(c)?;
                Ok(())
            }),
        )
        .await;
        let error = match result {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(e.to_string()),
            Err(_) => Some(format!("no answer within {timeout:?}")),
        };
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

// ------------------------------------------------------------------------------------------------
// probe results
// ------------------------------------------------------------------------------------------------

type Ts = BigInt;
type TsRs = i64;
crate::rows::metrics_rows!();

const OVERVIEW_SQL: &str = "\
WITH RECURSIVE services(service) AS (
    SELECT min(service) FROM service_health_metrics
    UNION ALL
    SELECT (SELECT min(m.service) FROM service_health_metrics m WHERE m.service > s.service)
    FROM services s WHERE s.service IS NOT NULL
)
SELECT l.service, l.status, l.latency_ms, l.http_status, l.detail, l.checked_at,
       (SELECT count(*) FROM service_health_metrics m
        WHERE m.service = s.service AND m.checked_at > ?1 - 86400000000 AND m.checked_at <= ?1)
           AS checks,
       (SELECT count(*) FROM service_health_metrics m
        WHERE m.service = s.service AND m.checked_at > ?1 - 86400000000 AND m.checked_at <= ?1
          AND m.status IN ('healthy', 'degraded')) AS up
FROM services s
JOIN service_health_metrics l ON l.id = (
    SELECT id FROM service_health_metrics m WHERE m.service = s.service
    ORDER BY m.checked_at DESC, m.id DESC LIMIT 1)
WHERE s.service IS NOT NULL
ORDER BY s.service";

const HOUR_US: i64 = 3_600_000_000;
const DAY_US: i64 = 24 * HOUR_US;

#[async_trait]
impl MetricsStore for SqliteStore {
    async fn record_probe_results(&self, records: &[ProbeRecord]) -> Result<()> {
        let records = records.to_vec();
        self.with_conn(move |c| {
            c.transaction::<_, StoreError, _>(|c| {
                for r in &records {
                    diesel::sql_query(
                        "INSERT INTO service_health_metrics
                             (service, status, latency_ms, http_status, detail, checked_at)
                         VALUES (?, ?, ?, ?, ?, ?)",
                    )
                    .bind::<Text, _>(&r.service)
                    .bind::<Text, _>(r.status.as_str())
                    .bind::<Nullable<Integer>, _>(r.latency_ms)
                    .bind::<Nullable<Integer>, _>(r.http_status)
                    .bind::<Nullable<Text>, _>(&r.detail)
                    .bind::<BigInt, _>(us(r.checked_at))
                    .execute(c)?;
                }
                Ok(())
            })
        })
        .await
    }

    async fn services_overview(&self, now: OffsetDateTime) -> Result<Vec<ServiceOverview>> {
        let rows: Vec<OverviewRow> = self
            .with_conn(move |c| {
                Ok(diesel::sql_query(OVERVIEW_SQL)
                    .bind::<BigInt, _>(us(now))
                    .load(c)?)
            })
            .await?;
        rows.into_iter().map(OverviewRow::into_overview).collect()
    }

    async fn probe_history(
        &self,
        service: &str,
        from: OffsetDateTime,
        to: OffsetDateTime,
        limit: i64,
    ) -> Result<Vec<ProbeRecord>> {
        let service = service.to_owned();
        let rows: Vec<ProbeRow> = self
            .with_conn(move |c| {
                Ok(diesel::sql_query(
                    "SELECT service, status, latency_ms, http_status, detail, checked_at
                     FROM service_health_metrics
                     WHERE service = ? AND checked_at >= ? AND checked_at < ?
                     ORDER BY checked_at DESC LIMIT ?",
                )
                .bind::<Text, _>(&service)
                .bind::<BigInt, _>(us(from))
                .bind::<BigInt, _>(us(to))
                .bind::<BigInt, _>(limit)
                .load(c)?)
            })
            .await?;
        rows.into_iter().map(ProbeRow::into_record).collect()
    }

    async fn compute_rollups(&self, from: OffsetDateTime, to: OffsetDateTime) -> Result<()> {
        let (from, to) = (us(from), us(to));
        self.with_conn(move |c| {
            c.transaction::<_, StoreError, _>(|c| {
                let h_from = from - from.rem_euclid(HOUR_US);
                let h_to = (to - 1) - (to - 1).rem_euclid(HOUR_US) + HOUR_US;
                diesel::sql_query(
                    "INSERT INTO service_health_rollups_hourly
                         (service, bucket, checks, healthy, degraded, down, latency_sum_ms,
                          latency_max_ms)
                     SELECT service, checked_at - (checked_at % 3600000000), count(*),
                            sum(status = 'healthy'), sum(status = 'degraded'), sum(status = 'unhealthy'),
                            coalesce(sum(latency_ms), 0), max(latency_ms)
                     FROM service_health_metrics
                     WHERE checked_at >= ? AND checked_at < ?
                     GROUP BY 1, 2
                     ON CONFLICT (service, bucket) DO UPDATE SET
                         checks = excluded.checks, healthy = excluded.healthy,
                         degraded = excluded.degraded, down = excluded.down,
                         latency_sum_ms = excluded.latency_sum_ms,
                         latency_max_ms = excluded.latency_max_ms",
                )
                .bind::<BigInt, _>(h_from)
                .bind::<BigInt, _>(h_to)
                .execute(c)?;
                let d_from = from - from.rem_euclid(DAY_US);
                let d_to = (to - 1) - (to - 1).rem_euclid(DAY_US) + DAY_US;
                diesel::sql_query(
                    "INSERT INTO service_health_rollups_daily
                         (service, bucket, checks, healthy, degraded, down, latency_sum_ms,
                          latency_max_ms)
                     SELECT service, bucket - (bucket % 86400000000), sum(checks), sum(healthy),
                            sum(degraded), sum(down), sum(latency_sum_ms), max(latency_max_ms)
                     FROM service_health_rollups_hourly
                     WHERE bucket >= ? AND bucket < ?
                     GROUP BY 1, 2
                     ON CONFLICT (service, bucket) DO UPDATE SET
                         checks = excluded.checks, healthy = excluded.healthy,
                         degraded = excluded.degraded, down = excluded.down,
                         latency_sum_ms = excluded.latency_sum_ms,
                         latency_max_ms = excluded.latency_max_ms",
                )
                .bind::<BigInt, _>(d_from)
                .bind::<BigInt, _>(d_to)
                .execute(c)?;
                Ok(())
            })
        })
        .await
    }

    async fn rollups(
        &self,
        service: &str,
        period: RollupPeriod,
        from: OffsetDateTime,
        to: OffsetDateTime,
    ) -> Result<Vec<Rollup>> {
        let table = match period {
            RollupPeriod::Hourly => "service_health_rollups_hourly",
            RollupPeriod::Daily => "service_health_rollups_daily",
        };
        let service = service.to_owned();
        let rows: Vec<RollupRow> = self
            .with_conn(move |c| {
                Ok(diesel::sql_query(format!(
                    "SELECT service, bucket, checks, healthy, degraded, down, latency_sum_ms,
                            latency_max_ms
                     FROM {table} WHERE service = ? AND bucket >= ? AND bucket < ? ORDER BY bucket"
                ))
                .bind::<Text, _>(&service)
                .bind::<BigInt, _>(us(from))
                .bind::<BigInt, _>(us(to))
                .load(c)?)
            })
            .await?;
        Ok(rows.into_iter().map(Rollup::from).collect())
    }
}

// ------------------------------------------------------------------------------------------------
// API keys and the audit log
// ------------------------------------------------------------------------------------------------

#[derive(QueryableByName)]
struct KeyRow {
    #[diesel(sql_type = Text)]
    id: String,
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    key_prefix: String,
    #[diesel(sql_type = Text)]
    scopes: String,
    #[diesel(sql_type = BigInt)]
    created_at: i64,
    #[diesel(sql_type = Nullable<BigInt>)]
    expires_at: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    revoked_at: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    last_used_at: Option<i64>,
}

fn split_scopes(s: &str) -> Vec<String> {
    s.split_whitespace().map(str::to_owned).collect()
}

impl From<KeyRow> for ApiKeyInfo {
    fn from(r: KeyRow) -> Self {
        Self {
            id: r.id,
            name: r.name,
            prefix: r.key_prefix,
            scopes: split_scopes(&r.scopes),
            created_at: from_us(r.created_at),
            expires_at: r.expires_at.map(from_us),
            revoked_at: r.revoked_at.map(from_us),
            last_used_at: r.last_used_at.map(from_us),
        }
    }
}

#[derive(QueryableByName)]
struct VerifyRow {
    #[diesel(sql_type = Text)]
    id: String,
    #[diesel(sql_type = Binary)]
    key_hash: Vec<u8>,
    #[diesel(sql_type = Text)]
    scopes: String,
    #[diesel(sql_type = Nullable<BigInt>)]
    last_used_at: Option<i64>,
}

const KEY_COLUMNS: &str =
    "id, name, key_prefix, scopes, created_at, expires_at, revoked_at, last_used_at";

#[async_trait]
impl ApiKeyStore for SqliteStore {
    async fn create_api_key(&self, new: NewApiKey) -> Result<CreatedApiKey> {
        if new
            .scopes
            .iter()
            .any(|s| s.is_empty() || s.contains(char::is_whitespace))
        {
            return Err(StoreError::Config(
                "a scope is empty or contains whitespace".into(),
            ));
        }
        let secret = keys::generate_key();
        let id = uuid::Uuid::new_v4().to_string();
        let (prefix, hash) = (keys::display_prefix(&secret), keys::hash_key(&secret));
        let row: KeyRow = self
            .with_conn(move |c| {
                Ok(diesel::sql_query(format!(
                    "INSERT INTO api_keys (id, name, key_prefix, key_hash, scopes, created_at,
                                           expires_at)
                     VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING {KEY_COLUMNS}"
                ))
                .bind::<Text, _>(&id)
                .bind::<Text, _>(&new.name)
                .bind::<Text, _>(&prefix)
                .bind::<Binary, _>(&hash)
                .bind::<Text, _>(new.scopes.join(" "))
                .bind::<BigInt, _>(now_us())
                .bind::<Nullable<BigInt>, _>(new.expires_at.map(us))
                .get_result(c)?)
            })
            .await?;
        Ok(CreatedApiKey {
            info: row.into(),
            secret,
        })
    }

    async fn list_api_keys(&self) -> Result<Vec<ApiKeyInfo>> {
        let rows: Vec<KeyRow> = self
            .with_conn(|c| {
                Ok(diesel::sql_query(format!(
                    "SELECT {KEY_COLUMNS} FROM api_keys ORDER BY created_at DESC, id"
                ))
                .load(c)?)
            })
            .await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    async fn revoke_api_key(&self, id: &str) -> Result<bool> {
        let id = id.to_owned();
        self.with_conn(move |c| {
            let n = diesel::sql_query(
                "UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
            )
            .bind::<BigInt, _>(now_us())
            .bind::<Text, _>(&id)
            .execute(c)?;
            Ok(n > 0)
        })
        .await
    }

    async fn verify_api_key(&self, key: &ApiKeySecret) -> Result<Option<VerifiedKey>> {
        let hash = keys::hash_key(key);
        self.with_conn(move |c| {
            let now = now_us();
            let rows: Vec<VerifyRow> = diesel::sql_query(
                "SELECT id, key_hash, scopes, last_used_at FROM api_keys
                 WHERE key_hash = ? AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?)",
            )
            .bind::<Binary, _>(&hash)
            .bind::<BigInt, _>(now)
            .load(c)?;
            let Some(row) = rows
                .into_iter()
                .find(|r| keys::hashes_equal(&r.key_hash, &hash))
            else {
                return Ok(None);
            };
            if row.last_used_at.is_none_or(|t| t < now - 60_000_000) {
                diesel::sql_query("UPDATE api_keys SET last_used_at = ? WHERE id = ?")
                    .bind::<BigInt, _>(now)
                    .bind::<Text, _>(&row.id)
                    .execute(c)?;
            }
            Ok(Some(VerifiedKey {
                id: row.id,
                scopes: split_scopes(&row.scopes),
            }))
        })
        .await
    }
}

#[derive(QueryableByName)]
struct AuditRow {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = BigInt)]
    at: i64,
    #[diesel(sql_type = Text)]
    actor: String,
    #[diesel(sql_type = Text)]
    action: String,
    #[diesel(sql_type = Nullable<Text>)]
    target: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    detail: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    request_id: Option<String>,
}

#[derive(QueryableByName)]
struct IdRow {
    #[diesel(sql_type = BigInt)]
    id: i64,
}

#[async_trait]
impl AuditLog for SqliteStore {
    async fn append_audit(&self, entry: NewAuditEntry) -> Result<i64> {
        let detail = entry.detail.as_ref().map(|d| d.to_string());
        let row: IdRow = self
            .with_conn(move |c| {
                Ok(diesel::sql_query(
                    "INSERT INTO audit_log (at, actor, action, target, detail, request_id)
                     VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
                )
                .bind::<BigInt, _>(now_us())
                .bind::<Text, _>(&entry.actor)
                .bind::<Text, _>(&entry.action)
                .bind::<Nullable<Text>, _>(&entry.target)
                .bind::<Nullable<Text>, _>(&detail)
                .bind::<Nullable<Text>, _>(&entry.request_id)
                .get_result(c)?)
            })
            .await?;
        Ok(row.id)
    }

    async fn list_audit(&self, limit: i64, before_id: Option<i64>) -> Result<Vec<AuditEntry>> {
        let rows: Vec<AuditRow> = self
            .with_conn(move |c| {
                Ok(diesel::sql_query(
                    "SELECT id, at, actor, action, target, detail, request_id FROM audit_log
                     WHERE id < ? ORDER BY id DESC LIMIT ?",
                )
                .bind::<BigInt, _>(before_id.unwrap_or(i64::MAX))
                .bind::<BigInt, _>(limit)
                .load(c)?)
            })
            .await?;
        rows.into_iter()
            .map(|r| {
                let detail = r
                    .detail
                    .map(|d| serde_json::from_str(&d))
                    .transpose()
                    .map_err(|e| StoreError::Corrupt(format!("audit detail: {e}")))?;
                Ok(AuditEntry {
                    id: r.id,
                    at: from_us(r.at),
                    entry: NewAuditEntry {
                        actor: r.actor,
                        action: r.action,
                        target: r.target,
                        detail,
                        request_id: r.request_id,
                    },
                })
            })
            .collect()
    }
}

// ------------------------------------------------------------------------------------------------
// retention
// ------------------------------------------------------------------------------------------------

#[async_trait]
impl Retention for SqliteStore {
    async fn run_retention(
        &self,
        policy: &RetentionPolicy,
        now: OffsetDateTime,
    ) -> Result<RetentionReport> {
        // No recomputation: the rollups already count every result (migration 4's trigger), and
        // recomputing an hour whose first results an earlier run deleted would undercount it.
        crate::retention::run(policy, now, false, |sql, cutoff, batch| {
            self.with_conn(move |c| {
                Ok(diesel::sql_query(sql)
                    .bind::<BigInt, _>(us(cutoff))
                    .bind::<BigInt, _>(batch)
                    .execute(c)? as u64)
            })
        })
        .await
    }
}
