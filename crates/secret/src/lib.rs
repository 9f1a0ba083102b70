//! `wedsync-secret`: the workspace's one [`Secret`] type and the Standard Webhooks signer, in a
//! leaf crate that `wedsync-probe` and `wedsync-webhooks` both build on.
//!
//! # Example
//!
//! ```
//! use wedsync_secret::{standard_webhooks, Secret};
//!
//! let secret = Secret::new(concat!("whsec_", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"));
//! assert_eq!(format!("{secret:?} {secret}"), "Secret(***) ***"); // never printed
//! let sig = standard_webhooks::sign(
//!     secret.expose(),
//!     "msg_p5jXN8AQM9LWM0D4loKWxJek",
//!     1614265330,
//!     br#"{"test": 2432232314}"#,
//! )
//! .expect("a base64 key after whsec_");
//! assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
//! ```
//!
//! # Details
//!
//! - [`Secret`]: `Debug` and `Display` print `***`; the value is reachable only through
//!   [`Secret::expose`]. Equality is constant-time for equal lengths.
//! - [`standard_webhooks`]: `v1,` + base64(HMAC-SHA256(key, `"{id}.{timestamp}.{body}"`)), keys
//!   accepted as `whsec_<base64>`, `v1,whsec_<base64>` (Supabase) or bare base64. The webhooks
//!   crate verifies with the same [`standard_webhooks::SigningKey`]; errors never echo a secret.

mod secret;
pub mod standard_webhooks;

pub use secret::Secret;
