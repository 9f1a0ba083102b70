//! Webhook ingress (`POST /webhooks/{provider}`) and the webhook admin routes: HTTP glue over
//! `wedsync-webhooks`, which decides what to answer (verify → record durably → only then 2xx).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Response, StatusCode, Uri};
use serde_json::json;
use time::OffsetDateTime;
use uuid::Uuid;
use wedsync_webhooks::analysis::{self, DeliverySummary};
use wedsync_webhooks::crypto::BodyCipher;
use wedsync_webhooks::ingest::{Answer, HttpRequest, Receiver, Refusal};
use wedsync_webhooks::replay::{self, BulkFilter, ReplayCommand, ReplayError};
use wedsync_webhooks::store::{ReplayJob, WebhookStore};
use wedsync_webhooks::Provider;

use crate::config::{Config, ConfigError};
use crate::error::{json_response, ApiError, Body};
use crate::metrics::Metrics;
use wedsync_webhooks::analysis::Timeframe;

/// Serves `POST /webhooks/{provider}` and the webhook admin routes.
pub struct WebhookIngress {
    cfg: Arc<Config>,
    store: Arc<dyn WebhookStore>,
    receiver: Arc<Receiver>,
    metrics: Arc<Metrics>,
}

impl std::fmt::Debug for WebhookIngress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookIngress")
            .field("receiver", &self.receiver)
            .finish_non_exhaustive()
    }
}

fn refused(r: Refusal) -> ApiError {
    let status = StatusCode::from_u16(r.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let e = ApiError::client(status, r.code, r.message);
    match r.retry_after {
        Some(secs) => e.with_retry_after(secs),
        None => e,
    }
}

fn store_unavailable(e: &dyn std::fmt::Display) -> ApiError {
    tracing::error!(error = %e, "webhook store failed");
    refused(Refusal::store_unavailable())
}

fn replay_error(e: ReplayError) -> ApiError {
    match (e.refusal(), &e) {
        (Some(_), ReplayError::Store(inner)) => store_unavailable(inner),
        (Some(r), _) => refused(r),
        (None, _) => ApiError::internal(e),
    }
}

/// The error answering a webhook that was not recorded (logged as the answer deserves).
fn refusal_of(name: &str, answer: Answer) -> ApiError {
    match &answer {
        Answer::Rejected(r) => {
            if let Some(reason) = &r.rejection {
                tracing::warn!(provider = name, reason = %reason, kind = reason.kind(), "webhook rejected");
            }
        }
        Answer::StoreUnavailable(e) => return store_unavailable(e),
        Answer::Failed(e) => return ApiError::internal(e),
        _ => {}
    }
    match answer.refusal() {
        Some(r) => refused(r),
        None => ApiError::internal(format!("{answer:?}")),
    }
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
        let mut receiver = Receiver::new(store.clone(), cipher).retention(retention);
        for (&provider, w) in &cfg.webhooks {
            let verifier = crate::build::verifier_for(&cfg, provider, w)?;
            receiver = receiver.provider(provider, verifier, w.forward_to.is_some());
        }
        Ok(Self {
            cfg,
            store,
            receiver: Arc::new(receiver),
            metrics,
        })
    }

    /// The receiver (the retention job purges through it).
    pub fn receiver(&self) -> &Arc<Receiver> {
        &self.receiver
    }

    /// The store deliveries are recorded in.
    pub fn store(&self) -> &Arc<dyn WebhookStore> {
        &self.store
    }

    /// `POST /webhooks/{provider}`: the receiver decides, this counts, logs and answers.
    pub async fn ingest(
        &self,
        name: &str,
        uri: &Uri,
        headers: &HeaderMap,
        body: Bytes,
    ) -> Result<Response<Body>, ApiError> {
        let req = HttpRequest {
            provider: name,
            uri,
            headers,
            body: &body,
            public_url: name
                .parse::<Provider>()
                .ok()
                .and_then(|p| self.cfg.webhooks.get(&p))
                .and_then(|w| w.public_url.as_deref()),
        };
        let fut = self.receiver.answer_http(&req, OffsetDateTime::now_utc());
        let budget = name.parse().ok().and_then(Provider::answer_budget);
        let answer = match budget {
            Some(budget) => tokio::time::timeout(budget, fut)
                .await
                .unwrap_or(Answer::OverBudget),
            None => fut.await,
        };
        if let Some(result) = answer.result() {
            self.metrics.inc(
                "wedsync_webhooks_received_total",
                "Webhooks received by provider and result",
                &[("provider", name), ("result", result)],
                1.0,
            );
        }
        if let Answer::Recorded(r) = &answer {
            tracing::info!(provider = name, id = %r.id, status = r.status.as_str(), "webhook recorded");
            return Ok(json_response(StatusCode::OK, &answer.body()));
        }
        Err(refusal_of(name, answer))
    }

    /// `GET /api/admin/webhooks/health`.
    pub async fn stats(&self, tf: Timeframe) -> Result<Response<Body>, ApiError> {
        let now = OffsetDateTime::now_utc();
        let report = analysis::reliability(self.store.as_ref(), now - tf.duration(), now)
            .await
            .map_err(|e| store_unavailable(&e))?;
        let mut v = serde_json::to_value(&report).map_err(ApiError::internal)?;
        if let Some(o) = v.as_object_mut() {
            o.insert("timeframe".into(), json!(tf.as_str()));
        }
        Ok(json_response(StatusCode::OK, &v))
    }

    /// `GET /api/admin/webhooks/health/failures`.
    pub async fn failures(&self, tf: Timeframe) -> Result<Response<Body>, ApiError> {
        let now = OffsetDateTime::now_utc();
        let (from, to) = (now - tf.duration(), now + time::Duration::seconds(1));
        let report = analysis::failure_report(self.store.as_ref(), from, to)
            .await
            .map_err(|e| store_unavailable(&e))?;
        Ok(json_response(
            StatusCode::OK,
            &json!({"timeframe": tf.as_str(), "groups": report.groups, "needs_attention": report.needs_attention}),
        ))
    }

    /// `GET /api/admin/webhooks/replays/{job_id}`.
    pub async fn replay_job(&self, job_id: &str) -> Result<Response<Body>, ApiError> {
        let id = Uuid::parse_str(job_id).map_err(|_| ApiError::not_found("no such replay job"))?;
        let job = self
            .store
            .get_replay_job(id)
            .await
            .map_err(|e| store_unavailable(&e))?
            .ok_or_else(|| ApiError::not_found("no such replay job"))?;
        Ok(json_response(StatusCode::OK, &job))
    }

    /// `POST /api/admin/webhooks/health`: one delivery by `webhook_id`, or a bulk job by `filter`.
    /// Returns the audit target and the result.
    pub async fn replay(
        &self,
        body: &serde_json::Value,
        requested_by: &str,
    ) -> (String, Result<Response<Body>, ApiError>) {
        let now = OffsetDateTime::now_utc();
        let mut target = ReplayCommand::audit_target(body);
        let result = match ReplayCommand::from_json(body, now) {
            Err(e) => Err(ApiError::bad_request(e.to_string())),
            Ok(ReplayCommand::One { id: None, .. }) => Err(ApiError::not_found("no such delivery")),
            Ok(ReplayCommand::One {
                id: Some(id),
                force,
            }) => replay::replay_one(self.store.as_ref(), id, force, now)
                .await
                .map_err(replay_error)
                .map(|d| {
                    let delivery = DeliverySummary::from(&d);
                    json_response(
                        StatusCode::OK,
                        &json!({"replayed": true, "delivery": delivery}),
                    )
                }),
            Ok(ReplayCommand::Bulk(filter)) => self
                .start_bulk(&filter, requested_by, now)
                .await
                .map(|job| {
                    target = format!("bulk:{}", job.id);
                    json_response(StatusCode::ACCEPTED, &json!({ "job": job }))
                }),
        };
        (target, result)
    }

    /// Records a bulk replay job and runs it in the background.
    async fn start_bulk(
        &self,
        filter: &BulkFilter,
        requested_by: &str,
        now: OffsetDateTime,
    ) -> Result<ReplayJob, ApiError> {
        let job = replay::start_bulk(self.store.as_ref(), filter, requested_by, now)
            .await
            .map_err(replay_error)?;
        let store = self.store.clone();
        let id = job.id;
        tokio::spawn(async move {
            if let Err(e) = replay::run_bulk(store.as_ref(), id, OffsetDateTime::now_utc()).await {
                tracing::error!(job = %id, error = %e, "bulk replay failed");
            }
        });
        Ok(job)
    }

    /// Updates the queue-depth gauge before `/metrics` renders.
    pub async fn refresh_metrics(&self, metrics: &Metrics) {
        if let Ok(n) = self.store.queue_depth().await {
            metrics.set(
                "wedsync_webhook_queue_depth",
                "Deliveries waiting to be forwarded (pending or retrying)",
                &[],
                n as f64,
            );
        }
    }
}
