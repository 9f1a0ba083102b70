//! `wedsync-probe`: classified health probes for Stripe, Twilio, Resend and Supabase, and the
//! monitor that schedules them, feeds circuit breakers and raises alerts.
//!
//! # Example
//!
//! ```
//! use std::time::Duration;
//! use wedsync_probe::{aggregate, FnProbe, HealthProbe, ProbeResult, ProbeStatus};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let probe = FnProbe::new("stripe", Duration::from_secs(5), || async {
//!     ProbeResult::new("stripe", ProbeStatus::AuthFailed, "HTTP 401 with key sk_live_abcdefghijklmnop1234")
//!         .with_http_status(401)
//! });
//! let result = probe.check().await;
//! assert_eq!(result.status, ProbeStatus::AuthFailed);
//! assert!(!result.detail.contains("abcdefghijklmnop"), "details are redacted");
//! // auth_failed is our misconfiguration, not a provider outage: it never opens the breaker
//! assert!(!result.status.is_provider_failure());
//! assert_eq!(aggregate([ProbeStatus::Healthy, result.status]), ProbeStatus::AuthFailed);
//! # }
//! ```
//!
//! # Details
//!
//! - [`HealthProbe`] is a small object-safe async trait; a probe never errors, it classifies:
//!   `healthy`, `degraded`, `unhealthy`, `auth_failed`, `rate_limited`, `unknown`
//!   ([`ProbeStatus`]). [`aggregate`] combines many, worst first:
//!   `unhealthy` > `auth_failed` > `unknown` > `rate_limited` > `degraded` > `healthy`.
//! - [`Cadence`] is how often a service is probed; [`Cadence::wedding_day_interval`] is the one
//!   "tighter on wedding days" rule. [`config::ServiceSpec`] is a typed service entry
//!   (`[[services]]` in the server's TOML) that builds its probe.
//! - [`report`] is the integrations health report: [`report::Reporter`] builds it for a list of
//!   services from a [`Monitor`] (or the stored results) and caches it, so an embedder serves the
//!   same document as `wedsync-monitor` without the server; the server only maps
//!   [`report::ReportError`] to HTTP.
//! - [`store`] holds the storage traits (results, incidents, notification outbox) with an in-memory
//!   implementation; `wedsync-store` implements them on PostgreSQL and SQLite.
//!
//! # Guarantees
//!
//! - A [`ProbeResult`]'s `detail` and `request_id` always pass through [`sanitize_detail`]
//!   (wedsync-redact) and are bounded; probes never keep a response body.
//!
//! # Feature flags
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `http` | no | built-in provider probes and HTTP alert sinks on reqwest (rustls, ring) |
//! | `conformance` | no | `conformance`: the test suite storage backends run |

pub mod alert;
mod cadence;
#[cfg(feature = "http")]
pub mod check;
pub mod clock;
pub mod config;
#[cfg(feature = "http")]
pub mod http_probes;
#[cfg(feature = "http")]
pub mod http_sinks;
pub mod monitor;
pub mod outbox;
pub mod policy;
mod probe;
pub mod report;
mod result;
pub mod sink;
mod status;
pub mod store;
mod tcp;

#[cfg(any(test, feature = "conformance"))]
pub mod conformance;

pub use alert::{AlertConfig, AlertEngine, MaintenanceWindow};
pub use cadence::Cadence;
#[cfg(feature = "http")]
pub use http_probes::{
    Condition, HttpProbe, HttpSettings, ResendProbe, StatuspageProbe, StripeProbe,
    SupabaseAuthProbe, SupabaseDataProbe, TwilioProbe,
};
#[cfg(feature = "http")]
pub use http_sinks::{PagerDutySink, SlackSink, WebhookSink};
pub use monitor::{
    probe_breaker_config, service_breaker_config, Monitor, MonitorConfig, MonitorError,
    ServiceConfig, Snapshot,
};
pub use policy::WeddingDayPolicy;
pub use probe::{FnProbe, HealthProbe};
pub use result::{PhaseTimings, ProbeResult, MAX_DETAIL_LEN};
pub use sink::{AlertSink, LogSink};
pub use status::{aggregate, ParseStatusError, ProbeStatus};
pub use tcp::TcpProbe;
/// A credential whose `Debug` and `Display` print a mask: the workspace's one `Secret` type,
/// owned by the leaf crate `wedsync-secret`.
pub use wedsync_secret::Secret;

/// The current time in unix milliseconds (UTC).
pub fn now_ms() -> i64 {
    let now = time::OffsetDateTime::now_utc();
    (now.unix_timestamp_nanos() / 1_000_000) as i64
}

/// Makes a probe detail safe to store and show: secrets and personal data redacted, control
/// characters dropped, cut to [`MAX_DETAIL_LEN`] bytes on a character boundary.
pub fn sanitize_detail(text: &str) -> String {
    let clean = redact_text(text);
    let mut out: String = clean
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if out.len() > MAX_DETAIL_LEN {
        let mut cut = MAX_DETAIL_LEN;
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
        out.push('…');
    }
    out
}

fn redact_text(text: &str) -> String {
    wedsync_redact::text(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn details_never_keep_secrets_and_are_bounded() {
        let key = concat!("sk_", "live_", "51Habcdefghijklmnopqrstuvw");
        let d = sanitize_detail(&format!("Invalid API Key provided: {key}"));
        assert!(!d.contains("51Habcdefgh"), "{d}");
        let d = sanitize_detail("Authorization: Bearer abc.def");
        assert!(!d.contains("abc.def"), "{d}");
        let d = sanitize_detail(&"x".repeat(1000));
        assert!(d.len() <= MAX_DETAIL_LEN + '…'.len_utf8());
        assert_eq!(sanitize_detail("HTTP 503 from edge"), "HTTP 503 from edge");
        assert_eq!(sanitize_detail("a\nb"), "a b");
    }
}
