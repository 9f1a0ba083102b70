//! The live dashboard (`/dashboard`), the public status page (`/status`) and the badges
//! (`/badge/{service}/status.svg`, `/badge/{service}/uptime.svg`).
//!
//! Rendering is `wedsync-dashboard`'s; this module authenticates (a browser session started from
//! an API key, see [`session`]), gathers the data ([`gather`]) and pushes updates with
//! Server-Sent Events: an `update` whenever the monitor's snapshot changes (and every few seconds
//! for the webhook figures), a `heartbeat` every [`HEARTBEAT`], so the page knows within seconds
//! when the monitor stops answering. Read scope sees; admin scope acts (replay), with a CSRF token
//! in the form and an audit entry like the API's.

pub mod gather;
pub mod session;

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::{Arc, Weak};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{header, HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::BodyExt as _;
use tokio::sync::{mpsc, watch};
use wedsync_dashboard::{DashboardView, PublicView};

use crate::admin::{ApiKeyRecord, Scope};
use crate::app::{App, Caller};
use crate::error::{full, ApiError, Body};
use crate::ratelimit::Budget;
use gather::Gatherer;
use session::{cookie, set_cookie, SessionKeys, LOGIN_COOKIE, SESSION_COOKIE};

/// How often an open page hears from the server when nothing changes.
pub const HEARTBEAT: Duration = Duration::from_secs(5);
/// The audit action that acknowledges an incident (the target is the incident's key).
pub const ACK_ACTION: &str = "incident.acknowledge";
/// The flash-message cookie (a replay's result, shown once).
const FLASH_COOKIE: &str = "wsm_flash";

/// The Content-Security-Policy of every dashboard page: no inline script or style, nothing from
/// elsewhere, no framing.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' \
                       data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; \
                       base-uri 'none'";

/// The dashboard's state in the server.
pub struct Dashboard {
    keys: SessionKeys,
    gatherer: Gatherer,
    stop: watch::Receiver<bool>,
    app: std::sync::OnceLock<Weak<App>>,
}

impl std::fmt::Debug for Dashboard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dashboard").finish_non_exhaustive()
    }
}

impl Dashboard {
    /// A dashboard signing sessions with `secret`; its event streams end when `stop` turns true.
    pub fn new(secret: [u8; 32], stop: watch::Receiver<bool>) -> Self {
        Dashboard {
            keys: SessionKeys::new(secret),
            gatherer: Gatherer::default(),
            stop,
            app: std::sync::OnceLock::new(),
        }
    }

    /// Tells the dashboard which application it belongs to (its event streams outlive a request).
    pub fn attach(&self, app: &Arc<App>) {
        let _ = self.app.set(Arc::downgrade(app));
    }
}

/// The route label (for metrics) of a dashboard path, or `None` when `path` is not one.
pub fn route_of(path: &str) -> Option<&'static str> {
    Some(match path {
        "/dashboard" | "/dashboard/" => "/dashboard",
        "/dashboard/login" => "/dashboard/login",
        "/dashboard/logout" => "/dashboard/logout",
        "/dashboard/events" => "/dashboard/events",
        "/dashboard/replay" => "/dashboard/replay",
        "/dashboard/acknowledge" => "/dashboard/acknowledge",
        "/dashboard/assets/app.js" => "/dashboard/assets/app.js",
        "/dashboard/assets/app.css" => "/dashboard/assets/app.css",
        "/status" => "/status",
        p if p.starts_with("/badge/") && p.ends_with("/status.svg") => {
            "/badge/{service}/status.svg"
        }
        p if p.starts_with("/badge/") && p.ends_with("/uptime.svg") => {
            "/badge/{service}/uptime.svg"
        }
        _ => return None,
    })
}

fn with_security_headers(mut r: Response<Body>) -> Response<Body> {
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    r
}

fn html(status: StatusCode, body: String) -> Response<Body> {
    let mut r = Response::new(full(body));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    r
}

fn redirect(to: &'static str, cookies: &[String]) -> Response<Body> {
    let mut r = Response::new(full(Bytes::new()));
    *r.status_mut() = StatusCode::SEE_OTHER;
    r.headers_mut()
        .insert(header::LOCATION, HeaderValue::from_static(to));
    for c in cookies {
        if let Ok(v) = HeaderValue::from_str(c) {
            r.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    r
}

fn asset(content_type: &'static str, body: &'static str) -> Response<Body> {
    let mut r = Response::new(full(Bytes::from_static(body.as_bytes())));
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    r
}

fn not_found() -> Response<Body> {
    ApiError::not_found("no such page").into_response()
}

fn form(body: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

fn field<'a>(f: &'a [(String, String)], name: &str) -> &'a str {
    f.iter()
        .find(|(k, _)| k == name)
        .map_or("", |(_, v)| v.as_str())
}

/// Refuses a state-changing request another site started (browsers send these headers; the
/// SameSite=Strict cookie and the CSRF token are the main defences).
fn cross_site(headers: &HeaderMap) -> bool {
    headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == "cross-site")
}

fn encode_flash(text: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
}

fn decode_flash(v: &str) -> Option<String> {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(v)
        .ok()?;
    String::from_utf8(bytes).ok().filter(|s| s.len() <= 300)
}

impl App {
    fn dash(&self) -> Option<&Dashboard> {
        self.dashboard.as_ref()
    }

    /// The session's key record, when the request carries a valid session of a key that still
    /// exists and is not revoked.
    async fn session_caller(&self, headers: &HeaderMap) -> Option<(Caller, String)> {
        let d = self.dash()?;
        let c = cookie(headers, SESSION_COOKIE)?;
        let s = d.keys.verify(c, gather::now_ms() / 1000)?;
        let key = self.key_by_id(&s.key_id).await?;
        Some((Caller { key }, s.cookie))
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

    /// Handles a dashboard request (`route_of(path)` is `Some`).
    pub(crate) async fn dashboard<B>(&self, req: Request<B>) -> Response<Body>
    where
        B: hyper::body::Body<Data = Bytes> + Send,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let Some(d) = self.dash() else {
            return not_found();
        };
        let path = req.uri().path().to_owned();
        let method = req.method().clone();
        let resp = match (method, route_of(&path).unwrap_or_default()) {
            (Method::GET, "/dashboard/assets/app.js") => {
                asset("text/javascript; charset=utf-8", wedsync_dashboard::APP_JS)
            }
            (Method::GET, "/dashboard/assets/app.css") => {
                asset("text/css; charset=utf-8", wedsync_dashboard::APP_CSS)
            }
            (Method::GET, "/dashboard/login") => self.login_page(d, None),
            (Method::POST, "/dashboard/login") => self.login(d, req).await,
            (Method::POST, "/dashboard/logout") => self.logout(d, req).await,
            (Method::GET, "/dashboard") => self.page(d, req.headers()).await,
            (Method::GET, "/dashboard/events") => self.events(req.headers()).await,
            (Method::POST, "/dashboard/replay") => self.replay_form(d, req).await,
            (Method::POST, "/dashboard/acknowledge") => self.acknowledge_form(d, req).await,
            (Method::GET, "/status") => self.status_page(d).await,
            (Method::GET, "/badge/{service}/status.svg" | "/badge/{service}/uptime.svg") => {
                self.badge(d, &path).await
            }
            _ => ApiError::client(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "method not allowed here",
            )
            .into_response(),
        };
        with_security_headers(resp)
    }

    fn login_page(&self, d: &Dashboard, error: Option<&str>) -> Response<Body> {
        let nonce = session::nonce();
        let mut r = html(
            if error.is_some() {
                StatusCode::UNAUTHORIZED
            } else {
                StatusCode::OK
            },
            wedsync_dashboard::render_login(error, &d.keys.csrf(&nonce)),
        );
        let c = set_cookie(
            LOGIN_COOKIE,
            &nonce,
            3600,
            self.cfg.dashboard.secure_cookies,
        );
        if let Ok(v) = HeaderValue::from_str(&c) {
            r.headers_mut().append(header::SET_COOKIE, v);
        }
        r
    }

    async fn login<B>(&self, d: &Dashboard, req: Request<B>) -> Response<Body>
    where
        B: hyper::body::Body<Data = Bytes> + Send,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let (parts, body) = req.into_parts();
        if cross_site(&parts.headers) {
            return self.login_page(d, Some("Sign in from this page."));
        }
        let body = match self.read_body(&parts.headers, body).await {
            Ok(b) => b,
            Err(e) => return e.into_response(),
        };
        let f = form(&body);
        let nonce = cookie(&parts.headers, LOGIN_COOKIE).unwrap_or_default();
        if nonce.is_empty() || !d.keys.csrf_ok(nonce, field(&f, "csrf")) {
            return self.login_page(d, Some("The form expired; please sign in again."));
        }
        let key = match self.admin.verify_key(field(&f, "api_key").trim()).await {
            Ok(Some(k)) if k.revoked_at.is_none() && k.allows(Scope::Read) => k,
            Ok(_) => {
                return self.login_page(d, Some("That API key is not valid (or was revoked)."))
            }
            Err(e) => {
                tracing::error!(error = %e, "API key lookup failed");
                return self.login_page(d, Some("The store is unavailable; try again shortly."));
            }
        };
        let ttl = self.cfg.dashboard.session_ttl;
        let expires =
            gather::now_ms() / 1000 + i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX / 2);
        let secure = self.cfg.dashboard.secure_cookies;
        tracing::info!(key = %key.id, "dashboard session started");
        redirect(
            "/dashboard",
            &[
                set_cookie(
                    SESSION_COOKIE,
                    &d.keys.issue(&key.id, expires),
                    i64::try_from(ttl.as_secs()).unwrap_or(0),
                    secure,
                ),
                set_cookie(LOGIN_COOKIE, "", 0, secure),
            ],
        )
    }

    /// The session and the CSRF-checked form of a state-changing request, or the response that
    /// refuses it.
    async fn checked_form<B>(
        &self,
        d: &Dashboard,
        req: Request<B>,
    ) -> Result<(Caller, Vec<(String, String)>), Response<Body>>
    where
        B: hyper::body::Body<Data = Bytes> + Send,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let (parts, body) = req.into_parts();
        let Some((caller, cookie)) = self.session_caller(&parts.headers).await else {
            return Err(redirect("/dashboard/login", &[]));
        };
        let body = self
            .read_body(&parts.headers, body)
            .await
            .map_err(ApiError::into_response)?;
        let f = form(&body);
        if cross_site(&parts.headers) || !d.keys.csrf_ok(&cookie, field(&f, "csrf")) {
            return Err(ApiError::client(
                StatusCode::FORBIDDEN,
                "csrf",
                "the form's CSRF token is missing or wrong; reload the page",
            )
            .into_response());
        }
        Ok((caller, f))
    }

    /// Like [`checked_form`](Self::checked_form), for actions that need the admin scope
    /// (`what` names the action in the refusal).
    async fn admin_form<B>(
        &self,
        d: &Dashboard,
        req: Request<B>,
        what: &str,
    ) -> Result<(Caller, Vec<(String, String)>), Response<Body>>
    where
        B: hyper::body::Body<Data = Bytes> + Send,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let (caller, f) = self.checked_form(d, req).await?;
        if !caller.key.allows(Scope::Admin) {
            return Err(ApiError::client(
                StatusCode::FORBIDDEN,
                "forbidden",
                format!("{what} needs the monitoring:admin scope"),
            )
            .into_response());
        }
        Ok((caller, f))
    }

    /// Back to the dashboard, which shows `message` once.
    fn back_with(&self, message: &str) -> Response<Body> {
        redirect(
            "/dashboard",
            &[set_cookie(
                FLASH_COOKIE,
                &encode_flash(message),
                60,
                self.cfg.dashboard.secure_cookies,
            )],
        )
    }

    async fn logout<B>(&self, d: &Dashboard, req: Request<B>) -> Response<Body>
    where
        B: hyper::body::Body<Data = Bytes> + Send,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        match self.checked_form(d, req).await {
            Ok(_) => redirect(
                "/dashboard/login",
                &[set_cookie(
                    SESSION_COOKIE,
                    "",
                    0,
                    self.cfg.dashboard.secure_cookies,
                )],
            ),
            Err(r) => r,
        }
    }

    /// Builds the view for one viewer.
    async fn view(&self, d: &Dashboard, caller: &Caller, cookie: &str) -> DashboardView {
        let g = d
            .gatherer
            .gather(&self.cfg, &self.integrations, &self.webhooks, &self.admin)
            .await;
        DashboardView {
            now_ms: g.now_ms,
            zone: self.cfg.wedding_days.timezone.clone(),
            wedding: g.wedding,
            services: g.services,
            incidents: (*g.incidents).clone(),
            maintenance: g.maintenance,
            webhooks: (*g.webhooks).clone(),
            can_act: caller.key.allows(Scope::Admin),
            csrf: d.keys.csrf(cookie),
            flash: None,
        }
    }

    async fn page(&self, d: &Dashboard, headers: &HeaderMap) -> Response<Body> {
        let Some((caller, c)) = self.session_caller(headers).await else {
            return redirect("/dashboard/login", &[]);
        };
        let mut v = self.view(d, &caller, &c).await;
        v.flash = cookie(headers, FLASH_COOKIE).and_then(decode_flash);
        let mut r = html(StatusCode::OK, wedsync_dashboard::render_page(&v));
        if v.flash.is_some() {
            let c = set_cookie(FLASH_COOKIE, "", 0, self.cfg.dashboard.secure_cookies);
            if let Ok(v) = HeaderValue::from_str(&c) {
                r.headers_mut().append(header::SET_COOKIE, v);
            }
        }
        r
    }

    async fn replay_form<B>(&self, d: &Dashboard, req: Request<B>) -> Response<Body>
    where
        B: hyper::body::Body<Data = Bytes> + Send,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let (caller, f) = match self.admin_form(d, req, "replaying").await {
            Ok(x) => x,
            Err(r) => return r,
        };
        if let Err(wait) = self.limits.check(Budget::Strict, &caller.key.id) {
            return crate::app::rate_limited(wait).into_response();
        }
        let id = field(&f, "delivery_id").trim().to_owned();
        let (target, result) = self
            .webhooks
            .replay(&serde_json::json!({ "webhook_id": id }), &caller.key.id)
            .await;
        self.audit(&caller, "webhook.replay", &target, &result)
            .await;
        d.gatherer.invalidate_webhooks();
        let message = match &result {
            Ok(_) => format!(
                "Replay of delivery {target} scheduled: the handler receives it within seconds."
            ),
            Err(e) => format!(
                "Replay of delivery {target} refused: {}",
                e.client_message()
            ),
        };
        self.back_with(&message)
    }

    /// Acknowledges an open incident: an audit entry `incident.acknowledge` (the audit log is
    /// shared by every process, so the timeline shows it everywhere).
    async fn acknowledge_form<B>(&self, d: &Dashboard, req: Request<B>) -> Response<Body>
    where
        B: hyper::body::Body<Data = Bytes> + Send,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let (caller, f) = match self.admin_form(d, req, "acknowledging").await {
            Ok(x) => x,
            Err(r) => return r,
        };
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
        d.gatherer.invalidate_incidents();
        let message = match (&open, &result) {
            (Some(i), Ok(_)) => format!("Incident of {} acknowledged.", i.service),
            _ => "That incident is not open (resolved meanwhile?).".to_owned(),
        };
        self.back_with(&message)
    }

    async fn events(&self, headers: &HeaderMap) -> Response<Body> {
        let Some((caller, cookie)) = self.session_caller(headers).await else {
            return ApiError::unauthorized("sign in at /dashboard/login").into_response();
        };
        let Some(app) = self
            .dash()
            .and_then(|d| d.app.get())
            .and_then(Weak::upgrade)
        else {
            return ApiError::unavailable("shutting down", 1).into_response();
        };
        let (tx, rx) = mpsc::channel::<Bytes>(4);
        tokio::spawn(stream_events(app, caller, cookie, tx));
        let mut r = Response::new(SseBody { rx }.boxed());
        let h = r.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/event-stream"),
        );
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        h.insert("x-accel-buffering", HeaderValue::from_static("no"));
        r
    }

    async fn status_page(&self, d: &Dashboard) -> Response<Body> {
        if !self.cfg.dashboard.public_status {
            return not_found();
        }
        let services = d.gatherer.public(&self.cfg, &self.integrations).await;
        let mut r = html(
            StatusCode::OK,
            wedsync_dashboard::render_status_page(&PublicView {
                now_ms: gather::now_ms(),
                zone: self.cfg.wedding_days.timezone.clone(),
                services,
            }),
        );
        r.headers_mut().insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=15"),
        );
        r
    }

    async fn badge(&self, d: &Dashboard, path: &str) -> Response<Body> {
        if !self.cfg.dashboard.public_status {
            return not_found();
        }
        let mut segs = path.trim_start_matches('/').split('/');
        let (Some("badge"), Some(name), Some(kind), None) =
            (segs.next(), segs.next(), segs.next(), segs.next())
        else {
            return not_found();
        };
        let services = d.gatherer.public(&self.cfg, &self.integrations).await;
        let Some(s) = services.iter().find(|s| s.name == name) else {
            return not_found();
        };
        let svg = if kind == "status.svg" {
            wedsync_dashboard::badge_status(&s.name, s.state)
        } else {
            wedsync_dashboard::badge_uptime(&s.name, wedsync_dashboard::uptime_percent(&s.days))
        };
        let mut r = Response::new(full(svg));
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("image/svg+xml"),
        );
        r.headers_mut().insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=30"),
        );
        r
    }
}

/// Pushes updates to one open page until it goes away, its key is revoked, or the server stops.
async fn stream_events(app: Arc<App>, caller: Caller, cookie: String, tx: mpsc::Sender<Bytes>) {
    let Some(d) = app.dash() else { return };
    let mut stop = d.stop.clone();
    let mut snapshots = app.integrations.monitor().map(|m| m.subscribe());
    let zone = app.cfg.wedding_days.timezone.clone();
    let mut heartbeat = tokio::time::interval(HEARTBEAT);
    heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut refresh = tokio::time::interval(gather::WEBHOOKS_TTL);
    refresh.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // reconnect quickly after a lost connection
    if tx
        .send(Bytes::from_static(b"retry: 2000\n\n"))
        .await
        .is_err()
    {
        return;
    }
    let mut beats = 0u32;
    // what the page has: a fragment is sent again only when its HTML changed
    let mut sent: std::collections::HashMap<String, u64> = std::collections::HashMap::new();
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
        let changed = if update {
            let v = app.view(d, &caller, &cookie).await;
            let fresh: Vec<(String, String)> = wedsync_dashboard::render_fragments(&v)
                .into_iter()
                .filter(|(id, html)| sent.insert(id.clone(), digest(html)) != Some(digest(html)))
                .collect();
            (!fresh.is_empty()).then(|| wedsync_dashboard::sse_update_with(v.now_ms, &zone, &fresh))
        } else {
            None
        };
        let msg = if let Some(m) = changed {
            m
        } else if update {
            wedsync_dashboard::sse_heartbeat(gather::now_ms(), &zone)
        } else {
            beats += 1;
            // a revoked key ends its sessions' streams too (checked every few heartbeats)
            if beats.is_multiple_of(3) && app.key_by_id(&caller.key.id).await.is_none() {
                return;
            }
            wedsync_dashboard::sse_heartbeat(gather::now_ms(), &zone)
        };
        if tx.send(Bytes::from(msg)).await.is_err() {
            return;
        }
    }
}

fn digest(html: &str) -> u64 {
    use std::hash::{Hash as _, Hasher as _};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    html.hash(&mut h);
    h.finish()
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
    fn routes_and_flash() {
        assert_eq!(route_of("/dashboard"), Some("/dashboard"));
        assert_eq!(
            route_of("/badge/stripe/status.svg"),
            Some("/badge/{service}/status.svg")
        );
        assert_eq!(route_of("/api/admin/integrations/health"), None);
        assert_eq!(route_of("/dashboardx"), None);
        let f = encode_flash("Replay of delivery x scheduled");
        assert!(f
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
        assert_eq!(
            decode_flash(&f).as_deref(),
            Some("Replay of delivery x scheduled")
        );
        assert_eq!(decode_flash("!!"), None);
    }
}
