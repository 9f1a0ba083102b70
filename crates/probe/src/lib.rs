//! `wedsync-probe`: Health probes for Stripe, Twilio, Resend and Supabase, and the monitor that schedules them, feeds breakers and raises alerts.
//!
//! # Example
//!
//! ```
//! assert_eq!(wedsync_probe::CRATE_NAME, "wedsync-probe");
//! ```

/// The package name of this crate.
pub const CRATE_NAME: &str = "wedsync-probe";
