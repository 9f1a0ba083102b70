//! Verify, record, forward, retry and replay the webhooks Stripe, Resend, Supabase and Twilio send.
//!
//! # Example
//!
//! ```
//! use wedsync_webhooks::store::{InMemoryStore, WebhookStore};
//! let store = InMemoryStore::new();
//! let _: &dyn WebhookStore = &store;
//! ```

pub mod analysis;
pub mod clock;
pub mod crypto;
pub mod delivery;
pub mod event;
#[cfg(feature = "forward")]
pub mod forward;
pub mod ingest;
pub mod priority;
pub mod provider;
pub mod replay;
pub mod retry;
pub mod sanitize;
pub mod secret;
pub mod store;
pub mod verify;

pub use provider::{ParseEnumError, Provider};
pub use secret::Secret;

/// Largest response excerpt stored with an attempt, in bytes.
pub const MAX_EXCERPT_BYTES: usize = 4096;
