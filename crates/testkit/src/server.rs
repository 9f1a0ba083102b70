//! The machinery every fake shares: a hyper 1.x HTTP/1 server on `127.0.0.1:0`, the scripting
//! handle, and the request log.

use std::collections::hash_map::RandomState;
use std::collections::VecDeque;
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue, CONTENT_TYPE};
use http::{HeaderMap, Method, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming as HyperIncoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio::task::{JoinHandle, JoinSet};

use crate::Scenario;

/// Largest request body a fake accepts; larger bodies get 413.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// How many requests a handle keeps in its log by default (the counter is not bounded).
pub const DEFAULT_LOG_CAPACITY: usize = 1_000;

/// Header names whose values never reach the request log (compared case-insensitively).
/// `Authorization` keeps its scheme (`Bearer ***`, `Basic ***`) so tests can check it.
pub const MASKED_HEADERS: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "apikey",
    "cookie",
    "set-cookie",
    "x-api-key",
];

/// One request a fake received, as kept in its log: secrets in headers are masked.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RecordedRequest {
    /// Position in this handle's stream of requests (0-based; not reset by `clear_requests`).
    pub seq: u64,
    /// HTTP method, e.g. `GET`.
    pub method: String,
    /// Path without the query, e.g. `/v1/balance`.
    pub path: String,
    /// The raw query string without `?`, if any.
    pub query: Option<String>,
    /// Header names (lowercase) and values, in arrival order; values of [`MASKED_HEADERS`] are
    /// replaced by `***` (an `Authorization` header keeps its scheme: `Bearer ***`).
    pub headers: Vec<(String, String)>,
    /// The raw request body.
    pub body: Bytes,
    /// When the request was read.
    pub received_at: SystemTime,
}

impl RecordedRequest {
    /// The first value of header `name` (case-insensitive).
    #[must_use]
    pub fn header(&self, name: &str) -> Option<&str> {
        crate::fake::header_value(&self.headers, name)
    }

    /// The body as UTF-8 text, if it is.
    #[must_use]
    pub fn body_text(&self) -> Option<&str> {
        std::str::from_utf8(&self.body).ok()
    }

    /// The body parsed as JSON, if it is.
    #[must_use]
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }
}

/// The shared, cloneable scripting handle of one fake: set its [`Scenario`] and read what it
/// received, from any task or thread.
#[derive(Clone)]
pub struct FakeHandle {
    inner: Arc<HandleInner>,
}

struct HandleInner {
    name: &'static str,
    state: Mutex<HandleState>,
    /// Woken on every recorded request.
    notify: Notify,
    /// Woken on every scenario change.
    changed: Notify,
}

struct HandleState {
    scenario: Scenario,
    /// Bumped on every scenario change.
    generation: u64,
    calls_since_set: u64,
    total: u64,
    log: VecDeque<RecordedRequest>,
    capacity: usize,
}

impl fmt::Debug for FakeHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.lock();
        f.debug_struct("FakeHandle")
            .field("name", &self.inner.name)
            .field("scenario", &state.scenario)
            .field("requests", &state.total)
            .finish()
    }
}

impl FakeHandle {
    /// A new handle answering [`Scenario::Healthy`]; `name` labels it in `Debug` output.
    #[must_use]
    pub fn new(name: &'static str) -> Self {
        Self {
            inner: Arc::new(HandleInner {
                name,
                state: Mutex::new(HandleState {
                    scenario: Scenario::Healthy,
                    generation: 0,
                    calls_since_set: 0,
                    total: 0,
                    log: VecDeque::new(),
                    capacity: DEFAULT_LOG_CAPACITY,
                }),
                notify: Notify::new(),
                changed: Notify::new(),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, HandleState> {
        self.inner
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The label given at creation (e.g. `"stripe"`).
    #[must_use]
    pub fn name(&self) -> &'static str {
        self.inner.name
    }

    /// Answer the next requests according to `scenario`. Call counting for
    /// [`Scenario::Flapping`] and [`Scenario::FailTimes`] restarts at 0.
    /// Requests hanging under [`Scenario::Hanging`] are then closed without a response.
    pub fn set_scenario(&self, scenario: Scenario) {
        {
            let mut state = self.lock();
            state.scenario = scenario;
            state.calls_since_set = 0;
            state.generation += 1;
        }
        self.inner.changed.notify_waiters();
    }

    /// The scenario currently set.
    #[must_use]
    pub fn scenario(&self) -> Scenario {
        self.lock().scenario.clone()
    }

    /// How many requests this handle received since it was created (never reset).
    #[must_use]
    pub fn request_count(&self) -> u64 {
        self.lock().total
    }

    /// The logged requests, oldest first (at most the log capacity, newest kept).
    #[must_use]
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.lock().log.iter().cloned().collect()
    }

    /// The most recent logged request.
    #[must_use]
    pub fn last_request(&self) -> Option<RecordedRequest> {
        self.lock().log.back().cloned()
    }

    /// Empty the request log (the counter keeps counting).
    pub fn clear_requests(&self) {
        self.lock().log.clear();
    }

    /// Back to [`Scenario::Healthy`] with an empty log.
    pub fn reset(&self) {
        {
            let mut state = self.lock();
            state.scenario = Scenario::Healthy;
            state.calls_since_set = 0;
            state.generation += 1;
            state.log.clear();
        }
        self.inner.changed.notify_waiters();
    }

    /// Keep at most `capacity` requests in the log (0 keeps none; the counter still counts).
    pub fn set_log_capacity(&self, capacity: usize) {
        let mut state = self.lock();
        state.capacity = capacity;
        while state.log.len() > capacity {
            state.log.pop_front();
        }
    }

    /// Wait until [`request_count`](Self::request_count) reaches `count`, at most `timeout`.
    /// Returns whether it did.
    pub async fn wait_for_requests(&self, count: u64, timeout: Duration) -> bool {
        self.wait_until(timeout, || self.request_count() >= count)
            .await
    }

    /// Wait until `done()` holds, at most `timeout`; whether it did. `done` is re-checked after
    /// every request has been logged and again after its responder has run, so a receiver's
    /// record of what it accepted is never missed.
    pub(crate) async fn wait_until(&self, timeout: Duration, done: impl Fn() -> bool) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.inner.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if done() {
                return true;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return done();
            }
        }
    }

    /// Wait until the scenario changes after `generation`.
    async fn scenario_changed_since(&self, generation: u64) {
        loop {
            let changed = self.inner.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            if self.lock().generation != generation {
                return;
            }
            changed.await;
        }
    }

    /// Log the request; return the scenario that applies to it and the scenario generation.
    pub(crate) fn record(&self, req: &Incoming) -> (Scenario, u64) {
        let scenario = {
            let mut state = self.lock();
            let seq = state.total;
            state.total += 1;
            let call = state.calls_since_set;
            state.calls_since_set += 1;
            if state.capacity > 0 {
                if state.log.len() >= state.capacity {
                    state.log.pop_front();
                }
                state.log.push_back(req.to_record(seq));
            }
            (state.scenario.resolve(call), state.generation)
        };
        self.inner.notify.notify_waiters();
        scenario
    }
}

/// A request as the responders see it (body fully read).
pub(crate) struct Incoming {
    pub(crate) method: Method,
    pub(crate) path: String,
    pub(crate) query: Option<String>,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
}

impl Incoming {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The `Authorization: Bearer <token>` token.
    pub(crate) fn bearer(&self) -> Option<&str> {
        let value = self.header("authorization")?;
        let (scheme, token) = value.split_once(' ')?;
        scheme
            .eq_ignore_ascii_case("bearer")
            .then_some(token.trim())
    }

    /// The `Authorization: Basic` user and password.
    pub(crate) fn basic(&self) -> Option<(String, String)> {
        use base64::Engine as _;
        let value = self.header("authorization")?;
        let (scheme, token) = value.split_once(' ')?;
        if !scheme.eq_ignore_ascii_case("basic") {
            return None;
        }
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(token.trim())
            .ok()?;
        let text = String::from_utf8(decoded).ok()?;
        let (user, pass) = text.split_once(':')?;
        Some((user.to_owned(), pass.to_owned()))
    }

    /// The value of query parameter `name` (not percent-decoded).
    pub(crate) fn query_param(&self, name: &str) -> Option<&str> {
        self.query
            .as_deref()?
            .split('&')
            .filter_map(|pair| pair.split_once('=').or(Some((pair, ""))))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v)
    }

    pub(crate) fn to_record(&self, seq: u64) -> RecordedRequest {
        let headers = self
            .headers
            .iter()
            .map(|(name, value)| {
                let name = name.as_str().to_owned();
                let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
                let value = if MASKED_HEADERS.contains(&name.as_str()) {
                    match value.split_once(' ') {
                        Some((scheme, _))
                            if name.ends_with("authorization")
                                && scheme.len() <= 16
                                && scheme.bytes().all(|b| b.is_ascii_alphabetic()) =>
                        {
                            format!("{scheme} ***")
                        }
                        _ => "***".to_owned(),
                    }
                } else {
                    value
                };
                (name, value)
            })
            .collect();
        RecordedRequest {
            seq,
            method: self.method.as_str().to_owned(),
            path: self.path.clone(),
            query: self.query.clone(),
            headers,
            body: self.body.clone(),
            received_at: SystemTime::now(),
        }
    }
}

/// A response a responder builds.
#[derive(Debug, Clone)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(&'static str, String)>,
    pub(crate) body: Bytes,
}

impl Reply {
    /// A JSON response.
    pub(crate) fn json(status: u16, value: &serde_json::Value) -> Self {
        Self {
            status,
            headers: vec![("content-type", "application/json".to_owned())],
            body: Bytes::from(value.to_string()),
        }
    }

    /// A `text/plain` response.
    pub(crate) fn text(status: u16, text: &str) -> Self {
        Self {
            status,
            headers: vec![("content-type", "text/plain; charset=utf-8".to_owned())],
            body: Bytes::from(text.to_owned()),
        }
    }

    /// A 502 page from a CDN edge.
    pub(crate) fn cdn_html(ray: &str) -> Self {
        let body = "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n\
                    <center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>cloudflare</center>\r\n\
                    </body>\r\n</html>\r\n";
        Self {
            status: 502,
            headers: vec![
                ("content-type", "text/html".to_owned()),
                ("server", "cloudflare".to_owned()),
                ("cf-ray", format!("{ray}-LHR")),
            ],
            body: Bytes::from_static(body.as_bytes()),
        }
    }

    /// Add a header.
    pub(crate) fn with(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    /// This reply, with `WWW-Authenticate: Basic realm="<realm>"` when it is a 401.
    pub(crate) fn basic_challenge(self, realm: &str) -> Self {
        if self.status == 401 {
            self.with("www-authenticate", format!("Basic realm=\"{realm}\""))
        } else {
            self
        }
    }

    fn into_response(self) -> Response<Full<Bytes>> {
        let mut response = Response::new(Full::new(self.body));
        *response.status_mut() =
            StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let headers = response.headers_mut();
        for (name, value) in self.headers {
            if let Ok(value) = HeaderValue::from_str(&value) {
                headers.append(HeaderName::from_static(name), value);
            }
        }
        response
    }
}

/// Provider-specific behaviour of one fake.
pub(crate) trait Responder: Send + Sync + 'static {
    /// Which of the server's handles scripts and logs this request (default: the first).
    fn slot(&self, _req: &Incoming) -> usize {
        0
    }

    /// Answer `req` under `scenario`, which is never `Slow`, `Hanging`, `ConnectionReset`,
    /// `ServerErrorHtml`, `Flapping` or `FailTimes` (the server handles those).
    fn respond(&self, req: &Incoming, scenario: &Scenario) -> Reply;
}

/// Run-time generated identifiers (request ids, ray ids): unique per process, not predictable
/// across runs.
pub(crate) fn random_token(len: usize) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    const ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    let mut x = hasher.finish();
    let mut out = String::with_capacity(len);
    for _ in 0..len {
        // splitmix64 step
        x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = x;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        out.push(char::from(ALPHABET[(z % ALPHABET.len() as u64) as usize]));
    }
    out
}

/// A lowercase hex token of `len` characters.
pub(crate) fn random_hex(len: usize) -> String {
    random_token(len * 2)
        .bytes()
        .take(len)
        .map(|b| char::from(b"0123456789abcdef"[usize::from(b % 16)]))
        .collect()
}

/// Closes the connection without a response (returned by the service as its error).
#[derive(Debug)]
struct Reset;

impl fmt::Display for Reset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("connection reset by scenario")
    }
}

impl std::error::Error for Reset {}

/// A running fake: the listening address and the accept loop, stopped on drop.
pub(crate) struct Server {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server").field("addr", &self.addr).finish()
    }
}

impl Server {
    /// Bind `127.0.0.1:0` and serve `responder` with `handles` (at least one).
    pub(crate) async fn start<R: Responder>(
        responder: R,
        handles: Vec<FakeHandle>,
    ) -> io::Result<Self> {
        if handles.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a fake needs at least one handle",
            ));
        }
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared { responder, handles });
        let task = tokio::spawn(accept_loop(listener, shared));
        Ok(Self { addr, task })
    }

    /// [`start`](Self::start) with one scripting handle, named `name`: the server and its handle.
    pub(crate) async fn start_single<R: Responder>(
        responder: R,
        name: &'static str,
    ) -> io::Result<(Self, FakeHandle)> {
        let handle = FakeHandle::new(name);
        let server = Self::start(responder, vec![handle.clone()]).await?;
        Ok((server, handle))
    }

    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub(crate) fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // Aborting the accept loop drops its JoinSet, which aborts every connection task and
        // closes their sockets (hanging requests included).
        self.task.abort();
    }
}

struct Shared<R> {
    responder: R,
    handles: Vec<FakeHandle>,
}

async fn accept_loop<R: Responder>(listener: TcpListener, shared: Arc<Shared<R>>) {
    let mut connections = JoinSet::new();
    loop {
        while connections.try_join_next().is_some() {}
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(err) if is_connection_error(&err) => continue,
            Err(_) => {
                // e.g. EMFILE: back off instead of spinning
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let shared = Arc::clone(&shared);
        connections.spawn(async move {
            let service = service_fn(move |req| {
                let shared = Arc::clone(&shared);
                async move { handle(&shared, req).await }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

fn is_connection_error(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

async fn handle<R: Responder>(
    shared: &Shared<R>,
    req: http::Request<HyperIncoming>,
) -> Result<Response<Full<Bytes>>, Reset> {
    let (parts, body) = req.into_parts();
    let body = match Limited::new(body, MAX_BODY_BYTES).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(err) => {
            if err
                .downcast_ref::<http_body_util::LengthLimitError>()
                .is_some()
            {
                return Ok(Reply::text(413, "payload too large").into_response());
            }
            return Err(Reset);
        }
    };
    let incoming = Incoming {
        method: parts.method,
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().map(str::to_owned),
        headers: parts.headers,
        body,
    };
    let slot = shared.responder.slot(&incoming);
    let handle = shared
        .handles
        .get(slot)
        .unwrap_or_else(|| &shared.handles[0]);
    let (mut scenario, generation) = handle.record(&incoming);
    match scenario {
        Scenario::Slow(delay) => {
            tokio::time::sleep(delay).await;
            scenario = Scenario::Healthy;
        }
        Scenario::Hanging => {
            // never answer; once the scenario changes, close the connection (the client gave up
            // long ago or will see a reset), so a long-running demo does not pile up tasks
            handle.scenario_changed_since(generation).await;
            return Err(Reset);
        }
        Scenario::ConnectionReset => return Err(Reset),
        Scenario::ServerErrorHtml => {
            return Ok(Reply::cdn_html(&random_hex(16)).into_response());
        }
        _ => {}
    }
    let reply = shared.responder.respond(&incoming, &scenario);
    // The responder may have recorded what it accepted: wake `wait_until` callers again now.
    handle.inner.notify.notify_waiters();
    let mut response = reply.into_response();
    if !response.headers().contains_key(CONTENT_TYPE) {
        response
            .headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn incoming(headers: &[(&'static str, &str)]) -> Incoming {
        let mut map = HeaderMap::new();
        for (k, v) in headers {
            map.append(
                HeaderName::from_static(k),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        Incoming {
            method: Method::GET,
            path: "/x".into(),
            query: Some("select=id&limit=1&flag".into()),
            headers: map,
            body: Bytes::new(),
        }
    }

    #[test]
    fn record_masks_secrets_but_keeps_scheme() {
        let req = incoming(&[
            ("authorization", "Bearer sk_secret"),
            ("apikey", "anon-key"),
            ("x-other", "visible"),
        ]);
        let handle = FakeHandle::new("t");
        handle.record(&req);
        let rec = handle.last_request().unwrap();
        assert_eq!(rec.header("Authorization"), Some("Bearer ***"));
        assert_eq!(rec.header("apikey"), Some("***"));
        assert_eq!(rec.header("x-other"), Some("visible"));
        assert!(!format!("{rec:?}").contains("sk_secret"));
    }

    #[test]
    fn query_params_and_auth_parsing() {
        use base64::Engine as _;
        let basic = base64::engine::general_purpose::STANDARD.encode("AC1:tok");
        let req = incoming(&[("authorization", &format!("Basic {basic}"))]);
        assert_eq!(req.query_param("select"), Some("id"));
        assert_eq!(req.query_param("limit"), Some("1"));
        assert_eq!(req.query_param("flag"), Some(""));
        assert_eq!(req.query_param("nope"), None);
        assert_eq!(req.basic(), Some(("AC1".into(), "tok".into())));
        assert_eq!(req.bearer(), None);
    }

    #[test]
    fn log_capacity_bounds_the_log_not_the_counter() {
        let handle = FakeHandle::new("t");
        handle.set_log_capacity(2);
        for _ in 0..5 {
            handle.record(&incoming(&[]));
        }
        assert_eq!(handle.request_count(), 5);
        let seqs: Vec<u64> = handle.requests().iter().map(|r| r.seq).collect();
        assert_eq!(seqs, [3, 4]);
    }

    #[test]
    fn random_tokens_differ() {
        let a = random_token(24);
        let b = random_token(24);
        assert_eq!(a.len(), 24);
        assert_ne!(a, b);
        assert!(random_hex(32).bytes().all(|c| c.is_ascii_hexdigit()));
    }

    proptest::proptest! {
        /// Whatever secret is sent in a masked header, the log never contains it.
        #[test]
        fn masked_headers_never_reach_the_log(
            secret in "[A-Za-z0-9_.-]{6,40}",
            scheme in proptest::sample::select(vec!["Bearer", "Basic", "Token", "sk_live_x"]),
            header in proptest::sample::select(MASKED_HEADERS.to_vec()),
        ) {
            let value = if header.ends_with("authorization") {
                format!("{scheme} {secret}")
            } else {
                secret.clone()
            };
            let handle = FakeHandle::new("p");
            handle.record(&incoming(&[(header, &value)]));
            let rec = handle.last_request().unwrap();
            let shown = format!("{:?}", rec);
            proptest::prop_assert!(!shown.contains(&secret));
            // a "scheme" that is not a plain word may be a key sent without a scheme
            if scheme.contains('_') {
                proptest::prop_assert!(!shown.contains(scheme));
            }
        }
    }
}
