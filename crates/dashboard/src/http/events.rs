//! `GET /dashboard/events`: the Server-Sent Events stream of one open page.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::header::{self, HeaderName};
use http::{HeaderMap, Response, StatusCode};
use http_body_util::BodyExt as _;
use tokio::sync::mpsc;
use tokio::time::{interval, Interval, MissedTickBehavior};

use super::reply::{refusal, respond};
use super::{Backend, Body, Caller, Dashboard, Inner};
use crate::gather::{now_ms, WEBHOOKS_TTL};
use crate::sse::SSE_RETRY;
use crate::{LiveStream, HEARTBEAT};

impl Dashboard {
    /// Opens a stream for the request's session (401 without one); a task pushes its messages.
    pub(super) async fn events(&self, b: Arc<dyn Backend>, headers: &HeaderMap) -> Response<Body> {
        let Some((caller, cookie)) = self.inner.session_caller(&*b, headers).await else {
            let msg = "sign in at /dashboard/login";
            return refusal(StatusCode::UNAUTHORIZED, "unauthorized", msg);
        };
        let (tx, rx) = mpsc::channel::<Bytes>(4);
        tokio::spawn(stream(self.inner.clone(), b, caller, cookie, tx));
        let headers = [
            (header::CONTENT_TYPE, "text/event-stream"),
            (header::CACHE_CONTROL, "no-store"),
            (HeaderName::from_static("x-accel-buffering"), "no"),
        ];
        respond(StatusCode::OK, &headers, &[], SseBody { rx }.boxed())
    }
}

fn ticker(every: std::time::Duration) -> Interval {
    let mut t = interval(every);
    t.set_missed_tick_behavior(MissedTickBehavior::Delay);
    t
}

/// Pushes updates to one open page until it goes away, its key is revoked, or the server stops:
/// first [`SSE_RETRY`], then an `update` whenever the monitor's snapshot changes or the webhook
/// figures may have (every [`WEBHOOKS_TTL`]), and a `heartbeat` every [`HEARTBEAT`].
async fn stream(
    d: Arc<Inner>,
    b: Arc<dyn Backend>,
    caller: Caller,
    cookie: String,
    tx: mpsc::Sender<Bytes>,
) {
    let mut stop = d.stop.clone();
    let mut snapshots = b.sources().monitor.map(|m| m.subscribe());
    let (mut heartbeat, mut refresh) = (ticker(HEARTBEAT), ticker(WEBHOOKS_TTL));
    if tx
        .send(Bytes::from_static(SSE_RETRY.as_bytes()))
        .await
        .is_err()
    {
        return;
    }
    let mut live = LiveStream::default();
    loop {
        let update = tokio::select! {
            _ = stop.wait_for(|s| *s) => return,
            changed = async {
                match snapshots.as_mut() {
                    Some(rx) => rx.changed().await.is_ok(),
                    None => std::future::pending().await,
                }
            } => {
                if !changed {
                    snapshots = None;
                }
                true
            }
            _ = refresh.tick() => true,
            _ = heartbeat.tick() => false,
        };
        let msg = if update {
            let v = d.view(&*b, &caller, &cookie).await;
            live.update(&v, now_ms())
        } else {
            // a revoked key ends its sessions' streams too (checked every few heartbeats)
            if live.beat() && b.key_by_id(&caller.id).await.is_none() {
                return;
            }
            crate::sse_heartbeat(now_ms(), &d.gatherer.spec().zone)
        };
        if tx.send(Bytes::from(msg)).await.is_err() {
            return;
        }
    }
}

/// A Server-Sent Events body: the messages the stream task sends, as they come.
struct SseBody {
    rx: mpsc::Receiver<Bytes>,
}

impl hyper::body::Body for SseBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<hyper::body::Frame<Bytes>, Infallible>>> {
        self.rx
            .poll_recv(cx)
            .map(|m| m.map(|b| Ok(hyper::body::Frame::data(b))))
    }
}
