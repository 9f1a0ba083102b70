//! `wedsync-testkit`: Fake Stripe, Twilio, Resend, Supabase, Statuspage, Slack and PagerDuty servers with fault injection, and test databases.
//!
//! # Example
//!
//! ```
//! assert_eq!(wedsync_testkit::CRATE_NAME, "wedsync-testkit");
//! ```

/// The package name of this crate.
pub const CRATE_NAME: &str = "wedsync-testkit";
