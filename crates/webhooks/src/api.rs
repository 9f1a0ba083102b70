//! The webhook HTTP API as values (feature `api`): `POST /webhooks/{provider}` within the
//! provider's answer budget, counted and logged, and the admin operations — reliability report,
//! failure groups, replay jobs, single and bulk replays (the bulk run spawned on tokio) and the
//! queue-depth gauge. Each returns a serialisable value or an [`ApiRefusal`]; a server only copies
//! them into its responses:
//!
//! ```
//! use std::sync::Arc;
//! use time::OffsetDateTime;
//! use wedsync_webhooks::api::{ApiRefusal, Counters, WebhookApi};
//! use wedsync_webhooks::crypto::BodyCipher;
//! use wedsync_webhooks::ingest::Receiver;
//! use wedsync_webhooks::store::InMemoryStore;
//!
//! struct NoMetrics;
//! impl Counters for NoMetrics {
//!     fn inc(&self, _: &'static str, _: &'static str, _: &[(&'static str, &str)], _: f64) {}
//!     fn set(&self, _: &'static str, _: &'static str, _: &[(&'static str, &str)], _: f64) {}
//! }
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let receiver = Receiver::new(Arc::new(InMemoryStore::new()), BodyCipher::new("k1", &[7; 32]));
//! let api = WebhookApi::new(receiver, Arc::new(NoMetrics));
//! let now = OffsetDateTime::now_utc();
//! let report = api.stats(Default::default(), now).await.unwrap();
//! assert_eq!(report["timeframe"], "24h"); // answer 200 with it
//!
//! let body = serde_json::json!({"webhook_id": "not-a-uuid"});
//! let (target, answer) = api.replay(&body, "ops@example.com", now).await;
//! assert_eq!(target, "not-a-uuid"); // what the audit log records
//! let Err(ApiRefusal::Refused(refusal)) = answer else { panic!("no such delivery") };
//! assert_eq!((refusal.status, refusal.code), (404, "not_found"));
//! # }
//! ```

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;

use http::StatusCode;
use serde_json::{json, Value};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::analysis::{self, DeliverySummary, Timeframe};
use crate::config::WebhookConfig;
use crate::ingest::{Answer, HttpRequest, Receiver, Refusal};
use crate::replay::{self, BulkFilter, ReplayCommand, ReplayError};
use crate::store::{ReplayJob, WebhookStore};
use crate::Provider;

/// A metric's labels: `(name, value)` pairs, names from the code, values from bounded sets.
pub type Labels<'a> = &'a [(&'static str, &'a str)];

/// Where this crate's metrics go: a Prometheus-style registry of counters and gauges (`name`,
/// `help`, [`Labels`], value).
pub trait Counters: Send + Sync {
    /// Adds `by` to the counter `name` with `labels`.
    fn inc(&self, name: &'static str, help: &'static str, labels: Labels<'_>, by: f64);

    /// Sets the gauge `name` with `labels` to `value`.
    fn set(&self, name: &'static str, help: &'static str, labels: Labels<'_>, value: f64);
}

/// The workspace's Prometheus registry counts and sets them directly.
impl Counters for wedsync_metrics::Registry {
    fn inc(&self, name: &'static str, help: &'static str, labels: Labels<'_>, by: f64) {
        wedsync_metrics::Registry::inc(self, name, help, labels, by);
    }

    fn set(&self, name: &'static str, help: &'static str, labels: Labels<'_>, value: f64) {
        wedsync_metrics::Registry::set(self, name, help, labels, value);
    }
}

impl<C: Counters + ?Sized> Counters for Arc<C> {
    fn inc(&self, name: &'static str, help: &'static str, labels: Labels<'_>, by: f64) {
        (**self).inc(name, help, labels, by);
    }

    fn set(&self, name: &'static str, help: &'static str, labels: Labels<'_>, value: f64) {
        (**self).set(name, help, labels, value);
    }
}

/// Why an API operation answers no 2xx.
#[derive(Debug, thiserror::Error)]
pub enum ApiRefusal {
    /// Answer with this refusal: its status, `{"error":{"code","message"}}` and `Retry-After`.
    #[error("{} {}: {}", .0.status, .0.code, .0.message)]
    Refused(Refusal),
    /// Our own failure: answer a bare 500 and log the detail (never show it).
    #[error("{0}")]
    Internal(String),
}

impl ApiRefusal {
    /// 503 `unavailable` (retry after 5 s), with the store's error logged.
    fn store(e: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %e, "webhook store failed");
        ApiRefusal::Refused(Refusal::store_unavailable())
    }

    fn client(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        ApiRefusal::Refused(Refusal {
            status,
            code,
            message: message.into(),
            retry_after: None,
        })
    }

    fn internal(e: impl std::fmt::Display) -> Self {
        ApiRefusal::Internal(e.to_string())
    }
}

impl From<ReplayError> for ApiRefusal {
    fn from(e: ReplayError) -> Self {
        match (e.refusal(), &e) {
            (Some(_), ReplayError::Store(inner)) => ApiRefusal::store(inner),
            (Some(r), _) => ApiRefusal::Refused(r),
            (None, _) => ApiRefusal::internal(e),
        }
    }
}

/// `answer`, or [`Answer::OverBudget`] when the provider named `provider` has an
/// [`answer_budget`](Provider::answer_budget) and `answer` does not finish within it.
async fn within_budget(provider: &str, answer: impl Future<Output = Answer>) -> Answer {
    match provider.parse().ok().and_then(Provider::answer_budget) {
        Some(budget) => tokio::time::timeout(budget, answer)
            .await
            .unwrap_or(Answer::OverBudget),
        None => answer.await,
    }
}

impl Receiver {
    /// [`answer_http`](Receiver::answer_http) within the provider's
    /// [`answer_budget`](Provider::answer_budget): [`Answer::OverBudget`] (503, retry after 1 s)
    /// when recording takes longer than the sender waits.
    pub async fn answer_http_in_time(&self, req: &HttpRequest<'_>, now: OffsetDateTime) -> Answer {
        within_budget(req.provider, self.answer_http(req, now)).await
    }
}

/// The webhook API over one [`Receiver`] and its store, counting in [`Counters`].
pub struct WebhookApi {
    receiver: Arc<Receiver>,
    counters: Arc<dyn Counters>,
    public_urls: BTreeMap<Provider, String>,
}

impl std::fmt::Debug for WebhookApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookApi")
            .field("receiver", &self.receiver)
            .finish_non_exhaustive()
    }
}

impl WebhookApi {
    /// The API over `receiver` (reports and replays read and write its store), counting in
    /// `counters`.
    pub fn new(receiver: Receiver, counters: Arc<dyn Counters>) -> Self {
        WebhookApi {
            receiver: Arc::new(receiver),
            counters,
            public_urls: BTreeMap::new(),
        }
    }

    /// The public URLs of the `[webhooks.<provider>]` tables that name one (`public_url`): the URL
    /// a provider called, as its signature covers it (Twilio), behind a proxy.
    pub fn public_urls(mut self, tables: &BTreeMap<Provider, WebhookConfig>) -> Self {
        let urls = tables
            .iter()
            .filter_map(|(&p, w)| Some((p, w.public_url.clone()?)));
        self.public_urls.extend(urls);
        self
    }

    /// The receiver (e.g. for a retention job purging through it).
    pub fn receiver(&self) -> &Arc<Receiver> {
        &self.receiver
    }

    /// The store deliveries are recorded in.
    pub fn store(&self) -> &Arc<dyn WebhookStore> {
        self.receiver.store()
    }

    /// `POST /webhooks/{provider}` (`provider` as the path names it): answered with
    /// [`Receiver::answer_http_in_time`], counted in
    /// `wedsync_webhooks_received_total{provider,result}` ([`Answer::result`]) and logged
    /// (`webhook recorded` at info, `webhook rejected` with its reason at warn, a store failure
    /// at error). `Ok` is the 200 body of a recorded delivery.
    pub async fn ingest(
        &self,
        provider: &str,
        uri: &http::Uri,
        headers: &http::HeaderMap,
        body: &[u8],
        now: OffsetDateTime,
    ) -> Result<Value, ApiRefusal> {
        let public_url = provider.parse().ok().and_then(|p| self.public_urls.get(&p));
        let req = HttpRequest {
            provider,
            uri,
            headers,
            body,
            public_url: public_url.map(String::as_str),
        };
        let answer = self.receiver.answer_http_in_time(&req, now).await;
        if let Some(result) = answer.result() {
            self.counters.inc(
                "wedsync_webhooks_received_total",
                "Webhooks received by provider and result",
                &[("provider", provider), ("result", result)],
                1.0,
            );
        }
        match &answer {
            Answer::Recorded(r) => {
                tracing::info!(provider, id = %r.id, status = r.status.as_str(), "webhook recorded");
                return Ok(answer.body());
            }
            Answer::Rejected(r) => {
                if let Some(reason) = &r.rejection {
                    tracing::warn!(provider, reason = %reason, kind = reason.kind(), "webhook rejected");
                }
            }
            Answer::StoreUnavailable(e) => return Err(ApiRefusal::store(e)),
            Answer::Failed(e) => return Err(ApiRefusal::internal(e)),
            _ => {}
        }
        Err(match answer.refusal() {
            Some(r) => ApiRefusal::Refused(r),
            None => ApiRefusal::Internal(format!("{answer:?}")),
        })
    }

    /// `GET /api/admin/webhooks/health`: the [`reliability`](analysis::reliability) report of
    /// the `timeframe` ending at `now`, with `"timeframe"` added.
    pub async fn stats(
        &self,
        timeframe: Timeframe,
        now: OffsetDateTime,
    ) -> Result<Value, ApiRefusal> {
        let report = analysis::reliability(&**self.store(), now - timeframe.duration(), now)
            .await
            .map_err(|e| ApiRefusal::store(&e))?;
        let mut v = serde_json::to_value(&report).map_err(ApiRefusal::internal)?;
        if let Some(o) = v.as_object_mut() {
            o.insert("timeframe".into(), json!(timeframe.as_str()));
        }
        Ok(v)
    }

    /// `GET /api/admin/webhooks/health/failures`: the
    /// [`failure_report`](analysis::failure_report) of the `timeframe` ending at `now` (up to a
    /// second later), `{"timeframe","groups","needs_attention"}`.
    pub async fn failures(
        &self,
        timeframe: Timeframe,
        now: OffsetDateTime,
    ) -> Result<Value, ApiRefusal> {
        let (from, to) = (now - timeframe.duration(), now + time::Duration::seconds(1));
        let report = analysis::failure_report(&**self.store(), from, to)
            .await
            .map_err(|e| ApiRefusal::store(&e))?;
        Ok(json!({
            "timeframe": timeframe.as_str(),
            "groups": report.groups,
            "needs_attention": report.needs_attention,
        }))
    }

    /// `GET /api/admin/webhooks/replays/{job_id}`: the job; 404 `not_found` when `job_id` is not
    /// a UUID or names no job.
    pub async fn replay_job(&self, job_id: &str) -> Result<ReplayJob, ApiRefusal> {
        let not_found = || ApiRefusal::client(404, "not_found", "no such replay job");
        let id = Uuid::parse_str(job_id).map_err(|_| not_found())?;
        self.store()
            .get_replay_job(id)
            .await
            .map_err(|e| ApiRefusal::store(&e))?
            .ok_or_else(not_found)
    }

    /// `POST /api/admin/webhooks/replay` with `body` ([`ReplayCommand::from_json`]), by
    /// `requested_by`, at `now`: one delivery replayed now (`200 {"replayed":true,"delivery"}`),
    /// or a bulk job recorded and run in the background on tokio (`202 {"job"}`). Returns what an
    /// audit log records as the target ([`ReplayCommand::audit_target`]; `bulk:<job id>` once a
    /// job is recorded) and the answer.
    pub async fn replay(
        &self,
        body: &Value,
        requested_by: &str,
        now: OffsetDateTime,
    ) -> (String, Result<(StatusCode, Value), ApiRefusal>) {
        let mut target = ReplayCommand::audit_target(body);
        let result = match ReplayCommand::from_json(body, now) {
            Err(e) => Err(ApiRefusal::client(400, "bad_request", e.to_string())),
            Ok(ReplayCommand::One { id: None, .. }) => {
                Err(ApiRefusal::client(404, "not_found", "no such delivery"))
            }
            Ok(ReplayCommand::One {
                id: Some(id),
                force,
            }) => match replay::replay_one(&**self.store(), id, force, now).await {
                Ok(d) => Ok((
                    StatusCode::OK,
                    json!({"replayed": true, "delivery": DeliverySummary::from(&d)}),
                )),
                Err(e) => Err(e.into()),
            },
            Ok(ReplayCommand::Bulk(filter)) => {
                match self.start_bulk(&filter, requested_by, now).await {
                    Ok(job) => {
                        target = format!("bulk:{}", job.id);
                        Ok((StatusCode::ACCEPTED, json!({ "job": job })))
                    }
                    Err(e) => Err(e.into()),
                }
            }
        };
        (target, result)
    }

    /// Records a bulk replay job and runs it in the background (a failed run is logged).
    async fn start_bulk(
        &self,
        filter: &BulkFilter,
        requested_by: &str,
        now: OffsetDateTime,
    ) -> Result<ReplayJob, ReplayError> {
        let job = replay::start_bulk(&**self.store(), filter, requested_by, now).await?;
        let (store, id) = (self.store().clone(), job.id);
        tokio::spawn(async move {
            if let Err(e) = replay::run_bulk(store.as_ref(), id, OffsetDateTime::now_utc()).await {
                tracing::error!(job = %id, error = %e, "bulk replay failed");
            }
        });
        Ok(job)
    }

    /// Sets the gauge `wedsync_webhook_queue_depth` (deliveries pending or retrying), e.g. before
    /// `/metrics` renders; left as it was when the store fails.
    pub async fn refresh_metrics(&self) {
        if let Ok(n) = self.store().queue_depth().await {
            self.counters.set(
                "wedsync_webhook_queue_depth",
                "Deliveries waiting to be forwarded (pending or retrying)",
                &[],
                n as f64,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::time::Duration;

    use super::*;
    use crate::crypto::BodyCipher;
    use crate::store::{AttemptRecord, Claim, ErrorKind, InMemoryStore, ReplayJobState};
    use crate::verify::{stripe, Verifier};

    #[derive(Default)]
    struct Recorded(Mutex<Vec<String>>);

    impl Counters for Recorded {
        fn inc(&self, name: &'static str, _: &'static str, l: &[(&'static str, &str)], by: f64) {
            let labels: Vec<_> = l.iter().map(|(k, v)| format!("{k}={v}")).collect();
            let line = format!("{name}{{{}}} +{by}", labels.join(","));
            self.0.lock().unwrap().push(line);
        }

        fn set(&self, name: &'static str, _: &'static str, _: &[(&'static str, &str)], v: f64) {
            self.0.lock().unwrap().push(format!("{name} ={v}"));
        }
    }

    fn secret() -> String {
        format!("{}{}", "whsec_", "api_unit")
    }

    /// The API over an in-memory store receiving Stripe, and what it counted.
    fn api() -> (WebhookApi, Arc<Recorded>) {
        let verifier = Verifier::for_provider(Provider::Stripe, [secret()], None).unwrap();
        let receiver = Receiver::new(
            Arc::new(InMemoryStore::new()),
            BodyCipher::new("k", &[7; 32]),
        )
        .provider(Provider::Stripe, verifier, true);
        let counters = Arc::new(Recorded::default());
        (WebhookApi::new(receiver, counters.clone()), counters)
    }

    /// Receives one Stripe event signed at `signed`, at `now`.
    async fn ingest_one(
        api: &WebhookApi,
        event: &str,
        signed: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<Value, ApiRefusal> {
        let body = format!(r#"{{"id":"{event}","type":"invoice.payment_failed"}}"#);
        let mut headers = http::HeaderMap::new();
        let sig = stripe::sign(&secret(), signed.unix_timestamp(), body.as_bytes());
        headers.insert("stripe-signature", sig.parse().unwrap());
        let uri: http::Uri = "/webhooks/stripe".parse().unwrap();
        api.ingest("stripe", &uri, &headers, body.as_bytes(), now)
            .await
    }

    fn refusal(r: Result<impl std::fmt::Debug, ApiRefusal>) -> Refusal {
        match r {
            Err(ApiRefusal::Refused(r)) => r,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn ingest_counts_and_answers_the_receipt() {
        let (api, counters) = api();
        let now = OffsetDateTime::now_utc();
        let body = ingest_one(&api, "evt_1", now, now).await.unwrap();
        assert_eq!(body["status"], "pending");
        let stale = now - time::Duration::hours(1);
        let bad = refusal(ingest_one(&api, "evt_2", stale, now).await);
        assert_eq!((bad.status, bad.code), (401, "invalid_signature"));
        api.refresh_metrics().await;
        assert_eq!(
            *counters.0.lock().unwrap(),
            [
                "wedsync_webhooks_received_total{provider=stripe,result=accepted} +1",
                "wedsync_webhooks_received_total{provider=stripe,result=rejected} +1",
                "wedsync_webhook_queue_depth =1",
            ]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn an_answer_past_the_budget_is_over_budget() {
        let late = within_budget("supabase_auth", std::future::pending()).await;
        assert!(matches!(late, Answer::OverBudget));
        assert_eq!(late.refusal().and_then(|r| r.retry_after), Some(1));
        let slow = async {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            Answer::NotConfigured
        };
        let unbounded = within_budget("stripe", slow).await;
        assert!(matches!(unbounded, Answer::NotConfigured));
    }

    #[tokio::test]
    async fn a_bad_or_unknown_job_id_is_not_found() {
        let (api, _) = api();
        for id in ["nope", &Uuid::new_v4().to_string()] {
            let r = refusal(api.replay_job(id).await);
            assert_eq!((r.status, r.code), (404, "not_found"));
            assert_eq!(r.message, "no such replay job");
        }
    }

    #[tokio::test]
    async fn a_bulk_replay_answers_202_with_its_job_and_runs_it() {
        let (api, _) = api();
        let now = OffsetDateTime::now_utc();
        failed_one(&api, "evt_bulk", now - time::Duration::minutes(1)).await;
        let body = json!({"filter": {"provider": "stripe"}}); // failed ones, by default
        let (target, answer) = api.replay(&body, "ops", now).await;
        let (status, v) = answer.unwrap();
        assert_eq!(status, StatusCode::ACCEPTED);
        let id = v["job"]["id"].as_str().unwrap();
        assert_eq!(target, format!("bulk:{id}"));
        assert_eq!(v["job"]["total"], 1);
        for _ in 0..200 {
            let job = api.replay_job(id).await.unwrap();
            if job.state == ReplayJobState::Completed {
                assert_eq!((job.scheduled, job.requested_by.as_str()), (1, "ops"));
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("the bulk job never ran");
    }

    #[tokio::test]
    async fn replay_refusals_carry_status_code_and_target() {
        let (api, _) = api();
        let now = OffsetDateTime::now_utc();
        let (target, r) = api.replay(&json!({}), "ops", now).await;
        assert_eq!((target.as_str(), refusal(r).status), ("?", 400));
        let id = Uuid::new_v4().to_string();
        let (target, r) = api.replay(&json!({ "webhook_id": id }), "ops", now).await;
        assert_eq!((target, refusal(r).code), (id, "not_found"));
        let month = json!({"filter": {"since": "2020-01-01T00:00:00Z"}});
        let r = refusal(api.replay(&month, "ops", now).await.1);
        assert_eq!((r.status, r.code), (400, "bad_request"));
    }

    /// Receives `event` at `at` and fails it for good, as a worker would after its last attempt;
    /// its id.
    async fn failed_one(api: &WebhookApi, event: &str, at: OffsetDateTime) -> Value {
        let id = ingest_one(api, event, at, at).await.unwrap()["id"].clone();
        let claimed = api
            .store()
            .claim(Claim::new("w", at, Duration::from_secs(30), 1));
        let claimed = claimed.await;
        let c = claimed.unwrap().remove(0);
        let attempt = AttemptRecord {
            delivery_id: c.token.delivery_id,
            attempt: c.token.attempt,
            trigger: c.trigger,
            worker: "w".into(),
            started_at: at,
            duration_ms: 5,
            response_status: Some(500),
            error_kind: Some(ErrorKind::Http5xx),
            response_excerpt: None,
        };
        api.store().fail(&c.token, attempt, None).await.unwrap();
        id
    }

    #[tokio::test]
    async fn reports_cover_the_timeframe_ending_now() {
        let (api, _) = api();
        let now = OffsetDateTime::now_utc();
        failed_one(&api, "evt_old", now - time::Duration::hours(2)).await;
        let id = failed_one(&api, "evt_new", now - time::Duration::minutes(1)).await;

        let s = api.stats(Timeframe::Hour, now).await.unwrap();
        assert_eq!(s["timeframe"], "1h");
        let overall = &s["overall"];
        assert_eq!(
            (&overall["received"], &overall["failed"]),
            (&json!(1), &json!(1))
        );
        let s = api.stats(Timeframe::Day, now).await.unwrap();
        assert_eq!(s["overall"]["received"], 2);

        let f = api.failures(Timeframe::Hour, now).await.unwrap();
        assert_eq!(f["timeframe"], "1h");
        assert_eq!(f["groups"][0]["count"], 1, "{f}");
        let listed = f["needs_attention"].as_array().unwrap();
        assert_eq!(listed.len(), 1, "{f}");
        assert_eq!(
            (&listed[0]["id"], &listed[0]["status"]),
            (&id, &json!("failed"))
        );
        let f = api.failures(Timeframe::Day, now).await.unwrap();
        assert_eq!(f["groups"][0]["count"], 2, "{f}");
    }
}
