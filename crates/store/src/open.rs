//! Opening a store from its URL: `sqlite://PATH` (or `sqlite:PATH`), `sqlite::memory:`, or
//! `postgres://…` / `postgresql://…`. One rule for every program that takes a store URL.
//!
//! ```
//! use wedsync_store::StoreUrl;
//!
//! assert_eq!(StoreUrl::parse("sqlite://wedsync.db").ok(), Some(StoreUrl::Sqlite("wedsync.db")));
//! assert_eq!(StoreUrl::parse("sqlite::memory:").ok(), Some(StoreUrl::SqliteMemory));
//! assert!(matches!(StoreUrl::parse("postgres://app@db/wedsync"), Ok(StoreUrl::Postgres(_))));
//! // the error never echoes the URL (it may hold a password)
//! let err = StoreUrl::parse("mysql://root:hunter2@db/x").unwrap_err();
//! assert!(!err.to_string().contains("hunter2"));
//! ```

use crate::{Result, StoreError};

/// What a store URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreUrl<'a> {
    /// `sqlite::memory:` (or `sqlite://:memory:`): a private in-memory database.
    SqliteMemory,
    /// `sqlite://PATH` or `sqlite:PATH`: a database file.
    Sqlite(&'a str),
    /// `postgres://…` or `postgresql://…`: the whole URL.
    Postgres(&'a str),
}

impl<'a> StoreUrl<'a> {
    /// What a store URL must look like (the message of every refusal).
    pub const EXPECTED: &'static str = "must start with sqlite://, postgres:// or postgresql://";

    /// Reads `url`; anything but the forms above is [`StoreError::Invalid`] (without the URL).
    pub fn parse(url: &'a str) -> Result<Self> {
        if url == "sqlite::memory:" || url == "sqlite://:memory:" {
            Ok(StoreUrl::SqliteMemory)
        } else if let Some(path) = url.strip_prefix("sqlite://") {
            Ok(StoreUrl::Sqlite(path))
        } else if let Some(path) = url.strip_prefix("sqlite:") {
            Ok(StoreUrl::Sqlite(path))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(StoreUrl::Postgres(url))
        } else {
            Err(StoreError::Invalid(Self::EXPECTED.into()))
        }
    }
}

/// A store opened from a URL, migrated and ready.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum AnyStore {
    /// An embedded SQLite database (file or memory).
    #[cfg(feature = "sqlite")]
    Sqlite(crate::SqliteStore),
    /// A PostgreSQL pool.
    #[cfg(feature = "postgres")]
    Postgres(crate::PgStore),
}

impl AnyStore {
    /// Opens the store `url` names and applies its pending migrations; PostgreSQL connections
    /// carry `application_name`. A backend left out at build time is [`StoreError::Invalid`].
    pub async fn open(url: &str, application_name: &str) -> Result<Self> {
        match StoreUrl::parse(url)? {
            #[cfg(feature = "sqlite")]
            StoreUrl::SqliteMemory => Ok(AnyStore::Sqlite(
                crate::SqliteStore::open_in_memory().await?,
            )),
            // opening a SQLite file runs its pending migrations
            #[cfg(feature = "sqlite")]
            StoreUrl::Sqlite(path) => Ok(AnyStore::Sqlite(crate::SqliteStore::open(path).await?)),
            #[cfg(feature = "postgres")]
            StoreUrl::Postgres(url) => {
                let config = crate::PgConfig::new(url).application_name(application_name);
                // connecting runs the pending migrations
                Ok(AnyStore::Postgres(crate::PgStore::connect(config).await?))
            }
            #[allow(unreachable_patterns)]
            _ => {
                let _ = application_name;
                Err(StoreError::Invalid(
                    "this build leaves that store backend out (see the crate's features)".into(),
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_form_is_read_and_others_refused() {
        let read = |url| StoreUrl::parse(url).ok();
        assert_eq!(read("sqlite://:memory:"), Some(StoreUrl::SqliteMemory));
        assert_eq!(read("sqlite:a.db"), Some(StoreUrl::Sqlite("a.db")));
        let pg = "postgresql://u@h/d";
        assert_eq!(read(pg), Some(StoreUrl::Postgres(pg)));
        for bad in ["", "mysql://x", "file:a.db", "postgres:/x"] {
            assert!(StoreUrl::parse(bad).is_err(), "{bad}");
        }
    }

    #[cfg(feature = "sqlite")]
    #[tokio::test]
    // with only SQLite compiled in, `AnyStore` has one variant
    #[cfg_attr(not(feature = "postgres"), allow(irrefutable_let_patterns))]
    async fn opens_sqlite_migrated() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("s.db").display());
        let AnyStore::Sqlite(s) = AnyStore::open(&url, "test").await.unwrap() else {
            panic!("not sqlite")
        };
        assert!(
            s.run_migrations().await.unwrap().is_empty(),
            "already migrated"
        );
    }
}
