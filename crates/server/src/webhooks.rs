//! Webhook ingress and the webhook admin routes.

use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, Response, Uri};

use crate::app::Timeframe;
use crate::config::Config;
use crate::error::{ApiError, Body};
use crate::metrics::Metrics;

/// Serves `POST /webhooks/{provider}` and the webhook admin routes.
pub struct WebhookIngress {
    cfg: Arc<Config>,
}

impl std::fmt::Debug for WebhookIngress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookIngress").finish_non_exhaustive()
    }
}

impl WebhookIngress {
    /// Ingress for the configured providers.
    pub fn new(cfg: Arc<Config>) -> Self {
        Self { cfg }
    }

    /// `POST /webhooks/{provider}`.
    pub async fn ingest(
        &self,
        provider: &str,
        _uri: &Uri,
        _headers: &HeaderMap,
        _body: Bytes,
    ) -> Result<Response<Body>, ApiError> {
        if !self.cfg.webhooks.contains_key(provider) {
            return Err(ApiError::not_found(format!(
                "no webhook provider `{provider}` is configured"
            )));
        }
        Err(ApiError::unavailable(
            "webhook storage is not available",
            30,
        ))
    }

    /// `GET /api/admin/webhooks/health`.
    pub async fn stats(&self, _tf: Timeframe) -> Result<Response<Body>, ApiError> {
        Err(ApiError::unavailable(
            "webhook storage is not available",
            30,
        ))
    }

    /// `GET /api/admin/webhooks/health/failures`.
    pub async fn failures(&self, _tf: Timeframe) -> Result<Response<Body>, ApiError> {
        Err(ApiError::unavailable(
            "webhook storage is not available",
            30,
        ))
    }

    /// `GET /api/admin/webhooks/replays/{job_id}`.
    pub async fn replay_job(&self, job_id: &str) -> Result<Response<Body>, ApiError> {
        Err(ApiError::not_found(format!("no replay job `{job_id}`")))
    }

    /// `POST /api/admin/webhooks/health`; returns the audit target and the result.
    pub async fn replay(
        &self,
        body: &serde_json::Value,
    ) -> (String, Result<Response<Body>, ApiError>) {
        let target = body
            .get("webhook_id")
            .and_then(|v| v.as_str())
            .unwrap_or("bulk")
            .to_string();
        (
            target,
            Err(ApiError::unavailable(
                "webhook storage is not available",
                30,
            )),
        )
    }

    /// Updates webhook gauges (queue depth) before `/metrics` renders.
    pub async fn refresh_metrics(&self, _metrics: &Metrics) {}
}
