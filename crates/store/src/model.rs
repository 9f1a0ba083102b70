//! The store's own records and traits, implemented by both backends.
//!
//! Domain crates (probe, webhooks, breaker) define the storage traits they need; the records and
//! traits here cover what belongs to the store itself and to the server: API keys, the audit log,
//! probe-result history with its overview query, rollups, retention and health. (Webhook
//! deliveries and their queue are `wedsync_webhooks::store::WebhookStore`, feature `webhooks`.)

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::error::Result;

// ------------------------------------------------------------------------------------------------
// probe results and the overview
// ------------------------------------------------------------------------------------------------

/// A service's health as one probe saw it (the same words as `wedsync_probe::ProbeStatus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HealthStatus {
    /// Answered correctly and in time.
    Healthy,
    /// Answered, but slowly or partly.
    Degraded,
    /// Did not answer correctly (timeout, connect error, 5xx).
    Unhealthy,
    /// Our credentials or configuration were refused (401/403); not a provider outage.
    AuthFailed,
    /// The provider asked us to slow down (429); not a provider outage.
    RateLimited,
    /// Not known (the monitor itself could not reach the network).
    Unknown,
}

impl HealthStatus {
    /// The stored text.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Healthy => "healthy",
            Self::Degraded => "degraded",
            Self::Unhealthy => "unhealthy",
            Self::AuthFailed => "auth_failed",
            Self::RateLimited => "rate_limited",
            Self::Unknown => "unknown",
        }
    }

    /// Parses the stored text.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "healthy" => Self::Healthy,
            "degraded" => Self::Degraded,
            "unhealthy" => Self::Unhealthy,
            "auth_failed" => Self::AuthFailed,
            "rate_limited" => Self::RateLimited,
            "unknown" => Self::Unknown,
            _ => return None,
        })
    }

    /// Whether this counts as "up" for uptime (healthy or degraded).
    pub fn is_up(self) -> bool {
        matches!(self, Self::Healthy | Self::Degraded)
    }
}

impl fmt::Display for HealthStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One probe result (a row of `service_health_metrics`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeRecord {
    /// The service probed, e.g. `stripe`.
    pub service: String,
    /// What the probe saw.
    pub status: HealthStatus,
    /// Round-trip time in milliseconds, when the probe got that far.
    pub latency_ms: Option<i32>,
    /// The HTTP status the provider answered with.
    pub http_status: Option<i32>,
    /// A short, already sanitised detail.
    pub detail: Option<String>,
    /// When the probe ran.
    pub checked_at: OffsetDateTime,
}

/// One row of the services overview: a service's latest result and its 24-hour uptime.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceOverview {
    /// The service.
    pub service: String,
    /// Its latest result.
    pub latest: ProbeRecord,
    /// Probe results in the 24 hours before the query's `now`.
    pub checks_24h: i64,
    /// Of those, how many were up (healthy or degraded).
    pub up_24h: i64,
}

impl ServiceOverview {
    /// Uptime over the last 24 hours in `0.0..=1.0`, `None` without results in that window.
    pub fn uptime_24h(&self) -> Option<f64> {
        (self.checks_24h > 0).then(|| self.up_24h as f64 / self.checks_24h as f64)
    }
}

/// Hourly or daily aggregate of one service's probe results.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rollup {
    /// The service.
    pub service: String,
    /// Start of the hour or day (UTC).
    pub bucket: OffsetDateTime,
    /// Results in the bucket.
    pub checks: i64,
    /// Healthy results.
    pub healthy: i64,
    /// Degraded results.
    pub degraded: i64,
    /// Unhealthy results (column `down`).
    pub down: i64,
    /// Sum of latencies (ms) of results that had one; divide by `checks` for a mean.
    pub latency_sum_ms: i64,
    /// Highest latency in the bucket.
    pub latency_max_ms: Option<i32>,
}

/// Rollup granularity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RollupPeriod {
    /// `service_health_rollups_hourly`.
    Hourly,
    /// `service_health_rollups_daily`.
    Daily,
}

/// Probe-result history: recording, the overview, rollups.
#[async_trait]
pub trait MetricsStore: Send + Sync {
    /// Records probe results in one round trip.
    async fn record_probe_results(&self, records: &[ProbeRecord]) -> Result<()>;

    /// Every service with its latest result and 24-hour uptime, in one query (no N+1), ordered
    /// by service name.
    async fn services_overview(&self, now: OffsetDateTime) -> Result<Vec<ServiceOverview>>;

    /// A service's results in `[from, to)`, newest first, at most `limit`.
    async fn probe_history(
        &self,
        service: &str,
        from: OffsetDateTime,
        to: OffsetDateTime,
        limit: i64,
    ) -> Result<Vec<ProbeRecord>>;

    /// (Re)computes the hourly rollups of the hours that overlap `[from, to)` and the daily
    /// rollups of the days that overlap it. Idempotent: run it again and the rows are the same.
    async fn compute_rollups(&self, from: OffsetDateTime, to: OffsetDateTime) -> Result<()>;

    /// Rollups of a service in `[from, to)`, oldest first.
    async fn rollups(
        &self,
        service: &str,
        period: RollupPeriod,
        from: OffsetDateTime,
        to: OffsetDateTime,
    ) -> Result<Vec<Rollup>>;
}

// ------------------------------------------------------------------------------------------------
// API keys and the audit log
// ------------------------------------------------------------------------------------------------

/// A plaintext API key. Shown to its creator once; `Debug` and `Display` print a mask.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKeySecret(String);

impl ApiKeySecret {
    /// Wraps a key received from a client.
    pub fn new(key: impl Into<String>) -> Self {
        Self(key.into())
    }

    /// The key itself, to hand to its creator once.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKeySecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKeySecret(***)")
    }
}

impl fmt::Display for ApiKeySecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// What to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewApiKey {
    /// A human name ("grafana", "on-call laptop").
    pub name: String,
    /// Scopes, e.g. `monitoring:read`, `monitoring:admin`.
    pub scopes: Vec<String>,
    /// When the key stops working, if ever.
    pub expires_at: Option<OffsetDateTime>,
}

/// A stored API key, without its secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyInfo {
    /// Stable id (a UUID).
    pub id: String,
    /// The human name.
    pub name: String,
    /// The key's first characters (`wsk_` + 8), enough to recognise it, useless to an attacker.
    pub prefix: String,
    /// Granted scopes.
    pub scopes: Vec<String>,
    /// Creation time.
    pub created_at: OffsetDateTime,
    /// Expiry.
    pub expires_at: Option<OffsetDateTime>,
    /// Revocation time; a revoked key never verifies again.
    pub revoked_at: Option<OffsetDateTime>,
    /// Last successful verification (updated at most once a minute).
    pub last_used_at: Option<OffsetDateTime>,
}

/// A freshly created key: the plaintext is returned here and never again.
#[derive(Debug, Clone)]
pub struct CreatedApiKey {
    /// The stored record.
    pub info: ApiKeyInfo,
    /// The plaintext key.
    pub secret: ApiKeySecret,
}

/// A key that verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedKey {
    /// The key's id.
    pub id: String,
    /// Its scopes.
    pub scopes: Vec<String>,
}

impl VerifiedKey {
    /// Whether the key holds `scope`.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }
}

/// API keys, stored as SHA-256 hashes.
#[async_trait]
pub trait ApiKeyStore: Send + Sync {
    /// Creates a key; the plaintext is in the result and is not stored.
    async fn create_api_key(&self, new: NewApiKey) -> Result<CreatedApiKey>;
    /// All keys, newest first, without secrets.
    async fn list_api_keys(&self) -> Result<Vec<ApiKeyInfo>>;
    /// Revokes a key; `false` when no such unrevoked key exists.
    async fn revoke_api_key(&self, id: &str) -> Result<bool>;
    /// Checks a presented key: `Some` when it exists, is not revoked and has not expired.
    async fn verify_api_key(&self, key: &ApiKeySecret) -> Result<Option<VerifiedKey>>;
}

/// An audit-log entry to append.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAuditEntry {
    /// Who did it (an API key id, a user, `system`).
    pub actor: String,
    /// What was done, e.g. `api_key.create`, `breaker.force_open`.
    pub action: String,
    /// What it was done to.
    pub target: Option<String>,
    /// Extra structured detail (already redacted).
    pub detail: Option<serde_json::Value>,
    /// The request that did it.
    pub request_id: Option<String>,
}

/// A stored audit-log entry.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    /// Increasing id.
    pub id: i64,
    /// When it was appended.
    pub at: OffsetDateTime,
    /// The appended entry.
    pub entry: NewAuditEntry,
}

/// The append-only audit log.
#[async_trait]
pub trait AuditLog: Send + Sync {
    /// Appends an entry, returning its id.
    async fn append_audit(&self, entry: NewAuditEntry) -> Result<i64>;
    /// Entries newest first, at most `limit`, only those with an id below `before_id` if given.
    async fn list_audit(&self, limit: i64, before_id: Option<i64>) -> Result<Vec<AuditEntry>>;
}

// ------------------------------------------------------------------------------------------------
// retention and health
// ------------------------------------------------------------------------------------------------

/// How long each kind of data is kept (GDPR), and how big one delete batch is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetentionPolicy {
    /// Raw webhook bodies (the body column is cleared; the sanitised record stays). Default 7 days.
    pub raw_webhook_bodies: Duration,
    /// Sanitised webhook logs and their attempts, resolved incidents and sent notifications.
    /// Default 90 days.
    pub sanitized_logs: Duration,
    /// The audit log. Default 365 days.
    pub audit_log: Duration,
    /// Raw probe results. Default 30 days.
    pub probe_results: Duration,
    /// Hourly and daily rollups. Default 365 days.
    pub rollups: Duration,
    /// Rows per delete statement; each batch is its own short transaction. Default 1000.
    pub batch_size: i64,
    /// Upper bound of batches per table and run, so one run never takes long. Default 1000.
    pub max_batches: u32,
}

impl Default for RetentionPolicy {
    fn default() -> Self {
        const DAY: u64 = 24 * 3600;
        Self {
            raw_webhook_bodies: Duration::from_secs(7 * DAY),
            sanitized_logs: Duration::from_secs(90 * DAY),
            audit_log: Duration::from_secs(365 * DAY),
            probe_results: Duration::from_secs(30 * DAY),
            rollups: Duration::from_secs(365 * DAY),
            batch_size: 1000,
            max_batches: 1000,
        }
    }
}

/// What one retention run removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RetentionReport {
    /// Raw webhook bodies cleared.
    pub raw_bodies_cleared: u64,
    /// Webhook deliveries deleted (their attempts went with them).
    pub deliveries_deleted: u64,
    /// Probe results deleted.
    pub probe_results_deleted: u64,
    /// Rollup rows deleted.
    pub rollups_deleted: u64,
    /// Resolved incidents, sent notifications and audit entries deleted.
    pub other_deleted: u64,
    /// Whether a table hit `max_batches` (more is left for the next run).
    pub incomplete: bool,
}

/// Retention cleanup.
#[async_trait]
pub trait Retention: Send + Sync {
    /// Deletes what `policy` says is too old at `now`, in bounded batches.
    async fn run_retention(
        &self,
        policy: &RetentionPolicy,
        now: OffsetDateTime,
    ) -> Result<RetentionReport>;
}

/// The store's health, for `/readyz`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreHealth {
    /// `postgres` or `sqlite`.
    pub backend: &'static str,
    /// Whether a trivial query succeeded within the timeout.
    pub ok: bool,
    /// How long it took.
    pub latency: Duration,
    /// Why it failed (no secrets).
    pub error: Option<String>,
    /// Open connections in the pool.
    pub pool_size: usize,
    /// Idle connections in the pool.
    pub pool_available: usize,
    /// The pool's maximum size.
    pub pool_max: usize,
}

/// Health check.
#[async_trait]
pub trait StoreHealthCheck: Send + Sync {
    /// Runs `SELECT 1` with a bound of `timeout`; never fails, reports instead.
    async fn health(&self, timeout: Duration) -> StoreHealth;
}
