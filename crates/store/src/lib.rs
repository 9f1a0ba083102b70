//! Durable storage for the WedSync monitoring crates: PostgreSQL (diesel-async + deadpool) for
//! production and scale-out, an embedded SQLite file as the zero-install default.
//!
//! # Example
//!
//! ```
//! # #[cfg(feature = "sqlite")]
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! use wedsync_store::{ApiKeyStore, NewApiKey, SqliteStore};
//!
//! let dir = tempfile::tempdir().unwrap();
//! let store = SqliteStore::open(dir.path().join("wedsync.db")).await.unwrap();
//! let created = store
//!     .create_api_key(NewApiKey {
//!         name: "grafana".into(),
//!         scopes: vec!["monitoring:read".into()],
//!         expires_at: None,
//!     })
//!     .await
//!     .unwrap();
//! // the plaintext is returned once; only its hash is stored
//! let verified = store.verify_api_key(&created.secret).await.unwrap().unwrap();
//! assert!(verified.has_scope("monitoring:read"));
//! assert!(store.revoke_api_key(&verified.id).await.unwrap());
//! assert!(store.verify_api_key(&created.secret).await.unwrap().is_none());
//! # });
//! ```
//!
//! # Layout: one folder per domain
//!
//! - [`admin`]: API keys ([`keys`] holds the key format and its constant-time check), the audit
//!   log, retention and health — the store's own records and traits.
//! - `probe` (feature `probe`): `wedsync-probe`'s results, rollups, incidents and outbox.
//! - `webhooks` (feature `webhooks`): `wedsync-webhooks`' `WebhookStore`.
//! - `breaker` (feature `breaker`): `wedsync-breaker`'s `StateSync`, on PostgreSQL.
//! - `pg` / `sqlite`: the backends' pools, connections and migrations only.
//! - [`config`]: the `wedsync-monitor` sections `[store]` (which store, by URL) and `[retention]`.
//!
//! Each domain writes a statement once for a `Dialect` (what PostgreSQL and SQLite spell
//! differently: placeholders, casts, `FOR UPDATE SKIP LOCKED`, `LATERAL`, arrays) and binds and
//! runs it once on either backend's connection, so the backends cannot drift apart; the
//! conformance suites run every domain on both.
//!
//! # Details
//!
//! - **Schema.** Diesel migrations in the repository's top-level `migrations/postgres` and
//!   `migrations/sqlite`, embedded with `embed_migrations!` ([`pg::MIGRATIONS`],
//!   [`sqlite::MIGRATIONS`]); every one is reversible and tested up, down and up again.
//!   `docs/storage.md` describes the tables, indexes, Row Level Security and retention.
//! - **PostgreSQL** ([`PgStore`]): a deadpool pool with explicit size and timeouts; every new
//!   connection gets `application_name` and `statement_timeout`; migrations run on a dedicated
//!   connection inside `spawn_blocking` (safe on a current-thread runtime).
//! - **SQLite** ([`SqliteStore`]): bundled SQLite (no system library), WAL, a busy timeout,
//!   foreign keys on; calls run on the blocking pool.
//! - **Webhook deliveries and their queue** (feature `webhooks`): `wedsync_webhooks::store::WebhookStore`
//!   on both backends (`webhooks`). Claims lock with `FOR UPDATE SKIP LOCKED` and a lease,
//!   critical first, then due time; expired leases are reclaimed; dedupe on
//!   `(provider, dedupe_key)` is a unique index; `LISTEN/NOTIFY` wakes workers
//!   ([`PgStore::wait_for_deliveries`]), polling is the backstop. SQLite gives the same semantics
//!   within one process.
//! - **Hot path**: "record a delivery and enqueue it" (`insert_delivery`) is one row; concurrent
//!   calls are group-committed into one statement and one commit, and so are attempt reports.
//! - **Errors.** An unreachable database is [`StoreError::Unavailable`]; nothing is dropped
//!   silently — the caller decides to retry or refuse.
//!
//! # Guarantees
//!
//! - A delivery attempt is leased to one worker at a time, across processes on PostgreSQL.
//! - At most one unresolved incident per dedup key (partial unique index).
//! - API keys are stored as SHA-256 hashes; the plaintext is returned once, at creation;
//!   [`ApiKeySecret`]'s `Debug` and `Display` print a mask.
//! - The same input gets the same answer on both backends (API-key scopes are normalised or
//!   refused alike, see [`normalize_scopes`]).
//!
//! # Feature flags
//!
//! | feature    | default | what it adds |
//! |------------|---------|--------------|
//! | `postgres` | yes     | [`PgStore`]: diesel-async + deadpool, LISTEN/NOTIFY via tokio-postgres |
//! | `sqlite`   | yes     | [`SqliteStore`]: diesel + bundled SQLite (compiles C, no system library) |
//! | `webhooks` | yes     | `wedsync_webhooks::store::WebhookStore` on both backends (`webhooks`) |
//! | `probe`    | no      | `wedsync-probe`'s `ResultStore`/`IncidentStore`/`OutboxStore` on both backends |
//! | `breaker`  | no      | `breaker::PgBreakerSync`: `wedsync-breaker`'s `StateSync` on PostgreSQL |
//! | `testing`  | no      | `testing::fresh_postgres()`: a migrated per-test database (uses `wedsync-testkit`) |

pub mod admin;
#[cfg(feature = "breaker")]
pub mod breaker;
pub mod config;
mod dialect;
pub mod error;
pub mod open;
#[cfg(feature = "postgres")]
pub mod pg;
#[cfg(all(feature = "probe", any(feature = "postgres", feature = "sqlite")))]
pub mod probe;
#[cfg(feature = "sqlite")]
pub mod sqlite;
#[cfg(feature = "testing")]
pub mod testing;
#[cfg(feature = "webhooks")]
pub mod webhooks;

pub use admin::keys;
pub use admin::*;
/// The breaker domain under its earlier name ([`breaker`]).
#[cfg(feature = "breaker")]
pub use breaker as breaker_sync;
pub use error::{Result, StoreError};
pub use open::{AnyStore, StoreUrl};
#[cfg(feature = "postgres")]
pub use pg::{PgConfig, PgStore};
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteStore;
/// The webhooks domain under its earlier name ([`webhooks`]).
#[cfg(feature = "webhooks")]
pub use webhooks as webhook_store;
