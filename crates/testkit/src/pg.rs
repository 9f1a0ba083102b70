//! Per-test PostgreSQL databases: each test gets a fresh, uniquely named database that is dropped
//! when the handle goes out of scope, so tests run in parallel without interfering.
//!
//! The server is found through `DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`;
//! Unix-socket URLs such as `postgres://postgres@%2Frun%2Fpostgresql/db` work too). Databases are
//! named `${WEDSYNC_TEST_DB_PREFIX:-wedsync_test}_<unique>`, so `scripts/test.sh` can drop whatever
//! a crashed test left behind. When no server answers, [`TestDatabase::new`] fails the test with a
//! message that says how to start PostgreSQL: database tests never skip.
//!
//! Migrations are not run here (testkit must not depend on the store): `wedsync-store`'s
//! `testing::fresh_postgres()` wraps a [`TestDatabase`] and migrates it.
//!
//! ```no_run
//! # async fn demo() {
//! let db = wedsync_testkit::pg::TestDatabase::new().await;
//! assert!(db.url().contains(db.name()));
//! // ... connect to db.url(); the database is dropped with `db`.
//! # }
//! ```

use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The server used when `DATABASE_URL` is not set.
pub const DEFAULT_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";
/// The database-name prefix used when `WEDSYNC_TEST_DB_PREFIX` is not set.
pub const DEFAULT_PREFIX: &str = "wedsync_test";

const HOW_TO_START: &str = "\
The tests need a real PostgreSQL (they never skip database tests). Any one of these works:
  * run the project's test command, which finds or starts one: bash scripts/test.sh
  * point DATABASE_URL at a server you have: DATABASE_URL=postgres://user@host:5432/db cargo test
  * start one on 127.0.0.1:5432 with user `postgres` (Debian/Ubuntu: apt-get install postgresql &&
    service postgresql start; macOS: brew install postgresql@16 && brew services start postgresql@16)";

/// Why a test database could not be created.
#[derive(Debug)]
#[non_exhaustive]
pub enum TestDbError {
    /// `DATABASE_URL` could not be parsed.
    BadUrl(String),
    /// No PostgreSQL answered at the configured address.
    Unreachable {
        /// The URL tried, without password.
        url: String,
        /// The driver's error.
        cause: String,
    },
    /// The server answered but refused to create the database.
    Create(String),
}

impl fmt::Display for TestDbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadUrl(e) => write!(f, "DATABASE_URL is not a valid PostgreSQL URL: {e}"),
            Self::Unreachable { url, cause } => write!(
                f,
                "no PostgreSQL answers at {url} ({cause}).\n{HOW_TO_START}"
            ),
            Self::Create(e) => write!(f, "could not create a test database: {e}"),
        }
    }
}

impl std::error::Error for TestDbError {}

/// A fresh, empty database on the test server, dropped (`WITH (FORCE)`) on drop.
///
/// Dropping works inside `#[tokio::test]` (any runtime flavour): the `DROP DATABASE` runs on a
/// dedicated thread with its own small runtime.
pub struct TestDatabase {
    name: String,
    url: String,
    admin_url: String,
}

impl fmt::Debug for TestDatabase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestDatabase")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// The server URL from `DATABASE_URL`, or [`DEFAULT_DATABASE_URL`].
pub fn server_url() -> String {
    std::env::var("DATABASE_URL")
        .ok()
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned())
}

/// The database-name prefix from `WEDSYNC_TEST_DB_PREFIX`, or [`DEFAULT_PREFIX`].
pub fn prefix() -> String {
    std::env::var("WEDSYNC_TEST_DB_PREFIX")
        .ok()
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_PREFIX.to_owned())
}

/// `url` with its database path replaced by `db` (user, host, port and query string kept).
///
/// ```
/// use wedsync_testkit::pg::url_with_database;
/// assert_eq!(
///     url_with_database("postgres://postgres@%2Ftmp%2Fsock/run?sslmode=disable", "t1"),
///     "postgres://postgres@%2Ftmp%2Fsock/t1?sslmode=disable"
/// );
/// assert_eq!(url_with_database("postgres://u@h:5432", "t2"), "postgres://u@h:5432/t2");
/// ```
pub fn url_with_database(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let (scheme, rest) = base.split_once("://").unwrap_or(("postgres", base));
    let authority = rest.split('/').next().unwrap_or(rest);
    match query {
        Some(q) => format!("{scheme}://{authority}/{db}?{q}"),
        None => format!("{scheme}://{authority}/{db}"),
    }
}

/// `url` with any password replaced by `***`, for messages.
fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}{tail}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let suffix = format!("_{}_{}_{:x}", std::process::id(), n, nanos & 0xffff);
    // PostgreSQL truncates identifiers at 63 bytes: keep the unique suffix whole.
    let mut prefix: String = prefix
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    prefix.truncate(63usize.saturating_sub(suffix.len()));
    format!("{prefix}{suffix}")
}

async fn connect_admin(url: &str) -> Result<tokio_postgres::Client, TestDbError> {
    let mut config =
        tokio_postgres::Config::from_str(url).map_err(|e| TestDbError::BadUrl(e.to_string()))?;
    config.connect_timeout(Duration::from_secs(5));
    config.application_name("wedsync-testkit");
    let (client, connection) =
        config
            .connect(tokio_postgres::NoTls)
            .await
            .map_err(|e| TestDbError::Unreachable {
                url: redact_url(url),
                cause: e.to_string(),
            })?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(client)
}

impl TestDatabase {
    /// Creates a fresh database; panics with instructions when PostgreSQL is unreachable.
    ///
    /// # Panics
    /// When no server answers or it refuses to create the database (the test fails, never skips).
    pub async fn new() -> Self {
        match Self::try_new().await {
            Ok(db) => db,
            Err(e) => panic!("{e}"),
        }
    }

    /// Creates a fresh database on the server named by `DATABASE_URL`.
    pub async fn try_new() -> Result<Self, TestDbError> {
        Self::create_on(&server_url(), &prefix()).await
    }

    /// Creates a fresh database on the server at `admin_url`, named `<prefix>_<unique>`.
    pub async fn create_on(admin_url: &str, prefix: &str) -> Result<Self, TestDbError> {
        let client = connect_admin(admin_url).await?;
        let name = unique_name(prefix);
        let sql = format!("CREATE DATABASE \"{name}\"");
        let mut attempt = 0;
        loop {
            match client.batch_execute(&sql).await {
                Ok(()) => break,
                // "source database template1 is being accessed by other users": another
                // CREATE DATABASE is copying it right now; retry shortly.
                Err(e) if attempt < 20 && e.to_string().contains("being accessed") => {
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(50 * attempt)).await;
                }
                Err(e) => return Err(TestDbError::Create(e.to_string())),
            }
        }
        Ok(Self {
            url: url_with_database(admin_url, &name),
            admin_url: admin_url.to_owned(),
            name,
        })
    }

    /// The database's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A URL that connects to this database.
    pub fn url(&self) -> &str {
        &self.url
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let admin_url = self.admin_url.clone();
        let sql = format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name);
        let name = self.name.clone();
        let joined = std::thread::Builder::new()
            .name("wedsync-testdb-drop".into())
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|e| e.to_string())?;
                rt.block_on(async {
                    let client = connect_admin(&admin_url).await.map_err(|e| e.to_string())?;
                    client.batch_execute(&sql).await.map_err(|e| e.to_string())
                })
            })
            .map(|h| h.join());
        match joined {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(e))) => {
                eprintln!("wedsync-testkit: could not drop test database {name}: {e}")
            }
            _ => eprintln!("wedsync-testkit: could not drop test database {name}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_bounded() {
        let long = "p".repeat(100);
        let a = unique_name(&long);
        let b = unique_name(&long);
        assert_ne!(a, b);
        assert!(a.len() <= 63, "{a}");
        assert!(unique_name("Wed-Sync").starts_with("wed_sync_"));
    }

    #[test]
    fn passwords_are_masked() {
        assert_eq!(
            redact_url("postgres://u:secret@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(redact_url("postgres://u@h/db"), "postgres://u@h/db");
    }

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn unreachable_server_fails_with_instructions() {
        let err = block_on(TestDatabase::create_on(
            "postgres://postgres@127.0.0.1:1/postgres",
            "x",
        ))
        .unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("scripts/test.sh"), "{msg}");
    }

    #[test]
    fn creates_and_drops() {
        block_on(creates_and_drops_async());
    }

    async fn creates_and_drops_async() {
        let name;
        {
            let db = TestDatabase::new().await;
            name = db.name().to_owned();
            let client = connect_admin(db.url()).await.unwrap();
            let row = client
                .query_one("select current_database()", &[])
                .await
                .unwrap();
            let current: String = row.get(0);
            assert_eq!(current, name);
            drop(client);
        }
        let client = connect_admin(&server_url()).await.unwrap();
        let rows = client
            .query("select 1 from pg_database where datname = $1", &[&name])
            .await
            .unwrap();
        assert!(rows.is_empty(), "database {name} was not dropped");
    }
}
