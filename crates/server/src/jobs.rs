//! The server's background jobs, each started by its own function and all stopped together:
//! the breaker follower, the rate-limit sweeper, the monitor with its metrics, the stored-key check,
//! the delivery workers and retention.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use wedsync_store::breaker_sync::PgBreakerSync;
use wedsync_webhooks::crypto::BodyCipher;
use wedsync_webhooks::delivery::Worker;
use wedsync_webhooks::ingest::Receiver;
use wedsync_webhooks::store::WebhookStore;

use crate::app::App;
use crate::integrations::Integrations;
use crate::metrics::Metrics;
use crate::{bodykeys, StartError};

/// How often an instance reads the other instances' breaker changes when no PostgreSQL
/// notification woke it (notifications normally deliver them within milliseconds).
pub const BREAKER_SYNC_POLL: Duration = Duration::from_secs(2);

/// How often idle rate-limiter state is dropped.
const RATE_LIMIT_SWEEP: Duration = Duration::from_secs(60);

/// The running background jobs and the signal that stops them.
#[derive(Debug)]
pub(crate) struct Jobs {
    stop: watch::Receiver<bool>,
    handles: Vec<JoinHandle<()>>,
}

impl Jobs {
    /// No jobs yet; all of them stop when `stop` turns `true`.
    pub(crate) fn new(stop: watch::Receiver<bool>) -> Self {
        Self {
            stop,
            handles: Vec::new(),
        }
    }

    /// Resolves once the stop signal is given.
    pub(crate) fn stopped(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut rx = self.stop.clone();
        async move {
            let _ = rx.wait_for(|stop| *stop).await;
        }
    }

    /// The handles to await at shutdown.
    pub(crate) fn into_handles(self) -> Vec<JoinHandle<()>> {
        self.handles
    }

    /// Runs `round` now and then every `every` until stopped.
    fn every<F, Fut>(&mut self, every: Duration, mut round: F)
    where
        F: FnMut() -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send,
    {
        let stop = self.stopped();
        self.handles.push(tokio::spawn(async move {
            tokio::pin!(stop);
            loop {
                round().await;
                tokio::select! {
                    () = tokio::time::sleep(every) => {}
                    () = &mut stop => break,
                }
            }
        }));
    }

    /// Applies other instances' breaker resets, forced opens and trips to ours (PostgreSQL).
    pub(crate) fn breaker_follower(
        &mut self,
        sync: &PgBreakerSync,
        registry: Arc<wedsync_breaker::Registry>,
        instance: String,
    ) {
        let follower = sync.follow(instance, BREAKER_SYNC_POLL, move |change| {
            let applied = registry.apply_remote(change);
            tracing::debug!(breaker = %change.breaker, from = %change.instance, ?applied, "remote breaker change");
        });
        let stop = self.stopped();
        self.handles.push(tokio::spawn(async move {
            stop.await;
            follower.abort();
        }));
        tracing::info!("breaker state shared through PostgreSQL");
    }

    /// Keeps the per-key rate limiters' state bounded.
    pub(crate) fn rate_limit_sweeper(&mut self, app: Arc<App>) {
        self.every(RATE_LIMIT_SWEEP, move || {
            let app = app.clone();
            async move { app.limits.retain_recent() }
        });
    }

    /// Starts the monitor's probes and counts every new result in the metrics.
    pub(crate) async fn monitor(
        &mut self,
        monitor: &wedsync_probe::Monitor,
        metrics: Arc<Metrics>,
    ) -> Result<(), StartError> {
        let handle = monitor
            .start()
            .await
            .map_err(|e| StartError::Store(format!("cannot start the monitor: {e}")))?;
        let results = monitor.each_new_result(move |r| Integrations::observe(&metrics, r));
        let stop = self.stopped();
        self.handles.push(tokio::spawn(async move {
            tokio::select! {
                () = results => {}
                () = stop => {}
            }
            handle.shutdown().await;
        }));
        Ok(())
    }

    /// Reports bodies sealed with a key this process does not have: loud at start, not at their
    /// first attempt.
    pub(crate) fn stored_key_check(
        &mut self,
        store: Arc<dyn WebhookStore>,
        ring: BodyCipher,
        metrics: Arc<Metrics>,
    ) {
        self.handles.push(tokio::spawn(async move {
            let events = bodykeys::WorkerEvents::new(metrics);
            if let Err(e) = events.stored_keys_check(&*store, &ring).await {
                tracing::warn!(error = %e, "could not check the stored raw bodies' keys");
            }
        }));
    }

    /// `concurrency` delivery loops sharing one worker; each sleeps `idle` when the queue is empty.
    pub(crate) fn delivery_workers(
        &mut self,
        worker: Arc<Worker>,
        concurrency: u32,
        idle: Duration,
    ) {
        for _ in 0..concurrency {
            let worker = worker.clone();
            let stop = self.stopped();
            self.handles.push(tokio::spawn(async move {
                wedsync_webhooks::forward::run_worker(worker, idle, stop, |e| {
                    tracing::error!(error = %e, "delivery worker round failed");
                })
                .await;
            }));
        }
        tracing::info!(concurrency, "delivery worker started");
    }

    /// Every `every`: raw webhook bodies past their expiry, then the store's full retention
    /// (old deliveries, probe results, rollups, resolved incidents, sent notifications, audit).
    pub(crate) fn retention(
        &mut self,
        receiver: Arc<Receiver>,
        store: Option<Arc<dyn wedsync_store::Retention>>,
        policy: wedsync_store::RetentionPolicy,
        every: Duration,
    ) {
        self.every(every, move || {
            let (receiver, store, policy) = (receiver.clone(), store.clone(), policy.clone());
            async move {
                let now = time::OffsetDateTime::now_utc();
                match receiver.purge_expired(now).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(purged = n, "retention: raw webhook bodies deleted"),
                    Err(e) => tracing::error!(error = %e, "retention job failed"),
                }
                let Some(store) = store else { return };
                match store.run_retention(&policy, now).await {
                    Ok(r) => tracing::info!(
                        raw_bodies = r.raw_bodies_cleared,
                        deliveries = r.deliveries_deleted,
                        probe_results = r.probe_results_deleted,
                        rollups = r.rollups_deleted,
                        other = r.other_deleted,
                        incomplete = r.incomplete,
                        "retention: old records deleted"
                    ),
                    Err(e) => tracing::error!(error = %e, "retention job failed"),
                }
            }
        });
    }
}
