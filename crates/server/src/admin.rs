//! API keys and the audit log of admin actions.
//!
//! Keys, their records and verified keys are `wedsync-store`'s types (one format, hashed and
//! compared in constant time there); [`AdminStore`] remembers verified keys with the store's
//! [`KeyCache`] on any store that implements [`wedsync_store::ApiKeyStore`] and
//! [`wedsync_store::AuditLog`]. The server adds its two [`Scope`]s and the audit entries'
//! result.

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

    /// Whether a key holding `scopes` may do what this scope allows (`monitoring:admin` implies
    /// `monitoring:read`).
    pub fn granted_by<S: AsRef<str>>(self, scopes: &[S]) -> bool {
        let held = |s: Scope| scopes.iter().any(|h| h.as_ref() == s.as_str());
        held(self) || (self == Scope::Read && held(Scope::Admin))
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
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

/// Whatever keeps API keys and the audit log: SQLite or PostgreSQL from `wedsync-store`.
pub trait AdminBackend: wedsync_store::ApiKeyStore + wedsync_store::AuditLog + 'static {}

impl<S: wedsync_store::ApiKeyStore + wedsync_store::AuditLog + 'static> AdminBackend for S {}

pub use wedsync_store::{ApiKeyInfo, CreatedApiKey, StoreError, VerifiedKey, KEY_CACHE_TTL};
use wedsync_store::{ApiKeyStore as _, KeyCache};

/// API keys and the audit log on `wedsync-store` (SQLite or PostgreSQL); verified keys are
/// remembered by the store's [`KeyCache`] for [`KEY_CACHE_TTL`].
pub struct AdminStore {
    keys: KeyCache<dyn AdminBackend>,
}

impl fmt::Debug for AdminStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AdminStore").finish_non_exhaustive()
    }
}

impl AdminStore {
    /// Wraps a store.
    pub fn new(store: Arc<dyn AdminBackend>) -> Self {
        Self {
            keys: KeyCache::new(store),
        }
    }

    /// Creates a key with `scopes`; the plaintext is in the result (once), only its hash is kept.
    pub async fn create_key(
        &self,
        name: &str,
        scopes: &[Scope],
    ) -> Result<CreatedApiKey, StoreError> {
        let scopes = scopes.iter().map(|s| s.as_str().to_string()).collect();
        let new = wedsync_store::NewApiKey {
            name: name.to_string(),
            scopes,
            expires_at: None,
        };
        self.keys.create_api_key(new).await
    }

    /// Every key, revoked ones included, without secrets.
    pub async fn list_keys(&self) -> Result<Vec<ApiKeyInfo>, StoreError> {
        self.keys.list_api_keys().await
    }

    /// Revokes a key; `false` when no unrevoked key has that id.
    pub async fn revoke_key(&self, id: &str) -> Result<bool, StoreError> {
        self.keys.revoke_api_key(id).await
    }

    /// The key when `key` is valid (known, unrevoked, unexpired).
    pub async fn verify_key(&self, key: &str) -> Result<Option<VerifiedKey>, StoreError> {
        let key = wedsync_store::ApiKeySecret::new(key);
        self.keys.verify_api_key(&key).await
    }

    /// The key with this id when it is live (not revoked, not expired): one indexed read.
    pub async fn live_key(&self, id: &str) -> Result<Option<VerifiedKey>, StoreError> {
        self.keys.live_api_key(id).await
    }

    /// Appends to the audit log (the result is kept in the entry's detail).
    pub async fn audit(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        let new = wedsync_store::NewAuditEntry {
            actor: entry.key_id.clone(),
            action: entry.action.clone(),
            target: Some(entry.target.clone()),
            detail: Some(serde_json::json!({"result": entry.result})),
            request_id: None,
        };
        self.keys.store().append_audit(new).await.map(drop)
    }

    /// The most recent audit entries, newest first.
    pub async fn recent_audit(&self, limit: usize) -> Result<Vec<AuditEntry>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let stored = self.keys.store().list_audit(limit, None).await?;
        let entry = |a: wedsync_store::AuditEntry| {
            let result = a.entry.detail.as_ref().and_then(|d| d.get("result"));
            AuditEntry {
                result: result.and_then(|r| r.as_str()).unwrap_or_default().into(),
                key_id: a.entry.actor,
                action: a.entry.action,
                target: a.entry.target.unwrap_or_default(),
                at: a.at,
            }
        };
        Ok(stored.into_iter().map(entry).collect())
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
        assert_ne!(a.secret.expose(), b.secret.expose());
        assert!(a
            .secret
            .expose()
            .starts_with(wedsync_store::keys::KEY_PREFIX));
        assert!(!format!("{a:?}").contains(a.secret.expose()));
        assert_eq!(a.info.scopes, ["monitoring:read"]);
    }

    #[test]
    fn admin_implies_read_but_not_the_reverse() {
        let (admin, read) = (["monitoring:admin"], ["monitoring:read"]);
        assert!(Scope::Read.granted_by(&admin) && Scope::Admin.granted_by(&admin));
        assert!(Scope::Read.granted_by(&read) && !Scope::Admin.granted_by(&read));
        assert!(!Scope::Read.granted_by(&["monitoring:readonly", "admin"]));
        for s in [Scope::Read, Scope::Admin] {
            assert_eq!(Scope::parse(s.as_str()), Some(s));
        }
    }

    #[tokio::test]
    async fn round_trip_and_revocation_clears_the_cache() {
        let store = admin().await;
        let k = store.create_key("ops", &[Scope::Admin]).await.unwrap();
        let verified = store.verify_key(k.secret.expose()).await.unwrap().unwrap();
        assert!(Scope::Read.granted_by(&verified.scopes));
        assert!(store.verify_key("wsk_nope").await.unwrap().is_none());
        assert!(store.revoke_key(&k.info.id).await.unwrap());
        assert!(!store.revoke_key("missing").await.unwrap());
        assert!(store.verify_key(k.secret.expose()).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn a_session_check_by_id_sees_revoked_and_expired_keys_as_gone() {
        use wedsync_store::ApiKeyStore as _;
        let sqlite = Arc::new(wedsync_store::SqliteStore::open_in_memory().await.unwrap());
        let store = AdminStore::new(sqlite.clone());
        let live = store.create_key("ops", &[Scope::Read]).await.unwrap();
        let hour = time::Duration::hours(1);
        let expired = sqlite
            .create_api_key(wedsync_store::NewApiKey {
                name: "old".into(),
                scopes: vec![Scope::Admin.as_str().into()],
                expires_at: Some(OffsetDateTime::now_utc() - hour),
            })
            .await
            .unwrap();
        let found = store.live_key(&live.info.id).await.unwrap().unwrap();
        assert_eq!(found.scopes, ["monitoring:read"]);
        assert!(store.live_key(&expired.info.id).await.unwrap().is_none());
        assert!(store.revoke_key(&live.info.id).await.unwrap());
        assert!(store.live_key(&live.info.id).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn audit_entries_keep_their_result() {
        let store = admin().await;
        let at = OffsetDateTime::now_utc();
        let (key_id, action, target) = ("k".to_string(), "probe.run".to_string(), "stripe");
        let result = "not_found".to_string();
        let entry = AuditEntry {
            key_id,
            action,
            target: target.into(),
            result,
            at,
        };
        store.audit(&entry).await.unwrap();
        let read = store.recent_audit(5).await.unwrap();
        assert_eq!(read.len(), 1);
        assert_eq!(
            (read[0].action.as_str(), read[0].result.as_str()),
            ("probe.run", "not_found")
        );
        assert_eq!(
            (read[0].key_id.as_str(), read[0].target.as_str()),
            ("k", "stripe")
        );
    }
}
