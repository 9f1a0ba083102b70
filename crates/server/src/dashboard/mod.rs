//! The live dashboard (`/dashboard`), the public status page (`/status`) and the badges
//! (`/badge/{service}/status.svg`, `/badge/{service}/uptime.svg`), mounted on the application.
//!
//! [`wedsync_dashboard::http`] serves every route — sessions and CSRF, the pages, the
//! Server-Sent Events stream, the replay and acknowledgement forms, the refusals and security
//! headers. This module only wires it: the dashboard's settings from the configuration, and its
//! [`Backend`] over [`App`] — the API keys of the admin store (read scope sees, admin scope
//! acts), the audit log, the webhook replay, the strict rate-limit budget, the body limit, and
//! the monitor and stores the views are gathered from.

use std::sync::Weak;

use async_trait::async_trait;
use bytes::Bytes;
use http::{Request, Response};
use tokio::sync::watch;
use wedsync_dashboard::gather::{unix_ms, ServiceSpec, Sources, Spec};
use wedsync_dashboard::http::{
    AuditRecord, Backend, BoxError, Caller, Dashboard, Refusal, Refused, Unavailable,
};
use wedsync_dashboard::Route;

use crate::admin::Scope;
use crate::app::{outcome, rate_limited, App};
use crate::config::Config;
use crate::error::{ApiError, Body};
use crate::ratelimit::Budget;

pub use wedsync_dashboard::http::ACK_ACTION;
pub use wedsync_dashboard::{CSP, HEARTBEAT};

/// The route label (for metrics) of a dashboard path, or `None` when `path` is not one.
pub fn route_of(path: &str) -> Option<&'static str> {
    Route::of(path).map(Route::label)
}

/// The dashboard of `app` as `cfg` describes it, signing sessions with `secret`; its event
/// streams end when `stop` turns true.
pub fn new(
    cfg: &Config,
    secret: [u8; 32],
    app: Weak<App>,
    stop: watch::Receiver<bool>,
) -> Dashboard {
    let spec = Spec {
        zone: cfg.wedding_days.timezone.clone(),
        services: cfg.services.iter().map(ServiceSpec::from).collect(),
        providers: cfg.webhooks.keys().map(|p| p.as_str().into()).collect(),
    };
    Dashboard::new(cfg.dashboard.settings(secret, spec), app, stop)
}

fn caller(id: String, scopes: &[String]) -> Caller {
    Caller {
        can_act: Scope::Admin.granted_by(scopes),
        id,
    }
}

impl App {
    /// Handles a dashboard request (`route_of(path)` is `Some`); 404 without a dashboard.
    pub(crate) async fn dashboard<B>(&self, req: Request<B>) -> Response<Body>
    where
        B: hyper::body::Body<Data = Bytes> + Send,
        B::Error: Into<BoxError>,
    {
        match &self.dashboard {
            Some(d) => d.handle(req).await,
            None => ApiError::not_found("no such page").into_response(),
        }
    }
}

#[async_trait]
impl Backend for App {
    async fn verify_key(&self, api_key: &str) -> Result<Option<Caller>, Unavailable> {
        match self.admin.verify_key(api_key).await {
            Ok(key) => Ok(key
                .filter(|k| Scope::Read.granted_by(&k.scopes))
                .map(|k| caller(k.id, &k.scopes))),
            Err(e) => {
                tracing::error!(error = %e, "API key lookup failed");
                Err(Unavailable)
            }
        }
    }

    async fn key_by_id(&self, id: &str) -> Option<Caller> {
        match self.admin.live_key(id).await {
            Ok(key) => key
                .filter(|k| Scope::Read.granted_by(&k.scopes))
                .map(|k| caller(k.id, &k.scopes)),
            Err(e) => {
                tracing::error!(error = %e, "API key lookup failed");
                None
            }
        }
    }

    fn body_limit(&self) -> u64 {
        self.cfg.server.body_limit_bytes
    }

    fn replay_budget(&self, caller: &Caller) -> Result<(), Refusal> {
        let checked = self.limits.check(Budget::Strict, &caller.id);
        checked.map_err(|wait| rate_limited(wait).into_response().into())
    }

    async fn audit(&self, caller: &Caller, action: &str, target: &str, result: &str) {
        self.record(&caller.id, action, target, result.to_owned())
            .await;
    }

    async fn recent_audit(&self, limit: usize) -> Vec<AuditRecord> {
        let entries = self.admin.recent_audit(limit).await.unwrap_or_default();
        let record = |e: crate::admin::AuditEntry| AuditRecord {
            at_ms: unix_ms(e.at),
            action: e.action,
            target: e.target,
            result: e.result,
        };
        entries.into_iter().map(record).collect()
    }

    async fn replay(&self, caller: &Caller, delivery_id: &str) -> (String, Result<(), Refused>) {
        let body = serde_json::json!({ "webhook_id": delivery_id });
        let (target, result) = self.webhooks.replay(&body, &caller.id).await;
        let result = match result {
            Ok(_) => Ok(()),
            Err(e) => Err(Refused {
                message: e.client_message().to_owned(),
                code: outcome(&Err(e)),
            }),
        };
        (target, result)
    }

    fn sources(&self) -> Sources<'_> {
        Sources {
            monitor: self.integrations.monitor().map(|m| &**m),
            probes: &**self.integrations.probe_store(),
            webhooks: &**self.webhooks.store(),
        }
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
