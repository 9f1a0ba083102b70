//! [`FakeWebhookHandler`] (our internal handler that forwarded webhooks reach) and [`FakeHttp`]
//! (a generic health endpoint).

use std::io;
use std::time::Duration;

use serde_json::json;

use crate::fake::{fake_accessors, fake_debug, fake_start, generic_error, started, Recorder};
use crate::server::{Incoming, Reply, Responder, Server};
use crate::{FakeHandle, RecordedRequest, Scenario};

/// A fake internal webhook handler on `127.0.0.1:0`: the destination the webhooks forwarder
/// delivers to.
///
/// `POST` to any path → `200 {"received":true}`, and the request (method, path, headers with
/// secrets masked, raw body) is added to [`delivered`](Self::delivered). With
/// [`start_with_token`](Self::start_with_token) it requires `Authorization: Bearer <token>` and
/// answers `401 {"error":"unauthorized"}` otherwise. With `start_verifying` (feature
/// `signed-webhooks`) it verifies the Standard Webhooks signature (`webhook-id`,
/// `webhook-timestamp`, `webhook-signature`) our forwarder puts on every delivery, and answers 401
/// to a delivery that does not verify.
///
/// Scenarios: [`Scenario::ServerError`] (`500`), [`Scenario::Status`] (e.g. `410 Gone`: the
/// destination is gone for good), [`Scenario::Hanging`] (a timeout), [`Scenario::Slow`],
/// [`Scenario::RateLimited`] (`429` + `Retry-After`), [`Scenario::ConnectionReset`], and
/// [`Scenario::fail_times`] to fail the first N deliveries. Rejected deliveries are in
/// [`requests`](Self::requests) but not in `delivered`.
pub struct FakeWebhookHandler {
    server: Server,
    handle: FakeHandle,
    token: Option<String>,
    verifying: bool,
    delivered: Recorder<RecordedRequest>,
}

/// Checks a delivery's signature (feature `signed-webhooks`).
type Check = Box<dyn Fn(&Incoming) -> bool + Send + Sync>;

fake_debug!(FakeWebhookHandler, fake => {
    "token": &fake.token.as_ref().map(|_| "***"),
    "verifying": &fake.verifying,
    "handle": &fake.handle,
});

impl FakeWebhookHandler {
    /// Start a handler that needs no credentials.
    ///
    /// # Panics
    /// If no loopback port can be bound (see [`try_start`](Self::try_start)).
    pub async fn start() -> Self {
        started("fake webhook handler", Self::try_start(None).await)
    }

    /// Start a handler that requires `Authorization: Bearer <token>`.
    ///
    /// # Panics
    /// If no loopback port can be bound.
    pub async fn start_with_token(token: &str) -> Self {
        started(
            "fake webhook handler",
            Self::try_start(Some(token.to_owned())).await,
        )
    }

    /// Start a handler, requiring `Authorization: Bearer <token>` when `token` is given.
    ///
    /// # Errors
    /// When binding `127.0.0.1:0` fails.
    pub async fn try_start(token: Option<String>) -> io::Result<Self> {
        Self::start_inner(token, None).await
    }

    /// Start a handler that verifies the Standard Webhooks signature of every delivery with
    /// `secret` (`whsec_<base64>`, the forwarder's handler secret) and answers 401 when it does not
    /// verify (bad signature, or a timestamp more than 5 minutes off).
    ///
    /// # Errors
    /// When `secret` is not a valid Standard Webhooks secret, or binding `127.0.0.1:0` fails.
    #[cfg(feature = "signed-webhooks")]
    pub async fn start_verifying(secret: &str) -> io::Result<Self> {
        let verifier = wedsync_webhooks::verify::StandardWebhooksVerifier::new([secret])
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?;
        let check: Check = Box::new(move |req: &Incoming| {
            let headers: Vec<(&str, &str)> = req
                .headers
                .iter()
                .filter_map(|(k, v)| Some((k.as_str(), v.to_str().ok()?)))
                .collect();
            verifier
                .verify(&headers, &req.body, time::OffsetDateTime::now_utc())
                .is_ok()
        });
        Self::start_inner(None, Some(check)).await
    }

    async fn start_inner(token: Option<String>, check: Option<Check>) -> io::Result<Self> {
        let delivered = Recorder::default();
        let verifying = check.is_some();
        let responder = HandlerResponder {
            token: token.clone(),
            check,
            delivered: delivered.clone(),
        };
        let (server, handle) = Server::start_single(responder, "webhook-handler").await?;
        Ok(Self {
            server,
            handle,
            token,
            verifying,
            delivered,
        })
    }

    /// Whether it verifies Standard Webhooks signatures (started with `start_verifying`).
    #[must_use]
    pub fn is_verifying(&self) -> bool {
        self.verifying
    }

    fake_accessors!(
        base_url: "`http://127.0.0.1:PORT` (no trailing slash).",
        requests: "Every request received (accepted or not), oldest first."
    );

    /// A conventional delivery URL: `{base_url}/webhooks/{provider}`.
    #[must_use]
    pub fn url_for(&self, provider: &str) -> String {
        format!("{}/webhooks/{provider}", self.server.base_url())
    }

    /// The bearer token it requires, if any.
    #[must_use]
    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    /// The deliveries it accepted (answered 2xx), oldest first.
    #[must_use]
    pub fn delivered(&self) -> Vec<RecordedRequest> {
        self.delivered.snapshot()
    }

    /// Wait until at least `count` deliveries were accepted, at most `timeout`; whether they were.
    pub async fn wait_for_deliveries(&self, count: usize, timeout: Duration) -> bool {
        self.handle
            .wait_for_len(count, timeout, || self.delivered.lock().len())
            .await
    }
}

struct HandlerResponder {
    token: Option<String>,
    check: Option<Check>,
    delivered: Recorder<RecordedRequest>,
}

fn status_reply(code: u16) -> Reply {
    let error = match code {
        400 => "bad request",
        401 => "unauthorized",
        404 => "not found",
        409 => "conflict",
        410 => "gone",
        422 => "unprocessable",
        429 => "too many requests",
        500 => "internal error",
        502 => "bad gateway",
        503 => "unavailable",
        504 => "gateway timeout",
        _ => "error",
    };
    Reply::json(code, &json!({ "error": error }))
}

impl Responder for HandlerResponder {
    fn respond(&self, req: &Incoming, scenario: &Scenario) -> Reply {
        if let Some(reply) = generic_error(scenario, status_reply) {
            return reply;
        }
        if req.method != http::Method::POST {
            return status_reply(405);
        }
        if let Some(token) = &self.token {
            if req.bearer() != Some(token.as_str()) {
                return status_reply(401);
            }
        }
        if let Some(check) = &self.check {
            if !check(req) {
                return Reply::json(401, &json!({ "error": "invalid signature" }));
            }
        }
        let mut delivered = self.delivered.lock();
        let seq = delivered.len() as u64;
        delivered.push(req.to_record(seq));
        Reply::json(200, &json!({ "received": true }))
    }
}

/// A generic HTTP health endpoint on `127.0.0.1:0`, for generic HTTP probes and load tests.
///
/// `GET` any path → `200 {"status":"UP"}`; other methods → 405. Scenarios: all generic ones
/// ([`Scenario::ServerError`] is `503 {"status":"DOWN"}`, [`Scenario::Status`] answers that code
/// with `{"status":"DOWN"}` for 5xx and `{"error":…}` otherwise).
#[derive(Debug)]
pub struct FakeHttp {
    server: Server,
    handle: FakeHandle,
}

impl FakeHttp {
    fake_start!("fake HTTP endpoint");

    /// Start the fake.
    ///
    /// # Errors
    /// When binding `127.0.0.1:0` fails.
    pub async fn try_start() -> io::Result<Self> {
        let (server, handle) = Server::start_single(HttpResponder, "http").await?;
        Ok(Self { server, handle })
    }

    fake_accessors!(
        base_url: "`http://127.0.0.1:PORT` (no trailing slash).",
        requests: "The requests received, oldest first."
    );
}

struct HttpResponder;

impl Responder for HttpResponder {
    fn respond(&self, req: &Incoming, scenario: &Scenario) -> Reply {
        match scenario {
            Scenario::Unauthorized => return status_reply(401),
            Scenario::RateLimited { retry_after } => {
                return status_reply(429).with(
                    "retry-after",
                    Scenario::retry_after_secs(*retry_after).to_string(),
                );
            }
            Scenario::ServerError => return Reply::json(503, &json!({ "status": "DOWN" })),
            Scenario::Status(code) if *code >= 500 => {
                return Reply::json(*code, &json!({ "status": "DOWN" }));
            }
            Scenario::Status(code) => return status_reply(*code),
            _ => {}
        }
        if req.method != http::Method::GET && req.method != http::Method::HEAD {
            return status_reply(405);
        }
        Reply::json(200, &json!({ "status": "UP" }))
    }
}
