//! HTTP forwarding with reqwest (rustls), the worker loop on tokio, and the worker's events as
//! log lines and counters (feature `forward`).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::delivery::{
    BodyUnopenable, DeliveryFailed, EventSink, OutgoingRequest, Response, Transport,
    TransportError, Worker, WorkerError,
};
use crate::store::ErrorKind;
use crate::MAX_EXCERPT_BYTES;

/// A [`Transport`] over reqwest. Redirects are not followed (a 3xx is a failed attempt).
#[derive(Debug, Clone)]
pub struct ReqwestTransport {
    client: reqwest::Client,
}

impl ReqwestTransport {
    /// A transport with its own client (rustls, no redirects, 10 s connect timeout).
    pub fn new() -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("wedsync-webhooks/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(ReqwestTransport { client })
    }

    /// A transport over an existing client (make sure it does not follow redirects).
    pub fn with_client(client: reqwest::Client) -> Self {
        ReqwestTransport { client }
    }
}

fn classify(e: &reqwest::Error) -> ErrorKind {
    if e.is_timeout() {
        return ErrorKind::Timeout;
    }
    // reqwest does not expose TLS errors as a kind; look through the source chain.
    let mut src: Option<&dyn std::error::Error> = Some(e);
    while let Some(s) = src {
        let text = s.to_string().to_ascii_lowercase();
        if text.contains("certificate") || text.contains("tls") || text.contains("handshake") {
            return ErrorKind::Tls;
        }
        src = s.source();
    }
    if e.is_connect() {
        ErrorKind::Connect
    } else {
        ErrorKind::Other
    }
}

#[async_trait]
impl Transport for ReqwestTransport {
    async fn send(&self, req: OutgoingRequest) -> Result<Response, TransportError> {
        let mut rb = self
            .client
            .post(&req.url)
            .timeout(req.timeout)
            .body(req.body);
        for (k, v) in &req.headers {
            rb = rb.header(k.as_str(), v.as_str());
        }
        let mut resp = rb
            .send()
            .await
            .map_err(|e| TransportError { kind: classify(&e) })?;
        let status = resp.status().as_u16();
        let retry_after = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let mut body_prefix = Vec::new();
        // Read at most MAX_EXCERPT_BYTES; a body error after the status is not an attempt failure.
        while body_prefix.len() < MAX_EXCERPT_BYTES {
            match resp.chunk().await {
                Ok(Some(chunk)) => body_prefix.extend_from_slice(&chunk),
                _ => break,
            }
        }
        body_prefix.truncate(MAX_EXCERPT_BYTES);
        Ok(Response {
            status,
            retry_after,
            body_prefix,
        })
    }
}

/// Run `worker` until `shutdown` resolves: a round, then a pause of `idle` when nothing was due.
/// Store errors are retried after `idle` (they are returned by [`Worker::run_once`] for callers
/// that want to log them; here they are passed to `on_error`).
pub async fn run_worker<F>(
    worker: Arc<Worker>,
    idle: Duration,
    shutdown: F,
    on_error: impl Fn(&WorkerError) + Send + Sync,
) where
    F: std::future::Future<Output = ()>,
{
    tokio::pin!(shutdown);
    loop {
        let pause = match worker.run_once().await {
            Ok(0) => idle,
            Ok(_) => Duration::ZERO,
            Err(e) => {
                on_error(&e);
                idle
            }
        };
        tokio::select! {
            _ = &mut shutdown => return,
            _ = tokio::time::sleep(pause) => {}
        }
    }
}

/// Where [`LoggedEvents`] counts (the API's metrics trait, here too).
pub use crate::api::Counters;

/// An [`EventSink`] that logs each worker event with `tracing` and counts it in [`Counters`]:
/// `wedsync_webhook_deliveries_given_up_total{provider,reason}`,
/// `wedsync_webhook_bodies_unopenable_total{provider}` and
/// `wedsync_webhook_leases_reclaimed_total`.
#[derive(Debug)]
pub struct LoggedEvents<C> {
    counters: C,
}

impl<C: Counters> LoggedEvents<C> {
    /// Events counted in `counters`.
    pub fn new(counters: C) -> Self {
        LoggedEvents { counters }
    }

    /// Compares the stored bodies' key ids with `ring` ([`keys_not_configured`], at start-up):
    /// bodies sealed with a key that is not configured are an error in the log and the gauge
    /// `wedsync_webhook_bodies_without_key{key_id}`. Their deliveries wait for the key (they are
    /// not given up). Returns how many bodies wait.
    ///
    /// [`keys_not_configured`]: crate::keys::keys_not_configured
    pub async fn stored_keys_check(
        &self,
        store: &dyn crate::store::WebhookStore,
        ring: &crate::crypto::BodyCipher,
    ) -> Result<u64, crate::store::StoreError> {
        let mut missing = 0;
        for usage in crate::keys::keys_not_configured(store, ring).await? {
            missing += usage.bodies;
            self.counters.set(
                "wedsync_webhook_bodies_without_key",
                "Stored raw webhook bodies whose key id is not configured, by key id, at start-up \
                 (queued ones cannot be forwarded)",
                &[("key_id", &usage.key_id)],
                usage.bodies as f64,
            );
            tracing::error!(
                key_id = %usage.key_id,
                bodies = usage.bodies,
                queued = usage.queued,
                configured = ?ring.key_ids().collect::<Vec<_>>(),
                "stored raw webhook bodies were sealed with a key that is not configured: their \
                 deliveries wait until it is added to ingress.old_encryption_keys (see \
                 `wedsync-monitor keys check`)"
            );
        }
        Ok(missing)
    }
}

impl<C: Counters> EventSink for LoggedEvents<C> {
    fn delivery_failed(&self, e: &DeliveryFailed) {
        self.counters.inc(
            "wedsync_webhook_deliveries_given_up_total",
            "Deliveries given up for good (retries exhausted, 410 Gone, raw body expired)",
            &[("provider", e.provider.as_str()), ("reason", &e.reason)],
            1.0,
        );
        tracing::error!(
            delivery = %e.delivery_id,
            provider = %e.provider,
            attempts = e.attempts,
            reason = %e.reason,
            "webhook delivery failed for good"
        );
    }

    fn body_unopenable(&self, e: &BodyUnopenable) {
        self.counters.inc(
            "wedsync_webhook_bodies_unopenable_total",
            "Delivery attempts whose raw body no configured key opens (missing or wrong key); \
             the delivery waits for the key",
            &[("provider", e.provider.as_str())],
            1.0,
        );
        tracing::error!(
            delivery = %e.delivery_id,
            provider = %e.provider,
            key_id = %e.key_id,
            reason = %e.reason,
            retry_at = %e.retry_at,
            "a queued webhook's raw body cannot be opened: configure the key that sealed it \
             (ingress.old_encryption_keys); the delivery waits for it"
        );
    }

    fn leases_reclaimed(&self, worker: &str, count: u64) {
        self.counters.inc(
            "wedsync_webhook_leases_reclaimed_total",
            "Deliveries whose worker died or stalled while holding them, attempted again",
            &[],
            count as f64,
        );
        tracing::warn!(
            worker,
            count,
            "re-claimed deliveries whose lease ran out: a worker died or stalled mid-attempt; \
             they are attempted again now (the handler may see them twice)"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[derive(Default)]
    struct Recorded(Mutex<Vec<(String, String, f64)>>);

    impl Counters for Recorded {
        fn inc(&self, name: &'static str, _: &'static str, l: &[(&'static str, &str)], by: f64) {
            let labels = l
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>();
            let mut v = self.0.lock().unwrap();
            v.push((name.to_owned(), labels.join(","), by));
        }

        fn set(&self, name: &'static str, help: &'static str, l: &[(&'static str, &str)], v: f64) {
            self.inc(name, help, l, v);
        }
    }

    #[tokio::test]
    async fn bodies_sealed_with_a_key_not_configured_are_counted_by_key_id() {
        use crate::crypto::BodyCipher;
        use crate::store::{InMemoryStore, NewDelivery, WebhookStore as _};
        let store = InMemoryStore::new();
        let (old, new) = (BodyCipher::generate_key(), BodyCipher::generate_key());
        let sealed_with_old = BodyCipher::new("k0", &old);
        for _ in 0..2 {
            let (id, now) = (uuid::Uuid::new_v4(), time::OffsetDateTime::now_utc());
            let body = sealed_with_old.seal(id, b"{}").unwrap();
            let d =
                NewDelivery::verified(id, crate::Provider::Stripe, id.to_string(), Some(body), now);
            store.insert_delivery(d).await.unwrap();
        }
        let counters = Arc::new(Recorded::default());
        let events = LoggedEvents::new(counters.clone());
        let ring = BodyCipher::new("k1", &new);
        assert_eq!(events.stored_keys_check(&store, &ring).await.unwrap(), 2);
        let got = counters.0.lock().unwrap().clone();
        let gauge = (
            "wedsync_webhook_bodies_without_key".into(),
            "key_id=k0".into(),
            2.0,
        );
        assert_eq!(got, [gauge]);
        let ring = ring.with_old_key("k0", &old);
        assert_eq!(events.stored_keys_check(&store, &ring).await.unwrap(), 0);
    }

    #[test]
    fn events_are_counted_with_their_labels() {
        let counters = Arc::new(Recorded::default());
        let sink = LoggedEvents::new(counters.clone());
        let at = time::OffsetDateTime::UNIX_EPOCH;
        sink.delivery_failed(&DeliveryFailed {
            delivery_id: uuid::Uuid::nil(),
            provider: crate::Provider::Stripe,
            event_type: None,
            priority: crate::store::Priority::Normal,
            attempts: 3,
            last_error: None,
            last_status: Some(500),
            reason: "exhausted".into(),
            at,
        });
        sink.body_unopenable(&BodyUnopenable {
            delivery_id: uuid::Uuid::nil(),
            provider: crate::Provider::Resend,
            key_id: "k0".into(),
            reason: "no key".into(),
            retry_at: at,
        });
        sink.leases_reclaimed("w1", 2);
        let got = counters.0.lock().unwrap().clone();
        let names: Vec<_> = got
            .iter()
            .map(|(n, l, by)| (n.as_str(), l.as_str(), *by))
            .collect();
        assert_eq!(
            names,
            [
                (
                    "wedsync_webhook_deliveries_given_up_total",
                    "provider=stripe,reason=exhausted",
                    1.0
                ),
                (
                    "wedsync_webhook_bodies_unopenable_total",
                    "provider=resend",
                    1.0
                ),
                ("wedsync_webhook_leases_reclaimed_total", "", 2.0),
            ]
        );
    }
}
