//! [`KeyCache`]: verified API keys remembered for a moment, so a route checked on every request
//! does not pay a store round trip per request.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use sha2::{Digest, Sha256};

use super::{ApiKeyInfo, ApiKeySecret, ApiKeyStore, CreatedApiKey, NewApiKey, VerifiedKey};
use crate::error::Result;

/// How long [`KeyCache`] trusts a verified key by default.
pub const KEY_CACHE_TTL: Duration = Duration::from_secs(1);

/// Verified keys remembered at most (the cache is emptied beyond).
const KEY_CACHE_MAX: usize = 10_000;

/// An [`ApiKeyStore`] that remembers verified keys for a TTL (keyed by the key's SHA-256, never
/// the key itself). A revocation through this cache clears it at once; one made elsewhere (another
/// process) takes effect here within the TTL. Unknown keys are never remembered.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::sync::Arc;
/// use wedsync_store::{ApiKeyStore, KeyCache, NewApiKey, SqliteStore};
///
/// let keys = KeyCache::new(Arc::new(SqliteStore::open_in_memory().await?));
/// let new = NewApiKey { name: "ops".into(), scopes: vec!["monitoring:read".into()], expires_at: None };
/// let created = keys.create_api_key(new).await?;
/// assert!(keys.verify_api_key(&created.secret).await?.is_some());
/// keys.revoke_api_key(&created.info.id).await?;
/// assert!(keys.verify_api_key(&created.secret).await?.is_none());
/// # Ok(())
/// # }
/// ```
pub struct KeyCache<S: ?Sized> {
    store: Arc<S>,
    ttl: Duration,
    verified: Mutex<HashMap<[u8; 32], (VerifiedKey, Instant)>>,
}

impl<S: ?Sized> std::fmt::Debug for KeyCache<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyCache")
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

impl<S: ?Sized> KeyCache<S> {
    /// Caches `store`'s verified keys for [`KEY_CACHE_TTL`].
    pub fn new(store: Arc<S>) -> Self {
        Self::with_ttl(store, KEY_CACHE_TTL)
    }

    /// Caches `store`'s verified keys for `ttl`.
    pub fn with_ttl(store: Arc<S>, ttl: Duration) -> Self {
        Self {
            store,
            ttl,
            verified: Mutex::new(HashMap::new()),
        }
    }

    /// The store behind the cache.
    pub fn store(&self) -> &Arc<S> {
        &self.store
    }

    fn cache(&self) -> MutexGuard<'_, HashMap<[u8; 32], (VerifiedKey, Instant)>> {
        self.verified.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[async_trait]
impl<S: ApiKeyStore + ?Sized> ApiKeyStore for KeyCache<S> {
    async fn create_api_key(&self, new: NewApiKey) -> Result<CreatedApiKey> {
        self.store.create_api_key(new).await
    }

    async fn list_api_keys(&self) -> Result<Vec<ApiKeyInfo>> {
        self.store.list_api_keys().await
    }

    async fn revoke_api_key(&self, id: &str) -> Result<bool> {
        let revoked = self.store.revoke_api_key(id).await;
        self.cache().clear();
        revoked
    }

    async fn live_api_key(&self, id: &str) -> Result<Option<VerifiedKey>> {
        self.store.live_api_key(id).await
    }

    async fn verify_api_key(&self, key: &ApiKeySecret) -> Result<Option<VerifiedKey>> {
        let digest: [u8; 32] = Sha256::digest(key.expose().as_bytes()).into();
        if let Some((v, at)) = self.cache().get(&digest) {
            if at.elapsed() < self.ttl {
                return Ok(Some(v.clone()));
            }
        }
        let verified = self.store.verify_api_key(key).await?;
        let mut cache = self.cache();
        match &verified {
            Some(v) => {
                if cache.len() >= KEY_CACHE_MAX {
                    cache.clear();
                }
                cache.insert(digest, (v.clone(), Instant::now()));
            }
            None => {
                cache.remove(&digest);
            }
        }
        Ok(verified)
    }
}

#[cfg(all(test, feature = "sqlite"))]
mod tests {
    use super::*;
    use crate::SqliteStore;

    async fn key(store: &SqliteStore) -> CreatedApiKey {
        let new = NewApiKey {
            name: "ops".into(),
            scopes: vec!["monitoring:read".into()],
            expires_at: None,
        };
        store.create_api_key(new).await.unwrap()
    }

    #[tokio::test]
    async fn a_revocation_elsewhere_is_seen_after_the_ttl_and_unknown_keys_are_not_kept() {
        let store = Arc::new(SqliteStore::open_in_memory().await.unwrap());
        let k = key(&store).await;
        let long = KeyCache::with_ttl(store.clone(), Duration::from_secs(3600));
        let none = KeyCache::with_ttl(store.clone(), Duration::ZERO);
        assert!(long.verify_api_key(&k.secret).await.unwrap().is_some());
        assert!(none.verify_api_key(&k.secret).await.unwrap().is_some());
        // revoked behind both caches' backs (another process)
        assert!(store.revoke_api_key(&k.info.id).await.unwrap());
        assert!(long.verify_api_key(&k.secret).await.unwrap().is_some());
        assert!(none.verify_api_key(&k.secret).await.unwrap().is_none());
        let unknown = ApiKeySecret::new("wsk_unknown");
        assert!(long.verify_api_key(&unknown).await.unwrap().is_none());
        assert!(long.cache().len() == 1);
    }
}
