//! The live dashboard (`/dashboard`), the public status page (`/status`) and the badges
//! (`/badge/{service}/status.svg`, `/badge/{service}/uptime.svg`): the HTTP glue only.
//!
//! `wedsync-dashboard` does the work: [`Sessions`] signs the session cookie (started from an API
//! key) and every CSRF token, [`Gatherer`] builds the views from the monitor and the stores,
//! [`LiveStream`] decides what an open page receives, and the crate renders. This module routes,
//! reads forms and headers, looks API keys up, writes the audit entries and pushes Server-Sent
//! Events: an `update` whenever the monitor's snapshot changes (and every few seconds for the
//! webhook figures), a `heartbeat` every [`HEARTBEAT`]. Read scope sees; admin scope acts
//! (replay, acknowledge), with a CSRF token in the form and an audit entry like the API's.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::{Arc, OnceLock, Weak};
use std::task::{Context, Poll};

use bytes::Bytes;
use http::header::{self, HeaderName};
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::BodyExt as _;
use tokio::sync::{mpsc, watch};
use wedsync_dashboard::gather::{self, now_ms, Gatherer, ServiceSpec, Sources, Spec};
use wedsync_dashboard::session::{self, Sessions, FLASH_COOKIE, LOGIN_COOKIE, SESSION_COOKIE};
use wedsync_dashboard::{sse::SSE_RETRY, LiveStream, Route};

use crate::admin::{ApiKeyRecord, Scope};
use crate::app::{App, Caller};
use crate::error::{full, ApiError, Body};
use crate::ratelimit::Budget;

pub use wedsync_dashboard::HEARTBEAT;

/// The audit action that acknowledges an incident (the target is the incident's key).
pub const ACK_ACTION: &str = "incident.acknowledge";
/// Audit entries read for incident acknowledgements.
const AUDIT_READ: usize = 1_000;

/// The Content-Security-Policy of every dashboard page.
pub use wedsync_dashboard::CSP;

const HTML: &str = "text/html; charset=utf-8";

/// A handler's answer, its refusal in `Err` (so `?` ends it early).
type Reply = Result<Response<Body>, Response<Body>>;

/// A request body the dashboard reads forms from.
pub(crate) trait FormBody:
    hyper::body::Body<Data = Bytes, Error: Into<Box<dyn std::error::Error + Send + Sync>>> + Send
{
}

impl<B> FormBody for B where
    B: hyper::body::Body<Data = Bytes, Error: Into<Box<dyn std::error::Error + Send + Sync>>>
        + Send
{
}

/// The dashboard's state in the server.
pub struct Dashboard {
    secret: [u8; 32],
    stop: watch::Receiver<bool>,
    wired: OnceLock<Wired>,
}

/// What [`Dashboard::attach`] sets up from the application's configuration.
struct Wired {
    app: Weak<App>,
    sessions: Sessions,
    gatherer: Gatherer,
    public_status: bool,
}

impl std::fmt::Debug for Dashboard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dashboard").finish_non_exhaustive()
    }
}

impl Dashboard {
    /// A dashboard signing sessions with `secret`; its event streams end when `stop` turns true.
    /// It serves nothing (404) until [`attach`](Self::attach)ed to its application.
    pub fn new(secret: [u8; 32], stop: watch::Receiver<bool>) -> Self {
        Dashboard {
            secret,
            stop,
            wired: OnceLock::new(),
        }
    }

    /// Tells the dashboard which application it belongs to (its event streams outlive a
    /// request) and takes its settings from the application's configuration.
    pub fn attach(&self, app: &Arc<App>) {
        let cfg = &app.cfg;
        let services = cfg.services.iter().map(|s| {
            let (interval, wedding_interval) = s.cadence().intervals();
            ServiceSpec {
                name: s.name().to_string(),
                public: s.common().public,
                interval,
                wedding_interval,
            }
        });
        let spec = Spec {
            zone: cfg.wedding_days.timezone.clone(),
            services: services.collect(),
            providers: cfg
                .webhooks
                .keys()
                .map(|p| p.as_str().to_string())
                .collect(),
        };
        let _ = self.wired.set(Wired {
            app: Arc::downgrade(app),
            sessions: Sessions::new(
                self.secret,
                cfg.dashboard.session_ttl,
                cfg.dashboard.secure_cookies,
            ),
            gatherer: Gatherer::new(spec),
            public_status: cfg.dashboard.public_status,
        });
    }
}

/// The route label (for metrics) of a dashboard path, or `None` when `path` is not one.
pub fn route_of(path: &str) -> Option<&'static str> {
    Route::of(path).map(Route::label)
}

/// A response: `status`, static `headers`, `Set-Cookie` values and `body`.
fn respond(
    status: StatusCode,
    headers: &[(HeaderName, &'static str)],
    cookies: &[String],
    body: Body,
) -> Response<Body> {
    let mut r = Response::new(body);
    *r.status_mut() = status;
    let h = r.headers_mut();
    for (name, value) in headers {
        h.insert(name, HeaderValue::from_static(value));
    }
    for c in cookies {
        if let Ok(v) = HeaderValue::from_str(c) {
            h.append(header::SET_COOKIE, v);
        }
    }
    r
}

/// An HTML page.
fn html(status: StatusCode, cookies: &[String], page: String) -> Response<Body> {
    respond(status, &[(header::CONTENT_TYPE, HTML)], cookies, full(page))
}

/// A 303 to `to`.
fn redirect(to: Route, cookies: &[String]) -> Response<Body> {
    let location = [(header::LOCATION, to.label())];
    respond(
        StatusCode::SEE_OTHER,
        &location,
        cookies,
        full(Bytes::new()),
    )
}

/// A public, cacheable `body` of `content_type`, cached `cache` (a `Cache-Control` value).
fn public(
    content_type: &'static str,
    cache: &'static str,
    body: impl Into<Bytes>,
) -> Response<Body> {
    let headers = [
        (header::CONTENT_TYPE, content_type),
        (header::CACHE_CONTROL, cache),
    ];
    respond(StatusCode::OK, &headers, &[], full(body))
}

fn with_security_headers(mut r: Response<Body>) -> Response<Body> {
    let h = r.headers_mut();
    for (name, value) in wedsync_dashboard::SECURITY_HEADERS {
        h.insert(name, HeaderValue::from_static(value));
    }
    h.entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    r
}

fn not_found() -> Response<Body> {
    ApiError::not_found("no such page").into_response()
}

fn forbidden(code: &'static str, message: String) -> Response<Body> {
    ApiError::client(StatusCode::FORBIDDEN, code, message).into_response()
}

fn form(body: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

fn field<'a>(f: &'a [(String, String)], name: &str) -> &'a str {
    f.iter()
        .find(|(k, _)| k == name)
        .map_or("", |(_, v)| v.as_str())
}

/// The value of cookie `name` in the request's `Cookie` headers.
fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    let values = headers.get_all(header::COOKIE).into_iter();
    session::cookie(values.filter_map(|v| v.to_str().ok()), name)
}

/// Refuses a state-changing request another site started (browsers send these headers; the
/// SameSite=Strict cookie and the CSRF token are the main defences).
fn cross_site(headers: &HeaderMap) -> bool {
    headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == "cross-site")
}

impl App {
    fn wired(&self) -> Option<&Wired> {
        self.dashboard.as_ref()?.wired.get()
    }

    fn sources(&self) -> Sources<'_> {
        Sources {
            monitor: self.integrations.monitor().map(|m| &**m),
            probes: &**self.integrations.probe_store(),
            webhooks: &**self.webhooks.store(),
        }
    }

    /// The session's key record, when the request carries a valid session of a key that still
    /// exists and is not revoked.
    async fn session_caller(&self, w: &Wired, headers: &HeaderMap) -> Option<(Caller, String)> {
        let s = w
            .sessions
            .verify(cookie(headers, SESSION_COOKIE)?, now_ms() / 1000)?;
        let key = self.key_by_id(&s.key_id).await?;
        Some((Caller { key: key.into() }, s.cookie))
    }

    async fn key_by_id(&self, id: &str) -> Option<ApiKeyRecord> {
        match self.admin.list_keys().await {
            Ok(keys) => keys
                .into_iter()
                .find(|k| k.id == id && k.revoked_at.is_none()),
            Err(e) => {
                tracing::error!(error = %e, "API key lookup failed");
                None
            }
        }
    }

    /// The incident acknowledgements in the audit log (shared by every process).
    async fn acknowledgements(&self) -> Vec<(String, i64)> {
        let entries = self
            .admin
            .recent_audit(AUDIT_READ)
            .await
            .unwrap_or_default();
        entries
            .into_iter()
            .filter(|e| e.action == ACK_ACTION && e.result == "ok")
            .map(|e| (e.target, gather::unix_ms(e.at)))
            .collect()
    }

    /// Handles a dashboard request (`route_of(path)` is `Some`).
    pub(crate) async fn dashboard<B: FormBody>(&self, req: Request<B>) -> Response<Body> {
        let Some(w) = self.wired() else {
            return not_found();
        };
        let path = req.uri().path().to_owned();
        let Some(route) = Route::of(&path) else {
            return with_security_headers(not_found());
        };
        let resp = match (req.method().clone(), route) {
            (Method::GET, Route::Script | Route::Stylesheet) => match route.asset() {
                Some((content_type, body)) => public(content_type, "public, max-age=300", body),
                None => not_found(),
            },
            (Method::GET, Route::Login) => login_page(w, None),
            (Method::POST, Route::Login) => self.login(w, req).await,
            (Method::POST, Route::Logout) => match self.checked_form(w, req, None).await {
                Ok(_) => redirect(Route::Login, &[w.sessions.end()]),
                Err(r) => r,
            },
            (Method::GET, Route::Page) => self.page(w, req.headers()).await,
            (Method::GET, Route::Events) => self.events(w, req.headers()).await,
            (Method::POST, Route::Replay) => self.replay(w, req).await.unwrap_or_else(|r| r),
            (Method::POST, Route::Acknowledge) => {
                self.acknowledge(w, req).await.unwrap_or_else(|r| r)
            }
            (Method::GET, Route::StatusPage | Route::StatusBadge | Route::UptimeBadge)
                if !w.public_status =>
            {
                not_found()
            }
            (Method::GET, Route::StatusPage) => {
                let view = w.gatherer.public(self.sources()).await;
                let page = wedsync_dashboard::render_status_page(&view);
                public(HTML, "public, max-age=15", page)
            }
            (Method::GET, Route::StatusBadge | Route::UptimeBadge) => self.badge(w, &path).await,
            _ => ApiError::client(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "method not allowed here",
            )
            .into_response(),
        };
        with_security_headers(resp)
    }

    async fn login<B: FormBody>(&self, w: &Wired, req: Request<B>) -> Response<Body> {
        let (parts, body) = req.into_parts();
        if cross_site(&parts.headers) {
            return login_page(w, Some("Sign in from this page."));
        }
        let body = match self.read_body(&parts.headers, body).await {
            Ok(b) => b,
            Err(e) => return e.into_response(),
        };
        let f = form(&body);
        if !w
            .sessions
            .login_ok(cookie(&parts.headers, LOGIN_COOKIE), field(&f, "csrf"))
        {
            return login_page(w, Some("The form expired; please sign in again."));
        }
        let key = match self.admin.verify_key(field(&f, "api_key").trim()).await {
            Ok(Some(k)) if k.allows(Scope::Read) => k,
            Ok(_) => return login_page(w, Some("That API key is not valid (or was revoked).")),
            Err(e) => {
                tracing::error!(error = %e, "API key lookup failed");
                return login_page(w, Some("The store is unavailable; try again shortly."));
            }
        };
        tracing::info!(key = %key.id, "dashboard session started");
        redirect(Route::Page, &w.sessions.start(&key.id, now_ms() / 1000))
    }

    /// The session and the CSRF-checked form of a state-changing request, or the response that
    /// refuses it; `admin` names the action when it needs the admin scope.
    async fn checked_form<B: FormBody>(
        &self,
        w: &Wired,
        req: Request<B>,
        admin: Option<&str>,
    ) -> Result<(Caller, Vec<(String, String)>), Response<Body>> {
        let (parts, body) = req.into_parts();
        let Some((caller, cookie)) = self.session_caller(w, &parts.headers).await else {
            return Err(redirect(Route::Login, &[]));
        };
        let body = self
            .read_body(&parts.headers, body)
            .await
            .map_err(ApiError::into_response)?;
        let f = form(&body);
        if cross_site(&parts.headers) || !w.sessions.keys().csrf_ok(&cookie, field(&f, "csrf")) {
            let msg = "the form's CSRF token is missing or wrong; reload the page";
            return Err(forbidden("csrf", msg.into()));
        }
        match admin {
            Some(what) if !caller.key.allows(Scope::Admin) => Err(forbidden(
                "forbidden",
                format!("{what} needs the monitoring:admin scope"),
            )),
            _ => Ok((caller, f)),
        }
    }

    /// Builds the view for one viewer.
    async fn view(
        &self,
        w: &Wired,
        caller: &Caller,
        cookie: &str,
    ) -> wedsync_dashboard::DashboardView {
        let can_act = caller.key.allows(Scope::Admin);
        let csrf = w.sessions.keys().csrf(cookie);
        w.gatherer
            .view(self.sources(), self.acknowledgements(), can_act, csrf)
            .await
    }

    async fn page(&self, w: &Wired, headers: &HeaderMap) -> Response<Body> {
        let Some((caller, c)) = self.session_caller(w, headers).await else {
            return redirect(Route::Login, &[]);
        };
        let mut v = self.view(w, &caller, &c).await;
        let flash = w.sessions.take_flash(cookie(headers, FLASH_COOKIE));
        let mut cookies = Vec::new();
        if let Some((text, clear)) = flash {
            v.flash = Some(text);
            cookies.push(clear);
        }
        html(StatusCode::OK, &cookies, wedsync_dashboard::render_page(&v))
    }

    /// Replays a delivery (admin scope), rate-limited like the API's replay.
    async fn replay<B: FormBody>(&self, w: &Wired, req: Request<B>) -> Reply {
        let (caller, f) = self.checked_form(w, req, Some("replaying")).await?;
        self.limits
            .check(Budget::Strict, &caller.key.id)
            .map_err(|wait| crate::app::rate_limited(wait).into_response())?;
        let id = field(&f, "delivery_id").trim().to_owned();
        let (target, result) = self
            .webhooks
            .replay(&serde_json::json!({ "webhook_id": id }), &caller.key.id)
            .await;
        self.audit(&caller, "webhook.replay", &target, &result)
            .await;
        w.gatherer.invalidate_webhooks();
        let message = match &result {
            Ok(_) => format!(
                "Replay of delivery {target} scheduled: the handler receives it within seconds."
            ),
            Err(e) => format!(
                "Replay of delivery {target} refused: {}",
                e.client_message()
            ),
        };
        Ok(redirect(Route::Page, &[w.sessions.flash(&message)]))
    }

    /// Acknowledges an open incident: an audit entry `incident.acknowledge` (the audit log is
    /// shared by every process, so the timeline shows it everywhere).
    async fn acknowledge<B: FormBody>(&self, w: &Wired, req: Request<B>) -> Reply {
        let (caller, f) = self.checked_form(w, req, Some("acknowledging")).await?;
        let key = field(&f, "incident").trim().to_owned();
        let open = self
            .integrations
            .probe_store()
            .get_incident(&key)
            .await
            .ok()
            .flatten()
            .filter(|i| i.state == wedsync_probe::store::IncidentState::Open);
        let result = match &open {
            Some(_) => Ok(Response::new(full(Bytes::new()))),
            None => Err(ApiError::not_found("no open incident with that key")),
        };
        self.audit(&caller, ACK_ACTION, &key, &result).await;
        w.gatherer.invalidate_incidents();
        let message = match (&open, &result) {
            (Some(i), Ok(_)) => format!("Incident of {} acknowledged.", i.service),
            _ => "That incident is not open (resolved meanwhile?).".to_owned(),
        };
        Ok(redirect(Route::Page, &[w.sessions.flash(&message)]))
    }

    async fn events(&self, w: &Wired, headers: &HeaderMap) -> Response<Body> {
        let Some((caller, cookie)) = self.session_caller(w, headers).await else {
            return ApiError::unauthorized("sign in at /dashboard/login").into_response();
        };
        let Some(app) = w.app.upgrade() else {
            return ApiError::unavailable("shutting down", 1).into_response();
        };
        let (tx, rx) = mpsc::channel::<Bytes>(4);
        tokio::spawn(stream_events(app, caller, cookie, tx));
        let headers = [
            (header::CONTENT_TYPE, "text/event-stream"),
            (header::CACHE_CONTROL, "no-store"),
            (HeaderName::from_static("x-accel-buffering"), "no"),
        ];
        respond(StatusCode::OK, &headers, &[], SseBody { rx }.boxed())
    }

    async fn badge(&self, w: &Wired, path: &str) -> Response<Body> {
        let mut segs = path.trim_start_matches('/').split('/');
        let (Some("badge"), Some(name), Some(file), None) =
            (segs.next(), segs.next(), segs.next(), segs.next())
        else {
            return not_found();
        };
        let services = w.gatherer.public(self.sources()).await.services;
        match wedsync_dashboard::badge_for(&services, name, file) {
            Some(svg) => public("image/svg+xml", "public, max-age=30", svg),
            None => not_found(),
        }
    }
}

fn login_page(w: &Wired, error: Option<&str>) -> Response<Body> {
    let (csrf, set) = w
        .sessions
        .login_form(&session::nonce(*uuid::Uuid::new_v4().as_bytes()));
    let status = if error.is_some() {
        StatusCode::UNAUTHORIZED
    } else {
        StatusCode::OK
    };
    html(
        status,
        &[set],
        wedsync_dashboard::render_login(error, &csrf),
    )
}

/// Pushes updates to one open page until it goes away, its key is revoked, or the server stops.
async fn stream_events(app: Arc<App>, caller: Caller, cookie: String, tx: mpsc::Sender<Bytes>) {
    let (Some(d), Some(w)) = (app.dashboard.as_ref(), app.wired()) else {
        return;
    };
    let mut stop = d.stop.clone();
    let mut snapshots = app.integrations.monitor().map(|m| m.subscribe());
    let ticker = |every| {
        let mut t = tokio::time::interval(every);
        t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        t
    };
    let (mut heartbeat, mut refresh) = (ticker(HEARTBEAT), ticker(gather::WEBHOOKS_TTL));
    if tx
        .send(Bytes::from_static(SSE_RETRY.as_bytes()))
        .await
        .is_err()
    {
        return;
    }
    let mut live = LiveStream::default();
    loop {
        let update = tokio::select! {
            _ = stop.wait_for(|s| *s) => return,
            changed = async {
                match snapshots.as_mut() {
                    Some(rx) => rx.changed().await.is_ok(),
                    None => std::future::pending().await,
                }
            } => {
                if !changed {
                    snapshots = None;
                }
                true
            }
            _ = refresh.tick() => true,
            _ = heartbeat.tick() => false,
        };
        let msg = if update {
            let v = app.view(w, &caller, &cookie).await;
            live.update(&v, now_ms())
        } else {
            // a revoked key ends its sessions' streams too (checked every few heartbeats)
            if live.beat() && app.key_by_id(&caller.key.id).await.is_none() {
                return;
            }
            wedsync_dashboard::sse_heartbeat(now_ms(), &w.gatherer.spec().zone)
        };
        if tx.send(Bytes::from(msg)).await.is_err() {
            return;
        }
    }
}

/// A Server-Sent Events body: the messages the stream task sends, as they come.
struct SseBody {
    rx: mpsc::Receiver<Bytes>,
}

impl hyper::body::Body for SseBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<hyper::body::Frame<Bytes>, Infallible>>> {
        self.rx
            .poll_recv(cx)
            .map(|m| m.map(|b| Ok(hyper::body::Frame::data(b))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        assert_eq!(route_of("/dashboard"), Some("/dashboard"));
        assert_eq!(
            route_of("/badge/stripe/status.svg"),
            Some("/badge/{service}/status.svg")
        );
        assert_eq!(route_of("/api/admin/integrations/health"), None);
        assert_eq!(route_of("/dashboardx"), None);
    }
}
