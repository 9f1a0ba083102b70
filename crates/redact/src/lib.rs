//! `wedsync-redact`: Sanitise JSON, headers, URLs, form bodies and text of secrets and personal data.
//!
//! # Example
//!
//! ```
//! assert_eq!(wedsync_redact::CRATE_NAME, "wedsync-redact");
//! ```

/// The package name of this crate.
pub const CRATE_NAME: &str = "wedsync-redact";
