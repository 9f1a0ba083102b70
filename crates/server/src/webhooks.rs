//! Webhook ingress (`POST /webhooks/{provider}`) and the webhook admin routes, on
//! `wedsync-webhooks`: verify → record durably → only then 2xx.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{header, HeaderMap, Response, StatusCode, Uri};
use serde_json::json;
use time::OffsetDateTime;
use uuid::Uuid;
use wedsync_webhooks::analysis;
use wedsync_webhooks::crypto::BodyCipher;
use wedsync_webhooks::ingest::{Incoming, ReceiveError, Receiver};
use wedsync_webhooks::replay::{self, BulkFilter, ReplayError};
use wedsync_webhooks::store::{Delivery, DeliveryQuery, DeliveryStatus, WebhookStore};
use wedsync_webhooks::verify::{
    SharedSecretVerifier, StandardWebhooksVerifier, StripeVerifier, TwilioVerifier, Verifier,
};
use wedsync_webhooks::Provider;

use crate::app::Timeframe;
use crate::config::{Config, ConfigError};
use crate::error::{json_response, ApiError, Body};
use crate::metrics::Metrics;

/// How long a Supabase auth hook may take before we answer 503 (Supabase waits at most 5 s).
pub const SUPABASE_AUTH_BUDGET: Duration = Duration::from_millis(4000);

/// Maps a configuration provider name to the webhooks crate's provider.
pub fn provider_of(name: &str) -> Option<Provider> {
    match name {
        "stripe" => Some(Provider::Stripe),
        "resend" => Some(Provider::Resend),
        "twilio" => Some(Provider::Twilio),
        "supabase_auth" => Some(Provider::SupabaseAuth),
        "supabase_db" => Some(Provider::SupabaseDb),
        _ => None,
    }
}

/// Builds the verifier for one configured provider from its secrets (read from the environment).
pub fn verifier_for(cfg: &Config, name: &str) -> Result<Verifier, ConfigError> {
    let w = &cfg.webhooks[name];
    let key = format!("webhooks.{name}.secret_env");
    let mut secrets = Vec::new();
    for env in w.secret_env.split(',').map(str::trim) {
        secrets.push(cfg.require_secret(&key, env)?.expose().to_string());
    }
    let bad = |e: &dyn std::fmt::Display| ConfigError::Invalid {
        key: key.clone(),
        message: format!("the secret has the wrong form: {e}"),
    };
    Ok(match name {
        "stripe" => Verifier::Stripe(StripeVerifier::new(secrets)),
        "resend" | "supabase_auth" => {
            Verifier::Standard(StandardWebhooksVerifier::new(secrets).map_err(|e| bad(&e))?)
        }
        "supabase_db" => Verifier::SharedSecret(SharedSecretVerifier::new(secrets)),
        "twilio" => {
            let mut v = TwilioVerifier::new(secrets);
            if let Some(base) = &w.public_url {
                v = v.with_public_base(base.clone());
            }
            Verifier::Twilio(v)
        }
        other => {
            return Err(ConfigError::Invalid {
                key: format!("webhooks.{other}"),
                message: "unknown provider".into(),
            })
        }
    })
}

/// Serves `POST /webhooks/{provider}` and the webhook admin routes.
pub struct WebhookIngress {
    cfg: Arc<Config>,
    store: Arc<dyn WebhookStore>,
    receiver: Arc<Receiver>,
    configured: BTreeMap<String, Provider>,
    metrics: Arc<Metrics>,
}

impl std::fmt::Debug for WebhookIngress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookIngress")
            .field("providers", &self.configured.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

fn headers_vec(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .filter_map(|(k, v)| Some((k.as_str().to_string(), v.to_str().ok()?.to_string())))
        .collect()
}

fn delivery_summary(d: &Delivery) -> serde_json::Value {
    json!({
        "id": d.id,
        "provider": d.provider.as_str(),
        "event_id": d.event_id,
        "event_type": d.event_type,
        "status": d.status.as_str(),
        "priority": d.priority,
        "attempts": d.attempt_count,
        "last_error": d.last_error,
        "received_at": d.received_at.format(&time::format_description::well_known::Rfc3339).ok(),
        "delivered_at": d.delivered_at.and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok()),
        "next_attempt_at": d.next_attempt_at.and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok()),
    })
}

fn store_unavailable(e: &dyn std::fmt::Display) -> ApiError {
    tracing::error!(error = %e, "webhook store failed");
    ApiError::unavailable("the webhook store is unavailable; retry later", 5)
}

fn replay_error(e: ReplayError) -> ApiError {
    match e {
        ReplayError::NotFound => ApiError::not_found("no such delivery or job"),
        ReplayError::RawBodyExpired => ApiError::client(
            StatusCode::GONE,
            "raw_body_expired",
            "cannot replay: the raw body was deleted after the retention period",
        ),
        ReplayError::AlreadyDelivered => ApiError::client(
            StatusCode::CONFLICT,
            "already_delivered",
            "already delivered; pass \"force\": true to replay anyway",
        ),
        ReplayError::InFlight => ApiError::client(
            StatusCode::CONFLICT,
            "in_flight",
            "a delivery attempt is in flight; try again shortly",
        )
        .with_retry_after(5),
        ReplayError::NotReplayable(s) => ApiError::client(
            StatusCode::CONFLICT,
            "not_replayable",
            format!("{s} deliveries are never forwarded"),
        ),
        ReplayError::InvalidWindow => {
            ApiError::bad_request("the time window must be non-empty and at most 14 days")
        }
        ReplayError::TooMany => {
            ApiError::bad_request("the filter selects more than 10000 deliveries; narrow it")
        }
        ReplayError::Store(e) => store_unavailable(&e),
        other => ApiError::internal(other),
    }
}

fn parse_time(v: &serde_json::Value, key: &str) -> Result<Option<OffsetDateTime>, ApiError> {
    match v.get(key).and_then(|x| x.as_str()) {
        None => Ok(None),
        Some(s) => OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
            .map(Some)
            .map_err(|_| ApiError::bad_request(format!("`filter.{key}` must be an RFC 3339 time"))),
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
        let mut configured = BTreeMap::new();
        for (name, w) in &cfg.webhooks {
            let Some(provider) = provider_of(name) else {
                continue;
            };
            let verifier = verifier_for(&cfg, name)?;
            receiver = receiver.provider(provider, verifier, w.forward_to.is_some());
            configured.insert(name.clone(), provider);
        }
        Ok(Self {
            cfg,
            store,
            receiver: Arc::new(receiver),
            configured,
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

    fn count(&self, provider: &str, result: &str) {
        self.metrics.inc(
            "wedsync_webhooks_received_total",
            "Webhooks received by provider and result",
            &[("provider", provider), ("result", result)],
            1.0,
        );
    }

    /// `POST /webhooks/{provider}`.
    pub async fn ingest(
        &self,
        name: &str,
        uri: &Uri,
        headers: &HeaderMap,
        body: Bytes,
    ) -> Result<Response<Body>, ApiError> {
        let Some(&provider) = self.configured.get(name) else {
            return Err(ApiError::not_found(
                "no webhook provider of that name is configured",
            ));
        };
        if body.is_empty() {
            self.count(name, "malformed");
            return Err(ApiError::bad_request("empty body"));
        }
        let is_form = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
        if !is_form && serde_json::from_slice::<serde::de::IgnoredAny>(&body).is_err() {
            self.count(name, "malformed");
            return Err(ApiError::bad_request("the body is not valid JSON"));
        }
        if is_form && std::str::from_utf8(&body).is_err() {
            self.count(name, "malformed");
            return Err(ApiError::bad_request("the form body is not UTF-8"));
        }
        let hv = headers_vec(headers);
        let url = self.request_url(name, uri, headers);
        let incoming = Incoming {
            provider,
            headers: &hv,
            body: &body,
            url: url.as_deref(),
        };
        let fut = self.receiver.receive(&incoming, OffsetDateTime::now_utc());
        let result = if provider == Provider::SupabaseAuth {
            match tokio::time::timeout(SUPABASE_AUTH_BUDGET, fut).await {
                Ok(r) => r,
                Err(_) => {
                    self.count(name, "store_error");
                    return Err(ApiError::unavailable(
                        "could not record the hook within its time budget",
                        1,
                    ));
                }
            }
        } else {
            fut.await
        };
        match result {
            Ok(receipt) => {
                if let Some(reason) = &receipt.rejection {
                    self.count(name, "rejected");
                    tracing::warn!(provider = name, reason = %reason, kind = reason.kind(), "webhook rejected");
                    return Err(ApiError::client(
                        StatusCode::UNAUTHORIZED,
                        "invalid_signature",
                        format!("signature verification failed: {reason}"),
                    ));
                }
                let duplicate = receipt.status == DeliveryStatus::Duplicate;
                self.count(name, if duplicate { "duplicate" } else { "accepted" });
                tracing::info!(provider = name, id = %receipt.id, status = receipt.status.as_str(), "webhook recorded");
                Ok(json_response(
                    StatusCode::OK,
                    &json!({
                        "id": receipt.id,
                        "status": receipt.status.as_str(),
                        "duplicate_of": receipt.duplicate_of,
                    }),
                ))
            }
            Err(ReceiveError::Store(e)) => {
                self.count(name, "store_error");
                Err(store_unavailable(&e))
            }
            Err(ReceiveError::NotConfigured(_)) => Err(ApiError::not_found(
                "no webhook provider of that name is configured",
            )),
            Err(e) => Err(ApiError::internal(e)),
        }
    }

    /// The URL the provider called (Twilio signs it): the configured public URL, else rebuilt
    /// from the Host header.
    fn request_url(&self, name: &str, uri: &Uri, headers: &HeaderMap) -> Option<String> {
        let path_q = uri
            .path_and_query()
            .map_or_else(|| uri.path().to_string(), |pq| pq.as_str().to_string());
        if let Some(public) = self
            .cfg
            .webhooks
            .get(name)
            .and_then(|w| w.public_url.as_ref())
        {
            let q = uri.query().map(|q| format!("?{q}")).unwrap_or_default();
            return Some(format!("{}{q}", public.trim_end_matches('/')));
        }
        let host = headers.get(header::HOST)?.to_str().ok()?;
        Some(format!("http://{host}{path_q}"))
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
        let ds = self
            .store
            .list_deliveries(&DeliveryQuery {
                received_from: Some(now - tf.duration()),
                received_to: Some(now + time::Duration::seconds(1)),
                ..Default::default()
            })
            .await
            .map_err(|e| store_unavailable(&e))?;
        let groups = analysis::failure_groups(&ds);
        let attention: Vec<_> = analysis::needs_attention(&ds)
            .into_iter()
            .take(100)
            .map(delivery_summary)
            .collect();
        Ok(json_response(
            StatusCode::OK,
            &json!({"timeframe": tf.as_str(), "groups": groups, "needs_attention": attention}),
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
        Ok(json_response(
            StatusCode::OK,
            &serde_json::to_value(&job).map_err(ApiError::internal)?,
        ))
    }

    /// `POST /api/admin/webhooks/health`: one delivery by `webhook_id`, or a bulk job by `filter`.
    /// Returns the audit target and the result.
    pub async fn replay(
        &self,
        body: &serde_json::Value,
        requested_by: &str,
    ) -> (String, Result<Response<Body>, ApiError>) {
        let now = OffsetDateTime::now_utc();
        if let Some(id) = body.get("webhook_id") {
            let target = id
                .as_str()
                .unwrap_or("?")
                .chars()
                .take(64)
                .collect::<String>();
            let Some(uuid) = id.as_str().and_then(|s| Uuid::parse_str(s).ok()) else {
                return (target, Err(ApiError::not_found("no such delivery")));
            };
            let force = body
                .get("force")
                .and_then(serde_json::Value::as_bool)
                .unwrap_or(false);
            let result = replay::replay_one(self.store.as_ref(), uuid, force, now)
                .await
                .map_err(replay_error)
                .map(|d| {
                    json_response(
                        StatusCode::OK,
                        &json!({"replayed": true, "delivery": delivery_summary(&d)}),
                    )
                });
            return (target, result);
        }
        let Some(filter) = body.get("filter") else {
            return (
                "?".into(),
                Err(ApiError::bad_request(
                    "give `webhook_id` (one delivery) or `filter` (bulk)",
                )),
            );
        };
        let result = self.start_bulk(filter, requested_by, now).await;
        let target = match &result {
            Ok((id, _)) => format!("bulk:{id}"),
            Err(_) => "bulk".into(),
        };
        (target, result.map(|(_, r)| r))
    }

    async fn start_bulk(
        &self,
        filter: &serde_json::Value,
        requested_by: &str,
        now: OffsetDateTime,
    ) -> Result<(Uuid, Response<Body>), ApiError> {
        let provider = match filter.get("provider").and_then(|p| p.as_str()) {
            None => None,
            Some(p) => Some(
                provider_of(p)
                    .ok_or_else(|| ApiError::bad_request("`filter.provider` is unknown"))?,
            ),
        };
        let mut statuses = Vec::new();
        if let Some(s) = filter.get("status").and_then(|s| s.as_str()) {
            statuses.push(
                s.parse::<DeliveryStatus>().map_err(|_| {
                    ApiError::bad_request("`filter.status` is not a delivery status")
                })?,
            );
        }
        let to = parse_time(filter, "until")?.unwrap_or(now);
        let from = parse_time(filter, "since")?.unwrap_or(to - time::Duration::days(1));
        let f = BulkFilter {
            provider,
            event_type: filter
                .get("event_type")
                .and_then(|t| t.as_str())
                .map(str::to_string),
            statuses,
            from,
            to,
        };
        let job = replay::start_bulk(self.store.as_ref(), &f, requested_by, now)
            .await
            .map_err(replay_error)?;
        let store = self.store.clone();
        let id = job.id;
        tokio::spawn(async move {
            if let Err(e) = replay::run_bulk(store.as_ref(), id, OffsetDateTime::now_utc()).await {
                tracing::error!(job = %id, error = %e, "bulk replay failed");
            }
        });
        let v = serde_json::to_value(&job).map_err(ApiError::internal)?;
        Ok((id, json_response(StatusCode::ACCEPTED, &json!({"job": v}))))
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
