//! The application: routing, authentication, rate limits, metrics and the handlers.
//!
//! [`App::handle`] is generic over the request body, so handlers are testable without a socket.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http::{header, HeaderMap, HeaderValue, Method, Request, Response, StatusCode};

use wedsync_dashboard::http::read_limited;
use wedsync_store::StoreHealthCheck;
use wedsync_webhooks::analysis::{Timeframe, TimeframeError};

use crate::admin::{AdminStore, AuditEntry, Scope, VerifiedKey};
use crate::config::Config;
use crate::error::{json_response, text_response, ApiError, Body};
use crate::integrations::Integrations;
use crate::metrics::Metrics;
use crate::ratelimit::{Budget, RateLimits};
use crate::routes::{self, Match, RouteId};
use crate::webhooks::WebhookIngress;

/// Everything a request handler needs.
pub struct App {
    pub(crate) cfg: Arc<Config>,
    pub(crate) admin: Arc<AdminStore>,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) limits: RateLimits,
    pub(crate) readiness: Option<Arc<dyn StoreHealthCheck>>,
    pub(crate) integrations: Integrations,
    pub(crate) webhooks: WebhookIngress,
    pub(crate) dashboard: Option<wedsync_dashboard::http::Dashboard>,
    openapi: Bytes,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App").finish_non_exhaustive()
    }
}

/// A request's authenticated caller.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The verified key.
    pub key: VerifiedKey,
}

impl App {
    /// Assembles the application from its parts.
    pub fn new(
        cfg: Arc<Config>,
        admin: Arc<AdminStore>,
        metrics: Arc<Metrics>,
        readiness: Option<Arc<dyn StoreHealthCheck>>,
        integrations: Integrations,
        webhooks: WebhookIngress,
    ) -> Self {
        let openapi =
            Bytes::from(serde_json::to_vec_pretty(&crate::openapi::document()).unwrap_or_default());
        Self {
            limits: RateLimits::new(&cfg.rate_limits),
            cfg,
            admin,
            metrics,
            readiness,
            integrations,
            webhooks,
            dashboard: None,
            openapi,
        }
    }

    /// Serves the dashboard (`/dashboard`, `/status`, `/badge/…`) too.
    pub fn with_dashboard(mut self, dashboard: wedsync_dashboard::http::Dashboard) -> Self {
        self.dashboard = Some(dashboard);
        self
    }

    /// The metrics registry.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// The admin store (API keys, audit log).
    pub fn admin(&self) -> &Arc<AdminStore> {
        &self.admin
    }

    /// Handles one request.
    pub async fn handle<B>(&self, req: Request<B>) -> Response<Body>
    where
        B: hyper::body::Body<Data = Bytes> + Send,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let started = Instant::now();
        let method = req.method().clone();
        let path = req.uri().path().to_string();
        let (route_label, resp) = if let Some(label) = crate::dashboard::route_of(&path) {
            (label, self.dashboard(req).await)
        } else {
            self.api(&method, &path, req).await
        };
        let status = resp.status();
        let elapsed = started.elapsed().as_secs_f64();
        self.metrics.inc(
            "wedsync_http_requests_total",
            "HTTP requests by method, route template and status",
            &[
                ("method", method_label(&method)),
                ("route", route_label),
                ("status", status.as_str()),
            ],
            1.0,
        );
        self.metrics.observe(
            "wedsync_http_request_duration_seconds",
            "HTTP request latency by route template",
            &[("route", route_label)],
            elapsed,
        );
        tracing::debug!(%method, route = route_label, status = status.as_u16(), elapsed_ms = elapsed * 1000.0, "request");
        resp
    }

    /// Routes an API request through the route table.
    async fn api<B>(
        &self,
        method: &Method,
        path: &str,
        req: Request<B>,
    ) -> (&'static str, Response<Body>)
    where
        B: hyper::body::Body<Data = Bytes> + Send,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        match routes::find(method, path) {
            Match::Found { route, param } => {
                let param = param.map(str::to_string);
                let resp = match self.dispatch(route.id, param, req).await {
                    Ok(r) => r,
                    Err(e) => e.into_response(),
                };
                (route.path, resp)
            }
            Match::MethodNotAllowed(allowed) => {
                let mut resp = ApiError::client(
                    StatusCode::METHOD_NOT_ALLOWED,
                    "method_not_allowed",
                    format!("{method} is not allowed here"),
                )
                .into_response();
                let allow = allowed
                    .iter()
                    .map(Method::as_str)
                    .collect::<Vec<_>>()
                    .join(", ");
                if let Ok(v) = HeaderValue::from_str(&allow) {
                    resp.headers_mut().insert(header::ALLOW, v);
                }
                ("unmatched", resp)
            }
            Match::NotFound => (
                "unmatched",
                ApiError::not_found("no such route").into_response(),
            ),
        }
    }

    async fn dispatch<B>(
        &self,
        id: RouteId,
        param: Option<String>,
        req: Request<B>,
    ) -> Result<Response<Body>, ApiError>
    where
        B: hyper::body::Body<Data = Bytes> + Send,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        match id {
            RouteId::Healthz => Ok(json_response(
                StatusCode::OK,
                &serde_json::json!({"status": "ok", "version": env!("CARGO_PKG_VERSION")}),
            )),
            RouteId::Readyz => self.readyz().await,
            RouteId::Metrics => Ok(self.metrics_page().await),
            RouteId::OpenApi => {
                let mut r = text_response(StatusCode::OK, "application/json", self.openapi.clone());
                r.headers_mut().insert(
                    header::CACHE_CONTROL,
                    HeaderValue::from_static("public, max-age=60"),
                );
                Ok(r)
            }
            RouteId::IngestWebhook => {
                let (parts, body) = req.into_parts();
                let limit = self.cfg.server.body_limit_bytes;
                let body = read_limited(&parts.headers, body, limit).await?;
                let provider = param.unwrap_or_default();
                self.webhooks
                    .ingest(&provider, &parts.uri, &parts.headers, body)
                    .await
            }
            RouteId::IntegrationsHealth => {
                self.authorize(req.headers(), Scope::Read, None).await?;
                self.integrations
                    .report(&query_pairs(req.uri().query()))
                    .await
            }
            RouteId::RunProbe => self.run_probe(req).await,
            RouteId::ResetBreaker => self.reset_breaker(req).await,
            RouteId::WebhooksHealth | RouteId::WebhookFailures => {
                self.authorize(req.headers(), Scope::Read, None).await?;
                let q = query_pairs(req.uri().query());
                let tf = match query_value(&q, "timeframe") {
                    Some(v) => v
                        .parse()
                        .map_err(|e: TimeframeError| ApiError::bad_request(e.to_string()))?,
                    None => Timeframe::default(),
                };
                match id {
                    RouteId::WebhooksHealth => self.webhooks.stats(tf).await,
                    _ => self.webhooks.failures(tf).await,
                }
            }
            RouteId::ReplayJob => {
                self.authorize(req.headers(), Scope::Read, None).await?;
                let job = param.as_deref().unwrap_or_default();
                self.webhooks.replay_job(job).await
            }
            RouteId::Replay => self.replay_route(req).await,
        }
    }

    /// `GET /readyz`: 200 when the store answers (its own health check, within 2 s) or there is
    /// none, else 503 with Retry-After.
    async fn readyz(&self) -> Result<Response<Body>, ApiError> {
        if let Some(store) = &self.readiness {
            let h = store.health(std::time::Duration::from_secs(2)).await;
            if !h.ok {
                let reason = h.error.as_deref().unwrap_or("unhealthy");
                tracing::warn!(backend = h.backend, reason, "not ready");
                return Err(ApiError::unavailable("the store is unreachable", 5));
            }
        }
        let ready = serde_json::json!({"status": "ready"});
        Ok(json_response(StatusCode::OK, &ready))
    }

    /// `GET /metrics`: the Prometheus text, gauges refreshed first.
    async fn metrics_page(&self) -> Response<Body> {
        self.integrations.refresh_metrics(&self.metrics);
        self.webhooks.refresh_metrics().await;
        text_response(
            StatusCode::OK,
            "text/plain; version=0.0.4; charset=utf-8",
            self.metrics.render(),
        )
    }

    /// An admin action with a JSON body: the caller (admin scope, strict budget) and the body,
    /// or `invalid` as a 400 when it is not JSON.
    async fn strict_admin_json<B>(
        &self,
        req: Request<B>,
        invalid: &'static str,
    ) -> Result<(Caller, serde_json::Value), ApiError>
    where
        B: hyper::body::Body<Data = Bytes> + Send,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let caller = self
            .authorize(req.headers(), Scope::Admin, Some(Budget::Strict))
            .await?;
        let (parts, body) = req.into_parts();
        let limit = self.cfg.server.body_limit_bytes;
        let body = read_limited(&parts.headers, body, limit).await?;
        let v = serde_json::from_slice(&body).map_err(|_| ApiError::bad_request(invalid))?;
        Ok((caller, v))
    }

    /// `POST /api/admin/integrations/run-probe` with `{"service": NAME}`, audited.
    async fn run_probe<B>(&self, req: Request<B>) -> Result<Response<Body>, ApiError>
    where
        B: hyper::body::Body<Data = Bytes> + Send,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let (caller, v) = self
            .strict_admin_json(req, "body must be JSON: {\"service\": \"NAME\"}")
            .await?;
        let service = v
            .get("service")
            .and_then(|s| s.as_str())
            .ok_or_else(|| ApiError::bad_request("`service` is required"))?;
        let result = self.integrations.run_now(service).await;
        self.audit(&caller, "probe.run", service, &result).await;
        result
    }

    /// `POST /api/admin/integrations/reset-breaker?service=NAME`, audited.
    async fn reset_breaker<B>(&self, req: Request<B>) -> Result<Response<Body>, ApiError> {
        let caller = self.authorize(req.headers(), Scope::Admin, None).await?;
        let q = query_pairs(req.uri().query());
        let service = query_value(&q, "service")
            .ok_or_else(|| ApiError::bad_request("query parameter `service` is required"))?;
        let result = self.integrations.reset_breaker(service).await;
        self.audit(&caller, "breaker.reset", service, &result).await;
        result
    }

    /// `POST /api/admin/webhooks/replay` with a delivery id or a filter, audited.
    async fn replay_route<B>(&self, req: Request<B>) -> Result<Response<Body>, ApiError>
    where
        B: hyper::body::Body<Data = Bytes> + Send,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let (caller, v) = self
            .strict_admin_json(req, "body must be a JSON object")
            .await?;
        let (target, result) = self.webhooks.replay(&v, &caller.key.id).await;
        self.audit(&caller, "webhook.replay", &target, &result)
            .await;
        result
    }

    /// Authenticates the bearer key, checks `scope`, and draws from the rate-limit budgets.
    pub async fn authorize(
        &self,
        headers: &HeaderMap,
        scope: Scope,
        extra: Option<Budget>,
    ) -> Result<Caller, ApiError> {
        let value = headers
            .get(header::AUTHORIZATION)
            .ok_or_else(|| ApiError::unauthorized("missing Authorization: Bearer <api key>"))?;
        let token = value
            .to_str()
            .ok()
            .and_then(|v| {
                let (scheme, rest) = v.split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
            })
            .filter(|t| !t.is_empty())
            .ok_or_else(|| ApiError::unauthorized("Authorization must be `Bearer <api key>`"))?;
        let key = self
            .admin
            .verify_key(token)
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "API key lookup failed");
                ApiError::unavailable("the store is unavailable", 5)
            })?
            .ok_or_else(|| ApiError::unauthorized("unknown or revoked API key"))?;
        if !scope.granted_by(&key.scopes) {
            return Err(ApiError::client(
                StatusCode::FORBIDDEN,
                "forbidden",
                format!("this key lacks the `{scope}` scope"),
            ));
        }
        if let Err(wait) = self.limits.check(Budget::General, &key.id) {
            return Err(rate_limited(wait));
        }
        if let Some(b) = extra {
            if let Err(wait) = self.limits.check(b, &key.id) {
                return Err(rate_limited(wait));
            }
        }
        Ok(Caller { key })
    }

    pub(crate) async fn audit(
        &self,
        caller: &Caller,
        action: &str,
        target: &str,
        result: &Result<Response<Body>, ApiError>,
    ) {
        self.record(&caller.key.id, action, target, outcome(result))
            .await;
    }

    /// Writes an audit entry: key `key_id` did `action` to `target`, with `result` (`ok` or a
    /// refusal's code).
    pub(crate) async fn record(&self, key_id: &str, action: &str, target: &str, result: String) {
        let entry = AuditEntry {
            key_id: key_id.to_owned(),
            action: action.to_string(),
            target: target.chars().take(200).collect(),
            result,
            at: time::OffsetDateTime::now_utc(),
        };
        if let Err(e) = self.admin.audit(&entry).await {
            tracing::error!(error = %e, action, "could not write the audit log");
        }
        tracing::info!(key_id = %entry.key_id, action, target = %entry.target, result = %entry.result, "admin action");
    }
}

/// An action's result as the audit log records it: `ok`, a refusal's code, `internal_error`, or
/// the status of an unsuccessful response.
pub(crate) fn outcome(result: &Result<Response<Body>, ApiError>) -> String {
    match result {
        Ok(r) if r.status().is_success() => "ok".to_string(),
        Ok(r) => r.status().as_u16().to_string(),
        Err(ApiError::Client { code, .. }) => (*code).to_string(),
        Err(ApiError::Internal { .. }) => "internal_error".to_string(),
    }
}

pub(crate) fn rate_limited(wait: std::time::Duration) -> ApiError {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    ApiError::client(
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
        "too many requests for this API key",
    )
    .with_retry_after(secs)
}

fn method_label(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::DELETE => "DELETE",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}

/// Decodes a query string into pairs (`application/x-www-form-urlencoded`: percent-decoding, `+` as
/// space; malformed escapes are kept as they are).
pub fn query_pairs(query: Option<&str>) -> Vec<(String, String)> {
    let Some(q) = query else { return Vec::new() };
    url::form_urlencoded::parse(q.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// The first value of `key` in decoded query pairs.
fn query_value<'q>(q: &'q [(String, String)], key: &str) -> Option<&'q str> {
    q.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_decoding() {
        let q = query_pairs(Some(
            "service=stripe&include_history=true&x=a%20b+c&bad=%zz&t=%",
        ));
        assert_eq!(q[0], ("service".into(), "stripe".into()));
        assert_eq!(q[2], ("x".into(), "a b c".into()));
        assert_eq!(q[3], ("bad".into(), "%zz".into()));
        assert_eq!(q[4], ("t".into(), "%".into()));
    }
}
