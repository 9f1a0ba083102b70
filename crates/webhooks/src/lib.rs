//! `wedsync-webhooks`: Verify, record, forward, retry and replay provider webhooks (Stripe, Resend/Svix, Standard Webhooks, Supabase, Twilio).
//!
//! # Example
//!
//! ```
//! assert_eq!(wedsync_webhooks::CRATE_NAME, "wedsync-webhooks");
//! ```

/// The package name of this crate.
pub const CRATE_NAME: &str = "wedsync-webhooks";
