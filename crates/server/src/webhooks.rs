//! Webhook ingress (`POST /webhooks/{provider}`) and the webhook admin routes: HTTP glue over
//! [`WebhookApi`], which decides what to answer (verify → record durably → only then 2xx),
//! counts, logs and runs bulk replays; this maps its values and [`ApiRefusal`]s to responses.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Response, StatusCode, Uri};
use time::OffsetDateTime;
use wedsync_webhooks::analysis::Timeframe;
use wedsync_webhooks::api::{ApiRefusal, WebhookApi};
use wedsync_webhooks::crypto::BodyCipher;
use wedsync_webhooks::ingest::Receiver;
use wedsync_webhooks::store::WebhookStore;

use crate::config::{Config, ConfigError};
use crate::error::{json_response, ApiError, Body};
use crate::metrics::Metrics;

/// Serves `POST /webhooks/{provider}` and the webhook admin routes.
#[derive(Debug)]
pub struct WebhookIngress(WebhookApi);

impl From<ApiRefusal> for ApiError {
    fn from(e: ApiRefusal) -> Self {
        let r = match e {
            ApiRefusal::Refused(r) => r,
            ApiRefusal::Internal(detail) => return ApiError::internal(detail),
        };
        let status = StatusCode::from_u16(r.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let e = ApiError::client(status, r.code, r.message);
        match r.retry_after {
            Some(secs) => e.with_retry_after(secs),
            None => e,
        }
    }
}

/// A 200 response with `answer`'s JSON, or the error of its refusal (with `Retry-After`).
fn ok<T: serde::Serialize>(answer: Result<T, ApiRefusal>) -> Result<Response<Body>, ApiError> {
    Ok(json_response(StatusCode::OK, &answer?))
}

impl WebhookIngress {
    /// Ingress for the configured providers, recording into `store`, sealing raw bodies with
    /// `cipher`. Fails when a provider's secret is missing from the environment.
    pub fn new(
        cfg: Arc<Config>,
        store: Arc<dyn WebhookStore>,
        cipher: BodyCipher,
        metrics: Arc<Metrics>,
        retention: Duration,
    ) -> Result<Self, ConfigError> {
        let secrets = |env: &str| cfg.secret(env);
        let receiver = Receiver::configured(store, cipher, &cfg.webhooks, &secrets)?;
        let api = WebhookApi::new(receiver.retention(retention), metrics);
        Ok(Self(api.public_urls(&cfg.webhooks)))
    }

    /// The receiver (the retention job purges through it).
    pub fn receiver(&self) -> &Arc<Receiver> {
        self.0.receiver()
    }

    /// The store deliveries are recorded in.
    pub fn store(&self) -> &Arc<dyn WebhookStore> {
        self.0.store()
    }

    /// `POST /webhooks/{provider}` ([`WebhookApi::ingest`]).
    pub async fn ingest(
        &self,
        name: &str,
        uri: &Uri,
        headers: &HeaderMap,
        body: Bytes,
    ) -> Result<Response<Body>, ApiError> {
        let now = OffsetDateTime::now_utc();
        ok(self.0.ingest(name, uri, headers, &body, now).await)
    }

    /// `GET /api/admin/webhooks/health` ([`WebhookApi::stats`]).
    pub async fn stats(&self, tf: Timeframe) -> Result<Response<Body>, ApiError> {
        ok(self.0.stats(tf, OffsetDateTime::now_utc()).await)
    }

    /// `GET /api/admin/webhooks/health/failures` ([`WebhookApi::failures`]).
    pub async fn failures(&self, tf: Timeframe) -> Result<Response<Body>, ApiError> {
        ok(self.0.failures(tf, OffsetDateTime::now_utc()).await)
    }

    /// `GET /api/admin/webhooks/replays/{job_id}` ([`WebhookApi::replay_job`]).
    pub async fn replay_job(&self, job_id: &str) -> Result<Response<Body>, ApiError> {
        ok(self.0.replay_job(job_id).await)
    }

    /// `POST /api/admin/webhooks/replay` ([`WebhookApi::replay`]): one delivery by `webhook_id`,
    /// or a bulk job by `filter`. Returns the audit target and the result.
    pub async fn replay(
        &self,
        body: &serde_json::Value,
        requested_by: &str,
    ) -> (String, Result<Response<Body>, ApiError>) {
        let now = OffsetDateTime::now_utc();
        let (target, answer) = self.0.replay(body, requested_by, now).await;
        let response = answer.map(|(status, v)| json_response(status, &v));
        (target, response.map_err(ApiError::from))
    }

    /// Updates the queue-depth gauge before `/metrics` renders.
    pub async fn refresh_metrics(&self) {
        self.0.refresh_metrics().await;
    }
}
