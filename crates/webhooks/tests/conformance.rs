//! The storage conformance suite on the in-memory store.
#![cfg(feature = "conformance")]

use wedsync_webhooks::store::{conformance, InMemoryStore};

#[tokio::test]
async fn in_memory_store_conforms() {
    conformance::run_all(|| async { InMemoryStore::new() }).await;
}
