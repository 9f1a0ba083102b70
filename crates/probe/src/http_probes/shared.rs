//! What every HTTP probe shares: the client, settings, one fetch-and-classify path, the
//! request-id and rate-limit headers, and the builder methods.

use std::time::Duration;

use serde_json::Value;
use tokio::time::Instant;

use crate::{PhaseTimings, ProbeResult, ProbeStatus};

/// Largest body read from a probe answer.
pub(super) const MAX_BODY: usize = 64 * 1024;

/// Request-id headers, in order of preference.
pub(super) const REQUEST_ID_HEADERS: [&str; 5] = [
    "request-id",
    "twilio-request-id",
    "sb-request-id",
    "x-request-id",
    "cf-ray",
];

/// The process-wide HTTP client (rustls, connection pooling, no redirects), built once; clones
/// share one pool. Every probe and sink uses it unless given another.
pub fn default_client() -> reqwest::Client {
    static CLIENT: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    CLIENT
        .get_or_init(|| {
            reqwest::Client::builder()
                .user_agent(concat!("wedsync-probe/", env!("CARGO_PKG_VERSION")))
                .pool_idle_timeout(Duration::from_secs(30))
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap_or_default()
        })
        .clone()
}

/// Settings every HTTP probe shares.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// The client (share one across probes).
    pub client: reqwest::Client,
    /// Whole-request timeout (default 10 s).
    pub timeout: Duration,
    /// Answers slower than this are `degraded` (default 3 s).
    pub slow_after: Duration,
}

impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings {
            client: default_client(),
            timeout: Duration::from_secs(10),
            slow_after: Duration::from_secs(3),
        }
    }
}

/// What one HTTP exchange gave.
pub(super) struct Fetched {
    pub(super) status: u16,
    pub(super) headers: reqwest::header::HeaderMap,
    pub(super) body: Vec<u8>,
    pub(super) first_byte: Duration,
    pub(super) total: Duration,
}

impl Fetched {
    pub(super) fn json(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }
    pub(super) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    pub(super) fn is_html(&self) -> bool {
        self.header("content-type")
            .is_some_and(|c| c.contains("text/html"))
    }
    pub(super) fn request_id(&self) -> Option<String> {
        REQUEST_ID_HEADERS
            .iter()
            .find_map(|h| self.header(h))
            .map(|s| s.chars().take(80).collect())
    }
    /// `Retry-After` (seconds), else `ratelimit-reset` (seconds).
    pub(super) fn retry_after(&self) -> Option<Duration> {
        ["retry-after", "ratelimit-reset", "x-ratelimit-reset"]
            .iter()
            .filter_map(|h| self.header(h))
            .find_map(|v| v.trim().parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s >= 0.0 && *s < 86_400.0)
            .map(Duration::from_secs_f64)
    }
    /// A short error description from a provider's JSON error body (codes and types, never values).
    pub(super) fn error_hint(&self) -> String {
        let Some(v) = self.json() else {
            return if self.is_html() {
                "HTML error page (CDN edge)".into()
            } else {
                String::new()
            };
        };
        let mut parts = Vec::new();
        for p in [
            "/error/type",
            "/error/code",
            "/error/message",
            "/name",
            "/code",
            "/message",
            "/error_code",
            "/msg",
        ] {
            if let Some(x) = v.pointer(p) {
                let s = match x {
                    Value::String(s) => s.clone(),
                    Value::Number(n) => n.to_string(),
                    _ => continue,
                };
                parts.push(s.chars().take(100).collect::<String>());
            }
        }
        parts.join(": ")
    }
}

pub(super) fn describe_error(e: &reqwest::Error, timeout: Duration) -> String {
    if e.is_timeout() {
        format!("timed out after {} ms", timeout.as_millis())
    } else if e.is_connect() {
        "connection failed (connect/DNS/TLS)".into()
    } else if e.is_body() || e.is_decode() {
        "connection dropped while reading the answer".into()
    } else if e.is_request() {
        "request failed (connection reset?)".into()
    } else {
        "HTTP error".into()
    }
}

pub(super) async fn fetch(
    req: reqwest::RequestBuilder,
    timeout: Duration,
) -> Result<Fetched, String> {
    let start = Instant::now();
    let resp = req
        .timeout(timeout)
        .send()
        .await
        .map_err(|e| describe_error(&e, timeout))?;
    let first_byte = start.elapsed();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let mut body = Vec::new();
    let mut resp = resp;
    loop {
        match resp.chunk().await {
            Ok(Some(chunk)) => {
                let room = MAX_BODY.saturating_sub(body.len());
                body.extend_from_slice(&chunk[..chunk.len().min(room)]);
                if body.len() >= MAX_BODY {
                    break;
                }
            }
            Ok(None) => break,
            Err(e) => return Err(describe_error(&e, timeout)),
        }
    }
    Ok(Fetched {
        status,
        headers,
        body,
        first_byte,
        total: start.elapsed(),
    })
}

pub(super) fn base(url: &str) -> String {
    url.trim_end_matches('/').to_owned()
}

/// Builds the result for a transport error.
pub(super) fn transport_failure(service: &str, detail: String, elapsed: Duration) -> ProbeResult {
    ProbeResult::new(service, ProbeStatus::Unhealthy, detail).with_latency(elapsed)
}

/// Awaits `fetched`: `Ok` is the answer, whatever its status; `Err` is the probe's result for a
/// transport failure (timed from `start`).
pub(super) async fn fetch_any(
    service: &str,
    fetched: impl std::future::Future<Output = Result<Fetched, String>>,
    start: Instant,
) -> Result<Fetched, ProbeResult> {
    fetched
        .await
        .map_err(|d| transport_failure(service, d, start.elapsed()))
}

/// Awaits `fetched` and answers what every provider shares: a transport failure (timed from
/// `start`) and a non-2xx answer (`classify`, e.g. [`classify_common`]). `Ok` is a 2xx answer to
/// classify further; `Err` is the probe's result.
pub(super) async fn fetch_classified(
    service: &str,
    fetched: impl std::future::Future<Output = Result<Fetched, String>>,
    start: Instant,
    classify: fn(&str, &Fetched) -> Option<ProbeResult>,
) -> Result<Fetched, ProbeResult> {
    let f = fetch_any(service, fetched, start).await?;
    match classify(service, &f) {
        Some(r) => Err(r),
        None => Ok(f),
    }
}

/// [`fetch_classified`] with [`classify_common`].
pub(super) async fn fetch_2xx(
    service: &str,
    fetched: impl std::future::Future<Output = Result<Fetched, String>>,
    start: Instant,
) -> Result<Fetched, ProbeResult> {
    fetch_classified(service, fetched, start, classify_common).await
}

impl HttpSettings {
    /// `GET url`, authenticated by `auth`, within the timeout.
    pub(super) async fn get(
        &self,
        url: String,
        auth: impl FnOnce(reqwest::RequestBuilder) -> reqwest::RequestBuilder,
    ) -> Result<Fetched, String> {
        fetch(auth(self.client.get(url)), self.timeout).await
    }
}

/// Classifies what every provider shares (401/403, 429, 5xx, other non-2xx). `None` for 2xx.
pub(super) fn classify_common(service: &str, f: &Fetched) -> Option<ProbeResult> {
    let status = match f.status {
        200..=299 => return None,
        401 | 403 => ProbeStatus::AuthFailed,
        429 => ProbeStatus::RateLimited,
        _ => ProbeStatus::Unhealthy,
    };
    let hint = f.error_hint();
    let detail = if hint.is_empty() {
        format!("HTTP {}", f.status)
    } else {
        format!("HTTP {} {}", f.status, hint)
    };
    Some(finish(service, status, detail, f).with_retry_after(
        if status == ProbeStatus::RateLimited {
            f.retry_after()
        } else {
            None
        },
    ))
}

pub(super) fn finish(
    service: &str,
    status: ProbeStatus,
    detail: impl AsRef<str>,
    f: &Fetched,
) -> ProbeResult {
    let mut r = ProbeResult::new(service, status, detail)
        .with_latency(f.total)
        .with_http_status(f.status)
        .with_request_id(f.request_id());
    r.timings = PhaseTimings {
        connect: None,
        first_byte: Some(f.first_byte),
        body: Some(f.total.saturating_sub(f.first_byte)),
    };
    r
}

/// [`finish`] with [`ProbeStatus::Unhealthy`].
pub(super) fn unhealthy(service: &str, detail: impl AsRef<str>, f: &Fetched) -> ProbeResult {
    finish(service, ProbeStatus::Unhealthy, detail, f)
}

/// The JSON body of `f`, or the probe's `unhealthy` result saying `unparseable` when it is not
/// JSON.
#[allow(
    clippy::result_large_err,
    reason = "the Err is the probe's final answer, returned at once, like fetch_2xx's"
)]
pub(super) fn json_or_unhealthy(
    service: &str,
    f: &Fetched,
    unparseable: &str,
) -> Result<Value, ProbeResult> {
    f.json().ok_or_else(|| unhealthy(service, unparseable, f))
}

/// Downgrades a healthy result to `degraded` when it was slow.
pub(super) fn slow_check(mut r: ProbeResult, slow_after: Duration) -> ProbeResult {
    if r.status == ProbeStatus::Healthy && r.latency > slow_after {
        r.status = ProbeStatus::Degraded;
        r.detail = crate::sanitize_detail(&format!(
            "slow: {} ms (over {} ms); {}",
            r.latency.as_millis(),
            slow_after.as_millis(),
            r.detail
        ));
    }
    r
}

/// The `Ok` value of a `Result<_, ProbeResult>`, or returns the `Err` probe result from the
/// enclosing `check`.
macro_rules! or_return {
    ($result:expr) => {
        match $result {
            Ok(value) => value,
            Err(result) => return result,
        }
    };
}

/// The `HealthProbe` methods every HTTP probe answers the same way: its `service` field, the
/// timeout of its `http` settings and, when given, a floor on its interval in seconds.
macro_rules! probe_identity {
    () => {
        fn service(&self) -> &str {
            &self.service
        }
        fn timeout(&self) -> Duration {
            self.http.timeout
        }
    };
    (min_interval_secs = $secs:expr) => {
        probe_identity!();
        fn min_interval(&self) -> Duration {
            Duration::from_secs($secs)
        }
    };
}

macro_rules! common_probe_methods {
    (base_url) => {
        /// Sets the API base URL (fakes, proxies).
        pub fn base_url(mut self, url: impl AsRef<str>) -> Self {
            self.base_url = base(url.as_ref());
            self
        }
        common_probe_methods!();
    };
    () => {
        /// Replaces the shared HTTP settings (client, timeout, slow threshold).
        pub fn settings(mut self, s: HttpSettings) -> Self {
            self.http = s;
            self
        }
        /// Sets the timeout.
        pub fn timeout(mut self, t: Duration) -> Self {
            self.http.timeout = t;
            self
        }
        /// Answers slower than this are `degraded`.
        pub fn slow_after(mut self, t: Duration) -> Self {
            self.http.slow_after = t;
            self
        }
        /// Uses this client (share one across probes).
        pub fn client(mut self, c: reqwest::Client) -> Self {
            self.http.client = c;
            self
        }
        /// Sets the service name (default: the provider's).
        pub fn service_name(mut self, name: impl Into<String>) -> Self {
            self.service = name.into();
            self
        }
    };
}
