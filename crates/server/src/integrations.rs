//! The integrations-health routes: the monitor's snapshot, manual probe runs and breaker resets.

use std::sync::Arc;

use http::{Response, StatusCode};
use serde_json::json;

use crate::config::Config;
use crate::error::{json_response, ApiError, Body};
use crate::metrics::Metrics;

/// Serves the integrations-health routes from the monitor.
pub struct Integrations {
    cfg: Arc<Config>,
}

impl std::fmt::Debug for Integrations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Integrations").finish_non_exhaustive()
    }
}

impl Integrations {
    /// Integrations for the configured services.
    pub fn new(cfg: Arc<Config>) -> Self {
        Self { cfg }
    }

    fn known(&self, service: &str) -> Result<(), ApiError> {
        if self.cfg.services.iter().any(|s| s.name == service) {
            Ok(())
        } else {
            Err(ApiError::not_found(format!("unknown service `{service}`")))
        }
    }

    /// `GET /api/admin/integrations/health`.
    pub async fn report(&self, q: &[(String, String)]) -> Result<Response<Body>, ApiError> {
        let filter = q
            .iter()
            .find(|(k, _)| k == "service")
            .map(|(_, v)| v.as_str());
        if let Some(f) = filter {
            self.known(f)?;
        }
        let services: Vec<_> = self
            .cfg
            .services
            .iter()
            .filter(|s| filter.is_none_or(|f| f == s.name))
            .map(|s| json!({"name": s.name, "kind": s.kind, "status": "unknown"}))
            .collect();
        Ok(json_response(
            StatusCode::OK,
            &json!({"status": "unknown", "services": services}),
        ))
    }

    /// `POST /api/admin/integrations/health`.
    pub async fn run_now(&self, service: &str) -> Result<Response<Body>, ApiError> {
        self.known(service)?;
        Err(ApiError::unavailable(
            "the monitor is not running in this process",
            30,
        ))
    }

    /// `DELETE /api/admin/integrations/health`.
    pub async fn reset_breaker(&self, service: &str) -> Result<Response<Body>, ApiError> {
        self.known(service)?;
        Err(ApiError::unavailable(
            "the monitor is not running in this process",
            30,
        ))
    }

    /// Updates the probe and breaker gauges before `/metrics` renders.
    pub fn refresh_metrics(&self, _metrics: &Metrics) {}
}
