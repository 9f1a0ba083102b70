//! Opening the store, running its migrations, then one write and one read — on the embedded SQLite
//! file, and on PostgreSQL when `DATABASE_URL` is set.
//!
//! ```sh
//! # SQLite only (a database file in a temporary directory, removed afterwards)
//! cargo run -p wedsync-store --example open_and_migrate
//!
//! # SQLite in a file of your choice (kept), then PostgreSQL
//! DATABASE_URL=postgres://postgres@127.0.0.1:5432/wedsync_example \
//!     cargo run -p wedsync-store --example open_and_migrate -- ./wedsync.db
//! ```
//!
//! Migrations are embedded in the library (the repository's `migrations/sqlite` and
//! `migrations/postgres`), so nothing has to be shipped next to the binary. `SqliteStore::open`
//! applies pending ones itself; on PostgreSQL, where several processes share the database, apply
//! them once per deployment with `PgStore::run_migrations` (or `PgStore::connect`, which does
//! both). Both calls are idempotent: they return the migrations they applied, none the second time.
//!
//! Both stores implement the same traits (`ApiKeyStore`, `AuditLog`, `Retention`,
//! `StoreHealthCheck`, and the domain crates' storage traits behind features), so the code after
//! opening is written once, against the traits.

use std::time::Duration;

use wedsync_store::{ApiKeyStore, NewApiKey, SqliteStore, StoreError, StoreHealthCheck};

/// The one write and one read, against whatever backend: create an API key (the plaintext comes
/// back once; only its SHA-256 is stored), check it, revoke it.
async fn write_and_read<S: ApiKeyStore + StoreHealthCheck>(
    store: &S,
    backend: &str,
) -> Result<(), StoreError> {
    let health = store.health(Duration::from_secs(2)).await;
    println!(
        "{backend}: health ok={} in {:?} (pool {}/{})",
        health.ok, health.latency, health.pool_size, health.pool_max
    );
    let created = store
        .create_api_key(NewApiKey {
            name: "open_and_migrate example".into(),
            scopes: vec!["monitoring:read".into()],
            expires_at: None,
        })
        .await?;
    println!("{backend}: wrote API key {}", created.info.id);
    let verified = store.verify_api_key(&created.secret).await?;
    match &verified {
        Some(key) => println!(
            "{backend}: read it back: id {}, monitoring:read = {}",
            key.id,
            key.has_scope("monitoring:read")
        ),
        None => {
            return Err(StoreError::Config(format!(
                "{backend}: the key just written does not verify"
            )))
        }
    }
    // Leave nothing behind.
    store.revoke_api_key(&created.info.id).await?;
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // SQLite: open (creating the file and applying migrations), then ask again: nothing to apply.
    let temp = tempfile::tempdir()?;
    let path = std::env::args_os()
        .nth(1)
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| temp.path().join("wedsync.db"));
    let sqlite = SqliteStore::open(&path).await?;
    let again = sqlite.run_migrations().await?;
    println!(
        "sqlite: opened {} (migrated on open; {} pending after)",
        path.display(),
        again.len()
    );
    write_and_read(&sqlite, "sqlite").await?;

    // PostgreSQL, when a URL is given: build the pool, apply migrations, same write and read.
    #[cfg(feature = "postgres")]
    if let Ok(url) = std::env::var("DATABASE_URL") {
        use wedsync_store::{PgConfig, PgStore};
        let pg = PgStore::new(PgConfig::new(url).application_name("open_and_migrate"))?;
        let applied = pg.run_migrations().await?;
        println!("postgres: applied {} migration(s)", applied.len());
        for name in &applied {
            println!("  {name}");
        }
        write_and_read(&pg, "postgres").await?;
    } else {
        println!("postgres: DATABASE_URL not set, skipped");
    }
    Ok(())
}
