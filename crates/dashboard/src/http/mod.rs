//! The dashboard over HTTP (feature `http`): every route of [`Route`] — sign-in and sign-out
//! with CSRF, the live page, its Server-Sent Events stream, the replay and acknowledgement
//! forms, the public status page and the badges — served by a [`Dashboard`] from an
//! [`http::Request`] to an [`http::Response`].
//!
//! The embedding server keeps only what it alone knows behind a [`Backend`]: its API keys (a
//! session starts from one and is re-checked on every request, so revoking the key ends the
//! session), its audit log, its webhook replay, its rate limits, its body-size limit and the
//! monitor and stores the views are gathered from. Everything else — cookies (`HttpOnly`,
//! `SameSite=Strict`, `Secure` when asked), CSRF checks, refusing cross-site posts, the
//! [`CSP`](crate::CSP) and [`SECURITY_HEADERS`](crate::SECURITY_HEADERS), the JSON refusals
//! (`{"error":{"code","message"}}`), the audit action names and the event stream (an `update`
//! when the monitor's snapshot changes and every [`WEBHOOKS_TTL`], a `heartbeat` every
//! [`HEARTBEAT`](crate::HEARTBEAT), ended when the server stops) — happens here.
//!
//! Read scope sees; a caller that [can act](Caller::can_act) replays deliveries and
//! acknowledges incidents, each with the form's CSRF token and an audit entry.
//!
//! ```
//! use std::sync::{Arc, Weak};
//! use std::time::Duration;
//! use wedsync_dashboard::gather::Spec;
//! use wedsync_dashboard::http::{Backend, Dashboard, Settings};
//!
//! fn mount(backend: Weak<dyn Backend>, stop: tokio::sync::watch::Receiver<bool>) -> Dashboard {
//!     let settings = Settings {
//!         secret: [7; 32],
//!         session_ttl: Duration::from_secs(8 * 3600),
//!         secure_cookies: true,
//!         public_status: true,
//!         spec: Spec { zone: "Europe/London".into(), ..Spec::default() },
//!     };
//!     Dashboard::new(settings, backend, stop)
//! }
//! ```
//!
//! [`WEBHOOKS_TTL`]: crate::gather::WEBHOOKS_TTL

use std::sync::{Arc, Weak};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use http::{HeaderMap, Method, Request, Response, StatusCode};
use http_body_util::BodyExt as _;
use tokio::sync::watch;
use wedsync_probe::store::IncidentState;

use crate::gather::{now_ms, Gatherer, Sources, Spec};
use crate::session::{self, Sessions, FLASH_COOKIE, LOGIN_COOKIE, SESSION_COOKIE};
use crate::{DashboardView, Route};
use reply::{
    cookie, cross_site, field, forbidden, form, html, not_found, public, redirect,
    with_security_headers, HTML,
};

pub use body::{read_limited, BodyError};
pub use reply::{json, refusal, text, with_retry_after};

mod body;
mod events;
mod reply;
#[cfg(test)]
mod tests;

/// The response body of every route: a whole body, or the event stream.
pub type Body = http_body_util::combinators::BoxBody<Bytes, std::convert::Infallible>;

/// The error of a request body.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A request body as the dashboard reads it.
pub type RequestBody<'a> =
    std::pin::Pin<Box<dyn hyper::body::Body<Data = Bytes, Error = BoxError> + Send + 'a>>;

/// The audit action that acknowledges an incident (the target is the incident's key).
pub const ACK_ACTION: &str = "incident.acknowledge";
/// The audit action that replays a webhook delivery (the target is what was replayed).
pub const REPLAY_ACTION: &str = "webhook.replay";
/// The audit result of an action that succeeded.
pub const OK: &str = "ok";
/// Audit entries read for incident acknowledgements.
pub const AUDIT_READ: usize = 1_000;

/// Who a session belongs to: an API key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The key's id (the session cookie names it; the audit log records it).
    pub id: String,
    /// Whether it may act (replay, acknowledge): the admin scope. Otherwise it only sees.
    pub can_act: bool,
}

/// One entry of the embedder's audit log, as the dashboard reads it back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    /// The action, e.g. [`ACK_ACTION`].
    pub action: String,
    /// Its target (an incident's key, a delivery id, …).
    pub target: String,
    /// Its result: [`OK`] or a refusal's code.
    pub result: String,
    /// When it happened (Unix ms).
    pub at_ms: i64,
}

/// An action the [`Backend`] refused: the code the audit log records and the message the viewer
/// is shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// A stable code (`not_found`, `bad_request`, …), written as the audit entry's result.
    pub code: String,
    /// What the viewer reads (never a secret).
    pub message: String,
}

/// A response of the [`Backend`]'s that refuses a request (a budget spent), sent as it is.
#[derive(Debug)]
pub struct Refusal(Box<Response<Body>>);

impl From<Response<Body>> for Refusal {
    fn from(r: Response<Body>) -> Self {
        Refusal(Box::new(r))
    }
}

impl Refusal {
    /// The response to send.
    pub fn into_response(self) -> Response<Body> {
        *self.0
    }
}

/// The [`Backend`]'s key store could not answer (the sign-in page says so; the embedder logs
/// the cause).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unavailable;

impl std::fmt::Display for Unavailable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the key store is unavailable")
    }
}

impl std::error::Error for Unavailable {}

/// What only the embedding server knows. Object safe: a [`Dashboard`] holds a
/// `Weak<dyn Backend>`.
#[async_trait]
pub trait Backend: Send + Sync {
    /// The caller an API key authenticates, when the key is valid, not revoked and may read;
    /// `Ok(None)` otherwise.
    async fn verify_key(&self, api_key: &str) -> Result<Option<Caller>, Unavailable>;

    /// The caller of key `id` when it still exists and is not revoked (asked on every request
    /// of a session and every few heartbeats of a stream, so a revoked key ends its sessions).
    async fn key_by_id(&self, id: &str) -> Option<Caller>;

    /// The largest form body accepted, in bytes (a larger one is refused with 413, see
    /// [`read_limited`]).
    fn body_limit(&self) -> u64;

    /// Draws from `caller`'s budget for a replay; `Err` is the response that refuses it (rate
    /// limited).
    fn replay_budget(&self, caller: &Caller) -> Result<(), Refusal>;

    /// Writes an audit entry: `caller` did `action` to `target`, with `result` ([`OK`] or a
    /// refusal's code).
    async fn audit(&self, caller: &Caller, action: &str, target: &str, result: &str);

    /// The most recent audit entries, newest first, at most `limit` (the acknowledgements are
    /// read from them, so every process sharing the log shows them).
    async fn recent_audit(&self, limit: usize) -> Vec<AuditRecord>;

    /// Replays delivery `delivery_id` for `caller`: what was replayed (the audit target) and
    /// whether it was.
    async fn replay(&self, caller: &Caller, delivery_id: &str) -> (String, Result<(), Refused>);

    /// The monitor and the stores the views are gathered from.
    fn sources(&self) -> Sources<'_>;
}

/// How a [`Dashboard`] is set up.
#[derive(Clone)]
pub struct Settings {
    /// Signs the session cookies and the CSRF tokens (every process serving the dashboard
    /// needs the same one).
    pub secret: [u8; 32],
    /// How long a session lasts.
    pub session_ttl: Duration,
    /// Whether cookies are `Secure` (served over HTTPS).
    pub secure_cookies: bool,
    /// Whether `/status` and the badges are served (else they answer 404).
    pub public_status: bool,
    /// What the views show.
    pub spec: Spec,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("session_ttl", &self.session_ttl)
            .field("secure_cookies", &self.secure_cookies)
            .field("public_status", &self.public_status)
            .field("spec", &self.spec)
            .finish_non_exhaustive()
    }
}

/// The dashboard's HTTP service: cheap to clone, shared by every request and open stream.
#[derive(Clone)]
pub struct Dashboard {
    inner: Arc<Inner>,
}

struct Inner {
    backend: Weak<dyn Backend>,
    sessions: Sessions,
    gatherer: Gatherer,
    public_status: bool,
    stop: watch::Receiver<bool>,
}

impl std::fmt::Debug for Dashboard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dashboard").finish_non_exhaustive()
    }
}

impl Dashboard {
    /// A dashboard over `backend` (weak: the backend usually owns the dashboard; a stream
    /// holds it strongly while open); its event streams end when `stop` turns true.
    pub fn new(
        settings: Settings,
        backend: Weak<dyn Backend>,
        stop: watch::Receiver<bool>,
    ) -> Self {
        let sessions = Sessions::new(
            settings.secret,
            settings.session_ttl,
            settings.secure_cookies,
        );
        Dashboard {
            inner: Arc::new(Inner {
                backend,
                sessions,
                gatherer: Gatherer::new(settings.spec),
                public_status: settings.public_status,
                stop,
            }),
        }
    }

    /// Answers a request for one of the dashboard's paths ([`Route::of`]; any other path is a
    /// 404). Every response carries the security headers and, unless it says otherwise,
    /// `Cache-Control: no-store`.
    pub async fn handle<B>(&self, req: Request<B>) -> Response<Body>
    where
        B: hyper::body::Body<Data = Bytes> + Send,
        B::Error: Into<BoxError>,
    {
        let Some(route) = Route::of(req.uri().path()) else {
            return with_security_headers(not_found());
        };
        let Some(backend) = self.inner.backend.upgrade() else {
            return with_security_headers(shutting_down());
        };
        let req = req.map(boxed);
        with_security_headers(self.route(route, backend, req).await)
    }

    async fn route(
        &self,
        route: Route,
        backend: Arc<dyn Backend>,
        req: Request<RequestBody<'_>>,
    ) -> Response<Body> {
        let (d, b) = (&*self.inner, &*backend);
        match (req.method().clone(), route) {
            (Method::GET, Route::Script | Route::Stylesheet) => match route.asset() {
                Some((content_type, body)) => public(content_type, "public, max-age=300", body),
                None => not_found(),
            },
            (Method::GET, Route::Login) => d.login_page(None),
            (Method::POST, Route::Login) => d.login(b, req).await,
            (Method::POST, Route::Logout) => match d.checked_form(b, req, None).await {
                Ok(_) => redirect(Route::Login, &[d.sessions.end()]),
                Err(r) => r,
            },
            (Method::GET, Route::Page) => d.page(b, req.headers()).await,
            (Method::GET, Route::Events) => self.events(backend.clone(), req.headers()).await,
            (Method::POST, Route::Replay) => d.replay(b, req).await.unwrap_or_else(|r| r),
            (Method::POST, Route::Acknowledge) => d.acknowledge(b, req).await.unwrap_or_else(|r| r),
            (Method::GET, Route::StatusPage | Route::StatusBadge | Route::UptimeBadge)
                if !d.public_status =>
            {
                not_found()
            }
            (Method::GET, Route::StatusPage) => {
                let view = d.gatherer.public(b.sources()).await;
                public(HTML, "public, max-age=15", crate::render_status_page(&view))
            }
            (Method::GET, Route::StatusBadge | Route::UptimeBadge) => {
                d.badge(b, req.uri().path()).await
            }
            _ => refusal(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "method not allowed here",
            ),
        }
    }
}

fn boxed<'a, B>(body: B) -> RequestBody<'a>
where
    B: hyper::body::Body<Data = Bytes> + Send + 'a,
    B::Error: Into<BoxError>,
{
    Box::pin(body.map_err(Into::into))
}

/// 503: the backend is gone (the server is stopping).
fn shutting_down() -> Response<Body> {
    reply::with_retry_after(
        refusal(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "shutting down",
        ),
        1,
    )
}

/// The acknowledged incidents in `backend`'s audit log: (incident key, Unix ms).
async fn acknowledgements(backend: &dyn Backend) -> Vec<(String, i64)> {
    let entries = backend.recent_audit(AUDIT_READ).await;
    entries
        .into_iter()
        .filter(|e| e.action == ACK_ACTION && e.result == OK)
        .map(|e| (e.target, e.at_ms))
        .collect()
}

/// A handler's answer, its refusal in `Err` (so `?` ends it early).
type Reply = Result<Response<Body>, Response<Body>>;

impl Inner {
    /// The session's caller and cookie, when the request carries a valid session of a key that
    /// still exists and is not revoked.
    async fn session_caller(
        &self,
        b: &dyn Backend,
        headers: &HeaderMap,
    ) -> Option<(Caller, String)> {
        let s = self
            .sessions
            .verify(cookie(headers, SESSION_COOKIE)?, now_ms() / 1000)?;
        let caller = b.key_by_id(&s.key_id).await?;
        Some((caller, s.cookie))
    }

    fn login_page(&self, error: Option<&str>) -> Response<Body> {
        let (csrf, set) = self
            .sessions
            .login_form(&session::nonce(*uuid::Uuid::new_v4().as_bytes()));
        let status = match error {
            Some(_) => StatusCode::UNAUTHORIZED,
            None => StatusCode::OK,
        };
        html(status, &[set], crate::render_login(error, &csrf))
    }

    async fn login(&self, b: &dyn Backend, req: Request<RequestBody<'_>>) -> Response<Body> {
        let (parts, body) = req.into_parts();
        if cross_site(&parts.headers) {
            return self.login_page(Some("Sign in from this page."));
        }
        let body = match read_limited(&parts.headers, body, b.body_limit()).await {
            Ok(body) => body,
            Err(e) => return e.into_response(),
        };
        let f = form(&body);
        if !self
            .sessions
            .login_ok(cookie(&parts.headers, LOGIN_COOKIE), field(&f, "csrf"))
        {
            return self.login_page(Some("The form expired; please sign in again."));
        }
        let caller = match b.verify_key(field(&f, "api_key").trim()).await {
            Ok(Some(c)) => c,
            Ok(None) => {
                return self.login_page(Some("That API key is not valid (or was revoked)."))
            }
            Err(Unavailable) => {
                return self.login_page(Some("The store is unavailable; try again shortly."))
            }
        };
        tracing::info!(key = %caller.id, "dashboard session started");
        redirect(
            Route::Page,
            &self.sessions.start(&caller.id, now_ms() / 1000),
        )
    }

    /// The session and the CSRF-checked form of a state-changing request, or the response that
    /// refuses it; `act` names the action when it needs a caller that can act.
    async fn checked_form(
        &self,
        b: &dyn Backend,
        req: Request<RequestBody<'_>>,
        act: Option<&str>,
    ) -> Result<(Caller, Vec<(String, String)>), Response<Body>> {
        let (parts, body) = req.into_parts();
        let Some((caller, cookie)) = self.session_caller(b, &parts.headers).await else {
            return Err(redirect(Route::Login, &[]));
        };
        let body = read_limited(&parts.headers, body, b.body_limit()).await;
        let f = form(&body.map_err(BodyError::into_response)?);
        if cross_site(&parts.headers) || !self.sessions.keys().csrf_ok(&cookie, field(&f, "csrf")) {
            let msg = "the form's CSRF token is missing or wrong; reload the page";
            return Err(forbidden("csrf", msg.into()));
        }
        match act {
            Some(what) if !caller.can_act => Err(forbidden(
                "forbidden",
                format!("{what} needs the monitoring:admin scope"),
            )),
            _ => Ok((caller, f)),
        }
    }

    /// The live view for one viewer.
    async fn view(&self, b: &dyn Backend, caller: &Caller, cookie: &str) -> DashboardView {
        let csrf = self.sessions.keys().csrf(cookie);
        self.gatherer
            .view(b.sources(), acknowledgements(b), caller.can_act, csrf)
            .await
    }

    async fn page(&self, b: &dyn Backend, headers: &HeaderMap) -> Response<Body> {
        let Some((caller, c)) = self.session_caller(b, headers).await else {
            return redirect(Route::Login, &[]);
        };
        let mut v = self.view(b, &caller, &c).await;
        let mut cookies = Vec::new();
        if let Some((text, clear)) = self.sessions.take_flash(cookie(headers, FLASH_COOKIE)) {
            v.flash = Some(text);
            cookies.push(clear);
        }
        html(StatusCode::OK, &cookies, crate::render_page(&v))
    }

    /// Replays a delivery (a caller that can act, within its replay budget).
    async fn replay(&self, b: &dyn Backend, req: Request<RequestBody<'_>>) -> Reply {
        let (caller, f) = self.checked_form(b, req, Some("replaying")).await?;
        b.replay_budget(&caller).map_err(Refusal::into_response)?;
        let id = field(&f, "delivery_id").trim();
        let (target, result) = b.replay(&caller, id).await;
        let outcome = result.as_ref().map_or_else(|r| r.code.as_str(), |()| OK);
        b.audit(&caller, REPLAY_ACTION, &target, outcome).await;
        self.gatherer.invalidate_webhooks();
        let message = match &result {
            Ok(()) => format!(
                "Replay of delivery {target} scheduled: the handler receives it within seconds."
            ),
            Err(r) => format!("Replay of delivery {target} refused: {}", r.message),
        };
        Ok(redirect(Route::Page, &[self.sessions.flash(&message)]))
    }

    /// Acknowledges an open incident: an audit entry [`ACK_ACTION`] (the audit log is shared
    /// by every process, so the timeline shows it everywhere).
    async fn acknowledge(&self, b: &dyn Backend, req: Request<RequestBody<'_>>) -> Reply {
        let (caller, f) = self.checked_form(b, req, Some("acknowledging")).await?;
        let key = field(&f, "incident").trim();
        let probes = b.sources().probes;
        let open = probes.get_incident(key).await.ok().flatten();
        let open = open.filter(|i| i.state == IncidentState::Open);
        let outcome = if open.is_some() { OK } else { "not_found" };
        b.audit(&caller, ACK_ACTION, key, outcome).await;
        self.gatherer.invalidate_incidents();
        let message = match &open {
            Some(i) => format!("Incident of {} acknowledged.", i.service),
            None => "That incident is not open (resolved meanwhile?).".to_owned(),
        };
        Ok(redirect(Route::Page, &[self.sessions.flash(&message)]))
    }

    async fn badge(&self, b: &dyn Backend, path: &str) -> Response<Body> {
        let mut segs = path.trim_start_matches('/').split('/');
        let (Some("badge"), Some(name), Some(file), None) =
            (segs.next(), segs.next(), segs.next(), segs.next())
        else {
            return not_found();
        };
        let services = self.gatherer.public(b.sources()).await.services;
        match crate::badge_for(&services, name, file) {
            Some(svg) => public("image/svg+xml", "public, max-age=30", svg),
            None => not_found(),
        }
    }
}
