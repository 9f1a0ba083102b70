//! Forwarding: the worker that claims deliveries, sends them to the provider's handler (signed the
//! Standard Webhooks way), records every attempt, applies the retry policy and reports exhausted
//! deliveries.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;
use wedsync_breaker::{Outcome, Registry};

use crate::clock::Clock;
use crate::crypto::BodyCipher;
use crate::provider::Provider;
use crate::retry::{parse_retry_after, AttemptOutcome, Decision, GiveUp, RetryPolicy};
use crate::sanitize::{RedactSanitizer, Sanitizer};
use crate::secret::Secret;
use crate::store::{
    AttemptRecord, Claim, ClaimToken, Claimed, ErrorKind, Priority, ReplayRequest, StoreError,
    WebhookStore,
};
use crate::verify::{standard, VerifyError};
use crate::MAX_EXCERPT_BYTES;

/// Header naming the provider on forwarded requests.
pub const PROVIDER_HEADER: &str = "X-Wedsync-Provider";
/// Header carrying the attempt number on forwarded requests.
pub const ATTEMPT_HEADER: &str = "X-Wedsync-Attempt";

/// Where one provider's deliveries go.
#[derive(Debug, Clone)]
pub struct Handler {
    /// The internal handler's URL.
    pub url: String,
    /// Standard Webhooks secret (`whsec_<base64>`) the handler verifies our signature with.
    pub signing_secret: Secret,
    /// Per-attempt timeout.
    pub timeout: Duration,
    /// This provider's retry policy.
    pub retry: RetryPolicy,
}

impl Handler {
    /// A handler at `url` with the default 30 s timeout and retry policy.
    pub fn new(url: impl Into<String>, signing_secret: Secret) -> Self {
        Handler {
            url: url.into(),
            signing_secret,
            timeout: Duration::from_secs(30),
            retry: RetryPolicy::default(),
        }
    }
}

/// One HTTP request to a handler.
#[derive(Debug, Clone)]
pub struct OutgoingRequest {
    /// Target.
    pub url: String,
    /// Headers (content type, `webhook-*`, `X-Wedsync-*`).
    pub headers: Vec<(String, String)>,
    /// The original raw body.
    pub body: Vec<u8>,
    /// Timeout for the whole exchange.
    pub timeout: Duration,
}

/// A handler's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// HTTP status.
    pub status: u16,
    /// Its `Retry-After` header, raw.
    pub retry_after: Option<String>,
    /// The first bytes of the body (callers need at most [`MAX_EXCERPT_BYTES`]).
    pub body_prefix: Vec<u8>,
}

/// Why no answer arrived.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind}")]
pub struct TransportError {
    /// `timeout`, `connect`, `tls` or `other`.
    pub kind: ErrorKind,
}

/// Sends requests (reqwest with feature `forward`; a fake in tests).
#[async_trait]
pub trait Transport: Send + Sync {
    /// Send `req` and wait for the answer (bounded by `req.timeout`).
    async fn send(&self, req: OutgoingRequest) -> Result<Response, TransportError>;
}

/// Emitted when a delivery fails for good (retries exhausted or 410 Gone). The server routes it
/// to the alert sinks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeliveryFailed {
    /// The delivery.
    pub delivery_id: Uuid,
    /// Its provider.
    pub provider: Provider,
    /// Its event type.
    pub event_type: Option<String>,
    /// Its priority (critical failures deserve a page).
    pub priority: Priority,
    /// Attempts made over its life.
    pub attempts: u32,
    /// The last error kind.
    pub last_error: Option<ErrorKind>,
    /// The last HTTP status.
    pub last_status: Option<u16>,
    /// `exhausted`, `gone` or `raw_body_unavailable` (expired or undecryptable).
    pub reason: String,
    /// When.
    pub at: OffsetDateTime,
}

/// Emitted when a delivery's raw body cannot be opened with any configured key (the key is
/// missing or wrong). The delivery is not given up: it waits, re-scheduled every
/// [`KEY_WAIT`], until a key that opens it is configured (or its body expires). Deserves an alert:
/// nothing of this provider reaches the handler meanwhile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BodyUnopenable {
    /// The delivery.
    pub delivery_id: Uuid,
    /// Its provider.
    pub provider: Provider,
    /// The key id recorded with the body.
    pub key_id: String,
    /// Why it did not open (`no encryption key … is configured`, or a decryption failure).
    pub reason: String,
    /// When it will be tried again.
    pub retry_at: OffsetDateTime,
}

/// How long a delivery whose body no configured key opens waits before it is tried again.
pub const KEY_WAIT: Duration = Duration::from_secs(60);

/// Receives the worker's events. Must not block.
pub trait EventSink: Send + Sync {
    /// A delivery failed for good.
    fn delivery_failed(&self, event: &DeliveryFailed);

    /// A delivery's raw body could not be opened; it waits for the key (see [`BodyUnopenable`]).
    fn body_unopenable(&self, event: &BodyUnopenable) {
        let _ = event;
    }

    /// `worker` released `count` expired leases: another worker (or process) died or stalled
    /// while it held those deliveries; they are attempted again now.
    fn leases_reclaimed(&self, worker: &str, count: u64) {
        let _ = (worker, count);
    }
}

/// An [`EventSink`] that drops everything.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoEvents;

impl EventSink for NoEvents {
    fn delivery_failed(&self, _: &DeliveryFailed) {}
}

/// Collects events in memory (tests, embedding).
#[derive(Debug, Default)]
pub struct CollectEvents(std::sync::Mutex<Vec<DeliveryFailed>>);

impl CollectEvents {
    /// Everything collected so far.
    pub fn take(&self) -> Vec<DeliveryFailed> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

impl EventSink for CollectEvents {
    fn delivery_failed(&self, event: &DeliveryFailed) {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(event.clone());
    }
}

/// Worker errors (attempt failures are not errors: they are recorded and retried).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WorkerError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A handler secret is not a valid Standard Webhooks secret.
    #[error(transparent)]
    Signing(#[from] VerifyError),
}

/// Counters of one [`Worker`] (shared by every task that runs it).
#[derive(Debug, Default)]
pub struct WorkerStats {
    reclaimed: AtomicU64,
    renewed: AtomicU64,
    renew_failures: AtomicU64,
    unopenable: AtomicU64,
}

impl WorkerStats {
    /// Expired leases this worker released (deliveries a dead or stalled worker held).
    pub fn reclaimed(&self) -> u64 {
        self.reclaimed.load(Ordering::Relaxed)
    }

    /// Leases extended by the heartbeat.
    pub fn renewed(&self) -> u64 {
        self.renewed.load(Ordering::Relaxed)
    }

    /// Heartbeats that could not reach the store.
    pub fn renew_failures(&self) -> u64 {
        self.renew_failures.load(Ordering::Relaxed)
    }

    /// Attempts that found a body no configured key opens.
    pub fn unopenable(&self) -> u64 {
        self.unopenable.load(Ordering::Relaxed)
    }
}

/// Claims and forwards deliveries. Run one or more per process; any number of processes may share
/// one store.
///
/// A claim holds a lease. Without a heartbeat the lease must outlast a whole claimed batch (the
/// default, 120 s, does); with [`Worker::heartbeat`] (feature `forward`) a short lease is renewed
/// while the batch is in flight, so the deliveries of a worker that dies are attempted again by
/// another one within one short lease.
pub struct Worker {
    id: String,
    store: Arc<dyn WebhookStore>,
    transport: Arc<dyn Transport>,
    handlers: HashMap<Provider, Handler>,
    breakers: Arc<Registry>,
    cipher: BodyCipher,
    sanitizer: Arc<dyn Sanitizer>,
    events: Arc<dyn EventSink>,
    clock: Arc<dyn Clock>,
    lease: Duration,
    heartbeat: Option<Duration>,
    batch: usize,
    stats: WorkerStats,
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker")
            .field("id", &self.id)
            .field("handlers", &self.handlers.keys().collect::<Vec<_>>())
            .field("lease", &self.lease)
            .field("heartbeat", &self.heartbeat)
            .field("batch", &self.batch)
            .finish_non_exhaustive()
    }
}

/// The breaker name used for `provider`'s handler.
pub fn breaker_name(provider: Provider) -> String {
    format!("webhooks.handler.{provider}")
}

/// The default breaker configuration for the internal webhook handlers: judged on the last 20
/// forwarding attempts, and only after 10, so that a few deliveries that failed during an outage
/// cannot trip it once the handler is back. (With a 4-call minimum, three failed deliveries and
/// one successful retry made a 75 % failure rate: the breaker opened on a success and pushed every
/// other retry back by its 30 s open time.) Open for 10 s, two trial calls in half-open.
pub fn handler_breaker_config() -> wedsync_breaker::BreakerConfig {
    wedsync_breaker::BreakerConfig::builder()
        .sliding_window(wedsync_breaker::SlidingWindow::Count(20))
        .minimum_calls(10)
        .failure_rate_threshold(50.0)
        .wait_duration_in_open(Duration::from_secs(10))
        .permitted_calls_in_half_open(2)
        .build()
        .unwrap_or_default()
}

/// Gives the handler breakers of `providers` (named by [`breaker_name`]) the
/// [`handler_breaker_config`] in a registry being built, whatever its default for other breakers.
pub fn handler_breakers(
    mut registry: wedsync_breaker::RegistryBuilder,
    providers: impl IntoIterator<Item = Provider>,
) -> wedsync_breaker::RegistryBuilder {
    for p in providers {
        registry = registry.config(breaker_name(p), handler_breaker_config());
    }
    registry
}

impl Worker {
    /// A worker called `id` (unique per worker; e.g. host + pid + n).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        id: impl Into<String>,
        store: Arc<dyn WebhookStore>,
        transport: Arc<dyn Transport>,
        cipher: BodyCipher,
        breakers: Arc<Registry>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Worker {
            id: id.into(),
            store,
            transport,
            handlers: HashMap::new(),
            breakers,
            cipher,
            sanitizer: Arc::new(RedactSanitizer::new()),
            events: Arc::new(NoEvents),
            clock,
            lease: Duration::from_secs(120),
            heartbeat: None,
            batch: 16,
            stats: WorkerStats::default(),
        }
    }

    /// Forward `provider`'s deliveries to `handler`.
    pub fn handler(mut self, provider: Provider, handler: Handler) -> Self {
        self.handlers.insert(provider, handler);
        self
    }

    /// Where [`DeliveryFailed`] events go.
    pub fn events(mut self, sink: Arc<dyn EventSink>) -> Self {
        self.events = sink;
        self
    }

    /// Lease per claim (default 120 s; must exceed the longest handler timeout).
    pub fn lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    /// Short leases renewed while the batch is in flight: each claim holds `lease`, extended by
    /// `lease` every `every` until the attempt is reported. `every` should be at most a third of
    /// `lease`, so that a slow store round trip does not let a live lease run out. A worker that
    /// dies stops renewing, and its deliveries are attempted again once `lease` has passed.
    #[cfg(feature = "forward")]
    pub fn heartbeat(mut self, lease: Duration, every: Duration) -> Self {
        self.lease = lease;
        self.heartbeat = Some(every.max(Duration::from_millis(10)));
        self
    }

    /// This worker's counters.
    pub fn stats(&self) -> &WorkerStats {
        &self.stats
    }

    /// Deliveries claimed per round, and sent at the same time (default 16).
    pub fn batch(mut self, batch: usize) -> Self {
        self.batch = batch.max(1);
        self
    }

    /// Replace the sanitiser used for response excerpts.
    pub fn sanitizer(mut self, sanitizer: Arc<dyn Sanitizer>) -> Self {
        self.sanitizer = sanitizer;
        self
    }

    /// This worker's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// One round: release expired leases, claim due deliveries (none while every handler's breaker
    /// is open), send them at once while renewing their leases, report each attempt.
    /// Returns how many attempts were made.
    pub async fn run_once(&self) -> Result<usize, WorkerError> {
        let now = self.clock.now();
        let reclaimed = self.store.reclaim_expired(now).await?;
        if reclaimed > 0 {
            self.stats.reclaimed.fetch_add(reclaimed, Ordering::Relaxed);
            self.events.leases_reclaimed(&self.id, reclaimed);
        }
        if self.all_handlers_blocked() {
            return Ok(0);
        }
        let claimed = self
            .store
            .claim(Claim::new(&self.id, now, self.lease, self.batch))
            .await?;
        let n = claimed.len();
        if n == 0 {
            return Ok(0);
        }
        let tokens: Vec<ClaimToken> = claimed.iter().map(|c| c.token).collect();
        self.with_heartbeat(&tokens, self.process_all(claimed))
            .await?;
        Ok(n)
    }

    /// Sends the claimed deliveries at the same time, so a worker keeps up with a backlog (a
    /// full batch) without holding many attempts when the queue is short (a batch is what was due).
    /// Every attempt is reported before this returns; the first error, if any, is returned then.
    async fn process_all(&self, claimed: Vec<Claimed>) -> Result<(), WorkerError> {
        let results =
            futures_util::future::join_all(claimed.into_iter().map(|c| self.process(c))).await;
        for r in results {
            match r {
                // Another worker took over after our lease ran out: its attempt counts.
                Err(WorkerError::Store(StoreError::LeaseLost)) => {}
                r => r?,
            }
        }
        Ok(())
    }

    /// Reports an attempt. The attempt already happened (the handler may have answered 2xx), so a
    /// store that fails is asked again — with the heartbeat (feature `forward`), for up to one
    /// lease, backing off from 50 ms to 1 s — rather than letting the lease run out and the
    /// delivery be sent a second time. A store back within the lease (a database restart) costs
    /// no duplicate.
    async fn report(
        &self,
        token: &ClaimToken,
        record: AttemptRecord,
        report: Report,
    ) -> Result<(), StoreError> {
        let once = || async {
            match report {
                Report::Complete => self.store.complete(token, record.clone()).await,
                Report::Fail(next) => self.store.fail(token, record.clone(), next).await,
            }
        };
        #[cfg(feature = "forward")]
        if self.heartbeat.is_some() {
            let deadline = tokio::time::Instant::now() + self.lease;
            let mut backoff = Duration::from_millis(50);
            loop {
                match once().await {
                    Err(StoreError::Backend(_))
                        if tokio::time::Instant::now() + backoff < deadline =>
                    {
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(Duration::from_secs(1));
                    }
                    r => return r,
                }
            }
        }
        once().await
    }

    /// Whether every handler's breaker is open with time left (or forced open): a claim now could
    /// only record `circuit_open` attempts, each spending a slot of the retry schedule, so the
    /// round claims nothing and the deliveries wait in the queue, their schedule intact.
    fn all_handlers_blocked(&self) -> bool {
        !self.handlers.is_empty()
            && self.handlers.keys().all(|p| {
                let b = self.breakers.get(&breaker_name(*p));
                match b.state() {
                    wedsync_breaker::State::ForcedOpen => true,
                    wedsync_breaker::State::Open => b.retry_after().is_some_and(|d| !d.is_zero()),
                    _ => false,
                }
            })
    }

    /// Runs `work` while renewing the leases of `tokens` every heartbeat (when configured).
    #[cfg(feature = "forward")]
    async fn with_heartbeat(
        &self,
        tokens: &[ClaimToken],
        work: impl std::future::Future<Output = Result<(), WorkerError>>,
    ) -> Result<(), WorkerError> {
        let Some(every) = self.heartbeat else {
            return work.await;
        };
        tokio::pin!(work);
        let start = tokio::time::Instant::now() + every;
        let mut tick = tokio::time::interval_at(start, every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                r = &mut work => return r,
                _ = tick.tick() => {
                    let until = self.clock.now() + self.lease;
                    // bounded, so that a store that hangs cannot stall the attempts themselves
                    let renewed = tokio::time::timeout(every, self.store.renew_leases(tokens, until));
                    match renewed.await {
                        Ok(Ok(n)) => { self.stats.renewed.fetch_add(n, Ordering::Relaxed); }
                        _ => { self.stats.renew_failures.fetch_add(1, Ordering::Relaxed); }
                    }
                }
            }
        }
    }

    #[cfg(not(feature = "forward"))]
    async fn with_heartbeat(
        &self,
        _tokens: &[ClaimToken],
        work: impl std::future::Future<Output = Result<(), WorkerError>>,
    ) -> Result<(), WorkerError> {
        work.await
    }

    /// Forward one claimed delivery and report the attempt.
    pub async fn process(&self, claimed: Claimed) -> Result<(), WorkerError> {
        let d = &claimed.delivery;
        let token = claimed.token;
        let started = self.clock.now();
        let mut record = AttemptRecord {
            delivery_id: d.id,
            attempt: token.attempt,
            trigger: claimed.trigger,
            worker: self.id.clone(),
            started_at: started,
            duration_ms: 0,
            response_status: None,
            error_kind: None,
            response_excerpt: None,
        };
        let Some(handler) = self.handlers.get(&d.provider) else {
            // Nothing to send to: count as a failed attempt and retry on the schedule, so that
            // configuring the handler later picks it up.
            record.error_kind = Some(ErrorKind::Other);
            record.response_excerpt = Some("no handler configured for this provider".into());
            return self
                .finish(
                    &claimed,
                    record,
                    &RetryPolicy::default(),
                    AttemptOutcome::NetworkError,
                )
                .await;
        };
        let body = match d.raw_body.as_ref().map(|b| (b, self.cipher.open(d.id, b))) {
            Some((_, Ok(b))) => b,
            Some((sealed, Err(e))) if crate::keys::is_key_problem(&e) => {
                return self
                    .wait_for_key(&claimed, record, &sealed.key_id, &e)
                    .await;
            }
            other => {
                record.error_kind = Some(ErrorKind::Other);
                record.response_excerpt = Some(match other {
                    Some((_, Err(e))) => e.to_string(),
                    _ => "raw body expired".to_owned(),
                });
                let last_error = record.error_kind;
                self.report(&token, record, Report::Fail(None)).await?;
                self.events.delivery_failed(&DeliveryFailed {
                    delivery_id: d.id,
                    provider: d.provider,
                    event_type: d.event_type.clone(),
                    priority: d.priority,
                    attempts: token.attempt,
                    last_error,
                    last_status: None,
                    reason: "raw_body_unavailable".to_owned(),
                    at: self.clock.now(),
                });
                return Ok(());
            }
        };
        let breaker = self.breakers.get(&breaker_name(d.provider));
        let permit = match breaker.try_acquire_owned() {
            Ok(p) => p,
            Err(rejected) => {
                record.error_kind = Some(ErrorKind::CircuitOpen);
                record.response_excerpt = Some(rejected.to_string());
                return self
                    .finish(
                        &claimed,
                        record,
                        &handler.retry,
                        AttemptOutcome::CircuitOpen(rejected.retry_after),
                    )
                    .await;
            }
        };
        let timestamp = started.unix_timestamp();
        let msg_id = format!("msg_{}", d.id.simple());
        let mut headers = vec![(
            "content-type".to_owned(),
            d.content_type
                .clone()
                .unwrap_or_else(|| "application/octet-stream".into()),
        )];
        headers.extend(standard::headers(
            standard::HeaderStyle::Standard,
            handler.signing_secret.expose(),
            &msg_id,
            timestamp,
            &body,
        )?);
        headers.push((PROVIDER_HEADER.to_owned(), d.provider.as_str().to_owned()));
        headers.push((ATTEMPT_HEADER.to_owned(), token.attempt.to_string()));
        let req = OutgoingRequest {
            url: handler.url.clone(),
            headers,
            body,
            timeout: handler.timeout,
        };
        let t0 = std::time::Instant::now();
        let result = self.transport.send(req).await;
        let elapsed = t0.elapsed();
        record.duration_ms = elapsed.as_millis().min(u64::MAX as u128) as u64;
        let outcome = match result {
            Ok(resp) => {
                record.response_status = Some(resp.status);
                record.error_kind = ErrorKind::from_status(resp.status);
                record.response_excerpt = Some(self.excerpt(d.provider, &resp.body_prefix));
                AttemptOutcome::Status {
                    status: resp.status,
                    retry_after: resp
                        .retry_after
                        .as_deref()
                        .and_then(|v| parse_retry_after(v, self.clock.now())),
                }
            }
            Err(e) => {
                record.error_kind = Some(e.kind);
                if e.kind == ErrorKind::Timeout {
                    AttemptOutcome::Timeout
                } else {
                    AttemptOutcome::NetworkError
                }
            }
        };
        permit.record_elapsed(breaker_outcome(&outcome), elapsed);
        self.finish(&claimed, record, &handler.retry, outcome).await
    }

    /// The body did not open with any configured key: record the attempt, put the delivery back
    /// at the start of its retry schedule [`KEY_WAIT`] from now (so waiting for the key never
    /// exhausts it), count it and tell the event sink.
    async fn wait_for_key(
        &self,
        claimed: &Claimed,
        mut record: AttemptRecord,
        key_id: &str,
        e: &crate::crypto::CryptoError,
    ) -> Result<(), WorkerError> {
        let d = &claimed.delivery;
        let now = self.clock.now();
        let retry_at = now + KEY_WAIT;
        record.error_kind = Some(ErrorKind::Other);
        record.response_excerpt = Some(format!("waiting for the key: {e}"));
        self.report(&claimed.token, record, Report::Fail(Some(retry_at)))
            .await?;
        let replay = ReplayRequest {
            at: retry_at,
            trigger: claimed.trigger,
            single_attempt: d.single_attempt,
            force: false,
            now,
        };
        match self.store.schedule_replay(d.id, replay).await {
            // replayed or reclaimed meanwhile: it is queued either way
            Ok(_) | Err(StoreError::InFlight | StoreError::AlreadyDelivered) => {}
            Err(e) => return Err(e.into()),
        }
        self.stats.unopenable.fetch_add(1, Ordering::Relaxed);
        self.events.body_unopenable(&BodyUnopenable {
            delivery_id: d.id,
            provider: d.provider,
            key_id: key_id.to_owned(),
            reason: e.to_string(),
            retry_at,
        });
        Ok(())
    }

    async fn finish(
        &self,
        claimed: &Claimed,
        record: AttemptRecord,
        policy: &RetryPolicy,
        outcome: AttemptOutcome,
    ) -> Result<(), WorkerError> {
        let d = &claimed.delivery;
        let decision = policy.decide_random(d.priority, d.run_attempts, d.single_attempt, &outcome);
        let (last_error, last_status) = (record.error_kind, record.response_status);
        match decision {
            Decision::Delivered => {
                self.report(&claimed.token, record, Report::Complete)
                    .await?;
            }
            Decision::RetryIn(delay) => {
                let at = self.clock.now() + delay;
                self.report(&claimed.token, record, Report::Fail(Some(at)))
                    .await?;
            }
            Decision::GiveUp(why) => {
                self.report(&claimed.token, record, Report::Fail(None))
                    .await?;
                if why != GiveUp::SingleAttempt {
                    self.events.delivery_failed(&DeliveryFailed {
                        delivery_id: d.id,
                        provider: d.provider,
                        event_type: d.event_type.clone(),
                        priority: d.priority,
                        attempts: claimed.token.attempt,
                        last_error,
                        last_status,
                        reason: why.as_str().to_owned(),
                        at: self.clock.now(),
                    });
                }
            }
        }
        Ok(())
    }

    fn excerpt(&self, provider: Provider, body: &[u8]) -> String {
        let cut = &body[..body.len().min(MAX_EXCERPT_BYTES)];
        let mut s = self.sanitizer.body(provider, None, cut);
        truncate_utf8(&mut s, MAX_EXCERPT_BYTES);
        s
    }
}

/// How an attempt is reported.
#[derive(Debug, Clone, Copy)]
enum Report {
    Complete,
    Fail(Option<OffsetDateTime>),
}

/// What the handler's breaker learns from an attempt: 5xx, 429, timeouts and network errors are
/// failures; 2xx successes; other 3xx/4xx are the handler's bug, not its unavailability (ignored).
pub fn breaker_outcome(outcome: &AttemptOutcome) -> Outcome {
    match outcome {
        AttemptOutcome::Status { status, .. } => match status {
            200..=299 => Outcome::Success,
            429 | 500..=599 => Outcome::Failure,
            _ => Outcome::Ignored,
        },
        AttemptOutcome::Timeout | AttemptOutcome::NetworkError => Outcome::Failure,
        AttemptOutcome::CircuitOpen(_) => Outcome::Ignored,
    }
}

/// Cut `s` to at most `max` bytes on a character boundary.
pub fn truncate_utf8(s: &mut String, max: usize) {
    if s.len() > max {
        let mut i = max;
        while !s.is_char_boundary(i) {
            i -= 1;
        }
        s.truncate(i);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handler_breakers_get_their_own_default() {
        let service = wedsync_breaker::BreakerConfig::builder()
            .minimum_calls(4)
            .build()
            .unwrap();
        let registry = handler_breakers(
            Registry::builder().default_config(service),
            [Provider::Stripe],
        )
        .build();
        let handler = registry.config_for(&breaker_name(Provider::Stripe));
        assert_eq!(handler, &handler_breaker_config());
        assert_eq!(handler.minimum_calls, 10);
        assert_ne!(registry.config_for("stripe"), &handler_breaker_config());
    }
}
