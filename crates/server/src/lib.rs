//! `wedsync-monitor`: The WedSync external-service monitor: a thin hyper server wiring probes, breakers, alerts and webhooks.
//!
//! # Example
//!
//! ```
//! assert_eq!(wedsync_monitor::CRATE_NAME, "wedsync-monitor");
//! ```

/// The package name of this crate.
pub const CRATE_NAME: &str = "wedsync-monitor";
