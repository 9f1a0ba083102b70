//! The notification outbox dispatcher: claims due notifications with a lease, sends them through
//! their sink, and retries 429/5xx/timeouts with exponential back-off, so a failed send is retried,
//! never lost. Several processes can run dispatchers on one store: the lease keeps each
//! notification with one of them at a time.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use crate::alert::Alert;
use crate::clock::WallClock;
use crate::sink::{AlertSink, SendError};
use crate::store::{DueClaim, ProbeStore, SendFailure, StoreError};

/// Retry schedule for failed sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Delay after the first failed attempt (default 2 s); doubles per attempt.
    pub base: Duration,
    /// Longest delay (default 5 min).
    pub max_delay: Duration,
    /// Attempts before giving up (default 30, which spans over two hours).
    pub max_attempts: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            base: Duration::from_secs(2),
            max_delay: Duration::from_secs(300),
            max_attempts: 30,
        }
    }
}

impl RetryPolicy {
    /// The delay after failed attempt number `attempt` (1-based), at least `retry_after` (capped
    /// at `max_delay`... unless the receiver asked for longer, which is honoured up to 1 hour).
    pub fn delay(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        let exp = attempt.saturating_sub(1).min(20);
        let d = self.base.saturating_mul(1u32 << exp).min(self.max_delay);
        match retry_after {
            Some(ra) => d.max(ra.min(Duration::from_secs(3600))),
            None => d,
        }
    }
}

/// What one dispatch round did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DispatchReport {
    /// Delivered.
    pub sent: usize,
    /// Failed, will be retried.
    pub retried: usize,
    /// Failed for good (permanent error, unknown sink, attempts exhausted).
    pub dead: usize,
}

/// Sends outbox notifications through the configured sinks.
pub struct Dispatcher {
    store: Arc<dyn ProbeStore>,
    sinks: HashMap<String, Arc<dyn AlertSink>>,
    owner: String,
    lease: Duration,
    batch: usize,
    retry: RetryPolicy,
    clock: Arc<dyn WallClock>,
}

impl std::fmt::Debug for Dispatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dispatcher")
            .field("owner", &self.owner)
            .field("sinks", &self.sinks.keys().collect::<Vec<_>>())
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

impl Dispatcher {
    /// A dispatcher for `sinks`, claiming as `owner` (unique per process).
    pub fn new(
        store: Arc<dyn ProbeStore>,
        sinks: Vec<Arc<dyn AlertSink>>,
        owner: impl Into<String>,
        clock: Arc<dyn WallClock>,
    ) -> Self {
        Dispatcher {
            store,
            sinks: sinks
                .into_iter()
                .map(|s| (s.name().to_owned(), s))
                .collect(),
            owner: owner.into(),
            lease: Duration::from_secs(60),
            batch: 32,
            retry: RetryPolicy::default(),
            clock,
        }
    }

    /// Sets the retry policy.
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Sets the lease (must exceed the slowest sink's timeout; default 60 s).
    pub fn with_lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    /// Claims the due notifications and sends them (concurrently within one batch).
    pub async fn dispatch_once(&self) -> Result<DispatchReport, StoreError> {
        let now = self.clock.now_ms();
        let claimed = self
            .store
            .claim_due(DueClaim::new(
                &self.owner,
                now,
                self.lease.as_millis() as i64,
                self.batch,
            ))
            .await?;
        let mut report = DispatchReport::default();
        let mut set = tokio::task::JoinSet::new();
        for n in claimed {
            let sink = self.sinks.get(&n.sink).cloned();
            set.spawn(async move {
                let res = match (sink, serde_json::from_str::<Alert>(&n.payload)) {
                    (Some(sink), Ok(alert)) => sink.send(&n, &alert).await,
                    (None, _) => Err(SendError::Permanent {
                        message: format!("no sink named {:?}", n.sink),
                    }),
                    (_, Err(e)) => Err(SendError::Permanent {
                        message: format!("unreadable payload: {e}"),
                    }),
                };
                (n, res)
            });
        }
        while let Some(joined) = set.join_next().await {
            let Ok((n, res)) = joined else { continue };
            let now = self.clock.now_ms();
            match res {
                Ok(()) => {
                    self.store.mark_sent(&n.id, &self.owner, now).await?;
                    report.sent += 1;
                }
                Err(SendError::Retryable {
                    message,
                    retry_after,
                }) if n.attempts < self.retry.max_attempts => {
                    let next = now + self.retry.delay(n.attempts, retry_after).as_millis() as i64;
                    tracing::info!(id = %n.id, attempts = n.attempts, %message, "alert send failed; will retry");
                    self.store
                        .mark_failed(&n.id, &self.owner, SendFailure::retry_at(&message, next))
                        .await?;
                    report.retried += 1;
                }
                Err(e) => {
                    let message = e.to_string();
                    tracing::error!(id = %n.id, attempts = n.attempts, %message, "alert send failed for good");
                    self.store
                        .mark_failed(&n.id, &self.owner, SendFailure::dead(&message))
                        .await?;
                    report.dead += 1;
                }
            }
        }
        Ok(report)
    }

    /// Runs until `shutdown` turns true: dispatches whenever `wake` fires, and at least every
    /// `poll` (for retries and other processes' notifications).
    pub async fn run(
        self: Arc<Self>,
        wake: Arc<tokio::sync::Notify>,
        poll: Duration,
        mut shutdown: tokio::sync::watch::Receiver<bool>,
    ) {
        loop {
            if *shutdown.borrow() {
                return;
            }
            loop {
                match self.dispatch_once().await {
                    Ok(r) if r.sent + r.retried + r.dead >= self.batch => continue,
                    Ok(_) => break,
                    Err(e) => {
                        tracing::error!(error = %e, "outbox dispatch failed");
                        break;
                    }
                }
            }
            tokio::select! {
                _ = wake.notified() => {}
                _ = tokio::time::sleep(poll) => {}
                _ = shutdown.changed() => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_caps_and_honours_retry_after() {
        let p = RetryPolicy::default();
        assert_eq!(p.delay(1, None), Duration::from_secs(2));
        assert_eq!(p.delay(2, None), Duration::from_secs(4));
        assert_eq!(p.delay(4, None), Duration::from_secs(16));
        assert_eq!(p.delay(30, None), Duration::from_secs(300));
        assert_eq!(
            p.delay(1, Some(Duration::from_secs(30))),
            Duration::from_secs(30)
        );
        assert_eq!(
            p.delay(1, Some(Duration::from_secs(99_999))),
            Duration::from_secs(3600)
        );
    }
}
