//! The admin domain: what belongs to the store itself and to an HTTP admin layer — API keys,
//! the audit log, retention and health — on both backends.
//!
//! Domain crates (probe, webhooks, breaker) define the storage traits they need and the store
//! implements them in its `probe`, `webhooks` and `breaker` modules; the records and traits here
//! are the store's own. Each statement is written once (`sql.rs` builds it for a `Dialect`, and
//! one macro, `admin_ops!`, binds and runs it on either backend's connection); `pg.rs` and
//! `sqlite.rs` only hand the operations a connection.

mod cache;
pub mod keys;

pub use cache::{KeyCache, KEY_CACHE_TTL};
#[cfg(feature = "postgres")]
mod pg;
#[cfg(any(feature = "postgres", feature = "sqlite"))]
pub(crate) mod retention;
#[cfg(any(feature = "postgres", feature = "sqlite"))]
pub(crate) mod sql;
#[cfg(feature = "sqlite")]
mod sqlite;

#[cfg(feature = "postgres")]
pub(crate) use pg::ping as pg_ping;
#[cfg(feature = "sqlite")]
pub(crate) use sqlite::ping as sqlite_ping;

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::error::{Result, StoreError};

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

/// The scopes of a new key as stored, the same on every backend: each one trimmed, duplicates
/// dropped (the first kept, order kept). A scope that is empty (after trimming) or has
/// whitespace inside is refused with [`StoreError::Invalid`]: scopes are single words such as
/// `monitoring:read`.
pub fn normalize_scopes(scopes: &[String]) -> Result<Vec<String>> {
    let mut out: Vec<String> = Vec::with_capacity(scopes.len());
    for scope in scopes {
        let s = scope.trim();
        if s.is_empty() || s.contains(char::is_whitespace) {
            return Err(StoreError::Invalid(format!(
                "API key scope {scope:?} is empty or contains whitespace"
            )));
        }
        if !out.iter().any(|o| o == s) {
            out.push(s.to_owned());
        }
    }
    Ok(out)
}

/// API keys, stored as SHA-256 hashes. The key format and the constant-time comparison live in
/// [`keys`]; this is everything an HTTP admin layer needs: create with scopes, verify (returning
/// the scopes), list without secrets, revoke.
#[async_trait]
pub trait ApiKeyStore: Send + Sync {
    /// Creates a key; the plaintext is in the result and is not stored. Scopes go through
    /// [`normalize_scopes`] (trimmed, deduplicated; empty or inner whitespace is
    /// [`StoreError::Invalid`]).
    async fn create_api_key(&self, new: NewApiKey) -> Result<CreatedApiKey>;
    /// All keys, newest first, without secrets.
    async fn list_api_keys(&self) -> Result<Vec<ApiKeyInfo>>;
    /// Revokes a key; `false` when no such unrevoked key exists.
    async fn revoke_api_key(&self, id: &str) -> Result<bool>;
    /// Checks a presented key: `Some` when it exists, is not revoked and has not expired.
    async fn verify_api_key(&self, key: &ApiKeySecret) -> Result<Option<VerifiedKey>>;
    /// The key with this id when it is live (exists, not revoked, not expired), like
    /// [`verify_api_key`](Self::verify_api_key) but by id: what a session started from a key
    /// re-checks on each request. One indexed read; it does not record a use.
    async fn live_api_key(&self, id: &str) -> Result<Option<VerifiedKey>>;
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
    /// Entries newest first, at most `limit` (a negative limit is read as 0), only those with an
    /// id below `before_id` if given.
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

/// What a health `ping` bounded by `timeout` gave: `None` when it answered OK, else why not.
#[cfg(any(feature = "postgres", feature = "sqlite"))]
pub(crate) async fn ping_error<E: fmt::Display>(
    timeout: Duration,
    ping: impl std::future::Future<Output = std::result::Result<(), E>>,
) -> Option<String> {
    match tokio::time::timeout(timeout, ping).await {
        Ok(Ok(())) => None,
        Ok(Err(e)) => Some(e.to_string()),
        Err(_) => Some(format!("no answer within {timeout:?}")),
    }
}

/// The names of the migration versions a harness applied or reverted.
#[cfg(any(feature = "postgres", feature = "sqlite"))]
pub(crate) fn migration_names(
    versions: Vec<diesel::migration::MigrationVersion<'_>>,
) -> Vec<String> {
    versions.iter().map(ToString::to_string).collect()
}

/// Health check.
#[async_trait]
pub trait StoreHealthCheck: Send + Sync {
    /// Runs `SELECT 1` with a bound of `timeout`; never fails, reports instead.
    async fn health(&self, timeout: Duration) -> StoreHealth;
}
