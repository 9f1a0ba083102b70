//! Built-in HTTP probes (feature `http`): Stripe, Twilio, Resend, Supabase auth and data, generic
//! HTTP with JSON-pointer conditions, and Statuspage (also Stripe's `/current`).
//!
//! Shared rules (`shared/providers.md` §1): credentials go in headers, never the URL; no response
//! body is stored (at most 64 KiB is read, parsed and dropped); every probe has a timeout; the
//! provider's request id is kept. Classification: timeouts, connect errors and 5xx (also a CDN's
//! HTML 5xx) are `unhealthy`; 401/403 `auth_failed`; 429 `rate_limited` with the `Retry-After`
//! or `ratelimit-reset` delay; answers slower than the probe's `slow_after` are `degraded`.

use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;
use tokio::time::Instant;

use crate::{HealthProbe, PhaseTimings, ProbeResult, ProbeStatus, Secret};

/// Largest body read from a probe answer.
const MAX_BODY: usize = 64 * 1024;

/// Request-id headers, in order of preference.
const REQUEST_ID_HEADERS: [&str; 5] = [
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
struct Fetched {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Vec<u8>,
    first_byte: Duration,
    total: Duration,
}

impl Fetched {
    fn json(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    fn is_html(&self) -> bool {
        self.header("content-type")
            .is_some_and(|c| c.contains("text/html"))
    }
    fn request_id(&self) -> Option<String> {
        REQUEST_ID_HEADERS
            .iter()
            .find_map(|h| self.header(h))
            .map(|s| s.chars().take(80).collect())
    }
    /// `Retry-After` (seconds), else `ratelimit-reset` (seconds).
    fn retry_after(&self) -> Option<Duration> {
        ["retry-after", "ratelimit-reset", "x-ratelimit-reset"]
            .iter()
            .filter_map(|h| self.header(h))
            .find_map(|v| v.trim().parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s >= 0.0 && *s < 86_400.0)
            .map(Duration::from_secs_f64)
    }
    /// A short error description from a provider's JSON error body (codes and types, never values).
    fn error_hint(&self) -> String {
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

fn describe_error(e: &reqwest::Error, timeout: Duration) -> String {
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

async fn fetch(req: reqwest::RequestBuilder, timeout: Duration) -> Result<Fetched, String> {
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

fn base(url: &str) -> String {
    url.trim_end_matches('/').to_owned()
}

/// Builds the result for a transport error.
fn transport_failure(service: &str, detail: String, elapsed: Duration) -> ProbeResult {
    ProbeResult::new(service, ProbeStatus::Unhealthy, detail).with_latency(elapsed)
}

/// Awaits `fetched`: `Ok` is the answer, whatever its status; `Err` is the probe's result for a
/// transport failure (timed from `start`).
async fn fetch_any(
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
async fn fetch_classified(
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
async fn fetch_2xx(
    service: &str,
    fetched: impl std::future::Future<Output = Result<Fetched, String>>,
    start: Instant,
) -> Result<Fetched, ProbeResult> {
    fetch_classified(service, fetched, start, classify_common).await
}

impl HttpSettings {
    /// `GET url`, authenticated by `auth`, within the timeout.
    async fn get(
        &self,
        url: String,
        auth: impl FnOnce(reqwest::RequestBuilder) -> reqwest::RequestBuilder,
    ) -> Result<Fetched, String> {
        fetch(auth(self.client.get(url)), self.timeout).await
    }
}

/// Classifies what every provider shares (401/403, 429, 5xx, other non-2xx). `None` for 2xx.
fn classify_common(service: &str, f: &Fetched) -> Option<ProbeResult> {
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

fn finish(service: &str, status: ProbeStatus, detail: impl AsRef<str>, f: &Fetched) -> ProbeResult {
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

/// Downgrades a healthy result to `degraded` when it was slow.
fn slow_check(mut r: ProbeResult, slow_after: Duration) -> ProbeResult {
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

// ---------------------------------------------------------------------------------------------
// Stripe
// ---------------------------------------------------------------------------------------------

/// Stripe: `GET /v1/balance` with a bearer key; `livemode` must equal the configured mode.
///
/// A `livemode` mismatch (a test key in production) is `auth_failed`: our configuration is wrong,
/// ops must know, and it is not a Stripe outage. With [`StripeProbe::check_account`],
/// `GET /v1/account` reporting `charges_enabled: false` makes the result `degraded`.
#[derive(Debug, Clone)]
pub struct StripeProbe {
    service: String,
    base_url: String,
    key: Secret,
    livemode: bool,
    check_account: bool,
    http: HttpSettings,
}

impl StripeProbe {
    /// A probe against `https://api.stripe.com` with `key` (`sk_…` or a restricted `rk_…`), expecting
    /// `livemode == live`.
    pub fn new(key: Secret, live: bool) -> Self {
        StripeProbe {
            service: "stripe".into(),
            base_url: "https://api.stripe.com".into(),
            key,
            livemode: live,
            check_account: false,
            http: HttpSettings::default(),
        }
    }
    /// Also checks `GET /v1/account` for `charges_enabled`.
    pub fn check_account(mut self, on: bool) -> Self {
        self.check_account = on;
        self
    }
    common_probe_methods!(base_url);

    async fn get(&self, path: &str) -> Result<Fetched, String> {
        let url = format!("{}{}", self.base_url, path);
        self.http
            .get(url, |req| req.bearer_auth(self.key.expose()))
            .await
    }
}

#[async_trait]
impl HealthProbe for StripeProbe {
    probe_identity!();
    async fn check(&self) -> ProbeResult {
        let start = Instant::now();
        let f = match fetch_2xx(&self.service, self.get("/v1/balance"), start).await {
            Ok(f) => f,
            Err(r) => return r,
        };
        let Some(v) = f.json() else {
            return finish(
                &self.service,
                ProbeStatus::Unhealthy,
                "unparseable balance answer",
                &f,
            );
        };
        if v.get("object").and_then(Value::as_str) != Some("balance") {
            return finish(
                &self.service,
                ProbeStatus::Unhealthy,
                "answer is not a balance object",
                &f,
            );
        }
        let live = v.get("livemode").and_then(Value::as_bool);
        if live != Some(self.livemode) {
            let want = if self.livemode { "live" } else { "test" };
            let got = match live {
                Some(true) => "live",
                Some(false) => "test",
                None => "unknown",
            };
            return finish(
                &self.service,
                ProbeStatus::AuthFailed,
                format!("livemode mismatch: expected {want} mode, key is {got} mode"),
                &f,
            );
        }
        let mut r = finish(&self.service, ProbeStatus::Healthy, "balance readable", &f);
        if self.check_account {
            match self.get("/v1/account").await {
                Ok(a) if a.status == 200 => {
                    if a.json()
                        .and_then(|v| v.get("charges_enabled").and_then(Value::as_bool))
                        == Some(false)
                    {
                        r.status = ProbeStatus::Degraded;
                        r.detail = "account has charges_enabled: false".into();
                    }
                }
                Ok(a) => {
                    if let Some(x) = classify_common(&self.service, &a) {
                        return x;
                    }
                }
                Err(d) => return transport_failure(&self.service, d, start.elapsed()),
            }
            r.latency = start.elapsed();
        }
        slow_check(r, self.http.slow_after)
    }
}

// ---------------------------------------------------------------------------------------------
// Twilio
// ---------------------------------------------------------------------------------------------

/// Twilio: `GET /2010-04-01/Accounts/{sid}.json` with HTTP Basic; `status` must be `active`
/// (`suspended`/`closed` are `unhealthy`). With a balance floor, `Balance.json` below it is
/// `degraded`. The account body (which holds the auth token) is parsed and dropped, never kept.
#[derive(Debug, Clone)]
pub struct TwilioProbe {
    service: String,
    base_url: String,
    account_sid: String,
    username: String,
    secret: Secret,
    balance_floor: Option<f64>,
    http: HttpSettings,
}

impl TwilioProbe {
    /// A probe of `account_sid` authenticating as `username` (the account SID, or an API key
    /// `SK…`) with `secret` (auth token or API key secret).
    pub fn new(
        account_sid: impl Into<String>,
        username: impl Into<String>,
        secret: Secret,
    ) -> Self {
        TwilioProbe {
            service: "twilio".into(),
            base_url: "https://api.twilio.com".into(),
            account_sid: account_sid.into(),
            username: username.into(),
            secret,
            balance_floor: None,
            http: HttpSettings::default(),
        }
    }
    /// A balance below `floor` (account currency) is `degraded`.
    pub fn balance_floor(mut self, floor: f64) -> Self {
        self.balance_floor = Some(floor);
        self
    }
    common_probe_methods!(base_url);

    async fn get(&self, path: &str) -> Result<Fetched, String> {
        let url = format!("{}{}", self.base_url, path);
        self.http
            .get(url, |req| {
                req.basic_auth(&self.username, Some(self.secret.expose()))
            })
            .await
    }
}

#[async_trait]
impl HealthProbe for TwilioProbe {
    probe_identity!();
    async fn check(&self) -> ProbeResult {
        let start = Instant::now();
        let path = format!("/2010-04-01/Accounts/{}.json", self.account_sid);
        let f = match fetch_2xx(&self.service, self.get(&path), start).await {
            Ok(f) => f,
            Err(r) => return r,
        };
        let status = f
            .json()
            .and_then(|v| v.get("status").and_then(Value::as_str).map(str::to_owned));
        let mut r = match status.as_deref() {
            Some("active") => finish(&self.service, ProbeStatus::Healthy, "account active", &f),
            Some(s @ ("suspended" | "closed")) => {
                return finish(
                    &self.service,
                    ProbeStatus::Unhealthy,
                    format!("account {s}"),
                    &f,
                )
            }
            Some(other) => finish(
                &self.service,
                ProbeStatus::Degraded,
                format!(
                    "account status {:?}",
                    other.chars().take(20).collect::<String>()
                ),
                &f,
            ),
            None => {
                return finish(
                    &self.service,
                    ProbeStatus::Unhealthy,
                    "unparseable account answer",
                    &f,
                )
            }
        };
        if let Some(floor) = self.balance_floor {
            let path = format!("/2010-04-01/Accounts/{}/Balance.json", self.account_sid);
            match self.get(&path).await {
                Ok(b) => {
                    if let Some(x) = classify_common(&self.service, &b) {
                        return x;
                    }
                    let bal = b.json().and_then(|v| match v.get("balance") {
                        Some(Value::String(s)) => s.trim().parse::<f64>().ok(),
                        Some(Value::Number(n)) => n.as_f64(),
                        _ => None,
                    });
                    match bal {
                        Some(x) if x < floor => {
                            r.status = ProbeStatus::Degraded;
                            r.detail = format!("balance {x:.2} below floor {floor:.2}");
                        }
                        Some(_) => {}
                        None => {
                            r.status = ProbeStatus::Degraded;
                            r.detail = "balance unreadable".into();
                        }
                    }
                }
                Err(d) => return transport_failure(&self.service, d, start.elapsed()),
            }
            r.latency = start.elapsed();
        }
        slow_check(r, self.http.slow_after)
    }
}

// ---------------------------------------------------------------------------------------------
// Resend
// ---------------------------------------------------------------------------------------------

/// Resend: `GET /domains` with a full-access key; the configured sending domain must be
/// `verified` (`pending`/`not_started`/`partially_verified` are `degraded`, `failed` is
/// `unhealthy`, absent is `auth_failed` — our configuration). Resend's rate limit is shared with
/// production email, so [`HealthProbe::min_interval`] is 60 s and, when the last answer said
/// `ratelimit-remaining: 0`, the next check is skipped (reported `rate_limited`) until
/// `ratelimit-reset` has passed.
#[derive(Debug)]
pub struct ResendProbe {
    service: String,
    base_url: String,
    key: Secret,
    domain: String,
    http: HttpSettings,
    exhausted_until: Mutex<Option<Instant>>,
}

impl ResendProbe {
    /// A probe with `key` checking `domain`.
    pub fn new(key: Secret, domain: impl Into<String>) -> Self {
        ResendProbe {
            service: "resend".into(),
            base_url: "https://api.resend.com".into(),
            key,
            domain: domain.into(),
            http: HttpSettings::default(),
            exhausted_until: Mutex::new(None),
        }
    }
    common_probe_methods!(base_url);
}

#[async_trait]
impl HealthProbe for ResendProbe {
    probe_identity!(min_interval_secs = 60);
    async fn check(&self) -> ProbeResult {
        let now = Instant::now();
        let skip = {
            let g = self
                .exhausted_until
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            g.filter(|until| *until > now)
        };
        if let Some(until) = skip {
            return ProbeResult::new(
                &self.service,
                ProbeStatus::RateLimited,
                "skipped: ratelimit-remaining was 0",
            )
            .with_retry_after(Some(until - now));
        }
        let url = format!("{}/domains", self.base_url);
        let fetched = self.http.get(url, |req| req.bearer_auth(self.key.expose()));
        let f = match fetch_any(&self.service, fetched, now).await {
            Ok(f) => f,
            Err(r) => return r,
        };
        {
            let mut g = self
                .exhausted_until
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            let remaining = f
                .header("ratelimit-remaining")
                .and_then(|v| v.trim().parse::<u64>().ok());
            *g = if remaining == Some(0) {
                let reset = f
                    .header("ratelimit-reset")
                    .and_then(|v| v.trim().parse::<f64>().ok())
                    .filter(|s| s.is_finite() && *s >= 0.0 && *s < 3600.0)
                    .unwrap_or(1.0);
                Some(Instant::now() + Duration::from_secs_f64(reset))
            } else {
                None
            };
        }
        if let Some(r) = classify_common(&self.service, &f) {
            return r;
        }
        let Some(v) = f.json() else {
            return finish(
                &self.service,
                ProbeStatus::Unhealthy,
                "unparseable domains answer",
                &f,
            );
        };
        let Some(list) = v.get("data").and_then(Value::as_array) else {
            return finish(
                &self.service,
                ProbeStatus::Unhealthy,
                "answer has no domain list",
                &f,
            );
        };
        let found = list.iter().find(|d| {
            d.get("name")
                .and_then(Value::as_str)
                .is_some_and(|n| n.eq_ignore_ascii_case(&self.domain))
        });
        let r = match found.and_then(|d| d.get("status")).and_then(Value::as_str) {
            None => finish(
                &self.service,
                ProbeStatus::AuthFailed,
                format!("sending domain {} not found in the account", self.domain),
                &f,
            ),
            Some("verified") => finish(&self.service, ProbeStatus::Healthy, "domain verified", &f),
            Some("failed") => finish(
                &self.service,
                ProbeStatus::Unhealthy,
                format!("domain {} verification failed", self.domain),
                &f,
            ),
            Some(s) => finish(
                &self.service,
                ProbeStatus::Degraded,
                format!(
                    "domain {} is {}",
                    self.domain,
                    s.chars().take(30).collect::<String>()
                ),
                &f,
            ),
        };
        slow_check(r, self.http.slow_after)
    }
}

// ---------------------------------------------------------------------------------------------
// Supabase
// ---------------------------------------------------------------------------------------------

impl HttpSettings {
    /// `GET url` from Supabase with `key`: `Ok` is a 2xx answer; `Err` is the probe's result for
    /// a transport failure (timed from `start`) or an error answer ([`supabase_error`]).
    async fn fetch_supabase(
        &self,
        service: &str,
        url: String,
        key: &Secret,
        start: Instant,
    ) -> Result<Fetched, ProbeResult> {
        let fetched = self.get(url, |req| {
            let req = req.header("apikey", key.expose());
            // legacy JWT keys (anon/service_role) also need the bearer header
            if key.expose().starts_with("eyJ") {
                req.bearer_auth(key.expose())
            } else {
                req
            }
        });
        fetch_classified(service, fetched, start, supabase_error).await
    }
}

fn supabase_error(service: &str, f: &Fetched) -> Option<ProbeResult> {
    let mut r = classify_common(service, f)?;
    if let Some(code) = f.header("sb-error-code") {
        r.detail = crate::sanitize_detail(&format!("HTTP {} {}", f.status, code));
    }
    if f.status == 503
        && f.json()
            .and_then(|v| v.get("code").and_then(Value::as_str).map(str::to_owned))
            .as_deref()
            == Some("PGRST002")
    {
        r.detail = "HTTP 503 PGRST002: database unreachable (the API gateway is up)".into();
    }
    Some(r)
}

/// Supabase auth: `GET {project}/auth/v1/health` with the `apikey` header; 200 with GoTrue's
/// version answer is healthy.
#[derive(Debug, Clone)]
pub struct SupabaseAuthProbe {
    service: String,
    project_url: String,
    key: Secret,
    http: HttpSettings,
}

impl SupabaseAuthProbe {
    /// A probe of `project_url` (`https://<ref>.supabase.co`) with a publishable or anon key.
    pub fn new(project_url: impl AsRef<str>, key: Secret) -> Self {
        SupabaseAuthProbe {
            service: "supabase_auth".into(),
            project_url: base(project_url.as_ref()),
            key,
            http: HttpSettings::default(),
        }
    }
    common_probe_methods!();
}

#[async_trait]
impl HealthProbe for SupabaseAuthProbe {
    probe_identity!();
    async fn check(&self) -> ProbeResult {
        let start = Instant::now();
        let url = format!("{}/auth/v1/health", self.project_url);
        let f = match self
            .http
            .fetch_supabase(&self.service, url, &self.key, start)
            .await
        {
            Ok(f) => f,
            Err(r) => return r,
        };
        let r = match f.json() {
            Some(v) if v.get("version").is_some() || v.get("name").is_some() => {
                finish(&self.service, ProbeStatus::Healthy, "auth healthy", &f)
            }
            _ => finish(
                &self.service,
                ProbeStatus::Unhealthy,
                "unexpected auth health answer",
                &f,
            ),
        };
        slow_check(r, self.http.slow_after)
    }
}

/// Supabase data: `GET {project}/rest/v1/{table}?select=id&limit=1` with the `apikey` header
/// (and `Authorization: Bearer` for legacy JWT keys); 200 with a JSON array is healthy; 503
/// `PGRST002` means the database path is down while the gateway is up (`unhealthy`).
#[derive(Debug, Clone)]
pub struct SupabaseDataProbe {
    service: String,
    project_url: String,
    key: Secret,
    table: String,
    http: HttpSettings,
}

impl SupabaseDataProbe {
    /// A probe reading one id from `table`.
    pub fn new(project_url: impl AsRef<str>, key: Secret, table: impl Into<String>) -> Self {
        SupabaseDataProbe {
            service: "supabase_db".into(),
            project_url: base(project_url.as_ref()),
            key,
            table: table.into(),
            http: HttpSettings::default(),
        }
    }
    common_probe_methods!();
}

#[async_trait]
impl HealthProbe for SupabaseDataProbe {
    probe_identity!();
    async fn check(&self) -> ProbeResult {
        let start = Instant::now();
        let url = format!(
            "{}/rest/v1/{}?select=id&limit=1",
            self.project_url, self.table
        );
        let f = match self
            .http
            .fetch_supabase(&self.service, url, &self.key, start)
            .await
        {
            Ok(f) => f,
            Err(r) => return r,
        };
        let r = match f.json() {
            Some(Value::Array(_)) => {
                finish(&self.service, ProbeStatus::Healthy, "table readable", &f)
            }
            _ => finish(
                &self.service,
                ProbeStatus::Unhealthy,
                "unexpected data answer",
                &f,
            ),
        };
        slow_check(r, self.http.slow_after)
    }
}

// ---------------------------------------------------------------------------------------------
// Generic HTTP
// ---------------------------------------------------------------------------------------------

/// A comparison in a [`Condition`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// Equal (JSON equality; numbers compared as numbers).
    Eq,
    /// Not equal.
    Ne,
    /// Less than (numbers).
    Lt,
    /// Less or equal (numbers).
    Le,
    /// Greater than (numbers).
    Gt,
    /// Greater or equal (numbers).
    Ge,
    /// The string or array contains the value.
    Contains,
    /// The pointer resolves.
    Exists,
    /// The pointer does not resolve.
    Missing,
}

/// A condition on the JSON body: an RFC 6901 pointer, an operator and a JSON value — the useful
/// core of Gatus' conditions (`[BODY].status == UP` is `/status == "UP"`).
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    /// The JSON pointer (`""` is the whole body).
    pub pointer: String,
    /// The comparison.
    pub op: Op,
    /// The value compared with (ignored by `Exists`/`Missing`).
    pub value: Value,
}

/// An error parsing a [`Condition`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid condition: {0}")]
pub struct ConditionError(String);

impl std::str::FromStr for Condition {
    type Err = ConditionError;
    /// Parses `"<pointer> <op> <json>"`, `"<pointer> exists"` or `"<pointer> missing"`; ops are
    /// `==`, `!=`, `<`, `<=`, `>`, `>=`, `contains`. A value that is not JSON is taken as a string.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let (pointer, rest) = s
            .split_once(char::is_whitespace)
            .ok_or_else(|| ConditionError(s.into()))?;
        if !(pointer.is_empty() || pointer.starts_with('/')) {
            return Err(ConditionError("a pointer starts with '/'".into()));
        }
        let rest = rest.trim();
        let (op, value) = match rest.split_once(char::is_whitespace) {
            Some((op, v)) => (op, v.trim()),
            None => (rest, ""),
        };
        let op = match op {
            "==" => Op::Eq,
            "!=" => Op::Ne,
            "<" => Op::Lt,
            "<=" => Op::Le,
            ">" => Op::Gt,
            ">=" => Op::Ge,
            "contains" => Op::Contains,
            "exists" => Op::Exists,
            "missing" => Op::Missing,
            other => return Err(ConditionError(format!("unknown operator {other:?}"))),
        };
        let value = if matches!(op, Op::Exists | Op::Missing) {
            Value::Null
        } else if value.is_empty() {
            return Err(ConditionError("missing value".into()));
        } else {
            serde_json::from_str(value).unwrap_or_else(|_| Value::String(value.to_owned()))
        };
        Ok(Condition {
            pointer: pointer.to_owned(),
            op,
            value,
        })
    }
}

impl Condition {
    /// Whether `body` satisfies the condition.
    pub fn holds(&self, body: &Value) -> bool {
        let got = body.pointer(&self.pointer);
        let num = |v: &Value| match v {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => s.trim().parse::<f64>().ok(),
            _ => None,
        };
        let cmp = |f: fn(f64, f64) -> bool| match (got.and_then(num), num(&self.value)) {
            (Some(a), Some(b)) => f(a, b),
            _ => false,
        };
        match self.op {
            Op::Exists => got.is_some(),
            Op::Missing => got.is_none(),
            Op::Eq => got.is_some_and(|g| g == &self.value || cmp_eq_num(g, &self.value)),
            Op::Ne => !got.is_some_and(|g| g == &self.value || cmp_eq_num(g, &self.value)),
            Op::Lt => cmp(|a, b| a < b),
            Op::Le => cmp(|a, b| a <= b),
            Op::Gt => cmp(|a, b| a > b),
            Op::Ge => cmp(|a, b| a >= b),
            Op::Contains => match (got, &self.value) {
                (Some(Value::String(h)), Value::String(n)) => h.contains(n.as_str()),
                (Some(Value::Array(a)), v) => a.contains(v),
                _ => false,
            },
        }
    }
}

fn cmp_eq_num(a: &Value, b: &Value) -> bool {
    matches!((a.as_f64(), b.as_f64()), (Some(x), Some(y)) if x == y)
}

/// A generic HTTP check: method, headers (values are secrets), accepted status codes, maximum
/// latency (slower is `degraded`) and JSON-pointer [`Condition`]s on the body (a failed condition
/// is `unhealthy`). 401/403 are `auth_failed` and 429 `rate_limited` unless listed as accepted.
#[derive(Debug, Clone)]
pub struct HttpProbe {
    service: String,
    url: String,
    method: reqwest::Method,
    headers: Vec<(String, Secret)>,
    accepted: Vec<u16>,
    conditions: Vec<Condition>,
    http: HttpSettings,
}

impl HttpProbe {
    /// A `GET url` probe accepting any 2xx.
    pub fn new(service: impl Into<String>, url: impl Into<String>) -> Self {
        HttpProbe {
            service: service.into(),
            url: url.into(),
            method: reqwest::Method::GET,
            headers: Vec::new(),
            accepted: Vec::new(),
            conditions: Vec::new(),
            http: HttpSettings::default(),
        }
    }
    /// Sets the method.
    pub fn method(mut self, m: reqwest::Method) -> Self {
        self.method = m;
        self
    }
    /// Adds a request header (the value is treated as a secret).
    pub fn header(mut self, name: impl Into<String>, value: Secret) -> Self {
        // exact capacity: a probe lives as long as the monitor, 10,000 of them at once
        self.headers.reserve_exact(1);
        self.headers.push((name.into(), value));
        self
    }
    /// Accepts exactly these status codes (default: any 2xx).
    pub fn accept(mut self, statuses: impl IntoIterator<Item = u16>) -> Self {
        self.accepted = statuses.into_iter().collect();
        self
    }
    /// Adds a body condition.
    pub fn condition(mut self, c: Condition) -> Self {
        // exact capacity (a first `push` would make room for 4)
        self.conditions.reserve_exact(1);
        self.conditions.push(c);
        self
    }
    /// Answers slower than `d` are `degraded` (same as `slow_after`).
    pub fn max_latency(self, d: Duration) -> Self {
        self.slow_after(d)
    }
    /// Sets the URL.
    pub fn url(mut self, url: impl Into<String>) -> Self {
        self.url = url.into();
        self
    }
    common_probe_methods!();
}

#[async_trait]
impl HealthProbe for HttpProbe {
    probe_identity!();
    async fn check(&self) -> ProbeResult {
        let start = Instant::now();
        let mut req = self.http.client.request(self.method.clone(), &self.url);
        for (k, v) in &self.headers {
            req = req.header(k.as_str(), v.expose());
        }
        let f = match fetch_any(&self.service, fetch(req, self.http.timeout), start).await {
            Ok(f) => f,
            Err(r) => return r,
        };
        let accepted = if self.accepted.is_empty() {
            (200..300).contains(&f.status)
        } else {
            self.accepted.contains(&f.status)
        };
        if !accepted {
            if let Some(r) = classify_common(&self.service, &f) {
                return r;
            }
            return finish(
                &self.service,
                ProbeStatus::Unhealthy,
                format!("HTTP {} not accepted", f.status),
                &f,
            );
        }
        if !self.conditions.is_empty() {
            let Some(body) = f.json() else {
                return finish(
                    &self.service,
                    ProbeStatus::Unhealthy,
                    "body is not JSON",
                    &f,
                );
            };
            if let Some(c) = self.conditions.iter().find(|c| !c.holds(&body)) {
                return finish(
                    &self.service,
                    ProbeStatus::Unhealthy,
                    format!("condition failed: {} {:?} {}", c.pointer, c.op, c.value),
                    &f,
                );
            }
        }
        let r = finish(
            &self.service,
            ProbeStatus::Healthy,
            format!("HTTP {}", f.status),
            &f,
        );
        slow_check(r, self.http.slow_after)
    }
}

// ---------------------------------------------------------------------------------------------
// Statuspage
// ---------------------------------------------------------------------------------------------

/// Which status-page dialect a [`StatuspageProbe`] speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusPageKind {
    /// Atlassian Statuspage (`/api/v2/status.json`, `/api/v2/summary.json`).
    Atlassian,
    /// Stripe's `/current` (`UptimeStatus: up|degraded|down`).
    StripeCurrent,
}

/// A provider status page, as a second opinion. Atlassian: without a component filter the page
/// indicator decides (`none` healthy, `minor`/`maintenance` degraded, `major`/`critical`
/// unhealthy); with one, the worst matching component (`operational` healthy,
/// `degraded_performance`/`partial_outage`/`under_maintenance`/unknown degraded, `major_outage`
/// unhealthy). Stripe: `up`/`degraded`/`down`.
#[derive(Debug, Clone)]
pub struct StatuspageProbe {
    service: String,
    base_url: String,
    kind: StatusPageKind,
    components: Vec<String>,
    http: HttpSettings,
}

impl StatuspageProbe {
    /// An Atlassian Statuspage probe of `base_url` (e.g. `https://status.twilio.com`).
    pub fn atlassian(service: impl Into<String>, base_url: impl AsRef<str>) -> Self {
        StatuspageProbe {
            service: service.into(),
            base_url: base(base_url.as_ref()),
            kind: StatusPageKind::Atlassian,
            components: Vec::new(),
            http: HttpSettings::default(),
        }
    }
    /// Stripe's status page (`{base_url}/current`).
    pub fn stripe(service: impl Into<String>, base_url: impl AsRef<str>) -> Self {
        StatuspageProbe {
            kind: StatusPageKind::StripeCurrent,
            ..Self::atlassian(service, base_url)
        }
    }
    /// Only these components (names, case-insensitive) count.
    pub fn components<S: Into<String>>(mut self, names: impl IntoIterator<Item = S>) -> Self {
        self.components = names.into_iter().map(Into::into).collect();
        self
    }
    common_probe_methods!();
}

#[async_trait]
impl HealthProbe for StatuspageProbe {
    probe_identity!(min_interval_secs = 60);
    async fn check(&self) -> ProbeResult {
        let start = Instant::now();
        let path = match (self.kind, self.components.is_empty()) {
            (StatusPageKind::StripeCurrent, _) => "/current",
            (StatusPageKind::Atlassian, true) => "/api/v2/status.json",
            (StatusPageKind::Atlassian, false) => "/api/v2/summary.json",
        };
        let fetched = self
            .http
            .get(format!("{}{}", self.base_url, path), |req| req);
        let f = match fetch_2xx(&self.service, fetched, start).await {
            Ok(f) => f,
            Err(r) => return r,
        };
        let Some(v) = f.json() else {
            return finish(
                &self.service,
                ProbeStatus::Unhealthy,
                "unparseable status page",
                &f,
            );
        };
        let (status, detail) = match self.kind {
            StatusPageKind::StripeCurrent => {
                let s = v.get("UptimeStatus").and_then(Value::as_str).unwrap_or("");
                let st = match s {
                    "up" => ProbeStatus::Healthy,
                    "down" => ProbeStatus::Unhealthy,
                    _ => ProbeStatus::Degraded,
                };
                let msg = v.get("message").and_then(Value::as_str).unwrap_or(s);
                (st, msg.chars().take(120).collect::<String>())
            }
            StatusPageKind::Atlassian if self.components.is_empty() => {
                let ind = v
                    .pointer("/status/indicator")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                let st = match ind {
                    "none" => ProbeStatus::Healthy,
                    "major" | "critical" => ProbeStatus::Unhealthy,
                    _ => ProbeStatus::Degraded,
                };
                let desc = v
                    .pointer("/status/description")
                    .and_then(Value::as_str)
                    .unwrap_or(ind);
                (st, desc.chars().take(120).collect())
            }
            StatusPageKind::Atlassian => {
                let comps = v
                    .get("components")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                let mut worst = ProbeStatus::Healthy;
                let mut notes = Vec::new();
                let mut matched = 0;
                for c in &comps {
                    let name = c.get("name").and_then(Value::as_str).unwrap_or("");
                    if !self.components.iter().any(|w| w.eq_ignore_ascii_case(name)) {
                        continue;
                    }
                    matched += 1;
                    let cs = c.get("status").and_then(Value::as_str).unwrap_or("");
                    let st = match cs {
                        "operational" => ProbeStatus::Healthy,
                        "major_outage" => ProbeStatus::Unhealthy,
                        _ => ProbeStatus::Degraded,
                    };
                    if st != ProbeStatus::Healthy {
                        notes.push(format!("{name}: {cs}"));
                    }
                    worst = crate::aggregate([worst, st]);
                }
                if matched == 0 {
                    (
                        ProbeStatus::Degraded,
                        "no configured component on the page".to_owned(),
                    )
                } else if notes.is_empty() {
                    (
                        ProbeStatus::Healthy,
                        format!("{matched} components operational"),
                    )
                } else {
                    (worst, notes.join("; "))
                }
            }
        };
        finish(&self.service, status, detail, &f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn conditions_parse_and_evaluate() {
        let body =
            json!({"status":"UP","db":{"latency_ms":12,"ok":true},"tags":["a","b"],"v":"2.1"});
        let holds = |s: &str| s.parse::<Condition>().unwrap().holds(&body);
        assert!(holds("/status == \"UP\""));
        assert!(holds("/status == UP"), "bare strings are strings");
        assert!(!holds("/status != UP"));
        assert!(holds("/db/latency_ms < 100"));
        assert!(!holds("/db/latency_ms > 100"));
        assert!(holds("/db/latency_ms >= 12"));
        assert!(holds("/db/ok == true"));
        assert!(holds("/tags contains \"b\""));
        assert!(holds("/status contains U"));
        assert!(holds("/db exists"));
        assert!(holds("/nope missing"));
        assert!(!holds("/nope == 1"));
        assert!(holds("/v > 2"), "numeric strings compare as numbers");
        assert!("status == UP".parse::<Condition>().is_err());
        assert!("/a ~= 1".parse::<Condition>().is_err());
        assert!("/a ==".parse::<Condition>().is_err());
    }
}
