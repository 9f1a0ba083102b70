//! Group commit: concurrent requests are collected into one statement and one commit.
//!
//! While up to `in_flight` batches are being written, new requests queue up in the channel and
//! go out together in the next statement. Each caller awaits the result of its own item, which
//! arrives only after the batch committed.
#![cfg_attr(not(feature = "webhooks"), allow(dead_code))]

use std::future::Future;
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot, Semaphore};

use crate::error::{Result, StoreError};

type Reply<O> = oneshot::Sender<Result<O>>;

/// A background writer that batches items of type `I` into calls of one flush function.
pub(crate) struct Batcher<I, O> {
    tx: mpsc::Sender<(I, Reply<O>)>,
}

impl<I: Send + 'static, O: Send + 'static> Batcher<I, O> {
    /// Starts the writer task. `flush` gets up to `max_batch` items and returns one result per
    /// item, in order. The task ends when the `Batcher` is dropped.
    pub(crate) fn spawn<F, Fut>(max_batch: usize, in_flight: usize, flush: F) -> Self
    where
        F: Fn(Vec<I>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Vec<Result<O>>> + Send + 'static,
    {
        let max_batch = max_batch.max(1);
        let (tx, mut rx) = mpsc::channel::<(I, Reply<O>)>(max_batch * 4);
        let flush = Arc::new(flush);
        let permits = Arc::new(Semaphore::new(in_flight.max(1)));
        tokio::spawn(async move {
            while let Some(first) = rx.recv().await {
                let Ok(permit) = Arc::clone(&permits).acquire_owned().await else {
                    return;
                };
                let mut batch = vec![first];
                // Callers woken by the previous batch's replies are runnable but may not have
                // submitted yet: yield a couple of times so they join this batch (bigger batches,
                // fewer commits) instead of trickling into tiny ones.
                let mut yields = 0;
                while batch.len() < max_batch {
                    match rx.try_recv() {
                        Ok(item) => batch.push(item),
                        Err(_) if yields < 2 => {
                            yields += 1;
                            tokio::task::yield_now().await;
                        }
                        Err(_) => break,
                    }
                }
                let flush = Arc::clone(&flush);
                tokio::spawn(async move {
                    let (items, replies): (Vec<I>, Vec<Reply<O>>) = batch.into_iter().unzip();
                    let mut results = flush(items).await.into_iter();
                    drop(permit);
                    for reply in replies {
                        let result = results.next().unwrap_or_else(|| {
                            Err(StoreError::Task("a batch returned too few results".into()))
                        });
                        let _ = reply.send(result);
                    }
                });
            }
        });
        Self { tx }
    }

    /// Submits one item and waits until its batch is written.
    pub(crate) async fn submit(&self, item: I) -> Result<O> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send((item, reply))
            .await
            .map_err(|_| StoreError::Task("the batch writer stopped".into()))?;
        rx.await
            .map_err(|_| StoreError::Task("the batch writer dropped a request".into()))?
    }
}

/// A copy of a batch's error for each of its items.
pub(crate) fn same_error(e: &StoreError) -> StoreError {
    match e {
        StoreError::Unavailable(m) => StoreError::Unavailable(m.clone()),
        other => StoreError::Query(other.to_string()),
    }
}
