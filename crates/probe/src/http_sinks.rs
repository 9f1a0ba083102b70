//! HTTP alert sinks (feature `http`): Slack incoming webhook, PagerDuty Events API v2 and a
//! generic JSON webhook signed the Standard Webhooks way (`shared/providers.md` §4).

use std::time::Duration;

use async_trait::async_trait;
use serde_json::json;

use crate::alert::Alert;
use crate::sink::{sign_standard_webhook, AlertSink, SendError};
use crate::store::{Notification, NotificationKind};
use crate::Secret;

fn transport(e: &reqwest::Error) -> SendError {
    SendError::Retryable {
        message: if e.is_timeout() {
            "timed out".into()
        } else if e.is_connect() {
            "connection failed".into()
        } else {
            "request failed".into()
        },
        retry_after: None,
    }
}

/// Sends `req` and maps the answer the way every sink does ([`SendError::from_http_status`]).
async fn post(req: reqwest::RequestBuilder) -> Result<(), SendError> {
    let resp = req.send().await.map_err(|e| transport(&e))?;
    let status = resp.status().as_u16();
    let retry_after = resp
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    let text = resp.text().await.unwrap_or_default();
    let hint: String = text.chars().take(80).collect();
    SendError::from_http_status(status, &hint, retry_after)
}

/// What every HTTP sink shares: its name, the client and the per-request timeout (10 s).
#[derive(Debug, Clone)]
struct Transport {
    name: String,
    client: reqwest::Client,
    timeout: Duration,
}

impl Transport {
    fn new(name: &str) -> Self {
        Transport {
            name: name.into(),
            client: crate::http_probes::default_client(),
            timeout: Duration::from_secs(10),
        }
    }

    /// A `POST` to `url` within the timeout.
    fn post(&self, url: &str) -> reqwest::RequestBuilder {
        self.client.post(url).timeout(self.timeout)
    }
}

/// Slack incoming webhook: `POST {"text": …}`; success is 200 `ok`; 429 and 5xx are retried,
/// `invalid_payload`/`channel_not_found`/`channel_is_archived` are permanent.
#[derive(Debug, Clone)]
pub struct SlackSink {
    url: Secret,
    http: Transport,
}

impl SlackSink {
    /// A sink posting to `webhook_url` (a secret: it carries the token).
    pub fn new(webhook_url: Secret) -> Self {
        SlackSink {
            url: webhook_url,
            http: Transport::new("slack"),
        }
    }
    /// Renames the sink (several Slack channels).
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.http.name = name.into();
        self
    }
}

#[async_trait]
impl AlertSink for SlackSink {
    fn name(&self) -> &str {
        &self.http.name
    }
    async fn send(&self, _n: &Notification, alert: &Alert) -> Result<(), SendError> {
        let body = json!({ "text": alert.text() });
        post(self.http.post(self.url.expose()).json(&body)).await
    }
}

/// PagerDuty Events API v2: `trigger` on incident open (and flapping), `resolve` on close, with
/// the incident's deterministic `dedup_key`. Reminders are not accepted (they would re-trigger).
#[derive(Debug, Clone)]
pub struct PagerDutySink {
    url: String,
    routing_key: Secret,
    source: String,
    http: Transport,
}

impl PagerDutySink {
    /// A sink for `routing_key`, posting to `https://events.pagerduty.com/v2/enqueue`.
    pub fn new(routing_key: Secret) -> Self {
        PagerDutySink {
            url: "https://events.pagerduty.com/v2/enqueue".into(),
            routing_key,
            source: "wedsync-monitor".into(),
            http: Transport::new("pagerduty"),
        }
    }
    /// Sets the full enqueue URL (fakes, EU service region).
    pub fn url(mut self, url: impl Into<String>) -> Self {
        self.url = url.into();
        self
    }
    /// Sets `payload.source` (default `wedsync-monitor`).
    pub fn source(mut self, s: impl Into<String>) -> Self {
        self.source = s.into();
        self
    }

    /// The Events v2 body for `alert` (routing key included).
    pub fn event_body(&self, alert: &Alert) -> serde_json::Value {
        let action = match alert.kind {
            NotificationKind::Resolve => "resolve",
            _ => "trigger",
        };
        let ts = time::OffsetDateTime::from_unix_timestamp_nanos(alert.at_ms as i128 * 1_000_000)
            .ok()
            .and_then(|t| {
                t.format(&time::format_description::well_known::Rfc3339)
                    .ok()
            });
        let mut body = json!({
            "routing_key": self.routing_key.expose(),
            "event_action": action,
            "dedup_key": alert.dedup_key,
        });
        if action == "trigger" {
            body["payload"] = json!({
                "summary": alert.text(),
                "source": self.source,
                "severity": alert.severity.as_str(),
                "component": alert.service,
                "timestamp": ts,
                "custom_details": {
                    "status": alert.status.as_str(),
                    "wedding_day": alert.wedding_day,
                    "kind": alert.kind.as_str(),
                },
            });
        }
        body
    }
}

#[async_trait]
impl AlertSink for PagerDutySink {
    fn name(&self) -> &str {
        &self.http.name
    }
    fn accepts(&self, kind: NotificationKind) -> bool {
        kind != NotificationKind::Reminder
    }
    async fn send(&self, _n: &Notification, alert: &Alert) -> Result<(), SendError> {
        post(self.http.post(&self.url).json(&self.event_body(alert))).await
    }
}

/// A generic JSON webhook: the [`Alert`] as JSON, signed the Standard Webhooks way
/// (`webhook-id` = the notification id, also sent as `Idempotency-Key`; `webhook-timestamp`;
/// `webhook-signature: v1,<base64>`).
#[derive(Debug, Clone)]
pub struct WebhookSink {
    url: String,
    secret: Secret,
    http: Transport,
}

impl WebhookSink {
    /// A sink posting to `url`, signing with `secret` (`whsec_<base64>`).
    pub fn new(url: impl Into<String>, secret: Secret) -> Self {
        WebhookSink {
            url: url.into(),
            secret,
            http: Transport::new("webhook"),
        }
    }
    /// Renames the sink.
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.http.name = name.into();
        self
    }
}

#[async_trait]
impl AlertSink for WebhookSink {
    fn name(&self) -> &str {
        &self.http.name
    }
    async fn send(&self, n: &Notification, alert: &Alert) -> Result<(), SendError> {
        let body = serde_json::to_vec(alert).map_err(|e| SendError::Permanent {
            message: e.to_string(),
        })?;
        let ts = crate::now_ms() / 1000;
        let sig = sign_standard_webhook(self.secret.expose(), &n.id, ts, &body)?;
        post(
            self.http
                .post(&self.url)
                .header("content-type", "application/json")
                .header("webhook-id", &n.id)
                .header("webhook-timestamp", ts.to_string())
                .header("webhook-signature", sig)
                .header("idempotency-key", &n.id)
                .body(body),
        )
        .await
    }
}
