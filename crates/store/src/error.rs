//! The store's error type.

/// An error from the store. Messages never contain passwords or API keys.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database could not be reached (connect failure, pool timeout, server gone). Nothing
    /// was written: the caller decides whether to retry or refuse the request.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// The database answered with an error.
    #[error("database error: {0}")]
    Query(String),
    /// Running the embedded migrations failed.
    #[error("migration failed: {0}")]
    Migration(String),
    /// The configuration is invalid (bad URL, zero pool size, ...).
    #[error("invalid store configuration: {0}")]
    Config(String),
    /// An argument was refused before anything was written (an API-key scope with whitespace,
    /// ...). The same input is refused on every backend.
    #[error("invalid input: {0}")]
    Invalid(String),
    /// The stored data is not what this version expects (unknown enum text, bad JSON).
    #[error("corrupt stored value: {0}")]
    Corrupt(String),
    /// A background task failed (panicked or was cancelled).
    #[error("store task failed: {0}")]
    Task(String),
}

impl StoreError {
    /// Whether retrying later may succeed (the database was unreachable or busy).
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }
}

impl From<diesel::result::Error> for StoreError {
    fn from(e: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind, Error};
        match &e {
            Error::DatabaseError(DatabaseErrorKind::ClosedConnection, _) => {
                Self::Unavailable(e.to_string())
            }
            // SQLite: "database is locked" after the busy timeout
            Error::DatabaseError(_, info) if info.message().contains("database is locked") => {
                Self::Unavailable(e.to_string())
            }
            _ => Self::Query(e.to_string()),
        }
    }
}

impl From<diesel::ConnectionError> for StoreError {
    fn from(e: diesel::ConnectionError) -> Self {
        Self::Unavailable(e.to_string())
    }
}

impl From<tokio::task::JoinError> for StoreError {
    fn from(e: tokio::task::JoinError) -> Self {
        Self::Task(e.to_string())
    }
}

/// The store's result type.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;
