//! API keys (stored hashed, with scopes) and the audit log of admin actions.
//!
//! [`AdminStore`] is the small port the server needs; [`MemoryAdminStore`] implements it in memory
//! and the store adapters implement it on SQLite and PostgreSQL.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use serde::Serialize;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

/// A permission an API key carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Scope {
    /// `monitoring:read`: read health, webhook statistics and failures.
    #[serde(rename = "monitoring:read")]
    Read,
    /// `monitoring:admin`: run probes, reset breakers, replay webhooks (implies read).
    #[serde(rename = "monitoring:admin")]
    Admin,
}

impl Scope {
    /// The scope's wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "monitoring:read",
            Scope::Admin => "monitoring:admin",
        }
    }

    /// Parses `monitoring:read` or `monitoring:admin`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "monitoring:read" => Some(Scope::Read),
            "monitoring:admin" => Some(Scope::Admin),
            _ => None,
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A stored API key (never the key itself: only its SHA-256).
#[derive(Debug, Clone, Serialize)]
pub struct ApiKeyRecord {
    /// Public identifier (`key_…`), used in the audit log and to revoke.
    pub id: String,
    /// Human name given at creation.
    pub name: String,
    /// Granted scopes.
    pub scopes: Vec<Scope>,
    /// The first characters of the key, to recognise it (`wsm_1a2b…`).
    pub prefix: String,
    /// Hex SHA-256 of the key.
    #[serde(skip)]
    pub hash: String,
    /// Creation time.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Revocation time, when revoked.
    #[serde(with = "time::serde::rfc3339::option")]
    pub revoked_at: Option<OffsetDateTime>,
}

impl ApiKeyRecord {
    /// Whether the key grants `scope` (`monitoring:admin` implies `monitoring:read`).
    pub fn allows(&self, scope: Scope) -> bool {
        self.scopes.contains(&scope)
            || (scope == Scope::Read && self.scopes.contains(&Scope::Admin))
    }
}

/// A freshly generated API key: shown once, then only its hash is kept.
pub struct NewApiKey {
    /// The key to hand to the user.
    pub key: String,
    /// The record to store.
    pub record: ApiKeyRecord,
}

impl fmt::Debug for NewApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewApiKey")
            .field("key", &"wsm_***")
            .field("record", &self.record)
            .finish()
    }
}

/// Hex SHA-256 of an API key, as stored.
pub fn hash_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// Generates a new random key (`wsm_` + 48 hex digits from the OS CSPRNG) and its record.
pub fn generate_key(name: &str, scopes: &[Scope]) -> NewApiKey {
    let a = uuid::Uuid::new_v4();
    let b = uuid::Uuid::new_v4();
    let mut raw = Vec::with_capacity(24);
    raw.extend_from_slice(a.as_bytes());
    raw.extend_from_slice(&b.as_bytes()[..8]);
    let key = format!("wsm_{}", hex::encode(raw));
    let mut scopes = scopes.to_vec();
    scopes.sort();
    scopes.dedup();
    let record = ApiKeyRecord {
        id: format!("key_{}", &uuid::Uuid::new_v4().simple().to_string()[..16]),
        name: name.to_string(),
        scopes,
        prefix: key[..8].to_string(),
        hash: hash_key(&key),
        created_at: OffsetDateTime::now_utc(),
        revoked_at: None,
    };
    NewApiKey { key, record }
}

/// One audit-log entry: who did what to which target, with what result, when.
#[derive(Debug, Clone, Serialize)]
pub struct AuditEntry {
    /// The API key that acted.
    pub key_id: String,
    /// The action, e.g. `probe.run`, `breaker.reset`, `webhook.replay`.
    pub action: String,
    /// The target (service name, delivery id, …).
    pub target: String,
    /// The result (`ok`, `not_found`, an error code).
    pub result: String,
    /// When it happened.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
}

/// An error from the admin store.
#[derive(Debug, thiserror::Error)]
#[error("admin store: {0}")]
pub struct AdminStoreError(pub String);

/// Storage for API keys and the audit log.
#[async_trait]
pub trait AdminStore: Send + Sync + 'static {
    /// Creates a key; the plaintext is in the result, only its hash is kept.
    async fn create_key(&self, name: &str, scopes: &[Scope]) -> Result<NewApiKey, AdminStoreError>;
    /// Every key, revoked ones included, oldest first.
    async fn list_keys(&self) -> Result<Vec<ApiKeyRecord>, AdminStoreError>;
    /// Revokes a key; `false` when no key has that id.
    async fn revoke_key(&self, id: &str) -> Result<bool, AdminStoreError>;
    /// The key's record when `key` is a known key (a revoked key may be returned with
    /// `revoked_at` set, or not at all).
    async fn verify_key(&self, key: &str) -> Result<Option<ApiKeyRecord>, AdminStoreError>;
    /// Appends to the audit log.
    async fn audit(&self, entry: &AuditEntry) -> Result<(), AdminStoreError>;
    /// The most recent audit entries, newest first.
    async fn recent_audit(&self, limit: usize) -> Result<Vec<AuditEntry>, AdminStoreError>;
}

/// An in-memory [`AdminStore`] (tests, embedding).
#[derive(Debug, Default)]
pub struct MemoryAdminStore {
    keys: Mutex<Vec<ApiKeyRecord>>,
    audit: Mutex<Vec<AuditEntry>>,
}

fn poisoned<T>(_: T) -> AdminStoreError {
    AdminStoreError("poisoned".into())
}

#[async_trait]
impl AdminStore for MemoryAdminStore {
    async fn create_key(&self, name: &str, scopes: &[Scope]) -> Result<NewApiKey, AdminStoreError> {
        let new = generate_key(name, scopes);
        self.keys.lock().map_err(poisoned)?.push(new.record.clone());
        Ok(new)
    }

    async fn list_keys(&self) -> Result<Vec<ApiKeyRecord>, AdminStoreError> {
        Ok(self.keys.lock().map_err(poisoned)?.clone())
    }

    async fn revoke_key(&self, id: &str) -> Result<bool, AdminStoreError> {
        let mut keys = self.keys.lock().map_err(poisoned)?;
        match keys.iter_mut().find(|k| k.id == id) {
            Some(k) => {
                k.revoked_at.get_or_insert_with(OffsetDateTime::now_utc);
                Ok(true)
            }
            None => Ok(false),
        }
    }

    async fn verify_key(&self, key: &str) -> Result<Option<ApiKeyRecord>, AdminStoreError> {
        let hash = hash_key(key);
        Ok(self
            .keys
            .lock()
            .map_err(poisoned)?
            .iter()
            .find(|k| k.hash == hash)
            .cloned())
    }

    async fn audit(&self, entry: &AuditEntry) -> Result<(), AdminStoreError> {
        self.audit.lock().map_err(poisoned)?.push(entry.clone());
        Ok(())
    }

    async fn recent_audit(&self, limit: usize) -> Result<Vec<AuditEntry>, AdminStoreError> {
        let a = self.audit.lock().map_err(poisoned)?;
        Ok(a.iter().rev().take(limit).cloned().collect())
    }
}

/// [`AdminStore`] on `wedsync-store` (SQLite or PostgreSQL): keys in its API-key table, admin
/// actions in its audit log.
///
/// Verified keys are remembered for [`KEY_CACHE_TTL`] (keyed by the key's SHA-256), so the health
/// route does not pay a store round trip per request; a revocation through this process clears the
/// cache at once, one through another instance takes effect here within the TTL.
pub struct StoreAdmin<S> {
    store: Arc<S>,
    verified: std::sync::Mutex<std::collections::HashMap<KeyDigest, (ApiKeyRecord, Instant)>>,
}

/// A key's SHA-256, the verified-key cache's index (the raw digest: no hex per request).
type KeyDigest = [u8; 32];

/// How long a verified API key is trusted without asking the store again.
pub const KEY_CACHE_TTL: Duration = Duration::from_secs(1);

/// Verified keys remembered at most (the cache is emptied beyond).
const KEY_CACHE_MAX: usize = 10_000;

impl<S> StoreAdmin<S> {
    /// Wraps a store.
    pub fn new(store: Arc<S>) -> Self {
        Self {
            store,
            verified: std::sync::Mutex::new(std::collections::HashMap::new()),
        }
    }

    fn cache(
        &self,
    ) -> std::sync::MutexGuard<'_, std::collections::HashMap<KeyDigest, (ApiKeyRecord, Instant)>>
    {
        self.verified.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl<S> fmt::Debug for StoreAdmin<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoreAdmin").finish_non_exhaustive()
    }
}

fn store_err(e: wedsync_store::StoreError) -> AdminStoreError {
    AdminStoreError(e.to_string())
}

fn record_of(info: wedsync_store::ApiKeyInfo) -> ApiKeyRecord {
    ApiKeyRecord {
        id: info.id,
        name: info.name,
        scopes: info.scopes.iter().filter_map(|s| Scope::parse(s)).collect(),
        prefix: info.prefix,
        hash: String::new(),
        created_at: info.created_at,
        revoked_at: info.revoked_at,
    }
}

#[async_trait]
impl<S> AdminStore for StoreAdmin<S>
where
    S: wedsync_store::ApiKeyStore + wedsync_store::AuditLog + Send + Sync + 'static,
{
    async fn create_key(&self, name: &str, scopes: &[Scope]) -> Result<NewApiKey, AdminStoreError> {
        let created = self
            .store
            .create_api_key(wedsync_store::NewApiKey {
                name: name.to_string(),
                scopes: scopes.iter().map(|s| s.as_str().to_string()).collect(),
                expires_at: None,
            })
            .await
            .map_err(store_err)?;
        Ok(NewApiKey {
            key: created.secret.expose().to_string(),
            record: record_of(created.info),
        })
    }

    async fn list_keys(&self) -> Result<Vec<ApiKeyRecord>, AdminStoreError> {
        Ok(self
            .store
            .list_api_keys()
            .await
            .map_err(store_err)?
            .into_iter()
            .map(record_of)
            .collect())
    }

    async fn revoke_key(&self, id: &str) -> Result<bool, AdminStoreError> {
        let revoked = self.store.revoke_api_key(id).await.map_err(store_err);
        self.cache().clear();
        revoked
    }

    async fn verify_key(&self, key: &str) -> Result<Option<ApiKeyRecord>, AdminStoreError> {
        let digest: KeyDigest = Sha256::digest(key.as_bytes()).into();
        if let Some((rec, at)) = self.cache().get(&digest) {
            if at.elapsed() < KEY_CACHE_TTL {
                return Ok(Some(rec.clone()));
            }
        }
        let v = self
            .store
            .verify_api_key(&wedsync_store::ApiKeySecret::new(key))
            .await
            .map_err(store_err)?;
        let rec = v.map(|v| ApiKeyRecord {
            id: v.id,
            name: String::new(),
            scopes: v.scopes.iter().filter_map(|s| Scope::parse(s)).collect(),
            prefix: String::new(),
            hash: String::new(),
            created_at: OffsetDateTime::now_utc(),
            revoked_at: None,
        });
        let mut cache = self.cache();
        match &rec {
            Some(r) => {
                if cache.len() >= KEY_CACHE_MAX {
                    cache.clear();
                }
                cache.insert(digest, (r.clone(), Instant::now()));
            }
            None => {
                cache.remove(&digest);
            }
        }
        Ok(rec)
    }

    async fn audit(&self, entry: &AuditEntry) -> Result<(), AdminStoreError> {
        self.store
            .append_audit(wedsync_store::NewAuditEntry {
                actor: entry.key_id.clone(),
                action: entry.action.clone(),
                target: Some(entry.target.clone()),
                detail: Some(serde_json::json!({"result": entry.result})),
                request_id: None,
            })
            .await
            .map(|_| ())
            .map_err(store_err)
    }

    async fn recent_audit(&self, limit: usize) -> Result<Vec<AuditEntry>, AdminStoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        Ok(self
            .store
            .list_audit(limit, None)
            .await
            .map_err(store_err)?
            .into_iter()
            .map(|a| AuditEntry {
                key_id: a.entry.actor,
                action: a.entry.action,
                target: a.entry.target.unwrap_or_default(),
                result: a
                    .entry
                    .detail
                    .as_ref()
                    .and_then(|d| d.get("result"))
                    .and_then(|r| r.as_str())
                    .unwrap_or_default()
                    .to_string(),
                at: a.at,
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_random_hashed_and_masked() {
        let a = generate_key("ops", &[Scope::Read]);
        let b = generate_key("ops", &[Scope::Read]);
        assert_ne!(a.key, b.key);
        assert!(a.key.starts_with("wsm_") && a.key.len() == 52);
        assert_eq!(a.record.hash, hash_key(&a.key));
        assert!(!format!("{a:?}").contains(&a.key));
        assert!(!serde_json::to_string(&a.record)
            .unwrap()
            .contains(&a.record.hash));
    }

    #[test]
    fn admin_implies_read_but_not_the_reverse() {
        let admin = generate_key("a", &[Scope::Admin]).record;
        let read = generate_key("r", &[Scope::Read]).record;
        assert!(admin.allows(Scope::Read) && admin.allows(Scope::Admin));
        assert!(read.allows(Scope::Read) && !read.allows(Scope::Admin));
    }

    #[tokio::test]
    async fn memory_store_round_trip() {
        let store = MemoryAdminStore::default();
        let k = store.create_key("ops", &[Scope::Read]).await.unwrap();
        assert!(store.verify_key(&k.key).await.unwrap().is_some());
        assert!(store.verify_key("wsm_nope").await.unwrap().is_none());
        assert!(store.revoke_key(&k.record.id).await.unwrap());
        assert!(!store.revoke_key("key_missing").await.unwrap());
        let got = store.verify_key(&k.key).await.unwrap().unwrap();
        assert!(got.revoked_at.is_some());
    }
}
