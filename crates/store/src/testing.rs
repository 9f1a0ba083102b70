//! Test helpers: a fresh, migrated PostgreSQL database per test (feature `testing`).

use wedsync_testkit::pg::TestDatabase;

use crate::error::Result;
use crate::pg::{PgConfig, PgStore};

/// A migrated per-test database and a store connected to it. Dropping it drops the database.
#[derive(Debug)]
pub struct TestPg {
    /// The store (declared first: dropped before the database).
    pub store: PgStore,
    /// The database (dropped last, `WITH (FORCE)`).
    pub db: TestDatabase,
}

impl TestPg {
    /// The database's URL, to open more connections (or another process) on it.
    pub fn url(&self) -> &str {
        self.db.url()
    }
}

/// A fresh database on `DATABASE_URL` (default `127.0.0.1:5432`), migrated.
///
/// # Panics
/// When PostgreSQL is unreachable (with instructions) or the migrations fail: tests never skip.
pub async fn fresh_postgres() -> TestPg {
    try_fresh_postgres(8)
        .await
        .unwrap_or_else(|e| panic!("could not migrate the test database: {e}"))
}

/// Like [`fresh_postgres`] with an explicit pool size, returning migration errors.
pub async fn try_fresh_postgres(pool_size: usize) -> Result<TestPg> {
    let db = TestDatabase::new().await;
    let store = PgStore::connect(
        PgConfig::new(db.url())
            .pool_size(pool_size)
            .application_name("wedsync-store-test"),
    )
    .await?;
    Ok(TestPg { store, db })
}
