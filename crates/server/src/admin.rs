//! API keys (stored hashed, with scopes) and the audit log of admin actions.
//!
//! [`AdminStore`] is the small port the server needs; [`MemoryAdminStore`] implements it in memory
//! and the store adapters implement it on SQLite and PostgreSQL.

use std::fmt;
use std::sync::Mutex;

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
    /// Stores a new key record.
    async fn insert_key(&self, record: &ApiKeyRecord) -> Result<(), AdminStoreError>;
    /// Every key, revoked ones included, oldest first.
    async fn list_keys(&self) -> Result<Vec<ApiKeyRecord>, AdminStoreError>;
    /// Revokes a key; `false` when no key has that id.
    async fn revoke_key(&self, id: &str) -> Result<bool, AdminStoreError>;
    /// Looks a key up by its hash.
    async fn key_by_hash(&self, hash: &str) -> Result<Option<ApiKeyRecord>, AdminStoreError>;
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

#[async_trait]
impl AdminStore for MemoryAdminStore {
    async fn insert_key(&self, record: &ApiKeyRecord) -> Result<(), AdminStoreError> {
        self.keys
            .lock()
            .map_err(|_| AdminStoreError("poisoned".into()))?
            .push(record.clone());
        Ok(())
    }

    async fn list_keys(&self) -> Result<Vec<ApiKeyRecord>, AdminStoreError> {
        Ok(self
            .keys
            .lock()
            .map_err(|_| AdminStoreError("poisoned".into()))?
            .clone())
    }

    async fn revoke_key(&self, id: &str) -> Result<bool, AdminStoreError> {
        let mut keys = self
            .keys
            .lock()
            .map_err(|_| AdminStoreError("poisoned".into()))?;
        match keys.iter_mut().find(|k| k.id == id) {
            Some(k) => {
                k.revoked_at.get_or_insert_with(OffsetDateTime::now_utc);
                Ok(true)
            }
            None => Ok(false),
        }
    }

    async fn key_by_hash(&self, hash: &str) -> Result<Option<ApiKeyRecord>, AdminStoreError> {
        Ok(self
            .keys
            .lock()
            .map_err(|_| AdminStoreError("poisoned".into()))?
            .iter()
            .find(|k| k.hash == hash)
            .cloned())
    }

    async fn audit(&self, entry: &AuditEntry) -> Result<(), AdminStoreError> {
        self.audit
            .lock()
            .map_err(|_| AdminStoreError("poisoned".into()))?
            .push(entry.clone());
        Ok(())
    }

    async fn recent_audit(&self, limit: usize) -> Result<Vec<AuditEntry>, AdminStoreError> {
        let a = self
            .audit
            .lock()
            .map_err(|_| AdminStoreError("poisoned".into()))?;
        Ok(a.iter().rev().take(limit).cloned().collect())
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
        let k = generate_key("ops", &[Scope::Read]);
        store.insert_key(&k.record).await.unwrap();
        assert!(store
            .key_by_hash(&hash_key(&k.key))
            .await
            .unwrap()
            .is_some());
        assert!(store.revoke_key(&k.record.id).await.unwrap());
        assert!(!store.revoke_key("key_missing").await.unwrap());
        let got = store.key_by_hash(&k.record.hash).await.unwrap().unwrap();
        assert!(got.revoked_at.is_some());
    }
}
