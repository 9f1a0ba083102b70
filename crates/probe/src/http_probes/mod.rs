//! Built-in HTTP probes (feature `http`): Stripe, Twilio, Resend, Supabase auth and data, generic
//! HTTP with JSON-pointer conditions, and Statuspage (also Stripe's `/current`).
//!
//! Shared rules (`shared/providers.md` §1): credentials go in headers, never the URL; no response
//! body is stored (at most 64 KiB is read, parsed and dropped); every probe has a timeout; the
//! provider's request id is kept. Classification: timeouts, connect errors and 5xx (also a CDN's
//! HTML 5xx) are `unhealthy`; 401/403 `auth_failed`; 429 `rate_limited` with the `Retry-After`
//! or `ratelimit-reset` delay; answers slower than the probe's `slow_after` are `degraded`.

#[macro_use]
mod shared;

mod http;
mod resend;
mod statuspage;
mod stripe;
mod supabase;
mod twilio;

pub use http::{Condition, ConditionError, HttpProbe, Op};
pub use resend::ResendProbe;
pub use shared::{default_client, HttpSettings};
pub use statuspage::{StatusPageKind, StatuspageProbe};
pub use stripe::StripeProbe;
pub use supabase::{SupabaseAuthProbe, SupabaseDataProbe};
pub use twilio::TwilioProbe;
