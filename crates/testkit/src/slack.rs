//! [`FakeSlack`]: a Slack incoming-webhook receiver that records the messages it accepted.

use std::io;
use std::time::Duration;

use serde_json::Value;

use crate::fake::{fake_accessors, fake_debug, fake_start, Recorder};
use crate::server::{random_token, Incoming, Reply, Responder, Server};
use crate::{FakeHandle, Scenario};

/// A fake Slack incoming webhook on `127.0.0.1:0`.
///
/// `POST {webhook_url}` with a JSON body carrying `text` and/or `blocks` → `200 ok` (plain text),
/// and the payload is added to [`messages`](Self::messages). Errors are Slack's plain-text codes:
/// malformed JSON → `400 invalid_payload`, neither `text` nor `blocks` → `400 no_text`, another
/// path → `404 no_service`, another method → `405`.
///
/// Scenarios: [`Scenario::Status`] 400/403/404/410 answer `invalid_payload`,
/// `action_prohibited`, `channel_not_found`, `channel_is_archived`; [`Scenario::RateLimited`] and
/// `Status(429)` answer `429 rate_limited` with `Retry-After`; [`Scenario::ServerError`] answers
/// `500 internal_error`; [`Scenario::Unauthorized`] answers `403 invalid_token`; use
/// [`Scenario::fail_times`] to fail the first N posts. Rejected posts are logged but not added to
/// `messages`.
pub struct FakeSlack {
    server: Server,
    handle: FakeHandle,
    path: String,
    messages: Recorder<Value>,
}

fake_debug!(FakeSlack, fake => {
    "webhook_path": &"/services/***",
    "handle": &fake.handle,
});

impl FakeSlack {
    fake_start!("fake Slack");

    /// Start the fake.
    ///
    /// # Errors
    /// When binding `127.0.0.1:0` fails.
    pub async fn try_start() -> io::Result<Self> {
        let path = format!(
            "/services/T{}/B{}/{}",
            random_token(8).to_ascii_uppercase(),
            random_token(10).to_ascii_uppercase(),
            random_token(24)
        );
        let messages = Recorder::default();
        let responder = SlackResponder {
            path: path.clone(),
            messages: messages.clone(),
        };
        let (server, handle) = Server::start_single(responder, "slack").await?;
        Ok(Self {
            server,
            handle,
            path,
            messages,
        })
    }

    /// The incoming-webhook URL to post to (`http://127.0.0.1:PORT/services/T…/B…/…`).
    #[must_use]
    pub fn webhook_url(&self) -> String {
        format!("{}{}", self.server.base_url(), self.path)
    }

    fake_accessors!(
        base_url: "`http://127.0.0.1:PORT` (no trailing slash).",
        requests: "Every request received (accepted or not), oldest first."
    );

    /// The JSON payloads accepted (answered `200 ok`), oldest first.
    #[must_use]
    pub fn messages(&self) -> Vec<Value> {
        self.messages.snapshot()
    }

    /// The `text` of each accepted message (empty for block-only messages).
    #[must_use]
    pub fn texts(&self) -> Vec<String> {
        self.messages()
            .iter()
            .map(|m| m["text"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    /// Wait until at least `count` messages were accepted, at most `timeout`; whether they were.
    pub async fn wait_for_messages(&self, count: usize, timeout: Duration) -> bool {
        self.handle
            .wait_for_len(count, timeout, || self.messages.lock().len())
            .await
    }
}

struct SlackResponder {
    path: String,
    messages: Recorder<Value>,
}

fn rate_limited(secs: u64) -> Reply {
    Reply::text(429, "rate_limited").with("retry-after", secs.to_string())
}

impl Responder for SlackResponder {
    fn respond(&self, req: &Incoming, scenario: &Scenario) -> Reply {
        match scenario {
            Scenario::Unauthorized => return Reply::text(403, "invalid_token"),
            Scenario::RateLimited { retry_after } => {
                return rate_limited(Scenario::retry_after_secs(*retry_after));
            }
            Scenario::ServerError => return Reply::text(500, "internal_error"),
            Scenario::Status(code) => {
                return match code {
                    400 => Reply::text(400, "invalid_payload"),
                    403 => Reply::text(403, "action_prohibited"),
                    404 => Reply::text(404, "channel_not_found"),
                    410 => Reply::text(410, "channel_is_archived"),
                    429 => rate_limited(1),
                    other => Reply::text(*other, "internal_error"),
                };
            }
            _ => {}
        }
        if req.path != self.path {
            return Reply::text(404, "no_service");
        }
        if req.method != http::Method::POST {
            return Reply::text(405, "invalid_method");
        }
        let Ok(payload) = serde_json::from_slice::<Value>(&req.body) else {
            return Reply::text(400, "invalid_payload");
        };
        let has_text = payload
            .get("text")
            .and_then(Value::as_str)
            .is_some_and(|t| !t.is_empty());
        let has_blocks = payload
            .get("blocks")
            .and_then(Value::as_array)
            .is_some_and(|b| !b.is_empty());
        if !payload.is_object() || !(has_text || has_blocks) {
            return Reply::text(400, "no_text");
        }
        self.messages.push(payload);
        Reply::text(200, "ok")
    }
}
