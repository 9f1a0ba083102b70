//! `wedsync-breaker`: Circuit breaker with count and time sliding windows, slow-call detection, half-open probing, events and a registry.
//!
//! # Example
//!
//! ```
//! assert_eq!(wedsync_breaker::CRATE_NAME, "wedsync-breaker");
//! ```

/// The package name of this crate.
pub const CRATE_NAME: &str = "wedsync-breaker";
