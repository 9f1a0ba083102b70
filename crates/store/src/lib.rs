//! `wedsync-store`: PostgreSQL (diesel-async + deadpool) and embedded SQLite storage for the WedSync monitoring crates.
//!
//! # Example
//!
//! ```
//! assert_eq!(wedsync_store::CRATE_NAME, "wedsync-store");
//! ```

/// The package name of this crate.
pub const CRATE_NAME: &str = "wedsync-store";
