//! API keys (stored hashed, with scopes) and the audit log of admin actions.
//!
//! Keys are `wedsync-store`'s (one format, hashed there, compared in constant time there);
//! [`AdminStore`] adds the server's typed [`Scope`]s and a short cache of verified keys on top of
//! any store that implements [`wedsync_store::ApiKeyStore`] and [`wedsync_store::AuditLog`].

use std::fmt;
use std::sync::Arc;

use serde::Serialize;
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

/// A stored API key (never the key itself).
#[derive(Debug, Clone, Serialize)]
pub struct ApiKeyRecord {
    /// Public identifier, used in the audit log and to revoke.
    pub id: String,
    /// Human name given at creation.
    pub name: String,
    /// Granted scopes.
    pub scopes: Vec<Scope>,
    /// The first characters of the key, to recognise it (`wsk_1a2b3c4d`).
    pub prefix: String,
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
        allows(&self.scopes, scope)
    }
}

/// A key that verified: known, unrevoked, unexpired (the store checks all three).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedKey {
    /// The key's id.
    pub id: String,
    /// Its scopes.
    pub scopes: Vec<Scope>,
}

impl VerifiedKey {
    /// Whether the key grants `scope` (`monitoring:admin` implies `monitoring:read`).
    pub fn allows(&self, scope: Scope) -> bool {
        allows(&self.scopes, scope)
    }
}

impl From<ApiKeyRecord> for VerifiedKey {
    fn from(r: ApiKeyRecord) -> Self {
        Self {
            id: r.id,
            scopes: r.scopes,
        }
    }
}

fn allows(scopes: &[Scope], scope: Scope) -> bool {
    scopes.contains(&scope) || (scope == Scope::Read && scopes.contains(&Scope::Admin))
}

/// A freshly created API key: shown once, then only its hash is kept (by the store).
pub struct NewApiKey {
    /// The key to hand to the user.
    pub key: String,
    /// The stored record.
    pub record: ApiKeyRecord,
}

impl fmt::Debug for NewApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewApiKey")
            .field("key", &"wsk_***")
            .field("record", &self.record)
            .finish()
    }
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

/// Whatever keeps API keys and the audit log: SQLite or PostgreSQL from `wedsync-store`.
pub trait AdminBackend: wedsync_store::ApiKeyStore + wedsync_store::AuditLog + 'static {}

impl<S: wedsync_store::ApiKeyStore + wedsync_store::AuditLog + 'static> AdminBackend for S {}

/// API keys and the audit log on `wedsync-store` (SQLite or PostgreSQL), with typed scopes;
/// verified keys are remembered by the store's [`KeyCache`] for [`KEY_CACHE_TTL`].
pub struct AdminStore {
    keys: KeyCache<dyn AdminBackend>,
}

pub use wedsync_store::KEY_CACHE_TTL;
use wedsync_store::{ApiKeyStore as _, KeyCache};

impl AdminStore {
    /// Wraps a store.
    pub fn new(store: Arc<dyn AdminBackend>) -> Self {
        Self {
            keys: KeyCache::new(store),
        }
    }
}

impl fmt::Debug for AdminStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AdminStore").finish_non_exhaustive()
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
        created_at: info.created_at,
        revoked_at: info.revoked_at,
    }
}

impl AdminStore {
    /// Creates a key; the plaintext is in the result, only its hash is kept.
    pub async fn create_key(
        &self,
        name: &str,
        scopes: &[Scope],
    ) -> Result<NewApiKey, AdminStoreError> {
        let created = self
            .keys
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

    /// Every key, revoked ones included, without secrets.
    pub async fn list_keys(&self) -> Result<Vec<ApiKeyRecord>, AdminStoreError> {
        Ok(self
            .keys
            .list_api_keys()
            .await
            .map_err(store_err)?
            .into_iter()
            .map(record_of)
            .collect())
    }

    /// Revokes a key; `false` when no unrevoked key has that id.
    pub async fn revoke_key(&self, id: &str) -> Result<bool, AdminStoreError> {
        self.keys.revoke_api_key(id).await.map_err(store_err)
    }

    /// The key when `key` is valid (known, unrevoked, unexpired).
    pub async fn verify_key(&self, key: &str) -> Result<Option<VerifiedKey>, AdminStoreError> {
        let key = wedsync_store::ApiKeySecret::new(key);
        let verified = self.keys.verify_api_key(&key).await.map_err(store_err)?;
        Ok(verified.map(|v| VerifiedKey {
            id: v.id,
            scopes: v.scopes.iter().filter_map(|s| Scope::parse(s)).collect(),
        }))
    }

    /// Appends to the audit log.
    pub async fn audit(&self, entry: &AuditEntry) -> Result<(), AdminStoreError> {
        self.keys
            .store()
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

    /// The most recent audit entries, newest first.
    pub async fn recent_audit(&self, limit: usize) -> Result<Vec<AuditEntry>, AdminStoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        Ok(self
            .keys
            .store()
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

    async fn admin() -> AdminStore {
        AdminStore::new(Arc::new(
            wedsync_store::SqliteStore::open_in_memory().await.unwrap(),
        ))
    }

    #[tokio::test]
    async fn keys_are_the_stores_and_never_printed() {
        let admin = admin().await;
        let a = admin.create_key("ops", &[Scope::Read]).await.unwrap();
        let b = admin.create_key("ops", &[Scope::Read]).await.unwrap();
        assert_ne!(a.key, b.key);
        assert!(a.key.starts_with(wedsync_store::keys::KEY_PREFIX));
        assert!(!format!("{a:?}").contains(&a.key));
        assert!(!serde_json::to_string(&a.record).unwrap().contains(&a.key));
    }

    #[tokio::test]
    async fn admin_implies_read_but_not_the_reverse() {
        let store = admin().await;
        let admin = store.create_key("a", &[Scope::Admin]).await.unwrap().record;
        let read = store.create_key("r", &[Scope::Read]).await.unwrap().record;
        assert!(admin.allows(Scope::Read) && admin.allows(Scope::Admin));
        assert!(read.allows(Scope::Read) && !read.allows(Scope::Admin));
    }

    #[tokio::test]
    async fn round_trip_and_revocation_clears_the_cache() {
        let store = admin().await;
        let k = store.create_key("ops", &[Scope::Read]).await.unwrap();
        assert!(store.verify_key(&k.key).await.unwrap().is_some());
        assert!(store.verify_key("wsk_nope").await.unwrap().is_none());
        assert!(store.revoke_key(&k.record.id).await.unwrap());
        assert!(!store.revoke_key("missing").await.unwrap());
        assert!(store.verify_key(&k.key).await.unwrap().is_none());
    }
}
