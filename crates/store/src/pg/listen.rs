//! One LISTEN connection per store: wakes queue workers and breaker followers.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::{broadcast, Notify};
use tokio::task::JoinHandle;

use super::{connect_raw, PgConfig};

/// Channel notified (by a trigger) when jobs are inserted into `delivery_queue`.
pub const QUEUE_CHANNEL: &str = "wedsync_delivery_queue";
/// Channel notified (by a trigger) with the breaker's name when `circuit_breaker_status` changes.
pub const BREAKER_CHANNEL: &str = "wedsync_breaker";

struct Shared {
    queue: Notify,
    breaker: broadcast::Sender<String>,
}

/// The store's LISTEN connection, started on first use and reconnected when it drops.
///
/// After every (re)connect every waiter is woken, since notifications sent while disconnected
/// are lost; callers poll as a backstop anyway.
pub struct Listener {
    config: PgConfig,
    shared: Arc<Shared>,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for Listener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Listener").finish_non_exhaustive()
    }
}

impl Listener {
    pub(crate) fn new(config: PgConfig) -> Self {
        let (breaker, _) = broadcast::channel(256);
        Self {
            config,
            shared: Arc::new(Shared {
                queue: Notify::new(),
                breaker,
            }),
            task: Mutex::new(None),
        }
    }

    fn ensure_started(&self) {
        let mut task = match self.task.lock() {
            Ok(t) => t,
            Err(poisoned) => poisoned.into_inner(),
        };
        if task.as_ref().is_some_and(|t| !t.is_finished()) {
            return;
        }
        let shared = Arc::clone(&self.shared);
        let config = self.config.clone();
        *task = Some(tokio::spawn(run(config, shared)));
    }

    /// Waits for a queue wake-up, at most `timeout`. `true` when woken.
    pub async fn wait_queue(&self, timeout: Duration) -> bool {
        let notified = self.shared.queue.notified();
        self.ensure_started();
        tokio::time::timeout(timeout, notified).await.is_ok()
    }

    /// Wakes this process's waiting workers at once (other processes get the `NOTIFY`).
    #[cfg_attr(not(feature = "webhooks"), allow(dead_code))]
    pub(crate) fn wake_local(&self) {
        self.shared.queue.notify_waiters();
    }

    /// Subscribes to breaker-change notifications (payload: the breaker's name).
    pub fn subscribe_breakers(&self) -> broadcast::Receiver<String> {
        let rx = self.shared.breaker.subscribe();
        self.ensure_started();
        rx
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        if let Ok(mut task) = self.task.lock() {
            if let Some(t) = task.take() {
                t.abort();
            }
        }
    }
}

async fn run(config: PgConfig, shared: Arc<Shared>) {
    let mut backoff = Duration::from_millis(100);
    loop {
        match listen_once(&config, &shared).await {
            Ok(()) => backoff = Duration::from_millis(100),
            Err(e) => {
                tracing::warn!(error = %e, "LISTEN connection failed; workers fall back to polling");
            }
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(5));
    }
}

async fn listen_once(config: &PgConfig, shared: &Shared) -> Result<(), String> {
    let (client, mut connection) = connect_raw(
        &config.url,
        &format!("{}-listen", config.application_name),
        config.connect_timeout,
    )
    .await
    .map_err(|e| e.to_string())?;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let driver = tokio::spawn(async move {
        let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(message) = messages.next().await {
            match message {
                Ok(tokio_postgres::AsyncMessage::Notification(n)) => {
                    if tx.send(n).is_err() {
                        break;
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "LISTEN connection lost");
                    break;
                }
            }
        }
    });
    let listen = client
        .batch_execute(&format!("LISTEN {QUEUE_CHANNEL}; LISTEN {BREAKER_CHANNEL}"))
        .await;
    if let Err(e) = listen {
        driver.abort();
        return Err(e.to_string());
    }
    // anything sent while we were not listening is lost: wake everyone to poll once
    shared.queue.notify_waiters();
    let _ = shared.breaker.send(String::new());
    while let Some(n) = rx.recv().await {
        match n.channel() {
            QUEUE_CHANNEL => shared.queue.notify_waiters(),
            BREAKER_CHANNEL => {
                let _ = shared.breaker.send(n.payload().to_owned());
            }
            _ => {}
        }
    }
    drop(client);
    driver.abort();
    Ok(())
}
