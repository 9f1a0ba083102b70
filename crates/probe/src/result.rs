//! [`ProbeResult`]: what one probe run found.

use std::time::Duration;

use crate::ProbeStatus;

/// Per-phase timings of one probe, where the transport can tell them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PhaseTimings {
    /// Time to establish the TCP connection (TCP probe; HTTP probes when measurable).
    pub connect: Option<Duration>,
    /// Time from sending the request until the response headers arrived.
    pub first_byte: Option<Duration>,
    /// Time to read the response body.
    pub body: Option<Duration>,
}

/// The classified outcome of one probe run.
///
/// Never holds a raw response body or a credential: `detail` is short and has passed through
/// [`crate::sanitize_detail`] (wedsync-redact).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ProbeResult {
    /// The service name this result belongs to (e.g. `"stripe"`).
    pub service: String,
    /// The classification.
    pub status: ProbeStatus,
    /// When the probe started, in unix milliseconds (UTC).
    pub checked_at_ms: i64,
    /// Wall time the probe took.
    pub latency: Duration,
    /// The HTTP status code, for HTTP probes that got an answer.
    pub http_status: Option<u16>,
    /// A short, redacted, human-readable explanation.
    pub detail: String,
    /// The provider's request id (Stripe `Request-Id`, Supabase `sb-request-id`, …), if given.
    pub request_id: Option<String>,
    /// Phase timings where available.
    pub timings: PhaseTimings,
    /// How long the provider asked us to wait (`Retry-After`, `ratelimit-reset`), if it did.
    pub retry_after: Option<Duration>,
}

/// Longest detail kept, in bytes (cut on a character boundary).
pub const MAX_DETAIL_LEN: usize = 240;

impl ProbeResult {
    /// A result with the given status and detail; the detail is sanitised and cut to
    /// [`MAX_DETAIL_LEN`].
    pub fn new(service: impl Into<String>, status: ProbeStatus, detail: impl AsRef<str>) -> Self {
        ProbeResult {
            service: service.into(),
            status,
            checked_at_ms: crate::now_ms(),
            latency: Duration::ZERO,
            http_status: None,
            detail: crate::sanitize_detail(detail.as_ref()),
            request_id: None,
            timings: PhaseTimings::default(),
            retry_after: None,
        }
    }

    /// Sets the latency.
    pub fn with_latency(mut self, latency: Duration) -> Self {
        self.latency = latency;
        self
    }

    /// Sets the HTTP status code.
    pub fn with_http_status(mut self, status: u16) -> Self {
        self.http_status = Some(status);
        self
    }

    /// Sets the provider request id (sanitised and bounded like the detail).
    pub fn with_request_id(mut self, id: Option<String>) -> Self {
        self.request_id = id.map(|id| crate::sanitize_detail(&id));
        self
    }

    /// Sets the retry-after hint.
    pub fn with_retry_after(mut self, d: Option<Duration>) -> Self {
        self.retry_after = d;
        self
    }

    /// Sets the start time (unix milliseconds).
    pub fn at(mut self, checked_at_ms: i64) -> Self {
        self.checked_at_ms = checked_at_ms;
        self
    }
}
