//! Verify, record, forward, retry and replay the webhooks Stripe, Resend, Supabase and Twilio send.
//!
//! # Example
//!
//! ```
//! use wedsync_webhooks::store::{InMemoryStore, WebhookStore};
//! let store = InMemoryStore::new();
//! let _: &dyn WebhookStore = &store;
//! ```

pub mod provider;
pub mod store;

pub use provider::{ParseEnumError, Provider};

/// Largest response excerpt stored with an attempt, in bytes.
pub const MAX_EXCERPT_BYTES: usize = 4096;
