//! HTTP forwarding with reqwest (rustls) and the worker loop on tokio (feature `forward`).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::delivery::{OutgoingRequest, Response, Transport, TransportError, Worker, WorkerError};
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
